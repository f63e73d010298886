/* test-backends.c — Check tests for tests/backends/: transcript parser and
 * writer, replay card, recorder, card specs, and the vicc backend against an
 * in-test vicc peer (a thread speaking the protocol, well or badly). */
#include "tests/backends/backends.h"
#include "tests/backends/recorder.h"
#include "tests/backends/replay.h"
#include "tests/backends/transcript.h"
#include "tests/backends/vicc.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

static struct transcript *parse_ok(const char *text)
{
	char *error = NULL;
	struct transcript *t = transcript_parse(text, strlen(text), &error);

	ck_assert_msg(t != NULL, "parse failed: %s", error ? error : "?");
	return t;
}

static char *parse_error(const char *text, size_t len)
{
	char *error = NULL;
	struct transcript *t = transcript_parse(text, len, &error);

	ck_assert_msg(t == NULL, "parse of bad input succeeded");
	ck_assert_ptr_nonnull(error);
	return error;
}

#define ck_assert_parse_error(text, expected) do { \
		char *e_ = parse_error((text), strlen(text)); \
		ck_assert_str_eq(e_, (expected)); \
		free(e_); \
	} while (0)

static char *write_to_string(int (*fn)(FILE *, const struct transcript *),
			     const struct transcript *t)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fn(f, t), 0);
	fclose(f);
	return buf;
}

static char *write_command(const uint8_t *capdu, size_t len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(transcript_write_command(f, capdu, len), 0);
	fclose(f);
	return buf;
}

