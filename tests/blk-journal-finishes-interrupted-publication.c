// SPDX-License-Identifier: MIT
/*
 * The queue journal (blkback/journal.c), at the exact instants a worker can
 * die, on a ring in plain memory:
 *  1. mid-publication: 5 requests taken (ring indexes 0..4, out of order
 *     in the slots), answers for 3 of them committed, 1 written to the ring,
 *     rsp_prod not moved. The successor writes all 3 answers (ids and ops
 *     as committed, in order), publishes rsp_prod = 3, and replays exactly
 *     the other 2, with their ring indexes and the slots they held.
 *  2. after publication, before the entries were freed: rsp_prod already 3;
 *     nothing is written twice, the 2 others are replayed.
 *  3. a request recorded but req_cons not yet moved: it is not replayed (it
 *     is fetched from the ring again).
 *  4. a journal that disagrees with the ring (rsp_prod moved by a liar, or
 *     another ring's key) is refused or reset, never believed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blkback/blkback.h"
#include "lib/check.h"

#define NSLOTS 32u

static char path[64];

static struct ring_sring *new_ring(void)
{
	struct ring_sring *s = aligned_alloc(RING_PAGE_SIZE, RING_PAGE_SIZE);

	CHECK(s, "alloc");
	memset(s, 0, RING_PAGE_SIZE);
	return s;
}

static const struct blkj_key key = {
	.domid = 1,
	.evtchn = 9,
	.abi = RING_BLKIF_ABI_NATIVE,
	.pages = 1,
	.nr_ents = NSLOTS,
	.refs = { 77 },
};

static struct ring_blkif_req req(uint64_t id, uint8_t op)
{
	struct ring_blkif_req r;

	memset(&r, 0, sizeof(r));
	r.op = op;
	r.id = id;
	r.nr_segments = 1;
	r.sector_number = id * 8;
	r.seg[0].gref = (uint32_t)(100 + id);
	r.seg[0].last_sect = 7;
	return r;
}

/*
 * The dead worker: 5 requests (ids 10..14) fetched from ring indexes 0..4
 * into slots 4,3,2,1,0; ids 12, 10, 13 answered (in that order) and
 * committed; @written of them put on the ring; published if @published.
 */
static struct ring_sring *dead_worker(unsigned int written, int published)
{
	struct ring_sring *s = new_ring();
	struct ring_blkif_back r;
	struct blkj *j;
	struct ring_blkif_rsp rsps[3] = {
		{ .id = 12, .op = BLKIF_OP_READ, .status = 0 },
		{ .id = 10, .op = BLKIF_OP_WRITE, .status = -1 },
		{ .id = 13, .op = BLKIF_OP_READ, .status = 0 },
	};
	uint32_t slots[3] = { 2, 4, 1 };
	int found;

	unlink(path);
	CHECK(blkj_open(path, &key, NSLOTS, 0, &j, &found) == 0 && !found,
	      "open fresh");
	CHECK(ring_blkif_back_attach(&r, s, 1, RING_BLKIF_ABI_NATIVE) == 0,
	      "attach");
	s->req_prod = 5;
	for (uint32_t i = 0; i < 5; i++) {
		struct ring_blkif_req q =
			req(10 + i, i & 1 ? BLKIF_OP_READ : BLKIF_OP_WRITE);

		blkj_take(j, 4 - i, i, &q);
	}
	r.b.req_cons = 5;
	blkj_cons(j, 5);
	blkj_push_begin(j, 0, rsps, slots, 3);
	for (unsigned int i = 0; i < written; i++)
		CHECK(ring_blkif_back_put_rsp(&r, rsps[i].id, rsps[i].op,
					      rsps[i].status) == 0,
		      "put");
	if (published)
		ring_back_push_rsp(&r.b);
	blkj_close(j, 0); /* killed: the file stays as it is */
	return s;
}

