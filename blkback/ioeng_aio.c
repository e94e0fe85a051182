// SPDX-License-Identifier: MIT
/*
 * ioeng_aio.c - the libaio (Linux kernel AIO) I/O engine, for kernels
 * without io_uring or with it disabled (see ioeng.h; the default peer is
 * ioeng_uring.c, the queue driving both is blkback/queue.c).
 *
 * Kernel AIO is only asynchronous with O_DIRECT; on a buffered fd io_submit()
 * itself does the I/O, which works but blocks the queue's thread. The
 * bookkeeping is the one ioeng_uring.c uses too (struct ioeng_slots in
 * ioeng.h): each I/O owns one of depth slots, and the iocb of the same index,
 * from ->queue() until ->reap() hands its completion back, so slots in use
 * bound staged + in flight + unreaped completions. Every iocb carries the
 * slots' eventfd. What AIO cannot do runs synchronously in ->submit() and
 * completes through the sync FIFO that ->reap() empties first: discards
 * (fallocate or a BLK*DISCARD ioctl), FLUSH once the kernel refused
 * IOCB_CMD_FDSYNC, and iocbs io_submit() refused, with their error.
 * libaio returns negative errno values itself, not -1 and errno; io_event.res
 * is an unsigned long holding a negative errno: both are converted here.
 */
#include "blkback/ioeng.h"

#include <assert.h>
#include <errno.h>
#include <libaio.h>
#include <stdint.h>
#include <stdlib.h>

struct aio_eng {
	io_context_t ctx;
	int ctx_ok; /* io_setup() succeeded: io_destroy() it */
	int fd;	    /* the caller's backing fd */
	int is_blkdev;
	int no_fdsync; /* IOCB_CMD_FDSYNC refused: fdatasync() */

	struct ioeng_slots sl;	 /* sl.efd rides on every iocb */
	struct iocb *iocbs;	 /* depth: slot s's is iocbs[s], .data = slot */
	struct iocb **batch;	 /* depth: one io_submit() argument */
	struct io_event *events; /* depth: one io_getevents() result */
	unsigned int inflight;
};

/* The instance behind the opaque handle; see ioeng_uring.c for why a cast. */
static struct aio_eng *to_aio(struct ioeng *e)
{
	return (struct aio_eng *)e;
}

static unsigned int aio_slot_index(const struct aio_eng *a,
				   const struct ioeng_slot *sl)
{
	return (unsigned int)(sl - a->sl.slot);
}

static int aio_is_sync(const struct aio_eng *a, const struct ioeng_slot *sl)
{
	return sl->io.op == IOENG_DISCARD || sl->io.op == IOENG_SECDISCARD ||
	       (sl->io.op == IOENG_FLUSH && a->no_fdsync);
}

/* The blocking form of a DISCARD, SECDISCARD or FLUSH in slot @s. */
static int aio_do_sync(struct aio_eng *a, unsigned int s)
{
	return ioeng_run_sync(&a->sl, s, a->fd, a->is_blkdev);
}

/* Fill slot @s's iocb for what remains of its I/O. */
static struct iocb *aio_prep(struct aio_eng *a, unsigned int s)
{
	struct ioeng_slot *sl = &a->sl.slot[s];
	struct iocb *cb = &a->iocbs[s];
	const struct ioeng_io *io = &sl->io;
	char *p = (char *)io->buf + sl->done;
	size_t len = io->len - sl->done;
	long long off = (long long)(io->off + sl->done);

	if (io->niov)
		ioeng_iov_seek(sl);
	switch (io->op) {
	case IOENG_READ:
		if (io->niov)
			io_prep_preadv(cb, a->fd, io->iov, (int)io->niov, off);
		else
			io_prep_pread(cb, a->fd, p, len, off);
		break;
	case IOENG_WRITE:
		if (io->niov)
			io_prep_pwritev(cb, a->fd, io->iov, (int)io->niov, off);
		else
			io_prep_pwrite(cb, a->fd, p, len, off);
		break;
	default: /* FLUSH; the other operations are synchronous */
		io_prep_fdsync(cb, a->fd);
		break;
	}
	/* After the io_prep_*(), which clear the whole iocb. */
	cb->data = sl;
	io_set_eventfd(cb, a->sl.efd);
	return cb;
}

/*
 * Issue the @n slots of @list (the staged or the cont list). Returns how
 * many were issued (accepted by the kernel or done synchronously); the
 * others complete with the error io_submit() gave them through ->reap(), the
 * first such error in *@err.
 */
