/* test-jpki-ops.c — JPKI operations against an in-test scripted card.
 *
 * The scripted card is a list of expected command -> response pairs.  Any
 * command that differs from the next expected one (or comes after the end)
 * is a deviation: transmit() then answers ReaderError and the test fails on
 * script_done().  So each test pins the exact bytes on the wire. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <onshi/jpki-const.h>

#include "jpki-ops.h"

#define STEPS_MAX 64

struct step {
	uint8_t *cmd;  size_t clen;
	uint8_t *resp; size_t rlen;
	int transport_error;   /* non-zero: transmit() returns this instead */
};

struct script {
	struct step steps[STEPS_MAX];
	size_t n, next;
	bool deviated;
	char why[160];
	unsigned verify_with_data;  /* VERIFY commands carrying data seen */
	unsigned calls;
};

static size_t hex_into(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (*s) {
		if (*s == ' ') {
			s++;
			continue;
		}
		ck_assert_uint_lt(n, cap);
		char byte[3] = { s[0], s[1], 0 };

		out[n++] = (uint8_t)strtoul(byte, NULL, 16);
		s += 2;
	}
	return n;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

static void expect_bin(struct script *s, const uint8_t *cmd, size_t clen, const uint8_t *resp, size_t rlen)
{
	ck_assert_uint_lt(s->n, STEPS_MAX);
	s->steps[s->n].cmd = dup_bytes(cmd, clen);
	s->steps[s->n].clen = clen;
	s->steps[s->n].resp = dup_bytes(resp, rlen);
	s->steps[s->n].rlen = rlen;
	s->n++;
}

static void expect(struct script *s, const char *cmd_hex, const char *resp_hex)
{
	uint8_t c[300], r[300];

	expect_bin(s, c, hex_into(cmd_hex, c, sizeof(c)), r, hex_into(resp_hex, r, sizeof(r)));
}

/* Command given as hex, response = data || 90 00. */
static void expect_data(struct script *s, const char *cmd_hex, const uint8_t *data, size_t len)
{
	uint8_t c[300], *r = malloc(len + 2);

	ck_assert_ptr_nonnull(r);
	memcpy(r, data, len);
	r[len] = 0x90;
	r[len + 1] = 0x00;
	expect_bin(s, c, hex_into(cmd_hex, c, sizeof(c)), r, len + 2);
	free(r);
}

static void expect_transport_error(struct script *s, const char *cmd_hex, int error)
{
	expect(s, cmd_hex, "");
	s->steps[s->n - 1].transport_error = error;
}

static int scripted_transmit(void *ctx, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t *rlen)
{
	struct script *s = ctx;
	struct step *st;

	s->calls++;
	if (clen > 4 && capdu[1] == ISO_INS_VERIFY)
		s->verify_with_data++;
	if (s->deviated)
		return JPKI_ERR_READER;
	if (s->next >= s->n) {
		s->deviated = true;
		snprintf(s->why, sizeof(s->why), "unexpected command #%zu (script has %zu)", s->next, s->n);
		return JPKI_ERR_READER;
	}
	st = &s->steps[s->next];
	if (st->clen != clen || memcmp(st->cmd, capdu, clen) != 0) {
		s->deviated = true;
		snprintf(s->why, sizeof(s->why), "command #%zu differs (len %zu, want %zu; ins %02X)",
			 s->next, clen, st->clen, clen > 1 ? capdu[1] : 0);
		return JPKI_ERR_READER;
	}
	s->next++;
	if (st->transport_error)
		return st->transport_error;
	ck_assert_uint_le(st->rlen, *rlen);
	memcpy(rapdu, st->resp, st->rlen);
	*rlen = st->rlen;
	return JPKI_OK;
}

static void script_done(struct script *s)
{
	ck_assert_msg(!s->deviated, "card script deviation: %s", s->why);
	ck_assert_msg(s->next == s->n, "card script: %zu of %zu commands sent", s->next, s->n);
	for (size_t i = 0; i < s->n; i++) {
		free(s->steps[i].cmd);
		free(s->steps[i].resp);
	}
	memset(s, 0, sizeof(*s));
}

static struct script script;
static struct jpki_card *card;

static void setup(void)
{
	memset(&script, 0, sizeof(script));
	card = jpki_card_new(scripted_transmit, &script);
	ck_assert_ptr_nonnull(card);
}

static void teardown(void)
{
	jpki_card_free(card);
	card = NULL;
}

#define SELECT_JPKI "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"
#define SELECT_TEXT "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08"

/* A DER-shaped blob: 30 82 LL LL + deterministic content. */
static size_t make_cert(uint8_t *out, size_t total)
{
	size_t body = total - 4;

	out[0] = 0x30;
	out[1] = 0x82;
	out[2] = (uint8_t)(body >> 8);
	out[3] = (uint8_t)body;
	for (size_t i = 4; i < total; i++)
		out[i] = (uint8_t)(i * 7 + 3);
	return total;
}

/* Script for reading cert[0..total) after the SELECTs: header, then chunks. */
static void expect_chunked_reads(struct script *s, const uint8_t *cert, size_t total, size_t max_le)
{
	char cmd[32];

	expect_data(s, "00 B0 00 00 04", cert, 4);
	for (size_t off = 4; off < total;) {
		size_t n = total - off < max_le ? total - off : max_le;

		snprintf(cmd, sizeof(cmd), "00 B0 %02X %02X %02X", (unsigned)(off >> 8), (unsigned)(off & 0xFF),
			 (unsigned)(n & 0xFF));
		expect_data(s, cmd, cert + off, n);
		off += n;
	}
}

/* ---- certificates ---- */

START_TEST(cert_read_in_256_byte_chunks)
{
	uint8_t cert[1504], out[4096];
	size_t len = 0;

	make_cert(cert, sizeof(cert));  /* 1.5 KiB: 5 x 256 + 220 after the header */
	expect(&script, SELECT_JPKI, "90 00");
	expect(&script, "00 A4 02 0C 02 00 0A", "90 00");
	expect_chunked_reads(&script, cert, sizeof(cert), 256);
	ck_assert_uint_eq(script.n, 2 + 1 + 6);
	ck_assert_int_eq(jpki_read_certificate(card, JPKI_CERT_AUTH, 0, false, out, sizeof(out), &len), JPKI_OK);
	ck_assert_uint_eq(len, sizeof(cert));
	ck_assert_mem_eq(out, cert, sizeof(cert));
	script_done(&script);
}
END_TEST

START_TEST(cert_read_with_smaller_max_le)
{
	uint8_t cert[700], out[700];
	size_t len = 0;

	make_cert(cert, sizeof(cert));
	expect(&script, SELECT_JPKI, "90 00");
	expect(&script, "00 A4 02 0C 02 00 02", "90 00");
	expect_chunked_reads(&script, cert, sizeof(cert), 200);
	/* cap == total exactly is enough */
	ck_assert_int_eq(jpki_read_certificate(card, JPKI_CERT_SIGN_CA, 200, false, out, sizeof(out), &len), JPKI_OK);
	ck_assert_mem_eq(out, cert, sizeof(cert));
	script_done(&script);
}
END_TEST

START_TEST(cert_read_extended)
{
	uint8_t cert[1504], out[4096];
	size_t len = 0;

	make_cert(cert, sizeof(cert));
	expect(&script, SELECT_JPKI, "90 00");
	expect(&script, "00 A4 02 0C 02 00 0B", "90 00");
	expect_data(&script, "00 B0 00 00 04", cert, 4);
	expect_data(&script, "00 B0 00 04 00 05 DC", cert + 4, 1500);
	ck_assert_int_eq(jpki_read_certificate(card, JPKI_CERT_AUTH_CA, 256, true, out, sizeof(out), &len), JPKI_OK);
	ck_assert_uint_eq(len, 1504);
	ck_assert_mem_eq(out, cert, sizeof(cert));
	script_done(&script);
}
END_TEST

START_TEST(cert_read_handles_6Cxx_and_61xx)
{
	uint8_t cert[300], out[300], resp[200];
	size_t len = 0;

	make_cert(cert, sizeof(cert));
	expect(&script, SELECT_JPKI, "90 00");
	expect(&script, "00 A4 02 0C 02 00 0A", "90 00");
	/* header via GET RESPONSE */
	expect(&script, "00 B0 00 00 04", "61 04");
	expect_data(&script, "00 C0 00 00 04", cert, 4);
	/* card wants Le 80: resend, then continue after the 128 bytes it gave */
	expect(&script, "00 B0 00 04 00", "6C 80");
	expect_data(&script, "00 B0 00 04 80", cert + 4, 128);
	/* rest arrives in two GET RESPONSE rounds */
	memcpy(resp, cert + 132, 100);
	resp[100] = 0x61;
	resp[101] = 68;
	expect_bin(&script, (const uint8_t[]){ 0x00, 0xB0, 0x00, 0x84, 0xA8 }, 5, resp, 102);
	expect_data(&script, "00 C0 00 00 44", cert + 232, 68);
	ck_assert_int_eq(jpki_read_certificate(card, JPKI_CERT_AUTH, 256, false, out, sizeof(out), &len), JPKI_OK);
	ck_assert_uint_eq(len, 300);
	ck_assert_mem_eq(out, cert, 300);
	script_done(&script);
}
END_TEST

START_TEST(cert_read_long_header_form)
{
	/* 30 83 00 01 00: the 5th header byte is fetched separately. */
	uint8_t cert[256 + 5], out[512];
	size_t len = 0;

	cert[0] = 0x30; cert[1] = 0x83; cert[2] = 0x00; cert[3] = 0x01; cert[4] = 0x00;
	for (size_t i = 5; i < sizeof(cert); i++)
		cert[i] = (uint8_t)i;
	expect(&script, SELECT_JPKI, "90 00");
	expect(&script, "00 A4 02 0C 02 00 0A", "90 00");
	expect_data(&script, "00 B0 00 00 04", cert, 4);
	expect_data(&script, "00 B0 00 04 01", cert + 4, 1);
	expect_data(&script, "00 B0 00 05 00", cert + 5, 256);
	ck_assert_int_eq(jpki_read_certificate(card, JPKI_CERT_AUTH, 0, false, out, sizeof(out), &len), JPKI_OK);
	ck_assert_uint_eq(len, sizeof(cert));
	ck_assert_mem_eq(out, cert, sizeof(cert));
	script_done(&script);
}
END_TEST

START_TEST(cert_errors_from_status_words)
{
	uint8_t out[2048];
	size_t len = 0;

	/* Sign cert without the password: 6982 on READ. */
	expect(&script, SELECT_JPKI, "90 00");
	expect(&script, "00 A4 02 0C 02 00 01", "90 00");
	expect(&script, "00 B0 00 00 04", "69 82");
	ck_assert_int_eq(jpki_read_certificate(card, JPKI_CERT_SIGN, 0, false, out, sizeof(out), &len),
			 JPKI_ERR_NOT_AUTHORIZED);
	/* No sign cert on this card (the AP stays selected: no second SELECT). */
	expect(&script, "00 A4 02 0C 02 00 01", "6A 82");
	ck_assert_int_eq(jpki_read_certificate(card, JPKI_CERT_SIGN, 0, false, out, sizeof(out), &len),
			 JPKI_ERR_NOT_FOUND);
	script_done(&script);
	ck_assert_str_eq(jpki_result_name(JPKI_ERR_NOT_AUTHORIZED), "NotAuthorized");
}
END_TEST

START_TEST(not_a_my_number_card)
{
	uint8_t out[64];
	size_t len = 0;
	enum jpki_card_type type;

	expect(&script, SELECT_JPKI, "6A 82");
	ck_assert_int_eq(jpki_read_certificate(card, JPKI_CERT_AUTH, 0, false, out, sizeof(out), &len),
			 JPKI_ERR_UNSUPPORTED_CARD);
	expect(&script, SELECT_JPKI, "6A 86");
	ck_assert_int_eq(jpki_read_card_type(card, &type), JPKI_ERR_UNSUPPORTED_CARD);
	script_done(&script);
	ck_assert_str_eq(jpki_result_name(JPKI_ERR_UNSUPPORTED_CARD), "UnsupportedCard");
}
END_TEST

/* One garbage answer to the header READ; the operation must fail cleanly and
 * send nothing more. */
static void garbage_header(const char *resp_hex, enum jpki_result want)
{
	uint8_t out[4096];
	size_t len = 12345;

	teardown();  /* a fresh card per case; the fixture frees the last one */
	setup();
	expect(&script, SELECT_JPKI, "90 00");
	expect(&script, "00 A4 02 0C 02 00 0A", "90 00");
	expect(&script, "00 B0 00 00 04", resp_hex);
	ck_assert_int_eq(jpki_read_certificate(card, JPKI_CERT_AUTH, 0, false, out, sizeof(out), &len), want);
	ck_assert_uint_eq(len, 0);
	script_done(&script);
}

START_TEST(cert_garbage_responses)
{
	garbage_header("90", JPKI_ERR_CARD_PROTOCOL);                       /* 1 byte */
	garbage_header("", JPKI_ERR_CARD_PROTOCOL);                         /* nothing */
	garbage_header("30 82 06 1F", JPKI_ERR_CARD_PROTOCOL);              /* data, no SW: 061F is read as SW */
	garbage_header("30 84 7F FF FF FF 90 00", JPKI_ERR_CARD_PROTOCOL);  /* more than asked */
	garbage_header("30 80 00 00 90 00", JPKI_ERR_CARD_PROTOCOL);        /* indefinite */
	garbage_header("04 82 06 1F 90 00", JPKI_ERR_CARD_PROTOCOL);        /* not a SEQUENCE */
	garbage_header("30 82 FF FF 90 00", JPKI_ERR_CARD_PROTOCOL);        /* > 64 KiB */
	garbage_header("30 00 00 00 90 00", JPKI_ERR_CARD_PROTOCOL);        /* total 2 < 4 read */
	garbage_header("69 85", JPKI_ERR_CARD_PROTOCOL);                    /* unexpected SW */
}
END_TEST

START_TEST(cert_huge_length_header_stops)
{
	/* 30 83 7F FF FF: 8 MiB claimed.  One extra header byte is fetched,
	 * then the read stops without asking for the body. */
	uint8_t out[4096];
	size_t len = 0;

	expect(&script, SELECT_JPKI, "90 00");
	expect(&script, "00 A4 02 0C 02 00 0A", "90 00");
	expect(&script, "00 B0 00 00 04", "30 83 7F FF 90 00");
	expect(&script, "00 B0 00 04 01", "FF 90 00");
	ck_assert_int_eq(jpki_read_certificate(card, JPKI_CERT_AUTH, 0, false, out, sizeof(out), &len),
			 JPKI_ERR_CARD_PROTOCOL);
	script_done(&script);
}
END_TEST

START_TEST(cert_body_errors)
{
	uint8_t cert[600], out[4096];
	size_t len = 0;

	make_cert(cert, sizeof(cert));
	/* EF shorter than its header says: 6B00 at the second chunk. */
	expect(&script, SELECT_JPKI, "90 00");
	expect(&script, "00 A4 02 0C 02 00 0A", "90 00");
	expect_data(&script, "00 B0 00 00 04", cert, 4);
	expect_data(&script, "00 B0 00 04 00", cert + 4, 256);
	expect(&script, "00 B0 01 04 00", "6B 00");
	ck_assert_int_eq(jpki_read_certificate(card, JPKI_CERT_AUTH, 0, false, out, sizeof(out), &len),
			 JPKI_ERR_CARD_PROTOCOL);
	/* 9000 with no data would loop forever: refused. */
	expect(&script, "00 A4 02 0C 02 00 0A", "90 00");
	expect_data(&script, "00 B0 00 00 04", cert, 4);
	expect(&script, "00 B0 00 04 00", "90 00");
	ck_assert_int_eq(jpki_read_certificate(card, JPKI_CERT_AUTH, 0, false, out, sizeof(out), &len),
			 JPKI_ERR_CARD_PROTOCOL);
	/* Output buffer too small: stop after the header. */
	expect(&script, "00 A4 02 0C 02 00 0A", "90 00");
	expect_data(&script, "00 B0 00 00 04", cert, 4);
	ck_assert_int_eq(jpki_read_certificate(card, JPKI_CERT_AUTH, 0, false, out, 599, &len),
			 JPKI_ERR_BUFFER_TOO_SMALL);
	/* Extended answer longer than asked. */
	expect(&script, "00 A4 02 0C 02 00 0A", "90 00");
	expect_data(&script, "00 B0 00 00 04", cert, 4);
	expect_data(&script, "00 B0 00 04 00 02 54", cert, 597);
	ck_assert_int_eq(jpki_read_certificate(card, JPKI_CERT_AUTH, 0, true, out, sizeof(out), &len),
			 JPKI_ERR_CARD_PROTOCOL);
	script_done(&script);
}
END_TEST

START_TEST(card_removed_forgets_selection)
{
	uint8_t out[64];
	size_t len = 0;
	struct jpki_pin_status st;

	expect(&script, SELECT_JPKI, "90 00");
	expect_transport_error(&script, "00 A4 02 0C 02 00 0A", JPKI_ERR_CARD_REMOVED);
	ck_assert_int_eq(jpki_read_certificate(card, JPKI_CERT_AUTH, 0, false, out, sizeof(out), &len),
			 JPKI_ERR_CARD_REMOVED);
	/* The next operation selects the AP again. */
	expect(&script, SELECT_JPKI, "90 00");
	expect(&script, "00 A4 02 0C 02 00 18", "90 00");
	expect_transport_error(&script, "00 20 00 80", 99 /* unknown code -> ReaderError */);
	ck_assert_int_eq(jpki_pin_status(card, JPKI_KEY_AUTH, &st), JPKI_ERR_READER);
	script_done(&script);
}
END_TEST

START_TEST(card_type_from_token_info)
{
	uint8_t label[32];
	enum jpki_card_type type = JPKI_CARD_OTHER;

	memset(label, ' ', sizeof(label));
	memcpy(label, "JPKIAPICCTOKEN2", 15);
	expect(&script, SELECT_JPKI, "90 00");
	expect(&script, "00 A4 02 0C 02 00 06", "90 00");
	expect_data(&script, "00 B0 00 00 20", label, sizeof(label));
	ck_assert_int_eq(jpki_read_card_type(card, &type), JPKI_OK);
	ck_assert_int_eq(type, JPKI_CARD_MYNUMBER);
	script_done(&script);
}
END_TEST

/* ---- PIN status and VERIFY ---- */

static enum jpki_result status_of(enum jpki_key key, const char *ef_select, const char *resp,
				  struct jpki_pin_status *st)
{
	expect(&script, key == JPKI_KEY_CARD_INFO ? SELECT_TEXT : SELECT_JPKI, "90 00");
	expect(&script, ef_select, "90 00");
	expect(&script, "00 20 00 80", resp);
	enum jpki_result rc = jpki_pin_status(card, key, st);

	jpki_card_forget_selection(card);
	return rc;
}

START_TEST(pin_status_answers)
{
	struct jpki_pin_status st;

	ck_assert_int_eq(status_of(JPKI_KEY_AUTH, "00 A4 02 0C 02 00 18", "63 C3", &st), JPKI_OK);
	ck_assert_int_eq(st.state, JPKI_PIN_TRIES);
	ck_assert_int_eq(st.tries_left, 3);
	ck_assert_int_eq(status_of(JPKI_KEY_SIGN, "00 A4 02 0C 02 00 1B", "90 00", &st), JPKI_OK);
	ck_assert_int_eq(st.state, JPKI_PIN_VERIFIED_OR_UNKNOWN);
	ck_assert_int_eq(st.tries_left, -1);
	ck_assert_int_eq(status_of(JPKI_KEY_AUTH, "00 A4 02 0C 02 00 18", "69 84", &st), JPKI_OK);
	ck_assert_int_eq(st.state, JPKI_PIN_BLOCKED);
	ck_assert_int_eq(status_of(JPKI_KEY_CARD_INFO, "00 A4 02 0C 02 00 11", "63 C0", &st), JPKI_OK);
	ck_assert_int_eq(st.state, JPKI_PIN_BLOCKED);
	ck_assert_int_eq(status_of(JPKI_KEY_SIGN, "00 A4 02 0C 02 00 1B", "63 00", &st), JPKI_OK);
	ck_assert_int_eq(st.state, JPKI_PIN_VERIFIED_OR_UNKNOWN);
	ck_assert_int_eq(status_of(JPKI_KEY_AUTH, "00 A4 02 0C 02 00 18", "6F 00", &st), JPKI_ERR_CARD_PROTOCOL);
	ck_assert_int_eq(status_of(JPKI_KEY_AUTH, "00 A4 02 0C 02 00 18", "63", &st), JPKI_ERR_CARD_PROTOCOL);
	/* The status query never carries data, so it can never consume a try. */
	ck_assert_uint_eq(script.verify_with_data, 0);
	script_done(&script);
}
END_TEST

static void expect_verify_prelude(const char *status_resp)
{
	expect(&script, SELECT_JPKI, "90 00");
	expect(&script, "00 A4 02 0C 02 00 18", "90 00");
	expect(&script, "00 20 00 80", status_resp);
}

START_TEST(verify_correct_and_incorrect)
{
	int tries = 99;

	expect_verify_prelude("63 C3");
	expect(&script, "00 20 00 80 04 31 32 33 34", "90 00");
	ck_assert_int_eq(jpki_verify(card, JPKI_KEY_AUTH, (const uint8_t *)"1234", 4, false, &tries), JPKI_OK);
	jpki_card_forget_selection(card);

	expect_verify_prelude("63 C3");
	expect(&script, "00 20 00 80 04 30 30 30 30", "63 C2");
	ck_assert_int_eq(jpki_verify(card, JPKI_KEY_AUTH, (const uint8_t *)"0000", 4, false, &tries),
			 JPKI_ERR_PIN_INCORRECT);
	ck_assert_int_eq(tries, 2);
	jpki_card_forget_selection(card);

	/* Count unknown (already verified this session): VERIFY is still sent. */
	expect_verify_prelude("90 00");
	expect(&script, "00 20 00 80 04 31 32 33 34", "90 00");
	ck_assert_int_eq(jpki_verify(card, JPKI_KEY_AUTH, (const uint8_t *)"1234", 4, false, &tries), JPKI_OK);
	jpki_card_forget_selection(card);

	/* The attempt that exhausts the counter reports PinBlocked. */
	expect_verify_prelude("63 C2");
	expect(&script, "00 20 00 80 04 30 30 30 30", "63 C0");
	ck_assert_int_eq(jpki_verify(card, JPKI_KEY_AUTH, (const uint8_t *)"0000", 4, false, &tries),
			 JPKI_ERR_PIN_BLOCKED);
	ck_assert_int_eq(tries, 0);
	script_done(&script);
	ck_assert_str_eq(jpki_result_name(JPKI_ERR_PIN_INCORRECT), "PinIncorrect");
}
END_TEST

START_TEST(verify_blocked_sends_no_pin)
{
	int tries = 99;

	expect_verify_prelude("69 84");
	ck_assert_int_eq(jpki_verify(card, JPKI_KEY_AUTH, (const uint8_t *)"1234", 4, true, &tries),
			 JPKI_ERR_PIN_BLOCKED);
	ck_assert_int_eq(tries, 0);
	ck_assert_uint_eq(script.verify_with_data, 0);
	script_done(&script);
	ck_assert_str_eq(jpki_result_name(JPKI_ERR_PIN_BLOCKED), "PinBlocked");
}
END_TEST

START_TEST(verify_last_try_refused)
{
	int tries = 99;

	expect_verify_prelude("63 C1");
	ck_assert_int_eq(jpki_verify(card, JPKI_KEY_AUTH, (const uint8_t *)"1234", 4, false, &tries),
			 JPKI_ERR_LAST_TRY_REFUSED);
	ck_assert_int_eq(tries, 1);
	/* The script saw only the empty VERIFY. */
	ck_assert_uint_eq(script.calls, 3);
	ck_assert_uint_eq(script.verify_with_data, 0);
	script_done(&script);
	ck_assert_str_eq(jpki_result_name(JPKI_ERR_LAST_TRY_REFUSED), "LastTryRefused");

	/* With permission the last try is used. */
	jpki_card_forget_selection(card);
	expect_verify_prelude("63 C1");
	expect(&script, "00 20 00 80 04 31 32 33 34", "90 00");
	ck_assert_int_eq(jpki_verify(card, JPKI_KEY_AUTH, (const uint8_t *)"1234", 4, true, &tries), JPKI_OK);
	ck_assert_uint_eq(script.verify_with_data, 1);
	script_done(&script);
}
END_TEST

START_TEST(sign_password_upper_cased_on_wire)
{
	int tries = 0;

	expect(&script, SELECT_JPKI, "90 00");
	expect(&script, "00 A4 02 0C 02 00 1B", "90 00");
	expect(&script, "00 20 00 80", "63 C5");
	/* "abc123xyz" -> 41 42 43 31 32 33 58 59 5A */
	expect(&script, "00 20 00 80 09 41 42 43 31 32 33 58 59 5A", "90 00");
	ck_assert_int_eq(jpki_verify(card, JPKI_KEY_SIGN, (const uint8_t *)"abc123xyz", 9, false, &tries), JPKI_OK);
	script_done(&script);
}
END_TEST

START_TEST(card_info_pin_uses_text_ap)
{
	int tries = 0;

	expect(&script, SELECT_TEXT, "90 00");
	expect(&script, "00 A4 02 0C 02 00 11", "90 00");
	expect(&script, "00 20 00 80", "63 C3");
	expect(&script, "00 20 00 80 04 35 36 37 38", "90 00");
	ck_assert_int_eq(jpki_verify(card, JPKI_KEY_CARD_INFO, (const uint8_t *)"5678", 4, false, &tries), JPKI_OK);
	script_done(&script);
}
END_TEST

START_TEST(bad_pin_format_never_reaches_card)
{
	static const struct { enum jpki_key key; const char *pin; } bad[] = {
		{ JPKI_KEY_AUTH, "" }, { JPKI_KEY_AUTH, "123" }, { JPKI_KEY_AUTH, "12345" },
		{ JPKI_KEY_AUTH, "12a4" }, { JPKI_KEY_AUTH, "12 4" }, { JPKI_KEY_AUTH, "\xef\xbc\x91" "23" },
		{ JPKI_KEY_SIGN, "abc12" }, { JPKI_KEY_SIGN, "ABCDEFGHIJ1234567" }, { JPKI_KEY_SIGN, "abc-123" },
		{ JPKI_KEY_SIGN, "ABC 123" }, { JPKI_KEY_SIGN, "\xef\xbd\x81\xef\xbd\x82" "1234" },
		{ JPKI_KEY_CARD_INFO, "abcd" }, { JPKI_KEY_CARD_INFO, "12345" },
	};
	int tries = 99;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(jpki_verify(card, bad[i].key, (const uint8_t *)bad[i].pin, strlen(bad[i].pin),
					  true, &tries) == JPKI_ERR_PIN_FORMAT, "case %zu accepted", i);
		ck_assert_int_eq(tries, -1);
	}
	/* An embedded NUL is not a digit either. */
	ck_assert_int_eq(jpki_verify(card, JPKI_KEY_AUTH, (const uint8_t *)"12\0" "4", 4, true, &tries),
			 JPKI_ERR_PIN_FORMAT);
	ck_assert_int_eq(jpki_verify(card, JPKI_KEY_AUTH, NULL, 4, true, &tries), JPKI_ERR_PIN_FORMAT);
	ck_assert_uint_eq(script.calls, 0);
	/* Boundaries that are valid. */
	ck_assert_int_eq(jpki_pin_format_check(JPKI_KEY_SIGN, (const uint8_t *)"a1b2c3", 6), JPKI_OK);
	ck_assert_int_eq(jpki_pin_format_check(JPKI_KEY_SIGN, (const uint8_t *)"ABCDEFGHIJ123456", 16), JPKI_OK);
	ck_assert_int_eq(jpki_pin_format_check(JPKI_KEY_AUTH, (const uint8_t *)"0000", 4), JPKI_OK);
	script_done(&script);
}
END_TEST

