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
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lib/check.h"
#include "lib/nethostile.h"

static volatile int storming;
static pthread_t storm_tid;
static unsigned long storm_count;

static void *storm(void *arg)
{
	struct netfront *nf = arg;

	while (__atomic_load_n(&storming, __ATOMIC_ACQUIRE)) {
		netfront_notify(nf, 0, NETFRONT_TX);
		netfront_notify(nf, 0, NETFRONT_RX);
		storm_count += 2;
	}
	return NULL;
}

static void attack(struct netfront *nf, const char *cmd, char *reply,
		   size_t len)
{
	union ring_netif_tx_req sl[1];
	unsigned int nulls;
	int16_t st[1];
	int got;

	if (!strcmp(cmd, "storm-start")) {
		storming = 1;
		snprintf(reply, len, pthread_create(&storm_tid, NULL, storm, nf) ?
					     "error" : "storming");
	} else if (!strcmp(cmd, "storm-stop")) {
		__atomic_store_n(&storming, 0, __ATOMIC_RELEASE);
		pthread_join(storm_tid, NULL);
		snprintf(reply, len, "sent %lu", storm_count);
	} else if (!strcmp(cmd, "packet")) {
		nh_chain(nf, sl, 1, 100, NULL, NH_ID0);
		got = nh_raw(nf, sl, 1, 1, 2000, st, 1, &nulls);
		nh_reply_rsp(reply, len, got, st, nulls);
	} else {
		snprintf(reply, len, "unknown %s", cmd);
	}
}

int main(void)
{
	unsigned long sent = 0;
	long long events, backoffs, honest_backoffs;
	const char *r;
	struct nh h;

	nh_start(&h, attack, NULL, NULL);
	r = nh_ask(&h, "storm-start");
	CHECK(!strcmp(r, "storming"), "%s", r);
	for (int i = 0; i < 3; i++)
		nh_honest_ok(&h, "during the storm");
	r = nh_ask(&h, "storm-stop");
	CHECK(sscanf(r, "sent %lu", &sent) == 1 && sent > 1000,
	      "the storm: %s", r);
	events = simenv_stat_value(nh_stats(&h), "vif/1/0", "events");
	CHECK(events > 100, "%lld events seen of %lu notifications", events,
	      sent);
	backoffs = simenv_stat_value(nh_stats(&h), "vif/1/0", "storm_backoffs");
	honest_backoffs =
		simenv_stat_value(nh_stats(&h), "vif/2/0", "storm_backoffs");
	fprintf(stderr, "%lu notifications, %lld events taken, %lld "
		"back-offs (honest vif: %lld)\n", sent, events, backoffs,
		honest_backoffs);
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
