/* SPDX-License-Identifier: MIT */
/*
 * simclient.h - what the drop-in libxengnttab (libgnttab.c) and
 * libxenevtchn (libevtchn.c) share: the connection to xensimd's hypervisor
 * (hv.c, protocol in hvproto.h), the process-wide cache of other domains'
 * shared memory, and the libxentoolcore registration both need.
 *
 * Internal to the two libraries (hidden symbols, each library has its own
 * copy). All functions return 0 or -errno unless said otherwise. The cache
 * is safe to read from any thread without a lock; a connection serialises
 * its own calls.
 *
 * At the end, simpeek_grant_table(): an inline helper for tests, which link
 * against the real libraries and so cannot call anything hidden here.
 */
#ifndef PVBACK_XENSIM_SIMCLIENT_H
#define PVBACK_XENSIM_SIMCLIENT_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xen/grant_table.h>

#include "xensim/hvproto.h"

#define SIM_EXPORT __attribute__((visibility("default")))

/*
 * libxentoolcore's active-handle record (tools/include/xentoolcore_internal.h
 * in Xen): a restrict callback and a BSD list entry. The functions are
 * exported by Debian's libxentoolcore.so.1 at VERS_1.0.
 */
struct Xentoolcore__Active_Handle;
typedef int simtc_restrict_fn(struct Xentoolcore__Active_Handle *ah,
			      uint16_t domid);
struct Xentoolcore__Active_Handle {
	simtc_restrict_fn *restrict_callback;
	struct {
		struct Xentoolcore__Active_Handle *le_next;
		struct Xentoolcore__Active_Handle **le_prev;
	} entry;
};
void xentoolcore__register_active_handle(struct Xentoolcore__Active_Handle *ah);
void xentoolcore__deregister_active_handle(
	struct Xentoolcore__Active_Handle *ah);

/* One open library handle's connection to <XENSIM_DIR>/dom<XENSIM_DOMID>.hv. */
struct simconn {
	int fd;
	unsigned int domid;   /* the domain this process is */
	pthread_mutex_t lock; /* one request in flight */
};

/*
 * Connect as the domain named by XENSIM_DIR / XENSIM_DOMID. -ENOENT when
 * they are unset, as the real libraries fail without /dev/xen. @cloexec
 * chooses SOCK_CLOEXEC.
 */
int simconn_open(struct simconn *c, int cloexec);
/* Close the connection; xensimd releases what it held. NULL-safe fd. */
void simconn_close(struct simconn *c);
/*
 * One request/response: @rq followed by @plen bytes of @pl; the answer's
 * header into @rs, its array into @out (at most @outmax bytes), its fds into
 * @fds (capacity *@nfds in, count out; extra fds are closed). Returns the
 * answer's rc, or -errno if the exchange itself failed. Blocks.
 */
int simconn_call(struct simconn *c, struct hv_req *rq, const void *pl,
		 size_t plen, struct hv_rsp *rs, void *out, size_t outmax,
		 int *fds, int *nfds);

/* A domain's shared memory as this process maps it. Never freed. */
struct simdom {
	unsigned int domid;
	int mem_fd;
	uint8_t *mem;
	uint32_t mem_pages;
	struct hvp_gnt gnt;
	const uint64_t *ptab;
};

/*
 * The cached view of domain @domid, fetched through @c on first use or
 * after the domain was destroyed. -ESRCH for a domain that does not exist.
 * Lock-free when cached (one load and one check of the dead flag).
 */
int simdom_get(struct simconn *c, unsigned int domid, struct simdom **out);

/* ---------------------------------------------------------------- tests */

/*
 * Map domain @domid's grant table (HV_GNT_ENTRIES entries) read-write, by a
 * private connection to @dir/dom0.hv, for a test to look at what a guest
 * would see. Returns the table or NULL; unmap with munmap(p, HV_GNT_FRAMES *
 * HV_PAGE_SIZE).
 */
static inline grant_entry_v1_t *simpeek_grant_table(const char *dir,
						    unsigned int domid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct hv_req rq = { .op = HV_OP_DOMAIN, .domid = domid };
	struct hv_rsp rs;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * HV_MAX_FDS)];
	} cm;
	struct iovec iov = { .iov_base = &rs, .iov_len = sizeof(rs) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cm.buf,
		.msg_controllen = sizeof(cm.buf),
	};
	struct cmsghdr *ch;
	void *p = NULL;
	int fd, fds[HV_MAX_FDS], nf = 0, i;

	if (strlen(dir) + sizeof("/dom0.hv") > sizeof(sa.sun_path))
		return NULL;
	memcpy(sa.sun_path, dir, strlen(dir));
	strcpy(sa.sun_path + strlen(dir), "/dom0.hv");
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    send(fd, &rq, sizeof(rq), MSG_NOSIGNAL) != (ssize_t)sizeof(rq) ||
	    recvmsg(fd, &msg, MSG_CMSG_CLOEXEC) < (ssize_t)sizeof(rs) || rs.rc)
		goto out;
	ch = CMSG_FIRSTHDR(&msg);
	if (!ch || ch->cmsg_type != SCM_RIGHTS)
		goto out;
	nf = (int)((ch->cmsg_len - CMSG_LEN(0)) / sizeof(int));
	if (nf > HV_MAX_FDS)
		nf = HV_MAX_FDS;
	memcpy(fds, CMSG_DATA(ch), sizeof(int) * (size_t)nf);
	if (nf >= 2) {
		p = mmap(NULL, HV_GNT_FRAMES * HV_PAGE_SIZE,
			 PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0);
		if (p == MAP_FAILED)
			p = NULL;
	}
	for (i = 0; i < nf; i++)
		close(fds[i]);
out:
	close(fd);
	return p;
}

#endif
