// SPDX-License-Identifier: MIT
/*
 * xtestd - a small backend daemon of device kind "xtest", for the tests of
 * the xenbus state machine (common/xbus.c) and the process model
 * (common/super.c). Its driver does what a real one does at each step, on
 * the real API: it advertises a feature and two queues, and on connect
 * reads the frontend's ring-ref / event-channel keys (top level for one
 * queue, queue-<i>/ for more, Windows' multi-queue-num-queues=1 included),
 * maps each ring page and binds each event channel; disconnect undoes it.
 *
 *   xtestd [--kinds K1,K2] [--single] [--worker DOMID] [--log-level L]
 *          [--hotplug-gate] [--net]
 *
 * Default: supervisor with one worker per guest; --single: one process
 * serving every guest (no workers). --hotplug-gate: Connected only after
 * hotplug-status=connected, as netif requires. --net: netif's keys
 * (tx-ring-ref, rx-ring-ref, split event-channel-tx/-rx or one
 * event-channel) with the gate and disconnect-on-Closing.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/loop.h"
#include "common/super.h"
#include "common/xbus.h"
#include "common/xen.h"

#define XT_MAX_QUEUES 2

/* blkif-like: one ring and one port; netif-like: tx + rx, split ports. */
struct xt_queue {
	void *ring[2];
	int port[2];
};

static int xt_net;	/* --net: netif's keys and rules */

struct xt_dev {
	struct xen_gnttab *xg;
	struct xen_evtchn *xe;
	struct xt_queue q[XT_MAX_QUEUES];
	unsigned int nq;
};

static int xt_probe(struct xbus_dev *dev)
{
	struct xt_dev *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	xbus_dev_set_priv(dev, x);
	return 0;
}

static int xt_advertise(struct xbus_dev *dev)
{
	return xbus_dev_write_be(dev, "feature-test", "1") ?:
		       xbus_dev_write_be(dev, "multi-queue-max-queues", "%d",
					 XT_MAX_QUEUES);
}

static void xt_disconnect(struct xbus_dev *dev)
{
	struct xt_dev *x = xbus_dev_priv(dev);
	unsigned int i, j;

	for (i = 0; i < x->nq; i++) {
		for (j = 0; j < 2; j++) {
			if (x->q[i].ring[j])
				xen_gnttab_unmap(x->xg, x->q[i].ring[j], 1);
			if (x->q[i].port[j] >= 0)
				xen_evtchn_unbind(x->xe, x->q[i].port[j]);
		}
	}
	if (x->nq)
		log_info(xbus_dev_name(dev), "disconnected");
	memset(x->q, 0, sizeof(x->q));
	x->nq = 0;
	xen_gnttab_close(x->xg);
	xen_evtchn_close(x->xe);
	x->xg = NULL;
	x->xe = NULL;
}

/* Map ring @j of queue @i from the grant in node @ref_node. */
static int xt_map(struct xbus_dev *dev, struct xt_dev *x, unsigned int i,
		  unsigned int j, const char *ref_node)
{
	unsigned long ref;
	uint32_t r;
	int rc;

	rc = xbus_dev_read_fe_uint(dev, ref_node, 0xFFFFFFFFUL, &ref);
	if (rc) {
		xbus_dev_fatal(dev, rc, "reading %s", ref_node);
		return rc;
	}
	r = (uint32_t)ref;
	rc = xen_gnttab_map(x->xg, xbus_dev_fe_domid(dev), 1, &r, 1,
			    &x->q[i].ring[j]);
	if (rc) {
		x->q[i].ring[j] = NULL;
		xbus_dev_fatal(dev, rc, "mapping ring %lu", ref);
	}
	return rc;
}