static char *temp_path(const char *name)
{
	const char *dir = getenv("TMPDIR");
	char *path = NULL;

	ck_assert_int_ge(asprintf(&path, "%s/onshi-backends-%d-%s", dir && *dir ? dir : "/tmp",
				  (int)getpid(), name), 0);
	return path;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* ---- transcript parser --------------------------------------------------- */

static const char session_text[] =
	"# a JPKI session\n"
	"\n"
	"! atqb 00 00 05 E0 B3 81 A1 00\n"
	"! power-on 3B DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73 C6 01 C0 3B\n"
	">00a4040c0ad392f000260100000001\n"
	"< 90 00\n"
	"   > 00 A4 02 0C 02 00 18   \n"
	"< 90 00\n"
	"> 00 20 00 80 04 **REDACTED**\n"
	"< 90 00\n"
	"> 00 B0 00 00 04\n"
	"< 30 82 06 1F 90 00\n"
	"> 00 B0 00 04 00\n"
	"! mute\n"
	"! warm-reset 3B DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73 C6 01 C0 3B\n"
	"! power-off\n";

START_TEST(parse_session)
{
	struct transcript *t = parse_ok(session_text);
	const struct transcript_entry *e = t->entries;
	static const uint8_t select_jpki[] = { 0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0,
					       0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01 };
	static const uint8_t atqb[8] = { 0x00, 0x00, 0x05, 0xE0, 0xB3, 0x81, 0xA1, 0x00 };

	ck_assert_uint_eq(t->count, 8);
	ck_assert(t->has_atqb);
	ck_assert_mem_eq(t->atqb, atqb, 8);
	ck_assert_int_eq(e[0].event, TRANSCRIPT_POWER_ON);
	ck_assert_uint_eq(e[0].line, 4);
	ck_assert_uint_eq(e[0].reply_len, 19);
	ck_assert_uint_eq(e[0].reply[0], 0x3B);
	ck_assert_int_eq(e[1].event, TRANSCRIPT_APDU);
	ck_assert_uint_eq(e[1].command_len, sizeof select_jpki);
	ck_assert_mem_eq(e[1].command, select_jpki, sizeof select_jpki);
	ck_assert_uint_eq(e[1].line, 5);
	ck_assert_uint_eq(e[1].reply_line, 6);
	ck_assert_uint_eq(e[2].line, 7);
	ck_assert(e[3].redacted);
	ck_assert_uint_eq(e[3].command_len, 5);
	ck_assert_uint_eq(e[3].redacted_len, 4);
	ck_assert_uint_eq(e[4].reply_len, 6);
	ck_assert_uint_eq(e[4].reply[3], 0x1F);
	ck_assert(e[5].mute);
	ck_assert_uint_eq(e[5].reply_line, 14);
	ck_assert_int_eq(e[6].event, TRANSCRIPT_WARM_RESET);
	ck_assert_int_eq(e[7].event, TRANSCRIPT_POWER_OFF);
	ck_assert_uint_eq(e[7].line, 16);
	transcript_free(t);
}
END_TEST

START_TEST(write_round_trip)
{
	static const char canonical[] =
		"! atqb 00 00 05 E0 B3 81 A1 00\n"
		"! power-on 3B DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73 C6 01 C0 3B\n"
		"> 00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01\n"
		"< 90 00\n"
		"> 00 A4 02 0C 02 00 18\n"
		"< 90 00\n"
		"> 00 20 00 80 04 **REDACTED**\n"
		"< 90 00\n"
		"> 00 B0 00 00 04\n"
		"< 30 82 06 1F 90 00\n"
		"> 00 B0 00 04 00\n"
		"! mute\n"
		"! warm-reset 3B DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73 C6 01 C0 3B\n"
		"! power-off\n";
	struct transcript *t = parse_ok(session_text);
	char *text = write_to_string(transcript_write, t);
	struct transcript *again;
	char *text2;

	ck_assert_str_eq(text, canonical);
	again = parse_ok(text);
	text2 = write_to_string(transcript_write, again);
	ck_assert_str_eq(text2, canonical);
	transcript_free(t);
	transcript_free(again);
	free(text);
	free(text2);
}
END_TEST

START_TEST(parse_malformed)
{
	ck_assert_parse_error("> 00 A4\n< 90 0\n", "line 2: odd number of hex digits in '0'");
	ck_assert_parse_error("# c\n> 00A4 040\n", "line 2: odd number of hex digits in '040'");
	ck_assert_parse_error("> 00 A4 0G 00\n", "line 1: 'G' is not a hex digit");
	ck_assert_parse_error("\n\n? 00 A4\n",
			      "line 3: line starts with '?'; expected '>', '<', '!' or '#'");
	ck_assert_parse_error("< 90 00\n", "line 1: response without a command before it");
	ck_assert_parse_error("> 00 B0 00 00 04\n< 90\n", "line 2: a response needs at least SW1 SW2");
	ck_assert_parse_error("> 00 B0 00 00 04\n> 00 B0 00 00 04\n",
			      "line 2: command, but the command on line 1 has no response yet");
	ck_assert_parse_error("# x\n> 00 B0 00 00 04\n", "line 2: command has no response (the transcript ends)");
	ck_assert_parse_error("! power-on 3B 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
			      " 00 00 00 00 00 00 00 00 00 00\n",
			      "line 1: too many bytes (more than 33)");
	ck_assert_parse_error("! power-on\n", "line 1: power-on needs the ATR (or 'mute')");
	ck_assert_parse_error("! jump 12\n", "line 1: unknown directive 'jump'");
	ck_assert_parse_error("! mute\n", "line 1: '! mute' must answer a command");
	ck_assert_parse_error("! atqb 00 01\n", "line 1: '! atqb' needs exactly 8 bytes");
	ck_assert_parse_error(">\n", "line 1: no bytes");
	ck_assert_parse_error("> 00 B0 00 00 **REDACTED**\n< 90 00\n",
			      "line 1: **REDACTED** needs the header of a VERIFY, CHANGE REFERENCE DATA"
			      " or RESET RETRY COUNTER command before it");
	ck_assert_parse_error("> 00 20 00 80 00 **REDACTED**\n< 90 00\n",
			      "line 1: **REDACTED** must follow the header and a non-zero Lc"
			      " (and only an Le may follow it)");
	ck_assert_parse_error("> 00 20 00 80 04 00\n< 90 00 **REDACTED**\n",
			      "line 2: **REDACTED** is only allowed in a command line");
	{
		static const char nul[] = "> 00 A4\n< 90\0 00\n";
		char *e = parse_error(nul, sizeof nul - 1);

		ck_assert_str_eq(e, "line 2: NUL byte in line");
		free(e);
	}
}
END_TEST

START_TEST(parse_overlong)
{
	/* A line past the limit, and a command with one byte too many. */
	size_t n = TRANSCRIPT_LINE_MAX + 10;
	char *text = malloc(n + 16);
	char *e, *expected = NULL;
	size_t len;

	ck_assert_ptr_nonnull(text);
	memcpy(text, "# ok\n> ", 7);
	memset(text + 7, '0', n);
	text[7 + n] = '\n';
	e = parse_error(text, 8 + n);
	ck_assert_int_ge(asprintf(&expected, "line 2: line too long (%zu characters, at most %d)",
				  n + 2, TRANSCRIPT_LINE_MAX), 0);
	ck_assert_str_eq(e, expected);
	free(e);
	free(expected);

	len = 2 * (EMU_CAPDU_MAX + 1);
	memcpy(text, "> ", 2);
	memset(text + 2, 'A', len);
	e = parse_error(text, 2 + len);
	expected = NULL;
	ck_assert_int_ge(asprintf(&expected, "line 1: too many bytes (more than %d)", EMU_CAPDU_MAX), 0);
	ck_assert_str_eq(e, expected);
	free(e);
	free(expected);
	free(text);
}
END_TEST

/* ---- redaction ------------------------------------------------------------ */

START_TEST(redact_on_write)
{
	static const uint8_t verify[] = { 0x00, 0x20, 0x00, 0x80, 0x04, '1', '2', '3', '4' };
	static const uint8_t verify_sfi[] = { 0x00, 0x20, 0x00, 0x98, 0x04, '9', '8', '7', '6' };
	static const uint8_t change[] = { 0x00, 0x24, 0x01, 0x80, 0x04, '5', '5', '5', '5' };
	static const uint8_t verify_ext[] = { 0x00, 0x20, 0x00, 0x80, 0x00, 0x00, 0x06,
					      'A', 'B', 'C', '1', '2', '3' };
	static const uint8_t verify_bad[] = { 0x00, 0x20, 0x00, 0x80, 0x09, '1', '2' };
	static const uint8_t query[] = { 0x00, 0x20, 0x00, 0x80 };
	static const uint8_t read[] = { 0x00, 0xB0, 0x00, 0x00, 0x04 };
	char *s;

	s = write_command(verify, sizeof verify);
	ck_assert_str_eq(s, "> 00 20 00 80 04 **REDACTED**\n");
	free(s);
	s = write_command(verify_sfi, sizeof verify_sfi);
	ck_assert_str_eq(s, "> 00 20 00 98 04 **REDACTED**\n");
	free(s);
	s = write_command(change, sizeof change);
	ck_assert_str_eq(s, "> 00 24 01 80 04 **REDACTED**\n");
	free(s);
	s = write_command(verify_ext, sizeof verify_ext);
	ck_assert_str_eq(s, "> 00 20 00 80 00 00 06 **REDACTED**\n");
	free(s);
	/* Lc disagrees with the length: hide everything after the header. */
	s = write_command(verify_bad, sizeof verify_bad);
	ck_assert_str_eq(s, "> 00 20 00 80 **REDACTED**\n");
	free(s);
	/* The retry-counter query carries no PIN. */
	s = write_command(query, sizeof query);
	ck_assert_str_eq(s, "> 00 20 00 80\n");
	free(s);
	s = write_command(read, sizeof read);
	ck_assert_str_eq(s, "> 00 B0 00 00 04\n");
	free(s);
}
END_TEST

START_TEST(redacted_matching)
{
	struct transcript *t = parse_ok("> 00 20 00 80 04 **REDACTED**\n< 90 00\n"
					"> 00 20 00 80 00 00 06 **REDACTED** 00 00\n< 90 00\n"
					"> 00 20 00 80 **REDACTED**\n< 67 00\n");
	static const uint8_t pin4[] = { 0x00, 0x20, 0x00, 0x80, 0x04, '1', '2', '3', '4' };
	static const uint8_t pin4b[] = { 0x00, 0x20, 0x00, 0x80, 0x04, '9', '9', '9', '9' };
	static const uint8_t pin5[] = { 0x00, 0x20, 0x00, 0x80, 0x05, '1', '2', '3', '4', '5' };
	static const uint8_t other_p2[] = { 0x00, 0x20, 0x00, 0x81, 0x04, '1', '2', '3', '4' };
	static const uint8_t ext[] = { 0x00, 0x20, 0x00, 0x80, 0x00, 0x00, 0x06,
				       'A', 'B', 'C', 'D', 'E', 'F', 0x00, 0x00 };
	static const uint8_t ext_no_le[] = { 0x00, 0x20, 0x00, 0x80, 0x00, 0x00, 0x06,
					     'A', 'B', 'C', 'D', 'E', 'F' };

	ck_assert(transcript_command_matches(&t->entries[0], pin4, sizeof pin4));
	ck_assert(transcript_command_matches(&t->entries[0], pin4b, sizeof pin4b));
	ck_assert(!transcript_command_matches(&t->entries[0], pin5, sizeof pin5));
	ck_assert(!transcript_command_matches(&t->entries[0], other_p2, sizeof other_p2));
	ck_assert(!transcript_command_matches(&t->entries[0], pin4, 5));
	ck_assert(transcript_command_matches(&t->entries[1], ext, sizeof ext));
	ck_assert(!transcript_command_matches(&t->entries[1], ext_no_le, sizeof ext_no_le));
	ck_assert(transcript_command_matches(&t->entries[2], pin5, sizeof pin5));
	ck_assert(!transcript_command_matches(&t->entries[2], pin4, 4));
	transcript_free(t);
}
END_TEST

/* ---- replay --------------------------------------------------------------- */

static const char replay_text[] =
	"! power-on 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F\n"
	"> 00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01\n"
	"< 90 00\n"
	"> 00 A4 02 0C 02 00 0A\n"
	"< 90 00\n"
	"> 00 20 00 80 04 **REDACTED**\n"
	"< 63 C2\n"
	"> 00 B0 00 00 04\n"
	"< 30 82 06 1F 90 00\n"
	"! warm-reset 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F\n"
	"> 00 B0 00 04 02\n"
	"! mute\n"
	"! power-off\n";

struct replay_fixture {
	emu_card *card;
	FILE *diag;
};

static struct replay_fixture open_replay_mode(const char *text, bool loose_power)
{
	struct replay_fixture fx;
	char *error = NULL;

	fx.diag = tmpfile();
	ck_assert_ptr_nonnull(fx.diag);
	fx.card = replay_card_new(parse_ok(text), "t.apdu", fx.diag, loose_power, &error);
	ck_assert_msg(fx.card != NULL, "%s", error ? error : "?");
	return fx;
}

static struct replay_fixture open_replay(const char *text)
{
	return open_replay_mode(text, false);
}

static char *diag_text(FILE *diag)
{
	char *buf = calloc(1, 8192);
	size_t n;

	ck_assert_ptr_nonnull(buf);
	rewind(diag);
	n = fread(buf, 1, 8191, diag);
	buf[n] = '\0';
	return buf;
}

static int send_apdu(emu_card *card, const uint8_t *capdu, size_t len,
		     uint8_t *rapdu, size_t *rlen)
{
	return card->ops->transmit(card, capdu, len, rapdu, rlen);
}

static const uint8_t select_jpki[] = { 0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0,
				       0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t select_auth_cert[] = { 0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A };
static const uint8_t select_other[] = { 0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0B };
static const uint8_t verify_1234[] = { 0x00, 0x20, 0x00, 0x80, 0x04, '1', '2', '3', '4' };
static const uint8_t read_head[] = { 0x00, 0xB0, 0x00, 0x00, 0x04 };
static const uint8_t read_more[] = { 0x00, 0xB0, 0x00, 0x04, 0x02 };

START_TEST(replay_follows_transcript)
{
	struct replay_fixture fx = open_replay(replay_text);
	emu_card *c = fx.card;
	uint8_t atr[ATR_MAX_LEN], r[EMU_RAPDU_MAX];
	size_t atr_len = 0, rl = 0;
	static const uint8_t expect_atr[] = { 0x3B, 0x88, 0x80, 0x01, 0x00, 0x00, 0x05, 0xE0,
					      0xB3, 0x81, 0xA1, 0x00, 0x7F };
	static const uint8_t cert_head[] = { 0x30, 0x82, 0x06, 0x1F, 0x90, 0x00 };
	char *diag;

	ck_assert_str_eq(c->kind, "replay");
	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
	ck_assert_uint_eq(atr_len, sizeof expect_atr);
	ck_assert_mem_eq(atr, expect_atr, sizeof expect_atr);
	ck_assert_int_eq(send_apdu(c, select_jpki, sizeof select_jpki, r, &rl), 0);
	ck_assert_uint_eq(rl, 2);
	ck_assert_uint_eq(r[0], 0x90);
	ck_assert_int_eq(send_apdu(c, select_auth_cert, sizeof select_auth_cert, r, &rl), 0);
	ck_assert_int_eq(send_apdu(c, verify_1234, sizeof verify_1234, r, &rl), 0);
	ck_assert_uint_eq(rl, 2);
	ck_assert_uint_eq(r[0], 0x63);
	ck_assert_uint_eq(r[1], 0xC2);
	ck_assert_int_eq(send_apdu(c, read_head, sizeof read_head, r, &rl), 0);
	ck_assert_uint_eq(rl, sizeof cert_head);
	ck_assert_mem_eq(r, cert_head, sizeof cert_head);
	ck_assert_int_eq(c->ops->warm_reset(c, atr, &atr_len), 0);
	ck_assert_uint_eq(atr_len, sizeof expect_atr);
	/* A recorded mute answer is replayed as mute, not as a failure. */
	ck_assert_int_eq(send_apdu(c, read_more, sizeof read_more, r, &rl), -1);
	ck_assert(!emu_card_failed(c));
	c->ops->power_off(c);
	ck_assert_int_eq(emu_card_finish(c), 0);
	ck_assert_ptr_null(replay_card_report(c));
	diag = diag_text(fx.diag);
	ck_assert_str_eq(diag, "");
	free(diag);
	emu_card_destroy(c);
	fclose(fx.diag);
}
END_TEST

START_TEST(replay_deviation_diff)
{
	struct replay_fixture fx = open_replay(replay_text);
	emu_card *c = fx.card;
	uint8_t atr[ATR_MAX_LEN], r[EMU_RAPDU_MAX];
	size_t atr_len, rl;
	char *diag;
	static const char expected[] =
		"replay t.apdu:4: command differs from the transcript\n"
		"  expected: 00 A4 02 0C 02 00 0A\n"
		"  got:      00 A4 02 0C 02 00 0B\n"
		"                              ^^ first difference at offset 6 (expected 7 bytes, got 7)\n";

	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
	ck_assert_int_eq(send_apdu(c, select_jpki, sizeof select_jpki, r, &rl), 0);
	ck_assert_int_eq(send_apdu(c, select_other, sizeof select_other, r, &rl), -1);
	ck_assert(emu_card_failed(c));
	ck_assert_str_eq(replay_card_report(c), expected);
	/* Mute from now on, even for what the transcript says next. */
	ck_assert_int_eq(send_apdu(c, select_auth_cert, sizeof select_auth_cert, r, &rl), -1);
	ck_assert_int_eq(c->ops->warm_reset(c, atr, &atr_len), -1);
	ck_assert_int_eq(emu_card_finish(c), -1);
	diag = diag_text(fx.diag);
	ck_assert_str_eq(diag, expected);   /* reported once */
	free(diag);
	emu_card_destroy(c);
	fclose(fx.diag);
}
END_TEST

START_TEST(replay_diff_never_shows_pin)
{
	struct replay_fixture fx = open_replay(replay_text);
	emu_card *c = fx.card;
	uint8_t atr[ATR_MAX_LEN], r[EMU_RAPDU_MAX];
	size_t atr_len, rl;
	static const uint8_t verify_5[] = { 0x00, 0x20, 0x00, 0x80, 0x05, '9', '8', '7', '6', '5' };
	static const char expected[] =
		"replay t.apdu:6: command differs from the transcript\n"
		"  expected: 00 20 00 80 04 **REDACTED**\n"
		"  got:      00 20 00 80 05 **REDACTED**\n"
		"                        ^^ first difference at offset 4 (expected 6 bytes, got 6)\n";

	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
	ck_assert_int_eq(send_apdu(c, select_jpki, sizeof select_jpki, r, &rl), 0);
	ck_assert_int_eq(send_apdu(c, select_auth_cert, sizeof select_auth_cert, r, &rl), 0);
	ck_assert_int_eq(send_apdu(c, verify_5, sizeof verify_5, r, &rl), -1);
	ck_assert_str_eq(replay_card_report(c), expected);
	emu_card_destroy(c);
	fclose(fx.diag);
}
END_TEST

START_TEST(replay_length_diff_and_kind_mismatch)
{
	char *s = replay_format_diff("f", 9, "command", select_auth_cert, sizeof select_auth_cert,
				     select_auth_cert, 5);
	struct replay_fixture fx;
	uint8_t r[EMU_RAPDU_MAX];
	size_t rl;

	ck_assert_str_eq(s, "replay f:9: command differs from the transcript\n"
			    "  expected: 00 A4 02 0C 02 00 0A\n"
			    "  got:      00 A4 02 0C 02\n"
			    "                           ^^ first difference at offset 5 (expected 7 bytes, got 5)\n");
	free(s);
	/* A command where the transcript expects a power-on. */
	fx = open_replay(replay_text);
	ck_assert_int_eq(send_apdu(fx.card, select_jpki, sizeof select_jpki, r, &rl), -1);
	ck_assert_str_eq(replay_card_report(fx.card),
			 "replay t.apdu:1: the reader did something else than the transcript\n"
			 "  expected: ! power-on 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F\n"
			 "  got:      00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01\n");
	emu_card_destroy(fx.card);
	fclose(fx.diag);
}
END_TEST

START_TEST(replay_leftover_at_finish)
{
	struct replay_fixture fx = open_replay(replay_text);
	emu_card *c = fx.card;
	uint8_t atr[ATR_MAX_LEN], r[EMU_RAPDU_MAX];
	size_t atr_len, rl;

	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
	ck_assert_int_eq(send_apdu(c, select_jpki, sizeof select_jpki, r, &rl), 0);
	ck_assert_int_eq(send_apdu(c, select_auth_cert, sizeof select_auth_cert, r, &rl), 0);
	ck_assert_int_eq(emu_card_finish(c), -1);
	ck_assert_str_eq(replay_card_report(c),
			 "replay t.apdu:6: 4 exchanges not replayed (the session ended)\n");
	emu_card_destroy(c);
	fclose(fx.diag);
}
END_TEST

START_TEST(replay_leftover_at_power_off)
{
	struct replay_fixture fx = open_replay(replay_text);
	emu_card *c = fx.card;
	uint8_t atr[ATR_MAX_LEN], r[EMU_RAPDU_MAX];
	size_t atr_len, rl;

	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
	ck_assert_int_eq(send_apdu(c, select_jpki, sizeof select_jpki, r, &rl), 0);
	c->ops->power_off(c);
	ck_assert(emu_card_failed(c));
	ck_assert_str_eq(replay_card_report(c),
			 "replay t.apdu:4: 5 exchanges not replayed (the reader powered the card off)\n");
	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), -1);
	emu_card_destroy(c);
	fclose(fx.diag);
}
END_TEST

