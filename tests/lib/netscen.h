/* SPDX-License-Identifier: MIT */
/*
 * netscen.h - scaffolding for the tests that run netbackd: an emulated
 * host (lib/simenv.h) with netbackd in Dom0 inside a network namespace of
 * its own (the "host" side, where its vif TAPs appear), the toolstack's vif
 * add, the hotplug script's part (address the vif, bring it up, write
 * hotplug-status=connected), and guests whose userspace netfront
 * (tests/front/netfront.h) is a TAP interface "eth0" in a network
 * namespace of each guest's own. The kernels' network stacks of the two
 * namespaces then talk across netfront -> rings -> netbackd -> vif TAP.
 *
 * Everything here exits the test on failure (CHECK); the tests that need
 * root, TAP devices and network namespaces skip (77) where they are not
 * available. The daemon and the guests are stopped at exit, and the
 * daemon's log printed unless the test called net_pass().
 */
#ifndef PVBACK_TESTS_NETSCEN_H
#define PVBACK_TESTS_NETSCEN_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/simenv.h"

struct net_scen {
	struct simenv env;
	pid_t daemon; /* netbackd; its netns is the host's side */
	char log[PATH_MAX];
	int passed;
};

/*
 * Exit 77 (skip) unless netbackd is built, we are root, and TAP devices,
 * network namespaces (unshare, nsenter) and ip(8) work here.
 */
void net_require(void);
/* Also skip unless iperf3 is installed. */
void net_require_iperf3(void);

/*
 * Start an emulated host with @guests guests and `netbackd --single
 * --log-level debug --set run-dir=<instance> --set K=V...` (the "K=V"
 * strings after @guests, NULL-terminated) in a new network namespace.
 * With NET_WORKERS set in the environment, without --single: the
 * supervisor and one sandboxed worker per guest.
 */
void net_start(struct net_scen *s, unsigned int guests, ...)
	__attribute__((sentinel));

/*
 * The toolstack adds vif @fe/@devid (with extra "be:K=V fe:K=V" pairs, or
 * NULL), then waits for the backend's InitWait (libxl's 10 s).
 */
void net_add(struct net_scen *s, unsigned int fe, unsigned int devid,
	     const char *extra);
/* The backend directory of vif @fe/@devid (static buffer). */
const char *net_be(unsigned int fe, unsigned int devid);
/* Read / write a node as Dom0 (lib/simenv.h); wait until it reads @val. */
#define net_read(s, ...) simenv_read(__VA_ARGS__)
#define net_write(s, path, val) simenv_write(path, val)
#define net_wait_value(s, path, val, ms) simenv_wait_value(path, val, ms)

/*
 * The hotplug script's part for vif @fe/@devid: address the vif TAP in
 * the host namespace with @cidr ("10.1.1.2/24", or NULL for none), bring
 * it up, write hotplug-status=connected.
 */
void net_hotplug(struct net_scen *s, unsigned int fe, unsigned int devid,
		 const char *cidr);
/* The same for a vif whose interface is @ifname (the toolstack's vifname). */
void net_hotplug_ifname(struct net_scen *s, unsigned int fe, unsigned int devid,
			const char *ifname, const char *cidr);

/*
 * Wait (at most @ms) until interface @ifname of the host namespace is up
 * with its carrier taken into account: the kernel applies a carrier change
 * later (linkwatch, up to a second, more under load), and until then the
 * interface's queue discards what is sent to it. CHECKs.
 */
void net_wait_oper_up(struct net_scen *s, const char *ifname, unsigned int ms);

/* Run a shell command in the network namespace of process @pid; its exit
 * status. @out (if not NULL) gets its stdout. */
