/* SPDX-License-Identifier: MIT */
/*
 * ioeng.h - blkbackd's I/O engines behind one small ops table: io_uring
 * (ioeng_uring.c, the default), libaio (ioeng_aio.c, for kernels without
 * io_uring) and null (ioeng_null.c, completes without touching storage, to
 * measure the backend's own cost).
 *
 * One engine instance per queue, owned by that queue's thread: created,
 * called and destroyed on it, no locks (an io_uring set up for a single
 * issuer accepts no other thread). The queue (blkback/queue.c) stages I/Os with
 * ->queue(), issues them all with one ->submit() per ring sweep, and reaps
 * completions in batches with ->reap() when ->event_fd() polls readable.
 * Data lives in the queue's bounce arena (cfg.buf, cfg.buf_len), which the
 * engine may register with the kernel (io_uring fixed buffers); every
 * READ/WRITE buffer lies inside it. Ordering (barriers, flush after drain)
 * is the queue's business: an engine runs what it is given in any order.
 *
 * Every call returns 0 (or a count) or -errno. Nothing here logs. The last
 * section, for engine authors only, is the bookkeeping the engines share.
 */
#ifndef PVBACK_BLKBACK_IOENG_H
#define PVBACK_BLKBACK_IOENG_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum ioeng_op {
	IOENG_READ = 0,	      /* buf <- [off, off + len) */
	IOENG_WRITE = 1,      /* [off, off + len) <- buf */
	IOENG_FLUSH = 2,      /* fdatasync: make completed writes durable */
	IOENG_DISCARD = 3,    /* [off, off + len) reads back zeros afterwards:
				 * punch a hole in a file, BLKDISCARD on a device */
	IOENG_SECDISCARD = 4, /* as DISCARD, BLKSECDISCARD on a device */
};

struct ioeng_cfg {
	int fd;		    /* backing store; stays the caller's */
	int is_blkdev;	    /* a block device (discard by ioctl) */
	unsigned int depth; /* most I/Os staged + in flight at once */
	void *buf;	    /* the queue's bounce arena (page aligned) */
	size_t buf_len;
};

#define IOENG_IOV_MAX 1024 /* Linux's UIO_MAXIOV */

struct ioeng_io {
	uint8_t op;   /* enum ioeng_op */
	uint64_t len; /* bytes; READ/WRITE at most 4 GiB - 1 */
	uint64_t off; /* byte offset in the store */
	void *buf;    /* READ/WRITE: inside cfg.buf, unless niov */
	/*
	 * READ/WRITE on memory outside the arena (the pages of persistent
	 * grants): @niov (at most IOENG_IOV_MAX) buffers adding up to @len, the
	 * caller's until the completion is reaped; the engine may rewrite
	 * them meanwhile (a short transfer continues from where it stopped).
	 */
	struct iovec *iov;
	unsigned int niov;
	uint64_t tag; /* handed back with the completion */
};

struct ioeng_done {
	uint64_t tag;
	int res; /* 0 when the whole I/O was done, else -errno */
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
	/*
	 * Optional (NULL: nothing to say). Write into @buf (@len bytes, NUL
	 * terminated) what an operator should know about how this instance
	 * runs when it is not the engine's best way, e.g. a kernel feature it
	 * does without; leave it empty otherwise. For the queue's one log
	 * line at start.
	 */
	void (*describe)(struct ioeng *e, char *buf, size_t len);
};

extern const struct ioeng_ops ioeng_uring_ops;
extern const struct ioeng_ops ioeng_aio_ops;
extern const struct ioeng_ops ioeng_null_ops;

/* The engine called @name ("uring", "aio", "null"), or NULL. */
const struct ioeng_ops *ioeng_find(const char *name);

/*
 * ======================================================================
 * For engine authors only: the queue uses nothing below this line.
 *
 * The bookkeeping an engine with a kernel queue behind it needs, kept here
 * once so that an engine file adds only its kernel interface (ioeng_uring.c
 * and ioeng_aio.c use all of it; ioeng_null.c, which has no slots, only the
 * eventfd pair). It lives in ioeng.c, the per-I/O part inline below.
 *
 * Each I/O owns one of depth slots from ->queue() until ->reap() hands its
 * completion back, so "slots in use" is exactly staged + in flight +
 * completed-but-unreaped, which is what ->queue()'s -EBUSY has to bound.
 * The slot index (or a pointer to the slot) is what the engine gives the
 * kernel to find the I/O again; anything more it needs per I/O (an iocb)
 * it keeps in an array of its own, indexed the same. Three lists of slot
 * indexes, each of at most depth entries so none can overflow:
 *   staged: ->queue() order; the engine takes them all in ->submit(), so
 *           nothing reaches the kernel before it;
 *   cont:   READs and WRITEs the kernel did short, to be issued again for
 *           what remains without taking the staged I/Os along;
 *   sync:   a FIFO of I/Os that completed without the kernel queue (done
 *           by the engine itself, a blocking fallback, a refused
 *           submission), which ->reap() empties first;
 *           the first one queued in an empty FIFO writes the eventfd so the
 *           queue comes to reap (one write for a batch, not one per I/O).
 *
 * Same thread as the engine, the queue's, and no locks. The inline
 * functions are the per-I/O path: no allocation and no system call, but
 * for ioeng_sync_push()'s eventfd write.
 * ======================================================================
 */

