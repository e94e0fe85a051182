/* SPDX-License-Identifier: MIT */
/*
 * hostile.h - scaffolding for the hostile-frontend tests of blkbackd
 * (spec/hostile-frontend.md): one daemon serving two guests, guest 1
 * hostile and guest 2 honest. The honest guest runs in its own process for
 * the whole test, writing patterns and reading them back over its vbd in a
 * loop (zero blkfront violations allowed); the hostile guest attacks its
 * own vbds and checks every answer. At the end the honest guest must have
 * made progress during the attack and finished cleanly, and blkbackd must
 * still be running with nothing alarming in its log (sanitizer reports,
 * "(bug)" lines, a worker that died).
 *
 * Three ways for the hostile guest to talk to blkbackd, from the most to
 * the least civilised:
 *   - tests/front/blkfront.h, with blkfront_put_raw for requests of any
 *     shape: hostile_run() puts a batch of them and checks each answer
 *     (status and op) and that each is answered exactly once;
 *   - the ring of a connected blkfront driven by hand (hostile_ring_*),
 *     for slots rewritten after they were published and for reading the
 *     raw response bytes; the library must then never reap that queue;
 *   - a frontend handshake written by hand (struct hostile_fe), for lies
 *     told before the backend maps anything (xenstore keys, the ring's
 *     indexes at attach).
 *
 * Everything exits the test (CHECK) on failure. Guest-side helpers run in
 * a guest process forked by hostile_guest(); the others in the test's
 * main process (Dom0's view).
 */
#ifndef PVBACK_TESTS_HOSTILE_H
#define PVBACK_TESTS_HOSTILE_H

#include <stdint.h>
#include <sys/types.h>

#include "front/blkfront.h"
#include "front/xfront.h"
#include "lib/blkscen.h"
#include "ring/blkif.h"

#define HOSTILE_GUEST 1u     /* the attacker's domid */
#define HOSTILE_HONEST 2u    /* the bystander's domid */
#define HOSTILE_DEVID 51712u /* xvda; more devices: + 16 * n */
#define HOSTILE_DISK_BYTES (16ull << 20)

/* Shared (MAP_SHARED) between the test and both guest processes. */
struct hostile_shared {
	volatile int stop;	       /* the test: finish your last round */
	volatile int failed;	       /* the honest guest gave up */
	volatile unsigned long rounds; /* honest rounds completed */
	char why[256];		       /* the honest guest's failure */
};

struct hostile {
	struct blk_scen s;
	struct hostile_shared *sh;
	pid_t honest;
};

/* ------------------------------------------------- the test (Dom0) side */

/*
 * Start blkbackd for two guests (@mode: "--single" or NULL for the
 * supervisor), with the "K=V" settings of the NULL-terminated @sets (at
 * most 12, may be NULL), add the honest guest's vbd and start it; returns
 * once it completed its first round.
 */
void hostile_start(struct hostile *h, const char *mode,
		   const char *const *sets);
/*
 * Add vbd HOSTILE_GUEST/@devid backed by @path (a file or a block device),
 * with optional extra "be:K=V fe:K=V" pairs, and wait for InitWait.
 */
void hostile_add(struct hostile *h, unsigned int devid, const char *path,
		 const char *extra);
/* A zeroed (@seed 0) or patterned image file of @bytes; path in @out. */
void hostile_image(struct hostile *h, const char *name, uint64_t bytes,
		   uint32_t seed, char *out, size_t outlen);
/* Run @fn(@arg) as the hostile guest; CHECKs that it returned 0. */
void hostile_guest(struct hostile *h, int (*fn)(void *arg), void *arg);
/*
 * The backend state of the hostile guest's @devid (0 if absent) once it is
 * in @mask (bit n: state n), waiting up to @timeout_ms; CHECKs otherwise.
 */
int hostile_be_state(struct hostile *h, unsigned int devid, unsigned int mask,
		     unsigned int timeout_ms);
/* The xenbus error node of the hostile guest's @devid, or NULL. */
const char *hostile_error_node(struct hostile *h, unsigned int devid);
/*
 * CHECK that the error node of @devid exists, starts with the positive
 * errno "<n> " and contains @needle (case-sensitive; NULL: anything).
 */
void hostile_expect_error_node(struct hostile *h, unsigned int devid,
			       const char *needle);
/* CHECK that @devid has no error node. */
void hostile_expect_no_error_node(struct hostile *h, unsigned int devid);
/* `blkbackd --stats --json` of the running daemon (static buffer). */
const char *hostile_stats(struct hostile *h);
/* CHECK that blkbackd runs and its log holds no sign of a bug. */
void hostile_check_daemon(struct hostile *h);
/*
 * Stop blkbackd (SIGTERM) and CHECK that it exits 0 with a clean log,
 * what it reports on the way out (LeakSanitizer) included.
 */
void hostile_stop_daemon(struct hostile *h);
/*
 * Stop the honest guest after one more round, CHECK it passed, check the
 * daemon, stop it, and mark the test passed. Returns TEST_PASS.
 */
int hostile_finish(struct hostile *h);
/*
 * CHECK that [@off, @off + @len) of the file @path holds the pattern
 * @seed (0: zeros).
 */
