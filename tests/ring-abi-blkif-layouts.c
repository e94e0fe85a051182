/* SPDX-License-Identifier: MIT */
/*
 * ring-abi-blkif-layouts - every blkif request and response layout in
 * ring/blkif.h has the size and field offsets of the public io/blkif.h:
 *
 *   native and x86_64: against the header's structs as this (x86_64) host
 *     compiles them;
 *   x86_32: against the header's structs laid out by i386 rules
 *     (tests/ring-abi-i386.h), and, if clang is installed, against the
 *     header compiled by `clang -m32` itself: the test writes a file of
 *     _Static_asserts holding our offsets and has clang check them.
 *
 * Besides the header, two sizes from spec/blkif-xenbus.md B.2 (112 and 108)
 * are asserted as a cross-check of the ground truth itself.
 */
#include "ring/blkif.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/check.h"
#include "ring-abi-i386.h"

#define SIZEOF_FIELD(T, f) sizeof(((T *)0)->f)

/* Facts for the clang -m32 leg: "<public type>, <member or empty>, off, size"
 */
struct fact {
	const char *type;
	const char *member;
	size_t off;
	size_t size;
};
static struct fact facts[128];
static unsigned int nfacts;
static unsigned int nchecks;

static void add_fact(const char *i386_type, const char *member, size_t off,
		     size_t size)
{
	const char *p = strstr(i386_type, "i386_");
	char *type = malloc(strlen(i386_type) + 1);

	CHECK(nfacts < sizeof(facts) / sizeof(facts[0]), "too many facts");
	CHECK(p && type, "%s: not an i386_ type", i386_type);
	/* "struct i386_blkif_request" -> "struct blkif_request" */
	memcpy(type, i386_type, (size_t)(p - i386_type));
	strcpy(type + (p - i386_type), p + strlen("i386_"));
	facts[nfacts++] = (struct fact){ type, member, off, size };
}

