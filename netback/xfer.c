// SPDX-License-Identifier: MIT
/*
 * xfer.c - guest-RX steering between the queues of one vif (netq.h,
 * netback.h): a TAP hands each frame to the netbackd queue whose TAP
 * queue the kernel picked, but a frontend that set a hash mapping over the
 * control ring wants each flow on the queue the mapping names. The queue
 * that read the frame hashes it (rx.c) and, if another queue owns the
 * flow, copies it into the byte ring of that ordered pair of queues and
 * wakes the owner through its eventfd, once per batch.
 *
 * Each ring has exactly one producer thread and one consumer thread, so
 * it needs no lock: the producer owns tail, the consumer head; each
 * publishes its index with a release store that the other's acquire load
 * pairs with. Records are 64-byte aligned (a header, then the frame); a
 * record that would cross the end is preceded by a skip marker.
 */
#include "netback/netq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#define XFER_BYTES (256u * 1024u) /* per ordered pair of queues */
#define XFER_ALIGN 64u
#define XFER_SKIP UINT32_MAX

struct xfer_ring {
	_Alignas(64) uint64_t head; /* consumer: bytes released */
	_Alignas(64) uint64_t tail; /* producer: bytes published */
	unsigned char *buf;
};

struct netq_xfer {
	unsigned int nq;
	int efd[NB_MAX_QUEUES];
	struct xfer_ring ring[NB_MAX_QUEUES][NB_MAX_QUEUES]; /* [src][dst] */
	unsigned char *mem;
	size_t mem_bytes;
};

_Static_assert(sizeof(struct netq_xfer_hdr) <= XFER_ALIGN,
	       "a skip marker must fit the smallest gap");

static size_t rec_bytes(uint32_t len)
{
	return (sizeof(struct netq_xfer_hdr) + len + XFER_ALIGN - 1) &
	       ~(size_t)(XFER_ALIGN - 1);
}

int netq_xfer_create(unsigned int nq, struct netq_xfer **out)
{
	struct netq_xfer *x;
	unsigned int s, d;
	void *m;

	if (nq < 1 || nq > NB_MAX_QUEUES)
		return -EINVAL;
	x = aligned_alloc(64, sizeof(*x));
	if (!x)
		return -ENOMEM;
	memset(x, 0, sizeof(*x));
	x->nq = nq;
	for (d = 0; d < NB_MAX_QUEUES; d++)
		x->efd[d] = -1;
	/* Untouched pages cost nothing: only rings in use get memory. */
	x->mem_bytes = (size_t)nq * nq * XFER_BYTES;
	m = mmap(NULL, x->mem_bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		free(x);
		return -ENOMEM;
	}
	x->mem = m;
	for (s = 0; s < nq; s++)
		for (d = 0; d < nq; d++)
			x->ring[s][d].buf =
				x->mem + ((size_t)s * nq + d) * XFER_BYTES;
	for (d = 0; d < nq; d++) {
		x->efd[d] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (x->efd[d] < 0) {
			int rc = -errno;

			netq_xfer_destroy(x);
			return rc;
		}
	}
	*out = x;
	return 0;
}

void netq_xfer_destroy(struct netq_xfer *x)
{
	if (!x)
		return;
	for (unsigned int d = 0; d < NB_MAX_QUEUES; d++)
		if (x->efd[d] >= 0)
			close(x->efd[d]);
	munmap(x->mem, x->mem_bytes);
	free(x);
}

int netq_xfer_fd(struct netq_xfer *x, unsigned int dst)
{
	return dst < x->nq ? x->efd[dst] : -EINVAL;
}

int netq_xfer_push(struct netq_xfer *x, unsigned int src, unsigned int dst,
		   const struct netq_xfer_hdr *h, const void *data)
{
	struct xfer_ring *r;
	uint64_t tail, head;
	size_t pos, rec, skip;
	struct netq_xfer_hdr *at;

	if (src >= x->nq || dst >= x->nq || h->len > PORT_MAX_PKT)
		return -EINVAL;
	r = &x->ring[src][dst];
	tail = r->tail; /* ours */
	/* Pairs with the consumer's release of head in netq_xfer_drain. */
	head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
	pos = (size_t)(tail % XFER_BYTES);
	rec = rec_bytes(h->len);
	skip = rec > XFER_BYTES - pos ? XFER_BYTES - pos : 0;
	if (tail + skip + rec - head > XFER_BYTES)
		return -ENOSPC;
	if (skip) {
		at = (struct netq_xfer_hdr *)(r->buf + pos);
		at->len = XFER_SKIP;
		tail += skip;
		pos = 0;
	}
	at = (struct netq_xfer_hdr *)(r->buf + pos);
	*at = *h;
	memcpy(at + 1, data, h->len);
	/* The record before tail; pairs with the consumer's acquire. */
	__atomic_store_n(&r->tail, tail + rec, __ATOMIC_RELEASE);
	return 0;
}

void netq_xfer_kick(struct netq_xfer *x, unsigned int dst)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is full, the wakeup is pending anyway. */
	if (dst < x->nq && write(x->efd[dst], &one, sizeof(one)) < 0) {
		/* nothing to do */
	}
}

unsigned int netq_xfer_drain(struct netq_xfer *x, unsigned int dst,
			     void (*fn)(void *arg,
					const struct netq_xfer_hdr *h,
					const uint8_t *data),
			     void *arg, unsigned int budget)
{
	unsigned int n = 0;
	uint64_t v;

	/* Reset the wakeup first: a push after this wakes us again. */
	if (read(x->efd[dst], &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing signalled; look anyway */
	}
	for (unsigned int s = 0; s < x->nq; s++) {
		struct xfer_ring *r = &x->ring[s][dst];
		uint64_t head = r->head; /* ours */
		/* Pairs with the producer's release of tail. */
		uint64_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);

		if (s == dst)
			continue;
		while (head != tail && n < budget) {
			size_t pos = (size_t)(head % XFER_BYTES);
			const struct netq_xfer_hdr *h =
				(const struct netq_xfer_hdr *)(r->buf + pos);

			if (h->len == XFER_SKIP) {
				head += XFER_BYTES - pos;
				continue;
			}
			fn(arg, h, (const uint8_t *)(h + 1));
			head += rec_bytes(h->len);
			n++;
		}
		/* Done with those bytes; pairs with the producer's acquire. */
		__atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
		/* Left over (budget): come back after other work. */
		if (head != tail)
			netq_xfer_kick(x, dst);
	}
	return n;
}
