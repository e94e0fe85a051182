/* SPDX-License-Identifier: MIT */
/*
 * blkback.h - what blkbackd's modules share: the daemon's configuration,
 * the backing store of one disk, and the queue (one ring, one thread).
 *
 *   main.c     process: configuration, supervisor or worker, signals
 *   xenbus.c   control plane: the vbd driver of common/xbus.c; opens the
 *              backing store, reads the frontend's keys, starts the queues
 *   store.c    backing stores: open, size, sector sizes, discard support
 *   queue.c    data path: one queue's thread, ring sweep, grant copies,
 *              I/O engine, responses
 *   req.c      request validation: a copied ring request into a plan of
 *              segments, or the error status to answer it with
 *
 * Ownership: daemon -> device (xenbus.c) -> queues -> requests. A queue
 * belongs to its thread once started; the control thread only starts and
 * stops it (and posts messages to it).
 */
#ifndef PVBACK_BLKBACK_BLKBACK_H
#define PVBACK_BLKBACK_BLKBACK_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "common/loop.h"
#include "ring/blkif.h"

/* ---------------------------------------------------------- configuration */
#define BLK_MAX_QUEUES 16
#define BLK_MAX_INDIRECT 256   /* segments per indirect request */
#define BLK_SEGS_PER_IPAGE 512 /* blkif_request_segment per indirect page */
#define BLK_SECTOR 512u	       /* the unit of every sector field */
#define BLK_PAGE 4096u

enum blk_engine { BLK_ENGINE_URING, BLK_ENGINE_AIO, BLK_ENGINE_NULL };

struct blk_conf {
	char kinds[128];	       /* backend kinds claimed, "vbd3,vbd" */
	int engine;		       /* enum blk_engine */
	unsigned int max_queues;       /* 0: online CPUs */
	unsigned int max_ring_order;   /* 0..4 */
	unsigned int max_indirect;     /* 0 (none) or 12..256 */
	unsigned int queue_buffer_kib; /* bounce memory per queue; 0: auto */
	int direct;		       /* O_DIRECT where the store allows */
	int persistent;		       /* offer feature-persistent */
	unsigned int pg_max;	       /* persistent grants kept per queue */
	unsigned int pg_timeout_s;     /* unused ones are unmapped after */
	int pg_in_place;	       /* I/O on the mapped pages, no copy */
	char run_dir[128];	       /* control sockets */
	char log_level[16];
};

/* ---------------------------------------------------------- control plane */
struct xbus_driver;

/* The vbd driver for common/xbus.c, for @conf, on control loop @ctl. */
const struct xbus_driver *blk_xbus_driver(const struct blk_conf *conf,
					  struct loop *ctl);
/* Look for stores that changed size and tell their frontends. Control
 * thread, called from a timer. */
void blk_check_resize(void);
/*
 * Write every device's counters to @out: text, or (@json) a comma-separated
 * list of JSON objects, one per device. Control thread.
 */
void blk_dump_stats(FILE *out, int json);
/* "uring", "aio" or "null". */
const char *blk_engine_name(int engine);

/* ---------------------------------------------------------- backing store */
struct blk_store {
	int fd;
	int is_blkdev;
	int readonly;		  /* mode=r or a read-only store */
	int direct;		  /* opened O_DIRECT */
	int cdrom;		  /* device-type=cdrom */
	uint64_t sectors;	  /* size in 512-byte units */
	unsigned int sector_size; /* logical block size */
	unsigned int phys_sector_size;
	int discard;			  /* the store can discard */
	int discard_secure;		  /* ...securely (BLKSECDISCARD) */
	unsigned int discard_granularity; /* bytes */
	unsigned int discard_alignment;
	char path[PATH_MAX];
};

/*
 * Open @path for the device named @name (for log lines): read-only if
 * @readonly, O_DIRECT if @direct and the store allows it (logs the
 * fallback). Fills @st. 0, or -errno with a one-line reason in @err.
 */
int blk_store_open(struct blk_store *st, const char *name, const char *path,
		   int readonly, int direct, char *err, size_t errlen);
/* Re-read the size; 0 and *@changed = 1 if it differs. */
int blk_store_refresh(struct blk_store *st, int *changed);
void blk_store_close(struct blk_store *st); /* safe twice */

/* ---------------------------------------------------------- requests */
/*
 * One validated request, built by blkreq_plan() from the private copy of a
 * ring request: the operation, the byte range on the store, and the guest
 * segments (grant ref, byte offset in the page, length) in disk order.
 */
struct blkreq_seg {
	uint32_t gref;
	uint16_t off; /* bytes within the granted page */
	uint16_t len; /* bytes, a multiple of 512 */
};