/* ours.f and theirs.f: same offset and size. */
#define SAME_FIELD(ours, theirs, f)                                            \
	do {                                                                   \
		CHECK(offsetof(ours, f) == offsetof(theirs, f),                \
		      "%s.%s at %zu, %s has it at %zu", #ours, #f,             \
		      offsetof(ours, f), #theirs, offsetof(theirs, f));        \
		CHECK(SIZEOF_FIELD(ours, f) == SIZEOF_FIELD(theirs, f),        \
		      "%s.%s is %zu bytes, in %s %zu", #ours, #f,              \
		      SIZEOF_FIELD(ours, f), #theirs,                          \
		      SIZEOF_FIELD(theirs, f));                                \
		nchecks++;                                                     \
	} while (0)

#define SAME_SIZE(ours, theirs)                                                \
	do {                                                                   \
		CHECK(sizeof(ours) == sizeof(theirs) &&                        \
			      _Alignof(ours) == _Alignof(theirs),              \
		      "%s is %zu bytes (align %zu), %s %zu (align %zu)",       \
		      #ours, sizeof(ours), _Alignof(ours), #theirs,            \
		      sizeof(theirs), _Alignof(theirs));                       \
		nchecks++;                                                     \
	} while (0)

/*
 * x86_32 field: against the i386 model (@i386, e.g. struct
 * i386_blkif_request) now, and against clang -m32 on the public name (the
 * same without "i386_") later.
 */
#define X32_FIELD(ours, i386, f)                                               \
	do {                                                                   \
		SAME_FIELD(ours, i386, f);                                     \
		add_fact(#i386, #f, offsetof(ours, f), SIZEOF_FIELD(ours, f)); \
	} while (0)
#define X32_SIZE(ours, i386)                                                   \
	do {                                                                   \
		SAME_SIZE(ours, i386);                                         \
		add_fact(#i386, "", sizeof(ours), _Alignof(ours));             \
	} while (0)

static void check_request(void)
{
#define REQ_FIELDS(CHK, ours, pub)                                             \
	CHK(ours, pub, operation);                                             \
	CHK(ours, pub, nr_segments);                                           \
	CHK(ours, pub, handle);                                                \
	CHK(ours, pub, id);                                                    \
	CHK(ours, pub, sector_number);                                         \
	CHK(ours, pub, seg);                                                   \
	CHK(ours, pub, seg[0].gref);                                           \
	CHK(ours, pub, seg[0].first_sect);                                     \
	CHK(ours, pub, seg[0].last_sect);                                      \
	CHK(ours, pub, seg[1]);                                                \
	CHK(ours, pub, seg[10].last_sect)

	REQ_FIELDS(SAME_FIELD, struct ring_blkif_x86_64_request,
		   struct blkif_request);
	SAME_SIZE(struct ring_blkif_x86_64_request, struct blkif_request);
	REQ_FIELDS(X32_FIELD, struct ring_blkif_x86_32_request,
		   struct i386_blkif_request);
	X32_SIZE(struct ring_blkif_x86_32_request, struct i386_blkif_request);
}

static void check_discard(void)
{
#define DISCARD_FIELDS(CHK, ours, pub)                                         \
	CHK(ours, pub, operation);                                             \
	CHK(ours, pub, flag);                                                  \
	CHK(ours, pub, handle);                                                \
	CHK(ours, pub, id);                                                    \
	CHK(ours, pub, sector_number);                                         \
	CHK(ours, pub, nr_sectors)

	DISCARD_FIELDS(SAME_FIELD, struct ring_blkif_x86_64_request_discard,
		       struct blkif_request_discard);
	SAME_SIZE(struct ring_blkif_x86_64_request_discard,
		  struct blkif_request_discard);
	DISCARD_FIELDS(X32_FIELD, struct ring_blkif_x86_32_request_discard,
		       struct i386_blkif_request_discard);
	X32_SIZE(struct ring_blkif_x86_32_request_discard,
		 struct i386_blkif_request_discard);
}

static void check_indirect(void)
{
#define INDIRECT_FIELDS(CHK, ours, pub)                                        \
	CHK(ours, pub, operation);                                             \
	CHK(ours, pub, indirect_op);                                           \
	CHK(ours, pub, nr_segments);                                           \
	CHK(ours, pub, id);                                                    \
	CHK(ours, pub, sector_number);                                         \
	CHK(ours, pub, handle);                                                \
	CHK(ours, pub, indirect_grefs);                                        \
	CHK(ours, pub, indirect_grefs[7])

	INDIRECT_FIELDS(SAME_FIELD, struct ring_blkif_x86_64_request_indirect,
			struct blkif_request_indirect);
	SAME_SIZE(struct ring_blkif_x86_64_request_indirect,
		  struct blkif_request_indirect);
	INDIRECT_FIELDS(X32_FIELD, struct ring_blkif_x86_32_request_indirect,
			struct i386_blkif_request_indirect);
	/* The i386-only trailing pad of the header. */
	X32_FIELD(struct ring_blkif_x86_32_request_indirect,
		  struct i386_blkif_request_indirect, pad);
	X32_SIZE(struct ring_blkif_x86_32_request_indirect,
		 struct i386_blkif_request_indirect);
}

static void check_response(void)
{
#define RSP_FIELDS(CHK, ours, pub)                                             \
	CHK(ours, pub, id);                                                    \
	CHK(ours, pub, operation);                                             \
	CHK(ours, pub, status)

	RSP_FIELDS(SAME_FIELD, struct ring_blkif_x86_64_response,
		   struct blkif_response);
	SAME_SIZE(struct ring_blkif_x86_64_response, struct blkif_response);
	RSP_FIELDS(X32_FIELD, struct ring_blkif_x86_32_response,
		   struct i386_blkif_response);
	X32_SIZE(struct ring_blkif_x86_32_response, struct i386_blkif_response);
}

static void check_slots(void)
{
	/* The slot (ring stride) is the union of request and response. */
	SAME_SIZE(union ring_blkif_native_slot, union blkif_sring_entry);
	SAME_SIZE(union ring_blkif_x86_64_slot, union blkif_sring_entry);
	X32_SIZE(union ring_blkif_x86_32_slot, union i386_blkif_sring_entry);
	CHECK(ring_blkif_slot_size(RING_BLKIF_ABI_NATIVE) ==
		      sizeof(union blkif_sring_entry),
	      "native slot size %zu",
	      ring_blkif_slot_size(RING_BLKIF_ABI_NATIVE));
	CHECK(ring_blkif_slot_size(RING_BLKIF_ABI_X86_64) ==
		      sizeof(union blkif_sring_entry),
	      "x86_64 slot size %zu",
	      ring_blkif_slot_size(RING_BLKIF_ABI_X86_64));
	CHECK(ring_blkif_slot_size(RING_BLKIF_ABI_X86_32) ==
		      sizeof(union i386_blkif_sring_entry),
	      "x86_32 slot size %zu",
	      ring_blkif_slot_size(RING_BLKIF_ABI_X86_32));

	/* The shared header: slots start at the same place in every ABI. */
	CHECK(offsetof(struct ring_sring, slots) ==
		      offsetof(struct blkif_sring, ring),
	      "slots at %zu", offsetof(struct ring_sring, slots));
	CHECK(offsetof(struct ring_sring, slots) ==
		      offsetof(struct i386_blkif_sring, ring),
	      "i386 slots at %zu", offsetof(struct i386_blkif_sring, ring));
	SAME_FIELD(struct ring_sring, struct blkif_sring, req_prod);
	SAME_FIELD(struct ring_sring, struct blkif_sring, req_event);
	SAME_FIELD(struct ring_sring, struct blkif_sring, rsp_prod);
	SAME_FIELD(struct ring_sring, struct blkif_sring, rsp_event);
	SAME_FIELD(struct ring_sring, struct i386_blkif_sring, rsp_event);
	add_fact("struct i386_blkif_sring", "ring",
		 offsetof(struct ring_sring, slots),
		 sizeof(union ring_blkif_x86_32_slot));

	/* Cross-check of the ground truth (spec/blkif-xenbus.md B.2). */
	CHECK(sizeof(struct blkif_request) == 112, "native request %zu",
	      sizeof(struct blkif_request));
	CHECK(sizeof(struct i386_blkif_request) == 108, "i386 request %zu",
	      sizeof(struct i386_blkif_request));
}

/*
 * The x86_32 facts, checked by a real 32-bit compiler on the unmodified
 * public header. -ffreestanding: no 32-bit libc headers needed. Returns 0
 * if checked, 1 if no clang (noted, not a failure).
 */
static int check_with_clang_m32(void)
{
	char dir[] = "/tmp/ring-abi-XXXXXX", src[64], cmd[512];
	const char *cc = getenv("CLANG") ? getenv("CLANG") : "clang";
	FILE *f;
	int rc;

	snprintf(cmd, sizeof(cmd), "%s --version >/dev/null 2>&1", cc);
	if (system(cmd) != 0) {
		fprintf(stderr,
			"note: no %s; x86_32 checked against the "
			"i386 model only\n",
			cc);
		return 1;
	}
	CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(src, sizeof(src), "%s/m32.c", dir);
	f = fopen(src, "w");
	CHECK(f, "fopen %s", src);
	fprintf(f, "#include <stdint.h>\n#include <stddef.h>\n"
		   "#include <xen/io/blkif.h>\n"
		   "#ifndef __i386__\n#error not i386\n#endif\n");
	for (unsigned int i = 0; i < nfacts; i++) {
		const struct fact *x = &facts[i];

		if (!x->member[0])
			fprintf(f,
				"_Static_assert(sizeof(%s) == %zu && "
				"_Alignof(%s) == %zu, \"%s\");\n",
				x->type, x->off, x->type, x->size, x->type);
		else if (!strcmp(x->member, "ring"))
			fprintf(f,
				"_Static_assert(offsetof(%s, ring) == %zu && "
				"sizeof(((%s *)0)->ring[0]) == %zu, "
				"\"ring\");\n",
				x->type, x->off, x->type, x->size);
		else
			fprintf(f,
				"_Static_assert(offsetof(%s, %s) == %zu && "
				"sizeof(((%s *)0)->%s) == %zu, \"%s.%s\");\n",
				x->type, x->member, x->off, x->type, x->member,
				x->size, x->type, x->member);
	}
	CHECK(fclose(f) == 0, "fclose");
	snprintf(cmd, sizeof(cmd),
		 "%s -m32 -ffreestanding -fsyntax-only %s 2>&1", cc, src);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "kept %s\n", src);
	CHECK(rc == 0, "clang -m32 disagrees with ring/blkif.h's x86_32 "
		       "layout (see above)");
	unlink(src);
	rmdir(dir);
	return 0;
}

int main(void)
{
#ifndef __x86_64__
	SKIP("the x86_64 layouts are checked against the native header");
#endif
	check_request();
	check_discard();
	check_indirect();
	check_response();
	check_slots();
	if (check_with_clang_m32() == 0)
		printf("%u layout checks, %u x86_32 facts confirmed by clang "
		       "-m32\n",
		       nchecks, nfacts);
	else
		printf("%u layout checks\n", nchecks);
	return TEST_PASS;
}
