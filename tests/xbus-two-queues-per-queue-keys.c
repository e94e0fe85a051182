// SPDX-License-Identifier: MIT
/*
 * A frontend asking for two queues writes multi-queue-num-queues=2 and the
 * ring-ref / event-channel of each queue under queue-<i>/; the backend maps
 * and binds both (the daemon logs "2 queue(s)") and goes Connected.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "lib/xtscen.h"

static int guest(void *arg)
{
	struct xt_guest g;

	return xt_guest_connect(&g, 51712, 2, XT_LINUX) ? 1 : 0;
}

int main(void)
{
	struct xt_scen s;
	char cmd[4200];

	xt_start(&s, 1, "--single");
	xt_add(&s, 1, 51712);
	CHECK(simenv_wait(simenv_fork_as(&s.env, 1, guest, NULL)) == 0,
	      "the two-queue frontend did not connect");
	CHECK(!strcmp(xt_read(&s, "%s/state", xt_be(1, 51712)) ?: "", "4"),
	      "backend not Connected");
	snprintf(cmd, sizeof(cmd), "grep -q 'connected, 2 queue(s)' %s", s.log);
	CHECK(system(cmd) == 0, "the backend did not connect two queues");
	return TEST_PASS;
}
