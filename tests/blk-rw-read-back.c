// SPDX-License-Identifier: MIT
/*
 * What a guest writes through blkbackd it reads back identical, and it is
 * what lands in the backing file. A userspace blkfront writes patterns at
 * many offsets and sizes (512 B .. 1 MiB, direct and indirect requests,
 * first segments starting inside their page, user buffers at odd
 * addresses) over two queues of an order-4 ring, reads them back; a second
 * connection of the same guest with another ABI (x86_32), a one-page ring,
 * one queue and no indirect requests reads everything back again and
 * rewrites half of it. The backend must never break a blkfront invariant.
 * Finally the backing file must hold exactly the last data written, and
 * zeros everywhere else.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/blkfront.h"
#include "lib/blkscen.h"
#include "lib/check.h"

#define DISK_BYTES (64ull << 20)
#define KIB 1024u

static const size_t sizes[] = {
	512,
	1 * KIB,
	3584,
	4 * KIB,
	4 * KIB + 512,
	8 * KIB,
	44 * KIB,
	44 * KIB + 512,
	48 * KIB,
	64 * KIB,
	128 * KIB + 512,
	256 * KIB,
	512 * KIB - 512,
	1024 * KIB - 512,
	1024 * KIB,
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define NREGIONS (2 * NSIZES + 2)

struct region {
	uint64_t off; /* bytes */
	size_t len;
	uint8_t page_off;      /* first segment's first_sect */
	unsigned int misalign; /* user buffer address % 64 */
	uint32_t seed;	       /* last data written; 0: zeros */
};

static struct region regions[NREGIONS];

/* Regions spread over the disk, gaps between, first and last sectors too. */
static void plan_regions(void)
{
	uint64_t cur = 0;
	unsigned int i, k = 0;

	for (i = 0; i < 2 * NSIZES; i++) {
		struct region *r = &regions[k++];

		r->len = sizes[i % NSIZES];
		r->off = cur;
		r->page_off = (uint8_t)(i % 8);
		r->misalign = (i * 13) % 64;
		r->seed = 1;
		cur += r->len + (uint64_t)(i + 1) * 7 * 512 + (512u << 10);
	}
	CHECK(cur < DISK_BYTES - (4u << 20), "regions overflow the disk");
	/* Across the 32 MiB mark, and the very last sectors. */
	regions[k++] =
		(struct region){ DISK_BYTES / 2 - 2048, 64 * KIB, 3, 5, 1 };
	regions[k++] =
		(struct region){ DISK_BYTES - 300 * KIB, 300 * KIB, 0, 1, 1 };
	CHECK(k == NREGIONS, "plan");
	for (i = 0; i < NREGIONS; i++)
		for (unsigned int j = i + 1; j < NREGIONS; j++)
			CHECK(regions[i].off + regions[i].len <=
					      regions[j].off ||
				      regions[j].off + regions[j].len <=
					      regions[i].off,
			      "regions %u and %u overlap", i, j);
}

struct job {
	uint8_t op;
	uint8_t page_off;
	unsigned int q;
	uint64_t sector;
	uint8_t *buf;
	size_t len;
	int status;
	int done;
};

/*
 * Split a region's transfer into requests the connection can carry: at
 * most max_segments pages each, the first keeping the region's page_off.
 */
static unsigned int split(const struct blkfront_info *in, uint8_t op,
			  const struct region *r, uint8_t *buf, unsigned int q,
			  struct job *out)
{
	size_t done = 0, seg_bytes = (size_t)in->max_segments * 4096;
	unsigned int n = 0;
	uint8_t po = r->page_off;

	while (done < r->len) {
		size_t room = seg_bytes - (size_t)po * 512;
		size_t l = r->len - done < room ? r->len - done : room;

		out[n++] = (struct job){
			.op = op,
			.page_off = po,
			.q = q,
			.sector = (r->off + done) / 512,
			.buf = buf + done,
			.len = l,
		};
		done += l;
		po = 0;
	}
	return n;
}

