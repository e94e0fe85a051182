// SPDX-License-Identifier: MIT
/*
 * Hostile class 14 (spec/hostile-frontend.md): a guest lies in the keys
 * it writes for the handshake, one lie per vbd, the handshake done by
 * hand: multi-queue-num-queues 0, 999 (above the 4 offered) and "two";
 * ring-page-order 9 and a number past 2^64; ring-ref "abc", 2^32, and a
 * reference never granted; event-channel "xyz", a port bound for another
 * domain than Dom0 and one never allocated; protocol "bogus-abi"; two
 * queues but no queue-1/ keys; one queue with only queue-0/ keys; an
 * order-2 ring without ring-ref3; ring-page-order 1 with the order-0 key;
 * a state that is not a number; a ring granted read-only; four queues of
 * which the last one's ring was never granted (three start, then all
 * stop); two queues naming one ring and one port. Each such vbd fails to
 * connect: backend
 * Closing and an error node "<errno> <message>" naming what was wrong.
 * Two queues on one ring, each with its own port, only confuse the
 * liar: refused, or connected and then closed cleanly. ring-page-order
 * present means ring-ref%u even for order 0: without ring-ref0 that is a
 * failure, with it (and no ring-ref) the vbd must connect.
 * A vbd whose frontend directory vanishes right after Initialised ends
 * Closing or Closed, and one whose state flaps 1/3 a hundred times ends
 * in a sane state, closes cleanly and then connects for real. The guest's
 * good vbd and the honest guest (blkbackd --single: the same process)
 * work throughout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xen.h"
#include "lib/check.h"
#include "lib/hostile.h"

enum special {
	S_NONE,
	S_EVT_OTHER_DOM,
	S_Q1_MISSING,
	S_TOP_MISSING,
	S_STATE_GARBAGE,
	S_RO_RING,
	S_Q3_UNGRANTED,
	S_ONE_RING_PORT,
	S_ONE_RING
};

static const struct lie {
	const char *what;
	unsigned int order;
	const char *edits[4];
	enum special special;
	const char *needle; /* in the error node */
	int may_connect;    /* 1: only hurts the liar; 2: no lie */
} lies[] = {
	{ .what = "multi-queue-num-queues 0",
	  .edits = { "multi-queue-num-queues=0" },
	  .needle = "multi-queue-num-queues" },
	{ .what = "multi-queue-num-queues 999",
	  .edits = { "multi-queue-num-queues=999" },
	  .needle = "multi-queue-num-queues" },
	{ .what = "multi-queue-num-queues \"two\"",
	  .edits = { "multi-queue-num-queues=two" },
	  .needle = "multi-queue-num-queues" },
	{ .what = "ring-page-order 9",
	  .edits = { "ring-page-order=9" },
	  .needle = "ring-page-order" },
	{ .what = "ring-page-order past 2^64",
	  .edits = { "ring-page-order=99999999999999999999999" },
	  .needle = "ring-page-order" },
	{ .what = "ring-ref \"abc\"",
	  .edits = { "ring-ref=abc" },
	  .needle = "ring-ref" },
	{ .what = "ring-ref 2^32",
	  .edits = { "ring-ref=4294967296" },
	  .needle = "ring-ref" },
	{ .what = "ring-ref never granted",
	  .edits = { "ring-ref=16000" },
	  .needle = "ring" },
	{ .what = "event-channel \"xyz\"",
	  .edits = { "event-channel=xyz" },
	  .needle = "event-channel" },
	{ .what = "event-channel never allocated",
	  .edits = { "event-channel=999" },
	  .needle = "event channel" },
	{ .what = "event-channel bound for domain 2",
	  .special = S_EVT_OTHER_DOM,
	  .needle = "event channel" },
	{ .what = "protocol \"bogus-abi\"",
	  .edits = { "protocol=bogus-abi" },
	  .needle = "protocol" },
	{ .what = "two queues, no queue-1/",
	  .special = S_Q1_MISSING,
	  .needle = "queue-1/event-channel" },
	{ .what = "one queue, only queue-0/ keys",
	  .special = S_TOP_MISSING,
	  .needle = "event-channel" },
	{ .what = "ring-page-order 2 without ring-ref3",
	  .order = 2,
	  .edits = { "-ring-ref3" },
	  .needle = "ring-ref3" },
	{ .what = "ring-page-order 1 with ring-ref",
	  .edits = { "ring-page-order=1" },
	  .needle = "ring-ref0" },
	{ .what = "state \"abc\"",
	  .special = S_STATE_GARBAGE,
	  .needle = "state" },
	{ .what = "ring granted read-only",
	  .special = S_RO_RING,
	  .needle = "ring" },
	{ .what = "four queues, queue-3's ring never granted",
	  .special = S_Q3_UNGRANTED,
	  .needle = "ring" },
	{ .what = "two queues on one ring and one port",
	  .special = S_ONE_RING_PORT },
	{ .what = "two queues on one ring",
	  .special = S_ONE_RING,
	  .may_connect = 1 },
	/*
	 * ring-page-order present means ring-ref%u, even for order 0 (spec
	 * B.1 step 5; Linux since "xen-blkback: fix compatibility bug with
	 * single page rings", 2021): a stale ring-ref must not be used.
	 */
	{ .what = "ring-page-order 0 with ring-ref, no ring-ref0",
	  .edits = { "ring-page-order=0" },
	  .needle = "ring-ref0" },
	{ .what = "ring-page-order 0 with ring-ref0 (no lie: must connect)",
	  .edits = { "ring-page-order=0", "-ring-ref", "ring-ref0=@" },
	  .may_connect = 2 },
};
#define NLIES (sizeof(lies) / sizeof(lies[0]))
#define DEV(i) (HOSTILE_DEVID + 16 * (unsigned int)(i))
#define DEV_GONE DEV(NLIES)
#define DEV_FLAP DEV(NLIES + 1)
#define DEV_GOOD DEV(NLIES + 2)

