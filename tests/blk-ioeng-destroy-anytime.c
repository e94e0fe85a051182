// SPDX-License-Identifier: MIT
/*
 * blk-ioeng-destroy-anytime - ->destroy() is NULL-safe, ->create() refuses
 * a bad configuration and unwinds a half-built instance without leaking
 * (the sanitizer build checks the leaking), and an instance with I/Os
 * staged, in flight and completed-but-unreaped is destroyed without
 * hanging or touching freed memory: the arena is scribbled over and freed
 * right after ->destroy(), as a queue tearing down would.
 */
#include "lib/ioeng-test.h"

#define DEPTH 32u

int main(void)
{
	unsigned int ran = 0;

	for (unsigned int i = 0; i < TB_NR_ENGINES; i++) {
		const char *name = tb_engines[i];
		const struct ioeng_ops *ops = ioeng_find(name);
		struct ioeng_cfg cfg = { .fd = -1, .depth = 8 };
		struct ioeng *e = NULL;
		struct tb_store st;
		struct tb_eng t;
		int ret;

		CHECK(ops, "%s", name);
		ops->destroy(NULL);
		cfg.depth = 0;
		cfg.fd = 0;
		CHECK(ops->create(&cfg, &e) == -EINVAL && !e,
		      "%s: depth 0 accepted", name);
		if (strcmp(name, "null") != 0) {
			cfg.depth = 8;
			cfg.fd = -1;
			CHECK(ops->create(&cfg, &e) == -EINVAL && !e,
			      "%s: fd -1 accepted", name);
		}
		/* More than the kernel gives: uring refuses it up front, aio
		 * when io_setup() fails after the allocations (the unwind
		 * ladder), null just takes it. */
		cfg.fd = 0;
		cfg.depth = 1u << 20;
		ret = ops->create(&cfg, &e);
		if (ret == 0)
			ops->destroy(e);
		else
			CHECK(ret < 0, "%s: huge depth: %d", name, ret);
		e = NULL;

		tb_file(&st, 4u << 20, O_RDWR);
		if (tb_eng_open(&t, name, &st, DEPTH, DEPTH * 65536) < 0) {
			tb_store_close(&st);
			continue;
		}
		for (unsigned int round = 0; round < 3; round++) {
			for (unsigned int j = 0; j < DEPTH; j++) {
				uint8_t op = j % 3 ? IOENG_READ : IOENG_WRITE;

				if (j == DEPTH / 2)
					CHECK(t.ops->submit(t.e) >= 0,
					      "%s: submit", name);
				if (j == DEPTH - 2)
					op = IOENG_FLUSH;
				tb_queue(&t, op, (uint64_t)j * 65536, 65536,
					 t.arena + (size_t)j * 65536, j);
			}
			/* Some done (and maybe reaped), some staged. */
			if (round == 1) {
				struct ioeng_done d[4];

				tb_readable(&t, 1000);
				t.ops->reap(t.e, d, 4);
			}
			if (round < 2) {
				t.ops->destroy(t.e);
				memset(t.arena, 0xee, t.arena_len);
				t.e = NULL;
				tb_eng_close(&t);
				CHECK(tb_eng_open(&t, name, &st, DEPTH,
						  DEPTH * 65536) == 0,
				      "%s: reopen", name);
			}
		}
		tb_eng_close(&t);
		tb_store_close(&st);
		ran += strcmp(name, "null") != 0;
		printf("%s: destroyed with I/O pending, three times\n", name);
	}
	if (!ran)
		SKIP("neither io_uring nor kernel AIO available");
	return TEST_PASS;
}
