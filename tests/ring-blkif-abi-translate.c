/* SPDX-License-Identifier: MIT */
/*
 * ring-blkif-abi-translate - one logical request, written by a 32-bit guest
 * (the header's structs laid out by i386 rules, tests/ring-abi-i386.h), by a
 * 64-bit guest (the header's x86_64 structs) and natively, is fetched as the
 * same struct ring_blkif_req, with the expected values: READ with 11
 * segments, WRITE, FLUSH and BARRIER with 0 segments, DISCARD (secure),
 * INDIRECT with 8 indirect grefs, unknown ops 4 and 200.
 * Responses written by ring_blkif_back_put_rsp read back through the
 * header's response struct of each ABI, with zeroed padding; the front
 * view's encoder round-trips; `protocol` strings map to the right ABI.
 */
#include "ring/blkif.h"

#include <stdio.h>
#include <stdlib.h>

#include "lib/check.h"
#include "ring-abi-i386.h"

struct logical {
	uint8_t op, nr, flag, iop;
	uint16_t handle;
	uint64_t id, sector, nr_sectors;
};

static const struct logical cases[] = {
	{ BLKIF_OP_READ, 11, 0, 0, 51712, 0xdeadbeefcafef00dull,
	  0x0123456789abcdefull, 0 },
	{ BLKIF_OP_WRITE, 1, 0, 0, 768, 7, 2048, 0 },
	{ BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0, 5, 8, 0, 0 },
	{ BLKIF_OP_WRITE_BARRIER, 0, 0, 0, 5, 9, 0, 0 },
	{ BLKIF_OP_DISCARD, 0, BLKIF_DISCARD_SECURE, 0, 51728,
	  0xffffffffffffffffull, 1ull << 40, 0x800000001ull },
	{ BLKIF_OP_INDIRECT, 0, 0, BLKIF_OP_WRITE, 51712, 0x1000000000000001ull,
	  0x7fffffffffffffffull, 0 },
	{ BLKIF_OP_RESERVED_1, 3, 0, 0, 1, 2, 3, 0 },
	{ 200, 255, 0, 0, 0xffff, 4, 5, 0 },
};

static uint32_t gref_of(unsigned int i)
{
	return 0x10000u * (i + 1) + i;
}

/* Fill one of the header's request structs (any ABI) from @c. */
#define FILL(T_REQ, T_DISC, T_IND, slot, c)                                    \
	do {                                                                   \
		memset((slot), 0, sizeof(*(slot)));                            \
		if ((c)->op == BLKIF_OP_DISCARD) {                             \
			T_DISC *d_ = (void *)(slot);                           \
			d_->operation = (c)->op;                               \
			d_->flag = (c)->flag;                                  \
			d_->handle = (c)->handle;                              \
			d_->id = (c)->id;                                      \
			d_->sector_number = (c)->sector;                       \
			d_->nr_sectors = (c)->nr_sectors;                      \
		} else if ((c)->op == BLKIF_OP_INDIRECT) {                     \
			T_IND *n_ = (void *)(slot);                            \
			n_->operation = (c)->op;                               \
			n_->indirect_op = (c)->iop;                            \
			n_->nr_segments = 1000;                                \
			n_->handle = (c)->handle;                              \
			n_->id = (c)->id;                                      \
			n_->sector_number = (c)->sector;                       \
			for (unsigned int g_ = 0; g_ < 8; g_++)                \
				n_->indirect_grefs[g_] = gref_of(g_);          \
		} else {                                                       \
			T_REQ *q_ = (void *)(slot);                            \
			q_->operation = (c)->op;                               \
			q_->nr_segments = (c)->nr;                             \
			q_->handle = (c)->handle;                              \
			q_->id = (c)->id;                                      \
			q_->sector_number = (c)->sector;                       \
			for (unsigned int g_ = 0; g_ < 11; g_++) {             \
				q_->seg[g_].gref = gref_of(g_);                \
				q_->seg[g_].first_sect = (uint8_t)g_;          \
				q_->seg[g_].last_sect = (uint8_t)(7 - g_ % 8); \
			}                                                      \
		}                                                              \
	} while (0)

