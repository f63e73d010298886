/* test-jpki-apdu.c — exact bytes of every JPKI command builder. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <onshi/jpki-const.h>

#include "jpki-apdu.h"

/* Parses "00 A4 ..." into out; returns the byte count. */
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

#define ck_assert_apdu(buf, len, expect_hex) do {                        \
	uint8_t exp_[600];                                              \
	size_t exp_len_ = hex((expect_hex), exp_, sizeof(exp_));        \
	ck_assert_uint_eq((len), exp_len_);                             \
	ck_assert_mem_eq((buf), exp_, exp_len_);                        \
} while (0)

START_TEST(select_df_jpki_ap)
{
	static const uint8_t aid[] = JPKI_AID_JPKI;
	uint8_t buf[64];
	size_t n = jpki_apdu_select_df(buf, sizeof(buf), aid, sizeof(aid));

	ck_assert_apdu(buf, n, "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01");
	ck_assert_uint_eq(jpki_apdu_select_df(buf, 14, aid, sizeof(aid)), 0); /* one byte short */
	ck_assert_uint_eq(jpki_apdu_select_df(buf, sizeof(buf), aid, 0), 0);
	ck_assert_uint_eq(jpki_apdu_select_df(buf, sizeof(buf), aid, 17), 0);
}
END_TEST

START_TEST(select_ef_fid)
{
	uint8_t buf[8];

	ck_assert_apdu(buf, jpki_apdu_select_ef(buf, sizeof(buf), JPKI_EF_AUTH_CERT), "00 A4 02 0C 02 00 0A");
	ck_assert_apdu(buf, jpki_apdu_select_ef(buf, sizeof(buf), 0x1234), "00 A4 02 0C 02 12 34");
	ck_assert_uint_eq(jpki_apdu_select_ef(buf, 6, 0x000A), 0);
}
END_TEST

START_TEST(read_binary_short)
{
	uint8_t buf[8];

	ck_assert_apdu(buf, jpki_apdu_read_binary(buf, sizeof(buf), 0, 4), "00 B0 00 00 04");
	ck_assert_apdu(buf, jpki_apdu_read_binary(buf, sizeof(buf), 0x0104, 256), "00 B0 01 04 00");
	ck_assert_apdu(buf, jpki_apdu_read_binary(buf, sizeof(buf), 0x7FFF, 1), "00 B0 7F FF 01");
	ck_assert_apdu(buf, jpki_apdu_read_binary(buf, sizeof(buf), 4, 255), "00 B0 00 04 FF");
	/* b8 of P1 would mean SFI addressing: offsets above 0x7FFF are refused. */
	ck_assert_uint_eq(jpki_apdu_read_binary(buf, sizeof(buf), 0x8000, 4), 0);
	ck_assert_uint_eq(jpki_apdu_read_binary(buf, sizeof(buf), 0, 0), 0);
	ck_assert_uint_eq(jpki_apdu_read_binary(buf, sizeof(buf), 0, 257), 0);
	ck_assert_uint_eq(jpki_apdu_read_binary(buf, 4, 0, 4), 0);
}
END_TEST

START_TEST(read_binary_extended)
{
	uint8_t buf[8];

	/* The real-card trace in jpki.md: 00 B0 00 04 00 06 1F. */
	ck_assert_apdu(buf, jpki_apdu_read_binary_ext(buf, sizeof(buf), 4, 0x061F), "00 B0 00 04 00 06 1F");
	ck_assert_apdu(buf, jpki_apdu_read_binary_ext(buf, sizeof(buf), 0, 65536), "00 B0 00 00 00 00 00");
	ck_assert_apdu(buf, jpki_apdu_read_binary_ext(buf, sizeof(buf), 0, 1), "00 B0 00 00 00 00 01");
	ck_assert_uint_eq(jpki_apdu_read_binary_ext(buf, sizeof(buf), 0, 65537), 0);
	ck_assert_uint_eq(jpki_apdu_read_binary_ext(buf, sizeof(buf), 0x8000, 16), 0);
	ck_assert_uint_eq(jpki_apdu_read_binary_ext(buf, 6, 0, 16), 0);
}
END_TEST

START_TEST(verify_with_pin_and_status)
{
	uint8_t buf[32];

	ck_assert_apdu(buf, jpki_apdu_verify(buf, sizeof(buf), (const uint8_t *)"1234", 4),
		       "00 20 00 80 04 31 32 33 34");
	ck_assert_apdu(buf, jpki_apdu_verify(buf, sizeof(buf), (const uint8_t *)"ABC123", 6),
		       "00 20 00 80 06 41 42 43 31 32 33");
	ck_assert_apdu(buf, jpki_apdu_verify_status(buf, sizeof(buf)), "00 20 00 80");
	ck_assert_uint_eq(jpki_apdu_verify(buf, 8, (const uint8_t *)"1234", 4), 0);
	ck_assert_uint_eq(jpki_apdu_verify(buf, sizeof(buf), (const uint8_t *)"", 0), 0);
	ck_assert_uint_eq(jpki_apdu_verify_status(buf, 3), 0);
}
END_TEST

