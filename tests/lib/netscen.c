// SPDX-License-Identifier: MIT
/*
 * netscen.c - see netscen.h. netbackd runs under `unshare -n` (so its
 * pid's namespace is the host side), guests fork, unshare their own
 * network namespace and become their domain; commands reach a namespace
 * through nsenter(1) or setns(2) in a child, never in the test process,
 * which stays in the namespace it started in.
 */
#include "lib/netscen.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/xen.h"
#include "front/netfront.h"
#include "lib/check.h"

#define NET_MAX_GUESTS 8

/*
 * What the exit handler needs, kept here: the caller's structs may live on
 * a stack frame that is gone when atexit handlers run.
 */
static struct {
	pid_t daemon;
	pid_t owner; /* a child's exit must not stop anything */
	int passed;
	char log[PATH_MAX];
	pid_t guests[NET_MAX_GUESTS];
} net_exit;

static void net_atexit(void)
{
	char cmd[PATH_MAX + 64];

	if (getpid() != net_exit.owner)
		return;
	for (int i = 0; i < NET_MAX_GUESTS; i++) {
		if (net_exit.guests[i] > 0) {
			kill(net_exit.guests[i], SIGKILL);
			simenv_wait(net_exit.guests[i]);
			net_exit.guests[i] = 0;
		}
	}
	if (net_exit.daemon > 0) {
		kill(net_exit.daemon, SIGTERM);
		simenv_wait(net_exit.daemon);
		net_exit.daemon = 0;
	}
	if (!net_exit.passed) {
		snprintf(cmd, sizeof(cmd), "sed 's/^/    netbackd: /' %s >&2",
			 net_exit.log);
		if (system(cmd) != 0)
			fprintf(stderr, "(no daemon log)\n");
	}
}

static int quiet(const char *cmd)
{
	char full[512];

	snprintf(full, sizeof(full), "%s >/dev/null 2>&1", cmd);
	return system(full);
}

void net_require(void)
{
	const char *d = simenv_build("netbackd");

	if (access(d, X_OK))
		SKIP("%s not built", d);
	if (geteuid() != 0)
		SKIP("needs root (TAP devices, network namespaces)");
	if (access("/dev/net/tun", R_OK | W_OK))
		SKIP("no /dev/net/tun");
	if (quiet("ip -V") || quiet("nsenter --version"))
		SKIP("needs ip(8) and nsenter(1)");
	if (quiet("unshare -n ip tuntap add dev pvbkprobe mode tap"))
		SKIP("cannot create a TAP in a new network namespace");
}

void net_require_iperf3(void)
{
	if (quiet("iperf3 --version"))
		SKIP("iperf3 is not installed (scripts/deps.sh)");
}

/*
 * The runner's timeout (SIGTERM) or a guest gone from a pipe (SIGPIPE)
 * must not leave netbackd, xensimd and the guests behind: end through
 * exit(), which runs the clean-up.
 */
static void net_on_signal(int sig)
{
	exit(TEST_FAIL);
}

void net_start(struct net_scen *s, unsigned int guests, ...)
{
	static const char *const unshare[] = { "/usr/bin/unshare", "-n", "--",
					       NULL };
	/* NET_WORKERS=1: the supervisor and a sandboxed worker per guest. */
	const char *opts[] = { getenv("NET_WORKERS") ? NULL : "--single",
			       NULL };
	va_list ap;

	memset(s, 0, sizeof(*s));
	net_require();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, net_on_signal);
	signal(SIGINT, net_on_signal);
	CHECK(simenv_up(&s->env, guests) == 0, "xensim up");
	snprintf(s->log, sizeof(s->log), "%s/netbackd.log", s->env.dir);
	va_start(ap, guests);
	s->daemon =
		simenv_daemon(&s->env, unshare, "netbackd", opts, ap, s->log);
	va_end(ap);
	net_exit.daemon = s->daemon;
	net_exit.owner = getpid();
	net_exit.passed = 0;
	snprintf(net_exit.log, sizeof(net_exit.log), "%s", s->log);
	/* Registered after simenv's own handler, so it runs first. */
	atexit(net_atexit);
	simenv_become(&s->env, 0);
}