enum ioeng_slot_state {
	IOENG_SLOT_FREE = 0,
	IOENG_SLOT_STAGED,   /* on the staged list, waiting for ->submit() */
	IOENG_SLOT_INFLIGHT, /* the kernel owns it (set by the engine) */
	IOENG_SLOT_CONT,     /* short transfer: on the cont list */
	IOENG_SLOT_DONE,     /* in the sync FIFO, res waiting for ->reap() */
};

struct ioeng_slot {
	struct ioeng_io io;
	uint32_t done;	   /* READ/WRITE: bytes transferred so far */
	uint32_t iov_done; /* ...of which io.iov was advanced past */
	int res;	   /* IOENG_SLOT_DONE: what ->reap() hands back */
	enum ioeng_slot_state state;
};

struct ioeng_slots {
	struct ioeng_slot *slot; /* depth of them */
	unsigned int depth;
	int efd;	    /* nonblocking eventfd, for ->event_fd() */
	unsigned int *idx;  /* one allocation for the four lists below */
	unsigned int *free; /* stack of free slots */
	unsigned int nfree;
	unsigned int *staged;
	unsigned int nstaged;
	unsigned int *cont;
	unsigned int ncont;
	unsigned int *sync; /* FIFO of IOENG_SLOT_DONE slots */
	unsigned int sync_head, nsync;
};

/*
 * Allocate @t's @depth slots, all free, with their lists, and open its
 * eventfd (nonblocking, close-on-exec). @t must be zeroed (as calloc leaves
 * it). Returns 0, -EINVAL (@depth 0 or over INT_MAX / 4), -ENOMEM or
 * eventfd()'s -errno; on failure @t is left zeroed.
 */
int ioeng_slots_init(struct ioeng_slots *t, unsigned int depth);

/*
 * Free what ioeng_slots_init() allocated and close the eventfd. Does nothing
 * on a zeroed @t (one init failed on or never saw). Call it only once the
 * kernel is done with every slot.
 */
void ioeng_slots_free(struct ioeng_slots *t);

/*
 * Make @efd poll readable. Cannot fail in a way that matters: the write
 * fails only with EAGAIN, when it already is.
 */
void ioeng_kick(int efd);

/*
 * Read @efd back to unreadable, without blocking. ->reap() calls it before
 * it looks for completions, so that one posted afterwards makes the fd
 * readable again and none is left behind unnoticed.
 */
void ioeng_drain(int efd);

/*
 * The blocking form of DISCARD (@secure 0) and SECDISCARD (@secure 1) of
 * [@off, @off + @len) on @fd: BLKDISCARD or BLKSECDISCARD on a block device
 * (@is_blkdev), else a hole punched in the file, which has no secure form.
 * Returns 0 or -errno.
 */
int ioeng_discard(int fd, int is_blkdev, int secure, uint64_t off,
		  uint64_t len);

/*
 * The blocking form of the I/O in slot @s of @t on @fd (a block device if
 * @is_blkdev), from where ->done says it stands: pread()/pwrite() until the
 * whole READ or WRITE is done, a short transfer continued where it stopped;
 * fdatasync() for FLUSH; ioeng_discard() for the discards. Returns 0 or
 * -errno (-EIO for a READ or WRITE that meets the end of the file).
 */
int ioeng_run_sync(struct ioeng_slots *t, unsigned int s, int fd,
		   int is_blkdev);

/*
 * A vectored READ/WRITE (io.niov) resumed after a short transfer: advance
 * io.iov in place past what is done, so that it describes what remains.
 */
static inline void ioeng_iov_seek(struct ioeng_slot *sl)
{
	uint32_t skip = sl->done - sl->iov_done;

	while (skip && sl->io.niov) {
		struct iovec *v = sl->io.iov;

		if (skip >= v->iov_len) {
			skip -= (uint32_t)v->iov_len;
			sl->io.iov++;
			sl->io.niov--;
		} else {
			v->iov_base = (char *)v->iov_base + skip;
			v->iov_len -= skip;
			skip = 0;
		}
	}
	sl->iov_done = sl->done;
}

