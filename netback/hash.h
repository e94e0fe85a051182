/* SPDX-License-Identifier: MIT */
/*
 * hash.h - the receive-side hashing a netif frontend configures over the
 * control ring (feature-ctrl-ring): the Toeplitz hash with a key of up to
 * 40 bytes, the hash types (IPv4, IPv4+TCP, IPv6, IPv6+TCP: the fields of
 * xen/io/netif.h's "Hash types"), and the mapping table from a hash to a
 * queue (up to 128 entries, Linux's XEN_NETBK_MAX_HASH_MAPPING_SIZE).
 *
 * ctrl.c fills a struct nb_hash from the frontend's messages; each queue
 * holds its own copy (netq_set_hash) and hashes the frames it takes from
 * the port to steer them to the queue the mapping names and to tell the
 * frontend the hash (XEN_NETIF_EXTRA_TYPE_HASH).
 *
 * Header-only (static inline): the data path, the control ring's parser,
 * the test netfront and the fuzz targets share it. Pure functions on the
 * caller's memory; a frame is hostile (pkt.h's rules: never a read past
 * @len). Any thread.
 */
#ifndef PVBACK_NETBACK_HASH_H
#define PVBACK_NETBACK_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <xen/io/netif.h>

#include "netback/pkt.h"

#define NB_HASH_KEY_MAX 40	/* XEN_NETBK_MAX_HASH_KEY_SIZE */
#define NB_HASH_MAPPING_MAX 128 /* XEN_NETBK_MAX_HASH_MAPPING_SIZE */
#define NB_HASH_FLAGS_ALL                                                      \
	(XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |   \
	 XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)

/* What the frontend configured; all zero: no hashing (Linux's default). */
struct nb_hash {
	uint32_t alg;		      /* XEN_NETIF_CTRL_HASH_ALGORITHM_* */
	uint32_t flags;		      /* XEN_NETIF_CTRL_HASH_TYPE_* */
	uint8_t key[NB_HASH_KEY_MAX]; /* missing octets are zero */
	uint32_t size;		      /* mapping entries; 0: modulo */
	uint32_t mapping[NB_HASH_MAPPING_MAX]; /* each < the queues */
};

/*
 * nb_toeplitz - the Toeplitz hash of @buf[0..@len) (@len <= 36) with the
 * 40-byte @key: for each input bit that is set, XOR in the 32 key bits
 * starting at that bit's position.
 */
static inline uint32_t nb_toeplitz(const uint8_t key[NB_HASH_KEY_MAX],
				   const uint8_t *buf, size_t len)
{
	uint64_t window = 0;
	uint32_t hash = 0;
	size_t k = 0;

	/* window: key bits [i, i + 64) for input bit i, left-aligned. */
	for (; k < 8; k++)
		window = window << 8 | key[k];
	for (size_t i = 0; i < len; i++) {
		for (int b = 7; b >= 0; b--) {
			if (buf[i] >> b & 1)
				hash ^= (uint32_t)(window >> 32);
			window <<= 1;
		}
		/* Eight bits consumed: the next key byte comes in. */
		window |= k < NB_HASH_KEY_MAX ? key[k] : 0;
		k++;
	}
	return hash;
}

/*
 * nb_hash_frame - the hash of the Ethernet frame @p[0..@len) under @h: for
 * IPv4 (not a fragment for the TCP type) or IPv6, the TCP type when @h has
 * it and the frame is TCP, else the address-only type when @h has it.
 * Returns 1 with *@hash and *@type (an _XEN_NETIF_CTRL_HASH_TYPE_* bit
 * number), or 0 if no type of @h applies (or no algorithm is set).
 */
static inline int nb_hash_frame(const struct nb_hash *h, const uint8_t *p,
				size_t len, uint32_t *hash, uint8_t *type)
{
	uint8_t buf[36];
	size_t off = PKT_ETH_HLEN, n;
	struct pkt_l4 l;
	int tcp, v6;
	uint16_t et;

	if (h->alg != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ || !h->flags ||
	    len < PKT_ETH_HLEN)
		return 0;
	et = pkt_be16(p + 12);
	if (et == PKT_ETH_P_8021Q || et == PKT_ETH_P_8021AD) {
		if (len < off + 4)
			return 0;
		et = pkt_be16(p + off + 2);
		off += 4;
	}
	if (et == PKT_ETH_P_IP && len >= off + 20 && (p[off] >> 4) == 4)
		v6 = 0;
	else if (et == PKT_ETH_P_IPV6 && len >= off + 40 && (p[off] >> 4) == 6)
		v6 = 1;
	else
		return 0;
	/* pkt_parse_l4 finds a whole TCP header of an unfragmented packet. */
	tcp = !pkt_parse_l4(p, len, &l) && l.proto == PKT_PROTO_TCP &&
	      (h->flags & (v6 ? XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP
			      : XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP));
	if (!tcp && !(h->flags & (v6 ? XEN_NETIF_CTRL_HASH_TYPE_IPV6
				     : XEN_NETIF_CTRL_HASH_TYPE_IPV4)))
		return 0;
	/* Source and destination addresses, then the two ports. */
	n = v6 ? 32 : 8;
	memcpy(buf, p + off + (v6 ? 8 : 12), n);
	if (tcp) {
		memcpy(buf + n, p + l.l4, 4);
		n += 4;
	}
	*hash = nb_toeplitz(h->key, buf, n);
	if (v6)
		*type = tcp ? _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP
			    : _XEN_NETIF_CTRL_HASH_TYPE_IPV6;
	else
		*type = tcp ? _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP
			    : _XEN_NETIF_CTRL_HASH_TYPE_IPV4;
	return 1;
}

/*
 * The queue of a frame with @hash (0 when nb_hash_frame found none, as
 * Linux's cleared skb hash) among @nq queues: the mapping table's entry,
 * or the hash modulo the queues without a table. Always < @nq.
 */
static inline unsigned int nb_hash_queue(const struct nb_hash *h, uint32_t hash,
					 unsigned int nq)
{
	unsigned int q;

	if (!nq)
		return 0;
	q = h->size ? h->mapping[hash % h->size] : hash % nq;
	/* ctrl.c checks every entry against the queues; stay safe anyway. */
	return q < nq ? q : 0;
}

#endif
