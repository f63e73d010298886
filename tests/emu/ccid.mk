# tests/emu/ccid.mk: build fragment (see Makefile.am).
# libemuccid.a: the emulated reader's firmware (CCID command set, reader
# profiles, card side of T=1, extended-APDU chaining, PIN pad).  Pure logic:
# the USB layer (usb.mk) and the Check test drive it through emu-ccid.h.
check_LIBRARIES += tests/emu/libemuccid.a
tests_emu_libemuccid_a_SOURCES = tests/emu/emu-ccid.c tests/emu/emu-profile.c \
	tests/emu/emu-fw-t1.c tests/emu/emu-fw-apdu.c tests/emu/emu-fw-keypad.c \
	tests/emu/emu-fw-atr.c
noinst_HEADERS += tests/emu/emu-fw-t1.h tests/emu/emu-fw-apdu.h tests/emu/emu-fw-keypad.h \
	tests/emu/emu-fw-atr.h
# Users of libemuccid.a link this too.
EMU_CCID_LIBS = tests/emu/libemuccid.a -lpthread

if HAVE_CHECK
check_PROGRAMS += tests/emu/test-emu-ccid
TESTS += tests/emu/test-emu-ccid
tests_emu_test_emu_ccid_SOURCES = tests/emu/test-emu-ccid.c
tests_emu_test_emu_ccid_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_emu_test_emu_ccid_LDADD = $(EMU_CCID_LIBS) $(CHECK_LIBS)
endif

# libFuzzer: random PC_to_RDR messages into emu_ccid_bulk_out (`make fuzz`).
FUZZERS += tests/emu/fuzz-emu-ccid
EXTRA_DIST += tests/emu/fuzz-emu-ccid.c tests/emu/fuzz-emu-ccid.corpus
emu_ccid_fuzz_files = $(tests_emu_libemuccid_a_SOURCES) tests/emu/fuzz-emu-ccid.c
tests/emu/fuzz-emu-ccid: $(addprefix $(srcdir)/,$(emu_ccid_fuzz_files))
	$(AM_V_CCLD)$(MKDIR_P) tests/emu && \
	$(CLANG) $(FUZZ_CFLAGS) -I$(srcdir)/tests/emu -o $@ $(addprefix $(srcdir)/,$(emu_ccid_fuzz_files)) -lpthread
