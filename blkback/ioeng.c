// SPDX-License-Identifier: MIT
/*
 * ioeng.c - the table of blkbackd's I/O engines, looked up by the name the
 * configuration gives (see ioeng.h). The engines themselves live in
 * ioeng_uring.c, ioeng_aio.c and ioeng_null.c; the queue that drives them is
 * blkback/queue.c.
 */
#include "blkback/ioeng.h"

#include <string.h>

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
