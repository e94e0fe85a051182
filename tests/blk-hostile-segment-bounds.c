// SPDX-License-Identifier: MIT
/*
 * Hostile class 3 (spec/hostile-frontend.md): a guest sends READ/WRITE
 * requests with impossible segments or ranges, and each one, and only
 * that one, is answered BLKIF_RSP_ERROR with its own op, while the good
 * requests put on the same ring in the same batch are carried out. The
 * bad ones: nr_segments 0, 12 and 255 on direct requests, first_sect >
 * last_sect, last_sect 8 and 255, a bad segment behind good ones (nothing
 * of that request may reach the disk), a range starting at or running past
 * the disk's end, sector numbers whose byte offset wraps 2^64, the same
 * faults in the data of FLUSH and BARRIER requests, and, on a
 * device with 4096-byte sectors (a loop device, when losetup can make
 * one), offsets and lengths that are not multiples of 4096 (a request
 * aligned on the disk whose segments split pages unevenly is fine).
 * Native and x86_32 rings; blkbackd --single, so the honest guest shares
 * the process; it must keep working throughout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/hostile.h"

#define DEV_NATIVE HOSTILE_DEVID
#define DEV_4K (HOSTILE_DEVID + 16)
#define DEV_X86_32 (HOSTILE_DEVID + 32)

static char loopdev[64];
static int have_4k;

/* Region a bad WRITE aims at: it must stay zero. */
#define BAD_AT 4096ull
#define FULL 11u /* segments of a full direct request */
#define NGOOD 5u /* good requests among build()'s */

struct pages {
	struct hostile_page w[FULL]; /* write data: page i is 0x40 + i */
	struct hostile_page r[FULL]; /* read targets */
	struct hostile_page r1;	     /* one more read target */
	uint32_t wref[FULL], rref[FULL];
};

static void get_pages(struct blkfront *bf, struct pages *p)
{
	for (unsigned int i = 0; i < FULL; i++) {
		hostile_page(bf, 0, &p->w[i]);
		memset(p->w[i].addr, 0x40 + i, 4096);
		p->wref[i] = p->w[i].gref;
		hostile_page(bf, 0, &p->r[i]);
		memset(p->r[i].addr, 0xEE, 4096);
		p->rref[i] = p->r[i].gref;
	}
	hostile_page(bf, 0, &p->r1);
	memset(p->r1.addr, 0xEE, 4096);
}

#define BAD(...) add(v, &n, BLKIF_RSP_ERROR, __VA_ARGS__)
#define GOOD(...) add(v, &n, BLKIF_RSP_OKAY, __VA_ARGS__)

static void add(struct hostile_req *v, unsigned int *n, int want,
		const char *what, uint8_t op, uint64_t sector,
		unsigned int nseg, const uint32_t *grefs, uint8_t first,
		uint8_t last)
{
	struct hostile_req *r = &v[(*n)++];

	memset(r, 0, sizeof(*r));
	hostile_req(&r->r, op, sector, nseg, grefs, grefs ? FULL : 0, first,
		    last);
	r->want = want;
	r->what = what;
}

