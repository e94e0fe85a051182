// SPDX-License-Identifier: MIT
/*
 * netq.c - a queue's life: the TX and RX rings of one ring pair mapped, the
 * event channel(s) bound (split or one), the port queue, the per-queue
 * buffers allocated once at start (nothing is allocated per packet), and
 * one thread whose loop serves them all. tx.c and rx.c are the two
 * directions; this file dispatches events to them and takes the control
 * thread's messages (stop, statistics, rate, disable).
 *
 * A frontend that breaks a fatal rule (netq_fatal) gets its vif disabled,
 * as Linux netback's xenvif_fatal_tx_err: this queue stops serving at
 * once, and the control thread is told so it can turn the carrier off and
 * stop the vif's other queues.
 */
#include "netback/netq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <time.h>

const char *const netq_txdrop_names[NETQ_TXD_NR] = {
	"slots", "size", "short", "grant", "csum", "port", "mcast_full",
};
const char *const netq_rxdrop_names[NETQ_RXD_NR] = {
	"queue_full", "expired", "size",     "grant",
	"mcast",      "offload", "disabled", "steer_full",
};
const char *const netq_fatal_names[NETQ_F_NR] = {
	"prod_index", "chain_runoff", "too_many_slots",
	"cross_page", "bad_extra",    "bad_gso",
};

uint64_t netq_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

void netq_stats_add(struct netq_stats *to, const struct netq_stats *from)
{
	/* Every field is a uint64_t counter: add them as an array. */
	uint64_t *t = (uint64_t *)to;
	const uint64_t *f = (const uint64_t *)from;

	_Static_assert(sizeof(*to) % sizeof(uint64_t) == 0,
		       "netq_stats holds only uint64_t counters");
	for (size_t i = 0; i < sizeof(*to) / sizeof(uint64_t); i++)
		t[i] += f[i];
}

/* ------------------------------------------------------------ multicast */

void netq_mcast_init(struct netq_mcast *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
}

void netq_mcast_destroy(struct netq_mcast *m)
{
	pthread_mutex_destroy(&m->lock);
}

