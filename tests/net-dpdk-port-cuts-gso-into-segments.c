// SPDX-License-Identifier: MIT
/*
 * Guest-TX GSO through the DPDK port to a switch without TSO: testpmd's
 * net_vhost, like OVS-DPDK without userspace TSO, does not offer
 * HOST_TSO4/6, so netbackd cuts the frame into segments itself. The guest
 * sends one TCPv4 GSO frame of 65535 bytes (MSS 1448) and one TCPv6 GSO
 * frame of 30000 bytes (MSS 1428), with csum_blank; testpmd sends back
 * what it receives with the MAC addresses swapped (macswap). The guest
 * gets back, for each frame, exactly the segments Linux's tcp_gso_segment
 * makes: every payload byte once, in MSS-sized pieces at the right
 * sequence numbers; IPv4 total length, id (+1 per segment) and a valid
 * header checksum, or the IPv6 payload length; PSH only on the last
 * segment; and a TCP checksum of the segment's own: complete, or, since
 * testpmd negotiates VIRTIO_NET_F_CSUM and forwards a packet's checksum
 * unfinished, the segment's pseudo-header sum, left to the switch.
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

#define V4_LEN 65535u
#define V4_MSS 1448u
#define V6_LEN 30000u
#define V6_MSS 1428u
#define SEQ0 0x10000000u

static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static uint8_t guest_mac[6] = { 0x00, 0x16, 0x3e, 0x00, 0x01, 0x00 };
static int to_guest[2], from_guest[2];

/*
 * An Ethernet/IP/TCP frame of @len bytes from the guest, payload byte k
 * of it a function of k, the pseudo-header sum in the TCP checksum.
 */
