// SPDX-License-Identifier: MIT
/*
 * The largest packet netif carries, 65535 bytes, as one TCPv4 GSO frame,
 * both ways through netbackd, byte for byte:
 *
 *   guest TX: netfront puts it on the ring as 17 slots (the first one
 *   starting 3000 bytes into its page, so the headers straddle two slots)
 *   with a GSO extra (MSS 1448) and csum_blank; on the vif TAP a packet
 *   socket sees one frame of 65535 bytes, GSO TCPv4 with MSS 1448 and a
 *   partial checksum at the TCP header, every byte as sent;
 *
 *   guest RX: a packet socket writes the same kind of frame into the vif
 *   TAP with a virtio-net GSO header; netfront receives one packet of
 *   65535 bytes with a GSO extra (TCPv4, MSS 1448) and csum_blank, every
 *   byte as written.
 *
 * netfront counts no violation of the netif rules.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "front/netfront.h"
#include "lib/check.h"
#include "lib/netscen.h"
#include "netback/pkt.h"

#define PKT 65535u
#define MSS 1448
#define TCP_PORT 9999

static const uint8_t guest_mac[6] = { 0x00, 0x16, 0x3e, 0x00, 0x01, 0x00 };
static const uint8_t vif_mac[6] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff };
static int to_guest[2], from_guest[2];

/* An Ethernet/IPv4/TCP frame of @len bytes, payload from @seed, with the
 * pseudo-header sum in the TCP checksum (a partial checksum). */
static void build(uint8_t *p, size_t len, const uint8_t *dst,
		  const uint8_t *src, uint8_t seed)
{
	struct pkt_l4 l;
	size_t ip_len = len - 14;

	memset(p, 0, 54);
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	pkt_put_be16(p + 12, PKT_ETH_P_IP);
	p[14] = 0x45;
	pkt_put_be16(p + 16, (uint16_t)ip_len);
	p[22] = 64;
	p[23] = PKT_PROTO_TCP;
	memcpy(p + 26, (uint8_t[]){ 10, 220, 0, 1 }, 4);
	memcpy(p + 30, (uint8_t[]){ 10, 220, 0, 2 }, 4);
	pkt_put_be16(p + 24,
		     (uint16_t)~pkt_csum_fold(pkt_csum_add(0, p + 14, 20)));
	pkt_put_be16(p + 34, 40000);
	pkt_put_be16(p + 36, TCP_PORT);
	p[46] = 5 << 4;
	p[47] = 0x18; /* PSH ACK */
	pkt_put_be16(p + 48, 65535);
	for (size_t i = 54; i < len; i++)
		p[i] = (uint8_t)(i * 13 + seed);
	CHECK(pkt_parse_l4(p, len, &l) == 0, "our own frame");
	pkt_csum_seed(p, len, &l);
}

static int guest(void *arg)
{
	static uint8_t pkt[PKT], rx[NETFRONT_RX_MAX_PKT];
	struct netfront_txmeta tm = {
		.flags = NETTXF_csum_blank | NETTXF_data_validated,
		.gso_type = XEN_NETIF_GSO_TYPE_TCPV4,
		.gso_size = MSS,
		.offset = 3000,
	};
	struct netfront_rxmeta rm;
	struct netfront_cfg cfg;
	struct netfront *nf;
	char line[256], why[160];
	int n;

	close(to_guest[1]);
	close(from_guest[0]);
	netfront_cfg_init(&cfg);
	if (netfront_connect(&nf, &cfg)) {
		net_say(from_guest[1], "error %s", netfront_last_error());
		return 2;
	}
	net_say(from_guest[1], "ok");
	while (!net_hear(to_guest[0], line, sizeof(line), 30000)) {
		if (!strcmp(line, "tx")) {
			build(pkt, PKT, vif_mac, guest_mac, 1);
			n = netfront_send(nf, 0, pkt, PKT, &tm);
			net_say(from_guest[1], "%s %d", n ? "error" : "sent",
				n);
		} else if (!strcmp(line, "rx")) {
			n = netfront_recv(nf, 0, rx, sizeof(rx), &rm, 5000);
			/* Skip what the host's stack may say (IPv6 RS...). */
			while (n > 0 && (size_t)n != PKT)
				n = netfront_recv(nf, 0, rx, sizeof(rx), &rm,
						  5000);
			build(pkt, PKT, guest_mac, vif_mac, 2);
			if (n < 0)
				net_say(from_guest[1], "error recv %d", n);
			else if (rm.gso_type != XEN_NETIF_GSO_TYPE_TCPV4 ||
				 rm.gso_size != MSS)
				net_say(from_guest[1], "error gso %u/%u",
					rm.gso_type, rm.gso_size);
			else if (!(rm.flags & NETRXF_csum_blank))
				net_say(from_guest[1], "error flags %#x",
					rm.flags);
			else if (memcmp(rx, pkt, PKT))
				net_say(from_guest[1], "error bytes differ");
			else
				net_say(from_guest[1], "rx ok %u slots",
					rm.slots);
		} else {
			break;
		}
	}
	n = (int)netfront_violations(nf, why, sizeof(why));
	if (n)
		fprintf(stderr, "guest: %d violations, last %s\n", n, why);
	netfront_close(nf);
	return n ? 3 : 0;
}

