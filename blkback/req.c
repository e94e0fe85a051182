// SPDX-License-Identifier: MIT
/*
 * req.c - blkif request validation: the private copy of a ring request
 * (struct ring_blkif_req, already translated from the guest's ABI) becomes
 * a plan (what to do, on which byte range, with which guest segments) or
 * the status to answer it with. Pure functions, no state, no I/O: the queue
 * (queue.c) carries the plan out. Everything here is guest input; every
 * field is checked before it is used and nothing is read twice.
 *
 * Rules (spec/blkif-xenbus.md B.2, hostile classes 3 to 5): sector fields
 * are 512-byte units whatever sector-size says; sector-size constrains the
 * alignment of the request's offset and length only; direct READ/WRITE
 * carry 1..11 segments, FLUSH/BARRIER 0..11; each segment has
 * first_sect <= last_sect <= 7; INDIRECT wraps READ or WRITE only, with
 * 1..max_indirect segments; the response carries the request's op, the
 * inner op for INDIRECT.
 */
#include "blkback/blkback.h"

#include <string.h>

#include <xen/io/blkif.h>

static void plan_fail(struct blkreq_plan *p, int16_t status,
		      enum blkreq_err err)
{
	p->kind = BLKREQ_FAIL;
	p->status = status;
	p->err = err;
	p->nr_segs = 0;
	p->nr_ipages = 0;
}

/* One segment descriptor into @s; 0, or -1 if its bounds are impossible. */
static int seg_check(uint32_t gref, uint8_t first, uint8_t last,
		     struct blkreq_seg *s)
{
	if (first > last || last >= BLK_PAGE / BLK_SECTOR)
		return -1;
	s->gref = gref;
	s->off = (uint16_t)(first * BLK_SECTOR);
	s->len = (uint16_t)((last - first + 1) * BLK_SECTOR);
	return 0;
}

/*
 * The byte range [@sector * 512, + @len) must lie on the disk and be
 * aligned to the sector size. Sets p->off; fails the plan otherwise.
 */
static void plan_range(struct blkreq_plan *p, const struct blkreq_limits *lim,
		       uint64_t sector, uint64_t len)
{
	uint64_t nsec = len / BLK_SECTOR;

	/* Written so that nothing overflows, whatever the guest sent. */
	if (sector > lim->sectors || nsec > lim->sectors - sector) {
		plan_fail(p, BLKIF_RSP_ERROR, BLKREQ_E_RANGE);
		return;
	}
	p->off = sector * BLK_SECTOR;
	p->len = len;
	if (lim->sector_size > BLK_SECTOR &&
	    ((p->off | len) & (lim->sector_size - 1))) {
		plan_fail(p, BLKIF_RSP_ERROR, BLKREQ_E_RANGE);
		return;
	}
}

/* Direct segments of a READ/WRITE/FLUSH/BARRIER; 0 or -1 (plan failed). */
static int plan_direct_segs(const struct ring_blkif_req *req,
			    struct blkreq_plan *p, struct blkreq_seg *segs,
			    uint64_t *len)
{
	uint64_t total = 0;

	for (unsigned int i = 0; i < p->nr_segs; i++) {
		const struct ring_blkif_seg *g = &req->seg[i];

		if (seg_check(g->gref, g->first_sect, g->last_sect, &segs[i])) {
			plan_fail(p, BLKIF_RSP_ERROR, BLKREQ_E_SEGS);
			return -1;
		}
		total += segs[i].len;
	}
	*len = total;
	return 0;
}

void blkreq_plan(const struct ring_blkif_req *req,
		 const struct blkreq_limits *lim, struct blkreq_plan *p,
		 struct blkreq_seg *segs)
{
	unsigned int nseg;
	uint64_t len = 0;

	memset(p, 0, sizeof(*p));
	p->id = req->id;
	p->rsp_op = req->op;

