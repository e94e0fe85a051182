// SPDX-License-Identifier: MIT
/*
 * blkfront.c - see blkfront.h. A userspace copy of what Linux xen-blkfront
 * does on the wire: the xenbus handshake (talk_to_blkback, blkfront_connect,
 * the kexec reset), persistent-grant style page pools, direct and indirect
 * requests, and blkif_interrupt's response checks. The backend is trusted no
 * more than a guest is: every response is checked before it is believed, and
 * a response that breaks an invariant is counted, described and never acted
 * on beyond failing the request it names.
 *
 * Layout of a queue: one ring (2^order contiguous granted pages), one event
 * channel handle of its own (so queues can live on different threads), a
 * data pool and an indirect-page pool, and a shadow per ring slot. A
 * request's pages are chained through the pool's next[] array, so a queue's
 * bookkeeping is O(pool) whatever the segment count.
 */
#include "front/blkfront.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xen/io/xenbus.h>

#include "front/xfront.h"

#define BF_PAGE 4096u
#define BF_SECT 512u
#define BF_CHUNK 512u /* pages per gntshr call (xensim takes up to 1024) */
#define BF_SEGS_PER_IND (BF_PAGE / sizeof(struct blkif_request_segment))
#define BF_MAX_SEGS (BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * BF_SEGS_PER_IND)
#define BF_DIRECT BLKIF_MAX_SEGMENTS_PER_REQUEST
#define BF_NONE UINT32_MAX
#define BF_DEFAULT_TIMEOUT 10000u
#define BF_DEFAULT_POOL 1024u
#define BF_MAX_QUEUES 64u /* blkfront_poll's array */

enum { PG_FREE, PG_USED, PG_TAKEN, PG_REVOKED };

/* Pages shared once with the backend and reused. */
struct bf_pool {
	unsigned int n;
	unsigned int nchunks;
	unsigned char **chunk; /* base of each share of <= BF_CHUNK pages */
	uint32_t *ref;
	uint32_t *next; /* a request's page chain; BF_NONE ends it */
	uint8_t *state;
	uint32_t *free; /* stack of free page indexes */
	unsigned int nfree;
};

/* One request slot: what was asked, to check the answer against it. */
struct bf_shadow {
	uint8_t busy;
	uint8_t raw;
	uint8_t expect_op; /* the op the response must carry */
	uint8_t user_op;   /* enum blkfront_op, for copy-out */
	uint8_t page_off;
	uint16_t npages, nind;
	uint32_t first_page, first_ind;
	void *cookie;
	void *buf;
	size_t len;
	struct ring_blkif_req req; /* as put, for a reconnect's requeue */
};

struct bf_queue {
	struct blkfront *bf;
	unsigned int idx;
	void *ring_addr;
	unsigned int ring_pages;
	uint32_t ring_ref[RING_MAX_PAGES];
	struct ring_blkif_front ring;
	struct xen_evtchn *xe;
	int port;
	struct bf_pool data, ind;
	struct bf_shadow *sh;
	unsigned int nsh;
	uint32_t *free_id;
	unsigned int nfree_id;
	unsigned int inflight;
	struct blkfront_done *owed; /* completions without a response */
	unsigned int nowed;
	int broken;
	unsigned long violations;
	char last_violation[192];
};

struct blkfront {
	struct blkfront_cfg cfg;
	struct blkfront_info info;
	struct xfront f;
	struct xen_gntshr *gs;
	struct bf_queue *q;
	unsigned int nq;
	unsigned int order;
	int connected;
};

static __thread char bf_err[256];

const char *blkfront_last_error(void)
{
	return bf_err;
}

__attribute__((format(printf, 2, 3))) static int bf_fail(int rc,
							 const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(bf_err, sizeof(bf_err), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(bf_err) - 20)
		snprintf(bf_err + n, sizeof(bf_err) - (size_t)n, ": %s",
			 strerror(rc < 0 ? -rc : rc));
	return rc;
}

__attribute__((format(printf, 2, 3))) static void
bf_violation(struct bf_queue *q, const char *fmt, ...)
{
	va_list ap;
	int n;

	q->violations++;
	n = snprintf(q->last_violation, sizeof(q->last_violation),
		     "queue %u: ", q->idx);
	va_start(ap, fmt);
	vsnprintf(q->last_violation + n, sizeof(q->last_violation) - (size_t)n,
		  fmt, ap);
	va_end(ap);
}

void blkfront_cfg_init(struct blkfront_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->devid = 51712;
	cfg->nr_queues = 1;
	cfg->abi = RING_BLKIF_ABI_NATIVE;
	cfg->persistent = 1;
	cfg->max_indirect = 32;
	cfg->timeout_ms = BF_DEFAULT_TIMEOUT;
	cfg->pool_pages = BF_DEFAULT_POOL;
}

/* ---------------------------------------------------------------- pools */

static unsigned char *pool_page(const struct bf_pool *p, uint32_t i)
{
	return p->chunk[i / BF_CHUNK] + (size_t)(i % BF_CHUNK) * BF_PAGE;
}

/* End the grants of every page not revoked yet, run by run. */
static int pool_destroy(struct xen_gntshr *gs, struct bf_pool *p)
{
	int rc = 0;

	for (unsigned int c = 0; c < p->nchunks && p->chunk; c++) {
		unsigned int base = c * BF_CHUNK, end = base + BF_CHUNK, i;

		if (!p->chunk[c])
			continue;
		if (end > p->n)
			end = p->n;
		for (i = base; i < end;) {
			unsigned int j = i;

			while (j < end && p->state[j] != PG_REVOKED)
				j++;
			if (j > i) {
				int r = xen_gntshr_unshare(gs, pool_page(p, i),
							   j - i);

				rc = rc ?: r;
			}
			i = j + 1;
		}
	}
	free(p->chunk);
	free(p->ref);
	free(p->next);
	free(p->state);
	free(p->free);
	memset(p, 0, sizeof(*p));
	return rc;
}

static int pool_create(struct xen_gntshr *gs, unsigned int domid,
		       unsigned int n, struct bf_pool *p)
{
	int rc;

	memset(p, 0, sizeof(*p));
	if (!n)
		return 0;
	p->nchunks = (n + BF_CHUNK - 1) / BF_CHUNK;
	p->chunk = calloc(p->nchunks, sizeof(*p->chunk));
	p->ref = calloc(n, sizeof(*p->ref));
	p->next = calloc(n, sizeof(*p->next));
	p->state = calloc(n, sizeof(*p->state));
	p->free = calloc(n, sizeof(*p->free));
	if (!p->chunk || !p->ref || !p->next || !p->state || !p->free) {
		rc = -ENOMEM;
		goto err_destroy;
	}
	for (unsigned int c = 0; c < p->nchunks; c++) {
		unsigned int cnt = n - c * BF_CHUNK;
		void *addr;

		if (cnt > BF_CHUNK)
			cnt = BF_CHUNK;
		rc = xen_gntshr_share(gs, domid, cnt, 1, p->ref + c * BF_CHUNK,
				      &addr);
		if (rc)
			goto err_destroy;
		p->chunk[c] = addr;
		p->n = c * BF_CHUNK + cnt;
	}
	/* Lowest index on top: pages go out in order, easy to read in dumps. */
	for (unsigned int i = 0; i < n; i++) {
		p->free[i] = n - 1 - i;
		p->next[i] = BF_NONE;
	}
	p->nfree = n;
	return 0;

err_destroy:
	pool_destroy(gs, p);
	return rc;
}

