// SPDX-License-Identifier: MIT
/*
 * Hostile class 16 (spec/hostile-frontend.md, spec B.2): what a real
 * blkfront checks of every response must hold even when the guest mixes
 * good and bad requests at full depth. A seeded random load on
 * two vbds of the hostile guest (native, two queues of an order-2 ring,
 * indirect requests; x86_32, one page, direct only): pattern WRITEs and
 * READs that are checked against what was written last, FLUSHes,
 * BARRIERs, DISCARDs, and refused requests of every kind (unknown ops,
 * bad segment counts and bounds, ranges past the end, bad grants,
 * indirect requests with a bad inner op or count). blkfront counts
 * violations of the four invariants (no duplicate, no unknown id, op
 * equal to the request's op or indirect_op, never more responses than
 * requests): none allowed; each request completes once with the status
 * its kind calls for, and at the end rsp_prod equals req_prod on every
 * ring. A third vbd, driven by hand, repeats ids (eight requests with one
 * id, others with ids 2^64-1 and 2^63+1): each request is answered once,
 * its id echoed whole. blkbackd runs as the supervisor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "lib/hostile.h"

#define DEV_A HOSTILE_DEVID
#define DEV_B (HOSTILE_DEVID + 16)
#define DEV_IDS (HOSTILE_DEVID + 32)
#define DISK (32ull << 20)
#define NREG 48u /* regions per queue */
#define REG_BYTES (256u << 10)
#define DISCARD_AT (24ull << 20) /* bytes: DISCARDs only, never read */
#define TOTAL 2500u		 /* requests per vbd */
#define MAXJOBS 512u
#define BAD_GREF 0xFFFFFFF0u

enum jkind { J_WRITE, J_READ, J_FLUSH, J_BARRIER, J_DISCARD, J_BAD };

struct region {
	uint64_t off;
	size_t len;
	uint8_t page_off;
	uint32_t seed; /* last written; 0: zeros */
	int busy;
};

struct job {
	enum jkind kind;
	unsigned int q;
	struct region *reg;
	uint32_t seed;
	unsigned int bad;
	int live;
	unsigned char *buf;
};

struct load {
	struct blkfront *bf;
	const struct blkfront_info *in;
	struct region reg[2][NREG];
	struct job jobs[MAXJOBS];
	unsigned int issued, done, live;
	unsigned long counts[6], refused;
	uint64_t rng;
};

static uint32_t rnd(struct load *l)
{
	l->rng ^= l->rng << 13;
	l->rng ^= l->rng >> 7;
	l->rng ^= l->rng << 17;
	return (uint32_t)(l->rng >> 11);
}

/* The refused requests: what is put, and the status that must come. */
struct bad {
	const char *what;
	int16_t status;
	void (*make)(struct ring_blkif_req *r, uint64_t sectors);
};

static void b_unknown(struct ring_blkif_req *r, uint64_t s)
{
	hostile_req(r, 77, 0, 1, NULL, 0, 0, 7);
}

static void b_noseg(struct ring_blkif_req *r, uint64_t s)
{
	hostile_req(r, BLKIF_OP_WRITE, 0, 0, NULL, 0, 0, 7);
}

static void b_12seg(struct ring_blkif_req *r, uint64_t s)
{
	uint32_t g = BAD_GREF;

	hostile_req(r, BLKIF_OP_READ, 0, 12, &g, 1, 0, 7);
}

static void b_bounds(struct ring_blkif_req *r, uint64_t s)
{
	uint32_t g = BAD_GREF;

	hostile_req(r, BLKIF_OP_WRITE, 0, 1, &g, 1, 6, 3);
}

static void b_past_end(struct ring_blkif_req *r, uint64_t s)
{
	uint32_t g = BAD_GREF;

	hostile_req(r, BLKIF_OP_READ, s - 4, 2, &g, 1, 0, 7);
}

static void b_gref(struct ring_blkif_req *r, uint64_t s)
{
	uint32_t g = BAD_GREF;

	hostile_req(r, BLKIF_OP_READ, 64, 3, &g, 1, 0, 7);
}

static void b_ind_op(struct ring_blkif_req *r, uint64_t s)
{
	memset(r, 0, sizeof(*r));
	r->op = BLKIF_OP_INDIRECT;
	r->indirect_op = BLKIF_OP_DISCARD;
	r->nr_segments = 20;
	r->indirect_grefs[0] = BAD_GREF;
}

static void b_ind_count(struct ring_blkif_req *r, uint64_t s)
{
	memset(r, 0, sizeof(*r));
	r->op = BLKIF_OP_INDIRECT;
	r->indirect_op = BLKIF_OP_READ;
	r->nr_segments = 300;
	r->indirect_grefs[0] = BAD_GREF;
}

