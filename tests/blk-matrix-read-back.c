// SPDX-License-Identifier: MIT
/*
 * The verify matrix without fio: what a guest writes it reads back
 * identical, and the backing file holds exactly that, for every
 * combination of I/O engine (io_uring, libaio) x queues (1, 4) x ring
 * order (0, 4) x persistent grants (frontend on, off), plus a frontend
 * speaking the x86_32 ABI and a Windows-style one (multi-queue-num-queues
 * written as 1, top-level ring keys). Each combination writes patterns of
 * 512 B .. 1 MiB (the large ones as indirect requests of up to 256
 * segments, some starting inside their first page) spread over its queues,
 * reads them back, and closes.
 *
 * One host: blkbackd with io_uring serves the `vbd` devices of guest 1,
 * a second blkbackd with libaio the `vbd3` devices of guest 2; each
 * combination has a disk of its own, and the two guests run at once.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/blkfront.h"
#include "lib/blkscen.h"
#include "lib/blkscen2.h"
#include "lib/check.h"

#define KIB 1024u
#define DISK_BYTES (8ull << 20)

struct combo {
	unsigned int queues, order, persistent;
	int x86_32, windows;
	const char *name;
};

static const struct combo combos[] = {
	{ 1, 0, 0, 0, 0, "1 queue, order 0, no persistent" },
	{ 1, 0, 1, 0, 0, "1 queue, order 0, persistent" },
	{ 1, 4, 0, 0, 0, "1 queue, order 4, no persistent" },
	{ 1, 4, 1, 0, 0, "1 queue, order 4, persistent" },
	{ 4, 0, 0, 0, 0, "4 queues, order 0, no persistent" },
	{ 4, 0, 1, 0, 0, "4 queues, order 0, persistent" },
	{ 4, 4, 0, 0, 0, "4 queues, order 4, no persistent" },
	{ 4, 4, 1, 0, 0, "4 queues, order 4, persistent" },
	{ 1, 0, 1, 1, 0, "x86_32 abi" },
	{ 1, 2, 1, 0, 1, "Windows-style, multi-queue-num-queues=1" },
};
#define NCOMBOS (sizeof(combos) / sizeof(combos[0]))

static const struct {
	size_t len;
	uint8_t page_off;
} sizes[] = {
	{ 512, 0 },	      { 1 * KIB, 3 },
	{ 3584, 1 },	      { 4 * KIB, 0 },
	{ 4 * KIB + 512, 7 }, { 8 * KIB, 0 },
	{ 44 * KIB, 0 },      { 44 * KIB + 512, 0 },
	{ 64 * KIB, 5 },      { 128 * KIB + 512, 0 },
	{ 256 * KIB, 0 },     { 1024 * KIB - 512, 1 },
	{ 1024 * KIB, 0 },
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static const struct engine {
	const char *kind;
	unsigned int domid;
	const char *name;
} engines[] = {
	{ "vbd", 1, "uring" },
	{ "vbd3", 2, "aio" },
};

static char imgs[2][NCOMBOS][PATH_MAX];

/* Region @r of every disk: spread, gaps between, the last at the end. */
static uint64_t region_off(unsigned int r)
{
	uint64_t off = 0;

	if (r == NSIZES - 1)
		return DISK_BYTES - sizes[r].len;
	for (unsigned int i = 0; i < r; i++)
		off += sizes[i].len + (uint64_t)(i + 1) * 3 * 512 + 64 * KIB;
	return off;
}

static uint32_t seed_of(unsigned int e, unsigned int c, unsigned int r)
{
	return 10000 * (e + 1) + 100 * (c + 1) + r + 1;
}

