// SPDX-License-Identifier: MIT
/*
 * xbus.c - see xbus.h; the specs are spec/blkif-xenbus.md (B.0, B.1) and
 * spec/netif-xenbus.md (B.2 to B.6).
 *
 * Watches: one per backend kind (the directory of devices), one per device
 * on its whole backend directory (state, online, hotplug-status and the
 * driver's nodes, and its removal) and one on the frontend's state node
 * (which also fires when the frontend directory vanishes). Two per device
 * matter: an unprivileged driver domain has xenstored's watch quota.
 *
 * Events only mark devices dirty; after the queued events are drained, each
 * dirty device is evaluated once against what xenstore holds now. That makes
 * duplicate, reordered and coalesced events harmless by construction.
 */
#include "common/xbus.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "common/log.h"

#define XBUS_PATH_MAX 256
#define XBUS_TXN_RETRIES 16

struct xbus_dev {
	struct xbus *xb;
	struct xbus_dev *next;
	char kind[16];
	char name[64]; /* kind/fe/devid */
	char be_path[XBUS_PATH_MAX];
	char fe_path[XBUS_PATH_MAX];
	char err_path[XBUS_PATH_MAX]; /* our error node's directory */
	char watches[XBUS_DEV_WATCHES][XBUS_PATH_MAX];
	unsigned int nwatches;
	unsigned int fe_domid, devid;
	enum xbus_state state; /* what we last wrote */
	bool probed;	       /* drv->probe succeeded */
	bool connected;	       /* drv->connect succeeded, no disconnect yet */
	bool broken;	       /* fatal error: wait for the frontend to reset */
	bool unregistered;     /* served no more; kept until the dir goes */
	bool dirty;
	bool wrote_error;
	void *priv;
	struct log_rl rl;
};

struct xbus {
	struct loop *loop;
	struct xen_store *xs;
	struct loop_fd watch_lfd;
	struct loop_timer alive; /* xenstored still there? */
	const struct xbus_driver *drv;
	void *drv_arg;
	char **kinds;
	unsigned int nkinds;
	int fe_domid;
	unsigned int self;
	char base[64]; /* /local/domain/<self> */
	struct xbus_dev *devs;
	bool scan_pending;
	bool destroying; /* xbus_destroy: the daemon stops */
};

static void xbus_evaluate(struct xbus_dev *dev);

/* ------------------------------------------------------------ accessors */
struct xen_store *xbus_dev_store(struct xbus_dev *dev)
{
	return dev->xb->xs;
}

const char *xbus_dev_be_path(const struct xbus_dev *dev)
{
	return dev->be_path;
}

const char *xbus_dev_fe_path(const struct xbus_dev *dev)
{
	return dev->fe_path;
}

const char *xbus_dev_kind(const struct xbus_dev *dev)
{
	return dev->kind;
}

unsigned int xbus_dev_fe_domid(const struct xbus_dev *dev)
{
	return dev->fe_domid;
}

unsigned int xbus_dev_devid(const struct xbus_dev *dev)
{
	return dev->devid;
}

const char *xbus_dev_name(const struct xbus_dev *dev)
{
	return dev->name;
}

void *xbus_dev_priv(const struct xbus_dev *dev)
{
	return dev->priv;
}

void xbus_dev_set_priv(struct xbus_dev *dev, void *priv)
{
	dev->priv = priv;
}

int xbus_dev_removed(const struct xbus_dev *dev)
{
	return !dev->xb->destroying;
}

enum xbus_state xbus_dev_state(const struct xbus_dev *dev)
{
	return dev->state;
}

unsigned int xbus_self_domid(const struct xbus *xb)
{
	return xb->self;
}

void *xbus_driver_arg(const struct xbus *xb)
{
	return xb->drv_arg;
}

unsigned int xbus_ndevs(const struct xbus *xb)
{
	const struct xbus_dev *d;
	unsigned int n = 0;

	for (d = xb->devs; d; d = d->next)
		n++;
	return n;
}

