/* SPDX-License-Identifier: MIT */
/*
 * netfront.h - a userspace netif frontend (Linux xen-netfront's behaviour),
 * for tests, fuzzers, benchmarks and, later, the guest side of iperf3 runs.
 *
 * It runs as a guest: in the emulated Xen (tests/xensim) or unchanged in a
 * real Linux guest, since it only uses common/xen.h (libxenstore, gntshr,
 * libxenevtchn). netfront_connect() is xennet_connect as
 * spec/netif-xenbus.md B.4 describes it: wait for the backend's InitWait,
 * read its features, share a TX and an RX ring page and allocate one or two
 * (split) event channels per queue, write every key in one transaction
 * (retried on EAGAIN), kick, fill the RX rings, Connected, then wait for the
 * backend's Connected.
 *
 * Data path: per queue a pool of TX pages (shared read-only with the
 * backend, as netfront grants them) and a pool of RX pages (shared
 * writable), both shared once at connect. A packet to send is copied into
 * TX pages, one slot per page, the first slot carrying the total size; the
 * RX ring is kept filled with RX pages, and received slots are copied out
 * and reassembled. Every response is checked before anything is done with
 * it (ids known and pending, statuses known, offset + size within the page,
 * chains and extras complete and bounded, producer indexes possible): a
 * violation is counted and its packet dropped, never trusted; tests assert
 * the count is 0 (netfront_violations).
 *
 * Threading: a queue (0 .. info.num_queues - 1) is used by one thread at a
 * time (send, kick, poll, recv, wait, the ring hooks); different queues may
 * be used by different threads (each queue has its own event channel
 * handle). connect, close and disconnect_abrupt are called by one thread
 * while no queue call runs. Calls block only where they say so.
 * Everything returns 0 (or a count) or -errno; the reason of the last
 * failure in this thread is in netfront_last_error().
 *
 * Limits: a packet is 1 .. 65535 bytes (XEN_NETIF_MAX_TX_SIZE: the first
 * slot's size field is 16 bits) in at most 18 data slots. On a real Linux
 * guest, gntalloc's `limit` module parameter (default 1024 grants in all)
 * bounds queues * (2 + tx_pages + rx_pages + 1): lower the pools there.
 *
 * The peer is netback/ (netbackd) or any netif backend.
 */
#ifndef PVBACK_FRONT_NETFRONT_H
#define PVBACK_FRONT_NETFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/ring.h"

struct netfront;

#define NETFRONT_MAX_QUEUES 16
#define NETFRONT_MAX_PKT 65535u /* XEN_NETIF_MAX_TX_SIZE */
/* The largest RX packet: netfront's slot bound times a page. */
#define NETFRONT_RX_MAX_SLOTS (XEN_NETIF_NR_SLOTS_MIN + 1)
#define NETFRONT_RX_MAX_PKT (NETFRONT_RX_MAX_SLOTS * 4096u)

struct netfront_cfg {
	unsigned int devid;  /* device/vif/<devid> */
	unsigned int queues; /* wanted; min with multi-queue-max-queues */
	bool split_evtchn;   /* split tx/rx channels if offered */
	/* What we write (each only when true, as Linux writes only "1"s). */
	bool sg;		   /* feature-sg */
	bool gso_tcpv4;		   /* feature-gso-tcpv4: we take GSO on RX */
	bool gso_tcpv6;		   /* feature-gso-tcpv6 */
	bool ipv6_csum;		   /* feature-ipv6-csum-offload */
	bool no_csum_offload;	   /* feature-no-csum-offload=1 */
	unsigned int xdp_headroom; /* xdp-headroom, if the backend offers */
	unsigned int timeout_ms;   /* per xenbus wait; 0 = 10000 */
	unsigned int tx_pages;	   /* TX pool pages per queue; 0 = 256 */
	unsigned int rx_pages;	   /* RX pool pages per queue; 0 = 256 */
	unsigned int rx_fill;	   /* RX buffers kept posted; 0 = all */
	bool rx_none;		   /* hostile: post no RX buffer at all */
	/* Share a control ring (ctrl-ring-ref, event-channel-ctrl) if the
	 * backend offers feature-ctrl-ring; see netfront_ctrl(). */
	bool ctrl_ring;
	/*
	 * Info-leak check (XSA-216): fill every RX page with this byte
	 * before posting it, and on each response check that the backend
	 * wrote nothing outside [offset, offset + status) of a data slot's
	 * page, nothing into the page of an extra slot's index, and that
	 * the unused bytes of each extra are zero. A failure is a
	 * violation ("leak"). 0: off.
	 */
	uint8_t rx_canary;
	/* Called from netfront_send/poll/recv as a packet's last TX slot
	 * comes back; status is the first of its slots' statuses that is
	 * not NETIF_RSP_OKAY, else OKAY. */
	void (*tx_done)(void *opaque, unsigned int q, uint64_t tag, int status);
	void *opaque;
	bool verbose; /* print violations (first few) on stderr */
};

