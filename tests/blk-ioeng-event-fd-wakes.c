// SPDX-License-Identifier: MIT
/*
 * blk-ioeng-event-fd-wakes - ->event_fd() is how the queue learns there is
 * something to reap, so for every engine:
 *   - it is not readable while nothing was submitted, even with I/Os
 *     staged (nothing reaches the kernel before ->submit()), and ->reap()
 *     finds nothing then;
 *   - after ->submit() an epoll on it reports readable, and reaping (until
 *     ->reap() returns less than asked, waiting on the epoll in between)
 *     collects every completion;
 *   - once everything is reaped and a last ->reap() found nothing, it is no
 *     longer readable.
 * The batch holds READs, WRITEs, a FLUSH and DISCARDs; then a batch of
 * DISCARDs alone, which on the loop device (and for aio on a file too)
 * complete synchronously inside the engine and must wake the fd all the
 * same.
 */
#include "lib/ioeng-test.h"

#define DEPTH 16u
#define NIO 12u

static void run(struct tb_eng *t, const char *what)
{
	const char *name = t->ops->name;
	unsigned char seen[NIO] = { 0 };
	struct ioeng_done d[4];
	int res[NIO];

	CHECK(!tb_readable(t, 0), "%s on %s: readable before any I/O", name,
	      what);
	for (unsigned int i = 0; i < NIO; i++) {
		uint8_t op = i % 4 == 0	  ? IOENG_WRITE
			     : i == 6	  ? IOENG_FLUSH
			     : i % 4 == 3 ? IOENG_DISCARD
					  : IOENG_READ;

		tb_queue(t, op, (uint64_t)i * 8192, 4096,
			 t->arena + (size_t)i * 4096, i);
	}
	usleep(50 * 1000);
	CHECK(!tb_readable(t, 0), "%s on %s: readable with I/Os only staged",
	      name, what);
	CHECK(t->ops->reap(t->e, d, 4) == 0, "%s on %s: reaped before submit",
	      name, what);

	CHECK(t->ops->submit(t->e) == (int)NIO, "%s on %s: submit", name, what);
	CHECK(tb_readable(t, 5000), "%s on %s: not readable after submit", name,
	      what);
	tb_reap(t, NIO, res, seen, NIO, 4);
	for (unsigned int i = 0; i < NIO; i++)
		CHECK(res[i] == 0, "%s on %s: I/O %u: %d", name, what, i,
		      res[i]);

	/* A completion may have raced the drain: one more reap settles it. */
	CHECK(t->ops->reap(t->e, d, 4) == 0, "%s on %s: extra completion", name,
	      what);
	CHECK(!tb_readable(t, 0), "%s on %s: readable with nothing pending",
	      name, what);
	usleep(50 * 1000);
	CHECK(!tb_readable(t, 0), "%s on %s: readable later, nothing pending",
	      name, what);

	/* DISCARDs alone: on a block device nothing but the engine wakes it. */
	for (unsigned int i = 0; i < 3; i++)
		tb_queue(t, IOENG_DISCARD, (uint64_t)i * 4096, 4096, NULL, i);
	memset(seen, 0, sizeof(seen));
	CHECK(t->ops->submit(t->e) == 3, "%s on %s: submit", name, what);
	CHECK(tb_readable(t, 5000), "%s on %s: discards did not wake", name,
	      what);
	tb_reap(t, 3, res, seen, 3, 4);
	CHECK(t->ops->reap(t->e, d, 4) == 0 && !tb_readable(t, 0),
	      "%s on %s: readable after the discards", name, what);
	printf("%s on %s: event fd ok\n", name, what);
}

int main(void)
{
	unsigned int ran = 0;
	struct tb_store st, lo;
	int have_loop = tb_loop(&lo, 1u << 20) == 0;

	if (!have_loop)
		printf("note: no loop device: synchronous discards not "
		       "checked\n");
	for (unsigned int i = 0; i < TB_NR_ENGINES; i++) {
		const char *name = tb_engines[i];
		struct tb_eng t;

		tb_file(&st, 1u << 20, O_RDWR);
		if (tb_eng_open(&t, name, &st, DEPTH, NIO * 4096) < 0) {
			tb_store_close(&st);
			continue;
		}
		run(&t, "file");
		tb_eng_close(&t);
		tb_store_close(&st);
		ran += strcmp(name, "null") != 0;

		if (!have_loop)
			continue;
		CHECK(tb_eng_open(&t, name, &lo, DEPTH, NIO * 4096) == 0,
		      "%s over %s", name, lo.dev);
		run(&t, lo.dev);
		tb_eng_close(&t);
	}
	if (have_loop)
		tb_store_close(&lo);
	if (!ran)
		SKIP("neither io_uring nor kernel AIO available");
	return TEST_PASS;
}
