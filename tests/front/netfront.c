// SPDX-License-Identifier: MIT
/*
 * netfront.c - see netfront.h. A userspace copy of Linux xen-netfront's
 * wire behaviour: the handshake of xennet_connect / talk_to_netback, the
 * TX path of xennet_start_xmit (one slot per page, total size in the first
 * slot, a GSO extra after it) and xennet_tx_buf_gc, the RX path of
 * xennet_alloc_rx_buffers and xennet_get_responses / xennet_get_extras,
 * and the close of xennet_bus_close. Where Linux merely warns about a
 * backend's response, we count a violation; where it trusts one (the RX
 * id, undefined flags, a zero-length packet), we check and count too,
 * because our tests use this library to hold netbackd to the rules. The
 * peer is netback/ (netbackd), or the small in-test backends in
 * tests/front-netfront-*.c.
 */
#include "front/netfront.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <xen/io/xenbus.h>

#include "front/xfront.h"
#include "netback/pkt.h"

#define NF_PAGE 4096u
#define NF_DEF_PAGES 256u
#define NF_RAW_LOG 512u
#define NF_REAP_BATCH 64u
#define NF_TXN_TRIES 64
#define NF_VERBOSE_MAX 16u
#define NF_RX_COPY_THRESHOLD 256 /* Linux netfront's RX_COPY_THRESHOLD */
#define NF_EXTRA_TYPE_XDP 5	 /* only in Linux's copy of netif.h */
#define NF_TXF_OFFLOAD (NETTXF_csum_blank | NETTXF_data_validated)
#define NF_RXF_KNOWN                                                           \
	(NETRXF_data_validated | NETRXF_csum_blank | NETRXF_more_data |        \
	 NETRXF_extra_info)

/* One TX page's state; the id on the ring is the page index. */
struct nf_txslot {
	bool pending; /* on the ring, not answered */
	uint16_t pkt; /* the packet record it belongs to */
};

/* One packet in flight: completes when its last slot is answered. */
struct nf_txpkt {
	uint16_t left;	/* slots not answered yet */
	int16_t status; /* the first non-OKAY status, else OKAY */
	uint64_t tag;
};

struct nf_queue {
	struct netfront *nf;
	unsigned int idx;
	struct xen_evtchn *xe;
	int port_tx, port_rx; /* local ports; the same one unless split */
	void *rings;	      /* TX ring page, then RX ring page */
	uint32_t ring_ref[2];
	struct ring_netif_tx_front tx;
	struct ring_netif_rx_front rx;

	/* TX: pages (read-only to the backend), ids, packet records. */
	uint8_t *tx_pool;
	uint32_t *tx_refs;
	struct nf_txslot *tx_slot;
	uint16_t *tx_free; /* stack of free page indexes */
	unsigned int tx_nfree;
	struct nf_txpkt *tx_pkt;
	uint16_t *tx_pkt_free;
	unsigned int tx_npkt_free;
	unsigned int tx_extras_out; /* our extra slots not answered */
	unsigned int raw_out;	    /* raw slots not answered */
	struct netif_tx_response *raw_log;
	unsigned int raw_head, raw_n;
	void *scratch;
	uint32_t scratch_ref;

	/* RX: pages (writable), what is posted where, staged responses. */
	uint8_t *rx_pool;
	uint32_t *rx_refs;
	uint16_t *rx_free;
	unsigned int rx_nfree;
	int16_t *rx_posted; /* [ring index & mask]: page, or -1 */
	unsigned int rx_fill;
	union ring_netif_rx_rsp *stage; /* responses copied off the ring */
	int16_t *stage_page; /* the page posted at each one's index */
	uint16_t *stage_id;  /* the id we posted there */
	unsigned int stage_pos, stage_n;
	uint8_t *pkt; /* reassembly buffer, NETFRONT_RX_MAX_PKT */

	struct netfront_stats st;
	char last[160]; /* the last violation on this queue */
	unsigned long last_seq;
	unsigned int verbose_n;
	bool broken; /* an impossible index: the queue stops */
};

struct netfront {
	struct netfront_cfg cfg;
	struct netfront_info info;
	struct xfront xf;
	struct xen_gntshr *gs;
	/* The control ring: its page, then a read-only page for tables. */
	struct xen_evtchn *cxe;
	int cport;
	void *cring;
	uint32_t cring_ref;
	struct ring_netif_ctrl_front cr;
	void *cpage;
	uint32_t cpage_ref;
	uint16_t cid;
	struct nf_queue *q;
	unsigned int nq;    /* queues allocated (set up or half) */
	unsigned long vseq; /* orders violations across queues */
};

static __thread char nf_errbuf[256];

const char *netfront_last_error(void)
{
	return nf_errbuf;
}

/* Record why a call failed (for netfront_last_error) and return @rc. */
static int __attribute__((format(printf, 2, 3)))
nf_fail(int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(nf_errbuf, sizeof(nf_errbuf), fmt, ap);
	va_end(ap);
	return rc;
}

static void nf_vviolation(struct nf_queue *q, const char *fmt, va_list ap)
{
	vsnprintf(q->last, sizeof(q->last), fmt, ap);
	q->last_seq = __atomic_add_fetch(&q->nf->vseq, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&q->st.violations, 1, __ATOMIC_RELAXED);
	if (q->nf->cfg.verbose && q->verbose_n < NF_VERBOSE_MAX) {
		q->verbose_n++;
		fprintf(stderr, "netfront q%u: violation: %s\n", q->idx,
			q->last);
	}
}

static void __attribute__((format(printf, 2, 3)))
nf_violation(struct nf_queue *q, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nf_vviolation(q, fmt, ap);
	va_end(ap);
}

/* The backend published an impossible index: count it once, stop. */
static int nf_break(struct nf_queue *q, const char *what)
{
	if (!q->broken)
		nf_violation(q,
			     "%s rsp_prod beyond our requests: queue stopped",
			     what);
	q->broken = true;
	return -EIO;
}

