// SPDX-License-Identifier: MIT
/*
 * stats.c - the control socket of a daemon process and its client (see
 * stats.h). One request per connection; the answer is built in memory and
 * written whole, then the connection is closed.
 */
#include "common/stats.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct stats_srv {
	struct loop *loop;
	struct loop_fd lfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	void (*fn)(void *arg, const char *req, FILE *out);
	void *arg;
};

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one request line with a deadline, so a silent client cannot hold
 * the control thread. */
static int read_line(int fd, char *buf, size_t len)
{
	struct timeval tv = { .tv_sec = 1 };
	size_t have = 0;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (have + 1 < len) {
		ssize_t r = read(fd, buf + have, len - 1 - have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		if (memchr(buf, '\n', have))
			break;
	}
	buf[have] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return have ? 0 : -EIO;
}

static void on_accept(struct loop_fd *lfd, uint32_t events)
{
	struct stats_srv *s =
		(struct stats_srv *)((char *)lfd -
				     offsetof(struct stats_srv, lfd));
	char req[128], *ans = NULL;
	size_t anslen = 0;
	FILE *out;
	int fd;

	fd = accept4(lfd->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (read_line(fd, req, sizeof(req)))
		goto out_close;
	out = open_memstream(&ans, &anslen);
	if (!out)
		goto out_close;
	s->fn(s->arg, req, out);
	fclose(out);
	write_all(fd, ans, anslen);
	free(ans);
out_close:
	close(fd);
}

int stats_srv_create(struct loop *loop, const char *path,
		     void (*fn)(void *arg, const char *req, FILE *out),
		     void *arg, struct stats_srv **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stats_srv *s;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	snprintf(s->path, sizeof(s->path), "%s", path);
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		goto err_free;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) ||
	    listen(fd, 8)) {
		rc = -errno;
		goto err_close;
	}
	s->loop = loop;
	s->fn = fn;
	s->arg = arg;
	s->lfd.fd = fd;
	s->lfd.fn = on_accept;
	rc = loop_fd_add(loop, &s->lfd, EPOLLIN);
	if (rc)
		goto err_unlink;
	*out = s;
	return 0;

err_unlink:
	unlink(path);
err_close:
	close(fd);
err_free:
	free(s);
	return rc;
}

void stats_srv_destroy(struct stats_srv *s)
{
	if (!s)
		return;
	loop_fd_del(s->loop, &s->lfd);
	close(s->lfd.fd);
	unlink(s->path);
	free(s);
}

/* *@any: something was written before (then @sep goes first). */
static int query_one(const char *path, const char *req, const char *sep,
		     FILE *out, int *any)
{
	int first = 1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	ssize_t r;
	int fd, rc = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = -errno;
		goto out;
	}
	rc = write_all(fd, req, strlen(req));
	if (!rc)
		rc = write_all(fd, "\n", 1);
	while (!rc && (r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0) {
			if (errno != EINTR)
				rc = -errno;
			continue;
		}
		if (first && *any && sep)
			fputs(sep, out);
		first = 0;
		*any = 1;
		fwrite(buf, 1, (size_t)r, out);
	}
out:
	close(fd);
	return rc;
}

int stats_query(const char *dir, const char *prefix, const char *req,
		const char *sep, FILE *out)
{
	struct dirent **names;
	int n, answered = 0, any = 0;

	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		size_t l = strlen(nm);
		char path[4096];

		if (!strncmp(nm, prefix, strlen(prefix)) && l > 5 &&
		    !strcmp(nm + l - 5, ".sock")) {
			snprintf(path, sizeof(path), "%s/%s", dir, nm);
			/* A stale socket of a dead worker just fails. */
			if (!query_one(path, req, sep, out, &any))
				answered++;
		}
		free(names[i]);
	}
	free(names);
	return answered ? answered : -ENOENT;
}
