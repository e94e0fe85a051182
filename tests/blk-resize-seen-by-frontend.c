// SPDX-License-Identifier: MIT
/*
 * Online resize (spec/blkif-xenbus.md B.1 step 8): while a frontend is
 * connected, the backing file grows. Within a few seconds the backend
 * rewrites `sectors` together with its state (Connected again), so the
 * watch Linux blkfront has on the backend's state fires, and when it does,
 * `sectors` already holds the new size (blkfront re-reads it right then).
 * Before the resize, I/O to the new tail, or straddling the old end, is
 * answered BLKIF_RSP_ERROR with its op; afterwards the same requests work,
 * read back what was written and land in the file, and the old data is
 * untouched.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/xen.h"
#include "front/blkfront.h"
#include "lib/blkscen.h"
#include "lib/blkscen2.h"
#include "lib/check.h"

#define KIB 1024u
#define OLD_BYTES (8ull << 20)
#define NEW_BYTES (12ull << 20)
#define SEED 21

static char img[PATH_MAX];

/* The requests that go beyond the old end. */
static const struct {
	uint64_t off;
	size_t len;
	const char *what;
} tail[] = {
	{ OLD_BYTES, 4 * KIB, "the first new block" },
	{ OLD_BYTES - 2 * KIB, 8 * KIB, "straddling the old end" },
	{ OLD_BYTES + 1024 * KIB, 256 * KIB, "inside the new tail (indirect)" },
	{ NEW_BYTES - 44 * KIB, 44 * KIB, "ending at the new end" },
};
#define NTAIL (sizeof(tail) / sizeof(tail[0]))

static uint8_t buf[256 * KIB];

static int rw(struct blkfront *bf, uint8_t op, unsigned int i, uint32_t seed,
	      struct blkfront_done *d)
{
	struct blkfront_io io = {
		.op = op,
		.sector = tail[i].off / 512,
		.buf = buf,
		.len = tail[i].len,
	};

	if (op == BLKFRONT_WRITE)
		blk_fill(buf, tail[i].len, seed, tail[i].off);
	else
		memset(buf, 0xA5, tail[i].len);
	return blk2_do(bf, 0, &io, d);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Take the queued watch events; 1 if one was for @path. */
static int drain_watch(struct xen_store *xs, const char *path, int wait_ms)
{
	struct pollfd pfd = { .fd = xen_store_watch_fd(xs), .events = POLLIN };
	char *p, *tok;
	void *mem;
	int hit = 0;

	if (poll(&pfd, 1, wait_ms) <= 0)
		return 0;
	while (!xen_store_watch_next(xs, &p, &tok, &mem)) {
		hit |= !strcmp(p, path);
		free(mem);
	}
	return hit;
}

static int guest(void *arg)
{
	struct blkfront_cfg cfg;
	const struct blkfront_info *in;
	struct blkfront *bf;
	struct blkfront_done d;
	struct xen_store *xs = blk2_store();
	char state[300], sectors[300];
	long t0, v;

	blkfront_cfg_init(&cfg);
	cfg.max_indirect = 256;
	bf = blk2_connect(&cfg);
	in = blkfront_info(bf);
	CHECK(in->sectors == OLD_BYTES / 512, "sectors %llu at connect",
	      (unsigned long long)in->sectors);
	snprintf(state, sizeof(state), "%s/state", in->be_path);
	snprintf(sectors, sizeof(sectors), "%s/sectors", in->be_path);

	for (unsigned int i = 0; i < NTAIL; i++) {
		rw(bf, BLKFRONT_WRITE, i, 99, &d);
		CHECK(d.rsp_status == BLKIF_RSP_ERROR &&
			      d.rsp_op == BLKIF_OP_WRITE,
		      "before the resize, a write %s: status %d op %u, want "
		      "BLKIF_RSP_ERROR",
		      tail[i].what, d.rsp_status, d.rsp_op);
		rw(bf, BLKFRONT_READ, i, 0, &d);
		CHECK(d.rsp_status == BLKIF_RSP_ERROR &&
			      d.rsp_op == BLKIF_OP_READ,
		      "before the resize, a read %s: status %d op %u, want "
		      "BLKIF_RSP_ERROR",
		      tail[i].what, d.rsp_status, d.rsp_op);
	}

	/* Linux blkfront's watch on the backend state; its first event is
	 * the registration's own. */
	CHECK(xen_store_watch(xs, state, "be-state") == 0, "watch %s", state);
	while (drain_watch(xs, state, 200))
		;
	/* The host administrator grows the image. */
	CHECK(truncate(img, (off_t)NEW_BYTES) == 0, "grow %s", img);
	t0 = now_ms();
	while (!drain_watch(xs, state, 100))
		CHECK(now_ms() - t0 < 5000,
		      "no write of the backend state within 5 s of the resize "
		      "(sectors is now %ld)",
		      blk2_read_num(sectors));
	/* What blkfront reads when the watch fires. */
	v = blk2_read_num(state);
	CHECK(v == 4, "backend state %ld after the resize", v);
	v = blk2_read_num(sectors);
	CHECK(v == (long)(NEW_BYTES / 512),
	      "the state watch fired (%ld ms after the resize) but sectors "
	      "is %ld, want %llu: not written together with the state",
	      now_ms() - t0, v, NEW_BYTES / 512);
	fprintf(stderr, "guest: resize seen after %ld ms\n", now_ms() - t0);

	for (unsigned int i = 0; i < NTAIL; i++) {
		long at;

		CHECK(rw(bf, BLKFRONT_WRITE, i, SEED + 1 + i, &d) == 0,
		      "after the resize, a write %s: status %d op %u",
		      tail[i].what, d.rsp_status, d.rsp_op);
		CHECK(rw(bf, BLKFRONT_READ, i, 0, &d) == 0,
		      "after the resize, a read %s: status %d op %u",
		      tail[i].what, d.rsp_status, d.rsp_op);
		at = blk_diff(buf, tail[i].len, SEED + 1 + i, tail[i].off);
		CHECK(at < 0, "after the resize, %s reads back wrong at %ld",
		      tail[i].what, at);
	}
	blk2_no_violations(bf, "end");
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	return 0;
}

int main(void)
{
	struct blk_scen s;
	long at;

	blk_start(&s, 1, NULL, NULL);
	snprintf(img, sizeof(img), "%s",
		 blk_image(&s, "grow.img", OLD_BYTES, SEED));
	blk_add(&s, "vbd", 1, 51712, img, NULL);
	CHECK(blk_guest(&s, 1, guest, NULL) == 0, "guest failed");

	/* Each tail write is in the file; the straddling one (1) covered
	 * the first (0) entirely. */
	for (unsigned int i = 1; i < NTAIL; i++) {
		at = blk2_file_diff(img, tail[i].off, tail[i].len,
				    SEED + 1 + i);
		CHECK(at < 0, "file: %s differs at byte %ld", tail[i].what, at);
	}
	CHECK(blk2_file_size(img) == NEW_BYTES, "file size changed");
	/* The old data below the straddling write is untouched. */
	at = blk2_file_diff(img, 0, OLD_BYTES - 2 * KIB, SEED);
	CHECK(at < 0, "file: the old data changed at byte %ld", at);
	return blk_pass(&s);
}
