// SPDX-License-Identifier: MIT
/*
 * ioeng_aio.c - the libaio (Linux kernel AIO) I/O engine, for kernels
 * without io_uring or with it disabled (see ioeng.h; the default peer is
 * ioeng_uring.c, the queue driving both is blkback/queue.c).
 *
 * Kernel AIO is only asynchronous with O_DIRECT; on a buffered fd io_submit()
 * itself does the I/O, which works but blocks the queue's thread. The
 * bookkeeping mirrors ioeng_uring.c: each I/O owns one of depth slots (with
 * its iocb inside) from ->queue() until ->reap() hands its completion back,
 * so slots in use bound staged + in flight + unreaped completions. Every
 * iocb carries the instance's eventfd. What AIO cannot do runs synchronously
 * in ->submit() and completes through a small FIFO that ->reap() empties
 * first: discards (fallocate or a BLK*DISCARD ioctl), FLUSH once the kernel
 * refused IOCB_CMD_FDSYNC, and iocbs io_submit() refused, with their error.
 * libaio returns negative errno values itself, not -1 and errno; io_event.res
 * is an unsigned long holding a negative errno: both are converted here.
 */
#include "blkback/ioeng.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

enum aio_state {
	AIO_FREE = 0,
	AIO_STAGED,	/* in ->staged, waiting for ->submit() */
	AIO_INFLIGHT,	/* io_submit() accepted its iocb */
	AIO_CONT,	/* short transfer: in ->cont, to be issued again */
	AIO_DONE,	/* in ->sync, res waiting for ->reap() */
};

struct aio_slot {
	struct iocb iocb;	/* iocb.data points back here */
	struct ioeng_io io;
	uint32_t done;		/* bytes transferred so far */
	int res;		/* AIO_DONE: what ->reap() hands back */
	enum aio_state state;
};

struct aio_eng {
	io_context_t ctx;
	int ctx_ok;		/* io_setup() succeeded: io_destroy() it */
	int efd;
	int fd;			/* the caller's backing fd */
	int is_blkdev;
	int no_fdsync;		/* IOCB_CMD_FDSYNC refused: fdatasync() */

	unsigned int depth;
	struct aio_slot *slots;
	unsigned int *idx;	/* one allocation for the four lists below */
	unsigned int *free;	/* stack of free slots */
	unsigned int nfree;
	unsigned int *staged;	/* ->queue() order */
	unsigned int nstaged;
	unsigned int *cont;	/* short transfers to continue */
	unsigned int ncont;
	unsigned int *sync;	/* FIFO of AIO_DONE slots */
	unsigned int sync_head, nsync;
	struct iocb **batch;	/* depth: one io_submit() argument */
	struct io_event *events; /* depth: one io_getevents() result */
	unsigned int inflight;
};

/* The instance behind the opaque handle; see ioeng_uring.c for why a cast. */
static struct aio_eng *to_aio(struct ioeng *e)
{
	return (struct aio_eng *)e;
}

/* Make the eventfd readable. Fails only with EAGAIN, when it already is. */
static void aio_kick(struct aio_eng *a)
{
	uint64_t one = 1;
	ssize_t r = write(a->efd, &one, sizeof(one));

	(void)r;
}

static unsigned int aio_slot_index(const struct aio_eng *a,
				   const struct aio_slot *sl)
{
	return (unsigned int)(sl - a->slots);
}

static void aio_slot_free(struct aio_eng *a, struct aio_slot *sl)
{
	sl->state = AIO_FREE;
	a->free[a->nfree++] = aio_slot_index(a, sl);
}

/* @sl finished without an io_event to come: ->reap() hands back @res. */
static void aio_complete_sync(struct aio_eng *a, struct aio_slot *sl, int res)
{
	sl->res = res;
	sl->state = AIO_DONE;
	a->sync[(a->sync_head + a->nsync) % a->depth] = aio_slot_index(a, sl);
	a->nsync++;
	aio_kick(a);
}

static int aio_is_sync(const struct aio_eng *a, const struct aio_slot *sl)
{
	return sl->io.op == IOENG_DISCARD || sl->io.op == IOENG_SECDISCARD ||
	       (sl->io.op == IOENG_FLUSH && a->no_fdsync);
}

/* The blocking form of a DISCARD, SECDISCARD or FLUSH. */
static int aio_do_sync(const struct aio_eng *a, const struct ioeng_io *io)
{
	int ret;

	if (io->op == IOENG_FLUSH) {
		ret = fdatasync(a->fd);
	} else if (a->is_blkdev) {
		uint64_t range[2] = { io->off, io->len };

		ret = ioctl(a->fd,
			    io->op == IOENG_SECDISCARD ? BLKSECDISCARD
						       : BLKDISCARD,
			    range);
	} else {
		/* A file has no secure discard: a hole is all there is. */
		ret = fallocate(a->fd,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)io->off, (off_t)io->len);
	}
	return ret < 0 ? -errno : 0;
}

