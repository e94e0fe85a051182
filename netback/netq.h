/* SPDX-License-Identifier: MIT */
/*
 * netq.h - the inside of a queue, shared by its three files and nothing
 * else: netq.c (life cycle, events, messages), tx.c (guest TX) and rx.c
 * (guest RX). The contract for the control plane is in netback.h.
 *
 * Everything in struct netq belongs to the queue's thread once it runs;
 * the control thread touches it only before the thread starts and after it
 * was joined.
 */
#ifndef PVBACK_NETBACK_NETQ_H
#define PVBACK_NETBACK_NETQ_H

#include <pthread.h>
#include <stdint.h>

#include "common/log.h"
#include "common/loop.h"
#include "common/xen.h"
#include "netback/hash.h"
#include "netback/netback.h"
#include "netback/port.h"
#include "ring/ring.h"

/* ------------------------------------------------------------ guest TX */

enum netq_tx_verdict {
	NETQ_TX_OK,    /* a packet to copy and pass on */
	NETQ_TX_DROP,  /* answer every slot with an error */
	NETQ_TX_FATAL, /* disable the vif; answer nothing */
	NETQ_TX_MCAST, /* an MCAST_ADD/DEL request, no packet */
};

/*
 * What one packet's slots say, decided from the private copies alone by
 * netq_tx_plan(). Slot layout on the ring: the first data slot, then
 * nextras extra-info slots, then nfrags more data slots.
 */
struct netq_tx_plan {
	enum netq_tx_verdict verdict;
	int reason;	     /* NETQ_TXD_* (DROP), NETQ_F_* (FATAL) */
	unsigned int nslots; /* ring slots it takes, extras included */
	unsigned int nextras;
	unsigned int nfrags;	 /* data slots after the first */
	uint16_t total;		 /* the packet's length */
	uint16_t first_len;	 /* bytes in the first slot */
	uint16_t flags;		 /* the first slot's NETTXF_* */
	unsigned int extra_mask; /* bit t: an extra of type t came */
	struct netif_extra_info extras[NB_EXTRA_TYPE_MAX - 1];
};

/*
 * netq_tx_plan - read the packet starting at @r[0] out of the @avail
 * copied slots @r[0..avail) and decide what to do with it, with Linux
 * netback's drop-versus-fatal rules (spec/netif-xenbus.md) and
 * @fatal_slots as the malicious bound. Pure; never trusts a field.
 */
void netq_tx_plan(const union ring_netif_tx_req *r, unsigned int avail,
		  unsigned int fatal_slots, struct netq_tx_plan *p);

/* A packet of the current sweep. */
struct netq_txpkt {
	struct netq_tx_plan p;
	uint32_t slot; /* index of its first slot in txreqs */
	uint32_t off;  /* its bytes in the TX arena */
	uint8_t copy_failed;
};

/* ------------------------------------------------------------ guest RX */

/* A packet waiting for the frontend's buffers. */
struct netq_rxpkt {
	uint32_t off; /* in the RX arena */
	uint32_t len;
	uint64_t t_ms; /* when it was queued */
	struct port_meta meta;
	uint32_t hash;	   /* for the HASH extra, if has_hash */
	uint8_t hash_type; /* _XEN_NETIF_CTRL_HASH_TYPE_* */
	uint8_t has_hash;
};

/* ------------------------------------------------------------ steering */

/* What travels with a frame from one queue to another (xfer.c). */
struct netq_xfer_hdr {
	uint32_t len; /* frame bytes after the header */
	uint32_t hash;
	uint8_t hash_type;
	uint8_t has_hash;
	uint8_t pad[2];
	struct port_meta meta;
};

/*
 * netq_xfer_push - copy a frame into the (@src -> @dst) ring: on @src's
 * thread only. 0, or -ENOSPC when the ring is full (drop it).
 */
int netq_xfer_push(struct netq_xfer *x, unsigned int src, unsigned int dst,
		   const struct netq_xfer_hdr *h, const void *data);
/* Wake @dst (its eventfd): once per batch, after the pushes. */
void netq_xfer_kick(struct netq_xfer *x, unsigned int dst);
/* The eventfd that wakes queue @dst. */
int netq_xfer_fd(struct netq_xfer *x, unsigned int dst);
/*
 * netq_xfer_drain - on @dst's thread: hand up to @budget frames queued
 * for @dst (from every other queue) to @fn, which copies what it keeps;
 * the ring space is released after. Returns the count.
 */
unsigned int netq_xfer_drain(struct netq_xfer *x, unsigned int dst,
			     void (*fn)(void *arg,
					const struct netq_xfer_hdr *h,
					const uint8_t *data),
			     void *arg, unsigned int budget);

/* ------------------------------------------------------------ the queue */

struct netq {
	char name[64];
	unsigned int index;
	unsigned int domid;
	struct loop *loop;
	pthread_t tid;
	int thread_started;