/* Run the jobs asynchronously, keeping every queue as full as it gets. */
static void run_jobs(struct blkfront *bf, struct job *j, unsigned int n)
{
	const struct blkfront_info *in = blkfront_info(bf);
	struct blkfront_done d[64];
	unsigned int next = 0, outstanding = 0;
	char why[192];

	while (next < n || outstanding) {
		int got = 0;

		while (next < n) {
			struct blkfront_io io = {
				.op = j[next].op,
				.page_off = j[next].page_off,
				.sector = j[next].sector,
				.buf = j[next].buf,
				.len = j[next].len,
				.cookie = &j[next],
			};
			int rc = blkfront_submit(bf, j[next].q, &io);

			if (rc == -EBUSY)
				break;
			CHECK(rc >= 0, "submit %zu bytes at sector %llu: %s",
			      j[next].len, (unsigned long long)j[next].sector,
			      blkfront_last_error());
			next++;
			outstanding++;
		}
		for (unsigned int q = 0; q < in->nr_queues; q++)
			CHECK(blkfront_kick(bf, q) >= 0, "kick: %s",
			      blkfront_last_error());
		for (unsigned int q = 0; q < in->nr_queues; q++) {
			int r = blkfront_reap(bf, q, d, 64, 0);

			CHECK(r >= 0, "reap: %s", blkfront_last_error());
			for (int i = 0; i < r; i++) {
				struct job *jb = d[i].cookie;

				CHECK(jb && !jb->done, "completion for no job");
				jb->done = 1;
				jb->status = d[i].status;
				CHECK(!d[i].status,
				      "%s of %zu bytes at sector %llu "
				      "(page_off "
				      "%u): status %d (backend said op %u "
				      "status %d)",
				      jb->op == BLKFRONT_READ ? "read"
							      : "write",
				      jb->len, (unsigned long long)jb->sector,
				      jb->page_off, d[i].status, d[i].rsp_op,
				      d[i].rsp_status);
			}
			got += r;
			outstanding -= (unsigned int)r;
		}
		CHECK(blkfront_violations(bf, why, sizeof(why)) == 0,
		      "blkfront invariant broken: %s", why);
		if (!got && outstanding)
			CHECK(blkfront_poll(bf, 10000) > 0,
			      "no completion in 10 s (%u outstanding)",
			      outstanding);
	}
}

/* Write (@wseed != 0) or read and compare every region selected by @mask. */
static void pass(struct blkfront *bf, uint8_t op, uint32_t wseed,
		 unsigned int parity)
{
	const struct blkfront_info *in = blkfront_info(bf);
	static struct job jobs[NREGIONS * 128];
	uint8_t *mem[NREGIONS] = { 0 };
	unsigned int n = 0;

	for (unsigned int i = 0; i < NREGIONS; i++) {
		struct region *r = &regions[i];
		uint8_t *buf;

		if (parity < 2 && i % 2 != parity)
			continue;
		mem[i] = malloc(r->len + 64);
		CHECK(mem[i], "malloc");
		buf = mem[i] + r->misalign;
		if (op == BLKFRONT_WRITE) {
			r->seed = wseed;
			blk_fill(buf, r->len, r->seed, r->off);
		} else {
			memset(buf, 0xA5, r->len);
		}
		n += split(in, op, r, buf, i % in->nr_queues, jobs + n);
	}
	run_jobs(bf, jobs, n);
	fprintf(stderr,
		"guest: %s %u requests (%u queue(s), %u segments max)\n",
		op == BLKFRONT_WRITE ? "wrote with" : "read back with", n,
		in->nr_queues, in->max_segments);
	for (unsigned int i = 0; i < NREGIONS; i++) {
		struct region *r = &regions[i];
		long at;

		if (!mem[i])
			continue;
		if (op == BLKFRONT_READ) {
			at = blk_diff(mem[i] + r->misalign, r->len, r->seed,
				      r->off);
			CHECK(at < 0,
			      "region %u (%zu bytes at %llu, page_off %u): "
			      "byte %ld read back wrong",
			      i, r->len, (unsigned long long)r->off,
			      r->page_off, at);
		}
		free(mem[i]);
	}
}

static struct blkfront *connect_or_die(const struct blkfront_cfg *cfg)
{
	struct blkfront *bf;

	CHECK(blkfront_connect(&bf, cfg) == 0, "connect: %s",
	      blkfront_last_error());
	CHECK(blkfront_info(bf)->sectors == DISK_BYTES / 512,
	      "sectors %llu, want %llu",
	      (unsigned long long)blkfront_info(bf)->sectors, DISK_BYTES / 512);
	return bf;
}

