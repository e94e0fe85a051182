// SPDX-License-Identifier: MIT
/*
 * netbackd - the netif backend daemon: serves the virtual NICs of Xen
 * guests through a TAP device per vif (vif<domid>.<devid>), which the
 * toolstack's vif hotplug script bridges as it bridges Linux netback's.
 *
 *   netbackd [--config FILE] [--set KEY=VALUE]... [--single]
 *            [--log-level L] [--syslog] [--help]
 *   netbackd [--config FILE] [--set run-dir=DIR] --stats [--json]
 *
 * This file only describes the daemon: its configuration keys, their
 * defaults and checks, and its hooks. The process (command line,
 * supervisor and workers, signals, control socket, sandbox) is
 * common/daemon.c; the control plane is xenbus.c, the data path netq.c,
 * tx.c and rx.c, the host side port_tap.c (and port_dpdk.c: port=dpdk,
 * when built with DPDK).
 */
#include <errno.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/daemon.h"
#include "netback/netback.h"
#include "netback/port.h"

/* The daemon's settings: the common keys, then netif's own. */
struct netd_conf {
	struct daemon_conf d;
	struct nb_conf nb;
#ifdef PVBACK_HAVE_DPDK
	char dpdk_vhost_dir[128]; /* "": <run-dir>/vhost */
	char dpdk_eal_args[256];
	int dpdk_vhost_ours; /* it is <run-dir>/vhost */
#endif
};

#define NC(field) offsetof(struct netd_conf, nb.field)
#define DC(field) offsetof(struct netd_conf, field)

static const struct cfg_key nb_keys[] = {
	{ "port", CFG_STR, NC(port), sizeof(((struct nb_conf *)0)->port), 0, 0,
	  NULL, "host side of each vif: " PORT_TYPES },
#ifdef PVBACK_HAVE_DPDK
	{ "dpdk-vhost-dir", CFG_STR, DC(dpdk_vhost_dir),
	  sizeof(((struct netd_conf *)0)->dpdk_vhost_dir), 0, 0, NULL,
	  "port=dpdk: vhost-user sockets <dir>/<ifname> (\"\": <run-dir>/vhost)" },
	{ "dpdk-eal-args", CFG_STR, DC(dpdk_eal_args),
	  sizeof(((struct netd_conf *)0)->dpdk_eal_args), 0, 0, NULL,
	  "port=dpdk: more DPDK EAL arguments, space-separated" },
#endif
	{ "max-queues", CFG_UINT, NC(max_queues), 0, 0, NB_MAX_QUEUES, NULL,
	  "queues offered per vif; 0: online CPUs, at most 8" },
	{ "split-event-channels", CFG_BOOL, NC(split), 0, 0, 0, NULL,
	  "offer split TX/RX event channels" },
	{ "xdp-headroom", CFG_BOOL, NC(xdp), 0, 0, 0, NULL,
	  "offer feature-xdp-headroom (Reconfiguring/Reconfigured)" },
	{ "fatal-slots", CFG_UINT, NC(fatal_slots), 0, NB_LEGACY_SLOTS, 1024,
	  NULL, "a packet of this many slots disables the vif (Linux: 20)" },
	{ "rx-queue-kib", CFG_UINT, NC(rx_queue_kib), 0, 64, 65536, NULL,
	  "guest-RX queue per ring, KiB; beyond, packets are dropped" },
	{ "rx-queue-packets", CFG_UINT, NC(rx_queue_pkts), 0, 16, 65536, NULL,
	  "guest-RX queue per ring, packets" },
	{ "rx-drain-ms", CFG_UINT, NC(rx_drain_ms), 0, 10, 600000, NULL,
	  "a packet the guest has no buffer for this long is dropped" },
	{ "rx-stall-ms", CFG_UINT, NC(rx_stall_ms), 0, 0, 3600000, NULL,
	  "a guest that takes no packet this long loses its carrier; 0: never" },
	CFG_END,
};

static struct netd_conf conf = {
	.nb = {
		.port = "tap",
		.split = 1,
		.xdp = 1,
		.fatal_slots = NB_FATAL_SLOTS_DEF,
		.rx_queue_kib = 512,	/* Linux: half a ring of pages */
		.rx_queue_pkts = 512,
		.rx_drain_ms = 10000,	/* Linux's rx_drain_timeout_msecs */
		.rx_stall_ms = 60000,	/* Linux's rx_stall_timeout_msecs */
	},
#ifdef PVBACK_HAVE_DPDK
	/* No hugepages to reserve: virtio-user shares DPDK's memfd. */
	.dpdk_eal_args = "--no-huge -m 256",
#endif
};

/*
 * The common allow-list's additions for the port in use (port.h,
 * syscalls), set by netd_validate, which runs in every process before a
 * worker loads its filter.
 */
static const char *netd_syscalls[16];

static int netd_validate(void *arg, char *err, size_t errlen)
{
	struct netd_conf *c = arg;
	const struct port_ops *ops = port_find(c->nb.port);
	size_t n = 0;

	if (!ops) {
		/* port_load_error: "" unless a port type failed to load */
		if (port_load_error()[0])
			snprintf(err, errlen, "port: %s: %s", c->nb.port,
				 port_load_error());
		else
			snprintf(err, errlen,
				 "port: '%s' is not a port type (" PORT_TYPES
				 ")",
				 c->nb.port);
		return -EINVAL;
	}
	for (; ops->syscalls && ops->syscalls[n]; n++) {
		if (n + 1 >= sizeof(netd_syscalls) / sizeof(netd_syscalls[0])) {
			snprintf(err, errlen, "port %s: too many syscalls",
				 ops->name);
			return -EINVAL;
		}
		netd_syscalls[n] = ops->syscalls[n];
	}
	netd_syscalls[n] = NULL;
	return 0;
}