	switch (req->op) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		p->kind = BLKREQ_RW;
		p->write = req->op == BLKIF_OP_WRITE;
		nseg = req->nr_segments;
		if (nseg < 1 || nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST)
			return plan_fail(p, BLKIF_RSP_ERROR, BLKREQ_E_SEGS);
		break;
	case BLKIF_OP_WRITE_BARRIER:
	case BLKIF_OP_FLUSH_DISKCACHE:
		/*
		 * Linux blkfront sends its REQ_PREFLUSH/FUA writes as this op
		 * with the data segments attached; 0 segments is a pure flush.
		 */
		if (req->op == BLKIF_OP_WRITE_BARRIER ? !lim->barrier
						      : !lim->flush)
			return plan_fail(p, BLKIF_RSP_EOPNOTSUPP, BLKREQ_E_OP);
		/* Linux blkback treats both as writes: refused read-only. */
		if (lim->readonly)
			return plan_fail(p, BLKIF_RSP_ERROR, BLKREQ_E_RO);
		p->kind = req->op == BLKIF_OP_WRITE_BARRIER ? BLKREQ_BARRIER
							    : BLKREQ_FLUSH;
		nseg = req->nr_segments;
		if (nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST)
			return plan_fail(p, BLKIF_RSP_ERROR, BLKREQ_E_SEGS);
		p->write = nseg > 0;
		break;
	case BLKIF_OP_DISCARD:
		/* Not advertised (read-only disks never advertise it): an
		 * unsupported op, whatever else is wrong with it. */
		if (!lim->discard)
			return plan_fail(p, BLKIF_RSP_EOPNOTSUPP, BLKREQ_E_OP);
		if (lim->readonly)
			return plan_fail(p, BLKIF_RSP_ERROR, BLKREQ_E_RO);
		p->secure = (req->discard_flag & BLKIF_DISCARD_SECURE) != 0;
		if (p->secure && !lim->discard_secure)
			return plan_fail(p, BLKIF_RSP_EOPNOTSUPP, BLKREQ_E_OP);
		p->kind = BLKREQ_DISCARD;
		if (req->nr_sectors > UINT64_MAX / BLK_SECTOR)
			return plan_fail(p, BLKIF_RSP_ERROR, BLKREQ_E_RANGE);
		/* Discard aligns to discard-granularity, not sector-size:
		 * the store rounds inward; only the range is checked. */
		if (req->sector_number > lim->sectors ||
		    req->nr_sectors > lim->sectors - req->sector_number)
			return plan_fail(p, BLKIF_RSP_ERROR, BLKREQ_E_RANGE);
		p->off = req->sector_number * BLK_SECTOR;
		p->len = req->nr_sectors * BLK_SECTOR;
		return;
	case BLKIF_OP_INDIRECT:
		/* The response carries the inner op, whatever it is. */
		p->rsp_op = req->indirect_op;
		if (!lim->max_indirect)
			return plan_fail(p, BLKIF_RSP_EOPNOTSUPP, BLKREQ_E_OP);
		if (req->indirect_op != BLKIF_OP_READ &&
		    req->indirect_op != BLKIF_OP_WRITE)
			return plan_fail(p, BLKIF_RSP_ERROR, BLKREQ_E_OP);
		p->kind = BLKREQ_RW;
		p->write = req->indirect_op == BLKIF_OP_WRITE;
		if (p->write && lim->readonly)
			return plan_fail(p, BLKIF_RSP_ERROR, BLKREQ_E_RO);
		nseg = req->nr_segments;
		if (nseg < 1 || nseg > lim->max_indirect)
			return plan_fail(p, BLKIF_RSP_ERROR, BLKREQ_E_SEGS);
		p->nr_segs = nseg;
		p->nr_ipages =
			(nseg + BLK_SEGS_PER_IPAGE - 1) / BLK_SEGS_PER_IPAGE;
		/* Checked now, so the second pass needs only the length. */
		if (req->sector_number > lim->sectors)
			return plan_fail(p, BLKIF_RSP_ERROR, BLKREQ_E_RANGE);
		p->off = req->sector_number * BLK_SECTOR;
		return;
	default:
		/* Reserved op 4, and 7..255. */
		return plan_fail(p, BLKIF_RSP_EOPNOTSUPP, BLKREQ_E_OP);
	}

	if (p->write && lim->readonly)
		return plan_fail(p, BLKIF_RSP_ERROR, BLKREQ_E_RO);
	p->nr_segs = nseg;
	if (plan_direct_segs(req, p, segs, &len))
		return;
	if (nseg == 0) {
		p->off = 0;
		p->len = 0;
		return;
	}
	plan_range(p, lim, req->sector_number, len);
}

void blkreq_plan_indirect(const void *ipages, const struct blkreq_limits *lim,
			  struct blkreq_plan *p, struct blkreq_seg *segs)
{
	const unsigned char *src = ipages;
	uint64_t len = 0;

	for (unsigned int i = 0; i < p->nr_segs; i++) {
		struct blkif_request_segment d;

		/* @ipages is our private copy: read each descriptor once. */
		memcpy(&d, src + (size_t)i * sizeof(d), sizeof(d));
		if (seg_check(d.gref, d.first_sect, d.last_sect, &segs[i]))
			return plan_fail(p, BLKIF_RSP_ERROR, BLKREQ_E_SEGS);
		len += segs[i].len;
	}
	plan_range(p, lim, p->off / BLK_SECTOR, len);
}

_Static_assert(sizeof(struct blkif_request_segment) * BLK_SEGS_PER_IPAGE ==
		       BLK_PAGE,
	       "indirect page holds 512 segment descriptors");