	/* Xen handles: this queue's own, used by its thread only. */
	struct xen_gnttab *xg;
	struct xen_evtchn *xe;
	int port_tx, port_rx; /* local ports; equal if not split */
	void *tx_ring_addr, *rx_ring_addr;
	struct ring_netif_tx_back tx;
	struct ring_netif_rx_back rx;
	struct loop_fd ev_lfd;

	/* The host side. */
	const struct port_ops *pops;
	struct port *port;
	unsigned int pq;
	struct loop_fd port_lfd;
	int port_watched;
	int port_paused; /* RX queue full: port not read */

	struct netq_features feat;
	struct netq_mcast *mcast;
	unsigned int fatal_slots;

	/* Guest-RX hashing and steering (the frontend's control ring). */
	struct nb_hash hash;
	struct netq_xfer *xfer;
	unsigned int nq;
	struct loop_fd xfer_lfd;
	int xfer_watched;
	uint32_t xfer_dirty; /* queues to wake after a batch */

	/* Event-storm back-off (XSA-332), as blkback/queue.c. */
	struct xen_evstorm storm; /* counts on TX + RX req_cons */
	int masked_tx, masked_rx; /* ports left masked */
	struct loop_timer storm_timer;
	int storm_armed;

	/* Grant copies of one sweep (TX) or one flush (RX). */
	struct xen_gcopy *gc;
	uint32_t *gc_who; /* TX: packet; RX: response index */
	unsigned int ngc, gc_max;

	/* Guest TX: the slots of one sweep, its packets, their bytes. */
	union ring_netif_tx_req *txreqs;
	struct netq_txpkt *txpkts;
	unsigned char *tx_arena;
	size_t tx_arena_bytes;

	/* Credit-based rate limit on guest TX (Linux's tx_credit_*). */
	uint64_t credit_bytes; /* 0: unlimited */
	uint64_t credit_usec;
	uint64_t remaining_credit;
	uint64_t window_start_us;
	struct loop_timer credit_timer;
	int credit_armed;

	/* Guest RX: the bounded queue (a descriptor ring over an arena). */
	struct netq_rxpkt *rxq;
	unsigned int rxq_size; /* descriptors (power of two) */
	unsigned int rxq_max_pkts;
	size_t rxq_max_bytes;
	uint32_t rxq_head, rxq_tail; /* free-running */
	size_t rxq_bytes;
	unsigned char *rx_arena;
	size_t rx_arena_bytes;
	size_t rx_arena_tail;	   /* where the next packet goes */
	unsigned char *rx_scratch; /* reads that are dropped */
	unsigned int rx_drain_ms;
	struct loop_timer drain_timer;
	int drain_armed;
	int rx_waiting; /* armed req_event for buffers */
	unsigned int rx_stall_ms;
	uint64_t rx_stall_since; /* ms: first wait without progress */
	/* ms: the clock read once per batch of arrivals (rx_enqueue's
	 * stamp); a clock read per packet cost 5 % of the worker in a PV
	 * Dom0, where it is no cheap vDSO call. */
	uint64_t rx_batch_ms;
	int rx_stalled;
	struct netif_rx_request *rxreqs;
	union ring_netif_rx_rsp *rxrsps;

	int disabled; /* the vif is disabled: serve nothing */
	int fatal_sent;

	struct loop *ctl;
	void (*fatal_fn)(void *arg, unsigned int index, int class);
	void (*stall_fn)(void *arg, unsigned int index, int stalled);
	void *cb_arg;

	struct netq_stats st;
	struct log_rl rl; /* for everything a guest can cause */
};

/* tx.c: serve the TX ring until it is empty (bounded), answer, notify. */
void netq_tx_sweep(struct netq *q);
/* tx.c: the credit timer fired. */
void netq_tx_credit(struct netq *q);

/* rx.c: take what the port has (bounded) into the queue, then flush. */
void netq_rx_port_ready(struct netq *q);
/* rx.c: copy queued packets into the frontend's buffers, notify once. */
void netq_rx_flush(struct netq *q);
/* rx.c: drop packets queued longer than rx_drain_ms. */
void netq_rx_expire(struct netq *q);
/* rx.c: drop everything queued (disable, stop), counted as @why. */
void netq_rx_purge(struct netq *q, enum netq_rxdrop why);
/* rx.c: take the frames other queues steered here, then flush. */
void netq_rx_steered(struct netq *q);

/* netq.c: the frontend broke a fatal rule: stop serving, tell the
 * control thread (once). */
void netq_fatal(struct netq *q, enum netq_fatal class);
/* netq.c: stop polling the port (disabled, stopping, or broken). */
void netq_port_unwatch(struct netq *q);
/* netq.c: run the grant copies queued in q->gc (one call). */
void netq_gcopy_run(struct netq *q);
uint64_t netq_now_us(void);

#endif
