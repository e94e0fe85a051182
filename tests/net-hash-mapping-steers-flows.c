// SPDX-License-Identifier: MIT
/*
 * Guest-RX hashing over the control ring (feature-ctrl-ring): a frontend
 * with four queues sets the Toeplitz algorithm, the four hash types (IPv4,
 * IPv4+TCP, IPv6, IPv6+TCP), the 40-byte key of the Microsoft RSS
 * verification suite and an 8-entry mapping table. Flows then arrive from
 * the host side on vif1.0, whichever TAP queue the kernel hands them to:
 * each frame must reach the frontend on the queue the mapping names for
 * its hash, with a HASH extra carrying that hash, its type and the
 * algorithm. The RSS suite's five IPv4 and three IPv6 vectors (UDP: the
 * address-only hash; TCP: addresses and ports) must come with the suite's
 * published hashes; forty more IPv4 and twenty-four more IPv6 TCP flows
 * are checked against the test's own Toeplitz (itself checked against the
 * suite first). A first fragment carries a whole TCP header but must be
 * hashed on its addresses only (the flow's other fragments have no
 * ports), IPv4 and IPv6 alike; an IPv6 TCP segment behind a
 * destination-options header is hashed as TCP.
 * The other way, a guest-TX packet that carries a HASH extra is taken
 * (its slot OKAY, the extra's NULL) and its hash counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/check.h"
#include "lib/nethostile.h"
#include "netback/hash.h"

#define NQ 4
#define IP4_ADDR(a, b, c, d) { a, b, c, d }
#define MAP_SIZE 8
#define EXTRA_FLOWS 40
#define EXTRA_FLOWS6 24
#define ODD_FRAMES 3	/* the two first fragments, the dstopts segment */
#define FRAMES (2 * NH_RSS_VECS + EXTRA_FLOWS + EXTRA_FLOWS6 + ODD_FRAMES)

static uint32_t mapping(unsigned int i)
{
	return (i * 5 + 3) % NQ;
}

/* Toeplitz over the addresses, then (@ports) source and destination port. */
static uint32_t ref_hash(const struct nh_flow *fl, bool ports)
{
	size_t n = fl->v6 ? 16 : 4;
	uint8_t buf[36];

	memcpy(buf, fl->src, n);
	memcpy(buf + n, fl->dst, n);
	pkt_put_be16(buf + 2 * n, fl->sport);
	pkt_put_be16(buf + 2 * n + 2, fl->dport);
	return nb_toeplitz(nh_rss_key, buf, 2 * n + (ports ? 4 : 0));
}

/* What the daemon must say the frame is hashed as. */
static uint8_t ref_type(const struct nh_flow *fl, bool ports)
{
	if (fl->v6)
		return ports ? _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP :
			       _XEN_NETIF_CTRL_HASH_TYPE_IPV6;
	return ports ? _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP :
		       _XEN_NETIF_CTRL_HASH_TYPE_IPV4;
}

/* ------------------------------------------------ the guest's side */

struct tally {
	unsigned int got, ok, bad, vec, perq[NQ];
	char why[200];
};

static void on_rx(void *arg, unsigned int q, const void *data, size_t len,
		  const struct netfront_rxmeta *m)
{
	struct tally *t = arg;
	struct nh_flow fl;
	uint32_t want;
	uint8_t type;
	unsigned int wq;
	bool ports;

	if (!nh_frame_flow(data, len, &fl))
		return;		/* the host's own traffic (IPv6 ND...) */
	t->got++;
	/* A fragment's ports are not the flow's: addresses only. */
	ports = fl.tcp && !fl.frag;
	want = ref_hash(&fl, ports);
	type = ref_type(&fl, ports);
	wq = mapping(want % MAP_SIZE);
	for (int i = 0; i < NH_RSS_VECS; i++) {
		const struct nh_rss_vec *v = &nh_rss_vecs[i];

		if (v->fl.v6 == fl.v6 && !fl.frag && !fl.dstopts &&
		    !memcmp(v->fl.src, fl.src, sizeof(fl.src)) &&
		    v->fl.sport == fl.sport && m->has_hash &&
		    m->hash == (fl.tcp ? v->h_tcp : v->h_ip))
			t->vec++;
	}
	if (!m->has_hash || m->hash != want || m->hash_type != type ||
	    m->hash_alg != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ || q != wq) {
		if (!t->bad++)
			snprintf(t->why, sizeof(t->why), "IPv%c%s%s%s sport "
				 "%u: q %u (want %u) hash %d %#x type %u alg "
				 "%u (want %#x type %u)", fl.v6 ? '6' : '4',
				 fl.tcp ? " TCP" : " UDP",
				 fl.frag ? " fragment" : "",
				 fl.dstopts ? " dstopts" : "", fl.sport, q, wq,
				 m->has_hash, m->hash, m->hash_type,
				 m->hash_alg, want, type);
		return;
	}
	t->ok++;
	t->perq[q]++;
}

