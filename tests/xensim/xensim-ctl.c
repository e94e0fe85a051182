// SPDX-License-Identifier: MIT
/*
 * xensim-ctl - the toolstack of the emulated Xen, as small as it can be.
 *
 * Run as Dom0 (tests/xensim/xensim sets the environment), it does through
 * the real libxenstore what xen-init-dom0 and libxl do on a real host:
 *
 *   xensim-ctl dom0-init              /local/domain/0 {name, domid}
 *   xensim-ctl domain-create N NAME   libxl's tree for domain N (perms as
 *                                     libxl__domain_make sets them), then
 *                                     INTRODUCE, which makes xensimd create
 *                                     the domain's memory, grant table,
 *                                     event channels and xenstore socket
 *   xensim-ctl domain-destroy N       RELEASE (fires @releaseDomain, closes
 *                                     the domain's event channels), then the
 *                                     removal of its tree, as libxl does
 *
 *   xensim-ctl device-add KIND FE DEVID [be:KEY=VAL | fe:KEY=VAL]...
 *                                     a device as libxl__device_generic_add
 *                                     writes it: backend and frontend
 *                                     directories in one transaction, each
 *                                     owned by its domain and readable by
 *                                     the other; libxl's keys for KIND vbd,
 *                                     vbd3 and vif, then the KEY=VALs given
 *   xensim-ctl device-remove KIND FE DEVID [TIMEOUT_S]
 *                                     libxl's removal: online=0, state=5,
 *                                     wait for the backend's Closed (10 s),
 *                                     then remove both directories; exit 3
 *                                     if the backend never closed
 *
 * The backend domain is 0; BE=<domid> as the first KEY=VAL pair
 * ("be-domid=N") puts it in a driver domain.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>

struct ctl {
	struct xs_handle *xs;
	xs_transaction_t t;
};

/* Owner Dom0, no access for others, read for the guest (libxl's roperm). */
static bool ctl_mkdir_ro(struct ctl *c, const char *path, unsigned int domid)
{
	struct xs_permissions p[2] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = domid, .perms = XS_PERM_READ },
	};

	return xs_mkdir(c->xs, c->t, path) &&
	       xs_set_permissions(c->xs, c->t, path, p, 2);
}

/* Owned by the guest, no access for others (libxl's rwperm). */
static bool ctl_mkdir_rw(struct ctl *c, const char *path, unsigned int domid)
{
	struct xs_permissions p = { .id = domid, .perms = XS_PERM_NONE };

	return xs_mkdir(c->xs, c->t, path) &&
	       xs_set_permissions(c->xs, c->t, path, &p, 1);
}

static bool ctl_write(struct ctl *c, const char *path, const char *val)
{
	return xs_write(c->xs, c->t, path, val, strlen(val));
}

static bool ctl_printf(struct ctl *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The path is the format's expansion up to "=", the value after it. */
static bool ctl_printf(struct ctl *c, const char *fmt, ...)
{
	char buf[512], *eq;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) || !(eq = strchr(buf, '='))) {
		errno = EINVAL;
		return false;
	}
	*eq = '\0';
	return ctl_write(c, buf, eq + 1);
}

static int ctl_dom0_init(struct ctl *c)
{
	return ctl_printf(c, "/local/domain/0/name=Domain-0") &&
			       ctl_printf(c, "/local/domain/0/domid=0")
		       ? 0
		       : -errno;
}

static bool ctl_guest_tree(struct ctl *c, unsigned int d, const char *name)
{
	static const char *const ro_dirs[] = { "cpu", "memory", "device",
					       "control" };
	static const char *const rw_dirs[] = {
		"control/shutdown",
		"control/feature-poweroff",
		"control/feature-reboot",
		"control/feature-suspend",
		"control/sysrq",
		"data",
		"drivers",
		"feature",
		"attr",
		"error",
		"device/suspend/event-channel",
	};
	char dom[64], vm[96], path[160];
	size_t i;

	snprintf(dom, sizeof(dom), "/local/domain/%u", d);
	/* A fixed, readable uuid per domid: the emulator has no real ones. */
	snprintf(vm, sizeof(vm), "/vm/00000000-0000-4000-8000-%012x", d);

	xs_rm(c->xs, c->t, dom);
	xs_rm(c->xs, c->t, vm);
	if (!ctl_mkdir_ro(c, dom, d) || !ctl_mkdir_ro(c, vm, d))
		return false;
	snprintf(path, sizeof(path), "/libxl/%u", d);
	xs_rm(c->xs, c->t, path);
	/* The toolstack's own notes: Dom0 only. */
	if (!ctl_mkdir_rw(c, path, 0))
		return false;
	for (i = 0; i < sizeof(ro_dirs) / sizeof(ro_dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dom, ro_dirs[i]);
		if (!ctl_mkdir_ro(c, path, d))
			return false;
	}
	for (i = 0; i < sizeof(rw_dirs) / sizeof(rw_dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dom, rw_dirs[i]);
		if (!ctl_mkdir_rw(c, path, d))
			return false;
	}
	return ctl_printf(c, "%s/vm=%s", dom, vm) &&
	       ctl_printf(c, "%s/name=%s", dom, name) &&
	       ctl_printf(c, "%s/domid=%u", dom, d) &&
	       ctl_printf(c, "%s/memory/static-max=1048576", dom) &&
	       ctl_printf(c, "%s/memory/target=1048576", dom) &&
	       ctl_printf(c, "%s/name=%s", vm, name) &&
	       ctl_printf(c, "%s/uuid=%s", vm, vm + 4);
}