/* What blkreq_plan decided about a request. */
enum blkreq_kind {
	BLKREQ_RW,	/* READ or WRITE with segments */
	BLKREQ_FLUSH,	/* FLUSH_DISKCACHE */
	BLKREQ_BARRIER, /* WRITE_BARRIER (maybe with data) */
	BLKREQ_DISCARD,
	BLKREQ_FAIL, /* answer now with status */
};

struct blkreq_limits {
	uint64_t sectors; /* disk size, < 2^54 (bytes fit off_t) */
	unsigned int sector_size;
	unsigned int max_indirect; /* advertised, 0 if none */
	int readonly;
	int discard; /* advertised feature-discard */
	int discard_secure;
	int barrier; /* advertised feature-barrier */
	int flush;   /* advertised feature-flush-cache */
};

/* Causes of a failed request, for the statistics. */
enum blkreq_err {
	BLKREQ_E_NONE,
	BLKREQ_E_OP,	/* unknown or not advertised op */
	BLKREQ_E_SEGS,	/* segment count or bounds */
	BLKREQ_E_RANGE, /* outside the disk, or misaligned */
	BLKREQ_E_RO,	/* write to a read-only disk */
	BLKREQ_E_GRANT, /* a grant copy failed */
	BLKREQ_E_IO,	/* the store failed */
	BLKREQ_E_NR,
};

struct blkreq_plan {
	enum blkreq_kind kind;
	uint8_t rsp_op; /* the op the response carries */
	uint8_t write;	/* data flows guest -> store */
	uint8_t secure; /* secure discard */
	int16_t status; /* BLKREQ_FAIL: BLKIF_RSP_* */
	enum blkreq_err err;
	uint64_t id;
	uint64_t off; /* bytes */
	uint64_t len; /* bytes (data, or discard range) */
	unsigned int nr_segs;
	unsigned int nr_ipages; /* indirect pages to read first */
};

/*
 * Decide what @req asks (first pass, before indirect pages are read):
 * fills @p; for INDIRECT, p->nr_ipages > 0 and the segments come later
 * from blkreq_plan_indirect(). Direct segments go to @segs (at least
 * BLKIF_MAX_SEGMENTS_PER_REQUEST entries). Never trusts a field.
 */
void blkreq_plan(const struct ring_blkif_req *req,
		 const struct blkreq_limits *lim, struct blkreq_plan *p,
		 struct blkreq_seg *segs);
/*
 * Second pass for INDIRECT: read p->nr_segs segment descriptors from the
 * private copy of the indirect pages at @ipages (p->nr_ipages * 4096
 * bytes), validate them into @segs and finish the plan (length, range).
 * On a bad segment p becomes BLKREQ_FAIL.
 */
void blkreq_plan_indirect(const void *ipages, const struct blkreq_limits *lim,
			  struct blkreq_plan *p, struct blkreq_seg *segs);

/* ---------------------------------------------------------- queues */
struct blkq;

/* Per-queue counters; read with blkq_stats() (a snapshot). */
#define BLKQ_LAT_BUCKETS 24 /* log2 microseconds: <1us .. >4s */
struct blkq_stats {
	uint64_t reqs[8]; /* by class: read write flush barrier
					 * discard indirect-read indirect-write
					 * other */
	uint64_t sectors_read, sectors_written;
	uint64_t errors[BLKREQ_E_NR];
	uint64_t inflight;
	uint64_t lat[BLKQ_LAT_BUCKETS];
	uint64_t gcopy_calls, gcopy_segs, submits, notifies;
	uint64_t pgnt_maps, pgnt_hits, pgnt_full; /* persistent grants */
	uint64_t events;	 /* event-channel wakeups handled */
	uint64_t events_idle;	 /* ...that found no new request */
	uint64_t storm_backoffs; /* times the port was left masked */
	uint64_t direct_ios;	 /* READs/WRITEs done on persistent-granted
				  * pages, without a copy */
};

struct blkq_cfg {
	const char *name; /* "vbd/1/51712 q0", for logs */
	unsigned int index;
	unsigned int domid; /* the frontend */
	const uint32_t *ring_refs;
	unsigned int ring_pages; /* 1..16 */
	uint32_t evtchn;	 /* the frontend's port */
	enum ring_blkif_abi abi;
	const struct blk_store *store; /* fd and geometry; outlives the queue */
	struct blkreq_limits lim;
	const char *engine;	    /* "uring", "aio", "null" */
	int persistent;		    /* map and keep the frontend's grants */
	unsigned int pg_max;	    /* at most this many kept mapped */
	unsigned int pg_timeout_ms; /* unused this long: unmapped */
	int pg_in_place;	    /* READ/WRITE on the mapped pages */
	size_t buffer_bytes;	    /* bounce arena */
	/*
	 * Called on @ctl (the control thread) when the frontend broke the
	 * ring (impossible producer index): the device must be stopped.
	 */
	struct loop *ctl;
	void (*broken)(void *arg, unsigned int index, int err);
	void *broken_arg;
	/*
	 * The queue's journal file (NULL: none, and then a ring taken back
	 * with requests in flight fails to start), and whether the frontend
	 * was found Connected (a restarted worker taking the ring back):
	 * then the requests a dead predecessor left unanswered are replayed
	 * from the journal.
	 */
	const char *journal;
	int adopt;
};

