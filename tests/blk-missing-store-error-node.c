// SPDX-License-Identifier: MIT
/*
 * A backing store that cannot be opened fails its device only, and says
 * why where xl and people look (spec/blkif-xenbus.md B.1 step 11): a vbd
 * whose params names a file that does not exist, and one naming a
 * directory, each get /local/domain/0/error/backend/vbd/<fe>/<devid>/error
 * = "<errno> <message>" with the errno of the failed open (ENOENT, EISDIR),
 * the message naming the path and that errno's text, and their backend
 * goes Closing instead of InitWait as soon as the toolstack adds them (so
 * `xl create` fails at once, as with the kernel backend); a guest trying
 * to connect anyway is refused. On
 * the same daemon (one process, --single) a disk of another guest
 * connects, writes and reads back correctly, and the daemon stays up.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "front/blkfront.h"
#include "lib/blkscen.h"
#include "lib/blkscen2.h"
#include "lib/check.h"

#define KIB 1024u
#define DISK_BYTES (4ull << 20)
#define SEED 5

static const struct {
	unsigned int devid;
	int err;
	const char *what;
} bad[] = {
	{ 51712, ENOENT, "a missing file" },
	{ 51728, EISDIR, "a directory" },
};
#define NBAD (sizeof(bad) / sizeof(bad[0]))

static char paths[NBAD][PATH_MAX + 32];

/* Guest 1: its disks cannot connect; the backend says Closing. */
static int guest_bad(void *arg)
{
	for (unsigned int i = 0; i < NBAD; i++) {
		struct blkfront_cfg cfg;
		struct blkfront *bf = NULL;
		int rc;

		blkfront_cfg_init(&cfg);
		cfg.devid = bad[i].devid;
		cfg.timeout_ms = 5000;
		rc = blkfront_connect(&bf, &cfg);
		CHECK(rc == -EPROTO,
		      "connecting to %s: %d (%s), want -EPROTO (backend "
		      "Closing)",
		      bad[i].what, rc,
		      rc ? blkfront_last_error() : "connected");
	}
	return 0;
}

/* Guest 2: a good disk on the same daemon. */
static int guest_good(void *arg)
{
	static uint8_t buf[256 * KIB];
	struct blkfront_cfg cfg;
	struct blkfront *bf;
	struct blkfront_io io = {
		.op = BLKFRONT_WRITE,
		.sector = 1024,
		.buf = buf,
		.len = sizeof(buf),
	};
	struct blkfront_done d;

	blkfront_cfg_init(&cfg);
	cfg.max_indirect = 256;
	bf = blk2_connect(&cfg);
	blk_fill(buf, sizeof(buf), SEED + 1, 1024 * 512);
	CHECK(blk2_do(bf, 0, &io, &d) == 0, "write: status %d", d.rsp_status);
	memset(buf, 0, sizeof(buf));
	io.op = BLKFRONT_READ;
	CHECK(blk2_do(bf, 0, &io, &d) == 0, "read: status %d", d.rsp_status);
	CHECK(blk_diff(buf, sizeof(buf), SEED + 1, 1024 * 512) < 0,
	      "read back wrong");
	io.sector = 0;
	io.len = 64 * KIB;
	CHECK(blk2_do(bf, 0, &io, &d) == 0, "read: status %d", d.rsp_status);
	CHECK(blk_diff(buf, 64 * KIB, SEED, 0) < 0, "the image's data wrong");
	blk2_no_violations(bf, "good disk");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	return 0;
}

static void daemon_alive(struct blk_scen *s, const char *when)
{
	CHECK(waitpid(s->daemon, NULL, WNOHANG) == 0 && kill(s->daemon, 0) == 0,
	      "blkbackd is gone %s", when);
}

/* Each bad disk: Closing, and an error node with its errno and path. */
static void check_bad_disks(struct blk_scen *s, const char *when)
{
	for (unsigned int i = 0; i < NBAD; i++) {
		const char *v;
		char *end;
		long e;

		v = blk_read(s, "/local/domain/0/backend/vbd/1/%u/state",
			     bad[i].devid);
		CHECK(v && !strcmp(v, "5"), "%s %s: backend state %s, want 5",
		      bad[i].what, when, v ? v : "absent");
		v = blk_read(s, "/local/domain/0/error/backend/vbd/1/%u/error",
			     bad[i].devid);
		CHECK(v, "%s %s: no error node", bad[i].what, when);
		fprintf(stderr, "%s %s: error node \"%s\"\n", bad[i].what, when,
			v);
		e = strtol(v, &end, 10);
		CHECK(end != v && *end == ' ' && e == bad[i].err,
		      "%s: error node \"%s\" does not start with \"%d \"",
		      bad[i].what, v, bad[i].err);
		CHECK(strstr(v, paths[i]),
		      "%s: error node \"%s\" does not name %s", bad[i].what, v,
		      paths[i]);
		CHECK(strstr(v, strerror(bad[i].err)),
		      "%s: error node \"%s\" does not say \"%s\"", bad[i].what,
		      v, strerror(bad[i].err));
	}
}

int main(void)
{
	struct blk_scen s;
	char good[PATH_MAX];

	blk_start(&s, 2, "--single", NULL);
	snprintf(paths[0], sizeof(paths[0]), "%s/no-such.img", s.env.dir);
	snprintf(paths[1], sizeof(paths[1]), "%s/a-directory", s.env.dir);
	CHECK(mkdir(paths[1], 0700) == 0, "mkdir %s", paths[1]);
	snprintf(good, sizeof(good), "%s",
		 blk_image(&s, "good.img", DISK_BYTES, SEED));
	for (unsigned int i = 0; i < NBAD; i++)
		blk_add_failing(&s, "vbd", 1, bad[i].devid, paths[i], NULL);
	blk_add(&s, "vbd", 2, 51712, good, NULL);

	/* Before any guest came: what xl sees when it adds the disks. */
	check_bad_disks(&s, "after the toolstack added them");
	CHECK(blk_guest(&s, 1, guest_bad, NULL) == 0,
	      "guest 1 (the bad disks) failed");
	daemon_alive(&s, "after the bad disks");
	check_bad_disks(&s, "after the guest tried them");
	CHECK(!blk_read(&s, "/local/domain/0/error/backend/vbd/2/51712/error"),
	      "an error node for the good disk");

	CHECK(blk_guest(&s, 2, guest_good, NULL) == 0,
	      "guest 2 (the good disk, same daemon) failed");
	daemon_alive(&s, "at the end");
	CHECK(blk2_file_diff(good, 1024 * 512, 256 * KIB, SEED + 1) < 0,
	      "the good disk's write is not in its file");
	return blk_pass(&s);
}
