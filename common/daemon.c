// SPDX-License-Identifier: MIT
/*
 * daemon.c - the process of a pvback daemon (see daemon.h): what blkbackd,
 * netbackd and the test daemon share from main() to exit. The daemons' own
 * main.c files only describe themselves; the supervisor is common/super.c,
 * the worker's confinement common/sandbox.c.
 */
#include "common/daemon.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/stats.h"
#include "common/super.h"
#include "common/xbus.h"

#define DAEMON_MAX_KINDS 8
#define DAEMON_MAX_ARGS 64 /* --set, --log-level and def->opts together */

/* Option values for getopt_long beyond the characters of the short ones. */
#define OPT_STATS 256
#define OPT_JSON 257
#define OPT_DEF 512 /* + index in def->opts */

static const char *const sandbox_modes[] = { "off", "on", "log", NULL };

#define DC(field) offsetof(struct daemon_conf, field)
#define DC_SIZE(field) sizeof(((struct daemon_conf *)0)->field)

/* The keys daemon.c owns; offsets relative to struct daemon_conf, shifted
 * by def->common_offset when merged with the daemon's own keys. */
static const struct cfg_key common_keys[] = {
	{ "kinds", CFG_STR, DC(kinds), DC_SIZE(kinds), 0, 0, NULL,
	  "backend kinds to serve, comma-separated" },
	{ "run-dir", CFG_STR, DC(run_dir), DC_SIZE(run_dir), 0, 0, NULL,
	  "directory of the control sockets (--stats reads them)" },
	{ "log-level", CFG_STR, DC(log_level), DC_SIZE(log_level), 0, 0, NULL,
	  "err, warn, info or debug" },
	{ "sandbox", CFG_ENUM, DC(sandbox), 0, 0, 0, sandbox_modes,
	  "confine workers (log: violations logged, not fatal)" },
	{ "user", CFG_STR, DC(user), DC_SIZE(user), 0, 0, NULL,
	  "workers drop to this user once started; empty: stay root" },
};

#define NCOMMON (sizeof(common_keys) / sizeof(common_keys[0]))

/* One command-line setting, applied after the file in command-line order. */
struct daemon_arg {
	int what; /* 'S' --set, 'l' --log-level, OPT_DEF + i */
	const char *val;
};

struct daemon {
	const struct daemon_def *def;
	void *conf;
	struct daemon_conf *dc;
	struct cfg_key *keys; /* common_keys + def->keys */
	struct loop *loop;
	struct loop_fd sig;
	struct loop_timer tick;
	struct xbus *xb;
	struct stats_srv *ctl;
	struct super *sv;
	int worker; /* guest domid, or -1 */
	char kinds_buf[sizeof(((struct daemon_conf *)0)->kinds)];
	const char *kinds[DAEMON_MAX_KINDS + 1];
};

/* One daemon per process: the signal and timer callbacks find it here. */
static struct daemon D;

int daemon_split_kinds(char *list, const char **kinds, int max)
{
	char *tok, *save;
	int n = 0;

	for (tok = strtok_r(list, ",", &save); tok && n < max;
	     tok = strtok_r(NULL, ",", &save))
		kinds[n++] = tok;
	kinds[n] = NULL;
	return n;
}