/* ------------------------------------------------------------ journal */

/*
 * A queue's journal (journal.c): what a worker that dies leaves for the
 * next one. A ring alone cannot say which requests were taken and not
 * answered (answers are written over request slots in completion order),
 * so each queue keeps, in a small file of its own under run-dir (tmpfs),
 * the private copy of every request it took and has not answered
 * publicly, its req_cons, and the batch of answers it is publishing. The
 * queue's thread is its only writer; no syscall on the fast path (a
 * MAP_SHARED mapping). A successor that finds the same ring (same grant
 * refs, port, ABI, size) finishes an interrupted publication, resumes at
 * the journal's req_cons and replays the requests left.
 */
struct blkj;

struct blkj_key {
	uint32_t domid, evtchn, abi, pages, nr_ents;
	uint32_t refs[RING_MAX_PAGES];
};

/* A request taken (ring index @ring_idx) into queue slot @slot. */
struct blkj_taken {
	uint32_t slot, ring_idx;
};

/*
 * Open @path (created 0600) for a ring described by @key with @nslots
 * slots. With @adopt and a journal of the same ring, *@found = 1 and it
 * is left as it was for blkj_recover; otherwise *@found = 0 and it is
 * reset. 0/-errno. Control thread.
 */
int blkj_open(const char *path, const struct blkj_key *key, unsigned int nslots,
	      int adopt, struct blkj **out, int *found);
/* Close; with @clean (nothing in flight) the file is removed. NULL-safe. */
void blkj_close(struct blkj *j, int clean);

/*
 * Recovery against the ring @r (just attached: at the shared rsp_prod): an
 * interrupted publication is completed (answers written and rsp_prod
 * published, or found published), then @r resumes at the journal's
 * req_cons, and the unanswered requests are copied to @out (at most @max)
 * with their ring indexes in @idx and the slots they hold in @slot: those
 * slots stay taken (in the journal too) until the replayed requests are
 * answered, so a successor dying during the replay leaves a journal as
 * good as before. Returns how many, or -EPROTO if journal and ring
 * disagree (the device must be failed); *@republished says whether
 * rsp_prod was written (notify the frontend).
 */
int blkj_recover(struct blkj *j, struct ring_blkif_back *r,
		 struct ring_blkif_req *out, uint32_t *idx, uint32_t *slot,
		 unsigned int max, int *republished);

/* Fast path (queue thread). A request taken into @slot. */
void blkj_take(struct blkj *j, uint32_t slot, uint32_t ring_idx,
	       const struct ring_blkif_req *req);
/* @slot was given back untouched (it will be fetched again). */
void blkj_untake(struct blkj *j, uint32_t slot);
/* The ring's req_cons after a fetch (and any give-back). */
void blkj_cons(struct blkj *j, uint32_t req_cons);
/*
 * Before writing @n answers (to the slots in @slots) to the ring at
 * @rsp_base: the commit point of a publication.
 */
void blkj_push_begin(struct blkj *j, uint32_t rsp_base,
		     const struct ring_blkif_rsp *rsps, const uint32_t *slots,
		     unsigned int n);
/* After rsp_prod was published: those slots are free. */
void blkj_push_end(struct blkj *j);

/*
 * Map the ring, bind the event channel, set up the engine and the bounce
 * arena, and start the queue's thread. Control thread. 0, or -errno with a
 * reason in @err (then nothing is left behind).
 */
int blkq_start(const struct blkq_cfg *cfg, struct blkq **out, char *err,
	       size_t errlen);
/*
 * Stop taking requests, wait until everything in flight is answered, stop
 * the thread, unmap and unbind; the final counters go to @final if not
 * NULL. Blocks. Control thread. NULL-safe.
 */
void blkq_stop(struct blkq *q, struct blkq_stats *final);
/* Add @from's counters to @to (totals over connections). */
void blkq_stats_add(struct blkq_stats *to, const struct blkq_stats *from);
/* Snapshot the counters (runs on the queue's thread; blocks briefly). */
int blkq_stats(struct blkq *q, struct blkq_stats *out);
/* New disk size (online resize): applied on the queue's thread. */
int blkq_set_sectors(struct blkq *q, uint64_t sectors);

#endif
