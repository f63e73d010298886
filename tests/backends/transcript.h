/* transcript.h — APDU transcripts: a plain-text record of what a reader said
 * to a card and what the card answered (format: doc/transcripts.md).
 *
 * Contract:
 *  - transcript_parse() is pure: it reads only the buffer it is given (which
 *    may hold any bytes, NULs included), allocates the result, and on bad
 *    input returns NULL with a message "line N: ..." naming the first bad
 *    line.  It never prints.  It is the libFuzzer target.
 *  - transcript_format_*() produce the text of one entry; they redact the
 *    data field of PIN-carrying commands (VERIFY, CHANGE REFERENCE DATA,
 *    RESET RETRY COUNTER) so that a PIN never reaches a file.
 *  - A redacted command in a parsed transcript matches any command with the
 *    same bytes before the data field, the same Lc and the same bytes after it.
 */
#ifndef ONSHI_TRANSCRIPT_H
#define ONSHI_TRANSCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Longest line the parser accepts: a maximal extended command written as
 * hex with a space after every byte, plus the prefix and some slack. */
#define TRANSCRIPT_LINE_MAX (3 * (4 + 3 + 65535 + 2) + 64)
#define TRANSCRIPT_REDACTED_MARK "**REDACTED**"

enum transcript_event {
	TRANSCRIPT_POWER_ON,    /* "! power-on ATR": cold reset and its ATR */
	TRANSCRIPT_WARM_RESET,  /* "! warm-reset ATR" */
	TRANSCRIPT_POWER_OFF,   /* "! power-off" */
	TRANSCRIPT_APDU,        /* "> C-APDU" then "< R-APDU" */
};

struct transcript_entry {
	enum transcript_event event;
	unsigned line;           /* line of the "!" or ">" that starts it */
	unsigned reply_line;     /* line of the answer ("<", ATR on the same line) */
	/* APDU only.  When redacted, command holds the bytes before the data
	 * field (header and Lc) and command_tail the bytes after it (Le), and
	 * redacted_len the data length Lc says; the data itself is unknown. */
	uint8_t *command;
	size_t command_len;
	uint8_t *command_tail;
	size_t command_tail_len;
	bool redacted;
	size_t redacted_len;
	/* The answer: R-APDU (data ‖ SW1 SW2) or ATR; none for power-off.
	 * mute: the card gave no answer at all ("! mute" / "mute" ATR). */
	uint8_t *reply;
	size_t reply_len;
	bool mute;
};

struct transcript {
	struct transcript_entry *entries;
	size_t count;
	/* From an optional "! atqb" line: what a contactless reader reads. */
	bool has_atqb;
	uint8_t atqb[8];         /* app data 4 ‖ protocol info 3 ‖ ATTRIB byte 1 */
};

/* Parse a whole transcript.  NULL on error with *error set (free() it). */
struct transcript *transcript_parse(const char *text, size_t len, char **error);
/* Read and parse a file; errors are prefixed with the file name. */
struct transcript *transcript_load(const char *path, char **error);
void transcript_free(struct transcript *t);

/* True if the PIN-carrying command capdu must be redacted in a transcript. */
bool transcript_must_redact(const uint8_t *capdu, size_t len);
/* True if capdu is what the entry's command says (redacted data matches any
 * data of the stated length). */
bool transcript_command_matches(const struct transcript_entry *e,
				const uint8_t *capdu, size_t len);

/* Writers: each writes one or two complete lines ending in '\n' and returns
 * 0, or -1 if stdio failed. */
int transcript_write_command(FILE *out, const uint8_t *capdu, size_t len);
int transcript_write_response(FILE *out, const uint8_t *rapdu, size_t len);
int transcript_write_mute(FILE *out);
/* atr NULL: the card stayed mute. */
int transcript_write_power_on(FILE *out, const uint8_t *atr, size_t len);
int transcript_write_warm_reset(FILE *out, const uint8_t *atr, size_t len);
int transcript_write_power_off(FILE *out);
int transcript_write_atqb(FILE *out, const uint8_t atqb[8]);
/* Write every entry of t (a parsed transcript keeps its redactions). */
int transcript_write(FILE *out, const struct transcript *t);

/* Hex helpers shared with the replay diff: "00 A4 04 0C" (upper case,
 * one space between bytes).  Returns a malloc'd string or NULL. */
char *transcript_hex(const uint8_t *bytes, size_t len);

#endif
