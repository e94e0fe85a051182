// SPDX-License-Identifier: MIT
/*
 * Hostile frontend, class 6 (XSA-432): slot counts and sizes that do not
 * add up get Linux netback's treatment. A packet of 19 data slots (the
 * first and 18 more) is taken; 20 and 21 slots are dropped with an error
 * response on every slot; a later slot larger than what is left of the
 * packet, and a first slot shorter than an Ethernet header, likewise.
 * From 22 slots (fatal-slots, 20 after the first) the frontend is
 * malicious: nothing is answered and the vif is disabled (carrier off)
 * until it reconnects; a more_data chain running past the published
 * requests is fatal too. The daemon stays up, the honest guest passes
 * traffic throughout, and the statistics count each class.
 */
#include <stdio.h>
#include <string.h>

#include "lib/check.h"
#include "lib/nethostile.h"

static void attack(struct netfront *nf, const char *cmd, char *reply,
		   size_t len)
{
	union ring_netif_tx_req sl[32];
	int16_t st[32];
	unsigned int n, nulls;
	uint16_t sizes[32];
	int got;

	if (sscanf(cmd, "chain %u", &n) == 1 && n <= 32) {
		nh_chain(nf, sl, n, (uint16_t)(n * 100), NULL, NH_ID0);
	} else if (!strcmp(cmd, "short")) {
		n = nh_chain(nf, sl, 1, 10, NULL, NH_ID0);
	} else if (!strcmp(cmd, "bigger")) {
		/* 300 bytes, 200 left after the second slot: the third
		 * says 250. */
		sizes[1] = 100;
		sizes[2] = 250;
		n = nh_chain(nf, sl, 3, 300, sizes, NH_ID0);
	} else if (!strcmp(cmd, "runoff")) {
		n = nh_chain(nf, sl, 3, 300, NULL, NH_ID0);
		sl[2].req.flags |= NETTXF_more_data;
	} else {
		snprintf(reply, len, "unknown %s", cmd);
		return;
	}
	got = nh_raw(nf, sl, n, n, 1500, st, 32, &nulls);
	nh_reply_rsp(reply, len, got, st, nulls);
}

static void expect(struct nh *h, const char *cmd, const char *want)
{
	const char *r = nh_ask(h, "%s", cmd);

	CHECK(!strcmp(r, want), "%s: '%s', not '%s'", cmd, r, want);
}

int main(void)
{
	const char *st;
	struct nh h;

	nh_start(&h, attack, NULL, NULL);

	/* Below the bounds: taken, or dropped with errors. */
	expect(&h, "chain 1", "rsp 1 1 0 0");
	expect(&h, "chain 19", "rsp 19 19 0 0");
	expect(&h, "chain 20", "rsp 20 0 20 0");
	expect(&h, "chain 21", "rsp 21 0 21 0");
	expect(&h, "short", "rsp 1 0 1 0");
	expect(&h, "bigger", "rsp 3 0 3 0");
	nh_expect_disabled(&h, false, "after drops");
	nh_honest_ok(&h, "after drops");
	expect(&h, "chain 2", "rsp 2 2 0 0");

	/* Malicious: fatal-slots. */
	expect(&h, "chain 22", "rsp 0 0 0 0");
	nh_expect_disabled(&h, true, "after 22 slots");
	nh_honest_ok(&h, "after 22 slots");
	nh_check_daemon(&h);

	/* A reconnect serves it again; a chain past req_prod is fatal. */
	expect(&h, "reconnect", "ok");
	nh_expect_disabled(&h, false, "after the reconnect");
	expect(&h, "chain 3", "rsp 3 3 0 0");
	expect(&h, "runoff", "rsp 0 0 0 0");
	nh_expect_disabled(&h, true, "after a chain past req_prod");

	st = nh_stats(&h);
	CHECK(simenv_stat_value(st, "vif/1/0", "too_many_slots") == 1 &&
		      simenv_stat_value(st, "vif/1/0", "chain_runoff") == 1 &&
		      simenv_stat_value(st, "vif/1/0", "slots") == 2 &&
		      simenv_stat_value(st, "vif/1/0", "size") == 1 &&
		      simenv_stat_value(st, "vif/1/0", "short") == 1,
	      "counters: %s", st);
	expect(&h, "reconnect", "ok");
	return nh_finish(&h);
}
