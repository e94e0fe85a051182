// SPDX-License-Identifier: MIT
/*
 * Hostile class 10 (spec/hostile-frontend.md): requests whose pages the
 * backend cannot or may not touch. A grant reference past the table, one
 * never granted (and the reserved ref 0), a page granted to the other
 * guest instead of Dom0, a read-only grant given for a READ (the backend
 * would have to write it), one bad page among eleven good ones, and pages
 * revoked by the guest (blkfront_page_revoke) before the request is seen
 * and while it is in flight. Each such request is answered, once, with
 * BLKIF_RSP_ERROR (a revoke that loses the race may also see OKAY), never
 * a crash; a refused WRITE writes nothing, a refused READ leaves the
 * read-only page as it was; a read-only grant given for a WRITE is fine.
 * Good requests on the same ring keep working. Once with persistent grants
 * negotiated (blkbackd persistent=1, the frontend feature-persistent=1)
 * and once without. blkbackd runs as the supervisor, the honest guest in
 * another worker.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xen.h"
#include "lib/check.h"
#include "lib/hostile.h"

#define DEV_PERSISTENT HOSTILE_DEVID
#define DEV_COPY (HOSTILE_DEVID + 16)
#define BAD_GREF 0xFFFFFFF0u /* past any grant table */
#define UNGRANTED 16000u     /* inside xensim's table, never given */
#define BAD_REGION 4096ull   /* sectors refused WRITEs aim at */
#define FULL 11u
#define JOB_BYTES (FULL * 4096)

static struct xen_gntshr *gs;

struct job {
	uint8_t op;
	uint64_t sector;
	unsigned char *buf;
	int id;
	int done;
	int status;
	int revoked;
};

static void expect_region(struct blkfront *bf, uint64_t sector, size_t len,
			  int zero, uint32_t seed, const char *what)
{
	unsigned char *buf = malloc(len);

	CHECK(buf, "malloc");
	CHECK(hostile_read(bf, 0, sector, buf, len) == 0, "read back");
	for (size_t i = 0; i < len; i++) {
		uint8_t want = zero ? 0 : blk_pattern(seed, sector * 512 + i);

		CHECK(buf[i] == want,
		      "%s: byte %zu at sector %llu is 0x%02x, "
		      "want 0x%02x",
		      what, i, (unsigned long long)sector, buf[i], want);
	}
	free(buf);
}

