// SPDX-License-Identifier: MIT
/*
 * testpmd.c - see testpmd.h. testpmd runs non-interactive: it forwards
 * until its stdin reaches end of file (it waits for "enter" there), then
 * prints its statistics and exits.
 */
#include "lib/testpmd.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/netscen.h"

#define TESTPMD "dpdk-testpmd"

/* For the exit handler: the caller's struct may be gone by then. */
static pid_t testpmd_running;
static char testpmd_log[PATH_MAX];

/* Still running at exit: the test failed on the way; show its log. */
static void testpmd_atexit(void)
{
	char cmd[PATH_MAX + 64];

	if (testpmd_running <= 0)
		return;
	kill(testpmd_running, SIGKILL);
	waitpid(testpmd_running, NULL, 0);
	testpmd_running = 0;
	snprintf(cmd, sizeof(cmd),
		 "tail -n 40 %s | sed 's/^/    testpmd: /' >&2", testpmd_log);
	if (system(cmd) != 0)
		fprintf(stderr, "(no testpmd log)\n");
}

void testpmd_require(void)
{
#ifndef PVBACK_HAVE_DPDK
	SKIP("netbackd built without DPDK (no libdpdk-dev at build time)");
#else
	if (system("command -v " TESTPMD " >/dev/null 2>&1") != 0)
		SKIP(TESTPMD " is not installed (Debian: dpdk-dev)");
#endif
}

/* The last CPU this process may run on. */
static int last_cpu(void)
{
	cpu_set_t set;
	int last = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			last = c;
	return last;
}

void testpmd_start(struct testpmd *t, const char *sock, const char *fwd,
		   const char *log)
{
	char lcores[64], vdev[PATH_MAX + 64], prefix[64], mode[64];
	int in[2], out;
	pid_t pid;

	snprintf(t->log, sizeof(t->log), "%s", log);
	/* Both lcores on one CPU: the main one only waits on stdin. */
	snprintf(lcores, sizeof(lcores), "--lcores=(0,1)@%d", last_cpu());
	snprintf(vdev, sizeof(vdev),
		 "--vdev=net_vhost0,iface=%s,client=1,"
		 "queues=1",
		 sock);
	snprintf(prefix, sizeof(prefix), "--file-prefix=pvbtest-%d",
		 (int)getpid());
	snprintf(mode, sizeof(mode), "--forward-mode=%s", fwd);
	CHECK(pipe2(in, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	CHECK(out >= 0, "%s: %s", log, strerror(errno));
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (!pid) {
		const char *argv[] = {
			TESTPMD,
			lcores,
			"--no-pci",
			"--no-shconf",
			"--no-huge",
			"-m",
			"512",
			prefix,
			"--no-telemetry",
			vdev,
			"--",
			mode,
			"--port-topology=loop",
			"--nb-cores=1",
			"--rxd=256",
			"--txd=256",
			"--total-num-mbufs=4096",
			NULL,
		};

		dup2(in[0], 0);
		dup2(out, 1);
		dup2(out, 2);
		execvp(TESTPMD, (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out);
	t->pid = pid;
	t->in = in[1];
	if (!testpmd_log[0])
		atexit(testpmd_atexit);
	snprintf(testpmd_log, sizeof(testpmd_log), "%s", log);
	testpmd_running = pid;
}

int testpmd_stop(struct testpmd *t)
{
	struct timespec ts = { 0, 50 * 1000000 };
	int st;

	if (t->pid <= 0)
		return -1;
	close(t->in);
	for (int i = 0; i < 200; i++) {
		pid_t r = waitpid(t->pid, &st, WNOHANG);

		if (r == t->pid) {
			t->pid = 0;
			testpmd_running = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		}
		nanosleep(&ts, NULL);
	}
	kill(t->pid, SIGKILL);
	waitpid(t->pid, NULL, 0);
	t->pid = 0;
	testpmd_running = 0;
	return -1;
}

long long testpmd_rx_packets(const struct testpmd *t)
{
	char line[512];
	long long n = -1;
	FILE *f = fopen(t->log, "r");

	if (!f)
		return -1;
	while (n < 0 && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "RX-packets:");

		if (p)
			n = strtoll(p + 11, NULL, 10);
	}
	fclose(f);
	return n;
}

void testpmd_serve_vif(struct testpmd *t, struct net_scen *s,
		       unsigned int domid, unsigned int devid, const char *fwd)
{
	char sock[PATH_MAX + 32], log[PATH_MAX + 32], p[160];
	int i;

	snprintf(sock, sizeof(sock), "%s/vhost/vif%u.%u", s->env.dir, domid,
		 devid);
	snprintf(log, sizeof(log), "%s/testpmd.log", s->env.dir);
	testpmd_start(t, sock, fwd, log);
	snprintf(p, sizeof(p), "%s/hotplug-status", net_be(domid, devid));
	net_write(s, p, "connected");
	for (i = 0; i < 300 && !net_log_count(s, "vhost-user switch connected");
	     i++)
		usleep(100 * 1000);
	CHECK(i < 300, "testpmd did not connect to %s in 30 s", sock);
}
