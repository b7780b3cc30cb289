#!/usr/bin/env bash
# Linux half of the Windows pipeline: the MSI from cpdesk.wxs with wixl, then an
# Authenticode signature with osslsigncode, then verification.
#
#   packaging/windows/build-msi.sh WORKDIR VERSION OUT.msi OUT-cert.pem
#
# A frozen Windows app cannot be built on Linux, so the payload here is a stand-in
# folder (cpdesk.exe is a text file saying so). What this proves is the WiX source (per-
# machine, Program Files, Start-menu shortcut, upgrade code, empty policy keys) and the
# signing and verification pipeline. The real MSI comes from .github/workflows/windows.yml
# (PyInstaller on Windows, WiX 3, signtool via sign.ps1) with the same cpdesk.wxs.
# Certificate: CPDESK_SIGN_CERT + CPDESK_SIGN_KEY (PEM) if given, else a throwaway test
# certificate; its public half is written to OUT-cert.pem for `osslsigncode verify -CAfile`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$1 version=$2 out=$3 cert_out=$4
mkdir -p "$work/payload/_internal"
printf 'Stand-in built on Linux by build-msi.sh; the real cpdesk.exe is built on Windows.\r\n' \
  > "$work/payload/cpdesk.exe"
printf 'Stand-in for the PyInstaller _internal folder.\r\n' > "$work/payload/_internal/README.txt"
cp "$here/../../resources/cpdesk.ico" "$work/cpdesk.ico"
python3 "$here/harvest.py" "$work/payload" > "$work/files.wxs"
cp "$here/cpdesk.wxs" "$work/cpdesk.wxs"
# wixl wants paths relative to the working folder.
(cd "$work" && wixl -a x64 -D Wixl=yes -D "Version=$version" -D SourceDir=payload \
   -D IconFile=cpdesk.ico -o unsigned.msi cpdesk.wxs files.wxs)
if [ -n "${CPDESK_SIGN_CERT:-}" ]; then
  cert=$CPDESK_SIGN_CERT key=${CPDESK_SIGN_KEY:?CPDESK_SIGN_KEY must name the PEM key}
else
  cert=$work/test-cert.pem key=$work/test-key.pem
  openssl req -x509 -newkey rsa:3072 -nodes -keyout "$key" -out "$cert" -days 2 \
    -subj "/CN=cpdesk TEST code signing (throwaway, not trusted)" \
    -addext "extendedKeyUsage=codeSigning" -addext "keyUsage=digitalSignature" 2>/dev/null
fi
rm -f "$out"
osslsigncode sign -certs "$cert" -key "$key" -h sha256 -n cpdesk -i https://cpdesk.invalid/ \
  -in "$work/unsigned.msi" -out "$out" >/dev/null
cp "$cert" "$cert_out"
osslsigncode verify -CAfile "$cert_out" -in "$out" >/dev/null
