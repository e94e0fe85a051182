// SPDX-License-Identifier: MIT
/*
 * net-xensim - the program behind bench/net-xensim.sh: guest TX and guest
 * RX through netbackd over the emulated Xen, each printed next to the same
 * traffic through a raw TAP with no backend (the host-path limit) and next
 * to memcpy bandwidth, all measured in the same run.
 *
 * The set-up is the tests' (lib/netscen.h): xensim with one guest,
 * netbackd --single in a network namespace of its own (the host side),
 * vif 1/0 offered and used with 1 queue, vif 1/1 used with 2. This program
 * then lives in that namespace. The guest is a forked child, domain 1,
 * running the userspace netfront (front/netfront.h) on both vifs, one
 * thread per queue, driven as a real guest drives it: requests put with
 * NETFRONT_TX_MORE, one push per 32 ring slots, a notification only when
 * the backend's event index asks for one; RX buffers refilled after each
 * poll of up to 64 packets (a NAPI budget). On TX the guest copies only
 * the first page of each packet into its TX pages (NETFRONT_TX_HEAD_ONLY;
 * --full-copy: all of it): Linux netfront grants the skb's own pages and
 * copies nothing, and a 64 KiB copy per packet would make the guest, not
 * the backend, the limit.
 *
 *   guest TX:  guest threads -> netfront -> TX ring -> netbackd (grant
 *              copy, writev to the vif TAP) -> kernel -> sink
 *   raw TAP:   writer threads (writev to a TAP queue, as netbackd does)
 *              -> kernel -> the same sink
 *   guest RX:  source -> kernel -> vif TAP -> netbackd (readv, grant copy
 *              into posted buffers) -> RX ring -> netfront -> guest threads
 *   raw TAP:   the same source -> kernel -> TAP -> reader threads (readv,
 *              as netbackd does)
 *
 * The sink is an AF_PACKET socket on the interface with a TPACKET_V3 ring
 * and a filter that keeps the first 128 bytes of each frame: it reads every
 * frame's headers (and counts only ours), the way a bridge or router looks
 * at a frame, without a second full copy. The source is an AF_PACKET
 * socket with a virtio-net header (for GSO) and qdisc bypass, sending with
 * sendmmsg; it keeps at most a window of packets in flight ahead of what
 * the receiver has counted (shared memory, a futex to sleep on), so it
 * neither floods the TAP queue nor burns the CPU it shares with the guest.
 * Frames are Ethernet/IPv4/UDP (64 and 1514 bytes), or TCP with GSO
 * (65535 bytes, netif's largest, MSS 1448), addressed to a MAC that is not
 * the host interface's, so the host's IP stack drops them at once.
 *
 * With 2 or more CPUs the backend side (netbackd's threads, or the raw
 * writer/reader threads) is pinned to one CPU and everything else (the
 * guest, the sink or the source) to another, so the backend's figures are
 * those of one core and the other side's CPU use says whether it kept up.
 *
 * CPU time is read from /proc/<pid>/task/<tid>/schedstat: nanoseconds run
 * and nanoseconds waited on a run queue, summed over every thread of
 * netbackd, of the guest, or of ours that plays a part. The wait says how
 * much of the machine other load took. Not a test: figures only.
 *
 * --dpdk (netbackd built with its DPDK port, dpdk-testpmd installed): a
 * run of its own, netbackd with port=dpdk and testpmd in rxonly mode as
 * the vhost-user switch of vif 1/0 (lib/testpmd.h), for 64-byte guest TX
 * on 1 queue: Mpps that reached the device (netbackd's tx_packets, which
 * leaves out what the device had no room for; testpmd's own count is
 * printed at the end) and netbackd's CPU per packet, next to the TAP
 * path's figure of the main run (--tap-ref MPPS:NS, from the script).
 * testpmd's forwarding lcore polls without pause on the guest's cpu.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "front/netfront.h"
#include "lib/check.h"
#include "lib/netscen.h"
#include "lib/testpmd.h"

#define MAGIC 0x70766e62u /* "pvnb", first payload word of our frames */
#define GSO_LEN 65535u	  /* XEN_NETIF_MAX_TX_SIZE */
#define GSO_MSS 1448u
#define SNAP 128u /* bytes of each frame the sink looks at */
#define FLOWS 64u /* source flows, so 2 TAP queues both get some */
#define SRC_BATCH 64u
#define RX_BUDGET 64u /* netfront_poll budget, as a NAPI poll */
#define MAXQ 2u
#define BUF_LEN (65536u + 4096u)

/* Guest workers: vif 0 queue 0, vif 1 queues 0 and 1. Their counters
 * are slots 0..2; the raw TAP readers use slots 3 and 4. */
#define GUEST_WORKERS 3u
#define SLOT_REF 3u
#define NSLOTS 5u

enum { M_IDLE, M_TX, M_RX, M_QUIT };
enum { DIR_TX, DIR_RX };

struct counter {
	uint64_t pkts, bytes;
} __attribute__((aligned(64)));

/*
 * Shared between this process and the guest (an anonymous MAP_SHARED
 * mapping made before the fork). The command fields are written before
 * gen is bumped (release) and read after it (acquire).
 */
struct shm {
	uint32_t gen;
	uint32_t mode, vif, len, gso, batch, full_copy;
	uint32_t ack[GUEST_WORKERS]; /* the gen each worker took up */
	uint32_t ready;		     /* 1: connected; 2: failed (err) */
	uint32_t queues[2];
	/* Flow control: the source sleeps on wake_seq while src_wait. */
	uint32_t src_wait, wake_seq;
	uint64_t guest_bad; /* received frames that were not ours */
	uint64_t guest_errors;
	uint64_t violations;
	char err[256];
	struct counter cnt[NSLOTS];
};

static struct shm *shm;

/* ------------------------------------------------------------- helpers */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Shared (not private) futexes: the waiters live in two processes. */
static int futex_wait(uint32_t *addr, uint32_t val, int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	if (syscall(SYS_futex, addr, FUTEX_WAIT, val, &ts, NULL, 0))
		return -errno;
	return 0;
}

static void futex_wake(uint32_t *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

static int pin_tid(pid_t tid, int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(tid, sizeof(set), &set) ? -errno : 0;
}

/* Every thread of @pid onto @cpu. */
static int pin_process(pid_t pid, int cpu)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (cpu < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		int r;

		if (e->d_name[0] == '.')
			continue;
		/* A thread may end while we look: that is no failure. */
		r = pin_tid((pid_t)atoi(e->d_name), cpu);
		if (r && r != -ESRCH)
			rc = r;
	}
	closedir(d);
	return rc;
}

/* Time run and time waited runnable for a CPU (ns): schedstat. */
struct sched {
	uint64_t run, wait;
};

static void sched_add_task(pid_t pid, const char *tid, struct sched *acc)
{
	unsigned long long run, wait;
	char path[320];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)pid,
		 tid);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fscanf(f, "%llu %llu", &run, &wait) == 2) {
		acc->run += run;
		acc->wait += wait;
	}
	fclose(f);
}

/* Every thread of @pid, added to @acc. */
static void sched_proc(pid_t pid, struct sched *acc)
{
	char path[64];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			sched_add_task(pid, e->d_name, acc);
	closedir(d);
}

/* One thread of ours (its tid, 0 while it has not started yet). */
static void sched_tid(pid_t tid, struct sched *acc)
{
	char t[16];

	if (!tid)
		return;
	snprintf(t, sizeof(t), "%d", (int)tid);
	sched_add_task(getpid(), t, acc);
}

