/* SPDX-License-Identifier: MIT */
/*
 * xfront.h - the frontend half of the xenbus handshake, for userspace
 * frontends (tests, fuzzers, benchmarks) in a guest, emulated or real.
 *
 * Built on common/xen.h only, so it runs wherever the real libraries do.
 * A struct xfront is one device's frontend directory,
 * /local/domain/<self>/device/<kind>/<devid>, and the backend path it
 * names. Blocking calls with timeouts; one thread.
 */
#ifndef PVBACK_FRONT_XFRONT_H
#define PVBACK_FRONT_XFRONT_H

#include "common/xen.h"

struct xfront {
	struct xen_store *xs;
	unsigned int self; /* our domid */
	unsigned int be_domid;
	char fe_path[256];
	char be_path[256];
};

/*
 * Open the frontend directory device/<kind>/<devid> of this domain and read
 * its backend path and id. 0/-errno (-ENOENT: no such device).
 */
int xfront_open(struct xfront *f, const char *kind, unsigned int devid);
void xfront_close(struct xfront *f);

/* Write our state. 0/-errno. */
int xfront_set_state(struct xfront *f, int state);
/* Read the backend's state; -ENOENT if its directory is gone. */
int xfront_be_state(struct xfront *f);
/*
 * Wait until the backend state is one of the states in @mask (bit n = state
 * n) or its directory vanishes (bit 0). Returns the state, or -ETIMEDOUT.
 */
int xfront_wait_be(struct xfront *f, unsigned int mask,
		   unsigned int timeout_ms);
#define XF_STATE(s) (1U << (s))

/* Write fe/@node = printf(@fmt) (in @t, or XEN_TXN_NONE). */
int xfront_write(struct xfront *f, xen_txn_t t, const char *node,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Read be/@node (malloc'd, free it). */
int xfront_read_be(struct xfront *f, const char *node, char **val);
int xfront_read_be_uint(struct xfront *f, const char *node, unsigned long max,
			unsigned long *v);

#endif
