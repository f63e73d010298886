# tests/emu/usb.mk: the USB side of the emulated reader (onshi-emu): usbdevfs
# ioctl handler, testbed records, control socket.  See doc/emulator.md.
noinst_HEADERS += tests/emu/emu-usb.h tests/emu/emu-sysfs.h tests/emu/emu-control.h
# onshi-emu itself links tests/emu/libemuccid.a (ccid.mk); until that exists
# its sources are distributed but not built.
dist_check_SCRIPTS += tests/emu/onshi-emu-ctl
EXTRA_DIST += tests/emu/emu-main.c tests/emu/emu-usb.c tests/emu/emu-sysfs.c \
	tests/emu/test-emu-usb.c

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
endif
endif
