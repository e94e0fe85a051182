// SPDX-License-Identifier: MIT
/*
 * A guest-triggered message goes through a rate limiter: at most
 * LOG_RL_BURST lines per LOG_RL_INTERVAL_MS, and the first line after a
 * suppressed stretch counts what was dropped. Checked with an explicit clock,
 * then through the real output path on a pipe.
 */
#include "common/log.h"

#include <string.h>
#include <unistd.h>

#include "lib/check.h"

int main(void)
{
	struct log_rl rl = { 0 };
	char buf[8192];
	uint32_t a;
	int i, fds[2], lines;
	ssize_t n;

	/* Explicit clock: a burst, then silence, then a count. */
	for (i = 0; i < LOG_RL_BURST; i++)
		CHECK(log_rl_admit(&rl, 1000 + i) == 1, "message %d refused",
		      i);
	for (i = 0; i < 25; i++)
		CHECK(log_rl_admit(&rl, 2000) == 0,
		      "message past the burst admitted");
	a = log_rl_admit(&rl, 1000 + LOG_RL_INTERVAL_MS);
	CHECK(a == 26, "after the window: %u, want 25 suppressed + 1", a);
	CHECK(log_rl_admit(&rl, 1001 + LOG_RL_INTERVAL_MS) == 1,
	      "second message of the new window refused");

	/* Real output: burst lines plus nothing, one line per message. */
	CHECK(pipe(fds) == 0, "pipe");
	CHECK(dup2(fds[1], STDERR_FILENO) == STDERR_FILENO, "dup2");
	log_setup("test", LOG_TO_STDERR, LOGL_INFO);
	memset(&rl, 0, sizeof(rl));
	for (i = 0; i < 100; i++)
		log_rl_warn(&rl, "vbd/1/51712", "bad request %d", i);
	log_debug("vbd/1/51712", "not printed at info level");
	close(fds[1]);
	close(STDERR_FILENO);
	n = read(fds[0], buf, sizeof(buf) - 1);
	CHECK(n > 0, "nothing logged");
	buf[n] = '\0';
	for (i = 0, lines = 0; i < n; i++)
		lines += buf[i] == '\n';
	CHECK(lines == LOG_RL_BURST, "%d lines, want %d:\n%s", lines,
	      LOG_RL_BURST, buf);
	CHECK(strstr(buf, "warn: vbd/1/51712: bad request 0\n"),
	      "prefix or level missing:\n%s", buf);
	CHECK(!strstr(buf, "bad request 10"), "11th line printed");
	CHECK(!strstr(buf, "not printed"), "debug line printed at info");
	return TEST_PASS;
}