static void set_tid(pid_t *tid)
{
	__atomic_store_n(tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
}

static uint64_t ld64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void add64(uint64_t *p, uint64_t v)
{
	__atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}

static uint64_t slots_pkts(unsigned int first, unsigned int n)
{
	uint64_t s = 0;

	for (unsigned int i = first; i < first + n; i++)
		s += __atomic_load_n(&shm->cnt[i].pkts, __ATOMIC_SEQ_CST);
	return s;
}

static uint64_t slots_bytes(unsigned int first, unsigned int n)
{
	uint64_t s = 0;

	for (unsigned int i = first; i < first + n; i++)
		s += ld64(&shm->cnt[i].bytes);
	return s;
}

/*
 * A receiver counted packets: wake the source if it sleeps on its window.
 * The counter add before the src_wait load, and the source's src_wait
 * store before its counter load, are both seq_cst: one of the two sees
 * the other.
 */
static void fc_note(void)
{
	if (__atomic_load_n(&shm->src_wait, __ATOMIC_SEQ_CST) &&
	    __atomic_exchange_n(&shm->src_wait, 0, __ATOMIC_SEQ_CST)) {
		__atomic_add_fetch(&shm->wake_seq, 1, __ATOMIC_SEQ_CST);
		futex_wake(&shm->wake_seq);
	}
}

/* --------------------------------------------------------------- frames */

static const uint8_t mac_guest[6] = { 0x00, 0x16, 0x3e, 0x00, 0x00, 0x01 };
/* Not the host interface's address: the host's IP stack drops the frame
 * as PACKET_OTHERHOST right away, so its cost is the same on both paths
 * and small. */
static const uint8_t mac_peer[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * An Ethernet/IPv4 frame of @len bytes: UDP to port 9 (checksum 0: none),
 * or with @tcp a TCP segment whose checksum field holds the pseudo-header
 * sum, as a partial checksum (CHECKSUM_PARTIAL) must. The payload starts
 * with MAGIC.
 */
static void build_frame(uint8_t *f, unsigned int len, bool tcp, uint16_t sport,
			const uint8_t *dst, const uint8_t *src)
{
	uint8_t *ip = f + 14, *l4 = f + 34;
	unsigned int l4len = len - 34;
	uint32_t ps;

	memset(f, 0, len);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, ETH_P_IP);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(len - 14));
	ip[8] = 64;
	ip[9] = tcp ? 6 : 17;
	put32(ip + 12, 0x0a4d0001); /* 10.77.0.1 */
	put32(ip + 16, 0x0a4d0002); /* 10.77.0.2 */
	put16(ip + 10, (uint16_t)~fold(sum16(ip, 20, 0)));
	put16(l4, sport);
	put16(l4 + 2, 9);
	if (tcp) {
		put32(l4 + 4, 1);
		l4[12] = 5 << 4;
		l4[13] = 0x18; /* PSH, ACK */
		put16(l4 + 14, 65535);
		ps = sum16(ip + 12, 8, 6 + l4len);
		put16(l4 + 16, fold(ps));
		put32(f + 54, MAGIC);
	} else {
		put16(l4 + 4, (uint16_t)l4len);
		put32(f + 42, MAGIC);
	}
}

static bool frame_is_ours(const uint8_t *f, size_t caplen)
{
	unsigned int off;

	if (caplen < 46 || f[12] != 0x08 || f[13] != 0x00)
		return false;
	off = f[23] == 17 ? 42 : f[23] == 6 ? 54 : 0;
	if (!off || caplen < off + 4)
		return false;
	return f[36] == 0 && f[37] == 9 && get32(f + off) == MAGIC;
}

/* The virtio-net header that goes with a frame of ours. */
static void frame_vnet(struct virtio_net_hdr *h, bool gso)
{
	memset(h, 0, sizeof(*h));
	if (!gso)
		return;
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h->gso_size = GSO_MSS;
	h->hdr_len = 54;
	h->csum_start = 34;
	h->csum_offset = 16;
}

/* ---------------------------------------------------------------- guest */

struct gworker {
	struct netfront *nf;
	unsigned int vif, q, idx;
	pthread_t tid;
};

struct rxcount {
	uint64_t bytes, bad;
};

static void guest_ack(const struct gworker *w, uint32_t g)
{
	__atomic_store_n(&shm->ack[w->idx], g, __ATOMIC_RELEASE);
}

static bool gen_is(uint32_t g)
{
	return __atomic_load_n(&shm->gen, __ATOMIC_ACQUIRE) == g;
}

/* Slots one packet of @len bytes takes on the TX ring. */
static unsigned int tx_need(unsigned int len, bool gso)
{
	return (len + 4095) / 4096 + (gso ? 1 : 0);
}

/*
 * Guest TX until the command changes: packets put with NETFRONT_TX_MORE
 * until a batch of @batch slots is on the ring (32 slots: 32 small packets,
 * or a 64 KiB packet and the next, as a stack handing its queue over with
 * xmit_more would), then one kick (push, notify only if req_event asks);
 * when the ring is full, collect responses and sleep on the event channel
 * (rsp_event armed at the next response: the backend answers a sweep with
 * one push, so that is one wakeup per sweep). Then wait for every packet
 * to be answered.
 */
static void guest_tx(struct gworker *w, uint32_t g)
{
	static __thread uint8_t frame[GSO_LEN];
	struct ring_front *ring = netfront_ring(w->nf, w->q, NETFRONT_TX);
	struct counter *c = &shm->cnt[w->idx];
	unsigned int len = shm->len, batch = shm->batch;
	bool gso = shm->gso;
	unsigned int need = tx_need(len, gso);
	struct netfront_txmeta m;
	uint64_t deadline;

	build_frame(frame, len, gso, (uint16_t)(1000 + w->idx), mac_peer,
		    mac_guest);
	memset(&m, 0, sizeof(m));
	m.opts = NETFRONT_TX_MORE |
		 (shm->full_copy ? 0 : NETFRONT_TX_HEAD_ONLY);
	if (gso) {
		m.flags = NETTXF_csum_blank | NETTXF_data_validated;
		m.gso_type = XEN_NETIF_GSO_TYPE_TCPV4;
		m.gso_size = GSO_MSS;
	}
	while (gen_is(g)) {
		unsigned int n = 0;
		int rc = 0;

		while (n * need < batch) {
			rc = netfront_send(w->nf, w->q, frame, len, &m);
			if (rc)
				break;
			n++;
		}
		if (n) {
			netfront_kick(w->nf, w->q);
			add64(&c->pkts, n);
			add64(&c->bytes, (uint64_t)n * len);
		}
		if (rc == -EAGAIN) {
			/* Stray RX (the host's own frames) is taken here
			 * too, or the wait below would never sleep. */
			netfront_poll(w->nf, w->q, NULL, NULL, 0);
			if (ring_front_free(ring) < need)
				netfront_wait(w->nf, w->q, 20);
		} else if (rc) {
			add64(&shm->guest_errors, 1);
			break;
		}
	}
	deadline = now_ns() + 5000000000ull;
	while (netfront_tx_inflight(w->nf, w->q) && now_ns() < deadline) {
		netfront_poll(w->nf, w->q, NULL, NULL, 0);
		if (netfront_tx_inflight(w->nf, w->q))
			netfront_wait(w->nf, w->q, 20);
	}
}

static void rx_count(void *arg, unsigned int q, const void *data, size_t len,
		     const struct netfront_rxmeta *meta)
{
	struct rxcount *r = arg;

	r->bytes += len;
	if (!frame_is_ours(data, len))
		r->bad++;
}

/* Guest RX until the command changes, then until 50 ms of silence. */
static void guest_rx(struct gworker *w, uint32_t g)
{
	struct counter *c = &shm->cnt[w->idx];
	struct rxcount r = { 0, 0 };
	uint64_t bytes_seen = 0, quiet_until = 0;

	for (;;) {
		int n = netfront_poll(w->nf, w->q, rx_count, &r, RX_BUDGET);

		if (n > 0) {
			add64(&c->bytes, r.bytes - bytes_seen);
			bytes_seen = r.bytes;
			add64(&c->pkts, (uint64_t)n);
			fc_note();
			quiet_until = 0;
			continue;
		}
		if (n < 0) {
			add64(&shm->guest_errors, 1);
			break;
		}
		if (!gen_is(g)) {
			if (!quiet_until)
				quiet_until = now_ns() + 50000000ull;
			else if (now_ns() > quiet_until)
				break;
		}
		netfront_wait(w->nf, w->q, 10);
	}
	add64(&shm->guest_bad, r.bad);
}