START_TEST(replay_transcript_ends_early)
{
	struct replay_fixture fx = open_replay("! power-on 3B 00\n> 00 A4 04 0C 00\n< 90 00\n");
	emu_card *c = fx.card;
	uint8_t atr[ATR_MAX_LEN], r[EMU_RAPDU_MAX];
	size_t atr_len, rl;
	static const uint8_t sel[] = { 0x00, 0xA4, 0x04, 0x0C, 0x00 };

	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
	ck_assert_int_eq(send_apdu(c, sel, sizeof sel, r, &rl), 0);
	/* Powering off after the last entry is fine... */
	c->ops->power_off(c);
	ck_assert(!emu_card_failed(c));
	/* ...doing more is not. */
	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), -1);
	ck_assert_str_eq(replay_card_report(c),
			 "replay t.apdu: the transcript ended (last entry at line 3),"
			 " but the reader went on:\n  got:      ! power-on\n");
	emu_card_destroy(c);
	fclose(fx.diag);
}
END_TEST

/* replay_text with an idle power cycle between the two SELECTs. */
static const char replay_cycle_text[] =
	"! power-on 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F\n"
	"> 00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01\n"
	"< 90 00\n"
	"! power-off\n"
	"! power-on 3B 01\n"
	"> 00 A4 02 0C 02 00 0A\n"
	"< 90 00\n";

