// SPDX-License-Identifier: MIT
/*
 * A frontend with multicast control (request-multicast-control=1) told
 * the worker serving it which multicast addresses it wants (MCAST_ADD
 * extras on its TX ring); the worker dies. Its successor takes the live
 * frontend over but cannot know those subscriptions, and the frontend
 * will not send them again: with the filter left on, the guest would hear
 * no multicast at all (IPv6 neighbour discovery included). Checked, with
 * the supervisor and a sandboxed worker: before the kill, a frame to the
 * subscribed address arrives and one to another group does not; after
 * the successor has taken the rings back, both arrive (the filter is
 * off), the daemon says so exactly once, and it logs no error but the
 * supervisor's report of the killed worker.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xen.h"
#include "front/netfront.h"
#include "lib/check.h"
#include "lib/nethostile.h"
#include "lib/netscen.h"
#include "netback/pkt.h"

#define ETYPE 0x88b5 /* local experimental: only our test frames */
#define SUBSCRIBED 0xfb
#define OTHER 0xfc
#define FILTER_OFF                                                             \
	"multicast filter off: the frontend's subscriptions were the "         \
	"previous worker's"

static int to_guest[2], from_guest[2];
static char fe_path[256];

/* 01:00:5e:00:00:<last>, an IPv4 group's MAC. */
static void mcast_addr(uint8_t *a, unsigned int last)
{
	memcpy(a, (uint8_t[]){ 0x01, 0x00, 0x5e, 0x00, 0x00, 0x00 }, 6);
	a[5] = (uint8_t)last;
}

/* One MCAST_ADD request: "rsp 2 1 0 1" when answered OKAY + NULL. */
static void mcast_add(struct netfront *nf, unsigned int last, char *reply,
		      size_t len)
{
	union ring_netif_tx_req sl[2];
	unsigned int nulls;
	int16_t st[2];
	int got;

	nh_chain(nf, sl, 1, 0, NULL, NH_ID0);
	sl[0].req.flags |= NETTXF_extra_info;
	memset(&sl[1], 0, sizeof(sl[1]));
	sl[1].extra.type = XEN_NETIF_EXTRA_TYPE_MCAST_ADD;
	mcast_addr(sl[1].extra.u.mcast.addr, last);
	got = nh_raw(nf, sl, 2, 2, 5000, st, 2, &nulls);
	nh_reply_rsp(reply, len, got, st, nulls);
}

/*
 * Our frames until the broadcast one tagged @tag (others are left over
 * from earlier rounds): "got" and the last address byte of each multicast
 * frame, or "timeout" and those seen within @ms ("error" if netfront
 * failed).
 */
static void recv_until(struct netfront *nf, unsigned int tag, int ms,
		       char *reply, size_t len)
{
	static uint8_t buf[NETFRONT_RX_MAX_PKT];
	char seen[128] = "";
	size_t o = 0;
	int n;

	for (;;) {
		n = netfront_recv(nf, 0, buf, sizeof(buf), NULL, ms);
		if (n == -ETIMEDOUT) {
			snprintf(reply, len, "timeout%s", seen);
			return;
		}
		if (n < 0) {
			snprintf(reply, len, "error %d%s", n, seen);
			return;
		}
		if (n < 15 || pkt_be16(buf + 12) != ETYPE)
			continue;
		if (buf[0] == 0xff) {
			if (buf[14] == tag)
				break;
			continue;
		}
		if (o < sizeof(seen) - 4)
			o += (size_t)snprintf(seen + o, sizeof(seen) - o,
					      " %02x", buf[5]);
	}
	snprintf(reply, len, "got%s", seen);
}

static int guest(void *arg)
{
	struct netfront_cfg cfg;
	struct netfront *nf;
	struct xen_store *xs;
	char line[256], reply[256], path[300];
	unsigned int v, ms;
	int rc;

	(void)arg;
	close(to_guest[1]);
	close(from_guest[0]);
	/* As Linux netfront: asked for before it connects. */
	snprintf(path, sizeof(path), "%s/request-multicast-control", fe_path);
	rc = xen_store_open(&xs);
	rc = rc ?: xen_store_write(xs, XEN_TXN_NONE, path, "1");
	if (rc) {
		net_say(from_guest[1], "error writing %s: %d", path, rc);
		return 2;
	}
	xen_store_close(xs);
	netfront_cfg_init(&cfg);
	if (netfront_connect(&nf, &cfg)) {
		net_say(from_guest[1], "error %s", netfront_last_error());
		return 2;
	}
	net_say(from_guest[1], "ok");
	while (!net_hear(to_guest[0], line, sizeof(line), 60000)) {
		if (sscanf(line, "add %x", &v) == 1)
			mcast_add(nf, v, reply, sizeof(reply));
		else if (sscanf(line, "recv %u %u", &v, &ms) == 2)
			recv_until(nf, v, (int)ms, reply, sizeof(reply));
		else
			break;
		net_say(from_guest[1], "%s", reply);
	}
	v = (unsigned int)netfront_violations(nf, line, sizeof(line));
	if (v)
		fprintf(stderr, "guest: %u violations, last %s\n", v, line);
	netfront_close(nf);
	return v ? 3 : 0;
}

