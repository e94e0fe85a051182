// SPDX-License-Identifier: MIT
/*
 * BLKIF_OP_WRITE_BARRIER orders the ring: every request before it is
 * complete before the barrier starts, and no request after it starts
 * before the barrier is complete. A guest puts, in one kick, several
 * overlapping writes of the same sectors (large indirect ones first, so
 * they are still running if a backend let the barrier overtake them), a
 * barrier with data on those sectors, and one request after it: a read,
 * which must return exactly the barrier's data, or a write, whose data
 * must be what stays. The responses must come in that order too (all the
 * writes before, the barrier, the request after). Other rounds put a
 * barrier without data between 1 MiB writes of separate areas and reads
 * of them: the reads must see every write. FLUSH_DISKCACHE with and
 * without data, and a barrier without data, are answered OKAY with their
 * own op. The backing file holds the last write; no blkfront invariant is
 * ever broken.
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

#define DISK_BYTES (64ull << 20)
#define KIB 1024u
/* The barrier's sectors (11 pages: a direct request's most)... */
#define R_OFF (2ull << 20)
#define R_LEN (44 * KIB)
/* ...inside a window the large earlier writes cover. */
#define W_OFF (R_OFF - 128 * KIB)
#define W_LEN (256 * KIB)
#define ROUNDS 24
#define NPRE 5
/*
 * Separate 1 MiB areas for the barrier without data, fresh ones (holes in
 * the sparse file) each round: writes that allocate cannot be issued
 * inline, so they run in the kernel's workers, where a flush can overtake
 * them if the backend lets it.
 */
#define MIB (1024 * KIB)
#define BIG_OFF(r) ((8ull << 20) + (uint64_t)(r) / 2 * NBIG * MIB)
#define NBIG 4

static const char *img;
static uint32_t final_seed; /* what R holds at the end */

static uint8_t wbuf[NPRE][W_LEN], bbuf[R_LEN], abuf[R_LEN];

/*
 * One round: NPRE writes, the barrier (seed @bseed), then a read of R
 * (@after_write 0) or a write of R (seed @aseed), all in one kick.
 */
static void round_trip(struct blkfront *bf, unsigned int r, int after_write,
		       uint32_t bseed, uint32_t aseed)
{
	struct blkfront_io io[NPRE + 2];
	struct blkfront_done d[NPRE + 2];
	unsigned int n = 0, got = 0, pos[NPRE + 2];
	int ids[NPRE + 2];

	/* Large writes of the whole window and small ones of R, mixed. */
	for (unsigned int i = 0; i < NPRE; i++) {
		int big = i % 2 == 0;
		uint64_t off = big ? W_OFF : R_OFF;
		size_t len = big ? W_LEN : R_LEN;
		uint32_t seed = 1000 * (r + 1) + i + 1;

		blk_fill(wbuf[i], len, seed, off);
		io[n++] = (struct blkfront_io){
			.op = BLKFRONT_WRITE,
			.sector = off / 512,
			.buf = wbuf[i],
			.len = len,
		};
	}
	blk_fill(bbuf, R_LEN, bseed, R_OFF);
	io[n++] = (struct blkfront_io){
		.op = BLKFRONT_BARRIER,
		.sector = R_OFF / 512,
		.buf = bbuf,
		.len = R_LEN,
	};
	if (after_write)
		blk_fill(abuf, R_LEN, aseed, R_OFF);
	else
		memset(abuf, 0xA5, R_LEN);
	io[n++] = (struct blkfront_io){
		.op = after_write ? BLKFRONT_WRITE : BLKFRONT_READ,
		.sector = R_OFF / 512,
		.buf = abuf,
		.len = R_LEN,
	};
	for (unsigned int i = 0; i < n; i++) {
		io[i].cookie = (void *)(uintptr_t)i;
		ids[i] = blkfront_submit(bf, 0, &io[i]);
		CHECK(ids[i] >= 0, "round %u: submit %u: %s", r, i,
		      blkfront_last_error());
		pos[i] = ~0u;
	}
	CHECK(blkfront_kick(bf, 0) >= 0, "kick: %s", blkfront_last_error());
	while (got < n) {
		unsigned int k = blk2_reap(bf, 0, d + got, n - got, 10000);

		CHECK(k > 0, "round %u: %u of %u requests answered in 10 s", r,
		      got, n);
		got += k;
	}
	blk2_no_violations(bf, "barrier round");

	/* Everything answered once, OKAY, with its own op, and in order. */
	for (unsigned int i = 0; i < n; i++) {
		unsigned int c = (unsigned int)(uintptr_t)d[i].cookie;

		CHECK(c < n && pos[c] == ~0u, "round %u: completion %u twice",
		      r, c);
		pos[c] = i;
		CHECK(d[i].status == 0,
		      "round %u: request %u (op %u) failed: backend said op %u "
		      "status %d",
		      r, c, io[c].op, d[i].rsp_op, d[i].rsp_status);
	}
	CHECK(d[pos[NPRE]].rsp_op == BLKIF_OP_WRITE_BARRIER,
	      "barrier answered with op %u", d[pos[NPRE]].rsp_op);
	for (unsigned int i = 0; i < NPRE; i++)
		CHECK(pos[i] < pos[NPRE],
		      "round %u: write %u before the barrier completed after "
		      "it (position %u, barrier %u)",
		      r, i, pos[i], pos[NPRE]);
	CHECK(pos[NPRE + 1] > pos[NPRE],
	      "round %u: the %s after the barrier completed before it", r,
	      after_write ? "write" : "read");

	if (!after_write) {
		long at = blk_diff(abuf, R_LEN, bseed, R_OFF);

		CHECK(at < 0,
		      "round %u: the read after the barrier does not see the "
		      "barrier's data at byte %ld (an earlier write landed "
		      "after the barrier, or the read ran before it)",
		      r, at);
		final_seed = bseed;
	} else {
		struct blkfront_io rd = {
			.op = BLKFRONT_READ,
			.sector = R_OFF / 512,
			.buf = abuf,
			.len = R_LEN,
		};
		long at;

		CHECK(blk2_do(bf, 0, &rd, &d[0]) == 0, "read back R");
		at = blk_diff(abuf, R_LEN, aseed, R_OFF);
		CHECK(at < 0,
		      "round %u: the write after the barrier is not what "
		      "stays (byte %ld differs): the barrier ran after it",
		      r, at);
		final_seed = aseed;
	}
}

