/* test-onshid-logic.c — onshid's pure logic: the authorization rule, the
 * D-Bus error mapping, and the PC/SC Part 10 helpers (feature list parsing,
 * the PIN_VERIFY_STRUCTURE, the contactless guess). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <onshi/part10-const.h>

#include "authz.h"
#include "errors.h"
#include "pcsc-card.h"

/* ---- authz_decide ---- */

START_TEST(authz_use_is_anyone)
{
	struct authz_identity who = { .uid = 1000, .gid = 1000 };
	ck_assert(authz_decide(&who, AUTHZ_USE, 50, true));
}
END_TEST

START_TEST(authz_personal_needs_group)
{
	gid_t groups[] = { 10, 20, 50 };
	struct authz_identity who = { .uid = 1000, .gid = 1000 };

	ck_assert(!authz_decide(&who, AUTHZ_PERSONAL, 50, true));
	who.groups = groups;
	who.n_groups = 2;          /* 50 not among the first two */
	ck_assert(!authz_decide(&who, AUTHZ_PERSONAL, 50, true));
	who.n_groups = 3;
	ck_assert(authz_decide(&who, AUTHZ_PERSONAL, 50, true));
	who.n_groups = 0;
	who.gid = 50;              /* primary group counts too */
	ck_assert(authz_decide(&who, AUTHZ_PERSONAL, 50, true));
	/* Without a configured group nobody but root qualifies. */
	ck_assert(!authz_decide(&who, AUTHZ_PERSONAL, 50, false));
}
END_TEST

START_TEST(authz_root)
{
	struct authz_identity root = { .uid = 0, .gid = 0 };
	struct authz_identity user = { .uid = 1, .gid = 0 };

	ck_assert(authz_decide(&root, AUTHZ_ROOT, 0, false));
	ck_assert(authz_decide(&root, AUTHZ_PERSONAL, 0, false));
	ck_assert(!authz_decide(&user, AUTHZ_ROOT, 0, true));
	ck_assert(!authz_decide(NULL, AUTHZ_USE, 0, true));
}
END_TEST

/* ---- errors ---- */

START_TEST(error_names)
{
	ck_assert_str_eq(errors_name_for_jpki(JPKI_ERR_PIN_INCORRECT), ONSHI_ERROR_PIN_INCORRECT);
	ck_assert_str_eq(errors_name_for_jpki(JPKI_ERR_LAST_TRY_REFUSED), ONSHI_ERROR_LAST_TRY_REFUSED);
	ck_assert_str_eq(errors_name_for_jpki(JPKI_ERR_PIN_FORMAT), SD_BUS_ERROR_INVALID_ARGS);
	ck_assert_str_eq(errors_name_for_jpki(JPKI_ERR_CARD_REMOVED), ONSHI_ERROR_CARD_REMOVED);
	ck_assert_str_eq(errors_name_for_jpki(JPKI_ERR_NOT_FOUND), ONSHI_ERROR_UNSUPPORTED_CARD);
	ck_assert_str_eq(errors_name_for_jpki(JPKI_ERR_READER), ONSHI_ERROR_READER_ERROR);
}
END_TEST

START_TEST(error_pin_incorrect_message)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;

	ck_assert_int_lt(errors_set_jpki(&e, JPKI_ERR_PIN_INCORRECT, 2), 0);
	ck_assert_str_eq(e.name, ONSHI_ERROR_PIN_INCORRECT);
	ck_assert_ptr_nonnull(strstr(e.message, "2 tries left"));
	sd_bus_error_free(&e);
	errors_set_jpki(&e, JPKI_ERR_PIN_INCORRECT, 1);
	ck_assert_ptr_nonnull(strstr(e.message, "1 try left"));
	sd_bus_error_free(&e);
}
END_TEST

/* ---- Part 10 ---- */

