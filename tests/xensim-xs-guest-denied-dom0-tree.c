// SPDX-License-Identifier: MIT
/*
 * xensim-xs-guest-denied-dom0-tree - a guest cannot see Dom0's nodes.
 *
 * Dom0's /local/domain/0 and xenstored's /tool are "n0": a guest reading
 * them gets EACCES, and so does a guest asking for a node that doesn't exist
 * below them (xenstored answers from the nearest existing parent, so the
 * guest can't probe for names). xenstore-ls run as the guest fails and shows
 * nothing, while the same command as Dom0 lists the nodes. The guest's own
 * home stays readable.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "lib/check.h"
#include "lib/simenv.h"

static void expect_eacces(struct xs_handle *xs, const char *path)
{
	unsigned int len, num;
	void *v;

	errno = 0;
	v = xs_read(xs, XBT_NULL, path, &len);
	CHECK(!v && errno == EACCES, "guest read %s: %s", path,
	      v ? "allowed" : strerror(errno));
	errno = 0;
	v = xs_directory(xs, XBT_NULL, path, &num);
	CHECK(!v && errno == EACCES, "guest directory %s: %s", path,
	      v ? "allowed" : strerror(errno));
}

int main(void)
{
	static struct simenv env; /* simenv_up() hands it to atexit */
	struct xs_handle *guest;
	char out[4096];
	unsigned int len;
	char *v;
	int rc;

	if (simenv_up(&env, 1))
		SKIP("cannot start xensim");
	simenv_become(&env, 1);
	guest = xs_open(0);
	CHECK(guest, "xs_open as domain 1: %s", strerror(errno));

	expect_eacces(guest, "/local/domain/0");
	expect_eacces(guest, "/local/domain/0/name");
	expect_eacces(guest, "/local/domain/0/no-such-node");
	expect_eacces(guest, "/tool/xenstored");
	expect_eacces(guest, "/");

	/* The guest's home is its own to read. */
	v = xs_read(guest, XBT_NULL, "/local/domain/1/name", &len);
	CHECK(v && !strcmp(v, "guest1"), "guest reads its name: %s",
	      v ? v : strerror(errno));
	free(v);
	/* A missing node below a readable parent is ENOENT, not EACCES. */
	errno = 0;
	v = xs_read(guest, XBT_NULL, "data/no-such-node", &len);
	CHECK(!v && errno == ENOENT, "missing own node: %s",
	      v ? "found" : strerror(errno));

	rc = simenv_sh(&env, 1, out, sizeof(out),
		       "xenstore-ls /local/domain/0 2>/dev/null");
	CHECK(rc != 0, "xenstore-ls as the guest succeeded: %s", out);
	CHECK(!strstr(out, "Domain-0"), "guest listing shows Dom0's name: %s",
	      out);
	rc = simenv_sh(&env, 1, out, sizeof(out),
		       "xenstore-read /local/domain/0/name 2>/dev/null");
	CHECK(rc != 0 && !strstr(out, "Domain-0"),
	      "xenstore-read as the guest: rc %d '%s'", rc, out);

	/* The same listing works for Dom0: the nodes are there. */
	rc = simenv_sh(&env, 0, out, sizeof(out),
		       "xenstore-ls /local/domain/0");
	CHECK(rc == 0 && strstr(out, "Domain-0"), "Dom0 listing: rc %d '%s'",
	      rc, out);

	xs_close(guest);
	simenv_down(&env);
	return TEST_PASS;
}
