/* SPDX-License-Identifier: MIT */
/*
 * ring-size-orders - ring_nr_ents() and the attach calls give, for 1..16
 * pages (ring-page-order 0..4 and the counts between), the entry count the
 * public io/ring.h computes: __CONST_RING_SIZE on the type and __RING_SIZE
 * on a real sring pointer, for blkif native, blkif x86_32 (the i386 layout
 * of the header, tests/ring-abi-i386.h), netif tx, rx and ctrl. Bad
 * arguments give 0 / -EINVAL.
 */
#include "ring/blkif.h"

#include <stdio.h>
#include <stdlib.h>

#include "lib/check.h"
#include "ring-abi-i386.h"

static unsigned char *area;

#define CHECK_RING(tag, slot, pages)                                           \
	do {                                                                   \
		size_t sz_ = (size_t)(pages)*RING_PAGE_SIZE;                   \
		struct tag##_sring *s_ = (struct tag##_sring *)area;           \
		unsigned int want_ = __CONST_RING_SIZE(tag, sz_);              \
		unsigned int ptr_ = __RING_SIZE(s_, sz_);                      \
		unsigned int got_ = ring_nr_ents((pages), (slot));             \
		CHECK(want_ == ptr_, "%s: header macros disagree", #tag);      \
		CHECK(got_ == want_, "%s, %u pages: %u entries, header %u",    \
		      #tag, (unsigned int)(pages), got_, want_);               \
		CHECK(got_ && !(got_ & (got_ - 1)), "not a power of two");     \
	} while (0)

int main(void)
{
	struct ring_blkif_back bb;
	struct ring_back b;
	unsigned int order;

	area = aligned_alloc(RING_PAGE_SIZE, RING_MAX_PAGES * RING_PAGE_SIZE);
	CHECK(area, "alloc");
	memset(area, 0, RING_MAX_PAGES * RING_PAGE_SIZE);

	for (unsigned int pages = 1; pages <= RING_MAX_PAGES; pages++) {
		CHECK_RING(blkif, sizeof(union blkif_sring_entry), pages);
		CHECK_RING(blkif, ring_blkif_slot_size(RING_BLKIF_ABI_NATIVE),
			   pages);
		CHECK_RING(blkif, ring_blkif_slot_size(RING_BLKIF_ABI_X86_64),
			   pages);
		CHECK_RING(i386_blkif,
			   ring_blkif_slot_size(RING_BLKIF_ABI_X86_32), pages);
		CHECK_RING(netif_tx, sizeof(union netif_tx_sring_entry), pages);
		CHECK_RING(netif_rx, sizeof(union netif_rx_sring_entry), pages);
		CHECK_RING(xen_netif_ctrl,
			   sizeof(union xen_netif_ctrl_sring_entry), pages);
	}

	/* The attach calls size the ring the same way, per ABI. */
	for (order = 0; order <= RING_MAX_ORDER; order++) {
		unsigned int pages = 1u << order;
		size_t sz = (size_t)pages * RING_PAGE_SIZE;

		CHECK(ring_blkif_back_attach(&bb, area, pages,
					     RING_BLKIF_ABI_X86_32) == 0,
		      "attach");
		CHECK(bb.b.nr_ents == __CONST_RING_SIZE(i386_blkif, sz),
		      "x86_32 order %u: %u", order, bb.b.nr_ents);
		CHECK(ring_blkif_back_attach(&bb, area, pages,
					     RING_BLKIF_ABI_NATIVE) == 0,
		      "attach");
		CHECK(bb.b.nr_ents == __CONST_RING_SIZE(blkif, sz),
		      "native order %u: %u", order, bb.b.nr_ents);
		printf("order %u: blkif %u (x86_32 %u), netif tx %u rx %u\n",
		       order, (unsigned int)__CONST_RING_SIZE(blkif, sz),
		       (unsigned int)__CONST_RING_SIZE(i386_blkif, sz),
		       (unsigned int)__CONST_RING_SIZE(netif_tx, sz),
		       (unsigned int)__CONST_RING_SIZE(netif_rx, sz));
	}

	/* Cross-check of the ground truth: spec/blkif-xenbus.md B.2. */
	CHECK(ring_nr_ents(1, sizeof(union blkif_sring_entry)) == 32 &&
		      ring_nr_ents(16, sizeof(union blkif_sring_entry)) == 512,
	      "blkif 32 / 512");
	CHECK(ring_nr_ents(1, sizeof(union netif_tx_sring_entry)) == 256,
	      "netif 256");

	/* Out of range: no ring. */
	CHECK(ring_nr_ents(0, 112) == 0, "0 pages");
	CHECK(ring_nr_ents(RING_MAX_PAGES + 1, 112) == 0, "17 pages");
	CHECK(ring_nr_ents(1, 0) == 0, "slot 0");
	CHECK(ring_nr_ents(1, RING_PAGE_SIZE) == 0, "slot > page - header");
	CHECK(ring_nr_ents(1, RING_PAGE_SIZE - 64) == 1, "exactly one slot");
	CHECK(ring_back_attach(&b, area, 0, 112) == -EINVAL, "attach 0 pages");
	CHECK(ring_back_attach(&b, area, 17, 112) == -EINVAL, "attach 17");
	CHECK(ring_back_attach(&b, area + 4, 1, 112) == -EINVAL, "misaligned");
	CHECK(ring_back_attach(&b, NULL, 1, 112) == -EINVAL, "NULL");
	CHECK(ring_blkif_back_attach(&bb, area, 1, (enum ring_blkif_abi)3) ==
		      -EINVAL,
	      "bad abi");
	free(area);
	return TEST_PASS;
}