/* Defaults: vif 0, 1 queue, split channels, Linux's feature set
 * (sg, gso-tcpv4, gso-tcpv6, ipv6-csum-offload), 10 s, 256 + 256 pages. */
void netfront_cfg_init(struct netfront_cfg *cfg);

/* What was negotiated (valid after a successful connect). */
struct netfront_info {
	unsigned int fe_domid, be_domid, devid;
	unsigned int num_queues;   /* used */
	bool split;		   /* split event channels in use */
	unsigned int tx_ring_size; /* slots per ring (256) */
	unsigned int rx_ring_size;
	unsigned int tx_pages, rx_pages, rx_fill;
	/* What we wrote. */
	bool sg, gso_tcpv4, gso_tcpv6, ipv6_csum, no_csum_offload;
	unsigned int xdp_headroom; /* written (0 if the backend has none) */
	/* What the backend advertised (-1: key absent, else its value). */
	long be_rx_copy, be_rx_flip, be_sg, be_gso_tcpv4, be_gso_tcpv6;
	long be_ipv6_csum, be_split, be_max_queues, be_ctrl_ring;
	long be_multicast, be_dynamic_multicast, be_xdp_headroom;
	bool ctrl_ring; /* a control ring is shared */
	bool trusted;	/* fe/trusted (default 1) */
	bool have_mac;
	uint8_t mac[6]; /* fe/mac */
	char fe_path[256], be_path[256];
};

/*
 * netfront_connect - the frontend handshake on device/vif/@cfg->devid
 * (our state must be Initialising). Blocks (each wait up to
 * cfg->timeout_ms). On success *@out is the device (netfront_close or
 * netfront_disconnect_abrupt frees it). -ETIMEDOUT, -ENODEV (no such
 * device), -EOPNOTSUPP (no feature-rx-copy), -EPROTO (backend closed, or
 * a key of its unreadable), or the errno of a failed call;
 * netfront_last_error() says which step.
 */
int netfront_connect(struct netfront **out, const struct netfront_cfg *cfg);

const struct netfront_info *netfront_info(const struct netfront *nf);

/* The reason of the last failed netfront call in this thread. */
const char *netfront_last_error(void);

/*
 * netfront_close - orderly close (xennet_bus_close): Closing, wait for the
 * backend's Closing or Closed, Closed, wait for its Closed (each bounded by
 * the timeout), then unshare every page, unbind, free @nf. Packets in
 * flight are dropped. 0, or the first error met (everything is released
 * regardless). NULL-safe.
 */
int netfront_close(struct netfront *nf);

/*
 * netfront_disconnect_abrupt - what a crash leaves: state untouched, pages
 * neither unshared nor unmapped; only our handles are closed and @nf freed
 * (closing the handles drops the event channels; what it does to the
 * grants is the grant driver's business). NULL-safe.
 */
void netfront_disconnect_abrupt(struct netfront *nf);

/* ------------------------------------------------------------ data path */

#define NETFRONT_TX_MORE 1u /* more packets follow: do not push yet */
/*
 * Copy only the first slot's bytes; the other slots go out with whatever
 * their pages hold. For benchmarks that resend one packet whose bytes past
 * the first page do not matter: it stands in for Linux netfront granting
 * the skb's own pages, which copies nothing, so the guest's copy does not
 * weigh on the figures. Sizes, chain and metadata are as without it.
 */
