// SPDX-License-Identifier: MIT
/*
 * xensim-evtchn-restrict - a restricted event channel handle binds only to
 * its domain, as Linux's IOCTL_EVTCHN_RESTRICT_DOMID enforces.
 *
 * Guests 1 and 2 each offer an unbound port to Dom0. Dom0 opens a handle and
 * calls xentoolcore_restrict_all(1), which reaches our handle through
 * libxentoolcore's registration: binding guest 2's port fails with EACCES,
 * so does allocating an unbound port, while guest 1's port binds. A second
 * handle restricted with xenevtchn_restrict(2) binds guest 2's port and
 * not guest 1's; restricting it again fails with EACCES.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <xenevtchn.h>
#include <xentoolcore.h>

#include "lib/check.h"
#include "lib/simenv.h"

static int to_parent[2], to_child[2];

static int guest(void *arg)
{
	xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
	int p[2];
	char c;

	if (!xce)
		return 2;
	p[0] = xenevtchn_bind_unbound_port(xce, 0);
	p[1] = xenevtchn_bind_unbound_port(xce, 0);
	if (p[0] <= 0 || p[1] <= 0 ||
	    write(to_parent[1], p, sizeof(p)) != sizeof(p))
		return 3;
	return read(to_child[0], &c, 1) == 1 ? 0 : 4;
}

int main(void)
{
	static struct simenv env;
	xenevtchn_handle *h1, *h2;
	int g1[2], g2[2];
	pid_t pid1, pid2;

	if (simenv_up(&env, 2))
		SKIP("cannot start xensim");
	CHECK(!pipe(to_parent) && !pipe(to_child), "pipe");
	pid1 = simenv_fork_as(&env, 1, guest, NULL);
	CHECK(pid1 > 0, "fork");
	CHECK(read(to_parent[0], g1, sizeof(g1)) == sizeof(g1),
	      "guest 1 ports");
	pid2 = simenv_fork_as(&env, 2, guest, NULL);
	CHECK(pid2 > 0, "fork");
	CHECK(read(to_parent[0], g2, sizeof(g2)) == sizeof(g2),
	      "guest 2 ports");
	close(to_parent[1]);
	close(to_child[0]);

	simenv_become(&env, 0);
	h1 = xenevtchn_open(NULL, 0);
	CHECK(h1, "xenevtchn_open: %s", strerror(errno));
	CHECK(xentoolcore_restrict_all(1) == 0, "restrict_all: %s",
	      strerror(errno));
	errno = 0;
	CHECK(xenevtchn_bind_interdomain(h1, 2, (evtchn_port_t)g2[0]) < 0 &&
		      errno == EACCES,
	      "bound guest 2 after restrict to 1: errno %d", errno);
	errno = 0;
	CHECK(xenevtchn_bind_unbound_port(h1, 1) < 0 && errno == EACCES,
	      "allocated a port after restrict: errno %d", errno);
	CHECK(xenevtchn_bind_interdomain(h1, 1, (evtchn_port_t)g1[0]) > 0,
	      "restricted to 1, cannot bind guest 1: %s", strerror(errno));

	/* Opened after restrict_all, so still free until restricted. */
	h2 = xenevtchn_open(NULL, 0);
	CHECK(h2, "xenevtchn_open: %s", strerror(errno));
	CHECK(xenevtchn_restrict(h2, 2) == 0, "restrict: %s", strerror(errno));
	errno = 0;
	CHECK(xenevtchn_bind_interdomain(h2, 1, (evtchn_port_t)g1[1]) < 0 &&
		      errno == EACCES,
	      "bound guest 1 after restrict to 2: errno %d", errno);
	CHECK(xenevtchn_bind_interdomain(h2, 2, (evtchn_port_t)g2[1]) > 0,
	      "restricted to 2, cannot bind guest 2: %s", strerror(errno));
	errno = 0;
	CHECK(xenevtchn_restrict(h2, 1) < 0 && errno == EACCES,
	      "restricted twice: errno %d", errno);

	CHECK(write(to_child[1], "xx", 2) == 2, "release guests");
	CHECK(simenv_wait(pid1) == 0 && simenv_wait(pid2) == 0,
	      "guests failed");
	return TEST_PASS;
}
