/* SPDX-License-Identifier: MIT */
/*
 * ring-copy-once - requests are private copies, and translation is total
 * (hostile-frontend.md class 1, XSA-155):
 *   - rewriting the shared slot after a fetch does not change what was
 *     fetched (generic fetch and blkif fetch, every ABI);
 *   - translation of random bytes in the x86_32 layout (and the others)
 *     writes every byte of the internal request: fetching the same slots
 *     into a buffer pre-filled with 0x00 and one pre-filled with 0xff gives
 *     identical results, and the result matches an independent decode with
 *     the public header's i386 structs;
 *   - a guest flipping a slot between READ and INDIRECT while we fetch it
 *     never gets an internal request whose op and layout disagree.
 */
#include "ring/blkif.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lib/check.h"
#include "ring-abi-i386.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint8_t rnd8(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t)(rng >> 24);
}

static struct ring_sring *new_ring(unsigned int pages)
{
	struct ring_sring *s =
		aligned_alloc(RING_PAGE_SIZE, (size_t)pages * RING_PAGE_SIZE);

	CHECK(s, "alloc");
	memset(s, 0, (size_t)pages * RING_PAGE_SIZE);
	return s;
}

static void private_copy_generic(void)
{
	struct ring_sring *s = new_ring(1);
	struct ring_back r;
	struct netif_rx_request got[2];

	CHECK(ring_back_attach(&r, s, 1, sizeof(union netif_rx_sring_entry)) ==
		      0,
	      "attach");
	struct netif_rx_request *slot = (void *)s->slots;
	slot->id = 1;
	slot->gref = 100;
	s->req_prod = 1;
	CHECK(ring_back_fetch(&r, got, sizeof(got[0]), 2) == 1, "fetch");
	slot->id = 2;
	slot->gref = 200;
	CHECK(got[0].id == 1 && got[0].gref == 100,
	      "fetched request changed with the slot: id %u gref %u", got[0].id,
	      got[0].gref);
	free(s);
}

static void private_copy_blkif(enum ring_blkif_abi abi)
{
	struct ring_sring *s = new_ring(1);
	struct ring_blkif_back r;
	struct ring_blkif_req req, got;
	unsigned char *slot = s->slots;

	memset(&req, 0, sizeof(req));
	req.op = BLKIF_OP_WRITE;
	req.nr_segments = 2;
	req.handle = 51712;
	req.id = 0x1122334455667788ull;
	req.sector_number = 4096;
	req.seg[0].gref = 9;
	req.seg[0].last_sect = 7;
	req.seg[1].gref = 10;
	req.seg[1].last_sect = 3;
	ring_blkif_encode_req(slot, &req, abi);
	s->req_prod = 1;
	CHECK(ring_blkif_back_attach(&r, s, 1, abi) == 0, "attach");
	s->req_prod = 1;
	CHECK(ring_blkif_back_fetch(&r, &got, 1) == 1, "fetch");
	/* The guest rewrites the slot: a different op, count and grants. */
	memset(slot, 0xee, ring_blkif_slot_size(abi));
	slot[0] = BLKIF_OP_INDIRECT;
	CHECK(!memcmp(&got, &req, sizeof(got)),
	      "abi %d: fetched request changed with the slot (op %u nr %u)",
	      abi, got.op, got.nr_segments);
	free(s);
}

/* Independent decode of an x86_32 slot with the header's i386 structs. */
static void decode_i386(struct ring_blkif_req *e, const unsigned char *slot)
{
	struct i386_blkif_request rq;
	struct i386_blkif_request_discard d;
	struct i386_blkif_request_indirect in;

	memcpy(&rq, slot, sizeof(rq));
	memcpy(&d, slot, sizeof(d));
	memcpy(&in, slot, sizeof(in));
	memset(e, 0, sizeof(*e));
	e->op = rq.operation;
	if (rq.operation == BLKIF_OP_INDIRECT) {
		e->indirect_op = in.indirect_op;
		e->nr_segments = in.nr_segments;
		e->handle = in.handle;
		e->id = in.id;
		e->sector_number = in.sector_number;
		memcpy(e->indirect_grefs, in.indirect_grefs,
		       sizeof(in.indirect_grefs));
	} else if (rq.operation == BLKIF_OP_DISCARD) {
		e->discard_flag = d.flag;
		e->handle = d.handle;
		e->id = d.id;
		e->sector_number = d.sector_number;
		e->nr_sectors = d.nr_sectors;
	} else {
		e->nr_segments = rq.nr_segments;
		e->handle = rq.handle;
		e->id = rq.id;
		e->sector_number = rq.sector_number;
		for (int i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
			e->seg[i].gref = rq.seg[i].gref;
			e->seg[i].first_sect = rq.seg[i].first_sect;
			e->seg[i].last_sect = rq.seg[i].last_sect;
		}
	}
}

