/* test-ctl-output.c — onshictl's printer: JSON escaping (quotes, control
 * characters, invalid UTF-8), JSON and human layouts of nested results. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-output.h"

/* Escapes len bytes of s and returns the literal (caller frees). */
static char *escaped(const char *s, size_t len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(ctl_json_escape(f, s, len), 0);
	fclose(f);
	return buf;
}

static void assert_escape(const char *in, size_t len, const char *want)
{
	char *got = escaped(in, len);

	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(json_plain_and_specials)
{
	assert_escape("abc", 3, "\"abc\"");
	assert_escape("", 0, "\"\"");
	assert_escape("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	assert_escape("/", 1, "\"/\"");
	assert_escape("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
}
END_TEST

START_TEST(json_control_characters)
{
	assert_escape("\x01\x1f", 2, "\"\\u0001\\u001f\"");
	assert_escape("a\0b", 3, "\"a\\u0000b\"");
	/* ESC must not reach a terminal unescaped. */
	assert_escape("\x1b[31m", 5, "\"\\u001b[31m\"");
	/* DEL is legal in JSON as is. */
	assert_escape("\x7f", 1, "\"\x7f\"");
}
END_TEST

START_TEST(json_utf8_kept)
{
	/* 2-, 3- and 4-byte sequences pass through: 利用者, é, U+1F600. */
	assert_escape("\xe5\x88\xa9\xe7\x94\xa8\xe8\x80\x85", 9,
		      "\"\xe5\x88\xa9\xe7\x94\xa8\xe8\x80\x85\"");
	assert_escape("\xc3\xa9", 2, "\"\xc3\xa9\"");
	assert_escape("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");
}
END_TEST

START_TEST(json_invalid_utf8_replaced)
{
	/* Lone continuation byte, truncated sequence, overlong '/', surrogate
	 * D800, above U+10FFFF, 0xff: each bad byte becomes U+FFFD. */
	assert_escape("\x80", 1, "\"\\ufffd\"");
	assert_escape("a\xe5\x88", 3, "\"a\\ufffd\\ufffd\"");
	assert_escape("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
	assert_escape("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
	assert_escape("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	assert_escape("\xff" "ok", 3, "\"\\ufffdok\"");
}
END_TEST

/* Runs fill() against a fresh printer and returns the text. */
static char *render(bool json, void (*fill)(struct ctl_out *), int *rc)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	struct ctl_out *o;

	ck_assert_ptr_nonnull(f);
	o = ctl_out_new(f, json);
	ck_assert_ptr_nonnull(o);
	fill(o);
	*rc = ctl_out_finish(o);
	fclose(f);
	return buf;
}

static void fill_readers(struct ctl_out *o)
{
	static const uint8_t atr[] = { 0x3b, 0x8a, 0x80 };

	ctl_out_string(o, "version", "0.1");
	ctl_out_begin_array(o, "readers");
	ctl_out_begin_object(o, NULL);
	ctl_out_string(o, "path", "/org/onshi/Onshi1/reader/0");
	ctl_out_bool(o, "card-present", true);
	ctl_out_hex(o, "atr", atr, sizeof(atr));
	ctl_out_begin_object(o, "tries-left");
	ctl_out_uint(o, "auth", 3);
	ctl_out_end_object(o);
	ctl_out_end_object(o);
	ctl_out_begin_object(o, NULL);
	ctl_out_string(o, "path", "/org/onshi/Onshi1/reader/1");
	ctl_out_bool(o, "card-present", false);
	ctl_out_string(o, "card-type", "");
	ctl_out_end_object(o);
	ctl_out_end_array(o);
	ctl_out_begin_array(o, "empty");
	ctl_out_end_array(o);
	ctl_out_int(o, "offset", -5);
}

START_TEST(json_nested_layout)
{
	int rc;
	char *s = render(true, fill_readers, &rc);

	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(s,
		"{\"version\":\"0.1\",\"readers\":["
		"{\"path\":\"/org/onshi/Onshi1/reader/0\",\"card-present\":true,\"atr\":\"3b8a80\","
		"\"tries-left\":{\"auth\":3}},"
		"{\"path\":\"/org/onshi/Onshi1/reader/1\",\"card-present\":false,\"card-type\":\"\"}"
		"],\"empty\":[],\"offset\":-5}\n");
	free(s);
}
END_TEST

START_TEST(human_nested_layout)
{
	int rc;
	char *s = render(false, fill_readers, &rc);

	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(s,
		"version: 0.1\n"
		"readers:\n"
		"  - path: /org/onshi/Onshi1/reader/0\n"
		"    card-present: yes\n"
		"    atr: 3b8a80\n"
		"    tries-left:\n"
		"      auth: 3\n"
		"  - path: /org/onshi/Onshi1/reader/1\n"
		"    card-present: no\n"
		"    card-type: (none)\n"
		"empty:\n"
		"  (none)\n"
		"offset: -5\n");
	free(s);
}
END_TEST

static void fill_times_and_controls(struct ctl_out *o)
{
	ctl_out_time(o, "not-after", 1767225600);   /* 2026-01-01 00:00:00 UTC */
	ctl_out_string(o, "subject", "CN=a\x1b[2Jb\nc");
	ctl_out_begin_array(o, "list");
	ctl_out_string(o, NULL, "x");
	ctl_out_uint(o, NULL, 7);
	ctl_out_end_array(o);
}

START_TEST(human_time_and_control_chars)
{
	int rc;
	char *s = render(false, fill_times_and_controls, &rc);

	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(s,
		"not-after: 2026-01-01 00:00:00 UTC\n"
		"subject: CN=a?[2Jb?c\n"
		"list:\n"
		"  - x\n"
		"  - 7\n");
	free(s);
}
END_TEST

static void fill_c1_controls(struct ctl_out *o)
{
	/* U+009B (CSI) as UTF-8, a lone 0x9B byte (CSI on an 8-bit terminal),
	 * then Japanese text and U+00A0 that must stay. */
	ctl_out_string(o, "subject", "CN=a\xc2\x9b" "2Jb\x9b" "2Jc \xe5\xb1\xb1\xe7\x94\xb0\xc2\xa0" "d");
}

/* A certificate field printed for people cannot carry C1 controls either
 * (a card chooses its subject). */
START_TEST(human_c1_controls)
{
	int rc;
	char *s = render(false, fill_c1_controls, &rc);

	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(s, "subject: CN=a?2Jb?2Jc \xe5\xb1\xb1\xe7\x94\xb0\xc2\xa0" "d\n");
	free(s);
}
END_TEST

START_TEST(json_time_is_integer_and_arrays_of_scalars)
{
	int rc;
	char *s = render(true, fill_times_and_controls, &rc);

	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(s, "{\"not-after\":1767225600,\"subject\":\"CN=a\\u001b[2Jb\\nc\","
			    "\"list\":[\"x\",7]}\n");
	free(s);
}
END_TEST

static void fill_unbalanced(struct ctl_out *o)
{
	ctl_out_begin_object(o, "a");
	ctl_out_begin_array(o, "b");
	ctl_out_end_object(o);    /* wrong kind: ignored, counted */
	/* left open: finish closes them */
}

START_TEST(misuse_still_gives_valid_json)
{
	int rc;
	char *s = render(true, fill_unbalanced, &rc);

	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(s, "{\"a\":{\"b\":[]}}\n");
	free(s);
}
END_TEST

static void fill_too_deep(struct ctl_out *o)
{
	for (int i = 0; i < CTL_OUT_MAX_DEPTH + 3; i++)
		ctl_out_begin_object(o, "x");
	for (int i = 0; i < CTL_OUT_MAX_DEPTH + 3; i++)
		ctl_out_end_object(o);
}

START_TEST(depth_limit)
{
	int rc;
	char *s = render(true, fill_too_deep, &rc);
	size_t opens = 0, closes = 0;

	ck_assert_int_eq(rc, -1);
	for (const char *p = s; *p; p++) {
		opens += *p == '{';
		closes += *p == '}';
	}
	ck_assert_uint_eq(opens, closes);
	ck_assert_uint_eq(opens, CTL_OUT_MAX_DEPTH + 1);
	free(s);
}
END_TEST

START_TEST(hex_encode)
{
	static const uint8_t data[] = { 0x00, 0x0f, 0xa5, 0xff };
	char out[2 * sizeof(data) + 1];

	ctl_hex_encode(out, data, sizeof(data));
	ck_assert_str_eq(out, "000fa5ff");
	ctl_hex_encode(out, data, 0);
	ck_assert_str_eq(out, "");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ctl-output");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, json_plain_and_specials);
	tcase_add_test(tc, json_control_characters);
	tcase_add_test(tc, json_utf8_kept);
	tcase_add_test(tc, json_invalid_utf8_replaced);
	tcase_add_test(tc, json_nested_layout);
	tcase_add_test(tc, human_nested_layout);
	tcase_add_test(tc, human_time_and_control_chars);
	tcase_add_test(tc, human_c1_controls);
	tcase_add_test(tc, json_time_is_integer_and_arrays_of_scalars);
	tcase_add_test(tc, misuse_still_gives_valid_json);
	tcase_add_test(tc, depth_limit);
	tcase_add_test(tc, hex_encode);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
