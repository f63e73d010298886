/* test-vcard.c — Check tests of the virtual My Number card.
 *
 * main() makes two card directories with mkcard.sh ($ONSHI_TOP_SRCDIR) in a
 * temporary directory: a full card with the default options, and one made
 * with --no-sign-cert --foreign-ca --auth-pin 4321.
 * Each test loads a fresh card from them, drives it with raw APDUs and
 * checks bytes and status words against the files mkcard.sh wrote.
 */
#include "vcard/vcard.h"
#include "vcard/vcard-card.h"

#include <onshi/jpki-const.h>

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static char tmp_root[256];
static char card_dir[256], other_dir[256];

/* ---- helpers ------------------------------------------------------------ */

static uint8_t resp[EMU_RAPDU_MAX];
static size_t resp_len;         /* data bytes in resp (without SW) */

static size_t unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;
	while (*s) {
		if (*s == ' ') {
			s++;
			continue;
		}
		unsigned v;
		ck_assert_msg(sscanf(s, "%2x", &v) == 1, "bad hex in test: %s", s);
		ck_assert_uint_lt(n, max);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

/* Sends raw bytes; returns SW, leaves the data in resp/resp_len. */
static uint16_t send_raw(vcard *card, const uint8_t *capdu, size_t len)
{
	size_t n = vcard_process(card, capdu, len, resp);
	ck_assert_uint_ge(n, 2);
	resp_len = n - 2;
	return (uint16_t)(resp[n - 2] << 8 | resp[n - 1]);
}

static uint16_t send_hex(vcard *card, const char *hex)
{
	uint8_t capdu[600];
	return send_raw(card, capdu, unhex(hex, capdu, sizeof capdu));
}

/* Sends header ‖ Lc ‖ data (short case 3) built from text. */
static uint16_t send_with_text(vcard *card, const char *header_hex, const char *text)
{
	uint8_t capdu[300];
	size_t n = unhex(header_hex, capdu, 4);
	size_t len = strlen(text);
	capdu[n++] = (uint8_t)len;
	memcpy(capdu + n, text, len);
	return send_raw(card, capdu, n + len);
}

static uint8_t *read_file(const char *dir, const char *name, size_t *len)
{
	char *path;
	ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	uint8_t *data = malloc(70000);
	*len = fread(data, 1, 70000, f);
	fclose(f);
	free(path);
	return data;
}

/* The value of KEY in card.conf (the tests know the PINs this way). */
static char *conf_value(const char *dir, const char *key)
{
	size_t len;
	char *conf = (char *)read_file(dir, "card.conf", &len);
	ck_assert_uint_lt(len, 70000);
	conf[len] = '\0';
	char *pattern;
	ck_assert_int_ge(asprintf(&pattern, "\n%s=", key), 0);
	char *at = strstr(conf, pattern);
	ck_assert_msg(at != NULL, "card.conf has no %s", key);
	at += strlen(pattern);
	char *value = strndup(at, strcspn(at, "\n"));
	free(pattern);
	free(conf);
	return value;
}

static vcard *load(const char *dir)
{
	char *error = NULL;
	vcard *card = vcard_load(dir, &error);
	ck_assert_msg(card != NULL, "vcard_load: %s", error ? error : "?");
	uint8_t atr[VCARD_ATR_MAX];
	size_t atr_len;
	vcard_power_on(card, atr, &atr_len);
	return card;
}

#define SELECT_JPKI   "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"
#define SELECT_TEXT   "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08"
#define SELECT_VISUAL "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 02"
#define SELECT_COMMON "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 01 00"
#define VERIFY_CURRENT "00 20 00 80"

static void select_ef(vcard *card, uint16_t fid)
{
	uint8_t capdu[] = { 0x00, 0xA4, 0x02, 0x0C, 0x02, fid >> 8, fid & 0xFF };
	ck_assert_uint_eq(send_raw(card, capdu, sizeof capdu), SW_OK);
}

static void verify_ok_in(vcard *card, const char *dir, uint16_t fid, const char *conf_key)
{
	char *secret = conf_value(dir, conf_key);
	select_ef(card, fid);
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, secret), SW_OK);
	free(secret);
}

static void verify_ok(vcard *card, uint16_t fid, const char *conf_key)
{
	verify_ok_in(card, card_dir, fid, conf_key);
}

/* Reads the current EF like OpenSC/myna: chunks of ≤ 256 with short Le
 * until 6B00/6282 or a short chunk.  Returns a malloc'd buffer. */
static uint8_t *read_whole_ef(vcard *card, size_t *total)
{
	uint8_t *out = malloc(70000);
	size_t off = 0;
	for (;;) {
		uint8_t capdu[] = { 0x00, 0xB0, off >> 8, off & 0xFF, 0x00 };
		uint16_t status = send_raw(card, capdu, sizeof capdu);
		if (status == SW_WRONG_P1P2)
			break;
		ck_assert_uint_eq(status, SW_OK);
		memcpy(out + off, resp, resp_len);
		off += resp_len;
		if (resp_len < 256)
			break;
	}
	*total = off;
	return out;
}

static void assert_current_ef_is_file(vcard *card, const char *dir, const char *name)
{
	size_t want_len, got_len;
	uint8_t *want = read_file(dir, name, &want_len);
	uint8_t *got = read_whole_ef(card, &got_len);
	ck_assert_uint_eq(got_len, want_len);
	ck_assert_mem_eq(got, want, want_len);
	free(want);
	free(got);
}

/* ---- JPKI AP: certificates ------------------------------------------------ */

START_TEST(auth_cert_header_then_chunks_equals_der)
{
	vcard *card = load(card_dir);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	select_ef(card, JPKI_EF_AUTH_CERT);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 04"), SW_OK);
	ck_assert_uint_eq(resp_len, 4);
	ck_assert_uint_eq(resp[0], 0x30);
	ck_assert_uint_eq(resp[1], 0x82);
	size_t total = (size_t)(resp[2] << 8 | resp[3]) + 4;

	size_t der_len;
	uint8_t *der = read_file(card_dir, "auth.der", &der_len);
	ck_assert_uint_eq(total, der_len);
	ck_assert_uint_gt(der_len, 1400);       /* realistic size (~1.5 KiB) */
	uint8_t *got = malloc(total);
	memcpy(got, resp, 4);
	for (size_t off = 4; off < total;) {
		size_t chunk = total - off < 256 ? total - off : 256;
		uint8_t capdu[] = { 0x00, 0xB0, off >> 8, off & 0xFF, chunk & 0xFF };
		ck_assert_uint_eq(send_raw(card, capdu, sizeof capdu), SW_OK);
		ck_assert_uint_eq(resp_len, chunk);
		memcpy(got + off, resp, chunk);
		off += chunk;
	}
	ck_assert_mem_eq(got, der, der_len);
	free(got);
	free(der);
	vcard_free(card);
}
END_TEST

