# daemon/ctl.mk: onshictl, the command-line client of onshid (see
# doc/onshictl.md), and its Check tests.  Included from Makefile.am.

bin_PROGRAMS += daemon/onshictl
daemon_onshictl_SOURCES = daemon/onshictl.c \
	daemon/ctl-args.c daemon/ctl-args.h \
	daemon/ctl-output.c daemon/ctl-output.h \
	daemon/ctl-agent.c daemon/ctl-agent.h \
	daemon/ctl-line.c daemon/ctl-line.h \
	daemon/ctl-cmd.c daemon/ctl-cmd.h
daemon_onshictl_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(CRYPTO_CFLAGS)
# libonshid-core.a only for secret_harden_process() (secret.h).
daemon_onshictl_LDADD = daemon/libonshid-core.a $(SYSTEMD_LIBS) $(CRYPTO_LIBS)

dist_man_MANS = doc/onshictl.1
EXTRA_DIST += doc/onshictl.md tools/demo-onshid.sh

if HAVE_CHECK
CTL_UNIT_TESTS = tests/unit/test-ctl-output tests/unit/test-ctl-args tests/unit/test-ctl-line
check_PROGRAMS += $(CTL_UNIT_TESTS)
TESTS += $(CTL_UNIT_TESTS)

tests_unit_test_ctl_output_SOURCES = tests/unit/test-ctl-output.c \
	daemon/ctl-output.c daemon/ctl-output.h
tests_unit_test_ctl_output_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/daemon
tests_unit_test_ctl_output_LDADD = $(CHECK_LIBS)

tests_unit_test_ctl_args_SOURCES = tests/unit/test-ctl-args.c \
	daemon/ctl-args.c daemon/ctl-args.h
tests_unit_test_ctl_args_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/daemon
tests_unit_test_ctl_args_LDADD = $(CHECK_LIBS)

tests_unit_test_ctl_line_SOURCES = tests/unit/test-ctl-line.c \
	daemon/ctl-line.c daemon/ctl-line.h
tests_unit_test_ctl_line_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/daemon
tests_unit_test_ctl_line_LDADD = $(CHECK_LIBS)
endif