START_TEST(replay_loose_power_extra_cycle)
{
	struct replay_fixture fx = open_replay_mode(replay_text, true);
	emu_card *c = fx.card;
	uint8_t atr[ATR_MAX_LEN], r[EMU_RAPDU_MAX];
	size_t atr_len = 0, rl;

	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
	ck_assert_int_eq(send_apdu(c, select_jpki, sizeof select_jpki, r, &rl), 0);
	/* A power cycle the transcript does not have: the ATR again. */
	c->ops->power_off(c);
	atr_len = 0;
	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
	ck_assert_uint_eq(atr_len, 13);
	ck_assert_uint_eq(atr[12], 0x7F);
	ck_assert_int_eq(send_apdu(c, select_auth_cert, sizeof select_auth_cert, r, &rl), 0);
	ck_assert_int_eq(send_apdu(c, verify_1234, sizeof verify_1234, r, &rl), 0);
	ck_assert_int_eq(send_apdu(c, read_head, sizeof read_head, r, &rl), 0);
	ck_assert_int_eq(c->ops->warm_reset(c, atr, &atr_len), 0);
	ck_assert_int_eq(send_apdu(c, read_more, sizeof read_more, r, &rl), -1);
	c->ops->power_off(c);
	ck_assert(!emu_card_failed(c));
	ck_assert_int_eq(emu_card_finish(c), 0);
	emu_card_destroy(c);
	fclose(fx.diag);
}
END_TEST

START_TEST(replay_loose_power_skipped_cycle)
{
	struct replay_fixture fx = open_replay_mode(replay_cycle_text, true);
	struct replay_fixture strict = open_replay_mode(replay_cycle_text, false);
	uint8_t atr[ATR_MAX_LEN], r[EMU_RAPDU_MAX];
	size_t atr_len, rl;

	/* Loose: the recorded cycle is passed over. */
	ck_assert_int_eq(fx.card->ops->power_on(fx.card, atr, &atr_len), 0);
	ck_assert_int_eq(send_apdu(fx.card, select_jpki, sizeof select_jpki, r, &rl), 0);
	ck_assert_int_eq(send_apdu(fx.card, select_auth_cert, sizeof select_auth_cert, r, &rl), 0);
	ck_assert_int_eq(emu_card_finish(fx.card), 0);
	/* Strict: it is a deviation. */
	ck_assert_int_eq(strict.card->ops->power_on(strict.card, atr, &atr_len), 0);
	ck_assert_int_eq(send_apdu(strict.card, select_jpki, sizeof select_jpki, r, &rl), 0);
	ck_assert_int_eq(send_apdu(strict.card, select_auth_cert, sizeof select_auth_cert, r, &rl), -1);
	ck_assert_str_eq(replay_card_report(strict.card),
			 "replay t.apdu:4: the reader did something else than the transcript\n"
			 "  expected: ! power-off\n"
			 "  got:      00 A4 02 0C 02 00 0A\n");
	emu_card_destroy(fx.card);
	emu_card_destroy(strict.card);
	fclose(fx.diag);
	fclose(strict.diag);
}
END_TEST

START_TEST(replay_loose_power_still_counts_leftovers)
{
	struct replay_fixture fx = open_replay_mode(replay_text, true);
	emu_card *c = fx.card;
	uint8_t atr[ATR_MAX_LEN], r[EMU_RAPDU_MAX];
	size_t atr_len, rl;

	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
	ck_assert_int_eq(send_apdu(c, select_jpki, sizeof select_jpki, r, &rl), 0);
	c->ops->power_off(c);
	ck_assert(!emu_card_failed(c));
	/* ...but what the reader did not do is still reported at the end. */
	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
	ck_assert_int_eq(emu_card_finish(c), -1);
	ck_assert_str_eq(replay_card_report(c),
			 "replay t.apdu:4: 5 exchanges not replayed (the session ended)\n");
	emu_card_destroy(c);
	fclose(fx.diag);
}
END_TEST

/* ---- specs and the recorder ---------------------------------------------- */

static void assert_spec_error(const char *spec, const char *expected)
{
	char *error = NULL;
	emu_card *c = emu_card_open(spec, &error);

	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(error);
	ck_assert_str_eq(error, expected);
	free(error);
}

START_TEST(spec_errors)
{
	assert_spec_error("bogus", "card spec 'bogus': expected vcard:DIR[,noext] | vicc:PORT[,timeout=MS]"
			  " | replay:FILE[,power=loose] | record:FILE:SPEC");
	assert_spec_error("smart:x", "card spec 'smart:x': unknown kind; expected vcard:DIR[,noext] |"
			  " vicc:PORT[,timeout=MS] | replay:FILE[,power=loose] | record:FILE:SPEC");
	assert_spec_error("vicc:abc", "vicc:abc: PORT must be a number 0..65535 (0 picks a free port)");
	assert_spec_error("vicc:70000", "vicc:70000: PORT must be a number 0..65535 (0 picks a free port)");
	assert_spec_error("vicc:0,speed=3", "vicc:0,speed=3: the only option is timeout=MS (1..3600000)");
	assert_spec_error("vicc:0,timeout=0", "vicc:0,timeout=0: the only option is timeout=MS (1..3600000)");
	assert_spec_error("replay:", "replay:: expected replay:FILE[,power=loose]");
	assert_spec_error("replay:,power=loose", "replay:,power=loose: expected replay:FILE[,power=loose]");
	assert_spec_error("replay:/nonexistent/x.apdu", "/nonexistent/x.apdu: No such file or directory");
	assert_spec_error("record:out.apdu", "record:out.apdu: expected record:FILE:SPEC");
	assert_spec_error("record:/nonexistent/out.apdu:replay:/nonexistent/x.apdu",
			  "/nonexistent/x.apdu: No such file or directory");
}
END_TEST

