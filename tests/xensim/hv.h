/* SPDX-License-Identifier: MIT */
/*
 * hv.h - the hypervisor half of xensimd: domains, guest memory, grant tables
 * and event channels, served to the drop-in libxengnttab / libxenevtchn.
 *
 * Each domain has its guest memory (a memfd, sparse), a v1 grant table in
 * shared memory, the grant table's active (pin) entries and an event-channel
 * port table. Clients (the drop-in libraries, one connection per open
 * handle) reach it on <dir>/dom<N>.hv: the socket is the client's domain.
 * Control operations (share pages, map grants, bind ports) go through that
 * socket; data operations (grant copy, notify) run in the client on shared
 * memory and eventfds passed over it. The wire format is in hvproto.h.
 *
 * Single-threaded: every function is called from xensimd's main loop only.
 */
#ifndef PVBACK_XENSIM_HV_H
#define PVBACK_XENSIM_HV_H

#include <stddef.h>

struct hv;

/* @dir is the state directory; sockets are <dir>/dom<N>.hv. NULL on error. */
struct hv *hv_create(int epfd, const char *dir);
/* Destroy every domain, close every client. NULL-safe. */
void hv_destroy(struct hv *hv);

/*
 * Create domain @domid with @mem_bytes of guest memory (rounded up to pages)
 * and start listening on <dir>/dom<domid>.hv. -EEXIST if it exists.
 */
int hv_domain_create(struct hv *hv, unsigned int domid, size_t mem_bytes);

/*
 * Destroy domain @domid as Xen does: its event channels close (the remote
 * ends become unbound), its clients are disconnected, its socket unlinked.
 * Mappings other processes hold of its memory stay valid until they unmap.
 * Dom0 ports bound to VIRQ_DOM_EXC are signalled, as Xen does.
 * -ENOENT if it does not exist.
 */
int hv_domain_destroy(struct hv *hv, unsigned int domid);

#endif
