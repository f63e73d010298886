/* transcript.c — APDU transcript parser and writer (see transcript.h,
 * doc/transcripts.md). */
#include "tests/backends/transcript.h"
#include "tests/emu/emu-card.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Instructions whose data field is a PIN or password. */
#define INS_VERIFY                 0x20
#define INS_CHANGE_REFERENCE_DATA  0x24
#define INS_RESET_RETRY_COUNTER    0x2C
#define APDU_HEADER_LEN            4
/* A redacted command whose Lc could not be found: any data length matches. */
#define REDACTED_LEN_UNKNOWN       SIZE_MAX

static char *format_error(unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static char *format_error(unsigned line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	char *out = NULL;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (asprintf(&out, "line %u: %s", line, msg) < 0)
		return NULL;
	return out;
}

/* ---- the shape of a command ------------------------------------------- */

/* Where the data field of a command APDU lies, if it has one that agrees
 * with its Lc (ISO 7816-4 cases 3 and 4, short or extended). */
struct data_field {
	size_t offset;
	size_t len;
};

static bool find_data_field(const uint8_t *capdu, size_t len, struct data_field *df)
{
	size_t lc;

	if (len <= APDU_HEADER_LEN + 1)
		return false;               /* case 1, or case 2 short */
	if (capdu[4] != 0) {
		lc = capdu[4];
		if (len != 5 + lc && len != 5 + lc + 1)
			return false;
		df->offset = 5;
		df->len = lc;
		return true;
	}
	if (len < 7)
		return false;
	lc = (size_t)capdu[5] << 8 | capdu[6];
	if (lc == 0)
		return false;               /* case 2 extended: 00 Le Le */
	if (len != 7 + lc && len != 7 + lc + 2)
		return false;
	df->offset = 7;
	df->len = lc;
	return true;
}

static bool is_pin_instruction(uint8_t ins)
{
	return ins == INS_VERIFY || ins == INS_CHANGE_REFERENCE_DATA ||
	       ins == INS_RESET_RETRY_COUNTER;
}

bool transcript_must_redact(const uint8_t *capdu, size_t len)
{
	/* Anything past the header that is not a bare Le may hold a PIN. */
	if (len <= APDU_HEADER_LEN || !is_pin_instruction(capdu[1]))
		return false;
	if (len == 5)
		return false;                       /* short Le only */
	if (len == 7 && capdu[4] == 0)
		return false;                       /* extended Le only */
	return true;
}

bool transcript_command_matches(const struct transcript_entry *e,
				const uint8_t *capdu, size_t len)
{
	if (e->event != TRANSCRIPT_APDU)
		return false;
	if (!e->redacted)
		return len == e->command_len && memcmp(capdu, e->command, len) == 0;
	if (len < e->command_len || memcmp(capdu, e->command, e->command_len) != 0)
		return false;
	if (e->redacted_len == REDACTED_LEN_UNKNOWN)
		return len > e->command_len;
	if (len != e->command_len + e->redacted_len + e->command_tail_len)
		return false;
	return memcmp(capdu + e->command_len + e->redacted_len, e->command_tail,
		      e->command_tail_len) == 0;
}

/* ---- parsing ------------------------------------------------------------ */

struct parser {
	struct transcript *t;
	size_t capacity;
	/* Index+1 of the APDU entry still waiting for its answer, or 0. */
	size_t pending;
	char *error;
};

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Bytes parsed from the hex part of one line. */
struct hex_field {
	uint8_t *head;        /* before the redaction mark (or all bytes) */
	size_t head_len;
	uint8_t *tail;        /* after it */
	size_t tail_len;
	bool redacted;
};

static void hex_field_free(struct hex_field *h)
{
	free(h->head);
	free(h->tail);
	memset(h, 0, sizeof *h);
}

static size_t token_len(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && !is_blank(s[n]))
		n++;
	return n;
}

/* Parse "AB CD EF" / "ABCDEF" (max bytes in all), optionally with one
 * redaction mark.  On error returns -1 with p->error set. */
