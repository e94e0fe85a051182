// SPDX-License-Identifier: MIT
/*
 * blk-ioeng-discard-reads-zeros - after a DISCARD (or SECDISCARD) completes
 * with 0, its range reads back zeros and the bytes around it are intact.
 *
 * Both real engines, on a file (punch hole: ranges aligned to 4 KiB and
 * ranges that cut filesystem blocks at 512-byte boundaries) and on a loop
 * device over a file (BLKDISCARD; the loop driver punches the hole below).
 * A loop device has no secure discard: a SECDISCARD there may fail with
 * -EOPNOTSUPP, and must then have left the data alone. All discards of a
 * store go in one batch.
 */
#include "lib/ioeng-test.h"

#define SIZE (8u << 20)
#define DEPTH 16u

struct range {
	uint8_t op;
	uint64_t off;
	uint32_t len;
};

static const struct range ranges[] = {
	{ IOENG_DISCARD, 4096, 8192 },
	{ IOENG_DISCARD, (1u << 20) + 512, 3 * 512 },	   /* inside a block */
	{ IOENG_DISCARD, (2u << 20) - 1024, 4096 + 2048 }, /* across blocks */
	{ IOENG_DISCARD, 3u << 20, 1u << 20 },
	{ IOENG_SECDISCARD, (5u << 20) + 3 * 4096, 5 * 4096 },
	{ IOENG_DISCARD, SIZE - 4096, 4096 }, /* the last block */
};
#define NR (sizeof(ranges) / sizeof(ranges[0]))

static void run(struct tb_eng *t, const struct tb_store *st)
{
	const char *name = t->ops->name;
	const char *what = st->is_blkdev ? st->dev : "file";
	unsigned char *data = malloc(SIZE), *back = malloc(SIZE);
	uint64_t seed = 0x243f6a8885a308d3ull;
	int res[NR];

	CHECK(data && back, "malloc");
	tb_fill(data, SIZE, &seed);
	tb_write(t, 0, data, SIZE);
	for (unsigned int i = 0; i < NR; i++)
		tb_queue(t, ranges[i].op, ranges[i].off, ranges[i].len, NULL,
			 i);
	tb_run(t, NR, res, NR);
	for (unsigned int i = 0; i < NR; i++) {
		const struct range *r = &ranges[i];

		if (r->op == IOENG_SECDISCARD && st->is_blkdev &&
		    res[i] == -EOPNOTSUPP) {
			printf("%s on %s: no secure discard: data kept\n", name,
			       what);
			continue;
		}
		CHECK(res[i] == 0, "%s on %s: discard %u (%llu+%u): %d", name,
		      what, i, (unsigned long long)r->off, r->len, res[i]);
		memset(data + r->off, 0, r->len);
	}
	tb_read(t, 0, back, SIZE);
	for (size_t i = 0; i < SIZE; i += 512)
		CHECK(!memcmp(back + i, data + i, 512),
		      "%s on %s: sector at %zu: %s", name, what, i,
		      tb_all_zero(data + i, 512) ? "not zero after discard"
						 : "data around discard lost");
	printf("%s on %s: %zu ranges checked\n", name, what, NR);
	free(back);
	free(data);
}

int main(void)
{
	unsigned int ran = 0;
	struct tb_store st, lo;
	int have_loop = tb_loop(&lo, SIZE) == 0;

	if (!have_loop)
		printf("note: no loop device: BLKDISCARD not checked\n");
	for (unsigned int i = 0; i < TB_NR_ENGINES; i++) {
		const char *name = tb_engines[i];
		struct tb_eng t;

		if (!strcmp(name, "null"))
			continue;
		tb_file(&st, SIZE, O_RDWR);
		if (tb_eng_open(&t, name, &st, DEPTH, 1u << 20) < 0) {
			tb_store_close(&st);
			continue;
		}
		run(&t, &st);
		tb_eng_close(&t);
		tb_store_close(&st);
		ran++;

		if (!have_loop)
			continue;
		CHECK(tb_eng_open(&t, name, &lo, DEPTH, 1u << 20) == 0,
		      "%s over %s", name, lo.dev);
		run(&t, &lo);
		tb_eng_close(&t);
	}
	if (have_loop)
		tb_store_close(&lo);
	if (!ran)
		SKIP("neither io_uring nor kernel AIO available");
	return TEST_PASS;
}
