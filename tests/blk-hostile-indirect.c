// SPDX-License-Identifier: MIT
/*
 * Hostile class 4 (spec/hostile-frontend.md): BLKIF_OP_INDIRECT requests
 * a guest builds by hand, indirect pages and all. Refused with
 * BLKIF_RSP_ERROR, the response carrying the indirect_op whatever it is:
 * an indirect_op that is not READ or WRITE (2..7, 200, 255), nr_segments
 * 0 or above the 256 advertised (257, 512, 513, 65535), a bad grant
 * reference in the indirect page list (past the table, never granted,
 * granted to another domain), a bad grant inside a segment descriptor,
 * descriptors with first_sect > last_sect or last_sect > 7, and ranges at
 * or past the disk's end or wrapping 2^64. Nothing of a refused WRITE
 * reaches the disk, and a READ refused for its shape writes nothing to
 * the guest's pages (one refused for a bad grant may have filled its good
 * pages with their right data: the grant fails only when data moves).
 * The backend must never read past the validated count: garbage in the
 * descriptors after nr_segments, and in the indirect_grefs nr_segments
 * does not need, is never looked at. Good indirect requests
 * (1, 20 and 256 segments) in the same batches work. Native and x86_32
 * rings; blkbackd --single.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xen.h"
#include "lib/check.h"
#include "lib/hostile.h"

#define DEV_NATIVE HOSTILE_DEVID
#define DEV_X86_32 (HOSTILE_DEVID + 16)
#define MAXSEG 256u
#define BAD_REGION 8192ull   /* sectors: refused WRITEs aim here */
#define BAD_GREF 0xFFFFFFF0u /* past any grant table */
#define UNGRANTED 16000u     /* inside xensim's table, never given */

struct ctx {
	struct blkfront *bf;
	uint64_t sectors;
	struct hostile_page w[MAXSEG]; /* write data, page i = wbyte(i) */
	struct hostile_page r[MAXSEG]; /* targets of good READs */
	struct hostile_page x[MAXSEG]; /* targets of refused READs: 0xEE */
	uint32_t wref[MAXSEG], rref[MAXSEG], xref[MAXSEG];
	uint32_t other_dom; /* a grant given to domain 2 */
	struct hostile_req v[64];
	unsigned int n;
};

static uint8_t wbyte(unsigned int i)
{
	return (uint8_t)(i * 7 + 1);
}

/*
 * An INDIRECT request of @nseg segments on @grefs (full pages unless
 * @first/@last say otherwise), its descriptors in a fresh page whose bytes
 * after the last descriptor are garbage a backend must not read.
 */
static struct hostile_req *ind(struct ctx *c, int want, const char *what,
			       uint8_t iop, uint64_t sector, unsigned int nseg,
			       const uint32_t *grefs, uint8_t first,
			       uint8_t last)
{
	struct hostile_req *v = &c->v[c->n++];
	struct blkif_request_segment *d;
	struct hostile_page ip;
	unsigned int filled = nseg < 512 ? nseg : 512;

	CHECK(c->n <= sizeof(c->v) / sizeof(c->v[0]), "too many requests");
	hostile_page(c->bf, 0, &ip);
	memset(ip.addr, 0xCD, 4096);
	d = (struct blkif_request_segment *)ip.addr;
	for (unsigned int i = 0; i < filled && grefs; i++) {
		d[i].gref = grefs[i % MAXSEG];
		d[i].first_sect = first;
		d[i].last_sect = last;
	}
	memset(v, 0, sizeof(*v));
	v->r.op = BLKIF_OP_INDIRECT;
	v->r.indirect_op = iop;
	v->r.nr_segments = (uint16_t)nseg;
	v->r.sector_number = sector;
	v->r.indirect_grefs[0] = ip.gref;
	v->want = want;
	v->what = what;
	return v;
}

static void expect_page(const unsigned char *p, uint8_t val, const char *what,
			unsigned int i)
{
	for (unsigned int k = 0; k < 4096; k++)
		CHECK(p[k] == val, "%s: page %u byte %u is 0x%02x, want 0x%02x",
		      what, i, k, p[k], val);
}

static void attack(unsigned int devid, enum ring_blkif_abi abi,
		   struct xen_gntshr *gs)
{
	static struct ctx c;
	struct blkfront_cfg cfg;
	struct hostile_req *v;
	unsigned char *buf;
	uint64_t s;
	void *oaddr;

