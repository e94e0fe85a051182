// SPDX-License-Identifier: MIT
/*
 * Hostile frontend, class 8 (XSA-423): headers spread over many tiny
 * slots. A TCPv4 packet with csum_blank and a GSO extra whose Ethernet
 * header alone fills the first slot and whose IP and TCP headers come in
 * two-byte pieces over 17 more slots (19 data slots, the most Linux
 * takes): netbackd assembles the packet before it parses anything, so
 * the vif sees the frame whole and byte-identical, with the partial
 * checksum at the TCP header and the GSO metadata right. The daemon stays
 * up and the honest guest passes traffic.
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/nethostile.h"
#include "netback/pkt.h"

#define LEN 554u /* 54 bytes of headers, 500 of payload */
#define MSS 100

static void frame(uint8_t *p)
{
	struct pkt_l4 l;

	memset(p, 0, 4096);
	memcpy(p,
	       (uint8_t[]){ 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x16,
			    0x3e, 0x00, 0x01, 0x00, 0x08, 0x00 },
	       14);
	p[14] = 0x45;
	pkt_put_be16(p + 16, LEN - 14);
	p[22] = 64;
	p[23] = PKT_PROTO_TCP;
	memcpy(p + 26, (uint8_t[]){ 10, 242, 0, 1, 10, 242, 0, 2 }, 8);
	pkt_put_be16(p + 24,
		     (uint16_t)~pkt_csum_fold(pkt_csum_add(0, p + 14, 20)));
	pkt_put_be16(p + 34, 40000);
	pkt_put_be16(p + 36, 9998);
	p[46] = 5 << 4;
	p[47] = 0x18;
	pkt_put_be16(p + 48, 65535);
	for (unsigned int i = 54; i < LEN; i++)
		p[i] = (uint8_t)(i * 7);
	if (!pkt_parse_l4(p, LEN, &l))
		pkt_csum_seed(p, LEN, &l);
}

static void attack(struct netfront *nf, const char *cmd, char *reply,
		   size_t len)
{
	union ring_netif_tx_req sl[24];
	unsigned int n = 0, nulls, off = 14;
	uint32_t gref;
	int16_t st[24];
	int got;

	if (strcmp(cmd, "spread")) {
		snprintf(reply, len, "unknown %s", cmd);
		return;
	}
	frame(netfront_tx_scratch(nf, 0, &gref));
	memset(sl, 0, sizeof(sl));
	/* First slot: the whole length, its own 14 bytes; then the GSO. */
	sl[n].req = (struct netif_tx_request){
		.gref = gref,
		.offset = 0,
		.size = LEN,
		.id = NH_ID0,
		.flags = NETTXF_csum_blank | NETTXF_data_validated |
			 NETTXF_extra_info | NETTXF_more_data,
	};
	n++;
	sl[n].extra.type = XEN_NETIF_EXTRA_TYPE_GSO;
	sl[n].extra.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
	sl[n].extra.u.gso.size = MSS;
	n++;
	for (unsigned int k = 0; k < 18; k++) {
		unsigned int sz = k < 17 ? 2 : LEN - off;

		sl[n].req = (struct netif_tx_request){
			.gref = gref,
			.offset = (uint16_t)off,
			.size = (uint16_t)sz,
			.id = (uint16_t)(NH_ID0 + 1 + k),
			.flags = k < 17 ? NETTXF_more_data : 0,
		};
		off += sz;
		n++;
	}
	got = nh_raw(nf, sl, n, n, 2000, st, 24, &nulls);
	nh_reply_rsp(reply, len, got, st, nulls);
}

int main(void)
{
	static uint8_t buf[4096], want[4096];
	struct virtio_net_hdr h;
	struct nh hh;
	const char *r;
	int ps, found = 0;

	nh_start(&hh, attack, NULL, NULL);
	ps = net_packet_socket(hh.s.daemon, "vif1.0", 1);
	r = nh_ask(&hh, "spread");
	CHECK(!strcmp(r, "rsp 20 19 0 1"), "spread headers: %s", r);
	frame(want);
	for (int i = 0; i < 100 && !found; i++) {
		struct iovec iov[2] = { { &h, sizeof(h) },
					{ buf, sizeof(buf) } };
		struct pollfd pfd = { .fd = ps, .events = POLLIN };
		ssize_t n;

		CHECK(poll(&pfd, 1, 3000) == 1, "nothing on vif1.0");
		n = readv(ps, iov, 2) - (ssize_t)sizeof(h);
		if (n < 54 || pkt_be16(buf + 36) != 9998)
			continue;
		found = 1;
		CHECK(n == LEN && !memcmp(buf, want, LEN),
		      "the frame arrived different (%zd bytes)", n);
		CHECK((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
			      h.csum_start == 34 && h.csum_offset == 16,
		      "checksum %#x %u/%u", h.flags, h.csum_start,
		      h.csum_offset);
		/* (hdr_len is the kernel's linear length here, not ours.) */
		CHECK(h.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 &&
			      h.gso_size == MSS,
		      "GSO %u/%u", h.gso_type, h.gso_size);
	}
	CHECK(found, "the frame never reached the vif");
	nh_expect_disabled(&hh, false, "after spread headers");
	close(ps);
	return nh_finish(&hh);
}