/*
 * Multi-queue keys by hand: S_Q3_UNGRANTED four queues, the last one's
 * ring never granted (three queues start before the fourth fails);
 * S_ONE_RING_PORT two queues naming the same ring and port;
 * S_ONE_RING two queues on the same ring, each with its own port.
 */
static int second_port = -1; /* S_ONE_RING: queue 1's port */

static void multi_queue(struct hostile_fe *fe, enum special sp)
{
	unsigned int nq = sp == S_Q3_UNGRANTED ? 4 : 2;
	char kv[16][64];
	const char *ed[20] = { NULL };
	unsigned int n = 0;

	snprintf(kv[n], sizeof(kv[n]), "multi-queue-num-queues=%u", nq);
	ed[n] = kv[n];
	n++;
	for (unsigned int i = 0; i < nq; i++) {
		uint32_t ref = fe->refs[0];
		int port = fe->port;

		if (sp == S_Q3_UNGRANTED && i) {
			void *addr;

			CHECK(xen_gntshr_share(fe->gs, fe->f.be_domid, 1, 1,
					       &ref, &addr) == 0,
			      "share ring %u", i);
		}
		if (sp == S_Q3_UNGRANTED && i == 3)
			ref = 16000;
		if (sp != S_ONE_RING_PORT && i) {
			port = xen_evtchn_alloc_unbound(fe->xe, fe->f.be_domid);
			CHECK(port >= 0, "port %u", i);
			second_port = port;
		}
		snprintf(kv[n], sizeof(kv[n]), "queue-%u/ring-ref=%u", i, ref);
		ed[n] = kv[n];
		n++;
		snprintf(kv[n], sizeof(kv[n]), "queue-%u/event-channel=%d", i,
			 port);
		ed[n] = kv[n];
		n++;
	}
	ed[n++] = "-ring-ref";
	ed[n++] = "-event-channel";
	hostile_fe_keys(fe, ed);
}

/*
 * Requests on a ring the backend connected, then an orderly close. With
 * S_ONE_RING two backend queues consume it: the guest asked for its own
 * confusion; requests must still be answered (maybe twice), the backend
 * must not fall over, and the device must close cleanly.
 */
static void use_ring(struct hostile_fe *fe)
{
	struct ring_blkif_rsp rsp[64];
	unsigned int got = 0, sent = 0;
	int s;

	for (unsigned int round = 0; round < 20; round++) {
		for (unsigned int i = 0; i < 8; i++) {
			struct ring_blkif_req r;

			hostile_req(&r, 200, 0, 0, NULL, 0, 0, 0);
			r.id = sent;
			if (ring_blkif_front_put_req(&fe->rf, &r))
				break;
			sent++;
		}
		ring_front_push_req(&fe->rf.f);
		/* Both queues sweep the one ring at once. */
		xen_evtchn_notify(fe->xe, (uint32_t)fe->port);
		if (second_port >= 0)
			xen_evtchn_notify(fe->xe, (uint32_t)second_port);
		/* Whatever comes (the other queue may answer again, or see
		 * the ring broken): no hang, no crash. */
		for (int t = 0; t < 20; t++) {
			int n = ring_blkif_front_fetch_rsp(&fe->rf, rsp, 64);

			if (n <= 0)
				break;
			got += (unsigned int)n;
		}
		usleep(2000);
	}
	/* One queue: every request is answered (at most a ring's worth are
	 * outstanding, so they fit in rsp). */
	if (second_port < 0 && got < sent)
		got += hostile_ring_wait(
			&fe->rf, rsp, sent - got < 64 ? sent - got : 64, 10000);
	fprintf(stderr,
		"hostile guest: %u answers to %u requests, backend "
		"state %d\n",
		got, sent, xfront_be_state(&fe->f));
	CHECK(second_port >= 0 || got == sent, "%u answers to %u requests", got,
	      sent);
	hostile_fe_state(fe, 5);
	s = hostile_fe_wait(fe, XF_STATE(5) | XF_STATE(6), 10000);
	CHECK(s == 5 || s == 6, "closing a shared ring: backend state %d", s);
	hostile_fe_state(fe, 6);
	s = hostile_fe_wait(fe, XF_STATE(6), 10000);
	CHECK(s == 6, "closed a shared ring: backend state %d", s);
	hostile_fe_close(fe);
}

