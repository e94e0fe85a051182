/* SPDX-License-Identifier: MIT */
/*
 * ring.h - Xen shared-ring helpers on the public io/ring.h ABI.
 *
 * A shared ring is 1..16 granted 4 KiB pages: a 64-byte header with four
 * free-running 32-bit indexes (req_prod, req_event, rsp_prod, rsp_event),
 * then a power-of-two array of fixed-size slots, each holding a request or
 * the response that replaced it. This header gives both views of any such
 * ring, generic over the slot size:
 *
 *   back  (the daemons): read the frontend's req_prod once per sweep, check
 *         it, copy a bounded batch of requests out of the shared page, write
 *         responses, publish them and decide on a notification;
 *   front (tests/front and the hostile frontends in tests/): the mirror image.
 *
 * Typed wrappers for the netif TX, RX and control rings are at the end; the
 * blkif rings, whose request layout depends on the guest ABI, are in
 * ring/blkif.h. Everything is static inline: this is the hot path of both
 * daemons, and the copy sizes must be constants where memcpy is expanded.
 *
 * Threading: a ring view belongs to one thread (the queue's). Nothing here
 * blocks, allocates, locks or makes a system call. Every call that can fail
 * returns -errno; nothing aborts on anything the other end wrote.
 *
 * Barriers: we use C11 fences. On x86 rmb/wmb are compiler barriers only and
 * mb is a real fence, as in Xen's xen_rmb/xen_wmb/xen_mb. Each fence below
 * names the fence in the other end's io/ring.h macro it pairs with.
 */
#ifndef PVBACK_RING_RING_H
#define PVBACK_RING_RING_H

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/io/ring.h>
#include <xen/io/netif.h>

#define RING_PAGE_SIZE 4096u /* ring pages are 4 KiB on every arch */
#define RING_MAX_ORDER 4     /* ring-page-order we accept */
#define RING_MAX_PAGES (1u << RING_MAX_ORDER)

/*
 * The shared page header of every DEFINE_RING_TYPES ring (blkif, netif tx,
 * rx and ctrl alike); the slots start at byte 64. Checked against the public
 * header below and in tests/ring-abi-*.
 */
struct ring_sring {
	uint32_t req_prod;
	uint32_t req_event;
	uint32_t rsp_prod;
	uint32_t rsp_event;
	uint8_t pvt[4];
	uint8_t pad[44];
	unsigned char slots[];
};

_Static_assert(offsetof(struct ring_sring, req_prod) ==
			       offsetof(struct netif_tx_sring, req_prod) &&
		       offsetof(struct ring_sring, req_event) ==
			       offsetof(struct netif_tx_sring, req_event) &&
		       offsetof(struct ring_sring, rsp_prod) ==
			       offsetof(struct netif_tx_sring, rsp_prod) &&
		       offsetof(struct ring_sring, rsp_event) ==
			       offsetof(struct netif_tx_sring, rsp_event) &&
		       offsetof(struct ring_sring, slots) ==
			       offsetof(struct netif_tx_sring, ring),
	       "struct ring_sring differs from io/ring.h's sring header");

/* ---------------------------------------------------------------- basics */

