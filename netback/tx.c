// SPDX-License-Identifier: MIT
/*
 * tx.c - guest TX: what the frontend sends leaves through the host port.
 *
 * A sweep copies every request the frontend has published out of the
 * shared ring (once: the ring is never read again for them), cuts the
 * copies into packets and judges each with Linux netback's rules
 * (netq_tx_plan, txplan.c: drop with error responses below the
 * malicious bound, disable the vif above it), queues one grant copy per data slot into the
 * queue's TX arena (each packet contiguous there: its headers are whole
 * before anything parses them, however the frontend spread them over
 * slots, XSA-423), runs the copies with one call, hands each packet to the
 * port with its checksum and GSO metadata, and answers every slot exactly
 * once: a data slot with its status, an extra-info slot with NULL. One
 * push, at most one notification per sweep.
 *
 * Runs on the queue's thread; netq.c calls in on events, rx.c is the other
 * direction.
 */
#include <errno.h>
#include <string.h>

#include "netback/netq.h"
#include "netback/pkt.h"

#define TX_ROUNDS 4 /* ring sweeps per event before yielding */

/* ------------------------------------------------------------ credit */

static void add_credit(struct netq *q)
{
	/* A burst big enough for a 128 KiB jumbo, or the vif seizes up. */
	uint64_t max_burst = q->credit_bytes > 131072 ? q->credit_bytes
						      : 131072;
	uint64_t max_credit = q->remaining_credit + q->credit_bytes;

	if (max_credit < q->remaining_credit)
		max_credit = UINT64_MAX;
	q->remaining_credit = max_credit < max_burst ? max_credit : max_burst;
}

/* True if @size does not fit the credit now (the timer is armed). */
static int credit_exceeded(struct netq *q, unsigned int size)
{
	uint64_t now = netq_now_us();
	uint64_t next = q->window_start_us + q->credit_usec;
	uint64_t ms;

	if (q->credit_armed)
		return 1;
	if (now >= next) {
		q->window_start_us = now;
		add_credit(q);
	}
	if (size <= q->remaining_credit)
		return 0;
	ms = next > now ? (next - now + 999) / 1000 : 1;
	if (loop_timer_arm(q->loop, &q->credit_timer, ms, 0))
		return 0; /* no timer: rather unlimited than stuck */
	q->window_start_us = next;
	q->credit_armed = 1;
	q->st.tx_rate_waits++;
	return 1;
}

void netq_tx_credit(struct netq *q)
{
	q->credit_armed = 0;
	add_credit(q);
	netq_tx_sweep(q);
}

/* ------------------------------------------------------------ responses */

static void put_rsp(struct netq *q, uint16_t id, int16_t status)
{
	struct netif_tx_response rsp = { .id = id, .status = status };

	/* -EOVERFLOW would be our bug: more answers than requests. */
	if (ring_netif_tx_back_put_rsp(&q->tx, &rsp))
		log_err(q->name, "TX response without a request (bug)");
}

/*
 * Answer every slot of @pkt in ring order: data slots @status, extra slots
 * NULL (make_tx_response).
 */
static void answer(struct netq *q, const struct netq_txpkt *pkt, int16_t status)
{
	const union ring_netif_tx_req *r = &q->txreqs[pkt->slot];
	unsigned int i;

	put_rsp(q, r[0].req.id, status);
	for (i = 1; i <= pkt->p.nextras; i++)
		put_rsp(q, 0, NETIF_RSP_NULL);
	for (; i < pkt->p.nslots; i++)
		put_rsp(q, r[i].req.id, status);
}

/* ------------------------------------------------------------ delivery */

/*
 * Turn the frontend's offload flags into the port's metadata; the packet
 * is whole in our arena now. -EINVAL if the offload asked for cannot be
 * set up (Linux drops such a packet silently).
 */
static int tx_meta(struct netq *q, const struct netq_tx_plan *p, uint8_t *pkt,
		   struct port_meta *m)
{
	const struct netif_extra_info *g =
		&p->extras[XEN_NETIF_EXTRA_TYPE_GSO - 1];
	int gso = !!(p->extra_mask & (1u << XEN_NETIF_EXTRA_TYPE_GSO));
	int partial = !!(p->flags & NETTXF_csum_blank);
	struct pkt_l4 l;

