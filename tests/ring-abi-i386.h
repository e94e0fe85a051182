/* SPDX-License-Identifier: MIT */
/*
 * ring-abi-i386.h - the public io/blkif.h a second time, laid out as a
 * 32-bit x86 guest lays it out: the ground truth for the x86_32 ABI in the
 * ring-* tests.
 *
 * Debian's libxen-dev ships no foreign blkif layouts (xen/foreign/ has only
 * the arch structs), so we take the public header itself and apply the i386
 * psABI rule that matters here: 8-byte integers are 4-aligned inside
 * structs. That is `#pragma pack(4)`, exactly how Xen's own mkheader.py
 * produces xen/foreign/x86_32.h. __i386__ is defined meanwhile, for the
 * `pad` the header adds to blkif_request_indirect on i386. Every tag is
 * renamed i386_..., so both layouts live in one program.
 * ring-abi-blkif-layouts also checks this against `clang -m32` when it can.
 *
 * Include after <xen/io/blkif.h> (or ring/blkif.h).
 */
#ifndef PVBACK_TESTS_RING_ABI_I386_H
#define PVBACK_TESTS_RING_ABI_I386_H

#include <stdint.h>
#include <xen/io/blkif.h>

#ifdef __i386__
#error "ring-abi-i386.h is for 64-bit hosts"
#endif

#pragma pack(push, 4)
#define __i386__ 1
#undef __XEN_PUBLIC_IO_BLKIF_H__
#define blkif_request_segment i386_blkif_request_segment
#define blkif_request i386_blkif_request
#define blkif_request_t i386_blkif_request_t
#define blkif_request_discard i386_blkif_request_discard
#define blkif_request_discard_t i386_blkif_request_discard_t
#define blkif_request_indirect i386_blkif_request_indirect
#define blkif_request_indirect_t i386_blkif_request_indirect_t
#define blkif_response i386_blkif_response
#define blkif_response_t i386_blkif_response_t
#define blkif_sring_entry i386_blkif_sring_entry
#define blkif_sring i386_blkif_sring
#define blkif_front_ring i386_blkif_front_ring
#define blkif_back_ring i386_blkif_back_ring
#define blkif_sring_t i386_blkif_sring_t
#define blkif_front_ring_t i386_blkif_front_ring_t
#define blkif_back_ring_t i386_blkif_back_ring_t
#include <xen/io/blkif.h>
#undef blkif_request_segment
#undef blkif_request
#undef blkif_request_t
#undef blkif_request_discard
#undef blkif_request_discard_t
#undef blkif_request_indirect
#undef blkif_request_indirect_t
#undef blkif_response
#undef blkif_response_t
#undef blkif_sring_entry
#undef blkif_sring
#undef blkif_front_ring
#undef blkif_back_ring
#undef blkif_sring_t
#undef blkif_front_ring_t
#undef blkif_back_ring_t
#undef __i386__
#pragma pack(pop)

#endif
