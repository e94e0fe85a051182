// SPDX-License-Identifier: MIT
/*
 * rx.c - guest RX: what the host sends to the vif reaches the frontend.
 *
 * Packets are taken from the port as they come (with their virtio-net
 * style metadata) into a queue bounded in packets and bytes. A full queue
 * stops the reading of the port (back-pressure: the host's TAP queue and
 * qdisc hold or drop the rest, as for Linux netback's stopped netdev
 * queue); after rx-drain-ms without buffers from the frontend, queued
 * packets are dropped and counted (a frontend that posts no buffers costs
 * its host nothing more: XSA-392), and the port is read again. A flush copies queued packets into the buffers
 * the frontend posted: the first data slot, then the extra-info slots
 * (GSO, XDP), then the remaining data slots, each response at the ring
 * index of the request it answers (Linux netfront reads them by index),
 * one grant copy for the batch, one push and at most one notification.
 *
 * Checksum and GSO: the port only hands over what the frontend can take
 * (netq.c sets the port's offloads from the frontend's features); a
 * partial checksum the frontend cannot finish (no IPv6 checksum offload)
 * is finished here.
 *
 * Runs on the queue's thread; tx.c is the other direction.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "netback/netq.h"
#include "netback/pkt.h"

#define RX_READ_BATCH 64 /* packets taken from the port per event */
#define RX_ALIGN 64u

static void rx_resume_port(struct netq *q);

static uint64_t now_ms(void)
{
	return netq_now_us() / 1000;
}

static unsigned int rxq_len(const struct netq *q)
{
	return q->rxq_tail - q->rxq_head;
}

/*
 * Where a packet of up to PORT_MAX_PKT bytes can be read into the arena,
 * or NULL. The arena is used as a ring of variable-sized packets: from the
 * oldest packet's start to the write position, wrapping to 0 when the end
 * is too close.
 */
static unsigned char *rx_room(struct netq *q)
{
	size_t head, tail = q->rx_arena_tail, need = PORT_MAX_PKT;

	if (!rxq_len(q)) {
		q->rx_arena_tail = 0;
		return q->rx_arena;
	}
	head = q->rxq[q->rxq_head & (q->rxq_size - 1)].off;
	if (tail > head) {
		if (q->rx_arena_bytes - tail >= need)
			return q->rx_arena + tail;
		if (head > need) {
			q->rx_arena_tail = 0;
			return q->rx_arena;
		}
		return NULL;
	}
	/* Wrapped: the free space is between tail and head. */
	return head - tail > need ? q->rx_arena + tail : NULL;
}

static void rx_drop_head(struct netq *q, enum netq_rxdrop why)
{
	struct netq_rxpkt *d = &q->rxq[q->rxq_head & (q->rxq_size - 1)];

	q->rxq_bytes -= d->len;
	q->rxq_head++;
	q->st.rx_drop[why]++;
}

void netq_rx_purge(struct netq *q, enum netq_rxdrop why)
{
	while (rxq_len(q))
		rx_drop_head(q, why);
	q->rx_arena_tail = 0;
}

/*
 * Linux's rx_stall_timeout: a frontend that took no packet for rx_stall_ms
 * while packets waited for buffers loses its carrier (the control thread
 * sets it, for the vif), so the bridge stops sending what would only be
 * dropped here; any buffer it posts again brings the carrier back.
 */
static void rx_stall_waiting(struct netq *q)
{
	uint64_t now = now_ms();

	if (!q->rx_stall_ms || q->rx_stalled)
		return;
	if (!q->rx_stall_since) {
		q->rx_stall_since = now;
		return;
	}
	if (now - q->rx_stall_since < q->rx_stall_ms)
		return;
	q->rx_stalled = 1;
	q->st.rx_stalls++;
	if (q->stall_fn)
		q->stall_fn(q->cb_arg, q->index, 1);
}

static void rx_stall_progress(struct netq *q)
{
	q->rx_stall_since = 0;
	if (!q->rx_stalled)
		return;
	q->rx_stalled = 0;
	if (q->stall_fn)
		q->stall_fn(q->cb_arg, q->index, 0);
}

void netq_rx_expire(struct netq *q)
{
	uint64_t now = now_ms();

	q->drain_armed = 0;
	while (rxq_len(q)) {
		struct netq_rxpkt *d = &q->rxq[q->rxq_head & (q->rxq_size - 1)];

		if (now - d->t_ms < q->rx_drain_ms)
			break;
		rx_drop_head(q, NETQ_RXD_EXPIRED);
	}
	rx_resume_port(q);
	if (q->rx_waiting)
		rx_stall_waiting(q);
	if (rxq_len(q) && !q->drain_armed &&
	    !loop_timer_arm(q->loop, &q->drain_timer, q->rx_drain_ms, 0))
		q->drain_armed = 1;
}

