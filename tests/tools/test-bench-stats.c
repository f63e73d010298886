/* test-bench-stats.c — Check tests of the benchmark client's statistics and
 * of its parser of the emulator's `stats` reply (bench-stats.h). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/tools/bench-stats.h"

START_TEST(test_odd_count_median_and_sort)
{
	uint64_t s[] = { 50, 10, 40, 20, 30 };
	struct bench_stats st;
	ck_assert_int_eq(bench_stats_compute(s, 5, &st), 0);
	ck_assert_uint_eq(st.count, 5);
	ck_assert_uint_eq(st.min_ns, 10);
	ck_assert_uint_eq(st.max_ns, 50);
	ck_assert_uint_eq(st.median_ns, 30);
	ck_assert_double_eq_tol(st.mean_ns, 30.0, 1e-9);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_le(s[i], s[i + 1]);
}
END_TEST

START_TEST(test_even_count_median_is_mean_of_middle)
{
	uint64_t s[] = { 4, 1, 3, 2 };
	struct bench_stats st;
	ck_assert_int_eq(bench_stats_compute(s, 4, &st), 0);
	/* (2 + 3) / 2 rounds down in integer nanoseconds. */
	ck_assert_uint_eq(st.median_ns, 2);
	uint64_t t[] = { 7, 9 };
	ck_assert_int_eq(bench_stats_compute(t, 2, &st), 0);
	ck_assert_uint_eq(st.median_ns, 8);
	/* No overflow near the top of the range. */
	uint64_t big[] = { UINT64_MAX - 1, UINT64_MAX - 3 };
	ck_assert_int_eq(bench_stats_compute(big, 2, &st), 0);
	ck_assert_uint_eq(st.median_ns, UINT64_MAX - 2);
}
END_TEST

START_TEST(test_p99_nearest_rank)
{
	uint64_t s[1000];
	struct bench_stats st;
	for (int i = 0; i < 1000; i++)
		s[i] = (uint64_t)(1000 - i);   /* 1..1000 reversed */
	ck_assert_int_eq(bench_stats_compute(s, 1000, &st), 0);
	ck_assert_uint_eq(st.p99_ns, 990);
	uint64_t h[100];
	for (int i = 0; i < 100; i++)
		h[i] = (uint64_t)i + 1;
	ck_assert_int_eq(bench_stats_compute(h, 100, &st), 0);
	ck_assert_uint_eq(st.p99_ns, 99);
	/* 20 samples: p99 is the maximum. */
	uint64_t t[20];
	for (int i = 0; i < 20; i++)
		t[i] = (uint64_t)i * 10;
	ck_assert_int_eq(bench_stats_compute(t, 20, &st), 0);
	ck_assert_uint_eq(st.p99_ns, 190);
	ck_assert_uint_eq(bench_percentile_sorted(h, 100, 50.0), 50);
	ck_assert_uint_eq(bench_percentile_sorted(h, 100, 100.0), 100);
	ck_assert_uint_eq(bench_percentile_sorted(h, 100, 0.5), 1);
}
END_TEST

START_TEST(test_empty_and_bad_percentile)
{
	uint64_t one = 5;
	struct bench_stats st;
	ck_assert_int_eq(bench_stats_compute(&one, 0, &st), -1);
	ck_assert_uint_eq(st.count, 0);
	ck_assert_uint_eq(bench_percentile_sorted(&one, 1, 0.0), 0);
	ck_assert_uint_eq(bench_percentile_sorted(&one, 1, 101.0), 0);
	ck_assert_uint_eq(bench_percentile_sorted(&one, 0, 50.0), 0);
	ck_assert_int_eq(bench_stats_compute(&one, 1, &st), 0);
	ck_assert_uint_eq(st.median_ns, 5);
	ck_assert_uint_eq(st.p99_ns, 5);
}
END_TEST

START_TEST(test_counters_parse)
{
	struct bench_counters c;
	ck_assert_int_eq(bench_parse_counters(
		"ok bulk_out=12 bulk_in=11 intr_in=2 control=3 apdus=10 time_extensions=0\n", &c), 0);
	ck_assert_uint_eq(c.bulk_out, 12);
	ck_assert_uint_eq(c.bulk_in, 11);
	ck_assert_uint_eq(c.intr_in, 2);
	ck_assert_uint_eq(c.control, 3);
	ck_assert_uint_eq(c.apdus, 10);
	ck_assert_uint_eq(c.time_extensions, 0);
	/* Any order, unknown keys ignored. */
	ck_assert_int_eq(bench_parse_counters(
		"ok apdus=1 future=7 time_extensions=2 control=0 intr_in=0 bulk_in=4 bulk_out=5", &c), 0);
	ck_assert_uint_eq(c.bulk_out, 5);
	ck_assert_uint_eq(c.time_extensions, 2);
}
END_TEST

START_TEST(test_counters_reject)
{
	struct bench_counters c;
	/* err reply, missing key, duplicate, junk in a number, negative, overflow. */
	ck_assert_int_eq(bench_parse_counters("err no such command", &c), -1);
	ck_assert_int_eq(bench_parse_counters("okay bulk_out=1", &c), -1);
	ck_assert_int_eq(bench_parse_counters(
		"ok bulk_out=1 bulk_in=1 intr_in=1 control=1 apdus=1", &c), -1);
	ck_assert_int_eq(bench_parse_counters(
		"ok bulk_out=1 bulk_out=2 bulk_in=1 intr_in=1 control=1 apdus=1 time_extensions=0", &c), -1);
	ck_assert_int_eq(bench_parse_counters(
		"ok bulk_out=1x bulk_in=1 intr_in=1 control=1 apdus=1 time_extensions=0", &c), -1);
	ck_assert_int_eq(bench_parse_counters(
		"ok bulk_out=-1 bulk_in=1 intr_in=1 control=1 apdus=1 time_extensions=0", &c), -1);
	ck_assert_int_eq(bench_parse_counters(
		"ok bulk_out=99999999999999999999999 bulk_in=1 intr_in=1 control=1 apdus=1 time_extensions=0",
		&c), -1);
	ck_assert_int_eq(bench_parse_counters("ok", &c), -1);
}
END_TEST

static Suite *bench_stats_suite(void)
{
	Suite *s = suite_create("bench-stats");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_odd_count_median_and_sort);
	tcase_add_test(tc, test_even_count_median_is_mean_of_middle);
	tcase_add_test(tc, test_p99_nearest_rank);
	tcase_add_test(tc, test_empty_and_bad_percentile);
	tcase_add_test(tc, test_counters_parse);
	tcase_add_test(tc, test_counters_reject);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(bench_stats_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