const char *net_be(unsigned int fe, unsigned int devid)
{
	static char p[128];

	snprintf(p, sizeof(p), "/local/domain/0/backend/vif/%u/%u", fe, devid);
	return p;
}

void net_add(struct net_scen *s, unsigned int fe, unsigned int devid,
	     const char *extra)
{
	char p[160];

	CHECK(simenv_xensim(&s->env, "device-add", "vif %u %u %s", fe, devid,
			    extra ? extra : "") == 0,
	      "device-add vif %u %u", fe, devid);
	snprintf(p, sizeof(p), "%s/state", net_be(fe, devid));
	/* libxl gives the backend 10 s to reach InitWait. */
	CHECK(net_wait_value(s, p, "2", 10000) == 0,
	      "backend %s did not reach InitWait in 10 s (state %s)", p,
	      net_read(s, "%s", p) ?: "absent");
}

int net_ns_sh(pid_t pid, char *out, size_t outlen, const char *fmt, ...)
{
	char cmd[2048], full[sizeof(cmd) + 64];
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	CHECK(!strchr(cmd, '\''), "no quotes in namespace commands");
	snprintf(full, sizeof(full), "nsenter -t %d -n -- sh -c '%s'", (int)pid,
		 cmd);
	fflush(NULL);
	f = popen(full, "r");
	if (!f)
		return -errno;
	if (out && outlen) {
		size_t n = fread(out, 1, outlen - 1, f);

		out[n] = '\0';
		while (n && out[n - 1] == '\n')
			out[--n] = '\0';
	} else {
		char sink[512];

		while (fread(sink, 1, sizeof(sink), f) > 0)
			;
	}
	st = pclose(f);
	if (st < 0)
		return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

void net_hotplug_ifname(struct net_scen *s, unsigned int fe, unsigned int devid,
			const char *ifname, const char *cidr)
{
	char p[160];
	int rc;

	/* What vif-bridge does, with an address instead of a bridge. */
	if (cidr)
		rc = net_ns_sh(s->daemon, NULL, 0,
			       "ip addr add %s dev %s && ip link set %s up",
			       cidr, ifname, ifname);
	else
		rc = net_ns_sh(s->daemon, NULL, 0, "ip link set %s up", ifname);
	CHECK(rc == 0, "configuring %s in the host namespace", ifname);
	snprintf(p, sizeof(p), "%s/hotplug-status", net_be(fe, devid));
	net_write(s, p, "connected");
}

void net_hotplug(struct net_scen *s, unsigned int fe, unsigned int devid,
		 const char *cidr)
{
	char ifname[32];

	snprintf(ifname, sizeof(ifname), "vif%u.%u", fe, devid);
	net_hotplug_ifname(s, fe, devid, ifname, cidr);
}

/* ---------------------------------------------------------- guests */

void net_guest_cfg_init(struct net_guest_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->queues = 1;
	c->split = true;
	c->offload = true;
}

struct guest_arg {
	const struct net_guest_cfg *c;
	int rd, wr;
};

static void guest_say(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(fd, buf, (size_t)n) != n)
		_exit(9);
}

/* The guest: runs in the child, as its domain. */
static int guest_main(void *arg)
{
	struct guest_arg *a = arg;
	const struct net_guest_cfg *c = a->c;
	struct netfront_cfg nc;
	struct netfront *nf;
	struct netfront_tap *tap;
	char why[160], cmd[512], byte;
	unsigned long v;
	int rc;

	if (unshare(CLONE_NEWNET)) {
		guest_say(a->wr, "error unshare: %s", strerror(errno));
		return 2;
	}
	netfront_cfg_init(&nc);
	nc.devid = c->devid;
	nc.queues = c->queues;
	nc.split_evtchn = c->split;
	nc.sg = nc.gso_tcpv4 = nc.gso_tcpv6 = nc.ipv6_csum = c->offload;
	nc.no_csum_offload = c->no_csum;
	nc.timeout_ms = 20000;
	rc = netfront_connect(&nf, &nc);
	if (rc) {
		guest_say(a->wr, "error connect: %s", netfront_last_error());
		return 2;
	}
	rc = netfront_tap_start(nf, "eth0", &tap);
	if (rc) {
		guest_say(a->wr, "error tap: %s", netfront_last_error());
		return 2;
	}
	snprintf(cmd, sizeof(cmd),
		 "ip link set lo up && ip link set eth0 up%s%s%s",
		 c->cidr ? " && ip addr add " : "", c->cidr ? c->cidr : "",
		 c->cidr ? " dev eth0" : "");
	if (system(cmd) != 0) {
		guest_say(a->wr, "error: %s failed", cmd);
		return 2;
	}
	guest_say(a->wr, "ok %u", netfront_info(nf)->num_queues);
	/* Until the test says stop (or goes away). */
	if (read(a->rd, &byte, 1) < 0)
		byte = 0;
	netfront_tap_stop(tap);
	v = netfront_violations(nf, why, sizeof(why));
	netfront_close(nf);
	if (v) {
		fprintf(stderr, "guest: %lu netif violations, last: %s\n", v,
			why);
		return 3;
	}
	return 0;
}

