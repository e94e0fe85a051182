// SPDX-License-Identifier: MIT
/*
 * store.c - backing stores: raw image files and block devices. Opens the
 * store once per device (control thread), learns its size, logical and
 * physical sector sizes and whether it can discard, and re-reads the size
 * for online resize. The queues (queue.c) share the fd for their I/O.
 */
#include "blkback/blkback.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

static int store_size(struct blk_store *st, uint64_t *sectors)
{
	struct stat sb;
	uint64_t bytes;

	if (st->is_blkdev) {
		if (ioctl(st->fd, BLKGETSIZE64, &bytes))
			return -errno;
	} else {
		if (fstat(st->fd, &sb))
			return -errno;
		bytes = (uint64_t)sb.st_size;
	}
	/* A partial last sector cannot be addressed: leave it out. */
	*sectors = bytes / BLK_SECTOR;
	return 0;
}

/*
 * Whether the device can erase securely (Linux offers discard-secure on the
 * same test). A misaligned range asks without doing anything: the kernel
 * refuses a device without secure erase (EOPNOTSUPP) before it checks the
 * alignment (EINVAL), on 6.x as on 5.x.
 */
static int store_can_secure_erase(struct blk_store *st)
{
	uint64_t range[2] = { 1, BLK_SECTOR };

	return ioctl(st->fd, BLKSECDISCARD, range) < 0 && errno == EINVAL;
}

static void store_geometry(struct blk_store *st)
{
	int lbs = 0;
	unsigned int pbs = 0;

	st->sector_size = BLK_SECTOR;
	st->phys_sector_size = BLK_SECTOR;
	if (st->is_blkdev) {
		if (!ioctl(st->fd, BLKSSZGET, &lbs) && lbs >= (int)BLK_SECTOR &&
		    lbs <= (int)BLK_PAGE && !(lbs & (lbs - 1)))
			st->sector_size = (unsigned int)lbs;
		if (!ioctl(st->fd, BLKPBSZGET, &pbs) &&
		    pbs >= st->sector_size && !(pbs & (pbs - 1)))
			st->phys_sector_size = pbs;
		else
			st->phys_sector_size = st->sector_size;
		/*
		 * Whether the device really discards is only known when it
		 * is tried; BLKDISCARD failing answers that request with an
		 * error. Secure discard is offered only where asked for.
		 */
		st->discard = 1;
		st->discard_granularity = st->phys_sector_size;
		st->discard_secure = !st->readonly &&
				     store_can_secure_erase(st);
	} else {
		/* Files: punching holes works on every filesystem we meet
		 * (ext4, xfs, btrfs, tmpfs); 4 KiB is the block size. */
		st->discard = 1;
		st->discard_granularity = BLK_PAGE;
		st->phys_sector_size = BLK_PAGE;
	}
	st->discard_alignment = 0;
}

/*
 * open(2) with O_NOATIME: a guest's reads must not write the image's inode
 * (atime was 5 % of blkbackd's CPU at 4 KiB reads from tmpfs), as they do
 * not through the kernel's blkback. Only the owner (or CAP_FOWNER) may ask
 * it: else (EPERM) without.
 */
static int store_open(const char *path, int flags)
{
	int fd = open(path, flags | O_NOATIME);

	if (fd < 0 && errno == EPERM)
		fd = open(path, flags);
	return fd;
}

int blk_store_open(struct blk_store *st, const char *name, const char *path,
		   int readonly, int direct, char *err, size_t errlen)
{
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat sb;
	int rc;

	memset(st, 0, sizeof(*st));
	st->fd = -1;
	snprintf(st->path, sizeof(st->path), "%s", path);
	if (!path[0]) {
		snprintf(err, errlen, "no backing store given (params empty)");
		return -ENOENT;
	}
	st->fd = direct ? store_open(path, flags | O_DIRECT) : -1;
	if (st->fd >= 0) {
		st->direct = 1;
	} else {
		rc = errno;
		st->fd = store_open(path, flags);
		if (st->fd < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot open %s: %s", path,
				 strerror(-rc));
			return rc;
		}
		if (direct)
			log_info(name,
				 "%s: O_DIRECT refused (%s), using the "
				 "page cache",
				 path, strerror(rc));
	}
	if (fstat(st->fd, &sb)) {
		rc = -errno;
		snprintf(err, errlen, "cannot stat %s: %s", path,
			 strerror(-rc));
		goto err_close;
	}
	if (S_ISBLK(sb.st_mode)) {
		st->is_blkdev = 1;
	} else if (!S_ISREG(sb.st_mode)) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s is neither a file nor a block device",
			 path);
		goto err_close;
	}
	st->readonly = readonly;
	rc = store_size(st, &st->sectors);
	if (rc) {
		snprintf(err, errlen, "cannot size %s: %s", path,
			 strerror(-rc));
		goto err_close;
	}
	store_geometry(st);
	return 0;

err_close:
	close(st->fd);
	st->fd = -1;
	return rc;
}

int blk_store_refresh(struct blk_store *st, int *changed)
{
	uint64_t sectors = 0;
	int rc = store_size(st, &sectors);

	*changed = 0;
	if (rc)
		return rc;
	if (sectors != st->sectors) {
		st->sectors = sectors;
		*changed = 1;
	}
	return 0;
}

void blk_store_close(struct blk_store *st)
{
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
}
