// SPDX-License-Identifier: MIT
/*
 * xensim-gnt-copy-ungranted-fails-per-segment - one grant copy batch, four
 * segments, four answers, as Xen's gnttab_copy gives them.
 *
 * Guest 1 grants page A to Dom0 and page B to guest 2. Dom0 copies in one
 * call: from A (okay, data arrives), from a ref guest 1 never granted
 * (general_error), from B (general_error: granted to someone else), and from
 * a ref past the grant table (bad_gntref). The call itself succeeds.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <xengnttab.h>

#include "lib/check.h"
#include "lib/simenv.h"
#include "xensim/hvproto.h"

static int to_parent[2], to_child[2];

static int guest(void *arg)
{
	xengntshr_handle *gs = xengntshr_open(NULL, 0);
	uint32_t refs[2];
	uint8_t *a, *b;
	char c;

	if (!gs)
		return 2;
	a = xengntshr_share_pages(gs, 0, 1, &refs[0], 1);
	b = xengntshr_share_pages(gs, 2, 1, &refs[1], 1);
	if (!a || !b)
		return 3;
	memset(a, 0x5a, HV_PAGE_SIZE);
	memset(b, 0x6b, HV_PAGE_SIZE);
	if (write(to_parent[1], refs, sizeof(refs)) != sizeof(refs))
		return 4;
	/* Keep the grants until Dom0 is done. */
	if (read(to_child[0], &c, 1) != 1)
		return 5;
	return 0;
}

int main(void)
{
	static struct simenv env;
	xengnttab_grant_copy_segment_t seg[4];
	uint8_t buf[4][64];
	uint32_t refs[2];
	xengnttab_handle *gt;
	pid_t pid;
	int i;

	if (simenv_up(&env, 2))
		SKIP("cannot start xensim");
	CHECK(!pipe(to_parent) && !pipe(to_child), "pipe");
	pid = simenv_fork_as(&env, 1, guest, NULL);
	CHECK(pid > 0, "fork");
	/* Our copies of the child's ends go, so its death is EOF here. */
	close(to_parent[1]);
	close(to_child[0]);
	CHECK(read(to_parent[0], refs, sizeof(refs)) == sizeof(refs), "refs");

	simenv_become(&env, 0);
	gt = xengnttab_open(NULL, 0);
	CHECK(gt, "xengnttab_open: %s", strerror(errno));
	memset(seg, 0, sizeof(seg));
	memset(buf, 0, sizeof(buf));
	uint32_t src[4] = { refs[0], 5000, refs[1], HV_GNT_ENTRIES };

	CHECK(refs[0] != 5000 && refs[1] != 5000, "ref 5000 was granted");
	for (i = 0; i < 4; i++) {
		seg[i].flags = GNTCOPY_source_gref;
		seg[i].source.foreign.domid = 1;
		seg[i].source.foreign.ref = src[i];
		seg[i].source.foreign.offset = 100;
		seg[i].dest.virt = buf[i];
		seg[i].len = sizeof(buf[i]);
		seg[i].status = 99;
	}
	CHECK(xengnttab_grant_copy(gt, 4, seg) == 0, "grant_copy: %s",
	      strerror(errno));
	CHECK(seg[0].status == GNTST_okay, "good segment: %d", seg[0].status);
	CHECK(seg[1].status == GNTST_general_error, "never granted: %d",
	      seg[1].status);
	CHECK(seg[2].status == GNTST_general_error, "granted to dom2: %d",
	      seg[2].status);
	CHECK(seg[3].status == GNTST_bad_gntref, "out of range: %d",
	      seg[3].status);
	for (i = 0; i < 64; i++) {
		CHECK(buf[0][i] == 0x5a, "good data byte %d = %#x", i,
		      buf[0][i]);
		CHECK(buf[1][i] == 0 && buf[2][i] == 0 && buf[3][i] == 0,
		      "a failed segment copied data");
	}
	xengnttab_close(gt);
	CHECK(write(to_child[1], "x", 1) == 1, "release guest");
	CHECK(simenv_wait(pid) == 0, "guest failed");
	return TEST_PASS;
}
