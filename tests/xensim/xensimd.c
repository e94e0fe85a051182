// SPDX-License-Identifier: MIT
/*
 * xensimd - the emulated Xen host of one test, benchmark or demo.
 *
 * One process, one thread, one epoll loop, playing two parts: the hypervisor
 * (hv.c: domains, guest memory, grant tables, event channels, served to the
 * drop-in libxengnttab / libxenevtchn on <dir>/dom<N>.hv) and xenstored
 * (xsd.c: the real wire protocol on <dir>/dom<N>.sock). This file glues
 * them: it owns the state directory, creates Dom0 at start, and turns a
 * xenstore INTRODUCE / RELEASE into the creation / destruction of a whole
 * domain. tests/xensim/xensim starts and stops it; see that script for use.
 *
 *   xensimd --dir DIR [--mem-mib MIB]
 *
 * DIR/ready appears once Dom0's sockets listen. SIGTERM or SIGINT stops the
 * loop, closes every client and removes the sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "xensim/hv.h"
#include "xensim/simloop.h"
#include "xensim/xsd.h"

/* Xen's DOMID_FIRST_RESERVED: ids from here on are never real domains. */
#define SIM_DOMID_MAX 0x7FEFU

struct sim {
	const char *dir;
	size_t mem_bytes; /* guest memory of each domain (sparse) */
	int epfd;
	int sigfd;
	int stop;
	struct simloop_src sig_src;
	struct hv *hv;
	struct xsd *xsd;
};

static void sim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sim_log(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "[%ld.%03ld] xensimd: ", (long)ts.tv_sec,
		ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int sim_sock_path(const struct sim *sim, unsigned int domid, char *buf,
			 size_t len)
{
	int n = snprintf(buf, len, "%s/dom%u.sock", sim->dir, domid);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* A domain is its hypervisor state plus its xenstore socket, made together. */
static int sim_domain_up(struct sim *sim, unsigned int domid)
{
	char path[PATH_MAX];
	int rc;

	if (domid > SIM_DOMID_MAX)
		return -EINVAL;
	rc = sim_sock_path(sim, domid, path, sizeof(path));
	if (rc)
		return rc;
	rc = hv_domain_create(sim->hv, domid, sim->mem_bytes);
	if (rc)
		return rc;
	rc = xsd_listen(sim->xsd, domid, path);
	if (rc)
		goto err_destroy;
	sim_log("domain %u created", domid);
	return 0;

err_destroy:
	hv_domain_destroy(sim->hv, domid);
	return rc;
}

static int sim_introduce(void *arg, unsigned int domid)
{
	struct sim *sim = arg;

	/* Dom0 exists from the start and is never introduced again. */
	if (domid == 0)
		return -EINVAL;
	return sim_domain_up(sim, domid);
}

static int sim_release(void *arg, unsigned int domid)
{
	struct sim *sim = arg;
	int rc;

	if (domid == 0)
		return -EINVAL;
	rc = hv_domain_destroy(sim->hv, domid);
	if (rc)
		return rc;
	xsd_unlisten(sim->xsd, domid);
	sim_log("domain %u destroyed", domid);
	return 0;
}

static void sim_signal(struct simloop_src *src, uint32_t events)
{
	struct sim *sim =
		(struct sim *)((char *)src - offsetof(struct sim, sig_src));
	struct signalfd_siginfo si;

	if (read(sim->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		sim_log("signal %u, stopping", si.ssi_signo);
		sim->stop = 1;
	}
}

static int sim_write_ready(const struct sim *sim)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/ready", sim->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	dprintf(fd, "%d\n", (int)getpid());
	close(fd);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: xensimd --dir DIR [--mem-mib MIB]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "mem-mib", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sim sim = { .mem_bytes = 1024UL << 20, .epfd = -1, .sigfd = -1 };
	struct xsd_hooks hooks = {
		.introduce = sim_introduce,
		.release = sim_release,
		.arg = &sim,
	};
	char ready[PATH_MAX];
	sigset_t mask;
	unsigned long mib;
	char *end;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "d:m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			sim.dir = optarg;
			break;
		case 'm':
			errno = 0;
			mib = strtoul(optarg, &end, 10);
			if (errno || *end || mib == 0 || mib > (1UL << 20)) {
				fprintf(stderr, "xensimd: bad --mem-mib '%s'\n",
					optarg);
				return 2;
			}
			sim.mem_bytes = mib << 20;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!sim.dir || optind != argc) {
		usage(stderr);
		return 2;
	}

	/* A client vanishing mid-write must cost that client, not us. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL)) {
		perror("xensimd: sigprocmask");
		return 1;
	}

	sim.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sim.epfd < 0) {
		perror("xensimd: epoll_create1");
		return 1;
	}
	sim.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sim.sigfd < 0) {
		perror("xensimd: signalfd");
		goto out_epoll;
	}
	sim.sig_src.fn = sim_signal;
	if (simloop_add(sim.epfd, sim.sigfd, EPOLLIN, &sim.sig_src))
		goto out_sigfd;

	sim.hv = hv_create(sim.epfd, sim.dir);
	if (!sim.hv) {
		sim_log("cannot create the hypervisor state in %s", sim.dir);
		goto out_sigfd;
	}
	sim.xsd = xsd_create(sim.epfd, &hooks, NULL);
	if (!sim.xsd) {
		sim_log("cannot create the xenstore");
		goto out_hv;
	}
	c = sim_domain_up(&sim, 0);
	if (c) {
		sim_log("cannot create Dom0: %s", strerror(-c));
		goto out_xsd;
	}
	c = sim_write_ready(&sim);
	if (c) {
		sim_log("cannot write %s/ready: %s", sim.dir, strerror(-c));
		goto out_xsd;
	}
	sim_log("up in %s, %zu MiB of memory per domain", sim.dir,
		sim.mem_bytes >> 20);

	while (!sim.stop) {
		struct epoll_event ev;
		int n = epoll_wait(sim.epfd, &ev, 1, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			sim_log("epoll_wait: %s", strerror(errno));
			goto out_ready;
		}
		if (n == 1)
			((struct simloop_src *)ev.data.ptr)
				->fn(ev.data.ptr, ev.events);
	}
	rc = 0;

out_ready:
	snprintf(ready, sizeof(ready), "%s/ready", sim.dir);
	unlink(ready);
out_xsd:
	xsd_destroy(sim.xsd);
out_hv:
	hv_destroy(sim.hv);
out_sigfd:
	close(sim.sigfd);
out_epoll:
	close(sim.epfd);
	return rc;
}
