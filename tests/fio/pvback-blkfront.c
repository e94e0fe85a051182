// SPDX-License-Identifier: MIT
/*
 * pvback-blkfront.c - a fio external ioengine that drives one blkif device
 * through the userspace blkfront (tests/front/blkfront.h), so fio running
 * as a guest exercises a backend (blkbackd, or any blkif backend) exactly as
 * fio on xvda does in a real guest, and fio's own verification checks the
 * data path end to end:
 *
 *   fio --name=j --ioengine=external:build/fio/pvback-blkfront.so \
 *       --devid=51712 --queues=2 --ring_order=4 --indirect=256 \
 *       --rw=randwrite --bsrange=512-1M --iodepth=16 --verify=crc32c
 *
 * (A verify job that writes leaves <name>-<n>-verify.state in the current
 * directory, as with any engine: run fio elsewhere, or add
 * --verify_state_save=0.) The disk size comes from the backend (`sectors`
 * x 512), so jobs need no --size or --filename. Offsets and lengths are
 * bytes here and 512-byte sectors on the ring; DDIR_SYNC is a FLUSH (a
 * no-op success when the backend offers neither flush nor barrier, as
 * Linux's block layer does), DDIR_TRIM a DISCARD. An I/O larger than one
 * request can carry (11 segments, or the negotiated indirect maximum) is
 * split and completes when all its parts have; when no queue has room for
 * all of them, queue() waits for completions rather than answer
 * FIO_Q_BUSY, which breaks verify jobs on fio < 3.34 (pvb_wait_room). A
 * backend response that breaks a blkfront invariant fails the job. One job
 * per device: numjobs must stay 1.
 *
 * fio's setup() runs in the parent before the job forks, to learn the disk
 * size: it connects, reads the size and closes; the job's init() then
 * connects again, which goes through the reset sequence of spec B.1 step 10.
 *
 * Built by the Makefile's "fio engine" section against fio's own source at
 * the installed fio's version (scripts/fio-src.sh); only symbols the fio
 * binary exports are used (log_err, log_info, add_file).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fio.h"
#include "optgroup.h"

#include "front/blkfront.h"

#define PVB_SECT 512u
#define PVB_PAGE 4096u
#define PVB_REAP 64u
#define PVB_ROOM_WAIT_MS 60000u /* longest wait for room in queue() */

struct pvb_options {
	void *pad; /* fio: an option's off1 must not be 0 */
	unsigned int devid;
	unsigned int queues;
	unsigned int ring_order;
	unsigned int persistent;
	char *abi;
	unsigned int indirect;
	unsigned int pool;
	unsigned int windows;
};

static struct fio_option options[] = {
	{
		.name = "devid",
		.lname = "blkif device id",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct pvb_options, devid),
		.def = "51712",
		.help = "device/vbd/<devid> of this guest (51712 = xvda)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "queues",
		.lname = "blkif queues",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct pvb_options, queues),
		.def = "1",
		.minval = 1,
		.maxval = 64,
		.help = "queues wanted (min with multi-queue-max-queues)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "ring_order",
		.lname = "blkif ring page order",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct pvb_options, ring_order),
		.def = "0",
		.minval = 0,
		.maxval = 4,
		.help = "ring-page-order wanted (min with max-ring-page-order)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "persistent",
		.lname = "blkif persistent grants",
		.type = FIO_OPT_BOOL,
		.off1 = offsetof(struct pvb_options, persistent),
		.def = "1",
		.help = "write feature-persistent=1",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "abi",
		.lname = "blkif protocol",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct pvb_options, abi),
		.def = "native",
		.help = "ring ABI: native, x86_32 or x86_64",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "indirect",
		.lname = "blkif indirect segments",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct pvb_options, indirect),
		.def = "32",
		.minval = 0,
		.maxval = 4096,
		.help = "indirect segments wanted (0: never indirect)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "pool",
		.lname = "blkfront pool pages",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct pvb_options, pool),
		.def = "1024",
		.minval = 11,
		.maxval = 4096,
		.help = "data pages shared per queue",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "windows",
		.lname = "Windows xenvbd keys",
		.type = FIO_OPT_BOOL,
		.off1 = offsetof(struct pvb_options, windows),
		.def = "0",
		.help = "always write multi-queue-num-queues (Windows xenvbd)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = NULL,
	},
};

/* Per io_u: the parts still in flight and the first error. */
struct pvb_iou {
	unsigned int parts;
	int error;
};

