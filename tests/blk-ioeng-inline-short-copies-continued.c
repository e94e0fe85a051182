// SPDX-License-Identifier: MIT
/*
 * blk-ioeng-inline-short-copies-continued - a READ or WRITE an engine does
 * itself with pread()/pwrite() (the io_uring engine on a tmpfs file, see
 * blk-ioeng-uring-tmpfs-no-io-worker) and that the kernel does only part of
 * is continued from where it stopped, and reported once, when whole; one
 * that meets the end of the file completes with -EIO instead of being
 * retried forever.
 *
 * This program interposes its own pread() and pwrite() over libc's (the
 * engine's calls resolve to them at link time) and halves every result of
 * 1 KiB or more, kept 512-aligned. The kernel did transfer everything, so a
 * continuation that gets its arithmetic right only redoes bytes that are
 * already right; one that gets it wrong reads or writes the wrong place,
 * which the random write/read-back workload and its final comparison of
 * the whole store catch.
 *
 * Skips where /dev/shm is not tmpfs or its tmpfs takes RWF_NOWAIT (the
 * engine then leaves the copies to io_uring).
 */
#include "lib/ioeng-test.h"

#include <dlfcn.h>

#define DEPTH 16u
#define NREGIONS (2 * DEPTH)
#define NIOS 1000u

static unsigned long shortened;

static ssize_t halve(ssize_t res)
{
	if (res < 1024)
		return res;
	shortened++;
	return (res / 2) & ~(ssize_t)511;
}

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	static ssize_t (*real)(int, void *, size_t, off_t);

	if (!real)
		real = (ssize_t(*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT,
								     "pread");
	CHECK(real, "no pread to interpose on");
	return halve(real(fd, buf, len, off));
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	if (!real)
		real = (ssize_t(*)(int, const void *, size_t,
				   off_t))dlsym(RTLD_NEXT, "pwrite");
	CHECK(real, "no pwrite to interpose on");
	return halve(real(fd, buf, len, off));
}

int main(void)
{
	uint64_t size = (uint64_t)NREGIONS * TB_REGION;
	struct tb_store st;
	struct tb_eng t;
	int res[2];

	tb_shm_file(&st, size);
	if (tb_eng_open(&t, "uring", &st, DEPTH, (size_t)DEPTH * TB_REGION) < 0)
		SKIP("no io_uring here");
	tb_write_read_back(&t, DEPTH, NREGIONS, NIOS, 0x243f6a8885a308d3ull, 1);
	CHECK(shortened > NIOS, "only %lu results shortened", shortened);

	/* Halved down to the last 4 KiB, then nothing: -EIO, once. */
	tb_queue(&t, IOENG_READ, size - 4096, 65536, t.arena, 0);
	tb_queue(&t, IOENG_READ, size - 65536, 65536, t.arena + 65536, 1);
	tb_run(&t, 2, res, 2);
	CHECK(res[0] == -EIO, "read across the end of the file: %d", res[0]);
	CHECK(res[1] == 0, "read up to the end of the file: %d", res[1]);
	printf("uring on tmpfs: %lu short copies continued\n", shortened);
	tb_eng_close(&t);
	tb_store_close(&st);
	return TEST_PASS;
}
