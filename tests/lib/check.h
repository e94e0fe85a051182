/* SPDX-License-Identifier: MIT */
/*
 * check.h - assertions for test programs.
 *
 * A test program checks one behaviour and exits 0 (pass), 1 (fail) or
 * 77 (skip), like liburing's tests. CHECK() names the file, line and the
 * failed condition with a printf-style explanation, then exits 1.
 */
#ifndef PVBACK_TESTS_CHECK_H
#define PVBACK_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define TEST_PASS 0
#define TEST_FAIL 1
#define TEST_SKIP 77

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			exit(TEST_FAIL);                                       \
		}                                                              \
	} while (0)

#define SKIP(...)                                                              \
	do {                                                                   \
		fprintf(stderr, "skip: ");                                     \
		fprintf(stderr, __VA_ARGS__);                                  \
		fputc('\n', stderr);                                           \
		exit(TEST_SKIP);                                               \
	} while (0)

#endif
