# driver/ifd.mk: the IFD handler shared object and its I/O layers (see Makefile.am).
#
# driver/libifd-onshi.la is the pcscd driver: a libtool module installed as
# $(ifdbundleexecdir)/libifd-onshi.so (doc/packaging.md; driver/bundle.mk
# removes the .la after install and the .so on uninstall).  It exports only
# the IFDH* functions of pcsc-lite's ifdhandler.h API v3; log_msg comes from
# pcscd when it loads the module.  `make` also links the .so into the
# build-tree bundle driver/ifd-onshi.bundle/ next to the generated Info.plist;
# tests hand that directory to tests/harness (TestEnv(driver=...)).
ifdbundleexec_LTLIBRARIES = driver/libifd-onshi.la
driver_libifd_onshi_la_SOURCES = \
	driver/ifdhandler.c \
	driver/ccid-cmd.c driver/ccid-cmd.h \
	driver/usb-transport.c driver/usb-transport.h \
	driver/reader-registry.c driver/reader-registry.h \
	driver/reader-quirks.c driver/reader-quirks.h \
	driver/log.c driver/log.h
driver_libifd_onshi_la_CPPFLAGS = $(AM_CPPFLAGS) $(CCID_CORE_CPPFLAGS)
driver_libifd_onshi_la_CFLAGS = $(AM_CFLAGS) $(PCSC_CFLAGS) $(LIBUSB_CFLAGS) -pthread
# -z nodelete: pcscd dlcloses the driver when its last reader goes away and
# dlopens it again at the next plug; staying loaded keeps the configuration
# and Lun table valid across that (the configuration is read once, like
# libccid's) and avoids re-running sanitizer runtime initialisation, which
# aborts an instrumented pcscd at the second dlopen.
driver_libifd_onshi_la_LDFLAGS = -module -avoid-version -shared \
	-export-symbols-regex '^IFDH' -Wl,-z,nodelete $(AM_LDFLAGS)
driver_libifd_onshi_la_LIBADD = $(CCID_CORE_LIBS) $(LIBUSB_LIBS) -lpthread

# The build-tree bundle (rule in driver/bundle.mk); listed here too because
# bundle.mk is read before this fragment declares the library.
all-local: driver/ifd-onshi.bundle/Contents/Linux/libifd-onshi.so
CLEANFILES += driver/ifd-onshi.bundle/Contents/Linux/libifd-onshi.so

if HAVE_CHECK
check_PROGRAMS += tests/unit/test-ifd-io
TESTS += tests/unit/test-ifd-io
tests_unit_test_ifd_io_SOURCES = tests/unit/test-ifd-io.c \
	driver/log.c driver/log.h driver/usb-transport.c driver/usb-transport.h \
	driver/reader-quirks.c driver/reader-quirks.h
tests_unit_test_ifd_io_CPPFLAGS = $(AM_CPPFLAGS) $(CCID_CORE_CPPFLAGS)
tests_unit_test_ifd_io_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(PCSC_CFLAGS) $(LIBUSB_CFLAGS) -pthread
tests_unit_test_ifd_io_LDADD = $(CCID_CORE_LIBS) $(LIBUSB_LIBS) $(CHECK_LIBS) -lpthread
endif

# The command layer over a scripted fake transport (replaces usb-transport.c).
if HAVE_CHECK
check_PROGRAMS += tests/unit/test-ccid-cmd
TESTS += tests/unit/test-ccid-cmd
tests_unit_test_ccid_cmd_SOURCES = tests/unit/test-ccid-cmd.c \
	driver/ccid-cmd.c driver/ccid-cmd.h driver/log.c driver/log.h
tests_unit_test_ccid_cmd_CPPFLAGS = $(AM_CPPFLAGS) $(CCID_CORE_CPPFLAGS)
tests_unit_test_ccid_cmd_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(PCSC_CFLAGS) $(LIBUSB_CFLAGS) -pthread
tests_unit_test_ccid_cmd_LDADD = $(CCID_CORE_LIBS) $(CHECK_LIBS) -lpthread
endif
