// SPDX-License-Identifier: MIT
/*
 * Hostile class 2 (spec/hostile-frontend.md): a guest publishes a
 * req_prod no frontend could have. Four of its vbds lie, each in its
 * own way: 33 requests past rsp_prod on a 32-slot ring before the backend
 * attaches (a handshake done by hand), 40 past the last request while
 * connected (after a legal full ring of 32 went through), and req_prod
 * moved back behind what the backend consumed, and on a two-queue vbd
 * queue 1 lying while queue 0 has WRITEs in flight (those it fetched are
 * answered, once). Every slot the lie covers
 * holds a valid WRITE. Each lying ring is stopped: backend Closing, an
 * error node "<errno> <message>", and none of those WRITEs reaches the
 * disk. Meanwhile the guest's fourth vbd and the honest guest (another
 * blkbackd worker: the supervisor runs) keep working; afterwards the
 * lying vbds reconnect through the frontend's Closed / Initialising reset
 * and work again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xen.h"
#include "lib/check.h"
#include "lib/hostile.h"

#define DEV_ATTACH HOSTILE_DEVID
#define DEV_AHEAD (HOSTILE_DEVID + 16)
#define DEV_BEHIND (HOSTILE_DEVID + 32)
#define DEV_GOOD (HOSTILE_DEVID + 48)
#define DEV_MQ (HOSTILE_DEVID + 64)
#define NSLOT 32u
#define LIE_AT 1000ull	 /* the lied-about WRITEs' sectors */
#define LEGAL_AT 3000ull /* the legal full ring's WRITEs */

static const unsigned int liars[] = { DEV_ATTACH, DEV_AHEAD, DEV_BEHIND,
				      DEV_MQ };
#define NLIARS (sizeof(liars) / sizeof(liars[0]))

static void wait_closing(unsigned int devid)
{
	struct xfront f;
	int s;

	CHECK(xfront_open(&f, "vbd", devid) == 0, "open vbd %u", devid);
	s = xfront_wait_be(&f, XF_STATE(5) | XF_STATE(6), 10000);
	CHECK(s == 5, "vbd %u: backend state %d, want 5 (Closing)", devid, s);
	xfront_close(&f);
}

/* Before attach: the ring arrives already 33 requests "full". */
static void lie_at_attach(void)
{
	struct hostile_fe fe;
	struct xen_gntshr *gs;
	uint32_t refs[NSLOT];
	void *data;

	hostile_fe_open(&fe, DEV_ATTACH, 0, RING_BLKIF_ABI_NATIVE);
	CHECK(fe.rf.f.nr_ents == NSLOT, "ring of %u", fe.rf.f.nr_ents);
	CHECK(xen_gntshr_open(&gs) == 0, "gntshr");
	CHECK(xen_gntshr_share(gs, fe.f.be_domid, NSLOT, 1, refs, &data) == 0,
	      "share data pages");
	memset(data, 0x71, (size_t)NSLOT * 4096);
	for (unsigned int i = 0; i < NSLOT; i++) {
		struct ring_blkif_req r;

		hostile_req(&r, BLKIF_OP_WRITE, LIE_AT + 8 * i, 1, &refs[i], 1,
			    0, 7);
		r.id = i;
		hostile_ring_put(&fe.rf, &r);
	}
	/* One more than the ring holds; rsp_prod stays 0. */
	__atomic_store_n(&fe.rf.f.sring->req_prod, NSLOT + 1, __ATOMIC_RELEASE);
	hostile_fe_keys(&fe, NULL);
	hostile_fe_state(&fe, 3);
	wait_closing(DEV_ATTACH);
	CHECK(fe.rf.f.sring->rsp_prod == 0, "responses to a broken ring");
	hostile_fe_close(&fe);
	xen_gntshr_unshare(gs, data, NSLOT);
	xen_gntshr_close(gs);
	fprintf(stderr, "hostile guest: req_prod 33 at attach: stopped\n");
}

/* Valid WRITEs in every slot from the next one on (not published). */
static void fill_slots(struct blkfront *bf, unsigned int q, uint64_t sector,
		       int fill, uint64_t id0)
{
	struct ring_blkif_front *rf = blkfront_ring(bf, q);

	for (unsigned int i = 0; i < NSLOT; i++) {
		struct hostile_page p;
		struct ring_blkif_req r;

		hostile_page(bf, q, &p);
		memset(p.addr, fill, 4096);
		hostile_req(&r, BLKIF_OP_WRITE, sector + 8 * i, 1, &p.gref, 1,
			    0, 7);
		r.id = id0 + i;
		hostile_ring_put(rf, &r);
	}
}

