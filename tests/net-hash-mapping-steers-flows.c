// SPDX-License-Identifier: MIT
/*
 * Guest-RX hashing over the control ring (feature-ctrl-ring): a frontend
 * with four queues sets the Toeplitz algorithm, the four hash types (IPv4,
 * IPv4+TCP, IPv6, IPv6+TCP), the 40-byte key of the Microsoft RSS
 * verification suite and an 8-entry mapping table. Flows then arrive from
 * the host side on vif1.0, whichever TAP queue the kernel hands them to:
 * each frame must reach the frontend on the queue the mapping names for
 * its hash, with a HASH extra carrying that hash, its type and the
 * algorithm. The RSS suite's five IPv4 and three IPv6 vectors (UDP: the
 * address-only hash; TCP: addresses and ports) must come with the suite's
 * published hashes; forty more IPv4 and twenty-four more IPv6 TCP flows
 * are checked against the test's own Toeplitz (itself checked against the
 * suite first). A first fragment carries a whole TCP header but must be
 * hashed on its addresses only (the flow's other fragments have no
 * ports), IPv4 and IPv6 alike; an IPv6 TCP segment behind a
 * destination-options header is hashed as TCP.
 * The other way, a guest-TX packet that carries a HASH extra is taken
 * (its slot OKAY, the extra's NULL) and its hash counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "lib/nethash.h"
#include "lib/nethostile.h"

#define EXTRA_FLOWS 40
#define EXTRA_FLOWS6 24

static void attack(struct netfront *nf, const char *cmd, char *reply,
		   size_t len)
{
	union ring_netif_tx_req sl[2];
	unsigned int nulls;
	uint32_t gref;
	uint8_t *page;
	int16_t st[2];
	int got;

	if (nhash_attack(nf, cmd, reply, len))
		return;
	if (strcmp(cmd, "txhash")) {
		snprintf(reply, len, "unknown %s", cmd);
		return;
	}
	page = netfront_tx_scratch(nf, 0, &gref);
	nh_frame_ipv4(page, 100, 0x0a090001, 0x0a090101, 1234, 80, true);
	nh_chain(nf, sl, 1, 100, NULL, NH_ID0);
	sl[0].req.flags |= NETTXF_extra_info;
	memset(&sl[1], 0, sizeof(sl[1]));
	sl[1].extra.type = XEN_NETIF_EXTRA_TYPE_HASH;
	sl[1].extra.u.hash.type = _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
	sl[1].extra.u.hash.algorithm = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
	memcpy(sl[1].extra.u.hash.value, "\x78\x56\x34\x12", 4);
	got = nh_raw(nf, sl, 2, 2, 2000, st, 2, &nulls);
	nh_reply_rsp(reply, len, got, st, nulls);
}

int main(void)
{
	struct nhash_tally t;
	unsigned int frames;
	const char *r, *st;
	struct nh h;

	/* Our Toeplitz (the daemon's) against the RSS suite, first. */
	for (int i = 0; i < NH_RSS_VECS; i++) {
		const struct nh_rss_vec *v = &nh_rss_vecs[i];

		CHECK(nhash_ref(&v->fl, false) == v->h_ip &&
			      nhash_ref(&v->fl, true) == v->h_tcp,
		      "Toeplitz differs from RSS vector %d", i);
	}
	net_require();
	nhash_start(&h, attack);

	frames = nhash_inject(&h, EXTRA_FLOWS, EXTRA_FLOWS6, true);
	r = nh_ask(&h, "recv %u", frames);
	CHECK(nhash_parse(r, &t) == 0, "guest: %s", r);
	fprintf(stderr, "guest: %s\n", r);
	CHECK(t.got == frames && t.ok == t.got && t.bad == 0,
	      "frames on the wrong queue or with a wrong hash: %s", r);
	CHECK(t.vec == 2 * NH_RSS_VECS, "RSS suite hashes: %u of %d (%s)",
	      t.vec, 2 * NH_RSS_VECS, r);
	CHECK(t.viol == 0, "netif violations: %s", r);
	for (int q = 0; q < NHASH_QUEUES; q++)
		CHECK(t.perq[q] > 0, "no flow on queue %d: %s", q, r);
	st = nh_stats(&h);
	fprintf(stderr, "rx_hash %lld, steered %lld, ctrl messages %lld\n",
		simenv_stat_value(st, "vif/1/0", "rx_hash"),
		simenv_stat_value(st, "vif/1/0", "rx_steered"),
		simenv_stat_value(st, "vif/1/0", "ctrl_messages"));
	CHECK(simenv_stat_value(st, "vif/1/0", "rx_hash") >= frames,
	      "HASH extras counted: %lld",
	      simenv_stat_value(st, "vif/1/0", "rx_hash"));
	/* The kernel spreads the flows over the TAP queues its own way:
	 * most of them must have moved to another queue. */
	CHECK(simenv_stat_value(st, "vif/1/0", "rx_steered") > 0,
	      "no frame was steered between queues");
	CHECK(simenv_stat_value(st, "vif/1/0", "ctrl_errors") == 0,
	      "control errors: %lld",
	      simenv_stat_value(st, "vif/1/0", "ctrl_errors"));
	CHECK(simenv_stat_value(st, "vif/2/0", "rx_hash") == 0,
	      "the honest vif (no control ring) got hashes");
	r = nh_ask(&h, "txhash");
	CHECK(!strcmp(r, "rsp 2 1 0 1"), "TX with a HASH extra: %s", r);
	CHECK(simenv_stat_value(nh_stats(&h), "vif/1/0", "tx_hash") == 1,
	      "TX hash not taken: %lld",
	      simenv_stat_value(nh_stats(&h), "vif/1/0", "tx_hash"));
	nh_check_daemon(&h);
	return nh_finish(&h);
}