int netq_mcast_add(struct netq_mcast *m, const uint8_t addr[6])
{
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	if (m->n == NB_MCAST_MAX)
		rc = -ENOSPC;
	else
		memcpy(m->addr[m->n++], addr, 6);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

void netq_mcast_del(struct netq_mcast *m, const uint8_t addr[6])
{
	pthread_mutex_lock(&m->lock);
	/* One subscription goes per DEL (Linux deletes the first match). */
	for (unsigned int i = 0; i < m->n; i++) {
		if (!memcmp(m->addr[i], addr, 6)) {
			memmove(m->addr[i], m->addr[i + 1],
				(size_t)(m->n - i - 1) * 6);
			m->n--;
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
}

void netq_mcast_clear(struct netq_mcast *m)
{
	pthread_mutex_lock(&m->lock);
	m->n = 0;
	pthread_mutex_unlock(&m->lock);
}

void netq_mcast_set_control(struct netq_mcast *m, int on)
{
	pthread_mutex_lock(&m->lock);
	m->control = !!on;
	pthread_mutex_unlock(&m->lock);
}

int netq_mcast_pass(struct netq_mcast *m, const uint8_t addr[6])
{
	int pass;

	pthread_mutex_lock(&m->lock);
	pass = !m->control;
	for (unsigned int i = 0; !pass && i < m->n; i++)
		pass = !memcmp(m->addr[i], addr, 6);
	pthread_mutex_unlock(&m->lock);
	return pass;
}

/* ------------------------------------------------------------ helpers */

void netq_gcopy_run(struct netq *q)
{
	int rc;

	if (!q->ngc)
		return;
	rc = xen_gcopy_run(q->xg, q->gc, q->ngc);
	q->st.gcopy_calls++;
	q->st.gcopy_segs += q->ngc;
	if (rc) {
		/* The call itself failed: every segment is void. */
		log_rl_warn(&q->rl, q->name, "grant copy call failed: %s",
			    strerror(-rc));
		for (unsigned int i = 0; i < q->ngc; i++)
			q->gc[i].status = GNTST_general_error;
	}
}

void netq_port_unwatch(struct netq *q)
{
	if (q->port_watched)
		loop_fd_del(q->loop, &q->port_lfd);
	q->port_watched = 0;
}

void netq_fatal(struct netq *q, enum netq_fatal class)
{
	if (!q->disabled) {
		q->st.fatal[class]++;
		log_rl_err(&q->rl, q->name,
			   "fatal frontend error (%s): "
			   "disabling the vif",
			   netq_fatal_names[class]);
	}
	q->disabled = 1;
	netq_port_unwatch(q);
	netq_rx_purge(q, NETQ_RXD_DOWN);
	if (!q->fatal_sent && q->fatal_fn) {
		q->fatal_sent = 1;
		q->fatal_fn(q->cb_arg, q->index, (int)class);
	}
}

/* ------------------------------------------------------------ events */

/* The storm check's work counter: requests taken on either ring. */
static uint32_t ring_work(const struct netq *q)
{
	return q->tx.b.req_cons + q->rx.b.req_cons;
}

static void serve_port(struct netq *q, int port)
{
	if (q->disabled)
		return;
	if (port == q->port_tx)
		netq_tx_sweep(q);
	/* New RX buffers matter only to packets waiting for them, and to
	 * a stalled queue: they bring it back. */
	if (port == q->port_rx && (q->rx_waiting || q->rx_stalled))
		netq_rx_flush(q);
}

/* The back-off is over: unmask (a pending event is delivered again) and
 * look at the rings, whatever happened meanwhile. */
static void storm_over(struct loop_timer *t)
{
	struct netq *q =
		(struct netq *)((char *)t - offsetof(struct netq, storm_timer));

	q->storm_armed = 0;
	if (q->masked_tx) {
		q->masked_tx = 0;
		xen_evtchn_unmask(q->xe, (uint32_t)q->port_tx);
		serve_port(q, q->port_tx);
	}
	if (q->masked_rx) {
		q->masked_rx = 0;
		xen_evtchn_unmask(q->xe, (uint32_t)q->port_rx);
		serve_port(q, q->port_rx);
	}
}

/* Leave @port masked for @ms (or until the armed timer); 1 if it is. */
static int storm_mask(struct netq *q, int port, unsigned int ms)
{
	if (!q->storm_armed) {
		if (loop_timer_arm(q->loop, &q->storm_timer, ms, 0))
			return 0;
		q->storm_armed = 1;
		if (!q->st.storm_backoffs)
			log_rl_warn(&q->rl, q->name,
				    "event storm: %u wakeups "
				    "without work, backing off",
				    XEN_EVSTORM_IDLE);
		q->st.storm_backoffs++;
	}
	/* The guest's notifications coalesce into one pending event. */
	if (port == q->port_tx)
		q->masked_tx = 1;
	else
		q->masked_rx = 1;
	return 1;
}

static void on_event(struct loop_fd *lfd, uint32_t events)
{
	struct netq *q =
		(struct netq *)((char *)lfd - offsetof(struct netq, ev_lfd));
	int port = xen_evtchn_pending(q->xe);
	unsigned int ms;

	if (port < 0)
		return;
	q->st.events++;
	/* Served masked: the storm check sees what this wakeup took, and a
	 * notification sent meanwhile is delivered at unmask. */
	serve_port(q, port);
	if (xen_evstorm_note(&q->storm, ring_work(q)))
		q->st.events_idle++;
	ms = xen_evstorm_backoff(&q->storm);
	if (ms && !q->disabled && storm_mask(q, port, ms))
		return;
	xen_evtchn_unmask(q->xe, (uint32_t)port);
}

static void on_steered(struct loop_fd *lfd, uint32_t events)
{
	netq_rx_steered(
		(struct netq *)((char *)lfd - offsetof(struct netq, xfer_lfd)));
}

static void on_port(struct loop_fd *lfd, uint32_t events)
{
	netq_rx_port_ready(
		(struct netq *)((char *)lfd - offsetof(struct netq, port_lfd)));
}

static void on_credit(struct loop_timer *t)
{
	netq_tx_credit((struct netq *)((char *)t -
				       offsetof(struct netq, credit_timer)));
}

static void on_drain(struct loop_timer *t)
{
	netq_rx_expire((struct netq *)((char *)t -
				       offsetof(struct netq, drain_timer)));
}

/* First work on the queue's own thread: requests may already wait. */
static void queue_kick(void *arg)
{
	struct netq *q = arg;

	netq_tx_sweep(q);
	netq_rx_port_ready(q);
}

/* ------------------------------------------------------------ lifetime */

static void queue_free(struct netq *q)
{
	if (q->loop) {
		loop_timer_cancel(q->loop, &q->credit_timer);
		loop_timer_cancel(q->loop, &q->drain_timer);
		loop_timer_cancel(q->loop, &q->storm_timer);
		if (q->xfer_watched)
			loop_fd_del(q->loop, &q->xfer_lfd);
	}
	if (q->port_rx >= 0 && q->port_rx != q->port_tx)
		xen_evtchn_unbind(q->xe, (uint32_t)q->port_rx);
	if (q->port_tx >= 0)
		xen_evtchn_unbind(q->xe, (uint32_t)q->port_tx);
	if (q->tx_ring_addr)
		xen_gnttab_unmap(q->xg, q->tx_ring_addr, 1);
	if (q->rx_ring_addr)
		xen_gnttab_unmap(q->xg, q->rx_ring_addr, 1);
	xen_evtchn_close(q->xe);
	xen_gnttab_close(q->xg);
	if (q->tx_arena)
		munmap(q->tx_arena, q->tx_arena_bytes);
	if (q->rx_arena)
		munmap(q->rx_arena, q->rx_arena_bytes);
	loop_destroy(q->loop);
	free(q->gc);
	free(q->gc_who);
	free(q->txreqs);
	free(q->txpkts);
	free(q->rxq);
	free(q->rx_scratch);
	free(q->rxreqs);
	free(q->rxrsps);
	free(q);
}

static void *arena(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int queue_alloc(struct netq *q, const struct netq_cfg *cfg)
{
	unsigned int ntx = q->tx.b.nr_ents, nrx = q->rx.b.nr_ents;

	q->gc_max = ntx > nrx ? ntx : nrx;
	q->gc = calloc(q->gc_max, sizeof(*q->gc));
	q->gc_who = calloc(q->gc_max, sizeof(*q->gc_who));
	q->txreqs = calloc(ntx, sizeof(*q->txreqs));
	q->txpkts = calloc(ntx, sizeof(*q->txpkts));
	q->rxreqs = calloc(nrx, sizeof(*q->rxreqs));
	q->rxrsps = calloc(nrx, sizeof(*q->rxrsps));
	q->rx_scratch = malloc(PORT_MAX_PKT);
	if (!q->gc || !q->gc_who || !q->txreqs || !q->txpkts || !q->rxreqs ||
	    !q->rxrsps || !q->rx_scratch)
		return -ENOMEM;
	/* Every slot of a full ring at a full page, each packet aligned. */
	q->tx_arena_bytes = (size_t)ntx * (NB_PAGE + 64);
	q->tx_arena = arena(q->tx_arena_bytes);

	q->rxq_max_pkts = cfg->rx_queue_pkts ? cfg->rx_queue_pkts : 1;
	q->rxq_max_bytes = cfg->rx_queue_bytes ? cfg->rx_queue_bytes : 1;
	for (q->rxq_size = 1; q->rxq_size < q->rxq_max_pkts;)
		q->rxq_size *= 2;
	q->rxq = calloc(q->rxq_size, sizeof(*q->rxq));
	/*
	 * The byte bound, a packet beyond it, a wrapped packet's gap and the
	 * alignment of each queued packet.
	 */
	q->rx_arena_bytes = q->rxq_max_bytes + 3 * (size_t)PORT_MAX_PKT +
			    (size_t)q->rxq_max_pkts * 64;
	q->rx_arena = arena(q->rx_arena_bytes);
	if (!q->tx_arena || !q->rxq || !q->rx_arena)
		return -ENOMEM;
	return 0;
}

static void *queue_thread(void *arg)
{
	struct netq *q = arg;

	loop_run(q->loop);
	return NULL;
}

int netq_start(const struct netq_cfg *cfg, struct netq **out, char *err,
	       size_t errlen)
{
	struct netq *q;
	int rc, fd;

	q = calloc(1, sizeof(*q));
	if (!q) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	q->port_tx = q->port_rx = -1;
	q->credit_timer.lfd.fd = q->drain_timer.lfd.fd = -1;
	q->storm_timer.lfd.fd = -1;
	q->xfer = cfg->nq > 1 ? cfg->xfer : NULL;
	q->nq = cfg->nq ? cfg->nq : 1;
	snprintf(q->name, sizeof(q->name), "%s", cfg->name);
	q->index = cfg->index;
	q->domid = cfg->domid;
	q->feat = cfg->feat;
	q->pops = cfg->pops;
	q->port = cfg->port;
	q->pq = cfg->port_queue;
	q->mcast = cfg->mcast;
	q->fatal_slots = cfg->fatal_slots;
	q->rx_drain_ms = cfg->rx_drain_ms ? cfg->rx_drain_ms : 1;
	q->credit_bytes = cfg->rate_bytes;
	q->credit_usec = cfg->rate_usec;
	q->remaining_credit = cfg->rate_bytes;
	q->window_start_us = netq_now_us();
	q->ctl = cfg->ctl;
	q->fatal_fn = cfg->fatal;
	q->stall_fn = cfg->stall;
	q->cb_arg = cfg->cb_arg;
	q->rx_stall_ms = cfg->rx_stall_ms;

	rc = xen_gnttab_open(&q->xg);
	if (!rc)
		rc = xen_evtchn_open(&q->xe);
	if (rc) {
		snprintf(err, errlen,
			 "cannot open grant table / event "
			 "channels: %s",
			 strerror(-rc));
		goto err_free;
	}
	rc = xen_gnttab_map(q->xg, cfg->domid, 1, &cfg->tx_ref, 1,
			    &q->tx_ring_addr);
	if (rc) {
		q->tx_ring_addr = NULL;
		snprintf(err, errlen,
			 "cannot map TX ring of queue %u (ref "
			 "%u): %s",
			 cfg->index, cfg->tx_ref, strerror(-rc));
		goto err_free;
	}
	rc = xen_gnttab_map(q->xg, cfg->domid, 1, &cfg->rx_ref, 1,
			    &q->rx_ring_addr);
	if (rc) {
		q->rx_ring_addr = NULL;
		snprintf(err, errlen,
			 "cannot map RX ring of queue %u (ref "
			 "%u): %s",
			 cfg->index, cfg->rx_ref, strerror(-rc));
		goto err_free;
	}
	/* An impossible producer index at attach: -EIO, as Linux. */
	rc = ring_netif_tx_back_attach(&q->tx, q->tx_ring_addr, 1);
	if (!rc)
		rc = ring_netif_rx_back_attach(&q->rx, q->rx_ring_addr, 1);
	if (rc) {
		snprintf(err, errlen,
			 "queue %u: impossible producer index at "
			 "attach",
			 cfg->index);
		goto err_free;
	}
	rc = xen_evtchn_bind(q->xe, cfg->domid, cfg->evtchn_tx);
	if (rc < 0) {
		snprintf(err, errlen, "cannot bind event channel %u: %s",
			 cfg->evtchn_tx, strerror(-rc));
		goto err_free;
	}
	q->port_tx = q->port_rx = rc;
	if (cfg->evtchn_rx != cfg->evtchn_tx) {
		rc = xen_evtchn_bind(q->xe, cfg->domid, cfg->evtchn_rx);
		if (rc < 0) {
			snprintf(err, errlen,
				 "cannot bind event channel %u: "
				 "%s",
				 cfg->evtchn_rx, strerror(-rc));
			goto err_free;
		}
		q->port_rx = rc;
	}
	rc = queue_alloc(q, cfg);
	if (rc) {
		snprintf(err, errlen, "out of memory for queue %u", cfg->index);
		goto err_free;
	}
	q->loop = loop_create(q->name);
	if (!q->loop) {
		rc = -errno;
		snprintf(err, errlen, "cannot create the queue loop: %s",
			 strerror(-rc));
		goto err_free;
	}
	q->credit_timer.fn = on_credit;
	q->drain_timer.fn = on_drain;
	q->storm_timer.fn = storm_over;
	q->ev_lfd.fn = on_event;
	q->ev_lfd.fd = xen_evtchn_fd(q->xe);
	rc = loop_fd_add(q->loop, &q->ev_lfd, EPOLLIN);
	if (!rc) {
		fd = q->pops->queue_fd(q->port, q->pq);
		rc = fd < 0 ? fd : 0;
	}
	if (!rc) {
		q->port_lfd.fn = on_port;
		q->port_lfd.fd = fd;
		rc = loop_fd_add(q->loop, &q->port_lfd, EPOLLIN);
		q->port_watched = !rc;
	}
	if (!rc && q->xfer) {
		q->xfer_lfd.fn = on_steered;
		q->xfer_lfd.fd = netq_xfer_fd(q->xfer, q->index);
		rc = loop_fd_add(q->loop, &q->xfer_lfd, EPOLLIN);
		q->xfer_watched = !rc;
	}
	if (rc) {
		snprintf(err, errlen, "cannot watch the queue's fds: %s",
			 strerror(-rc));
		goto err_free;
	}
	rc = loop_post(q->loop, queue_kick, q);
	if (!rc)
		rc = -pthread_create(&q->tid, NULL, queue_thread, q);
	if (rc) {
		snprintf(err, errlen, "cannot start the queue thread: %s",
			 strerror(-rc));
		goto err_free;
	}
	q->thread_started = 1;
	*out = q;
	return 0;

err_free:
	queue_free(q);
	return rc;
}

static void queue_stop_msg(void *arg)
{
	struct netq *q = arg;

	/* What is queued for the guest will never reach it. */
	netq_rx_purge(q, NETQ_RXD_DOWN);
	netq_port_unwatch(q);
	loop_stop(q->loop);
}

void netq_stop(struct netq *q, struct netq_stats *final)
{
	if (!q)
		return;
	if (q->thread_started) {
		if (loop_post(q->loop, queue_stop_msg, q))
			loop_stop(q->loop);
		pthread_join(q->tid, NULL);
	}
	netq_port_unwatch(q);
	/* The thread is gone: its counters can be read directly. */
	if (final) {
		*final = q->st;
		final->rx_queued_pkts = final->rx_queued_bytes = 0;
	}
	queue_free(q);
}

struct stats_msg {
	struct netq *q;
	struct netq_stats *out;
};

static void stats_copy(void *arg)
{
	struct stats_msg *m = arg;

	*m->out = m->q->st;
	m->out->rx_queued_pkts = m->q->rxq_tail - m->q->rxq_head;
	m->out->rx_queued_bytes = m->q->rxq_bytes;
}

int netq_stats(struct netq *q, struct netq_stats *out)
{
	struct stats_msg m = { q, out };

	return loop_call(q->loop, stats_copy, &m);
}

static void disable_msg(void *arg)
{
	struct netq *q = arg;

	q->disabled = 1;
	netq_port_unwatch(q);
	netq_rx_purge(q, NETQ_RXD_DOWN);
}

int netq_disable(struct netq *q)
{
	return loop_post(q->loop, disable_msg, q);
}

struct rate_msg {
	struct netq *q;
	uint64_t bytes, usec;
};

static void rate_set(void *arg)
{
	struct rate_msg *m = arg;
	struct netq *q = m->q;

	q->credit_bytes = m->bytes;
	q->credit_usec = m->usec;
	/*
	 * The new rate starts a window now, with its full credit (Linux
	 * fires a pending credit timer at once; we also drop what is left
	 * of the old window): the toolstack's change is felt at once.
	 */
	q->window_start_us = netq_now_us();
	q->remaining_credit = 0;
	if (q->credit_bytes) {
		q->remaining_credit = q->credit_bytes;
		if (q->remaining_credit < 131072)
			q->remaining_credit = 131072;
	}
	if (q->credit_armed) {
		loop_timer_cancel(q->loop, &q->credit_timer);
		q->credit_armed = 0;
		netq_tx_sweep(q);
	}
}

int netq_set_rate(struct netq *q, uint64_t bytes, uint64_t usec)
{
	struct rate_msg m = { q, bytes, usec };

	return loop_call(q->loop, rate_set, &m);
}

struct xdp_msg {
	struct netq *q;
	unsigned int headroom;
};

static void xdp_set(void *arg)
{
	struct xdp_msg *m = arg;

	m->q->feat.xdp_headroom = m->headroom;
}

int netq_set_xdp_headroom(struct netq *q, unsigned int headroom)
{
	struct xdp_msg m = { q, headroom };

	return loop_call(q->loop, xdp_set, &m);
}

struct hash_msg {
	struct netq *q;
	const struct nb_hash *h;
};

static void hash_set(void *arg)
{
	struct hash_msg *m = arg;

	m->q->hash = *m->h;
}

int netq_set_hash(struct netq *q, const struct nb_hash *h)
{
	struct hash_msg m = { q, h };

	return loop_call(q->loop, hash_set, &m);
}
