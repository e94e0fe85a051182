// SPDX-License-Identifier: MIT
/*
 * nethostile.c - see nethostile.h. The hostile guest is a forked process
 * (domain 1) speaking a line protocol over two pipes; the honest guest is
 * a netscen TAP guest (domain 2).
 */
#include "lib/nethostile.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xen/io/xenbus.h>

#include "common/xen.h"
#include "lib/check.h"
#include "netback/pkt.h"

#define HONEST_IP "10.240.0.1"
#define HOST_IP "10.240.0.2"

struct hostile_arg {
	nh_attack_fn attack;
	const struct netfront_cfg *cfg;
	int rd, wr;
};

/* Back to Initialising and a fresh connect (a frontend's reboot). */
static int nh_reconnect(struct netfront **nf, const struct netfront_cfg *cfg)
{
	struct xen_store *xs;
	char p[320], be[320], *v = NULL;
	int rc, i;

	snprintf(p, sizeof(p), "%s/state", netfront_info(*nf)->fe_path);
	snprintf(be, sizeof(be), "%s/state", netfront_info(*nf)->be_path);
	netfront_close(*nf);
	*nf = NULL;
	rc = xen_store_open(&xs);
	if (rc)
		return rc;
	rc = xen_store_write(xs, XEN_TXN_NONE, p, "1");
	/* The backend sees the reset and goes back to InitWait. */
	for (i = 0; !rc && i < 500; i++) {
		if (!xen_store_read(xs, XEN_TXN_NONE, be, &v, NULL) &&
		    !strcmp(v, "2")) {
			free(v);
			break;
		}
		free(v);
		v = NULL;
		usleep(10000);
	}
	xen_store_close(xs);
	return rc ?: netfront_connect(nf, cfg);
}

/* ---------------------------------------- the harness's own commands */

static struct {
	struct netfront *nf;
	int ctrl; /* storm the control channel */
	volatile int on;
	pthread_t tid;
	unsigned long sent;
} storm;

static void *storm_thread(void *arg)
{
	(void)arg;
	while (__atomic_load_n(&storm.on, __ATOMIC_ACQUIRE)) {
		if (storm.ctrl) {
			netfront_ctrl_notify(storm.nf);
			storm.sent++;
		} else {
			netfront_notify(storm.nf, 0, NETFRONT_TX);
			netfront_notify(storm.nf, 0, NETFRONT_RX);
			storm.sent += 2;
		}
	}
	return NULL;
}

/* 1 if @cmd was one of the harness's commands (answered in @reply). */
static int builtin_cmd(struct netfront *nf, const char *cmd, char *reply,
		       size_t len)
{
	union ring_netif_tx_req sl[1];
	uint8_t buf[2048];
	unsigned int n, nulls;
	int16_t st[1];
	int got;

	if (sscanf(cmd, "fill %u", &n) == 1) {
		netfront_rx_set_fill(nf, 0, n);
		snprintf(reply, len, "done");
	} else if (!strcmp(cmd, "take")) {
		got = netfront_recv(nf, 0, buf, sizeof(buf), NULL, 2000);
		snprintf(reply, len, "len %d", got);
	} else if (!strcmp(cmd, "packet")) {
		nh_chain(nf, sl, 1, 100, NULL, NH_ID0);
		got = nh_raw(nf, sl, 1, 1, 2000, st, 1, &nulls);
		nh_reply_rsp(reply, len, got, st, nulls);
	} else if (!strncmp(cmd, "storm-start ", 12)) {
		storm.nf = nf;
		storm.ctrl = !strcmp(cmd + 12, "ctrl");
		storm.sent = 0;
		storm.on = 1;
		snprintf(reply, len,
			 pthread_create(&storm.tid, NULL, storm_thread, NULL)
				 ? "error"
				 : "storming");
	} else if (!strcmp(cmd, "storm-stop")) {
		__atomic_store_n(&storm.on, 0, __ATOMIC_RELEASE);
		pthread_join(storm.tid, NULL);
		snprintf(reply, len, "sent %lu", storm.sent);
	} else {
		return 0;
	}
	return 1;
}

