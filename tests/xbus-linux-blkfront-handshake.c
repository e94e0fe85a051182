// SPDX-License-Identifier: MIT
/*
 * Linux blkfront's handshake against an xbus backend (spec/blkif-xenbus.md
 * B.1): the backend advertises and reaches InitWait on its own; the
 * frontend writes ring-ref / event-channel / protocol in one transaction
 * and goes Initialised; the backend maps and binds, then Connected. The
 * backend directory then holds exactly the toolstack's keys plus the
 * backend's own, key by key, and no error node exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "lib/xtscen.h"

static int guest(void *arg)
{
	struct xt_guest g;

	return xt_guest_connect(&g, 51712, 1, XT_LINUX) ? 1 : 0;
}

int main(void)
{
	static const char *const want[][2] = {
		{ "frontend", "/local/domain/1/device/xtest/51712" },
		{ "frontend-id", "1" },
		{ "online", "1" },
		{ "state", "4" },
		{ "feature-test", "1" },
		{ "multi-queue-max-queues", "2" },
	};
	struct xt_scen s;
	char **names;
	unsigned int n, i, j;
	struct xen_store *xs;
	const char *be = xt_be(1, 51712);
	pid_t g;

	xt_start(&s, 1, "--single");
	xt_add(&s, 1, 51712);
	CHECK(xt_wait_value(&s, "/local/domain/0/backend/xtest/1/51712/state",
			    "2", 10000) == 0,
	      "backend did not reach InitWait within the toolstack's 10 s");

	g = simenv_fork_as(&s.env, 1, guest, NULL);
	CHECK(simenv_wait(g) == 0, "the guest did not connect");
	CHECK(!strcmp(xt_read(&s, "%s/state", be) ?: "", "4"),
	      "backend not Connected");
	CHECK(!strcmp(xt_read(&s, "/local/domain/1/device/xtest/51712/state")
			      ?: "",
		      "4"),
	      "frontend not Connected");

	/* Key by key: nothing missing, nothing extra. */
	CHECK(xen_store_open(&xs) == 0, "xenstore");
	CHECK(xen_store_ls(xs, XEN_TXN_NONE, be, &names, &n) == 0, "ls %s", be);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *v = xt_read(&s, "%s/%s", be, want[i][0]);

		CHECK(v && !strcmp(v, want[i][1]), "%s = '%s', want '%s'",
		      want[i][0], v ?: "(absent)", want[i][1]);
	}
	for (j = 0; j < n; j++) {
		for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			if (!strcmp(names[j], want[i][0]))
				break;
		CHECK(i < sizeof(want) / sizeof(want[0]),
		      "unexpected key %s/%s", be, names[j]);
	}
	CHECK(n == sizeof(want) / sizeof(want[0]), "%u keys", n);
	free(names);
	CHECK(!xt_read(&s, "/local/domain/0/error/backend/xtest/1/51712/error"),
	      "an error node was written");
	xen_store_close(xs);
	return TEST_PASS;
}