void hostile_expect_file(const char *path, uint64_t off, size_t len,
			 uint32_t seed, const char *what);

/* ------------------------------------------------- hostile guest side */

/*
 * Wait until the honest guest completed @n more rounds (proof that it kept
 * working while we attack); CHECKs within 30 s. @when names the moment.
 */
void hostile_progress(unsigned int n, const char *when);

/* blkfront_connect of device @devid with @cfg (NULL: defaults); CHECKs. */
struct blkfront *hostile_connect(unsigned int devid,
				 const struct blkfront_cfg *cfg);
/* CHECK that @bf counted no violation of a blkfront invariant. */
void hostile_no_violations(struct blkfront *bf, const char *when);

/* A page of @q's pool, kept for the caller's raw requests. */
struct hostile_page {
	int idx;
	uint32_t gref;
	unsigned char *addr;
};
void hostile_page(struct blkfront *bf, unsigned int q, struct hostile_page *p);

/*
 * Good I/O on @q (nothing else in flight there): write @len bytes of
 * pattern @seed at @sector, read them back, compare. CHECKs.
 */
void hostile_rw_ok(struct blkfront *bf, unsigned int q, uint64_t sector,
		   size_t len, uint32_t seed);
/* Read @len bytes at @sector through @bf into @buf; returns the status. */
int hostile_read(struct blkfront *bf, unsigned int q, uint64_t sector,
		 void *buf, size_t len);

/*
 * A READ/WRITE-shaped request (any @op): @nseg segments (at most 11
 * filled), segment i on grefs[i % @ngrefs] (or gref 0 if @ngrefs is 0)
 * from @first to @last.
 */
void hostile_req(struct ring_blkif_req *r, uint8_t op, uint64_t sector,
		 unsigned int nseg, const uint32_t *grefs, unsigned int ngrefs,
		 uint8_t first, uint8_t last);

#define HOSTILE_ANY 100 /* hostile_run: any status goes */

/* One raw request of a batch and what must come back. */
struct hostile_req {
	struct ring_blkif_req r;
	int want;	  /* BLKIF_RSP_*, or HOSTILE_ANY */
	const char *what; /* for the failure message */
	/* filled by hostile_run */
	int done;
	int16_t status;
	uint8_t op;
};

/*
 * Put the @n requests on @q with blkfront_put_raw (the library assigns the
 * ids and checks each response), as many per kick as the ring takes, and
 * wait for all. CHECKs that each was answered exactly once, with its op
 * (the indirect_op for INDIRECT) and the wanted status, and that no
 * blkfront invariant broke.
 */
void hostile_run(struct blkfront *bf, unsigned int q, struct hostile_req *v,
		 unsigned int n);

/* ------------------------------------------- a ring driven by hand */

/* Slot @idx (free-running) of @rf's shared ring. */
unsigned char *hostile_ring_slot(struct ring_blkif_front *rf, uint32_t idx);
/*
 * Put @r in the next request slot of @rf, encoded in its ABI (not yet
 * published). Returns the slot's free-running index.
 */
uint32_t hostile_ring_put(struct ring_blkif_front *rf,
			  const struct ring_blkif_req *r);
/* Publish what was put and notify the backend. */
void hostile_ring_push(struct blkfront *bf, unsigned int q);
/*
 * Collect @n responses from @rf into @out (ABI-decoded), polling for up
 * to @timeout_ms. Returns how many came (CHECKs the ring stayed sane).
 */
unsigned int hostile_ring_wait(struct ring_blkif_front *rf,
			       struct ring_blkif_rsp *out, unsigned int n,
			       int timeout_ms);

/* ------------------------------------------- a handshake by hand */

/*
 * A frontend that does the xenbus handshake itself: a ring of 2^order
 * pages shared with the backend domain and initialised, an unbound event
 * channel port for it, and whatever keys the test decides to write.
 */
struct hostile_fe {
	struct xfront f;
	struct xen_gntshr *gs;
	struct xen_evtchn *xe;
	void *ring;
	unsigned int order;
	uint32_t refs[RING_MAX_PAGES];
	int port;
	struct ring_blkif_front rf;
};

/*
 * Open device/vbd/@devid, wait for the backend's InitWait, share and
 * initialise a ring of 2^@order pages speaking @abi, allocate the port.
 */
void hostile_fe_open(struct hostile_fe *fe, unsigned int devid,
		     unsigned int order, enum ring_blkif_abi abi);
/*
 * Write the keys a Linux blkfront with one queue writes (ring-ref or
 * ring-page-order + ring-refN, event-channel, protocol), then apply
 * @edits in the same transaction: "key=value" writes, "-key" removes
 * (NULL-terminated, may be NULL). Does not touch the state.
 */
void hostile_fe_keys(struct hostile_fe *fe, const char *const *edits);
/* Write our state. */
void hostile_fe_state(struct hostile_fe *fe, int state);
/*
 * Wait up to @timeout_ms for the backend state to be in @mask; returns
 * it (0: directory gone) or -ETIMEDOUT.
 */
int hostile_fe_wait(struct hostile_fe *fe, unsigned int mask,
		    unsigned int timeout_ms);
/* Release the ring and the port (the backend must have let go). */
void hostile_fe_close(struct hostile_fe *fe);

#endif
