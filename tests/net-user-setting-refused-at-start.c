// SPDX-License-Identifier: MIT
/*
 * netbackd's workers create their vifs' TAP devices, which takes
 * CAP_NET_ADMIN: a worker dropped to user= could serve no vif, and every
 * guest would find out through an error node. So netbackd refuses user=
 * at start, exit status 2, with one line naming the key and the reason,
 * before it touches xenstore or its run directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/check.h"
#include "lib/simenv.h"

int main(void)
{
	char dir[] = "/tmp/pvback-user.XXXXXX", cmd[PATH_MAX * 3], out[1024];
	size_t n;
	FILE *f;
	int st;

	CHECK(mkdtemp(dir), "mkdtemp");
	/* No xensim: a daemon that went on would fail later, differently. */
	snprintf(cmd, sizeof(cmd),
		 "timeout 10 %s --single --set user=nobody --set run-dir=%s/run "
		 "2>&1", simenv_build("netbackd"), dir);
	f = popen(cmd, "r");
	CHECK(f, "popen");
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	st = pclose(f);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2,
	      "netbackd with user=nobody: status %#x, said: %s", st, out);
	CHECK(strstr(out, "user") && strstr(out, "CAP_NET_ADMIN") &&
		      strchr(out, '\n') == out + strlen(out) - 1,
	      "not one line naming the key and the reason: %s", out);
	CHECK(access(dir, F_OK) == 0 && rmdir(dir) == 0,
	      "netbackd created something in its run directory's parent");
	return 0;
}