struct pvb_data {
	struct blkfront *bf;
	unsigned int nq;
	unsigned int next_q;
	struct io_u **ev; /* completed io_us; the first `ret` were returned */
	unsigned int nev, ret, cap;
	struct blkfront_io *ios; /* scratch for splitting */
	unsigned int nios;
	unsigned long violations;
};

static int pvb_cfg(struct thread_data *td, struct blkfront_cfg *cfg)
{
	struct pvb_options *o = td->eo;
	const char *abi = o->abi ? o->abi : "native";

	blkfront_cfg_init(cfg);
	cfg->devid = o->devid;
	cfg->nr_queues = o->queues;
	cfg->ring_order = o->ring_order;
	cfg->persistent = !!o->persistent;
	cfg->max_indirect = o->indirect;
	cfg->pool_pages = o->pool;
	cfg->windows = !!o->windows;
	if (!strcmp(abi, "native"))
		cfg->abi = RING_BLKIF_ABI_NATIVE;
	else if (!strcmp(abi, "x86_32") || !strcmp(abi, "x86_32-abi"))
		cfg->abi = RING_BLKIF_ABI_X86_32;
	else if (!strcmp(abi, "x86_64") || !strcmp(abi, "x86_64-abi"))
		cfg->abi = RING_BLKIF_ABI_X86_64;
	else {
		log_err("pvback-blkfront: abi=%s: want native, x86_32 or "
			"x86_64\n",
			abi);
		return 1;
	}
	return 0;
}

static void pvb_set_sizes(struct thread_data *td, uint64_t bytes)
{
	struct fio_file *f;
	unsigned int i;

	for_each_file(td, f, i)
	{
		f->real_file_size = bytes;
		fio_file_set_size_known(f);
	}
}

/* Learn the disk size: connect, read `sectors`, close (orderly). */
static int pvb_probe_size(struct thread_data *td)
{
	struct pvb_data *d = td->io_ops_data;
	struct blkfront_cfg cfg;
	struct blkfront *bf;
	uint64_t bytes;
	int rc;

	if (d && d->bf) {
		pvb_set_sizes(td, blkfront_info(d->bf)->sectors * PVB_SECT);
		return 0;
	}
	if (pvb_cfg(td, &cfg))
		return 1;
	rc = blkfront_connect(&bf, &cfg);
	if (rc) {
		log_err("pvback-blkfront: connect device %u: %s\n", cfg.devid,
			blkfront_last_error());
		return 1;
	}
	bytes = blkfront_info(bf)->sectors * PVB_SECT;
	rc = blkfront_close(bf);
	if (rc) {
		log_err("pvback-blkfront: close after probing: %s\n",
			blkfront_last_error());
		return 1;
	}
	pvb_set_sizes(td, bytes);
	return 0;
}

static int pvb_setup(struct thread_data *td)
{
	/* Diskless: pretend to have one file, named after the device. */
	if (!td->files_index) {
		struct pvb_options *o = td->eo;
		char name[32];

		snprintf(name, sizeof(name), "vbd-%u", o->devid);
		add_file(td, name, 0, 0);
		td->o.nr_files = td->o.nr_files ?: 1;
		td->o.open_files++;
	}
	return pvb_probe_size(td);
}

static int pvb_get_file_size(struct thread_data *td, struct fio_file *f)
{
	return pvb_probe_size(td);
}

static int pvb_init(struct thread_data *td)
{
	struct blkfront_cfg cfg;
	struct pvb_data *d;
	int rc;

	if (pvb_cfg(td, &cfg))
		return 1;
	d = calloc(1, sizeof(*d));
	if (!d)
		return 1;
	d->cap = td->o.iodepth + 1;
	d->ev = calloc(d->cap, sizeof(*d->ev));
	if (!d->ev)
		goto err_free;
	rc = blkfront_connect(&d->bf, &cfg);
	if (rc) {
		log_err("pvback-blkfront: connect device %u: %s\n", cfg.devid,
			blkfront_last_error());
		goto err_free;
	}
	d->nq = blkfront_info(d->bf)->nr_queues;
	td->io_ops_data = d;
	return 0;

err_free:
	free(d->ev);
	free(d);
	return 1;
}

