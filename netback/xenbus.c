// SPDX-License-Identifier: MIT
/*
 * xenbus.c - netbackd's control plane: the vif driver plugged into the
 * generic xenbus state machine (common/xbus.c), following
 * spec/netif-xenbus.md key by key.
 *
 * probe creates the host port (the TAP vif<domid>.<devid>, or the
 * toolstack's vifname) before the device goes to InitWait, because the
 * toolstack runs the vif hotplug script once it sees InitWait and the
 * script attaches that interface; advertise writes Linux netback's
 * features; connect reads the frontend's keys (queues, rings, event
 * channels, features, rate, mac), sizes the port's queues and offloads and
 * starts one queue (netq.c) per ring pair. xbus itself holds Connected back
 * until hotplug-status=connected (XBUS_F_HOTPLUG_GATE) and tears the rings
 * down as soon as the frontend starts closing, as Linux netback does.
 * Everything a guest or a toolstack wrote is checked here; a bad value
 * fails that vif only, with an error node naming the key.
 *
 * Runs on the control thread. The queues run on their own threads; one
 * that finds its frontend hostile reports it here by a message, and the
 * vif is disabled (carrier off, rings no longer served) as Linux's
 * xenvif_fatal_tx_err does; an impossible ring index also fails the device
 * with an error node.
 */
#include "netback/netback.h"

#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xbus.h"
#include "common/xen.h"
#include "netback/ctrl.h"
#include "netback/port.h"

struct nbdev {
	struct nbdev *next; /* nb_devices list */
	uint64_t serial;    /* names its connection in messages */
	struct xbus_dev *dev;
	const struct port_ops *pops;
	struct port *port;
	char ifname[IFNAMSIZ];
	uint8_t mac[6]; /* the guest's, from be/mac */
	struct netq *q[NB_MAX_QUEUES];
	unsigned int nq;
	struct netq_features feat;
	struct netq_mcast mcast;
	struct netq_xfer *xfer;		/* guest-RX steering, > 1 queue */
	struct nb_ctrl *ctrl;		/* the control ring, if any */
	struct nb_ctrl_stats ctrl_past; /* of past connections */
	uint64_t rate_bytes, rate_usec;
	int disabled;	      /* a fatal frontend error */
	unsigned int stalled; /* queues (bits) with no RX buffers */
	int mc_key;	      /* request-multicast-control last read */
	/* Counters of past connections, per queue index. */
	struct netq_stats past[NB_MAX_QUEUES];
	unsigned int npast;
};

static const struct nb_conf *nb_conf;
static struct loop *nb_ctl;
static struct nbdev *nb_devices;
static uint64_t nb_serial;

static unsigned int nb_max_queues(void)
{
	long n = nb_conf->max_queues;

	if (!n) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		if (n > NB_DEF_QUEUES)
			n = NB_DEF_QUEUES;
	}
	if (n < 1)
		n = 1;
	if (n > NB_MAX_QUEUES)
		n = NB_MAX_QUEUES;
	return (unsigned int)n;
}

/* ------------------------------------------------------------ probe */

static int nb_probe(struct xbus_dev *dev)
{
	struct nbdev *b;
	struct port_cfg pc;
	unsigned long mtu = 0;
	char *vifname = NULL, err[256];
	int rc;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->dev = dev;
	b->serial = ++nb_serial;
	netq_mcast_init(&b->mcast);
	b->pops = port_find(nb_conf->port);
	if (!b->pops) {
		log_err(xbus_dev_name(dev), "unknown port type '%s'",
			nb_conf->port);
		rc = -EINVAL;
		goto err_free;
	}
	/* The toolstack's vifname, else Linux's name (cut as Linux cuts). */
	if (!xbus_dev_read_be(dev, "vifname", &vifname) && vifname[0])
		snprintf(b->ifname, sizeof(b->ifname), "%s", vifname);
	else
		snprintf(b->ifname, sizeof(b->ifname), "vif%u.%u",
			 xbus_dev_fe_domid(dev), xbus_dev_devid(dev));
	free(vifname);
	/* mtu: written by the toolstack when not 1500; a lie is ignored. */
	rc = xbus_dev_read_be_uint(dev, "mtu", 65535, &mtu);
	if (rc == -EINVAL || (!rc && mtu < 68)) {
		log_warn(xbus_dev_name(dev), "ignoring a bad mtu");
		mtu = 0;
	}
	pc = (struct port_cfg){
		.ifname = b->ifname,
		.max_queues = nb_max_queues(),
		.mtu = (unsigned int)mtu,
		/* Past Initialising, a predecessor served it: its TAP. */
		.adopt = xbus_dev_state(dev) > XBUS_INITIALISING,
	};
	rc = b->pops->create(&pc, &b->port, err, sizeof(err));
	if (rc < 0) {
		log_err(xbus_dev_name(dev), "%s", err);
		goto err_free;
	}
	if (rc)
		log_info(xbus_dev_name(dev), "%s: taken over as it was left",
			 b->ifname);
	else if (pc.adopt)
		log_warn(xbus_dev_name(dev),
			 "%s was gone: created anew, "
			 "without what the hotplug script gave it",
			 b->ifname);
	/* Dynamic multicast control: follow the frontend's key (B.5). */
	{
		char p[320];

		snprintf(p, sizeof(p), "%s/request-multicast-control",
			 xbus_dev_fe_path(dev));
		rc = xbus_dev_watch(dev, p);
		if (rc)
			log_warn(xbus_dev_name(dev), "cannot watch %s: %s", p,
				 strerror(-rc));
	}
	b->next = nb_devices;
	nb_devices = b;
	xbus_dev_set_priv(dev, b);
	log_info(xbus_dev_name(dev), "port %s %s", nb_conf->port,
		 b->pops->ifname(b->port));
	return 0;

err_free:
	netq_mcast_destroy(&b->mcast);
	free(b);
	return rc;
}