/*
 * A frame to the group @last, or broadcast (0xff) with @tag, on vif1.0's
 * host side. 0, or -1 if the kernel refused it.
 */
static int inject(int ps, unsigned int last, unsigned int tag)
{
	uint8_t f[60];

	memset(f, 0, sizeof(f));
	if (last == 0xff)
		memset(f, 0xff, 6);
	else
		mcast_addr(f, last);
	memcpy(f + 6, (uint8_t[]){ 0x02, 0, 0, 0, 0, 1 }, 6);
	pkt_put_be16(f + 12, ETYPE);
	f[14] = (uint8_t)tag;
	return write(ps, f, sizeof(f)) == (ssize_t)sizeof(f) ? 0 : -1;
}

static const char *ask(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static const char *ask(const char *fmt, ...)
{
	static char line[256];
	char cmd[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	net_say(to_guest[1], "%s", cmd);
	CHECK(net_hear(from_guest[0], line, sizeof(line), 30000) == 0,
	      "no answer to '%s'", cmd);
	return line;
}

int main(void)
{
	struct net_scen s;
	const char *r;
	char line[256];
	pid_t g, w, w2 = 0;
	int ps, errs, killed;
	unsigned int tag;

	setenv("NET_WORKERS", "1", 1);
	net_start(&s, 1, NULL);
	net_add(&s, 1, 0, NULL);
	net_hotplug(&s, 1, 0, NULL);
	r = net_read(&s, "%s/frontend", net_be(1, 0));
	CHECK(r, "no frontend path");
	snprintf(fe_path, sizeof(fe_path), "%s", r);
	CHECK(pipe(to_guest) == 0 && pipe(from_guest) == 0, "pipes");
	g = simenv_fork_as(&s.env, 1, guest, NULL);
	CHECK(g > 0, "fork guest");
	close(to_guest[0]);
	close(from_guest[1]);
	CHECK(net_hear(from_guest[0], line, sizeof(line), 30000) == 0 &&
		      !strcmp(line, "ok"),
	      "guest: %s", line);
	ps = net_packet_socket(s.daemon, "vif1.0", 0);

	/* The filter is on: the subscribed group passes, the other not. */
	r = ask("add %x", SUBSCRIBED);
	CHECK(!strcmp(r, "rsp 2 1 0 1"), "MCAST_ADD: %s", r);
	CHECK(!inject(ps, OTHER, 0) && !inject(ps, SUBSCRIBED, 0) &&
		      !inject(ps, 0xff, 1),
	      "inject on vif1.0");
	r = ask("recv %u %u", 1, 5000);
	CHECK(!strcmp(r, "got fb"), "before the kill, with fb subscribed: %s",
	      r);
	CHECK(net_log_count(&s, FILTER_OFF) == 0,
	      "the filter went off before any takeover");

	w = simenv_worker_pid(s.daemon, "netbackd", 1);
	CHECK(w > 0, "no worker under the supervisor %d", (int)s.daemon);
	CHECK(kill(w, SIGKILL) == 0, "kill %d", (int)w);
	for (int i = 0; i < 100 && (w2 <= 0 || w2 == w); i++) {
		usleep(100000);
		w2 = simenv_worker_pid(s.daemon, "netbackd", 1);
	}
	CHECK(w2 > 0 && w2 != w, "the worker was not restarted");
	/*
	 * Broadcast always passes: it says when the successor serves. Until
	 * then the TAP has no reader (the kernel may drop or refuse it).
	 */
	r = "none";
	for (tag = 2; tag < 40; tag++) {
		if (!inject(ps, 0xff, tag)) {
			r = ask("recv %u %u", tag, 500);
			if (!strncmp(r, "got", 3))
				break;
		}
		usleep(100000);
	}
	CHECK(tag < 40,
	      "no broadcast frame reached the guest after the worker was "
	      "killed: %s",
	      r);

	/* Nobody resubscribed: the filter must be off, not empty. */
	CHECK(!inject(ps, OTHER, 0) && !inject(ps, SUBSCRIBED, 0) &&
		      !inject(ps, 0xff, 100),
	      "inject on vif1.0 after the takeover");
	r = ask("recv %u %u", 100, 5000);
	CHECK(!strcmp(r, "got fc fb"), "after the takeover: %s", r);

	CHECK(net_log_count(&s, FILTER_OFF) == 1,
	      "'%s' logged %d times, not once", FILTER_OFF,
	      net_log_count(&s, FILTER_OFF));
	errs = net_log_count(&s, " err: ");
	killed = net_log_count(&s, "killed by signal 9");
	CHECK(killed == 1 && errs == killed,
	      "errors in the daemon's log: %d (worker kills %d)", errs, killed);
	CHECK(net_log_count(&s, "(bug)") == 0, "netbackd logged a bug");
	net_say(to_guest[1], "quit");
	CHECK(simenv_wait(g) == 0, "the guest failed");
	return net_pass(&s);
}
