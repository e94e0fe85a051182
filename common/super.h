/* SPDX-License-Identifier: MIT */
/*
 * super.h - the supervisor: one worker process per guest domain.
 *
 * The supervisor watches /local/domain/<self>/backend/<kind> for each
 * configured kind and keeps one worker process for every frontend domain
 * that has at least one device directory there. A worker is the daemon
 * itself, re-executed with "--worker <domid>" appended to its arguments (a
 * fresh image: nothing of the supervisor's threads or handles leaks into
 * it, and it can be sandboxed for that one guest). The worker owns all the
 * devices of its guest and exits when none is left.
 *
 * A worker that dies is reaped and logged with the reason (exit status or
 * signal, core dump) and started again if its domain still has devices;
 * one that keeps dying quickly is restarted with an exponential backoff.
 * Other guests' workers are never touched. Runs on one loop's thread.
 */
#ifndef PVBACK_COMMON_SUPER_H
#define PVBACK_COMMON_SUPER_H

#include <sys/types.h>

#include "common/loop.h"

struct super;

struct super_cfg {
	const char *const *kinds; /* NULL-terminated backend kinds */
	char *const *argv;	  /* the daemon's own argv, NULL-terminated */
	const char *exe;	  /* path to exec; NULL: /proc/self/exe */
	unsigned int backoff_max_ms; /* 0: 30 s */
};

/* Start supervising on @loop's thread (also spawns the first workers). */
int super_create(struct loop *loop, const struct super_cfg *cfg,
		 struct super **out);
/*
 * Stop: SIGTERM every worker, wait up to @grace_ms, then SIGKILL the rest
 * and reap them. Frees @sv. NULL-safe.
 */
void super_destroy(struct super *sv, unsigned int grace_ms);

/* The pid of the worker for @fe_domid, or 0 if none runs. */
pid_t super_worker_pid(const struct super *sv, unsigned int fe_domid);
/* Workers started so far for @fe_domid (first start included). */
unsigned int super_worker_starts(const struct super *sv, unsigned int fe_domid);

#endif
