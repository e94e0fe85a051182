/* SPDX-License-Identifier: MIT */
/*
 * fiorun.h - real fio run as a guest through the blkfront ioengine
 * (tests/fio/pvback-blkfront.c), and what blkbackd counted for the disk
 * it drove. Shared by the tests/blk-fio-*.c programs.
 *
 * fiorun_run() runs one fio command as a guest of an emulated host
 * (lib/simenv.h, `xensim run`), from the instance directory (a verify job
 * that writes keeps its verify state in the cwd), with fio's normal and
 * JSON reports on stdout. fio's stdout and stderr are kept in
 * <instance>/fio-<tag>.out. The run passed when fio exited 0, its JSON
 * report was found and the job's error is 0, the output names no corrupt
 * block (fio's "verify: bad ...", "bad magic", "crc32c: verify failed")
 * and the engine did not complain (its messages start "pvback-blkfront:",
 * e.g. a blkfront invariant violation). Only the first job of the report is
 * read: one job per fio run (the engine allows one job per device anyway).
 *
 * fiorun_backend() asks the running blkbackd for its counters
 * (`blkbackd --stats --json`, the instance directory as run-dir) and adds
 * up one device's queues. blkbackd keeps a device's counters across
 * connections, so a disk used by one fio run only shows that run.
 *
 * For the test's main process or its forked scenario processes: these fork
 * and wait for children and use static buffers, so not from threads.
 */
#ifndef PVBACK_TESTS_FIORUN_H
#define PVBACK_TESTS_FIORUN_H

#include <limits.h>

#include "lib/simenv.h"

struct fiorun_result {
	char out[PATH_MAX + 64];	/* fio's stdout and stderr */
	int status;			/* fio's exit status */
	int report;			/* 1: the JSON report was read */
	unsigned long long error;	/* the job's error (an errno) */
	unsigned long long read_bytes;	/* bytes read, verify reads too */
	unsigned long long write_bytes; /* bytes written */
	char why[192];			/* "" if the run passed, else why not */
};

/*
 * Run, as domain @domid of @env, in its instance directory:
 *   fio --ioengine=external:@engine_so --output-format=normal,json @opts
 * (@opts holds the job: at least --name and the engine's --devid; it must
 * not contain a single quote). @tag names the output file and @r->why.
 * Fills @r. Returns 0 if the run passed (see above), -EIO if not (then
 * @r->why says what failed first). Blocks until fio exits.
 */
int fiorun_run(const struct simenv *env, unsigned int domid,
	       const char *engine_so, const char *tag, const char *opts,
	       struct fiorun_result *r);

/*
 * Print fio's output (@r->out) but its JSON report to stderr, each line
 * prefixed "    fio: ".
 */
void fiorun_show(const struct fiorun_result *r);

/*
 * fiorun_run(), and if the run did not pass, print fio's output and exit
 * the test (CHECK) saying why. Returns only when it passed.
 */
void fiorun_check(const struct simenv *env, unsigned int domid,
		  const char *engine_so, const char *tag, const char *opts,
		  struct fiorun_result *r);

#define FIORUN_MAX_QUEUES 16

/* One device's counters in blkbackd, each summed over its queues. */
struct fiorun_backend {
	unsigned int queues; /* queues it has counters for */
	unsigned long long queue_requests[FIORUN_MAX_QUEUES]; /* per queue */
	unsigned long long requests;			      /* every class */
	unsigned long long indirect_read, indirect_write;
	unsigned long long sectors_read, sectors_written;
	unsigned long long errors; /* every cause */
	unsigned long long persistent_maps, persistent_hits;
};

/*
 * Fill @b with the counters of device @dev ("vbd/1/51712") from the
 * blkbackd running with run-dir = @env's instance directory. Blocks until
 * `blkbackd --stats --json` answers. Returns 0; -ENOENT if it failed (no
 * daemon answered) or does not list @dev; -EIO if its output is not what
 * blkbackd writes (blk_dump_stats in blkback/xenbus.c); -ENOMEM or another
 * -errno if it could not be run.
 */
int fiorun_backend(const struct simenv *env, const char *dev,
		   struct fiorun_backend *b);

/*
 * Run @scenario(engine, fio engine path) once for blkbackd's "uring" and
 * once for its "aio" engine, each in a child process of its own (a fresh
 * emulated host each time), and CHECK that both exited 0; @what names the
 * scenario in the failure message. Returns TEST_PASS.
 */
int fiorun_each_engine(int (*scenario)(const char *engine, const char *so),
		       const char *what);

#endif
