// SPDX-License-Identifier: MIT
/*
 * blk-ioeng-flush-completes - a FLUSH completes, once, with 0: alone after
 * a batch of WRITEs, and in the same batch as WRITEs (the engine may run it
 * in any order; ordering is the queue's business), on a file and on a loop
 * device. The null engine completes it without touching anything.
 *
 * And a FLUSH on an fd that has no fsync at all (/dev/null) completes once
 * with what fdatasync() says there: this is the path where kernel AIO
 * refuses IOCB_CMD_FDSYNC and the aio engine falls back to a synchronous
 * fdatasync(), twice, to see the fallback stick.
 */
#include "lib/ioeng-test.h"

#define DEPTH 16u

static void run(struct tb_eng *t, const char *what)
{
	const char *name = t->ops->name;
	uint64_t seed = 7;
	int res[DEPTH];

	/* WRITEs, reaped, then a FLUSH on its own. */
	for (unsigned int i = 0; i < 8; i++) {
		tb_fill(t->arena + i * 4096, 4096, &seed);
		tb_queue(t, IOENG_WRITE, (uint64_t)i * 65536, 4096,
			 t->arena + i * 4096, i);
	}
	tb_run(t, 8, res, 8);
	for (unsigned int i = 0; i < 8; i++)
		CHECK(res[i] == 0, "%s on %s: write %u: %d", name, what, i,
		      res[i]);
	tb_queue(t, IOENG_FLUSH, 0, 0, NULL, 0);
	tb_run(t, 1, res, 1);
	CHECK(res[0] == 0, "%s on %s: flush: %d", name, what, res[0]);

	/* WRITEs and FLUSHes in one batch. */
	for (unsigned int i = 0; i < DEPTH; i++) {
		if (i % 5 == 4) {
			tb_queue(t, IOENG_FLUSH, 0, 0, NULL, i);
			continue;
		}
		tb_queue(t, IOENG_WRITE, (uint64_t)i * 4096, 4096,
			 t->arena + (i % 8) * 4096, i);
	}
	tb_run(t, DEPTH, res, DEPTH);
	for (unsigned int i = 0; i < DEPTH; i++)
		CHECK(res[i] == 0, "%s on %s: %s %u: %d", name, what,
		      i % 5 == 4 ? "flush" : "write", i, res[i]);
	printf("%s on %s: flushes ok\n", name, what);
}

static void no_fsync(const char *name)
{
	struct tb_store st = { .fd = open("/dev/null", O_RDWR | O_CLOEXEC) };
	struct tb_eng t;
	int want, res[2];

	CHECK(st.fd >= 0, "/dev/null");
	want = fdatasync(st.fd) < 0 ? -errno : 0;
	if (tb_eng_open(&t, name, &st, DEPTH, 4096) < 0) {
		tb_store_close(&st);
		return;
	}
	if (!strcmp(name, "null"))
		want = 0;
	for (unsigned int round = 0; round < 2; round++) {
		tb_queue(&t, IOENG_FLUSH, 0, 0, NULL, 0);
		tb_queue(&t, IOENG_WRITE, 0, 512, t.arena, 1);
		tb_run(&t, 2, res, 2);
		CHECK(res[0] == want, "%s: flush of /dev/null: %d, not %d",
		      name, res[0], want);
		CHECK(res[1] == 0, "%s: write to /dev/null: %d", name, res[1]);
	}
	printf("%s on /dev/null: flush completes with %d\n", name, want);
	tb_eng_close(&t);
	tb_store_close(&st);
}

int main(void)
{
	unsigned int ran = 0;
	struct tb_store st, lo;
	int have_loop = tb_loop(&lo, 1u << 20) == 0;

	if (!have_loop)
		printf("note: no loop device: block device flush not "
		       "checked\n");
	for (unsigned int i = 0; i < TB_NR_ENGINES; i++) {
		const char *name = tb_engines[i];
		struct tb_eng t;

		tb_file(&st, 1u << 20, O_RDWR);
		if (tb_eng_open(&t, name, &st, DEPTH, 8 * 4096) < 0) {
			tb_store_close(&st);
			continue;
		}
		run(&t, "file");
		tb_eng_close(&t);
		tb_store_close(&st);
		ran += strcmp(name, "null") != 0;

		if (have_loop) {
			CHECK(tb_eng_open(&t, name, &lo, DEPTH, 8 * 4096) == 0,
			      "%s over %s", name, lo.dev);
			run(&t, lo.dev);
			tb_eng_close(&t);
		}
		no_fsync(name);
	}
	if (have_loop)
		tb_store_close(&lo);
	if (!ran)
		SKIP("neither io_uring nor kernel AIO available");
	return TEST_PASS;
}
