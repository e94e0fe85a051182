// SPDX-License-Identifier: MIT
/*
 * loop.c - see loop.h.
 *
 * Messages: a mutex-protected FIFO and an eventfd that wakes the loop. The
 * lock is only ever held to link or unlink a message, never while one runs.
 *
 * Deleting an fd inside a batch: epoll_wait() may already have returned an
 * event for an fd whose owner a previous callback of the same batch freed.
 * Each loop keeps a deletion counter; after any deletion the rest of the
 * batch is re-checked against the set of fds deleted in this batch.
 */
#include "common/loop.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define LOOP_BATCH 64

struct loop_msg {
	struct loop_msg *next;
	void (*fn)(void *arg);
	void *arg;
};

struct loop {
	char name[32];
	int epfd;
	struct loop_fd wake; /* eventfd: messages or stop */
	volatile int stop;
	pthread_t thread;
	int running;

	pthread_mutex_t lock; /* protects head/tail only */
	struct loop_msg *head, *tail;

	/* Fds deleted during the current batch (see the top comment). */
	struct loop_fd *deleted[LOOP_BATCH];
	unsigned int ndeleted;
	int in_batch;
};

static void loop_wake_read(struct loop_fd *lfd, uint32_t events);

struct loop *loop_create(const char *name)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	snprintf(loop->name, sizeof(loop->name), "%s", name ? name : "loop");
	pthread_mutex_init(&loop->lock, NULL);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		goto err_free;
	loop->wake.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake.fd < 0)
		goto err_epoll;
	loop->wake.fn = loop_wake_read;
	if (loop_fd_add(loop, &loop->wake, EPOLLIN))
		goto err_eventfd;
	return loop;

err_eventfd:
	close(loop->wake.fd);
err_epoll:
	close(loop->epfd);
err_free:
	pthread_mutex_destroy(&loop->lock);
	free(loop);
	return NULL;
}

void loop_destroy(struct loop *loop)
{
	struct loop_msg *m, *next;

	if (!loop)
		return;
	for (m = loop->head; m; m = next) {
		next = m->next;
		free(m);
	}
	close(loop->wake.fd);
	close(loop->epfd);
	pthread_mutex_destroy(&loop->lock);
	free(loop);
}

const char *loop_name(const struct loop *loop)
{
	return loop->name;
}

int loop_fd_add(struct loop *loop, struct loop_fd *lfd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = lfd };

	return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, lfd->fd, &ev) ? -errno : 0;
}

int loop_fd_mod(struct loop *loop, struct loop_fd *lfd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = lfd };

	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, lfd->fd, &ev) ? -errno : 0;
}

int loop_fd_del(struct loop *loop, struct loop_fd *lfd)
{
	int rc = epoll_ctl(loop->epfd, EPOLL_CTL_DEL, lfd->fd, NULL) ? -errno
								     : 0;

	if (loop->in_batch && loop->ndeleted < LOOP_BATCH)
		loop->deleted[loop->ndeleted++] = lfd;
	else if (loop->in_batch)
		loop->ndeleted = LOOP_BATCH + 1; /* overflow: drop the batch */
	return rc;
}

static void loop_timer_fire(struct loop_fd *lfd, uint32_t events)
{
	struct loop_timer *t =
		(struct loop_timer *)((char *)lfd -
				      offsetof(struct loop_timer, lfd));
	uint64_t expirations;

	if (read(lfd->fd, &expirations, sizeof(expirations)) !=
	    (ssize_t)sizeof(expirations))
		return;
	t->fn(t);
}

int loop_timer_arm(struct loop *loop, struct loop_timer *t, uint64_t first_ms,
		   uint64_t period_ms)
{
	struct itimerspec its = {
		.it_value = { first_ms / 1000, (first_ms % 1000) * 1000000 },
		.it_interval = { period_ms / 1000,
				 (period_ms % 1000) * 1000000 },
	};
	int rc;

	/* A zero it_value disarms: fire "now" as 1 ns instead. */
	if (!first_ms)
		its.it_value.tv_nsec = 1;
	if (t->lfd.fn != loop_timer_fire) {
		t->lfd.fd = timerfd_create(CLOCK_MONOTONIC,
					   TFD_CLOEXEC | TFD_NONBLOCK);
		if (t->lfd.fd < 0)
			return -errno;
		t->lfd.fn = loop_timer_fire;
		rc = loop_fd_add(loop, &t->lfd, EPOLLIN);
		if (rc) {
			close(t->lfd.fd);
			t->lfd.fn = NULL;
			return rc;
		}
	}
	return timerfd_settime(t->lfd.fd, 0, &its, NULL) ? -errno : 0;
}

