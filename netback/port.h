/* SPDX-License-Identifier: MIT */
/*
 * port.h - the host side of a vif behind a small ops table: where guest-TX
 * packets go and guest-RX packets come from. port_tap.c is a Linux TAP
 * device (vif<domid>.<devid>, multi-queue, with a virtio-net header, which
 * the vif-bridge hotplug script attaches to a bridge); port_dpdk.c (built
 * when DPDK is there: PVBACK_HAVE_DPDK) a DPDK virtio-user device whose
 * vhost-user socket a switch (OVS-DPDK, testpmd) connects to.
 *
 * A port has queues 0..n-1, one per ring pair of the vif. Packets carry
 * their offload metadata in struct port_meta, which has the meaning of a
 * virtio-net header: a partial checksum to finish (the sum from
 * csum_start to the end goes at csum_start + csum_offset), a checksum
 * already verified, and TCP segmentation to do (GSO).
 *
 * Threading: create, destroy, set_queues, set_offloads, set_carrier and
 * set_mtu run on the control thread; recv, send and flush on queue q run
 * on that queue's thread only, and never block (the fds are non-blocking).
 * Every call returns 0 (or a count) or -errno.
 */
#ifndef PVBACK_NETBACK_PORT_H
#define PVBACK_NETBACK_PORT_H

#include <stddef.h>
#include <stdint.h>

struct port;

#define PORT_F_NEEDS_CSUM 1 /* finish the checksum (csum_start/offset) */
#define PORT_F_DATA_VALID 2 /* the checksum was verified */

#define PORT_GSO_NONE 0
#define PORT_GSO_TCPV4 1
#define PORT_GSO_TCPV6 2

struct port_meta {
	uint8_t flags;	   /* PORT_F_* */
	uint8_t gso_type;  /* PORT_GSO_* */
	uint16_t gso_size; /* MSS */
	uint16_t hdr_len;  /* Ethernet + IP + TCP headers, for GSO */
	uint16_t csum_start;
	uint16_t csum_offset;
	/*
	 * The frontend's hash of a guest-TX packet (a HASH extra), for a
	 * port that can hand it on (a TAP cannot: the virtio-net header has
	 * no field for it on the way in).
	 */
	uint8_t hash_kind; /* PORT_HASH_* */
	uint32_t hash;
};

#define PORT_HASH_NONE 0
#define PORT_HASH_L3 1 /* addresses only */
#define PORT_HASH_L4 2 /* addresses and ports */

/* What the host side may hand us on guest RX (set_offloads). */
#define PORT_OFFL_CSUM 1 /* partial checksums */
#define PORT_OFFL_TSO4 2 /* TCPv4 GSO (needs CSUM) */
#define PORT_OFFL_TSO6 4 /* TCPv6 GSO (needs CSUM) */

/* The port types this build has, for help and error texts. */
#ifdef PVBACK_HAVE_DPDK
#define PORT_TYPES "tap, dpdk"
#else
#define PORT_TYPES "tap"
#endif

/* The largest packet recv hands over (a 64 KiB GSO frame and headers). */
#define PORT_MAX_PKT (65536u + 256u)

struct port_cfg {
	const char *ifname; /* e.g. "vif1.0" */
	unsigned int max_queues;
	unsigned int mtu; /* 0: leave the default */
	/*
	 * The vif was being served by a predecessor (a worker that died, a
	 * daemon restarted): take over the device it left, with whatever
	 * the hotplug script did to it (bridge, addresses), if it is there.
	 * Otherwise the name must be free.
	 */
	int adopt;
};

struct port_ops {
	const char *name;
	/*
	 * Optional: open, while the process may, what the port needs once
	 * a worker is sandboxed (the TAP port: the socket its interface
	 * ioctls go through). Control thread, before any create. 0/-errno.
	 */
	int (*presandbox)(void);
	/*
	 * Optional: syscall names a sandboxed worker makes for this port
	 * beyond the common allow-list (common/sandbox.c), NULL-terminated.
	 */
	const char *const *syscalls;
	/*
	 * Create the host device (or adopt it, cfg->adopt) with queue 0
	 * attached, carrier off. The device outlives the process (a
	 * successor adopts it) until destroy without @keep. 0 (created), 1
	 * (adopted), or -errno with a reason in @err (-EEXIST: the name is
	 * taken).
	 */
	int (*create)(const struct port_cfg *cfg, struct port **out, char *err,
		      size_t errlen);
	/*
	 * Detach. @keep: leave the device for a successor (the daemon
	 * stops, the vif stays); else it goes (the vif was removed).
	 * NULL-safe.
	 */
	void (*destroy)(struct port *p, int keep);
	/* The host-side name (the TAP's interface name). */
	const char *(*ifname)(const struct port *p);
	/* Attach queues 0..n-1 and detach the rest (1 <= n <= max_queues). */
	int (*set_queues)(struct port *p, unsigned int n);
	int (*set_offloads)(struct port *p, unsigned int offl);
	int (*set_carrier)(struct port *p, int up);
	int (*set_mtu)(struct port *p, unsigned int mtu);
	/* An fd that polls readable when queue @q has packets; -errno. */
	int (*queue_fd)(struct port *p, unsigned int q);
	/*
	 * Take one packet from queue @q into @buf (@cap >= PORT_MAX_PKT):
	 * its length, -EAGAIN if none is there, -EMSGSIZE if it did not fit
	 * (taken and dropped), other -errno.
	 */
	int (*recv)(struct port *p, unsigned int q, void *buf, size_t cap,
		    struct port_meta *m);
	/*
	 * Hand one packet to queue @q. 0, -EAGAIN (no room now), -errno. A
	 * port with a flush op may hold the packet until the next flush.
	 */
	int (*send)(struct port *p, unsigned int q, const void *buf, size_t len,
		    const struct port_meta *m);
	/*
	 * Optional: pass on what send took on queue @q and still holds; tx.c
	 * calls it at the end of each TX sweep. Returns the number of
	 * packets send took (returned 0 for) that are dropped after all,
	 * their bytes in @bytes, or -errno.
	 */
	int (*flush)(struct port *p, unsigned int q, uint64_t *bytes);
};

/*
 * The port type called @name ("tap", "dpdk"), or NULL. The DPDK port is a
 * plugin loaded on first use (port.c): before any sandbox.
 */
const struct port_ops *port_find(const char *name);

/* Why port_find("dpdk") found nothing (the plugin's load error), or "". */
const char *port_load_error(void);

extern const struct port_ops port_tap_ops;

#ifdef PVBACK_HAVE_DPDK
/* port_dpdk.so's two entry points (port.c finds them with dlsym). */
extern const struct port_ops port_dpdk_ops;
void port_dpdk_configure(const char *vhost_dir, const char *eal_args);

/*
 * Load the DPDK port and give it netbackd's dpdk-* keys: the directory of
 * the vhost-user sockets (<dir>/<ifname>) and the EAL arguments added to
 * the port's own (space-separated, no quoting). Before any presandbox or
 * create, on the control thread. 0, or -ENOENT (port_load_error says why).
 */
int port_dpdk_setup(const char *vhost_dir, const char *eal_args);
#endif

#endif