/*
 * What Linux netfront reads at InitWait (B.2 steps 2 and 3): the features
 * in one transaction, the optional ones outside it, in Linux's order.
 */
static int nb_advertise(struct xbus_dev *dev)
{
	struct xen_store *xs = xbus_dev_store(dev);
	const char *be = xbus_dev_be_path(dev);
	char path[320];
	xen_txn_t t;
	int rc, tries;

#define W(key, val)                                                            \
	do {                                                                   \
		snprintf(path, sizeof(path), "%s/%s", be, key);                \
		rc = xen_store_write(xs, t, path, val);                        \
		if (rc)                                                        \
			goto abort;                                            \
	} while (0)
	for (tries = 0; tries < 100; tries++) {
		rc = xen_store_txn_start(xs, &t);
		if (rc)
			return rc;
		W("feature-sg", "1");
		W("feature-gso-tcpv4", "1");
		W("feature-gso-tcpv6", "1");
		W("feature-ipv6-csum-offload", "1");
		W("feature-rx-copy", "1");
		if (nb_conf->xdp)
			W("feature-xdp-headroom", "1");
		W("feature-rx-flip", "0");
		W("feature-multicast-control", "1");
		W("feature-dynamic-multicast-control", "1");
		rc = xen_store_txn_end(xs, t, 0);
		if (rc != -EAGAIN)
			break;
	}
#undef W
	if (rc)
		return rc;
	t = XEN_TXN_NONE;
	rc = xbus_dev_write_be(dev, "feature-split-event-channels", "%u",
			       nb_conf->split ? 1 : 0);
	rc = rc
		     ?: xbus_dev_write_be(dev, "multi-queue-max-queues", "%u",
					  nb_max_queues());
	return rc ?: xbus_dev_write_be(dev, "feature-ctrl-ring", "1");
abort:
	xen_store_txn_end(xs, t, 1);
	return rc;
}

/* ------------------------------------------------------------ connect */

/*
 * Where the control ring of @dev keeps the frontend's hashing for a
 * successor (ctrl.c): <run-dir>/vif/<kind>.<domid>.<devid>.ctrl. Made if
 * missing; root's (netbackd workers stay root).
 */
static void nb_ctrl_state_path(struct xbus_dev *dev, char *buf, size_t len,
			       int mkdirs)
{
	snprintf(buf, len, "%s/vif", nb_conf->run_dir);
	if (mkdirs) {
		mkdir(nb_conf->run_dir, 0700);
		mkdir(buf, 0700);
	}
	snprintf(buf, len, "%s/vif/%s.%u.%u.ctrl", nb_conf->run_dir,
		 xbus_dev_kind(dev), xbus_dev_fe_domid(dev),
		 xbus_dev_devid(dev));
}

static void nb_disconnect(struct xbus_dev *dev)
{
	struct nbdev *b = xbus_dev_priv(dev);

	if (!b)
		return;
	/* The control ring first: it hands configurations to the queues. */
	if (b->ctrl) {
		struct nb_ctrl_stats cs;

		nb_ctrl_get_stats(b->ctrl, &cs);
		nb_ctrl_stats_add(&b->ctrl_past, &cs);
		/* Kept when only the daemon stops: the frontend stays
		 * connected for the next one. */
		nb_ctrl_stop(b->ctrl, !xbus_dev_removed(dev));
		b->ctrl = NULL;
	}
	for (unsigned int i = 0; i < b->nq; i++) {
		struct netq_stats final;

		netq_stop(b->q[i], &final);
		b->q[i] = NULL;
		netq_stats_add(&b->past[i], &final);
	}
	if (b->nq > b->npast)
		b->npast = b->nq;
	if (b->nq) {
		b->pops->set_carrier(b->port, 0);
		b->pops->set_queues(b->port, 1);
		log_info(xbus_dev_name(dev), "disconnected");
	}
	b->nq = 0;
	b->disabled = 0;
	b->stalled = 0;
	netq_xfer_destroy(b->xfer);
	b->xfer = NULL;
	netq_mcast_clear(&b->mcast);
}