START_TEST(feature_found_absent_malformed)
{
	const uint8_t list[] = {
		FEATURE_VERIFY_PIN_START, 4, 0x42, 0x33, 0x00, 0x01,
		FEATURE_VERIFY_PIN_DIRECT, 4, 0x42, 0x33, 0x00, 0x06,
	};
	uint32_t code = 0;

	ck_assert_int_eq(pcsc_find_feature(list, sizeof list, FEATURE_VERIFY_PIN_DIRECT, &code), 0);
	ck_assert_uint_eq(code, 0x42330006u);
	ck_assert_int_eq(pcsc_find_feature(list, sizeof list, FEATURE_MODIFY_PIN_DIRECT, &code), 1);
	ck_assert_int_eq(pcsc_find_feature(list, 0, FEATURE_VERIFY_PIN_DIRECT, &code), 1);
	/* Truncated value, wrong length byte, lone tag. */
	ck_assert_int_eq(pcsc_find_feature(list, 10, FEATURE_VERIFY_PIN_DIRECT, &code), -1);
	const uint8_t bad_len[] = { FEATURE_VERIFY_PIN_DIRECT, 5, 1, 2, 3, 4, 5 };
	ck_assert_int_eq(pcsc_find_feature(bad_len, sizeof bad_len, FEATURE_VERIFY_PIN_DIRECT, &code), -1);
	ck_assert_int_eq(pcsc_find_feature(list, 1, FEATURE_VERIFY_PIN_DIRECT, &code), -1);
}
END_TEST

START_TEST(verify_structure)
{
	uint8_t buf[64];
	size_t n = pcsc_build_verify_pin_direct(buf, sizeof buf, 4, 30);

	ck_assert_uint_eq(n, PIN_VERIFY_HEADER_LEN + 9);
	ck_assert_uint_eq(buf[PIN_VERIFY_bTimerOut], 30);
	ck_assert_uint_eq(buf[PIN_VERIFY_bmFormatString], PIN_FMT_SYSTEM_UNITS_BYTES | PIN_FMT_TYPE_ASCII);
	ck_assert_uint_eq(buf[PIN_VERIFY_wPINMaxExtraDigit], 4);
	ck_assert_uint_eq(buf[PIN_VERIFY_wPINMaxExtraDigit + 1], 4);
	ck_assert_uint_eq(buf[PIN_VERIFY_ulDataLength], 9);
	const uint8_t apdu[] = { 0x00, 0x20, 0x00, 0x80, 0x04, 0xFF, 0xFF, 0xFF, 0xFF };
	ck_assert_mem_eq(buf + PIN_VERIFY_abData, apdu, sizeof apdu);
	ck_assert_uint_eq(pcsc_build_verify_pin_direct(buf, PIN_VERIFY_HEADER_LEN + 8, 4, 30), 0);
	ck_assert_uint_eq(pcsc_build_verify_pin_direct(buf, sizeof buf, 0, 30), 0);
	ck_assert_uint_eq(pcsc_build_verify_pin_direct(buf, sizeof buf, 16, 30), 0);
}
END_TEST

START_TEST(contactless_guess)
{
	const uint8_t pseudo[] = { 0x3B, 0x88, 0x80, 0x01, 0x00, 0x00, 0x05, 0xE0 };
	const uint8_t contact[] = { 0x3B, 0xDA, 0x13, 0xFF, 0x81, 0x31 };

	ck_assert(pcsc_looks_contactless("ACS ACR39U ICC Reader 00 00", pseudo, sizeof pseudo));
	ck_assert(!pcsc_looks_contactless("ACS ACR39U ICC Reader 00 00", contact, sizeof contact));
	ck_assert(pcsc_looks_contactless("SONY FeliCa RC-S380/P 00 00 (NFC)", contact, sizeof contact));
	ck_assert(pcsc_looks_contactless("Identiv uTrust 3700 F CL Reader [PICC] 01 00", NULL, 0));
	ck_assert(!pcsc_looks_contactless(NULL, pseudo, 3));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("onshid-logic");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, authz_use_is_anyone);
	tcase_add_test(tc, authz_personal_needs_group);
	tcase_add_test(tc, authz_root);
	tcase_add_test(tc, error_names);
	tcase_add_test(tc, error_pin_incorrect_message);
	tcase_add_test(tc, feature_found_absent_malformed);
	tcase_add_test(tc, verify_structure);
	tcase_add_test(tc, contactless_guess);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
