# tests/e2e/local.mk: the PC/SC test client, the environment harness and the
# end-to-end tests that run through a private pcscd (see tests/harness/).

check_PROGRAMS += tests/tools/onshi-pcsc-probe
tests_tools_onshi_pcsc_probe_SOURCES = tests/tools/onshi-pcsc-probe.c \
	tests/tools/probe-apdu.c tests/tools/probe-apdu.h
tests_tools_onshi_pcsc_probe_CFLAGS = $(AM_CFLAGS) $(PCSC_CFLAGS) $(CRYPTO_CFLAGS)
tests_tools_onshi_pcsc_probe_LDADD = $(PCSC_LIBS) $(CRYPTO_LIBS)

if HAVE_CHECK
check_PROGRAMS += tests/tools/test-probe-apdu
TESTS += tests/tools/test-probe-apdu
tests_tools_test_probe_apdu_SOURCES = tests/tools/test-probe-apdu.c \
	tests/tools/probe-apdu.c tests/tools/probe-apdu.h
tests_tools_test_probe_apdu_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_tools_test_probe_apdu_LDADD = $(CHECK_LIBS)
endif

E2E_TESTS = \
	tests/e2e/test-libccid-profiles.py \
	tests/e2e/test-vicc-backend.py \
	tests/e2e/test-transcript-replay.py \
	tests/e2e/test-card-events.py \
	tests/e2e/test-no-leftovers.py
dist_check_SCRIPTS += $(E2E_TESTS)
TESTS += $(E2E_TESTS)

EXTRA_DIST += tests/harness/onshi_testenv.py tests/e2e/e2elib.py tools/demo.sh

# Preloaded into the test pcscd after umockdev's preload (see the source).
# Built without sanitizers: pcscd is not instrumented, and the ASan runtime
# is preloaded only when the driver under test needs it.
check_LTLIBRARIES += tests/harness/libonshi-test-preload.la
tests_harness_libonshi_test_preload_la_SOURCES = tests/harness/preload-connect-retry.c
tests_harness_libonshi_test_preload_la_CFLAGS = $(WARN_CFLAGS)
tests_harness_libonshi_test_preload_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
tests_harness_libonshi_test_preload_la_LIBADD = -ldl
dist_check_SCRIPTS += tests/harness/test-preload-retry.py
TESTS += tests/harness/test-preload-retry.py

# onshid end-to-end tests (a real D-Bus client through Gio on a private bus).
ONSHID_E2E_TESTS = tests/e2e/test-onshid-basic.py tests/e2e/test-onshid-access.py \
	tests/e2e/test-onshid-events.py
dist_check_SCRIPTS += $(ONSHID_E2E_TESTS)
TESTS += $(ONSHID_E2E_TESTS)
EXTRA_DIST += tests/e2e/onshid_client.py

# onshictl (daemon/ctl.mk) against the real onshid: see the test's docstring.
ONSHICTL_E2E_TESTS = tests/e2e/test-onshictl.py
dist_check_SCRIPTS += $(ONSHICTL_E2E_TESTS)
TESTS += $(ONSHICTL_E2E_TESTS)

# onshi's own IFD handler through pcscd (driver/ifd.mk builds the bundle).
ONSHI_DRIVER_E2E_TESTS = tests/e2e/test-onshi-driver.py tests/e2e/test-onshi-driver-faults.py \
	tests/e2e/test-onshi-driver-part10.py tests/e2e/test-onshi-driver-channel.py
dist_check_SCRIPTS += $(ONSHI_DRIVER_E2E_TESTS)
TESTS += $(ONSHI_DRIVER_E2E_TESTS)