/* The bad requests and the good ones around them for a disk of @s sectors. */
static unsigned int build(struct hostile_req *v, const struct pages *p,
			  uint64_t s)
{
	const uint32_t *w = p->wref, *r = p->rref;
	unsigned int n = 0;

	BAD("READ, 0 segments", BLKIF_OP_READ, 0, 0, r, 0, 7);
	BAD("WRITE, 0 segments", BLKIF_OP_WRITE, BAD_AT, 0, w, 0, 7);
	BAD("READ, 12 direct segments", BLKIF_OP_READ, 0, 12, r, 0, 7);
	BAD("WRITE, 12 direct segments", BLKIF_OP_WRITE, BAD_AT, 12, w, 0, 7);
	BAD("WRITE, 255 direct segments", BLKIF_OP_WRITE, BAD_AT, 255, w, 0, 7);
	BAD("READ, first_sect 3 > last_sect 2", BLKIF_OP_READ, 0, 1, r, 3, 2);
	BAD("WRITE, first_sect 3 > last_sect 2", BLKIF_OP_WRITE, BAD_AT, 1, w,
	    3, 2);
	BAD("WRITE, last_sect 8", BLKIF_OP_WRITE, BAD_AT, 1, w, 0, 8);
	BAD("READ, last_sect 255", BLKIF_OP_READ, 0, 1, r, 0, 255);
	BAD("WRITE, first_sect 8 = last_sect", BLKIF_OP_WRITE, BAD_AT, 1, w, 8,
	    8);
	BAD("WRITE, 11 segments, the 6th last_sect 9", BLKIF_OP_WRITE, BAD_AT,
	    FULL, w, 0, 7);
	v[n - 1].r.seg[5].last_sect = 9;
	BAD("WRITE, 11 segments, the last one first 5 > last 4", BLKIF_OP_WRITE,
	    BAD_AT, FULL, w, 0, 7);
	v[n - 1].r.seg[10].first_sect = 5;
	v[n - 1].r.seg[10].last_sect = 4;
	BAD("READ at the disk's end", BLKIF_OP_READ, s, 1, r, 0, 0);
	BAD("READ one past the disk's end", BLKIF_OP_READ, s + 1, 1, r, 0, 0);
	BAD("WRITE across the disk's end", BLKIF_OP_WRITE, s - 1, 1, w, 0, 1);
	BAD("READ of 88 sectors 8 before the end", BLKIF_OP_READ, s - 8, FULL,
	    r, 0, 7);
	BAD("READ at sector 2^64-1", BLKIF_OP_READ, UINT64_MAX, 1, r, 0, 0);
	BAD("WRITE wrapping 2^64 sectors", BLKIF_OP_WRITE, UINT64_MAX - 87,
	    FULL, w, 0, 7);
	BAD("READ at sector 2^55 (offset wraps 2^64)", BLKIF_OP_READ,
	    1ull << 55, 1, r, 0, 0);
	BAD("READ at sector 2^64/512 + 1", BLKIF_OP_READ, UINT64_MAX / 512 + 1,
	    1, r, 0, 0);
	BAD("WRITE at sector 2^63", BLKIF_OP_WRITE, 1ull << 63, 1, w, 0, 0);
	/* FLUSH and BARRIER carry data the way WRITE does: same rules. */
	BAD("FLUSH with 12 segments", BLKIF_OP_FLUSH_DISKCACHE, BAD_AT, 12, w,
	    0, 7);
	BAD("FLUSH with first_sect 5 > last_sect 1", BLKIF_OP_FLUSH_DISKCACHE,
	    BAD_AT, 1, w, 5, 1);
	BAD("FLUSH with data across the disk's end", BLKIF_OP_FLUSH_DISKCACHE,
	    s - 4, 1, w, 0, 7);
	BAD("BARRIER with 255 segments", BLKIF_OP_WRITE_BARRIER, BAD_AT, 255, w,
	    0, 7);
	BAD("BARRIER with last_sect 8", BLKIF_OP_WRITE_BARRIER, BAD_AT, 2, w, 0,
	    8);
	BAD("BARRIER with data at sector 2^64-8", BLKIF_OP_WRITE_BARRIER,
	    UINT64_MAX - 7, 1, w, 0, 7);

	GOOD("WRITE of the last sector", BLKIF_OP_WRITE, s - 1, 1, w, 0, 0);
	GOOD("READ of 11 pages ending 8 before the end", BLKIF_OP_READ, s - 96,
	     FULL, r, 0, 7);
	GOOD("WRITE of sectors 2..5 of a page", BLKIF_OP_WRITE, 8192, 1, w + 1,
	     2, 5);
	GOOD("WRITE of 11 full pages", BLKIF_OP_WRITE, 8200, FULL, w, 0, 7);
	GOOD("READ of one sector", BLKIF_OP_READ, 0, 1, &p->r1.gref, 0, 0);
	v[n - 1].r.seg[0].gref = p->r1.gref;
	return n;
}

static void expect_bytes(const unsigned char *b, size_t len, int val,
			 const char *what)
{
	for (size_t i = 0; i < len; i++)
		CHECK(b[i] == val, "%s: byte %zu is 0x%02x, want 0x%02x", what,
		      i, b[i], val);
}

