// SPDX-License-Identifier: MIT
/*
 * xenstored goes away under a running blkbackd (supervisor + a worker
 * serving guest 1's disk). libxenstore closes its socket without a word,
 * so nothing fires: the daemon must notice on its own, log why, and have
 * supervisor and worker exit (a service manager restarts it) instead of
 * sleeping forever on a dead connection.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/blkscen.h"
#include "lib/check.h"

int main(void)
{
	struct blk_scen s;
	char path[4200], cmd[4400];
	FILE *f;
	pid_t sim = 0, worker = 0;
	int i, gone = 0;

	blk_require_daemon();
	blk_start(&s, 1, NULL, NULL);
	blk_add(&s, "vbd", 1, 51712, blk_image(&s, "d.img", 1 << 20, 0), NULL);
	for (i = 0; i < 500 && !(worker = blk_worker_pid(&s, 1)); i++)
		usleep(10000);
	CHECK(worker > 0, "no worker for guest 1");

	snprintf(path, sizeof(path), "%s/xensimd.pid", s.env.dir);
	f = fopen(path, "r");
	CHECK(f && fscanf(f, "%d", &sim) == 1 && sim > 0, "xensimd pid");
	fclose(f);
	CHECK(kill(sim, SIGKILL) == 0, "kill xensimd: %s", strerror(errno));

	/* The check runs every second: allow a few, on a loaded machine. */
	/* WNOWAIT: the scaffolding reaps it at exit. */
	for (i = 0; i < 1000; i++) {
		siginfo_t si = { 0 };

		if (!waitid(P_PID, (id_t)s.daemon, &si,
			    WEXITED | WNOHANG | WNOWAIT) &&
		    si.si_pid == s.daemon) {
			gone = 1;
			break;
		}
		usleep(10000);
	}
	CHECK(gone, "blkbackd still running 10 s after xenstored died");
	/* The supervisor reaps its workers before it exits. */
	CHECK(kill(worker, 0) == -1 && errno == ESRCH,
	      "guest 1's worker outlived xenstored");
	snprintf(cmd, sizeof(cmd), "grep -q 'xenstore connection lost' %s",
		 s.log);
	CHECK(system(cmd) == 0, "the loss was not logged");
	return blk_pass(&s);
}