START_TEST(spec_replay_file_error_names_line)
{
	char *path = temp_path("bad.apdu");
	char *spec = NULL, *error = NULL, *expected = NULL;

	write_file(path, "# ok\n> 00 A4 04\n< 9 00\n");
	ck_assert_int_ge(asprintf(&spec, "replay:%s", path), 0);
	ck_assert_ptr_null(emu_card_open(spec, &error));
	ck_assert_int_ge(asprintf(&expected, "%s: line 3: odd number of hex digits in '9'", path), 0);
	ck_assert_str_eq(error, expected);
	unlink(path);
	free(path);
	free(spec);
	free(error);
	free(expected);
}
END_TEST

/* Run the replay_text session against card; returns the answers joined. */
static void run_session(emu_card *c, uint8_t answers[][64], size_t lens[], int rcs[])
{
	uint8_t atr[ATR_MAX_LEN], r[EMU_RAPDU_MAX];
	size_t atr_len = 0, rl = 0;
	int i = 0;

	rcs[i] = c->ops->power_on(c, atr, &atr_len);
	memcpy(answers[i], atr, atr_len);
	lens[i++] = atr_len;
#define STEP(cmd) do { \
		rl = 0; \
		rcs[i] = send_apdu(c, cmd, sizeof cmd, r, &rl); \
		memcpy(answers[i], r, rl < 64 ? rl : 64); \
		lens[i++] = rl; \
	} while (0)
	STEP(select_jpki);
	STEP(select_auth_cert);
	STEP(verify_1234);
	STEP(read_head);
	rcs[i] = c->ops->warm_reset(c, atr, &atr_len);
	memcpy(answers[i], atr, atr_len);
	lens[i++] = atr_len;
	STEP(read_more);
#undef STEP
	c->ops->power_off(c);
}

START_TEST(recorder_replay_round_trip)
{
	char *src = temp_path("src.apdu"), *rec = temp_path("rec.apdu");
	char *spec = NULL, *error = NULL, *text;
	uint8_t a1[7][64], a2[7][64];
	size_t l1[7], l2[7];
	int rc1[7], rc2[7];
	emu_card *c;

	write_file(src, replay_text);
	ck_assert_int_ge(asprintf(&spec, "record:%s:replay:%s", rec, src), 0);
	c = emu_card_open(spec, &error);
	ck_assert_msg(c != NULL, "%s", error ? error : "?");
	ck_assert_str_eq(c->kind, "recorder");
	ck_assert_int_eq(emu_card_vicc_port(c), -1);
	run_session(c, a1, l1, rc1);
	ck_assert_int_eq(emu_card_finish(c), 0);
	emu_card_destroy(c);

	/* What was recorded: the PIN is not in it. */
	text = read_file(rec);
	ck_assert_ptr_nonnull(strstr(text, "> 00 20 00 80 04 **REDACTED**\n< 63 C2\n"));
	ck_assert_ptr_null(strstr(text, "31 32 33 34"));
	ck_assert_ptr_nonnull(strstr(text, "! atqb 00 00 05 E0 B3 81 A1 00\n"));
	ck_assert_ptr_nonnull(strstr(text, "> 00 B0 00 04 02\n! mute\n! power-off\n"));
	free(text);

	/* Replaying the recording gives the same answers. */
	free(spec);
	ck_assert_int_ge(asprintf(&spec, "replay:%s", rec), 0);
	c = emu_card_open(spec, &error);
	ck_assert_msg(c != NULL, "%s", error ? error : "?");
	run_session(c, a2, l2, rc2);
	ck_assert_int_eq(emu_card_finish(c), 0);
	for (int i = 0; i < 7; i++) {
		ck_assert_int_eq(rc1[i], rc2[i]);
		if (rc1[i] == 0) {
			ck_assert_uint_eq(l1[i], l2[i]);
			ck_assert_mem_eq(a1[i], a2[i], l1[i]);
		}
	}
	ck_assert_int_eq(rc1[6], -1);
	emu_card_destroy(c);
	unlink(src);
	unlink(rec);
	free(src);
	free(rec);
	free(spec);
}
END_TEST

/* ---- recorder and replay around the virtual My Number card ---------------- */

/* A card directory made once by mkcard.sh for the whole run (forked tests
 * inherit it); empty if mkcard.sh failed, which fails the vcard tests. */
static char vcard_dir[256];

static void make_vcard_dir(void)
{
	const char *src = getenv("ONSHI_TOP_SRCDIR");
	const char *tmp = getenv("TMPDIR");
	char *cmd = NULL;

	snprintf(vcard_dir, sizeof vcard_dir, "%s/onshi-backends-card-%d",
		 tmp && *tmp ? tmp : "/tmp", (int)getpid());
	if (asprintf(&cmd, "sh '%s/tests/vcard/mkcard.sh' '%s' >/dev/null",
		     src && *src ? src : ".", vcard_dir) < 0 || system(cmd) != 0)
		vcard_dir[0] = '\0';
	free(cmd);
}

static void remove_vcard_dir(void)
{
	char *cmd = NULL;

	if (vcard_dir[0] && asprintf(&cmd, "rm -rf '%s'", vcard_dir) >= 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", vcard_dir);
	free(cmd);
}

static size_t hex_to_bytes(const char *hex, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (*hex) {
		unsigned v;

		if (*hex == ' ') {
			hex++;
			continue;
		}
		ck_assert_int_eq(sscanf(hex, "%2x", &v), 1);
		ck_assert_uint_lt(n, max);
		out[n++] = (uint8_t)v;
		hex += 2;
	}
	return n;
}

/* What the reader does: SELECT, read the auth certificate, query and VERIFY
 * the auth PIN, sign, with a warm reset and power-off. */
static const char *const vcard_session[] = {
	"power-on",
	"00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01",
	"00 A4 02 0C 02 00 0A",
	"00 B0 00 00 04",
	"00 B0 00 04 00",
	"00 B0 01 04 00",
	"00 A4 02 0C 02 00 18",
	"00 20 00 80",
	"VERIFY",
	"00 A4 02 0C 02 00 17",
	"80 2A 00 80 33 30 31 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20"
	" 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F 00",
	"warm-reset",
	"00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01",
	"power-off",
};
#define VCARD_STEPS (sizeof vcard_session / sizeof vcard_session[0])

struct step_result {
	int rc;
	size_t len;
	uint8_t bytes[260];
};

static void read_auth_pin(char pin[8])
{
	char *path = NULL, line[256];
	FILE *f;

	pin[0] = '\0';
	ck_assert_int_ge(asprintf(&path, "%s/card.conf", vcard_dir), 0);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "auth_pin=", 9) == 0)
			snprintf(pin, 8, "%.4s", line + 9);
	fclose(f);
	free(path);
	ck_assert_uint_eq(strlen(pin), 4);
}

/* alter_step >= 0: flip the last byte of that step's command. */
static void run_vcard_session(emu_card *c, struct step_result res[VCARD_STEPS], int alter_step)
{
	uint8_t capdu[300], *r = malloc(EMU_RAPDU_MAX);
	char pin[8];

	ck_assert_ptr_nonnull(r);
	read_auth_pin(pin);
	for (size_t i = 0; i < VCARD_STEPS; i++) {
		const char *op = vcard_session[i];
		size_t len;

		res[i].len = 0;
		if (strcmp(op, "power-on") == 0 || strcmp(op, "warm-reset") == 0) {
			size_t atr_len = 0;

			res[i].rc = op[0] == 'p' ? c->ops->power_on(c, res[i].bytes, &atr_len)
						 : c->ops->warm_reset(c, res[i].bytes, &atr_len);
			res[i].len = atr_len;
			continue;
		}
		if (strcmp(op, "power-off") == 0) {
			c->ops->power_off(c);
			res[i].rc = 0;
			continue;
		}
		if (strcmp(op, "VERIFY") == 0) {
			static const uint8_t head[] = { 0x00, 0x20, 0x00, 0x80, 0x04 };

			memcpy(capdu, head, sizeof head);
			memcpy(capdu + sizeof head, pin, 4);
			len = sizeof head + 4;
		} else {
			len = hex_to_bytes(op, capdu, sizeof capdu);
		}
		if ((int)i == alter_step)
			capdu[len - 1] ^= 0x01;
		res[i].rc = send_apdu(c, capdu, len, r, &res[i].len);
		ck_assert_uint_le(res[i].len, sizeof res[i].bytes);
		memcpy(res[i].bytes, r, res[i].len);
	}
	free(r);
}

