// SPDX-License-Identifier: MIT
/*
 * blkbackd's workers are confined by default (sandbox=on) and serve disks
 * all the same. With the supervisor and a worker for guest 1, /proc shows
 * the worker in seccomp filter mode with no_new_privs. The guest connects
 * two queues and sends what the allow-list must let through: direct and
 * indirect writes and reads on both queues, a flush, a discard (a hole
 * punched in the file); it reads everything back, and the backing file
 * holds exactly the pattern with the discarded range zeroed. Closing and
 * connecting again (new queue threads, a new io_uring, the store reopened
 * by the confined worker) works too, and so does `blkbackd --stats`
 * through the worker's control socket. Throughout, the worker is the same
 * process: a forbidden syscall would have killed it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/blkfront.h"
#include "lib/blkscen.h"
#include "lib/blkscen2.h"
#include "lib/check.h"

#define KIB 1024u
#define DISK_BYTES (4u << 20)
#define SEED 11
#define DISCARD_OFF (1u << 20)
#define DISCARD_LEN (256 * KIB)

/* Write the pattern over the disk, flush, discard a range, read back. */
static int guest(void *arg)
{
	static uint8_t wbuf[DISK_BYTES], rbuf[DISK_BYTES];
	struct blk2_job jobs[128];
	char when[32];
	struct blkfront_cfg cfg;
	struct blkfront *bf;
	unsigned int n = 0, pass;
	uint64_t off;

	blk_fill(wbuf, sizeof(wbuf), SEED, 0);
	for (pass = 0; pass < 2; pass++) {
		blkfront_cfg_init(&cfg);
		cfg.nr_queues = 2;
		cfg.max_indirect = 32;
		bf = blk2_connect(&cfg);
		CHECK(blkfront_info(bf)->nr_queues == 2, "queues: %u",
		      blkfront_info(bf)->nr_queues);
		/* 64 KiB writes: indirect (16 pages) and direct (44 KiB). */
		n = 0;
		for (off = 0; off < DISK_BYTES; n++) {
			CHECK(n < sizeof(jobs) / sizeof(jobs[0]),
			      "too many jobs");
			size_t len = n % 2 ? 44 * KIB : 64 * KIB;

			if (off + len > DISK_BYTES)
				len = DISK_BYTES - off;
			jobs[n] = (struct blk2_job){
				.op = BLKFRONT_WRITE,
				.q = n % 2,
				.sector = off / 512,
				.buf = wbuf + off,
				.len = len,
			};
			off += len;
		}
		blk2_run_jobs(bf, jobs, n, 1);
		snprintf(when, sizeof(when), "pass %u", pass);
		blk2_flush_discard_read_back(bf, jobs, n, 1, wbuf, rbuf,
					     sizeof(rbuf), DISCARD_OFF,
					     DISCARD_LEN, when);
		CHECK(blkfront_close(bf) == 0, "close: %s",
		      blkfront_last_error());
		blk_fill(wbuf, sizeof(wbuf), SEED + 1, 0);
	}
	return 0;
}

int main(void)
{
	struct blk_scen s;
	char img[PATH_MAX], cmd[2 * PATH_MAX + 64], out[4096];
	uint8_t *want;
	size_t n;
	FILE *p;
	pid_t w;
	int i;

	blk_start(&s, 1, NULL, "max-queues=2", NULL);
	snprintf(img, sizeof(img), "%s",
		 blk_image(&s, "sandboxed.img", DISK_BYTES, 0));
	blk_add(&s, "vbd", 1, 51712, img, NULL);
	/* The filter goes on once the worker has started. */
	w = blk_wait_worker(&s, 1, "Seccomp", "2");
	CHECK(simenv_status_has(w, "NoNewPrivs", "1"),
	      "worker %d: no no_new_privs", (int)w);

	i = blk_guest(&s, 1, guest, NULL);
	CHECK(i == 0, "guest failed: status %d", i);

	/* The worker answers its control socket under the filter too. */
	snprintf(cmd, sizeof(cmd), "%s --set run-dir=%s --stats",
		 simenv_build("blkbackd"), s.env.dir);
	p = popen(cmd, "r");
	CHECK(p, "popen");
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	CHECK(pclose(p) == 0 && strstr(out, "q1: read"),
	      "blkbackd --stats: '%s'", out);

	CHECK(blk_worker_pid(&s, 1) == w, "the worker was replaced");
	snprintf(cmd, sizeof(cmd), "grep -q 'killed by signal' %s", s.log);
	CHECK(system(cmd) != 0, "a worker was killed");
	/* The file holds the second pass's pattern, the discard zeroed. */
	want = malloc(DISK_BYTES);
	CHECK(want, "malloc");
	blk_fill(want, DISK_BYTES, SEED + 1, 0);
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