START_TEST(ca_certs_token_info_presence_are_free)
{
	vcard *card = load(card_dir);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	select_ef(card, JPKI_EF_AUTH_CA_CERT);
	assert_current_ef_is_file(card, card_dir, "auth-ca.der");
	select_ef(card, JPKI_EF_SIGN_CA_CERT);
	assert_current_ef_is_file(card, card_dir, "sign-ca.der");
	select_ef(card, JPKI_EF_TOKEN_INFO);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 00"), SW_OK);
	ck_assert_uint_eq(resp_len, JPKI_TOKEN_INFO_LEN);
	ck_assert_mem_eq(resp, "JPKIAPICCTOKEN2                 ", JPKI_TOKEN_LABEL_LEN);
	select_ef(card, JPKI_EF_CERT_PRESENCE);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 03"), SW_OK);
	ck_assert_uint_eq(resp_len, 3);
	ck_assert_mem_eq(resp, "\x8F\x8F\x00", 3);
	vcard_free(card);
}
END_TEST

START_TEST(no_sign_cert_card)
{
	vcard *card = load(other_dir);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	select_ef(card, JPKI_EF_CERT_PRESENCE);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 03"), SW_OK);
	ck_assert_mem_eq(resp, "\x00\x8F\x00", 3);
	ck_assert_uint_eq(send_hex(card, "00 A4 02 0C 02 00 01"), SW_FILE_NOT_FOUND);
	ck_assert_uint_eq(send_hex(card, "00 A4 02 0C 02 00 1A"), SW_FILE_NOT_FOUND);
	select_ef(card, JPKI_EF_AUTH_CERT);
	assert_current_ef_is_file(card, other_dir, "auth.der");
	/* --auth-pin 4321 is what the card now wants */
	char *pin = conf_value(other_dir, "auth_pin");
	ck_assert_str_eq(pin, "4321");
	free(pin);
	verify_ok_in(card, other_dir, JPKI_EF_AUTH_PIN, "auth_pin");
	vcard_free(card);
}
END_TEST

/* ---- the test PKI that mkcard.sh made ------------------------------------------ */

static X509 *load_cert(const char *dir, const char *name)
{
	size_t len;
	uint8_t *der = read_file(dir, name, &len);
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	ck_assert_msg(x != NULL, "%s/%s is not DER X.509", dir, name);
	ck_assert_ptr_eq(p, der + len);
	free(der);
	return x;
}

/* 1 if SUBJECT's signature checks out with ISSUER's key. */
static int signed_by(const char *dir, const char *subject, const char *issuer)
{
	X509 *s = load_cert(dir, subject), *i = load_cert(dir, issuer);
	int ok = X509_verify(s, X509_get0_pubkey(i));
	X509_free(s);
	X509_free(i);
	return ok;
}

START_TEST(pki_chains_and_foreign_ca)
{
	ck_assert_int_eq(signed_by(card_dir, "auth.der", "auth-ca.der"), 1);
	ck_assert_int_eq(signed_by(card_dir, "sign.der", "sign-ca.der"), 1);
	ck_assert_int_eq(signed_by(card_dir, "auth-ca.der", "auth-ca.der"), 1);
	ck_assert_int_ne(signed_by(card_dir, "auth.der", "sign-ca.der"), 1);
	/* --foreign-ca: the card's auth CA did not sign the auth cert */
	ck_assert_int_ne(signed_by(other_dir, "auth.der", "auth-ca.der"), 1);
	ck_assert_int_eq(signed_by(other_dir, "auth.der", "foreign-ca.der"), 1);
}
END_TEST

START_TEST(auth_cert_profile)
{
	X509 *x = load_cert(card_dir, "auth.der");
	char cn[64] = "";
	X509_NAME *subject = X509_get_subject_name(x);
	ck_assert_int_eq(X509_NAME_entry_count(subject), 2);
	ck_assert_int_eq(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(subject, 0))), NID_commonName);
	ck_assert_int_eq(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(subject, 1))), NID_countryName);
	ck_assert_int_eq(X509_NAME_get_text_by_NID(subject, NID_commonName, cn, sizeof cn), 20);
	ck_assert_uint_eq(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	int critical = -1;
	ASN1_BIT_STRING *ku = X509_get_ext_d2i(x, NID_key_usage, &critical, NULL);
	ck_assert_int_eq(critical, 1);
	ASN1_BIT_STRING_free(ku);
	ck_assert_uint_eq(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
	ck_assert_int_ge(X509_get_ext_by_NID(x, NID_certificate_policies, -1), 0);
	ck_assert_int_ge(X509_get_ext_by_NID(x, NID_crl_distribution_points, -1), 0);
	ck_assert_int_ge(X509_get_ext_by_NID(x, NID_info_access, -1), 0);
	ck_assert_ptr_nonnull(X509_get0_subject_key_id(x));
	ck_assert_ptr_nonnull(X509_get0_authority_key_id(x));
	EVP_PKEY *pub = X509_get0_pubkey(x);
	ck_assert_int_eq(EVP_PKEY_get_base_id(pub), EVP_PKEY_RSA);
	ck_assert_int_eq(EVP_PKEY_get_bits(pub), 2048);
	X509_free(x);
}
END_TEST

/* The UTF8String under OID in the sign cert's subjectAltName otherNames. */
static char *sign_cert_attribute(X509 *x, const char *oid)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	ck_assert_ptr_nonnull(names);
	ASN1_OBJECT *want = OBJ_txt2obj(oid, 1);
	char *value = NULL;
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		if (gn->type != GEN_OTHERNAME || OBJ_cmp(gn->d.otherName->type_id, want) != 0)
			continue;
		ASN1_TYPE *v = gn->d.otherName->value;
		ck_assert_int_eq(v->type, V_ASN1_UTF8STRING);
		value = strndup((const char *)ASN1_STRING_get0_data(v->value.utf8string),
				(size_t)ASN1_STRING_length(v->value.utf8string));
	}
	ASN1_OBJECT_free(want);
	GENERAL_NAMES_free(names);
	ck_assert_msg(value != NULL, "no otherName %s", oid);
	return value;
}

START_TEST(sign_cert_carries_basic_attributes)
{
	X509 *x = load_cert(card_dir, "sign.der");
	static const struct { const char *oid, *conf_key; } attrs[] = {
		{ JPKI_OID_NAME, "name" }, { JPKI_OID_NAME_ALT, "name_kana" },
		{ JPKI_OID_SEX, "sex" }, { JPKI_OID_BIRTH, "birth" },
		{ JPKI_OID_ADDRESS, "address" }, { JPKI_OID_ADDRESS_ALT, "address" },
	};
	for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
		char *got = sign_cert_attribute(x, attrs[i].oid);
		char *want = conf_value(card_dir, attrs[i].conf_key);
		ck_assert_str_eq(got, want);
		free(got);
		free(want);
	}
	X509_free(x);
}
END_TEST

