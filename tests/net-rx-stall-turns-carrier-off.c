// SPDX-License-Identifier: MIT
/*
 * A guest that stops taking packets (hung, paused, or hostile: class 12)
 * loses its vif's carrier after rx-stall-ms, as Linux netback does after
 * rx_stall_timeout_msecs: the bridge then stops sending it what would
 * only be dropped. Checked with rx-stall-ms=500 and a frontend that posts
 * no RX buffer while frames keep coming: the carrier is on while it is
 * young, off after the stall (the TAP says NO-CARRIER, --stats says
 * "carrier":false and counts the stall, the log says it once), the honest
 * guest's vif on the same daemon keeps its carrier and its traffic; the
 * frontend posting buffers brings the carrier back and a frame through.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/nethostile.h"

/* A few frames for the hostile guest (its MAC), as a bridge would. */
static void frames(struct nh *h, unsigned int n)
{
	uint8_t f[60];

	memset(f, 0x44, sizeof(f));
	memcpy(f, (uint8_t[]){ 0x00, 0x16, 0x3e, 0x00, 0x01, 0x00 }, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	for (unsigned int i = 0; i < n; i++) {
		f[14] = (uint8_t)i;
		/* With the carrier off the kernel may refuse: that is fine. */
		if (write(h->ps, f, sizeof(f)) < 0)
			break;
	}
}

/* "carrier" of vif @dev in --stats --json: 1, 0, or -1 if absent. */
static int carrier(struct nh *h, const char *dev)
{
	const char *st = nh_stats(h), *p, *end, *c;
	char pat[64];

	snprintf(pat, sizeof(pat), "{\"device\":\"%s\"", dev);
	p = strstr(st, pat);
	if (!p)
		return -1;
	end = strstr(p + 1, "{\"device\":");
	c = strstr(p, "\"carrier\":");
	if (!c || (end && c > end))
		return -1;
	return !strncmp(c + 10, "true", 4);
}

static int link_no_carrier(struct nh *h)
{
	char out[512];

	CHECK(net_ns_sh(h->s.daemon, out, sizeof(out),
			"ip link show dev vif1.0") == 0,
	      "no vif1.0");
	return strstr(out, "NO-CARRIER") != NULL;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

int main(void)
{
	static const char *const sets[] = {
		"rx-drain-ms=100",
		"rx-stall-ms=500",
		NULL,
	};
	struct netfront_cfg cfg;
	const char *r;
	struct nh h;
	long t0;
	int c = 1;

	netfront_cfg_init(&cfg);
	cfg.rx_none = true;
	nh_start(&h, nh_no_attack, &cfg, sets);
	CHECK(net_ns_sh(h.s.daemon, NULL, 0,
			"sysctl -qw net.ipv6.conf.vif1/0.disable_ipv6=1") == 0,
	      "sysctl");
	CHECK(carrier(&h, "vif/1/0") == 1 && !link_no_carrier(&h),
	      "no carrier before any stall: %s", nh_stats(&h));

	/* Frames keep coming, no buffer is posted: after 500 ms, stalled. */
	t0 = now_ms();
	while (c == 1 && now_ms() - t0 < 5000) {
		frames(&h, 4);
		usleep(50000);
		c = carrier(&h, "vif/1/0");
		CHECK(c != 1 || now_ms() - t0 < 1000 + 500,
		      "carrier still on %ld ms into the stall", now_ms() - t0);
	}
	CHECK(c == 0, "carrier not off after the stall: %s", nh_stats(&h));
	CHECK(now_ms() - t0 >= 400, "carrier off after only %ld ms",
	      now_ms() - t0);
	CHECK(link_no_carrier(&h), "vif1.0 still has a carrier");
	CHECK(simenv_stat_value(nh_stats(&h), "vif/1/0", "rx_stalls") == 1,
	      "stalls: %s", nh_stats(&h));
	CHECK(carrier(&h, "vif/2/0") == 1, "the honest vif lost its carrier");
	nh_honest_ok(&h, "while the other vif is stalled");
	/* Still stalled: more frames change nothing, nothing is logged. */
	frames(&h, 8);
	usleep(300000);
	CHECK(carrier(&h, "vif/1/0") == 0, "carrier back without buffers");
	CHECK(net_log_count(&h.s, "carrier off") == 1,
	      "the stall was not logged exactly once");

	/* Buffers again: the carrier comes back, frames go through. */
	r = nh_ask(&h, "fill 8");
	CHECK(!strcmp(r, "done"), "fill: %s", r);
	for (int i = 0; i < 100 && (c = carrier(&h, "vif/1/0")) != 1; i++)
		usleep(20000);
	CHECK(c == 1 && !link_no_carrier(&h),
	      "carrier not back after buffers were posted: %s", nh_stats(&h));
	frames(&h, 1);
	r = nh_ask(&h, "take");
	CHECK(!strcmp(r, "len 60"), "after the stall: %s", r);
	CHECK(net_log_count(&h.s, "carrier on") == 1,
	      "the recovery was not logged exactly once");
	nh_check_daemon(&h);
	nh_expect_disabled(&h, false, "after the stall");
	return nh_finish(&h);
}