/* While connected: first a legal full ring, then 40 past req_cons. */
static void lie_ahead(void)
{
	struct blkfront *bf = hostile_connect(DEV_AHEAD, NULL);
	struct ring_blkif_front *rf = blkfront_ring(bf, 0);
	struct ring_blkif_rsp rsp[NSLOT];
	uint32_t pushed;

	hostile_rw_ok(bf, 0, 100, 65536, 31);
	fill_slots(bf, 0, LEGAL_AT, 0x72, 500);
	hostile_ring_push(bf, 0);
	CHECK(hostile_ring_wait(rf, rsp, NSLOT, 10000) == NSLOT,
	      "a legal full ring was not answered");
	for (unsigned int i = 0; i < NSLOT; i++)
		CHECK(rsp[i].status == 0 && rsp[i].op == BLKIF_OP_WRITE &&
			      rsp[i].id >= 500 && rsp[i].id < 500 + NSLOT,
		      "legal full ring: id %llu op %u status %d",
		      (unsigned long long)rsp[i].id, rsp[i].op, rsp[i].status);
	hostile_rw_ok(bf, 0, 200, 65536, 32);

	pushed = rf->f.req_pushed;
	fill_slots(bf, 0, LIE_AT + 1024, 0x73, 600);
	__atomic_store_n(&rf->f.sring->req_prod, pushed + 40, __ATOMIC_RELEASE);
	CHECK(blkfront_notify(bf, 0) == 0, "notify");
	wait_closing(DEV_AHEAD);
	CHECK(rf->f.sring->rsp_prod == pushed,
	      "the backend answered %u lied-about requests",
	      rf->f.sring->rsp_prod - pushed);
	/* Leave it as it is for the test to look at. */
	blkfront_disconnect_abrupt(bf);
	fprintf(stderr, "hostile guest: req_prod 40 ahead: stopped\n");
}

/* While connected: req_prod moved back behind what was consumed. */
static void lie_behind(void)
{
	struct blkfront *bf = hostile_connect(DEV_BEHIND, NULL);
	struct ring_blkif_front *rf = blkfront_ring(bf, 0);
	uint32_t pushed;

	hostile_rw_ok(bf, 0, 100, 65536, 33);
	hostile_rw_ok(bf, 0, 300, 4096, 34);
	pushed = rf->f.req_pushed;
	CHECK(pushed >= 4, "req_pushed %u", pushed);
	fill_slots(bf, 0, LIE_AT + 2048, 0x74, 700);
	__atomic_store_n(&rf->f.sring->req_prod, pushed - 1, __ATOMIC_RELEASE);
	CHECK(blkfront_notify(bf, 0) == 0, "notify");
	wait_closing(DEV_BEHIND);
	CHECK(rf->f.sring->rsp_prod == pushed, "rsp_prod moved to %u",
	      rf->f.sring->rsp_prod);
	blkfront_disconnect_abrupt(bf);
	fprintf(stderr, "hostile guest: req_prod moved back: stopped\n");
}

/*
 * Two queues: queue 1 lies while queue 0 has WRITEs in flight. The
 * device stops; what queue 0 had fetched is answered (once), the rest
 * may never be; nothing breaks an invariant.
 */
static void lie_one_queue(void)
{
	struct blkfront_cfg cfg;
	struct blkfront *bf;
	struct ring_blkif_front *rf;
	struct blkfront_done d[32];
	unsigned char *buf = malloc(45056);
	unsigned int sent = 0, answered = 0;
	uint32_t pushed;

	CHECK(buf, "malloc");
	blkfront_cfg_init(&cfg);
	cfg.nr_queues = 2;
	bf = hostile_connect(DEV_MQ, &cfg);
	CHECK(blkfront_info(bf)->nr_queues == 2, "queues %u",
	      blkfront_info(bf)->nr_queues);
	hostile_rw_ok(bf, 1, 100, 65536, 35);
	memset(buf, 0x75, 45056);
	for (;;) {
		struct blkfront_io io = { .op = BLKFRONT_WRITE,
					  .sector = 10000 + 88 * sent,
					  .buf = buf,
					  .len = 45056 };

		if (blkfront_submit(bf, 0, &io) < 0)
			break;
		sent++;
	}
	CHECK(sent >= 16, "only %u WRITEs fit on queue 0", sent);
	rf = blkfront_ring(bf, 1);
	pushed = rf->f.req_pushed;
	fill_slots(bf, 1, LIE_AT + 3072, 0x76, 800);
	CHECK(blkfront_kick(bf, 0) >= 0, "kick");
	__atomic_store_n(&rf->f.sring->req_prod, pushed + 33, __ATOMIC_RELEASE);
	CHECK(blkfront_notify(bf, 1) == 0, "notify");
	wait_closing(DEV_MQ);
	for (;;) {
		int n = blkfront_reap(bf, 0, d, 32, 500);

		CHECK(n >= 0, "reap: %s", blkfront_last_error());
		if (!n)
			break;
		for (int i = 0; i < n; i++)
			CHECK(!d[i].status, "an answered WRITE failed: %d",
			      d[i].status);
		answered += (unsigned int)n;
	}
	CHECK(answered <= sent, "%u answers to %u WRITEs", answered, sent);
	hostile_no_violations(bf, "one queue lied");
	blkfront_disconnect_abrupt(bf);
	free(buf);
	fprintf(stderr,
		"hostile guest: queue 1 lied: stopped, %u of queue "
		"0's %u WRITEs answered\n",
		answered, sent);
}

