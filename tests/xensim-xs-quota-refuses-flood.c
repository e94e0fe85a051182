// SPDX-License-Identifier: MIT
/*
 * xensim-xs-quota-refuses-flood - a guest flooding xenstore hits
 * xenstored's quotas; Dom0 does not.
 *
 * Guest 1 creates nodes until refused: the refusal is ENOSPC, comes with
 * exactly 1000 nodes owned (entries per domain, counted by a Dom0 walk), and
 * removing ten of them lets exactly ten more in. The nodes are spread over
 * 50 directories: a parent's children list counts toward its entry size, so
 * a thousand siblings would hit that quota first, as in xenstored. A guest
 * value over the entry size (2048 bytes with the record header) is ENOSPC; Dom0
 * writes it. Watches stop at xenstored's 128 (+1, as its check is ">") with
 * E2BIG, transactions at 10 (+1) with ENOSPC. Dom0 then creates 1500 nodes and
 * 300 watches.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "lib/check.h"
#include "lib/simenv.h"

static int flood_nodes(struct xs_handle *xs, const char *fmt, int from, int max)
{
	char path[64];
	int i;

	for (i = from; i < max; i++) {
		snprintf(path, sizeof(path), fmt, i % 50, i / 50);
		if (!xs_write(xs, XBT_NULL, path, "x", 1))
			return i;
	}
	return i;
}

/* Nodes at and below @path whose owner is @domid. */
static unsigned int owned(struct xs_handle *xs, const char *path,
			  unsigned int domid)
{
	struct xs_permissions *p;
	unsigned int n = 0, num, i;
	char **dir, child[512];

	p = xs_get_permissions(xs, XBT_NULL, path, &num);
	CHECK(p, "perms of %s: %s", path, strerror(errno));
	n += p[0].id == domid;
	free(p);
	dir = xs_directory(xs, XBT_NULL, path, &num);
	CHECK(dir, "directory %s: %s", path, strerror(errno));
	for (i = 0; i < num; i++) {
		snprintf(child, sizeof(child), "%s/%s",
			 strcmp(path, "/") ? path : "", dir[i]);
		n += owned(xs, child, domid);
	}
	free(dir);
	return n;
}

int main(void)
{
	static char big[2100];
	xs_transaction_t t[16];
	struct xs_handle *g1, *d0;
	static struct simenv env; /* simenv_up() hands it to atexit */
	char path[64];
	int n, i, err;

	if (simenv_up(&env, 1))
		SKIP("cannot start xensim");
	simenv_become(&env, 0);
	d0 = xs_open(0);
	simenv_become(&env, 1);
	g1 = xs_open(0);
	CHECK(d0 && g1, "xs_open: %s", strerror(errno));

	/* Nodes. The guest already owns a dozen from the toolstack. */
	for (i = 0; i < 50; i++) {
		snprintf(path, sizeof(path), "data/d%d", i);
		CHECK(xs_mkdir(g1, XBT_NULL, path), "mkdir: %s",
		      strerror(errno));
	}
	errno = 0;
	n = flood_nodes(g1, "data/d%d/n%d", 0, 2000);
	err = errno;
	CHECK(n < 2000 && err == ENOSPC, "stopped at %d: %s", n, strerror(err));
	i = owned(d0, "/", 1);
	CHECK(i == 1000, "guest owns %d nodes at refusal (created %d)", i, n);
	for (i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "data/d%d/n0", i);
		CHECK(xs_rm(g1, XBT_NULL, path), "rm: %s", strerror(errno));
	}
	errno = 0;
	i = flood_nodes(g1, "data/d%d/m%d", 0, 100);
	CHECK(i == 10 && errno == ENOSPC, "after freeing 10: %d more (%s)", i,
	      strerror(errno));
	/* Still served: reading is not refused. */
	{
		unsigned int len;
		char *v = xs_read(g1, XBT_NULL, "data/d0/m0", &len);

		CHECK(v, "read after quota: %s", strerror(errno));
		free(v);
	}

	/* Entry size: overwriting an existing node with a too-big value. */
	memset(big, 'v', sizeof(big));
	errno = 0;
	CHECK(!xs_write(g1, XBT_NULL, "data/d0/m0", big, 2040) &&
		      errno == ENOSPC,
	      "guest 2040-byte value: %s", strerror(errno));
	CHECK(xs_write(g1, XBT_NULL, "data/d0/m0", big, 1000),
	      "guest 1000 bytes: %s", strerror(errno));
	CHECK(xs_write(d0, XBT_NULL, "/local/domain/0/big", big, sizeof(big)),
	      "Dom0 %zu bytes: %s", sizeof(big), strerror(errno));

	/* Watches. */
	errno = 0;
	for (i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "w%d", i);
		if (!xs_watch(g1, "data/d0/m0", path))
			break;
	}
	CHECK(i < 300 && errno == E2BIG, "watch flood stopped at %d: %s", i,
	      strerror(errno));
	CHECK(i >= 128 && i <= 129, "guest got %d watches", i);

	/* Transactions. */
	errno = 0;
	for (i = 0; i < 16; i++) {
		t[i] = xs_transaction_start(g1);
		if (t[i] == XBT_NULL)
			break;
	}
	CHECK(i < 16 && errno == ENOSPC, "transactions stopped at %d: %s", i,
	      strerror(errno));
	CHECK(i >= 10 && i <= 11, "guest got %d transactions", i);
	while (i--)
		xs_transaction_end(g1, t[i], true);

	/* Dom0 is exempt. */
	n = flood_nodes(d0, "/local/domain/0/flood/d%d/n%d", 0, 1500);
	CHECK(n == 1500, "Dom0 stopped at %d: %s", n, strerror(errno));
	for (i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "w%d", i);
		CHECK(xs_watch(d0, "/local/domain/0/flood", path),
		      "Dom0 watch %d: %s", i, strerror(errno));
	}

	xs_close(g1);
	xs_close(d0);
	simenv_down(&env);
	return TEST_PASS;
}
