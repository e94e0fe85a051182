// SPDX-License-Identifier: MIT
/*
 * The netfront library (tests/front/netfront.c) against a minimal backend
 * played by this test in Dom0: every packet the guest sends comes back
 * byte-identical, with its GSO extra and checksum flags, on the queue it
 * went out on; no response breaks a rule (zero violations). Sizes 1 byte
 * to 65535 bytes (one to seventeen slots), with and without a GSO extra,
 * with a first-slot offset, one at a time and pipelined until the rings
 * fill; on 1 and 2 queues, with split and single event channels, against
 * a backend with and without multi-queue-max-queues. The handshake keys
 * the library writes are checked key by key (spec/netif-xenbus.md B.4),
 * its orderly close goes Closing then Closed, and its abrupt close leaves
 * the state as it was.
 *
 * The backend here is in-test code, small and honest, until netbackd
 * exists: netback's probe keys and states in xenstore, the rings mapped
 * with xen_gnttab_map, the channels bound, each TX packet copied out of
 * the guest and into its posted RX buffers with grant copies.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xen/io/xenbus.h>

#include "common/xen.h"
#include "front/netfront.h"
#include "lib/check.h"
#include "lib/simenv.h"
#include "ring/ring.h"

#define GUEST 1
#define LB_MAXQ 4
#define LB_SLOTS (XEN_NETIF_NR_SLOTS_MIN + 4)
#define MSS 1448

struct scen {
	unsigned int devid;
	unsigned int want_queues; /* the guest's config */
	bool want_split;
	long be_max_queues; /* -1: key absent */
	bool be_split;
	unsigned int queues; /* expected outcome */
	bool split;
	bool abrupt; /* the guest vanishes, no Closing */
};

/* ------------------------------------------------------------- backend */

struct lb_queue {
	struct ring_netif_tx_back tx;
	struct ring_netif_rx_back rx;
	void *tx_ring, *rx_ring;
	int port_tx, port_rx; /* ours (Dom0's) */
};

struct lb {
	const struct scen *sc;
	struct xen_store *xs;
	struct xen_gnttab *xg;
	struct xen_evtchn *xe;
	char be[96], fe[96];
	unsigned int nq;
	bool connected, rx_gso4, rx_gso6;
	int fe_state;
	struct lb_queue q[LB_MAXQ];
	unsigned long pkts, gso_pkts;
	uint8_t buf[65536];
};

static void lb_write(struct lb *b, xen_txn_t t, const char *key,
		     const char *val)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", b->be, key);
	CHECK(xen_store_write(b->xs, t, p, val) == 0, "write %s", p);
}

/* fe/@key as a number; -1 if absent. */
static long lb_fe_long(struct lb *b, const char *key)
{
	unsigned long v;
	char p[384];

	snprintf(p, sizeof(p), "%s/%s", b->fe, key);
	if (xen_store_read_uint(b->xs, XEN_TXN_NONE, p, 0xFFFFFFFFUL, &v))
		return -1;
	return (long)v;
}

/* netback_probe: the features, then InitWait (spec B.2). */
static void lb_probe(struct lb *b)
{
	xen_txn_t t;
	char v[24];
	int rc;

	do {
		CHECK(xen_store_txn_start(b->xs, &t) == 0, "txn");
		lb_write(b, t, "feature-sg", "1");
		lb_write(b, t, "feature-gso-tcpv4", "1");
		lb_write(b, t, "feature-gso-tcpv6", "1");
		lb_write(b, t, "feature-ipv6-csum-offload", "1");
		lb_write(b, t, "feature-rx-copy", "1");
		lb_write(b, t, "feature-rx-flip", "0");
		rc = xen_store_txn_end(b->xs, t, 0);
	} while (rc == -EAGAIN);
	CHECK(rc == 0, "probe transaction: %d", rc);
	if (b->sc->be_split)
		lb_write(b, XEN_TXN_NONE, "feature-split-event-channels", "1");
	if (b->sc->be_max_queues >= 0) {
		snprintf(v, sizeof(v), "%ld", b->sc->be_max_queues);
		lb_write(b, XEN_TXN_NONE, "multi-queue-max-queues", v);
	}
	lb_write(b, XEN_TXN_NONE, "state", "2");
}

