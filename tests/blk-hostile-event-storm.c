// SPDX-License-Identifier: MIT
/*
 * Hostile class 13 (spec/hostile-frontend.md, XSA-332): a guest notifies
 * its event channel as fast as it can with no request on its ring. The
 * queue must back off (leave the port masked for a while, so the storm
 * coalesces into one pending event) instead of spending a wakeup on every
 * notification. Checked: blkbackd (--single: the storming queue and the
 * honest guest's queue in one process) counts back-offs for the storming
 * device and none for the honest one, logs the storm once, the honest
 * guest keeps completing rounds during the storm, and the storming
 * guest's disk answers a write and a read-back at once afterwards (the
 * back-off never loses an event).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "lib/check.h"
#include "lib/hostile.h"

#define DEV HOSTILE_DEVID
#define STORM_MAX 2000000ul /* notifications at most, bounds the test */

struct storm {
	struct blkfront *bf;
	volatile int stop;
	unsigned long sent;
};

static void *storm_thread(void *arg)
{
	struct storm *st = arg;

	while (!st->stop && st->sent < STORM_MAX) {
		if (blkfront_notify(st->bf, 0))
			break;
		st->sent++;
	}
	return NULL;
}

static int guest(void *arg)
{
	struct storm st = { 0 };
	pthread_t t;

	st.bf = hostile_connect(DEV, NULL);
	hostile_rw_ok(st.bf, 0, 0, 64 * 1024, 3);
	CHECK(pthread_create(&t, NULL, storm_thread, &st) == 0, "thread");
	/* The honest guest must get on while we storm. */
	hostile_progress(3, "during the event storm");
	st.stop = 1;
	pthread_join(t, NULL);
	fprintf(stderr, "storm: %lu notifications sent\n", st.sent);
	CHECK(st.sent > 1000, "the storm did not happen (%lu notifications)",
	      st.sent);
	/* Right after: requests still get through (nothing lost masked). */
	hostile_rw_ok(st.bf, 0, 2048, 128 * 1024, 4);
	hostile_no_violations(st.bf, "after the storm");
	CHECK(blkfront_close(st.bf) == 0, "close: %s", blkfront_last_error());
	return 0;
}

int main(void)
{
	struct hostile h;
	char img[PATH_MAX], cmd[PATH_MAX + 128];
	long long events, backoffs, honest;
	const char *st;

	hostile_start(&h, "--single", NULL);
	hostile_image(&h, "storm.img", HOSTILE_DISK_BYTES, 0, img, sizeof(img));
	hostile_add(&h, DEV, img, NULL);
	hostile_guest(&h, guest, NULL);

	st = hostile_stats(&h);
	events = simenv_stat_value(st, "vbd/1/51712", "events");
	backoffs = simenv_stat_value(st, "vbd/1/51712", "storm_backoffs");
	honest = simenv_stat_value(st, "vbd/2/51712", "storm_backoffs");
	fprintf(stderr,
		"storming disk: %lld wakeups, %lld back-offs; honest "
		"disk: %lld wakeups, %lld idle, %lld back-offs\n",
		events, backoffs,
		simenv_stat_value(st, "vbd/2/51712", "events"),
		simenv_stat_value(st, "vbd/2/51712", "events_idle"), honest);
	CHECK(backoffs > 0, "no back-off counted for the storming disk:\n%s",
	      st);
	CHECK(honest == 0, "the honest guest's disk was taken for a storm:\n%s",
	      st);
	snprintf(cmd, sizeof(cmd),
		 "test $(grep -c 'vbd/1/51712 q0.*event storm' %s) = 1",
		 h.s.log);
	CHECK(system(cmd) == 0, "the storm was not logged exactly once");
	return hostile_finish(&h);
}
