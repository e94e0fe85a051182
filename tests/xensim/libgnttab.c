// SPDX-License-Identifier: MIT
/*
 * libgnttab.c - the drop-in libxengnttab.so.1: the xengnttab (gntdev) and
 * xengntshr (gntalloc) API of /usr/include/xengnttab.h against xensimd's
 * hypervisor (hv.c; protocol in hvproto.h, shared client code in
 * simclient.c), with Debian's symbol versions (libxengnttab.map).
 *
 * Maps and shares go to xensimd, which pins or fills the grant entries; the
 * pages are then mapped here from the granting domain's memfd at contiguous
 * addresses. Grant copy runs here without a round trip, on the cached shared
 * memory of the granting domain, with the same pin code xensimd uses, and
 * reports per segment what Xen's gnttab_copy reports; the whole call fails
 * where Linux's IOCTL_GNTDEV_GRANT_COPY does. Errors are -1 and errno, as
 * the real library's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xengnttab.h>

#include "xensim/simclient.h"

struct simregion {
	struct simregion *next;
	uint8_t *addr;
	uint32_t count;
	uint32_t live; /* share: pages not yet unshared */
	uint32_t id;
};

struct xengntdev_handle {
	struct Xentoolcore__Active_Handle tc_ah;
	struct simconn conn;
	int restricted;	      /* xentoolcore_restrict_all() neutered it */
	pthread_mutex_t lock; /* the region list */
	struct simregion *regions;
};

/* 0 stays 0; -errno becomes -1 with errno set, the libraries' convention. */
static int set_errno(int rc)
{
	if (!rc)
		return 0;
	errno = -rc;
	return -1;
}

static void *null_errno(int rc)
{
	errno = -rc;
	return NULL;
}

/*
 * The real library dup2()s /dev/null over the gntdev fd, so every later
 * ioctl fails with ENOTTY. Closing our socket instead would also drop the
 * pins of pages still mapped, which Linux keeps until munmap, so only mark it.
 */
static int gnt_restrict_cb(struct Xentoolcore__Active_Handle *ah,
			   uint16_t domid)
{
	struct xengntdev_handle *h = (struct xengntdev_handle *)ah;

	__atomic_store_n(&h->restricted, 1, __ATOMIC_RELEASE);
	return 0;
}

static struct xengntdev_handle *handle_open(int toolcore)
{
	struct xengntdev_handle *h = calloc(1, sizeof(*h));
	int rc;

	if (!h)
		return NULL;
	if (toolcore) {
		h->tc_ah.restrict_callback = gnt_restrict_cb;
		xentoolcore__register_active_handle(&h->tc_ah);
	}
	rc = simconn_open(&h->conn, 1);
	if (rc) {
		if (toolcore)
			xentoolcore__deregister_active_handle(&h->tc_ah);
		free(h);
		return null_errno(rc);
	}
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

static int handle_close(struct xengntdev_handle *h, int toolcore)
{
	struct simregion *r;

	if (!h)
		return 0;
	if (toolcore)
		xentoolcore__deregister_active_handle(&h->tc_ah);
	/* xensimd releases every pin and share of this handle; the pages stay
	 * mapped in this process as gntdev/gntalloc leave them. */
	simconn_close(&h->conn);
	while ((r = h->regions)) {
		h->regions = r->next;
		free(r);
	}
	pthread_mutex_destroy(&h->lock);
	free(h);
	return 0;
}

static void region_add(struct xengntdev_handle *h, struct simregion *r)
{
	pthread_mutex_lock(&h->lock);
	r->next = h->regions;
	h->regions = r;
	pthread_mutex_unlock(&h->lock);
}

/* ---------------------------------------------------------------- gnttab */

SIM_EXPORT xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
					    unsigned open_flags)
{
	return handle_open(1);
}

SIM_EXPORT int xengnttab_close(xengnttab_handle *xgt)
{
	return handle_close(xgt, 1);
}

SIM_EXPORT int xengnttab_fd(xengnttab_handle *xgt)
{
	return xgt->conn.fd;
}

