// SPDX-License-Identifier: MIT
/*
 * blkbackd - the blkif backend daemon: serves the virtual disks of Xen
 * guests from image files and block devices, with io_uring (or libaio).
 *
 *   blkbackd [--config FILE] [--set KEY=VALUE]... [--single]
 *            [--log-level L] [--syslog] [--help]
 *   blkbackd [--config FILE] [--set run-dir=DIR] --stats [--json]
 *
 * By default a supervisor keeps one worker process per guest domain (the
 * same binary re-executed with --worker DOMID, common/super.c); --single
 * serves every guest from one process. The configuration keys are listed
 * by --help; --set overrides the file. --stats prints the counters of every
 * running daemon process (through their control sockets in run-dir). This file is the process only: the
 * control plane is xenbus.c, the data path queue.c.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blkback/blkback.h"
#include "common/cfg.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/stats.h"
#include "common/super.h"
#include "common/xbus.h"

#define DEFAULT_CONFIG "/etc/pvback/blkbackd.conf"

static const char *const engines[] = { "uring", "aio", "null", NULL };

static const struct cfg_key blk_keys[] = {
	{ "kinds", CFG_STR, offsetof(struct blk_conf, kinds),
	  sizeof(((struct blk_conf *)0)->kinds), 0, 0, NULL,
	  "backend kinds to serve, comma-separated (vbd3,vbd)" },
	{ "engine", CFG_ENUM, offsetof(struct blk_conf, engine), 0, 0, 0,
	  engines, "I/O engine: uring, aio or null (no storage: benchmarks)" },
	{ "max-queues", CFG_UINT, offsetof(struct blk_conf, max_queues), 0, 0,
	  BLK_MAX_QUEUES, NULL, "queues offered per disk; 0: online CPUs" },
	{ "max-ring-page-order", CFG_UINT,
	  offsetof(struct blk_conf, max_ring_order), 0, 0, RING_MAX_ORDER,
	  NULL, "largest ring offered: 2^order pages" },
	{ "max-indirect-segments", CFG_UINT,
	  offsetof(struct blk_conf, max_indirect), 0, 0, BLK_MAX_INDIRECT,
	  NULL, "segments per indirect request; 0: no indirect requests" },
	{ "queue-buffer-kib", CFG_UINT,
	  offsetof(struct blk_conf, queue_buffer_kib), 0, 0, 1u << 20, NULL,
	  "bounce memory per queue in KiB; 0: sized from the ring" },
	{ "direct", CFG_BOOL, offsetof(struct blk_conf, direct), 0, 0, 0,
	  NULL, "open stores with O_DIRECT where they allow it" },
	{ "persistent", CFG_BOOL, offsetof(struct blk_conf, persistent), 0, 0,
	  0, NULL, "offer persistent grants (feature-persistent)" },
	{ "persistent-max-grants", CFG_UINT, offsetof(struct blk_conf, pg_max),
	  0, 0, 16384, NULL, "persistent grants kept mapped per queue" },
	{ "persistent-timeout-s", CFG_UINT,
	  offsetof(struct blk_conf, pg_timeout_s), 0, 1, 86400, NULL,
	  "a persistent grant unused this long is unmapped" },
	{ "run-dir", CFG_STR, offsetof(struct blk_conf, run_dir),
	  sizeof(((struct blk_conf *)0)->run_dir), 0, 0, NULL,
	  "directory of the control sockets (blkbackd --stats reads them)" },
	{ "log-level", CFG_STR, offsetof(struct blk_conf, log_level),
	  sizeof(((struct blk_conf *)0)->log_level), 0, 0, NULL,
	  "err, warn, info or debug" },
	CFG_END,
};

struct blk_main {
	struct loop *loop;
	struct loop_fd sig;
	struct loop_timer tick;
	struct xbus *xb;
	struct stats_srv *ctl;
	int worker;
};

static struct blk_main M;

static void on_signal(struct loop_fd *lfd, uint32_t events)
{
	struct signalfd_siginfo si;

	if (read(lfd->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		log_info(NULL, "signal %u: stopping", si.ssi_signo);
		loop_stop(M.loop);
	}
}

/* Once a second: resized stores; a worker whose guest has no disk left
 * exits. */
