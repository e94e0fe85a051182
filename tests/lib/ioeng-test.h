/* SPDX-License-Identifier: MIT */
/*
 * blk-ioeng.h - what the tests/blk-ioeng-*.c programs share: scratch
 * backing stores (a file under /var/tmp, O_DIRECT where the filesystem
 * takes it; a loop device over such a file), an engine instance with its
 * arena, and reaping with an epoll on ->event_fd() that checks every tag
 * comes back exactly once. Everything fails the test through CHECK(); a
 * missing loop device or engine is a skip, which the caller decides on.
 *
 * /var/tmp rather than /tmp: /tmp may be tmpfs, which refuses O_DIRECT and
 * turns kernel AIO synchronous.
 */
#ifndef PVBACK_TESTS_BLK_IOENG_H
#define PVBACK_TESTS_BLK_IOENG_H

#include "blkback/ioeng.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "lib/check.h"

#define TB_REAP_TIMEOUT_MS 20000

static const char *const tb_engines[] = { "uring", "aio", "null" };
#define TB_NR_ENGINES 3u

struct tb_store {
	int fd;
	int is_blkdev;
	int direct; /* opened with O_DIRECT */
	uint64_t size;
	char dev[64]; /* the loop device, if any */
};

struct tb_eng {
	const struct ioeng_ops *ops;
	struct ioeng *e;
	unsigned char *arena;
	size_t arena_len;
	int ep; /* epoll on ops->event_fd(e) */
};

static inline uint64_t tb_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static inline uint64_t tb_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline void tb_fill(void *p, size_t len, uint64_t *seed)
{
	unsigned char *b = p;

	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = tb_rand(seed);

		memcpy(b + i, &v, len - i < 8 ? len - i : 8);
	}
}

static inline int tb_all_zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/* A new file of @size bytes under /var/tmp; *@path_out keeps its name. */
static inline void tb_new_file(uint64_t size, char *path, size_t path_len)
{
	int fd;

	snprintf(path, path_len, "/var/tmp/pvback-ioeng-XXXXXX");
	fd = mkstemp(path);
	CHECK(fd >= 0, "mkstemp %s: %s", path, strerror(errno));
	CHECK(ftruncate(fd, (off_t)size) == 0, "ftruncate: %s",
	      strerror(errno));
	close(fd);
}

static inline int tb_open_direct(const char *path, int flags, int *direct)
{
	int fd = open(path, flags | O_DIRECT | O_CLOEXEC);

	*direct = fd >= 0;
	if (fd < 0 && errno == EINVAL)
		fd = open(path, flags | O_CLOEXEC);
	return fd;
}

/*
 * A scratch file of @size bytes (sparse: reads zeros), opened with @flags
 * (O_RDWR, O_RDONLY) and O_DIRECT when accepted, already unlinked.
 */
static inline void tb_file(struct tb_store *st, uint64_t size, int flags)
{
	char path[64];

	memset(st, 0, sizeof(*st));
	tb_new_file(size, path, sizeof(path));
	st->fd = tb_open_direct(path, flags, &st->direct);
	CHECK(st->fd >= 0, "open %s: %s", path, strerror(errno));
	unlink(path);
	st->size = size;
}

/*
 * A scratch file in /dev/shm of @size bytes, opened O_RDWR, unlinked; the
 * test is skipped unless it is on tmpfs and refuses RWF_NOWAIT (the case
 * the uring engine copies inline).
 */
static inline void tb_shm_file(struct tb_store *st, uint64_t size)
{
	char path[64] = "/dev/shm/pvback-ioeng-XXXXXX";
	struct statfs sf;
	struct iovec iov;
	char byte;
	int fd;

	memset(st, 0, sizeof(*st));
	fd = mkstemp(path);
	if (fd < 0)
		SKIP("no /dev/shm: %s", strerror(errno));
	unlink(path);
	CHECK(fstatfs(fd, &sf) == 0, "fstatfs: %s", strerror(errno));
	if (sf.f_type != TMPFS_MAGIC)
		SKIP("/dev/shm is not tmpfs");
	CHECK(ftruncate(fd, (off_t)size) == 0, "ftruncate: %s",
	      strerror(errno));
	iov.iov_base = &byte;
	iov.iov_len = 1;
	if (preadv2(fd, &iov, 1, 0, RWF_NOWAIT) >= 0 || errno != EOPNOTSUPP)
		SKIP("this kernel's tmpfs takes RWF_NOWAIT");
	st->fd = fd;
	st->size = size;
}

/*
 * A loop device over a scratch file of @size bytes, opened O_RDWR and
 * O_DIRECT. Returns -1 (nothing left behind) when no loop device can be
 * had: not root, no losetup, no free device. The device is set to
 * autoclear, so it goes away when this process exits however it exits.
 */
