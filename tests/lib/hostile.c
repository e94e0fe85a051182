// SPDX-License-Identifier: MIT
/*
 * hostile.c - see hostile.h. The honest guest is a forked process (domain
 * HOSTILE_HONEST) that loops over rounds of pattern writes and read-backs
 * with several requests in flight, direct and indirect, until the test asks
 * it to stop; it reports through a MAP_SHARED page, so the hostile guest
 * (another fork) can see it keeps making progress while the attack runs.
 * Built on lib/blkscen (the host and the daemon) and front/blkfront.
 */
#include "lib/hostile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/xen.h"
#include "lib/check.h"

/* Inherited by both guest processes (set before they are forked). */
static struct hostile_shared *hostile_sh;
/* For the exit handler: a failed test must not leave the guest behind. */
static pid_t hostile_honest_pid, hostile_owner;

static long hostile_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------- the honest guest */

struct honest_job {
	uint64_t off; /* bytes */
	size_t len;
	uint8_t page_off;
	unsigned char *mem, *buf; /* buf: mem + a misalignment */
	int done;
};

/* Sizes of one round: sub-page, odd offsets, 11 segments, indirect. */
static const struct {
	size_t len;
	uint8_t page_off;
} honest_shape[] = {
	{ 512, 5 },   { 4096, 0 },  { 8704, 3 },
	{ 45056, 0 }, { 65536, 0 }, { 127488, 1 },
};
#define HONEST_JOBS (sizeof(honest_shape) / sizeof(honest_shape[0]))

__attribute__((format(printf, 1, 2))) static int honest_fail(const char *fmt,
							     ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(hostile_sh->why, sizeof(hostile_sh->why), fmt, ap);
	va_end(ap);
	fprintf(stderr, "honest guest: %s\n", hostile_sh->why);
	__atomic_store_n(&hostile_sh->failed, 1, __ATOMIC_SEQ_CST);
	return 1;
}

/* Run every job as @op with all of them in flight together. */
static int honest_batch(struct blkfront *bf, uint8_t op, struct honest_job *j)
{
	struct blkfront_done d[16];
	unsigned int next = 0, out = 0;
	long deadline = hostile_now_ms() + 20000;

	for (unsigned int i = 0; i < HONEST_JOBS; i++)
		j[i].done = 0;
	while (next < HONEST_JOBS || out) {
		int got;

		while (next < HONEST_JOBS) {
			struct blkfront_io io = {
				.op = op,
				.page_off = j[next].page_off,
				.sector = j[next].off / 512,
				.buf = j[next].buf,
				.len = j[next].len,
				.cookie = &j[next],
			};
			int rc = blkfront_submit(bf, 0, &io);

			if (rc == -EBUSY)
				break;
			if (rc < 0)
				return honest_fail("submit: %s",
						   blkfront_last_error());
			next++;
			out++;
		}
		if (blkfront_kick(bf, 0) < 0)
			return honest_fail("kick: %s", blkfront_last_error());
		got = blkfront_reap(bf, 0, d, 16, 1000);
		if (got < 0)
			return honest_fail("reap: %s", blkfront_last_error());
		for (int i = 0; i < got; i++) {
			struct honest_job *jb = d[i].cookie;

			if (!jb || jb->done)
				return honest_fail("a completion twice or for "
						   "nothing (id %llu)",
						   (unsigned long long)d[i].id);
			jb->done = 1;
			if (d[i].status)
				return honest_fail(
					"%s of %zu bytes at %llu: status %d "
					"(backend: op %u status %d)",
					op == BLKFRONT_READ ? "read" : "write",
					jb->len, (unsigned long long)jb->off,
					d[i].status, d[i].rsp_op,
					d[i].rsp_status);
		}
		out -= (unsigned int)got;
		if (hostile_now_ms() > deadline)
			return honest_fail("%u requests unanswered for 20 s",
					   out);
	}
	return 0;
}