static int parse_hex(struct parser *p, unsigned line, const char *s, size_t len,
		     size_t max, bool allow_mark, struct hex_field *out)
{
	uint8_t *buf = NULL;
	size_t n = 0, i = 0, mark_at = SIZE_MAX;

	memset(out, 0, sizeof *out);
	/* Two hex digits per byte: the line can hold at most len / 2 bytes. */
	buf = malloc(len / 2 + 1);
	if (!buf)
		goto oom;
	while (i < len) {
		size_t tl;

		if (is_blank(s[i])) {
			i++;
			continue;
		}
		tl = token_len(s + i, len - i);
		if (tl == strlen(TRANSCRIPT_REDACTED_MARK) &&
		    strncasecmp(s + i, TRANSCRIPT_REDACTED_MARK, tl) == 0) {
			if (!allow_mark) {
				p->error = format_error(line, "%s is only allowed in a command line",
							TRANSCRIPT_REDACTED_MARK);
				goto fail;
			}
			if (mark_at != SIZE_MAX) {
				p->error = format_error(line, "%s appears twice",
							TRANSCRIPT_REDACTED_MARK);
				goto fail;
			}
			mark_at = n;
			i += tl;
			continue;
		}
		if (tl % 2) {
			p->error = format_error(line, "odd number of hex digits in '%.*s'",
						(int)(tl > 40 ? 40 : tl), s + i);
			goto fail;
		}
		for (size_t k = 0; k < tl; k += 2) {
			int hi = hex_value(s[i + k]), lo = hex_value(s[i + k + 1]);

			if (hi < 0 || lo < 0) {
				char bad = hi < 0 ? s[i + k] : s[i + k + 1];

				if (bad > 0x20 && bad < 0x7F)
					p->error = format_error(line, "'%c' is not a hex digit", bad);
				else
					p->error = format_error(line, "byte 0x%02X is not a hex digit",
								(unsigned)(unsigned char)bad);
				goto fail;
			}
			if (n == max) {
				p->error = format_error(line, "too many bytes (more than %zu)", max);
				goto fail;
			}
			buf[n++] = (uint8_t)(hi << 4 | lo);
		}
		i += tl;
	}
	if (n == 0) {
		p->error = format_error(line, "no bytes");
		goto fail;
	}
	if (mark_at == SIZE_MAX) {
		out->head = buf;
		out->head_len = n;
		return 0;
	}
	out->redacted = true;
	out->head_len = mark_at;
	out->tail_len = n - mark_at;
	out->head = malloc(mark_at ? mark_at : 1);
	out->tail = malloc(out->tail_len ? out->tail_len : 1);
	if (!out->head || !out->tail) {
		hex_field_free(out);
		goto oom;
	}
	memcpy(out->head, buf, mark_at);
	memcpy(out->tail, buf + mark_at, out->tail_len);
	free(buf);
	return 0;
oom:
	p->error = format_error(line, "out of memory");
fail:
	free(buf);
	return -1;
}

static struct transcript_entry *new_entry(struct parser *p, unsigned line,
					  enum transcript_event ev)
{
	struct transcript *t = p->t;
	struct transcript_entry *e;

	if (t->count == p->capacity) {
		size_t cap = p->capacity ? p->capacity * 2 : 16;
		struct transcript_entry *grown = reallocarray(t->entries, cap, sizeof *grown);

		if (!grown) {
			p->error = format_error(line, "out of memory");
			return NULL;
		}
		t->entries = grown;
		p->capacity = cap;
	}
	e = &t->entries[t->count++];
	memset(e, 0, sizeof *e);
	e->event = ev;
	e->line = line;
	e->reply_line = line;
	return e;
}

/* A redacted command keeps the header and Lc; check they say how long the
 * hidden data was, and that what follows is a plausible Le. */
static int check_redacted(struct parser *p, unsigned line, struct transcript_entry *e)
{
	const uint8_t *h = e->command;

	if (e->command_len < APDU_HEADER_LEN || !is_pin_instruction(h[1])) {
		p->error = format_error(line, "%s needs the header of a VERIFY, CHANGE REFERENCE DATA"
					" or RESET RETRY COUNTER command before it",
					TRANSCRIPT_REDACTED_MARK);
		return -1;
	}
	if (e->command_len == APDU_HEADER_LEN && e->command_tail_len == 0) {
		e->redacted_len = REDACTED_LEN_UNKNOWN;
		return 0;
	}
	if (e->command_len == 5 && h[4] != 0 && e->command_tail_len <= 1) {
		e->redacted_len = h[4];
		return 0;
	}
	if (e->command_len == 7 && h[4] == 0 && (h[5] | h[6]) != 0 &&
	    (e->command_tail_len == 0 || e->command_tail_len == 2)) {
		e->redacted_len = (size_t)h[5] << 8 | h[6];
		return 0;
	}
	p->error = format_error(line, "%s must follow the header and a non-zero Lc"
				" (and only an Le may follow it)", TRANSCRIPT_REDACTED_MARK);
	return -1;
}

