# tests/vcard/local.mk: the virtual My Number card and its test PKI.
# libvcard.a: the card logic (vcard.c, vcard-load.c) and its emu_card adaptor
# (vcard-card.c).  mkcard.sh makes card directories at test time.
check_LIBRARIES += tests/vcard/libvcard.a
tests_vcard_libvcard_a_SOURCES = tests/vcard/vcard.c tests/vcard/vcard-load.c \
	tests/vcard/vcard-card.c
tests_vcard_libvcard_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests $(CRYPTO_CFLAGS)
noinst_HEADERS += tests/vcard/vcard.h tests/vcard/vcard-priv.h tests/vcard/vcard-card.h
dist_check_SCRIPTS += tests/vcard/mkcard.sh
EXTRA_DIST += tests/vcard/README.md
# Users of libvcard.a link this too.
VCARD_LIBS = tests/vcard/libvcard.a $(CRYPTO_LIBS)

if HAVE_CHECK
check_PROGRAMS += tests/vcard/test-vcard
TESTS += tests/vcard/test-vcard
tests_vcard_test_vcard_SOURCES = tests/vcard/test-vcard.c
tests_vcard_test_vcard_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests $(CRYPTO_CFLAGS)
tests_vcard_test_vcard_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_vcard_test_vcard_LDADD = $(VCARD_LIBS) $(CHECK_LIBS)
endif

# libFuzzer target (`make fuzz`): APDU sequences and power events.
FUZZERS += tests/vcard/fuzz-vcard
EXTRA_DIST += tests/vcard/fuzz-vcard.c
tests/vcard/fuzz-vcard$(EXEEXT): $(srcdir)/tests/vcard/fuzz-vcard.c $(srcdir)/tests/vcard/vcard.c \
		$(srcdir)/tests/vcard/vcard-load.c
	@$(MKDIR_P) tests/vcard
	$(AM_V_CCLD)$(CLANG) $(FUZZ_CFLAGS) -I$(srcdir)/tests $(CRYPTO_CFLAGS) \
		-DVCARD_TOP_SRCDIR='"$(abs_top_srcdir)"' -o $@ $^ $(CRYPTO_LIBS)
