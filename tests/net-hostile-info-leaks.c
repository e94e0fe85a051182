// SPDX-License-Identifier: MIT
/*
 * Hostile frontend, class 15 (XSA-216): info leaks. The guest fills every
 * RX buffer page with a canary byte before posting it, and asks for
 * everything that puts extra slots and offsets on its ring: an XDP
 * headroom (the first slot's data starts at 256), hashing over the
 * control ring (a HASH extra per packet), scatter-gather with an MTU of
 * 9000 on the host side (packets over several slots) and GSO (a GSO
 * extra). Frames of many sizes then come from the host side. For every
 * response the guest checks that netbackd wrote nothing outside
 * [offset, offset + size) of the page it answers, nothing at all into the
 * page posted at an extra slot's index, and zeros in the unused bytes of
 * each extra (GSO pad and features, XDP pad); netfront checks the rest of
 * every response (flags, ids, sizes). Nothing a guest receives may hold a
 * byte it was not meant to see.
 */
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/nethostile.h"
#include "netback/hash.h"

#define NQ 2
#define CANARY 0xa5
#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

struct tally {
	unsigned int got, hash, xdp, multi, gso;
};

static void on_rx(void *arg, unsigned int q, const void *data, size_t len,
		  const struct netfront_rxmeta *m)
{
	struct tally *t = arg;
	uint32_t src, dst;
	uint16_t sp, dp;
	bool tcp;

	(void)q;
	if (!nh_frame_parse(data, len, &src, &dst, &sp, &dp, &tcp))
		return;
	t->got++;
	t->hash += m->has_hash;
	t->xdp += m->has_xdp;
	t->multi += m->slots > 1;
	t->gso += m->gso_type != XEN_NETIF_GSO_TYPE_NONE;
}

static int hashing_on(struct netfront *nf)
{
	uint32_t gref;
	uint8_t *page = netfront_ctrl_page(nf, &gref);

	if (!page)
		return -1;
	memcpy(page, nh_rss_key, 40);
	return netfront_ctrl(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
			     XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0,
			     NULL) ?:
	       netfront_ctrl(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
			     NB_HASH_FLAGS_ALL, 0, 0, NULL) ?:
	       netfront_ctrl(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, gref, 40, 0,
			     NULL);
}

static void attack(struct netfront *nf, const char *cmd, char *reply,
		   size_t len)
{
	unsigned int want;

	if (!strcmp(cmd, "hash")) {
		snprintf(reply, len, "%s", hashing_on(nf) ? "error" : "ok");
	} else if (sscanf(cmd, "recv %u", &want) == 1) {
		struct netfront_stats s, sum;
		struct tally t;

		memset(&t, 0, sizeof(t));
		memset(&sum, 0, sizeof(sum));
		for (int ms = 0; ms < 5000 && t.got < want; ms += 10) {
			for (unsigned int q = 0; q < NQ; q++)
				netfront_poll(nf, q, on_rx, &t, 0);
			netfront_wait(nf, 0, 10);
		}
		for (unsigned int q = 0; q < NQ; q++) {
			netfront_stats(nf, q, &s);
			sum.rx_canary_checked += s.rx_canary_checked;
			sum.rx_leaks += s.rx_leaks;
		}
		snprintf(reply, len,
			 "got %u leaks %llu checked %llu viol %lu "
			 "hash %u xdp %u multi %u gso %u",
			 t.got, (unsigned long long)sum.rx_leaks,
			 (unsigned long long)sum.rx_canary_checked,
			 netfront_violations(nf, NULL, 0), t.hash, t.xdp,
			 t.multi, t.gso);
	} else {
		snprintf(reply, len, "unknown %s", cmd);
	}
}

