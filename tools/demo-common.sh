# demo-common.sh — sourced by tools/demo.sh and tools/demo-onshid.sh: their
# shared options (--profile, --driver, --builddir, --help) and build step.
# The caller sets `me` (its name), `driver` (its default) and `help_lines`
# (the sed range of its usage comment) before sourcing, then calls
# demo_parse_args "$@" and demo_build.

top=$(cd "$(dirname "$0")/.." && pwd)
profile=tpdu-t1
builddir=${ONSHI_BUILDDIR:-}
python=/usr/bin/python3

die() { echo "$me: $*" >&2; exit 1; }

demo_parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--profile) [ $# -ge 2 ] || die "$1 needs a value"; profile=$2; shift 2 ;;
		--driver) [ $# -ge 2 ] || die "$1 needs a value"; driver=$2; shift 2 ;;
		--builddir) [ $# -ge 2 ] || die "$1 needs a value"; builddir=$2; shift 2 ;;
		-h|--help) sed -n "$help_lines" "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
		*) die "unknown argument $1 (see --help)" ;;
		esac
	done
	[ "$(id -u)" -eq 0 ] || die "needs root (a private mount namespace for pcscd, groups for the bus policy)"
}

# Configures (first use only) and builds the tree plus the test programs the
# demos drive; sets builddir to an absolute path and exports the test paths.
demo_build() {
	if [ -z "$builddir" ]; then
		if [ -f "$top/Makefile" ]; then builddir=$top; else builddir=$top/_build/demo; fi
	fi
	if [ ! -f "$builddir/Makefile" ]; then
		echo "== configuring $builddir"
		[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null)
		mkdir -p "$builddir"
		(cd "$builddir" && "$top/configure" -q)
	fi
	builddir=$(cd "$builddir" && pwd)
	echo "== building in $builddir"
	local jobs log
	jobs=$(nproc 2>/dev/null || echo 2); [ "$jobs" -le 2 ] || jobs=2
	log=$builddir/demo-build.log
	if ! { make -C "$builddir" -j"$jobs" all &&
	       make -C "$builddir" -j"$jobs" tests/emu/onshi-emu tests/tools/onshi-pcsc-probe; } >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		die "build failed (full log: $log)"
	fi
	export ONSHI_TOP_SRCDIR=$top ONSHI_TOP_BUILDDIR=$builddir
}
