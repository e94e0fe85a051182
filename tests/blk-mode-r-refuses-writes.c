// SPDX-License-Identifier: MIT
/*
 * A vbd the toolstack added with mode=r is read-only end to end: the
 * backend's `info` carries VDISK_READONLY (and not CDROM), every request
 * that would change the disk (WRITE, an INDIRECT WRITE) is answered
 * BLKIF_RSP_ERROR with its own op (WRITE for the indirect one, as blkfront
 * checks); a DISCARD, which a read-only disk does not advertise, is
 * refused as any op not advertised is (BLKIF_RSP_EOPNOTSUPP, spec
 * hostile-frontend class 5), never executed; READ, direct and indirect, returns the
 * file's bytes. Afterwards the backing file is byte for byte what it was.
 * Linux blkback answers the same way (xen_vbd_translate refuses anything
 * but a read on a read-only vbd); the refused requests go to the end of
 * the disk, to its start and to the middle, and none may leak through.
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

#define KIB 1024u
#define DISK_BYTES (8ull << 20)
#define SEED 3

static const uint64_t offs[] = { 0, 3ull << 20, DISK_BYTES - 128 * KIB };

static void refused_write(struct blkfront *bf, uint64_t off, size_t len,
			  unsigned int page_off)
{
	static uint8_t buf[128 * KIB];
	struct blkfront_io io = {
		.op = BLKFRONT_WRITE,
		.page_off = (uint8_t)page_off,
		.sector = off / 512,
		.buf = buf,
		.len = len,
	};
	struct blkfront_done d;

	memset(buf, 0x5A, len);
	blk2_do(bf, 0, &io, &d);
	CHECK(d.rsp_status == BLKIF_RSP_ERROR && d.rsp_op == BLKIF_OP_WRITE,
	      "write of %zu bytes at %llu (%s) on a read-only disk: status %d "
	      "op %u, want BLKIF_RSP_ERROR op %u",
	      len, (unsigned long long)off,
	      len > 11 * 4096 ? "indirect" : "direct", d.rsp_status, d.rsp_op,
	      BLKIF_OP_WRITE);
}

static void good_read(struct blkfront *bf, uint64_t off, size_t len,
		      unsigned int page_off)
{
	static uint8_t buf[128 * KIB];
	struct blkfront_io io = {
		.op = BLKFRONT_READ,
		.page_off = (uint8_t)page_off,
		.sector = off / 512,
		.buf = buf,
		.len = len,
	};
	struct blkfront_done d;
	long at;

	memset(buf, 0xA5, len);
	CHECK(blk2_do(bf, 0, &io, &d) == 0 && d.rsp_op == BLKIF_OP_READ,
	      "read of %zu bytes at %llu: status %d op %u", len,
	      (unsigned long long)off, d.rsp_status, d.rsp_op);
	at = blk_diff(buf, len, SEED, off);
	CHECK(at < 0, "read of %zu bytes at %llu: byte %ld is not the file's",
	      len, (unsigned long long)off, at);
}

static int guest(void *arg)
{
	struct blkfront_cfg cfg;
	const struct blkfront_info *in;
	struct blkfront *bf;
	struct blkfront_done d;

	blkfront_cfg_init(&cfg);
	cfg.max_indirect = 256;
	bf = blk2_connect(&cfg);
	in = blkfront_info(bf);
	CHECK(in->info & VDISK_READONLY, "info %#x lacks VDISK_READONLY",
	      in->info);
	CHECK(!(in->info & VDISK_CDROM), "info %#x says CDROM", in->info);
	CHECK(in->max_indirect > 11, "no indirect requests negotiated");

	for (unsigned int i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		struct ring_blkif_req req = {
			.op = BLKIF_OP_DISCARD,
			.handle = 51712,
			.sector_number = offs[i] / 512,
			.nr_sectors = 64 * KIB / 512,
		};

		refused_write(bf, offs[i], 4 * KIB, 0);
		refused_write(bf, offs[i], 44 * KIB - 512, 1);
		refused_write(bf, offs[i], 128 * KIB, 0);      /* indirect */
		refused_write(bf, offs[i], 64 * KIB + 512, 7); /* indirect */
		/* blkfront sends no DISCARD unless advertised: by hand. */
		blk2_do_raw(bf, 0, &req, &d);
		CHECK(!in->discard && d.rsp_status == BLKIF_RSP_EOPNOTSUPP &&
			      d.rsp_op == BLKIF_OP_DISCARD,
		      "discard at %llu on a read-only disk (feature-discard "
		      "%s): status %d op %u, want BLKIF_RSP_EOPNOTSUPP op %u",
		      (unsigned long long)offs[i],
		      in->discard ? "advertised" : "not advertised",
		      d.rsp_status, d.rsp_op, BLKIF_OP_DISCARD);

		good_read(bf, offs[i], 4 * KIB, 0);
		good_read(bf, offs[i], 44 * KIB, 0);
		good_read(bf, offs[i] + 512, 3 * KIB, 5);
		good_read(bf, offs[i], 128 * KIB, 0);		/* indirect */
		good_read(bf, offs[i] + 4 * KIB, 100 * KIB, 2); /* indirect */
	}
	blk2_no_violations(bf, "end");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	return 0;
}

int main(void)
{
	struct blk_scen s;
	char img[PATH_MAX];
	long at;

	blk_start(&s, 1, NULL, NULL);
	snprintf(img, sizeof(img), "%s",
		 blk_image(&s, "ro.img", DISK_BYTES, SEED));
	blk_add(&s, "vbd", 1, 51712, img, "be:mode=r");
	CHECK(blk_guest(&s, 1, guest, NULL) == 0, "guest failed");
	CHECK(blk2_file_size(img) == DISK_BYTES, "the file changed size");
	at = blk2_file_diff(img, 0, DISK_BYTES, SEED);
	CHECK(at < 0, "the read-only disk's file changed at byte %ld", at);
	return blk_pass(&s);
}
