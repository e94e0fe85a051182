// SPDX-License-Identifier: MIT
/*
 * xensim-xs-malformed-header-closes-one-client - a client announcing a
 * payload over XENSTORE_PAYLOAD_MAX is disconnected; nobody else notices.
 *
 * A raw client first checks the wire (a READ split into single bytes gets
 * its reply with req_id and tx_id echoed; an unknown type gets ERROR
 * "ENOSYS"), then sends a header with len 4097: the daemon closes that
 * connection (EOF) without waiting for the payload. A libxenstore handle
 * opened before and a raw client connected alongside both keep working.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xenstore.h>
#include <xen/io/xs_wire.h>

#include "lib/check.h"
#include "lib/simenv.h"

static int raw_connect(const struct simenv *env, unsigned int domid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0, "socket: %s", strerror(errno));
	CHECK(strlen(env->dir) < sizeof(sa.sun_path) - 16, "%s: too long",
	      env->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.90s/dom%u.sock", env->dir,
		 domid);
	CHECK(!connect(fd, (struct sockaddr *)&sa, sizeof(sa)), "connect: %s",
	      strerror(errno));
	return fd;
}

/* Read exactly @len bytes within 5 s; the count read (short on EOF). */
static size_t read_full(int fd, void *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		CHECK(poll(&pfd, 1, 5000) == 1, "no answer from xensimd");
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

/* One request, its reply into @body; returns the reply header. */
static struct xsd_sockmsg talk(int fd, uint32_t type, uint32_t req_id,
			       uint32_t tx_id, const char *payload,
			       unsigned int len, char *body, bool bytewise)
{
	struct xsd_sockmsg h = { type, req_id, tx_id, len };
	char msg[sizeof(h) + 256];
	size_t i;

	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), payload, len);
	if (bytewise) {
		for (i = 0; i < sizeof(h) + len; i++) {
			CHECK(write(fd, msg + i, 1) == 1, "write: %s",
			      strerror(errno));
			usleep(1000);
		}
	} else {
		CHECK(write(fd, msg, sizeof(h) + len) ==
			      (ssize_t)(sizeof(h) + len),
		      "write: %s", strerror(errno));
	}
	CHECK(read_full(fd, &h, sizeof(h)) == sizeof(h), "reply header cut");
	CHECK(h.len < 4096 && read_full(fd, body, h.len) == h.len,
	      "reply body cut");
	body[h.len] = '\0';
	return h;
}

int main(void)
{
	struct xsd_sockmsg bad = { XS_READ, 7, 0, XENSTORE_PAYLOAD_MAX + 1 };
	struct xs_handle *xs;
	struct xsd_sockmsg h;
	static struct simenv env; /* simenv_up() hands it to atexit */
	char body[4096];
	unsigned int len;
	int victim, bystander;
	char *v;

	if (simenv_up(&env, 0))
		SKIP("cannot start xensim");
	simenv_become(&env, 0);
	xs = xs_open(0);
	CHECK(xs, "xs_open: %s", strerror(errno));
	CHECK(xs_write(xs, XBT_NULL, "/t", "hello", 5), "write: %s",
	      strerror(errno));

	victim = raw_connect(&env, 0);
	bystander = raw_connect(&env, 0);

	h = talk(victim, XS_READ, 42, 0, "/t", 3, body, true);
	CHECK(h.type == XS_READ && h.req_id == 42 && h.tx_id == 0 &&
		      h.len == 5 && !memcmp(body, "hello", 5),
	      "bytewise READ: type %u req %u len %u '%s'", h.type, h.req_id,
	      h.len, body);
	h = talk(victim, 999, 43, 0, "", 0, body, false);
	CHECK(h.type == XS_ERROR && h.req_id == 43 && !strcmp(body, "ENOSYS"),
	      "unknown type: type %u '%s'", h.type, body);
	h = talk(victim, XS_READ, 44, 77, "/t", 3, body, false);
	CHECK(h.type == XS_ERROR && h.tx_id == 77 && !strcmp(body, "ENOENT"),
	      "unknown transaction: type %u tx %u '%s'", h.type, h.tx_id, body);

	/* The bad header: the connection goes, no payload awaited. */
	CHECK(write(victim, &bad, sizeof(bad)) == sizeof(bad), "write: %s",
	      strerror(errno));
	CHECK(read_full(victim, body, 1) == 0, "victim still connected");
	close(victim);

	h = talk(bystander, XS_READ, 1, 0, "/t", 3, body, false);
	CHECK(h.type == XS_READ && !strcmp(body, "hello"),
	      "bystander: type %u '%s'", h.type, body);
	CHECK(xs_write(xs, XBT_NULL, "/t", "again", 5), "libxenstore write: %s",
	      strerror(errno));
	v = xs_read(xs, XBT_NULL, "/t", &len);
	CHECK(v && len == 5 && !memcmp(v, "again", 5), "libxenstore read: %s",
	      v ? v : strerror(errno));
	free(v);

	close(bystander);
	xs_close(xs);
	simenv_down(&env);
	return TEST_PASS;
}