/*
 * A barrier without data after large writes of separate areas, then reads
 * of all of them: the reads must see every write (they all completed
 * before the barrier, which completed before the reads started).
 */
static void round_plain(struct blkfront *bf, unsigned int r)
{
	static uint8_t big[2 * NBIG][MIB];
	struct blkfront_io io[2 * NBIG + 1];
	struct blkfront_done d[2 * NBIG + 1];
	unsigned int n = 0, got = 0, pos[2 * NBIG + 1];

	for (unsigned int i = 0; i < NBIG; i++) {
		uint64_t off = BIG_OFF(r) + (uint64_t)i * MIB;

		blk_fill(big[i], MIB, 3000 + 10 * r + i, off);
		io[n++] = (struct blkfront_io){
			.op = BLKFRONT_WRITE,
			.sector = off / 512,
			.buf = big[i],
			.len = MIB,
		};
	}
	io[n++] = (struct blkfront_io){ .op = BLKFRONT_BARRIER };
	for (unsigned int i = 0; i < NBIG; i++) {
		memset(big[NBIG + i], 0xA5, MIB);
		io[n++] = (struct blkfront_io){
			.op = BLKFRONT_READ,
			.sector = (BIG_OFF(r) + (uint64_t)i * MIB) / 512,
			.buf = big[NBIG + i],
			.len = MIB,
		};
	}
	for (unsigned int i = 0; i < n; i++) {
		io[i].cookie = (void *)(uintptr_t)i;
		CHECK(blkfront_submit(bf, 0, &io[i]) >= 0,
		      "round %u: submit %u: %s", r, i, blkfront_last_error());
		pos[i] = ~0u;
	}
	CHECK(blkfront_kick(bf, 0) >= 0, "kick: %s", blkfront_last_error());
	while (got < n) {
		unsigned int k = blk2_reap(bf, 0, d + got, n - got, 10000);

		CHECK(k > 0, "round %u: %u of %u requests answered in 10 s", r,
		      got, n);
		got += k;
	}
	blk2_no_violations(bf, "plain barrier round");
	for (unsigned int i = 0; i < n; i++) {
		unsigned int c = (unsigned int)(uintptr_t)d[i].cookie;

		CHECK(c < n && pos[c] == ~0u, "round %u: completion %u twice",
		      r, c);
		pos[c] = i;
		CHECK(d[i].status == 0,
		      "round %u: request %u (op %u) failed: backend said op %u "
		      "status %d",
		      r, c, io[c].op, d[i].rsp_op, d[i].rsp_status);
	}
	CHECK(d[pos[NBIG]].rsp_op == BLKIF_OP_WRITE_BARRIER,
	      "barrier answered with op %u", d[pos[NBIG]].rsp_op);
	for (unsigned int i = 0; i < NBIG; i++) {
		long at;

		CHECK(pos[i] < pos[NBIG],
		      "round %u: 1 MiB write %u before the barrier completed "
		      "after it",
		      r, i);
		CHECK(pos[NBIG + 1 + i] > pos[NBIG],
		      "round %u: read %u after the barrier completed before it",
		      r, i);
		at = blk_diff(big[NBIG + i], MIB, 3000 + 10 * r + i,
			      BIG_OFF(r) + (uint64_t)i * MIB);
		CHECK(at < 0,
		      "round %u: read %u after the barrier misses the data "
		      "written before it (byte %ld)",
		      r, i, at);
	}
}