START_TEST(vcard_record_then_replay)
{
	char *rec = temp_path("vcard.apdu"), *spec = NULL, *error = NULL, *text;
	struct step_result a[VCARD_STEPS], b[VCARD_STEPS];
	emu_card *c;
	char pin[8], pin_hex[16];

	ck_assert_msg(vcard_dir[0], "mkcard.sh failed");
	ck_assert_int_ge(asprintf(&spec, "record:%s:vcard:%s", rec, vcard_dir), 0);
	c = emu_card_open(spec, &error);
	ck_assert_msg(c != NULL, "%s", error ? error : "?");
	run_vcard_session(c, a, -1);
	emu_card_destroy(c);
	/* The card really answered: ATR, a certificate header, 3 tries, a PIN
	 * accepted, a 256-byte signature. */
	ck_assert_int_eq(a[0].rc, 0);
	ck_assert_uint_eq(a[0].bytes[0], 0x3B);
	ck_assert_uint_eq(a[3].len, 6);
	ck_assert_uint_eq(a[3].bytes[0], 0x30);
	ck_assert_uint_eq(a[3].bytes[1], 0x82);
	ck_assert_uint_eq(a[7].len, 2);
	ck_assert_uint_eq(a[7].bytes[0], 0x63);
	ck_assert_uint_eq(a[7].bytes[1], 0xC3);
	ck_assert_uint_eq(a[8].len, 2);
	ck_assert_uint_eq(a[8].bytes[0], 0x90);
	ck_assert_uint_eq(a[10].len, 258);
	ck_assert_uint_eq(a[10].bytes[256], 0x90);

	/* The PIN is not in the file. */
	read_auth_pin(pin);
	snprintf(pin_hex, sizeof pin_hex, "%02X %02X %02X %02X", pin[0], pin[1], pin[2], pin[3]);
	text = read_file(rec);
	ck_assert_ptr_nonnull(strstr(text, "> 00 20 00 80 04 **REDACTED**\n< 90 00\n"));
	ck_assert_ptr_null(strstr(text, pin_hex));
	free(text);

	free(spec);
	ck_assert_int_ge(asprintf(&spec, "replay:%s", rec), 0);
	c = emu_card_open(spec, &error);
	ck_assert_msg(c != NULL, "%s", error ? error : "?");
	run_vcard_session(c, b, -1);
	ck_assert_int_eq(emu_card_finish(c), 0);
	emu_card_destroy(c);
	for (size_t i = 0; i < VCARD_STEPS; i++) {
		ck_assert_int_eq(a[i].rc, b[i].rc);
		ck_assert_uint_eq(a[i].len, b[i].len);
		ck_assert_mem_eq(a[i].bytes, b[i].bytes, a[i].len);
	}
	unlink(rec);
	free(rec);
	free(spec);
}
END_TEST

START_TEST(vcard_replay_detects_altered_byte)
{
	char *rec = temp_path("vcard2.apdu"), *spec = NULL, *error = NULL, *expected = NULL;
	struct step_result a[VCARD_STEPS];
	emu_card *c;

	ck_assert_msg(vcard_dir[0], "mkcard.sh failed");
	ck_assert_int_ge(asprintf(&spec, "record:%s:vcard:%s,noext", rec, vcard_dir), 0);
	c = emu_card_open(spec, &error);
	ck_assert_msg(c != NULL, "%s", error ? error : "?");
	run_vcard_session(c, a, -1);
	emu_card_destroy(c);

	free(spec);
	ck_assert_int_ge(asprintf(&spec, "replay:%s", rec), 0);
	c = emu_card_open(spec, &error);
	ck_assert_msg(c != NULL, "%s", error ? error : "?");
	/* Step 5 reads at offset 0x0104; the altered command asks for Le 01. */
	run_vcard_session(c, a, 5);
	ck_assert(emu_card_failed(c));
	/* Line 12: comment, atqb, power-on, then two lines per exchange. */
	ck_assert_int_ge(asprintf(&expected,
				  "replay %s:12: command differs from the transcript\n"
				  "  expected: 00 B0 01 04 00\n"
				  "  got:      00 B0 01 04 01\n"
				  "                        ^^ first difference at offset 4 (expected 5 bytes, got 5)\n",
				  rec), 0);
	ck_assert_str_eq(replay_card_report(c), expected);
	/* Mute from there on (the last step, power-off, has no answer). */
	for (size_t i = 5; i < VCARD_STEPS - 1; i++)
		ck_assert_int_eq(a[i].rc, -1);
	ck_assert_int_eq(emu_card_finish(c), -1);
	emu_card_destroy(c);
	unlink(rec);
	free(rec);
	free(spec);
	free(expected);
}
END_TEST

START_TEST(vcard_spec_errors)
{
	char *error = NULL;

	assert_spec_error("vcard:,noext", "vcard:,noext: expected vcard:DIR[,noext]");
	ck_assert_ptr_null(emu_card_open("vcard:/nonexistent/card", &error));
	ck_assert_ptr_nonnull(error);
	ck_assert_ptr_nonnull(strstr(error, "/nonexistent/card"));
	free(error);
}
END_TEST

/* ---- vicc ----------------------------------------------------------------- */

enum peer_mode {
	PEER_GOOD,            /* answers like a card: ATR, APDU reversed + 90 00 */
	PEER_HUGE_ATR,        /* announces a 65535-byte ATR */
	PEER_LONG_ATR,        /* sends a 34-byte ATR */
	PEER_SHORT_RESPONSE,  /* answers an APDU with 1 byte */
	PEER_HANGS_UP,        /* closes the connection on the first APDU */
	PEER_SILENT,          /* never answers an APDU */
	PEER_LEAVES,          /* closes the connection right after giving its ATR */
};

struct peer {
	pthread_t thread;
	int port;
	enum peer_mode mode;
	char log[512];        /* what the peer received, read after join */
};

static const uint8_t peer_atr[] = { 0x3B, 0xDA, 0x13, 0xFF, 0x81, 0x31, 0xFB, 0x46, 0x80, 0x12,
				    0x39, 0x2F, 0x31, 0xC1, 0x73, 0xC6, 0x01, 0xC0, 0x3B };

