// SPDX-License-Identifier: MIT
/*
 * `blkbackd --stats --json` counts exactly what the guest did. A guest
 * runs known I/O on a connected disk (direct and indirect reads and
 * writes of known sizes, one discard, one request with an unknown op, one
 * read past the end) and stops; while it waits, the test runs
 * `blkbackd --stats --json --set run-dir=DIR` against the daemon
 * (--single, same run-dir). The output must be valid JSON (checked by a
 * strict parser here) whose counters for that device match: requests by
 * class, sectors read and written, errors by cause, nothing in flight, and
 * one latency sample per request. The text form names the device and its
 * store.
 *
 * Then the guest connects a second disk whose image path holds a double
 * quote and a backslash (legal in a file name): the JSON must stay valid
 * and carry that path exactly.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "front/blkfront.h"
#include "lib/blkscen.h"
#include "lib/blkscen2.h"
#include "lib/check.h"

#define KIB 1024u
#define DISK_BYTES (8ull << 20)
#define XVDA 51712
#define XVDB 51728

/* ------------------------------------------------- a strict JSON parser */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jtype t;
	int b;
	int integral; /* J_NUM: a non-negative integer */
	unsigned long long u;
	char *s;	/* J_STR */
	unsigned int n; /* J_ARR, J_OBJ */
	struct jv *kids;
	char **keys; /* J_OBJ */
};

struct jp {
	const char *p;
	const char *err;
};

static void jws(struct jp *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		j->p++;
}

static int jfail(struct jp *j, const char *why)
{
	if (!j->err)
		j->err = why;
	return -1;
}

static int jstr(struct jp *j, char **out)
{
	size_t cap = 16, n = 0;
	char *s = malloc(cap);

	CHECK(s, "malloc");
	if (*j->p++ != '"')
		return jfail(j, "string expected");
	for (;;) {
		unsigned char c = (unsigned char)*j->p++;
		unsigned int cp = 0;

		if (n + 5 > cap) {
			cap *= 2;
			s = realloc(s, cap);
			CHECK(s, "realloc");
		}
		if (c == '"')
			break;
		if (c < 0x20)
			return jfail(j, "raw control character or end in a "
					"string");
		if (c != '\\') {
			s[n++] = (char)c;
			continue;
		}
		c = (unsigned char)*j->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			s[n++] = (char)c;
			break;
		case 'b':
			s[n++] = '\b';
			break;
		case 'f':
			s[n++] = '\f';
			break;
		case 'n':
			s[n++] = '\n';
			break;
		case 'r':
			s[n++] = '\r';
			break;
		case 't':
			s[n++] = '\t';
			break;
		case 'u':
			for (int i = 0; i < 4; i++) {
				char h = *j->p++;

				cp <<= 4;
				if (h >= '0' && h <= '9')
					cp |= (unsigned int)(h - '0');
				else if (h >= 'a' && h <= 'f')
					cp |= (unsigned int)(h - 'a' + 10);
				else if (h >= 'A' && h <= 'F')
					cp |= (unsigned int)(h - 'A' + 10);
				else
					return jfail(j, "bad \\u escape");
			}
			/* Enough for the ASCII our paths hold. */
			if (cp < 0x80) {
				s[n++] = (char)cp;
			} else if (cp < 0x800) {
				s[n++] = (char)(0xC0 | (cp >> 6));
				s[n++] = (char)(0x80 | (cp & 0x3F));
			} else {
				s[n++] = (char)(0xE0 | (cp >> 12));
				s[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
				s[n++] = (char)(0x80 | (cp & 0x3F));
			}
			break;
		default:
			return jfail(j, "bad escape in a string");
		}
	}
	s[n] = '\0';
	*out = s;
	return 0;
}

