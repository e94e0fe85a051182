/* SPDX-License-Identifier: MIT */
/*
 * sandbox.h - confining a worker process to its one guest.
 *
 * common/daemon.c applies the three steps, in this order, in a worker
 * (--worker DOMID) only; each is usable alone (tests do):
 *
 *  1. sandbox_restrict_xen(domid), before any Xen handle is opened: every
 *     event channel handle the process opens from then on can bind only to
 *     that guest's ports and can allocate none (xenevtchn_restrict, Linux's
 *     IOCTL_EVTCHN_RESTRICT_DOMID). This is all of libxentoolcore's
 *     restriction a backend can use: xentoolcore_restrict_all() would also
 *     dup2() /dev/null over the xenstore connection and the gntdev handles
 *     (libxenstore's and libxengnttab's restrict callbacks; xenstored has no
 *     XS_RESTRICT since Xen 4.9, gntdev no per-domain restriction), i.e. cut
 *     the control plane and the data path. So the xenstore connection stays
 *     Dom0's, and grant handles can map or copy any grant that any guest
 *     gave to this backend domain: Xen checks that a grant names us, not
 *     which of our processes asks.
 *
 *  2. sandbox_drop_user(user), after the privileged opens (xenstore, the
 *     control socket): initgroups + setgid + setuid to @user, checked to be
 *     irreversible. Everything the worker opens later is opened as @user:
 *     a guest's backing stores when it connects (image files, block
 *     devices: give the user access, e.g. the group `disk`), and on real
 *     Xen /dev/xen/gntdev and /dev/xen/evtchn, which are root's by default
 *     (a udev rule giving a group access to them is needed).
 *
 *  3. sandbox_seccomp(mode, extra): PR_SET_NO_NEW_PRIVS, then a seccomp
 *     allow-list of the syscalls a worker uses in steady state (connecting
 *     a guest included: stores, io_uring or libaio contexts, queue
 *     threads), on every thread of the process. Anything else kills the
 *     whole process (SANDBOX_ON; the kernel's audit log names the syscall,
 *     the supervisor logs "killed by signal 31" and restarts the worker),
 *     or is allowed and logged by the kernel (SANDBOX_LOG, for operators
 *     finding what a setup needs).
 *
 * All of these run on the main thread at start-up; other threads may exist
 * (libxenstore's reader): 2 and 3 cover them. Nothing here logs except
 * sandbox_seccomp's warning in sanitizer builds; errors are -errno.
 */
#ifndef PVBACK_COMMON_SANDBOX_H
#define PVBACK_COMMON_SANDBOX_H

#include <stdint.h>
#include <sys/types.h>

/* The `sandbox` key's values, in its order: off, on, log. */
enum sandbox_mode {
	SANDBOX_OFF,
	SANDBOX_ON,  /* a forbidden syscall kills the process */
	SANDBOX_LOG, /* ...is allowed and logged by the kernel */
};

/*
 * Restrict every event channel handle this process opens from now on to
 * @domid (common/xen.c does it at open). Call before opening any. 0/-errno.
 */
int sandbox_restrict_xen(unsigned int domid);

/*
 * Look @user up: its uid and primary gid. -ENOENT if there is no such user,
 * -EINVAL for root (dropping to uid 0 drops nothing).
 */
int sandbox_user_lookup(const char *user, uid_t *uid, gid_t *gid);

/*
 * Before a worker drops to @user (still root): <@run_dir>/<@sub> is where
 * it keeps what outlives it (blkbackd's journals, netbackd's vif state) and
 * writes after the drop. @run_dir is made traversable (0711: the user still
 * cannot list it or use the root-only control sockets), <@sub> the user's,
 * and so are the files in it of guest @domid (named <kind>.<domid>.<...>)
 * a root worker may have left, never through a link; other guests' files
 * are left to their own workers. 0/-errno.
 */
int sandbox_hand_over(const char *run_dir, const char *sub, const char *user,
		      unsigned int domid);

/*
 * Become @user (its groups from /etc/group, its gid, its uid) for good:
 * fails with -EPERM if the process could regain root afterwards. Drops every
 * capability with it but those in @keep (bits 1 << CAP_*, e.g. netbackd's
 * CAP_NET_ADMIN for the TAPs of vifs that appear later), which the calling
 * thread and the threads it creates afterwards keep, effective; other
 * threads keep none. 0/-errno (then the process is in an unknown state:
 * exit).
 */
int sandbox_drop_user(const char *user, uint64_t keep);

/*
 * Set PR_SET_NO_NEW_PRIVS and load the worker's seccomp allow-list on every
 * thread, plus the syscalls named in @extra (NULL-terminated, may be NULL;
 * allowed with any arguments, e.g. "socket" for other families than unix)
 * and the ioctl requests in @ioctls (0-terminated, may be NULL).
 * @mode SANDBOX_ON or SANDBOX_LOG (SANDBOX_OFF: does nothing). Built with a
 * sanitizer, ON acts as LOG (their runtimes make unpredictable syscalls,
 * e.g. ptrace for the leak check). 0, or -errno (-EINVAL: an unknown name
 * in @extra).
 */
int sandbox_seccomp(enum sandbox_mode mode, const char *const *extra,
		    const unsigned long *ioctls);

#endif
