// SPDX-License-Identifier: MIT
/*
 * xenbus.c - blkbackd's control plane: the vbd driver plugged into the
 * generic xenbus state machine (common/xbus.c). It advertises what the
 * frontend reads at InitWait, opens the backing store the toolstack or the
 * hotplug script named, reads the frontend's ring keys
 * (spec/blkif-xenbus.md B.1 step 5) and starts one queue (queue.c) per
 * ring, then writes what the frontend reads at Connected (step 6).
 * Everything a guest or a toolstack wrote is checked here; a bad value
 * fails that device only, with an error node naming the key.
 *
 * Runs on the control thread. The queues run on their own threads; one
 * that finds its ring broken reports it here by a message.
 */
#include "blkback/blkback.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xen/io/blkif.h>

#include "common/log.h"
#include "common/xbus.h"
#include "common/xen.h"

struct blkdev {
	struct blkdev *next; /* blk_devices list */
	uint64_t serial;     /* names it in cross-thread messages */
	struct xbus_dev *dev;
	struct blk_store store;
	int store_open;
	int cdrom;
	struct blkq *q[BLK_MAX_QUEUES];
	unsigned int nq;
	struct blkreq_limits lim;
	int persistent; /* negotiated for this connection */
	/* Counters of past connections, per queue index. */
	struct blkq_stats past[BLK_MAX_QUEUES];
	unsigned int npast;
};

static const struct blk_conf *blk_conf;
static struct loop *blk_ctl;
static struct blkdev *blk_devices;
static uint64_t blk_serial;

static unsigned int blk_max_queues(void)
{
	long n = blk_conf->max_queues;

	if (!n)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > BLK_MAX_QUEUES)
		n = BLK_MAX_QUEUES;
	return (unsigned int)n;
}

/* Where queue @i of @dev keeps its journal (queue.c, journal.c). */
static void blk_journal_path(struct xbus_dev *dev, unsigned int i, char *buf,
			     size_t len)
{
	snprintf(buf, len, "%s/journal/%s.%u.%u.q%u", blk_conf->run_dir,
		 xbus_dev_kind(dev), xbus_dev_fe_domid(dev),
		 xbus_dev_devid(dev), i);
}

static int blk_probe(struct xbus_dev *dev)
{
	struct blkdev *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->dev = dev;
	b->serial = ++blk_serial;
	b->store.fd = -1;
	b->next = blk_devices;
	blk_devices = b;
	xbus_dev_set_priv(dev, b);
	return 0;
}

/* ------------------------------------------------------------ the store */

/*
 * The path of the backing store, as the toolstack and the hotplug scripts
 * name it: physical-device-path (written by the block scripts), else
 * physical-device (major:minor in hex), else params, with a "format:"
 * prefix (aio:, raw:, file:, phy:) taken off as tapdisk and qdisk do.
 * -EAGAIN while a hotplug script is still expected to write it.
 */
static int blk_store_path(struct xbus_dev *dev, char *path, size_t len)
{
	char *v = NULL, *p;
	unsigned int maj, min;
	int rc;

	if (!xbus_dev_read_be(dev, "physical-device-path", &v) && v[0]) {
		snprintf(path, len, "%s", v);
		free(v);
		return 0;
	}
	free(v);
	v = NULL;
	if (!xbus_dev_read_be(dev, "physical-device", &v) &&
	    sscanf(v, "%x:%x", &maj, &min) == 2) {
		snprintf(path, len, "/dev/block/%u:%u", maj, min);
		free(v);
		return 0;
	}
	free(v);
	v = NULL;
	/* A script that has not run yet will name the store. */
	if (!xbus_dev_read_be(dev, "script", &v) && v[0]) {
		free(v);
		v = NULL;
		if (xbus_dev_read_be(dev, "hotplug-status", &v) || !v[0]) {
			free(v);
			return -EAGAIN;
		}
	}
	free(v);
	v = NULL;
	rc = xbus_dev_read_be(dev, "params", &v);
	if (rc) {
		snprintf(path, len, "%s", "");
		return rc;
	}
	p = v;
	if (p[0] != '/') {
		char *colon = strchr(p, ':');

		if (colon)
			p = colon + 1;
	}
	snprintf(path, len, "%s", p);
	free(v);
	return 0;
}

