// SPDX-License-Identifier: MIT
/*
 * ioeng_null.c - the null I/O engine (see ioeng.h): every I/O completes with
 * res 0 on the first ->reap() after its ->submit(), without touching storage
 * (a READ leaves the buffer as it is). It measures what the backend itself
 * costs: rings, grant copies, the queue in blkback/queue.c. Its peers with
 * real storage behind them are ioeng_uring.c and ioeng_aio.c.
 *
 * The tags sit in one FIFO of depth entries: the oldest ndone are complete
 * (submitted, waiting for ->reap()), the nstaged after them are staged. A
 * submit only moves the boundary. The eventfd is written by a submit that
 * completes something when nothing was waiting, so it polls readable while
 * ->reap() has something to hand back, until the first ->reap() after that
 * (one that leaves some behind returns all it was asked for, and is called
 * again: ioeng.h): one write per reap, not per submit. With no slots, of
 * the bookkeeping the other engines share (ioeng.h) it uses only the
 * eventfd's kick and drain.
 */
#include "blkback/ioeng.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct null_eng {
	int efd;
	unsigned int depth;
	uint64_t *tags;	   /* FIFO of depth tags */
	unsigned int head; /* oldest complete tag */
	unsigned int ndone;
	unsigned int nstaged;
};

/* The instance behind the opaque handle; see ioeng_uring.c for why a cast. */
static struct null_eng *to_null(struct ioeng *e)
{
	return (struct null_eng *)e;
}

static void null_destroy(struct ioeng *e)
{
	struct null_eng *n = to_null(e);

	if (!n)
		return;
	if (n->efd >= 0)
		close(n->efd);
	free(n->tags);
	free(n);
}

static int null_create(const struct ioeng_cfg *cfg, struct ioeng **out)
{
	struct null_eng *n;

	if (!cfg || !out || !cfg->depth)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->efd = -1;
	n->depth = cfg->depth;
	n->tags = calloc(cfg->depth, sizeof(*n->tags));
	if (!n->tags)
		goto err_destroy;
	n->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (n->efd < 0)
		goto err_destroy;
	*out = (struct ioeng *)n;
	return 0;

err_destroy:
	/* null_destroy() copes with whatever got built. */
	null_destroy((struct ioeng *)n);
	return -ENOMEM;
}

static int null_event_fd(struct ioeng *e)
{
	return to_null(e)->efd;
}

static int null_queue(struct ioeng *e, const struct ioeng_io *io)
{
	struct null_eng *n = to_null(e);

	if (io->op > IOENG_SECDISCARD)
		return -EINVAL;
	if (n->ndone + n->nstaged >= n->depth)
		return -EBUSY;
	n->tags[(n->head + n->ndone + n->nstaged) % n->depth] = io->tag;
	n->nstaged++;
	return 0;
}

static int null_submit(struct ioeng *e)
{
	struct null_eng *n = to_null(e);
	unsigned int issued = n->nstaged;

	if (!issued)
		return 0;
	if (!n->ndone)
		ioeng_kick(n->efd);
	n->ndone += issued;
	n->nstaged = 0;
	return (int)issued;
}

static int null_reap(struct ioeng *e, struct ioeng_done *done, unsigned int max)
{
	struct null_eng *n = to_null(e);
	unsigned int i;

	/* Draining for nothing would lose the wakeup. */
	if (!max)
		return 0;
	/* Drain first: a submit after this point writes the fd again. */
	ioeng_drain(n->efd);
	for (i = 0; i < max && n->ndone; i++) {
		done[i].tag = n->tags[n->head];
		done[i].res = 0;
		n->head = (n->head + 1) % n->depth;
		n->ndone--;
	}
	return (int)i;
}

const struct ioeng_ops ioeng_null_ops = {
	.name = "null",
	.create = null_create,
	.destroy = null_destroy,
	.event_fd = null_event_fd,
	.queue = null_queue,
	.submit = null_submit,
	.reap = null_reap,
};
