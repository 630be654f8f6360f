#!/usr/bin/env bash
# Install the system libraries docfactory needs, only those missing (Debian/Ubuntu).
#   Pango + HarfBuzz (WeasyPrint's text layout), libharfbuzz-subset0 (fast font subsetting:
#   ~3x faster PDFs than the fontTools fallback), DejaVu fonts (Latin and Cyrillic fallback),
#   poppler-utils (pdftoppm/pdftotext, used by proofs and tests), libdmtx0b (DataMatrix
#   encoding for the inserter marks on print streams, through pylibdmtx), git (proofs against a
#   git revision: `docfactory proof JOB --against HEAD~1`), chromium (the web pages are tested
#   in a real headless browser, driven by Playwright at /usr/bin/chromium); redis-server and
#   postgresql (the broker and the index of a cluster, which the tests run against on loopback);
#   nodejs and npm (the tests' second S3 server, s3rver, without Object Lock: `make test-deps`);
#   openssl (the sealing tests check timestamps and signed export manifests with `openssl ts`
#   and `openssl cms`, as an auditor would; pdfsig from poppler-utils checks the PDF seals);
#   softhsm2 and opensc (a software PKCS#11 token and pkcs11-tool: the tests seal with a key
#   held on a real PKCS#11 token).
set -euo pipefail
PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fontconfig
          fonts-dejavu-core fonts-dejavu-extra poppler-utils libdmtx0b git chromium
          redis-server postgresql nodejs openssl softhsm2 opensc)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$pkg")
done
# npm: Debian packages it apart from nodejs; NodeSource's nodejs includes it.
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing system packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "error: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
