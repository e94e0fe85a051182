// SPDX-License-Identifier: MIT
/*
 * xensim-gnt-release-on-exit - a backend that dies holding a grant mapping
 * lets go of it, with the unmap notification gntdev sends on release.
 *
 * Guest 1 (this process) grants a page with a non-zero byte at offset 100
 * and offers an unbound event channel to Dom0. A Dom0 backend process binds
 * the channel, maps the page with xengnttab_map_grant_ref_notify(offset 100,
 * its port) and is killed with SIGKILL, without unmapping or closing. Then:
 * the byte is zero, the guest's port gets the event, and the grant entry has
 * no GTF_reading/GTF_writing left, so ending access is possible.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#include "lib/check.h"
#include "lib/simenv.h"
#include "xensim/simclient.h"

static int to_parent[2], to_child[2];
static uint32_t g_ref, g_port;

static int backend(void *arg)
{
	xengnttab_handle *gt = xengnttab_open(NULL, 0);
	xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
	int lport;
	char *m;

	if (!gt || !xce)
		return 2;
	lport = xenevtchn_bind_interdomain(xce, 1, g_port);
	if (lport < 0)
		return 3;
	m = xengnttab_map_grant_ref_notify(gt, 1, g_ref, PROT_READ | PROT_WRITE,
					   100, (evtchn_port_t)lport);
	if (!m || m[100] != 0x77)
		return 4;
	if (write(to_parent[1], "m", 1) != 1)
		return 5;
	/* Stay alive until the parent has seen the pin, or it may see
	 * the pin already released by our death. */
	if (read(to_child[0], &lport, 1) != 1)
		return 7;
	/* Die without unmapping, unbinding or closing. */
	raise(SIGKILL);
	return 6;
}

int main(void)
{
	static struct simenv env;
	struct pollfd pfd;
	grant_entry_v1_t *gnt;
	xengntshr_handle *gs;
	xenevtchn_handle *xce;
	uint8_t *page;
	int port, st;
	pid_t pid;
	char c;

	if (simenv_up(&env, 1))
		SKIP("cannot start xensim");
	CHECK(!pipe(to_parent) && !pipe(to_child), "pipe");
	simenv_become(&env, 1);
	gs = xengntshr_open(NULL, 0);
	xce = xenevtchn_open(NULL, 0);
	CHECK(gs && xce, "open: %s", strerror(errno));
	page = xengntshr_share_pages(gs, 0, 1, &g_ref, 1);
	CHECK(page, "share: %s", strerror(errno));
	page[100] = 0x77;
	port = xenevtchn_bind_unbound_port(xce, 0);
	CHECK(port > 0, "bind_unbound_port: %s", strerror(errno));
	g_port = (uint32_t)port;
	gnt = simpeek_grant_table(env.dir, 1);
	CHECK(gnt, "cannot look at the grant table");

	pid = simenv_fork_as(&env, 0, backend, NULL);
	CHECK(pid > 0, "fork");
	/* Our copies of the child's ends go, so its death is EOF here. */
	close(to_parent[1]);
	CHECK(read(to_parent[0], &c, 1) == 1, "backend did not map (exit %d)",
	      simenv_wait(pid));
	CHECK(gnt[g_ref].flags & GTF_writing, "mapped, flags %#x",
	      gnt[g_ref].flags);
	CHECK(write(to_child[1], "k", 1) == 1, "cannot tell the backend");
	st = simenv_wait(pid);
	CHECK(st == 128 + SIGKILL, "backend exit %d", st);

	pfd.fd = xenevtchn_fd(xce);
	pfd.events = POLLIN;
	CHECK(poll(&pfd, 1, 5000) == 1, "no unmap event within 5s");
	CHECK(xenevtchn_pending(xce) == port, "event on another port");
	CHECK(page[100] == 0, "notify byte still %#x", page[100]);
	CHECK(!(gnt[g_ref].flags & (GTF_reading | GTF_writing)),
	      "pin left behind, flags %#x", gnt[g_ref].flags);
	CHECK(xengntshr_unshare(gs, page, 1) == 0, "unshare: %s",
	      strerror(errno));
	munmap(gnt, HV_GNT_FRAMES * HV_PAGE_SIZE);
	xenevtchn_close(xce);
	xengntshr_close(gs);
	return TEST_PASS;
}
