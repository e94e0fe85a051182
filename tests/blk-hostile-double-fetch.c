// SPDX-License-Identifier: MIT
/*
 * Hostile class 1 (spec/hostile-frontend.md, XSA-155): the guest rewrites
 * requests after publishing them. A second thread of the guest flips one
 * field of every published request between two values, as fast as it can,
 * until all are answered: nr_segments 1/255 and 11/1, sector_number S and
 * S + 2^62, a segment's last_sect 7/200 and first_sect 0/4, the op
 * WRITE/READ and WRITE/200; for INDIRECT requests nr_segments 20/300, the
 * indirect_op WRITE/READ, and a descriptor's last_sect 7/9 inside the
 * indirect page. The backend must act on one copy of each request: every
 * request answered exactly once, its status and op those of one of the
 * two versions, and the disk (read from the backing file) holding exactly
 * what that version does, all of it or, refused, nothing (a READ leaves
 * the disk alone and fills the pages with the disk's bytes); the file
 * never grows. blkbackd --single, the honest guest in the same process.
 * Run under SANITIZE=1 too: a double fetch that reads past a validated
 * bound is what the sanitizers see.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/hostile.h"

#define DEV HOSTILE_DEVID
#define DISK (256ull << 20)
#define K 16u /* requests per round */
#define ROUNDS 60u
#define REGION 256ull /* sectors per request */
#define MAXPG 20u
#define IND_SEGS 20u

typedef struct ring_blkif_x86_64_request rq64;
typedef struct ring_blkif_x86_64_request_indirect irq64;

enum mode {
	M_NSEG,
	M_NSEG11,
	M_SECTOR,
	M_LAST,
	M_FIRST,
	M_OP,
	M_OP_UNKNOWN,
	M_IND_NSEG,
	M_IND_OP,
	M_IND_DESC,
	M_NR
};

static const char *const mode_name[M_NR] = {
	"nr_segments 1/255",	  "nr_segments 11/1",
	"sector S/S+2^62",	  "last_sect 7/200",
	"first_sect 0/4",	  "op WRITE/READ",
	"op WRITE/200",		  "indirect nr_segments 20/300",
	"indirect_op WRITE/READ", "descriptor last_sect 7/9",
};

/* One field the flipper toggles. */
struct flip {
	unsigned char *at;
	unsigned int size; /* 1, 2 or 8 */
	uint64_t a, b;	   /* as published, the other one */
};

static struct flip flips[K];
static volatile int flipping;
static unsigned long nflips;

static void put_val(unsigned char *at, unsigned int size, uint64_t v)
{
	switch (size) {
	case 1:
		__atomic_store_n(at, (uint8_t)v, __ATOMIC_RELAXED);
		break;
	case 2:
		__atomic_store_n((uint16_t *)at, (uint16_t)v, __ATOMIC_RELAXED);
		break;
	default:
		__atomic_store_n((uint64_t *)at, v, __ATOMIC_RELAXED);
		break;
	}
}

static void *flipper(void *arg)
{
	while (__atomic_load_n(&flipping, __ATOMIC_ACQUIRE)) {
		for (unsigned int k = 0; k < K; k++)
			put_val(flips[k].at, flips[k].size, flips[k].b);
		for (unsigned int k = 0; k < K; k++)
			put_val(flips[k].at, flips[k].size, flips[k].a);
		nflips++;
	}
	return NULL;
}

struct req {
	enum mode mode;
	uint64_t sector;
	unsigned int npg;
	struct hostile_page *pg; /* MAXPG data pages */
	struct hostile_page *ip; /* the indirect page */
	int answered;
	uint8_t op;
	int16_t status;
};

static uint8_t fill(unsigned int r, unsigned int k, unsigned int p)
{
	/* Never 0 (the disk's own bytes), never equal for p and p + 1. */
	return (uint8_t)(1 + (r * 37 + k * 11 + p) % 255);
}

