// SPDX-License-Identifier: MIT
/*
 * blkscen2.c - see blkscen2.h. The I/O helpers wrap the userspace blkfront
 * (tests/front/blkfront.h) and keep the backend's own answer (op, status)
 * for the test to check; the xenstore helpers use common/xen.h directly,
 * as the domain the calling process became (simenv).
 */
#include "lib/blkscen2.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/check.h"

struct blkfront *blk2_connect(const struct blkfront_cfg *cfg)
{
	struct blkfront *bf;
	int rc = blkfront_connect(&bf, cfg);

	CHECK(rc == 0, "connect device/vbd/%u: %s", cfg->devid,
	      blkfront_last_error());
	return bf;
}

void blk2_no_violations(struct blkfront *bf, const char *when)
{
	char why[192];
	unsigned long n = blkfront_violations(bf, why, sizeof(why));

	CHECK(n == 0, "%s: %lu blkfront invariant violation(s), last: %s", when,
	      n, why);
}

unsigned int blk2_reap(struct blkfront *bf, unsigned int q,
		       struct blkfront_done *d, unsigned int max,
		       int timeout_ms)
{
	int n = blkfront_reap(bf, q, d, max, timeout_ms);

	CHECK(n >= 0, "reap queue %u: %s", q, blkfront_last_error());
	return (unsigned int)n;
}

/* Wait for the completion of request @id of @q, alone in flight. */
static int wait_one(struct blkfront *bf, unsigned int q, int id,
		    struct blkfront_done *d)
{
	CHECK(blkfront_kick(bf, q) >= 0, "kick: %s", blkfront_last_error());
	CHECK(blk2_reap(bf, q, d, 1, 10000) == 1,
	      "request %d on queue %u: no answer in 10 s", id, q);
	CHECK(d->id == (uint64_t)id,
	      "request %d on queue %u: completion of id %llu instead", id, q,
	      (unsigned long long)d->id);
	return d->status;
}

int blk2_do(struct blkfront *bf, unsigned int q, const struct blkfront_io *io,
	    struct blkfront_done *d)
{
	int id;

	CHECK(blkfront_inflight(bf, q) == 0, "queue %u busy", q);
	id = blkfront_submit(bf, q, io);
	CHECK(id >= 0, "submit op %u, %zu bytes at sector %llu: %s", io->op,
	      io->len, (unsigned long long)io->sector, blkfront_last_error());
	return wait_one(bf, q, id, d);
}

int blk2_do_raw(struct blkfront *bf, unsigned int q,
		const struct ring_blkif_req *req, struct blkfront_done *d)
{
	int id;

	CHECK(blkfront_inflight(bf, q) == 0, "queue %u busy", q);
	id = blkfront_put_raw(bf, q, req, NULL, 0);
	CHECK(id >= 0, "put raw op %u: %s", req->op, blkfront_last_error());
	return wait_one(bf, q, id, d);
}

void blk2_run_jobs(struct blkfront *bf, struct blk2_job *j, unsigned int n,
		   int must_succeed)
{
	const struct blkfront_info *in = blkfront_info(bf);
	struct blkfront_done d[64];
	unsigned int next = 0, outstanding = 0;

	for (unsigned int i = 0; i < n; i++) {
		j[i].done = 0;
		j[i].status = 0;
	}
	while (next < n || outstanding) {
		unsigned int got = 0;

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
			CHECK(rc >= 0,
			      "submit op %u, %zu bytes at sector %llu: %s",
			      j[next].op, j[next].len,
			      (unsigned long long)j[next].sector,
			      blkfront_last_error());
			next++;
			outstanding++;
		}
		for (unsigned int q = 0; q < in->nr_queues; q++)
			CHECK(blkfront_kick(bf, q) >= 0, "kick: %s",
			      blkfront_last_error());
		for (unsigned int q = 0; q < in->nr_queues; q++) {
			unsigned int r = blk2_reap(bf, q, d, 64, 0);

			for (unsigned int i = 0; i < r; i++) {
				struct blk2_job *jb = d[i].cookie;

				CHECK(jb && !jb->done,
				      "completion for no job, or twice");
				jb->done = 1;
				jb->status = d[i].status;
				CHECK(!must_succeed || !d[i].status,
				      "op %u of %zu bytes at sector %llu "
				      "(page_off %u, queue %u): status %d "
				      "(backend said op %u status %d)",
				      jb->op, jb->len,
				      (unsigned long long)jb->sector,
				      jb->page_off, q, d[i].status, d[i].rsp_op,
				      d[i].rsp_status);
			}
			got += r;
			outstanding -= r;
		}
		blk2_no_violations(bf, "running jobs");
		if (!got && outstanding)
			CHECK(blkfront_poll(bf, 10000) > 0,
			      "no completion in 10 s (%u outstanding)",
			      outstanding);
	}
}

/* ---------------------------------------------------- the backing file */

void blk2_file_read(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	CHECK(fd >= 0, "open %s", path);
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got,
				  (off_t)(off + got));

		CHECK(n > 0, "read %s at %llu: %s", path,
		      (unsigned long long)(off + got),
		      n < 0 ? strerror(errno) : "end of file");
		got += (size_t)n;
	}
	close(fd);
}

