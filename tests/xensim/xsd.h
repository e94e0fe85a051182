/* SPDX-License-Identifier: MIT */
/*
 * xsd.h - the xenstore server of xensimd.
 *
 * Speaks the real xenstore wire protocol (xen/io/xs_wire.h) on one unix
 * socket per domain: the socket a client connected to is its identity, so the
 * real libxenstore (XENSTORED_PATH=<dir>/dom<N>.sock) and Debian's xenstore-*
 * tools work unchanged. Permissions, watches, transactions and quotas follow
 * C xenstored. Domain lifecycle (INTRODUCE / RELEASE from a privileged
 * client) is delegated to xensimd.c through struct xsd_hooks, because a domain
 * is more than its xenstore connection (memory, grant table, event channels
 * live in hv.c).
 *
 * Single-threaded: every function is called from xensimd's main loop only.
 */
#ifndef PVBACK_XENSIM_XSD_H
#define PVBACK_XENSIM_XSD_H

#include <stdbool.h>

struct xsd;

/*
 * xenstored's default quotas (C xenstored 4.17), overridable for tests. They
 * bind guests only, never Dom0. Going over one is answered as xenstored
 * answers it: ENOSPC for nodes, entry size, transactions, perms and
 * transaction nodes; E2BIG for watches. A guest whose unread replies reach
 * outstanding_requests is not read from until it collects them.
 */
struct xsd_quota {
	unsigned int entries_per_domain; /* nodes owned by a domU */
	unsigned int entry_size;	 /* bytes of value + perms */
	unsigned int watches_per_domain;
	unsigned int transactions_per_domain;
	unsigned int perms_per_node;
	unsigned int path_max;		   /* relative path length */
	unsigned int outstanding_requests; /* per connection */
	unsigned int trans_nodes;	   /* nodes one transaction touches */
};

struct xsd_hooks {
	/*
	 * A privileged client sent INTRODUCE (or RELEASE) for @domid. The hook
	 * creates (destroys) the rest of the domain: memory, grant table,
	 * event channels and its xenstore socket (by calling xsd_listen()).
	 * Returns 0 or -errno; on error the client gets the errno as ERROR.
	 * xsd fires @introduceDomain / @releaseDomain itself after a 0 return.
	 */
	int (*introduce)(void *arg, unsigned int domid);
	int (*release)(void *arg, unsigned int domid);
	void *arg;
};

/*
 * Create the store with xenstored's initial tree: "/", "/tool" and
 * "/tool/xenstored", owned by Dom0 with no access for others. "/local" and
 * below are the toolstack's (they inherit "/"'s perms when it writes them).
 * @quota NULL means xenstored's defaults. Connections are registered on
 * @epfd through simloop.h. NULL on allocation failure.
 */
struct xsd *xsd_create(int epfd, const struct xsd_hooks *hooks,
		       const struct xsd_quota *quota);
/* Close every connection and listening socket, free everything. NULL-safe. */
void xsd_destroy(struct xsd *xsd);

/* Fill @q with xenstored's default quotas. */
void xsd_default_quota(struct xsd_quota *q);

/*
 * Listen on the unix socket @path (created, replacing a stale file) for
 * clients of domain @domid; @domid 0 is privileged. Marks @domid introduced
 * (IS_DOMAIN_INTRODUCED answers "T"), without firing @introduceDomain: the
 * INTRODUCE path fires it. 0/-errno.
 */
int xsd_listen(struct xsd *xsd, unsigned int domid, const char *path);

/*
 * Forget domain @domid: unlink and close its listening socket, close its
 * connections (their watches and transactions go with them), mark it not
 * introduced. Nodes it owns stay; a RELEASE request, after its hook returns,
 * removes them as xenstored does. May be called from inside a hook: the
 * connections are then closed when the current request is done. 0, or
 * -ENOENT if @domid was neither listened for nor introduced.
 */
int xsd_unlisten(struct xsd *xsd, unsigned int domid);

#endif