static int blk_open_store(struct xbus_dev *dev, struct blkdev *b)
{
	char path[PATH_MAX], err[PATH_MAX + 128];
	char *mode = NULL, *type = NULL;
	int readonly = 0, rc;

	if (b->store_open)
		return 0;
	rc = blk_store_path(dev, path, sizeof(path));
	if (rc == -EAGAIN)
		return rc;
	if (rc) {
		xbus_dev_fatal(dev, rc, "no backing store: params missing");
		return rc;
	}
	if (!xbus_dev_read_be(dev, "mode", &mode))
		readonly = mode[0] != 'w';
	free(mode);
	if (!xbus_dev_read_be(dev, "device-type", &type))
		b->cdrom = !strcmp(type, "cdrom");
	free(type);
	if (b->cdrom)
		readonly = 1;
	rc = blk_store_open(&b->store, xbus_dev_name(dev), path, readonly,
			    blk_conf->direct, err, sizeof(err));
	if (rc) {
		xbus_dev_fatal(dev, rc, "%s", err);
		return rc;
	}
	b->store.cdrom = b->cdrom;
	b->store_open = 1;
	log_info(xbus_dev_name(dev), "store %s: %llu sectors, %s%s%s", path,
		 (unsigned long long)b->store.sectors,
		 b->store.is_blkdev ? "block device" : "file",
		 b->store.readonly ? ", read-only" : "",
		 b->store.direct ? ", O_DIRECT" : "");
	return 0;
}

/*
 * What Linux blkfront reads at InitWait (B.1 step 1), in Linux's order.
 * The store is opened here when its name is known already (params, or a
 * hotplug script that ran), else when the script writes it (blk_changed):
 * a missing store then fails the device before InitWait, so `xl create`
 * reports it at once instead of a guest waiting for a disk that never
 * comes, as with the kernel backend.
 */
static int blk_advertise(struct xbus_dev *dev)
{
	struct blkdev *b = xbus_dev_priv(dev);
	int rc = 0;

	if (blk_conf->max_indirect)
		rc = xbus_dev_write_be(dev, "feature-max-indirect-segments",
				       "%u", blk_conf->max_indirect);
	rc = rc ?: xbus_dev_write_be(dev, "multi-queue-max-queues", "%u",
				     blk_max_queues()) ?:
		   xbus_dev_write_be(dev, "max-ring-page-order", "%u",
				     blk_conf->max_ring_order);
	if (rc)
		return rc;
	rc = blk_open_store(dev, b);
	return rc == -EAGAIN ? 0 : rc;
}

/* A backend node changed: the hotplug script may have named the store. */
static void blk_changed(struct xbus_dev *dev, const char *path)
{
	struct blkdev *b = xbus_dev_priv(dev);
	const char *leaf = strrchr(path, '/');

	if (!b || b->store_open || !leaf ||
	    xbus_dev_state(dev) != XBUS_INITWAIT)
		return;
	leaf++;
	if (strcmp(leaf, "physical-device-path") &&
	    strcmp(leaf, "physical-device") && strcmp(leaf, "hotplug-status") &&
	    strcmp(leaf, "params"))
		return;
	blk_open_store(dev, b); /* a failure is fatal there, with its node */
}

/* ------------------------------------------------------------ connect */

static void blk_disconnect(struct xbus_dev *dev)
{
	struct blkdev *b = xbus_dev_priv(dev);

	for (unsigned int i = 0; i < b->nq; i++) {
		struct blkq_stats final;

		blkq_stop(b->q[i], &final);
		b->q[i] = NULL;
		/* Nothing is in flight once a queue stopped. */
		final.inflight = 0;
		blkq_stats_add(&b->past[i], &final);
	}
	if (b->nq > b->npast)
		b->npast = b->nq;
	if (b->nq)
		log_info(xbus_dev_name(dev), "disconnected");
	b->nq = 0;
}

