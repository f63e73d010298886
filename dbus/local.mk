# dbus/local.mk: onshid's system integration files (see doc/packaging.md).
#
# The *.in templates name install directories and accounts as @var@.  They are
# substituted here by make, not by config.status, because configure's values
# still contain ${prefix}-style references that only make expands fully (and
# so "make prefix=/x" stays honest).

DBUS_TEMPLATES = \
	dbus/org.onshi.Onshi1.conf.in \
	dbus/org.onshi.Onshi1.service.in \
	dbus/onshid.service.in \
	dbus/sysusers.d/onshi.conf.in \
	dbus/50-onshi-pcscd.rules.in

dbuspolicy_DATA = dbus/org.onshi.Onshi1.conf
dbussystemservice_DATA = dbus/org.onshi.Onshi1.service
systemdsystemunit_DATA = dbus/onshid.service
sysusers_DATA = dbus/sysusers.d/onshi.conf
polkitrules_DATA = dbus/50-onshi-pcscd.rules
dist_dbusinterfaces_DATA = dbus/org.onshi.Onshi1.xml

DBUS_GENERATED = $(dbuspolicy_DATA) $(dbussystemservice_DATA) $(systemdsystemunit_DATA) \
	$(sysusers_DATA) $(polkitrules_DATA)

# Fails if a template names a variable this list does not know (an @x@ left over).
dbus_subst = $(SED) \
	-e 's|@libexecdir[@]|$(libexecdir)|g' \
	-e 's|@docdir[@]|$(docdir)|g' \
	-e 's|@ONSHI_USER[@]|$(ONSHI_USER)|g' \
	-e 's|@ONSHI_GROUP[@]|$(ONSHI_GROUP)|g' \
	-e 's|@ONSHI_PERSONAL_GROUP[@]|$(ONSHI_PERSONAL_GROUP)|g' \
	-e 's|@PCSCD_GROUP[@]|$(PCSCD_GROUP)|g'
dbus_generate = $(AM_V_GEN)$(MKDIR_P) $(@D) && \
	$(dbus_subst) <$< >$@.tmp && \
	if grep -n '@[A-Za-z_][A-Za-z_]*@' $@.tmp >&2; then \
	  echo "$<: unsubstituted variable" >&2; rm -f $@.tmp; exit 1; fi && \
	mv -f $@.tmp $@

dbus/org.onshi.Onshi1.conf: $(srcdir)/dbus/org.onshi.Onshi1.conf.in Makefile
	$(dbus_generate)
dbus/org.onshi.Onshi1.service: $(srcdir)/dbus/org.onshi.Onshi1.service.in Makefile
	$(dbus_generate)
dbus/onshid.service: $(srcdir)/dbus/onshid.service.in Makefile
	$(dbus_generate)
dbus/sysusers.d/onshi.conf: $(srcdir)/dbus/sysusers.d/onshi.conf.in Makefile
	$(dbus_generate)
dbus/50-onshi-pcscd.rules: $(srcdir)/dbus/50-onshi-pcscd.rules.in Makefile
	$(dbus_generate)

CLEANFILES += $(DBUS_GENERATED)
EXTRA_DIST += $(DBUS_TEMPLATES)

# The unit's Documentation= points here.
doc_DATA = doc/packaging.md

# Tests of all packaging data (reader list, udev, bus policy, units, install paths).
TESTS += tests/unit/test-packaging.sh
dist_check_SCRIPTS += tests/unit/test-packaging.sh