START_TEST(sign_cert_needs_sign_password)
{
	vcard *card = load(card_dir);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	select_ef(card, JPKI_EF_SIGN_CERT);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 04"), SW_SECURITY_NOT_SATISFIED);
	ck_assert_uint_eq(resp_len, 0);
	/* the auth PIN does not open it */
	verify_ok(card, JPKI_EF_AUTH_PIN, "auth_pin");
	select_ef(card, JPKI_EF_SIGN_CERT);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 04"), SW_SECURITY_NOT_SATISFIED);
	verify_ok(card, JPKI_EF_SIGN_PIN, "sign_pw");
	select_ef(card, JPKI_EF_SIGN_CERT);
	assert_current_ef_is_file(card, card_dir, "sign.der");
	vcard_free(card);
}
END_TEST

START_TEST(sign_password_lower_case_is_wrong)
{
	vcard *card = load(card_dir);
	char *pw = conf_value(card_dir, "sign_pw");
	char *lower = strdup(pw);
	bool has_letter = false;
	for (char *p = lower; *p; p++) {
		if (*p >= 'A' && *p <= 'Z') {
			*p = (char)(*p - 'A' + 'a');
			has_letter = true;
		}
	}
	ck_assert(has_letter);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	select_ef(card, JPKI_EF_SIGN_PIN);
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, lower), SW_VERIFY_FAILED_BASE | 4);
	ck_assert_uint_eq(vcard_tries_left(card, VCARD_KEY_SIGN_PW), 4);
	ck_assert(!vcard_key_verified(card, VCARD_KEY_SIGN_PW));
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, pw), SW_OK);
	ck_assert_uint_eq(vcard_tries_left(card, VCARD_KEY_SIGN_PW), 5);
	free(pw);
	free(lower);
	vcard_free(card);
}
END_TEST

/* ---- VERIFY ------------------------------------------------------------------ */

START_TEST(wrong_pin_counts_down_then_blocks)
{
	vcard *card = load(card_dir);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	select_ef(card, JPKI_EF_AUTH_PIN);
	char *pin = conf_value(card_dir, "auth_pin");
	const char *wrong = strcmp(pin, "0000") ? "0000" : "1111";
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, wrong), 0x63C2);
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, wrong), 0x63C1);
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, wrong), 0x63C0);
	ck_assert_uint_eq(vcard_tries_left(card, VCARD_KEY_AUTH_PIN), 0);
	/* blocked: even the right PIN gets 6984, the query says 63C0 */
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, pin), SW_REF_DATA_BLOCKED);
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, wrong), SW_REF_DATA_BLOCKED);
	ck_assert_uint_eq(send_hex(card, VERIFY_CURRENT), 0x63C0);
	ck_assert(!vcard_key_verified(card, VCARD_KEY_AUTH_PIN));
	/* a power cycle does not unblock (the counter is in EEPROM) */
	uint8_t atr[VCARD_ATR_MAX];
	size_t atr_len;
	vcard_power_off(card);
	vcard_power_on(card, atr, &atr_len);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	ck_assert_uint_eq(send_hex(card, "00 20 00 98"), 0x63C0);
	/* the office reset */
	vcard_restore_retry_counters(card);
	ck_assert_uint_eq(send_hex(card, "00 20 00 98"), 0x63C3);
	free(pin);
	vcard_free(card);
}
END_TEST

START_TEST(empty_verify_costs_no_try)
{
	vcard *card = load(card_dir);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	select_ef(card, JPKI_EF_AUTH_PIN);
	for (int i = 0; i < 5; i++)
		ck_assert_uint_eq(send_hex(card, VERIFY_CURRENT), 0x63C3);
	ck_assert_uint_eq(vcard_tries_left(card, VCARD_KEY_AUTH_PIN), 3);
	select_ef(card, JPKI_EF_SIGN_PIN);
	ck_assert_uint_eq(send_hex(card, VERIFY_CURRENT), 0x63C5);
	/* verified → the query answers 9000 (jpki.md pitfall 9) */
	verify_ok(card, JPKI_EF_AUTH_PIN, "auth_pin");
	ck_assert_uint_eq(send_hex(card, VERIFY_CURRENT), SW_OK);
	ck_assert_uint_eq(vcard_tries_left(card, VCARD_KEY_AUTH_PIN), 3);
	vcard_free(card);
}
END_TEST

START_TEST(correct_pin_resets_counter)
{
	vcard *card = load(card_dir);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	select_ef(card, JPKI_EF_AUTH_PIN);
	char *pin = conf_value(card_dir, "auth_pin");
	const char *wrong = strcmp(pin, "0000") ? "0000" : "1111";
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, wrong), 0x63C2);
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, wrong), 0x63C1);
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, pin), SW_OK);
	ck_assert_uint_eq(vcard_tries_left(card, VCARD_KEY_AUTH_PIN), 3);
	ck_assert(vcard_key_verified(card, VCARD_KEY_AUTH_PIN));
	/* a later wrong entry drops the verified state and counts from 3 */
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, wrong), 0x63C2);
	ck_assert(!vcard_key_verified(card, VCARD_KEY_AUTH_PIN));
	free(pin);
	vcard_free(card);
}
END_TEST

START_TEST(verify_bad_length_and_wrong_targets)
{
	vcard *card = load(card_dir);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	select_ef(card, JPKI_EF_AUTH_PIN);
	/* 5 digits for a 4-digit PIN: 6700, no try used */
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, "12345"), SW_WRONG_LENGTH);
	ck_assert_uint_eq(vcard_tries_left(card, VCARD_KEY_AUTH_PIN), 3);
	/* VERIFY with an Le */
	ck_assert_uint_eq(send_hex(card, "00 20 00 80 04 31 32 33 34 00"), SW_WRONG_LENGTH);
	ck_assert_uint_eq(vcard_tries_left(card, VCARD_KEY_AUTH_PIN), 3);
	/* current EF is not a key */
	select_ef(card, JPKI_EF_AUTH_CERT);
	ck_assert_uint_eq(send_hex(card, "00 20 00 80 04 31 32 33 34"), SW_REF_DATA_NOT_FOUND);
	/* no such SFI, bad P1/P2 */
	ck_assert_uint_eq(send_hex(card, "00 20 00 99 04 31 32 33 34"), SW_REF_DATA_NOT_FOUND);
	ck_assert_uint_eq(send_hex(card, "00 20 01 80 04 31 32 33 34"), SW_INCORRECT_P1P2);
	ck_assert_uint_eq(send_hex(card, "00 20 00 01 04 31 32 33 34"), SW_INCORRECT_P1P2);
	/* no AP selected */
	uint8_t atr[VCARD_ATR_MAX];
	size_t atr_len;
	vcard_power_on(card, atr, &atr_len);
	ck_assert_uint_eq(send_hex(card, "00 20 00 98 04 31 32 33 34"), SW_REF_DATA_NOT_FOUND);
	ck_assert_uint_eq(vcard_tries_left(card, VCARD_KEY_AUTH_PIN), 3);
	vcard_free(card);
}
END_TEST

