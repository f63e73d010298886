# driver build fragment, included from the top-level Makefile.am.
#
# libonshi-ccid-core.la: the pure protocol layers of the CCID IFD handler
# (ATR, CCID descriptors, CCID messages, T=1, extended-APDU chaining).  No I/O, no globals; the
# driver .so (ifdhandler.c + libusb transport) links this convenience library.
noinst_LTLIBRARIES += driver/libonshi-ccid-core.la
driver_libonshi_ccid_core_la_SOURCES = \
	driver/atr.c driver/atr.h \
	driver/ccid-desc.c driver/ccid-desc.h \
	driver/ccid-frame.c driver/ccid-frame.h \
	driver/t1.c driver/t1.h \
	driver/xchg-ext.c driver/xchg-ext.h
driver_libonshi_ccid_core_la_CFLAGS = $(AM_CFLAGS) -fPIC
# Users: CPPFLAGS += $(CCID_CORE_CPPFLAGS), LIBADD/LDADD += $(CCID_CORE_LIBS).
CCID_CORE_CPPFLAGS = -I$(top_srcdir)/driver
CCID_CORE_LIBS = driver/libonshi-ccid-core.la

if HAVE_CHECK
CCID_CORE_TESTS = tests/unit/test-atr tests/unit/test-ccid-desc \
	tests/unit/test-ccid-frame tests/unit/test-t1
check_PROGRAMS += $(CCID_CORE_TESTS)
TESTS += $(CCID_CORE_TESTS)
tests_unit_test_atr_SOURCES = tests/unit/test-atr.c
tests_unit_test_atr_CPPFLAGS = $(AM_CPPFLAGS) $(CCID_CORE_CPPFLAGS)
tests_unit_test_atr_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_atr_LDADD = $(CCID_CORE_LIBS) $(CHECK_LIBS)
tests_unit_test_ccid_desc_SOURCES = tests/unit/test-ccid-desc.c
tests_unit_test_ccid_desc_CPPFLAGS = $(AM_CPPFLAGS) $(CCID_CORE_CPPFLAGS)
tests_unit_test_ccid_desc_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_ccid_desc_LDADD = $(CCID_CORE_LIBS) $(CHECK_LIBS)
tests_unit_test_ccid_frame_SOURCES = tests/unit/test-ccid-frame.c
tests_unit_test_ccid_frame_CPPFLAGS = $(AM_CPPFLAGS) $(CCID_CORE_CPPFLAGS)
tests_unit_test_ccid_frame_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_ccid_frame_LDADD = $(CCID_CORE_LIBS) $(CHECK_LIBS)
tests_unit_test_t1_SOURCES = tests/unit/test-t1.c
tests_unit_test_t1_CPPFLAGS = $(AM_CPPFLAGS) $(CCID_CORE_CPPFLAGS)
tests_unit_test_t1_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_t1_LDADD = $(CCID_CORE_LIBS) $(CHECK_LIBS)
endif

# libFuzzer targets (`make fuzz`), built with clang outside libtool.
CCID_FUZZ_CFLAGS = $(FUZZ_CFLAGS) -I$(srcdir)/driver
FUZZERS += driver/fuzz/fuzz-atr driver/fuzz/fuzz-ccid-desc \
	driver/fuzz/fuzz-ccid-frame driver/fuzz/fuzz-t1
driver/fuzz/fuzz-atr$(EXEEXT): $(srcdir)/driver/fuzz/fuzz-atr.c $(srcdir)/driver/atr.c
	@$(MKDIR_P) driver/fuzz
	$(AM_V_CCLD)$(CLANG) $(CCID_FUZZ_CFLAGS) -o $@ $^
driver/fuzz/fuzz-ccid-desc$(EXEEXT): $(srcdir)/driver/fuzz/fuzz-ccid-desc.c $(srcdir)/driver/ccid-desc.c
	@$(MKDIR_P) driver/fuzz
	$(AM_V_CCLD)$(CLANG) $(CCID_FUZZ_CFLAGS) -o $@ $^
driver/fuzz/fuzz-ccid-frame$(EXEEXT): $(srcdir)/driver/fuzz/fuzz-ccid-frame.c $(srcdir)/driver/ccid-frame.c \
		$(srcdir)/driver/atr.c $(srcdir)/driver/xchg-ext.c
	@$(MKDIR_P) driver/fuzz
	$(AM_V_CCLD)$(CLANG) $(CCID_FUZZ_CFLAGS) -o $@ $^
driver/fuzz/fuzz-t1$(EXEEXT): $(srcdir)/driver/fuzz/fuzz-t1.c $(srcdir)/driver/t1.c
	@$(MKDIR_P) driver/fuzz
	$(AM_V_CCLD)$(CLANG) $(CCID_FUZZ_CFLAGS) -o $@ $^
EXTRA_DIST += driver/fuzz/fuzz-atr.c driver/fuzz/fuzz-ccid-desc.c \
	driver/fuzz/fuzz-ccid-frame.c driver/fuzz/fuzz-t1.c \
	driver/fuzz/fuzz-atr.corpus driver/fuzz/fuzz-ccid-desc.corpus \
	driver/fuzz/fuzz-ccid-frame.corpus driver/fuzz/fuzz-t1.corpus
