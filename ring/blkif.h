/* SPDX-License-Identifier: MIT */
/*
 * ring/blkif.h - the blkif ring in the three guest ABIs, and one internal
 * request form.
 *
 * blkif requests carry 64-bit fields (id, sector_number, nr_sectors). A
 * 32-bit x86 guest lays them out with 4-byte alignment (the i386 psABI), so
 * its requests are 108 bytes with id at offset 4, where a 64-bit guest's are
 * 112 bytes with id at offset 8. The frontend says which in its `protocol`
 * node (ring_blkif_abi_from_protocol). The structs below spell out the
 * x86_32 and x86_64 layouts of the public io/blkif.h; "native" is the public
 * header's own structs. tests/ring-abi-blkif-layouts checks every size and
 * offset against the public header (for x86_32: laid out by i386 rules, and
 * by `clang -m32` where available).
 *
 * The daemon never sees an ABI layout: ring_blkif_back_fetch copies each
 * request out of the shared page once and translates the copy into struct
 * ring_blkif_req. Translation is total: any bytes give a fully defined
 * struct, and counts such as nr_segments are copied, never used. Validating
 * values is the daemon's job (blkback/req.c).
 *
 * The generic ring machinery is ring/ring.h; this file only adds layouts.
 */
#ifndef PVBACK_RING_BLKIF_H
#define PVBACK_RING_BLKIF_H

#include <string.h>

#include "ring/ring.h"

#include <xen/io/blkif.h>
#include <xen/io/protocols.h>

enum ring_blkif_abi {
	RING_BLKIF_ABI_NATIVE = 0, /* this host's io/blkif.h layout */
	RING_BLKIF_ABI_X86_32 = 1, /* "x86_32-abi" */
	RING_BLKIF_ABI_X86_64 = 2, /* "x86_64-abi" */
};

/*
 * ring_blkif_abi_from_protocol - the ABI for the frontend's `protocol` node.
 * @proto: its value, or NULL if the node is absent (then native, as blkback).
 * Returns an enum ring_blkif_abi, or -ENOSYS for anything else.
 */
static inline int ring_blkif_abi_from_protocol(const char *proto)
{
	if (!proto || !strcmp(proto, XEN_IO_PROTO_ABI_NATIVE))
		return RING_BLKIF_ABI_NATIVE;
	if (!strcmp(proto, XEN_IO_PROTO_ABI_X86_32))
		return RING_BLKIF_ABI_X86_32;
	if (!strcmp(proto, XEN_IO_PROTO_ABI_X86_64))
		return RING_BLKIF_ABI_X86_64;
	return -ENOSYS;
}

/* ---------------------------------------------------------- ABI layouts */

/*
 * A uint64_t aligned as the i386 psABI aligns it inside structs (4). GCC and
 * clang honour a reduced alignment given in a typedef.
 */
typedef uint64_t ring_u64_a4 __attribute__((aligned(4)));

/* blkif_request_segment: 8 bytes, 4-aligned, the same in every ABI. */

struct ring_blkif_x86_32_request {
	uint8_t operation;
	uint8_t nr_segments;
	uint16_t handle;
	ring_u64_a4 id;
	ring_u64_a4 sector_number;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

struct ring_blkif_x86_32_request_discard {
	uint8_t operation;
	uint8_t flag;
	uint16_t handle;
	ring_u64_a4 id;
	ring_u64_a4 sector_number;
	ring_u64_a4 nr_sectors;
};

struct ring_blkif_x86_32_request_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	ring_u64_a4 id;
	ring_u64_a4 sector_number;
	uint16_t handle;
	uint16_t _pad1;
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	ring_u64_a4 pad; /* io/blkif.h adds it #ifdef __i386__ */
};

struct ring_blkif_x86_32_response {
	ring_u64_a4 id;
	uint8_t operation;
	uint8_t _pad1;
	int16_t status;
};

struct ring_blkif_x86_64_request {
	uint8_t operation;
	uint8_t nr_segments;
	uint16_t handle;
	uint32_t _pad1;
	uint64_t id;
	uint64_t sector_number;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

struct ring_blkif_x86_64_request_discard {
	uint8_t operation;
	uint8_t flag;
	uint16_t handle;
	uint32_t _pad1;
	uint64_t id;
	uint64_t sector_number;
	uint64_t nr_sectors;
};

struct ring_blkif_x86_64_request_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint32_t _pad1;
	uint64_t id;
	uint64_t sector_number;
	uint16_t handle;
	uint16_t _pad2;
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	uint32_t _pad3;
};

