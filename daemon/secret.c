/* secret.c — mlock'd, non-dumpable secret buffers; see secret.h. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "secret.h"

struct secret {
	size_t map_len;
	size_t len;
	bool locked;
	uint8_t data[SECRET_MAX_LEN];
};

static size_t page_rounded(size_t n)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t p = page > 0 ? (size_t)page : 4096;

	return (n + p - 1) / p * p;
}

struct secret *secret_new(void)
{
	size_t map_len = page_rounded(sizeof(struct secret));
	struct secret *s = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (s == MAP_FAILED)
		return NULL;
	/* Best effort: an unprivileged test run may hit RLIMIT_MEMLOCK. */
	s->locked = mlock(s, map_len) == 0;
	(void)madvise(s, map_len, MADV_DONTDUMP);
#ifdef MADV_WIPEONFORK
	(void)madvise(s, map_len, MADV_WIPEONFORK);
#endif
	s->map_len = map_len;
	s->len = 0;
	return s;
}

void secret_free(struct secret *s)
{
	size_t map_len;
	bool locked;

	if (!s)
		return;
	map_len = s->map_len;
	locked = s->locked;
	explicit_bzero(s, map_len);
	if (locked)
		(void)munlock(s, map_len);
	(void)munmap(s, map_len);
}

void secret_clear(struct secret *s)
{
	if (!s)
		return;
	explicit_bzero(s->data, sizeof(s->data));
	s->len = 0;
}

int secret_take_bytes(struct secret *s, void *src, size_t len)
{
	int rc = 0;

	if (!s || (!src && len))
		return -1;
	secret_clear(s);
	if (len > sizeof(s->data)) {
		rc = -1;
	} else if (len) {
		memcpy(s->data, src, len);
		s->len = len;
	}
	if (len)
		explicit_bzero(src, len);
	return rc;
}

int secret_take_string(struct secret *s, char *src)
{
	if (!src)
		return -1;
	return secret_take_bytes(s, src, strlen(src));
}

const uint8_t *secret_data(const struct secret *s)
{
	return s->data;
}

size_t secret_len(const struct secret *s)
{
	return s->len;
}

bool secret_is_locked(const struct secret *s)
{
	return s->locked;
}

int secret_harden_process(void)
{
	struct rlimit none = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return -errno;
	if (setrlimit(RLIMIT_CORE, &none) != 0)
		return -errno;
	return 0;
}
