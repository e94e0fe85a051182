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
 * Device creation (vbd, vif) belongs to the tests and tools of the daemons.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
		       ctl_printf(c, "/local/domain/0/domid=0") ?
		       0 :
		       -errno;
}

static bool ctl_guest_tree(struct ctl *c, unsigned int d, const char *name)
{
	static const char *const ro_dirs[] = { "cpu", "memory", "device",
					       "control" };
	static const char *const rw_dirs[] = {
		"control/shutdown", "control/feature-poweroff",
		"control/feature-reboot", "control/feature-suspend",
		"control/sysrq", "data", "drivers", "feature", "attr", "error",
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
	if (!xs_introduce_domain(c->xs, d, 0, 0))
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
	fprintf(stderr, "usage: xensim-ctl dom0-init\n"
			"       xensim-ctl domain-create DOMID NAME\n"
			"       xensim-ctl domain-destroy DOMID\n");
}

int main(int argc, char **argv)
{
	struct ctl c = { .t = XBT_NULL };
	unsigned int d = 0;
	int rc;

	if (argc < 2) {
		usage();
		return 2;
	}
	if ((!strcmp(argv[1], "domain-create") && argc != 4) ||
	    (!strcmp(argv[1], "domain-destroy") && argc != 3) ||
	    (!strcmp(argv[1], "dom0-init") && argc != 2)) {
		usage();
		return 2;
	}
	if (argc >= 3 && parse_domid(argv[2], &d)) {
		fprintf(stderr, "xensim-ctl: bad domain id '%s' (1..32751)\n",
			argv[2]);
		return 2;
	}
	c.xs = xs_open(0);
	if (!c.xs) {
		fprintf(stderr, "xensim-ctl: cannot reach xenstore at %s: %s\n",
			getenv("XENSTORED_PATH") ?: "(default)", strerror(errno));
		return 1;
	}
	if (!strcmp(argv[1], "dom0-init")) {
		rc = ctl_dom0_init(&c);
	} else if (!strcmp(argv[1], "domain-create")) {
		rc = ctl_domain_create(&c, d, argv[3]);
	} else if (!strcmp(argv[1], "domain-destroy")) {
		rc = ctl_domain_destroy(&c, d);
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