void nh_no_attack(struct netfront *nf, const char *cmd, char *reply, size_t len)
{
	(void)nf;
	snprintf(reply, len, "unknown %s", cmd);
}

static int hostile_main(void *arg)
{
	struct hostile_arg *a = arg;
	struct netfront *nf = NULL;
	char line[512], reply[512];

	if (netfront_connect(&nf, a->cfg)) {
		net_say(a->wr, "error %s", netfront_last_error());
		return 2;
	}
	net_say(a->wr, "ok");
	while (!net_hear(a->rd, line, sizeof(line), 60000)) {
		if (!strcmp(line, "quit"))
			break;
		if (!strcmp(line, "reconnect")) {
			int rc = nh_reconnect(&nf, a->cfg);

			net_say(a->wr, rc ? "error %d %s" : "ok", rc,
				netfront_last_error());
			if (rc)
				return 2;
			continue;
		}
		reply[0] = '\0';
		if (!builtin_cmd(nf, line, reply, sizeof(reply)))
			a->attack(nf, line, reply, sizeof(reply));
		net_say(a->wr, "%s", reply[0] ? reply : "done");
	}
	/* Whatever the attacks did, let go of the device in order. */
	netfront_close(nf);
	return 0;
}

void nh_start(struct nh *h, nh_attack_fn attack, const struct netfront_cfg *cfg,
	      const char *const *sets)
{
	static struct netfront_cfg defcfg;
	struct net_guest_cfg gc;
	struct hostile_arg a;
	int to[2], from[2];
	char line[256];

	memset(h, 0, sizeof(*h));
	if (sets && sets[0])
		net_start(&h->s, 2, sets[0], sets[1], sets[1] ? sets[2] : NULL,
			  NULL);
	else
		net_start(&h->s, 2, NULL);

	/* The honest guest first: it must work before and after. */
	net_add(&h->s, NH_HONEST, 0, NULL);
	net_hotplug(&h->s, NH_HONEST, 0, HOST_IP "/24");
	net_guest_cfg_init(&gc);
	gc.cidr = HONEST_IP "/24";
	net_guest_start(&h->s, &h->honest, NH_HONEST, &gc);
	nh_honest_ok(h, "before the attack");

	net_add(&h->s, NH_HOSTILE, 0, NULL);
	net_hotplug(&h->s, NH_HOSTILE, 0, NULL);
	h->ps = net_packet_socket(h->s.daemon, "vif1.0", 0);
	if (!attack)
		return; /* the test drives vif 1/0 itself */
	if (!cfg) {
		netfront_cfg_init(&defcfg);
		cfg = &defcfg;
	}
	CHECK(pipe(to) == 0 && pipe(from) == 0, "pipes");
	a = (struct hostile_arg){ attack, cfg, to[0], from[1] };
	h->hostile = simenv_fork_as(&h->s.env, NH_HOSTILE, hostile_main, &a);
	CHECK(h->hostile > 0, "fork the hostile guest");
	close(to[0]);
	close(from[1]);
	h->to = to[1];
	h->from = from[0];
	CHECK(net_hear(h->from, line, sizeof(line), 30000) == 0 &&
		      !strcmp(line, "ok"),
	      "hostile guest: %s", line);
	/* Frames the tests inject on vif1.0 need its carrier applied. */
	net_wait_oper_up(&h->s, "vif1.0", 10000);
}

const char *nh_ask(struct nh *h, const char *fmt, ...)
{
	static char line[512];
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	net_say(h->to, "%s", cmd);
	CHECK(net_hear(h->from, line, sizeof(line), 60000) == 0,
	      "the hostile guest did not answer '%s' (status %d)", cmd,
	      simenv_wait(h->hostile));
	return line;
}