static void b_ind_gref(struct ring_blkif_req *r, uint64_t s)
{
	memset(r, 0, sizeof(*r));
	r->op = BLKIF_OP_INDIRECT;
	r->indirect_op = BLKIF_OP_WRITE;
	r->nr_segments = 30;
	r->indirect_grefs[0] = BAD_GREF;
}

static void b_discard(struct ring_blkif_req *r, uint64_t s)
{
	memset(r, 0, sizeof(*r));
	r->op = BLKIF_OP_DISCARD;
	r->sector_number = s - 8;
	r->nr_sectors = 64;
}

static const struct bad bads[] = {
	{ "unknown op 77", BLKIF_RSP_EOPNOTSUPP, b_unknown },
	{ "WRITE without segments", BLKIF_RSP_ERROR, b_noseg },
	{ "READ with 12 segments", BLKIF_RSP_ERROR, b_12seg },
	{ "WRITE, first_sect > last_sect", BLKIF_RSP_ERROR, b_bounds },
	{ "READ across the end", BLKIF_RSP_ERROR, b_past_end },
	{ "READ into a bad grant", BLKIF_RSP_ERROR, b_gref },
	{ "INDIRECT with inner op DISCARD", BLKIF_RSP_ERROR, b_ind_op },
	{ "INDIRECT with 300 segments", BLKIF_RSP_ERROR, b_ind_count },
	{ "INDIRECT with a bad indirect page", BLKIF_RSP_ERROR, b_ind_gref },
	{ "DISCARD across the end", BLKIF_RSP_ERROR, b_discard },
};
#define NBADS (sizeof(bads) / sizeof(bads[0]))

static void regions(struct load *l)
{
	unsigned int maxseg = l->in->max_segments;

	for (unsigned int q = 0; q < l->in->nr_queues; q++) {
		for (unsigned int i = 0; i < NREG; i++) {
			struct region *r = &l->reg[q][i];
			size_t room;

			r->off = (uint64_t)(q * NREG + i) * REG_BYTES;
			r->page_off = (uint8_t)(rnd(l) % 8);
			room = (size_t)maxseg * 4096 - r->page_off * 512u;
			if (room > REG_BYTES)
				room = REG_BYTES;
			r->len = 512 * (1 + rnd(l) % (room / 512));
			r->seed = 0;
			r->busy = 0;
		}
	}
}

static struct job *job_new(struct load *l)
{
	for (unsigned int i = 0; i < MAXJOBS; i++)
		if (!l->jobs[i].live) {
			memset(&l->jobs[i], 0, sizeof(l->jobs[i]));
			l->jobs[i].live = 1;
			return &l->jobs[i];
		}
	return NULL;
}

/* Put one random request on @q; 0 if the ring (or the pool) is full. */
static int issue(struct load *l, unsigned int q)
{
	struct job *j = job_new(l);
	struct blkfront_io io = { 0 };
	unsigned int pick = rnd(l) % 100;
	int rc;

	if (!j)
		return 0;
	j->q = q;
	if (pick < 60) {
		for (int tries = 0; tries < 4; tries++) {
			j->reg = &l->reg[q][rnd(l) % NREG];
			if (!j->reg->busy)
				break;
		}
		if (j->reg->busy)
			pick = 62; /* all taken: a FLUSH instead */
	}
	if (pick < 35) {
		j->kind = J_WRITE;
		j->seed = rnd(l) | 1;
	} else if (pick < 60) {
		j->kind = J_READ;
	} else if (pick < 64) {
		j->kind = J_FLUSH;
	} else if (pick < 66) {
		j->kind = J_BARRIER;
	} else if (pick < 72) {
		j->kind = J_DISCARD;
	} else {
		j->kind = J_BAD;
		j->bad = rnd(l) % NBADS;
	}
	if (j->kind == J_BAD) {
		struct ring_blkif_req r;

		bads[j->bad].make(&r, l->in->sectors);
		rc = blkfront_put_raw(l->bf, q, &r, j, 0);
	} else {
		io.cookie = j;
		switch (j->kind) {
		case J_WRITE:
		case J_READ:
			j->buf = malloc(j->reg->len);
			CHECK(j->buf, "malloc");
			if (j->kind == J_WRITE)
				blk_fill(j->buf, j->reg->len, j->seed,
					 j->reg->off);
			else
				memset(j->buf, 0xA5, j->reg->len);
			io.op = j->kind == J_WRITE ? BLKFRONT_WRITE
						   : BLKFRONT_READ;
			io.page_off = j->reg->page_off;
			io.sector = j->reg->off / 512;
			io.buf = j->buf;
			io.len = j->reg->len;
			break;
		case J_FLUSH:
			io.op = BLKFRONT_FLUSH;
			break;
		case J_BARRIER:
			io.op = BLKFRONT_BARRIER;
			break;
		default:
			io.op = BLKFRONT_DISCARD;
			io.sector = DISCARD_AT / 512 + 8 * (rnd(l) % 1024);
			io.len = 4096 * (1 + rnd(l) % 16);
			break;
		}
		rc = blkfront_submit(l->bf, q, &io);
	}
	if (rc == -EBUSY) {
		free(j->buf);
		j->live = 0;
		return 0;
	}
	CHECK(rc >= 0, "issue kind %d on queue %u: %s", j->kind, q,
	      blkfront_last_error());
	if (j->reg && (j->kind == J_WRITE || j->kind == J_READ))
		j->reg->busy = 1;
	l->issued++;
	l->live++;
	l->counts[j->kind]++;
	return 1;
}