static struct nf_queue *nf_q(struct netfront *nf, unsigned int q)
{
	if (!nf || q >= nf->info.num_queues)
		return NULL;
	return &nf->q[q];
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

void netfront_cfg_init(struct netfront_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->queues = 1;
	cfg->split_evtchn = true;
	cfg->sg = cfg->gso_tcpv4 = cfg->gso_tcpv6 = cfg->ipv6_csum = true;
	cfg->timeout_ms = 10000;
	cfg->tx_pages = cfg->rx_pages = NF_DEF_PAGES;
}

const struct netfront_info *netfront_info(const struct netfront *nf)
{
	return &nf->info;
}

/* ---------------------------------------------------------------- TX */

/* Publish TX and RX requests; notify each channel whose ring asks. */
static int nf_push(struct nf_queue *q, bool tx, bool rx)
{
	bool ntx = tx && ring_front_push_req(&q->tx.f);
	bool nrx = rx && ring_front_push_req(&q->rx.f);
	int rc = 0;

	if (ntx)
		rc = xen_evtchn_notify(q->xe, (uint32_t)q->port_tx);
	if (nrx && (!ntx || q->port_rx != q->port_tx) && !rc)
		rc = xen_evtchn_notify(q->xe, (uint32_t)q->port_rx);
	if (rc)
		return rc;
	return ntx || nrx;
}

static void nf_raw_log(struct nf_queue *q, const struct netif_tx_response *r)
{
	q->raw_out--;
	q->st.raw_rsp++;
	q->raw_log[(q->raw_head + q->raw_n) % NF_RAW_LOG] = *r;
	if (q->raw_n < NF_RAW_LOG)
		q->raw_n++;
	else
		q->raw_head = (q->raw_head + 1) % NF_RAW_LOG;
}

/* One answered slot of ours: free its page, complete its packet. */
static void nf_tx_complete(struct nf_queue *q, uint16_t id, int16_t status)
{
	struct nf_txslot *s = &q->tx_slot[id];
	struct nf_txpkt *p = &q->tx_pkt[s->pkt];

	switch (status) {
	case NETIF_RSP_OKAY:
		q->st.tx_rsp_okay++;
		break;
	case NETIF_RSP_ERROR:
		q->st.tx_rsp_error++;
		break;
	case NETIF_RSP_DROPPED:
		q->st.tx_rsp_dropped++;
		break;
	default:
		nf_violation(q, "TX response id %u with status %d", id, status);
		q->st.tx_rsp_error++;
		status = NETIF_RSP_ERROR;
		break;
	}
	s->pending = false;
	q->tx_free[q->tx_nfree++] = id;
	if (p->status == NETIF_RSP_OKAY)
		p->status = status;
	if (--p->left == 0) {
		q->tx_pkt_free[q->tx_npkt_free++] = s->pkt;
		if (q->nf->cfg.tx_done)
			q->nf->cfg.tx_done(q->nf->cfg.opaque, q->idx, p->tag,
					   p->status);
	}
}

static void nf_tx_rsp(struct nf_queue *q, const struct netif_tx_response *r)
{
	if (r->status == NETIF_RSP_NULL) {
		/* An extra slot's answer; its id is whatever was there. */
		q->st.tx_rsp_null++;
		if (q->tx_extras_out)
			q->tx_extras_out--;
		else if (q->raw_out)
			nf_raw_log(q, r);
		else
			nf_violation(q, "TX NULL response, no extra slot out");
		return;
	}
	if (r->id < q->nf->info.tx_pages && q->tx_slot[r->id].pending) {
		nf_tx_complete(q, r->id, r->status);
		return;
	}
	if (q->raw_out) {
		nf_raw_log(q, r);
		return;
	}
	nf_violation(q, "TX response id %u (status %d) not pending", r->id,
		     r->status);
}

/* Collect every TX response there is. Returns the count, or -EIO. */
static int nf_tx_reap(struct nf_queue *q)
{
	struct netif_tx_response rsp[NF_REAP_BATCH];
	int n, i, done = 0;

	if (q->broken)
		return -EIO;
	for (;;) {
		n = ring_netif_tx_front_fetch_rsp(&q->tx, rsp, NF_REAP_BATCH);
		if (n < 0)
			return nf_break(q, "TX");
		if (n == 0)
			return done;
		for (i = 0; i < n; i++)
			nf_tx_rsp(q, &rsp[i]);
		done += n;
	}
}

static int nf_check_txmeta(struct netfront *nf, size_t len,
			   const struct netfront_txmeta *m)
{
	if (len == 0 || len > NETFRONT_MAX_PKT)
		return nf_fail(-EMSGSIZE, "packet of %zu bytes", len);
	if (m->offset >= NF_PAGE)
		return nf_fail(-EINVAL, "offset %u", m->offset);
	if (m->flags & ~NF_TXF_OFFLOAD)
		return nf_fail(-EINVAL, "TX flags %#x", m->flags);
	switch (m->gso_type) {
	case XEN_NETIF_GSO_TYPE_NONE:
		return 0;
	case XEN_NETIF_GSO_TYPE_TCPV4:
		if (nf->info.be_gso_tcpv4 <= 0)
			return nf_fail(-EOPNOTSUPP, "no feature-gso-tcpv4");
		break;
	case XEN_NETIF_GSO_TYPE_TCPV6:
		if (nf->info.be_gso_tcpv6 <= 0)
			return nf_fail(-EOPNOTSUPP, "no feature-gso-tcpv6");
		break;
	default:
		return nf_fail(-EINVAL, "GSO type %u", m->gso_type);
	}
	if (!m->gso_size)
		return nf_fail(-EINVAL, "GSO size 0");
	return 0;
}

int netfront_send(struct netfront *nf, unsigned int qi, const void *data,
		  size_t len, const struct netfront_txmeta *meta)
{
	static const struct netfront_txmeta none;
	struct nf_queue *q = nf_q(nf, qi);
	const uint8_t *src = data;
	unsigned int nslots, need, i;
	size_t done = 0;
	uint16_t pk;
	bool gso;
	int rc;

	if (!q)
		return nf_fail(-EINVAL, "no queue %u", qi);
	if (!meta)
		meta = &none;
	if (q->broken)
		return nf_fail(-EIO, "queue %u is stopped", qi);
	rc = nf_check_txmeta(nf, len, meta);
	if (rc)
		return rc;
	gso = meta->gso_type != XEN_NETIF_GSO_TYPE_NONE;
	nslots = (unsigned int)((meta->offset + len + NF_PAGE - 1) / NF_PAGE);
	if (nslots > XEN_NETIF_NR_SLOTS_MIN)
		return nf_fail(-EMSGSIZE, "%u slots", nslots);
	need = nslots + gso;
	if (ring_front_free(&q->tx.f) < need || q->tx_nfree < nslots ||
	    !q->tx_npkt_free) {
		if (nf_tx_reap(q) < 0)
			return nf_fail(-EIO, "queue %u is stopped", qi);
		if (ring_front_free(&q->tx.f) < need || q->tx_nfree < nslots ||
		    !q->tx_npkt_free)
			return -EAGAIN;
	}

	pk = q->tx_pkt_free[--q->tx_npkt_free];
	q->tx_pkt[pk] = (struct nf_txpkt){ .left = (uint16_t)nslots,
					   .status = NETIF_RSP_OKAY,
					   .tag = meta->tag };
	for (i = 0; i < nslots; i++) {
		uint16_t id = q->tx_free[--q->tx_nfree];
		unsigned int off = i ? 0 : meta->offset;
		size_t chunk = NF_PAGE - off;
		union ring_netif_tx_req r;

		if (chunk > len - done)
			chunk = len - done;
		if (i == 0 || !(meta->opts & NETFRONT_TX_HEAD_ONLY))
			memcpy(q->tx_pool + (size_t)id * NF_PAGE + off,
			       src + done, chunk);
		done += chunk;
		memset(&r, 0, sizeof(r));
		r.req.gref = q->tx_refs[id];
		r.req.offset = (uint16_t)off;
		r.req.id = id;
		/* The first slot says the whole packet, the others their own.
		 */
		r.req.size = (uint16_t)(i ? chunk : len);
		if (i == 0)
			r.req.flags = meta->flags |
				      (gso ? NETTXF_extra_info : 0);
		if (i + 1 < nslots)
			r.req.flags |= NETTXF_more_data;
		q->tx_slot[id] =
			(struct nf_txslot){ .pending = true, .pkt = pk };
		ring_netif_tx_front_put_req(&q->tx, &r);
		if (i == 0 && gso) {
			memset(&r, 0, sizeof(r));
			r.extra.type = XEN_NETIF_EXTRA_TYPE_GSO;
			r.extra.u.gso.size = meta->gso_size;
			r.extra.u.gso.type = meta->gso_type;
			ring_netif_tx_front_put_req(&q->tx, &r);
			q->tx_extras_out++;
			q->st.tx_extras++;
		}
	}
	q->st.tx_pkts++;
	q->st.tx_bytes += len;
	q->st.tx_slots += nslots;
	if (meta->opts & NETFRONT_TX_MORE)
		return 0;
	rc = nf_push(q, true, false);
	return rc < 0 ? nf_fail(rc, "notify") : 0;
}

int netfront_kick(struct netfront *nf, unsigned int qi)
{
	struct nf_queue *q = nf_q(nf, qi);
	int rc;

	if (!q)
		return nf_fail(-EINVAL, "no queue %u", qi);
	rc = nf_push(q, true, true);
	return rc < 0 ? nf_fail(rc, "notify") : rc;
}

unsigned int netfront_tx_inflight(struct netfront *nf, unsigned int qi)
{
	struct nf_queue *q = nf_q(nf, qi);

	return q ? q->tx.f.req_prod_pvt - q->tx.f.rsp_cons : 0;
}

/* ---------------------------------------------------------------- RX */

static unsigned int nf_rx_posted(const struct nf_queue *q)
{
	return q->rx.f.req_prod_pvt - q->rx.f.rsp_cons;
}

/* Post free RX pages up to the fill level (xennet_alloc_rx_buffers). */
static void nf_rx_refill(struct nf_queue *q)
{
	uint32_t mask = q->rx.f.nr_ents - 1;

	while (q->rx_nfree && ring_front_free(&q->rx.f) &&
	       nf_rx_posted(q) < q->rx_fill) {
		uint32_t idx = q->rx.f.req_prod_pvt;
		uint16_t page = q->rx_free[--q->rx_nfree];
		struct netif_rx_request req = {
			/* As Linux: the id is the ring index. */
			.id = (uint16_t)(idx & mask),
			.gref = q->rx_refs[page],
		};

		q->rx_posted[idx & mask] = (int16_t)page;
		if (q->nf->cfg.rx_canary)
			memset(q->rx_pool + (size_t)page * NF_PAGE,
			       q->nf->cfg.rx_canary, NF_PAGE);
		ring_netif_rx_front_put_req(&q->rx, &req);
	}
}

/*
 * Copy the responses there are off the ring into the stage, each with the
 * page and id we posted at its index (so the index can be posted again
 * before the response is parsed). Returns the count, or -EIO.
 */
static int nf_rx_stage(struct nf_queue *q)
{
	uint32_t mask = q->rx.f.nr_ents - 1, base = q->rx.f.rsp_cons;
	unsigned int keep = q->stage_n - q->stage_pos, i;
	int n;

	if (keep && q->stage_pos) {
		memmove(q->stage, q->stage + q->stage_pos,
			keep * sizeof(*q->stage));
		memmove(q->stage_page, q->stage_page + q->stage_pos,
			keep * sizeof(*q->stage_page));
		memmove(q->stage_id, q->stage_id + q->stage_pos,
			keep * sizeof(*q->stage_id));
	}
	q->stage_pos = 0;
	q->stage_n = keep;
	n = ring_netif_rx_front_fetch_rsp(&q->rx, q->stage + keep,
					  q->rx.f.nr_ents - keep);
	if (n < 0)
		return nf_break(q, "RX");
	for (i = 0; i < (unsigned int)n; i++) {
		uint32_t slot = (base + i) & mask;

		/* fetch_rsp took only indexes we pushed a request at. */
		q->stage_page[keep + i] = q->rx_posted[slot];
		q->stage_id[keep + i] = (uint16_t)slot;
		q->rx_posted[slot] = -1;
	}
	q->stage_n += (unsigned int)n;
	return n;
}

/*
 * Take the next response (staging more if none is staged); its page goes
 * back to the free list at once: it is read before the next refill.
 * 0, -ENOENT if there is none, -EIO.
 */
static int nf_rx_take(struct nf_queue *q, union ring_netif_rx_rsp *r,
		      const uint8_t **page, uint16_t *id)
{
	int16_t p;

	if (q->stage_pos == q->stage_n) {
		int n = nf_rx_stage(q);

		if (n < 0)
			return n;
		if (n == 0)
			return -ENOENT;
	}
	*r = q->stage[q->stage_pos];
	*id = q->stage_id[q->stage_pos];
	p = q->stage_page[q->stage_pos++];
	*page = NULL;
	if (p >= 0) {
		*page = q->rx_pool + (size_t)p * NF_PAGE;
		q->rx_free[q->rx_nfree++] = (uint16_t)p;
	}
	return 0;
}

/* One packet being taken off the RX ring. */
struct nf_rxpkt {
	struct nf_queue *q;
	struct netfront_rxmeta *m;
	size_t len;
	unsigned int slots, max;
	bool bad; /* a violation was counted: drop */
	bool err; /* the backend answered an error: drop */
};

/* Count the packet's first violation only; drop it. */
static void __attribute__((format(printf, 2, 3)))
nf_rx_bad(struct nf_rxpkt *p, const char *fmt, ...)
{
	va_list ap;

	if (p->bad)
		return;
	p->bad = true;
	va_start(ap, fmt);
	nf_vviolation(p->q, fmt, ap);
	va_end(ap);
}

/* Bytes of @page[@from..@to) that are not the canary: 0 if all are. */
static bool nf_canary_ok(const uint8_t *page, unsigned int from,
			 unsigned int to, uint8_t canary)
{
	for (unsigned int i = from; i < to; i++)
		if (page[i] != canary)
			return false;
	return true;
}

/*
 * rx_canary: the backend may have written @page[@off..@off+@len) only.
 * A page it should not have touched at all: @len 0.
 */
static void nf_rx_canary(struct nf_rxpkt *p, const uint8_t *page,
			 unsigned int off, unsigned int len)
{
	uint8_t c = p->q->nf->cfg.rx_canary;

	if (!c || !page)
		return;
	p->q->st.rx_canary_checked++;
	if (!nf_canary_ok(page, 0, off, c) ||
	    !nf_canary_ok(page, off + len, NF_PAGE, c)) {
		p->q->st.rx_leaks++;
		nf_rx_bad(p,
			  "RX leak: bytes written outside [%u, %u) of a "
			  "buffer page",
			  off, off + len);
	}
}

/* Check one data slot and append its bytes (xennet_get_responses). */
static void nf_rx_data(struct nf_rxpkt *p, const struct netif_rx_response *r,
		       const uint8_t *page, uint16_t id)
{
	int st = r->status;

	p->slots++;
	if (p->slots > p->max)
		nf_rx_bad(p, "RX packet of more than %u slots", p->max);
	if (r->id != id)
		nf_rx_bad(p, "RX response id %u at the request of id %u", r->id,
			  id);
	if (r->flags & ~NF_RXF_KNOWN)
		nf_rx_bad(p, "RX flags %#x", r->flags);
	if (p->slots > 1 && (r->flags & NETRXF_extra_info))
		nf_rx_bad(p, "RX extra_info on slot %u", p->slots);
	if (st < 0) {
		if (st == NETIF_RSP_ERROR || st == NETIF_RSP_DROPPED)
			p->err = true;
		else
			nf_rx_bad(p, "RX status %d", st);
		return;
	}
	/* Never read past the page, whatever the backend says. */
	if ((unsigned int)r->offset + (unsigned int)st > NF_PAGE) {
		nf_rx_bad(p, "RX offset %u + size %d beyond the page",
			  r->offset, st);
		return;
	}
	nf_rx_canary(p, page, r->offset, (unsigned int)st);
	if (p->bad || p->err || !page)
		return;
	memcpy(p->q->pkt + p->len, page + r->offset, (size_t)st);
	p->len += (size_t)st;
}

/* The extra-info slots after the first data slot (xennet_get_extras). */
static int nf_rx_extras(struct nf_rxpkt *p)
{
	struct netfront_info *in = &p->q->nf->info;
	union ring_netif_rx_rsp r;
	const struct netif_extra_info *e = &r.extra;
	const uint8_t *page;
	uint16_t id;
	int rc;

	do {
		rc = nf_rx_take(p->q, &r, &page, &id);
		if (rc == -ENOENT)
			nf_rx_bad(p, "RX extra info missing at rsp_prod");
		if (rc)
			return rc;
		/* An extra slot's buffer carries nothing: untouched. */
		nf_rx_canary(p, page, 0, 0);
		switch (e->type) {
		case XEN_NETIF_EXTRA_TYPE_GSO:
			if (p->q->nf->cfg.rx_canary &&
			    (e->u.gso.pad || e->u.gso.features)) {
				p->q->st.rx_leaks++;
				nf_rx_bad(p,
					  "RX leak: GSO extra padding %#x "
					  "features %#x",
					  e->u.gso.pad, e->u.gso.features);
			}
			if ((e->u.gso.type == XEN_NETIF_GSO_TYPE_TCPV4 &&
			     !in->gso_tcpv4) ||
			    (e->u.gso.type == XEN_NETIF_GSO_TYPE_TCPV6 &&
			     !in->gso_tcpv6))
				nf_rx_bad(p,
					  "RX GSO type %u we did not ask for",
					  e->u.gso.type);
			else if (e->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
				 e->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6)
				nf_rx_bad(p, "RX GSO type %u", e->u.gso.type);
			else if (!e->u.gso.size)
				nf_rx_bad(p, "RX GSO size 0");
			p->m->gso_type = e->u.gso.type;
			p->m->gso_size = e->u.gso.size;
			break;
		case XEN_NETIF_EXTRA_TYPE_HASH:
			p->m->has_hash = true;
			p->m->hash_type = e->u.hash.type;
			p->m->hash_alg = e->u.hash.algorithm;
			memcpy(&p->m->hash, e->u.hash.value, 4);
			break;
		case XEN_NETIF_EXTRA_TYPE_MCAST_ADD:
		case XEN_NETIF_EXTRA_TYPE_MCAST_DEL:
			break; /* meaningless on RX; Linux ignores them too */
		case NF_EXTRA_TYPE_XDP: {
			uint16_t hr;

			/* Linux's netif.h: u.xdp.headroom, the first u16. */
			memcpy(&hr, &e->u, sizeof(hr));
			if (p->q->nf->cfg.rx_canary &&
			    (e->u.pad[1] || e->u.pad[2])) {
				p->q->st.rx_leaks++;
				nf_rx_bad(p, "RX leak: XDP extra padding");
			}
			if (!in->xdp_headroom)
				nf_rx_bad(p, "RX XDP extra we did not ask for");
			else if (hr != in->xdp_headroom)
				nf_rx_bad(p, "RX XDP headroom %u, not %u", hr,
					  in->xdp_headroom);
			p->m->has_xdp = true;
			p->m->xdp_headroom = hr;
			break;
		}
		default:
			nf_rx_bad(p, "RX extra type %u", e->type);
			break;
		}
	} while (e->flags & XEN_NETIF_EXTRA_FLAG_MORE);
	return 0;
}

/*
 * Take one packet off the RX ring into q->pkt. 1 with *@len and @m filled,
 * 0 if no response is there, -EAGAIN if one was dropped (counted), -EIO.
 */
static int nf_rx_one(struct nf_queue *q, size_t *len, struct netfront_rxmeta *m)
{
	struct nf_rxpkt p = { .q = q, .m = m };
	union ring_netif_rx_rsp r;
	const uint8_t *page;
	uint16_t id;
	int rc;

	if (q->broken)
		return -EIO;
	rc = nf_rx_take(q, &r, &page, &id);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	memset(m, 0, sizeof(*m));
	m->flags = r.rsp.flags & (NETRXF_data_validated | NETRXF_csum_blank);
	m->offset = r.rsp.offset;
	/* Linux allows one slot more when it pulls a small head. */
	p.max = XEN_NETIF_NR_SLOTS_MIN +
		(r.rsp.status <= NF_RX_COPY_THRESHOLD ? 1 : 0);
	for (;;) {
		nf_rx_data(&p, &r.rsp, page, id);
		if (p.slots == 1 && (r.rsp.flags & NETRXF_extra_info)) {
			rc = nf_rx_extras(&p);
			if (rc == -EIO)
				return rc;
			if (rc)
				break;
		}
		if (!(r.rsp.flags & NETRXF_more_data))
			break;
		rc = nf_rx_take(q, &r, &page, &id);
		if (rc == -EIO)
			return rc;
		if (rc) {
			nf_rx_bad(&p, "RX more_data chain runs past rsp_prod");
			break;
		}
	}
	if (!p.bad && !p.err && p.len == 0)
		nf_rx_bad(&p, "RX packet of 0 bytes");
	if (p.bad) {
		q->st.rx_dropped++;
		return -EAGAIN;
	}
	if (p.err) {
		q->st.rx_errors++;
		return -EAGAIN;
	}
	m->slots = p.slots;
	q->st.rx_pkts++;
	q->st.rx_bytes += p.len;
	if (m->gso_type)
		q->st.rx_gso++;
	*len = p.len;
	return 1;
}

static int nf_rx_refill_push(struct nf_queue *q)
{
	int rc;

	nf_rx_refill(q);
	rc = nf_push(q, false, true);
	return rc < 0 ? nf_fail(rc, "notify") : 0;
}

int netfront_poll(struct netfront *nf, unsigned int qi, netfront_rx_fn fn,
		  void *arg, unsigned int budget)
{
	struct nf_queue *q = nf_q(nf, qi);
	struct netfront_rxmeta m;
	unsigned int n = 0;
	size_t len;
	int rc;

	if (!q)
		return nf_fail(-EINVAL, "no queue %u", qi);
	if (nf_tx_reap(q) < 0)
		return nf_fail(-EIO, "queue %u is stopped", qi);
	while (!budget || n < budget) {
		rc = nf_rx_one(q, &len, &m);
		if (rc == 0)
			break;
		if (rc == -EAGAIN)
			continue;
		if (rc < 0)
			return nf_fail(rc, "queue %u is stopped", qi);
		if (fn)
			fn(arg, qi, q->pkt, len, &m);
		n++;
	}
	rc = nf_rx_refill_push(q);
	return rc < 0 ? rc : (int)n;
}

int netfront_recv(struct netfront *nf, unsigned int qi, void *buf, size_t cap,
		  struct netfront_rxmeta *meta, int timeout_ms)
{
	struct nf_queue *q = nf_q(nf, qi);
	long deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct netfront_rxmeta m;
	size_t len;
	int rc;

