// SPDX-License-Identifier: MIT
/* The UAPI definitions: sizes, offsets and opcodes equal upstream's. */
#include <criterion/criterion.h>

#include "internal.h"

Test(uapi, struct_sizes)
{
	cr_expect_eq(sizeof(struct ublksrv_ctrl_cmd), 32);
	cr_expect_eq(sizeof(struct ublksrv_ctrl_dev_info), 64);
	cr_expect_eq(sizeof(struct ublksrv_io_desc), 24);
	cr_expect_eq(sizeof(struct ublksrv_io_cmd), 16);
	cr_expect_eq(sizeof(struct ublk_params), 152);
	cr_expect_eq(sizeof(struct ublk_shmem_buf_reg), 24);
	cr_expect_eq(offsetof(struct ublk_params, integrity), 136);
}

Test(uapi, control_opcodes)
{
	cr_expect_eq(UBLK_U_CMD_GET_QUEUE_AFFINITY, 0x80207501);
	cr_expect_eq(UBLK_U_CMD_ADD_DEV, 0xc0207504);
	cr_expect_eq(UBLK_U_CMD_START_DEV, 0xc0207506);
	cr_expect_eq(UBLK_U_CMD_GET_FEATURES, 0x80207513);
	cr_expect_eq(UBLK_U_CMD_REG_BUF, 0xc0207518);
	cr_expect_eq(UBLK_U_CMD_UNREG_BUF, 0xc0207519);
}

Test(uapi, io_opcodes_and_flags)
{
	cr_expect_eq(UBLK_U_IO_FETCH_REQ, 0xc0107520);
	cr_expect_eq(UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0xc0107521);
	cr_expect_eq(UBLK_IO_RES_ABORT, -ENODEV);
	cr_expect_eq(UBLK_F_SHMEM_ZC, 1ULL << 19);
	cr_expect_eq(UBLK_IO_F_SHMEM_ZC, 1U << 19);
	/* The public header's flags are the kernel's. */
	cr_expect_eq(UBLKFW_IO_F_FUA, UBLK_IO_F_FUA);
	cr_expect_eq(UBLKFW_ATTR_VOLATILE_CACHE, UBLK_ATTR_VOLATILE_CACHE);
	cr_expect_eq(UBLKFW_OP_WRITE_ZEROES, UBLK_IO_OP_WRITE_ZEROES);
}

Test(uapi, feature_names)
{
	char buf[256];

	cr_expect_str_eq(ublkfw_feature_name(6), "CMD_IOCTL_ENCODE");
	cr_expect_str_eq(ublkfw_feature_name(19), "SHMEM_ZC");
	cr_expect_null(ublkfw_feature_name(63));
	cr_expect_str_eq(ublkfw_flags_str(UBLK_F_CMD_IOCTL_ENCODE | UBLK_F_SHMEM_ZC | (1ULL << 40),
					  buf, sizeof(buf)),
			 "CMD_IOCTL_ENCODE|SHMEM_ZC|BIT40");
	cr_expect_str_eq(ublkfw_flags_str(0, buf, sizeof(buf)), "");
	cr_expect_str_eq(ublkfw_state_name(UBLK_S_DEV_LIVE), "LIVE");
	cr_expect_str_eq(ublkfw_ctrl_cmd_name(UBLK_U_CMD_REG_BUF), "REG_BUF");
}