int main(void)
{
	static uint8_t buf[PKT + 4096], pkt[PKT];
	struct virtio_net_hdr h;
	struct net_scen s;
	char line[256];
	pid_t g;
	int ps, found = 0;

	net_start(&s, 1, NULL);
	net_add(&s, 1, 0, NULL);
	net_hotplug(&s, 1, 0, NULL);
	CHECK(pipe(to_guest) == 0 && pipe(from_guest) == 0, "pipes");
	g = simenv_fork_as(&s.env, 1, guest, NULL);
	CHECK(g > 0, "fork guest");
	close(to_guest[0]);
	close(from_guest[1]);
	CHECK(net_hear(from_guest[0], line, sizeof(line), 30000) == 0 &&
		      !strcmp(line, "ok"),
	      "guest: %s", line);
	ps = net_packet_socket(s.daemon, "vif1.0", 1);

	/* ---- guest TX */
	net_say(to_guest[1], "tx");
	CHECK(net_hear(from_guest[0], line, sizeof(line), 10000) == 0 &&
		      !strncmp(line, "sent", 4),
	      "guest: %s", line);
	build(pkt, PKT, vif_mac, guest_mac, 1);
	for (int i = 0; i < 200 && !found; i++) {
		struct iovec iov[2] = { { &h, sizeof(h) },
					{ buf, sizeof(buf) } };
		ssize_t n = readv(ps, iov, 2);

		CHECK(n > (ssize_t)sizeof(h), "capture: %s", strerror(errno));
		n -= (ssize_t)sizeof(h);
		if (n < 54 || pkt_be16(buf + 36) != TCP_PORT)
			continue;
		found = 1;
		CHECK(n == (ssize_t)PKT, "a %zd-byte frame arrived", n);
		CHECK(h.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 &&
			      h.gso_size == MSS,
		      "GSO %u/%u", h.gso_type, h.gso_size);
		CHECK((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
			      h.csum_start == 34 && h.csum_offset == 16,
		      "checksum %#x %u/%u", h.flags, h.csum_start,
		      h.csum_offset);
		CHECK(!memcmp(buf, pkt, PKT), "the bytes differ");
	}
	CHECK(found, "the GSO frame never reached the vif");

	/* ---- guest RX */
	net_say(to_guest[1], "rx");
	build(pkt, PKT, guest_mac, vif_mac, 2);
	memset(&h, 0, sizeof(h));
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = MSS;
	h.hdr_len = 54;
	h.csum_start = 34;
	h.csum_offset = 16;
	{
		struct iovec iov[2] = { { &h, sizeof(h) }, { pkt, PKT } };

		CHECK(writev(ps, iov, 2) == (ssize_t)(sizeof(h) + PKT),
		      "inject: %s", strerror(errno));
	}
	CHECK(net_hear(from_guest[0], line, sizeof(line), 10000) == 0 &&
		      !strncmp(line, "rx ok", 5),
	      "guest: %s", line);

	net_say(to_guest[1], "quit");
	CHECK(simenv_wait(g) == 0, "the guest failed");
	return net_pass(&s);
}