static void *gworker_main(void *arg)
{
	struct gworker *w = arg;
	uint32_t g = 0;

	guest_ack(w, 0);
	for (;;) {
		uint32_t ng = __atomic_load_n(&shm->gen, __ATOMIC_ACQUIRE);

		if (ng == g) {
			/* Idle: keep the rings drained (the host's own
			 * frames), and the RX ring filled. */
			netfront_poll(w->nf, w->q, NULL, NULL, 0);
			futex_wait(&shm->gen, g, 50);
			continue;
		}
		g = ng;
		if (shm->mode == M_QUIT) {
			guest_ack(w, g);
			return NULL;
		}
		/* Acknowledged on the way in: the source starts only then,
		 * so no frame of the run is taken by the idle poll above. */
		guest_ack(w, g);
		if (shm->vif == w->vif && shm->mode == M_TX)
			guest_tx(w, g);
		else if (shm->vif == w->vif && shm->mode == M_RX)
			guest_rx(w, g);
	}
}

struct guest_arg {
	int cpu;
};

static int guest_fail(const char *what, const char *why)
{
	snprintf(shm->err, sizeof(shm->err), "%s: %s", what, why);
	__atomic_store_n(&shm->ready, 2, __ATOMIC_RELEASE);
	futex_wake(&shm->ready);
	return 2;
}

/* The guest, domain 1: netfront on vif 0 (1 queue) and vif 1 (2 queues). */
static int guest_main(void *arg)
{
	const struct guest_arg *a = arg;
	struct gworker w[GUEST_WORKERS];
	struct netfront *nf[2] = { NULL, NULL };
	unsigned int i, v;
	char last[160];
	int rc;

	pin_tid(0, a->cpu);
	for (v = 0; v < 2; v++) {
		struct netfront_cfg c;

		netfront_cfg_init(&c);
		c.devid = v;
		c.queues = v ? 2 : 1;
		c.timeout_ms = 20000;
		rc = netfront_connect(&nf[v], &c);
		if (rc)
			return guest_fail("netfront_connect",
					  netfront_last_error());
		shm->queues[v] = netfront_info(nf[v])->num_queues;
	}
	if (shm->queues[0] != 1 || shm->queues[1] != 2)
		return guest_fail("queues", "vif 1/1 did not get 2 queues");
	for (i = 0; i < GUEST_WORKERS; i++) {
		w[i] = (struct gworker){ .nf = nf[i ? 1 : 0],
					 .vif = i ? 1 : 0,
					 .q = i ? i - 1 : 0,
					 .idx = i };
		rc = pthread_create(&w[i].tid, NULL, gworker_main, &w[i]);
		if (rc)
			return guest_fail("pthread_create", strerror(rc));
	}
	__atomic_store_n(&shm->ready, 1, __ATOMIC_RELEASE);
	futex_wake(&shm->ready);
	for (i = 0; i < GUEST_WORKERS; i++)
		pthread_join(w[i].tid, NULL);
	shm->violations = netfront_violations(nf[0], last, sizeof(last)) +
			  netfront_violations(nf[1], last, sizeof(last));
	if (shm->violations)
		snprintf(shm->err, sizeof(shm->err), "netif violations: %s",
			 last);
	netfront_close(nf[0]);
	netfront_close(nf[1]);
	return shm->violations ? 3 : 0;
}

/* Issue a command to the guest workers; returns its generation. */
static uint32_t command(int mode, unsigned int vif, unsigned int len, bool gso)
{
	uint32_t g;

	shm->mode = (uint32_t)mode;
	shm->vif = vif;
	shm->len = len;
	shm->gso = gso;
	g = __atomic_add_fetch(&shm->gen, 1, __ATOMIC_SEQ_CST);
	futex_wake(&shm->gen);
	return g;
}

static int wait_acks(uint32_t g, unsigned int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000ull;

	for (;;) {
		unsigned int i;

		for (i = 0; i < GUEST_WORKERS; i++)
			if (__atomic_load_n(&shm->ack[i], __ATOMIC_ACQUIRE) !=
			    g)
				break;
		if (i == GUEST_WORKERS)
			return 0;
		if (now_ns() > end)
			return -ETIMEDOUT;
		sleep_ms(1);
	}
}

/* ----------------------------------------------------------------- sink */

struct sink {
	int fd;
	uint8_t *map;
	unsigned int bsize, nblocks;
	int cpu;
	volatile int stop;
	pthread_t tid;
	pid_t ktid; /* for its schedstat */
	uint64_t pkts, bytes, other;
};

static void *sink_main(void *arg)
{
	struct sink *s = arg;
	unsigned int cur = 0;

	set_tid(&s->ktid);
	pin_tid(0, s->cpu);
	while (!s->stop) {
		struct tpacket_block_desc *bd =
			(void *)(s->map + (size_t)cur * s->bsize);
		struct tpacket3_hdr *h;
		uint64_t pk = 0, by = 0, ot = 0;

		if (!(__atomic_load_n(&bd->hdr.bh1.block_status,
				      __ATOMIC_ACQUIRE) &
		      TP_STATUS_USER)) {
			struct pollfd p = { .fd = s->fd, .events = POLLIN };

			poll(&p, 1, 10);
			continue;
		}
		h = (void *)((uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt);
		for (unsigned int i = 0; i < bd->hdr.bh1.num_pkts; i++) {
			if (frame_is_ours((uint8_t *)h + h->tp_mac,
					  h->tp_snaplen)) {
				pk++;
				by += h->tp_len;
			} else {
				ot++;
			}
			h = (void *)((uint8_t *)h + h->tp_next_offset);
		}
		add64(&s->pkts, pk);
		add64(&s->bytes, by);
		add64(&s->other, ot);
		__atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL,
				 __ATOMIC_RELEASE);
		cur = (cur + 1) % s->nblocks;
	}
	return NULL;
}

static void sink_start(struct sink *s, const char *ifname, int cpu)
{
	struct sock_filter code[] = { BPF_STMT(BPF_RET | BPF_K, SNAP) };
	struct sock_fprog prog = { .len = 1, .filter = code };
	struct tpacket_req3 req;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	int v = TPACKET_V3;

	memset(s, 0, sizeof(*s));
	s->cpu = cpu;
	s->bsize = 1u << 18;
	s->nblocks = 128;
	memset(&req, 0, sizeof(req));
	req.tp_block_size = s->bsize;
	req.tp_block_nr = s->nblocks;
	req.tp_frame_size = 2048;
	req.tp_frame_nr = s->bsize / 2048 * s->nblocks;
	req.tp_retire_blk_tov = 1; /* ms: counts are at most this late */
	s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	CHECK(s->fd >= 0, "packet socket: %s", strerror(errno));
	CHECK(!setsockopt(s->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) &&
		      !setsockopt(s->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
				  sizeof(prog)) &&
		      !setsockopt(s->fd, SOL_PACKET, PACKET_RX_RING, &req,
				  sizeof(req)),
	      "sink socket options: %s", strerror(errno));
	s->map = mmap(NULL, (size_t)s->bsize * s->nblocks,
		      PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, s->fd,
		      0);
	CHECK(s->map != MAP_FAILED, "sink ring mmap: %s", strerror(errno));
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	CHECK(sll.sll_ifindex &&
		      !bind(s->fd, (struct sockaddr *)&sll, sizeof(sll)),
	      "sink bind %s: %s", ifname, strerror(errno));
	CHECK(!pthread_create(&s->tid, NULL, sink_main, s), "sink thread");
}

/* Frames the kernel could not put in the ring since the last call. */
static uint64_t sink_drops(struct sink *s)
{
	struct tpacket_stats_v3 st;
	socklen_t l = sizeof(st);

	if (getsockopt(s->fd, SOL_PACKET, PACKET_STATISTICS, &st, &l))
		return 0;
	return st.tp_drops;
}

static void sink_stop(struct sink *s)
{
	s->stop = 1;
	pthread_join(s->tid, NULL);
	munmap(s->map, (size_t)s->bsize * s->nblocks);
	close(s->fd);
}

/* --------------------------------------------------------------- source */

struct source {
	int fd, cpu;
	struct sockaddr_ll to;
	unsigned int len, window;
	bool gso;
	unsigned int slot0, nslots; /* the receivers' counters */
	uint8_t *frames;	    /* FLOWS frames of len bytes */
	volatile int stop;
	pthread_t tid;
	pid_t ktid; /* for its schedstat */
	uint64_t sent, written_off, stalls, refused;
	uint64_t idle_since;
	uint64_t base; /* the counters when we started */
};

