// SPDX-License-Identifier: MIT
/*
 * hv.c - the hypervisor half of xensimd: domains with their guest memory,
 * v1 grant tables and interdomain event channels, served on <dir>/dom<N>.hv
 * to the drop-in libxengnttab / libxenevtchn (libgnttab.c, libevtchn.c and
 * simclient.c; the wire and shared-memory formats are in hvproto.h).
 *
 * Only the control path comes here: share pages (gntalloc), map and unmap
 * grants (gntdev), bind and unbind event channels (evtchn). Grant copy and
 * notify run in the clients on the shared memory and eventfds handed out
 * here; the pin code both sides run is in hvproto.h. A connection is one
 * library handle: when it closes, what it held is released as the Linux
 * drivers release it when their file is closed (maps unpinned with their
 * unmap notifications, shares ended, ports closed so remote ends become
 * unbound as in Xen).
 *
 * Clients are as hostile as guests: every message is checked for size and
 * every count, ref and port for range before use, a client that misbehaves is
 * disconnected, and nothing a client writes to shared memory is used as an
 * index without a bounds check. Single-threaded: xensimd's main loop only.
 */
#include "xensim/hv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "xensim/hvproto.h"
#include "xensim/simloop.h"

#define HV_DOMID_MAX 0x7fefu
/* Xen's NR_VIRQS and VIRQ_DOM_EXC. */
#define HV_NR_VIRQS 24u
#define HV_VIRQ_DOM_EXC 3u
/* Pages one connection may hold mapped (gntdev's limit is of this order). */
#define HV_CONN_MAX_MAPPED (1u << 20)

#define container_of(p, type, member)                                          \
	((type *)((char *)(p)-offsetof(type, member)))

struct hv_conn;

struct hv_port {
	uint8_t state; /* enum hv_port_state */
	uint16_t rdom; /* remote domain (bound, or allowed to bind) */
	uint32_t rport;
	uint32_t gen;
	uint32_t virq;
	int efd; /* the port's eventfd, -1 when free */
	struct hv_conn *owner;
	/* Unmap notifications that will send on it: like Linux's evtchn_get
	 * from gntdev/gntalloc, they keep it open past its handle. */
	uint32_t holds;
	int closing; /* unbound by its handle, held open */
};

/* A share whose grant was still in use when it ended (gntalloc defers). */
struct hv_endq {
	struct hv_endq *next;
	uint32_t ref;
	uint32_t frame;
};

struct hv_dom {
	struct hv *hv;
	struct hv_dom *next; /* in hv->doms while alive */
	unsigned int domid;
	unsigned int refs; /* hv->doms + maps held of its pages */
	char path[PATH_MAX];
	int listen_fd;
	struct simloop_src listen_src;

	int mem_fd;
	uint8_t *mem;
	uint32_t mem_pages;
	uint64_t *page_used; /* bitmap of pages handed to shares */
	uint32_t page_hint;

	int gnt_fd;
	int act_fd;
	struct hvp_gnt gnt;
	uint8_t ref_used[HV_GNT_ENTRIES];
	uint32_t ref_hint;
	struct hv_endq *endq;

	int port_fd;	/* read-write, ours */
	int port_ro_fd; /* read-only, for clients */
	uint64_t *ptab;
	struct hv_port port[HV_NR_PORTS];

	struct hv_conn *conns;
};

struct hv_map {
	struct hv_map *next;
	uint32_t id;
	uint32_t count;
	int writable;
	uint32_t notify_off;
	uint32_t notify_port;
	struct {
		struct hv_dom *gd; /* holds a reference */
		uint32_t ref;
		uint32_t frame;
	} pg[];
};

struct hv_share {
	struct hv_share *next;
	uint32_t id;
	uint32_t count;
	uint32_t live;
	uint32_t notify_off;
	uint32_t notify_port;
	struct {
		uint32_t ref;
		uint32_t frame;
		int live;
	} pg[];
};

struct hv_conn {
	struct simloop_src src;
	struct hv_conn *next;
	struct hv_dom *dom;
	int fd;
	int restrict_domid; /* -1: unrestricted */
	uint32_t next_id;
	uint32_t mapped;
	struct hv_map *maps;
	struct hv_share *shares;
};

struct hv {
	int epfd;
	char dir[PATH_MAX];
	struct hv_dom *doms;
	int timer_fd;
	int timer_armed;
	struct simloop_src timer_src;
	/* One message at a time: the loop is single-threaded. */
	union {
		struct hv_req req;
		uint8_t bytes[HV_MSG_MAX + 64];
	} in;
	union {
		struct hv_rsp rsp;
		uint8_t bytes[sizeof(struct hv_rsp) + 2 * HV_MAX_BATCH * 4];
	} out;
};

