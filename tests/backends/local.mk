# tests/backends/local.mk: build fragment (see Makefile.am).
