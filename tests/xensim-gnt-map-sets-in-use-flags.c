// SPDX-License-Identifier: MIT
/*
 * xensim-gnt-map-sets-in-use-flags - while Dom0 maps a grant, the guest's
 * grant entry says so, as Xen keeps GTF_reading/GTF_writing set.
 *
 * Guest 1 grants a page to Dom0. A writable map sets GTF_reading and
 * GTF_writing in guest 1's entry; what Dom0 writes through the map is what
 * the guest reads; after unmap both bits are clear and the entry still
 * permits access. A read-only map sets GTF_reading only.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xengnttab.h>

#include "lib/check.h"
#include "lib/simenv.h"
#include "xensim/simclient.h"

static int to_parent[2], to_child[2];

static int guest(void *arg)
{
	xengntshr_handle *gs = xengntshr_open(NULL, 0);
	uint32_t ref;
	char *a, c;

	if (!gs)
		return 2;
	a = xengntshr_share_pages(gs, 0, 1, &ref, 1);
	if (!a)
		return 3;
	if (write(to_parent[1], &ref, sizeof(ref)) != sizeof(ref))
		return 4;
	if (read(to_child[0], &c, 1) != 1)
		return 5;
	/* Dom0 wrote through its mapping before letting us go. */
	return strcmp(a + 200, "written by dom0") ? 6 : 0;
}

int main(void)
{
	static struct simenv env;
	grant_entry_v1_t *gnt;
	xengnttab_handle *gt;
	uint32_t ref;
	uint16_t fl;
	char *m;
	pid_t pid;

	if (simenv_up(&env, 1))
		SKIP("cannot start xensim");
	CHECK(!pipe(to_parent) && !pipe(to_child), "pipe");
	pid = simenv_fork_as(&env, 1, guest, NULL);
	CHECK(pid > 0, "fork");
	/* Our copies of the child's ends go, so its death is EOF here. */
	close(to_parent[1]);
	close(to_child[0]);
	CHECK(read(to_parent[0], &ref, sizeof(ref)) == sizeof(ref), "ref");
	gnt = simpeek_grant_table(env.dir, 1);
	CHECK(gnt, "cannot look at guest 1's grant table");
	CHECK(ref < HV_GNT_ENTRIES, "ref %u", ref);

	simenv_become(&env, 0);
	gt = xengnttab_open(NULL, 0);
	CHECK(gt, "xengnttab_open: %s", strerror(errno));
	fl = gnt[ref].flags;
	CHECK(fl == GTF_permit_access && gnt[ref].domid == 0,
	      "fresh entry flags %#x domid %u", fl, gnt[ref].domid);

	m = xengnttab_map_grant_ref(gt, 1, ref, PROT_READ | PROT_WRITE);
	CHECK(m, "map: %s", strerror(errno));
	fl = gnt[ref].flags;
	CHECK((fl & (GTF_reading | GTF_writing)) == (GTF_reading | GTF_writing),
	      "mapped writable, flags %#x", fl);
	strcpy(m + 200, "written by dom0");
	CHECK(xengnttab_unmap(gt, m, 1) == 0, "unmap: %s", strerror(errno));
	fl = gnt[ref].flags;
	CHECK(fl == GTF_permit_access, "after unmap, flags %#x", fl);

	m = xengnttab_map_grant_ref(gt, 1, ref, PROT_READ);
	CHECK(m, "read-only map: %s", strerror(errno));
	fl = gnt[ref].flags;
	CHECK((fl & (GTF_reading | GTF_writing)) == GTF_reading,
	      "mapped read-only, flags %#x", fl);
	CHECK(!strcmp(m + 200, "written by dom0"), "read back through map");
	CHECK(xengnttab_unmap(gt, m, 1) == 0, "unmap: %s", strerror(errno));
	CHECK(gnt[ref].flags == GTF_permit_access, "flags %#x", gnt[ref].flags);

	xengnttab_close(gt);
	CHECK(write(to_child[1], "x", 1) == 1, "release guest");
	CHECK(simenv_wait(pid) == 0, "guest did not see Dom0's write");
	return TEST_PASS;
}
