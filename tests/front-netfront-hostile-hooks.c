// SPDX-License-Identifier: MIT
/*
 * The netfront library's hooks for hostile frontends do what they say, as
 * seen from the backend's side of the rings (spec/hostile-frontend.md
 * classes 6 to 9, 12, 13 will be built on them):
 *
 *   - rx_none posts no RX buffer at all, netfront_rx_set_fill(1) exactly
 *     one;
 *   - netfront_tx_put_raw puts the slots byte for byte as given (a chain of
 *     20 slots, an offset + size past the page, extras of type >= MAX and
 *     a GSO extra of size 0), refuses more slots than the ring has free,
 *     and hands the backend's answers to them back through
 *     netfront_tx_raw_responses without counting a violation;
 *   - the scratch page is readable by the backend through its grant;
 *   - netfront_notify reaches the backend, a thousand times in a row;
 *   - a producer index written through netfront_ring is what the backend
 *     reads, so an impossible one stops its ring there.
 *
 * The backend is in-test code: probe keys, rings mapped, slots compared.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xen/io/xenbus.h>

#include "common/xen.h"
#include "front/netfront.h"
#include "lib/check.h"
#include "lib/simenv.h"
#include "ring/ring.h"

#define GUEST 1
#define DEVID 0
#define NRAW 22
#define STORM 1000

static int to_guest[2], to_be[2];

static void put_bytes(int fd, const void *p, size_t n)
{
	CHECK(write(fd, p, n) == (ssize_t)n, "pipe write");
}

static void get_bytes(int fd, void *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, (char *)p + got, n - got);
		CHECK(r > 0, "the peer is gone");
		got += (size_t)r;
	}
}

static void step(int fd, char c)
{
	put_bytes(fd, &c, 1);
}

static void expect_step(int fd, char want)
{
	char c;

	get_bytes(fd, &c, 1);
	CHECK(c == want, "step '%c', not '%c'", c, want);
}

static void scratch_pattern(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 13 + 5);
}

/* --------------------------------------------------------------- guest */

/* A packet no honest frontend sends: chain of 20, bad offsets, extras. */
static void raw_slots(union ring_netif_tx_req *s, uint32_t gref)
{
	unsigned int i;

	memset(s, 0, NRAW * sizeof(*s));
	s[0].req.gref = gref;
	s[0].req.offset = 4090;
	s[0].req.size = 5000;
	s[0].req.id = 1000;
	s[0].req.flags = NETTXF_more_data | NETTXF_extra_info |
			 NETTXF_csum_blank;
	s[1].extra.type = XEN_NETIF_EXTRA_TYPE_MAX;
	s[1].extra.flags = XEN_NETIF_EXTRA_FLAG_MORE;
	s[2].extra.type = XEN_NETIF_EXTRA_TYPE_GSO;
	s[2].extra.u.gso.type = 9;
	s[2].extra.u.gso.size = 0;
	for (i = 3; i < NRAW; i++) {
		s[i].req.gref = gref;
		s[i].req.id = (uint16_t)(1000 + i);
		s[i].req.flags = i + 1 < NRAW ? NETTXF_more_data : 0;
	}
}