/* ---- trace redaction ---- */

struct trace_log {
	uint8_t bytes[16384];
	size_t len;
	unsigned events, redacted_commands, redacted_responses;
};

static void trace_collect(void *ctx, const struct jpki_trace_event *ev)
{
	struct trace_log *t = ctx;

	t->events++;
	t->redacted_commands += ev->command_redacted;
	t->redacted_responses += ev->response_redacted;
	if (ev->command_redacted)
		ck_assert_uint_eq(ev->command_len, 4);
	ck_assert_uint_le(t->len + ev->command_len + ev->response_len, sizeof(t->bytes));
	memcpy(t->bytes + t->len, ev->command, ev->command_len);
	t->len += ev->command_len;
	if (ev->response_len) {
		memcpy(t->bytes + t->len, ev->response, ev->response_len);
		t->len += ev->response_len;
	}
}

START_TEST(trace_never_sees_pin_or_sign_cert)
{
	static struct trace_log log;
	uint8_t cert[600], out[1024];
	size_t len = 0;
	int tries;

	memset(&log, 0, sizeof(log));
	jpki_card_set_trace(card, trace_collect, &log);
	expect(&script, SELECT_JPKI, "90 00");
	expect(&script, "00 A4 02 0C 02 00 1B", "90 00");
	expect(&script, "00 20 00 80", "63 C5");
	expect(&script, "00 20 00 80 08 51 5A 37 57 50 4B 33 38", "63 C4");  /* wrong: QZ7WPK38 */
	ck_assert_int_eq(jpki_verify(card, JPKI_KEY_SIGN, (const uint8_t *)"qz7wpk38", 8, false, &tries),
			 JPKI_ERR_PIN_INCORRECT);
	ck_assert_int_eq(tries, 4);
	expect(&script, "00 A4 02 0C 02 00 1B", "90 00");
	expect(&script, "00 20 00 80", "63 C4");
	expect(&script, "00 20 00 80 08 51 5A 37 57 50 4B 33 39", "90 00");  /* right: QZ7WPK39 */
	ck_assert_int_eq(jpki_verify(card, JPKI_KEY_SIGN, (const uint8_t *)"QZ7WPK39", 8, false, &tries), JPKI_OK);
	/* then the sign cert, in the same session (no re-SELECT of the AP) */
	make_cert(cert, sizeof(cert));
	memcpy(cert + 100, "YAMADA TARO", 11);
	expect(&script, "00 A4 02 0C 02 00 01", "90 00");
	expect_chunked_reads(&script, cert, sizeof(cert), 256);
	ck_assert_int_eq(jpki_read_certificate(card, JPKI_CERT_SIGN, 0, false, out, sizeof(out), &len), JPKI_OK);
	ck_assert_mem_eq(out, cert, sizeof(cert));
	script_done(&script);

	ck_assert_uint_eq(log.events, 8 + 4);
	ck_assert_uint_eq(log.redacted_commands, 2);
	ck_assert_uint_eq(log.redacted_responses, 4);
	ck_assert_ptr_null(memmem(log.bytes, log.len, "QZ7WPK3", 7));
	ck_assert_ptr_null(memmem(log.bytes, log.len, "qz7wpk3", 7));
	ck_assert_ptr_null(memmem(log.bytes, log.len, "YAMADA", 6));
	/* Sanity: the trace does hold the (non-secret) SELECT bytes. */
	ck_assert_ptr_nonnull(memmem(log.bytes, log.len, "\x00\xA4\x02\x0C\x02\x00\x1B", 7));
}
END_TEST

