// SPDX-License-Identifier: MIT
/*
 * Real fio, run as guest 1 through the blkfront ioengine
 * (tests/fio/pvback-blkfront.c), mixes random reads and writes (randrw)
 * through blkbackd with more I/O wanted in flight than the device can
 * carry, then verifies every block it wrote. Two jobs: 4 KiB .. 1 MiB at
 * iodepth 8 with a data pool of 256 pages (1 MiB: most io_us wait for the
 * pool), and 512 B .. 512 KiB at iodepth 16 over two queues without
 * indirect requests or persistent grants (io_us wait for ring slots). Once
 * with engine=uring and once with engine=aio, each on its own host. fio
 * must exit 0 and find no bad block.
 *
 * Unlike randwrite (blk-fio-verify), a randrw verify checks each block's
 * header seed against verify_state replayed once per logged write, so it
 * fails when an io_u's pattern was filled twice: fio before 3.34 does that
 * for a write the engine answered FIO_Q_BUSY, and the engine used to say
 * BUSY whenever no queue had room ("verify: bad header rand_seed", though
 * the disk held what fio wrote). The engine now waits for room instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/blkscen.h"
#include "lib/check.h"
#include "lib/fiorun.h"

#define DISK_BYTES (128ull << 20)

static void run_fio(struct blk_scen *s, const char *engine_so, const char *job,
		    const char *extra)
{
	char opts[512];
	struct fiorun_result r;

	snprintf(opts, sizeof(opts),
		 "--name=%s --devid=51712 --rw=randrw --direct=1 --size=64M "
		 "--verify=crc32c --verify_fatal=1 --verify_state_save=0 "
		 "--randseed=1701 %s",
		 job, extra);
	fiorun_check(&s->env, 1, engine_so, job, opts, &r);
}

/* One engine on its own emulated host; runs in a child process. */
static int scenario(const char *engine, const char *engine_so)
{
	char eng[64], img[PATH_MAX];
	struct blk_scen s;

	snprintf(eng, sizeof(eng), "engine=%s", engine);
	blk_start(&s, 1, NULL, eng, "max-queues=2", NULL);
	snprintf(img, sizeof(img), "%s",
		 blk_image(&s, "disk.img", DISK_BYTES, 0));
	blk_add(&s, "vbd", 1, 51712, img, NULL);
	run_fio(&s, engine_so, "pool-full",
		"--queues=1 --iodepth=8 --bsrange=4k-1M --blockalign=4k "
		"--pool=256");
	run_fio(&s, engine_so, "ring-full",
		"--queues=2 --iodepth=16 --bsrange=512-512k --blockalign=512 "
		"--indirect=0 --persistent=0");
	fprintf(stderr,
		"engine=%s: fio randrw verified with full pool and "
		"full rings\n",
		engine);
	return blk_pass(&s);
}

int main(void)
{
	return fiorun_each_engine(scenario, "fio randrw verify");
}