/* Frames to multicast groups the frontend did not join stay here. */
static int rx_filtered(struct netq *q, const uint8_t *frame, size_t len)
{
	return len >= NB_ETH_HLEN && pkt_is_multicast(frame) &&
	       !netq_mcast_pass(q->mcast, frame);
}

/* Queue @n bytes at @buf (in the arena, from rx_room) for the frontend. */
static void rx_enqueue(struct netq *q, unsigned char *buf, int n,
		       const struct port_meta *m, int has_hash, uint32_t hash,
		       uint8_t htype)
{
	q->rxq[q->rxq_tail & (q->rxq_size - 1)] = (struct netq_rxpkt){
		.off = (uint32_t)(buf - q->rx_arena),
		.len = (uint32_t)n,
		.t_ms = q->rx_batch_ms,
		.meta = *m,
		.hash = hash,
		.hash_type = htype,
		.has_hash = (uint8_t)has_hash,
	};
	q->rxq_tail++;
	q->rxq_bytes += (size_t)n;
	q->rx_arena_tail =
		(size_t)(buf - q->rx_arena) +
		(((size_t)n + RX_ALIGN - 1) & ~(size_t)(RX_ALIGN - 1));
}

static int rx_full(const struct netq *q)
{
	return rxq_len(q) >= q->rxq_max_pkts ||
	       q->rxq_bytes >= q->rxq_max_bytes || q->disabled;
}

/*
 * Back-pressure: with the queue full, what comes next is left in the port
 * (the TAP's own ring, bounded by the kernel, which counts its drops
 * beyond as the vif's tx_dropped) rather than read only to be dropped
 * here. Linux netback stops its netdev queue at rx_queue_max the same
 * way: a host TCP sender then meets a queue rather than losses. Not with
 * hash steering: what this queue reads may be another queue's.
 */
static void rx_pause_port(struct netq *q)
{
	if (q->port_paused || !q->port_watched)
		return;
	if (!loop_fd_mod(q->loop, &q->port_lfd, 0)) {
		q->port_paused = 1;
		q->st.rx_pauses++;
	}
}

/* Room again (a flush, the drain timer, a purge): read the port again. */
static void rx_resume_port(struct netq *q)
{
	if (!q->port_paused || (rx_full(q) && !q->disabled))
		return;
	q->port_paused = 0;
	if (q->port_watched)
		loop_fd_mod(q->loop, &q->port_lfd, EPOLLIN);
}

/*
 * The queue that owns the frame's flow by the frontend's mapping, with
 * the hash for its HASH extra; q->index when no hashing is set up.
 */
