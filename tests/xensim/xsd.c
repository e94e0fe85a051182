// SPDX-License-Identifier: MIT
/*
 * xsd.c - the xenstored of xensimd: the real xenstore wire protocol on one
 * unix socket per domain, with C xenstored 4.17's semantics.
 *
 * The store is a hash of nodes keyed by their absolute path, each holding its
 * value, its permissions, its children as xenstored keeps them (a NUL
 * separated list in creation order, which is what DIRECTORY answers) and the
 * generation count of its last change. A transaction is an overlay keyed the
 * same way: the first access to a path copies the global node (or records its
 * absence) with the generation seen; TRANSACTION_END fails with EAGAIN if any
 * of those generations changed meanwhile, else the overlay's changes become
 * global and the watch events queued during the transaction fire. Every
 * client is hostile: input is bounded by XENSTORE_PAYLOAD_MAX, a guest gets
 * xenstored's quotas, and a connection whose output queue outgrows
 * XSD_OUTQ_MAX is dropped rather than let it grow xensimd. The contract is
 * xsd.h; the main loop and the domain hooks live in xensimd.c.
 */
#include "xensim/xsd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#include "xensim/simloop.h"

/* Permission bits, as xenstored keeps them (xenstore_lib.h values). */
#define PERM_NONE 0x00U
#define PERM_READ 0x01U
#define PERM_WRITE 0x02U
#define PERM_OWNER 0x08U
#define PERM_IGNORE 0x10U /* entry of a domain that has gone away */

#define NO_GEN UINT64_MAX   /* generation of a node that is absent */
#define DOMID_SELF_ 0x7FF0U /* Xen's DOMID_SELF / FIRST_RESERVED */

/*
 * xenstored's entry-size quota counts its database record: a 24-byte header,
 * 8 bytes per permission, then value and children.
 */
#define REC_HDR_SIZE 24U
#define REC_PERM_SIZE 8U

/* Output a connection may have queued before it is dropped. */
#define XSD_OUTQ_MAX (1U << 20)
/* Socket connections one guest may hold open at once. */
#define XSD_CONNS_PER_DOMU 64U
/* Requests handled per wakeup, so one busy client cannot starve the rest. */
#define XSD_REQ_BUDGET 64U

#define container_of(p, type, member)                                          \
	((type *)((char *)(p)-offsetof(type, member)))

/* ------------------------------------------------------------ hash map */

struct hent {
	struct hent *next;
	uint32_t hash;
	const char *key;
};

struct hmap {
	struct hent **b;
	unsigned int nb; /* buckets, a power of two */
	unsigned int n;
};

static uint32_t hstr(const char *s)
{
	uint32_t h = 2166136261U;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619U;
	return h;
}

static int hmap_init(struct hmap *m)
{
	m->nb = 64;
	m->n = 0;
	m->b = calloc(m->nb, sizeof(*m->b));
	return m->b ? 0 : -ENOMEM;
}

static struct hent *hmap_get(const struct hmap *m, const char *key)
{
	uint32_t h = hstr(key);
	struct hent *e;

	for (e = m->b[h & (m->nb - 1)]; e; e = e->next)
		if (e->hash == h && !strcmp(e->key, key))
			return e;
	return NULL;
}

/* Never fails: if the table cannot grow, chains just get longer. */
static void hmap_add(struct hmap *m, struct hent *e)
{
	struct hent **nb, *i, *next;
	unsigned int k;

	if (m->n >= m->nb && m->nb < (1U << 24)) {
		nb = calloc(m->nb * 2, sizeof(*nb));
		if (nb) {
			for (k = 0; k < m->nb; k++)
				for (i = m->b[k]; i; i = next) {
					next = i->next;
					i->next = nb[i->hash & (m->nb * 2 - 1)];
					nb[i->hash & (m->nb * 2 - 1)] = i;
				}
			free(m->b);
			m->b = nb;
			m->nb *= 2;
		}
	}
	e->hash = hstr(e->key);
	e->next = m->b[e->hash & (m->nb - 1)];
	m->b[e->hash & (m->nb - 1)] = e;
	m->n++;
}

static void hmap_del(struct hmap *m, struct hent *e)
{
	struct hent **pp = &m->b[e->hash & (m->nb - 1)];

	while (*pp && *pp != e)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = e->next;
		m->n--;
	}
}

/* ------------------------------------------------------------ types */

struct xsd_perm {
	unsigned int id;
	unsigned int perms;
};

/* Invariant: num >= 1 for every node; p[0] is the owner entry. */
struct xsd_perms {
	unsigned int num;
	struct xsd_perm *p;
};

struct xsd_node {
	struct hent h; /* h.key == path */
	uint64_t gen;
	struct xsd_perms perms;
	unsigned int vlen;
	unsigned int clen;
	char *value;
	char *children; /* "a\0b\0", creation order */
	char path[];
};

/* One path a transaction has touched. */
struct ta_ent {
	struct hent h;	       /* h.key == path */
	struct ta_ent *order;  /* access order, the commit order */
	struct xsd_node *node; /* the transaction's view; NULL: absent */
	uint64_t gen;	       /* global generation at first access */
	struct xsd_perms old;  /* perms at first access (num 0: absent) */
	bool check_gen;
	bool modified;
	bool fire; /* a watch event is queued for this path */
	bool exact;
	char path[];
};

/* Change of a domain's node count made inside a transaction. */
struct ta_dom {
	struct ta_dom *next;
	unsigned int domid;
	int delta;
};

struct xsd_trans {
	struct xsd_trans *next;
	uint32_t id;
	struct hmap acc;
	struct ta_ent *first;
	struct ta_ent **tail;
	struct ta_dom *doms;
	unsigned int nodes;
	bool fail;    /* an error left it inconsistent: END "T" fails */
	bool created; /* a node was created: check the quota at END */
};

struct xsd_watch {
	struct xsd_watch *next;
	char *node; /* absolute, or "@..." */
	char *token;
	bool relative; /* registered relative to the domain's home */
};

struct outmsg {
	struct outmsg *next;
	size_t len;
	size_t off; /* bytes already sent */
	bool reply; /* counts as an outstanding request */
	bool event;
	char data[];
};

struct xsd_conn {
	struct simloop_src src;
	struct xsd *xsd;
	struct xsd_conn *next;
	int fd;
	unsigned int domid;
	bool dead;   /* closed at the end of the current callback */
	uint32_t ev; /* epoll events registered */

	unsigned int in_used; /* bytes of the current message read */
	struct xsd_sockmsg in_hdr;
	char in_body[XENSTORE_PAYLOAD_MAX + 1];

	struct outmsg *out;
	struct outmsg **out_tail;
	size_t out_bytes;
	unsigned int out_replies;

	struct xsd_watch *watches;
	struct xsd_trans *trans;
	unsigned int ntrans;
	uint32_t next_tid;
};

