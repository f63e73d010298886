/* ctl-output.c — see ctl-output.h. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl-output.h"

struct level {
	bool is_array;
	bool in_array;     /* this level is an element (object) of an array */
	unsigned count;    /* values written at this level so far */
};

struct ctl_out {
	FILE *f;
	bool json;
	unsigned depth;    /* index of the innermost open level */
	unsigned errors;
	struct level lv[CTL_OUT_MAX_DEPTH + 1];
};

bool ctl_out_is_json(const struct ctl_out *o) { return o->json; }
unsigned ctl_out_errors(const struct ctl_out *o) { return o->errors; }

void ctl_hex_encode(char *out, const uint8_t *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/* Length of the valid UTF-8 sequence at s (at most len bytes), or 0 when the
 * bytes there are not one (overlong forms, surrogates and values above
 * U+10FFFF included). */
static size_t utf8_seq_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2; cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3; cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4; cp = c & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int ctl_json_escape(FILE *f, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;

	if (fputc('"', f) == EOF)
		return -1;
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t n;

		switch (c) {
		case '"':  fputs("\\\"", f); i++; continue;
		case '\\': fputs("\\\\", f); i++; continue;
		case '\b': fputs("\\b", f); i++; continue;
		case '\f': fputs("\\f", f); i++; continue;
		case '\n': fputs("\\n", f); i++; continue;
		case '\r': fputs("\\r", f); i++; continue;
		case '\t': fputs("\\t", f); i++; continue;
		default: break;
		}
		if (c < 0x20) {
			fprintf(f, "\\u%04x", c);
			i++;
			continue;
		}
		n = utf8_seq_len(s + i, len - i);
		if (n == 0) {
			fputs("\\ufffd", f);
			i++;
			continue;
		}
		fwrite(s + i, 1, n, f);
		i += n;
	}
	if (fputc('"', f) == EOF)
		return -1;
	return ferror(f) ? -1 : 0;
}

/* Human output: the string with control characters shown as '?' — C0, DEL,
 * C1 (U+0080..U+009F, e.g. CSI U+009B) and bytes that are not UTF-8 (a lone
 * 0x9B is CSI on an 8-bit terminal) — so a certificate field cannot move
 * the cursor or recolour the terminal.  Other UTF-8 (Japanese names) stays. */
static void put_human_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t len = strlen(str);

	if (len == 0) {
		fputs("(none)", f);
		return;
	}
	for (size_t i = 0; i < len;) {
		size_t n = s[i] < 0x80 ? 1 : utf8_seq_len(s + i, len - i);

		if (n == 0 || s[i] < 0x20 || s[i] == 0x7f || (n == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0)) {
			fputc('?', f);
			i += n ? n : 1;
			continue;
		}
		fwrite(s + i, 1, n, f);
		i += n;
	}
}

struct ctl_out *ctl_out_new(FILE *f, bool json)
{
	struct ctl_out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->f = f;
	o->json = json;
	if (json)
		fputc('{', f);
	return o;
}

void ctl_out_free(struct ctl_out *o)
{
	free(o);
}

static void indent(struct ctl_out *o, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		fputs("  ", o->f);
}

/* Writes what comes before a value at the current level: the comma and key
 * in JSON; the indentation, list dash and key for people. */
static void prefix(struct ctl_out *o, const char *key)
{
	struct level *l = &o->lv[o->depth];

	if (o->json) {
		if (l->count)
			fputc(',', o->f);
		if (!l->is_array) {
			ctl_json_escape(o->f, key ? key : "", key ? strlen(key) : 0);
			fputc(':', o->f);
		}
	} else if (l->is_array) {
		indent(o, o->depth);
		fputs("- ", o->f);
	} else {
		if (l->in_array) {
			indent(o, o->depth - 1);
			fputs(l->count ? "  " : "- ", o->f);
		} else {
			indent(o, o->depth);
		}
		fputs(key ? key : "", o->f);
		fputc(':', o->f);
	}
	l->count++;
}

