/* SPDX-License-Identifier: MIT */
/*
 * simloop.h - the tiny epoll dispatch contract shared by the parts of xensimd.
 *
 * xensimd is one thread around one epoll fd. Every module that owns file
 * descriptors (the xenstore server in xsd.c, the hypervisor in hv.c) embeds a
 * struct simloop_src per fd and registers it here; the main loop in xensimd.c
 * calls src->fn with the epoll event mask. Nothing here is thread-safe, and
 * nothing needs to be: xensimd has exactly one thread.
 */
#ifndef PVBACK_XENSIM_SIMLOOP_H
#define PVBACK_XENSIM_SIMLOOP_H

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>

struct simloop_src {
	/* Called from the main loop with the epoll events of this fd. */
	void (*fn)(struct simloop_src *src, uint32_t events);
};

/* Register @fd with @events; @src must outlive the registration. 0/-errno. */
static inline int simloop_add(int epfd, int fd, uint32_t events,
			      struct simloop_src *src)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* Change the events of a registered fd. 0/-errno. */
static inline int simloop_mod(int epfd, int fd, uint32_t events,
			      struct simloop_src *src)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

/*
 * Unregister @fd; call it before close(). The main loop takes one event per
 * epoll_wait(), so a callback may unregister and free any source, its own
 * included, without a stale pointer being dispatched later.
 */
static inline int simloop_del(int epfd, int fd)
{
	return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL) ? -errno : 0;
}

#endif
