/* SPDX-License-Identifier: MIT */
/*
 * ring-overflow-prod-detected - a frontend that publishes an impossible
 * req_prod (hostile-frontend.md class 2) is reported, and nothing is
 * consumed:
 *   - more than a ring ahead at attach: attach returns -EIO;
 *   - more requests than free slots (ring size minus the fetched but
 *     unanswered ones): fetch returns -EIO, req_cons and the caller's buffer
 *     untouched, and every later fetch and final check returns -EIO too;
 *   - req_prod moved backwards behind req_cons: -EIO;
 *   - the largest legal req_prod, also across the 2^32 index wrap: fine.
 * Both the generic fetch and the blkif fetch (all three ABIs).
 */
#include "ring/blkif.h"

#include <stdio.h>
#include <stdlib.h>

#include "lib/check.h"

static struct ring_sring *new_ring(unsigned int pages, uint32_t idx)
{
	struct ring_sring *s =
		aligned_alloc(RING_PAGE_SIZE, (size_t)pages * RING_PAGE_SIZE);

	CHECK(s, "alloc");
	memset(s, 0xa5, (size_t)pages * RING_PAGE_SIZE); /* junk requests */
	s->req_prod = s->rsp_prod = idx;
	s->req_event = s->rsp_event = idx + 1;
	return s;
}

/* Generic view, netif-tx-sized slots, starting at index @start. */
static void generic_case(uint32_t start)
{
	struct ring_sring *s = new_ring(1, start);
	struct ring_back r;
	union ring_netif_tx_req buf[512], canary;
	unsigned int n;
	int rc;

	CHECK(ring_back_attach(&r, s, 1, sizeof(union netif_tx_sring_entry)) ==
		      0,
	      "attach");
	n = r.nr_ents;

	/* Exactly a full ring is legal. */
	s->req_prod = start + n;
	rc = ring_back_fetch(&r, buf, sizeof(buf[0]), 10);
	CHECK(rc == 10, "full ring: fetched %d", rc);
	/* 10 in flight: n - 10 more may be pending; that is what is there. */
	rc = ring_back_fetch(&r, buf, sizeof(buf[0]), 512);
	CHECK(rc == (int)n - 10, "rest of full ring: %d", rc);
	CHECK(ring_back_inflight(&r) == n, "inflight %u",
	      ring_back_inflight(&r));

	/* Answer 5; the frontend may now publish 5 more, not 6. */
	memset(&canary, 0, sizeof(canary));
	for (int i = 0; i < 5; i++)
		CHECK(ring_back_put_rsp(&r, &canary, 4) == 0, "put rsp");
	ring_back_push_rsp(&r);
	s->req_prod = start + n + 6;
	memset(&canary, 0x3c, sizeof(canary));
	buf[0] = canary;
	rc = ring_back_fetch(&r, buf, sizeof(buf[0]), 512);
	CHECK(rc == -EIO, "one past the free slots: %d", rc);
	CHECK(r.req_cons == start + n, "req_cons moved to %u", r.req_cons);
	CHECK(!memcmp(&buf[0], &canary, sizeof(canary)), "buffer written");
	/* Sticky, even once the frontend "fixes" it. */
	s->req_prod = start + n + 5;
	CHECK(ring_back_fetch(&r, buf, sizeof(buf[0]), 512) == -EIO, "sticky");
	CHECK(ring_back_final_check(&r) == -EIO, "final check sticky");
	CHECK(r.req_cons == start + n, "req_cons moved");

	/* A fresh attach at the same state accepts n + 5 (5 free slots). */
	s->rsp_prod = start + 5;
	CHECK(ring_back_attach(&r, s, 1, sizeof(union netif_tx_sring_entry)) ==
		      0,
	      "reattach");
	CHECK(ring_back_fetch(&r, buf, sizeof(buf[0]), 512) == (int)n,
	      "reattach fetch");

	/* req_prod behind req_cons. */
	s->req_prod = s->rsp_prod = start;
	CHECK(ring_back_attach(&r, s, 1, sizeof(union netif_tx_sring_entry)) ==
		      0,
	      "attach");
	s->req_prod = start + 3;
	CHECK(ring_back_fetch(&r, buf, sizeof(buf[0]), 512) == 3, "3");
	s->req_prod = start + 1;
	CHECK(ring_back_fetch(&r, buf, sizeof(buf[0]), 512) == -EIO,
	      "backwards req_prod accepted");
	CHECK(r.req_cons == start + 3, "req_cons moved");

	/* At attach: more than a ring ahead of rsp_prod. */
	s->rsp_prod = start;
	s->req_prod = start + n + 1;
	CHECK(ring_back_attach(&r, s, 1, sizeof(union netif_tx_sring_entry)) ==
		      -EIO,
	      "attach accepted an overflowing ring");
	CHECK(ring_back_fetch(&r, buf, sizeof(buf[0]), 512) == -EIO,
	      "fetch after a failed attach");
	s->req_prod = start - 1; /* "behind": 2^32 - 1 ahead */
	CHECK(ring_back_attach(&r, s, 1, sizeof(union netif_tx_sring_entry)) ==
		      -EIO,
	      "attach accepted req_prod behind rsp_prod");
	free(s);
}

static void blkif_case(enum ring_blkif_abi abi, unsigned int pages)
{
	struct ring_sring *s = new_ring(pages, 0xfffffffbu);
	struct ring_blkif_back r;
	static struct ring_blkif_req dst[1024];
	unsigned int n;
	int rc;

	CHECK(ring_blkif_back_attach(&r, s, pages, abi) == 0, "attach");
	n = r.b.nr_ents;
	s->req_prod = 0xfffffffbu + n + 1;
	memset(dst, 0x77, sizeof(dst));
	rc = ring_blkif_back_fetch(&r, dst, 1024);
	CHECK(rc == -EIO, "abi %d, %u pages: n+1 requests gave %d", abi, pages,
	      rc);
	CHECK(r.b.req_cons == 0xfffffffbu, "consumed");
	CHECK(dst[0].op == 0x77 && dst[0].id == 0x7777777777777777ull,
	      "dst written");
	free(s);

	s = new_ring(pages, 0xfffffffbu);
	CHECK(ring_blkif_back_attach(&r, s, pages, abi) == 0, "attach");
	s->req_prod = 0xfffffffbu + n;
	rc = ring_blkif_back_fetch(&r, dst, 1024);
	CHECK(rc == (int)n, "a full ring gave %d", rc);
	CHECK(dst[n - 1].op == 0xa5, "junk request translated");
	free(s);
}

int main(void)
{
	generic_case(0);
	generic_case(0xffffff00u); /* crosses the 2^32 wrap */
	for (int abi = 0; abi <= RING_BLKIF_ABI_X86_64; abi++)
		for (unsigned int pages = 1; pages <= 16; pages *= 2)
			blkif_case((enum ring_blkif_abi)abi, pages);
	return TEST_PASS;
}