/* ---- signing, checked against OpenSSL's own PKCS#1 encoding ---- */

static EVP_PKEY *test_key(void)
{
	static EVP_PKEY *key;

	if (!key)
		key = EVP_RSA_gen(2048);
	ck_assert_ptr_nonnull(key);
	return key;
}

/* OpenSSL signs msg; the DigestInfo it embedded is recovered with the public
 * key, so the expected command does not come from our own constants. */
static void openssl_sign(const EVP_MD *md, const char *msg, uint8_t digest[64], size_t *dlen,
			 uint8_t sig[256], uint8_t di[256], size_t *di_len)
{
	EVP_PKEY *key = test_key();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key, NULL);
	size_t sig_len = 256;
	unsigned int dl = 0;

	ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, md, NULL, key), 1);
	ck_assert_int_eq(EVP_DigestSign(ctx, sig, &sig_len, (const uint8_t *)msg, strlen(msg)), 1);
	ck_assert_uint_eq(sig_len, 256);
	ck_assert_int_eq(EVP_Digest(msg, strlen(msg), digest, &dl, md, NULL), 1);
	*dlen = dl;
	*di_len = 256; /* OpenSSL wants room for a whole RSA block */
	ck_assert_int_eq(EVP_PKEY_verify_recover_init(pctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING), 1);
	ck_assert_int_eq(EVP_PKEY_verify_recover(pctx, di, di_len, sig, sig_len), 1);
	EVP_PKEY_CTX_free(pctx);
	EVP_MD_CTX_free(ctx);
}

