/* SPDX-License-Identifier: MIT */
/*
 * blkscen2.h - more scaffolding for the blkbackd behaviour tests, beside
 * blkscen.h (which sets up the host, the daemon and the devices): what a
 * guest function needs to ask one precise question of the backend and
 * check the whole answer (status, op, order of completion), a second
 * daemon on the same host, the backing file seen from outside, and a
 * guest's own xenstore handle for the handshake steps the userspace
 * blkfront does not expose (online resize, the kexec reset by hand).
 *
 * Like blkscen, everything here exits the test on failure (CHECK). The
 * I/O helpers are called by one guest thread; the file helpers anywhere.
 */
#ifndef PVBACK_TESTS_BLKSCEN2_H
#define PVBACK_TESTS_BLKSCEN2_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/xen.h"
#include "front/blkfront.h"
#include "lib/blkscen.h"

/* blkfront_connect, or exit with blkfront's reason. */
struct blkfront *blk2_connect(const struct blkfront_cfg *cfg);

/*
 * Submit @io on queue @q (which must have nothing in flight), kick, wait up
 * to 10 s for its completion into *@d. Returns d->status.
 */
int blk2_do(struct blkfront *bf, unsigned int q, const struct blkfront_io *io,
	    struct blkfront_done *d);
/* The same for a hand-made request (blkfront_put_raw, tracked). */
int blk2_do_raw(struct blkfront *bf, unsigned int q,
		const struct ring_blkif_req *req, struct blkfront_done *d);
/* Exit if the backend broke a blkfront invariant; @when names the step. */
void blk2_no_violations(struct blkfront *bf, const char *when);

/*
 * Reap whatever queue @q has (up to @max) within @timeout_ms, appending
 * to @d; returns how many. A helper for tests that watch the order in
 * which completions come.
 */
unsigned int blk2_reap(struct blkfront *bf, unsigned int q,
		       struct blkfront_done *d, unsigned int max,
		       int timeout_ms);

/*
 * A batch of data requests run asynchronously, each queue kept as full as
 * it gets, until all completed; a job's status is recorded, and with
 * @must_succeed any failure exits naming the job.
 */
struct blk2_job {
	uint8_t op; /* enum blkfront_op */
	uint8_t page_off;
	unsigned int q;
	uint64_t sector;
	void *buf;
	size_t len;
	int status;
	int done; /* completions seen (exactly 1 at the end) */
};
void blk2_run_jobs(struct blkfront *bf, struct blk2_job *j, unsigned int n,
		   int must_succeed);
/*
 * After the @n WRITE jobs @j wrote @wbuf (@len bytes, each job's buffer at
 * its sector * 512): a FLUSH on queue @flushq, a DISCARD of [@doff, @doff +
 * @dlen) on queue 0, every job read back into @rbuf, which must hold
 * @wbuf with the discarded range zero (@wbuf is made so). CHECKs; @when
 * names the moment.
 */
void blk2_flush_discard_read_back(struct blkfront *bf, struct blk2_job *j,
				  unsigned int n, unsigned int flushq,
				  uint8_t *wbuf, uint8_t *rbuf, size_t len,
				  uint64_t doff, uint64_t dlen,
				  const char *when);

/* ---------------------------------------------------- the backing file */

/* pread @len bytes at @off of @path (exit on a short read). */
void blk2_file_read(const char *path, uint64_t off, void *buf, size_t len);
/*
 * Offset (from @off) of the first byte of [@off, +@len) of @path that is
 * not blk_pattern(@seed) (@seed 0: not zero), or -1.
 */
long blk2_file_diff(const char *path, uint64_t off, size_t len, uint32_t seed);
/* Size of @path in bytes. */
uint64_t blk2_file_size(const char *path);

/* -------------------------------------------------- a guest's xenstore */

/* A xenstore handle of this process (opened once, as the current domain). */
struct xen_store *blk2_store(void);
/* Read @path as a number; -1 if absent or not a number. */
long blk2_read_num(const char *path);
void blk2_write(const char *path, const char *val);
/*
 * Wait (polling every millisecond) until the number at @path is one of the
 * states in @mask (bit n = value n); returns it, or exits after
 * @timeout_ms naming @what.
 */
int blk2_wait_state(const char *path, unsigned int mask,
		    unsigned int timeout_ms, const char *what);

/* --------------------------------------------------- a second daemon */

/*
 * Start another blkbackd in Dom0 of @s's host (after blk_start), with
 * `--log-level debug --set K=V` for each string of the NULL-terminated
 * list: give it other kinds and another run-dir than the first. Its log
 * goes to @log. It is stopped at exit, and its log printed then unless the
 * test called blk2_pass().
 */
pid_t blk2_spawn_daemon(struct blk_scen *s, const char *log, ...)
	__attribute__((sentinel));
/* The test passed: blk_pass(), and no second daemon's log either. */
int blk2_pass(struct blk_scen *s);

#endif
