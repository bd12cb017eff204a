/* SPDX-License-Identifier: MIT */
/*
 * ublk_uapi.h - the Linux ublk user/kernel ABI, as ublk-fw uses it.
 *
 * Written for ublk-fw from the documented upstream ABI (Linux 6.12 up to the
 * 7.3 development tree, see docs in the project).  It is deliberately not the
 * kernel's header: Debian 12 ships a far older <linux/ublk_cmd.h>, and one
 * binary must run on stock 6.12, on our patched 6.12 (kernel/) and on 7.1+.
 * Never include <linux/ublk_cmd.h> together with this file.
 *
 * Internal to the source tree (framework, tools, tests); not installed.
 */
#ifndef UBLKFW_UBLK_UAPI_H
#define UBLKFW_UBLK_UAPI_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <stddef.h>

/* ---- control commands: URING_CMD on /dev/ublk-control (SQE128) ---------- */

struct ublksrv_ctrl_cmd {
	__u32	dev_id;
	__u16	queue_id;	/* 0xffff when the command is not per queue */
	__u16	len;		/* length of the buffer at addr */
	__u64	addr;
	__u64	data[1];
	__u16	dev_path_len;	/* UBLK_F_UNPRIVILEGED_DEV only */
	__u16	pad;
	__u32	reserved;
};

#define UBLK_CTRL_R(nr)		_IOR('u', (nr), struct ublksrv_ctrl_cmd)
#define UBLK_CTRL_WR(nr)	_IOWR('u', (nr), struct ublksrv_ctrl_cmd)

#define UBLK_U_CMD_GET_QUEUE_AFFINITY	UBLK_CTRL_R(0x01)
#define UBLK_U_CMD_GET_DEV_INFO		UBLK_CTRL_R(0x02)
#define UBLK_U_CMD_ADD_DEV		UBLK_CTRL_WR(0x04)
#define UBLK_U_CMD_DEL_DEV		UBLK_CTRL_WR(0x05)
#define UBLK_U_CMD_START_DEV		UBLK_CTRL_WR(0x06)
#define UBLK_U_CMD_STOP_DEV		UBLK_CTRL_WR(0x07)
#define UBLK_U_CMD_SET_PARAMS		UBLK_CTRL_WR(0x08)
#define UBLK_U_CMD_GET_PARAMS		UBLK_CTRL_R(0x09)
#define UBLK_U_CMD_START_USER_RECOVERY	UBLK_CTRL_WR(0x10)
#define UBLK_U_CMD_END_USER_RECOVERY	UBLK_CTRL_WR(0x11)
#define UBLK_U_CMD_GET_DEV_INFO2	UBLK_CTRL_R(0x12)
#define UBLK_U_CMD_GET_FEATURES		UBLK_CTRL_R(0x13)
#define UBLK_U_CMD_DEL_DEV_ASYNC	UBLK_CTRL_R(0x14)
#define UBLK_U_CMD_UPDATE_SIZE		UBLK_CTRL_WR(0x15)	/* 6.16 */
#define UBLK_U_CMD_QUIESCE_DEV		UBLK_CTRL_WR(0x16)	/* 6.16 */
#define UBLK_U_CMD_TRY_STOP_DEV		UBLK_CTRL_WR(0x17)	/* 7.0 */
#define UBLK_U_CMD_REG_BUF		UBLK_CTRL_WR(0x18)	/* 7.1 */
#define UBLK_U_CMD_UNREG_BUF		UBLK_CTRL_WR(0x19)	/* 7.1 */

/* ---- I/O commands: URING_CMD on /dev/ublkcN ---------------------------- */

struct ublksrv_io_cmd {
	__u16	q_id;
	__u16	tag;
	__s32	result;
	union {
		__u64	addr;		/* per-tag data buffer (copy mode) */
		__u64	zone_append_lba;
	};
};

#define UBLK_IO_WR(nr)		_IOWR('u', (nr), struct ublksrv_io_cmd)