void nh_honest_ok(struct nh *h, const char *when)
{
	int64_t got;
	int n;

	n = net_ping(h->honest.pid, HOST_IP, 3, 56, 3000);
	CHECK(n == 3, "honest guest %s: %d of 3 pings", when, n);
	got = net_tcp_transfer(h->s.daemon, h->honest.pid, HOST_IP, 7300,
			       1 << 20, false);
	CHECK(got == 1 << 20, "honest guest %s: TX transfer %lld", when,
	      (long long)got);
	got = net_tcp_transfer(h->s.daemon, h->honest.pid, HOST_IP, 7301,
			       1 << 20, true);
	CHECK(got == 1 << 20, "honest guest %s: RX transfer %lld", when,
	      (long long)got);
}

const char *nh_stats(struct nh *h)
{
	static char out[32768];

	CHECK(net_stats(&h->s, 1, out, sizeof(out)) == 0, "--stats: %s", out);
	return out;
}

static int is_disabled(struct nh *h)
{
	const char *st = nh_stats(h), *p, *end;

	p = strstr(st, "{\"device\":\"vif/1/0\"");
	CHECK(p, "no vif/1/0 in the statistics: %s", st);
	end = strstr(p + 1, "{\"device\":");
	p = strstr(p, "\"disabled\":true");
	return p && (!end || p < end);
}

void nh_expect_disabled(struct nh *h, bool disabled, const char *when)
{
	char out[1024];
	int d = -1;

	/* The queue tells the control thread: give it a moment. */
	for (int i = 0; i < 100; i++) {
		d = is_disabled(h);
		if (d == disabled)
			break;
		usleep(20000);
	}
	CHECK(d == disabled, "%s: the vif is %sdisabled", when,
	      d ? "" : "not ");
	CHECK(net_ns_sh(h->s.daemon, out, sizeof(out), "ip link show vif1.0") ==
		      0,
	      "vif1.0 is gone");
	CHECK(!disabled || strstr(out, "NO-CARRIER"),
	      "%s: the disabled vif has its carrier: %s", when, out);
	CHECK(disabled || !strstr(out, "NO-CARRIER"),
	      "%s: the vif has no carrier: %s", when, out);
}

void nh_check_daemon(struct nh *h)
{
	CHECK(waitpid(h->s.daemon, NULL, WNOHANG) == 0, "netbackd died");
	CHECK(net_log_count(&h->s, "(bug)") == 0, "netbackd logged a bug");
	CHECK(net_log_count(&h->s, "Sanitizer") == 0,
	      "netbackd: sanitizer report");
}

/* CHECK that `--stats --json` is JSON, whatever the attack made it count. */
static void nh_check_json(struct nh *h)
{
	char path[PATH_MAX], cmd[PATH_MAX + 96];
	const char *st = nh_stats(h);
	FILE *f;

	snprintf(path, sizeof(path), "%s/stats.json", h->s.env.dir);
	f = fopen(path, "w");
	CHECK(f && fputs(st, f) >= 0 && fclose(f) == 0, "write %s", path);
	snprintf(
		cmd, sizeof(cmd),
		"python3 -c 'import json,sys; json.load(open(sys.argv[1]))' %s",
		path);
	CHECK(system(cmd) == 0, "--stats --json is not JSON:\n%s", st);
}

int nh_finish(struct nh *h)
{
	nh_check_json(h);
	nh_honest_ok(h, "after the attack");
	net_say(h->to, "quit");
	CHECK(simenv_wait(h->hostile) == 0, "the hostile guest failed");
	CHECK(net_guest_stop(&h->honest) == 0, "the honest guest failed");
	nh_check_daemon(h);
	close(h->ps);
	return net_pass(&h->s);
}

/* ------------------------------------------------ hostile guest side */