static int setup(struct netfront *nf, char *reply, size_t len)
{
	uint32_t gref, data = 0, *tab;
	uint8_t *page = netfront_ctrl_page(nf, &gref);
	int st;

#define MSG(type, a, b, c, what)                                               \
	do {                                                                   \
		st = netfront_ctrl(nf, type, a, b, c, &data);                  \
		if (st != XEN_NETIF_CTRL_STATUS_SUCCESS) {                     \
			snprintf(reply, len, "%s: %d %s", what, st,            \
				 netfront_last_error());                       \
			return -1;                                             \
		}                                                              \
	} while (0)
	if (!page) {
		snprintf(reply, len, "no control ring");
		return -1;
	}
	MSG(XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
	    XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, "algorithm");
	MSG(XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, "get flags");
	if ((data & NB_HASH_FLAGS_ALL) != NB_HASH_FLAGS_ALL) {
		snprintf(reply, len, "flags offered %#x", data);
		return -1;
	}
	MSG(XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
	    NB_HASH_FLAGS_ALL, 0, 0, "set flags");
	memcpy(page, nh_rss_key, 40);
	MSG(XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, gref, 40, 0, "key");
	MSG(XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, "get size");
	if (data != NB_HASH_MAPPING_MAX) {
		snprintf(reply, len, "mapping size offered %u", data);
		return -1;
	}
	MSG(XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, MAP_SIZE, 0, 0, "size");
	/* Two sub-tables, as a frontend whose table spans grants does. */
	tab = (uint32_t *)page;
	for (unsigned int i = 0; i < MAP_SIZE; i++)
		tab[i] = mapping(i);
	MSG(XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, gref, MAP_SIZE / 2, 0,
	    "mapping 0");
	memmove(tab, tab + MAP_SIZE / 2, MAP_SIZE / 2 * sizeof(*tab));
	MSG(XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, gref, MAP_SIZE / 2,
	    MAP_SIZE / 2, "mapping 1");
#undef MSG
	snprintf(reply, len, "ok");
	return 0;
}

static void attack(struct netfront *nf, const char *cmd, char *reply,
		   size_t len)
{
	unsigned int want;

	if (!strcmp(cmd, "setup")) {
		setup(nf, reply, len);
	} else if (!strcmp(cmd, "txhash")) {
		union ring_netif_tx_req sl[2];
		unsigned int nulls;
		uint32_t gref;
		uint8_t *page = netfront_tx_scratch(nf, 0, &gref);
		int16_t st[2];
		int got;

		nh_frame_ipv4(page, 100, 0x0a090001, 0x0a090101, 1234, 80,
			      true);
		nh_chain(nf, sl, 1, 100, NULL, NH_ID0);
		sl[0].req.flags |= NETTXF_extra_info;
		memset(&sl[1], 0, sizeof(sl[1]));
		sl[1].extra.type = XEN_NETIF_EXTRA_TYPE_HASH;
		sl[1].extra.u.hash.type = _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
		sl[1].extra.u.hash.algorithm =
			XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
		memcpy(sl[1].extra.u.hash.value, "\x78\x56\x34\x12", 4);
		got = nh_raw(nf, sl, 2, 2, 2000, st, 2, &nulls);
		nh_reply_rsp(reply, len, got, st, nulls);
	} else if (sscanf(cmd, "recv %u", &want) == 1) {
		struct tally t;

		memset(&t, 0, sizeof(t));
		for (int ms = 0; ms < 5000 && t.got < want; ms += 10) {
			for (unsigned int q = 0; q < NQ; q++)
				netfront_poll(nf, q, on_rx, &t, 0);
			netfront_wait(nf, 0, 10);
		}
		snprintf(reply, len, "got %u ok %u bad %u vec %u q %u %u %u %u "
			 "viol %lu %s", t.got, t.ok, t.bad, t.vec, t.perq[0],
			 t.perq[1], t.perq[2], t.perq[3],
			 netfront_violations(nf, NULL, 0), t.why);
	} else {
		snprintf(reply, len, "unknown %s", cmd);
	}
}

