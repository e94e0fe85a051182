// SPDX-License-Identifier: MIT
/*
 * nethash.c - the guest side of receive-side hashing (nethash.h).
 */
#include "lib/nethash.h"

#include <stdio.h>
#include <string.h>

#include "lib/check.h"
#include "netback/hash.h"

#define IP4_ADDR(a, b, c, d)                                                   \
	{                                                                      \
		a, b, c, d                                                     \
	}

uint32_t nhash_mapping(unsigned int i)
{
	return (i * 5 + 3) % NHASH_QUEUES;
}

uint32_t nhash_ref(const struct nh_flow *fl, bool ports)
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
		return ports ? _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP
			     : _XEN_NETIF_CTRL_HASH_TYPE_IPV6;
	return ports ? _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP
		     : _XEN_NETIF_CTRL_HASH_TYPE_IPV4;
}

struct tally {
	struct nhash_tally t;
	char why[200];
};

static void on_rx(void *arg, unsigned int q, const void *data, size_t len,
		  const struct netfront_rxmeta *m)
{
	struct tally *ta = arg;
	struct nhash_tally *t = &ta->t;
	struct nh_flow fl;
	uint32_t want;
	uint8_t type;
	unsigned int wq;
	bool ports;

	if (!nh_frame_flow(data, len, &fl))
		return; /* the host's own traffic (IPv6 ND...) */
	t->got++;
	/* A fragment's ports are not the flow's: addresses only. */
	ports = fl.tcp && !fl.frag;
	want = nhash_ref(&fl, ports);
	type = ref_type(&fl, ports);
	wq = nhash_mapping(want % NHASH_MAP_SIZE);
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
			snprintf(ta->why, sizeof(ta->why),
				 "IPv%c%s%s%s sport "
				 "%u: q %u (want %u) hash %d %#x type %u alg "
				 "%u (want %#x type %u)",
				 fl.v6 ? '6' : '4', fl.tcp ? " TCP" : " UDP",
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
	MSG(XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, NB_HASH_FLAGS_ALL, 0, 0,
	    "set flags");
	memcpy(page, nh_rss_key, 40);
	MSG(XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, gref, 40, 0, "key");
	MSG(XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, "get size");
	if (data != NB_HASH_MAPPING_MAX) {
		snprintf(reply, len, "mapping size offered %u", data);
		return -1;
	}
	MSG(XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, NHASH_MAP_SIZE, 0, 0,
	    "size");
	/* Two sub-tables, as a frontend whose table spans grants does. */
	tab = (uint32_t *)page;
	for (unsigned int i = 0; i < NHASH_MAP_SIZE; i++)
		tab[i] = nhash_mapping(i);
	MSG(XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, gref, NHASH_MAP_SIZE / 2, 0,
	    "mapping 0");
	memmove(tab, tab + NHASH_MAP_SIZE / 2,
		NHASH_MAP_SIZE / 2 * sizeof(*tab));
	MSG(XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, gref, NHASH_MAP_SIZE / 2,
	    NHASH_MAP_SIZE / 2, "mapping 1");
#undef MSG
	snprintf(reply, len, "ok");
	return 0;
}

int nhash_attack(struct netfront *nf, const char *cmd, char *reply, size_t len)
{
	unsigned int want;
	struct tally ta;

	if (!strcmp(cmd, "setup")) {
		setup(nf, reply, len);
		return 1;
	}
	if (sscanf(cmd, "recv %u", &want) != 1)
		return 0;
	memset(&ta, 0, sizeof(ta));
	for (int ms = 0; ms < 5000 && ta.t.got < want; ms += 10) {
		for (unsigned int q = 0; q < NHASH_QUEUES; q++)
			netfront_poll(nf, q, on_rx, &ta, 0);
		netfront_wait(nf, 0, 10);
	}
	snprintf(reply, len,
		 "got %u ok %u bad %u vec %u q %u %u %u %u viol "
		 "%lu %s",
		 ta.t.got, ta.t.ok, ta.t.bad, ta.t.vec, ta.t.perq[0],
		 ta.t.perq[1], ta.t.perq[2], ta.t.perq[3],
		 netfront_violations(nf, NULL, 0), ta.why);
	return 1;
}

void nhash_start(struct nh *h, nh_attack_fn attack)
{
	static const char *const sets[] = { "max-queues=4", NULL };
	struct netfront_cfg cfg;
	const char *r;

	netfront_cfg_init(&cfg);
	cfg.queues = NHASH_QUEUES;
	cfg.ctrl_ring = true;
	nh_start(h, attack, &cfg, sets);
	r = nh_ask(h, "setup");
	CHECK(!strcmp(r, "ok"), "control ring setup: %s", r);
}

int nhash_parse(const char *reply, struct nhash_tally *t)
{
	memset(t, 0, sizeof(*t));
	return sscanf(reply,
		      "got %u ok %u bad %u vec %u q %u %u %u %u viol "
		      "%lu",
		      &t->got, &t->ok, &t->bad, &t->vec, &t->perq[0],
		      &t->perq[1], &t->perq[2], &t->perq[3], &t->viol) == 9
		       ? 0
		       : -1;
}

unsigned int nhash_inject(struct nh *h, unsigned int v4, unsigned int v6,
			  bool odd)
{
	struct nh_flow fl;
	unsigned int n = 0, i;
	uint8_t f[200];

	for (i = 0; i < NH_RSS_VECS; i++, n += 2) {
		fl = nh_rss_vecs[i].fl;
		nh_inject(h, f, nh_frame(f, 120, &fl));
		fl.tcp = true;
		nh_inject(h, f, nh_frame(f, 120, &fl));
	}
	for (i = 0; i < v4; i++, n++) {
		fl = (struct nh_flow){ .tcp = true,
				       .src = IP4_ADDR(10, 9, 0,
						       (uint8_t)(1 + i)),
				       .dst = IP4_ADDR(10, 9, 1, 1),
				       .sport = (uint16_t)(40000 + i * 77),
				       .dport = (uint16_t)(80 + i) };
		nh_inject(h, f, nh_frame(f, 100 + i, &fl));
	}
	/* 2001:db8:9::<i + 1> -> 2001:db8:9:1::1 */
	for (i = 0; i < v6; i++, n++) {
		fl = (struct nh_flow){ .v6 = true,
				       .tcp = true,
				       .src = { 0x20, 0x01, 0x0d, 0xb8, 0,
						9, [15] = (uint8_t)(1 + i) },
				       .dst = { 0x20, 0x01, 0x0d, 0xb8, 0, 9, 0,
						1, [15] = 1 },
				       .sport = (uint16_t)(41000 + i * 131),
				       .dport = (uint16_t)(443 + i) };
		nh_inject(h, f, nh_frame(f, 120 + i, &fl));
	}
	if (!odd || !v6)
		return n;
	/* The last IPv6 flow's ports, behind a destination-options header. */
	fl.dstopts = true;
	nh_inject(h, f, nh_frame(f, 150, &fl));
	/* First fragments of TCP segments: addresses only. */
	fl.dstopts = false;
	fl.frag = true;
	nh_inject(h, f, nh_frame(f, 150, &fl));
	fl = (struct nh_flow){ .tcp = true,
			       .frag = true,
			       .src = IP4_ADDR(10, 9, 0, 200),
			       .dst = IP4_ADDR(10, 9, 1, 1),
			       .sport = 40123,
			       .dport = 80 };
	nh_inject(h, f, nh_frame(f, 150, &fl));
	return n + 3;
}
