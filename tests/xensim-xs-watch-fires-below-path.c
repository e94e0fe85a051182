// SPDX-License-Identifier: MIT
/*
 * xensim-xs-watch-fires-below-path - a watch fires for changes at or below
 * its path, first of all when it is registered.
 *
 * Dom0 watches guest 1's data/: the first event is the registration one,
 * then a write two levels below fires with the written path, and a write
 * elsewhere fires nothing. Guest 1 watching the relative "data" gets its
 * events back relative. Guest 2, which cannot read guest 1's nodes, gets its
 * registration event but none of the changes.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "lib/check.h"
#include "lib/simenv.h"

/* Next event's path, or NULL if none comes within @ms. Caller frees. */
static char *next_event(struct xs_handle *xs, const char *token, int ms)
{
	struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };
	unsigned int num;
	char **ev, *path;

	if (poll(&pfd, 1, ms) != 1)
		return NULL;
	ev = xs_read_watch(xs, &num);
	CHECK(ev && num >= 2, "xs_read_watch: %s", strerror(errno));
	CHECK(!strcmp(ev[XS_WATCH_TOKEN], token), "token %s, wanted %s",
	      ev[XS_WATCH_TOKEN], token);
	path = strdup(ev[XS_WATCH_PATH]);
	free(ev);
	return path;
}

static void expect_event(struct xs_handle *xs, const char *token,
			 const char *want)
{
	char *got = next_event(xs, token, 2000);

	CHECK(got && !strcmp(got, want), "event %s, wanted %s",
	      got ? got : "(none)", want);
	free(got);
}

static void expect_none(struct xs_handle *xs, const char *token)
{
	char *got = next_event(xs, token, 200);

	CHECK(!got, "unexpected event %s", got);
}

int main(void)
{
	struct xs_handle *d0, *g1, *g2;
	static struct simenv env; /* simenv_up() hands it to atexit */

	if (simenv_up(&env, 2))
		SKIP("cannot start xensim");
	simenv_become(&env, 0);
	d0 = xs_open(0);
	simenv_become(&env, 1);
	g1 = xs_open(0);
	simenv_become(&env, 2);
	g2 = xs_open(0);
	CHECK(d0 && g1 && g2, "xs_open: %s", strerror(errno));

	CHECK(xs_watch(d0, "/local/domain/1/data", "abs"), "watch: %s",
	      strerror(errno));
	expect_event(d0, "abs", "/local/domain/1/data");
	CHECK(xs_watch(g1, "data", "rel"), "relative watch: %s",
	      strerror(errno));
	expect_event(g1, "rel", "data");
	CHECK(xs_watch(g2, "/local/domain/1/data", "nosy"), "guest 2 watch: %s",
	      strerror(errno));
	expect_event(g2, "nosy", "/local/domain/1/data");

	CHECK(xs_write(g1, XBT_NULL, "data/a/b", "1", 1), "write: %s",
	      strerror(errno));
	expect_event(d0, "abs", "/local/domain/1/data/a/b");
	expect_event(g1, "rel", "data/a/b");
	expect_none(g2, "nosy");

	/* Outside the watched path: nothing. */
	CHECK(xs_write(d0, XBT_NULL, "/local/domain/1/name", "renamed", 7),
	      "write elsewhere: %s", strerror(errno));
	CHECK(xs_write(d0, XBT_NULL, "/local/domain/1/database", "x", 1),
	      "write to a sibling sharing the prefix: %s", strerror(errno));
	expect_none(d0, "abs");
	expect_none(g1, "rel");

	/* The watched node itself counts as "at or below". */
	CHECK(xs_write(d0, XBT_NULL, "/local/domain/1/data", "v", 1),
	      "write the node: %s", strerror(errno));
	expect_event(d0, "abs", "/local/domain/1/data");
	expect_event(g1, "rel", "data");
	expect_none(g2, "nosy");

	xs_close(g1);
	xs_close(g2);
	xs_close(d0);
	simenv_down(&env);
	return TEST_PASS;
}
