// SPDX-License-Identifier: MIT
/*
 * ioeng_uring.c - the io_uring I/O engine, blkbackd's default (see ioeng.h;
 * the libaio peer for older kernels is ioeng_aio.c, the queue driving both
 * is blkback/queue.c).
 *
 * One ring per queue, with at least depth SQ entries, set up on the queue's
 * thread, which is the only one to submit and reap: on Linux 6.1 and later
 * the ring says so (SINGLE_ISSUER), and completions the kernel finishes
 * elsewhere (an io-wq worker, a device interrupt) wait for the queue's next
 * reap (DEFER_TASKRUN) instead of interrupting the thread one by one; older
 * kernels get the same ring without (see ur_setups). The backing fd is
 * registered as fixed file 0 and the queue's bounce arena as fixed buffer 0,
 * so a READ/WRITE neither looks up the fd nor pins pages per I/O; when the
 * kernel refuses either (RLIMIT_MEMLOCK, an arena over 1 GiB) the engine
 * quietly uses the plain opcodes instead. Completions are signalled on an
 * eventfd registered with the ring.
 *
 * A file in memory whose reads cannot be asked not to block (tmpfs up to at
 * least Linux 6.18) has its I/Os done in ->submit(), on the queue's thread,
 * as page-cache copies that never wait for a device (ur_inline_store()):
 * io_uring would hand every one of them to an io-wq worker thread, and for
 * a small I/O the handoff, the worker's wakeup and the completion's way
 * back cost several times the copy (4 KiB random reads: 0.4x the IOPS,
 * bench/results/blk-xensim.md). Only READs and WRITEs over UR_INLINE_MAX
 * still go to the ring: copying one takes longer than the handoff costs,
 * and on a worker it runs beside the queue thread's grant copies instead of
 * holding back the answers to the rest of its batch.
 *
 * The slots, their lists and the eventfd are the engines' shared
 * bookkeeping (struct ioeng_slots in ioeng.h): each I/O owns one of depth
 * slots from ->queue() until ->reap() hands its completion back, and the
 * slot index is the SQE's user_data. Staged I/Os stay on the staged list,
 * not the SQ, so nothing reaches the kernel before ->submit(), and a short
 * transfer found by ->reap() is continued through the same path without
 * taking the queue's staged I/Os along. Discards on a block device are ioctls (the
 * io_uring block discard command is Linux 6.12's, unknown to liburing 2.3):
 * they run synchronously in ->submit() and their result waits in the sync
 * FIFO that ->reap() empties first, with the eventfd written so the queue
 * comes to reap; so do the I/Os of a file done inline.
 */
#include "blkback/ioeng.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/vfs.h>

/* IORING_MAX_ENTRIES: the SQ must hold a whole depth of I/Os. */
#define UR_MAX_DEPTH 32768u
/* CQEs looked at per peek; ->reap() loops, this only sizes a stack array. */
#define UR_CQE_BATCH 64u
/* user_data of the cancel ur_wait_out() sends; slot indexes are < depth. */
#define UR_CANCEL_DATA UINT64_MAX
/*
 * On a file whose I/Os are done inline (ur_inline_store()), the largest
 * READ or WRITE done so; larger ones still go to the ring (see the top of
 * this file).
 */
#define UR_INLINE_MAX (512u << 10)

/*
 * The ring setups tried in turn, best first, while the kernel answers
 * -EINVAL (a flag it does not know).
 */
static const unsigned int ur_setups[] = {
	/*
	 * 6.1. SINGLE_ISSUER: only the creating thread submits, which spares
	 * the kernel its locking. DEFER_TASKRUN: a completion finished
	 * elsewhere is queued for this thread's next io_uring_enter() with
	 * GETEVENTS, not run at its next transition to the kernel; the first
	 * one queued writes the eventfd. TASKRUN_FLAG sets IORING_SQ_TASKRUN
	 * while some are queued: ur_reap() looks at it.
	 */
	IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
		IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
	/* 5.19: completions run at the thread's next syscall, no IPI. */
	IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
	/* 5.18: SUBMIT_ALL, one bad SQE does not hold back the rest. */
	IORING_SETUP_SUBMIT_ALL,
	0,
};