struct ring_blkif_x86_64_response {
	uint64_t id;
	uint8_t operation;
	uint8_t _pad1;
	int16_t status;
	uint32_t _pad2;
};

/* One ring slot per ABI: what sizes the ring (union of every message). */
union ring_blkif_x86_32_slot {
	struct ring_blkif_x86_32_request req;
	struct ring_blkif_x86_32_request_discard discard;
	struct ring_blkif_x86_32_request_indirect indirect;
	struct ring_blkif_x86_32_response rsp;
};

union ring_blkif_x86_64_slot {
	struct ring_blkif_x86_64_request req;
	struct ring_blkif_x86_64_request_discard discard;
	struct ring_blkif_x86_64_request_indirect indirect;
	struct ring_blkif_x86_64_response rsp;
};

union ring_blkif_native_slot {
	struct blkif_request req;
	struct blkif_request_discard discard;
	struct blkif_request_indirect indirect;
	struct blkif_response rsp;
};

/* Slot size of a blkif ring in @abi (108 for x86_32, 112 otherwise). */
static inline size_t ring_blkif_slot_size(enum ring_blkif_abi abi)
{
	switch (abi) {
	case RING_BLKIF_ABI_X86_32:
		return sizeof(union ring_blkif_x86_32_slot);
	case RING_BLKIF_ABI_X86_64:
		return sizeof(union ring_blkif_x86_64_slot);
	default:
		return sizeof(union blkif_sring_entry);
	}
}

/* ------------------------------------------------------- internal form */

struct ring_blkif_seg {
	uint32_t gref;
	uint8_t first_sect;
	uint8_t last_sect;
	uint16_t _pad; /* 0 */
};

/*
 * A request as the guest wrote it, in any ABI, with no holes: every byte is
 * written by the translation, whatever the guest sent.
 *
 * Layout used by op:
 *   BLKIF_OP_INDIRECT: indirect_op, nr_segments (16 bit), handle, id,
 *                      sector_number, indirect_grefs[8]; rest of the union 0.
 *   BLKIF_OP_DISCARD:  discard_flag, handle, id, sector_number, nr_sectors;
 *                      nr_segments 0, union 0.
 *   any other op (READ, WRITE, WRITE_BARRIER, FLUSH_DISKCACHE and unknown
 *   ones): nr_segments (8 bit), handle, id, sector_number, seg[11] (all 11
 *   copied, whatever nr_segments says).
 * Fields a layout does not have are 0. Nothing here is validated.
 */
struct ring_blkif_req {
	uint8_t op;
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint16_t handle;
	uint8_t discard_flag; /* BLKIF_DISCARD_SECURE or anything */
	uint8_t _pad;	      /* 0 */
	uint64_t id;
	uint64_t sector_number;
	uint64_t nr_sectors;
	union {
		struct ring_blkif_seg seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
		grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	};
};

/* A response, ABI-neutral (what a test frontend reads back). */
struct ring_blkif_rsp {
	uint64_t id;
	uint8_t op;
	uint8_t _pad;
	int16_t status;
	uint32_t _pad2;
};

/*
 * ring_blkif_translate_<abi>_(out, in) - the translation, generated once for
 * each ABI's slot union. @in is a private copy, never the shared page. Each
 * field of the copy is read at most once; every field of @out is written.
 */
#define RING_BLKIF_DEFINE_TRANSLATE_(abi, slot_t)                              \
	static inline void ring_blkif_translate_##abi##_(                      \
		struct ring_blkif_req *out, const slot_t *in)                  \
	{                                                                      \
		out->op = in->req.operation;                                   \
		out->_pad = 0;                                                 \
		switch (out->op) {                                             \
		case BLKIF_OP_INDIRECT:                                        \
			out->indirect_op = in->indirect.indirect_op;           \
			out->nr_segments = in->indirect.nr_segments;           \
			out->handle = in->indirect.handle;                     \
			out->discard_flag = 0;                                 \
			out->id = in->indirect.id;                             \
			out->sector_number = in->indirect.sector_number;       \
			out->nr_sectors = 0;                                   \
			memset(out->seg, 0, sizeof(out->seg));                 \
			memcpy(out->indirect_grefs,                            \
			       in->indirect.indirect_grefs,                    \
			       sizeof(out->indirect_grefs));                   \
			break;                                                 \
		case BLKIF_OP_DISCARD:                                         \
			out->indirect_op = 0;                                  \
			out->nr_segments = 0;                                  \
			out->handle = in->discard.handle;                      \
			out->discard_flag = in->discard.flag;                  \
			out->id = in->discard.id;                              \
			out->sector_number = in->discard.sector_number;        \
			out->nr_sectors = in->discard.nr_sectors;              \
			memset(out->seg, 0, sizeof(out->seg));                 \
			break;                                                 \
		default:                                                       \
			out->indirect_op = 0;                                  \
			out->nr_segments = in->req.nr_segments;                \
			out->handle = in->req.handle;                          \
			out->discard_flag = 0;                                 \
			out->id = in->req.id;                                  \
			out->sector_number = in->req.sector_number;            \
			out->nr_sectors = 0;                                   \
			for (int i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST;    \
			     i++) {                                            \
				out->seg[i].gref = in->req.seg[i].gref;        \
				out->seg[i].first_sect =                       \
					in->req.seg[i].first_sect;             \
				out->seg[i].last_sect =                        \
					in->req.seg[i].last_sect;              \
				out->seg[i]._pad = 0;                          \
			}                                                      \
			break;                                                 \
		}                                                              \
	}

