// SPDX-License-Identifier: MIT
/*
 * journal.c - a queue's journal: what a dead worker leaves its successor
 * (see blkback.h for the contract). The file is a header and one entry per
 * queue slot, mapped MAP_SHARED: every store the queue's thread made before
 * it was killed is in the file, in program order. The commit points (an
 * entry's state, req_cons, push_n) are stored with release order after
 * what they cover, so a successor never sees a commit without its data.
 *
 * The file is ours, in our run-dir, but a compromised worker of the same
 * guest could have written it: the successor checks every index against
 * the ring it maps, and replayed requests go through the same validation as
 * requests from the ring. Its peer is queue.c, the only caller.
 */
#include "blkback/blkback.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLKJ_MAGIC 0x6a6b6c62706b6231ull /* "1bkpblkj" */
#define BLKJ_VERSION 1u

enum { ENT_FREE = 0, ENT_TAKEN = 1 };

struct blkj_ent {
	uint32_t state;
	uint32_t ring_idx;
	struct ring_blkif_req req;
};

struct blkj_push {
	struct ring_blkif_rsp rsp;
	uint32_t slot;
	uint32_t _pad;
};

struct blkj_hdr {
	uint64_t magic;
	uint32_t version, nslots;
	struct blkj_key key;
	uint32_t req_cons;
	uint32_t push_base;
	uint32_t push_n; /* commit: an answer batch is being written */
	uint32_t _pad;
};

struct blkj {
	char path[PATH_MAX];
	struct blkj_hdr *h;
	struct blkj_ent *ent;	/* [nslots] */
	struct blkj_push *push; /* [nslots] */
	size_t bytes;
	unsigned int nslots;
};

static size_t blkj_size(unsigned int nslots)
{
	return sizeof(struct blkj_hdr) +
	       (size_t)nslots *
		       (sizeof(struct blkj_ent) + sizeof(struct blkj_push));
}

static void blkj_reset(struct blkj *j, const struct blkj_key *key)
{
	memset(j->h, 0, j->bytes);
	j->h->version = BLKJ_VERSION;
	j->h->nslots = j->nslots;
	j->h->key = *key;
	__atomic_store_n(&j->h->magic, BLKJ_MAGIC, __ATOMIC_RELEASE);
}

int blkj_open(const char *path, const struct blkj_key *key, unsigned int nslots,
	      int adopt, struct blkj **out, int *found)
{
	struct blkj *j = calloc(1, sizeof(*j));
	struct stat sb;
	void *m;
	int fd, rc;

	*found = 0;
	if (!j)
		return -ENOMEM;
	snprintf(j->path, sizeof(j->path), "%s", path);
	j->nslots = nslots;
	j->bytes = blkj_size(nslots);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		goto err_free;
	}
	/* A file of another size is another ring's (or garbage): reset. */
	if (fstat(fd, &sb) || (size_t)sb.st_size != j->bytes)
		adopt = 0;
	if (ftruncate(fd, (off_t)j->bytes)) {
		rc = -errno;
		goto err_close;
	}
	m = mmap(NULL, j->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		rc = -errno;
		goto err_close;
	}
	close(fd);
	j->h = m;
	j->ent = (struct blkj_ent *)(j->h + 1);
	j->push = (struct blkj_push *)(j->ent + nslots);
	if (adopt && j->h->magic == BLKJ_MAGIC &&
	    j->h->version == BLKJ_VERSION && j->h->nslots == nslots &&
	    !memcmp(&j->h->key, key, sizeof(*key)))
		*found = 1;
	else
		blkj_reset(j, key);
	*out = j;
	return 0;

err_close:
	close(fd);
err_free:
	free(j);
	return rc;
}

void blkj_close(struct blkj *j, int clean)
{
	if (!j)
		return;
	munmap(j->h, j->bytes);
	if (clean)
		unlink(j->path);
	free(j);
}

