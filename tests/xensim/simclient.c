// SPDX-License-Identifier: MIT
/*
 * simclient.c - the client half both drop-in libraries link: connecting to
 * xensimd's hypervisor (hv.c) as the domain the environment names, one
 * request/response exchange with fds, and the cache of other domains'
 * memory, grant table, pin table and port table that lets grant copy and
 * notify run without a round trip. Protocol and layout: hvproto.h.
 */
#include "xensim/simclient.h"

#include <fcntl.h>
#include <limits.h>

#define SIM_DOMID_MAX 0x7fefu

int simconn_open(struct simconn *c, int cloexec)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *dir = getenv("XENSIM_DIR");
	const char *ds = getenv("XENSIM_DOMID");
	unsigned long domid;
	char *end;
	int n, rc;

	c->fd = -1;
	if (!dir || !*dir || !ds || !*ds)
		return -ENOENT;
	errno = 0;
	domid = strtoul(ds, &end, 10);
	if (errno || *end || domid > SIM_DOMID_MAX)
		return -EINVAL;
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/dom%lu.hv", dir,
		     domid);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | (cloexec ? SOCK_CLOEXEC : 0),
		       0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = -errno;
		close(c->fd);
		c->fd = -1;
		return rc;
	}
	c->domid = (unsigned int)domid;
	pthread_mutex_init(&c->lock, NULL);
	return 0;
}

void simconn_close(struct simconn *c)
{
	if (c->fd < 0)
		return;
	close(c->fd);
	c->fd = -1;
	pthread_mutex_destroy(&c->lock);
}

static int call_locked(struct simconn *c, struct hv_req *rq, const void *pl,
		       size_t plen, struct hv_rsp *rs, void *out, size_t outmax,
		       int *fds, int *nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * HV_MAX_FDS)];
	} cm;
	struct iovec siov[2] = {
		{ .iov_base = rq, .iov_len = sizeof(*rq) },
		{ .iov_base = (void *)pl, .iov_len = plen },
	};
	struct iovec riov[2] = {
		{ .iov_base = rs, .iov_len = sizeof(*rs) },
		{ .iov_base = out, .iov_len = outmax },
	};
	struct msghdr msg = { .msg_iov = siov, .msg_iovlen = plen ? 2 : 1 };
	struct cmsghdr *ch;
	int cap = nfds ? *nfds : 0, got = 0;
	ssize_t n;

	if (nfds)
		*nfds = 0;
	do
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != sizeof(*rq) + plen)
		return -EIO;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = riov;
	msg.msg_iovlen = outmax ? 2 : 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	do
		n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (ch = CMSG_FIRSTHDR(&msg); ch; ch = CMSG_NXTHDR(&msg, ch)) {
		size_t k, nf;
		int fd;

		if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS)
			continue;
		nf = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < nf; k++) {
			memcpy(&fd, CMSG_DATA(ch) + k * sizeof(int),
			       sizeof(fd));
			if (got < cap)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	if (nfds)
		*nfds = got;
	if (n == 0)
		goto err_io; /* xensimd went away */
	if ((size_t)n < sizeof(*rs) || (msg.msg_flags & MSG_TRUNC) ||
	    (size_t)rs->count * 4 > (size_t)n - sizeof(*rs))
		goto err_io;
	if (rs->rc && got) {
		while (got--)
			close(fds[got]);
		*nfds = 0;
	}
	return rs->rc;

err_io:
	while (got--)
		close(fds[got]);
	if (nfds)
		*nfds = 0;
	return -EIO;
}