struct broken_msg {
	uint64_t serial;
	unsigned int index;
	int err;
};

static struct blkdev *blk_find_serial(uint64_t serial)
{
	for (struct blkdev *b = blk_devices; b; b = b->next) {
		if (b->serial == serial)
			return b;
	}
	return NULL;
}

/* On the control thread: a queue found its ring broken. */
static void blk_broken_msg(void *arg)
{
	struct broken_msg *m = arg;
	struct blkdev *b = blk_find_serial(m->serial);

	/* The device may be gone (removed) or reconnected since. */
	if (b && m->index < b->nq && b->q[m->index])
		xbus_dev_fatal(b->dev, m->err,
			       "queue %u: the frontend published more "
			       "requests than the ring holds",
			       m->index);
	free(m);
}

/* On a queue's thread: ask the control thread to stop the device. */
static void blk_queue_broken(void *arg, unsigned int index, int err)
{
	struct broken_msg *m = malloc(sizeof(*m));

	if (!m)
		return;
	m->serial = (uint64_t)(uintptr_t)arg;
	m->index = index;
	m->err = err;
	if (loop_post(blk_ctl, blk_broken_msg, m))
		free(m);
}

/* Read one queue's keys under @prefix and start it. */
static int blk_start_queue(struct xbus_dev *dev, struct blkdev *b,
			   unsigned int i, const char *prefix,
			   unsigned int order, int order_given,
			   enum ring_blkif_abi abi)
{
	uint32_t refs[RING_MAX_PAGES];
	unsigned int pages = 1u << order;
	struct blkq_cfg qc;
	unsigned long v;
	char node[64], name[96], err[256], journal[PATH_MAX];
	size_t buf;
	int rc;

	snprintf(node, sizeof(node), "%sevent-channel", prefix);
	rc = xbus_dev_read_fe_uint(dev, node, UINT32_MAX, &v);
	if (rc) {
		xbus_dev_fatal(dev, rc, "reading %s", node);
		return rc;
	}
	qc.evtchn = (uint32_t)v;
	for (unsigned int p = 0; p < pages; p++) {
		/*
		 * ring-page-order absent: one page named "ring-ref"; present
		 * (even 0): ring-ref0..N-1 (Linux blkback since 2021).
		 */
		if (!order_given)
			snprintf(node, sizeof(node), "%sring-ref", prefix);
		else
			snprintf(node, sizeof(node), "%sring-ref%u", prefix, p);
		rc = xbus_dev_read_fe_uint(dev, node, UINT32_MAX, &v);
		if (rc) {
			xbus_dev_fatal(dev, rc, "reading %s", node);
			return rc;
		}
		refs[p] = (uint32_t)v;
	}
	snprintf(name, sizeof(name), "%s q%u", xbus_dev_name(dev), i);
	buf = (size_t)blk_conf->queue_buffer_kib * 1024;
	if (!buf) {
		/* Enough for every slot's direct request, within bounds. */
		buf = (size_t)ring_nr_ents(pages, ring_blkif_slot_size(abi)) *
		      BLKIF_MAX_SEGMENTS_PER_REQUEST * BLK_PAGE;
		if (buf < 4u << 20)
			buf = 4u << 20;
		if (buf > 16u << 20)
			buf = 16u << 20;
	}
	qc = (struct blkq_cfg){
		.name = name,
		.index = i,
		.domid = xbus_dev_fe_domid(dev),
		.ring_refs = refs,
		.ring_pages = pages,
		.evtchn = qc.evtchn,
		.abi = abi,
		.store = &b->store,
		.lim = b->lim,
		.engine = blk_engine_name(blk_conf->engine),
		.persistent = b->persistent,
		.pg_max = blk_conf->pg_max,
		.pg_timeout_ms = blk_conf->pg_timeout_s * 1000,
		.pg_in_place = blk_conf->pg_in_place,
		.buffer_bytes = buf,
		.ctl = blk_ctl,
		.broken = blk_queue_broken,
		.broken_arg = (void *)(uintptr_t)b->serial,
		.journal = journal,
		/* Found Connected: a restarted worker takes the ring back. */
		.adopt = xbus_dev_state(dev) == XBUS_CONNECTED,
	};
	snprintf(journal, sizeof(journal), "%s/journal", blk_conf->run_dir);
	mkdir(blk_conf->run_dir, 0700);
	mkdir(journal, 0700);
	blk_journal_path(dev, i, journal, sizeof(journal));
	rc = blkq_start(&qc, &b->q[i], err, sizeof(err));
	if (rc) {
		b->q[i] = NULL;
		xbus_dev_fatal(dev, rc, "%s", err);
	}
	return rc;
}