/* -------------------------------------------------------- node helpers */
static int join(char *buf, const char *dir, const char *node)
{
	int n = snprintf(buf, XBUS_PATH_MAX, "%s/%s", dir, node);

	return n < 0 || n >= XBUS_PATH_MAX ? -ENAMETOOLONG : 0;
}

int xbus_dev_read_be(struct xbus_dev *dev, const char *node, char **val)
{
	char p[XBUS_PATH_MAX];

	return join(p, dev->be_path, node)
		       ?: xen_store_read(dev->xb->xs, XEN_TXN_NONE, p, val,
					 NULL);
}

int xbus_dev_read_fe(struct xbus_dev *dev, const char *node, char **val)
{
	char p[XBUS_PATH_MAX];

	return join(p, dev->fe_path, node)
		       ?: xen_store_read(dev->xb->xs, XEN_TXN_NONE, p, val,
					 NULL);
}

int xbus_dev_read_be_uint(struct xbus_dev *dev, const char *node,
			  unsigned long max, unsigned long *v)
{
	char p[XBUS_PATH_MAX];

	return join(p, dev->be_path, node)
		       ?: xen_store_read_uint(dev->xb->xs, XEN_TXN_NONE, p, max,
					      v);
}

int xbus_dev_read_fe_uint(struct xbus_dev *dev, const char *node,
			  unsigned long max, unsigned long *v)
{
	char p[XBUS_PATH_MAX];

	return join(p, dev->fe_path, node)
		       ?: xen_store_read_uint(dev->xb->xs, XEN_TXN_NONE, p, max,
					      v);
}

int xbus_dev_write_be(struct xbus_dev *dev, const char *node, const char *fmt,
		      ...)
{
	char p[XBUS_PATH_MAX], val[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(val))
		return -EINVAL;
	return join(p, dev->be_path, node)
		       ?: xen_store_write(dev->xb->xs, XEN_TXN_NONE, p, val);
}

/*
 * Switch the backend state as xenbus_switch_state does: in a transaction
 * that first checks the node still exists, so a state write never recreates
 * a directory the toolstack has just removed.
 */
static int xbus_write_state(struct xbus_dev *dev, enum xbus_state s,
			    const char *node, const char *value)
{
	char p[XBUS_PATH_MAX], q[XBUS_PATH_MAX], *cur;
	xen_txn_t t;
	int rc, tries;

	if (join(p, dev->be_path, "state") ||
	    (node && join(q, dev->be_path, node)))
		return -ENAMETOOLONG;
	for (tries = 0; tries < XBUS_TXN_RETRIES; tries++) {
		rc = xen_store_txn_start(dev->xb->xs, &t);
		if (rc)
			return rc;
		rc = xen_store_read(dev->xb->xs, t, p, &cur, NULL);
		if (rc) {
			xen_store_txn_end(dev->xb->xs, t, 1);
			return rc;
		}
		free(cur);
		if (node)
			rc = xen_store_write(dev->xb->xs, t, q, value);
		if (!rc)
			rc = xen_store_printf(dev->xb->xs, t, p, "%d", (int)s);
		if (rc) {
			xen_store_txn_end(dev->xb->xs, t, 1);
			return rc;
		}
		rc = xen_store_txn_end(dev->xb->xs, t, 0);
		if (rc != -EAGAIN)
			break;
	}
	if (!rc)
		dev->state = s;
	return rc;
}

static int xbus_set_state(struct xbus_dev *dev, enum xbus_state s)
{
	int rc = xbus_write_state(dev, s, NULL, NULL);

	if (rc && rc != -ENOENT)
		log_rl_warn(&dev->rl, dev->name,
			    "cannot switch to state %d: %s", (int)s,
			    strerror(-rc));
	else if (!rc)
		log_debug(dev->name, "state %d", (int)s);
	return rc;
}

int xbus_dev_write_and_kick(struct xbus_dev *dev, const char *node,
			    const char *value)
{
	return xbus_write_state(dev, dev->state, node, value);
}

