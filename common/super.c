// SPDX-License-Identifier: MIT
/*
 * super.c - see super.h.
 *
 * Scans are cheap and idempotent: on any event at the depth of a device
 * directory (or shallower) the supervisor lists the frontend domains with
 * devices and starts what is missing. SIGCHLD arrives through a signalfd on
 * the loop, so reaping never races with the scan.
 */
#include "common/super.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xbus.h"
#include "common/xen.h"

#define SUPER_QUICK_DEATH_MS 10000 /* a worker dying sooner backs off */
#define SUPER_BACKOFF_MIN_MS 100

struct worker {
	unsigned int fe;
	pid_t pid; /* 0: not running */
	unsigned int starts;
	unsigned int quick_deaths; /* consecutive */
	uint64_t started_ms;
	uint64_t not_before_ms; /* backoff: no start before this */
	bool wanted;		/* scratch for a scan */
};

struct super {
	struct loop *loop;
	struct xen_store *xs;
	struct loop_fd watch_lfd;
	struct loop_fd sig_lfd;
	struct loop_timer retry;
	struct loop_timer alive; /* xenstored still there? */
	char **kinds;
	unsigned int nkinds;
	char *const *argv;
	unsigned int argc;
	const char *exe;
	unsigned int backoff_max_ms;
	char base[64];
	struct worker *w;
	unsigned int nw, capw;
	sigset_t old_mask;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct worker *super_worker(struct super *sv, unsigned int fe,
				   bool create)
{
	struct worker *w;
	unsigned int i;

	for (i = 0; i < sv->nw; i++)
		if (sv->w[i].fe == fe)
			return &sv->w[i];
	if (!create)
		return NULL;
	if (sv->nw == sv->capw) {
		unsigned int cap = sv->capw ? sv->capw * 2 : 8;

		w = realloc(sv->w, cap * sizeof(*w));
		if (!w)
			return NULL;
		sv->w = w;
		sv->capw = cap;
	}
	w = &sv->w[sv->nw++];
	memset(w, 0, sizeof(*w));
	w->fe = fe;
	return w;
}

pid_t super_worker_pid(const struct super *sv, unsigned int fe)
{
	unsigned int i;

	for (i = 0; i < sv->nw; i++)
		if (sv->w[i].fe == fe)
			return sv->w[i].pid;
	return 0;
}

unsigned int super_worker_starts(const struct super *sv, unsigned int fe)
{
	unsigned int i;

	for (i = 0; i < sv->nw; i++)
		if (sv->w[i].fe == fe)
			return sv->w[i].starts;
	return 0;
}

static int super_spawn(struct super *sv, struct worker *w)
{
	char fe[16];
	char **argv;
	unsigned int i;
	pid_t pid;

	argv = calloc(sv->argc + 3, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	snprintf(fe, sizeof(fe), "%u", w->fe);
	for (i = 0; i < sv->argc; i++)
		argv[i] = sv->argv[i];
	argv[i++] = "--worker";
	argv[i++] = fe;
	argv[i] = NULL;

	pid = fork();
	if (pid < 0) {
		int rc = -errno;

		free(argv);
		return rc;
	}
	if (pid == 0) {
		/* The worker starts with the signal mask the daemon had. */
		sigprocmask(SIG_SETMASK, &sv->old_mask, NULL);
		execv(sv->exe, argv);
		log_err(NULL, "cannot exec %s for domain %u: %s", sv->exe,
			w->fe, strerror(errno));
		_exit(127);
	}
	free(argv);
	w->pid = pid;
	w->starts++;
	w->started_ms = now_ms();
	log_info(NULL, "worker for domain %u started (pid %d)", w->fe,
		 (int)pid);
	return 0;
}

/* Does backend/<kind>/<fe> hold at least one device directory? */
static bool super_has_devices(struct super *sv, const char *kind,
			      const char *fe)
{
	char path[256], **ids;
	unsigned int n;

	snprintf(path, sizeof(path), "%s/backend/%s/%s", sv->base, kind, fe);
	if (xen_store_ls(sv->xs, XEN_TXN_NONE, path, &ids, &n))
		return false;
	free(ids);
	return n > 0;
}

static void super_arm_retry(struct super *sv)
{
	uint64_t next = 0, now = now_ms();
	unsigned int i;

	for (i = 0; i < sv->nw; i++) {
		struct worker *w = &sv->w[i];

		if (w->wanted && !w->pid && w->not_before_ms > now &&
		    (!next || w->not_before_ms < next))
			next = w->not_before_ms;
	}
	if (next)
		loop_timer_arm(sv->loop, &sv->retry, next - now, 0);
}

static void super_scan(struct super *sv)
{
	char path[256], **fes, *end;
	unsigned int k, n, i;
	unsigned long fe;
	uint64_t now = now_ms();
	struct worker *w;

	for (i = 0; i < sv->nw; i++)
		sv->w[i].wanted = false;
	for (k = 0; k < sv->nkinds; k++) {
		snprintf(path, sizeof(path), "%s/backend/%s", sv->base,
			 sv->kinds[k]);
		if (xen_store_ls(sv->xs, XEN_TXN_NONE, path, &fes, &n))
			continue;
		for (i = 0; i < n; i++) {
			errno = 0;
			fe = strtoul(fes[i], &end, 10);
			if (errno || *end || fes[i][0] < '0' ||
			    fes[i][0] > '9' || fe > 0x7FEF)
				continue;
			if (!super_has_devices(sv, sv->kinds[k], fes[i]))
				continue;
			w = super_worker(sv, (unsigned int)fe, true);
			if (w)
				w->wanted = true;
		}
		free(fes);
	}
	for (i = 0; i < sv->nw; i++) {
		w = &sv->w[i];
		if (w->wanted && !w->pid && w->not_before_ms <= now) {
			int rc = super_spawn(sv, w);

			if (rc)
				log_err(NULL,
					"cannot start a worker for domain %u: %s",
					w->fe, strerror(-rc));
		}
	}
	super_arm_retry(sv);
}

static void super_retry(struct loop_timer *t)
{
	struct super *sv =
		(struct super *)((char *)t - offsetof(struct super, retry));

	super_scan(sv);
}

static void super_reap(struct super *sv)
{
	int status;
	pid_t pid;
	unsigned int i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct worker *w = NULL;
		uint64_t ran;

		for (i = 0; i < sv->nw; i++)
			if (sv->w[i].pid == pid)
				w = &sv->w[i];
		if (!w)
			continue;
		w->pid = 0;
		ran = now_ms() - w->started_ms;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			log_info(
				NULL,
				"worker for domain %u (pid %d) exited: no devices left",
				w->fe, (int)pid);
			w->quick_deaths = 0;
			continue;
		}
		if (WIFSIGNALED(status))
			log_err(NULL,
				"worker for domain %u (pid %d) killed by signal %d (%s)%s after %llu ms",
				w->fe, (int)pid, WTERMSIG(status),
				strsignal(WTERMSIG(status)),
				WCOREDUMP(status) ? ", core dumped" : "",
				(unsigned long long)ran);
		else
			log_err(NULL,
				"worker for domain %u (pid %d) exited with status %d after %llu ms",
				w->fe, (int)pid, WEXITSTATUS(status),
				(unsigned long long)ran);
		if (ran < SUPER_QUICK_DEATH_MS) {
			uint64_t delay = SUPER_BACKOFF_MIN_MS;
			unsigned int j;

			for (j = 0;
			     j < w->quick_deaths && delay < sv->backoff_max_ms;
			     j++)
				delay *= 2;
			if (delay > sv->backoff_max_ms)
				delay = sv->backoff_max_ms;
			/* The first quick death restarts at once. */
			w->not_before_ms = w->quick_deaths ? now_ms() + delay
							   : 0;
			w->quick_deaths++;
		} else {
			w->quick_deaths = 0;
			w->not_before_ms = 0;
		}
	}
	super_scan(sv);
}