/* Build request @k of round @r, put it, and say which field flips. */
static void put(struct blkfront *bf, struct req *q, unsigned int r,
		unsigned int k)
{
	struct ring_blkif_front *rf = blkfront_ring(bf, 0);
	struct ring_blkif_req x;
	uint32_t g[MAXPG];
	unsigned char *slot;
	int ind;

	q->mode = (enum mode)((k + r) % M_NR);
	q->sector = 2048 + (uint64_t)(r * K + k) * REGION;
	q->answered = 0;
	ind = q->mode >= M_IND_NSEG;
	q->npg = ind ? IND_SEGS : BLKIF_MAX_SEGMENTS_PER_REQUEST;
	for (unsigned int p = 0; p < MAXPG; p++) {
		memset(q->pg[p].addr, fill(r, k, p), 4096);
		g[p] = q->pg[p].gref;
	}
	if (ind) {
		struct blkif_request_segment *d = (void *)q->ip->addr;

		memset(q->ip->addr, 0xCD, 4096);
		for (unsigned int i = 0; i < IND_SEGS; i++)
			d[i] = (struct blkif_request_segment){ .gref = g[i],
							       .first_sect = 0,
							       .last_sect = 7 };
		memset(&x, 0, sizeof(x));
		x.op = BLKIF_OP_INDIRECT;
		x.indirect_op = BLKIF_OP_WRITE;
		x.nr_segments = IND_SEGS;
		x.sector_number = q->sector;
		x.indirect_grefs[0] = q->ip->gref;
	} else {
		hostile_req(&x, BLKIF_OP_WRITE, q->sector,
			    q->mode == M_NSEG ? 1 : q->npg, g, q->npg, 0, 7);
	}
	/* The response's first bytes overlay op/nr_segments: match on the
	 * id's upper half, which nothing flips. */
	x.id = (uint64_t)(k + 1) << 32;
	slot = hostile_ring_slot(rf, hostile_ring_put(rf, &x));

	flips[k].size = 1;
	switch (q->mode) {
	case M_NSEG:
		flips[k].at = slot + offsetof(rq64, nr_segments);
		flips[k].a = 1;
		flips[k].b = 255;
		break;
	case M_NSEG11:
		flips[k].at = slot + offsetof(rq64, nr_segments);
		flips[k].a = 11;
		flips[k].b = 1;
		break;
	case M_SECTOR:
		/* Differs in the top byte only: any mix is one or the other. */
		flips[k].at = slot + offsetof(rq64, sector_number);
		flips[k].size = 8;
		flips[k].a = q->sector;
		flips[k].b = q->sector | (1ull << 62);
		break;
	case M_LAST:
		flips[k].at = slot + offsetof(rq64, seg[5].last_sect);
		flips[k].a = 7;
		flips[k].b = 200;
		break;
	case M_FIRST:
		flips[k].at = slot + offsetof(rq64, seg[3].first_sect);
		flips[k].a = 0;
		flips[k].b = 4;
		break;
	case M_OP:
		flips[k].at = slot + offsetof(rq64, operation);
		flips[k].a = BLKIF_OP_WRITE;
		flips[k].b = BLKIF_OP_READ;
		break;
	case M_OP_UNKNOWN:
		flips[k].at = slot + offsetof(rq64, operation);
		flips[k].a = BLKIF_OP_WRITE;
		flips[k].b = 200;
		break;
	case M_IND_NSEG:
		flips[k].at = slot + offsetof(irq64, nr_segments);
		flips[k].size = 2;
		flips[k].a = IND_SEGS;
		flips[k].b = 300;
		break;
	case M_IND_OP:
		flips[k].at = slot + offsetof(irq64, indirect_op);
		flips[k].a = BLKIF_OP_WRITE;
		flips[k].b = BLKIF_OP_READ;
		break;
	default:
		flips[k].at = q->ip->addr +
			      7 * sizeof(struct blkif_request_segment) +
			      offsetof(struct blkif_request_segment, last_sect);
		flips[k].a = 7;
		flips[k].b = 9;
		break;
	}
}

