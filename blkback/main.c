// SPDX-License-Identifier: MIT
/*
 * blkbackd - the blkif backend daemon: serves the virtual disks of Xen
 * guests from image files and block devices, with io_uring (or libaio).
 *
 *   blkbackd [--config FILE] [--set KEY=VALUE]... [--single]
 *            [--log-level L] [--syslog] [--help]
 *   blkbackd [--config FILE] [--set run-dir=DIR] --stats [--json]
 *
 * This file only describes the daemon: its configuration keys, their
 * defaults and checks, and its hooks. The process (command line,
 * supervisor and workers, signals, control socket, sandbox) is
 * common/daemon.c; the control plane is xenbus.c, the data path queue.c.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "blkback/blkback.h"
#include "common/daemon.h"

/* The daemon's settings: the common keys, then blkif's own. */
struct blkd_conf {
	struct daemon_conf d;
	struct blk_conf blk;
};

#define BC(field) offsetof(struct blkd_conf, blk.field)

static const char *const engines[] = { "uring", "aio", "null", NULL };

static const struct cfg_key blk_keys[] = {
	{ "engine", CFG_ENUM, BC(engine), 0, 0, 0, engines,
	  "I/O engine: uring, aio or null (no storage: benchmarks)" },
	{ "max-queues", CFG_UINT, BC(max_queues), 0, 0, BLK_MAX_QUEUES, NULL,
	  "queues offered per disk; 0: online CPUs" },
	{ "max-ring-page-order", CFG_UINT, BC(max_ring_order), 0, 0,
	  RING_MAX_ORDER, NULL, "largest ring offered: 2^order pages" },
	{ "max-indirect-segments", CFG_UINT, BC(max_indirect), 0, 0,
	  BLK_MAX_INDIRECT, NULL,
	  "segments per indirect request; 0: no indirect requests" },
	{ "queue-buffer-kib", CFG_UINT, BC(queue_buffer_kib), 0, 0, 1u << 20,
	  NULL, "bounce memory per queue in KiB; 0: sized from the ring" },
	{ "direct", CFG_BOOL, BC(direct), 0, 0, 0, NULL,
	  "open stores with O_DIRECT where they allow it" },
	{ "persistent", CFG_BOOL, BC(persistent), 0, 0, 0, NULL,
	  "offer persistent grants (feature-persistent)" },
	{ "persistent-max-grants", CFG_UINT, BC(pg_max), 0, 0, 16384, NULL,
	  "persistent grants kept mapped per queue" },
	{ "persistent-timeout-s", CFG_UINT, BC(pg_timeout_s), 0, 1, 86400, NULL,
	  "a persistent grant unused this long is unmapped" },
	{ "persistent-in-place", CFG_BOOL, BC(pg_in_place), 0, 0, 0, NULL,
	  "with persistent grants, do I/O on the mapped guest pages (no copy)" },
	CFG_END,
};

static struct blkd_conf conf = {
	.blk = {
		.engine = BLK_ENGINE_URING,
		.max_ring_order = RING_MAX_ORDER,
		.max_indirect = BLK_MAX_INDIRECT,
		.direct = 1,
		.persistent = 1,
		.pg_max = 1056,
		.pg_timeout_s = 60,
		.pg_in_place = 1,
	},
};

static int blkd_validate(void *arg, char *err, size_t errlen)
{
	struct blkd_conf *c = arg;

	if (c->blk.max_indirect &&
	    c->blk.max_indirect <= BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		snprintf(err, errlen,
			 "max-indirect-segments: %u must be 0 or "
			 "above %d",
			 c->blk.max_indirect, BLKIF_MAX_SEGMENTS_PER_REQUEST);
		return -EINVAL;
	}
	return 0;
}

static const struct xbus_driver *blkd_driver(void *arg, struct loop *ctl)
{
	struct blkd_conf *c = arg;

	/* xenbus.c keeps the queues' journals under run-dir. */
	snprintf(c->blk.run_dir, sizeof(c->blk.run_dir), "%s", c->d.run_dir);
	return blk_xbus_driver(&c->blk, ctl);
}

/*
 * A worker about to drop to `user` (still root): the queues' journals
 * (xenbus.c: <run-dir>/journal/<kind>.<domid>.<devid>.q<i>) are created and
 * reopened by the worker after the drop: handed over to the user.
 */
static int blkd_pre_sandbox(void *arg, unsigned int domid)
{
	struct blkd_conf *c = arg;

	if (!c->d.user[0])
		return 0;
	return sandbox_hand_over(c->d.run_dir, "journal", c->d.user, domid);
}

static void blkd_describe(const void *arg, char *buf, size_t len)
{
	const struct blkd_conf *c = arg;

	snprintf(buf, len, "engine %s", blk_engine_name(c->blk.engine));
}

/* Once a second: stores that changed size are announced. */
static void blkd_tick(void *arg)
{
	blk_check_resize();
}

static void blkd_dump_stats(void *arg, FILE *out, int json)
{
	blk_dump_stats(out, json);
}

/*
 * What blkbackd's workers call beyond the common allow-list: the io_uring
 * engine's I/Os on a file in memory, done on the queue thread (pread64,
 * pwrite64), and how it recognises such a file (fstatfs, preadv2 with
 * RWF_NOWAIT): see blkback/ioeng_uring.c.
 */
static const char *const blkd_syscalls[] = {
	"pread64", "pwrite64", "preadv2", "preadv", "pwritev", "fstatfs", NULL,
};

static const struct daemon_def blkd_def = {
	.name = "blkbackd",
	.summary = "Serves the virtual disks (blkif) of Xen guests from image "
		   "files and block devices.",
	.default_kinds = "vbd3,vbd",
	.keys = blk_keys,
	.conf = &conf,
	.common_offset = offsetof(struct blkd_conf, d),
	.validate = blkd_validate,
	.driver = blkd_driver,
	.describe = blkd_describe,
	.tick = blkd_tick,
	.dump_stats = blkd_dump_stats,
	.pre_sandbox = blkd_pre_sandbox,
	.extra_syscalls = blkd_syscalls,
};

int main(int argc, char **argv)
{
	return daemon_main(&blkd_def, argc, argv);
}
