// SPDX-License-Identifier: MIT
/*
 * A frontend writing the same state twice, or in a burst that coalesces
 * watch events (3, 4, 3, 4), connects exactly once: the backend acts on
 * what xenstore says, not on how many events it got.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "lib/xtscen.h"

static int guest(void *arg)
{
	struct xt_guest g;
	int i;

	if (xt_guest_connect(&g, 51712, 1, XT_LINUX))
		return 1;
	for (i = 0; i < 3; i++)
		if (xfront_set_state(&g.f, 4) || xfront_set_state(&g.f, 3) ||
		    xfront_set_state(&g.f, 4))
			return 2;
	return xfront_wait_be(&g.f, XF_STATE(4), 2000) == 4 ? 0 : 3;
}

int main(void)
{
	struct xt_scen s;
	char cmd[4200], out[32] = "";
	FILE *p;

	xt_start(&s, 1, "--single");
	xt_add(&s, 1, 51712);
	CHECK(simenv_wait(simenv_fork_as(&s.env, 1, guest, NULL)) == 0,
	      "the guest failed");
	/* Give any late event time to be (wrongly) acted on. */
	xt_wait_value(&s, "/nonexistent", "x", 300);
	snprintf(cmd, sizeof(cmd), "grep -c 'connected, 1 queue(s)' %s", s.log);
	p = popen(cmd, "r");
	CHECK(p && fgets(out, sizeof(out), p), "grep");
	pclose(p);
	CHECK(atoi(out) == 1, "connected %d times", atoi(out));
	CHECK(!strcmp(xt_read(&s, "%s/state", xt_be(1, 51712)) ?: "", "4"),
	      "backend not Connected");
	return TEST_PASS;
}
