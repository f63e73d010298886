# driver/bundle.mk: build fragment (see Makefile.am).
