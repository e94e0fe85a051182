// SPDX-License-Identifier: MIT
/*
 * BLKIF_OP_DISCARD: the sectors named read back as zeros afterwards, and
 * nothing else changes. A guest discards ranges of a disk full of a known
 * pattern: aligned to the 4 KiB discard granularity, unaligned at either
 * end or inside one block, at the very end of the disk; after each it
 * reads the range and its neighbours back, and at the end the whole disk
 * and the backing file must equal a model of what was discarded. A discard
 * that runs past the end, starts at the end, or whose length overflows, is
 * answered BLKIF_RSP_ERROR with op DISCARD and discards nothing.
 *
 * Linux blkfront sends discards as large as the disk (its
 * max_discard_sectors is the capacity; mkfs discards everything first): on
 * a sparse 8 GiB disk a discard of more than 4 GiB, and one of the whole
 * disk, must zero all of their range too.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front/blkfront.h"
#include "lib/blkscen.h"
#include "lib/blkscen2.h"
#include "lib/check.h"

#define KIB 1024ull
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define A_BYTES (16 * MIB)
#define A_SEED 7
#define B_BYTES (8 * GIB + 64 * KIB)
#define XVDA 51712
#define XVDB 51728

static char img_a[PATH_MAX], img_b[PATH_MAX];
static uint8_t *model; /* what disk A must hold */

/* Read [@off, +@len) of @bf through the ring, 1 MiB at a time. */
static void read_disk(struct blkfront *bf, uint64_t off, uint8_t *buf,
		      uint64_t len)
{
	struct blkfront_done d;

	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < MIB ? len - done : MIB;
		struct blkfront_io io = {
			.op = BLKFRONT_READ,
			.sector = (off + done) / 512,
			.buf = buf + done,
			.len = n,
		};

		CHECK(blk2_do(bf, 0, &io, &d) == 0,
		      "read %llu bytes at %llu: status %d",
		      (unsigned long long)n, (unsigned long long)(off + done),
		      d.rsp_status);
		done += n;
	}
}

/* Disk A around [@off, +@len) (8 KiB either side) must equal the model. */
static void check_around(struct blkfront *bf, uint64_t off, uint64_t len,
			 const char *what)
{
	uint64_t lo = off >= 8 * KIB ? off - 8 * KIB : 0;
	uint64_t hi = off + len + 8 * KIB <= A_BYTES ? off + len + 8 * KIB
						     : A_BYTES;
	uint8_t *buf = malloc(hi - lo);

	CHECK(buf, "malloc");
	read_disk(bf, lo, buf, hi - lo);
	for (uint64_t i = 0; i < hi - lo; i++) {
		uint64_t a = lo + i;

		CHECK(buf[i] == model[a],
		      "%s: byte %llu reads 0x%02x, want 0x%02x (%s)", what,
		      (unsigned long long)a, buf[i], model[a],
		      a >= off && a < off + len ? "inside the discarded range"
						: "a neighbour, not discarded");
	}
	free(buf);
}

static void discard_ok(struct blkfront *bf, uint64_t off, uint64_t len,
		       const char *what)
{
	struct blkfront_io io = {
		.op = BLKFRONT_DISCARD,
		.sector = off / 512,
		.len = len,
	};
	struct blkfront_done d;

	CHECK(blk2_do(bf, 0, &io, &d) == 0 && d.rsp_op == BLKIF_OP_DISCARD,
	      "%s: discard of %llu bytes at %llu: status %d op %u", what,
	      (unsigned long long)len, (unsigned long long)off, d.rsp_status,
	      d.rsp_op);
	memset(model + off, 0, len);
	check_around(bf, off, len, what);
}

