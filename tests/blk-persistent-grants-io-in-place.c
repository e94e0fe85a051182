// SPDX-License-Identifier: MIT
/*
 * With persistent grants (what Linux blkfront and blkbackd negotiate), a
 * READ or WRITE is done on the guest's mapped pages themselves, with no
 * copy through the bounce arena and no grant copy, as the kernel's blkback
 * hands mapped pages to the block layer: requests of 1 to 11 segments,
 * first segments starting inside their page, written and read back
 * identical, the image file holding each write; `--stats --json` counts
 * every one of them as done in place (persistent_direct) and no grant copy
 * at all. With persistent grants off (the same guest's second connection),
 * the same I/O goes through copies again and stays correct.
 */
#include <stdio.h>
#include <string.h>

#include "front/blkfront.h"
#include "lib/check.h"
#include "lib/hostile.h"

#define DEV HOSTILE_DEVID
#define NIO 24

/* The I/Os: sizes of 1..11 pages, first_sect 0..7. */
static size_t io_len(unsigned int i)
{
	return (size_t)(1 + i % 11) * 4096 - (i % 3) * 512;
}

static uint64_t io_sector(unsigned int i)
{
	return (uint64_t)i * 128 + i % 8;
}

static int guest(void *arg)
{
	int *persistent = arg;
	struct blkfront_cfg cfg;
	struct blkfront *bf;

	blkfront_cfg_init(&cfg);
	cfg.persistent = *persistent;
	cfg.max_indirect = 0; /* every request direct: no indirect pages */
	bf = hostile_connect(DEV, &cfg);
	CHECK(blkfront_info(bf)->persistent == *persistent,
	      "persistent grants %d, wanted %d", blkfront_info(bf)->persistent,
	      *persistent);
	for (unsigned int i = 0; i < NIO; i++)
		hostile_rw_ok(bf, 0, io_sector(i), io_len(i),
			      i + 1 + (*persistent ? 0 : 100));
	hostile_no_violations(bf, "after the I/O");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	return 0;
}

int main(void)
{
	struct hostile h;
	char img[PATH_MAX];
	long long direct, segs;
	const char *st;
	int persistent = 1;

	hostile_start(&h, "--single", NULL);
	hostile_image(&h, "inplace.img", HOSTILE_DISK_BYTES, 0, img,
		      sizeof(img));
	hostile_add(&h, DEV, img, NULL);
	hostile_guest(&h, guest, &persistent);
	for (unsigned int i = 0; i < NIO; i++)
		hostile_expect_file(img, io_sector(i) * 512, io_len(i), i + 1,
				    "a write done in place");
	st = hostile_stats(&h);
	direct = simenv_stat_value(st, "vbd/1/51712", "persistent_direct");
	segs = simenv_stat_value(st, "vbd/1/51712", "grant_copy_segments");
	fprintf(stderr,
		"persistent grants: %lld I/Os in place, %lld grant "
		"copy segments\n",
		direct, segs);
	CHECK(direct == 2 * NIO, "%lld of %d I/Os done in place", direct,
	      2 * NIO);
	CHECK(segs == 0, "%lld grant copy segments with persistent grants",
	      segs);

	persistent = 0;
	hostile_guest(&h, guest, &persistent);
	for (unsigned int i = 0; i < NIO; i++)
		hostile_expect_file(img, io_sector(i) * 512, io_len(i), i + 101,
				    "a write through copies");
	st = hostile_stats(&h);
	CHECK(simenv_stat_value(st, "vbd/1/51712", "persistent_direct") ==
		      2 * NIO,
	      "I/Os in place without persistent grants: %s", st);
	return hostile_finish(&h);
}