RING_BLKIF_DEFINE_TRANSLATE_(x86_32, union ring_blkif_x86_32_slot)
RING_BLKIF_DEFINE_TRANSLATE_(x86_64, union ring_blkif_x86_64_slot)
RING_BLKIF_DEFINE_TRANSLATE_(native, union ring_blkif_native_slot)

/*
 * ring_blkif_translate - translate one private copy of a slot (@slot, at
 * least ring_blkif_slot_size(@abi) bytes, any content) into @out. Total:
 * every byte of @out is written, whatever @slot holds.
 */
static inline void ring_blkif_translate(struct ring_blkif_req *out,
					const void *slot,
					enum ring_blkif_abi abi)
{
	switch (abi) {
	case RING_BLKIF_ABI_X86_32: {
		union ring_blkif_x86_32_slot in;

		memcpy(&in, slot, sizeof(in));
		ring_blkif_translate_x86_32_(out, &in);
		break;
	}
	case RING_BLKIF_ABI_X86_64: {
		union ring_blkif_x86_64_slot in;

		memcpy(&in, slot, sizeof(in));
		ring_blkif_translate_x86_64_(out, &in);
		break;
	}
	default: {
		union ring_blkif_native_slot in;

		memcpy(&in, slot, sizeof(in));
		ring_blkif_translate_native_(out, &in);
		break;
	}
	}
}

/*
 * ring_blkif_encode_req - the inverse, for test frontends: write @req as a
 * slot image of @abi into @slot (ring_blkif_slot_size(@abi) bytes, all
 * written; padding and unused fields 0). The layout follows req->op as in
 * struct ring_blkif_req.
 */
#define RING_BLKIF_ENCODE_(in, out)                                            \
	do {                                                                   \
		memset((out), 0, sizeof(*(out)));                              \
		switch ((in)->op) {                                            \
		case BLKIF_OP_INDIRECT:                                        \
			(out)->indirect.operation = (in)->op;                  \
			(out)->indirect.indirect_op = (in)->indirect_op;       \
			(out)->indirect.nr_segments = (in)->nr_segments;       \
			(out)->indirect.handle = (in)->handle;                 \
			(out)->indirect.id = (in)->id;                         \
			(out)->indirect.sector_number = (in)->sector_number;   \
			memcpy((out)->indirect.indirect_grefs,                 \
			       (in)->indirect_grefs,                           \
			       sizeof((in)->indirect_grefs));                  \
			break;                                                 \
		case BLKIF_OP_DISCARD:                                         \
			(out)->discard.operation = (in)->op;                   \
			(out)->discard.flag = (in)->discard_flag;              \
			(out)->discard.handle = (in)->handle;                  \
			(out)->discard.id = (in)->id;                          \
			(out)->discard.sector_number = (in)->sector_number;    \
			(out)->discard.nr_sectors = (in)->nr_sectors;          \
			break;                                                 \
		default:                                                       \
			(out)->req.operation = (in)->op;                       \
			(out)->req.nr_segments = (uint8_t)(in)->nr_segments;   \
			(out)->req.handle = (in)->handle;                      \
			(out)->req.id = (in)->id;                              \
			(out)->req.sector_number = (in)->sector_number;        \
			for (int i_ = 0; i_ < BLKIF_MAX_SEGMENTS_PER_REQUEST;  \
			     i_++) {                                           \
				(out)->req.seg[i_].gref = (in)->seg[i_].gref;  \
				(out)->req.seg[i_].first_sect =                \
					(in)->seg[i_].first_sect;              \
				(out)->req.seg[i_].last_sect =                 \
					(in)->seg[i_].last_sect;               \
			}                                                      \
			break;                                                 \
		}                                                              \
	} while (0)

