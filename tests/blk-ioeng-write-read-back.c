// SPDX-License-Identifier: MIT
/*
 * blk-ioeng-write-read-back - each I/O engine runs a random mix of READs
 * and WRITEs (512-byte aligned, 512 B to 1 MiB, anywhere in the arena) with
 * up to depth in flight and one submit per batch; every tag completes
 * exactly once with res 0, a READ returns what the last WRITE there put,
 * and the whole store reads back as written. The null engine completes
 * every tag once and leaves READ buffers alone.
 *
 * The store is a file under /var/tmp opened with O_DIRECT, so the I/O
 * really is asynchronous for both real engines.
 */
#include "lib/ioeng-test.h"

#define DEPTH 32u
#define NIOS 2000u

int main(void)
{
	unsigned int ran = 0;

	for (unsigned int i = 0; i < TB_NR_ENGINES; i++) {
		const char *name = tb_engines[i];
		int real = strcmp(name, "null") != 0;
		struct tb_store st;
		struct tb_eng t;

		tb_file(&st, (uint64_t)2 * DEPTH * TB_REGION, O_RDWR);
		if (!st.direct)
			printf("note: /var/tmp refuses O_DIRECT\n");
		if (tb_eng_open(&t, name, &st, DEPTH,
				(size_t)DEPTH * TB_REGION) < 0) {
			tb_store_close(&st);
			continue;
		}
		tb_write_read_back(&t, DEPTH, 2 * DEPTH, NIOS,
				   0x9e3779b97f4a7c15ull + i, real);
		tb_eng_close(&t);
		tb_store_close(&st);
		ran += real;
	}
	if (!ran)
		SKIP("neither io_uring nor kernel AIO available");
	return TEST_PASS;
}