unsigned int nh_chain(struct netfront *nf, union ring_netif_tx_req *sl,
		      unsigned int ndata, uint16_t total, const uint16_t *sizes,
		      uint16_t id0)
{
	unsigned int each = ndata ? total / ndata : 0;
	uint32_t gref;

	if (each > 4096)
		each = 4096;
	netfront_tx_scratch(nf, 0, &gref);
	for (unsigned int i = 0; i < ndata; i++) {
		memset(&sl[i], 0, sizeof(sl[i]));
		sl[i].req.gref = gref;
		sl[i].req.id = (uint16_t)(id0 + i);
		/* The first slot says the whole packet and keeps what the
		 * others leave. */
		sl[i].req.size =
			(uint16_t)(i ? (sizes ? sizes[i] : each) : total);
		if (i + 1 < ndata)
			sl[i].req.flags = NETTXF_more_data;
	}
	return ndata;
}

int nh_raw(struct netfront *nf, const union ring_netif_tx_req *sl,
	   unsigned int n, unsigned int want, int timeout_ms, int16_t *status,
	   unsigned int max, unsigned int *nulls)
{
	struct netif_tx_response rsp[64];
	unsigned int got = 0, ns = 0;

	*nulls = 0;
	if (netfront_tx_put_raw(nf, 0, sl, n, false))
		return -1;
	for (int waited = 0; got < want && waited < timeout_ms; waited += 20) {
		int k;

		netfront_wait(nf, 0, 20);
		netfront_poll(nf, 0, NULL, NULL, 0);
		while ((k = netfront_tx_raw_responses(nf, 0, rsp, 64)) > 0) {
			for (int j = 0; j < k; j++) {
				if (rsp[j].status == NETIF_RSP_NULL)
					(*nulls)++;
				else if (ns < max)
					status[ns++] = rsp[j].status;
			}
			got += (unsigned int)k;
		}
	}
	return (int)got;
}

void nh_reply_rsp(char *reply, size_t len, int n, const int16_t *status,
		  unsigned int nulls)
{
	unsigned int okay = 0, error = 0;

	for (int i = 0; i < n - (int)nulls && i < 64; i++) {
		if (status[i] == NETIF_RSP_OKAY)
			okay++;
		else if (status[i] == NETIF_RSP_ERROR)
			error++;
	}
	snprintf(reply, len, "rsp %d %u %u %u", n, okay, error, nulls);
}

/* ------------------------------------------------ frames and hashing */

const uint8_t nh_rss_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

#define IP4(a, b, c, d)                                                        \
	{                                                                      \
		a, b, c, d                                                     \
	}

