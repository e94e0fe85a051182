// SPDX-License-Identifier: MIT
/*
 * blk-ioeng-submit-refused - when the kernel refuses a submission (-EAGAIN:
 * out of memory for requests), ->submit() keeps the header's promise: if
 * nothing was issued it returns the error and every staged I/O completes
 * with it through ->reap(); if the kernel took only part of a batch, the
 * rest completes with the error. Refused I/Os never run later (a refused
 * WRITE leaves the store as it was, and no stray completion turns up), and
 * the engine works normally afterwards.
 *
 * A kernel does not refuse on demand, so this program interposes its own
 * io_uring_submit() and io_submit() over liburing's and libaio's (the
 * engines call them through the PLT): in "refuse" mode they let the kernel
 * take @take I/Os of the batch, then fail with -EAGAIN. The io_uring one
 * publishes the SQ tail as liburing 2.x does and asks io_uring_enter() to
 * consume only @take entries.
 */
#include "lib/ioeng-test.h"

#include <dlfcn.h>
#include <libaio.h>
#include <liburing.h>
#include <sys/syscall.h>

#define DEPTH 8u
#define BLK 4096u

static int refuse; /* interpose: take @take, then -EAGAIN */
static unsigned int take;

int io_uring_submit(struct io_uring *ring)
{
	static int (*real)(struct io_uring *);
	struct io_uring_sq *sq = &ring->sq;
	unsigned int n = take;
	long ret;

	if (!real)
		real = (int (*)(struct io_uring *))dlsym(RTLD_NEXT,
							 "io_uring_submit");
	CHECK(real, "no io_uring_submit to interpose on");
	if (!refuse)
		return real(ring);
	if (!n)
		return -EAGAIN;
	take = 0;
	sq->sqe_head = sq->sqe_tail;
	io_uring_smp_store_release(sq->ktail, sq->sqe_tail);
	ret = syscall(__NR_io_uring_enter, ring->ring_fd, n, 0, 0, NULL, 0);
	return ret < 0 ? -errno : (int)ret;
}

int io_submit(io_context_t ctx, long nr, struct iocb *ios[])
{
	static int (*real)(io_context_t, long, struct iocb *[]);
	long n = take;

	if (!real)
		real = (int (*)(io_context_t, long,
				struct iocb *[]))dlsym(RTLD_NEXT, "io_submit");
	CHECK(real, "no io_submit to interpose on");
	if (!refuse)
		return real(ctx, nr, ios);
	if (!n)
		return -EAGAIN;
	take = 0;
	return real(ctx, n < nr ? n : nr, ios);
}

/* Stage a WRITE of byte @fill to each of blocks 0..3. */
static void stage_writes(struct tb_eng *t, unsigned char fill)
{
	for (unsigned int i = 0; i < 4; i++) {
		memset(t->arena + i * BLK, fill, BLK);
		tb_queue(t, IOENG_WRITE, (uint64_t)i * BLK, BLK,
			 t->arena + i * BLK, i);
	}
}

/* Block @i holds @fill throughout. */
static void expect_block(struct tb_eng *t, unsigned int i, unsigned char fill)
{
	unsigned char *b = malloc(BLK);

	CHECK(b, "malloc");
	tb_read(t, (uint64_t)i * BLK, b, BLK);
	for (unsigned int j = 0; j < BLK; j++)
		CHECK(b[j] == fill, "%s: block %u byte %u is %#x, not %#x",
		      t->ops->name, i, j, b[j], fill);
	free(b);
}

static void run(struct tb_eng *t)
{
	const char *name = t->ops->name;
	unsigned char seen[4];
	int res[4], ret;

	stage_writes(t, 0xaa);
	tb_run(t, 4, res, 4);

	/* Refused outright. */
	stage_writes(t, 0xbb);
	refuse = 1;
	take = 0;
	ret = t->ops->submit(t->e);
	refuse = 0;
	CHECK(ret == -EAGAIN, "%s: submit returned %d, not -EAGAIN", name, ret);
	memset(seen, 0, sizeof(seen));
	tb_reap(t, 4, res, seen, 4, 16);
	for (unsigned int i = 0; i < 4; i++)
		CHECK(res[i] == -EAGAIN, "%s: refused write %u: %d", name, i,
		      res[i]);
	for (unsigned int i = 0; i < 4; i++)
		expect_block(t, i, 0xaa);

	/* Two taken, two refused. */
	stage_writes(t, 0xcc);
	refuse = 1;
	take = 2;
	ret = t->ops->submit(t->e);
	refuse = 0;
	CHECK(ret == 2, "%s: submit returned %d, not 2", name, ret);
	memset(seen, 0, sizeof(seen));
	tb_reap(t, 4, res, seen, 4, 16);
	for (unsigned int i = 0; i < 4; i++)
		CHECK(res[i] == (i < 2 ? 0 : -EAGAIN), "%s: write %u: %d", name,
		      i, res[i]);
	for (unsigned int i = 0; i < 4; i++)
		expect_block(t, i, i < 2 ? 0xcc : 0xaa);

	/* And business as usual, with nothing stray coming back. */
	stage_writes(t, 0xdd);
	tb_run(t, 4, res, 4);
	for (unsigned int i = 0; i < 4; i++) {
		CHECK(res[i] == 0, "%s: write %u after: %d", name, i, res[i]);
		expect_block(t, i, 0xdd);
	}
	usleep(50 * 1000);
	CHECK(t->ops->reap(t->e, (struct ioeng_done[1]){ { 0, 0 } }, 1) == 0,
	      "%s: a stray completion", name);
	printf("%s: refused submissions fail their I/Os, once\n", name);
}

int main(void)
{
	unsigned int ran = 0;

	for (unsigned int i = 0; i < 2; i++) {
		const char *name = tb_engines[i];
		struct tb_store st;
		struct tb_eng t;

		tb_file(&st, 1u << 20, O_RDWR);
		if (tb_eng_open(&t, name, &st, DEPTH, 4 * BLK) < 0) {
			tb_store_close(&st);
			continue;
		}
		run(&t);
		tb_eng_close(&t);
		tb_store_close(&st);
		ran++;
	}
	if (!ran)
		SKIP("neither io_uring nor kernel AIO available");
	return TEST_PASS;
}
