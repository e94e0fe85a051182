// SPDX-License-Identifier: MIT
/*
 * The configuration file and the command-line overrides: values land in the
 * right fields, an override beats the file, and every bad line is refused
 * with a message naming the file, the line, the key and what was wanted.
 */
#include "common/cfg.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"

struct conf {
	char types[64];
	unsigned int queues;
	int persistent;
	int engine;
};

static const char *const engines[] = { "uring", "aio", "null", NULL };

static const struct cfg_key keys[] = {
	{ "backend-types", CFG_STR, offsetof(struct conf, types), 64, 0, 0,
	  NULL, "xenstore backend kinds to claim" },
	{ "queues", CFG_UINT, offsetof(struct conf, queues), 0, 1, 64, NULL,
	  "queues per device" },
	{ "persistent-grants", CFG_BOOL, offsetof(struct conf, persistent), 0,
	  0, 0, NULL, "offer feature-persistent" },
	{ "engine", CFG_ENUM, offsetof(struct conf, engine), 0, 0, 0, engines,
	  "I/O engine" },
	CFG_END,
};

static const char *write_conf(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	strcpy(path, "/tmp/pvback-cfg.XXXXXX");
	fd = mkstemp(path);
	CHECK(fd >= 0, "mkstemp");
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void expect_error(const char *text, const char *want1, const char *want2)
{
	struct conf c = { 0 };
	char err[256] = "";
	const char *p = write_conf(text);
	int rc = cfg_load(keys, &c, p, err, sizeof(err));

	unlink(p);
	CHECK(rc < 0, "'%s' accepted", text);
	CHECK(strstr(err, want1) && strstr(err, want2),
	      "error '%s' lacks '%s' / '%s'", err, want1, want2);
}

int main(void)
{
	struct conf c = { "vbd", 1, 1, 0 };
	char err[256];
	const char *p;

	p = write_conf("# blkbackd\n\nbackend-types = vbd3 vbd  # both\n"
		       "queues=4\npersistent-grants = no\nengine = aio\n");
	CHECK(cfg_load(keys, &c, p, err, sizeof(err)) == 0, "%s", err);
	unlink(p);
	CHECK(!strcmp(c.types, "vbd3 vbd"), "types '%s'", c.types);
	CHECK(c.queues == 4 && c.persistent == 0 && c.engine == 1,
	      "queues %u persistent %d engine %d", c.queues, c.persistent,
	      c.engine);

	CHECK(cfg_set_arg(keys, &c, "queues=2", err, sizeof(err)) == 0, "%s",
	      err);
	CHECK(c.queues == 2, "override ignored");

	expect_error("queues = 4\nengin = uring\n",
		     ":2:", "unknown key 'engin'");
	expect_error("queues = 65\n", ":1:", "1..64");
	expect_error("queues = 4k\n", "'queues'", "want a number");
	expect_error("queues = -1\n", "'queues'", "want a number");
	expect_error("engine = spdk\n", "'engine'", "uring, aio, null");
	expect_error("persistent-grants = maybe\n", "'persistent-grants'",
		     "yes or no");
	expect_error("just words\n", ":1:", "key = value");
	expect_error(
		"backend-types = "
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		"'backend-types'", "longer than 63");

	CHECK(cfg_set_arg(keys, &c, "queues", err, sizeof(err)) == -EINVAL,
	      "override without '=' accepted");
	CHECK(strstr(err, "command line"), "error '%s' lacks its origin", err);
	CHECK(cfg_load(keys, &c, "/nonexistent/pvback.conf", err,
		       sizeof(err)) == -ENOENT,
	      "missing file not -ENOENT");
	CHECK(strstr(err, "/nonexistent/pvback.conf"),
	      "error '%s' lacks the path", err);
	return TEST_PASS;
}