/* Fill the slot's iocb for what remains of its I/O. */
static void aio_prep(struct aio_eng *a, struct aio_slot *sl)
{
	const struct ioeng_io *io = &sl->io;
	char *p = (char *)io->buf + sl->done;
	size_t len = io->len - sl->done;
	long long off = (long long)(io->off + sl->done);

	switch (io->op) {
	case IOENG_READ:
		io_prep_pread(&sl->iocb, a->fd, p, len, off);
		break;
	case IOENG_WRITE:
		io_prep_pwrite(&sl->iocb, a->fd, p, len, off);
		break;
	default: /* FLUSH; the other operations are synchronous */
		io_prep_fdsync(&sl->iocb, a->fd);
		break;
	}
	/* After the io_prep_*(), which clear the whole iocb. */
	sl->iocb.data = sl;
	io_set_eventfd(&sl->iocb, a->efd);
}

/*
 * Issue the @n slots of @list (->staged or ->cont). Returns how many were
 * issued (accepted by the kernel or done synchronously); the others complete
 * with the error io_submit() gave them through ->reap(), the first such
 * error in *@err.
 */
static unsigned int aio_issue(struct aio_eng *a, const unsigned int *list,
			      unsigned int n, int *err)
{
	unsigned int i, nb = 0, pos = 0, issued = 0;
	int ret;

	for (i = 0; i < n; i++) {
		struct aio_slot *sl = &a->slots[list[i]];

		if (aio_is_sync(a, sl)) {
			aio_complete_sync(a, sl, aio_do_sync(a, &sl->io));
			issued++;
			continue;
		}
		aio_prep(a, sl);
		sl->state = AIO_INFLIGHT;
		a->batch[nb++] = &sl->iocb;
	}
	/*
	 * io_submit() stops at the first iocb it refuses: it returns the count
	 * before it, or that iocb's error when it is the first. Fail that one
	 * alone and go on with the rest.
	 */
	while (pos < nb) {
		struct aio_slot *sl;

		ret = io_submit(a->ctx, (long)(nb - pos), &a->batch[pos]);
		if (ret > 0) {
			pos += (unsigned int)ret;
			a->inflight += (unsigned int)ret;
			issued += (unsigned int)ret;
			continue;
		}
		if (ret == 0)
			ret = -EAGAIN; /* cannot happen; do not spin on it */
		sl = a->batch[pos]->data;
		pos++;
		if (ret == -EINVAL && sl->io.op == IOENG_FLUSH) {
			/* No IOCB_CMD_FDSYNC for this file: do it inline. */
			a->no_fdsync = 1;
			aio_complete_sync(a, sl, aio_do_sync(a, &sl->io));
			issued++;
			continue;
		}
		aio_complete_sync(a, sl, ret);
		if (!*err)
			*err = ret;
	}
	return issued;
}

/*
 * Account one io_event. Returns 1 and fills @d when its I/O is complete, 0
 * when it was a part of a short transfer (now in ->cont).
 */
static int aio_event(struct aio_eng *a, const struct io_event *ev,
		     struct ioeng_done *d)
{
	struct aio_slot *sl = ev->data;
	long res = (long)ev->res;

	assert(sl && sl->state == AIO_INFLIGHT);
	a->inflight--;
	if (res >= 0 &&
	    (sl->io.op == IOENG_READ || sl->io.op == IOENG_WRITE)) {
		uint32_t left = sl->io.len - sl->done;

		if (res == 0 && left) {
			/* At the end of the file: retrying would spin. */
			res = -EIO;
		} else if ((unsigned long)res < left) {
			sl->done += (uint32_t)res;
			sl->state = AIO_CONT;
			a->cont[a->ncont++] = aio_slot_index(a, sl);
			return 0;
		}
	}
	d->tag = sl->io.tag;
	d->res = res < 0 ? (int)res : 0;
	aio_slot_free(a, sl);
	return 1;
}

static unsigned int aio_take_sync(struct aio_eng *a, struct ioeng_done *done,
				  unsigned int max)
{
	unsigned int i;

	for (i = 0; i < max && a->nsync; i++) {
		struct aio_slot *sl = &a->slots[a->sync[a->sync_head]];

		done[i].tag = sl->io.tag;
		done[i].res = sl->res;
		a->sync_head = (a->sync_head + 1) % a->depth;
		a->nsync--;
		aio_slot_free(a, sl);
	}
	return i;
}