struct uring_eng {
	struct io_uring ring;
	int ring_ok;	    /* ring set up: exit it on destroy */
	unsigned int setup; /* the ur_setups[] entry the kernel took */
	int fd;		    /* the caller's backing fd */
	int is_blkdev;
	int inline_io;		/* every I/O runs in ->submit() */
	int sqe_fd;		/* 0 (fixed file index) or fd */
	unsigned int sqe_flags; /* IOSQE_FIXED_FILE or 0 */
	int fixed_buf;		/* arena registered as fixed buffer 0 */
	const char *buf;
	size_t buf_len;

	struct ioeng_slots sl; /* slot = SQE user_data; sl.efd on the ring */
	unsigned int inflight; /* SQEs submitted, CQE not seen yet */
};

/*
 * struct ioeng is only ever a name for the handle: every engine casts it to
 * its own type, rather than each defining struct ioeng differently, which
 * two translation units that both see the ops tables must not do.
 */
static struct uring_eng *to_ur(struct ioeng *e)
{
	return (struct uring_eng *)e;
}

static int ur_is_sync(const struct uring_eng *u, const struct ioeng_slot *sl)
{
	const struct ioeng_io *io = &sl->io;

	if (u->inline_io)
		return (io->op != IOENG_READ && io->op != IOENG_WRITE) ||
		       io->len <= UR_INLINE_MAX;
	return u->is_blkdev &&
	       (io->op == IOENG_DISCARD || io->op == IOENG_SECDISCARD);
}

/*
 * Whether @fd is a file whose I/Os are best done on the queue's thread
 * (see the top of this file): it lives in memory (tmpfs, ramfs), so a copy
 * never waits for a device, and it refuses RWF_NOWAIT, which is what makes
 * io_uring hand each I/O to an io-wq worker. The refusal comes before the
 * read is looked at (Linux kiocb_set_rw_flags()), so one byte at 0 asks
 * the question whatever the file's size or O_DIRECT. A file that takes
 * RWF_NOWAIT has its cached pages copied inside io_uring_enter(), one
 * system call per batch: it stays on the ring.
 */
static int ur_inline_store(int fd, int is_blkdev)
{
	struct statfs sf;
	struct iovec iov;
	char byte;

	if (is_blkdev || fstatfs(fd, &sf) < 0)
		return 0;
	if (sf.f_type != TMPFS_MAGIC && sf.f_type != RAMFS_MAGIC)
		return 0;
	iov.iov_base = &byte;
	iov.iov_len = 1;
	return preadv2(fd, &iov, 1, 0, RWF_NOWAIT) < 0 && errno == EOPNOTSUPP;
}

static int ur_in_arena(const struct uring_eng *u, const struct ioeng_io *io)
{
	const char *p = io->buf;

	return p >= u->buf && io->len <= u->buf_len &&
	       (size_t)(p - u->buf) <= u->buf_len - io->len;
}

/* Fill @sqe for what remains of slot @s. */
static void ur_prep(struct uring_eng *u, unsigned int s,
		    struct io_uring_sqe *sqe)
{
	struct ioeng_slot *sl = &u->sl.slot[s];
	const struct ioeng_io *io = &sl->io;
	char *p = (char *)io->buf + sl->done;
	unsigned int len = io->len - sl->done;
	uint64_t off = io->off + sl->done;
	/*
	 * The arena holds every buffer by contract; checking costs two
	 * compares and turns a queue bug into a slower I/O, not an -EFAULT.
	 */
	int fixed = u->fixed_buf && !io->niov && ur_in_arena(u, io);

