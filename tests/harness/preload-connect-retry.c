/* preload-connect-retry.c — test plumbing preloaded into the private pcscd
 * right after umockdev's libumockdev-preload.
 *
 * Why: when a process opens an emulated device node, umockdev 0.17's preload
 * connects a unix socket to the ioctl handler at
 * $UMOCKDEV_DIR/ioctl/<node> and, if that connect() fails, prints "Failed
 * to connect to ioctl socket" and calls exit(1) -- without saying why.
 * About once in a few dozen replugs that kills the test's pcscd although the
 * emulator's handler socket is bound and listening (checked after every
 * replug).  Such a death says nothing about the code under test.
 *
 * What: umockdev calls connect() through dlsym(RTLD_NEXT), which finds this
 * wrapper when it is preloaded after umockdev.  A failed connect() of a unix
 * socket under $UMOCKDEV_DIR/ioctl/ is logged with its errno (so the cause
 * shows in the pcscd log) and retried for up to RETRY_TOTAL_MS; every
 * other connect() passes straight through.  Nothing here touches what the
 * driver or pcscd send or receive once the socket is connected.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RETRY_STEP_MS 10
#define RETRY_TOTAL_MS 3000

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

static connect_fn real_connect(void)
{
	static connect_fn fn;
	if (!fn)
		fn = (connect_fn)dlsym(RTLD_NEXT, "connect");
	return fn;
}

/* True for a unix socket address under $UMOCKDEV_DIR/ioctl/. */
static int is_ioctl_socket(const struct sockaddr *addr, socklen_t len)
{
	const char *dir = getenv("UMOCKDEV_DIR");
	if (!dir || !addr || len <= offsetof(struct sockaddr_un, sun_path) ||
	    addr->sa_family != AF_UNIX)
		return 0;
	const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
	size_t max = len - offsetof(struct sockaddr_un, sun_path);
	size_t dlen = strlen(dir);
	return strnlen(un->sun_path, max) > dlen + 7 && strncmp(un->sun_path, dir, dlen) == 0 &&
	       strncmp(un->sun_path + dlen, "/ioctl/", 7) == 0;
}

/* A transient failure worth another try (a socket that is not there at all,
 * or a bad descriptor, is not). */
static int transient(int err)
{
	return err == EINTR || err == EAGAIN || err == ECONNREFUSED || err == ENOENT;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	connect_fn fn = real_connect();
	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	int rc = fn(fd, addr, len);
	if (rc == 0 || !is_ioctl_socket(addr, len))
		return rc;
	int err = errno;
	const char *path = ((const struct sockaddr_un *)addr)->sun_path;
	fprintf(stderr, "onshi-test-preload: connect(%s): %s%s\n", path, strerror(err),
		transient(err) ? "; retrying" : "");
	for (int waited = 0; transient(err) && waited < RETRY_TOTAL_MS; waited += RETRY_STEP_MS) {
		struct timespec ts = { 0, RETRY_STEP_MS * 1000000L };
		nanosleep(&ts, NULL);
		rc = fn(fd, addr, len);
		if (rc == 0 || errno == EISCONN) {
			fprintf(stderr, "onshi-test-preload: connect(%s) succeeded after %d ms\n",
				path, waited + RETRY_STEP_MS);
			return 0;
		}
		err = errno;
	}
	fprintf(stderr, "onshi-test-preload: connect(%s) gave up: %s\n", path, strerror(err));
	errno = err;
	return -1;
}
