/* test-ctl-args.c — onshictl's command line: verbs, options before and
 * after the verb, value checks, hex, reader paths, exit-code mapping. */
#include <check.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-args.h"

static char err[256];

/* Parses a NULL-terminated list of words (argv[0] is added). */
static int parse(struct ctl_args *a, ...)
{
	char *argv[32] = { (char *)"onshictl" };
	int argc = 1;
	va_list ap;
	char *w;

	va_start(ap, a);
	while ((w = va_arg(ap, char *)) && argc < 31)
		argv[argc++] = w;
	va_end(ap);
	err[0] = '\0';
	return ctl_parse_args(argc, argv, a, err, sizeof(err));
}

START_TEST(defaults)
{
	struct ctl_args a;

	ck_assert_int_eq(parse(&a, "readers", NULL), 0);
	ck_assert_int_eq(a.verb, CTL_VERB_READERS);
	ck_assert_ptr_null(a.address);
	ck_assert_ptr_null(a.reader);
	ck_assert(!a.json);
	ck_assert_uint_eq(a.timeout_sec, CTL_DEFAULT_TIMEOUT_SEC);
	ck_assert(!a.timeout_given);
}
END_TEST

START_TEST(globals_before_and_after_verb)
{
	struct ctl_args a;

	ck_assert_int_eq(parse(&a, "--json", "--address", "unix:path=/x", "status",
			       "--reader=2", "--timeout", "7", NULL), 0);
	ck_assert_int_eq(a.verb, CTL_VERB_STATUS);
	ck_assert(a.json);
	ck_assert_str_eq(a.address, "unix:path=/x");
	ck_assert_str_eq(a.reader, "2");
	ck_assert_uint_eq(a.timeout_sec, 7);
	ck_assert(a.timeout_given);
	/* --system after --address goes back to the system bus. */
	ck_assert_int_eq(parse(&a, "--address", "unix:path=/x", "--system", "readers", NULL), 0);
	ck_assert_ptr_null(a.address);
}
END_TEST

START_TEST(cert_forms)
{
	struct ctl_args a;

	ck_assert_int_eq(parse(&a, "cert", NULL), 0);
	ck_assert_str_eq(a.which, "auth");
	ck_assert_int_eq(a.cert_format, CTL_CERT_INFO);
	ck_assert_int_eq(parse(&a, "cert", "sign-ca", "--pem", "--out", "f.pem", NULL), 0);
	ck_assert_str_eq(a.which, "sign-ca");
	ck_assert_int_eq(a.cert_format, CTL_CERT_PEM);
	ck_assert_str_eq(a.out_file, "f.pem");
	ck_assert_int_eq(parse(&a, "--der", "cert", "auth-ca", NULL), 0);
	ck_assert_int_eq(a.cert_format, CTL_CERT_DER);
	ck_assert_int_eq(parse(&a, "cert", "bogus", NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "bogus"));
	ck_assert_int_eq(parse(&a, "cert", "auth", "sign", NULL), -1);
	ck_assert_int_eq(parse(&a, "cert", "--out", "f", NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "--der or --pem"));
}
END_TEST

START_TEST(auth_forms)
{
	struct ctl_args a;

	ck_assert_int_eq(parse(&a, "auth", "--pin", "--challenge", "00:11 22", "--allow-last-try", NULL), 0);
	ck_assert_int_eq(a.verb, CTL_VERB_AUTH);
	ck_assert(a.allow_last_try);
	ck_assert_str_eq(a.challenge_hex, "00:11 22");
	ck_assert_int_eq(parse(&a, "auth", "--challenge-file", "c.bin", NULL), 0);
	ck_assert_str_eq(a.challenge_file, "c.bin");
	ck_assert_int_eq(parse(&a, "auth", "--challenge", "00", "--challenge-file", "c", NULL), -1);
	ck_assert_int_eq(parse(&a, "auth", "--challenge", "0", NULL), -1);
	ck_assert_int_eq(parse(&a, "auth", "--challenge", "", NULL), -1);
	ck_assert_int_eq(parse(&a, "auth", "--challenge", "zz", NULL), -1);
}
END_TEST

START_TEST(sign_forms)
{
	struct ctl_args a;
	char d32[65], d48[97];

	memset(d32, 'a', 64); d32[64] = '\0';
	memset(d48, 'B', 96); d48[96] = '\0';
	ck_assert_int_eq(parse(&a, "sign", "--key", "auth", "--digest", d32, NULL), 0);
	ck_assert_str_eq(a.hash, "sha256");
	ck_assert_int_eq(parse(&a, "sign", "--key=sign", "--hash=sha384", "--digest", d48, NULL), 0);
	ck_assert_str_eq(a.key, "sign");
	/* Digest length must match the hash. */
	ck_assert_int_eq(parse(&a, "sign", "--key", "auth", "--hash", "sha384", "--digest", d32, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "48 bytes"));
	ck_assert_int_eq(parse(&a, "sign", "--key", "auth", "--data-file", "x", "--out", "s", NULL), 0);
	ck_assert_int_eq(parse(&a, "sign", "--key", "auth", NULL), -1);
	ck_assert_int_eq(parse(&a, "sign", "--key", "auth", "--digest", d32, "--data-file", "x", NULL), -1);
	ck_assert_int_eq(parse(&a, "sign", "--digest", d32, NULL), -1);
	ck_assert_int_eq(parse(&a, "sign", "--key", "other", "--digest", d32, NULL), -1);
	ck_assert_int_eq(parse(&a, "sign", "--key", "auth", "--hash", "md5", "--digest", d32, NULL), -1);
}
END_TEST