/* One round: write pattern @seed everywhere, read it back, compare. */
static int honest_round(struct blkfront *bf, struct honest_job *j,
			uint32_t seed)
{
	char why[192];

	for (unsigned int i = 0; i < HONEST_JOBS; i++) {
		j[i].off = (uint64_t)i * (2u << 20) + (seed % 4) * (256u << 10);
		blk_fill(j[i].buf, j[i].len, seed, j[i].off);
	}
	if (honest_batch(bf, BLKFRONT_WRITE, j))
		return 1;
	for (unsigned int i = 0; i < HONEST_JOBS; i++)
		memset(j[i].buf, 0xA5, j[i].len);
	if (honest_batch(bf, BLKFRONT_READ, j))
		return 1;
	for (unsigned int i = 0; i < HONEST_JOBS; i++) {
		long at = blk_diff(j[i].buf, j[i].len, seed, j[i].off);

		if (at >= 0)
			return honest_fail("round %u: %zu bytes at %llu read "
					   "back wrong at byte %ld",
					   seed, j[i].len,
					   (unsigned long long)j[i].off, at);
	}
	if (blkfront_violations(bf, why, sizeof(why)))
		return honest_fail("blkfront invariant broken: %s", why);
	return 0;
}

static int honest_main(void *arg)
{
	struct honest_job j[HONEST_JOBS];
	struct blkfront_cfg cfg;
	struct blkfront *bf;
	int rc;

	for (unsigned int i = 0; i < HONEST_JOBS; i++) {
		j[i].len = honest_shape[i].len;
		j[i].page_off = honest_shape[i].page_off;
		j[i].mem = malloc(j[i].len + 64);
		if (!j[i].mem)
			return honest_fail("malloc");
		j[i].buf = j[i].mem + (i * 7) % 64;
	}
	blkfront_cfg_init(&cfg);
	cfg.max_indirect = 32;
	if (blkfront_connect(&bf, &cfg))
		return honest_fail("connect: %s", blkfront_last_error());
	for (uint32_t seed = 1;; seed++) {
		int last = __atomic_load_n(&hostile_sh->stop, __ATOMIC_SEQ_CST);

		if (honest_round(bf, j, seed))
			return 1;
		__atomic_add_fetch(&hostile_sh->rounds, 1, __ATOMIC_SEQ_CST);
		/* The round that saw the stop was after the attack. */
		if (last)
			break;
	}
	rc = blkfront_close(bf);
	if (rc)
		return honest_fail("close: %s", blkfront_last_error());
	for (unsigned int i = 0; i < HONEST_JOBS; i++)
		free(j[i].mem);
	return 0;
}

/* ------------------------------------------------------- the test side */

static void hostile_atexit(void)
{
	if (getpid() != hostile_owner || hostile_honest_pid <= 0)
		return;
	kill(hostile_honest_pid, SIGKILL);
	simenv_wait(hostile_honest_pid);
	hostile_honest_pid = 0;
}

void hostile_image(struct hostile *h, const char *name, uint64_t bytes,
		   uint32_t seed, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s", blk_image(&h->s, name, bytes, seed));
}