/* What the frontend reads at Connected (B.1 step 6), in one transaction. */
static int blk_write_connected(struct xbus_dev *dev, struct blkdev *b)
{
	struct xen_store *xs = xbus_dev_store(dev);
	const char *be = xbus_dev_be_path(dev);
	unsigned int info = 0;
	char path[512];
	xen_txn_t t;
	int rc;

	if (b->store.readonly)
		info |= VDISK_READONLY;
	if (b->cdrom)
		info |= VDISK_CDROM | VDISK_REMOVABLE;
#define W(key, ...)                                                            \
	do {                                                                   \
		snprintf(path, sizeof(path), "%s/%s", be, key);                \
		rc = xen_store_printf(xs, t, path, __VA_ARGS__);               \
		if (rc)                                                        \
			goto abort;                                            \
	} while (0)
	for (int tries = 0; tries < 100; tries++) {
		rc = xen_store_txn_start(xs, &t);
		if (rc)
			return rc;
		W("feature-flush-cache", "%d", 1);
		W("feature-barrier", "%d", 1);
		if (b->lim.discard) {
			W("discard-granularity", "%u",
			  b->store.discard_granularity);
			W("discard-alignment", "%u",
			  b->store.discard_alignment);
			W("discard-secure", "%d", b->lim.discard_secure);
			W("feature-discard", "%d", 1);
		}
		W("feature-persistent", "%d", b->persistent);
		W("sectors", "%llu", (unsigned long long)b->store.sectors);
		W("info", "%u", info);
		W("sector-size", "%u", b->store.sector_size);
		W("physical-sector-size", "%u", b->store.phys_sector_size);
		rc = xen_store_txn_end(xs, t, 0);
		if (rc != -EAGAIN)
			return rc;
	}
#undef W
	return -EAGAIN;
abort:
	xen_store_txn_end(xs, t, 1);
	return rc;
}

