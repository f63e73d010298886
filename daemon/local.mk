# daemon build fragment, included from the top-level Makefile.am.

# ---- onshid core: pure JPKI logic, secrets, X.509 (no PC/SC, no D-Bus) ----
# The service (sd-bus) and the PC/SC layer link this library.
noinst_LIBRARIES += daemon/libonshid-core.a
daemon_libonshid_core_a_SOURCES = \
	daemon/jpki-apdu.c daemon/jpki-apdu.h \
	daemon/jpki-parse.c daemon/jpki-parse.h \
	daemon/jpki-ops.c daemon/jpki-ops.h \
	daemon/secret.c daemon/secret.h \
	daemon/x509-info.c daemon/x509-info.h
daemon_libonshid_core_a_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
ONSHID_CORE_LIBS = daemon/libonshid-core.a $(CRYPTO_LIBS)

# ---- Check unit tests of the core ----
if HAVE_CHECK
ONSHID_CORE_TESTS = \
	tests/unit/test-jpki-apdu \
	tests/unit/test-jpki-parse \
	tests/unit/test-jpki-ops \
	tests/unit/test-secret \
	tests/unit/test-x509-info
check_PROGRAMS += $(ONSHID_CORE_TESTS)
TESTS += $(ONSHID_CORE_TESTS)

tests_unit_test_jpki_apdu_SOURCES = tests/unit/test-jpki-apdu.c
tests_unit_test_jpki_apdu_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/daemon
tests_unit_test_jpki_apdu_LDADD = $(ONSHID_CORE_LIBS) $(CHECK_LIBS)

tests_unit_test_jpki_parse_SOURCES = tests/unit/test-jpki-parse.c
tests_unit_test_jpki_parse_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/daemon
tests_unit_test_jpki_parse_LDADD = $(ONSHID_CORE_LIBS) $(CHECK_LIBS)

tests_unit_test_jpki_ops_SOURCES = tests/unit/test-jpki-ops.c
tests_unit_test_jpki_ops_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(CRYPTO_CFLAGS) -I$(top_srcdir)/daemon
tests_unit_test_jpki_ops_LDADD = $(ONSHID_CORE_LIBS) $(CHECK_LIBS)

tests_unit_test_secret_SOURCES = tests/unit/test-secret.c
tests_unit_test_secret_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/daemon
tests_unit_test_secret_LDADD = $(ONSHID_CORE_LIBS) $(CHECK_LIBS)

tests_unit_test_x509_info_SOURCES = tests/unit/test-x509-info.c
tests_unit_test_x509_info_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(CRYPTO_CFLAGS) -I$(top_srcdir)/daemon
tests_unit_test_x509_info_LDADD = $(ONSHID_CORE_LIBS) $(CHECK_LIBS)
endif

# ---- libFuzzer targets over every parser of card data (`make fuzz`) ----
FUZZERS += daemon/fuzz/fuzz-card-data$(EXEEXT) daemon/fuzz/fuzz-jpki-ops$(EXEEXT)
EXTRA_DIST += \
	daemon/fuzz/fuzz-card-data.c daemon/fuzz/fuzz-card-data.corpus \
	daemon/fuzz/fuzz-jpki-ops.c daemon/fuzz/fuzz-jpki-ops.corpus

daemon/fuzz/fuzz-card-data$(EXEEXT): $(srcdir)/daemon/fuzz/fuzz-card-data.c $(srcdir)/daemon/jpki-parse.c
	@$(MKDIR_P) daemon/fuzz
	$(AM_V_CCLD)$(CLANG) $(FUZZ_CFLAGS) -I$(srcdir)/daemon -o $@ $^

daemon/fuzz/fuzz-jpki-ops$(EXEEXT): $(srcdir)/daemon/fuzz/fuzz-jpki-ops.c $(srcdir)/daemon/jpki-ops.c \
		$(srcdir)/daemon/jpki-apdu.c $(srcdir)/daemon/jpki-parse.c
	@$(MKDIR_P) daemon/fuzz
	$(AM_V_CCLD)$(CLANG) $(FUZZ_CFLAGS) -I$(srcdir)/daemon -o $@ $^

# ---- onshid: the system D-Bus service (sd-bus + libpcsclite) ----
# In libexecdir: started by D-Bus activation / onshid.service (dbus/), not by users.
libexec_PROGRAMS += daemon/onshid
daemon_onshid_SOURCES = \
	daemon/onshid.c \
	daemon/bus-common.c daemon/bus-common.h \
	daemon/errors.c daemon/errors.h \
	daemon/authz.c daemon/authz.h \
	daemon/agent.c daemon/agent.h \
	daemon/reader.c daemon/reader.h \
	daemon/pcsc-monitor.c daemon/pcsc-monitor.h \
	daemon/pcsc-card.c daemon/pcsc-card.h
daemon_onshid_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(PCSC_CFLAGS) $(CRYPTO_CFLAGS) -pthread
daemon_onshid_LDADD = $(ONSHID_CORE_LIBS) $(SYSTEMD_LIBS) $(PCSC_LIBS) $(CRYPTO_LIBS) -lpthread

# Check test of onshid's pure logic (authz rule, error mapping, Part 10 helpers).
if HAVE_CHECK
check_PROGRAMS += tests/unit/test-onshid-logic
TESTS += tests/unit/test-onshid-logic
tests_unit_test_onshid_logic_SOURCES = tests/unit/test-onshid-logic.c \
	daemon/authz.c daemon/authz.h daemon/errors.c daemon/errors.h \
	daemon/pcsc-card.c daemon/pcsc-card.h daemon/bus-common.c daemon/bus-common.h
tests_unit_test_onshid_logic_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SYSTEMD_CFLAGS) $(PCSC_CFLAGS) \
	-I$(top_srcdir)/daemon -pthread
tests_unit_test_onshid_logic_LDADD = $(ONSHID_CORE_LIBS) $(SYSTEMD_LIBS) $(PCSC_LIBS) $(CHECK_LIBS) -lpthread
endif

# onshid against a malicious card (transcript replay through pcscd), its
# per-reader queue (bound, callers leaving while queued, Cancel scope) and
# what its memory keeps of PINs and personal data; D-Bus activation from the
# built activation file.
ONSHID_FAULT_E2E_TESTS = tests/e2e/test-onshid-card-faults.py tests/e2e/test-onshid-queue.py \
	tests/e2e/test-onshid-memory.py tests/e2e/test-onshid-activation.py
dist_check_SCRIPTS += $(ONSHID_FAULT_E2E_TESTS)
TESTS += $(ONSHID_FAULT_E2E_TESTS)
