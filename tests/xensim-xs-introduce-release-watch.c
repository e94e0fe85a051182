// SPDX-License-Identifier: MIT
/*
 * xensim-xs-introduce-release-watch - @introduceDomain and @releaseDomain
 * fire for a privileged watcher when the toolstack creates and destroys a
 * domain, and IS_DOMAIN_INTRODUCED follows.
 *
 * Dom0 watches both special paths; guest 1 watches them too. `xensim
 * domain-create 5` fires @introduceDomain for Dom0 and makes
 * xs_is_domain_introduced(5) true; `xensim domain-destroy 5` fires
 * @releaseDomain and makes it false again. The guest gets its registration
 * events but neither change: xenstored gives special events to privileged
 * watchers only (their default perms are "n0"), and IS_DOMAIN_INTRODUCED is
 * Dom0's alone.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "lib/check.h"
#include "lib/simenv.h"

static char *next_event(struct xs_handle *xs, int ms, char *token, size_t tlen)
{
	struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };
	unsigned int num;
	char **ev, *path;

	if (poll(&pfd, 1, ms) != 1)
		return NULL;
	ev = xs_read_watch(xs, &num);
	CHECK(ev && num >= 2, "xs_read_watch: %s", strerror(errno));
	snprintf(token, tlen, "%s", ev[XS_WATCH_TOKEN]);
	path = strdup(ev[XS_WATCH_PATH]);
	free(ev);
	return path;
}

static void expect_event(struct xs_handle *xs, const char *want)
{
	char token[64], *got = next_event(xs, 5000, token, sizeof(token));

	CHECK(got && !strcmp(got, want) && !strcmp(token, want + 1),
	      "event %s (%s), wanted %s", got ? got : "(none)",
	      got ? token : "", want);
	free(got);
}

static void expect_none(struct xs_handle *xs, int ms)
{
	char token[64], *got = next_event(xs, ms, token, sizeof(token));

	CHECK(!got, "unexpected event %s (%s)", got, token);
}

static int ctl(const struct simenv *env, const char *cmd)
{
	char buf[8192];

	snprintf(buf, sizeof(buf), "%s %s --dir %s 5 >&2",
		 simenv_src("tests/xensim/xensim"), cmd, env->dir);
	return system(buf);
}

int main(void)
{
	struct xs_handle *d0, *g1;
	static struct simenv env; /* simenv_up() hands it to atexit */
	bool ok;

	if (simenv_up(&env, 1))
		SKIP("cannot start xensim");
	simenv_become(&env, 0);
	d0 = xs_open(0);
	simenv_become(&env, 1);
	g1 = xs_open(0);
	CHECK(d0 && g1, "xs_open: %s", strerror(errno));

	CHECK(xs_watch(d0, "@introduceDomain", "introduceDomain") &&
		      xs_watch(d0, "@releaseDomain", "releaseDomain"),
	      "watch: %s", strerror(errno));
	expect_event(d0, "@introduceDomain");
	expect_event(d0, "@releaseDomain");
	CHECK(xs_watch(g1, "@introduceDomain", "introduceDomain") &&
		      xs_watch(g1, "@releaseDomain", "releaseDomain"),
	      "guest watch: %s", strerror(errno));
	expect_event(g1, "@introduceDomain");
	expect_event(g1, "@releaseDomain");

	CHECK(xs_is_domain_introduced(d0, 1), "domain 1 not introduced");
	CHECK(!xs_is_domain_introduced(d0, 5), "domain 5 introduced already");
	errno = 0;
	ok = xs_is_domain_introduced(g1, 1);
	CHECK(!ok && errno == EACCES, "guest asks IS_DOMAIN_INTRODUCED: %s",
	      ok ? "answered" : strerror(errno));

	CHECK(ctl(&env, "domain-create") == 0, "xensim domain-create 5 failed");
	expect_event(d0, "@introduceDomain");
	expect_none(d0, 200);
	CHECK(xs_is_domain_introduced(d0, 5), "domain 5 not introduced");

	CHECK(ctl(&env, "domain-destroy") == 0,
	      "xensim domain-destroy 5 failed");
	expect_event(d0, "@releaseDomain");
	CHECK(!xs_is_domain_introduced(d0, 5), "domain 5 still introduced");

	expect_none(g1, 300);

	xs_close(g1);
	xs_close(d0);
	simenv_down(&env);
	return TEST_PASS;
}
