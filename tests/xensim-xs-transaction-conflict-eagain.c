// SPDX-License-Identifier: MIT
/*
 * xensim-xs-transaction-conflict-eagain - a transaction that read a node
 * someone else changed meanwhile fails with EAGAIN and changes nothing.
 *
 * Also checks what surrounds it: a transaction sees its own writes, others
 * don't until it commits, an aborted one leaves no trace, and a retry after
 * EAGAIN commits. Both sides are guest 1 on two handles, so the guest's
 * transaction path (quota-checked) is the one exercised.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "lib/check.h"
#include "lib/simenv.h"

static char *rd(struct xs_handle *xs, xs_transaction_t t, const char *path)
{
	unsigned int len;

	return xs_read(xs, t, path, &len);
}

int main(void)
{
	struct xs_handle *a, *b;
	static struct simenv env; /* simenv_up() hands it to atexit */
	xs_transaction_t t;
	char *v;
	bool ok;

	if (simenv_up(&env, 1))
		SKIP("cannot start xensim");
	simenv_become(&env, 1);
	a = xs_open(0);
	b = xs_open(0);
	CHECK(a && b, "xs_open: %s", strerror(errno));
	CHECK(xs_write(a, XBT_NULL, "data/x", "0", 1), "write: %s",
	      strerror(errno));

	/* Own writes visible inside, invisible outside, gone on abort. */
	t = xs_transaction_start(a);
	CHECK(t != XBT_NULL, "start: %s", strerror(errno));
	CHECK(xs_write(a, t, "data/y", "in", 2), "write in t: %s",
	      strerror(errno));
	v = rd(a, t, "data/y");
	CHECK(v && !strcmp(v, "in"), "read own write: %s",
	      v ? v : strerror(errno));
	free(v);
	errno = 0;
	v = rd(b, XBT_NULL, "data/y");
	CHECK(!v && errno == ENOENT, "outside sees %s",
	      v ? v : strerror(errno));
	CHECK(xs_transaction_end(a, t, true), "abort: %s", strerror(errno));
	errno = 0;
	v = rd(b, XBT_NULL, "data/y");
	CHECK(!v && errno == ENOENT, "after abort: %s",
	      v ? v : strerror(errno));

	/* The conflict: a reads x, b changes x, a's commit fails. */
	t = xs_transaction_start(a);
	CHECK(t != XBT_NULL, "start: %s", strerror(errno));
	v = rd(a, t, "data/x");
	CHECK(v && !strcmp(v, "0"), "read x: %s", v ? v : strerror(errno));
	free(v);
	CHECK(xs_write(a, t, "data/y", "1", 1), "write y: %s", strerror(errno));
	CHECK(xs_write(b, XBT_NULL, "data/x", "changed", 7), "b writes x: %s",
	      strerror(errno));
	errno = 0;
	ok = xs_transaction_end(a, t, false);
	CHECK(!ok && errno == EAGAIN, "commit after conflict: %s",
	      ok ? "succeeded" : strerror(errno));
	errno = 0;
	v = rd(b, XBT_NULL, "data/y");
	CHECK(!v && errno == ENOENT, "failed commit left y = %s",
	      v ? v : strerror(errno));

	/* The retry commits. */
	t = xs_transaction_start(a);
	CHECK(t != XBT_NULL, "start: %s", strerror(errno));
	v = rd(a, t, "data/x");
	CHECK(v && !strcmp(v, "changed"), "retry reads %s",
	      v ? v : strerror(errno));
	free(v);
	CHECK(xs_write(a, t, "data/y", "1", 1), "write y: %s", strerror(errno));
	CHECK(xs_transaction_end(a, t, false), "retry commit: %s",
	      strerror(errno));
	v = rd(b, XBT_NULL, "data/y");
	CHECK(v && !strcmp(v, "1"), "committed y = %s",
	      v ? v : strerror(errno));
	free(v);

	/* A node created by someone else under a read directory conflicts. */
	t = xs_transaction_start(a);
	CHECK(t != XBT_NULL, "start: %s", strerror(errno));
	{
		unsigned int n;
		char **d = xs_directory(a, t, "data", &n);

		CHECK(d, "directory: %s", strerror(errno));
		free(d);
	}
	CHECK(xs_write(a, t, "data/z", "1", 1), "write z: %s", strerror(errno));
	CHECK(xs_write(b, XBT_NULL, "data/other", "1", 1), "b creates: %s",
	      strerror(errno));
	errno = 0;
	ok = xs_transaction_end(a, t, false);
	CHECK(!ok && errno == EAGAIN, "commit after sibling creation: %s",
	      ok ? "succeeded" : strerror(errno));

	xs_close(a);
	xs_close(b);
	simenv_down(&env);
	return TEST_PASS;
}