void net_guest_spawn(struct net_scen *s, struct net_guest *g,
		     unsigned int domid, const struct net_guest_cfg *c)
{
	int to[2], from[2];
	struct guest_arg a;
	int slot;

	CHECK(pipe2(to, O_CLOEXEC) == 0 && pipe2(from, O_CLOEXEC) == 0,
	      "pipes");
	a = (struct guest_arg){ .c = c, .rd = to[0], .wr = from[1] };
	memset(g, 0, sizeof(*g));
	g->domid = domid;
	g->pid = simenv_fork_as(&s->env, domid, guest_main, &a);
	CHECK(g->pid > 0, "fork guest %u", domid);
	for (slot = 0; slot < NET_MAX_GUESTS && net_exit.guests[slot]; slot++)
		;
	if (slot < NET_MAX_GUESTS)
		net_exit.guests[slot] = g->pid;
	close(to[0]);
	close(from[1]);
	g->to_guest = to[1];
	g->from_guest = from[0];
}

void net_guest_ready(struct net_guest *g)
{
	struct pollfd pfd;
	char line[512];
	size_t n = 0;

	/* Its first line: "ok <queues>" or what went wrong. */
	pfd = (struct pollfd){ .fd = g->from_guest, .events = POLLIN };
	while (n < sizeof(line) - 1 && !memchr(line, '\n', n)) {
		ssize_t r;

		CHECK(poll(&pfd, 1, 30000) == 1, "guest %u: no word in 30 s",
		      g->domid);
		r = read(g->from_guest, line + n, sizeof(line) - 1 - n);
		CHECK(r > 0, "guest %u died at start (status %d)", g->domid,
		      simenv_wait(g->pid));
		n += (size_t)r;
	}
	line[n] = '\0';
	CHECK(sscanf(line, "ok %u", &g->queues) == 1, "guest %u: %s", g->domid,
	      line);
}

void net_guest_start(struct net_scen *s, struct net_guest *g,
		     unsigned int domid, const struct net_guest_cfg *c)
{
	net_guest_spawn(s, g, domid, c);
	net_guest_ready(g);
}

int net_guest_stop(struct net_guest *g)
{
	int st;

	if (g->pid <= 0)
		return -1;
	if (write(g->to_guest, "x", 1) != 1)
		kill(g->pid, SIGKILL);
	close(g->to_guest);
	close(g->from_guest);
	st = simenv_wait(g->pid);
	for (int i = 0; i < NET_MAX_GUESTS; i++)
		if (net_exit.guests[i] == g->pid)
			net_exit.guests[i] = 0;
	g->pid = 0;
	return st;
}

/* ---------------------------------------------------------- probes */

