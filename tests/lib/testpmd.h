/* SPDX-License-Identifier: MIT */
/*
 * testpmd.h - DPDK's testpmd (Debian: dpdk-testpmd, in package dpdk-dev) as
 * the vhost-user switch of the tests and benchmarks of netbackd's DPDK port
 * (port=dpdk): one net_vhost port in client mode on a vif's vhost-user
 * socket (it retries until netbackd serves it), forwarding what it
 * receives back out of the same port, or only counting it. No hugepages
 * (--no-huge: the memory it maps is netbackd's memfd), nothing shared with
 * other DPDK processes (--no-shconf), one forwarding lcore on the last CPU
 * this process may use, with the main lcore beside it (it only waits).
 *
 * Exits the test on failure (CHECK); stopped at exit if still running.
 */
#ifndef PVBACK_TESTS_TESTPMD_H
#define PVBACK_TESTS_TESTPMD_H

#include <limits.h>
#include <sys/types.h>

struct testpmd {
	pid_t pid;
	int in; /* its stdin: closing it ends testpmd */
	char log[PATH_MAX];
};

/*
 * Exit 77 (skip) unless netbackd was built with its DPDK port
 * (PVBACK_HAVE_DPDK) and dpdk-testpmd is installed.
 */
void testpmd_require(void);

/*
 * Start testpmd on the vhost-user socket @sock with forwarding mode @fwd
 * ("macswap", "io", "rxonly"...), its output in @log.
 */
void testpmd_start(struct testpmd *t, const char *sock, const char *fwd,
		   const char *log);

/*
 * Stop it (stdin closed: it stops forwarding, prints its port statistics
 * and exits; killed after 10 s). Returns its exit status (0: a clean
 * exit), -1 if it had to be killed.
 */
int testpmd_stop(struct testpmd *t);

struct net_scen;

/*
 * Be the switch of vif @domid/@devid (its socket <dir>/vhost/vif<d>.<n>,
 * testpmd's log <dir>/testpmd.log): start testpmd in mode @fwd, let the
 * hotplug gate through (a vhost-user port has no interface for a hotplug
 * script) and wait, up to 30 s, for netbackd to log the switch connected.
 */
void testpmd_serve_vif(struct testpmd *t, struct net_scen *s,
		       unsigned int domid, unsigned int devid, const char *fwd);

/* The count testpmd printed at exit for "RX-packets" (or -1). */
long long testpmd_rx_packets(const struct testpmd *t);

#endif
