/* SPDX-License-Identifier: MIT */
/*
 * ring-notify-event-index - notification decisions follow the event-index
 * rule, and the final checks lose no wakeup:
 *   - ring_back_push_rsp / ring_front_push_req return true iff the other
 *     end's rsp_event / req_event is in (old prod, new prod], for many
 *     (old, count, event) triples around the 2^32 wrap; and agree with the
 *     public RING_PUSH_*_AND_CHECK_NOTIFY on an identical ring;
 *   - a push with nothing new never notifies, and a hostile rsp_prod
 *     scribbled by the frontend does not change our decision;
 *   - ring_back_final_check: 1 if a request is there (req_event untouched),
 *     else arms req_event = req_cons + 1 and returns 0; a request pushed
 *     after that makes the frontend's push notify; same for the front;
 *   - two threads (frontend and backend, notifications as counters) run
 *     1000000 requests using only these calls to decide when to sleep and
 *     when to notify: a lost wakeup would stall them, and fails the test.
 */
#include "ring/ring.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lib/check.h"

/* For the public macros (io/ring.h uses mb()/wmb() at this interface level). */
#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

static struct ring_sring *new_ring(void)
{
	struct ring_sring *s = aligned_alloc(RING_PAGE_SIZE, RING_PAGE_SIZE);

	CHECK(s, "alloc");
	memset(s, 0, RING_PAGE_SIZE);
	return s;
}

/* The rule, spelled out with a loop instead of modular arithmetic. */
static bool in_window(uint32_t old, uint32_t new, uint32_t ev)
{
	for (uint32_t i = old + 1; i != new + 1; i++)
		if (i == ev)
			return true;
	return false;
}

static void push_decisions(void)
{
	static const uint32_t olds[] = { 0, 5, 0xfffffffcu, 0x7fffffffu };
	struct ring_sring *s = new_ring(), *p = new_ring();
	struct netif_tx_response rsp = { 0 };
	unsigned int yes = 0, no = 0;

	for (unsigned int o = 0; o < sizeof(olds) / sizeof(olds[0]); o++)
		for (uint32_t k = 0; k <= 5; k++)
			for (int d = -3; d <= 8; d++) {
				uint32_t old = olds[o], ev = old + (uint32_t)d;
				struct ring_back r;
				netif_tx_back_ring_t pub;
				bool got, want, pubn;

				memset(s, 0, RING_PAGE_SIZE);
				s->req_prod = s->rsp_prod = old;
				CHECK(ring_back_attach(&r, s, 1, 12) == 0,
				      "att");
				s->req_prod = old + k;
				r.req_cons = old + k; /* consumed k */
				for (uint32_t i = 0; i < k; i++)
					CHECK(ring_back_put_rsp(&r, &rsp,
								sizeof(rsp)) ==
						      0,
					      "put");
				s->rsp_event = ev;
				got = ring_back_push_rsp(&r);
				want = in_window(old, old + k, ev);
				CHECK(got == want,
				      "old %u, %u responses, rsp_event %u: "
				      "notify %d, rule says %d",
				      old, k, ev, got, want);
				CHECK(s->rsp_prod == old + k, "rsp_prod %u",
				      s->rsp_prod);
				/* The public macro on an identical ring. */
				memset(p, 0, RING_PAGE_SIZE);
				p->rsp_prod = old;
				p->rsp_event = ev;
				BACK_RING_ATTACH(&pub, (netif_tx_sring_t *)p,
						 old, RING_PAGE_SIZE);
				pub.rsp_prod_pvt = old + k;
				RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&pub,
								     pubn);
				CHECK(pubn == got, "public macro says %d",
				      pubn);
				yes += got;
				no += !got;

				/* Front side, same triple. */
				struct ring_front f;
				CHECK(ring_front_init(&f, s, 1, 12) == 0,
				      "init");
				f.req_prod_pvt = f.rsp_cons = f.req_pushed =
					old;
				s->req_prod = old;
				for (uint32_t i = 0; i < k; i++)
					CHECK(ring_front_put_req(&f, &rsp,
								 sizeof(rsp)) ==
						      0,
					      "put req");
				s->req_event = ev;
				got = ring_front_push_req(&f);
				CHECK(got == want,
				      "front: old %u, %u requests, req_event "
				      "%u: "
				      "notify %d, rule says %d",
				      old, k, ev, got, want);
			}
	CHECK(yes > 50 && no > 50, "cases: %u notify, %u not", yes, no);

	/* A frontend scribbling rsp_prod does not fool the decision. */
	struct ring_back r;
	memset(s, 0, RING_PAGE_SIZE);
	CHECK(ring_back_attach(&r, s, 1, 12) == 0, "attach");
	s->req_prod = 1;
	CHECK(ring_back_fetch(&r, &rsp, sizeof(rsp), 1) == 1, "fetch");
	CHECK(ring_back_put_rsp(&r, &rsp, sizeof(rsp)) == 0, "put");
	s->rsp_event = 1;
	s->rsp_prod = 1; /* hostile: pretends the response is already out */
	CHECK(ring_back_push_rsp(&r), "lost notify after rsp_prod scribble");
	free(s);
	free(p);
}