static int ns_enter(pid_t pid)
{
	char p[64];
	int fd, rc;

	snprintf(p, sizeof(p), "/proc/%d/ns/net", (int)pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = setns(fd, CLONE_NEWNET) ? -errno : 0;
	close(fd);
	return rc;
}

static uint16_t icmp_sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* In the child: returns the replies (the exit status). */
static int ping_child(const char *dst, int count, size_t size, int timeout_ms)
{
	static uint8_t pkt[65536], rbuf[65536 + 64];
	struct sockaddr_in to = { .sin_family = AF_INET };
	uint16_t id = (uint16_t)getpid();
	int s, replies = 0;

	if (size > sizeof(pkt) - 8 ||
	    inet_pton(AF_INET, dst, &to.sin_addr) != 1)
		return 0;
	s = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (s < 0)
		return 0;
	for (int seq = 1; seq <= count; seq++) {
		struct icmphdr *h = (struct icmphdr *)pkt;
		long deadline = ms_now() + timeout_ms;

		memset(pkt, 0, 8 + size);
		h->type = ICMP_ECHO;
		h->un.echo.id = htons(id);
		h->un.echo.sequence = htons((uint16_t)seq);
		for (size_t i = 0; i < size; i++)
			pkt[8 + i] = (uint8_t)(i * 7 + seq);
		h->checksum = icmp_sum(pkt, 8 + size);
		if (sendto(s, pkt, 8 + size, 0, (struct sockaddr *)&to,
			   sizeof(to)) < 0)
			continue;
		for (;;) {
			struct pollfd pfd = { .fd = s, .events = POLLIN };
			long left = deadline - ms_now();
			const struct iphdr *ip = (const struct iphdr *)rbuf;
			const struct icmphdr *r;
			ssize_t n;
			size_t ihl;

			if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
				break;
			n = recv(s, rbuf, sizeof(rbuf), 0);
			if (n < (ssize_t)sizeof(*ip))
				continue;
			ihl = (size_t)ip->ihl * 4;
			if ((size_t)n < ihl + 8 + size ||
			    ip->saddr != to.sin_addr.s_addr)
				continue;
			r = (const struct icmphdr *)(rbuf + ihl);
			if (r->type != ICMP_ECHOREPLY ||
			    r->un.echo.id != htons(id) ||
			    r->un.echo.sequence != htons((uint16_t)seq) ||
			    memcmp(rbuf + ihl + 8, pkt + 8, size))
				continue;
			replies++;
			break;
		}
	}
	close(s);
	return replies;
}

int net_ping(pid_t pid, const char *dst, int count, size_t size, int timeout_ms)
{
	pid_t c;

	fflush(NULL);
	c = fork();
	CHECK(c >= 0, "fork");
	if (c == 0) {
		net_exit.owner = 0;
		if (ns_enter(pid))
			_exit(0);
		_exit(ping_child(dst, count, size, timeout_ms));
	}
	return simenv_wait(c);
}

/* ---------------------------------------------------------- TCP */

static uint8_t tcp_pattern(uint64_t i)
{
	return (uint8_t)(i * 131 ^ i >> 11 ^ i >> 19);
}

/* Send @bytes of the pattern, then half-close and wait for the peer's
 * close. 0 or -1. */
static int tcp_send_all(int s, uint64_t bytes)
{
	static uint8_t buf[65536];
	uint64_t off = 0;
	char c;

	while (off < bytes) {
		size_t n = bytes - off < sizeof(buf) ? bytes - off
						     : sizeof(buf);
		ssize_t w;

		for (size_t i = 0; i < n; i++)
			buf[i] = tcp_pattern(off + i);
		w = write(s, buf, n);
		if (w <= 0)
			return -1;
		off += (uint64_t)w;
	}
	if (shutdown(s, SHUT_WR))
		return -1;
	return read(s, &c, 1) == 0 ? 0 : -1;
}

/* Read to EOF checking the pattern; the bytes verified, or -1. */
static int64_t tcp_recv_all(int s)
{
	static uint8_t buf[65536];
	uint64_t off = 0;

	for (;;) {
		ssize_t r = read(s, buf, sizeof(buf));

		if (r == 0)
			return (int64_t)off;
		if (r < 0)
			return -1;
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != tcp_pattern(off + (uint64_t)i))
				return -1;
		off += (uint64_t)r;
	}
}

static void tcp_report(int fd, int64_t v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		_exit(5);
}

