/* SPDX-License-Identifier: MIT */
/*
 * daemon.h - the process of a pvback daemon, once for every daemon: command
 * line, configuration, signals, supervisor / worker / single process, the
 * 1 s tick, the control socket and `--stats`, the worker's sandbox.
 *
 * A daemon's main.c describes itself in a struct daemon_def and hands over:
 *
 *	struct net_conf {
 *		struct daemon_conf d;	// the keys daemon.c owns
 *		unsigned int max_queues;
 *		...
 *	};
 *	static struct net_conf conf = { .max_queues = 4, ... };	// defaults
 *	static const struct cfg_key net_keys[] = {
 *		{ "max-queues", CFG_UINT, offsetof(struct net_conf, max_queues),
 *		  0, 1, 16, NULL, "queues offered per vif" },
 *		CFG_END,
 *	};
 *	static const struct daemon_def net_def = {
 *		.name = "netbackd",
 *		.default_kinds = "vif",
 *		.keys = net_keys,
 *		.conf = &conf,
 *		.common_offset = offsetof(struct net_conf, d),
 *		.driver = net_driver,		// returns its xbus driver
 *		.dump_stats = net_dump_stats,	// optional
 *		...
 *	};
 *	int main(int argc, char **argv)
 *	{
 *		return daemon_main(&net_def, argc, argv);
 *	}
 *
 * Link common/daemon.c and common/sandbox.c into the daemon with
 * libseccomp: $(DAEMON_SRC) and $(DAEMON_LIBS) in the Makefile (they are
 * left out of $(COMMON_SRC), which tests and the fio engine link).
 *
 * The command line is the same for every daemon (<name> is def->name):
 *
 *   <name> [--config FILE] [--set KEY=VALUE]... [--single]
 *          [--log-level L] [--syslog] [--help] [def->opts...]
 *   <name> [--config FILE] [--set run-dir=DIR] --stats [--json]
 *   <name> ... --worker DOMID     (what the supervisor runs, not for people)
 *
 * The configuration is /etc/pvback/<name>.conf (a missing default file is
 * fine; a missing --config file is an error), then the command line in its
 * order: --set KEY=VALUE, --log-level L (= --set log-level=L) and the
 * daemon's own options (def->opts). The keys are the common ones below
 * (struct daemon_conf, which the daemon embeds in its own config struct at
 * def->common_offset) followed by def->keys; --help lists them all.
 *
 * Process model: by default a supervisor (common/super.c) keeps one worker
 * per guest domain, the same binary re-executed with "--worker DOMID"
 * appended; --single serves every guest in one process. A worker or
 * --single process runs the xbus driver def->driver() returns on its main
 * thread's loop, calls def->tick every tick period, listens on the control
 * socket <run-dir>/<name>.sock (--single) or <run-dir>/<name>-dom<N>.sock
 * (worker) if def->dump_stats is set, and stops on SIGTERM / SIGINT. A
 * worker exits (status 0) once its guest has no device left.
 *
 * A worker confines itself to its guest (common/sandbox.h). Unless
 * sandbox=off, every event channel handle it opens is restricted to the
 * guest. Once xbus and the control socket are up and def->pre_sandbox ran,
 * it drops to `user` if one is set (whatever `sandbox` says), then, unless
 * sandbox=off, loads the seccomp allow-list (plus def->extra_syscalls).
 * What is opened later (stores, ports, Xen handles when a guest connects)
 * is opened by the unprivileged, filtered worker. --single and the
 * supervisor are never confined (they serve or spawn for every guest).
 *
 * Exit status of daemon_main: 0 stopped by a signal or (worker) no device
 * left, 1 a runtime failure, 2 a usage or configuration error. Call it once,
 * from main(), before any thread exists.
 */
#ifndef PVBACK_COMMON_DAEMON_H
#define PVBACK_COMMON_DAEMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/cfg.h"
#include "common/loop.h"
#include "common/sandbox.h"

struct xbus_driver;

/*
 * The keys daemon.c owns, embedded in the daemon's config struct.
 * daemon_main() fills their defaults before reading the file (kinds from
 * def->default_kinds, run-dir /run/pvback, log-level info, sandbox on,
 * user empty): the daemon's own initialiser need not set them.
 */
struct daemon_conf {
	char kinds[128];    /* "kinds": backend kinds, comma-separated */
	char run_dir[128];  /* "run-dir": control sockets */
	char log_level[16]; /* "log-level": err, warn, info, debug */
	int sandbox;	    /* "sandbox": enum sandbox_mode */
	char user[32];	    /* "user": worker drops to it; "": stays root */
};