/* Requests on pages the backend cannot use: all refused, in one batch. */
static void bad_pages(struct blkfront *bf)
{
	struct hostile_page w, r, z;
	struct hostile_req v[32];
	uint32_t ro, other, g[FULL];
	unsigned char *roaddr, *oaddr, *buf;
	unsigned int n = 0;
	void *a;

	hostile_page(bf, 0, &w);
	hostile_page(bf, 0, &r);
	hostile_page(bf, 0, &z);
	memset(w.addr, 0x51, 4096);
	memset(r.addr, 0xEE, 4096);
	CHECK(xen_gntshr_share(gs, 0, 1, 0, &ro, &a) == 0,
	      "share a page read-only with Dom0");
	roaddr = a;
	memset(roaddr, 0x52, 4096);
	CHECK(xen_gntshr_share(gs, HOSTILE_HONEST, 1, 1, &other, &a) == 0,
	      "share a page with domain %u", HOSTILE_HONEST);
	oaddr = a;
	memset(oaddr, 0x53, 4096);

#define ADD(want_, what_, op_, sector_, gref_, nseg_)                          \
	do {                                                                   \
		uint32_t gg_ = (gref_);                                        \
		v[n] = (struct hostile_req){ .want = (want_),                  \
					     .what = (what_) };                \
		hostile_req(&v[n].r, (op_), (sector_), (nseg_), &gg_, 1, 0,    \
			    7);                                                \
		n++;                                                           \
	} while (0)
	ADD(BLKIF_RSP_ERROR, "READ, gref past the table", BLKIF_OP_READ, 0,
	    BAD_GREF, 1);
	ADD(BLKIF_RSP_ERROR, "WRITE, gref past the table", BLKIF_OP_WRITE,
	    BAD_REGION, BAD_GREF, 1);
	ADD(BLKIF_RSP_ERROR, "READ, gref never granted", BLKIF_OP_READ, 0,
	    UNGRANTED, 1);
	ADD(BLKIF_RSP_ERROR, "WRITE, gref never granted", BLKIF_OP_WRITE,
	    BAD_REGION + 8, UNGRANTED, 1);
	ADD(BLKIF_RSP_ERROR, "READ, the reserved gref 0", BLKIF_OP_READ, 0, 0,
	    1);
	ADD(BLKIF_RSP_ERROR, "READ, page granted to another domain",
	    BLKIF_OP_READ, 0, other, 1);
	ADD(BLKIF_RSP_ERROR, "WRITE, page granted to another domain",
	    BLKIF_OP_WRITE, BAD_REGION + 16, other, 1);
	ADD(BLKIF_RSP_ERROR, "READ into a read-only grant", BLKIF_OP_READ, 0,
	    ro, 1);
	ADD(BLKIF_RSP_OKAY, "WRITE from a read-only grant", BLKIF_OP_WRITE,
	    8192, ro, 1);
	ADD(BLKIF_RSP_OKAY, "WRITE of a good page", BLKIF_OP_WRITE, 8200,
	    w.gref, 1);
	ADD(BLKIF_RSP_OKAY, "READ into a good page", BLKIF_OP_READ, 8300,
	    r.gref, 1);
	/* Eleven pages, one bad: nothing of it may be written. */
	for (unsigned int i = 0; i < FULL; i++)
		g[i] = w.gref;
	g[3] = BAD_GREF;
	v[n] = (struct hostile_req){ .want = BLKIF_RSP_ERROR,
				     .what = "WRITE, page 4 of 11 bad" };
	hostile_req(&v[n++].r, BLKIF_OP_WRITE, BAD_REGION + 64, FULL, g, FULL,
		    0, 7);
	g[3] = w.gref;
	g[7] = other;
	v[n] = (struct hostile_req){ .want = BLKIF_RSP_ERROR,
				     .what = "WRITE, page 8 of 11 another "
					     "domain's" };
	hostile_req(&v[n++].r, BLKIF_OP_WRITE, BAD_REGION + 160, FULL, g, FULL,
		    0, 7);
	/* Its good pages may get their data: pages nobody looks at. */
	for (unsigned int i = 0; i < FULL; i++)
		g[i] = z.gref;
	g[7] = ro;
	v[n] = (struct hostile_req){ .want = BLKIF_RSP_ERROR,
				     .what = "READ, page 8 of 11 read-only" };
	hostile_req(&v[n++].r, BLKIF_OP_READ, 0, FULL, g, FULL, 0, 7);
#undef ADD
	/* Twice: with persistent grants the second time may hit a cache. */
	hostile_run(bf, 0, v, n);
	hostile_run(bf, 0, v, n);

	expect_region(bf, BAD_REGION, 256 * 512, 1, 0,
		      "where refused WRITEs aimed");
	buf = malloc(8192);
	CHECK(buf, "malloc");
	CHECK(hostile_read(bf, 0, 8192, buf, 8192) == 0, "read");
	for (unsigned int i = 0; i < 8192; i++)
		CHECK(buf[i] == (i < 4096 ? 0x52 : 0x51),
		      "WRITE from the read-only / good page: byte %u is 0x%02x",
		      i, buf[i]);
	free(buf);
	for (unsigned int i = 0; i < 4096; i++) {
		CHECK(roaddr[i] == 0x52, "the read-only page was written");
		CHECK(oaddr[i] == 0x53, "another domain's page was written");
		CHECK(r.addr[i] == 0, "READ into a good page: byte %u", i);
	}
	xen_gntshr_unshare(gs, roaddr, 1);
	xen_gntshr_unshare(gs, oaddr, 1);
}

/*
 * @n jobs of 11 pages, READs and WRITEs alternating, at @base + 128 * i;
 * the pages of every job with @mask bit i set are revoked, before the
 * kick if @early, else right after it while the backend works.
 */
