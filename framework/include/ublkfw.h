/* SPDX-License-Identifier: MIT */
/*
 * ublkfw.h - libublkfw, a framework for Linux ublk servers (userspace block
 * devices).  This is the library's only public header.
 *
 * A ublk server built on libublkfw is a *target*: a set of callbacks in a
 * struct ublkfw_target_ops.  The framework owns everything else: the control
 * commands, one thread per hardware queue, and on each queue thread one libev
 * loop with one io_uring ring wired into it.  The kernel's requests, the
 * target's own io_uring operations and the target's own libev watchers (timers,
 * sockets) all run on that loop.
 *
 * The data path, in three places:
 *   kernel -> queue     framework/queue.c receives a request (FETCH /
 *                       COMMIT_AND_FETCH completion) and fills a struct ublkfw_io
 *   queue  -> target    ops->queue_io(q, io) - e.g. targets/null.c
 *   target -> kernel    ublkfw_io_complete(io, result), back in queue.c, which
 *                       commits the result and fetches the next request
 *
 * THREADING RULE
 *   - config(), open() and close() run on the process's main thread, before any
 *     queue thread exists and after every queue thread has ended.
 *   - queue_init(), queue_io(), queue_deinit(), every ublkfw_uring_op callback
 *     and every libev watcher on ublkfw_queue_loop(q) run on q's own thread.
 *   - ublkfw_io_complete(), ublkfw_queue_get_sqe() and the libev calls on
 *     ublkfw_queue_loop(q) may only be called from q's thread.  The one
 *     function any thread may call is ublkfw_io_complete_async().
 *   - Completing an I/O is allowed inside queue_io() or at any later time, but
 *     exactly once.  Until it is completed the io, its data and its private
 *     area belong to the target.
 *
 * API/ABI: targets fill struct ublkfw_target_ops with UBLKFW_TARGET_OPS_INIT,
 * which records the struct size and API version they were compiled against
 * (nbdkit's scheme); the library accepts any older, smaller struct and treats
 * the missing callbacks as absent.  Everything else is opaque or accessed
 * through functions, so the library can grow without breaking old targets.
 */
#ifndef UBLKFW_H
#define UBLKFW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <liburing.h>
#include <ev.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UBLKFW_API_VERSION	1
#define UBLKFW_VERSION		"0.1.0"

#if defined(__GNUC__)
#define UBLKFW_API	__attribute__((visibility("default")))
#define UBLKFW_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define UBLKFW_API
#define UBLKFW_PRINTF(f, a)
#endif

/*
 * The version of the library actually loaded, e.g. "0.1.0": UBLKFW_VERSION of
 * the header the library was built with, which may differ from the
 * UBLKFW_VERSION a program was compiled against.  A static string.
 */
UBLKFW_API const char *ublkfw_version(void);

struct ublkfw_dev;	/* one ublk device and its server; opaque */
struct ublkfw_queue;	/* one hardware queue: one thread, loop and ring; opaque */

/* ------------------------------------------------------------------------ */
/* I/O requests                                                             */
/* ------------------------------------------------------------------------ */

/* ublkfw_io.op: the kernel's operation codes. */
enum ublkfw_op {
	UBLKFW_OP_READ		= 0,
	UBLKFW_OP_WRITE		= 1,
	UBLKFW_OP_FLUSH		= 2,
	UBLKFW_OP_DISCARD	= 3,
	UBLKFW_OP_WRITE_SAME	= 4,	/* reserved: the kernel never sends it */
	UBLKFW_OP_WRITE_ZEROES	= 5,
};

/* ublkfw_io.flags: request flags (the kernel's UBLK_IO_F_* bits). */
#define UBLKFW_IO_F_FAILFAST_DEV	(1U << 8)
#define UBLKFW_IO_F_FAILFAST_TRANSPORT	(1U << 9)
#define UBLKFW_IO_F_FAILFAST_DRIVER	(1U << 10)
#define UBLKFW_IO_F_META		(1U << 11)
#define UBLKFW_IO_F_FUA			(1U << 13)	/* write through to stable media */
#define UBLKFW_IO_F_NOUNMAP		(1U << 15)	/* write-zeroes: keep allocated */
#define UBLKFW_IO_F_SWAP		(1U << 16)

