// SPDX-License-Identifier: MIT
/*
 * sandbox.c - see sandbox.h. The allow-list is what workers were seen to
 * call once filtered: strace -f of blkbackd through the blk-* tests with
 * the uring, aio and null engines and of xtestd through the xbus-* tests,
 * every syscall after the worker's seccomp() call counted, then the same
 * tests (and netbackd's net-* with NET_WORKERS=1) with sandbox=log leaving
 * no trace in the kernel log. Added to it
 * is what the emulated Xen cannot show (marked (*) below): the real
 * libxengnttab / libxenevtchn ioctls, and paths no test takes. The daemon
 * (common/daemon.c) decides when to call what.
 */
#include "common/sandbox.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
/* Linux's uapi evtchn.h / gntdev.h use the Xen public types. */
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/evtchn.h>
#include <xen/gntdev.h>

#include "common/log.h"
#include "common/xen.h"

#define SIGCANCEL 32 /* glibc's thread cancellation signal (__SIGRTMIN) */

/*
 * Allowed with any arguments: what the workers were seen to call once
 * filtered (see the top of this file), and, marked (*), what paths the
 * tests do not take need: the libaio engine's fdatasync fallback, syslog
 * reconnecting, the clock on a Xen PV Dom0 (whose clocksource the vDSO
 * may not read), libxengnttab's retry sleep, a signal's return. A name
 * this libseccomp or architecture does not know is skipped.
 */
static const char *const allow_any[] = {
	/* fds: rings' event channels, stores, sockets, the log; packets on
	 * netbackd's TAPs (readv, writev) */
	"read",
	"write",
	"readv",
	"writev",
	"close",
	"newfstatat",
	/* stores and journals are opened when a guest connects; the journal
	 * directory is made then (EEXIST), a journal sized, removed at the
	 * end with the control socket */
	"openat",
	"mkdir",
	"ftruncate",
	"unlink",
	/* the loops: epoll, cross-thread messages, timers */
	"epoll_create1",
	"epoll_ctl",
	"epoll_wait",
	"eventfd2",
	"timerfd_create",
	"timerfd_settime",
	/* I/O engines: io_uring (queues set up at connect), libaio */
	"io_uring_setup",
	"io_uring_enter",
	"io_uring_register",
	"io_setup",
	"io_destroy",
	"io_submit",
	"io_getevents",
	/* FLUSH (*: libaio without IOCB_CMD_FDSYNC), discard on files */
	"fdatasync",
	"fsync",
	"fallocate",
	/* memory: malloc, bounce arenas, grant maps (mmap, mprotect: below) */
	"munmap",
	"madvise",
	"mremap",
	"brk",
	/* queue threads (clone: below) */
	"futex",
	"set_robust_list",
	"rseq",
	"exit",
	"exit_group",
	/* signals: the loops' masks, a handler's return (*) (rt_sigaction,
	 * tgkill: below) */
	"rt_sigprocmask",
	"rt_sigreturn",
	"restart_syscall",
	"getpid",
	/* the xenstore connection, the emulated Xen's handle sockets, the
	 * control socket, syslog (*) (socket: below) */
	"connect",
	"sendmsg",
	"recvmsg",
	"sendto",
	"accept4",
	"setsockopt",
	/* time (*) */
	"clock_gettime",
	"clock_nanosleep",
	"nanosleep",
	NULL,
};

/*
 * ioctls: libxengnttab's and libxenevtchn's on Linux (tools/libs/gnttab/
 * linux.c, tools/libs/evtchn/linux.c; grant maps, copies, event channel
 * binds and notifications), and what blkback does to block devices (size,
 * sector sizes, discards). None is seen on the emulated Xen, whose drop-in
 * libraries also skip what the real ones do at every open: with no logger
 * given (xen.c gives none), they make a stdio logger on stderr, which asks
 * isatty(2) (tools/libs/toollog/xtl_logger_stdio.c): TCGETS.
 */
