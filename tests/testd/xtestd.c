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
 *          [--hotplug-gate] [--net] [--set KEY=VALUE]...
 *
 * The process is common/daemon.c's, as blkbackd's: default supervisor with
 * one (sandboxed) worker per guest; --single: one process serving every
 * guest (no workers). --hotplug-gate: Connected only after
 * hotplug-status=connected, as netif requires. --net: netif's keys
 * (tx-ring-ref, rx-ring-ref, split event-channel-tx/-rx or one
 * event-channel) with the gate and disconnect-on-Closing. --misbehave:
 * at connect, a worker makes a syscall its sandbox forbids, or binds event
 * channels of any domain, when the frontend asks (the sandbox tests).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

#include "common/daemon.h"
#include "common/log.h"
#include "common/xbus.h"
#include "common/xen.h"

#define XT_MAX_QUEUES 2

/* blkif-like: one ring and one port; netif-like: tx + rx, split ports. */
struct xt_queue {
	void *ring[2];
	int port[2];
};

static int xt_net;	 /* --net: netif's keys and rules */
static int xt_misbehave; /* --misbehave: see xt_forbidden() */

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
	return xbus_dev_write_be(dev, "feature-test", "1")
		       ?: xbus_dev_write_be(dev, "multi-queue-max-queues", "%d",
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

/*
 * --misbehave: if the frontend wrote xtest-forbidden = "execve" or
 * "ptrace", make that syscall here, as a worker taken over through its
 * guest would; a sandboxed worker dies in it. Harmless where allowed (the
 * program does not exist; we are nobody's tracee), and said in the log.
 */
static void xt_forbidden(struct xbus_dev *dev)
{
	char *argv[] = { "xtest-forbidden", NULL }, *what;
	long r = -1;

	if (!xt_misbehave || xbus_dev_read_fe(dev, "xtest-forbidden", &what))
		return;
	log_info(xbus_dev_name(dev), "misbehaving: calling %s", what);
	errno = 0;
	if (!strcmp(what, "execve"))
		r = execve("/nonexistent/xtest-forbidden", argv, argv + 1);
	else if (!strcmp(what, "ptrace"))
		r = ptrace(PTRACE_PEEKDATA, getpid(), NULL, NULL);
	log_info(xbus_dev_name(dev), "misbehaving: %s returned %ld (%s)", what,
		 r, strerror(errno));
	free(what);
}

/*
 * --misbehave: if the frontend wrote xtest-bind = "<domid>:<port> ...", try
 * to bind each of those event channels with a fresh handle (as an exploited
 * worker would, to reach another guest) and log what happened; a
 * sandboxed worker's handles are restricted to its own guest.
 */
static void xt_try_binds(struct xbus_dev *dev)
{
	char *list, *tok, *save;
	struct xen_evtchn *xe;
	unsigned int dom, port;
	int rc;

	if (!xt_misbehave || xbus_dev_read_fe(dev, "xtest-bind", &list))
		return;
	rc = xen_evtchn_open(&xe);
	if (rc) {
		log_info(xbus_dev_name(dev), "xtest-bind: open: %s",
			 strerror(-rc));
		free(list);
		return;
	}
	for (tok = strtok_r(list, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		if (sscanf(tok, "%u:%u", &dom, &port) != 2)
			continue;
		rc = xen_evtchn_bind(xe, dom, port);
		log_info(xbus_dev_name(dev), "xtest-bind %u:%u: %s", dom, port,
			 rc < 0 ? strerror(-rc) : "bound");
		if (rc >= 0)
			xen_evtchn_unbind(xe, (uint32_t)rc);
	}
	xen_evtchn_close(xe);
	free(list);
}

static int xt_connect(struct xbus_dev *dev)
{
	struct xt_dev *x = xbus_dev_priv(dev);
	unsigned long nq = 1;
	char prefix[32];
	unsigned int i;
	int rc;

	xt_forbidden(dev);
	xt_try_binds(dev);
	rc = xbus_dev_read_fe_uint(dev, "multi-queue-num-queues", 0xFFFFFFFFUL,
				   &nq);
	if (rc && rc != -ENOENT) {
		xbus_dev_fatal(dev, rc, "reading multi-queue-num-queues");
		return rc;
	}
	if (nq < 1 || nq > XT_MAX_QUEUES) {
		xbus_dev_fatal(dev, -EINVAL,
			       "multi-queue-num-queues %lu not in 1..%d", nq,
			       XT_MAX_QUEUES);
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
/* The process is common/daemon.c's, as for blkbackd: the same supervisor,
 * workers and sandbox. Only the daemon's own options are here. */
struct xt_conf {
	struct daemon_conf d;
};

static struct xt_conf xt_conf;

static int xt_opt_kinds(void *conf, const char *arg)
{
	struct xt_conf *c = conf;

	if (strlen(arg) >= sizeof(c->d.kinds)) {
		fprintf(stderr, "xtestd: --kinds: too long\n");
		return -EINVAL;
	}
	snprintf(c->d.kinds, sizeof(c->d.kinds), "%s", arg);
	return 0;
}

static int xt_opt_gate(void *conf, const char *arg)
{
	xt_driver.flags |= XBUS_F_HOTPLUG_GATE;
	return 0;
}

/* netif: gated on the hotplug script, and torn down as soon as the
 * frontend starts closing. */
static int xt_opt_net(void *conf, const char *arg)
{
	xt_net = 1;
	xt_driver.flags |= XBUS_F_HOTPLUG_GATE | XBUS_F_DISCONNECT_ON_CLOSING;
	return 0;
}

static int xt_opt_misbehave(void *conf, const char *arg)
{
	xt_misbehave = 1;
	return 0;
}

static const struct daemon_opt xt_opts[] = {
	{ "kinds", 1, "backend kinds (as --set kinds=...)", xt_opt_kinds },
	{ "hotplug-gate", 0, "Connected only after hotplug-status=connected",
	  xt_opt_gate },
	{ "net", 0, "netif's keys, hotplug gate, disconnect on Closing",
	  xt_opt_net },
	{ "misbehave", 0,
	  "at connect, make the syscall the frontend's "
	  "xtest-forbidden names, bind the ports xtest-bind names",
	  xt_opt_misbehave },
	{ .name = NULL },
};

static const struct xbus_driver *xt_get_driver(void *conf, struct loop *ctl)
{
	return &xt_driver;
}

static const struct daemon_def xt_def = {
	.name = "xtestd",
	.summary = "A test backend of kind xtest (tests/testd/xtestd.c).",
	.default_kinds = "xtest",
	.conf = &xt_conf,
	.common_offset = offsetof(struct xt_conf, d),
	.opts = xt_opts,
	.driver = xt_get_driver,
	/* A worker notices quickly that its guest has no device left. */
	.tick_ms = 200,
};

int main(int argc, char **argv)
{
	return daemon_main(&xt_def, argc, argv);
}