#define NETFRONT_TX_HEAD_ONLY 2u

struct netfront_txmeta {
	uint16_t flags;	   /* NETTXF_csum_blank | NETTXF_data_validated */
	uint8_t gso_type;  /* XEN_NETIF_GSO_TYPE_*; NONE: no GSO extra */
	uint16_t gso_size; /* MSS when gso_type is set (> 0) */
	uint16_t offset;   /* where the first slot starts in its page */
	unsigned int opts; /* NETFRONT_TX_* */
	uint64_t tag;	   /* handed back to cfg.tx_done */
};

/*
 * netfront_send - copy @len bytes at @data into TX pages of queue @q and put
 * the packet on the ring: the first slot with the total size, one slot per
 * page after it chained with NETTXF_more_data, a GSO extra-info slot after
 * the first when @meta asks. @meta may be NULL (no offload, offset 0).
 * Unless @meta->opts has NETFRONT_TX_MORE, publishes the requests put so far
 * and notifies the backend if its req_event asks. Collects TX responses
 * first when short of room. Returns 0; -EAGAIN when the ring or the pool is
 * short now (wait, then retry); -EMSGSIZE (0 or > 65535 bytes, or more than
 * 18 slots); -EOPNOTSUPP (GSO of a type the backend did not advertise);
 * -EINVAL (bad flags, gso_size 0, offset >= 4096); -EIO when the queue is
 * broken.
 */
int netfront_send(struct netfront *nf, unsigned int q, const void *data,
		  size_t len, const struct netfront_txmeta *meta);

/*
 * netfront_kick - publish the requests put since the last push (TX and RX)
 * and notify per the ring event rule. 1 if notified, 0 if not, -errno.
 */
int netfront_kick(struct netfront *nf, unsigned int q);

/* What came with a received packet. */
struct netfront_rxmeta {
	uint16_t flags;	  /* NETRXF_data_validated | NETRXF_csum_blank */
	uint8_t gso_type; /* from a GSO extra; NONE if none */
	uint16_t gso_size;
	bool has_hash;	       /* a HASH extra came along */
	bool has_xdp;	       /* an XDP extra came along (only if we asked) */
	uint16_t xdp_headroom; /* ...with this headroom */
	uint16_t offset;       /* where the first slot's data started */
	uint8_t hash_type, hash_alg;
	uint32_t hash;
	unsigned int slots; /* data slots it arrived in */
};

/*
 * The packet @data[0..@len) is valid during the call only (it lives in the
 * queue's reassembly buffer).
 */
typedef void (*netfront_rx_fn)(void *arg, unsigned int q, const void *data,
			       size_t len, const struct netfront_rxmeta *meta);

/*
 * netfront_poll - without blocking: collect @q's TX responses, hand up to
 * @budget received packets to @fn (0: no limit; @fn NULL: taken and
 * dropped), refill the RX ring. Returns the number of packets taken, or
 * -EIO when the queue is broken.
 */
int netfront_poll(struct netfront *nf, unsigned int q, netfront_rx_fn fn,
		  void *arg, unsigned int budget);

/*
 * netfront_recv - take one received packet of @q into @buf (up to @cap
 * bytes), waiting up to @timeout_ms (0: not at all, < 0: forever). Also
 * collects TX responses and refills the RX ring. Returns the packet's
 * length; -ETIMEDOUT; -EMSGSIZE if it was longer than @cap (dropped);
 * -EIO when the queue is broken.
 */
int netfront_recv(struct netfront *nf, unsigned int q, void *buf, size_t cap,
		  struct netfront_rxmeta *meta, int timeout_ms);

/*
 * netfront_wait - before sleeping, re-arm both rings' rsp_event; if nothing
 * is there, wait up to @timeout_ms (< 0: forever) on @q's event channel(s).
 * Returns 1 if there may be work (poll next), 0 on timeout, -errno.
 */
int netfront_wait(struct netfront *nf, unsigned int q, int timeout_ms);

/* The pollable fd of @q's event channel handle (-EINVAL for a bad @q). */
int netfront_fd(struct netfront *nf, unsigned int q);

