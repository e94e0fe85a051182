// SPDX-License-Identifier: MIT
/*
 * A sandboxed worker's event channel handles reach its own guest only.
 * Guests 1 and 2 each offer Dom0 an unbound port; guest 1's frontend asks
 * xtestd --misbehave (supervisor, sandbox on by default) to bind both at
 * connect with a handle it opens then, as a worker taken over through its
 * guest would. Guest 1's port binds; guest 2's is refused with EACCES
 * (the handle is restricted to domain 1, IOCTL_EVTCHN_RESTRICT_DOMID on
 * Linux), and the worker goes on to connect guest 1's device.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/xen.h"
#include "lib/check.h"
#include "lib/xtscen.h"

static int to_parent[2], to_guest1[2];

/* Guest 2: offer Dom0 a port, say which, stay alive. */
static int guest2(void *arg)
{
	struct xen_evtchn *xe;
	int port;

	if (xen_evtchn_open(&xe))
		return 1;
	port = xen_evtchn_alloc_unbound(xe, 0);
	if (port < 0 ||
	    write(to_parent[1], &port, sizeof(port)) != sizeof(port))
		return 2;
	/* Until the test kills us, or dies itself. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != 1)
		pause();
	return 0;
}

/* Guest 1: offer Dom0 a port, ask the backend to bind it and guest 2's,
 * then connect the device. */
static int guest1(void *arg)
{
	const char *node = "/local/domain/1/device/xtest/51712/xtest-bind";
	struct xen_evtchn *xe;
	struct xen_store *xs;
	struct xt_guest g;
	int mine, other;
	char c = 'c';

	if (read(to_guest1[0], &other, sizeof(other)) != sizeof(other))
		return 1;
	if (xen_evtchn_open(&xe) || xen_store_open(&xs))
		return 2;
	mine = xen_evtchn_alloc_unbound(xe, 0);
	if (mine < 0 ||
	    xen_store_printf(xs, XEN_TXN_NONE, node, "1:%d 2:%d", mine,
			     other) ||
	    write(to_parent[1], &mine, sizeof(mine)) != sizeof(mine))
		return 3;
	if (xt_guest_connect(&g, 51712, 1, XT_LINUX))
		return 4;
	if (write(to_parent[1], &c, 1) != 1)
		return 5;
	/* Until the test kills us, or dies itself. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != 1)
		pause();
	return 0;
}

/* The daemon's log has a line containing @what. */
static int logged(const struct xt_scen *s, const char *what)
{
	char cmd[4400];

	snprintf(cmd, sizeof(cmd), "grep -qF '%s' %s", what, s->log);
	return system(cmd) == 0;
}

int main(void)
{
	struct xt_scen s;
	char line[64], c;
	int p1, p2;
	pid_t g1, g2;

	xt_start2(&s, 2, NULL, "--misbehave");
	xt_add(&s, 1, 51712);
	CHECK(pipe(to_parent) == 0 && pipe(to_guest1) == 0, "pipe");
	g2 = simenv_fork_as(&s.env, 2, guest2, NULL);
	CHECK(g2 > 0, "fork guest 2");
	CHECK(read(to_parent[0], &p2, sizeof(p2)) == sizeof(p2),
	      "guest 2's port");
	g1 = simenv_fork_as(&s.env, 1, guest1, NULL);
	CHECK(g1 > 0, "fork guest 1");
	CHECK(write(to_guest1[1], &p2, sizeof(p2)) == sizeof(p2), "pipe");
	CHECK(read(to_parent[0], &p1, sizeof(p1)) == sizeof(p1),
	      "guest 1's port");
	CHECK(read(to_parent[0], &c, 1) == 1, "guest 1 did not connect");

	snprintf(line, sizeof(line), "xtest-bind 1:%d: bound", p1);
	CHECK(logged(&s, line),
	      "the worker could not bind its own guest's "
	      "port (%s)",
	      line);
	snprintf(line, sizeof(line), "xtest-bind 2:%d: %s", p2,
		 strerror(EACCES));
	CHECK(logged(&s, line),
	      "the worker was not refused guest 2's port "
	      "(%s)",
	      line);
	CHECK(!strcmp(xt_read(&s, "%s/state", xt_be(1, 51712)) ?: "", "4"),
	      "guest 1's device is not Connected");

	kill(g1, SIGTERM);
	kill(g2, SIGTERM);
	simenv_wait(g1);
	simenv_wait(g2);
	return TEST_PASS;
}
