// SPDX-License-Identifier: MIT
/*
 * The netfront library checks every response before it acts on it. A
 * backend played by this test in Dom0 answers, by hand:
 *
 *   RX: an offset + size beyond the page (also one that wraps 16 bits), an
 *       unknown negative status, an id that is not the request's, a chain
 *       of 20 slots, extras of type 0, a GSO extra of size 0, a chain and
 *       an extra that run past rsp_prod, an undefined flag, 0 bytes;
 *   TX: an id never sent, status 7, a NULL response with no extra slot
 *       out, one id answered twice.
 *
 * Each costs exactly one violation and, on RX, its packet: never a read
 * past the page, never a packet handed up, never a TX completion taken on
 * trust. Honest NETIF_RSP_ERROR / DROPPED answers are errors, not
 * violations, and reach tx_done with their status; good packets before
 * and after come through intact. Last, on each ring of its own queue, a
 * producer index more than a ring ahead stops that queue (-EIO, one
 * violation) and leaves the other queue working; the orderly close still
 * works.
 *
 * The backend is in-test code: netback's probe keys for two queues and
 * one channel each, the rings mapped, the responses written by hand.
 */
#include <errno.h>
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
#define NQ 2

enum expect {
	RX_GOOD,  /* delivered byte-identical, no violation */
	RX_BAD,	  /* one violation, one packet dropped */
	RX_ERROR, /* rx_errors + 1, no violation */
	TX_BAD,	  /* one violation */
	TX_GOOD,  /* completions as the backend said, no violation */
	BROKEN,	  /* the queue stops: -EIO, one violation */
};

struct vcase {
	const char *name;
	enum expect expect;
	unsigned int q;	   /* the queue it runs on */
	unsigned int send; /* packets the guest sends first */
	int done[2];	   /* TX: statuses tx_done must see, in order */
	unsigned int ndone;
};

#define RXC(n, e)                                                              \
	{                                                                      \
		.name = (n), .expect = (e)                                     \
	}

static const struct vcase cases[] = {
	RXC("RX offset + size beyond the page", RX_BAD),
	RXC("RX good packet", RX_GOOD),
	RXC("RX offset 65535 + size 2 (wraps)", RX_BAD),
	RXC("RX status -5", RX_BAD),
	RXC("RX status NETIF_RSP_ERROR", RX_ERROR),
	RXC("RX id not the request's", RX_BAD),
	RXC("RX chain of 20 slots", RX_BAD),
	RXC("RX extra of type 0", RX_BAD),
	RXC("RX GSO extra of size 0", RX_BAD),
	RXC("RX more_data past rsp_prod", RX_BAD),
	RXC("RX extra_info past rsp_prod", RX_BAD),
	RXC("RX undefined flag 0x40", RX_BAD),
	RXC("RX packet of 0 bytes", RX_BAD),
	RXC("RX good packet again", RX_GOOD),
	{ .name = "TX id never sent", .expect = TX_BAD, .send = 1 },
	{ .name = "TX status 7",
	  .expect = TX_BAD,
	  .send = 1,
	  .done = { NETIF_RSP_ERROR },
	  .ndone = 1 },
	{ .name = "TX NULL with no extra out", .expect = TX_BAD, .send = 1 },
	{ .name = "TX one id answered twice",
	  .expect = TX_BAD,
	  .send = 2,
	  .done = { NETIF_RSP_OKAY },
	  .ndone = 1 },
	{ .name = "TX honest ERROR and DROPPED",
	  .expect = TX_GOOD,
	  .send = 2,
	  .done = { NETIF_RSP_ERROR, NETIF_RSP_DROPPED },
	  .ndone = 2 },
	{ .name = "TX GSO packet, OKAY and NULL",
	  .expect = TX_GOOD,
	  .send = 1,
	  .done = { NETIF_RSP_OKAY },
	  .ndone = 1 },
	{ .name = "TX rsp_prod a ring ahead",
	  .expect = BROKEN,
	  .q = 1,
	  .send = 1 },
	RXC("RX good packet on the other queue", RX_GOOD),
	RXC("RX rsp_prod a ring ahead", BROKEN),
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Each case: go, (guest sent), (backend answered), (guest checked). */
static int to_guest[2], to_be[2];

static void sync_send(int fd, unsigned int i)
{
	char c = (char)i;

	CHECK(write(fd, &c, 1) == 1, "sync write");
}

static void sync_recv(int fd, unsigned int i)
{
	char c;

	CHECK(read(fd, &c, 1) == 1 && c == (char)i, "the peer failed at '%s'",
	      cases[i].name);
}

static void pattern(uint8_t *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7);
}

