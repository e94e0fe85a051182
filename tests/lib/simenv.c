// SPDX-License-Identifier: MIT
/*
 * simenv.c - start, enter and stop a private emulated Xen for a test.
 *
 * Everything goes through tests/xensim/xensim, the same entry point people
 * and benchmarks use, so the tests exercise it too.
 */
#include "lib/simenv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/xen.h"
#include "lib/check.h"

/*
 * The instance to stop at exit: a copy, because the caller's struct may
 * live on main()'s stack, which is gone when atexit handlers run.
 */
static struct simenv atexit_copy;
static struct simenv *atexit_env;

static const char *tree(const char *var, const char *def, const char *rel)
{
	static char buf[2][PATH_MAX];
	static int which;
	const char *base = getenv(var);
	char *b = buf[which ^= 1];

	snprintf(b, PATH_MAX, "%s/%s", base && *base ? base : def, rel);
	return b;
}

const char *simenv_src(const char *rel)
{
	return tree("PVBACK_SRC", ".", rel);
}

const char *simenv_build(const char *rel)
{
	return tree("PVBACK_BUILD", "build", rel);
}

static void simenv_atexit(void)
{
	if (atexit_env)
		simenv_down(atexit_env);
}

int simenv_up(struct simenv *env, unsigned int guests)
{
	const char *tmp = getenv("TMPDIR");
	char cmd[PATH_MAX * 2 + 64];
	int rc;

	memset(env, 0, sizeof(*env));
	snprintf(env->dir, sizeof(env->dir), "%s/pvback-test.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(env->dir))
		return -errno;
	snprintf(cmd, sizeof(cmd), "%s up --dir %s --guests %u >&2",
		 simenv_src("tests/xensim/xensim"), env->dir, guests);
	rc = system(cmd);
	if (rc != 0) {
		fprintf(stderr, "simenv: '%s' failed (%d)\n", cmd, rc);
		rmdir(env->dir);
		return -EIO;
	}
	env->up = 1;
	if (!atexit_env) {
		atexit_copy = *env;
		atexit_env = &atexit_copy;
		atexit(simenv_atexit);
	}
	return 0;
}

void simenv_down(struct simenv *env)
{
	char cmd[PATH_MAX * 2 + 64];

	if (!env->up)
		return;
	env->up = 0;
	if (env != &atexit_copy && !strcmp(env->dir, atexit_copy.dir))
		atexit_copy.up = 0;
	snprintf(cmd, sizeof(cmd), "%s down --dir %s >&2",
		 simenv_src("tests/xensim/xensim"), env->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "simenv: '%s' failed\n", cmd);
}

void simenv_become(const struct simenv *env, unsigned int domid)
{
	char buf[PATH_MAX + 32];

	snprintf(buf, sizeof(buf), "%s/dom%u.sock", env->dir, domid);
	setenv("XENSTORED_PATH", buf, 1);
	setenv("XENSIM_DIR", env->dir, 1);
	snprintf(buf, sizeof(buf), "%u", domid);
	setenv("XENSIM_DOMID", buf, 1);
}

pid_t simenv_fork_as(const struct simenv *env, unsigned int domid,
		     int (*fn)(void *arg), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* The child must not tear down the parent's instance. */
		atexit_env = NULL;
		simenv_become(env, domid);
		_exit(fn(arg));
	}
	return pid;
}

int simenv_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

int simenv_sh(const struct simenv *env, unsigned int domid, char *out,
	      size_t outlen, const char *fmt, ...)
{
	char cmd[4096], full[sizeof(cmd) + PATH_MAX * 2];
	va_list ap;
	FILE *f;
	size_t n = 0;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s run --dir %s %u sh -c '%s'",
		 simenv_src("tests/xensim/xensim"), env->dir, domid, cmd);
	fflush(NULL);
	f = popen(full, "r");
	if (!f)
		return -errno;
	if (out && outlen) {
		n = fread(out, 1, outlen - 1, f);
		out[n] = '\0';
		while (n && out[n - 1] == '\n')
			out[--n] = '\0';
	} else {
		char sink[512];

		while (fread(sink, 1, sizeof(sink), f) > 0)
			;
	}
	st = pclose(f);
	if (st < 0)
		return -errno;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

int simenv_xensim(const struct simenv *env, const char *cmd, const char *fmt,
		  ...)
{
	char args[2048], full[sizeof(args) + PATH_MAX * 2];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s %s --dir %s %s >&2",
		 simenv_src("tests/xensim/xensim"), cmd, env->dir, args);
	fflush(NULL);
	st = system(full);
	if (st < 0)
		return -errno;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

