# tests/backends/local.mk: build fragment (see Makefile.am).
# Card backends for the emulated reader: vicc (vsmartcard), transcript
# replay and recorder, and emu_card_open() which picks one from a spec.
check_LIBRARIES += tests/backends/libbackends.a
tests_backends_libbackends_a_SOURCES = \
	tests/backends/card-spec.c \
	tests/backends/vicc.c \
	tests/backends/transcript.c \
	tests/backends/replay.c \
	tests/backends/recorder.c
# vcard-card.h includes "emu/emu-card.h".
tests_backends_libbackends_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
# Users of libbackends.a link this (the vcard backend needs libvcard.a).
BACKENDS_LIBS = tests/backends/libbackends.a $(VCARD_LIBS)
noinst_HEADERS += \
	tests/backends/backends.h \
	tests/backends/backend-common.h \
	tests/backends/vicc.h \
	tests/backends/transcript.h \
	tests/backends/replay.h \
	tests/backends/recorder.h

if HAVE_CHECK
check_PROGRAMS += tests/backends/test-backends
TESTS += tests/backends/test-backends
tests_backends_test_backends_SOURCES = tests/backends/test-backends.c
tests_backends_test_backends_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_backends_test_backends_LDADD = $(BACKENDS_LIBS) $(CHECK_LIBS) -lpthread
endif

# Drives one backend from stdin (script tests, manual poking).
check_PROGRAMS += tests/backends/card-tool
tests_backends_card_tool_SOURCES = tests/backends/card-tool.c
tests_backends_card_tool_LDADD = $(BACKENDS_LIBS)

# A second, independent virtual card in Python (vsmartcard vicc protocol),
# and the script test of the vicc backend against it.
dist_check_SCRIPTS += tests/backends/vicc-jpki-card.py tests/backends/test-vicc-python.py
TESTS += tests/backends/test-vicc-python.py

# libFuzzer target for the transcript parser (`make fuzz`).
FUZZERS += tests/backends/fuzz-transcript
tests/backends/fuzz-transcript: $(srcdir)/tests/backends/fuzz-transcript.c $(srcdir)/tests/backends/transcript.c \
		$(srcdir)/tests/backends/transcript.h
	@$(MKDIR_P) tests/backends
	$(AM_V_CC)$(CLANG) $(FUZZ_CFLAGS) -I$(srcdir) -o $@ $(srcdir)/tests/backends/fuzz-transcript.c \
		$(srcdir)/tests/backends/transcript.c
EXTRA_DIST += tests/backends/fuzz-transcript.c tests/backends/fuzz-transcript.corpus