/*
 * One request.  The target reads these fields; it never writes them.
 * For READ the target fills len bytes at data; for WRITE it consumes them.
 * data is NULL for operations that carry none (FLUSH, DISCARD, WRITE_ZEROES).
 * data is valid until the I/O is completed; it may be a private per-tag buffer
 * or, with shared-memory zero copy, a pointer into a client's memory: the
 * target must not care which.
 */
struct ublkfw_io {
	uint8_t op;		/* read-only: enum ublkfw_op */
	uint32_t flags;		/* read-only: UBLKFW_IO_F_* */
	uint16_t tag;		/* read-only: 0 .. queue depth - 1, unique in its queue */
	uint32_t len;		/* read-only: bytes */
	uint64_t offset;	/* read-only: bytes from the start of the device */
	void *data;		/* read-only: the data buffer, see above */
	struct ublkfw_queue *queue; /* read-only: the queue serving it */
};

/*
 * Complete io with result:
 *   READ, WRITE:      the number of bytes transferred (normally io->len),
 *                     or a negative errno;
 *   other operations: 0 or a negative errno.
 * Queue thread only; exactly once per request.
 */
UBLKFW_API void ublkfw_io_complete(struct ublkfw_io *io, int result);

/* Complete io successfully: ublkfw_io_complete(io, io->len) for READ and
 * WRITE, ublkfw_io_complete(io, 0) for the others. */
UBLKFW_API void ublkfw_io_complete_ok(struct ublkfw_io *io);

/*
 * Same as ublkfw_io_complete(), callable from any thread (e.g. a worker pool):
 * the completion is handed to the queue's thread through an ev_async.
 */
UBLKFW_API void ublkfw_io_complete_async(struct ublkfw_io *io, int result);

/*
 * Whether io's data pointer points into a registered shared-memory pool
 * (UBLK_F_SHMEM_ZC: the kernel copied nothing) rather than the per-tag
 * buffer.  Targets need not care; it is there for statistics and tests.
 */
UBLKFW_API bool ublkfw_io_is_zero_copy(const struct ublkfw_io *io);

/* The target's private area of this request: ops.io_priv_size bytes, 16-byte
 * aligned, zeroed once at start-up, owned by the target while it holds io. */
UBLKFW_API void *ublkfw_io_priv(struct ublkfw_io *io);

/* ------------------------------------------------------------------------ */
/* Queues: the target's io_uring operations and libev watchers              */
/* ------------------------------------------------------------------------ */

/*
 * A pending io_uring operation of the target.  Embed one in your own struct
 * (as libev watchers are embedded), fill its cb, and pass it to
 * ublkfw_queue_get_sqe(); recover your struct in the callback with
 * container_of-style arithmetic.  cb runs on the queue thread with the CQE's
 * res and flags.  One op may be reused once its callback has run.
 */
struct ublkfw_uring_op;
typedef void (*ublkfw_uring_cb)(struct ublkfw_queue *q, struct ublkfw_uring_op *op,
				int res, unsigned int cqe_flags);
struct ublkfw_uring_op {
	ublkfw_uring_cb cb;
};

/*
 * Get an SQE on q's ring for the target's own operation, tagged with op.
 * Prepare it with any io_uring_prep_*() function but leave user_data alone.
 * SQEs are submitted in one batch at the queue's next wait (with it, in one
 * io_uring_enter()), so prepare as many as you like.  Returns NULL only if the ring
 * is full and cannot be flushed (the caller should fail its I/O with -EAGAIN
 * or -EIO).  Queue thread only.
 */
UBLKFW_API struct io_uring_sqe *ublkfw_queue_get_sqe(struct ublkfw_queue *q,
						     struct ublkfw_uring_op *op);

/*
 * Register fd as a fixed file on q's ring; returns its index for
 * IOSQE_FIXED_FILE, or a negative errno.  Call from queue_init().
 */
UBLKFW_API int ublkfw_queue_register_file(struct ublkfw_queue *q, int fd);

