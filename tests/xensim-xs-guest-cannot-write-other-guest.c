// SPDX-License-Identifier: MIT
/*
 * xensim-xs-guest-cannot-write-other-guest - a guest cannot touch another
 * guest's nodes.
 *
 * Guest 1 writes, creates below, removes and chmods guest 2's nodes: every
 * attempt is EACCES and guest 2's data is unchanged, as Dom0 sees it. Guest 1
 * also cannot read what guest 2 wrote. The same operations on its own home
 * succeed, so the refusals are about the other guest, not about guest 1.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "lib/check.h"
#include "lib/simenv.h"

int main(void)
{
	struct xs_permissions p = { .id = 1, .perms = XS_PERM_READ };
	struct xs_handle *g1, *g2, *d0;
	static struct simenv env; /* simenv_up() hands it to atexit */
	unsigned int len;
	char *v;
	bool ok;

	if (simenv_up(&env, 2))
		SKIP("cannot start xensim");
	simenv_become(&env, 0);
	d0 = xs_open(0);
	simenv_become(&env, 1);
	g1 = xs_open(0);
	simenv_become(&env, 2);
	g2 = xs_open(0);
	CHECK(d0 && g1 && g2, "xs_open: %s", strerror(errno));

	CHECK(xs_write(g2, XBT_NULL, "data/secret", "two", 3),
	      "guest 2 writes its own data: %s", strerror(errno));

	errno = 0;
	ok = xs_write(g1, XBT_NULL, "/local/domain/2/data/secret", "one", 3);
	CHECK(!ok && errno == EACCES, "overwrite: %s",
	      ok ? "allowed" : strerror(errno));
	errno = 0;
	ok = xs_write(g1, XBT_NULL, "/local/domain/2/data/new/deep", "x", 1);
	CHECK(!ok && errno == EACCES, "create below: %s",
	      ok ? "allowed" : strerror(errno));
	errno = 0;
	ok = xs_mkdir(g1, XBT_NULL, "/local/domain/2/data/dir");
	CHECK(!ok && errno == EACCES, "mkdir: %s",
	      ok ? "allowed" : strerror(errno));
	errno = 0;
	ok = xs_rm(g1, XBT_NULL, "/local/domain/2/data/secret");
	CHECK(!ok && errno == EACCES, "rm: %s",
	      ok ? "allowed" : strerror(errno));
	errno = 0;
	ok = xs_set_permissions(g1, XBT_NULL, "/local/domain/2/data/secret", &p,
				1);
	CHECK(!ok && errno == EACCES, "chmod: %s",
	      ok ? "allowed" : strerror(errno));
	errno = 0;
	v = xs_read(g1, XBT_NULL, "/local/domain/2/data/secret", &len);
	CHECK(!v && errno == EACCES, "read: %s", v ? v : strerror(errno));

	/* Nothing changed, as Dom0 sees it. */
	v = xs_read(d0, XBT_NULL, "/local/domain/2/data/secret", &len);
	CHECK(v && len == 3 && !memcmp(v, "two", 3), "value now: %s",
	      v ? v : strerror(errno));
	free(v);
	errno = 0;
	v = xs_read(d0, XBT_NULL, "/local/domain/2/data/new", &len);
	CHECK(!v && errno == ENOENT, "created node: %s",
	      v ? "exists" : strerror(errno));
	errno = 0;
	v = xs_read(d0, XBT_NULL, "/local/domain/2/data/dir", &len);
	CHECK(!v && errno == ENOENT, "mkdir'd node: %s",
	      v ? "exists" : strerror(errno));

	/* Guest 1 does all of it on its own home. */
	CHECK(xs_write(g1, XBT_NULL, "/local/domain/1/data/new/deep", "x", 1),
	      "own create: %s", strerror(errno));
	CHECK(xs_set_permissions(g1, XBT_NULL, "data/new/deep", &p, 1),
	      "own chmod: %s", strerror(errno));
	CHECK(xs_rm(g1, XBT_NULL, "data/new"), "own rm: %s", strerror(errno));

	xs_close(g1);
	xs_close(g2);
	xs_close(d0);
	simenv_down(&env);
	return TEST_PASS;
}
