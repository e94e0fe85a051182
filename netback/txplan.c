// SPDX-License-Identifier: MIT
/*
 * txplan.c - guest-TX validation: the private copies of one packet's ring
 * slots into a plan (netq_tx_plan, netq.h), with Linux netback's rules for
 * a misbehaving frontend (spec/netif-xenbus.md): what is dropped with
 * error responses, what disables the vif. Pure (no state, no I/O), so the
 * fuzz target tests/fuzz/net-tx-plan.c takes this file alone; tx.c acts on
 * the plans.
 */
#include <string.h>

#include "netback/netq.h"

static void plan_fatal(struct netq_tx_plan *p, enum netq_fatal class)
{
	p->verdict = NETQ_TX_FATAL;
	p->reason = class;
}

void netq_tx_plan(const union ring_netif_tx_req *r, unsigned int avail,
		  unsigned int fatal_slots, struct netq_tx_plan *p)
{
	const struct netif_tx_request *first = &r[0].req;
	uint16_t remaining;
	int drop = -1, more;

	memset(p, 0, sizeof(*p));
	p->total = first->size;
	p->flags = first->flags;
	p->nslots = 1;

	/* Extras right after the first slot (xenvif_get_extras). */
	if (first->flags & NETTXF_extra_info) {
		const struct netif_extra_info *e;

		do {
			/* "Missing extra info". */
			if (p->nslots >= avail)
				return plan_fatal(p, NETQ_F_EXTRA);
			e = &r[p->nslots].extra;
			p->nslots++;
			p->nextras++;
			if (e->type == XEN_NETIF_EXTRA_TYPE_NONE ||
			    e->type >= NB_EXTRA_TYPE_MAX)
				return plan_fatal(p, NETQ_F_EXTRA);
			/* A repeated type: the last one counts, as Linux. */
			p->extras[e->type - 1] = *e;
			p->extra_mask |= 1u << e->type;
		} while (e->flags & XEN_NETIF_EXTRA_FLAG_MORE);
	}
	/* Multicast control: the request carries no packet. */
	if (p->extra_mask & ((1u << XEN_NETIF_EXTRA_TYPE_MCAST_ADD) |
			     (1u << XEN_NETIF_EXTRA_TYPE_MCAST_DEL))) {
		p->verdict = NETQ_TX_MCAST;
		return;
	}

	/* The data slots after the first (xenvif_count_requests). */
	remaining = first->size;
	more = first->flags & NETTXF_more_data;
	while (more) {
		const struct netif_tx_request *f;

		if (p->nslots >= avail)
			return plan_fatal(p, NETQ_F_RUNOFF);
		if (p->nfrags >= fatal_slots)
			return plan_fatal(p, NETQ_F_SLOTS);
		if (drop < 0 && p->nfrags >= NB_LEGACY_SLOTS)
			drop = NETQ_TXD_SLOTS;
		f = &r[p->nslots].req;
		/* The first slot's size is the whole packet: no later slot
		 * may be larger than what is left of it. */
		if (drop < 0 && f->size > remaining)
			drop = NETQ_TXD_SIZE;
		remaining = (uint16_t)(remaining - f->size);
		p->nfrags++;
		p->nslots++;
		if ((unsigned int)f->offset + f->size > NB_PAGE)
			return plan_fatal(p, NETQ_F_PAGE);
		more = f->flags & NETTXF_more_data;
	}
	if (drop >= 0) {
		p->verdict = NETQ_TX_DROP;
		p->reason = drop;
		return;
	}
	p->first_len = remaining;
	if (remaining < NB_ETH_HLEN) {
		p->verdict = NETQ_TX_DROP;
		p->reason = NETQ_TXD_SHORT;
		return;
	}
	if ((unsigned int)first->offset + remaining > NB_PAGE)
		return plan_fatal(p, NETQ_F_PAGE);
	if (p->extra_mask & (1u << XEN_NETIF_EXTRA_TYPE_GSO)) {
		const struct netif_extra_info *g =
			&p->extras[XEN_NETIF_EXTRA_TYPE_GSO - 1];

		if (!g->u.gso.size ||
		    (g->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
		     g->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6))
			return plan_fatal(p, NETQ_F_GSO);
	}
	p->verdict = NETQ_TX_OK;
}
