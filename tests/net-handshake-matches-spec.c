// SPDX-License-Identifier: MIT
/*
 * netbackd's side of the netif handshake, key by key and state by state
 * (spec/netif-xenbus.md B.2 to B.6), against a replay of Linux netfront
 * (tests/front/netfront.c) as the toolstack (xensim device-add, libxl's
 * keys) and the vif hotplug script (played here) set it up:
 *
 *   - at InitWait the backend directory holds Linux netback's features,
 *     and the TAP the hotplug script needs already exists, named
 *     vif<domid>.<devid> (or the toolstack's vifname), carrier off, with
 *     Linux's fe:ff:ff:ff:ff:ff and the toolstack's mtu;
 *   - a frontend with two queues and split event channels writes its keys
 *     under queue-0/ and queue-1/; the backend connects both queues but
 *     stays in InitWait until hotplug-status=connected, then goes
 *     Connected and turns the carrier on; a second vif of the same guest
 *     with one queue and a single event channel (top-level keys) connects
 *     too, and both carry traffic;
 *   - the frontend's orderly close takes the backend through Closing to
 *     Closed and the carrier off; the toolstack's removal removes the TAP.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/netscen.h"

#define BE0 "/local/domain/0/backend/vif/1/0"
#define BE1 "/local/domain/0/backend/vif/1/1"
#define FE0 "/local/domain/1/device/vif/0"
#define FE1 "/local/domain/1/device/vif/1"

static void expect(struct net_scen *s, const char *dir, const char *key,
		   const char *val)
{
	const char *v = net_read(s, "%s/%s", dir, key);

	CHECK(v && !strcmp(v, val), "%s/%s is '%s', not '%s'", dir, key,
	      v ? v : "(absent)", val);
}

static void expect_absent(struct net_scen *s, const char *dir, const char *key)
{
	const char *v = net_read(s, "%s/%s", dir, key);

	CHECK(!v, "%s/%s is '%s', should be absent", dir, key, v);
}

/* B.2: what Linux netback writes before InitWait. */
static void check_features(struct net_scen *s, const char *be)
{
	expect(s, be, "state", "2");
	expect(s, be, "feature-sg", "1");
	expect(s, be, "feature-gso-tcpv4", "1");
	expect(s, be, "feature-gso-tcpv6", "1");
	expect(s, be, "feature-ipv6-csum-offload", "1");
	expect(s, be, "feature-rx-copy", "1");
	expect(s, be, "feature-rx-flip", "0");
	expect(s, be, "feature-xdp-headroom", "1");
	expect(s, be, "feature-multicast-control", "1");
	expect(s, be, "feature-dynamic-multicast-control", "1");
	expect(s, be, "feature-split-event-channels", "1");
	expect(s, be, "multi-queue-max-queues", "4");
	/* Not before the hotplug script says so. */
	expect(s, be, "hotplug-status", "");
}

static void check_link(struct net_scen *s, const char *ifname, const char *want,
		       const char *unwanted)
{
	char out[2048];

	CHECK(net_ns_sh(s->daemon, out, sizeof(out), "ip link show %s",
			ifname) == 0,
	      "no interface %s in the host namespace", ifname);
	CHECK(strstr(out, want), "%s: '%s' lacks '%s'", ifname, out, want);
	CHECK(!unwanted || !strstr(out, unwanted), "%s: '%s' has '%s'", ifname,
	      out, unwanted);
}

