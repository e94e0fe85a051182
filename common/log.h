/* SPDX-License-Identifier: MIT */
/*
 * log.h - logging for the daemons: levels, a per-device prefix, rate-limited
 * variants, to stderr or syslog (which journald collects).
 *
 * Any thread may log: a message is formatted into one buffer and written
 * with one write() (stderr) or one syslog() call, so lines never interleave.
 * The level and target are set once at start-up, before threads exist.
 * Anything a guest can trigger must be logged through a rate limiter
 * (log_rl_*), whose state belongs to the thread that owns the object it is
 * embedded in (a device, a queue): no locking.
 */
#ifndef PVBACK_COMMON_LOG_H
#define PVBACK_COMMON_LOG_H

#include <stdint.h>

enum log_level {
	LOGL_ERR = 3, /* same numbers as syslog's priorities */
	LOGL_WARN = 4,
	LOGL_INFO = 6,
	LOGL_DEBUG = 7,
};

enum log_target {
	LOG_TO_STDERR,
	LOG_TO_SYSLOG,
};

/*
 * Set the program name, target and the most verbose level printed. Call once
 * before any thread starts. Without it: "pvback", stderr, LOGL_INFO.
 */
void log_setup(const char *ident, enum log_target target, enum log_level level);

/* Parse "err", "warn", "info", "debug" into @level. 0/-EINVAL. */
int log_level_parse(const char *s, enum log_level *level);

/* True if a message at @level would be printed (to skip costly formatting). */
int log_enabled(enum log_level level);

/*
 * Log one line at @level. @prefix names the object (e.g. "vbd/3/51712") and
 * may be NULL. A trailing newline in @fmt is not needed.
 */
void log_msg(enum log_level level, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(pfx, ...) log_msg(LOGL_ERR, pfx, __VA_ARGS__)
#define log_warn(pfx, ...) log_msg(LOGL_WARN, pfx, __VA_ARGS__)
#define log_info(pfx, ...) log_msg(LOGL_INFO, pfx, __VA_ARGS__)
#define log_debug(pfx, ...)                                                    \
	do {                                                                   \
		if (log_enabled(LOGL_DEBUG))                                   \
			log_msg(LOGL_DEBUG, pfx, __VA_ARGS__);                 \
	} while (0)

/*
 * A rate limiter: at most LOG_RL_BURST messages per LOG_RL_INTERVAL_MS; the
 * first message after a suppressed stretch says how many were dropped.
 * Zero-initialised is ready to use. Owned by one thread.
 */
#define LOG_RL_BURST 10
#define LOG_RL_INTERVAL_MS 5000

struct log_rl {
	uint64_t window_start_ms;
	uint32_t printed;
	uint32_t suppressed;
};

/* As log_msg, through @rl. Returns 1 if printed, 0 if suppressed. */
int log_rl_msg(struct log_rl *rl, enum log_level level, const char *prefix,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_rl_err(rl, pfx, ...) log_rl_msg(rl, LOGL_ERR, pfx, __VA_ARGS__)
#define log_rl_warn(rl, pfx, ...) log_rl_msg(rl, LOGL_WARN, pfx, __VA_ARGS__)

/*
 * The same decision with an explicit clock, for tests: returns the number of
 * messages suppressed before this one plus 1 if this one may be printed
 * (so a caller can say "N suppressed"), or 0 if it must be suppressed.
 */
uint32_t log_rl_admit(struct log_rl *rl, uint64_t now_ms);

#endif
