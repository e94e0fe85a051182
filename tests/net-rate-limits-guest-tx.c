// SPDX-License-Identifier: MIT
/*
 * The toolstack's rate = "<bytes>,<usec>" limits what the guest sends, as
 * Linux netback's credit scheduler does, and a change of the key takes
 * effect at once (netbackd watches it). With 200000 bytes per 100 ms
 * (2 MB/s, bursts of at most 200 KB), 4 MiB from the guest take more than
 * 1.5 s while 4 MiB to the guest are not limited; once the toolstack
 * writes 1000000000,100000 the same 4 MiB from the guest go through
 * without waiting for credit, and every byte arrives either way.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/netscen.h"

#define BYTES (4ull << 20)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Seconds for an exact transfer of BYTES (guest -> host unless @rx). */
static double timed(struct net_scen *s, struct net_guest *g, int port, int rx)
{
	double t0 = now_s();
	int64_t got = net_tcp_transfer(s->daemon, g->pid, "10.250.0.2", port,
				       BYTES, rx);

	CHECK(got == (int64_t)BYTES, "transfer %s: %lld bytes",
	      rx ? "to the guest" : "from the guest", (long long)got);
	return now_s() - t0;
}

int main(void)
{
	char stats[8192];
	struct net_guest_cfg c;
	struct net_guest g;
	struct net_scen s;
	long long waits0, waits1;
	double t;

	net_start(&s, 1, NULL);
	net_add(&s, 1, 0, "be:rate=200000,100000");
	net_hotplug(&s, 1, 0, "10.250.0.2/24");
	net_guest_cfg_init(&c);
	c.cidr = "10.250.0.1/24";
	net_guest_start(&s, &g, 1, &c);

	t = timed(&s, &g, 7400, 0);
	fprintf(stderr, "limited guest TX: %.2f s\n", t);
	CHECK(t > 1.5, "4 MiB at 2 MB/s took only %.2f s", t);
	t = timed(&s, &g, 7401, 1);
	fprintf(stderr, "guest RX: %.2f s\n", t);
	CHECK(t < 1.5, "guest RX is limited too: %.2f s", t);
	CHECK(net_stats(&s, 1, stats, sizeof(stats)) == 0, "--stats");
	waits0 = simenv_stat_value(stats, "vif/1/0", "rate_waits");
	CHECK(waits0 > 0, "no rate waits counted: %s", stats);

	/* A live change: 1 GB per 100 ms. */
	net_write(&s, "/local/domain/0/backend/vif/1/0/rate",
		  "1000000000,100000");
	for (int i = 0; i < 100 && !net_log_count(&s, "rate 1000000000 bytes");
	     i++)
		usleep(20000);
	CHECK(net_log_count(&s, "rate 1000000000 bytes") == 1,
	      "the new rate was not seen");
	t = timed(&s, &g, 7402, 0);
	fprintf(stderr, "guest TX after the change: %.2f s\n", t);
	CHECK(net_stats(&s, 1, stats, sizeof(stats)) == 0, "--stats");
	waits1 = simenv_stat_value(stats, "vif/1/0", "rate_waits");
	CHECK(waits1 == waits0, "%lld waits for credit after the change",
	      waits1 - waits0);
	CHECK(t < 1.5, "4 MiB still took %.2f s", t);

	CHECK(net_guest_stop(&g) == 0, "the guest failed");
	return net_pass(&s);
}