static void super_signal(struct loop_fd *lfd, uint32_t events)
{
	struct super *sv =
		(struct super *)((char *)lfd - offsetof(struct super, sig_lfd));
	struct signalfd_siginfo si;

	while (read(lfd->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	super_reap(sv);
}

/* Rescan only for events at device-directory depth or above. */
static bool super_shallow(const struct super *sv, const char *path)
{
	int depth = xbus_backend_depth(sv->base, path);

	return depth >= 0 && depth <= 2; /* kind/fe/devid */
}

static void super_watch(struct loop_fd *lfd, uint32_t events)
{
	struct super *sv = (struct super *)((char *)lfd -
					    offsetof(struct super, watch_lfd));
	char *path, *token;
	void *mem;
	bool scan = false;
	int budget = 256;

	while (budget-- > 0 &&
	       !xen_store_watch_next(sv->xs, &path, &token, &mem)) {
		scan |= super_shallow(sv, path);
		free(mem);
	}
	if (scan)
		super_scan(sv);
}

/* As xbus: without xenstored nothing can be supervised; stop (the workers
 * see the same loss and stop too). */
static void super_alive_tick(struct loop_timer *t)
{
	struct super *sv =
		(struct super *)((char *)t - offsetof(struct super, alive));
	int rc = xen_store_alive(sv->xs);

	if (!rc)
		return;
	log_err(NULL, "xenstore connection lost (%s): stopping", strerror(-rc));
	loop_timer_cancel(sv->loop, &sv->alive);
	loop_stop(sv->loop);
}

int super_create(struct loop *loop, const struct super_cfg *cfg,
		 struct super **out)
{
	struct super *sv = calloc(1, sizeof(*sv));
	char path[256];
	unsigned long self;
	sigset_t mask;
	unsigned int k;
	int rc;

	if (!sv)
		return -ENOMEM;
	sv->loop = loop;
	sv->argv = cfg->argv;
	while (cfg->argv[sv->argc])
		sv->argc++;
	sv->exe = cfg->exe ? cfg->exe : "/proc/self/exe";
	sv->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : 30000;
	sv->watch_lfd.fd = sv->sig_lfd.fd = -1;
	for (k = 0; cfg->kinds[k]; k++)
		;
	sv->kinds = calloc(k, sizeof(*sv->kinds));
	if (!sv->kinds && k) {
		rc = -ENOMEM;
		goto err_free;
	}
	for (; sv->nkinds < k; sv->nkinds++) {
		sv->kinds[sv->nkinds] = strdup(cfg->kinds[sv->nkinds]);
		if (!sv->kinds[sv->nkinds]) {
			rc = -ENOMEM;
			goto err_free;
		}
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, &sv->old_mask)) {
		rc = -errno;
		goto err_free;
	}
	sv->sig_lfd.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sv->sig_lfd.fd < 0) {
		rc = -errno;
		goto err_mask;
	}
	sv->sig_lfd.fn = super_signal;
	rc = loop_fd_add(loop, &sv->sig_lfd, EPOLLIN);
	if (rc)
		goto err_sigfd;

	rc = xen_store_open(&sv->xs);
	if (rc)
		goto err_sigloop;
	rc = xen_store_read_uint(sv->xs, XEN_TXN_NONE, "domid", 0x7FEF, &self);
	if (rc)
		goto err_store;
	snprintf(sv->base, sizeof(sv->base), "/local/domain/%lu", self);
	rc = xen_store_watch_fd(sv->xs);
	if (rc < 0)
		goto err_store;
	sv->watch_lfd.fd = rc;
	sv->watch_lfd.fn = super_watch;
	rc = loop_fd_add(loop, &sv->watch_lfd, EPOLLIN);
	if (rc)
		goto err_store;
	sv->retry.fn = super_retry;
	sv->alive.fn = super_alive_tick;
	rc = loop_timer_arm(loop, &sv->alive, XBUS_ALIVE_MS, XBUS_ALIVE_MS);
	if (rc)
		goto err_watchloop;
	for (k = 0; k < sv->nkinds; k++) {
		snprintf(path, sizeof(path), "%s/backend/%s", sv->base,
			 sv->kinds[k]);
		rc = xen_store_watch(sv->xs, path, "kind");
		if (rc)
			goto err_watchloop;
	}
	super_scan(sv);
	*out = sv;
	return 0;

err_watchloop:
	loop_timer_cancel(loop, &sv->alive);
	loop_fd_del(loop, &sv->watch_lfd);
err_store:
	xen_store_close(sv->xs);
err_sigloop:
	loop_fd_del(loop, &sv->sig_lfd);
err_sigfd:
	close(sv->sig_lfd.fd);
err_mask:
	sigprocmask(SIG_SETMASK, &sv->old_mask, NULL);
err_free:
	for (k = 0; k < sv->nkinds; k++)
		free(sv->kinds[k]);
	free(sv->kinds);
	free(sv);
	return rc;
}

