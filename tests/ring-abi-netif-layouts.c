/* SPDX-License-Identifier: MIT */
/*
 * ring-abi-netif-layouts - the netif TX, RX and control rings as ring/ring.h
 * types them match the public io/netif.h:
 *   - the shared header (indexes, slots at 64) of all three srings;
 *   - slot sizes: our request/response types fit the header's ring entry,
 *     and attach strides by exactly that entry;
 *   - the messages are ABI-neutral (no member aligned above 4), so one
 *     layout serves 32- and 64-bit guests;
 *   - a request written through our front view sits where the header's
 *     RING_GET_REQUEST finds it, and a response written through our back
 *     view where RING_GET_RESPONSE finds it, at a wrapped index.
 */
#include "ring/ring.h"

#include <stdio.h>
#include <stdlib.h>

#include "lib/check.h"

static void *pages_alloc(unsigned int pages)
{
	void *p = aligned_alloc(RING_PAGE_SIZE, (size_t)pages * RING_PAGE_SIZE);

	CHECK(p, "aligned_alloc");
	return p;
}

#define SAME_HDR(sring_t)                                                      \
	do {                                                                   \
		CHECK(offsetof(sring_t, req_prod) ==                           \
				      offsetof(struct ring_sring, req_prod) && \
			      offsetof(sring_t, req_event) ==                  \
				      offsetof(struct ring_sring,              \
					       req_event) &&                   \
			      offsetof(sring_t, rsp_prod) ==                   \
				      offsetof(struct ring_sring, rsp_prod) && \
			      offsetof(sring_t, rsp_event) ==                  \
				      offsetof(struct ring_sring,              \
					       rsp_event) &&                   \
			      offsetof(sring_t, ring) ==                       \
				      offsetof(struct ring_sring, slots),      \
		      "%s header differs", #sring_t);                          \
		CHECK(sizeof(((sring_t *)0)->req_prod) == sizeof(uint32_t),    \
		      "%s index size", #sring_t);                              \
	} while (0)

static void check_headers(void)
{
	SAME_HDR(struct netif_tx_sring);
	SAME_HDR(struct netif_rx_sring);
	SAME_HDR(struct xen_netif_ctrl_sring);
}

static void check_sizes(void)
{
	/* Requests and responses fit the header's slot. */
	CHECK(sizeof(union ring_netif_tx_req) ==
		      sizeof(struct netif_tx_request),
	      "tx request slot copy %zu", sizeof(union ring_netif_tx_req));
	CHECK(sizeof(struct netif_extra_info) <=
		      sizeof(union netif_tx_sring_entry),
	      "extra info %zu", sizeof(struct netif_extra_info));
	CHECK(sizeof(union ring_netif_rx_rsp) ==
		      sizeof(struct netif_rx_response),
	      "rx response slot write %zu", sizeof(union ring_netif_rx_rsp));
	CHECK(sizeof(struct netif_extra_info) <=
		      sizeof(union netif_rx_sring_entry),
	      "extra info in rx slot");

	/* ABI-neutral: nothing aligned above 4, so i386 == x86_64 layout. */
	CHECK(_Alignof(union netif_tx_sring_entry) <= 4, "tx align");
	CHECK(_Alignof(union netif_rx_sring_entry) <= 4, "rx align");
	CHECK(_Alignof(union xen_netif_ctrl_sring_entry) <= 4, "ctrl align");
	CHECK(_Alignof(struct netif_extra_info) <= 4, "extra align");

	/* Field offsets our netback relies on, from the header. */
	CHECK(offsetof(union ring_netif_tx_req, req.gref) ==
			      offsetof(struct netif_tx_request, gref) &&
		      offsetof(union ring_netif_tx_req, extra.type) ==
			      offsetof(struct netif_extra_info, type),
	      "tx union members not at 0");

	/* Cross-check of the ground truth: spec/netif-xenbus.md. */
	CHECK(sizeof(struct netif_tx_request) == 12 &&
		      sizeof(struct netif_rx_request) == 8 &&
		      sizeof(struct netif_rx_response) == 8 &&
		      sizeof(struct netif_tx_response) == 4 &&
		      sizeof(struct netif_extra_info) == 8 &&
		      sizeof(struct xen_netif_ctrl_request) == 16 &&
		      sizeof(struct xen_netif_ctrl_response) == 12,
	      "netif message sizes");
}

static void check_tx(void)
{
	struct ring_netif_tx_front f;
	struct ring_netif_tx_back b;
	netif_tx_back_ring_t pub;
	union ring_netif_tx_req req, got;
	struct netif_tx_response rsp;
	void *ring = pages_alloc(1);
	const uint32_t start = 0xfffffff0u; /* wraps the 32-bit indexes */

	CHECK(ring_netif_tx_front_init(&f, ring, 1) == 0, "front init");
	CHECK(f.f.nr_ents == __CONST_RING_SIZE(netif_tx, RING_PAGE_SIZE),
	      "tx ring %u", f.f.nr_ents);
	/* Pretend 0xfffffff0 + 3 requests went by and were answered. */
	f.f.req_prod_pvt = f.f.rsp_cons = f.f.req_pushed = start + 3;
	f.f.sring->req_prod = f.f.sring->rsp_prod = start + 3;

	memset(&req, 0, sizeof(req));
	req.req.gref = 0x11223344;
	req.req.offset = 0x5566;
	req.req.flags = NETTXF_more_data;
	req.req.id = 0x7788;
	req.req.size = 0x99aa;
	CHECK(ring_netif_tx_front_put_req(&f, &req) == 0, "put");
	ring_front_push_req(&f.f);

	BACK_RING_ATTACH(&pub, (netif_tx_sring_t *)ring, start + 3,
			 RING_PAGE_SIZE);
	CHECK(!memcmp(RING_GET_REQUEST(&pub, start + 3), &req.req,
		      sizeof(req.req)),
	      "request not where RING_GET_REQUEST looks");

	CHECK(ring_netif_tx_back_attach(&b, ring, 1) == 0, "back attach");
	CHECK(b.b.slot_size == sizeof(union netif_tx_sring_entry) &&
		      b.b.nr_ents == pub.nr_ents,
	      "back slot %u x %u", b.b.slot_size, b.b.nr_ents);
	CHECK(ring_netif_tx_back_fetch(&b, &got, 1) == 1, "fetch");
	CHECK(!memcmp(&got, &req, sizeof(got)), "fetched differs");
	rsp.id = 0x7788;
	rsp.status = NETIF_RSP_OKAY;
	CHECK(ring_netif_tx_back_put_rsp(&b, &rsp) == 0, "put rsp");
	ring_back_push_rsp(&b.b);
	CHECK(!memcmp(RING_GET_RESPONSE(&pub, start + 3), &rsp, sizeof(rsp)),
	      "response not where RING_GET_RESPONSE looks");
	CHECK(((struct ring_sring *)ring)->rsp_prod == start + 4, "rsp_prod");
	free(ring);
}

static void check_rx(void)
{
	struct ring_netif_rx_front f;
	struct ring_netif_rx_back b;
	netif_rx_back_ring_t pub;
	struct netif_rx_request req, got;
	union ring_netif_rx_rsp rsp, back;
	void *ring = pages_alloc(1);

	CHECK(ring_netif_rx_front_init(&f, ring, 1) == 0, "front init");
	CHECK(f.f.nr_ents == __CONST_RING_SIZE(netif_rx, RING_PAGE_SIZE),
	      "rx ring %u", f.f.nr_ents);
	BACK_RING_INIT(&pub, (netif_rx_sring_t *)ring, RING_PAGE_SIZE);
	for (uint16_t i = 0; i < 300; i++) { /* wraps the 256 slots */
		req.id = i;
		req.pad = 0;
		req.gref = 1000u + i;
		CHECK(ring_netif_rx_front_put_req(&f, &req) == 0, "put %u", i);
		ring_front_push_req(&f.f);
		CHECK(!memcmp(RING_GET_REQUEST(&pub, i), &req, sizeof(req)),
		      "rx request %u misplaced", i);
		if (i == 0)
			CHECK(ring_netif_rx_back_attach(&b, ring, 1) == 0,
			      "back attach");
		CHECK(ring_netif_rx_back_fetch(&b, &got, 1) == 1, "fetch %u",
		      i);
		CHECK(got.gref == 1000u + i, "got gref %u", got.gref);
		memset(&rsp, 0, sizeof(rsp));
		rsp.rsp.id = i;
		rsp.rsp.offset = 0;
		rsp.rsp.flags = NETRXF_data_validated;
		rsp.rsp.status = 60;
		CHECK(ring_netif_rx_back_put_rsp(&b, &rsp) == 0, "put rsp");
		ring_back_push_rsp(&b.b);
		/* RX responses sit at their request's index. */
		CHECK(!memcmp(RING_GET_RESPONSE(&pub, i), &rsp, sizeof(rsp)),
		      "rx response %u misplaced", i);
		CHECK(ring_netif_rx_front_fetch_rsp(&f, &back, 1) == 1,
		      "front fetch %u", i);
		CHECK(back.rsp.id == i && back.rsp.status == 60, "rsp %u", i);
	}
	free(ring);
}

static void check_ctrl(void)
{
	struct ring_netif_ctrl_front f;
	struct ring_netif_ctrl_back b;
	xen_netif_ctrl_back_ring_t pub;
	struct xen_netif_ctrl_request req, got;
	struct xen_netif_ctrl_response rsp;
	void *ring = pages_alloc(1);

	CHECK(ring_netif_ctrl_front_init(&f, ring, 1) == 0, "front init");
	CHECK(f.f.nr_ents == __CONST_RING_SIZE(xen_netif_ctrl, RING_PAGE_SIZE),
	      "ctrl ring %u", f.f.nr_ents);
	req.id = 7;
	req.type = XEN_NETIF_CTRL_TYPE_SET_HASH_KEY;
	req.data[0] = 1;
	req.data[1] = 40;
	req.data[2] = 3;
	CHECK(ring_netif_ctrl_front_put_req(&f, &req) == 0, "put");
	ring_front_push_req(&f.f);
	BACK_RING_INIT(&pub, (xen_netif_ctrl_sring_t *)ring, RING_PAGE_SIZE);
	CHECK(!memcmp(RING_GET_REQUEST(&pub, 0), &req, sizeof(req)),
	      "ctrl request misplaced");
	CHECK(ring_netif_ctrl_back_attach(&b, ring, 1) == 0, "attach");
	CHECK(ring_netif_ctrl_back_fetch(&b, &got, 4) == 1, "fetch");
	CHECK(got.data[1] == 40, "data");
	rsp.id = 7;
	rsp.type = req.type;
	rsp.status = XEN_NETIF_CTRL_STATUS_SUCCESS;
	rsp.data = 0;
	CHECK(ring_netif_ctrl_back_put_rsp(&b, &rsp) == 0, "put rsp");
	CHECK(!memcmp(RING_GET_RESPONSE(&pub, 0), &rsp, sizeof(rsp)),
	      "ctrl response misplaced");
	free(ring);
}

int main(void)
{
	check_headers();
	check_sizes();
	check_tx();
	check_rx();
	check_ctrl();
	return TEST_PASS;
}