/* TX slots of @q put on the ring and not answered yet. */
unsigned int netfront_tx_inflight(struct netfront *nf, unsigned int q);

struct netfront_stats {
	uint64_t tx_pkts, tx_bytes, tx_slots, tx_extras;
	uint64_t tx_rsp_okay, tx_rsp_error, tx_rsp_dropped, tx_rsp_null;
	uint64_t rx_pkts, rx_bytes, rx_gso;
	uint64_t rx_errors;	    /* packets the backend answered -1/-2 */
	uint64_t rx_dropped;	    /* packets dropped for a violation */
	uint64_t raw_rsp;	    /* responses taken as answers to raw puts */
	uint64_t rx_canary_checked; /* pages checked (rx_canary) */
	uint64_t rx_leaks;	    /* ...that held bytes they should not */
	uint64_t violations;
};

/* A snapshot of @q's counters (from @q's thread, or while it is idle). */
void netfront_stats(const struct netfront *nf, unsigned int q,
		    struct netfront_stats *out);

/*
 * netfront_violations - how many responses or indexes broke the netif
 * rules (unknown or not pending TX id, unknown status, NULL response with
 * no extra outstanding, RX response id not the request's, offset + size
 * beyond the page, negative status other than -1/-2, undefined flags,
 * extras of type 0 / >= MAX / a GSO extra we did not ask for or with size
 * 0 or an unknown type, a chain or extras running past rsp_prod, more
 * slots than netfront takes, rsp_prod beyond our requests), summed over
 * the queues; the last description is copied to @last (if not NULL).
 */
unsigned long netfront_violations(const struct netfront *nf, char *last,
				  size_t len);

/* ------------------------------------------- the guest's network device */

struct netfront_tap;

/*
 * netfront_tap_start - make @nf a network interface of the calling
 * process's network namespace, as xen-netfront makes it one of the guest:
 * a TAP named @ifname (IFF_VNET_HDR, one TAP queue per netfront queue, the
 * frontend's MAC from fe/mac, TSO capped below the 64 KiB wire limit like
 * netfront's), and one thread per queue moving packets both ways. What the
 * kernel sends on the interface goes out with netfront_send, its checksum
 * and GSO metadata turned into csum_blank / data_validated and a GSO extra
 * (only what the backend advertised: IPv4 checksum always, IPv6 with
 * feature-ipv6-csum-offload, GSO with feature-sg and feature-gso-*;
 * anything else is finished in software first); what the backend delivers
 * goes into the interface with a virtio-net header (csum_blank becomes a
 * partial checksum the kernel accepts, a GSO extra a GSO packet). The
 * interface is left down: configure it (ip addr, ip link set up) as the
 * guest's. While it runs, nothing else may use @nf's queues (reading
 * netfront_stats and netfront_violations is fine). Blocks only to create
 * the threads. 0, or -errno (netfront_last_error says why).
 */
int netfront_tap_start(struct netfront *nf, const char *ifname,
		       struct netfront_tap **out);

/* Stop the threads and close the interface (it vanishes). NULL-safe. */
void netfront_tap_stop(struct netfront_tap *t);

struct netfront_tap_stats {
	uint64_t to_ring; /* packets from the interface put on TX rings */
	uint64_t to_ring_dropped; /* too big, bad metadata, queue stopped */
	uint64_t to_kernel; /* packets from RX rings written to the interface */
	uint64_t to_kernel_dropped; /* the interface refused them */
	uint64_t csum_sw; /* checksums finished here (not offloadable) */
};

/* Counters summed over the queues (any thread; a snapshot). */
void netfront_tap_stats(const struct netfront_tap *t,
			struct netfront_tap_stats *out);

/*
 * netfront_set_xdp_headroom - what xennet_xdp_set does on the bus when an
 * XDP program comes or goes: write xdp-headroom = @headroom, Reconfiguring,
 * wait for the backend's Reconfigured, Connected again. From then on the
 * first slot of each received packet is expected at that offset, with an
 * XDP extra saying so. No queue call may run meanwhile. 0, -EOPNOTSUPP
 * (the backend offers no feature-xdp-headroom), -ETIMEDOUT, -errno.
 */
int netfront_set_xdp_headroom(struct netfront *nf, unsigned int headroom);

