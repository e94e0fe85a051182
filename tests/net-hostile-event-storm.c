// SPDX-License-Identifier: MIT
/*
 * Hostile frontend, class 13 (XSA-332): event storms. The hostile guest
 * notifies both of its event channels as fast as it can, with nothing on
 * its rings, while the honest guest moves data both ways over its own vif
 * of the same daemon: the honest transfers complete, the storm is seen
 * (events counted) and harmless, and the hostile vif still serves its
 * packets afterwards. The storming queue backs off (its channel left
 * masked for 1..64 ms, counted as storm_backoffs); the honest vif, whose
 * frontend notifies only when asked, never does. The daemon stays up.
 */
#include <stdio.h>
#include <string.h>

#include "lib/check.h"
#include "lib/nethostile.h"

int main(void)
{
	unsigned long sent = 0;
	long long events, backoffs, honest_backoffs;
	const char *r;
	struct nh h;

	nh_start(&h, nh_no_attack, NULL, NULL);
	r = nh_ask(&h, "storm-start data");
	CHECK(!strcmp(r, "storming"), "%s", r);
	for (int i = 0; i < 3; i++)
		nh_honest_ok(&h, "during the storm");
	r = nh_ask(&h, "storm-stop");
	CHECK(sscanf(r, "sent %lu", &sent) == 1 && sent > 1000, "the storm: %s",
	      r);
	events = simenv_stat_value(nh_stats(&h), "vif/1/0", "events");
	CHECK(events > 100, "%lld events seen of %lu notifications", events,
	      sent);
	backoffs = simenv_stat_value(nh_stats(&h), "vif/1/0", "storm_backoffs");
	honest_backoffs =
		simenv_stat_value(nh_stats(&h), "vif/2/0", "storm_backoffs");
	fprintf(stderr,
		"%lu notifications, %lld events taken, %lld "
		"back-offs (honest vif: %lld)\n",
		sent, events, backoffs, honest_backoffs);
	CHECK(backoffs > 0, "the storming vif never backed off (%lld events)",
	      events);
	CHECK(honest_backoffs == 0, "the honest vif backed off %lld times",
	      honest_backoffs);
	r = nh_ask(&h, "packet");
	CHECK(!strcmp(r, "rsp 1 1 0 0"), "after the storm: %s", r);
	nh_check_daemon(&h);
	nh_expect_disabled(&h, false, "after the storm");
	return nh_finish(&h);
}