int simconn_call(struct simconn *c, struct hv_req *rq, const void *pl,
		 size_t plen, struct hv_rsp *rs, void *out, size_t outmax,
		 int *fds, int *nfds)
{
	int rc;

	if (c->fd < 0)
		return -EBADF;
	pthread_mutex_lock(&c->lock);
	rc = call_locked(c, rq, pl, plen, rs, out, outmax, fds, nfds);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/*
 * Indexed by domid, published with a release store and read with an acquire
 * load, so a copy finds a domain with one load. Entries are never freed: a
 * thread may be copying through one while another replaces it.
 */
static struct simdom *dom_cache[SIM_DOMID_MAX + 1];

static int simdom_fetch(struct simconn *c, unsigned int domid,
			struct simdom **out)
{
	struct hv_req rq = { .op = HV_OP_DOMAIN, .domid = domid };
	struct hv_rsp rs;
	int fds[HV_MAX_FDS], nfds = HV_MAX_FDS, rc, i;
	struct simdom *d;
	void *ents = NULL, *act = NULL, *ptab = NULL, *mem = NULL;
	size_t memsz;

	rc = simconn_call(c, &rq, NULL, 0, &rs, NULL, 0, fds, &nfds);
	if (rc)
		return rc;
	rc = -EIO;
	if (nfds != 4 || rs.nr_ents != HV_GNT_ENTRIES ||
	    rs.nr_ports != HV_NR_PORTS)
		goto err_close;
	rc = -ENOMEM;
	d = calloc(1, sizeof(*d));
	if (!d)
		goto err_close;
	memsz = (size_t)rs.mem_pages << HV_PAGE_SHIFT;
	mem = mmap(NULL, memsz, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_NORESERVE, fds[0], 0);
	ents = mmap(NULL, HV_GNT_FRAMES * HV_PAGE_SIZE, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fds[1], 0);
	act = mmap(NULL, HVP_ACTIVE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fds[2], 0);
	ptab = mmap(NULL, HV_NR_PORTS * sizeof(uint64_t), PROT_READ, MAP_SHARED,
		    fds[3], 0);
	if (mem == MAP_FAILED || ents == MAP_FAILED || act == MAP_FAILED ||
	    ptab == MAP_FAILED)
		goto err_unmap;
	d->domid = domid;
	d->mem_fd = fds[0];
	d->mem = mem;
	d->mem_pages = rs.mem_pages;
	hvp_gnt_init(&d->gnt, ents, act, rs.mem_pages);
	d->ptab = ptab;
	for (i = 1; i < 4; i++)
		close(fds[i]);
	*out = d;
	return 0;

err_unmap:
	if (mem != MAP_FAILED)
		munmap(mem, memsz);
	if (ents != MAP_FAILED)
		munmap(ents, HV_GNT_FRAMES * HV_PAGE_SIZE);
	if (act != MAP_FAILED)
		munmap(act, HVP_ACTIVE_SIZE);
	if (ptab != MAP_FAILED)
		munmap(ptab, HV_NR_PORTS * sizeof(uint64_t));
	free(d);
err_close:
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	return rc;
}

int simdom_get(struct simconn *c, unsigned int domid, struct simdom **out)
{
	struct simdom *d, *old;
	int rc;

	if (domid > SIM_DOMID_MAX)
		return -ESRCH;
	d = __atomic_load_n(&dom_cache[domid], __ATOMIC_ACQUIRE);
	if (d && !__atomic_load_n(&d->gnt.hdr->dead, __ATOMIC_ACQUIRE)) {
		*out = d;
		return 0;
	}
	old = d;
	rc = simdom_fetch(c, domid, &d);
	if (rc)
		return rc;
	/* Another thread got there first: use its copy and drop ours, which
	 * nobody else has seen. A replaced dead entry is leaked on purpose. */
	if (!__atomic_compare_exchange_n(&dom_cache[domid], &old, d, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		munmap(d->mem, (size_t)d->mem_pages << HV_PAGE_SHIFT);
		munmap(d->gnt.ents, HV_GNT_FRAMES * HV_PAGE_SIZE);
		munmap(d->gnt.hdr, HVP_ACTIVE_SIZE);
		munmap((void *)d->ptab, HV_NR_PORTS * sizeof(uint64_t));
		close(d->mem_fd);
		free(d);
		d = old;
	}
	*out = d;
	return 0;
}