	memset(m, 0, sizeof(*m));
	/* The frontend's hash goes with the packet (Linux: skb_set_hash). */
	if (p->extra_mask & (1u << XEN_NETIF_EXTRA_TYPE_HASH)) {
		const struct netif_extra_info *h =
			&p->extras[XEN_NETIF_EXTRA_TYPE_HASH - 1];

		switch (h->u.hash.type) {
		case _XEN_NETIF_CTRL_HASH_TYPE_IPV4:
		case _XEN_NETIF_CTRL_HASH_TYPE_IPV6:
			m->hash_kind = PORT_HASH_L3;
			break;
		case _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP:
		case _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP:
			m->hash_kind = PORT_HASH_L4;
			break;
		default:
			break; /* unknown: no hash, as Linux */
		}
		if (m->hash_kind) {
			for (int b = 3; b >= 0; b--)
				m->hash = m->hash << 8 | h->u.hash.value[b];
			q->st.tx_hash++;
		}
	}
	if (!partial && !gso) {
		if (p->flags & NETTXF_data_validated)
			m->flags = PORT_F_DATA_VALID;
		return 0;
	}
	if (pkt_parse_l4(pkt, p->total, &l))
		return -EINVAL;
	if (gso) {
		if (l.proto != PKT_PROTO_TCP ||
		    l.ipv6 != (g->u.gso.type == XEN_NETIF_GSO_TYPE_TCPV6))
			return -EINVAL;
		m->gso_type = l.ipv6 ? PORT_GSO_TCPV6 : PORT_GSO_TCPV4;
		m->gso_size = g->u.gso.size;
		m->hdr_len = (uint16_t)(l.l4 + l.l4_hlen);
		/* GSO needs a partial checksum; some frontends forget to
		 * say so (Linux's rx_gso_checksum_fixup). */
		if (!partial)
			pkt_csum_seed(pkt, p->total, &l);
		q->st.tx_gso++;
	}
	m->flags = PORT_F_NEEDS_CSUM;
	m->csum_start = l.l4;
	m->csum_offset = l.csum_off;
	q->st.tx_csum++;
	return 0;
}

/* A packet answered OKAY (copied whole into the arena): to the port. */
static void deliver(struct netq *q, struct netq_txpkt *pkt)
{
	uint8_t *data = q->tx_arena + pkt->off;
	struct port_meta m;
	int rc;

	if (tx_meta(q, &pkt->p, data, &m)) {
		q->st.tx_drop[NETQ_TXD_CSUM]++;
		log_rl_warn(&q->rl, q->name,
			    "TX packet with checksum "
			    "offload but no usable TCP/UDP header: dropped");
		return;
	}
	rc = q->pops->send(q->port, q->pq, data, pkt->p.total, &m);
	if (rc) {
		q->st.tx_drop[NETQ_TXD_PORT]++;
		if (rc != -EAGAIN)
			log_rl_warn(&q->rl, q->name, "port send: %s",
				    strerror(-rc));
		return;
	}
	q->st.tx_pkts++;
	q->st.tx_bytes += pkt->p.total;
}

/*
 * The end of a sweep: a port that holds what send took (port.h, flush)
 * passes it on; what it dropped after all is not delivered.
 */
static void flush_port(struct netq *q)
{
	uint64_t bytes = 0;
	int n;

	if (!q->pops->flush)
		return;
	n = q->pops->flush(q->port, q->pq, &bytes);
	if (n > 0) {
		q->st.tx_drop[NETQ_TXD_PORT] += (uint64_t)n;
		q->st.tx_pkts -= (uint64_t)n;
		q->st.tx_bytes -= bytes;
	} else if (n < 0) {
		log_rl_warn(&q->rl, q->name, "port flush: %s", strerror(-n));
	}
}

/* Queue the grant copies of @pkt's data slots into the arena. */
static void gather(struct netq *q, struct netq_txpkt *pkt, size_t *arena_pos)
{
	const union ring_netif_tx_req *r = &q->txreqs[pkt->slot];
	unsigned int np = (unsigned int)(pkt - q->txpkts);
	size_t pos = *arena_pos;
	unsigned int i;

	pkt->off = (uint32_t)pos;
	pkt->copy_failed = 0;
	/* The first slot holds first_len bytes, the others their size. */
	for (i = 0; i < pkt->p.nslots; i++) {
		const struct netif_tx_request *s = &r[i].req;
		uint16_t len = i ? s->size : pkt->p.first_len;

		if (i >= 1 && i <= pkt->p.nextras)
			continue;
		/* Zero-length slots carry nothing: no fragment of 0 bytes
		 * ever reaches the host (XSA-448). */
		if (!len)
			continue;
		xen_gcopy_from_guest(&q->gc[q->ngc], q->domid, s->gref,
				     s->offset, q->tx_arena + pos, len);
		q->gc_who[q->ngc++] = np;
		pos += len;
	}
	/* Cache-line align the next packet; the arena holds a full ring of
	 * full pages plus this slack. */
	*arena_pos = (pos + 63) & ~(size_t)63;
}

static void mcast_request(struct netq *q, struct netq_txpkt *pkt)
{
	const struct netq_tx_plan *p = &pkt->p;
	int16_t status = NETIF_RSP_OKAY;

	q->st.tx_mcast_ctl++;
	if (p->extra_mask & (1u << XEN_NETIF_EXTRA_TYPE_MCAST_ADD)) {
		if (netq_mcast_add(q->mcast,
				   p->extras[XEN_NETIF_EXTRA_TYPE_MCAST_ADD - 1]
					   .u.mcast.addr)) {
			q->st.tx_drop[NETQ_TXD_MCAST]++;
			status = NETIF_RSP_ERROR;
		}
	} else {
		netq_mcast_del(q->mcast,
			       p->extras[XEN_NETIF_EXTRA_TYPE_MCAST_DEL - 1]
				       .u.mcast.addr);
	}
	answer(q, pkt, status);
}

