// SPDX-License-Identifier: MIT
/*
 * Hostile frontend, class 7 (XSA-448): per-slot bounds. A slot whose
 * offset + size runs past its page, the first one or a later one, is
 * fatal: the vif is disabled until the frontend reconnects. Zero-length
 * slots are harmless and never become zero-length fragments: a packet
 * whose later slots are all empty reaches the host whole (the first
 * slot's 200 bytes, checked on the vif), and one whose every slot is
 * empty is dropped with error responses (shorter than an Ethernet
 * header). The daemon stays up and the honest guest passes traffic.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/nethostile.h"

#define ETYPE 0x88b5

static void attack(struct netfront *nf, const char *cmd, char *reply,
		   size_t len)
{
	union ring_netif_tx_req sl[8];
	uint16_t sizes[8] = { 0 };
	unsigned int n, nulls;
	uint32_t gref;
	uint8_t *page = netfront_tx_scratch(nf, 0, &gref);
	int16_t st[8];
	int got;

	/* A frame the host can recognise: to fe:ff:ff:ff:ff:ff, our type. */
	memset(page, 0x5a, 4096);
	memset(page, 0xff, 6);
	page[0] = 0xfe;
	page[12] = ETYPE >> 8;
	page[13] = ETYPE & 0xff;
	if (!strcmp(cmd, "first-past-page")) {
		n = nh_chain(nf, sl, 1, 200, NULL, NH_ID0);
		sl[0].req.offset = 4000;
	} else if (!strcmp(cmd, "frag-past-page")) {
		sizes[1] = 100;
		n = nh_chain(nf, sl, 2, 300, sizes, NH_ID0);
		sl[1].req.offset = 4050;
	} else if (!strcmp(cmd, "zero-frags")) {
		/* 200 bytes, all in the first slot; three empty ones. */
		n = nh_chain(nf, sl, 4, 200, sizes, NH_ID0);
	} else if (!strcmp(cmd, "all-zero")) {
		n = nh_chain(nf, sl, 3, 0, sizes, NH_ID0);
	} else {
		snprintf(reply, len, "unknown %s", cmd);
		return;
	}
	got = nh_raw(nf, sl, n, n, 1500, st, 8, &nulls);
	nh_reply_rsp(reply, len, got, st, nulls);
}

static void expect(struct nh *h, const char *cmd, const char *want)
{
	const char *r = nh_ask(h, "%s", cmd);

	CHECK(!strcmp(r, want), "%s: '%s', not '%s'", cmd, r, want);
}

/* The next frame of ours on vif1.0: its length, or -1. */
static int captured(struct nh *h)
{
	uint8_t buf[2048];

	for (;;) {
		struct pollfd pfd = { .fd = h->ps, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 2000) != 1)
			return -1;
		n = read(h->ps, buf, sizeof(buf));
		if (n >= 14 && buf[12] == (ETYPE >> 8) &&
		    buf[13] == (ETYPE & 0xff))
			return (int)n;
	}
}

int main(void)
{
	const char *st;
	struct nh h;

	nh_start(&h, attack, NULL, NULL);

	expect(&h, "zero-frags", "rsp 4 4 0 0");
	CHECK(captured(&h) == 200, "the 200-byte frame did not arrive whole");
	expect(&h, "all-zero", "rsp 3 0 3 0");
	nh_expect_disabled(&h, false, "after empty slots");

	expect(&h, "first-past-page", "rsp 0 0 0 0");
	nh_expect_disabled(&h, true, "after a first slot past its page");
	nh_honest_ok(&h, "after a first slot past its page");
	expect(&h, "reconnect", "ok");
	expect(&h, "zero-frags", "rsp 4 4 0 0");

	expect(&h, "frag-past-page", "rsp 0 0 0 0");
	nh_expect_disabled(&h, true, "after a later slot past its page");
	nh_check_daemon(&h);
	st = nh_stats(&h);
	CHECK(simenv_stat_value(st, "vif/1/0", "cross_page") == 2 &&
		      simenv_stat_value(st, "vif/1/0", "short") == 1,
	      "counters: %s", st);
	expect(&h, "reconnect", "ok");
	return nh_finish(&h);
}