void hostile_start(struct hostile *h, const char *mode, const char *const *sets)
{
	const char *kv[13] = { NULL };
	char img[PATH_MAX];
	long deadline;
	unsigned int n = 0;

	while (sets && sets[n]) {
		CHECK(n < 12, "too many settings");
		kv[n] = sets[n];
		n++;
	}
	/* blk_start stops at the first NULL: the unused ones end the list. */
	blk_start(&h->s, 2, mode, kv[0], kv[1], kv[2], kv[3], kv[4], kv[5],
		  kv[6], kv[7], kv[8], kv[9], kv[10], kv[11], NULL);
	h->sh = mmap(NULL, sizeof(*h->sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(h->sh != MAP_FAILED, "shared page");
	hostile_sh = h->sh;
	hostile_image(h, "honest.img", HOSTILE_DISK_BYTES, 0, img, sizeof(img));
	blk_add(&h->s, "vbd", HOSTILE_HONEST, HOSTILE_DEVID, img, NULL);
	h->honest =
		simenv_fork_as(&h->s.env, HOSTILE_HONEST, honest_main, NULL);
	CHECK(h->honest > 0, "fork the honest guest");
	hostile_honest_pid = h->honest;
	hostile_owner = getpid();
	/* Registered after blkscen's handler: runs before the daemon stops. */
	atexit(hostile_atexit);
	deadline = hostile_now_ms() + 30000;
	while (!h->sh->rounds) {
		CHECK(!h->sh->failed, "honest guest: %s", h->sh->why);
		CHECK(hostile_now_ms() < deadline,
		      "the honest guest did not complete a round in 30 s");
		usleep(10000);
	}
}

void hostile_add(struct hostile *h, unsigned int devid, const char *path,
		 const char *extra)
{
	blk_add(&h->s, "vbd", HOSTILE_GUEST, devid, path, extra);
}

void hostile_guest(struct hostile *h, int (*fn)(void *arg), void *arg)
{
	int st = blk_guest(&h->s, HOSTILE_GUEST, fn, arg);

	CHECK(st == 0, "the hostile guest failed (exit status %d)", st);
}

int hostile_be_state(struct hostile *h, unsigned int devid, unsigned int mask,
		     unsigned int timeout_ms)
{
	long deadline = hostile_now_ms() + timeout_ms;
	const char *v;
	int s;

	for (;;) {
		v = blk_read(&h->s, "%s/state",
			     blk_be("vbd", HOSTILE_GUEST, devid));
		s = v ? atoi(v) : 0;
		if (mask & (1u << s))
			return s;
		CHECK(hostile_now_ms() < deadline,
		      "backend of vbd %u/%u in state %d, want mask 0x%x",
		      HOSTILE_GUEST, devid, s, mask);
		usleep(10000);
	}
}

const char *hostile_error_node(struct hostile *h, unsigned int devid)
{
	return blk_read(&h->s, "/local/domain/0/error/backend/vbd/%u/%u/error",
			HOSTILE_GUEST, devid);
}

void hostile_expect_error_node(struct hostile *h, unsigned int devid,
			       const char *needle)
{
	const char *e = hostile_error_node(h, devid);
	char *end;
	long err;

	CHECK(e, "vbd %u/%u: no error node", HOSTILE_GUEST, devid);
	err = strtol(e, &end, 10);
	CHECK(err > 0 && end != e && *end == ' ',
	      "vbd %u/%u: error node '%s' does not start with '<errno> '",
	      HOSTILE_GUEST, devid, e);
	CHECK(!needle || strstr(e, needle),
	      "vbd %u/%u: error node '%s' does not mention '%s'", HOSTILE_GUEST,
	      devid, e, needle);
	fprintf(stderr, "vbd %u/%u: error node: %s\n", HOSTILE_GUEST, devid, e);
}

void hostile_expect_no_error_node(struct hostile *h, unsigned int devid)
{
	const char *e = hostile_error_node(h, devid);

	CHECK(!e, "vbd %u/%u: unexpected error node '%s'", HOSTILE_GUEST, devid,
	      e);
}

static void hostile_scan_log(struct hostile *h)
{
	static const char *const alarms[] = {
		"Sanitizer",	    "runtime error",	  "(bug)",
		"killed by signal", "exited with status",
	};
	char line[1024];
	FILE *f;

	f = fopen(h->s.log, "r");
	CHECK(f, "open %s", h->s.log);
	while (fgets(line, sizeof(line), f)) {
		for (size_t i = 0; i < sizeof(alarms) / sizeof(alarms[0]); i++)
			CHECK(!strstr(line, alarms[i]),
			      "blkbackd's log says: %s", line);
	}
	fclose(f);
}

const char *hostile_stats(struct hostile *h)
{
	static char out[65536];
	char cmd[PATH_MAX * 2];
	size_t n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s --stats --json --set run-dir=%s",
		 simenv_build("blkbackd"), h->s.env.dir);
	f = popen(cmd, "r");
	CHECK(f, "popen %s", cmd);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	CHECK(pclose(f) == 0, "`%s` failed:\n%s", cmd, out);
	return out;
}

void hostile_check_daemon(struct hostile *h)
{
	int st;

	CHECK(waitpid(h->s.daemon, &st, WNOHANG) == 0,
	      "blkbackd (pid %d) is gone", (int)h->s.daemon);
	hostile_scan_log(h);
}

void hostile_stop_daemon(struct hostile *h)
{
	long deadline = hostile_now_ms() + 15000;
	pid_t r;
	int st = 0;

	/*
	 * Stopped here rather than by blkscen's exit handler, so what it
	 * reports on the way out (LeakSanitizer) is in the log we read.
	 */
	CHECK(kill(h->s.daemon, SIGTERM) == 0, "signal blkbackd");
	while ((r = waitpid(h->s.daemon, &st, WNOHANG)) == 0) {
		if (hostile_now_ms() > deadline) {
			kill(h->s.daemon, SIGKILL);
			CHECK(0, "blkbackd did not stop in 15 s after SIGTERM");
		}
		usleep(10000);
	}
	CHECK(r == h->s.daemon, "wait for blkbackd");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "blkbackd stopped with status 0x%x", st);
	hostile_scan_log(h);
}