/* Take @k pages as one chain; the caller checked nfree >= k. */
static uint32_t pool_alloc(struct bf_pool *p, unsigned int k)
{
	uint32_t first = BF_NONE, *link = &first;

	while (k--) {
		uint32_t i = p->free[--p->nfree];

		p->state[i] = PG_USED;
		*link = i;
		link = &p->next[i];
	}
	*link = BF_NONE;
	return first;
}

/* Give a chain back; revoked pages are gone for good. */
static void pool_release(struct bf_pool *p, uint32_t first)
{
	while (first != BF_NONE) {
		uint32_t nx = p->next[first];

		p->next[first] = BF_NONE;
		if (p->state[first] == PG_USED) {
			p->state[first] = PG_FREE;
			p->free[p->nfree++] = first;
		}
		first = nx;
	}
}

/* ----------------------------------------------------------- xenbus side */

static int bf_fe_state(struct blkfront *bf)
{
	char p[300];
	unsigned long v;
	int rc;

	snprintf(p, sizeof(p), "%s/state", bf->f.fe_path);
	rc = xen_store_read_uint(bf->f.xs, XEN_TXN_NONE, p, 8, &v);
	return rc ? rc : (int)v;
}

static int bf_wait(struct blkfront *bf, unsigned int mask, const char *what)
{
	int s = xfront_wait_be(&bf->f, mask | XF_STATE(0), bf->cfg.timeout_ms);

	if (s == -ETIMEDOUT)
		return bf_fail(s, "backend %s: no %s within %u ms (state %d)",
			       bf->f.be_path, what, bf->cfg.timeout_ms,
			       xfront_be_state(&bf->f));
	if (s < 0)
		return bf_fail(s, "waiting for the backend's %s", what);
	if (s == 0)
		return bf_fail(-ENODEV, "backend %s vanished waiting for %s",
			       bf->f.be_path, what);
	return s;
}

static int bf_set_state(struct blkfront *bf, int state)
{
	int rc = xfront_set_state(&bf->f, state);

	return rc ? bf_fail(rc, "write %s/state=%d", bf->f.fe_path, state) : 0;
}

/*
 * The reset of a frontend that finds its device used before (spec B.1 step
 * 10, xenbus probe_frontend on kexec): Closing if the backend is Connected,
 * Closed, then Initialising. Each wait as Linux's, but a timeout is an
 * error here: a backend that does not follow is what tests look for.
 */
static int bf_reset(struct blkfront *bf)
{
	int fe = bf_fe_state(bf), be = xfront_be_state(&bf->f), rc;

	if (fe == XenbusStateInitialising || fe == -ENOENT)
		return 0;
	if (be == XenbusStateConnected || fe == XenbusStateConnected) {
		rc = bf_set_state(bf, XenbusStateClosing);
		if (rc)
			return rc;
		rc = bf_wait(bf, XF_STATE(5) | XF_STATE(6), "Closing");
		if (rc < 0)
			return rc;
	}
	rc = bf_set_state(bf, XenbusStateClosed);
	if (rc)
		return rc;
	rc = bf_wait(bf, XF_STATE(6), "Closed");
	if (rc < 0)
		return rc;
	return bf_set_state(bf, XenbusStateInitialising);
}

static long bf_read_be_opt(struct blkfront *bf, const char *node,
			   unsigned long max)
{
	unsigned long v;

	if (xfront_read_be_uint(&bf->f, node, max, &v))
		return -1;
	return (long)v;
}

/*
 * Ring keys a previous connection of this device left (a reconnect, or a
 * kexec'd frontend) with another order or queue count: a stale
 * ring-page-order or queue-<i>/ would make the backend read rings that are
 * gone. Linux blkfront leaves them; we remove them in the same transaction.
 */
static int bf_rm_stale_keys(struct blkfront *bf, xen_txn_t t)
{
	char **names, p[300];
	unsigned int n;
	int rc;

	rc = xen_store_ls(bf->f.xs, t, bf->f.fe_path, &names, &n);
	if (rc)
		return rc;
	for (unsigned int i = 0; i < n && !rc; i++) {
		const char *k = names[i];

		if (strcmp(k, "ring-page-order") &&
		    strcmp(k, "multi-queue-num-queues") &&
		    strcmp(k, "event-channel") && strncmp(k, "ring-ref", 8) &&
		    strncmp(k, "queue-", 6))
			continue;
		snprintf(p, sizeof(p), "%s/%s", bf->f.fe_path, k);
		rc = xen_store_rm(bf->f.xs, t, p);
	}
	free(names);
	return rc;
}

/* The frontend's keys, all in one transaction (talk_to_blkback). */
static int bf_write_keys(struct blkfront *bf)
{
	static const char *const proto[] = {
		[RING_BLKIF_ABI_NATIVE] = XEN_IO_PROTO_ABI_NATIVE,
		[RING_BLKIF_ABI_X86_32] = XEN_IO_PROTO_ABI_X86_32,
		[RING_BLKIF_ABI_X86_64] = XEN_IO_PROTO_ABI_X86_64,
	};
	unsigned int pages = 1u << bf->order;
	xen_txn_t t;
	int rc;

	do {
		rc = xen_store_txn_start(bf->f.xs, &t);
		if (rc)
			return bf_fail(rc, "transaction start");
		rc = bf_rm_stale_keys(bf, t);
		if (!rc && pages > 1)
			rc = xfront_write(&bf->f, t, "ring-page-order", "%u",
					  bf->order);
		if (!rc && (bf->nq > 1 || bf->cfg.windows))
			rc = xfront_write(&bf->f, t, "multi-queue-num-queues",
					  "%u", bf->nq);
		for (unsigned int i = 0; i < bf->nq && !rc; i++) {
			struct bf_queue *q = &bf->q[i];
			char pfx[24] = "", k[64];

			if (bf->nq > 1)
				snprintf(pfx, sizeof(pfx), "queue-%u/", i);
			for (unsigned int j = 0; j < pages && !rc; j++) {
				if (pages == 1)
					snprintf(k, sizeof(k), "%sring-ref",
						 pfx);
				else
					snprintf(k, sizeof(k), "%sring-ref%u",
						 pfx, j);
				rc = xfront_write(&bf->f, t, k, "%u",
						  q->ring_ref[j]);
			}
			snprintf(k, sizeof(k), "%sevent-channel", pfx);
			rc = rc ?: xfront_write(&bf->f, t, k, "%d", q->port);
		}
		rc = rc
			     ?: xfront_write(&bf->f, t, "protocol", "%s",
					     proto[bf->cfg.abi]);
		rc = rc
			     ?: xfront_write(&bf->f, t, "feature-persistent",
					     "%u", bf->cfg.persistent ? 1 : 0);
		if (rc) {
			xen_store_txn_end(bf->f.xs, t, 1);
			return bf_fail(rc, "write the frontend keys");
		}
		rc = xen_store_txn_end(bf->f.xs, t, 0);
	} while (rc == -EAGAIN);
	return rc ? bf_fail(rc, "transaction end") : 0;
}