/* FLUSH_DISKCACHE with and without data, a barrier without data. */
static void flushes(struct blkfront *bf)
{
	static uint8_t buf[8 * KIB], back[8 * KIB];
	const uint64_t off = 6ull << 20;
	struct blkfront_io io = { .op = BLKFRONT_FLUSH };
	struct blkfront_done d;

	CHECK(blk2_do(bf, 0, &io, &d) == 0 &&
		      d.rsp_op == BLKIF_OP_FLUSH_DISKCACHE,
	      "plain flush: status %d op %u", d.rsp_status, d.rsp_op);

	blk_fill(buf, sizeof(buf), 77, off);
	io = (struct blkfront_io){
		.op = BLKFRONT_FLUSH,
		.page_off = 3,
		.sector = off / 512,
		.buf = buf,
		.len = sizeof(buf),
	};
	CHECK(blk2_do(bf, 0, &io, &d) == 0 &&
		      d.rsp_op == BLKIF_OP_FLUSH_DISKCACHE,
	      "flush with 8 KiB of data: status %d op %u", d.rsp_status,
	      d.rsp_op);
	io = (struct blkfront_io){
		.op = BLKFRONT_READ,
		.sector = off / 512,
		.buf = back,
		.len = sizeof(back),
	};
	CHECK(blk2_do(bf, 0, &io, &d) == 0, "read back the flush's data");
	CHECK(blk_diff(back, sizeof(back), 77, off) < 0,
	      "the flush's data did not land");

	io = (struct blkfront_io){ .op = BLKFRONT_BARRIER };
	CHECK(blk2_do(bf, 0, &io, &d) == 0 &&
		      d.rsp_op == BLKIF_OP_WRITE_BARRIER,
	      "barrier without data: status %d op %u", d.rsp_status, d.rsp_op);
}

static int guest(void *arg)
{
	struct blkfront_cfg cfg;
	const struct blkfront_info *in;
	struct blkfront *bf;

	blkfront_cfg_init(&cfg);
	cfg.ring_order = 2;
	cfg.max_indirect = 256;
	cfg.pool_pages = 4 * NBIG * MIB / 4096;
	bf = blk2_connect(&cfg);
	in = blkfront_info(bf);
	CHECK(in->barrier && in->flush,
	      "feature-barrier %d, feature-flush-cache %d: both expected",
	      in->barrier, in->flush);
	CHECK(in->max_indirect >= MIB / 4096,
	      "indirect segments %u: 1 MiB requests need %u", in->max_indirect,
	      MIB / 4096);
	flushes(bf);
	for (unsigned int r = 0; r < ROUNDS; r++) {
		round_trip(bf, r, r % 2, 500 + r, 700 + r);
		if (r % 2 == 0)
			round_plain(bf, r);
	}
	blk2_no_violations(bf, "end");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	/* The parent checks the file against the last round's data. */
	return final_seed == 700 + ROUNDS - 1 ? 0 : 1;
}

int main(void)
{
	struct blk_scen s;
	char path[PATH_MAX];
	long at;

	blk_start(&s, 1, NULL, "max-ring-page-order=4", NULL);
	snprintf(path, sizeof(path), "%s",
		 blk_image(&s, "disk.img", DISK_BYTES, 0));
	img = path;
	blk_add(&s, "vbd", 1, 51712, img, NULL);
	CHECK(blk_guest(&s, 1, guest, NULL) == 0, "guest failed");
	/* The last round wrote R after its barrier. */
	at = blk2_file_diff(img, R_OFF, R_LEN, 700 + ROUNDS - 1);
	CHECK(at < 0, "backing file: R differs from the last write at byte %ld",
	      at);
	at = blk2_file_diff(img, 6ull << 20, 8 * KIB, 77);
	CHECK(at < 0, "backing file: the flush's data differs at byte %ld", at);
	return blk_pass(&s);
}
