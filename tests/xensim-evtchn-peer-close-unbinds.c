// SPDX-License-Identifier: MIT
/*
 * xensim-evtchn-peer-close-unbinds - when one end of an interdomain channel
 * goes, the other end is unbound as in Xen: notifies on it are dropped, and
 * a new channel to a fresh port works.
 *
 * Guest 1 offers port A, Dom0 binds it. Guest 1 unbinds A and offers a
 * fresh port B: Dom0's notify on its old port succeeds but nothing reaches
 * the guest; binding the dead A again fails with EINVAL. Dom0 binds B and
 * its notify arrives on B. Then the guest process exits: Dom0's notify on B
 * is dropped without error, and B cannot be bound again. Dom0's end is now
 * unbound and offered to guest 1, as Xen leaves it: a new guest 1 process
 * binds it and receives Dom0's next notify.
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
	int a, b;

	if (!xce)
		return 2;
	a = xenevtchn_bind_unbound_port(xce, 0);
	if (a <= 0 || write(to_parent[1], &a, sizeof(a)) != sizeof(a))
		return 3;
	if (!step(to_child[0])) /* Dom0 bound A */
		return 4;
	if (xenevtchn_unbind(xce, (evtchn_port_t)a))
		return 5;
	b = xenevtchn_bind_unbound_port(xce, 0);
	if (b <= 0 || write(to_parent[1], &b, sizeof(b)) != sizeof(b))
		return 6;
	if (!step(to_child[0])) /* Dom0 notified its old port */
		return 7;
	if (ready(xce, 200))
		return 8; /* a notify on a dead channel arrived */
	if (write(to_parent[1], "q", 1) != 1)
		return 9;
	if (!step(to_child[0])) /* Dom0 bound B and notified */
		return 10;
	if (!ready(xce, 5000) || xenevtchn_pending(xce) != b)
		return 11;
	return 0; /* exit: B closes */
}

/* A second guest 1 process binding Dom0's now-unbound end. */
static int rebinder(void *arg)
{
	xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
	int p;

	if (!xce)
		return 2;
	p = xenevtchn_bind_interdomain(xce, 0, *(evtchn_port_t *)arg);
	if (p <= 0)
		return 3;
	/* Xen's pending-on-bind first. */
	if (!ready(xce, 5000) || xenevtchn_pending(xce) != p)
		return 4;
	xenevtchn_unmask(xce, (evtchn_port_t)p);
	if (write(to_parent[1], "r", 1) != 1)
		return 5;
	if (!ready(xce, 5000) || xenevtchn_pending(xce) != p)
		return 6;
	return 0;
}

int main(void)
{
	static struct simenv env;
	xenevtchn_handle *xce;
	int a, b, la, lb, st;
	pid_t pid;

	if (simenv_up(&env, 1))
		SKIP("cannot start xensim");
	CHECK(!pipe(to_parent) && !pipe(to_child), "pipe");
	pid = simenv_fork_as(&env, 1, guest, NULL);
	CHECK(pid > 0, "fork");
	close(to_parent[1]);
	close(to_child[0]);
	simenv_become(&env, 0);
	xce = xenevtchn_open(NULL, 0);
	CHECK(xce, "xenevtchn_open: %s", strerror(errno));

	CHECK(read(to_parent[0], &a, sizeof(a)) == sizeof(a), "port A");
	la = xenevtchn_bind_interdomain(xce, 1, (evtchn_port_t)a);
	CHECK(la > 0, "bind A: %s", strerror(errno));
	CHECK(write(to_child[1], "1", 1) == 1, "step");
	CHECK(read(to_parent[0], &b, sizeof(b)) == sizeof(b),
	      "port B (guest exit %d)", simenv_wait(pid));
	CHECK(!xenevtchn_notify(xce, (evtchn_port_t)la),
	      "notify on an unbound port must be dropped, not fail: %s",
	      strerror(errno));
	errno = 0;
	CHECK(a == b || (xenevtchn_bind_interdomain(xce, 1, (evtchn_port_t)a) <
				 0 &&
			 errno == EINVAL),
	      "binding a closed port: errno %d", errno);
	CHECK(write(to_child[1], "2", 1) == 1, "step");
	CHECK(step(to_parent[0]), "guest got the dropped notify (exit %d)",
	      simenv_wait(pid));

	lb = xenevtchn_bind_interdomain(xce, 1, (evtchn_port_t)b);
	CHECK(lb > 0, "bind B: %s", strerror(errno));
	CHECK(!xenevtchn_notify(xce, (evtchn_port_t)lb), "notify B: %s",
	      strerror(errno));
	CHECK(write(to_child[1], "3", 1) == 1, "step");
	st = simenv_wait(pid);
	CHECK(st == 0, "guest side failed at step %d", st);

	/* The guest is gone: its end closed, ours is unbound. */
	CHECK(!xenevtchn_notify(xce, (evtchn_port_t)lb),
	      "notify after peer exit: %s", strerror(errno));
	errno = 0;
	CHECK(xenevtchn_bind_interdomain(xce, 1, (evtchn_port_t)b) < 0 &&
		      errno == EINVAL,
	      "binding an exited guest's port: errno %d", errno);

	CHECK(!pipe(to_parent), "pipe");
	pid = simenv_fork_as(&env, 1, rebinder, &lb);
	CHECK(pid > 0, "fork");
	close(to_parent[1]);
	CHECK(step(to_parent[0]), "guest could not rebind Dom0's end (exit %d)",
	      simenv_wait(pid));
	CHECK(!xenevtchn_notify(xce, (evtchn_port_t)lb), "notify: %s",
	      strerror(errno));
	st = simenv_wait(pid);
	CHECK(st == 0, "rebinding guest failed at step %d", st);
	return TEST_PASS;
}
