# tests/vcard/local.mk: build fragment (see Makefile.am).
