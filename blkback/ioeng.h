/* SPDX-License-Identifier: MIT */
/*
 * ioeng.h - blkbackd's I/O engines behind one small ops table: io_uring
 * (ioeng_uring.c, the default), libaio (ioeng_aio.c, for kernels without
 * io_uring) and null (ioeng_null.c, completes without touching storage, to
 * measure the backend's own cost).
 *
 * One engine instance per queue, owned by that queue's thread and only ever
 * called from it: no locks. The queue (blkback/queue.c) stages I/Os with
 * ->queue(), issues them all with one ->submit() per ring sweep, and reaps
 * completions in batches with ->reap() when ->event_fd() polls readable.
 * Data lives in the queue's bounce arena (cfg.buf, cfg.buf_len), which the
 * engine may register with the kernel (io_uring fixed buffers); every
 * READ/WRITE buffer lies inside it. Ordering (barriers, flush after drain)
 * is the queue's business: an engine runs what it is given in any order.
 *
 * Every call returns 0 (or a count) or -errno. Nothing here logs.
 */
#ifndef PVBACK_BLKBACK_IOENG_H
#define PVBACK_BLKBACK_IOENG_H

#include <stddef.h>
#include <stdint.h>

enum ioeng_op {
	IOENG_READ = 0,		/* buf <- [off, off + len) */
	IOENG_WRITE = 1,	/* [off, off + len) <- buf */
	IOENG_FLUSH = 2,	/* fdatasync: make completed writes durable */
	IOENG_DISCARD = 3,	/* [off, off + len) reads back zeros afterwards:
				 * punch a hole in a file, BLKDISCARD on a device */
	IOENG_SECDISCARD = 4,	/* as DISCARD, BLKSECDISCARD on a device */
};

struct ioeng_cfg {
	int fd;			/* backing store; stays the caller's */
	int is_blkdev;		/* a block device (discard by ioctl) */
	unsigned int depth;	/* most I/Os staged + in flight at once */
	void *buf;		/* the queue's bounce arena (page aligned) */
	size_t buf_len;
};

struct ioeng_io {
	uint8_t op;		/* enum ioeng_op */
	uint64_t len;		/* bytes; READ/WRITE at most 4 GiB - 1 */
	uint64_t off;		/* byte offset in the store */
	void *buf;		/* READ/WRITE: inside cfg.buf */
	uint64_t tag;		/* handed back with the completion */
};

struct ioeng_done {
	uint64_t tag;
	int res;		/* 0 when the whole I/O was done, else -errno */
};

struct ioeng;

struct ioeng_ops {
	const char *name;
	/* Set up an instance for one queue. 0/-errno (-ENOSYS: not here). */
	int (*create)(const struct ioeng_cfg *cfg, struct ioeng **out);
	/*
	 * Cancel or wait out what is in flight, then free. NULL-safe. Called
	 * by the queue only after it reaped everything it will answer.
	 */
	void (*destroy)(struct ioeng *e);
	/*
	 * An fd that polls readable (EPOLLIN) while completions may be
	 * waiting. ->reap() clears it; call ->reap() until it returns less
	 * than it was asked for.
	 */
	int (*event_fd)(struct ioeng *e);
	/*
	 * Stage one I/O; nothing reaches the kernel before ->submit().
	 * -EBUSY when depth I/Os are already staged or in flight. A
	 * short transfer is continued by the engine, never reported.
	 */
	int (*queue)(struct ioeng *e, const struct ioeng_io *io);
	/* Issue everything staged, in one system call where it can. Returns
	 * the count issued or -errno (then nothing staged was issued and
	 * the staged I/Os complete with that error through ->reap()). */
	int (*submit)(struct ioeng *e);
	/* Take up to @max completions without blocking. Returns the count. */
	int (*reap)(struct ioeng *e, struct ioeng_done *done, unsigned int max);
};

extern const struct ioeng_ops ioeng_uring_ops;
extern const struct ioeng_ops ioeng_aio_ops;
extern const struct ioeng_ops ioeng_null_ops;

/* The engine called @name ("uring", "aio", "null"), or NULL. */
const struct ioeng_ops *ioeng_find(const char *name);

#endif
