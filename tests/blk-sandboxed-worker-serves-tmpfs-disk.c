// SPDX-License-Identifier: MIT
/*
 * A confined worker (sandbox=on) serves a disk whose image is in tmpfs.
 * The io_uring engine does a tmpfs file's I/Os itself (pread, pwrite,
 * after fstatfs and a preadv2 probe: blkback/ioeng_uring.c), system calls
 * the other stores never make, so blkbackd's allow-list has to name them:
 * a missing one kills the worker with SIGSYS at its first I/O. The guest
 * writes a pattern over the disk, flushes, discards a range and reads it
 * all back; the worker is the same process throughout and the file holds
 * the pattern with the range zeroed.
 *
 * Skips where /dev/shm is not tmpfs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "front/blkfront.h"
#include "lib/blkscen.h"
#include "lib/blkscen2.h"
#include "lib/check.h"

#define KIB 1024u
#define DISK_BYTES (4u << 20)
#define SEED 23
#define DISCARD_OFF (1u << 20)
#define DISCARD_LEN (256 * KIB)

static int guest(void *arg)
{
	static uint8_t wbuf[DISK_BYTES], rbuf[DISK_BYTES];
	struct blk2_job jobs[DISK_BYTES / (64 * KIB)];
	struct blkfront_cfg cfg;
	struct blkfront *bf;
	unsigned int n;

	blk_fill(wbuf, sizeof(wbuf), SEED, 0);
	blkfront_cfg_init(&cfg);
	cfg.max_indirect = 32;
	bf = blk2_connect(&cfg);
	for (n = 0; n < DISK_BYTES / (64 * KIB); n++)
		jobs[n] = (struct blk2_job){
			.op = BLKFRONT_WRITE,
			.q = 0,
			.sector = (uint64_t)n * 64 * KIB / 512,
			.buf = wbuf + (size_t)n * 64 * KIB,
			.len = 64 * KIB,
		};
	blk2_run_jobs(bf, jobs, n, 1);
	blk2_flush_discard_read_back(bf, jobs, n, 0, wbuf, rbuf, sizeof(rbuf),
				     DISCARD_OFF, DISCARD_LEN, "read back");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	return 0;
}

int main(void)
{
	struct blk_scen s;
	char img[PATH_MAX], cmd[PATH_MAX + 64];
	struct statfs sf;
	uint8_t *want;
	pid_t w;
	int i;

	if (statfs("/dev/shm", &sf) != 0 || sf.f_type != TMPFS_MAGIC)
		SKIP("/dev/shm is not tmpfs");
	/* The scenario's directory, the image with it, goes to tmpfs. */
	CHECK(setenv("TMPDIR", "/dev/shm", 1) == 0, "setenv");
	blk_start(&s, 1, NULL, NULL);
	snprintf(img, sizeof(img), "%s",
		 blk_image(&s, "tmpfs.img", DISK_BYTES, 0));
	blk_add(&s, "vbd", 1, 51712, img, NULL);
	/* The filter goes on once the worker has started. */
	w = blk_wait_worker(&s, 1, "Seccomp", "2");

	i = blk_guest(&s, 1, guest, NULL);
	CHECK(i == 0, "guest failed: status %d", i);

	CHECK(blk_worker_pid(&s, 1) == w, "the worker was replaced");
	snprintf(cmd, sizeof(cmd), "grep -q 'killed by signal' %s", s.log);
	CHECK(system(cmd) != 0, "a worker was killed");
	want = malloc(DISK_BYTES);
	CHECK(want, "malloc");
	blk_fill(want, DISK_BYTES, SEED, 0);
	memset(want + DISCARD_OFF, 0, DISCARD_LEN);
	for (uint64_t off = 0; off < DISK_BYTES; off += 64 * KIB) {
		static uint8_t got[64 * KIB];

		blk2_file_read(img, off, got, sizeof(got));
		CHECK(!memcmp(got, want + off, sizeof(got)),
		      "the backing file differs in [%llu, +64 KiB)",
		      (unsigned long long)off);
	}
	free(want);
	return blk_pass(&s);
}