static void check_expected(const struct ring_blkif_req *r,
			   const struct logical *c, const char *abi)
{
	CHECK(r->op == c->op && r->handle == c->handle && r->id == c->id &&
		      r->sector_number == c->sector,
	      "%s op %u: op %u handle %u id %llx sector %llx", abi, c->op,
	      r->op, r->handle, (unsigned long long)r->id,
	      (unsigned long long)r->sector_number);
	switch (c->op) {
	case BLKIF_OP_DISCARD:
		CHECK(r->discard_flag == c->flag &&
			      r->nr_sectors == c->nr_sectors &&
			      r->nr_segments == 0 && r->seg[0].gref == 0,
		      "%s discard", abi);
		break;
	case BLKIF_OP_INDIRECT:
		CHECK(r->indirect_op == c->iop && r->nr_segments == 1000,
		      "%s indirect op %u nr %u", abi, r->indirect_op,
		      r->nr_segments);
		for (unsigned int g = 0; g < 8; g++)
			CHECK(r->indirect_grefs[g] == gref_of(g),
			      "%s indirect gref %u", abi, g);
		CHECK(r->seg[10].gref == 0 && r->nr_sectors == 0,
		      "%s indirect leftovers", abi);
		break;
	default:
		CHECK(r->nr_segments == c->nr && r->indirect_op == 0 &&
			      r->nr_sectors == 0 && r->discard_flag == 0,
		      "%s direct op %u: nr %u", abi, c->op, r->nr_segments);
		for (unsigned int g = 0; g < 11; g++)
			CHECK(r->seg[g].gref == gref_of(g) &&
				      r->seg[g].first_sect == g &&
				      r->seg[g].last_sect == 7 - g % 8 &&
				      r->seg[g]._pad == 0,
			      "%s seg %u", abi, g);
	}
}

static void fetch_one(struct ring_blkif_req *out, const void *img, size_t size,
		      enum ring_blkif_abi abi)
{
	struct ring_sring *s = aligned_alloc(RING_PAGE_SIZE, RING_PAGE_SIZE);
	struct ring_blkif_back r;

	CHECK(s, "alloc");
	memset(s, 0, RING_PAGE_SIZE);
	/* Slot 5, to catch a wrong stride. */
	s->req_prod = s->rsp_prod = 5;
	CHECK(ring_blkif_back_attach(&r, s, 1, abi) == 0, "attach");
	CHECK(size == ring_blkif_slot_size(abi), "image %zu bytes", size);
	memcpy(s->slots + 5 * size, img, size);
	s->req_prod = 6;
	CHECK(ring_blkif_back_fetch(&r, out, 1) == 1, "fetch");
	free(s);
}

static void requests(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct logical *c = &cases[i];
		union i386_blkif_sring_entry e32;
		union blkif_sring_entry e64;
		struct ring_blkif_req n, a32, a64;

		FILL(struct i386_blkif_request,
		     struct i386_blkif_request_discard,
		     struct i386_blkif_request_indirect, &e32, c);
		FILL(struct blkif_request, struct blkif_request_discard,
		     struct blkif_request_indirect, &e64, c);
		fetch_one(&n, &e64, sizeof(e64), RING_BLKIF_ABI_NATIVE);
		fetch_one(&a64, &e64, sizeof(e64), RING_BLKIF_ABI_X86_64);
		fetch_one(&a32, &e32, sizeof(e32), RING_BLKIF_ABI_X86_32);
		check_expected(&n, c, "native");
		check_expected(&a64, c, "x86_64");
		check_expected(&a32, c, "x86_32");
		CHECK(!memcmp(&n, &a64, sizeof(n)) &&
			      !memcmp(&n, &a32, sizeof(n)),
		      "op %u: ABIs translate differently", c->op);

		/* The encoder writes the same images. */
		unsigned char img[112];
		ring_blkif_encode_req(img, &a32, RING_BLKIF_ABI_X86_32);
		CHECK(!memcmp(img, &e32, sizeof(e32)),
		      "op %u: x86_32 encoding differs", c->op);
		ring_blkif_encode_req(img, &a64, RING_BLKIF_ABI_X86_64);
		CHECK(!memcmp(img, &e64, sizeof(e64)),
		      "op %u: x86_64 encoding differs", c->op);
	}
}

