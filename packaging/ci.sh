#!/usr/bin/env bash
# The packaging checks CI runs after `make test` (.ci/run). Prints how long each part took.
#   1. build once: bundle, .deb, signatures, apt repo, MSI, SBOM, sums; verify.sh passes
#   2. the .deb installed into a scratch root (dpkg -x): owners, policy folders, launcher
#      `--version` and `--self-test` offscreen (with a real Secret Service keyring)
#   3. one flipped byte in the .deb, in the MSI, in the apt index: verify.sh fails each time
#   4. msiinfo: the MSI holds the shortcut, the empty policy keys and the files
#   5. systemd-analyze security of the index's unit stays at or below 2.0
# The reproducibility double build is `make package`'s job, not this script's.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$PWD/dist/packages
SCRATCH=$(mktemp -d /tmp/cpdesk-ci-package.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
timings=()
part() { timings+=("$1: $(( $(date +%s) - $2 )) s"); }

t=$(date +%s)
if [ "${1:-}" != "--no-build" ]; then  # --no-build: check what dist/packages holds now
  packaging/build.sh --once
fi
part "build + sign + verify" "$t"

t=$(date +%s)
DEB=$(ls "$OUT"/cpdesk_*.deb)
dpkg-deb -c "$DEB" > "$SCRATCH/contents.txt"  # to a file: `| grep -q` would SIGPIPE tar
owners=$(awk '{print $2}' "$SCRATCH/contents.txt" | sort -u)
[ "$owners" = "root/root" ] || { echo "package files not all root-owned: $owners" >&2; exit 1; }
grep -q "drwxr-xr-x root/root .* ./etc/cpdesk/policies/managed/$" "$SCRATCH/contents.txt"
[ "$(grep -c '\./etc/cpdesk/policies/.*\.json$' "$SCRATCH/contents.txt" || true)" = 0 ] \
  || { echo "the package must not ship an enforced policy file" >&2; exit 1; }
dpkg-deb -f "$DEB" Depends
dpkg -x "$DEB" "$SCRATCH/root"
for f in usr/share/applications/cpdesk.desktop usr/share/icons/hicolor/48x48/apps/cpdesk.png \
         usr/share/metainfo/org.cpdesk.client.metainfo.xml; do
  [ -f "$SCRATCH/root/$f" ] || { echo "missing from the package: /$f" >&2; exit 1; }
done
[ "$("$SCRATCH/root/usr/bin/cpdesk" --version)" = "cpdesk $(dpkg-deb -f "$DEB" Version)" ]
mkdir -m 0700 "$SCRATCH/run" "$SCRATCH/home"
# A private D-Bus session with an unlocked gnome-keyring: the bundle's keyring backend
# must find it. Nothing from the build machine's own session leaks in.
env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME="$SCRATCH/home" XDG_RUNTIME_DIR="$SCRATCH/run" \
  XDG_DATA_HOME="$SCRATCH/home/data" XDG_CONFIG_HOME="$SCRATCH/home/config" \
  XDG_CACHE_HOME="$SCRATCH/home/cache" QT_QPA_PLATFORM=offscreen \
  dbus-run-session -- sh -c 'echo -n ci | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; exec "$0" --self-test --policy-root "$1"' \
  "$SCRATCH/root/usr/bin/cpdesk" "$SCRATCH/root/etc/cpdesk/policies" | tee "$SCRATCH/self-test.txt"
grep -q "^ok   keyring: keyring.backends.SecretService" "$SCRATCH/self-test.txt"
part "install into scratch root + --version + --self-test" "$t"

t=$(date +%s)
flip() {  # flip one byte of $1 at the middle of its content, or at the offset of string $2
  python3 - "$1" "${2:-}" <<'EOF'
import sys
path, marker = sys.argv[1], sys.argv[2].encode()
data = bytearray(open(path, "rb").read())
at = data.find(marker) if marker else len(data) // 2
assert at >= 0, f"{marker!r} not in {path}"
data[at] ^= 0x01
open(path, "wb").write(data)
EOF
}
expect_failure() {  # $1: what; $2: file inside dist/packages; $3: marker (optional)
  rm -rf "$SCRATCH/copy" && cp -a "$OUT" "$SCRATCH/copy"
  flip "$SCRATCH/copy/$2" "${3:-}"
  if packaging/verify.sh "$SCRATCH/copy" "$OUT/keys/cpdesk-archive-keyring.gpg" \
       "$OUT/keys/msi-signing.pem" >"$SCRATCH/verify.log" 2>&1; then
    cat "$SCRATCH/verify.log"; echo "verify.sh accepted a flipped byte in $1" >&2; exit 1
  fi
  echo "ok   one flipped byte in $1: $(grep 'VERIFY FAILED' "$SCRATCH/verify.log")"
}
expect_failure ".deb" "$(basename "$DEB")"
expect_failure "MSI" "$(basename "$(ls "$OUT"/*.msi)")" "Children's contact index"
expect_failure "apt Packages index" apt/Packages
# The sums catch everything above first; the signatures must catch it on their own too.
rm -rf "$SCRATCH/copy" && cp -a "$OUT" "$SCRATCH/copy"
MSI=$(basename "$(ls "$OUT"/*.msi)")
flip "$SCRATCH/copy/$MSI" "Children's contact index"
if osslsigncode verify -CAfile "$OUT/keys/msi-signing.pem" -in "$SCRATCH/copy/$MSI" >/dev/null 2>&1; then
  echo "osslsigncode accepted a flipped byte in the MSI" >&2; exit 1
fi
flip "$SCRATCH/copy/$(basename "$DEB")"
if debsig-verify --policies-dir "$OUT/keys/debsig/policies" --keyrings-dir "$OUT/keys/debsig/keyrings" \
     "$SCRATCH/copy/$(basename "$DEB")" >/dev/null 2>&1; then
  echo "debsig-verify accepted a flipped byte in the .deb" >&2; exit 1
fi
echo "ok   osslsigncode and debsig-verify each refuse a flipped byte on their own"
part "flipped-byte checks" "$t"

t=$(date +%s)
for table in Shortcut Registry File Directory Property; do
  msiinfo export "$OUT/$MSI" "$table" > "$SCRATCH/$table.idt"
done
grep -q "cpdesk.*ProgramMenuFolder.*\[INSTALLDIR\]cpdesk.exe" "$SCRATCH/Shortcut.idt"
grep -qF 'SOFTWARE\Policies\CPDesk	+' "$SCRATCH/Registry.idt"
grep -qF 'SOFTWARE\Policies\CPDesk\Recommended	+' "$SCRATCH/Registry.idt"
grep -q "cpdesk.exe" "$SCRATCH/File.idt"
grep -q "ProgramFiles64Folder" "$SCRATCH/Directory.idt"
grep -q "^ALLUSERS	1" "$SCRATCH/Property.idt"
grep -q "^UpgradeCode	" "$SCRATCH/Property.idt"
echo "ok   msiinfo: shortcut, policy registry keys, files, Program Files, per-machine, upgrade code"
part "msiinfo" "$t"

t=$(date +%s)
# The index's unit: systemd's own rating of its sandbox (0 best, 10 worst).
score=$(systemd-analyze security --offline=yes packaging/systemd/cpindex@.service 2>/dev/null \
  | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "cpindex@.service exposure (systemd-analyze security --offline=yes): $score"
python3 -c "import sys; sys.exit(not float('$score') <= 2.0)" \
  || { echo "the index's sandbox got weaker: exposure $score > 2.0" >&2; exit 1; }
part "systemd-analyze security" "$t"

printf 'packaging CI times: %s\n' "${timings[@]}"
