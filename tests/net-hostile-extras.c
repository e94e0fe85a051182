// SPDX-License-Identifier: MIT
/*
 * Hostile frontend, class 9: extra-info slots. An extra of type 0 or of a
 * type past the last one, an extra announced but never published (the
 * chain runs past req_prod), a GSO extra with size 0 or an unknown GSO
 * type: each is fatal, the vif disabled until the frontend reconnects, as
 * Linux netback. What Linux accepts is accepted: an XDP extra (type 5, in
 * Linux's netif.h) and a hash extra ride along and are ignored, and of a
 * repeated GSO extra the last one counts; each such packet is answered
 * OKAY on its data slot and NULL on each extra slot. (The multicast
 * flood is net-multicast-control-honoured.) The daemon stays up and the
 * honest guest passes traffic.
 */
#include <stdio.h>
#include <string.h>

#include "lib/check.h"
#include "lib/nethostile.h"

/* An Ethernet/IPv4/TCP frame on the scratch page, for GSO to be sane. */
static void frame(uint8_t *p)
{
	static const uint8_t hdr[54] = {
		0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x16, 0x3e,
		0x00, 0x01, 0x00, 0x08, 0x00, 0x45, 0x00, 0x00, 0xaa,
		0x00, 0x00, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00, 10,
		241,  0,    1,	  10,	241,  0,    2,	  0x9c, 0x40,
		0x27, 0x0f, 0,	  0,	0,    0,    0,	  0,	0,
		0,    0x50, 0x18, 0xff, 0xff, 0,    0,	  0,	0,
	};

	memset(p, 0x5a, 4096);
	memcpy(p, hdr, sizeof(hdr));
}

static void attack(struct netfront *nf, const char *cmd, char *reply,
		   size_t len)
{
	union ring_netif_tx_req sl[4];
	struct netif_extra_info *e1 = &sl[1].extra, *e2 = &sl[2].extra;
	unsigned int n = 2, nulls;
	uint32_t gref;
	int16_t st[4];
	int got;

	frame(netfront_tx_scratch(nf, 0, &gref));
	nh_chain(nf, sl, 1, 184, NULL, NH_ID0);
	sl[0].req.flags = NETTXF_extra_info | NETTXF_csum_blank |
			  NETTXF_data_validated;
	memset(&sl[1], 0, sizeof(sl[1]));
	memset(&sl[2], 0, sizeof(sl[2]));
	e1->type = XEN_NETIF_EXTRA_TYPE_GSO;
	e1->u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
	e1->u.gso.size = 100;
	if (!strcmp(cmd, "type0")) {
		e1->type = 0;
	} else if (!strcmp(cmd, "type6")) {
		e1->type = 6;
	} else if (!strcmp(cmd, "missing")) {
		n = 1;
	} else if (!strcmp(cmd, "missing-more")) {
		e1->flags = XEN_NETIF_EXTRA_FLAG_MORE;
	} else if (!strcmp(cmd, "gso-size0")) {
		e1->u.gso.size = 0;
	} else if (!strcmp(cmd, "gso-type3")) {
		e1->u.gso.type = 3;
	} else if (!strcmp(cmd, "gso")) {
		/* a plain, valid GSO packet */
	} else if (!strcmp(cmd, "xdp-hash")) {
		e1->type = 5;
		e1->flags = XEN_NETIF_EXTRA_FLAG_MORE;
		e2->type = XEN_NETIF_EXTRA_TYPE_HASH;
		e2->u.hash.type = _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
		e2->u.hash.algorithm = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
		n = 3;
	} else if (!strcmp(cmd, "gso-twice")) {
		/* The first is nonsense, the last one counts. */
		e1->u.gso.size = 0;
		e1->u.gso.type = 9;
		e1->flags = XEN_NETIF_EXTRA_FLAG_MORE;
		*e2 = (struct netif_extra_info){
			.type = XEN_NETIF_EXTRA_TYPE_GSO
		};
		e2->u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
		e2->u.gso.size = 100;
		n = 3;
	} else {
		snprintf(reply, len, "unknown %s", cmd);
		return;
	}
	got = nh_raw(nf, sl, n, n, 1500, st, 4, &nulls);
	nh_reply_rsp(reply, len, got, st, nulls);
}

static void expect(struct nh *h, const char *cmd, const char *want)
{
	const char *r = nh_ask(h, "%s", cmd);

	CHECK(!strcmp(r, want), "%s: '%s', not '%s'", cmd, r, want);
}

static void fatal(struct nh *h, const char *cmd)
{
	expect(h, cmd, "rsp 0 0 0 0");
	nh_expect_disabled(h, true, cmd);
	expect(h, "reconnect", "ok");
	expect(h, "gso", "rsp 2 1 0 1");
}

int main(void)
{
	const char *st;
	struct nh h;

	nh_start(&h, attack, NULL, NULL);

	expect(&h, "gso", "rsp 2 1 0 1");
	expect(&h, "xdp-hash", "rsp 3 1 0 2");
	expect(&h, "gso-twice", "rsp 3 1 0 2");
	nh_expect_disabled(&h, false, "after accepted extras");

	fatal(&h, "type0");
	fatal(&h, "type6");
	nh_honest_ok(&h, "after bad extra types");
	fatal(&h, "missing");
	fatal(&h, "missing-more");
	fatal(&h, "gso-size0");
	fatal(&h, "gso-type3");
	nh_check_daemon(&h);

	st = nh_stats(&h);
	CHECK(simenv_stat_value(st, "vif/1/0", "bad_extra") == 4 &&
		      simenv_stat_value(st, "vif/1/0", "bad_gso") == 2,
	      "counters: %s", st);
	CHECK(simenv_stat_value(st, "vif/1/0", "tx_gso") >= 3,
	      "the accepted GSO packets: %s", st);
	return nh_finish(&h);
}
