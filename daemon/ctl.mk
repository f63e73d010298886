# daemon/ctl.mk: onshictl (see Makefile.am).