static void hv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void hv_log(const char *fmt, ...)
{
	va_list ap;

	fputs("xensimd: hv: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---------------------------------------------------------------- domains */

static struct hv_dom *dom_find(struct hv *hv, unsigned int domid)
{
	struct hv_dom *d;

	for (d = hv->doms; d; d = d->next)
		if (d->domid == domid)
			return d;
	return NULL;
}

static void dom_free(struct hv_dom *d)
{
	struct hv_endq *q;
	unsigned int p;

	while ((q = d->endq)) {
		d->endq = q->next;
		free(q);
	}
	for (p = 0; p < HV_NR_PORTS; p++)
		if (d->port[p].efd >= 0)
			close(d->port[p].efd);
	if (d->mem)
		munmap(d->mem, (size_t)d->mem_pages << HV_PAGE_SHIFT);
	if (d->gnt.ents)
		munmap(d->gnt.ents, HV_GNT_FRAMES * HV_PAGE_SIZE);
	if (d->gnt.hdr)
		munmap(d->gnt.hdr, HVP_ACTIVE_SIZE);
	if (d->ptab)
		munmap(d->ptab, HV_NR_PORTS * sizeof(uint64_t));
	if (d->mem_fd >= 0)
		close(d->mem_fd);
	if (d->gnt_fd >= 0)
		close(d->gnt_fd);
	if (d->act_fd >= 0)
		close(d->act_fd);
	if (d->port_fd >= 0)
		close(d->port_fd);
	if (d->port_ro_fd >= 0)
		close(d->port_ro_fd);
	free(d->page_used);
	free(d);
}

static void dom_put(struct hv_dom *d)
{
	if (d && --d->refs == 0)
		dom_free(d);
}

/*
 * A sealed memfd: clients get it read-write (they must write guest memory and
 * pin counts) but cannot shrink it under xensimd's mapping.
 */
static int shm_create(const char *name, unsigned int domid, size_t size)
{
	char n[64];
	int fd;

	snprintf(n, sizeof(n), "xensim-dom%u-%s", domid, name);
	fd = memfd_create(n, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static void *shm_map(int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void port_publish(struct hv_dom *d, unsigned int p)
{
	struct hv_port *pt = &d->port[p];

	pt->gen++;
	/* Pairs with the acquire load in a client's notify. */
	__atomic_store_n(&d->ptab[p],
			 hvp_port_word(pt->state, pt->rport, pt->rdom, pt->gen),
			 __ATOMIC_RELEASE);
}

static void listen_event(struct simloop_src *src, uint32_t events);

int hv_domain_create(struct hv *hv, unsigned int domid, size_t mem_bytes)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pthread_mutexattr_t ma;
	struct hv_dom *d;
	size_t pages;
	char ro[64];
	unsigned int p;
	int rc, n;

	if (domid > HV_DOMID_MAX)
		return -EINVAL;
	if (dom_find(hv, domid))
		return -EEXIST;
	pages = (mem_bytes + HV_PAGE_SIZE - 1) >> HV_PAGE_SHIFT;
	if (!pages || pages > UINT32_MAX)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->hv = hv;
	d->domid = domid;
	d->refs = 1;
	d->listen_fd = d->mem_fd = d->gnt_fd = d->act_fd = -1;
	d->port_fd = d->port_ro_fd = -1;
	for (p = 0; p < HV_NR_PORTS; p++)
		d->port[p].efd = -1;
	d->mem_pages = (uint32_t)pages;
	d->ref_hint = HV_GNT_RESERVED;
	d->page_used = calloc((pages + 63) / 64, sizeof(uint64_t));
	if (!d->page_used) {
		rc = -ENOMEM;
		goto err_free;
	}

	rc = d->mem_fd = shm_create("mem", domid, pages << HV_PAGE_SHIFT);
	if (rc < 0)
		goto err_free;
	rc = d->gnt_fd =
		shm_create("gnttab", domid, HV_GNT_FRAMES * HV_PAGE_SIZE);
	if (rc < 0)
		goto err_free;
	rc = d->act_fd = shm_create("active", domid, HVP_ACTIVE_SIZE);
	if (rc < 0)
		goto err_free;
	rc = d->port_fd =
		shm_create("ports", domid, HV_NR_PORTS * sizeof(uint64_t));
	if (rc < 0)
		goto err_free;
	/* Clients read the port table; only we write it. */
	snprintf(ro, sizeof(ro), "/proc/self/fd/%d", d->port_fd);
	d->port_ro_fd = open(ro, O_RDONLY | O_CLOEXEC);
	if (d->port_ro_fd < 0) {
		rc = -errno;
		goto err_free;
	}

	rc = -ENOMEM;
	d->mem = shm_map(d->mem_fd, pages << HV_PAGE_SHIFT);
	if (!d->mem)
		goto err_free;
	void *ents = shm_map(d->gnt_fd, HV_GNT_FRAMES * HV_PAGE_SIZE);
	void *act = ents ? shm_map(d->act_fd, HVP_ACTIVE_SIZE) : NULL;

	if (!act) {
		if (ents)
			munmap(ents, HV_GNT_FRAMES * HV_PAGE_SIZE);
		goto err_free;
	}
	hvp_gnt_init(&d->gnt, ents, act, d->mem_pages);
	d->ptab = shm_map(d->port_fd, HV_NR_PORTS * sizeof(uint64_t));
	if (!d->ptab)
		goto err_free;

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	rc = -pthread_mutex_init(&d->gnt.hdr->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	if (rc)
		goto err_free;
	d->gnt.hdr->nr_ents = HV_GNT_ENTRIES;

	n = snprintf(d->path, sizeof(d->path), "%s/dom%u.hv", hv->dir, domid);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		rc = -ENAMETOOLONG;
		goto err_free;
	}
	memcpy(sa.sun_path, d->path, (size_t)n + 1);
	d->listen_fd = socket(AF_UNIX,
			      SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->listen_fd < 0) {
		rc = -errno;
		goto err_free;
	}
	unlink(d->path);
	if (bind(d->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(d->listen_fd, 64)) {
		rc = -errno;
		goto err_unlink;
	}
	d->listen_src.fn = listen_event;
	rc = simloop_add(hv->epfd, d->listen_fd, EPOLLIN, &d->listen_src);
	if (rc)
		goto err_unlink;
	d->next = hv->doms;
	hv->doms = d;
	return 0;

err_unlink:
	unlink(d->path);
	close(d->listen_fd);
err_free:
	dom_free(d);
	return rc;
}

/* ---------------------------------------------------------------- events */

/* Xen's evtchn_send from @d's @port, for events xensimd itself raises. */
static void evt_send(struct hv *hv, struct hv_dom *d, unsigned int port)
{
	struct hv_port *pt;
	struct hv_dom *rd;

	if (port >= HV_NR_PORTS)
		return;
	pt = &d->port[port];
	/* Sending on an unbound port is dropped, as Xen does. */
	if (pt->state != HV_PORT_INTERDOMAIN)
		return;
	rd = dom_find(hv, pt->rdom);
	if (rd && pt->rport < HV_NR_PORTS && rd->port[pt->rport].efd >= 0)
		eventfd_write(rd->port[pt->rport].efd, 1);
}

static int port_alloc(struct hv_dom *d, struct hv_conn *c)
{
	unsigned int p;
	int efd;

	/* Port 0 is never handed out, as in Xen. */
	for (p = 1; p < HV_NR_PORTS; p++)
		if (d->port[p].state == HV_PORT_FREE)
			break;
	if (p == HV_NR_PORTS)
		return -ENOSPC;
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		return -errno;
	d->port[p].efd = efd;
	d->port[p].owner = c;
	return (int)p;
}

/* Xen's evtchn_close: a remote interdomain end becomes unbound to us. */
static void port_close(struct hv *hv, struct hv_dom *d, unsigned int p)
{
	struct hv_port *pt = &d->port[p];
	struct hv_dom *rd;

	if (pt->state == HV_PORT_INTERDOMAIN) {
		rd = dom_find(hv, pt->rdom);
		if (rd && pt->rport < HV_NR_PORTS) {
			struct hv_port *rp = &rd->port[pt->rport];

			if (rp->state == HV_PORT_INTERDOMAIN &&
			    rp->rdom == d->domid && rp->rport == p) {
				rp->state = HV_PORT_UNBOUND;
				rp->rdom = (uint16_t)d->domid;
				rp->rport = 0;
				port_publish(rd, pt->rport);
			}
		}
	}
	pt->state = HV_PORT_FREE;
	pt->rdom = 0;
	pt->rport = 0;
	pt->virq = 0;
	pt->owner = NULL;
	pt->holds = 0;
	pt->closing = 0;
	if (pt->efd >= 0)
		close(pt->efd);
	pt->efd = -1;
	port_publish(d, p);
}

/* The handle lets go of @p; it closes now unless a notify still holds it. */
static void port_release(struct hv *hv, struct hv_dom *d, unsigned int p)
{
	if (d->port[p].holds) {
		d->port[p].owner = NULL;
		d->port[p].closing = 1;
		return;
	}
	port_close(hv, d, p);
}

static void port_hold(struct hv_dom *d, uint32_t p)
{
	if (p != HV_NONE)
		d->port[p].holds++;
}

/* Send the notify event on @p, then drop the hold on it. */
static void port_notify_put(struct hv *hv, struct hv_dom *d, uint32_t p)
{
	if (p == HV_NONE || d->port[p].state == HV_PORT_FREE)
		return;
	evt_send(hv, d, p);
	if (d->port[p].holds && !--d->port[p].holds && d->port[p].closing)
		port_close(hv, d, p);
}

/* ---------------------------------------------------------------- grants */

static int page_alloc(struct hv_dom *d, uint32_t *frame)
{
	uint32_t i, n = d->mem_pages, pg;

	for (i = 0; i < n; i++) {
		pg = (d->page_hint + i) % n;
		if (!(d->page_used[pg / 64] & (1ull << (pg % 64)))) {
			d->page_used[pg / 64] |= 1ull << (pg % 64);
			d->page_hint = pg + 1;
			*frame = pg;
			return 0;
		}
	}
	return -ENOMEM;
}

static void page_free(struct hv_dom *d, uint32_t frame)
{
	off_t off = (off_t)frame << HV_PAGE_SHIFT;

	/* Handed out zeroed next time, and the memfd stays sparse. */
	if (fallocate(d->mem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      off, HV_PAGE_SIZE))
		memset(d->mem + off, 0, HV_PAGE_SIZE);
	d->page_used[frame / 64] &= ~(1ull << (frame % 64));
}

static int ref_alloc(struct hv_dom *d, uint32_t *ref)
{
	uint32_t i, span = HV_GNT_ENTRIES - HV_GNT_RESERVED, r;

	/* Round robin, so a stale ref is less likely to hit a new grant. */
	for (i = 0; i < span; i++) {
		r = HV_GNT_RESERVED +
		    (d->ref_hint - HV_GNT_RESERVED + i) % span;
		if (!d->ref_used[r]) {
			d->ref_used[r] = 1;
			d->ref_hint = r + 1 < HV_GNT_ENTRIES ? r + 1
							     : HV_GNT_RESERVED;
			*ref = r;
			return 0;
		}
	}
	return -ENOSPC;
}

/*
 * Linux's gnttab_end_foreign_access_ref for v1: clear the flags unless the
 * grantee has it in use (GTF_reading/GTF_writing). The cmpxchg pairs with
 * the one in hvp_gnt_pin: either the pin sees the entry gone or we see it in
 * use. 1 if ended.
 */
static int end_access(struct hv_dom *d, uint32_t ref)
{
	uint16_t *flags = &d->gnt.ents[ref].flags;
	uint16_t fl = __atomic_load_n(flags, __ATOMIC_ACQUIRE);

	do {
		if (fl & (GTF_reading | GTF_writing))
			return 0;
	} while (!__atomic_compare_exchange_n(
		flags, &fl, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return 1;
}

static void timer_arm(struct hv *hv, int on)
{
	struct itimerspec its = { 0 };

	if (on == hv->timer_armed || hv->timer_fd < 0)
		return;
	if (on) {
		its.it_interval.tv_nsec = 10 * 1000 * 1000;
		its.it_value.tv_nsec = 10 * 1000 * 1000;
	}
	timerfd_settime(hv->timer_fd, 0, &its, NULL);
	hv->timer_armed = on;
}

static void share_end_page(struct hv *hv, struct hv_dom *d, struct hv_share *s,
			   uint32_t i)
{
	struct hv_endq *q;

	if (!s->pg[i].live)
		return;
	s->pg[i].live = 0;
	s->live--;
	/* gntalloc's unmap notify, done as the gref goes. */
	if (s->notify_off != HV_NONE && s->notify_off >> HV_PAGE_SHIFT == i)
		d->mem[((size_t)s->pg[i].frame << HV_PAGE_SHIFT) +
		       (s->notify_off & (HV_PAGE_SIZE - 1))] = 0;
	if (s->notify_port != HV_NONE &&
	    (s->notify_off == HV_NONE ? i == 0
				      : s->notify_off >> HV_PAGE_SHIFT == i)) {
		port_notify_put(hv, d, s->notify_port);
		s->notify_port = HV_NONE;
	}
	if (end_access(d, s->pg[i].ref)) {
		d->ref_used[s->pg[i].ref] = 0;
		page_free(d, s->pg[i].frame);
		return;
	}
	/* Still mapped by the grantee: retried until it lets go. */
	q = malloc(sizeof(*q));
	if (!q) {
		hv_log("dom%u: ref %u leaked (no memory to defer its end)",
		       d->domid, s->pg[i].ref);
		return;
	}
	q->ref = s->pg[i].ref;
	q->frame = s->pg[i].frame;
	q->next = d->endq;
	d->endq = q;
	timer_arm(hv, 1);
}

static void endq_retry(struct hv *hv)
{
	struct hv_endq **pq, *q;
	struct hv_dom *d;
	int left = 0;

	for (d = hv->doms; d; d = d->next) {
		for (pq = &d->endq; (q = *pq);) {
			if (end_access(d, q->ref)) {
				d->ref_used[q->ref] = 0;
				page_free(d, q->frame);
				*pq = q->next;
				free(q);
			} else {
				pq = &q->next;
				left = 1;
			}
		}
	}
	if (!left)
		timer_arm(hv, 0);
}

static void timer_event(struct simloop_src *src, uint32_t events)
{
	struct hv *hv = container_of(src, struct hv, timer_src);
	uint64_t n;

	if (read(hv->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		hv_log("timerfd read: %s", strerror(errno));
	endq_retry(hv);
}

static void map_release(struct hv *hv, struct hv_conn *c, struct hv_map *m)
{
	uint32_t i;

	/* gntdev's order: clear the byte, unmap, then send the event. */
	if (m->notify_off != HV_NONE) {
		i = m->notify_off >> HV_PAGE_SHIFT;
		m->pg[i].gd->mem[((size_t)m->pg[i].frame << HV_PAGE_SHIFT) +
				 (m->notify_off & (HV_PAGE_SIZE - 1))] = 0;
	}
	for (i = 0; i < m->count; i++)
		hvp_gnt_unpin(&m->pg[i].gd->gnt, m->pg[i].ref, !m->writable, 1);
	port_notify_put(hv, c->dom, m->notify_port);
	for (i = 0; i < m->count; i++)
		dom_put(m->pg[i].gd);
	c->mapped -= m->count;
	free(m);
}

/* ---------------------------------------------------------------- ops */

static int notify_port_ok(struct hv_dom *d, uint32_t port)
{
	return port == HV_NONE ||
	       (port < HV_NR_PORTS && d->port[port].state != HV_PORT_FREE &&
		!d->port[port].closing);
}

static int op_domain(struct hv *hv, struct hv_conn *c, const struct hv_req *rq,
		     struct hv_rsp *rs, int *fds, int *nfds)
{
	struct hv_dom *d = dom_find(hv, rq->domid);

	if (!d)
		return -ESRCH;
	rs->mem_pages = d->mem_pages;
	rs->nr_ents = HV_GNT_ENTRIES;
	rs->nr_ports = HV_NR_PORTS;
	fds[0] = d->mem_fd;
	fds[1] = d->gnt_fd;
	fds[2] = d->act_fd;
	fds[3] = d->port_ro_fd;
	*nfds = 4;
	return 0;
}

static int op_gnt_map(struct hv *hv, struct hv_conn *c, const struct hv_req *rq,
		      size_t len, struct hv_rsp *rs)
{
	const uint32_t *pairs = (const uint32_t *)(rq + 1);
	uint32_t *frames = (uint32_t *)(rs + 1);
	uint32_t i, n = rq->count;
	int writable = !!(rq->flags & HV_F_WRITABLE);
	struct hv_map *m;
	int st = GNTST_okay;

	if (!n || n > HV_MAX_BATCH || len != sizeof(*rq) + (size_t)n * 8)
		return -EINVAL;
	if (c->mapped + n > HV_CONN_MAX_MAPPED)
		return -ENOMEM;
	if (rq->notify_off != HV_NONE &&
	    (rq->notify_off >= n * HV_PAGE_SIZE || !writable))
		return -EINVAL;
	if (!notify_port_ok(c->dom, rq->notify_port))
		return -EINVAL;
	m = calloc(1, sizeof(*m) + n * sizeof(m->pg[0]));
	if (!m)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct hv_dom *gd = dom_find(hv, pairs[2 * i]);
		uint32_t ref = pairs[2 * i + 1];

		if (!gd) {
			st = GNTST_bad_domain;
			break;
		}
		st = hvp_gnt_pin(&gd->gnt, ref, (uint16_t)c->dom->domid,
				 !writable, 1, 1, &m->pg[i].frame);
		if (st != GNTST_okay)
			break;
		gd->refs++;
		m->pg[i].gd = gd;
		m->pg[i].ref = ref;
	}
	if (st != GNTST_okay) {
		/* gntdev fails the whole mmap with EINVAL if one op fails. */
		while (i--) {
			hvp_gnt_unpin(&m->pg[i].gd->gnt, m->pg[i].ref,
				      !writable, 1);
			dom_put(m->pg[i].gd);
		}
		free(m);
		return -EINVAL;
	}
	m->id = ++c->next_id;
	m->count = n;
	m->writable = writable;
	m->notify_off = rq->notify_off;
	m->notify_port = rq->notify_port;
	port_hold(c->dom, m->notify_port);
	m->next = c->maps;
	c->maps = m;
	c->mapped += n;
	for (i = 0; i < n; i++)
		frames[i] = m->pg[i].frame;
	rs->id = m->id;
	rs->count = n;
	return 0;
}

static int op_gnt_unmap(struct hv *hv, struct hv_conn *c,
			const struct hv_req *rq)
{
	struct hv_map **pm, *m;

	for (pm = &c->maps; (m = *pm); pm = &m->next) {
		if (m->id == rq->id) {
			*pm = m->next;
			map_release(hv, c, m);
			return 0;
		}
	}
	return -EINVAL;
}

static int op_gnt_share(struct hv *hv, struct hv_conn *c,
			const struct hv_req *rq, struct hv_rsp *rs)
{
	struct hv_dom *d = c->dom;
	uint32_t *out = (uint32_t *)(rs + 1);
	uint32_t i, n = rq->count;
	struct hv_share *s;
	uint16_t fl;
	int rc = 0;

	if (!n || n > HV_MAX_BATCH || rq->domid > HV_DOMID_MAX)
		return -EINVAL;
	if (rq->notify_off != HV_NONE && rq->notify_off >= n * HV_PAGE_SIZE)
		return -EINVAL;
	if (!notify_port_ok(d, rq->notify_port))
		return -EINVAL;
	s = calloc(1, sizeof(*s) + n * sizeof(s->pg[0]));
	if (!s)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		rc = page_alloc(d, &s->pg[i].frame);
		if (rc)
			break;
		rc = ref_alloc(d, &s->pg[i].ref);
		if (rc) {
			page_free(d, s->pg[i].frame);
			break;
		}
	}
	if (rc) {
		while (i--) {
			d->ref_used[s->pg[i].ref] = 0;
			page_free(d, s->pg[i].frame);
		}
		free(s);
		return rc;
	}
	fl = GTF_permit_access |
	     ((rq->flags & HV_F_WRITABLE) ? 0 : GTF_readonly);
	for (i = 0; i < n; i++) {
		grant_entry_v1_t *e = &d->gnt.ents[s->pg[i].ref];

		e->frame = s->pg[i].frame;
		e->domid = (uint16_t)rq->domid;
		/* Flags last, as a guest fills an entry. */
		__atomic_store_n(&e->flags, fl, __ATOMIC_RELEASE);
		s->pg[i].live = 1;
		out[2 * i] = s->pg[i].ref;
		out[2 * i + 1] = s->pg[i].frame;
	}
	s->id = ++c->next_id;
	s->count = s->live = n;
	s->notify_off = rq->notify_off;
	s->notify_port = rq->notify_port;
	port_hold(d, s->notify_port);
	s->next = c->shares;
	c->shares = s;
	rs->id = s->id;
	rs->count = 2 * n;
	return 0;
}

static int op_gnt_unshare(struct hv *hv, struct hv_conn *c,
			  const struct hv_req *rq)
{
	struct hv_share **ps, *s;
	uint32_t i;

	for (ps = &c->shares; (s = *ps); ps = &s->next)
		if (s->id == rq->id)
			break;
	if (!s || rq->first >= s->count || rq->count > s->count - rq->first)
		return -EINVAL;
	for (i = rq->first; i < rq->first + rq->count; i++)
		share_end_page(hv, c->dom, s, i);
	if (!s->live) {
		*ps = s->next;
		free(s);
	}
	return 0;
}

static int op_bind_unbound(struct hv *hv, struct hv_conn *c,
			   const struct hv_req *rq, struct hv_rsp *rs, int *fds,
			   int *nfds)
{
	struct hv_dom *d = c->dom;
	int p;

	/* As Linux's evtchn device: a restricted handle allocates nothing. */
	if (c->restrict_domid >= 0)
		return -EACCES;
	if (rq->domid > HV_DOMID_MAX)
		return -ESRCH;
	p = port_alloc(d, c);
	if (p < 0)
		return p;
	d->port[p].state = HV_PORT_UNBOUND;
	d->port[p].rdom = (uint16_t)rq->domid;
	port_publish(d, (unsigned int)p);
	rs->id = (uint32_t)p;
	fds[0] = d->port[p].efd;
	*nfds = 1;
	return 0;
}

static int op_bind_interdomain(struct hv *hv, struct hv_conn *c,
			       const struct hv_req *rq, struct hv_rsp *rs,
			       int *fds, int *nfds)
{
	struct hv_dom *d = c->dom, *rd;
	struct hv_port *rp;
	int p;

	if (c->restrict_domid >= 0 && (uint32_t)c->restrict_domid != rq->domid)
		return -EACCES;
	rd = dom_find(hv, rq->domid);
	if (!rd)
		return -ESRCH;
	/* Xen: the remote port must be unbound and offered to us. */
	if (rq->port >= HV_NR_PORTS)
		return -EINVAL;
	rp = &rd->port[rq->port];
	if (rp->state != HV_PORT_UNBOUND || rp->rdom != d->domid)
		return -EINVAL;
	p = port_alloc(d, c);
	if (p < 0)
		return p;
	d->port[p].state = HV_PORT_INTERDOMAIN;
	d->port[p].rdom = (uint16_t)rd->domid;
	d->port[p].rport = rq->port;
	rp->state = HV_PORT_INTERDOMAIN;
	rp->rport = (uint32_t)p;
	port_publish(d, (unsigned int)p);
	port_publish(rd, rq->port);
	/* Xen sets the local port pending in case the remote end signalled
	 * while unbound; Linux delivers it once the port is bound. */
	eventfd_write(d->port[p].efd, 1);
	rs->id = (uint32_t)p;
	fds[0] = d->port[p].efd;
	*nfds = 1;
	return 0;
}

static int op_bind_virq(struct hv *hv, struct hv_conn *c,
			const struct hv_req *rq, struct hv_rsp *rs, int *fds,
			int *nfds)
{
	struct hv_dom *d = c->dom;
	unsigned int i;
	int p;

	if (c->restrict_domid >= 0)
		return -EACCES;
	if (rq->port >= HV_NR_VIRQS)
		return -EINVAL;
	for (i = 0; i < HV_NR_PORTS; i++)
		if (d->port[i].state == HV_PORT_VIRQ &&
		    d->port[i].virq == rq->port)
			return -EEXIST;
	p = port_alloc(d, c);
	if (p < 0)
		return p;
	d->port[p].state = HV_PORT_VIRQ;
	d->port[p].virq = rq->port;
	port_publish(d, (unsigned int)p);
	rs->id = (uint32_t)p;
	fds[0] = d->port[p].efd;
	*nfds = 1;
	return 0;
}

static int op_unbind(struct hv *hv, struct hv_conn *c, const struct hv_req *rq)
{
	/* Linux: EINVAL out of range, ENOTCONN if not this handle's. */
	if (rq->port >= HV_NR_PORTS)
		return -EINVAL;
	if (c->dom->port[rq->port].owner != c)
		return -ENOTCONN;
	port_release(hv, c->dom, rq->port);
	return 0;
}

static int op_peer(struct hv *hv, struct hv_conn *c, const struct hv_req *rq,
		   struct hv_rsp *rs, int *fds, int *nfds)
{
	struct hv_port *pt;
	struct hv_dom *rd;

	if (rq->port >= HV_NR_PORTS || c->dom->port[rq->port].owner != c)
		return -ENOTCONN;
	pt = &c->dom->port[rq->port];
	rs->gen = pt->gen;
	if (pt->state != HV_PORT_INTERDOMAIN)
		return -EPIPE;
	rd = dom_find(hv, pt->rdom);
	if (!rd || pt->rport >= HV_NR_PORTS || rd->port[pt->rport].efd < 0)
		return -EPIPE;
	fds[0] = rd->port[pt->rport].efd;
	*nfds = 1;
	return 0;
}

static int op_restrict(struct hv *hv, struct hv_conn *c,
		       const struct hv_req *rq)
{
	/* Linux's IOCTL_EVTCHN_RESTRICT_DOMID: once, and never to Dom0. */
	if (c->restrict_domid >= 0)
		return -EACCES;
	if (rq->domid == 0 || rq->domid > HV_DOMID_MAX)
		return -EINVAL;
	c->restrict_domid = (int)rq->domid;
	return 0;
}

/* ---------------------------------------------------------------- conns */

static void conn_destroy(struct hv *hv, struct hv_conn *c)
{
	struct hv_conn **pc;
	struct hv_share *s;
	struct hv_map *m;
	unsigned int p;
	uint32_t i;

	simloop_del(hv->epfd, c->fd);
	close(c->fd);
	for (pc = &c->dom->conns; *pc; pc = &(*pc)->next) {
		if (*pc == c) {
			*pc = c->next;
			break;
		}
	}
	/* Maps first: their notify may use a port this handle also holds. */
	while ((m = c->maps)) {
		c->maps = m->next;
		map_release(hv, c, m);
	}
	while ((s = c->shares)) {
		c->shares = s->next;
		for (i = 0; i < s->count; i++)
			share_end_page(hv, c->dom, s, i);
		free(s);
	}
	for (p = 0; p < HV_NR_PORTS; p++)
		if (c->dom->port[p].owner == c)
			port_release(hv, c->dom, p);
	free(c);
}

static int conn_reply(struct hv_conn *c, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * HV_MAX_FDS)];
	} cm;
	struct iovec iov = { .iov_base = &c->dom->hv->out, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(&cm.h), fds, sizeof(int) * (size_t)nfds);
	}
	/* Never block on a client that does not read its answers. */
	if (sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len)
		return -errno ? -errno : -EIO;
	return 0;
}

static void conn_event(struct simloop_src *src, uint32_t events)
{
	struct hv_conn *c = container_of(src, struct hv_conn, src);
	struct hv *hv = c->dom->hv;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} cm;
	struct iovec iov = { .iov_base = &hv->in, .iov_len = sizeof(hv->in) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cm.buf,
		.msg_controllen = sizeof(cm.buf),
	};
	const struct hv_req *rq = &hv->in.req;
	struct hv_rsp *rs = &hv->out.rsp;
	struct cmsghdr *ch;
	int fds[HV_MAX_FDS], nfds = 0, rc, bad = 0;
	ssize_t n;

	n = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_destroy(hv, c);
		return;
	}
	/* We never take descriptors from clients. */
	for (ch = CMSG_FIRSTHDR(&msg); ch; ch = CMSG_NXTHDR(&msg, ch)) {
		if (ch->cmsg_level == SOL_SOCKET &&
		    ch->cmsg_type == SCM_RIGHTS) {
			size_t k,
				nf = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int fd;

			for (k = 0; k < nf; k++) {
				memcpy(&fd, CMSG_DATA(ch) + k * sizeof(int),
				       sizeof(fd));
				close(fd);
			}
		}
		bad = 1;
	}
	memset(rs, 0, sizeof(*rs));
	if (bad || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (size_t)n < sizeof(*rq)) {
		rc = -EINVAL;
		goto reply;
	}
	if (rq->op != HV_OP_GNT_MAP && (size_t)n != sizeof(*rq)) {
		rc = -EINVAL;
		goto reply;
	}
	switch (rq->op) {
	case HV_OP_DOMAIN:
		rc = op_domain(hv, c, rq, rs, fds, &nfds);
		break;
	case HV_OP_GNT_MAP:
		rc = op_gnt_map(hv, c, rq, (size_t)n, rs);
		break;
	case HV_OP_GNT_UNMAP:
		rc = op_gnt_unmap(hv, c, rq);
		break;
	case HV_OP_GNT_SHARE:
		rc = op_gnt_share(hv, c, rq, rs);
		break;
	case HV_OP_GNT_UNSHARE:
		rc = op_gnt_unshare(hv, c, rq);
		break;
	case HV_OP_EVT_BIND_UNBOUND:
		rc = op_bind_unbound(hv, c, rq, rs, fds, &nfds);
		break;
	case HV_OP_EVT_BIND_INTERDOMAIN:
		rc = op_bind_interdomain(hv, c, rq, rs, fds, &nfds);
		break;
	case HV_OP_EVT_BIND_VIRQ:
		rc = op_bind_virq(hv, c, rq, rs, fds, &nfds);
		break;
	case HV_OP_EVT_UNBIND:
		rc = op_unbind(hv, c, rq);
		break;
	case HV_OP_EVT_PEER:
		rc = op_peer(hv, c, rq, rs, fds, &nfds);
		break;
	case HV_OP_EVT_RESTRICT:
		rc = op_restrict(hv, c, rq);
		break;
	default:
		rc = -ENOSYS;
		break;
	}
reply:
	if (rc) {
		rs->count = 0;
		nfds = 0;
	}
	rs->rc = rc;
	if (conn_reply(c, sizeof(*rs) + rs->count * sizeof(uint32_t), fds,
		       nfds))
		conn_destroy(hv, c);
}

static void listen_event(struct simloop_src *src, uint32_t events)
{
	struct hv_dom *d = container_of(src, struct hv_dom, listen_src);
	struct hv_conn *c;
	int fd;

	fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->dom = d;
	c->restrict_domid = -1;
	c->src.fn = conn_event;
	if (simloop_add(d->hv->epfd, fd, EPOLLIN, &c->src)) {
		close(fd);
		free(c);
		return;
	}
	c->next = d->conns;
	d->conns = c;
}

/* ---------------------------------------------------------------- lifetime */

int hv_domain_destroy(struct hv *hv, unsigned int domid)
{
	struct hv_dom **pd, *d, *d0;
	struct hv_endq *q;
	unsigned int p;

	for (pd = &hv->doms; (d = *pd); pd = &d->next)
		if (d->domid == domid)
			break;
	if (!d)
		return -ENOENT;
	/* Clients that cached it stop using it at their next copy. */
	__atomic_store_n(&d->gnt.hdr->dead, 1, __ATOMIC_RELEASE);
	simloop_del(hv->epfd, d->listen_fd);
	close(d->listen_fd);
	d->listen_fd = -1;
	unlink(d->path);
	while (d->conns)
		conn_destroy(hv, d->conns);
	for (p = 0; p < HV_NR_PORTS; p++)
		if (d->port[p].state != HV_PORT_FREE)
			port_close(hv, d, p);
	*pd = d->next;
	while ((q = d->endq)) {
		d->endq = q->next;
		free(q);
	}
	/* Xen raises VIRQ_DOM_EXC in Dom0 when a domain goes. */
	d0 = dom_find(hv, 0);
	for (p = 0; d0 && p < HV_NR_PORTS; p++)
		if (d0->port[p].state == HV_PORT_VIRQ &&
		    d0->port[p].virq == HV_VIRQ_DOM_EXC)
			eventfd_write(d0->port[p].efd, 1);
	dom_put(d);
	return 0;
}

struct hv *hv_create(int epfd, const char *dir)
{
	struct hv *hv;
	size_t n = strlen(dir);

	if (n >= sizeof(hv->dir))
		return NULL;
	hv = calloc(1, sizeof(*hv));
	if (!hv)
		return NULL;
	hv->epfd = epfd;
	memcpy(hv->dir, dir, n + 1);
	hv->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (hv->timer_fd < 0)
		goto err_free;
	hv->timer_src.fn = timer_event;
	if (simloop_add(epfd, hv->timer_fd, EPOLLIN, &hv->timer_src))
		goto err_close;
	return hv;

err_close:
	close(hv->timer_fd);
err_free:
	free(hv);
	return NULL;
}

void hv_destroy(struct hv *hv)
{
	if (!hv)
		return;
	while (hv->doms)
		hv_domain_destroy(hv, hv->doms->domid);
	simloop_del(hv->epfd, hv->timer_fd);
	close(hv->timer_fd);
	free(hv);
}
