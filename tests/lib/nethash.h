/* SPDX-License-Identifier: MIT */
/*
 * nethash.h - the guest side of receive-side hashing for the tests that
 * drive it through the nethostile harness (lib/nethostile.h): the hostile
 * guest configures Toeplitz hashing over its control ring (the RSS suite's
 * key, all four hash types, an 8-entry mapping over NHASH_QUEUES queues)
 * and tallies the frames it receives against the test's own Toeplitz and
 * the mapping; the test injects flows from the host side.
 */
#ifndef PVBACK_TESTS_NETHASH_H
#define PVBACK_TESTS_NETHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/nethostile.h"

#define NHASH_QUEUES 4
#define NHASH_MAP_SIZE 8

/* The queue the test's mapping table names for entry @i. */
uint32_t nhash_mapping(unsigned int i);

/* Toeplitz (the RSS key) over @fl's addresses, then (@ports) its ports. */
uint32_t nhash_ref(const struct nh_flow *fl, bool ports);

/*
 * The guest's commands, for a test's attack function: "setup" (the
 * control messages: "ok", or what failed) and "recv N" (take frames for
 * up to 5 s until N of the test's flows came; the tally, nhash_parse).
 * Returns 1 if @cmd was one of them.
 */
int nhash_attack(struct netfront *nf, const char *cmd, char *reply, size_t len);

struct nhash_tally {
	unsigned int got; /* frames of the test's flows */
	unsigned int ok;  /* on the right queue, right hash extra */
	unsigned int bad;
	unsigned int vec; /* ...with an RSS-suite hash */
	unsigned int perq[NHASH_QUEUES];
	unsigned long viol; /* netif violations the guest saw */
};

/*
 * nh_start (lib/nethostile.h) with max-queues=4 and a hostile guest of
 * NHASH_QUEUES queues with a control ring, running @attack (which must
 * pass the commands above to nhash_attack); then its hashing set up.
 * CHECKs.
 */
void nhash_start(struct nh *h, nh_attack_fn attack);

/* Parse a "recv" reply. 0, or -1 if it is not one. */
int nhash_parse(const char *reply, struct nhash_tally *t);

/*
 * Inject from the host side: the RSS suite's vectors (UDP and TCP each,
 * 2 * NH_RSS_VECS frames), then @v4 IPv4 and @v6 IPv6 TCP flows of the
 * test's own (@odd, with @v6: and a destination-options segment and two
 * first fragments). Returns how many frames.
 */
unsigned int nhash_inject(struct nh *h, unsigned int v4, unsigned int v6,
			  bool odd);

#endif
