// SPDX-License-Identifier: MIT
/*
 * blk-ioeng-uring-arena-not-registered - when the kernel refuses to
 * register the bounce arena as a fixed buffer (here: RLIMIT_MEMLOCK below
 * the arena's size, with CAP_IPC_LOCK dropped so the limit applies to
 * root), the io_uring engine is still created and does the same work with
 * plain READ/WRITE: the random write/read-back workload passes unchanged.
 *
 * The test first checks on a ring of its own that registration really is
 * refused under these conditions, and skips if it is not (nothing would be
 * shown). It drops a capability for good, so it is a program of its own.
 */
#include "lib/ioeng-test.h"

#include <linux/capability.h>
#include <liburing.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#define DEPTH 16u
#define NIOS 1000u

static void drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3
	};
	struct __user_cap_data_struct c[2];

	CHECK(syscall(SYS_capget, &h, c) == 0, "capget: %s", strerror(errno));
	c[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	c[CAP_TO_INDEX(CAP_IPC_LOCK)].permitted &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	CHECK(syscall(SYS_capset, &h, c) == 0, "capset: %s", strerror(errno));
}

/* Whether an io_uring of ours can register @len bytes at @buf. */
static int can_register(void *buf, size_t len, int *ring_err)
{
	struct io_uring ring;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	int ret = io_uring_queue_init(4, &ring, 0);

	*ring_err = ret;
	if (ret < 0)
		return 0;
	ret = io_uring_register_buffers(&ring, &iov, 1);
	io_uring_queue_exit(&ring);
	return ret == 0;
}

int main(void)
{
	size_t arena_len = (size_t)DEPTH * TB_REGION;
	struct rlimit rl = { .rlim_cur = 64 << 10, .rlim_max = 64 << 10 };
	struct tb_store st;
	struct tb_eng t;
	void *probe;
	int ring_err;

	CHECK(posix_memalign(&probe, 4096, arena_len) == 0, "alloc");
	drop_ipc_lock();
	CHECK(setrlimit(RLIMIT_MEMLOCK, &rl) == 0, "setrlimit: %s",
	      strerror(errno));
	if (can_register(probe, arena_len, &ring_err))
		SKIP("a %zu-byte fixed buffer registers anyway", arena_len);
	free(probe);
	if (ring_err < 0)
		SKIP("no io_uring here: %s", strerror(-ring_err));

	tb_file(&st, (uint64_t)2 * DEPTH * TB_REGION, O_RDWR);
	if (tb_eng_open(&t, "uring", &st, DEPTH, arena_len) < 0)
		SKIP("no io_uring engine here");
	tb_write_read_back(&t, DEPTH, 2 * DEPTH, NIOS, 0x3c6ef372fe94f82bull,
			   1);
	tb_eng_close(&t);
	tb_store_close(&st);
	return TEST_PASS;
}