static void begin(struct ctl_out *o, const char *key, bool is_array)
{
	struct level *parent;

	if (o->depth >= CTL_OUT_MAX_DEPTH) {
		o->errors++;
		return;
	}
	parent = &o->lv[o->depth];
	if (o->json || !parent->is_array) {
		prefix(o, key);
		if (o->json)
			fputc(is_array ? '[' : '{', o->f);
		else
			fputc('\n', o->f);
	} else {
		/* People: an object in a list starts its first line with "- ". */
		parent->count++;
	}
	o->depth++;
	o->lv[o->depth] = (struct level){ .is_array = is_array,
					  .in_array = parent->is_array };
}

static void end(struct ctl_out *o, bool is_array)
{
	if (o->depth == 0 || o->lv[o->depth].is_array != is_array) {
		o->errors++;
		return;
	}
	if (o->json) {
		fputc(is_array ? ']' : '}', o->f);
	} else if (o->lv[o->depth].count == 0) {
		/* People: say it is empty rather than print nothing. */
		indent(o, o->depth);
		fputs("(none)\n", o->f);
	}
	o->depth--;
}

void ctl_out_begin_object(struct ctl_out *o, const char *key) { begin(o, key, false); }
void ctl_out_end_object(struct ctl_out *o) { end(o, false); }
void ctl_out_begin_array(struct ctl_out *o, const char *key) { begin(o, key, true); }
void ctl_out_end_array(struct ctl_out *o) { end(o, true); }

void ctl_out_string(struct ctl_out *o, const char *key, const char *value)
{
	if (!value)
		value = "";
	prefix(o, key);
	if (o->json) {
		ctl_json_escape(o->f, value, strlen(value));
	} else {
		if (!o->lv[o->depth].is_array)
			fputc(' ', o->f);
		put_human_string(o->f, value);
		fputc('\n', o->f);
	}
}

static void scalar(struct ctl_out *o, const char *key, const char *text)
{
	prefix(o, key);
	if (o->json) {
		fputs(text, o->f);
	} else {
		if (!o->lv[o->depth].is_array)
			fputc(' ', o->f);
		fputs(text, o->f);
		fputc('\n', o->f);
	}
}

void ctl_out_bool(struct ctl_out *o, const char *key, bool value)
{
	scalar(o, key, o->json ? (value ? "true" : "false") : (value ? "yes" : "no"));
}

void ctl_out_uint(struct ctl_out *o, const char *key, uint64_t value)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, value);
	scalar(o, key, buf);
}

void ctl_out_int(struct ctl_out *o, const char *key, int64_t value)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, value);
	scalar(o, key, buf);
}

void ctl_out_time(struct ctl_out *o, const char *key, int64_t epoch_seconds)
{
	char buf[64];
	struct tm tm;
	time_t t = (time_t)epoch_seconds;

	if (o->json || (int64_t)t != epoch_seconds || !gmtime_r(&t, &tm) ||
	    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
		ctl_out_int(o, key, epoch_seconds);
		return;
	}
	scalar(o, key, buf);
}

void ctl_out_hex(struct ctl_out *o, const char *key, const uint8_t *data, size_t len)
{
	char *hex = malloc(2 * len + 1);

	if (!hex) {
		o->errors++;
		return;
	}
	ctl_hex_encode(hex, data, len);
	ctl_out_string(o, key, len ? hex : "");
	free(hex);
}

int ctl_out_finish(struct ctl_out *o)
{
	int rc;

	if (o->depth != 0)
		o->errors++;
	while (o->depth > 0)
		end(o, o->lv[o->depth].is_array);
	if (o->json)
		fputs("}\n", o->f);
	fflush(o->f);
	rc = (ferror(o->f) || o->errors) ? -1 : 0;
	free(o);
	return rc;
}