/* blkfront_connect's reads after the backend is Connected. */
static int bf_gather(struct blkfront *bf)
{
	struct blkfront_info *in = &bf->info;
	unsigned long v;
	long l;
	int rc;

	rc = xfront_read_be_uint(&bf->f, "sectors", UINT64_MAX, &v);
	if (rc)
		return bf_fail(rc == -ENOENT ? -EPROTO : rc,
			       "backend key 'sectors' (mandatory)");
	in->sectors = v;
	rc = xfront_read_be_uint(&bf->f, "info", UINT32_MAX, &v);
	if (rc)
		return bf_fail(rc == -ENOENT ? -EPROTO : rc,
			       "backend key 'info' (mandatory)");
	in->info = (unsigned int)v;
	rc = xfront_read_be_uint(&bf->f, "sector-size", 1u << 20, &v);
	if (rc)
		return bf_fail(rc == -ENOENT ? -EPROTO : rc,
			       "backend key 'sector-size' (mandatory)");
	if (v < BF_SECT || v % BF_SECT)
		return bf_fail(-EPROTO, "backend sector-size %lu", v);
	in->sector_size = (unsigned int)v;
	l = bf_read_be_opt(bf, "physical-sector-size", 1u << 30);
	in->physical_sector_size = l > 0 ? (unsigned int)l : in->sector_size;
	in->flush = bf_read_be_opt(bf, "feature-flush-cache", 1) == 1;
	in->barrier = bf_read_be_opt(bf, "feature-barrier", 1) == 1;
	in->discard = bf_read_be_opt(bf, "feature-discard", 1) == 1;
	in->discard_granularity = 0;
	in->discard_alignment = 0;
	in->discard_secure = 0;
	if (in->discard) {
		l = bf_read_be_opt(bf, "discard-granularity", UINT32_MAX);
		in->discard_granularity = l > 0 ? (unsigned int)l : 0;
		l = bf_read_be_opt(bf, "discard-alignment", UINT32_MAX);
		in->discard_alignment = l > 0 ? (unsigned int)l : 0;
		in->discard_secure = bf_read_be_opt(bf, "discard-secure", 1) ==
				     1;
	}
	in->persistent = bf->cfg.persistent &&
			 bf_read_be_opt(bf, "feature-persistent", 1) == 1;
	l = bf_read_be_opt(bf, "feature-max-indirect-segments", UINT32_MAX);
	in->be_max_indirect = l;
	/* As blkfront: capped by our wish; 11 or fewer means none. */
	v = l > 0 ? (unsigned long)l : 0;
	if (v > bf->cfg.max_indirect)
		v = bf->cfg.max_indirect;
	if (v > BF_MAX_SEGS)
		v = BF_MAX_SEGS;
	if (v > in->pool_pages)
		v = in->pool_pages;
	if (v <= BF_DIRECT)
		v = 0;
	in->max_indirect = (unsigned int)v;
	in->max_segments = v ? (unsigned int)v : BF_DIRECT;
	return 0;
}

/* ---------------------------------------------------------------- queues */

static void bf_queue_ring_down(struct blkfront *bf, struct bf_queue *q)
{
	if (q->xe) {
		if (q->port >= 0)
			xen_evtchn_unbind(q->xe, (uint32_t)q->port);
		xen_evtchn_close(q->xe);
	}
	q->xe = NULL;
	q->port = -1;
	if (q->ring_addr)
		xen_gntshr_unshare(bf->gs, q->ring_addr, q->ring_pages);
	q->ring_addr = NULL;
	q->ring_pages = 0;
}

static int bf_queue_ring_up(struct blkfront *bf, struct bf_queue *q)
{
	unsigned int pages = 1u << bf->order;
	int rc;

	rc = xen_gntshr_share(bf->gs, bf->f.be_domid, pages, 1, q->ring_ref,
			      &q->ring_addr);
	if (rc) {
		q->ring_addr = NULL;
		return bf_fail(rc, "share %u ring page(s) of queue %u", pages,
			       q->idx);
	}
	q->ring_pages = pages;
	rc = ring_blkif_front_init(&q->ring, q->ring_addr, pages, bf->cfg.abi);
	if (rc) {
		bf_fail(rc, "ring init");
		goto err_ring;
	}
	rc = xen_evtchn_open(&q->xe);
	if (rc) {
		q->xe = NULL;
		bf_fail(rc, "open an event channel handle");
		goto err_ring;
	}
	q->port = xen_evtchn_alloc_unbound(q->xe, bf->f.be_domid);
	if (q->port < 0) {
		rc = q->port;
		bf_fail(rc, "allocate an unbound port for domain %u",
			bf->f.be_domid);
		goto err_ring;
	}
	return 0;

err_ring:
	bf_queue_ring_down(bf, q);
	return rc;
}

/* Shadows and free ids for a ring of @n slots. */
static int bf_queue_ids(struct bf_queue *q, unsigned int n)
{
	q->sh = calloc(n, sizeof(*q->sh));
	q->free_id = calloc(n, sizeof(*q->free_id));
	if (!q->sh || !q->free_id) {
		free(q->sh);
		free(q->free_id);
		q->sh = NULL;
		q->free_id = NULL;
		return bf_fail(-ENOMEM, "shadows");
	}
	q->nsh = n;
	for (unsigned int i = 0; i < n; i++)
		q->free_id[i] = n - 1 - i;
	q->nfree_id = n;
	return 0;
}

static void bf_queue_free(struct blkfront *bf, struct bf_queue *q, int *rc)
{
	int r;

	bf_queue_ring_down(bf, q);
	r = pool_destroy(bf->gs, &q->data);
	*rc = *rc ?: r;
	r = pool_destroy(bf->gs, &q->ind);
	*rc = *rc ?: r;
	free(q->sh);
	free(q->free_id);
	free(q->owed);
	q->sh = NULL;
	q->free_id = NULL;
	q->owed = NULL;
}

/* Indirect pages: enough for every indirect request the data pool allows. */
static int bf_ind_pool(struct blkfront *bf)
{
	const struct blkfront_info *in = &bf->info;
	unsigned int per_req, n, reqs;
	int rc;

	if (!in->max_indirect)
		return 0;
	per_req = (in->max_indirect + BF_SEGS_PER_IND - 1) / BF_SEGS_PER_IND;
	/*
	 * Each indirect request holds at least 12 data pages, so at most
	 * pool/12 of them are in flight, needing one page each plus one per
	 * 512 segments beyond.
	 */
	reqs = in->pool_pages / (BF_DIRECT + 1) + 1;
	if (reqs > in->ring_slots)
		reqs = in->ring_slots;
	n = reqs + in->pool_pages / BF_SEGS_PER_IND + 1;
	if (n > reqs * per_req)
		n = reqs * per_req;
	for (unsigned int i = 0; i < bf->nq; i++) {
		struct bf_queue *q = &bf->q[i];

		if (q->ind.n >= n)
			continue;
		pool_destroy(bf->gs, &q->ind);
		rc = pool_create(bf->gs, bf->f.be_domid, n, &q->ind);
		if (rc)
			return bf_fail(rc, "share %u indirect pages", n);
	}
	return 0;
}

