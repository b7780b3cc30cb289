#!/usr/bin/env bash
# `make package`: the signed installers and everything an IT team checks them with.
#
#   packaging/build.sh [--once]      # --once: one build, no reproducibility comparison (CI)
#
# Writes dist/packages/:
#   cpdesk_VERSION_amd64.deb         PyInstaller bundle in /opt/cpdesk, debsigs origin-signed
#   cpdesk_VERSION_amd64.deb.sig     detached GPG signature (of the signed .deb)
#   apt/                             flat apt repository: Packages(.gz), Release, InRelease
#   cpdesk-VERSION-x64.msi           MSI from packaging/windows/cpdesk.wxs, Authenticode-signed
#                                    (stand-in payload: see docs/deployment.md, "Windows")
#   cpdesk-VERSION.cdx.json          CycloneDX SBOM of the bundle's Python packages
#   keys/                            public keys: cpdesk-archive-keyring.gpg (apt, gpgv),
#                                    debsig/ (debsig-verify policy + keyring), msi-signing.pem
#   SHA256SUMS, SHA256SUMS.sig       sums of every artifact, signed
# Then runs packaging/verify.sh on the result.
#
# Keys: throwaway ones in a temporary GNUPGHOME and a test code-signing certificate,
# unless real ones are given: CPDESK_GNUPGHOME + CPDESK_GPG_KEY (fingerprint), and
# CPDESK_SIGN_CERT + CPDESK_SIGN_KEY (PEM) for Authenticode. No key is ever written
# into the repository; the private halves stay in a temp folder removed at exit.
#
# Reproducible: SOURCE_DATE_EPOCH is the commit time, PYTHONHASHSEED is fixed, file
# modes and owners are normalised, dpkg-deb sorts members. Without --once the .deb is
# built twice from scratch and compared byte for byte; a difference names the file.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ONCE=0
[ "${1:-}" = "--once" ] && ONCE=1

VERSION=$(python3 -c 'import re,sys; print(re.search(r"__version__ = \"([^\"]+)\"", open("cpdesk/__init__.py").read()).group(1))')
ARCH=amd64
OUT=$REPO/dist/packages
WORK=$(mktemp -d /tmp/cpdesk-package.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 1700000000)}
export PYTHONHASHSEED=0 TZ=UTC LC_ALL=C.UTF-8
umask 022
t0=$(date +%s)
step() { echo "== $* ($(( $(date +%s) - t0 )) s)"; }

# --- tool virtualenvs: PyInstaller with the client only; the SBOM tool on its own -------
if [ ! -x .venv-package/bin/pyinstaller ] || [ pyproject.toml -nt .venv-package/.installed ] \
   || [ packaging/requirements.txt -nt .venv-package/.installed ]; then
  step "virtualenv .venv-package (client without the index extra + PyInstaller)"
  python3 -m venv .venv-package
  .venv-package/bin/pip install --quiet --upgrade pip
  .venv-package/bin/pip install --quiet --only-binary sqlcipher3 . -r packaging/requirements.txt
  touch .venv-package/.installed
fi
if [ ! -x .venv-sbom/bin/cyclonedx-py ]; then
  step "virtualenv .venv-sbom (cyclonedx-bom)"
  python3 -m venv .venv-sbom
  .venv-sbom/bin/pip install --quiet -r packaging/sbom-requirements.txt
fi
# The bundle must be built from this checkout's code, not an older installed copy.
.venv-package/bin/pip install --quiet --no-deps --force-reinstall --only-binary sqlcipher3 .

