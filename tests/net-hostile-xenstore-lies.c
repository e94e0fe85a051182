// SPDX-License-Identifier: MIT
/*
 * Hostile frontend, class 14: what a guest writes in xenstore lies. A
 * frontend doing the handshake by hand (rings shared, ports allocated,
 * Linux netfront's keys) with one lie each time: a queue count of 0 or
 * above the maximum, per-queue keys missing for two queues, ring
 * references missing, not numbers or not granted, event channels missing,
 * half split or not bound, request-rx-copy missing or not a boolean, an
 * xdp-headroom too large. Each time the vif fails to connect with an
 * error node naming what was wrong (Closing), and connects fine once the
 * frontend starts over honestly; state flapping does nothing worse; the
 * frontend removing its own directory mid-connect makes the backend let
 * go of the vif. The daemon stays up and the honest guest passes traffic.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xen/io/xenbus.h>

#include "common/xen.h"
#include "front/xfront.h"
#include "lib/check.h"
#include "lib/nethostile.h"
#include "ring/ring.h"

#define BE "/local/domain/0/backend/vif/1/0"
#define ERR "/local/domain/0/error/backend/vif/1/0/error"

static int to_guest[2], from_guest[2];

struct hand_fe {
	struct xfront f;
	struct xen_gntshr *gs;
	struct xen_evtchn *xe;
	void *rings;
	uint32_t refs[2];
	int ports[2];
};

/* Write Linux netfront's keys for one queue, then @edits ("k=v", "-k"). */
static int write_keys(struct hand_fe *fe, char *edits)
{
	xen_txn_t t;
	int rc;

	do {
		char *save, *e, copy[512];

		snprintf(copy, sizeof(copy), "%s", edits);
		if (xen_store_txn_start(fe->f.xs, &t))
			return -1;
		rc = xfront_write(&fe->f, t, "multi-queue-num-queues", "1") ?:
		     xfront_write(&fe->f, t, "tx-ring-ref", "%u", fe->refs[0]) ?:
		     xfront_write(&fe->f, t, "rx-ring-ref", "%u", fe->refs[1]) ?:
		     xfront_write(&fe->f, t, "event-channel-tx", "%d",
				  fe->ports[0]) ?:
		     xfront_write(&fe->f, t, "event-channel-rx", "%d",
				  fe->ports[1]) ?:
		     xfront_write(&fe->f, t, "request-rx-copy", "1") ?:
		     xfront_write(&fe->f, t, "feature-rx-notify", "1") ?:
		     xfront_write(&fe->f, t, "feature-sg", "1") ?:
		     xfront_write(&fe->f, t, "xdp-headroom", "0");
		for (e = strtok_r(copy, " ", &save); e && !rc;
		     e = strtok_r(NULL, " ", &save)) {
			char p[320], *eq = strchr(e, '=');

			if (e[0] == '-') {
				snprintf(p, sizeof(p), "%s/%s", fe->f.fe_path,
					 e + 1);
				rc = xen_store_rm(fe->f.xs, t, p);
			} else if (eq) {
				*eq = '\0';
				rc = xfront_write(&fe->f, t, e, "%s", eq + 1);
			}
		}
		if (rc) {
			xen_store_txn_end(fe->f.xs, t, 1);
			return rc;
		}
		rc = xen_store_txn_end(fe->f.xs, t, 0);
	} while (rc == -EAGAIN);
	return rc;
}

static int guest(void *arg)
{
	struct hand_fe fe;
	char line[512], *edits;
	int s;

	close(to_guest[1]);
	close(from_guest[0]);
	if (xfront_open(&fe.f, "vif", 0) || xen_gntshr_open(&fe.gs) ||
	    xen_evtchn_open(&fe.xe) ||
	    xen_gntshr_share(fe.gs, fe.f.be_domid, 2, 1, fe.refs, &fe.rings))
		return 2;
	ring_front_init(&(struct ring_front){ 0 }, fe.rings, 1,
			sizeof(union netif_tx_sring_entry));
	ring_front_init(&(struct ring_front){ 0 }, (char *)fe.rings + 4096, 1,
			sizeof(union netif_rx_sring_entry));
	fe.ports[0] = xen_evtchn_alloc_unbound(fe.xe, fe.f.be_domid);
	fe.ports[1] = xen_evtchn_alloc_unbound(fe.xe, fe.f.be_domid);
	if (fe.ports[0] < 0 || fe.ports[1] < 0)
		return 2;
	net_say(from_guest[1], "ok");
	while (!net_hear(to_guest[0], line, sizeof(line), 60000)) {
		if (!strncmp(line, "lie ", 4)) {
			edits = line + 4;
			s = xfront_wait_be(&fe.f, XF_STATE(2), 10000);
			if (s != 2 || write_keys(&fe, edits) ||
			    xfront_set_state(&fe.f, 4)) {
				net_say(from_guest[1], "error %d", s);
				continue;
			}
			s = xfront_wait_be(&fe.f, XF_STATE(4) | XF_STATE(5),
					   10000);
			net_say(from_guest[1], "state %d", s);
		} else if (!strcmp(line, "reset")) {
			/* Closed, then Initialising: a frontend starting
			 * over (xbus: back to InitWait). */
			xfront_set_state(&fe.f, 6);
			s = xfront_wait_be(&fe.f, XF_STATE(6), 10000);
			xfront_set_state(&fe.f, 1);
			s = s == 6 ? xfront_wait_be(&fe.f, XF_STATE(2), 10000)
				   : s;
			net_say(from_guest[1], "state %d", s);
		} else if (!strcmp(line, "flap")) {
			static const int states[] = { 4, 1, 3, 4, 5, 1, 4, 6 };

			for (unsigned int i = 0; i < 8; i++)
				xfront_set_state(&fe.f, states[i]);
			net_say(from_guest[1], "done");
		} else if (!strcmp(line, "vanish")) {
			char p[320];

			snprintf(p, sizeof(p), "%s", fe.f.fe_path);
			s = xen_store_rm(fe.f.xs, XEN_TXN_NONE, p);
			net_say(from_guest[1], "rm %d", s);
		} else {
			break;
		}
	}
	return 0;
}

