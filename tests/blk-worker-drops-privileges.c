// SPDX-License-Identifier: MIT
/*
 * With user=nobody, blkbackd's worker runs as nobody once it has started
 * (uids, gids, no capabilities, under its seccomp filter, as /proc shows),
 * and a disk the toolstack adds afterwards is opened by the unprivileged
 * worker: an image nobody owns is served (a guest writes and reads it back
 * and the file holds what it wrote); an image only root may open is not
 * (the device gets an error node naming EACCES), and nothing else changes.
 *
 * The emulated Xen's handle socket stands for /dev/xen/gntdev and
 * /dev/xen/evtchn, which a udev rule must open to the user on a real host:
 * the test makes it reachable by nobody (and the instance directory
 * traversable) before the worker starts.
 */
#include <errno.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "front/blkfront.h"
#include "lib/blkscen.h"
#include "lib/blkscen2.h"
#include "lib/check.h"

#define DISK_BYTES (2u << 20)
#define SEED 5
#define XVDA 51712
#define XVDB 51728

static int guest(void *arg)
{
	static uint8_t wbuf[128 * 1024], rbuf[sizeof(wbuf)];
	struct blkfront_done d;
	struct blkfront_cfg cfg;
	struct blkfront *bf;

	blkfront_cfg_init(&cfg);
	cfg.devid = XVDA;
	bf = blk2_connect(&cfg);
	blk_fill(wbuf, sizeof(wbuf), SEED, 0);
	CHECK(blk2_do(bf, 0,
		      &(struct blkfront_io){ .op = BLKFRONT_WRITE,
					     .buf = wbuf,
					     .len = sizeof(wbuf) },
		      &d) == 0,
	      "write: %d", d.rsp_status);
	CHECK(blk2_do(bf, 0, &(struct blkfront_io){ .op = BLKFRONT_FLUSH },
		      &d) == 0,
	      "flush: %d", d.rsp_status);
	CHECK(blk2_do(bf, 0,
		      &(struct blkfront_io){ .op = BLKFRONT_READ,
					     .buf = rbuf,
					     .len = sizeof(rbuf) },
		      &d) == 0,
	      "read: %d", d.rsp_status);
	CHECK(!memcmp(rbuf, wbuf, sizeof(rbuf)), "read back differs");
	blk2_no_violations(bf, "read back");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	return 0;
}

int main(void)
{
	char img_a[PATH_MAX], img_b[PATH_MAX], hv[PATH_MAX + 16], ids[64];
	char errpath[128];
	struct passwd *pw = getpwnam("nobody");
	struct blk_scen s;
	const char *v;
	pid_t w;

	if (!pw || !pw->pw_uid)
		SKIP("no unprivileged user 'nobody'");
	if (geteuid())
		SKIP("needs root to drop from");
	blk_start(&s, 1, NULL, "user=nobody", NULL);
	/* What a udev rule does for /dev/xen/{gntdev,evtchn} on a host. */
	snprintf(hv, sizeof(hv), "%s/dom0.hv", s.env.dir);
	CHECK(chmod(s.env.dir, 0711) == 0 && chmod(hv, 0666) == 0,
	      "open the emulated Xen to nobody: %s", strerror(errno));

	/* A device for the worker to start with (opened while still root). */
	snprintf(img_a, sizeof(img_a), "%s",
		 blk_image(&s, "first.img", DISK_BYTES, 0));
	blk_add(&s, "vbd", 1, XVDA + 16 * 2, img_a, NULL);
	snprintf(ids, sizeof(ids), "%u\t%u\t%u\t%u", pw->pw_uid, pw->pw_uid,
		 pw->pw_uid, pw->pw_uid);
	/* Not running as nobody if the Uid line never says so. */
	w = blk_wait_worker(&s, 1, "Uid", ids);
	snprintf(ids, sizeof(ids), "%u\t%u\t%u\t%u", pw->pw_gid, pw->pw_gid,
		 pw->pw_gid, pw->pw_gid);
	CHECK(simenv_status_has(w, "Gid", ids),
	      "worker %d: gids are not nobody's", (int)w);
	CHECK(simenv_status_has(w, "CapEff", "0000000000000000") &&
		      simenv_status_has(w, "CapPrm", "0000000000000000"),
	      "worker %d kept capabilities", (int)w);
	CHECK(simenv_status_has(w, "Seccomp", "2") &&
		      simenv_status_has(w, "NoNewPrivs", "1"),
	      "worker %d is not under its seccomp filter", (int)w);

	/* Added now: opened by the worker as nobody. */
	snprintf(img_b, sizeof(img_b), "%s",
		 blk_image(&s, "root-only.img", DISK_BYTES, 0));
	CHECK(chmod(img_b, 0600) == 0, "chmod");
	blk_add_failing(&s, "vbd", 1, XVDB, img_b, NULL);
	snprintf(errpath, sizeof(errpath),
		 "/local/domain/0/error/backend/vbd/1/%u/error", XVDB);
	v = blk_read(&s, "%s", errpath);
	CHECK(v && atoi(v) == EACCES,
	      "root's image: error node '%s', want "
	      "%d ...",
	      v ?: "(none)", EACCES);

	snprintf(img_a, sizeof(img_a), "%s",
		 blk_image(&s, "nobodys.img", DISK_BYTES, 0));
	CHECK(chown(img_a, pw->pw_uid, pw->pw_gid) == 0 &&
		      chmod(img_a, 0600) == 0,
	      "chown: %s", strerror(errno));
	blk_add(&s, "vbd", 1, XVDA, img_a, NULL);
	CHECK(blk_guest(&s, 1, guest, NULL) == 0, "guest failed");
	CHECK(blk2_file_diff(img_a, 0, 128 * 1024, SEED) == -1,
	      "nobody's image does not hold what the guest wrote");
	CHECK(blk_worker_pid(&s, 1) == w, "the worker was replaced");
	return blk_pass(&s);
}
