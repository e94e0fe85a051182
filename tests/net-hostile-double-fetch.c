// SPDX-License-Identifier: MIT
/*
 * Hostile frontend, class 1 (XSA-155): the guest rewrites TX slots after
 * publishing them. Each round puts 32 two-slot packets (300 bytes: 200 in
 * the first slot, 100 in the second, both from the start of one page) on
 * the ring while a second thread of the guest flips one field of every
 * one of those slots between two values that are each valid, as fast as
 * it can, until all are answered: the second slot's size 100/150, or the
 * first slot's more_data flag (one packet of 300 bytes, or one of 300
 * and one of 100). netbackd must act on one copy of each slot: every slot
 * answered OKAY exactly once, and every frame reaching the vif exactly
 * one of the versions, byte for byte; a frame mixing two versions is the
 * mark of a double fetch. Run under SANITIZE=1 too. The daemon stays up
 * and the honest guest passes traffic.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/nethostile.h"

#define K 32u
#define ROUNDS 40u
#define ETYPE 0x88b5

struct flipper {
	struct ring_front *f;
	uint32_t first; /* free-running index of the first slot */
	int mode;	/* 0: second slot's size, 1: more_data */
	volatile int stop;
};

static void *flip(void *arg)
{
	struct flipper *fl = arg;
	unsigned int mask = fl->f->nr_ents - 1;

	while (!__atomic_load_n(&fl->stop, __ATOMIC_ACQUIRE)) {
		for (unsigned int k = 0; k < K; k++) {
			uint32_t i = fl->first + 2 * k;
			struct netif_tx_request *a =
				(void *)(fl->f->sring->slots +
					 (i & mask) * fl->f->slot_size);
			struct netif_tx_request *b =
				(void *)(fl->f->sring->slots +
					 ((i + 1) & mask) * fl->f->slot_size);

			if (fl->mode == 0)
				__atomic_store_n(&b->size,
						 b->size == 100 ? 150 : 100,
						 __ATOMIC_RELAXED);
			else
				__atomic_store_n(&a->flags,
						 a->flags ^ NETTXF_more_data,
						 __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

static void page_init(uint8_t *p)
{
	for (unsigned int i = 0; i < 4096; i++)
		p[i] = (uint8_t)(i * 11 + 7);
	memcpy(p,
	       (uint8_t[]){ 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x16,
			    0x3e, 0x00, 0x01, 0x00, ETYPE >> 8, ETYPE & 0xff },
	       14);
}

static void attack(struct netfront *nf, const char *cmd, char *reply,
		   size_t len)
{
	union ring_netif_tx_req sl[2 * K];
	struct netif_tx_response rsp[64];
	struct flipper fl = { 0 };
	unsigned int got = 0, okay = 0;
	uint16_t sizes[2] = { 0, 100 };
	pthread_t tid;
	uint32_t gref;

	if (sscanf(cmd, "round %d", &fl.mode) != 1) {
		snprintf(reply, len, "unknown %s", cmd);
		return;
	}
	page_init(netfront_tx_scratch(nf, 0, &gref));
	for (unsigned int k = 0; k < K; k++)
		nh_chain(nf, sl + 2 * k, 2, 300, sizes,
			 (uint16_t)(NH_ID0 + 2 * k));
	fl.f = netfront_ring(nf, 0, NETFRONT_TX);
	fl.first = fl.f->req_prod_pvt;
	if (netfront_tx_put_raw(nf, 0, sl, 2 * K, true) ||
	    pthread_create(&tid, NULL, flip, &fl)) {
		snprintf(reply, len, "error put");
		return;
	}
	netfront_kick(nf, 0);
	for (int waited = 0; got < 2 * K && waited < 5000; waited += 10) {
		int n;

		netfront_wait(nf, 0, 10);
		netfront_poll(nf, 0, NULL, NULL, 0);
		while ((n = netfront_tx_raw_responses(nf, 0, rsp, 64)) > 0) {
			for (int j = 0; j < n; j++)
				okay += rsp[j].status == NETIF_RSP_OKAY;
			got += (unsigned int)n;
		}
	}
	__atomic_store_n(&fl.stop, 1, __ATOMIC_RELEASE);
	pthread_join(tid, NULL);
	snprintf(reply, len, "rsp %u okay %u", got, okay);
}

/*
 * Every frame of ours on the vif now: one of the versions? (Of either
 * mode: a frame of the last round may come late.)
 */
static unsigned int check_frames(struct nh *h)
{
	uint8_t page[4096], v1[300], v2[300], buf[2048];
	unsigned int frames = 0;

	page_init(page);
	memcpy(v1, page, 200);
	memcpy(v1 + 200, page, 100);
	memcpy(v2, page, 150);
	memcpy(v2 + 150, page, 150);
	for (;;) {
		struct pollfd pfd = { .fd = h->ps, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 100) != 1)
			break;
		n = read(h->ps, buf, sizeof(buf));
		if (n < 14 || buf[12] != (ETYPE >> 8) ||
		    buf[13] != (ETYPE & 0xff))
			continue;
		frames++;
		if (n == 300 &&
		    (!memcmp(buf, v1, 300) || !memcmp(buf, v2, 300) ||
		     !memcmp(buf, page, 300)))
			continue;
		if (n == 100 && !memcmp(buf, page, 100))
			continue;
		CHECK(0,
		      "a %zd-byte frame that is no version of the packet: "
		      "a double fetch",
		      n);
	}
	return frames;
}

int main(void)
{
	unsigned int frames = 0;
	char want[64];
	struct nh h;

	nh_start(&h, attack, NULL, NULL);
	CHECK(net_ns_sh(h.s.daemon, NULL, 0,
			"sysctl -qw net.ipv6.conf.vif1/0.disable_ipv6=1") == 0,
	      "sysctl");
	snprintf(want, sizeof(want), "rsp %u okay %u", 2 * K, 2 * K);
	for (unsigned int r = 0; r < ROUNDS; r++) {
		int mode = (int)(r & 1);
		const char *rep = nh_ask(&h, "round %d", mode);

		CHECK(!strcmp(rep, want), "round %u (mode %d): %s", r, mode,
		      rep);
		frames += check_frames(&h);
		if (r == ROUNDS / 2)
			nh_honest_ok(&h, "during the flipping");
	}
	CHECK(frames >= ROUNDS * K, "only %u frames reached the vif", frames);
	nh_expect_disabled(&h, false, "after the flipping");
	nh_check_daemon(&h);
	return nh_finish(&h);
}