int hostile_finish(struct hostile *h)
{
	unsigned long before = h->sh->rounds;
	int st;

	__atomic_store_n(&h->sh->stop, 1, __ATOMIC_SEQ_CST);
	st = simenv_wait(h->honest);
	hostile_honest_pid = 0;
	CHECK(st == 0 && !h->sh->failed, "the honest guest failed: %s",
	      h->sh->why[0] ? h->sh->why : "(no reason given)");
	CHECK(h->sh->rounds > before, "the honest guest did no last round");
	fprintf(stderr, "honest guest: %lu rounds, all read back right\n",
		h->sh->rounds);
	hostile_check_daemon(h);
	hostile_stop_daemon(h);
	return blk_pass(&h->s);
}

void hostile_expect_file(const char *path, uint64_t off, size_t len,
			 uint32_t seed, const char *what)
{
	unsigned char *buf = malloc(len ? len : 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	CHECK(buf && fd >= 0, "open %s", path);
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));

		CHECK(n > 0, "read %s at %llu", path,
		      (unsigned long long)(off + got));
		got += (size_t)n;
	}
	close(fd);
	for (size_t i = 0; i < len; i++) {
		uint8_t want = seed ? blk_pattern(seed, off + i) : 0;

		CHECK(buf[i] == want,
		      "%s: byte %llu of %s is 0x%02x, want 0x%02x", what,
		      (unsigned long long)(off + i), path, buf[i], want);
	}
	free(buf);
}

/* ------------------------------------------------------- the hostile guest */

void hostile_progress(unsigned int n, const char *when)
{
	unsigned long start = hostile_sh->rounds;
	long deadline = hostile_now_ms() + 30000;

	while (hostile_sh->rounds < start + n) {
		CHECK(!hostile_sh->failed, "%s: the honest guest failed: %s",
		      when, hostile_sh->why);
		CHECK(hostile_now_ms() < deadline,
		      "%s: the honest guest made no progress for 30 s", when);
		usleep(2000);
	}
}

struct blkfront *hostile_connect(unsigned int devid,
				 const struct blkfront_cfg *cfg)
{
	struct blkfront_cfg c;
	struct blkfront *bf;

	if (cfg) {
		c = *cfg;
	} else {
		blkfront_cfg_init(&c);
	}
	c.devid = devid;
	CHECK(blkfront_connect(&bf, &c) == 0, "connect vbd %u: %s", devid,
	      blkfront_last_error());
	return bf;
}