static int ctl_domain_create(struct ctl *c, unsigned int d, const char *name)
{
	/* libxl writes the tree in one transaction, retried on EAGAIN. */
	for (;;) {
		c->t = xs_transaction_start(c->xs);
		if (c->t == XBT_NULL)
			return -errno;
		if (!ctl_guest_tree(c, d, name)) {
			int err = errno;

			xs_transaction_end(c->xs, c->t, true);
			return -err;
		}
		if (xs_transaction_end(c->xs, c->t, false))
			break;
		if (errno != EAGAIN)
			return -errno;
	}
	c->t = XBT_NULL;
	/* No ring page or port exists here; xenstored wants a port >= 1. */
	if (!xs_introduce_domain(c->xs, d, 0, 1))
		return -errno;
	return 0;
}

static int ctl_domain_destroy(struct ctl *c, unsigned int d)
{
	char path[96];
	int rc = 0;

	if (!xs_release_domain(c->xs, d))
		rc = -errno;
	snprintf(path, sizeof(path), "/local/domain/%u", d);
	xs_rm(c->xs, XBT_NULL, path);
	snprintf(path, sizeof(path), "/vm/00000000-0000-4000-8000-%012x", d);
	xs_rm(c->xs, XBT_NULL, path);
	snprintf(path, sizeof(path), "/libxl/%u", d);
	xs_rm(c->xs, XBT_NULL, path);
	return rc;
}

/* Owner @owner, no access for others, read for @reader (libxl's perms). */
static bool ctl_perm_pair(struct ctl *c, const char *path, unsigned int owner,
			  unsigned int reader)
{
	struct xs_permissions p[2] = {
		{ .id = owner, .perms = XS_PERM_NONE },
		{ .id = reader, .perms = XS_PERM_READ },
	};

	return xs_set_permissions(c->xs, c->t, path, p, 2);
}

struct dev_spec {
	const char *kind;
	unsigned int fe, be, devid;
	char be_path[128], fe_path[128];
};

/* The frontend directory's kind: libxl puts vbd3 and qdisk under vbd. */
static const char *fe_kind(const char *kind)
{
	if (!strcmp(kind, "vbd3") || !strcmp(kind, "qdisk"))
		return "vbd";
	return kind;
}

static bool ctl_kv(struct ctl *c, const char *dir, const char *key,
		   const char *val)
{
	char path[256];

	if (snprintf(path, sizeof(path), "%s/%s", dir, key) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return false;
	}
	return ctl_write(c, path, val);
}

/* What libxl writes for each kind, before the caller's own pairs. */
static bool ctl_preset(struct ctl *c, const struct dev_spec *d)
{
	char devid[16], mac[32];

	snprintf(devid, sizeof(devid), "%u", d->devid);
	if (!strcmp(d->kind, "vbd") || !strcmp(d->kind, "vbd3")) {
		return ctl_kv(c, d->be_path, "removable", "0") &&
		       ctl_kv(c, d->be_path, "bootable", "1") &&
		       ctl_kv(c, d->be_path, "dev", "xvda") &&
		       ctl_kv(c, d->be_path, "type",
			      !strcmp(d->kind, "vbd") ? "phy" : "vbd3") &&
		       ctl_kv(c, d->be_path, "mode", "w") &&
		       ctl_kv(c, d->be_path, "device-type", "disk") &&
		       ctl_kv(c, d->fe_path, "virtual-device", devid) &&
		       ctl_kv(c, d->fe_path, "device-type", "disk") &&
		       ctl_kv(c, d->fe_path, "trusted", "1");
	}
	if (!strcmp(d->kind, "vif")) {
		snprintf(mac, sizeof(mac), "00:16:3e:00:%02x:%02x",
			 d->fe & 0xff, d->devid & 0xff);
		return ctl_kv(c, d->be_path, "mac", mac) &&
		       ctl_kv(c, d->be_path, "bridge", "xenbr0") &&
		       ctl_kv(c, d->be_path, "handle", devid) &&
		       ctl_kv(c, d->be_path, "type", "vif") &&
		       /* "Force backend to wait for hotplug script execution" */
		       ctl_kv(c, d->be_path, "hotplug-status", "") &&
		       ctl_kv(c, d->fe_path, "handle", devid) &&
		       ctl_kv(c, d->fe_path, "mac", mac) &&
		       ctl_kv(c, d->fe_path, "trusted", "1");
	}
	return true;
}

