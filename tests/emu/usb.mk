# tests/emu/usb.mk: build fragment (see Makefile.am).