/* On the control thread: the control ring set a new configuration. */
static void nb_apply_hash(void *arg, const struct nb_hash *h)
{
	struct nbdev *b = arg;

	for (unsigned int i = 0; i < b->nq; i++)
		netq_set_hash(b->q[i], h);
}

/*
 * The control ring (B.5 step 4): optional; with ctrl-ring-ref, the
 * event-channel-ctrl key is mandatory.
 */
static int nb_start_ctrl(struct xbus_dev *dev, struct nbdev *b)
{
	unsigned long ref, evtchn;
	struct nb_ctrl_cfg cc;
	char err[256], state[PATH_MAX];
	int rc;

	rc = xbus_dev_read_fe_uint(dev, "ctrl-ring-ref", UINT32_MAX, &ref);
	if (rc == -ENOENT)
		return 0;
	if (rc) {
		xbus_dev_fatal(dev, rc, "reading %s/ctrl-ring-ref",
			       xbus_dev_fe_path(dev));
		return rc;
	}
	rc = xbus_dev_read_fe_uint(dev, "event-channel-ctrl", UINT32_MAX,
				   &evtchn);
	if (rc) {
		xbus_dev_fatal(dev, rc, "reading %s/event-channel-ctrl",
			       xbus_dev_fe_path(dev));
		return rc;
	}
	cc = (struct nb_ctrl_cfg){
		.name = xbus_dev_name(dev),
		.domid = xbus_dev_fe_domid(dev),
		.ref = (uint32_t)ref,
		.evtchn = (uint32_t)evtchn,
		.nq = b->nq,
		.loop = nb_ctl,
		.apply = nb_apply_hash,
		.arg = b,
		.state = state,
		/* A live frontend taken over from a dead worker. */
		.adopt = xbus_dev_state(dev) == XBUS_CONNECTED,
	};
	nb_ctrl_state_path(dev, state, sizeof(state), 1);
	rc = nb_ctrl_start(&cc, &b->ctrl, err, sizeof(err));
	if (rc) {
		b->ctrl = NULL;
		xbus_dev_fatal(dev, rc, "%s", err);
	}
	return rc;
}

/* What a queue's thread tells the control thread about its vif. */
struct queue_msg {
	uint64_t serial; /* the connection */
	unsigned int index;
	int fatal; /* enum netq_fatal; -1: a stall report */
	int stalled;
};

static struct nbdev *nb_find_serial(uint64_t serial)
{
	for (struct nbdev *b = nb_devices; b; b = b->next) {
		if (b->serial == serial)
			return b;
	}
	return NULL;
}

/* The carrier: up while connected, enabled and no queue stalled. */
static void nb_carrier(struct nbdev *b)
{
	b->pops->set_carrier(b->port, b->nq && !b->disabled && !b->stalled);
}

/* A queue found its frontend hostile. */
static void nb_fatal(struct nbdev *b, unsigned int index, int class)
{
	if (class == NETQ_F_INDEX) {
		xbus_dev_fatal(b->dev, -EIO,
			       "queue %u: the frontend published "
			       "more requests than the ring holds",
			       index);
		return;
	}
	if (b->disabled)
		return;
	/* Linux's xenvif_fatal_tx_err: the vif stays dead until the
	 * frontend reconnects. */
	b->disabled = 1;
	log_err(xbus_dev_name(b->dev),
		"queue %u: fatal frontend error (%s): "
		"vif disabled",
		index, netq_fatal_names[class]);
	nb_carrier(b);
	for (unsigned int i = 0; i < b->nq; i++)
		netq_disable(b->q[i]);
}

/* A queue's RX stalled or came back. */
static void nb_stall(struct nbdev *b, unsigned int index, int stalled)
{
	unsigned int was = b->stalled;

	if (stalled)
		b->stalled |= 1u << index;
	else
		b->stalled &= ~(1u << index);
	if (!was == !b->stalled)
		return;
	if (b->stalled)
		log_warn(xbus_dev_name(b->dev),
			 "queue %u: the frontend took "
			 "no packet for %u ms: carrier off",
			 index, nb_conf->rx_stall_ms);
	else
		log_info(xbus_dev_name(b->dev), "the frontend posts buffers "
						"again: carrier on");
	nb_carrier(b);
}