int main(void)
{
	struct net_guest_cfg c0, c1;
	struct net_guest g0, g1;
	struct net_scen s;
	char out[2048];
	int n;

	net_start(&s, 1, "max-queues=4", NULL);

	/* ---- probe: features, and the TAP before InitWait */
	net_add(&s, 1, 0, NULL);
	net_add(&s, 1, 1, "be:vifname=pvbk1eth1 be:mtu=9000");
	check_features(&s, BE0);
	check_features(&s, BE1);
	check_link(&s, "vif1.0", "link/ether fe:ff:ff:ff:ff:ff", NULL);
	check_link(&s, "vif1.0", "mtu 1500", NULL);
	check_link(&s, "pvbk1eth1", "mtu 9000", NULL);
	check_link(&s, "pvbk1eth1", "link/ether fe:ff:ff:ff:ff:ff", NULL);
	/* The script would bring it up: no carrier until a frontend. */
	CHECK(net_ns_sh(s.daemon, NULL, 0, "ip link set vif1.0 up") == 0, "up");
	check_link(&s, "vif1.0", "NO-CARRIER", NULL);

	/* ---- connect: two queues, split channels; gated on hotplug */
	net_guest_cfg_init(&c0);
	c0.queues = 2;
	c0.cidr = "10.202.0.1/24";
	net_guest_spawn(&s, &g0, 1, &c0);
	CHECK(net_wait_value(&s, FE0 "/state", "4", 10000) == 0,
	      "the frontend did not go Connected");
	expect(&s, FE0, "multi-queue-num-queues", "2");
	expect(&s, FE0, "request-rx-copy", "1");
	expect(&s, FE0, "feature-rx-notify", "1");
	expect(&s, FE0, "xdp-headroom", "0");
	for (int q = 0; q < 2; q++) {
		char d[96];

		snprintf(d, sizeof(d), "%s/queue-%d", FE0, q);
		CHECK(net_read(&s, "%s/tx-ring-ref", d) &&
			      net_read(&s, "%s/rx-ring-ref", d) &&
			      net_read(&s, "%s/event-channel-tx", d) &&
			      net_read(&s, "%s/event-channel-rx", d),
		      "%s: ring or channel keys missing", d);
	}
	expect_absent(&s, FE0, "tx-ring-ref");
	expect_absent(&s, FE0, "event-channel");
	/* Rings connected, state held back: Linux's hotplug gate. */
	CHECK(net_wait_value(&s, BE0 "/state", "4", 700) == -ETIMEDOUT,
	      "Connected before hotplug-status=connected");
	n = 0;
	for (int i = 0; i < 100 && !n; i++, usleep(20000))
		n = net_log_count(&s, "vif/1/0: connected: 2 queue");
	CHECK(n, "the rings were not connected while waiting for the script");
	net_hotplug(&s, 1, 0, "10.202.0.2/24");
	CHECK(net_wait_value(&s, BE0 "/state", "4", 10000) == 0,
	      "not Connected after hotplug-status=connected");
	net_guest_ready(&g0);
	CHECK(g0.queues == 2, "%u queues negotiated", g0.queues);
	check_link(&s, "vif1.0", "state UP", "NO-CARRIER");

	/* ---- one queue, one event channel: top-level keys */
	net_guest_cfg_init(&c1);
	c1.devid = 1;
	c1.split = false;
	c1.cidr = "10.203.0.1/24";
	net_hotplug_ifname(&s, 1, 1, "pvbk1eth1", "10.203.0.2/24");
	net_guest_start(&s, &g1, 1, &c1);
	CHECK(net_wait_value(&s, BE1 "/state", "4", 10000) == 0,
	      "vif 1 not Connected");
	expect(&s, FE1, "multi-queue-num-queues", "1");
	CHECK(net_read(&s, FE1 "/event-channel") &&
		      net_read(&s, FE1 "/tx-ring-ref"),
	      "top-level keys missing");
	expect_absent(&s, FE1, "event-channel-tx");

	n = net_ping(g0.pid, "10.202.0.2", 5, 56, 3000);
	CHECK(n == 5, "vif 0: %d of 5 replies", n);
	n = net_ping(g1.pid, "10.203.0.2", 5, 1400, 3000);
	CHECK(n == 5, "vif 1: %d of 5 replies", n);

	/* ---- close: Closing, Closed, carrier off; removal: TAP gone */
	CHECK(net_guest_stop(&g0) == 0, "guest vif 0 failed");
	CHECK(net_wait_value(&s, BE0 "/state", "6", 5000) == 0,
	      "not Closed after the frontend closed");
	check_link(&s, "vif1.0", "NO-CARRIER", NULL);
	CHECK(simenv_xensim(&s.env, "device-remove", "vif 1 0") == 0,
	      "device-remove");
	n = 1;
	for (int i = 0; i < 100 && n; i++, usleep(20000))
		n = !net_ns_sh(s.daemon, out, sizeof(out),
			       "ip link show vif1.0 2>&1");
	CHECK(!n, "vif1.0 still exists after the device was removed");
	/* The other vif is untouched. */
	n = net_ping(g1.pid, "10.203.0.2", 3, 56, 3000);
	CHECK(n == 3, "vif 1 after vif 0's removal: %d of 3 replies", n);
	CHECK(net_guest_stop(&g1) == 0, "guest vif 1 failed");
	return net_pass(&s);
}
