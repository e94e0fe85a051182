// SPDX-License-Identifier: MIT
/*
 * port_tap.c - the TAP port: a Linux TAP device per vif, opened with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE, one file
 * descriptor (one TAP queue) per ring pair. Every packet crosses the fd
 * with a virtio-net header in front, which carries exactly what struct
 * port_meta says (native byte order: the header of a legacy, little-endian
 * host). The device is created with its carrier off and the MAC address
 * Linux netback gives its vifs (fe:ff:ff:ff:ff:ff, never the lowest on a
 * bridge); the hotplug script brings it up and attaches it.
 *
 * The ops table is in port.h; netq.c, tx.c and rx.c are its users.
 */
#include "netback/port.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "netback/netback.h"

#define TAP_FLAGS (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE)

struct port {
	char ifname[IFNAMSIZ];
	unsigned int max_queues;
	unsigned int nq; /* queues attached */
	int fd[NB_MAX_QUEUES];
};

static int tap_attach(const char *ifname, int excl)
{
	struct ifreq ifr;
	int fd, rc;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = TAP_FLAGS | (excl ? IFF_TUN_EXCL : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		rc = errno == EBUSY && excl ? -EEXIST : -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/*
 * The socket interface ioctls (SIOCSIFMTU) go through. A sandboxed worker
 * may open only Unix sockets, so it opens this one before its filter
 * (tap_presandbox); an unconfined process opens one per call.
 */
static int tap_sock = -1;

static int tap_presandbox(void)
{
	if (tap_sock >= 0)
		return 0;
	tap_sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return tap_sock < 0 ? -errno : 0;
}

static int tap_ioctl_sock(unsigned long req, struct ifreq *ifr)
{
	int s = tap_sock, rc = 0;

	if (s < 0)
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (ioctl(s, req, ifr))
		rc = -errno;
	if (s != tap_sock)
		close(s);
	return rc;
}

static int tap_set_mtu(struct port *p, unsigned int mtu)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", p->ifname);
	ifr.ifr_mtu = (int)mtu;
	return tap_ioctl_sock(SIOCSIFMTU, &ifr);
}

static int tap_set_carrier(struct port *p, int up)
{
#ifdef TUNSETCARRIER
	int v = !!up;

	return ioctl(p->fd[0], TUNSETCARRIER, &v) ? -errno : 0;
#else
	return -EOPNOTSUPP;
#endif
}

static void tap_destroy(struct port *p, int keep)
{
	if (!p)
		return;
	/* Not persistent any more: it goes with our last queue. */
	if (!keep && p->nq)
		ioctl(p->fd[0], TUNSETPERSIST, 0UL);
	for (unsigned int i = 0; i < p->nq; i++)
		close(p->fd[i]);
	free(p);
}

static int tap_create(const struct port_cfg *cfg, struct port **out, char *err,
		      size_t errlen)
{
	struct port *p;
	struct ifreq ifr;
	int hdr = (int)sizeof(struct virtio_net_hdr), rc, adopted = 0;

	if (!cfg->ifname[0] || strlen(cfg->ifname) >= IFNAMSIZ) {
		snprintf(err, errlen, "bad interface name '%s'", cfg->ifname);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(p->ifname, sizeof(p->ifname), "%s", cfg->ifname);
	p->max_queues = cfg->max_queues < 1		  ? 1
			: cfg->max_queues > NB_MAX_QUEUES ? NB_MAX_QUEUES
							  : cfg->max_queues;
	/* Exclusive: a leftover or another daemon's device is not ours,
	 * unless we take over from our predecessor (a TAP only: a kernel
	 * vif of that name refuses TUNSETIFF). */
	rc = tap_attach(p->ifname, 1);
	if (rc == -EEXIST && cfg->adopt) {
		rc = tap_attach(p->ifname, 0);
		adopted = rc >= 0;
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot create TAP %s: %s", p->ifname,
			 rc == -EEXIST ? "the interface exists"
				       : strerror(-rc));
		free(p);
		return rc;
	}
	p->fd[0] = rc;
	p->nq = 1;
	if (ioctl(p->fd[0], TUNSETVNETHDRSZ, &hdr) ||
	    ioctl(p->fd[0], TUNSETOFFLOAD, 0UL)) {
		rc = -errno;
		snprintf(err, errlen, "TAP %s: vnet header: %s", p->ifname,
			 strerror(-rc));
		goto err_destroy;
	}
	/*
	 * Persistent: a worker that dies leaves the device, with the
	 * bridge port and addresses the hotplug script gave it, to its
	 * successor; the kernel drops the carrier meanwhile.
	 */
	if (ioctl(p->fd[0], TUNSETPERSIST, 1UL)) {
		rc = -errno;
		snprintf(err, errlen, "TAP %s: persist: %s", p->ifname,
			 strerror(-rc));
		goto err_destroy;
	}
	if (adopted)
		goto mtu; /* its MAC is set, and perhaps the admin's */
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memset(ifr.ifr_hwaddr.sa_data, 0xff, 6);
	ifr.ifr_hwaddr.sa_data[0] = (char)0xfe;
	if (ioctl(p->fd[0], SIOCSIFHWADDR, &ifr)) {
		rc = -errno;
		snprintf(err, errlen, "TAP %s: MAC address: %s", p->ifname,
			 strerror(-rc));
		goto err_destroy;
	}
mtu:
	/* No carrier until a frontend is connected (older kernels: up). */
	tap_set_carrier(p, 0);
	if (cfg->mtu) {
		rc = tap_set_mtu(p, cfg->mtu);
		if (rc) {
			snprintf(err, errlen, "TAP %s: MTU %u: %s", p->ifname,
				 cfg->mtu, strerror(-rc));
			goto err_destroy;
		}
	}
	*out = p;
	return adopted;

err_destroy:
	tap_destroy(p, adopted);
	return rc;
}

static const char *tap_ifname(const struct port *p)
{
	return p->ifname;
}

static int tap_set_queues(struct port *p, unsigned int n)
{
	if (n < 1 || n > p->max_queues)
		return -EINVAL;
	while (p->nq > n)
		close(p->fd[--p->nq]);
	while (p->nq < n) {
		int fd = tap_attach(p->ifname, 0);

		if (fd < 0)
			return fd;
		p->fd[p->nq++] = fd;
	}
	return 0;
}

static int tap_set_offloads(struct port *p, unsigned int offl)
{
	unsigned long f = 0;

	if (offl & PORT_OFFL_CSUM) {
		f |= TUN_F_CSUM;
		if (offl & PORT_OFFL_TSO4)
			f |= TUN_F_TSO4;
		if (offl & PORT_OFFL_TSO6)
			f |= TUN_F_TSO6;
	}
	return ioctl(p->fd[0], TUNSETOFFLOAD, f) ? -errno : 0;
}

static int tap_queue_fd(struct port *p, unsigned int q)
{
	return q < p->nq ? p->fd[q] : -EINVAL;
}

static int tap_recv(struct port *p, unsigned int q, void *buf, size_t cap,
		    struct port_meta *m)
{
	struct virtio_net_hdr h;
	struct iovec iov[2] = {
		{ &h, sizeof(h) },
		{ buf, cap },
	};
	ssize_t n;

	if (q >= p->nq)
		return -EINVAL;
	n = readv(p->fd[q], iov, 2);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if ((size_t)n < sizeof(h))
		return -EIO;
	n -= (ssize_t)sizeof(h);
	/* A frame that fills the buffer may have been cut: never pass it. */
	if ((size_t)n >= cap)
		return -EMSGSIZE;
	memset(m, 0, sizeof(*m));
	if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		m->flags |= PORT_F_NEEDS_CSUM;
	if (h.flags & VIRTIO_NET_HDR_F_DATA_VALID)
		m->flags |= PORT_F_DATA_VALID;
	switch (h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		m->gso_type = PORT_GSO_NONE;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		m->gso_type = PORT_GSO_TCPV4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		m->gso_type = PORT_GSO_TCPV6;
		break;
	default:
		m->gso_type = 0xff; /* nothing netif can carry */
		break;
	}
	m->gso_size = h.gso_size;
	m->hdr_len = h.hdr_len;
	m->csum_start = h.csum_start;
	m->csum_offset = h.csum_offset;
	return (int)n;
}

static int tap_send(struct port *p, unsigned int q, const void *buf, size_t len,
		    const struct port_meta *m)
{
	struct virtio_net_hdr h;
	struct iovec iov[2] = {
		{ &h, sizeof(h) },
		{ (void *)buf, len },
	};
	ssize_t n;

	if (q >= p->nq)
		return -EINVAL;
	memset(&h, 0, sizeof(h));
	if (m->flags & PORT_F_NEEDS_CSUM) {
		h.flags |= VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.csum_start = m->csum_start;
		h.csum_offset = m->csum_offset;
	} else if (m->flags & PORT_F_DATA_VALID) {
		h.flags |= VIRTIO_NET_HDR_F_DATA_VALID;
	}
	if (m->gso_type == PORT_GSO_TCPV4 || m->gso_type == PORT_GSO_TCPV6) {
		h.gso_type = m->gso_type == PORT_GSO_TCPV4
				     ? VIRTIO_NET_HDR_GSO_TCPV4
				     : VIRTIO_NET_HDR_GSO_TCPV6;
		h.gso_size = m->gso_size;
		h.hdr_len = m->hdr_len;
	}
	n = writev(p->fd[q], iov, 2);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}

const struct port_ops port_tap_ops = {
	.name = "tap",
	.presandbox = tap_presandbox,
	.create = tap_create,
	.destroy = tap_destroy,
	.ifname = tap_ifname,
	.set_queues = tap_set_queues,
	.set_offloads = tap_set_offloads,
	.set_carrier = tap_set_carrier,
	.set_mtu = tap_set_mtu,
	.queue_fd = tap_queue_fd,
	.recv = tap_recv,
	.send = tap_send,
};
