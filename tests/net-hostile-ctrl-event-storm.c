// SPDX-License-Identifier: MIT
/*
 * Hostile frontend, class 13 (XSA-332), on the control ring's event
 * channel: the hostile guest notifies event-channel-ctrl as fast as it
 * can with no message on its control ring. The control ring is served by
 * the control thread, which also runs every other vif's xenbus work:
 * the channel must be left masked for a while (counted as
 * ctrl_storm_backoffs, logged once) instead of taking that thread.
 * Checked: the honest guest's vif passes traffic during the storm and
 * its data channels never back off; afterwards the hostile guest's
 * control messages are still answered and its packets still go.
 */
#include <stdio.h>
#include <string.h>

#include "lib/check.h"
#include "lib/nethostile.h"
#include "netback/hash.h"

static void attack(struct netfront *nf, const char *cmd, char *reply,
		   size_t len)
{
	uint32_t data = 0;
	int st;

	if (!strcmp(cmd, "ctrl")) {
		st = netfront_ctrl(nf, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0,
				   0, &data);
		snprintf(reply, len, "status %d flags %#x", st, data);
	} else {
		snprintf(reply, len, "unknown %s", cmd);
	}
}

int main(void)
{
	struct netfront_cfg cfg;
	unsigned long sent = 0;
	long long backoffs;
	const char *r;
	char want[64];
	struct nh h;

	netfront_cfg_init(&cfg);
	cfg.ctrl_ring = true;
	nh_start(&h, attack, &cfg, NULL);
	r = nh_ask(&h, "storm-start ctrl");
	CHECK(!strcmp(r, "storming"), "%s", r);
	for (int i = 0; i < 3; i++)
		nh_honest_ok(&h, "during the control channel storm");
	r = nh_ask(&h, "storm-stop");
	CHECK(sscanf(r, "sent %lu", &sent) == 1 && sent > 1000, "the storm: %s",
	      r);
	backoffs = simenv_stat_value(nh_stats(&h), "vif/1/0",
				     "ctrl_storm_backoffs");
	fprintf(stderr,
		"%lu notifications, %lld control channel wakeups, "
		"%lld back-offs\n",
		sent, simenv_stat_value(nh_stats(&h), "vif/1/0", "ctrl_events"),
		backoffs);
	CHECK(backoffs > 0, "the control channel never backed off: %s",
	      nh_stats(&h));
	CHECK(simenv_stat_value(nh_stats(&h), "vif/2/0", "storm_backoffs") ==
			      0 &&
		      simenv_stat_value(nh_stats(&h), "vif/1/0",
					"storm_backoffs") == 0,
	      "a data channel backed off: %s", nh_stats(&h));
	CHECK(net_log_count(&h.s, "ctrl: event storm") == 1,
	      "the storm was not logged exactly once");
	/* Afterwards: the control ring answers, packets go. */
	snprintf(want, sizeof(want), "status %d flags %#x",
		 XEN_NETIF_CTRL_STATUS_SUCCESS, NB_HASH_FLAGS_ALL);
	r = nh_ask(&h, "ctrl");
	CHECK(!strcmp(r, want), "control message after the storm: %s", r);
	r = nh_ask(&h, "packet");
	CHECK(!strcmp(r, "rsp 1 1 0 0"), "after the storm: %s", r);
	nh_check_daemon(&h);
	nh_expect_disabled(&h, false, "after the storm");
	return nh_finish(&h);
}