/* Shared indexes: exactly one load or store each, never torn or repeated. */
static inline uint32_t ring_idx_load_(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void ring_idx_store_(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

#define ring_rmb_() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define ring_wmb_() __atomic_thread_fence(__ATOMIC_RELEASE)
#define ring_mb_() __atomic_thread_fence(__ATOMIC_SEQ_CST)

/*
 * After copying out of a shared page: the compiler must not re-read the
 * shared slot in place of the private copy (a double fetch, XSA-155). The
 * "memory" clobber makes it assume every reachable object changed, so later
 * reads of the copy come from the copy.
 */
#define ring_copy_barrier_() __asm__ __volatile__("" ::: "memory")

/*
 * ring_nr_ents - number of slots in a ring of @pages 4 KiB pages whose slots
 * are @slot_size bytes: (pages * 4096 - 64) / slot_size rounded down to a
 * power of two, as io/ring.h's __RING_SIZE. Returns 0 if @pages is not in
 * 1..RING_MAX_PAGES, @slot_size is 0, or not even one slot fits.
 */
static inline unsigned int ring_nr_ents(unsigned int pages, size_t slot_size)
{
	size_t n;

	if (pages < 1 || pages > RING_MAX_PAGES || slot_size == 0)
		return 0;
	n = ((size_t)pages * RING_PAGE_SIZE -
	     offsetof(struct ring_sring, slots)) /
	    slot_size;
	if (n == 0)
		return 0;
	return 1u << (31 - __builtin_clz((unsigned int)n));
}

/* ---------------------------------------------------------------- back */

/*
 * The back end's private view. req_cons and rsp_prod_pvt are ours; the
 * shared page is read only through ring_back_* calls. rsp_pushed is what we
 * last stored to the shared rsp_prod: the frontend can scribble on the page,
 * so our notify decision never depends on reading our own index back.
 */
struct ring_back {
	struct ring_sring *sring;
	uint32_t nr_ents;      /* power of two */
	uint32_t slot_size;    /* bytes per slot */
	uint32_t req_cons;     /* next request to copy */
	uint32_t rsp_prod_pvt; /* next response slot */
	uint32_t rsp_pushed;   /* last value published in sring->rsp_prod */
	int err;	       /* sticky -EIO once the frontend lied */
};

/*
 * ring_back_attach - attach the back view to a mapped ring.
 * @addr: the mapped ring, @pages contiguous 4 KiB pages (1..16), 8-aligned.
 * @slot_size: sizeof the ring's slot (the union of request and response).
 *
 * Like Linux's BACK_RING_ATTACH, starts at the frontend's current rsp_prod,
 * so a ring that carried traffic before (reconnect) resumes where it was.
 * Reads req_prod and rsp_prod once each; does not write the page.
 * Returns 0; -EINVAL for bad arguments (our bug); -EIO if the frontend has
 * published more requests than the ring holds (stop the ring).
 */
static inline int ring_back_attach(struct ring_back *r, void *addr,
				   unsigned int pages, size_t slot_size)
{
	struct ring_sring *s = addr;
	unsigned int n = ring_nr_ents(pages, slot_size);
	uint32_t req_prod, rsp_prod;

	if (!s || n == 0 || ((uintptr_t)addr & 7))
		return -EINVAL;
	rsp_prod = ring_idx_load_(&s->rsp_prod);
	req_prod = ring_idx_load_(&s->req_prod);
	r->sring = s;
	r->nr_ents = n;
	r->slot_size = (uint32_t)slot_size;
	r->req_cons = rsp_prod;
	r->rsp_prod_pvt = rsp_prod;
	r->rsp_pushed = rsp_prod;
	r->err = 0;
	/* RING_REQUEST_PROD_OVERFLOW at attach, as Linux netback/blkback. */
	if (req_prod - rsp_prod > n)
		r->err = -EIO;
	return r->err;
}

/* Slot @idx (free-running) of a ring of @nr_ents slots of @slot_size bytes. */
static inline unsigned char *ring_slot_(struct ring_sring *s, uint32_t nr_ents,
					uint32_t slot_size, uint32_t idx)
{
	return s->slots + (size_t)(idx & (nr_ents - 1)) * slot_size;
}

/*
 * ring_back_begin_ - how many requests this sweep may copy (at most @max).
 *
 * The one read of the frontend's req_prod per sweep. A frontend may publish
 * at most as many requests as there are free slots: nr_ents minus the ones
 * we consumed and have not answered yet. req_prod - req_cons beyond that
 * (more than a ring ahead, or behind req_cons, which wraps to a huge number)
 * is impossible state: -EIO, nothing consumed, and the error is sticky.
 * Copy the slots [req_cons, req_cons + n) and then ring_back_commit_(n).
 */
static inline int ring_back_begin_(struct ring_back *r, unsigned int max)
{
	uint32_t prod, avail, room;

	if (r->err)
		return r->err;
	prod = ring_idx_load_(&r->sring->req_prod);
	/*
	 * Read req_prod before the requests it covers. Pairs with the wmb in
	 * the frontend's RING_PUSH_REQUESTS[_AND_CHECK_NOTIFY] (requests
	 * written before req_prod is).
	 */
	ring_rmb_();
	avail = prod - r->req_cons;
	room = r->nr_ents - (r->req_cons - r->rsp_prod_pvt);
	if (avail > room) {
		r->err = -EIO;
		return -EIO;
	}
	return (int)(avail < max ? avail : max);
}

static inline void ring_back_commit_(struct ring_back *r, unsigned int n)
{
	r->req_cons += n;
}

/*
 * ring_back_fetch - copy up to @max requests into @dst and consume them.
 * @dst: an array of @max objects of @size bytes; @size <= the slot size
 *       (pass a sizeof() constant so the copy is expanded inline).
 *
 * Each request is copied out of the shared page exactly once, before anyone
 * looks at it; act only on @dst. Returns the number copied (0 if none), or
 * -EIO if the frontend published an impossible req_prod (then, and on every
 * later call, nothing is consumed: stop the ring).
 */
static inline int ring_back_fetch(struct ring_back *r, void *dst, size_t size,
				  unsigned int max)
{
	unsigned char *d = dst;
	int n = ring_back_begin_(r, max);

	assert(size <= r->slot_size);
	for (int i = 0; i < n; i++)
		memcpy(d + (size_t)i * size,
		       ring_slot_(r->sring, r->nr_ents, r->slot_size,
				  r->req_cons + (uint32_t)i),
		       size);
	ring_copy_barrier_();
	if (n > 0)
		ring_back_commit_(r, (unsigned int)n);
	return n;
}

/*
 * ring_back_unfetch - give back the last @n fetched requests, to be fetched
 * (copied afresh) next time: for a consumer that found an incomplete
 * multi-slot packet at the end of its batch. The earlier copies must be
 * dropped unused. Returns 0, or -EINVAL if @n exceeds the fetched requests
 * that are not answered yet.
 */
static inline int ring_back_unfetch(struct ring_back *r, unsigned int n)
{
	if (n > r->req_cons - r->rsp_prod_pvt)
		return -EINVAL;
	r->req_cons -= n;
	return 0;
}

/* Requests fetched and not answered yet. */
static inline unsigned int ring_back_inflight(const struct ring_back *r)
{
	return r->req_cons - r->rsp_prod_pvt;
}

/*
 * ring_back_put_rsp - write one response into the next response slot (not
 * yet visible to the frontend: see ring_back_push_rsp).
 * @rsp: a complete response of @size <= slot size bytes, every byte
 *       initialised including padding (it is copied to the guest as is).
 *
 * Responses take slots in order, each replacing the oldest request that was
 * fetched and not answered (netif RX relies on this: the response sits at
 * its request's index). Returns 0, or -EOVERFLOW if every fetched request
 * has its response already: never more responses than requests.
 */
static inline int ring_back_put_rsp(struct ring_back *r, const void *rsp,
				    size_t size)
{
	assert(size <= r->slot_size);
	if (r->rsp_prod_pvt == r->req_cons)
		return -EOVERFLOW;
	memcpy(ring_slot_(r->sring, r->nr_ents, r->slot_size, r->rsp_prod_pvt),
	       rsp, size);
	r->rsp_prod_pvt++;
	return 0;
}

/*
 * ring_back_push_rsp - publish the responses written since the last push.
 * Returns true if the frontend asked to be notified (its rsp_event lies in
 * (old rsp_prod, new rsp_prod]), as RING_PUSH_RESPONSES_AND_CHECK_NOTIFY.
 * Notify at most once per sweep: call this once, after the batch.
 */
static inline bool ring_back_push_rsp(struct ring_back *r)
{
	uint32_t old = r->rsp_pushed, new = r->rsp_prod_pvt, ev;

	if (old == new)
		return false;
	/*
	 * Responses before rsp_prod. Pairs with the rmb after the frontend's
	 * read of rsp_prod (in its response loop).
	 */
	ring_wmb_();
	ring_idx_store_(&r->sring->rsp_prod, new);
	r->rsp_pushed = new;
	/*
	 * rsp_prod store before the rsp_event load. Pairs with the mb in the
	 * frontend's RING_FINAL_CHECK_FOR_RESPONSES between its rsp_event store
	 * and its rsp_prod re-read: either it sees our responses, or we see
	 * its new rsp_event and notify.
	 */
	ring_mb_();
	ev = ring_idx_load_(&r->sring->rsp_event);
	return (uint32_t)(new - ev) < (uint32_t)(new - old);
}

/*
 * ring_back_final_check - before going idle: are there requests to fetch?
 * Returns 1 if the frontend has published requests past req_cons (fetch
 * them; ring_back_fetch checks them), 0 if none, after arming req_event so
 * the next one is notified (as RING_FINAL_CHECK_FOR_REQUESTS), or the
 * sticky -EIO.
 */
static inline int ring_back_final_check(struct ring_back *r)
{
	if (r->err)
		return r->err;
	if (ring_idx_load_(&r->sring->req_prod) != r->req_cons)
		return 1;
	ring_idx_store_(&r->sring->req_event, r->req_cons + 1);
	/*
	 * req_event store before the req_prod re-read. Pairs with the mb in
	 * the frontend's RING_PUSH_REQUESTS_AND_CHECK_NOTIFY between its
	 * req_prod store and its req_event load: a request that raced with
	 * us going idle is either seen here or notified.
	 */
	ring_mb_();
	return ring_idx_load_(&r->sring->req_prod) != r->req_cons;
}

/*
 * ring_back_wait_for - before going idle until @n requests past req_cons
 * are published (a consumer that needs several at once: a netif RX packet
 * takes several of the frontend's buffers). Arms req_event at req_cons + @n,
 * so the frontend's push that makes @n available notifies, then looks once
 * more. Returns 1 if @n are available now (fetch them), 0 once armed, or
 * the sticky -EIO.
 */
static inline int ring_back_wait_for(struct ring_back *r, unsigned int n)
{
	if (r->err)
		return r->err;
	ring_idx_store_(&r->sring->req_event, r->req_cons + n);
	/*
	 * req_event store before the req_prod re-read; pairs with the mb in
	 * the frontend's RING_PUSH_REQUESTS_AND_CHECK_NOTIFY, as in
	 * ring_back_final_check.
	 */
	ring_mb_();
	return ring_idx_load_(&r->sring->req_prod) - r->req_cons >= n;
}

/* ---------------------------------------------------------------- front */

/*
 * The front end's private view, for the userspace test frontends. The
 * backend is trusted no more than the frontend is: a response index that
 * runs past our requests is -EIO.
 */
struct ring_front {
	struct ring_sring *sring;
	uint32_t nr_ents;
	uint32_t slot_size;
	uint32_t req_prod_pvt; /* next request slot */
	uint32_t rsp_cons;     /* next response to copy */
	uint32_t req_pushed;   /* last value published in sring->req_prod */
	int err;
};

/*
 * ring_front_init - initialise a fresh shared ring and attach the front view
 * (SHARED_RING_INIT + FRONT_RING_INIT): the whole area is zeroed, indexes 0,
 * event indexes 1. Returns 0 or -EINVAL.
 */
static inline int ring_front_init(struct ring_front *f, void *addr,
				  unsigned int pages, size_t slot_size)
{
	struct ring_sring *s = addr;
	unsigned int n = ring_nr_ents(pages, slot_size);

	if (!s || n == 0 || ((uintptr_t)addr & 7))
		return -EINVAL;
	memset(addr, 0, (size_t)pages * RING_PAGE_SIZE);
	s->req_event = 1;
	s->rsp_event = 1;
	f->sring = s;
	f->nr_ents = n;
	f->slot_size = (uint32_t)slot_size;
	f->req_prod_pvt = 0;
	f->rsp_cons = 0;
	f->req_pushed = 0;
	f->err = 0;
	return 0;
}

/* Free request slots (RING_FREE_REQUESTS). */
static inline unsigned int ring_front_free(const struct ring_front *f)
{
	return f->nr_ents - (f->req_prod_pvt - f->rsp_cons);
}

/*
 * ring_front_put_req - write one request (@size <= slot size bytes, fully
 * initialised) into the next request slot. Returns 0, or -ENOSPC if the
 * ring is full. Not visible to the backend until ring_front_push_req.
 */
static inline int ring_front_put_req(struct ring_front *f, const void *req,
				     size_t size)
{
	assert(size <= f->slot_size);
	if (ring_front_free(f) == 0)
		return -ENOSPC;
	memcpy(ring_slot_(f->sring, f->nr_ents, f->slot_size, f->req_prod_pvt),
	       req, size);
	f->req_prod_pvt++;
	return 0;
}

/*
 * ring_front_push_req - publish the requests written since the last push.
 * Returns true if the backend must be notified (req_event in (old, new]),
 * as RING_PUSH_REQUESTS_AND_CHECK_NOTIFY.
 */
static inline bool ring_front_push_req(struct ring_front *f)
{
	uint32_t old = f->req_pushed, new = f->req_prod_pvt, ev;

	if (old == new)
		return false;
	/* Requests before req_prod; pairs with the rmb in ring_back_begin_. */
	ring_wmb_();
	ring_idx_store_(&f->sring->req_prod, new);
	f->req_pushed = new;
	/* req_prod before req_event; pairs with ring_back_final_check's mb. */
	ring_mb_();
	ev = ring_idx_load_(&f->sring->req_event);
	return (uint32_t)(new - ev) < (uint32_t)(new - old);
}

/*
 * ring_front_fetch_rsp - copy up to @max responses (@size bytes each) into
 * @dst and consume them. Returns the count, or -EIO (sticky) if the backend
 * published more responses than there are outstanding requests
 * (RING_RESPONSE_PROD_OVERFLOW, or rsp_prod moved backwards).
 */
static inline int ring_front_fetch_rsp(struct ring_front *f, void *dst,
				       size_t size, unsigned int max)
{
	unsigned char *d = dst;
	uint32_t prod, avail;
	unsigned int n;

	assert(size <= f->slot_size);
	if (f->err)
		return f->err;
	prod = ring_idx_load_(&f->sring->rsp_prod);
	/*
	 * rsp_prod before the responses; pairs with the wmb in
	 * ring_back_push_rsp / RING_PUSH_RESPONSES.
	 */
	ring_rmb_();
	avail = prod - f->rsp_cons;
	if (avail > f->req_pushed - f->rsp_cons) {
		f->err = -EIO;
		return -EIO;
	}
	n = avail < max ? avail : max;
	for (unsigned int i = 0; i < n; i++)
		memcpy(d + (size_t)i * size,
		       ring_slot_(f->sring, f->nr_ents, f->slot_size,
				  f->rsp_cons + i),
		       size);
	ring_copy_barrier_();
	f->rsp_cons += n;
	return (int)n;
}

/*
 * ring_front_final_check - before going idle: 1 if responses are pending,
 * 0 after arming rsp_event (RING_FINAL_CHECK_FOR_RESPONSES), or -EIO.
 */
static inline int ring_front_final_check(struct ring_front *f)
{
	if (f->err)
		return f->err;
	if (ring_idx_load_(&f->sring->rsp_prod) != f->rsp_cons)
		return 1;
	ring_idx_store_(&f->sring->rsp_event, f->rsp_cons + 1);
	/*
	 * rsp_event before the rsp_prod re-read; pairs with the mb in
	 * ring_back_push_rsp / RING_PUSH_RESPONSES_AND_CHECK_NOTIFY.
	 */
	ring_mb_();
	return ring_idx_load_(&f->sring->rsp_prod) != f->rsp_cons;
}

/* ---------------------------------------------------------------- netif */

/*
 * The netif rings have ABI-neutral layouts (no 64-bit fields), so one typed
 * view serves every guest. A guest-TX slot holds a netif_tx_request or, after
 * one with NETTXF_extra_info / XEN_NETIF_EXTRA_FLAG_MORE, a netif_extra_info;
 * a guest-RX response slot likewise holds a netif_rx_response or an extra.
 * The control ring (feature-ctrl-ring) is an ordinary DEFINE_RING_TYPES ring
 * with the same 64-byte header; only its slots (16 bytes) differ.
 *
 * RING_DEFINE_TYPED(name, req_t, rsp_t, entry_t) generates, for the typed
 * struct ring_<name>_back { struct ring_back b; } and _front alike:
 *   ring_<name>_back_attach(r, addr, pages)   ring_back_attach, slot entry_t
 *   ring_<name>_back_fetch(r, req_t *dst, max) ring_back_fetch
 *   ring_<name>_back_put_rsp(r, const rsp_t *) ring_back_put_rsp
 *   ring_<name>_front_init(f, addr, pages)    ring_front_init
 *   ring_<name>_front_put_req(f, const req_t *) ring_front_put_req
 *   ring_<name>_front_fetch_rsp(f, rsp_t *dst, max) ring_front_fetch_rsp
 * Push, final check, unfetch and inflight are the generic calls on &r->b /
 * &f->f.
 */
#define RING_DEFINE_TYPED(name, req_t, rsp_t, entry_t)                         \
	struct ring_##name##_back {                                            \
		struct ring_back b;                                            \
	};                                                                     \
	struct ring_##name##_front {                                           \
		struct ring_front f;                                           \
	};                                                                     \
	_Static_assert(sizeof(req_t) <= sizeof(entry_t) &&                     \
			       sizeof(rsp_t) <= sizeof(entry_t),               \
		       #name " message larger than its slot");                 \
	static inline int ring_##name##_back_attach(                           \
		struct ring_##name##_back *r, void *addr, unsigned int pages)  \
	{                                                                      \
		return ring_back_attach(&r->b, addr, pages, sizeof(entry_t));  \
	}                                                                      \
	static inline int ring_##name##_back_fetch(                            \
		struct ring_##name##_back *r, req_t *dst, unsigned int max)    \
	{                                                                      \
		return ring_back_fetch(&r->b, dst, sizeof(req_t), max);        \
	}                                                                      \
	static inline int ring_##name##_back_put_rsp(                          \
		struct ring_##name##_back *r, const rsp_t *rsp)                \
	{                                                                      \
		return ring_back_put_rsp(&r->b, rsp, sizeof(rsp_t));           \
	}                                                                      \
	static inline int ring_##name##_front_init(                            \
		struct ring_##name##_front *f, void *addr, unsigned int pages) \
	{                                                                      \
		return ring_front_init(&f->f, addr, pages, sizeof(entry_t));   \
	}                                                                      \
	static inline int ring_##name##_front_put_req(                         \
		struct ring_##name##_front *f, const req_t *req)               \
	{                                                                      \
		return ring_front_put_req(&f->f, req, sizeof(req_t));          \
	}                                                                      \
	static inline int ring_##name##_front_fetch_rsp(                       \
		struct ring_##name##_front *f, rsp_t *dst, unsigned int max)   \
	{                                                                      \
		return ring_front_fetch_rsp(&f->f, dst, sizeof(rsp_t), max);   \
	}

/*
 * A guest-TX request slot: a request, or an extra-info segment (8 of the 12
 * bytes; a test frontend writing one zeroes the union first).
 */
union ring_netif_tx_req {
	struct netif_tx_request req;
	struct netif_extra_info extra;
};

/* A guest-RX response slot: a response, or an extra-info segment. */
union ring_netif_rx_rsp {
	struct netif_rx_response rsp;
	struct netif_extra_info extra;
};

RING_DEFINE_TYPED(netif_tx, union ring_netif_tx_req, struct netif_tx_response,
		  union netif_tx_sring_entry)
RING_DEFINE_TYPED(netif_rx, struct netif_rx_request, union ring_netif_rx_rsp,
		  union netif_rx_sring_entry)
RING_DEFINE_TYPED(netif_ctrl, struct xen_netif_ctrl_request,
		  struct xen_netif_ctrl_response,
		  union xen_netif_ctrl_sring_entry)

#endif
