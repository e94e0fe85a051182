// SPDX-License-Identifier: MIT
/*
 * xensim-costs - what the emulated Xen's fast paths cost, next to memcpy.
 *
 * A guest (domain 1, a forked child) shares pages with Dom0 and binds an
 * event channel; Dom0 (this process) then measures, each as the median of
 * several runs:
 *   - memcpy of 4 KiB between two local buffers (the reference),
 *   - xengnttab_grant_copy of one 4 KiB segment per call, guest -> Dom0,
 *   - the same with 32 segments per call (cost per segment),
 *   - an event-channel round trip: Dom0 notifies, the guest's pending()
 *     wakes, unmasks and notifies back, Dom0's pending() wakes.
 * Figures only, never a pass/fail: the machine is shared and noisy.
 *
 *   bench/run-bench.sh xensim-costs    (or build/bench/xensim-costs [RUNS])
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xen/grant_table.h>

#include "lib/simenv.h"

#define PAGES 32
#define PAGE 4096
#define STOP_MAGIC 0x70766261636bULL /* "pvback" */

struct shared_info_msg {
	uint32_t port;
	uint32_t refs[PAGES];
};

static int guest_pipe[2];

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The guest: share pages, offer a port, echo every notification. */
static int guest(void *arg)
{
	struct shared_info_msg msg;
	xengntshr_handle *gs;
	xenevtchn_handle *xe;
	volatile uint64_t *pages;
	xenevtchn_port_or_error_t p;
	int i;

	gs = xengntshr_open(NULL, 0);
	xe = xenevtchn_open(NULL, 0);
	if (!gs || !xe) {
		perror("guest: open");
		return 1;
	}
	pages = xengntshr_share_pages(gs, 0, PAGES, msg.refs, 1);
	if (!pages) {
		perror("guest: share_pages");
		return 1;
	}
	for (i = 0; i < PAGES; i++)
		memset((char *)pages + (size_t)i * PAGE, 0x40 + i, PAGE);
	pages[0] = 0;
	p = xenevtchn_bind_unbound_port(xe, 0);
	if (p < 0) {
		perror("guest: bind_unbound_port");
		return 1;
	}
	msg.port = p;
	if (write(guest_pipe[1], &msg, sizeof(msg)) != sizeof(msg))
		return 1;
	for (;;) {
		xenevtchn_port_or_error_t got = xenevtchn_pending(xe);

		if (got < 0) {
			perror("guest: pending");
			return 1;
		}
		xenevtchn_unmask(xe, got);
		if (pages[0] == STOP_MAGIC)
			break;
		xenevtchn_notify(xe, got);
	}
	xengntshr_unshare(gs, (void *)pages, PAGES);
	xenevtchn_close(xe);
	xengntshr_close(gs);
	return 0;
}

static double bench_memcpy(long iters)
{
	static char a[PAGE] __attribute__((aligned(64)));
	static char b[PAGE] __attribute__((aligned(64)));
	double t0 = now_ns();
	long i;

	for (i = 0; i < iters; i++) {
		memcpy(a, b, PAGE);
		/* Keep the copy from being optimised away. */
		__asm__ volatile("" : : "r"(a) : "memory");
	}
	return (now_ns() - t0) / iters;
}

static double bench_grant_copy(xengnttab_handle *xg,
			       const struct shared_info_msg *m, int batch,
			       long iters, char *dst)
{
	xengnttab_grant_copy_segment_t seg[PAGES];
	double t0;
	long i;
	int s;

	for (i = 0, t0 = now_ns(); i < iters; i++) {
		for (s = 0; s < batch; s++) {
			seg[s] = (xengnttab_grant_copy_segment_t){
				.source.foreign = { .ref = m->refs[s],
						    .offset = 0,
						    .domid = 1 },
				.dest.virt = dst + (size_t)s * PAGE,
				.len = PAGE,
				.flags = GNTCOPY_source_gref,
			};
		}
		if (xengnttab_grant_copy(xg, batch, seg)) {
			perror("grant_copy");
			exit(1);
		}
		for (s = 0; s < batch; s++)
			if (seg[s].status != GNTST_okay) {
				fprintf(stderr, "grant copy status %d\n",
					seg[s].status);
				exit(1);
			}
	}
	return (now_ns() - t0) / iters / batch;
}

