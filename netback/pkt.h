/* SPDX-License-Identifier: MIT */
/*
 * pkt.h - the little of Ethernet, IPv4/IPv6, TCP and UDP that a netif
 * backend must read: where the transport header is (for checksum offload
 * and GSO metadata), Internet checksums, multicast addresses.
 *
 * A guest's packet is hostile: every function takes the packet's real
 * length and never reads past it; a header that does not fit, a length
 * field that lies, an IPv6 extension chain that runs off the end, all end
 * in -EINVAL, never in a read out of bounds. Parsing runs on a private copy
 * of the whole packet (headers are assembled before anything looks at
 * them, whatever slots the frontend spread them over: XSA-423).
 *
 * Header-only (static inline): netbackd's data path, the test netfront
 * (tests/front) and the fuzz targets share it. Pure functions, any thread.
 */
#ifndef PVBACK_NETBACK_PKT_H
#define PVBACK_NETBACK_PKT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PKT_ETH_HLEN 14u
#define PKT_ETH_P_IP 0x0800
#define PKT_ETH_P_IPV6 0x86DD
#define PKT_ETH_P_8021Q 0x8100
#define PKT_ETH_P_8021AD 0x88A8
#define PKT_PROTO_TCP 6
#define PKT_PROTO_UDP 17

/* Where a TCP or UDP header sits in a frame. */
struct pkt_l4 {
	uint16_t l3;	   /* offset of the IP header */
	uint16_t l4;	   /* offset of the TCP or UDP header */
	uint16_t l4_hlen;  /* TCP: data offset * 4; UDP: 8 */
	uint16_t csum_off; /* checksum field, from l4: 16 (TCP), 6 (UDP) */
	uint8_t proto;	   /* PKT_PROTO_TCP or PKT_PROTO_UDP */
	uint8_t ipv6;
};

static inline uint16_t pkt_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void pkt_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Group bit set, broadcast excluded (Linux's PACKET_MULTICAST). */
static inline int pkt_is_multicast(const uint8_t *dst)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	return (dst[0] & 1) && memcmp(dst, bcast, 6) != 0;
}

/*
 * pkt_parse_l4 - find the TCP or UDP header of the frame @p[0..@len):
 * Ethernet, at most one 802.1Q/802.1ad tag, IPv4 (not a fragment) or IPv6
 * (hop-by-hop, routing, destination-options and AH extension headers, a
 * fragment header only for an unfragmented packet), then a complete TCP
 * or UDP header. Returns 0 with @out filled; -EPROTONOSUPPORT if the frame
 * is something else (ARP, ICMP, a fragment...); -EINVAL if a header is
 * truncated or inconsistent.
 */
static inline int pkt_parse_l4(const uint8_t *p, size_t len, struct pkt_l4 *out)
{
	size_t off = PKT_ETH_HLEN, l4;
	uint16_t type;
	uint8_t proto;

	if (len < PKT_ETH_HLEN)
		return -EINVAL;
	type = pkt_be16(p + 12);
	if (type == PKT_ETH_P_8021Q || type == PKT_ETH_P_8021AD) {
		if (len < off + 4)
			return -EINVAL;
		type = pkt_be16(p + off + 2);
		off += 4;
	}
	out->l3 = (uint16_t)off;
	if (type == PKT_ETH_P_IP) {
		size_t ihl;

		if (len < off + 20 || (p[off] >> 4) != 4)
			return -EINVAL;
		ihl = (size_t)(p[off] & 0xf) * 4;
		if (ihl < 20 || len < off + ihl)
			return -EINVAL;
		/* More fragments, or a fragment offset: no L4 header here. */
		if (pkt_be16(p + off + 6) & 0x3fff)
			return -EPROTONOSUPPORT;
		proto = p[off + 9];
		l4 = off + ihl;
		out->ipv6 = 0;
	} else if (type == PKT_ETH_P_IPV6) {
		unsigned int hops;

		if (len < off + 40 || (p[off] >> 4) != 6)
			return -EINVAL;
		proto = p[off + 6];
		l4 = off + 40;
		/* Bounded: each extension header is at least 8 bytes. */
		for (hops = 0; hops < 32; hops++) {
			size_t hl;

			if (proto == 0 || proto == 43 || proto == 60) {
				if (len < l4 + 8)
					return -EINVAL;
				hl = ((size_t)p[l4 + 1] + 1) * 8;
			} else if (proto == 44) {
				if (len < l4 + 8)
					return -EINVAL;
				if (pkt_be16(p + l4 + 2) & 0xfff9)
					return -EPROTONOSUPPORT;
				hl = 8;
			} else if (proto == 51) {
				if (len < l4 + 8)
					return -EINVAL;
				hl = ((size_t)p[l4 + 1] + 2) * 4;
			} else {
				break;
			}
			if (len < l4 + hl)
				return -EINVAL;
			proto = p[l4];
			l4 += hl;
		}
		out->ipv6 = 1;
	} else {
		return -EPROTONOSUPPORT;
	}
	if (l4 > 0xffff)
		return -EINVAL;
	if (proto == PKT_PROTO_TCP) {
		size_t doff;

		if (len < l4 + 20)
			return -EINVAL;
		doff = (size_t)(p[l4 + 12] >> 4) * 4;
		if (doff < 20 || len < l4 + doff)
			return -EINVAL;
		out->l4_hlen = (uint16_t)doff;
		out->csum_off = 16;
	} else if (proto == PKT_PROTO_UDP) {
		if (len < l4 + 8)
			return -EINVAL;
		out->l4_hlen = 8;
		out->csum_off = 6;
	} else {
		return -EPROTONOSUPPORT;
	}
	out->proto = proto;
	out->l4 = (uint16_t)l4;
	return 0;
}