/* A discard the backend must refuse: ERROR, op DISCARD, nothing changed. */
static void discard_refused(struct blkfront *bf, uint64_t sector,
			    uint64_t nr_sectors, const char *what)
{
	struct ring_blkif_req req = {
		.op = BLKIF_OP_DISCARD,
		.handle = XVDA,
		.sector_number = sector,
		.nr_sectors = nr_sectors,
	};
	struct blkfront_done d;

	blk2_do_raw(bf, 0, &req, &d);
	CHECK(d.rsp_status == BLKIF_RSP_ERROR && d.rsp_op == BLKIF_OP_DISCARD,
	      "%s (sector %llu, %llu sectors): answered status %d op %u, "
	      "want BLKIF_RSP_ERROR op %u",
	      what, (unsigned long long)sector, (unsigned long long)nr_sectors,
	      d.rsp_status, d.rsp_op, BLKIF_OP_DISCARD);
	/* The tail of the disk is still all there. */
	check_around(bf, A_BYTES - 64 * KIB, 64 * KIB, what);
	check_around(bf, 0, 8 * KIB, what);
}

static void disk_a(void)
{
	struct blkfront_cfg cfg;
	const struct blkfront_info *in;
	struct blkfront *bf;
	const uint64_t sectors = A_BYTES / 512;
	uint8_t *all;

	blkfront_cfg_init(&cfg);
	cfg.devid = XVDA;
	cfg.max_indirect = 256;
	bf = blk2_connect(&cfg);
	in = blkfront_info(bf);
	CHECK(in->discard, "feature-discard not advertised on a file");
	CHECK(in->discard_granularity >= 512 &&
		      !(in->discard_granularity &
			(in->discard_granularity - 1)),
	      "discard-granularity %u", in->discard_granularity);

	discard_ok(bf, 1 * MIB, 64 * KIB, "aligned");
	discard_ok(bf, 2 * MIB + 512, 9 * KIB, "unaligned at both ends");
	discard_ok(bf, 3 * MIB + 1024, 1024, "inside one 4 KiB block");
	discard_ok(bf, 4 * MIB, 4 * KIB + 512, "unaligned end");
	discard_ok(bf, 5 * MIB + 3584, 512, "one sector");

	discard_refused(bf, sectors - 8, 16, "past the end");
	discard_refused(bf, sectors, 1, "starting at the end");
	discard_refused(bf, 8, UINT64_MAX - 4, "length wrapping around");
	discard_refused(bf, 8, 1ull << 56, "length overflowing bytes");

	discard_ok(bf, A_BYTES - 64 * KIB, 16 * KIB, "aligned near the end");
	discard_ok(bf, A_BYTES - 11 * 512, 11 * 512, "unaligned, to the end");
	discard_ok(bf, A_BYTES - 8 * KIB, 8 * KIB, "aligned, to the end");

	all = malloc(A_BYTES);
	CHECK(all, "malloc");
	read_disk(bf, 0, all, A_BYTES);
	for (uint64_t a = 0; a < A_BYTES; a++)
		CHECK(all[a] == model[a],
		      "disk A byte %llu reads 0x%02x, want "
		      "0x%02x",
		      (unsigned long long)a, all[a], model[a]);
	blk2_file_read(img_a, 0, all, A_BYTES);
	for (uint64_t a = 0; a < A_BYTES; a++)
		CHECK(all[a] == model[a],
		      "file A byte %llu is 0x%02x, want "
		      "0x%02x",
		      (unsigned long long)a, all[a], model[a]);
	free(all);
	blk2_no_violations(bf, "disk A");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
}

/* Write 64 KiB of @seed at @off of disk B. */
static void put_b(struct blkfront *bf, uint64_t off, uint32_t seed)
{
	static uint8_t buf[64 * KIB];
	struct blkfront_io io = {
		.op = BLKFRONT_WRITE,
		.sector = off / 512,
		.buf = buf,
		.len = sizeof(buf),
	};
	struct blkfront_done d;

	blk_fill(buf, sizeof(buf), seed, off);
	CHECK(blk2_do(bf, 0, &io, &d) == 0, "write 64 KiB at %llu of disk B",
	      (unsigned long long)off);
}