static void nb_queue_msg(void *arg)
{
	struct queue_msg *m = arg;
	struct nbdev *b = nb_find_serial(m->serial);

	/* The connection may be gone since (removed, reconnected): its
	 * serial went with it. */
	if (b && m->index < b->nq && b->q[m->index]) {
		if (m->fatal >= 0)
			nb_fatal(b, m->index, m->fatal);
		else
			nb_stall(b, m->index, m->stalled);
	}
	free(m);
}

/* On a queue's thread: post to the control thread. */
static void nb_queue_post(void *arg, unsigned int index, int fatal, int stalled)
{
	struct queue_msg *m = malloc(sizeof(*m));

	if (!m)
		return;
	m->serial = (uint64_t)(uintptr_t)arg;
	m->index = index;
	m->fatal = fatal;
	m->stalled = stalled;
	if (loop_post(nb_ctl, nb_queue_msg, m))
		free(m);
}

static void nb_queue_fatal(void *arg, unsigned int index, int class)
{
	nb_queue_post(arg, index, class, 0);
}

static void nb_queue_stall(void *arg, unsigned int index, int stalled)
{
	nb_queue_post(arg, index, -1, stalled);
}

/* be/rate = "<bytes>,<usec>" (libxl); absent or unparsable: unlimited. */
static void nb_read_rate(struct xbus_dev *dev, uint64_t *bytes, uint64_t *usec)
{
	unsigned long long b, u;
	char *v = NULL, *e;

	*bytes = 0;
	*usec = 0;
	if (xbus_dev_read_be(dev, "rate", &v))
		return;
	errno = 0;
	b = strtoull(v, &e, 10);
	if (e == v || *e != ',' || errno)
		goto bad;
	u = strtoull(e + 1, &e, 10);
	if (*e || errno || e == v)
		goto bad;
	/* usec 0 is Linux's "unlimited" too. */
	if (u && b) {
		*bytes = b;
		*usec = u;
	}
	free(v);
	return;
bad:
	log_warn(xbus_dev_name(dev), "cannot parse rate '%.32s': unlimited", v);
	free(v);
}

static int nb_read_mac(struct xbus_dev *dev, uint8_t mac[6])
{
	unsigned int m[6];
	char *v = NULL, end;
	int rc = xbus_dev_read_be(dev, "mac", &v);

	if (rc)
		return rc;
	if (sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3],
		   &m[4], &m[5], &end) != 6)
		rc = -EINVAL;
	for (int i = 0; !rc && i < 6; i++)
		mac[i] = (uint8_t)m[i];
	free(v);
	return rc;
}

/* fe/@key as a boolean (absent: @def); a key that is not 0/1 is a lie. */
static int fe_flag(struct xbus_dev *dev, const char *key, int def, int *v)
{
	unsigned long x;
	int rc = xbus_dev_read_fe_uint(dev, key, 1, &x);

	if (rc == -ENOENT) {
		*v = def;
		return 0;
	}
	if (rc) {
		xbus_dev_fatal(dev, rc, "reading %s/%s", xbus_dev_fe_path(dev),
			       key);
		return rc;
	}
	*v = (int)x;
	return 0;
}

/* What the frontend can take (read_xenbus_vif_flags, B.5 step 3). */
static int nb_read_features(struct xbus_dev *dev, struct netq_features *f)
{
	unsigned long hr = 0;
	int rx_copy, no_csum, rc;

	memset(f, 0, sizeof(*f));
	rc = fe_flag(dev, "request-rx-copy", 0, &rx_copy) ?:
	     fe_flag(dev, "feature-rx-notify", 0, &f->rx_notify) ?:
	     fe_flag(dev, "feature-sg", 0, &f->sg) ?:
	     fe_flag(dev, "feature-gso-tcpv4", 0, &f->gso_tcpv4) ?:
	     fe_flag(dev, "feature-gso-tcpv6", 0, &f->gso_tcpv6) ?:
	     fe_flag(dev, "feature-no-csum-offload", 0, &no_csum) ?:
	     fe_flag(dev, "feature-ipv6-csum-offload", 0, &f->ipv6_csum);
	if (rc)
		return rc;
	/* The flipping receive path is gone: a frontend must copy. */
	if (!rx_copy) {
		xbus_dev_fatal(dev, -EOPNOTSUPP,
			       "frontend does not request "
			       "rx-copy (flipping is not supported)");
		return -EOPNOTSUPP;
	}
	f->csum = !no_csum;
	if (nb_conf->xdp) {
		rc = xbus_dev_read_fe_uint(dev, "xdp-headroom",
					   NB_XDP_HEADROOM_MAX, &hr);
		if (rc && rc != -ENOENT) {
			xbus_dev_fatal(dev, rc, "bad xdp-headroom (at most %u)",
				       NB_XDP_HEADROOM_MAX);
			return rc;
		}
		f->xdp_headroom = rc ? 0 : (unsigned int)hr;
	}
	return 0;
}

