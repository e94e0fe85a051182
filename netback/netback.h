/* SPDX-License-Identifier: MIT */
/*
 * netback.h - what netbackd's modules share: the daemon's configuration,
 * the control plane's entry points, and the queue (one TX ring and one RX
 * ring of a vif, one port queue, one thread).
 *
 *   main.c     process: configuration, supervisor or worker, signals
 *   xenbus.c   control plane: the vif driver of common/xbus.c; creates the
 *              host port (a TAP named vif<domid>.<devid>) before InitWait,
 *              reads the frontend's keys, starts the queues, watches rate
 *              and request-multicast-control
 *   netq.c     a queue's life: rings, event channels, thread, messages
 *   tx.c       guest TX: ring slots -> validated packets -> one grant copy
 *              per sweep -> the port, with the virtio-net style metadata
 *   rx.c       guest RX: the port -> a bounded queue -> the buffers the
 *              frontend posted, one grant copy and one notification per
 *              batch
 *   port.h     the host side behind an ops table (port_tap.c)
 *   pkt.h      Ethernet/IP/TCP/UDP header parsing and checksums
 *
 * Ownership: daemon -> vif (xenbus.c) -> port, queues. A queue belongs to
 * its thread once started; the control thread only starts and stops it and
 * posts messages to it. The multicast filter is the only state the queues
 * of a vif share (struct netq_mcast, under its own lock).
 */
#ifndef PVBACK_NETBACK_NETBACK_H
#define PVBACK_NETBACK_NETBACK_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "common/loop.h"
#include "ring/ring.h"

/* ---------------------------------------------------------- configuration */
#define NB_MAX_QUEUES 16
#define NB_DEF_QUEUES 8 /* Linux netback's default cap */
#define NB_PAGE 4096u
#define NB_ETH_HLEN 14u
/*
 * Linux netback's limits (spec/netif-xenbus.md, misbehaving frontends): a
 * packet of up to 1 + 18 slots is taken, beyond that it is dropped with
 * error responses, and from fatal-slots on the frontend is malicious.
 */
#define NB_LEGACY_SLOTS 18 /* XEN_NETBK_LEGACY_SLOTS_MAX */
#define NB_FATAL_SLOTS_DEF 20
#define NB_MCAST_MAX 64 /* XEN_NETBK_MCAST_MAX */
/* Linux's copy of netif.h has an XDP extra that Xen's lacks. */
#define NB_EXTRA_TYPE_XDP 5
#define NB_EXTRA_TYPE_MAX 6
#define NB_XDP_HEADROOM_MAX 2048 /* more would leave too little page */

/* netif's own settings (the common ones are common/daemon.h's). */
struct nb_conf {
	char port[16];		    /* host side: "tap" */
	unsigned int max_queues;    /* 0: min(8, online CPUs) */
	int split;		    /* offer feature-split-event-channels */
	int xdp;		    /* offer feature-xdp-headroom */
	unsigned int fatal_slots;   /* slots that disable the vif */
	unsigned int rx_queue_kib;  /* guest-RX queue bound, bytes */
	unsigned int rx_queue_pkts; /* ... and packets */
	unsigned int rx_drain_ms;   /* queued longer: dropped */
	unsigned int rx_stall_ms;   /* no buffers this long: no carrier */
	char run_dir[128];	    /* the daemon's: state kept for a
					 * successor (vif/ under it) */
};

/* ---------------------------------------------------------- control plane */
struct xbus_driver;

/* The vif driver for common/xbus.c, for @conf, on control loop @ctl. */
const struct xbus_driver *nb_xbus_driver(const struct nb_conf *conf,
					 struct loop *ctl);
/*
 * Write every vif's counters to @out: text, or (@json) a comma-separated
 * list of JSON objects, one per vif. Control thread.
 */
void nb_dump_stats(FILE *out, int json);

/* ---------------------------------------------------------- statistics */
/* Guest-TX packets dropped (error responses, or silently as Linux does). */
enum netq_txdrop {
	NETQ_TXD_SLOTS, /* 19..fatal-1 data slots */
	NETQ_TXD_SIZE,	/* a slot larger than what is left */
	NETQ_TXD_SHORT, /* first slot shorter than an Ethernet header */
	NETQ_TXD_GRANT, /* a grant copy failed */
	NETQ_TXD_CSUM,	/* checksum offload asked for, headers unusable */
	NETQ_TXD_PORT,	/* the host port refused the packet */
	NETQ_TXD_MCAST, /* MCAST_ADD beyond NB_MCAST_MAX */
	NETQ_TXD_NR,
};