/* Add @p[0..@len) to a ones' complement sum (big-endian 16-bit words). */
static inline uint64_t pkt_csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8)
		sum += (uint64_t)pkt_be16(p + i) + pkt_be16(p + i + 2) +
		       pkt_be16(p + i + 4) + pkt_be16(p + i + 6);
	for (; i + 2 <= len; i += 2)
		sum += pkt_be16(p + i);
	if (i < len)
		sum += (uint64_t)p[i] << 8;
	return sum;
}

static inline uint16_t pkt_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The pseudo-header of @l's packet for @l4len bytes of transport data. */
static inline uint64_t pkt_pseudo_sum(const uint8_t *p, const struct pkt_l4 *l,
				      uint32_t l4len)
{
	uint64_t sum;

	if (l->ipv6)
		sum = pkt_csum_add(0, p + l->l3 + 8, 32);
	else
		sum = pkt_csum_add(0, p + l->l3 + 12, 8);
	return sum + l->proto + (l4len >> 16) + (l4len & 0xffff);
}

/*
 * pkt_csum_seed - put the folded pseudo-header sum into the transport
 * checksum field: what a partially checksummed packet (csum_blank, the
 * virtio-net NEEDS_CSUM) must carry there. For a frontend that sent GSO
 * without csum_blank (Linux netback's rx_gso_checksum_fixup).
 */
static inline void pkt_csum_seed(uint8_t *p, size_t len, const struct pkt_l4 *l)
{
	uint32_t l4len = (uint32_t)(len - l->l4);

	pkt_put_be16(p + l->l4 + l->csum_off,
		     pkt_csum_fold(pkt_pseudo_sum(p, l, l4len)));
}

/*
 * pkt_csum_finished - what finishing a partial checksum puts in its field:
 * the complement of the sum of @p[@start..@len) (the field at @start +
 * @off holds the pseudo-header sum), 0 sent as 0xffff, as
 * skb_checksum_help. 0, or -EINVAL if the field does not lie inside the
 * packet.
 */
static inline int pkt_csum_finished(const uint8_t *p, size_t len, size_t start,
				    size_t off, uint16_t *c)
{
	if (start > len || off + 2 > len - start)
		return -EINVAL;
	*c = (uint16_t)~pkt_csum_fold(pkt_csum_add(0, p + start, len - start));
	if (!*c)
		*c = 0xffff;
	return 0;
}

/* pkt_csum_complete - finish a partial checksum in place (as above). */
static inline int pkt_csum_complete(uint8_t *p, size_t len, size_t start,
				    size_t off)
{
	uint16_t c;

	if (pkt_csum_finished(p, len, start, off, &c))
		return -EINVAL;
	pkt_put_be16(p + start + off, c);
	return 0;
}

#endif