/* ---- security state across resets --------------------------------------------- */

static const uint8_t test_digest_info_prefix[] = DIGESTINFO_SHA256_PREFIX;

/* Sends 80 2A 00 P2 33 DigestInfo(SHA-256(msg)) 00. */
static uint16_t sign_message(vcard *card, uint8_t p2, const char *msg)
{
	uint8_t capdu[5 + 51 + 1] = { 0x80, 0x2A, 0x00, p2, 51 };
	memcpy(capdu + 5, test_digest_info_prefix, sizeof test_digest_info_prefix);
	unsigned hash_len = 32;
	ck_assert(EVP_Digest(msg, strlen(msg), capdu + 5 + 19, &hash_len, EVP_sha256(), NULL));
	capdu[sizeof capdu - 1] = 0x00;
	return send_raw(card, capdu, sizeof capdu);
}

/* Checks resp (a signature over msg) with the public key in DIR/CERT. */
static void assert_signature_valid(const char *dir, const char *cert, const char *msg)
{
	size_t der_len;
	uint8_t *der = read_file(dir, cert, &der_len);
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)der_len);
	ck_assert_ptr_nonnull(x);
	EVP_PKEY *pub = X509_get0_pubkey(x);
	ck_assert_ptr_nonnull(pub);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ck_assert_int_eq(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub), 1);
	ck_assert_int_eq(EVP_DigestVerify(ctx, resp, resp_len, (const uint8_t *)msg, strlen(msg)), 1);
	/* and not over another message */
	ck_assert_int_eq(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub), 1);
	ck_assert_int_ne(EVP_DigestVerify(ctx, resp, resp_len, (const uint8_t *)"other", 5), 1);
	EVP_MD_CTX_free(ctx);
	X509_free(x);
	free(der);
}

START_TEST(warm_reset_keeps_power_off_clears)
{
	vcard *card = load(card_dir);
	uint8_t atr[VCARD_ATR_MAX];
	size_t atr_len;
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	verify_ok(card, JPKI_EF_AUTH_PIN, "auth_pin");
	vcard_warm_reset(card, atr, &atr_len);
	ck_assert_uint_eq(atr_len, 19);
	/* no SELECT: the key unlocked before the reset still signs */
	ck_assert_uint_eq(sign_message(card, 0x97, "after warm reset"), SW_OK);
	ck_assert_uint_eq(resp_len, 256);
	select_ef(card, JPKI_EF_AUTH_PIN);
	ck_assert_uint_eq(send_hex(card, VERIFY_CURRENT), SW_OK);

	vcard_power_off(card);
	vcard_power_on(card, atr, &atr_len);
	ck_assert(!vcard_key_verified(card, VCARD_KEY_AUTH_PIN));
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	ck_assert_uint_eq(sign_message(card, 0x97, "after power cycle"), SW_SECURITY_NOT_SATISFIED);
	ck_assert_uint_eq(send_hex(card, "00 20 00 98"), 0x63C3);
	vcard_free(card);
}
END_TEST

START_TEST(reselect_of_ap_logs_out)
{
	vcard *card = load(card_dir);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	verify_ok(card, JPKI_EF_AUTH_PIN, "auth_pin");
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	ck_assert(!vcard_key_verified(card, VCARD_KEY_AUTH_PIN));
	ck_assert_uint_eq(sign_message(card, 0x97, "x"), SW_SECURITY_NOT_SATISFIED);
	/* another AP also drops it */
	verify_ok(card, JPKI_EF_AUTH_PIN, "auth_pin");
	ck_assert_uint_eq(send_hex(card, SELECT_TEXT), SW_OK);
	ck_assert(!vcard_key_verified(card, VCARD_KEY_AUTH_PIN));
	vcard_free(card);
}
END_TEST

/* ---- COMPUTE DIGITAL SIGNATURE ------------------------------------------------ */

START_TEST(auth_signature_verifies_with_cert)
{
	vcard *card = load(card_dir);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	select_ef(card, JPKI_EF_AUTH_KEY);
	ck_assert_uint_eq(sign_message(card, 0x80, "m"), SW_SECURITY_NOT_SATISFIED);
	verify_ok(card, JPKI_EF_AUTH_PIN, "auth_pin");
	select_ef(card, JPKI_EF_AUTH_KEY);
	ck_assert_uint_eq(sign_message(card, 0x80, "online qualification"), SW_OK);
	ck_assert_uint_eq(resp_len, 256);
	assert_signature_valid(card_dir, "auth.der", "online qualification");
	/* the auth PIN does not unlock the sign key */
	ck_assert_uint_eq(sign_message(card, 0x9A, "m"), SW_SECURITY_NOT_SATISFIED);
	vcard_free(card);
}
END_TEST

START_TEST(sign_key_by_sfi_and_p1_02)
{
	vcard *card = load(card_dir);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	verify_ok(card, JPKI_EF_SIGN_PIN, "sign_pw");
	ck_assert_uint_eq(sign_message(card, 0x9A, "contract"), SW_OK);
	assert_signature_valid(card_dir, "sign.der", "contract");
	/* P1 02: the card wraps a bare SHA-256 hash */
	uint8_t capdu[5 + 32 + 1] = { 0x80, 0x2A, 0x02, 0x9A, 32 };
	unsigned hash_len = 32;
	ck_assert(EVP_Digest("contract", 8, capdu + 5, &hash_len, EVP_sha256(), NULL));
	ck_assert_uint_eq(send_raw(card, capdu, sizeof capdu), SW_OK);
	assert_signature_valid(card_dir, "sign.der", "contract");
	vcard_free(card);
}
END_TEST