/*
 * Take a free slot for a copy of @io, ->queue()'s first half. Returns the
 * slot's index, -EINVAL when @io->op is no enum ioeng_op, or -EBUSY when
 * all depth slots are in use. The slot is on no list until
 * ioeng_slot_stage() (or ioeng_slot_release() to give it back).
 */
static inline int ioeng_slot_alloc(struct ioeng_slots *t,
				   const struct ioeng_io *io)
{
	struct ioeng_slot *sl;
	unsigned int s;

	if (io->op > IOENG_SECDISCARD || io->niov > IOENG_IOV_MAX ||
	    (io->niov && !io->iov))
		return -EINVAL;
	if (!t->nfree)
		return -EBUSY;
	s = t->free[--t->nfree];
	sl = &t->slot[s];
	sl->io = *io;
	sl->done = 0;
	sl->iov_done = 0;
	sl->res = 0;
	return (int)s;
}

/* Put slot @s at the end of the staged list. */
static inline void ioeng_slot_stage(struct ioeng_slots *t, unsigned int s)
{
	t->slot[s].state = IOENG_SLOT_STAGED;
	t->staged[t->nstaged++] = s;
}

/* Give slot @s back to the free stack. */
static inline void ioeng_slot_release(struct ioeng_slots *t, unsigned int s)
{
	t->slot[s].state = IOENG_SLOT_FREE;
	t->free[t->nfree++] = s;
}

/*
 * Empty the staged list (ioeng_cont_take(): the cont list): *@list gets the
 * slot indexes in the order they were put there, the return value their
 * count. The array is the engine's to read and overwrite while it issues
 * them, until the list next grows (ioeng_slot_stage(); for the cont list,
 * ioeng_slot_finish()).
 */
static inline unsigned int ioeng_staged_take(struct ioeng_slots *t,
					     unsigned int **list)
{
	unsigned int n = t->nstaged;

	t->nstaged = 0;
	*list = t->staged;
	return n;
}

static inline unsigned int ioeng_cont_take(struct ioeng_slots *t,
					   unsigned int **list)
{
	unsigned int n = t->ncont;

	t->ncont = 0;
	*list = t->cont;
	return n;
}

/*
 * Account what the kernel answered for in-flight slot @s: @res bytes
 * transferred or -errno. Returns 1 with @d filled and @s released when the
 * I/O is complete; 0 when a READ or WRITE came back short, and @s then waits
 * on the cont list, its progress in ->done, for the engine to issue what
 * remains (through ioeng_cont_take()). A READ or WRITE that moved nothing
 * with bytes left completes with -EIO.
 */
static inline int ioeng_slot_finish(struct ioeng_slots *t, unsigned int s,
				    long res, struct ioeng_done *d)
{
	struct ioeng_slot *sl = &t->slot[s];

	if (res >= 0 && (sl->io.op == IOENG_READ || sl->io.op == IOENG_WRITE)) {
		uint32_t left = sl->io.len - sl->done;

		if (res == 0 && left) {
			/* At the end of the file: retrying would spin. */
			res = -EIO;
		} else if ((uint64_t)res < left) {
			sl->done += (uint32_t)res;
			sl->state = IOENG_SLOT_CONT;
			t->cont[t->ncont++] = s;
			return 0;
		}
	}
	d->tag = sl->io.tag;
	d->res = res < 0 ? (int)res : 0;
	ioeng_slot_release(t, s);
	return 1;
}

/*
 * Slot @s completed without the kernel: queue @res (0 or -errno) in the
 * sync FIFO for ->reap(), and make the eventfd readable if the FIFO was
 * empty. That is enough: ->reap() drains the eventfd before it empties the
 * FIFO, and when it leaves some behind it returns all it was asked for, so
 * the queue calls it again (ioeng_ops.event_fd).
 */
static inline void ioeng_sync_push(struct ioeng_slots *t, unsigned int s,
				   int res)
{
	t->slot[s].res = res;
	t->slot[s].state = IOENG_SLOT_DONE;
	t->sync[(t->sync_head + t->nsync) % t->depth] = s;
	if (!t->nsync++)
		ioeng_kick(t->efd);
}

/*
 * Move up to @max completions from the sync FIFO into @done, oldest first,
 * releasing their slots. Returns the count.
 */
static inline unsigned int
ioeng_sync_pop(struct ioeng_slots *t, struct ioeng_done *done, unsigned int max)
{
	unsigned int i;

	for (i = 0; i < max && t->nsync; i++) {
		unsigned int s = t->sync[t->sync_head];

		done[i].tag = t->slot[s].io.tag;
		done[i].res = t->slot[s].res;
		t->sync_head = (t->sync_head + 1) % t->depth;
		t->nsync--;
		ioeng_slot_release(t, s);
	}
	return i;
}

#endif