int64_t net_tcp_transfer(pid_t server, pid_t client, const char *addr, int port,
			 uint64_t bytes, bool reverse)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sa4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sa6 = (struct sockaddr_in6 *)&ss;
	struct timeval tv = { .tv_sec = 30 };
	int ready[2], result[2], one = 1, fam;
	socklen_t salen;
	int64_t got = -1;
	pid_t sp, cp;
	char c;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sa4->sin_addr) == 1) {
		fam = sa4->sin_family = AF_INET;
		sa4->sin_port = htons((uint16_t)port);
		salen = sizeof(*sa4);
	} else {
		CHECK(inet_pton(AF_INET6, addr, &sa6->sin6_addr) == 1,
		      "address %s", addr);
		fam = sa6->sin6_family = AF_INET6;
		sa6->sin6_port = htons((uint16_t)port);
		salen = sizeof(*sa6);
	}
	CHECK(pipe(ready) == 0 && pipe(result) == 0, "pipes");
	fflush(NULL);
	sp = fork();
	CHECK(sp >= 0, "fork");
	if (sp == 0) {
		int l, s;

		net_exit.owner = 0;
		if (ns_enter(server))
			_exit(2);
		l = socket(fam, SOCK_STREAM, 0);
		if (l < 0 ||
		    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one,
			       sizeof(one)) ||
		    bind(l, (struct sockaddr *)&ss, salen) || listen(l, 1))
			_exit(3);
		if (write(ready[1], "r", 1) != 1)
			_exit(4);
		s = accept(l, NULL, NULL);
		if (s < 0)
			_exit(3);
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (reverse)
			_exit(tcp_send_all(s, bytes) ? 6 : 0);
		tcp_report(result[1], tcp_recv_all(s));
		close(s);
		_exit(0);
	}
	CHECK(read(ready[0], &c, 1) == 1, "TCP listener did not start");
	cp = fork();
	CHECK(cp >= 0, "fork");
	if (cp == 0) {
		int s;

		net_exit.owner = 0;
		if (ns_enter(client))
			_exit(2);
		s = socket(fam, SOCK_STREAM, 0);
		if (s < 0)
			_exit(3);
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(s, (struct sockaddr *)&ss, salen))
			_exit(3);
		if (!reverse)
			_exit(tcp_send_all(s, bytes) ? 6 : 0);
		tcp_report(result[1], tcp_recv_all(s));
		close(s);
		_exit(0);
	}
	close(result[1]);
	if (read(result[0], &got, sizeof(got)) != sizeof(got))
		got = -1;
	if (simenv_wait(sp) != 0 || simenv_wait(cp) != 0)
		got = -1;
	close(ready[0]);
	close(ready[1]);
	close(result[0]);
	return got;
}

int net_packet_socket(pid_t pid, const char *ifname, int vnet_hdr)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	int self, s = -1, rc;

	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	CHECK(self >= 0, "own namespace");
	CHECK(ns_enter(pid) == 0, "enter the namespace of %d", (int)pid);
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (sll.sll_ifindex)
		s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC,
			   htons(ETH_P_ALL));
	rc = s >= 0 &&
	     (!vnet_hdr || !setsockopt(s, SOL_PACKET, PACKET_VNET_HDR,
				       &vnet_hdr, sizeof(vnet_hdr))) &&
	     !bind(s, (struct sockaddr *)&sll, sizeof(sll));
	CHECK(setns(self, CLONE_NEWNET) == 0, "back to our namespace");
	close(self);
	CHECK(rc, "packet socket on %s: %s", ifname, strerror(errno));
	return s;
}

void net_say(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	CHECK(write(fd, buf, (size_t)n) == n, "pipe write");
}

int net_hear(int fd, char *line, size_t len, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t n = 0;

	/* One byte at a time: a line never swallows the next one. */
	while (n + 1 < len) {
		char c;

		if (poll(&pfd, 1, timeout_ms) != 1 || read(fd, &c, 1) != 1)
			return -1;
		if (c == '\n')
			break;
		line[n++] = c;
	}
	line[n] = '\0';
	return 0;
}

