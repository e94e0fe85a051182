// SPDX-License-Identifier: MIT
/*
 * A frontend configures its receive-side hashing once, at connect (Linux
 * netfront has no hook to send it again): a worker that dies must not
 * take it along. Checked, with the supervisor and a sandboxed worker: a
 * four-queue frontend sets Toeplitz hashing and an 8-entry mapping over
 * its control ring and host-side flows reach it on the mapped queues with
 * their HASH extras; the worker is SIGKILLed; the successor takes the live
 * frontend over and the same flows again arrive on the mapped queues with
 * the right hashes, without the frontend saying anything. A frontend that
 * reconnects (new rings) starts with no hashing, as Linux's netback.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/nethash.h"
#include "lib/nethostile.h"

#define V4_FLOWS 24
#define V6_FLOWS 8

static void attack(struct netfront *nf, const char *cmd, char *reply,
		   size_t len)
{
	if (!nhash_attack(nf, cmd, reply, len))
		snprintf(reply, len, "unknown %s", cmd);
}

/* Host-side flows: each on its mapped queue with its hash extra. */
static void flows_steered(struct nh *h, const char *when)
{
	struct nhash_tally t;
	unsigned int frames = nhash_inject(h, V4_FLOWS, V6_FLOWS, false);
	const char *r = nh_ask(h, "recv %u", frames);

	CHECK(nhash_parse(r, &t) == 0, "%s: guest: %s", when, r);
	CHECK(t.got == frames && t.ok == frames,
	      "%s: flows not steered with their hashes: %s", when, r);
	CHECK(t.viol == 0, "%s: netif violations: %s", when, r);
}

int main(void)
{
	struct nhash_tally t;
	unsigned int frames;
	pid_t w, w2 = 0;
	const char *r;
	struct nh h;

	net_require();
	setenv("NET_WORKERS", "1", 1);
	nhash_start(&h, attack);
	flows_steered(&h, "before");

	w = simenv_worker_pid(h.s.daemon, "netbackd", NH_HOSTILE);
	CHECK(w > 0, "no worker for the guest");
	CHECK(kill(w, SIGKILL) == 0, "kill %d", (int)w);
	for (int i = 0; i < 100 && (w2 <= 0 || w2 == w); i++) {
		usleep(100000);
		w2 = simenv_worker_pid(h.s.daemon, "netbackd", NH_HOSTILE);
	}
	CHECK(w2 > 0 && w2 != w, "the worker was not restarted");
	/* The successor takes the rings back. */
	CHECK(simenv_wait_value("/local/domain/0/backend/vif/1/0/state", "4",
				10000) == 0,
	      "the vif did not come back Connected");
	flows_steered(&h, "after the worker was killed");
	nh_honest_ok(&h, "after the worker was killed");

	/* New rings: nothing of the old connection's hashing. */
	r = nh_ask(&h, "reconnect");
	CHECK(!strcmp(r, "ok"), "reconnect: %s", r);
	frames = nhash_inject(&h, V4_FLOWS, V6_FLOWS, false);
	r = nh_ask(&h, "recv %u", frames);
	CHECK(nhash_parse(r, &t) == 0, "after reconnecting: guest: %s", r);
	CHECK(t.got == frames && t.ok == 0,
	      "a reconnected frontend kept the old hashing: %s", r);
	nh_check_daemon(&h);
	return nh_finish(&h);
}