/* The port's offloads: only what this frontend can take on guest RX. */
static unsigned int nb_offloads(const struct netq_features *f)
{
	unsigned int o = 0;

	if (!f->csum)
		return 0;
	o |= PORT_OFFL_CSUM;
	if (f->sg && f->gso_tcpv4)
		o |= PORT_OFFL_TSO4;
	if (f->sg && f->gso_tcpv6 && f->ipv6_csum)
		o |= PORT_OFFL_TSO6;
	return o;
}

/* Read one queue's keys (top level, or queue-<i>/) and start it. */
static int nb_start_queue(struct xbus_dev *dev, struct nbdev *b, unsigned int i,
			  unsigned int nq, const char *prefix)
{
	unsigned long tx_ref, rx_ref, evtx, evrx;
	struct netq_cfg qc;
	char node[64], name[96], err[256];
	int rc;

#define READ(key, var)                                                         \
	do {                                                                   \
		snprintf(node, sizeof(node), "%s" key, prefix);                \
		rc = xbus_dev_read_fe_uint(dev, node, UINT32_MAX, &var);       \
		if (rc) {                                                      \
			xbus_dev_fatal(dev, rc, "reading %s/%s",               \
				       xbus_dev_fe_path(dev), node);           \
			return rc;                                             \
		}                                                              \
	} while (0)
	READ("tx-ring-ref", tx_ref);
	READ("rx-ring-ref", rx_ref);
	/* Split channels first, then the single one (connect_data_rings). */
	snprintf(node, sizeof(node), "%sevent-channel-tx", prefix);
	rc = xbus_dev_read_fe_uint(dev, node, UINT32_MAX, &evtx);
	if (!rc) {
		READ("event-channel-rx", evrx);
	} else if (rc == -ENOENT) {
		READ("event-channel", evtx);
		evrx = evtx;
	} else {
		xbus_dev_fatal(dev, rc, "reading %s/%s", xbus_dev_fe_path(dev),
			       node);
		return rc;
	}
#undef READ
	snprintf(name, sizeof(name), "%s q%u", xbus_dev_name(dev), i);
	qc = (struct netq_cfg){
		.name = name,
		.index = i,
		.domid = xbus_dev_fe_domid(dev),
		.tx_ref = (uint32_t)tx_ref,
		.rx_ref = (uint32_t)rx_ref,
		.evtchn_tx = (uint32_t)evtx,
		.evtchn_rx = (uint32_t)evrx,
		.feat = b->feat,
		.pops = b->pops,
		.port = b->port,
		.port_queue = i,
		.mcast = &b->mcast,
		.xfer = b->xfer,
		.nq = nq,
		.fatal_slots = nb_conf->fatal_slots,
		.rx_queue_bytes = (size_t)nb_conf->rx_queue_kib * 1024,
		.rx_queue_pkts = nb_conf->rx_queue_pkts,
		.rx_drain_ms = nb_conf->rx_drain_ms,
		.rx_stall_ms = nb_conf->rx_stall_ms,
		.rate_bytes = b->rate_bytes,
		.rate_usec = b->rate_usec,
		.ctl = nb_ctl,
		.fatal = nb_queue_fatal,
		.stall = nb_queue_stall,
		.cb_arg = (void *)(uintptr_t)b->serial,
	};
	rc = netq_start(&qc, &b->q[i], err, sizeof(err));
	if (rc) {
		b->q[i] = NULL;
		xbus_dev_fatal(dev, rc, "%s", err);
	}
	return rc;
}