/*
 * The handshake proper, from InitWait to Connected; the queues exist and
 * have their pools (and, on reconnect, their shadows).
 */
static int bf_handshake(struct blkfront *bf, int fresh)
{
	struct blkfront_info *in = &bf->info;
	unsigned int order, nq;
	long l;
	int rc, s;

	/* A backend that failed the disk goes Closing: blkfront closes too. */
	rc = bf_wait(bf, XF_STATE(2) | XF_STATE(4) | XF_STATE(5), "InitWait");
	if (rc < 0)
		return rc;
	if (rc == 5)
		return bf_fail(-EPROTO,
			       "backend %s Closing instead of InitWait",
			       bf->f.be_path);
	/* talk_to_blkback: ring order and queue count, min'd with ours. */
	l = bf_read_be_opt(bf, "max-ring-page-order", 64);
	in->be_max_ring_order = l;
	order = l > 0 ? (unsigned int)l : 0;
	if (order > bf->cfg.ring_order)
		order = bf->cfg.ring_order;
	if (order > RING_MAX_ORDER)
		order = RING_MAX_ORDER;
	l = bf_read_be_opt(bf, "multi-queue-max-queues", UINT32_MAX);
	in->be_max_queues = l;
	nq = l > 0 ? (unsigned int)l : 1;
	if (nq > bf->cfg.nr_queues)
		nq = bf->cfg.nr_queues;
	if (nq < 1)
		nq = 1;
	if (!fresh && nq != bf->nq)
		return bf_fail(-EPROTO, "reconnect: %u queues now, %u before",
			       nq, bf->nq);
	bf->order = order;
	if (fresh) {
		bf->q = calloc(nq, sizeof(*bf->q));
		if (!bf->q)
			return bf_fail(-ENOMEM, "queues");
		bf->nq = nq;
		for (unsigned int i = 0; i < nq; i++) {
			bf->q[i].bf = bf;
			bf->q[i].idx = i;
			bf->q[i].port = -1;
		}
		in->pool_pages = bf->cfg.pool_pages;
		for (unsigned int i = 0; i < nq; i++) {
			rc = pool_create(bf->gs, bf->f.be_domid, in->pool_pages,
					 &bf->q[i].data);
			if (rc)
				return bf_fail(
					rc, "share %u data pages for queue %u",
					in->pool_pages, i);
		}
	}
	for (unsigned int i = 0; i < nq; i++) {
		rc = bf_queue_ring_up(bf, &bf->q[i]);
		if (rc)
			return rc;
	}
	in->ring_order = order;
	in->nr_queues = nq;
	in->ring_slots = bf->q[0].ring.f.nr_ents;
	rc = bf_write_keys(bf);
	if (rc)
		return rc;
	rc = bf_set_state(bf, XenbusStateInitialised);
	if (rc)
		return rc;
	s = bf_wait(bf, XF_STATE(4) | XF_STATE(5) | XF_STATE(6), "Connected");
	if (s < 0)
		return s;
	if (s != XenbusStateConnected)
		return bf_fail(-EPROTO,
			       "backend %s went to state %d, not Connected",
			       bf->f.be_path, s);
	rc = bf_gather(bf);
	if (rc)
		return rc;
	rc = bf_ind_pool(bf);
	if (rc)
		return rc;
	if (fresh)
		for (unsigned int i = 0; i < nq; i++) {
			rc = bf_queue_ids(&bf->q[i], in->ring_slots);
			if (rc)
				return rc;
		}
	rc = bf_set_state(bf, XenbusStateConnected);
	if (rc)
		return rc;
	bf->connected = 1;
	return 0;
}

int blkfront_connect(struct blkfront **out, const struct blkfront_cfg *cfg)
{
	struct blkfront *bf;
	int rc, rc2 = 0;

	*out = NULL;
	if ((unsigned int)cfg->abi > RING_BLKIF_ABI_X86_64 || !cfg->nr_queues ||
	    cfg->nr_queues > BF_MAX_QUEUES)
		return bf_fail(-EINVAL, "bad configuration");
	bf = calloc(1, sizeof(*bf));
	if (!bf)
		return bf_fail(-ENOMEM, "blkfront");
	bf->cfg = *cfg;
	if (!bf->cfg.timeout_ms)
		bf->cfg.timeout_ms = BF_DEFAULT_TIMEOUT;
	if (!bf->cfg.pool_pages)
		bf->cfg.pool_pages = BF_DEFAULT_POOL;
	rc = xfront_open(&bf->f, "vbd", cfg->devid);
	if (rc) {
		bf_fail(rc, "open device/vbd/%u", cfg->devid);
		goto err_free;
	}
	bf->info.fe_domid = bf->f.self;
	bf->info.be_domid = bf->f.be_domid;
	snprintf(bf->info.fe_path, sizeof(bf->info.fe_path), "%s",
		 bf->f.fe_path);
	snprintf(bf->info.be_path, sizeof(bf->info.be_path), "%s",
		 bf->f.be_path);
	rc = xen_gntshr_open(&bf->gs);
	if (rc) {
		bf->gs = NULL;
		bf_fail(rc, "open gntshr");
		goto err_close;
	}
	rc = bf_reset(bf);
	if (rc)
		goto err_queues;
	rc = bf_handshake(bf, 1);
	if (rc)
		goto err_queues;
	*out = bf;
	return 0;

err_queues:
	for (unsigned int i = 0; bf->q && i < bf->nq; i++)
		bf_queue_free(bf, &bf->q[i], &rc2);
	free(bf->q);
	xen_gntshr_close(bf->gs);
err_close:
	xfront_close(&bf->f);
err_free:
	free(bf);
	return rc;
}

const struct blkfront_info *blkfront_info(const struct blkfront *bf)
{
	return &bf->info;
}

int blkfront_close(struct blkfront *bf)
{
	int rc = 0, s;

	if (!bf)
		return 0;
	/* Linux's shutdown path: Closing, the backend follows, Closed. */
	if (bf_fe_state(bf) != XenbusStateClosed) {
		rc = bf_set_state(bf, XenbusStateClosing);
		s = rc ? rc : bf_wait(bf, XF_STATE(5) | XF_STATE(6), "Closing");
		rc = s < 0 ? s : 0;
		s = bf_set_state(bf, XenbusStateClosed);
		rc = rc ?: s;
	}
	/* The backend unmaps before Closed: only then end our grants. */
	s = bf_wait(bf, XF_STATE(6), "Closed");
	if (s < 0)
		rc = rc ?: s;
	for (unsigned int i = 0; i < bf->nq; i++)
		bf_queue_free(bf, &bf->q[i], &rc);
	free(bf->q);
	xen_gntshr_close(bf->gs);
	xfront_close(&bf->f);
	free(bf);
	return rc;
}