static void complete(struct load *l, const struct blkfront_done *d)
{
	struct job *j = d->cookie;

	CHECK(j >= l->jobs && j < l->jobs + MAXJOBS && j->live,
	      "completion of no live request (id %llu)",
	      (unsigned long long)d->id);
	j->live = 0;
	l->live--;
	l->done++;
	if (j->kind == J_BAD) {
		CHECK(d->raw && d->rsp_status == bads[j->bad].status,
		      "%s: status %d, want %d", bads[j->bad].what,
		      d->rsp_status, bads[j->bad].status);
		l->refused++;
		return;
	}
	CHECK(!d->status,
	      "kind %d on queue %u: status %d (backend op %u "
	      "status %d)",
	      j->kind, j->q, d->status, d->rsp_op, d->rsp_status);
	if (j->kind == J_WRITE) {
		j->reg->seed = j->seed;
	} else if (j->kind == J_READ) {
		const struct region *r = j->reg;

		if (r->seed) {
			long at = blk_diff(j->buf, r->len, r->seed, r->off);

			CHECK(at < 0,
			      "READ of %zu bytes at %llu: byte %ld "
			      "not what was written",
			      r->len, (unsigned long long)r->off, at);
		} else {
			for (size_t i = 0; i < r->len; i++)
				CHECK(!j->buf[i],
				      "READ of a never written "
				      "region: byte %zu is 0x%02x",
				      i, j->buf[i]);
		}
	}
	if (j->reg && (j->kind == J_WRITE || j->kind == J_READ))
		j->reg->busy = 0;
	free(j->buf);
	j->buf = NULL;
}

static void run_load(unsigned int devid, const struct blkfront_cfg *cfg,
		     uint64_t seed)
{
	static struct load l;
	struct blkfront_done d[64];
	char why[192];

	memset(&l, 0, sizeof(l));
	l.rng = seed;
	l.bf = hostile_connect(devid, cfg);
	l.in = blkfront_info(l.bf);
	regions(&l);
	while (l.issued < TOTAL || l.live) {
		unsigned int got = 0;

		for (unsigned int q = 0; q < l.in->nr_queues; q++) {
			/* Bursts of random size: the ring fills up at times. */
			unsigned int burst = 1 + rnd(&l) % 48;

			while (burst-- && l.issued < TOTAL && issue(&l, q))
				;
			CHECK(blkfront_kick(l.bf, q) >= 0, "kick");
		}
		for (unsigned int q = 0; q < l.in->nr_queues; q++) {
			int n = blkfront_reap(l.bf, q, d, 64, 0);

			CHECK(n >= 0, "reap: %s", blkfront_last_error());
			for (int i = 0; i < n; i++)
				complete(&l, &d[i]);
			got += (unsigned int)n;
		}
		CHECK(blkfront_violations(l.bf, why, sizeof(why)) == 0,
		      "blkfront invariant broken: %s", why);
		if (!got && l.live)
			CHECK(blkfront_poll(l.bf, 10000) > 0,
			      "no completion in 10 s, %u outstanding", l.live);
	}
	for (unsigned int q = 0; q < l.in->nr_queues; q++) {
		struct ring_blkif_front *rf = blkfront_ring(l.bf, q);

		CHECK(!blkfront_inflight(l.bf, q), "queue %u: %u in flight", q,
		      blkfront_inflight(l.bf, q));
		CHECK(rf->f.sring->rsp_prod == rf->f.sring->req_prod,
		      "queue %u: rsp_prod %u, req_prod %u", q,
		      rf->f.sring->rsp_prod, rf->f.sring->req_prod);
	}
	hostile_no_violations(l.bf, "mixed load");
	fprintf(stderr,
		"hostile guest: vbd %u: %u requests (%lu write, %lu "
		"read, %lu flush, %lu barrier, %lu discard, %lu refused) over "
		"%u queue(s), invariants held\n",
		devid, l.done, l.counts[0], l.counts[1], l.counts[2],
		l.counts[3], l.counts[4], l.refused, l.in->nr_queues);
	CHECK(blkfront_close(l.bf) == 0, "close: %s", blkfront_last_error());
}