static uint64_t src_delivered(const struct source *s)
{
	return slots_pkts(s->slot0, s->nslots) - s->base + s->written_off;
}

/*
 * Sleep until the receivers counted more. Packets the TAP refused were
 * never counted as sent, and netbackd's RX queue holds more than a window,
 * so nothing in flight is lost on the way: a receiver that counts nothing
 * for long is one the machine's other load keeps off its CPU, and waiting
 * for it is right. Only after a whole second of silence is what is in
 * flight written off (and counted), so a real loss cannot hang the run.
 */
static void src_wait(struct source *s)
{
	uint32_t seq = __atomic_load_n(&shm->wake_seq, __ATOMIC_SEQ_CST);
	uint64_t before;

	__atomic_store_n(&shm->src_wait, 1, __ATOMIC_SEQ_CST);
	before = src_delivered(s);
	if (s->sent - before < s->window) {
		__atomic_store_n(&shm->src_wait, 0, __ATOMIC_SEQ_CST);
		s->idle_since = 0;
		return;
	}
	futex_wait(&shm->wake_seq, seq, 20);
	if (src_delivered(s) != before) {
		s->idle_since = 0;
	} else if (!s->idle_since) {
		s->idle_since = now_ns();
	} else if (now_ns() - s->idle_since > 1000000000ull) {
		s->written_off += s->sent - before;
		s->stalls++;
		s->idle_since = 0;
	}
}

static void *source_main(void *arg)
{
	struct source *s = arg;
	struct mmsghdr msg[SRC_BATCH];
	struct iovec iov[SRC_BATCH][2];
	struct virtio_net_hdr vh;
	unsigned int flow = 0;

	set_tid(&s->ktid);
	pin_tid(0, s->cpu);
	frame_vnet(&vh, s->gso);
	while (!s->stop) {
		uint64_t inflight = s->sent - src_delivered(s);
		unsigned int n, i;
		int r;

		if (inflight >= s->window) {
			src_wait(s);
			continue;
		}
		n = s->window - (unsigned int)inflight;
		if (n > SRC_BATCH)
			n = SRC_BATCH;
		for (i = 0; i < n; i++) {
			iov[i][0] = (struct iovec){ &vh, sizeof(vh) };
			iov[i][1] = (struct iovec){
				s->frames + (size_t)flow * s->len, s->len
			};
			flow = (flow + 1) % FLOWS;
			memset(&msg[i], 0, sizeof(msg[i]));
			msg[i].msg_hdr.msg_name = &s->to;
			msg[i].msg_hdr.msg_namelen = sizeof(s->to);
			msg[i].msg_hdr.msg_iov = iov[i];
			msg[i].msg_hdr.msg_iovlen = 2;
		}
		r = sendmmsg(s->fd, msg, n, 0);
		if (r > 0)
			s->sent += (uint64_t)r;
		/* A frame the TAP queue had no room for is refused
		 * (ENOBUFS) and was never in flight. */
		if (r < (int)n)
			s->refused++;
	}
	return NULL;
}

static void source_start(struct source *s, const char *ifname, unsigned int len,
			 bool gso, unsigned int window, unsigned int slot0,
			 unsigned int nslots, int cpu)
{
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->len = len;
	s->gso = gso;
	s->window = window;
	s->slot0 = slot0;
	s->nslots = nslots;
	s->cpu = cpu;
	s->base = slots_pkts(slot0, nslots);
	s->frames = malloc((size_t)FLOWS * len);
	CHECK(s->frames, "memory");
	for (unsigned int i = 0; i < FLOWS; i++)
		build_frame(s->frames + (size_t)i * len, len, gso,
			    (uint16_t)(2000 + i), mac_guest, mac_peer);
	/* Protocol 0: this socket sends only, nothing is delivered to it. */
	s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	CHECK(s->fd >= 0, "packet socket: %s", strerror(errno));
	CHECK(!setsockopt(s->fd, SOL_PACKET, PACKET_VNET_HDR, &one,
			  sizeof(one)) &&
		      !setsockopt(s->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
				  sizeof(one)),
	      "source socket options: %s", strerror(errno));
	s->to.sll_family = AF_PACKET;
	s->to.sll_protocol = htons(ETH_P_IP);
	s->to.sll_ifindex = (int)if_nametoindex(ifname);
	s->to.sll_halen = 6;
	memcpy(s->to.sll_addr, mac_guest, 6);
	CHECK(s->to.sll_ifindex, "no interface %s", ifname);
	CHECK(!pthread_create(&s->tid, NULL, source_main, s), "source thread");
}

static void source_stop(struct source *s)
{
	s->stop = 1;
	pthread_join(s->tid, NULL);
	close(s->fd);
	free(s->frames);
}

/* ------------------------------------------------------- raw TAP (ref) */

struct ref_tap {
	char name[IFNAMSIZ];
	unsigned int nq;
	int fd[MAXQ];
};

static int tap_queue_open(const char *ifname)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);

	CHECK(fd >= 0, "/dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	/* As netbackd's port_tap.c opens the vif. */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	CHECK(!ioctl(fd, TUNSETIFF, &ifr), "TAP %s: %s", ifname,
	      strerror(errno));
	return fd;
}

/*
 * A TAP like a vif of a frontend with checksum and TSO offloads (what
 * netbackd sets for netfront's defaults), @nq queues, up.
 */
static void ref_tap_create(struct ref_tap *t, const char *name, unsigned int nq)
{
	int hdr = (int)sizeof(struct virtio_net_hdr), s;
	struct ifreq ifr;

	snprintf(t->name, sizeof(t->name), "%s", name);
	t->nq = nq;
	for (unsigned int i = 0; i < nq; i++)
		t->fd[i] = tap_queue_open(name);
	CHECK(!ioctl(t->fd[0], TUNSETVNETHDRSZ, &hdr) &&
		      !ioctl(t->fd[0], TUNSETOFFLOAD,
			     (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 |
					     TUN_F_TSO6)),
	      "TAP %s setup: %s", name, strerror(errno));
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0, "socket");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	CHECK(!ioctl(s, SIOCGIFFLAGS, &ifr), "%s flags", name);
	ifr.ifr_flags |= IFF_UP;
	CHECK(!ioctl(s, SIOCSIFFLAGS, &ifr), "%s up: %s", name,
	      strerror(errno));
	close(s);
}

struct rworker {
	int fd, cpu;
	unsigned int len, slot;
	bool gso;
	volatile int *stop;
	pthread_t tid;
	pid_t ktid; /* for its schedstat */
	uint64_t pkts;
};

/* Guest TX's reference: write frames to a TAP queue, one writev each. */
static void *ref_writer(void *arg)
{
	struct rworker *w = arg;
	uint8_t *frame = malloc(w->len);
	struct virtio_net_hdr vh;
	struct iovec iov[2];

	CHECK(frame, "memory");
	set_tid(&w->ktid);
	pin_tid(0, w->cpu);
	build_frame(frame, w->len, w->gso, (uint16_t)(1000 + w->slot), mac_peer,
		    mac_guest);
	frame_vnet(&vh, w->gso);
	iov[0] = (struct iovec){ &vh, sizeof(vh) };
	iov[1] = (struct iovec){ frame, w->len };
	while (!*w->stop) {
		unsigned int n = 0;

		for (unsigned int i = 0; i < 64; i++)
			n += writev(w->fd, iov, 2) > 0;
		add64(&w->pkts, n);
	}
	free(frame);
	return NULL;
}

/* Guest RX's reference: read a TAP queue, one readv per frame, sleeping
 * in poll when it is empty (as netbackd's queue thread does in epoll). */
