// SPDX-License-Identifier: MIT
/*
 * ctrlmsg.c - the netif control ring's messages (ctrl.h, nb_ctrl_msg):
 * from the private copy of one request to the hashing state and a
 * response, with the checks XSA-270 taught (a key longer than 40 octets,
 * a table longer than 128 entries or past its size, offset + length
 * wrapping, an entry naming a queue the vif does not have: refused, the
 * state left as it was). Pure but for the copy callback, so the fuzz
 * target tests/fuzz/net-ctrl-msg.c takes this file alone; ctrl.c serves
 * the ring.
 */
#include "netback/ctrl.h"

#include <errno.h>
#include <string.h>

#define CTRL_PAGE 4096u

/* ------------------------------------------------------------ messages */

static uint32_t set_algorithm(struct nb_hash *h, uint32_t alg, int *changed)
{
	if (alg != XEN_NETIF_CTRL_HASH_ALGORITHM_NONE &&
	    alg != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	h->alg = alg;
	/* No algorithm: no hash types either (Linux clears them too). */
	if (alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
		h->flags = 0;
	*changed = 1;
	return XEN_NETIF_CTRL_STATUS_SUCCESS;
}

static uint32_t set_flags(struct nb_hash *h, uint32_t flags, int *changed)
{
	if (flags & ~(uint32_t)NB_HASH_FLAGS_ALL)
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	if (flags && h->alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	h->flags = flags;
	*changed = 1;
	return XEN_NETIF_CTRL_STATUS_SUCCESS;
}

static uint32_t set_key(struct nb_hash *h, uint32_t gref, uint32_t len,
			nb_ctrl_copy_fn copy, void *arg, int *changed)
{
	uint8_t key[NB_HASH_KEY_MAX];

	if (len > NB_HASH_KEY_MAX)
		return XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW;
	memset(key, 0, sizeof(key));
	if (len && copy(arg, gref, key, len))
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	/* Octets not given are zero; a key of 0 octets clears it. */
	memcpy(h->key, key, sizeof(key));
	*changed = 1;
	return XEN_NETIF_CTRL_STATUS_SUCCESS;
}

static uint32_t set_mapping_size(struct nb_hash *h, uint32_t size, int *changed)
{
	if (size > NB_HASH_MAPPING_MAX)
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	/* A new size invalidates the table: all entries queue 0. */
	h->size = size;
	memset(h->mapping, 0, sizeof(h->mapping));
	*changed = 1;
	return XEN_NETIF_CTRL_STATUS_SUCCESS;
}

static uint32_t set_mapping(struct nb_hash *h, unsigned int nq, uint32_t gref,
			    uint32_t len, uint32_t off, nb_ctrl_copy_fn copy,
			    void *arg, int *changed)
{
	uint32_t tab[NB_HASH_MAPPING_MAX];

	/* In 64 bits: off + len cannot wrap around (a guest's sum would). */
	if ((uint64_t)off + len > h->size)
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	if (len > CTRL_PAGE / sizeof(uint32_t))
		return XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW;
	if (!len)
		return XEN_NETIF_CTRL_STATUS_SUCCESS;
	/* Copied whole into our buffer, checked, then committed. */
	if (copy(arg, gref, tab, (size_t)len * sizeof(uint32_t)))
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	for (uint32_t i = 0; i < len; i++) {
		if (tab[i] >= nq)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	}
	memcpy(h->mapping + off, tab, (size_t)len * sizeof(uint32_t));
	*changed = 1;
	return XEN_NETIF_CTRL_STATUS_SUCCESS;
}

int nb_ctrl_msg(struct nb_hash *h, unsigned int nq,
		const struct xen_netif_ctrl_request *req,
		struct xen_netif_ctrl_response *rsp, nb_ctrl_copy_fn copy,
		void *arg)
{
	const uint32_t *d = req->data;
	int changed = 0;
	uint32_t status, data = 0;

	switch (req->type) {
	case XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM:
		status = set_algorithm(h, d[0], &changed);
		break;
	case XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS:
		/* What we can hash, whatever is set now (as Linux). */
		status = XEN_NETIF_CTRL_STATUS_SUCCESS;
		data = NB_HASH_FLAGS_ALL;
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS:
		status = set_flags(h, d[0], &changed);
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_KEY:
		status = set_key(h, d[0], d[1], copy, arg, &changed);
		break;
	case XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE:
		status = XEN_NETIF_CTRL_STATUS_SUCCESS;
		data = NB_HASH_MAPPING_MAX;
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE:
		status = set_mapping_size(h, d[0], &changed);
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING:
		status = set_mapping(h, nq, d[0], d[1], d[2], copy, arg,
				     &changed);
		break;
	default:
		/* INVALID, the grant-mapping messages, anything newer. */
		status = XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
		break;
	}
	/* Every byte of the response is ours to set (XSA-216). */
	memset(rsp, 0, sizeof(*rsp));
	rsp->id = req->id;
	rsp->type = req->type;
	rsp->status = status;
	rsp->data = status == XEN_NETIF_CTRL_STATUS_SUCCESS ? data : 0;
	return changed;
}