static int jnum(struct jp *j, struct jv *v)
{
	const char *start = j->p;
	int neg = 0, frac = 0;

	if (*j->p == '-') {
		neg = 1;
		j->p++;
	}
	if (*j->p == '0') {
		j->p++;
	} else if (*j->p >= '1' && *j->p <= '9') {
		while (*j->p >= '0' && *j->p <= '9')
			j->p++;
	} else {
		return jfail(j, "bad number");
	}
	if (*j->p == '.') {
		frac = 1;
		j->p++;
		if (!(*j->p >= '0' && *j->p <= '9'))
			return jfail(j, "bad fraction");
		while (*j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (*j->p == 'e' || *j->p == 'E') {
		frac = 1;
		j->p++;
		if (*j->p == '+' || *j->p == '-')
			j->p++;
		if (!(*j->p >= '0' && *j->p <= '9'))
			return jfail(j, "bad exponent");
		while (*j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	v->t = J_NUM;
	v->integral = !neg && !frac;
	v->u = v->integral ? strtoull(start, NULL, 10) : 0;
	return 0;
}

static int jval(struct jp *j, struct jv *v, int depth);

static int jlist(struct jp *j, struct jv *v, int obj, int depth)
{
	char close = obj ? '}' : ']';
	unsigned int cap = 0;

	j->p++;
	jws(j);
	if (*j->p == close) {
		j->p++;
		return 0;
	}
	for (;;) {
		if (v->n == cap) {
			cap = cap ? 2 * cap : 8;
			v->kids = realloc(v->kids, cap * sizeof(*v->kids));
			v->keys = realloc(v->keys, cap * sizeof(*v->keys));
			CHECK(v->kids && v->keys, "realloc");
		}
		v->keys[v->n] = NULL;
		jws(j);
		if (obj) {
			if (jstr(j, &v->keys[v->n]))
				return -1;
			jws(j);
			if (*j->p++ != ':')
				return jfail(j, "':' expected");
		}
		if (jval(j, &v->kids[v->n], depth + 1))
			return -1;
		v->n++;
		jws(j);
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p++ == close)
			return 0;
		return jfail(j, obj ? "',' or '}' expected"
				    : "',' or ']' expected");
	}
}

static int jval(struct jp *j, struct jv *v, int depth)
{
	memset(v, 0, sizeof(*v));
	if (depth > 32)
		return jfail(j, "nested too deep");
	jws(j);
	switch (*j->p) {
	case '{':
		v->t = J_OBJ;
		return jlist(j, v, 1, depth);
	case '[':
		v->t = J_ARR;
		return jlist(j, v, 0, depth);
	case '"':
		v->t = J_STR;
		return jstr(j, &v->s);
	case 't':
	case 'f':
	case 'n':
		if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "null", 4)) {
			v->t = *j->p == 't' ? J_BOOL : J_NULL;
			v->b = 1;
			j->p += 4;
			return 0;
		}
		if (!strncmp(j->p, "false", 5)) {
			v->t = J_BOOL;
			j->p += 5;
			return 0;
		}
		return jfail(j, "bad literal");
	default:
		return jnum(j, v);
	}
}

/* Parse all of @text or exit saying where and why it is not JSON. */
static void json_parse(const char *text, struct jv *v)
{
	struct jp j = { .p = text };
	const char *end = text + strlen(text);

	if (!jval(&j, v, 0)) {
		jws(&j);
		if (*j.p)
			jfail(&j, "text after the value");
	}
	/* A failure may have stepped over the final NUL. */
	if (j.p > end)
		j.p = end;
	CHECK(!j.err,
	      "not valid JSON: %s at offset %ld (\"%.40s\"); the "
	      "output was:\n%s",
	      j.err, (long)(j.p - text), j.p, text);
}

static void jfree(struct jv *v)
{
	for (unsigned int i = 0; i < v->n; i++) {
		jfree(&v->kids[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->kids);
	free(v->keys);
	free(v->s);
}

static const struct jv *jget(const struct jv *o, const char *key)
{
	for (unsigned int i = 0; o && o->t == J_OBJ && i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return &o->kids[i];
	return NULL;
}

/* The integer at @o.@key.@sub (@sub may be NULL), or exit. */
static unsigned long long jnum_at(const struct jv *o, const char *key,
				  const char *sub)
{
	const struct jv *v = jget(o, key);

	if (sub)
		v = jget(v, sub);
	CHECK(v && v->t == J_NUM && v->integral, "no integer at %s%s%s", key,
	      sub ? "." : "", sub ? sub : "");
	return v->u;
}

/* ----------------------------------------------------------- the guest */

static int to_parent[2], to_guest[2];
static char img_b[PATH_MAX];

/* The I/O the test expects to see counted. */
static const struct {
	uint8_t op;
	uint64_t sector;
	size_t len;
} ios[] = {
	{ BLKFRONT_READ, 0, 4 * KIB },
	{ BLKFRONT_READ, 100, 8 * KIB },
	{ BLKFRONT_READ, 7, 512 },
	{ BLKFRONT_READ, 2048, 44 * KIB },
	{ BLKFRONT_READ, 4095, 1 * KIB },
	{ BLKFRONT_WRITE, 4096, 4 * KIB },
	{ BLKFRONT_WRITE, 5000, 3584 },
	{ BLKFRONT_WRITE, 6000, 44 * KIB },
	{ BLKFRONT_READ, 8192, 128 * KIB },	  /* indirect */
	{ BLKFRONT_WRITE, 9000, 64 * KIB + 512 }, /* indirect */
	{ BLKFRONT_DISCARD, 10240, 64 * KIB },
};
#define NIOS (sizeof(ios) / sizeof(ios[0]))
#define WANT_READ 6 /* 5 above and the one past the end */
#define WANT_WRITE 3
#define WANT_SECT_READ ((4 + 8 + 0.5 + 44 + 1 + 128) * 2)
#define WANT_SECT_WRITTEN ((4 + 3.5 + 44 + 64.5) * 2)
#define WANT_TOTAL (NIOS + 2) /* + the bad op and the read past the end */

static void sync_point(char c)
{
	char got;

	CHECK(write(to_parent[1], &c, 1) == 1, "tell the parent");
	CHECK(read(to_guest[0], &got, 1) == 1, "wait for the parent");
}

static int guest(void *arg)
{
	static uint8_t buf[128 * KIB];
	struct blkfront_cfg cfg;
	struct blkfront *a, *b;
	struct blkfront_done d;
	struct ring_blkif_req bad = { .op = 200, .handle = XVDA };
	struct blkfront_io io;

	close(to_parent[0]);
	close(to_guest[1]);
	blkfront_cfg_init(&cfg);
	cfg.devid = XVDA;
	cfg.max_indirect = 256;
	a = blk2_connect(&cfg);
	for (unsigned int i = 0; i < NIOS; i++) {
		io = (struct blkfront_io){
			.op = ios[i].op,
			.sector = ios[i].sector,
			.buf = buf,
			.len = ios[i].len,
		};
		if (ios[i].op == BLKFRONT_WRITE)
			blk_fill(buf, ios[i].len, 17, ios[i].sector * 512);
		CHECK(blk2_do(a, 0, &io, &d) == 0,
		      "request %u (op %u): status %d", i, ios[i].op,
		      d.rsp_status);
	}
	blk2_do_raw(a, 0, &bad, &d);
	CHECK(d.rsp_status == BLKIF_RSP_EOPNOTSUPP && d.rsp_op == 200,
	      "op 200: status %d op %u", d.rsp_status, d.rsp_op);
	io = (struct blkfront_io){
		.op = BLKFRONT_READ,
		.sector = DISK_BYTES / 512 - 4,
		.buf = buf,
		.len = 4 * KIB,
	};
	blk2_do(a, 0, &io, &d);
	CHECK(d.rsp_status == BLKIF_RSP_ERROR, "read past the end: status %d",
	      d.rsp_status);
	blk2_no_violations(a, "disk A");
	sync_point('a');

	cfg.devid = XVDB;
	b = blk2_connect(&cfg);
	io = (struct blkfront_io){
		.op = BLKFRONT_WRITE,
		.sector = 8,
		.buf = buf,
		.len = 4 * KIB,
	};
	CHECK(blk2_do(b, 0, &io, &d) == 0, "write to disk B");
	sync_point('b');
	CHECK(blkfront_close(b) == 0 && blkfront_close(a) == 0, "close: %s",
	      blkfront_last_error());
	return 0;
}

/* ------------------------------------------------------------ the host */

/* Run `blkbackd --stats [--json]` on our run-dir; its output (malloc'd). */
static char *stats(struct blk_scen *s, int json)
{
	char cmd[PATH_MAX * 2 + 64], *out = NULL;
	size_t len = 0, n;
	char chunk[4096];
	FILE *p, *m = open_memstream(&out, &len);
	int st;

	CHECK(m, "memstream");
	snprintf(cmd, sizeof(cmd), "%s --stats%s --set run-dir=%s",
		 simenv_build("blkbackd"), json ? " --json" : "", s->env.dir);
	p = popen(cmd, "r");
	CHECK(p, "popen %s", cmd);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		fwrite(chunk, 1, n, m);
	st = pclose(p);
	fclose(m);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "`%s` failed (%d):\n%s",
	      cmd, st, out);
	return out;
}

static const struct jv *find_device(const struct jv *top, const char *name)
{
	CHECK(top->t == J_ARR, "the JSON is not an array of devices");
	for (unsigned int i = 0; i < top->n; i++) {
		const struct jv *dv = jget(&top->kids[i], "device");

		if (dv && dv->t == J_STR && !strcmp(dv->s, name))
			return &top->kids[i];
	}
	CHECK(0, "no device %s in the JSON", name);
	return NULL;
}

static void check_counts(struct blk_scen *s, const char *img_a)
{
	static const struct {
		const char *name;
		unsigned long long want;
	} classes[] =
		{
			{"read", WANT_READ},   {"write", WANT_WRITE},
			{"flush", 0},	       {"barrier", 0},
			{"discard", 1},	       {"indirect_read", 1},
			{"indirect_write", 1}, {"other", 1},
		},
	  errors[] = {
		  {"bad_op", 1},    {"bad_segments", 0}, {"bad_range", 1},
		  {"read_only", 0}, {"grant", 0},	 {"io", 0},
	  };
	char *out = stats(s, 1), *text;
	const struct jv *dev, *qs, *q, *lat, *st;
	unsigned long long total = 0, samples = 0;
	struct jv top;

	fprintf(stderr, "stats --json: %s", out);
	json_parse(out, &top);
	dev = find_device(&top, "vbd/1/51712");
	st = jget(dev, "store");
	CHECK(st && st->t == J_STR && !strcmp(st->s, img_a),
	      "store of vbd/1/51712: %s, want %s", st && st->s ? st->s : "?",
	      img_a);
	CHECK(jnum_at(dev, "sectors", NULL) == DISK_BYTES / 512, "sectors");
	qs = jget(dev, "queues");
	CHECK(qs && qs->t == J_ARR && qs->n == 1, "queues: want one");
	q = &qs->kids[0];
	for (unsigned int i = 0; i < sizeof(classes) / sizeof(classes[0]);
	     i++) {
		unsigned long long v = jnum_at(q, "requests", classes[i].name);

		CHECK(v == classes[i].want, "requests.%s = %llu, want %llu",
		      classes[i].name, v, classes[i].want);
		total += v;
	}
	CHECK(total == WANT_TOTAL, "requests in all: %llu, want %u", total,
	      (unsigned int)WANT_TOTAL);
	CHECK(jnum_at(q, "sectors_read", NULL) ==
		      (unsigned long long)WANT_SECT_READ,
	      "sectors_read = %llu, want %u", jnum_at(q, "sectors_read", NULL),
	      (unsigned int)WANT_SECT_READ);
	CHECK(jnum_at(q, "sectors_written", NULL) ==
		      (unsigned long long)WANT_SECT_WRITTEN,
	      "sectors_written = %llu, want %u",
	      jnum_at(q, "sectors_written", NULL),
	      (unsigned int)WANT_SECT_WRITTEN);
	for (unsigned int i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		unsigned long long v = jnum_at(q, "errors", errors[i].name);

		CHECK(v == errors[i].want, "errors.%s = %llu, want %llu",
		      errors[i].name, v, errors[i].want);
	}
	CHECK(jnum_at(q, "inflight", NULL) == 0, "inflight = %llu",
	      jnum_at(q, "inflight", NULL));
	lat = jget(q, "latency_us_log2");
	CHECK(lat && lat->t == J_ARR, "latency_us_log2: an array expected");
	for (unsigned int i = 0; i < lat->n; i++) {
		CHECK(lat->kids[i].t == J_NUM && lat->kids[i].integral,
		      "latency bucket %u", i);
		samples += lat->kids[i].u;
	}
	CHECK(samples == WANT_TOTAL,
	      "%llu latency samples for %u requests answered", samples,
	      (unsigned int)WANT_TOTAL);
	jfree(&top);
	free(out);

	text = stats(s, 0);
	fprintf(stderr, "stats: %s", text);
	CHECK(strstr(text, "vbd/1/51712"),
	      "the text form does not name "
	      "vbd/1/51712:\n%s",
	      text);
	CHECK(strstr(text, img_a),
	      "the text form does not name the store "
	      "%s:\n%s",
	      img_a, text);
	free(text);
}

/* The second disk's odd path comes back exactly, in valid JSON. */
static void check_odd_path(struct blk_scen *s)
{
	char *out = stats(s, 1);
	const struct jv *st;
	struct jv top;

	fprintf(stderr, "stats --json: %s", out);
	json_parse(out, &top);
	st = jget(find_device(&top, "vbd/1/51728"), "store");
	CHECK(st && st->t == J_STR && !strcmp(st->s, img_b),
	      "store of vbd/1/51728: \"%s\", want \"%s\"",
	      st && st->s ? st->s : "?", img_b);
	find_device(&top, "vbd/1/51712");
	jfree(&top);
	free(out);
}

int main(void)
{
	struct blk_scen s;
	char img_a[PATH_MAX], quoted[PATH_MAX + 4], c;
	pid_t g;

	blk_start(&s, 1, "--single", NULL);
	snprintf(img_a, sizeof(img_a), "%s",
		 blk_image(&s, "a.img", DISK_BYTES, 9));
	/* A double quote and a backslash: JSON must escape both. */
	snprintf(img_b, sizeof(img_b), "%s",
		 blk_image(&s, "odd\"name\\b.img", DISK_BYTES, 0));
	snprintf(quoted, sizeof(quoted), "'%s'", img_b);
	blk_add(&s, "vbd", 1, XVDA, img_a, NULL);
	blk_add(&s, "vbd", 1, XVDB, quoted, NULL);
	CHECK(pipe(to_parent) == 0 && pipe(to_guest) == 0, "pipes");
	g = simenv_fork_as(&s.env, 1, guest, NULL);
	CHECK(g > 0, "fork the guest");
	close(to_parent[1]);
	close(to_guest[0]);

	CHECK(read(to_parent[0], &c, 1) == 1 && c == 'a',
	      "the guest did not finish its I/O");
	check_counts(&s, img_a);
	CHECK(write(to_guest[1], "x", 1) == 1, "resume the guest");

	CHECK(read(to_parent[0], &c, 1) == 1 && c == 'b',
	      "the guest did not connect its second disk");
	check_odd_path(&s);
	CHECK(write(to_guest[1], "x", 1) == 1, "resume the guest");
	CHECK(simenv_wait(g) == 0, "guest failed");
	return blk_pass(&s);
}
