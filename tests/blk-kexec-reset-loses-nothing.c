// SPDX-License-Identifier: MIT
/*
 * The kexec/kdump reset (spec/blkif-xenbus.md B.1 step 10, B.1 step 9's
 * "drain before acknowledging Closed") with a full ring: a guest submits a
 * large batch of writes on two queues, kicks, and without reaping anything
 * does what a new kernel's xenbus does: Closing, wait for the backend's
 * Closing; Closed, wait for the backend's Closed; Initialising, wait for
 * InitWait. Then it reconnects (new rings, the requests not answered yet
 * put on them again, as blkfront's resume does).
 *
 * Nothing may be lost or doubled: once the backend says Closed, every
 * request it took off the old ring has been answered there (exactly once,
 * OKAY) and its data is in the file; a request it did not answer has not
 * touched the file; nothing more is answered on the old ring after Closed;
 * after the reconnect every remaining request is answered exactly once and
 * at the end the file holds every write, and zeros elsewhere.
 */
#include <errno.h>
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
#define WLEN (128 * KIB)
#define PER_Q 96
#define NQ 2
#define NW (NQ * PER_Q)
#define DISK_BYTES (32ull << 20)

static char img[PATH_MAX];

struct w {
	uint64_t off;
	uint8_t *buf;
	int answers;	   /* completions seen */
	int before_closed; /* answered on the old ring */
};

static struct w w[NW];

static uint32_t seed_of(unsigned int i)
{
	return 100 + i;
}

/* Reap what is there on every queue; returns how many. */
static unsigned int reap_all(struct blkfront *bf, int before_closed)
{
	struct blkfront_done d[64];
	unsigned int total = 0;

	for (unsigned int q = 0; q < NQ; q++) {
		unsigned int n;

		while ((n = blk2_reap(bf, q, d, 64, 0)) > 0) {
			for (unsigned int k = 0; k < n; k++) {
				struct w *x = d[k].cookie;

				CHECK(x >= w && x < w + NW,
				      "unknown completion");
				x->answers++;
				CHECK(x->answers == 1,
				      "write %ld answered %d times",
				      (long)(x - w), x->answers);
				CHECK(d[k].status == 0,
				      "write %ld failed: status %d (backend "
				      "said "
				      "op %u status %d)",
				      (long)(x - w), d[k].status, d[k].rsp_op,
				      d[k].rsp_status);
				x->before_closed = before_closed;
			}
			total += n;
		}
	}
	return total;
}