/* Responses, read back through the header's structs; padding must be 0. */
static void responses(void)
{
	struct ring_sring *s = aligned_alloc(RING_PAGE_SIZE, RING_PAGE_SIZE);

	CHECK(s, "alloc");
	for (int abi = 0; abi <= RING_BLKIF_ABI_X86_64; abi++) {
		struct ring_blkif_back r;
		size_t slot = ring_blkif_slot_size((enum ring_blkif_abi)abi);

		memset(s, 0xcc, RING_PAGE_SIZE); /* the guest's request bytes */
		s->req_prod = s->rsp_prod = 0;
		CHECK(ring_blkif_back_attach(&r, s, 1,
					     (enum ring_blkif_abi)abi) == 0,
		      "attach");
		s->req_prod = 2;
		struct ring_blkif_req req[2];
		CHECK(ring_blkif_back_fetch(&r, req, 2) == 2, "fetch");
		CHECK(ring_blkif_back_put_rsp(&r, 0x0102030405060708ull,
					      BLKIF_OP_WRITE,
					      BLKIF_RSP_EOPNOTSUPP) == 0,
		      "put");
		CHECK(ring_blkif_back_put_rsp(&r, 42, BLKIF_OP_READ,
					      BLKIF_RSP_ERROR) == 0,
		      "put");
		ring_back_push_rsp(&r.b);
		const unsigned char *p0 = s->slots, *p1 = s->slots + slot;

		if (abi == RING_BLKIF_ABI_X86_32) {
			struct i386_blkif_response x;

			memcpy(&x, p1, sizeof(x));
			CHECK(x.id == 42 && x.operation == BLKIF_OP_READ &&
				      x.status == BLKIF_RSP_ERROR,
			      "x86_32 rsp");
			memcpy(&x, p0, sizeof(x));
			CHECK(x.id == 0x0102030405060708ull &&
				      x.operation == BLKIF_OP_WRITE &&
				      x.status == BLKIF_RSP_EOPNOTSUPP,
			      "x86_32 rsp");
			CHECK(p0[offsetof(struct i386_blkif_response, operation) +
				 1] == 0,
			      "x86_32 padding");
			/* Past the response: the guest's bytes, untouched. */
			CHECK(p0[sizeof(x)] == 0xcc, "wrote past the response");
		} else {
			struct blkif_response x;

			memcpy(&x, p1, sizeof(x));
			CHECK(x.id == 42 && x.operation == BLKIF_OP_READ &&
				      x.status == BLKIF_RSP_ERROR,
			      "abi %d rsp", abi);
			memcpy(&x, p0, sizeof(x));
			CHECK(x.id == 0x0102030405060708ull &&
				      x.operation == BLKIF_OP_WRITE &&
				      x.status == BLKIF_RSP_EOPNOTSUPP,
			      "abi %d rsp", abi);
			CHECK(p0[9] == 0 && p0[12] == 0 && p0[13] == 0 &&
				      p0[14] == 0 && p0[15] == 0 &&
				      offsetof(struct blkif_response, status) ==
					      10 &&
				      sizeof(x) == 16,
			      "abi %d: response padding not zero", abi);
			CHECK(p0[sizeof(x)] == 0xcc, "wrote past the response");
		}
	}
	free(s);
}

static void front_roundtrip(void)
{
	struct ring_sring *s = aligned_alloc(RING_PAGE_SIZE, RING_PAGE_SIZE);

	CHECK(s, "alloc");
	for (int abi = 0; abi <= RING_BLKIF_ABI_X86_64; abi++) {
		struct ring_blkif_front f;
		struct ring_blkif_back b;
		struct ring_blkif_req in[8], out[8];
		struct ring_blkif_rsp rsp[8];
		size_t n = sizeof(cases) / sizeof(cases[0]);

		CHECK(ring_blkif_front_init(&f, s, 1,
					    (enum ring_blkif_abi)abi) == 0,
		      "init");
		CHECK(ring_blkif_back_attach(&b, s, 1,
					     (enum ring_blkif_abi)abi) == 0,
		      "attach");
		for (size_t i = 0; i < n; i++) {
			union blkif_sring_entry e;

			FILL(struct blkif_request, struct blkif_request_discard,
			     struct blkif_request_indirect, &e, &cases[i]);
			ring_blkif_translate(&in[i], &e, RING_BLKIF_ABI_NATIVE);
			CHECK(ring_blkif_front_put_req(&f, &in[i]) == 0, "put");
		}
		ring_front_push_req(&f.f);
		CHECK(ring_blkif_back_fetch(&b, out, 8) == (int)n, "fetch");
		CHECK(!memcmp(in, out, n * sizeof(in[0])),
		      "abi %d: front encode / back decode differ", abi);
		for (size_t i = 0; i < n; i++)
			CHECK(ring_blkif_back_put_rsp(&b, out[i].id, out[i].op,
						      (int16_t) - (int)i) == 0,
			      "put rsp");
		ring_back_push_rsp(&b.b);
		CHECK(ring_blkif_front_fetch_rsp(&f, rsp, 8) == (int)n, "rsp");
		for (size_t i = 0; i < n; i++)
			CHECK(rsp[i].id == cases[i].id &&
				      rsp[i].op == cases[i].op &&
				      rsp[i].status == -(int)i,
			      "abi %d rsp %zu", abi, i);
	}
	free(s);
}

static void protocols(void)
{
	CHECK(ring_blkif_abi_from_protocol(NULL) == RING_BLKIF_ABI_NATIVE,
	      "missing");
	CHECK(ring_blkif_abi_from_protocol(XEN_IO_PROTO_ABI_NATIVE) ==
		      RING_BLKIF_ABI_NATIVE,
	      "native");
	CHECK(ring_blkif_abi_from_protocol("x86_32-abi") ==
		      RING_BLKIF_ABI_X86_32,
	      "x86_32");
	CHECK(ring_blkif_abi_from_protocol("arm-abi") == -ENOSYS, "arm");
	CHECK(ring_blkif_abi_from_protocol("") == -ENOSYS, "empty");
	CHECK(ring_blkif_abi_from_protocol("x86_32-abi ") == -ENOSYS, "space");
}

int main(void)
{
#ifndef __x86_64__
	SKIP("x86_64 host only");
#endif
	requests();
	responses();
	front_roundtrip();
	protocols();
	return TEST_PASS;
}
