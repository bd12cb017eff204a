# SPDX-License-Identifier: MIT
#
# tests/kernel/kernel.mk - included by the top-level Makefile (after ALL):
# the kernel-level test program of UBLK_F_SHMEM_ZC, a bare liburing ublk
# server (framework/ublk_uapi.h only, no libublkfw). The integration group
# tests/integration/kernel-shmem.sh runs it on the patched kernel.

KTEST := $(B)/tests/shmem_zc_test

ALL += $(KTEST)

$(KTEST): tests/kernel/shmem_zc_test.c framework/ublk_uapi.h config.mk tests/kernel/kernel.mk
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) $(OPT_CFLAGS) $(URING_CFLAGS) -Iframework $(CFLAGS) $(DEPFLAGS) \
		$(LDFLAGS) -o $@ $< $(URING_LIBS) -lpthread

-include $(KTEST).d
