// SPDX-License-Identifier: MIT
/*
 * blk-ioeng-errors-per-io - an I/O that fails completes with a negative
 * errno for its own tag only; the other I/Os of the same batch complete
 * with 0 and their data is right.
 *
 * On a file opened O_RDONLY: READs inside the file, a WRITE (-EBADF: the
 * aio engine hears it from io_submit(), io_uring in the CQE), a READ
 * entirely past the end of the file and one straddling it (both -EIO: a
 * short read is continued, and a continuation that reads nothing must not
 * be retried forever). On a loop device: a READ past its end (-EIO) and a
 * WRITE past its end (an error) among good READs and WRITEs.
 */
#include "lib/ioeng-test.h"

#define SIZE (1u << 20)
#define DEPTH 16u

struct case_io {
	uint8_t op;
	uint64_t off;
	uint32_t len;
	int want; /* 0, a negative errno, or 1: any negative errno */
};

static void run(struct tb_eng *t, const char *what, const struct case_io *c,
		unsigned int n, const unsigned char *data)
{
	const char *name = t->ops->name;
	int res[DEPTH];

	CHECK(n <= DEPTH && t->arena_len >= (size_t)n * 8192, "setup");
	for (unsigned int i = 0; i < n; i++) {
		unsigned char *buf = t->arena + (size_t)i * 8192;

		if (c[i].op == IOENG_WRITE)
			memcpy(buf, data + (c[i].off % SIZE), c[i].len);
		else
			memset(buf, 0x5a, c[i].len);
		tb_queue(t, c[i].op, c[i].off, c[i].len, buf, i);
	}
	tb_run(t, n, res, n);
	for (unsigned int i = 0; i < n; i++) {
		if (c[i].want == 1)
			CHECK(res[i] < 0, "%s on %s: I/O %u succeeded", name,
			      what, i);
		else
			CHECK(res[i] == c[i].want,
			      "%s on %s: I/O %u (op %u at %llu): %d, not %d",
			      name, what, i, c[i].op,
			      (unsigned long long)c[i].off, res[i], c[i].want);
		if (c[i].op == IOENG_READ && !c[i].want)
			CHECK(!memcmp(t->arena + (size_t)i * 8192,
				      data + c[i].off, c[i].len),
			      "%s on %s: read %u: wrong data", name, what, i);
	}
	printf("%s on %s: %u I/Os, each with its own result\n", name, what, n);
}

static const struct case_io file_ios[] = {
	{ IOENG_READ, 0, 4096, 0 },
	{ IOENG_WRITE, 8192, 4096, -EBADF },
	{ IOENG_READ, 65536, 8192, 0 },
	{ IOENG_READ, SIZE, 4096, -EIO },	 /* past the end */
	{ IOENG_READ, SIZE - 4096, 8192, -EIO }, /* straddling it */
	{ IOENG_READ, SIZE + (1u << 20), 512, -EIO },
	{ IOENG_READ, SIZE - 8192, 8192, 0 }, /* up to the end */
	{ IOENG_WRITE, 0, 512, -EBADF },
};

static const struct case_io dev_ios[] = {
	{ IOENG_READ, 0, 4096, 0 },
	{ IOENG_READ, SIZE, 4096, -EIO },
	{ IOENG_WRITE, 16384, 4096, 0 },
	{ IOENG_WRITE, SIZE + 4096, 4096, 1 },
	{ IOENG_READ, SIZE - 4096, 4096, 0 },
};

#define N(a) (unsigned int)(sizeof(a) / sizeof(a[0]))

int main(void)
{
	unsigned char *data = malloc(SIZE);
	uint64_t seed = 0xb7e151628aed2a6bull;
	unsigned int ran = 0;
	struct tb_store rw, ro, lo;
	int have_loop = tb_loop(&lo, SIZE) == 0;

	CHECK(data, "malloc");
	tb_fill(data, SIZE, &seed);
	if (!have_loop)
		printf("note: no loop device: block device errors not "
		       "checked\n");
	for (unsigned int i = 0; i < TB_NR_ENGINES; i++) {
		const char *name = tb_engines[i];
		struct tb_eng t;

		if (!strcmp(name, "null"))
			continue;
		/* Fill a file, then look at it read-only. */
		tb_file(&rw, SIZE, O_RDWR);
		if (tb_eng_open(&t, name, &rw, DEPTH, DEPTH * 8192) < 0) {
			tb_store_close(&rw);
			continue;
		}
		tb_write(&t, 0, data, SIZE);
		tb_eng_close(&t);
		ro = rw;
		snprintf(ro.dev, sizeof(ro.dev), "/proc/self/fd/%d", rw.fd);
		ro.fd = tb_open_direct(ro.dev, O_RDONLY, &ro.direct);
		CHECK(ro.fd >= 0, "reopen read-only: %s", strerror(errno));
		tb_store_close(&rw);
		CHECK(tb_eng_open(&t, name, &ro, DEPTH, DEPTH * 8192) == 0,
		      "%s read-only", name);
		run(&t, "read-only file", file_ios, N(file_ios), data);
		tb_eng_close(&t);
		tb_store_close(&ro);
		ran++;

		if (!have_loop)
			continue;
		CHECK(tb_eng_open(&t, name, &lo, DEPTH, DEPTH * 8192) == 0,
		      "%s over %s", name, lo.dev);
		tb_write(&t, 0, data, SIZE);
		run(&t, lo.dev, dev_ios, N(dev_ios), data);
		tb_eng_close(&t);
	}
	if (have_loop)
		tb_store_close(&lo);
	free(data);
	if (!ran)
		SKIP("neither io_uring nor kernel AIO available");
	return TEST_PASS;
}