void hostile_no_violations(struct blkfront *bf, const char *when)
{
	char why[192];
	unsigned long n = blkfront_violations(bf, why, sizeof(why));

	CHECK(n == 0, "%s: %lu blkfront invariant violation(s), last: %s", when,
	      n, why);
}

void hostile_page(struct blkfront *bf, unsigned int q, struct hostile_page *p)
{
	void *addr;

	p->idx = blkfront_page_get(bf, q, &addr, &p->gref);
	CHECK(p->idx >= 0, "page: %s", blkfront_last_error());
	p->addr = addr;
}

static int hostile_sync(struct blkfront *bf, unsigned int q, uint8_t op,
			uint64_t sector, void *buf, size_t len)
{
	struct blkfront_io io = {
		.op = op,
		.sector = sector,
		.buf = buf,
		.len = len,
	};

	return blkfront_sync(bf, q, &io, 20000);
}

int hostile_read(struct blkfront *bf, unsigned int q, uint64_t sector,
		 void *buf, size_t len)
{
	return hostile_sync(bf, q, BLKFRONT_READ, sector, buf, len);
}

void hostile_rw_ok(struct blkfront *bf, unsigned int q, uint64_t sector,
		   size_t len, uint32_t seed)
{
	unsigned char *buf = malloc(len);
	long at;
	int rc;

	CHECK(buf, "malloc");
	blk_fill(buf, len, seed, sector * 512);
	rc = hostile_sync(bf, q, BLKFRONT_WRITE, sector, buf, len);
	CHECK(rc == 0, "good write of %zu bytes at sector %llu: %d (%s)", len,
	      (unsigned long long)sector, rc, blkfront_last_error());
	memset(buf, 0x5A, len);
	rc = hostile_sync(bf, q, BLKFRONT_READ, sector, buf, len);
	CHECK(rc == 0, "good read of %zu bytes at sector %llu: %d (%s)", len,
	      (unsigned long long)sector, rc, blkfront_last_error());
	at = blk_diff(buf, len, seed, sector * 512);
	CHECK(at < 0, "good read at sector %llu: byte %ld wrong",
	      (unsigned long long)sector, at);
	free(buf);
	hostile_no_violations(bf, "good I/O");
}

void hostile_req(struct ring_blkif_req *r, uint8_t op, uint64_t sector,
		 unsigned int nseg, const uint32_t *grefs, unsigned int ngrefs,
		 uint8_t first, uint8_t last)
{
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->nr_segments = (uint16_t)nseg;
	r->sector_number = sector;
	for (unsigned int i = 0; i < nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST;
	     i++) {
		r->seg[i].gref = ngrefs ? grefs[i % ngrefs] : 0;
		r->seg[i].first_sect = first;
		r->seg[i].last_sect = last;
	}
}

static uint8_t hostile_expect_op(const struct ring_blkif_req *r)
{
	return r->op == BLKIF_OP_INDIRECT ? r->indirect_op : r->op;
}