#define UBLK_U_IO_FETCH_REQ		UBLK_IO_WR(0x20)
#define UBLK_U_IO_COMMIT_AND_FETCH_REQ	UBLK_IO_WR(0x21)
#define UBLK_U_IO_NEED_GET_DATA		UBLK_IO_WR(0x22)
#define UBLK_U_IO_REGISTER_IO_BUF	UBLK_IO_WR(0x23)	/* 6.15 */
#define UBLK_U_IO_UNREGISTER_IO_BUF	UBLK_IO_WR(0x24)	/* 6.15 */
#define UBLK_U_IO_PREP_IO_CMDS		UBLK_IO_WR(0x25)	/* 7.0 */
#define UBLK_U_IO_COMMIT_IO_CMDS	UBLK_IO_WR(0x26)	/* 7.0 */
#define UBLK_U_IO_FETCH_IO_CMDS		UBLK_IO_WR(0x27)	/* 7.0 */

/* cqe->res of an I/O command */
#define UBLK_IO_RES_OK			0
#define UBLK_IO_RES_NEED_GET_DATA	1
#define UBLK_IO_RES_ABORT		(-19)	/* -ENODEV: stop re-arming the tag */

/* ---- I/O descriptors: mmap of /dev/ublkcN, one array per queue ---------- */

struct ublksrv_io_desc {
	__u32	op_flags;	/* op in bits 0..7, UBLK_IO_F_* above */
	union {
		__u32	nr_sectors;
		__u32	nr_zones;	/* REPORT_ZONES */
	};
	__u64	start_sector;
	__u64	addr;		/* copy mode: the buffer; SHMEM_ZC: index|offset */
};

#define UBLK_MAX_QUEUE_DEPTH	4096
#define UBLK_MAX_NR_QUEUES	4096
#define UBLKSRV_CMD_BUF_OFFSET	0
#define UBLKSRV_IO_BUF_OFFSET	0x80000000
/* UBLK_F_USER_COPY: a request's data at UBLKSRV_IO_BUF_OFFSET +
 * (q_id << UBLK_QID_OFF) + (tag << UBLK_TAG_OFF) + offset in /dev/ublkcN */
#define UBLK_IO_BUF_BITS	25	/* offset in the request: up to 32 MiB */
#define UBLK_TAG_OFF		UBLK_IO_BUF_BITS
#define UBLK_TAG_BITS		16
#define UBLK_QID_OFF		(UBLK_TAG_OFF + UBLK_TAG_BITS)

#define UBLK_IO_OP_READ			0
#define UBLK_IO_OP_WRITE		1
#define UBLK_IO_OP_FLUSH		2
#define UBLK_IO_OP_DISCARD		3
#define UBLK_IO_OP_WRITE_SAME		4
#define UBLK_IO_OP_WRITE_ZEROES		5
#define UBLK_IO_OP_ZONE_OPEN		10
#define UBLK_IO_OP_ZONE_CLOSE		11
#define UBLK_IO_OP_ZONE_FINISH		12
#define UBLK_IO_OP_ZONE_APPEND		13
#define UBLK_IO_OP_ZONE_RESET_ALL	14
#define UBLK_IO_OP_ZONE_RESET		15
#define UBLK_IO_OP_REPORT_ZONES		18

#define UBLK_IO_F_FAILFAST_DEV		(1U << 8)
#define UBLK_IO_F_FAILFAST_TRANSPORT	(1U << 9)
#define UBLK_IO_F_FAILFAST_DRIVER	(1U << 10)
#define UBLK_IO_F_META			(1U << 11)
#define UBLK_IO_F_FUA			(1U << 13)
#define UBLK_IO_F_NOUNMAP		(1U << 15)
#define UBLK_IO_F_SWAP			(1U << 16)
#define UBLK_IO_F_NEED_REG_BUF		(1U << 17)	/* 6.16 */
#define UBLK_IO_F_INTEGRITY		(1U << 18)	/* 7.0 */
#define UBLK_IO_F_SHMEM_ZC		(1U << 19)	/* 7.1 */

static inline unsigned int ublksrv_get_op(const struct ublksrv_io_desc *iod)
{
	return iod->op_flags & 0xff;
}

static inline unsigned int ublksrv_get_flags(const struct ublksrv_io_desc *iod)
{
	return iod->op_flags >> 8;
}

/* SHMEM_ZC hit: iod->addr = offset (bits 0..31) | buffer index (bits 32..47) */
#define UBLK_SHMEM_ZC_OFF_MASK		0xffffffffULL
#define UBLK_SHMEM_ZC_IDX_SHIFT		32
#define UBLK_SHMEM_ZC_IDX_MASK		0xffffULL

/* ---- device features (dev_info.flags, GET_FEATURES) --------------------- */

