/* SPDX-License-Identifier: MIT */
/*
 * xen.h - the daemons' only door to Xen: xenstore, event channels, grant
 * tables, handle restriction.
 *
 * common/xen.c is the one file that includes xenstore.h, xenevtchn.h and
 * xengnttab.h. Everything here returns 0 (or a count) on success and -errno
 * on failure; the libraries' -1+errno and NULL conventions stop at xen.c.
 * Handles are opaque and owned by whoever opened them; a handle is used by
 * one thread at a time (a queue thread opens its own event channel and grant
 * table handles). Nothing here logs: callers have the context.
 */
#ifndef PVBACK_COMMON_XEN_H
#define PVBACK_COMMON_XEN_H

#include <stddef.h>
#include <stdint.h>

typedef uint32_t xen_txn_t; /* a xenstore transaction; 0 = none */
#define XEN_TXN_NONE ((xen_txn_t)0)

/* ------------------------------------------------------------ xenstore */
struct xen_store;

/* Open a xenstore connection. Blocking calls; watches arrive on its fd. */
int xen_store_open(struct xen_store **out);
void xen_store_close(struct xen_store *xs); /* NULL-safe */

/*
 * Read @path. On success *@val is a NUL-terminated malloc'd copy (free it)
 * and *@len its length if @len is not NULL. -ENOENT if absent, -EACCES...
 */
int xen_store_read(struct xen_store *xs, xen_txn_t t, const char *path,
		   char **val, size_t *len);
/*
 * Read @path as an unsigned decimal (or 0x hex) number no larger than @max.
 * -ENOENT if absent, -EINVAL if not a number or out of range (the node is
 * written by a guest or a toolstack: never trust its contents).
 */
int xen_store_read_uint(struct xen_store *xs, xen_txn_t t, const char *path,
			unsigned long max, unsigned long *v);
int xen_store_write(struct xen_store *xs, xen_txn_t t, const char *path,
		    const char *val);