static void successor(struct ring_sring *s, int want_republished)
{
	struct ring_blkif_back r;
	struct ring_blkif_req out[NSLOTS];
	uint32_t idx[NSLOTS], slot[NSLOTS];
	struct blkj *j;
	int found, again, n;

	CHECK(ring_blkif_back_attach(&r, s, 1, RING_BLKIF_ABI_NATIVE) == 0,
	      "attach");
	CHECK(blkj_open(path, &key, NSLOTS, 1, &j, &found) == 0 && found,
	      "the journal of this ring was not found");
	n = blkj_recover(j, &r, out, idx, slot, NSLOTS, &again);
	CHECK(n == 2, "replayed %d, want 2", n);
	CHECK(again == want_republished, "republished %d, want %d", again,
	      want_republished);
	CHECK(s->rsp_prod == 3, "rsp_prod %u, want 3", s->rsp_prod);
	/* The answers on the ring, as committed. */
	{
		struct ring_blkif_front f;
		struct ring_blkif_rsp got[3];
		static const uint64_t ids[3] = { 12, 10, 13 };

		/* The frontend's view of this ring (init would wipe it). */
		f = (struct ring_blkif_front){
			.f = { .sring = s,
			       .nr_ents = NSLOTS,
			       .slot_size = (uint32_t)ring_blkif_slot_size(
				       RING_BLKIF_ABI_NATIVE),
			       .req_prod_pvt = 5,
			       .req_pushed = 5 },
			.abi = RING_BLKIF_ABI_NATIVE,
		};
		CHECK(ring_blkif_front_fetch_rsp(&f, got, 3) == 3, "3 answers");
		for (int i = 0; i < 3; i++)
			CHECK(got[i].id == ids[i], "answer %d id %llu", i,
			      (unsigned long long)got[i].id);
		CHECK(got[1].status == -1 && got[1].op == BLKIF_OP_WRITE,
		      "answer 1 altered");
	}
	/* Ids 11 (ring 1, slot 3) and 14 (ring 4, slot 0) are left. */
	for (int i = 0; i < n; i++) {
		CHECK(out[i].id == 11 || out[i].id == 14, "replayed id %llu",
		      (unsigned long long)out[i].id);
		CHECK(idx[i] == out[i].id - 10, "ring index %u for id %llu",
		      idx[i], (unsigned long long)out[i].id);
		CHECK(slot[i] == 4 - idx[i], "slot %u for id %llu", slot[i],
		      (unsigned long long)out[i].id);
		CHECK(out[i].seg[0].gref == 100 + out[i].id, "request altered");
	}
	CHECK(r.b.req_cons == 5 && r.b.rsp_prod_pvt == 3,
	      "resumes at req_cons %u rsp %u", r.b.req_cons, r.b.rsp_prod_pvt);
	blkj_close(j, 1);
	free(s);
}

int main(void)
{
	struct ring_sring *s;
	struct ring_blkif_back r;
	struct ring_blkif_req out[NSLOTS];
	uint32_t idx[NSLOTS], slot[NSLOTS];
	struct blkj *j;
	int found, again;

	snprintf(path, sizeof(path), "/tmp/pvback-journal.%d", (int)getpid());

	/* 1. Killed while writing answers: all of them written again. */
	successor(dead_worker(1, 0), 1);
	/* 2. Killed after publishing: nothing written twice. */
	successor(dead_worker(3, 1), 0);

	/* 3. Recorded, req_cons not moved: fetched again, not replayed. */
	s = new_ring();
	unlink(path);
	CHECK(blkj_open(path, &key, NSLOTS, 0, &j, &found) == 0, "open");
	CHECK(ring_blkif_back_attach(&r, s, 1, 0) == 0, "attach");
	s->req_prod = 2;
	{
		struct ring_blkif_req q = req(20, BLKIF_OP_READ);

		blkj_take(j, 0, 0, &q);
		q = req(21, BLKIF_OP_READ);
		blkj_take(j, 1, 1, &q);
		blkj_cons(j, 1); /* only the first was committed */
		q = req(22, BLKIF_OP_READ);
	}
	blkj_close(j, 0);
	CHECK(blkj_open(path, &key, NSLOTS, 1, &j, &found) == 0 && found,
	      "open");
	CHECK(ring_blkif_back_attach(&r, s, 1, 0) == 0, "attach");
	CHECK(blkj_recover(j, &r, out, idx, slot, NSLOTS, &again) == 1 &&
		      out[0].id == 20 && r.b.req_cons == 1,
	      "case 3: want id 20 replayed and id 21 left on the ring");
	blkj_close(j, 0);

	/* 4a. rsp_prod moved by the guest: the journal cannot be squared. */
	CHECK(blkj_open(path, &key, NSLOTS, 1, &j, &found) == 0 && found,
	      "open");
	s->rsp_prod = 2; /* 1 taken, 2 "answered"? */
	CHECK(ring_blkif_back_attach(&r, s, 1, 0) == 0, "attach");
	CHECK(blkj_recover(j, &r, out, idx, slot, NSLOTS, &again) == -EPROTO,
	      "a lying rsp_prod was believed");
	blkj_close(j, 0);
	/* 4b. Another ring (a new connection): reset, not found. */
	{
		struct blkj_key other = key;

		other.refs[0] = 78;
		CHECK(blkj_open(path, &other, NSLOTS, 1, &j, &found) == 0 &&
			      !found,
		      "another ring's journal was found");
		blkj_close(j, 1);
	}
	free(s);
	return TEST_PASS;
}
