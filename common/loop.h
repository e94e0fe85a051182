/* SPDX-License-Identifier: MIT */
/*
 * loop.h - one epoll event loop per thread, messages between threads, timers.
 *
 * Every thread of a daemon (the control thread, each queue thread) runs one
 * struct loop. File descriptors are watched by the loop of the thread that
 * owns them; other threads never touch that state. To act on another
 * thread's objects, send it a message: the function runs on the target
 * thread, in order. Messages are for control (stop, reconfigure, snapshot
 * statistics), not for per-request work, so their queue may take a lock;
 * the fd callbacks on the fast path take none.
 */
#ifndef PVBACK_COMMON_LOOP_H
#define PVBACK_COMMON_LOOP_H

#include <pthread.h>
#include <stdint.h>

struct loop;

/* A watched fd. Embed it in the owner; fn runs on the loop's thread. */
struct loop_fd {
	void (*fn)(struct loop_fd *lfd, uint32_t events);
	int fd;
};

/* A timer. Embed it in the owner; fn runs on the loop's thread. */
struct loop_timer {
	void (*fn)(struct loop_timer *t);
	struct loop_fd lfd; /* the timerfd */
};

/* Create a loop; it runs on whichever thread calls loop_run(). NULL/errno. */
struct loop *loop_create(const char *name);
/*
 * Free the loop. Its thread must have returned from loop_run(); pending
 * messages are dropped without running. NULL-safe.
 */
void loop_destroy(struct loop *loop);
const char *loop_name(const struct loop *loop);

/* Watch @lfd->fd for @events (EPOLLIN...). Loop's thread only. 0/-errno. */
int loop_fd_add(struct loop *loop, struct loop_fd *lfd, uint32_t events);
int loop_fd_mod(struct loop *loop, struct loop_fd *lfd, uint32_t events);
/*
 * Stop watching; safe to free @lfd afterwards even from inside a callback of
 * the same batch (the loop skips events of fds deleted during the batch).
 */
int loop_fd_del(struct loop *loop, struct loop_fd *lfd);

/*
 * Arm @t to fire after @first_ms, then every @period_ms (0: once). Creates
 * the timerfd on first use. Loop's thread only. 0/-errno.
 */
int loop_timer_arm(struct loop *loop, struct loop_timer *t, uint64_t first_ms,
		   uint64_t period_ms);
/* Disarm and close the timerfd. NULL-safe on an unarmed timer. */
void loop_timer_cancel(struct loop *loop, struct loop_timer *t);

/*
 * Run the loop on the calling thread until loop_stop(). Returns 0, or -errno
 * if epoll itself failed.
 */
int loop_run(struct loop *loop);
/* Ask the loop to return from loop_run() after the current batch. Any thread. */
void loop_stop(struct loop *loop);

/*
 * Queue fn(arg) to run on @loop's thread, after messages queued before it.
 * Any thread. 0/-ENOMEM. If the loop is destroyed first, it never runs.
 */
int loop_post(struct loop *loop, void (*fn)(void *arg), void *arg);
/*
 * Run fn(arg) on @loop's thread and wait for it to finish. Any thread but
 * @loop's own (which would deadlock: that returns -EDEADLK). 0/-errno.
 */
int loop_call(struct loop *loop, void (*fn)(void *arg), void *arg);

/* Start a thread running loop_run(@loop), named after the loop. 0/-errno. */
int loop_thread_start(struct loop *loop, pthread_t *tid);

/* True if the calling thread is the one running @loop. */
int loop_is_current(const struct loop *loop);

#endif
