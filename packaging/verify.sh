#!/usr/bin/env bash
# Check a cpdesk release folder before rolling it out. Exit 0 only if every check passes;
# the first failure stops it with "VERIFY FAILED: ..." on stderr.
#
#   packaging/verify.sh DIR [KEYRING.gpg [MSI-CERT.pem]]
#
# DIR is what `make package` writes (dist/packages). Pass the keyring and certificate
# you got from your supplier through a separate channel; by default the copies in
# DIR/keys are used, which proves integrity but not origin.
# Checks: SHA256SUMS and its GPG signature (gpgv); the .deb's detached signature (gpgv)
# and origin signature (debsig-verify, with the shipped policy); the apt repository
# (InRelease verified by apt itself with signed-by, Packages hash matches the .deb);
# the MSI's Authenticode signature (osslsigncode).
# Needs: gnupg (gpgv), debsig-verify, apt, osslsigncode, coreutils.
set -euo pipefail
DIR=$(cd "${1:?usage: verify.sh DIR [KEYRING.gpg [MSI-CERT.pem]]}" && pwd)
KEYRING=$(readlink -f "${2:-$DIR/keys/cpdesk-archive-keyring.gpg}")
MSICERT=$(readlink -f "${3:-$DIR/keys/msi-signing.pem}")
SCRATCH=$(mktemp -d /tmp/cpdesk-verify.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
fail() { echo "VERIFY FAILED: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
cd "$DIR"

gpgv --keyring "$KEYRING" SHA256SUMS.sig SHA256SUMS >"$SCRATCH/log" 2>&1 \
  || { cat "$SCRATCH/log" >&2; fail "SHA256SUMS is not signed by the cpdesk key"; }
ok "SHA256SUMS signature"
sha256sum --quiet --strict -c SHA256SUMS >"$SCRATCH/log" 2>&1 \
  || { cat "$SCRATCH/log" >&2; fail "a file does not match SHA256SUMS"; }
ok "SHA-256 of $(wc -l < SHA256SUMS) files"

for deb in cpdesk_*.deb; do
  gpgv --keyring "$KEYRING" "$deb.sig" "$deb" >"$SCRATCH/log" 2>&1 \
    || { cat "$SCRATCH/log" >&2; fail "$deb: detached GPG signature"; }
  ok "$deb: detached GPG signature"
  debsig-verify --policies-dir "$DIR/keys/debsig/policies" \
    --keyrings-dir "$DIR/keys/debsig/keyrings" "$deb" >"$SCRATCH/log" 2>&1 \
    || { cat "$SCRATCH/log" >&2; fail "$deb: debsigs origin signature (debsig-verify)"; }
  ok "$deb: debsigs origin signature"
done

# apt itself checks InRelease against the key, then the Packages index against InRelease.
mkdir -p "$SCRATCH/apt/lists/partial" "$SCRATCH/apt/cache/archives/partial" "$SCRATCH/apt/etc"
echo "deb [signed-by=$KEYRING] file:$DIR/apt ./" > "$SCRATCH/apt/etc/cpdesk.list"
APT_OPTS=(-o "Dir::Etc::sourcelist=$SCRATCH/apt/etc/cpdesk.list" -o Dir::Etc::sourceparts=-
  -o "Dir::State::Lists=$SCRATCH/apt/lists" -o "Dir::Cache=$SCRATCH/apt/cache"
  -o "Dir::State::status=/dev/null" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt-get "${APT_OPTS[@]}" --error-on=any -q update >"$SCRATCH/log" 2>&1 \
  || { cat "$SCRATCH/log" >&2; fail "apt repository: InRelease or Packages not valid"; }
# apt-get download checks the .deb against the hash in the verified Packages index.
mkdir -p "$SCRATCH/download"
(cd "$SCRATCH/download" && apt-get "${APT_OPTS[@]}" -q download cpdesk) >"$SCRATCH/log" 2>&1 \
  || { cat "$SCRATCH/log" >&2; fail "apt repository: cpdesk cannot be fetched with a matching hash"; }
cmp -s "$SCRATCH"/download/cpdesk_*.deb "$(ls cpdesk_*.deb | head -n 1)" \
  || fail "apt repository: its .deb is not the one beside it"
ok "apt repository (InRelease verified by apt with signed-by; the .deb matches Packages)"

for msi in *.msi; do
  osslsigncode verify -CAfile "$MSICERT" -in "$msi" >"$SCRATCH/log" 2>&1 \
    || { cat "$SCRATCH/log" >&2; fail "$msi: Authenticode signature"; }
  ok "$msi: Authenticode signature"
done
echo "verify.sh: all checks passed"
