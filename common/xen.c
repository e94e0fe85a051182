// SPDX-License-Identifier: MIT
/*
 * xen.c - see xen.h. The only file that includes the libxen* headers: it
 * turns their -1+errno / NULL / bool results into 0/-errno once, here.
 */
#include "common/xen.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xen/grant_table.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>
#include <xentoolcore.h>

/* struct xen_gcopy is passed to xengnttab_grant_copy() as it is. */
_Static_assert(sizeof(struct xen_gcopy) ==
		       sizeof(xengnttab_grant_copy_segment_t),
	       "xen_gcopy size");
_Static_assert(offsetof(struct xen_gcopy, dest) ==
		       offsetof(xengnttab_grant_copy_segment_t, dest),
	       "xen_gcopy dest");
_Static_assert(offsetof(struct xen_gcopy, len) ==
		       offsetof(xengnttab_grant_copy_segment_t, len),
	       "xen_gcopy len");
_Static_assert(offsetof(struct xen_gcopy, flags) ==
		       offsetof(xengnttab_grant_copy_segment_t, flags),
	       "xen_gcopy flags");
_Static_assert(offsetof(struct xen_gcopy, status) ==
		       offsetof(xengnttab_grant_copy_segment_t, status),
	       "xen_gcopy status");
_Static_assert(offsetof(struct xen_gcopy, source.foreign.domid) ==
		       offsetof(xengnttab_grant_copy_segment_t,
				source.foreign.domid),
	       "xen_gcopy foreign domid");

/* errno after a failed library call, never 0 (a library may forget it). */
static int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

/* ------------------------------------------------------------ xenstore */
struct xen_store {
	struct xs_handle *h;
};

int xen_store_open(struct xen_store **out)
{
	struct xen_store *xs = calloc(1, sizeof(*xs));

	if (!xs)
		return -ENOMEM;
	errno = 0;
	xs->h = xs_open(0);
	if (!xs->h) {
		int rc = neg_errno();

		free(xs);
		return rc;
	}
	*out = xs;
	return 0;
}

void xen_store_close(struct xen_store *xs)
{
	if (!xs)
		return;
	xs_close(xs->h);
	free(xs);
}

int xen_store_read(struct xen_store *xs, xen_txn_t t, const char *path,
		   char **val, size_t *len)
{
	unsigned int n;
	char *v;

	errno = 0;
	v = xs_read(xs->h, t, path, &n);
	if (!v)
		return neg_errno();
	*val = v; /* libxenstore NUL-terminates what it returns */
	if (len)
		*len = n;
	return 0;
}

int xen_store_read_uint(struct xen_store *xs, xen_txn_t t, const char *path,
			unsigned long max, unsigned long *v)
{
	unsigned long x;
	char *s, *end;
	size_t len;
	int rc = xen_store_read(xs, t, path, &s, &len);

	if (rc)
		return rc;
	errno = 0;
	/* strtoul accepts leading blanks and '-': a guest's value may not. */
	if (!len || strlen(s) != len || s[0] < '0' || s[0] > '9') {
		rc = -EINVAL;
		goto out;
	}
	x = strtoul(s, &end, 0);
	if (errno || *end || x > max) {
		rc = -EINVAL;
		goto out;
	}
	*v = x;
out:
	free(s);
	return rc;
}

int xen_store_write(struct xen_store *xs, xen_txn_t t, const char *path,
		    const char *val)
{
	errno = 0;
	return xs_write(xs->h, t, path, val, strlen(val)) ? 0 : neg_errno();
}

int xen_store_printf(struct xen_store *xs, xen_txn_t t, const char *path,
		     const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	return xen_store_write(xs, t, path, buf);
}

int xen_store_mkdir(struct xen_store *xs, xen_txn_t t, const char *path)
{
	errno = 0;
	return xs_mkdir(xs->h, t, path) ? 0 : neg_errno();
}

int xen_store_rm(struct xen_store *xs, xen_txn_t t, const char *path)
{
	errno = 0;
	if (xs_rm(xs->h, t, path))
		return 0;
	return errno == ENOENT ? 0 : neg_errno();
}

int xen_store_ls(struct xen_store *xs, xen_txn_t t, const char *path,
		 char ***names, unsigned int *n)
{
	char **v;

	errno = 0;
	v = xs_directory(xs->h, t, path, n);
	if (!v)
		return neg_errno();
	*names = v; /* one block: pointers then strings, as xen.h says */
	return 0;
}

int xen_store_set_owner_reader(struct xen_store *xs, xen_txn_t t,
			       const char *path, unsigned int owner,
			       unsigned int reader)
{
	struct xs_permissions p[2] = {
		{ .id = owner, .perms = XS_PERM_NONE },
		{ .id = reader, .perms = XS_PERM_READ },
	};

	errno = 0;
	return xs_set_permissions(xs->h, t, path, p, owner == reader ? 1 : 2)
		       ? 0
		       : neg_errno();
}

int xen_store_txn_start(struct xen_store *xs, xen_txn_t *t)
{
	errno = 0;
	*t = xs_transaction_start(xs->h);
	return *t == XBT_NULL ? neg_errno() : 0;
}

