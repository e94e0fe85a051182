// SPDX-License-Identifier: MIT
/*
 * Real fio, run as guest 1 through the blkfront ioengine
 * (tests/fio/pvback-blkfront.c), verifies what it wrote through blkbackd:
 * random writes of 512 B .. 1 MiB (bsrange) at iodepth 16 over a 64 MiB
 * disk with two queues, an order-4 ring and indirect requests, each block
 * checked with crc32c after the write phase; then a second fio connection
 * verifies the same blocks again without writing (verify_only), which also
 * takes the device through close and reconnect. Once with engine=uring and
 * once with engine=aio, each on its own emulated host. fio must exit 0 and
 * report no error; the engine fails the job on any blkfront invariant
 * violation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/blkscen.h"
#include "lib/check.h"
#include "lib/fiorun.h"

#define DISK_BYTES (64ull << 20)

static void run_fio(struct blk_scen *s, const char *engine_so,
		    const char *phase, const char *extra)
{
	char opts[512];
	struct fiorun_result r;

	snprintf(opts, sizeof(opts),
		 "--name=blkverify --devid=51712 --queues=2 --ring_order=4 "
		 "--indirect=256 --rw=randwrite --bsrange=512-1M --iodepth=16 "
		 "--direct=1 --verify=crc32c --verify_fatal=1 --randseed=4242 "
		 "%s",
		 extra);
	fiorun_check(&s->env, 1, engine_so, phase, opts, &r);
}

/* One engine on its own emulated host; runs in a child process. */
static int scenario(const char *engine, const char *engine_so)
{
	char eng[64], img[PATH_MAX];
	struct blk_scen s;

	snprintf(eng, sizeof(eng), "engine=%s", engine);
	blk_start(&s, 1, NULL, eng, "max-queues=2", "max-ring-page-order=4",
		  "max-indirect-segments=256", NULL);
	snprintf(img, sizeof(img), "%s",
		 blk_image(&s, "disk.img", DISK_BYTES, 0));
	blk_add(&s, "vbd", 1, 51712, img, NULL);
	run_fio(&s, engine_so, "write", "");
	run_fio(&s, engine_so, "verify-only", "--verify_only");
	fprintf(stderr, "engine=%s: fio wrote and verified 64 MiB twice\n",
		engine);
	return blk_pass(&s);
}

int main(void)
{
	return fiorun_each_engine(scenario, "fio verification");
}