static void expect_sign_command(const uint8_t *di, size_t di_len, const uint8_t *sig, size_t sig_len)
{
	uint8_t cmd[200];

	cmd[0] = 0x80; cmd[1] = 0x2A; cmd[2] = 0x00; cmd[3] = 0x80; cmd[4] = (uint8_t)di_len;
	memcpy(cmd + 5, di, di_len);
	cmd[5 + di_len] = 0x00;
	uint8_t *resp = malloc(sig_len + 2);

	memcpy(resp, sig, sig_len);
	resp[sig_len] = 0x90;
	resp[sig_len + 1] = 0x00;
	expect_bin(&script, cmd, di_len + 6, resp, sig_len + 2);
	free(resp);
}

START_TEST(sign_after_verify_all_hashes)
{
	static const struct { enum jpki_hash h; const char *name; } hashes[] = {
		{ JPKI_HASH_SHA256, "SHA256" }, { JPKI_HASH_SHA384, "SHA384" }, { JPKI_HASH_SHA512, "SHA512" },
	};
	int tries;

	expect_verify_prelude("63 C3");
	expect(&script, "00 20 00 80 04 31 32 33 34", "90 00");
	ck_assert_int_eq(jpki_verify(card, JPKI_KEY_AUTH, (const uint8_t *)"1234", 4, false, &tries), JPKI_OK);
	for (size_t i = 0; i < 3; i++) {
		uint8_t digest[64], sig[256], di[256], out[300];
		size_t dlen, di_len, sig_len = 0;

		openssl_sign(EVP_get_digestbyname(hashes[i].name), "challenge from the server", digest, &dlen,
			     sig, di, &di_len);
		ck_assert_uint_eq(di_len, 19 + dlen);
		/* No SELECT of the AP: that would drop the verified state. */
		expect(&script, "00 A4 02 0C 02 00 17", "90 00");
		expect_sign_command(di, di_len, sig, 256);
		ck_assert_int_eq(jpki_sign(card, JPKI_KEY_AUTH, hashes[i].h, digest, dlen, out, sizeof(out), &sig_len),
				 JPKI_OK);
		ck_assert_uint_eq(sig_len, 256);
		ck_assert_mem_eq(out, sig, 256);
	}
	script_done(&script);
}
END_TEST