const struct nh_rss_vec nh_rss_vecs[NH_RSS_VECS] = {
	{ { .src = IP4(66, 9, 149, 187),
	    .dst = IP4(161, 142, 100, 80),
	    .sport = 2794,
	    .dport = 1766 },
	  0x323e8fc2,
	  0x51ccc178 },
	{ { .src = IP4(199, 92, 111, 2),
	    .dst = IP4(65, 69, 140, 83),
	    .sport = 14230,
	    .dport = 4739 },
	  0xd718262a,
	  0xc626b0ea },
	{ { .src = IP4(24, 19, 198, 95),
	    .dst = IP4(12, 22, 207, 184),
	    .sport = 12898,
	    .dport = 38024 },
	  0xd2d0a5de,
	  0x5c2b394a },
	{ { .src = IP4(38, 27, 205, 30),
	    .dst = IP4(209, 142, 163, 6),
	    .sport = 48228,
	    .dport = 2217 },
	  0x82989176,
	  0xafc7327f },
	{ { .src = IP4(153, 39, 163, 191),
	    .dst = IP4(202, 188, 127, 2),
	    .sport = 44251,
	    .dport = 1303 },
	  0x5d1809c5,
	  0x10e828a2 },
	/* 3ffe:2501:200:1fff::7 -> 3ffe:2501:200:3::1 */
	{ { .v6 = true,
	    .src = { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f,
		     0xff, [15] = 0x07 },
	    .dst = { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00,
		     0x03, [15] = 0x01 },
	    .sport = 2794,
	    .dport = 1766 },
	  0x2cc18cd5,
	  0x40207d3d },
	/* 3ffe:501:8::260:97ff:fe40:efab -> ff02::1 */
	{ { .v6 = true,
	    .src = { 0x3f, 0xfe, 0x05, 0x01, 0x00, 0x08, 0x00, 0x00, 0x02, 0x60,
		     0x97, 0xff, 0xfe, 0x40, 0xef, 0xab },
	    .dst = { 0xff, 0x02, [15] = 0x01 },
	    .sport = 14230,
	    .dport = 4739 },
	  0x0f0c461c,
	  0xdde51bbf },
	/* 3ffe:1900:4545:3:200:f8ff:fe21:67cf -> fe80::200:f8ff:fe21:67cf */
	{ { .v6 = true,
	    .src = { 0x3f, 0xfe, 0x19, 0x00, 0x45, 0x45, 0x00, 0x03, 0x02, 0x00,
		     0xf8, 0xff, 0xfe, 0x21, 0x67, 0xcf },
	    .dst = { 0xfe, 0x80, [8] = 0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21, 0x67,
		     0xcf },
	    .sport = 44251,
	    .dport = 38024 },
	  0x4b61e985,
	  0x02d1feef },
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The IPv4 header at @ip of a @len-byte packet; its L4 header follows. */
static void put_ipv4(uint8_t *ip, size_t len, const struct nh_flow *fl)
{
	uint32_t sum = 0;

	ip[0] = 0x45;
	ip[2] = (uint8_t)(len >> 8);
	ip[3] = (uint8_t)len;
	/* DF, not a fragment; or the first of several (MF, offset 0). */
	ip[6] = fl->frag ? 0x20 : 0x40;
	ip[8] = 64;
	ip[9] = fl->tcp ? 6 : 17;
	memcpy(ip + 12, fl->src, 4);
	memcpy(ip + 16, fl->dst, 4);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8);
	ip[11] = (uint8_t)~sum;
}

/* The IPv6 header and @fl's extension headers at @ip; returns their size. */
static size_t put_ipv6(uint8_t *ip, size_t len, const struct nh_flow *fl)
{
	uint8_t *next = ip + 6; /* where the next header's type goes */
	size_t o = 40;

	ip[0] = 0x60;
	ip[4] = (uint8_t)((len - 40) >> 8);
	ip[5] = (uint8_t)(len - 40);
	ip[7] = 64;
	memcpy(ip + 8, fl->src, 16);
	memcpy(ip + 24, fl->dst, 16);
	if (fl->frag) {
		*next = 44;
		next = ip + o;
		ip[o + 3] = 1; /* offset 0, more fragments follow */
		put32(ip + o + 4, NH_MAGIC); /* identification */
		o += 8;
	}
	if (fl->dstopts) {
		*next = 60;
		next = ip + o;
		ip[o + 2] = 1; /* PadN over the other four bytes */
		ip[o + 3] = 4;
		o += 8;
	}
	*next = fl->tcp ? 6 : 17;
	return o;
}