static double bench_roundtrip(xenevtchn_handle *xe, evtchn_port_t lp,
			      long iters)
{
	double t0 = now_ns();
	long i;

	for (i = 0; i < iters; i++) {
		xenevtchn_notify(xe, lp);
		if (xenevtchn_pending(xe) != (xenevtchn_port_or_error_t)lp) {
			fprintf(stderr, "round trip: wrong port\n");
			exit(1);
		}
		xenevtchn_unmask(xe, lp);
	}
	return (now_ns() - t0) / iters;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 7;
	double mc[64], gc1[64], gc32[64], rt[64];
	struct shared_info_msg msg;
	static char dst[PAGES * PAGE] __attribute__((aligned(4096)));
	xengnttab_grant_copy_segment_t stop;
	xenevtchn_port_or_error_t lp;
	struct simenv env;
	xengnttab_handle *xg;
	xenevtchn_handle *xe;
	uint64_t magic = STOP_MAGIC;
	pid_t child;
	int r;

	if (runs < 1 || runs > 64)
		runs = 7;
	if (simenv_up(&env, 1)) {
		fprintf(stderr, "cannot start xensim\n");
		return 1;
	}
	if (pipe(guest_pipe))
		return 1;
	child = simenv_fork_as(&env, 1, guest, NULL);
	if (child < 0)
		return 1;
	if (read(guest_pipe[0], &msg, sizeof(msg)) != sizeof(msg)) {
		fprintf(stderr, "guest did not start\n");
		return 1;
	}
	simenv_become(&env, 0);
	xg = xengnttab_open(NULL, 0);
	xe = xenevtchn_open(NULL, 0);
	if (!xg || !xe) {
		perror("dom0: open");
		return 1;
	}
	lp = xenevtchn_bind_interdomain(xe, 1, msg.port);
	if (lp < 0) {
		perror("dom0: bind_interdomain");
		return 1;
	}

	for (r = 0; r < runs; r++) {
		mc[r] = bench_memcpy(200000);
		gc1[r] = bench_grant_copy(xg, &msg, 1, 100000, dst);
		gc32[r] = bench_grant_copy(xg, &msg, 32, 10000, dst);
		rt[r] = bench_roundtrip(xe, lp, 5000);
	}

	/* Tell the guest to stop: the magic into its page 0, then a kick. */
	stop = (xengnttab_grant_copy_segment_t){
		.source.virt = &magic,
		.dest.foreign = { .ref = msg.refs[0], .offset = 0, .domid = 1 },
		.len = sizeof(magic),
		.flags = GNTCOPY_dest_gref,
	};
	xengnttab_grant_copy(xg, 1, &stop);
	xenevtchn_notify(xe, lp);
	simenv_wait(child);

	printf("xensim costs, median of %d runs (bench/xensim-costs.c)\n",
	       runs);
	printf("  %-40s %10.0f ns\n", "memcpy 4 KiB (reference)",
	       median(mc, runs));
	printf("  %-40s %10.0f ns  (%.1f x memcpy)\n",
	       "grant copy 4 KiB, 1 segment per call", median(gc1, runs),
	       median(gc1, runs) / median(mc, runs));
	printf("  %-40s %10.0f ns  (%.1f x memcpy)\n",
	       "grant copy 4 KiB, 32 segments per call", median(gc32, runs),
	       median(gc32, runs) / median(mc, runs));
	printf("  %-40s %10.0f ns\n", "event channel round trip",
	       median(rt, runs));
	xenevtchn_close(xe);
	xengnttab_close(xg);
	simenv_down(&env);
	return 0;
}