static size_t build(uint8_t *p, size_t len, int v6, struct pkt_l4 *l)
{
	size_t l3 = 14, l4 = l3 + (v6 ? 40 : 20);

	memset(p, 0, l4 + 20);
	memcpy(p, peer_mac, 6);
	memcpy(p + 6, guest_mac, 6);
	pkt_put_be16(p + 12, v6 ? PKT_ETH_P_IPV6 : PKT_ETH_P_IP);
	if (v6) {
		p[l3] = 0x60;
		pkt_put_be16(p + l3 + 4, (uint16_t)(len - l4));
		p[l3 + 6] = PKT_PROTO_TCP;
		p[l3 + 7] = 64;
		p[l3 + 8] = 0xfd; /* fd00::1 -> fd00::2 */
		p[l3 + 23] = 1;
		p[l3 + 24] = 0xfd;
		p[l3 + 39] = 2;
	} else {
		p[l3] = 0x45;
		pkt_put_be16(p + l3 + 2, (uint16_t)(len - l3));
		pkt_put_be16(p + l3 + 4, 0x1234);
		p[l3 + 6] = 0x40; /* DF */
		p[l3 + 8] = 64;
		p[l3 + 9] = PKT_PROTO_TCP;
		memcpy(p + l3 + 12, (uint8_t[]){ 10, 220, 0, 1 }, 4);
		memcpy(p + l3 + 16, (uint8_t[]){ 10, 220, 0, 2 }, 4);
		pkt_put_be16(p + l3 + 10, (uint16_t)~pkt_csum_fold(
						  pkt_csum_add(0, p + l3, 20)));
	}
	pkt_put_be16(p + l4, 40000);
	pkt_put_be16(p + l4 + 2, 9999);
	p[l4 + 4] = SEQ0 >> 24;
	p[l4 + 5] = (SEQ0 >> 16) & 0xff;
	p[l4 + 6] = (SEQ0 >> 8) & 0xff;
	p[l4 + 7] = SEQ0 & 0xff;
	p[l4 + 12] = 5 << 4;
	p[l4 + 13] = 0x18; /* PSH ACK */
	pkt_put_be16(p + l4 + 14, 65535);
	for (size_t k = l4 + 20; k < len; k++)
		p[k] = (uint8_t)(k * 13 + (k >> 8) + v6);
	CHECK(pkt_parse_l4(p, len, l) == 0, "our own frame");
	pkt_csum_seed(p, len, l);
	return l4 + 20;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/*
 * Check segment @s (@n bytes) of @orig (@len bytes, headers @hlen, MSS
 * @mss); mark the payload it carries in @have. NULL, or what is wrong.
 */
static const char *check_seg(const uint8_t *s, size_t n, const uint8_t *orig,
			     size_t len, size_t hlen, unsigned int mss, int v6,
			     unsigned char *have)
{
	static char why[128];
	struct pkt_l4 l;
	size_t off, take, last;
	unsigned int i;
	uint16_t c;

	if (memcmp(s, guest_mac, 6) || memcmp(s + 6, peer_mac, 6))
		return "MAC addresses";
	if (pkt_parse_l4(s, n, &l) || l.proto != PKT_PROTO_TCP ||
	    l.ipv6 != v6 || (size_t)l.l4 + l.l4_hlen != hlen)
		return "not a TCP segment of ours";
	off = be32(s + l.l4 + 4) - SEQ0;
	if (off % mss || off >= len - hlen)
		return "sequence number";
	i = (unsigned int)(off / mss);
	take = len - hlen - off < mss ? len - hlen - off : mss;
	last = off + take == len - hlen;
	snprintf(why, sizeof(why), "segment %u: ", i);
	if (n != hlen + take)
		return strcat(why, "length");
	if (v6) {
		if (pkt_be16(s + l.l3 + 4) != n - l.l3 - 40)
			return strcat(why, "IPv6 payload length");
	} else {
		if (pkt_be16(s + l.l3 + 2) != n - l.l3)
			return strcat(why, "IPv4 total length");
		if (pkt_be16(s + l.l3 + 4) != (uint16_t)(0x1234 + i))
			return strcat(why, "IPv4 id");
		if (pkt_csum_fold(pkt_csum_add(0, s + l.l3, 20)) != 0xffff)
			return strcat(why, "IPv4 header checksum");
	}
	if (s[l.l4 + 13] != (last ? 0x18 : 0x10))
		return strcat(why, "TCP flags");
	if (memcmp(s + hlen, orig + hlen + off, take))
		return strcat(why, "payload bytes");
	/* Complete (sums to 0xffff with the pseudo-header), or exactly
	 * the pseudo-header sum of this segment (partial). */
	c = pkt_be16(s + l.l4 + 16);
	if (pkt_csum_fold(pkt_pseudo_sum(s, &l, (uint32_t)(n - l.l4)) +
			  pkt_csum_add(0, s + l.l4, n - l.l4)) != 0xffff &&
	    c != pkt_csum_fold(pkt_pseudo_sum(s, &l, (uint32_t)(n - l.l4))))
		return strcat(why, "TCP checksum");
	if (have[i])
		return strcat(why, "twice");
	have[i] = 1;
	return NULL;
}

/* Send one GSO frame and collect its segments; a line for the test. */
static void one(struct netfront *nf, int v6, size_t len, unsigned int mss,
		char *out, size_t outlen)
{
	static uint8_t pkt[V4_LEN], rx[NETFRONT_RX_MAX_PKT];
	struct netfront_txmeta tm = {
		.flags = NETTXF_csum_blank | NETTXF_data_validated,
		.gso_type = v6 ? XEN_NETIF_GSO_TYPE_TCPV6
			       : XEN_NETIF_GSO_TYPE_TCPV4,
		.gso_size = (uint16_t)mss,
	};
	unsigned char have[64] = { 0 };
	struct netfront_rxmeta rm;
	struct pkt_l4 l;
	size_t hlen = build(pkt, len, v6, &l);
	unsigned int want = (unsigned int)((len - hlen + mss - 1) / mss);
	unsigned int got = 0, other = 0;
	const char *bad = NULL;
	int n;

	n = netfront_send(nf, 0, pkt, len, &tm);
	if (n) {
		snprintf(out, outlen, "error send %d", n);
		return;
	}
	while (!bad && (n = netfront_recv(nf, 0, rx, sizeof(rx), &rm,
					  got < want ? 10000 : 500)) >= 0) {
		if (n < 14 ||
		    pkt_be16(rx + 12) != (v6 ? PKT_ETH_P_IPV6 : PKT_ETH_P_IP)) {
			other++;
			continue;
		}
		bad = check_seg(rx, (size_t)n, pkt, len, hlen, mss, v6, have);
		got++;
	}
	snprintf(out, outlen, "got %u of %u other %u %s", got, want, other,
		 bad ? bad : "ok");
}

static int guest(void *arg)
{
	struct netfront_cfg cfg;
	struct netfront *nf;
	char line[256], out[256], why[160];
	int v;

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
	net_say(from_guest[1], "ok");
	while (!net_hear(to_guest[0], line, sizeof(line), 60000)) {
		if (!strcmp(line, "v4"))
			one(nf, 0, V4_LEN, V4_MSS, out, sizeof(out));
		else if (!strcmp(line, "v6"))
			one(nf, 1, V6_LEN, V6_MSS, out, sizeof(out));
		else
			break;
		net_say(from_guest[1], "%s", out);
	}
	v = (int)netfront_violations(nf, why, sizeof(why));
	if (v)
		fprintf(stderr, "guest: %d violations, last %s\n", v, why);
	netfront_close(nf);
	return v ? 3 : 0;
}

/* Ask the guest for one frame's round; CHECK its answer. */
static void round_ok(const char *what, unsigned int want)
{
	char line[256], expect[64];

	net_say(to_guest[1], "%s", what);
	CHECK(net_hear(from_guest[0], line, sizeof(line), 60000) == 0,
	      "%s: the guest said nothing", what);
	snprintf(expect, sizeof(expect), "got %u of %u other 0 ok", want, want);
	CHECK(!strcmp(line, expect), "%s: %s", what, line);
}

int main(void)
{
	char line[256];
	struct testpmd tp;
	struct net_scen s;
	pid_t g;

	testpmd_require();
	net_start(&s, 1, "port=dpdk", "max-queues=1", NULL);
	net_add(&s, 1, 0, NULL);
	testpmd_serve_vif(&tp, &s, 1, 0, "macswap");
	CHECK(!net_log_count(&s, ", TSO"),
	      "the switch took TSO: nothing left to cut here");

	CHECK(pipe(to_guest) == 0 && pipe(from_guest) == 0, "pipes");
	g = simenv_fork_as(&s.env, 1, guest, NULL);
	CHECK(g > 0, "fork guest");
	close(to_guest[0]);
	close(from_guest[1]);
	CHECK(net_hear(from_guest[0], line, sizeof(line), 30000) == 0 &&
		      !strcmp(line, "ok"),
	      "guest: %s", line);
	round_ok("v4", (V4_LEN - 54 + V4_MSS - 1) / V4_MSS);
	round_ok("v6", (V6_LEN - 74 + V6_MSS - 1) / V6_MSS);
	net_say(to_guest[1], "quit");
	CHECK(simenv_wait(g) == 0, "the guest failed");
	CHECK(testpmd_stop(&tp) == 0, "testpmd did not exit cleanly");
	return net_pass(&s);
}