#define UBLK_F_SUPPORT_ZERO_COPY	(1ULL << 0)
#define UBLK_F_URING_CMD_COMP_IN_TASK	(1ULL << 1)
#define UBLK_F_NEED_GET_DATA		(1ULL << 2)
#define UBLK_F_USER_RECOVERY		(1ULL << 3)
#define UBLK_F_USER_RECOVERY_REISSUE	(1ULL << 4)
#define UBLK_F_UNPRIVILEGED_DEV		(1ULL << 5)
#define UBLK_F_CMD_IOCTL_ENCODE		(1ULL << 6)
#define UBLK_F_USER_COPY		(1ULL << 7)
#define UBLK_F_ZONED			(1ULL << 8)
#define UBLK_F_USER_RECOVERY_FAIL_IO	(1ULL << 9)	/* 6.13 */
#define UBLK_F_UPDATE_SIZE		(1ULL << 10)	/* 6.16 */
#define UBLK_F_AUTO_BUF_REG		(1ULL << 11)
#define UBLK_F_QUIESCE			(1ULL << 12)
#define UBLK_F_PER_IO_DAEMON		(1ULL << 13)
#define UBLK_F_BUF_REG_OFF_DAEMON	(1ULL << 14)	/* 6.17 */
#define UBLK_F_BATCH_IO			(1ULL << 15)	/* 7.0 */
#define UBLK_F_INTEGRITY		(1ULL << 16)
#define UBLK_F_SAFE_STOP_DEV		(1ULL << 17)
#define UBLK_F_NO_AUTO_PART_SCAN	(1ULL << 18)
#define UBLK_F_SHMEM_ZC			(1ULL << 19)	/* 7.1 */
#define UBLK_F_IO_DESC_SIZE		(1ULL << 20)	/* 7.3 */

/* device states (dev_info.state) */
#define UBLK_S_DEV_DEAD		0
#define UBLK_S_DEV_LIVE		1
#define UBLK_S_DEV_QUIESCED	2
#define UBLK_S_DEV_FAIL_IO	3

struct ublksrv_ctrl_dev_info {
	__u16	nr_hw_queues;
	__u16	queue_depth;
	__u16	state;
	__u16	io_desc_size;	/* pad0 before 7.3 */
	__u32	max_io_buf_bytes;
	__u32	dev_id;
	__s32	ublksrv_pid;
	__u32	pad1;
	__u64	flags;
	__u64	ublksrv_flags;	/* for the server only, kernel ignores it */
	__u32	owner_uid;	/* set by the kernel */
	__u32	owner_gid;
	__u64	reserved1;
	__u64	reserved2;
};

/* ---- device parameters (SET_PARAMS / GET_PARAMS) ------------------------ */

#define UBLK_ATTR_READ_ONLY	(1U << 0)
#define UBLK_ATTR_ROTATIONAL	(1U << 1)
#define UBLK_ATTR_VOLATILE_CACHE (1U << 2)
#define UBLK_ATTR_FUA		(1U << 3)

struct ublk_param_basic {
	__u32	attrs;
	__u8	logical_bs_shift;
	__u8	physical_bs_shift;
	__u8	io_opt_shift;
	__u8	io_min_shift;
	__u32	max_sectors;
	__u32	chunk_sectors;
	__u64	dev_sectors;
	__u64	virt_boundary_mask;
};

struct ublk_param_discard {
	__u32	discard_alignment;
	__u32	discard_granularity;
	__u32	max_discard_sectors;
	__u32	max_write_zeroes_sectors;
	__u16	max_discard_segments;
	__u16	reserved0;
};

struct ublk_param_devt {	/* read-only, filled by GET_PARAMS */
	__u32	char_major;
	__u32	char_minor;
	__u32	disk_major;
	__u32	disk_minor;
};

struct ublk_param_zoned {
	__u32	max_open_zones;
	__u32	max_active_zones;
	__u32	max_zone_append_sectors;
	__u8	reserved[20];
};

struct ublk_param_dma_align {	/* 6.15 */
	__u32	alignment;
	__u8	pad[4];
};

struct ublk_param_segment {	/* 6.15 */
	__u64	seg_boundary_mask;
	__u32	max_segment_size;
	__u16	max_segments;
	__u8	pad[2];
};

struct ublk_param_integrity {	/* 7.0 */
	__u32	flags;
	__u16	max_integrity_segments;
	__u8	interval_exp;
	__u8	metadata_size;
	__u8	pi_offset;
	__u8	csum_type;
	__u8	tag_size;
	__u8	pad[5];
};

