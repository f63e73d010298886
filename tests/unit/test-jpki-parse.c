/* test-jpki-parse.c — status words, certificate headers, token info, TLV. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <onshi/jpki-const.h>

#include "jpki-parse.h"

static size_t hex(const char *s, uint8_t *out, size_t cap)
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

/* ---- status words ---- */

static void check_sw(uint16_t sw, enum jpki_sw_class cls, unsigned detail)
{
	struct jpki_sw_info info = jpki_sw_classify(sw);

	ck_assert_msg(info.cls == cls, "SW %04X: class %d, want %d", sw, info.cls, cls);
	ck_assert_msg(info.detail == detail, "SW %04X: detail %u, want %u", sw, info.detail, detail);
}

START_TEST(sw_classes)
{
	check_sw(0x9000, JPKI_SW_OK, 0);
	check_sw(0x63C3, JPKI_SW_VERIFY_FAILED, 3);
	check_sw(0x63C0, JPKI_SW_VERIFY_FAILED, 0);
	check_sw(0x63CF, JPKI_SW_VERIFY_FAILED, 15);
	check_sw(0x6300, JPKI_SW_VERIFY_FAILED_NO_COUNT, 0);
	check_sw(0x6984, JPKI_SW_BLOCKED, 0);
	check_sw(0x6983, JPKI_SW_BLOCKED, 0);
	check_sw(0x6982, JPKI_SW_SECURITY_NOT_SATISFIED, 0);
	check_sw(0x6A82, JPKI_SW_FILE_NOT_FOUND, 0);
	check_sw(0x6700, JPKI_SW_WRONG_LENGTH, 0);
	check_sw(0x6881, JPKI_SW_CHANNEL_UNSUPPORTED, 0);
	check_sw(0x6110, JPKI_SW_MORE_DATA, 16);
	check_sw(0x6100, JPKI_SW_MORE_DATA, 256);
	check_sw(0x6C04, JPKI_SW_WRONG_LE, 4);
	check_sw(0x6C00, JPKI_SW_WRONG_LE, 256);
	check_sw(0x6A86, JPKI_SW_OTHER, 0x6A86);
	check_sw(0x6F00, JPKI_SW_OTHER, 0x6F00);
	check_sw(0x63C3 ^ 0x0030, JPKI_SW_OTHER, 0x63F3); /* 63Fx is not a counter */
}
END_TEST

START_TEST(sw_messages)
{
	ck_assert_str_eq(jpki_sw_message(0x63C2), "PIN incorrect");
	ck_assert_str_eq(jpki_sw_message(0x63C0), "PIN incorrect, now blocked");
	ck_assert_str_eq(jpki_sw_message(0x6984), "PIN blocked");
	ck_assert_str_eq(jpki_sw_message(0x6A82), "file or application not found");
	ck_assert_str_eq(jpki_sw_message(0x6B00), "offset beyond end of file");
	ck_assert_str_eq(jpki_sw_message(0x1234), "unexpected status word");
}
END_TEST