/*
 * One sweep over what is on the ring now. Returns 1 if it may be worth
 * another (it consumed something and is not blocked), 0 if not.
 */
static int tx_round(struct netq *q)
{
	unsigned int nr = q->tx.b.nr_ents, i = 0, np = 0, k;
	size_t arena_pos = 0;
	int n, fatal = -1;

	n = ring_netif_tx_back_fetch(&q->tx, q->txreqs, nr);
	if (n < 0) {
		netq_fatal(q, NETQ_F_INDEX);
		return 0;
	}
	if (n == 0)
		return 0;
	q->ngc = 0;
	while (i < (unsigned int)n) {
		struct netq_txpkt *pkt = &q->txpkts[np];

		netq_tx_plan(&q->txreqs[i], (unsigned int)n - i, q->fatal_slots,
			     &pkt->p);
		if (pkt->p.verdict == NETQ_TX_FATAL) {
			fatal = pkt->p.reason;
			break;
		}
		/* Credit-based scheduling on the packet's length, before
		 * anything of it is consumed (tx_credit_exceeded). */
		if (q->credit_bytes && pkt->p.verdict == NETQ_TX_OK) {
			if (pkt->p.total > q->remaining_credit &&
			    credit_exceeded(q, pkt->p.total))
				break;
			q->remaining_credit -= pkt->p.total;
		}
		pkt->slot = i;
		if (pkt->p.verdict == NETQ_TX_OK)
			gather(q, pkt, &arena_pos);
		i += pkt->p.nslots;
		np++;
	}
	/* What we did not take (rate limit) is fetched again later. */
	if (fatal < 0 && i < (unsigned int)n)
		ring_back_unfetch(&q->tx.b, (unsigned int)n - i);

	netq_gcopy_run(q);
	for (k = 0; k < q->ngc; k++) {
		if (q->gc[k].status != GNTST_okay)
			q->txpkts[q->gc_who[k]].copy_failed = 1;
	}
	/*
	 * Copied, the slots are done with: the whole batch is answered and
	 * the frontend has its pages back before the port writes, which
	 * take most of the time (Linux netback answers before its stack
	 * sees the packet, too). Answers go in ring order.
	 */
	for (k = 0; k < np; k++) {
		struct netq_txpkt *pkt = &q->txpkts[k];

		switch (pkt->p.verdict) {
		case NETQ_TX_OK:
			if (pkt->copy_failed)
				q->st.tx_drop[NETQ_TXD_GRANT]++;
			answer(q, pkt,
			       pkt->copy_failed ? NETIF_RSP_ERROR
						: NETIF_RSP_OKAY);
			break;
		case NETQ_TX_MCAST:
			mcast_request(q, pkt);
			break;
		default:
			q->st.tx_drop[pkt->p.reason]++;
			log_rl_warn(&q->rl, q->name, "TX packet dropped: %s",
				    netq_txdrop_names[pkt->p.reason]);
			answer(q, pkt, NETIF_RSP_ERROR);
			break;
		}
	}
	if (ring_back_push_rsp(&q->tx.b)) {
		xen_evtchn_notify(q->xe, (uint32_t)q->port_tx);
		q->st.notifies++;
	}
	for (k = 0; k < np; k++) {
		struct netq_txpkt *pkt = &q->txpkts[k];

		if (pkt->p.verdict == NETQ_TX_OK && !pkt->copy_failed)
			deliver(q, pkt);
	}
	flush_port(q);
	if (fatal >= 0) {
		netq_fatal(q, (enum netq_fatal)fatal);
		return 0;
	}
	return i == (unsigned int)n && !q->credit_armed;
}

static void tx_sweep_msg(void *arg);

void netq_tx_sweep(struct netq *q)
{
	for (int round = 0; round < TX_ROUNDS; round++) {
		int rc;

		if (q->disabled || q->credit_armed)
			return;
		if (tx_round(q))
			continue;
		if (q->disabled || q->credit_armed)
			return;
		/* Empty: arm req_event, and look once more (a request that
		 * raced with us going idle is seen here or notified). */
		rc = ring_back_final_check(&q->tx.b);
		if (rc < 0) {
			netq_fatal(q, NETQ_F_INDEX);
			return;
		}
		if (rc == 0)
			return;
	}
	/* Still busy: let RX and control messages in, then go on. */
	if (loop_post(q->loop, tx_sweep_msg, q))
		log_rl_err(&q->rl, q->name, "cannot queue a TX sweep");
}

static void tx_sweep_msg(void *arg)
{
	netq_tx_sweep(arg);
}
