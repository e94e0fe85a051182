/* SPDX-License-Identifier: MIT */
/*
 * stats.h - the daemons' control socket, and the client side of it.
 *
 * Each daemon process (a worker, or a --single daemon) listens on a unix
 * stream socket <run-dir>/<name>.sock. A client connects, writes one
 * request line ("stats" or "stats json") and reads the answer until the
 * daemon closes the connection. The server runs on one loop's thread (the
 * control thread) and answers through a callback that writes to a stdio
 * stream. Only the socket's owner (root) may connect (mode 0600).
 */
#ifndef PVBACK_COMMON_STATS_H
#define PVBACK_COMMON_STATS_H

#include <stdio.h>

#include "common/loop.h"

struct stats_srv;

/*
 * Listen on @path (an old socket there is replaced). For every request,
 * fn(@arg, request line, out) runs on @loop's thread and writes the
 * answer to @out. 0/-errno.
 */
int stats_srv_create(struct loop *loop, const char *path,
		     void (*fn)(void *arg, const char *req, FILE *out),
		     void *arg, struct stats_srv **out);
/* Stop listening, remove the socket. NULL-safe. */
void stats_srv_destroy(struct stats_srv *s);

/*
 * Send @req to every socket in @dir whose name starts with @prefix and ends
 * in ".sock", copying each non-empty answer to @out, with @sep between two
 * of them (e.g. "," to join JSON lists). Returns the number of daemons
 * that answered, or -errno (-ENOENT: none is running).
 */
int stats_query(const char *dir, const char *prefix, const char *req,
		const char *sep, FILE *out);

#endif