void blkfront_disconnect_abrupt(struct blkfront *bf)
{
	if (!bf)
		return;
	for (unsigned int i = 0; i < bf->nq; i++) {
		struct bf_queue *q = &bf->q[i];

		xen_evtchn_close(q->xe);
		free(q->sh);
		free(q->free_id);
		free(q->owed);
		free(q->data.chunk);
		free(q->data.ref);
		free(q->data.next);
		free(q->data.state);
		free(q->data.free);
		free(q->ind.chunk);
		free(q->ind.ref);
		free(q->ind.next);
		free(q->ind.state);
		free(q->ind.free);
	}
	free(bf->q);
	xen_gntshr_close(bf->gs);
	xfront_close(&bf->f);
	free(bf);
}

/* ----------------------------------------------------------- requests */

static int bf_check_q(struct blkfront *bf, unsigned int q)
{
	if (!bf || q >= bf->nq)
		return bf_fail(-EINVAL, "no queue %u", q);
	return 0;
}

static int bf_is_data_op(uint8_t op)
{
	return op <= BLKFRONT_BARRIER;
}

/* Pages and indirect pages @io needs, or why it can never go. */
static int bf_plan(struct blkfront *bf, struct bf_queue *q,
		   const struct blkfront_io *io, unsigned int *npages,
		   unsigned int *nind)
{
	const struct blkfront_info *in = &bf->info;
	size_t pages;

	*npages = *nind = 0;
	if (q->broken)
		return bf_fail(-EIO, "queue %u is broken", q->idx);
	if (io->op > BLKFRONT_DISCARD_SECURE || io->len % BF_SECT ||
	    io->page_off >= BF_PAGE / BF_SECT)
		return bf_fail(-EINVAL, "bad request (op %u, len %zu)", io->op,
			       io->len);
	switch (io->op) {
	case BLKFRONT_READ:
	case BLKFRONT_WRITE:
		if (!io->len || !io->buf)
			return bf_fail(-EINVAL, "read/write without data");
		break;
	case BLKFRONT_FLUSH:
		if (!in->flush)
			return bf_fail(-EOPNOTSUPP, "no feature-flush-cache");
		break;
	case BLKFRONT_BARRIER:
		if (!in->barrier)
			return bf_fail(-EOPNOTSUPP, "no feature-barrier");
		break;
	case BLKFRONT_DISCARD_SECURE:
		if (!in->discard_secure)
			return bf_fail(-EOPNOTSUPP, "no discard-secure");
		/* fall through */
	case BLKFRONT_DISCARD:
		if (!in->discard)
			return bf_fail(-EOPNOTSUPP, "no feature-discard");
		if (!io->len)
			return bf_fail(-EINVAL, "empty discard");
		return 0;
	}
	if (io->len && !io->buf)
		return bf_fail(-EINVAL, "data without a buffer");
	pages = ((size_t)io->page_off * BF_SECT + io->len + BF_PAGE - 1) /
		BF_PAGE;
	if (!io->len)
		pages = 0;
	if (pages > BF_DIRECT) {
		if (io->op > BLKFRONT_WRITE || !in->max_indirect ||
		    pages > in->max_indirect)
			return bf_fail(-E2BIG, "%zu segments (max %u)", pages,
				       io->op > BLKFRONT_WRITE
					       ? BF_DIRECT
					       : in->max_segments);
		*nind = (unsigned int)((pages + BF_SEGS_PER_IND - 1) /
				       BF_SEGS_PER_IND);
		if (*nind > q->ind.n)
			return bf_fail(-E2BIG, "%u indirect pages", *nind);
	}
	if (pages > q->data.n)
		return bf_fail(-E2BIG, "%zu pages, pool has %u", pages,
			       q->data.n);
	*npages = (unsigned int)pages;
	return 0;
}

int blkfront_fits(struct blkfront *bf, unsigned int qi,
		  const struct blkfront_io *ios, unsigned int n)
{
	unsigned int pages = 0, ind = 0, np, ni;
	struct bf_queue *q;
	int rc;

	rc = bf_check_q(bf, qi);
	if (rc)
		return rc;
	q = &bf->q[qi];
	for (unsigned int i = 0; i < n; i++) {
		rc = bf_plan(bf, q, &ios[i], &np, &ni);
		if (rc)
			return rc;
		pages += np;
		ind += ni;
	}
	return n <= q->nfree_id && n <= ring_front_free(&q->ring.f) &&
	       pages <= q->data.nfree && ind <= q->ind.nfree;
}

static uint32_t bf_take_id(struct bf_queue *q)
{
	uint32_t id = q->free_id[--q->nfree_id];

	memset(&q->sh[id], 0, sizeof(q->sh[id]));
	q->sh[id].busy = 1;
	q->sh[id].first_page = q->sh[id].first_ind = BF_NONE;
	return id;
}

static void bf_put_id(struct bf_queue *q, uint32_t id)
{
	q->sh[id].busy = 0;
	q->free_id[q->nfree_id++] = id;
}

/* Copy between the user buffer and a request's page chain. */
static void bf_copy(struct bf_queue *q, struct bf_shadow *sh, int to_pages,
		    uint8_t *revoked)
{
	unsigned char *u = sh->buf;
	size_t left = sh->len, off = (size_t)sh->page_off * BF_SECT;

	for (uint32_t p = sh->first_page; p != BF_NONE && left;
	     p = q->data.next[p]) {
		size_t n = BF_PAGE - off < left ? BF_PAGE - off : left;

		if (q->data.state[p] == PG_REVOKED) {
			if (revoked)
				*revoked = 1;
		} else if (to_pages) {
			memcpy(pool_page(&q->data, p) + off, u, n);
		} else {
			memcpy(u, pool_page(&q->data, p) + off, n);
		}
		u += n;
		left -= n;
		off = 0;
	}
}