static void hostile_bytes(enum ring_blkif_abi abi)
{
	enum { PAGES = 4 };
	struct ring_sring *s = new_ring(PAGES);
	struct ring_blkif_back r;
	static struct ring_blkif_req a[512], b[512];
	unsigned int n, seen_ind = 0, seen_disc = 0;
	size_t slot = ring_blkif_slot_size(abi);

	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < PAGES * RING_PAGE_SIZE - 64; i++)
			s->slots[i] = rnd8();
		/* Make the special layouts common. */
		for (unsigned int i = 0; i < 512; i += 3)
			s->slots[(i * slot) %
				 (PAGES * RING_PAGE_SIZE - 64 - slot)] =
				(uint8_t)(i % 2 ? BLKIF_OP_INDIRECT
						: BLKIF_OP_DISCARD);
		s->req_prod = s->rsp_prod = 0;
		CHECK(ring_blkif_back_attach(&r, s, PAGES, abi) == 0, "attach");
		n = r.b.nr_ents;
		s->req_prod = n;
		memset(a, 0x00, sizeof(a));
		memset(b, 0xff, sizeof(b));
		CHECK(ring_blkif_back_fetch(&r, a, 512) == (int)n, "fetch a");
		CHECK(ring_blkif_back_attach(&r, s, PAGES, abi) == 0, "attach");
		CHECK(ring_blkif_back_fetch(&r, b, 512) == (int)n, "fetch b");
		for (unsigned int i = 0; i < n; i++) {
			struct ring_blkif_req c;

			CHECK(!memcmp(&a[i], &b[i], sizeof(a[i])),
			      "abi %d slot %u (op %u): translation left bytes "
			      "unwritten",
			      abi, i, a[i].op);
			ring_blkif_translate(&c, s->slots + i * slot, abi);
			CHECK(!memcmp(&c, &a[i], sizeof(c)),
			      "translate and fetch differ, slot %u", i);
			if (abi == RING_BLKIF_ABI_X86_32) {
				struct ring_blkif_req e;

				decode_i386(&e, s->slots + i * slot);
				CHECK(!memcmp(&e, &a[i], sizeof(e)),
				      "slot %u (op %u): differs from the i386 "
				      "header decode",
				      i, e.op);
			}
			seen_ind += a[i].op == BLKIF_OP_INDIRECT;
			seen_disc += a[i].op == BLKIF_OP_DISCARD;
		}
	}
	CHECK(seen_ind && seen_disc, "layouts not exercised");
	free(s);
}

/* ---------------------------------------------------------- the race */

static struct ring_sring *race_ring;
static atomic_int race_stop;

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void *flipper(void *arg)
{
	volatile uint8_t *op = race_ring->slots;

	(void)arg;
	while (!atomic_load_explicit(&race_stop, memory_order_relaxed)) {
		*op = BLKIF_OP_READ;
		*op = BLKIF_OP_INDIRECT;
	}
	return NULL;
}

static void flip_race(enum ring_blkif_abi abi)
{
	struct ring_blkif_back r;
	struct ring_blkif_req got;
	pthread_t t;
	unsigned int reads = 0, inds = 0;

	race_ring = new_ring(1);
	memset(race_ring->slots, 0xff, RING_PAGE_SIZE - 64);
	race_ring->slots[0] = BLKIF_OP_READ;
	CHECK(ring_blkif_back_attach(&r, race_ring, 1, abi) == 0, "attach");
	atomic_store(&race_stop, 0);
	CHECK(pthread_create(&t, NULL, flipper, NULL) == 0, "thread");
	/*
	 * A double fetch shows only when the flip lands between two reads a
	 * few instructions apart: keep at it for 300 ms.
	 */
	uint64_t end = now_ns() + 300000000ull;
	for (unsigned int i = 0; (i & 4095) || now_ns() < end; i++) {
		/* Re-offer slot 0 each time. */
		r.b.req_cons = r.b.rsp_prod_pvt = 0;
		race_ring->req_prod = 1;
		CHECK(ring_blkif_back_fetch(&r, &got, 1) == 1, "fetch");
		if (got.op == BLKIF_OP_INDIRECT) {
			inds++;
			CHECK(got.indirect_op == 0xff &&
				      got.seg[10].gref == 0 &&
				      got.nr_segments == 0xffff,
			      "op INDIRECT with a direct layout");
		} else {
			reads++;
			CHECK(got.op == BLKIF_OP_READ, "op %u", got.op);
			CHECK(got.indirect_op == 0 &&
				      got.seg[10].gref == 0xffffffffu &&
				      got.nr_segments == 0xff,
			      "op READ with an indirect layout");
		}
	}
	atomic_store(&race_stop, 1);
	pthread_join(t, NULL);
	printf("abi %d: %u READ, %u INDIRECT, all consistent\n", abi, reads,
	       inds);
	if (!reads || !inds)
		printf("note: the flipper never interleaved (one CPU?)\n");
	free(race_ring);
}

int main(void)
{
	private_copy_generic();
	for (int abi = 0; abi <= RING_BLKIF_ABI_X86_64; abi++) {
		private_copy_blkif((enum ring_blkif_abi)abi);
		hostile_bytes((enum ring_blkif_abi)abi);
		flip_race((enum ring_blkif_abi)abi);
	}
	return TEST_PASS;
}
