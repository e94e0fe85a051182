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
static struct xen_store *dom0_xs;
static pid_t xt_owner;	/* a guest child's exit must not stop the daemon */

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
	xen_store_close(dom0_xs);
	dom0_xs = NULL;
}

void xt_start(struct xt_scen *s, unsigned int guests, const char *mode)
{
	xt_start2(s, guests, mode, NULL);
}

void xt_start2(struct xt_scen *s, unsigned int guests, const char *mode,
	       const char *opt)
{
	char *argv[6];
	int i = 0;

	memset(s, 0, sizeof(*s));
	CHECK(simenv_up(&s->env, guests) == 0, "xensim up");
	snprintf(s->log, sizeof(s->log), "%s/xtestd.log", s->env.dir);
	argv[i++] = (char *)simenv_build("tests/testd/xtestd");
	argv[i++] = "--log-level";
	argv[i++] = "debug";
	if (mode)
		argv[i++] = (char *)mode;
	if (opt)
		argv[i++] = (char *)opt;
	argv[i] = NULL;
	s->daemon = simenv_spawn(&s->env, 0, s->log, argv);
	CHECK(s->daemon > 0, "spawn xtestd");
	/* Registered after simenv's own handler, so it runs first. */
	xt_current = s;
	xt_owner = getpid();
	atexit(xt_atexit);
	simenv_become(&s->env, 0);
	CHECK(xen_store_open(&dom0_xs) == 0, "Dom0 xenstore");
}

void xt_add(struct xt_scen *s, unsigned int fe, unsigned int devid)
{
	CHECK(simenv_xensim(&s->env, "device-add", "xtest %u %u", fe, devid) == 0,
	      "device-add xtest %u %u", fe, devid);
}

const char *xt_be(unsigned int fe, unsigned int devid)
{
	static char p[128];

	snprintf(p, sizeof(p), "/local/domain/0/backend/xtest/%u/%u", fe, devid);
	return p;
}

const char *xt_read(struct xt_scen *s, const char *fmt, ...)
{
	static char val[1024];
	char path[512], *v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (xen_store_read(dom0_xs, XEN_TXN_NONE, path, &v, NULL))
		return NULL;
	snprintf(val, sizeof(val), "%s", v);
	free(v);
	return val;
}

int xt_wait_value(struct xt_scen *s, const char *path, const char *value,
		  unsigned int timeout_ms)
{
	unsigned int waited;

	/* Polling keeps this independent of the code under test's watches. */
	for (waited = 0; waited <= timeout_ms; waited += 10) {
		const char *v = xt_read(s, "%s", path);

		if (v && !strcmp(v, value))
			return 0;
		if (!v && !value)
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
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
		fprintf(stderr, "guest: backend never reached InitWait (%d)\n", s);
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
			rc = xfront_write(&g->f, t, "multi-queue-num-queues", "%u", nq);
		for (i = 0; i < nq && !rc; i++) {
			if (nq == 1) {
				rc = xfront_write(&g->f, t, "ring-ref", "%u", g->ref[i]) ?:
				     xfront_write(&g->f, t, "event-channel", "%d",
						  g->port[i]);
			} else {
				char k[32];

				snprintf(k, sizeof(k), "queue-%u/ring-ref", i);
				rc = xfront_write(&g->f, t, k, "%u", g->ref[i]);
				snprintf(k, sizeof(k), "queue-%u/event-channel", i);
				rc = rc ?: xfront_write(&g->f, t, k, "%d", g->port[i]);
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
	s = xfront_wait_be(&g->f, XF_STATE(4) | XF_STATE(5) | XF_STATE(6), 10000);
	if (s != 4) {
		fprintf(stderr, "guest: backend did not connect (state %d)\n", s);
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