static int blk_connect(struct xbus_dev *dev)
{
	struct blkdev *b = xbus_dev_priv(dev);
	enum ring_blkif_abi abi = RING_BLKIF_ABI_NATIVE;
	unsigned long nq = 1, order = 0, v;
	char *proto = NULL;
	int order_given, discard_enable, rc;

	rc = blk_open_store(dev, b);
	if (rc)
		return rc;

	/* Frontend keys: missing means the default, a lie is fatal. */
	rc = xbus_dev_read_fe(dev, "protocol", &proto);
	if (!rc) {
		int a = ring_blkif_abi_from_protocol(proto);

		if (a < 0) {
			xbus_dev_fatal(dev, -ENOSYS, "unknown protocol '%.32s'",
				       proto);
			free(proto);
			return -ENOSYS;
		}
		abi = (enum ring_blkif_abi)a;
	} else if (rc != -ENOENT) {
		xbus_dev_fatal(dev, rc, "reading protocol");
		return rc;
	}
	free(proto);
	rc = xbus_dev_read_fe_uint(dev, "multi-queue-num-queues", UINT32_MAX,
				   &nq);
	if (rc && rc != -ENOENT) {
		xbus_dev_fatal(dev, rc, "bad multi-queue-num-queues");
		return rc;
	}
	if (nq < 1 || nq > blk_max_queues()) {
		xbus_dev_fatal(dev, -EINVAL,
			       "multi-queue-num-queues %lu not in 1..%u", nq,
			       blk_max_queues());
		return -EINVAL;
	}
	rc = xbus_dev_read_fe_uint(dev, "ring-page-order", UINT32_MAX, &order);
	order_given = rc == 0;
	if (rc && rc != -ENOENT) {
		xbus_dev_fatal(dev, rc, "bad ring-page-order");
		return rc;
	}
	if (order > blk_conf->max_ring_order) {
		xbus_dev_fatal(dev, -EINVAL, "ring-page-order %lu above %u",
			       order, blk_conf->max_ring_order);
		return -EINVAL;
	}

	/* The toolstack's discard-enable=0 (xl no-discard) withholds it. */
	if (xbus_dev_read_be_uint(dev, "discard-enable", 1, &v))
		v = 1;
	discard_enable = v == 1;

	/* Persistent grants only when both ends want them (Linux rule). */
	b->persistent = 0;
	if (blk_conf->persistent &&
	    !xbus_dev_read_fe_uint(dev, "feature-persistent", 1, &v))
		b->persistent = v == 1;
	b->lim = (struct blkreq_limits){
		.sectors = b->store.sectors,
		.sector_size = b->store.sector_size,
		.max_indirect = blk_conf->max_indirect,
		.readonly = b->store.readonly,
		.discard = b->store.discard && !b->store.readonly &&
			   discard_enable,
		.discard_secure = b->store.discard_secure,
		.barrier = 1,
		.flush = 1,
	};
	for (unsigned int i = 0; i < nq; i++) {
		char prefix[32] = "";

		/* One queue: top-level keys, even when Windows wrote "1". */
		if (nq > 1)
			snprintf(prefix, sizeof(prefix), "queue-%u/", i);
		rc = blk_start_queue(dev, b, i, prefix, (unsigned int)order,
				     order_given, abi);
		if (rc) {
			blk_disconnect(dev);
			return rc;
		}
		b->nq = i + 1;
	}
	rc = blk_write_connected(dev, b);
	if (rc) {
		blk_disconnect(dev);
		xbus_dev_fatal(dev, rc, "writing the disk's keys");
		return rc;
	}
	log_info(xbus_dev_name(dev),
		 "connected: %lu queue(s), ring order "
		 "%lu, %s abi, engine %s%s",
		 nq, order,
		 abi == RING_BLKIF_ABI_X86_32	? "x86_32"
		 : abi == RING_BLKIF_ABI_X86_64 ? "x86_64"
						: "native",
		 blk_engine_name(blk_conf->engine),
		 b->persistent ? ", persistent grants" : "");
	return 0;
}

static void blk_remove(struct xbus_dev *dev)
{
	struct blkdev *b = xbus_dev_priv(dev), **pp;

	if (!b)
		return;
	blk_disconnect(dev);
	/* The toolstack removed the device (not just our own shutdown):
	 * its rings are gone, and so is anything to take back. */
	if (xbus_dev_removed(dev)) {
		for (unsigned int i = 0; i < BLK_MAX_QUEUES; i++) {
			char path[PATH_MAX];

			blk_journal_path(dev, i, path, sizeof(path));
			unlink(path);
		}
	}
	for (pp = &blk_devices; *pp; pp = &(*pp)->next) {
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	}
	blk_store_close(&b->store);
	free(b);
	xbus_dev_set_priv(dev, NULL);
}

static const struct xbus_driver blk_driver = {
	.name = "vbd",
	.probe = blk_probe,
	.advertise = blk_advertise,
	.connect = blk_connect,
	.changed = blk_changed,
	.disconnect = blk_disconnect,
	.remove = blk_remove,
};