static void *ref_reader(void *arg)
{
	struct rworker *w = arg;
	struct counter *c = &shm->cnt[w->slot];
	uint8_t *buf = malloc(BUF_LEN);
	struct virtio_net_hdr vh;
	struct iovec iov[2] = { { &vh, sizeof(vh) }, { buf, BUF_LEN } };

	CHECK(buf, "memory");
	set_tid(&w->ktid);
	pin_tid(0, w->cpu);
	while (!*w->stop) {
		uint64_t pk = 0, by = 0;
		ssize_t r = 0;

		while (pk < 64 && (r = readv(w->fd, iov, 2)) > 0) {
			pk++;
			by += (uint64_t)r - sizeof(vh);
		}
		if (pk) {
			add64(&c->bytes, by);
			add64(&c->pkts, pk);
			fc_note();
		}
		if (r < 0) {
			struct pollfd p = { .fd = w->fd, .events = POLLIN };

			poll(&p, 1, 10);
		}
	}
	free(buf);
	return NULL;
}

/* ------------------------------------------------------------ the cases */

struct bcase {
	int dir;
	unsigned int len;
	bool gso;
	unsigned int nq;
	char name[24];
};

/* One measurement. */
struct sample {
	double pps, gbps;
	double be_ns;			       /* backend CPU per packet */
	double be_util, guest_util, host_util; /* cores */
	double be_wait, guest_wait, host_wait; /* waiting for one: cores */
	double loss;			       /* fraction of what was sent */
	double ev_per_k, notif_per_k, gc_per_pkt; /* netbackd's counters */
	uint64_t drops; /* sink ring or netbackd drops */
};

struct snap {
	uint64_t t, pkts, bytes, sent;
	struct sched be, guest, host;
};

struct env {
	struct net_scen s;
	pid_t guest;
	struct ref_tap ref[MAXQ]; /* 1 queue, 2 queues */
	int cpu_be, cpu_host;
	unsigned int warm_ms, run_ms, window_bytes;
	const char *perf_dir;
	int verbose;
};

static const char *vif_name(unsigned int nq)
{
	return nq == 1 ? "vif1.0" : "vif1.1";
}

static const char *vif_dev(unsigned int nq)
{
	return nq == 1 ? "vif/1/0" : "vif/1/1";
}

/* netbackd's counters of the vif the case uses, summed over queues. */
struct nbstats {
	long long pkts, events, notifies, gcalls, drops;
};

static void nb_stats(struct env *e, const struct bcase *c, struct nbstats *o)
{
	static char out[1 << 16];
	const char *d = vif_dev(c->nq);

	memset(o, 0, sizeof(*o));
	if (net_stats(&e->s, 1, out, sizeof(out)))
		return;
	o->pkts = simenv_stat_value(
		out, d, c->dir == DIR_TX ? "tx_packets" : "rx_packets");
	o->events = simenv_stat_value(out, d, "events");
	o->notifies = simenv_stat_value(out, d, "notifies");
	o->gcalls = simenv_stat_value(out, d, "grant_copy_calls");
	o->drops = simenv_stat_value(out, d,
				     c->dir == DIR_TX ? "port" : "queue_full");
}

/* Run perf on netbackd for the window, or sleep through it. */
static void window(struct env *e, const char *perf_file)
{
	char pid[16], secs[32];
	pid_t p;

	if (!perf_file) {
		sleep_ms(e->run_ms);
		return;
	}
	snprintf(pid, sizeof(pid), "%d", (int)e->s.daemon);
	snprintf(secs, sizeof(secs), "%.3f", e->run_ms / 1000.0);
	fflush(NULL);
	p = fork();
	CHECK(p >= 0, "fork");
	if (p == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("perf", "perf", "record", "-q", "-g", "-o", perf_file,
		       "-p", pid, "--", "sleep", secs, (char *)NULL);
		_exit(127);
	}
	if (simenv_wait(p) != 0)
		fprintf(stderr, "net-xensim: perf record failed\n");
}

static void finish(struct sample *o, const struct snap *a, const struct snap *b)
{
	double secs = (double)(b->t - a->t) / 1e9;
	double pk = (double)(b->pkts - a->pkts);
	double sent = (double)(b->sent - a->sent);

	o->pps = pk / secs;
	o->gbps = (double)(b->bytes - a->bytes) * 8 / secs / 1e9;
	o->be_ns = pk ? (double)(b->be.run - a->be.run) / pk : 0;
	o->be_util = (double)(b->be.run - a->be.run) / 1e9 / secs;
	o->guest_util = (double)(b->guest.run - a->guest.run) / 1e9 / secs;
	o->host_util = (double)(b->host.run - a->host.run) / 1e9 / secs;
	o->be_wait = (double)(b->be.wait - a->be.wait) / 1e9 / secs;
	o->guest_wait = (double)(b->guest.wait - a->guest.wait) / 1e9 / secs;
	o->host_wait = (double)(b->host.wait - a->host.wait) / 1e9 / secs;
	o->loss = sent > 0 && sent > pk ? (sent - pk) / sent : 0;
}

static unsigned int rx_window(const struct env *e, unsigned int len)
{
	unsigned int w = e->window_bytes / len;

	return w < 8 ? 8 : w > 256 ? 256 : w;
}

/*
 * Stop the guest's traffic, and put netbackd's events, notifications and
 * grant-copy calls per packet since @n0 into @o.
 */
static void guest_idle(struct env *e, const struct bcase *c,
		       const struct nbstats *n0, struct sample *o)
{
	struct nbstats n1;
	uint32_t g = command(M_IDLE, 0, 0, false);

	CHECK(!wait_acks(g, 10000), "the guest did not stop");
	nb_stats(e, c, &n1);
	if (n1.pkts > n0->pkts) {
		double p = (double)(n1.pkts - n0->pkts);

		o->ev_per_k = (double)(n1.events - n0->events) * 1000 / p;
		o->notif_per_k =
			(double)(n1.notifies - n0->notifies) * 1000 / p;
		o->gc_per_pkt = (double)(n1.gcalls - n0->gcalls) / p;
	}
}

static void run_tx(struct env *e, const struct bcase *c, bool ref,
		   struct sample *o, const char *perf_file)
{
	static volatile int stop;
	struct rworker w[MAXQ];
	struct nbstats n0;
	struct snap a, b;
	struct sink sk;
	uint32_t g = 0;
	unsigned int i;

	memset(o, 0, sizeof(*o));
	sink_start(&sk, ref ? e->ref[c->nq - 1].name : vif_name(c->nq),
		   e->cpu_host);
	if (ref) {
		stop = 0;
		for (i = 0; i < c->nq; i++) {
			w[i] = (struct rworker){ .fd = e->ref[c->nq - 1].fd[i],
						 .cpu = e->cpu_be,
						 .len = c->len,
						 .slot = i,
						 .gso = c->gso,
						 .stop = &stop };
			CHECK(!pthread_create(&w[i].tid, NULL, ref_writer,
					      &w[i]),
			      "writer thread");
		}
	} else {
		nb_stats(e, c, &n0);
		g = command(M_TX, c->nq - 1, c->len, c->gso);
		CHECK(!wait_acks(g, 10000), "the guest did not start");
	}
	sleep_ms(e->warm_ms);
	for (int k = 0; k < 2; k++) {
		struct snap *s = k ? &b : &a;

		if (k)
			window(e, perf_file);
		else
			sink_drops(&sk); /* reset */
		s->t = now_ns();
		s->pkts = ld64(&sk.pkts);
		s->bytes = ld64(&sk.bytes);
		memset(&s->be, 0, 3 * sizeof(s->be));
		sched_tid(sk.ktid, &s->host);
		s->sent = 0;
		if (ref) {
			for (i = 0; i < c->nq; i++) {
				s->sent += ld64(&w[i].pkts);
				sched_tid(w[i].ktid, &s->be);
			}
		} else {
			s->sent = slots_pkts(c->nq == 1 ? 0 : 1, c->nq);
			sched_proc(e->s.daemon, &s->be);
			sched_proc(e->guest, &s->guest);
		}
	}
	o->drops = sink_drops(&sk);
	if (ref) {
		stop = 1;
		for (i = 0; i < c->nq; i++)
			pthread_join(w[i].tid, NULL);
	} else {
		guest_idle(e, c, &n0, o);
	}
	sleep_ms(5); /* the last blocks retire */
	sink_stop(&sk);
	finish(o, &a, &b);
}

