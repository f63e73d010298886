/* ctl-output.h — onshictl's result printer: one tree of named values,
 * printed either for people (indented "key: value" lines) or as one JSON
 * object.
 *
 * Contract:
 *  - Pure formatting: everything goes to the FILE * given to ctl_out_new();
 *    nothing here talks to D-Bus.  Tests drive it with open_memstream().
 *  - A result is a root object: ctl_out_new() opens it, ctl_out_finish()
 *    closes it (JSON: the closing brace and a newline).  Inside it, values
 *    are added in order with a key; inside an array, keys are ignored.
 *  - JSON strings are escaped by ctl_json_escape(): '"', '\\' and control
 *    characters are escaped, and bytes that are not valid UTF-8 become
 *    U+FFFD, so the output always parses.  Human output replaces control
 *    characters with '?' (card data must not drive the terminal).
 *  - Times are seconds since the epoch: JSON gets the integer, people get
 *    "YYYY-MM-DD HH:MM:SS UTC".  Byte strings: lower-case hex in both.
 *  - Nesting deeper than CTL_OUT_MAX_DEPTH or unbalanced ends are programming
 *    errors: they are ignored (and counted in ctl_out_errors()) rather than
 *    producing broken JSON.
 */
#ifndef ONSHI_CTL_OUTPUT_H
#define ONSHI_CTL_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CTL_OUT_MAX_DEPTH 8

struct ctl_out;

/* Opens the root object.  Returns NULL on allocation failure. */
struct ctl_out *ctl_out_new(FILE *f, bool json);

/* Closes every open level (root included) and frees.  Returns 0, or -1
 * when writing failed or the tree was misused (see ctl_out_errors). */
int ctl_out_finish(struct ctl_out *o);

/* Frees without printing anything more (used when an error replaces the
 * result).  NULL is a no-op. */
void ctl_out_free(struct ctl_out *o);

bool ctl_out_is_json(const struct ctl_out *o);
unsigned ctl_out_errors(const struct ctl_out *o);

void ctl_out_begin_object(struct ctl_out *o, const char *key);
void ctl_out_end_object(struct ctl_out *o);
void ctl_out_begin_array(struct ctl_out *o, const char *key);
void ctl_out_end_array(struct ctl_out *o);

void ctl_out_string(struct ctl_out *o, const char *key, const char *value);
void ctl_out_bool(struct ctl_out *o, const char *key, bool value);
void ctl_out_uint(struct ctl_out *o, const char *key, uint64_t value);
void ctl_out_int(struct ctl_out *o, const char *key, int64_t value);
void ctl_out_time(struct ctl_out *o, const char *key, int64_t epoch_seconds);
void ctl_out_hex(struct ctl_out *o, const char *key, const uint8_t *data, size_t len);

/* Writes s (len bytes, may contain NULs) as a JSON string literal, quotes
 * included.  Returns 0, or -1 when writing to f failed. */
int ctl_json_escape(FILE *f, const char *s, size_t len);

/* Lower-case hex of data into out (2*len+1 bytes, NUL-terminated). */
void ctl_hex_encode(char *out, const uint8_t *data, size_t len);

#endif
