// SPDX-License-Identifier: MIT
/*
 * cfg.c - see cfg.h. Values are parsed strictly: a number with trailing
 * junk, an out-of-range number or an unknown choice is an error naming the
 * key, never a silent default.
 */
#include "common/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct cfg_key *cfg_find(const struct cfg_key *keys,
				      const char *name)
{
	for (; keys->name; keys++)
		if (!strcmp(keys->name, name))
			return keys;
	return NULL;
}

static void cfg_choices(const struct cfg_key *k, char *buf, size_t len)
{
	const char *const *c;
	size_t used = 0;

	buf[0] = '\0';
	for (c = k->choices; c && *c && used < len; c++) {
		int n = snprintf(buf + used, len - used, "%s%s",
				 c == k->choices ? "" : ", ", *c);

		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static int cfg_parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

int cfg_set(const struct cfg_key *keys, void *conf, const char *key,
	    const char *value, const char *where, char *err, size_t errlen)
{
	const struct cfg_key *k = cfg_find(keys, key);
	char *field, *end, list[256];
	unsigned long v;
	int b;

	if (!k) {
		snprintf(err, errlen, "%s: unknown key '%s'", where, key);
		return -ENOENT;
	}
	field = (char *)conf + k->offset;
	switch (k->type) {
	case CFG_STR:
		if (strlen(value) >= k->size) {
			snprintf(err, errlen,
				 "%s: value of '%s' is longer than %zu bytes",
				 where, key, k->size - 1);
			return -EINVAL;
		}
		strcpy(field, value);
		return 0;
	case CFG_UINT:
		errno = 0;
		v = strtoul(value, &end, 0);
		if (!isdigit((unsigned char)value[0]) || *end || errno ||
		    v < k->min || v > k->max) {
			snprintf(
				err, errlen,
				"%s: bad value '%s' for '%s': want a number in %u..%u",
				where, value, key, k->min, k->max);
			return -EINVAL;
		}
		*(unsigned int *)(void *)field = (unsigned int)v;
		return 0;
	case CFG_BOOL:
		if (cfg_parse_bool(value, &b)) {
			snprintf(err, errlen,
				 "%s: bad value '%s' for '%s': want yes or no",
				 where, value, key);
			return -EINVAL;
		}
		*(int *)(void *)field = b;
		return 0;
	case CFG_ENUM:
		for (b = 0; k->choices && k->choices[b]; b++) {
			if (!strcmp(value, k->choices[b])) {
				*(int *)(void *)field = b;
				return 0;
			}
		}
		cfg_choices(k, list, sizeof(list));
		snprintf(err, errlen,
			 "%s: bad value '%s' for '%s': want one of %s", where,
			 value, key, list);
		return -EINVAL;
	}
	snprintf(err, errlen, "%s: key '%s' has no type", where, key);
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Split "key = value" in place. 0, or -EINVAL when there is no '='. */
static int cfg_split(char *line, char **key, char **value)
{
	char *eq = strchr(line, '=');

	if (!eq)
		return -EINVAL;
	*eq = '\0';
	*key = trim(line);
	*value = trim(eq + 1);
	return **key ? 0 : -EINVAL;
}

int cfg_set_arg(const struct cfg_key *keys, void *conf, const char *arg,
		char *err, size_t errlen)
{
	char buf[512], *key, *value;

	if (strlen(arg) >= sizeof(buf)) {
		snprintf(err, errlen, "command line: override too long");
		return -EINVAL;
	}
	strcpy(buf, arg);
	if (cfg_split(buf, &key, &value)) {
		snprintf(err, errlen, "command line: '%s' is not key=value",
			 arg);
		return -EINVAL;
	}
	return cfg_set(keys, conf, key, value, "command line", err, errlen);
}

int cfg_load(const struct cfg_key *keys, void *conf, const char *path,
	     char *err, size_t errlen)
{
	char line[1024], where[512], *key, *value, *hash;
	unsigned int lineno = 0;
	FILE *f;
	int rc = 0;

	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s: line longer than %zu bytes",
				 where, sizeof(line) - 2);
			rc = -EINVAL;
			break;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		if (!*trim(line))
			continue;
		if (cfg_split(line, &key, &value)) {
			snprintf(err, errlen, "%s: expected 'key = value'",
				 where);
			rc = -EINVAL;
			break;
		}
		rc = cfg_set(keys, conf, key, value, where, err, errlen);
		if (rc)
			break;
	}
	if (!rc && ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "%s: read error", path);
	}
	fclose(f);
	return rc;
}

void cfg_print_help(const struct cfg_key *keys, FILE *f)
{
	char list[256];

	for (; keys->name; keys++) {
		switch (keys->type) {
		case CFG_UINT:
			fprintf(f, "  %-24s %u..%u  %s\n", keys->name,
				keys->min, keys->max, keys->help);
			break;
		case CFG_BOOL:
			fprintf(f, "  %-24s yes|no  %s\n", keys->name,
				keys->help);
			break;
		case CFG_ENUM:
			cfg_choices(keys, list, sizeof(list));
			fprintf(f, "  %-24s {%s}  %s\n", keys->name, list,
				keys->help);
			break;
		case CFG_STR:
			fprintf(f, "  %-24s text  %s\n", keys->name,
				keys->help);
			break;
		}
	}
}