static int guest(void *arg)
{
	struct blkfront_cfg cfg;
	const struct blkfront_info *in;
	struct blkfront *bf;
	char fe_state[300], be_state[300];
	unsigned int early, rest = 0, untouched = 0;
	uint32_t rsp_prod[NQ];

	blkfront_cfg_init(&cfg);
	cfg.ring_order = 2;
	cfg.nr_queues = NQ;
	cfg.max_indirect = 256;
	cfg.pool_pages = PER_Q * WLEN / 4096 + 64;
	bf = blk2_connect(&cfg);
	in = blkfront_info(bf);
	CHECK(in->nr_queues == NQ, "%u queues", in->nr_queues);
	CHECK(in->ring_slots >= PER_Q, "ring of %u slots", in->ring_slots);
	snprintf(fe_state, sizeof(fe_state), "%s/state", in->fe_path);
	snprintf(be_state, sizeof(be_state), "%s/state", in->be_path);

	for (unsigned int i = 0; i < NW; i++) {
		struct blkfront_io io;
		int id;

		w[i].off = (uint64_t)i * WLEN;
		w[i].buf = malloc(WLEN);
		CHECK(w[i].buf, "malloc");
		blk_fill(w[i].buf, WLEN, seed_of(i), w[i].off);
		io = (struct blkfront_io){
			.op = BLKFRONT_WRITE,
			.sector = w[i].off / 512,
			.buf = w[i].buf,
			.len = WLEN,
			.cookie = &w[i],
		};
		id = blkfront_submit(bf, i % NQ, &io);
		CHECK(id >= 0, "submit write %u: %s", i, blkfront_last_error());
	}
	for (unsigned int q = 0; q < NQ; q++)
		CHECK(blkfront_kick(bf, q) >= 0, "kick");

	/* The new kernel's reset, by hand, nothing reaped. */
	blk2_write(fe_state, "5");
	blk2_wait_state(be_state, 1u << 5, 5000, "backend Closing");
	blk2_write(fe_state, "6");
	blk2_wait_state(be_state, 1u << 6, 5000, "backend Closed");

	/* What the backend answered before Closed, and only that. */
	early = reap_all(bf, 1);
	for (unsigned int q = 0; q < NQ; q++)
		rsp_prod[q] = blkfront_ring(bf, q)->f.sring->rsp_prod;
	for (unsigned int i = 0; i < NW; i++) {
		long at;

		if (w[i].answers) {
			at = blk2_file_diff(img, w[i].off, WLEN, seed_of(i));
			CHECK(at < 0,
			      "write %u was answered before Closed but its "
			      "data is not in the file (byte %ld)",
			      i, at);
		} else {
			at = blk2_file_diff(img, w[i].off, WLEN, 0);
			CHECK(at < 0,
			      "write %u was not answered before Closed but "
			      "it changed the file (byte %ld)",
			      i, at);
			untouched++;
		}
	}
	CHECK(early + untouched == NW, "bookkeeping");
	blk2_no_violations(bf, "old rings");

	blk2_write(fe_state, "1");
	blk2_wait_state(be_state, 1u << 2, 5000, "backend InitWait");
	usleep(100000);
	for (unsigned int q = 0; q < NQ; q++)
		CHECK(blkfront_ring(bf, q)->f.sring->rsp_prod == rsp_prod[q],
		      "queue %u: the backend answered on the old ring after "
		      "Closed (rsp_prod %u, was %u)",
		      q, blkfront_ring(bf, q)->f.sring->rsp_prod, rsp_prod[q]);

	CHECK(blkfront_reconnect(bf) == 0, "reconnect: %s",
	      blkfront_last_error());
	while (early + rest < NW) {
		unsigned int n = reap_all(bf, 0);

		rest += n;
		if (!n)
			CHECK(blkfront_poll(bf, 10000) > 0,
			      "after the reconnect, %u writes still unanswered "
			      "after 10 s",
			      NW - early - rest);
	}
	usleep(100000);
	CHECK(reap_all(bf, 0) == 0, "answers beyond the requests");
	for (unsigned int i = 0; i < NW; i++)
		CHECK(w[i].answers == 1, "write %u answered %d times", i,
		      w[i].answers);
	blk2_no_violations(bf, "end");
	fprintf(stderr,
		"guest: %u writes answered before Closed, %u after the "
		"reconnect\n",
		early, rest);
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	return 0;
}

int main(void)
{
	struct blk_scen s;
	long at;

	blk_start(&s, 1, NULL, "max-queues=2", "max-ring-page-order=2", NULL);
	snprintf(img, sizeof(img), "%s",
		 blk_image(&s, "kexec.img", DISK_BYTES, 0));
	blk_add(&s, "vbd", 1, 51712, img, NULL);
	CHECK(blk_guest(&s, 1, guest, NULL) == 0, "guest failed");
	for (unsigned int i = 0; i < NW; i++) {
		at = blk2_file_diff(img, (uint64_t)i * WLEN, WLEN, seed_of(i));
		CHECK(at < 0, "write %u is not in the file (byte %ld)", i, at);
	}
	at = blk2_file_diff(img, (uint64_t)NW * WLEN,
			    DISK_BYTES - (uint64_t)NW * WLEN, 0);
	CHECK(at < 0, "the file beyond the writes is not zero (byte %ld)", at);
	return blk_pass(&s);
}
