// SPDX-License-Identifier: MIT
/*
 * xtscen.c - see xtscen.h.
 */
#include "lib/xtscen.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/check.h"

static struct xt_scen *xt_current;
static pid_t xt_owner; /* a guest child's exit must not stop the daemon */

static void xt_atexit(void)
{
	struct xt_scen *s = xt_current;
	char cmd[4200];

	if (!s || !s->daemon || getpid() != xt_owner)
		return;
	kill(s->daemon, SIGTERM);
	simenv_wait(s->daemon);
	s->daemon = 0;
	/* The daemon's log is the first thing to read when a test fails. */
	snprintf(cmd, sizeof(cmd), "sed 's/^/    xtestd: /' %s >&2", s->log);
	if (system(cmd) != 0)
		fprintf(stderr, "(no daemon log)\n");
}

void xt_start(struct xt_scen *s, unsigned int guests, const char *mode)
{
	xt_start2(s, guests, mode, NULL);
}

/* simenv_daemon takes the settings as a va_list: none here. */
static pid_t xt_spawn(struct xt_scen *s, const char *const *opts, ...)
{
	va_list ap;
	pid_t pid;

	va_start(ap, opts);
	pid = simenv_daemon(&s->env, NULL, "tests/testd/xtestd", opts, ap,
			    s->log);
	va_end(ap);
	return pid;
}

void xt_start2(struct xt_scen *s, unsigned int guests, const char *mode,
	       const char *opt)
{
	const char *opts[] = { mode ? mode : opt, mode ? opt : NULL, NULL };

	memset(s, 0, sizeof(*s));
	CHECK(simenv_up(&s->env, guests) == 0, "xensim up");
	snprintf(s->log, sizeof(s->log), "%s/xtestd.log", s->env.dir);
	s->daemon = xt_spawn(s, opts, NULL);
	/* Registered after simenv's own handler, so it runs first. */
	xt_current = s;
	xt_owner = getpid();
	atexit(xt_atexit);
	simenv_become(&s->env, 0);
}

void xt_add(struct xt_scen *s, unsigned int fe, unsigned int devid)
{
	CHECK(simenv_xensim(&s->env, "device-add", "xtest %u %u", fe, devid) ==
		      0,
	      "device-add xtest %u %u", fe, devid);
}

const char *xt_be(unsigned int fe, unsigned int devid)
{
	static char p[128];

	snprintf(p, sizeof(p), "/local/domain/0/backend/xtest/%u/%u", fe,
		 devid);
	return p;
}

int xt_guest_connect(struct xt_guest *g, unsigned int devid, unsigned int nq,
		     int style)
{
	xen_txn_t t;
	unsigned int i;
	int rc, s;

	memset(g, 0, sizeof(*g));
	g->nq = nq;
	rc = xfront_open(&g->f, "xtest", devid);
	if (rc) {
		fprintf(stderr, "guest: xfront_open: %s\n", strerror(-rc));
		return rc;
	}
	s = xfront_wait_be(&g->f, XF_STATE(2), 10000);
	if (s != 2) {
		fprintf(stderr, "guest: backend never reached InitWait (%d)\n",
			s);
		return s < 0 ? s : -EPROTO;
	}
	rc = xen_gntshr_open(&g->gs);
	if (!rc)
		rc = xen_evtchn_open(&g->xe);
	if (rc) {
		fprintf(stderr, "guest: open handles: %s\n", strerror(-rc));
		return rc;
	}
	for (i = 0; i < nq; i++) {
		rc = xen_gntshr_share(g->gs, g->f.be_domid, 1, 1, &g->ref[i],
				      &g->ring[i]);
		if (rc)
			return rc;
		g->port[i] = xen_evtchn_alloc_unbound(g->xe, g->f.be_domid);
		if (g->port[i] < 0)
			return g->port[i];
	}
	do {
		rc = xen_store_txn_start(g->f.xs, &t);
		if (rc)
			return rc;
		if (nq > 1 || style == XT_WINDOWS)
			rc = xfront_write(&g->f, t, "multi-queue-num-queues",
					  "%u", nq);
		for (i = 0; i < nq && !rc; i++) {
			if (nq == 1) {
				rc = xfront_write(&g->f, t, "ring-ref", "%u",
						  g->ref[i])
					     ?: xfront_write(&g->f, t,
							     "event-channel",
							     "%d", g->port[i]);
			} else {
				char k[32];

				snprintf(k, sizeof(k), "queue-%u/ring-ref", i);
				rc = xfront_write(&g->f, t, k, "%u", g->ref[i]);
				snprintf(k, sizeof(k), "queue-%u/event-channel",
					 i);
				rc = rc
					     ?: xfront_write(&g->f, t, k, "%d",
							     g->port[i]);
			}
		}
		rc = rc ?: xfront_write(&g->f, t, "protocol", "x86_64-abi");
		if (rc) {
			xen_store_txn_end(g->f.xs, t, 1);
			return rc;
		}
		rc = xen_store_txn_end(g->f.xs, t, 0);
	} while (rc == -EAGAIN);
	if (rc)
		return rc;
	rc = xfront_set_state(&g->f, 3);
	if (rc)
		return rc;
	s = xfront_wait_be(&g->f, XF_STATE(4) | XF_STATE(5) | XF_STATE(6),
			   10000);
	if (s != 4) {
		fprintf(stderr, "guest: backend did not connect (state %d)\n",
			s);
		return s < 0 ? s : -EPROTO;
	}
	return xfront_set_state(&g->f, 4);
}

void xt_guest_release(struct xt_guest *g)
{
	unsigned int i;

	for (i = 0; i < g->nq; i++) {
		if (g->port[i] > 0)
			xen_evtchn_unbind(g->xe, g->port[i]);
		if (g->ring[i])
			xen_gntshr_unshare(g->gs, g->ring[i], 1);
	}
	g->nq = 0;
}