static void tell_lie(unsigned int i)
{
	const struct lie *l = &lies[i];
	struct hostile_fe fe;
	struct xen_evtchn *other = NULL;
	char a[64], b[64], c[64];
	const char *ed[8] = { NULL };
	int s;

	hostile_fe_open(&fe, DEV(i), l->order, RING_BLKIF_ABI_NATIVE);
	switch (l->special) {
	case S_NONE:
	case S_STATE_GARBAGE:
		/* "key=@": the ring's grant reference. */
		for (unsigned int k = 0; k < 4 && l->edits[k]; k++) {
			const char *at = strstr(l->edits[k], "=@");

			ed[k] = l->edits[k];
			if (at) {
				snprintf(k ? c : b, sizeof(b), "%.*s=%u",
					 (int)(at - l->edits[k]), l->edits[k],
					 fe.refs[0]);
				ed[k] = k ? c : b;
			}
		}
		hostile_fe_keys(&fe, ed);
		break;
	case S_EVT_OTHER_DOM: {
		int port;

		CHECK(xen_evtchn_open(&other) == 0, "evtchn");
		port = xen_evtchn_alloc_unbound(other, HOSTILE_HONEST);
		CHECK(port >= 0, "a port for domain %u", HOSTILE_HONEST);
		snprintf(a, sizeof(a), "event-channel=%d", port);
		ed[0] = a;
		hostile_fe_keys(&fe, ed);
		break;
	}
	case S_RO_RING: {
		uint32_t ref;
		void *addr;

		CHECK(xen_gntshr_share(fe.gs, fe.f.be_domid, 1, 0, &ref,
				       &addr) == 0,
		      "share a page read-only");
		snprintf(a, sizeof(a), "ring-ref=%u", ref);
		ed[0] = a;
		hostile_fe_keys(&fe, ed);
		break;
	}
	case S_Q3_UNGRANTED:
	case S_ONE_RING_PORT:
	case S_ONE_RING:
		multi_queue(&fe, l->special);
		break;
	case S_Q1_MISSING:
	case S_TOP_MISSING:
		snprintf(a, sizeof(a), "multi-queue-num-queues=%d",
			 l->special == S_Q1_MISSING ? 2 : 1);
		snprintf(b, sizeof(b), "queue-0/ring-ref=%u", fe.refs[0]);
		snprintf(c, sizeof(c), "queue-0/event-channel=%d", fe.port);
		ed[0] = a;
		ed[1] = b;
		ed[2] = c;
		ed[3] = "-ring-ref";
		ed[4] = "-event-channel";
		hostile_fe_keys(&fe, ed);
		break;
	}
	if (l->special == S_STATE_GARBAGE)
		CHECK(xfront_write(&fe.f, XEN_TXN_NONE, "state", "abc") == 0,
		      "write state");
	else
		hostile_fe_state(&fe, 3);
	s = hostile_fe_wait(&fe, XF_STATE(4) | XF_STATE(5) | XF_STATE(6),
			    10000);
	if (l->may_connect && s == 4) {
		if (l->special != S_ONE_RING)
			second_port = -1;
		use_ring(&fe);
		fprintf(stderr, "hostile guest: %s: connected\n", l->what);
		return;
	}
	CHECK(l->may_connect != 2, "%s: backend state %d, want 4 (Connected)",
	      l->what, s);
	CHECK(s == 5, "%s: backend state %d, want 5 (Closing)", l->what, s);
	hostile_fe_close(&fe);
	xen_evtchn_close(other);
}

