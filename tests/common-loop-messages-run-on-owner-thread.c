// SPDX-License-Identifier: MIT
/*
 * The loop runs messages on its own thread, in the order each sender posted
 * them; loop_call() returns only after its function ran; a periodic timer
 * fires repeatedly; an fd deleted (and freed) by a callback is not
 * dispatched later in the same batch.
 */
#include "common/loop.h"

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/check.h"

#define PER_SENDER 2000

static struct loop *loop;
static pthread_t loop_tid;
static int last_seen[2] = { -1, -1 };
static int wrong_thread, out_of_order, ran;

struct msg {
	int sender, seq;
};

static void on_msg(void *arg)
{
	struct msg *m = arg;

	if (!pthread_equal(pthread_self(), loop_tid))
		wrong_thread++;
	if (m->seq != last_seen[m->sender] + 1)
		out_of_order++;
	last_seen[m->sender] = m->seq;
	ran++;
	free(m);
}

static void *sender(void *arg)
{
	int s = (int)(long)arg, i;

	for (i = 0; i < PER_SENDER; i++) {
		struct msg *m = malloc(sizeof(*m));

		m->sender = s;
		m->seq = i;
		if (loop_post(loop, on_msg, m))
			abort();
	}
	return NULL;
}

static void slow_set(void *arg)
{
	usleep(20000);
	*(int *)arg = 42;
}

static int ticks;
static void on_tick(struct loop_timer *t)
{
	ticks++;
}

/* Two readable eventfds; whichever runs first deletes and frees the other. */
static struct loop_fd *pair[2];
static int pair_calls;
static void on_pair(struct loop_fd *lfd, uint32_t events)
{
	int oi = lfd == pair[0]; /* index of the other one */
	struct loop_fd *other = pair[oi];

	pair_calls++;
	if (other) {
		loop_fd_del(loop, other);
		close(other->fd);
		memset(other, 0xa5,
		       sizeof(*other)); /* poison: a call crashes */
		free(other);
		pair[oi] = NULL;
	}
	loop_fd_del(loop, lfd);
}

static void setup_pair(void *arg)
{
	uint64_t one = 1;
	int i;

	for (i = 0; i < 2; i++) {
		pair[i] = calloc(1, sizeof(*pair[i]));
		pair[i]->fd = eventfd(0, EFD_CLOEXEC);
		pair[i]->fn = on_pair;
		CHECK(write(pair[i]->fd, &one, sizeof(one)) == 8,
		      "eventfd write");
		CHECK(loop_fd_add(loop, pair[i], EPOLLIN) == 0, "fd add");
	}
}

static struct loop_timer timer = { .fn = on_tick };
static void arm_timer(void *arg)
{
	CHECK(loop_timer_arm(loop, &timer, 1, 5) == 0, "timer arm");
}

static void read_ticks(void *arg)
{
	*(int *)arg = ticks;
	loop_timer_cancel(loop, &timer);
}

int main(void)
{
	pthread_t s0, s1;
	int value = 0, seen = 0, i;

	loop = loop_create("test-loop");
	CHECK(loop, "loop_create");
	CHECK(loop_thread_start(loop, &loop_tid) == 0, "thread start");

	pthread_create(&s0, NULL, sender, (void *)0L);
	pthread_create(&s1, NULL, sender, (void *)1L);
	pthread_join(s0, NULL);
	pthread_join(s1, NULL);

	CHECK(loop_call(loop, slow_set, &value) == 0, "loop_call");
	CHECK(value == 42, "loop_call returned before its function ran");
	/* loop_call queued behind every message: all have run now. */
	CHECK(ran == 2 * PER_SENDER, "%d of %d messages ran", ran,
	      2 * PER_SENDER);
	CHECK(!wrong_thread, "%d messages ran on another thread", wrong_thread);
	CHECK(!out_of_order, "%d messages out of order", out_of_order);

	CHECK(loop_call(loop, arm_timer, NULL) == 0, "arm");
	usleep(100000);
	CHECK(loop_call(loop, read_ticks, &seen) == 0, "read ticks");
	CHECK(seen >= 3, "periodic 5 ms timer fired %d times in 100 ms", seen);

	CHECK(loop_call(loop, setup_pair, NULL) == 0, "pair");
	for (i = 0; i < 50 && pair_calls == 0; i++)
		usleep(2000);
	usleep(10000);
	CHECK(loop_call(loop, slow_set, &value) == 0, "sync");
	CHECK(pair_calls == 1, "deleted fd dispatched: %d calls", pair_calls);

	loop_stop(loop);
	pthread_join(loop_tid, NULL);
	for (i = 0; i < 2; i++) {
		if (pair[i]) {
			close(pair[i]->fd);
			free(pair[i]);
		}
	}
	loop_destroy(loop);
	return TEST_PASS;
}
