/* SPDX-License-Identifier: MIT */
/*
 * hvproto.h - what xensimd's hypervisor half (hv.c) and the drop-in
 * libxengnttab / libxenevtchn (libgnttab.c, libevtchn.c, simclient.c) share:
 * the messages on <dir>/dom<N>.hv and the layout of the shared memory behind
 * the data paths.
 *
 * Wire: SOCK_SEQPACKET, one request datagram (struct hv_req, then for
 * HV_OP_GNT_MAP count pairs of {domid, ref}) answered by one response
 * datagram (struct hv_rsp, then an op-specific array of uint32_t) carrying
 * file descriptors with SCM_RIGHTS. Strictly request/response, one request in
 * flight per connection; a connection is one open library handle.
 *
 * Shared memory, per domain, created by xensimd:
 *   mem    guest memory, frame N at offset N * 4096 (sparse memfd)
 *   gnttab HV_GNT_FRAMES frames of grant_entry_v1_t, written by the
 *          granting side (xensimd on the guest's behalf) and by whoever pins
 *   active the pin counts of every grant entry (Xen's active entries) with a
 *          process-shared robust mutex; written by xensimd (maps) and by
 *          clients (grant copy), only with the mutex held
 *   ports  one 64-bit word per event channel port, written by xensimd only
 *          and handed out read-only; clients read it to notice a peer change
 * The pin/unpin code below is the one implementation both sides run, so
 * a grant copy in a client and a map in xensimd see the same state.
 *
 * Everything read from shared memory may have been scribbled on by another
 * process: it is bounds-checked before it is used as an index or offset.
 */
#ifndef PVBACK_XENSIM_HVPROTO_H
#define PVBACK_XENSIM_HVPROTO_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <xen/grant_table.h>

#define HV_PAGE_SHIFT 12
#define HV_PAGE_SIZE (1u << HV_PAGE_SHIFT)

/* Linux's default maximum (gnttab_max_frames 32); the first 8 refs are
 * reserved for the toolstack as Linux leaves them. */
#define HV_GNT_FRAMES 32u
#define HV_GNT_ENTRIES (HV_GNT_FRAMES * HV_PAGE_SIZE / sizeof(grant_entry_v1_t))
#define HV_GNT_RESERVED 8u

/* Event channel ports per domain (a port fits the 12-bit field below). */
#define HV_NR_PORTS 1024u

/* Most refs or pages in one map or share request. */
#define HV_MAX_BATCH 1024u

/* Largest datagram either way. */
#define HV_MSG_MAX (sizeof(struct hv_req) + HV_MAX_BATCH * 8u)

/* Most fds in one response. */
#define HV_MAX_FDS 4

enum hv_op {
	HV_OP_DOMAIN = 1, /* domid -> sizes; fds mem, gnttab, active, ports */
	HV_OP_GNT_MAP, /* count, flags, notify_* + {domid, ref}[] -> id, frame[]
			*/
	HV_OP_GNT_UNMAP, /* id */
	HV_OP_GNT_SHARE, /* domid, count, flags, notify_* -> id, {ref, frame}[]
			  */
	HV_OP_GNT_UNSHARE,	    /* id, first, count */
	HV_OP_EVT_BIND_UNBOUND,	    /* domid -> port; fd eventfd */
	HV_OP_EVT_BIND_INTERDOMAIN, /* domid, port -> port; fd eventfd */
	HV_OP_EVT_BIND_VIRQ,	    /* port = virq -> port; fd eventfd */
	HV_OP_EVT_UNBIND,	    /* port */
	HV_OP_EVT_PEER,	    /* port -> gen; fd the remote port's eventfd */
	HV_OP_EVT_RESTRICT, /* domid */
};

#define HV_F_WRITABLE 1u
#define HV_NONE UINT32_MAX /* no notify offset / no notify port */

struct hv_req {
	uint32_t op;
	uint32_t count;
	uint32_t domid;
	uint32_t port;
	uint32_t flags;
	uint32_t notify_off;
	uint32_t notify_port;
	uint32_t id;
	uint32_t first;
	uint32_t pad;
};