UBLKFW_API struct ublkfw_dev *ublkfw_queue_dev(const struct ublkfw_queue *q);
UBLKFW_API unsigned int ublkfw_queue_id(const struct ublkfw_queue *q);
UBLKFW_API unsigned int ublkfw_queue_depth(const struct ublkfw_queue *q);
/*
 * The queue thread's libev loop: add timers, ev_io watchers etc. here.
 * Asking for it changes how the queue waits, for good: a queue whose target
 * and filters never call this chooses each wait by the load, in
 * io_uring_enter() alone when it is light (one system call per request at
 * QD1); from the first call on, it waits in libev (epoll), so that the
 * watchers started on it work as libev documents them.
 * Ask in queue_init() if the target will need the loop at all.
 */
UBLKFW_API struct ev_loop *ublkfw_queue_loop(const struct ublkfw_queue *q);
/* The queue's ring, for io_uring_register_*() and the like. */
UBLKFW_API struct io_uring *ublkfw_queue_ring(struct ublkfw_queue *q);
UBLKFW_API void *ublkfw_queue_priv(const struct ublkfw_queue *q);
UBLKFW_API void ublkfw_queue_set_priv(struct ublkfw_queue *q, void *priv);

/* ------------------------------------------------------------------------ */
/* Devices: what the target sets up in open()                               */
/* ------------------------------------------------------------------------ */

/* Device attributes for ublkfw_dev_set_attrs(). */
#define UBLKFW_ATTR_READ_ONLY		(1U << 0)
#define UBLKFW_ATTR_ROTATIONAL		(1U << 1)
#define UBLKFW_ATTR_VOLATILE_CACHE	(1U << 2)	/* target honours FLUSH */
#define UBLKFW_ATTR_FUA			(1U << 3)	/* target honours UBLKFW_IO_F_FUA */

/* Size in bytes; 0 until -s/--size or the target sets it.  The target may
 * set a default in open() when the user gave none (ublkfw_dev_size() == 0). */
UBLKFW_API uint64_t ublkfw_dev_size(const struct ublkfw_dev *dev);
UBLKFW_API void ublkfw_dev_set_size(struct ublkfw_dev *dev, uint64_t bytes);
/* Logical and physical block size (powers of two, 512 .. 4096 / 512 .. 64K).
 * Default 512 / 4096. Returns -EINVAL on a bad value. */
UBLKFW_API int ublkfw_dev_set_block_size(struct ublkfw_dev *dev, uint32_t logical,
					 uint32_t physical);
UBLKFW_API uint32_t ublkfw_dev_logical_block_size(const struct ublkfw_dev *dev);
UBLKFW_API void ublkfw_dev_set_attrs(struct ublkfw_dev *dev, uint32_t attrs);
UBLKFW_API uint32_t ublkfw_dev_attrs(const struct ublkfw_dev *dev);
/* Announce DISCARD (granularity in bytes, 0 = logical block size) and
 * WRITE_ZEROES support; a target that calls neither never sees those ops. */
UBLKFW_API void ublkfw_dev_set_discard(struct ublkfw_dev *dev, uint32_t granularity,
				       uint32_t max_bytes);
UBLKFW_API void ublkfw_dev_set_write_zeroes(struct ublkfw_dev *dev, uint32_t max_bytes);

UBLKFW_API int ublkfw_dev_id(const struct ublkfw_dev *dev);	/* -1 before ADD_DEV */
/*
 * Whether this server takes over a device whose server died
 * (`ublk-fw-ctl recover`, --recover) instead of creating one.  Valid from
 * open() on; ublkfw_dev_id() is then known from open() on too.
 */
UBLKFW_API bool ublkfw_dev_is_recovering(const struct ublkfw_dev *dev);
/*
 * The path of a file of the device's own in the run directory,
 * "<run dir>/<id>.<suffix>" (suffix: [a-z0-9]+, not json, log, sock or ctl):
 * for state a target keeps across the death of its server, such as the
 * memory target's data.  The framework removes it when the device is
 * deleted (a clean stop, or `ublk-fw-ctl del`), never when the server dies.
 * From attach() on (the id must be known).  0, or -EINVAL (bad suffix),
 * -ENODEV (no id yet) or -ENAMETOOLONG.
 */
UBLKFW_API int ublkfw_dev_run_file(const struct ublkfw_dev *dev, const char *suffix, char *buf,
				   size_t len);
