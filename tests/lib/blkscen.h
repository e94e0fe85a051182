/* SPDX-License-Identifier: MIT */
/*
 * blkscen.h - scaffolding for the tests that run blkbackd: an emulated host
 * (lib/simenv.h) with blkbackd in Dom0, backing files, the toolstack's vbd
 * add, and guest functions run in forked guest processes (which use the
 * userspace blkfront, tests/front/blkfront.h). The daemon is stopped at
 * exit and its log printed unless the test called blk_pass().
 *
 * Everything here exits the test on failure (CHECK), so a test reads as
 * its scenario. One scenario per test program.
 */
#ifndef PVBACK_TESTS_BLKSCEN_H
#define PVBACK_TESTS_BLKSCEN_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/simenv.h"

struct blk_scen {
	struct simenv env;
	pid_t daemon;
	char log[PATH_MAX];
	int passed;
};

/* Exit 77 (skip) with a message if build/blkbackd was not built. */
void blk_require_daemon(void);
/* Exit 77 if the fio engine or fio itself is missing; else its path. */
const char *blk_require_fio_engine(void);

/*
 * Start an emulated host with @guests guests and blkbackd in Dom0:
 * `blkbackd [@mode] --log-level debug --set run-dir=<instance> --set K=V`
 * for each "K=V" string of the NULL-terminated list after @mode (@mode
 * "--single", or NULL for the supervisor with a worker per guest).
 */
void blk_start(struct blk_scen *s, unsigned int guests, const char *mode, ...)
	__attribute__((sentinel));

/*
 * A sparse backing file of @bytes in the instance directory, filled with
 * zeros (or, if @seed != 0, with blk_pattern bytes for offset 0..). Returns
 * its path (static buffer, the next call reuses it).
 */
const char *blk_image(struct blk_scen *s, const char *name, uint64_t bytes,
		      uint32_t seed);

/*
 * The toolstack adds vbd (or vbd3) @fe/@devid with params=@img and
 * optional extra "be:K=V fe:K=V" pairs (@extra may be NULL), then waits for
 * the backend's InitWait (libxl's 10 s).
 */
void blk_add(struct blk_scen *s, const char *kind, unsigned int fe,
	     unsigned int devid, const char *img, const char *extra);
/*
 * As blk_add, for a disk that must fail before InitWait (a store that
 * cannot be opened): waits up to 10 s for the backend's Closing.
 */
void blk_add_failing(struct blk_scen *s, const char *kind, unsigned int fe,
		     unsigned int devid, const char *img, const char *extra);
/* Path of the backend directory (static buffer). */
const char *blk_be(const char *kind, unsigned int fe, unsigned int devid);

/* Read a node as Dom0; NULL if absent (static buffer). */
#define blk_read(s, ...) simenv_read(__VA_ARGS__)

/* Run fn(arg) as guest @domid in a child; returns its exit status. */
int blk_guest(struct blk_scen *s, unsigned int domid, int (*fn)(void *arg),
	      void *arg);

/*
 * The pid of the worker of @s's daemon (supervisor mode) serving guest
 * @dom, or 0 if there is none right now. Only this test's daemon's
 * children count: other tests may run beside.
 */
#define blk_worker_pid(s, dom) simenv_worker_pid((s)->daemon, "blkbackd", dom)
/*
 * Wait (5 s at most) for the worker serving guest @dom and, unless @key is
 * NULL, for its /proc status line "<@key>:\t<@value>" (e.g. "Seccomp",
 * "2": its filter is on); CHECKs both. Its pid.
 */
pid_t blk_wait_worker(struct blk_scen *s, unsigned int dom, const char *key,
		      const char *value);

/* The test passed: do not print the daemon log at exit. Returns 0. */
int blk_pass(struct blk_scen *s);

/* Deterministic test data: byte @off (absolute, in bytes) of stream @seed. */
static inline uint8_t blk_pattern(uint32_t seed, uint64_t off)
{
	uint64_t x = (off >> 3) * 0x9E3779B97F4A7C15ull ^ seed;

	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 32;
	return (uint8_t)(x >> ((off & 7) * 8));
}

void blk_fill(void *buf, size_t len, uint32_t seed, uint64_t off);
/* Offset of the first byte of @buf that differs from the stream, or -1. */
long blk_diff(const void *buf, size_t len, uint32_t seed, uint64_t off);

#endif