static void final_checks(void)
{
	struct ring_sring *s = new_ring();
	struct ring_front f;
	struct ring_back r;
	struct netif_rx_request req = { 0 }, got[8];

	CHECK(ring_front_init(&f, s, 1, sizeof(req)) == 0, "init");
	CHECK(ring_back_attach(&r, s, 1, sizeof(req)) == 0, "attach");

	/* Idle: arms req_event. */
	s->req_event = 0x1234;
	CHECK(ring_back_final_check(&r) == 0, "idle ring has work");
	CHECK(s->req_event == r.req_cons + 1, "req_event %u", s->req_event);
	/* A request that comes after: the frontend's push must notify. */
	CHECK(ring_front_put_req(&f, &req, sizeof(req)) == 0, "put");
	CHECK(ring_front_push_req(&f), "push after arming did not notify");
	/* Pending: 1, and req_event left alone. */
	s->req_event = 0x4321;
	CHECK(ring_back_final_check(&r) == 1, "pending request missed");
	CHECK(s->req_event == 0x4321, "req_event rewritten while busy");
	/* The frontend pushing a second one: no notify, event is stale. */
	CHECK(ring_front_put_req(&f, &req, sizeof(req)) == 0, "put");
	s->req_event = 1; /* what the backend armed, already passed */
	CHECK(!ring_front_push_req(&f), "notified for an old req_event");

	CHECK(ring_back_fetch(&r, got, sizeof(got[0]), 8) == 2, "fetch");
	CHECK(ring_back_final_check(&r) == 0, "work after draining");
	CHECK(s->req_event == 3, "req_event %u", s->req_event);

	/* Front: responses. */
	CHECK(ring_front_final_check(&f) == 0, "front idle");
	CHECK(s->rsp_event == 1, "rsp_event %u", s->rsp_event);
	CHECK(ring_back_put_rsp(&r, &req, sizeof(req)) == 0, "rsp");
	CHECK(ring_back_push_rsp(&r), "response after arming not notified");
	CHECK(ring_front_final_check(&f) == 1, "response missed");
	free(s);
}

/* ------------------------------------------------ two threads, no lost wakeup
 */

enum { TOTAL = 1000000 };
static struct ring_sring *ts;
static atomic_uint kick_back, kick_front; /* event channels */
static atomic_int stalled;

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Sleep until *kick moves past *seen; a 3 s wait means a lost wakeup. */
static int wait_kick(atomic_uint *kick, unsigned int *seen)
{
	uint64_t deadline = now_ns() + 3000000000ull;
	unsigned int v;

	while ((v = atomic_load(kick)) == *seen) {
		if (atomic_load(&stalled))
			return -1;
		if (now_ns() > deadline) {
			atomic_store(&stalled, 1);
			return -1;
		}
		sched_yield();
	}
	*seen = v;
	return 0;
}

static void *backend(void *arg)
{
	struct ring_back r;
	struct netif_rx_request req[64];
	unsigned int seen = 0, done = 0;

	(void)arg;
	CHECK(ring_back_attach(&r, ts, 1, sizeof(req[0])) == 0, "attach");
	while (done < TOTAL) {
		int n = ring_back_fetch(&r, req, sizeof(req[0]), 64);

		CHECK(n >= 0, "fetch %d", n);
		for (int i = 0; i < n; i++) {
			struct netif_rx_response rsp = { .id = req[i].id };

			CHECK(req[i].id == (uint16_t)(done + (unsigned)i),
			      "request %u out of order", req[i].id);
			CHECK(ring_back_put_rsp(&r, &rsp, sizeof(rsp)) == 0,
			      "put");
		}
		done += (unsigned int)n;
		if (ring_back_push_rsp(&r))
			atomic_fetch_add(&kick_front, 1);
		if (n == 0 && ring_back_final_check(&r) == 0 &&
		    wait_kick(&kick_back, &seen) < 0)
			return NULL;
	}
	return NULL;
}

static void *frontend(void *arg)
{
	struct ring_front *f = arg;
	unsigned int seen = 0, sent = 0, got = 0;
	struct netif_rx_response rsp[64];

	while (got < TOTAL) {
		bool progress = false;

		while (sent < TOTAL && ring_front_free(f) > 0 &&
		       sent - got < 200) {
			struct netif_rx_request req = { .id = (uint16_t)sent };

			CHECK(ring_front_put_req(f, &req, sizeof(req)) == 0,
			      "put");
			sent++;
			progress = true;
			if (sent % 7 == 0)
				break; /* vary batch sizes */
		}
		if (ring_front_push_req(f))
			atomic_fetch_add(&kick_back, 1);
		int n = ring_front_fetch_rsp(f, rsp, sizeof(rsp[0]), 64);
		CHECK(n >= 0, "fetch rsp %d", n);
		got += (unsigned int)n;
		if (n || progress)
			continue;
		if (ring_front_final_check(f) == 0 &&
		    wait_kick(&kick_front, &seen) < 0)
			return NULL;
	}
	return arg;
}

static void no_lost_wakeup(void)
{
	pthread_t b, fr;
	struct ring_front f;
	void *ok;

	ts = new_ring();
	/* The frontend thread re-creates its own view; init the page here. */
	CHECK(ring_front_init(&f, ts, 1, sizeof(struct netif_rx_request)) == 0,
	      "init");
	CHECK(pthread_create(&b, NULL, backend, NULL) == 0, "thread");
	CHECK(pthread_create(&fr, NULL, frontend, &f) == 0, "thread");
	pthread_join(fr, &ok);
	pthread_join(b, NULL);
	CHECK(!atomic_load(&stalled) && ok,
	      "stalled: a wakeup was lost (kicks back %u front %u)",
	      atomic_load(&kick_back), atomic_load(&kick_front));
	printf("%d requests, %u backend kicks, %u frontend kicks\n", TOTAL,
	       atomic_load(&kick_back), atomic_load(&kick_front));
	free(ts);
}

int main(void)
{
	push_decisions();
	final_checks();
	no_lost_wakeup();
	return TEST_PASS;
}