static unsigned int rx_steer(struct netq *q, const uint8_t *frame, size_t len,
			     int *has_hash, uint32_t *hash, uint8_t *htype)
{
	*has_hash = 0;
	*hash = 0;
	*htype = 0;
	if (q->hash.alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
		return q->index;
	*has_hash = nb_hash_frame(&q->hash, frame, len, hash, htype);
	/* No type applies: hash 0, as Linux's cleared skb hash. */
	if (!q->xfer)
		return q->index;
	return nb_hash_queue(&q->hash, *hash, q->nq);
}

/* Hand a frame to queue @dst (its flow's owner). */
static void rx_handoff(struct netq *q, unsigned int dst, const uint8_t *frame,
		       int n, const struct port_meta *m, int has_hash,
		       uint32_t hash, uint8_t htype)
{
	struct netq_xfer_hdr h;

	memset(&h, 0, sizeof(h));
	h.len = (uint32_t)n;
	h.hash = hash;
	h.hash_type = htype;
	h.has_hash = (uint8_t)has_hash;
	h.meta = *m;
	if (netq_xfer_push(q->xfer, q->index, dst, &h, frame)) {
		q->st.rx_drop[NETQ_RXD_STEER]++;
		return;
	}
	q->st.rx_steered++;
	q->xfer_dirty |= 1u << dst;
}

static void rx_kick_owners(struct netq *q)
{
	uint32_t d = q->xfer_dirty;

	q->xfer_dirty = 0;
	while (d) {
		unsigned int dst = (unsigned int)__builtin_ctz(d);

		d &= d - 1;
		netq_xfer_kick(q->xfer, dst);
	}
}

void netq_rx_port_ready(struct netq *q)
{
	q->rx_batch_ms = now_ms();
	for (unsigned int i = 0; i < RX_READ_BATCH; i++) {
		struct port_meta m;
		unsigned char *buf = NULL, *frame;
		unsigned int dst;
		uint32_t hash;
		uint8_t htype;
		int n, has_hash;

		if (!rx_full(q))
			buf = rx_room(q);
		if (!buf && !q->disabled &&
		    q->hash.alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE) {
			rx_pause_port(q);
			break;
		}
		frame = buf ? buf : q->rx_scratch;
		n = q->pops->recv(q->port, q->pq, frame, PORT_MAX_PKT, &m);
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			if (n == -EMSGSIZE) {
				q->st.rx_drop[NETQ_RXD_SIZE]++;
				continue;
			}
			/* The port is broken (its device gone): stop
			 * watching it rather than spin on its fd. */
			log_err(q->name, "port receive: %s: no more guest RX",
				strerror(-n));
			netq_port_unwatch(q);
			break;
		}
		if (q->disabled) {
			q->st.rx_drop[NETQ_RXD_DOWN]++;
			continue;
		}
		if (rx_filtered(q, frame, (size_t)n)) {
			q->st.rx_drop[NETQ_RXD_MCAST]++;
			continue;
		}
		dst = rx_steer(q, frame, (size_t)n, &has_hash, &hash, &htype);
		if (dst != q->index) {
			rx_handoff(q, dst, frame, n, &m, has_hash, hash, htype);
			continue;
		}
		if (!buf) {
			q->st.rx_drop[NETQ_RXD_FULL]++;
			continue;
		}
		rx_enqueue(q, buf, n, &m, has_hash, hash, htype);
	}
	if (q->xfer_dirty)
		rx_kick_owners(q);
	netq_rx_flush(q);
}

/* A frame another queue steered here: copied into our queue. */
static void rx_take_steered(void *arg, const struct netq_xfer_hdr *h,
			    const uint8_t *data)
{
	struct netq *q = arg;
	unsigned char *buf;

	if (q->disabled) {
		q->st.rx_drop[NETQ_RXD_DOWN]++;
		return;
	}
	buf = rx_full(q) ? NULL : rx_room(q);
	if (!buf) {
		q->st.rx_drop[NETQ_RXD_FULL]++;
		return;
	}
	memcpy(buf, data, h->len);
	rx_enqueue(q, buf, (int)h->len, &h->meta, h->has_hash, h->hash,
		   h->hash_type);
}

void netq_rx_steered(struct netq *q)
{
	q->rx_batch_ms = now_ms();
	netq_xfer_drain(q->xfer, q->index, rx_take_steered, q, RX_READ_BATCH);
	netq_rx_flush(q);
}

/* ------------------------------------------------------------ flush */

/* How one queued packet goes onto the ring. */
struct rx_shape {
	unsigned int data; /* data slots */
	unsigned int extras;
	int gso;	       /* XEN_NETIF_GSO_TYPE_* or NONE */
	int hash;	       /* a HASH extra goes along */
	unsigned int headroom; /* first slot's data offset */
};

/*
 * Decide @d's slots, finish a checksum the frontend cannot; 0, or the
 * reason to drop it.
 */