/* Guest-RX packets dropped before they reached the frontend. */
enum netq_rxdrop {
	NETQ_RXD_FULL,	  /* the bounded queue was full */
	NETQ_RXD_EXPIRED, /* waited longer than rx-drain-ms */
	NETQ_RXD_SIZE,	  /* more slots than the frontend takes */
	NETQ_RXD_GRANT,	  /* a grant copy failed */
	NETQ_RXD_MCAST,	  /* multicast address not subscribed */
	NETQ_RXD_OFFLOAD, /* GSO/checksum the frontend cannot take */
	NETQ_RXD_DOWN,	  /* arrived while the vif was disabled */
	NETQ_RXD_STEER,	  /* the owning queue's hand-off ring was full */
	NETQ_RXD_NR,
};

/* Fatal frontend errors: the vif is disabled (Linux's policy). */
enum netq_fatal {
	NETQ_F_INDEX,  /* impossible producer index */
	NETQ_F_RUNOFF, /* a chain runs past the produced requests */
	NETQ_F_SLOTS,  /* fatal-slots or more */
	NETQ_F_PAGE,   /* offset + size beyond the page */
	NETQ_F_EXTRA,  /* extra info missing, type 0 or >= MAX */
	NETQ_F_GSO,    /* GSO size 0 or unknown GSO type */
	NETQ_F_NR,
};

/* Per-queue counters; every field a uint64_t (netq_stats_add sums them). */
struct netq_stats {
	uint64_t tx_pkts, tx_bytes;  /* guest TX delivered to the port */
	uint64_t tx_gso, tx_csum;    /* ...with GSO / checksum offload */
	uint64_t rx_pkts, rx_bytes;  /* guest RX delivered to the guest */
	uint64_t rx_gso, rx_csum_sw; /* ...with GSO / checksummed by us */
	uint64_t tx_drop[NETQ_TXD_NR];
	uint64_t rx_drop[NETQ_RXD_NR];
	uint64_t fatal[NETQ_F_NR];
	uint64_t tx_mcast_ctl;	/* MCAST_ADD/DEL requests */
	uint64_t tx_rate_waits; /* sweeps stopped by the rate limit */
	uint64_t gcopy_calls, gcopy_segs, notifies, events;
	uint64_t rx_hash;	 /* guest RX with a HASH extra */
	uint64_t rx_steered;	 /* handed to the queue the hash names */
	uint64_t tx_hash;	 /* guest TX that came with a HASH extra */
	uint64_t events_idle;	 /* wakeups that found no work */
	uint64_t storm_backoffs; /* times the channel was left masked */
	uint64_t rx_stalls;	 /* times it lost the carrier for it */
	uint64_t rx_pauses;	 /* times the port was left unread,
					 * the queue full (back-pressure) */
	uint64_t rx_queued_pkts, rx_queued_bytes; /* now (snapshot) */
};

/* Add @from's counters to @to (totals over connections). */
void netq_stats_add(struct netq_stats *to, const struct netq_stats *from);
extern const char *const netq_txdrop_names[NETQ_TXD_NR];
extern const char *const netq_rxdrop_names[NETQ_RXD_NR];
extern const char *const netq_fatal_names[NETQ_F_NR];

/* ---------------------------------------------------------- multicast */
/*
 * The frontend's multicast subscriptions (MCAST_ADD/DEL extras on any of
 * its TX rings), consulted by every queue's guest RX when the frontend
 * asked for multicast control. Shared by the queues of one vif; each call
 * takes the lock (rare: control extras and multicast frames only).
 */
struct netq_mcast {
	pthread_mutex_t lock;
	int control; /* request-multicast-control */
	unsigned int n;
	uint8_t addr[NB_MCAST_MAX][6];
};

void netq_mcast_init(struct netq_mcast *m);
void netq_mcast_destroy(struct netq_mcast *m);
/* 0, or -ENOSPC when NB_MCAST_MAX addresses are subscribed already. */
int netq_mcast_add(struct netq_mcast *m, const uint8_t addr[6]);
void netq_mcast_del(struct netq_mcast *m, const uint8_t addr[6]);
void netq_mcast_clear(struct netq_mcast *m);
void netq_mcast_set_control(struct netq_mcast *m, int on);
/* True if a frame to multicast @addr may go to the frontend. */
int netq_mcast_pass(struct netq_mcast *m, const uint8_t addr[6]);

