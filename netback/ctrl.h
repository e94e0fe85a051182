/* SPDX-License-Identifier: MIT */
/*
 * ctrl.h - the netif control ring (feature-ctrl-ring): the frontend's
 * messages that configure receive-side hashing (netif.h's
 * XEN_NETIF_CTRL_TYPE_*), answered one response per message.
 *
 * nb_ctrl_msg is the parser, pure but for the copy callback (the fuzz
 * target tests/fuzz/net-ctrl-msg.c drives it alone); nb_ctrl_start serves
 * a vif's ring on the control thread's loop (control messages are rare:
 * a frontend sets its key and table at connect), and hands every new
 * configuration to the vif's queues through @apply.
 */
#ifndef PVBACK_NETBACK_CTRL_H
#define PVBACK_NETBACK_CTRL_H

#include <stddef.h>
#include <stdint.h>

#include "common/loop.h"
#include "netback/hash.h"

/*
 * Copy @len (<= 4096) bytes from offset 0 of the frontend's grant @gref
 * into @dst. 0, or -errno (a bad grant).
 */
typedef int (*nb_ctrl_copy_fn)(void *arg, uint32_t gref, void *dst, size_t len);

/*
 * nb_ctrl_msg - act on the private copy @req for a vif of @nq queues whose
 * hashing state is @h, and fill every byte of @rsp (id and type echoed,
 * a XEN_NETIF_CTRL_STATUS_*, data). A message that fails changes nothing.
 * Returns 1 if @h changed, else 0.
 */
int nb_ctrl_msg(struct nb_hash *h, unsigned int nq,
		const struct xen_netif_ctrl_request *req,
		struct xen_netif_ctrl_response *rsp, nb_ctrl_copy_fn copy,
		void *arg);

struct nb_ctrl;

struct nb_ctrl_stats {
	uint64_t msgs;		 /* messages answered */
	uint64_t errors;	 /* ...with a status other than SUCCESS */
	uint64_t broken;	 /* 1: impossible index, ring stopped */
	uint64_t events;	 /* wakeups on its channel */
	uint64_t events_idle;	 /* ...that found no message */
	uint64_t storm_backoffs; /* times the channel was left masked */
};

struct nb_ctrl_cfg {
	const char *name; /* for logs */
	unsigned int domid;
	uint32_t ref;	   /* ctrl-ring-ref */
	uint32_t evtchn;   /* event-channel-ctrl */
	unsigned int nq;   /* the vif's queues */
	struct loop *loop; /* the control thread's */
	/* A new configuration (on @loop's thread, after a batch). */
	void (*apply)(void *arg, const struct nb_hash *h);
	void *arg;
	/*
	 * A file the configuration is kept in for a successor (NULL: none):
	 * a frontend sends its hashing once, at connect, and a worker that
	 * dies would take it along. With @adopt (a live frontend taken over)
	 * what a predecessor left there for the same ring is applied.
	 */
	const char *state;
	int adopt;
};

/*
 * Map the ring, bind the channel, serve it on cfg->loop. Call on that
 * loop's thread. 0, or -errno with the reason in @err.
 */
int nb_ctrl_start(const struct nb_ctrl_cfg *cfg, struct nb_ctrl **out,
		  char *err, size_t errlen);
/*
 * Stop serving, unmap, unbind, free. Same thread. NULL-safe. The state
 * file is removed unless @keep (the daemon stops with the frontend
 * connected: the next one takes the ring over).
 */
void nb_ctrl_stop(struct nb_ctrl *c, int keep);
void nb_ctrl_get_stats(const struct nb_ctrl *c, struct nb_ctrl_stats *out);
/* Add @from's counters to @to (totals over connections). */
void nb_ctrl_stats_add(struct nb_ctrl_stats *to,
		       const struct nb_ctrl_stats *from);

#endif