/* The "bytes" of the object "@key" in iperf3's JSON "end" section. */
static int json_bytes(const char *file, const char *key, uint64_t *out)
{
	static char buf[1 << 20];
	char pat[64], *p;
	FILE *f = fopen(file, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strstr(buf, "\"end\":");
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = p ? strstr(p, pat) : NULL;
	p = p ? strstr(p, "\"bytes\":") : NULL;
	if (!p)
		return -1;
	*out = strtoull(p + 8, NULL, 10);
	return 0;
}

/*
 * `iperf3 -s -1` on @port in the namespace of @ns, its JSON report to
 * @json, started in a child process; returns its pid once it listens.
 */
static pid_t iperf_server(pid_t ns, int port, const char *json)
{
	char cmd[PATH_MAX + 128];
	pid_t sp;

	fflush(NULL);
	sp = fork();
	CHECK(sp >= 0, "fork");
	if (sp == 0) {
		net_exit.owner = 0;
		snprintf(cmd, sizeof(cmd),
			 "exec nsenter -t %d -n -- iperf3 -s -1 -p %d -J "
			 ">%s 2>&1",
			 (int)ns, port, json);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	/* Wait until it listens (LISTEN is state 0A in /proc/net/tcp). */
	for (int i = 0; i < 100; i++) {
		if (net_ns_sh(ns, NULL, 0,
			      "grep -qiE \":%04X [0:]+ 0A\" "
			      "/proc/net/tcp /proc/net/tcp6",
			      port) == 0)
			break;
		usleep(50000);
	}
	return sp;
}

int net_iperf3(pid_t server, pid_t client, const char *addr, int secs,
	       int streams, bool reverse, uint64_t *sent, uint64_t *received)
{
	const char *tmp = getenv("TMPDIR");
	char srv[PATH_MAX], cli[PATH_MAX], cmd[PATH_MAX * 2 + 256];
	static int port = 5201;
	pid_t sp;
	int rc = -1, st;

	port++;
	snprintf(srv, sizeof(srv), "%s/pvbk-iperf-%d-%d-srv.json",
		 tmp && *tmp ? tmp : "/tmp", (int)getpid(), port);
	snprintf(cli, sizeof(cli), "%s/pvbk-iperf-%d-%d-cli.json",
		 tmp && *tmp ? tmp : "/tmp", (int)getpid(), port);
	sp = iperf_server(server, port, srv);
	st = net_ns_sh(client, NULL, 0,
		       "iperf3 -c %s -p %d -t %d -P %d %s -J >%s 2>&1", addr,
		       port, secs, streams, reverse ? "-R" : "", cli);
	if (simenv_wait(sp) != 0 || st != 0) {
		fprintf(stderr, "iperf3 failed (client %d)\n", st);
		goto out;
	}
	if (reverse)
		rc = json_bytes(srv, "sum_sent", sent)
			     ?: json_bytes(cli, "sum_received", received);
	else
		rc = json_bytes(cli, "sum_sent", sent)
			     ?: json_bytes(srv, "sum_received", received);
out:
	if (rc) {
		snprintf(cmd, sizeof(cmd),
			 "tail -n 30 %s %s | sed 's/^/    iperf3: /' >&2", cli,
			 srv);
		if (system(cmd) != 0)
			fprintf(stderr, "(no iperf3 output)\n");
	}
	unlink(srv);
	unlink(cli);
	return rc;
}

#define IPERF_PAIRS_MAX 8

int net_iperf3_exact(pid_t sender, pid_t receiver, const char *addr,
		     uint64_t bytes, int pairs, uint64_t *sent,
		     uint64_t *received)
{
	const char *tmp = getenv("TMPDIR");
	char srv[IPERF_PAIRS_MAX][PATH_MAX], cli[IPERF_PAIRS_MAX][PATH_MAX];
	char cmd[IPERF_PAIRS_MAX * (PATH_MAX + 160)];
	static int port = 5601;
	pid_t sp[IPERF_PAIRS_MAX];
	size_t off = 0;
	int rc = 0, st, k, base;

	CHECK(pairs >= 1 && pairs <= IPERF_PAIRS_MAX, "iperf3 pairs %d", pairs);
	base = port;
	port += pairs;
	*sent = *received = 0;
	for (k = 0; k < pairs; k++) {
		snprintf(srv[k], sizeof(srv[k]),
			 "%s/pvbk-iperfx-%d-%d-srv.json",
			 tmp && *tmp ? tmp : "/tmp", (int)getpid(), base + k);
		snprintf(cli[k], sizeof(cli[k]),
			 "%s/pvbk-iperfx-%d-%d-cli.json",
			 tmp && *tmp ? tmp : "/tmp", (int)getpid(), base + k);
		sp[k] = iperf_server(sender, base + k, srv[k]);
	}
	/* The clients at once; the shell fails if one of them does. */
	for (k = 0; k < pairs; k++)
		off += (size_t)snprintf(
			cmd + off, sizeof(cmd) - off,
			"iperf3 -c %s -p %d -R -n %llu -b 0/1000 "
			"-J >%s 2>&1 & p%d=$!; ",
			addr, base + k, (unsigned long long)bytes, cli[k], k);
	off += (size_t)snprintf(cmd + off, sizeof(cmd) - off, "rc=0; ");
	for (k = 0; k < pairs; k++)
		off += (size_t)snprintf(cmd + off, sizeof(cmd) - off,
					"wait $p%d || rc=1; ", k);
	snprintf(cmd + off, sizeof(cmd) - off, "exit $rc");
	st = net_ns_sh(receiver, NULL, 0, "%s", cmd);
	for (k = 0; k < pairs; k++) {
		uint64_t s = 0, r = 0;

		if (simenv_wait(sp[k]) != 0 || st != 0 ||
		    json_bytes(srv[k], "sum_sent", &s) ||
		    json_bytes(cli[k], "sum_received", &r)) {
			fprintf(stderr, "iperf3 pair %d failed (clients %d)\n",
				k, st);
			snprintf(
				cmd, sizeof(cmd),
				"tail -n 30 %s %s | sed 's/^/    iperf3: /' >&2",
				cli[k], srv[k]);
			if (system(cmd) != 0)
				fprintf(stderr, "(no iperf3 output)\n");
			rc = -1;
		}
		*sent += s;
		*received += r;
		unlink(srv[k]);
		unlink(cli[k]);
	}
	return rc;
}

int net_stats(struct net_scen *s, int json, char *out, size_t outlen)
{
	char cmd[PATH_MAX * 2 + 64];
	FILE *f;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "%s --set run-dir=%s --stats%s 2>&1",
		 simenv_build("netbackd"), s->env.dir, json ? " --json" : "");
	fflush(NULL);
	f = popen(cmd, "r");
	CHECK(f, "netbackd --stats");
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int net_log_count(struct net_scen *s, const char *needle)
{
	char line[2048];
	FILE *f = fopen(s->log, "r");
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

int net_pass(struct net_scen *s)
{
	/* NET_SHOW_LOG=1: the daemon's log even when the test passed. */
	s->passed = net_exit.passed = !getenv("NET_SHOW_LOG");
	return TEST_PASS;
}

void net_traffic_ok(struct net_scen *s, struct net_guest *g,
		    const char *guest_ip, const char *host_ip, int port,
		    uint64_t bytes, const char *when)
{
	int64_t got;
	int n = 0;

	for (int i = 0; i < 20 && n == 0; i++)
		n = net_ping(g->pid, host_ip, 1, 56, 500);
	CHECK(n == 1, "%s: no ping reply within 10 s", when);
	CHECK(net_ping(g->pid, host_ip, 5, 56, 2000) == 5 &&
		      net_ping(s->daemon, guest_ip, 5, 56, 2000) == 5,
	      "%s: pings lost", when);
	for (int rev = 0; rev < 2; rev++) {
		got = net_tcp_transfer(s->daemon, g->pid, host_ip, port + rev,
				       bytes, rev);
		CHECK(got == (int64_t)bytes,
		      "%s: exact transfer %s: %lld of %llu bytes", when,
		      rev ? "host -> guest" : "guest -> host", (long long)got,
		      (unsigned long long)bytes);
	}
}

void net_wait_oper_up(struct net_scen *s, const char *ifname, unsigned int ms)
{
	char out[512] = "";

	for (unsigned int t = 0; t <= ms; t += 20) {
		if (!net_ns_sh(s->daemon, out, sizeof(out),
			       "ip -o link show dev %s", ifname) &&
		    strstr(out, " state UP "))
			return;
		usleep(20000);
	}
	CHECK(0, "%s not operationally up after %u ms: %s", ifname, ms, out);
}
