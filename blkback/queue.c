// SPDX-License-Identifier: MIT
/*
 * queue.c - blkbackd's data path: one queue is one shared ring, one event
 * channel, one I/O engine instance and one thread that owns all of them.
 *
 * A sweep (on an event, or when a wait is over) copies a bounded batch of
 * requests out of the ring, validates each (req.c), reads the indirect
 * pages and the write data with one grant-copy call per phase into the
 * queue's bounce arena, stages the I/Os on the engine and submits them
 * with one call. Completions are reaped in batches; read data goes back to
 * the guest with one grant-copy call per batch; responses are pushed once
 * and the frontend notified at most once.
 *
 * Guest input is hostile: the ring's producer index is read once per sweep
 * and checked (ring/ring.h; an impossible one stops the device through the
 * control thread), requests are acted on from their private copies only,
 * and each request is answered exactly once, with its own op (the inner op
 * for INDIRECT), whatever happens to it.
 *
 * Ordering: WRITE_BARRIER waits until everything before it is done, runs
 * (write, then fdatasync) with nothing else in flight, and only then are
 * later requests fetched. FLUSH_DISKCACHE (with or without data, as Linux
 * blkfront sends its preflush/FUA writes) writes, then fdatasyncs; it makes
 * durable what was completed before it, which is all a flush promises.
 *
 * The control plane (xenbus.c) starts and stops queues; nothing else here
 * is touched by another thread.
 */
#include "blkback/blkback.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <time.h>

#include <xen/grant_table.h>
#include <xen/io/blkif.h>

#include "blkback/ioeng.h"
#include "common/log.h"
#include "common/xen.h"

#define BLKQ_BATCH 32	    /* requests copied per sweep step */
#define BLKQ_REAP 64	    /* completions reaped per step */
#define BLKQ_GCOPY_MAX 1024 /* grant-copy segments per call */
#define PG_PURGE_MS 10000   /* how often unused persistent maps are aged */

/*
 * A persistent grant: a frontend page mapped once and kept while the
 * frontend reuses its grant (feature-persistent), found by its grant ref
 * in a small open hash. Data moves by memcpy between it and the arena,
 * instead of a grant-copy call.
 */
struct pgnt {
	uint32_t gref;
	int32_t next; /* hash chain / free list, -1 ends */
	void *addr;
	uint64_t used_ns;
};

enum slot_stage {
	STAGE_IO,    /* the main I/O is in flight */
	STAGE_FLUSH, /* the fdatasync after a write is in flight */
};

struct blkq_slot {
	struct blkreq_plan p;
	struct blkreq_seg *segs; /* q->segs + index * max_segs */
	uint32_t apage;		 /* first arena page */
	uint32_t npages;	 /* arena pages held (0: none) */
	uint32_t ipage;		 /* scratch page of its indirect pages */
	struct iovec *iov;	 /* q->iovs + index * max_segs, or NULL */
	uint8_t stage;
	uint8_t copy_failed;
	uint8_t direct; /* READ/WRITE on the mapped pages (try_direct) */
	int16_t status;
	uint64_t t0; /* ns, for the latency histogram */
};

struct blkq {
	char name[64];
	unsigned int index;
	unsigned int domid;
	struct loop *loop;
	pthread_t tid;
	int thread_started;

	/* Xen handles: this queue's own, used by its thread only. */
	struct xen_gnttab *xg;
	struct xen_evtchn *xe;
	int port; /* our local port */
	void *ring_addr;
	unsigned int ring_pages;
	struct ring_blkif_back ring;
	struct loop_fd ev_lfd;
	/* Event-storm back-off */
	struct xen_evstorm storm; /* counts on req_cons */
	int masked_port;	  /* left masked while backing off; -1 */
	struct loop_timer storm_timer;

	/* I/O */
	const struct blk_store *store;
	struct blkreq_limits lim;
	const struct ioeng_ops *eng_ops;
	struct ioeng *eng;
	struct loop_fd eng_lfd;
	unsigned int nios; /* engine I/Os in flight */

	/* Bounce arena: npages pages, a bitmap of the free ones. */
	unsigned char *arena;
	size_t arena_bytes;
	uint32_t arena_pages;
	uint64_t *arena_map;	/* bit set: page in use */
	unsigned char *scratch; /* indirect pages of one batch */

	/*
	 * Answers not yet on the ring: written to the shared slots only at
	 * push, right before rsp_prod is published (see push_and_notify).
	 */
	struct ring_blkif_rsp *rsps;
	uint32_t *rsp_slots; /* their slots, freed once published */
	unsigned int nrsps;

	/* The journal (NULL: none), and what a dead predecessor left. */
	struct blkj *j;
	struct ring_blkif_req *replay;
	uint32_t *replay_idx;  /* their ring indexes */
	uint32_t *replay_slot; /* the slots they keep */
	unsigned int nreplay, replay_pos;
	int replaying; /* q->reqs came from q->replay */

	/* Request slots: one per ring entry, a stack of free ones. */
	struct blkq_slot *slots;
	uint32_t *free;
	unsigned int nfree;
	unsigned int nslots;
	unsigned int max_segs;
	struct blkreq_seg *segs;
	struct iovec *iovs; /* with persistent grants: for try_direct */
	unsigned int direct_inflight; /* I/Os on mapped pages: no purge */

	/* Per sweep */
	struct ring_blkif_req reqs[BLKQ_BATCH];
	uint32_t reqs_idx[BLKQ_BATCH];	/* their ring indexes */
	uint32_t reqs_slot[BLKQ_BATCH]; /* replayed: the slot each keeps */
	struct xen_gcopy *gc;
	uint32_t *gc_slot; /* which slot a segment belongs to */
	unsigned int ngc;
	struct ioeng_done done[BLKQ_REAP];
	uint32_t follow[BLKQ_REAP];

	/* Waits that stop fetching */
	int wait_drain;	    /* a barrier waits for nios == 0 */
	int barrier_active; /* a barrier runs alone */
	int wait_mem;	    /* the arena was full */
	int broken;	    /* the ring is unusable */
	int stopping;
	int staged; /* I/Os staged, not submitted */

	/* Control plane hooks */
	struct loop *ctl;
	void (*broken_fn)(void *arg, unsigned int index, int err);
	void *broken_arg;

