/* SPDX-License-Identifier: MIT */
/*
 * xbus.h - the backend half of the xenbus handshake, once for both daemons.
 *
 * xbus claims the devices of the configured backend kinds (e.g. "vbd3",
 * "vbd", "vif") under /local/domain/<self>/backend/<kind>/<fe>/<devid>, of
 * one frontend domain (a worker) or of all of them, including devices that
 * exist when it starts. It runs the state machine of spec/blkif-xenbus.md and
 * spec/netif-xenbus.md and calls the driver's callbacks at the right points:
 *
 *   probe       a device appeared: allocate its private state
 *   advertise   write what the frontend reads at InitWait (before every
 *               switch to InitWait: first probe, kexec/kdump reset); an
 *               error fails the device (as connect: xbus_dev_fatal() first
 *               for a precise message)
 *   connect     the frontend is Initialised/Connected: read its keys, map the
 *               rings, start the queues. 0: go Connected; -EAGAIN: not yet
 *               (waiting for a backend node, e.g. physical-device); any
 *               other -errno: fatal (error node, Closing), device only. A
 *               driver that called xbus_dev_fatal() with a precise message
 *               returns its error and xbus adds nothing.
 *   disconnect  stop and drain the queues, unmap, unbind. Idempotent.
 *   remove      the device is gone: free the private state.
 *   changed     optional: a node under the backend directory, or a node the
 *               driver watches with xbus_dev_watch(), changed.
 *   reconfigure optional (netif): frontend Reconfiguring; 0: Reconfigured.
 *
 * Every watch event re-reads the states and acts on what xenstore says now,
 * so duplicate, reordered and coalesced events are harmless. Everything here
 * runs on the thread of the loop given to xbus_create() (the control thread);
 * a queue thread that must fail its device posts a message to that loop.
 */
#ifndef PVBACK_COMMON_XBUS_H
#define PVBACK_COMMON_XBUS_H

#include <stdarg.h>

#include "common/loop.h"
#include "common/xen.h"

enum xbus_state {
	XBUS_UNKNOWN = 0,
	XBUS_INITIALISING = 1,
	XBUS_INITWAIT = 2,
	XBUS_INITIALISED = 3,
	XBUS_CONNECTED = 4,
	XBUS_CLOSING = 5,
	XBUS_CLOSED = 6,
	XBUS_RECONFIGURING = 7,
	XBUS_RECONFIGURED = 8,
};

struct xbus;
struct xbus_dev;

/* Go Connected only once the hotplug script wrote hotplug-status=connected
 * (netif, as Linux netback). */
#define XBUS_F_HOTPLUG_GATE (1U << 0)
/* Disconnect when the frontend starts closing (netif) rather than once it
 * is closed (blkif). */
#define XBUS_F_DISCONNECT_ON_CLOSING (1U << 1)

struct xbus_driver {
	const char *name;
	unsigned int flags; /* XBUS_F_* */
	int (*probe)(struct xbus_dev *dev);
	int (*advertise)(struct xbus_dev *dev);
	int (*connect)(struct xbus_dev *dev);
	void (*disconnect)(struct xbus_dev *dev);
	void (*remove)(struct xbus_dev *dev);
	void (*changed)(struct xbus_dev *dev, const char *path);
	int (*reconfigure)(struct xbus_dev *dev);
};

struct xbus_cfg {
	const char *const *kinds; /* NULL-terminated backend kinds */
	int fe_domid;		  /* one frontend domain, or -1 for all */
};

/* How often xbus checks that xenstored is still there. */
#define XBUS_ALIVE_MS 1000

/*
 * Open a xenstore connection, learn our own domid, watch the backend kinds
 * and adopt what exists. Watch events are handled on @loop. If the xenstore
 * connection is lost (xenstored gone), xbus logs it and stops @loop: the
 * daemon cannot serve or tear down anything without it. 0/-errno.
 */
int xbus_create(struct loop *loop, const struct xbus_cfg *cfg,
		const struct xbus_driver *drv, void *drv_arg,
		struct xbus **out);
/* Disconnect and remove every device (their xenstore nodes stay), close. */
void xbus_destroy(struct xbus *xb);

unsigned int xbus_self_domid(const struct xbus *xb);
void *xbus_driver_arg(const struct xbus *xb);
/*
 * Number of devices whose backend directory still exists (served, or
 * closed and waiting for the toolstack to remove them). A worker exits when
 * this drops to 0.
 */
unsigned int xbus_ndevs(const struct xbus *xb);

/*
 * How deep @path lies below <@base>/backend/: 0 for "<kind>", 2 for
 * "<kind>/<fe>/<devid>"; -1 if it is not below it.
 */
int xbus_backend_depth(const char *base, const char *path);

/* ------------------------------------------------------- per device */
struct xen_store *xbus_dev_store(struct xbus_dev *dev);
const char *xbus_dev_be_path(const struct xbus_dev *dev);
const char *xbus_dev_fe_path(const struct xbus_dev *dev);
const char *xbus_dev_kind(const struct xbus_dev *dev);
unsigned int xbus_dev_fe_domid(const struct xbus_dev *dev);
unsigned int xbus_dev_devid(const struct xbus_dev *dev);
/* "<kind>/<fe>/<devid>", for log lines. */
const char *xbus_dev_name(const struct xbus_dev *dev);
void *xbus_dev_priv(const struct xbus_dev *dev);
void xbus_dev_set_priv(struct xbus_dev *dev, void *priv);
enum xbus_state xbus_dev_state(const struct xbus_dev *dev);
/*
 * In drv->remove: 1 if the device goes away (the toolstack removed it, or
 * it was closed offline), 0 if only the daemon stops (xbus_destroy) and a
 * successor will serve it: what outlives the process (a journal, a TAP)
 * is kept for it then.
 */
int xbus_dev_removed(const struct xbus_dev *dev);

/* Read a backend / frontend node (relative to the device's directory). */
int xbus_dev_read_be(struct xbus_dev *dev, const char *node, char **val);
int xbus_dev_read_fe(struct xbus_dev *dev, const char *node, char **val);
int xbus_dev_read_be_uint(struct xbus_dev *dev, const char *node,
			  unsigned long max, unsigned long *v);
int xbus_dev_read_fe_uint(struct xbus_dev *dev, const char *node,
			  unsigned long max, unsigned long *v);
int xbus_dev_write_be(struct xbus_dev *dev, const char *node, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));

/*
 * Watch @path (absolute, e.g. a frontend node) for this device; events call
 * drv->changed. At most XBUS_DEV_WATCHES per device. 0/-errno.
 */
#define XBUS_DEV_WATCHES 4
int xbus_dev_watch(struct xbus_dev *dev, const char *path);

/*
 * Rewrite @node = @value and the device's current state in one transaction,
 * so the frontend's state watch fires and it re-reads @node (online resize
 * of "sectors"). 0/-errno.
 */
int xbus_dev_write_and_kick(struct xbus_dev *dev, const char *node,
			    const char *value);

/*
 * A fatal error on this device only: write
 * /local/domain/<self>/error/backend/<kind>/<fe>/<devid>/error =
 * "<-err> <message>", log it, disconnect and go Closing. The device can
 * connect again after the frontend closes and reinitialises.
 */
void xbus_dev_fatal(struct xbus_dev *dev, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
