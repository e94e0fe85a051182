// SPDX-License-Identifier: MIT
/*
 * Hostile frontend, class 10 (XSA-361/362/367): grants that fail. A TX
 * slot naming a grant reference the guest never gave, first slot or a
 * later one, fails its packet with an error response on every slot; an RX
 * buffer posted with a bad reference, or with a read-only grant, gets an
 * error response where the packet's data should have been copied (the
 * frontend drops that packet and takes the next one normally). Nothing is
 * fatal, the vif serves on, the daemon stays up and the honest guest
 * passes traffic; the statistics count the failed copies.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/nethostile.h"

#define BAD_GREF 99999u

static void attack(struct netfront *nf, const char *cmd, char *reply,
		   size_t len)
{
	union ring_netif_tx_req sl[2];
	struct netfront_stats fs;
	uint8_t buf[2048];
	unsigned int nulls;
	uint32_t gref;
	int16_t st[2];
	int got, n;

	if (!strcmp(cmd, "tx-bad-first") || !strcmp(cmd, "tx-bad-later")) {
		nh_chain(nf, sl, 2, 200, NULL, NH_ID0);
		sl[strcmp(cmd, "tx-bad-first") ? 1 : 0].req.gref = BAD_GREF;
		got = nh_raw(nf, sl, 2, 2, 2000, st, 2, &nulls);
		nh_reply_rsp(reply, len, got, st, nulls);
	} else if (!strcmp(cmd, "rx-bad") || !strcmp(cmd, "rx-readonly")) {
		/* The next buffer the backend will fill gets a bad grant. */
		struct ring_front *f = netfront_ring(nf, 0, NETFRONT_RX);
		struct netif_rx_request *req =
			(struct netif_rx_request *)(f->sring->slots +
						    (f->rsp_cons &
						     (f->nr_ents - 1)) *
							    f->slot_size);

		netfront_tx_scratch(nf, 0, &gref);
		req->gref = strcmp(cmd, "rx-bad") ? gref : BAD_GREF;
		snprintf(reply, len, "done");
	} else if (!strcmp(cmd, "rx-take")) {
		n = netfront_recv(nf, 0, buf, sizeof(buf), NULL, 3000);
		netfront_stats(nf, 0, &fs);
		snprintf(reply, len, "len %d errors %llu", n,
			 (unsigned long long)fs.rx_errors);
	} else {
		snprintf(reply, len, "unknown %s", cmd);
	}
}

static void expect(struct nh *h, const char *cmd, const char *want)
{
	const char *r = nh_ask(h, "%s", cmd);

	CHECK(!strcmp(r, want), "%s: '%s', not '%s'", cmd, r, want);
}

static void inject(struct nh *h, size_t len)
{
	uint8_t f[1500];

	memset(f, 0x33, sizeof(f));
	memcpy(f, (uint8_t[]){ 0x00, 0x16, 0x3e, 0x00, 0x01, 0x00 }, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	CHECK(write(h->ps, f, len) == (ssize_t)len, "inject");
}

int main(void)
{
	const char *st;
	struct nh h;

	nh_start(&h, attack, NULL, NULL);
	/* Nothing else must reach the guest: no IPv6 chatter on vif1.0. */
	CHECK(net_ns_sh(h.s.daemon, NULL, 0,
			"sysctl -qw net.ipv6.conf.vif1/0.disable_ipv6=1") == 0,
	      "sysctl");

	expect(&h, "tx-bad-first", "rsp 2 0 2 0");
	expect(&h, "tx-bad-later", "rsp 2 0 2 0");

	expect(&h, "rx-bad", "done");
	inject(&h, 100);
	inject(&h, 200);
	expect(&h, "rx-take", "len 200 errors 1");
	expect(&h, "rx-readonly", "done");
	inject(&h, 300);
	inject(&h, 400);
	expect(&h, "rx-take", "len 400 errors 2");

	nh_expect_disabled(&h, false, "after failed grants");
	nh_check_daemon(&h);
	st = nh_stats(&h);
	CHECK(simenv_stat_value(st, "vif/1/0", "grant") == 4, "counters: %s",
	      st);
	return nh_finish(&h);
}
