# udev/local.mk: udev rules for CCID readers, generated from driver/readers.list
# (the list, the generator and its variables live in driver/bundle.mk).
UDEV_CCID_RULES = udev/92-onshi-ccid.rules
udevrules_DATA = $(UDEV_CCID_RULES)

$(UDEV_CCID_RULES): $(srcdir)/$(READERS_LIST) $(srcdir)/$(GEN_READER_FILES) Makefile
	$(AM_V_GEN)$(MKDIR_P) $(@D) && \
	$(SHELL) $(srcdir)/$(GEN_READER_FILES) udev $(srcdir)/$(READERS_LIST) '$(PCSCD_GROUP)' >$@.tmp && \
	mv -f $@.tmp $@ || { rm -f $@.tmp; exit 1; }

CLEANFILES += $(UDEV_CCID_RULES)