static bool ctl_device_tree(struct ctl *c, const struct dev_spec *d, int npairs,
			    char **pairs)
{
	char num[16];
	int i;

	xs_rm(c->xs, c->t, d->be_path);
	xs_rm(c->xs, c->t, d->fe_path);
	if (!xs_mkdir(c->xs, c->t, d->be_path) ||
	    !ctl_perm_pair(c, d->be_path, d->be, d->fe) ||
	    !xs_mkdir(c->xs, c->t, d->fe_path) ||
	    !ctl_perm_pair(c, d->fe_path, d->fe, d->be))
		return false;
	snprintf(num, sizeof(num), "%u", d->fe);
	if (!ctl_kv(c, d->be_path, "frontend", d->fe_path) ||
	    !ctl_kv(c, d->be_path, "frontend-id", num) ||
	    !ctl_kv(c, d->be_path, "online", "1") ||
	    !ctl_kv(c, d->be_path, "state", "1"))
		return false;
	snprintf(num, sizeof(num), "%u", d->be);
	if (!ctl_kv(c, d->fe_path, "backend", d->be_path) ||
	    !ctl_kv(c, d->fe_path, "backend-id", num) ||
	    !ctl_kv(c, d->fe_path, "state", "1") || !ctl_preset(c, d))
		return false;
	for (i = 0; i < npairs; i++) {
		char buf[512], *eq;
		const char *dir;

		if (!strncmp(pairs[i], "be:", 3))
			dir = d->be_path;
		else if (!strncmp(pairs[i], "fe:", 3))
			dir = d->fe_path;
		else
			continue; /* be-domid=, handled by the caller */
		snprintf(buf, sizeof(buf), "%s", pairs[i] + 3);
		eq = strchr(buf, '=');
		if (!eq) {
			errno = EINVAL;
			return false;
		}
		*eq = '\0';
		if (!ctl_kv(c, dir, buf, eq + 1))
			return false;
	}
	return true;
}

static int ctl_device_spec(struct dev_spec *d, const char *kind,
			   unsigned int fe, const char *devid, int npairs,
			   char **pairs)
{
	unsigned long v;
	char *end;
	int i;

	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->fe = fe;
	errno = 0;
	v = strtoul(devid, &end, 10);
	if (errno || *end || end == devid || v > 0xFFFFFFFFUL)
		return -EINVAL;
	d->devid = (unsigned int)v;
	for (i = 0; i < npairs; i++) {
		if (!strncmp(pairs[i], "be-domid=", 9)) {
			v = strtoul(pairs[i] + 9, &end, 10);
			if (*end || v >= 0x7FF0)
				return -EINVAL;
			d->be = (unsigned int)v;
		}
	}
	snprintf(d->be_path, sizeof(d->be_path),
		 "/local/domain/%u/backend/%s/%u/%u", d->be, kind, fe,
		 d->devid);
	snprintf(d->fe_path, sizeof(d->fe_path),
		 "/local/domain/%u/device/%s/%u", fe, fe_kind(kind), d->devid);
	return 0;
}

static int ctl_device_add(struct ctl *c, const char *kind, unsigned int fe,
			  const char *devid, int npairs, char **pairs)
{
	struct dev_spec d;
	int rc = ctl_device_spec(&d, kind, fe, devid, npairs, pairs);

	if (rc)
		return rc;
	for (;;) {
		c->t = xs_transaction_start(c->xs);
		if (c->t == XBT_NULL)
			return -errno;
		if (!ctl_device_tree(c, &d, npairs, pairs)) {
			int err = errno;

			xs_transaction_end(c->xs, c->t, true);
			c->t = XBT_NULL;
			return -err;
		}
		if (xs_transaction_end(c->xs, c->t, false))
			break;
		if (errno != EAGAIN)
			return -errno;
	}
	c->t = XBT_NULL;
	return 0;
}