/* ---------------------------------------------------------- queues */
struct netq;
struct port;
struct port_ops;
struct nb_hash;

/*
 * The hand-off between the queues of one vif (guest RX steering): a
 * single-producer single-consumer ring per ordered pair of queues, and an
 * eventfd per queue to wake it. A TAP queue hands a frame to whichever
 * netbackd queue the kernel picked; when the frontend's hash mapping names
 * another queue, the frame moves there through its pair's ring (no lock).
 * Created by the control thread before the queues start, destroyed after
 * they all stopped. 0 or -errno.
 */
struct netq_xfer;
int netq_xfer_create(unsigned int nq, struct netq_xfer **out);
void netq_xfer_destroy(struct netq_xfer *x); /* NULL-safe */

/* What the frontend can take and asked for (read at connect). */
struct netq_features {
	int sg;			   /* feature-sg */
	int gso_tcpv4, gso_tcpv6;  /* takes GSO on guest RX */
	int csum;		   /* !feature-no-csum-offload */
	int ipv6_csum;		   /* feature-ipv6-csum-offload */
	int rx_notify;		   /* feature-rx-notify */
	unsigned int xdp_headroom; /* xdp-headroom */
};

struct netq_cfg {
	const char *name; /* "vif/1/0 q0", for logs */
	unsigned int index;
	unsigned int domid;	       /* the frontend */
	uint32_t tx_ref, rx_ref;       /* the ring pages */
	uint32_t evtchn_tx, evtchn_rx; /* the frontend's ports (equal: one) */
	struct netq_features feat;
	const struct port_ops *pops;
	struct port *port;	  /* outlives the queue */
	unsigned int port_queue;  /* = index */
	struct netq_mcast *mcast; /* outlives the queue */
	struct netq_xfer *xfer;	  /* outlives the queue; NULL: 1 queue */
	unsigned int nq;	  /* the vif's queues */
	unsigned int fatal_slots;
	size_t rx_queue_bytes;
	unsigned int rx_queue_pkts;
	unsigned int rx_drain_ms;
	unsigned int rx_stall_ms; /* 0: never stalled */
	uint64_t rate_bytes;	  /* credit per window; 0: unlimited */
	uint64_t rate_usec;	  /* the window */
	/*
	 * Called on the queue's thread (post to the control thread from
	 * there), with @cb_arg: fatal when the frontend broke a rule that
	 * disables the vif (@class: enum netq_fatal; NETQ_F_INDEX means the
	 * ring itself is unusable); stall when the frontend took no packet
	 * for rx_stall_ms while packets waited for it (@stalled 1), and when
	 * it posts buffers again (0).
	 */
	struct loop *ctl;
	void (*fatal)(void *arg, unsigned int index, int class);
	void (*stall)(void *arg, unsigned int index, int stalled);
	void *cb_arg;
};

/*
 * Map both rings, bind the event channel(s), allocate the per-queue
 * buffers and start the queue's thread. Control thread. 0, or -errno with
 * a reason in @err (then nothing is left behind).
 */
int netq_start(const struct netq_cfg *cfg, struct netq **out, char *err,
	       size_t errlen);
/*
 * Stop the thread, unmap and unbind; the final counters go to @final if
 * not NULL. Blocks briefly. Control thread. NULL-safe.
 */
void netq_stop(struct netq *q, struct netq_stats *final);
/* Snapshot the counters (runs on the queue's thread; blocks briefly). */
int netq_stats(struct netq *q, struct netq_stats *out);
/* Stop serving the rings (the vif is disabled). Any thread. 0/-errno. */
int netq_disable(struct netq *q);
/* A new rate limit (0 bytes: unlimited), applied on the queue's thread. */
int netq_set_rate(struct netq *q, uint64_t bytes, uint64_t usec);
/* The frontend's new xdp-headroom (Reconfiguring), on the queue's thread. */
int netq_set_xdp_headroom(struct netq *q, unsigned int headroom);
/*
 * The frontend's hashing configuration (control ring), copied to the
 * queue's thread: which queue each guest-RX flow goes to, and the HASH
 * extra. Control thread; blocks briefly. 0/-errno.
 */
int netq_set_hash(struct netq *q, const struct nb_hash *h);

#endif
