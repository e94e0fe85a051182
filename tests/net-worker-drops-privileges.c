// SPDX-License-Identifier: MIT
/*
 * With user=nobody, netbackd's worker runs as nobody once it has started,
 * keeping one capability, CAP_NET_ADMIN, which creating and attaching TAP
 * devices takes (its seccomp filter lets through only the TAP and
 * interface ioctls it needs): /proc shows nobody's uids and gids, that one
 * capability effective and permitted, and the filter. A vif the toolstack
 * adds afterwards gets its TAP from the unprivileged worker, and a guest on
 * it passes traffic both ways; a worker killed is followed by one that
 * again runs as nobody and takes that TAP back.
 *
 * The emulated Xen's handle socket stands for /dev/xen/gntdev and
 * /dev/xen/evtchn, which a udev rule must open to the user on a real host:
 * the test makes it reachable by nobody before the worker starts.
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/netscen.h"

#define GUEST_IP "10.222.0.1"
#define HOST_IP "10.222.0.2"
#define XFER_BYTES (4ull << 20)
#define CAP_NET_ADMIN_ONLY "0000000000001000" /* bit 12 */

/* The worker of guest 1, once it runs as @uid. */
static pid_t nobody_worker(struct net_scen *s, uid_t uid, pid_t not )
{
	char ids[64];
	pid_t w = 0;

	snprintf(ids, sizeof(ids), "%u\t%u\t%u\t%u", uid, uid, uid, uid);
	for (int i = 0; i < 100; i++, usleep(100000)) {
		w = simenv_worker_pid(s->daemon, "netbackd", 1);
		if (w > 0 && w != not &&simenv_status_has(w, "Uid", ids))
			return w;
	}
	CHECK(0, "no worker of guest 1 running as uid %u (last %d)", uid,
	      (int)w);
	return 0;
}

int main(void)
{
	struct passwd *pw = getpwnam("nobody");
	char hv[PATH_MAX + 16], ids[64];
	struct net_guest_cfg c;
	struct net_scen s;
	struct net_guest g;
	pid_t w, w2;

	if (!pw || !pw->pw_uid)
		SKIP("no unprivileged user 'nobody'");
	if (geteuid())
		SKIP("needs root to drop from");
	setenv("NET_WORKERS", "1", 1);
	net_start(&s, 1, "user=nobody", NULL);
	/* What a udev rule does for /dev/xen/{gntdev,evtchn} on a host. */
	snprintf(hv, sizeof(hv), "%s/dom0.hv", s.env.dir);
	CHECK(chmod(s.env.dir, 0711) == 0 && chmod(hv, 0666) == 0,
	      "open the emulated Xen to nobody: %s", strerror(errno));

	/* The worker starts with the first vif, then drops to nobody. */
	net_add(&s, 1, 0, NULL);
	w = nobody_worker(&s, pw->pw_uid, 0);
	snprintf(ids, sizeof(ids), "%u\t%u\t%u\t%u", pw->pw_gid, pw->pw_gid,
		 pw->pw_gid, pw->pw_gid);
	CHECK(simenv_status_has(w, "Gid", ids),
	      "worker %d: gids are not "
	      "nobody's",
	      (int)w);
	CHECK(simenv_status_has(w, "CapEff", CAP_NET_ADMIN_ONLY) &&
		      simenv_status_has(w, "CapPrm", CAP_NET_ADMIN_ONLY),
	      "worker %d: capabilities other than CAP_NET_ADMIN", (int)w);
	CHECK(simenv_status_has(w, "Seccomp", "2") &&
		      simenv_status_has(w, "NoNewPrivs", "1"),
	      "worker %d is not under its seccomp filter", (int)w);

	/* Added now: its TAP made by the unprivileged worker. */
	net_add(&s, 1, 1, NULL);
	net_hotplug(&s, 1, 1, HOST_IP "/24");
	net_guest_cfg_init(&c);
	c.devid = 1;
	c.cidr = GUEST_IP "/24";
	net_guest_start(&s, &g, 1, &c);
	CHECK(net_wait_value(&s, "/local/domain/0/backend/vif/1/1/state", "4",
			     10000) == 0,
	      "vif 1/1 added after the drop is not Connected");
	net_traffic_ok(&s, &g, GUEST_IP, HOST_IP, 7200, XFER_BYTES,
		       "vif added after the drop");

	CHECK(kill(w, SIGKILL) == 0, "kill %d", (int)w);
	w2 = nobody_worker(&s, pw->pw_uid, w);
	CHECK(simenv_status_has(w2, "CapEff", CAP_NET_ADMIN_ONLY),
	      "restarted worker %d: capabilities other than CAP_NET_ADMIN",
	      (int)w2);
	net_traffic_ok(&s, &g, GUEST_IP, HOST_IP, 7200, XFER_BYTES,
		       "after the worker was killed");

	CHECK(net_guest_stop(&g) == 0, "the guest failed");
	return net_pass(&s);
}