static void revoke_run(struct blkfront *bf, unsigned int n, uint64_t base,
		       uint32_t mask, int early, int persistent)
{
	struct job *j = calloc(n, sizeof(*j));
	struct blkfront_done d[32];
	unsigned int left = n, refused = 0;

	CHECK(j, "calloc");
	for (unsigned int i = 0; i < n; i++) {
		struct blkfront_io io;

		j[i].op = i % 2 ? BLKFRONT_WRITE : BLKFRONT_READ;
		j[i].sector = base + 128 * i;
		j[i].buf = malloc(JOB_BYTES);
		CHECK(j[i].buf, "malloc");
		if (j[i].op == BLKFRONT_WRITE)
			blk_fill(j[i].buf, JOB_BYTES, 60 + i,
				 j[i].sector * 512);
		else
			memset(j[i].buf, 0xEE, JOB_BYTES);
		io = (struct blkfront_io){ .op = j[i].op,
					   .sector = j[i].sector,
					   .buf = j[i].buf,
					   .len = JOB_BYTES,
					   .cookie = &j[i] };
		j[i].id = blkfront_submit(bf, 0, &io);
		CHECK(j[i].id >= 0, "submit: %s", blkfront_last_error());
	}
	if (!early)
		CHECK(blkfront_kick(bf, 0) >= 0, "kick");
	for (unsigned int i = 0; i < n; i++) {
		int idx[FULL], np;

		if (!(mask & (1u << i)))
			continue;
		np = blkfront_req_pages(bf, 0, (uint64_t)j[i].id, idx, FULL);
		if (np < 0 && !early)
			continue; /* answered already */
		CHECK(np == (int)FULL, "pages of request %d: %d", j[i].id, np);
		/* Early: one page is enough to fail it; late: all of them. */
		for (int k = early ? 5 : 0; k < (early ? 6 : np); k++)
			CHECK(blkfront_page_revoke(bf, 0, idx[k]) == 0,
			      "revoke: %s", blkfront_last_error());
		j[i].revoked = 1;
	}
	if (early)
		CHECK(blkfront_kick(bf, 0) >= 0, "kick");
	while (left) {
		int got = blkfront_reap(bf, 0, d, 32, 10000);

		CHECK(got > 0, "reap: %d (%s), %u unanswered", got,
		      blkfront_last_error(), left);
		for (int k = 0; k < got; k++) {
			struct job *jb = d[k].cookie;

			CHECK(jb >= j && jb < j + n && !jb->done,
			      "completion twice or for nothing");
			jb->done = 1;
			jb->status = d[k].status;
			CHECK(!d[k].status || d[k].status == -EIO, "status %d",
			      d[k].status);
			left--;
		}
	}
	hostile_no_violations(bf, "revoked pages");
	for (unsigned int i = 0; i < n; i++) {
		uint64_t at = j[i].sector * 512;

		if (!j[i].revoked) {
			CHECK(!j[i].status, "job %u (not revoked): status %d",
			      i, j[i].status);
		} else if (early && !persistent) {
			/* Grant copies only: a revoked page cannot be
			 * copied (a persistent mapping would outlive it). */
			CHECK(j[i].status == -EIO,
			      "job %u revoked before the kick: status %d", i,
			      j[i].status);
		}
		if (j[i].status)
			refused++;
		if (j[i].op == BLKFRONT_WRITE) {
			/* All of it or, refused, nothing of it. */
			expect_region(bf, j[i].sector, JOB_BYTES, j[i].status,
				      60 + i,
				      j[i].status ? "a refused WRITE"
						  : "an answered WRITE");
		} else if (!j[i].status && !j[i].revoked) {
			/* Never written: a READ that went through has zeros
			 * (a revoked page keeps what it had). */
			for (size_t k = 0; k < JOB_BYTES; k++)
				CHECK(!j[i].buf[k],
				      "READ at %llu: byte %zu "
				      "is 0x%02x",
				      (unsigned long long)at, k, j[i].buf[k]);
		}
		free(j[i].buf);
	}
	free(j);
	fprintf(stderr, "  revoked %s: %u of %u requests refused\n",
		early ? "before the kick" : "in flight", refused, n);
}

static void attack(unsigned int devid, int persistent)
{
	struct blkfront_cfg cfg;
	struct blkfront *bf;

	blkfront_cfg_init(&cfg);
	cfg.persistent = persistent;
	bf = hostile_connect(devid, &cfg);
	CHECK(blkfront_info(bf)->persistent == persistent,
	      "persistent grants %d, want %d", blkfront_info(bf)->persistent,
	      persistent);
	fprintf(stderr, "hostile guest: persistent grants %s\n",
		persistent ? "on" : "off");
	hostile_rw_ok(bf, 0, 1024, 65536, 1);
	bad_pages(bf);
	hostile_rw_ok(bf, 0, 1024, 65536, 2);
	hostile_progress(1, "after bad grants");
	revoke_run(bf, 8, 12288, 0x5A, 1, persistent);
	hostile_rw_ok(bf, 0, 1024, 65536, 3);
	for (unsigned int round = 0; round < 4; round++) {
		revoke_run(bf, 16, 16384 + 2048 * round, 0xAAAA >> (round & 1),
			   0, persistent);
		hostile_rw_ok(bf, 0, 1024, 65536, 4 + round);
	}
	hostile_progress(2, "after revoked pages");
	hostile_no_violations(bf, "grant failures");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
}

static int hostile_main(void *arg)
{
	CHECK(xen_gntshr_open(&gs) == 0, "gntshr");
	attack(DEV_PERSISTENT, 1);
	attack(DEV_COPY, 0);
	xen_gntshr_close(gs);
	return 0;
}

int main(void)
{
	static const char *const sets[] = { "persistent=1", NULL };
	struct hostile h;
	char img[PATH_MAX];

	hostile_start(&h, NULL, sets);
	hostile_image(&h, "persistent.img", HOSTILE_DISK_BYTES, 0, img,
		      sizeof(img));
	hostile_add(&h, DEV_PERSISTENT, img, NULL);
	hostile_image(&h, "copy.img", HOSTILE_DISK_BYTES, 0, img, sizeof(img));
	hostile_add(&h, DEV_COPY, img, NULL);
	hostile_guest(&h, hostile_main, NULL);
	return hostile_finish(&h);
}
