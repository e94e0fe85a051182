// SPDX-License-Identifier: MIT
/*
 * netif's rule (spec/netif-xenbus.md B.3, B.5): with hotplug-status = ""
 * written by the toolstack, the backend connects the rings when the
 * frontend is ready but reports Connected only once the hotplug script
 * wrote hotplug-status=connected.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/xtscen.h"

static int guest(void *arg)
{
	struct xt_guest g;

	/* Returns once Connected, which must wait for the script. */
	return xt_guest_connect(&g, 0, 1, XT_LINUX) ? 1 : 0;
}

int main(void)
{
	struct xt_scen s;
	struct xen_store *xs;
	char p[160];
	pid_t g;

	xt_start2(&s, 1, "--single", "--hotplug-gate");
	CHECK(simenv_xensim(&s.env, "device-add",
			    "xtest 1 0 be:hotplug-status=") == 0,
	      "device-add");
	g = simenv_fork_as(&s.env, 1, guest, NULL);
	CHECK(xt_wait_value(&s, "/local/domain/1/device/xtest/0/state", "3",
			    10000) == 0,
	      "frontend never Initialised");
	/* Whatever the backend does now, it must not report Connected. */
	CHECK(xt_wait_value(&s, "/local/domain/0/backend/xtest/1/0/state", "4",
			    500) == -ETIMEDOUT,
	      "Connected before hotplug-status=connected");

	CHECK(xen_store_open(&xs) == 0, "xenstore");
	snprintf(p, sizeof(p), "%s/hotplug-status", xt_be(1, 0));
	CHECK(xen_store_write(xs, XEN_TXN_NONE, p, "connected") == 0, "script");
	xen_store_close(xs);
	CHECK(simenv_wait(g) == 0, "not Connected after the script");
	return TEST_PASS;
}
