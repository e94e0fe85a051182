// SPDX-License-Identifier: MIT
/*
 * Linux netfront's handshake and close against an xbus backend with
 * netif's rules (spec/netif-xenbus.md B.3 to B.6): on InitWait the
 * frontend grants a TX and an RX ring, allocates split event channels,
 * writes its keys in one transaction and goes straight to Connected (no
 * Initialised). The backend connects the rings but stays short of Connected
 * until the hotplug script writes hotplug-status=connected. On the
 * frontend's Closing the backend disconnects at once and goes Closing,
 * then Closed after the frontend's Closed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/xtscen.h"

static int to_parent[2], to_guest[2];

static int guest(void *arg)
{
	struct xen_gntshr *gs;
	struct xen_evtchn *xe;
	struct xfront f;
	uint32_t tx, rx;
	void *ptx, *prx;
	int ptx_port, prx_port, rc;
	xen_txn_t t;
	char c = 'c';

	if (xfront_open(&f, "xtest", 0) ||
	    xfront_wait_be(&f, XF_STATE(2), 10000) != 2)
		return 1;
	if (xen_gntshr_open(&gs) || xen_evtchn_open(&xe) ||
	    xen_gntshr_share(gs, f.be_domid, 1, 1, &tx, &ptx) ||
	    xen_gntshr_share(gs, f.be_domid, 1, 1, &rx, &prx))
		return 2;
	ptx_port = xen_evtchn_alloc_unbound(xe, f.be_domid);
	prx_port = xen_evtchn_alloc_unbound(xe, f.be_domid);
	if (ptx_port < 0 || prx_port < 0)
		return 3;
	do {
		if (xen_store_txn_start(f.xs, &t))
			return 4;
		rc = xfront_write(&f, t, "tx-ring-ref", "%u", tx) ?:
		     xfront_write(&f, t, "rx-ring-ref", "%u", rx) ?:
		     xfront_write(&f, t, "event-channel-tx", "%d", ptx_port) ?:
		     xfront_write(&f, t, "event-channel-rx", "%d", prx_port) ?:
		     xfront_write(&f, t, "request-rx-copy", "1") ?:
		     xfront_write(&f, t, "feature-rx-notify", "1") ?:
		     xfront_write(&f, t, "feature-sg", "1");
		if (rc) {
			xen_store_txn_end(f.xs, t, 1);
			return 5;
		}
		rc = xen_store_txn_end(f.xs, t, 0);
	} while (rc == -EAGAIN);
	if (rc || xfront_set_state(&f, 4))
		return 6;
	if (write(to_parent[1], &c, 1) != 1)
		return 7;
	if (xfront_wait_be(&f, XF_STATE(4), 10000) != 4)
		return 8;
	/* Close as xennet_bus_close does. */
	if (read(to_guest[0], &c, 1) != 1 || xfront_set_state(&f, 5) ||
	    xfront_wait_be(&f, XF_STATE(5) | XF_STATE(6), 5000) < 5)
		return 9;
	if (write(to_parent[1], &c, 1) != 1)
		return 10;
	if (read(to_guest[0], &c, 1) != 1 || xfront_set_state(&f, 6) ||
	    xfront_wait_be(&f, XF_STATE(6), 5000) != 6)
		return 11;
	return 0;
}

static int count(const char *log, const char *what)
{
	char cmd[4400], out[32] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "grep -c '%s' %s", what, log);
	p = popen(cmd, "r");
	if (!p || !fgets(out, sizeof(out), p))
		out[0] = '\0';
	if (p)
		pclose(p);
	return atoi(out);
}

int main(void)
{
	struct xt_scen s;
	struct xen_store *xs;
	char p[160], c = 'g';
	pid_t g;
	int rc;

	CHECK(pipe(to_parent) == 0 && pipe(to_guest) == 0, "pipes");
	xt_start2(&s, 1, "--single", "--net");
	CHECK(simenv_xensim(&s.env, "device-add",
			    "xtest 1 0 be:hotplug-status=") == 0,
	      "device-add");
	g = simenv_fork_as(&s.env, 1, guest, NULL);
	CHECK(read(to_parent[0], &c, 1) == 1, "the frontend did not connect");
	CHECK(xt_wait_value(&s, "/local/domain/0/backend/xtest/1/0/state", "4",
			    500) == -ETIMEDOUT,
	      "Connected before the hotplug script ran");
	CHECK(count(s.log, "xtest/1/0: connected, 1 queue") == 1,
	      "the rings were not connected while waiting for the script");

	CHECK(xen_store_open(&xs) == 0, "xenstore");
	snprintf(p, sizeof(p), "%s/hotplug-status", xt_be(1, 0));
	CHECK(xen_store_write(xs, XEN_TXN_NONE, p, "connected") == 0, "script");
	xen_store_close(xs);
	CHECK(xt_wait_value(&s, "/local/domain/0/backend/xtest/1/0/state", "4",
			    5000) == 0,
	      "not Connected after the script");

	CHECK(write(to_guest[1], &c, 1) == 1, "go");
	CHECK(read(to_parent[0], &c, 1) == 1, "the backend did not go Closing");
	CHECK(count(s.log, "xtest/1/0: disconnected") == 1,
	      "the rings were not torn down on the frontend's Closing");
	CHECK(write(to_guest[1], &c, 1) == 1, "go");
	rc = simenv_wait(g);
	CHECK(rc == 0, "frontend step %d failed", rc);
	return TEST_PASS;
}
