/* SPDX-License-Identifier: MIT */
/*
 * cfg.h - one configuration file plus command-line overrides.
 *
 * A daemon describes its settings as a table of struct cfg_key, each naming
 * a field of its own config struct. The file is "key = value" lines, '#'
 * comments and blank lines; later lines and then command-line overrides
 * ("key=value") replace earlier values. Every error names the file, line and
 * key, and says what was expected, in @err. Called at start-up only, from one
 * thread.
 */
#ifndef PVBACK_COMMON_CFG_H
#define PVBACK_COMMON_CFG_H

#include <stddef.h>
#include <stdio.h>

enum cfg_type {
	CFG_STR,  /* char[size] field; value must fit */
	CFG_UINT, /* unsigned int field, within [min, max] */
	CFG_BOOL, /* int field: 0/1, yes/no, true/false, on/off */
	CFG_ENUM, /* int field: index of the value in choices[] */
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;		    /* of the field in the config struct */
	size_t size;		    /* CFG_STR: size of the char array */
	unsigned int min, max;	    /* CFG_UINT */
	const char *const *choices; /* CFG_ENUM: NULL-terminated */
	const char *help;	    /* one line, for --help and errors */
};

#define CFG_END                                                                \
	{                                                                      \
		.name = NULL                                                   \
	}

/*
 * Set one key from a string. @where names the origin for errors (e.g.
 * "blkbackd.conf:12" or "command line"). 0, or -EINVAL / -ENOENT (unknown
 * key) with the message in @err.
 */
int cfg_set(const struct cfg_key *keys, void *conf, const char *key,
	    const char *value, const char *where, char *err, size_t errlen);

/* Apply "key=value" (one command-line override). 0/-errno, message in @err. */
int cfg_set_arg(const struct cfg_key *keys, void *conf, const char *arg,
		char *err, size_t errlen);

/*
 * Read @path and apply every line. -ENOENT if the file is missing (the
 * caller decides whether that is an error), other -errno with the message in
 * @err. Stops at the first bad line.
 */
int cfg_load(const struct cfg_key *keys, void *conf, const char *path,
	     char *err, size_t errlen);

/* Print every key with its type, range and help to @f. */
void cfg_print_help(const struct cfg_key *keys, FILE *f);

#endif