static inline int tb_loop(struct tb_store *st, uint64_t size)
{
	struct loop_info64 li;
	char path[64], cmd[160];
	FILE *p;
	size_t n;

	memset(st, 0, sizeof(*st));
	st->fd = -1;
	if (geteuid() != 0)
		return -1;
	tb_new_file(size, path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "losetup -f --show %s 2>/dev/null", path);
	p = popen(cmd, "r");
	if (!p || !fgets(st->dev, sizeof(st->dev), p)) {
		if (p)
			pclose(p);
		unlink(path);
		return -1;
	}
	pclose(p);
	n = strlen(st->dev);
	if (n && st->dev[n - 1] == '\n')
		st->dev[n - 1] = 0;
	unlink(path);
	st->fd = tb_open_direct(st->dev, O_RDWR, &st->direct);
	if (st->fd >= 0 && ioctl(st->fd, LOOP_GET_STATUS64, &li) == 0) {
		li.lo_flags |= LO_FLAGS_AUTOCLEAR;
		if (ioctl(st->fd, LOOP_SET_STATUS64, &li) == 0) {
			st->is_blkdev = 1;
			st->size = size;
			return 0;
		}
	}
	fprintf(stderr, "%s: %s\n", st->dev, strerror(errno));
	if (st->fd >= 0)
		close(st->fd);
	snprintf(cmd, sizeof(cmd), "losetup -d %s 2>/dev/null", st->dev);
	if (system(cmd) != 0)
		fprintf(stderr, "%s left attached\n", st->dev);
	st->fd = -1;
	return -1;
}

static inline void tb_store_close(struct tb_store *st)
{
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
}

/*
 * An instance of engine @name over @st with a page-aligned arena of
 * @arena_len bytes. Returns -1 when the engine is not available here
 * (-ENOSYS, or io_uring disabled by sysctl: -EPERM).
 */
static inline int tb_eng_open(struct tb_eng *t, const char *name,
			      const struct tb_store *st, unsigned int depth,
			      size_t arena_len)
{
	struct ioeng_cfg cfg;
	struct epoll_event ev;
	void *arena;
	int ret;

	memset(t, 0, sizeof(*t));
	t->ops = ioeng_find(name);
	CHECK(t->ops && !strcmp(t->ops->name, name), "ioeng_find(%s)", name);
	CHECK(posix_memalign(&arena, 4096, arena_len) == 0, "arena");
	memset(arena, 0, arena_len);
	t->arena = arena;
	t->arena_len = arena_len;
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = st->fd;
	cfg.is_blkdev = st->is_blkdev;
	cfg.depth = depth;
	cfg.buf = arena;
	cfg.buf_len = arena_len;
	ret = t->ops->create(&cfg, &t->e);
	if (ret == -ENOSYS || ret == -EPERM) {
		printf("%s: not available here (%s)\n", name, strerror(-ret));
		free(arena);
		return -1;
	}
	CHECK(ret == 0 && t->e, "%s: create: %s", name, strerror(-ret));
	t->ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(t->ep >= 0, "epoll_create1");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	CHECK(epoll_ctl(t->ep, EPOLL_CTL_ADD, t->ops->event_fd(t->e), &ev) == 0,
	      "%s: epoll on the event fd: %s", name, strerror(errno));
	return 0;
}

static inline void tb_eng_close(struct tb_eng *t)
{
	t->ops->destroy(t->e);
	close(t->ep);
	free(t->arena);
	memset(t, 0, sizeof(*t));
}

/* Whether the event fd polls readable within @ms milliseconds. */
static inline int tb_readable(struct tb_eng *t, int ms)
{
	struct epoll_event ev;
	int n;

	do
		n = epoll_wait(t->ep, &ev, 1, ms);
	while (n < 0 && errno == EINTR);
	CHECK(n >= 0, "epoll_wait: %s", strerror(errno));
	return n;
}

static inline void tb_queue(struct tb_eng *t, uint8_t op, uint64_t off,
			    uint32_t len, void *buf, uint64_t tag)
{
	struct ioeng_io io = {
		.op = op, .len = len, .off = off, .buf = buf, .tag = tag
	};
	int ret = t->ops->queue(t->e, &io);

	CHECK(ret == 0, "%s: queue op %u tag %llu: %d", t->ops->name, op,
	      (unsigned long long)tag, ret);
}

/*
 * Reap until @want completions came back, as the queue does: ->reap() until
 * it returns less than asked, then wait for the event fd. Tags must be below
 * @ntags and not in @seen yet; results go to @res[tag]. Small batches of
 * @max make the "returned max: call again" path run too.
 */