/*
 * That file opened read-write for the target, of size bytes: created anew
 * (sparse, mode 0600, never through a symlink; refused when its filesystem
 * has less room free than size) for a new device, found again (a regular
 * file of exactly size bytes) when ublkfw_dev_is_recovering().  The path in
 * buf if buf is not NULL.  An fd, or a negative errno after ublkfw_err().
 */
UBLKFW_API int ublkfw_dev_open_run_file(const struct ublkfw_dev *dev, const char *suffix,
					uint64_t size, char *buf, size_t len);
UBLKFW_API unsigned int ublkfw_dev_nr_queues(const struct ublkfw_dev *dev);
UBLKFW_API unsigned int ublkfw_dev_queue_depth(const struct ublkfw_dev *dev);
/* Largest request in bytes (the per-tag buffer size). */
UBLKFW_API uint32_t ublkfw_dev_max_io_bytes(const struct ublkfw_dev *dev);
UBLKFW_API const char *ublkfw_dev_target_name(const struct ublkfw_dev *dev);
UBLKFW_API void *ublkfw_dev_priv(const struct ublkfw_dev *dev);
UBLKFW_API void ublkfw_dev_set_priv(struct ublkfw_dev *dev, void *priv);

/* ------------------------------------------------------------------------ */
/* Targets                                                                  */
/* ------------------------------------------------------------------------ */

/* A target-specific command line option: --name [VALUE]. */
struct ublkfw_option {
	const char *name;	/* long option name without "--"; NULL ends the table */
	const char *arg;	/* name of its value for --help ("BYTES"), NULL for a flag */
	const char *help;	/* one line */
};

struct ublkfw_target_ops {
	uint32_t struct_size;	/* set by UBLKFW_TARGET_OPS_INIT */
	uint32_t api_version;	/* set by UBLKFW_TARGET_OPS_INIT */

	const char *name;		/* "null", "loop": [a-z0-9_-]+ */
	const char *description;	/* one line for --help and list */
	const struct ublkfw_option *options;	/* may be NULL */
	const char *args_usage;		/* positional arguments for --help, e.g. "FILE" */
	size_t io_priv_size;		/* bytes of ublkfw_io_priv() per request */

	/*
	 * Called once per target option (key = option name, value = its
	 * argument or NULL for a flag) and once per positional argument
	 * (key = NULL), in command-line order.  Return 0 or a negative errno
	 * after printing a one-line message with ublkfw_err().
	 */
	int (*config)(struct ublkfw_dev *dev, const char *key, const char *value);
	/*
	 * After all options: validate, open backing resources, set size,
	 * block size, attributes, discard.  Return 0 or negative errno (after
	 * ublkfw_err()).  Nothing has been created in the kernel yet.
	 */
	int (*open)(struct ublkfw_dev *dev);
	/* Release what open() acquired; called once if open() succeeded. */
	void (*close)(struct ublkfw_dev *dev);

	/* Per queue, on the queue's thread, before its first request. */
	int (*queue_init)(struct ublkfw_queue *q);
	/* Per queue, on the queue's thread, after its last request. */
	void (*queue_deinit)(struct ublkfw_queue *q);
	/* A request: complete it now or later with ublkfw_io_complete(). */
	void (*queue_io)(struct ublkfw_queue *q, struct ublkfw_io *io);

	/*
	 * Bytes of ublkfw_dev_priv() the framework allocates (zeroed) for the
	 * target before the first config() call and frees after close(), so
	 * the target's state lives with its device and not in globals.
	 * 0: ublkfw_dev_priv() is NULL until ublkfw_dev_set_priv().
	 */
	size_t dev_priv_size;

	/*
	 * Once the kernel device exists, on the main thread, before the
	 * first queue starts: ublkfw_dev_id() is known.  Called after ADD_DEV
	 * for a new device and after START_USER_RECOVERY when this server
	 * takes a device over (ublkfw_dev_is_recovering()): the place to
	 * create or find again what must outlive the server
	 * (ublkfw_dev_run_file()).  0 or a negative errno after ublkfw_err().
	 */
	int (*attach)(struct ublkfw_dev *dev);
};

#define UBLKFW_TARGET_OPS_INIT \
	.struct_size = sizeof(struct ublkfw_target_ops), \
	.api_version = UBLKFW_API_VERSION