	memset(&c, 0, sizeof(c));
	blkfront_cfg_init(&cfg);
	cfg.abi = abi;
	cfg.max_indirect = MAXSEG;
	cfg.pool_pages = 2048;
	c.bf = hostile_connect(devid, &cfg);
	CHECK(blkfront_info(c.bf)->max_indirect == MAXSEG,
	      "indirect segments %u", blkfront_info(c.bf)->max_indirect);
	s = c.sectors = blkfront_info(c.bf)->sectors;
	for (unsigned int i = 0; i < MAXSEG; i++) {
		hostile_page(c.bf, 0, &c.w[i]);
		memset(c.w[i].addr, wbyte(i), 4096);
		c.wref[i] = c.w[i].gref;
		hostile_page(c.bf, 0, &c.r[i]);
		memset(c.r[i].addr, 0xEE, 4096);
		c.rref[i] = c.r[i].gref;
		hostile_page(c.bf, 0, &c.x[i]);
		memset(c.x[i].addr, 0xEE, 4096);
		c.xref[i] = c.x[i].gref;
	}
	/* A page granted to the other guest, not to the backend. */
	CHECK(xen_gntshr_share(gs, HOSTILE_HONEST, 1, 1, &c.other_dom,
			       &oaddr) == 0,
	      "share a page with domain %u", HOSTILE_HONEST);
	hostile_rw_ok(c.bf, 0, 20000, 256 * 1024, 41);

