/* SPDX-License-Identifier: MIT */
/*
 * blk-req-plan - libFuzzer target for blkbackd's request validation
 * (blkback/req.c): any request fields, any disk geometry and feature set,
 * any indirect page contents.
 *
 * Checks, beyond the sanitizers: a request that is not failed lies on the
 * disk and is aligned to the sector size; its segments stay inside their
 * page, add up to its length and never exceed what was advertised; a
 * failed one carries a blkif status; the response op is the request's op,
 * or the inner op for INDIRECT; planning twice gives the same plan.
 *
 *   make fuzz && build/fuzz/blk-req-plan -runs=100000
 */
#include "blkback/blkback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/blkif.h>

#define BUG(...)                                                               \
	do {                                                                   \
		fprintf(stderr, __VA_ARGS__);                                  \
		fputc('\n', stderr);                                           \
		abort();                                                       \
	} while (0)

static struct blkreq_seg segs[BLK_MAX_INDIRECT], segs2[BLK_MAX_INDIRECT];
static unsigned char ipage[BLK_PAGE];

static void take(void *dst, size_t n, const uint8_t **p, size_t *left)
{
	size_t k = n < *left ? n : *left;

	memset(dst, 0, n);
	memcpy(dst, *p, k);
	*p += k;
	*left -= k;
}

static void check(const struct ring_blkif_req *r,
		  const struct blkreq_limits *lim, const struct blkreq_plan *p)
{
	uint64_t sum = 0;

	if (p->rsp_op != (r->op == BLKIF_OP_INDIRECT ? r->indirect_op : r->op))
		BUG("response op %u for op %u/%u", p->rsp_op, r->op,
		    r->indirect_op);
	if (p->id != r->id)
		BUG("id changed");
	if (p->kind == BLKREQ_FAIL) {
		if (p->status != BLKIF_RSP_ERROR &&
		    p->status != BLKIF_RSP_EOPNOTSUPP)
			BUG("failed with status %d", p->status);
		return;
	}
	if (p->off > lim->sectors * BLK_SECTOR ||
	    p->len > lim->sectors * BLK_SECTOR - p->off)
		BUG("range %llu+%llu beyond %llu sectors",
		    (unsigned long long)p->off, (unsigned long long)p->len,
		    (unsigned long long)lim->sectors);
	if (p->kind == BLKREQ_DISCARD)
		return;
	if (p->write && lim->readonly)
		BUG("write planned on a read-only disk");
	if (p->len && ((p->off | p->len) & (lim->sector_size - 1)))
		BUG("misaligned to sector size %u", lim->sector_size);
	if (p->nr_segs > (lim->max_indirect > 11 ? lim->max_indirect : 11))
		BUG("%u segments", p->nr_segs);
	for (unsigned int i = 0; i < p->nr_segs; i++) {
		if (!segs[i].len || segs[i].len % BLK_SECTOR ||
		    segs[i].off + segs[i].len > BLK_PAGE)
			BUG("segment %u: %u+%u", i, segs[i].off, segs[i].len);
		sum += segs[i].len;
	}
	if (sum != p->len)
		BUG("segments add up to %llu, length %llu",
		    (unsigned long long)sum, (unsigned long long)p->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ring_blkif_req r;
	struct blkreq_limits lim;
	struct blkreq_plan p, p2;
	uint8_t geo[8];

	take(&r, sizeof(r), &data, &size);
	take(geo, sizeof(geo), &data, &size);
	memset(&lim, 0, sizeof(lim));
	/* Small and huge disks (a store's size fits off_t, so sectors stay
	 * below 2^54), every sector size, every feature mix. */
	lim.sectors = geo[0] & 1 ? (uint64_t)geo[1] << (geo[2] % 46)
				 : ((uint64_t)geo[1] << 8 | geo[2]);
	lim.sector_size = BLK_SECTOR << (geo[3] % 4);
	lim.max_indirect = geo[4] & 1 ? 0
				      : 12 + geo[5] % (BLK_MAX_INDIRECT - 11);
	lim.readonly = geo[6] & 1;
	lim.discard = geo[6] >> 1 & 1;
	lim.discard_secure = geo[6] >> 2 & 1;
	lim.barrier = geo[6] >> 3 & 1;
	lim.flush = geo[6] >> 4 & 1;
	take(ipage, sizeof(ipage), &data, &size);

	blkreq_plan(&r, &lim, &p, segs);
	blkreq_plan(&r, &lim, &p2, segs2);
	if (memcmp(&p, &p2, sizeof(p)))
		BUG("two plans of one request differ");
	if (p.nr_ipages) {
		if (p.kind != BLKREQ_RW || r.op != BLKIF_OP_INDIRECT ||
		    p.nr_ipages > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)
			BUG("indirect pages on a non-indirect plan");
		/* Only one page of descriptors here: enough for 256. */
		if (p.nr_ipages > 1)
			BUG("%u indirect pages for %u segments", p.nr_ipages,
			    p.nr_segs);
		blkreq_plan_indirect(ipage, &lim, &p, segs);
	}
	check(&r, &lim, &p);
	return 0;
}