static void on_signal(struct loop_fd *lfd, uint32_t events)
{
	struct signalfd_siginfo si;

	if (read(lfd->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		log_info(NULL, "signal %u: stopping", si.ssi_signo);
		loop_stop(D.loop);
	}
}

/* Every tick: the daemon's periodic work; a worker whose guest has no
 * device left exits. */
static void on_tick(struct loop_timer *t)
{
	if (!D.xb)
		return;
	if (D.def->tick)
		D.def->tick(D.conf);
	if (D.worker >= 0 && xbus_ndevs(D.xb) == 0) {
		log_info(NULL, "no devices left: exiting");
		loop_stop(D.loop);
	}
}

/* A request on the control socket: "stats" or "stats json". */
static void on_control(void *arg, const char *req, FILE *out)
{
	if (!strcmp(req, "stats"))
		D.def->dump_stats(D.conf, out, 0);
	else if (!strcmp(req, "stats json"))
		D.def->dump_stats(D.conf, out, 1);
	else
		fprintf(out, "error: unknown request '%.64s'\n", req);
}

/* The control socket of this process; statistics are optional, so a
 * failure is logged and the daemon serves on. */
static void start_control(void)
{
	const char *name = D.def->name;
	char path[PATH_MAX];
	int rc;

	if (!D.def->dump_stats)
		return;
	if (D.worker >= 0)
		snprintf(path, sizeof(path), "%s/%s-dom%d.sock", D.dc->run_dir,
			 name, D.worker);
	else
		snprintf(path, sizeof(path), "%s/%s.sock", D.dc->run_dir, name);
	mkdir(D.dc->run_dir, 0700);
	rc = stats_srv_create(D.loop, path, on_control, NULL, &D.ctl);
	if (rc)
		log_warn(NULL, "no control socket %s: %s", path, strerror(-rc));
}

/* <name> --stats [--json]: ask every running daemon process. */
static int print_stats(int json)
{
	int rc;

	if (json)
		fputs("[", stdout);
	rc = stats_query(D.dc->run_dir, D.def->name,
			 json ? "stats json" : "stats", ",", stdout);
	if (json)
		fputs("]\n", stdout);
	if (rc < 0) {
		fprintf(stderr, "%s: no daemon answered in %s: %s\n",
			D.def->name, D.dc->run_dir, strerror(-rc));
		return 1;
	}
	return 0;
}

static void usage(FILE *f)
{
	const struct daemon_opt *o;

	fprintf(f,
		"usage: %s [--config FILE] [--set KEY=VALUE]... [--single] "
		"[--log-level L] [--syslog]",
		D.def->name);
	for (o = D.def->opts; o && o->name; o++)
		fprintf(f, " [--%s%s]", o->name, o->has_arg ? " ARG" : "");
	fprintf(f,
		"\n       %s [--config FILE] [--set run-dir=DIR] --stats "
		"[--json]\n",
		D.def->name);
	if (D.def->summary)
		fprintf(f, "\n%s\n", D.def->summary);
	fprintf(f,
		"\nThe configuration file is /etc/pvback/%s.conf unless "
		"--config names one;\n--set and --log-level override it. "
		"By default a supervisor runs one\nworker process per guest "
		"domain; --single serves every guest in one process.\n",
		D.def->name);
	fprintf(f, "\nA worker restricts its event channels to its guest and "
		   "runs under a seccomp\nallow-list (sandbox=on: a forbidden "
		   "syscall kills it, the supervisor restarts\nit; log: the "
		   "kernel logs it). With user=U it drops to U after start-up "
		   "and\nopens the guests' stores as U when they connect: U "
		   "needs access to the images\nand devices (e.g. group disk) "
		   "and, on Xen, to /dev/xen/gntdev and /dev/xen/evtchn.\n");
	if (D.def->opts && D.def->opts->name) {
		fprintf(f, "\noptions:\n");
		for (o = D.def->opts; o->name; o++)
			fprintf(f, "  --%-22s %s\n", o->name, o->help);
	}
	fprintf(f, "\nkeys:\n");
	cfg_print_help(D.keys, f);
}

/* common_keys shifted into the daemon's struct, then def->keys. */
static struct cfg_key *merge_keys(const struct daemon_def *def)
{
	struct cfg_key *keys;
	size_t n = 0, i;

	while (def->keys && def->keys[n].name)
		n++;
	keys = calloc(NCOMMON + n + 1, sizeof(*keys));
	if (!keys)
		return NULL;
	for (i = 0; i < NCOMMON; i++) {
		keys[i] = common_keys[i];
		keys[i].offset += def->common_offset;
	}
	for (i = 0; i < n; i++)
		keys[NCOMMON + i] = def->keys[i];
	return keys;
}

static struct option *build_options(const struct daemon_def *def)
{
	static const struct option fixed[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 'S' },
		{ "single", no_argument, NULL, 's' },
		{ "worker", required_argument, NULL, 'w' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "syslog", no_argument, NULL, 'y' },
		{ "help", no_argument, NULL, 'h' },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "json", no_argument, NULL, OPT_JSON },
	};
	size_t nfixed = sizeof(fixed) / sizeof(fixed[0]), n = 0, i;
	struct option *opts;

	while (def->opts && def->opts[n].name)
		n++;
	opts = calloc(nfixed + n + 1, sizeof(*opts));
	if (!opts)
		return NULL;
	memcpy(opts, fixed, sizeof(fixed));
	for (i = 0; i < n; i++) {
		opts[nfixed + i].name = def->opts[i].name;
		opts[nfixed + i].has_arg =
			def->opts[i].has_arg ? required_argument : no_argument;
		opts[nfixed + i].val = OPT_DEF + (int)i;
	}
	return opts;
}

/* Queue one command-line setting. 0, or -E2BIG (said on stderr). */
static int add_arg(struct daemon_arg *args, int *nargs, int what,
		   const char *val)
{
	if (*nargs == DAEMON_MAX_ARGS) {
		fprintf(stderr, "%s: too many --set\n", D.def->name);
		return -E2BIG;
	}
	args[*nargs].what = what;
	args[*nargs].val = val;
	(*nargs)++;
	return 0;
}

/* Parse a guest domid strictly: the supervisor wrote it, but a typo by hand
 * must not become domain 0. */