/* What the good requests of build() did, and what the bad ones did not. */
static void verify(struct blkfront *bf, const struct pages *p, uint64_t s)
{
	unsigned char *buf = malloc(FULL * 4096);

	CHECK(buf, "malloc");
	CHECK(hostile_read(bf, 0, BAD_AT, buf, FULL * 4096) == 0, "read");
	expect_bytes(buf, FULL * 4096, 0, "where only bad WRITEs aimed");
	CHECK(hostile_read(bf, 0, s - 1, buf, 512) == 0, "read");
	expect_bytes(buf, 512, 0x40, "the last sector");
	CHECK(hostile_read(bf, 0, 8192, buf, 4096) == 0, "read");
	expect_bytes(buf, 2048, 0x41, "sectors 2..5 written at 8192");
	expect_bytes(buf + 2048, 2048, 0, "after them");
	CHECK(hostile_read(bf, 0, 8200, buf, FULL * 4096) == 0, "read");
	for (unsigned int i = 0; i < FULL; i++)
		expect_bytes(buf + i * 4096, 4096, 0x40 + i,
			     "11 pages written");
	for (unsigned int i = 0; i < FULL; i++)
		expect_bytes(p->r[i].addr, 4096, 0, "11 pages read");
	expect_bytes(p->r1.addr, 512, 0, "one sector read");
	expect_bytes(p->r1.addr + 512, 4096 - 512, 0xEE,
		     "beyond the sector read");
	free(buf);
}

static void attack(unsigned int devid, enum ring_blkif_abi abi)
{
	struct hostile_req v[48];
	struct blkfront_cfg cfg;
	struct blkfront *bf;
	struct pages p;
	uint64_t s;
	unsigned int n;

	blkfront_cfg_init(&cfg);
	cfg.abi = abi;
	bf = hostile_connect(devid, &cfg);
	s = blkfront_info(bf)->sectors;
	CHECK(s == HOSTILE_DISK_BYTES / 512, "sectors %llu",
	      (unsigned long long)s);
	hostile_rw_ok(bf, 0, 1000, 65536, 11);
	get_pages(bf, &p);

	/* All at once: the bad ones fail, the good ones between them work. */
	n = build(v, &p, s);
	hostile_run(bf, 0, v, n);
	verify(bf, &p, s);
	hostile_progress(1, "after a batch of bad segments");

	/* One at a time, each followed by good I/O on the same ring. */
	for (unsigned int i = 0; i < n; i++) {
		if (v[i].want != BLKIF_RSP_ERROR)
			continue;
		hostile_run(bf, 0, &v[i], 1);
		hostile_rw_ok(bf, 0, 16384 + 256 * i, 4096 + 512 * (i % 8),
			      100 + i);
	}
	hostile_progress(2, "after the bad segments one by one");
	hostile_no_violations(bf, "segment bounds");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	fprintf(stderr, "hostile guest: %u bad requests refused on a %s ring\n",
		n - NGOOD, abi == RING_BLKIF_ABI_X86_32 ? "x86_32" : "native");
}

