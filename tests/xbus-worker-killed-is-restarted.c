// SPDX-License-Identifier: MIT
/*
 * The process model: one worker per guest. Killing guest 1's worker with
 * SIGKILL gets it reaped, logged with the signal, and restarted; the new
 * worker takes guest 1's device back (Connected again, the frontend's ring
 * and event channel re-attached), while guest 2's worker keeps its pid and
 * its device stays Connected throughout.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/xtscen.h"

static int pipefd[2];

/* A guest that stays alive (its grants with it) until told to go. */
static int guest(void *arg)
{
	struct xt_guest g;
	char c = 'c';

	if (xt_guest_connect(&g, 51712, 1, XT_LINUX))
		return 1;
	if (write(pipefd[1], &c, 1) != 1)
		return 2;
	pause();
	return 0;
}

static pid_t worker_pid(unsigned int dom)
{
	char cmd[128], out[32] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "pgrep -f 'xtestd .*--worker %u$' | head -n 1", dom);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	if (!fgets(out, sizeof(out), p))
		out[0] = '\0';
	pclose(p);
	return (pid_t)atoi(out);
}

int main(void)
{
	struct xt_scen s;
	pid_t g1, g2, w1, w2, w1b = 0;
	char c, cmd[4200];
	int i;

	xt_start(&s, 2, NULL);
	xt_add(&s, 1, 51712);
	xt_add(&s, 2, 51712);
	CHECK(pipe(pipefd) == 0, "pipe");
	g1 = simenv_fork_as(&s.env, 1, guest, NULL);
	g2 = simenv_fork_as(&s.env, 2, guest, NULL);
	CHECK(read(pipefd[0], &c, 1) == 1 && read(pipefd[0], &c, 1) == 1,
	      "the guests did not connect");
	w1 = worker_pid(1);
	w2 = worker_pid(2);
	CHECK(w1 > 0 && w2 > 0 && w1 != w2, "workers %d %d", (int)w1, (int)w2);

	CHECK(kill(w1, SIGKILL) == 0, "kill");
	for (i = 0; i < 500 && (w1b == 0 || w1b == w1); i++) {
		usleep(10000);
		w1b = worker_pid(1);
	}
	CHECK(w1b > 0 && w1b != w1, "guest 1's worker was not restarted");
	CHECK(xt_wait_value(&s, "/local/domain/0/backend/xtest/1/51712/state",
			    "4", 5000) == 0,
	      "guest 1's device not Connected after the restart");
	snprintf(cmd, sizeof(cmd),
		 "grep -q 'worker for domain 1 (pid %d) killed by signal 9' %s",
		 (int)w1, s.log);
	CHECK(system(cmd) == 0, "the death was not logged with its signal");
	snprintf(cmd, sizeof(cmd),
		 "grep -c 'xtest/1/51712: connected' %s | grep -qx 2", s.log);
	CHECK(system(cmd) == 0, "the new worker did not re-attach the rings");
	CHECK(worker_pid(2) == w2, "guest 2's worker was touched");
	CHECK(!strcmp(xt_read(&s, "%s/state", xt_be(2, 51712)) ?: "", "4"),
	      "guest 2's device left Connected");
	kill(g1, SIGTERM);
	kill(g2, SIGTERM);
	simenv_wait(g1);
	simenv_wait(g2);
	return TEST_PASS;
}