static int parse_domid(const char *s, int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || s[0] < '0' || s[0] > '9' || v > 0x7FEF)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* The file, then the command line in its order. 0, or an exit status. */
static int configure(const char *config, const struct daemon_arg *args,
		     int nargs)
{
	const char *name = D.def->name;
	char err[512], path[PATH_MAX];
	int rc, i;

	/* A missing default file is fine; a missing --config file is not. */
	if (!config)
		snprintf(path, sizeof(path), "/etc/pvback/%s.conf", name);
	rc = cfg_load(D.keys, D.conf, config ? config : path, err, sizeof(err));
	if (rc && !(rc == -ENOENT && !config)) {
		fprintf(stderr, "%s: %s\n", name, err);
		return 2;
	}
	for (i = 0; i < nargs; i++) {
		const struct daemon_opt *o;

		switch (args[i].what) {
		case 'S':
			rc = cfg_set_arg(D.keys, D.conf, args[i].val, err,
					 sizeof(err));
			break;
		case 'l':
			rc = cfg_set(D.keys, D.conf, "log-level", args[i].val,
				     "--log-level", err, sizeof(err));
			break;
		default:
			o = &D.def->opts[args[i].what - OPT_DEF];
			if (o->fn(D.conf, args[i].val))
				return 2;
			continue;
		}
		if (rc) {
			fprintf(stderr, "%s: %s\n", name, err);
			return 2;
		}
	}
	return 0;
}

