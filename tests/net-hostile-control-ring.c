// SPDX-License-Identifier: MIT
/*
 * Hostile frontend, class 11 (XSA-270): the control ring. The hostile
 * guest (two queues, a control ring) sends every message a careless
 * backend trusts: a key longer than 40 octets, a mapping table larger
 * than 128 entries, entries naming queues the vif does not have, an
 * offset + length that wraps around or runs past the table, unknown and
 * unsupported message types, a grant that is not one; each must be
 * answered with its own error status (and the state left alone: a valid
 * table set afterwards still works). Then it floods the ring, full, many
 * times over: every message answered, in order. Last it publishes more
 * messages than the ring holds: the control ring is stopped (counted),
 * the vif's data path goes on. Throughout, netbackd stays up and the
 * honest guest's vif passes traffic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/nethostile.h"
#include "netback/hash.h"

#define NQ 2
#define S_OK XEN_NETIF_CTRL_STATUS_SUCCESS
#define S_NS XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED
#define S_INV XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER
#define S_OVF XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW
#define BAD_GREF 0x7ffffff0u

struct step {
	uint16_t type;
	uint32_t d[3]; /* UINT32_MAX - 1 in d[0]: our gref */
	uint32_t want;
	int table; /* fill the page: 0 none, 1 valid, 2 bad */
	const char *what;
};

#define GREF (UINT32_MAX - 1)

/* clang-format off: one step per line pair reads as a script */
static const struct step steps[] = {
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
	  { 7 },
	  S_INV,
	  0,
	  "unknown algorithm" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
	  { 1 },
	  S_INV,
	  0,
	  "flags without an algorithm" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
	  { XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ },
	  S_OK,
	  0,
	  "Toeplitz" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
	  { 0x10 },
	  S_INV,
	  0,
	  "unknown flag" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
	  { GREF, 41 },
	  S_OVF,
	  0,
	  "key of 41 octets" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
	  { GREF, 0xffffffff },
	  S_OVF,
	  0,
	  "key of 2^32-1 octets" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
	  { BAD_GREF, 40 },
	  S_INV,
	  0,
	  "key in a bad grant" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
	  { 129 },
	  S_INV,
	  0,
	  "mapping size 129" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
	  { 0xffffffff },
	  S_INV,
	  0,
	  "mapping size 2^32-1" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
	  { GREF, 1, 0 },
	  S_INV,
	  1,
	  "mapping past a table of 0 entries" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
	  { 128 },
	  S_OK,
	  0,
	  "mapping size 128" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
	  { GREF, 4, 0 },
	  S_INV,
	  2,
	  "entry naming queue 2 of 2" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
	  { GREF, 2, 0xffffffff },
	  S_INV,
	  1,
	  "offset + length wrapping" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
	  { GREF, 0xfffffffe, 4 },
	  S_INV,
	  1,
	  "length wrapping the offset" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
	  { GREF, 2, 127 },
	  S_INV,
	  1,
	  "past the table's end" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
	  { GREF, 1025, 0 },
	  S_INV,
	  1,
	  "more entries than a page" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
	  { BAD_GREF, 4, 0 },
	  S_INV,
	  1,
	  "table in a bad grant" },
	{ XEN_NETIF_CTRL_TYPE_INVALID, { 0 }, S_NS, 0, "type 0" },
	{ XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE,
	  { 0 },
	  S_NS,
	  0,
	  "gref mapping size" },
	{ XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING,
	  { GREF, 1 },
	  S_NS,
	  0,
	  "add gref mapping" },
	{ XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING,
	  { GREF, 1 },
	  S_NS,
	  0,
	  "del gref mapping" },
	{ 11, { 1, 2, 3 }, S_NS, 0, "type 11" },
	{ 0xffff, { 1, 2, 3 }, S_NS, 0, "type 65535" },
	{ XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE,
	  { 0 },
	  S_OK,
	  0,
	  "the limits still said" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
	  { GREF, 4, 124 },
	  S_OK,
	  1,
	  "a valid sub-table at the end" },
	{ XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
	  { GREF, 40 },
	  S_OK,
	  0,
	  "a key of 40 octets" },
};
/* clang-format on */

static void run_steps(struct netfront *nf, char *reply, size_t len)
{
	uint32_t gref, data;
	uint32_t *page = netfront_ctrl_page(nf, &gref);

	if (!page) {
		snprintf(reply, len, "no control ring");
		return;
	}
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		const struct step *s = &steps[i];
		uint32_t d0 = s->d[0] == GREF ? gref : s->d[0];
		int st;

		for (unsigned int k = 0; k < 1024; k++)
			page[k] = s->table == 2 ? (k == 3 ? NQ : k % NQ)
						: k % NQ;
		st = netfront_ctrl(nf, s->type, d0, s->d[1], s->d[2], &data);
		if (st != (int)s->want) {
			snprintf(reply, len,
				 "step %zu (%s): status %d, want "
				 "%u",
				 i, s->what, st, s->want);
			return;
		}
		if (st != S_OK && data != 0) {
			snprintf(reply, len,
				 "step %zu (%s): data %u with an "
				 "error",
				 i, s->what, data);
			return;
		}
	}
	snprintf(reply, len, "ok %zu", sizeof(steps) / sizeof(steps[0]));
}