struct hv_rsp {
	int32_t rc;	    /* 0 or -errno */
	uint32_t id;	    /* map/share id, or the bound port */
	uint32_t count;	    /* entries in the trailing array */
	uint32_t mem_pages; /* HV_OP_DOMAIN */
	uint32_t nr_ents;   /* HV_OP_DOMAIN */
	uint32_t nr_ports;  /* HV_OP_DOMAIN */
	uint32_t gen;	    /* HV_OP_EVT_PEER */
	uint32_t pad;
};

/* ---------------------------------------------------------------- ports */

enum hv_port_state {
	HV_PORT_FREE = 0,
	HV_PORT_UNBOUND,
	HV_PORT_INTERDOMAIN,
	HV_PORT_VIRQ,
};

/*
 * One word per port so a notify reads it with a single load: bits 0-3
 * state, 4-15 remote port, 16-31 remote domid, 32-63 generation, bumped on
 * every change so a cached peer eventfd is known stale.
 */
static inline uint64_t hvp_port_word(unsigned int state, unsigned int rport,
				     unsigned int rdom, uint32_t gen)
{
	return (uint64_t)(state & 0xf) | (uint64_t)(rport & 0xfff) << 4 |
	       (uint64_t)(rdom & 0xffff) << 16 | (uint64_t)gen << 32;
}

static inline unsigned int hvp_port_state(uint64_t w)
{
	return w & 0xf;
}

static inline uint32_t hvp_port_gen(uint64_t w)
{
	return w >> 32;
}

/* ---------------------------------------------------------------- grants */

struct hvp_active_hdr {
	pthread_mutex_t lock; /* robust, process-shared */
	uint32_t nr_ents;
	uint32_t dead; /* set when the domain is destroyed */
};

/* Xen's active grant entry, reduced to what v1 copy and map need. */
struct hvp_active {
	uint32_t pin;	/* HVP_PIN_* counts */
	uint16_t domid; /* who holds the pins */
	uint16_t pad;
	uint32_t frame; /* frame pinned, valid while pin != 0 */
	uint32_t pad2;
};

/* As Xen's GNTPIN_hstw/hstr: writers in bits 0-7, readers in 8-15. */
#define HVP_PIN_W 0x00000001u
#define HVP_PIN_R 0x00000100u
#define HVP_PIN_W_MASK 0x000000ffu
#define HVP_ACTIVE_OFF 4096u
#define HVP_ACTIVE_SIZE                                                        \
	(HVP_ACTIVE_OFF + HV_GNT_ENTRIES * sizeof(struct hvp_active))

/* A domain's grant state as one process sees it mapped. */
struct hvp_gnt {
	grant_entry_v1_t *ents;
	struct hvp_active_hdr *hdr;
	struct hvp_active *act;
	uint32_t nr_ents;
	uint32_t mem_pages;
};

static inline void hvp_gnt_init(struct hvp_gnt *g, void *ents, void *act,
				uint32_t mem_pages)
{
	g->ents = ents;
	g->hdr = act;
	g->act = (struct hvp_active *)((char *)act + HVP_ACTIVE_OFF);
	g->nr_ents = HV_GNT_ENTRIES;
	g->mem_pages = mem_pages;
}

/*
 * Take the pin lock. @bounded is for xensimd, which must not hang on a client
 * stopped or killed while holding it: the mutex is robust (a dead holder
 * hands it over) and xensimd waits at most a second. 0 or -errno.
 */
static inline int hvp_lock(struct hvp_active_hdr *h, int bounded)
{
	struct timespec ts;
	int rc;

	if (bounded) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		rc = pthread_mutex_timedlock(&h->lock, &ts);
	} else {
		rc = pthread_mutex_lock(&h->lock);
	}
	if (rc == EOWNERDEAD) {
		/* A holder died between a count and a flag update at worst;
		 * the counts stay usable, as after a guest scribble. */
		pthread_mutex_consistent(&h->lock);
		rc = 0;
	}
	return -rc;
}

static inline void hvp_unlock(struct hvp_active_hdr *h)
{
	pthread_mutex_unlock(&h->lock);
}

/*
 * Pin grant @ref of @g for domain @ldom, as Xen's acquire_grant_for_copy and
 * map_grant_ref do for a v1 entry: bad_gntref past the table; an entry already
 * pinned by another domain fails; the first pin (or first writable pin)
 * checks GTF_permit_access, the domid and GTF_readonly and sets GTF_reading
 * (and GTF_writing) with a bounded cmpxchg on the shared flags+domid word so a
 * guest ending access at the same moment either wins or sees the flags; the
 * frame must be inside guest memory (GNTST_bad_page otherwise). @mapflag
 * refuses sub-page entries as a map does. On GNTST_okay *frame is the frame.
 */
