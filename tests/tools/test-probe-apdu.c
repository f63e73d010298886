/* test-probe-apdu.c — Check tests of the probe's pure APDU helpers: exact
 * bytes of every command, bounds of every builder and parser. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <onshi/part10-const.h>
#include "tests/tools/probe-apdu.h"

static void expect_bytes(const uint8_t *got, size_t got_len, const char *hex)
{
	uint8_t want[600];
	long n = probe_hex_parse(hex, want, sizeof want);
	ck_assert_int_ge(n, 0);
	ck_assert_uint_eq(got_len, (size_t)n);
	ck_assert_mem_eq(got, want, (size_t)n);
}

START_TEST(select_commands)
{
	uint8_t b[32];
	expect_bytes(b, probe_build_select_jpki(b, sizeof b),
		     "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01");
	expect_bytes(b, probe_build_select_ef(b, sizeof b, 0x000A), "00 A4 02 0C 02 00 0A");
	ck_assert_uint_eq(probe_build_select_jpki(b, 14), 0);
	ck_assert_uint_eq(probe_build_select_ef(b, 6, 0x0018), 0);
}
END_TEST

START_TEST(read_binary_bounds)
{
	uint8_t b[8];
	expect_bytes(b, probe_build_read_binary(b, sizeof b, 0, 4), "00 B0 00 00 04");
	expect_bytes(b, probe_build_read_binary(b, sizeof b, 0x0104, 256), "00 B0 01 04 00");
	ck_assert_uint_eq(probe_build_read_binary(b, sizeof b, 0x8000, 4), 0);
	ck_assert_uint_eq(probe_build_read_binary(b, sizeof b, 0, 0), 0);
	ck_assert_uint_eq(probe_build_read_binary(b, sizeof b, 0, 257), 0);
	expect_bytes(b, probe_build_read_binary_ext(b, sizeof b, 4, 0x061F), "00 B0 00 04 00 06 1F");
	expect_bytes(b, probe_build_read_binary_ext(b, sizeof b, 0, 65536), "00 B0 00 00 00 00 00");
	ck_assert_uint_eq(probe_build_read_binary_ext(b, sizeof b, 0, 65537), 0);
	ck_assert_uint_eq(probe_build_read_binary_ext(b, 6, 0, 10), 0);
}
END_TEST

START_TEST(verify_and_sign)
{
	uint8_t b[64], hash[32];
	expect_bytes(b, probe_build_verify_query(b, sizeof b), "00 20 00 80");
	expect_bytes(b, probe_build_verify(b, sizeof b, "1234", 4), "00 20 00 80 04 31 32 33 34");
	ck_assert_uint_eq(probe_build_verify(b, 8, "1234", 4), 0);
	for (int i = 0; i < 32; i++)
		hash[i] = (uint8_t)i;
	expect_bytes(b, probe_build_sign_sha256(b, sizeof b, hash),
		     "80 2A 00 80 33 30 31 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20"
		     "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F 00");
	ck_assert_uint_eq(probe_build_sign_sha256(b, 56, hash), 0);
	expect_bytes(b, probe_build_get_response(b, sizeof b, 256), "00 C0 00 00 00");
}
END_TEST

START_TEST(pin_rules)
{
	ck_assert(probe_pin_valid(PROBE_KEY_AUTH, "0123", 4));
	ck_assert(!probe_pin_valid(PROBE_KEY_AUTH, "012", 3));
	ck_assert(!probe_pin_valid(PROBE_KEY_AUTH, "01a3", 4));
	ck_assert(!probe_pin_valid(PROBE_KEY_AUTH, "01234", 5));
	ck_assert(probe_pin_valid(PROBE_KEY_SIGN, "TESTPW99", 8));
	ck_assert(!probe_pin_valid(PROBE_KEY_SIGN, "testpw99", 8));
	ck_assert(!probe_pin_valid(PROBE_KEY_SIGN, "ABC12", 5));
	ck_assert(!probe_pin_valid(PROBE_KEY_SIGN, "ABCDEFGHIJ1234567", 17));
}
END_TEST

START_TEST(cert_header)
{
	size_t total = 0;
	const uint8_t ok[] = { 0x30, 0x82, 0x06, 0x1F };
	ck_assert_int_eq(probe_cert_total_len(ok, 4, &total), 0);
	ck_assert_uint_eq(total, 0x061F + 4);
	const uint8_t not_seq[] = { 0x31, 0x82, 0x06, 0x1F };
	ck_assert_int_eq(probe_cert_total_len(not_seq, 4, &total), -1);
	const uint8_t short_form[] = { 0x30, 0x81, 0x90, 0x00 };
	ck_assert_int_eq(probe_cert_total_len(short_form, 4, &total), -1);
	const uint8_t huge[] = { 0x30, 0x82, 0xFF, 0xFF };
	ck_assert_int_eq(probe_cert_total_len(huge, 4, &total), -1);
	const uint8_t non_minimal[] = { 0x30, 0x82, 0x00, 0x10 };
	ck_assert_int_eq(probe_cert_total_len(non_minimal, 4, &total), -1);
	ck_assert_int_eq(probe_cert_total_len(ok, 3, &total), -1);
	uint8_t sw[] = { 0x63, 0xC2 };
	ck_assert_uint_eq(probe_sw(sw, 2), 0x63C2);
	ck_assert_uint_eq(probe_sw(sw, 1), 0);
}
END_TEST

START_TEST(feature_list)
{
	uint32_t code = 0;
	const uint8_t list[] = { 0x0A, 4, 0x42, 0x33, 0x00, 0x0A, 0x06, 4, 0x42, 0x33, 0x00, 0x06 };
	ck_assert_int_eq(probe_find_feature(list, sizeof list, FEATURE_VERIFY_PIN_DIRECT, &code), 0);
	ck_assert_uint_eq(code, 0x42330006);
	ck_assert_int_eq(probe_find_feature(list, sizeof list, FEATURE_MODIFY_PIN_DIRECT, &code), 1);
	ck_assert_int_eq(probe_find_feature(list, sizeof list - 1, 0x06, &code), -1);
	const uint8_t bad_len[] = { 0x06, 5, 1, 2, 3, 4, 5 };
	ck_assert_int_eq(probe_find_feature(bad_len, sizeof bad_len, 0x06, &code), -1);
	ck_assert_int_eq(probe_find_feature(list, 1, 0x06, &code), -1);
	ck_assert_int_eq(probe_find_feature(list, 0, 0x06, &code), 1);
}
END_TEST

START_TEST(pin_verify_structure)
{
	uint8_t b[64];
	size_t n = probe_build_pin_verify_direct(b, sizeof b, 4, 30);
	expect_bytes(b, n, "1E 1E 82 04 00 04 04 02 01 11 04 00 000000 09000000"
			   "00 20 00 80 04 FF FF FF FF");
	ck_assert_uint_eq(probe_build_pin_verify_direct(b, 27, 4, 30), 0);
	ck_assert_uint_eq(probe_build_pin_verify_direct(b, sizeof b, 0, 30), 0);
}
END_TEST

START_TEST(hex)
{
	uint8_t b[4];
	char s[9];
	ck_assert_int_eq(probe_hex_parse("0a:B1 ff", b, sizeof b), 3);
	probe_hex_format(b, 3, s);
	ck_assert_str_eq(s, "0AB1FF");
	ck_assert_int_eq(probe_hex_parse("0a1", b, sizeof b), -1);
	ck_assert_int_eq(probe_hex_parse("zz", b, sizeof b), -1);
	ck_assert_int_eq(probe_hex_parse("0102030405", b, sizeof b), -1);
	enum probe_cert c;
	ck_assert_int_eq(probe_cert_from_name("sign-ca", &c), 0);
	ck_assert_uint_eq(probe_cert_ef(c), 0x0002);
	ck_assert_int_eq(probe_cert_from_name("auth", &c), 0);
	ck_assert_uint_eq(probe_cert_ef(c), 0x000A);
	ck_assert_int_eq(probe_cert_from_name("other", &c), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("probe-apdu");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, select_commands);
	tcase_add_test(tc, read_binary_bounds);
	tcase_add_test(tc, verify_and_sign);
	tcase_add_test(tc, pin_rules);
	tcase_add_test(tc, cert_header);
	tcase_add_test(tc, feature_list);
	tcase_add_test(tc, pin_verify_structure);
	tcase_add_test(tc, hex);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