START_TEST(sign_command_errors)
{
	vcard *card = load(card_dir);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	verify_ok(card, JPKI_EF_AUTH_PIN, "auth_pin");
	select_ef(card, JPKI_EF_AUTH_KEY);
	ck_assert_uint_eq(send_hex(card, "80 2A 01 80 01 00 00"), SW_INCORRECT_P1P2);
	ck_assert_uint_eq(send_hex(card, "80 2A 05 80 01 00 00"), SW_INCORRECT_P1P2);
	ck_assert_uint_eq(send_hex(card, "80 2A 00 17 01 00 00"), SW_INCORRECT_P1P2);
	ck_assert_uint_eq(send_hex(card, "80 2A 00 81 01 00 00"), SW_REF_DATA_NOT_FOUND);  /* EF 0001: not a key */
	/* no Le */
	ck_assert_uint_eq(send_hex(card, "80 2A 00 80 02 01 02"), SW_WRONG_LENGTH);
	/* P1 02 needs exactly 32 bytes */
	ck_assert_uint_eq(send_hex(card, "80 2A 02 80 02 01 02 00"), SW_WRONG_LENGTH);
	/* 246 bytes is too long for PKCS#1 v1.5 with RSA-2048 */
	uint8_t capdu[5 + 246 + 1] = { 0x80, 0x2A, 0x00, 0x80, 246 };
	ck_assert_uint_eq(send_raw(card, capdu, sizeof capdu), SW_WRONG_LENGTH);
	capdu[4] = 245;
	ck_assert_uint_eq(send_raw(card, capdu, sizeof capdu - 1), SW_OK);
	ck_assert_uint_eq(resp_len, 256);
	/* current EF is a certificate, not a key */
	select_ef(card, JPKI_EF_AUTH_CERT);
	ck_assert_uint_eq(sign_message(card, 0x80, "m"), SW_REF_DATA_NOT_FOUND);
	/* CLA 00 is not the class of this command */
	ck_assert_uint_eq(send_hex(card, "00 2A 00 97 01 00 00"), SW_CLA_NOT_SUPPORTED);
	vcard_free(card);
}
END_TEST

/* ---- 券面事項入力補助AP / 券面事項確認AP --------------------------------------- */

START_TEST(my_number_and_attributes_access)
{
	vcard *card = load(card_dir);
	char *my_number = conf_value(card_dir, "my_number");
	char *collation_b = conf_value(card_dir, "collation_b");
	ck_assert_uint_eq(send_hex(card, SELECT_TEXT), SW_OK);
	select_ef(card, TEXT_EF_MY_NUMBER);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 00"), SW_SECURITY_NOT_SATISFIED);
	select_ef(card, TEXT_EF_ATTRIBUTES);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 00"), SW_SECURITY_NOT_SATISFIED);

	/* 照合番号A opens the number, not the 4 attributes */
	select_ef(card, TEXT_EF_COLLATION_A);
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, my_number), SW_OK);
	select_ef(card, TEXT_EF_MY_NUMBER);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 00"), SW_OK);
	ck_assert_uint_eq(resp_len, 17);
	ck_assert_mem_eq(resp, "\xFF\x10\x0C", 3);
	ck_assert_mem_eq(resp + 3, my_number, 12);
	ck_assert_mem_eq(resp + 15, "\xFF\xFF", 2);
	select_ef(card, TEXT_EF_ATTRIBUTES);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 00"), SW_SECURITY_NOT_SATISFIED);

	/* 照合番号B opens the attributes, not the number */
	ck_assert_uint_eq(send_hex(card, SELECT_TEXT), SW_OK);
	select_ef(card, TEXT_EF_COLLATION_B);
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, collation_b), SW_OK);
	select_ef(card, TEXT_EF_ATTRIBUTES);
	assert_current_ef_is_file(card, card_dir, "attributes.bin");
	select_ef(card, TEXT_EF_MY_NUMBER);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 00"), SW_SECURITY_NOT_SATISFIED);

	/* the 4-digit PIN opens both; read like the real trace: length byte first */
	ck_assert_uint_eq(send_hex(card, SELECT_TEXT), SW_OK);
	verify_ok(card, TEXT_EF_PIN, "text_pin");
	select_ef(card, TEXT_EF_ATTRIBUTES);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 02 01"), SW_OK);
	ck_assert_uint_eq(resp_len, 1);
	size_t record_len = resp[0] + 3u;
	ck_assert_uint_eq(send_raw(card, (uint8_t[]){ 0x00, 0xB0, 0x00, 0x00, (uint8_t)record_len }, 5), SW_OK);
	ck_assert_uint_eq(resp_len, record_len);
	ck_assert_mem_eq(resp, "\xFF\x20", 2);
	ck_assert_mem_eq(resp + 3, "\xDF\x21\x08", 3);
	/* the offset table points at DF22 (name) */
	size_t name_off = (size_t)resp[6] << 8 | resp[7];
	ck_assert_uint_lt(name_off + 2, record_len);
	ck_assert_mem_eq(resp + name_off, "\xDF\x22", 2);
	char *name = conf_value(card_dir, "name");
	ck_assert_uint_eq(resp[name_off + 2], strlen(name));
	ck_assert_uint_le(name_off + 3 + strlen(name), record_len);
	ck_assert_mem_eq(resp + name_off + 3, name, strlen(name));
	free(name);
	select_ef(card, TEXT_EF_MY_NUMBER);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 11"), SW_OK);
	free(my_number);
	free(collation_b);
	vcard_free(card);
}
END_TEST

START_TEST(collation_b_has_ten_tries)
{
	vcard *card = load(card_dir);
	ck_assert_uint_eq(send_hex(card, SELECT_VISUAL), SW_OK);
	select_ef(card, VISUAL_EF_COLLATION_B);
	ck_assert_uint_eq(send_hex(card, VERIFY_CURRENT), 0x63CA);
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, "00000000000000"), 0x63C9);
	ck_assert_uint_eq(vcard_tries_left(card, VCARD_KEY_VISUAL_B), 9);
	vcard_free(card);
}
END_TEST

/* Finds the JP2 photo (DF27) through the DF21 offset table. */
static void assert_face_photo_is_jp2(const uint8_t *face, size_t len)
{
	size_t hdr = face[2] == 0x82 ? 5 : face[2] == 0x81 ? 4 : 3;
	ck_assert_mem_eq(face + hdr, "\xDF\x21\x12", 3);    /* 9 offsets */
	const uint8_t *table = face + hdr + 3;
	size_t df27 = (size_t)table[2 * 5] << 8 | table[2 * 5 + 1];
	ck_assert_uint_lt(df27 + 16, len);
	ck_assert_mem_eq(face + df27, "\xDF\x27\x82", 3);
	size_t jp2_len = (size_t)face[df27 + 3] << 8 | face[df27 + 4];
	const uint8_t *jp2 = face + df27 + 5;
	ck_assert_mem_eq(jp2 + 4, "jP  ", 4);

	size_t file_len;
	uint8_t *file = read_file(card_dir, "face.jp2", &file_len);
	ck_assert_uint_eq(jp2_len, file_len);
	ck_assert_mem_eq(jp2, file, file_len);
	free(file);
}