/* Bind port @j of queue @i to the frontend's port in node @node. */
static int xt_bind(struct xbus_dev *dev, struct xt_dev *x, unsigned int i,
		   unsigned int j, const char *node)
{
	unsigned long port;
	int rc;

	rc = xbus_dev_read_fe_uint(dev, node, 0xFFFFFFFFUL, &port);
	if (rc) {
		xbus_dev_fatal(dev, rc, "reading %s", node);
		return rc;
	}
	rc = xen_evtchn_bind(x->xe, xbus_dev_fe_domid(dev), (uint32_t)port);
	if (rc < 0) {
		xbus_dev_fatal(dev, rc, "binding event channel %lu", port);
		return rc;
	}
	x->q[i].port[j] = rc;
	return 0;
}

/* Read one queue's keys from @prefix ("" or "queue-<i>/"), map and bind. */
static int xt_connect_queue(struct xbus_dev *dev, struct xt_dev *x,
			    unsigned int i, const char *prefix)
{
	char a[64], b[64];
	unsigned long dummy;

	if (!xt_net) {
		snprintf(a, sizeof(a), "%sring-ref", prefix);
		snprintf(b, sizeof(b), "%sevent-channel", prefix);
		return xt_map(dev, x, i, 0, a) ?: xt_bind(dev, x, i, 0, b);
	}
	snprintf(a, sizeof(a), "%stx-ring-ref", prefix);
	snprintf(b, sizeof(b), "%srx-ring-ref", prefix);
	if (xt_map(dev, x, i, 0, a) || xt_map(dev, x, i, 1, b))
		return -EINVAL;
	/* Split channels if the frontend gave them, else one for both. */
	snprintf(a, sizeof(a), "%sevent-channel-tx", prefix);
	if (!xbus_dev_read_fe_uint(dev, a, 0xFFFFFFFFUL, &dummy)) {
		snprintf(b, sizeof(b), "%sevent-channel-rx", prefix);
		return xt_bind(dev, x, i, 0, a) ?: xt_bind(dev, x, i, 1, b);
	}
	snprintf(a, sizeof(a), "%sevent-channel", prefix);
	return xt_bind(dev, x, i, 0, a);
}

static int xt_connect(struct xbus_dev *dev)
{
	struct xt_dev *x = xbus_dev_priv(dev);
	unsigned long nq = 1;
	char prefix[32];
	unsigned int i;
	int rc;

	rc = xbus_dev_read_fe_uint(dev, "multi-queue-num-queues", 0xFFFFFFFFUL,
				   &nq);
	if (rc && rc != -ENOENT) {
		xbus_dev_fatal(dev, rc, "reading multi-queue-num-queues");
		return rc;
	}
	if (nq < 1 || nq > XT_MAX_QUEUES) {
		xbus_dev_fatal(dev, -EINVAL, "multi-queue-num-queues %lu not in 1..%d",
			       nq, XT_MAX_QUEUES);
		return -EINVAL;
	}
	rc = xen_gnttab_open(&x->xg);
	if (!rc)
		rc = xen_evtchn_open(&x->xe);
	if (rc) {
		xbus_dev_fatal(dev, rc, "opening grant table / event channels");
		xt_disconnect(dev);
		return rc;
	}
	x->nq = (unsigned int)nq;
	for (i = 0; i < x->nq; i++)
		x->q[i].port[0] = x->q[i].port[1] = -1;
	for (i = 0; i < x->nq; i++) {
		/* One queue: top-level keys, even when Windows said "1". */
		if (x->nq == 1)
			prefix[0] = '\0';
		else
			snprintf(prefix, sizeof(prefix), "queue-%u/", i);
		rc = xt_connect_queue(dev, x, i, prefix);
		if (rc) {
			xt_disconnect(dev);
			return rc;
		}
	}
	log_info(xbus_dev_name(dev), "connected, %u queue(s)", x->nq);
	return 0;
}

static void xt_remove(struct xbus_dev *dev)
{
	free(xbus_dev_priv(dev));
}

static struct xbus_driver xt_driver = {
	.name = "xtest",
	.probe = xt_probe,
	.advertise = xt_advertise,
	.connect = xt_connect,
	.disconnect = xt_disconnect,
	.remove = xt_remove,
};

/* ------------------------------------------------------------ process */
struct xt_main {
	struct loop *loop;
	struct loop_fd sig;
	struct loop_timer idle;
	struct xbus *xb;
};

