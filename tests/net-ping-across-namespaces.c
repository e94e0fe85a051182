// SPDX-License-Identifier: MIT
/*
 * Two kernels' network stacks talk through netbackd: a guest whose
 * netfront is the interface eth0 of its own network namespace, and the
 * host side, where netbackd's TAP vif1.0 lives in the daemon's namespace,
 * addressed by the "hotplug script". ARP resolves both ways (the guest
 * learns the vif's fe:ff:ff:ff:ff:ff, the host the guest's MAC from
 * fe/mac), ICMP echo gets every reply in both directions, small and
 * fragmented (8000-byte payloads: several IP fragments, each its own
 * packet on the rings), and netfront counts no violation of the netif
 * rules. The daemon's control command counts the packets both ways.
 */
#include <stdio.h>
#include <string.h>

#include "lib/check.h"
#include "lib/netscen.h"

#define GUEST_IP "10.201.0.1"
#define HOST_IP "10.201.0.2"

int main(void)
{
	struct net_guest_cfg c;
	struct net_scen s;
	struct net_guest g;
	char out[1024], stats[8192];
	int n;

	net_start(&s, 1, NULL);
	net_add(&s, 1, 0, NULL);
	net_hotplug(&s, 1, 0, HOST_IP "/24");
	net_guest_cfg_init(&c);
	c.cidr = GUEST_IP "/24";
	net_guest_start(&s, &g, 1, &c);
	CHECK(net_wait_value(&s, "/local/domain/0/backend/vif/1/0/state", "4",
			     10000) == 0,
	      "backend not Connected");

	n = net_ping(g.pid, HOST_IP, 5, 56, 3000);
	CHECK(n == 5, "guest -> host: %d of 5 replies", n);
	CHECK(net_ns_sh(g.pid, out, sizeof(out), "ip neigh show %s", HOST_IP) ==
			      0 &&
		      strstr(out, "fe:ff:ff:ff:ff:ff"),
	      "the guest did not resolve the vif's MAC: '%s'", out);
	n = net_ping(s.daemon, GUEST_IP, 5, 56, 3000);
	CHECK(n == 5, "host -> guest: %d of 5 replies", n);
	CHECK(net_ns_sh(s.daemon, out, sizeof(out), "ip neigh show %s",
			GUEST_IP) == 0 &&
		      strstr(out, "00:16:3e:00:01:00"),
	      "the host did not resolve the guest's MAC: '%s'", out);
	n = net_ping(g.pid, HOST_IP, 3, 8000, 3000);
	CHECK(n == 3, "fragmented guest -> host: %d of 3 replies", n);
	n = net_ping(s.daemon, GUEST_IP, 3, 8000, 3000);
	CHECK(n == 3, "fragmented host -> guest: %d of 3 replies", n);

	CHECK(net_stats(&s, 1, stats, sizeof(stats)) == 0, "--stats: %s",
	      stats);
	/* 16 echoes each way, and ARP: at least as many packets. */
	CHECK(simenv_stat_value(stats, "vif/1/0", "tx_packets") >= 16 &&
		      simenv_stat_value(stats, "vif/1/0", "rx_packets") >= 16,
	      "packet counters: %s", stats);
	CHECK(simenv_stat_value(stats, "vif/1/0", "too_many_slots") == 0,
	      "malformed counters: %s", stats);
	CHECK(net_stats(&s, 0, stats, sizeof(stats)) == 0 &&
		      strstr(stats, "vif/1/0: port vif1.0"),
	      "--stats text: %s", stats);

	CHECK(net_guest_stop(&g) == 0, "the guest failed");
	return net_pass(&s);
}