/* A device with 4096-byte sectors: misaligned offsets and lengths. */
static void attack_4k(void)
{
	struct hostile_page w, r, w2[2];
	struct hostile_req v[8];
	struct blkfront *bf;
	unsigned char *buf;
	unsigned int n = 0;

	bf = hostile_connect(DEV_4K, NULL);
	CHECK(blkfront_info(bf)->sector_size == 4096, "sector-size %u",
	      blkfront_info(bf)->sector_size);
	hostile_rw_ok(bf, 0, 2048, 65536, 21);
	hostile_page(bf, 0, &w);
	hostile_page(bf, 0, &r);
	hostile_page(bf, 0, &w2[0]);
	hostile_page(bf, 0, &w2[1]);
	memset(w.addr, 0x61, 4096);
	memset(w2[0].addr, 0x62, 4096);
	memset(w2[1].addr, 0x63, 4096);
	memset(r.addr, 0xEE, 4096);

#define ADD(want_, what_, op_, sector_, g_, first_, last_)                     \
	do {                                                                   \
		v[n] = (struct hostile_req){ .want = (want_),                  \
					     .what = (what_) };                \
		hostile_req(&v[n].r, (op_), (sector_), 1, &(g_), 1, (first_),  \
			    (last_));                                          \
		n++;                                                           \
	} while (0)
	ADD(BLKIF_RSP_ERROR, "4K disk: WRITE at sector 1", BLKIF_OP_WRITE, 1,
	    w.gref, 0, 7);
	ADD(BLKIF_RSP_ERROR, "4K disk: READ at sector 4", BLKIF_OP_READ, 4,
	    r.gref, 0, 7);
	ADD(BLKIF_RSP_ERROR, "4K disk: WRITE of 2 KiB", BLKIF_OP_WRITE, 0,
	    w.gref, 0, 3);
	ADD(BLKIF_RSP_ERROR, "4K disk: READ of 512 bytes", BLKIF_OP_READ, 8,
	    r.gref, 0, 0);
	ADD(BLKIF_RSP_ERROR, "4K disk: WRITE of 3.5 KiB", BLKIF_OP_WRITE, 16,
	    w.gref, 1, 7);
	ADD(BLKIF_RSP_OKAY, "4K disk: WRITE of 4 KiB at sector 24",
	    BLKIF_OP_WRITE, 24, w.gref, 0, 7);
	/* Aligned on the disk, split 2 KiB + 2 KiB over two pages. */
	ADD(BLKIF_RSP_OKAY, "4K disk: WRITE of 4 KiB in two half pages",
	    BLKIF_OP_WRITE, 32, w2[0].gref, 4, 7);
	v[n - 1].r.nr_segments = 2;
	v[n - 1].r.seg[1] = (struct ring_blkif_seg){ .gref = w2[1].gref,
						     .first_sect = 0,
						     .last_sect = 3 };
#undef ADD
	hostile_run(bf, 0, v, n);

	buf = malloc(16384);
	CHECK(buf, "malloc");
	CHECK(hostile_read(bf, 0, 0, buf, 12288) == 0, "read");
	for (size_t i = 0; i < 12288; i++)
		CHECK(buf[i] == 0,
		      "4K disk: byte %zu written by a refused "
		      "request (0x%02x)",
		      i, buf[i]);
	CHECK(hostile_read(bf, 0, 24, buf, 8192) == 0, "read");
	for (size_t i = 0; i < 8192; i++) {
		int want = i < 4096 ? 0x61 : i < 6144 ? 0x62 : 0x63;

		CHECK(buf[i] == want,
		      "4K disk: byte %zu after sector 24 is "
		      "0x%02x, want 0x%02x",
		      i, buf[i], want);
	}
	free(buf);
	for (size_t i = 0; i < 4096; i++)
		CHECK(r.addr[i] == 0xEE, "4K disk: a refused READ wrote the "
					 "page");
	hostile_rw_ok(bf, 0, 4096, 4096 * 3, 22);
	hostile_no_violations(bf, "4K disk");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	fprintf(stderr, "hostile guest: misaligned requests refused on a "
			"4096-byte-sector disk\n");
}

static int hostile_main(void *arg)
{
	attack(DEV_NATIVE, RING_BLKIF_ABI_NATIVE);
	attack(DEV_X86_32, RING_BLKIF_ABI_X86_32);
	if (have_4k)
		attack_4k();
	return 0;
}

static void loop_detach(void)
{
	char cmd[128];

	/* The daemon may still hold it: losetup -d then detaches lazily. */
	snprintf(cmd, sizeof(cmd), "losetup -d %s 2>/dev/null", loopdev);
	if (system(cmd) != 0)
		fprintf(stderr, "could not detach %s\n", loopdev);
}

/* A loop device with 4096-byte logical sectors over @file, if possible. */
static int make_4k_loop(const char *file)
{
	char cmd[PATH_MAX + 96];
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "losetup -f --show --sector-size 4096 %s 2>/dev/null", file);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	if (!fgets(loopdev, sizeof(loopdev), p))
		loopdev[0] = '\0';
	if (pclose(p) != 0 || strncmp(loopdev, "/dev/loop", 9)) {
		loopdev[0] = '\0';
		return 0;
	}
	loopdev[strcspn(loopdev, "\n")] = '\0';
	atexit(loop_detach);
	return 1;
}

int main(void)
{
	struct hostile h;
	char img[PATH_MAX];

	hostile_start(&h, "--single", NULL);
	hostile_image(&h, "native.img", HOSTILE_DISK_BYTES, 0, img,
		      sizeof(img));
	hostile_add(&h, DEV_NATIVE, img, NULL);
	hostile_image(&h, "x86_32.img", HOSTILE_DISK_BYTES, 0, img,
		      sizeof(img));
	hostile_add(&h, DEV_X86_32, img, NULL);
	hostile_image(&h, "4k.img", 8u << 20, 0, img, sizeof(img));
	have_4k = make_4k_loop(img);
	if (have_4k)
		hostile_add(&h, DEV_4K, loopdev, NULL);
	else
		fprintf(stderr, "no loop device with 4096-byte sectors: "
				"that part is skipped\n");
	hostile_guest(&h, hostile_main, NULL);
	return hostile_finish(&h);
}