static const unsigned long allow_ioctls[] = {
	TCGETS,
	IOCTL_GNTDEV_MAP_GRANT_REF,
	IOCTL_GNTDEV_UNMAP_GRANT_REF,
	IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR,
	IOCTL_GNTDEV_SET_MAX_GRANTS,
	IOCTL_GNTDEV_SET_UNMAP_NOTIFY,
	IOCTL_GNTDEV_GRANT_COPY,
	IOCTL_EVTCHN_BIND_INTERDOMAIN,
	IOCTL_EVTCHN_UNBIND,
	IOCTL_EVTCHN_NOTIFY,
	IOCTL_EVTCHN_RESTRICT_DOMID,
	BLKGETSIZE64,
	BLKSSZGET,
	BLKPBSZGET,
	BLKDISCARD,
	BLKSECDISCARD,
};

/* Resolve @name; -ENOENT if this libseccomp / architecture has none. */
static int sc_nr(const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	return nr == __NR_SCMP_ERROR ? -ENOENT : nr;
}

static int sc_allow(scmp_filter_ctx ctx, const char *name)
{
	int nr = sc_nr(name);

	if (nr < 0)
		return nr;
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

/* The rules that look at arguments. 0/-errno. */
static int sc_add_filtered(scmp_filter_ctx ctx)
{
	size_t i;
	int rc;

	/*
	 * Threads only: a new process (fork, or clone without CLONE_THREAD)
	 * is what an attacker wants for exec. clone3 passes its flags in
	 * memory a filter cannot read, so it fails with ENOSYS and glibc
	 * falls back to clone.
	 */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD,
				      CLONE_THREAD));
	if (!rc && sc_nr("clone3") >= 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
				      sc_nr("clone3"), 0);
	/* W^X: no new executable memory. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC,
					      0));
	if (!rc)
		rc = seccomp_rule_add(
			ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
			SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* Unix sockets only (xenstore, syslog, the emulated Xen). */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	/* Signals to our own threads only (pthread_cancel, raise, abort). */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				      SCMP_A0(SCMP_CMP_EQ,
					      (scmp_datum_t)getpid()));
	/*
	 * libxenstore ignores SIGPIPE around each request it writes, and
	 * xs_close() cancels its reader thread: glibc installs its
	 * cancellation handler (SIGCANCEL, the kernel's first real-time
	 * signal, 32; not SIGRTMIN, which glibc moves past the two it keeps)
	 * and signals the thread with it. No other handler may change.
	 */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
				      SCMP_SYS(rt_sigaction), 1,
				      SCMP_A0(SCMP_CMP_EQ, SIGPIPE));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
				      SCMP_SYS(rt_sigaction), 1,
				      SCMP_A0(SCMP_CMP_EQ, SIGCANCEL));
	for (i = 0; !rc && i < sizeof(allow_ioctls) / sizeof(allow_ioctls[0]);
	     i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      SCMP_A1(SCMP_CMP_EQ, allow_ioctls[i]));
	return rc;
}

/*
 * glibc maps libgcc_s (executable) the first time a thread is cancelled,
 * which libxenstore does to its reader thread in xs_close() when the worker
 * exits. Load it now, while executable mappings are allowed; glibc's own
 * dlopen then finds it loaded. Without it (not installed), nothing breaks
 * before exit, and glibc would abort there anyway.
 */
static void preload_unwinder(void)
{
	dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NODELETE);
}