static inline void ring_blkif_encode_req(void *slot,
					 const struct ring_blkif_req *req,
					 enum ring_blkif_abi abi)
{
	switch (abi) {
	case RING_BLKIF_ABI_X86_32: {
		union ring_blkif_x86_32_slot out;

		RING_BLKIF_ENCODE_(req, &out);
		memcpy(slot, &out, sizeof(out));
		break;
	}
	case RING_BLKIF_ABI_X86_64: {
		union ring_blkif_x86_64_slot out;

		RING_BLKIF_ENCODE_(req, &out);
		memcpy(slot, &out, sizeof(out));
		break;
	}
	default: {
		union ring_blkif_native_slot out;

		RING_BLKIF_ENCODE_(req, &out);
		memcpy(slot, &out, sizeof(out));
		break;
	}
	}
}

/*
 * Response bytes in the ABI layout @T: built field by field into a zeroed
 * byte buffer, so the padding the guest reads is 0 by construction (a
 * struct store may leave padding unspecified).
 */
#define RING_BLKIF_RSP_BYTES_(T, buf, id_, op_, st_)                           \
	do {                                                                   \
		uint64_t i__ = (id_);                                          \
		uint8_t o__ = (op_);                                           \
		int16_t s__ = (st_);                                           \
		memset((buf), 0, sizeof(T));                                   \
		memcpy((buf) + offsetof(T, id), &i__, sizeof(i__));            \
		memcpy((buf) + offsetof(T, operation), &o__, sizeof(o__));     \
		memcpy((buf) + offsetof(T, status), &s__, sizeof(s__));        \
	} while (0)

/* ---------------------------------------------------------------- back */

struct ring_blkif_back {
	struct ring_back b;
	enum ring_blkif_abi abi;
};

/*
 * ring_blkif_back_attach - attach the back view of a blkif ring of @pages
 * pages whose frontend speaks @abi. Returns 0, -EINVAL (bad arguments) or
 * -EIO (req_prod already more than a ring ahead of rsp_prod: stop it).
 */
static inline int ring_blkif_back_attach(struct ring_blkif_back *r, void *addr,
					 unsigned int pages,
					 enum ring_blkif_abi abi)
{
	if ((unsigned int)abi > RING_BLKIF_ABI_X86_64)
		return -EINVAL;
	r->abi = abi;
	return ring_back_attach(&r->b, addr, pages, ring_blkif_slot_size(abi));
}

/*
 * One ABI's fetch loop. Each slot is copied whole into a local (the one
 * read of the shared slot); the empty asm with the local as an in/out
 * memory operand makes the compiler treat it as rewritten there, so the
 * translation reads the copy and can never be turned back into reads of
 * the shared slot (which the guest may be rewriting: XSA-155).
 */
#define RING_BLKIF_FETCH_LOOP_(abi, slot_t, r, dst, n)                         \
	do {                                                                   \
		for (int i_ = 0; i_ < (n); i_++) {                             \
			slot_t c_;                                             \
			memcpy(&c_,                                            \
			       ring_slot_((r)->b.sring, (r)->b.nr_ents,        \
					  (r)->b.slot_size,                    \
					  (r)->b.req_cons + (uint32_t)i_),     \
			       sizeof(c_));                                    \
			__asm__ __volatile__("" : "+m"(c_));                   \
			ring_blkif_translate_##abi##_(&(dst)[i_], &c_);        \
		}                                                              \
	} while (0)

/*
 * ring_blkif_back_fetch - copy, translate and consume up to @max requests.
 * Returns the count written to @dst (0 if none) or -EIO (sticky: the
 * frontend published an impossible req_prod; nothing was consumed, stop
 * the ring). Values are unvalidated; see struct ring_blkif_req.
 */
static inline int ring_blkif_back_fetch(struct ring_blkif_back *r,
					struct ring_blkif_req *dst,
					unsigned int max)
{
	int n = ring_back_begin_(&r->b, max);

	if (n <= 0)
		return n;
	switch (r->abi) {
	case RING_BLKIF_ABI_X86_32:
		RING_BLKIF_FETCH_LOOP_(x86_32, union ring_blkif_x86_32_slot, r,
				       dst, n);
		break;
	case RING_BLKIF_ABI_X86_64:
		RING_BLKIF_FETCH_LOOP_(x86_64, union ring_blkif_x86_64_slot, r,
				       dst, n);
		break;
	default:
		RING_BLKIF_FETCH_LOOP_(native, union ring_blkif_native_slot, r,
				       dst, n);
		break;
	}
	ring_back_commit_(&r->b, (unsigned int)n);
	return n;
}