/* ----------------------------------------- hooks for hostile frontends */

/*
 * netfront_tx_put_raw - put @n slots as given (requests or extras, any
 * flags, sizes, offsets, grefs, ids, chains of any length) on @q's TX ring,
 * then publish and notify unless @more. Responses that do not answer one of
 * our own packets are taken as answers to raw slots (up to the number of
 * raw slots put; beyond, they are violations) and kept for
 * netfront_tx_raw_responses. Use ids the library does not (>= tx_pages) so
 * the two cannot be confused. Returns 0, -ENOSPC if the ring has fewer
 * than @n free slots (nothing put), -EIO if the queue is broken.
 */
int netfront_tx_put_raw(struct netfront *nf, unsigned int q,
			const union ring_netif_tx_req *slots, unsigned int n,
			bool more);

/*
 * netfront_tx_raw_responses - move up to @max responses taken for raw
 * slots (in arrival order; NETIF_RSP_NULL ones included) into @out.
 * Returns the count. The log keeps the latest 512.
 */
int netfront_tx_raw_responses(struct netfront *nf, unsigned int q,
			      struct netif_tx_response *out, unsigned int max);

/*
 * netfront_tx_scratch - a page of @q's own, shared read-only with the
 * backend and never used by the library, for raw slots to point at.
 * Returns its address; its grant reference in *@gref.
 */
void *netfront_tx_scratch(struct netfront *nf, unsigned int q, uint32_t *gref);

#define NETFRONT_TX 0
#define NETFRONT_RX 1

/*
 * netfront_ring - @q's TX or RX front ring view: the shared page (sring,
 * to write impossible producer indexes by hand) and our private indexes.
 */
struct ring_front *netfront_ring(struct netfront *nf, unsigned int q,
				 int which);

/* Notify the backend on @q's TX or RX channel (the same one unless split),
 * whatever req_event says; for event storms call it in a loop. 0/-errno. */
int netfront_notify(struct netfront *nf, unsigned int q, int which);

/*
 * netfront_rx_set_fill - keep @n RX buffers posted on @q from now on (0:
 * none, 1: exactly one; capped by the pool and the ring). Buffers already
 * posted stay posted. Returns the value used.
 */
int netfront_rx_set_fill(struct netfront *nf, unsigned int q, unsigned int n);

/* ------------------------------------------------------ control ring */

/*
 * netfront_ctrl - send one control message (xen_netif_ctrl_request of
 * @type with @d0..@d2) and wait (the timeout) for its response. Returns
 * the response's status (XEN_NETIF_CTRL_STATUS_*, >= 0) with its data in
 * *@data (if not NULL); -ENOTCONN (no control ring), -ETIMEDOUT, -EIO (a
 * response that is not ours: id or type differ). One thread at a time.
 */
int netfront_ctrl(struct netfront *nf, uint16_t type, uint32_t d0, uint32_t d1,
		  uint32_t d2, uint32_t *data);

/*
 * netfront_ctrl_send - put @n requests as given (ids and all) on the
 * control ring, publish, notify. 0, -ENOSPC (fewer free slots; nothing
 * put), -ENOTCONN.
 */
int netfront_ctrl_send(struct netfront *nf,
		       const struct xen_netif_ctrl_request *reqs,
		       unsigned int n);
/*
 * netfront_ctrl_collect - wait up to @timeout_ms for @want responses,
 * copying up to @max into @out. Returns the count, or -EIO if the backend
 * published more responses than requests.
 */
int netfront_ctrl_collect(struct netfront *nf,
			  struct xen_netif_ctrl_response *out, unsigned int max,
			  unsigned int want, int timeout_ms);
/* The control ring's front view (for impossible indexes) and a notify. */
struct ring_front *netfront_ctrl_ring(struct netfront *nf);
int netfront_ctrl_notify(struct netfront *nf);
/*
 * A page shared read-only with the backend for the key and the mapping
 * table a SET_HASH_KEY / SET_HASH_MAPPING names; its gref in *@gref.
 * NULL without a control ring.
 */
void *netfront_ctrl_page(struct netfront *nf, uint32_t *gref);

#endif