int xen_store_printf(struct xen_store *xs, xen_txn_t t, const char *path,
		     const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int xen_store_mkdir(struct xen_store *xs, xen_txn_t t, const char *path);
/* Remove @path and everything below it; 0 if it was already gone. */
int xen_store_rm(struct xen_store *xs, xen_txn_t t, const char *path);
/*
 * List the children of @path: *@names is one malloc'd block (free it once)
 * holding *@n pointers followed by the strings. -ENOENT if absent.
 */
int xen_store_ls(struct xen_store *xs, xen_txn_t t, const char *path,
		 char ***names, unsigned int *n);
/*
 * Set @path's permissions: owner @owner with no access for others, plus read
 * access for @reader (skipped if @reader == @owner).
 */
int xen_store_set_owner_reader(struct xen_store *xs, xen_txn_t t,
			       const char *path, unsigned int owner,
			       unsigned int reader);

int xen_store_txn_start(struct xen_store *xs, xen_txn_t *t);
/* End @t; @abort discards it. -EAGAIN when it conflicted: retry it all. */
int xen_store_txn_end(struct xen_store *xs, xen_txn_t t, int abort);

/* Watch @path (and below); events carry @token. */
int xen_store_watch(struct xen_store *xs, const char *path, const char *token);
int xen_store_unwatch(struct xen_store *xs, const char *path,
		      const char *token);
/* The fd that turns readable when watch events are queued. */
int xen_store_watch_fd(struct xen_store *xs);
/*
 * Take one queued watch event without blocking: *@path and *@token point
 * into one malloc'd block *@mem (free(*mem) releases both). -EAGAIN when
 * none is queued.
 */
int xen_store_watch_next(struct xen_store *xs, char **path, char **token,
			 void **mem);
/*
 * Whether the connection to xenstored still works: one cheap round trip.
 * 0 if it does, -errno once it is lost (xenstored gone: libxenstore closes
 * its socket silently and its watch fd never says so). Blocks like a read.
 */
int xen_store_alive(struct xen_store *xs);

/* ---------------------------------------------------------- event channels */
struct xen_evtchn;

int xen_evtchn_open(struct xen_evtchn **out);
/*
 * From now on, restrict every handle xen_evtchn_open() opens to @domid
 * (xenevtchn_restrict: it binds only that domain's ports and allocates
 * none; the open fails if restricting does). For a process serving one
 * guest (common/sandbox.c). Call before any thread opens a handle.
 */
void xen_evtchn_restrict_opens(unsigned int domid);
void xen_evtchn_close(struct xen_evtchn *xe); /* NULL-safe; unbinds all */
/* Pollable fd; readable when a bound port is pending. */
int xen_evtchn_fd(struct xen_evtchn *xe);
/* Bind to @remote_port of @domid; returns the local port (>= 0) or -errno. */
int xen_evtchn_bind(struct xen_evtchn *xe, unsigned int domid,
		    uint32_t remote_port);
/* Allocate a port for @domid to bind to; returns the port or -errno. */
int xen_evtchn_alloc_unbound(struct xen_evtchn *xe, unsigned int domid);
int xen_evtchn_unbind(struct xen_evtchn *xe, uint32_t port);
int xen_evtchn_notify(struct xen_evtchn *xe, uint32_t port);
/*
 * Take one pending port (it stays masked until xen_evtchn_unmask). Blocks if
 * none is pending and the fd is blocking: call it after the fd polled
 * readable. Returns the port or -errno.
 */
int xen_evtchn_pending(struct xen_evtchn *xe);
int xen_evtchn_unmask(struct xen_evtchn *xe, uint32_t port);

/*
 * Event-storm detection (hostile class 13, XSA-332). A queue serves each
 * wakeup with its port still masked, then notes here how far its work
 * counter (e.g. req_cons, wrapping) has moved since the previous wakeup,
 * its own sweep included. An honest frontend notifies only after it
 * published requests, so at most the odd wakeup finds them already taken;
 * XEN_EVSTORM_IDLE idle wakeups in a row are a storm, answered by leaving
 * the port masked for a back-off (XEN_EVSTORM_MIN_MS doubling up to
 * XEN_EVSTORM_MAX_MS while it lasts), so the guest's notifications
 * coalesce into one pending event. Any work ends the storm.
 */
#define XEN_EVSTORM_IDLE 64
#define XEN_EVSTORM_MIN_MS 1
#define XEN_EVSTORM_MAX_MS 64

struct xen_evstorm {
	uint32_t work_at;  /* the work counter after the previous wakeup */
	unsigned int idle; /* idle wakeups in a row */
	unsigned int ms;   /* the last back-off; 0: no storm */
};

/* Note a served wakeup; 1 if it found no work since the previous one. */
int xen_evstorm_note(struct xen_evstorm *s, uint32_t work);
/* The back-off due now, in ms (the count restarts), or 0 if none. */
unsigned int xen_evstorm_backoff(struct xen_evstorm *s);

/* ------------------------------------------------------------ grant tables */
struct xen_gnttab;

int xen_gnttab_open(struct xen_gnttab **out);
void xen_gnttab_close(struct xen_gnttab *xg); /* NULL-safe */
int xen_gnttab_set_max_grants(struct xen_gnttab *xg, uint32_t count);
/*
 * Map @count grants of @domid at contiguous addresses; *@addr on success.
 * @writable 0 maps read-only. -errno (e.g. a grant the guest did not give).
 */
int xen_gnttab_map(struct xen_gnttab *xg, unsigned int domid, uint32_t count,
		   const uint32_t *refs, int writable, void **addr);
int xen_gnttab_unmap(struct xen_gnttab *xg, void *addr, uint32_t count);

/*
 * One grant-copy segment, laid out exactly as libxengnttab's
 * xengnttab_grant_copy_segment_t (xen.c checks it at compile time), so a
 * batch goes to the library without conversion. Fill it with
 * xen_gcopy_from_guest() / xen_gcopy_to_guest().
 */
struct xen_gcopy {
	union {
		void *virt;
		struct {
			uint32_t ref;
			uint16_t offset;
			uint16_t domid;
		} foreign;
	} source, dest;
	uint16_t len;
	uint16_t flags;
	int16_t status; /* per segment, after xen_gcopy_run: 0 ok */
};

/* Guest page (ref, offset) -> local buffer. @offset + @len <= 4096. */
void xen_gcopy_from_guest(struct xen_gcopy *seg, unsigned int domid,
			  uint32_t ref, uint16_t offset, void *dst,
			  uint16_t len);
/* Local buffer -> guest page (ref, offset). @offset + @len <= 4096. */
void xen_gcopy_to_guest(struct xen_gcopy *seg, unsigned int domid, uint32_t ref,
			uint16_t offset, const void *src, uint16_t len);

/*
 * Run @n segments in one call. 0 when the call ran: each segment's status is
 * then 0 or a negative GNTST_* code (a guest's bad grant fails its segment,
 * not the batch). -errno when the call itself failed (all segments void).
 */
int xen_gcopy_run(struct xen_gnttab *xg, struct xen_gcopy *segs, uint32_t n);

/* Name of a GNTST_* status, for logs ("bad_gntref", ...). */
const char *xen_gntst_name(int16_t status);

/* -------------------------------------------- grant sharing (frontends) */
struct xen_gntshr;

int xen_gntshr_open(struct xen_gntshr **out);
void xen_gntshr_close(struct xen_gntshr *xs); /* NULL-safe */
/*
 * Allocate @count zeroed pages, grant them to @domid (read-only unless
 * @writable) and map them contiguously at *@addr; the grant references go to
 * @refs. 0/-errno.
 */
int xen_gntshr_share(struct xen_gntshr *xs, unsigned int domid, uint32_t count,
		     int writable, uint32_t *refs, void **addr);
/* End access and free the pages of a share. 0/-errno. */
int xen_gntshr_unshare(struct xen_gntshr *xs, void *addr, uint32_t count);

/* ---------------------------------------------------------------- misc */
/*
 * Restrict every open Xen handle of this process to @domid (libxentoolcore):
 * afterwards they can only act on that guest. 0/-errno.
 */
int xen_restrict_all(unsigned int domid);

#endif
