# tests/e2e/local.mk: the PC/SC test client, the environment harness and the
# end-to-end tests that run through a private pcscd (see tests/harness/).

check_PROGRAMS += tests/tools/onshi-pcsc-probe
tests_tools_onshi_pcsc_probe_SOURCES = tests/tools/onshi-pcsc-probe.c \
	tests/tools/probe-apdu.c tests/tools/probe-apdu.h
tests_tools_onshi_pcsc_probe_CFLAGS = $(AM_CFLAGS) $(PCSC_CFLAGS) $(CRYPTO_CFLAGS)
tests_tools_onshi_pcsc_probe_LDADD = $(PCSC_LIBS) $(CRYPTO_LIBS)

EXTRA_DIST += tests/harness/onshi_testenv.py tests/e2e/e2elib.py tools/demo.sh