	/* Refused: the inner op. */
	{
		static const uint8_t iops[] = { 2, 3, 4, 5, 6, 7, 200, 255 };
		static char names[8][48];

		for (unsigned int i = 0; i < sizeof(iops); i++) {
			snprintf(names[i], sizeof(names[i]), "indirect_op %u",
				 iops[i]);
			ind(&c, BLKIF_RSP_ERROR, names[i], iops[i], BAD_REGION,
			    20, c.wref, 0, 7);
		}
	}
	/* Refused: the segment count. */
	ind(&c, BLKIF_RSP_ERROR, "WRITE, 0 segments", BLKIF_OP_WRITE,
	    BAD_REGION, 0, c.wref, 0, 7);
	ind(&c, BLKIF_RSP_ERROR, "READ, 0 segments", BLKIF_OP_READ, 0, 0,
	    c.xref, 0, 7);
	ind(&c, BLKIF_RSP_ERROR, "WRITE, 257 segments", BLKIF_OP_WRITE,
	    BAD_REGION, 257, c.wref, 0, 7);
	ind(&c, BLKIF_RSP_ERROR, "READ, 512 segments", BLKIF_OP_READ, 0, 512,
	    c.xref, 0, 7);
	v = ind(&c, BLKIF_RSP_ERROR, "WRITE, 513 segments (2 pages)",
		BLKIF_OP_WRITE, BAD_REGION, 513, c.wref, 0, 7);
	v->r.indirect_grefs[1] = v->r.indirect_grefs[0];
	ind(&c, BLKIF_RSP_ERROR, "WRITE, 65535 segments", BLKIF_OP_WRITE,
	    BAD_REGION, 65535, c.wref, 0, 7);
	/* Refused: the indirect page itself. */
	v = ind(&c, BLKIF_RSP_ERROR, "WRITE, indirect page gref past the table",
		BLKIF_OP_WRITE, BAD_REGION, 20, c.wref, 0, 7);
	v->r.indirect_grefs[0] = BAD_GREF;
	v = ind(&c, BLKIF_RSP_ERROR, "READ, indirect page gref never granted",
		BLKIF_OP_READ, 0, 20, c.xref, 0, 7);
	v->r.indirect_grefs[0] = UNGRANTED;
	v = ind(&c, BLKIF_RSP_ERROR,
		"WRITE, indirect page granted to another domain",
		BLKIF_OP_WRITE, BAD_REGION, 20, c.wref, 0, 7);
	v->r.indirect_grefs[0] = c.other_dom;
	/* Refused: one bad descriptor among good ones. */
	{
		struct hostile_page ip;
		struct blkif_request_segment *dd;
		static const struct {
			const char *what;
			uint8_t iop;
			unsigned int nseg, at;
			uint32_t gref;
			uint8_t first, last;
		} bad[] = {
			{ "WRITE, descriptor 150 with a bad gref",
			  BLKIF_OP_WRITE, 200, 150, BAD_GREF, 0, 7 },
			{ "READ, descriptor 10 never granted", BLKIF_OP_READ,
			  200, 10, UNGRANTED, 0, 7 },
			{ "WRITE, last descriptor last_sect 8", BLKIF_OP_WRITE,
			  256, 255, 0, 0, 8 },
			{ "READ, first descriptor first 5 > last 4",
			  BLKIF_OP_READ, 256, 0, 0, 5, 4 },
			{ "WRITE, descriptor 100 first 8 = last 8",
			  BLKIF_OP_WRITE, 101, 100, 0, 8, 8 },
			{ "READ, descriptor 30 last_sect 255", BLKIF_OP_READ,
			  31, 30, 0, 0, 255 },
		};

		for (unsigned int k = 0; k < sizeof(bad) / sizeof(bad[0]);
		     k++) {
			/*
			 * A bad grant is found when the data moves: the
			 * other pages of a READ may get their (right) data,
			 * so it reads into pages that end up zero anyway.
			 */
			const uint32_t *g = bad[k].iop == BLKIF_OP_WRITE
						    ? c.wref
					    : bad[k].gref ? c.rref
							  : c.xref;

			v = &c.v[c.n++];
			hostile_page(c.bf, 0, &ip);
			memset(ip.addr, 0xCD, 4096);
			dd = (struct blkif_request_segment *)ip.addr;
			for (unsigned int i = 0; i < bad[k].nseg; i++)
				dd[i] = (struct blkif_request_segment){
					.gref = g[i],
					.first_sect = 0,
					.last_sect = 7,
				};
			if (bad[k].gref)
				dd[bad[k].at].gref = bad[k].gref;
			dd[bad[k].at].first_sect = bad[k].first;
			dd[bad[k].at].last_sect = bad[k].last;
			memset(v, 0, sizeof(*v));
			v->r.op = BLKIF_OP_INDIRECT;
			v->r.indirect_op = bad[k].iop;
			v->r.nr_segments = (uint16_t)bad[k].nseg;
			v->r.sector_number =
				bad[k].iop == BLKIF_OP_WRITE ? BAD_REGION : 0;
			v->r.indirect_grefs[0] = ip.gref;
			v->want = BLKIF_RSP_ERROR;
			v->what = bad[k].what;
		}
	}
	/* Refused: the range. */
	ind(&c, BLKIF_RSP_ERROR, "WRITE of 256 pages across the end",
	    BLKIF_OP_WRITE, s - 100, MAXSEG, c.wref, 0, 7);
	ind(&c, BLKIF_RSP_ERROR, "READ of 1 page at the end", BLKIF_OP_READ, s,
	    1, c.xref, 0, 7);
	ind(&c, BLKIF_RSP_ERROR, "READ past the end", BLKIF_OP_READ, s + 8, 20,
	    c.xref, 0, 7);
	ind(&c, BLKIF_RSP_ERROR, "WRITE at sector 2^64-1", BLKIF_OP_WRITE,
	    UINT64_MAX, 20, c.wref, 0, 7);
	ind(&c, BLKIF_RSP_ERROR, "WRITE wrapping 2^64 sectors", BLKIF_OP_WRITE,
	    UINT64_MAX - 100, MAXSEG, c.wref, 0, 7);
	ind(&c, BLKIF_RSP_ERROR, "READ at sector 2^55 (bytes wrap 2^64)",
	    BLKIF_OP_READ, 1ull << 55, 20, c.xref, 0, 7);

	/* Good, in the same batch. */
	ind(&c, BLKIF_RSP_OKAY, "WRITE of 256 pages", BLKIF_OP_WRITE, 4096,
	    MAXSEG, c.wref, 0, 7);
	v = ind(&c, BLKIF_RSP_OKAY,
		"WRITE of 20 pages, garbage after the 20th descriptor",
		BLKIF_OP_WRITE, 12288, 20, c.wref, 0, 7);
	ind(&c, BLKIF_RSP_OKAY, "WRITE of sectors 2..5 of one page",
	    BLKIF_OP_WRITE, 14000, 1, c.wref + 3, 2, 5);
	v = ind(&c, HOSTILE_ANY,
		"WRITE of 20 pages, garbage in the unneeded indirect_grefs",
		BLKIF_OP_WRITE, 14100, 20, c.wref + 100, 0, 7);
	for (unsigned int k = 1; k < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; k++)
		v->r.indirect_grefs[k] = k & 1 ? BAD_GREF : UNGRANTED;
	ind(&c, BLKIF_RSP_OKAY, "READ of 256 pages", BLKIF_OP_READ, 0, MAXSEG,
	    c.rref, 0, 7);