static void pvb_cleanup(struct thread_data *td)
{
	struct pvb_data *d = td->io_ops_data;
	char last[192];
	unsigned long v;

	if (!d)
		return;
	v = blkfront_violations(d->bf, last, sizeof(last));
	if (v)
		log_err("pvback-blkfront: %lu blkfront invariant violation(s), "
			"last: %s\n",
			v, last);
	if (blkfront_close(d->bf))
		log_err("pvback-blkfront: close: %s\n", blkfront_last_error());
	free(d->ev);
	free(d->ios);
	free(d);
	td->io_ops_data = NULL;
}

static int pvb_open_file(struct thread_data *td, struct fio_file *f)
{
	struct pvb_data *d = td->io_ops_data;

	if (d && d->bf) {
		f->real_file_size = blkfront_info(d->bf)->sectors * PVB_SECT;
		fio_file_set_size_known(f);
	}
	return 0;
}

static int pvb_close_file(struct thread_data *td, struct fio_file *f)
{
	return 0;
}

static int pvb_io_u_init(struct thread_data *td, struct io_u *io_u)
{
	io_u->engine_data = calloc(1, sizeof(struct pvb_iou));
	return io_u->engine_data ? 0 : 1;
}

static void pvb_io_u_free(struct thread_data *td, struct io_u *io_u)
{
	free(io_u->engine_data);
	io_u->engine_data = NULL;
}

static enum fio_q_status pvb_done_now(struct io_u *io_u, int err)
{
	io_u->error = err;
	if (err)
		io_u->resid = io_u->xfer_buflen;
	return FIO_Q_COMPLETED;
}