START_TEST(options_bound_to_verbs)
{
	struct ctl_args a;

	ck_assert_int_eq(parse(&a, "readers", "--pem", NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "--pem"));
	ck_assert_int_eq(parse(&a, "--allow-last-try", "cert", NULL), -1);
	ck_assert_int_eq(parse(&a, "agent", "--default", NULL), 0);
	ck_assert(a.default_agent);
	ck_assert_int_eq(parse(&a, "status", "--default", NULL), -1);
}
END_TEST

START_TEST(malformed_command_lines)
{
	struct ctl_args a;

	ck_assert_int_eq(parse(&a, NULL), -1);
	ck_assert_int_eq(parse(&a, "frobnicate", NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "frobnicate"));
	ck_assert_int_eq(parse(&a, "readers", "--nope", NULL), -1);
	ck_assert_int_eq(parse(&a, "readers", "-x", NULL), -1);
	ck_assert_int_eq(parse(&a, "readers", "extra", NULL), -1);
	ck_assert_int_eq(parse(&a, "readers", "--reader", NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "needs a value"));
	ck_assert_int_eq(parse(&a, "readers", "--json=yes", NULL), -1);
	ck_assert_int_eq(parse(&a, "readers", "--timeout", "-1", NULL), -1);
	ck_assert_int_eq(parse(&a, "readers", "--timeout", "1x", NULL), -1);
	ck_assert_int_eq(parse(&a, "readers", "--timeout", "86401", NULL), -1);
	ck_assert_int_eq(parse(&a, "readers", "--timeout", "86400", NULL), 0);
	ck_assert_int_eq(parse(&a, "readers", "--reader", "abc", NULL), -1);
	ck_assert_int_eq(parse(&a, "readers", "--address=", NULL), -1);
}
END_TEST

START_TEST(help_and_version_win)
{
	struct ctl_args a;

	ck_assert_int_eq(parse(&a, "sign", "--help", NULL), 0);
	ck_assert_int_eq(a.verb, CTL_VERB_HELP);
	ck_assert_int_eq(parse(&a, "-h", NULL), 0);
	ck_assert_int_eq(a.verb, CTL_VERB_HELP);
	ck_assert_int_eq(parse(&a, "--version", NULL), 0);
	ck_assert_int_eq(a.verb, CTL_VERB_VERSION);
	/* After "--", words are arguments, not options. */
	ck_assert_int_eq(parse(&a, "--", "--help", NULL), -1);
}
END_TEST

START_TEST(hex_decoding)
{
	uint8_t out[4];

	ck_assert_int_eq(ctl_hex_decode("00fFa5", out, sizeof(out)), 3);
	ck_assert_uint_eq(out[0], 0x00);
	ck_assert_uint_eq(out[1], 0xff);
	ck_assert_uint_eq(out[2], 0xa5);
	ck_assert_int_eq(ctl_hex_decode("01:02 03", out, sizeof(out)), 3);
	ck_assert_uint_eq(out[2], 0x03);
	ck_assert_int_eq(ctl_hex_decode("", out, sizeof(out)), 0);
	ck_assert_int_eq(ctl_hex_decode("0", out, sizeof(out)), -1);
	ck_assert_int_eq(ctl_hex_decode("0g", out, sizeof(out)), -1);
	ck_assert_int_eq(ctl_hex_decode("01:", out, sizeof(out)), -1);
	ck_assert_int_eq(ctl_hex_decode("01::02", out, sizeof(out)), -1);
	ck_assert_int_eq(ctl_hex_decode(" 01", out, sizeof(out)), -1);
	ck_assert_int_eq(ctl_hex_decode("0102030405", out, sizeof(out)), -1);
	ck_assert_int_eq(ctl_hex_decode("01020304", out, sizeof(out)), 4);
}
END_TEST