START_TEST(sign_errors)
{
	uint8_t digest[32] = { 0 }, out[256], di[51];
	size_t sig_len = 7;

	/* Argument errors: nothing is sent. */
	ck_assert_int_eq(jpki_sign(card, JPKI_KEY_AUTH, JPKI_HASH_SHA256, digest, 31, out, sizeof(out), &sig_len),
			 JPKI_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(jpki_sign(card, JPKI_KEY_CARD_INFO, JPKI_HASH_SHA256, digest, 32, out, sizeof(out), &sig_len),
			 JPKI_ERR_INVALID_ARGUMENT);
	ck_assert_int_eq(jpki_sign(card, JPKI_KEY_SIGN, JPKI_HASH_SHA256, digest, 32, out, 255, &sig_len),
			 JPKI_ERR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(script.calls, 0);

	/* Not verified: 6982. */
	ck_assert_uint_eq(jpki_digest_info(JPKI_HASH_SHA256, digest, 32, di, sizeof(di)), 51);
	expect(&script, SELECT_JPKI, "90 00");
	expect(&script, "00 A4 02 0C 02 00 1A", "90 00");
	expect_sign_command(di, 51, (const uint8_t *)"", 0);
	script.steps[script.n - 1].resp[0] = 0x69;
	script.steps[script.n - 1].resp[1] = 0x82;
	ck_assert_int_eq(jpki_sign(card, JPKI_KEY_SIGN, JPKI_HASH_SHA256, digest, 32, out, sizeof(out), &sig_len),
			 JPKI_ERR_NOT_AUTHORIZED);
	ck_assert_uint_eq(sig_len, 0);
	/* 255-byte signature is not an RSA-2048 signature. */
	expect(&script, "00 A4 02 0C 02 00 1A", "90 00");
	expect_sign_command(di, 51, out, 255);
	ck_assert_int_eq(jpki_sign(card, JPKI_KEY_SIGN, JPKI_HASH_SHA256, digest, 32, out, sizeof(out), &sig_len),
			 JPKI_ERR_CARD_PROTOCOL);
	script_done(&script);
}
END_TEST

START_TEST(names_round_trip)
{
	enum jpki_cert c;
	enum jpki_key k;

	ck_assert_int_eq(jpki_cert_from_name("auth-ca", &c), 0);
	ck_assert_int_eq(c, JPKI_CERT_AUTH_CA);
	ck_assert_str_eq(jpki_cert_name(JPKI_CERT_SIGN_CA), "sign-ca");
	ck_assert_int_eq(jpki_cert_from_name("AUTH", &c), -1);
	ck_assert_int_eq(jpki_key_from_name("card-info", &k), 0);
	ck_assert_int_eq(k, JPKI_KEY_CARD_INFO);
	ck_assert_int_eq(jpki_key_from_name("pin", &k), -1);
	ck_assert_str_eq(jpki_result_name(JPKI_ERR_NO_CARD), "NoCard");
	ck_assert_str_eq(jpki_result_name(JPKI_ERR_CARD_REMOVED), "CardRemoved");
	ck_assert_str_eq(jpki_result_name(JPKI_ERR_READER), "ReaderError");
	ck_assert_str_eq(jpki_result_name(JPKI_ERR_PIN_FORMAT), "InvalidPinFormat");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jpki-ops");
	TCase *cert = tcase_create("certificates"), *pin = tcase_create("pin"), *sig = tcase_create("sign");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(cert, setup, teardown);
	tcase_add_checked_fixture(pin, setup, teardown);
	tcase_add_checked_fixture(sig, setup, teardown);
	tcase_add_test(cert, cert_read_in_256_byte_chunks);
	tcase_add_test(cert, cert_read_with_smaller_max_le);
	tcase_add_test(cert, cert_read_extended);
	tcase_add_test(cert, cert_read_handles_6Cxx_and_61xx);
	tcase_add_test(cert, cert_read_long_header_form);
	tcase_add_test(cert, cert_errors_from_status_words);
	tcase_add_test(cert, not_a_my_number_card);
	tcase_add_test(cert, cert_garbage_responses);
	tcase_add_test(cert, cert_huge_length_header_stops);
	tcase_add_test(cert, cert_body_errors);
	tcase_add_test(cert, card_removed_forgets_selection);
	tcase_add_test(cert, card_type_from_token_info);
	tcase_add_test(pin, pin_status_answers);
	tcase_add_test(pin, verify_correct_and_incorrect);
	tcase_add_test(pin, verify_blocked_sends_no_pin);
	tcase_add_test(pin, verify_last_try_refused);
	tcase_add_test(pin, sign_password_upper_cased_on_wire);
	tcase_add_test(pin, card_info_pin_uses_text_ap);
	tcase_add_test(pin, bad_pin_format_never_reaches_card);
	tcase_add_test(pin, trace_never_sees_pin_or_sign_cert);
	tcase_add_test(sig, sign_after_verify_all_hashes);
	tcase_add_test(sig, sign_errors);
	tcase_add_test(sig, names_round_trip);
	tcase_set_timeout(sig, 30);
	suite_add_tcase(s, cert);
	suite_add_tcase(s, pin);
	suite_add_tcase(s, sig);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