START_TEST(face_needs_collation_a_or_b)
{
	vcard *card = load(card_dir);
	char *my_number = conf_value(card_dir, "my_number");
	ck_assert_uint_eq(send_hex(card, SELECT_VISUAL), SW_OK);
	select_ef(card, VISUAL_EF_FACE);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 00"), SW_SECURITY_NOT_SATISFIED);
	/* the text AP's PIN, verified there, does not carry over */
	ck_assert_uint_eq(send_hex(card, SELECT_TEXT), SW_OK);
	verify_ok(card, TEXT_EF_PIN, "text_pin");
	ck_assert_uint_eq(send_hex(card, SELECT_VISUAL), SW_OK);
	select_ef(card, VISUAL_EF_FACE);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 00"), SW_SECURITY_NOT_SATISFIED);

	verify_ok(card, VISUAL_EF_COLLATION_B, "collation_b");
	select_ef(card, VISUAL_EF_FACE);
	size_t len;
	uint8_t *face = read_whole_ef(card, &len);
	ck_assert_uint_gt(len, 2048);
	assert_face_photo_is_jp2(face, len);
	free(face);
	select_ef(card, VISUAL_EF_FACE);
	assert_current_ef_is_file(card, card_dir, "card-face.bin");

	ck_assert_uint_eq(send_hex(card, SELECT_VISUAL), SW_OK);
	select_ef(card, VISUAL_EF_COLLATION_A);
	ck_assert_uint_eq(send_with_text(card, VERIFY_CURRENT, my_number), SW_OK);
	select_ef(card, VISUAL_EF_FACE);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 10"), SW_OK);
	free(my_number);
	vcard_free(card);
}
END_TEST

/* ---- SFI forms, lengths, classes ------------------------------------------------ */

START_TEST(sfi_forms)
{
	vcard *card = load(card_dir);
	size_t der_len;
	uint8_t *der = read_file(card_dir, "auth.der", &der_len);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	ck_assert_uint_eq(send_hex(card, "00 B0 8A 00 04"), SW_OK);   /* EF 000A */
	ck_assert_mem_eq(resp, der, 4);
	ck_assert_uint_eq(send_hex(card, "00 B0 8A 10 20"), SW_OK);   /* 8-bit offset */
	ck_assert_mem_eq(resp, der + 0x10, 0x20);
	/* READ by SFI made 000A current */
	ck_assert_uint_eq(send_hex(card, "00 B0 00 30 08"), SW_OK);
	ck_assert_mem_eq(resp, der + 0x30, 8);
	ck_assert_uint_eq(send_hex(card, "00 B0 81 00 04"), SW_SECURITY_NOT_SATISFIED);
	ck_assert_uint_eq(send_hex(card, "00 B0 83 00 04"), SW_FILE_NOT_FOUND);
	ck_assert_uint_eq(send_hex(card, "00 B0 A1 00 04"), SW_INCORRECT_P1P2);
	ck_assert_uint_eq(send_hex(card, "00 B0 9F 00 04"), SW_INCORRECT_P1P2);
	ck_assert_uint_eq(send_hex(card, "00 B0 97 00 04"), SW_INCOMPATIBLE_FILE);  /* key EF */
	/* VERIFY by SFI without SELECT, then the sign cert by SFI */
	char *pw = conf_value(card_dir, "sign_pw");
	ck_assert_uint_eq(send_with_text(card, "00 20 00 9B", pw), SW_OK);
	ck_assert_uint_eq(send_hex(card, "00 B0 81 00 04"), SW_OK);
	ck_assert_uint_eq(resp[0], 0x30);
	free(pw);
	free(der);
	vcard_free(card);
}
END_TEST

START_TEST(bad_lengths_leave_card_working)
{
	vcard *card = load(card_dir);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	ck_assert_uint_eq(send_hex(card, "00 A4 02 0C 03 00 0A"), SW_WRONG_LENGTH);     /* Lc > data */
	ck_assert_uint_eq(send_hex(card, "00 A4 02 0C 01 00 0A"), SW_WRONG_LENGTH);     /* Lc < data */
	ck_assert_uint_eq(send_hex(card, "00 A4 02 0C 01 0A"), SW_WRONG_LENGTH);        /* FID of 1 byte */
	ck_assert_uint_eq(send_hex(card, "00 A4 02"), SW_WRONG_LENGTH);                 /* truncated */
	ck_assert_uint_eq(send_hex(card, ""), SW_WRONG_LENGTH);
	ck_assert_uint_eq(send_hex(card, "00 A4 04 0C 00 00 00"), SW_WRONG_LENGTH);     /* ext Lc 0 */
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 00 00"), SW_WRONG_LENGTH);        /* ext, 1 length byte */
	ck_assert_uint_eq(send_hex(card, "00 A4 02 0C 00 00 02 00"), SW_WRONG_LENGTH);  /* ext Lc > data */
	select_ef(card, JPKI_EF_AUTH_CERT);
	size_t der_len;
	uint8_t *der = read_file(card_dir, "auth.der", &der_len);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00"), SW_WRONG_LENGTH);              /* no Le */
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 01 00 04"), SW_WRONG_LENGTH);     /* data */
	/* Le past the end: what is left, with 6282 */
	size_t off = der_len - 10;
	ck_assert_uint_eq(send_raw(card, (uint8_t[]){ 0x00, 0xB0, off >> 8, off & 0xFF, 0x20 }, 5),
			  SW_END_OF_FILE_BEFORE_LE);
	ck_assert_uint_eq(resp_len, 10);
	ck_assert_mem_eq(resp, der + off, 10);
	/* Le 00 ("up to 256") past the end: what is left, with 9000 */
	ck_assert_uint_eq(send_raw(card, (uint8_t[]){ 0x00, 0xB0, off >> 8, off & 0xFF, 0x00 }, 5), SW_OK);
	ck_assert_uint_eq(resp_len, 10);
	/* offset at / past the end, or past 15 bits */
	ck_assert_uint_eq(send_raw(card, (uint8_t[]){ 0x00, 0xB0, der_len >> 8, der_len & 0xFF, 0x01 }, 5),
			  SW_WRONG_P1P2);
	ck_assert_uint_eq(send_hex(card, "00 B0 7F FF 01"), SW_WRONG_P1P2);
	/* still working */
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 04"), SW_OK);
	ck_assert_mem_eq(resp, der, 4);
	free(der);
	/* READ with no current EF */
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 04"), SW_COMMAND_NOT_ALLOWED_NO_EF);
	vcard_free(card);
}
END_TEST

START_TEST(extended_le_single_read)
{
	vcard *card = load(card_dir);
	size_t der_len;
	uint8_t *der = read_file(card_dir, "auth.der", &der_len);
	ck_assert_uint_eq(send_hex(card, SELECT_JPKI), SW_OK);
	select_ef(card, JPKI_EF_AUTH_CERT);
	/* like the real trace: 4-byte header, then the rest in one extended read */
	uint8_t capdu[] = { 0x00, 0xB0, 0x00, 0x04, 0x00, (der_len - 4) >> 8, (der_len - 4) & 0xFF };
	ck_assert_uint_eq(send_raw(card, capdu, sizeof capdu), SW_OK);
	ck_assert_uint_eq(resp_len, der_len - 4);
	ck_assert_mem_eq(resp, der + 4, der_len - 4);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 00 00 00"), SW_OK);       /* Le 0000 = max */
	ck_assert_uint_eq(resp_len, der_len);

	vcard_set_extended_length(card, false);
	ck_assert_uint_eq(send_raw(card, capdu, sizeof capdu), SW_WRONG_LENGTH);
	ck_assert_uint_eq(resp_len, 0);
	ck_assert_uint_eq(send_hex(card, "00 B0 00 00 04"), SW_OK);             /* short still fine */
	ck_assert_mem_eq(resp, der, 4);
	free(der);
	vcard_free(card);
}
END_TEST

