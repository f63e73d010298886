# driver/ifd.mk: the IFD handler shared object and its I/O layers (see Makefile.am).
