# Test fragments.  Each part of the bench owns its own fragment.
include $(srcdir)/tests/emu/usb.mk
include $(srcdir)/tests/emu/ccid.mk
include $(srcdir)/tests/vcard/local.mk
include $(srcdir)/tests/backends/local.mk
include $(srcdir)/tests/e2e/local.mk
EXTRA_DIST += tests/emu/emu-card.h tests/emu/emu-profile.h tests/emu/emu-ccid.h
include $(srcdir)/tests/bench/local.mk