static void pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got,
				  (off_t)(off + got));

		CHECK(n > 0, "read the backing file");
		got += (size_t)n;
	}
}

/*
 * What request @q left on disk (@disk: its region) and in its pages,
 * against what its answer says it did. Returns the outcome, for counts.
 */
static int verify(const struct req *q, unsigned int r, unsigned int k,
		  const unsigned char *disk)
{
	size_t len = REGION * 512, whole = (size_t)q->npg * 4096;
	int write = q->op == BLKIF_OP_WRITE && q->status == BLKIF_RSP_OKAY;
	int read = q->op == BLKIF_OP_READ && q->status == BLKIF_RSP_OKAY;
	size_t wrote = 0;
	int variant = 0;

	/* Status and op of one of the two versions. */
	switch (q->mode) {
	case M_NSEG:
	case M_SECTOR:
	case M_LAST:
	case M_IND_NSEG:
	case M_IND_DESC:
		CHECK(q->op == BLKIF_OP_WRITE && (q->status == BLKIF_RSP_OKAY ||
						  q->status == BLKIF_RSP_ERROR),
		      "%s: op %u status %d", mode_name[q->mode], q->op,
		      q->status);
		break;
	case M_NSEG11:
	case M_FIRST:
		CHECK(q->op == BLKIF_OP_WRITE && q->status == BLKIF_RSP_OKAY,
		      "%s (both valid): op %u status %d", mode_name[q->mode],
		      q->op, q->status);
		break;
	case M_OP:
	case M_IND_OP:
		CHECK((q->op == BLKIF_OP_WRITE || q->op == BLKIF_OP_READ) &&
			      q->status == BLKIF_RSP_OKAY,
		      "%s: op %u status %d", mode_name[q->mode], q->op,
		      q->status);
		break;
	default:
		CHECK((q->op == BLKIF_OP_WRITE && q->status == 0) ||
			      (q->op == 200 &&
			       q->status == BLKIF_RSP_EOPNOTSUPP),
		      "%s: op %u status %d", mode_name[q->mode], q->op,
		      q->status);
		break;
	}

	if (write) {
		/* Which version ran decides how much, and from where. */
		if (q->mode == M_NSEG) {
			wrote = 4096;
		} else if (q->mode == M_NSEG11 && disk[4096] == 0 &&
			   disk[4095] == fill(r, k, 0)) {
			wrote = 4096;
			variant = 1;
		} else if (q->mode == M_FIRST &&
			   disk[3 * 4096] == fill(r, k, 3) &&
			   disk[3 * 4096 + 2047] == fill(r, k, 3) &&
			   disk[3 * 4096 + 2048] == fill(r, k, 4)) {
			/* seg 3 was sectors 4..7: 2 KiB of page 3. */
			for (size_t b = 0; b < whole - 2048; b++) {
				unsigned int p = b < 3 * 4096 ? b / 4096
						 : b < 3 * 4096 + 2048
							 ? 3
							 : (b + 2048) / 4096;

				CHECK(disk[b] == fill(r, k, p),
				      "%s, short version: byte %zu is 0x%02x",
				      mode_name[q->mode], b, disk[b]);
			}
			wrote = whole - 2048;
			variant = 1;
			goto rest;
		} else {
			wrote = whole;
		}
		for (size_t b = 0; b < wrote; b++)
			CHECK(disk[b] == fill(r, k, (unsigned int)(b / 4096)),
			      "%s: answered OKAY, byte %zu on disk is 0x%02x, "
			      "want 0x%02x (a mix of two versions?)",
			      mode_name[q->mode], b, disk[b],
			      fill(r, k, (unsigned int)(b / 4096)));
	}
rest:
	for (size_t b = wrote; b < len; b++)
		CHECK(!disk[b], "%s: %s, byte %zu of its region is 0x%02x",
		      mode_name[q->mode], write ? "written" : "not written", b,
		      disk[b]);
	if (read) {
		/* The READ version: the pages got the (zero) disk bytes. */
		for (unsigned int p = 0; p < q->npg; p++)
			for (size_t b = 0; b < 4096; b++)
				CHECK(!q->pg[p].addr[b],
				      "%s: READ version, "
				      "page %u byte %zu is 0x%02x",
				      mode_name[q->mode], p, b,
				      q->pg[p].addr[b]);
		variant = 1;
	}
	if (q->status != BLKIF_RSP_OKAY)
		variant = 1;
	return variant;
}

