// SPDX-License-Identifier: MIT
/*
 * The kexec / kdump reset (spec/blkif-xenbus.md B.1 step 10): a new kernel
 * finding the device Connected writes 5 and waits for the backend's 5,
 * writes 6 and waits for 6, writes 1 and waits for InitWait. The backend
 * must go from Closed back to InitWait and advertise again (checked by
 * removing a feature key before the reset), then connect once more.
 */
#include <string.h>

#include "lib/check.h"
#include "lib/xtscen.h"

static int guest_first(void *arg)
{
	struct xt_guest g;

	return xt_guest_connect(&g, 51712, 1, XT_LINUX) ? 1 : 0;
}

/* The new kernel: xenbus' probe_frontend reset, then a fresh connect. */
static int guest_kexec(void *arg)
{
	struct xt_guest g;
	struct xfront f;

	if (xfront_open(&f, "xtest", 51712))
		return 1;
	if (xfront_set_state(&f, 5) ||
	    xfront_wait_be(&f, XF_STATE(5), 5000) != 5)
		return 2;
	if (xfront_set_state(&f, 6) ||
	    xfront_wait_be(&f, XF_STATE(6), 5000) != 6)
		return 3;
	if (xfront_set_state(&f, 1) ||
	    xfront_wait_be(&f, XF_STATE(2), 5000) != 2)
		return 4;
	xfront_close(&f);
	return xt_guest_connect(&g, 51712, 1, XT_LINUX) ? 5 : 0;
}

int main(void)
{
	struct xt_scen s;
	struct xen_store *xs;
	char p[160];
	int rc;

	xt_start(&s, 1, "--single");
	xt_add(&s, 1, 51712);
	CHECK(simenv_wait(simenv_fork_as(&s.env, 1, guest_first, NULL)) == 0,
	      "first connect failed");
	CHECK(xen_store_open(&xs) == 0, "xenstore");
	snprintf(p, sizeof(p), "%s/feature-test", xt_be(1, 51712));
	CHECK(xen_store_rm(xs, XEN_TXN_NONE, p) == 0, "rm feature-test");
	xen_store_close(xs);

	rc = simenv_wait(simenv_fork_as(&s.env, 1, guest_kexec, NULL));
	CHECK(rc == 0,
	      "reset step %d failed (2: no Closing, 3: no Closed, "
	      "4: no InitWait, 5: no reconnect)",
	      rc);
	CHECK(!strcmp(xt_read(&s, "%s/feature-test", xt_be(1, 51712)) ?: "",
		      "1"),
	      "features not advertised again before InitWait");
	CHECK(!strcmp(xt_read(&s, "%s/state", xt_be(1, 51712)) ?: "", "4"),
	      "backend not Connected after the reset");
	return TEST_PASS;
}