	if (!q)
		return nf_fail(-EINVAL, "no queue %u", qi);
	for (;;) {
		long left;

		if (nf_tx_reap(q) < 0)
			return nf_fail(-EIO, "queue %u is stopped", qi);
		rc = nf_rx_one(q, &len, &m);
		if (rc == -EAGAIN)
			continue;
		if (rc < 0)
			return nf_fail(rc, "queue %u is stopped", qi);
		if (nf_rx_refill_push(q))
			return -EIO;
		if (rc == 1) {
			if (meta)
				*meta = m;
			if (len > cap)
				return nf_fail(-EMSGSIZE, "packet of %zu bytes",
					       len);
			memcpy(buf, q->pkt, len);
			return (int)len;
		}
		left = deadline - mono_ms();
		if (timeout_ms == 0 || (timeout_ms > 0 && left <= 0))
			return -ETIMEDOUT;
		rc = netfront_wait(nf, qi, timeout_ms < 0 ? -1 : (int)left);
		if (rc < 0)
			return rc;
	}
}

int netfront_wait(struct netfront *nf, unsigned int qi, int timeout_ms)
{
	struct nf_queue *q = nf_q(nf, qi);
	struct pollfd pfd;
	int rc, port;

	if (!q)
		return nf_fail(-EINVAL, "no queue %u", qi);
	if (q->broken)
		return nf_fail(-EIO, "queue %u is stopped", qi);
	if (q->stage_pos < q->stage_n)
		return 1;
	/* Arm rsp_event on both rings, then look once more (a response
	 * that raced with us is either seen here or notified). */
	rc = ring_front_final_check(&q->tx.f);
	if (rc)
		return rc < 0 ? nf_break(q, "TX") : 1;
	rc = ring_front_final_check(&q->rx.f);
	if (rc)
		return rc < 0 ? nf_break(q, "RX") : 1;
	pfd.fd = xen_evtchn_fd(q->xe);
	pfd.events = POLLIN;
	rc = poll(&pfd, 1, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 1 : nf_fail(-errno, "poll");
	if (rc == 0)
		return 0;
	port = xen_evtchn_pending(q->xe);
	if (port < 0)
		return nf_fail(port, "evtchn pending");
	rc = xen_evtchn_unmask(q->xe, (uint32_t)port);
	return rc ? nf_fail(rc, "evtchn unmask") : 1;
}

int netfront_fd(struct netfront *nf, unsigned int qi)
{
	struct nf_queue *q = nf_q(nf, qi);

	return q ? xen_evtchn_fd(q->xe) : -EINVAL;
}

void netfront_stats(const struct netfront *nf, unsigned int qi,
		    struct netfront_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!nf || qi >= nf->info.num_queues)
		return;
	*out = nf->q[qi].st;
	out->violations =
		__atomic_load_n(&nf->q[qi].st.violations, __ATOMIC_RELAXED);
}

unsigned long netfront_violations(const struct netfront *nf, char *last,
				  size_t len)
{
	unsigned long n = 0, seq = 0;
	unsigned int i;

	if (last && len)
		last[0] = '\0';
	if (!nf)
		return 0;
	for (i = 0; i < nf->nq; i++) {
		const struct nf_queue *q = &nf->q[i];

		n += __atomic_load_n(&q->st.violations, __ATOMIC_RELAXED);
		if (last && len && q->last_seq > seq) {
			seq = q->last_seq;
			snprintf(last, len, "q%u: %s", i, q->last);
		}
	}
	return n;
}

/* --------------------------------------------- the guest's interface */

/*
 * The TAP mode: one pump thread per queue between a TAP queue of the
 * guest's network namespace and the queue's rings. The packets' offload
 * metadata crosses the TAP as a virtio-net header (native byte order).
 */
#define NF_TAP_BUDGET 64u
/* Netfront's TSO cap: the wire's 64 KiB less room for headers. */
#define NF_TAP_GSO_MAX 62000u
#define NF_TAP_BUF (65536u + 4096u)

struct nf_tapq {
	struct netfront_tap *t;
	unsigned int idx;
	int fd;
	pthread_t tid;
	bool started;
	uint8_t *buf;	/* a packet from the interface */
	size_t pending; /* its length; 0: none waits */
	struct netfront_txmeta meta;
	uint8_t *wbuf; /* a received packet we must touch */
	struct netfront_tap_stats st;
};

struct netfront_tap {
	struct netfront *nf;
	char ifname[IFNAMSIZ];
	int stop_fd;
	volatile int stop;
	unsigned int nq;
	struct nf_tapq *q;
};

static void nf_tap_count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/*
 * The kernel's packet and virtio-net header into netfront metadata, as
 * xennet_start_xmit does with an skb: CHECKSUM_PARTIAL is csum_blank +
 * data_validated where the backend can finish it, else we finish it here.
 * false: drop it.
 */
static bool nf_tap_txmeta(struct nf_tapq *tq, const struct virtio_net_hdr *h,
			  uint8_t *p, size_t len)
{
	const struct netfront_info *in = &tq->t->nf->info;
	struct netfront_txmeta *m = &tq->meta;
	struct pkt_l4 l;

	memset(m, 0, sizeof(*m));
	m->opts = NETFRONT_TX_MORE;
	switch (h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		m->gso_type = XEN_NETIF_GSO_TYPE_TCPV4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		m->gso_type = XEN_NETIF_GSO_TYPE_TCPV6;
		break;
	default:
		return false;
	}
	m->gso_size = m->gso_type ? h->gso_size : 0;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		bool ok = !pkt_parse_l4(p, len, &l) && h->csum_start == l.l4 &&
			  h->csum_offset == l.csum_off;

		if (ok && (!l.ipv6 || in->be_ipv6_csum > 0)) {
			m->flags = NETTXF_csum_blank | NETTXF_data_validated;
		} else {
			if (m->gso_type ||
			    pkt_csum_complete(p, len, h->csum_start,
					      h->csum_offset))
				return false;
			m->flags = NETTXF_data_validated;
			nf_tap_count(&tq->st.csum_sw);
		}
	} else if (h->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
		m->flags = NETTXF_data_validated;
	}
	return true;
}