static int guest(void *arg)
{
	static union ring_netif_tx_req big[300];
	union ring_netif_tx_req s[NRAW];
	struct netif_tx_response rsp[64];
	struct netfront_stats st;
	struct netfront_cfg cfg;
	struct netfront *nf;
	struct ring_front *f;
	uint32_t gref;
	uint8_t *scratch;
	int rc, n, i;

	close(to_guest[1]);
	close(to_be[0]);
	netfront_cfg_init(&cfg);
	cfg.devid = DEVID;
	cfg.rx_none = true;
	rc = netfront_connect(&nf, &cfg);
	CHECK(rc == 0, "connect: %d (%s)", rc, netfront_last_error());
	step(to_be[1], 'A'); /* connected, no RX buffer posted */

	expect_step(to_guest[0], 'a');
	CHECK(netfront_rx_set_fill(nf, 0, 1) == 1, "fill 1");
	step(to_be[1], 'B');

	expect_step(to_guest[0], 'b');
	scratch = netfront_tx_scratch(nf, 0, &gref);
	CHECK(scratch, "scratch page");
	scratch_pattern(scratch, 4096);
	CHECK(netfront_tx_put_raw(nf, 0, big, 300, false) == -ENOSPC,
	      "300 slots on a ring of 256");
	raw_slots(s, gref);
	CHECK(netfront_tx_put_raw(nf, 0, s, NRAW, false) == 0, "put raw: %s",
	      netfront_last_error());
	step(to_be[1], 'C');
	put_bytes(to_be[1], s, sizeof(s));

	expect_step(to_guest[0], 'c'); /* the backend answered them */
	CHECK(netfront_poll(nf, 0, NULL, NULL, 0) == 0, "poll");
	n = netfront_tx_raw_responses(nf, 0, rsp, 64);
	CHECK(n == NRAW, "%d raw responses", n);
	for (i = 0; i < NRAW; i++) {
		bool extra = i == 1 || i == 2;

		CHECK(rsp[i].status ==
			      (extra ? NETIF_RSP_NULL : NETIF_RSP_ERROR),
		      "response %d: status %d", i, rsp[i].status);
		CHECK(extra || rsp[i].id == s[i].req.id, "response %d: id %u",
		      i, rsp[i].id);
	}
	netfront_stats(nf, 0, &st);
	CHECK(st.raw_rsp == NRAW && st.violations == 0,
	      "%lu raw, %lu violations", (unsigned long)st.raw_rsp,
	      (unsigned long)st.violations);
	step(to_be[1], 'D');

	expect_step(to_guest[0], 'd'); /* the backend drained its events */
	for (i = 0; i < STORM; i++)
		CHECK(netfront_notify(nf, 0,
				      i & 1 ? NETFRONT_RX : NETFRONT_TX) == 0,
		      "notify %d", i);
	step(to_be[1], 'E');

	expect_step(to_guest[0], 'e');
	f = netfront_ring(nf, 0, NETFRONT_TX);
	__atomic_store_n(&f->sring->req_prod, f->req_prod_pvt + 1000,
			 __ATOMIC_RELEASE);
	f = netfront_ring(nf, 0, NETFRONT_RX);
	__atomic_store_n(&f->sring->req_prod, f->req_prod_pvt + 300,
			 __ATOMIC_RELEASE);
	CHECK(netfront_notify(nf, 0, NETFRONT_TX) == 0, "notify");
	step(to_be[1], 'F');

	expect_step(to_guest[0], 'f');
	CHECK(netfront_violations(nf, NULL, 0) == 0, "violations");
	rc = netfront_close(nf);
	CHECK(rc == 0, "close: %d (%s)", rc, netfront_last_error());
	return 0;
}

/* ------------------------------------------------------------- backend */

struct hb {
	struct xen_store *xs;
	struct xen_gnttab *xg;
	struct xen_evtchn *xe;
	char be[96], fe[96];
	void *tx_ring, *rx_ring;
	struct ring_netif_tx_back tx;
	struct ring_netif_rx_back rx;
	int port;
};

static long hb_fe_long(struct hb *h, const char *key)
{
	unsigned long v;
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", h->fe, key);
	if (xen_store_read_uint(h->xs, XEN_TXN_NONE, p, 0xFFFFFFFFUL, &v))
		return -1;
	return (long)v;
}

static void hb_write(struct hb *h, const char *key, const char *val)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", h->be, key);
	CHECK(xen_store_write(h->xs, XEN_TXN_NONE, p, val) == 0, "write %s", p);
}

static void hb_wait_fe(struct hb *h, long state)
{
	for (int i = 0; i < 1000; i++) {
		if (hb_fe_long(h, "state") == state)
			return;
		usleep(10000);
	}
	CHECK(0, "the frontend never reached state %ld", state);
}

static void hb_connect(struct hb *h)
{
	long tref = hb_fe_long(h, "tx-ring-ref");
	long rref = hb_fe_long(h, "rx-ring-ref");
	long evt = hb_fe_long(h, "event-channel");
	uint32_t ref;

	CHECK(tref >= 0 && rref >= 0 && evt >= 0, "frontend keys");
	ref = (uint32_t)tref;
	CHECK(xen_gnttab_map(h->xg, GUEST, 1, &ref, 1, &h->tx_ring) == 0,
	      "map TX ring");
	ref = (uint32_t)rref;
	CHECK(xen_gnttab_map(h->xg, GUEST, 1, &ref, 1, &h->rx_ring) == 0,
	      "map RX ring");
	CHECK(ring_netif_tx_back_attach(&h->tx, h->tx_ring, 1) == 0 &&
		      ring_netif_rx_back_attach(&h->rx, h->rx_ring, 1) == 0,
	      "attach");
	h->port = xen_evtchn_bind(h->xe, GUEST, (uint32_t)evt);
	CHECK(h->port >= 0, "bind");
	hb_write(h, "hotplug-status", "connected");
	hb_write(h, "state", "4");
}

/* Take every pending event; 1 if there was one within @timeout_ms. */
static int hb_events(struct hb *h, int timeout_ms)
{
	struct pollfd pfd = { .fd = xen_evtchn_fd(h->xe), .events = POLLIN };
	int seen = 0, port;

	while (poll(&pfd, 1, seen ? 0 : timeout_ms) > 0) {
		port = xen_evtchn_pending(h->xe);
		CHECK(port == h->port, "event on port %d", port);
		xen_evtchn_unmask(h->xe, (uint32_t)port);
		seen = 1;
	}
	return seen;
}

