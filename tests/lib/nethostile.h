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
#define NH_ID0 300 /* raw slot ids: above the library's own */

/*
 * Runs in the hostile guest for each command @cmd the harness does not
 * answer itself; writes a one-line answer to @reply. The harness's own:
 * "reconnect", "quit"; "fill N" (keep N RX buffers posted on queue 0);
 * "take" ("len N": one frame received within 2 s, N < 0 if none);
 * "packet" (one honest 100-byte TX packet: its responses, nh_reply_rsp);
 * "storm-start data" / "storm-start ctrl" (a thread notifies the data
 * channels / the control channel as fast as it can: "storming");
 * "storm-stop" ("sent N" notifications).
 */
typedef void (*nh_attack_fn)(struct netfront *nf, const char *cmd, char *reply,
			     size_t len);

/* An attack that knows no command beyond the harness's own. */
void nh_no_attack(struct netfront *nf, const char *cmd, char *reply,
		  size_t len);

struct nh {
	struct net_scen s;
	struct net_guest honest;
	pid_t hostile;
	int to, from;
	int ps; /* packet socket on vif1.0 (host side) */
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
		      unsigned int ndata, uint16_t total, const uint16_t *sizes,
		      uint16_t id0);
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

#define NH_MAGIC 0x50564854u /* "PVHT": a test frame's first payload */

/*
 * A test frame's flow: IPv4 or IPv6 addresses as they go on the wire
 * (IPv4: the first four bytes), ports in host byte order, TCP or UDP. A
 * first fragment (@frag: IPv4 with MF set; IPv6 with a fragment header,
 * M set) still carries its whole TCP or UDP header; @dstopts puts an
 * 8-byte destination-options header before it (IPv6 only, after the
 * fragment header if both).
 */
struct nh_flow {
	bool v6, tcp, frag, dstopts;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
};

/*
 * An Ethernet + IP frame of @len bytes (room for the IP headers, the L4
 * header and 4 more) of flow @fl into @buf: to the hostile guest's MAC,
 * NH_MAGIC and then a filler as payload. Returns @len, or 0 if it does
 * not fit (or @fl asks for dstopts on IPv4).
 */
size_t nh_frame(uint8_t *buf, size_t len, const struct nh_flow *fl);
/* A test frame's flow, as nh_frame wrote it: 1, or 0 if @f is not one. */
int nh_frame_flow(const uint8_t *f, size_t len, struct nh_flow *fl);

/*
 * The same for an unfragmented IPv4 frame from @src:@sport to @dst:@dport
 * (host byte order); @len >= 14 + 20 + L4 header + 4.
 */
size_t nh_frame_ipv4(uint8_t *buf, size_t len, uint32_t src, uint32_t dst,
		     uint16_t sport, uint16_t dport, bool tcp);
/* A test frame's IPv4 fields (0 if @f is not an IPv4 test frame). */
int nh_frame_parse(const uint8_t *f, size_t len, uint32_t *src, uint32_t *dst,
		   uint16_t *sport, uint16_t *dport, bool *tcp);
/*
 * Write @f to vif1.0 from the host side (it reaches the hostile guest);
 * @len 0 (a builder's "does not fit") fails the test.
 */
void nh_inject(struct nh *h, const uint8_t *f, size_t len);

/*
 * The Microsoft RSS verification suite's key and vectors ("Verifying the
 * RSS Hash Calculation"), the five IPv4 ones then three IPv6 ones: for each
 * the flow's addresses and ports (@fl.tcp, frag, dstopts unset) and the
 * expected Toeplitz hash over the addresses (the IPv4 / IPv6 type) and
 * over addresses and ports (IPv4 / IPv6 with TCP).
 */
struct nh_rss_vec {
	struct nh_flow fl;
	uint32_t h_ip, h_tcp;
};
#define NH_RSS_VECS 8
extern const uint8_t nh_rss_key[40];
extern const struct nh_rss_vec nh_rss_vecs[NH_RSS_VECS];

#endif
