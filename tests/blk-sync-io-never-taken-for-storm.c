// SPDX-License-Identifier: MIT
/*
 * The event-storm back-off (class 13) must never slow an honest guest. A
 * guest doing synchronous I/O (one request, wait for its answer, the next:
 * fio at iodepth 1, a database's log writes) notifies once per request,
 * and the wakeup that follows is the one that takes it. Checked: after 300
 * such writes and read-backs (600 wakeups' worth) blkbackd counts no
 * back-off and almost no idle wakeup for that disk, and the data reads
 * back. A storm check that looked at the ring before serving it took every
 * such wakeup for idle and masked the port after 64 of them.
 */
#include <stdio.h>
#include <string.h>

#include "lib/check.h"
#include "lib/hostile.h"

#define DEV HOSTILE_DEVID
#define ROUNDS 300

static int guest(void *arg)
{
	struct blkfront *bf = hostile_connect(DEV, NULL);

	for (unsigned int i = 0; i < ROUNDS; i++)
		hostile_rw_ok(bf, 0, (uint64_t)i * 8, 4096, i + 1);
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
	return 0;
}

int main(void)
{
	struct hostile h;
	char img[PATH_MAX];
	long long events, idle, backoffs, reads;
	const char *st;

	hostile_start(&h, "--single", NULL);
	hostile_image(&h, "sync.img", HOSTILE_DISK_BYTES, 0, img, sizeof(img));
	hostile_add(&h, DEV, img, NULL);
	hostile_guest(&h, guest, NULL);

	st = hostile_stats(&h);
	events = simenv_stat_value(st, "vbd/1/51712", "events");
	idle = simenv_stat_value(st, "vbd/1/51712", "events_idle");
	backoffs = simenv_stat_value(st, "vbd/1/51712", "storm_backoffs");
	reads = simenv_stat_value(st, "vbd/1/51712", "read");
	fprintf(stderr, "%lld reads, %lld wakeups, %lld idle, %lld back-offs\n",
		reads, events, idle, backoffs);
	CHECK(reads == ROUNDS, "%lld reads counted, %u done", reads, ROUNDS);
	CHECK(events >= ROUNDS,
	      "only %lld wakeups for %u synchronous "
	      "requests: the test did not test",
	      events, 2 * ROUNDS);
	CHECK(backoffs == 0,
	      "an honest synchronous guest was backed off "
	      "%lld times (%lld of %lld wakeups idle)",
	      backoffs, idle, events);
	/* An idle wakeup needs a notification for requests an earlier
	 * wakeup already took: a rare race, not a pattern. */
	CHECK(idle * 10 < events, "%lld of %lld wakeups counted idle", idle,
	      events);
	hostile_expect_file(img, 0, 4096, 1, "the first write");
	hostile_expect_file(img, (uint64_t)(ROUNDS - 1) * 4096, 4096, ROUNDS,
			    "the last write");
	return hostile_finish(&h);
}