static int rx_shape(struct netq *q, struct netq_rxpkt *d, struct rx_shape *s)
{
	unsigned int first_room;
	uint8_t *p = q->rx_arena + d->off;

	memset(s, 0, sizeof(*s));
	s->headroom = q->feat.xdp_headroom;
	first_room = NB_PAGE - s->headroom;
	s->data = 1;
	if (d->len > first_room)
		s->data += (d->len - first_room + NB_PAGE - 1) / NB_PAGE;
	if (s->data > 1 && !q->feat.sg)
		return NETQ_RXD_SIZE;
	if (s->data > XEN_NETIF_NR_SLOTS_MIN)
		return NETQ_RXD_SIZE;
	switch (d->meta.gso_type) {
	case PORT_GSO_NONE:
		break;
	case PORT_GSO_TCPV4:
		if (!q->feat.gso_tcpv4)
			return NETQ_RXD_OFFLOAD;
		s->gso = XEN_NETIF_GSO_TYPE_TCPV4;
		break;
	case PORT_GSO_TCPV6:
		if (!q->feat.gso_tcpv6)
			return NETQ_RXD_OFFLOAD;
		s->gso = XEN_NETIF_GSO_TYPE_TCPV6;
		break;
	default:
		return NETQ_RXD_OFFLOAD;
	}
	if (s->gso &&
	    (!d->meta.gso_size || !(d->meta.flags & PORT_F_NEEDS_CSUM)))
		return NETQ_RXD_OFFLOAD;
	if (d->meta.flags & PORT_F_NEEDS_CSUM) {
		struct pkt_l4 l;
		int v6 = !pkt_parse_l4(p, d->len, &l) && l.ipv6;

		if (!q->feat.csum || (v6 && !q->feat.ipv6_csum)) {
			/* The frontend cannot finish it: we do. */
			if (s->gso ||
			    pkt_csum_complete(p, d->len, d->meta.csum_start,
					      d->meta.csum_offset))
				return NETQ_RXD_OFFLOAD;
			d->meta.flags = PORT_F_DATA_VALID;
			q->st.rx_csum_sw++;
		}
	}
	/* Only a frontend that turned hashing on is told the hash. */
	s->hash = d->has_hash &&
		  q->hash.alg == XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
	s->extras =
		(s->gso ? 1 : 0) + (s->hash ? 1 : 0) + (s->headroom ? 1 : 0);
	return -1;
}

static void put_extra(struct netq *q, unsigned int *nr, uint8_t type, int more,
		      const struct netif_extra_info *src)
{
	union ring_netif_rx_rsp *r = &q->rxrsps[(*nr)++];

	/* Every byte of a response is ours to initialise (XSA-216). */
	memset(r, 0, sizeof(*r));
	r->extra = *src;
	r->extra.type = type;
	r->extra.flags = more ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
}

/*
 * Lay out one packet on the @need requests at q->rxreqs[@base..]: grant
 * copies and responses (from q->rxrsps[@base]).
 */
static void rx_place(struct netq *q, const struct netq_rxpkt *d,
		     const struct rx_shape *s, unsigned int base)
{
	const uint8_t *src = q->rx_arena + d->off;
	unsigned int nr = base, slot, left = d->len, pos = 0;
	unsigned int extras_left = s->extras;

	for (slot = 0; slot < s->data; slot++) {
		const struct netif_rx_request *req;
		union ring_netif_rx_rsp *r;
		unsigned int off = slot ? 0 : s->headroom;
		unsigned int chunk = NB_PAGE - off;
		uint16_t flags = 0;

		if (chunk > left)
			chunk = left;
		req = &q->rxreqs[nr];
		r = &q->rxrsps[nr];
		xen_gcopy_to_guest(&q->gc[q->ngc], q->domid, req->gref,
				   (uint16_t)off, src + pos, (uint16_t)chunk);
		q->gc_who[q->ngc++] = nr;
		pos += chunk;
		left -= chunk;
		if (left)
			flags |= NETRXF_more_data;
		if (slot == 0) {
			if (d->meta.flags & PORT_F_NEEDS_CSUM)
				flags |= NETRXF_csum_blank |
					 NETRXF_data_validated;
			else if (d->meta.flags & PORT_F_DATA_VALID)
				flags |= NETRXF_data_validated;
			if (s->extras)
				flags |= NETRXF_extra_info;
		}
		memset(r, 0, sizeof(*r));
		r->rsp.id = req->id;
		r->rsp.offset = (uint16_t)off;
		r->rsp.flags = flags;
		r->rsp.status = (int16_t)chunk;
		nr++;
		/* Extras go right after the first data slot. */
		if (slot == 0 && s->gso) {
			struct netif_extra_info e;

			memset(&e, 0, sizeof(e));
			e.u.gso.type = (uint8_t)s->gso;
			e.u.gso.size = d->meta.gso_size;
			put_extra(q, &nr, XEN_NETIF_EXTRA_TYPE_GSO,
				  --extras_left > 0, &e);
		}
		/* Extras in type order, as Linux: GSO, HASH, XDP. */
		if (slot == 0 && s->hash) {
			struct netif_extra_info e;

			memset(&e, 0, sizeof(e));
			e.u.hash.type = d->hash_type;
			e.u.hash.algorithm =
				XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
			/* value: least significant octet first. */
			for (int b = 0; b < 4; b++)
				e.u.hash.value[b] =
					(uint8_t)(d->hash >> (8 * b));
			put_extra(q, &nr, XEN_NETIF_EXTRA_TYPE_HASH,
				  --extras_left > 0, &e);
		}
		if (slot == 0 && s->headroom) {
			struct netif_extra_info e;

			memset(&e, 0, sizeof(e));
			/* u.xdp.headroom: the first 16 bits of the union. */
			memcpy(&e.u, &(uint16_t){ (uint16_t)s->headroom }, 2);
			put_extra(q, &nr, NB_EXTRA_TYPE_XDP, --extras_left > 0,
				  &e);
		}
	}
}