START_TEST(class_instruction_and_channel_errors)
{
	vcard *card = load(card_dir);
	ck_assert_uint_eq(send_hex(card, "01 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"), SW_LOGICAL_CHANNEL_UNSUPPORTED);
	ck_assert_uint_eq(send_hex(card, "03 B0 00 00 04"), SW_LOGICAL_CHANNEL_UNSUPPORTED);
	ck_assert_uint_eq(send_hex(card, "41 B0 00 00 04"), SW_LOGICAL_CHANNEL_UNSUPPORTED);
	ck_assert_uint_eq(send_hex(card, "0C B0 00 00 04"), SW_CLA_NOT_SUPPORTED);
	ck_assert_uint_eq(send_hex(card, "A0 B0 00 00 04"), SW_CLA_NOT_SUPPORTED);
	ck_assert_uint_eq(send_hex(card, "80 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"), SW_CLA_NOT_SUPPORTED);
	ck_assert_uint_eq(send_hex(card, "00 12 00 00"), SW_INS_NOT_SUPPORTED);
	ck_assert_uint_eq(send_hex(card, "00 C0 00 00 10"), SW_INS_NOT_SUPPORTED);
	/* SELECT details */
	ck_assert_uint_eq(send_hex(card, "00 A4 00 00"), SW_INCORRECT_P1P2);     /* MF after cold reset */
	ck_assert_uint_eq(send_hex(card, "00 A4 04 0C 05 D3 92 F0 00 26"), SW_FILE_NOT_FOUND);
	ck_assert_uint_eq(send_hex(card, "00 A4 02 0C 02 00 0A"), SW_FILE_NOT_FOUND);  /* no AP */
	ck_assert_uint_eq(send_hex(card, "00 A4 04 04 0A D3 92 F0 00 26 01 00 00 00 01"), SW_INCORRECT_P1P2);
	ck_assert_uint_eq(send_hex(card, "00 A4 04 00 0A D3 92 F0 00 26 01 00 00 00 01"), SW_OK);
	ck_assert_uint_eq(resp_len, 0);
	ck_assert_uint_eq(send_hex(card, "00 A4 00 00"), SW_OK);                 /* MF inside an AP */
	ck_assert_uint_eq(send_hex(card, "00 A4 00 0C 02 3F 00"), SW_FILE_NOT_FOUND);
	ck_assert_uint_eq(send_hex(card, "00 B0 8A 00 04"), SW_OK);              /* still in JPKI */
	ck_assert_uint_eq(send_hex(card, SELECT_COMMON), SW_OK);
	ck_assert_uint_eq(send_hex(card, "00 A4 02 0C 02 00 0A"), SW_FILE_NOT_FOUND);
	vcard_free(card);
}
END_TEST

START_TEST(get_data_and_get_challenge)
{
	vcard *card = load(card_dir);
	const uint8_t atr_without_ts[] = { 0xDA, 0x13, 0xFF, 0x81, 0x31, 0xFB, 0x46, 0x80, 0x12,
					   0x39, 0x2F, 0x31, 0xC1, 0x73, 0xC6, 0x01, 0xC0, 0x3B };
	ck_assert_uint_eq(send_hex(card, "00 CA 5F 51 00"), SW_OK);
	ck_assert_uint_eq(resp_len, sizeof atr_without_ts);
	ck_assert_mem_eq(resp, atr_without_ts, sizeof atr_without_ts);
	ck_assert_uint_eq(send_hex(card, "00 CA 5F 51 04"), SW_WRONG_LE_BASE | 18);
	ck_assert_uint_eq(send_hex(card, "00 CA 00 42 00"), SW_REF_DATA_NOT_FOUND);

	ck_assert_uint_eq(send_hex(card, "00 84 00 00 10"), SW_OK);
	ck_assert_uint_eq(resp_len, 16);
	uint8_t first[16];
	memcpy(first, resp, 16);
	ck_assert_uint_eq(send_hex(card, "00 84 00 00 10"), SW_OK);
	ck_assert_mem_ne(first, resp, 16);
	ck_assert_uint_eq(send_hex(card, "00 84 00 00 00"), SW_OK);
	ck_assert_uint_eq(resp_len, 256);
	ck_assert_uint_eq(send_hex(card, "00 84 00 00 00 00 08"), SW_CONDITIONS_NOT_SATISFIED);
	ck_assert_uint_eq(send_hex(card, "00 84 00 00"), SW_WRONG_LENGTH);
	ck_assert_uint_eq(send_hex(card, "00 84 01 00 08"), SW_INCORRECT_P1P2);
	vcard_free(card);
}
END_TEST

/* ---- emu_card adaptor and loading ------------------------------------------------ */

static uint8_t xor_bytes(const uint8_t *b, size_t n)
{
	uint8_t x = 0;
	for (size_t i = 0; i < n; i++)
		x ^= b[i];
	return x;
}

START_TEST(emu_adaptor_atr_atqb_transmit)
{
	char *error = NULL;
	emu_card *card = vcard_card_open(card_dir, false, &error);
	ck_assert_msg(card != NULL, "%s", error ? error : "?");
	ck_assert_str_eq(card->kind, "vcard");
	uint8_t atr[ATR_MAX_LEN];
	size_t atr_len = 0;
	ck_assert_int_eq(card->ops->power_on(card, atr, &atr_len), 0);
	ck_assert_uint_eq(atr_len, 19);
	ck_assert_uint_eq(atr[0], 0x3B);
	ck_assert_uint_eq(xor_bytes(atr + 1, atr_len - 1), 0);     /* TCK */
	/* the Part 3 pseudo-ATR a contactless reader builds from our ATQB */
	uint8_t pseudo[13] = { 0x3B, 0x88, 0x80, 0x01 };
	memcpy(pseudo + 4, card->atqb_app_data, 4);
	memcpy(pseudo + 8, card->atqb_protocol_info, 3);
	pseudo[11] = card->atqb_mbli & 0xF0;
	pseudo[12] = xor_bytes(pseudo + 1, 11);
	const uint8_t real[13] = { 0x3B, 0x88, 0x80, 0x01, 0x00, 0x00, 0x05, 0xE0, 0xB3, 0x81, 0xA1, 0x00, 0x7F };
	ck_assert_mem_eq(pseudo, real, sizeof real);

	uint8_t capdu[] = { 0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01 };
	size_t rlen = 0;
	ck_assert_int_eq(card->ops->transmit(card, capdu, sizeof capdu, resp, &rlen), 0);
	ck_assert_uint_eq(rlen, 2);
	ck_assert_mem_eq(resp, "\x90\x00", 2);
	uint8_t ext_read[] = { 0x00, 0xB0, 0x8A, 0x00, 0x00, 0x01, 0x00 };
	ck_assert_int_eq(card->ops->transmit(card, ext_read, sizeof ext_read, resp, &rlen), 0);
	ck_assert_mem_eq(resp, "\x67\x00", 2);      /* noext */
	ck_assert_int_eq(card->ops->warm_reset(card, atr, &atr_len), 0);
	ck_assert_uint_eq(atr_len, 19);
	card->ops->power_off(card);
	emu_card_destroy(card);

	card = vcard_card_open(card_dir, true, &error);
	ck_assert_ptr_nonnull(card);
	ck_assert_int_eq(card->ops->power_on(card, atr, &atr_len), 0);
	ck_assert_int_eq(card->ops->transmit(card, capdu, sizeof capdu, resp, &rlen), 0);
	ck_assert_int_eq(card->ops->transmit(card, ext_read, sizeof ext_read, resp, &rlen), 0);
	ck_assert_uint_eq(rlen, 258);
	ck_assert_mem_eq(resp + 256, "\x90\x00", 2);
	emu_card_destroy(card);
}
END_TEST

