// SPDX-License-Identifier: MIT
/* The client side of a device's .ctl socket (client.c) against a fake
 * server: ublkfw_client_unregister() parses the one-line reply with json-c. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

static char dir[] = "/var/tmp/ublkfw-unit-XXXXXX";

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	setenv("UBLKFW_RUN_DIR", dir, 1);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

struct fake {
	int fd;
	const char *reply;
	char req[64];
};

/* Answer one connection: read the request, send the canned reply, close. */
static void *serve_one(void *arg)
{
	struct fake *f = arg;
	int conn = accept(f->fd, NULL, NULL);
	ssize_t n;

	if (conn < 0)
		return NULL;
	n = recv(conn, f->req, sizeof(f->req) - 1, 0);
	f->req[n > 0 ? n : 0] = '\0';
	if (send(conn, f->reply, strlen(f->reply), MSG_NOSIGNAL) < 0)
		f->req[0] = '\0';
	close(conn);
	return NULL;
}

/* ublkfw_client_unregister(7, 3) against a server answering reply. */
static int unregister_with(const char *reply, char *req, size_t reqlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fake f = { .reply = reply };
	pthread_t t;
	int ret;

	ublkfw_run_path(7, "ctl", sa.sun_path, sizeof(sa.sun_path));
	unlink(sa.sun_path);
	f.fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_geq(f.fd, 0);
	cr_assert_eq(bind(f.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(f.fd, 1), 0);
	cr_assert_eq(pthread_create(&t, NULL, serve_one, &f), 0);
	ret = ublkfw_client_unregister(7, 3);
	pthread_join(t, NULL);
	close(f.fd);
	if (req)
		snprintf(req, reqlen, "%s", f.req);
	return ret;
}

Test(client, unregister_reply, .init = setup, .fini = teardown, .timeout = 10)
{
	char req[64];

	cr_expect_eq(unregister_with("{\"result\": 0}\n", req, sizeof(req)), 0);
	cr_expect_str_eq(req, "unreg 3\n");
	cr_expect_eq(unregister_with("{\"result\": -2}\n", NULL, 0), -ENOENT);
	cr_expect_eq(unregister_with("{ \"result\" : -22 }", NULL, 0), -EINVAL);
}

Test(client, unregister_bad_reply, .init = setup, .fini = teardown, .timeout = 10)
{
	static const char *const bad[] = {
		"garbage\n", "{\"result\": \"0\"}\n", "{\"result\": 5}\n", "{\"result\": -1.5}\n",
		"{\"result\": -99999}\n", "{\"error\": \"unknown request\"}\n", "{\"result\": ",
		"[0]\n", "{\"other\": {\"result\": 0}}\n",
	};

	for (size_t i = 0; i < UBLKFW_ARRAY_SIZE(bad); i++)
		cr_expect_eq(unregister_with(bad[i], NULL, 0), -EPROTO, "reply %s", bad[i]);
}

Test(client, unregister_no_server, .init = setup, .fini = teardown)
{
	cr_expect_eq(ublkfw_client_unregister(7, 3), -ENOENT);
}
