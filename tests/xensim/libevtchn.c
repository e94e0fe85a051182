// SPDX-License-Identifier: MIT
/*
 * libevtchn.c - the drop-in libxenevtchn.so.1: the API of
 * /usr/include/xenevtchn.h against xensimd's hypervisor (hv.c; protocol in
 * hvproto.h, shared client code in simclient.c), with Debian's symbol
 * versions (libxenevtchn.map).
 *
 * Every bound port has an eventfd made by xensimd. The handle's fd is an
 * epoll fd over its ports' eventfds, each registered EPOLLONESHOT: a
 * delivered port is masked until xenevtchn_unmask() re-arms it, as Linux's
 * evtchn device masks on delivery, and an event sent meanwhile is delivered
 * at re-arm. A notify is one eventfd write on the peer port's eventfd,
 * fetched from xensimd once and cached; the port's word in the domain's
 * port table (written by xensimd only) says whether the port is still
 * interdomain and, by its generation, whether the cached peer is current.
 * Errors are -1 and errno, with the errno values Linux's evtchn ioctls give.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <xenevtchn.h>

#include "xensim/simclient.h"

struct simport {
	int efd;	   /* our end's eventfd; -1 if not bound here */
	int peer_fd;	   /* the remote end's eventfd, -1 until fetched */
	uint32_t peer_gen; /* port-table generation peer_fd belongs to */
};

struct xenevtchn_handle {
	struct Xentoolcore__Active_Handle tc_ah;
	struct simconn conn;
	int epfd;
	const uint64_t *ptab; /* our domain's port table, read-only */
	struct simport port[HV_NR_PORTS];
};

/* 0 stays 0; -errno becomes -1 with errno set, the libraries' convention. */
static int set_errno(int rc)
{
	if (!rc)
		return 0;
	errno = -rc;
	return -1;
}

/* What the real library registers: restrict the fd to @domid. */
static int evt_restrict_cb(struct Xentoolcore__Active_Handle *ah,
			   uint16_t domid)
{
	struct xenevtchn_handle *h = (struct xenevtchn_handle *)ah;

	if (h->conn.fd < 0)
		return 0;
	return xenevtchn_restrict(h, domid);
}

SIM_EXPORT xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
					    unsigned int flags)
{
	int cloexec = !(flags & XENEVTCHN_NO_CLOEXEC);
	struct xenevtchn_handle *h = calloc(1, sizeof(*h));
	struct simdom *me;
	unsigned int p;
	int rc;

	if (!h)
		return NULL;
	h->epfd = -1;
	for (p = 0; p < HV_NR_PORTS; p++)
		h->port[p].efd = h->port[p].peer_fd = -1;
	h->conn.fd = -1;
	h->tc_ah.restrict_callback = evt_restrict_cb;
	xentoolcore__register_active_handle(&h->tc_ah);
	rc = simconn_open(&h->conn, cloexec);
	if (rc)
		goto err_free;
	rc = simdom_get(&h->conn, h->conn.domid, &me);
	if (rc)
		goto err_close;
	h->ptab = me->ptab;
	h->epfd = epoll_create1(cloexec ? EPOLL_CLOEXEC : 0);
	if (h->epfd < 0) {
		rc = -errno;
		goto err_close;
	}
	return h;

err_close:
	simconn_close(&h->conn);
err_free:
	xentoolcore__deregister_active_handle(&h->tc_ah);
	free(h);
	errno = -rc;
	return NULL;
}

SIM_EXPORT xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger,
					      int fd, unsigned int open_flags)
{
	/* An emulated handle is more than an fd: nothing to adopt. */
	errno = open_flags ? EINVAL : EOPNOTSUPP;
	return NULL;
}

static void port_forget(struct xenevtchn_handle *h, unsigned int p)
{
	struct simport *sp = &h->port[p];

	if (sp->efd >= 0) {
		epoll_ctl(h->epfd, EPOLL_CTL_DEL, sp->efd, NULL);
		close(sp->efd);
	}
	if (sp->peer_fd >= 0)
		close(sp->peer_fd);
	sp->efd = sp->peer_fd = -1;
	sp->peer_gen = 0;
}

SIM_EXPORT int xenevtchn_close(xenevtchn_handle *xce)
{
	unsigned int p;

	if (!xce)
		return 0;
	xentoolcore__deregister_active_handle(&xce->tc_ah);
	/* xensimd closes the ports (remote ends become unbound) on EOF. */
	simconn_close(&xce->conn);
	for (p = 0; p < HV_NR_PORTS; p++)
		port_forget(xce, p);
	close(xce->epfd);
	free(xce);
	return 0;
}

SIM_EXPORT int xenevtchn_fd(xenevtchn_handle *xce)
{
	return xce->epfd;
}

/* Send a bind request; on success track the port and its eventfd. */
static xenevtchn_port_or_error_t port_bind(struct xenevtchn_handle *h,
					   struct hv_req *rq)
{
	struct hv_req urq = { .op = HV_OP_EVT_UNBIND };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT };
	struct hv_rsp rs;
	int fd, nfds = 1, rc;

	rc = simconn_call(&h->conn, rq, NULL, 0, &rs, NULL, 0, &fd, &nfds);
	if (rc)
		return set_errno(rc);
	if (nfds != 1 || rs.id >= HV_NR_PORTS) {
		rc = -EIO;
		goto err_unbind;
	}
	ev.data.u32 = rs.id;
	/* A fresh port is unmasked, as Linux enables it at bind. */
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		rc = -errno;
		goto err_unbind;
	}
	port_forget(h, rs.id);
	h->port[rs.id].efd = fd;
	return (int)rs.id;