static const char *ask(const char *cmd)
{
	static char line[512];

	net_say(to_guest[1], "%s", cmd);
	CHECK(net_hear(from_guest[0], line, sizeof(line), 30000) == 0,
	      "no answer to '%s'", cmd);
	return line;
}

static const struct {
	const char *edits;
	const char *error;
} lies[] = {
	{ "multi-queue-num-queues=0", "requested 0 queues" },
	{ "multi-queue-num-queues=99", "requested 99 queues" },
	{ "multi-queue-num-queues=2", "queue-0/tx-ring-ref" },
	{ "-tx-ring-ref", "device/vif/0/tx-ring-ref" },
	{ "rx-ring-ref=abc", "device/vif/0/rx-ring-ref" },
	{ "-event-channel-tx -event-channel-rx", "device/vif/0/event-channel" },
	{ "-event-channel-rx", "device/vif/0/event-channel-rx" },
	{ "-request-rx-copy", "rx-copy" },
	{ "request-rx-copy=7", "device/vif/0/request-rx-copy" },
	{ "xdp-headroom=5000", "xdp-headroom" },
	{ "tx-ring-ref=12345", "cannot map TX ring" },
	{ "event-channel-rx=4000", "cannot bind event channel 4000" },
};

int main(void)
{
	char line[512];
	const char *r, *e;
	struct nh h;
	pid_t g;

	/* The harness's honest guest; vif 1/0 is ours, by hand. */
	nh_start(&h, NULL, NULL, NULL);
	CHECK(pipe(to_guest) == 0 && pipe(from_guest) == 0, "pipes");
	g = simenv_fork_as(&h.s.env, NH_HOSTILE, guest, NULL);
	CHECK(g > 0, "fork");
	close(to_guest[0]);
	close(from_guest[1]);
	CHECK(net_hear(from_guest[0], line, sizeof(line), 30000) == 0 &&
		      !strcmp(line, "ok"),
	      "guest: %s", line);

	for (unsigned int i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "lie %s", lies[i].edits);
		r = ask(cmd);
		CHECK(!strcmp(r, "state 5"), "%s: %s", lies[i].edits, r);
		e = net_read(&h.s, ERR);
		CHECK(e && strstr(e, lies[i].error),
		      "%s: error node '%s', wanted '%s'", lies[i].edits,
		      e ? e : "(absent)", lies[i].error);
		r = ask("reset");
		CHECK(!strcmp(r, "state 2"), "%s: reset: %s", lies[i].edits, r);
		if (i == 5)
			nh_honest_ok(&h, "during the lies");
	}
	/* The truth connects. */
	r = ask("lie -nothing");
	CHECK(!strcmp(r, "state 4"), "honest keys: %s", r);
	r = ask("flap");
	r = ask("reset");
	CHECK(!strcmp(r, "state 2"), "reset after flapping: %s", r);
	nh_check_daemon(&h);

	/* Its own directory removed mid-connect: the backend lets go. */
	r = ask("vanish");
	CHECK(!strcmp(r, "rm 0"), "rm: %s", r);
	CHECK(net_wait_value(&h.s, BE "/state", "6", 5000) == 0,
	      "the backend did not close (state %s)",
	      net_read(&h.s, BE "/state"));
	net_say(to_guest[1], "quit");
	CHECK(simenv_wait(g) == 0, "the guest failed");

	/* nh_finish quits the harness's own hostile guest: there is none. */
	nh_honest_ok(&h, "after the lies");
	CHECK(net_guest_stop(&h.honest) == 0, "the honest guest failed");
	nh_check_daemon(&h);
	return net_pass(&h.s);
}
