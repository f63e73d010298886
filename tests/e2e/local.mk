# tests/e2e/local.mk: build fragment (see Makefile.am).