/*
 * Map @count pages at contiguous addresses: each page from its granting
 * domain's memfd at the frame xensimd pinned, runs of adjacent frames in one
 * mmap. 0 or -errno; on error nothing is left mapped.
 */
static int map_frames(struct xengntdev_handle *h, uint8_t *base, uint32_t count,
		      const uint32_t *domids, int stride,
		      const uint32_t *frames, int prot)
{
	struct simdom *d;
	uint32_t i, run;
	int rc;

	for (i = 0; i < count; i += run) {
		rc = simdom_get(&h->conn, domids[i * stride], &d);
		if (rc)
			return rc;
		for (run = 1;
		     i + run < count &&
		     domids[(i + run) * stride] == domids[i * stride] &&
		     frames[i + run] == frames[i] + run;
		     run++)
			;
		if (mmap(base + ((size_t)i << HV_PAGE_SHIFT),
			 (size_t)run << HV_PAGE_SHIFT, prot,
			 MAP_SHARED | MAP_FIXED, d->mem_fd,
			 (off_t)frames[i] << HV_PAGE_SHIFT) == MAP_FAILED)
			return -errno;
	}
	return 0;
}

static void *grant_map(struct xengntdev_handle *h, uint32_t count,
		       const uint32_t *domids, int stride, const uint32_t *refs,
		       int prot, uint32_t notify_offset, uint32_t notify_port)
{
	struct hv_req rq = { .op = HV_OP_GNT_MAP };
	struct hv_req urq = { .op = HV_OP_GNT_UNMAP };
	struct hv_rsp rs;
	struct simregion *r;
	uint32_t *pairs = NULL, *frames = NULL, i;
	void *base = MAP_FAILED;
	int rc;

	if (__atomic_load_n(&h->restricted, __ATOMIC_ACQUIRE))
		return null_errno(-ENOTTY);
	if (!count || count > HV_MAX_BATCH)
		return null_errno(-EINVAL);
	r = calloc(1, sizeof(*r));
	pairs = malloc(count * 8u);
	frames = malloc(count * 4u);
	rc = -ENOMEM;
	if (!r || !pairs || !frames)
		goto err_free;
	for (i = 0; i < count; i++) {
		pairs[2 * i] = domids[i * stride];
		pairs[2 * i + 1] = refs[i];
	}
	rq.count = count;
	rq.flags = (prot & PROT_WRITE) ? HV_F_WRITABLE : 0;
	/* The same filtering as the real library before SET_UNMAP_NOTIFY. */
	rq.notify_off = notify_offset < count * HV_PAGE_SIZE ? notify_offset
							     : HV_NONE;
	rq.notify_port = notify_port != (uint32_t)-1 ? notify_port : HV_NONE;
	rc = simconn_call(&h->conn, &rq, pairs, count * 8u, &rs, frames,
			  count * 4u, NULL, NULL);
	if (rc)
		goto err_free;
	rc = -EIO;
	if (rs.count != count)
		goto err_unpin;
	base = mmap(NULL, (size_t)count << HV_PAGE_SHIFT, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		rc = -errno;
		goto err_unpin;
	}
	rc = map_frames(h, base, count, domids, stride, frames, prot);
	if (rc)
		goto err_unmap;
	r->addr = base;
	r->count = count;
	r->id = rs.id;
	region_add(h, r);
	free(pairs);
	free(frames);
	return base;

err_unmap:
	munmap(base, (size_t)count << HV_PAGE_SHIFT);
err_unpin:
	urq.id = rs.id;
	simconn_call(&h->conn, &urq, NULL, 0, &rs, NULL, 0, NULL, NULL);
err_free:
	free(r);
	free(pairs);
	free(frames);
	return null_errno(rc);
}

SIM_EXPORT void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid,
					 uint32_t ref, int prot)
{
	return grant_map(xgt, 1, &domid, 0, &ref, prot, (uint32_t)-1,
			 (uint32_t)-1);
}

SIM_EXPORT void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count,
					  uint32_t *domids, uint32_t *refs,
					  int prot)
{
	return grant_map(xgt, count, domids, 1, refs, prot, (uint32_t)-1,
			 (uint32_t)-1);
}

