# SPDX-License-Identifier: MIT
#
# ublk-fw top-level Makefile.
#   make            build libublkfw (static + shared), the targets and ublk-fw-ctl
#   make check      install missing packages, build, run every test
#                   (unit tests on the host; integration tests on a real kernel:
#                   natively when /dev/ublk-control exists, else in a qemu guest)
#   make demo       a real device served by the null target, with a short fio run
#   make bench      benchmarks against kernel baselines and bench/raw-null
#                   (one guest boot or natively; results in bench/results/)
#   make bench-smoke the benchmark harness in 1-second mode (run by make check)
#   make bench-rbd  the rbd pair of make bench alone (bench/rbd-pair.sh)
#   make install    DESTDIR=... PREFIX is set by ./configure --prefix; runs
#                   ldconfig unless DESTDIR is set
#   make clean

-include config.mk

.DEFAULT_GOAL := all

B := build
VERSION := 0.1.0
SOVERSION := 0

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
BASE_CFLAGS := -std=gnu11 -fPIC $(WARN) $(OPT_CFLAGS) $(URING_CFLAGS) $(JSON_CFLAGS) $(NBD_CFLAGS) \
	-Iframework/include -Iframework -Ifilters -Itargets $(CFLAGS)
DEPFLAGS = -MMD -MP

LIB_SRCS := framework/ctrl.c framework/queue.c framework/queue_wait.c framework/dev.c framework/main.c \
	framework/options.c framework/state.c framework/rundir.c framework/jsonstr.c framework/util.c framework/shmem_pool.c \
	framework/shmem_table.c framework/sockets.c framework/devstats.c framework/client.c \
	framework/abi.c framework/filter.c framework/daemon.c framework/recover.c framework/usercopy.c \
	framework/unpriv.c \
	filters/filters.c filters/common.c filters/delay.c filters/error.c filters/die.c \
	filters/stats.c filters/rate.c
TARGET_SRCS := targets/targets.c targets/null.c targets/memory.c targets/loop.c \
	targets/stripe.c targets/backing.c targets/backing_map.c targets/modules.c
