# SPDX-License-Identifier: MIT
#
# tests/fuzz/fuzz.mk - included by the top-level Makefile: libFuzzer
# harnesses (clang -fsanitize=fuzzer, with ASan and UBSan) for what reads
# untrusted input: the size and number parsers, the command line of every
# server, and the state file reader.  The framework is compiled again with
# clang and the sanitizers into $(B)/fuzz/.  tests/fuzz-check.sh runs each
# for a bounded time in make check.

FUZZ_CC := clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=gnu11 -g -O1 $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	$(URING_CFLAGS) $(JSON_CFLAGS) $(NBD_CFLAGS) -Iframework/include -Iframework -Ifilters -Itargets
FUZZ_NAMES := size options state
FUZZ_BINS := $(FUZZ_NAMES:%=$(B)/fuzz/fuzz-%)
FUZZ_OBJS := $(LIB_SRCS:%.c=$(B)/fuzz/%.o) \
	$(TARGET_SRCS:%.c=$(B)/fuzz/%.o) $(NBD_MOD_SRCS:%.c=$(B)/fuzz/%.o) $(RBD_MOD_SRCS:%.c=$(B)/fuzz/%.o)

.PHONY: fuzz
fuzz: $(FUZZ_BINS)

$(B)/fuzz/%.o: %.c config.mk tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(B)/fuzz/fuzz-%: tests/fuzz/fuzz-%.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(DEPFLAGS) -o $@ $< $(FUZZ_OBJS) $(LIBS) $(NBD_LIBS) $(RBD_LIBS) -ldl

-include $(FUZZ_OBJS:.o=.d) $(FUZZ_BINS:=.d)