SIM_EXPORT void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt,
						 uint32_t count, uint32_t domid,
						 uint32_t *refs, int prot)
{
	return grant_map(xgt, count, &domid, 0, refs, prot, (uint32_t)-1,
			 (uint32_t)-1);
}

SIM_EXPORT void *xengnttab_map_grant_ref_notify(xengnttab_handle *xgt,
						uint32_t domid, uint32_t ref,
						int prot,
						uint32_t notify_offset,
						evtchn_port_t notify_port)
{
	return grant_map(xgt, 1, &domid, 0, &ref, prot, notify_offset,
			 notify_port);
}

SIM_EXPORT int xengnttab_unmap(xengnttab_handle *xgt, void *start_address,
			       uint32_t count)
{
	struct hv_req rq = { .op = HV_OP_GNT_UNMAP };
	struct simregion **pr, *r;
	struct hv_rsp rs;

	if (__atomic_load_n(&xgt->restricted, __ATOMIC_ACQUIRE))
		return set_errno(-ENOTTY);
	if (!start_address)
		return set_errno(-EINVAL);
	pthread_mutex_lock(&xgt->lock);
	for (pr = &xgt->regions; (r = *pr); pr = &r->next)
		if (r->addr == start_address)
			break;
	/* As gntdev: the address must start a mapping of exactly @count. */
	if (!r || r->count != count) {
		pthread_mutex_unlock(&xgt->lock);
		return set_errno(-EINVAL);
	}
	*pr = r->next;
	pthread_mutex_unlock(&xgt->lock);
	munmap(r->addr, (size_t)count << HV_PAGE_SHIFT);
	rq.id = r->id;
	free(r);
	return set_errno(simconn_call(&xgt->conn, &rq, NULL, 0, &rs, NULL, 0,
				      NULL, NULL));
}

SIM_EXPORT int xengnttab_set_max_grants(xengnttab_handle *xgt,
					uint32_t nr_grants)
{
	/* Current gntdev has no such ioctl and the real library ignores it. */
	return 0;
}

/*
 * Xen's acquire_grant_for_copy for one side of a segment: the granting
 * domain must exist (GNTST_bad_domain), then the pin checks of hvp_gnt_pin.
 */
static int copy_claim(struct xengntdev_handle *h, uint16_t domid, uint32_t ref,
		      uint16_t off, int readonly, struct simdom **dp,
		      uint8_t **p)
{
	uint32_t frame;
	int st;

	st = hvp_gnt_pin(&(*dp)->gnt, ref, (uint16_t)h->conn.domid, readonly, 0,
			 0, &frame);
	if (st != GNTST_okay)
		return st;
	*p = (*dp)->mem + ((size_t)frame << HV_PAGE_SHIFT) + off;
	return GNTST_okay;
}

static int copy_domain(struct xengntdev_handle *h, uint16_t domid,
		       struct simdom **dp)
{
	if (domid == DOMID_SELF)
		domid = (uint16_t)h->conn.domid;
	return simdom_get(&h->conn, domid, dp) ? GNTST_bad_domain : GNTST_okay;
}