int xen_store_txn_end(struct xen_store *xs, xen_txn_t t, int abort)
{
	errno = 0;
	return xs_transaction_end(xs->h, t, abort) ? 0 : neg_errno();
}

int xen_store_watch(struct xen_store *xs, const char *path, const char *token)
{
	errno = 0;
	return xs_watch(xs->h, path, token) ? 0 : neg_errno();
}

int xen_store_unwatch(struct xen_store *xs, const char *path, const char *token)
{
	errno = 0;
	return xs_unwatch(xs->h, path, token) ? 0 : neg_errno();
}

int xen_store_watch_fd(struct xen_store *xs)
{
	int fd;

	errno = 0;
	fd = xs_fileno(xs->h);
	return fd < 0 ? neg_errno() : fd;
}

int xen_store_watch_next(struct xen_store *xs, char **path, char **token,
			 void **mem)
{
	char **ev;

	errno = 0;
	ev = xs_check_watch(xs->h);
	if (!ev)
		return errno == EAGAIN || !errno ? -EAGAIN : -errno;
	/* One block: the vector, then the strings it points to. */
	*path = ev[XS_WATCH_PATH];
	*token = ev[XS_WATCH_TOKEN];
	*mem = ev;
	return 0;
}

int xen_store_alive(struct xen_store *xs)
{
	char *v = NULL;
	int rc = xen_store_read(xs, XEN_TXN_NONE, "domid", &v, NULL);

	free(v);
	/* An answer, even "no such node" or "denied", is a live xenstored. */
	if (!rc || rc == -ENOENT || rc == -EACCES || rc == -EPERM)
		return 0;
	return rc;
}

/* ---------------------------------------------------------- event channels */
struct xen_evtchn {
	xenevtchn_handle *h;
};

/* Set once at start-up, before threads open handles; -1: unrestricted. */
static int evtchn_restrict_domid = -1;

void xen_evtchn_restrict_opens(unsigned int domid)
{
	evtchn_restrict_domid = (int)domid;
}

int xen_evtchn_open(struct xen_evtchn **out)
{
	struct xen_evtchn *xe = calloc(1, sizeof(*xe));

	if (!xe)
		return -ENOMEM;
	errno = 0;
	xe->h = xenevtchn_open(NULL, 0);
	if (!xe->h) {
		int rc = neg_errno();

		free(xe);
		return rc;
	}
	if (evtchn_restrict_domid >= 0 &&
	    xenevtchn_restrict(xe->h, (domid_t)evtchn_restrict_domid)) {
		int rc = neg_errno();

		xenevtchn_close(xe->h);
		free(xe);
		return rc;
	}
	*out = xe;
	return 0;
}

void xen_evtchn_close(struct xen_evtchn *xe)
{
	if (!xe)
		return;
	xenevtchn_close(xe->h);
	free(xe);
}

int xen_evtchn_fd(struct xen_evtchn *xe)
{
	return xenevtchn_fd(xe->h);
}

int xen_evtchn_bind(struct xen_evtchn *xe, unsigned int domid,
		    uint32_t remote_port)
{
	xenevtchn_port_or_error_t p;

	errno = 0;
	p = xenevtchn_bind_interdomain(xe->h, domid, remote_port);
	return p < 0 ? neg_errno() : (int)p;
}

int xen_evtchn_alloc_unbound(struct xen_evtchn *xe, unsigned int domid)
{
	xenevtchn_port_or_error_t p;

	errno = 0;
	p = xenevtchn_bind_unbound_port(xe->h, domid);
	return p < 0 ? neg_errno() : (int)p;
}

int xen_evtchn_unbind(struct xen_evtchn *xe, uint32_t port)
{
	errno = 0;
	return xenevtchn_unbind(xe->h, port) ? neg_errno() : 0;
}

int xen_evtchn_notify(struct xen_evtchn *xe, uint32_t port)
{
	errno = 0;
	return xenevtchn_notify(xe->h, port) ? neg_errno() : 0;
}

int xen_evtchn_pending(struct xen_evtchn *xe)
{
	xenevtchn_port_or_error_t p;

	errno = 0;
	p = xenevtchn_pending(xe->h);
	return p < 0 ? neg_errno() : (int)p;
}

int xen_evtchn_unmask(struct xen_evtchn *xe, uint32_t port)
{
	errno = 0;
	return xenevtchn_unmask(xe->h, port) ? neg_errno() : 0;
}

int xen_evstorm_note(struct xen_evstorm *s, uint32_t work)
{
	if (work != s->work_at) {
		s->work_at = work;
		s->idle = 0;
		s->ms = 0;
		return 0;
	}
	s->idle++;
	return 1;
}

unsigned int xen_evstorm_backoff(struct xen_evstorm *s)
{
	if (s->idle < XEN_EVSTORM_IDLE)
		return 0;
	s->idle = 0;
	s->ms = s->ms ? s->ms * 2 : XEN_EVSTORM_MIN_MS;
	if (s->ms > XEN_EVSTORM_MAX_MS)
		s->ms = XEN_EVSTORM_MAX_MS;
	return s->ms;
}