static void one_combo(unsigned int e, unsigned int c)
{
	const struct combo *k = &combos[c];
	static uint8_t mem[NSIZES][1024 * KIB + 64];
	struct blk2_job jobs[NSIZES];
	struct blkfront_cfg cfg;
	const struct blkfront_info *in;
	struct blkfront *bf;

	blkfront_cfg_init(&cfg);
	cfg.devid = 51712 + 16 * c;
	cfg.nr_queues = k->queues;
	cfg.ring_order = k->order;
	cfg.persistent = k->persistent;
	cfg.abi = k->x86_32 ? RING_BLKIF_ABI_X86_32 : RING_BLKIF_ABI_NATIVE;
	cfg.windows = k->windows;
	cfg.max_indirect = 256;
	cfg.pool_pages = 2048;
	bf = blk2_connect(&cfg);
	in = blkfront_info(bf);
	CHECK(in->nr_queues == k->queues && in->ring_order == k->order &&
		      in->persistent == (int)k->persistent,
	      "%s/%s: negotiated %u queue(s), order %u, persistent %d",
	      engines[e].name, k->name, in->nr_queues, in->ring_order,
	      in->persistent);
	CHECK(in->max_indirect == 256, "%s/%s: %u indirect segments",
	      engines[e].name, k->name, in->max_indirect);
	CHECK(in->sectors == DISK_BYTES / 512, "%s/%s: sectors %llu",
	      engines[e].name, k->name, (unsigned long long)in->sectors);

	for (unsigned int r = 0; r < NSIZES; r++) {
		uint64_t off = region_off(r);
		uint8_t *buf = mem[r] + (r * 13) % 64;

		blk_fill(buf, sizes[r].len, seed_of(e, c, r), off);
		jobs[r] = (struct blk2_job){
			.op = BLKFRONT_WRITE,
			.page_off = sizes[r].page_off,
			.q = r % in->nr_queues,
			.sector = off / 512,
			.buf = buf,
			.len = sizes[r].len,
		};
	}
	blk2_run_jobs(bf, jobs, NSIZES, 1);
	for (unsigned int r = 0; r < NSIZES; r++) {
		memset(jobs[r].buf, 0xA5, jobs[r].len);
		jobs[r].op = BLKFRONT_READ;
		/* Read on another queue than the write went through. */
		jobs[r].q = (r + 1) % in->nr_queues;
	}
	blk2_run_jobs(bf, jobs, NSIZES, 1);
	for (unsigned int r = 0; r < NSIZES; r++) {
		long at = blk_diff(jobs[r].buf, jobs[r].len, seed_of(e, c, r),
				   region_off(r));

		CHECK(at < 0,
		      "%s/%s: %zu bytes at %llu (page_off %u) read back "
		      "wrong at byte %ld",
		      engines[e].name, k->name, jobs[r].len,
		      (unsigned long long)region_off(r), jobs[r].page_off, at);
	}
	blk2_no_violations(bf, k->name);
	CHECK(blkfront_close(bf) == 0, "%s/%s: close: %s", engines[e].name,
	      k->name, blkfront_last_error());
	fprintf(stderr, "guest %u: %s/%s: ok\n", engines[e].domid,
		engines[e].name, k->name);
}

static int guest(void *arg)
{
	unsigned int e = (unsigned int)(uintptr_t)arg;

	for (unsigned int c = 0; c < NCOMBOS; c++)
		one_combo(e, c);
	return 0;
}

/* The file: every region's data, zeros elsewhere. */
static void check_file(unsigned int e, unsigned int c)
{
	uint8_t *disk = malloc(DISK_BYTES);

	CHECK(disk, "malloc");
	blk2_file_read(imgs[e][c], 0, disk, DISK_BYTES);
	for (unsigned int r = 0; r < NSIZES; r++) {
		uint64_t off = region_off(r);
		long at = blk_diff(disk + off, sizes[r].len, seed_of(e, c, r),
				   off);

		CHECK(at < 0, "%s/%s: file region %u differs at byte %ld",
		      engines[e].name, combos[c].name, r, at);
		memset(disk + off, 0, sizes[r].len);
	}
	for (uint64_t a = 0; a < DISK_BYTES; a++)
		CHECK(!disk[a],
		      "%s/%s: file byte %llu written outside the "
		      "regions",
		      engines[e].name, combos[c].name, (unsigned long long)a);
	free(disk);
}

int main(void)
{
	struct blk_scen s;
	char log[PATH_MAX + 32], run[PATH_MAX + 32], name[64];
	pid_t g[2];

	blk_start(&s, 2, NULL, "kinds=vbd", "engine=uring", "max-queues=4",
		  "max-ring-page-order=4", "max-indirect-segments=256", NULL);
	snprintf(log, sizeof(log), "%s/blkbackd-aio.log", s.env.dir);
	snprintf(run, sizeof(run), "run-dir=%s/aio", s.env.dir);
	blk2_spawn_daemon(&s, log, "kinds=vbd3", "engine=aio", "max-queues=4",
			  "max-ring-page-order=4", "max-indirect-segments=256",
			  run, NULL);
	for (unsigned int e = 0; e < 2; e++)
		for (unsigned int c = 0; c < NCOMBOS; c++) {
			snprintf(name, sizeof(name), "%s-%u.img",
				 engines[e].name, c);
			snprintf(imgs[e][c], PATH_MAX, "%s",
				 blk_image(&s, name, DISK_BYTES, 0));
			blk_add(&s, engines[e].kind, engines[e].domid,
				51712 + 16 * c, imgs[e][c], NULL);
		}
	for (unsigned int e = 0; e < 2; e++) {
		g[e] = simenv_fork_as(&s.env, engines[e].domid, guest,
				      (void *)(uintptr_t)e);
		CHECK(g[e] > 0, "fork guest %u", engines[e].domid);
	}
	for (unsigned int e = 0; e < 2; e++)
		CHECK(simenv_wait(g[e]) == 0, "guest %u (%s) failed",
		      engines[e].domid, engines[e].name);
	for (unsigned int e = 0; e < 2; e++)
		for (unsigned int c = 0; c < NCOMBOS; c++)
			check_file(e, c);
	return blk2_pass(&s);
}
