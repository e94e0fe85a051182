// SPDX-License-Identifier: MIT
/*
 * ctrl.c - the netif control ring of a vif (feature-ctrl-ring): the
 * frontend's hashing messages, served on the control thread.
 *
 * Each message is copied off the ring once (ring_back_fetch) and acted on
 * from the copy; a key or a mapping table named by a grant is copied in
 * with one grant copy into our own buffer and checked there, whole, before
 * anything of it is used (a table with one entry naming a queue the vif
 * does not have changes nothing: XSA-270's lesson that a backend must not
 * index by what a guest wrote). Every message gets exactly one response
 * with every byte set. A frontend that publishes more messages than the
 * ring holds gets its control ring stopped (counted, logged, rate
 * limited); its data rings and every other vif go on.
 *
 * The configuration that results goes to the vif's queues (xenbus.c's
 * apply callback, netq_set_hash) once per batch of messages, and to a
 * small state file under run-dir: a frontend configures its hashing once,
 * at connect, so a worker that dies must leave it for the successor that
 * takes the live frontend over. The peer on the guest side is
 * tests/front/netfront.c's control ring.
 */
#include "netback/ctrl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xen.h"
#include "ring/ring.h"

#define CTRL_ROUNDS 4 /* ring sweeps per event before yielding */
#define CTRL_PAGE 4096u

/* ------------------------------------------------------------ the ring */

struct nb_ctrl {
	char name[96];
	unsigned int domid;
	unsigned int nq;
	struct loop *loop;
	struct xen_gnttab *xg;
	struct xen_evtchn *xe;
	int port;
	void *ring_addr;
	struct ring_netif_ctrl_back ring;
	struct loop_fd lfd;
	int watched;
	int posted; /* a sweep message is queued */
	/* Event storms on the control channel (class 13), as the queues. */
	struct xen_evstorm storm; /* counts on req_cons */
	struct loop_timer storm_timer;
	int masked; /* the port, left masked meanwhile */
	struct nb_hash hash;
	void (*apply)(void *arg, const struct nb_hash *h);
	void *arg;
	uint32_t ref, evtchn; /* the ring a state file is for */
	char state[PATH_MAX]; /* "": none */
	struct nb_ctrl_stats st;
	struct log_rl rl;
};

/* ------------------------------------------------------------ state file */

#define CTRL_STATE_MAGIC 0x48425650u /* "PVBH" */
#define CTRL_STATE_VERSION 1u

/*
 * What a worker leaves for its successor: the configuration, named by the
 * ring it came over (a frontend that reconnected has new grants and sets
 * its hashing again), checksummed (a worker killed mid-write leaves a
 * file that is ignored). Written whole on each change, on the control
 * thread: a frontend configures at connect, not per packet.
 */
struct ctrl_state {
	uint32_t magic, version;
	uint32_t domid, ref, evtchn, nq;
	struct nb_hash hash;
	uint32_t sum; /* FNV-1a of everything before */
};