/*
 * A daemon's own command-line option (long form only, "--<name>"). fn runs
 * after the configuration file, in command-line order with --set, so it may
 * override a key. Returns 0, or -EINVAL to fail with a usage error (exit 2;
 * fn prints why to stderr).
 */
struct daemon_opt {
	const char *name; /* without "--" */
	int has_arg;	  /* 0: a flag; 1: takes a value */
	const char *help; /* one line for --help */
	int (*fn)(void *conf, const char *arg); /* @arg NULL for a flag */
};

/*
 * What daemon_main() needs to know about a daemon. Every hook gets def->conf
 * and runs on the main (control) thread; optional hooks may be NULL.
 */
struct daemon_def {
	/* "blkbackd": log ident, socket names, /etc/pvback/<name>.conf. */
	const char *name;
	/* One line for --help, after the usage. Optional. */
	const char *summary;
	/* Default of "kinds", e.g. "vbd3,vbd". */
	const char *default_kinds;

	/* The daemon's own keys (offsets into *conf), CFG_END-terminated. */
	const struct cfg_key *keys;
	/* The daemon's config struct, holding its defaults; filled in place. */
	void *conf;
	/* offsetof(the daemon's struct, its struct daemon_conf member). */
	size_t common_offset;
	/* Extra command-line options, ended by { .name = NULL }; or NULL. */
	const struct daemon_opt *opts;

	/*
	 * Optional: check the configuration once it is complete (file and
	 * command line), in every mode. 0, or -EINVAL with a message naming
	 * the key in @err: daemon_main() prints "<name>: <err>", exits 2.
	 */
	int (*validate)(void *conf, char *err, size_t errlen);
	/*
	 * The xbus driver a worker or --single process runs, for @conf, on
	 * control loop @ctl. Called once; xbus_driver_arg() is @conf.
	 * Required.
	 */
	const struct xbus_driver *(*driver)(void *conf, struct loop *ctl);
	/*
	 * Optional: a short description for the start-up log line, e.g.
	 * "engine uring" (written to @buf, at most @len bytes).
	 */
	void (*describe)(const void *conf, char *buf, size_t len);
	/* Optional: every tick (worker and --single), e.g. resize checks. */
	void (*tick)(void *conf);
	/* The tick period in ms; 0: 1000. */
	unsigned int tick_ms;
	/*
	 * Optional: answer "stats" (@json 0) or "stats json" (@json 1) on the
	 * control socket: text, or a comma-separated list of JSON objects
	 * (`--stats --json` wraps all processes' answers in one list). NULL:
	 * no control socket.
	 */
	void (*dump_stats)(void *conf, FILE *out, int json);
	/*
	 * Optional, workers only: called with the worker's guest @domid after
	 * xbus and the control socket are up, before the privilege drop and
	 * the seccomp filter: open here what needs root later. 0/-errno
	 * (the worker exits 1).
	 */
	int (*pre_sandbox)(void *conf, unsigned int domid);
	/*
	 * Syscall names the worker needs beyond sandbox.c's common list
	 * (e.g. "sendmmsg"; "socket" for families other than AF_UNIX),
	 * allowed with any arguments, NULL-terminated; or NULL.
	 */
	const char *const *extra_syscalls;
	/*
	 * ioctl requests the worker needs beyond the common list (gntdev,
	 * evtchn, block devices: e.g. TUNSETIFF, SIOCSIFFLAGS), 0-terminated;
	 * or NULL.
	 */
	const unsigned long *extra_ioctls;
	/*
	 * Capabilities (1 << CAP_*) a worker keeps when it drops to `user`,
	 * on its control thread and the queue threads it starts: what its
	 * allowed syscalls need later (netbackd: CAP_NET_ADMIN, for the TAP
	 * of a vif that appears after the drop). 0: none.
	 */
	uint64_t keep_caps;
};

/*
 * Run the daemon described by @def with the process's arguments (see the
 * top of this file). Returns the process exit status: 0, 1 or 2.
 */
int daemon_main(const struct daemon_def *def, int argc, char **argv);

/*
 * Split @list ("vbd3,vbd") in place at commas into @kinds, at most @max
 * entries followed by NULL (@kinds holds @max + 1). Returns the count.
 */
int daemon_split_kinds(char *list, const char **kinds, int max);

#endif
