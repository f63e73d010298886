/* secret.h — a buffer type for PINs and passwords.
 *
 * Contract:
 *  - A struct secret lives in its own anonymous mmap: mlock'd (so it is not
 *    swapped; a failed mlock, e.g. RLIMIT_MEMLOCK, is tolerated and reported
 *    by secret_is_locked()), MADV_DONTDUMP (kept out of core dumps) and
 *    MADV_WIPEONFORK where the kernel has it (a forked child sees zeros).
 *  - secret_free() wipes with explicit_bzero before unmapping; secret_clear()
 *    wipes the content and keeps the buffer.
 *  - secret_take_*() copy the caller's bytes in and then wipe the source, so
 *    the PIN exists in exactly one place afterwards.  For sd-bus, call
 *    sd_bus_message_sensitive() on the message first; the string pointer
 *    sd_bus_message_read() returns points into that message, and wiping it
 *    there is what we want.
 *  - Nothing here logs.  Never print secret_data().
 *  - The process should also call secret_harden_process() once at start-up:
 *    PR_SET_DUMPABLE 0 (no core dumps, no ptrace by same-uid processes, no
 *    /proc/<pid>/mem for others) and RLIMIT_CORE 0.
 */
#ifndef ONSHI_SECRET_H
#define ONSHI_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest secret accepted; JPKI needs at most 16 bytes. */
#define SECRET_MAX_LEN 256

struct secret;

/* Returns an empty secret, or NULL when mmap fails. */
struct secret *secret_new(void);

/* Wipes, unlocks and unmaps.  NULL is a no-op. */
void secret_free(struct secret *s);

/* Wipes the content; length becomes 0. */
void secret_clear(struct secret *s);

/* Copies len bytes from src then wipes src[0..len).  Returns 0, or -1 when
 * len > SECRET_MAX_LEN (src is wiped anyway: it was meant to be consumed). */
int secret_take_bytes(struct secret *s, void *src, size_t len);

/* Same for a NUL-terminated string (the NUL is not stored). */
int secret_take_string(struct secret *s, char *src);

const uint8_t *secret_data(const struct secret *s);
size_t secret_len(const struct secret *s);

/* True when the pages are mlock'd. */
bool secret_is_locked(const struct secret *s);

/* PR_SET_DUMPABLE 0 and RLIMIT_CORE 0.  Returns 0, or -errno of the first
 * failure. */
int secret_harden_process(void);

#endif