static void lb_notify(struct lb *b, struct lb_queue *q, bool tx, bool rx)
{
	if (tx)
		CHECK(xen_evtchn_notify(b->xe, (uint32_t)q->port_tx) == 0,
		      "notify");
	if (rx && (!tx || q->port_rx != q->port_tx))
		CHECK(xen_evtchn_notify(b->xe, (uint32_t)q->port_rx) == 0,
		      "notify");
}

/*
 * Are @need RX requests there? If not, ask to be notified at the next one
 * (as netback's xenvif_rx_ring_slots_available).
 */
static bool lb_rx_avail(struct lb_queue *q, unsigned int need)
{
	struct ring_sring *s = q->rx.b.sring;
	uint32_t prod;

	do {
		prod = __atomic_load_n(&s->req_prod, __ATOMIC_ACQUIRE);
		if (prod - q->rx.b.req_cons >= need)
			return true;
		__atomic_store_n(&s->req_event, prod + 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	} while (__atomic_load_n(&s->req_prod, __ATOMIC_ACQUIRE) != prod);
	return false;
}

/* Fetch exactly one TX slot: an honest frontend publishes whole packets. */
static void lb_tx_one(struct lb_queue *q, union ring_netif_tx_req *r)
{
	CHECK(ring_netif_tx_back_fetch(&q->tx, r, 1) == 1,
	      "a packet's slots were not all published");
}

/*
 * Echo one TX packet on RX. 1 if one was echoed, 0 if the TX ring is
 * empty or the RX ring lacks buffers (then nothing is consumed).
 */
static int lb_echo(struct lb *b, struct lb_queue *q)
{
	union ring_netif_tx_req d[LB_SLOTS], ex = { 0 };
	struct netif_rx_request rq[LB_SLOTS];
	struct xen_gcopy seg[LB_SLOTS];
	struct netif_tx_response trsp = { 0 };
	unsigned int nd = 1, nx = 0, i, need, nchunks, k;
	size_t total, rest, pos;
	bool ntx, nrx, gso;
	uint16_t rxflags = 0;
	int n;

	n = ring_netif_tx_back_fetch(&q->tx, &d[0], 1);
	CHECK(n >= 0, "TX ring broken");
	if (n == 0)
		return 0;
	if (d[0].req.flags & NETTXF_extra_info) {
		do {
			lb_tx_one(q, &ex);
			nx++;
			CHECK(ex.extra.type == XEN_NETIF_EXTRA_TYPE_GSO,
			      "extra type %u", ex.extra.type);
		} while (ex.extra.flags & XEN_NETIF_EXTRA_FLAG_MORE);
		CHECK(nx == 1, "%u extras", nx);
	}
	for (i = 0; d[i].req.flags & NETTXF_more_data; i++) {
		CHECK(nd < LB_SLOTS, "chain too long");
		lb_tx_one(q, &d[nd++]);
	}
	CHECK(nd <= XEN_NETIF_NR_SLOTS_MIN, "%u slots", nd);

	/* The first slot's share is the total less the other slots'. */
	total = d[0].req.size;
	rest = total;
	for (i = 1; i < nd; i++) {
		CHECK(d[i].req.size <= rest, "slot sizes exceed the total");
		rest -= d[i].req.size;
	}
	gso = nx && ex.extra.u.gso.type != XEN_NETIF_GSO_TYPE_NONE;
	nchunks = (unsigned int)((total + 4095) / 4096);
	need = nchunks + gso;
	if (!lb_rx_avail(q, need)) {
		CHECK(ring_back_unfetch(&q->tx.b, nd + nx) == 0, "unfetch");
		return 0;
	}

	/* Guest TX pages -> our buffer. */
	for (i = 0, pos = 0; i < nd; i++) {
		size_t len = i ? d[i].req.size : rest;

		CHECK(d[i].req.offset + len <= 4096, "slot crosses its page");
		xen_gcopy_from_guest(&seg[i], GUEST, d[i].req.gref,
				     d[i].req.offset, b->buf + pos,
				     (uint16_t)len);
		pos += len;
	}
	CHECK(xen_gcopy_run(b->xg, seg, nd) == 0, "grant copy");
	for (i = 0; i < nd; i++)
		CHECK(seg[i].status == 0, "TX copy %u: %s", i,
		      xen_gntst_name(seg[i].status));

	/* Our buffer -> guest RX pages: data, then the extra after slot 0. */
	CHECK(ring_netif_rx_back_fetch(&q->rx, rq, need) == (int)need, "RX");
	for (i = 0; i < nchunks; i++) {
		size_t off = (size_t)i * 4096, len = total - off;

		k = i == 0 ? 0 : i + gso;
		xen_gcopy_to_guest(&seg[i], GUEST, rq[k].gref, 0, b->buf + off,
				   (uint16_t)(len > 4096 ? 4096 : len));
	}
	CHECK(xen_gcopy_run(b->xg, seg, nchunks) == 0, "grant copy");
	for (i = 0; i < nchunks; i++)
		CHECK(seg[i].status == 0, "RX copy %u: %s", i,
		      xen_gntst_name(seg[i].status));
	if (d[0].req.flags & NETTXF_csum_blank)
		rxflags = NETRXF_csum_blank | NETRXF_data_validated;
	else if (d[0].req.flags & NETTXF_data_validated)
		rxflags = NETRXF_data_validated;
	for (i = 0; i < nchunks; i++) {
		union ring_netif_rx_rsp r;
		size_t len = total - (size_t)i * 4096;

		memset(&r, 0, sizeof(r));
		k = i == 0 ? 0 : i + gso;
		r.rsp.id = rq[k].id;
		r.rsp.status = (int16_t)(len > 4096 ? 4096 : len);
		r.rsp.flags = (i + 1 < nchunks ? NETRXF_more_data : 0) |
			      (i == 0 ? rxflags : 0) |
			      (i == 0 && gso ? NETRXF_extra_info : 0);
		CHECK(ring_netif_rx_back_put_rsp(&q->rx, &r) == 0, "RX rsp");
		if (i == 0 && gso) {
			memset(&r, 0, sizeof(r));
			r.extra.type = XEN_NETIF_EXTRA_TYPE_GSO;
			r.extra.u.gso.type = ex.extra.u.gso.type;
			r.extra.u.gso.size = ex.extra.u.gso.size;
			CHECK(ring_netif_rx_back_put_rsp(&q->rx, &r) == 0,
			      "RX");
		}
	}

	/* TX responses: the first slot, NULL for its extras, the others. */
	for (i = 0; i < nd; i++) {
		trsp.id = d[i].req.id;
		trsp.status = NETIF_RSP_OKAY;
		CHECK(ring_netif_tx_back_put_rsp(&q->tx, &trsp) == 0, "TX rsp");
		for (k = 0; i == 0 && k < nx; k++) {
			struct netif_tx_response null = {
				.status = NETIF_RSP_NULL,
			};

			CHECK(ring_netif_tx_back_put_rsp(&q->tx, &null) == 0,
			      "TX rsp");
		}
	}
	ntx = ring_back_push_rsp(&q->tx.b);
	nrx = ring_back_push_rsp(&q->rx.b);
	lb_notify(b, q, ntx, nrx);
	b->pkts++;
	b->gso_pkts += gso;
	return 1;
}

static void lb_serve(struct lb *b, struct lb_queue *q)
{
	for (;;) {
		while (lb_echo(b, q))
			;
		/* Idle only if nothing came in meanwhile (req_event armed). */
		if (!ring_back_final_check(&q->tx.b))
			return;
		/* Requests, but perhaps no RX room: lb_rx_avail armed it. */
		if (!lb_echo(b, q))
			return;
	}
}

static void lb_check_keys(struct lb *b)
{
	const struct scen *sc = b->sc;
	long mq = lb_fe_long(b, "multi-queue-num-queues");

	/* B.4 step 5: the count only if we offered multi-queue. */
	if (sc->be_max_queues >= 0)
		CHECK(mq == sc->queues, "multi-queue-num-queues %ld", mq);
	else
		CHECK(mq == -1, "multi-queue-num-queues written unasked");
	CHECK(lb_fe_long(b, "request-rx-copy") == 1, "request-rx-copy");
	CHECK(lb_fe_long(b, "feature-rx-notify") == 1, "feature-rx-notify");
	CHECK(lb_fe_long(b, "feature-sg") == 1, "feature-sg");
	CHECK(lb_fe_long(b, "feature-gso-tcpv4") == 1, "feature-gso-tcpv4");
	CHECK(lb_fe_long(b, "feature-gso-tcpv6") == 1, "feature-gso-tcpv6");
	CHECK(lb_fe_long(b, "feature-ipv6-csum-offload") == 1, "ipv6 csum");
	CHECK(lb_fe_long(b, "feature-no-csum-offload") == -1, "no-csum");
	/* NETIF: several queues never write the top-level keys. */
	if (sc->queues > 1) {
		CHECK(lb_fe_long(b, "tx-ring-ref") == -1, "top-level ring key");
		CHECK(lb_fe_long(b, "event-channel") == -1 &&
			      lb_fe_long(b, "event-channel-tx") == -1,
		      "top-level channel key");
	} else {
		CHECK(lb_fe_long(b, "queue-0/tx-ring-ref") == -1,
		      "queue-0/ with one queue");
	}
}

/* netback's connect (spec B.5) on the frontend's Connected. */
static void lb_connect(struct lb *b)
{
	const struct scen *sc = b->sc;
	unsigned int i;
	long mq = lb_fe_long(b, "multi-queue-num-queues");

	lb_check_keys(b);
	b->nq = mq < 0 ? 1 : (unsigned int)mq;
	CHECK(b->nq >= 1 && b->nq <= LB_MAXQ, "%u queues", b->nq);
	b->rx_gso4 = lb_fe_long(b, "feature-gso-tcpv4") == 1;
	b->rx_gso6 = lb_fe_long(b, "feature-gso-tcpv6") == 1;
	for (i = 0; i < b->nq; i++) {
		struct lb_queue *q = &b->q[i];
		char pre[32] = "", k[64];
		long tref, rref, etx, erx;
		uint32_t ref;

		if (b->nq > 1)
			snprintf(pre, sizeof(pre), "queue-%u/", i);
		snprintf(k, sizeof(k), "%stx-ring-ref", pre);
		tref = lb_fe_long(b, k);
		snprintf(k, sizeof(k), "%srx-ring-ref", pre);
		rref = lb_fe_long(b, k);
		snprintf(k, sizeof(k), "%sevent-channel-tx", pre);
		etx = lb_fe_long(b, k);
		snprintf(k, sizeof(k), "%sevent-channel-rx", pre);
		erx = lb_fe_long(b, k);
		if (etx < 0 || erx < 0) {
			snprintf(k, sizeof(k), "%sevent-channel", pre);
			etx = erx = lb_fe_long(b, k);
			CHECK(!sc->split, "split channels not written");
		} else {
			CHECK(sc->split, "split channels written unasked");
		}
		CHECK(tref >= 0 && rref >= 0 && etx >= 0, "queue %u keys", i);

		ref = (uint32_t)tref;
		CHECK(xen_gnttab_map(b->xg, GUEST, 1, &ref, 1, &q->tx_ring) ==
			      0,
		      "map TX ring");
		ref = (uint32_t)rref;
		CHECK(xen_gnttab_map(b->xg, GUEST, 1, &ref, 1, &q->rx_ring) ==
			      0,
		      "map RX ring");
		CHECK(ring_netif_tx_back_attach(&q->tx, q->tx_ring, 1) == 0,
		      "attach TX");
		CHECK(ring_netif_rx_back_attach(&q->rx, q->rx_ring, 1) == 0,
		      "attach RX");
		q->port_tx = xen_evtchn_bind(b->xe, GUEST, (uint32_t)etx);
		CHECK(q->port_tx >= 0, "bind %ld", etx);
		q->port_rx = q->port_tx;
		if (erx != etx) {
			q->port_rx =
				xen_evtchn_bind(b->xe, GUEST, (uint32_t)erx);
			CHECK(q->port_rx >= 0, "bind %ld", erx);
		}
	}
	/* What the hotplug script would write; then Connected (B.5 6). */
	lb_write(b, XEN_TXN_NONE, "hotplug-status", "connected");
	lb_write(b, XEN_TXN_NONE, "state", "4");
	b->connected = true;
	/* Notifications sent before we bound are lost: look now. */
	for (i = 0; i < b->nq; i++)
		lb_serve(b, &b->q[i]);
}

static void lb_disconnect(struct lb *b)
{
	unsigned int i;

	if (!b->connected)
		return;
	for (i = 0; i < b->nq; i++) {
		struct lb_queue *q = &b->q[i];

		xen_evtchn_unbind(b->xe, (uint32_t)q->port_tx);
		if (q->port_rx != q->port_tx)
			xen_evtchn_unbind(b->xe, (uint32_t)q->port_rx);
		CHECK(xen_gnttab_unmap(b->xg, q->tx_ring, 1) == 0, "unmap");
		CHECK(xen_gnttab_unmap(b->xg, q->rx_ring, 1) == 0, "unmap");
	}
	b->connected = false;
}

/* Act on the frontend's state; true once it is Closed. */
static bool lb_fe_changed(struct lb *b)
{
	long s = lb_fe_long(b, "state");

	if (s == b->fe_state)
		return false;
	switch (s) {
	case XenbusStateConnected:
		CHECK(b->fe_state == XenbusStateInitialising,
		      "Connected after %d", b->fe_state);
		lb_connect(b);
		break;
	case XenbusStateClosing:
		CHECK(b->fe_state == XenbusStateConnected, "Closing after %d",
		      b->fe_state);
		lb_disconnect(b);
		lb_write(b, XEN_TXN_NONE, "state", "5");
		break;
	case XenbusStateClosed:
		CHECK(b->fe_state == XenbusStateClosing, "Closed after %d",
		      b->fe_state);
		lb_write(b, XEN_TXN_NONE, "state", "6");
		b->fe_state = (int)s;
		return true;
	default:
		break;
	}
	b->fe_state = (int)s;
	return false;
}

/*
 * Serve device vif/1/<devid> until its frontend closes or @guest exits;
 * returns the guest's exit status.
 */
static int lb_run(struct lb *b, pid_t guest)
{
	char p[256], *path, *token;
	struct pollfd pfd[2];
	time_t deadline = time(NULL) + 90;
	int st, port, rc = -1;
	void *mem;

	snprintf(b->be, sizeof(b->be), "/local/domain/0/backend/vif/%u/%u",
		 GUEST, b->sc->devid);
	snprintf(b->fe, sizeof(b->fe), "/local/domain/%u/device/vif/%u", GUEST,
		 b->sc->devid);
	CHECK(xen_store_open(&b->xs) == 0, "xenstore");
	CHECK(xen_gnttab_open(&b->xg) == 0, "gnttab");
	CHECK(xen_evtchn_open(&b->xe) == 0, "evtchn");
	b->fe_state = XenbusStateInitialising;
	lb_probe(b);
	snprintf(p, sizeof(p), "%s/state", b->fe);
	CHECK(xen_store_watch(b->xs, p, "fe") == 0, "watch");
	pfd[0].fd = xen_store_watch_fd(b->xs);
	pfd[1].fd = xen_evtchn_fd(b->xe);
	pfd[0].events = pfd[1].events = POLLIN;
	for (;;) {
		CHECK(time(NULL) < deadline, "the guest never closed");
		if (waitpid(guest, &st, WNOHANG) == guest) {
			rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
			fprintf(stderr, "guest exited (%d) in state %d\n", rc,
				b->fe_state);
			break;
		}
		if (poll(pfd, 2, 200) <= 0)
			continue;
		if (pfd[0].revents) {
			while (!xen_store_watch_next(b->xs, &path, &token,
						     &mem))
				free(mem);
			if (lb_fe_changed(b))
				break;
		}
		if (pfd[1].revents) {
			port = xen_evtchn_pending(b->xe);
			CHECK(port >= 0, "pending");
			xen_evtchn_unmask(b->xe, (uint32_t)port);
			for (unsigned int i = 0; b->connected && i < b->nq; i++)
				lb_serve(b, &b->q[i]);
		}
	}
	xen_store_unwatch(b->xs, p, "fe");
	lb_disconnect(b);
	xen_evtchn_close(b->xe);
	xen_gnttab_close(b->xg);
	xen_store_close(b->xs);
	return rc >= 0 ? rc : simenv_wait(guest);
}

/* --------------------------------------------------------------- guest */

static uint8_t sbuf[65536], rbuf[NETFRONT_RX_MAX_PKT];

/* Packet @i of stream @seed: its size (if @size is 0) and its bytes. */
static size_t pkt_fill(uint8_t *p, uint32_t seed, size_t size)
{
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	if (!size) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		/* Mostly MTU-sized and small, some up to the maximum. */
		size = x % 8 == 0 ? 1 + x % NETFRONT_MAX_PKT : 1 + x % 1514;
	}
	for (i = 0; i < size; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	return size;
}

static void roundtrip(struct netfront *nf, unsigned int q, size_t size,
		      const struct netfront_txmeta *m, uint32_t seed)
{
	struct netfront_rxmeta rm;
	int n, rc;

	pkt_fill(sbuf, seed, size);
	while ((rc = netfront_send(nf, q, sbuf, size, m)) == -EAGAIN)
		CHECK(netfront_wait(nf, q, 5000) >= 0, "wait");
	CHECK(rc == 0, "send %zu bytes on q%u: %d (%s)", size, q, rc,
	      netfront_last_error());
	n = netfront_recv(nf, q, rbuf, sizeof(rbuf), &rm, 5000);
	CHECK(n == (int)size, "q%u: sent %zu bytes, got %d (%s)", q, size, n,
	      n < 0 ? netfront_last_error() : "");
	CHECK(!memcmp(sbuf, rbuf, size), "q%u: %zu bytes differ", q, size);
	CHECK(rm.gso_type == m->gso_type &&
		      (!m->gso_type || rm.gso_size == m->gso_size),
	      "GSO %u/%u came back as %u/%u", m->gso_type, m->gso_size,
	      rm.gso_type, rm.gso_size);
	/* Checksum flags come back as netback turns them around. */
	if (m->flags & NETTXF_csum_blank)
		CHECK(rm.flags == (NETRXF_csum_blank | NETRXF_data_validated),
		      "RX flags %#x", rm.flags);
	else if (m->flags & NETTXF_data_validated)
		CHECK(rm.flags == NETRXF_data_validated, "RX flags %#x",
		      rm.flags);
	else
		CHECK(rm.flags == 0, "RX flags %#x", rm.flags);
	CHECK(rm.slots == (size + 4095) / 4096, "%u slots", rm.slots);
}

static unsigned long deferred; /* sends refused: ring or pool full */

/* Send @count packets without waiting for each, until the rings fill. */
static void pipeline(struct netfront *nf, unsigned int q, unsigned int count)
{
	struct netfront_txmeta m = { 0 };
	unsigned int sent = 0, got = 0;
	size_t size;
	int n, rc;

	while (got < count) {
		while (sent < count) {
			size = pkt_fill(sbuf, q * 100003u + sent, 0);
			m.opts = sent % 8 != 7 ? NETFRONT_TX_MORE : 0;
			m.gso_type = size > 1514 ? XEN_NETIF_GSO_TYPE_TCPV6 : 0;
			m.gso_size = size > 1514 ? MSS : 0;
			rc = netfront_send(nf, q, sbuf, size, &m);
			if (rc == -EAGAIN) {
				deferred++;
				break;
			}
			CHECK(rc == 0, "send: %d (%s)", rc,
			      netfront_last_error());
			sent++;
		}
		CHECK(netfront_kick(nf, q) >= 0, "kick");
		n = netfront_recv(nf, q, rbuf, sizeof(rbuf), NULL, 5000);
		size = pkt_fill(sbuf, q * 100003u + got, 0);
		CHECK(n == (int)size, "q%u packet %u: %zu bytes sent, got %d",
		      q, got, size, n);
		CHECK(!memcmp(sbuf, rbuf, size), "q%u packet %u differs", q,
		      got);
		got++;
	}
}

static const size_t sizes[] = {
	1,    2,    14,	  42,	 59,	60,    64,    255,   256,   257,
	1000, 1499, 1500, 1514,	 2048,	4095,  4096,  4097,  8191,  8192,
	8193, 9000, 9018, 12289, 16384, 32768, 61440, 65534, 65535,
};

static int guest(void *arg)
{
	const struct scen *sc = arg;
	const struct netfront_info *in;
	struct netfront_stats st, sum = { 0 };
	struct netfront_cfg cfg;
	struct netfront *nf;
	char last[200];
	unsigned int q, i, v;
	uint32_t seed = 1;
	int rc;

	netfront_cfg_init(&cfg);
	cfg.devid = sc->devid;
	cfg.queues = sc->want_queues;
	cfg.split_evtchn = sc->want_split;
	cfg.verbose = true;
	rc = netfront_connect(&nf, &cfg);
	CHECK(rc == 0, "connect: %d (%s)", rc, netfront_last_error());
	in = netfront_info(nf);
	CHECK(in->num_queues == sc->queues, "%u queues", in->num_queues);
	CHECK(in->split == sc->split, "split %d", in->split);
	CHECK(in->have_mac && in->mac[0] == 0x00 && in->mac[1] == 0x16, "mac");
	CHECK(in->be_rx_copy == 1 && in->be_gso_tcpv4 == 1, "features");
	/* The first slot's size is 16 bits: 1 .. 65535 bytes. */
	CHECK(netfront_send(nf, 0, sbuf, 0, NULL) == -EMSGSIZE &&
		      netfront_send(nf, 0, sbuf, 65536, NULL) == -EMSGSIZE,
	      "sizes out of range accepted");

	if (sc->abrupt) {
		struct netfront_txmeta m = { 0 };

		for (q = 0; q < in->num_queues; q++)
			roundtrip(nf, q, 9000, &m, seed++);
		/* A crash: state left Connected, nothing handed back. */
		netfront_disconnect_abrupt(nf);
		return 0;
	}

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (v = 0; v < 4; v++) {
			struct netfront_txmeta m = { 0 };

			if (v == 1) { /* GSO, as for a TCP segment train */
				if (sizes[i] <= 1514)
					continue;
				m.gso_type = XEN_NETIF_GSO_TYPE_TCPV4;
				m.gso_size = MSS;
				m.flags = NETTXF_csum_blank |
					  NETTXF_data_validated;
			} else if (v == 2) { /* offset, as skb headroom */
				m.offset = 66;
			} else if (v == 3) { /* a short first slot */
				m.offset = 4000;
				m.flags = NETTXF_data_validated;
			}
			for (q = 0; q < in->num_queues; q++)
				roundtrip(nf, q, sizes[i], &m, seed++);
		}
	}
	for (q = 0; q < in->num_queues; q++)
		pipeline(nf, q, 600);

	CHECK(netfront_violations(nf, last, sizeof(last)) == 0, "%s", last);
	for (q = 0; q < in->num_queues; q++) {
		CHECK(netfront_poll(nf, q, NULL, NULL, 0) == 0, "poll");
		CHECK(netfront_tx_inflight(nf, q) == 0, "TX slots unanswered");
		netfront_stats(nf, q, &st);
		CHECK(st.tx_rsp_okay == st.tx_slots, "q%u: %lu of %lu slots", q,
		      (unsigned long)st.tx_rsp_okay,
		      (unsigned long)st.tx_slots);
		CHECK(st.tx_rsp_null == st.tx_extras, "q%u: NULL responses", q);
		CHECK(st.rx_pkts == st.tx_pkts && st.rx_errors == 0 &&
			      st.rx_dropped == 0,
		      "q%u: rx %lu tx %lu", q, (unsigned long)st.rx_pkts,
		      (unsigned long)st.tx_pkts);
		sum.rx_pkts += st.rx_pkts;
		sum.rx_gso += st.rx_gso;
	}
	fprintf(stderr,
		"guest: %lu packets (%lu GSO) on %u queue(s)%s, %lu sends "
		"deferred\n",
		(unsigned long)sum.rx_pkts, (unsigned long)sum.rx_gso,
		in->num_queues, in->split ? ", split channels" : "", deferred);
	CHECK(deferred > 0, "the pipeline never filled the rings");
	rc = netfront_close(nf);
	CHECK(rc == 0, "close: %d (%s)", rc, netfront_last_error());
	return 0;
}

