# pvback - plain non-recursive Makefile.
#
#   make            build everything into build/
#   make test       run the test suite (tests/run-tests.sh)
#   make demo       the main job: the daemons on the emulated Xen
#   make bench      benchmark programs under bench/ (figures, not tests)
#   make fuzz       libFuzzer targets into build/fuzz/ (clang)
#   make e2e        end-to-end tests on a real Xen in QEMU (tests/e2e; E2E=...)
#   make bench-e2e  fio and iperf3 in a domU on that Xen: blkbackd/netbackd next to
#                   the kernel backends and QEMU qdisk (bench/real-xen.sh)
#   V=1             full command lines
#   SANITIZE=1      ASan + UBSan build (into build-san/ unless BUILD is set)
#
# Every target that runs something first checks the Debian packages it needs
# through scripts/deps.sh, which installs what is missing.

ifeq ($(SANITIZE),1)
BUILD ?= build-san
else
BUILD ?= build
endif

# where `make install` puts pvback (and an installed netbackd its plugins)
PREFIX ?= /usr
CC ?= cc
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wno-unused-parameter
CPPFLAGS_ALL := -D_GNU_SOURCE -I. -Itests
CFLAGS_ALL := -std=gnu11 $(WARN) -MMD -MP -fno-strict-aliasing $(CFLAGS)
LDFLAGS_ALL := $(LDFLAGS)
ifeq ($(SANITIZE),1)
CFLAGS_ALL += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS_ALL += -fsanitize=address,undefined
endif

ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-7s %s\n' $(1) $(2);
endif

XEN_LIBS := -lxenstore -lxengnttab -lxenevtchn -lxentoolcore
IO_LIBS := -luring -laio
all:

# ---------------------------------------------------------------- xensim
# The emulated Xen: xensimd (hypervisor + xenstored), the drop-in
# libxengnttab.so.1 / libxenevtchn.so.1, and the small toolstack xensim-ctl.
XENSIMD_SRC := tests/xensim/xensimd.c tests/xensim/xsd.c tests/xensim/hv.c
XENSIM_CTL_SRC := tests/xensim/xensim-ctl.c
SIMLIB_COMMON_SRC := tests/xensim/simclient.c
SIMLIB_GNTTAB_SRC := tests/xensim/libgnttab.c $(SIMLIB_COMMON_SRC)
SIMLIB_EVTCHN_SRC := tests/xensim/libevtchn.c $(SIMLIB_COMMON_SRC)

XENSIMD := $(BUILD)/xensim/xensimd
XENSIM_CTL := $(BUILD)/xensim/xensim-ctl
SIMLIB_DIR := $(BUILD)/xensim/lib
SIMLIB_GNTTAB := $(SIMLIB_DIR)/libxengnttab.so.1
SIMLIB_EVTCHN := $(SIMLIB_DIR)/libxenevtchn.so.1
XENSIM_ALL := $(XENSIMD) $(XENSIM_CTL) $(SIMLIB_GNTTAB) $(SIMLIB_EVTCHN)

# Position-independent objects for the shared libraries live apart.
obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
picobj = $(patsubst %.c,$(BUILD)/pic/%.o,$(1))