	if (io->niov)
		ioeng_iov_seek(sl);
	switch (io->op) {
	case IOENG_READ:
		if (io->niov)
			io_uring_prep_readv(sqe, u->sqe_fd, io->iov, io->niov,
					    off);
		else if (fixed)
			io_uring_prep_read_fixed(sqe, u->sqe_fd, p, len, off,
						 0);
		else
			io_uring_prep_read(sqe, u->sqe_fd, p, len, off);
		break;
	case IOENG_WRITE:
		if (io->niov)
			io_uring_prep_writev(sqe, u->sqe_fd, io->iov, io->niov,
					     off);
		else if (fixed)
			io_uring_prep_write_fixed(sqe, u->sqe_fd, p, len, off,
						  0);
		else
			io_uring_prep_write(sqe, u->sqe_fd, p, len, off);
		break;
	case IOENG_FLUSH:
		io_uring_prep_fsync(sqe, u->sqe_fd, IORING_FSYNC_DATASYNC);
		break;
	default: /* DISCARD, SECDISCARD on a regular file */
		io_uring_prep_fallocate(sqe, u->sqe_fd,
					FALLOC_FL_PUNCH_HOLE |
						FALLOC_FL_KEEP_SIZE,
					(off_t)io->off, (off_t)io->len);
		break;
	}
	sqe->flags |= (__u8)u->sqe_flags;
	io_uring_sqe_set_data64(sqe, s);
}

/*
 * Take back the last @n SQEs, which io_uring_enter() refused without
 * consuming any: this is what lets ->submit() keep its promise that a
 * refused I/O is not issued later behind the queue's back. Without SQPOLL
 * the kernel reads the SQ tail only inside io_uring_enter() on this thread,
 * so moving it back is safe. It relies on liburing 2.x's bookkeeping (after
 * a submit, sqe_head == sqe_tail == *ktail); blk-ioeng-submit-refused
 * checks it against the liburing we build with.
 */
static void ur_sq_unqueue(struct uring_eng *u, unsigned int n)
{
	struct io_uring_sq *sq = &u->ring.sq;

	sq->sqe_tail -= n;
	sq->sqe_head = sq->sqe_tail;
	io_uring_smp_store_release(sq->ktail, sq->sqe_tail);
}

/*
 * Issue the @n slots of @list (the staged or the cont list), reusing @list
 * to remember which got SQEs. Returns how many were issued (to the kernel or
 * done synchronously); the others complete with *@err through ->reap().
 */
static unsigned int ur_issue(struct uring_eng *u, unsigned int *list,
			     unsigned int n, int *err)
{
	unsigned int i, nsq = 0, sent = 0, sync = 0;
	int ret = 0;

	for (i = 0; i < n; i++) {
		unsigned int s = list[i];
		struct ioeng_slot *sl = &u->sl.slot[s];
		struct io_uring_sqe *sqe;

		if (ur_is_sync(u, sl)) {
			ioeng_sync_push(&u->sl, s,
					ioeng_run_sync(&u->sl, s, u->fd,
						       u->is_blkdev));
			sync++;
			continue;
		}
		/*
		 * The SQ has at least depth entries and is empty between
		 * calls (everything is consumed or taken back below).
		 */
		sqe = io_uring_get_sqe(&u->ring);
		assert(sqe);
		ur_prep(u, s, sqe);
		sl->state = IOENG_SLOT_INFLIGHT;
		list[nsq++] = s;
	}
	/* A partial submit leaves the rest in the SQ: go on with it. */
	while (sent < nsq) {
		ret = io_uring_submit(&u->ring);
		if (ret == -EINTR)
			continue;
		if (ret <= 0)
			break;
		sent += (unsigned int)ret;
	}
	u->inflight += sent;
	if (sent < nsq) {
		if (ret >= 0)
			ret = -EAGAIN;
		ur_sq_unqueue(u, nsq - sent);
		for (i = sent; i < nsq; i++)
			ioeng_sync_push(&u->sl, list[i], ret);
		*err = ret;
	}
	return sent + sync;
}

/* Completions queued for this thread and not yet posted to the CQ. */
static int ur_taskrun_pending(const struct uring_eng *u)
{
	return (u->setup & IORING_SETUP_TASKRUN_FLAG) &&
	       (IO_URING_READ_ONCE(*u->ring.sq.kflags) & IORING_SQ_TASKRUN);
}

/*
 * Account one CQE. Returns 1 and fills @d when its I/O is complete, 0 when
 * it was a part of a short transfer (now on the cont list) or not ours.
 */
