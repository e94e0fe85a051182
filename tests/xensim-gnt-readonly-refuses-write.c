// SPDX-License-Identifier: MIT
/*
 * xensim-gnt-readonly-refuses-write - a read-only grant can be read, never
 * written.
 *
 * Guest 1 grants one page read-only to Dom0. Dom0: a grant copy into it
 * fails for that segment (general_error, as Xen refuses to write-pin a r/o
 * entry) while a copy out of it in the same batch succeeds; a writable map
 * fails; a read-only map succeeds and shows the guest's data; the guest's
 * page is unchanged.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xengnttab.h>

#include "lib/check.h"
#include "lib/simenv.h"
#include "xensim/hvproto.h"

static int to_parent[2], to_child[2];

static int guest(void *arg)
{
	xengntshr_handle *gs = xengntshr_open(NULL, 0);
	uint32_t ref;
	uint8_t *a;
	char c;
	int i;

	if (!gs)
		return 2;
	a = xengntshr_share_pages(gs, 0, 1, &ref, 0);
	if (!a)
		return 3;
	memset(a, 0x3c, HV_PAGE_SIZE);
	if (write(to_parent[1], &ref, sizeof(ref)) != sizeof(ref))
		return 4;
	if (read(to_child[0], &c, 1) != 1)
		return 5;
	for (i = 0; i < (int)HV_PAGE_SIZE; i++)
		if (a[i] != 0x3c)
			return 6; /* somebody wrote a read-only grant */
	return 0;
}

int main(void)
{
	static struct simenv env;
	xengnttab_grant_copy_segment_t seg[2];
	uint8_t in[128], out[128];
	xengnttab_handle *gt;
	uint32_t ref;
	uint8_t *m;
	pid_t pid;
	int i;

	if (simenv_up(&env, 1))
		SKIP("cannot start xensim");
	CHECK(!pipe(to_parent) && !pipe(to_child), "pipe");
	pid = simenv_fork_as(&env, 1, guest, NULL);
	CHECK(pid > 0, "fork");
	/* Our copies of the child's ends go, so its death is EOF here. */
	close(to_parent[1]);
	close(to_child[0]);
	CHECK(read(to_parent[0], &ref, sizeof(ref)) == sizeof(ref), "ref");

	simenv_become(&env, 0);
	gt = xengnttab_open(NULL, 0);
	CHECK(gt, "xengnttab_open: %s", strerror(errno));

	memset(out, 0xee, sizeof(out));
	memset(in, 0, sizeof(in));
	memset(seg, 0, sizeof(seg));
	seg[0].flags = GNTCOPY_dest_gref;
	seg[0].source.virt = out;
	seg[0].dest.foreign.domid = 1;
	seg[0].dest.foreign.ref = ref;
	seg[0].dest.foreign.offset = 8;
	seg[0].len = sizeof(out);
	seg[1].flags = GNTCOPY_source_gref;
	seg[1].source.foreign.domid = 1;
	seg[1].source.foreign.ref = ref;
	seg[1].source.foreign.offset = 8;
	seg[1].dest.virt = in;
	seg[1].len = sizeof(in);
	CHECK(xengnttab_grant_copy(gt, 2, seg) == 0, "grant_copy: %s",
	      strerror(errno));
	CHECK(seg[0].status == GNTST_general_error, "copy into r/o grant: %d",
	      seg[0].status);
	CHECK(seg[1].status == GNTST_okay, "copy from r/o grant: %d",
	      seg[1].status);
	for (i = 0; i < (int)sizeof(in); i++)
		CHECK(in[i] == 0x3c, "read byte %d = %#x", i, in[i]);

	m = xengnttab_map_grant_ref(gt, 1, ref, PROT_READ | PROT_WRITE);
	CHECK(!m, "writable map of a read-only grant succeeded");
	m = xengnttab_map_grant_ref(gt, 1, ref, PROT_READ);
	CHECK(m, "read-only map: %s", strerror(errno));
	CHECK(m[0] == 0x3c && m[HV_PAGE_SIZE - 1] == 0x3c, "mapped data %#x",
	      m[0]);
	CHECK(xengnttab_unmap(gt, m, 1) == 0, "unmap: %s", strerror(errno));

	xengnttab_close(gt);
	CHECK(write(to_child[1], "x", 1) == 1, "release guest");
	CHECK(simenv_wait(pid) == 0, "guest saw its r/o page written");
	return TEST_PASS;
}
