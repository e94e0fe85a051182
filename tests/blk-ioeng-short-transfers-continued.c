// SPDX-License-Identifier: MIT
/*
 * blk-ioeng-short-transfers-continued - a READ or WRITE the kernel does
 * only part of is continued by the engine from where it stopped (offset,
 * buffer and length all moved on) and reported once, when whole.
 *
 * Files and devices rarely return short transfers on demand, so this
 * program interposes its own io_uring_peek_batch_cqe() and io_getevents()
 * over liburing's and libaio's (the engines call them through the PLT) and
 * halves every result of 1 KiB or more (kept 512-aligned, as O_DIRECT
 * needs) before the engine sees it. The kernel did transfer everything, so
 * a continuation that gets its arithmetic right only redoes bytes that are
 * already right; one that gets it wrong reads or writes the wrong place,
 * which the random write/read-back workload and its final comparison of
 * the whole store catch.
 */
#include "lib/ioeng-test.h"

#include <dlfcn.h>
#include <libaio.h>
#include <liburing.h>

#define DEPTH 16u
#define NIOS 1000u

static unsigned long shortened;

static long halve(long res)
{
	if (res < 1024)
		return res;
	shortened++;
	return (res / 2) & ~511L;
}

unsigned io_uring_peek_batch_cqe(struct io_uring *ring,
				 struct io_uring_cqe **cqes, unsigned count)
{
	static unsigned (*real)(struct io_uring *, struct io_uring_cqe **,
				unsigned);
	unsigned int n;

	if (!real)
		real = (unsigned (*)(struct io_uring *, struct io_uring_cqe **,
				     unsigned))dlsym(RTLD_NEXT,
						     "io_uring_peek_batch_cqe");
	CHECK(real, "no io_uring_peek_batch_cqe to interpose on");
	n = real(ring, cqes, count);
	/* The CQ ring is mapped writable; the kernel is done with these. */
	for (unsigned int i = 0; i < n; i++)
		cqes[i]->res = (int)halve(cqes[i]->res);
	return n;
}

int io_getevents(io_context_t ctx, long min_nr, long nr,
		 struct io_event *events, struct timespec *timeout)
{
	static int (*real)(io_context_t, long, long, struct io_event *,
			   struct timespec *);
	int n;

	if (!real)
		real = (int (*)(io_context_t, long, long, struct io_event *,
				struct timespec *))dlsym(RTLD_NEXT,
							 "io_getevents");
	CHECK(real, "no io_getevents to interpose on");
	n = real(ctx, min_nr, nr, events, timeout);
	for (int i = 0; i < n; i++)
		events[i].res = (unsigned long)halve((long)events[i].res);
	return n;
}

int main(void)
{
	unsigned int ran = 0;

	for (unsigned int i = 0; i < 2; i++) {
		const char *name = tb_engines[i];
		struct tb_store st;
		struct tb_eng t;

		tb_file(&st, (uint64_t)2 * DEPTH * TB_REGION, O_RDWR);
		if (tb_eng_open(&t, name, &st, DEPTH,
				(size_t)DEPTH * TB_REGION) < 0) {
			tb_store_close(&st);
			continue;
		}
		shortened = 0;
		tb_write_read_back(&t, DEPTH, 2 * DEPTH, NIOS,
				   0x510e527fade682d1ull + i, 1);
		CHECK(shortened > NIOS, "%s: only %lu results shortened", name,
		      shortened);
		printf("%s: %lu short transfers continued\n", name, shortened);
		tb_eng_close(&t);
		tb_store_close(&st);
		ran++;
	}
	if (!ran)
		SKIP("neither io_uring nor kernel AIO available");
	return TEST_PASS;
}
