// SPDX-License-Identifier: MIT
/*
 * ioeng.c - the table of blkbackd's I/O engines, looked up by the name the
 * configuration gives, and what the engines share: the slot table, its
 * lists and the eventfd (see ioeng.h; its per-I/O half is inline there),
 * and the blocking forms of the operations. The engines themselves live in
 * ioeng_uring.c, ioeng_aio.c and ioeng_null.c; the queue that drives them
 * is blkback/queue.c.
 */
#include "blkback/ioeng.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const struct ioeng_ops *const ioeng_all[] = {
	&ioeng_uring_ops,
	&ioeng_aio_ops,
	&ioeng_null_ops,
};

const struct ioeng_ops *ioeng_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(ioeng_all) / sizeof(ioeng_all[0]); i++)
		if (!strcmp(ioeng_all[i]->name, name))
			return ioeng_all[i];
	return NULL;
}

int ioeng_slots_init(struct ioeng_slots *t, unsigned int depth)
{
	unsigned int i;
	int ret;

	/* Indexes travel as int (ioeng_slot_alloc()) and the lists as 4 x. */
	if (!depth || depth > INT_MAX / 4)
		return -EINVAL;
	ret = -ENOMEM;
	t->slot = calloc(depth, sizeof(*t->slot));
	t->idx = calloc(4 * (size_t)depth, sizeof(*t->idx));
	if (!t->slot || !t->idx)
		goto err_free;
	t->depth = depth;
	t->free = t->idx;
	t->staged = t->free + depth;
	t->cont = t->staged + depth;
	t->sync = t->cont + depth;
	/* Hand out low slots first: easier to read in a debugger. */
	for (i = 0; i < depth; i++)
		t->free[i] = depth - 1 - i;
	t->nfree = depth;

	t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t->efd < 0) {
		ret = -errno;
		goto err_free;
	}
	return 0;

err_free:
	/* Back to zeroed, which is what ioeng_slots_free() skips. */
	free(t->idx);
	free(t->slot);
	memset(t, 0, sizeof(*t));
	return ret;
}

void ioeng_slots_free(struct ioeng_slots *t)
{
	/* idx is set exactly when init succeeded: a zeroed efd is no fd. */
	if (!t->idx)
		return;
	close(t->efd);
	free(t->idx);
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

void ioeng_kick(int efd)
{
	uint64_t one = 1;
	ssize_t r = write(efd, &one, sizeof(one));

	(void)r;
}

void ioeng_drain(int efd)
{
	uint64_t cnt;
	ssize_t r = read(efd, &cnt, sizeof(cnt));

	(void)r;
}

int ioeng_run_sync(struct ioeng_slots *t, unsigned int s, int fd, int is_blkdev)
{
	struct ioeng_slot *sl = &t->slot[s];
	struct ioeng_io *io = &sl->io;

	switch (io->op) {
	case IOENG_READ:
	case IOENG_WRITE:
		break;
	case IOENG_FLUSH:
		return fdatasync(fd) < 0 ? -errno : 0;
	default:
		return ioeng_discard(fd, is_blkdev, io->op == IOENG_SECDISCARD,
				     io->off, io->len);
	}
	while (sl->done < io->len) {
		char *p = (char *)io->buf + sl->done;
		size_t left = io->len - sl->done;
		off_t off = (off_t)(io->off + sl->done);
		ssize_t r;

		if (io->niov) {
			ioeng_iov_seek(sl);
			r = io->op == IOENG_READ
				    ? preadv(fd, io->iov, (int)io->niov, off)
				    : pwritev(fd, io->iov, (int)io->niov, off);
		} else {
			r = io->op == IOENG_READ ? pread(fd, p, left, off)
						 : pwrite(fd, p, left, off);
		}

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		/* At the end of the file: retrying would spin. */
		if (r == 0)
			return -EIO;
		sl->done += (uint32_t)r;
	}
	return 0;
}

int ioeng_discard(int fd, int is_blkdev, int secure, uint64_t off, uint64_t len)
{
	int ret;

	if (is_blkdev) {
		uint64_t range[2] = { off, len };

		ret = ioctl(fd, secure ? BLKSECDISCARD : BLKDISCARD, range);
	} else {
		/* A file has no secure discard: a hole is all there is. */
		ret = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)off, (off_t)len);
	}
	return ret < 0 ? -errno : 0;
}
