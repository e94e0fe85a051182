// SPDX-License-Identifier: MIT
/*
 * Hostile frontend, class 12 (XSA-392): a frontend that never posts RX
 * buffers, or posts exactly one, costs the host a bounded queue and
 * nothing more. With rx-queue-packets=64, rx-queue-kib=64 and
 * rx-drain-ms=200: a flood of frames for a guest that posts no buffer
 * leaves at most 64 packets queued in netbackd, which then stops reading
 * the TAP (back-pressure, as Linux netback stops its netdev queue: the
 * rest waits in, or is dropped by, the host's own bounded TAP queue and
 * qdisc) rather than read frames only to drop them (queue_full stays 0);
 * queued frames are dropped after 200 ms (expired) and the TAP read
 * again, until every frame is accounted for, expired here or dropped by
 * the host; the byte bound holds for big frames too; a frontend with
 * exactly one buffer posted gets one frame. The daemon stays up and the
 * honest guest passes traffic throughout.
 */
#include <stdio.h>
#include <stdlib.h>
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

/* Frames for vif1.0 the host dropped: by the TAP, or by its qdisc. */
static long long host_drops(struct nh *h)
{
	unsigned long long f[16] = { 0 }, q = 0;
	char out[1024], *p;

	CHECK(net_ns_sh(h->s.daemon, out, sizeof(out),
			"grep vif1.0: /proc/net/dev; tc -s qdisc show dev "
			"vif1.0 | grep -o -m1 \"dropped [0-9]*\"") == 0,
	      "host counters");
	p = strstr(out, "vif1.0:");
	CHECK(p && sscanf(p + 7,
			  "%llu %llu %llu %llu %llu %llu %llu %llu "
			  "%llu %llu %llu %llu",
			  &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6],
			  &f[7], &f[8], &f[9], &f[10], &f[11]) == 12,
	      "/proc/net/dev: %s", out);
	p = strstr(out, "dropped ");
	if (p)
		q = strtoull(p + 8, NULL, 10);
	/* /proc/net/dev: receive 0-7, transmit bytes, packets, errs, drop. */
	return (long long)(f[11] + q);
}

/*
 * Wait (at most 20 s: 1200 frames in rounds of 64 every 200 ms need 4)
 * until each of the @n frames injected so far was expired by netbackd or
 * dropped by the host, with nothing left queued and none read only to be
 * dropped.
 */
static void wait_accounted(struct nh *h, long long n, const char *when)
{
	long long expired = 0, drops = 0;

	for (int i = 0; i < 200; i++) {
		expired = stat(h, "expired");
		drops = host_drops(h);
		if (expired + drops >= n && !stat(h, "rx_queued_packets"))
			break;
		usleep(100000);
	}
	/* At least: the host's own frames (IPv6, ARP) may be counted too. */
	CHECK(expired + drops >= n && stat(h, "rx_queued_packets") == 0 &&
		      stat(h, "queue_full") == 0,
	      "%s: of %lld frames %lld expired, %lld dropped by the host: %s",
	      when, n, expired, drops, nh_stats(h));
	CHECK(expired >= 64, "%s: only %lld expired", when, expired);
}

int main(void)
{
	static const char *const sets[] = {
		"rx-queue-packets=64",
		"rx-queue-kib=64",
		"rx-drain-ms=200",
		NULL,
	};
	struct netfront_cfg cfg;
	const char *r;
	struct nh h;

	netfront_cfg_init(&cfg);
	cfg.rx_none = true;
	nh_start(&h, nh_no_attack, &cfg, sets);
	CHECK(net_ns_sh(h.s.daemon, NULL, 0,
			"sysctl -qw net.ipv6.conf.vif1/0.disable_ipv6=1") == 0,
	      "sysctl");

	/* No buffer at all: the queue fills to its bound, then the TAP is
	 * left unread. */
	flood(&h, 1000, 60);
	usleep(50000);
	CHECK(stat(&h, "rx_queued_packets") <= 64 &&
		      stat(&h, "rx_queued_packets") > 0,
	      "queued: %s", nh_stats(&h));
	CHECK(stat(&h, "rx_pauses") >= 1 && stat(&h, "queue_full") == 0,
	      "no back-pressure: %s", nh_stats(&h));
	nh_honest_ok(&h, "while the hostile queue is full");
	/* Drained every rx-drain-ms until nothing is kept. */
	wait_accounted(&h, 1000, "small frames");

	/* Big frames: the byte bound (64 KiB) before the packet bound. */
	flood(&h, 200, 1514);
	usleep(50000);
	CHECK(stat(&h, "rx_queued_bytes") <= 64 * 1024 + 1514 &&
		      stat(&h, "rx_queued_packets") < 64,
	      "byte bound: %s", nh_stats(&h));
	wait_accounted(&h, 1200, "big frames");

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