# --- one .deb, from scratch, into $1 ----------------------------------------------------
build_deb() {
  local dir=$1 stage
  mkdir -p "$dir"
  .venv-package/bin/pyinstaller --noconfirm --clean --log-level WARN \
    --distpath "$dir/dist" --workpath "$dir/work" packaging/cpdesk.spec 2>"$dir/pyinstaller.log" \
    || { cat "$dir/pyinstaller.log"; return 1; }
  if grep -E "Library not found|could not be found" "$dir/pyinstaller.log"; then
    echo "build.sh: a library the bundle needs is missing on this machine" >&2; return 1
  fi
  stage=$dir/root
  mkdir -p "$stage/opt" "$stage/usr/bin" "$stage/usr/share/applications" \
    "$stage/usr/share/metainfo" "$stage/usr/share/doc/cpdesk" \
    "$stage/etc/cpdesk/policies/managed" "$stage/etc/cpdesk/policies/recommended" "$stage/DEBIAN"
  cp -a "$dir/dist/cpdesk" "$stage/opt/cpdesk"
  install -m 0755 packaging/linux/cpdesk-launcher.sh "$stage/usr/bin/cpdesk"
  install -m 0644 resources/cpdesk.desktop "$stage/usr/share/applications/cpdesk.desktop"
  install -m 0644 resources/org.cpdesk.client.metainfo.xml "$stage/usr/share/metainfo/"
  cp -a resources/icons "$stage/usr/share/icons"
  for layer in managed recommended; do
    install -m 0644 packaging/policy/linux/README.example "$stage/etc/cpdesk/policies/$layer/"
  done
  install -m 0644 packaging/linux/copyright "$stage/usr/share/doc/cpdesk/copyright"
  # Normalise: owners come from --root-owner-group, modes and times from here.
  find "$stage" -type d -exec chmod 0755 {} +
  find "$stage" -type f -exec sh -c 'for f; do if [ -x "$f" ]; then chmod 0755 "$f"; else chmod 0644 "$f"; fi; done' _ {} +
  find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  local size depends
  size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
  depends=$(python3 packaging/linux/depends.py "$stage/opt/cpdesk")
  sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$size/" \
      -e "s/@DEPENDS@/$depends/" packaging/linux/control.in > "$stage/DEBIAN/control"
  printf '%s\n' /etc/cpdesk/policies/managed/README.example \
    /etc/cpdesk/policies/recommended/README.example > "$stage/DEBIAN/conffiles"
  (cd "$stage" && find . -path ./DEBIAN -prune -o -type f -print0 | LC_ALL=C sort -z \
     | xargs -0 md5sum | sed 's|  \./|  |' > DEBIAN/md5sums)
  chmod 0644 "$stage/DEBIAN/"*
  touch -d "@$SOURCE_DATE_EPOCH" "$stage/DEBIAN" "$stage/DEBIAN/"*
  # gzip, not zstd: debsigs signs only gzip or xz members (xz takes minutes here).
  dpkg-deb --root-owner-group -Zgzip -z6 --build "$stage" "$dir/cpdesk_${VERSION}_${ARCH}.deb" >/dev/null
}

DEB=cpdesk_${VERSION}_${ARCH}.deb
step "build 1: PyInstaller bundle and .deb"
tb=$(date +%s)
build_deb "$WORK/a"
BUILD_SECONDS=$(( $(date +%s) - tb ))
if [ "$ONCE" = 0 ]; then
  step "build 2 (from scratch) for the reproducibility comparison"
  build_deb "$WORK/b"
  packaging/compare-debs.sh "$WORK/a/$DEB" "$WORK/b/$DEB"
  echo "reproducible: both builds of $DEB are byte-identical ($(sha256sum "$WORK/a/$DEB" | cut -c1-16)…)"
fi

rm -rf "$OUT"
mkdir -p "$OUT/keys/debsig" "$OUT/apt"
cp "$WORK/a/$DEB" "$OUT/$DEB"

# --- GPG: throwaway key unless a real one is given ------------------------------------
step "signing keys"
if [ -n "${CPDESK_GNUPGHOME:-}" ]; then
  export GNUPGHOME=$CPDESK_GNUPGHOME
  KEY=${CPDESK_GPG_KEY:?CPDESK_GPG_KEY must name the signing key fingerprint}
else
  export GNUPGHOME=$WORK/gnupg
  mkdir -m 0700 "$GNUPGHOME"
  gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-generate-key "cpdesk packaging TEST key (throwaway) <packaging@cpdesk.invalid>" \
    rsa3072 sign 2d
  KEY=$(gpg --batch --with-colons --list-secret-keys | awk -F: '/^fpr/ {print $10; exit}')