	hostile_run(c.bf, 0, c.v, c.n);
	hostile_progress(1, "after a batch of bad indirect requests");

	/* What the good ones did, and the bad ones did not. */
	buf = malloc(MAXSEG * 4096);
	CHECK(buf, "malloc");
	CHECK(hostile_read(c.bf, 0, BAD_REGION, buf, MAXSEG * 4096) == 0,
	      "read");
	for (unsigned int i = 0; i < MAXSEG * 4096; i++)
		CHECK(!buf[i],
		      "byte %u of the region refused WRITEs aimed at "
		      "is 0x%02x",
		      i, buf[i]);
	CHECK(hostile_read(c.bf, 0, s - 2048, buf, 1 << 20) == 0, "read");
	for (unsigned int i = 0; i < 1 << 20; i++)
		CHECK(!buf[i], "byte %u of the disk's last MiB is 0x%02x", i,
		      buf[i]);
	CHECK(hostile_read(c.bf, 0, 4096, buf, MAXSEG * 4096) == 0, "read");
	for (unsigned int i = 0; i < MAXSEG; i++)
		expect_page(buf + i * 4096, wbyte(i), "WRITE of 256 pages", i);
	CHECK(hostile_read(c.bf, 0, 12288, buf, 20 * 4096) == 0, "read");
	for (unsigned int i = 0; i < 20; i++)
		expect_page(buf + i * 4096, wbyte(i), "WRITE of 20 pages", i);
	CHECK(hostile_read(c.bf, 0, 14000, buf, 4096) == 0, "read");
	for (unsigned int k = 0; k < 4096; k++)
		CHECK(buf[k] == (k < 2048 ? wbyte(3) : 0),
		      "WRITE of sectors 2..5: byte %u is 0x%02x", k, buf[k]);
	fprintf(stderr, "garbage in the unneeded indirect_grefs: status %d\n",
		v->status);
	if (v->status == BLKIF_RSP_OKAY) {
		CHECK(hostile_read(c.bf, 0, 14100, buf, 20 * 4096) == 0,
		      "read");
		for (unsigned int i = 0; i < 20; i++)
			expect_page(buf + i * 4096, wbyte(100 + i),
				    "WRITE with unneeded indirect_grefs", i);
	}
	for (unsigned int i = 0; i < MAXSEG; i++) {
		expect_page(c.r[i].addr, 0, "READ of 256 pages", i);
		expect_page(c.x[i].addr, 0xEE, "a refused READ wrote", i);
	}
	free(buf);

	/* One at a time, good I/O on the same ring after each. */
	for (unsigned int i = 0; i < c.n; i++) {
		if (c.v[i].want != BLKIF_RSP_ERROR)
			continue;
		hostile_run(c.bf, 0, &c.v[i], 1);
		hostile_rw_ok(c.bf, 0, 24000 + 64 * i, 4096 * (1 + i % 20),
			      400 + i);
	}
	hostile_progress(2, "after the bad indirect requests one by one");
	hostile_no_violations(c.bf, "indirect");
	CHECK(blkfront_close(c.bf) == 0, "close: %s", blkfront_last_error());
	xen_gntshr_unshare(gs, oaddr, 1);
	fprintf(stderr,
		"hostile guest: indirect requests checked on a %s "
		"ring\n",
		abi == RING_BLKIF_ABI_X86_32 ? "x86_32" : "native");
}

static int hostile_main(void *arg)
{
	struct xen_gntshr *gs;

	CHECK(xen_gntshr_open(&gs) == 0, "gntshr");
	attack(DEV_NATIVE, RING_BLKIF_ABI_NATIVE, gs);
	attack(DEV_X86_32, RING_BLKIF_ABI_X86_32, gs);
	xen_gntshr_close(gs);
	return 0;
}

int main(void)
{
	static const char *const sets[] = { "max-indirect-segments=256", NULL };
	struct hostile h;
	char img[PATH_MAX];

	hostile_start(&h, "--single", sets);
	hostile_image(&h, "native.img", HOSTILE_DISK_BYTES, 0, img,
		      sizeof(img));
	hostile_add(&h, DEV_NATIVE, img, NULL);
	hostile_image(&h, "x86_32.img", HOSTILE_DISK_BYTES, 0, img,
		      sizeof(img));
	hostile_add(&h, DEV_X86_32, img, NULL);
	hostile_guest(&h, hostile_main, NULL);
	return hostile_finish(&h);
}