/* The interface -> the TX ring; returns the packets put, or -EAGAIN when
 * the ring is full with one packet waiting. */
static int nf_tap_to_ring(struct nf_tapq *tq)
{
	struct netfront *nf = tq->t->nf;
	unsigned int n = 0;

	while (n < NF_TAP_BUDGET) {
		int rc;

		if (!tq->pending) {
			struct virtio_net_hdr h;
			struct iovec iov[2] = {
				{ &h, sizeof(h) },
				{ tq->buf, NF_TAP_BUF },
			};
			ssize_t r = readv(tq->fd, iov, 2);

			if (r < 0 || (size_t)r <= sizeof(h))
				break;
			r -= (ssize_t)sizeof(h);
			if (!nf_tap_txmeta(tq, &h, tq->buf, (size_t)r)) {
				nf_tap_count(&tq->st.to_ring_dropped);
				continue;
			}
			tq->pending = (size_t)r;
		}
		rc = netfront_send(nf, tq->idx, tq->buf, tq->pending,
				   &tq->meta);
		if (rc == -EAGAIN)
			return -EAGAIN;
		tq->pending = 0;
		if (rc)
			nf_tap_count(&tq->st.to_ring_dropped);
		else
			nf_tap_count(&tq->st.to_ring);
		n++;
	}
	return (int)n;
}