static void run_rx(struct env *e, const struct bcase *c, bool ref,
		   struct sample *o, const char *perf_file)
{
	static volatile int stop;
	unsigned int slot0 = ref ? SLOT_REF : c->nq == 1 ? 0 : 1, i;
	struct rworker w[MAXQ];
	struct nbstats n0;
	struct source src;
	struct snap a, b;
	uint32_t g;

	memset(o, 0, sizeof(*o));
	if (ref) {
		stop = 0;
		for (i = 0; i < c->nq; i++) {
			w[i] = (struct rworker){ .fd = e->ref[c->nq - 1].fd[i],
						 .cpu = e->cpu_be,
						 .len = c->len,
						 .slot = SLOT_REF + i,
						 .gso = c->gso,
						 .stop = &stop };
			CHECK(!pthread_create(&w[i].tid, NULL, ref_reader,
					      &w[i]),
			      "reader thread");
		}
	} else {
		nb_stats(e, c, &n0);
		g = command(M_RX, c->nq - 1, c->len, c->gso);
		CHECK(!wait_acks(g, 10000), "the guest did not start");
	}
	source_start(&src, ref ? e->ref[c->nq - 1].name : vif_name(c->nq),
		     c->len, c->gso, rx_window(e, c->len), slot0, c->nq,
		     e->cpu_host);
	sleep_ms(e->warm_ms);
	for (int k = 0; k < 2; k++) {
		struct snap *s = k ? &b : &a;

		if (k)
			window(e, perf_file);
		s->t = now_ns();
		s->pkts = slots_pkts(slot0, c->nq);
		s->bytes = slots_bytes(slot0, c->nq);
		s->sent = src.sent; /* racy read of a counter: fine */
		memset(&s->be, 0, 3 * sizeof(s->be));
		sched_tid(src.ktid, &s->host);
		if (ref) {
			for (i = 0; i < c->nq; i++)
				sched_tid(w[i].ktid, &s->be);
		} else {
			sched_proc(e->s.daemon, &s->be);
			sched_proc(e->guest, &s->guest);
		}
	}
	source_stop(&src);
	o->drops = src.refused + src.stalls;
	sleep_ms(20);
	if (ref) {
		stop = 1;
		for (i = 0; i < c->nq; i++)
			pthread_join(w[i].tid, NULL);
	} else {
		guest_idle(e, c, &n0, o);
	}
	finish(o, &a, &b);
}

static void run_case(struct env *e, const struct bcase *c, bool ref,
		     struct sample *o, const char *perf_file)
{
	if (c->dir == DIR_TX)
		run_tx(e, c, ref, o, perf_file);
	else
		run_rx(e, c, ref, o, perf_file);
	if (e->verbose)
		fprintf(stderr,
			"  %-12s %-8s %8.3f Mpps %7.2f Gbit/s %7.0f "
			"ns/pkt run/wait be %.2f/%.2f guest %.2f/%.2f host "
			"%.2f/%.2f loss %.4f drops %" PRIu64 " ev/k %.1f "
			"notif/k %.1f\n",
			c->name, ref ? "raw-tap" : "netbackd", o->pps / 1e6,
			o->gbps, o->be_ns, o->be_util, o->be_wait,
			o->guest_util, o->guest_wait, o->host_util,
			o->host_wait, o->loss, o->drops, o->ev_per_k,
			o->notif_per_k);
}

/* --------------------------------------------------------------- memcpy */

/* Gbit/s of memcpy in @chunk blocks over a @set-byte working set. */
static double memcpy_gbps(size_t set, size_t chunk, unsigned int ms)
{
	uint8_t *src = aligned_alloc(4096, set),
		*dst = aligned_alloc(4096, set);
	uint64_t t0, t, bytes = 0;

	CHECK(src && dst, "memory");
	memset(src, 1, set);
	memset(dst, 2, set);
	t0 = now_ns();
	do {
		for (size_t off = 0; off < set; off += chunk) {
			memcpy(dst + off, src + off, chunk);
			/* The copies are the point: keep them. */
			__asm__ volatile("" : : "r"(dst) : "memory");
		}
		bytes += set;
		t = now_ns();
	} while (t - t0 < (uint64_t)ms * 1000000ull);
	free(src);
	free(dst);
	return (double)bytes * 8 / ((double)(t - t0) / 1e9) / 1e9;
}

/* ---------------------------------------------------------------- main */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	double t[64];

	memcpy(t, v, sizeof(*v) * (size_t)n);
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

#define MAXRUNS 31
#define NCASES 12

/* The median of field @f over @n samples. */
#define MED(arr, n, f)                                                         \
	({                                                                     \
		double v_[MAXRUNS];                                            \
		for (int i_ = 0; i_ < (n); i_++)                               \
			v_[i_] = (arr)[i_].f;                                  \
		median(v_, (n));                                               \
	})

static const char *frame_name(const struct bcase *c)
{
	static char b[32];

	if (c->gso)
		return "64 KiB GSO";
	snprintf(b, sizeof(b), "%u B", c->len);
	return b;
}

/*
 * One table row: medians over the runs. "Mpps/core" is what the backend
 * side's CPU time per packet would give on a core of its own, the figure
 * the machine's other load disturbs least.
 */
static void print_row(const struct bcase *c, bool ref, struct sample *s, int n,
		      double ref_pps)
{
	double pps = MED(s, n, pps), ns = MED(s, n, be_ns), lo = 1e18, hi = 0;

	for (int i = 0; i < n; i++) {
		lo = s[i].pps < lo ? s[i].pps : lo;
		hi = s[i].pps > hi ? s[i].pps : hi;
	}
	printf("| %-8s | %-10s | %u | %-8s | %6.3f | %5.3f-%5.3f | %6.2f | ",
	       c->dir == DIR_TX ? "guest TX" : "guest RX", frame_name(c), c->nq,
	       ref ? "raw TAP" : "netbackd", pps / 1e6, lo / 1e6, hi / 1e6,
	       MED(s, n, gbps));
	if (ref)
		printf("%6s | ", "1");
	else
		printf("%6.2f | ", ref_pps > 0 ? pps / ref_pps : 0);
	printf("%7.0f | %6.3f | %4.0f %% | %4.0f %% | ", ns,
	       ns > 0 ? 1e3 / ns : 0, MED(s, n, be_util) * 100,
	       MED(s, n, be_wait) * 100);
	if (ref)
		printf("%6s | ", "-");
	else
		printf("%4.0f %% | ", MED(s, n, guest_util) * 100);
	printf("%4.0f %% | %6.3f |\n", MED(s, n, host_util) * 100,
	       MED(s, n, loss) * 100);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: net-xensim [-t SECS] [-r RUNS] [-w WARMUP_MS] "
		"[-c CASES] [-b SLOTS]\n"
		"                  [-W WINDOW_BYTES] [--no-pin] [--full-copy] "
		"[--perf DIR --perf-cases CASES] [-v]\n"
		"  -t  seconds measured per run (2)    -r  runs per case (5)\n"
		"  -w  warm-up before each (500 ms)    -b  guest TX ring slots "
		"per push (32)\n"
		"  -W  guest RX source window (512 KiB) -v  every run on "
		"stderr\n"
		"  --dpdk [--tap-ref MPPS:NS]  64 B guest TX through the DPDK "
		"port into testpmd\n"
		"CASES: comma-separated names (tx-64-1q, rx-gso-2q, ...), "
		"default all\n");
	exit(2);
}

static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);

		if (l == n && !strncmp(p, name, n))
			return true;
		p = c ? c + 1 : NULL;
	}
	return false;
}

static struct env E;

static void bench_atexit(void)
{
	if (E.guest > 0) {
		kill(E.guest, SIGKILL);
		simenv_wait(E.guest);
		E.guest = 0;
	}
}