static const struct xbus_driver *netd_driver(void *arg, struct loop *ctl)
{
	struct netd_conf *c = arg;

	/* xenbus.c keeps what a successor needs under run-dir. */
	snprintf(c->nb.run_dir, sizeof(c->nb.run_dir), "%s", c->d.run_dir);
#ifdef PVBACK_HAVE_DPDK
	if (!c->dpdk_vhost_dir[0]) {
		snprintf(c->dpdk_vhost_dir, sizeof(c->dpdk_vhost_dir),
			 "%.120s/vhost", c->d.run_dir);
		c->dpdk_vhost_ours = 1;
	}
	/* loaded already (netd_validate found it) */
	if (!strcmp(c->nb.port, "dpdk"))
		port_dpdk_setup(c->dpdk_vhost_dir, c->dpdk_eal_args);
#endif
	return nb_xbus_driver(&c->nb, ctl);
}

static void netd_describe(const void *arg, char *buf, size_t len)
{
	const struct netd_conf *c = arg;

	snprintf(buf, len, "port %s, max-queues %u", c->nb.port,
		 c->nb.max_queues);
#ifdef PVBACK_HAVE_DPDK
	if (!strcmp(c->nb.port, "dpdk"))
		snprintf(buf + strlen(buf), len - strlen(buf),
			 ", vhost-user sockets in %s",
			 c->dpdk_vhost_dir[0] ? c->dpdk_vhost_dir
					      : "<run-dir>/vhost");
#endif
}

static void netd_dump_stats(void *arg, FILE *out, int json)
{
	nb_dump_stats(out, json);
}

/*
 * A worker creates the TAP of a vif that appears after it started (and
 * attaches its queues), and sets the TAP's offloads, carrier and MTU when
 * a frontend connects: exactly the ioctls port_tap.c makes, nothing else.
 * The AF_INET socket SIOCSIFMTU goes through is opened before the filter
 * (netd_presandbox); the filter allows Unix sockets only.
 */
static const unsigned long netd_ioctls[] = {
	TUNSETIFF,	 /* create the TAP, attach a queue */
	TUNSETVNETHDRSZ, /* the virtio-net header's size */
	TUNSETOFFLOAD,	 /* what the frontend can take */
	TUNSETPERSIST,	 /* the TAP outlives a worker, not its vif */
#ifdef TUNSETCARRIER
	TUNSETCARRIER, /* carrier follows the frontend */
#endif
	SIOCSIFHWADDR, /* fe:ff:ff:ff:ff:ff, as Linux's vifs */
	SIOCSIFMTU,    /* be/mtu */
	0,
};

/*
 * A worker about to drop to `user` (still root): what xenbus.c keeps for a
 * successor (<run-dir>/vif/<kind>.<domid>.<devid>.ctrl) is written by the
 * worker after the drop: handed over to the user.
 */
static int netd_presandbox(void *arg, unsigned int domid)
{
	struct netd_conf *c = arg;
	const struct port_ops *ops = port_find(c->nb.port);
	int rc;

	if (c->d.user[0]) {
		rc = sandbox_hand_over(c->d.run_dir, "vif", c->d.user, domid);
		if (rc)
			return rc;
	}
#ifdef PVBACK_HAVE_DPDK
	/* The user makes the sockets of the vifs to come in <run-dir>/vhost,
	 * handed over as <run-dir>/vif is; a dpdk-vhost-dir of the
	 * administrator's choice is theirs to open to the user. */
	if (ops && !strcmp(ops->name, "dpdk") && c->d.user[0] &&
	    c->dpdk_vhost_ours) {
		uid_t uid;
		gid_t gid;

		if (mkdir(c->dpdk_vhost_dir, 0755) && errno != EEXIST)
			return -errno;
		rc = sandbox_user_lookup(c->d.user, &uid, &gid);
		if (!rc && chown(c->dpdk_vhost_dir, uid, gid))
			rc = -errno;
		if (rc)
			return rc;
	}
#endif
	return ops && ops->presandbox ? ops->presandbox() : 0;
}

static const struct daemon_def netd_def = {
	.name = "netbackd",
#ifdef PVBACK_HAVE_DPDK
	.summary = "Serves the virtual network interfaces (netif) of Xen "
		   "guests through TAP devices or DPDK vhost-user ports.",
#else
	.summary = "Serves the virtual network interfaces (netif) of Xen "
		   "guests through TAP devices.",
#endif
	.default_kinds = "vif",
	.keys = nb_keys,
	.conf = &conf,
	.common_offset = offsetof(struct netd_conf, d),
	.validate = netd_validate,
	.driver = netd_driver,
	.describe = netd_describe,
	.dump_stats = netd_dump_stats,
	.pre_sandbox = netd_presandbox,
	.extra_syscalls = netd_syscalls,
	.extra_ioctls = netd_ioctls,
	/* Creating and attaching TAPs, their MTU and address, after the
	 * drop to `user`: the ioctls above, nothing else (seccomp). */
	.keep_caps = 1ull << CAP_NET_ADMIN,
};

int main(int argc, char **argv)
{
	return daemon_main(&netd_def, argc, argv);
}
