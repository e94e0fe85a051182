// SPDX-License-Identifier: MIT
/*
 * A guest that dies (its domain destroyed, its frontend directory removed
 * with it, its grants and event channels gone) leaves its connected device
 * to the backend: the backend disconnects and goes Closed, writes no error,
 * and a neighbouring guest's device stays Connected.
 */
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
	struct xt_scen s;

	xt_start(&s, 2, "--single");
	xt_add(&s, 1, 51712);
	xt_add(&s, 2, 51712);
	CHECK(simenv_wait(simenv_fork_as(&s.env, 1, guest, NULL)) == 0,
	      "guest 1");
	CHECK(simenv_wait(simenv_fork_as(&s.env, 2, guest, NULL)) == 0,
	      "guest 2");

	CHECK(simenv_xensim(&s.env, "domain-destroy", "1") == 0,
	      "domain-destroy 1");
	CHECK(xt_wait_value(&s, "/local/domain/0/backend/xtest/1/51712/state",
			    "6", 10000) == 0,
	      "guest 1's device did not close (state %s)",
	      xt_read(&s, "%s/state", xt_be(1, 51712)) ?: "gone");
	CHECK(!xt_read(&s, "/local/domain/0/error/backend/xtest/1/51712/error"),
	      "an error node for a guest that died");
	CHECK(!strcmp(xt_read(&s, "%s/state", xt_be(2, 51712)) ?: "", "4"),
	      "guest 2's device was disturbed");
	return TEST_PASS;
}