/*
 * Run a target as a complete program: parse the standard options and the
 * target's, create the device, daemonize once it is live (unless
 * --foreground), serve until SIGTERM/SIGINT, then stop and delete the device.
 * Returns the process exit status.  This is also what `ublk-fw-ctl add -t`
 * runs for the targets built into the tool.
 *
 * Standard options: -n/--id ID, -q/--queues N, -d/--depth N, -s/--size SIZE,
 * --max-io SIZE, --filter NAME (repeatable, see Filters), --foreground,
 * --recovery MODE, --recover, --shmem-zc, --htlb PATH, --shmem-ro,
 * -h/--help, -V/--version.
 */
UBLKFW_API int ublkfw_main(const struct ublkfw_target_ops *ops, int argc, char **argv);

/* ------------------------------------------------------------------------ */
/* Filters: layers between the queue and the target                         */
/* ------------------------------------------------------------------------ */

/*
 * A filter is nbdkit's idea made asynchronous: a layer that sits between the
 * queue and the target (or another filter), sees every request on its way
 * down and every completion on its way up, and may change, delay, answer or
 * fail either.  Filters stack in command-line order over any target:
 *
 *   ublk-fw-ctl add -t loop --filter stats --filter delay --delay-us 500 disk.img
 *
 * puts stats on top (it sees requests first and completions last), delay
 * below it, and the loop target at the bottom.  The built-in filters are
 * delay, error, die, stats and rate (ublkfw-filters(7)); a program adds its
 * own with ublkfw_filter_register() before ublkfw_main().
 *
 * The data path through a stack of N filters:
 *   queue -> filter 0 queue_io() -> ublkfw_filter_next() -> filter 1 ...
 *         -> target queue_io() -> ublkfw_io_complete()
 *         -> filter N-1 io_done() -> ublkfw_io_complete() ... -> filter 0
 *         -> the kernel
 * A filter without queue_io passes every request down; one without io_done
 * passes every completion up.  A filter that answers a request itself calls
 * ublkfw_io_complete() instead of ublkfw_filter_next(): the layers above it
 * see the completion, the layers below never see the request.  io_done may
 * hold a completion (e.g. to delay it) and call ublkfw_io_complete() later.
 *
 * ublkfw_io_complete(io, result) always means "the layer now holding io is
 * done with it".  The threading rule is the target's: config, open and close
 * on the main thread; everything else on the queue's thread.
 */
struct ublkfw_filter;	/* one layer of a device's filter stack; opaque */

/* config(): the key is not this filter's: offer it to the layer below. */
#define UBLKFW_CONFIG_NEXT	1

struct ublkfw_filter_ops {
	uint32_t struct_size;	/* set by UBLKFW_FILTER_OPS_INIT */
	uint32_t api_version;	/* set by UBLKFW_FILTER_OPS_INIT */

	const char *name;		/* "delay": [a-z0-9_-]+ */
	const char *description;	/* one line for --help */
	const struct ublkfw_option *options;	/* may be NULL */
	size_t priv_size;		/* ublkfw_filter_priv(): per device, zeroed */
	size_t queue_priv_size;		/* ublkfw_filter_queue_priv(): per queue, zeroed */
	size_t io_priv_size;		/* ublkfw_filter_io_priv(): per request, zeroed once */

	/*
	 * Every option and positional argument of the command line reaches
	 * the top filter first (key NULL for a positional argument).  Return
	 * 0 when it is yours, UBLKFW_CONFIG_NEXT to pass it down (the target
	 * is last), or a negative errno after ublkfw_err().  NULL: pass all.
	 */
	int (*config)(struct ublkfw_filter *f, const char *key, const char *value);
	/*
	 * After the layers below have opened (the target first): check the
	 * configuration; may read and change the device's size and
	 * attributes (ublkfw_dev_set_size(), _set_attrs()...).
	 */
	int (*open)(struct ublkfw_filter *f, struct ublkfw_dev *dev);
	/* Before the layers below close; once if open() succeeded. */
	void (*close)(struct ublkfw_filter *f);

