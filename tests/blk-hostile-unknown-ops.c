// SPDX-License-Identifier: MIT
/*
 * Hostile class 5 (spec/hostile-frontend.md): a guest sends every op
 * blkif does not define (4, and 7 to 255), with plausible and with
 * garbage fields, and each is answered BLKIF_RSP_EOPNOTSUPP carrying that
 * op; DISCARDs that start at or run past the disk's end, or whose byte
 * range wraps 2^64, are answered BLKIF_RSP_ERROR and discard nothing;
 * a secure DISCARD the backend did not advertise is EOPNOTSUPP. Good
 * requests in the same batches (READ, WRITE, FLUSH, BARRIER, DISCARD)
 * still work. A read-only vbd of the same guest, which advertises no
 * discard, answers DISCARD with EOPNOTSUPP and every write with ERROR.
 * blkbackd runs as the supervisor: the honest guest is in another worker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "lib/hostile.h"

#define DEV_RW HOSTILE_DEVID
#define DEV_RO (HOSTILE_DEVID + 16)
#define NOPS (1 + 255 - 7 + 1) /* op 4, ops 7..255 */

static void req_discard(struct hostile_req *v, int want, const char *what,
			uint64_t sector, uint64_t nr, uint8_t flag)
{
	memset(v, 0, sizeof(*v));
	v->r.op = BLKIF_OP_DISCARD;
	v->r.sector_number = sector;
	v->r.nr_sectors = nr;
	v->r.discard_flag = flag;
	v->want = want;
	v->what = what;
}

static void req_plain(struct hostile_req *v, int want, const char *what,
		      uint8_t op, uint64_t sector, unsigned int nseg,
		      uint32_t gref, uint8_t first, uint8_t last)
{
	memset(v, 0, sizeof(*v));
	hostile_req(&v->r, op, sector, nseg, &gref, 1, first, last);
	v->want = want;
	v->what = what;
}

/* Ops 4 and 7..255, every third one with garbage in its fields. */
static unsigned int unknown_ops(struct hostile_req *v, uint32_t gref)
{
	static char names[NOPS][32];
	unsigned int n = 0;

	for (unsigned int op = 4; op < 256; op++) {
		if (op == 5 || op == 6)
			continue;
		snprintf(names[n], sizeof(names[n]), "op %u", op);
		if (n % 3 == 2) {
			req_plain(&v[n], BLKIF_RSP_EOPNOTSUPP, names[n],
				  (uint8_t)op, UINT64_MAX - op, 255, 0xFFFFFFF0,
				  9, 2);
			v[n].r.handle = 0xBEEF;
		} else {
			req_plain(&v[n], BLKIF_RSP_EOPNOTSUPP, names[n],
				  (uint8_t)op, 64, 1 + n % 11, gref, 0, 7);
		}
		n++;
	}
	CHECK(n == NOPS, "%u ops", n);
	return n;
}

static void attack_rw(void)
{
	static struct hostile_req v[NOPS + 32];
	struct hostile_page w, r;
	struct blkfront *bf;
	unsigned char *buf;
	unsigned int n;
	uint64_t s;

	bf = hostile_connect(DEV_RW, NULL);
	s = blkfront_info(bf)->sectors;
	CHECK(blkfront_info(bf)->discard, "the backend advertises no discard");
	CHECK(blkfront_info(bf)->flush && blkfront_info(bf)->barrier,
	      "the backend advertises no flush or barrier");
	hostile_page(bf, 0, &w);
	hostile_page(bf, 0, &r);
	memset(w.addr, 0x77, 4096);
	/* Data the bad DISCARDs must leave alone, and the good one clears. */
	hostile_rw_ok(bf, 0, s - 64, 32768, 5);
	hostile_rw_ok(bf, 0, 0, 32768, 6);
	hostile_rw_ok(bf, 0, 1024, 32768, 7);

	n = unknown_ops(v, w.gref);
	req_discard(&v[n++], BLKIF_RSP_ERROR, "DISCARD across the end", s - 8,
		    16, 0);
	req_discard(&v[n++], BLKIF_RSP_ERROR, "DISCARD at the end", s, 1, 0);
	req_discard(&v[n++], BLKIF_RSP_ERROR, "DISCARD past the end", s + 8, 8,
		    0);
	req_discard(&v[n++], BLKIF_RSP_ERROR, "DISCARD of 2^64-1 sectors", 0,
		    UINT64_MAX, 0);
	req_discard(&v[n++], BLKIF_RSP_ERROR, "DISCARD wrapping 2^64 sectors",
		    s - 64, UINT64_MAX - s + 72, 0);
	req_discard(&v[n++], BLKIF_RSP_ERROR, "DISCARD at sector 2^64-1",
		    UINT64_MAX, 1, 0);
	req_discard(&v[n++], BLKIF_RSP_ERROR,
		    "DISCARD of 2^55 sectors (bytes wrap 2^64)", 0, 1ull << 55,
		    0);
	req_discard(&v[n++], BLKIF_RSP_EOPNOTSUPP,
		    "secure DISCARD, not advertised", 0, 8,
		    BLKIF_DISCARD_SECURE);
	req_discard(&v[n++], BLKIF_RSP_OKAY, "DISCARD of 16 KiB", 1024, 32, 0);
	req_discard(&v[n++], HOSTILE_ANY, "DISCARD of 0 sectors", 2048, 0, 0);
	req_plain(&v[n++], BLKIF_RSP_OKAY, "WRITE of a page", BLKIF_OP_WRITE,
		  4096, 1, w.gref, 0, 7);
	req_plain(&v[n++], BLKIF_RSP_OKAY, "READ of a page", BLKIF_OP_READ,
		  8192, 1, r.gref, 0, 7);
	req_plain(&v[n++], BLKIF_RSP_OKAY, "FLUSH", BLKIF_OP_FLUSH_DISKCACHE, 0,
		  0, 0, 0, 0);
	req_plain(&v[n++], BLKIF_RSP_OKAY, "FLUSH with a page of data",
		  BLKIF_OP_FLUSH_DISKCACHE, 4104, 1, w.gref, 0, 7);
	req_plain(&v[n++], BLKIF_RSP_OKAY, "BARRIER", BLKIF_OP_WRITE_BARRIER, 0,
		  0, 0, 0, 0);
	hostile_run(bf, 0, v, n);
	hostile_progress(1, "after 250 unknown ops");

	/* The refused DISCARDs discarded nothing; the good one did. */
	buf = malloc(32768);
	CHECK(buf, "malloc");
	CHECK(hostile_read(bf, 0, s - 64, buf, 32768) == 0, "read");
	CHECK(blk_diff(buf, 32768, 5, (s - 64) * 512) < 0,
	      "a refused DISCARD changed the disk's last 32 KiB");
	CHECK(hostile_read(bf, 0, 0, buf, 32768) == 0, "read");
	CHECK(blk_diff(buf, 32768, 6, 0) < 0,
	      "a refused DISCARD changed the disk's first 32 KiB");
	CHECK(hostile_read(bf, 0, 1024, buf, 32768) == 0, "read");
	for (unsigned int i = 0; i < 16384; i++)
		CHECK(!buf[i], "byte %u of the discarded range is 0x%02x", i,
		      buf[i]);
	CHECK(blk_diff(buf + 16384, 16384, 7, 1024 * 512 + 16384) < 0,
	      "the DISCARD went past its range");
	CHECK(hostile_read(bf, 0, 4096, buf, 8192) == 0, "read");
	for (unsigned int i = 0; i < 8192; i++)
		CHECK(buf[i] == 0x77, "WRITE / FLUSH data: byte %u is 0x%02x",
		      i, buf[i]);
	free(buf);

	/* The same ops again, one at a time between good requests. */
	for (unsigned int i = 0; i < NOPS; i += 7) {
		hostile_run(bf, 0, &v[i], 1);
		hostile_rw_ok(bf, 0, 12288 + 16 * i, 4096, 300 + i);
	}
	hostile_no_violations(bf, "unknown ops");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	fprintf(stderr, "hostile guest: %u unknown ops refused\n", NOPS);
}

