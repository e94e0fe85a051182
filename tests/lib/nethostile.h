/* SPDX-License-Identifier: MIT */
/*
 * nethostile.h - scaffolding for the hostile-frontend tests of netbackd
 * (spec/hostile-frontend.md): one daemon serving two guests. Guest 2 is
 * honest: its netfront is eth0 of its own network namespace (10.240.0.1,
 * the host side 10.240.0.2 on vif2.0), and nh_honest_ok() proves it still
 * passes traffic. Guest 1 is hostile: a process with a connected netfront
 * on vif 1/0 (no TAP; the host side is vif1.0, up, no address) that runs
 * the test's attack function for each command line the test sends it and
 * answers with one line.
 *
 * The rule every test checks: the daemon keeps running, the offending vif
 * drops or is disabled per Linux netback's policy, the honest guest keeps
 * passing traffic. Everything exits the test (CHECK) on failure.
 */
#ifndef PVBACK_TESTS_NETHOSTILE_H
#define PVBACK_TESTS_NETHOSTILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "front/netfront.h"
#include "lib/netscen.h"

#define NH_HOSTILE 1u
#define NH_HONEST 2u
#define NH_ID0 300	/* raw slot ids: above the library's own */

/*
 * Runs in the hostile guest for each command @cmd (not "reconnect" or
 * "quit", which the harness handles); writes a one-line answer to @reply.
 */
typedef void (*nh_attack_fn)(struct netfront *nf, const char *cmd,
			     char *reply, size_t len);

struct nh {
	struct net_scen s;
	struct net_guest honest;
	pid_t hostile;
	int to, from;
	int ps;		/* packet socket on vif1.0 (host side) */
};

/*
 * Start netbackd (with the "K=V" settings of the NULL-terminated @sets,
 * may be NULL), the honest guest (checked once), and the hostile guest
 * running @attack with a connected netfront configured by @cfg (NULL:
 * the library's defaults). @attack NULL: vif 1/0 is added and hot-plugged
 * but no hostile guest is started (the test drives it by hand).
 */
void nh_start(struct nh *h, nh_attack_fn attack, const struct netfront_cfg *cfg,
	      const char *const *sets);
/* Send a command to the hostile guest; its answer (static buffer). */
const char *nh_ask(struct nh *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* CHECK that the honest guest passes traffic both ways now. */
void nh_honest_ok(struct nh *h, const char *when);
/* CHECK that the hostile vif is (or is not) disabled: stats and carrier. */
void nh_expect_disabled(struct nh *h, bool disabled, const char *when);
/* CHECK that netbackd runs and its log holds no sign of a bug. */
void nh_check_daemon(struct nh *h);
/* `--stats --json` now (static buffer). */
const char *nh_stats(struct nh *h);
/*
 * Stop both guests (the honest one must have counted no netif violation),
 * check the daemon, mark the test passed. Returns TEST_PASS.
 */
int nh_finish(struct nh *h);

/* ------------------------------------------------ hostile guest side */

/*
 * A chain of @ndata data slots carrying a @total-byte packet (the first
 * slot says @total, each later one its own size: @total spread as evenly
 * as a page allows, or @sizes[i] if not NULL), every slot on the scratch
 * page at offset 0, ids from @id0; extra slots are not included. Returns
 * the slots written to @sl.
 */
unsigned int nh_chain(struct netfront *nf, union ring_netif_tx_req *sl,
		      unsigned int ndata, uint16_t total,
		      const uint16_t *sizes, uint16_t id0);
/*
 * Put @n raw slots on queue 0 and collect their responses for up to
 * @timeout_ms (until @want have come): the data slots' statuses in
 * arrival order in @status (up to @max), the count of NULL ones in
 * *@nulls. Returns the number of responses.
 */
int nh_raw(struct netfront *nf, const union ring_netif_tx_req *sl,
	   unsigned int n, unsigned int want, int timeout_ms, int16_t *status,
	   unsigned int max, unsigned int *nulls);
/*
 * Summarise statuses as the answer "rsp <count> <okay> <error> <nulls>"
 * (the usual reply of an attack).
 */
void nh_reply_rsp(char *reply, size_t len, int n, const int16_t *status,
		  unsigned int nulls);

/* ------------------------------------------------ frames and hashing */

#define NH_MAGIC 0x50564854u	/* "PVHT": a test frame's first payload */

/*
 * An Ethernet + IPv4 frame of @len bytes (>= 14 + 20 + L4 header + 4) from
 * @src:@sport to @dst:@dport (host byte order), TCP (@tcp) or UDP, with
 * NH_MAGIC and then a filler as payload, into @buf. Returns @len, or 0 if
 * it does not fit.
 */
size_t nh_frame_ipv4(uint8_t *buf, size_t len, uint32_t src, uint32_t dst,
		     uint16_t sport, uint16_t dport, bool tcp);
/* A test frame's IPv4 fields (0 if @f is not one). */
int nh_frame_parse(const uint8_t *f, size_t len, uint32_t *src,
		   uint32_t *dst, uint16_t *sport, uint16_t *dport, bool *tcp);
/* Write @f to vif1.0 from the host side (it reaches the hostile guest). */
void nh_inject(struct nh *h, const uint8_t *f, size_t len);

/*
 * The Microsoft RSS verification suite's key and IPv4 vectors ("Verifying
 * the RSS Hash Calculation"): nh_rss_key[40]; for each vector the
 * addresses and ports and the expected Toeplitz hash over the addresses
 * (IPv4) and over addresses and ports (IPv4 with TCP).
 */
struct nh_rss_vec {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t h_ip, h_tcp;
};
extern const uint8_t nh_rss_key[40];
extern const struct nh_rss_vec nh_rss_vecs[5];

#endif