err_unbind:
	if (nfds == 1)
		close(fd);
	urq.port = rs.id;
	simconn_call(&h->conn, &urq, NULL, 0, &rs, NULL, 0, NULL, NULL);
	return set_errno(rc);
}

SIM_EXPORT xenevtchn_port_or_error_t
xenevtchn_bind_unbound_port(xenevtchn_handle *xce, uint32_t domid)
{
	struct hv_req rq = { .op = HV_OP_EVT_BIND_UNBOUND, .domid = domid };

	return port_bind(xce, &rq);
}

SIM_EXPORT xenevtchn_port_or_error_t xenevtchn_bind_interdomain(
	xenevtchn_handle *xce, uint32_t domid, evtchn_port_t remote_port)
{
	struct hv_req rq = {
		.op = HV_OP_EVT_BIND_INTERDOMAIN,
		.domid = domid,
		.port = remote_port,
	};

	return port_bind(xce, &rq);
}

SIM_EXPORT xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce,
							 unsigned int virq)
{
	struct hv_req rq = { .op = HV_OP_EVT_BIND_VIRQ, .port = virq };

	return port_bind(xce, &rq);
}

SIM_EXPORT int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	struct hv_req rq = { .op = HV_OP_EVT_UNBIND, .port = port };
	struct hv_rsp rs;
	int rc;

	rc = simconn_call(&xce->conn, &rq, NULL, 0, &rs, NULL, 0, NULL, NULL);
	if (rc)
		return set_errno(rc);
	port_forget(xce, port);
	return 0;
}

/* The slow half of notify: (re)fetch the peer's eventfd. */
static int peer_refresh(struct xenevtchn_handle *h, evtchn_port_t port)
{
	struct hv_req rq = { .op = HV_OP_EVT_PEER, .port = port };
	struct simport *sp = &h->port[port];
	struct hv_rsp rs;
	int fd, nfds = 1, rc;

	rc = simconn_call(&h->conn, &rq, NULL, 0, &rs, NULL, 0, &fd, &nfds);
	if (rc == -EPIPE)
		return 0; /* no longer interdomain: dropped, as Xen */
	if (rc)
		return rc;
	if (nfds != 1)
		return -EIO;
	if (sp->peer_fd >= 0)
		close(sp->peer_fd);
	sp->peer_fd = fd;
	sp->peer_gen = rs.gen;
	return 1;
}

SIM_EXPORT int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	static const uint64_t one = 1;
	struct simport *sp;
	uint64_t w;
	int rc;

	/* Linux: a port this handle did not bind is ENOTCONN. */
	if (port >= HV_NR_PORTS || xce->port[port].efd < 0)
		return set_errno(-ENOTCONN);
	sp = &xce->port[port];
	/* Pairs with the release store in hv.c's port_publish. */
	w = __atomic_load_n(&xce->ptab[port], __ATOMIC_ACQUIRE);
	if (hvp_port_state(w) != HV_PORT_INTERDOMAIN)
		return 0; /* unbound: Xen drops the event */
	if (sp->peer_fd < 0 || sp->peer_gen != hvp_port_gen(w)) {
		rc = peer_refresh(xce, port);
		if (rc <= 0)
			return rc ? set_errno(rc) : 0;
	}
	if (write(sp->peer_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		return -1;
	return 0;
}

SIM_EXPORT xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	struct epoll_event ev;
	uint64_t n;
	int rc, timeout = 0;

	for (;;) {
		rc = epoll_wait(xce->epfd, &ev, 1, timeout);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			/* Nothing pending: block like read() on the real fd,
			 * unless someone made the fd non-blocking. */
			int fl = fcntl(xce->epfd, F_GETFL);

			if (fl >= 0 && (fl & O_NONBLOCK))
				return set_errno(-EAGAIN);
			timeout = -1;
			continue;
		}
		if (ev.data.u32 >= HV_NR_PORTS ||
		    xce->port[ev.data.u32].efd < 0)
			continue; /* unbound meanwhile */
		/* Consume it; the port stays masked until unmask. */
		if (read(xce->port[ev.data.u32].efd, &n, sizeof(n)) < 0 &&
		    errno != EAGAIN)
			return -1;
		return (int)ev.data.u32;
	}
}

SIM_EXPORT int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT };

	/* Linux ignores a port that is not this handle's. */
	if (port >= HV_NR_PORTS || xce->port[port].efd < 0)
		return 0;
	ev.data.u32 = port;
	if (epoll_ctl(xce->epfd, EPOLL_CTL_MOD, xce->port[port].efd, &ev))
		return -1;
	return 0;
}

SIM_EXPORT int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
	struct hv_req rq = { .op = HV_OP_EVT_RESTRICT, .domid = domid };
	struct hv_rsp rs;

	return set_errno(simconn_call(&xce->conn, &rq, NULL, 0, &rs, NULL, 0,
				      NULL, NULL));
}