void super_destroy(struct super *sv, unsigned int grace_ms)
{
	uint64_t deadline;
	unsigned int i, alive;
	int status;

	if (!sv)
		return;
	for (i = 0; i < sv->nw; i++)
		if (sv->w[i].pid)
			kill(sv->w[i].pid, SIGTERM);
	deadline = now_ms() + grace_ms;
	do {
		for (i = 0, alive = 0; i < sv->nw; i++) {
			if (!sv->w[i].pid)
				continue;
			if (waitpid(sv->w[i].pid, &status, WNOHANG) ==
			    sv->w[i].pid)
				sv->w[i].pid = 0;
			else
				alive++;
		}
		if (alive)
			usleep(10000);
	} while (alive && now_ms() < deadline);
	for (i = 0; i < sv->nw; i++) {
		if (sv->w[i].pid) {
			log_warn(
				NULL,
				"worker for domain %u did not stop: killing it",
				sv->w[i].fe);
			kill(sv->w[i].pid, SIGKILL);
			waitpid(sv->w[i].pid, &status, 0);
		}
	}
	loop_timer_cancel(sv->loop, &sv->retry);
	loop_timer_cancel(sv->loop, &sv->alive);
	loop_fd_del(sv->loop, &sv->watch_lfd);
	xen_store_close(sv->xs);
	loop_fd_del(sv->loop, &sv->sig_lfd);
	close(sv->sig_lfd.fd);
	sigprocmask(SIG_SETMASK, &sv->old_mask, NULL);
	for (i = 0; i < sv->nkinds; i++)
		free(sv->kinds[i]);
	free(sv->kinds);
	free(sv->w);
	free(sv);
}
