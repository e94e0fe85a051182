// SPDX-License-Identifier: MIT
/*
 * libxl's removal of a connected device (spec/blkif-xenbus.md B.0): it
 * writes online=0 and the backend's own state=5, waits for Closed. The
 * frontend sees Closing and closes; the backend disconnects, goes Closed
 * within the toolstack's 10 s, unregisters, and the directories go. The
 * daemon keeps serving: a new device added afterwards connects.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/xtscen.h"

static int pipefd[2];

/* blkfront: connect, then on the backend's Closing write Closed. */
static int guest(void *arg)
{
	struct xt_guest g;
	char c = 'c';

	if (xt_guest_connect(&g, 51712, 1, XT_LINUX))
		return 1;
	if (write(pipefd[1], &c, 1) != 1)
		return 2;
	if (xfront_wait_be(&g.f, XF_STATE(5) | XF_STATE(6) | XF_STATE(0),
			   15000) < 0)
		return 3;
	xt_guest_release(&g);
	xfront_set_state(&g.f, 6);
	return 0;
}

static int guest_again(void *arg)
{
	struct xt_guest g;

	return xt_guest_connect(&g, 51728, 1, XT_LINUX) ? 1 : 0;
}

int main(void)
{
	struct xt_scen s;
	pid_t g;
	char c;
	int rc;

	xt_start(&s, 1, "--single");
	xt_add(&s, 1, 51712);
	CHECK(pipe(pipefd) == 0, "pipe");
	g = simenv_fork_as(&s.env, 1, guest, NULL);
	CHECK(read(pipefd[0], &c, 1) == 1, "the guest did not connect");

	rc = simenv_xensim(&s.env, "device-remove", "xtest 1 51712 10");
	CHECK(rc == 0, "device-remove: the backend did not close (exit %d)",
	      rc);
	CHECK(simenv_wait(g) == 0, "the frontend did not see Closing");
	CHECK(!xt_read(&s, "%s/state", xt_be(1, 51712)),
	      "backend dir left behind");
	CHECK(!xt_read(&s, "/local/domain/1/device/xtest/51712/state"),
	      "frontend dir left behind");
	CHECK(!xt_read(&s, "/local/domain/0/error/backend/xtest/1/51712/error"),
	      "error node left behind");
	CHECK(kill(s.daemon, 0) == 0, "the daemon died");

	xt_add(&s, 1, 51728);
	CHECK(simenv_wait(simenv_fork_as(&s.env, 1, guest_again, NULL)) == 0,
	      "a device added after the removal did not connect");
	return TEST_PASS;
}