int sandbox_seccomp(enum sandbox_mode mode, const char *const *extra,
		    const unsigned long *ioctls)
{
	uint32_t deflt = SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx;
	size_t i;
	int rc;

	if (mode == SANDBOX_OFF)
		return 0;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	if (mode == SANDBOX_ON) {
		log_warn(NULL,
			 "sanitizer build: seccomp violations are logged, "
			 "not fatal");
		mode = SANDBOX_LOG;
	}
#endif
	if (mode == SANDBOX_LOG)
		deflt = SCMP_ACT_LOG;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	preload_unwinder();
	ctx = seccomp_init(deflt);
	if (!ctx)
		return -ENOMEM;
	/* Every thread, libxenstore's reader included, gets the filter. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	for (i = 0; !rc && allow_any[i]; i++) {
		rc = sc_allow(ctx, allow_any[i]);
		if (rc == -ENOENT)
			rc = 0;
	}
	if (!rc)
		rc = sc_add_filtered(ctx);
	for (i = 0; !rc && extra && extra[i]; i++) {
		rc = sc_allow(ctx, extra[i]);
		if (rc == -ENOENT)
			rc = -EINVAL;
	}
	for (i = 0; !rc && ioctls && ioctls[i]; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      SCMP_A1(SCMP_CMP_EQ, ioctls[i]));
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	/* libseccomp returns -errno; with TSYNC a positive value is the id
	 * of a thread that could not be synchronised. */
	return rc > 0 ? -EAGAIN : rc;
}

int sandbox_restrict_xen(unsigned int domid)
{
	xen_evtchn_restrict_opens(domid);
	return 0;
}

int sandbox_user_lookup(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (!pw)
		return errno ? -errno : -ENOENT;
	if (pw->pw_uid == 0)
		return -EINVAL;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int sandbox_hand_over(const char *run_dir, const char *sub, const char *user,
		      unsigned int domid)
{
	char dir[PATH_MAX], path[PATH_MAX * 2], tail[32];
	struct dirent *de;
	uid_t uid;
	gid_t gid;
	DIR *d;
	int rc;

	rc = sandbox_user_lookup(user, &uid, &gid);
	if (rc)
		return rc;
	snprintf(dir, sizeof(dir), "%s/%s", run_dir, sub);
	mkdir(run_dir, 0700);
	mkdir(dir, 0700);
	if (chmod(run_dir, 0711) || chown(dir, uid, gid))
		return -errno;
	d = opendir(dir);
	if (!d)
		return -errno;
	snprintf(tail, sizeof(tail), ".%u.", domid);
	while ((de = readdir(d))) {
		const char *dot = strchr(de->d_name, '.');

		if (!dot || strncmp(dot, tail, strlen(tail)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		/* O_NOFOLLOW's twin: never chown through a link. */
		if (lchown(path, uid, gid) && errno != ENOENT) {
			rc = -errno;
			break;
		}
	}
	closedir(d);
	return rc;
}

/* This thread's permitted and effective capabilities: @caps, no more. */
static int caps_limit(uint64_t caps)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	d[0].permitted = d[0].effective = (uint32_t)caps;
	d[1].permitted = d[1].effective = (uint32_t)(caps >> 32);
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

int sandbox_drop_user(const char *user, uint64_t keep)
{
	uid_t uid;
	gid_t gid;
	int rc;

	if (keep & (1ull << CAP_SETUID | 1ull << CAP_SETGID))
		return -EINVAL;
	rc = sandbox_user_lookup(user, &uid, &gid);
	if (rc)
		return rc;
	/* The capabilities to keep survive the uid change only with
	 * KEEPCAPS (this thread's), and as permitted, not effective. */
	if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		return -errno;
	/* Groups first, while we may still change them; then the gid, then
	 * the uid, which takes the capabilities with it. glibc applies each
	 * to every thread. */
	if (initgroups(user, gid) || setresgid(gid, gid, gid) ||
	    setresuid(uid, uid, uid))
		return -errno;
	if (keep) {
		rc = caps_limit(keep);
		if (rc)
			return rc;
		if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0))
			return -errno;
	}
	/* Make sure it stuck: no way back to root (CAP_SETUID and
	 * CAP_SETGID are never among those kept). */
	if (setuid(0) == 0 || setgid(0) == 0 || geteuid() != uid ||
	    getegid() != gid)
		return -EPERM;
	return 0;
}
