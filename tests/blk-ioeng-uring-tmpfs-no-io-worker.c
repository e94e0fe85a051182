// SPDX-License-Identifier: MIT
/*
 * blk-ioeng-uring-tmpfs-no-io-worker - on a file in tmpfs, whose reads
 * cannot be asked not to block, the io_uring engine does READs and WRITEs
 * of up to 512 KiB itself, on the thread that submits them: no io-wq
 * worker thread (iou-wrk-*) is ever started for them, and the data is
 * right. Handing each such page copy to a worker took 0.4x the IOPS
 * (bench/results/blk-xensim.md).
 *
 * The store is written in 512 KiB pieces and read back whole, then DEPTH
 * 4 KiB READs at random places and DEPTH 4 KiB WRITEs at others go out in
 * one batch each, and everything is compared.
 *
 * Skips where /dev/shm is not tmpfs, and where this kernel's tmpfs takes
 * RWF_NOWAIT: io_uring then copies cached pages without a worker, and the
 * engine is right to give them to it.
 */
#include "lib/ioeng-test.h"

#include <dirent.h>

#define DEPTH 32u
#define SIZE (16u << 20)
#define PIECE (512u << 10)

/* How many threads of this process are io-wq workers. */
static unsigned int io_workers(void)
{
	DIR *d = opendir("/proc/self/task");
	unsigned int n = 0;
	struct dirent *de;

	CHECK(d, "/proc/self/task: %s", strerror(errno));
	while ((de = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue; /* gone meanwhile */
		if (fgets(comm, sizeof(comm), f) &&
		    !strncmp(comm, "iou-wrk-", 8))
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* One batch of DEPTH 4 KiB I/Os of @op at the offsets in @off. */
static void batch(struct tb_eng *t, uint8_t op, const uint64_t *off,
		  const unsigned char *want)
{
	int res[DEPTH];

	for (unsigned int i = 0; i < DEPTH; i++) {
		unsigned char *buf = t->arena + (size_t)i * 4096;

		if (op == IOENG_WRITE)
			memcpy(buf, want + off[i], 4096);
		else
			memset(buf, 0x5a, 4096);
		tb_queue(t, op, off[i], 4096, buf, i);
	}
	tb_run(t, DEPTH, res, DEPTH);
	for (unsigned int i = 0; i < DEPTH; i++) {
		CHECK(res[i] == 0, "op %u at %llu: %d", op,
		      (unsigned long long)off[i], res[i]);
		if (op == IOENG_READ)
			CHECK(!memcmp(t->arena + (size_t)i * 4096,
				      want + off[i], 4096),
			      "read at %llu: wrong data",
			      (unsigned long long)off[i]);
	}
}

int main(void)
{
	unsigned char *data = malloc(SIZE), *back = malloc(SIZE);
	uint64_t seed = 0x9e3779b97f4a7c15ull, off[DEPTH];
	struct tb_store st;
	struct tb_eng t;
	unsigned int n;

	CHECK(data && back, "malloc");
	tb_fill(data, SIZE, &seed);
	tb_shm_file(&st, SIZE);
	if (tb_eng_open(&t, "uring", &st, DEPTH, PIECE) < 0)
		SKIP("no io_uring here");
	CHECK(io_workers() == 0, "io-wq workers before any I/O");

	tb_write(&t, 0, data, SIZE);
	tb_read(&t, 0, back, SIZE);
	CHECK(!memcmp(back, data, SIZE), "the store does not read back");
	/* Page-aligned, distinct pages: the reads, then the writes. */
	for (unsigned int i = 0; i < DEPTH; i++)
		off[i] = (uint64_t)(i * (SIZE / 4096 / DEPTH) +
				    tb_rand(&seed) % (SIZE / 4096 / DEPTH)) *
			 4096;
	batch(&t, IOENG_READ, off, data);
	tb_fill(data, SIZE, &seed);
	batch(&t, IOENG_WRITE, off, data);
	batch(&t, IOENG_READ, off, data);

	/* A worker, once started, stays idle for seconds after its I/O. */
	n = io_workers();
	CHECK(n == 0, "%u io-wq worker(s) copied pages of a tmpfs file", n);
	tb_eng_close(&t);
	tb_store_close(&st);
	free(back);
	free(data);
	printf("uring on tmpfs: 512 KiB and 4 KiB I/Os, no io-wq worker\n");
	return TEST_PASS;
}