static long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* 1 once @path reads "6", 0 on timeout; watches instead of polling. */
static int ctl_wait_closed(struct ctl *c, const char *path, long timeout_ms)
{
	long deadline = ms_now() + timeout_ms;
	struct pollfd pfd;
	int closed = 0;

	if (!xs_watch(c->xs, path, "wait"))
		return 0;
	pfd.fd = xs_fileno(c->xs);
	pfd.events = POLLIN;
	while (!closed) {
		unsigned int len;
		char *v = xs_read(c->xs, XBT_NULL, path, &len);
		long left = deadline - ms_now();
		char **ev;

		closed = v && !strcmp(v, "6");
		free(v);
		if (closed || left <= 0)
			break;
		if (poll(&pfd, 1, (int)left) > 0)
			while ((ev = xs_check_watch(c->xs)))
				free(ev);
	}
	xs_unwatch(c->xs, path, "wait");
	return closed;
}

static int ctl_device_remove(struct ctl *c, const char *kind, unsigned int fe,
			     const char *devid, long timeout_s)
{
	char path[160], *v;
	unsigned int len;
	struct dev_spec d;
	int closed, rc = ctl_device_spec(&d, kind, fe, devid, 0, NULL);

	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/state", d.be_path);
	v = xs_read(c->xs, XBT_NULL, path, &len);
	if (!v)
		return -ENOENT;
	if (!ctl_kv(c, d.be_path, "online", "0")) {
		free(v);
		return -errno;
	}
	/* The toolstack writes the backend's own state, unless Closed. */
	if (strcmp(v, "6"))
		ctl_kv(c, d.be_path, "state", "5");
	free(v);
	closed = ctl_wait_closed(c, path, timeout_s * 1000);
	if (!closed)
		fprintf(stderr,
			"xensim-ctl: %s did not close in %ld s: "
			"forcing removal\n",
			d.be_path, timeout_s);
	xs_rm(c->xs, XBT_NULL, d.fe_path);
	xs_rm(c->xs, XBT_NULL, d.be_path);
	return closed ? 0 : 3;
}

static int parse_domid(const char *s, unsigned int *d)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v == 0 || v >= 0x7FF0)
		return -EINVAL;
	*d = v;
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: xensim-ctl dom0-init\n"
		"       xensim-ctl domain-create DOMID NAME\n"
		"       xensim-ctl domain-destroy DOMID\n"
		"       xensim-ctl device-add KIND FE DEVID [be-domid=N] "
		"[be:KEY=VAL|fe:KEY=VAL]...\n"
		"       xensim-ctl device-remove KIND FE DEVID [TIMEOUT_S]\n");
}

int main(int argc, char **argv)
{
	struct ctl c = { .t = XBT_NULL };
	unsigned int d = 0;
	int rc, dev;

	if (argc < 2) {
		usage();
		return 2;
	}
	if ((!strcmp(argv[1], "domain-create") && argc != 4) ||
	    (!strcmp(argv[1], "domain-destroy") && argc != 3) ||
	    (!strcmp(argv[1], "dom0-init") && argc != 2) ||
	    (!strcmp(argv[1], "device-add") && argc < 5) ||
	    (!strcmp(argv[1], "device-remove") && (argc < 5 || argc > 6))) {
		usage();
		return 2;
	}
	dev = !strncmp(argv[1], "device-", 7);
	if (argc >= 3 && parse_domid(argv[dev ? 3 : 2], &d)) {
		fprintf(stderr, "xensim-ctl: bad domain id '%s' (1..32751)\n",
			argv[dev ? 3 : 2]);
		return 2;
	}
	c.xs = xs_open(0);
	if (!c.xs) {
		fprintf(stderr, "xensim-ctl: cannot reach xenstore at %s: %s\n",
			getenv("XENSTORED_PATH") ?: "(default)",
			strerror(errno));
		return 1;
	}
	if (!strcmp(argv[1], "dom0-init")) {
		rc = ctl_dom0_init(&c);
	} else if (!strcmp(argv[1], "domain-create")) {
		rc = ctl_domain_create(&c, d, argv[3]);
	} else if (!strcmp(argv[1], "domain-destroy")) {
		rc = ctl_domain_destroy(&c, d);
	} else if (!strcmp(argv[1], "device-add")) {
		rc = ctl_device_add(&c, argv[2], d, argv[4], argc - 5,
				    argv + 5);
	} else if (!strcmp(argv[1], "device-remove")) {
		rc = ctl_device_remove(&c, argv[2], d, argv[4],
				       argc == 6 ? atol(argv[5]) : 10);
		if (rc == 3) {
			xs_close(c.xs);
			return 3;
		}
	} else {
		usage();
		rc = -EINVAL;
	}
	xs_close(c.xs);
	if (rc) {
		fprintf(stderr, "xensim-ctl: %s %s: %s\n", argv[1],
			argc >= 3 ? argv[2] : "", strerror(-rc));
		return 1;
	}
	return 0;
}
