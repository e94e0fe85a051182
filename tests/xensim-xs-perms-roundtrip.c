// SPDX-License-Identifier: MIT
/*
 * xensim-xs-perms-roundtrip - permissions set are the permissions read
 * back, by every client, and they decide access.
 *
 * Guest 1 sets "n1,r2" on its node with xs_set_permissions: GET_PERMS
 * returns exactly that and xenstore-ls -p shows "(n1,r2)"; guest 2 can now
 * read but not write. xenstore-chmod as guest 1 makes it "n1,w2": guest 2
 * can write but no longer read. Guest 2 cannot chmod it (EACCES), guest 1
 * cannot give it away (EPERM), Dom0 can.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "lib/check.h"
#include "lib/simenv.h"

#define NODE "/local/domain/1/data/p"

static void expect_perms(struct xs_handle *xs, unsigned int owner,
			 unsigned int owner_perm, unsigned int other,
			 unsigned int other_perm)
{
	struct xs_permissions *p;
	unsigned int num;

	p = xs_get_permissions(xs, XBT_NULL, NODE, &num);
	CHECK(p, "get perms: %s", strerror(errno));
	CHECK(num == 2 && p[0].id == owner && p[0].perms == owner_perm &&
		      p[1].id == other && p[1].perms == other_perm,
	      "perms: %u entries, %u/%d %u/%d", num, p[0].id, p[0].perms,
	      num > 1 ? p[1].id : 0, num > 1 ? p[1].perms : 0);
	free(p);
}

int main(void)
{
	struct xs_permissions set[2] = {
		{ .id = 1, .perms = XS_PERM_NONE },
		{ .id = 2, .perms = XS_PERM_READ },
	};
	struct xs_handle *d0, *g1, *g2;
	static struct simenv env; /* simenv_up() hands it to atexit */
	unsigned int len;
	char out[512];
	char *v;
	bool ok;
	int rc;

	if (simenv_up(&env, 2))
		SKIP("cannot start xensim");
	simenv_become(&env, 0);
	d0 = xs_open(0);
	simenv_become(&env, 1);
	g1 = xs_open(0);
	simenv_become(&env, 2);
	g2 = xs_open(0);
	CHECK(d0 && g1 && g2, "xs_open: %s", strerror(errno));

	CHECK(xs_write(g1, XBT_NULL, NODE, "val", 3), "write: %s",
	      strerror(errno));
	errno = 0;
	v = xs_read(g2, XBT_NULL, NODE, &len);
	CHECK(!v && errno == EACCES, "before chmod guest 2 reads: %s",
	      v ? v : strerror(errno));

	CHECK(xs_set_permissions(g1, XBT_NULL, NODE, set, 2), "set perms: %s",
	      strerror(errno));
	expect_perms(g1, 1, XS_PERM_NONE, 2, XS_PERM_READ);
	expect_perms(d0, 1, XS_PERM_NONE, 2, XS_PERM_READ);
	rc = simenv_sh(&env, 0, out, sizeof(out), "xenstore-ls -p %s",
		       "/local/domain/1/data");
	CHECK(rc == 0 && strstr(out, "p = \"val\"") && strstr(out, "(n1,r2)"),
	      "xenstore-ls -p: rc %d '%s'", rc, out);

	v = xs_read(g2, XBT_NULL, NODE, &len);
	CHECK(v && !strcmp(v, "val"), "guest 2 reads: %s",
	      v ? v : strerror(errno));
	free(v);
	errno = 0;
	ok = xs_write(g2, XBT_NULL, NODE, "two", 3);
	CHECK(!ok && errno == EACCES, "guest 2 writes read-only: %s",
	      ok ? "allowed" : strerror(errno));

	rc = simenv_sh(&env, 1, out, sizeof(out), "xenstore-chmod %s n1 w2",
		       NODE);
	CHECK(rc == 0, "xenstore-chmod as guest 1: rc %d '%s'", rc, out);
	expect_perms(d0, 1, XS_PERM_NONE, 2, XS_PERM_WRITE);
	CHECK(xs_write(g2, XBT_NULL, NODE, "two", 3), "guest 2 writes: %s",
	      strerror(errno));
	errno = 0;
	v = xs_read(g2, XBT_NULL, NODE, &len);
	CHECK(!v && errno == EACCES, "guest 2 reads write-only: %s",
	      v ? v : strerror(errno));

	/* Only the owner changes perms, and only Dom0 changes the owner. */
	errno = 0;
	ok = xs_set_permissions(g2, XBT_NULL, NODE, set, 2);
	CHECK(!ok && errno == EACCES, "guest 2 chmod: %s",
	      ok ? "allowed" : strerror(errno));
	rc = simenv_sh(&env, 2, NULL, 0, "xenstore-chmod %s b2 2>/dev/null",
		       NODE);
	CHECK(rc != 0, "xenstore-chmod as guest 2 succeeded");
	set[0].id = 2;
	errno = 0;
	ok = xs_set_permissions(g1, XBT_NULL, NODE, set, 2);
	CHECK(!ok && errno == EPERM, "guest 1 gives the node away: %s",
	      ok ? "allowed" : strerror(errno));
	expect_perms(d0, 1, XS_PERM_NONE, 2, XS_PERM_WRITE);
	set[1].id = 1;
	CHECK(xs_set_permissions(d0, XBT_NULL, NODE, set, 2), "Dom0 chown: %s",
	      strerror(errno));
	expect_perms(d0, 2, XS_PERM_NONE, 1, XS_PERM_READ);
	v = xs_read(g2, XBT_NULL, NODE, &len);
	CHECK(v && !strcmp(v, "two"), "new owner reads: %s",
	      v ? v : strerror(errno));
	free(v);

	xs_close(g1);
	xs_close(g2);
	xs_close(d0);
	simenv_down(&env);
	return TEST_PASS;
}