fi
# debsigs signs with SHA-1 unless told otherwise, and debsig-verify rejects SHA-1.
if ! grep -qs '^digest-algo SHA\(256\|384\|512\)' "$GNUPGHOME/gpg.conf"; then
  if [ -n "${CPDESK_GNUPGHOME:-}" ]; then  # never edit a real key's configuration
    echo "build.sh: add 'digest-algo SHA256' (or SHA512) to $GNUPGHOME/gpg.conf" >&2; exit 1
  fi
  echo "digest-algo SHA256" >> "$GNUPGHOME/gpg.conf"
fi
gpg --batch --export "$KEY" > "$OUT/keys/cpdesk-archive-keyring.gpg"
gpg --batch --armor --export "$KEY" > "$OUT/keys/cpdesk-archive-keyring.asc"
SHORT=${KEY: -16}

# --- debsigs origin signature + the debsig-verify policy that accepts it ---------------
step "debsigs origin signature"
debsigs --sign=origin -k "$KEY" "$OUT/$DEB"
mkdir -p "$OUT/keys/debsig/policies/$SHORT" "$OUT/keys/debsig/keyrings/$SHORT"
cp "$OUT/keys/cpdesk-archive-keyring.gpg" "$OUT/keys/debsig/keyrings/$SHORT/debsig.gpg"
sed "s/@KEYID@/$SHORT/g" packaging/linux/debsig.pol.in > "$OUT/keys/debsig/policies/$SHORT/cpdesk.pol"

step "detached signature"
gpg --batch --yes --local-user "$KEY" --detach-sign -o "$OUT/$DEB.sig" "$OUT/$DEB"

step "apt repository (flat)"
cp "$OUT/$DEB" "$OUT/apt/"
(cd "$OUT/apt" && apt-ftparchive packages . > Packages && gzip -9n -k Packages \
  && apt-ftparchive -o APT::FTPArchive::Release::Origin=cpdesk \
       -o APT::FTPArchive::Release::Label=cpdesk -o APT::FTPArchive::Release::Suite=stable \
       -o APT::FTPArchive::Release::Codename=stable release . > "$WORK/Release" \
  && mv "$WORK/Release" Release \
  && gpg --batch --yes --local-user "$KEY" --clearsign -o InRelease Release \
  && gpg --batch --yes --local-user "$KEY" --detach-sign --armor -o Release.gpg Release)

# --- MSI from the WiX source, Authenticode-signed ---------------------------------------
step "MSI (wixl) and Authenticode (osslsigncode)"
MSI=cpdesk-${VERSION}-x64.msi
packaging/windows/build-msi.sh "$WORK/msi" "$VERSION" "$OUT/$MSI" "$OUT/keys/msi-signing.pem"

# --- SBOM of the Python packages in the bundle ------------------------------------------
step "CycloneDX SBOM"
SBOM=cpdesk-${VERSION}.cdx.json
.venv-sbom/bin/cyclonedx-py environment --output-reproducible --of JSON \
  -o "$WORK/env.cdx.json" .venv-package/bin/python
.venv-package/bin/python packaging/sbom_client_only.py "$WORK/env.cdx.json" > "$OUT/$SBOM"

step "SHA256SUMS"
(cd "$OUT" && find . -type f ! -name 'SHA256SUMS*' -printf '%P\n' | LC_ALL=C sort \
   | xargs sha256sum > SHA256SUMS \
 && gpg --batch --yes --local-user "$KEY" --detach-sign -o SHA256SUMS.sig SHA256SUMS)

step "verify"
packaging/verify.sh "$OUT"
BUNDLE_MB=$(du -sm "$WORK/a/dist/cpdesk" | cut -f1)
DEB_MB=$(du -m "$OUT/$DEB" | cut -f1)
echo "bundle ${BUNDLE_MB} MB, .deb ${DEB_MB} MB; one build ${BUILD_SECONDS} s; all $(( $(date +%s) - t0 )) s"
echo "artifacts in $OUT"