#define UBLK_PARAM_TYPE_BASIC		(1U << 0)
#define UBLK_PARAM_TYPE_DISCARD		(1U << 1)
#define UBLK_PARAM_TYPE_DEVT		(1U << 2)
#define UBLK_PARAM_TYPE_ZONED		(1U << 3)
#define UBLK_PARAM_TYPE_DMA_ALIGN	(1U << 4)
#define UBLK_PARAM_TYPE_SEGMENT		(1U << 5)
#define UBLK_PARAM_TYPE_INTEGRITY	(1U << 6)

struct ublk_params {
	__u32	len;		/* the size the caller knows: sizeof(struct ublk_params) */
	__u32	types;		/* UBLK_PARAM_TYPE_* present */
	struct ublk_param_basic		basic;
	struct ublk_param_discard	discard;
	struct ublk_param_devt		devt;
	struct ublk_param_zoned		zoned;
	struct ublk_param_dma_align	dma;
	struct ublk_param_segment	seg;
	struct ublk_param_integrity	integrity;
};

/* ---- shared-memory zero copy (UBLK_F_SHMEM_ZC, 7.1) --------------------- */

#define UBLK_SHMEM_BUF_READ_ONLY	(1U << 0)

struct ublk_shmem_buf_reg {
	__u64	addr;		/* page aligned user address */
	__u64	len;		/* page aligned, 1 .. 4 GiB */
	__u32	flags;		/* UBLK_SHMEM_BUF_* */
	__u32	reserved;	/* must be 0 */
};

#define UBLK_SHMEM_BUF_MAX_INDEX	65535
#define UBLK_SHMEM_BUF_MAX_LEN		(4ULL << 30)	/* the kernel refuses more */

/* ---- layout checks ------------------------------------------------------ */

_Static_assert(sizeof(struct ublksrv_ctrl_cmd) == 32, "ublksrv_ctrl_cmd");
_Static_assert(sizeof(struct ublksrv_ctrl_dev_info) == 64, "ublksrv_ctrl_dev_info");
_Static_assert(offsetof(struct ublksrv_ctrl_dev_info, flags) == 24, "dev_info.flags");
_Static_assert(sizeof(struct ublksrv_io_desc) == 24, "ublksrv_io_desc");
_Static_assert(sizeof(struct ublksrv_io_cmd) == 16, "ublksrv_io_cmd");
_Static_assert(sizeof(struct ublk_param_basic) == 32, "ublk_param_basic");
_Static_assert(sizeof(struct ublk_param_discard) == 20, "ublk_param_discard");
_Static_assert(sizeof(struct ublk_param_devt) == 16, "ublk_param_devt");
_Static_assert(sizeof(struct ublk_param_zoned) == 32, "ublk_param_zoned");
_Static_assert(sizeof(struct ublk_param_dma_align) == 8, "ublk_param_dma_align");
_Static_assert(sizeof(struct ublk_param_segment) == 16, "ublk_param_segment");
_Static_assert(sizeof(struct ublk_param_integrity) == 16, "ublk_param_integrity");
_Static_assert(offsetof(struct ublk_params, basic) == 8, "params.basic");
_Static_assert(offsetof(struct ublk_params, discard) == 40, "params.discard");
_Static_assert(offsetof(struct ublk_params, devt) == 60, "params.devt");
_Static_assert(offsetof(struct ublk_params, zoned) == 76, "params.zoned");
_Static_assert(offsetof(struct ublk_params, dma) == 108, "params.dma");
_Static_assert(offsetof(struct ublk_params, seg) == 120, "params.seg");
_Static_assert(offsetof(struct ublk_params, integrity) == 136, "params.integrity");
_Static_assert(sizeof(struct ublk_params) == 152, "ublk_params");
_Static_assert(sizeof(struct ublk_shmem_buf_reg) == 24, "ublk_shmem_buf_reg");
_Static_assert(UBLK_U_CMD_REG_BUF == 0xc0207518, "REG_BUF opcode");
_Static_assert(UBLK_U_CMD_GET_DEV_INFO == 0x80207502, "GET_DEV_INFO opcode");
_Static_assert(UBLK_U_IO_FETCH_REQ == 0xc0107520, "FETCH_REQ opcode");

#endif /* UBLKFW_UBLK_UAPI_H */
