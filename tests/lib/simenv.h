/* SPDX-License-Identifier: MIT */
/*
 * simenv.h - an emulated Xen host for one test program.
 *
 * simenv_up() starts a private xensim instance (tests/xensim/xensim up) in a
 * fresh directory under $TMPDIR, with Dom0 and guests 1..N; simenv_down()
 * stops it and removes the directory (also registered with atexit, so a
 * failing CHECK does not leave a daemon behind). simenv_become() makes the
 * calling process a given domain for every Xen handle it opens afterwards:
 * the real libxenstore through XENSTORED_PATH, the drop-in libxengnttab and
 * libxenevtchn through XENSIM_DIR / XENSIM_DOMID. Fork first to be two
 * domains at once.
 *
 * The test runner sets LD_LIBRARY_PATH so the drop-in libraries are loaded;
 * PVBACK_SRC / PVBACK_BUILD locate the tree (defaults: ".", "build").
 */
#ifndef PVBACK_TESTS_SIMENV_H
#define PVBACK_TESTS_SIMENV_H

#include <limits.h>
#include <stdarg.h>
#include <sys/types.h>

struct simenv {
	char dir[PATH_MAX]; /* the instance's state directory */
	int up;
};

/* Start an instance with @guests guest domains (1..@guests). 0/-errno. */
int simenv_up(struct simenv *env, unsigned int guests);
/* Stop it and remove its directory. Safe to call twice. */
void simenv_down(struct simenv *env);
/* Make this process domain @domid for handles opened from now on. */
void simenv_become(const struct simenv *env, unsigned int domid);
/*
 * Fork a child that becomes @domid and runs fn(arg); its return value is the
 * child's exit status. Returns the pid or -errno.
 */
pid_t simenv_fork_as(const struct simenv *env, unsigned int domid,
		     int (*fn)(void *arg), void *arg);
/* Wait for @pid and return its exit status (128+signal if killed). */
int simenv_wait(pid_t pid);
/*
 * Run the shell command @cmd as domain @domid (through `xensim run`) and
 * return its exit status; its stdout, if @out is not NULL, is stored there
 * (at most @outlen - 1 bytes, NUL-terminated, trailing newline removed).
 * @cmd is run inside single quotes: it must not contain one.
 */
int simenv_sh(const struct simenv *env, unsigned int domid, char *out,
	      size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/*
 * Run `xensim @cmd --dir <instance> @args` (e.g. "device-add",
 * "xtest 1 51712") and return its exit status.
 */
int simenv_xensim(const struct simenv *env, const char *cmd, const char *fmt,
		  ...) __attribute__((format(printf, 3, 4)));
/*
 * Start @argv (argv[0] a path) as domain @domid in the background, its
 * stdout and stderr appended to @log. Returns the pid or -errno.
 */
pid_t simenv_spawn(const struct simenv *env, unsigned int domid,
		   const char *log, char *const argv[]);
/* 1 if /proc/<@pid>/status has the line "<@key>:\t<@value>", else 0. */
int simenv_status_has(pid_t pid, const char *key, const char *value);
/* Path of a file under the source tree (static buffer, next call reuses). */
const char *simenv_src(const char *rel);
/* Path of a file under the build tree (static buffer, next call reuses). */
const char *simenv_build(const char *rel);

/*
 * In `--stats --json` output, the sum over the queues of the counter @key
 * (e.g. "tx_packets", "storm_backoffs") of the device @device
 * ("vif/1/0", "vbd/2/51712"); -1 if absent.
 */
long long simenv_stat_value(const char *json, const char *device,
			    const char *key);

/*
 * Start the daemon @name (a path under the build tree, e.g. "blkbackd")
 * as Dom0, behind the NULL-terminated argv prefix @wrap (may be NULL, e.g.
 * "unshare", "-n", "--"), with the options @opts (NULL-terminated, may be
 * NULL, e.g. "--single"), --log-level debug, --set run-dir=<instance> and
 * --set K=V for each "K=V" string of @sets up to a NULL (at most 16); its
 * output appended to @log. CHECKs that it did not exit at once (a daemon
 * that refuses its options does), printing its log if it did. Its pid.
 */
pid_t simenv_daemon(const struct simenv *env, const char *const *wrap,
		    const char *name, const char *const *opts, va_list sets,
		    const char *log);
/*
 * Read a node as Dom0 (the caller became Dom0: simenv_become(env, 0));
 * NULL if absent. Static buffer, the next call reuses it.
 */
const char *simenv_read(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/*
 * The pid of the worker of the supervisor @daemon (a process named @name,
 * e.g. "netbackd") serving guest @dom, or 0 if there is none right now.
 * Only @daemon's children count: other tests may run beside.
 */
pid_t simenv_worker_pid(pid_t daemon, const char *name, unsigned int dom);
/* Write a node as Dom0; CHECKs. */
void simenv_write(const char *path, const char *val);
/* Wait until @path reads @val, polling as Dom0: 0, or -ETIMEDOUT. */
int simenv_wait_value(const char *path, const char *val,
		      unsigned int timeout_ms);

#endif
