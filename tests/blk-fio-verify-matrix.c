// SPDX-License-Identifier: MIT
/*
 * Real fio reads back every byte it wrote through blkbackd, with crc32c
 * verification, in every cell of the matrix
 *
 *   engine {uring, aio} x queues {1, 4} x ring order {0, 4}
 *     x persistent grants {on, off} x {randwrite, randrw}
 *
 * and for an x86_32 frontend (abi=x86_32) on both engines, both workloads,
 * in the smallest and the largest configuration. fio runs as a guest
 * through the blkfront ioengine (tests/fio/pvback-blkfront.c, shared code
 * in lib/fiorun.h): block sizes 512 B .. 1 MiB (bssplit, offsets 512-byte
 * aligned, sizes that need 1, 11, 12 and up to 256 segments) at iodepth
 * 16, so both direct and indirect requests go down every queue. randwrite
 * writes the whole disk then verifies it; randrw mixes reads and writes
 * over the disk and then verifies what it wrote (fio 3.33 verify+busy bug
 * #1526: the engine waits for room instead of answering FIO_Q_BUSY).
 *
 * Each cell has a fresh disk of its own and passes only if:
 *  - fio exits 0, its JSON report says error 0, and it names no corrupt
 *    block and no engine complaint;
 *  - verify read back every byte written: fio counts verify reads as reads
 *    and touches each block of the disk once before verifying, so its read
 *    bytes are (disk - written) + verified and must equal the disk size
 *    (randwrite: written = disk);
 *  - blkbackd counted the same bytes read and written for the disk, no
 *    error, as many queues as asked with requests on every one, indirect
 *    reads and writes, and persistent grant maps and hits when on, none
 *    when off;
 *  - blkbackd's log says the device connected with exactly the queues,
 *    ring order, ABI, engine and persistent setting of the cell.
 * One line per cell says whether it passed; the test fails if any did not
 * (an engine stops after 3 failed cells).
 *
 * One emulated host per engine (one after the other): native cells on
 * guest 1, x86_32 cells on guest 2, one blkbackd worker per guest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/blkscen.h"
#include "lib/check.h"
#include "lib/fiorun.h"

#define MIB (1024ull * 1024)
#define DISK_BYTES (16 * MIB)
#define IODEPTH 16
/*
 * Block sizes, by count: 512 B, 3.5 KiB (inside one page), 4 KiB, 44 KiB
 * (11 segments, the most a direct request carries), 44.5 KiB (12 pages:
 * indirect), 129 KiB, 504.5 KiB and 1 MiB (256 segments, one indirect page).
 */
#define BSSPLIT "512/15:3584/10:4k/15:44k/10:45568/10:132096/15:516608/15:1m/10"

struct cell {
	const char *rw; /* randwrite or randrw */
	unsigned int queues, order, persistent;
	const char *abi; /* native or x86_32 */
	unsigned int domid, devid;
};

#define MAX_CELLS 24
#define MAX_FAILED 3 /* cells failed before an engine gives up */

/* The cells of one engine: the full cross product, then x86_32. */
static unsigned int make_cells(struct cell *c)
{
	static const char *const rws[] = { "randwrite", "randrw" };
	unsigned int n = 0, k32 = 0;

	for (unsigned int w = 0; w < 2; w++)
		for (unsigned int q = 1; q <= 4; q += 3)
			for (unsigned int o = 0; o <= 4; o += 4)
				for (unsigned int p = 2; p-- > 0;) {
					c[n] = (struct cell){
						.rw = rws[w],
						.queues = q,
						.order = o,
						.persistent = p,
						.abi = "native",
						.domid = 1,
						.devid = 51712 + 16 * n,
					};
					n++;
				}
	/* The smallest and the largest configuration, as a 32-bit guest. */
	for (unsigned int w = 0; w < 4; w++) {
		unsigned int big = w & 1;

		c[n++] = (struct cell){
			.rw = rws[w / 2],
			.queues = big ? 4 : 1,
			.order = big ? 4 : 0,
			.persistent = big,
			.abi = "x86_32",
			.domid = 2,
			.devid = 51712 + 16 * k32++,
		};
	}
	CHECK(n <= MAX_CELLS, "too many cells");
	return n;
}

