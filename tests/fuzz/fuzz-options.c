// SPDX-License-Identifier: MIT
/*
 * fuzz-options.c - the command line of every server (ublkfw_parse_args():
 * the standard options, --filter and the filters' options, a target's
 * options and arguments) on any argv: the input is split at NUL bytes into
 * at most 32 arguments, parsed for the built-in targets in turn.  No crash,
 * no undefined behaviour, no leak.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "targets.h"

#define MAX_ARGS	32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	/* linked in, the module targets too: the fuzzer loads no module */
	static const struct ublkfw_target_ops *const targets[] = {
		&ublkfw_target_null, &ublkfw_target_memory, &ublkfw_target_loop,
		&ublkfw_target_stripe, &ublkfw_target_nbd,
	};
	char *buf = malloc(len + 1), *argv[MAX_ARGS + 2];
	int argc = 1;
	static int null = -1, saved_err = -1;

	if (!buf)
		return 0;
	if (null < 0) {
		/* usage and errors are the parser's business, not the fuzzer's
		 * log (sanitizer reports go to their log_path file) */
		null = open("/dev/null", O_WRONLY);
		saved_err = dup(STDERR_FILENO);
		dup2(null, STDOUT_FILENO);
	}
	dup2(null, STDERR_FILENO);
	memcpy(buf, data, len);
	buf[len] = '\0';
	argv[0] = "fuzz";
	for (size_t i = 0; i < len && argc <= MAX_ARGS; i += strlen(buf + i) + 1)
		argv[argc++] = buf + i;
	argv[argc] = NULL;
	for (size_t t = 0; t < UBLKFW_ARRAY_SIZE(targets); t++) {
		const struct ublkfw_target_ops *ops = targets[t];
		struct ublkfw_dev dev;
		void *area = calloc(1, ops->dev_priv_size ? ops->dev_priv_size : 1);

		ublkfw_dev_init(&dev, ops, "fuzz");
		dev.priv = dev.priv_area = area;
		ublkfw_parse_args(&dev, argc, argv);
		ublkfw_stack_free(&dev);
		free(area);
	}
	free(buf);
	dup2(saved_err, STDERR_FILENO);
	return 0;
}
