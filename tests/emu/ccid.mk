# tests/emu/ccid.mk: build fragment (see Makefile.am).