/* A received packet -> the interface (xennet_poll + skb_checksum_setup). */
static void nf_tap_rx(void *arg, unsigned int qi, const void *data, size_t len,
		      const struct netfront_rxmeta *m)
{
	struct nf_tapq *tq = arg;
	struct virtio_net_hdr h;
	const uint8_t *p = data;
	struct pkt_l4 l;
	bool parsed = false;
	struct iovec iov[2];

	memset(&h, 0, sizeof(h));
	if ((m->flags & NETRXF_csum_blank) || m->gso_type) {
		if (pkt_parse_l4(p, len, &l)) {
			/* Netfront cannot set up the checksum: dropped. */
			nf_tap_count(&tq->st.to_kernel_dropped);
			return;
		}
		parsed = true;
	}
	if (m->flags & NETRXF_csum_blank) {
		h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.csum_start = l.l4;
		h.csum_offset = l.csum_off;
	} else if (m->flags & NETRXF_data_validated) {
		h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	}
	if (m->gso_type && parsed) {
		if (l.proto != PKT_PROTO_TCP ||
		    l.ipv6 != (m->gso_type == XEN_NETIF_GSO_TYPE_TCPV6)) {
			nf_tap_count(&tq->st.to_kernel_dropped);
			return;
		}
		h.gso_type = l.ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6
				    : VIRTIO_NET_HDR_GSO_TCPV4;
		h.gso_size = m->gso_size;
		h.hdr_len = (uint16_t)(l.l4 + l.l4_hlen);
		if (!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
			/* GSO is a partial checksum, whatever was said. */
			memcpy(tq->wbuf, data, len);
			pkt_csum_seed(tq->wbuf, len, &l);
			p = tq->wbuf;
			h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
			h.csum_start = l.l4;
			h.csum_offset = l.csum_off;
		}
	}
	iov[0] = (struct iovec){ &h, sizeof(h) };
	iov[1] = (struct iovec){ (void *)p, len };
	if (writev(tq->fd, iov, 2) < 0)
		nf_tap_count(&tq->st.to_kernel_dropped);
	else
		nf_tap_count(&tq->st.to_kernel);
}

/* Arm both rings, then sleep on the channel, the interface, the stop. */
static void nf_tap_wait(struct nf_tapq *tq, bool want_tap)
{
	struct nf_queue *q = &tq->t->nf->q[tq->idx];
	struct pollfd pfd[3];
	int port;

	if (q->stage_pos < q->stage_n)
		return;
	if (!q->broken && (ring_front_final_check(&q->tx.f) ||
			   ring_front_final_check(&q->rx.f)))
		return;
	pfd[0] =
		(struct pollfd){ .fd = xen_evtchn_fd(q->xe), .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = tq->t->stop_fd, .events = POLLIN };
	pfd[2] = (struct pollfd){ .fd = tq->fd, .events = POLLIN };
	if (poll(pfd, want_tap && !q->broken ? 3 : 2, 1000) <= 0)
		return;
	if (pfd[0].revents & POLLIN) {
		port = xen_evtchn_pending(q->xe);
		if (port >= 0)
			xen_evtchn_unmask(q->xe, (uint32_t)port);
	}
}

static void *nf_tap_pump(void *arg)
{
	struct nf_tapq *tq = arg;
	struct netfront *nf = tq->t->nf;

	while (!__atomic_load_n(&tq->t->stop, __ATOMIC_ACQUIRE)) {
		int sent, got;

		if (nf->q[tq->idx].broken) {
			nf_tap_wait(tq, false);
			continue;
		}
		sent = nf_tap_to_ring(tq);
		netfront_kick(nf, tq->idx);
		got = netfront_poll(nf, tq->idx, nf_tap_rx, tq, NF_TAP_BUDGET);
		if (sent == (int)NF_TAP_BUDGET || got == (int)NF_TAP_BUDGET)
			continue;
		nf_tap_wait(tq, sent != -EAGAIN);
	}
	return NULL;
}

/* The interface's TSO size, by rtnetlink (IFLA_GSO_MAX_SIZE). */
static int nf_tap_gso_max(const char *ifname, uint32_t size)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
		struct rtattr rta;
		uint32_t val;
	} req;
	struct {
		struct nlmsghdr nh;
		struct nlmsgerr err;
	} ack;
	int s, rc;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = RTM_NEWLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = (int)if_nametoindex(ifname);
	req.rta.rta_type = IFLA_GSO_MAX_SIZE;
	req.rta.rta_len = RTA_LENGTH(sizeof(uint32_t));
	req.val = size;
	if (!req.ifi.ifi_index)
		return -errno;
	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	rc = send(s, &req, sizeof(req), 0) < 0 ? -errno : 0;
	if (!rc && recv(s, &ack, sizeof(ack), 0) < (ssize_t)sizeof(ack.nh))
		rc = -EIO;
	if (!rc && ack.nh.nlmsg_type == NLMSG_ERROR)
		rc = ack.err.error;
	close(s);
	return rc;
}

static int nf_tap_open(const char *ifname)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

void netfront_tap_stop(struct netfront_tap *t)
{
	if (!t)
		return;
	__atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
	if (t->stop_fd >= 0 && eventfd_write(t->stop_fd, 1))
		fprintf(stderr, "netfront: cannot wake the pumps\n");
	for (unsigned int i = 0; i < t->nq; i++) {
		struct nf_tapq *tq = &t->q[i];

		if (tq->started)
			pthread_join(tq->tid, NULL);
		if (tq->fd >= 0)
			close(tq->fd);
		free(tq->buf);
		free(tq->wbuf);
	}
	if (t->stop_fd >= 0)
		close(t->stop_fd);
	free(t->q);
	free(t);
}

int netfront_tap_start(struct netfront *nf, const char *ifname,
		       struct netfront_tap **out)
{
	const struct netfront_info *in = &nf->info;
	struct netfront_tap *t;
	unsigned long offl = TUN_F_CSUM;
	struct ifreq ifr;
	int hdr = (int)sizeof(struct virtio_net_hdr), rc;

	if (!ifname[0] || strlen(ifname) >= IFNAMSIZ)
		return nf_fail(-EINVAL, "bad interface name '%s'", ifname);
	t = calloc(1, sizeof(*t));
	if (!t)
		return nf_fail(-ENOMEM, "memory");
	t->nf = nf;
	t->stop_fd = -1;
	snprintf(t->ifname, sizeof(t->ifname), "%s", ifname);
	t->q = calloc(in->num_queues, sizeof(*t->q));
	if (!t->q) {
		free(t);
		return nf_fail(-ENOMEM, "memory");
	}
	t->nq = in->num_queues;
	for (unsigned int i = 0; i < t->nq; i++)
		t->q[i].fd = -1;
	for (unsigned int i = 0; i < t->nq; i++) {
		struct nf_tapq *tq = &t->q[i];

		tq->t = t;
		tq->idx = i;
		tq->fd = nf_tap_open(ifname);
		tq->buf = malloc(NF_TAP_BUF);
		tq->wbuf = malloc(NETFRONT_RX_MAX_PKT);
		if (tq->fd < 0) {
			rc = nf_fail(tq->fd, "TAP %s queue %u: %s", ifname, i,
				     strerror(-tq->fd));
			goto err_stop;
		}
		if (!tq->buf || !tq->wbuf) {
			rc = nf_fail(-ENOMEM, "memory");
			goto err_stop;
		}
	}
	/* What the kernel may hand us: what both ends said (the IPv4
	 * checksum always, as netfront's NETIF_F_IP_CSUM; GSO only with SG,
	 * when we asked for it too). */
	if (in->sg && in->be_sg > 0 && in->gso_tcpv4 && in->be_gso_tcpv4 > 0)
		offl |= TUN_F_TSO4;
	if (in->sg && in->be_sg > 0 && in->gso_tcpv6 && in->be_gso_tcpv6 > 0 &&
	    in->be_ipv6_csum > 0)
		offl |= TUN_F_TSO6;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, in->mac, 6);
	if (ioctl(t->q[0].fd, TUNSETVNETHDRSZ, &hdr) ||
	    ioctl(t->q[0].fd, TUNSETOFFLOAD, offl) ||
	    (in->have_mac && ioctl(t->q[0].fd, SIOCSIFHWADDR, &ifr))) {
		rc = nf_fail(-errno, "TAP %s setup: %s", ifname,
			     strerror(errno));
		goto err_stop;
	}
	rc = nf_tap_gso_max(ifname, NF_TAP_GSO_MAX);
	if (rc) {
		rc = nf_fail(rc, "TAP %s gso_max_size: %s", ifname,
			     strerror(-rc));
		goto err_stop;
	}
	t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->stop_fd < 0) {
		rc = nf_fail(-errno, "eventfd");
		goto err_stop;
	}
	for (unsigned int i = 0; i < t->nq; i++) {
		rc = -pthread_create(&t->q[i].tid, NULL, nf_tap_pump, &t->q[i]);
		if (rc) {
			rc = nf_fail(rc, "pump thread");
			goto err_stop;
		}
		t->q[i].started = true;
	}
	*out = t;
	return 0;

err_stop:
	netfront_tap_stop(t);
	return rc;
}

void netfront_tap_stats(const struct netfront_tap *t,
			struct netfront_tap_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned int i = 0; t && i < t->nq; i++) {
		const uint64_t *f = (const uint64_t *)&t->q[i].st;
		uint64_t *o = (uint64_t *)out;

		for (size_t k = 0; k < sizeof(*out) / sizeof(uint64_t); k++)
			o[k] += __atomic_load_n(&f[k], __ATOMIC_RELAXED);
	}
}

/* ------------------------------------------------------------- hooks */