static int parse_command(struct parser *p, unsigned line, const char *s, size_t len)
{
	struct hex_field h;
	struct transcript_entry *e;

	if (p->pending) {
		p->error = format_error(line, "command, but the command on line %u has no response yet",
					p->t->entries[p->pending - 1].line);
		return -1;
	}
	if (parse_hex(p, line, s, len, EMU_CAPDU_MAX, true, &h) < 0)
		return -1;
	e = new_entry(p, line, TRANSCRIPT_APDU);
	if (!e) {
		hex_field_free(&h);
		return -1;
	}
	e->command = h.head;
	e->command_len = h.head_len;
	e->command_tail = h.tail;
	e->command_tail_len = h.tail_len;
	e->redacted = h.redacted;
	p->pending = p->t->count;
	return h.redacted ? check_redacted(p, line, e) : 0;
}

static int parse_response(struct parser *p, unsigned line, const char *s, size_t len)
{
	struct hex_field h;
	struct transcript_entry *e;

	if (!p->pending) {
		p->error = format_error(line, "response without a command before it");
		return -1;
	}
	if (parse_hex(p, line, s, len, EMU_RAPDU_MAX, false, &h) < 0)
		return -1;
	if (h.head_len < 2) {
		hex_field_free(&h);
		p->error = format_error(line, "a response needs at least SW1 SW2");
		return -1;
	}
	e = &p->t->entries[p->pending - 1];
	e->reply = h.head;
	e->reply_len = h.head_len;
	e->reply_line = line;
	p->pending = 0;
	return 0;
}

static bool word_is(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

static int parse_reset(struct parser *p, unsigned line, enum transcript_event ev,
		       const char *arg, size_t len)
{
	struct hex_field h;
	struct transcript_entry *e;
	bool mute = word_is(arg, len, "mute");

	if (len == 0) {
		p->error = format_error(line, "%s needs the ATR (or 'mute')",
					ev == TRANSCRIPT_POWER_ON ? "power-on" : "warm-reset");
		return -1;
	}
	if (!mute && parse_hex(p, line, arg, len, ATR_MAX_LEN, false, &h) < 0)
		return -1;
	e = new_entry(p, line, ev);
	if (!e) {
		if (!mute)
			hex_field_free(&h);
		return -1;
	}
	if (mute) {
		e->mute = true;
	} else {
		e->reply = h.head;
		e->reply_len = h.head_len;
	}
	return 0;
}

static int parse_directive(struct parser *p, unsigned line, const char *s, size_t len)
{
	size_t wl, skip;
	const char *arg;
	size_t arg_len;

	while (len && is_blank(*s)) {
		s++;
		len--;
	}
	wl = token_len(s, len);
	skip = wl;

	while (skip < len && is_blank(s[skip]))
		skip++;
	arg = s + skip;
	arg_len = len - skip;

	if (word_is(s, wl, "mute")) {
		if (!p->pending) {
			p->error = format_error(line, "'! mute' must answer a command");
			return -1;
		}
		if (arg_len) {
			p->error = format_error(line, "'! mute' takes no argument");
			return -1;
		}
		p->t->entries[p->pending - 1].mute = true;
		p->t->entries[p->pending - 1].reply_line = line;
		p->pending = 0;
		return 0;
	}
	if (p->pending) {
		p->error = format_error(line, "directive, but the command on line %u has no response yet",
					p->t->entries[p->pending - 1].line);
		return -1;
	}
	if (word_is(s, wl, "power-on"))
		return parse_reset(p, line, TRANSCRIPT_POWER_ON, arg, arg_len);
	if (word_is(s, wl, "warm-reset"))
		return parse_reset(p, line, TRANSCRIPT_WARM_RESET, arg, arg_len);
	if (word_is(s, wl, "power-off")) {
		if (arg_len) {
			p->error = format_error(line, "'! power-off' takes no argument");
			return -1;
		}
		return new_entry(p, line, TRANSCRIPT_POWER_OFF) ? 0 : -1;
	}
	if (word_is(s, wl, "atqb")) {
		struct hex_field h;

		if (p->t->has_atqb) {
			p->error = format_error(line, "second '! atqb' line");
			return -1;
		}
		if (parse_hex(p, line, arg, arg_len, 8, false, &h) < 0)
			return -1;
		if (h.head_len != 8) {
			hex_field_free(&h);
			p->error = format_error(line, "'! atqb' needs exactly 8 bytes");
			return -1;
		}
		memcpy(p->t->atqb, h.head, 8);
		p->t->has_atqb = true;
		hex_field_free(&h);
		return 0;
	}
	p->error = format_error(line, "unknown directive '%.*s'", (int)(wl > 32 ? 32 : wl), s);
	return -1;
}

static int parse_line(struct parser *p, unsigned line, const char *s, size_t len)
{
	if (memchr(s, '\0', len)) {
		p->error = format_error(line, "NUL byte in line");
		return -1;
	}
	while (len && is_blank(*s)) {
		s++;
		len--;
	}
	while (len && is_blank(s[len - 1]))
		len--;
	if (len == 0 || s[0] == '#')
		return 0;
	switch (s[0]) {
	case '>':
		return parse_command(p, line, s + 1, len - 1);
	case '<':
		return parse_response(p, line, s + 1, len - 1);
	case '!':
		return parse_directive(p, line, s + 1, len - 1);
	}
	if (s[0] > 0x20 && s[0] < 0x7F)
		p->error = format_error(line, "line starts with '%c'; expected '>', '<', '!' or '#'", s[0]);
	else
		p->error = format_error(line, "line starts with byte 0x%02X; expected '>', '<', '!' or '#'",
					(unsigned)(unsigned char)s[0]);
	return -1;
}

struct transcript *transcript_parse(const char *text, size_t len, char **error)
{
	struct parser p = { 0 };
	size_t pos = 0;
	unsigned line = 0;

	*error = NULL;
	p.t = calloc(1, sizeof *p.t);
	if (!p.t) {
		*error = strdup("out of memory");
		return NULL;
	}
	while (pos < len) {
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - start) : len - pos;

		line++;
		pos += ll + (nl ? 1 : 0);
		if (ll > TRANSCRIPT_LINE_MAX) {
			p.error = format_error(line, "line too long (%zu characters, at most %d)",
					       ll, TRANSCRIPT_LINE_MAX);
			goto fail;
		}
		if (parse_line(&p, line, start, ll) < 0)
			goto fail;
	}
	if (p.pending) {
		p.error = format_error(p.t->entries[p.pending - 1].line,
				       "command has no response (the transcript ends)");
		goto fail;
	}
	return p.t;
fail:
	transcript_free(p.t);
	*error = p.error ? p.error : strdup("out of memory");
	return NULL;
}

