// SPDX-License-Identifier: MIT
/*
 * blk-ioeng-depth-busy - ->queue() answers -EBUSY once depth I/Os are
 * staged, in flight or completed but not reaped yet, and takes I/Os again
 * as soon as ->reap() handed some back; no tag is lost or doubled on the
 * way.
 *
 * For every engine over a file: fill the depth with staged READs (-EBUSY
 * before any submit), submit (still -EBUSY, also once the completions are
 * surely posted), reap a few and queue exactly that many again, then reap
 * everything. Over a loop device the same with DISCARDs, which the io_uring
 * and aio engines complete synchronously through their internal list:
 * those count against the depth until reaped as well.
 */
#include "lib/ioeng-test.h"

#define DEPTH 8u
#define NTAGS 64u

static void busy(struct tb_eng *t)
{
	struct ioeng_io io = { .op = IOENG_READ,
			       .len = 4096,
			       .off = 0,
			       .buf = t->arena,
			       .tag = NTAGS - 1 };
	int ret = t->ops->queue(t->e, &io);

	CHECK(ret == -EBUSY, "%s: queue beyond depth returned %d", t->ops->name,
	      ret);
}

static void run(struct tb_eng *t, uint8_t op)
{
	const char *name = t->ops->name;
	unsigned char seen[NTAGS] = { 0 };
	int res[NTAGS] = { 0 };
	struct ioeng_done d[3];
	unsigned int tag = 0, got = 0;
	int n;

	for (; tag < DEPTH; tag++)
		tb_queue(t, op, (uint64_t)tag * 4096, 4096,
			 t->arena + (size_t)tag * 4096, tag);
	busy(t);
	n = t->ops->submit(t->e);
	CHECK(n == (int)DEPTH, "%s: submit returned %d", name, n);
	busy(t);
	/* Posted but not reaped still counts. */
	CHECK(tb_readable(t, 5000), "%s: no completion", name);
	usleep(100 * 1000);
	busy(t);

	/* Reap three (waiting for them if need be) and refill exactly. */
	while (got < 3) {
		n = t->ops->reap(t->e, d, 3 - got);
		CHECK(n >= 0, "%s: reap %d", name, n);
		for (int i = 0; i < n; i++) {
			CHECK(d[i].tag < tag && !seen[d[i].tag], "%s: tag %llu",
			      name, (unsigned long long)d[i].tag);
			seen[d[i].tag] = 1;
			res[d[i].tag] = d[i].res;
		}
		got += (unsigned int)n;
		if (got < 3)
			tb_readable(t, 1000);
	}
	for (unsigned int i = 0; i < 3; i++, tag++)
		tb_queue(t, op, (uint64_t)tag * 4096, 4096,
			 t->arena + (size_t)(tag % DEPTH) * 4096, tag);
	busy(t);
	n = t->ops->submit(t->e);
	CHECK(n == 3, "%s: submit returned %d", name, n);
	tb_reap(t, tag - 3, res, seen, tag, 4);
	for (unsigned int i = 0; i < tag; i++)
		CHECK(seen[i] && res[i] == 0, "%s: tag %u: seen %u res %d",
		      name, i, seen[i], res[i]);
	CHECK(!seen[NTAGS - 1], "%s: a refused I/O completed", name);

	/* Empty again: a whole depth fits once more. */
	for (unsigned int i = 0; i < DEPTH; i++)
		tb_queue(t, op, (uint64_t)i * 4096, 4096,
			 t->arena + (size_t)i * 4096, i);
	busy(t);
	tb_run(t, DEPTH, res, DEPTH);
	for (unsigned int i = 0; i < DEPTH; i++)
		CHECK(res[i] == 0, "%s: tag %u res %d", name, i, res[i]);
	printf("%s: %s ok\n", name, op == IOENG_READ ? "reads" : "discards");
}

int main(void)
{
	unsigned int ran = 0;
	struct tb_store st, lo;
	int have_loop = tb_loop(&lo, 1u << 20) == 0;

	if (!have_loop)
		printf("note: no loop device: discards on a block device "
		       "not checked\n");
	for (unsigned int i = 0; i < TB_NR_ENGINES; i++) {
		const char *name = tb_engines[i];
		struct tb_eng t;

		tb_file(&st, 1u << 20, O_RDWR);
		if (tb_eng_open(&t, name, &st, DEPTH, DEPTH * 4096) < 0) {
			tb_store_close(&st);
			continue;
		}
		run(&t, IOENG_READ);
		tb_eng_close(&t);
		tb_store_close(&st);
		ran += strcmp(name, "null") != 0;

		if (!have_loop)
			continue;
		CHECK(tb_eng_open(&t, name, &lo, DEPTH, DEPTH * 4096) == 0,
		      "%s over %s", name, lo.dev);
		run(&t, IOENG_DISCARD);
		tb_eng_close(&t);
	}
	if (have_loop)
		tb_store_close(&lo);
	if (!ran)
		SKIP("neither io_uring nor kernel AIO available");
	return TEST_PASS;
}
