// SPDX-License-Identifier: MIT
/*
 * port_dpdk.c - the DPDK port: each vif is a DPDK virtio-user device
 * (net_virtio_user) serving the vhost-user socket <dpdk-vhost-dir>/<ifname>
 * (server=1), which a vhost-user switch connects to as the client: OVS-DPDK's
 * dpdkvhostuserclient ports, testpmd's net_vhost with client=1. One DPDK
 * queue pair per ring pair of the vif. The switch reconnects by itself
 * when netbackd or a worker restarts, so "adopting" a vif is serving its
 * socket path again.
 *
 * EAL: once per process (a worker serves one guest; --single all), before
 * the sandbox when there is one (presandbox), else at the first create:
 * nothing shared (no files, no multi-process channel), no PCI, no
 * telemetry, one lcore floating over the CPUs the process may use, with
 * dpdk-eal-args appended (by default --no-huge: virtio-user shares the
 * memfd DPDK puts its no-huge memory in with the switch, so no hugepages
 * need reserving). DPDK's log lines go to ours.
 *
 * Attaching: in DPDK 22.11 (and 23.11) a virtio-user device in server mode
 * blocks in accept() inside rte_dev_probe() until its switch connects.
 * create() must not wait for that (the hotplug script, which may be what
 * adds the switch's port, only runs once the vif is in InitWait), so one
 * attacher thread per process probes the devices in turn, then configures
 * and starts each: until then a vif's guest TX is dropped (-EAGAIN) and
 * its guest RX is empty, as a TAP's is before it is bridged. destroy()
 * unblocks a probe still waiting by connecting to the socket itself, which
 * fails that probe.
 *
 * Data path: DPDK Rx interrupts (the eventfds the switch kicks, which
 * virtio-user creates per queue) sit in an epoll set per queue, created at
 * create() and handed out as queue_fd: readable while a queue may have
 * packets (see dp_rx_fill), as a TAP's fd is. recv takes bursts into a
 * per-queue cache and copies one packet per call; send copies each packet
 * into mbufs queued per queue, and flush (tx.c, at the end of a sweep)
 * hands them to the device. Offloads: guest-TX partial checksums and TCP
 * segmentation go to the device when the switch negotiated them
 * (VIRTIO_NET_F_CSUM, HOST_TSO4/6), else are done here; guest RX offloads
 * are not negotiated (no GUEST_CSUM/GUEST_TSO), so the switch hands over
 * finished packets, which any frontend takes.
 *
 * The ops table is in port.h; netq.c, tx.c and rx.c are its users.
 */
#include "netback/port.h"

#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "common/log.h"
#include "netback/netback.h"
#include "netback/pkt.h"

#define DP_RX_BURST 32	 /* packets taken from a device queue at once */
#define DP_TX_BURST 32	 /* queued mbufs handed to the device at once */
#define DP_TX_PEND 512	 /* mbufs queued per queue (a GSO packet whole) */
#define DP_TX_RETRIES 64 /* flush: tries while the switch drains the ring */
#define DP_RING 256	 /* virtio-user's default queue size */
#define DP_RETRY_MS 1000 /* a failed probe is tried again after this */

/* ------------------------------------------------------------ settings */

static char dp_vhost_dir[PATH_MAX] = "/run/pvback/vhost";
static char dp_eal_args[512] = "--no-huge -m 256";

void port_dpdk_configure(const char *vhost_dir, const char *eal_args)
{
	snprintf(dp_vhost_dir, sizeof(dp_vhost_dir), "%s", vhost_dir);
	snprintf(dp_eal_args, sizeof(dp_eal_args), "%s", eal_args);
}

/* ------------------------------------------------------------ the port */

struct dp_rxq {
	struct rte_mbuf *m[DP_RX_BURST];
	uint16_t pos, n; /* m[pos..n) not handed out yet */
	int armed;	 /* its Rx interrupt is on: the queue went idle */
	int efd;	 /* the device's interrupt eventfd; -1 before attach */
	int epfd;	 /* queue_fd: an epoll set holding efd once attached */
};

struct dp_txq {
	struct rte_mbuf *m[DP_TX_PEND];
	/* A guest packet's length on its last mbuf (GSO: its last
	 * segment), 0 on the others: what a dropped mbuf costs in stats. */
	uint32_t len[DP_TX_PEND];
	unsigned int n;
	/* Taken by send, then dropped by a push; flush reports them. */
	uint64_t lost, lost_bytes;
	uint8_t *seg; /* a TCP segment being cut from a GSO packet */
};

struct port {
	char ifname[IFNAMSIZ];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char vdev[48]; /* the DPDK device's name, new per probe */
	unsigned int max_queues;

	/* Shared by the control thread and the attacher: under lock. */
	pthread_mutex_t lock;
	unsigned int nq;  /* set_queues */
	unsigned int mtu; /* set_mtu, or create's; 0: the default */
	int attached;	  /* probed: port_id names it */
	uint16_t port_id;
	/*
	 * Under att.lock: on the attacher's list or being probed (the
	 * attacher's until it clears it), destroy ran, destroy gave up
	 * waiting for the probe (the attacher frees it).
	 */
	int queued, dying, orphan;
	struct port *next;
	uint64_t retry_ms; /* not probed again before */
	struct log_rl rl;  /* the attacher's messages */
	int carrier, offl; /* what netbackd said: kept, nothing to do */

	/*
	 * The data path's view, written while no queue thread uses it
	 * (before ready is set, or with no queue running: set_queues) and
	 * published by ready (release; the queues acquire).
	 */
	atomic_int ready;
	unsigned int dev_nq; /* queue pairs configured on the device */
	int tx_csum, tx_tso; /* the device takes partial checksums, TSO */
	struct rte_mempool *mp;
	struct dp_rxq rxq[NB_MAX_QUEUES];
	struct dp_txq txq[NB_MAX_QUEUES];
};

