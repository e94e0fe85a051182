// SPDX-License-Identifier: MIT
/*
 * blkscen.c - see blkscen.h. The daemon is started through simenv_spawn
 * as Dom0; the toolstack is `xensim device-add` (xensim-ctl), so these
 * tests see the keys libxl would write.
 */
#include "lib/blkscen.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/xen.h"
#include "lib/check.h"

/*
 * What the exit handler needs, kept here: the caller's struct may live on a
 * stack frame that is gone when atexit handlers run.
 */
static struct {
	pid_t daemon;
	pid_t owner; /* a guest child's exit must not stop the daemon */
	int passed;
	char log[PATH_MAX];
} blk_exit;

static void blk_atexit(void)
{
	char cmd[PATH_MAX + 64];

	if (getpid() != blk_exit.owner)
		return;
	if (blk_exit.daemon > 0) {
		kill(blk_exit.daemon, SIGTERM);
		simenv_wait(blk_exit.daemon);
		blk_exit.daemon = 0;
	}
	if (!blk_exit.passed) {
		/* The daemon's log is the first thing to read on a failure. */
		snprintf(cmd, sizeof(cmd), "sed 's/^/    blkbackd: /' %s >&2",
			 blk_exit.log);
		if (system(cmd) != 0)
			fprintf(stderr, "(no daemon log)\n");
	}
}

void blk_require_daemon(void)
{
	const char *d = simenv_build("blkbackd");

	if (access(d, X_OK))
		SKIP("%s not built", d);
}

const char *blk_require_fio_engine(void)
{
	static char path[PATH_MAX], abs[PATH_MAX * 2];
	char cwd[PATH_MAX];

	snprintf(path, sizeof(path), "%s",
		 simenv_build("fio/pvback-blkfront.so"));
	if (system("fio --version >/dev/null 2>&1") != 0)
		SKIP("fio is not installed (scripts/deps.sh)");
	if (access(path, R_OK))
		SKIP("%s not built (make fio-engine: needs fio's source from "
		     "the Debian archive)",
		     path);
	/* fio runs from another directory's point of view: make it absolute. */
	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return path;
	snprintf(abs, sizeof(abs), "%s/%s", cwd, path);
	return abs;
}

void blk_start(struct blk_scen *s, unsigned int guests, const char *mode, ...)
{
	const char *opts[] = { mode, NULL };
	va_list ap;

	memset(s, 0, sizeof(*s));
	blk_require_daemon();
	CHECK(simenv_up(&s->env, guests) == 0, "xensim up");
	snprintf(s->log, sizeof(s->log), "%s/blkbackd.log", s->env.dir);
	va_start(ap, mode);
	s->daemon = simenv_daemon(&s->env, NULL, "blkbackd", opts, ap, s->log);
	va_end(ap);
	/* Registered after simenv's own handler, so it runs first. */
	blk_exit.daemon = s->daemon;
	blk_exit.owner = getpid();
	blk_exit.passed = 0;
	snprintf(blk_exit.log, sizeof(blk_exit.log), "%s", s->log);
	atexit(blk_atexit);
	simenv_become(&s->env, 0);
}

void blk_fill(void *buf, size_t len, uint32_t seed, uint64_t off)
{
	uint8_t *b = buf;

	for (size_t i = 0; i < len; i++)
		b[i] = blk_pattern(seed, off + i);
}

long blk_diff(const void *buf, size_t len, uint32_t seed, uint64_t off)
{
	const uint8_t *b = buf;

	for (size_t i = 0; i < len; i++)
		if (b[i] != blk_pattern(seed, off + i))
			return (long)i;
	return -1;
}

const char *blk_image(struct blk_scen *s, const char *name, uint64_t bytes,
		      uint32_t seed)
{
	static char path[PATH_MAX + 256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", s->env.dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0, "create %s", path);
	CHECK(ftruncate(fd, (off_t)bytes) == 0, "size %s", path);
	if (seed) {
		static uint8_t buf[1 << 16];

		for (uint64_t off = 0; off < bytes; off += sizeof(buf)) {
			size_t n = bytes - off < sizeof(buf) ? bytes - off
							     : sizeof(buf);

			blk_fill(buf, n, seed, off);
			CHECK(pwrite(fd, buf, n, (off_t)off) == (ssize_t)n,
			      "fill %s", path);
		}
	}
	close(fd);
	return path;
}

const char *blk_be(const char *kind, unsigned int fe, unsigned int devid)
{
	static char p[128];

	snprintf(p, sizeof(p), "/local/domain/0/backend/%s/%u/%u", kind, fe,
		 devid);
	return p;
}

static void blk_add_wait(struct blk_scen *s, const char *kind, unsigned int fe,
			 unsigned int devid, const char *img, const char *extra,
			 const char *want)
{
	char be[160];
	const char *v = NULL;
	int waited;

	CHECK(simenv_xensim(&s->env, "device-add", "%s %u %u be:params=%s %s",
			    kind, fe, devid, img, extra ? extra : "") == 0,
	      "device-add %s %u %u", kind, fe, devid);
	snprintf(be, sizeof(be), "%s/state", blk_be(kind, fe, devid));
	/* libxl gives the backend 10 s to reach InitWait. */
	for (waited = 0; waited < 10000; waited += 10) {
		v = blk_read(s, "%s", be);
		if (v && !strcmp(v, want))
			return;
		usleep(10000);
	}
	CHECK(0, "backend %s did not reach state %s in 10 s (state %s)", be,
	      want, v ? v : "absent");
}

void blk_add(struct blk_scen *s, const char *kind, unsigned int fe,
	     unsigned int devid, const char *img, const char *extra)
{
	blk_add_wait(s, kind, fe, devid, img, extra, "2");
}

void blk_add_failing(struct blk_scen *s, const char *kind, unsigned int fe,
		     unsigned int devid, const char *img, const char *extra)
{
	blk_add_wait(s, kind, fe, devid, img, extra, "5");
}

int blk_guest(struct blk_scen *s, unsigned int domid, int (*fn)(void *arg),
	      void *arg)
{
	pid_t pid = simenv_fork_as(&s->env, domid, fn, arg);

	CHECK(pid > 0, "fork guest %u", domid);
	return simenv_wait(pid);
}

int blk_pass(struct blk_scen *s)
{
	s->passed = blk_exit.passed = 1;
	return TEST_PASS;
}

pid_t blk_wait_worker(struct blk_scen *s, unsigned int dom, const char *key,
		      const char *value)
{
	pid_t w = 0;
	int i;

	for (i = 0; i < 500 && !(w = blk_worker_pid(s, dom)); i++)
		usleep(10000);
	CHECK(w > 0, "no worker for guest %u", dom);
	if (!key)
		return w;
	for (i = 0; i < 500 && !simenv_status_has(w, key, value); i++)
		usleep(10000);
	CHECK(simenv_status_has(w, key, value), "worker %d: no \"%s: %s\"",
	      (int)w, key, value);
	return w;
}