struct xsd_listener {
	struct simloop_src src;
	struct xsd *xsd;
	struct xsd_listener *next;
	int fd;
	unsigned int domid;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* What xsd knows of a domain id: quota counters, introduced or not. */
struct xsd_dom {
	struct xsd_dom *next;
	unsigned int domid;
	bool introduced;
	bool has_target;
	unsigned int target;
	unsigned int entries; /* nodes it owns */
	unsigned int watches;
	unsigned int conns;
};

struct xsd {
	int epfd;
	struct xsd_hooks hooks;
	struct xsd_quota q;
	struct hmap store;
	uint64_t gen;
	struct xsd_conn *conns;
	struct xsd_listener *listeners;
	struct xsd_dom *doms;
	struct xsd_perms intro_perms;	/* of @introduceDomain */
	struct xsd_perms release_perms; /* of @releaseDomain */
	unsigned int depth;		/* callbacks running: defer frees */
	time_t log_sec;
	unsigned int log_count;
};

/* One request being handled. */
struct req {
	struct xsd *xsd;
	struct xsd_conn *c; /* NULL: xsd itself (orphan removal) */
	struct xsd_trans *t;
	const struct xsd_sockmsg *hdr;
	char *body; /* NUL-terminated one byte past len */
	unsigned int len;
};

static void conn_flush(struct xsd_conn *c);
static void conn_update_ev(struct xsd_conn *c);

/* ------------------------------------------------------------ small helpers */

/* Guests can trigger these messages: at most ten a second. */
static void xsd_log(struct xsd *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void xsd_log(struct xsd *x, const char *fmt, ...)
{
	time_t now = time(NULL);
	va_list ap;

	if (now != x->log_sec) {
		x->log_sec = now;
		x->log_count = 0;
	}
	if (x->log_count++ >= 10)
		return;
	fprintf(stderr, "xsd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static bool req_unpriv(const struct req *r)
{
	return r->c && r->c->domid != 0;
}

static struct xsd_dom *dom_find(struct xsd *x, unsigned int domid)
{
	struct xsd_dom *d;

	for (d = x->doms; d; d = d->next)
		if (d->domid == domid)
			return d;
	return NULL;
}

/*
 * Domain records are never freed before xsd_destroy(): only domids Dom0
 * names (as owner or listener) or that connect create one, so they stay few.
 */
static struct xsd_dom *dom_get(struct xsd *x, unsigned int domid)
{
	struct xsd_dom *d = dom_find(x, domid);

	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->domid = domid;
	d->next = x->doms;
	x->doms = d;
	return d;
}

static unsigned int dom_entries(struct xsd *x, unsigned int domid)
{
	struct xsd_dom *d = dom_find(x, domid);

	return d ? d->entries : 0;
}

static void dom_entries_add(struct xsd *x, unsigned int domid, int n)
{
	struct xsd_dom *d = dom_get(x, domid);

	if (!d)
		return;
	if (n < 0 && d->entries < (unsigned int)-n)
		d->entries = 0;
	else
		d->entries += n;
}

static int perms_copy(struct xsd_perms *dst, const struct xsd_perms *src)
{
	struct xsd_perm *p = NULL;

	if (src->num) {
		p = malloc(src->num * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memcpy(p, src->p, src->num * sizeof(*p));
	}
	dst->p = p;
	dst->num = src->num;
	return 0;
}

/* Parent of an absolute path; "/" is its own parent. Malloc'd or NULL. */
static char *parent_of(const char *path)
{
	const char *slash = strrchr(path + 1, '/');

	if (!slash)
		return strdup("/");
	return strndup(path, slash - path);
}

/* Last component; @path is absolute and not "/". */
static const char *base_of(const char *path)
{
	return strrchr(path, '/') + 1;
}

static char *child_path(const char *parent, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", strcmp(parent, "/") ? parent : "", name) < 0)
		return NULL;
	return p;
}

/* Strings in a payload: its NUL count, as xenstored counts them. */
static unsigned int count_strings(const char *s, unsigned int len)
{
	unsigned int i, n = 0;

	for (i = 0; i < len; i++)
		n += !s[i];
	return n;
}

/* The one argument of a request: exactly one NUL, at the end. */
static const char *onearg(const struct req *r)
{
	if (!r->len || memchr(r->body, 0, r->len) != r->body + r->len - 1)
		return NULL;
	return r->body;
}

/* Length of the "/local/domain/N" home prefix of domain @domid. */
static int home_len(unsigned int domid)
{
	return snprintf(NULL, 0, "/local/domain/%u", domid);
}

/*
 * Absolute path of @name for the requester: relative names hang below its
 * home /local/domain/<domid>; "@..." and absolute names are kept.
 */
static int canon(const struct req *r, const char *name, char **out)
{
	unsigned int domid = r->c ? r->c->domid : 0;

	*out = NULL;
	if (!name)
		return -EINVAL;
	if (name[0] == '/' || name[0] == '@')
		*out = strdup(name);
	else if (asprintf(out, "/local/domain/%u/%s", domid, name) < 0)
		*out = NULL;
	return *out ? 0 : -ENOMEM;
}

static bool valid_path(const struct xsd *x, const char *p)
{
	size_t len = strlen(p), off = 0, i;

	if (p[0] != '/' || (len > 1 && p[len - 1] == '/') || strstr(p, "//"))
		return false;
	/* Below a domain's home the length limit counts from the home. */
	if (!strncmp(p, "/local/domain/", 14)) {
		for (i = 14; i < 19 && p[i] >= '0' && p[i] <= '9'; i++)
			;
		if (i > 14 && p[i] == '/')
			off = i + 1;
	}
	if (len > off + x->q.path_max)
		return false;
	return strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789-/_@") == len;
}

static unsigned int perm_for(struct xsd *x, unsigned int domid,
			     const struct xsd_perms *p)
{
	const unsigned int all = PERM_READ | PERM_WRITE | PERM_OWNER;
	struct xsd_dom *d = dom_find(x, domid);
	bool tgt = d && d->has_target;
	unsigned int i;

	if (domid == 0 || p->p[0].id == domid ||
	    (tgt && p->p[0].id == d->target))
		return all;
	for (i = 1; i < p->num; i++)
		if (!(p->p[i].perms & PERM_IGNORE) &&
		    (p->p[i].id == domid || (tgt && p->p[i].id == d->target)))
			return p->p[i].perms & all;
	return p->p[0].perms & all;
}

/* ------------------------------------------------------------ nodes */

static struct xsd_node *node_new(const char *path)
{
	size_t len = strlen(path) + 1;
	struct xsd_node *n = calloc(1, sizeof(*n) + len);

	if (!n)
		return NULL;
	memcpy(n->path, path, len);
	n->h.key = n->path;
	return n;
}

static void node_free(struct xsd_node *n)
{
	if (!n)
		return;
	free(n->perms.p);
	free(n->value);
	free(n->children);
	free(n);
}

static int node_set_value(struct xsd_node *n, const void *v, unsigned int len)
{
	char *nv = NULL;

	if (len) {
		nv = malloc(len);
		if (!nv)
			return -ENOMEM;
		memcpy(nv, v, len);
	}
	free(n->value);
	n->value = nv;
	n->vlen = len;
	return 0;
}

static int node_set_children(struct xsd_node *n, const char *c,
			     unsigned int len)
{
	char *nc = NULL;

	if (len) {
		nc = malloc(len);
		if (!nc)
			return -ENOMEM;
		memcpy(nc, c, len);
	}
	free(n->children);
	n->children = nc;
	n->clen = len;
	return 0;
}

static struct xsd_node *node_dup(const struct xsd_node *o)
{
	struct xsd_node *n = node_new(o->path);

	if (!n)
		return NULL;
	n->gen = o->gen;
	if (perms_copy(&n->perms, &o->perms) ||
	    node_set_value(n, o->value, o->vlen) ||
	    node_set_children(n, o->children, o->clen)) {
		node_free(n);
		return NULL;
	}
	return n;
}

static int node_add_child(struct xsd_node *n, const char *name)
{
	size_t len = strlen(name) + 1;
	char *c = realloc(n->children, n->clen + len);

	if (!c)
		return -ENOMEM;
	memcpy(c + n->clen, name, len);
	n->children = c;
	n->clen += len;
	return 0;
}

static void node_del_child(struct xsd_node *n, const char *name)
{
	unsigned int off, len;

	for (off = 0; off < n->clen; off += len) {
		len = strlen(n->children + off) + 1;
		if (!strcmp(n->children + off, name)) {
			memmove(n->children + off, n->children + off + len,
				n->clen - off - len);
			n->clen -= len;
			return;
		}
	}
}

static size_t node_rec_size(const struct xsd_node *n)
{
	return REC_HDR_SIZE + (size_t)n->perms.num * REC_PERM_SIZE + n->vlen +
	       n->clen;
}

static struct xsd_node *store_get(struct xsd *x, const char *path)
{
	struct hent *e = hmap_get(&x->store, path);

	return e ? container_of(e, struct xsd_node, h) : NULL;
}

/* Put @n in the global store in place of the node at its path. */
static void store_put(struct xsd *x, struct xsd_node *n)
{
	struct xsd_node *old = store_get(x, n->path);

	if (old) {
		hmap_del(&x->store, &old->h);
		node_free(old);
	}
	hmap_add(&x->store, &n->h);
}

static void store_del(struct xsd *x, const char *path)
{
	struct xsd_node *old = store_get(x, path);

	if (old) {
		hmap_del(&x->store, &old->h);
		node_free(old);
	}
}

/* ------------------------------------------------------------ transactions */

static void trans_free(struct xsd_trans *t)
{
	struct ta_ent *e, *next;
	struct ta_dom *d, *dn;

	if (!t)
		return;
	for (e = t->first; e; e = next) {
		next = e->order;
		node_free(e->node);
		free(e->old.p);
		free(e);
	}
	for (d = t->doms; d; d = dn) {
		dn = d->next;
		free(d);
	}
	free(t->acc.b);
	free(t);
}

/*
 * The transaction's entry for @path, made on first access from the global
 * node (or its absence) with the generation to check at END.
 */
static int ta_touch(struct req *r, const char *path, struct ta_ent **out)
{
	struct xsd_trans *t = r->t;
	struct xsd_node *g;
	struct hent *h = hmap_get(&t->acc, path);
	struct ta_ent *e;
	size_t len;

	if (h) {
		*out = container_of(h, struct ta_ent, h);
		return 0;
	}
	if (req_unpriv(r) && t->nodes >= r->xsd->q.trans_nodes) {
		t->fail = true;
		return -ENOSPC;
	}
	len = strlen(path) + 1;
	e = calloc(1, sizeof(*e) + len);
	if (!e)
		goto err_nomem;
	memcpy(e->path, path, len);
	e->h.key = e->path;
	e->check_gen = true;
	g = store_get(r->xsd, path);
	e->gen = g ? g->gen : NO_GEN;
	if (g) {
		e->node = node_dup(g);
		if (!e->node || perms_copy(&e->old, &g->perms)) {
			node_free(e->node);
			free(e);
			goto err_nomem;
		}
	}
	hmap_add(&t->acc, &e->h);
	*t->tail = e;
	t->tail = &e->order;
	t->nodes++;
	*out = e;
	return 0;

err_nomem:
	t->fail = true;
	return -ENOMEM;
}

/* ------------------------------------------------------------ node access */

/*
 * Node at @path as the request sees it (through its transaction), without a
 * permission check. 0, -ENOENT, or -ENOSPC / -ENOMEM from the transaction.
 * The pointer is valid until the next write or delete of that path.
 */
static int node_read(struct req *r, const char *path,
		     const struct xsd_node **out)
{
	struct ta_ent *e;
	int rc;

	*out = NULL;
	if (!r->t) {
		*out = store_get(r->xsd, path);
		return *out ? 0 : -ENOENT;
	}
	rc = ta_touch(r, path, &e);
	if (rc)
		return rc;
	*out = e->node;
	return e->node ? 0 : -ENOENT;
}

/*
 * Write @n (always consumed) as the request. With @quota a guest's record
 * larger than the entry-size quota is refused with -ENOSPC, which spoils a
 * transaction as it does in xenstored.
 */
static int node_write(struct req *r, struct xsd_node *n, bool quota)
{
	struct ta_ent *e = NULL;
	int rc;

	if (r->t) {
		rc = ta_touch(r, n->path, &e);
		if (rc) {
			node_free(n);
			return rc;
		}
	}
	if (quota && req_unpriv(r) &&
	    node_rec_size(n) >= r->xsd->q.entry_size) {
		if (r->t)
			r->t->fail = true;
		node_free(n);
		return -ENOSPC;
	}
	n->gen = ++r->xsd->gen;
	if (!e) {
		store_put(r->xsd, n);
		return 0;
	}
	node_free(e->node);
	e->node = n;
	e->modified = true;
	return 0;
}

static int node_delete(struct req *r, const char *path)
{
	struct ta_ent *e;
	int rc;

	r->xsd->gen++;
	if (!r->t) {
		store_del(r->xsd, path);
		return 0;
	}
	rc = ta_touch(r, path, &e);
	if (rc)
		return rc;
	node_free(e->node);
	e->node = NULL;
	e->modified = true;
	return 0;
}

/* A node more or less for @domid's quota; deferred to END in a transaction. */
static void entry_adj(struct req *r, unsigned int domid, int n)
{
	struct ta_dom *d;

	if (!r->t) {
		dom_entries_add(r->xsd, domid, n);
		return;
	}
	for (d = r->t->doms; d; d = d->next)
		if (d->domid == domid)
			break;
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d) {
			r->t->fail = true;
			return;
		}
		d->domid = domid;
		d->next = r->t->doms;
		r->t->doms = d;
	}
	d->delta += n;
}

/*
 * A node the requester wants @perm on. A missing or forbidden node yields
 * -ENOENT only if the nearest existing ancestor grants @perm, else -EACCES:
 * a guest learns nothing about nodes it may not see.
 */
static int node_get(struct req *r, const char *path, unsigned int perm,
		    const struct xsd_node **out)
{
	const struct xsd_node *n, *pn = NULL;
	unsigned int domid = r->c ? r->c->domid : 0;
	char *p, *pp;
	int rc, rc2;

	*out = NULL;
	if (!path || !valid_path(r->xsd, path))
		return -EINVAL;
	rc = node_read(r, path, &n);
	if (!rc && (perm_for(r->xsd, domid, &n->perms) & perm) != perm)
		rc = -EACCES;
	if (!rc) {
		*out = n;
		return 0;
	}
	if (rc == -ENOMEM || rc == -ENOSPC)
		return rc;

	p = strdup(path);
	if (!p)
		return -ENOMEM;
	do {
		pp = parent_of(p);
		free(p);
		p = pp;
		if (!p)
			return -ENOMEM;
		rc2 = node_read(r, p, &pn);
		if (rc2 && rc2 != -ENOENT) {
			free(p);
			return rc2;
		}
	} while (rc2 && strcmp(p, "/"));
	free(p);
	if (!pn) /* no root: cannot happen, "/" is never removed */
		return rc;
	return (perm_for(r->xsd, domid, &pn->perms) & perm) ? rc : -EACCES;
}

/* ------------------------------------------------------------ output */

static void conn_doom(struct xsd_conn *c)
{
	c->dead = true;
}

static bool conn_can_read(const struct xsd_conn *c)
{
	/* Like xenstored, stop taking a guest's requests it doesn't collect. */
	return c->domid == 0 || c->out_replies < c->xsd->q.outstanding_requests;
}

static void conn_update_ev(struct xsd_conn *c)
{
	uint32_t want = 0;

	if (c->dead)
		return;
	if (conn_can_read(c))
		want |= EPOLLIN;
	if (c->out)
		want |= EPOLLOUT;
	if (want != c->ev && !simloop_mod(c->xsd->epfd, c->fd, want, &c->src))
		c->ev = want;
}

static void conn_flush(struct xsd_conn *c)
{
	struct outmsg *m;
	ssize_t n;

	while (!c->dead && (m = c->out)) {
		n = send(c->fd, m->data + m->off, m->len - m->off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_doom(c);
			break;
		}
		m->off += n;
		c->out_bytes -= n;
		if (m->off < m->len)
			continue;
		c->out = m->next;
		if (!c->out)
			c->out_tail = &c->out;
		if (m->reply)
			c->out_replies--;
		free(m);
	}
}

static void conn_queue(struct xsd_conn *c, uint32_t type, uint32_t req_id,
		       uint32_t tx_id, const void *a, unsigned int alen,
		       const void *b, unsigned int blen, bool event)
{
	struct xsd_sockmsg hdr = {
		.type = type,
		.req_id = req_id,
		.tx_id = tx_id,
		.len = alen + blen,
	};
	size_t len = sizeof(hdr) + alen + blen;
	struct outmsg *m;

	if (c->dead)
		return;
	if (c->out_bytes + len > XSD_OUTQ_MAX) {
		xsd_log(c->xsd, "domain %u connection not reading, dropped",
			c->domid);
		conn_doom(c);
		return;
	}
	m = malloc(sizeof(*m) + len);
	if (!m) {
		/* Losing a reply desynchronises the client: drop it. */
		conn_doom(c);
		return;
	}
	m->next = NULL;
	m->len = len;
	m->off = 0;
	m->reply = !event;
	m->event = event;
	memcpy(m->data, &hdr, sizeof(hdr));
	if (alen)
		memcpy(m->data + sizeof(hdr), a, alen);
	if (blen)
		memcpy(m->data + sizeof(hdr) + alen, b, blen);
	*c->out_tail = m;
	c->out_tail = &m->next;
	c->out_bytes += len;
	if (!event)
		c->out_replies++;
	if (c->out == m)
		conn_flush(c);
	conn_update_ev(c);
}

static void reply_error(struct req *r, int err)
{
	unsigned int i, n = sizeof(xsd_errors) / sizeof(xsd_errors[0]);
	const char *name = "EINVAL";

	for (i = 0; i < n; i++)
		if (xsd_errors[i].errnum == err) {
			name = xsd_errors[i].errstring;
			break;
		}
	conn_queue(r->c, XS_ERROR, r->hdr->req_id, r->hdr->tx_id, name,
		   strlen(name) + 1, NULL, 0, false);
}

static void reply(struct req *r, const void *data, unsigned int len)
{
	if (len > XENSTORE_PAYLOAD_MAX) {
		reply_error(r, E2BIG);
		return;
	}
	conn_queue(r->c, r->hdr->type, r->hdr->req_id, r->hdr->tx_id, data, len,
		   NULL, 0, false);
}

static void reply_ok(struct req *r)
{
	reply(r, "OK", 3);
}

static void send_event(struct xsd_conn *c, const char *path, const char *token)
{
	unsigned int plen = strlen(path) + 1, tlen = strlen(token) + 1;
	const size_t hs = sizeof(struct xsd_sockmsg);
	struct outmsg *m;

	if (c->dead || plen + tlen > XENSTORE_PAYLOAD_MAX)
		return;
	/* An identical event still waiting to go says all this one would. */
	if (path[0] != '@')
		for (m = c->out; m; m = m->next)
			if (m->event && !m->off && m->len == hs + plen + tlen &&
			    !memcmp(m->data + hs, path, plen) &&
			    !memcmp(m->data + hs + plen, token, tlen))
				return;
	conn_queue(c, XS_WATCH_EVENT, 0, 0, path, plen, token, tlen, true);
}

/* ------------------------------------------------------------ watches */

static bool is_child(const char *child, const char *parent)
{
	size_t len = strlen(parent);

	if (!strcmp(parent, "/"))
		return true;
	return !strncmp(child, parent, len) &&
	       (child[len] == '/' || child[len] == '\0');
}

/* The path of an event as the watcher registered it. */
static const char *watch_path(const struct xsd_conn *c,
			      const struct xsd_watch *w, const char *name)
{
	if (!w->relative)
		return name;
	name += home_len(c->domid);
	return *name == '/' ? name + 1 : name;
}

static const struct xsd_perms *special_perms(struct xsd *x, const char *name)
{
	if (!strcmp(name, "@introduceDomain"))
		return &x->intro_perms;
	if (!strcmp(name, "@releaseDomain"))
		return &x->release_perms;
	return NULL;
}

/*
 * xenstored tells a watcher about a node it may read, whose parent it may
 * read, or which it could read before the change (@old).
 */
static bool watch_permitted(struct xsd *x, const struct xsd_conn *c,
			    const char *name, const struct xsd_perms *np,
			    const struct xsd_perms *old)
{
	const struct xsd_node *n;
	char *pp;
	bool ok;

	if (old && (perm_for(x, c->domid, old) & PERM_READ))
		return true;
	if (!np) {
		n = store_get(x, name);
		if (!n)
			return false;
		np = &n->perms;
	}
	if (perm_for(x, c->domid, np) & PERM_READ)
		return true;
	pp = parent_of(name);
	if (!pp)
		return false;
	n = store_get(x, pp);
	free(pp);
	ok = n && (perm_for(x, c->domid, &n->perms) & PERM_READ);
	return ok;
}

/*
 * @name changed. Watches on it (@exact) or on it and its ancestors fire; a
 * change inside a transaction is queued until the transaction commits.
 * @np: the node's perms if known (a node being removed), @old: its perms
 * before the change.
 */
static void fire_watches(struct xsd *x, struct req *r, const char *name,
			 const struct xsd_perms *np, bool exact,
			 const struct xsd_perms *old)
{
	const struct xsd_perms *sp = NULL;
	struct xsd_conn *c;
	struct xsd_watch *w;
	struct hent *h;
	struct ta_ent *e;
	bool special = name[0] == '@';

	if (r && r->t) {
		h = hmap_get(&r->t->acc, name);
		if (!h) {
			r->t->fail = true;
			return;
		}
		e = container_of(h, struct ta_ent, h);
		if (!e->fire) {
			e->fire = true;
			e->exact = exact;
		} else if (!exact) {
			e->exact = false;
		}
		return;
	}
	if (special) {
		sp = special_perms(x, name);
		if (!sp)
			return;
	}
	for (c = x->conns; c; c = c->next) {
		if (c->dead || !c->watches)
			continue;
		if (special ? !(perm_for(x, c->domid, sp) & PERM_READ)
			    : !watch_permitted(x, c, name, np, old))
			continue;
		for (w = c->watches; w; w = w->next)
			if (exact ? !strcmp(name, w->node)
				  : is_child(name, w->node))
				send_event(c, watch_path(c, w, name), w->token);
	}
}

static void watch_free(struct xsd *x, struct xsd_conn *c, struct xsd_watch *w)
{
	struct xsd_dom *d = dom_find(x, c->domid);

	if (d && d->watches)
		d->watches--;
	free(w->node);
	free(w->token);
	free(w);
}

static void conn_reset(struct xsd_conn *c)
{
	struct xsd_watch *w;
	struct xsd_trans *t;

	while ((w = c->watches)) {
		c->watches = w->next;
		watch_free(c->xsd, c, w);
	}
	while ((t = c->trans)) {
		c->trans = t->next;
		trans_free(t);
	}
	c->ntrans = 0;
}

/* ------------------------------------------------------------ tree ops */

/*
 * Create @name and its missing ancestors, as xenstored does: each new node
 * takes its parent's perms, a guest owns what it creates. All quota checks
 * come before any change, bottom-up as xenstored writes, so a refusal leaves
 * the store as it was (and a transaction spoilt where xenstored spoils it).
 */
static int node_create(struct req *r, const char *name, const void *data,
		       unsigned int dlen)
{
	struct xsd *x = r->xsd;
	const struct xsd_node *parent = NULL;
	struct xsd_node **nodes = NULL, *pnew = NULL;
	char **names = NULL, **nn, *pp = NULL;
	unsigned int k = 0, j, entries = 0, owner;
	bool unpriv = req_unpriv(r);
	size_t sz;
	int rc;

	names = malloc(sizeof(*names));
	if (!names)
		return -ENOMEM;
	names[k] = strdup(name);
	if (!names[k])
		goto err_nomem;
	k++;
	for (;;) {
		pp = parent_of(names[k - 1]);
		if (!pp)
			goto err_nomem;
		rc = node_read(r, pp, &parent);
		if (!rc)
			break;
		if (rc != -ENOENT || !strcmp(pp, "/"))
			goto err;
		nn = realloc(names, (k + 1) * sizeof(*names));
		if (!nn)
			goto err_nomem;
		names = nn;
		names[k++] = pp;
		pp = NULL;
	}

	if (unpriv)
		entries = dom_entries(x, r->c->domid);
	for (j = 0; j < k; j++) {
		rc = -ENOSPC;
		if (unpriv &&
		    (r->t ? entries : entries + j) >= x->q.entries_per_domain)
			goto err_spoil;
		sz = REC_HDR_SIZE + (size_t)parent->perms.num * REC_PERM_SIZE +
		     (j ? strlen(base_of(names[j - 1])) + 1 : dlen);
		if (unpriv && sz >= x->q.entry_size)
			goto err_spoil;
	}
	if (unpriv &&
	    node_rec_size(parent) + strlen(base_of(names[k - 1])) + 1 >=
		    x->q.entry_size) {
		j = k;
		rc = -ENOSPC;
		goto err_spoil;
	}

	nodes = calloc(k, sizeof(*nodes));
	if (!nodes)
		goto err_nomem;
	for (j = 0; j < k; j++) {
		nodes[j] = node_new(names[j]);
		if (!nodes[j] || perms_copy(&nodes[j]->perms, &parent->perms))
			goto err_nomem;
		if (unpriv)
			nodes[j]->perms.p[0].id = r->c->domid;
		if (j == 0 ? node_set_value(nodes[j], data, dlen)
			   : node_add_child(nodes[j], base_of(names[j - 1])))
			goto err_nomem;
	}
	pnew = node_dup(parent);
	if (!pnew || node_add_child(pnew, base_of(names[k - 1])))
		goto err_nomem;

	/* Nothing below can fail: every path was touched by node_read(). */
	for (j = 0; j < k; j++) {
		owner = nodes[j]->perms.p[0].id;
		node_write(r, nodes[j], false);
		nodes[j] = NULL;
		entry_adj(r, owner, 1);
	}
	node_write(r, pnew, false);
	pnew = NULL;
	if (r->t)
		r->t->created = true;
	rc = 0;
	goto out;

err_spoil:
	/* xenstored had written j nodes before refusing; it can't undo them
	 * inside a transaction, so it fails the transaction. */
	if (r->t && j)
		r->t->fail = true;
	goto err;
err_nomem:
	rc = -ENOMEM;
err:
out:
	if (nodes)
		for (j = 0; j < k; j++)
			node_free(nodes[j]);
	free(nodes);
	node_free(pnew);
	for (j = 0; j < k; j++)
		free(names[j]);
	free(names);
	free(pp);
	return rc;
}

/* Remove @path and everything below, children first, firing as it goes. */
static int rm_sub(struct req *r, const char *path, bool root)
{
	const struct xsd_node *n;
	struct xsd_perms perms;
	char *children, *cp;
	unsigned int clen, off;
	int rc;

	rc = node_read(r, path, &n);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	clen = n->clen;
	children = clen ? malloc(clen) : NULL;
	if (clen && !children)
		return -ENOMEM;
	if (clen)
		memcpy(children, n->children, clen);
	for (off = 0; off < clen; off += strlen(children + off) + 1) {
		cp = child_path(path, children + off);
		if (!cp) {
			free(children);
			return -ENOMEM;
		}
		rc = rm_sub(r, cp, false);
		free(cp);
		if (rc) {
			free(children);
			return rc;
		}
	}
	free(children);

	rc = node_read(r, path, &n);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	/* Fire while the node still exists: its perms decide who hears. */
	rc = perms_copy(&perms, &n->perms);
	if (rc)
		return rc;
	fire_watches(r->xsd, r, path, &perms, !root, NULL);
	entry_adj(r, perms.p[0].id, -1);
	free(perms.p);
	return node_delete(r, path);
}

static int node_rm(struct req *r, const char *name)
{
	const struct xsd_node *parent;
	struct xsd_node *pn;
	char *pp = parent_of(name);
	int rc;

	if (!pp)
		return -ENOMEM;
	rc = node_read(r, pp, &parent);
	if (rc) {
		free(pp);
		return rc == -ENOMEM || rc == -ENOSPC ? rc : -EINVAL;
	}
	rc = rm_sub(r, name, true);
	if (!rc)
		rc = node_read(r, pp, &parent);
	free(pp);
	if (rc)
		return rc;
	pn = node_dup(parent);
	if (!pn)
		return -ENOMEM;
	node_del_child(pn, base_of(name));
	return node_write(r, pn, false);
}

/* ------------------------------------------------------------ operations */

static int op_read(struct req *r)
{
	const struct xsd_node *n;
	char *name;
	int rc;

	rc = canon(r, onearg(r), &name);
	if (!rc)
		rc = node_get(r, name, PERM_READ, &n);
	free(name);
	if (rc)
		return rc;
	reply(r, n->value, n->vlen);
	return 0;
}

static int op_directory(struct req *r)
{
	const struct xsd_node *n;
	char *name;
	int rc;

	rc = canon(r, onearg(r), &name);
	if (!rc)
		rc = node_get(r, name, PERM_READ, &n);
	free(name);
	if (rc)
		return rc;
	reply(r, n->children, n->clen);
	return 0;
}

/*
 * DIRECTORY_PART "path\0offset\0": the node's generation, then as many
 * children from byte @offset as fit, with an empty string after the last.
 */
static int op_directory_part(struct req *r)
{
	char gen[24], buf[XENSTORE_PAYLOAD_MAX];
	const struct xsd_node *n;
	unsigned int off, len, maxlen, genlen;
	const char *child;
	char *name;
	int rc;

	if (count_strings(r->body, r->len) != 2)
		return -EINVAL;
	rc = canon(r, r->body, &name);
	if (!rc)
		rc = node_get(r, name, PERM_READ, &n);
	free(name);
	if (rc)
		return rc;
	off = (unsigned int)atoi(r->body + strlen(r->body) + 1);
	genlen = snprintf(gen, sizeof(gen), "%" PRIu64, n->gen) + 1;
	memcpy(buf, gen, genlen);
	if (off >= n->clen) {
		buf[genlen] = '\0';
		reply(r, buf, genlen + 1);
		return 0;
	}
	len = 0;
	maxlen = XENSTORE_PAYLOAD_MAX - genlen - 1;
	child = n->children + off;
	while (len + strlen(child) < maxlen) {
		len += strlen(child) + 1;
		child += strlen(child) + 1;
		if (off + len == n->clen)
			break;
	}
	memcpy(buf + genlen, n->children + off, len);
	if (off + len == n->clen)
		buf[genlen + len++] = '\0';
	reply(r, buf, genlen + len);
	return 0;
}

static int op_get_perms(struct req *r)
{
	char buf[XENSTORE_PAYLOAD_MAX + 32];
	const struct xsd_node *n;
	unsigned int i, len = 0;
	char *name;
	int rc;

	rc = canon(r, onearg(r), &name);
	if (!rc)
		rc = node_get(r, name, PERM_READ, &n);
	free(name);
	if (rc)
		return rc;
	for (i = 0; i < n->perms.num && len < XENSTORE_PAYLOAD_MAX; i++) {
		static const char letter[] = { 'n', 'r', 'w', 'b' };

		len += snprintf(buf + len, sizeof(buf) - len, "%c%i",
				letter[n->perms.p[i].perms & 3],
				(int)n->perms.p[i].id) +
		       1;
	}
	reply(r, buf,
	      len > XENSTORE_PAYLOAD_MAX ? XENSTORE_PAYLOAD_MAX + 1 : len);
	return 0;
}

static int op_write(struct req *r)
{
	const struct xsd_node *n;
	struct xsd_node *nn;
	unsigned int off, dlen;
	char *name;
	int rc;

	/* The value is binary and may hold NULs: only the path must end. */
	if (!memchr(r->body, 0, r->len))
		return -EINVAL;
	off = strlen(r->body) + 1;
	dlen = r->len - off;
	rc = canon(r, r->body, &name);
	if (rc)
		return rc;
	rc = node_get(r, name, PERM_WRITE, &n);
	if (rc == -ENOENT) {
		rc = node_create(r, name, r->body + off, dlen);
	} else if (!rc) {
		nn = node_dup(n);
		if (!nn || node_set_value(nn, r->body + off, dlen)) {
			node_free(nn);
			rc = -ENOMEM;
		} else {
			rc = node_write(r, nn, true);
		}
	}
	if (!rc) {
		fire_watches(r->xsd, r, name, NULL, false, NULL);
		reply_ok(r);
	}
	free(name);
	return rc;
}

static int op_mkdir(struct req *r)
{
	const struct xsd_node *n;
	char *name;
	int rc;

	rc = canon(r, onearg(r), &name);
	if (rc)
		return rc;
	rc = node_get(r, name, PERM_WRITE, &n);
	if (rc == -ENOENT) {
		rc = node_create(r, name, NULL, 0);
		if (!rc)
			fire_watches(r->xsd, r, name, NULL, false, NULL);
	}
	if (!rc)
		reply_ok(r);
	free(name);
	return rc;
}

static int op_rm(struct req *r)
{
	const struct xsd_node *n;
	char *name, *pp;
	int rc;

	rc = canon(r, onearg(r), &name);
	if (rc)
		return rc;
	rc = node_get(r, name, PERM_WRITE, &n);
	if (rc == -ENOENT) {
		/* Already gone is fine, as long as the parent is there. */
		pp = parent_of(name);
		rc = pp ? node_read(r, pp, &n) : -ENOMEM;
		free(pp);
		if (!rc)
			reply_ok(r);
		else if (rc != -ENOMEM && rc != -ENOSPC)
			rc = -ENOENT;
	} else if (!rc) {
		if (!strcmp(name, "/"))
			rc = -EINVAL;
		else
			rc = node_rm(r, name);
		if (!rc)
			reply_ok(r);
	}
	free(name);
	return rc;
}

static int parse_perms(const char *s, unsigned int num, struct xsd_perm *p)
{
	unsigned int i;
	char *end;
	long id;

	for (i = 0; i < num; i++) {
		switch (*s) {
		case 'n':
			p[i].perms = PERM_NONE;
			break;
		case 'r':
			p[i].perms = PERM_READ;
			break;
		case 'w':
			p[i].perms = PERM_WRITE;
			break;
		case 'b':
			p[i].perms = PERM_READ | PERM_WRITE;
			break;
		default:
			return -EINVAL;
		}
		s++;
		errno = 0;
		id = strtol(s, &end, 0);
		if (!*s || *end || errno)
			return -EINVAL;
		p[i].id = (unsigned int)id;
		s = end + 1;
	}
	return 0;
}

static int set_perms_special(struct req *r, const char *name,
			     struct xsd_perms *np)
{
	const unsigned int need = PERM_WRITE | PERM_OWNER;
	struct xsd_perms *sp = (struct xsd_perms *)special_perms(r->xsd, name);

	if (!sp)
		return -EINVAL;
	if ((perm_for(r->xsd, r->c->domid, sp) & need) != need)
		return -EACCES;
	free(sp->p);
	*sp = *np;
	np->p = NULL;
	return 0;
}

static int op_set_perms(struct req *r)
{
	struct xsd_perms np = { 0 }, old = { 0 };
	const struct xsd_node *n;
	struct xsd_node *nn;
	unsigned int num = count_strings(r->body, r->len), owner;
	char *name = NULL;
	int rc;

	if (num < 2)
		return -EINVAL;
	num--;
	if (req_unpriv(r) && num > r->xsd->q.perms_per_node)
		return -ENOSPC;
	np.num = num;
	np.p = calloc(num, sizeof(*np.p));
	if (!np.p)
		return -ENOMEM;
	rc = parse_perms(r->body + strlen(r->body) + 1, num, np.p);
	if (rc)
		goto out;
	if (r->body[0] == '@') {
		rc = set_perms_special(r, r->body, &np);
		if (!rc)
			reply_ok(r);
		goto out;
	}
	/* Only the owner (or a privileged domain) may change perms. */
	rc = canon(r, r->body, &name);
	if (!rc)
		rc = node_get(r, name, PERM_WRITE | PERM_OWNER, &n);
	if (rc)
		goto out;
	rc = -EPERM;
	if (req_unpriv(r) && np.p[0].id != n->perms.p[0].id)
		goto out;
	rc = -ENOMEM;
	nn = node_dup(n);
	if (!nn || perms_copy(&old, &n->perms)) {
		node_free(nn);
		goto out;
	}
	free(nn->perms.p);
	nn->perms = np;
	np.p = NULL;
	owner = nn->perms.p[0].id;
	rc = node_write(r, nn, true);
	if (rc)
		goto out;
	entry_adj(r, old.p[0].id, -1);
	entry_adj(r, owner, 1);
	fire_watches(r->xsd, r, name, NULL, false, &old);
	reply_ok(r);
out:
	free(name);
	free(np.p);
	free(old.p);
	return rc;
}

static int op_watch(struct req *r)
{
	struct xsd *x = r->xsd;
	struct xsd_watch *w, **pp;
	struct xsd_dom *d;
	const char *path = r->body, *token;
	bool relative = false;
	char *node = NULL;
	int rc;

	if (count_strings(r->body, r->len) != 2)
		return -EINVAL;
	token = path + strlen(path) + 1;
	if (path[0] == '@') {
		if (strlen(path) > XENSTORE_REL_PATH_MAX)
			return -EINVAL;
		node = strdup(path);
		if (!node)
			return -ENOMEM;
	} else {
		relative = path[0] != '/';
		rc = canon(r, path, &node);
		if (rc)
			return rc;
		if (!valid_path(x, node)) {
			free(node);
			return -EINVAL;
		}
	}
	for (pp = &r->c->watches; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->node, node) &&
		    !strcmp((*pp)->token, token)) {
			free(node);
			return -EEXIST;
		}
	d = dom_get(x, r->c->domid);
	if (!d) {
		free(node);
		return -ENOMEM;
	}
	/* xenstored's test: a guest may hold one more than the quota. */
	if (req_unpriv(r) && d->watches > x->q.watches_per_domain) {
		free(node);
		return -E2BIG;
	}
	w = calloc(1, sizeof(*w));
	if (!w || !(w->token = strdup(token))) {
		free(w);
		free(node);
		return -ENOMEM;
	}
	w->node = node;
	w->relative = relative;
	*pp = w;
	d->watches++;
	reply_ok(r);
	/* The event fired on registration, as xenstored does. */
	send_event(r->c, watch_path(r->c, w, w->node), w->token);
	return 0;
}

static int op_unwatch(struct req *r)
{
	struct xsd_watch *w, **pp;
	char *node;
	int rc;

	if (count_strings(r->body, r->len) != 2)
		return -EINVAL;
	rc = canon(r, r->body, &node);
	if (rc)
		return rc;
	for (pp = &r->c->watches; (w = *pp); pp = &w->next)
		if (!strcmp(w->node, node) &&
		    !strcmp(w->token, r->body + strlen(r->body) + 1)) {
			*pp = w->next;
			watch_free(r->xsd, r->c, w);
			free(node);
			reply_ok(r);
			return 0;
		}
	free(node);
	return -ENOENT;
}

static int op_transaction_start(struct req *r)
{
	struct xsd_conn *c = r->c;
	struct xsd_trans *t, *i;
	char id[16];

	if (r->t)
		return -EBUSY;
	/* xenstored's test: a guest may hold one more than the quota. */
	if (req_unpriv(r) && c->ntrans > r->xsd->q.transactions_per_domain)
		return -ENOSPC;
	t = calloc(1, sizeof(*t));
	if (!t || hmap_init(&t->acc)) {
		free(t);
		return -ENOMEM;
	}
	t->tail = &t->first;
	do {
		t->id = c->next_tid++;
		for (i = c->trans; i && i->id != t->id; i = i->next)
			;
	} while (!t->id || i);
	t->next = c->trans;
	c->trans = t;
	c->ntrans++;
	snprintf(id, sizeof(id), "%u", t->id);
	reply(r, id, strlen(id) + 1);
	return 0;
}

/* Quota check xenstored makes at the end of a transaction that created. */
static int trans_check_quota(struct req *r)
{
	struct ta_dom *d;
	long cnt;

	if (!r->t->created || !req_unpriv(r))
		return 0;
	for (d = r->t->doms; d; d = d->next) {
		if (d->domid == 0)
			continue;
		cnt = (long)dom_entries(r->xsd, d->domid) + d->delta;
		if (cnt >= (long)r->xsd->q.entries_per_domain)
			return -ENOSPC;
	}
	return 0;
}

static int trans_commit(struct req *r)
{
	struct xsd *x = r->xsd;
	struct xsd_trans *t = r->t;
	struct xsd_node *g;
	struct ta_ent *e;

	for (e = t->first; e; e = e->order) {
		if (!e->check_gen)
			continue;
		g = store_get(x, e->path);
		if ((g ? g->gen : NO_GEN) != e->gen)
			return -EAGAIN;
	}
	for (e = t->first; e; e = e->order) {
		if (!e->modified)
			continue;
		g = store_get(x, e->path);
		if (g)
			dom_entries_add(x, g->perms.p[0].id, -1);
		if (e->node) {
			dom_entries_add(x, e->node->perms.p[0].id, 1);
			e->node->gen = ++x->gen;
			store_put(x, e->node);
			e->node = NULL;
		} else {
			store_del(x, e->path);
		}
	}
	for (e = t->first; e; e = e->order)
		if (e->fire)
			fire_watches(x, NULL, e->path, NULL, e->exact,
				     e->old.num ? &e->old : NULL);
	return 0;
}

static int op_transaction_end(struct req *r)
{
	const char *arg = onearg(r);
	struct xsd_trans **pp;
	int rc = 0;

	if (!arg || (strcmp(arg, "T") && strcmp(arg, "F")))
		return -EINVAL;
	if (!r->t)
		return -ENOENT;
	for (pp = &r->c->trans; *pp != r->t; pp = &(*pp)->next)
		;
	*pp = r->t->next;
	r->c->ntrans--;
	if (!strcmp(arg, "T")) {
		rc = r->t->fail ? -ENOMEM : trans_check_quota(r);
		if (!rc)
			rc = trans_commit(r);
	}
	trans_free(r->t);
	r->t = NULL;
	if (!rc)
		reply_ok(r);
	return rc;
}

static int op_get_domain_path(struct req *r)
{
	const char *arg = onearg(r);
	char path[32];

	if (!arg)
		return -EINVAL;
	snprintf(path, sizeof(path), "/local/domain/%u",
		 (unsigned int)atoi(arg));
	reply(r, path, strlen(path) + 1);
	return 0;
}

static int op_introduce(struct req *r)
{
	struct xsd *x = r->xsd;
	struct xsd_conn *c;
	struct xsd_dom *d;
	unsigned int domid;
	int rc;

	if (count_strings(r->body, r->len) < 3)
		return -EINVAL;
	/*
	 * The ring frame and event channel that follow are not checked:
	 * xenstored refuses a port <= 0 because it binds it, but an xensim
	 * domain reaches xenstore through its socket and has no ring.
	 */
	domid = (unsigned int)atoi(r->body);
	if (domid >= DOMID_SELF_)
		return -EINVAL;
	d = dom_get(x, domid);
	if (!d)
		return -ENOMEM;
	if (d->introduced) {
		/* A second INTRODUCE restarts the domain's connection. */
		if (domid != 0)
			for (c = x->conns; c; c = c->next)
				if (c->domid == domid && !c->dead)
					conn_reset(c);
		reply_ok(r);
		return 0;
	}
	if (x->hooks.introduce) {
		rc = x->hooks.introduce(x->hooks.arg, domid);
		if (rc)
			return rc;
	}
	d->introduced = true;
	if (domid != 0)
		fire_watches(x, NULL, "@introduceDomain", NULL, true, NULL);
	reply_ok(r);
	return 0;
}

static void perms_drop_domid(struct xsd_perms *p, unsigned int domid)
{
	unsigned int i, n;

	if (p->p[0].id == domid)
		p->p[0].id = 0;
	for (i = n = 1; i < p->num; i++)
		if (p->p[i].id != domid)
			p->p[n++] = p->p[i];
	p->num = n;
}

static int cmp_len(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? -1 : la > lb;
}

/*
 * What xenstored does when a domain goes: nodes it still owns are removed
 * (the toolstack normally removed them already), and its entries in other
 * nodes' perms stop counting, so a new domain with the same id inherits
 * nothing.
 */
static void domain_tree_remove(struct xsd *x, unsigned int domid)
{
	struct req sys = { .xsd = x };
	struct xsd_node *n;
	char **paths = NULL, **np;
	unsigned int k, i, cnt = 0, cap = 0;
	struct hent *h;

	for (k = 0; k < x->store.nb; k++)
		for (h = x->store.b[k]; h; h = h->next) {
			n = container_of(h, struct xsd_node, h);
			for (i = 1; i < n->perms.num; i++)
				if (n->perms.p[i].id == domid)
					n->perms.p[i].perms |= PERM_IGNORE;
			if (n->perms.p[0].id != domid || !strcmp(n->path, "/"))
				continue;
			if (cnt == cap) {
				cap = cap ? cap * 2 : 16;
				np = realloc(paths, cap * sizeof(*paths));
				if (!np)
					goto out;
				paths = np;
			}
			paths[cnt] = strdup(n->path);
			if (paths[cnt])
				cnt++;
		}
	/* Shortest first: removing a node takes the owned ones below along. */
	if (cnt)
		qsort(paths, cnt, sizeof(*paths), cmp_len);
	for (i = 0; i < cnt; i++)
		if (store_get(x, paths[i]))
			node_rm(&sys, paths[i]);
out:
	for (i = 0; i < cnt; i++)
		free(paths[i]);
	free(paths);
	perms_drop_domid(&x->intro_perms, domid);
	perms_drop_domid(&x->release_perms, domid);
}

static void conns_doom_domid(struct xsd *x, unsigned int domid)
{
	struct xsd_conn *c;

	for (c = x->conns; c; c = c->next)
		if (c->domid == domid)
			conn_doom(c);
}

/* A domain argument of RELEASE / RESUME: an introduced domU. */
static int onearg_domain(struct req *r, struct xsd_dom **out)
{
	const char *arg = onearg(r);
	unsigned int domid;

	if (!arg)
		return -EINVAL;
	domid = (unsigned int)atoi(arg);
	if (!domid)
		return -EINVAL;
	*out = dom_find(r->xsd, domid);
	return *out && (*out)->introduced ? 0 : -ENOENT;
}

static int op_release(struct req *r)
{
	struct xsd *x = r->xsd;
	struct xsd_dom *d;
	int rc;

	rc = onearg_domain(r, &d);
	if (rc)
		return rc;
	if (x->hooks.release) {
		rc = x->hooks.release(x->hooks.arg, d->domid);
		if (rc)
			return rc;
	}
	d->introduced = false;
	d->has_target = false;
	conns_doom_domid(x, d->domid);
	domain_tree_remove(x, d->domid);
	fire_watches(x, NULL, "@releaseDomain", NULL, true, NULL);
	reply_ok(r);
	return 0;
}

static int op_resume(struct req *r)
{
	struct xsd_dom *d;
	int rc = onearg_domain(r, &d);

	if (!rc)
		reply_ok(r);
	return rc;
}

static int op_is_domain_introduced(struct req *r)
{
	const char *arg = onearg(r);
	struct xsd_dom *d;
	unsigned int domid;
	bool yes;

	if (!arg)
		return -EINVAL;
	domid = (unsigned int)atoi(arg);
	d = dom_find(r->xsd, domid);
	yes = domid == DOMID_SELF_ || (d && d->introduced);
	reply(r, yes ? "T" : "F", 2);
	return 0;
}

static int op_set_target(struct req *r)
{
	struct xsd_dom *d, *t;
	unsigned int domid, tdomid;

	if (count_strings(r->body, r->len) < 2)
		return -EINVAL;
	domid = (unsigned int)atoi(r->body);
	tdomid = (unsigned int)atoi(r->body + strlen(r->body) + 1);
	d = dom_find(r->xsd, domid);
	t = dom_find(r->xsd, tdomid);
	if (!d || !d->introduced || !t || !t->introduced)
		return -ENOENT;
	d->has_target = true;
	d->target = tdomid;
	reply_ok(r);
	return 0;
}

static int op_reset_watches(struct req *r)
{
	conn_reset(r->c);
	r->t = NULL;
	reply_ok(r);
	return 0;
}

/* XS_CONTROL: only "print" and "help" of xenstored's commands. */
static int op_control(struct req *r)
{
	static const char help[] = "print\t<string>\nhelp\t\n";
	unsigned int num = count_strings(r->body, r->len);

	if (!num)
		return -EINVAL;
	if (!strcmp(r->body, "print")) {
		if (num != 2)
			return -EINVAL;
		xsd_log(r->xsd, "control: %s", r->body + 6);
		reply_ok(r);
		return 0;
	}
	if (!strcmp(r->body, "help")) {
		if (num != 1)
			return -EINVAL;
		reply(r, help, sizeof(help));
		return 0;
	}
	return -EINVAL;
}

#define OP_PRIV (1U << 0)  /* Dom0 only, else EACCES */
#define OP_NOTID (1U << 1) /* the transaction id is ignored */

static const struct {
	int (*fn)(struct req *r);
	unsigned int flags;
} ops[XS_TYPE_COUNT] = {
	[XS_CONTROL] = { op_control, OP_PRIV },
	[XS_DIRECTORY] = { op_directory, 0 },
	[XS_READ] = { op_read, 0 },
	[XS_GET_PERMS] = { op_get_perms, 0 },
	[XS_WATCH] = { op_watch, OP_NOTID },
	[XS_UNWATCH] = { op_unwatch, OP_NOTID },
	[XS_TRANSACTION_START] = { op_transaction_start, 0 },
	[XS_TRANSACTION_END] = { op_transaction_end, 0 },
	[XS_INTRODUCE] = { op_introduce, OP_PRIV },
	[XS_RELEASE] = { op_release, OP_PRIV },
	[XS_GET_DOMAIN_PATH] = { op_get_domain_path, 0 },
	[XS_WRITE] = { op_write, 0 },
	[XS_MKDIR] = { op_mkdir, 0 },
	[XS_RM] = { op_rm, 0 },
	[XS_SET_PERMS] = { op_set_perms, 0 },
	[XS_IS_DOMAIN_INTRODUCED] = { op_is_domain_introduced, OP_PRIV },
	[XS_RESUME] = { op_resume, OP_PRIV },
	[XS_SET_TARGET] = { op_set_target, OP_PRIV },
	[XS_RESET_WATCHES] = { op_reset_watches, 0 },
	[XS_DIRECTORY_PART] = { op_directory_part, 0 },
};

static void process(struct xsd_conn *c)
{
	struct req r = {
		.xsd = c->xsd,
		.c = c,
		.hdr = &c->in_hdr,
		.body = c->in_body,
		.len = c->in_hdr.len,
	};
	uint32_t type = c->in_hdr.type;
	struct xsd_trans *t;
	int rc;

	c->in_body[r.len] = '\0';
	if (type >= XS_TYPE_COUNT || !ops[type].fn) {
		reply_error(&r, ENOSYS);
		return;
	}
	if ((ops[type].flags & OP_PRIV) && c->domid != 0) {
		reply_error(&r, EACCES);
		return;
	}
	if (!(ops[type].flags & OP_NOTID) && c->in_hdr.tx_id) {
		for (t = c->trans; t && t->id != c->in_hdr.tx_id; t = t->next)
			;
		if (!t) {
			reply_error(&r, ENOENT);
			return;
		}
		r.t = t;
	}
	rc = ops[type].fn(&r);
	if (rc)
		reply_error(&r, -rc);
}

/* ------------------------------------------------------------ connections */

static void conn_free(struct xsd_conn *c)
{
	struct xsd_dom *d = dom_find(c->xsd, c->domid);
	struct outmsg *m;

	simloop_del(c->xsd->epfd, c->fd);
	close(c->fd);
	conn_reset(c);
	while ((m = c->out)) {
		c->out = m->next;
		free(m);
	}
	if (d && d->conns)
		d->conns--;
	free(c);
}

static void xsd_reap(struct xsd *x)
{
	struct xsd_conn **pp = &x->conns, *c;

	while ((c = *pp)) {
		if (c->dead) {
			*pp = c->next;
			conn_free(c);
		} else {
			pp = &c->next;
		}
	}
}

/* Read and handle what the client sent, within a budget of requests. */
static void conn_input(struct xsd_conn *c)
{
	const size_t hs = sizeof(c->in_hdr);
	unsigned int budget = XSD_REQ_BUDGET;
	size_t want;
	ssize_t n;
	char *dst;

	while (budget && !c->dead && conn_can_read(c)) {
		if (c->in_used < hs) {
			dst = (char *)&c->in_hdr + c->in_used;
			want = hs - c->in_used;
		} else {
			dst = c->in_body + (c->in_used - hs);
			want = c->in_hdr.len - (c->in_used - hs);
		}
		if (want) {
			n = recv(c->fd, dst, want, MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) {
				conn_doom(c);
				return;
			}
			c->in_used += n;
		}
		if (c->in_used == hs && c->in_hdr.len > XENSTORE_PAYLOAD_MAX) {
			xsd_log(c->xsd,
				"domain %u sent a %u-byte payload, dropped",
				c->domid, c->in_hdr.len);
			conn_doom(c);
			return;
		}
		if (c->in_used < hs || c->in_used - hs < c->in_hdr.len)
			continue;
		c->in_used = 0;
		process(c);
		budget--;
	}
}

static void conn_cb(struct simloop_src *src, uint32_t events)
{
	struct xsd_conn *c = container_of(src, struct xsd_conn, src);
	struct xsd *x = c->xsd;

	x->depth++;
	/*
	 * A hang-up means the peer closed both ways: nothing we answer can
	 * reach it, and the event would repeat while we don't read.
	 */
	if (events & (EPOLLHUP | EPOLLERR))
		conn_doom(c);
	if (events & EPOLLOUT)
		conn_flush(c);
	if (events & EPOLLIN)
		conn_input(c);
	conn_update_ev(c);
	if (!--x->depth)
		xsd_reap(x);
}

static void listener_cb(struct simloop_src *src, uint32_t events)
{
	struct xsd_listener *l = container_of(src, struct xsd_listener, src);
	struct xsd *x = l->xsd;
	struct xsd_conn *c, **pp;
	struct xsd_dom *d;
	unsigned int i;
	int fd;

	for (i = 0; i < 16; i++) {
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		d = dom_get(x, l->domid);
		if (!d || (l->domid && d->conns >= XSD_CONNS_PER_DOMU)) {
			xsd_log(x, "domain %u: too many connections", l->domid);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->src.fn = conn_cb;
		c->xsd = x;
		c->fd = fd;
		c->domid = l->domid;
		c->out_tail = &c->out;
		c->next_tid = 1;
		c->ev = EPOLLIN;
		if (simloop_add(x->epfd, fd, EPOLLIN, &c->src)) {
			close(fd);
			free(c);
			continue;
		}
		d->conns++;
		/* xenstored walks connections oldest first: keep that order. */
		for (pp = &x->conns; *pp; pp = &(*pp)->next)
			;
		*pp = c;
	}
}

/* ------------------------------------------------------------ public */

void xsd_default_quota(struct xsd_quota *q)
{
	q->entries_per_domain = 1000;
	q->entry_size = 2048;
	q->watches_per_domain = 128;
	q->transactions_per_domain = 10;
	q->perms_per_node = 5;
	q->path_max = XENSTORE_REL_PATH_MAX;
	q->outstanding_requests = 20;
	q->trans_nodes = 1024;
}

static int initial_node(struct xsd *x, const char *path, const char *child)
{
	struct xsd_node *n = node_new(path);

	if (!n)
		return -ENOMEM;
	n->perms.p = calloc(1, sizeof(*n->perms.p));
	if (!n->perms.p || (child && node_add_child(n, child))) {
		node_free(n);
		return -ENOMEM;
	}
	n->perms.num = 1; /* owner Dom0, nothing for the others */
	n->gen = ++x->gen;
	store_put(x, n);
	return 0;
}

static int special_init(struct xsd_perms *p)
{
	p->p = calloc(1, sizeof(*p->p));
	p->num = 1;
	return p->p ? 0 : -ENOMEM;
}

struct xsd *xsd_create(int epfd, const struct xsd_hooks *hooks,
		       const struct xsd_quota *quota)
{
	struct xsd *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->epfd = epfd;
	if (hooks)
		x->hooks = *hooks;
	if (quota)
		x->q = *quota;
	else
		xsd_default_quota(&x->q);
	if (!x->q.path_max || x->q.path_max > XENSTORE_REL_PATH_MAX)
		x->q.path_max = XENSTORE_REL_PATH_MAX;
	if (hmap_init(&x->store) || special_init(&x->intro_perms) ||
	    special_init(&x->release_perms))
		goto err_destroy;
	/* What xenstored makes; /local is the toolstack's. */
	if (initial_node(x, "/", "tool") ||
	    initial_node(x, "/tool", "xenstored") ||
	    initial_node(x, "/tool/xenstored", NULL))
		goto err_destroy;
	/* Dom0's three nodes count, though Dom0 has no quota. */
	dom_entries_add(x, 0, 3);
	return x;

err_destroy:
	xsd_destroy(x);
	return NULL;
}

void xsd_destroy(struct xsd *x)
{
	struct xsd_listener *l;
	struct xsd_conn *c;
	struct xsd_dom *d;
	struct hent *h, *next;
	unsigned int k;

	if (!x)
		return;
	while ((c = x->conns)) {
		x->conns = c->next;
		conn_free(c);
	}
	while ((l = x->listeners)) {
		x->listeners = l->next;
		simloop_del(x->epfd, l->fd);
		close(l->fd);
		unlink(l->path);
		free(l);
	}
	while ((d = x->doms)) {
		x->doms = d->next;
		free(d);
	}
	if (x->store.b)
		for (k = 0; k < x->store.nb; k++)
			for (h = x->store.b[k]; h; h = next) {
				next = h->next;
				node_free(container_of(h, struct xsd_node, h));
			}
	free(x->store.b);
	free(x->intro_perms.p);
	free(x->release_perms.p);
	free(x);
}

int xsd_listen(struct xsd *x, unsigned int domid, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct xsd_listener *l;
	struct xsd_dom *d;
	int rc;

	for (l = x->listeners; l; l = l->next)
		if (l->domid == domid)
			return -EEXIST;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	d = dom_get(x, domid);
	l = calloc(1, sizeof(*l));
	if (!d || !l) {
		free(l);
		return -ENOMEM;
	}
	strcpy(sa.sun_path, path);
	strcpy(l->path, path);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		rc = -errno;
		goto err_free;
	}
	unlink(path);
	if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(l->fd, 64)) {
		rc = -errno;
		goto err_close;
	}
	l->src.fn = listener_cb;
	l->xsd = x;
	l->domid = domid;
	rc = simloop_add(x->epfd, l->fd, EPOLLIN, &l->src);
	if (rc)
		goto err_unlink;
	l->next = x->listeners;
	x->listeners = l;
	d->introduced = true;
	return 0;

err_unlink:
	unlink(path);
err_close:
	close(l->fd);
err_free:
	free(l);
	return rc;
}

int xsd_unlisten(struct xsd *x, unsigned int domid)
{
	struct xsd_listener **pp, *l;
	struct xsd_dom *d = dom_find(x, domid);
	int rc = -ENOENT;

	for (pp = &x->listeners; (l = *pp); pp = &l->next)
		if (l->domid == domid) {
			*pp = l->next;
			simloop_del(x->epfd, l->fd);
			close(l->fd);
			unlink(l->path);
			free(l);
			rc = 0;
			break;
		}
	if (d && d->introduced) {
		d->introduced = false;
		rc = 0;
	}
	conns_doom_domid(x, domid);
	/* Inside a callback the caller's connection may be among them. */
	if (!x->depth)
		xsd_reap(x);
	return rc;
}