int xbus_dev_watch(struct xbus_dev *dev, const char *path)
{
	int rc;

	if (dev->nwatches >= XBUS_DEV_WATCHES)
		return -ENOSPC;
	if (strlen(path) >= XBUS_PATH_MAX)
		return -ENAMETOOLONG;
	rc = xen_store_watch(dev->xb->xs, path, dev->be_path);
	if (rc)
		return rc;
	strcpy(dev->watches[dev->nwatches++], path);
	return 0;
}

/* -------------------------------------------------------- lifecycle */
static void xbus_disconnect(struct xbus_dev *dev)
{
	if (dev->connected && dev->xb->drv->disconnect)
		dev->xb->drv->disconnect(dev);
	dev->connected = false;
}

void xbus_dev_fatal(struct xbus_dev *dev, int err, const char *fmt, ...)
{
	char msg[256], p[XBUS_PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_rl_err(&dev->rl, dev->name, "fatal: %s (%s)", msg, strerror(-err));
	/* The form xenbus_dev_fatal() writes, which xl and people read. */
	if (!join(p, dev->err_path, "error") &&
	    !xen_store_printf(dev->xb->xs, XEN_TXN_NONE, p, "%d %s", -err, msg))
		dev->wrote_error = true;
	dev->broken = true;
	xbus_disconnect(dev);
	xbus_set_state(dev, XBUS_CLOSING);
}

static void xbus_unregister(struct xbus_dev *dev)
{
	unsigned int i;

	if (dev->unregistered)
		return;
	xbus_disconnect(dev);
	if (dev->probed && dev->xb->drv->remove)
		dev->xb->drv->remove(dev);
	dev->probed = false;
	dev->priv = NULL;
	for (i = 0; i < dev->nwatches; i++)
		xen_store_unwatch(dev->xb->xs, dev->watches[i], dev->be_path);
	dev->nwatches = 0;
	if (dev->wrote_error)
		xen_store_rm(dev->xb->xs, XEN_TXN_NONE, dev->err_path);
	dev->wrote_error = false;
	dev->unregistered = true;
	log_info(dev->name, "unregistered");
}

static void xbus_dev_free(struct xbus_dev *dev)
{
	struct xbus *xb = dev->xb;
	struct xbus_dev **pp;
	char p[XBUS_PATH_MAX];

	xbus_unregister(dev);
	xen_store_unwatch(xb->xs, dev->be_path, dev->be_path);
	if (!join(p, dev->fe_path, "state"))
		xen_store_unwatch(xb->xs, p, dev->be_path);
	for (pp = &xb->devs; *pp; pp = &(*pp)->next) {
		if (*pp == dev) {
			*pp = dev->next;
			break;
		}
	}
	free(dev);
}

static struct xbus_dev *xbus_find(struct xbus *xb, const char *be_path)
{
	struct xbus_dev *d;

	for (d = xb->devs; d; d = d->next)
		if (!strcmp(d->be_path, be_path))
			return d;
	return NULL;
}

/* Read a state node: UNKNOWN if absent; -EINVAL if it is not a state. */
static int xbus_read_state(struct xbus *xb, const char *dir, int *state)
{
	char p[XBUS_PATH_MAX];
	unsigned long v;
	int rc = join(p, dir, "state");

	if (!rc)
		rc = xen_store_read_uint(xb->xs, XEN_TXN_NONE, p, 8, &v);
	if (rc == -ENOENT) {
		*state = XBUS_UNKNOWN;
		return 0;
	}
	if (rc)
		return rc;
	*state = (int)v;
	return 0;
}

static int xbus_probe(struct xbus_dev *dev)
{
	int rc = 0;

	dev->broken = false;
	if (dev->xb->drv->probe)
		rc = dev->xb->drv->probe(dev);
	if (rc) {
		xbus_dev_fatal(dev, rc, "probe failed");
		return rc;
	}
	dev->probed = true;
	return 0;
}

/* Advertise, then InitWait: both at first probe and after a reset. */
static void xbus_to_initwait(struct xbus_dev *dev)
{
	int rc = 0;

	if (dev->xb->drv->advertise)
		rc = dev->xb->drv->advertise(dev);
	if (rc) {
		/* The driver may have said what was wrong. */
		if (!dev->broken)
			xbus_dev_fatal(dev, rc, "writing backend features");
		return;
	}
	xbus_set_state(dev, XBUS_INITWAIT);
}

/*
 * Adopt the device whose backend directory is @be_path. @startup: we are
 * (re)starting and may find it in any state (a restarted worker takes its
 * devices back); otherwise only a device in Initialising is probed, as the
 * xenbus core does.
 */
static void xbus_adopt(struct xbus *xb, const char *kind, unsigned int fe,
		       unsigned int devid, const char *be_path, bool startup)
{
	struct xbus_dev *dev;
	char p[XBUS_PATH_MAX], *fe_path = NULL;
	unsigned long fe_id;
	int bes, rc;
	size_t base_len = strlen(xb->base);

	if (xbus_read_state(xb, be_path, &bes) || bes == XBUS_UNKNOWN)
		return; /* not complete yet: the toolstack writes it last */
	if (!startup && bes != XBUS_INITIALISING)
		return;
	if (join(p, be_path, "frontend-id") ||
	    xen_store_read_uint(xb->xs, XEN_TXN_NONE, p, 0x7FEF, &fe_id) ||
	    fe_id != fe)
		return;
	if (join(p, be_path, "frontend") ||
	    xen_store_read(xb->xs, XEN_TXN_NONE, p, &fe_path, NULL))
		return;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		goto out;
	dev->xb = xb;
	dev->fe_domid = fe;
	dev->devid = devid;
	dev->state = (enum xbus_state)bes;
	snprintf(dev->kind, sizeof(dev->kind), "%s", kind);
	snprintf(dev->name, sizeof(dev->name), "%s/%u/%u", kind, fe, devid);
	snprintf(dev->be_path, sizeof(dev->be_path), "%s", be_path);
	snprintf(dev->err_path, sizeof(dev->err_path), "%s/error/%s", xb->base,
		 be_path + base_len + 1);
	if (strlen(fe_path) >= sizeof(dev->fe_path)) {
		free(dev);
		goto out;
	}
	strcpy(dev->fe_path, fe_path);
	dev->next = xb->devs;
	xb->devs = dev;

	rc = xen_store_watch(xb->xs, dev->be_path, dev->be_path);
	if (!rc && !join(p, dev->fe_path, "state"))
		rc = xen_store_watch(xb->xs, p, dev->be_path);
	if (rc) {
		log_err(dev->name, "cannot watch its nodes: %s", strerror(-rc));
		xbus_dev_free(dev);
		goto out;
	}
	log_info(dev->name, "found in state %d, frontend %s", bes,
		 dev->fe_path);
	if (bes == XBUS_CLOSED &&
	    (xbus_dev_read_be_uint(dev, "online", 1, &fe_id) || !fe_id)) {
		/* Being removed by the toolstack: track it until it is gone. */
		dev->unregistered = true;
		goto out;
	}
	if (xbus_probe(dev))
		goto out;
	if (bes == XBUS_INITIALISING)
		xbus_to_initwait(dev);
	/* The watches' first events evaluate it against the frontend. */
	dev->dirty = true;
out:
	free(fe_path);
}

/* ------------------------------------------------------- state machine */
static void xbus_evaluate(struct xbus_dev *dev)
{
	const struct xbus_driver *drv = dev->xb->drv;
	unsigned long online = 0;
	char *hp = NULL;
	bool hotplug_ok = true;
	int bes, fes, rc;

	dev->dirty = false;
	if (xbus_read_state(dev->xb, dev->be_path, &bes))
		bes = XBUS_UNKNOWN;
	if (bes == XBUS_UNKNOWN) {
		/* The toolstack removed the backend directory. */
		log_info(dev->name, "backend directory removed");
		xbus_dev_free(dev);
		return;
	}
	if (dev->unregistered) {
		/* Re-created behind our back with a fresh state: a new device. */
		if (bes == XBUS_INITIALISING) {
			dev->unregistered = false;
			dev->state = XBUS_INITIALISING;
			if (!xbus_probe(dev))
				xbus_to_initwait(dev);
		}
		return;
	}
	dev->state = (enum xbus_state)bes;
	/* xenbus_dev_is_online(): a missing node means offline. */
	if (xbus_dev_read_be_uint(dev, "online", 1, &online))
		online = 0;
	if (drv->flags & XBUS_F_HOTPLUG_GATE) {
		hotplug_ok = !xbus_dev_read_be(dev, "hotplug-status", &hp) &&
			     !strcmp(hp, "connected");
		free(hp);
	}
	rc = xbus_read_state(dev->xb, dev->fe_path, &fes);
	if (rc) {
		/* A guest's own node: a lie is fatal for its device only. */
		if (!dev->broken)
			xbus_dev_fatal(dev, -EINVAL,
				       "frontend state is not a state");
		return;
	}

	switch (fes) {
	case XBUS_INITIALISING:
		if (bes == XBUS_CLOSED && online) {
			/* kexec / kdump / reconnect: back to InitWait. */
			log_info(dev->name,
				 "frontend reset: prepare for reconnect");
			xbus_disconnect(dev);
			dev->broken = false;
			xbus_to_initwait(dev);
		}
		break;
	case XBUS_INITWAIT:
		break;
	case XBUS_INITIALISED:
	case XBUS_CONNECTED:
		if (dev->broken || bes == XBUS_CLOSING || bes == XBUS_CLOSED)
			break;
		if (!dev->connected) {
			rc = drv->connect ? drv->connect(dev) : 0;
			if (rc == -EAGAIN)
				break;
			if (rc) {
				/* The driver may have said what was wrong. */
				if (!dev->broken)
					xbus_dev_fatal(
						dev, rc,
						"connecting to the frontend");
				break;
			}
			dev->connected = true;
		}
		if (bes != XBUS_CONNECTED && hotplug_ok)
			xbus_set_state(dev, XBUS_CONNECTED);
		break;
	case XBUS_CLOSING:
		if (drv->flags & XBUS_F_DISCONNECT_ON_CLOSING)
			xbus_disconnect(dev);
		if (bes != XBUS_CLOSING && bes != XBUS_CLOSED)
			xbus_set_state(dev, XBUS_CLOSING);
		break;
	case XBUS_RECONFIGURING:
		if (dev->broken || !dev->connected || bes != XBUS_CONNECTED)
			break;
		rc = drv->reconfigure ? drv->reconfigure(dev) : -EOPNOTSUPP;
		if (rc)
			xbus_dev_fatal(dev, rc, "reconfiguring");
		else
			xbus_set_state(dev, XBUS_RECONFIGURED);
		break;
	case XBUS_RECONFIGURED:
		break;
	case XBUS_CLOSED:
	case XBUS_UNKNOWN:
	default:
		xbus_disconnect(dev);
		dev->broken = false;
		if (bes != XBUS_CLOSED)
			xbus_set_state(dev, XBUS_CLOSED);
		/* Linux: unregister when offline, or the frontend is gone. */
		if (!online || fes == XBUS_UNKNOWN)
			xbus_unregister(dev);
		return;
	}

	/*
	 * The toolstack's removal: online=0 and our state set to Closing by it.
	 * A frontend that is not active will not answer: close now (as QEMU).
	 */
	if (!online && dev->state == XBUS_CLOSING && fes != XBUS_INITIALISED &&
	    fes != XBUS_CONNECTED && fes != XBUS_CLOSING) {
		xbus_disconnect(dev);
		xbus_set_state(dev, XBUS_CLOSED);
		xbus_unregister(dev);
	}
}

/* ------------------------------------------------------------ discovery */
static int parse_id(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno || *end || *v > max ? -EINVAL : 0;
}

static void xbus_scan_fe(struct xbus *xb, const char *kind, unsigned int fe,
			 bool startup)
{
	char dir[XBUS_PATH_MAX], p[XBUS_PATH_MAX], **ids;
	unsigned int n, i;
	unsigned long devid;

	snprintf(dir, sizeof(dir), "%s/backend/%s/%u", xb->base, kind, fe);
	if (xen_store_ls(xb->xs, XEN_TXN_NONE, dir, &ids, &n))
		return;
	for (i = 0; i < n; i++) {
		if (parse_id(ids[i], 0xFFFFFFFFUL, &devid) ||
		    join(p, dir, ids[i]))
			continue;
		if (!xbus_find(xb, p))
			xbus_adopt(xb, kind, fe, (unsigned int)devid, p,
				   startup);
	}
	free(ids);
}

static void xbus_scan(struct xbus *xb, bool startup)
{
	char dir[XBUS_PATH_MAX], **fes;
	unsigned int k, n, i;
	unsigned long fe;

	xb->scan_pending = false;
	for (k = 0; k < xb->nkinds; k++) {
		if (xb->fe_domid >= 0) {
			xbus_scan_fe(xb, xb->kinds[k],
				     (unsigned int)xb->fe_domid, startup);
			continue;
		}
		snprintf(dir, sizeof(dir), "%s/backend/%s", xb->base,
			 xb->kinds[k]);
		if (xen_store_ls(xb->xs, XEN_TXN_NONE, dir, &fes, &n))
			continue;
		for (i = 0; i < n; i++)
			if (!parse_id(fes[i], 0x7FEF, &fe))
				xbus_scan_fe(xb, xb->kinds[k], (unsigned int)fe,
					     startup);
		free(fes);
	}
}

int xbus_backend_depth(const char *base, const char *path)
{
	size_t n = strlen(base);
	int depth = 0;
	const char *p;

	if (strncmp(path, base, n) || strncmp(path + n, "/backend/", 9))
		return -1;
	for (p = path + n + 9; *p; p++)
		depth += *p == '/';
	return depth;
}

/* Only events at device-directory depth can add a device: kind/fe/devid. */
static bool xbus_shallow(const struct xbus *xb, const char *path)
{
	int depth = xbus_backend_depth(xb->base, path);

	return depth >= 0 && depth <= 2;
}

static void xbus_watch_ready(struct loop_fd *lfd, uint32_t events)
{
	struct xbus *xb =
		(struct xbus *)((char *)lfd - offsetof(struct xbus, watch_lfd));
	struct xbus_dev *dev, *next;
	char *path, *token;
	void *mem;
	int budget = 256;

	/* Drain (bounded, the fd stays readable if more are queued), mark... */
	while (budget-- > 0 &&
	       !xen_store_watch_next(xb->xs, &path, &token, &mem)) {
		if (!strncmp(token, "kind:", 5)) {
			xb->scan_pending |= xbus_shallow(xb, path);
		} else if ((dev = xbus_find(xb, token))) {
			dev->dirty = true;
			if (dev->probed && xb->drv->changed &&
			    strcmp(path, dev->be_path))
				xb->drv->changed(dev, path);
		}
		free(mem);
	}
	/* ...then act once per device on what xenstore says now. */
	if (xb->scan_pending)
		xbus_scan(xb, false);
	for (dev = xb->devs; dev; dev = next) {
		next = dev->next;
		if (dev->dirty)
			xbus_evaluate(dev);
	}
}

/*
 * libxenstore closes its socket without a word when xenstored goes away: the
 * watch fd never fires again. Without xenstore nothing can be served or even
 * torn down, so the daemon stops (a service manager restarts it).
 */
static void xbus_alive_tick(struct loop_timer *t)
{
	struct xbus *xb =
		(struct xbus *)((char *)t - offsetof(struct xbus, alive));
	int rc = xen_store_alive(xb->xs);

	if (!rc)
		return;
	log_err(NULL, "xenstore connection lost (%s): stopping", strerror(-rc));
	loop_timer_cancel(xb->loop, &xb->alive);
	loop_stop(xb->loop);
}

int xbus_create(struct loop *loop, const struct xbus_cfg *cfg,
		const struct xbus_driver *drv, void *drv_arg, struct xbus **out)
{
	struct xbus *xb;
	char path[XBUS_PATH_MAX], token[32];
	unsigned long self;
	unsigned int k;
	int rc;

	xb = calloc(1, sizeof(*xb));
	if (!xb)
		return -ENOMEM;
	xb->loop = loop;
	xb->drv = drv;
	xb->drv_arg = drv_arg;
	xb->fe_domid = cfg->fe_domid;
	xb->watch_lfd.fd = -1;
	for (k = 0; cfg->kinds && cfg->kinds[k]; k++)
		;
	xb->kinds = calloc(k + 1, sizeof(*xb->kinds));
	if (!xb->kinds) {
		rc = -ENOMEM;
		goto err_free;
	}
	for (xb->nkinds = 0; xb->nkinds < k; xb->nkinds++) {
		xb->kinds[xb->nkinds] = strdup(cfg->kinds[xb->nkinds]);
		if (!xb->kinds[xb->nkinds]) {
			rc = -ENOMEM;
			goto err_free;
		}
	}

	rc = xen_store_open(&xb->xs);
	if (rc)
		goto err_free;
	/* Our own domid: "domid" relative to our home, as the toolstack wrote. */
	rc = xen_store_read_uint(xb->xs, XEN_TXN_NONE, "domid", 0x7FEF, &self);
	if (rc)
		goto err_close;
	xb->self = (unsigned int)self;
	snprintf(xb->base, sizeof(xb->base), "/local/domain/%u", xb->self);

	rc = xen_store_watch_fd(xb->xs);
	if (rc < 0)
		goto err_close;
	xb->watch_lfd.fd = rc;
	xb->watch_lfd.fn = xbus_watch_ready;
	rc = loop_fd_add(loop, &xb->watch_lfd, EPOLLIN);
	if (rc)
		goto err_close;
	for (k = 0; k < xb->nkinds; k++) {
		if (xb->fe_domid >= 0)
			snprintf(path, sizeof(path), "%s/backend/%s/%d",
				 xb->base, xb->kinds[k], xb->fe_domid);
		else
			snprintf(path, sizeof(path), "%s/backend/%s", xb->base,
				 xb->kinds[k]);
		snprintf(token, sizeof(token), "kind:%.24s", xb->kinds[k]);
		rc = xen_store_watch(xb->xs, path, token);
		if (rc)
			goto err_loop;
	}
	xb->alive.fn = xbus_alive_tick;
	rc = loop_timer_arm(loop, &xb->alive, XBUS_ALIVE_MS, XBUS_ALIVE_MS);
	if (rc)
		goto err_loop;
	/* Devices present before us, in whatever state they are in. */
	xbus_scan(xb, true);
	*out = xb;
	return 0;

err_loop:
	loop_fd_del(loop, &xb->watch_lfd);
err_close:
	xen_store_close(xb->xs);
err_free:
	for (k = 0; k < xb->nkinds; k++)
		free(xb->kinds[k]);
	free(xb->kinds);
	free(xb);
	return rc;
}

void xbus_destroy(struct xbus *xb)
{
	unsigned int k;

	if (!xb)
		return;
	xb->destroying = true;
	while (xb->devs)
		xbus_dev_free(xb->devs);
	loop_timer_cancel(xb->loop, &xb->alive);
	if (xb->watch_lfd.fd >= 0)
		loop_fd_del(xb->loop, &xb->watch_lfd);
	xen_store_close(xb->xs);
	for (k = 0; k < xb->nkinds; k++)
		free(xb->kinds[k]);
	free(xb->kinds);
	free(xb);
}