static uint64_t dp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ EAL */

/*
 * DPDK's log lines, one per write (line-buffered), into ours, from any
 * thread (the attacher, DPDK's interrupt thread): one rate limiter under a
 * lock, as virtio-user repeats itself when its switch goes.
 */
static pthread_mutex_t dp_log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_rl dp_log_rl;

static ssize_t dp_log_write(void *cookie, const char *buf, size_t len)
{
	int lvl = rte_log_cur_msg_loglevel();
	const int err = RTE_LOG_ERR, warn = RTE_LOG_WARNING;
	const int dbg = RTE_LOG_DEBUG;
	enum log_level l = lvl <= err	 ? LOGL_ERR
			   : lvl == warn ? LOGL_WARN
			   : lvl < dbg	 ? LOGL_INFO
					 : LOGL_DEBUG;
	size_t n = len;

	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n && log_enabled(l)) {
		pthread_mutex_lock(&dp_log_lock);
		log_rl_msg(&dp_log_rl, l, "dpdk", "%.*s", (int)n, buf);
		pthread_mutex_unlock(&dp_log_lock);
	}
	return (ssize_t)len;
}

/* "0-3,6" for the CPUs this thread may run on. */
static void dp_cpu_list(char *out, size_t len)
{
	cpu_set_t set;
	size_t pos = 0;
	int first = 1;

	out[0] = '\0';
	if (sched_getaffinity(0, sizeof(set), &set)) {
		snprintf(out, len, "0");
		return;
	}
	for (int c = 0; c < CPU_SETSIZE && pos < len; c++) {
		int e = c;

		if (!CPU_ISSET(c, &set))
			continue;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, &set))
			e++;
		pos += (size_t)snprintf(out + pos, len - pos,
					e > c ? "%s%d-%d" : "%s%d",
					first ? "" : ",", c, e);
		first = 0;
		c = e;
	}
	if (first)
		snprintf(out, len, "0");
}

static int dp_eal_rc = 1; /* 1: not tried; 0: up; -errno: failed */

/*
 * Initialise the EAL, once per process (rte_eal_init cannot be retried).
 * Control thread. 0/-errno.
 */
static int dp_eal_up(void)
{
	/* The EAL keeps pointers into its argv (argv[0] names its log). */
	static char args[sizeof(dp_eal_args)], prefix[64], lcores[1100];
	char cpus[1024];
	static char *argv[64];
	int argc = 0, rc;
	FILE *f;

	if (dp_eal_rc <= 0)
		return dp_eal_rc;
	/* One lcore (this, the control thread) floating over all our
	 * CPUs: pinning it would pin the queue threads it starts. */
	dp_cpu_list(cpus, sizeof(cpus));
	snprintf(lcores, sizeof(lcores), "--lcores=0@(%s)", cpus);
	/* Each process its own, though nothing is shared. */
	snprintf(prefix, sizeof(prefix), "--file-prefix=netbackd-%d",
		 (int)getpid());
	argv[argc++] = "netbackd";
	/* Nothing shared: no runtime files, no multi-process channel.
	 * --in-memory says the same for hugepages and refuses --no-huge. */
	argv[argc++] = strstr(dp_eal_args, "--no-huge") ? "--no-shconf"
							: "--in-memory";
	argv[argc++] = "--no-pci";
	argv[argc++] = "--no-telemetry";
	argv[argc++] = prefix;
	argv[argc++] = lcores;
	argv[argc++] = "--log-level=warning";
	snprintf(args, sizeof(args), "%s", dp_eal_args);
	for (char *s = strtok(args, " \t"); s && argc < 63;
	     s = strtok(NULL, " \t"))
		argv[argc++] = s;
	argv[argc] = NULL;

	f = fopencookie(NULL, "w",
			(cookie_io_functions_t){
				.write = dp_log_write,
			});
	if (f) {
		setvbuf(f, NULL, _IOLBF, 0);
		rte_openlog_stream(f);
	}
	rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		dp_eal_rc = rte_errno > 0 ? -rte_errno : -EINVAL;
		log_err("dpdk", "EAL initialisation failed: %s",
			rte_strerror(rte_errno));
		return dp_eal_rc;
	}
	dp_eal_rc = 0;
	return 0;
}

static int dp_presandbox(void)
{
	return dp_eal_up();
}

/* ------------------------------------------------------------ device */

/* Free what a queue holds (no queue thread runs on it). */
static void dp_queue_drop(struct port *p, unsigned int q)
{
	struct dp_rxq *rq = &p->rxq[q];
	struct dp_txq *tq = &p->txq[q];

	while (rq->pos < rq->n)
		rte_pktmbuf_free(rq->m[rq->pos++]);
	rq->pos = rq->n = 0;
	for (unsigned int i = 0; i < tq->n; i++)
		rte_pktmbuf_free(tq->m[i]);
	tq->n = 0;
}

/*
 * Configure the attached device for p->nq queue pairs and start it, then
 * publish it to the queues. p->lock held; no queue thread uses the device
 * (ready is 0). 0/-errno (the device is left stopped).
 */