static void aio_destroy(struct ioeng *e)
{
	struct aio_eng *a = to_aio(e);

	if (!a)
		return;
	/*
	 * io_destroy() cancels what it can and blocks until the rest is
	 * done, so no READ lands in the queue's arena after we return.
	 */
	if (a->ctx_ok)
		io_destroy(a->ctx);
	if (a->efd >= 0)
		close(a->efd);
	free(a->events);
	free(a->batch);
	free(a->idx);
	free(a->slots);
	free(a);
}

static int aio_create(const struct ioeng_cfg *cfg, struct ioeng **out)
{
	struct aio_eng *a;
	unsigned int i;
	int ret;

	if (!cfg || !out || cfg->fd < 0 || !cfg->depth ||
	    cfg->depth > INT32_MAX / 4)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->efd = -1;
	a->fd = cfg->fd;
	a->is_blkdev = cfg->is_blkdev;
	a->depth = cfg->depth;

	ret = -ENOMEM;
	a->slots = calloc(cfg->depth, sizeof(*a->slots));
	a->idx = calloc(4 * (size_t)cfg->depth, sizeof(*a->idx));
	a->batch = calloc(cfg->depth, sizeof(*a->batch));
	a->events = calloc(cfg->depth, sizeof(*a->events));
	if (!a->slots || !a->idx || !a->batch || !a->events)
		goto err_destroy;
	a->free = a->idx;
	a->staged = a->free + cfg->depth;
	a->cont = a->staged + cfg->depth;
	a->sync = a->cont + cfg->depth;
	for (i = 0; i < cfg->depth; i++)
		a->free[i] = cfg->depth - 1 - i;
	a->nfree = cfg->depth;

	a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->efd < 0) {
		ret = -errno;
		goto err_destroy;
	}
	/* libaio: 0 or a negative errno, never -1 and errno. */
	ret = io_setup((int)cfg->depth, &a->ctx);
	if (ret < 0)
		goto err_destroy;
	a->ctx_ok = 1;
	*out = (struct ioeng *)a;
	return 0;

err_destroy:
	aio_destroy((struct ioeng *)a);
	return ret;
}

static int aio_event_fd(struct ioeng *e)
{
	return to_aio(e)->efd;
}

static int aio_queue(struct ioeng *e, const struct ioeng_io *io)
{
	struct aio_eng *a = to_aio(e);
	struct aio_slot *sl;
	unsigned int s;

	if (io->op > IOENG_SECDISCARD)
		return -EINVAL;
	if (!a->nfree)
		return -EBUSY;
	s = a->free[--a->nfree];
	sl = &a->slots[s];
	sl->io = *io;
	sl->done = 0;
	sl->res = 0;
	sl->state = AIO_STAGED;
	a->staged[a->nstaged++] = s;
	return 0;
}

static int aio_submit(struct ioeng *e)
{
	struct aio_eng *a = to_aio(e);
	unsigned int n = a->nstaged, issued;
	int err = 0;

	if (!n)
		return 0;
	a->nstaged = 0;
	issued = aio_issue(a, a->staged, n, &err);
	if (!issued && err)
		return err;
	return (int)issued;
}

static int aio_reap(struct ioeng *e, struct ioeng_done *done,
		    unsigned int max)
{
	struct aio_eng *a = to_aio(e);
	struct timespec zero = { 0, 0 };
	unsigned int n = 0, want;
	uint64_t cnt;
	int got, i, err = 0;
	ssize_t r;

	/* Draining for nothing would lose the wakeup. */
	if (!max)
		return 0;
	/*
	 * Drain before looking: a completion posted after this read makes
	 * the fd readable again, so none can be left behind unnoticed.
	 */
	r = read(a->efd, &cnt, sizeof(cnt));
	(void)r;
	for (;;) {
		n += aio_take_sync(a, done + n, max - n);
		if (n == max || !a->inflight)
			break;
		want = max - n < a->depth ? max - n : a->depth;
		/* min_nr 0 and a zero timeout: never blocks. */
		got = io_getevents(a->ctx, 0, (long)want, a->events, &zero);
		if (got == -EINTR)
			continue;
		if (got <= 0)
			break;
		for (i = 0; i < got; i++)
			n += (unsigned int)aio_event(a, &a->events[i],
						      &done[n]);
	}
	/* Failures here land in ->sync and write the eventfd. */
	if (a->ncont) {
		unsigned int nc = a->ncont;

		a->ncont = 0;
		aio_issue(a, a->cont, nc, &err);
	}
	return (int)n;
}

const struct ioeng_ops ioeng_aio_ops = {
	.name = "aio",
	.create = aio_create,
	.destroy = aio_destroy,
	.event_fd = aio_event_fd,
	.queue = aio_queue,
	.submit = aio_submit,
	.reap = aio_reap,
};
