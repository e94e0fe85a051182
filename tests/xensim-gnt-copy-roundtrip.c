// SPDX-License-Identifier: MIT
/*
 * xensim-gnt-copy-roundtrip - what Dom0 copies into a guest page is what it
 * copies back out, and what the guest sees, at any sub-page offset.
 *
 * Guest 1 grants two pages. Dom0 copies a whole page into the first, and
 * three odd-sized pieces at odd offsets into the second from a local buffer
 * crossing a page boundary; then copies everything back into fresh buffers
 * and compares. The guest checks its pages hold the bytes too. A segment
 * whose gref side crosses the page fails the whole call with EINVAL, as
 * Linux's gntdev does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xengnttab.h>

#include "lib/check.h"
#include "lib/simenv.h"
#include "xensim/hvproto.h"

static int to_parent[2], to_child[2];

static uint8_t pattern(unsigned int i)
{
	return (uint8_t)(i * 7 + 3);
}

static int guest(void *arg)
{
	xengntshr_handle *gs = xengntshr_open(NULL, 0);
	uint32_t refs[2];
	uint8_t *a;
	unsigned int i;
	char c;

	if (!gs)
		return 2;
	a = xengntshr_share_pages(gs, 0, 2, refs, 1);
	if (!a)
		return 3;
	if (write(to_parent[1], refs, sizeof(refs)) != sizeof(refs))
		return 4;
	if (read(to_child[0], &c, 1) != 1)
		return 5;
	for (i = 0; i < HV_PAGE_SIZE; i++)
		if (a[i] != pattern(i))
			return 6;
	if (a[HV_PAGE_SIZE + 1] != pattern(1000) ||
	    a[HV_PAGE_SIZE + 4095] != pattern(4095 + 999))
		return 7;
	return 0;
}

static void seg_to(xengnttab_grant_copy_segment_t *s, void *virt, uint32_t ref,
		   uint16_t off, uint16_t len)
{
	memset(s, 0, sizeof(*s));
	s->flags = GNTCOPY_dest_gref;
	s->source.virt = virt;
	s->dest.foreign.domid = 1;
	s->dest.foreign.ref = ref;
	s->dest.foreign.offset = off;
	s->len = len;
}

static void seg_from(xengnttab_grant_copy_segment_t *s, void *virt,
		     uint32_t ref, uint16_t off, uint16_t len)
{
	memset(s, 0, sizeof(*s));
	s->flags = GNTCOPY_source_gref;
	s->source.foreign.domid = 1;
	s->source.foreign.ref = ref;
	s->source.foreign.offset = off;
	s->dest.virt = virt;
	s->len = len;
}

int main(void)
{
	static struct simenv env;
	xengnttab_grant_copy_segment_t seg[4];
	uint8_t *local, *back;
	xengnttab_handle *gt;
	uint32_t refs[2];
	unsigned int i;
	pid_t pid;

	if (simenv_up(&env, 1))
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
	/* Two local pages, so the pieces below cross a page boundary. */
	local = mmap(NULL, 2 * HV_PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	back = mmap(NULL, 2 * HV_PAGE_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(local != MAP_FAILED && back != MAP_FAILED, "mmap");
	for (i = 0; i < 2 * HV_PAGE_SIZE; i++)
		local[i] = pattern(i);

	/* Page 0 whole; page 1 in three pieces (offsets 1, 901, 3096) from
	 * local bytes 1000..5094, which straddle the local page boundary. */
	seg_to(&seg[0], local, refs[0], 0, HV_PAGE_SIZE);
	seg_to(&seg[1], local + 1000, refs[1], 1, 900);
	seg_to(&seg[2], local + 1900, refs[1], 901, 2195);
	seg_to(&seg[3], local + 4095, refs[1], 3096, 1000);
	CHECK(xengnttab_grant_copy(gt, 4, seg) == 0, "copy in: %s",
	      strerror(errno));
	for (i = 0; i < 4; i++)
		CHECK(seg[i].status == GNTST_okay, "copy in seg %u: %d", i,
		      seg[i].status);

	seg_from(&seg[0], back, refs[0], 0, HV_PAGE_SIZE);
	seg_from(&seg[1], back + 1000, refs[1], 1, 900);
	seg_from(&seg[2], back + 1900, refs[1], 901, 2195);
	seg_from(&seg[3], back + 4095, refs[1], 3096, 1000);
	CHECK(xengnttab_grant_copy(gt, 4, seg) == 0, "copy out: %s",
	      strerror(errno));
	for (i = 0; i < 4; i++)
		CHECK(seg[i].status == GNTST_okay, "copy out seg %u: %d", i,
		      seg[i].status);
	CHECK(!memcmp(back, local, HV_PAGE_SIZE), "page 0 differs");
	CHECK(!memcmp(back + 1000, local + 1000, 4095 + 1000 - 1000),
	      "sub-page pieces differ");

	/* A gref side that would cross its page: the whole call fails. */
	seg_to(&seg[0], local, refs[1], 4000, 200);
	seg[0].status = 99;
	errno = 0;
	CHECK(xengnttab_grant_copy(gt, 1, seg) == -1 && errno == EINVAL,
	      "page-crossing gref segment: errno %d", errno);
	/* And a local->local one. */
	seg[0].flags = 0;
	seg[0].dest.virt = back;
	seg[0].len = 10;
	errno = 0;
	CHECK(xengnttab_grant_copy(gt, 1, seg) == -1 && errno == EINVAL,
	      "local->local segment: errno %d", errno);

	xengnttab_close(gt);
	CHECK(write(to_child[1], "x", 1) == 1, "release guest");
	CHECK(simenv_wait(pid) == 0, "guest's pages do not hold the copies");
	return TEST_PASS;
}