/* ------------------------------------------------------------ grant tables */
struct xen_gnttab {
	xengnttab_handle *h;
};

int xen_gnttab_open(struct xen_gnttab **out)
{
	struct xen_gnttab *xg = calloc(1, sizeof(*xg));

	if (!xg)
		return -ENOMEM;
	errno = 0;
	xg->h = xengnttab_open(NULL, 0);
	if (!xg->h) {
		int rc = neg_errno();

		free(xg);
		return rc;
	}
	*out = xg;
	return 0;
}

void xen_gnttab_close(struct xen_gnttab *xg)
{
	if (!xg)
		return;
	xengnttab_close(xg->h);
	free(xg);
}

int xen_gnttab_set_max_grants(struct xen_gnttab *xg, uint32_t count)
{
	errno = 0;
	return xengnttab_set_max_grants(xg->h, count) ? neg_errno() : 0;
}

int xen_gnttab_map(struct xen_gnttab *xg, unsigned int domid, uint32_t count,
		   const uint32_t *refs, int writable, void **addr)
{
	void *p;

	errno = 0;
	/* The library's prototype takes a non-const array it never writes. */
	p = xengnttab_map_domain_grant_refs(
		xg->h, count, domid, (uint32_t *)refs,
		writable ? PROT_READ | PROT_WRITE : PROT_READ);
	if (!p)
		return neg_errno();
	*addr = p;
	return 0;
}

int xen_gnttab_unmap(struct xen_gnttab *xg, void *addr, uint32_t count)
{
	errno = 0;
	return xengnttab_unmap(xg->h, addr, count) ? neg_errno() : 0;
}

void xen_gcopy_from_guest(struct xen_gcopy *seg, unsigned int domid,
			  uint32_t ref, uint16_t offset, void *dst,
			  uint16_t len)
{
	seg->source.foreign.ref = ref;
	seg->source.foreign.offset = offset;
	seg->source.foreign.domid = (uint16_t)domid;
	seg->dest.virt = dst;
	seg->len = len;
	seg->flags = GNTCOPY_source_gref;
	seg->status = GNTST_general_error;
}

void xen_gcopy_to_guest(struct xen_gcopy *seg, unsigned int domid, uint32_t ref,
			uint16_t offset, const void *src, uint16_t len)
{
	/* The library's segment has no const member for the local source. */
	seg->source.virt = (void *)src;
	seg->dest.foreign.ref = ref;
	seg->dest.foreign.offset = offset;
	seg->dest.foreign.domid = (uint16_t)domid;
	seg->len = len;
	seg->flags = GNTCOPY_dest_gref;
	seg->status = GNTST_general_error;
}

int xen_gcopy_run(struct xen_gnttab *xg, struct xen_gcopy *segs, uint32_t n)
{
	if (!n)
		return 0;
	errno = 0;
	return xengnttab_grant_copy(xg->h, n,
				    (xengnttab_grant_copy_segment_t *)segs)
		       ? neg_errno()
		       : 0;
}

const char *xen_gntst_name(int16_t status)
{
	static const char *const names[] = {
		"okay",		"general_error",   "bad_domain",
		"bad_gntref",	"bad_handle",	   "bad_virt_addr",
		"bad_dev_addr", "no_device_space", "permission_denied",
		"bad_page",	"bad_copy_arg",	   "address_too_big",
		"eagain",	"no_space",
	};

	if (status <= 0 && -status < (int)(sizeof(names) / sizeof(names[0])))
		return names[-status];
	return "unknown";
}

/* -------------------------------------------- grant sharing (frontends) */
struct xen_gntshr {
	xengntshr_handle *h;
};

int xen_gntshr_open(struct xen_gntshr **out)
{
	struct xen_gntshr *xs = calloc(1, sizeof(*xs));

	if (!xs)
		return -ENOMEM;
	errno = 0;
	xs->h = xengntshr_open(NULL, 0);
	if (!xs->h) {
		int rc = neg_errno();

		free(xs);
		return rc;
	}
	*out = xs;
	return 0;
}

void xen_gntshr_close(struct xen_gntshr *xs)
{
	if (!xs)
		return;
	xengntshr_close(xs->h);
	free(xs);
}

int xen_gntshr_share(struct xen_gntshr *xs, unsigned int domid, uint32_t count,
		     int writable, uint32_t *refs, void **addr)
{
	void *p;

	errno = 0;
	p = xengntshr_share_pages(xs->h, domid, (int)count, refs, writable);
	if (!p)
		return neg_errno();
	*addr = p;
	return 0;
}

int xen_gntshr_unshare(struct xen_gntshr *xs, void *addr, uint32_t count)
{
	errno = 0;
	return xengntshr_unshare(xs->h, addr, count) ? neg_errno() : 0;
}

/* ---------------------------------------------------------------- misc */
int xen_restrict_all(unsigned int domid)
{
	errno = 0;
	return xentoolcore_restrict_all(domid) ? neg_errno() : 0;
}