SIM_EXPORT int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
				    xengnttab_grant_copy_segment_t *segs)
{
	uint32_t i;

	if (__atomic_load_n(&xgt->restricted, __ATOMIC_ACQUIRE))
		return set_errno(-ENOTTY);
	/*
	 * gntdev refuses a local->local segment and a gref side crossing its
	 * page with EINVAL for the whole call. It finds them as it goes; we
	 * look first, so such a call copies nothing at all.
	 */
	for (i = 0; i < count; i++) {
		const xengnttab_grant_copy_segment_t *s = &segs[i];

		if (!(s->flags & (GNTCOPY_source_gref | GNTCOPY_dest_gref)))
			return set_errno(-EINVAL);
		if ((s->flags & GNTCOPY_source_gref) &&
		    s->source.foreign.offset + s->len > HV_PAGE_SIZE)
			return set_errno(-EINVAL);
		if ((s->flags & GNTCOPY_dest_gref) &&
		    s->dest.foreign.offset + s->len > HV_PAGE_SIZE)
			return set_errno(-EINVAL);
	}
	for (i = 0; i < count; i++) {
		xengnttab_grant_copy_segment_t *s = &segs[i];
		int sg = !!(s->flags & GNTCOPY_source_gref);
		int dg = !!(s->flags & GNTCOPY_dest_gref);
		struct simdom *sd = NULL, *dd = NULL;
		uint8_t *src = s->source.virt, *dst = s->dest.virt;
		int st = GNTST_okay;

		/* Xen's order: both domains, then the source, then the dest. */
		if (sg)
			st = copy_domain(xgt, s->source.foreign.domid, &sd);
		if (st == GNTST_okay && dg)
			st = copy_domain(xgt, s->dest.foreign.domid, &dd);
		if (st == GNTST_okay && sg)
			st = copy_claim(xgt, s->source.foreign.domid,
					s->source.foreign.ref,
					s->source.foreign.offset, 1, &sd, &src);
		if (st == GNTST_okay && dg) {
			st = copy_claim(xgt, s->dest.foreign.domid,
					s->dest.foreign.ref,
					s->dest.foreign.offset, 0, &dd, &dst);
			if (st != GNTST_okay && sg)
				hvp_gnt_unpin(&sd->gnt, s->source.foreign.ref,
					      1, 0);
		}
		if (st == GNTST_okay) {
			/* Pinned, not locked: the guest cannot end access now.
			 */
			memcpy(dst, src, s->len);
			if (sg)
				hvp_gnt_unpin(&sd->gnt, s->source.foreign.ref,
					      1, 0);
			if (dg)
				hvp_gnt_unpin(&dd->gnt, s->dest.foreign.ref, 0,
					      0);
		}
		s->status = (int16_t)st;
	}
	return 0;
}

/* No dma-buf in the emulation: as a gntdev built without it. */
SIM_EXPORT int xengnttab_dmabuf_exp_from_refs(xengnttab_handle *xgt,
					      uint32_t domid, uint32_t flags,
					      uint32_t count,
					      const uint32_t *refs,
					      uint32_t *fd)
{
	return set_errno(count ? -EOPNOTSUPP : -EINVAL);
}

SIM_EXPORT int xengnttab_dmabuf_exp_wait_released(xengnttab_handle *xgt,
						  uint32_t fd,
						  uint32_t wait_to_ms)
{
	return set_errno(-EOPNOTSUPP);
}

SIM_EXPORT int xengnttab_dmabuf_imp_to_refs(xengnttab_handle *xgt,
					    uint32_t domid, uint32_t fd,
					    uint32_t count, uint32_t *refs)
{
	return set_errno(count ? -EOPNOTSUPP : -EINVAL);
}

SIM_EXPORT int xengnttab_dmabuf_imp_release(xengnttab_handle *xgt, uint32_t fd)
{
	return set_errno(-EOPNOTSUPP);
}

/* ---------------------------------------------------------------- gntshr */

SIM_EXPORT xengntshr_handle *xengntshr_open(struct xentoollog_logger *logger,
					    unsigned open_flags)
{
	/* The real gntshr handle is not registered with xentoolcore. */
	return handle_open(0);
}

SIM_EXPORT int xengntshr_close(xengntshr_handle *xgs)
{
	return handle_close(xgs, 0);
}

SIM_EXPORT int xengntshr_fd(xengntshr_handle *xgs)
{
	return xgs->conn.fd;
}