static int dp_dev_start(struct port *p)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	unsigned int nq = p->nq, mtu = p->mtu ? p->mtu : 1500;
	uint64_t want;
	int rc;

	rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc)
		return rc;
	if (nq > info.max_rx_queues)
		nq = info.max_rx_queues;
	if (nq > info.max_tx_queues)
		nq = info.max_tx_queues;
	if (!nq)
		return -ENODEV;
	if (mtu > info.max_mtu)
		mtu = info.max_mtu;
	memset(&conf, 0, sizeof(conf));
	/* Interrupts for queue_fd; link state so that virtio-user sees its
	 * switch go and come back (reconnects in server mode). */
	conf.intr_conf.rxq = 1;
	conf.intr_conf.lsc = !!(*info.dev_flags & RTE_ETH_DEV_INTR_LSC);
	conf.rxmode.mtu = mtu;
	/* Chained mbufs for frames beyond one mbuf; no receive offloads:
	 * finished packets suit every frontend. */
	conf.rxmode.offloads = info.rx_offload_capa &
			       RTE_ETH_RX_OFFLOAD_SCATTER;
	want = RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
	       RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO;
	conf.txmode.offloads = info.tx_offload_capa & want;
	rc = rte_eth_dev_configure(p->port_id, (uint16_t)nq, (uint16_t)nq,
				   &conf);
	if (rc)
		return rc;
	for (unsigned int q = 0; q < nq; q++) {
		rc = rte_eth_rx_queue_setup(p->port_id, (uint16_t)q, DP_RING,
					    SOCKET_ID_ANY, NULL, p->mp);
		if (!rc)
			rc = rte_eth_tx_queue_setup(p->port_id, (uint16_t)q,
						    DP_RING, SOCKET_ID_ANY,
						    NULL);
		if (rc)
			return rc;
	}
	rc = rte_eth_dev_start(p->port_id);
	if (rc)
		return rc;
	for (unsigned int q = 0; q < nq; q++) {
		struct dp_rxq *rq = &p->rxq[q];
		struct epoll_event ev = { .events = EPOLLIN };
		int efd = rte_eth_dev_rx_intr_ctl_q_get_fd(p->port_id,
							   (uint16_t)q);

		if (efd < 0) {
			rc = -ENOTSUP;
			goto err_stop;
		}
		/* The same eventfd for the device's life: added once. */
		if (efd != rq->efd &&
		    epoll_ctl(rq->epfd, EPOLL_CTL_ADD, efd, &ev) &&
		    errno != EEXIST) {
			rc = -errno;
			goto err_stop;
		}
		rq->efd = efd;
		rq->armed = 0;
		/* Readable: the queue's thread looks once (see dp_rx_fill). */
		eventfd_write(efd, 1);
	}
	p->dev_nq = nq;
	p->tx_csum = (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) &&
		     (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM);
	p->tx_tso = p->tx_csum &&
		    (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_TCP_TSO);
	atomic_store_explicit(&p->ready, 1, memory_order_release);
	return 0;

err_stop:
	rte_eth_dev_stop(p->port_id);
	return rc;
}

/* Stop the device (no queue thread uses it). p->lock held. */
static void dp_dev_stop(struct port *p)
{
	atomic_store_explicit(&p->ready, 0, memory_order_release);
	for (unsigned int q = 0; q < p->dev_nq; q++)
		dp_queue_drop(p, q);
	p->dev_nq = 0;
	if (p->attached)
		rte_eth_dev_stop(p->port_id);
}

/*
 * Close the device: the switch is disconnected, virtio-user removes the
 * socket. Taking it off DPDK's bus is left to the attacher (below), as it
 * may be blocked in another probe. p->lock held, no queue thread runs.
 */
static void dp_post_removal(const char *vdev);

static void dp_dev_close(struct port *p)
{
	dp_dev_stop(p);
	if (!p->attached)
		return;
	rte_eth_dev_close(p->port_id);
	p->attached = 0;
	dp_post_removal(p->vdev);
}

/* ------------------------------------------------------------ attacher */

struct dp_removal {
	struct dp_removal *next;
	char vdev[48];
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;	     /* work for the attacher; a probe ended */
	struct port *head;	     /* ports waiting for their probe */
	struct port *probing;	     /* the port whose probe runs */
	struct dp_removal *removals; /* closed devices to take off the bus */
	int started;
	unsigned int serial; /* names devices: net_virtio_user<serial> */
} att = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static void dp_post_removal(const char *vdev)
{
	struct dp_removal *r = calloc(1, sizeof(*r));

	/* Without memory the entry stays on the bus: a name never reused. */
	if (!r)
		return;
	snprintf(r->vdev, sizeof(r->vdev), "%s", vdev);
	pthread_mutex_lock(&att.lock);
	r->next = att.removals;
	att.removals = r;
	pthread_cond_signal(&att.cond);
	pthread_mutex_unlock(&att.lock);
}

