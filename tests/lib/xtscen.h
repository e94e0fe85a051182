/* SPDX-License-Identifier: MIT */
/*
 * xtscen.h - scaffolding for the xenbus tests against the test backend
 * xtestd (device kind "xtest"): an emulated host with xtestd running in
 * Dom0, the toolstack's device add/remove, and a guest-side frontend that
 * replays Linux blkfront's connect sequence (or Windows xenvbd's).
 */
#ifndef PVBACK_TESTS_XTSCEN_H
#define PVBACK_TESTS_XTSCEN_H

#include <stdint.h>
#include <sys/types.h>

#include "front/xfront.h"
#include "lib/simenv.h"

struct xt_scen {
	struct simenv env;
	pid_t daemon;
	char log[4096];
};

/*
 * Start an emulated host with @guests guests and xtestd in Dom0 with
 * @mode ("--single", or NULL for supervisor + workers). Exits the test on
 * failure; the daemon is stopped (and its log printed) at exit.
 */
void xt_start(struct xt_scen *s, unsigned int guests, const char *mode);
/* As xt_start, with a second daemon option (e.g. "--net"). */
void xt_start2(struct xt_scen *s, unsigned int guests, const char *mode,
	       const char *opt);
/* The toolstack adds device xtest/<fe>/<devid>. Exits the test on failure. */
void xt_add(struct xt_scen *s, unsigned int fe, unsigned int devid);
/* Path of Dom0's backend directory of that device. */
const char *xt_be(unsigned int fe, unsigned int devid);

/* Read Dom0's view of a node; wait until it reads @value (lib/simenv.h). */
#define xt_read(s, ...) simenv_read(__VA_ARGS__)
#define xt_wait_value(s, path, value, ms) simenv_wait_value(path, value, ms)

/* --- guest side: run in a process that is the guest (simenv_fork_as). */
struct xt_guest {
	struct xfront f;
	struct xen_gntshr *gs;
	struct xen_evtchn *xe;
	void *ring[2];
	uint32_t ref[2];
	int port[2];
	unsigned int nq;
};

#define XT_LINUX 0   /* multi-queue-num-queues only when > 1 */
#define XT_WINDOWS 1 /* multi-queue-num-queues always, even 1 */

/*
 * Linux blkfront's talk_to_blkback + connect on device @devid: wait for
 * InitWait, share a ring page and allocate an event channel per queue,
 * write the keys in one transaction, Initialised, wait for Connected,
 * Connected. 0, or a negative errno / -ETIMEDOUT (with a message on stderr).
 */
int xt_guest_connect(struct xt_guest *g, unsigned int devid, unsigned int nq,
		     int style);
/* Free the rings and ports (the frontend's part of a disconnect). */
void xt_guest_release(struct xt_guest *g);

#endif