	/* Per queue, on its thread: after the layers below, before any request. */
	int (*queue_init)(struct ublkfw_filter *f, struct ublkfw_queue *q);
	/* Per queue, on its thread: after the last request, before the layers below. */
	void (*queue_deinit)(struct ublkfw_filter *f, struct ublkfw_queue *q);
	/* A request on its way down: ublkfw_filter_next() or ublkfw_io_complete(). */
	void (*queue_io)(struct ublkfw_filter *f, struct ublkfw_queue *q, struct ublkfw_io *io);
	/* The layer below completed io with result: ublkfw_io_complete() it
	 * now or later, with that result or another. */
	void (*io_done)(struct ublkfw_filter *f, struct ublkfw_queue *q, struct ublkfw_io *io,
			int result);
	/*
	 * Main thread, while the device serves: write the filter's counters
	 * as one JSON object to out (read what queue threads write with
	 * relaxed atomics).  Shown by `ublk-fw-ctl stats` and `list --json`.
	 */
	void (*write_stats)(struct ublkfw_filter *f, FILE *out);
};

#define UBLKFW_FILTER_OPS_INIT \
	.struct_size = sizeof(struct ublkfw_filter_ops), \
	.api_version = UBLKFW_API_VERSION

/* Pass io down to the next layer (a filter or the target).  Queue thread. */
UBLKFW_API void ublkfw_filter_next(struct ublkfw_filter *f, struct ublkfw_io *io);
UBLKFW_API struct ublkfw_dev *ublkfw_filter_dev(const struct ublkfw_filter *f);
UBLKFW_API const char *ublkfw_filter_name(const struct ublkfw_filter *f);
/* The filter's areas: per device, per queue (q's thread only), per request
 * (while the filter holds io). */
UBLKFW_API void *ublkfw_filter_priv(const struct ublkfw_filter *f);
UBLKFW_API void *ublkfw_filter_queue_priv(const struct ublkfw_filter *f,
					  const struct ublkfw_queue *q);
UBLKFW_API void *ublkfw_filter_io_priv(const struct ublkfw_filter *f, struct ublkfw_io *io);
/*
 * Make a filter of the program's own known to --filter NAME, before
 * ublkfw_main().  0, -EEXIST (a filter of that name exists), -EINVAL (bad
 * ops, message printed) or -ENOSPC.
 */
UBLKFW_API int ublkfw_filter_register(const struct ublkfw_filter_ops *ops);

/* ------------------------------------------------------------------------ */
/* Shared-memory zero-copy pools (UBLK_F_SHMEM_ZC, Linux 7.1+ or kernel/)    */
/* ------------------------------------------------------------------------ */

/*
 * A pool is memory that a server and its clients map together (MAP_SHARED):
 * a memfd or a file on hugetlbfs.  Registered with a device, its pages are
 * pinned and indexed by the kernel; an O_DIRECT request whose data lies,
 * contiguously, inside one registered pool reaches the target with io->data
 * pointing into the pool instead of a copy.  Everything else still works the
 * normal way, so a target never has to know.  See docs/zero-copy.md.
 *
 * Pools are plain objects usable on both sides: a server creates or receives
 * them, a client creates one, hands it to the server with
 * ublkfw_client_register() and allocates its I/O buffers from it.
 */
struct ublkfw_shmem_pool;

#define UBLKFW_SHMEM_HUGE	(1U << 0)	/* memfd: back with huge pages (MFD_HUGETLB) */
#define UBLKFW_SHMEM_READ_ONLY	(1U << 1)	/* register: only WRITEs may hit (no FOLL_WRITE) */

/* A new memfd of size bytes (rounded up to the page size, or to 2 MiB with
 * UBLKFW_SHMEM_HUGE). */
UBLKFW_API int ublkfw_shmem_pool_create(size_t size, unsigned int flags,
					struct ublkfw_shmem_pool **pool);
/* An existing file on hugetlbfs, mapped whole; its size must be a multiple of
 * the huge page size.  -ENOENT, -EMEDIUMTYPE (not on hugetlbfs), -EINVAL
 * (bad size)... */
UBLKFW_API int ublkfw_shmem_pool_open_hugetlbfs(const char *path,
						struct ublkfw_shmem_pool **pool);
