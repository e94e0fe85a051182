// SPDX-License-Identifier: MIT
/*
 * Multicast control (feature-multicast-control, dynamic): with
 * request-multicast-control=1 written by the frontend, netbackd passes a
 * multicast frame to it only if the frontend subscribed the address with
 * an MCAST_ADD extra on its TX ring; MCAST_DEL unsubscribes; broadcast
 * always passes; turning the key back to 0 (the backend watches it) lets
 * every multicast frame through again; the 65th subscription is refused
 * with an error response (Linux's XEN_NETBK_MCAST_MAX). Every control
 * request is answered OKAY or ERROR, its extra slot NULL. The statistics
 * count the filtered frames and the requests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xen.h"
#include "front/netfront.h"
#include "lib/check.h"
#include "lib/netscen.h"

#define ETYPE 0x88b5 /* local experimental: only our test frames */

static int to_guest[2], from_guest[2];

static void mcast_addr(uint8_t *a, unsigned int last)
{
	memcpy(a, (uint8_t[]){ 0x01, 0x00, 0x5e, 0x00, 0x00, 0x00 }, 6);
	a[5] = (uint8_t)last;
}

/* One MCAST_ADD/DEL request; returns the first slot's status. */
static int mcast_req(struct netfront *nf, uint8_t type, unsigned int last,
		     uint16_t id)
{
	union ring_netif_tx_req sl[2];
	struct netif_tx_response rsp[4];
	uint32_t gref;
	int n = 0, status = 99, nulls = 0;

	netfront_tx_scratch(nf, 0, &gref);
	memset(sl, 0, sizeof(sl));
	sl[0].req.gref = gref;
	sl[0].req.flags = NETTXF_extra_info;
	sl[0].req.id = id;
	sl[1].extra.type = type;
	mcast_addr(sl[1].extra.u.mcast.addr, last);
	if (netfront_tx_put_raw(nf, 0, sl, 2, false))
		return 98;
	for (int i = 0; i < 100 && n < 2; i++) {
		int k;

		netfront_wait(nf, 0, 50);
		netfront_poll(nf, 0, NULL, NULL, 0);
		k = netfront_tx_raw_responses(nf, 0, rsp + n, 2 - n);
		for (int j = n; j < n + k; j++) {
			if (rsp[j].status == NETIF_RSP_NULL)
				nulls++;
			else if (rsp[j].id == id)
				status = rsp[j].status;
		}
		n += k;
	}
	return n == 2 && nulls == 1 ? status : 97;
}

static int guest(void *arg)
{
	static uint8_t buf[NETFRONT_RX_MAX_PKT];
	struct netfront_cfg cfg;
	struct netfront *nf;
	struct xen_store *xs;
	char line[256], out[256], path[384];
	unsigned int v;
	uint16_t id = 300;

	close(to_guest[1]);
	close(from_guest[0]);
	netfront_cfg_init(&cfg);
	if (netfront_connect(&nf, &cfg) || xen_store_open(&xs)) {
		net_say(from_guest[1], "error %s", netfront_last_error());
		return 2;
	}
	snprintf(path, sizeof(path), "%s/request-multicast-control",
		 netfront_info(nf)->fe_path);
	net_say(from_guest[1], "ok");
	while (!net_hear(to_guest[0], line, sizeof(line), 30000)) {
		if (sscanf(line, "ctl %u", &v) == 1) {
			xen_store_write(xs, XEN_TXN_NONE, path, v ? "1" : "0");
			net_say(from_guest[1], "done");
		} else if (sscanf(line, "add %x", &v) == 1) {
			net_say(from_guest[1], "status %d",
				mcast_req(nf, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, v,
					  id++));
		} else if (sscanf(line, "del %x", &v) == 1) {
			net_say(from_guest[1], "status %d",
				mcast_req(nf, XEN_NETIF_EXTRA_TYPE_MCAST_DEL, v,
					  id++));
		} else if (!strcmp(line, "recv")) {
			/* Our frames' last address bytes until broadcast. */
			size_t o = 0;

			out[0] = '\0';
			for (;;) {
				int n = netfront_recv(nf, 0, buf, sizeof(buf),
						      NULL, 5000);

				if (n < 0) {
					o += (size_t)snprintf(out + o,
							      sizeof(out) - o,
							      " timeout");
					break;
				}
				if (n < 14 || buf[12] != (ETYPE >> 8) ||
				    buf[13] != (ETYPE & 0xff))
					continue;
				o += (size_t)snprintf(out + o, sizeof(out) - o,
						      " %02x", buf[5]);
				if (buf[0] == 0xff || o > sizeof(out) - 8)
					break;
			}
			net_say(from_guest[1], "got%s", out);
		} else {
			break;
		}
	}
	v = (unsigned int)netfront_violations(nf, line, sizeof(line));
	if (v)
		fprintf(stderr, "guest: %u violations, last %s\n", v, line);
	netfront_close(nf);
	xen_store_close(xs);
	return v ? 3 : 0;
}

