# tools build fragment, included from the top-level Makefile.am.
EXTRA_DIST += tools/demo-common.sh