/*
 * ring_blkif_back_put_rsp - write the response (@id echoed, @op: the
 * request's op, or its indirect_op for INDIRECT; @status BLKIF_RSP_*) in the
 * ring's ABI, padding zeroed. Publish with ring_back_push_rsp(&r->b).
 * Returns 0 or -EOVERFLOW (no fetched request left to answer).
 */
static inline int ring_blkif_back_put_rsp(struct ring_blkif_back *r,
					  uint64_t id, uint8_t op,
					  int16_t status)
{
	unsigned char buf[sizeof(struct ring_blkif_x86_64_response)];

	switch (r->abi) {
	case RING_BLKIF_ABI_X86_32:
		RING_BLKIF_RSP_BYTES_(struct ring_blkif_x86_32_response, buf,
				      id, op, status);
		return ring_back_put_rsp(
			&r->b, buf, sizeof(struct ring_blkif_x86_32_response));
	case RING_BLKIF_ABI_X86_64:
		RING_BLKIF_RSP_BYTES_(struct ring_blkif_x86_64_response, buf,
				      id, op, status);
		return ring_back_put_rsp(
			&r->b, buf, sizeof(struct ring_blkif_x86_64_response));
	default:
		RING_BLKIF_RSP_BYTES_(struct blkif_response, buf, id, op,
				      status);
		return ring_back_put_rsp(&r->b, buf,
					 sizeof(struct blkif_response));
	}
}

_Static_assert(sizeof(struct blkif_response) <=
		       sizeof(struct ring_blkif_x86_64_response),
	       "native blkif_response larger than the x86_64 one");

/* ---------------------------------------------------------------- front */

struct ring_blkif_front {
	struct ring_front f;
	enum ring_blkif_abi abi;
};

/* Initialise a fresh blkif ring as a frontend speaking @abi. 0/-EINVAL. */
static inline int ring_blkif_front_init(struct ring_blkif_front *f, void *addr,
					unsigned int pages,
					enum ring_blkif_abi abi)
{
	if ((unsigned int)abi > RING_BLKIF_ABI_X86_64)
		return -EINVAL;
	f->abi = abi;
	return ring_front_init(&f->f, addr, pages, ring_blkif_slot_size(abi));
}

/* Encode @req in the ring's ABI into the next request slot. 0/-ENOSPC. */
static inline int ring_blkif_front_put_req(struct ring_blkif_front *f,
					   const struct ring_blkif_req *req)
{
	unsigned char slot[sizeof(union ring_blkif_x86_64_slot)];
	size_t size = ring_blkif_slot_size(f->abi);

	_Static_assert(sizeof(union ring_blkif_x86_64_slot) >=
				       sizeof(union ring_blkif_x86_32_slot) &&
			       sizeof(union ring_blkif_x86_64_slot) >=
				       sizeof(union ring_blkif_native_slot),
		       "slot buffer too small");
	ring_blkif_encode_req(slot, req, f->abi);
	return ring_front_put_req(&f->f, slot, size);
}

/*
 * Copy up to @max responses, decoded from the ring's ABI, into @dst.
 * Returns the count or -EIO (more responses than requests).
 */
static inline int ring_blkif_front_fetch_rsp(struct ring_blkif_front *f,
					     struct ring_blkif_rsp *dst,
					     unsigned int max)
{
	union {
		struct ring_blkif_x86_32_response r32;
		struct ring_blkif_x86_64_response r64;
		struct blkif_response rn;
	} raw[16];
	int total = 0;

	while ((unsigned int)total < max) {
		unsigned int want = max - (unsigned int)total;
		int n;

		if (want > 16)
			want = 16;
		n = ring_front_fetch_rsp(&f->f, raw, sizeof(raw[0]), want);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			struct ring_blkif_rsp *d = &dst[total + i];

			memset(d, 0, sizeof(*d));
			switch (f->abi) {
			case RING_BLKIF_ABI_X86_32:
				d->id = raw[i].r32.id;
				d->op = raw[i].r32.operation;
				d->status = raw[i].r32.status;
				break;
			case RING_BLKIF_ABI_X86_64:
				d->id = raw[i].r64.id;
				d->op = raw[i].r64.operation;
				d->status = raw[i].r64.status;
				break;
			default:
				d->id = raw[i].rn.id;
				d->op = raw[i].rn.operation;
				d->status = raw[i].rn.status;
				break;
			}
		}
		total += n;
		if ((unsigned int)n < want)
			break;
	}
	return total;
}

#endif