/* 64 KiB at @off of disk B: zeros (@seed 0) or @seed's pattern. */
static void expect_b(struct blkfront *bf, uint64_t off, uint32_t seed,
		     const char *what)
{
	static uint8_t buf[64 * KIB];
	long at;

	read_disk(bf, off, buf, sizeof(buf));
	if (seed) {
		at = blk_diff(buf, sizeof(buf), seed, off);
	} else {
		at = -1;
		for (size_t i = 0; i < sizeof(buf) && at < 0; i++)
			if (buf[i])
				at = (long)i;
	}
	CHECK(at < 0, "%s: 64 KiB at %llu (%.2f GiB) %s at byte %ld", what,
	      (unsigned long long)off, (double)off / GIB,
	      seed ? "lost its data" : "not zero", at);
	CHECK(blk2_file_diff(img_b, off, sizeof(buf), seed) < 0,
	      "%s: the backing file disagrees at %llu", what,
	      (unsigned long long)off);
}

static void disk_b(void)
{
	const uint64_t a1 = 0, a2 = 4 * GIB + MIB, a3 = B_BYTES - 64 * KIB;
	const uint64_t d_off = 512 * KIB, d_len = 4 * GIB + MIB;
	struct blkfront_cfg cfg;
	struct blkfront_io io;
	struct blkfront_done d;
	struct blkfront *bf;

	blkfront_cfg_init(&cfg);
	cfg.devid = XVDB;
	bf = blk2_connect(&cfg);
	CHECK(blkfront_info(bf)->sectors == B_BYTES / 512, "disk B sectors");
	put_b(bf, a1, 11);
	put_b(bf, a2, 12);
	put_b(bf, a3, 13);

	/* 4 GiB + 1 MiB from 512 KiB: covers a2 only. */
	io = (struct blkfront_io){
		.op = BLKFRONT_DISCARD,
		.sector = d_off / 512,
		.len = d_len,
	};
	CHECK(blk2_do(bf, 0, &io, &d) == 0 && d.rsp_op == BLKIF_OP_DISCARD,
	      "discard of 4 GiB + 1 MiB: status %d op %u", d.rsp_status,
	      d.rsp_op);
	expect_b(bf, a2, 0, "after a discard of 4 GiB + 1 MiB covering it");
	expect_b(bf, a1, 11, "before that discard's range");
	expect_b(bf, a3, 13, "after that discard's range");

	/* The whole disk, as mkfs does. */
	io = (struct blkfront_io){
		.op = BLKFRONT_DISCARD,
		.sector = 0,
		.len = B_BYTES,
	};
	CHECK(blk2_do(bf, 0, &io, &d) == 0 && d.rsp_op == BLKIF_OP_DISCARD,
	      "discard of the whole 8 GiB disk: status %d op %u", d.rsp_status,
	      d.rsp_op);
	expect_b(bf, a1, 0, "first 64 KiB after discarding the whole disk");
	expect_b(bf, a3, 0, "last 64 KiB after discarding the whole disk");
	blk2_no_violations(bf, "disk B");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
}

static int guest(void *arg)
{
	disk_a();
	disk_b();
	return 0;
}

int main(void)
{
	struct blk_scen s;

	model = malloc(A_BYTES);
	CHECK(model, "malloc");
	blk_start(&s, 1, NULL, NULL);
	snprintf(img_a, sizeof(img_a), "%s",
		 blk_image(&s, "a.img", A_BYTES, A_SEED));
	blk_fill(model, A_BYTES, A_SEED, 0);
	snprintf(img_b, sizeof(img_b), "%s",
		 blk_image(&s, "b.img", B_BYTES, 0));
	blk_add(&s, "vbd", 1, XVDA, img_a, NULL);
	blk_add(&s, "vbd", 1, XVDB, img_b, NULL);
	CHECK(blk_guest(&s, 1, guest, NULL) == 0, "guest failed");
	return blk_pass(&s);
}