static void attack_ro(void)
{
	struct hostile_req v[NOPS + 16];
	struct hostile_page w, r;
	struct blkfront *bf;
	unsigned int n;

	bf = hostile_connect(DEV_RO, NULL);
	CHECK(blkfront_info(bf)->info & VDISK_READONLY, "info %u",
	      blkfront_info(bf)->info);
	CHECK(!blkfront_info(bf)->discard,
	      "a read-only disk advertises discard");
	hostile_page(bf, 0, &w);
	hostile_page(bf, 0, &r);
	memset(w.addr, 0x33, 4096);
	n = unknown_ops(v, w.gref);
	req_discard(&v[n++], BLKIF_RSP_EOPNOTSUPP, "DISCARD, not advertised", 0,
		    8, 0);
	req_discard(&v[n++], BLKIF_RSP_EOPNOTSUPP,
		    "DISCARD past the end, not advertised", UINT64_MAX, 8, 0);
	req_plain(&v[n++], BLKIF_RSP_ERROR, "WRITE to a read-only disk",
		  BLKIF_OP_WRITE, 0, 1, w.gref, 0, 7);
	req_plain(&v[n++], BLKIF_RSP_ERROR,
		  "FLUSH with data to a read-only disk",
		  BLKIF_OP_FLUSH_DISKCACHE, 0, 1, w.gref, 0, 7);
	req_plain(&v[n++], BLKIF_RSP_ERROR,
		  "BARRIER with data to a read-only disk",
		  BLKIF_OP_WRITE_BARRIER, 0, 1, w.gref, 0, 7);
	req_plain(&v[n++], BLKIF_RSP_OKAY, "READ of a read-only disk",
		  BLKIF_OP_READ, 0, 1, r.gref, 0, 7);
	hostile_run(bf, 0, v, n);
	for (unsigned int i = 0; i < 4096; i++)
		CHECK(r.addr[i] == (uint8_t)blk_pattern(9, i),
		      "READ of the read-only disk: byte %u wrong", i);
	hostile_no_violations(bf, "read-only disk");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
}

static int hostile_main(void *arg)
{
	attack_rw();
	attack_ro();
	hostile_progress(2, "after the unknown ops");
	return 0;
}

int main(void)
{
	struct hostile h;
	char img[PATH_MAX];

	hostile_start(&h, NULL, NULL);
	hostile_image(&h, "rw.img", HOSTILE_DISK_BYTES, 0, img, sizeof(img));
	hostile_add(&h, DEV_RW, img, NULL);
	hostile_image(&h, "ro.img", HOSTILE_DISK_BYTES, 9, img, sizeof(img));
	hostile_add(&h, DEV_RO, img, "be:mode=r");
	hostile_guest(&h, hostile_main, NULL);
	/* The read-only disk is as it was. */
	hostile_expect_file(img, 0, 1 << 20, 9, "read-only disk");
	return hostile_finish(&h);
}