static void hb_raw(struct hb *h, const union ring_netif_tx_req *want)
{
	union ring_netif_tx_req got[NRAW + 1];
	uint8_t data[4096], pat[4096];
	struct xen_gcopy seg;
	int n, i;

	n = ring_netif_tx_back_fetch(&h->tx, got, NRAW + 1);
	CHECK(n == NRAW, "%d slots on the ring", n);
	for (i = 0; i < NRAW; i++)
		CHECK(!memcmp(&got[i], &want[i], sizeof(got[i])),
		      "slot %d differs", i);
	/* The scratch page is the backend's to read, whole. */
	xen_gcopy_from_guest(&seg, GUEST, got[0].req.gref, 0, data,
			     sizeof(data));
	CHECK(xen_gcopy_run(h->xg, &seg, 1) == 0 && seg.status == 0,
	      "copy from the scratch page: %s", xen_gntst_name(seg.status));
	scratch_pattern(pat, sizeof(pat));
	CHECK(!memcmp(data, pat, sizeof(pat)), "scratch page content");
	/* As Linux netback's xenvif_tx_err: ERROR per slot, NULL per extra. */
	for (i = 0; i < NRAW; i++) {
		struct netif_tx_response r = { .status = NETIF_RSP_NULL };

		if (i != 1 && i != 2) {
			r.id = got[i].req.id;
			r.status = NETIF_RSP_ERROR;
		}
		CHECK(ring_netif_tx_back_put_rsp(&h->tx, &r) == 0, "put");
	}
	if (ring_back_push_rsp(&h->tx.b))
		CHECK(xen_evtchn_notify(h->xe, (uint32_t)h->port) == 0,
		      "notify");
}

int main(void)
{
	union ring_netif_tx_req want[NRAW];
	struct netif_rx_request rq[4];
	struct simenv env;
	struct hb h = { 0 };
	pid_t g;

	CHECK(pipe(to_guest) == 0 && pipe(to_be) == 0, "pipes");
	CHECK(simenv_up(&env, 1) == 0, "xensim up");
	simenv_become(&env, 0);
	CHECK(simenv_xensim(&env, "device-add", "vif %u %u", GUEST, DEVID) == 0,
	      "device-add");
	g = simenv_fork_as(&env, GUEST, guest, NULL);
	CHECK(g > 0, "fork");
	close(to_guest[0]);
	close(to_be[1]);

	snprintf(h.be, sizeof(h.be), "/local/domain/0/backend/vif/%u/%u", GUEST,
		 DEVID);
	snprintf(h.fe, sizeof(h.fe), "/local/domain/%u/device/vif/%u", GUEST,
		 DEVID);
	CHECK(xen_store_open(&h.xs) == 0 && xen_gnttab_open(&h.xg) == 0 &&
		      xen_evtchn_open(&h.xe) == 0,
	      "handles");
	hb_write(&h, "feature-rx-copy", "1");
	hb_write(&h, "feature-sg", "1");
	hb_write(&h, "state", "2");
	hb_wait_fe(&h, XenbusStateConnected);
	hb_connect(&h);

	expect_step(to_be[0], 'A');
	CHECK(ring_netif_rx_back_fetch(&h.rx, rq, 4) == 0,
	      "RX buffers posted with rx_none");
	step(to_guest[1], 'a');

	expect_step(to_be[0], 'B');
	CHECK(ring_netif_rx_back_fetch(&h.rx, rq, 4) == 1,
	      "not exactly one RX buffer");
	step(to_guest[1], 'b');

	expect_step(to_be[0], 'C');
	get_bytes(to_be[0], want, sizeof(want));
	hb_raw(&h, want);
	step(to_guest[1], 'c');

	expect_step(to_be[0], 'D');
	hb_events(&h, 0);
	step(to_guest[1], 'd');
	expect_step(to_be[0], 'E');
	CHECK(hb_events(&h, 5000) == 1, "the storm never arrived");

	step(to_guest[1], 'e');
	expect_step(to_be[0], 'F');
	CHECK(ring_netif_tx_back_fetch(&h.tx, want, 1) == -EIO,
	      "TX req_prod 1000 ahead not seen");
	CHECK(ring_netif_rx_back_fetch(&h.rx, rq, 1) == -EIO,
	      "RX req_prod 300 ahead not seen");
	step(to_guest[1], 'f');

	hb_wait_fe(&h, XenbusStateClosing);
	xen_evtchn_unbind(h.xe, (uint32_t)h.port);
	CHECK(xen_gnttab_unmap(h.xg, h.tx_ring, 1) == 0 &&
		      xen_gnttab_unmap(h.xg, h.rx_ring, 1) == 0,
	      "unmap");
	hb_write(&h, "state", "5");
	hb_wait_fe(&h, XenbusStateClosed);
	hb_write(&h, "state", "6");
	CHECK(simenv_wait(g) == 0, "the guest failed");
	xen_evtchn_close(h.xe);
	xen_gnttab_close(h.xg);
	xen_store_close(h.xs);
	return TEST_PASS;
}