START_TEST(reader_paths)
{
	char p[64];

	ck_assert_int_eq(ctl_reader_path("0", p, sizeof(p)), 0);
	ck_assert_str_eq(p, "/org/onshi/Onshi1/reader/0");
	ck_assert_int_eq(ctl_reader_path("12", p, sizeof(p)), 0);
	ck_assert_str_eq(p, "/org/onshi/Onshi1/reader/12");
	ck_assert_int_eq(ctl_reader_path("/org/onshi/Onshi1/reader/3", p, sizeof(p)), 0);
	ck_assert_str_eq(p, "/org/onshi/Onshi1/reader/3");
	ck_assert_int_eq(ctl_reader_path("", p, sizeof(p)), -1);
	ck_assert_int_eq(ctl_reader_path("01", p, sizeof(p)), -1);
	ck_assert_int_eq(ctl_reader_path("-1", p, sizeof(p)), -1);
	ck_assert_int_eq(ctl_reader_path("1234567890", p, sizeof(p)), -1);
	ck_assert_int_eq(ctl_reader_path("/org/onshi/Onshi1/reader/", p, sizeof(p)), -1);
	ck_assert_int_eq(ctl_reader_path("/org/onshi/Onshi1/reader/1/x", p, sizeof(p)), -1);
	ck_assert_int_eq(ctl_reader_path("/org/other/reader/1", p, sizeof(p)), -1);
	ck_assert_int_eq(ctl_reader_path("1", p, 10), -1);
}
END_TEST

START_TEST(error_mapping)
{
	ck_assert_int_eq(ctl_exit_for_error("org.onshi.Onshi1.Error.PinIncorrect"), CTL_EXIT_PIN_INCORRECT);
	ck_assert_int_eq(ctl_exit_for_error("org.onshi.Onshi1.Error.PinBlocked"), CTL_EXIT_PIN_BLOCKED);
	ck_assert_int_eq(ctl_exit_for_error("org.onshi.Onshi1.Error.LastTryRefused"), CTL_EXIT_LAST_TRY);
	ck_assert_int_eq(ctl_exit_for_error("org.onshi.Onshi1.Error.NoCard"), CTL_EXIT_NO_CARD);
	ck_assert_int_eq(ctl_exit_for_error("org.onshi.Onshi1.Error.NoAgent"), CTL_EXIT_AGENT);
	ck_assert_int_eq(ctl_exit_for_error("org.onshi.Onshi1.Error.AgentFailed"), CTL_EXIT_AGENT);
	ck_assert_int_eq(ctl_exit_for_error("org.onshi.Onshi1.Error.Timeout"), CTL_EXIT_TIMEOUT);
	ck_assert_int_eq(ctl_exit_for_error("org.freedesktop.DBus.Error.NoReply"), CTL_EXIT_TIMEOUT);
	ck_assert_int_eq(ctl_exit_for_error("org.freedesktop.DBus.Error.InvalidArgs"), CTL_EXIT_USAGE);
	ck_assert_int_eq(ctl_exit_for_error("org.freedesktop.DBus.Error.ServiceUnknown"), CTL_EXIT_NO_SERVICE);
	ck_assert_int_eq(ctl_exit_for_error("org.onshi.Onshi1.Error.Frobbed"), CTL_EXIT_FAILURE);
	ck_assert_int_eq(ctl_exit_for_error(NULL), CTL_EXIT_FAILURE);
	/* Every class has its own code. */
	ck_assert_int_ne(ctl_exit_for_error("org.onshi.Onshi1.Error.Busy"),
			 ctl_exit_for_error("org.onshi.Onshi1.Error.ReaderError"));
	ck_assert_int_ne(ctl_exit_for_error("org.onshi.Onshi1.Error.Cancelled"),
			 ctl_exit_for_error("org.onshi.Onshi1.Error.CardRemoved"));

	ck_assert_str_eq(ctl_error_short_name("org.onshi.Onshi1.Error.PinIncorrect"), "PinIncorrect");
	ck_assert_str_eq(ctl_error_short_name("org.freedesktop.DBus.Error.InvalidArgs"),
			 "org.freedesktop.DBus.Error.InvalidArgs");
	ck_assert_str_eq(ctl_error_short_name("org.onshi.Onshi1.Error."), "org.onshi.Onshi1.Error.");
}
END_TEST

START_TEST(hash_lengths)
{
	ck_assert_uint_eq(ctl_hash_len("sha256"), 32);
	ck_assert_uint_eq(ctl_hash_len("sha384"), 48);
	ck_assert_uint_eq(ctl_hash_len("sha512"), 64);
	ck_assert_uint_eq(ctl_hash_len("sha1"), 0);
	ck_assert_uint_eq(ctl_hash_len(NULL), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ctl-args");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, globals_before_and_after_verb);
	tcase_add_test(tc, cert_forms);
	tcase_add_test(tc, auth_forms);
	tcase_add_test(tc, sign_forms);
	tcase_add_test(tc, options_bound_to_verbs);
	tcase_add_test(tc, malformed_command_lines);
	tcase_add_test(tc, help_and_version_win);
	tcase_add_test(tc, hex_decoding);
	tcase_add_test(tc, reader_paths);
	tcase_add_test(tc, error_mapping);
	tcase_add_test(tc, hash_lengths);
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
