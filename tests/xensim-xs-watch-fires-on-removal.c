// SPDX-License-Identifier: MIT
/*
 * xensim-xs-watch-fires-on-removal - removing a node fires the watches on
 * it, on its ancestors, and on the nodes removed with it.
 *
 * With /t/a/b/c in the store, Dom0 watches /t (an ancestor), /t/a/b (the
 * node removed) and /t/a/b/c (a node inside the removed subtree); guest 1
 * watches a node of its own, relative. Removing /t/a/b fires /t/a/b for the
 * first two and /t/a/b/c for the third, as xenstored does; removing the
 * guest's parent directory fires the guest's watch with its relative path.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "lib/check.h"
#include "lib/simenv.h"

static char *next_event(struct xs_handle *xs, const char *token, int ms)
{
	struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };
	unsigned int num;
	char **ev, *path;

	if (poll(&pfd, 1, ms) != 1)
		return NULL;
	ev = xs_read_watch(xs, &num);
	CHECK(ev && num >= 2, "xs_read_watch: %s", strerror(errno));
	CHECK(!token || !strcmp(ev[XS_WATCH_TOKEN], token),
	      "token %s, wanted %s", ev[XS_WATCH_TOKEN], token);
	path = strdup(ev[XS_WATCH_PATH]);
	free(ev);
	return path;
}

static void expect_event(struct xs_handle *xs, const char *token,
			 const char *want)
{
	char *got = next_event(xs, token, 2000);

	CHECK(got && !strcmp(got, want), "event %s for %s, wanted %s",
	      got ? got : "(none)", token, want);
	free(got);
}

static void expect_none(struct xs_handle *xs)
{
	char *got = next_event(xs, NULL, 200);

	CHECK(!got, "unexpected event %s", got);
}

int main(void)
{
	struct xs_handle *d0, *g1;
	static struct simenv env; /* simenv_up() hands it to atexit */
	unsigned int len;
	char *v;

	if (simenv_up(&env, 1))
		SKIP("cannot start xensim");
	simenv_become(&env, 0);
	d0 = xs_open(0);
	simenv_become(&env, 1);
	g1 = xs_open(0);
	CHECK(d0 && g1, "xs_open: %s", strerror(errno));

	CHECK(xs_write(d0, XBT_NULL, "/t/a/b/c", "1", 1), "write: %s",
	      strerror(errno));
	CHECK(xs_write(g1, XBT_NULL, "data/sub/leaf", "1", 1),
	      "guest write: %s", strerror(errno));

	/* One watch per handle at a time keeps the event order checkable. */
	CHECK(xs_watch(d0, "/t/a/b/c", "inside"), "watch: %s", strerror(errno));
	expect_event(d0, "inside", "/t/a/b/c");
	CHECK(xs_rm(d0, XBT_NULL, "/t/a/b"), "rm: %s", strerror(errno));
	expect_event(d0, "inside", "/t/a/b/c");
	expect_none(d0);
	CHECK(xs_unwatch(d0, "/t/a/b/c", "inside"), "unwatch: %s",
	      strerror(errno));

	CHECK(xs_write(d0, XBT_NULL, "/t/a/b/c", "1", 1), "write: %s",
	      strerror(errno));
	CHECK(xs_watch(d0, "/t/a/b", "node"), "watch: %s", strerror(errno));
	expect_event(d0, "node", "/t/a/b");
	CHECK(xs_rm(d0, XBT_NULL, "/t/a/b"), "rm: %s", strerror(errno));
	expect_event(d0, "node", "/t/a/b");
	expect_none(d0);
	CHECK(xs_unwatch(d0, "/t/a/b", "node"), "unwatch: %s", strerror(errno));

	CHECK(xs_write(d0, XBT_NULL, "/t/a/b/c", "1", 1), "write: %s",
	      strerror(errno));
	CHECK(xs_watch(d0, "/t", "above"), "watch: %s", strerror(errno));
	expect_event(d0, "above", "/t");
	CHECK(xs_rm(d0, XBT_NULL, "/t/a/b"), "rm: %s", strerror(errno));
	expect_event(d0, "above", "/t/a/b");
	expect_none(d0);

	/* The subtree is gone. */
	errno = 0;
	v = xs_read(d0, XBT_NULL, "/t/a/b/c", &len);
	CHECK(!v && errno == ENOENT, "removed node: %s",
	      v ? "still there" : strerror(errno));

	/* A guest's relative watch, its parent removed by Dom0. */
	CHECK(xs_watch(g1, "data/sub/leaf", "rel"), "guest watch: %s",
	      strerror(errno));
	expect_event(g1, "rel", "data/sub/leaf");
	CHECK(xs_rm(d0, XBT_NULL, "/local/domain/1/data/sub"), "rm: %s",
	      strerror(errno));
	expect_event(g1, "rel", "data/sub/leaf");
	expect_none(g1);

	xs_close(g1);
	xs_close(d0);
	simenv_down(&env);
	return TEST_PASS;
}
