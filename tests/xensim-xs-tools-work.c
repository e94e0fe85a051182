// SPDX-License-Identifier: MIT
/*
 * xensim-xs-tools-work - Debian's xenstore-* tools work unchanged against
 * xensim's xenstored.
 *
 * As Dom0: xenstore-write several pairs, -read them, -exists, -list and -ls
 * show them, -rm removes one (then -read and -exists fail). As guest 1:
 * relative paths land in its home. A directory too big for one DIRECTORY
 * reply (libxenstore then falls back to DIRECTORY_PART) lists completely.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "lib/check.h"
#include "lib/simenv.h"

int main(void)
{
	static char out[65536];
	static struct simenv env; /* simenv_up() hands it to atexit */
	struct xs_handle *xs;
	unsigned int num, i;
	char path[128];
	char **dir;
	int rc;

	if (simenv_up(&env, 1))
		SKIP("cannot start xensim");

	rc = simenv_sh(&env, 0, out, sizeof(out),
		       "xenstore-write /tools/a one /tools/b/c two");
	CHECK(rc == 0, "xenstore-write: rc %d %s", rc, out);
	rc = simenv_sh(&env, 0, out, sizeof(out),
		       "xenstore-read /tools/a /tools/b/c");
	CHECK(rc == 0 && !strcmp(out, "one\ntwo"), "xenstore-read: rc %d '%s'",
	      rc, out);
	rc = simenv_sh(&env, 0, NULL, 0, "xenstore-exists /tools/b/c");
	CHECK(rc == 0, "xenstore-exists: rc %d", rc);
	rc = simenv_sh(&env, 0, out, sizeof(out), "xenstore-list /tools");
	CHECK(rc == 0 && !strcmp(out, "a\nb"), "xenstore-list: rc %d '%s'", rc,
	      out);
	rc = simenv_sh(&env, 0, out, sizeof(out), "xenstore-ls /tools");
	CHECK(rc == 0 && strstr(out, "a = \"one\"") &&
		      strstr(out, "c = \"two\""),
	      "xenstore-ls: rc %d '%s'", rc, out);
	rc = simenv_sh(&env, 0, out, sizeof(out), "xenstore-rm /tools/b");
	CHECK(rc == 0, "xenstore-rm: rc %d '%s'", rc, out);
	rc = simenv_sh(&env, 0, NULL, 0,
		       "xenstore-read /tools/b/c 2>/dev/null");
	CHECK(rc != 0, "removed node still read");
	rc = simenv_sh(&env, 0, NULL, 0,
		       "xenstore-exists /tools/b 2>/dev/null");
	CHECK(rc != 0, "removed node still exists");

	/* A guest's relative paths are under /local/domain/1. */
	rc = simenv_sh(&env, 1, out, sizeof(out),
		       "xenstore-write data/rel yes && xenstore-read "
		       "/local/domain/1/data/rel");
	CHECK(rc == 0 && !strcmp(out, "yes"), "guest relative: rc %d '%s'", rc,
	      out);

	/* 300 children of 28 characters: about 8.7 KiB of names. */
	simenv_become(&env, 0);
	xs = xs_open(0);
	CHECK(xs, "xs_open: %s", strerror(errno));
	for (i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "/big/child-%022u", i);
		CHECK(xs_write(xs, XBT_NULL, path, "", 0), "write %s: %s", path,
		      strerror(errno));
	}
	dir = xs_directory(xs, XBT_NULL, "/big", &num);
	CHECK(dir && num == 300, "big directory: %u entries (%s)",
	      dir ? num : 0, dir ? "" : strerror(errno));
	for (i = 0; i < num; i++) {
		snprintf(path, sizeof(path), "child-%022u", i);
		CHECK(!strcmp(dir[i], path), "entry %u is %s", i, dir[i]);
	}
	free(dir);
	rc = simenv_sh(&env, 0, out, sizeof(out), "xenstore-list /big | wc -l");
	CHECK(rc == 0 && atoi(out) == 300, "xenstore-list /big: rc %d '%s'", rc,
	      out);

	xs_close(xs);
	simenv_down(&env);
	return TEST_PASS;
}
