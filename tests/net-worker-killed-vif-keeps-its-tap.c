// SPDX-License-Identifier: MIT
/*
 * A netbackd worker that dies (a crash, the OOM killer, a guest's exploit
 * contained by the sandbox) must not cost the guest its network: the vif
 * TAP is what the hotplug script attached to the bridge and addressed, and
 * a TAP vanishes with its last file descriptor unless it is persistent.
 * Checked, with the supervisor and a sandboxed worker: the worker is
 * SIGKILLed while the guest's interface is up; its successor takes the
 * same TAP back (same ifindex, the host's address still on it), ping and
 * an exact TCP transfer each way work again, on both queues' rings; when
 * the toolstack removes the vif, the TAP goes.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/netscen.h"

#define GUEST_IP "10.221.0.1"
#define HOST_IP "10.221.0.2"
#define XFER_BYTES (8ull << 20)

static void host_side(struct net_scen *s, const char *ifindex, const char *when)
{
	char out[512];

	CHECK(net_ns_sh(s->daemon, out, sizeof(out),
			"ip -o link show dev vif1.0 | cut -d: -f1") == 0 &&
		      !strcmp(out, ifindex),
	      "%s: vif1.0 is not the same TAP (ifindex '%s', was %s)", when,
	      out, ifindex);
	CHECK(net_ns_sh(s->daemon, out, sizeof(out),
			"ip -o -4 addr show dev vif1.0") == 0 &&
		      strstr(out, HOST_IP "/24"),
	      "%s: the host's address is gone from vif1.0: '%s'", when, out);
}

int main(void)
{
	struct net_guest_cfg c;
	struct net_scen s;
	struct net_guest g;
	char ifindex[32], out[256];
	pid_t w, w2 = 0;
	int gone = 0;

	setenv("NET_WORKERS", "1", 1);
	net_start(&s, 1, NULL);
	net_add(&s, 1, 0, NULL);
	net_hotplug(&s, 1, 0, HOST_IP "/24");
	net_guest_cfg_init(&c);
	c.queues = 2;
	c.cidr = GUEST_IP "/24";
	net_guest_start(&s, &g, 1, &c);
	CHECK(net_wait_value(&s, "/local/domain/0/backend/vif/1/0/state", "4",
			     10000) == 0,
	      "backend not Connected");
	net_traffic_ok(&s, &g, GUEST_IP, HOST_IP, 7100, XFER_BYTES, "before");
	CHECK(net_ns_sh(s.daemon, ifindex, sizeof(ifindex),
			"ip -o link show dev vif1.0 | cut -d: -f1") == 0,
	      "no vif1.0");

	w = simenv_worker_pid(s.daemon, "netbackd", 1);
	CHECK(w > 0, "no worker under the supervisor %d", (int)s.daemon);
	CHECK(kill(w, SIGKILL) == 0, "kill %d", (int)w);
	for (int i = 0; i < 100 && (w2 <= 0 || w2 == w); i++) {
		usleep(100000);
		w2 = simenv_worker_pid(s.daemon, "netbackd", 1);
	}
	CHECK(w2 > 0 && w2 != w, "the worker was not restarted");
	host_side(&s, ifindex, "after the worker was killed");
	net_traffic_ok(&s, &g, GUEST_IP, HOST_IP, 7100, XFER_BYTES,
		       "after the worker was killed");
	host_side(&s, ifindex, "after traffic");

	CHECK(net_guest_stop(&g) == 0, "the guest failed");
	CHECK(simenv_xensim(&s.env, "device-remove", "vif 1 0 10") == 0,
	      "device-remove: the backend did not close");
	for (int i = 0; i < 100 && !gone; i++, usleep(50000))
		gone = net_ns_sh(s.daemon, out, sizeof(out),
				 "ip link show dev vif1.0") != 0;
	CHECK(gone, "vif1.0 is left behind after the toolstack removed the "
		    "vif");
	return net_pass(&s);
}