/* The flows the test adds to the suite's, one of each odd kind included. */
static void inject_flows(struct nh *h)
{
	struct nh_flow fl;
	uint8_t f[200];
	int i;

	for (i = 0; i < EXTRA_FLOWS; i++) {
		fl = (struct nh_flow){ .tcp = true,
				       .src = IP4_ADDR(10, 9, 0, 1 + i),
				       .dst = IP4_ADDR(10, 9, 1, 1),
				       .sport = (uint16_t)(40000 + i * 77),
				       .dport = (uint16_t)(80 + i) };
		nh_inject(h, f, nh_frame(f, 100 + i, &fl));
	}
	/* 2001:db8:9::<i + 1> -> 2001:db8:9:1::1 */
	for (i = 0; i < EXTRA_FLOWS6; i++) {
		fl = (struct nh_flow){ .v6 = true, .tcp = true,
				       .src = { 0x20, 0x01, 0x0d, 0xb8, 0, 9,
						[15] = (uint8_t)(1 + i) },
				       .dst = { 0x20, 0x01, 0x0d, 0xb8, 0, 9,
						0, 1, [15] = 1 },
				       .sport = (uint16_t)(41000 + i * 131),
				       .dport = (uint16_t)(443 + i) };
		nh_inject(h, f, nh_frame(f, 120 + i, &fl));
	}
	/* The last one's ports, behind a destination-options header. */
	fl.dstopts = true;
	nh_inject(h, f, nh_frame(f, 150, &fl));
	/* First fragments of TCP segments: addresses only. */
	fl.dstopts = false;
	fl.frag = true;
	nh_inject(h, f, nh_frame(f, 150, &fl));
	fl = (struct nh_flow){ .tcp = true, .frag = true,
			       .src = IP4_ADDR(10, 9, 0, 200),
			       .dst = IP4_ADDR(10, 9, 1, 1),
			       .sport = 40123, .dport = 80 };
	nh_inject(h, f, nh_frame(f, 150, &fl));
}

int main(void)
{
	static const char *const sets[] = { "max-queues=4", NULL };
	unsigned int got, ok, bad, vec, pq[NQ];
	unsigned long viol;
	struct netfront_cfg cfg;
	struct nh_flow fl;
	uint8_t f[200];
	const char *r, *st;
	struct nh h;

	/* Our Toeplitz (the daemon's) against the RSS suite, first. */
	for (int i = 0; i < NH_RSS_VECS; i++) {
		const struct nh_rss_vec *v = &nh_rss_vecs[i];

		CHECK(ref_hash(&v->fl, false) == v->h_ip &&
			      ref_hash(&v->fl, true) == v->h_tcp,
		      "Toeplitz differs from RSS vector %d", i);
	}
	net_require();
	netfront_cfg_init(&cfg);
	cfg.queues = NQ;
	cfg.ctrl_ring = true;
	nh_start(&h, attack, &cfg, sets);
	r = nh_ask(&h, "setup");
	CHECK(!strcmp(r, "ok"), "control ring setup: %s", r);

	for (int i = 0; i < NH_RSS_VECS; i++) {
		fl = nh_rss_vecs[i].fl;
		nh_inject(&h, f, nh_frame(f, 120, &fl));
		fl.tcp = true;
		nh_inject(&h, f, nh_frame(f, 120, &fl));
	}
	inject_flows(&h);
	r = nh_ask(&h, "recv %d", FRAMES);
	CHECK(sscanf(r, "got %u ok %u bad %u vec %u q %u %u %u %u viol %lu",
		     &got, &ok, &bad, &vec, &pq[0], &pq[1], &pq[2], &pq[3],
		     &viol) == 9, "guest: %s", r);
	fprintf(stderr, "guest: %s\n", r);
	CHECK(got == FRAMES && ok == got && bad == 0,
	      "frames on the wrong queue or with a wrong hash: %s", r);
	CHECK(vec == 2 * NH_RSS_VECS, "RSS suite hashes: %u of %d (%s)", vec,
	      2 * NH_RSS_VECS, r);
	CHECK(viol == 0, "netif violations: %s", r);
	for (int q = 0; q < NQ; q++)
		CHECK(pq[q] > 0, "no flow on queue %d: %s", q, r);
	st = nh_stats(&h);
	fprintf(stderr, "rx_hash %lld, steered %lld, ctrl messages %lld\n",
		simenv_stat_value(st, "vif/1/0", "rx_hash"),
		simenv_stat_value(st, "vif/1/0", "rx_steered"),
		simenv_stat_value(st, "vif/1/0", "ctrl_messages"));
	CHECK(simenv_stat_value(st, "vif/1/0", "rx_hash") >= FRAMES,
	      "HASH extras counted: %lld",
	      simenv_stat_value(st, "vif/1/0", "rx_hash"));
	/* The kernel spreads the flows over the TAP queues its own way:
	 * most of them must have moved to another queue. */
	CHECK(simenv_stat_value(st, "vif/1/0", "rx_steered") > 0,
	      "no frame was steered between queues");
	CHECK(simenv_stat_value(st, "vif/1/0", "ctrl_errors") == 0,
	      "control errors: %lld",
	      simenv_stat_value(st, "vif/1/0", "ctrl_errors"));
	CHECK(simenv_stat_value(st, "vif/2/0", "rx_hash") == 0,
	      "the honest vif (no control ring) got hashes");
	r = nh_ask(&h, "txhash");
	CHECK(!strcmp(r, "rsp 2 1 0 1"), "TX with a HASH extra: %s", r);
	CHECK(simenv_stat_value(nh_stats(&h), "vif/1/0", "tx_hash") == 1,
	      "TX hash not taken: %lld",
	      simenv_stat_value(nh_stats(&h), "vif/1/0", "tx_hash"));
	nh_check_daemon(&h);
	return nh_finish(&h);
}