static void on_tick(struct loop_timer *t)
{
	if (!M.xb)
		return;
	blk_check_resize();
	if (M.worker >= 0 && xbus_ndevs(M.xb) == 0) {
		log_info(NULL, "no devices left: exiting");
		loop_stop(M.loop);
	}
}

/* A request on the control socket: "stats" or "stats json". */
static void on_control(void *arg, const char *req, FILE *out)
{
	if (!strcmp(req, "stats"))
		blk_dump_stats(out, 0);
	else if (!strcmp(req, "stats json"))
		blk_dump_stats(out, 1);
	else
		fprintf(out, "error: unknown request '%.64s'\n", req);
}

/* The control socket of this process; statistics are optional, so a
 * failure is logged and the daemon serves on. */
static void start_control(const struct blk_conf *conf)
{
	char path[PATH_MAX];
	int rc;

	if (M.worker >= 0)
		snprintf(path, sizeof(path), "%s/blkbackd-dom%d.sock",
			 conf->run_dir, M.worker);
	else
		snprintf(path, sizeof(path), "%s/blkbackd.sock", conf->run_dir);
	mkdir(conf->run_dir, 0700);
	rc = stats_srv_create(M.loop, path, on_control, NULL, &M.ctl);
	if (rc)
		log_warn(NULL, "no control socket %s: %s", path, strerror(-rc));
}

static int split_kinds(char *list, const char **kinds, int max)
{
	int n = 0;
	char *tok, *save;

	for (tok = strtok_r(list, ",", &save); tok && n < max;
	     tok = strtok_r(NULL, ",", &save))
		kinds[n++] = tok;
	kinds[n] = NULL;
	return n;
}