static void dp_port_free(struct port *p)
{
	for (unsigned int q = 0; q < NB_MAX_QUEUES; q++) {
		if (p->rxq[q].epfd >= 0)
			close(p->rxq[q].epfd);
		free(p->txq[q].seg);
	}
	rte_mempool_free(p->mp);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Append @p to the attacher's list (att.lock held). */
static void dp_enqueue(struct port *p)
{
	struct port **pp = &att.head;

	while (*pp)
		pp = &(*pp)->next;
	p->next = NULL;
	*pp = p;
	p->queued = 1;
	pthread_cond_signal(&att.cond);
}

/*
 * Probe @p's device: blocks until a switch connects to its socket (or
 * destroy connects to fail it). Attacher thread, no lock held. 0/-errno.
 */
static int dp_probe(struct port *p)
{
	char args[sizeof(p->path) + 256];
	uint16_t id;
	int rc;

	pthread_mutex_lock(&att.lock);
	snprintf(p->vdev, sizeof(p->vdev), "net_virtio_user%u", att.serial++);
	pthread_mutex_unlock(&att.lock);
	/* The MAC address Linux netback gives its vifs; queue pairs for
	 * every ring pair netif may ask for. */
	snprintf(args, sizeof(args),
		 "%s,path=%s,server=1,queues=%u,queue_size=%u,"
		 "mac=fe:ff:ff:ff:ff:ff",
		 p->vdev, p->path, p->max_queues, DP_RING);
	/* A failed probe leaves its socket behind: bind would fail. */
	unlink(p->path);
	rc = rte_dev_probe(args);
	if (rc)
		return rc < 0 ? rc : -EIO;
	rc = rte_eth_dev_get_port_by_name(p->vdev, &id);
	if (rc) {
		rte_eal_hotplug_remove("vdev", p->vdev);
		return rc;
	}
	pthread_mutex_lock(&p->lock);
	p->port_id = id;
	p->attached = 1;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static void *dp_attacher(void *arg)
{
	pthread_mutex_lock(&att.lock);
	for (;;) {
		struct port *p, **pp, **pick = NULL;
		uint64_t now = dp_now_ms(), soonest = UINT64_MAX;
		int rc, dying;

		while (att.removals) {
			struct dp_removal *r = att.removals;

			att.removals = r->next;
			pthread_mutex_unlock(&att.lock);
			rte_eal_hotplug_remove("vdev", r->vdev);
			free(r);
			pthread_mutex_lock(&att.lock);
		}
		for (pp = &att.head; *pp; pp = &(*pp)->next) {
			if ((*pp)->retry_ms <= now) {
				pick = pp;
				break;
			}
			if ((*pp)->retry_ms < soonest)
				soonest = (*pp)->retry_ms;
		}
		if (!pick) {
			if (soonest == UINT64_MAX) {
				pthread_cond_wait(&att.cond, &att.lock);
			} else {
				struct timespec ts;

				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += (time_t)((soonest - now) / 1000);
				ts.tv_nsec += (long)((soonest - now) % 1000) *
					      1000000;
				if (ts.tv_nsec >= 1000000000) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000;
				}
				pthread_cond_timedwait(&att.cond, &att.lock,
						       &ts);
			}
			continue;
		}
		p = *pick;
		*pick = p->next;
		att.probing = p;
		pthread_mutex_unlock(&att.lock);

		rc = dp_probe(p);
		pthread_mutex_lock(&att.lock);
		dying = p->dying;
		pthread_mutex_unlock(&att.lock);
		if (!rc && !dying) {
			pthread_mutex_lock(&p->lock);
			rc = dp_dev_start(p);
			if (rc)
				dp_dev_close(p);
			pthread_mutex_unlock(&p->lock);
		}

		pthread_mutex_lock(&att.lock);
		att.probing = NULL;
		if (p->orphan) {
			pthread_mutex_unlock(&att.lock);
			pthread_mutex_lock(&p->lock);
			dp_dev_close(p);
			pthread_mutex_unlock(&p->lock);
			/* What a probe failed by destroy leaves. */
			unlink(p->path);
			dp_port_free(p);
			pthread_mutex_lock(&att.lock);
			continue;
		}
		if (p->dying) {
			/* destroy waits for this, then closes and frees. */
			p->queued = 0;
			pthread_cond_broadcast(&att.cond);
			continue;
		}
		if (rc) {
			log_rl_warn(&p->rl, p->ifname,
				    "vhost-user device on %s: %s; trying again",
				    p->path, strerror(-rc));
			p->retry_ms = dp_now_ms() + DP_RETRY_MS;
			dp_enqueue(p);
			continue;
		}
		p->queued = 0;
		log_info(p->ifname,
			 "vhost-user switch connected on %s, %u queue(s)%s%s",
			 p->path, p->dev_nq,
			 p->tx_csum ? ", checksum offload" : "",
			 p->tx_tso ? ", TSO" : "");
	}
	return NULL;
}

static int dp_attacher_start(void)
{
	pthread_t tid;
	sigset_t all, old;
	int rc = 0;

	pthread_mutex_lock(&att.lock);
	if (!att.started) {
		/* Signals stay with the daemon's own threads. */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		rc = -pthread_create(&tid, NULL, dp_attacher, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (!rc) {
			pthread_detach(tid);
			pthread_setname_np(tid, "dpdk-attach");
			att.started = 1;
		}
	}
	pthread_mutex_unlock(&att.lock);
	return rc;
}

/*
 * A probe blocked in accept() on @path: connect and hang up at once, so
 * that accept returns and the vhost-user handshake on that connection
 * fails. 0 if connected.
 */
static int dp_kick_probe(const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	rc = connect(fd, (struct sockaddr *)&un, sizeof(un)) ? -errno : 0;
	close(fd);
	return rc;
}

/* ------------------------------------------------------------ control */

static void dp_destroy(struct port *p, int keep)
{
	uint64_t deadline;

	if (!p)
		return;
	/*
	 * Every vif lives until its own destroy: the socket goes with the
	 * device either way (virtio-user removes it), and a successor
	 * serves the path again (the switch reconnects), so @keep changes
	 * nothing here.
	 */
	pthread_mutex_lock(&att.lock);
	p->dying = 1;
	if (p->queued && att.probing != p) {
		struct port **pp;

		for (pp = &att.head; *pp && *pp != p; pp = &(*pp)->next)
			;
		if (*pp)
			*pp = p->next;
		p->queued = 0;
	}
	/* Its probe runs: fail it, and wait for the attacher to let go, so
	 * that a successor's socket on the same path is not removed by it. */
	deadline = dp_now_ms() + 5000;
	while (p->queued && dp_now_ms() < deadline) {
		struct timespec ts;

		pthread_mutex_unlock(&att.lock);
		dp_kick_probe(p->path);
		pthread_mutex_lock(&att.lock);
		if (!p->queued)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&att.cond, &att.lock, &ts);
	}
	if (p->queued) {
		/* The attacher frees it, whenever its probe returns. */
		p->orphan = 1;
		log_warn(p->ifname, "vhost-user device still being attached: "
				    "left to finish on its own");
		pthread_mutex_unlock(&att.lock);
		return;
	}
	pthread_mutex_unlock(&att.lock);
	pthread_mutex_lock(&p->lock);
	if (!p->attached)
		unlink(p->path); /* what a failed probe left */
	dp_dev_close(p);
	pthread_mutex_unlock(&p->lock);
	dp_port_free(p);
}

static int dp_create(const struct port_cfg *cfg, struct port **out, char *err,
		     size_t errlen)
{
	char pool[RTE_MEMPOOL_NAMESIZE];
	static unsigned int pools;
	struct stat st;
	struct port *p;
	unsigned int n;
	int rc, adopted = 0;

	if (!cfg->ifname[0] || strlen(cfg->ifname) >= IFNAMSIZ ||
	    strchr(cfg->ifname, '/')) {
		snprintf(err, errlen, "bad interface name '%s'", cfg->ifname);
		return -EINVAL;
	}
	rc = dp_eal_up();
	if (rc) {
		snprintf(err, errlen, "DPDK EAL unavailable: %s",
			 strerror(-rc));
		return rc;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	for (unsigned int q = 0; q < NB_MAX_QUEUES; q++)
		p->rxq[q].epfd = p->rxq[q].efd = -1;
	snprintf(p->ifname, sizeof(p->ifname), "%s", cfg->ifname);
	p->max_queues = cfg->max_queues < 1		  ? 1
			: cfg->max_queues > NB_MAX_QUEUES ? NB_MAX_QUEUES
							  : cfg->max_queues;
	p->nq = 1;
	p->mtu = cfg->mtu;
	if ((size_t)snprintf(p->path, sizeof(p->path), "%s/%s", dp_vhost_dir,
			     p->ifname) >= sizeof(p->path)) {
		snprintf(err, errlen, "vhost-user socket path too long: %s/%s",
			 dp_vhost_dir, p->ifname);
		rc = -ENAMETOOLONG;
		goto err_free;
	}
	if (mkdir(dp_vhost_dir, 0755) && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "cannot make %s: %s", dp_vhost_dir,
			 strerror(-rc));
		goto err_free;
	}
	/* As a TAP's name: a socket left there is a predecessor's (taken
	 * over: its switch reconnects) or not ours. */
	if (!lstat(p->path, &st)) {
		if (!cfg->adopt || !S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists", p->path);
			rc = -EEXIST;
			goto err_free;
		}
		adopted = 1;
	}
	for (unsigned int q = 0; q < p->max_queues; q++) {
		p->rxq[q].epfd = epoll_create1(EPOLL_CLOEXEC);
		p->txq[q].seg = malloc(PORT_MAX_PKT);
		if (p->rxq[q].epfd < 0 || !p->txq[q].seg) {
			rc = p->rxq[q].epfd < 0 ? -errno : -ENOMEM;
			snprintf(err, errlen, "per-queue set-up: %s",
				 strerror(-rc));
			goto err_free;
		}
	}
	/*
	 * Per queue pair: a full Rx ring, a full Tx ring in flight, a
	 * burst being handed out, what waits to be sent.
	 */
	n = p->max_queues * (2 * DP_RING + DP_RX_BURST + DP_TX_PEND) + 256;
	snprintf(pool, sizeof(pool), "pvb%u", pools++);
	/* No per-lcore cache: the queue threads are not EAL threads. */
	p->mp = rte_pktmbuf_pool_create(
		pool, n, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (!p->mp) {
		rc = -rte_errno;
		snprintf(err, errlen,
			 "no memory for %u mbufs: %s (dpdk-eal-args -m)", n,
			 rte_strerror(rte_errno));
		goto err_free;
	}
	rc = dp_attacher_start();
	if (rc) {
		snprintf(err, errlen, "cannot start the attacher: %s",
			 strerror(-rc));
		goto err_free;
	}
	pthread_mutex_lock(&att.lock);
	p->retry_ms = 0;
	dp_enqueue(p);
	pthread_mutex_unlock(&att.lock);
	*out = p;
	return adopted;

err_free:
	dp_port_free(p);
	return rc;
}

static const char *dp_ifname(const struct port *p)
{
	return p->ifname;
}

/*
 * Called with no queue running (before the queues start, after they
 * stopped): an attached device is reconfigured for @n queue pairs, which
 * virtio-user tells its switch (the other pairs get no traffic).
 */
static int dp_set_queues(struct port *p, unsigned int n)
{
	int rc = 0;

	if (n < 1 || n > p->max_queues)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	p->nq = n;
	if (p->attached) {
		if (atomic_load(&p->ready) && p->dev_nq == n) {
			/* Same pairs: only what the last queues left. */
			for (unsigned int q = 0; q < n; q++)
				dp_queue_drop(p, q);
		} else {
			dp_dev_stop(p);
			rc = dp_dev_start(p);
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (rc)
		log_warn(p->ifname, "reconfiguring for %u queue(s): %s", n,
			 strerror(-rc));
	/* The device is the switch's side: a failure here is not the
	 * frontend's, whose vif works again once the device does. */
	return 0;
}

/*
 * What the frontend takes on guest RX: kept only. The device negotiates
 * no receive offloads, so every packet arrives finished, which every
 * frontend takes.
 */
static int dp_set_offloads(struct port *p, unsigned int offl)
{
	p->offl = (int)offl;
	return 0;
}

/*
 * A vhost-user device has no carrier to give its switch (link state is the
 * device's to report, not the driver's): kept. A frontend that is away
 * reads nothing, and the switch meets a full ring, as it would a down link.
 */
static int dp_set_carrier(struct port *p, int up)
{
	p->carrier = !!up;
	return 0;
}

static int dp_set_mtu(struct port *p, unsigned int mtu)
{
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	p->mtu = mtu;
	if (p->attached && atomic_load(&p->ready))
		rc = rte_eth_dev_set_mtu(p->port_id, (uint16_t)mtu);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static int dp_queue_fd(struct port *p, unsigned int q)
{
	return q < p->max_queues ? p->rxq[q].epfd : -EINVAL;
}

/* ------------------------------------------------------------ guest RX */

static int dp_ready(struct port *p, unsigned int q)
{
	return atomic_load_explicit(&p->ready, memory_order_acquire) &&
	       q < p->dev_nq;
}

/*
 * Take a burst into the queue's cache; its size. When the queue is idle,
 * its Rx interrupt is armed and its eventfd emptied, in that order around
 * a last look, so that the fd turns readable on the switch's next kick.
 * Otherwise the eventfd is left as it is: readable (a kick, or our own
 * write) until the queue next goes idle, so that rx.c, which may stop
 * reading before the queue is empty (its own queue full), finds the fd
 * readable when it looks again, as a TAP's would be.
 */
static unsigned int dp_rx_fill(struct port *p, unsigned int q,
			       struct dp_rxq *rq)
{
	uint16_t n;
	eventfd_t v;

	if (rq->armed) {
		/* Busy now: no kicks while we poll. */
		rte_eth_dev_rx_intr_disable(p->port_id, (uint16_t)q);
		rq->armed = 0;
	}
	n = rte_eth_rx_burst(p->port_id, (uint16_t)q, rq->m, DP_RX_BURST);
	if (!n) {
		eventfd_read(rq->efd, &v);
		rte_eth_dev_rx_intr_enable(p->port_id, (uint16_t)q);
		rq->armed = 1;
		/* What came between the burst and the arm. */
		n = rte_eth_rx_burst(p->port_id, (uint16_t)q, rq->m,
				     DP_RX_BURST);
		if (n) {
			rte_eth_dev_rx_intr_disable(p->port_id, (uint16_t)q);
			rq->armed = 0;
			eventfd_write(rq->efd, 1);
		}
	}
	rq->pos = 0;
	rq->n = n;
	return n;
}

static int dp_recv(struct port *p, unsigned int q, void *buf, size_t cap,
		   struct port_meta *m)
{
	struct dp_rxq *rq;
	struct rte_mbuf *mb;
	uint8_t *dst = buf;
	size_t len = 0;

	if (q >= p->max_queues)
		return -EINVAL;
	if (!dp_ready(p, q))
		return -EAGAIN;
	rq = &p->rxq[q];
	if (rq->pos == rq->n && !dp_rx_fill(p, q, rq))
		return -EAGAIN;
	mb = rq->m[rq->pos++];
	/* Every segment, each checked against what is left of @buf. */
	for (struct rte_mbuf *s = mb; s; s = s->next) {
		if (s->data_len > cap - len) {
			rte_pktmbuf_free(mb);
			return -EMSGSIZE;
		}
		memcpy(dst + len, rte_pktmbuf_mtod(s, const void *),
		       s->data_len);
		len += s->data_len;
	}
	rte_pktmbuf_free(mb);
	memset(m, 0, sizeof(*m));
	return (int)len;
}

/* ------------------------------------------------------------ guest TX */

/* @len bytes at @src in a chain of fresh mbufs, or NULL (none left). */
static struct rte_mbuf *dp_chain(struct rte_mempool *mp, const uint8_t *src,
				 size_t len)
{
	size_t room = rte_pktmbuf_data_room_size(mp) - RTE_PKTMBUF_HEADROOM;
	struct rte_mbuf *head = NULL, *last = NULL;
	size_t total = len;

	do {
		struct rte_mbuf *mb = rte_pktmbuf_alloc(mp);
		size_t n = len < room ? len : room;

		if (!mb) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		memcpy(rte_pktmbuf_mtod(mb, void *), src, n);
		mb->data_len = (uint16_t)n;
		if (last) {
			last->next = mb;
			head->nb_segs++;
		} else {
			head = mb;
		}
		last = mb;
		src += n;
		len -= n;
	} while (len);
	head->pkt_len = (uint32_t)total;
	return head;
}

/* Store @v big-endian at byte @off of @mb's chain (inside it). */
static void dp_chain_put16(struct rte_mbuf *mb, size_t off, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	for (int i = 0; i < 2; i++, off++) {
		struct rte_mbuf *s = mb;
		size_t o = off;

		while (s && o >= s->data_len) {
			o -= s->data_len;
			s = s->next;
		}
		if (s)
			*rte_pktmbuf_mtod_offset(s, uint8_t *, o) = b[i];
	}
}

/*
 * The partial checksum of @pkt (port_meta: the field at csum_start +
 * csum_offset holds the pseudo-header sum, as virtio-net's NEEDS_CSUM):
 * left to the device when it takes one here (a TCP or UDP header right
 * after the IP header), else finished into @mb, @pkt's copy. 0/-EINVAL.
 */
static int dp_tx_csum(struct port *p, struct rte_mbuf *mb, const uint8_t *pkt,
		      size_t len, size_t start, size_t off)
{
	struct pkt_l4 l;
	uint16_t c;

	/* A parsed header lies inside the packet: no bounds to check. */
	if (p->tx_csum && !pkt_parse_l4(pkt, len, &l) && l.l4 == start &&
	    l.csum_off == off && l.l3 <= 127 && l.l4 - l.l3 <= 511) {
		mb->l2_len = l.l3;
		mb->l3_len = (uint64_t)(l.l4 - l.l3);
		mb->ol_flags |=
			(l.proto == PKT_PROTO_TCP ? RTE_MBUF_F_TX_TCP_CKSUM
						  : RTE_MBUF_F_TX_UDP_CKSUM) |
			(l.ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4);
		return 0;
	}
	if (pkt_csum_finished(pkt, len, start, off, &c))
		return -EINVAL;
	dp_chain_put16(mb, start + off, c);
	return 0;
}

/* Hand what is queued to the device; 1 if all of it went. */
static int dp_tx_push(struct port *p, unsigned int q, struct dp_txq *tq)
{
	uint16_t sent;

	if (!tq->n)
		return 1;
	sent = rte_eth_tx_burst(p->port_id, (uint16_t)q, tq->m,
				(uint16_t)tq->n);
	if (sent && sent < tq->n) {
		memmove(tq->m, tq->m + sent, (tq->n - sent) * sizeof(tq->m[0]));
		memmove(tq->len, tq->len + sent,
			(tq->n - sent) * sizeof(tq->len[0]));
	}
	tq->n -= sent;
	return !tq->n;
}

/* Room for @need more mbufs, making it by pushing. */
static int dp_tx_room(struct port *p, unsigned int q, struct dp_txq *tq,
		      unsigned int need)
{
	if (tq->n + need <= DP_TX_PEND)
		return 1;
	dp_tx_push(p, q, tq);
	return tq->n + need <= DP_TX_PEND;
}

static void dp_tx_queue(struct port *p, unsigned int q, struct dp_txq *tq,
			struct rte_mbuf *mb, uint32_t pkt_len)
{
	tq->m[tq->n] = mb;
	tq->len[tq->n++] = pkt_len;
	if (tq->n >= DP_TX_BURST)
		dp_tx_push(p, q, tq);
}

static unsigned int dp_segs(struct port *p, size_t len)
{
	size_t room = rte_pktmbuf_data_room_size(p->mp) - RTE_PKTMBUF_HEADROOM;

	return (unsigned int)((len + room - 1) / room);
}

/*
 * TCP segmentation of a GSO packet for a device without TSO, as Linux's
 * tcp_gso_segment: each segment gets the headers, its share of the
 * payload, its IP length (and IPv4 id, header checksum), its sequence
 * number, FIN/PSH on the last only, CWR on the first only, and a full
 * TCP checksum (or a partial one the device finishes). All segments are
 * queued or none. 0/-errno.
 */
static int dp_tx_segment(struct port *p, unsigned int q, struct dp_txq *tq,
			 const uint8_t *pkt, size_t len, const struct pkt_l4 *l,
			 unsigned int mss)
{
	size_t hlen = (size_t)l->l4 + l->l4_hlen, payload = len - hlen;
	unsigned int nseg = (unsigned int)((payload + mss - 1) / mss);
	unsigned int per = dp_segs(p, hlen + mss), first;
	uint16_t id = l->ipv6 ? 0 : pkt_be16(pkt + l->l3 + 4);
	uint32_t seq = (uint32_t)pkt[l->l4 + 4] << 24 |
		       (uint32_t)pkt[l->l4 + 5] << 16 |
		       (uint32_t)pkt[l->l4 + 6] << 8 | pkt[l->l4 + 7];

	/* Whole or not at all, in what is queued. */
	if ((size_t)nseg * per > DP_TX_PEND)
		return -EMSGSIZE;
	if (!dp_tx_room(p, q, tq, nseg * per))
		return -EAGAIN;
	first = tq->n;
	for (unsigned int i = 0; i < nseg; i++) {
		size_t take = payload - (size_t)i * mss < mss
				      ? payload - (size_t)i * mss
				      : mss;
		size_t slen = hlen + take;
		uint8_t *s = tq->seg, *ip = s + l->l3, *th = s + l->l4;
		uint32_t sq = seq + i * mss;
		struct rte_mbuf *mb;

		memcpy(s, pkt, hlen);
		memcpy(s + hlen, pkt + hlen + (size_t)i * mss, take);
		if (l->ipv6) {
			pkt_put_be16(ip + 4, (uint16_t)(slen - l->l3 - 40));
		} else {
			size_t ihl = (size_t)(ip[0] & 0xf) * 4;

			pkt_put_be16(ip + 2, (uint16_t)(slen - l->l3));
			pkt_put_be16(ip + 4, (uint16_t)(id + i));
			pkt_put_be16(ip + 10, 0);
			pkt_put_be16(ip + 10,
				     (uint16_t)~pkt_csum_fold(
					     pkt_csum_add(0, ip, ihl)));
		}
		th[4] = (uint8_t)(sq >> 24);
		th[5] = (uint8_t)(sq >> 16);
		th[6] = (uint8_t)(sq >> 8);
		th[7] = (uint8_t)sq;
		if (i + 1 < nseg)
			th[13] &= (uint8_t)~0x09; /* FIN, PSH */
		if (i)
			th[13] &= (uint8_t)~0x80; /* CWR */
		/* This segment's pseudo-header sum: a partial checksum. */
		pkt_csum_seed(s, slen, l);
		mb = dp_chain(p->mp, s, slen);
		if (!mb)
			goto err_unqueue;
		dp_tx_csum(p, mb, s, slen, l->l4, l->csum_off);
		/* Not dp_tx_queue: a push now could send half of it. */
		tq->m[tq->n] = mb;
		tq->len[tq->n++] = i + 1 == nseg ? (uint32_t)len : 0;
	}
	if (tq->n >= DP_TX_BURST)
		dp_tx_push(p, q, tq);
	return 0;

err_unqueue:
	while (tq->n > first)
		rte_pktmbuf_free(tq->m[--tq->n]);
	return -EAGAIN;
}

/* A GSO packet: to the device whole if it does TSO, else cut here. */
static int dp_tx_gso(struct port *p, unsigned int q, struct dp_txq *tq,
		     const uint8_t *pkt, size_t len, const struct port_meta *m)
{
	struct rte_mbuf *mb;
	struct pkt_l4 l;

	if (!m->gso_size || pkt_parse_l4(pkt, len, &l) ||
	    l.proto != PKT_PROTO_TCP ||
	    l.ipv6 != (m->gso_type == PORT_GSO_TCPV6))
		return -EINVAL;
	if ((size_t)l.l4 + l.l4_hlen >= len)
		return -EINVAL; /* headers only: nothing to segment */
	if (!p->tx_tso || l.l3 > 127 || l.l4 - l.l3 > 511)
		return dp_tx_segment(p, q, tq, pkt, len, &l, m->gso_size);
	if (!dp_tx_room(p, q, tq, dp_segs(p, len)))
		return -EAGAIN;
	mb = dp_chain(p->mp, pkt, len);
	if (!mb)
		return -EAGAIN;
	/* The TCP checksum field holds the pseudo-header sum, as the
	 * virtio-net header the device writes says (NEEDS_CSUM). */
	mb->l2_len = l.l3;
	mb->l3_len = (uint64_t)(l.l4 - l.l3);
	mb->l4_len = l.l4_hlen;
	mb->tso_segsz = m->gso_size;
	mb->ol_flags |= RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM |
			(l.ipv6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4);
	dp_tx_queue(p, q, tq, mb, (uint32_t)len);
	return 0;
}

static int dp_send(struct port *p, unsigned int q, const void *buf, size_t len,
		   const struct port_meta *m)
{
	struct dp_txq *tq;
	struct rte_mbuf *mb;
	int rc;

	if (q >= p->max_queues)
		return -EINVAL;
	/* No switch yet: dropped, as by a TAP nobody bridged. */
	if (!dp_ready(p, q))
		return -EAGAIN;
	if (!len || len > PORT_MAX_PKT)
		return -EMSGSIZE;
	tq = &p->txq[q];
	if (m->gso_type == PORT_GSO_TCPV4 || m->gso_type == PORT_GSO_TCPV6)
		return dp_tx_gso(p, q, tq, buf, len, m);
	if (!dp_tx_room(p, q, tq, dp_segs(p, len)))
		return -EAGAIN;
	mb = dp_chain(p->mp, buf, len);
	if (!mb)
		return -EAGAIN;
	if (m->flags & PORT_F_NEEDS_CSUM) {
		rc = dp_tx_csum(p, mb, buf, len, m->csum_start, m->csum_offset);
		if (rc) {
			rte_pktmbuf_free(mb);
			return rc;
		}
	}
	dp_tx_queue(p, q, tq, mb, (uint32_t)len);
	return 0;
}

/*
 * The end of a TX sweep: what is queued goes to the device, which the
 * switch drains as it polls; what still finds no room after a few tries
 * is dropped (as a NIC's driver would), so that nothing waits for the
 * guest's next packet.
 */
static int dp_flush(struct port *p, unsigned int q, uint64_t *bytes)
{
	struct dp_txq *tq;
	int lost;

	*bytes = 0;
	if (q >= p->max_queues || !dp_ready(p, q))
		return 0;
	tq = &p->txq[q];
	for (int i = 0; i < DP_TX_RETRIES && !dp_tx_push(p, q, tq); i++)
		rte_pause();
	while (tq->n) {
		uint32_t l = tq->len[--tq->n];

		rte_pktmbuf_free(tq->m[tq->n]);
		if (l) {
			tq->lost++;
			tq->lost_bytes += l;
		}
	}
	lost = (int)tq->lost;
	*bytes = tq->lost_bytes;
	tq->lost = tq->lost_bytes = 0;
	return lost;
}

/*
 * Syscalls a sandboxed worker makes for this port after its filter (seen
 * with sandbox=log, and read in virtio-user's vhost_user.c): the
 * attacher's probes of vifs that come after the filter (a listening Unix
 * socket: bind, listen, accept, fcntl for its flags; gettid, which DPDK's
 * recursive spinlocks ask once per thread), the vhost-user messages
 * (recv: recvfrom), and the same on DPDK's interrupt thread when a switch
 * goes or reconnects, which then makes its epoll set anew (epoll_create).
 */
static const char *const dp_syscalls[] = {
	"bind",	    "listen", "accept",	      "fcntl",
	"recvfrom", "gettid", "epoll_create", NULL,
};

const struct port_ops port_dpdk_ops = {
	.name = "dpdk",
	.presandbox = dp_presandbox,
	.syscalls = dp_syscalls,
	.create = dp_create,
	.destroy = dp_destroy,
	.ifname = dp_ifname,
	.set_queues = dp_set_queues,
	.set_offloads = dp_set_offloads,
	.set_carrier = dp_set_carrier,
	.set_mtu = dp_set_mtu,
	.queue_fd = dp_queue_fd,
	.recv = dp_recv,
	.send = dp_send,
	.flush = dp_flush,
};