static int nb_connect(struct xbus_dev *dev)
{
	struct nbdev *b = xbus_dev_priv(dev);
	unsigned long nq = 1, mc = 0;
	int rc;

	/* A new name for this connection: what the last one's queues
	 * posted and is still in flight finds nothing. */
	b->serial = ++nb_serial;
	/* B.5 step 1: the queues; missing means 1, a lie is fatal. */
	rc = xbus_dev_read_fe_uint(dev, "multi-queue-num-queues", UINT32_MAX,
				   &nq);
	if (rc && rc != -ENOENT) {
		xbus_dev_fatal(dev, rc, "bad multi-queue-num-queues");
		return rc;
	}
	if (nq < 1 || nq > nb_max_queues()) {
		xbus_dev_fatal(dev, -EINVAL,
			       "guest requested %lu queues, not "
			       "in 1..%u",
			       nq, nb_max_queues());
		return -EINVAL;
	}
	rc = nb_read_mac(dev, b->mac);
	if (rc) {
		xbus_dev_fatal(dev, rc, "parsing %s/mac",
			       xbus_dev_be_path(dev));
		return rc;
	}
	nb_read_rate(dev, &b->rate_bytes, &b->rate_usec);
	rc = nb_read_features(dev, &b->feat);
	if (rc)
		return rc;
	if (xbus_dev_read_fe_uint(dev, "request-multicast-control", 1, &mc))
		mc = 0;
	b->mc_key = (int)mc;
	if (mc && xbus_dev_state(dev) == XBUS_CONNECTED) {
		/* Taking a live frontend over from a dead worker: its
		 * subscriptions died with it and will not be sent again.
		 * Pass all multicast; the guest's own filter drops the
		 * rest, where an empty list would cut IPv6 off. */
		log_info(xbus_dev_name(dev),
			 "multicast filter off: the "
			 "frontend's subscriptions were the previous worker's");
		mc = 0;
	}
	netq_mcast_set_control(&b->mcast, (int)mc);

	rc = b->pops->set_queues(b->port, (unsigned int)nq);
	if (!rc)
		rc = b->pops->set_offloads(b->port, nb_offloads(&b->feat));
	if (rc) {
		xbus_dev_fatal(dev, rc, "setting up port %s",
			       b->pops->ifname(b->port));
		return rc;
	}
	b->disabled = 0;
	if (nq > 1) {
		rc = netq_xfer_create((unsigned int)nq, &b->xfer);
		if (rc) {
			xbus_dev_fatal(dev, rc, "queue hand-off rings");
			return rc;
		}
	}
	for (unsigned int i = 0; i < nq; i++) {
		char prefix[32] = "";

		/* One queue: top-level keys; several: queue-<i>/ (NETIF). */
		if (nq > 1)
			snprintf(prefix, sizeof(prefix), "queue-%u/", i);
		rc = nb_start_queue(dev, b, i, (unsigned int)nq, prefix);
		if (rc) {
			nb_disconnect(dev);
			return rc;
		}
		b->nq = i + 1;
	}
	rc = nb_start_ctrl(dev, b);
	if (rc) {
		nb_disconnect(dev);
		return rc;
	}
	nb_carrier(b);
	log_info(xbus_dev_name(dev),
		 "connected: %lu queue(s), "
		 "sg %d gso %d/%d csum %d/%d%s, port %s",
		 nq, b->feat.sg, b->feat.gso_tcpv4, b->feat.gso_tcpv6,
		 b->feat.csum, b->feat.ipv6_csum,
		 b->rate_bytes ? ", rate limited" : "",
		 b->pops->ifname(b->port));
	return 0;
}

/* A watched node changed: rate (B.5 step 2), multicast control. */
static void nb_changed(struct xbus_dev *dev, const char *path)
{
	struct nbdev *b = xbus_dev_priv(dev);
	size_t n = strlen(path), be = strlen(xbus_dev_be_path(dev));
	unsigned long mc = 0;

	if (!b)
		return;
	if (n == be + 5 && !strcmp(path + be, "/rate") &&
	    !strncmp(path, xbus_dev_be_path(dev), be)) {
		nb_read_rate(dev, &b->rate_bytes, &b->rate_usec);
		for (unsigned int i = 0; i < b->nq; i++)
			netq_set_rate(b->q[i], b->rate_bytes, b->rate_usec);
		log_info(xbus_dev_name(dev), "rate %llu bytes per %llu us",
			 (unsigned long long)b->rate_bytes,
			 (unsigned long long)b->rate_usec);
		return;
	}
	if (n > 26 && !strcmp(path + n - 26, "/request-multicast-control")) {
		if (xbus_dev_read_fe_uint(dev, "request-multicast-control", 1,
					  &mc))
			mc = 0;
		/* Only a change is the frontend's word: a watch's first
		 * event, or a repeat, must not undo what connect chose. */
		if ((int)mc == b->mc_key)
			return;
		b->mc_key = (int)mc;
		netq_mcast_set_control(&b->mcast, (int)mc);
	}
}

/* Frontend Reconfiguring (XDP): re-read xdp-headroom (B.6). */
static int nb_reconfigure(struct xbus_dev *dev)
{
	struct nbdev *b = xbus_dev_priv(dev);
	unsigned long hr = 0;
	int rc;

	if (!nb_conf->xdp)
		return -EOPNOTSUPP;
	rc = xbus_dev_read_fe_uint(dev, "xdp-headroom", NB_XDP_HEADROOM_MAX,
				   &hr);
	if (rc == -ENOENT)
		hr = 0;
	else if (rc)
		return rc;
	b->feat.xdp_headroom = (unsigned int)hr;
	for (unsigned int i = 0; i < b->nq; i++)
		netq_set_xdp_headroom(b->q[i], (unsigned int)hr);
	log_info(xbus_dev_name(dev), "reconfigured: xdp-headroom %lu", hr);
	return 0;
}

