// SPDX-License-Identifier: MIT
/*
 * A frontend asking for more queues than advertised (hostile class 14) gets
 * its device failed with an error node "<errno> <message>" where xenbus
 * writes it and the backend in Closing; a second device of the same guest,
 * connected before, stays Connected and error-free.
 */
#include <string.h>

#include "lib/check.h"
#include "lib/xtscen.h"

static int good_guest(void *arg)
{
	struct xt_guest g;

	return xt_guest_connect(&g, 51712, 1, XT_LINUX) ? 1 : 0;
}

static int bad_guest(void *arg)
{
	struct xfront f;

	if (xfront_open(&f, "xtest", 51728) ||
	    xfront_wait_be(&f, XF_STATE(2), 10000) != 2)
		return 1;
	/* Three queues, one more than multi-queue-max-queues says. */
	if (xfront_write(&f, XEN_TXN_NONE, "multi-queue-num-queues", "3") ||
	    xfront_set_state(&f, 3))
		return 1;
	return xfront_wait_be(&f, XF_STATE(5) | XF_STATE(6), 10000) == 5 ? 0
									 : 2;
}

int main(void)
{
	struct xt_scen s;
	const char *err;

	xt_start(&s, 1, "--single");
	xt_add(&s, 1, 51712);
	xt_add(&s, 1, 51728);
	CHECK(simenv_wait(simenv_fork_as(&s.env, 1, good_guest, NULL)) == 0,
	      "the good device did not connect");
	CHECK(simenv_wait(simenv_fork_as(&s.env, 1, bad_guest, NULL)) == 0,
	      "the bad device's backend did not go Closing");
	err = xt_read(&s, "/local/domain/0/error/backend/xtest/1/51728/error");
	CHECK(err && !strncmp(err, "22 ", 3) &&
		      strstr(err, "multi-queue-num-queues"),
	      "error node '%s', want '22 ... multi-queue-num-queues ...'",
	      err ?: "(absent)");
	CHECK(!strcmp(xt_read(&s, "%s/state", xt_be(1, 51712)) ?: "", "4"),
	      "the good device was disturbed");
	CHECK(!xt_read(&s, "/local/domain/0/error/backend/xtest/1/51712/error"),
	      "the good device got an error node");
	return TEST_PASS;
}