int net_ns_sh(pid_t pid, char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---------------------------------------------------------- guests */

struct net_guest_cfg {
	unsigned int devid;
	unsigned int queues; /* wanted */
	bool split;	     /* split event channels */
	bool offload;	     /* SG, GSO v4/v6, IPv6 checksum offload */
	bool no_csum;	     /* feature-no-csum-offload */
	const char *cidr;    /* eth0's address, e.g. "10.1.1.1/24" */
};

/* Defaults: vif 0, 1 queue, split channels, offloads on. */
void net_guest_cfg_init(struct net_guest_cfg *c);

struct net_guest {
	pid_t pid; /* its network namespace is the guest's */
	unsigned int domid;
	int to_guest, from_guest;
	unsigned int queues; /* negotiated */
};

/*
 * Start guest @domid: in a child process, a new network namespace,
 * netfront connected on device @c->devid (it needs the backend Connected,
 * so the hotplug part must be done or follow), its TAP "eth0" configured
 * with @c->cidr and up. Returns once the interface is up.
 */
void net_guest_start(struct net_scen *s, struct net_guest *g,
		     unsigned int domid, const struct net_guest_cfg *c);
/* The two halves of net_guest_start: fork it; wait for its interface. */
void net_guest_spawn(struct net_scen *s, struct net_guest *g,
		     unsigned int domid, const struct net_guest_cfg *c);
void net_guest_ready(struct net_guest *g);
/*
 * Stop it: the interface goes, netfront closes. Returns the child's exit
 * status: 0, or 3 if netfront counted violations of the netif rules
 * (printed), other values for other failures.
 */
int net_guest_stop(struct net_guest *g);

/*
 * ICMP echo from the namespace of @pid to @dst, @count requests of
 * @size payload bytes, each waited for up to @timeout_ms. Returns the
 * number of matching replies.
 */
int net_ping(pid_t pid, const char *dst, int count, size_t size,
	     int timeout_ms);

/*
 * iperf3 from the namespace of @client to a server in the namespace of
 * @server at @addr: @secs seconds, @streams parallel streams, @reverse
 * (server sends). Fills the bytes the sender and the receiver counted
 * (iperf3's end.sum_sent / end.sum_received). 0, or -1 (output printed).
 */
int net_iperf3(pid_t server, pid_t client, const char *addr, int secs,
	       int streams, bool reverse, uint64_t *sent, uint64_t *received);

/*
 * iperf3 runs whose two ends count the same bytes: @pairs iperf3 servers
 * in the namespace of @sender (at @addr) each send @bytes (a whole number
 * of iperf3's 128 KiB blocks, below 2 GiB) to their own client in the
 * namespace of @receiver, all at once, one flow each. The sender is the
 * server of a reverse (-R) run: in forward runs iperf3's receiver stops
 * counting when the client's "test end" arrives, with data still in
 * flight (esnet/iperf#382); and `-b 0/1000` (no rate limit, bursts of
 * 1000 writes) keeps the server from writing one block past @bytes, which
 * 3.12 can do when its end falls on the next-to-last write of a burst of
 * 10. Fills the bytes the senders counted (the servers' end.sum_sent) and
 * those the receivers counted (the clients' end.sum_received). 0, or -1 if
 * a run failed (output printed).
 */
int net_iperf3_exact(pid_t sender, pid_t receiver, const char *addr,
		     uint64_t bytes, int pairs, uint64_t *sent,
		     uint64_t *received);

/*
 * net_tcp_transfer - one TCP connection from the namespace of @client to
 * a listener in the namespace of @server at @addr:@port (IPv4 or IPv6),
 * carrying @bytes
 * bytes of a known pattern from the sender (the client; the server if
 * @reverse) to the receiver, which reads to EOF and checks every byte.
 * Returns the bytes the receiver got and verified (@bytes if all went
 * well), or -1 if the connection failed or a byte differed.
 */
int64_t net_tcp_transfer(pid_t server, pid_t client, const char *addr, int port,
			 uint64_t bytes, bool reverse);

/*
 * After a change on the daemon's side (a worker killed, a vif added):
 * guest @g at @guest_ip and the host namespace at @host_ip ping each other
 * (the first reply waited for up to 10 s, while a successor takes the
 * rings back; then 5 each way, none lost), and an exact TCP transfer of
 * @bytes goes each way (ports @port and @port + 1). CHECKs, naming @when.
 */
void net_traffic_ok(struct net_scen *s, struct net_guest *g,
		    const char *guest_ip, const char *host_ip, int port,
		    uint64_t bytes, const char *when);

/*
 * `netbackd --stats [--json]` against this instance's control sockets:
 * the output in @out, the exit status returned.
 */
int net_stats(struct net_scen *s, int json, char *out, size_t outlen);

/*
 * An AF_PACKET socket (all protocols) bound to interface @ifname of the
 * network namespace of @pid, usable from here (a socket keeps the
 * namespace it was made in); with @vnet_hdr, every frame read or written
 * carries a struct virtio_net_hdr first. Exits the test on failure.
 */
int net_packet_socket(pid_t pid, const char *ifname, int vnet_hdr);

/* A line to / from a guest process over a pipe (net_hear: -1 on timeout
 * or EOF). */
void net_say(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int net_hear(int fd, char *line, size_t len, int timeout_ms);

/* How many lines of the daemon's log contain @needle. */
int net_log_count(struct net_scen *s, const char *needle);

/* The test passed: do not print the daemon log at exit. Returns 0. */
int net_pass(struct net_scen *s);

#endif
