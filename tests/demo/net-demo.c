// SPDX-License-Identifier: MIT
/*
 * net-demo - the netbackd half of `make demo` (scripts/demo.sh): netbackd
 * in Dom0 of the emulated Xen serves one guest's NIC; the guest's
 * userspace netfront is the interface eth0 of a network namespace of its
 * own, the vif TAP sits in the host's namespace, and the real kernel
 * network stacks of the two talk across netfront -> rings -> netbackd ->
 * TAP: ping, then iperf3 both ways. Prints each step and what the daemon
 * counted, then the toolstack removes the vif. Not a test: it exits 1 only
 * when a step did not work at all.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "lib/netscen.h"

#define HOST_IP "10.99.0.2"
#define GUEST_IP "10.99.0.1"
#define SECS 3

static void step(const char *what)
{
	printf("\n\033[1m== %s\033[0m\n", what);
	fflush(stdout);
}

static void show(const char *text)
{
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		printf("  %.*s\n", len, p);
		p += len + (nl != NULL);
	}
	fflush(stdout);
}

int main(void)
{
	static char out[65536];
	struct net_scen s;
	struct net_guest_cfg c;
	struct net_guest g;
	uint64_t sent, rcvd;
	int n;

	net_require_iperf3();
	step("Start the emulated Xen with one guest, and netbackd in Dom0 "
	     "(its own network namespace: the host side)");
	net_start(&s, 1, NULL);

	step("The toolstack adds a vif with 2 queues offered (backend/vif/1/0)");
	net_add(&s, 1, 0, NULL);
	simenv_sh(&s.env, 0, out, sizeof(out),
		  "xenstore-ls /local/domain/0/backend/vif/1/0");
	show(out);

	step("The hotplug script: address the TAP vif1.0 (" HOST_IP
	     "/24), up, hotplug-status=connected");
	net_hotplug(&s, 1, 0, HOST_IP "/24");
	net_ns_sh(s.daemon, out, sizeof(out), "ip -br addr show vif1.0");
	show(out);

	step("The guest: netfront with 2 queues, SG/GSO/checksum offload, "
	     "as eth0 (" GUEST_IP "/24) in its own namespace");
	net_guest_cfg_init(&c);
	c.queues = 2;
	c.cidr = GUEST_IP "/24";
	net_guest_start(&s, &g, 1, &c);
	printf("  connected with %u queue(s)\n", g.queues);
	net_ns_sh(g.pid, out, sizeof(out), "ip -br addr show eth0");
	show(out);

	step("ping from the guest to the host, and back");
	n = net_ping(g.pid, HOST_IP, 3, 56, 3000);
	printf("  guest -> host: %d of 3 replies\n", n);
	CHECK(n == 3, "ping guest -> host");
	n = net_ping(s.daemon, GUEST_IP, 3, 56, 3000);
	printf("  host -> guest: %d of 3 replies\n", n);
	CHECK(n == 3, "ping host -> guest");

	step("iperf3 TCP, guest -> host (guest TX: the guest's packets "
	     "grant-copied into the TAP), 2 streams");
	CHECK(net_iperf3(s.daemon, g.pid, HOST_IP, SECS, 2, false, &sent,
			 &rcvd) == 0,
	      "iperf3 guest -> host");
	printf("  %.2f Gbit/s (%" PRIu64 " bytes sent, %" PRIu64 " received)\n",
	       rcvd * 8.0 / SECS / 1e9, sent, rcvd);
	step("iperf3 TCP, host -> guest (guest RX: into the buffers the "
	     "guest posted), 2 streams");
	CHECK(net_iperf3(s.daemon, g.pid, HOST_IP, SECS, 2, true, &sent,
			 &rcvd) == 0,
	      "iperf3 host -> guest");
	printf("  %.2f Gbit/s (%" PRIu64 " bytes sent, %" PRIu64 " received)\n",
	       rcvd * 8.0 / SECS / 1e9, sent, rcvd);

	step("netbackd --stats: per vif and queue");
	net_stats(&s, 0, out, sizeof(out));
	show(out);

	step("The guest goes away; the toolstack removes the vif");
	CHECK(net_guest_stop(&g) == 0, "netfront counted violations");
	simenv_xensim(&s.env, "device-remove", "vif 1 0");
	simenv_sh(&s.env, 0, out, sizeof(out),
		  "xenstore-ls /local/domain/0/backend/vif 2>/dev/null || "
		  "echo no vif left");
	show(out);

	step("netbackd's log");
	fflush(stdout);
	{
		char cmd[PATH_MAX + 32];

		snprintf(cmd, sizeof(cmd), "sed 's/^/  /' %s", s.log);
		if (system(cmd) != 0)
			printf("  (no log)\n");
	}
	return net_pass(&s);
}
