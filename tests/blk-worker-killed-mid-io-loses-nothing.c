// SPDX-License-Identifier: MIT
/*
 * A worker that dies with requests in flight (a crash a hostile guest
 * provoked, an OOM kill) is restarted by the supervisor and takes the
 * rings back where the frontend's rsp_prod says. What it finds in the
 * slots past rsp_prod must be the requests the frontend wrote, never
 * responses the dead worker had written but not yet published: it
 * replays those requests, so each id is answered exactly once and no
 * garbage id reaches the guest.
 *
 * Guest 1 keeps 2 queues full of mixed random reads and writes (1 to 32
 * blocks of 4 KiB, so direct and indirect requests) on non-overlapping
 * ranges, remembering which pattern each block must hold, while the test
 * SIGKILLs its worker 4 times (each new worker replays what its
 * predecessor left, from its journal). Checked: no blkfront invariant broken, every
 * request completes with status 0, every read returns what the block must
 * hold, and so does the whole disk at the end (read through the new worker
 * and from the backing file).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "front/blkfront.h"
#include "lib/blkscen.h"
#include "lib/blkscen2.h"
#include "lib/check.h"

#define BLOCK 4096u
#define NBLOCKS 4096u /* 16 MiB */
#define DISK ((uint64_t)NBLOCKS * BLOCK)
#define MAXB 32u  /* blocks per request */
#define DEPTH 24u /* requests in flight per queue */
#define NQ 2u
#define SEED0 7u
#define KILLS 4
/* More while no kill caught requests in flight (a fast backend answers
 * all it took between two of the guest's batches): at most this many. */
#define KILLS_MAX 16

struct shared {
	volatile int stop;
	volatile unsigned long done; /* requests completed */
};

static struct shared *sh;

struct req {
	int busy;
	int write;
	unsigned int q;
	uint32_t block, n, seed;
	uint8_t *buf;
};

static uint32_t expect[NBLOCKS]; /* the pattern seed each block holds */
static uint8_t busy[NBLOCKS];
static struct req reqs[NQ * DEPTH];
static uint32_t next_seed = 100;

static int start_one(struct blkfront *bf, struct req *r, unsigned int q)
{
	struct blkfront_io io;
	uint32_t b, n, i;
	int id;

	n = 1 + (uint32_t)rand() % MAXB;
	b = (uint32_t)rand() % (NBLOCKS - n);
	for (i = 0; i < n; i++)
		if (busy[b + i])
			return 0; /* overlaps one in flight: skip */
	r->write = rand() & 1;
	r->q = q;
	r->block = b;
	r->n = n;
	r->seed = r->write ? next_seed++ : 0;
	if (r->write)
		blk_fill(r->buf, (size_t)n * BLOCK, r->seed,
			 (uint64_t)b * BLOCK);
	io = (struct blkfront_io){
		.op = r->write ? BLKFRONT_WRITE : BLKFRONT_READ,
		.sector = (uint64_t)b * (BLOCK / 512),
		.buf = r->buf,
		.len = (size_t)n * BLOCK,
		.cookie = r,
	};
	id = blkfront_submit(bf, q, &io);
	if (id == -EBUSY)
		return 0;
	CHECK(id >= 0, "submit: %s", blkfront_last_error());
	for (i = 0; i < n; i++)
		busy[b + i] = 1;
	r->busy = 1;
	return 1;
}

static void finish_one(struct req *r, const struct blkfront_done *d)
{
	CHECK(d->status == 0,
	      "%s of %u blocks at %u (id %llu): status %d "
	      "(the backend said op %u status %d)",
	      r->write ? "write" : "read", r->n, r->block,
	      (unsigned long long)d->id, d->status, d->rsp_op, d->rsp_status);
	for (uint32_t i = 0; i < r->n; i++) {
		uint32_t b = r->block + i;

		if (r->write) {
			expect[b] = r->seed;
		} else {
			long bad = blk_diff(r->buf + (size_t)i * BLOCK, BLOCK,
					    expect[b], (uint64_t)b * BLOCK);

			CHECK(bad < 0, "block %u: byte %ld is not pattern %u",
			      b, bad, expect[b]);
		}
		busy[b] = 0;
	}
	r->busy = 0;
	sh->done++;
}

