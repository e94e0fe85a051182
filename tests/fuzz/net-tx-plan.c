/* SPDX-License-Identifier: MIT */
/*
 * net-tx-plan - libFuzzer target for netbackd's guest-TX parsers: the
 * validation of a packet's ring slots (netback/txplan.c) and the header
 * parsing and checksums of netback/pkt.h, on any bytes.
 *
 * Checks, beyond the sanitizers: a plan never takes more slots than were
 * published, nor fewer than one; a packet that is taken has at most 19
 * data slots, a first slot of at least 14 bytes inside its page, data
 * slots that add up to its length, and (with GSO) a valid GSO extra; a
 * fatal verdict names a fatal class, a drop a drop reason; planning twice
 * gives the same plan. A parsed frame's transport header lies inside the
 * frame, and finishing a checksum there writes inside it.
 *
 *   make fuzz && build/fuzz/net-tx-plan -runs=100000
 */
#include "netback/txplan.c"

#include <stdio.h>
#include <stdlib.h>

#include "netback/pkt.h"

#define BUG(...)                                                               \
	do {                                                                   \
		fprintf(stderr, __VA_ARGS__);                                  \
		fputc('\n', stderr);                                           \
		abort();                                                       \
	} while (0)

static union ring_netif_tx_req slots[64];
static uint8_t frame[4096];

static void check_plan(const struct netq_tx_plan *p, unsigned int avail,
		       unsigned int fatal_slots)
{
	const union ring_netif_tx_req *r = slots;
	unsigned int sum = 0;

	if (p->nslots < 1 || p->nslots > avail)
		BUG("plan takes %u of %u slots", p->nslots, avail);
	switch (p->verdict) {
	case NETQ_TX_FATAL:
		if (p->reason < 0 || p->reason >= NETQ_F_NR)
			BUG("fatal class %d", p->reason);
		return;
	case NETQ_TX_DROP:
		if (p->reason < 0 || p->reason >= NETQ_TXD_NR)
			BUG("drop reason %d", p->reason);
		return;
	case NETQ_TX_MCAST:
		if (p->nslots != 1 + p->nextras)
			BUG("mcast request of %u slots", p->nslots);
		return;
	case NETQ_TX_OK:
		break;
	default:
		BUG("verdict %d", p->verdict);
	}
	if (p->nslots != 1 + p->nextras + p->nfrags)
		BUG("slots %u != 1 + %u + %u", p->nslots, p->nextras,
		    p->nfrags);
	/* As Linux's xenvif_count_requests: fatal_slots counts the slots
	 * after the first, and a packet of exactly that many is not fatal
	 * (the bound is checked before each further slot). */
	if (1 + p->nfrags > NB_LEGACY_SLOTS + 1 || p->nfrags > fatal_slots)
		BUG("%u data slots taken", 1 + p->nfrags);
	if (p->first_len < NB_ETH_HLEN ||
	    r[0].req.offset + p->first_len > NB_PAGE)
		BUG("first slot %u at %u", p->first_len, r[0].req.offset);
	sum = p->first_len;
	for (unsigned int i = 1 + p->nextras; i < p->nslots; i++) {
		if (r[i].req.offset + r[i].req.size > NB_PAGE)
			BUG("slot %u past its page", i);
		sum += r[i].req.size;
	}
	if (sum != p->total)
		BUG("data slots add up to %u, not %u", sum, p->total);
	if (p->extra_mask & (1u << XEN_NETIF_EXTRA_TYPE_GSO)) {
		const struct netif_extra_info *g =
			&p->extras[XEN_NETIF_EXTRA_TYPE_GSO - 1];

		if (!g->u.gso.size ||
		    (g->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
		     g->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6))
			BUG("bad GSO extra taken");
	}
}

static void check_pkt(const uint8_t *data, size_t len)
{
	struct pkt_l4 l;

	if (len > sizeof(frame))
		len = sizeof(frame);
	memcpy(frame, data, len);
	if (pkt_parse_l4(frame, len, &l))
		return;
	if ((size_t)l.l4 + l.l4_hlen > len || l.l3 >= l.l4 ||
	    (size_t)l.l4 + l.csum_off + 2 > len)
		BUG("transport header at %u+%u outside %zu bytes", l.l4,
		    l.l4_hlen, len);
	pkt_csum_seed(frame, len, &l);
	if (pkt_csum_complete(frame, len, l.l4, l.csum_off))
		BUG("checksum field refused");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct netq_tx_plan p, p2;
	unsigned int avail, fatal_slots;

	if (size < 2)
		return 0;
	fatal_slots = NB_LEGACY_SLOTS + data[0] % 8;
	avail = (size - 1) / sizeof(slots[0]);
	if (avail > 64)
		avail = 64;
	if (avail >= 1) {
		memset(slots, 0, sizeof(slots));
		memcpy(slots, data + 1, avail * sizeof(slots[0]));
		netq_tx_plan(slots, avail, fatal_slots, &p);
		check_plan(&p, avail, fatal_slots);
		netq_tx_plan(slots, avail, fatal_slots, &p2);
		if (memcmp(&p, &p2, sizeof(p)))
			BUG("planning twice differs");
	}
	check_pkt(data + 1, size - 1);
	return 0;
}
