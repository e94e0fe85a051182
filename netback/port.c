// SPDX-License-Identifier: MIT
/*
 * port.c - the table of port types (port.h): port_tap.c, built in, and,
 * where DPDK was found at build time, the DPDK port, a plugin
 * (port_dpdk.so) loaded the first time a configuration names it. netbackd
 * links no DPDK: Debian's DPDK needs SSE4.2 from the moment its libraries
 * load, and a TAP-only Dom0 should need neither that nor DPDK's libraries
 * (Makefile).
 */
#include "netback/port.h"

#include <string.h>

#ifdef PVBACK_HAVE_DPDK
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#ifndef PVBACK_PORT_DIR
#define PVBACK_PORT_DIR "/usr/lib/pvback"
#endif

static const struct port_ops *dpdk_ops;
static void (*dpdk_configure)(const char *vhost_dir, const char *eal_args);
static char dpdk_why[320];

/*
 * Load the DPDK port from beside the executable (a build tree, or a
 * package that keeps them together), else from PVBACK_PORT_DIR. Before
 * any sandbox: a worker loads it while it parses its configuration.
 */
static int dpdk_load(void)
{
	char path[PATH_MAX];
	const char *where[2] = { NULL, PVBACK_PORT_DIR "/port_dpdk.so" };
	void *h = NULL;
	ssize_t n;

	if (dpdk_ops)
		return 0;
	n = readlink("/proc/self/exe", path, sizeof(path) - 16);
	if (n > 0) {
		char *slash;

		path[n] = '\0';
		slash = strrchr(path, '/');
		if (slash) {
			strcpy(slash + 1, "port_dpdk.so");
			where[0] = path;
		}
	}
	for (int i = 0; i < 2 && !h; i++) {
		if (!where[i] || access(where[i], F_OK))
			continue;
		h = dlopen(where[i], RTLD_NOW | RTLD_LOCAL);
		if (!h)
			snprintf(dpdk_why, sizeof(dpdk_why), "%s", dlerror());
	}
	if (!h) {
		if (!dpdk_why[0])
			snprintf(dpdk_why, sizeof(dpdk_why),
				 "no port_dpdk.so beside netbackd or in %s",
				 PVBACK_PORT_DIR);
		return -ENOENT;
	}
	dpdk_ops = dlsym(h, "port_dpdk_ops");
	*(void **)&dpdk_configure = dlsym(h, "port_dpdk_configure");
	if (!dpdk_ops || !dpdk_configure) {
		snprintf(dpdk_why, sizeof(dpdk_why),
			 "port_dpdk.so is not netbackd's DPDK port");
		dpdk_ops = NULL;
		dlclose(h);
		return -ENOENT;
	}
	return 0;
}

const char *port_load_error(void)
{
	return dpdk_why;
}

int port_dpdk_setup(const char *vhost_dir, const char *eal_args)
{
	int rc = dpdk_load();

	if (!rc)
		dpdk_configure(vhost_dir, eal_args);
	return rc;
}
#else
const char *port_load_error(void)
{
	return "";
}
#endif

const struct port_ops *port_find(const char *name)
{
	if (!strcmp(name, port_tap_ops.name))
		return &port_tap_ops;
#ifdef PVBACK_HAVE_DPDK
	if (!strcmp(name, "dpdk") && !dpdk_load())
		return dpdk_ops;
#endif
	return NULL;
}
