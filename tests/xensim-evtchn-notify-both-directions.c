// SPDX-License-Identifier: MIT
/*
 * xensim-evtchn-notify-both-directions - an interdomain channel carries
 * events both ways, and a delivered port stays masked until unmasked.
 *
 * Guest 1 offers an unbound port to Dom0, Dom0 binds it (and, as Xen sets
 * the new local port pending, gets one event at once). Dom0 notifies
 * once: the guest's fd becomes readable and pending() names the guest's
 * port. Dom0 notifies twice more: the masked port is not readable until
 * unmask(), then the two are delivered as one event. The guest notifies:
 * Dom0's pending() names Dom0's port.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <xenevtchn.h>

#include "lib/check.h"
#include "lib/simenv.h"

static int to_parent[2], to_child[2];

static int ready(xenevtchn_handle *xce, int ms)
{
	struct pollfd pfd = { .fd = xenevtchn_fd(xce), .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

static int step(int fd)
{
	char c;

	return read(fd, &c, 1) == 1;
}

static int guest(void *arg)
{
	xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
	int port;

	if (!xce)
		return 2;
	port = xenevtchn_bind_unbound_port(xce, 0);
	if (port <= 0)
		return 3;
	if (write(to_parent[1], &port, sizeof(port)) != sizeof(port))
		return 4;
	/* Dom0 has notified once. */
	if (!step(to_child[0]))
		return 5;
	if (!ready(xce, 5000) || xenevtchn_pending(xce) != port)
		return 6;
	if (write(to_parent[1], "g", 1) != 1)
		return 7;
	/* Dom0 has notified twice more, while the port is masked. */
	if (!step(to_child[0]))
		return 8;
	if (ready(xce, 200))
		return 9; /* a masked port was delivered */
	if (xenevtchn_unmask(xce, port))
		return 10;
	if (!ready(xce, 5000) || xenevtchn_pending(xce) != port)
		return 11; /* the events sent while masked were lost */
	xenevtchn_unmask(xce, port);
	if (ready(xce, 200))
		return 12; /* two events on a masked port are one */
	if (xenevtchn_notify(xce, port))
		return 13;
	if (write(to_parent[1], "n", 1) != 1)
		return 14;
	step(to_child[0]);
	return 0;
}

int main(void)
{
	static struct simenv env;
	xenevtchn_handle *xce;
	int rport, lport, st;
	pid_t pid;

	if (simenv_up(&env, 1))
		SKIP("cannot start xensim");
	CHECK(!pipe(to_parent) && !pipe(to_child), "pipe");
	pid = simenv_fork_as(&env, 1, guest, NULL);
	CHECK(pid > 0, "fork");
	/* Our copies of the child's ends go, so its death is EOF here. */
	close(to_parent[1]);
	close(to_child[0]);
	CHECK(read(to_parent[0], &rport, sizeof(rport)) == sizeof(rport),
	      "guest port (exit %d)", simenv_wait(pid));

	simenv_become(&env, 0);
	xce = xenevtchn_open(NULL, 0);
	CHECK(xce, "xenevtchn_open: %s", strerror(errno));
	lport = xenevtchn_bind_interdomain(xce, 1, (evtchn_port_t)rport);
	CHECK(lport > 0, "bind_interdomain: %s", strerror(errno));
	CHECK(ready(xce, 5000) && xenevtchn_pending(xce) == lport,
	      "no initial event on the new port");
	CHECK(!xenevtchn_unmask(xce, (evtchn_port_t)lport), "unmask");

	CHECK(!xenevtchn_notify(xce, (evtchn_port_t)lport), "notify: %s",
	      strerror(errno));
	CHECK(write(to_child[1], "1", 1) == 1, "step");
	CHECK(step(to_parent[0]), "guest failed (exit %d)", simenv_wait(pid));
	CHECK(!xenevtchn_notify(xce, (evtchn_port_t)lport), "notify: %s",
	      strerror(errno));
	CHECK(!xenevtchn_notify(xce, (evtchn_port_t)lport), "notify: %s",
	      strerror(errno));
	CHECK(write(to_child[1], "2", 1) == 1, "step");
	CHECK(step(to_parent[0]), "guest failed (exit %d)", simenv_wait(pid));
	CHECK(ready(xce, 5000), "guest's notify did not arrive");
	CHECK(xenevtchn_pending(xce) == lport, "pending named another port");
	CHECK(write(to_child[1], "3", 1) == 1, "step");
	st = simenv_wait(pid);
	CHECK(st == 0, "guest side failed at step %d", st);
	/* Not ours: ENOTCONN, as Linux's evtchn device. */
	errno = 0;
	CHECK(xenevtchn_notify(xce, (evtchn_port_t)lport + 100) == -1 &&
		      errno == ENOTCONN,
	      "notify on a port not bound here: %d", errno);
	return TEST_PASS;
}