int blkj_recover(struct blkj *j, struct ring_blkif_back *r,
		 struct ring_blkif_req *out, uint32_t *idx, uint32_t *slot,
		 unsigned int max, int *republished)
{
	struct ring_back *b = &r->b;
	uint32_t rsp = b->rsp_pushed, req_prod, cons, n = j->h->push_n;
	unsigned int got = 0;

	*republished = 0;
	if (n > j->nslots)
		return -EPROTO;
	if (n) {
		uint32_t base = j->h->push_base;

		if (rsp == base) {
			/* Written (perhaps in part), never published: again. */
			b->req_cons = base + n; /* room for the answers */
			for (uint32_t i = 0; i < n; i++) {
				const struct ring_blkif_rsp *a =
					&j->push[i].rsp;

				if (ring_blkif_back_put_rsp(r, a->id, a->op,
							    a->status))
					return -EPROTO;
			}
			ring_back_push_rsp(b);
			*republished = 1;
			rsp = base + n;
		} else if (rsp != base + n) {
			return -EPROTO;
		}
		for (uint32_t i = 0; i < n; i++) {
			uint32_t s = j->push[i].slot;

			if (s >= j->nslots)
				return -EPROTO;
			j->ent[s].state = ENT_FREE;
		}
		__atomic_store_n(&j->h->push_n, 0, __ATOMIC_RELEASE);
	}

	/*
	 * Taken requests are those below the journal's req_cons (anywhere
	 * below: answers go out in completion order, so an old request may
	 * wait behind many answered ones); an entry at or past it was
	 * recorded before req_cons moved and will be fetched again.
	 */
	cons = j->h->req_cons;
	req_prod = __atomic_load_n(&b->sring->req_prod, __ATOMIC_ACQUIRE);
	if (cons - rsp > b->nr_ents || req_prod - cons > b->nr_ents ||
	    req_prod - rsp > b->nr_ents)
		return -EPROTO;
	for (uint32_t s = 0; s < j->nslots; s++) {
		struct blkj_ent *e = &j->ent[s];

		if (e->state != ENT_TAKEN)
			continue;
		if (e->ring_idx - cons < req_prod - cons) {
			e->state = ENT_FREE; /* not taken after all */
			continue;
		}
		if (got == max)
			return -EPROTO;
		out[got] = e->req;
		idx[got] = e->ring_idx;
		slot[got++] = s;
	}
	/* Every request between rsp_prod and req_cons waits for an answer. */
	if (got != cons - rsp)
		return -EPROTO;
	b->req_cons = cons;
	b->rsp_prod_pvt = rsp;
	b->rsp_pushed = rsp;
	return (int)got;
}

void blkj_take(struct blkj *j, uint32_t slot, uint32_t ring_idx,
	       const struct ring_blkif_req *req)
{
	struct blkj_ent *e = &j->ent[slot];

	e->ring_idx = ring_idx;
	e->req = *req;
	__atomic_store_n(&e->state, ENT_TAKEN, __ATOMIC_RELEASE);
}

void blkj_untake(struct blkj *j, uint32_t slot)
{
	__atomic_store_n(&j->ent[slot].state, ENT_FREE, __ATOMIC_RELEASE);
}

void blkj_cons(struct blkj *j, uint32_t req_cons)
{
	__atomic_store_n(&j->h->req_cons, req_cons, __ATOMIC_RELEASE);
}

void blkj_push_begin(struct blkj *j, uint32_t rsp_base,
		     const struct ring_blkif_rsp *rsps, const uint32_t *slots,
		     unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		j->push[i].rsp = rsps[i];
		j->push[i].slot = slots[i];
	}
	j->h->push_base = rsp_base;
	__atomic_store_n(&j->h->push_n, n, __ATOMIC_RELEASE);
}

void blkj_push_end(struct blkj *j)
{
	uint32_t n = j->h->push_n;

	for (uint32_t i = 0; i < n; i++)
		j->ent[j->push[i].slot].state = ENT_FREE;
	__atomic_store_n(&j->h->push_n, 0, __ATOMIC_RELEASE);
}