	/* Persistent grants (when negotiated) */
	int persistent;
	struct pgnt *pg;
	int32_t *pg_hash;
	uint32_t pg_nhash; /* power of two */
	int32_t pg_free;
	unsigned int pg_n, pg_max;
	uint64_t pg_timeout_ns;
	struct loop_timer pg_timer;

	struct blkq_stats st;
	struct log_rl rl; /* for everything a guest can cause */
	/*
	 * The clock, read once per batch (a fetch, a reap) rather than per
	 * request: on a loaded host clock_gettime was 7 % of the null
	 * engine's CPU. Latencies and persistent-grant ages need no finer.
	 */
	uint64_t clock_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ arena */

/* First fit of @n contiguous free pages; 0 and *@first, or -ENOMEM. */
static int arena_alloc(struct blkq *q, uint32_t n, uint32_t *first)
{
	uint32_t run = 0, start = 0;

	for (uint32_t i = 0; i < q->arena_pages; i++) {
		uint64_t w = q->arena_map[i / 64];

		/* Skip whole busy words quickly. */
		if (!(i % 64) && w == UINT64_MAX) {
			run = 0;
			i += 63;
			continue;
		}
		if (w & (1ull << (i % 64))) {
			run = 0;
			continue;
		}
		if (run++ == 0)
			start = i;
		if (run == n) {
			for (uint32_t j = start; j < start + n; j++)
				q->arena_map[j / 64] |= 1ull << (j % 64);
			*first = start;
			return 0;
		}
	}
	return -ENOMEM;
}

static void arena_free(struct blkq *q, uint32_t first, uint32_t n)
{
	for (uint32_t j = first; j < first + n; j++)
		q->arena_map[j / 64] &= ~(1ull << (j % 64));
}

static void *slot_buf(struct blkq *q, const struct blkq_slot *s)
{
	return q->arena + (size_t)s->apage * BLK_PAGE;
}

/* ------------------------------------------------------------ responses */

static unsigned int lat_bucket(uint64_t ns)
{
	uint64_t us = ns / 1000;
	unsigned int b = 0;

	while (us && b < BLKQ_LAT_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

static unsigned int slot_index(struct blkq *q, struct blkq_slot *s)
{
	return (unsigned int)(s - q->slots);
}

/*
 * Answer @s with @status and free everything it holds. The one place a
 * response is written: each fetched request reaches it exactly once.
 */
static void slot_answer(struct blkq *q, struct blkq_slot *s, int16_t status,
			enum blkreq_err err)
{
	/* At most one answer per request taken and not yet pushed, and
	 * there are never more of those than ring entries. */
	if (q->nrsps < q->nslots) {
		q->rsps[q->nrsps] = (struct ring_blkif_rsp){
			.id = s->p.id,
			.op = s->p.rsp_op,
			.status = status,
		};
		q->rsp_slots[q->nrsps++] = slot_index(q, s);
	} else {
		log_err(q->name, "more answers than ring entries (bug)");
	}
	if (status != BLKIF_RSP_OKAY)
		q->st.errors[err < BLKREQ_E_NR ? err : BLKREQ_E_IO]++;
	else if (s->p.kind == BLKREQ_RW || s->p.write) {
		if (s->p.write)
			q->st.sectors_written += s->p.len / BLK_SECTOR;
		else
			q->st.sectors_read += s->p.len / BLK_SECTOR;
	}
	if (s->t0)
		q->st.lat[lat_bucket(q->clock_ns - s->t0)]++;
	if (s->npages)
		arena_free(q, s->apage, s->npages);
	s->npages = 0;
	if (s->direct)
		q->direct_inflight--;
	s->direct = 0;
	/* The slot itself (and its journal entry) is free once published. */
	q->st.inflight--;
}

/*
 * Write the answers into the ring and publish them at once. Until this
 * moment the slots past rsp_prod still hold the frontend's requests: a
 * worker that dies anywhere else leaves a ring its successor can replay
 * from rsp_prod (every unanswered request answered once, no slot half
 * overwritten by an answer the frontend never saw published).
 */
static void push_and_notify(struct blkq *q)
{
	int notify;

	if (q->j && q->nrsps)
		blkj_push_begin(q->j, q->ring.b.rsp_prod_pvt, q->rsps,
				q->rsp_slots, q->nrsps);
	for (unsigned int i = 0; i < q->nrsps; i++) {
		const struct ring_blkif_rsp *r = &q->rsps[i];

		/* -EOVERFLOW would be our bug: more answers than requests. */
		if (ring_blkif_back_put_rsp(&q->ring, r->id, r->op, r->status))
			log_err(q->name, "response without a request (bug)");
	}
	notify = ring_back_push_rsp(&q->ring.b);
	if (q->j && q->nrsps)
		blkj_push_end(q->j);
	for (unsigned int i = 0; i < q->nrsps; i++)
		q->free[q->nfree++] = q->rsp_slots[i];
	q->nrsps = 0;
	if (notify) {
		xen_evtchn_notify(q->xe, (uint32_t)q->port);
		q->st.notifies++;
	}
}

/* ------------------------------------------------------------ grant copy */

static void gcopy_run(struct blkq *q)
{
	int rc;

	if (!q->ngc)
		return;
	rc = xen_gcopy_run(q->xg, q->gc, q->ngc);
	q->st.gcopy_calls++;
	q->st.gcopy_segs += q->ngc;
	for (unsigned int i = 0; i < q->ngc; i++) {
		if (rc || q->gc[i].status != GNTST_okay)
			q->slots[q->gc_slot[i]].copy_failed = 1;
	}
	if (rc)
		log_rl_warn(&q->rl, q->name, "grant copy call failed: %s",
			    strerror(-rc));
	q->ngc = 0;
}

static void gcopy_add(struct blkq *q, struct blkq_slot *s, uint32_t gref,
		      uint16_t off, void *local, uint16_t len, int to_guest)
{
	if (q->ngc == BLKQ_GCOPY_MAX)
		gcopy_run(q);
	if (to_guest)
		xen_gcopy_to_guest(&q->gc[q->ngc], q->domid, gref, off, local,
				   len);
	else
		xen_gcopy_from_guest(&q->gc[q->ngc], q->domid, gref, off, local,
				     len);
	q->gc_slot[q->ngc++] = slot_index(q, s);
}

/* ------------------------------------------------------------ persistent */

static uint32_t pg_bucket(const struct blkq *q, uint32_t gref)
{
	return (gref * 2654435761u) & (q->pg_nhash - 1);
}

/*
 * The mapping of @gref, mapped now if it is new and the cap allows; NULL
 * when it cannot be mapped (the cap is reached, or the grant is bad or not
 * writable): the caller then grant-copies that segment, which reports a
 * bad grant per segment as usual.
 */
static void *pg_get(struct blkq *q, uint32_t gref)
{
	uint32_t b = pg_bucket(q, gref);
	struct pgnt *e;
	int32_t i;
	void *addr;

	for (i = q->pg_hash[b]; i >= 0; i = q->pg[i].next) {
		if (q->pg[i].gref == gref) {
			q->pg[i].used_ns = q->clock_ns;
			q->st.pgnt_hits++;
			return q->pg[i].addr;
		}
	}
	if (q->pg_n == q->pg_max || q->pg_free < 0) {
		q->st.pgnt_full++;
		return NULL;
	}
	/* Writable: the same grant carries reads and writes over time. */
	if (xen_gnttab_map(q->xg, q->domid, 1, &gref, 1, &addr)) {
		q->st.pgnt_full++;
		return NULL;
	}
	i = q->pg_free;
	e = &q->pg[i];
	q->pg_free = e->next;
	e->gref = gref;
	e->addr = addr;
	e->used_ns = q->clock_ns;
	e->next = q->pg_hash[b];
	q->pg_hash[b] = i;
	q->pg_n++;
	q->st.pgnt_maps++;
	return addr;
}

/* Unmap every persistent grant unused since @before_ns (all: UINT64_MAX). */
static void pg_purge(struct blkq *q, uint64_t before_ns)
{
	for (uint32_t b = 0; q->pg_hash && b < q->pg_nhash; b++) {
		int32_t *pp = &q->pg_hash[b];

		while (*pp >= 0) {
			struct pgnt *e = &q->pg[*pp];
			int32_t i = *pp;

			if (e->used_ns >= before_ns) {
				pp = &e->next;
				continue;
			}
			xen_gnttab_unmap(q->xg, e->addr, 1);
			*pp = e->next;
			e->next = q->pg_free;
			q->pg_free = i;
			q->pg_n--;
		}
	}
}

/*
 * Every few seconds: let go of grants the frontend stopped reusing, so a
 * guest's grant table (and our mappings) do not stay pinned (Linux's 60 s
 * unused timeout). Grants in use by an I/O in flight are recent by
 * construction: their used_ns was set when the I/O was set up.
 */
static void pg_age(struct loop_timer *t)
{
	struct blkq *q =
		(struct blkq *)((char *)t - offsetof(struct blkq, pg_timer));
	uint64_t now = now_ns();

	/* Not under an I/O on mapped pages: it may have been set up before
	 * the timeout (storage that hangs), and its pages must stay. */
	if (now > q->pg_timeout_ns && !q->direct_inflight)
		pg_purge(q, now - q->pg_timeout_ns);
}

/* Guest segments <-> the slot's packed bounce buffer. */
/*
 * With persistent grants, a READ or WRITE whose pages are all mapped (or
 * can be) is done on them: the engine reads into and writes from the
 * guest's pages, with no copy through the bounce arena, as Linux blkback
 * hands the mapped pages to the block layer. The guest changing a page
 * under a WRITE changes only what its own disk gets. Each segment must
 * suit the store's O_DIRECT alignment (its logical block size). 1 if so,
 * and the slot's arena pages are given back; 0: the copy path.
 */
static int try_direct(struct blkq *q, struct blkq_slot *s)
{
	unsigned int lbs = q->store->sector_size ? q->store->sector_size
						 : BLK_SECTOR;

	if (!q->iovs || s->p.kind != BLKREQ_RW || !s->p.nr_segs)
		return 0;
	for (unsigned int i = 0; i < s->p.nr_segs; i++) {
		const struct blkreq_seg *g = &s->segs[i];
		unsigned char *m;

		if (g->off % lbs || g->len % lbs)
			return 0;
		m = pg_get(q, g->gref);
		if (!m)
			return 0;
		s->iov[i] = (struct iovec){ .iov_base = m + g->off,
					    .iov_len = g->len };
	}
	if (s->npages)
		arena_free(q, s->apage, s->npages);
	s->npages = 0;
	s->direct = 1;
	q->direct_inflight++;
	q->st.direct_ios++;
	return 1;
}

static void gcopy_data(struct blkq *q, struct blkq_slot *s, int to_guest)
{
	unsigned char *buf = slot_buf(q, s);
	size_t pos = 0;

	for (unsigned int i = 0; i < s->p.nr_segs; i++) {
		const struct blkreq_seg *g = &s->segs[i];
		unsigned char *m = q->persistent ? pg_get(q, g->gref) : NULL;

		if (m && to_guest)
			memcpy(m + g->off, buf + pos, g->len);
		else if (m)
			memcpy(buf + pos, m + g->off, g->len);
		else
			gcopy_add(q, s, g->gref, g->off, buf + pos, g->len,
				  to_guest);
		pos += g->len;
	}
}

/* ------------------------------------------------------------ engine */

static void stage_io(struct blkq *q, struct blkq_slot *s, uint8_t op)
{
	struct ioeng_io io = {
		.op = op,
		.len = s->p.len,
		.off = s->p.off,
		.buf = (op == IOENG_READ || op == IOENG_WRITE) && !s->direct
			       ? slot_buf(q, s)
			       : NULL,
		.iov = s->direct ? s->iov : NULL,
		.niov = s->direct && (op == IOENG_READ || op == IOENG_WRITE)
				? s->p.nr_segs
				: 0,
		.tag = slot_index(q, s),
	};
	int rc = q->eng_ops->queue(q->eng, &io);

	if (rc) {
		/* Depth is sized for one I/O per slot: this is a bug or an
		 * engine failure, answered as an I/O error. */
		log_rl_err(&q->rl, q->name, "engine refused an I/O: %s",
			   strerror(-rc));
		slot_answer(q, s, BLKIF_RSP_ERROR, BLKREQ_E_IO);
		return;
	}
	q->nios++;
	q->staged++;
}

static void submit(struct blkq *q)
{
	int rc;

	if (!q->staged)
		return;
	rc = q->eng_ops->submit(q->eng);
	q->st.submits++;
	q->staged = 0;
	/* On failure the staged I/Os complete with the error via reap. */
	if (rc < 0)
		log_rl_err(&q->rl, q->name, "submit failed: %s", strerror(-rc));
}

/* The slot's data is in the arena (writes) or the op needs none: go. */
static void start_io(struct blkq *q, struct blkq_slot *s)
{
	s->stage = STAGE_IO;
	switch (s->p.kind) {
	case BLKREQ_RW:
		stage_io(q, s, s->p.write ? IOENG_WRITE : IOENG_READ);
		break;
	case BLKREQ_FLUSH:
	case BLKREQ_BARRIER:
		if (s->p.write) {
			stage_io(q, s, IOENG_WRITE);
		} else {
			s->stage = STAGE_FLUSH;
			stage_io(q, s, IOENG_FLUSH);
		}
		break;
	case BLKREQ_DISCARD:
		if (!s->p.len)
			slot_answer(q, s, BLKIF_RSP_OKAY, BLKREQ_E_NONE);
		else
			stage_io(q, s,
				 s->p.secure ? IOENG_SECDISCARD
					     : IOENG_DISCARD);
		break;
	default:
		slot_answer(q, s, BLKIF_RSP_ERROR, BLKREQ_E_IO);
		break;
	}
}

/* ------------------------------------------------------------ sweep */

static unsigned int stat_class(const struct ring_blkif_req *r)
{
	switch (r->op) {
	case BLKIF_OP_READ:
		return 0;
	case BLKIF_OP_WRITE:
		return 1;
	case BLKIF_OP_FLUSH_DISKCACHE:
		return 2;
	case BLKIF_OP_WRITE_BARRIER:
		return 3;
	case BLKIF_OP_DISCARD:
		return 4;
	case BLKIF_OP_INDIRECT:
		return r->indirect_op == BLKIF_OP_WRITE ? 6 : 5;
	default:
		return 7;
	}
}

/* Arena pages a planned request needs (an upper bound for INDIRECT). */
static uint32_t pages_needed(const struct blkreq_plan *p)
{
	if (p->kind == BLKREQ_FAIL || p->kind == BLKREQ_DISCARD)
		return 0;
	if (p->nr_ipages)
		return p->nr_segs;
	return (uint32_t)((p->len + BLK_PAGE - 1) / BLK_PAGE);
}

static void mark_broken(struct blkq *q, int err)
{
	if (q->broken)
		return;
	q->broken = 1;
	log_err(q->name, "frontend published an impossible ring index: "
			 "stopping the ring");
	/* The control thread stops the device; we take nothing more. */
	if (q->broken_fn)
		q->broken_fn(q->broken_arg, q->index, err);
}

/*
 * Dispatch the @n requests in q->reqs. Stops early (giving the rest back to
 * the ring) at a barrier that must wait, or when the arena is full.
 */
static void dispatch(struct blkq *q, unsigned int n)
{
	struct blkq_slot *batch[BLKQ_BATCH];
	unsigned int nb = 0, i, ipage = 0;
	int any_indirect = 0;

	q->clock_ns = now_ns();
	for (i = 0; i < n; i++) {
		const struct ring_blkif_req *r = &q->reqs[i];
		struct blkq_slot *s;
		uint32_t need;

		/* A barrier runs alone: only when nothing else is in flight. */
		if (r->op == BLKIF_OP_WRITE_BARRIER && q->lim.barrier &&
		    (q->nios || nb)) {
			q->wait_drain = 1;
			break;
		}
		if (q->replaying) {
			/* Its slot (and journal entry) was kept for it. */
			s = &q->slots[q->reqs_slot[i]];
		} else {
			s = &q->slots[q->free[--q->nfree]];
			if (q->j)
				blkj_take(q->j, slot_index(q, s),
					  q->reqs_idx[i], r);
		}
		q->st.inflight++;
		q->st.reqs[stat_class(r)]++;
		s->t0 = q->clock_ns;
		s->npages = 0;
		s->copy_failed = 0;
		s->direct = 0;
		blkreq_plan(r, &q->lim, &s->p, s->segs);
		if (s->p.kind == BLKREQ_FAIL) {
			slot_answer(q, s, s->p.status, s->p.err);
			continue;
		}
		need = pages_needed(&s->p);
		if (need && arena_alloc(q, need, &s->apage)) {
			/* Give this one and the rest back; resume on a
			 * completion. With nothing in flight the arena is
			 * empty and always fits a request (its size is
			 * checked at start), so this cannot stall. */
			if (!q->replaying) {
				q->free[q->nfree++] = slot_index(q, s);
				if (q->j)
					blkj_untake(q->j, slot_index(q, s));
			}
			q->st.inflight--;
			q->st.reqs[stat_class(r)]--;
			q->wait_mem = 1;
			break;
		}
		s->npages = need;
		batch[nb++] = s;
		if (s->p.nr_ipages) {
			s->ipage = ipage;
			for (unsigned int k = 0; k < s->p.nr_ipages; k++)
				gcopy_add(q, s, r->indirect_grefs[k], 0,
					  q->scratch + (size_t)(ipage + k) *
							       BLK_PAGE,
					  BLK_PAGE, 0);
			ipage += s->p.nr_ipages;
			any_indirect = 1;
		}
		if (s->p.kind == BLKREQ_BARRIER) {
			/* Nothing after it until it is done. */
			i++;
			q->barrier_active = 1;
			break;
		}
	}
	if (i < n) {
		if (q->replaying)
			q->replay_pos -= n - i;
		else
			ring_back_unfetch(&q->ring.b, n - i);
	}
	if (q->j && !q->replaying)
		blkj_cons(q->j, q->ring.b.req_cons);

	/* Indirect pages first: they say where the data is. */
	if (any_indirect) {
		gcopy_run(q);
		for (unsigned int k = 0; k < nb; k++) {
			struct blkq_slot *s = batch[k];

			if (!s->p.nr_ipages)
				continue;
			if (s->copy_failed) {
				slot_answer(q, s, BLKIF_RSP_ERROR,
					    BLKREQ_E_GRANT);
				batch[k] = NULL;
				continue;
			}
			blkreq_plan_indirect(q->scratch + (size_t)s->ipage *
								  BLK_PAGE,
					     &q->lim, &s->p, s->segs);
			if (s->p.kind == BLKREQ_FAIL) {
				slot_answer(q, s, s->p.status, s->p.err);
				batch[k] = NULL;
			}
		}
	}

	/* Write data into the arena (or not at all: try_direct), one call
	 * for the batch. */
	for (unsigned int k = 0; k < nb; k++) {
		struct blkq_slot *s = batch[k];

		if (s && !try_direct(q, s) && s->p.write)
			gcopy_data(q, s, 0);
	}
	gcopy_run(q);

	for (unsigned int k = 0; k < nb; k++) {
		struct blkq_slot *s = batch[k];

		if (!s)
			continue;
		if (s->copy_failed) {
			slot_answer(q, s, BLKIF_RSP_ERROR, BLKREQ_E_GRANT);
			continue;
		}
		start_io(q, s);
	}
}

/*
 * With nothing in flight, no wait can be over later: a barrier that was
 * waiting may go, a barrier that ran (or failed before its I/O) is done,
 * and the arena is empty.
 */
static void clear_waits(struct blkq *q)
{
	if (!q->nios)
		q->wait_drain = q->barrier_active = q->wait_mem = 0;
}

static int may_fetch(const struct blkq *q)
{
	return !q->broken && !q->stopping && !q->wait_drain &&
	       !q->barrier_active && !q->wait_mem;
}

static void sweep(struct blkq *q)
{
	while (may_fetch(q)) {
		unsigned int room = q->nfree < BLKQ_BATCH ? q->nfree
							  : BLKQ_BATCH;
		int n, rc;

		if (!room && q->nrsps) {
			/* Answered slots come free once published. */
			push_and_notify(q);
			continue;
		}
		if (!room)
			break; /* every slot busy: a completion resumes */
		if (q->replay_pos < q->nreplay) {
			/* A dead predecessor's requests go first. */
			n = (int)(q->nreplay - q->replay_pos);
			if (n > (int)room)
				n = (int)room;
			memcpy(q->reqs, q->replay + q->replay_pos,
			       (size_t)n * sizeof(q->reqs[0]));
			memcpy(q->reqs_idx, q->replay_idx + q->replay_pos,
			       (size_t)n * sizeof(q->reqs_idx[0]));
			memcpy(q->reqs_slot, q->replay_slot + q->replay_pos,
			       (size_t)n * sizeof(q->reqs_slot[0]));
			q->replay_pos += (unsigned int)n;
			q->replaying = 1;
			dispatch(q, (unsigned int)n);
			q->replaying = 0;
			clear_waits(q);
			continue;
		}
		for (unsigned int k = 0; k < room; k++)
			q->reqs_idx[k] = q->ring.b.req_cons + k;
		n = ring_blkif_back_fetch(&q->ring, q->reqs, room);
		if (n < 0) {
			mark_broken(q, n);
			break;
		}
		if (n == 0) {
			rc = ring_back_final_check(&q->ring.b);
			if (rc < 0) {
				mark_broken(q, rc);
				break;
			}
			if (rc == 0)
				break;
			continue;
		}
		dispatch(q, (unsigned int)n);
		clear_waits(q);
	}
	submit(q);
	push_and_notify(q);
}

/* ------------------------------------------------------------ completions */

static void maybe_stop(struct blkq *q)
{
	if (q->stopping && !q->nios)
		loop_stop(q->loop);
}

/* Reap one batch of completions and answer them; returns the count. */
static int complete(struct blkq *q)
{
	unsigned int nf = 0;
	int n;

	n = q->eng_ops->reap(q->eng, q->done, BLKQ_REAP);
	if (n <= 0)
		return 0;
	q->clock_ns = now_ns();
	for (int i = 0; i < n; i++) {
		struct blkq_slot *s;

		if (q->done[i].tag >= q->nslots) {
			log_err(q->name,
				"engine returned an unknown tag (bug)");
			continue;
		}
		s = &q->slots[q->done[i].tag];
		q->nios--;
		if (q->done[i].res < 0) {
			log_rl_warn(&q->rl, q->name,
				    "I/O at %llu (+%llu) failed: %s",
				    (unsigned long long)s->p.off,
				    (unsigned long long)s->p.len,
				    strerror(-q->done[i].res));
			slot_answer(q, s, BLKIF_RSP_ERROR, BLKREQ_E_IO);
			if (s->p.kind == BLKREQ_BARRIER)
				q->barrier_active = 0;
			continue;
		}
		if (s->stage == STAGE_IO && (s->p.kind == BLKREQ_FLUSH ||
					     s->p.kind == BLKREQ_BARRIER)) {
			/* The write is done: now make it durable. */
			s->stage = STAGE_FLUSH;
			stage_io(q, s, IOENG_FLUSH);
			continue;
		}
		if (s->p.kind == BLKREQ_RW && !s->p.write && !s->direct) {
			s->copy_failed = 0;
			gcopy_data(q, s, 1);
			q->follow[nf++] = (uint32_t)q->done[i].tag;
			continue;
		}
		if (s->p.kind == BLKREQ_BARRIER)
			q->barrier_active = 0;
		slot_answer(q, s, BLKIF_RSP_OKAY, BLKREQ_E_NONE);
	}
	/* Read data to the guest: one call for the batch. */
	gcopy_run(q);
	for (unsigned int k = 0; k < nf; k++) {
		struct blkq_slot *s = &q->slots[q->follow[k]];

		if (s->copy_failed)
			slot_answer(q, s, BLKIF_RSP_ERROR, BLKREQ_E_GRANT);
		else
			slot_answer(q, s, BLKIF_RSP_OKAY, BLKREQ_E_NONE);
	}
	clear_waits(q);
	q->wait_mem = 0; /* something was freed: try again */
	submit(q);
	push_and_notify(q);
	if (!q->stopping)
		sweep(q);
	maybe_stop(q);
	return n;
}

static void reap_more(void *arg);

/*
 * The engine's fd was drained by the first reap: keep reaping while full
 * batches come back. After a bounded number of rounds, continue from a
 * message, so control messages (stop, statistics) are not starved.
 */
static void reap_all(struct blkq *q)
{
	for (unsigned int rounds = 0; rounds < 16; rounds++) {
		if (complete(q) < BLKQ_REAP)
			return;
	}
	if (loop_post(q->loop, reap_more, q))
		log_err(q->name, "cannot queue a reap: completions may stall");
}

static void reap_more(void *arg)
{
	reap_all(arg);
}

static void on_engine(struct loop_fd *lfd, uint32_t events)
{
	reap_all((struct blkq *)((char *)lfd - offsetof(struct blkq, eng_lfd)));
}

/* The back-off is over: unmask (a pending event is delivered again) and
 * look at the ring, whatever happened meanwhile. */
static void storm_over(struct loop_timer *t)
{
	struct blkq *q =
		(struct blkq *)((char *)t - offsetof(struct blkq, storm_timer));

	if (q->masked_port >= 0)
		xen_evtchn_unmask(q->xe, (uint32_t)q->masked_port);
	q->masked_port = -1;
	sweep(q);
}

static void on_event(struct loop_fd *lfd, uint32_t events)
{
	struct blkq *q =
		(struct blkq *)((char *)lfd - offsetof(struct blkq, ev_lfd));
	int port = xen_evtchn_pending(q->xe);
	unsigned int ms;

	if (port < 0)
		return;
	q->st.events++;
	/*
	 * Served with the port masked, so that the storm check below sees
	 * what this wakeup took; a notification sent meanwhile stays pending
	 * and is delivered at unmask.
	 */
	sweep(q);
	if (xen_evstorm_note(&q->storm, q->ring.b.req_cons))
		q->st.events_idle++;
	ms = xen_evstorm_backoff(&q->storm);
	if (ms && !q->stopping &&
	    !loop_timer_arm(q->loop, &q->storm_timer, ms, 0)) {
		if (!q->st.storm_backoffs)
			log_rl_warn(&q->rl, q->name,
				    "event storm: %u wakeups "
				    "without work, backing off",
				    XEN_EVSTORM_IDLE);
		q->st.storm_backoffs++;
		q->masked_port = port;
		return;
	}
	xen_evtchn_unmask(q->xe, (uint32_t)port);
}

/* ------------------------------------------------------------ lifetime */

static void queue_free(struct blkq *q)
{
	blkj_close(q->j, 0);
	if (q->eng)
		q->eng_ops->destroy(q->eng);
	pg_purge(q, UINT64_MAX);
	free(q->pg);
	free(q->pg_hash);
	if (q->port >= 0)
		xen_evtchn_unbind(q->xe, (uint32_t)q->port);
	if (q->ring_addr)
		xen_gnttab_unmap(q->xg, q->ring_addr, q->ring_pages);
	xen_evtchn_close(q->xe);
	xen_gnttab_close(q->xg);
	if (q->arena)
		munmap(q->arena, q->arena_bytes);
	loop_destroy(q->loop);
	free(q->scratch);
	free(q->arena_map);
	free(q->slots);
	free(q->free);
	free(q->rsps);
	free(q->rsp_slots);
	free(q->replay);
	free(q->replay_idx);
	free(q->replay_slot);
	free(q->segs);
	free(q->iovs);
	free(q->gc);
	free(q->gc_slot);
	free(q);
}

static int queue_alloc(struct blkq *q, const struct blkq_cfg *cfg)
{
	unsigned int n = q->ring.b.nr_ents;
	size_t ipages =
		(size_t)BLKQ_BATCH *
		((q->max_segs + BLK_SEGS_PER_IPAGE - 1) / BLK_SEGS_PER_IPAGE);

	q->nslots = n;
	q->slots = calloc(n, sizeof(*q->slots));
	q->free = calloc(n, sizeof(*q->free));
	q->rsps = calloc(n, sizeof(*q->rsps));
	q->rsp_slots = calloc(n, sizeof(*q->rsp_slots));
	q->replay = calloc(n, sizeof(*q->replay));
	q->replay_idx = calloc(n, sizeof(*q->replay_idx));
	q->replay_slot = calloc(n, sizeof(*q->replay_slot));
	q->segs = calloc((size_t)n * q->max_segs, sizeof(*q->segs));
	if (q->persistent && cfg->pg_in_place)
		q->iovs = calloc((size_t)n * q->max_segs, sizeof(*q->iovs));
	q->gc = calloc(BLKQ_GCOPY_MAX, sizeof(*q->gc));
	q->gc_slot = calloc(BLKQ_GCOPY_MAX, sizeof(*q->gc_slot));
	q->scratch = aligned_alloc(BLK_PAGE, ipages * BLK_PAGE);
	if (!q->slots || !q->free || !q->rsps || !q->rsp_slots || !q->replay ||
	    !q->replay_idx || !q->replay_slot || !q->segs || !q->gc ||
	    !q->gc_slot || !q->scratch ||
	    (q->persistent && cfg->pg_in_place && !q->iovs))
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		q->slots[i].segs = q->segs + (size_t)i * q->max_segs;
		q->slots[i].iov = q->iovs ? q->iovs + (size_t)i * q->max_segs
					  : NULL;
		q->free[i] = n - 1 - i;
	}
	q->nfree = n;

	q->arena_bytes = cfg->buffer_bytes & ~(size_t)(64 * BLK_PAGE - 1);
	if (q->arena_bytes < (size_t)q->max_segs * BLK_PAGE)
		q->arena_bytes =
			((size_t)q->max_segs * BLK_PAGE + 64 * BLK_PAGE - 1) &
			~(size_t)(64 * BLK_PAGE - 1);
	q->arena_pages = (uint32_t)(q->arena_bytes / BLK_PAGE);
	q->arena = mmap(NULL, q->arena_bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q->arena == MAP_FAILED) {
		q->arena = NULL;
		return -ENOMEM;
	}
	q->arena_map = calloc(q->arena_pages / 64, sizeof(uint64_t));
	if (!q->arena_map)
		return -ENOMEM;
	if (q->persistent) {
		q->pg = calloc(q->pg_max, sizeof(*q->pg));
		for (q->pg_nhash = 16; q->pg_nhash < 2 * q->pg_max;)
			q->pg_nhash *= 2;
		q->pg_hash = malloc(q->pg_nhash * sizeof(*q->pg_hash));
		if (!q->pg || !q->pg_hash)
			return -ENOMEM;
		for (uint32_t i = 0; i < q->pg_nhash; i++)
			q->pg_hash[i] = -1;
		for (unsigned int i = 0; i < q->pg_max; i++)
			q->pg[i].next = i + 1 < q->pg_max ? (int32_t)i + 1 : -1;
		q->pg_free = q->pg_max ? 0 : -1;
	}
	return 0;
}

/*
 * Open the queue's journal. A restarted worker (@cfg->adopt) that finds
 * its predecessor's journal of this very ring finishes what it left: an
 * answer batch half written, the requests taken and not answered (they
 * are replayed first). Without a journal, a ring with unanswered requests
 * cannot be taken back honestly: which ones were answered is lost, and
 * guessing would answer some twice and others never.
 */
static int queue_journal(struct blkq *q, const struct blkq_cfg *cfg, char *err,
			 size_t errlen)
{
	struct blkj_key key = {
		.domid = cfg->domid,
		.evtchn = cfg->evtchn,
		.abi = (uint32_t)cfg->abi,
		.pages = cfg->ring_pages,
		.nr_ents = q->ring.b.nr_ents,
	};
	uint32_t req_prod;
	int found = 0, again = 0, rc;

	if (cfg->journal) {
		memcpy(key.refs, cfg->ring_refs,
		       cfg->ring_pages * sizeof(uint32_t));
		rc = blkj_open(cfg->journal, &key, q->nslots, cfg->adopt, &q->j,
			       &found);
		if (rc) {
			q->j = NULL;
			snprintf(err, errlen, "cannot open the journal %s: %s",
				 cfg->journal, strerror(-rc));
			return rc;
		}
	}
	if (!found) {
		req_prod = __atomic_load_n(&q->ring.b.sring->req_prod,
					   __ATOMIC_ACQUIRE);
		if (q->j)
			blkj_cons(q->j, q->ring.b.req_cons);
		if (cfg->adopt && req_prod != q->ring.b.req_cons) {
			snprintf(err, errlen,
				 "queue %u taken back with %u "
				 "request(s) in flight and no journal of them: "
				 "cannot answer them once each",
				 cfg->index, req_prod - q->ring.b.req_cons);
			return -EPROTO;
		}
		return 0;
	}
	rc = blkj_recover(q->j, &q->ring, q->replay, q->replay_idx,
			  q->replay_slot, q->nslots, &again);
	if (rc < 0) {
		snprintf(err, errlen,
			 "queue %u: the journal does not match "
			 "the ring: requests in flight cannot be recovered",
			 cfg->index);
		return rc;
	}
	q->nreplay = (unsigned int)rc;
	/* The replayed requests' slots are not free. */
	q->nfree = 0;
	for (unsigned int i = q->nslots; i-- > 0;) {
		int kept = 0;

		for (unsigned int k = 0; k < q->nreplay && !kept; k++)
			kept = q->replay_slot[k] == i;
		if (!kept)
			q->free[q->nfree++] = i;
	}
	if (again || rc)
		log_info(q->name, "taken back: %u request(s) replayed%s", rc,
			 again ? ", an interrupted answer batch published"
			       : "");
	if (again)
		xen_evtchn_notify(q->xe, (uint32_t)q->port);
	return 0;
}

static void *queue_thread(void *arg)
{
	struct blkq *q = arg;

	loop_run(q->loop);
	/* The engine ends on the thread it was created on (queue_setup()). */
	if (q->eng)
		q->eng_ops->destroy(q->eng);
	q->eng = NULL;
	return NULL;
}

struct setup_msg {
	struct blkq *q;
	const struct ioeng_cfg *ecfg;
	int eng_rc; /* the engine's create() */
	int rc;	    /* watching the fds */
};

/*
 * The first message on the queue's thread: the engine is created here,
 * since it lives on the thread that submits to it (ioeng.h: an io_uring
 * for a single issuer takes no other), and only then are its fd and the
 * event channel watched, so that no sweep comes before it.
 */
static void queue_setup(void *arg)
{
	struct setup_msg *m = arg;
	struct blkq *q = m->q;
	char desc[256] = "";

	m->eng_rc = q->eng_ops->create(m->ecfg, &q->eng);
	if (m->eng_rc) {
		q->eng = NULL;
		return;
	}
	if (q->eng_ops->describe)
		q->eng_ops->describe(q->eng, desc, sizeof(desc));
	if (desc[0])
		log_info(q->name, "%s engine: %s", q->eng_ops->name, desc);
	q->ev_lfd.fn = on_event;
	q->ev_lfd.fd = xen_evtchn_fd(q->xe);
	q->eng_lfd.fn = on_engine;
	q->eng_lfd.fd = q->eng_ops->event_fd(q->eng);
	m->rc = loop_fd_add(q->loop, &q->ev_lfd, EPOLLIN);
	if (!m->rc)
		m->rc = loop_fd_add(q->loop, &q->eng_lfd, EPOLLIN);
}

/* First sweep on the queue's own thread: requests may already wait. */
static void queue_kick(void *arg)
{
	struct blkq *q = arg;

	if (q->persistent) {
		q->pg_timer.fn = pg_age;
		if (loop_timer_arm(q->loop, &q->pg_timer, PG_PURGE_MS,
				   PG_PURGE_MS))
			log_warn(q->name, "no ageing of persistent grants");
	}
	sweep(q);
}

int blkq_start(const struct blkq_cfg *cfg, struct blkq **out, char *err,
	       size_t errlen)
{
	struct ioeng_cfg ecfg;
	struct setup_msg setup;
	struct blkq *q;
	int rc;

	q = calloc(1, sizeof(*q));
	if (!q) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	q->port = -1;
	q->masked_port = -1;
	q->storm_timer.fn = storm_over;
	snprintf(q->name, sizeof(q->name), "%s", cfg->name);
	q->index = cfg->index;
	q->domid = cfg->domid;
	q->store = cfg->store;
	q->lim = cfg->lim;
	q->ring_pages = cfg->ring_pages;
	q->ctl = cfg->ctl;
	q->broken_fn = cfg->broken;
	q->broken_arg = cfg->broken_arg;
	q->persistent = cfg->persistent && cfg->pg_max;
	q->pg_max = cfg->pg_max;
	q->pg_timeout_ns = (uint64_t)cfg->pg_timeout_ms * 1000000ull;
	q->max_segs = q->lim.max_indirect > BLKIF_MAX_SEGMENTS_PER_REQUEST
			      ? q->lim.max_indirect
			      : BLKIF_MAX_SEGMENTS_PER_REQUEST;
	q->eng_ops = ioeng_find(cfg->engine);
	if (!q->eng_ops) {
		snprintf(err, errlen, "unknown I/O engine '%s'", cfg->engine);
		rc = -EINVAL;
		goto err_free;
	}

	rc = xen_gnttab_open(&q->xg);
	if (!rc)
		rc = xen_evtchn_open(&q->xe);
	if (rc) {
		snprintf(err, errlen,
			 "cannot open grant table / event "
			 "channels: %s",
			 strerror(-rc));
		goto err_free;
	}
	rc = xen_gnttab_map(q->xg, cfg->domid, cfg->ring_pages, cfg->ring_refs,
			    1, &q->ring_addr);
	if (rc) {
		q->ring_addr = NULL;
		snprintf(err, errlen,
			 "cannot map ring of queue %u (%u "
			 "page(s), ref %u): %s",
			 cfg->index, cfg->ring_pages, cfg->ring_refs[0],
			 strerror(-rc));
		goto err_free;
	}
	rc = ring_blkif_back_attach(&q->ring, q->ring_addr, cfg->ring_pages,
				    cfg->abi);
	if (rc) {
		snprintf(err, errlen,
			 "ring of queue %u: impossible producer "
			 "index at attach",
			 cfg->index);
		goto err_free;
	}
	rc = xen_evtchn_bind(q->xe, cfg->domid, cfg->evtchn);
	if (rc < 0) {
		snprintf(err, errlen, "cannot bind event channel %u: %s",
			 cfg->evtchn, strerror(-rc));
		goto err_free;
	}
	q->port = rc;
	rc = queue_alloc(q, cfg);
	if (rc) {
		snprintf(err, errlen, "out of memory for queue %u", cfg->index);
		goto err_free;
	}
	rc = queue_journal(q, cfg, err, errlen);
	if (rc)
		goto err_free;
	ecfg = (struct ioeng_cfg){
		.fd = cfg->store->fd,
		.is_blkdev = cfg->store->is_blkdev,
		.depth = q->nslots,
		.buf = q->arena,
		.buf_len = q->arena_bytes,
	};
	q->loop = loop_create(q->name);
	if (!q->loop) {
		rc = -errno;
		snprintf(err, errlen, "cannot create the queue loop: %s",
			 strerror(-rc));
		goto err_free;
	}
	rc = -pthread_create(&q->tid, NULL, queue_thread, q);
	if (rc) {
		snprintf(err, errlen, "cannot start the queue thread: %s",
			 strerror(-rc));
		goto err_free;
	}
	q->thread_started = 1;
	setup = (struct setup_msg){ .q = q, .ecfg = &ecfg };
	rc = loop_call(q->loop, queue_setup, &setup);
	if (rc) {
		snprintf(err, errlen, "cannot start the queue thread: %s",
			 strerror(-rc));
		goto err_stop;
	}
	if (setup.eng_rc) {
		rc = setup.eng_rc;
		snprintf(err, errlen, "cannot set up the %s engine: %s",
			 cfg->engine, strerror(-rc));
		goto err_stop;
	}
	rc = setup.rc;
	if (rc) {
		snprintf(err, errlen, "cannot watch the queue's fds: %s",
			 strerror(-rc));
		goto err_stop;
	}
	rc = loop_post(q->loop, queue_kick, q);
	if (rc) {
		snprintf(err, errlen, "cannot start the queue thread: %s",
			 strerror(-rc));
		goto err_stop;
	}
	*out = q;
	return 0;

err_stop:
	/* Nothing was fetched yet: the thread only has an engine to end. */
	loop_stop(q->loop);
	pthread_join(q->tid, NULL);
err_free:
	queue_free(q);
	return rc;
}

static void queue_stop_msg(void *arg)
{
	struct blkq *q = arg;

	q->stopping = 1;
	if (q->persistent)
		loop_timer_cancel(q->loop, &q->pg_timer);
	loop_timer_cancel(q->loop, &q->storm_timer);
	maybe_stop(q);
}

void blkq_stop(struct blkq *q, struct blkq_stats *final)
{
	if (!q)
		return;
	if (q->thread_started) {
		/* The thread answers what is in flight, then returns. */
		if (loop_post(q->loop, queue_stop_msg, q))
			loop_stop(q->loop);
		pthread_join(q->tid, NULL);
	}
	/* The thread is gone: its counters can be read directly. */
	if (final)
		*final = q->st;
	queue_free(q);
}

struct stats_msg {
	struct blkq *q;
	struct blkq_stats *out;
};

static void stats_copy(void *arg)
{
	struct stats_msg *m = arg;

	*m->out = m->q->st;
}

int blkq_stats(struct blkq *q, struct blkq_stats *out)
{
	struct stats_msg m = { q, out };

	return loop_call(q->loop, stats_copy, &m);
}

struct sectors_msg {
	struct blkq *q;
	uint64_t sectors;
};

static void sectors_set(void *arg)
{
	struct sectors_msg *m = arg;

	m->q->lim.sectors = m->sectors;
}

int blkq_set_sectors(struct blkq *q, uint64_t sectors)
{
	struct sectors_msg m = { q, sectors };

	return loop_call(q->loop, sectors_set, &m);
}

void blkq_stats_add(struct blkq_stats *to, const struct blkq_stats *from)
{
	/* Every field is a uint64_t counter: add them as an array. */
	uint64_t *t = (uint64_t *)to;
	const uint64_t *f = (const uint64_t *)from;

	_Static_assert(sizeof(*to) % sizeof(uint64_t) == 0,
		       "blkq_stats holds only uint64_t counters");
	for (size_t i = 0; i < sizeof(*to) / sizeof(uint64_t); i++)
		t[i] += f[i];
}