static void *share(struct xengntdev_handle *h, uint32_t domid, int count,
		   uint32_t *refs, int writable, uint32_t notify_offset,
		   uint32_t notify_port)
{
	struct hv_req rq = { .op = HV_OP_GNT_SHARE };
	struct hv_req urq = { .op = HV_OP_GNT_UNSHARE };
	struct hv_rsp rs;
	struct simregion *r;
	struct simdom *me;
	uint32_t *out = NULL, *frames = NULL, n, i;
	uint8_t *base = MAP_FAILED;
	int rc;

	if (count <= 0 || (uint32_t)count > HV_MAX_BATCH)
		return null_errno(-EINVAL);
	n = (uint32_t)count;
	rc = simdom_get(&h->conn, h->conn.domid, &me);
	if (rc)
		return null_errno(rc);
	r = calloc(1, sizeof(*r));
	out = malloc(n * 8u);
	frames = malloc(n * 4u);
	rc = -ENOMEM;
	if (!r || !out || !frames)
		goto err_free;
	rq.domid = domid;
	rq.count = n;
	rq.flags = writable ? HV_F_WRITABLE : 0;
	rq.notify_off = notify_offset < n * HV_PAGE_SIZE ? notify_offset
							 : HV_NONE;
	rq.notify_port = notify_port != (uint32_t)-1 ? notify_port : HV_NONE;
	rc = simconn_call(&h->conn, &rq, NULL, 0, &rs, out, n * 8u, NULL, NULL);
	if (rc)
		goto err_free;
	urq.id = rs.id;
	urq.count = n;
	rc = -EIO;
	if (rs.count != 2 * n)
		goto err_unshare;
	base = mmap(NULL, (size_t)n << HV_PAGE_SHIFT, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		rc = -errno;
		goto err_unshare;
	}
	for (i = 0; i < n; i++)
		frames[i] = out[2 * i + 1];
	rc = map_frames(h, base, n, &h->conn.domid, 0, frames,
			PROT_READ | PROT_WRITE);
	if (rc)
		goto err_unmap;
	for (i = 0; i < n; i++)
		refs[i] = out[2 * i];
	r->addr = base;
	r->count = r->live = n;
	r->id = rs.id;
	region_add(h, r);
	free(out);
	free(frames);
	return base;

err_unmap:
	munmap(base, (size_t)n << HV_PAGE_SHIFT);
err_unshare:
	simconn_call(&h->conn, &urq, NULL, 0, &rs, NULL, 0, NULL, NULL);
err_free:
	free(r);
	free(out);
	free(frames);
	return null_errno(rc);
}

SIM_EXPORT void *xengntshr_share_pages(xengntshr_handle *xgs, uint32_t domid,
				       int count, uint32_t *refs, int writable)
{
	return share(xgs, domid, count, refs, writable, (uint32_t)-1,
		     (uint32_t)-1);
}

SIM_EXPORT void *xengntshr_share_page_notify(xengntshr_handle *xgs,
					     uint32_t domid, uint32_t *ref,
					     int writable,
					     uint32_t notify_offset,
					     evtchn_port_t notify_port)
{
	return share(xgs, domid, 1, ref, writable, notify_offset, notify_port);
}

SIM_EXPORT int xengntshr_unshare(xengntshr_handle *xgs, void *start_address,
				 uint32_t count)
{
	struct hv_req rq = { .op = HV_OP_GNT_UNSHARE };
	struct simregion **pr, *r, *done = NULL;
	uint8_t *a = start_address;
	struct hv_rsp rs;
	size_t first;

	/* The real call is munmap(), and gntalloc ends each gref whose last
	 * mapping went: a range inside one share ends those pages. */
	pthread_mutex_lock(&xgs->lock);
	for (pr = &xgs->regions; (r = *pr); pr = &r->next)
		if (a >= r->addr &&
		    a < r->addr + ((size_t)r->count << HV_PAGE_SHIFT))
			break;
	if (!r) {
		pthread_mutex_unlock(&xgs->lock);
		return munmap(start_address, (size_t)count << HV_PAGE_SHIFT);
	}
	first = (size_t)(a - r->addr) >> HV_PAGE_SHIFT;
	if (((uintptr_t)a & (HV_PAGE_SIZE - 1)) || !count ||
	    count > r->count - first || count > r->live) {
		pthread_mutex_unlock(&xgs->lock);
		return set_errno(-EINVAL);
	}
	rq.id = r->id;
	rq.first = (uint32_t)first;
	rq.count = count;
	r->live -= count;
	if (!r->live) {
		*pr = r->next;
		done = r;
	}
	pthread_mutex_unlock(&xgs->lock);
	munmap(start_address, (size_t)count << HV_PAGE_SHIFT);
	free(done);
	/* Ending a page twice is refused by xensimd; munmap already did the
	 * caller-visible part, as the real call. */
	simconn_call(&xgs->conn, &rq, NULL, 0, &rs, NULL, 0, NULL, NULL);
	return 0;
}