static const struct scen scens[] = {
	/* A backend without multi-queue or split channels. */
	{ .devid = 0,
	  .want_queues = 1,
	  .want_split = true,
	  .be_max_queues = -1,
	  .be_split = false,
	  .queues = 1,
	  .split = false },
	{ .devid = 1,
	  .want_queues = 1,
	  .want_split = true,
	  .be_max_queues = 4,
	  .be_split = true,
	  .queues = 1,
	  .split = true },
	{ .devid = 2,
	  .want_queues = 2,
	  .want_split = true,
	  .be_max_queues = 4,
	  .be_split = true,
	  .queues = 2,
	  .split = true },
	/* More queues wanted than offered; one channel per queue. */
	{ .devid = 3,
	  .want_queues = 8,
	  .want_split = false,
	  .be_max_queues = 2,
	  .be_split = true,
	  .queues = 2,
	  .split = false },
	{ .devid = 4,
	  .want_queues = 2,
	  .want_split = true,
	  .be_max_queues = 2,
	  .be_split = true,
	  .queues = 2,
	  .split = true,
	  .abrupt = true },
};

int main(void)
{
	static struct lb b;
	struct simenv env;
	unsigned int i;
	pid_t g;
	int rc;

	CHECK(simenv_up(&env, 1) == 0, "xensim up");
	simenv_become(&env, 0);
	for (i = 0; i < sizeof(scens) / sizeof(scens[0]); i++) {
		const struct scen *sc = &scens[i];

		CHECK(simenv_xensim(&env, "device-add", "vif %u %u", GUEST,
				    sc->devid) == 0,
		      "device-add");
		g = simenv_fork_as(&env, GUEST, guest, (void *)sc);
		CHECK(g > 0, "fork");
		memset(&b, 0, sizeof(b));
		b.sc = sc;
		rc = lb_run(&b, g);
		CHECK(rc == 0, "scenario %u: the guest failed (%d)", i, rc);
		CHECK(b.fe_state == (sc->abrupt ? XenbusStateConnected
						: XenbusStateClosed),
		      "scenario %u: frontend state %d", i, b.fe_state);
		fprintf(stderr, "scenario %u: %lu packets echoed, %lu GSO\n", i,
			b.pkts, b.gso_pkts);
	}
	return TEST_PASS;
}
