// SPDX-License-Identifier: MIT
/*
 * Hostile class 15 (spec/hostile-frontend.md): nothing a guest reads may
 * hold bytes it was not meant to see. The guest drives its ring by hand
 * and reads the raw response slots: in every response the padding bytes
 * are zero (byte 9, and 12..15 in the 16-byte x86_64 layout), although
 * the request those bytes overlay had its id's bytes all non-zero there;
 * the rest of each slot, which held a request with 0xCC in its padding,
 * is either untouched or zero. READs whose segments cover part of a page
 * ([first_sect, last_sect] anywhere in 0..7, direct and indirect) write
 * the disk's bytes there and nothing else: the page's other bytes keep
 * their canary; READs refused for their shape write nothing at all.
 * Mixed with WRITE, FLUSH, unknown ops and refused requests, several
 * rounds so the ring wraps. Native ring with persistent grants and x86_32
 * ring with grant copies; blkbackd --single.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/hostile.h"

#define DEV_NATIVE HOSTILE_DEVID
#define DEV_X86_32 (HOSTILE_DEVID + 16)
#define SEED 3u /* the disk image's pattern */
#define CANARY 0x5A
#define NREQ 32u  /* a one-page ring */
#define MAXPG 24u /* pages one request may use */
#define ROUNDS 6u

enum kind {
	K_READ,
	K_IREAD,
	K_WRITE,
	K_UNKNOWN,
	K_BADSEG,
	K_NOSEG,
	K_FLUSH,
	K_NR
};

struct expect {
	enum kind kind;
	uint64_t id;
	uint8_t op;
	int16_t status;
	uint64_t sector;
	unsigned int nseg;
	int page[MAXPG]; /* pool page index per segment */
	uint8_t first[MAXPG], last[MAXPG];
	int answered;
};

struct dev {
	struct blkfront *bf;
	struct ring_blkif_front *rf;
	enum ring_blkif_abi abi;
	size_t rsp_size;
	struct hostile_page pg[NREQ * MAXPG];
	struct hostile_page ip[NREQ]; /* indirect pages */
	struct expect e[NREQ];
	unsigned char orig[NREQ][112]; /* request slots as we wrote them */
};

static unsigned char *page_addr(struct dev *d, int idx)
{
	return d->pg[idx].addr;
}

/* Request @k of round @r: its kind, pages and expectation. */
static void build(struct dev *d, unsigned int r, unsigned int k,
		  struct ring_blkif_req *req)
{
	struct expect *e = &d->e[k];
	unsigned int pg0 = k * MAXPG;

	memset(e, 0, sizeof(*e));
	memset(req, 0, sizeof(*req));
	e->kind = (enum kind)((k + r) % K_NR);
	/* Every byte of the id non-zero: the response's padding overlays it. */
	e->id = 0x8182838485860000ull | ((uint64_t)(r + 1) << 8) | (k + 1);
	/* READs each their own range; WRITEs all to one far away. */
	e->sector = e->kind == K_WRITE ? 31000
				       : 64 + (uint64_t)(r * NREQ + k) * 150;
	e->status = BLKIF_RSP_OKAY;
	req->id = e->id;
	req->sector_number = e->sector;
	switch (e->kind) {
	case K_READ:
	case K_BADSEG:
	case K_WRITE:
		e->op = e->kind == K_WRITE ? BLKIF_OP_WRITE : BLKIF_OP_READ;
		e->nseg = 1 + (k * 5 + r) % BLKIF_MAX_SEGMENTS_PER_REQUEST;
		for (unsigned int i = 0; i < e->nseg; i++) {
			e->page[i] = (int)(pg0 + i);
			e->first[i] = (uint8_t)((k + 3 * i + r) % 8);
			e->last[i] = (uint8_t)(e->first[i] +
					       (k + i) % (8 - e->first[i]));
			req->seg[i].gref = d->pg[pg0 + i].gref;
			req->seg[i].first_sect = e->first[i];
			req->seg[i].last_sect = e->last[i];
		}
		if (e->kind == K_BADSEG) {
			/* The last segment is impossible: refused whole. */
			req->seg[e->nseg - 1].last_sect = 9;
			e->status = BLKIF_RSP_ERROR;
		}
		break;
	case K_IREAD: {
		struct blkif_request_segment *ds = (void *)d->ip[k].addr;

		e->op = BLKIF_OP_READ;
		e->nseg = 12 + (k + r) % (MAXPG - 12);
		memset(d->ip[k].addr, 0xCC, 4096);
		for (unsigned int i = 0; i < e->nseg; i++) {
			e->page[i] = (int)(pg0 + i);
			e->first[i] = (uint8_t)((2 * k + i + r) % 8);
			e->last[i] = (uint8_t)(e->first[i] +
					       (k + 2 * i) % (8 - e->first[i]));
			ds[i] = (struct blkif_request_segment){
				.gref = d->pg[pg0 + i].gref,
				.first_sect = e->first[i],
				.last_sect = e->last[i],
			};
		}
		req->indirect_op = BLKIF_OP_READ;
		req->nr_segments = (uint16_t)e->nseg;
		req->indirect_grefs[0] = d->ip[k].gref;
		req->op = BLKIF_OP_INDIRECT;
		return;
	}
	case K_UNKNOWN:
		e->op = (uint8_t)(100 + k);
		e->status = BLKIF_RSP_EOPNOTSUPP;
		e->nseg = 0;
		break;
	case K_NOSEG:
		e->op = BLKIF_OP_READ;
		e->status = BLKIF_RSP_ERROR;
		e->nseg = 0;
		/* Segments it does not claim, on pages that must stay. */
		for (unsigned int i = 0; i < 4; i++) {
			req->seg[i].gref = d->pg[pg0 + i].gref;
			req->seg[i].last_sect = 7;
			e->page[i] = (int)(pg0 + i);
		}
		break;
	case K_FLUSH:
		e->op = BLKIF_OP_FLUSH_DISKCACHE;
		e->nseg = 0;
		break;
	default:
		break;
	}
	req->op = e->op;
	req->nr_segments = (uint16_t)e->nseg;
}