static char *make_dir_copy_with_conf(const char *conf)
{
	char *dir;
	ck_assert_int_ge(asprintf(&dir, "%s/badconf", tmp_root), 0);
	ck_assert_int_eq(mkdir(dir, 0700) == 0 || errno == EEXIST, 1);
	char *path;
	ck_assert_int_ge(asprintf(&path, "%s/card.conf", dir), 0);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(conf, f);
	fclose(f);
	free(path);
	return dir;
}

START_TEST(load_errors_name_no_secret)
{
	char *error = NULL;
	ck_assert_ptr_null(vcard_load("/nonexistent/vcard", &error));
	ck_assert_ptr_nonnull(strstr(error, "card.conf"));
	free(error);

	char *dir = make_dir_copy_with_conf("auth_pin=12a4\nsign_pw=SECRETPW\n");
	error = NULL;
	ck_assert_ptr_null(vcard_load(dir, &error));
	ck_assert_ptr_nonnull(strstr(error, "auth_pin"));
	ck_assert_ptr_null(strstr(error, "12a4"));
	free(error);

	dir = (free(dir), make_dir_copy_with_conf("auth_pin=1234\nsign_pw=SECRETPW\ntext_pin=1234\n"));
	error = NULL;
	ck_assert_ptr_null(vcard_load(dir, &error));
	ck_assert_ptr_nonnull(strstr(error, "my_number"));
	ck_assert_ptr_null(strstr(error, "SECRETPW"));
	free(error);
	free(dir);
}
END_TEST

/* ---- main ------------------------------------------------------------------- */

/* Runs sh mkcard.sh DIR OPTIONS... (OPTIONS NULL-terminated, at most 6). */
static int run_mkcard(const char *dir, const char *const *options)
{
	const char *top = getenv("ONSHI_TOP_SRCDIR");
	char *script;
	if (asprintf(&script, "%s/tests/vcard/mkcard.sh", top ? top : ".") < 0)
		return -1;
	const char *argv[10] = { "sh", script, dir };
	for (size_t i = 0; options && options[i] && i < 6; i++)
		argv[3 + i] = options[i];
	pid_t pid = fork();
	if (pid == 0) {
		execv("/bin/sh", (char *const *)argv);
		_exit(127);
	}
	int status = -1;
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		status = -1;
	free(script);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static Suite *vcard_suite(void)
{
	Suite *s = suite_create("vcard");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, auth_cert_header_then_chunks_equals_der);
	tcase_add_test(tc, ca_certs_token_info_presence_are_free);
	tcase_add_test(tc, no_sign_cert_card);
	tcase_add_test(tc, pki_chains_and_foreign_ca);
	tcase_add_test(tc, auth_cert_profile);
	tcase_add_test(tc, sign_cert_carries_basic_attributes);
	tcase_add_test(tc, sign_cert_needs_sign_password);
	tcase_add_test(tc, sign_password_lower_case_is_wrong);
	tcase_add_test(tc, wrong_pin_counts_down_then_blocks);
	tcase_add_test(tc, empty_verify_costs_no_try);
	tcase_add_test(tc, correct_pin_resets_counter);
	tcase_add_test(tc, verify_bad_length_and_wrong_targets);
	tcase_add_test(tc, warm_reset_keeps_power_off_clears);
	tcase_add_test(tc, reselect_of_ap_logs_out);
	tcase_add_test(tc, auth_signature_verifies_with_cert);
	tcase_add_test(tc, sign_key_by_sfi_and_p1_02);
	tcase_add_test(tc, sign_command_errors);
	tcase_add_test(tc, my_number_and_attributes_access);
	tcase_add_test(tc, collation_b_has_ten_tries);
	tcase_add_test(tc, face_needs_collation_a_or_b);
	tcase_add_test(tc, sfi_forms);
	tcase_add_test(tc, bad_lengths_leave_card_working);
	tcase_add_test(tc, extended_le_single_read);
	tcase_add_test(tc, class_instruction_and_channel_errors);
	tcase_add_test(tc, get_data_and_get_challenge);
	tcase_add_test(tc, emu_adaptor_atr_atqb_transmit);
	tcase_add_test(tc, load_errors_name_no_secret);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *tmpdir = getenv("TMPDIR");
	char *root_template;
	if (asprintf(&root_template, "%s/test-vcard-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp") < 0 ||
	    strlen(root_template) >= sizeof tmp_root - 16)
		return 99;
	strcpy(tmp_root, root_template);
	free(root_template);
	if (!mkdtemp(tmp_root)) {
		perror("mkdtemp");
		return 99;
	}
	/* tmp_root is shorter than the buffers by more than the suffixes
	 * (checked above), but say so to the compiler: a silently cut path
	 * would make the test read the wrong card. */
	if (snprintf(card_dir, sizeof card_dir, "%s/card", tmp_root) >= (int)sizeof card_dir ||
	    snprintf(other_dir, sizeof other_dir, "%s/nosign", tmp_root) >= (int)sizeof other_dir)
		return 99;
	int failed = 1;
	static const char *const other_options[] = {
		"--no-sign-cert", "--foreign-ca", "--auth-pin", "4321", NULL
	};
	if (run_mkcard(card_dir, NULL) || run_mkcard(other_dir, other_options)) {
		fprintf(stderr, "test-vcard: mkcard.sh failed\n");
		failed = 99;
	} else {
		SRunner *sr = srunner_create(vcard_suite());
		srunner_run_all(sr, CK_NORMAL);
		failed = srunner_ntests_failed(sr);
		srunner_free(sr);
	}
	nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failed == 0 ? 0 : failed == 99 ? 99 : 1;
}
