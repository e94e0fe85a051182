// SPDX-License-Identifier: MIT
/*
 * Windows xenvbd always writes multi-queue-num-queues, even when it is 1,
 * and then uses the top-level ring-ref / event-channel keys
 * (spec/blkif-xenbus.md B.1 step 4). The backend must connect, as Linux
 * blkback does, and not look for queue-0/.
 */
#include <string.h>

#include "lib/check.h"
#include "lib/xtscen.h"

static int guest(void *arg)
{
	struct xt_guest g;

	return xt_guest_connect(&g, 768, 1, XT_WINDOWS) ? 1 : 0;
}

int main(void)
{
	struct xt_scen s;

	xt_start(&s, 1, "--single");
	xt_add(&s, 1, 768);
	CHECK(simenv_wait(simenv_fork_as(&s.env, 1, guest, NULL)) == 0,
	      "the Windows-style frontend did not connect");
	CHECK(!strcmp(xt_read(&s,
			      "/local/domain/1/device/xtest/768/multi-queue-num-queues")
			      ?: "",
		      "1"),
	      "the frontend did not write multi-queue-num-queues=1");
	CHECK(!strcmp(xt_read(&s, "%s/state", xt_be(1, 768)) ?: "", "4"),
	      "backend not Connected");
	CHECK(!xt_read(&s, "/local/domain/0/error/backend/xtest/1/768/error"),
	      "error node: %s",
	      xt_read(&s, "/local/domain/0/error/backend/xtest/1/768/error"));
	return TEST_PASS;
}
