// SPDX-License-Identifier: MIT
/*
 * Checksum offload across netbackd yields packets the receiving kernel
 * accepts, whatever the frontend can do. Three vifs of one guest, each
 * carrying exact TCP transfers over IPv4 and IPv6 in both directions
 * (every byte checked by the receiver; a packet with a wrong checksum
 * would be dropped by the receiving kernel and the transfer would stall):
 *
 *   - full offload: partial checksums both ways (csum_blank on guest TX
 *     becomes the TAP's NEEDS_CSUM; the host's partial checksums reach the
 *     frontend as csum_blank);
 *   - no IPv6 checksum offload (nor SG/GSO): the host's partial IPv6
 *     checksums are finished by netbackd before they reach the frontend
 *     (counted as rx_csum_sw), the guest's by netfront before they leave;
 *   - feature-no-csum-offload: the TAP hands netbackd only complete
 *     checksums, nothing is finished by netbackd, and the guest's packets
 *     still carry partial ones.
 */
#include <stdio.h>
#include <string.h>

#include "lib/check.h"
#include "lib/netscen.h"

#define BYTES (8ull << 20)

struct setup {
	const char *what;
	bool offload, no_csum;
	int sw_expected; /* netbackd finishes checksums */
};

static const struct setup setups[] = {
	{ "full offload", true, false, 0 },
	{ "no IPv6 checksum offload", false, false, 1 },
	{ "feature-no-csum-offload", true, true, 0 },
};

int main(void)
{
	char stats[16384];
	struct net_scen s;

	net_start(&s, 1, NULL);
	for (unsigned int i = 0; i < sizeof(setups) / sizeof(setups[0]); i++) {
		const struct setup *st = &setups[i];
		const char *addrs[2];
		char g4[32], h4[32], g6[48], h6[48], dev[32];
		struct net_guest_cfg c;
		struct net_guest g;
		long long sw;

		snprintf(g4, sizeof(g4), "10.230.%u.1/24", i);
		snprintf(h4, sizeof(h4), "10.230.%u.2", i);
		snprintf(g6, sizeof(g6), "fd00:230:%u::1/64", i);
		snprintf(h6, sizeof(h6), "fd00:230:%u::2", i);
		net_add(&s, 1, i, NULL);
		net_hotplug(&s, 1, i, NULL);
		CHECK(net_ns_sh(s.daemon, NULL, 0,
				"ip addr add %s/24 dev vif1.%u && "
				"ip addr add %s/64 dev vif1.%u nodad",
				h4, i, h6, i) == 0,
		      "host addresses");
		net_guest_cfg_init(&c);
		c.devid = i;
		c.offload = st->offload;
		c.no_csum = st->no_csum;
		c.cidr = g4;
		net_guest_start(&s, &g, 1, &c);
		CHECK(net_ns_sh(g.pid, NULL, 0, "ip addr add %s dev eth0 nodad",
				g6) == 0,
		      "guest IPv6 address");
		addrs[0] = h4;
		addrs[1] = h6;
		for (int a = 0; a < 2; a++) {
			for (int rev = 0; rev < 2; rev++) {
				int64_t got = net_tcp_transfer(
					s.daemon, g.pid, addrs[a],
					7100 + (int)i * 4 + a * 2 + rev, BYTES,
					rev);

				CHECK(got == (int64_t)BYTES,
				      "%s, %s, %s: %lld of %llu bytes",
				      st->what, a ? "IPv6" : "IPv4",
				      rev ? "host -> guest" : "guest -> host",
				      (long long)got, BYTES);
			}
		}
		CHECK(net_stats(&s, 1, stats, sizeof(stats)) == 0, "--stats");
		snprintf(dev, sizeof(dev), "vif/1/%u", i);
		sw = simenv_stat_value(stats, dev, "rx_csum_sw");
		CHECK(st->sw_expected ? sw > 0 : sw == 0,
		      "%s: netbackd finished %lld checksums: %s", st->what, sw,
		      stats);
		CHECK(simenv_stat_value(stats, dev, "csum") == 0,
		      "%s: packets dropped for their checksum: %s", st->what,
		      stats);
		CHECK(net_guest_stop(&g) == 0, "%s: the guest failed",
		      st->what);
	}
	return net_pass(&s);
}