static unsigned int aio_issue(struct aio_eng *a, const unsigned int *list,
			      unsigned int n, int *err)
{
	unsigned int i, nb = 0, pos = 0, issued = 0;
	int ret;

	for (i = 0; i < n; i++) {
		unsigned int s = list[i];
		struct ioeng_slot *sl = &a->sl.slot[s];

		if (aio_is_sync(a, sl)) {
			ioeng_sync_push(&a->sl, s, aio_do_sync(a, s));
			issued++;
			continue;
		}
		a->batch[nb++] = aio_prep(a, s);
		sl->state = IOENG_SLOT_INFLIGHT;
	}
	/*
	 * io_submit() stops at the first iocb it refuses: it returns the count
	 * before it, or that iocb's error when it is the first. Fail that one
	 * alone and go on with the rest.
	 */
	while (pos < nb) {
		struct ioeng_slot *sl;
		unsigned int s;

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
		s = aio_slot_index(a, sl);
		pos++;
		if (ret == -EINVAL && sl->io.op == IOENG_FLUSH) {
			/* No IOCB_CMD_FDSYNC for this file: do it inline. */
			a->no_fdsync = 1;
			ioeng_sync_push(&a->sl, s, aio_do_sync(a, s));
			issued++;
			continue;
		}
		ioeng_sync_push(&a->sl, s, ret);
		if (!*err)
			*err = ret;
	}
	return issued;
}

/*
 * Account one io_event. Returns 1 and fills @d when its I/O is complete, 0
 * when it was a part of a short transfer (now on the cont list).
 */
static int aio_event(struct aio_eng *a, const struct io_event *ev,
		     struct ioeng_done *d)
{
	struct ioeng_slot *sl = ev->data;

	assert(sl && sl->state == IOENG_SLOT_INFLIGHT);
	a->inflight--;
	return ioeng_slot_finish(&a->sl, aio_slot_index(a, sl), (long)ev->res,
				 d);
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
	ioeng_slots_free(&a->sl);
	free(a->events);
	free(a->batch);
	free(a->iocbs);
	free(a);
}

static int aio_create(const struct ioeng_cfg *cfg, struct ioeng **out)
{
	struct aio_eng *a;
	int ret;

	if (!cfg || !out || cfg->fd < 0 || !cfg->depth ||
	    cfg->depth > INT32_MAX / 4)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fd = cfg->fd;
	a->is_blkdev = cfg->is_blkdev;

	ret = ioeng_slots_init(&a->sl, cfg->depth);
	if (ret < 0)
		goto err_destroy;
	ret = -ENOMEM;
	a->iocbs = calloc(cfg->depth, sizeof(*a->iocbs));
	a->batch = calloc(cfg->depth, sizeof(*a->batch));
	a->events = calloc(cfg->depth, sizeof(*a->events));
	if (!a->iocbs || !a->batch || !a->events)
		goto err_destroy;
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
	return to_aio(e)->sl.efd;
}

static int aio_queue(struct ioeng *e, const struct ioeng_io *io)
{
	struct aio_eng *a = to_aio(e);
	int s = ioeng_slot_alloc(&a->sl, io);

	if (s < 0)
		return s;
	ioeng_slot_stage(&a->sl, (unsigned int)s);
	return 0;
}

static int aio_submit(struct ioeng *e)
{
	struct aio_eng *a = to_aio(e);
	unsigned int *list, issued;
	unsigned int n = ioeng_staged_take(&a->sl, &list);
	int err = 0;

	if (!n)
		return 0;
	issued = aio_issue(a, list, n, &err);
	if (!issued && err)
		return err;
	return (int)issued;
}

static int aio_reap(struct ioeng *e, struct ioeng_done *done, unsigned int max)
{
	struct aio_eng *a = to_aio(e);
	struct timespec zero = { 0, 0 };
	unsigned int n = 0, want, nc, *list;
	int got, i, err = 0;

	/* Draining for nothing would lose the wakeup. */
	if (!max)
		return 0;
	ioeng_drain(a->sl.efd);
	for (;;) {
		n += ioeng_sync_pop(&a->sl, done + n, max - n);
		if (n == max || !a->inflight)
			break;
		want = max - n < a->sl.depth ? max - n : a->sl.depth;
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
	/* Failures here land in the sync FIFO and write the eventfd. */
	nc = ioeng_cont_take(&a->sl, &list);
	if (nc)
		aio_issue(a, list, nc, &err);
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