/* Fill the ring with unknown messages, @rounds times; all answered? */
static void flood(struct netfront *nf, unsigned int rounds, char *reply,
		  size_t len)
{
	struct ring_front *f = netfront_ctrl_ring(nf);
	static struct xen_netif_ctrl_request req[256];
	static struct xen_netif_ctrl_response rsp[256];
	unsigned int n = f ? f->nr_ents : 0, total = 0;
	uint16_t id = 1000;

	for (unsigned int r = 0; r < rounds; r++) {
		int got;

		for (unsigned int i = 0; i < n; i++) {
			memset(&req[i], 0, sizeof(req[i]));
			req[i].id = id++;
			req[i].type = (uint16_t)(i % 2 ? 200 + i : 0);
		}
		if (netfront_ctrl_send(nf, req, n)) {
			snprintf(reply, len, "round %u: send failed", r);
			return;
		}
		got = netfront_ctrl_collect(nf, rsp, n, n, 5000);
		if (got != (int)n) {
			snprintf(reply, len, "round %u: %d of %u answered", r,
				 got, n);
			return;
		}
		for (unsigned int i = 0; i < n; i++) {
			if (rsp[i].id != req[i].id ||
			    rsp[i].type != req[i].type ||
			    rsp[i].status != S_NS || rsp[i].data) {
				snprintf(reply, len,
					 "round %u message %u: id "
					 "%u type %u status %u",
					 r, i, rsp[i].id, rsp[i].type,
					 rsp[i].status);
				return;
			}
		}
		total += n;
	}
	snprintf(reply, len, "flood %u %u", n, total);
}

static void attack(struct netfront *nf, const char *cmd, char *reply,
		   size_t len)
{
	unsigned int rounds;

	if (!strcmp(cmd, "steps")) {
		run_steps(nf, reply, len);
	} else if (sscanf(cmd, "flood %u", &rounds) == 1) {
		flood(nf, rounds, reply, len);
	} else if (!strcmp(cmd, "overflow")) {
		struct ring_front *f = netfront_ctrl_ring(nf);

		/* More messages published than the ring holds. */
		__atomic_store_n(&f->sring->req_prod,
				 f->req_prod_pvt + 3 * f->nr_ents,
				 __ATOMIC_RELEASE);
		netfront_ctrl_notify(nf);
		snprintf(reply, len, "published");
	} else {
		snprintf(reply, len, "unknown %s", cmd);
	}
}

int main(void)
{
	static const char *const sets[] = { "max-queues=2", NULL };
	struct netfront_cfg cfg;
	long long msgs, errs, broken;
	const char *r, *st;
	unsigned int n, total;
	struct nh h;

	net_require();
	netfront_cfg_init(&cfg);
	cfg.queues = NQ;
	cfg.ctrl_ring = true;
	nh_start(&h, attack, &cfg, sets);

	r = nh_ask(&h, "steps");
	CHECK(!strncmp(r, "ok ", 3), "hostile messages: %s", r);
	nh_honest_ok(&h, "after the hostile messages");

	r = nh_ask(&h, "flood 20");
	CHECK(sscanf(r, "flood %u %u", &n, &total) == 2 && n >= 64 &&
		      total == 20 * n,
	      "flood: %s", r);
	st = nh_stats(&h);
	msgs = simenv_stat_value(st, "vif/1/0", "ctrl_messages");
	errs = simenv_stat_value(st, "vif/1/0", "ctrl_errors");
	fprintf(stderr, "control ring: %lld messages, %lld errors\n", msgs,
		errs);
	CHECK(msgs == (long long)(sizeof(steps) / sizeof(steps[0])) + total,
	      "messages counted: %lld", msgs);
	CHECK(errs > (long long)total, "errors counted: %lld", errs);

	r = nh_ask(&h, "overflow");
	CHECK(!strcmp(r, "published"), "%s", r);
	broken = 0;
	for (int i = 0; i < 100 && broken != 1; i++) {
		broken = simenv_stat_value(nh_stats(&h), "vif/1/0",
					   "ctrl_broken");
		if (broken != 1)
			usleep(20000);
	}
	CHECK(broken == 1, "the overflowed control ring was not stopped");
	nh_check_daemon(&h);
	/* The data path is not the control ring's: it goes on. */
	r = nh_ask(&h, "packet");
	CHECK(!strcmp(r, "rsp 1 1 0 0"), "after the overflow: %s", r);
	nh_expect_disabled(&h, false, "after the control ring overflow");
	return nh_finish(&h);
}
