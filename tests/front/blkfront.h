/* SPDX-License-Identifier: MIT */
/*
 * blkfront.h - a userspace blkif frontend (Linux xen-blkfront's behaviour),
 * for tests, the fio engine (tests/fio/pvback-blkfront.c) and benchmarks.
 *
 * It runs as a guest: in the emulated Xen (tests/xensim) or unchanged in a
 * real Linux guest, since it only uses common/xen.h (libxenstore, gntshr,
 * libxenevtchn). blkfront_connect() is blkfront's talk_to_blkback and
 * blkfront_connect as spec/blkif-xenbus.md B.1 steps 4 and 7 describe them;
 * the data path shares, per queue, a pool of pages with the backend once
 * (writable, as blkfront's persistent grants) and copies user data through
 * them, so a request's buffer may have any alignment. Every response is
 * checked against the four blkfront invariants (spec B.2) and the
 * violations are counted, never trusted: tests assert the count is 0.
 *
 * Threading: a queue (0 .. info.nr_queues - 1) is used by one thread at a
 * time (submit, kick, reap, the page and ring hooks); different queues may
 * be used by different threads. connect, close, reconnect, poll and
 * disconnect_abrupt are called by one thread while no queue call runs.
 * Calls block only where they say so. Everything returns 0 (or a count, or
 * an id) or -errno; the reason of the last failure in this thread is in
 * blkfront_last_error().
 *
 * The peer is blkback/ (blkbackd) or any blkif backend.
 */
#ifndef PVBACK_FRONT_BLKFRONT_H
#define PVBACK_FRONT_BLKFRONT_H

#include <stddef.h>
#include <stdint.h>

#include "ring/blkif.h"

struct blkfront;

struct blkfront_cfg {
	unsigned int devid;	 /* device/vbd/<devid> (51712 = xvda) */
	unsigned int ring_order; /* wanted; min with max-ring-page-order */
	unsigned int
		nr_queues; /* wanted (1..64); min with multi-queue-max-queues */
	enum ring_blkif_abi abi;   /* written as `protocol` */
	int persistent;		   /* feature-persistent written */
	int windows;		   /* Windows xenvbd: multi-queue-num-queues
		      * written even when it is 1 */
	unsigned int max_indirect; /* wanted segments per indirect request,
				    * min with feature-max-indirect-segments;
				    * 0 = never indirect */
	unsigned int timeout_ms;   /* per xenbus wait; 0 = 10000 */
	unsigned int pool_pages;   /* data pages per queue; 0 = 1024 */
};

/* Defaults: xvda, order 0, 1 queue, native, persistent, 32 indirect (Linux
 * blkfront's own defaults), 10 s, 1024 pages. */
void blkfront_cfg_init(struct blkfront_cfg *cfg);

/* What was negotiated (valid after a successful connect or reconnect). */
struct blkfront_info {
	uint64_t sectors;	  /* disk size in 512-byte units */
	unsigned int info;	  /* VDISK_* bits */
	unsigned int sector_size; /* bytes; I/O must be a multiple */
	unsigned int physical_sector_size;
	int flush;	    /* feature-flush-cache */
	int barrier;	    /* feature-barrier */
	int discard;	    /* feature-discard */
	int discard_secure; /* discard-secure */
	unsigned int discard_granularity;
	unsigned int discard_alignment;
	int persistent;		   /* both ends said feature-persistent */
	unsigned int ring_order;   /* used */
	unsigned int ring_slots;   /* requests per ring */
	unsigned int nr_queues;	   /* used */
	unsigned int max_indirect; /* segments per indirect request; 0: none */
	unsigned int max_segments; /* per request: 11 or max_indirect */
	unsigned int pool_pages;   /* data pages per queue */
	/* What the backend advertised (-1: key absent). */
	long be_max_ring_order;
	long be_max_queues;
	long be_max_indirect;
	unsigned int fe_domid, be_domid;
	char fe_path[256], be_path[256];
};

/*
 * blkfront_connect - the frontend handshake on device/vbd/@cfg->devid.
 *
 * If our state is not Initialising (a previous frontend connected or
 * closed it, as a kexec'd kernel finds it), first the reset sequence of
 * spec B.1 step 10: Closing, Closed, Initialising. Then: wait for the
 * backend's InitWait (or Connected), share the rings (2^order contiguous
 * pages each) and the data pools, allocate an unbound event channel per
 * queue, write the keys in one transaction (retried on EAGAIN),
 * Initialised, wait for Connected, read the backend's keys (sectors, info,
 * sector-size mandatory), share the indirect pages, Connected.
 * Blocks (each wait up to cfg->timeout_ms). On success *@out is the device
 * (blkfront_close or blkfront_disconnect_abrupt frees it). -ETIMEDOUT,
 * -ENODEV (directory gone), -EPROTO (backend closed or keys missing), or
 * the errno of a failed call; blkfront_last_error() says which step.
 */