static int attack(void *arg)
{
	struct blkfront *good = hostile_connect(DEV_GOOD, NULL);

	hostile_rw_ok(good, 0, 0, 65536, 1);
	lie_at_attach();
	hostile_rw_ok(good, 0, 128, 65536, 2);
	hostile_progress(1, "after the lie at attach");
	lie_ahead();
	hostile_rw_ok(good, 0, 256, 65536, 3);
	hostile_progress(1, "after req_prod ahead");
	lie_behind();
	hostile_rw_ok(good, 0, 384, 65536, 4);
	hostile_progress(1, "after req_prod behind");
	lie_one_queue();
	hostile_rw_ok(good, 0, 512, 65536, 5);
	hostile_progress(1, "after one queue lied");
	hostile_no_violations(good, "the good vbd");
	CHECK(blkfront_close(good) == 0, "close: %s", blkfront_last_error());
	return 0;
}

/* The stopped vbds reconnect with honest rings and work. */
static int recover(void *arg)
{
	for (unsigned int i = 0; i < NLIARS; i++) {
		struct blkfront *bf = hostile_connect(liars[i], NULL);

		hostile_rw_ok(bf, 0, 8000, 65536, 50 + i);
		hostile_no_violations(bf, "after the reset");
		CHECK(blkfront_close(bf) == 0, "close: %s",
		      blkfront_last_error());
	}
	hostile_progress(1, "after the resets");
	return 0;
}

int main(void)
{
	struct hostile h;
	static const char *const sets[] = { "max-queues=2", NULL };
	char img[5][PATH_MAX];
	static const char *const names[] = { "attach.img", "ahead.img",
					     "behind.img", "good.img",
					     "mq.img" };
	static const unsigned int devs[] = { DEV_ATTACH, DEV_AHEAD, DEV_BEHIND,
					     DEV_GOOD, DEV_MQ };

	hostile_start(&h, NULL, sets);
	for (unsigned int i = 0; i < 5; i++) {
		hostile_image(&h, names[i], HOSTILE_DISK_BYTES, 0, img[i],
			      sizeof(img[i]));
		hostile_add(&h, devs[i], img[i], NULL);
	}
	hostile_guest(&h, attack, NULL);

	for (unsigned int i = 0; i < NLIARS; i++) {
		CHECK(hostile_be_state(&h, liars[i], 1u << 5, 1000) == 5,
		      "state");
		hostile_expect_error_node(&h, liars[i], "ring");
	}
	hostile_expect_no_error_node(&h, DEV_GOOD);
	/* None of the WRITEs in the lied-about ranges ran. */
	hostile_expect_file(img[0], LIE_AT * 512, NSLOT * 4096, 0,
			    "WRITEs published at attach");
	hostile_expect_file(img[1], (LIE_AT + 1024) * 512, NSLOT * 4096, 0,
			    "WRITEs published 40 ahead");
	hostile_expect_file(img[2], (LIE_AT + 2048) * 512, NSLOT * 4096, 0,
			    "WRITEs behind req_cons");
	hostile_expect_file(img[4], (LIE_AT + 3072) * 512, NSLOT * 4096, 0,
			    "WRITEs queue 1 lied about");
	{
		/* The legal full ring did run, all of it. */
		unsigned char *b = malloc(NSLOT * 4096);
		FILE *f = fopen(img[1], "r");

		CHECK(b && f, "open %s", img[1]);
		CHECK(fseek(f, LEGAL_AT * 512, SEEK_SET) == 0 &&
			      fread(b, 4096, NSLOT, f) == NSLOT,
		      "read %s", img[1]);
		for (unsigned int i = 0; i < NSLOT * 4096; i++)
			CHECK(b[i] == 0x72,
			      "legal full ring: byte %u is 0x%02x", i, b[i]);
		fclose(f);
		free(b);
	}
	hostile_check_daemon(&h);

	hostile_guest(&h, recover, NULL);
	hostile_expect_file(img[1], (LIE_AT + 1024) * 512, NSLOT * 4096, 0,
			    "WRITEs published 40 ahead, after the reset");
	return hostile_finish(&h);
}