# The targets built as modules (targets/modules.c), each with its library.
NBD_MOD_SRCS := targets/nbd.c targets/nbd_conn.c targets/nbd_map.c
RBD_MOD_SRCS := targets/rbd.c targets/rbd_connect.c
TOOL_SRCS := tools/ublk-fw-ctl.c tools/ctl-stats.c tools/ctl-util.c tools/ctl-recover.c
UNIT_SRCS := $(wildcard tests/unit/*.c)

LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
TARGET_OBJS := $(TARGET_SRCS:%.c=$(B)/%.o)
NBD_MOD_OBJS := $(NBD_MOD_SRCS:%.c=$(B)/%.o)
RBD_MOD_OBJS := $(RBD_MOD_SRCS:%.c=$(B)/%.o)
MODULES := $(B)/targets/ublkfw-nbd.so $(B)/targets/ublkfw-rbd.so
TARGETDIR := $(LIBDIR)/ublk-fw/targets
UNIT_OBJS := $(UNIT_SRCS:%.c=$(B)/%.o)

LIBA := $(B)/libublkfw.a
LIBSO := $(B)/libublkfw.so.$(VERSION)
CTL := $(B)/ublk-fw-ctl
UDEV_HELPER := $(B)/ublk-fw-udev
# The udev rule of unprivileged devices, naming the installed helper; the
# tests use the same rule naming the built one (udev/test/).
UDEV_RULE := $(B)/udev/99-ublk-fw.rules
UDEV_TEST_RULE := $(B)/udev/test/99-ublk-fw.rules
UNIT := $(B)/tests/unit-tests
RAWNULL := $(B)/bench/raw-null
LIBS := $(URING_LIBS) $(EV_LIBS) $(JSON_LIBS) -lpthread

ALL := $(LIBA) $(LIBSO) $(CTL) $(MODULES) $(UDEV_HELPER) $(UDEV_RULE) $(UDEV_TEST_RULE) $(B)/ublkfw.pc \
	$(RAWNULL)

# Test programs that live with their tests (the kernel-level tests) bring
# their own rules and add their binaries to ALL.
-include tests/kernel/kernel.mk
-include tests/fuzz/fuzz.mk
ifeq ($(ENABLE_TESTS),yes)
ALL += $(UNIT)
endif

.PHONY: all check unit integration demo install uninstall clean distclean deps examples \
	bench bench-smoke bench-rbd

all: config.mk $(ALL)

config.mk: configure
	@if [ -f config.mk ]; then echo "configure changed: re-running it"; fi
	./configure

$(B)/%.o: %.c config.mk
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(DEPFLAGS) -c $< -o $@

# Public symbols only (UBLKFW_API) in the shared library.
$(B)/framework/%.o: framework/%.c config.mk
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -fvisibility=hidden $(DEPFLAGS) -c $< -o $@

$(B)/filters/%.o: filters/%.c config.mk
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -fvisibility=hidden $(DEPFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

# Exported symbols and their versions: framework/libublkfw.map.
LIBMAP := framework/libublkfw.map
$(LIBSO): $(LIB_OBJS) $(LIBMAP)
	$(CC) -shared -Wl,-soname,libublkfw.so.$(SOVERSION) -Wl,--no-undefined \
		-Wl,--version-script=$(LIBMAP) $(LDFLAGS) -o $@ $(LIB_OBJS) $(LIBS)
	ln -sf libublkfw.so.$(VERSION) $(B)/libublkfw.so.$(SOVERSION)
	ln -sf libublkfw.so.$(SOVERSION) $(B)/libublkfw.so

# The tool links the static library: it uses internal (non-API) functions.
# It exports the public API (default visibility) to the target modules.
$(CTL): $(TOOL_SRCS:%.c=$(B)/%.o) $(TARGET_OBJS) $(LIBA)
	$(CC) $(LDFLAGS) -Wl,--export-dynamic -o $@ $^ $(LIBS) -ldl

$(B)/targets/modules.o: BASE_CFLAGS += -DUBLKFW_TARGETDIR='"$(TARGETDIR)"'

# A module's undefined symbols are the public API, found in ublk-fw-ctl.
$(B)/targets/ublkfw-nbd.so: $(NBD_MOD_OBJS)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(NBD_LIBS) $(EV_LIBS)

$(B)/targets/ublkfw-rbd.so: $(RBD_MOD_OBJS)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(RBD_LIBS)

$(UDEV_HELPER): $(B)/tools/ublk-fw-udev.o $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(UDEV_RULE): udev/99-ublk-fw.rules.in config.mk
	@mkdir -p $(dir $@)
	sed 's|@UDEV_HELPER@|$(LIBEXECDIR)/ublk-fw/ublk-fw-udev|' $< > $@

$(UDEV_TEST_RULE): udev/99-ublk-fw.rules.in config.mk
	@mkdir -p $(dir $@)
	sed 's|@UDEV_HELPER@|$(abspath $(UDEV_HELPER))|' $< > $@

# The benchmarks' baseline: a bare liburing ublk null server, no framework.
$(RAWNULL): bench/raw-null.c framework/ublk_uapi.h config.mk
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) $(OPT_CFLAGS) $(URING_CFLAGS) -Iframework $(CFLAGS) $(DEPFLAGS) \
		$(LDFLAGS) -o $@ $< $(URING_LIBS) -lpthread

$(UNIT): $(UNIT_OBJS) $(TARGET_OBJS) $(NBD_MOD_OBJS) $(RBD_MOD_OBJS) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(NBD_LIBS) $(RBD_LIBS) $(CRITERION_LIBS)

$(B)/tests/unit/%.o: tests/unit/%.c config.mk
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CRITERION_CFLAGS) $(DEPFLAGS) -c $< -o $@

# libdir and includedir relative to ${prefix} when under it, so that
# `pkg-config --define-prefix` can relocate a staged install.
$(B)/ublkfw.pc: framework/ublkfw.pc.in config.mk
	sed -e 's|@PREFIX@|$(PREFIX)|' \
	    -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(VERSION)|' $< > $@

# The out-of-tree example, built as a user would: `make install` (into a
# staging DESTDIR), then pkg-config --cflags --libs ublkfw.
STAGE := $(abspath $(B)/stage)
examples: all
	rm -rf $(STAGE)
	$(MAKE) --no-print-directory install DESTDIR=$(STAGE)
	@mkdir -p $(B)/examples
	PKG_CONFIG_PATH=$(STAGE)$(PKGCONFIGDIR) $(MAKE) --no-print-directory -C examples \
		PKG_CONFIG="pkg-config --define-prefix" OUT=$(abspath $(B)/examples)

deps:
	@sh scripts/install-deps.sh test

# Unit tests: criterion, on the host, no kernel needed.
unit: $(UNIT)
	$(UNIT) --jobs 1

# Integration tests: real ublk, natively or in the guest (tests/run-integration.sh).
integration: all
	tests/run-integration.sh

check: deps
	$(MAKE) all examples
	tests/check.sh

demo: deps
	$(MAKE) all
	tests/demo.sh

# Benchmarks (bench/bench.sh): one guest boot on the patched kernel, or natively.
bench: deps
	$(MAKE) all
	bench/bench.sh; s=$$?; bench/rbd-pair.sh && exit $$s

# The rbd pair alone: ublk-fw's rbd target against the kernel's RBD client.
bench-rbd: all
	bench/rbd-pair.sh

bench-smoke: all
	bench/bench.sh --smoke

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(LIBEXECDIR)/ublk-fw $(DESTDIR)$(UDEVRULESDIR)
	install -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIBSO) $(DESTDIR)$(LIBDIR)/
	ln -sf libublkfw.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libublkfw.so.$(SOVERSION)
	ln -sf libublkfw.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libublkfw.so
	install -m 644 framework/include/ublkfw.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(B)/ublkfw.pc $(DESTDIR)$(PKGCONFIGDIR)/
	install -m 755 $(CTL) $(DESTDIR)$(BINDIR)/
	install -d $(DESTDIR)$(TARGETDIR)
	install -m 644 $(MODULES) $(DESTDIR)$(TARGETDIR)/
	install -m 755 $(UDEV_HELPER) $(DESTDIR)$(LIBEXECDIR)/ublk-fw/
	install -m 644 $(UDEV_RULE) $(DESTDIR)$(UDEVRULESDIR)/
	install -m 644 man/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 man/*.7 $(DESTDIR)$(MANDIR)/man7/
	install -m 644 man/ublk-fw-ctl.8 $(DESTDIR)$(MANDIR)/man8/
# A real install refreshes the dynamic linker's cache (LIBDIR must be one of
# its directories, /etc/ld.so.conf); a staged one (DESTDIR) leaves it alone.
ifeq ($(DESTDIR),)
	ldconfig || echo "make install: ldconfig failed: run it as root before using libublkfw.so"
	if [ -S /run/udev/control ]; then udevadm control --reload && \
		udevadm trigger --action=add --sysname-match=ublk-control; fi || \
		echo "make install: udevadm failed: reload udev's rules before making unprivileged devices"
endif

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libublkfw.a $(DESTDIR)$(LIBDIR)/libublkfw.so* \
	      $(DESTDIR)$(INCLUDEDIR)/ublkfw.h $(DESTDIR)$(PKGCONFIGDIR)/ublkfw.pc \
	      $(DESTDIR)$(BINDIR)/ublk-fw-ctl $(DESTDIR)$(MANDIR)/man8/ublk-fw-ctl.8 \
	      $(patsubst $(B)/targets/%,$(DESTDIR)$(TARGETDIR)/%,$(MODULES)) \
	      $(DESTDIR)$(LIBEXECDIR)/ublk-fw/ublk-fw-udev $(DESTDIR)$(UDEVRULESDIR)/99-ublk-fw.rules \
	      $(patsubst man/%,$(DESTDIR)$(MANDIR)/man3/%,$(wildcard man/*.3)) \
	      $(patsubst man/%,$(DESTDIR)$(MANDIR)/man7/%,$(wildcard man/*.7))

clean:
	rm -rf $(B)

distclean: clean
	rm -f config.mk config.log
	rm -rf tests/out

-include $(LIB_OBJS:.o=.d) $(TARGET_OBJS:.o=.d) $(NBD_MOD_OBJS:.o=.d) $(RBD_MOD_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(B)/tools/ublk-fw-ctl.d \
	$(RAWNULL).d $(TOOL_SRCS:%.c=$(B)/%.d) $(B)/tools/ublk-fw-udev.d