void transcript_free(struct transcript *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->count; i++) {
		free(t->entries[i].command);
		free(t->entries[i].command_tail);
		free(t->entries[i].reply);
	}
	free(t->entries);
	free(t);
}

/* Transcripts are small (a session is kilobytes); refuse anything huge. */
#define TRANSCRIPT_FILE_MAX (64u << 20)

struct transcript *transcript_load(const char *path, char **error)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *err = NULL;
	size_t len = 0, cap = 0;
	struct transcript *t;

	*error = NULL;
	if (!f) {
		if (asprintf(error, "%s: %s", path, strerror(errno)) < 0)
			*error = NULL;
		return NULL;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			char *grown;

			if (cap >= TRANSCRIPT_FILE_MAX) {
				fclose(f);
				free(buf);
				if (asprintf(error, "%s: larger than %u bytes", path,
					     TRANSCRIPT_FILE_MAX) < 0)
					*error = NULL;
				return NULL;
			}
			cap = cap ? cap * 2 : 65536;
			grown = realloc(buf, cap);
			if (!grown) {
				fclose(f);
				free(buf);
				*error = strdup("out of memory");
				return NULL;
			}
			buf = grown;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fclose(f);
		free(buf);
		if (asprintf(error, "%s: read error", path) < 0)
			*error = NULL;
		return NULL;
	}
	fclose(f);
	t = transcript_parse(buf ? buf : "", len, &err);
	free(buf);
	if (!t) {
		if (asprintf(error, "%s: %s", path, err) < 0)
			*error = NULL;
		free(err);
	}
	return t;
}

/* ---- writing ------------------------------------------------------------ */

char *transcript_hex(const uint8_t *bytes, size_t len)
{
	static const char digits[] = "0123456789ABCDEF";
	char *s = malloc(len ? len * 3 : 1);

	if (!s)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		s[3 * i] = digits[bytes[i] >> 4];
		s[3 * i + 1] = digits[bytes[i] & 0xF];
		s[3 * i + 2] = ' ';
	}
	s[len ? len * 3 - 1 : 0] = '\0';
	return s;
}

