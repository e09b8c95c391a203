#!/usr/bin/env bash
# Keeps the Dockerfile honest: every shared library a binary links directly must come from a
# package marked `runtime` in tools/packages.txt (or from the base system every image has).
# Fails, instead of checking nothing, when a tool is missing or a binary lists no library.
set -uo pipefail
list="${1:?packages.txt}"; shift
[ $# -gt 0 ] || { echo "FAIL: no binary to check"; exit 1; }
for tool in readelf ldd dpkg; do  # readelf: binutils (tools/packages.txt, test scope)
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed"; exit 1; }
done
base="libc6 libstdc++6 libgcc-s1"
runtime="$(awk '$1=="runtime"{print $2}' "$list")"
[ -n "$runtime" ] || { echo "FAIL: $list lists no runtime package"; exit 1; }
fail=0
for bin in "$@"; do
  if ! dynamic="$(readelf -d "$bin")"; then
    echo "FAIL: readelf -d $bin failed"; fail=1; continue
  fi
  libs="$(sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' <<<"$dynamic")"
  # Every dynamically linked binary needs libc at least: none means nothing was read.
  [ -n "$libs" ] || { echo "FAIL: $bin lists no shared library"; fail=1; continue; }
  for lib in $libs; do
    case "$lib" in libasan.so*|libubsan.so*|libtsan.so*) continue;; esac  # sanitizer builds only
    path="$(ldd "$bin" | awk -v l="$lib" '$1==l{print $3}')"
    [ -n "$path" ] || { echo "FAIL: $bin needs $lib, which is not found"; fail=1; continue; }
    real="$(readlink -f "$path")"
    pkg="$( (dpkg -S "$path" 2>/dev/null || dpkg -S "$real" 2>/dev/null) | head -1 | cut -d: -f1)"
    if [ -z "$pkg" ]; then echo "FAIL: no Debian package owns $path"; fail=1; continue; fi
    if grep -qx "$pkg" <<<"$runtime" || grep -qw "$pkg" <<<"$base"; then
      echo "ok: $(basename "$bin") $lib <- $pkg"
    else
      echo "FAIL: $(basename "$bin") links $lib from $pkg, which tools/packages.txt does not list as runtime"
      fail=1
    fi
  done
done
exit $fail