static struct xt_main M;

static void xt_signal(struct loop_fd *lfd, uint32_t events)
{
	struct signalfd_siginfo si;

	if (read(lfd->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		log_info(NULL, "signal %u: stopping", si.ssi_signo);
		loop_stop(M.loop);
	}
}

/* A worker lives as long as its guest has devices. */
static void xt_idle(struct loop_timer *t)
{
	if (M.xb && xbus_ndevs(M.xb) == 0) {
		log_info(NULL, "no devices left: exiting");
		loop_stop(M.loop);
	}
}

static int split_kinds(char *list, const char **kinds, int max)
{
	int n = 0;
	char *tok, *save;

	for (tok = strtok_r(list, ",", &save); tok && n < max;
	     tok = strtok_r(NULL, ",", &save))
		kinds[n++] = tok;
	kinds[n] = NULL;
	return n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kinds", required_argument, NULL, 'k' },
		{ "single", no_argument, NULL, 's' },
		{ "worker", required_argument, NULL, 'w' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "hotplug-gate", no_argument, NULL, 'g' },
		{ "net", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	char kinds_buf[256] = "xtest", ident[32] = "xtestd";
	const char *kinds[9];
	enum log_level level = LOGL_INFO;
	struct xbus_cfg xcfg;
	struct super *sv = NULL;
	int single = 0, worker = -1, c, rc;
	sigset_t mask;

	while ((c = getopt_long(argc, argv, "k:sw:l:gn", opts, NULL)) != -1) {
		switch (c) {
		case 'g':
			xt_driver.flags |= XBUS_F_HOTPLUG_GATE;
			break;
		case 'n':
			/* netif: gated on the hotplug script, and torn down as
			 * soon as the frontend starts closing. */
			xt_net = 1;
			xt_driver.flags |= XBUS_F_HOTPLUG_GATE |
					   XBUS_F_DISCONNECT_ON_CLOSING;
			break;
		case 'k':
			snprintf(kinds_buf, sizeof(kinds_buf), "%s", optarg);
			break;
		case 's':
			single = 1;
			break;
		case 'w':
			worker = atoi(optarg);
			break;
		case 'l':
			if (log_level_parse(optarg, &level)) {
				fprintf(stderr, "xtestd: bad log level '%s'\n", optarg);
				return 2;
			}
			break;
		default:
			return 2;
		}
	}
	if (split_kinds(kinds_buf, kinds, 8) == 0) {
		fprintf(stderr, "xtestd: no backend kinds\n");
		return 2;
	}
	if (worker >= 0)
		snprintf(ident, sizeof(ident), "xtestd[dom%d]", worker);
	log_setup(ident, LOG_TO_STDERR, level);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	M.loop = loop_create("xtestd");
	if (!M.loop)
		return 1;
	M.sig.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	M.sig.fn = xt_signal;
	if (M.sig.fd < 0 || loop_fd_add(M.loop, &M.sig, EPOLLIN))
		return 1;

	if (single || worker >= 0) {
		xcfg.kinds = kinds;
		xcfg.fe_domid = worker;
		rc = xbus_create(M.loop, &xcfg, &xt_driver, NULL, &M.xb);
		if (rc) {
			log_err(NULL, "cannot start: %s", strerror(-rc));
			return 1;
		}
		if (worker >= 0) {
			M.idle.fn = xt_idle;
			loop_timer_arm(M.loop, &M.idle, 200, 200);
		}
	} else {
		struct super_cfg scfg = { .kinds = kinds, .argv = argv };

		rc = super_create(M.loop, &scfg, &sv);
		if (rc) {
			log_err(NULL, "cannot start the supervisor: %s",
				strerror(-rc));
			return 1;
		}
	}
	log_info(NULL, "running (%s)", single ? "single process" :
			worker >= 0 ? "worker" : "supervisor");
	rc = loop_run(M.loop);
	xbus_destroy(M.xb);
	super_destroy(sv, 2000);
	loop_destroy(M.loop);
	return rc ? 1 : 0;
}