void hostile_run(struct blkfront *bf, unsigned int q, struct hostile_req *v,
		 unsigned int n)
{
	struct blkfront_done d[64];
	unsigned int next = 0, pending = 0;
	long deadline = hostile_now_ms() + 20000;

	for (unsigned int i = 0; i < n; i++)
		v[i].done = 0;
	while (next < n || pending) {
		int got;

		while (next < n) {
			int id = blkfront_put_raw(bf, q, &v[next].r, &v[next],
						  0);

			if (id == -EBUSY)
				break;
			CHECK(id >= 0, "put '%s': %s", v[next].what,
			      blkfront_last_error());
			v[next].r.id = (uint64_t)id;
			next++;
			pending++;
		}
		CHECK(blkfront_kick(bf, q) >= 0, "kick: %s",
		      blkfront_last_error());
		got = blkfront_reap(bf, q, d, 64, 200);
		CHECK(got >= 0, "reap: %s", blkfront_last_error());
		for (int i = 0; i < got; i++) {
			struct hostile_req *hr = d[i].cookie;

			CHECK(d[i].raw && hr >= v && hr < v + n,
			      "a completion that is none of ours (id %llu)",
			      (unsigned long long)d[i].id);
			CHECK(!hr->done, "'%s' answered twice", hr->what);
			hr->done = 1;
			hr->status = d[i].rsp_status;
			hr->op = d[i].rsp_op;
			pending--;
		}
		if (hostile_now_ms() > deadline) {
			for (unsigned int i = 0; i < next; i++)
				CHECK(v[i].done, "'%s' unanswered after 20 s",
				      v[i].what);
		}
	}
	for (unsigned int i = 0; i < n; i++) {
		CHECK(v[i].op == hostile_expect_op(&v[i].r),
		      "'%s': response op %u, want %u", v[i].what, v[i].op,
		      hostile_expect_op(&v[i].r));
		CHECK(v[i].want == HOSTILE_ANY || v[i].status == v[i].want,
		      "'%s': status %d, want %d", v[i].what, v[i].status,
		      v[i].want);
	}
	hostile_no_violations(bf, "raw requests");
}

/* ------------------------------------------------------- ring by hand */

unsigned char *hostile_ring_slot(struct ring_blkif_front *rf, uint32_t idx)
{
	return ring_slot_(rf->f.sring, rf->f.nr_ents, rf->f.slot_size, idx);
}

uint32_t hostile_ring_put(struct ring_blkif_front *rf,
			  const struct ring_blkif_req *r)
{
	uint32_t idx = rf->f.req_prod_pvt;

	CHECK(ring_blkif_front_put_req(rf, r) == 0, "ring full");
	return idx;
}

void hostile_ring_push(struct blkfront *bf, unsigned int q)
{
	struct ring_blkif_front *rf = blkfront_ring(bf, q);

	ring_front_push_req(&rf->f);
	/* Whatever req_event says: the test does not want to wait on it. */
	CHECK(blkfront_notify(bf, q) == 0, "notify: %s", blkfront_last_error());
}

unsigned int hostile_ring_wait(struct ring_blkif_front *rf,
			       struct ring_blkif_rsp *out, unsigned int n,
			       int timeout_ms)
{
	long deadline = hostile_now_ms() + timeout_ms;
	unsigned int have = 0;

	while (have < n) {
		int got = ring_blkif_front_fetch_rsp(rf, out + have, n - have);

		CHECK(got >= 0,
		      "the backend published more responses than "
		      "requests (rsp_prod %u, %u consumed, %u requests)",
		      rf->f.sring->rsp_prod, rf->f.rsp_cons, rf->f.req_pushed);
		have += (unsigned int)got;
		if (have == n || hostile_now_ms() > deadline)
			break;
		/* No event channel here: poll, the ring is all we look at. */
		if (!got && ring_front_final_check(&rf->f) == 0)
			usleep(100);
	}
	return have;
}

/* ------------------------------------------------------- handshake by hand */

void hostile_fe_open(struct hostile_fe *fe, unsigned int devid,
		     unsigned int order, enum ring_blkif_abi abi)
{
	unsigned int pages = 1u << order;
	int s;

	memset(fe, 0, sizeof(*fe));
	fe->order = order;
	CHECK(xfront_open(&fe->f, "vbd", devid) == 0, "open device/vbd/%u",
	      devid);
	s = xfront_wait_be(&fe->f, XF_STATE(2), 10000);
	CHECK(s == 2, "vbd %u: backend state %d, not InitWait", devid, s);
	CHECK(xen_gntshr_open(&fe->gs) == 0, "gntshr");
	CHECK(xen_gntshr_share(fe->gs, fe->f.be_domid, pages, 1, fe->refs,
			       &fe->ring) == 0,
	      "share %u ring pages", pages);
	CHECK(ring_blkif_front_init(&fe->rf, fe->ring, pages, abi) == 0,
	      "ring init");
	CHECK(xen_evtchn_open(&fe->xe) == 0, "evtchn");
	fe->port = xen_evtchn_alloc_unbound(fe->xe, fe->f.be_domid);
	CHECK(fe->port >= 0, "unbound port: %d", fe->port);
}

