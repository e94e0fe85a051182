/* SPDX-License-Identifier: MIT */
/*
 * ring-blkif-fetch - libFuzzer target for the blkif back view: arbitrary
 * ring bytes and index values (a hostile frontend), any of the three ABIs,
 * 1..16 pages, then rounds of fetch / answer / push / final check with the
 * frontend moving req_prod and rsp_event between rounds.
 *
 * Checks, beyond the sanitizers: a fetch never returns more than asked or
 * than the ring holds; in-flight requests never exceed the ring; the
 * translation is total (the same slots fetched into a 0x00-filled and a
 * 0xff-filled buffer give identical bytes) and stable (encode then
 * translate gives the same request back); the published rsp_prod never
 * passes req_cons; once -EIO, always -EIO.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Itests \
 *         tests/fuzz/ring-blkif-fetch.c -o build/fuzz-ring-blkif-fetch
 */
#include "ring/blkif.h"

#include <stdio.h>
#include <stdlib.h>

#define BUG(...)                                                               \
	do {                                                                   \
		fprintf(stderr, __VA_ARGS__);                                  \
		fputc('\n', stderr);                                           \
		abort();                                                       \
	} while (0)

enum { MAXN = 512 };
static struct ring_blkif_req a[MAXN], b[MAXN];

static uint32_t take32(const uint8_t **p, size_t *n)
{
	uint32_t v = 0;

	for (int i = 0; i < 4 && *n; i++, (*p)++, (*n)--)
		v |= (uint32_t) * *p << (8 * i);
	return v;
}

static uint8_t take8(const uint8_t **p, size_t *n)
{
	uint8_t v = 0;

	if (*n) {
		v = **p;
		(*p)++;
		(*n)--;
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char *ring;
	enum ring_blkif_abi abi;
	struct ring_blkif_back r;
	unsigned int pages, nr;
	size_t area, slot;
	int rc, err = 0;

	if (!ring) {
		ring = aligned_alloc(RING_PAGE_SIZE,
				     RING_MAX_PAGES * RING_PAGE_SIZE);
		if (!ring)
			abort();
	}
	abi = (enum ring_blkif_abi)(take8(&data, &size) % 3);
	pages = take8(&data, &size) % RING_MAX_PAGES + 1;
	area = (size_t)pages * RING_PAGE_SIZE;
	slot = ring_blkif_slot_size(abi);

	/* Indexes first, then the rest of the input tiled over the slots. */
	memset(ring, 0, area);
	struct ring_sring *s = (struct ring_sring *)ring;
	s->req_prod = take32(&data, &size);
	s->rsp_prod = take32(&data, &size);
	s->req_event = take32(&data, &size);
	s->rsp_event = take32(&data, &size);
	for (size_t i = 64; size && i < area; i += size)
		memcpy(ring + i, data, i + size <= area ? size : area - i);

	rc = ring_blkif_back_attach(&r, ring, pages, abi);
	if (rc != 0 && rc != -EIO)
		BUG("attach %d", rc);
	nr = r.b.nr_ents;
	if (nr != ring_nr_ents(pages, slot))
		BUG("nr_ents");
	if (rc == -EIO)
		err = 1;

	for (int round = 0; round < 8 && size; round++) {
		unsigned int max = take8(&data, &size) % (MAXN + 1);
		uint32_t cons0 = r.b.req_cons;

		memset(a, 0x00, sizeof(a));
		memset(b, 0xff, sizeof(b));
		int n = ring_blkif_back_fetch(&r, a, max);
		if (err && n != -EIO)
			BUG("not sticky");
		if (n == -EIO) {
			err = 1;
			if (r.b.req_cons != cons0)
				BUG("consumed on -EIO");
		} else if (n < 0 || (unsigned int)n > max ||
			   (unsigned int)n > nr) {
			BUG("fetch %d (max %u, ring %u)", n, max, nr);
		} else if (n > 0) {
			if (ring_back_unfetch(&r.b, (unsigned int)n))
				BUG("unfetch");
			if (ring_blkif_back_fetch(&r, b, max) != n)
				BUG("refetch");
			if (memcmp(a, b, (size_t)n * sizeof(a[0])))
				BUG("translation not total");
			for (int i = 0; i < n; i++) {
				unsigned char img[sizeof(
					union ring_blkif_x86_64_slot)];
				struct ring_blkif_req c;

				ring_blkif_encode_req(img, &a[i], abi);
				ring_blkif_translate(&c, img, abi);
				if (memcmp(&c, &a[i], sizeof(c)))
					BUG("encode/translate not stable");
			}
		}
		if (ring_back_inflight(&r.b) > nr)
			BUG("inflight %u", ring_back_inflight(&r.b));

		/* Answer some of what is in flight, maybe one too many. */
		unsigned int k = take8(&data, &size);
		for (unsigned int i = 0; i < k; i++) {
			bool had = ring_back_inflight(&r.b) > 0;
			int p = ring_blkif_back_put_rsp(
				&r, i, (uint8_t)i, (int16_t) - (int)(i % 3));
			if (had != (p == 0) || (p && p != -EOVERFLOW))
				BUG("put_rsp %d with %d in flight", p, had);
		}
		ring_back_push_rsp(&r.b);
		if ((uint32_t)(r.b.req_cons - s->rsp_prod) > nr)
			BUG("rsp_prod past req_cons");
		rc = ring_back_final_check(&r.b);
		if (rc != 0 && rc != 1 && rc != -EIO)
			BUG("final check %d", rc);

		/* The frontend moves its indexes. */
		s->req_prod += take8(&data, &size) - 64u;
		s->rsp_event = take32(&data, &size);
	}
	return 0;
}