/* ------------------------------------------------------------ resize */

/*
 * Online resize: a store that grew (or shrank) is seen here, the queues
 * learn the new size, and sectors is rewritten together with the state so
 * the frontend's watch fires and it re-reads it (B.1 step 8).
 */
void blk_check_resize(void)
{
	for (struct blkdev *b = blk_devices; b; b = b->next) {
		char val[32];
		int changed = 0;

		if (!b->store_open || !b->nq)
			continue;
		if (blk_store_refresh(&b->store, &changed) || !changed)
			continue;
		log_info(xbus_dev_name(b->dev), "store resized: %llu sectors",
			 (unsigned long long)b->store.sectors);
		b->lim.sectors = b->store.sectors;
		for (unsigned int i = 0; i < b->nq; i++)
			blkq_set_sectors(b->q[i], b->store.sectors);
		snprintf(val, sizeof(val), "%llu",
			 (unsigned long long)b->store.sectors);
		xbus_dev_write_and_kick(b->dev, "sectors", val);
	}
}

/* ------------------------------------------------------------ statistics */

static const char *const class_names[8] = {
	"read",	   "write",	    "flush",	      "barrier",
	"discard", "indirect_read", "indirect_write", "other",
};
static const char *const err_names[BLKREQ_E_NR] = {
	"none",	     "bad_op", "bad_segments", "bad_range",
	"read_only", "grant",  "io",
};

static void dump_queue_json(FILE *out, unsigned int i,
			    const struct blkq_stats *st)
{
	fprintf(out, "{\"queue\":%u,\"requests\":{", i);
	for (int c = 0; c < 8; c++)
		fprintf(out, "%s\"%s\":%llu", c ? "," : "", class_names[c],
			(unsigned long long)st->reqs[c]);
	fprintf(out,
		"},\"sectors_read\":%llu,\"sectors_written\":%llu,"
		"\"errors\":{",
		(unsigned long long)st->sectors_read,
		(unsigned long long)st->sectors_written);
	for (int e = 1; e < BLKREQ_E_NR; e++)
		fprintf(out, "%s\"%s\":%llu", e > 1 ? "," : "", err_names[e],
			(unsigned long long)st->errors[e]);
	fprintf(out, "},\"inflight\":%llu,\"latency_us_log2\":[",
		(unsigned long long)st->inflight);
	for (int b = 0; b < BLKQ_LAT_BUCKETS; b++)
		fprintf(out, "%s%llu", b ? "," : "",
			(unsigned long long)st->lat[b]);
	fprintf(out,
		"],\"grant_copy_calls\":%llu,\"grant_copy_segments\":"
		"%llu,\"submits\":%llu,\"notifies\":%llu,"
		"\"persistent_maps\":%llu,\"persistent_hits\":%llu,"
		"\"persistent_full\":%llu,\"events\":%llu,\"events_idle\":%llu,"
		"\"storm_backoffs\":%llu,\"persistent_direct\":%llu}",
		(unsigned long long)st->gcopy_calls,
		(unsigned long long)st->gcopy_segs,
		(unsigned long long)st->submits,
		(unsigned long long)st->notifies,
		(unsigned long long)st->pgnt_maps,
		(unsigned long long)st->pgnt_hits,
		(unsigned long long)st->pgnt_full,
		(unsigned long long)st->events,
		(unsigned long long)st->events_idle,
		(unsigned long long)st->storm_backoffs,
		(unsigned long long)st->direct_ios);
}

/* The latency below which @pct percent of the requests completed. */
static unsigned long long lat_pct(const struct blkq_stats *st, unsigned pct)
{
	uint64_t total = 0, seen = 0;

	for (int b = 0; b < BLKQ_LAT_BUCKETS; b++)
		total += st->lat[b];
	if (!total)
		return 0;
	for (int b = 0; b < BLKQ_LAT_BUCKETS; b++) {
		seen += st->lat[b];
		if (seen * 100 >= total * pct)
			return 1ull << b;
	}
	return 1ull << (BLKQ_LAT_BUCKETS - 1);
}