static int guest(void *arg)
{
	struct blkfront_cfg cfg;
	struct blkfront *bf;
	struct blkfront_done d[64];
	static uint8_t whole[1 << 20];
	time_t deadline;
	unsigned int inflight = 0;

	srand(1234);
	for (unsigned int i = 0; i < NBLOCKS; i++)
		expect[i] = SEED0;
	for (unsigned int i = 0; i < NQ * DEPTH; i++) {
		reqs[i].buf = malloc((size_t)MAXB * BLOCK);
		CHECK(reqs[i].buf, "malloc");
	}
	blkfront_cfg_init(&cfg);
	cfg.nr_queues = NQ;
	cfg.max_indirect = 256;
	bf = blk2_connect(&cfg);
	CHECK(blkfront_info(bf)->nr_queues == NQ, "%u queues",
	      blkfront_info(bf)->nr_queues);

	deadline = time(NULL) + 90;
	while (!sh->stop || inflight) {
		CHECK(time(NULL) < deadline, "stuck: %u in flight", inflight);
		for (unsigned int q = 0; q < NQ && !sh->stop; q++) {
			for (unsigned int k = 0; k < DEPTH; k++) {
				struct req *r = &reqs[q * DEPTH + k];

				if (!r->busy)
					inflight += start_one(bf, r, q);
			}
			CHECK(blkfront_kick(bf, q) >= 0, "kick: %s",
			      blkfront_last_error());
		}
		for (unsigned int q = 0; q < NQ; q++) {
			int n = blkfront_reap(bf, q, d, 64, 0);

			CHECK(n >= 0, "reap: %s", blkfront_last_error());
			for (int i = 0; i < n; i++) {
				finish_one(d[i].cookie, &d[i]);
				inflight--;
			}
		}
		blk2_no_violations(bf, "under worker kills");
		if (inflight)
			blkfront_poll(bf, 100);
	}

	/* The whole disk, through whichever worker serves now. */
	for (uint32_t b = 0; b < NBLOCKS; b += sizeof(whole) / BLOCK) {
		struct blkfront_io io = {
			.op = BLKFRONT_READ,
			.sector = (uint64_t)b * (BLOCK / 512),
			.buf = whole,
			.len = sizeof(whole),
		};
		struct blkfront_done dd;

		CHECK(blk2_do(bf, 0, &io, &dd) == 0, "final read at %u", b);
		for (uint32_t i = 0; i < sizeof(whole) / BLOCK; i++)
			CHECK(blk_diff(whole + (size_t)i * BLOCK, BLOCK,
				       expect[b + i],
				       (uint64_t)(b + i) * BLOCK) < 0,
			      "final read: block %u wrong", b + i);
	}
	blk2_no_violations(bf, "at the end");
	fprintf(stderr, "guest: %lu requests, all answered once and right\n",
		sh->done);
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	return 0;
}

/* A successor found requests its predecessor had taken and not answered. */
static int replayed(const struct blk_scen *s)
{
	char cmd[PATH_MAX + 96];

	snprintf(cmd, sizeof(cmd),
		 "grep -q 'taken back: [1-9][0-9]* request' %s", s->log);
	return system(cmd) == 0;
}

int main(void)
{
	struct blk_scen s;
	pid_t g, w = 0, prev = 0;
	unsigned long before;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED, "mmap");
	blk_start(&s, 1, NULL, "max-queues=2", NULL);
	blk_add(&s, "vbd", 1, 51712, blk_image(&s, "d.img", DISK, SEED0), NULL);
	g = simenv_fork_as(&s.env, 1, guest, NULL);
	CHECK(g > 0, "fork the guest");

	for (int k = 0; k < KILLS || (k < KILLS_MAX && !replayed(&s)); k++) {
		/* A new worker that has served a while: I/O is in flight. */
		for (int i = 0; i < 1000; i++) {
			w = blk_worker_pid(&s, 1);
			if (w > 0 && w != prev)
				break;
			usleep(10000);
		}
		CHECK(w > 0 && w != prev, "no new worker before kill %d",
		      k + 1);
		before = sh->done;
		for (int i = 0; i < 1000 && sh->done < before + 300; i++)
			usleep(2000);
		CHECK(sh->done >= before + 300, "no progress before kill %d",
		      k + 1);
		usleep((useconds_t)(rand() % 20000));
		CHECK(kill(w, SIGKILL) == 0, "kill worker %d", (int)w);
		fprintf(stderr, "killed worker %d after %lu requests\n", (int)w,
			sh->done);
		prev = w;
	}
	/* Some more work on the last worker, then stop. */
	before = sh->done;
	for (int i = 0; i < 5000 && sh->done < before + 300; i++)
		usleep(2000);
	sh->stop = 1;
	CHECK(simenv_wait(g) == 0, "the guest failed");
	/* The kills caught requests in flight: the replay path ran. */
	CHECK(replayed(&s), "no worker replayed anything in %d kills",
	      KILLS_MAX);
	return blk_pass(&s);
}