/* A TCPv4 GSO frame of @payload bytes through a vnet-header socket. */
static int inject_gso(int ps, uint8_t *f, size_t payload, uint16_t sport)
{
	struct virtio_net_hdr vh;
	size_t len = 14 + 20 + 20 + payload;
	uint8_t *buf = malloc(sizeof(vh) + len);
	uint32_t sum = 0;
	ssize_t n;

	if (!buf)
		return -1;
	nh_frame_ipv4(f, len, IP(10, 7, 0, 1), IP(10, 7, 0, 2), sport, 80,
		      true);
	/* A partial checksum: the pseudo-header sum in the TCP field. */
	for (int i = 26; i < 34; i += 2)
		sum += (uint32_t)f[i] << 8 | f[i + 1];
	sum += 6 + (uint32_t)(len - 34);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f[34 + 16] = (uint8_t)(sum >> 8);
	f[34 + 17] = (uint8_t)sum;
	memset(&vh, 0, sizeof(vh));
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh.gso_size = 1448;
	vh.hdr_len = 54;
	vh.csum_start = 34;
	vh.csum_offset = 16;
	memcpy(buf, &vh, sizeof(vh));
	memcpy(buf + sizeof(vh), f, len);
	n = write(ps, buf, sizeof(vh) + len);
	free(buf);
	return n == (ssize_t)(sizeof(vh) + len) ? 0 : -1;
}

int main(void)
{
	static const char *const sets[] = { "max-queues=2", NULL };
	static const size_t sizes[] = { 60,   61,   64,	  100,	127,  128,
					255,  256,  1000, 1514, 3000, 3840,
					3841, 4096, 5000, 8000, 9014 };
	static uint8_t f[65536];
	unsigned int got, hash, xdp, multi, gso, nsent = 0, ngso = 0;
	unsigned long long leaks, checked;
	unsigned long viol;
	struct netfront_cfg cfg;
	const char *r;
	struct nh h;
	int vps;

	net_require();
	netfront_cfg_init(&cfg);
	cfg.queues = NQ;
	cfg.ctrl_ring = true;
	cfg.rx_canary = CANARY;
	cfg.xdp_headroom = 256;
	nh_start(&h, attack, &cfg, sets);
	r = nh_ask(&h, "hash");
	CHECK(!strcmp(r, "ok"), "hashing: %s", r);
	CHECK(net_ns_sh(h.s.daemon, NULL, 0, "ip link set vif1.0 mtu 9000") ==
		      0,
	      "vif1.0 mtu 9000");

	for (int round = 0; round < 4; round++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			nh_inject(&h, f,
				  nh_frame_ipv4(
					  f, sizes[i], IP(10, 8, 0, 1 + round),
					  IP(10, 8, 1, 1), (uint16_t)(1000 + i),
					  80, round & 1));
			nsent++;
		}
	}
	/* GSO: through a socket that speaks virtio-net headers. */
	vps = net_packet_socket(h.s.daemon, "vif1.0", 1);
	for (int i = 0; i < 4; i++)
		if (!inject_gso(vps, f, 8000 + 9000 * (size_t)i,
				(uint16_t)(2000 + i)))
			ngso++;
	close(vps);
	r = nh_ask(&h, "recv %u", nsent + ngso);
	fprintf(stderr, "guest: %s (sent %u + %u GSO)\n", r, nsent, ngso);
	CHECK(sscanf(r,
		     "got %u leaks %llu checked %llu viol %lu hash %u xdp "
		     "%u multi %u gso %u",
		     &got, &leaks, &checked, &viol, &hash, &xdp, &multi,
		     &gso) == 8,
	      "guest: %s", r);
	CHECK(leaks == 0, "bytes the guest was not meant to see: %s", r);
	CHECK(viol == 0, "netif violations: %s", r);
	CHECK(got == nsent + ngso, "frames received: %s (sent %u + %u)", r,
	      nsent, ngso);
	CHECK(checked > got, "pages checked: %s", r);
	CHECK(hash == got && xdp == got, "extras on every packet: %s", r);
	CHECK(multi > 0, "no packet over several slots: %s", r);
	CHECK(ngso == 0 || gso > 0, "no GSO packet arrived as one: %s", r);
	nh_check_daemon(&h);
	return nh_finish(&h);
}
