// SPDX-License-Identifier: MIT
/*
 * Hostile frontend, class 12 (XSA-392): a frontend that never posts RX
 * buffers, or posts exactly one, costs the host a bounded queue and
 * nothing more. With rx-queue-packets=64, rx-queue-kib=64 and
 * rx-drain-ms=400: a flood of frames for a guest that posts no buffer
 * leaves at most 64 packets queued, every other one dropped and counted
 * (queue_full), and the queued ones dropped after 400 ms (expired); the
 * byte bound holds for big frames too; a frontend with exactly one
 * buffer posted gets one frame and the rest wait or drop. The daemon
 * stays up and the honest guest passes traffic throughout.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/nethostile.h"

static void flood(struct nh *h, unsigned int n, size_t len)
{
	uint8_t f[1514];

	memset(f, 0x44, sizeof(f));
	memcpy(f, (uint8_t[]){ 0x00, 0x16, 0x3e, 0x00, 0x01, 0x00 }, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	for (unsigned int i = 0; i < n; i++) {
		f[14] = (uint8_t)i;
		CHECK(write(h->ps, f, len) == (ssize_t)len, "inject");
	}
}

static long long stat(struct nh *h, const char *key)
{
	return simenv_stat_value(nh_stats(h), "vif/1/0", key);
}

int main(void)
{
	static const char *const sets[] = {
		"rx-queue-packets=64", "rx-queue-kib=64", "rx-drain-ms=400",
		NULL,
	};
	struct netfront_cfg cfg;
	const char *r;
	long long full;
	struct nh h;

	netfront_cfg_init(&cfg);
	cfg.rx_none = true;
	nh_start(&h, nh_no_attack, &cfg, sets);
	CHECK(net_ns_sh(h.s.daemon, NULL, 0,
			"sysctl -qw net.ipv6.conf.vif1/0.disable_ipv6=1") == 0,
	      "sysctl");

	/* No buffer at all: the queue fills to its bound, then drops. */
	flood(&h, 1000, 60);
	usleep(100000);
	CHECK(stat(&h, "rx_queued_packets") <= 64 &&
		      stat(&h, "rx_queued_packets") > 0,
	      "queued: %s", nh_stats(&h));
	full = stat(&h, "queue_full");
	CHECK(full >= 1000 - 64, "queue_full %lld", full);
	nh_honest_ok(&h, "while the hostile queue is full");
	/* After rx-drain-ms, nothing is kept. */
	usleep(700000);
	CHECK(stat(&h, "rx_queued_packets") == 0 &&
		      stat(&h, "expired") >= 1,
	      "after the drain time: %s", nh_stats(&h));

	/* Big frames: the byte bound (64 KiB) before the packet bound. */
	flood(&h, 200, 1514);
	usleep(100000);
	CHECK(stat(&h, "rx_queued_bytes") <= 64 * 1024 + 1514 &&
		      stat(&h, "rx_queued_packets") < 64,
	      "byte bound: %s", nh_stats(&h));
	usleep(700000);

	/* Exactly one buffer: one frame goes through. */
	r = nh_ask(&h, "fill 1");
	CHECK(!strcmp(r, "done"), "fill: %s", r);
	flood(&h, 20, 100);
	r = nh_ask(&h, "take");
	CHECK(!strcmp(r, "len 100"), "with one buffer: %s", r);
	nh_check_daemon(&h);
	nh_expect_disabled(&h, false, "after the floods");
	return nh_finish(&h);
}
