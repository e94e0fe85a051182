// SPDX-License-Identifier: MIT
/*
 * Hostile frontend, class 2: producer indexes that lie. A TX req_prod
 * more than a ring ahead of what was answered, and an RX req_prod posting
 * more buffers than the ring holds (seen when a packet for the guest
 * comes): netbackd dispatches nothing from that ring, stops the vif and
 * fails the device with an error node naming the problem (Closing).
 * After the frontend closes and starts over, the vif serves again. The
 * daemon stays up and the honest guest passes traffic throughout.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/nethostile.h"

#define BE "/local/domain/0/backend/vif/1/0"
#define ERR "/local/domain/0/error/backend/vif/1/0/error"

static void attack(struct netfront *nf, const char *cmd, char *reply,
		   size_t len)
{
	if (!strcmp(cmd, "tx-prod") || !strcmp(cmd, "rx-prod")) {
		int rx = !strcmp(cmd, "rx-prod");
		struct ring_front *f =
			netfront_ring(nf, 0, rx ? NETFRONT_RX : NETFRONT_TX);
		uint32_t prod =
			__atomic_load_n(&f->sring->rsp_prod, __ATOMIC_RELAXED) +
			(rx ? 1000 : 300);

		__atomic_store_n(&f->sring->req_prod, prod, __ATOMIC_RELEASE);
		netfront_notify(nf, 0, rx ? NETFRONT_RX : NETFRONT_TX);
		snprintf(reply, len, "done");
	} else {
		snprintf(reply, len, "unknown %s", cmd);
	}
}

static void expect(struct nh *h, const char *cmd, const char *want)
{
	const char *r = nh_ask(h, "%s", cmd);

	CHECK(!strcmp(r, want), "%s: '%s', not '%s'", cmd, r, want);
}

static void expect_failed(struct nh *h, const char *when)
{
	const char *e;

	CHECK(net_wait_value(&h->s, BE "/state", "5", 5000) == 0,
	      "%s: the device did not go Closing (state %s)", when,
	      net_read(&h->s, BE "/state"));
	e = net_read(&h->s, ERR);
	CHECK(e && strstr(e, "more requests than the ring holds"),
	      "%s: error node '%s'", when, e ? e : "(absent)");
}

int main(void)
{
	uint8_t f[60];
	struct nh h;

	nh_start(&h, attack, NULL, NULL);
	expect(&h, "packet", "rsp 1 1 0 0");

	expect(&h, "tx-prod", "done");
	expect_failed(&h, "TX req_prod a ring ahead");
	nh_honest_ok(&h, "after the TX index lie");
	expect(&h, "reconnect", "ok");
	expect(&h, "packet", "rsp 1 1 0 0");

	expect(&h, "rx-prod", "done");
	/* A frame for the guest makes netbackd look at its RX ring. */
	memset(f, 0, sizeof(f));
	memcpy(f, (uint8_t[]){ 0x00, 0x16, 0x3e, 0x00, 0x01, 0x00 }, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	CHECK(write(h.ps, f, sizeof(f)) == (ssize_t)sizeof(f), "inject");
	expect_failed(&h, "RX req_prod beyond the ring");
	nh_honest_ok(&h, "after the RX index lie");
	nh_check_daemon(&h);
	CHECK(simenv_stat_value(nh_stats(&h), "vif/1/0", "prod_index") == 2,
	      "counters: %s", nh_stats(&h));

	expect(&h, "reconnect", "ok");
	expect(&h, "packet", "rsp 1 1 0 0");
	return nh_finish(&h);
}
