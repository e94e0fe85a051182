// SPDX-License-Identifier: MIT
/*
 * A sandboxed worker that makes a syscall outside its allow-list dies in
 * it, and only it: xtestd (the process model of common/daemon.c, sandbox on
 * by default) with --misbehave makes guest 1's worker call ptrace, then
 * execve, at connect, as a worker taken over through its guest would. Each
 * time the worker is killed by SIGSYS before the call returns, the
 * supervisor logs the signal and starts it again; guest 2's worker, under
 * the same filter (Seccomp: 2, NoNewPrivs: 1 in /proc), serves its device
 * throughout and keeps its pid. Once the frontend stops asking for the
 * forbidden call, guest 1's restarted worker connects its device.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/xtscen.h"

static int pipefd[2];

/* A guest that stays connected (its grants with it) until told to go. */
static int guest(void *arg)
{
	struct xt_guest g;
	char c = 'c';

	if (xt_guest_connect(&g, 51712, 1, XT_LINUX))
		return 1;
	if (write(pipefd[1], &c, 1) != 1)
		return 2;
	/* Until the test kills us, or dies itself. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != 1)
		pause();
	return 0;
}

static pid_t worker_pid(pid_t daemon, unsigned int dom)
{
	char cmd[160], out[32] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "pgrep -P %d -f 'xtestd .*--worker %u$' | head -n 1",
		 (int)daemon, dom);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	if (!fgets(out, sizeof(out), p))
		out[0] = '\0';
	pclose(p);
	return (pid_t)atoi(out);
}

/* Lines of the daemon's log matching the extended regexp @re. */
static int log_count(const struct xt_scen *s, const char *re)
{
	char cmd[4400], out[32] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "grep -cE '%s' %s", re, s->log);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (!fgets(out, sizeof(out), p))
		out[0] = '\0';
	pclose(p);
	return atoi(out);
}

/* Wait up to 10 s for more than @n lines matching @re. */
static int log_wait_more(const struct xt_scen *s, const char *re, int n)
{
	for (int i = 0; i < 1000; i++) {
		if (log_count(s, re) > n)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* Set guest 1's xtest-forbidden node (as Dom0); NULL removes it. */
static void forbid(struct xt_scen *s, const char *what)
{
	const char *node = "/local/domain/1/device/xtest/51712/xtest-forbidden";

	if (what)
		CHECK(simenv_sh(&s->env, 0, NULL, 0, "xenstore-write %s %s",
				node, what) == 0,
		      "write %s", node);
	else
		CHECK(simenv_sh(&s->env, 0, NULL, 0, "xenstore-rm %s", node) ==
			      0,
		      "rm %s", node);
}

int main(void)
{
	static const char *killed =
		"worker for domain 1 \\(pid [0-9]+\\) killed by signal 31";
	struct xt_scen s;
	pid_t g1, g2, w2;
	int kills;
	char c;

	xt_start2(&s, 2, NULL, "--misbehave");
	xt_add(&s, 1, 51712);
	xt_add(&s, 2, 51712);
	forbid(&s, "ptrace");
	CHECK(pipe(pipefd) == 0, "pipe");

	/* Guest 2: an ordinary device, served by a sandboxed worker. */
	g2 = simenv_fork_as(&s.env, 2, guest, NULL);
	CHECK(g2 > 0, "fork guest 2");
	CHECK(read(pipefd[0], &c, 1) == 1, "guest 2 did not connect");
	w2 = worker_pid(s.daemon, 2);
	CHECK(w2 > 0, "no worker for guest 2");
	CHECK(simenv_status_has(w2, "Seccomp", "2"),
	      "guest 2's worker is not in seccomp filter mode");
	CHECK(simenv_status_has(w2, "NoNewPrivs", "1"),
	      "guest 2's worker lacks no_new_privs");

	/* Guest 1 connects; its worker calls ptrace at connect and dies. */
	g1 = simenv_fork_as(&s.env, 1, guest, NULL);
	CHECK(g1 > 0, "fork guest 1");
	CHECK(log_wait_more(&s, killed, 0) == 0,
	      "guest 1's worker was not killed by SIGSYS");
	CHECK(log_count(&s, "misbehaving: calling ptrace") > 0,
	      "the worker died elsewhere than in ptrace");

	/* execve: the same end. */
	kills = log_count(&s, killed);
	forbid(&s, "execve");
	CHECK(log_wait_more(&s, "misbehaving: calling execve", 0) == 0,
	      "no worker called execve");
	CHECK(log_wait_more(&s, killed, kills) == 0,
	      "the worker calling execve was not killed");
	CHECK(log_count(&s, "misbehaving: [a-z]+ returned") == 0,
	      "a forbidden syscall returned");

	/* Asked nothing forbidden, the restarted worker connects guest 1. */
	forbid(&s, NULL);
	CHECK(read(pipefd[0], &c, 1) == 1, "guest 1 did not connect");
	CHECK(!strcmp(xt_read(&s, "%s/state", xt_be(1, 51712)) ?: "", "4"),
	      "guest 1's device is not Connected");

	/* Guest 2 was never disturbed. */
	CHECK(worker_pid(s.daemon, 2) == w2, "guest 2's worker was touched");
	CHECK(log_count(&s, "worker for domain 2 .*(killed|exited)") == 0,
	      "guest 2's worker died");
	CHECK(!strcmp(xt_read(&s, "%s/state", xt_be(2, 51712)) ?: "", "4"),
	      "guest 2's device left Connected");

	kill(g1, SIGTERM);
	kill(g2, SIGTERM);
	simenv_wait(g1);
	simenv_wait(g2);
	return TEST_PASS;
}
