#!/usr/bin/env bash
# Exit 0 if two .deb files are byte-identical; else name what differs and exit 1.
#   packaging/compare-debs.sh A.deb B.deb
set -euo pipefail
a=$1 b=$2
cmp -s "$a" "$b" && exit 0
work=$(mktemp -d /tmp/cpdesk-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "NOT REPRODUCIBLE: $(basename "$a") differs between the two builds:" >&2
dpkg-deb -R "$a" "$work/a"
dpkg-deb -R "$b" "$work/b"
# Contents first, then what tar records about each file (mode, owner, time).
diff -rq "$work/a" "$work/b" | sed "s|$work/[ab]/||g" >&2 || true
diff <(dpkg-deb -c "$a") <(dpkg-deb -c "$b") >&2 || true
# Then the ar members themselves (their header times come from SOURCE_DATE_EPOCH).
diff <(ar tv "$a") <(ar tv "$b") >&2 || true
exit 1
