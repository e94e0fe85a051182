// SPDX-License-Identifier: MIT
/*
 * port.c - the table of port types (port.h); the types themselves are
 * port_tap.c (and, next, a DPDK port whose flags stay confined to its file
 * and the link line).
 */
#include "netback/port.h"

#include <string.h>

static const struct port_ops *const port_types[] = {
	&port_tap_ops,
};

const struct port_ops *port_find(const char *name)
{
	for (size_t i = 0; i < sizeof(port_types) / sizeof(port_types[0]); i++)
		if (!strcmp(port_types[i]->name, name))
			return port_types[i];
	return NULL;
}