int blkfront_submit(struct blkfront *bf, unsigned int qi,
		    const struct blkfront_io *io)
{
	static const uint8_t ring_op[] = {
		[BLKFRONT_READ] = BLKIF_OP_READ,
		[BLKFRONT_WRITE] = BLKIF_OP_WRITE,
		[BLKFRONT_FLUSH] = BLKIF_OP_FLUSH_DISKCACHE,
		[BLKFRONT_BARRIER] = BLKIF_OP_WRITE_BARRIER,
		[BLKFRONT_DISCARD] = BLKIF_OP_DISCARD,
		[BLKFRONT_DISCARD_SECURE] = BLKIF_OP_DISCARD,
	};
	struct ring_blkif_req *r;
	struct bf_shadow *sh;
	struct bf_queue *q;
	unsigned int np, ni, i;
	uint32_t id, p;
	size_t left, off;
	int rc;

	rc = bf_check_q(bf, qi);
	if (rc)
		return rc;
	q = &bf->q[qi];
	rc = bf_plan(bf, q, io, &np, &ni);
	if (rc)
		return rc;
	if (!q->nfree_id || !ring_front_free(&q->ring.f) ||
	    np > q->data.nfree || ni > q->ind.nfree)
		return bf_fail(-EBUSY, "queue %u full", qi);
	id = bf_take_id(q);
	sh = &q->sh[id];
	sh->user_op = io->op;
	sh->cookie = io->cookie;
	sh->buf = io->buf;
	sh->len = io->len;
	sh->page_off = io->page_off;
	sh->npages = (uint16_t)np;
	sh->nind = (uint16_t)ni;
	r = &sh->req;
	memset(r, 0, sizeof(*r));
	r->op = ring_op[io->op];
	r->handle = (uint16_t)bf->cfg.devid;
	r->id = id;
	r->sector_number = io->sector;
	if (!bf_is_data_op(io->op)) {
		r->nr_sectors = io->len / BF_SECT;
		r->discard_flag = io->op == BLKFRONT_DISCARD_SECURE
					  ? BLKIF_DISCARD_SECURE
					  : 0;
		goto put;
	}
	sh->first_page = np ? pool_alloc(&q->data, np) : BF_NONE;
	if (np && io->op != BLKFRONT_READ)
		bf_copy(q, sh, 1, NULL);
	if (ni) {
		r->indirect_op = r->op;
		r->op = BLKIF_OP_INDIRECT;
		sh->first_ind = pool_alloc(&q->ind, ni);
		p = sh->first_ind;
		for (i = 0; i < ni; i++, p = q->ind.next[p])
			r->indirect_grefs[i] = q->ind.ref[p];
	}
	r->nr_segments = (uint16_t)np;
	left = io->len;
	off = (size_t)io->page_off * BF_SECT;
	for (i = 0, p = sh->first_page; i < np; i++, p = q->data.next[p]) {
		size_t n = BF_PAGE - off < left ? BF_PAGE - off : left;
		struct blkif_request_segment seg = {
			.gref = q->data.ref[p],
			.first_sect = (uint8_t)(off / BF_SECT),
			.last_sect = (uint8_t)((off + n) / BF_SECT - 1),
		};

		if (ni) {
			uint32_t ip = sh->first_ind;

			for (unsigned int k = 0; k < i / BF_SEGS_PER_IND; k++)
				ip = q->ind.next[ip];
			memcpy(pool_page(&q->ind, ip) +
				       (i % BF_SEGS_PER_IND) * sizeof(seg),
			       &seg, sizeof(seg));
		} else {
			r->seg[i].gref = seg.gref;
			r->seg[i].first_sect = seg.first_sect;
			r->seg[i].last_sect = seg.last_sect;
		}
		left -= n;
		off = 0;
	}
put:
	sh->expect_op = r->op == BLKIF_OP_INDIRECT ? r->indirect_op : r->op;
	rc = ring_blkif_front_put_req(&q->ring, r);
	if (rc) {
		/* Cannot happen: ring_front_free was checked. */
		pool_release(&q->data, sh->first_page);
		pool_release(&q->ind, sh->first_ind);
		bf_put_id(q, id);
		return bf_fail(rc, "put");
	}
	q->inflight++;
	return (int)id;
}

int blkfront_kick(struct blkfront *bf, unsigned int qi)
{
	struct bf_queue *q;
	int rc;

	rc = bf_check_q(bf, qi);
	if (rc)
		return rc;
	q = &bf->q[qi];
	if (!ring_front_push_req(&q->ring.f))
		return 0;
	rc = xen_evtchn_notify(q->xe, (uint32_t)q->port);
	return rc ? bf_fail(rc, "notify queue %u", qi) : 1;
}

int blkfront_notify(struct blkfront *bf, unsigned int qi)
{
	int rc = bf_check_q(bf, qi);

	if (rc)
		return rc;
	rc = xen_evtchn_notify(bf->q[qi].xe, (uint32_t)bf->q[qi].port);
	return rc ? bf_fail(rc, "notify queue %u", qi) : 0;
}

/* Retire a shadow into @d with @status. */
static void bf_retire(struct bf_queue *q, uint32_t id, int status,
		      struct blkfront_done *d, int free_pages)
{
	struct bf_shadow *sh = &q->sh[id];

	memset(d, 0, sizeof(*d));
	d->cookie = sh->cookie;
	d->status = status;
	d->id = id;
	d->raw = sh->raw;
	if (!sh->raw && !status && sh->user_op == BLKFRONT_READ)
		bf_copy(q, sh, 0, &d->revoked);
	else if (!sh->raw)
		for (uint32_t p = sh->first_page; p != BF_NONE;
		     p = q->data.next[p])
			if (q->data.state[p] == PG_REVOKED)
				d->revoked = 1;
	if (free_pages) {
		pool_release(&q->data, sh->first_page);
		pool_release(&q->ind, sh->first_ind);
	}
	q->inflight--;
	bf_put_id(q, id);
}

/*
 * Check one response against what we asked (blkif_interrupt's checks).
 * Returns 1 if it completed a request into @d, 0 if it was dropped.
 */
static int bf_response(struct bf_queue *q, const struct ring_blkif_rsp *r,
		       struct blkfront_done *d)
{
	struct bf_shadow *sh;
	int st;

	if (r->id >= q->nsh) {
		bf_violation(q, "response id %llu out of range (%u slots)",
			     (unsigned long long)r->id, q->nsh);
		return 0;
	}
	sh = &q->sh[r->id];
	if (!sh->busy) {
		bf_violation(q,
			     "response for id %llu, which is not pending "
			     "(duplicate or unknown), op %u status %d",
			     (unsigned long long)r->id, r->op, r->status);
		return 0;
	}
	switch (r->status) {
	case BLKIF_RSP_OKAY:
		st = 0;
		break;
	case BLKIF_RSP_ERROR:
		st = -EIO;
		break;
	case BLKIF_RSP_EOPNOTSUPP:
		st = -EOPNOTSUPP;
		break;
	default:
		bf_violation(q, "response id %llu has status %d",
			     (unsigned long long)r->id, r->status);
		st = -EIO;
		break;
	}
	if (r->op != sh->expect_op) {
		bf_violation(
			q, "response id %llu has op %u, request was op %u%s",
			(unsigned long long)r->id, r->op, sh->expect_op,
			sh->req.op == BLKIF_OP_INDIRECT ? " (indirect)" : "");
		st = -EIO;
	}
	bf_retire(q, (uint32_t)r->id, st, d, 1);
	d->rsp_op = r->op;
	d->rsp_status = r->status;
	return 1;
}

/* Completions owed (reconnect), then a broken ring's pending requests. */
static unsigned int bf_collect_offline(struct bf_queue *q,
				       struct blkfront_done *done,
				       unsigned int max)
{
	unsigned int n = 0;

	while (q->nowed && n < max)
		done[n++] = q->owed[--q->nowed];
	if (!q->broken)
		return n;
	/* The backend may still write the pages: they are not reused. */
	for (uint32_t id = 0; id < q->nsh && n < max; id++)
		if (q->sh[id].busy)
			bf_retire(q, id, -EIO, &done[n++], 0);
	return n;
}