static int write_hex_line(FILE *out, const char *prefix, const uint8_t *b, size_t len,
			  const char *suffix)
{
	char *hex = transcript_hex(b, len);
	int r;

	if (!hex)
		return -1;
	r = fprintf(out, "%s%s%s\n", prefix, hex, suffix);
	free(hex);
	return r < 0 ? -1 : 0;
}

int transcript_write_command(FILE *out, const uint8_t *capdu, size_t len)
{
	struct data_field df;
	char *head, *tail;
	int r;

	if (!transcript_must_redact(capdu, len))
		return write_hex_line(out, "> ", capdu, len, "");
	if (!find_data_field(capdu, len, &df))
		return write_hex_line(out, "> ", capdu, APDU_HEADER_LEN, " " TRANSCRIPT_REDACTED_MARK);
	head = transcript_hex(capdu, df.offset);
	tail = transcript_hex(capdu + df.offset + df.len, len - df.offset - df.len);
	if (!head || !tail) {
		free(head);
		free(tail);
		return -1;
	}
	r = fprintf(out, "> %s %s%s%s\n", head, TRANSCRIPT_REDACTED_MARK, *tail ? " " : "", tail);
	free(head);
	free(tail);
	return r < 0 ? -1 : 0;
}

int transcript_write_response(FILE *out, const uint8_t *rapdu, size_t len)
{
	return write_hex_line(out, "< ", rapdu, len, "");
}

int transcript_write_mute(FILE *out)
{
	return fputs("! mute\n", out) < 0 ? -1 : 0;
}

static int write_reset(FILE *out, const char *what, const uint8_t *atr, size_t len)
{
	char prefix[32];

	if (!atr)
		return fprintf(out, "! %s mute\n", what) < 0 ? -1 : 0;
	snprintf(prefix, sizeof prefix, "! %s ", what);
	return write_hex_line(out, prefix, atr, len, "");
}

int transcript_write_power_on(FILE *out, const uint8_t *atr, size_t len)
{
	return write_reset(out, "power-on", atr, len);
}

int transcript_write_warm_reset(FILE *out, const uint8_t *atr, size_t len)
{
	return write_reset(out, "warm-reset", atr, len);
}

int transcript_write_power_off(FILE *out)
{
	return fputs("! power-off\n", out) < 0 ? -1 : 0;
}

int transcript_write_atqb(FILE *out, const uint8_t atqb[8])
{
	return write_hex_line(out, "! atqb ", atqb, 8, "");
}

/* A parsed redacted entry is written back in the same redacted form. */
static int write_parsed_command(FILE *out, const struct transcript_entry *e)
{
	char *head, *tail;
	int r;

	if (!e->redacted)
		return transcript_write_command(out, e->command, e->command_len);
	head = transcript_hex(e->command, e->command_len);
	tail = transcript_hex(e->command_tail, e->command_tail_len);
	if (!head || !tail) {
		free(head);
		free(tail);
		return -1;
	}
	r = fprintf(out, "> %s %s%s%s\n", head, TRANSCRIPT_REDACTED_MARK,
		    *tail ? " " : "", tail);
	free(head);
	free(tail);
	return r < 0 ? -1 : 0;
}

static int write_entry(FILE *out, const struct transcript_entry *e)
{
	const uint8_t *atr = e->mute ? NULL : e->reply;

	switch (e->event) {
	case TRANSCRIPT_POWER_ON:
		return transcript_write_power_on(out, atr, e->reply_len);
	case TRANSCRIPT_WARM_RESET:
		return transcript_write_warm_reset(out, atr, e->reply_len);
	case TRANSCRIPT_POWER_OFF:
		return transcript_write_power_off(out);
	case TRANSCRIPT_APDU:
		if (write_parsed_command(out, e) < 0)
			return -1;
		if (e->mute)
			return transcript_write_mute(out);
		return transcript_write_response(out, e->reply, e->reply_len);
	}
	return -1;
}

int transcript_write(FILE *out, const struct transcript *t)
{
	if (t->has_atqb && transcript_write_atqb(out, t->atqb) < 0)
		return -1;
	for (size_t i = 0; i < t->count; i++)
		if (write_entry(out, &t->entries[i]) < 0)
			return -1;
	return 0;
}