static void setup(struct env *e)
{
	static const char *const v6[] = {
		"/proc/sys/net/ipv6/conf/all/disable_ipv6",
		"/proc/sys/net/ipv6/conf/default/disable_ipv6",
	};
	struct guest_arg ga = { .cpu = e->cpu_host };
	char ns[64];
	int fd;

	net_start(&e->s, 1, NULL);
	atexit(bench_atexit); /* runs before netscen's: guest first */
	/* Live in the host side's namespace from now on: the vifs, the
	 * reference TAPs and our sockets are all there. */
	snprintf(ns, sizeof(ns), "/proc/%d/ns/net", (int)e->s.daemon);
	fd = open(ns, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && !setns(fd, CLONE_NEWNET), "enter %s", ns);
	close(fd);
	/* No IPv6 chatter (router solicitations, DAD) on the interfaces. */
	for (unsigned int i = 0; i < 2; i++) {
		fd = open(v6[i], O_WRONLY);
		if (fd >= 0) {
			if (write(fd, "1", 1) != 1)
				fprintf(stderr, "net-xensim: %s\n", v6[i]);
			close(fd);
		}
	}
	net_add(&e->s, 1, 0, NULL);
	net_add(&e->s, 1, 1, NULL);
	net_hotplug(&e->s, 1, 0, NULL);
	net_hotplug(&e->s, 1, 1, NULL);
	e->guest = simenv_fork_as(&e->s.env, 1, guest_main, &ga);
	CHECK(e->guest > 0, "fork the guest");
	for (int i = 0;
	     i < 300 && !__atomic_load_n(&shm->ready, __ATOMIC_ACQUIRE); i++)
		futex_wait(&shm->ready, 0, 100);
	CHECK(shm->ready == 1, "guest: %s",
	      shm->ready ? shm->err : "not connected in 30 s");
	CHECK(!wait_acks(0, 5000), "guest workers did not start");
	CHECK(!pin_process(e->s.daemon, e->cpu_be), "pin netbackd");
	ref_tap_create(&e->ref[0], "pvbref1", 1);
	ref_tap_create(&e->ref[1], "pvbref2", 2);
	pin_tid(0, e->cpu_host);
}

/* ----------------------------------------------------------------- dpdk */

/*
 * The --dpdk run: netbackd with port=dpdk, testpmd rxonly on vif 1/0's
 * vhost-user socket; vif 1/1 (which the guest also connects, as always)
 * has no switch, and is not used. Guest TX of 64-byte frames on vif 1/0,
 * @runs runs; one table row, after the TAP path's (@tap_pps, @tap_ns from
 * the main run; 0: not known).
 */