pid_t simenv_spawn(const struct simenv *env, unsigned int domid,
		   const char *log, char *const argv[])
{
	pid_t pid;
	int fd;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		atexit_env = NULL;
		simenv_become(env, domid);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int simenv_status_has(pid_t pid, const char *key, const char *value)
{
	char path[64], line[256], want[128];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	snprintf(want, sizeof(want), "%s:\t%s\n", key, value);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = !strcmp(line, want);
	fclose(f);
	return found;
}

long long simenv_stat_value(const char *json, const char *device,
			    const char *key)
{
	char pat[160];
	const char *p, *end;
	long long sum = 0;
	int found = 0;

	snprintf(pat, sizeof(pat), "{\"device\":\"%s\"", device);
	p = strstr(json, pat);
	if (!p)
		return -1;
	/* This device's object ends where the next device's begins. */
	end = strstr(p + 1, "{\"device\":");
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	while ((p = strstr(p, pat)) && (!end || p < end)) {
		p += strlen(pat);
		sum += strtoll(p, NULL, 10);
		found = 1;
	}
	return found ? sum : -1;
}

pid_t simenv_daemon(const struct simenv *env, const char *const *wrap,
		    const char *name, const char *const *opts, va_list sets,
		    const char *log)
{
	static char kv[17][PATH_MAX + 16];
	char *argv[64], cmd[PATH_MAX + 64];
	const char *s;
	int i = 0, n = 0;
	pid_t pid;

	for (; wrap && *wrap; wrap++)
		argv[i++] = (char *)*wrap;
	argv[i++] = (char *)simenv_build(name);
	for (; opts && *opts; opts++)
		argv[i++] = (char *)*opts;
	argv[i++] = "--log-level";
	argv[i++] = "debug";
	snprintf(kv[n], sizeof(kv[n]), "run-dir=%s", env->dir);
	argv[i++] = "--set";
	argv[i++] = kv[n++];
	while ((s = va_arg(sets, const char *))) {
		CHECK(n < 17 && i < 60, "too many settings for %s", name);
		snprintf(kv[n], sizeof(kv[n]), "%s", s);
		argv[i++] = "--set";
		argv[i++] = kv[n++];
	}
	argv[i] = NULL;
	pid = simenv_spawn(env, 0, log, argv);
	CHECK(pid > 0, "spawn %s", name);
	usleep(100000);
	if (waitpid(pid, NULL, WNOHANG) == pid) {
		snprintf(cmd, sizeof(cmd), "sed 's/^/    | /' %s >&2", log);
		if (system(cmd) != 0)
			fprintf(stderr, "(no log)\n");
		CHECK(0, "%s exited at start", name);
	}
	return pid;
}

/* Dom0's xenstore connection for simenv_read, opened on first use. */
static struct xen_store *dom0_store;

const char *simenv_read(const char *fmt, ...)
{
	static char val[1024];
	char path[512], *v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (!dom0_store)
		CHECK(xen_store_open(&dom0_store) == 0, "Dom0 xenstore");
	if (xen_store_read(dom0_store, XEN_TXN_NONE, path, &v, NULL))
		return NULL;
	snprintf(val, sizeof(val), "%s", v);
	free(v);
	return val;
}

void simenv_write(const char *path, const char *val)
{
	if (!dom0_store)
		CHECK(xen_store_open(&dom0_store) == 0, "Dom0 xenstore");
	CHECK(xen_store_write(dom0_store, XEN_TXN_NONE, path, val) == 0,
	      "write %s", path);
}

int simenv_wait_value(const char *path, const char *val,
		      unsigned int timeout_ms)
{
	/* Polling keeps this independent of the code under test's watches. */
	for (unsigned int waited = 0; waited <= timeout_ms; waited += 10) {
		const char *v = simenv_read("%s", path);

		if (v && !strcmp(v, val))
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

pid_t simenv_worker_pid(pid_t daemon, const char *name, unsigned int dom)
{
	char cmd[160];
	FILE *p;
	int pid = 0;

	snprintf(cmd, sizeof(cmd), "pgrep -P %d -f '%s .*--worker %u$'",
		 (int)daemon, name, dom);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	if (fscanf(p, "%d", &pid) != 1)
		pid = 0;
	pclose(p);
	return (pid_t)pid;
}