/* Ids a frontend should not use: each request still answered once. */
static void hostile_ids(void)
{
	static const uint64_t ids[] = { 7, UINT64_MAX, 0x8000000000000001ull };
	struct blkfront *bf = hostile_connect(DEV_IDS, NULL);
	struct ring_blkif_front *rf = blkfront_ring(bf, 0);
	struct ring_blkif_rsp rsp[32];
	struct hostile_page p;
	unsigned int seen[3] = { 0 };
	unsigned int n = 0;

	hostile_page(bf, 0, &p);
	for (unsigned int i = 0; i < 16; i++) {
		struct ring_blkif_req r;
		unsigned int k = i < 8 ? 0 : i < 12 ? 1 : 2;

		if (k == 0)
			hostile_req(&r, BLKIF_OP_READ, 8 * i, 1, &p.gref, 1, 0,
				    7);
		else if (k == 1)
			hostile_req(&r, 200, 0, 1, &p.gref, 1, 0, 7);
		else
			hostile_req(&r, BLKIF_OP_READ, 0, 0, NULL, 0, 0, 0);
		r.id = ids[k];
		hostile_ring_put(rf, &r);
		n++;
	}
	hostile_ring_push(bf, 0);
	CHECK(hostile_ring_wait(rf, rsp, n, 10000) == n,
	      "requests with repeated ids went unanswered");
	for (unsigned int i = 0; i < n; i++) {
		unsigned int k;

		for (k = 0; k < 3 && ids[k] != rsp[i].id; k++)
			;
		CHECK(k < 3, "response id 0x%llx was never asked",
		      (unsigned long long)rsp[i].id);
		seen[k]++;
		CHECK(k != 0 || (rsp[i].op == BLKIF_OP_READ && !rsp[i].status),
		      "id 7: op %u status %d", rsp[i].op, rsp[i].status);
		CHECK(k != 1 || (rsp[i].op == 200 &&
				 rsp[i].status == BLKIF_RSP_EOPNOTSUPP),
		      "id 2^64-1: op %u status %d", rsp[i].op, rsp[i].status);
		CHECK(k != 2 || (rsp[i].op == BLKIF_OP_READ &&
				 rsp[i].status == BLKIF_RSP_ERROR),
		      "id 2^63+1: op %u status %d", rsp[i].op, rsp[i].status);
	}
	CHECK(seen[0] == 8 && seen[1] == 4 && seen[2] == 4,
	      "answers per id: %u %u %u, want 8 4 4", seen[0], seen[1],
	      seen[2]);
	CHECK(hostile_ring_wait(rf, rsp, 1, 200) == 0,
	      "more responses than requests");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	fprintf(stderr, "hostile guest: repeated ids answered once each\n");
}

static int hostile_main(void *arg)
{
	struct blkfront_cfg cfg;

	blkfront_cfg_init(&cfg);
	cfg.nr_queues = 2;
	cfg.ring_order = 2;
	cfg.max_indirect = 64;
	/* More pages in flight than the backend's bounce memory holds: it
	 * must give requests back to the ring and fetch them again later. */
	cfg.pool_pages = 4096;
	run_load(DEV_A, &cfg, 0x9E3779B97F4A7C15ull);
	hostile_progress(1, "after the first mixed load");

	blkfront_cfg_init(&cfg);
	cfg.abi = RING_BLKIF_ABI_X86_32;
	cfg.max_indirect = 0;
	cfg.persistent = 0;
	run_load(DEV_B, &cfg, 0xD1B54A32D192ED03ull);
	hostile_progress(1, "after the second mixed load");
	hostile_ids();
	return 0;
}

int main(void)
{
	static const char *const sets[] = { "max-queues=2",
					    "max-ring-page-order=2", NULL };
	struct hostile h;
	char img[PATH_MAX];

	hostile_start(&h, NULL, sets);
	hostile_image(&h, "a.img", DISK, 0, img, sizeof(img));
	hostile_add(&h, DEV_A, img, NULL);
	hostile_image(&h, "b.img", DISK, 0, img, sizeof(img));
	hostile_add(&h, DEV_B, img, NULL);
	hostile_image(&h, "ids.img", DISK, 0, img, sizeof(img));
	hostile_add(&h, DEV_IDS, img, NULL);
	hostile_guest(&h, hostile_main, NULL);
	return hostile_finish(&h);
}