static inline void tb_reap(struct tb_eng *t, unsigned int want, int *res,
			   unsigned char *seen, uint64_t ntags,
			   unsigned int max)
{
	struct ioeng_done d[64];
	uint64_t end = tb_now_ms() + TB_REAP_TIMEOUT_MS;
	unsigned int got = 0;
	int n;

	CHECK(max && max <= 64, "max %u", max);
	while (got < want) {
		do {
			n = t->ops->reap(t->e, d, max);
			CHECK(n >= 0 && (unsigned int)n <= max,
			      "%s: reap returned %d", t->ops->name, n);
			for (int i = 0; i < n; i++) {
				uint64_t tag = d[i].tag;

				CHECK(tag < ntags, "%s: unknown tag %llu",
				      t->ops->name, (unsigned long long)tag);
				CHECK(!seen[tag], "%s: tag %llu came twice",
				      t->ops->name, (unsigned long long)tag);
				seen[tag] = 1;
				res[tag] = d[i].res;
			}
			got += (unsigned int)n;
			CHECK(got <= want, "%s: %u completions, %u expected",
			      t->ops->name, got, want);
		} while ((unsigned int)n == max);
		if (got == want)
			break;
		CHECK(tb_now_ms() < end,
		      "%s: only %u of %u completions in %d ms", t->ops->name,
		      got, want, TB_REAP_TIMEOUT_MS);
		tb_readable(t, 1000);
	}
}

/*
 * Submit what is staged (@n I/Os) and reap them all; results by tag. An
 * I/O the kernel refuses at submission is not counted as issued (kernel
 * AIO refuses a WRITE on a read-only fd, say) but still completes, with
 * its error, through ->reap().
 */
static inline void tb_run(struct tb_eng *t, unsigned int n, int *res,
			  uint64_t ntags)
{
	unsigned char *seen = calloc(ntags, 1);
	int ret;

	CHECK(seen, "calloc");
	ret = t->ops->submit(t->e);
	CHECK(ret <= (int)n, "%s: submit returned %d for %u staged",
	      t->ops->name, ret, n);
	tb_reap(t, n, res, seen, ntags, 16);
	free(seen);
}

/*
 * Write @len bytes of @src at @off through the engine, in pieces that fit
 * the arena, and check every piece completes with 0.
 */
static inline void tb_write(struct tb_eng *t, uint64_t off, const void *src,
			    size_t len)
{
	size_t piece = t->arena_len;
	int res[1];

	for (size_t done = 0; done < len; done += piece) {
		size_t n = len - done < piece ? len - done : piece;

		memcpy(t->arena, (const char *)src + done, n);
		tb_queue(t, IOENG_WRITE, off + done, (uint32_t)n, t->arena, 0);
		tb_run(t, 1, res, 1);
		CHECK(res[0] == 0, "%s: write at %llu: %d", t->ops->name,
		      (unsigned long long)(off + done), res[0]);
	}
}

/* The read counterpart of tb_write(). */
static inline void tb_read(struct tb_eng *t, uint64_t off, void *dst,
			   size_t len)
{
	size_t piece = t->arena_len;
	int res[1];

	for (size_t done = 0; done < len; done += piece) {
		size_t n = len - done < piece ? len - done : piece;

		tb_queue(t, IOENG_READ, off + done, (uint32_t)n, t->arena, 0);
		tb_run(t, 1, res, 1);
		CHECK(res[0] == 0, "%s: read at %llu: %d", t->ops->name,
		      (unsigned long long)(off + done), res[0]);
		memcpy((char *)dst + done, t->arena, n);
	}
}

/* ------------------------------------------- random write/read workload */

#define TB_REGION (1u << 20)

struct tb_chunk {
	int busy;
	uint8_t op;
	uint32_t len;
	uint64_t off;
	uint64_t seq;
	unsigned char *buf;
	unsigned int region;
};

/*
 * Keep up to @depth random READs and WRITEs (512-byte aligned, 512 B to
 * 1 MiB, at random places of the arena) in flight over a file of 2 * depth
 * MiB until @nios have completed, in batches of random size with one
 * submit each. No two I/Os in flight touch the same MiB of the store, so a
 * READ's expected bytes are those last written there (a shadow copy).
 * Every tag must complete exactly once with res 0. With @touches_storage
 * clear (the null engine) a READ must leave its buffer as it was instead,
 * and nothing is compared with the store.
 */
