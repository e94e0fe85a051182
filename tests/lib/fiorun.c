// SPDX-License-Identifier: MIT
/*
 * fiorun.c - see fiorun.h. fio runs through simenv_sh (`xensim run`), the
 * counters come from `blkbackd --stats --json`. Both reports are read with
 * a small key scanner rather than a JSON parser: their producers are fixed
 * (Debian 12's fio 3.33, blk_dump_stats in blkback/xenbus.c) and the keys
 * read here are unique where they are looked for.
 */
#include "lib/fiorun.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "lib/blkscen.h"
#include "lib/check.h"

/* Messages fio prints for a block that does not hold what it wrote. */
static const char *const fiorun_corrupt[] = {
	"verify: bad",
	"bad magic",
	"crc32c: verify failed",
};

/* All of the file at @path (malloc'd, NUL-terminated), or NULL. */
static char *fiorun_slurp(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "r"), *m;
	char chunk[4096];
	size_t n;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &len);
	if (!m) {
		fclose(f);
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(f);
	if (fclose(m)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * The value of the first member "@key" in [@p, @end): a pointer to what
 * follows its colon, or NULL. A string equal to @key that is not followed
 * by a colon (a value) is skipped.
 */
static const char *fiorun_key(const char *p, const char *end, const char *key)
{
	size_t klen = strlen(key);

	while (p && p < end) {
		const char *q;

		p = memmem(p, (size_t)(end - p), "\"", 1);
		if (!p)
			return NULL;
		p++;
		if ((size_t)(end - p) > klen && !strncmp(p, key, klen) &&
		    p[klen] == '"') {
			q = p + klen + 1;
			while (q < end && (*q == ' ' || *q == '\t'))
				q++;
			if (q < end && *q == ':') {
				q++;
				while (q < end && (*q == ' ' || *q == '\t'))
					q++;
				return q;
			}
		}
		/* Step over the rest of this string. */
		p = memchr(p, '"', (size_t)(end - p));
		if (p)
			p++;
	}
	return NULL;
}

/* The unsigned integer member "@key" in [@p, @end). 0/-ENOENT. */
static int fiorun_uint(const char *p, const char *end, const char *key,
		       unsigned long long *v)
{
	const char *q = fiorun_key(p, end, key);
	char *e;

	if (!q || q >= end || *q < '0' || *q > '9')
		return -ENOENT;
	errno = 0;
	*v = strtoull(q, &e, 10);
	return errno || e > end ? -ENOENT : 0;
}

/*
 * Add up the members of the flat object of unsigned integers that is the
 * value of "@key" in [@p, @end). 0/-ENOENT.
 */
static int fiorun_sum(const char *p, const char *end, const char *key,
		      unsigned long long *sum)
{
	const char *q = fiorun_key(p, end, key), *close;

	if (!q || *q != '{')
		return -ENOENT;
	close = memchr(q, '}', (size_t)(end - q));
	if (!close)
		return -ENOENT;
	*sum = 0;
	for (q++; q < close;) {
		char *e;

		q = memchr(q, ':', (size_t)(close - q));
		if (!q)
			break;
		q++;
		while (*q == ' ')
			q++;
		if (*q < '0' || *q > '9')
			return -ENOENT;
		*sum += strtoull(q, &e, 10);
		q = e;
	}
	return 0;
}

/* Read the first job of fio's JSON report in @text into @r. 0/-ENOENT. */
static int fiorun_report(const char *text, struct fiorun_result *r)
{
	const char *start, *end, *jobs, *rd, *wr;

	/* fio prints the report as a "{" line ... a "}" line. */
	if (!strncmp(text, "{\n", 2))
		start = text;
	else if ((start = strstr(text, "\n{\n")))
		start++;
	else
		return -ENOENT;
	end = strstr(start, "\n}");
	if (!end)
		return -ENOENT;
	jobs = fiorun_key(start, end, "jobs");
	if (!jobs || *jobs != '[')
		return -ENOENT;
	rd = fiorun_key(jobs, end, "read");
	wr = fiorun_key(jobs, end, "write");
	if (!rd || !wr || *rd != '{' || *wr != '{')
		return -ENOENT;
	if (fiorun_uint(jobs, end, "error", &r->error) ||
	    fiorun_uint(rd, end, "io_bytes", &r->read_bytes) ||
	    fiorun_uint(wr, end, "io_bytes", &r->write_bytes))
		return -ENOENT;
	return 0;
}

static int fiorun_fail(struct fiorun_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return -EIO;
}

int fiorun_run(const struct simenv *env, unsigned int domid,
	       const char *engine_so, const char *tag, const char *opts,
	       struct fiorun_result *r)
{
	char *text, *line;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	snprintf(r->out, sizeof(r->out), "%s/fio-%s.out", env->dir, tag);
	/* In the instance directory: fio saves its verify state in the cwd. */
	r->status = simenv_sh(env, domid, NULL, 0,
			      "cd %s && fio --ioengine=external:%s "
			      "--output-format=normal,json %s >%s 2>&1",
			      env->dir, engine_so, opts, r->out);
	text = fiorun_slurp(r->out);
	if (!text)
		return fiorun_fail(r,
				   "fio (%s) exited with %d, no output in %s",
				   tag, r->status, r->out);
	r->report = !fiorun_report(text, r);
	/* The most specific reason first: a bad block explains an exit 1. */
	for (size_t i = 0; i < sizeof(fiorun_corrupt) / sizeof(*fiorun_corrupt);
	     i++) {
		line = strcasestr(text, fiorun_corrupt[i]);
		if (line) {
			rc = fiorun_fail(r,
					 "fio (%s) found a corrupt block: "
					 "%.100s",
					 tag, line);
			goto out;
		}
	}
	line = strstr(text, "pvback-blkfront:");
	if (line) {
		rc = fiorun_fail(r, "the engine complained (%s): %.100s", tag,
				 line);
		goto out;
	}
	if (r->status != 0)
		rc = fiorun_fail(r, "fio (%s) exited with %d", tag, r->status);
	else if (!r->report)
		rc = fiorun_fail(r, "fio (%s) printed no JSON report", tag);
	else if (r->error)
		rc = fiorun_fail(r, "fio (%s) reported error %llu", tag,
				 r->error);
out:
	/* Keep a message to one line. */
	line = strchr(r->why, '\n');
	if (line)
		*line = '\0';
	free(text);
	return rc;
}

void fiorun_show(const struct fiorun_result *r)
{
	char cmd[PATH_MAX + 128];

	/* The report is fio's text again, as numbers: leave it out. */
	snprintf(cmd, sizeof(cmd), "sed '/^{$/,/^}$/d; s/^/    fio: /' %s >&2",
		 r->out);
	if (system(cmd) != 0)
		fprintf(stderr, "(no fio output in %s)\n", r->out);
}

void fiorun_check(const struct simenv *env, unsigned int domid,
		  const char *engine_so, const char *tag, const char *opts,
		  struct fiorun_result *r)
{
	if (!fiorun_run(env, domid, engine_so, tag, opts, r))
		return;
	fiorun_show(r);
	CHECK(0, "%s", r->why);
}

/* Add the counters of one queue, [@p, @end), to @b. 0/-EIO. */
static int fiorun_queue(const char *p, const char *end,
			struct fiorun_backend *b)
{
	unsigned long long idx, reqs, ir, iw, sr, sw, errs, pm, ph;
	const char *rq = fiorun_key(p, end, "requests");

	if (!rq || fiorun_uint(p, end, "queue", &idx) ||
	    idx >= FIORUN_MAX_QUEUES || fiorun_sum(p, end, "requests", &reqs) ||
	    fiorun_uint(rq, end, "indirect_read", &ir) ||
	    fiorun_uint(rq, end, "indirect_write", &iw) ||
	    fiorun_uint(p, end, "sectors_read", &sr) ||
	    fiorun_uint(p, end, "sectors_written", &sw) ||
	    fiorun_sum(p, end, "errors", &errs) ||
	    fiorun_uint(p, end, "persistent_maps", &pm) ||
	    fiorun_uint(p, end, "persistent_hits", &ph))
		return -EIO;
	if (idx + 1 > b->queues)
		b->queues = (unsigned int)idx + 1;
	b->queue_requests[idx] += reqs;
	b->requests += reqs;
	b->indirect_read += ir;
	b->indirect_write += iw;
	b->sectors_read += sr;
	b->sectors_written += sw;
	b->errors += errs;
	b->persistent_maps += pm;
	b->persistent_hits += ph;
	return 0;
}

int fiorun_backend(const struct simenv *env, const char *dev,
		   struct fiorun_backend *b)
{
	char cmd[PATH_MAX * 2 + 64], key[160], chunk[4096];
	char *out = NULL;
	const char *p, *end, *next;
	size_t len = 0, n;
	FILE *pipe, *m;
	int st, rc = 0;

	memset(b, 0, sizeof(*b));
	m = open_memstream(&out, &len);
	if (!m)
		return -ENOMEM;
	snprintf(cmd, sizeof(cmd), "%s --stats --json --set run-dir=%s 2>&1",
		 simenv_build("blkbackd"), env->dir);
	pipe = popen(cmd, "r");
	if (!pipe) {
		fclose(m);
		free(out);
		return -errno;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), pipe)) > 0)
		fwrite(chunk, 1, n, m);
	st = pclose(pipe);
	if (fclose(m)) {
		free(out);
		return -ENOMEM;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		rc = -ENOENT;
		goto out;
	}
	/* The closing quote: vbd/1/5171 must not match vbd/1/51712. */
	snprintf(key, sizeof(key), "{\"device\":\"%s\"", dev);
	p = strstr(out, key);
	if (!p) {
		rc = -ENOENT;
		goto out;
	}
	end = strstr(p + 1, "{\"device\":");
	if (!end)
		end = out + len;
	/*
	 * The store path before the queues may hold quotes (escaped), which
	 * the key scanner would pair wrongly: look for the literal instead.
	 */
	p = strstr(p, "\"queues\":[");
	if (!p || p >= end) {
		rc = -EIO;
		goto out;
	}
	for (p = strstr(p, "{\"queue\":"); p && p < end; p = next) {
		next = strstr(p + 1, "{\"queue\":");
		rc = fiorun_queue(p, next && next < end ? next : end, b);
		if (rc)
			break;
	}
out:
	free(out);
	return rc;
}

int fiorun_each_engine(int (*scenario)(const char *engine, const char *so),
		       const char *what)
{
	static const char *const engines[] = { "uring", "aio" };
	const char *so;

	blk_require_daemon();
	so = blk_require_fio_engine();
	for (unsigned int i = 0; i < 2; i++) {
		pid_t pid;
		int st;

		fflush(NULL);
		pid = fork();
		CHECK(pid >= 0, "fork");
		if (pid == 0)
			exit(scenario(engines[i], so));
		st = simenv_wait(pid);
		CHECK(st == 0, "engine=%s: %s failed (exit %d)", engines[i],
		      what, st);
	}
	return TEST_PASS;
}