static int ur_cqe(struct uring_eng *u, const struct io_uring_cqe *cqe,
		  struct ioeng_done *d)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);

	if (data == UR_CANCEL_DATA)
		return 0;
	assert(data < u->sl.depth &&
	       u->sl.slot[data].state == IOENG_SLOT_INFLIGHT);
	u->inflight--;
	return ioeng_slot_finish(&u->sl, (unsigned int)data, cqe->res, d);
}

/*
 * Wait for every SQE the kernel still owns: its pages may be the queue's
 * arena, which is freed after us, so a READ landing late would scribble on
 * reused memory. Cancel what can be cancelled to make it quick. Only the
 * thread that created the ring can wait on it (SINGLE_ISSUER), hence the
 * rule in ioeng.h that destroy runs there too.
 */
static void ur_wait_out(struct uring_eng *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (sqe) {
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
		io_uring_sqe_set_data64(sqe, UR_CANCEL_DATA);
		if (io_uring_submit(&u->ring) != 1)
			ur_sq_unqueue(u, io_uring_sq_ready(&u->ring));
	}
	while (u->inflight) {
		ret = io_uring_wait_cqe(&u->ring, &cqe);
		if (ret == -EINTR)
			continue;
		if (ret < 0)
			break; /* ring unusable: nothing left to wait with */
		if (io_uring_cqe_get_data64(cqe) != UR_CANCEL_DATA)
			u->inflight--;
		io_uring_cqe_seen(&u->ring, cqe);
	}
}

static void ur_destroy(struct ioeng *e)
{
	struct uring_eng *u = to_ur(e);

	if (!u)
		return;
	if (u->ring_ok) {
		if (u->inflight)
			ur_wait_out(u);
		io_uring_queue_exit(&u->ring);
	}
	ioeng_slots_free(&u->sl);
	free(u);
}

/* Both registrations only save work per I/O: do without on refusal. */
static void ur_register(struct uring_eng *u, const struct ioeng_cfg *cfg)
{
	if (io_uring_register_files(&u->ring, &cfg->fd, 1) == 0) {
		u->sqe_fd = 0;
		u->sqe_flags = IOSQE_FIXED_FILE;
	}
	if (u->buf_len) {
		struct iovec iov = { .iov_base = cfg->buf,
				     .iov_len = cfg->buf_len };

		u->fixed_buf = !io_uring_register_buffers(&u->ring, &iov, 1);
	}
}