static void dump_queue_text(FILE *out, unsigned int i,
			    const struct blkq_stats *st)
{
	uint64_t errs = 0;

	for (int e = 1; e < BLKREQ_E_NR; e++)
		errs += st->errors[e];
	fprintf(out,
		"  q%u: read %llu write %llu flush %llu barrier %llu "
		"discard %llu indirect %llu/%llu other %llu\n",
		i, (unsigned long long)st->reqs[0],
		(unsigned long long)st->reqs[1],
		(unsigned long long)st->reqs[2],
		(unsigned long long)st->reqs[3],
		(unsigned long long)st->reqs[4],
		(unsigned long long)st->reqs[5],
		(unsigned long long)st->reqs[6],
		(unsigned long long)st->reqs[7]);
	fprintf(out,
		"      sectors read %llu written %llu, in flight %llu, "
		"latency p50 < %llu us p99 < %llu us\n",
		(unsigned long long)st->sectors_read,
		(unsigned long long)st->sectors_written,
		(unsigned long long)st->inflight, lat_pct(st, 50),
		lat_pct(st, 99));
	if (st->storm_backoffs)
		fprintf(out,
			"      event storm: %llu of %llu wakeups idle, "
			"%llu back-offs\n",
			(unsigned long long)st->events_idle,
			(unsigned long long)st->events,
			(unsigned long long)st->storm_backoffs);
	fprintf(out, "      errors %llu", (unsigned long long)errs);
	for (int e = 1; e < BLKREQ_E_NR; e++) {
		if (st->errors[e])
			fprintf(out, " %s=%llu", err_names[e],
				(unsigned long long)st->errors[e]);
	}
	fprintf(out, "\n");
}

/* @s as a JSON string: quotes, backslashes and control bytes escaped
 * (a store path may hold any of them). */
static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

void blk_dump_stats(FILE *out, int json)
{
	int first = 1;

	for (struct blkdev *b = blk_devices; b; b = b->next) {
		const char *name = xbus_dev_name(b->dev);

		unsigned int n = b->nq > b->npast ? b->nq : b->npast;

		if (json) {
			fprintf(out, "%s{\"device\":", first ? "" : ",");
			json_str(out, name);
			fprintf(out, ",\"store\":");
			json_str(out, b->store.path);
			fprintf(out,
				",\"sectors\":%llu,\"connected\":%s,"
				"\"queues\":[",
				(unsigned long long)b->store.sectors,
				b->nq ? "true" : "false");
		} else {
			fprintf(out, "%s: %s, %llu sectors, %s, %u queue(s)\n",
				name,
				b->store_open ? b->store.path : "(not open)",
				(unsigned long long)b->store.sectors,
				b->nq ? "connected" : "not connected", b->nq);
		}
		first = 0;
		/* Totals since the device appeared: past connections plus
		 * the live queues. */
		for (unsigned int i = 0; i < n; i++) {
			struct blkq_stats st = b->past[i];
			struct blkq_stats live;

			if (i < b->nq && !blkq_stats(b->q[i], &live))
				blkq_stats_add(&st, &live);
			if (json) {
				if (i)
					fputc(',', out);
				dump_queue_json(out, i, &st);
			} else {
				dump_queue_text(out, i, &st);
			}
		}
		if (json)
			fprintf(out, "]}");
	}
}

const struct xbus_driver *blk_xbus_driver(const struct blk_conf *conf,
					  struct loop *ctl)
{
	blk_conf = conf;
	blk_ctl = ctl;
	return &blk_driver;
}

const char *blk_engine_name(int engine)
{
	switch (engine) {
	case BLK_ENGINE_AIO:
		return "aio";
	case BLK_ENGINE_NULL:
		return "null";
	default:
		return "uring";
	}
}