$(XENSIMD): $(call obj,$(XENSIMD_SRC))
	$(call say,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ -lpthread

$(XENSIM_CTL): $(call obj,$(XENSIM_CTL_SRC))
	$(call say,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ -lxenstore

# Same sonames and symbol versions as Debian's libraries, so a program linked
# against the real ones loads these through LD_LIBRARY_PATH without warnings.
$(SIMLIB_GNTTAB): $(call picobj,$(SIMLIB_GNTTAB_SRC)) tests/xensim/libxengnttab.map
	$(call say,LD,$@)$(CC) $(LDFLAGS_ALL) -shared -o $@ \
		$(call picobj,$(SIMLIB_GNTTAB_SRC)) \
		-Wl,-soname,libxengnttab.so.1 \
		-Wl,--version-script=tests/xensim/libxengnttab.map -lxentoolcore -lpthread
	$(Q)ln -sf libxengnttab.so.1 $(SIMLIB_DIR)/libxengnttab.so

$(SIMLIB_EVTCHN): $(call picobj,$(SIMLIB_EVTCHN_SRC)) tests/xensim/libxenevtchn.map
	$(call say,LD,$@)$(CC) $(LDFLAGS_ALL) -shared -o $@ \
		$(call picobj,$(SIMLIB_EVTCHN_SRC)) \
		-Wl,-soname,libxenevtchn.so.1 \
		-Wl,--version-script=tests/xensim/libxenevtchn.map -lxentoolcore -lpthread
	$(Q)ln -sf libxenevtchn.so.1 $(SIMLIB_DIR)/libxenevtchn.so

all: $(XENSIM_ALL)

# ---------------------------------------------------------------- daemons
# blkbackd: everything under blkback/ plus common/. The objects other than
# main.o are also linked into the tests, so a test can drive one module.
# common/daemon.c (the process: supervisor, workers, control socket) and
# common/sandbox.c (seccomp) go only into daemons, with -lseccomp.
DAEMON_SRC := common/daemon.c common/sandbox.c
DAEMON_LIBS := -lseccomp
COMMON_SRC := $(filter-out $(DAEMON_SRC),$(wildcard common/*.c))
BLKBACK_SRC := $(wildcard blkback/*.c)
BLKBACK_LIB_SRC := $(filter-out blkback/main.c,$(BLKBACK_SRC))
BLKBACKD := $(BUILD)/blkbackd

$(BLKBACKD): $(call obj,$(BLKBACK_SRC) $(COMMON_SRC) $(DAEMON_SRC))
	$(call say,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(XEN_LIBS) $(IO_LIBS) $(DAEMON_LIBS) -lpthread

all: $(BLKBACKD)

# ---------------------------------------------------------------- netbackd
# netbackd: everything under netback/ plus common/ (and the daemon process,
# as blkbackd). The objects other than main.o are also linked into the
# net-* tests, so a test can drive one module (netq_tx_plan, pkt.h users).
NETBACK_SRC := $(filter-out netback/port_dpdk.c,$(wildcard netback/*.c))
NETBACK_LIB_SRC := $(filter-out netback/main.c,$(NETBACK_SRC))
NETBACKD := $(BUILD)/netbackd

# The DPDK port (port=dpdk), only where pkg-config finds libdpdk (Debian:
# libdpdk-dev): a plugin, $(BUILD)/port_dpdk.so, that netbackd loads
# (port.c) only when a configuration asks for port=dpdk. netbackd itself
# links no DPDK: Debian builds DPDK for corei7 (SSE4.2), and its libraries'
# constructors would kill netbackd at start on a CPU without it (QEMU's
# qemu64, which the e2e Dom0 runs on) whatever the port; and a Dom0
# without DPDK's libraries runs TAP ports. port_dpdk.c alone sees DPDK's
# flags (its headers as system headers, under our warnings); it calls
# netbackd's own functions (log, pkt), which netbackd exports (-rdynamic).
# PVBACK_HAVE_DPDK lists the port's keys in main.c and tells the tests.
DPDK := $(shell pkg-config --exists libdpdk 2>/dev/null && echo 1)
PORT_DPDK_SO := $(BUILD)/port_dpdk.so
ifeq ($(DPDK),1)
DPDK_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags libdpdk))
DPDK_LIBS := $(shell pkg-config --libs libdpdk)
CPPFLAGS_ALL += -DPVBACK_HAVE_DPDK
$(PORT_DPDK_SO): netback/port_dpdk.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(DPDK_CFLAGS) -fPIC -shared \
		-MF $(BUILD)/port_dpdk.d -o $@ $< $(DPDK_LIBS) -lpthread
all: $(PORT_DPDK_SO)
endif
# where an installed netbackd looks for port_dpdk.so (after its own directory)
$(call obj,netback/port.c): CPPFLAGS_ALL += -DPVBACK_PORT_DIR='"$(PREFIX)/lib/pvback"'

$(NETBACKD): $(call obj,$(NETBACK_SRC) $(COMMON_SRC) $(DAEMON_SRC))
	$(call say,LD,$@)$(CC) $(LDFLAGS_ALL) -rdynamic -o $@ $^ $(XEN_LIBS) $(DAEMON_LIBS) -lpthread

NET_TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/net-*.c))
$(NET_TEST_BIN): $(call obj,$(NETBACK_LIB_SRC))
$(NETBACKD): | dirs

all: $(NETBACKD)

# ---------------------------------------------------------------- tests
# One program per behaviour: tests/<area>-<behaviour>.c -> build/tests/<name>,
# linked with the test support library, common/, and the (real, at link
# time) Xen libs.
# Shell tests tests/<name>.sh are run from the source tree.
TESTLIB_SRC := $(wildcard tests/lib/*.c)
FRONT_SRC := $(wildcard tests/front/*.c)
TEST_SRC := $(wildcard tests/*.c)
TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))

TESTSUPPORT_OBJ = $(call obj,$(TESTLIB_SRC) $(FRONT_SRC) $(BLKBACK_LIB_SRC) $(COMMON_SRC))

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TESTSUPPORT_OBJ)
	$(call say,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(XEN_LIBS) $(IO_LIBS) -lpthread

all: $(TEST_BIN)

# Programs the tests start (test daemons), not tests themselves.
TESTD_SRC := $(wildcard tests/testd/*.c)
TESTD_BIN := $(patsubst tests/testd/%.c,$(BUILD)/tests/testd/%,$(TESTD_SRC))

$(BUILD)/tests/testd/%: $(BUILD)/obj/tests/testd/%.o $(TESTSUPPORT_OBJ) $(call obj,$(DAEMON_SRC))
	$(call say,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(XEN_LIBS) $(IO_LIBS) $(DAEMON_LIBS) -lpthread

all: $(TESTD_BIN)

# The programs of `make demo` (scripts/demo.sh) built on the test
# scaffolding: tests/demo/<name>.c -> build/tests/demo/<name>.
DEMO_SRC := $(wildcard tests/demo/*.c)
DEMO_BIN := $(patsubst tests/demo/%.c,$(BUILD)/tests/demo/%,$(DEMO_SRC))

$(BUILD)/tests/demo/%: $(BUILD)/obj/tests/demo/%.o $(TESTSUPPORT_OBJ) $(call obj,$(NETBACK_LIB_SRC))
	$(call say,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(XEN_LIBS) $(IO_LIBS) -lpthread

all: $(DEMO_BIN)

# ---------------------------------------------------------------- bench
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(TESTSUPPORT_OBJ)
	$(call say,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(XEN_LIBS) $(IO_LIBS) -lpthread

all: $(BENCH_BIN)

# Programs the bench scripts run (bench/helpers/<name>.c ->
# $(BUILD)/bench/helpers/<name>), not benchmarks of their own: run-bench.sh
# starts only the files directly in $(BUILD)/bench.
BENCH_HELPER_SRC := $(wildcard bench/helpers/*.c)
BENCH_HELPER_BIN := $(patsubst bench/helpers/%.c,$(BUILD)/bench/helpers/%,$(BENCH_HELPER_SRC))

$(BUILD)/bench/helpers/%: $(BUILD)/obj/bench/helpers/%.o $(TESTSUPPORT_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(XEN_LIBS) $(IO_LIBS) -lpthread

all: $(BENCH_HELPER_BIN)

# ---------------------------------------------------------------- fuzz
# libFuzzer targets, one per parser: tests/fuzz/<name>.c -> build/fuzz/<name>,
# built with clang and linked with the pure modules they exercise.
FUZZ_SRC := $(wildcard tests/fuzz/*.c)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
FUZZ_DEPS := blkback/req.c
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -D_GNU_SOURCE -I. -Itests

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_DEPS)

fuzz: $(FUZZ_BIN)

# ---------------------------------------------------------------- fio engine
# $(BUILD)/fio/pvback-blkfront.so: the userspace blkfront as a fio external
# ioengine (fio --ioengine=external:<path>), built against fio's own source
# at the installed fio's version: scripts/fio-src.sh fetches Debian's source
# package once into $(FIO_SRC_CACHE) (it needs the Debian archive). Not in
# `all`, so a plain `make` never needs the network; `test` and `demo` try
# to build it, and without it the fio tests skip (exit 77) and say why.
# fio finds the engine's `ioengine` symbol with dlsym: the engine file is
# compiled with default visibility, the pic objects keep theirs hidden.
FIO_ENGINE := $(BUILD)/fio/pvback-blkfront.so
FIO_SRC_CACHE ?= $(BUILD)/fio-src
FIO_ENGINE_SRC := tests/fio/pvback-blkfront.c
FIO_ENGINE_PIC := $(call picobj,$(FRONT_SRC) $(COMMON_SRC))
FIO_ENGINE_CFLAGS := -std=gnu11 -fPIC -Wall -Wno-unused-parameter \
	-Wno-sign-compare -D_GNU_SOURCE $(CFLAGS)

$(FIO_SRC_CACHE)/srcdir: scripts/fio-src.sh
	@mkdir -p $(dir $@)
	$(call say,FETCH,$(FIO_SRC_CACHE))scripts/fio-src.sh $(FIO_SRC_CACHE) >$@.tmp && mv $@.tmp $@

ifeq ($(SANITIZE),1)
fio-engine:
	@echo "fio-engine: not built with SANITIZE=1 (fio itself is not instrumented)" >&2; exit 1
else
$(FIO_ENGINE): $(FIO_ENGINE_SRC) $(FIO_ENGINE_PIC) $(FIO_SRC_CACHE)/srcdir
	@mkdir -p $(dir $@)
	$(call say,LD,$@)fio=$$(cat $(FIO_SRC_CACHE)/srcdir) && \
	$(CC) $(FIO_ENGINE_CFLAGS) -shared -include $$fio/config-host.h \
		-I$$fio -I. -Itests -o $@ $(FIO_ENGINE_SRC) $(FIO_ENGINE_PIC) \
		$(LDFLAGS) $(XEN_LIBS) -lpthread

fio-engine: $(FIO_ENGINE)
endif

# For test and demo: build the engine if possible, never fail because of it.
fio-engine-try: deps
	$(Q)$(MAKE) --no-print-directory fio-engine || \
		echo "warning: no fio engine ($(FIO_ENGINE)); the fio tests will skip" >&2

test demo bench: fio-engine-try
.PHONY: fio-engine fio-engine-try

# ---------------------------------------------------------------- e2e
# End-to-end tests on a real Xen 4.17 booted in QEMU (TCG), images built
# from Debian packages (tests/e2e/README.md); never part of `make test`.
#   make e2e                      the default scenarios
#   make e2e E2E="blk-pv smoke"   chosen ones (tests/e2e/run.sh --list)
# scripts/deps.sh --e2e installs Xen, a kernel, QEMU and busybox; the
# serial log and Dom0's logs land in $(BUILD)/e2e/logs/<date>/.
E2E ?=

e2e:
	$(Q)scripts/deps.sh --e2e
	$(Q)$(MAKE) --no-print-directory $(BLKBACKD) $(NETBACKD)
	$(Q)BUILD=$(BUILD) tests/e2e/run.sh $(E2E)

# The same boot as `make e2e E2E="blk-compare net-compare"`, its figures as
# one table with the ratios pvback/kernel and pvback/qdisk, saved in
# bench/results/real-xen.md (BENCH_RUNS=N boots, medians; E2E_FIORT,
# E2E_IPERFT: seconds per run). Figures only, never a test.
bench-e2e:
	$(Q)scripts/deps.sh --e2e
	$(Q)$(MAKE) --no-print-directory $(BLKBACKD) $(NETBACKD)
	$(Q)BUILD=$(BUILD) bench/real-xen.sh

.PHONY: e2e bench-e2e

# ---------------------------------------------------------------- rules
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -fPIC -fvisibility=hidden -c -o $@ $<

# Linked outputs need their directory.
$(XENSIM_ALL) $(BLKBACKD) $(TEST_BIN) $(TESTD_BIN) $(DEMO_BIN) $(BENCH_BIN): | dirs
dirs:
	@mkdir -p $(BUILD)/xensim/lib $(BUILD)/tests/testd $(BUILD)/tests/demo $(BUILD)/bench

# ---------------------------------------------------------------- jobs
.PHONY: all deps test demo bench fuzz clean format format-check dirs

deps:
	$(Q)scripts/deps.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all fuzz
	$(Q)BUILD=$(BUILD) tests/run-tests.sh $(TESTS)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) scripts/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) bench/run-bench.sh

FORMAT_SRC = $(shell git ls-files '*.c' '*.h')
format:
	$(Q)clang-format -i $(FORMAT_SRC)
format-check:
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRC)

clean:
	rm -rf build build-san

# Keep objects between runs instead of deleting them as intermediates.
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------- install
# The daemons as Dom0 services: binaries, xl hotplug scripts, systemd units,
# and the configuration files unless some are there already.
#   make install [DESTDIR=/staging] [PREFIX=/usr]
install: $(BLKBACKD) $(NETBACKD)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)/etc/xen/scripts \
		$(DESTDIR)/lib/systemd/system $(DESTDIR)/etc/pvback \
		$(DESTDIR)$(PREFIX)/share/doc/pvback
	install -m 0755 $(BLKBACKD) $(NETBACKD) $(DESTDIR)$(PREFIX)/sbin/
	install -m 0755 scripts/hotplug/pvback-block scripts/hotplug/pvback-vif \
		$(DESTDIR)/etc/xen/scripts/
	sed 's|/usr/sbin/|$(PREFIX)/sbin/|' scripts/systemd/blkbackd.service \
		>$(DESTDIR)/lib/systemd/system/blkbackd.service
	sed 's|/usr/sbin/|$(PREFIX)/sbin/|' scripts/systemd/netbackd.service \
		>$(DESTDIR)/lib/systemd/system/netbackd.service
	for c in blkbackd netbackd; do \
		[ -e $(DESTDIR)/etc/pvback/$$c.conf ] || \
			install -m 0644 scripts/conf/$$c.conf $(DESTDIR)/etc/pvback/; \
	done
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/pvback/
	if [ -e $(PORT_DPDK_SO) ]; then \
		install -d $(DESTDIR)$(PREFIX)/lib/pvback && \
		install -m 0644 $(PORT_DPDK_SO) $(DESTDIR)$(PREFIX)/lib/pvback/; \
	fi

.PHONY: install