/* --------------------------------------------------------------- guest */

static int done_status[8];
static uint64_t done_tag[8];
static unsigned int ndone;

static void tx_done(void *opaque, unsigned int q, uint64_t tag, int status)
{
	if (ndone < 8) {
		done_tag[ndone] = tag;
		done_status[ndone] = status;
	}
	ndone++;
}

static void guest_send(struct netfront *nf, const struct vcase *c,
		       unsigned int i)
{
	struct netfront_txmeta m = { 0 };
	uint8_t d[100];

	pattern(d, sizeof(d), i);
	if (strstr(c->name, "GSO")) {
		m.gso_type = XEN_NETIF_GSO_TYPE_TCPV4;
		m.gso_size = 1448;
	}
	for (unsigned int k = 0; k < c->send; k++) {
		m.tag = i * 10 + k;
		CHECK(netfront_send(nf, c->q, d, sizeof(d), &m) == 0, "send");
	}
}

static void guest_check(struct netfront *nf, const struct vcase *c,
			unsigned int i, const struct netfront_stats *a,
			const struct netfront_stats *b, int n,
			const uint8_t *rbuf)
{
	uint8_t want[100];
	char last[200];

	pattern(want, sizeof(want), i);
	netfront_violations(nf, last, sizeof(last));
	switch (c->expect) {
	case RX_GOOD:
		CHECK(n == 100 && !memcmp(rbuf, want, 100), "%s: got %d",
		      c->name, n);
		CHECK(b->violations == a->violations, "%s: %s", c->name, last);
		break;
	case RX_BAD:
		CHECK(n == -ETIMEDOUT, "%s: got %d", c->name, n);
		CHECK(b->violations == a->violations + 1 &&
			      b->rx_dropped == a->rx_dropped + 1,
		      "%s: %lu violations, %lu dropped", c->name,
		      (unsigned long)(b->violations - a->violations),
		      (unsigned long)(b->rx_dropped - a->rx_dropped));
		break;
	case RX_ERROR:
		CHECK(n == -ETIMEDOUT, "%s: got %d", c->name, n);
		CHECK(b->violations == a->violations &&
			      b->rx_errors == a->rx_errors + 1,
		      "%s: not an error", c->name);
		break;
	case TX_BAD:
	case TX_GOOD:
		CHECK(n == 0, "%s: poll %d", c->name, n);
		CHECK(b->violations ==
			      a->violations + (c->expect == TX_BAD ? 1 : 0),
		      "%s: %lu violations (%s)", c->name,
		      (unsigned long)(b->violations - a->violations), last);
		CHECK(ndone == c->ndone, "%s: %u completions", c->name, ndone);
		for (unsigned int k = 0; k < c->ndone; k++)
			CHECK(done_tag[k] == i * 10 + k &&
				      done_status[k] == c->done[k],
			      "%s: completion %u: tag %lu status %d", c->name,
			      k, (unsigned long)done_tag[k], done_status[k]);
		break;
	case BROKEN:
		CHECK(n == -EIO, "%s: got %d", c->name, n);
		CHECK(b->violations == a->violations + 1, "%s: %lu", c->name,
		      (unsigned long)(b->violations - a->violations));
		CHECK(netfront_poll(nf, c->q, NULL, NULL, 0) == -EIO &&
			      netfront_send(nf, c->q, want, 60, NULL) == -EIO,
		      "the queue runs on");
		break;
	}
	if (c->expect != RX_GOOD && c->expect != TX_GOOD &&
	    c->expect != RX_ERROR)
		fprintf(stderr, "guest: %-36s -> %s\n", c->name, last);
}