/* Initialised, and the directory is gone before the backend looks. */
static void vanish(void)
{
	struct hostile_fe fe;
	int s;

	hostile_fe_open(&fe, DEV_GONE, 0, RING_BLKIF_ABI_NATIVE);
	hostile_fe_keys(&fe, NULL);
	hostile_fe_state(&fe, 3);
	CHECK(xen_store_rm(fe.f.xs, XEN_TXN_NONE, fe.f.fe_path) == 0,
	      "remove %s", fe.f.fe_path);
	/* The backend directory stays (the toolstack's); watch its state. */
	s = hostile_fe_wait(&fe, XF_STATE(5) | XF_STATE(6), 10000);
	CHECK(s == 5 || s == 6, "frontend gone: backend state %d", s);
	hostile_fe_close(&fe);
	fprintf(stderr, "hostile guest: directory removed: backend state %d\n",
		s);
}

/* 1/3/1/3... with good keys, then an orderly close and a real connect. */
static void flap(void)
{
	struct hostile_fe fe;
	struct blkfront *bf;
	int s;

	hostile_fe_open(&fe, DEV_FLAP, 0, RING_BLKIF_ABI_NATIVE);
	hostile_fe_keys(&fe, NULL);
	for (int i = 0; i < 100; i++) {
		hostile_fe_state(&fe, 1);
		hostile_fe_state(&fe, 3);
	}
	usleep(200000);
	s = xfront_be_state(&fe.f);
	CHECK(s == 2 || s == 4, "after flapping: backend state %d", s);
	fprintf(stderr, "hostile guest: state flapped: backend state %d\n", s);
	hostile_fe_state(&fe, 5);
	s = hostile_fe_wait(&fe, XF_STATE(5) | XF_STATE(6), 10000);
	CHECK(s == 5 || s == 6, "closing after flapping: backend state %d", s);
	hostile_fe_state(&fe, 6);
	s = hostile_fe_wait(&fe, XF_STATE(6), 10000);
	CHECK(s == 6, "closed after flapping: backend state %d", s);
	hostile_fe_close(&fe);
	bf = hostile_connect(DEV_FLAP, NULL);
	hostile_rw_ok(bf, 0, 64, 65536, 77);
	CHECK(blkfront_close(bf) == 0, "close: %s", blkfront_last_error());
}

static int attack(void *arg)
{
	struct blkfront *good = hostile_connect(DEV_GOOD, NULL);

	hostile_rw_ok(good, 0, 0, 65536, 1);
	for (unsigned int i = 0; i < NLIES; i++) {
		tell_lie(i);
		hostile_rw_ok(good, 0, 128 * (i + 1), 16384, 10 + i);
		if (i % 4 == 3)
			hostile_progress(1, lies[i].what);
	}
	vanish();
	hostile_rw_ok(good, 0, 4000, 65536, 2);
	flap();
	hostile_rw_ok(good, 0, 4200, 65536, 3);
	hostile_progress(2, "after the xenstore lies");
	hostile_no_violations(good, "the good vbd");
	CHECK(blkfront_close(good) == 0, "close: %s", blkfront_last_error());
	return 0;
}

int main(void)
{
	static const char *const sets[] = { "max-queues=4", NULL };
	struct hostile h;
	char img[PATH_MAX], name[32];

	hostile_start(&h, "--single", sets);
	for (unsigned int i = 0; i < NLIES + 3; i++) {
		snprintf(name, sizeof(name), "vbd%u.img", i);
		hostile_image(&h, name, 4u << 20, 0, img, sizeof(img));
		hostile_add(&h, DEV(i), img, NULL);
	}
	hostile_guest(&h, attack, NULL);
	for (unsigned int i = 0; i < NLIES; i++) {
		fprintf(stderr, "%s: ", lies[i].what);
		if (lies[i].may_connect &&
		    hostile_be_state(&h, DEV(i), 0x7e, 1000) == 6) {
			const char *e = hostile_error_node(&h, DEV(i));

			/* A lie that only hurts the liar may also have
			 * failed its device on the way (two queues on one
			 * ring see each other's requests): either way it
			 * closed. No lie must close cleanly. */
			if (lies[i].may_connect == 2)
				hostile_expect_no_error_node(&h, DEV(i));
			fprintf(stderr, "connected, closed%s%s\n",
				e ? ", failed on the way: " : " cleanly",
				e ? e : "");
			continue;
		}
		CHECK(lies[i].may_connect != 2, "not connected");
		CHECK(hostile_be_state(&h, DEV(i), 1u << 5, 1000) == 5,
		      "state");
		hostile_expect_error_node(&h, DEV(i), lies[i].needle);
	}
	hostile_be_state(&h, DEV_GONE, (1u << 5) | (1u << 6), 1000);
	hostile_expect_no_error_node(&h, DEV_FLAP);
	hostile_expect_no_error_node(&h, DEV_GOOD);
	return hostile_finish(&h);
}