int netfront_tx_put_raw(struct netfront *nf, unsigned int qi,
			const union ring_netif_tx_req *slots, unsigned int n,
			bool more)
{
	struct nf_queue *q = nf_q(nf, qi);
	unsigned int i;
	int rc;

	if (!q)
		return nf_fail(-EINVAL, "no queue %u", qi);
	if (q->broken)
		return nf_fail(-EIO, "queue %u is stopped", qi);
	if (ring_front_free(&q->tx.f) < n) {
		nf_tx_reap(q);
		if (ring_front_free(&q->tx.f) < n)
			return nf_fail(-ENOSPC, "%u free TX slots",
				       ring_front_free(&q->tx.f));
	}
	for (i = 0; i < n; i++)
		ring_netif_tx_front_put_req(&q->tx, &slots[i]);
	q->raw_out += n;
	if (more)
		return 0;
	rc = nf_push(q, true, false);
	return rc < 0 ? nf_fail(rc, "notify") : 0;
}

int netfront_tx_raw_responses(struct netfront *nf, unsigned int qi,
			      struct netif_tx_response *out, unsigned int max)
{
	struct nf_queue *q = nf_q(nf, qi);
	unsigned int n = 0;

	if (!q)
		return nf_fail(-EINVAL, "no queue %u", qi);
	while (n < max && q->raw_n) {
		out[n++] = q->raw_log[q->raw_head];
		q->raw_head = (q->raw_head + 1) % NF_RAW_LOG;
		q->raw_n--;
	}
	return (int)n;
}

void *netfront_tx_scratch(struct netfront *nf, unsigned int qi, uint32_t *gref)
{
	struct nf_queue *q = nf_q(nf, qi);

	if (!q)
		return NULL;
	*gref = q->scratch_ref;
	return q->scratch;
}

struct ring_front *netfront_ring(struct netfront *nf, unsigned int qi,
				 int which)
{
	struct nf_queue *q = nf_q(nf, qi);

	if (!q)
		return NULL;
	return which == NETFRONT_RX ? &q->rx.f : &q->tx.f;
}

int netfront_notify(struct netfront *nf, unsigned int qi, int which)
{
	struct nf_queue *q = nf_q(nf, qi);

	if (!q)
		return nf_fail(-EINVAL, "no queue %u", qi);
	return xen_evtchn_notify(q->xe,
				 (uint32_t)(which == NETFRONT_RX ? q->port_rx
								 : q->port_tx));
}

int netfront_rx_set_fill(struct netfront *nf, unsigned int qi, unsigned int n)
{
	struct nf_queue *q = nf_q(nf, qi);

	if (!q)
		return nf_fail(-EINVAL, "no queue %u", qi);
	if (n > nf->info.rx_pages)
		n = nf->info.rx_pages;
	q->rx_fill = n;
	nf_rx_refill_push(q);
	return (int)n;
}

/* ------------------------------------------------------ control ring */

int netfront_ctrl_send(struct netfront *nf,
		       const struct xen_netif_ctrl_request *reqs,
		       unsigned int n)
{
	if (!nf->info.ctrl_ring)
		return nf_fail(-ENOTCONN, "no control ring");
	if (ring_front_free(&nf->cr.f) < n)
		return -ENOSPC;
	for (unsigned int i = 0; i < n; i++)
		ring_netif_ctrl_front_put_req(&nf->cr, &reqs[i]);
	ring_front_push_req(&nf->cr.f);
	/* Always notify: the backend serves the ring on events only. */
	return xen_evtchn_notify(nf->cxe, (uint32_t)nf->cport);
}

int netfront_ctrl_collect(struct netfront *nf,
			  struct xen_netif_ctrl_response *out, unsigned int max,
			  unsigned int want, int timeout_ms)
{
	long end = mono_ms() + timeout_ms;
	unsigned int got = 0;

	if (!nf->info.ctrl_ring)
		return nf_fail(-ENOTCONN, "no control ring");
	for (;;) {
		int n = ring_netif_ctrl_front_fetch_rsp(&nf->cr, out + got,
							max - got);

		if (n < 0)
			return nf_fail(n, "control ring: rsp_prod overflow");
		got += (unsigned int)n;
		if (got >= want || got >= max || mono_ms() >= end)
			break;
		if (n == 0) {
			struct pollfd pfd = {
				.fd = xen_evtchn_fd(nf->cxe),
				.events = POLLIN,
			};

			if (ring_front_final_check(&nf->cr.f) != 0)
				continue;
			if (poll(&pfd, 1, 10) > 0) {
				int port = xen_evtchn_pending(nf->cxe);

				if (port >= 0)
					xen_evtchn_unmask(nf->cxe,
							  (uint32_t)port);
			}
		}
	}
	return (int)got;
}

int netfront_ctrl(struct netfront *nf, uint16_t type, uint32_t d0, uint32_t d1,
		  uint32_t d2, uint32_t *data)
{
	struct xen_netif_ctrl_request req;
	struct xen_netif_ctrl_response rsp;
	int rc;

	memset(&req, 0, sizeof(req));
	req.id = nf->cid++;
	req.type = type;
	req.data[0] = d0;
	req.data[1] = d1;
	req.data[2] = d2;
	rc = netfront_ctrl_send(nf, &req, 1);
	if (rc)
		return rc;
	rc = netfront_ctrl_collect(nf, &rsp, 1, 1, (int)nf->cfg.timeout_ms);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return nf_fail(-ETIMEDOUT, "no control response");
	if (rsp.id != req.id || rsp.type != req.type)
		return nf_fail(-EIO,
			       "control response id %u type %u for "
			       "id %u type %u",
			       rsp.id, rsp.type, req.id, req.type);
	if (data)
		*data = rsp.data;
	return (int)rsp.status;
}

struct ring_front *netfront_ctrl_ring(struct netfront *nf)
{
	return nf->info.ctrl_ring ? &nf->cr.f : NULL;
}

int netfront_ctrl_notify(struct netfront *nf)
{
	if (!nf->info.ctrl_ring)
		return nf_fail(-ENOTCONN, "no control ring");
	return xen_evtchn_notify(nf->cxe, (uint32_t)nf->cport);
}

void *netfront_ctrl_page(struct netfront *nf, uint32_t *gref)
{
	if (!nf->info.ctrl_ring)
		return NULL;
	*gref = nf->cpage_ref;
	return nf->cpage;
}

/* The control ring and its table page, its event channel. */
static int nf_ctrl_setup(struct netfront *nf)
{
	unsigned int be = nf->info.be_domid;
	int rc;

	rc = xen_gntshr_share(nf->gs, be, 1, 1, &nf->cring_ref, &nf->cring);
	if (rc)
		return nf_fail(rc, "share the control ring");
	if (ring_netif_ctrl_front_init(&nf->cr, nf->cring, 1))
		return nf_fail(-EINVAL, "control ring init");
	rc = xen_gntshr_share(nf->gs, be, 1, 0, &nf->cpage_ref, &nf->cpage);
	if (rc)
		return nf_fail(rc, "share the control table page");
	rc = xen_evtchn_open(&nf->cxe);
	if (rc)
		return nf_fail(rc, "control evtchn open");
	nf->cport = xen_evtchn_alloc_unbound(nf->cxe, be);
	if (nf->cport < 0)
		return nf_fail(nf->cport, "control event channel");
	nf->info.ctrl_ring = true;
	return 0;
}

/* ------------------------------------------------------- control plane */

/* A backend key as a number; -1 if absent or not a number. */
static long nf_be_long(struct netfront *nf, const char *key)
{
	unsigned long v;

	if (xfront_read_be_uint(&nf->xf, key, 0xFFFFFFFFUL, &v))
		return -1;
	return (long)v;
}

static void nf_read_fe(struct netfront *nf)
{
	struct netfront_info *in = &nf->info;
	char p[300], *v = NULL;
	unsigned int m[6];
	unsigned long t;

	snprintf(p, sizeof(p), "%s/trusted", in->fe_path);
	in->trusted = xen_store_read_uint(nf->xf.xs, XEN_TXN_NONE, p, 1, &t) ||
		      t;
	snprintf(p, sizeof(p), "%s/mac", in->fe_path);
	if (xen_store_read(nf->xf.xs, XEN_TXN_NONE, p, &v, NULL))
		return;
	if (sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x", &m[0], &m[1], &m[2], &m[3],
		   &m[4], &m[5]) == 6) {
		for (int i = 0; i < 6; i++)
			in->mac[i] = (uint8_t)m[i];
		in->have_mac = true;
	}
	free(v);
}

static void nf_read_be(struct netfront *nf)
{
	struct netfront_info *in = &nf->info;

	in->be_rx_copy = nf_be_long(nf, "feature-rx-copy");
	in->be_rx_flip = nf_be_long(nf, "feature-rx-flip");
	in->be_sg = nf_be_long(nf, "feature-sg");
	in->be_gso_tcpv4 = nf_be_long(nf, "feature-gso-tcpv4");
	in->be_gso_tcpv6 = nf_be_long(nf, "feature-gso-tcpv6");
	in->be_ipv6_csum = nf_be_long(nf, "feature-ipv6-csum-offload");
	in->be_split = nf_be_long(nf, "feature-split-event-channels");
	in->be_max_queues = nf_be_long(nf, "multi-queue-max-queues");
	in->be_ctrl_ring = nf_be_long(nf, "feature-ctrl-ring");
	in->be_multicast = nf_be_long(nf, "feature-multicast-control");
	in->be_dynamic_multicast =
		nf_be_long(nf, "feature-dynamic-multicast-control");
	in->be_xdp_headroom = nf_be_long(nf, "feature-xdp-headroom");
}