static int guest(void *arg)
{
	static uint8_t rbuf[NETFRONT_RX_MAX_PKT];
	struct netfront_stats a, b;
	struct netfront_cfg cfg;
	struct netfront *nf;
	unsigned int i;
	int rc, n;

	close(to_guest[1]);
	close(to_be[0]);
	netfront_cfg_init(&cfg);
	cfg.devid = DEVID;
	cfg.queues = NQ;
	cfg.tx_done = tx_done;
	rc = netfront_connect(&nf, &cfg);
	CHECK(rc == 0, "connect: %d (%s)", rc, netfront_last_error());
	CHECK(netfront_info(nf)->num_queues == NQ, "queues");
	for (i = 0; i < NCASES; i++) {
		const struct vcase *c = &cases[i];

		sync_recv(to_guest[0], i);
		ndone = 0;
		guest_send(nf, c, i);
		netfront_stats(nf, c->q, &a);
		sync_send(to_be[1], i);
		sync_recv(to_guest[0], i);
		/* The answers are on the ring already: do not wait. */
		if (c->expect == TX_BAD || c->expect == TX_GOOD ||
		    (c->expect == BROKEN && c->send))
			n = netfront_poll(nf, c->q, NULL, NULL, 0);
		else
			n = netfront_recv(nf, c->q, rbuf, sizeof(rbuf), NULL,
					  0);
		netfront_stats(nf, c->q, &b);
		guest_check(nf, c, i, &a, &b, n, rbuf);
		sync_send(to_be[1], i);
	}
	netfront_stats(nf, 0, &a);
	netfront_stats(nf, 1, &b);
	CHECK(a.rx_pkts + b.rx_pkts == 3, "%lu packets",
	      (unsigned long)(a.rx_pkts + b.rx_pkts));
	/* 11 on RX, 4 on TX, 2 stopped queues. */
	CHECK(netfront_violations(nf, NULL, 0) == 17, "%lu violations",
	      netfront_violations(nf, NULL, 0));
	rc = netfront_close(nf);
	CHECK(rc == 0, "close: %d (%s)", rc, netfront_last_error());
	return 0;
}

/* ------------------------------------------------------------- backend */

struct hbq {
	void *tx_ring, *rx_ring;
	struct ring_netif_tx_back tx;
	struct ring_netif_rx_back rx;
	int port;
};

