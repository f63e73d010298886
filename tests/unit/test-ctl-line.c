/* test-ctl-line.c — the agent's line reader: terminators, the length limit
 * (nothing past it is stored), end of input, wiping. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-line.h"

static enum ctl_line_state feed(struct ctl_line *l, const char *s)
{
	enum ctl_line_state st = CTL_LINE_MORE;

	for (; *s && st == CTL_LINE_MORE; s++)
		st = ctl_line_feed(l, *s);
	return st;
}

START_TEST(line_ends_at_newline_or_cr)
{
	char buf[16];
	struct ctl_line l;

	ctl_line_init(&l, buf, sizeof(buf));
	ck_assert_int_eq(feed(&l, "1234\nrest"), CTL_LINE_DONE);
	ck_assert_str_eq(buf, "1234");
	ck_assert_uint_eq(l.len, 4);
	ctl_line_wipe(&l);
	ck_assert_int_eq(feed(&l, "TESTPW99\r"), CTL_LINE_DONE);
	ck_assert_str_eq(buf, "TESTPW99");
	/* An empty line is a (empty) answer, not end of input. */
	ctl_line_wipe(&l);
	ck_assert_int_eq(feed(&l, "\n"), CTL_LINE_DONE);
	ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(limit_is_cap_minus_one)
{
	char buf[6];
	struct ctl_line l;

	ctl_line_init(&l, buf, sizeof(buf));
	ck_assert_int_eq(feed(&l, "12345\n"), CTL_LINE_DONE);
	ck_assert_str_eq(buf, "12345");
	ctl_line_wipe(&l);
	ck_assert_int_eq(feed(&l, "123456789\n"), CTL_LINE_TOO_LONG);
	/* Only what fits was stored; the buffer is still terminated. */
	ck_assert_uint_eq(l.len, 5);
	ck_assert_str_eq(buf, "12345");
	ck_assert_int_eq(ctl_line_eof(&l), CTL_LINE_TOO_LONG);
}
END_TEST

START_TEST(end_of_input)
{
	char buf[8];
	struct ctl_line l;

	ctl_line_init(&l, buf, sizeof(buf));
	ck_assert_int_eq(ctl_line_eof(&l), CTL_LINE_EMPTY_EOF);
	ck_assert_int_eq(feed(&l, "12"), CTL_LINE_MORE);
	ck_assert_int_eq(ctl_line_eof(&l), CTL_LINE_DONE);
	ck_assert_str_eq(buf, "12");
}
END_TEST

START_TEST(wipe_zeroes_everything)
{
	char buf[8];
	struct ctl_line l;

	memset(buf, 'x', sizeof(buf));
	ctl_line_init(&l, buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		ck_assert_int_eq(buf[i], 0);
	feed(&l, "9876543210");
	ck_assert(l.overflow);
	ctl_line_wipe(&l);
	ck_assert(!l.overflow);
	ck_assert_uint_eq(l.len, 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		ck_assert_int_eq(buf[i], 0);
}
END_TEST

START_TEST(pin_prompt_shows_known_counts_only)
{
	char buf[256];
	ck_assert_str_eq(ctl_line_pin_prompt(buf, sizeof(buf), "auth", 3),
			 "Enter the PIN of the user-authentication certificate (4 digits) (3 tries left): ");
	/* 0: the card gave no count; "0 tries left" would read as blocked */
	ck_assert_str_eq(ctl_line_pin_prompt(buf, sizeof(buf), "sign", 0),
			 "Enter the password of the signature certificate (6-16 letters and digits): ");
	ctl_line_pin_prompt(buf, sizeof(buf), "card-info", 1);
	ck_assert_ptr_nonnull(strstr(buf, "last try"));
	ck_assert_ptr_nonnull(strstr(buf, "(1 try left)"));
	ck_assert_str_eq(ctl_line_pin_prompt(buf, sizeof(buf), "future-kind", 2),
			 "Enter the PIN (2 tries left): ");
	ck_assert_str_eq(ctl_line_pinpad_prompt(buf, sizeof(buf), 2),
			 "enter your PIN on the reader's keypad (2 tries left)\n");
	ck_assert_str_eq(ctl_line_pinpad_prompt(buf, sizeof(buf), 0),
			 "enter your PIN on the reader's keypad\n");
	/* cut, never overrun */
	char small[8];
	memset(small, 'x', sizeof(small));
	ck_assert_str_eq(ctl_line_pin_prompt(small, sizeof(small), "auth", 3), "Enter t");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ctl-line");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, line_ends_at_newline_or_cr);
	tcase_add_test(tc, limit_is_cap_minus_one);
	tcase_add_test(tc, end_of_input);
	tcase_add_test(tc, wipe_zeroes_everything);
	tcase_add_test(tc, pin_prompt_shows_known_counts_only);
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
