/* SPDX-License-Identifier: MIT */
/*
 * net-ctrl-msg - libFuzzer target for netbackd's control-ring parser
 * (netback/ctrlmsg.c) and the receive hash of netback/hash.h, on any
 * bytes: a stream of control requests (16 bytes each) with the bytes of
 * the grant they name taken from the input too, then frames to hash.
 *
 * Checks, beyond the sanitizers: every response echoes its request's id
 * and type and has a known status; a failed message leaves the hashing
 * state exactly as it was; the state always holds a key of 40 octets, a
 * table of at most 128 entries each naming one of the vif's queues, and
 * flags only of the known types; the queue a hash picks is always one of
 * the vif's.
 *
 *   make fuzz && build/fuzz/net-ctrl-msg -runs=100000
 */
#include "netback/ctrlmsg.c"

#include <stdio.h>
#include <stdlib.h>

#define BUG(...)                                                               \
	do {                                                                   \
		fprintf(stderr, __VA_ARGS__);                                  \
		fputc('\n', stderr);                                           \
		abort();                                                       \
	} while (0)

struct grant_src {
	const uint8_t *p;
	size_t len;
};

/* The "grant": the rest of the input, or a failure for odd grefs. */
static int copy_from(void *arg, uint32_t gref, void *dst, size_t len)
{
	struct grant_src *g = arg;

	if (gref & 1)
		return -EFAULT;
	if (len > 4096)
		BUG("copy of %zu bytes", len);
	memset(dst, 0xee, len);
	memcpy(dst, g->p, len < g->len ? len : g->len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nb_hash h, before;
	unsigned int nq;
	struct grant_src g;
	size_t off = 1;

	if (size < 1)
		return 0;
	nq = (unsigned int)(data[0] % 16) + 1;
	memset(&h, 0, sizeof(h));
	g.p = data;
	g.len = size;
	while (off + sizeof(struct xen_netif_ctrl_request) <= size) {
		struct xen_netif_ctrl_request req;
		struct xen_netif_ctrl_response rsp;
		int changed;

		memcpy(&req, data + off, sizeof(req));
		off += sizeof(req);
		g.p = data + off;
		g.len = size - off;
		before = h;
		changed = nb_ctrl_msg(&h, nq, &req, &rsp, copy_from, &g);
		if (rsp.id != req.id || rsp.type != req.type)
			BUG("response id/type not echoed");
		if (rsp.status > XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW)
			BUG("status %u", rsp.status);
		if (rsp.status != XEN_NETIF_CTRL_STATUS_SUCCESS &&
		    (changed || memcmp(&h, &before, sizeof(h))))
			BUG("a failed message changed the state");
		if (h.size > NB_HASH_MAPPING_MAX)
			BUG("table of %u entries", h.size);
		if (h.flags & ~(uint32_t)NB_HASH_FLAGS_ALL)
			BUG("flags %#x", h.flags);
		for (uint32_t i = 0; i < h.size; i++)
			if (h.mapping[i] >= nq)
				BUG("entry %u names queue %u of %u", i,
				    h.mapping[i], nq);
	}
	/* The rest as a frame. */
	if (off < size) {
		uint32_t hash = 0;
		uint8_t type = 0;

		nb_hash_frame(&h, data + off, size - off, &hash, &type);
		if (nb_hash_queue(&h, hash, nq) >= nq)
			BUG("queue out of range");
	}
	return 0;
}
