// SPDX-License-Identifier: MIT
/*
 * log.c - see log.h. The line is assembled in a stack buffer and written
 * once, so concurrent threads never interleave within a line; a line longer
 * than the buffer is cut with "..." rather than split.
 */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 1024

static struct {
	const char *ident;
	enum log_target target;
	enum log_level level;
} log_cfg = { "pvback", LOG_TO_STDERR, LOGL_INFO };

static const char *const level_names[] = {
	[LOGL_ERR] = "err",
	[LOGL_WARN] = "warn",
	[LOGL_INFO] = "info",
	[LOGL_DEBUG] = "debug",
};

void log_setup(const char *ident, enum log_target target, enum log_level level)
{
	log_cfg.ident = ident ? ident : "pvback";
	log_cfg.target = target;
	log_cfg.level = level;
	if (target == LOG_TO_SYSLOG)
		openlog(log_cfg.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int log_level_parse(const char *s, enum log_level *level)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (level_names[i] && !strcmp(s, level_names[i])) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int log_enabled(enum log_level level)
{
	return level <= log_cfg.level;
}

static void log_vmsg(enum log_level level, const char *prefix,
		     const char *suffix, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t len = 0, cap = sizeof(line) - 1; /* room for '\n' */
	int n;

	if (log_cfg.target == LOG_TO_STDERR) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, cap,
			     "%02d:%02d:%02d.%03ld %s[%d] %s: ", tm.tm_hour,
			     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			     log_cfg.ident, (int)getpid(), level_names[level]);
		len = n > 0 ? (size_t)n : 0;
	}
	if (prefix && len < cap) {
		n = snprintf(line + len, cap - len, "%s: ", prefix);
		len += n > 0 ? (size_t)n : 0;
	}
	if (len < cap) {
		n = vsnprintf(line + len, cap - len, fmt, ap);
		len += n > 0 ? (size_t)n : 0;
	}
	if (suffix && len < cap) {
		n = snprintf(line + len, cap - len, "%s", suffix);
		len += n > 0 ? (size_t)n : 0;
	}
	if (len >= cap) {
		len = cap - 1;
		memcpy(line + len - 3, "...", 3);
	}
	while (len && line[len - 1] == '\n')
		len--;

	if (log_cfg.target == LOG_TO_SYSLOG) {
		line[len] = '\0';
		syslog((int)level, "%s", line);
		return;
	}
	line[len++] = '\n';
	/* One write per line; a short write to stderr is not worth a retry. */
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}

void log_msg(enum log_level level, const char *prefix, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vmsg(level, prefix, NULL, fmt, ap);
	va_end(ap);
}

uint32_t log_rl_admit(struct log_rl *rl, uint64_t now_ms)
{
	uint32_t dropped;

	if (now_ms - rl->window_start_ms >= LOG_RL_INTERVAL_MS ||
	    now_ms < rl->window_start_ms) {
		rl->window_start_ms = now_ms;
		rl->printed = 0;
	}
	if (rl->printed >= LOG_RL_BURST) {
		rl->suppressed++;
		return 0;
	}
	rl->printed++;
	dropped = rl->suppressed;
	rl->suppressed = 0;
	return dropped + 1;
}

int log_rl_msg(struct log_rl *rl, enum log_level level, const char *prefix,
	       const char *fmt, ...)
{
	char suffix[64] = "";
	struct timespec ts;
	uint32_t admit;
	va_list ap;

	if (!log_enabled(level))
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	admit = log_rl_admit(rl,
			     (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	if (!admit)
		return 0;
	if (admit > 1)
		snprintf(suffix, sizeof(suffix), " (%u similar suppressed)",
			 admit - 1);
	va_start(ap, fmt);
	log_vmsg(level, prefix, suffix, fmt, ap);
	va_end(ap);
	return 1;
}
