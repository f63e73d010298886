# driver/bundle.mk: the pcscd bundle of the IFD handler (see doc/packaging.md).
#
# Info.plist is generated from driver/readers.list by tools/gen-reader-files.sh
# and installed as $(usbdropdir)/ifd-onshi.bundle/Contents/Info.plist.
#
# The driver's shared object goes to $(ifdbundleexecdir) ("exec" in the name
# makes automake install it with install-exec: it is architecture-dependent), i.e.
# $(usbdropdir)/ifd-onshi.bundle/Contents/Linux/libifd-onshi.so.  Whoever builds
# it declares, in driver/local.mk:
#   ifdbundleexec_LTLIBRARIES = driver/libifd-onshi.la
#   driver_libifd_onshi_la_LDFLAGS = -module -avoid-version -shared
# The hooks below drop the libtool archive pcscd does not want next to the .so
# after install, and remove the .so on uninstall (libtool cannot once the .la
# is gone).  Both are harmless while no driver library exists yet.

READERS_LIST = driver/readers.list
GEN_READER_FILES = tools/gen-reader-files.sh
IFD_BUNDLE_PLIST = driver/ifd-onshi.bundle/Contents/Info.plist
IFD_BUNDLE_SO = libifd-onshi.so

ifdbundledir = $(usbdropdir)/ifd-onshi.bundle/Contents
ifdbundleexecdir = $(ifdbundledir)/Linux
ifdbundle_DATA = $(IFD_BUNDLE_PLIST)

# Write to a temporary file first: a bad list line must not leave a target behind.
$(IFD_BUNDLE_PLIST): $(srcdir)/$(READERS_LIST) $(srcdir)/$(GEN_READER_FILES) Makefile
	$(AM_V_GEN)$(MKDIR_P) $(@D) && \
	$(SHELL) $(srcdir)/$(GEN_READER_FILES) plist $(srcdir)/$(READERS_LIST) '$(PACKAGE_VERSION)' >$@.tmp && \
	mv -f $@.tmp $@ || { rm -f $@.tmp; exit 1; }

# Prerequisite-only rules: other fragments may add their own hooks the same way.
install-exec-hook: install-exec-hook-ifd-bundle
uninstall-hook: uninstall-hook-ifd-bundle
.PHONY: install-exec-hook-ifd-bundle uninstall-hook-ifd-bundle
install-exec-hook-ifd-bundle:
	rm -f "$(DESTDIR)$(ifdbundleexecdir)/libifd-onshi.la"
uninstall-hook-ifd-bundle:
	rm -f "$(DESTDIR)$(ifdbundleexecdir)/$(IFD_BUNDLE_SO)"

# A complete bundle in the build tree for tests (tests/harness takes a bundle
# directory): once the driver library is declared, "make" links
# driver/ifd-onshi.bundle/Contents/Linux/libifd-onshi.so to libtool's build
# output next to the generated Info.plist.  Empty until then.
IFD_BUNDLE_BUILDTREE_SO = $(if $(filter driver/libifd-onshi.la,$(ifdbundleexec_LTLIBRARIES)),driver/ifd-onshi.bundle/Contents/Linux/$(IFD_BUNDLE_SO))
all-local: $(IFD_BUNDLE_BUILDTREE_SO)
driver/ifd-onshi.bundle/Contents/Linux/$(IFD_BUNDLE_SO): driver/libifd-onshi.la
	$(AM_V_GEN)$(MKDIR_P) $(@D) && rm -f $@ && $(LN_S) ../../../.libs/$(IFD_BUNDLE_SO) $@

CLEANFILES += $(IFD_BUNDLE_PLIST) $(IFD_BUNDLE_BUILDTREE_SO)
EXTRA_DIST += $(READERS_LIST) $(GEN_READER_FILES)