/* Order 4, two queues, indirect: write everything, read it back. */
static int guest_first(void *arg)
{
	struct blkfront_cfg cfg;
	const struct blkfront_info *in;
	struct blkfront *bf;
	char why[192];

	blkfront_cfg_init(&cfg);
	cfg.ring_order = 4;
	cfg.nr_queues = 2;
	cfg.max_indirect = 256;
	bf = connect_or_die(&cfg);
	in = blkfront_info(bf);
	CHECK(in->ring_order == 4 && in->nr_queues == 2,
	      "negotiated order %u, %u queues", in->ring_order, in->nr_queues);
	CHECK(in->max_indirect == 256,
	      "indirect segments %u (backend said %ld)", in->max_indirect,
	      in->be_max_indirect);
	pass(bf, BLKFRONT_WRITE, 1, 2);
	pass(bf, BLKFRONT_READ, 0, 2);
	if (in->flush) {
		struct blkfront_io fl = { .op = BLKFRONT_FLUSH };

		CHECK(blkfront_sync(bf, 0, &fl, 10000) == 0, "flush: %s",
		      blkfront_last_error());
	}
	CHECK(blkfront_violations(bf, why, sizeof(why)) == 0,
	      "blkfront invariant broken: %s", why);
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	return 0;
}

/* x86_32 ABI, one page, one queue, no indirect: read, rewrite half. */
static int guest_second(void *arg)
{
	struct blkfront_cfg cfg;
	const struct blkfront_info *in;
	struct blkfront *bf;
	char why[192];

	blkfront_cfg_init(&cfg);
	cfg.abi = RING_BLKIF_ABI_X86_32;
	cfg.max_indirect = 0;
	cfg.persistent = 0;
	bf = connect_or_die(&cfg);
	in = blkfront_info(bf);
	CHECK(in->max_segments == 11 && in->ring_slots == 32,
	      "segments %u, ring slots %u", in->max_segments, in->ring_slots);
	pass(bf, BLKFRONT_READ, 0, 2);
	pass(bf, BLKFRONT_WRITE, 2, 1);
	pass(bf, BLKFRONT_READ, 0, 2);
	CHECK(blkfront_violations(bf, why, sizeof(why)) == 0,
	      "blkfront invariant broken: %s", why);
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	return 0;
}

/* The backing file: the regions' last data, zeros elsewhere. */
static void check_file(const char *img)
{
	uint8_t *disk = malloc(DISK_BYTES);
	int fd = open(img, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	CHECK(disk && fd >= 0, "open %s", img);
	while (got < DISK_BYTES) {
		ssize_t n = pread(fd, disk + got, DISK_BYTES - got, (off_t)got);

		CHECK(n > 0, "read %s", img);
		got += (size_t)n;
	}
	close(fd);
	for (unsigned int k = 0; k < NREGIONS; k++) {
		const struct region *r = &regions[k];
		long at = blk_diff(disk + r->off, r->len, r->seed, r->off);

		CHECK(at < 0,
		      "backing file: region %u (%zu bytes at %llu) differs at "
		      "byte %ld",
		      k, r->len, (unsigned long long)r->off, at);
		memset(disk + r->off, 0, r->len);
	}
	for (uint64_t a = 0; a < DISK_BYTES; a++)
		CHECK(!disk[a],
		      "backing file byte %llu is 0x%02x outside "
		      "every region written",
		      (unsigned long long)a, disk[a]);
	free(disk);
}

int main(void)
{
	struct blk_scen s;
	const char *img;
	char path[PATH_MAX];

	plan_regions();
	blk_start(&s, 1, NULL, "max-queues=2", "max-ring-page-order=4",
		  "max-indirect-segments=256", NULL);
	img = blk_image(&s, "disk.img", DISK_BYTES, 0);
	snprintf(path, sizeof(path), "%s", img);
	blk_add(&s, "vbd", 1, 51712, path, NULL);

	CHECK(blk_guest(&s, 1, guest_first, NULL) == 0,
	      "first connection (order 4, 2 queues, indirect) failed");
	/* The guest process kept its own copy: replay what it wrote. */
	for (unsigned int i = 0; i < NREGIONS; i++)
		regions[i].seed = 1;
	CHECK(blk_guest(&s, 1, guest_second, NULL) == 0,
	      "second connection (x86_32, order 0, direct only) failed");
	for (unsigned int i = 1; i < NREGIONS; i += 2)
		regions[i].seed = 2;
	check_file(path);
	return blk_pass(&s);
}