static int run_dpdk(struct env *e, int runs, double tap_pps, double tap_ns)
{
	static const struct bcase c = { DIR_TX, 64, false, 1, "tx-64-1q" };
	struct sample res[MAXRUNS];
	struct guest_arg ga = { .cpu = e->cpu_host };
	char sock[PATH_MAX + 32], log[PATH_MAX + 32], p[160];
	long long tp_rx, nb_tx;
	struct testpmd tp;
	struct nbstats n;
	int i;

	testpmd_require();
	net_start(&e->s, 1, "port=dpdk", "max-queues=2", NULL);
	atexit(bench_atexit);
	net_add(&e->s, 1, 0, NULL);
	net_add(&e->s, 1, 1, NULL);
	snprintf(sock, sizeof(sock), "%s/vhost/vif1.0", e->s.env.dir);
	snprintf(log, sizeof(log), "%s/testpmd.log", e->s.env.dir);
	/* testpmd takes the cpu of the thread that starts it: the host's. */
	pin_tid(0, e->cpu_host);
	testpmd_start(&tp, sock, "rxonly", log);
	for (unsigned int v = 0; v < 2; v++) {
		snprintf(p, sizeof(p), "%s/hotplug-status", net_be(1, v));
		net_write(&e->s, p, "connected");
	}
	for (i = 0; i < 300 && !net_log_count(&e->s, "switch connected"); i++)
		sleep_ms(100);
	CHECK(i < 300, "testpmd did not connect to %s", sock);
	e->guest = simenv_fork_as(&e->s.env, 1, guest_main, &ga);
	CHECK(e->guest > 0, "fork the guest");
	for (i = 0; i < 300 && !__atomic_load_n(&shm->ready, __ATOMIC_ACQUIRE);
	     i++)
		futex_wait(&shm->ready, 0, 100);
	CHECK(shm->ready == 1, "guest: %s",
	      shm->ready ? shm->err : "not connected in 30 s");
	CHECK(!wait_acks(0, 5000), "guest workers did not start");
	CHECK(!pin_process(e->s.daemon, e->cpu_be), "pin netbackd");

	for (int r = 0; r < runs; r++) {
		struct sample *o = &res[r];
		struct nbstats n0;
		struct snap a, b;
		uint32_t g;

		memset(o, 0, sizeof(*o));
		nb_stats(e, &c, &n0);
		g = command(M_TX, 0, c.len, false);
		CHECK(!wait_acks(g, 10000), "the guest did not start");
		sleep_ms(e->warm_ms);
		for (int k = 0; k < 2; k++) {
			struct snap *s = k ? &b : &a;

			if (k)
				sleep_ms(e->run_ms);
			nb_stats(e, &c, &n);
			s->t = now_ns();
			s->pkts = s->bytes = (uint64_t)n.pkts;
			s->bytes *= c.len;
			s->sent = slots_pkts(0, 1);
			memset(&s->be, 0, 3 * sizeof(s->be));
			sched_proc(e->s.daemon, &s->be);
			sched_proc(e->guest, &s->guest);
			sched_proc(tp.pid, &s->host);
		}
		guest_idle(e, &c, &n0, o);
		finish(o, &a, &b);
		o->drops = (uint64_t)(n.drops - n0.drops);
		if (e->verbose)
			fprintf(stderr,
				"  dpdk tx-64-1q %8.3f Mpps %7.0f ns/pkt "
				"guest %.2f testpmd %.2f loss %.4f\n",
				o->pps / 1e6, o->be_ns, o->guest_util,
				o->host_util, o->loss);
	}
	nb_stats(e, &c, &n);
	nb_tx = n.pkts;
	command(M_QUIT, 0, 0, false);
	simenv_wait(e->guest);
	e->guest = 0;
	CHECK(testpmd_stop(&tp) == 0, "testpmd did not exit cleanly");
	tp_rx = testpmd_rx_packets(&tp);

	printf("net over xensim, the DPDK port: guest TX of 64 B frames on 1 "
	       "queue, %.1f s per run after %u ms of warm-up, %d runs "
	       "(medians)\n",
	       e->run_ms / 1000.0, e->warm_ms, runs);
	printf("netbackd port=dpdk (virtio-user, vhost-user server) -> "
	       "testpmd rxonly (net_vhost client, one lcore polling on cpu "
	       "%d, the guest's)\n\n",
	       e->cpu_host);
	printf("| path                  |   Mpps | vs TAP | cpu ns/pkt | "
	       "Mpps/core | busy   | guest  | testpmd | loss %% |\n");
	printf("|-----------------------|-------:|-------:|-----------:|"
	       "----------:|-------:|-------:|--------:|-------:|\n");
	if (tap_pps > 0)
		printf("| netbackd, TAP         | %6.3f | %6s | %10.0f | %9.3f | "
		       "%6s | %6s | %7s | %6s |\n",
		       tap_pps / 1e6, "1", tap_ns,
		       tap_ns > 0 ? 1e3 / tap_ns : 0, "-", "-", "-", "-");
	{
		double pps = MED(res, runs, pps), ns = MED(res, runs, be_ns);

		printf("| netbackd, DPDK port   | %6.3f | ", pps / 1e6);
		if (tap_pps > 0)
			printf("%6.2f | ", pps / tap_pps);
		else
			printf("%6s | ", "-");
		printf("%10.0f | %9.3f | %4.0f %% | %4.0f %% | %5.0f %% | "
		       "%6.3f |\n",
		       ns, ns > 0 ? 1e3 / ns : 0, MED(res, runs, be_util) * 100,
		       MED(res, runs, guest_util) * 100,
		       MED(res, runs, host_util) * 100,
		       MED(res, runs, loss) * 100);
	}
	printf("\nnetbackd handed %lld frames to the device in all (its "
	       "tx_packets), testpmd counted %lld; dropped at the port "
	       "(no room in the ring): %llu\n",
	       nb_tx, tp_rx, (unsigned long long)n.drops);
	fflush(stdout);
	return net_pass(&e->s);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dpdk", no_argument, NULL, 'D' },
		{ "tap-ref", required_argument, NULL, 'T' },
		{ "no-pin", no_argument, NULL, 'P' },
		{ "full-copy", no_argument, NULL, 'F' },
		{ "perf", required_argument, NULL, 'p' },
		{ "perf-cases", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	static struct sample res[NCASES][2][MAXRUNS];
	struct bcase cases[NCASES];
	const char *only = NULL, *perf_cases = NULL;
	double secs = 2, mc_hot[MAXRUNS], mc_cold[MAXRUNS];
	unsigned int ncase = 0, batch = 32;
	int runs = 5, opt, pin = 1, full_copy = 0, dpdk = 0;
	double tap_pps = 0, tap_ns = 0;
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	struct utsname u;

	E.warm_ms = 500;
	E.window_bytes = 512 * 1024;
	while ((opt = getopt_long(argc, argv, "t:r:w:c:b:W:v", lo, NULL)) !=
	       -1) {
		switch (opt) {
		case 't':
			secs = atof(optarg);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		case 'w':
			E.warm_ms = (unsigned int)atoi(optarg);
			break;
		case 'c':
			only = optarg;
			break;
		case 'b':
			batch = (unsigned int)atoi(optarg);
			break;
		case 'W':
			E.window_bytes = (unsigned int)atoi(optarg);
			break;
		case 'v':
			E.verbose = 1;
			break;
		case 'P':
			pin = 0;
			break;
		case 'F':
			full_copy = 1;
			break;
		case 'p':
			E.perf_dir = optarg;
			break;
		case 'C':
			perf_cases = optarg;
			break;
		case 'D':
			dpdk = 1;
			break;
		case 'T':
			if (sscanf(optarg, "%lf:%lf", &tap_pps, &tap_ns) != 2)
				usage();
			tap_pps *= 1e6;
			break;
		default:
			usage();
		}
	}
	if (runs < 1 || runs > MAXRUNS || secs <= 0 || batch < 1 || batch > 256)
		usage();
	E.run_ms = (unsigned int)(secs * 1000);
	E.cpu_be = E.cpu_host = -1;
	if (pin && ncpu >= 2) {
		E.cpu_be = ncpu - 1;
		E.cpu_host = 0;
	}
	for (int dir = DIR_TX; dir <= DIR_RX; dir++) {
		static const unsigned int lens[] = { 64, 1514, GSO_LEN };

		for (unsigned int l = 0; l < 3; l++) {
			for (unsigned int nq = 1; nq <= MAXQ; nq++) {
				struct bcase *c = &cases[ncase];

				c->dir = dir;
				c->len = lens[l];
				c->gso = lens[l] == GSO_LEN;
				c->nq = nq;
				snprintf(c->name, sizeof(c->name), "%s-%s-%uq",
					 dir == DIR_TX ? "tx" : "rx",
					 c->gso ? "gso"
					 : l	? "1514"
						: "64",
					 nq);
				if (!only || listed(only, c->name))
					ncase++;
			}
		}
	}
	if (!ncase)
		usage();

	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(shm != MAP_FAILED, "shared memory");
	memset(shm, 0, sizeof(*shm));
	shm->batch = batch;
	shm->full_copy = (uint32_t)full_copy;
	if (dpdk)
		return run_dpdk(&E, runs, tap_pps, tap_ns);
	setup(&E);

	uname(&u);
	printf("net over xensim: %d cpus, %s, %.1f s per run after %u ms of "
	       "warm-up, %d runs (medians)\n",
	       ncpu, u.release, secs, E.warm_ms, runs);
	if (E.cpu_be >= 0)
		printf("backend side (netbackd, or the raw TAP writer/reader) "
		       "pinned to cpu %d; guest, sink and source to cpu %d\n",
		       E.cpu_be, E.cpu_host);
	else
		printf("nothing pinned\n");
	printf("guest TX: a push per %u ring slots, %s; RX source window "
	       "%u KiB\n\n",
	       batch,
	       full_copy ? "every byte copied into the TX pages"
			 : "only each packet's first page copied",
	       E.window_bytes / 1024);
	fflush(stdout);

	for (int r = 0; r < runs; r++) {
		pin_tid(0, E.cpu_be);
		mc_hot[r] = memcpy_gbps(1 << 20, 65536, 300);
		mc_cold[r] = memcpy_gbps(64 << 20, 65536, 300);
		pin_tid(0, E.cpu_host);
		for (unsigned int i = 0; i < ncase; i++) {
			/* Alternate which goes first, so a drift in the
			 * machine's load does not favour one. */
			bool ref_first = !(r & 1);

			run_case(&E, &cases[i], ref_first,
				 &res[i][!ref_first][r], NULL);
			run_case(&E, &cases[i], !ref_first,
				 &res[i][ref_first][r], NULL);
		}
	}

	printf("| dir      | frame      | q | path     |   Mpps | min-max Mpps "
	       "| Gbit/s | vs raw | cpu ns/pkt | Mpps/core | busy   | waited "
	       "| guest  | host   | loss %% |\n");
	printf("|----------|------------|---|----------|-------:|-------------"
	       "|-------:|-------:|--------:|-------:|-------:|-------:|-------"
	       ":|"
	       "-------:|-------:|\n");
	for (unsigned int i = 0; i < ncase; i++) {
		double ref_pps = MED(res[i][0], runs, pps);

		print_row(&cases[i], true, res[i][0], runs, 0);
		print_row(&cases[i], false, res[i][1], runs, ref_pps);
	}
	{
		uint64_t d[2] = { 0, 0 };

		for (unsigned int i = 0; i < ncase; i++)
			for (int p = 0; p < 2; p++)
				for (int r = 0; r < runs; r++)
					d[cases[i].dir] += res[i][p][r].drops;
		/* Both should be 0: else the sink or the source, not the
		 * path under test, lost frames. */
		printf("\nframes the sink's ring had no room for (guest TX, "
		       "all "
		       "runs): %" PRIu64 "; source refusals and stalls (guest "
		       "RX, all runs): %" PRIu64 "\n",
		       d[DIR_TX], d[DIR_RX]);
	}
	printf("\nmemcpy on the backend cpu, 64 KiB blocks: %.1f Gbit/s "
	       "(1 MiB working set), %.1f Gbit/s (64 MiB)\n",
	       median(mc_hot, runs), median(mc_cold, runs));
	printf("\nnetbackd's own counters (medians; per 1000 packets: "
	       "wakeups on an event, notifications sent; grant-copy calls "
	       "per packet):\n\n");
	printf("| case        | events/kpkt | notifies/kpkt | gcopy calls/pkt "
	       "|\n|-------------|-------------|---------------|-------------"
	       "----|\n");
	for (unsigned int i = 0; i < ncase; i++)
		printf("| %-11s | %11.2f | %13.2f | %15.4f |\n", cases[i].name,
		       MED(res[i][1], runs, ev_per_k),
		       MED(res[i][1], runs, notif_per_k),
		       MED(res[i][1], runs, gc_per_pkt));

	if (E.perf_dir && perf_cases) {
		printf("\nperf record -g -p <netbackd> during one more run of "
		       "each of %s (figures under perf, not in the table):\n",
		       perf_cases);
		for (unsigned int i = 0; i < ncase; i++) {
			char file[PATH_MAX];
			struct sample s;

			if (!listed(perf_cases, cases[i].name))
				continue;
			snprintf(file, sizeof(file), "%s/%s.data", E.perf_dir,
				 cases[i].name);
			run_case(&E, &cases[i], false, &s, file);
			printf("  %s: %.3f Mpps, %.2f Gbit/s -> %s\n",
			       cases[i].name, s.pps / 1e6, s.gbps, file);
		}
	}

	command(M_QUIT, 0, 0, false);
	{
		int st = simenv_wait(E.guest);

		E.guest = 0;
		if (st)
			printf("\nguest exit status %d: %s\n", st, shm->err);
		if (shm->guest_bad || shm->guest_errors)
			printf("\nguest: %" PRIu64 " foreign frames, %" PRIu64
			       " errors\n",
			       shm->guest_bad, shm->guest_errors);
		fflush(stdout);
		if (st)
			return 1;
	}
	return net_pass(&E.s);
}