int blkfront_connect(struct blkfront **out, const struct blkfront_cfg *cfg);

const struct blkfront_info *blkfront_info(const struct blkfront *bf);

/* The reason of the last failed blkfront call in this thread. */
const char *blkfront_last_error(void);

/*
 * blkfront_close - orderly close: Closing, wait for the backend's Closing
 * or Closed, Closed, wait (bounded) for the backend's Closed, then end
 * every grant, unbind, free @bf. Requests still in flight are dropped.
 * 0, or the first error met (everything is released regardless). NULL-safe.
 */
int blkfront_close(struct blkfront *bf);

/*
 * blkfront_disconnect_abrupt - what a crash leaves: state untouched, grants
 * not ended, pages not unmapped; only our handles are closed and @bf freed.
 * NULL-safe.
 */
void blkfront_disconnect_abrupt(struct blkfront *bf);

/*
 * blkfront_reconnect - blkfront's resume: Closing/Closed as needed, then
 * Initialising and the handshake again with fresh rings and event channels
 * (the data pools stay shared). Requests in flight are put on the new
 * rings (ids renumbered); those the new ring cannot carry complete with
 * -EIO at the next reap. The number of queues must come out the same
 * (-EPROTO otherwise, and the device is left closed). Blocks.
 */
int blkfront_reconnect(struct blkfront *bf);

/* ------------------------------------------------------------------ I/O */

enum blkfront_op {
	BLKFRONT_READ,
	BLKFRONT_WRITE,
	BLKFRONT_FLUSH,	  /* BLKIF_OP_FLUSH_DISKCACHE (data: written first) */
	BLKFRONT_BARRIER, /* BLKIF_OP_WRITE_BARRIER (data: written first) */
	BLKFRONT_DISCARD, /* BLKIF_OP_DISCARD */
	BLKFRONT_DISCARD_SECURE, /* BLKIF_OP_DISCARD, BLKIF_DISCARD_SECURE */
};

struct blkfront_io {
	uint8_t op;	  /* enum blkfront_op */
	uint8_t page_off; /* first segment starts this many 512-byte
			   * sectors into its page (0..7; first_sect) */
	uint64_t sector;  /* start, 512-byte units */
	void *buf;	  /* READ/WRITE (and FLUSH/BARRIER with data):
		    * any alignment; untouched for DISCARD */
	size_t len;	  /* bytes, a multiple of 512 (0 for a plain
		     * FLUSH/BARRIER) */
	void *cookie;	  /* handed back in blkfront_done */
};

struct blkfront_done {
	void *cookie;
	int status;	    /* 0, -EIO (BLKIF_RSP_ERROR or a violation),
		     * -EOPNOTSUPP (BLKIF_RSP_EOPNOTSUPP) */
	uint64_t id;	    /* the request id on the ring */
	uint8_t rsp_op;	    /* as the backend answered */
	int16_t rsp_status; /* as the backend answered */
	uint8_t revoked;    /* a page of it was revoked: read data lost */
	uint8_t raw;	    /* put with blkfront_put_raw */
};

/*
 * blkfront_submit - put one request on queue @q's ring (not yet visible to
 * the backend: blkfront_kick). Data are split into pool pages: up to 11
 * segments direct, more as BLKIF_OP_INDIRECT (READ/WRITE only) when
 * indirect was negotiated; WRITE data are copied in now.
 * Returns the request id (>= 0); -EBUSY when the ring, the ids or the pool
 * are short now (reap, then retry); -E2BIG when it can never fit (too many
 * segments); -EOPNOTSUPP for an op the backend did not advertise; -EINVAL;
 * -EIO when the queue is broken (a violation that stops it).
 */
int blkfront_submit(struct blkfront *bf, unsigned int q,
		    const struct blkfront_io *io);

/*
 * blkfront_fits - 1 if all @n requests @ios could be submitted to @q now
 * (so a caller can submit a split request all or nothing), 0 if not yet,
 * -E2BIG / -EINVAL / -EOPNOTSUPP / -EIO as blkfront_submit would say.
 */
int blkfront_fits(struct blkfront *bf, unsigned int q,
		  const struct blkfront_io *ios, unsigned int n);

/*
 * blkfront_kick - publish the requests put since the last kick and notify
 * the backend if its req_event asks for it. 1 if notified, 0 if not needed,
 * -errno.
 */
int blkfront_kick(struct blkfront *bf, unsigned int q);