/* The last line of the daemon's log that holds @needle, in @buf. */
static int last_log_line(const char *log, const char *needle, char *buf,
			 size_t len)
{
	FILE *f = fopen(log, "r");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		char *p = strstr(line, needle);

		if (!p)
			continue;
		p += strlen(needle);
		p[strcspn(p, "\n")] = '\0';
		snprintf(buf, len, "%s", p);
		found = 1;
	}
	free(line);
	fclose(f);
	return found;
}

/*
 * Everything but fio's own verdict: what fio and blkbackd counted, and how
 * the device connected. NULL if the cell holds, else why not (static).
 */
static const char *check_cell(struct blk_scen *s, const char *engine,
			      const struct cell *c,
			      const struct fiorun_result *r,
			      const struct fiorun_backend *b)
{
	static char why[512];
	char dev[64], want[160], got[256];
	int randrw = !strcmp(c->rw, "randrw");
	unsigned long long written = r->write_bytes;

	if (randrw ? !written || written >= DISK_BYTES : written != DISK_BYTES)
		snprintf(why, sizeof(why), "fio wrote %llu bytes of %llu (%s)",
			 written, DISK_BYTES, c->rw);
	else if (r->read_bytes != DISK_BYTES)
		snprintf(why, sizeof(why),
			 "fio verified %lld of the %llu bytes it wrote "
			 "(read %llu)",
			 (long long)(r->read_bytes - (DISK_BYTES - written)),
			 written, r->read_bytes);
	else if (b->sectors_written * 512 != r->write_bytes ||
		 b->sectors_read * 512 != r->read_bytes)
		snprintf(why, sizeof(why),
			 "blkbackd counted %llu bytes written, %llu read; fio "
			 "%llu, %llu",
			 b->sectors_written * 512, b->sectors_read * 512,
			 r->write_bytes, r->read_bytes);
	else if (b->errors)
		snprintf(why, sizeof(why), "blkbackd counted %llu errors",
			 b->errors);
	else if (b->queues != c->queues)
		snprintf(why, sizeof(why), "blkbackd has %u queues, want %u",
			 b->queues, c->queues);
	else if (!b->indirect_read || !b->indirect_write)
		snprintf(why, sizeof(why),
			 "indirect requests: %llu reads, %llu writes",
			 b->indirect_read, b->indirect_write);
	else if (c->persistent && (!b->persistent_maps || !b->persistent_hits))
		snprintf(why, sizeof(why),
			 "persistent grants on, but %llu maps, %llu hits",
			 b->persistent_maps, b->persistent_hits);
	else if (!c->persistent && (b->persistent_maps || b->persistent_hits))
		snprintf(why, sizeof(why),
			 "persistent grants off, but %llu maps, %llu hits",
			 b->persistent_maps, b->persistent_hits);
	else
		why[0] = '\0';
	for (unsigned int q = 0; !why[0] && q < b->queues; q++)
		if (!b->queue_requests[q])
			snprintf(why, sizeof(why), "no request on queue %u", q);
	if (why[0])
		return why;

	snprintf(dev, sizeof(dev), "vbd/%u/%u: connected: ", c->domid,
		 c->devid);
	snprintf(want, sizeof(want),
		 "%u queue(s), ring order %u, %s abi, engine %s%s", c->queues,
		 c->order, c->abi, engine,
		 c->persistent ? ", persistent grants" : "");
	if (!last_log_line(s->log, dev, got, sizeof(got)))
		snprintf(why, sizeof(why), "no \"%s\" in the daemon log", dev);
	else if (strcmp(got, want))
		snprintf(why, sizeof(why), "connected with \"%s\", want \"%s\"",
			 got, want);
	return why[0] ? why : NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One cell on its own disk; prints its line. 0 if it passed, else 1. */
static int run_cell(struct blk_scen *s, const char *engine,
		    const char *engine_so, const struct cell *c, unsigned int i)
{
	char label[128], tag[64], name[80], img[PATH_MAX], opts[768], dev[64];
	struct fiorun_result r;
	struct fiorun_backend b;
	const char *why = NULL;
	double t0 = now_s();
	int rc;

	snprintf(label, sizeof(label),
		 "%-5s %-9s queues=%u order=%u persistent=%-3s abi=%-6s",
		 engine, c->rw, c->queues, c->order,
		 c->persistent ? "on" : "off", c->abi);
	snprintf(tag, sizeof(tag), "%s-%u", engine, i);
	snprintf(name, sizeof(name), "%s.img", tag);
	snprintf(img, sizeof(img), "%s", blk_image(s, name, DISK_BYTES, 0));
	blk_add(s, "vbd", c->domid, c->devid, img, NULL);
	snprintf(opts, sizeof(opts),
		 "--name=%s --devid=%u --queues=%u --ring_order=%u "
		 "--persistent=%u --abi=%s --indirect=256 --rw=%s "
		 "--bssplit=" BSSPLIT " --blockalign=512 --iodepth=%u "
		 "--direct=1 --verify=crc32c --verify_fatal=1 "
		 "--verify_state_save=0 --randseed=%u",
		 tag, c->devid, c->queues, c->order, c->persistent, c->abi,
		 c->rw, IODEPTH, 1000 + i);
	rc = fiorun_run(&s->env, c->domid, engine_so, tag, opts, &r);
	snprintf(dev, sizeof(dev), "vbd/%u/%u", c->domid, c->devid);
	if (rc)
		why = r.why;
	else if (fiorun_backend(&s->env, dev, &b))
		why = "no counters from blkbackd --stats --json";
	else
		why = check_cell(s, engine, c, &r, &b);
	if (why) {
		fprintf(stderr, "%s: FAIL: %s (%.1f s)\n", label, why,
			now_s() - t0);
		/* fio's own verdict: its output says more. */
		if (rc)
			fiorun_show(&r);
		return 1;
	}
	fprintf(stderr,
		"%s: ok, %.1f MiB written and verified, %llu+%llu indirect, "
		"%llu grant hits (%.1f s)\n",
		label, (double)r.write_bytes / MIB, b.indirect_read,
		b.indirect_write, b.persistent_hits, now_s() - t0);
	return 0;
}

/* One engine on its own emulated host; runs in a child process. */
static int scenario(const char *engine, const char *engine_so)
{
	struct cell cells[MAX_CELLS];
	unsigned int n = make_cells(cells), failed = 0;
	struct blk_scen s;
	char eng[64];

	snprintf(eng, sizeof(eng), "engine=%s", engine);
	blk_start(&s, 2, NULL, eng, "max-queues=4", "max-ring-page-order=4",
		  "max-indirect-segments=256", "persistent=1", NULL);
	for (unsigned int i = 0; i < n; i++) {
		failed += run_cell(&s, engine, engine_so, &cells[i], i);
		/* A dead daemon costs each cell a 10 s connect timeout. */
		if (failed == MAX_FAILED && i + 1 < n) {
			fprintf(stderr,
				"engine=%s: giving up, %u cells not run\n",
				engine, n - i - 1);
			break;
		}
	}
	if (failed) {
		fprintf(stderr, "engine=%s: %u of %u cells failed\n", engine,
			failed, n);
		return TEST_FAIL;
	}
	return blk_pass(&s);
}

int main(void)
{
	static const char *const engines[] = { "uring", "aio" };
	const char *so;
	int st[2];

	blk_require_daemon();
	so = blk_require_fio_engine();
	for (unsigned int i = 0; i < 2; i++) {
		pid_t pid;

		fflush(NULL);
		pid = fork();
		CHECK(pid >= 0, "fork");
		if (pid == 0)
			exit(scenario(engines[i], so));
		st[i] = simenv_wait(pid);
	}
	for (unsigned int i = 0; i < 2; i++)
		CHECK(st[i] == 0,
		      "engine=%s: fio verify matrix failed (exit %d)",
		      engines[i], st[i]);
	return TEST_PASS;
}
