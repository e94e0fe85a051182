// SPDX-License-Identifier: MIT
/*
 * port.c - the table of port types (port.h); the types themselves are
 * port_tap.c and, when DPDK is there, port_dpdk.c, whose flags stay
 * confined to its file and netbackd's link line.
 */
#include "netback/port.h"

#include <string.h>

#ifdef PVBACK_HAVE_DPDK
/*
 * Weak: netbackd links port_dpdk.c and DPDK; the tests and demos that link
 * netback's other objects do not, and find no "dpdk" type here.
 */
extern const struct port_ops port_dpdk_ops __attribute__((weak));
#endif

static const struct port_ops *const port_types[] = {
	&port_tap_ops,
#ifdef PVBACK_HAVE_DPDK
	&port_dpdk_ops,
#endif
};

const struct port_ops *port_find(const char *name)
{
	for (size_t i = 0; i < sizeof(port_types) / sizeof(port_types[0]); i++)
		if (port_types[i] && !strcmp(port_types[i]->name, name))
			return port_types[i];
	return NULL;
}