static void nb_remove(struct xbus_dev *dev)
{
	struct nbdev *b = xbus_dev_priv(dev), **pp;

	if (!b)
		return;
	nb_disconnect(dev);
	for (pp = &nb_devices; *pp; pp = &(*pp)->next) {
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	}
	b->pops->destroy(b->port, !xbus_dev_removed(dev));
	if (xbus_dev_removed(dev)) {
		char state[PATH_MAX];

		/* Left by a worker that died after its frontend went. */
		nb_ctrl_state_path(dev, state, sizeof(state), 0);
		unlink(state);
	}
	netq_mcast_destroy(&b->mcast);
	free(b);
	xbus_dev_set_priv(dev, NULL);
}

static const struct xbus_driver nb_driver = {
	.name = "vif",
	.flags = XBUS_F_HOTPLUG_GATE | XBUS_F_DISCONNECT_ON_CLOSING,
	.probe = nb_probe,
	.advertise = nb_advertise,
	.connect = nb_connect,
	.disconnect = nb_disconnect,
	.remove = nb_remove,
	.changed = nb_changed,
	.reconfigure = nb_reconfigure,
};

const struct xbus_driver *nb_xbus_driver(const struct nb_conf *conf,
					 struct loop *ctl)
{
	nb_conf = conf;
	nb_ctl = ctl;
	return &nb_driver;
}

/* ------------------------------------------------------------ statistics */

/* @s as a JSON string (an interface name is the toolstack's choice). */
static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

#define U(x) ((unsigned long long)(x))

static void dump_queue_json(FILE *out, unsigned int i,
			    const struct netq_stats *st)
{
	fprintf(out,
		"{\"queue\":%u,\"tx_packets\":%llu,\"tx_bytes\":%llu,"
		"\"tx_gso\":%llu,\"tx_csum\":%llu,\"rx_packets\":%llu,"
		"\"rx_bytes\":%llu,\"rx_gso\":%llu,\"rx_csum_sw\":%llu,"
		"\"tx_drops\":{",
		i, U(st->tx_pkts), U(st->tx_bytes), U(st->tx_gso),
		U(st->tx_csum), U(st->rx_pkts), U(st->rx_bytes), U(st->rx_gso),
		U(st->rx_csum_sw));
	for (int k = 0; k < NETQ_TXD_NR; k++)
		fprintf(out, "%s\"%s\":%llu", k ? "," : "",
			netq_txdrop_names[k], U(st->tx_drop[k]));
	fprintf(out, "},\"rx_drops\":{");
	for (int k = 0; k < NETQ_RXD_NR; k++)
		fprintf(out, "%s\"%s\":%llu", k ? "," : "",
			netq_rxdrop_names[k], U(st->rx_drop[k]));
	fprintf(out, "},\"malformed\":{");
	for (int k = 0; k < NETQ_F_NR; k++)
		fprintf(out, "%s\"%s\":%llu", k ? "," : "", netq_fatal_names[k],
			U(st->fatal[k]));
	fprintf(out,
		"},\"rx_hash\":%llu,\"rx_steered\":%llu,\"tx_hash\":%llu,"
		"\"events_idle\":%llu,\"storm_backoffs\":%llu,"
		"\"rx_stalls\":%llu,\"rx_pauses\":%llu",
		U(st->rx_hash), U(st->rx_steered), U(st->tx_hash),
		U(st->events_idle), U(st->storm_backoffs), U(st->rx_stalls),
		U(st->rx_pauses));
	fprintf(out,
		",\"mcast_requests\":%llu,\"rate_waits\":%llu,"
		"\"rx_queued_packets\":%llu,\"rx_queued_bytes\":%llu,"
		"\"grant_copy_calls\":%llu,\"grant_copy_segments\":%llu,"
		"\"events\":%llu,\"notifies\":%llu}",
		U(st->tx_mcast_ctl), U(st->tx_rate_waits),
		U(st->rx_queued_pkts), U(st->rx_queued_bytes),
		U(st->gcopy_calls), U(st->gcopy_segs), U(st->events),
		U(st->notifies));
}