static void rx_flush_msg(void *arg)
{
	netq_rx_flush(arg);
}

static void rx_arm_wait(struct netq *q, unsigned int need)
{
	int rc = ring_back_wait_for(&q->rx.b, need);

	if (rc < 0) {
		netq_fatal(q, NETQ_F_INDEX);
		return;
	}
	q->rx_waiting = rc == 0;
	if (rc == 0)
		rx_stall_waiting(q);
	if (rc > 0)
		/* They came while we looked: go again (from the loop, so a
		 * frontend trickling buffers cannot keep us here). */
		loop_post(q->loop, rx_flush_msg, q);
	if (!q->drain_armed &&
	    !loop_timer_arm(q->loop, &q->drain_timer, q->rx_drain_ms, 0))
		q->drain_armed = 1;
}

void netq_rx_flush(struct netq *q)
{
	unsigned int nr = 0, npkts = 0, k;
	unsigned int nmax = q->rx.b.nr_ents, wait = 0;

	if (q->disabled)
		return;
	/* Stalled: a buffer posted is the frontend back (and until one is,
	 * each one it posts notifies us). */
	if (q->rx_stalled) {
		int rc = ring_back_final_check(&q->rx.b);

		if (rc < 0) {
			netq_fatal(q, NETQ_F_INDEX);
			return;
		}
		if (rc > 0)
			rx_stall_progress(q);
	}
	q->rx_waiting = 0;
	q->ngc = 0;
	/* Packets stay queued until their copies ran: npkts are placed. */
	while (q->rxq_head + npkts != q->rxq_tail) {
		struct netq_rxpkt *d =
			&q->rxq[(q->rxq_head + npkts) & (q->rxq_size - 1)];
		struct rx_shape s;
		unsigned int need;
		int why, n;

		why = rx_shape(q, d, &s);
		if (why >= 0) {
			/* Only the head can be dropped in place. */
			if (npkts == 0) {
				rx_drop_head(q, (enum netq_rxdrop)why);
				continue;
			}
			break;
		}
		need = s.data + s.extras;
		if (nr + need > nmax)
			break;
		n = ring_netif_rx_back_fetch(&q->rx, &q->rxreqs[nr], need);
		if (n < 0) {
			netq_fatal(q, NETQ_F_INDEX);
			return;
		}
		if ((unsigned int)n < need) {
			ring_back_unfetch(&q->rx.b, (unsigned int)n);
			wait = need;
			break;
		}
		rx_place(q, d, &s, nr);
		nr += need;
		npkts++;
		q->st.rx_pkts++;
		q->st.rx_bytes += d->len;
		if (s.gso)
			q->st.rx_gso++;
		if (s.hash)
			q->st.rx_hash++;
	}
	if (nr) {
		rx_stall_progress(q);
		netq_gcopy_run(q);
		/* A failed copy fails its slot; netfront drops the packet. */
		for (k = 0; k < q->ngc; k++) {
			if (q->gc[k].status != GNTST_okay) {
				q->rxrsps[q->gc_who[k]].rsp.status =
					NETIF_RSP_ERROR;
				q->st.rx_drop[NETQ_RXD_GRANT]++;
			}
		}
		for (k = 0; k < nr; k++) {
			if (ring_netif_rx_back_put_rsp(&q->rx, &q->rxrsps[k]))
				log_err(q->name,
					"RX response without a request (bug)");
		}
		if (ring_back_push_rsp(&q->rx.b)) {
			xen_evtchn_notify(q->xe, (uint32_t)q->port_rx);
			q->st.notifies++;
		}
		/* Their bytes are copied: the arena space is free. */
		while (npkts--) {
			struct netq_rxpkt *d =
				&q->rxq[q->rxq_head & (q->rxq_size - 1)];

			q->rxq_bytes -= d->len;
			q->rxq_head++;
		}
		if (!rxq_len(q))
			q->rx_arena_tail = 0;
	}
	rx_resume_port(q);
	if (wait)
		rx_arm_wait(q, wait);
	else if (rxq_len(q))
		/* Stopped by the batch bound: go on after other work. */
		loop_post(q->loop, rx_flush_msg, q);
}