/* An fd handed to us (memfd or hugetlbfs file), mapped whole.  The pool
 * takes ownership of fd. */
UBLKFW_API int ublkfw_shmem_pool_from_fd(int fd, struct ublkfw_shmem_pool **pool);
/* Unmap and close.  Not while registered with a device. */
UBLKFW_API void ublkfw_shmem_pool_destroy(struct ublkfw_shmem_pool *pool);
UBLKFW_API void *ublkfw_shmem_pool_base(const struct ublkfw_shmem_pool *pool);
UBLKFW_API size_t ublkfw_shmem_pool_size(const struct ublkfw_shmem_pool *pool);
UBLKFW_API int ublkfw_shmem_pool_fd(const struct ublkfw_shmem_pool *pool);

/*
 * A simple thread-safe allocator over a pool, for a client's O_DIRECT buffers:
 * size is rounded up to 4 KiB and the result is 4 KiB aligned.  NULL when
 * the pool is full.
 */
UBLKFW_API void *ublkfw_shmem_alloc(struct ublkfw_shmem_pool *pool, size_t size);
UBLKFW_API void ublkfw_shmem_free(struct ublkfw_shmem_pool *pool, void *ptr);

/*
 * Server side: register pool with dev's kernel device (REG_BUF) and the
 * framework's pool table.  Returns the buffer index (0..65535) or a negative
 * errno.  Once the kernel device exists (not from config, open or close:
 * -EOPNOTSUPP), before or after it starts, from any thread but a queue
 * thread of dev (-EDEADLK).  The device must have been created with
 * --shmem-zc.  The device takes the pool over: it stays mapped until
 * unregistered, and is destroyed with the device.
 */
UBLKFW_API int ublkfw_dev_shmem_register(struct ublkfw_dev *dev,
					 struct ublkfw_shmem_pool *pool, unsigned int flags);
/*
 * Unregister index (UNREG_BUF, which freezes the device's queue until the
 * requests in flight are done) and forget the pool: it is handed back in
 * *pool for the caller to destroy, or destroyed here if pool is NULL.
 * Never call it from a queue thread of dev (-EDEADLK).
 */
UBLKFW_API int ublkfw_dev_shmem_unregister(struct ublkfw_dev *dev, int index,
					   struct ublkfw_shmem_pool **pool);

/*
 * Client side: connect to device id's registration socket
 * (/run/ublk-fw/<id>.sock), hand over a pool's memfd and get its index
 * (the protocol of the kernel selftests' kublk: one byte with the fd in
 * SCM_RIGHTS, a 32-bit index or negative errno back).  Returns the index or
 * a negative errno: -ECONNREFUSED/-ENOENT when no server listens, the
 * server's errno otherwise (-EOPNOTSUPP: device without --shmem-zc).
 */
UBLKFW_API int ublkfw_client_register(int dev_id, const struct ublkfw_shmem_pool *pool);
/*
 * Client side: ask device id's server to unregister buffer index (a request on
 * /run/ublk-fw/<id>.ctl), releasing the kernel's pins on that memory before
 * the device goes away.  After it returns 0, I/O from the pool is copied.
 */
UBLKFW_API int ublkfw_client_unregister(int dev_id, int index);

/* ------------------------------------------------------------------------ */
/* Helpers for targets                                                      */
/* ------------------------------------------------------------------------ */

/* Parse "4096", "64K", "1M", "10G", "1T" (binary units; K/KiB/k all accepted)
 * into bytes.  0 or -EINVAL / -ERANGE. */
UBLKFW_API int ublkfw_parse_size(const char *s, uint64_t *bytes);
/* Parse a decimal unsigned integer within [min, max].  0 or -EINVAL/-ERANGE. */
UBLKFW_API int ublkfw_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *val);

/* Log a one-line message: "PROG: TARGET: message" on stderr, or in the
 * device's log file once the server runs in the background. */
UBLKFW_API void ublkfw_err(const struct ublkfw_dev *dev, const char *fmt, ...) UBLKFW_PRINTF(2, 3);
UBLKFW_API void ublkfw_info(const struct ublkfw_dev *dev, const char *fmt, ...) UBLKFW_PRINTF(2, 3);

#ifdef __cplusplus
}
#endif

#endif /* UBLKFW_H */