struct ctx {
	const char *img;
};

static int hostile_main(void *arg)
{
	const struct ctx *c = arg;
	static struct hostile_page pages[K][MAXPG], ipages[K];
	static struct req q[K];
	static unsigned char disk[REGION * 512];
	unsigned long other[M_NR] = { 0 }, total[M_NR] = { 0 };
	struct blkfront *bf = hostile_connect(DEV, NULL);
	struct ring_blkif_front *rf = blkfront_ring(bf, 0);
	struct ring_blkif_rsp rsp[K], extra;
	struct stat st;
	pthread_t tid;
	int fd;

	fd = open(c->img, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open %s", c->img);
	for (unsigned int k = 0; k < K; k++) {
		for (unsigned int p = 0; p < MAXPG; p++)
			hostile_page(bf, 0, &pages[k][p]);
		hostile_page(bf, 0, &ipages[k]);
		q[k].pg = pages[k];
		q[k].ip = &ipages[k];
	}
	for (unsigned int r = 0; r < ROUNDS; r++) {
		unsigned int got;

		for (unsigned int k = 0; k < K; k++)
			put(bf, &q[k], r, k);
		__atomic_store_n(&flipping, 1, __ATOMIC_RELEASE);
		CHECK(pthread_create(&tid, NULL, flipper, NULL) == 0, "thread");
		hostile_ring_push(bf, 0);
		got = hostile_ring_wait(rf, rsp, K, 20000);
		__atomic_store_n(&flipping, 0, __ATOMIC_RELEASE);
		pthread_join(tid, NULL);
		CHECK(got == K, "round %u: %u of %u answered", r, got, K);
		CHECK(hostile_ring_wait(rf, &extra, 1, 50) == 0,
		      "more responses than requests");
		for (unsigned int i = 0; i < K; i++) {
			unsigned int k = (unsigned int)(rsp[i].id >> 32) - 1;

			CHECK(k < K, "response id 0x%llx is none of ours",
			      (unsigned long long)rsp[i].id);
			CHECK(!q[k].answered, "request %u answered twice", k);
			q[k].answered = 1;
			q[k].op = rsp[i].op;
			q[k].status = rsp[i].status;
		}
		for (unsigned int k = 0; k < K; k++) {
			pread_all(fd, disk, sizeof(disk), q[k].sector * 512);
			other[q[k].mode] += verify(&q[k], r, k, disk);
			total[q[k].mode]++;
		}
		if (r % 20 == 19)
			hostile_progress(1, "while requests are rewritten");
	}
	CHECK(fstat(fd, &st) == 0 && (uint64_t)st.st_size == DISK,
	      "the backing file is %lld bytes, was %llu", (long long)st.st_size,
	      DISK);
	close(fd);
	for (unsigned int m = 0; m < M_NR; m++)
		fprintf(stderr,
			"  %-30s %2lu of %2lu ran the other version "
			"or were refused\n",
			mode_name[m], other[m], total[m]);
	fprintf(stderr, "hostile guest: %lu flips over %u rounds\n", nflips,
		ROUNDS);
	/* The ring is still fine for honest use. */
	hostile_rw_ok(bf, 0, 64, 65536, 5);
	hostile_no_violations(bf, "double fetch");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	return 0;
}

int main(void)
{
	struct hostile h;
	char img[PATH_MAX];
	struct ctx c = { img };

	hostile_start(&h, "--single", NULL);
	hostile_image(&h, "flip.img", DISK, 0, img, sizeof(img));
	hostile_add(&h, DEV, img, NULL);
	hostile_guest(&h, hostile_main, &c);
	return hostile_finish(&h);
}