START_TEST(response_split)
{
	uint8_t r[4] = { 0x30, 0x82, 0x90, 0x00 };
	size_t n = 99;
	uint16_t sw = 0;

	ck_assert_int_eq(jpki_response_split(r, 4, &n, &sw), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(sw, 0x9000);
	ck_assert_int_eq(jpki_response_split(r + 2, 2, &n, &sw), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(jpki_response_split(r, 1, &n, &sw), -1);
	ck_assert_int_eq(jpki_response_split(r, 0, &n, &sw), -1);
	ck_assert_int_eq(jpki_response_split(NULL, 2, &n, &sw), -1);
}
END_TEST

/* ---- certificate length ---- */

static enum jpki_parse_result cert_len(const char *h, size_t *total, size_t *hdr)
{
	uint8_t b[16];
	size_t n = hex(h, b, sizeof(b));

	*total = 0;
	*hdr = 0;
	return jpki_cert_length(b, n, total, hdr);
}

START_TEST(cert_length_forms)
{
	size_t total, hdr;

	/* The real card: 30 82 06 1F -> 0x61F + 4. */
	ck_assert_int_eq(cert_len("30 82 06 1F", &total, &hdr), JPKI_PARSE_OK);
	ck_assert_uint_eq(total, 0x61F + 4);
	ck_assert_uint_eq(hdr, 4);
	ck_assert_int_eq(cert_len("30 81 C8 02", &total, &hdr), JPKI_PARSE_OK);
	ck_assert_uint_eq(total, 0xC8 + 3);
	ck_assert_uint_eq(hdr, 3);
	ck_assert_int_eq(cert_len("30 10 02 01", &total, &hdr), JPKI_PARSE_OK);
	ck_assert_uint_eq(total, 0x12);
	ck_assert_int_eq(cert_len("30 83 00 FF F0 02", &total, &hdr), JPKI_PARSE_OK);
	ck_assert_uint_eq(total, 0xFFF0 + 5);
	ck_assert_uint_eq(hdr, 5);
	/* 64 KiB total is the limit: 0xFFFC + 4 passes, one more fails. */
	ck_assert_int_eq(cert_len("30 82 FF FC", &total, &hdr), JPKI_PARSE_OK);
	ck_assert_uint_eq(total, 65536);
	ck_assert_int_eq(cert_len("30 83 00 FF FC", &total, &hdr), JPKI_PARSE_TOO_LARGE);
	ck_assert_int_eq(cert_len("30 83 01 00 00", &total, &hdr), JPKI_PARSE_TOO_LARGE);
	ck_assert_int_eq(cert_len("30 84 FF FF FF FF", &total, &hdr), JPKI_PARSE_TOO_LARGE);
}
END_TEST

START_TEST(cert_length_rejects)
{
	size_t total, hdr;

	ck_assert_int_eq(cert_len("31 82 06 1F", &total, &hdr), JPKI_PARSE_INVALID); /* SET */
	ck_assert_int_eq(cert_len("04 82 06 1F", &total, &hdr), JPKI_PARSE_INVALID);
	ck_assert_int_eq(cert_len("30 80 02 01", &total, &hdr), JPKI_PARSE_INVALID); /* indefinite */
	ck_assert_int_eq(cert_len("30 85 00 00 00 00 10", &total, &hdr), JPKI_PARSE_INVALID);
	ck_assert_int_eq(cert_len("FF FF FF FF", &total, &hdr), JPKI_PARSE_INVALID);
	/* Truncated: how many header bytes are needed. */
	ck_assert_int_eq(cert_len("30 83 00 10", &total, &hdr), JPKI_PARSE_TRUNCATED);
	ck_assert_uint_eq(hdr, 5);
	ck_assert_int_eq(cert_len("30 82 06", &total, &hdr), JPKI_PARSE_TRUNCATED);
	ck_assert_uint_eq(hdr, 4);
	ck_assert_int_eq(cert_len("30", &total, &hdr), JPKI_PARSE_TRUNCATED);
	ck_assert_uint_eq(hdr, 2);
	ck_assert_int_eq(cert_len("", &total, &hdr), JPKI_PARSE_TRUNCATED);
}
END_TEST

/* ---- token info / presence ---- */

static void make_token(uint8_t ef[JPKI_TOKEN_INFO_LEN], const char *label)
{
	memset(ef, 0x00, JPKI_TOKEN_INFO_LEN);
	memset(ef, ' ', JPKI_TOKEN_LABEL_LEN);
	memcpy(ef, label, strlen(label));
	ef[40] = 0x12; /* CK_TOKEN_INFO fields after the label are ignored */
}

START_TEST(token_labels)
{
	uint8_t ef[JPKI_TOKEN_INFO_LEN];
	enum jpki_card_type t;
	char label[33];

	make_token(ef, "JPKIAPICCTOKEN2");
	ck_assert_int_eq(jpki_token_info_parse(ef, sizeof(ef), &t, label), 0);
	ck_assert_int_eq(t, JPKI_CARD_MYNUMBER);
	ck_assert_str_eq(label, "JPKIAPICCTOKEN2");
	ck_assert_str_eq(jpki_card_type_name(t), "mynumber");

	make_token(ef, "JPKIAPICCTOKEN");
	ck_assert_int_eq(jpki_token_info_parse(ef, JPKI_TOKEN_LABEL_LEN, &t, label), 0);
	ck_assert_int_eq(t, JPKI_CARD_JUKI);
	ck_assert_str_eq(jpki_card_type_name(t), "juki-card");

	make_token(ef, "JPKIAPGPSETOKEN");
	ck_assert_int_eq(jpki_token_info_parse(ef, sizeof(ef), &t, NULL), 0);
	ck_assert_int_eq(t, JPKI_CARD_SMARTPHONE_GPSE);
	ck_assert_str_eq(jpki_card_type_name(t), "jpki-smartphone");
	make_token(ef, "JPKIAPIOSTOKEN");
	ck_assert_int_eq(jpki_token_info_parse(ef, sizeof(ef), &t, NULL), 0);
	ck_assert_int_eq(t, JPKI_CARD_SMARTPHONE_IOS);

	make_token(ef, "SOMEOTHERTOKEN");
	ck_assert_int_eq(jpki_token_info_parse(ef, sizeof(ef), &t, label), 0);
	ck_assert_int_eq(t, JPKI_CARD_OTHER);
	ck_assert_str_eq(label, "SOMEOTHERTOKEN");
	ck_assert_str_eq(jpki_card_type_name(t), "other");

	/* A prefix is not a match. */
	make_token(ef, "JPKIAPICCTOKEN22");
	ck_assert_int_eq(jpki_token_info_parse(ef, sizeof(ef), &t, NULL), 0);
	ck_assert_int_eq(t, JPKI_CARD_OTHER);
	/* NUL padding is tolerated. */
	memset(ef, 0, sizeof(ef));
	memcpy(ef, "JPKIAPICCTOKEN2", 15);
	ck_assert_int_eq(jpki_token_info_parse(ef, sizeof(ef), &t, NULL), 0);
	ck_assert_int_eq(t, JPKI_CARD_MYNUMBER);
}
END_TEST

START_TEST(token_rejects)
{
	uint8_t ef[JPKI_TOKEN_INFO_LEN];
	enum jpki_card_type t;
	char label[33] = "untouched";

	make_token(ef, "JPKIAPICCTOKEN2");
	ck_assert_int_eq(jpki_token_info_parse(ef, 31, &t, label), -1);
	ef[3] = 0x85; /* not ASCII */
	ck_assert_int_eq(jpki_token_info_parse(ef, sizeof(ef), &t, label), -1);
	ef[3] = '\n';
	ck_assert_int_eq(jpki_token_info_parse(ef, sizeof(ef), &t, label), -1);
	ck_assert_str_eq(label, "untouched");
}
END_TEST

START_TEST(cert_presence)
{
	uint8_t both[] = { 0x8F, 0x8F, 0x00 }, no_sign[] = { 0x00, 0x8F, 0x00 };
	bool sign = true, auth = false;

	ck_assert_int_eq(jpki_cert_presence_parse(both, 3, &sign, &auth), 0);
	ck_assert(sign && auth);
	ck_assert_int_eq(jpki_cert_presence_parse(no_sign, 3, &sign, &auth), 0);
	ck_assert(!sign && auth);
	ck_assert_int_eq(jpki_cert_presence_parse(both, 2, &sign, &auth), -1);
}
END_TEST

/* ---- TLV ---- */

/* 基本4情報 shaped like the real trace (FF 20 .. DF 21 offsets ..), ASCII
 * stand-ins for the UTF-8 name/address. */
static const char *basic4_hex =
	"FF 20 2A"
	" DF 21 08 00 0E 00 15 00 1E 00 29"
	" DF 22 04 54 41 52 4F"                          /* "TARO" */
	" DF 23 06 54 4F 4B 59 4F 31"                    /* "TOKYO1" */
	" DF 24 08 31 39 38 30 30 32 31 37"              /* 19800217 */
	" DF 25 01 31"
	" FF FF FF";

START_TEST(tlv_walk_basic4)
{
	uint8_t b[128];
	size_t n = hex(basic4_hex, b, sizeof(b)), pos = 0;
	struct jpki_tlv t;
	struct jpki_basic4 info;

	ck_assert_int_eq(jpki_tlv_next(b, n, &pos, &t), JPKI_TLV_OK);
	ck_assert_uint_eq(t.tag, 0xFF20);
	ck_assert(t.constructed);
	ck_assert_uint_eq(t.len, 0x2A);
	ck_assert_ptr_eq(t.value, b + 3);
	/* Only FF filler remains. */
	ck_assert_int_eq(jpki_tlv_next(b, n, &pos, &t), JPKI_TLV_END);

	ck_assert_int_eq(jpki_tlv_find_path(b, n, (const uint32_t[]){ 0xFF20, 0xDF24 }, 2, &t), JPKI_TLV_OK);
	ck_assert_uint_eq(t.len, 8);
	ck_assert_mem_eq(t.value, "19800217", 8);
	ck_assert_int_eq(jpki_tlv_find_path(b, n, (const uint32_t[]){ 0xFF20, 0xDF29 }, 2, &t), JPKI_TLV_END);
	/* DF22 is primitive: there is nothing below it. */
	ck_assert_int_eq(jpki_tlv_find_path(b, n, (const uint32_t[]){ 0xFF20, 0xDF22, 0x54 }, 3, &t), JPKI_TLV_END);

	ck_assert_int_eq(jpki_basic4_parse(b, n, &info), 0);
	ck_assert_uint_eq(info.name_len, 4);
	ck_assert_mem_eq(info.name, "TARO", 4);
	ck_assert_uint_eq(info.address_len, 6);
	ck_assert_mem_eq(info.birth, "19800217", 8);
	ck_assert_int_eq(info.sex, '1');
}
END_TEST

START_TEST(tlv_my_number_record)
{
	/* Text AP EF 0001: FF 10 0C + 12 digits + FF FF filler. */
	uint8_t b[32];
	size_t n = hex("FF 10 0C 31 32 33 34 35 36 37 38 39 30 31 32 FF FF", b, sizeof(b)), pos = 0;
	struct jpki_tlv t;

	ck_assert_uint_eq(n, 17);
	ck_assert_int_eq(jpki_tlv_next(b, n, &pos, &t), JPKI_TLV_OK);
	ck_assert_uint_eq(t.tag, 0xFF10);
	ck_assert_uint_eq(t.len, 12);
	ck_assert_int_eq(jpki_tlv_next(b, n, &pos, &t), JPKI_TLV_END);
}
END_TEST

START_TEST(tlv_long_lengths_and_tags)
{
	uint8_t b[400];
	size_t pos = 0;
	struct jpki_tlv t;

	/* 7F21 82 01 00 <256 bytes>: a CV-certificate-like header. */
	b[0] = 0x7F; b[1] = 0x21; b[2] = 0x82; b[3] = 0x01; b[4] = 0x00;
	memset(b + 5, 0xAB, 256);
	ck_assert_int_eq(jpki_tlv_next(b, 261, &pos, &t), JPKI_TLV_OK);
	ck_assert_uint_eq(t.tag, 0x7F21);
	ck_assert_uint_eq(t.len, 256);
	ck_assert_uint_eq(pos, 261);
	/* Three-byte tag, 84-form length. */
	size_t n = hex("5F 81 01 84 00 00 00 02 AA BB", b, sizeof(b));

	pos = 0;
	ck_assert_int_eq(jpki_tlv_next(b, n, &pos, &t), JPKI_TLV_OK);
	ck_assert_uint_eq(t.tag, 0x5F8101);
	ck_assert_uint_eq(t.len, 2);
	ck_assert_uint_eq(pos, n);
}
END_TEST

static enum jpki_tlv_result tlv_first(const char *h)
{
	uint8_t b[64];
	size_t n = hex(h, b, sizeof(b)), pos = 0;
	struct jpki_tlv t;

	return jpki_tlv_next(b, n, &pos, &t);
}

START_TEST(tlv_rejects)
{
	ck_assert_int_eq(tlv_first("DF 22 05 41 42"), JPKI_TLV_ERROR);           /* value truncated */
	ck_assert_int_eq(tlv_first("DF 22 82 00"), JPKI_TLV_ERROR);              /* length truncated */
	ck_assert_int_eq(tlv_first("DF"), JPKI_TLV_ERROR);                       /* tag truncated */
	ck_assert_int_eq(tlv_first("5F 81 81 01 00"), JPKI_TLV_ERROR);           /* 4-byte tag */
	ck_assert_int_eq(tlv_first("30 80 00 00"), JPKI_TLV_ERROR);              /* indefinite */
	ck_assert_int_eq(tlv_first("04 85 00 00 00 00 01 00"), JPKI_TLV_ERROR);  /* 5 length bytes */
	ck_assert_int_eq(tlv_first("04 84 FF FF FF FF 00"), JPKI_TLV_ERROR);     /* huge length */
	ck_assert_int_eq(tlv_first(""), JPKI_TLV_END);
	ck_assert_int_eq(tlv_first("00 00 00"), JPKI_TLV_END);
	ck_assert_int_eq(tlv_first("00 FF"), JPKI_TLV_ERROR);                    /* mixed filler */
}
END_TEST

START_TEST(basic4_rejects)
{
	uint8_t b[128];
	size_t n = hex(basic4_hex, b, sizeof(b));
	struct jpki_basic4 info;

	b[34] = 'X'; /* a digit of the birth date (DF24 value starts at 33) */
	ck_assert_int_eq(jpki_basic4_parse(b, n, &info), -1);
	n = hex(basic4_hex, b, sizeof(b));
	ck_assert_int_eq(jpki_basic4_parse(b, 20, &info), -1);  /* FF 20 length beyond buffer */
	b[0] = 0xFF; b[1] = 0x21;
	ck_assert_int_eq(jpki_basic4_parse(b, n, &info), -1);   /* no FF20 record */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jpki-parse");
	TCase *sw = tcase_create("status-words"), *cert = tcase_create("cert-length");
	TCase *tok = tcase_create("token-info"), *tlv = tcase_create("tlv");
	SRunner *sr;
	int failed;

	tcase_add_test(sw, sw_classes);
	tcase_add_test(sw, sw_messages);
	tcase_add_test(sw, response_split);
	tcase_add_test(cert, cert_length_forms);
	tcase_add_test(cert, cert_length_rejects);
	tcase_add_test(tok, token_labels);
	tcase_add_test(tok, token_rejects);
	tcase_add_test(tok, cert_presence);
	tcase_add_test(tlv, tlv_walk_basic4);
	tcase_add_test(tlv, tlv_my_number_record);
	tcase_add_test(tlv, tlv_long_lengths_and_tags);
	tcase_add_test(tlv, tlv_rejects);
	tcase_add_test(tlv, basic4_rejects);
	suite_add_tcase(s, sw);
	suite_add_tcase(s, cert);
	suite_add_tcase(s, tok);
	suite_add_tcase(s, tlv);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