static inline void tb_write_read_back(struct tb_eng *t, unsigned int depth,
				      unsigned int nregions, unsigned int nios,
				      uint64_t seed, int touches_storage)
{
	size_t size = (size_t)nregions * TB_REGION;
	unsigned char *shadow = calloc(size, 1);
	unsigned char *region_busy = calloc(nregions, 1);
	struct tb_chunk *ch = calloc(depth, sizeof(*ch));
	unsigned int *freec = calloc(depth, sizeof(*freec));
	unsigned int nfree = depth, issued = 0, completed = 0, inflight = 0;
	uint64_t end = tb_now_ms() + 4 * TB_REAP_TIMEOUT_MS;
	unsigned int batches = 0, most_inflight = 0;
	const char *name = t->ops->name;
	struct ioeng_done d[16];

	CHECK(shadow && region_busy && ch && freec, "calloc");
	CHECK(nregions > depth && t->arena_len >= (size_t)depth * TB_REGION,
	      "setup");
	for (unsigned int i = 0; i < depth; i++)
		freec[i] = i;
	while (completed < nios) {
		unsigned int batch = 1 + (unsigned int)(tb_rand(&seed) % depth);
		unsigned int q = 0;
		int n;

		while (q < batch && issued < nios && nfree) {
			unsigned int c = freec[--nfree], r;
			struct tb_chunk *k = &ch[c];
			uint32_t maxlen = 512u << (tb_rand(&seed) % 12);
			uint32_t slack;

			do
				r = (unsigned int)(tb_rand(&seed) % nregions);
			while (region_busy[r]);
			region_busy[r] = 1;
			k->busy = 1;
			k->region = r;
			k->len = 512u * (1 + (uint32_t)(tb_rand(&seed) %
							(maxlen / 512)));
			slack = (TB_REGION - k->len) / 512 + 1;
			k->off = (uint64_t)r * TB_REGION +
				 512u * (tb_rand(&seed) % slack);
			k->buf = t->arena + (size_t)c * TB_REGION +
				 512u * (tb_rand(&seed) % slack);
			k->op = tb_rand(&seed) & 1 ? IOENG_WRITE : IOENG_READ;
			k->seq = issued++;
			if (k->op == IOENG_WRITE) {
				tb_fill(k->buf, k->len, &seed);
				memcpy(shadow + k->off, k->buf, k->len);
			} else {
				memset(k->buf, 0x5a, k->len);
			}
			tb_queue(t, k->op, k->off, k->len, k->buf,
				 k->seq << 16 | c);
			q++;
		}
		if (q) {
			n = t->ops->submit(t->e);
			CHECK(n == (int)q, "%s: submit returned %d for %u",
			      name, n, q);
			inflight += q;
			batches++;
			if (inflight > most_inflight)
				most_inflight = inflight;
		}
		CHECK(tb_now_ms() < end, "%s: %u of %u I/Os done", name,
		      completed, nios);
		/* Wait only when nothing more can go out. */
		if (!nfree || issued == nios)
			tb_readable(t, 1000);
		do {
			n = t->ops->reap(t->e, d, 16);
			CHECK(n >= 0 && n <= 16, "%s: reap %d", name, n);
			for (int i = 0; i < n; i++) {
				unsigned int c = d[i].tag & 0xffff;
				struct tb_chunk *k = &ch[c];

				CHECK(c < depth && k->busy &&
					      k->seq == d[i].tag >> 16,
				      "%s: tag %#llx unknown or done twice",
				      name, (unsigned long long)d[i].tag);
				CHECK(d[i].res == 0,
				      "%s: op %u off %llu len %u: res %d", name,
				      k->op, (unsigned long long)k->off, k->len,
				      d[i].res);
				if (k->op == IOENG_READ && touches_storage)
					CHECK(!memcmp(k->buf, shadow + k->off,
						      k->len),
					      "%s: read off %llu len %u: "
					      "not what was written",
					      name, (unsigned long long)k->off,
					      k->len);
				if (k->op == IOENG_READ && !touches_storage)
					for (uint32_t j = 0; j < k->len; j++)
						CHECK(k->buf[j] == 0x5a,
						      "%s: READ changed the "
						      "buffer",
						      name);
				k->busy = 0;
				region_busy[k->region] = 0;
				freec[nfree++] = c;
				completed++;
				inflight--;
			}
		} while (n == 16);
	}
	CHECK(t->ops->reap(t->e, d, 16) == 0, "%s: completions after the last",
	      name);
	if (touches_storage) {
		unsigned char *back = malloc(size);

		CHECK(back, "malloc");
		tb_read(t, 0, back, size);
		for (size_t i = 0; i < size; i += 512)
			CHECK(!memcmp(back + i, shadow + i, 512),
			      "%s: store differs from what was written at %zu",
			      name, i);
		free(back);
	}
	printf("%s: %u I/Os in %u batches, up to %u in flight\n", name, nios,
	       batches, most_inflight);
	free(freec);
	free(ch);
	free(region_busy);
	free(shadow);
}

#endif