static int ur_create(const struct ioeng_cfg *cfg, struct ioeng **out)
{
	struct io_uring_params p;
	struct uring_eng *u;
	size_t i;
	int ret;

	if (!cfg || !out || cfg->fd < 0 || !cfg->depth ||
	    cfg->depth > UR_MAX_DEPTH)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->fd = cfg->fd;
	u->is_blkdev = cfg->is_blkdev;
	u->sqe_fd = cfg->fd;
	u->buf = cfg->buf;
	u->buf_len = cfg->buf ? cfg->buf_len : 0;

	ret = ioeng_slots_init(&u->sl, cfg->depth);
	if (ret < 0)
		goto err_destroy;

	ret = -EINVAL;
	for (i = 0; i < sizeof(ur_setups) / sizeof(ur_setups[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = ur_setups[i];
		ret = io_uring_queue_init_params(cfg->depth, &u->ring, &p);
		if (ret != -EINVAL)
			break;
	}
	if (ret < 0)
		goto err_destroy;
	u->ring_ok = 1;
	u->setup = ur_setups[i];
	u->inline_io = ur_inline_store(cfg->fd, cfg->is_blkdev);

	ret = io_uring_register_eventfd(&u->ring, u->sl.efd);
	if (ret < 0)
		goto err_destroy;

	ur_register(u, cfg);
	*out = (struct ioeng *)u;
	return 0;

err_destroy:
	/* Nothing was submitted yet: ur_destroy() copes with a partial u. */
	ur_destroy((struct ioeng *)u);
	return ret;
}

static int ur_event_fd(struct ioeng *e)
{
	return to_ur(e)->sl.efd;
}

static int ur_queue(struct ioeng *e, const struct ioeng_io *io)
{
	struct uring_eng *u = to_ur(e);
	int s = ioeng_slot_alloc(&u->sl, io);

	if (s < 0)
		return s;
	ioeng_slot_stage(&u->sl, (unsigned int)s);
	return 0;
}

static int ur_submit(struct ioeng *e)
{
	struct uring_eng *u = to_ur(e);
	unsigned int *list, issued;
	unsigned int n = ioeng_staged_take(&u->sl, &list);
	int err = 0;

	if (!n)
		return 0;
	issued = ur_issue(u, list, n, &err);
	if (!issued && err)
		return err;
	return (int)issued;
}

static int ur_reap(struct ioeng *e, struct ioeng_done *done, unsigned int max)
{
	struct uring_eng *u = to_ur(e);
	struct io_uring_cqe *cqes[UR_CQE_BATCH];
	unsigned int n = 0, got, i, nc, *list;
	int err = 0;

	/* Draining for nothing would lose the wakeup. */
	if (!max)
		return 0;
	/*
	 * DEFER_TASKRUN: completions are queued for us, not yet in the CQ.
	 * Post them before draining the eventfd, which posting writes too:
	 * after, it would poll readable with nothing left to reap.
	 */
	if (ur_taskrun_pending(u))
		io_uring_get_events(&u->ring);
	ioeng_drain(u->sl.efd);
	for (;;) {
		n += ioeng_sync_pop(&u->sl, done + n, max - n);
		if (n == max)
			break;
		got = max - n < UR_CQE_BATCH ? max - n : UR_CQE_BATCH;
		got = io_uring_peek_batch_cqe(&u->ring, cqes, got);
		if (!got && ur_taskrun_pending(u)) {
			/*
			 * More were queued meanwhile. liburing 2.3's peek
			 * posts them itself, later ones need not: asking
			 * here does not depend on it.
			 */
			if (io_uring_get_events(&u->ring) < 0)
				break;
			got = max - n < UR_CQE_BATCH ? max - n : UR_CQE_BATCH;
			got = io_uring_peek_batch_cqe(&u->ring, cqes, got);
		}
		if (!got)
			break;
		for (i = 0; i < got; i++)
			n += (unsigned int)ur_cqe(u, cqes[i], &done[n]);
		io_uring_cq_advance(&u->ring, got);
	}
	/* Failures here land in the sync FIFO and write the eventfd. */
	nc = ioeng_cont_take(&u->sl, &list);
	if (nc)
		ur_issue(u, list, nc, &err);
	return (int)n;
}

_Static_assert(UR_INLINE_MAX == 512u << 10, "ur_describe() says 512 KiB");

static void ur_describe(struct ioeng *e, char *buf, size_t len)
{
	struct uring_eng *u = to_ur(e);
	const char *what[4];
	unsigned int n = 0;
	size_t pos = 0;

	if (u->inline_io)
		what[n++] = "a file in memory without non-blocking reads: its "
			    "I/Os of up to 512 KiB are done on the queue "
			    "thread, not handed to io-wq workers";
	if (!(u->sqe_flags & IOSQE_FIXED_FILE))
		what[n++] = "file not registered";
	if (u->buf_len && !u->fixed_buf)
		what[n++] = "arena not registered (RLIMIT_MEMLOCK?)";
	if (u->setup & IORING_SETUP_COOP_TASKRUN)
		what[n++] = "no DEFER_TASKRUN (Linux 6.1): completions run at "
			    "the queue thread's system calls";
	else if (!(u->setup & IORING_SETUP_DEFER_TASKRUN))
		what[n++] = "no COOP_TASKRUN (Linux 5.19): completions "
			    "interrupt the queue thread";
	if (len)
		buf[0] = 0;
	for (unsigned int i = 0; i < n && pos < len; i++)
		pos += (size_t)snprintf(buf + pos, len - pos, "%s%s",
					i ? "; " : "", what[i]);
}

const struct ioeng_ops ioeng_uring_ops = {
	.name = "uring",
	.create = ur_create,
	.destroy = ur_destroy,
	.event_fd = ur_event_fd,
	.queue = ur_queue,
	.submit = ur_submit,
	.reap = ur_reap,
	.describe = ur_describe,
};