size_t nh_frame(uint8_t *buf, size_t len, const struct nh_flow *fl)
{
	static const uint8_t dmac[6] = { 0x00, 0x16, 0x3e, 0x00, 0x01, 0x00 };
	static const uint8_t smac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
	size_t l4 = 14, hl = fl->tcp ? 20 : 8;

	l4 += fl->v6 ? 40 + (fl->frag ? 8 : 0) + (fl->dstopts ? 8 : 0) : 20;
	if (len < l4 + hl + 4 || len > 65535 || (fl->dstopts && !fl->v6))
		return 0;
	memset(buf, 0, len);
	memcpy(buf, dmac, 6);
	memcpy(buf + 6, smac, 6);
	if (fl->v6) {
		pkt_put_be16(buf + 12, PKT_ETH_P_IPV6);
		put_ipv6(buf + 14, len - 14, fl);
	} else {
		pkt_put_be16(buf + 12, PKT_ETH_P_IP);
		put_ipv4(buf + 14, len - 14, fl);
	}
	pkt_put_be16(buf + l4, fl->sport);
	pkt_put_be16(buf + l4 + 2, fl->dport);
	if (fl->tcp) {
		buf[l4 + 12] = 5 << 4;
		buf[l4 + 13] = 0x10; /* ACK */
	} else {
		pkt_put_be16(buf + l4 + 4, (uint16_t)(len - l4));
	}
	put32(buf + l4 + hl, NH_MAGIC);
	for (size_t i = l4 + hl + 4; i < len; i++)
		buf[i] = (uint8_t)(i * 7);
	return len;
}

int nh_frame_flow(const uint8_t *f, size_t len, struct nh_flow *fl)
{
	size_t l4, hl;
	uint8_t proto;

	memset(fl, 0, sizeof(*fl));
	if (len < 14 + 20)
		return 0;
	if (pkt_be16(f + 12) == PKT_ETH_P_IP && f[14] == 0x45) {
		fl->frag = (pkt_be16(f + 20) & 0x3fff) != 0;
		proto = f[23];
		memcpy(fl->src, f + 26, 4);
		memcpy(fl->dst, f + 30, 4);
		l4 = 14 + 20;
	} else if (pkt_be16(f + 12) == PKT_ETH_P_IPV6 && len >= 14 + 40 &&
		   f[14] >> 4 == 6) {
		fl->v6 = true;
		proto = f[20];
		memcpy(fl->src, f + 22, 16);
		memcpy(fl->dst, f + 38, 16);
		l4 = 14 + 40;
		/* Only the extension headers nh_frame writes, in its order. */
		if (proto == 44 && len >= l4 + 8) {
			fl->frag = true;
			proto = f[l4];
			l4 += 8;
		}
		if (proto == 60 && len >= l4 + 8) {
			fl->dstopts = true;
			proto = f[l4];
			l4 += 8;
		}
	} else {
		return 0;
	}
	if (proto != 6 && proto != 17)
		return 0;
	fl->tcp = proto == 6;
	hl = fl->tcp ? 20 : 8;
	if (len < l4 + hl + 4 || get32(f + l4 + hl) != NH_MAGIC)
		return 0;
	fl->sport = pkt_be16(f + l4);
	fl->dport = pkt_be16(f + l4 + 2);
	return 1;
}

size_t nh_frame_ipv4(uint8_t *buf, size_t len, uint32_t src, uint32_t dst,
		     uint16_t sport, uint16_t dport, bool tcp)
{
	struct nh_flow fl = { .tcp = tcp, .sport = sport, .dport = dport };

	put32(fl.src, src);
	put32(fl.dst, dst);
	return nh_frame(buf, len, &fl);
}

int nh_frame_parse(const uint8_t *f, size_t len, uint32_t *src, uint32_t *dst,
		   uint16_t *sport, uint16_t *dport, bool *tcp)
{
	struct nh_flow fl;

	if (!nh_frame_flow(f, len, &fl) || fl.v6)
		return 0;
	*src = get32(fl.src);
	*dst = get32(fl.dst);
	*sport = fl.sport;
	*dport = fl.dport;
	*tcp = fl.tcp;
	return 1;
}

void nh_inject(struct nh *h, const uint8_t *f, size_t len)
{
	ssize_t n;

	/* 0: a frame builder found the length too short (the test's bug). */
	CHECK(len > 0, "inject an empty frame on vif1.0");
	n = write(h->ps, f, len);
	CHECK(n == (ssize_t)len, "inject a %zu-byte frame on vif1.0: %s", len,
	      n < 0 ? strerror(errno) : "short");
}