void hostile_fe_keys(struct hostile_fe *fe, const char *const *edits)
{
	static const char *const proto[] = {
		[RING_BLKIF_ABI_NATIVE] = XEN_IO_PROTO_ABI_NATIVE,
		[RING_BLKIF_ABI_X86_32] = XEN_IO_PROTO_ABI_X86_32,
		[RING_BLKIF_ABI_X86_64] = XEN_IO_PROTO_ABI_X86_64,
	};
	unsigned int pages = 1u << fe->order;
	xen_txn_t t;
	int rc;

	do {
		CHECK(xen_store_txn_start(fe->f.xs, &t) == 0, "txn");
		rc = 0;
		if (pages > 1)
			rc = xfront_write(&fe->f, t, "ring-page-order", "%u",
					  fe->order);
		for (unsigned int i = 0; i < pages && !rc; i++) {
			char k[32];

			if (pages == 1)
				snprintf(k, sizeof(k), "ring-ref");
			else
				snprintf(k, sizeof(k), "ring-ref%u", i);
			rc = xfront_write(&fe->f, t, k, "%u", fe->refs[i]);
		}
		rc = rc
			     ?: xfront_write(&fe->f, t, "event-channel", "%d",
					     fe->port);
		rc = rc
			     ?: xfront_write(&fe->f, t, "protocol", "%s",
					     proto[fe->rf.abi]);
		for (unsigned int i = 0; edits && edits[i] && !rc; i++) {
			char k[128], p[400];
			const char *eq;

			if (edits[i][0] == '-') {
				snprintf(p, sizeof(p), "%s/%s", fe->f.fe_path,
					 edits[i] + 1);
				rc = xen_store_rm(fe->f.xs, t, p);
				if (rc == -ENOENT)
					rc = 0;
				continue;
			}
			eq = strchr(edits[i], '=');
			CHECK(eq && (size_t)(eq - edits[i]) < sizeof(k),
			      "edit '%s'", edits[i]);
			snprintf(k, sizeof(k), "%.*s", (int)(eq - edits[i]),
				 edits[i]);
			rc = xfront_write(&fe->f, t, k, "%s", eq + 1);
		}
		if (rc) {
			xen_store_txn_end(fe->f.xs, t, 1);
			CHECK(0, "write the frontend keys: %s", strerror(-rc));
		}
		rc = xen_store_txn_end(fe->f.xs, t, 0);
	} while (rc == -EAGAIN);
	CHECK(rc == 0, "commit the frontend keys: %s", strerror(-rc));
}

void hostile_fe_state(struct hostile_fe *fe, int state)
{
	CHECK(xfront_set_state(&fe->f, state) == 0, "write state %d", state);
}

int hostile_fe_wait(struct hostile_fe *fe, unsigned int mask,
		    unsigned int timeout_ms)
{
	return xfront_wait_be(&fe->f, mask | XF_STATE(0), timeout_ms);
}

void hostile_fe_close(struct hostile_fe *fe)
{
	xen_evtchn_close(fe->xe);
	fe->xe = NULL;
	if (fe->ring)
		xen_gntshr_unshare(fe->gs, fe->ring, 1u << fe->order);
	fe->ring = NULL;
	xen_gntshr_close(fe->gs);
	fe->gs = NULL;
	xfront_close(&fe->f);
}