static void dump_queue_text(FILE *out, unsigned int i,
			    const struct netq_stats *st)
{
	fprintf(out,
		"  q%u: guest tx %llu pkts %llu bytes (gso %llu csum "
		"%llu), guest rx %llu pkts %llu bytes (gso %llu, csum by us "
		"%llu), queued %llu pkts %llu bytes\n",
		i, U(st->tx_pkts), U(st->tx_bytes), U(st->tx_gso),
		U(st->tx_csum), U(st->rx_pkts), U(st->rx_bytes), U(st->rx_gso),
		U(st->rx_csum_sw), U(st->rx_queued_pkts),
		U(st->rx_queued_bytes));
	fprintf(out, "      tx drops:");
	for (int k = 0; k < NETQ_TXD_NR; k++)
		fprintf(out, " %s=%llu", netq_txdrop_names[k],
			U(st->tx_drop[k]));
	fprintf(out, "\n      rx drops:");
	for (int k = 0; k < NETQ_RXD_NR; k++)
		fprintf(out, " %s=%llu", netq_rxdrop_names[k],
			U(st->rx_drop[k]));
	fprintf(out, "\n      malformed:");
	for (int k = 0; k < NETQ_F_NR; k++)
		fprintf(out, " %s=%llu", netq_fatal_names[k], U(st->fatal[k]));
	fprintf(out,
		"\n      mcast requests %llu, rate waits %llu, grant "
		"copies %llu calls %llu segments, events %llu, notifies "
		"%llu\n",
		U(st->tx_mcast_ctl), U(st->tx_rate_waits), U(st->gcopy_calls),
		U(st->gcopy_segs), U(st->events), U(st->notifies));
	if (st->rx_hash || st->rx_steered || st->tx_hash)
		fprintf(out,
			"      hashing: %llu guest rx with a hash, %llu "
			"steered to their queue, %llu guest tx with a hash\n",
			U(st->rx_hash), U(st->rx_steered), U(st->tx_hash));
	if (st->rx_stalls)
		fprintf(out, "      rx stalls (carrier off): %llu\n",
			U(st->rx_stalls));
	if (st->rx_pauses)
		fprintf(out,
			"      rx queue full, port left unread: %llu "
			"times\n",
			U(st->rx_pauses));
	if (st->storm_backoffs)
		fprintf(out,
			"      event storm: %llu of %llu wakeups idle, "
			"%llu back-offs\n",
			U(st->events_idle), U(st->events),
			U(st->storm_backoffs));
}

void nb_dump_stats(FILE *out, int json)
{
	int first = 1;

	for (struct nbdev *b = nb_devices; b; b = b->next) {
		const char *name = xbus_dev_name(b->dev);
		unsigned int n = b->nq > b->npast ? b->nq : b->npast;
		char mac[18];

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
			 b->mac[0], b->mac[1], b->mac[2], b->mac[3], b->mac[4],
			 b->mac[5]);
		struct nb_ctrl_stats cs;

		nb_ctrl_get_stats(b->ctrl, &cs);
		nb_ctrl_stats_add(&cs, &b->ctrl_past);
		if (json) {
			fprintf(out, "%s{\"device\":", first ? "" : ",");
			json_str(out, name);
			fprintf(out, ",\"port\":");
			json_str(out, b->pops->ifname(b->port));
			fprintf(out,
				",\"mac\":\"%s\",\"connected\":%s,"
				"\"disabled\":%s,\"carrier\":%s,"
				"\"rate_bytes\":%llu,"
				"\"rate_usec\":%llu,\"ctrl_messages\":%llu,"
				"\"ctrl_errors\":%llu,\"ctrl_broken\":%llu,"
				"\"ctrl_events\":%llu,"
				"\"ctrl_storm_backoffs\":%llu,"
				"\"queues\":[",
				mac, b->nq ? "true" : "false",
				b->disabled ? "true" : "false",
				b->nq && !b->disabled && !b->stalled ? "true"
								     : "false",
				U(b->rate_bytes), U(b->rate_usec), U(cs.msgs),
				U(cs.errors), U(cs.broken), U(cs.events),
				U(cs.storm_backoffs));
		} else {
			fprintf(out,
				"%s: port %s, mac %s, %s%s%s, %u "
				"queue(s)\n",
				name, b->pops->ifname(b->port), mac,
				b->nq ? "connected" : "not connected",
				b->disabled ? ", DISABLED" : "",
				b->stalled ? ", RX STALLED (no carrier)" : "",
				b->nq);
			if (cs.msgs || cs.broken || cs.storm_backoffs)
				fprintf(out,
					"  control ring: %llu messages, "
					"%llu errors, %llu event storm "
					"back-offs%s\n",
					U(cs.msgs), U(cs.errors),
					U(cs.storm_backoffs),
					cs.broken ? ", STOPPED" : "");
		}
		first = 0;
		/* Totals since the vif appeared: past connections plus the
		 * live queues. */
		for (unsigned int i = 0; i < n; i++) {
			struct netq_stats st = b->past[i];
			struct netq_stats live;

			if (i < b->nq && !netq_stats(b->q[i], &live))
				netq_stats_add(&st, &live);
			if (json) {
				if (i)
					fputc(',', out);
				dump_queue_json(out, i, &st);
			} else {
				dump_queue_text(out, i, &st);
			}
		}
		if (json)
			fprintf(out, "]}");
	}
}
