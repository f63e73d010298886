# tests/bench/local.mk: `make bench` (never `make check`): the precise PC/SC
# timing client and the benchmark scripts comparing onshi with the reference
# stack (libccid, OpenSC) on the same emulated reader.  See doc/benchmarks.md.

check_PROGRAMS += tests/tools/onshi-pcsc-bench
tests_tools_onshi_pcsc_bench_SOURCES = tests/tools/onshi-pcsc-bench.c \
	tests/tools/bench-stats.c tests/tools/bench-stats.h \
	tests/tools/probe-apdu.c tests/tools/probe-apdu.h
tests_tools_onshi_pcsc_bench_CFLAGS = $(AM_CFLAGS) $(PCSC_CFLAGS)
tests_tools_onshi_pcsc_bench_LDADD = $(PCSC_LIBS) -lm

if HAVE_CHECK
check_PROGRAMS += tests/tools/test-bench-stats
TESTS += tests/tools/test-bench-stats
tests_tools_test_bench_stats_SOURCES = tests/tools/test-bench-stats.c \
	tests/tools/bench-stats.c tests/tools/bench-stats.h
tests_tools_test_bench_stats_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_tools_test_bench_stats_LDADD = $(CHECK_LIBS) -lm
endif

BENCHMARKS += tests/bench/bench-driver.py tests/bench/bench-daemon.py
EXTRA_DIST += tests/bench/bench-driver.py tests/bench/bench-daemon.py \
	tests/bench/benchlib.py