static inline int hvp_gnt_pin(struct hvp_gnt *g, uint32_t ref, uint16_t ldom,
			      int readonly, int mapflag, int bounded,
			      uint32_t *frame)
{
	uint32_t inc = readonly ? HVP_PIN_R : HVP_PIN_W;
	uint16_t mask = GTF_type_mask | (mapflag ? GTF_sub_page : 0);
	struct hvp_active *a;
	uint32_t *word, old, new, pin, fr;
	int rc = GNTST_okay, retries = 0, set = 0;

	if (ref >= g->nr_ents)
		return GNTST_bad_gntref;
	a = &g->act[ref];
	word = (uint32_t *)&g->ents[ref];
	if (hvp_lock(g->hdr, bounded))
		return GNTST_general_error;
	pin = a->pin;
	/* Refuse a pin count about to carry into the next field. */
	if (pin && (a->domid != ldom || (pin & (inc * 0x80)))) {
		rc = GNTST_general_error;
		goto out;
	}
	if (!pin || (!readonly && !(pin & HVP_PIN_W_MASK))) {
		old = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		for (;;) {
			uint16_t fl = old & 0xffff, dom = old >> 16;

			if (!pin &&
			    ((fl & mask) != GTF_permit_access || dom != ldom)) {
				rc = GNTST_general_error;
				goto out;
			}
			fl |= GTF_reading;
			if (!readonly) {
				if (fl & GTF_readonly) {
					rc = GNTST_general_error;
					goto out;
				}
				fl |= GTF_writing;
			}
			new = (old & 0xffff0000u) | fl;
			if (__atomic_compare_exchange_n(word, &old, new, 0,
							__ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE))
				break;
			/* The guest may race us a few times, not forever. */
			if (retries++ == 4) {
				rc = GNTST_general_error;
				goto out;
			}
		}
		set = 1;
	}
	if (!pin) {
		/* The frame is read after the flags are set, as Xen does. */
		fr = __atomic_load_n(&g->ents[ref].frame, __ATOMIC_ACQUIRE);
		if (fr >= g->mem_pages) {
			rc = GNTST_bad_page;
			goto out;
		}
		a->frame = fr;
		a->domid = ldom;
	}
	fr = a->frame;
	if (fr >= g->mem_pages) { /* a scribbled active entry */
		rc = GNTST_general_error;
		goto out;
	}
	a->pin = pin + inc;
	*frame = fr;
	set = 0;
out:
	if (set) {
		/* Undo only what this call added, as Xen's unlock_out_clear. */
		uint16_t clr = 0;

		if (!pin)
			clr |= GTF_reading;
		if (!readonly && !(pin & HVP_PIN_W_MASK))
			clr |= GTF_writing;
		__atomic_fetch_and(&g->ents[ref].flags, (uint16_t)~clr,
				   __ATOMIC_ACQ_REL);
	}
	hvp_unlock(g->hdr);
	return rc;
}

/*
 * Drop one pin taken by hvp_gnt_pin; the last reader pin clears GTF_reading,
 * the last writer pin GTF_writing, as Xen's reduce_status_for_pin.
 */
static inline void hvp_gnt_unpin(struct hvp_gnt *g, uint32_t ref, int readonly,
				 int bounded)
{
	uint32_t inc = readonly ? HVP_PIN_R : HVP_PIN_W;
	struct hvp_active *a;
	uint16_t clr = 0;
	int locked;

	if (ref >= g->nr_ents)
		return;
	a = &g->act[ref];
	/* xensimd unpins even when a wedged client holds the lock: an
	 * unbalanced count is better than a pin that never goes. */
	locked = !hvp_lock(g->hdr, bounded);
	if ((a->pin & (inc * 0xff)) >= inc)
		a->pin -= inc;
	if (!a->pin)
		clr |= GTF_reading;
	if (!readonly && !(a->pin & HVP_PIN_W_MASK))
		clr |= GTF_writing;
	if (clr)
		__atomic_fetch_and(&g->ents[ref].flags, (uint16_t)~clr,
				   __ATOMIC_ACQ_REL);
	if (locked)
		hvp_unlock(g->hdr);
}

#endif
