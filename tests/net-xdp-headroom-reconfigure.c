// SPDX-License-Identifier: MIT
/*
 * XDP headroom and the Reconfiguring/Reconfigured exchange
 * (spec/netif-xenbus.md B.6): netbackd offers feature-xdp-headroom; a
 * connected frontend that attaches an XDP program writes xdp-headroom,
 * goes Reconfiguring, sees the backend Reconfigured and goes Connected
 * again, and the backend follows it back to Connected. From then on every
 * packet it receives starts at that offset in its first buffer and
 * carries an XDP extra saying so, whole and byte-identical, also when it
 * needs a second buffer; back at headroom 0 the extra is gone. netfront
 * counts no violation of the netif rules.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "front/netfront.h"
#include "lib/check.h"
#include "lib/netscen.h"

#define BE "/local/domain/0/backend/vif/1/0"

static int to_guest[2], from_guest[2];

static void frame(uint8_t *f, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		f[i] = (uint8_t)(i * 31 + seed);
	memcpy(f,
	       (uint8_t[]){ 0x00, 0x16, 0x3e, 0x00, 0x01, 0x00, 0x02, 0, 0, 0,
			    0, 1, 0x88, 0xb5 },
	       14);
}

static int guest(void *arg)
{
	static uint8_t buf[NETFRONT_RX_MAX_PKT], want[8192];
	struct netfront_rxmeta m;
	struct netfront_cfg cfg;
	struct netfront *nf;
	char line[256];
	unsigned int v, seed;
	int n;

	close(to_guest[1]);
	close(from_guest[0]);
	netfront_cfg_init(&cfg);
	if (netfront_connect(&nf, &cfg)) {
		net_say(from_guest[1], "error %s", netfront_last_error());
		return 2;
	}
	net_say(from_guest[1], "ok");
	while (!net_hear(to_guest[0], line, sizeof(line), 30000)) {
		if (sscanf(line, "xdp %u", &v) == 1) {
			n = netfront_set_xdp_headroom(nf, v);
			net_say(from_guest[1], "set %d %s", n,
				n ? netfront_last_error() : "");
		} else if (sscanf(line, "take %u %u", &v, &seed) == 2) {
			do {
				n = netfront_recv(nf, 0, buf, sizeof(buf), &m,
						  3000);
			} while (n > 0 && (buf[12] != 0x88 || buf[13] != 0xb5));
			frame(want, v, (uint8_t)seed);
			if (n != (int)v || memcmp(buf, want, v))
				net_say(from_guest[1], "bad %d", n);
			else
				net_say(from_guest[1],
					"len %d xdp %d %u off %u "
					"slots %u",
					n, m.has_xdp, m.xdp_headroom, m.offset,
					m.slots);
		} else {
			break;
		}
	}
	n = (int)netfront_violations(nf, line, sizeof(line));
	if (n)
		fprintf(stderr, "guest: %d violations, last %s\n", n, line);
	netfront_close(nf);
	return n ? 3 : 0;
}

static const char *ask(const char *fmt, unsigned int a, unsigned int b)
{
	static char line[256];
	char cmd[64];

	snprintf(cmd, sizeof(cmd), fmt, a, b);
	net_say(to_guest[1], "%s", cmd);
	CHECK(net_hear(from_guest[0], line, sizeof(line), 20000) == 0,
	      "no answer to %s", cmd);
	return line;
}

static const char *send_take(int ps, unsigned int len, unsigned int seed)
{
	uint8_t f[8192];

	frame(f, len, (uint8_t)seed);
	CHECK(write(ps, f, len) == (ssize_t)len, "inject");
	return ask("take %u %u", len, seed);
}

int main(void)
{
	struct net_scen s;
	const char *r;
	char line[64];
	pid_t g;
	int ps;

	net_start(&s, 1, NULL);
	net_add(&s, 1, 0, NULL);
	net_hotplug(&s, 1, 0, NULL);
	CHECK(net_ns_sh(s.daemon, NULL, 0,
			"sysctl -qw net.ipv6.conf.vif1/0.disable_ipv6=1 && "
			"ip link set vif1.0 mtu 9000") == 0,
	      "sysctl, mtu");
	CHECK(pipe(to_guest) == 0 && pipe(from_guest) == 0, "pipes");
	g = simenv_fork_as(&s.env, 1, guest, NULL);
	CHECK(g > 0, "fork");
	close(to_guest[0]);
	close(from_guest[1]);
	CHECK(net_hear(from_guest[0], line, sizeof(line), 30000) == 0 &&
		      !strcmp(line, "ok"),
	      "guest: %s", line);
	ps = net_packet_socket(s.daemon, "vif1.0", 0);

	r = send_take(ps, 1000, 1);
	CHECK(!strcmp(r, "len 1000 xdp 0 0 off 0 slots 1"), "before: %s", r);

	r = ask("xdp %u", 256, 0);
	CHECK(!strncmp(r, "set 0", 5), "reconfigure: %s", r);
	CHECK(net_wait_value(&s, BE "/state", "4", 5000) == 0,
	      "the backend did not follow back to Connected (state %s)",
	      net_read(&s, BE "/state"));
	r = send_take(ps, 1000, 2);
	CHECK(!strcmp(r, "len 1000 xdp 1 256 off 256 slots 1"),
	      "with headroom: %s", r);
	/* 4000 bytes do not fit after 256: a second buffer. */
	r = send_take(ps, 4000, 3);
	CHECK(!strcmp(r, "len 4000 xdp 1 256 off 256 slots 2"),
	      "with headroom, two buffers: %s", r);

	r = ask("xdp %u", 0, 0);
	CHECK(!strncmp(r, "set 0", 5), "reconfigure back: %s", r);
	CHECK(net_wait_value(&s, BE "/state", "4", 5000) == 0, "Connected");
	r = send_take(ps, 1000, 4);
	CHECK(!strcmp(r, "len 1000 xdp 0 0 off 0 slots 1"), "after: %s", r);

	net_say(to_guest[1], "quit");
	CHECK(simenv_wait(g) == 0, "the guest failed");
	close(ps);
	return net_pass(&s);
}