/* Split @io_u into requests of at most max_segments pages each. */
static int pvb_split(struct pvb_data *d, struct io_u *io_u, uint8_t op)
{
	const struct blkfront_info *in = blkfront_info(d->bf);
	size_t max = (size_t)in->max_segments * PVB_PAGE;
	size_t len = io_u->xfer_buflen, off = 0;
	unsigned int n = (unsigned int)((len + max - 1) / max), i;

	if (!len)
		n = 1;
	if (n > d->nios) {
		struct blkfront_io *p = realloc(d->ios, n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		d->ios = p;
		d->nios = n;
	}
	for (i = 0; i < n; i++) {
		size_t l = len - off < max ? len - off : max;

		d->ios[i] = (struct blkfront_io){
			.op = op,
			.sector = (io_u->offset + off) / PVB_SECT,
			.buf = (char *)io_u->xfer_buf + off,
			.len = l,
			.cookie = io_u,
		};
		off += l;
	}
	return (int)n;
}

/*
 * Forget the io_us the last getevents() handed out: fio has taken them
 * (its event() calls come right after getevents(), before it queues or
 * reaps again), and d->ev only has room for what is in flight.
 */
static void pvb_forget_returned(struct pvb_data *d)
{
	memmove(d->ev, d->ev + d->ret, (d->nev - d->ret) * sizeof(*d->ev));
	d->nev -= d->ret;
	d->ret = 0;
}

/* Reap every queue once without waiting; count io_us that finished. */
static int pvb_reap_all(struct pvb_data *d)
{
	struct blkfront_done done[PVB_REAP];
	int total = 0;

	/*
	 * Reap each queue until blkfront_reap() finds nothing: only then has
	 * it re-armed rsp_event (RING_FINAL_CHECK_FOR_RESPONSES), so the
	 * backend notifies the next response. Stopping after a non-empty
	 * batch and then waiting on the event channel could wait forever.
	 */
	for (unsigned int q = 0; q < d->nq;) {
		int n = blkfront_reap(d->bf, q, done, PVB_REAP, 0);

		if (n == 0)
			q++; /* drained and armed: the next queue */
		if (n < 0) {
			log_err("pvback-blkfront: reap: %s\n",
				blkfront_last_error());
			return n;
		}
		for (int i = 0; i < n; i++) {
			struct io_u *io_u = done[i].cookie;
			struct pvb_iou *iu;

			if (!io_u)
				continue;
			iu = io_u->engine_data;
			if (done[i].status && !iu->error)
				iu->error = -done[i].status;
			if (--iu->parts)
				continue;
			io_u->error = iu->error;
			io_u->resid = iu->error ? io_u->xfer_buflen : 0;
			d->ev[d->nev++] = io_u;
			total++;
		}
	}
	return total;
}

/* -EIO (logged) if the backend broke a blkfront invariant since last asked. */
static int pvb_check_violations(struct pvb_data *d)
{
	char last[192];
	unsigned long v = blkfront_violations(d->bf, last, sizeof(last));

	if (v == d->violations)
		return 0;
	d->violations = v;
	log_err("pvback-blkfront: backend broke a blkfront invariant: %s\n",
		last);
	return -EIO;
}

static int pvb_kick_all(struct pvb_data *d)
{
	for (unsigned int q = 0; q < d->nq; q++) {
		int rc = blkfront_kick(d->bf, q);

		if (rc < 0) {
			log_err("pvback-blkfront: kick: %s\n",
				blkfront_last_error());
			return rc;
		}
	}
	return 0;
}

static long pvb_ms_left(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (end->tv_sec - now.tv_sec) * 1000L +
	       (end->tv_nsec - now.tv_nsec) / 1000000;
}

/*
 * The queue, from the round-robin one on, that takes all @n parts in
 * d->ios now; -EAGAIN if none does yet; -errno if they can never go.
 */
static int pvb_pick_queue(struct pvb_data *d, unsigned int n)
{
	for (unsigned int k = 0; k < d->nq; k++) {
		unsigned int q = (d->next_q + k) % d->nq;
		int rc = blkfront_fits(d->bf, q, d->ios, n);

		if (rc < 0)
			return rc;
		if (rc)
			return (int)q;
	}
	return -EAGAIN;
}

/*
 * No queue has room for the @n parts in d->ios: publish what fio queued,
 * then reap (the io_us that finish wait in d->ev for getevents()) until a
 * queue has room. Returns that queue, -E2BIG when the parts do not fit even
 * in empty queues, -ETIMEDOUT, or -errno.
 *
 * Why queue() waits instead of answering FIO_Q_BUSY: fio before 3.34
 * (commit ad21b61d, "Fix verify bad_hdr rand_seed for requeued I/Os")
 * fills a requeued write's verify pattern a second time, with a second
 * seed drawn from verify_state, and logs the write once. Its verify pass
 * replays verify_state once per logged write, so from the first requeued
 * write on every block is checked against the seed of its predecessor:
 * "verify: bad header rand_seed X, wanted Y" (X being the seed another
 * write is wanted with) although the disk holds exactly what fio wrote.
 * The pool (1024 pages) is smaller than iodepth x bs in many verify jobs,
 * so BUSY would be common; a blocking queue() is legal for any engine.
 */
static int pvb_wait_room(struct pvb_data *d, unsigned int n)
{
	struct timespec end;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += PVB_ROOM_WAIT_MS / 1000;
	pvb_forget_returned(d);
	rc = pvb_kick_all(d);
	if (rc < 0)
		return rc;
	for (;;) {
		unsigned int inflight = 0;
		long left;

		rc = pvb_reap_all(d);
		if (rc < 0)
			return rc;
		rc = pvb_check_violations(d);
		if (rc < 0)
			return rc;
		rc = pvb_pick_queue(d, n);
		if (rc != -EAGAIN)
			return rc;
		for (unsigned int q = 0; q < d->nq; q++)
			inflight += blkfront_inflight(d->bf, q);
		if (!inflight)
			return -E2BIG;
		left = pvb_ms_left(&end);
		if (left <= 0)
			return -ETIMEDOUT;
		rc = blkfront_poll(d->bf, (int)left);
		if (rc < 0)
			return rc;
	}
}

static enum fio_q_status pvb_queue(struct thread_data *td, struct io_u *io_u)
{
	struct pvb_data *d = td->io_ops_data;
	const struct blkfront_info *in = blkfront_info(d->bf);
	struct pvb_iou *iu = io_u->engine_data;
	uint8_t op;
	int n, q, rc;

	switch (io_u->ddir) {
	case DDIR_READ:
		op = BLKFRONT_READ;
		break;
	case DDIR_WRITE:
		op = BLKFRONT_WRITE;
		break;
	case DDIR_SYNC:
	case DDIR_DATASYNC:
	case DDIR_SYNC_FILE_RANGE:
		if (in->flush)
			op = BLKFRONT_FLUSH;
		else if (in->barrier)
			op = BLKFRONT_BARRIER;
		else
			return pvb_done_now(io_u, 0);
		break;
	case DDIR_TRIM:
		if (!in->discard)
			return pvb_done_now(io_u, EOPNOTSUPP);
		op = BLKFRONT_DISCARD;
		break;
	default:
		return pvb_done_now(io_u, EINVAL);
	}
	if (op <= BLKFRONT_WRITE || op == BLKFRONT_DISCARD) {
		if (io_u->offset % PVB_SECT || io_u->xfer_buflen % PVB_SECT ||
		    !io_u->xfer_buflen)
			return pvb_done_now(io_u, EINVAL);
		n = pvb_split(d, io_u, op);
		if (op == BLKFRONT_DISCARD) {
			/* One discard; no pages, no split. */
			d->ios[0].len = io_u->xfer_buflen;
			d->ios[0].buf = NULL;
			n = 1;
		}
	} else {
		n = pvb_split(d, io_u, op);
		d->ios[0].len = 0;
		d->ios[0].buf = NULL;
		d->ios[0].sector = 0;
		n = 1;
	}
	if (n < 0)
		return pvb_done_now(io_u, -n);
	q = pvb_pick_queue(d, (unsigned int)n);
	if (q == -EAGAIN)
		q = pvb_wait_room(d, (unsigned int)n);
	if (q == -E2BIG) {
		unsigned long pages = 0;

		for (int i = 0; i < n; i++)
			pages += (d->ios[i].len + PVB_PAGE - 1) / PVB_PAGE;
		log_err("pvback-blkfront: %llu bytes in %d request(s) of %lu "
			"pages do not fit in an idle queue (%u pages, %u "
			"slots; engine options pool=, ring_order=)\n",
			(unsigned long long)io_u->xfer_buflen, n, pages,
			in->pool_pages, in->ring_slots);
	} else if (q == -ETIMEDOUT) {
		log_err("pvback-blkfront: no room in %u s: the backend "
			"answers nothing\n",
			PVB_ROOM_WAIT_MS / 1000);
	}
	if (q < 0)
		return pvb_done_now(io_u, -q);
	d->next_q = (unsigned int)q + 1;
	iu->parts = (unsigned int)n;
	iu->error = 0;
	for (int i = 0; i < n; i++) {
		rc = blkfront_submit(d->bf, (unsigned int)q, &d->ios[i]);
		if (rc < 0) {
			/* fits said yes: only a broken queue says no. */
			log_err("pvback-blkfront: submit: %s\n",
				blkfront_last_error());
			iu->error = -rc;
			iu->parts -= (unsigned int)(n - i);
			if (!iu->parts)
				return pvb_done_now(io_u, -rc);
			break;
		}
	}
	return FIO_Q_QUEUED;
}

static int pvb_commit(struct thread_data *td)
{
	return pvb_kick_all(td->io_ops_data);
}

static int pvb_getevents(struct thread_data *td, unsigned int min,
			 unsigned int max, const struct timespec *t)
{
	struct pvb_data *d = td->io_ops_data;
	struct timespec end;

	pvb_forget_returned(d);
	if (t) {
		clock_gettime(CLOCK_MONOTONIC, &end);
		end.tv_sec += t->tv_sec;
		end.tv_nsec += t->tv_nsec;
		if (end.tv_nsec >= 1000000000L) {
			end.tv_sec++;
			end.tv_nsec -= 1000000000L;
		}
	}
	for (;;) {
		long left = -1;
		int rc = pvb_reap_all(d);

		if (rc < 0)
			return rc;
		rc = pvb_check_violations(d);
		if (rc < 0)
			return rc;
		if (d->nev >= min)
			break;
		if (t) {
			left = pvb_ms_left(&end);
			if (left <= 0)
				break;
		}
		rc = blkfront_poll(d->bf, (int)left);
		if (rc < 0)
			return rc;
	}
	d->ret = d->nev < max ? d->nev : max;
	return (int)d->ret;
}

static struct io_u *pvb_event(struct thread_data *td, int event)
{
	struct pvb_data *d = td->io_ops_data;

	return (unsigned int)event < d->ret ? d->ev[event] : NULL;
}

/* What fio looks up with dlsym(): the one visible symbol. */
__attribute__((visibility("default"))) struct ioengine_ops ioengine = {
	.name = "pvback-blkfront",
	.version = FIO_IOOPS_VERSION,
	.flags = FIO_DISKLESSIO | FIO_NOEXTEND | FIO_NODISKUTIL,
	.setup = pvb_setup,
	.init = pvb_init,
	.cleanup = pvb_cleanup,
	.queue = pvb_queue,
	.commit = pvb_commit,
	.getevents = pvb_getevents,
	.event = pvb_event,
	.open_file = pvb_open_file,
	.close_file = pvb_close_file,
	.get_file_size = pvb_get_file_size,
	.io_u_init = pvb_io_u_init,
	.io_u_free = pvb_io_u_free,
	.options = options,
	.option_struct_size = sizeof(struct pvb_options),
};