static void nf_queue_free(struct netfront *nf, struct nf_queue *q, bool unshare)
{
	if (unshare && nf->gs) {
		if (q->rings)
			xen_gntshr_unshare(nf->gs, q->rings, 2);
		if (q->tx_pool)
			xen_gntshr_unshare(nf->gs, q->tx_pool,
					   nf->info.tx_pages);
		if (q->rx_pool)
			xen_gntshr_unshare(nf->gs, q->rx_pool,
					   nf->info.rx_pages);
		if (q->scratch)
			xen_gntshr_unshare(nf->gs, q->scratch, 1);
	}
	xen_evtchn_close(q->xe); /* unbinds our ports */
	free(q->tx_refs);
	free(q->tx_slot);
	free(q->tx_free);
	free(q->tx_pkt);
	free(q->tx_pkt_free);
	free(q->raw_log);
	free(q->rx_refs);
	free(q->rx_free);
	free(q->rx_posted);
	free(q->stage);
	free(q->stage_page);
	free(q->stage_id);
	free(q->pkt);
	memset(q, 0, sizeof(*q));
}

/* Rings, pools, ports and bookkeeping of one queue. */
static int nf_queue_setup(struct netfront *nf, struct nf_queue *q,
			  unsigned int idx)
{
	const struct netfront_info *in = &nf->info;
	unsigned int be = in->be_domid, ntx = in->tx_pages, nrx = in->rx_pages;
	unsigned int i, ents;
	int rc, port;

	q->nf = nf;
	q->idx = idx;
	q->tx_refs = calloc(ntx, sizeof(*q->tx_refs));
	q->tx_slot = calloc(ntx, sizeof(*q->tx_slot));
	q->tx_free = calloc(ntx, sizeof(*q->tx_free));
	q->tx_pkt = calloc(ntx, sizeof(*q->tx_pkt));
	q->tx_pkt_free = calloc(ntx, sizeof(*q->tx_pkt_free));
	q->raw_log = calloc(NF_RAW_LOG, sizeof(*q->raw_log));
	q->rx_refs = calloc(nrx, sizeof(*q->rx_refs));
	q->rx_free = calloc(nrx, sizeof(*q->rx_free));
	q->pkt = malloc(NETFRONT_RX_MAX_PKT);
	if (!q->tx_refs || !q->tx_slot || !q->tx_free || !q->tx_pkt ||
	    !q->tx_pkt_free || !q->raw_log || !q->rx_refs || !q->rx_free ||
	    !q->pkt)
		return nf_fail(-ENOMEM, "queue %u: memory", idx);

	/* Rings: writable, the backend writes the responses. */
	rc = xen_gntshr_share(nf->gs, be, 2, 1, q->ring_ref, &q->rings);
	if (rc)
		return nf_fail(rc, "queue %u: share the rings", idx);
	if (ring_netif_tx_front_init(&q->tx, q->rings, 1) ||
	    ring_netif_rx_front_init(&q->rx, (uint8_t *)q->rings + NF_PAGE, 1))
		return nf_fail(-EINVAL, "queue %u: ring init", idx);
	ents = q->rx.f.nr_ents;
	q->rx_posted = malloc(ents * sizeof(*q->rx_posted));
	q->stage = calloc(ents, sizeof(*q->stage));
	q->stage_page = calloc(ents, sizeof(*q->stage_page));
	q->stage_id = calloc(ents, sizeof(*q->stage_id));
	if (!q->rx_posted || !q->stage || !q->stage_page || !q->stage_id)
		return nf_fail(-ENOMEM, "queue %u: memory", idx);
	for (i = 0; i < ents; i++)
		q->rx_posted[i] = -1;

	/* TX pages read-only, as netfront grants them; RX pages writable. */
	rc = xen_gntshr_share(nf->gs, be, ntx, 0, q->tx_refs,
			      (void **)&q->tx_pool);
	if (rc)
		return nf_fail(rc, "queue %u: share %u TX pages", idx, ntx);
	rc = xen_gntshr_share(nf->gs, be, nrx, 1, q->rx_refs,
			      (void **)&q->rx_pool);
	if (rc)
		return nf_fail(rc, "queue %u: share %u RX pages", idx, nrx);
	rc = xen_gntshr_share(nf->gs, be, 1, 0, &q->scratch_ref, &q->scratch);
	if (rc)
		return nf_fail(rc, "queue %u: share the scratch page", idx);
	for (i = 0; i < ntx; i++) {
		q->tx_free[i] = (uint16_t)(ntx - 1 - i);
		q->tx_pkt_free[i] = (uint16_t)(ntx - 1 - i);
	}
	q->tx_nfree = q->tx_npkt_free = ntx;
	for (i = 0; i < nrx; i++)
		q->rx_free[i] = (uint16_t)(nrx - 1 - i);
	q->rx_nfree = nrx;
	q->rx_fill = in->rx_fill;

	rc = xen_evtchn_open(&q->xe);
	if (rc)
		return nf_fail(rc, "queue %u: evtchn open", idx);
	port = xen_evtchn_alloc_unbound(q->xe, be);
	if (port < 0)
		return nf_fail(port, "queue %u: event channel", idx);
	q->port_tx = q->port_rx = port;
	if (in->split) {
		port = xen_evtchn_alloc_unbound(q->xe, be);
		if (port < 0)
			return nf_fail(port, "queue %u: RX event channel", idx);
		q->port_rx = port;
	}
	return 0;
}

static int nf_write_keys(struct netfront *nf, xen_txn_t t)
{
	const struct netfront_info *in = &nf->info;
	struct xfront *f = &nf->xf;
	char pre[32] = "", k[64];
	unsigned int i;
	int rc = 0;

	if (in->be_max_queues >= 0)
		rc = xfront_write(f, t, "multi-queue-num-queues", "%u",
				  in->num_queues);
	for (i = 0; i < in->num_queues && !rc; i++) {
		const struct nf_queue *q = &nf->q[i];

		/* One queue: top level; several: queue-<i>/ only (NETIF). */
		if (in->num_queues > 1)
			snprintf(pre, sizeof(pre), "queue-%u/", i);
		snprintf(k, sizeof(k), "%stx-ring-ref", pre);
		rc = xfront_write(f, t, k, "%u", q->ring_ref[0]);
		snprintf(k, sizeof(k), "%srx-ring-ref", pre);
		rc = rc ?: xfront_write(f, t, k, "%u", q->ring_ref[1]);
		if (in->split) {
			snprintf(k, sizeof(k), "%sevent-channel-tx", pre);
			rc = rc ?: xfront_write(f, t, k, "%d", q->port_tx);
			snprintf(k, sizeof(k), "%sevent-channel-rx", pre);
			rc = rc ?: xfront_write(f, t, k, "%d", q->port_rx);
		} else {
			snprintf(k, sizeof(k), "%sevent-channel", pre);
			rc = rc ?: xfront_write(f, t, k, "%d", q->port_tx);
		}
	}
	if (in->ctrl_ring) {
		rc = rc
			     ?: xfront_write(f, t, "ctrl-ring-ref", "%u",
					     nf->cring_ref);
		rc = rc
			     ?: xfront_write(f, t, "event-channel-ctrl", "%d",
					     nf->cport);
	}
	rc = rc ?: xfront_write(f, t, "request-rx-copy", "1");
	rc = rc ?: xfront_write(f, t, "feature-rx-notify", "1");
	if (in->sg)
		rc = rc ?: xfront_write(f, t, "feature-sg", "1");
	if (in->gso_tcpv4)
		rc = rc ?: xfront_write(f, t, "feature-gso-tcpv4", "1");
	if (in->gso_tcpv6)
		rc = rc ?: xfront_write(f, t, "feature-gso-tcpv6", "1");
	if (in->ipv6_csum)
		rc = rc ?: xfront_write(f, t, "feature-ipv6-csum-offload", "1");
	if (in->no_csum_offload)
		rc = rc ?: xfront_write(f, t, "feature-no-csum-offload", "1");
	return rc;
}

static int nf_write_keys_txn(struct netfront *nf)
{
	xen_txn_t t;
	int rc, tries = 0;

	do {
		rc = xen_store_txn_start(nf->xf.xs, &t);
		if (rc)
			return nf_fail(rc, "transaction start");
		rc = nf_write_keys(nf, t);
		if (rc) {
			xen_store_txn_end(nf->xf.xs, t, 1);
			return nf_fail(rc, "write the frontend keys");
		}
		rc = xen_store_txn_end(nf->xf.xs, t, 0);
	} while (rc == -EAGAIN && ++tries < NF_TXN_TRIES);
	return rc ? nf_fail(rc, "transaction end") : 0;
}

static int nf_fe_state(struct netfront *nf)
{
	char p[300];
	unsigned long v;

	snprintf(p, sizeof(p), "%s/state", nf->info.fe_path);
	if (xen_store_read_uint(nf->xf.xs, XEN_TXN_NONE, p, 8, &v))
		return 0;
	return (int)v;
}

/*
 * Closing, wait for the backend's Closing/Closed, Closed, wait for its
 * Closed (xennet_bus_close); each wait bounded. 0 or -ETIMEDOUT.
 */