/* Everything that must hold before anything starts. 0, or exit status 2. */
static int validate(enum log_level *level)
{
	const char *name = D.def->name;
	char err[512];
	uid_t uid;
	gid_t gid;
	int rc;

	if (log_level_parse(D.dc->log_level, level)) {
		fprintf(stderr,
			"%s: log-level: '%s' is not one of err, warn, "
			"info, debug\n",
			name, D.dc->log_level);
		return 2;
	}
	memcpy(D.kinds_buf, D.dc->kinds, sizeof(D.kinds_buf));
	if (daemon_split_kinds(D.kinds_buf, D.kinds, DAEMON_MAX_KINDS) == 0) {
		fprintf(stderr, "%s: kinds: no backend kind\n", name);
		return 2;
	}
	/* Checked by the supervisor too, so a bad user fails the start
	 * rather than every worker. */
	if (D.dc->user[0]) {
		rc = sandbox_user_lookup(D.dc->user, &uid, &gid);
		if (rc) {
			fprintf(stderr, "%s: user: '%s': %s\n", name,
				D.dc->user,
				rc == -ENOENT	? "no such user"
				: rc == -EINVAL ? "is root: leave it empty to "
						  "stay root"
						: strerror(-rc));
			return 2;
		}
	}
	if (D.def->validate && D.def->validate(D.conf, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", name, err);
		return 2;
	}
	return 0;
}

/*
 * A worker's confinement once its handles are open (daemon.h). The
 * event channel restriction came first, in run_server(). 0/-errno.
 */
static int confine_worker(void)
{
	const struct daemon_def *def = D.def;
	int rc;

	if (def->pre_sandbox) {
		rc = def->pre_sandbox(D.conf, (unsigned int)D.worker);
		if (rc) {
			log_err(NULL, "preparing the sandbox: %s",
				strerror(-rc));
			return rc;
		}
	}
	if (D.dc->user[0]) {
		rc = sandbox_drop_user(D.dc->user, def->keep_caps);
		if (rc) {
			log_err(NULL, "cannot become user %s: %s", D.dc->user,
				strerror(-rc));
			return rc;
		}
	}
	if (D.dc->sandbox != SANDBOX_OFF) {
		rc = sandbox_seccomp(D.dc->sandbox, def->extra_syscalls,
				     def->extra_ioctls);
		if (rc) {
			log_err(NULL, "cannot load the seccomp filter: %s",
				strerror(-rc));
			return rc;
		}
	}
	if (D.dc->user[0] || D.dc->sandbox != SANDBOX_OFF)
		log_info(NULL, "sandbox %s, running as %s%s",
			 sandbox_modes[D.dc->sandbox],
			 D.dc->user[0] ? D.dc->user : "root",
			 D.dc->user[0] && def->keep_caps
				 ? " (keeping the capabilities it needs)"
				 : "");
	return 0;
}

/* A worker or --single process: serve through xbus. 0/-errno. */
static int run_server(void)
{
	struct xbus_cfg xcfg = { .kinds = D.kinds, .fe_domid = D.worker };
	const struct xbus_driver *drv;
	int rc;

	/* Before xbus may connect a device and open its handles. */
	if (D.worker >= 0 && D.dc->sandbox != SANDBOX_OFF) {
		rc = sandbox_restrict_xen((unsigned int)D.worker);
		if (rc) {
			log_err(NULL, "cannot restrict event channels: %s",
				strerror(-rc));
			return rc;
		}
	}
	drv = D.def->driver(D.conf, D.loop);
	rc = xbus_create(D.loop, &xcfg, drv, D.conf, &D.xb);
	if (rc) {
		log_err(NULL, "cannot start: %s", strerror(-rc));
		return rc;
	}
	D.tick.fn = on_tick;
	rc = loop_timer_arm(D.loop, &D.tick, D.def->tick_ms ?: 1000,
			    D.def->tick_ms ?: 1000);
	if (rc) {
		log_err(NULL, "cannot arm the tick: %s", strerror(-rc));
		return rc;
	}
	start_control();
	return D.worker >= 0 ? confine_worker() : 0;
}

int daemon_main(const struct daemon_def *def, int argc, char **argv)
{
	struct daemon_arg args[DAEMON_MAX_ARGS];
	const char *config = NULL;
	char ident[48], what[128] = "";
	struct option *opts;
	enum log_level level;
	int nargs = 0, single = 0, use_syslog = 0, stats = 0, json = 0;
	int c, rc, status = 1;
	sigset_t mask;

	D.def = def;
	D.conf = def->conf;
	D.dc = (struct daemon_conf *)((char *)def->conf + def->common_offset);
	D.worker = -1;
	snprintf(D.dc->kinds, sizeof(D.dc->kinds), "%s", def->default_kinds);
	snprintf(D.dc->run_dir, sizeof(D.dc->run_dir), "/run/pvback");
	snprintf(D.dc->log_level, sizeof(D.dc->log_level), "info");
	D.dc->sandbox = SANDBOX_ON;
	D.dc->user[0] = '\0';
	D.keys = merge_keys(def);
	opts = build_options(def);
	if (!D.keys || !opts) {
		fprintf(stderr, "%s: out of memory\n", def->name);
		goto out_free;
	}

	status = 2;
	while ((c = getopt_long(argc, argv, "c:S:sw:l:yh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'S':
		case 'l':
			if (add_arg(args, &nargs, c, optarg))
				goto out_free;
			break;
		case 's':
			single = 1;
			break;
		case 'w':
			if (parse_domid(optarg, &D.worker)) {
				fprintf(stderr,
					"%s: --worker: '%s' is not a "
					"guest domid\n",
					def->name, optarg);
				goto out_free;
			}
			break;
		case 'y':
			use_syslog = 1;
			break;
		case 'h':
			usage(stdout);
			status = 0;
			goto out_free;
		case OPT_STATS:
			stats = 1;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			if (c < OPT_DEF) {
				usage(stderr);
				goto out_free;
			}
			/* One of def->opts: applied in order with --set. */
			if (add_arg(args, &nargs, c, optarg))
				goto out_free;
			break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", def->name,
			argv[optind]);
		goto out_free;
	}
	status = configure(config, args, nargs);
	if (status)
		goto out_free;
	if (stats) {
		status = print_stats(json);
		goto out_free;
	}
	status = validate(&level);
	if (status)
		goto out_free;

	if (D.worker >= 0)
		snprintf(ident, sizeof(ident), "%s[dom%d]", def->name,
			 D.worker);
	else
		snprintf(ident, sizeof(ident), "%s", def->name);
	log_setup(ident, use_syslog ? LOG_TO_SYSLOG : LOG_TO_STDERR, level);

	status = 1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	/* A frontend gone mid-write must not kill us through a pipe. */
	signal(SIGPIPE, SIG_IGN);
	D.loop = loop_create(def->name);
	if (!D.loop)
		goto out_free;
	D.sig.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	D.sig.fn = on_signal;
	if (D.sig.fd < 0 || loop_fd_add(D.loop, &D.sig, EPOLLIN))
		goto out_loop;

	if (single || D.worker >= 0) {
		if (run_server())
			goto out_stop;
	} else {
		struct super_cfg scfg = { .kinds = D.kinds, .argv = argv };

		rc = super_create(D.loop, &scfg, &D.sv);
		if (rc) {
			log_err(NULL, "cannot start the supervisor: %s",
				strerror(-rc));
			goto out_loop;
		}
	}
	if (def->describe)
		def->describe(def->conf, what, sizeof(what));
	log_info(NULL, "running (%s)%s%s, kinds %s",
		 single		 ? "single process"
		 : D.worker >= 0 ? "worker"
				 : "supervisor",
		 what[0] ? ", " : "", what, D.dc->kinds);
	status = loop_run(D.loop) ? 1 : 0;
out_stop:
	stats_srv_destroy(D.ctl);
	xbus_destroy(D.xb);
	super_destroy(D.sv, 2000);
out_loop:
	loop_destroy(D.loop);
	if (D.sig.fd >= 0)
		close(D.sig.fd);
out_free:
	free(opts);
	free(D.keys);
	return status;
}