struct hb {
	struct xen_store *xs;
	struct xen_gnttab *xg;
	struct xen_evtchn *xe;
	char be[96], fe[96];
	struct hbq q[NQ];
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

/* Fetch @n RX requests of @q (the guest posted 256 at connect). */
static void hb_rx_reqs(struct hbq *q, struct netif_rx_request *rq, int n)
{
	CHECK(ring_netif_rx_back_fetch(&q->rx, rq, (unsigned int)n) == n,
	      "fewer than %d RX requests", n);
}

static void hb_put(struct hbq *q, const struct netif_rx_request *rq,
		   uint16_t offset, uint16_t flags, int16_t status)
{
	union ring_netif_rx_rsp r;

	memset(&r, 0, sizeof(r));
	r.rsp.id = rq->id;
	r.rsp.offset = offset;
	r.rsp.flags = flags;
	r.rsp.status = status;
	CHECK(ring_netif_rx_back_put_rsp(&q->rx, &r) == 0, "put");
}

static void hb_put_extra(struct hbq *q, uint8_t type, uint16_t gso_size)
{
	union ring_netif_rx_rsp r;

	memset(&r, 0, sizeof(r));
	r.extra.type = type;
	r.extra.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
	r.extra.u.gso.size = gso_size;
	CHECK(ring_netif_rx_back_put_rsp(&q->rx, &r) == 0, "put");
}

/* A good packet: 100 bytes into the guest page of @rq at offset 10. */
static void hb_rx_good(struct hb *h, struct hbq *q, unsigned int seed)
{
	struct netif_rx_request rq;
	struct xen_gcopy seg;
	uint8_t d[100];

	hb_rx_reqs(q, &rq, 1);
	pattern(d, sizeof(d), seed);
	xen_gcopy_to_guest(&seg, GUEST, rq.gref, 10, d, sizeof(d));
	CHECK(xen_gcopy_run(h->xg, &seg, 1) == 0 && seg.status == 0,
	      "grant copy");
	hb_put(q, &rq, 10, 0, 100);
}

static void hb_tx_put(struct hbq *q, uint16_t id, int16_t status)
{
	struct netif_tx_response r = { .id = id, .status = status };

	CHECK(ring_netif_tx_back_put_rsp(&q->tx, &r) == 0, "put");
}

/* Answer the TX case @i; the guest sent @c->send packets of one slot. */
static void hb_tx_case(struct hbq *q, unsigned int i)
{
	union ring_netif_tx_req t[4];
	int n = ring_netif_tx_back_fetch(&q->tx, t, 4);

	switch (i) {
	case 14:
		CHECK(n == 1, "%d TX requests", n);
		hb_tx_put(q, 300, NETIF_RSP_OKAY);
		break;
	case 15:
		CHECK(n == 1, "%d TX requests", n);
		hb_tx_put(q, t[0].req.id, 7);
		break;
	case 16:
		CHECK(n == 1, "%d TX requests", n);
		hb_tx_put(q, t[0].req.id, NETIF_RSP_NULL);
		break;
	case 17:
		CHECK(n == 2, "%d TX requests", n);
		hb_tx_put(q, t[0].req.id, NETIF_RSP_OKAY);
		hb_tx_put(q, t[0].req.id, NETIF_RSP_OKAY);
		break;
	case 18:
		CHECK(n == 2, "%d TX requests", n);
		hb_tx_put(q, t[0].req.id, NETIF_RSP_ERROR);
		hb_tx_put(q, t[1].req.id, NETIF_RSP_DROPPED);
		break;
	case 19:
		CHECK(n == 2 && (t[0].req.flags & NETTXF_extra_info) &&
			      t[1].extra.type == XEN_NETIF_EXTRA_TYPE_GSO,
		      "a GSO packet is not two slots");
		hb_tx_put(q, t[0].req.id, NETIF_RSP_OKAY);
		hb_tx_put(q, 0, NETIF_RSP_NULL);
		break;
	}
}

static void hb_case(struct hb *h, unsigned int i)
{
	const struct vcase *c = &cases[i];
	struct hbq *q = &h->q[c->q];
	struct netif_rx_request rq[20];
	int k;

	switch (i) {
	case 0:
		hb_rx_reqs(q, rq, 1);
		hb_put(q, &rq[0], 4000, 0, 200);
		break;
	case 1:
	case 13:
	case 21:
		hb_rx_good(h, q, i);
		break;
	case 2:
		hb_rx_reqs(q, rq, 1);
		hb_put(q, &rq[0], 65535, 0, 2);
		break;
	case 3:
		hb_rx_reqs(q, rq, 1);
		hb_put(q, &rq[0], 0, 0, -5);
		break;
	case 4:
		hb_rx_reqs(q, rq, 1);
		hb_put(q, &rq[0], 0, 0, NETIF_RSP_ERROR);
		break;
	case 5:
		hb_rx_reqs(q, rq, 1);
		rq[0].id ^= 1;
		hb_put(q, &rq[0], 0, 0, 100);
		break;
	case 6:
		/* Netfront takes 18 slots, 19 after a small first one. */
		hb_rx_reqs(q, rq, 20);
		for (k = 0; k < 20; k++)
			hb_put(q, &rq[k], 0, k < 19 ? NETRXF_more_data : 0,
			       100);
		break;
	case 7:
	case 8:
		hb_rx_reqs(q, rq, 2);
		hb_put(q, &rq[0], 0, NETRXF_extra_info, 60);
		if (i == 7)
			hb_put_extra(q, 0, 1448);
		else
			hb_put_extra(q, XEN_NETIF_EXTRA_TYPE_GSO, 0);
		break;
	case 9:
		hb_rx_reqs(q, rq, 1);
		hb_put(q, &rq[0], 0, NETRXF_more_data, 60);
		break;
	case 10:
		hb_rx_reqs(q, rq, 1);
		hb_put(q, &rq[0], 0, NETRXF_extra_info, 60);
		break;
	case 11:
		hb_rx_reqs(q, rq, 1);
		hb_put(q, &rq[0], 0, 0x40, 60);
		break;
	case 12:
		hb_rx_reqs(q, rq, 1);
		hb_put(q, &rq[0], 0, 0, 0);
		break;
	case 20:
	case 22: {
		struct ring_back *rb = i == 20 ? &q->tx.b : &q->rx.b;

		/* More responses than there could ever be requests. */
		__atomic_store_n(&rb->sring->rsp_prod, rb->rsp_pushed + 257,
				 __ATOMIC_RELEASE);
		CHECK(xen_evtchn_notify(h->xe, (uint32_t)q->port) == 0,
		      "notify");
		return;
	}
	default:
		hb_tx_case(q, i);
		break;
	}
	if (ring_back_push_rsp(&q->rx.b) | ring_back_push_rsp(&q->tx.b))
		CHECK(xen_evtchn_notify(h->xe, (uint32_t)q->port) == 0,
		      "notify");
}

static void hb_connect(struct hb *h)
{
	CHECK(hb_fe_long(h, "multi-queue-num-queues") == NQ, "queues");
	for (unsigned int i = 0; i < NQ; i++) {
		struct hbq *q = &h->q[i];
		char k[3][64];
		long tref, rref, evt;
		uint32_t ref;

		snprintf(k[0], sizeof(k[0]), "queue-%u/tx-ring-ref", i);
		snprintf(k[1], sizeof(k[1]), "queue-%u/rx-ring-ref", i);
		snprintf(k[2], sizeof(k[2]), "queue-%u/event-channel", i);
		tref = hb_fe_long(h, k[0]);
		rref = hb_fe_long(h, k[1]);
		evt = hb_fe_long(h, k[2]);
		CHECK(tref >= 0 && rref >= 0 && evt >= 0, "queue %u keys", i);
		ref = (uint32_t)tref;
		CHECK(xen_gnttab_map(h->xg, GUEST, 1, &ref, 1, &q->tx_ring) ==
			      0,
		      "map TX ring");
		ref = (uint32_t)rref;
		CHECK(xen_gnttab_map(h->xg, GUEST, 1, &ref, 1, &q->rx_ring) ==
			      0,
		      "map RX ring");
		CHECK(ring_netif_tx_back_attach(&q->tx, q->tx_ring, 1) == 0 &&
			      ring_netif_rx_back_attach(&q->rx, q->rx_ring,
							1) == 0,
		      "attach");
		q->port = xen_evtchn_bind(h->xe, GUEST, (uint32_t)evt);
		CHECK(q->port >= 0, "bind");
	}
	hb_write(h, "hotplug-status", "connected");
	hb_write(h, "state", "4");
}

int main(void)
{
	struct simenv env;
	struct hb h = { 0 };
	unsigned int i;
	pid_t g;

	CHECK(pipe(to_guest) == 0 && pipe(to_be) == 0, "pipes");
	CHECK(simenv_up(&env, 1) == 0, "xensim up");
	simenv_become(&env, 0);
	CHECK(simenv_xensim(&env, "device-add", "vif %u %u", GUEST, DEVID) == 0,
	      "device-add");
	g = simenv_fork_as(&env, GUEST, guest, NULL);
	CHECK(g > 0, "fork");
	/* A guest that fails closes its ends: our read sees it, no hang. */
	close(to_guest[0]);
	close(to_be[1]);

	snprintf(h.be, sizeof(h.be), "/local/domain/0/backend/vif/%u/%u", GUEST,
		 DEVID);
	snprintf(h.fe, sizeof(h.fe), "/local/domain/%u/device/vif/%u", GUEST,
		 DEVID);
	CHECK(xen_store_open(&h.xs) == 0 && xen_gnttab_open(&h.xg) == 0 &&
		      xen_evtchn_open(&h.xe) == 0,
	      "handles");
	/* Two queues, one channel each, copy receive path, GSO. */
	hb_write(&h, "feature-rx-copy", "1");
	hb_write(&h, "feature-sg", "1");
	hb_write(&h, "feature-gso-tcpv4", "1");
	hb_write(&h, "multi-queue-max-queues", "2");
	hb_write(&h, "state", "2");
	hb_wait_fe(&h, XenbusStateConnected);
	hb_connect(&h);

	for (i = 0; i < NCASES; i++) {
		sync_send(to_guest[1], i);
		sync_recv(to_be[0], i);
		hb_case(&h, i);
		sync_send(to_guest[1], i);
		sync_recv(to_be[0], i);
	}

	hb_wait_fe(&h, XenbusStateClosing);
	for (i = 0; i < NQ; i++) {
		xen_evtchn_unbind(h.xe, (uint32_t)h.q[i].port);
		CHECK(xen_gnttab_unmap(h.xg, h.q[i].tx_ring, 1) == 0 &&
			      xen_gnttab_unmap(h.xg, h.q[i].rx_ring, 1) == 0,
		      "unmap");
	}
	hb_write(&h, "state", "5");
	hb_wait_fe(&h, XenbusStateClosed);
	hb_write(&h, "state", "6");
	CHECK(simenv_wait(g) == 0, "the guest failed");
	xen_evtchn_close(h.xe);
	xen_gnttab_close(h.xg);
	xen_store_close(h.xs);
	return TEST_PASS;
}