static void inject(int ps, unsigned int last)
{
	uint8_t f[60];

	memset(f, 0, sizeof(f));
	if (last == 0xff)
		memset(f, 0xff, 6);
	else
		mcast_addr(f, last);
	memcpy(f + 6, (uint8_t[]){ 0x02, 0, 0, 0, 0, 1 }, 6);
	f[12] = ETYPE >> 8;
	f[13] = ETYPE & 0xff;
	CHECK(write(ps, f, sizeof(f)) == (ssize_t)sizeof(f), "inject");
}

static const char *ask(const char *cmd)
{
	static char line[256];

	net_say(to_guest[1], "%s", cmd);
	CHECK(net_hear(from_guest[0], line, sizeof(line), 20000) == 0,
	      "no answer to '%s'", cmd);
	return line;
}

int main(void)
{
	char stats[8192], cmd[32];
	struct net_scen s;
	const char *r;
	pid_t g;
	int ps;

	net_start(&s, 1, NULL);
	net_add(&s, 1, 0, NULL);
	net_hotplug(&s, 1, 0, NULL);
	CHECK(pipe(to_guest) == 0 && pipe(from_guest) == 0, "pipes");
	g = simenv_fork_as(&s.env, 1, guest, NULL);
	CHECK(g > 0, "fork guest");
	close(to_guest[0]);
	close(from_guest[1]);
	CHECK(net_hear(from_guest[0], cmd, sizeof(cmd), 30000) == 0 &&
		      !strcmp(cmd, "ok"),
	      "guest: %s", cmd);
	ps = net_packet_socket(s.daemon, "vif1.0", 0);

	/* Subscribed passes, unsubscribed does not, broadcast does. */
	ask("ctl 1");
	usleep(300000); /* the backend's watch */
	r = ask("add fb");
	CHECK(!strcmp(r, "status 0"), "MCAST_ADD: %s", r);
	inject(ps, 0xfc);
	inject(ps, 0xfb);
	inject(ps, 0xff);
	r = ask("recv");
	CHECK(!strcmp(r, "got fb ff"), "with fb subscribed: %s", r);

	/* Unsubscribed: filtered. */
	r = ask("del fb");
	CHECK(!strcmp(r, "status 0"), "MCAST_DEL: %s", r);
	inject(ps, 0xfb);
	inject(ps, 0xff);
	r = ask("recv");
	CHECK(!strcmp(r, "got ff"), "after MCAST_DEL: %s", r);

	/* Control off again: everything passes. */
	ask("ctl 0");
	usleep(300000);
	inject(ps, 0xfc);
	inject(ps, 0xff);
	r = ask("recv");
	CHECK(!strcmp(r, "got fc ff"), "without multicast control: %s", r);

	/* 64 subscriptions at most. */
	for (unsigned int i = 0; i < 64; i++) {
		snprintf(cmd, sizeof(cmd), "add %x", i);
		r = ask(cmd);
		CHECK(!strcmp(r, "status 0"), "MCAST_ADD %u: %s", i, r);
	}
	r = ask("add 40");
	CHECK(!strcmp(r, "status -1"), "the 65th MCAST_ADD: %s", r);

	CHECK(net_stats(&s, 1, stats, sizeof(stats)) == 0, "--stats");
	CHECK(simenv_stat_value(stats, "vif/1/0", "mcast") >= 2,
	      "filtered frames: %s", stats);
	CHECK(simenv_stat_value(stats, "vif/1/0", "mcast_full") == 1,
	      "refused subscriptions: %s", stats);
	CHECK(simenv_stat_value(stats, "vif/1/0", "mcast_requests") == 67,
	      "control requests: %s", stats);
	net_say(to_guest[1], "quit");
	CHECK(simenv_wait(g) == 0, "the guest failed");
	return net_pass(&s);
}