/*
 * blkfront_reap - collect up to @max completions of queue @q into @done.
 * Checks every response (invariants below), copies read data out to the
 * user buffers, frees pages and ids. Waits up to @timeout_ms (0: not at
 * all, < 0: forever) on the queue's event channel when nothing is there;
 * before returning 0 it re-arms rsp_event, so polling blkfront_fd next is
 * race-free. Returns the count (0 on timeout) or -errno.
 */
int blkfront_reap(struct blkfront *bf, unsigned int q,
		  struct blkfront_done *done, unsigned int max, int timeout_ms);

/*
 * blkfront_poll - wait up to @timeout_ms (< 0: forever) until some queue
 * may have completions (call blkfront_reap(.., 0) on each first). Returns
 * the number of queues whose event channel fired (0 on timeout) or -errno.
 */
int blkfront_poll(struct blkfront *bf, int timeout_ms);

/* The pollable fd of @q's event channel (-EINVAL for a bad @q). */
int blkfront_fd(struct blkfront *bf, unsigned int q);

/* Requests of @q put on the ring and not completed yet. */
unsigned int blkfront_inflight(struct blkfront *bf, unsigned int q);

/*
 * blkfront_sync - submit @io on @q, kick, wait (up to @timeout_ms, < 0
 * forever) for its completion. Only when @q has nothing else in flight
 * (-EBUSY otherwise). Returns the completion's status, -ETIMEDOUT, -errno.
 */
int blkfront_sync(struct blkfront *bf, unsigned int q,
		  const struct blkfront_io *io, int timeout_ms);

/*
 * blkfront_violations - how many responses broke a blkfront invariant
 * (unknown or duplicate id, id out of range, op different from the
 * request's (the indirect_op for INDIRECT), more responses than requests,
 * status not 0/-1/-2), summed over the queues; the last description is
 * copied to @last (if not NULL).
 */
unsigned long blkfront_violations(const struct blkfront *bf, char *last,
				  size_t len);

/* ----------------------------------------- hooks for hostile frontends */

/*
 * blkfront_put_raw - put @req, any field values, on @q's ring, encoded in
 * the negotiated ABI (publish with blkfront_kick). Normally the library
 * gives it a free id (req->id is ignored) and checks its response like any
 * other, expecting req->op (req->indirect_op for INDIRECT); its completion
 * has raw = 1. With BLKFRONT_RAW_VERBATIM the id is written as given and
 * nothing is tracked: a response to it counts as a violation unless its id
 * happens to be pending. Pages named by @req are the caller's business
 * (blkfront_page_get). Returns the id used, or -EBUSY / -EIO / -EINVAL.
 */
#define BLKFRONT_RAW_VERBATIM 1u
int blkfront_put_raw(struct blkfront *bf, unsigned int q,
		     const struct ring_blkif_req *req, void *cookie,
		     unsigned int flags);

/* @q's ring: shared page (sring) and private indexes, to write by hand. */
struct ring_blkif_front *blkfront_ring(struct blkfront *bf, unsigned int q);
/* Grant references of @q's ring pages (2^order of them) and its port. */
const uint32_t *blkfront_ring_refs(struct blkfront *bf, unsigned int q);
int blkfront_port(struct blkfront *bf, unsigned int q);
/* Notify the backend on @q's event channel, whatever req_event says. */
int blkfront_notify(struct blkfront *bf, unsigned int q);

/*
 * blkfront_page_get - take a free page of @q's pool for the caller's own
 * requests: its address and grant reference (shared writable with the
 * backend). Returns the page index or -EBUSY. blkfront_page_put gives it
 * back (0, or -EINVAL if it was not taken).
 */
int blkfront_page_get(struct blkfront *bf, unsigned int q, void **addr,
		      uint32_t *gref);
int blkfront_page_put(struct blkfront *bf, unsigned int q, int idx);

/* Address and grant reference of pool page @idx of @q. 0/-EINVAL. */
int blkfront_page_info(struct blkfront *bf, unsigned int q, int idx,
		       void **addr, uint32_t *gref);

/*
 * blkfront_req_pages - the pool page indexes of pending request @id of @q,
 * in segment order, at most @max into @idx. Returns the count or -ENOENT.
 */
int blkfront_req_pages(struct blkfront *bf, unsigned int q, uint64_t id,
		       int *idx, unsigned int max);

/*
 * blkfront_page_revoke - end the backend's access to pool page @idx of @q
 * now (gntshr unshare of that page), even while a request uses it: the
 * backend's next access to it fails. The page is gone for good: it is not
 * reused, and a read completing into it is not copied (done.revoked).
 * 0/-errno.
 */
int blkfront_page_revoke(struct blkfront *bf, unsigned int q, int idx);

#endif