/* blkbackd --stats [--json]: ask every running daemon process. */
static int print_stats(const struct blk_conf *conf, int json)
{
	int rc;

	if (json)
		fputs("[", stdout);
	rc = stats_query(conf->run_dir, "blkbackd", json ? "stats json" :
							   "stats", ",", stdout);
	if (json)
		fputs("]\n", stdout);
	if (rc < 0) {
		fprintf(stderr, "blkbackd: no daemon answered in %s: %s\n",
			conf->run_dir, strerror(-rc));
		return 1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: blkbackd [--config FILE] [--set KEY=VALUE]... "
		   "[--single] [--log-level L] [--syslog]\n\nkeys:\n");
	cfg_print_help(blk_keys, f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 'S' },
		{ "single", no_argument, NULL, 's' },
		{ "worker", required_argument, NULL, 'w' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "syslog", no_argument, NULL, 'y' },
		{ "help", no_argument, NULL, 'h' },
		{ "stats", no_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct blk_conf conf = {
		.kinds = "vbd3,vbd",
		.engine = BLK_ENGINE_URING,
		.max_ring_order = RING_MAX_ORDER,
		.max_indirect = BLK_MAX_INDIRECT,
		.direct = 1,
		.persistent = 1,
		.pg_max = 1056,
		.pg_timeout_s = 60,
		.log_level = "info",
		.run_dir = "/run/pvback",
	};
	const char *config = NULL, *sets[64], *kinds[9];
	char err[512], ident[32] = "blkbackd", kinds_text[128];
	enum log_level level;
	struct xbus_cfg xcfg;
	struct super *sv = NULL;
	int nsets = 0, single = 0, use_syslog = 0, stats = 0, json = 0, c, rc;
	sigset_t mask;

	M.worker = -1;
	while ((c = getopt_long(argc, argv, "c:S:sw:l:yh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'S':
			if (nsets == (int)(sizeof(sets) / sizeof(sets[0]))) {
				fprintf(stderr, "blkbackd: too many --set\n");
				return 2;
			}
			sets[nsets++] = optarg;
			break;
		case 's':
			single = 1;
			break;
		case 'w':
			M.worker = atoi(optarg);
			break;
		case 'l':
			snprintf(conf.log_level, sizeof(conf.log_level), "%s",
				 optarg);
			break;
		case 'y':
			use_syslog = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'T':
			stats = 1;
			break;
		case 'j':
			json = 1;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "blkbackd: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}

	/* The file (a missing default file is fine), then --set. */
	rc = cfg_load(blk_keys, &conf, config ? config : DEFAULT_CONFIG, err,
		      sizeof(err));
	if (rc && !(rc == -ENOENT && !config)) {
		fprintf(stderr, "blkbackd: %s\n", err);
		return 2;
	}
	for (int i = 0; i < nsets; i++) {
		if (cfg_set_arg(blk_keys, &conf, sets[i], err, sizeof(err))) {
			fprintf(stderr, "blkbackd: %s\n", err);
			return 2;
		}
	}
	if (stats)
		return print_stats(&conf, json);
	if (log_level_parse(conf.log_level, &level)) {
		fprintf(stderr, "blkbackd: log-level: '%s' is not one of err, "
			"warn, info, debug\n", conf.log_level);
		return 2;
	}
	if (conf.max_indirect && conf.max_indirect <=
					 BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		fprintf(stderr, "blkbackd: max-indirect-segments: %u must be 0 "
			"or above %d\n", conf.max_indirect,
			BLKIF_MAX_SEGMENTS_PER_REQUEST);
		return 2;
	}
	{
		char kb[sizeof(conf.kinds)];

		memcpy(kb, conf.kinds, sizeof(kb));
		snprintf(kinds_text, sizeof(kinds_text), "%s", conf.kinds);
		if (split_kinds(kb, kinds, 8) == 0) {
			fprintf(stderr, "blkbackd: kinds: no backend kind\n");
			return 2;
		}
		/* split_kinds points into kb: keep the pieces in conf. */
		memcpy(conf.kinds, kb, sizeof(kb));
		for (int i = 0; kinds[i]; i++)
			kinds[i] = conf.kinds + (kinds[i] - kb);
	}
	if (M.worker >= 0)
		snprintf(ident, sizeof(ident), "blkbackd[dom%d]", M.worker);
	log_setup(ident, use_syslog ? LOG_TO_SYSLOG : LOG_TO_STDERR, level);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	/* A frontend gone mid-write must not kill us through a pipe. */
	signal(SIGPIPE, SIG_IGN);
	M.loop = loop_create("blkbackd");
	if (!M.loop)
		return 1;
	M.sig.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	M.sig.fn = on_signal;
	if (M.sig.fd < 0 || loop_fd_add(M.loop, &M.sig, EPOLLIN))
		return 1;

	if (single || M.worker >= 0) {
		xcfg.kinds = kinds;
		xcfg.fe_domid = M.worker;
		rc = xbus_create(M.loop, &xcfg, blk_xbus_driver(&conf, M.loop),
				 NULL, &M.xb);
		if (rc) {
			log_err(NULL, "cannot start: %s", strerror(-rc));
			return 1;
		}
		M.tick.fn = on_tick;
		loop_timer_arm(M.loop, &M.tick, 1000, 1000);
		start_control(&conf);
	} else {
		struct super_cfg scfg = { .kinds = kinds, .argv = argv };

		rc = super_create(M.loop, &scfg, &sv);
		if (rc) {
			log_err(NULL, "cannot start the supervisor: %s",
				strerror(-rc));
			return 1;
		}
	}
	log_info(NULL, "running (%s), engine %s, kinds %s",
		 single ? "single process" :
		 M.worker >= 0 ? "worker" : "supervisor",
		 blk_engine_name(conf.engine), kinds_text);
	rc = loop_run(M.loop);
	stats_srv_destroy(M.ctl);
	xbus_destroy(M.xb);
	super_destroy(sv, 2000);
	loop_destroy(M.loop);
	return rc ? 1 : 0;
}
