// SPDX-License-Identifier: MIT
/*
 * netbackd with port=dpdk serves vif 1/0 as a DPDK virtio-user device on
 * the vhost-user socket <run-dir>/vhost/vif1.0; testpmd connects to it as
 * the switch (net_vhost, client=1) and sends back every frame it receives
 * with the MAC addresses swapped (macswap). The guest's netfront sends 64
 * distinct frames of 60 to 9014 bytes (frames beyond an mbuf take chains
 * of them both ways) and receives each back exactly once, byte for byte
 * but for the swapped addresses, and nothing else: guest TX -> netbackd ->
 * DPDK -> vhost-user -> testpmd -> vhost-user -> DPDK -> netbackd ->
 * guest RX. netfront counts no violation of the netif rules, and testpmd
 * counts 64 frames received.
 *
 * Skips without DPDK at build time or without dpdk-testpmd.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/netfront.h"
#include "lib/check.h"
#include "lib/netscen.h"
#include "lib/testpmd.h"
#include "netback/pkt.h"

#define FRAMES 64

static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static uint8_t guest_mac[6] = { 0x00, 0x16, 0x3e, 0x00, 0x01, 0x00 };
static int to_guest[2], from_guest[2];

static size_t frame_len(unsigned int i)
{
	/* Small, typical, and a few beyond an mbuf (2 KiB) and one page. */
	static const size_t big[] = { 2048, 2049, 4000, 9014 };

	if (i % 16 == 15)
		return big[(i / 16) % 4];
	return 60 + (size_t)i * 23 % 1455;
}

/* Frame @i as the guest sends it: to the switch's side, payload from @i. */
static void build(uint8_t *p, unsigned int i)
{
	size_t len = frame_len(i);

	memcpy(p, peer_mac, 6);
	memcpy(p + 6, guest_mac, 6);
	pkt_put_be16(p + 12, 0x88b5); /* IEEE local experimental */
	pkt_put_be16(p + 14, (uint16_t)i);
	for (size_t k = 16; k < len; k++)
		p[k] = (uint8_t)(k * 7 + i * 13);
}

static int guest(void *arg)
{
	static uint8_t pkt[9014], rx[NETFRONT_RX_MAX_PKT];
	unsigned char seen[FRAMES] = { 0 };
	struct netfront_rxmeta rm;
	struct netfront_cfg cfg;
	struct netfront *nf;
	char why[160];
	unsigned int got = 0, extra = 0, bad = 0;
	int n, v;

	close(to_guest[1]);
	close(from_guest[0]);
	netfront_cfg_init(&cfg);
	cfg.timeout_ms = 20000;
	if (netfront_connect(&nf, &cfg)) {
		net_say(from_guest[1], "error %s", netfront_last_error());
		return 2;
	}
	if (netfront_info(nf)->have_mac)
		memcpy(guest_mac, netfront_info(nf)->mac, 6);
	for (unsigned int i = 0; i < FRAMES; i++) {
		build(pkt, i);
		do {
			n = netfront_send(nf, 0, pkt, frame_len(i), NULL);
			if (n == -EAGAIN)
				netfront_poll(nf, 0, NULL, NULL, 0);
		} while (n == -EAGAIN);
		if (n) {
			net_say(from_guest[1], "error send %u: %d", i, n);
			return 2;
		}
	}
	/* Every echo, then half a second for anything more. */
	while ((n = netfront_recv(nf, 0, rx, sizeof(rx), &rm,
				  got < FRAMES ? 10000 : 500)) >= 0) {
		unsigned int i = n >= 16 ? pkt_be16(rx + 14) : FRAMES;

		if (i >= FRAMES || seen[i]) {
			extra++;
			continue;
		}
		build(pkt, i);
		/* macswap: the addresses trade places, nothing else moves. */
		memcpy(pkt, guest_mac, 6);
		memcpy(pkt + 6, peer_mac, 6);
		if ((size_t)n != frame_len(i) || memcmp(rx, pkt, (size_t)n)) {
			fprintf(stderr,
				"guest: frame %u: %d bytes, %zu sent%s\n", i, n,
				frame_len(i),
				(size_t)n == frame_len(i) ? ", bytes differ"
							  : "");
			bad++;
		}
		seen[i] = 1;
		got++;
	}
	v = (int)netfront_violations(nf, why, sizeof(why));
	if (v)
		fprintf(stderr, "guest: %d violations, last %s\n", v, why);
	net_say(from_guest[1], "got %u extra %u bad %u last %d", got, extra,
		bad, n);
	netfront_close(nf);
	return v ? 3 : 0;
}

int main(void)
{
	char line[256];
	unsigned int got = 99, extra = 99, bad = 99;
	struct testpmd tp;
	struct net_scen s;
	long long rx;
	pid_t g;

	testpmd_require();
	net_start(&s, 1, "port=dpdk", "max-queues=1", NULL);
	net_add(&s, 1, 0, NULL);
	/* The socket is served from create on, the switch may come later. */
	testpmd_serve_vif(&tp, &s, 1, 0, "macswap");

	CHECK(pipe(to_guest) == 0 && pipe(from_guest) == 0, "pipes");
	g = simenv_fork_as(&s.env, 1, guest, NULL);
	CHECK(g > 0, "fork guest");
	close(to_guest[0]);
	close(from_guest[1]);
	CHECK(net_hear(from_guest[0], line, sizeof(line), 60000) == 0,
	      "the guest said nothing");
	CHECK(sscanf(line, "got %u extra %u bad %u", &got, &extra, &bad) == 3,
	      "guest: %s", line);
	CHECK(got == FRAMES && extra == 0 && bad == 0,
	      "%u of %u frames came back (%u intact), %u unexpected", got,
	      FRAMES, got - bad, extra);
	CHECK(simenv_wait(g) == 0, "the guest failed");

	CHECK(testpmd_stop(&tp) == 0, "testpmd did not exit cleanly (%s)",
	      tp.log);
	rx = testpmd_rx_packets(&tp);
	CHECK(rx == FRAMES, "testpmd received %lld frames, not %d", rx, FRAMES);
	return net_pass(&s);
}