static int nf_bus_close(struct netfront *nf)
{
	unsigned int to = nf->cfg.timeout_ms;
	int rc = 0, s;

	/* Our directory is gone (device removed): nothing to say. */
	if (nf_fe_state(nf) == 0)
		return 0;
	s = xfront_be_state(&nf->xf);
	if (s != XenbusStateClosed && s != -ENOENT) {
		if (xfront_set_state(&nf->xf, XenbusStateClosing))
			rc = nf_fail(-EIO, "write Closing");
		s = xfront_wait_be(&nf->xf,
				   XF_STATE(0) | XF_STATE(XenbusStateClosing) |
					   XF_STATE(XenbusStateClosed),
				   to);
		if (s == -ETIMEDOUT)
			rc = rc
				     ?: nf_fail(-ETIMEDOUT,
						"backend never went Closing");
	}
	if (xfront_set_state(&nf->xf, XenbusStateClosed))
		rc = rc ?: nf_fail(-EIO, "write Closed");
	if (s != XenbusStateClosed && s != 0 && s != -ENOENT) {
		s = xfront_wait_be(
			&nf->xf, XF_STATE(0) | XF_STATE(XenbusStateClosed), to);
		if (s == -ETIMEDOUT)
			rc = rc
				     ?: nf_fail(-ETIMEDOUT,
						"backend never went Closed");
	}
	return rc;
}

static void nf_free(struct netfront *nf, bool unshare)
{
	unsigned int i;

	for (i = 0; i < nf->nq; i++)
		nf_queue_free(nf, &nf->q[i], unshare);
	free(nf->q);
	if (unshare && nf->gs) {
		if (nf->cring)
			xen_gntshr_unshare(nf->gs, nf->cring, 1);
		if (nf->cpage)
			xen_gntshr_unshare(nf->gs, nf->cpage, 1);
	}
	xen_evtchn_close(nf->cxe);
	xen_gntshr_close(nf->gs);
	xfront_close(&nf->xf);
	free(nf);
}

int netfront_connect(struct netfront **out, const struct netfront_cfg *cfg)
{
	struct netfront_info *in;
	unsigned int to, i, nq;
	struct netfront *nf;
	int rc, s;

	nf = calloc(1, sizeof(*nf));
	if (!nf)
		return nf_fail(-ENOMEM, "memory");
	nf->cfg = *cfg;
	in = &nf->info;
	to = cfg->timeout_ms ? cfg->timeout_ms : 10000;
	nf->cfg.timeout_ms = to;
	in->devid = cfg->devid;
	in->tx_ring_size = ring_nr_ents(1, sizeof(union netif_tx_sring_entry));
	in->rx_ring_size = ring_nr_ents(1, sizeof(union netif_rx_sring_entry));
	/* An id names a page; more pages than slots could never be used. */
	in->tx_pages = cfg->tx_pages ? cfg->tx_pages : NF_DEF_PAGES;
	if (in->tx_pages > in->tx_ring_size)
		in->tx_pages = in->tx_ring_size;
	in->rx_pages = cfg->rx_pages ? cfg->rx_pages : NF_DEF_PAGES;
	if (in->rx_pages > in->rx_ring_size)
		in->rx_pages = in->rx_ring_size;
	in->rx_fill = cfg->rx_fill && cfg->rx_fill < in->rx_pages
			      ? cfg->rx_fill
			      : in->rx_pages;
	if (cfg->rx_none)
		in->rx_fill = 0;
	in->sg = cfg->sg;
	in->gso_tcpv4 = cfg->gso_tcpv4;
	in->gso_tcpv6 = cfg->gso_tcpv6;
	in->ipv6_csum = cfg->ipv6_csum;
	in->no_csum_offload = cfg->no_csum_offload;

	rc = xfront_open(&nf->xf, "vif", cfg->devid);
	if (rc) {
		rc = nf_fail(rc == -ENOENT ? -ENODEV : rc,
			     "open device/vif/%u: %s", cfg->devid,
			     strerror(-rc));
		goto err_free;
	}
	in->fe_domid = nf->xf.self;
	in->be_domid = nf->xf.be_domid;
	snprintf(in->fe_path, sizeof(in->fe_path), "%s", nf->xf.fe_path);
	snprintf(in->be_path, sizeof(in->be_path), "%s", nf->xf.be_path);
	s = nf_fe_state(nf);
	if (s != XenbusStateInitialising && s != 0) {
		rc = nf_fail(-EBUSY, "our state is %d, not Initialising", s);
		goto err_free;
	}

	s = xfront_wait_be(&nf->xf,
			   XF_STATE(0) | XF_STATE(XenbusStateInitWait) |
				   XF_STATE(XenbusStateClosing) |
				   XF_STATE(XenbusStateClosed),
			   to);
	if (s != XenbusStateInitWait) {
		rc = s == -ETIMEDOUT
			     ? nf_fail(s, "no InitWait from the backend")
			     : nf_fail(-EPROTO,
				       "backend state %d, not InitWait", s);
		goto err_free;
	}
	nf_read_be(nf);
	nf_read_fe(nf);
	if (in->be_rx_copy <= 0) {
		rc = nf_fail(-EOPNOTSUPP,
			     "backend does not support copying receive path");
		goto err_free;
	}
	nq = cfg->queues ? cfg->queues : 1;
	if (nq > (in->be_max_queues > 0 ? (unsigned long)in->be_max_queues : 1))
		nq = in->be_max_queues > 0 ? (unsigned int)in->be_max_queues
					   : 1;
	if (nq > NETFRONT_MAX_QUEUES)
		nq = NETFRONT_MAX_QUEUES;
	in->split = cfg->split_evtchn && in->be_split > 0;

	rc = xen_gntshr_open(&nf->gs);
	if (rc) {
		rc = nf_fail(rc, "gntshr open");
		goto err_free;
	}
	nf->q = calloc(nq, sizeof(*nf->q));
	if (!nf->q) {
		rc = nf_fail(-ENOMEM, "memory");
		goto err_free;
	}
	for (i = 0; i < nq; i++) {
		nf->nq = i + 1;
		rc = nf_queue_setup(nf, &nf->q[i], i);
		if (rc)
			goto err_free;
	}
	in->num_queues = nq;
	if (cfg->ctrl_ring && in->be_ctrl_ring > 0) {
		rc = nf_ctrl_setup(nf);
		if (rc)
			goto err_free;
	}

	if (in->be_xdp_headroom > 0) {
		rc = xfront_write(&nf->xf, XEN_TXN_NONE, "xdp-headroom", "%u",
				  cfg->xdp_headroom);
		if (rc) {
			rc = nf_fail(rc, "write xdp-headroom");
			goto err_free;
		}
		in->xdp_headroom = cfg->xdp_headroom;
	}
	rc = nf_write_keys_txn(nf);
	if (rc)
		goto err_free;
	/* As xennet_connect: kick every channel, fill the RX rings. */
	for (i = 0; i < nq; i++) {
		struct nf_queue *q = &nf->q[i];

		rc = xen_evtchn_notify(q->xe, (uint32_t)q->port_tx);
		if (!rc && q->port_rx != q->port_tx)
			rc = xen_evtchn_notify(q->xe, (uint32_t)q->port_rx);
		if (rc) {
			rc = nf_fail(rc, "kick queue %u", i);
			goto err_free;
		}
		rc = nf_rx_refill_push(q);
		if (rc)
			goto err_free;
	}
	rc = xfront_set_state(&nf->xf, XenbusStateConnected);
	if (rc) {
		rc = nf_fail(rc, "write Connected");
		goto err_free;
	}
	s = xfront_wait_be(&nf->xf,
			   XF_STATE(0) | XF_STATE(XenbusStateConnected) |
				   XF_STATE(XenbusStateClosing) |
				   XF_STATE(XenbusStateClosed),
			   to);
	if (s != XenbusStateConnected) {
		rc = s == -ETIMEDOUT
			     ? nf_fail(s, "no Connected from the backend")
			     : nf_fail(-EPROTO,
				       "backend state %d, not Connected", s);
		goto err_free;
	}
	*out = nf;
	return 0;

err_free:
	nf_free(nf, true);
	return rc;
}

int netfront_set_xdp_headroom(struct netfront *nf, unsigned int headroom)
{
	unsigned int to = nf->cfg.timeout_ms;
	int rc, s;

	if (nf->info.be_xdp_headroom <= 0)
		return nf_fail(-EOPNOTSUPP, "no feature-xdp-headroom");
	rc = xfront_write(&nf->xf, XEN_TXN_NONE, "xdp-headroom", "%u",
			  headroom);
	if (!rc)
		rc = xfront_set_state(&nf->xf, XenbusStateReconfiguring);
	if (rc)
		return nf_fail(rc, "write xdp-headroom / Reconfiguring");
	s = xfront_wait_be(&nf->xf,
			   XF_STATE(0) | XF_STATE(XenbusStateReconfigured) |
				   XF_STATE(XenbusStateClosing) |
				   XF_STATE(XenbusStateClosed),
			   to);
	if (s != XenbusStateReconfigured)
		return s == -ETIMEDOUT
			       ? nf_fail(s, "no Reconfigured")
			       : nf_fail(-EPROTO, "backend state %d", s);
	nf->info.xdp_headroom = headroom;
	rc = xfront_set_state(&nf->xf, XenbusStateConnected);
	return rc ? nf_fail(rc, "write Connected") : 0;
}

int netfront_close(struct netfront *nf)
{
	int rc;

	if (!nf)
		return 0;
	rc = nf_bus_close(nf);
	nf_free(nf, true);
	return rc;
}

void netfront_disconnect_abrupt(struct netfront *nf)
{
	if (nf)
		nf_free(nf, false);
}