static uint32_t ctrl_state_sum(const struct ctrl_state *s)
{
	const uint8_t *p = (const uint8_t *)s;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < offsetof(struct ctrl_state, sum); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void ctrl_state_fill(const struct nb_ctrl *c, struct ctrl_state *s)
{
	memset(s, 0, sizeof(*s));
	s->magic = CTRL_STATE_MAGIC;
	s->version = CTRL_STATE_VERSION;
	s->domid = c->domid;
	s->ref = c->ref;
	s->evtchn = c->evtchn;
	s->nq = c->nq;
	s->hash = c->hash;
	s->sum = ctrl_state_sum(s);
}

/* What nb_ctrl_msg could have produced for @nq queues, nothing else. */
static int ctrl_hash_valid(const struct nb_hash *h, unsigned int nq)
{
	if (h->alg != XEN_NETIF_CTRL_HASH_ALGORITHM_NONE &&
	    h->alg != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
		return 0;
	if (h->flags & ~(uint32_t)NB_HASH_FLAGS_ALL ||
	    h->size > NB_HASH_MAPPING_MAX)
		return 0;
	for (uint32_t i = 0; i < h->size; i++) {
		if (h->mapping[i] >= nq)
			return 0;
	}
	return 1;
}

static void ctrl_state_save(struct nb_ctrl *c)
{
	struct ctrl_state s;
	ssize_t n = -1;
	int fd;

	if (!c->state[0])
		return;
	ctrl_state_fill(c, &s);
	fd = open(c->state, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		n = write(fd, &s, sizeof(s));
		close(fd);
	}
	if (n != (ssize_t)sizeof(s))
		log_rl_warn(&c->rl, c->name,
			    "cannot keep the hashing in %s "
			    "(a restarted worker would lose it): %s",
			    c->state, n < 0 ? strerror(errno) : "short write");
}

/*
 * A live frontend taken over: the configuration its previous worker
 * kept for this very ring, if any and whole. 1 if loaded.
 */
static int ctrl_state_load(struct nb_ctrl *c)
{
	struct ctrl_state s, want;
	ssize_t n;
	int fd = open(c->state, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, &s, sizeof(s));
	close(fd);
	ctrl_state_fill(c, &want);
	if (n != (ssize_t)sizeof(s) || s.magic != want.magic ||
	    s.version != want.version || s.domid != want.domid ||
	    s.ref != want.ref || s.evtchn != want.evtchn || s.nq != want.nq ||
	    s.sum != ctrl_state_sum(&s) || !ctrl_hash_valid(&s.hash, c->nq))
		return 0;
	c->hash = s.hash;
	return 1;
}

static int ctrl_copy(void *arg, uint32_t gref, void *dst, size_t len)
{
	struct nb_ctrl *c = arg;
	struct xen_gcopy seg;
	int rc;

	if (len > CTRL_PAGE)
		return -EINVAL;
	xen_gcopy_from_guest(&seg, c->domid, gref, 0, dst, (uint16_t)len);
	rc = xen_gcopy_run(c->xg, &seg, 1);
	if (!rc && seg.status != GNTST_okay)
		rc = -EFAULT;
	return rc;
}

static void ctrl_unwatch(struct nb_ctrl *c)
{
	if (c->watched)
		loop_fd_del(c->loop, &c->lfd);
	c->watched = 0;
}

static void ctrl_broken(struct nb_ctrl *c)
{
	c->st.broken = 1;
	ctrl_unwatch(c);
	log_rl_err(&c->rl, c->name,
		   "the frontend published more control "
		   "messages than the ring holds: control ring stopped");
}

/*
 * One pass over what is on the ring: 1 if it took something. The new
 * configuration reaches the queues before the responses are published:
 * a frontend that saw SUCCESS may count on it at once.
 */
static int ctrl_round(struct nb_ctrl *c)
{
	struct xen_netif_ctrl_request req[16];
	struct xen_netif_ctrl_response rsp[16];
	int n = ring_netif_ctrl_back_fetch(&c->ring, req, 16), changed = 0;

	if (n < 0) {
		ctrl_broken(c);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		changed |= nb_ctrl_msg(&c->hash, c->nq, &req[i], &rsp[i],
				       ctrl_copy, c);
		c->st.msgs++;
		if (rsp[i].status != XEN_NETIF_CTRL_STATUS_SUCCESS) {
			c->st.errors++;
			log_rl_warn(&c->rl, c->name,
				    "control message type %u: "
				    "status %u",
				    req[i].type, rsp[i].status);
		}
	}
	if (changed && c->apply) {
		c->apply(c->arg, &c->hash);
		ctrl_state_save(c);
	}
	for (int i = 0; i < n; i++) {
		if (ring_netif_ctrl_back_put_rsp(&c->ring, &rsp[i]))
			log_err(c->name, "control response without a request "
					 "(bug)");
	}
	if (n && ring_back_push_rsp(&c->ring.b))
		xen_evtchn_notify(c->xe, (uint32_t)c->port);
	return n > 0;
}

static void ctrl_sweep_msg(void *arg);

static void ctrl_sweep(struct nb_ctrl *c)
{
	int round, rc = 0;

	for (round = 0; round < CTRL_ROUNDS && !c->st.broken; round++) {
		if (ctrl_round(c))
			continue;
		rc = ring_back_final_check(&c->ring.b);
		if (rc < 0)
			ctrl_broken(c);
		if (rc <= 0)
			break;
	}
	/* Still busy: let the other devices' work in, then go on. */
	if (round == CTRL_ROUNDS && !c->st.broken && !c->posted &&
	    !loop_post(c->loop, ctrl_sweep_msg, c))
		c->posted = 1;
}

static void ctrl_sweep_msg(void *arg)
{
	struct nb_ctrl *c = arg;

	c->posted = 0;
	ctrl_sweep(c);
}

/* The back-off is over: unmask (a pending event comes again), look. */
static void ctrl_storm_over(struct loop_timer *t)
{
	struct nb_ctrl *c =
		(struct nb_ctrl *)((char *)t -
				   offsetof(struct nb_ctrl, storm_timer));

	c->masked = 0;
	xen_evtchn_unmask(c->xe, (uint32_t)c->port);
	if (!c->st.broken)
		ctrl_sweep(c);
}

static void ctrl_event(struct loop_fd *lfd, uint32_t events)
{
	struct nb_ctrl *c =
		(struct nb_ctrl *)((char *)lfd - offsetof(struct nb_ctrl, lfd));
	int port = xen_evtchn_pending(c->xe);
	unsigned int ms;

	(void)events;
	if (port < 0)
		return;
	c->st.events++;
	/* Served masked: the storm check sees what this wakeup took. The
	 * control thread serves every vif of the worker: a storm here must
	 * not take it. */
	if (!c->st.broken)
		ctrl_sweep(c);
	if (xen_evstorm_note(&c->storm, c->ring.b.req_cons))
		c->st.events_idle++;
	ms = xen_evstorm_backoff(&c->storm);
	if (ms && !loop_timer_arm(c->loop, &c->storm_timer, ms, 0)) {
		if (!c->st.storm_backoffs)
			log_rl_warn(&c->rl, c->name,
				    "event storm: %u wakeups "
				    "without work, backing off",
				    XEN_EVSTORM_IDLE);
		c->st.storm_backoffs++;
		c->masked = 1;
		return;
	}
	xen_evtchn_unmask(c->xe, (uint32_t)port);
}

static void ctrl_free(struct nb_ctrl *c)
{
	ctrl_unwatch(c);
	loop_timer_cancel(c->loop, &c->storm_timer);
	if (c->port >= 0)
		xen_evtchn_unbind(c->xe, (uint32_t)c->port);
	if (c->ring_addr)
		xen_gnttab_unmap(c->xg, c->ring_addr, 1);
	xen_evtchn_close(c->xe);
	xen_gnttab_close(c->xg);
	free(c);
}

static void ctrl_free_msg(void *arg)
{
	ctrl_free(arg);
}

int nb_ctrl_start(const struct nb_ctrl_cfg *cfg, struct nb_ctrl **out,
		  char *err, size_t errlen)
{
	struct nb_ctrl *c = calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->port = -1;
	c->storm_timer.fn = ctrl_storm_over;
	snprintf(c->name, sizeof(c->name), "%s ctrl", cfg->name);
	c->domid = cfg->domid;
	c->nq = cfg->nq;
	c->loop = cfg->loop;
	c->apply = cfg->apply;
	c->arg = cfg->arg;
	c->ref = cfg->ref;
	c->evtchn = cfg->evtchn;
	if (cfg->state)
		snprintf(c->state, sizeof(c->state), "%s", cfg->state);
	rc = xen_gnttab_open(&c->xg);
	if (!rc)
		rc = xen_evtchn_open(&c->xe);
	if (rc) {
		snprintf(err, errlen,
			 "control ring: cannot open grant table / "
			 "event channels: %s",
			 strerror(-rc));
		goto err_free;
	}
	rc = xen_gnttab_map(c->xg, cfg->domid, 1, &cfg->ref, 1, &c->ring_addr);
	if (rc) {
		c->ring_addr = NULL;
		snprintf(err, errlen,
			 "cannot map the control ring (ref %u): "
			 "%s",
			 cfg->ref, strerror(-rc));
		goto err_free;
	}
	rc = ring_netif_ctrl_back_attach(&c->ring, c->ring_addr, 1);
	if (rc) {
		snprintf(err, errlen,
			 "control ring: impossible producer index "
			 "at attach");
		goto err_free;
	}
	rc = xen_evtchn_bind(c->xe, cfg->domid, cfg->evtchn);
	if (rc < 0) {
		snprintf(err, errlen, "cannot bind event-channel-ctrl %u: %s",
			 cfg->evtchn, strerror(-rc));
		goto err_free;
	}
	c->port = rc;
	c->lfd.fn = ctrl_event;
	c->lfd.fd = xen_evtchn_fd(c->xe);
	rc = loop_fd_add(c->loop, &c->lfd, EPOLLIN);
	if (rc) {
		snprintf(err, errlen,
			 "control ring: cannot watch its channel: "
			 "%s",
			 strerror(-rc));
		goto err_free;
	}
	c->watched = 1;
	if (c->state[0] && cfg->adopt && ctrl_state_load(c)) {
		log_info(c->name,
			 "hashing as the previous worker left it "
			 "(algorithm %u, %u mapping entries)",
			 c->hash.alg, c->hash.size);
		if (c->apply)
			c->apply(c->arg, &c->hash);
	} else if (c->state[0]) {
		/* A new connection: whatever was kept is another ring's. */
		unlink(c->state);
	}
	/* Messages may be waiting already. */
	ctrl_sweep(c);
	*out = c;
	return 0;

err_free:
	ctrl_free(c);
	return rc;
}

void nb_ctrl_stop(struct nb_ctrl *c, int keep)
{
	if (!c)
		return;
	ctrl_unwatch(c);
	if (c->state[0] && !keep)
		unlink(c->state);
	/*
	 * A queued sweep (same thread, messages run in order) must find the
	 * object alive: it finds it stopped, and the free comes after it.
	 */
	if (c->posted) {
		c->apply = NULL;
		c->st.broken = 1;
		/* On failure the object is left behind: never freed early. */
		loop_post(c->loop, ctrl_free_msg, c);
		return;
	}
	ctrl_free(c);
}

void nb_ctrl_get_stats(const struct nb_ctrl *c, struct nb_ctrl_stats *out)
{
	if (c)
		*out = c->st;
	else
		memset(out, 0, sizeof(*out));
}

void nb_ctrl_stats_add(struct nb_ctrl_stats *to,
		       const struct nb_ctrl_stats *from)
{
	uint64_t *t = (uint64_t *)to;
	const uint64_t *f = (const uint64_t *)from;

	/* Every field is a uint64_t counter. */
	for (size_t i = 0; i < sizeof(*to) / sizeof(uint64_t); i++)
		t[i] += f[i];
}