void loop_timer_cancel(struct loop *loop, struct loop_timer *t)
{
	if (t->lfd.fn != loop_timer_fire)
		return;
	loop_fd_del(loop, &t->lfd);
	close(t->lfd.fd);
	t->lfd.fn = NULL;
	t->lfd.fd = -1;
}

static void loop_kick(struct loop *loop)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is already non-zero: the loop will wake. */
	if (write(loop->wake.fd, &one, sizeof(one)) < 0)
		return;
}

static void loop_wake_read(struct loop_fd *lfd, uint32_t events)
{
	struct loop *loop =
		(struct loop *)((char *)lfd - offsetof(struct loop, wake));
	struct loop_msg *m;
	uint64_t n;

	if (read(lfd->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	/* Run only what is queued now: a message that posts to its own loop
	 * must not keep this callback from returning. */
	pthread_mutex_lock(&loop->lock);
	m = loop->head;
	loop->head = loop->tail = NULL;
	pthread_mutex_unlock(&loop->lock);
	while (m) {
		struct loop_msg *next = m->next;

		m->fn(m->arg);
		free(m);
		m = next;
	}
}

int loop_run(struct loop *loop)
{
	struct epoll_event ev[LOOP_BATCH];
	int n, i;
	unsigned int j;

	loop->thread = pthread_self();
	loop->running = 1;
	while (!loop->stop) {
		n = epoll_wait(loop->epfd, ev, LOOP_BATCH, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			loop->running = 0;
			return -errno;
		}
		loop->in_batch = 1;
		loop->ndeleted = 0;
		for (i = 0; i < n; i++) {
			struct loop_fd *lfd = ev[i].data.ptr;

			if (loop->ndeleted > LOOP_BATCH)
				break; /* too many deletions to track */
			for (j = 0; j < loop->ndeleted; j++)
				if (loop->deleted[j] == lfd)
					break;
			if (j < loop->ndeleted)
				continue;
			lfd->fn(lfd, ev[i].events);
		}
		loop->in_batch = 0;
	}
	loop->running = 0;
	return 0;
}

void loop_stop(struct loop *loop)
{
	loop->stop = 1;
	loop_kick(loop);
}

int loop_post(struct loop *loop, void (*fn)(void *arg), void *arg)
{
	struct loop_msg *m = malloc(sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->fn = fn;
	m->arg = arg;
	pthread_mutex_lock(&loop->lock);
	if (loop->tail)
		loop->tail->next = m;
	else
		loop->head = m;
	loop->tail = m;
	pthread_mutex_unlock(&loop->lock);
	loop_kick(loop);
	return 0;
}

struct loop_call_msg {
	void (*fn)(void *arg);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	int done;
};

static void loop_call_run(void *arg)
{
	struct loop_call_msg *c = arg;

	c->fn(c->arg);
	pthread_mutex_lock(&c->lock);
	c->done = 1;
	pthread_cond_signal(&c->done_cv);
	pthread_mutex_unlock(&c->lock);
}

int loop_call(struct loop *loop, void (*fn)(void *arg), void *arg)
{
	struct loop_call_msg c = { .fn = fn, .arg = arg };
	int rc;

	if (loop_is_current(loop))
		return -EDEADLK;
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.done_cv, NULL);
	rc = loop_post(loop, loop_call_run, &c);
	if (!rc) {
		pthread_mutex_lock(&c.lock);
		while (!c.done)
			pthread_cond_wait(&c.done_cv, &c.lock);
		pthread_mutex_unlock(&c.lock);
	}
	pthread_cond_destroy(&c.done_cv);
	pthread_mutex_destroy(&c.lock);
	return rc;
}

static void *loop_thread_main(void *arg)
{
	struct loop *loop = arg;

	loop_run(loop);
	return NULL;
}

int loop_thread_start(struct loop *loop, pthread_t *tid)
{
	char name[16];
	int rc = pthread_create(tid, NULL, loop_thread_main, loop);

	if (rc)
		return -rc;
	/* Thread names show in top -H and in core dumps: worth the syscall. */
	snprintf(name, sizeof(name), "%.15s", loop->name);
	pthread_setname_np(*tid, name);
	return 0;
}

int loop_is_current(const struct loop *loop)
{
	return loop->running && pthread_equal(loop->thread, pthread_self());
}
