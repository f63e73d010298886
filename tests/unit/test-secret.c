/* test-secret.c — secret buffers: copy-then-wipe, clear, page flags, fork, hardening. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "secret.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		if (b[i])
			return false;
	}
	return true;
}

START_TEST(take_string_wipes_source)
{
	struct secret *s = secret_new();
	char pin[] = "1234";

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(secret_len(s), 0);
	ck_assert_int_eq(secret_take_string(s, pin), 0);
	ck_assert_uint_eq(secret_len(s), 4);
	ck_assert_mem_eq(secret_data(s), "1234", 4);
	ck_assert(all_zero(pin, sizeof(pin)));
	secret_free(s);
}
END_TEST

START_TEST(take_bytes_and_clear)
{
	struct secret *s = secret_new();
	uint8_t pw[16];

	memcpy(pw, "ABCDEF0123456789", 16);
	ck_assert_int_eq(secret_take_bytes(s, pw, 16), 0);
	ck_assert(all_zero(pw, sizeof(pw)));
	ck_assert_mem_eq(secret_data(s), "ABCDEF0123456789", 16);
	/* A second take replaces the first completely. */
	memcpy(pw, "XY", 2);
	ck_assert_int_eq(secret_take_bytes(s, pw, 2), 0);
	ck_assert_uint_eq(secret_len(s), 2);
	ck_assert(all_zero(secret_data(s) + 2, 14));
	secret_clear(s);
	ck_assert_uint_eq(secret_len(s), 0);
	ck_assert(all_zero(secret_data(s), SECRET_MAX_LEN));
	secret_free(s);
	secret_free(NULL);
}
END_TEST

START_TEST(oversized_input_is_refused_but_wiped)
{
	struct secret *s = secret_new();
	uint8_t big[SECRET_MAX_LEN + 1];

	memset(big, 'Z', sizeof(big));
	ck_assert_int_eq(secret_take_bytes(s, big, sizeof(big)), -1);
	ck_assert(all_zero(big, sizeof(big)));
	ck_assert_uint_eq(secret_len(s), 0);
	ck_assert_int_eq(secret_take_string(s, NULL), -1);
	secret_free(s);
}
END_TEST

/* Finds the VmFlags line of the mapping holding addr in /proc/self/smaps. */
static bool vm_flags_of(const void *addr, char *flags, size_t cap)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in_map = false, found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in_map = (unsigned long)addr >= lo && (unsigned long)addr < hi;
		else if (in_map && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(flags, cap, "%s", line + 8);
			found = true;
		}
	}
	fclose(f);
	return found;
}

START_TEST(pages_are_not_dumped_and_locked)
{
	struct secret *s = secret_new();
	char flags[512];
	struct rlimit lim;

	ck_assert(vm_flags_of(secret_data(s), flags, sizeof(flags)));
	ck_assert_msg(strstr(flags, " dd") != NULL, "no dd (MADV_DONTDUMP) in: %s", flags);
#ifdef MADV_WIPEONFORK
	ck_assert_msg(strstr(flags, " wf") != NULL, "no wf (MADV_WIPEONFORK) in: %s", flags);
#endif
	/* mlock must work whenever the limit allows one page.  ASan replaces
	 * mlock with a no-op, so the page flag is only checked without it. */
	if (!UNDER_ASAN && (getuid() == 0 || (getrlimit(RLIMIT_MEMLOCK, &lim) == 0 && lim.rlim_cur >= 8192))) {
		ck_assert(secret_is_locked(s));
		ck_assert_msg(strstr(flags, " lo") != NULL, "no lo (mlock) in: %s", flags);
	}
	secret_free(s);
}
END_TEST

START_TEST(forked_child_sees_no_secret)
{
#ifdef MADV_WIPEONFORK
	struct secret *s = secret_new();
	char pin[] = "9876";
	int status = 0;
	pid_t pid;

	ck_assert_int_eq(secret_take_string(s, pin), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		_exit(all_zero(secret_data(s), SECRET_MAX_LEN) ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* The parent still has it. */
	ck_assert_mem_eq(secret_data(s), "9876", 4);
	secret_free(s);
#endif
}
END_TEST

START_TEST(harden_process)
{
	struct rlimit lim;

	/* Check runs each test in its own forked process, so this does not
	 * change the runner. */
	ck_assert_int_eq(secret_harden_process(), 0);
	ck_assert_int_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	ck_assert_int_eq(getrlimit(RLIMIT_CORE, &lim), 0);
	ck_assert_uint_eq(lim.rlim_cur, 0);
	ck_assert_uint_eq(lim.rlim_max, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("secret");
	TCase *tc = tcase_create("secret");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, take_string_wipes_source);
	tcase_add_test(tc, take_bytes_and_clear);
	tcase_add_test(tc, oversized_input_is_refused_but_wiped);
	tcase_add_test(tc, pages_are_not_dumped_and_locked);
	tcase_add_test(tc, forked_child_sees_no_secret);
	tcase_add_test(tc, harden_process);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
