// SPDX-License-Identifier: MIT
/*
 * xensim-gnt-hostile-client-disturbs-nobody - xensimd answers malformed
 * requests with errors (or drops that client) and keeps serving others.
 *
 * A raw client on guest 1's socket sends: short, oversized and unknown
 * requests, a map whose count disagrees with its length, huge counts, refs
 * and ports out of range, an unshare of a range past its share, and a
 * request carrying an fd. Every answer is an error; afterwards a normal
 * Dom0 handle still shares, maps and copies.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xengnttab.h>

#include "lib/check.h"
#include "lib/simenv.h"
#include "xensim/hvproto.h"

static int raw_connect(const struct simenv *env, unsigned int domid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.90s/dom%u.hv", env->dir,
		 domid);
	CHECK(fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa)),
	      "connect: %s", strerror(errno));
	return fd;
}

/* Send @len bytes of @buf; 1 if the answer is an error or a hang-up. */
static int refused(int fd, const void *buf, size_t len, int pass_fd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct hv_rsp rs;
	ssize_t n;

	if (pass_fd) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.b;
		msg.msg_controllen = sizeof(cm.b);
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cm.h), &pass_fd, sizeof(int));
	}
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0)
		return 1;
	n = recv(fd, &rs, sizeof(rs), 0);
	return n <= 0 || (n >= (ssize_t)sizeof(rs) && rs.rc < 0);
}

int main(void)
{
	static struct simenv env;
	static uint8_t big[HV_MSG_MAX * 2];
	struct hv_req rq;
	xengnttab_grant_copy_segment_t seg;
	xengntshr_handle *gs;
	xengnttab_handle *gt;
	uint8_t buf[16];
	uint32_t ref;
	uint8_t *p;
	int fd;

	if (simenv_up(&env, 1))
		SKIP("cannot start xensim");
	fd = raw_connect(&env, 1);

	CHECK(refused(fd, "x", 1, 0), "short request");
	CHECK(refused(fd, big, sizeof(big), 0), "oversized request");
	memset(&rq, 0, sizeof(rq));
	rq.op = 999;
	CHECK(refused(fd, &rq, sizeof(rq), 0), "unknown op");
	rq.op = HV_OP_GNT_MAP;
	rq.count = 4;
	CHECK(refused(fd, &rq, sizeof(rq), 0), "map count without pairs");
	rq.count = 0xffffffff;
	CHECK(refused(fd, &rq, sizeof(rq), 0), "map huge count");
	memset(big, 0xff, sizeof(big));
	memcpy(big, &rq, sizeof(rq));
	((struct hv_req *)big)->count = 2;
	CHECK(refused(fd, big, sizeof(rq) + 16, 0), "map of bad domains/refs");
	memset(&rq, 0, sizeof(rq));
	rq.op = HV_OP_GNT_SHARE;
	rq.count = HV_MAX_BATCH + 1;
	CHECK(refused(fd, &rq, sizeof(rq), 0), "share too many");
	rq.count = 1;
	rq.notify_port = 5000;
	CHECK(refused(fd, &rq, sizeof(rq), 0), "share with a wild port");
	rq.notify_port = HV_NONE;
	rq.notify_off = HV_NONE;
	CHECK(!refused(fd, &rq, sizeof(rq), 0), "a good share was refused");
	memset(&rq, 0, sizeof(rq));
	rq.op = HV_OP_GNT_UNSHARE;
	rq.id = 1;
	rq.first = 0xffffffff;
	rq.count = 2;
	CHECK(refused(fd, &rq, sizeof(rq), 0), "unshare past the share");
	memset(&rq, 0, sizeof(rq));
	rq.op = HV_OP_EVT_UNBIND;
	rq.port = 0xffffffff;
	CHECK(refused(fd, &rq, sizeof(rq), 0), "unbind wild port");
	rq.op = HV_OP_EVT_PEER;
	CHECK(refused(fd, &rq, sizeof(rq), 0), "peer of wild port");
	rq.op = HV_OP_EVT_BIND_INTERDOMAIN;
	rq.domid = 0;
	rq.port = 0xffffffff;
	CHECK(refused(fd, &rq, sizeof(rq), 0), "bind wild remote port");
	rq.op = HV_OP_DOMAIN;
	rq.domid = 0;
	CHECK(refused(fd, &rq, sizeof(rq), 1), "request with an fd");
	close(fd);

	/* Everyone else is still served. */
	simenv_become(&env, 1);
	gs = xengntshr_open(NULL, 0);
	CHECK(gs, "gntshr open: %s", strerror(errno));
	p = xengntshr_share_pages(gs, 0, 1, &ref, 1);
	CHECK(p, "share after the abuse: %s", strerror(errno));
	memset(p, 0x42, HV_PAGE_SIZE);
	simenv_become(&env, 0);
	gt = xengnttab_open(NULL, 0);
	CHECK(gt, "gnttab open: %s", strerror(errno));
	memset(&seg, 0, sizeof(seg));
	seg.flags = GNTCOPY_source_gref;
	seg.source.foreign.domid = 1;
	seg.source.foreign.ref = ref;
	seg.dest.virt = buf;
	seg.len = sizeof(buf);
	CHECK(!xengnttab_grant_copy(gt, 1, &seg) && seg.status == GNTST_okay &&
		      buf[0] == 0x42,
	      "copy after the abuse: status %d", seg.status);
	xengnttab_close(gt);
	xengntshr_close(gs);
	return TEST_PASS;
}