static bool peer_recv(int fd, uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = recv(fd, buf + done, len - done, 0);

		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

static void peer_send(int fd, const uint8_t *buf, size_t len, size_t announced)
{
	uint8_t prefix[2] = { (uint8_t)(announced >> 8), (uint8_t)announced };

	send(fd, prefix, 2, MSG_NOSIGNAL);
	if (len)
		send(fd, buf, len, MSG_NOSIGNAL);
}

static void peer_log(struct peer *p, const char *what)
{
	size_t n = strlen(p->log);

	snprintf(p->log + n, sizeof p->log - n, "%s%s", n ? " " : "", what);
}

/* Answer an APDU: the bytes reversed, then 90 00 (a card-like answer that
 * depends on the command, so the test sees the command got through). */
static void peer_answer(struct peer *p, int fd, const uint8_t *msg, size_t len)
{
	uint8_t out[600];
	char entry[32];

	snprintf(entry, sizeof entry, "APDU(%zu)", len);
	peer_log(p, entry);
	switch (p->mode) {
	case PEER_SHORT_RESPONSE:
		peer_send(fd, (const uint8_t *)"\x90", 1, 1);
		return;
	case PEER_HANGS_UP:
		shutdown(fd, SHUT_RDWR);
		return;
	case PEER_SILENT:
		return;
	default:
		break;
	}
	for (size_t i = 0; i < len; i++)
		out[i] = msg[len - 1 - i];
	out[len] = 0x90;
	out[len + 1] = 0x00;
	peer_send(fd, out, len + 2, len + 2);
}

static void peer_control(struct peer *p, int fd, uint8_t code)
{
	static const char *const names[] = { "OFF", "ON", "RESET", "?", "ATR" };
	uint8_t junk[64] = { 0 };

	peer_log(p, code < 5 ? names[code] : "?");
	if (code != 4)
		return;
	if (p->mode == PEER_HUGE_ATR)
		peer_send(fd, junk, sizeof junk, 0xFFFF);
	else if (p->mode == PEER_LONG_ATR)
		peer_send(fd, junk, 34, 34);
	else
		peer_send(fd, peer_atr, sizeof peer_atr, sizeof peer_atr);
	if (p->mode == PEER_LEAVES)
		shutdown(fd, SHUT_RDWR);
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	struct sockaddr_in addr = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint8_t msg[600];

	addr.sin_port = htons((uint16_t)p->port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
		peer_log(p, "CONNECT-FAILED");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (;;) {
		uint8_t prefix[2];
		size_t len;

		if (!peer_recv(fd, prefix, 2))
			break;
		len = (size_t)prefix[0] << 8 | prefix[1];
		if (len > sizeof msg || !peer_recv(fd, msg, len)) {
			peer_log(p, "BAD");
			break;
		}
		if (len == 1)
			peer_control(p, fd, msg[0]);
		else
			peer_answer(p, fd, msg, len);
	}
	peer_log(p, "EOF");
	close(fd);
	return NULL;
}

static emu_card *open_vicc_with_peer(struct peer *p, enum peer_mode mode, int timeout_ms)
{
	char *error = NULL, *spec = NULL;
	emu_card *c;

	ck_assert_int_ge(asprintf(&spec, "vicc:0,timeout=%d", timeout_ms), 0);
	c = emu_card_open(spec, &error);
	free(spec);
	ck_assert_msg(c != NULL, "%s", error ? error : "?");
	ck_assert_str_eq(c->kind, "vicc");
	memset(p, 0, sizeof *p);
	p->port = emu_card_vicc_port(c);
	ck_assert_int_gt(p->port, 0);
	p->mode = mode;
	ck_assert_int_eq(pthread_create(&p->thread, NULL, peer_main, p), 0);
	return c;
}

static void close_vicc(emu_card *c, struct peer *p)
{
	emu_card_destroy(c);
	pthread_join(p->thread, NULL);
}

START_TEST(vicc_talks_to_good_card)
{
	struct peer p;
	emu_card *c = open_vicc_with_peer(&p, PEER_GOOD, 5000);
	uint8_t atr[ATR_MAX_LEN], r[EMU_RAPDU_MAX];
	size_t atr_len = 0, rl = 0;
	static const uint8_t reversed[] = { 0x0A, 0x00, 0x02, 0x0C, 0x02, 0xA4, 0x00, 0x90, 0x00 };

	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
	ck_assert_uint_eq(atr_len, sizeof peer_atr);
	ck_assert_mem_eq(atr, peer_atr, sizeof peer_atr);
	ck_assert_int_eq(send_apdu(c, select_auth_cert, sizeof select_auth_cert, r, &rl), 0);
	ck_assert_uint_eq(rl, sizeof reversed);
	ck_assert_mem_eq(r, reversed, sizeof reversed);
	ck_assert_int_eq(c->ops->warm_reset(c, atr, &atr_len), 0);
	ck_assert_uint_eq(atr_len, sizeof peer_atr);
	c->ops->power_off(c);
	/* A 1-byte command would read as a control code: refused locally. */
	ck_assert_int_eq(send_apdu(c, select_auth_cert, 1, r, &rl), -1);
	close_vicc(c, &p);
	ck_assert_str_eq(p.log, "ON ATR APDU(7) RESET ATR OFF EOF");
}
END_TEST

START_TEST(vicc_recorded_through_spec)
{
	char *rec = temp_path("vicc.apdu"), *spec = NULL, *error = NULL, *text;
	struct peer p;
	emu_card *c;
	uint8_t atr[ATR_MAX_LEN], r[EMU_RAPDU_MAX];
	size_t atr_len, rl;

	ck_assert_int_ge(asprintf(&spec, "record:%s:vicc:0,timeout=5000", rec), 0);
	c = emu_card_open(spec, &error);
	ck_assert_msg(c != NULL, "%s", error ? error : "?");
	memset(&p, 0, sizeof p);
	p.port = emu_card_vicc_port(c);
	ck_assert_int_gt(p.port, 0);
	ck_assert_int_eq(pthread_create(&p.thread, NULL, peer_main, &p), 0);
	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
	ck_assert_int_eq(send_apdu(c, verify_1234, sizeof verify_1234, r, &rl), 0);
	close_vicc(c, &p);
	text = read_file(rec);
	ck_assert_ptr_nonnull(strstr(text, "! power-on 3B DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73 C6 01 C0 3B\n"
					  "> 00 20 00 80 04 **REDACTED**\n"
					  "< 34 33 32 31 04 80 00 20 00 90 00\n"));
	free(text);
	unlink(rec);
	free(rec);
	free(spec);
}
END_TEST

static void assert_vicc_bad_peer(enum peer_mode mode, bool fails_at_power_on, const char *log)
{
	struct peer p;
	emu_card *c = open_vicc_with_peer(&p, mode, 5000);
	uint8_t atr[ATR_MAX_LEN], r[EMU_RAPDU_MAX];
	size_t atr_len = 0, rl = 0;

	if (fails_at_power_on) {
		ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), -1);
	} else {
		ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
		ck_assert_int_eq(send_apdu(c, read_head, sizeof read_head, r, &rl), -1);
	}
	/* The connection was dropped: everything is mute now. */
	ck_assert_int_eq(send_apdu(c, read_head, sizeof read_head, r, &rl), -1);
	ck_assert_int_eq(c->ops->warm_reset(c, atr, &atr_len), -1);
	close_vicc(c, &p);
	ck_assert_str_eq(p.log, log);
}

START_TEST(vicc_rejects_huge_atr)
{
	assert_vicc_bad_peer(PEER_HUGE_ATR, true, "ON ATR EOF");
}
END_TEST

START_TEST(vicc_rejects_long_atr)
{
	assert_vicc_bad_peer(PEER_LONG_ATR, true, "ON ATR EOF");
}
END_TEST

START_TEST(vicc_rejects_short_response)
{
	assert_vicc_bad_peer(PEER_SHORT_RESPONSE, false, "ON ATR APDU(5) EOF");
}
END_TEST

START_TEST(vicc_card_hangs_up)
{
	assert_vicc_bad_peer(PEER_HANGS_UP, false, "ON ATR APDU(5) EOF");
}
END_TEST