long blk2_file_diff(const char *path, uint64_t off, size_t len, uint32_t seed)
{
	uint8_t *b = malloc(len ? len : 1);
	long at = -1;

	CHECK(b, "malloc");
	blk2_file_read(path, off, b, len);
	if (seed) {
		at = blk_diff(b, len, seed, off);
	} else {
		for (size_t i = 0; i < len; i++)
			if (b[i]) {
				at = (long)i;
				break;
			}
	}
	free(b);
	return at;
}

uint64_t blk2_file_size(const char *path)
{
	struct stat sb;

	CHECK(stat(path, &sb) == 0, "stat %s", path);
	return (uint64_t)sb.st_size;
}

/* -------------------------------------------------- a guest's xenstore */

static struct xen_store *own_xs;
static pid_t own_xs_pid;

struct xen_store *blk2_store(void)
{
	/* A forked guest must not share its parent's connection. */
	if (!own_xs || own_xs_pid != getpid()) {
		own_xs = NULL;
		CHECK(xen_store_open(&own_xs) == 0, "open xenstore");
		own_xs_pid = getpid();
	}
	return own_xs;
}

long blk2_read_num(const char *path)
{
	unsigned long v;

	if (xen_store_read_uint(blk2_store(), XEN_TXN_NONE, path, UINT64_MAX,
				&v))
		return -1;
	return (long)v;
}

void blk2_write(const char *path, const char *val)
{
	int rc = xen_store_write(blk2_store(), XEN_TXN_NONE, path, val);

	CHECK(rc == 0, "write %s = %s: %s", path, val, strerror(-rc));
}

static long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

int blk2_wait_state(const char *path, unsigned int mask,
		    unsigned int timeout_ms, const char *what)
{
	long end = ms_now() + timeout_ms, v;

	for (;;) {
		v = blk2_read_num(path);
		if (v >= 0 && v < 32 && (mask & (1u << v)))
			return (int)v;
		CHECK(ms_now() < end, "%s: %s is %ld after %u ms", what, path,
		      v, timeout_ms);
		usleep(1000);
	}
}

/* --------------------------------------------------- a second daemon */

static struct {
	pid_t pid;
	pid_t owner;
	int passed;
	char log[PATH_MAX];
} second;

static void second_atexit(void)
{
	char cmd[PATH_MAX + 64];

	if (getpid() != second.owner || second.pid <= 0)
		return;
	kill(second.pid, SIGTERM);
	simenv_wait(second.pid);
	second.pid = 0;
	if (!second.passed) {
		snprintf(cmd, sizeof(cmd), "sed 's/^/    blkbackd#2: /' %s >&2",
			 second.log);
		if (system(cmd) != 0)
			fprintf(stderr, "(no log of the second daemon)\n");
	}
}

pid_t blk2_spawn_daemon(struct blk_scen *s, const char *log, ...)
{
	static char sets[16][256];
	char *argv[40];
	const char *kv;
	va_list ap;
	int i = 0, n = 0;

	CHECK(second.pid <= 0, "one second daemon only");
	argv[i++] = (char *)simenv_build("blkbackd");
	argv[i++] = "--log-level";
	argv[i++] = "debug";
	va_start(ap, log);
	while ((kv = va_arg(ap, const char *))) {
		CHECK(n < 16, "too many settings");
		snprintf(sets[n], sizeof(sets[n]), "%s", kv);
		argv[i++] = "--set";
		argv[i++] = sets[n++];
	}
	va_end(ap);
	argv[i] = NULL;
	snprintf(second.log, sizeof(second.log), "%s", log);
	second.owner = getpid();
	second.pid = simenv_spawn(&s->env, 0, log, argv);
	CHECK(second.pid > 0, "spawn the second blkbackd");
	/* Registered after blk_start's handler: runs before it. */
	atexit(second_atexit);
	usleep(100000);
	if (waitpid(second.pid, NULL, WNOHANG) == second.pid) {
		second.pid = 0;
		CHECK(0, "the second blkbackd exited at start");
	}
	return second.pid;
}

int blk2_pass(struct blk_scen *s)
{
	second.passed = 1;
	return blk_pass(s);
}

void blk2_flush_discard_read_back(struct blkfront *bf, struct blk2_job *j,
				  unsigned int n, unsigned int flushq,
				  uint8_t *wbuf, uint8_t *rbuf, size_t len,
				  uint64_t doff, uint64_t dlen,
				  const char *when)
{
	struct blkfront_done d;

	CHECK(blk2_do(bf, flushq, &(struct blkfront_io){ .op = BLKFRONT_FLUSH },
		      &d) == 0,
	      "%s: flush: %d", when, d.rsp_status);
	CHECK(blkfront_info(bf)->discard, "%s: no feature-discard", when);
	CHECK(blk2_do(bf, 0,
		      &(struct blkfront_io){ .op = BLKFRONT_DISCARD,
					     .sector = doff / 512,
					     .len = dlen },
		      &d) == 0,
	      "%s: discard: %d", when, d.rsp_status);
	for (unsigned int i = 0; i < n; i++) {
		j[i].op = BLKFRONT_READ;
		j[i].buf = rbuf + j[i].sector * 512;
	}
	memset(rbuf, 0xA5, len);
	blk2_run_jobs(bf, j, n, 1);
	memset(wbuf + doff, 0, dlen);
	CHECK(!memcmp(rbuf, wbuf, len),
	      "%s: the disk does not read back what was written", when);
	blk2_no_violations(bf, when);
}