static int bf_collect(struct bf_queue *q, struct blkfront_done *done,
		      unsigned int max)
{
	struct ring_blkif_rsp rsp[32];
	unsigned int n = bf_collect_offline(q, done, max);

	while (n < max && !q->broken) {
		unsigned int want = max - n < 32 ? max - n : 32;
		int got = ring_blkif_front_fetch_rsp(&q->ring, rsp, want);

		if (got < 0) {
			bf_violation(q,
				     "backend published more responses than "
				     "requests (rsp_prod %u, rsp_cons %u, "
				     "req_prod %u): queue stopped",
				     q->ring.f.sring->rsp_prod,
				     q->ring.f.rsp_cons, q->ring.f.req_pushed);
			q->broken = 1;
			n += bf_collect_offline(q, done + n, max - n);
			break;
		}
		for (int i = 0; i < got; i++)
			n += (unsigned int)bf_response(q, &rsp[i], &done[n]);
		if ((unsigned int)got < want)
			break;
	}
	return (int)n;
}

/* Take the notifications that arrived, and unmask the port. */
static void bf_ack_events(struct bf_queue *q)
{
	struct pollfd pfd = { .fd = xen_evtchn_fd(q->xe), .events = POLLIN };

	for (int i = 0; i < 8 && poll(&pfd, 1, 0) > 0; i++) {
		int p = xen_evtchn_pending(q->xe);

		if (p < 0)
			break;
		xen_evtchn_unmask(q->xe, (uint32_t)p);
	}
}

static long bf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

int blkfront_reap(struct blkfront *bf, unsigned int qi,
		  struct blkfront_done *done, unsigned int max, int timeout_ms)
{
	long deadline;
	struct bf_queue *q;
	int rc, n;

	rc = bf_check_q(bf, qi);
	if (rc)
		return rc;
	q = &bf->q[qi];
	if (!max)
		return 0;
	deadline = bf_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		struct pollfd pfd;
		long left;

		n = bf_collect(q, done, max);
		if (n)
			return n;
		if (q->broken)
			return q->inflight
				       ? 0
				       : bf_fail(-EIO, "queue %u broken", qi);
		bf_ack_events(q);
		rc = ring_front_final_check(&q->ring.f);
		if (rc)
			continue; /* responses, or -EIO seen by collect */
		if (timeout_ms == 0)
			return 0;
		left = timeout_ms < 0 ? -1 : deadline - bf_now_ms();
		if (timeout_ms > 0 && left <= 0)
			return 0;
		pfd.fd = xen_evtchn_fd(q->xe);
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return bf_fail(-errno, "poll");
	}
}