START_TEST(vicc_silent_card_times_out)
{
	struct peer p;
	emu_card *c = open_vicc_with_peer(&p, PEER_SILENT, 300);
	uint8_t atr[ATR_MAX_LEN], r[EMU_RAPDU_MAX];
	size_t atr_len = 0, rl = 0;
	struct timespec t0, t1;
	long ms;

	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(send_apdu(c, read_head, sizeof read_head, r, &rl), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_int_ge(ms, 250);
	ck_assert_int_lt(ms, 3000);
	close_vicc(c, &p);
	ck_assert_str_eq(p.log, "ON ATR APDU(5) EOF");
}
END_TEST

START_TEST(vicc_no_card_times_out_then_accepts_one)
{
	char *error = NULL;
	emu_card *c = emu_card_open("vicc:0,timeout=200", &error);
	uint8_t atr[ATR_MAX_LEN];
	size_t atr_len = 0;
	struct peer p;

	ck_assert_msg(c != NULL, "%s", error ? error : "?");
	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), -1);
	memset(&p, 0, sizeof p);
	p.port = emu_card_vicc_port(c);
	p.mode = PEER_GOOD;
	ck_assert_int_eq(pthread_create(&p.thread, NULL, peer_main, &p), 0);
	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
	ck_assert_uint_eq(atr_len, sizeof peer_atr);
	close_vicc(c, &p);
	ck_assert_str_eq(p.log, "ON ATR EOF");
}
END_TEST

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void *interrupt_later(void *arg)
{
	emu_card *c = arg;

	usleep(200 * 1000);
	c->ops->interrupt(c);
	return NULL;
}

/* A power-on waiting for a vicc peer that never comes ends at once on an
 * interrupt (CCID Abort, unplug, SIGTERM) instead of after its timeout, also
 * through a recorder; an interrupt with no wait in progress changes nothing
 * later. */
START_TEST(vicc_interrupt_ends_the_wait_for_a_peer)
{
	char path[256], spec[300];

	snprintf(path, sizeof path, "/tmp/test-backends-interrupt-%d.apdu", (int)getpid());
	for (unsigned i = 0; i < 2; i++) {
		char *error = NULL;
		if (i == 0)
			snprintf(spec, sizeof spec, "vicc:0,timeout=20000");
		else
			snprintf(spec, sizeof spec, "record:%s:vicc:0,timeout=20000", path);
		emu_card *c = emu_card_open(spec, &error);
		ck_assert_msg(c != NULL, "%s", error ? error : "?");
		ck_assert_ptr_nonnull(c->ops->interrupt);
		uint8_t atr[ATR_MAX_LEN];
		size_t atr_len = 0;
		pthread_t t;
		struct timespec t0;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		ck_assert_int_eq(pthread_create(&t, NULL, interrupt_later, c), 0);
		ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), -1);
		pthread_join(t, NULL);
		ck_assert_int_lt(ms_since(&t0), 3000);
		emu_card_destroy(c);
	}
	unlink(path);

	char *error = NULL;
	emu_card *c = emu_card_open("vicc:0,timeout=300", &error);
	ck_assert_msg(c != NULL, "%s", error ? error : "?");
	c->ops->interrupt(c);           /* nobody waits: forgotten */
	uint8_t atr[ATR_MAX_LEN];
	size_t atr_len = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), -1);
	ck_assert_int_ge(ms_since(&t0), 250);   /* the full timeout, not cut short */
	emu_card_destroy(c);
}
END_TEST

START_TEST(vicc_new_card_replaces_gone_one)
{
	struct peer p, q;
	emu_card *c = open_vicc_with_peer(&p, PEER_LEAVES, 5000);
	uint8_t atr[ATR_MAX_LEN], r[EMU_RAPDU_MAX];
	size_t atr_len = 0, rl = 0;

	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
	/* The card process ends while the reader is idle... */
	pthread_join(p.thread, NULL);
	ck_assert_str_eq(p.log, "ON ATR EOF");
	/* ...another one connects, and the next power-on talks to it. */
	memset(&q, 0, sizeof q);
	q.port = p.port;
	q.mode = PEER_GOOD;
	ck_assert_int_eq(pthread_create(&q.thread, NULL, peer_main, &q), 0);
	ck_assert_int_eq(c->ops->power_on(c, atr, &atr_len), 0);
	ck_assert_uint_eq(atr_len, sizeof peer_atr);
	ck_assert_mem_eq(atr, peer_atr, sizeof peer_atr);
	ck_assert_int_eq(send_apdu(c, read_head, sizeof read_head, r, &rl), 0);
	ck_assert_uint_eq(rl, 7);
	close_vicc(c, &q);
	ck_assert_str_eq(q.log, "ON ATR APDU(5) EOF");
}
END_TEST

START_TEST(vicc_port_in_use)
{
	char *error = NULL, *spec = NULL, *expected = NULL;
	emu_card *a = emu_card_open("vicc:0", &error);
	int port;

	ck_assert_ptr_nonnull(a);
	port = emu_card_vicc_port(a);
	ck_assert_int_ge(asprintf(&spec, "vicc:%d", port), 0);
	ck_assert_ptr_null(emu_card_open(spec, &error));
	ck_assert_int_ge(asprintf(&expected, "vicc: cannot listen on 127.0.0.1:%d: Address already in use",
				  port), 0);
	ck_assert_str_eq(error, expected);
	free(error);
	free(spec);
	free(expected);
	emu_card_destroy(a);
}
END_TEST

static Suite *backends_suite(void)
{
	Suite *s = suite_create("backends");
	TCase *tr = tcase_create("transcript");
	TCase *rp = tcase_create("replay");
	TCase *sp = tcase_create("spec");
	TCase *vi = tcase_create("vicc");
	TCase *vc = tcase_create("vcard");

	tcase_add_test(tr, parse_session);
	tcase_add_test(tr, write_round_trip);
	tcase_add_test(tr, parse_malformed);
	tcase_add_test(tr, parse_overlong);
	tcase_add_test(tr, redact_on_write);
	tcase_add_test(tr, redacted_matching);
	tcase_add_test(rp, replay_follows_transcript);
	tcase_add_test(rp, replay_deviation_diff);
	tcase_add_test(rp, replay_diff_never_shows_pin);
	tcase_add_test(rp, replay_length_diff_and_kind_mismatch);
	tcase_add_test(rp, replay_leftover_at_finish);
	tcase_add_test(rp, replay_leftover_at_power_off);
	tcase_add_test(rp, replay_transcript_ends_early);
	tcase_add_test(rp, replay_loose_power_extra_cycle);
	tcase_add_test(rp, replay_loose_power_skipped_cycle);
	tcase_add_test(rp, replay_loose_power_still_counts_leftovers);
	tcase_add_test(sp, spec_errors);
	tcase_add_test(sp, spec_replay_file_error_names_line);
	tcase_add_test(sp, recorder_replay_round_trip);
	tcase_add_test(vi, vicc_talks_to_good_card);
	tcase_add_test(vi, vicc_recorded_through_spec);
	tcase_add_test(vi, vicc_rejects_huge_atr);
	tcase_add_test(vi, vicc_rejects_long_atr);
	tcase_add_test(vi, vicc_rejects_short_response);
	tcase_add_test(vi, vicc_card_hangs_up);
	tcase_add_test(vi, vicc_silent_card_times_out);
	tcase_add_test(vi, vicc_no_card_times_out_then_accepts_one);
	tcase_add_test(vi, vicc_new_card_replaces_gone_one);
	tcase_add_test(vi, vicc_interrupt_ends_the_wait_for_a_peer);
	tcase_add_test(vi, vicc_port_in_use);
	suite_add_tcase(s, tr);
	suite_add_tcase(s, rp);
	suite_add_tcase(s, sp);
	suite_add_tcase(s, vi);
	tcase_add_test(vc, vcard_record_then_replay);
	tcase_add_test(vc, vcard_replay_detects_altered_byte);
	tcase_add_test(vc, vcard_spec_errors);
	suite_add_tcase(s, vc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(backends_suite());
	int failed;

	make_vcard_dir();
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	remove_vcard_dir();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
