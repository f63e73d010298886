# tests/emu/usb.mk: the USB side of the emulated reader (onshi-emu): usbdevfs
# ioctl handler, testbed records, control socket.  See doc/emulator.md.
noinst_HEADERS += tests/emu/emu-usb.h tests/emu/emu-sysfs.h tests/emu/emu-control.h
dist_check_SCRIPTS += tests/emu/onshi-emu-ctl

if HAVE_UMOCKDEV
# The emulator: this side, the firmware (ccid.mk) and the card backends.
check_PROGRAMS += tests/emu/onshi-emu
tests_emu_onshi_emu_SOURCES = tests/emu/emu-main.c tests/emu/emu-usb.c tests/emu/emu-sysfs.c \
	tests/emu/emu-control.c
tests_emu_onshi_emu_CFLAGS = $(AM_CFLAGS) $(UMOCKDEV_CFLAGS)
tests_emu_onshi_emu_LDADD = tests/emu/libemuccid.a $(BACKENDS_LIBS) $(UMOCKDEV_LIBS) \
	$(CRYPTO_LIBS) -lpthread
endif

if HAVE_CHECK
if HAVE_UMOCKDEV
check_PROGRAMS += tests/emu/test-emu-control
TESTS += tests/emu/test-emu-control
tests_emu_test_emu_control_SOURCES = tests/emu/test-emu-control.c tests/emu/emu-control.c
tests_emu_test_emu_control_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(UMOCKDEV_CFLAGS)
tests_emu_test_emu_control_LDADD = $(UMOCKDEV_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/emu/test-emu-usb-desc
TESTS += tests/emu/test-emu-usb-desc
tests_emu_test_emu_usb_desc_SOURCES = tests/emu/test-emu-usb-desc.c tests/emu/emu-sysfs.c
tests_emu_test_emu_usb_desc_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(UMOCKDEV_CFLAGS)
tests_emu_test_emu_usb_desc_LDADD = $(UMOCKDEV_LIBS) $(CHECK_LIBS)

# Plain libusb against onshi-emu (the test starts and stops the emulator).
check_PROGRAMS += tests/emu/test-emu-usb
TESTS += tests/emu/test-emu-usb
tests_emu_test_emu_usb_SOURCES = tests/emu/test-emu-usb.c
tests_emu_test_emu_usb_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBUSB_CFLAGS)
tests_emu_test_emu_usb_LDADD = tests/emu/libemuccid.a $(LIBUSB_LIBS) $(CHECK_LIBS) -lpthread
EXTRA_tests_emu_test_emu_usb_DEPENDENCIES = tests/emu/onshi-emu$(EXEEXT)
endif
endif
