// SPDX-License-Identifier: MIT
/*
 * xfront.c - see xfront.h. Waiting uses a xenstore watch on the backend's
 * state node and re-reads it after every event, so a missed or coalesced
 * event cannot make a wait miss a state that is already there.
 */
#include "front/xfront.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

int xfront_open(struct xfront *f, const char *kind, unsigned int devid)
{
	char p[300], *be = NULL;
	unsigned long v;
	int rc;

	memset(f, 0, sizeof(*f));
	rc = xen_store_open(&f->xs);
	if (rc)
		return rc;
	rc = xen_store_read_uint(f->xs, XEN_TXN_NONE, "domid", 0x7FEF, &v);
	if (rc)
		goto err_close;
	f->self = (unsigned int)v;
	snprintf(f->fe_path, sizeof(f->fe_path),
		 "/local/domain/%u/device/%s/%u", f->self, kind, devid);
	snprintf(p, sizeof(p), "%s/backend-id", f->fe_path);
	rc = xen_store_read_uint(f->xs, XEN_TXN_NONE, p, 0x7FEF, &v);
	if (rc)
		goto err_close;
	f->be_domid = (unsigned int)v;
	snprintf(p, sizeof(p), "%s/backend", f->fe_path);
	rc = xen_store_read(f->xs, XEN_TXN_NONE, p, &be, NULL);
	if (rc)
		goto err_close;
	if (strlen(be) >= sizeof(f->be_path)) {
		rc = -ENAMETOOLONG;
		free(be);
		goto err_close;
	}
	strcpy(f->be_path, be);
	free(be);
	return 0;

err_close:
	xen_store_close(f->xs);
	f->xs = NULL;
	return rc;
}

void xfront_close(struct xfront *f)
{
	xen_store_close(f->xs);
	f->xs = NULL;
}

int xfront_write(struct xfront *f, xen_txn_t t, const char *node,
		 const char *fmt, ...)
{
	char p[300], val[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(val))
		return -EINVAL;
	snprintf(p, sizeof(p), "%s/%s", f->fe_path, node);
	return xen_store_write(f->xs, t, p, val);
}

int xfront_set_state(struct xfront *f, int state)
{
	return xfront_write(f, XEN_TXN_NONE, "state", "%d", state);
}

int xfront_read_be(struct xfront *f, const char *node, char **val)
{
	char p[300];

	snprintf(p, sizeof(p), "%s/%s", f->be_path, node);
	return xen_store_read(f->xs, XEN_TXN_NONE, p, val, NULL);
}

int xfront_read_be_uint(struct xfront *f, const char *node, unsigned long max,
			unsigned long *v)
{
	char p[300];

	snprintf(p, sizeof(p), "%s/%s", f->be_path, node);
	return xen_store_read_uint(f->xs, XEN_TXN_NONE, p, max, v);
}

int xfront_be_state(struct xfront *f)
{
	unsigned long v;
	int rc = xfront_read_be_uint(f, "state", 8, &v);

	return rc ? rc : (int)v;
}

int xfront_wait_be(struct xfront *f, unsigned int mask, unsigned int timeout_ms)
{
	long deadline = mono_ms() + timeout_ms;
	char p[300], *path, *token;
	struct pollfd pfd;
	void *mem;
	int s, fd;

	snprintf(p, sizeof(p), "%s/state", f->be_path);
	if (xen_store_watch(f->xs, p, "xfront-wait"))
		return -EIO;
	fd = xen_store_watch_fd(f->xs);
	for (;;) {
		long left;

		s = xfront_be_state(f);
		if (s == -ENOENT)
			s = 0;
		if (s >= 0 && (mask & (1U << s)))
			break;
		left = deadline - mono_ms();
		if (left <= 0) {
			s = -ETIMEDOUT;
			break;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(left < 100 ? left : 100)) > 0)
			while (!xen_store_watch_next(f->xs, &path, &token,
						     &mem))
				free(mem);
	}
	xen_store_unwatch(f->xs, p, "xfront-wait");
	return s;
}