/* 0xCC into the request's padding bytes, in the shared slot itself. */
static void scribble(struct dev *d, unsigned char *slot,
		     const struct ring_blkif_req *req)
{
	size_t segs = d->abi == RING_BLKIF_ABI_X86_32 ? 20 : 24;

	if (req->op == BLKIF_OP_INDIRECT || req->op == BLKIF_OP_DISCARD)
		return;
	if (d->abi != RING_BLKIF_ABI_X86_32)
		memset(slot + 4, 0xCC, 4); /* _pad1 */
	for (unsigned int i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
		memset(slot + segs + 8 * i + 6, 0xCC, 2);
}

/* The raw response in slot @s: padding zero, the rest old or zero. */
static void check_slot(struct dev *d, unsigned int k, const unsigned char *s)
{
	size_t slot = d->rf->f.slot_size;
	uint64_t id;
	int16_t st;
	unsigned int i;

	memcpy(&id, s, 8);
	memcpy(&st, s + 10, 2);
	for (i = 0; i < NREQ && d->e[i].id != id; i++)
		;
	CHECK(i < NREQ, "response slot %u: id 0x%llx is none of ours", k,
	      (unsigned long long)id);
	CHECK(!d->e[i].answered, "id 0x%llx answered twice",
	      (unsigned long long)id);
	d->e[i].answered = 1;
	CHECK(s[8] == d->e[i].op && st == d->e[i].status,
	      "id 0x%llx: op %u status %d, want op %u status %d",
	      (unsigned long long)id, s[8], st, d->e[i].op, d->e[i].status);
	CHECK(s[9] == 0, "id 0x%llx: response padding byte 9 is 0x%02x",
	      (unsigned long long)id, s[9]);
	for (size_t b = 12; b < d->rsp_size; b++)
		CHECK(s[b] == 0,
		      "id 0x%llx: response padding byte %zu is "
		      "0x%02x",
		      (unsigned long long)id, b, s[b]);
	for (size_t b = d->rsp_size; b < slot; b++)
		CHECK(s[b] == d->orig[k][b] || s[b] == 0,
		      "slot %u: byte %zu beyond the response is 0x%02x (the "
		      "request had 0x%02x)",
		      k, b, s[b], d->orig[k][b]);
}

/* Pages of a READ: the disk's bytes in the segment, the canary around. */
static void check_pages(struct dev *d, const struct expect *e)
{
	uint64_t at = e->sector * 512;
	int moved = e->status == BLKIF_RSP_OKAY && e->op == BLKIF_OP_READ;

	unsigned int n = e->kind == K_NOSEG ? 4 : e->nseg;

	for (unsigned int i = 0; i < n; i++) {
		const unsigned char *p = page_addr(d, e->page[i]);
		size_t lo = 0, hi = 0;

		if (moved) {
			lo = (size_t)e->first[i] * 512;
			hi = ((size_t)e->last[i] + 1) * 512;
		}
		for (size_t b = 0; b < 4096; b++) {
			int want = b >= lo && b < hi
					   ? blk_pattern(SEED, at + b - lo)
					   : CANARY;

			CHECK(p[b] == want,
			      "id 0x%llx (kind %d) segment %u [%u..%u]: page "
			      "byte %zu is 0x%02x, want 0x%02x",
			      (unsigned long long)e->id, e->kind, i,
			      e->first[i], e->last[i], b, p[b], want);
		}
		at += hi - lo;
	}
}

static void round_trip(struct dev *d, unsigned int r)
{
	struct ring_blkif_rsp rsp[NREQ];
	uint32_t base = d->rf->f.req_prod_pvt, prod;
	unsigned char *s;
	unsigned int got;

	for (unsigned int i = 0; i < NREQ * MAXPG; i++)
		memset(d->pg[i].addr, CANARY, 4096);
	for (unsigned int k = 0; k < NREQ; k++) {
		struct ring_blkif_req req;
		uint32_t idx;

		build(d, r, k, &req);
		idx = hostile_ring_put(d->rf, &req);
		s = hostile_ring_slot(d->rf, idx);
		scribble(d, s, &req);
		memcpy(d->orig[k], s, d->rf->f.slot_size);
	}
	hostile_ring_push(d->bf, 0);
	/* Wait for all, then read the slots before consuming anything. */
	for (int t = 0;; t++) {
		prod = __atomic_load_n(&d->rf->f.sring->rsp_prod,
				       __ATOMIC_ACQUIRE);
		CHECK(prod - base <= NREQ,
		      "rsp_prod %u for %u requests from "
		      "%u",
		      prod, NREQ, base);
		if (prod - base == NREQ)
			break;
		CHECK(t < 20000, "round %u: %u of %u answered in 20 s", r,
		      prod - base, NREQ);
		usleep(1000);
	}
	for (unsigned int k = 0; k < NREQ; k++)
		check_slot(d, k, hostile_ring_slot(d->rf, base + k));
	got = hostile_ring_wait(d->rf, rsp, NREQ, 1000);
	CHECK(got == NREQ, "fetched %u responses", got);
	for (unsigned int k = 0; k < NREQ; k++)
		if (d->e[k].kind != K_WRITE && d->e[k].kind != K_UNKNOWN &&
		    d->e[k].kind != K_FLUSH)
			check_pages(d, &d->e[k]);
}

static void attack(unsigned int devid, enum ring_blkif_abi abi, int persistent)
{
	static struct dev d;
	struct blkfront_cfg cfg;

	memset(&d, 0, sizeof(d));
	blkfront_cfg_init(&cfg);
	cfg.abi = abi;
	cfg.persistent = persistent;
	d.abi = abi;
	d.rsp_size = abi == RING_BLKIF_ABI_X86_32
			     ? sizeof(struct ring_blkif_x86_32_response)
			     : sizeof(struct blkif_response);
	d.bf = hostile_connect(devid, &cfg);
	CHECK(blkfront_info(d.bf)->persistent == persistent, "persistent %d",
	      blkfront_info(d.bf)->persistent);
	d.rf = blkfront_ring(d.bf, 0);
	CHECK(d.rf->f.nr_ents == NREQ, "ring of %u", d.rf->f.nr_ents);
	for (unsigned int i = 0; i < NREQ * MAXPG; i++)
		hostile_page(d.bf, 0, &d.pg[i]);
	for (unsigned int i = 0; i < NREQ; i++)
		hostile_page(d.bf, 0, &d.ip[i]);
	for (unsigned int r = 0; r < ROUNDS; r++) {
		round_trip(&d, r);
		if (r == 2)
			hostile_progress(1, "during the leak checks");
	}
	/* The library never saw these responses: nothing to count there. */
	hostile_no_violations(d.bf, "info leaks");
	CHECK(blkfront_close(d.bf) == 0, "close: %s", blkfront_last_error());
	fprintf(stderr,
		"hostile guest: %u responses and their pages clean on "
		"a %s ring\n",
		ROUNDS * NREQ,
		abi == RING_BLKIF_ABI_X86_32 ? "x86_32" : "native");
}

static int hostile_main(void *arg)
{
	attack(DEV_NATIVE, RING_BLKIF_ABI_NATIVE, 1);
	attack(DEV_X86_32, RING_BLKIF_ABI_X86_32, 0);
	hostile_progress(1, "after the leak checks");
	return 0;
}

int main(void)
{
	struct hostile h;
	char img[PATH_MAX];

	hostile_start(&h, "--single", NULL);
	hostile_image(&h, "native.img", HOSTILE_DISK_BYTES, SEED, img,
		      sizeof(img));
	hostile_add(&h, DEV_NATIVE, img, NULL);
	hostile_image(&h, "x86_32.img", HOSTILE_DISK_BYTES, SEED, img,
		      sizeof(img));
	hostile_add(&h, DEV_X86_32, img, NULL);
	hostile_guest(&h, hostile_main, NULL);
	return hostile_finish(&h);
}