int blkfront_poll(struct blkfront *bf, int timeout_ms)
{
	struct pollfd pfd[BF_MAX_QUEUES];
	unsigned int n = bf->nq;
	int rc;

	for (unsigned int i = 0; i < n; i++) {
		pfd[i].fd = xen_evtchn_fd(bf->q[i].xe);
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	rc = poll(pfd, n, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : bf_fail(-errno, "poll");
	return rc;
}

int blkfront_fd(struct blkfront *bf, unsigned int qi)
{
	int rc = bf_check_q(bf, qi);

	return rc ? rc : xen_evtchn_fd(bf->q[qi].xe);
}

unsigned int blkfront_inflight(struct blkfront *bf, unsigned int qi)
{
	if (bf_check_q(bf, qi))
		return 0;
	return bf->q[qi].inflight + bf->q[qi].nowed;
}

int blkfront_sync(struct blkfront *bf, unsigned int qi,
		  const struct blkfront_io *io, int timeout_ms)
{
	struct blkfront_done d;
	long deadline = bf_now_ms() + timeout_ms;
	int id, n;

	if (bf_check_q(bf, qi))
		return -EINVAL;
	if (blkfront_inflight(bf, qi))
		return bf_fail(-EBUSY, "queue %u has requests in flight", qi);
	id = blkfront_submit(bf, qi, io);
	if (id < 0)
		return id;
	n = blkfront_kick(bf, qi);
	if (n < 0)
		return n;
	for (;;) {
		long left = timeout_ms < 0 ? -1 : deadline - bf_now_ms();

		if (timeout_ms >= 0 && left <= 0)
			return bf_fail(-ETIMEDOUT, "request %d on queue %u", id,
				       qi);
		n = blkfront_reap(bf, qi, &d, 1, (int)left);
		if (n < 0)
			return n;
		if (n == 1 && d.id == (uint64_t)id && !d.raw)
			return d.status;
		/* A completion of something else (a late duplicate is a
		 * violation already counted): keep waiting for ours. */
		if (!blkfront_inflight(bf, qi))
			return bf_fail(-EIO, "request %d vanished", id);
	}
}

unsigned long blkfront_violations(const struct blkfront *bf, char *last,
				  size_t len)
{
	unsigned long n = 0;

	if (last && len)
		last[0] = '\0';
	for (unsigned int i = 0; bf && i < bf->nq; i++) {
		n += bf->q[i].violations;
		if (last && len && bf->q[i].violations)
			snprintf(last, len, "%s", bf->q[i].last_violation);
	}
	return n;
}

/* ------------------------------------------------------------ hooks */

int blkfront_put_raw(struct blkfront *bf, unsigned int qi,
		     const struct ring_blkif_req *req, void *cookie,
		     unsigned int flags)
{
	struct ring_blkif_req r = *req;
	struct bf_queue *q;
	uint32_t id;
	int rc;

	rc = bf_check_q(bf, qi);
	if (rc)
		return rc;
	q = &bf->q[qi];
	if (q->broken)
		return bf_fail(-EIO, "queue %u is broken", qi);
	if (!ring_front_free(&q->ring.f))
		return bf_fail(-EBUSY, "ring %u full", qi);
	if (flags & BLKFRONT_RAW_VERBATIM) {
		rc = ring_blkif_front_put_req(&q->ring, &r);
		return rc ? bf_fail(rc, "put") : (int)(r.id & INT32_MAX);
	}
	if (!q->nfree_id)
		return bf_fail(-EBUSY, "no free id on queue %u", qi);
	id = bf_take_id(q);
	r.id = id;
	q->sh[id].raw = 1;
	q->sh[id].cookie = cookie;
	q->sh[id].expect_op = r.op == BLKIF_OP_INDIRECT ? r.indirect_op : r.op;
	q->sh[id].req = r;
	rc = ring_blkif_front_put_req(&q->ring, &r);
	if (rc) {
		bf_put_id(q, id);
		return bf_fail(rc, "put");
	}
	q->inflight++;
	return (int)id;
}

struct ring_blkif_front *blkfront_ring(struct blkfront *bf, unsigned int qi)
{
	return bf_check_q(bf, qi) ? NULL : &bf->q[qi].ring;
}

const uint32_t *blkfront_ring_refs(struct blkfront *bf, unsigned int qi)
{
	return bf_check_q(bf, qi) ? NULL : bf->q[qi].ring_ref;
}

int blkfront_port(struct blkfront *bf, unsigned int qi)
{
	int rc = bf_check_q(bf, qi);

	return rc ? rc : bf->q[qi].port;
}

int blkfront_page_get(struct blkfront *bf, unsigned int qi, void **addr,
		      uint32_t *gref)
{
	struct bf_pool *p;
	uint32_t i;
	int rc;

	rc = bf_check_q(bf, qi);
	if (rc)
		return rc;
	p = &bf->q[qi].data;
	if (!p->nfree)
		return bf_fail(-EBUSY, "pool of queue %u empty", qi);
	i = p->free[--p->nfree];
	p->state[i] = PG_TAKEN;
	if (addr)
		*addr = pool_page(p, i);
	if (gref)
		*gref = p->ref[i];
	return (int)i;
}

int blkfront_page_put(struct blkfront *bf, unsigned int qi, int idx)
{
	struct bf_pool *p;
	int rc;

	rc = bf_check_q(bf, qi);
	if (rc)
		return rc;
	p = &bf->q[qi].data;
	if (idx < 0 || (unsigned int)idx >= p->n)
		return bf_fail(-EINVAL, "no page %d", idx);
	if (p->state[idx] == PG_REVOKED)
		return 0;
	if (p->state[idx] != PG_TAKEN)
		return bf_fail(-EINVAL, "page %d was not taken", idx);
	p->state[idx] = PG_FREE;
	p->free[p->nfree++] = (uint32_t)idx;
	return 0;
}

int blkfront_page_info(struct blkfront *bf, unsigned int qi, int idx,
		       void **addr, uint32_t *gref)
{
	struct bf_pool *p;
	int rc;

	rc = bf_check_q(bf, qi);
	if (rc)
		return rc;
	p = &bf->q[qi].data;
	if (idx < 0 || (unsigned int)idx >= p->n)
		return bf_fail(-EINVAL, "no page %d", idx);
	if (addr)
		*addr = p->state[idx] == PG_REVOKED
				? NULL
				: pool_page(p, (uint32_t)idx);
	if (gref)
		*gref = p->ref[idx];
	return 0;
}

int blkfront_req_pages(struct blkfront *bf, unsigned int qi, uint64_t id,
		       int *idx, unsigned int max)
{
	struct bf_queue *q;
	unsigned int n = 0;
	int rc;

	rc = bf_check_q(bf, qi);
	if (rc)
		return rc;
	q = &bf->q[qi];
	if (id >= q->nsh || !q->sh[id].busy)
		return bf_fail(-ENOENT, "no pending request %llu",
			       (unsigned long long)id);
	for (uint32_t p = q->sh[id].first_page; p != BF_NONE && n < max;
	     p = q->data.next[p])
		idx[n++] = (int)p;
	return (int)n;
}

int blkfront_page_revoke(struct blkfront *bf, unsigned int qi, int idx)
{
	struct bf_pool *p;
	int rc;

	rc = bf_check_q(bf, qi);
	if (rc)
		return rc;
	p = &bf->q[qi].data;
	if (idx < 0 || (unsigned int)idx >= p->n)
		return bf_fail(-EINVAL, "no page %d", idx);
	if (p->state[idx] == PG_REVOKED)
		return 0;
	rc = xen_gntshr_unshare(bf->gs, pool_page(p, (uint32_t)idx), 1);
	if (rc)
		return bf_fail(rc, "unshare page %d", idx);
	if (p->state[idx] == PG_FREE)
		for (unsigned int i = 0; i < p->nfree; i++)
			if (p->free[i] == (uint32_t)idx) {
				p->free[i] = p->free[--p->nfree];
				break;
			}
	p->state[idx] = PG_REVOKED;
	return 0;
}

/* ------------------------------------------------------------ reconnect */

/* Put the requests still in flight on the fresh ring, renumbered. */
static int bf_requeue(struct blkfront *bf, struct bf_queue *q,
		      struct bf_shadow *old, unsigned int nold)
{
	unsigned int pending = 0, k = 0;

	for (unsigned int i = 0; i < nold; i++)
		pending += old[i].busy;
	free(q->free_id);
	q->sh = NULL;
	q->free_id = NULL;
	if (bf_queue_ids(q, bf->info.ring_slots))
		return -ENOMEM;
	q->inflight = 0;
	if (pending) {
		struct blkfront_done *o =
			realloc(q->owed, (q->nowed + pending) * sizeof(*o));

		if (!o)
			return bf_fail(-ENOMEM, "requeue");
		q->owed = o;
	}
	for (unsigned int i = 0; i < nold; i++) {
		struct bf_shadow *sh = &old[i];
		int fits = k < q->nsh;

		if (!sh->busy)
			continue;
		if (!sh->raw && sh->npages > bf->info.max_segments)
			fits = 0;
		if (!sh->raw && sh->nind && !bf->info.max_indirect)
			fits = 0;
		if (fits) {
			uint32_t id = bf_take_id(q);

			q->sh[id] = *sh;
			q->sh[id].req.id = id;
			ring_blkif_front_put_req(&q->ring, &q->sh[id].req);
			q->inflight++;
			k++;
		} else {
			struct blkfront_done *d = &q->owed[q->nowed++];

			memset(d, 0, sizeof(*d));
			d->cookie = sh->cookie;
			d->status = -EIO;
			d->raw = sh->raw;
			d->id = (uint64_t)i;
			pool_release(&q->data, sh->first_page);
			pool_release(&q->ind, sh->first_ind);
		}
	}
	return 0;
}

int blkfront_reconnect(struct blkfront *bf)
{
	struct bf_shadow **old;
	unsigned int *nold;
	int rc, s;

	old = calloc(bf->nq, sizeof(*old));
	nold = calloc(bf->nq, sizeof(*nold));
	if (!old || !nold) {
		rc = bf_fail(-ENOMEM, "reconnect");
		goto out;
	}
	/* Closing / Closed as blkfront's suspend leaves it, then reset. */
	if (bf_fe_state(bf) == XenbusStateConnected) {
		rc = bf_set_state(bf, XenbusStateClosing);
		if (rc)
			goto out;
		s = bf_wait(bf, XF_STATE(5) | XF_STATE(6), "Closing");
		if (s < 0) {
			rc = s;
			goto out;
		}
	}
	rc = bf_reset(bf);
	if (rc)
		goto out;
	bf->connected = 0;
	for (unsigned int i = 0; i < bf->nq; i++) {
		bf_queue_ring_down(bf, &bf->q[i]);
		old[i] = bf->q[i].sh;
		nold[i] = bf->q[i].nsh;
		bf->q[i].broken = 0;
	}
	rc = bf_handshake(bf, 0);
	if (rc)
		goto out;
	for (unsigned int i = 0; i < bf->nq; i++) {
		rc = bf_requeue(bf, &bf->q[i], old[i], nold[i]);
		if (rc)
			goto out;
		blkfront_kick(bf, i);
	}
out:
	for (unsigned int i = 0; old && i < bf->nq; i++)
		if (old[i] && old[i] != bf->q[i].sh)
			free(old[i]);
	free(old);
	free(nold);
	return rc;
}
