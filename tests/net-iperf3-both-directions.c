// SPDX-License-Identifier: MIT
/*
 * TCP across netbackd with the real kernels at both ends, between a
 * guest's namespace (netfront as eth0) and the host's (the vif TAP), in
 * both directions, over three vifs of one guest: one queue with SG, GSO
 * and checksum offload; one queue with none of them (every packet one
 * slot, every checksum in the packet); two queues with offloads and four
 * parallel streams (flows spread over both rings both ways).
 *
 * Each direction of each setup: an exact transfer (64 MiB of a known
 * pattern, the receiver reads to EOF and checks every byte), then iperf3
 * sending 64 MiB (4 runs at once on the two-queue vif, a flow each), which
 * must complete with the byte counts iperf3 reports at both ends equal:
 * the sender is the server of a reverse run (net_iperf3_exact says why).
 * netfront counts no violation of the netif rules.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/check.h"
#include "lib/netscen.h"

#define EXACT_BYTES (64ull << 20)
#define IPERF_BYTES (64ull << 20) /* per run: 512 blocks of 128 KiB */

struct setup {
	const char *what;
	unsigned int queues;
	bool offload;
	int streams;
};

static const struct setup setups[] = {
	{ "1 queue, SG/GSO/csum offload", 1, true, 1 },
	{ "1 queue, no offload", 1, false, 1 },
	{ "2 queues, offload, 4 streams", 2, true, 4 },
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	struct net_scen s;

	net_require_iperf3();
	net_start(&s, 1, NULL);
	for (unsigned int i = 0; i < sizeof(setups) / sizeof(setups[0]); i++) {
		const struct setup *st = &setups[i];
		struct net_guest_cfg c;
		struct net_guest g;
		char gip[32], hip[32], cidr[40];

		snprintf(gip, sizeof(gip), "10.210.%u.1", i);
		snprintf(hip, sizeof(hip), "10.210.%u.2", i);
		net_add(&s, 1, i, NULL);
		snprintf(cidr, sizeof(cidr), "%s/24", hip);
		net_hotplug(&s, 1, i, cidr);
		net_guest_cfg_init(&c);
		c.devid = i;
		c.queues = st->queues;
		c.offload = st->offload;
		snprintf(cidr, sizeof(cidr), "%s/24", gip);
		c.cidr = cidr;
		net_guest_start(&s, &g, 1, &c);
		CHECK(g.queues == st->queues, "%s: %u queues", st->what,
		      g.queues);
		for (int rev = 0; rev < 2; rev++) {
			uint64_t sent = 0, recvd = 0;
			int64_t got;

			double t0 = now_s();

			got = net_tcp_transfer(s.daemon, g.pid, hip, 7000 + i,
					       EXACT_BYTES, rev);
			CHECK(got == (int64_t)EXACT_BYTES,
			      "%s, %s: exact transfer: %lld of %llu bytes",
			      st->what, rev ? "host -> guest" : "guest -> host",
			      (long long)got, EXACT_BYTES);

			fprintf(stderr,
				"%s, %s: exact transfer of %llu bytes "
				"in %.2f s\n",
				st->what,
				rev ? "host -> guest" : "guest -> host",
				EXACT_BYTES, now_s() - t0);
			t0 = now_s();
			CHECK(net_iperf3_exact(rev ? s.daemon : g.pid,
					       rev ? g.pid : s.daemon,
					       rev ? hip : gip, IPERF_BYTES,
					       st->streams, &sent, &recvd) == 0,
			      "%s, %s: iperf3 failed", st->what,
			      rev ? "host -> guest" : "guest -> host");
			fprintf(stderr,
				"%s, %s: iperf3: %" PRIu64
				" bytes sent, %" PRIu64
				" received (%.1f Mbit/s)\n",
				st->what,
				rev ? "host -> guest" : "guest -> host", sent,
				recvd, recvd * 8.0 / (now_s() - t0) / 1e6);
			CHECK(sent == IPERF_BYTES * (uint64_t)st->streams &&
				      recvd == sent,
			      "%s, %s: iperf3 counted %" PRIu64
			      " bytes sent, %" PRIu64 " received",
			      st->what, rev ? "host -> guest" : "guest -> host",
			      sent, recvd);
		}
		CHECK(net_guest_stop(&g) == 0, "%s: the guest failed",
		      st->what);
	}
	return net_pass(&s);
}