START_TEST(digest_info_all_hashes)
{
	uint8_t digest[64], out[128];

	for (size_t i = 0; i < sizeof(digest); i++)
		digest[i] = (uint8_t)(0xA0 + i);
	ck_assert_uint_eq(jpki_digest_info(JPKI_HASH_SHA256, digest, 32, out, sizeof(out)), 51);
	ck_assert_apdu(out, 19, "30 31 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20");
	ck_assert_mem_eq(out + 19, digest, 32);
	ck_assert_uint_eq(jpki_digest_info(JPKI_HASH_SHA384, digest, 48, out, sizeof(out)), 67);
	ck_assert_apdu(out, 19, "30 41 30 0D 06 09 60 86 48 01 65 03 04 02 02 05 00 04 30");
	ck_assert_mem_eq(out + 19, digest, 48);
	ck_assert_uint_eq(jpki_digest_info(JPKI_HASH_SHA512, digest, 64, out, sizeof(out)), 83);
	ck_assert_apdu(out, 19, "30 51 30 0D 06 09 60 86 48 01 65 03 04 02 03 05 00 04 40");
	ck_assert_mem_eq(out + 19, digest, 64);
	/* Digest length must match the hash; capacity must fit. */
	ck_assert_uint_eq(jpki_digest_info(JPKI_HASH_SHA256, digest, 48, out, sizeof(out)), 0);
	ck_assert_uint_eq(jpki_digest_info(JPKI_HASH_SHA512, digest, 32, out, sizeof(out)), 0);
	ck_assert_uint_eq(jpki_digest_info(JPKI_HASH_SHA256, digest, 32, out, 50), 0);
	ck_assert_uint_eq(jpki_digest_info((enum jpki_hash)7, digest, 32, out, sizeof(out)), 0);
}
END_TEST

START_TEST(hash_names)
{
	enum jpki_hash h;

	ck_assert_int_eq(jpki_hash_from_name("sha384", &h), 0);
	ck_assert_int_eq(h, JPKI_HASH_SHA384);
	ck_assert_str_eq(jpki_hash_name(JPKI_HASH_SHA512), "sha512");
	ck_assert_int_eq(jpki_hash_from_name("SHA256", &h), -1);
	ck_assert_int_eq(jpki_hash_from_name("sha1", &h), -1);
	ck_assert_int_eq(jpki_hash_from_name(NULL, &h), -1);
	ck_assert_uint_eq(jpki_hash_digest_len(JPKI_HASH_SHA384), 48);
}
END_TEST

START_TEST(compute_signature_short_and_extended)
{
	uint8_t digest[32], di[64], buf[600], big[300];
	size_t di_len, n;

	memset(digest, 0x11, sizeof(digest));
	di_len = jpki_digest_info(JPKI_HASH_SHA256, digest, sizeof(digest), di, sizeof(di));
	n = jpki_apdu_compute_signature(buf, sizeof(buf), di, di_len);
	/* 80 2A 00 80 33 <51 bytes> 00, as in the real trace. */
	ck_assert_uint_eq(n, 4 + 1 + 51 + 1);
	ck_assert_apdu(buf, 5, "80 2A 00 80 33");
	ck_assert_mem_eq(buf + 5, di, 51);
	ck_assert_uint_eq(buf[56], 0x00);
	ck_assert_uint_eq(jpki_apdu_compute_signature(buf, 56, di, di_len), 0);

	memset(big, 0x5A, sizeof(big));
	n = jpki_apdu_compute_signature(buf, sizeof(buf), big, sizeof(big));
	ck_assert_uint_eq(n, 4 + 3 + 300 + 2);
	ck_assert_apdu(buf, 7, "80 2A 00 80 00 01 2C");
	ck_assert_mem_eq(buf + 7, big, 300);
	ck_assert_apdu(buf + 307, 2, "00 00");
	ck_assert_uint_eq(jpki_apdu_compute_signature(buf, sizeof(buf), big, 0), 0);
}
END_TEST

START_TEST(get_response)
{
	uint8_t buf[8];

	ck_assert_apdu(buf, jpki_apdu_get_response(buf, sizeof(buf), 0x10), "00 C0 00 00 10");
	ck_assert_apdu(buf, jpki_apdu_get_response(buf, sizeof(buf), 256), "00 C0 00 00 00");
	ck_assert_uint_eq(jpki_apdu_get_response(buf, sizeof(buf), 0), 0);
	ck_assert_uint_eq(jpki_apdu_get_response(buf, 4, 1), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jpki-apdu");
	TCase *tc = tcase_create("builders");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, select_df_jpki_ap);
	tcase_add_test(tc, select_ef_fid);
	tcase_add_test(tc, read_binary_short);
	tcase_add_test(tc, read_binary_extended);
	tcase_add_test(tc, verify_with_pin_and_status);
	tcase_add_test(tc, digest_info_all_hashes);
	tcase_add_test(tc, hash_names);
	tcase_add_test(tc, compute_signature_short_and_extended);
	tcase_add_test(tc, get_response);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
