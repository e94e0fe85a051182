/* SPDX-License-Identifier: MIT */
/*
 * ring-no-more-responses-than-requests - the back view cannot answer a
 * request it has not fetched (hostile-frontend.md class 16: a real blkfront
 * treats "more responses than requests" as fatal):
 *   - put_rsp with nothing fetched, or after every fetched request has its
 *     response, returns -EOVERFLOW and writes nothing to the ring;
 *   - the rsp_prod published never passes req_cons, whatever the calls;
 *   - unfetch cannot take back requests that were answered;
 *   - the blkif put_rsp obeys the same rule in every ABI;
 *   - the front view, given a backend that publishes more responses than
 *     requests, reports -EIO and consumes nothing.
 */
#include "ring/blkif.h"

#include <stdio.h>
#include <stdlib.h>

#include "lib/check.h"

static struct ring_sring *new_ring(void)
{
	struct ring_sring *s = aligned_alloc(RING_PAGE_SIZE, RING_PAGE_SIZE);

	CHECK(s, "alloc");
	memset(s, 0, RING_PAGE_SIZE);
	return s;
}

static void generic(void)
{
	struct ring_sring *s = new_ring();
	unsigned char before[RING_PAGE_SIZE];
	struct netif_tx_response rsp = { .id = 1, .status = 0 };
	union ring_netif_tx_req req[8];
	struct ring_back r;

	CHECK(ring_back_attach(&r, s, 1, sizeof(union netif_tx_sring_entry)) ==
		      0,
	      "attach");
	memcpy(before, s, sizeof(before));
	CHECK(ring_back_put_rsp(&r, &rsp, sizeof(rsp)) == -EOVERFLOW,
	      "answered a request never fetched");
	CHECK(!ring_back_push_rsp(&r), "push of nothing notified");
	CHECK(!memcmp(before, s, sizeof(before)), "ring written");
	CHECK(s->rsp_prod == 0, "rsp_prod %u", s->rsp_prod);

	s->req_prod = 5; /* five published, we fetch three */
	CHECK(ring_back_fetch(&r, req, sizeof(req[0]), 3) == 3, "fetch");
	for (int i = 0; i < 3; i++)
		CHECK(ring_back_put_rsp(&r, &rsp, sizeof(rsp)) == 0, "put %d",
		      i);
	memcpy(before, s, sizeof(before));
	CHECK(ring_back_put_rsp(&r, &rsp, sizeof(rsp)) == -EOVERFLOW,
	      "4th response for 3 fetched requests");
	CHECK(!memcmp(before, s, sizeof(before)), "refused put wrote the ring");
	ring_back_push_rsp(&r);
	CHECK(s->rsp_prod == 3, "rsp_prod %u published for 3 requests",
	      s->rsp_prod);

	/* Answered requests cannot be given back. */
	CHECK(ring_back_unfetch(&r, 1) == -EINVAL, "unfetched an answered one");
	CHECK(ring_back_fetch(&r, req, sizeof(req[0]), 8) == 2, "fetch 2");
	CHECK(ring_back_unfetch(&r, 3) == -EINVAL, "unfetched 3 of 2");
	CHECK(ring_back_unfetch(&r, 2) == 0, "unfetch 2");
	CHECK(ring_back_put_rsp(&r, &rsp, sizeof(rsp)) == -EOVERFLOW,
	      "answered an unfetched request");
	CHECK(ring_back_fetch(&r, req, sizeof(req[0]), 8) == 2, "refetch");
	CHECK(ring_back_put_rsp(&r, &rsp, sizeof(rsp)) == 0, "put");
	CHECK(ring_back_put_rsp(&r, &rsp, sizeof(rsp)) == 0, "put");
	CHECK(ring_back_put_rsp(&r, &rsp, sizeof(rsp)) == -EOVERFLOW, "6th");
	ring_back_push_rsp(&r);
	CHECK(s->rsp_prod == 5 && s->rsp_prod == r.req_cons, "rsp_prod %u",
	      s->rsp_prod);
	free(s);
}

static void blkif(enum ring_blkif_abi abi)
{
	struct ring_sring *s = new_ring();
	struct ring_blkif_back r;
	struct ring_blkif_req req[4];

	CHECK(ring_blkif_back_attach(&r, s, 1, abi) == 0, "attach");
	CHECK(ring_blkif_back_put_rsp(&r, 1, BLKIF_OP_READ, 0) == -EOVERFLOW,
	      "abi %d: response with no request", abi);
	s->req_prod = 2;
	CHECK(ring_blkif_back_fetch(&r, req, 4) == 2, "fetch");
	CHECK(ring_blkif_back_put_rsp(&r, 1, BLKIF_OP_READ, 0) == 0, "put");
	CHECK(ring_blkif_back_put_rsp(&r, 2, BLKIF_OP_READ, 0) == 0, "put");
	CHECK(ring_blkif_back_put_rsp(&r, 3, BLKIF_OP_READ, 0) == -EOVERFLOW,
	      "abi %d: 3 responses for 2 requests", abi);
	ring_back_push_rsp(&r.b);
	CHECK(s->rsp_prod == 2, "rsp_prod %u", s->rsp_prod);
	free(s);
}

static void front_sees_too_many(void)
{
	struct ring_sring *s = new_ring();
	struct ring_blkif_front f;
	struct ring_blkif_req req;
	struct ring_blkif_rsp rsp[8];

	memset(&req, 0, sizeof(req));
	CHECK(ring_blkif_front_init(&f, s, 1, RING_BLKIF_ABI_X86_32) == 0,
	      "init");
	CHECK(ring_blkif_front_put_req(&f, &req) == 0, "put");
	CHECK(ring_blkif_front_put_req(&f, &req) == 0, "put");
	ring_front_push_req(&f.f);
	s->rsp_prod = 3; /* a hostile backend answers 3 of 2 */
	CHECK(ring_blkif_front_fetch_rsp(&f, rsp, 8) == -EIO,
	      "front accepted more responses than requests");
	CHECK(f.f.rsp_cons == 0, "consumed");
	s->rsp_prod = 2;
	CHECK(ring_blkif_front_fetch_rsp(&f, rsp, 8) == -EIO, "not sticky");
	free(s);
}

int main(void)
{
	generic();
	for (int abi = 0; abi <= RING_BLKIF_ABI_X86_64; abi++)
		blkif((enum ring_blkif_abi)abi);
	front_sees_too_many();
	return TEST_PASS;
}
