#!/usr/bin/env bash
# Regenerate requirements.lock: every Python package of `.[all,dev]`, pinned, with hashes.
#
# pyproject.toml keeps the requirements (exact pins, by extra); this lock adds the transitive
# dependencies and the sha256 of every file, so `make venv` installs the same bytes everywhere
# (pip --require-hashes). uv resolves from the package indexes pip is configured with on this
# machine (pip config and PIP_* variables), so the lock and the install see the same releases.
set -euo pipefail
cd "$(dirname "$0")/.."
PIP="${PIP:-.venv/bin/pip}"
UV="${UV:-.venv/bin/uv}"

setting() {  # the value of a pip setting: its PIP_* variable, else pip's config files
  local variable="PIP_$(echo "$1" | tr 'a-z-' 'A-Z_')"
  if [ -n "${!variable:-}" ]; then echo "${!variable}"; else "$PIP" config get "global.$1" 2>/dev/null || true; fi
}

args=(--default-index "$(setting index-url | awk '{print $1}')")
[ "${args[1]}" != "" ] || args=(--default-index https://pypi.org/simple)
for url in $(setting extra-index-url); do args+=(--index "$url"); done
for links in $(setting find-links); do args+=(--find-links "$links"); done

# unsafe-best-match: like pip, take the best version across all indexes (uv's default stops at
# the first index that has the package, which would let a partial local mirror hide releases).
"$UV" pip compile pyproject.toml --extra all --extra dev --generate-hashes --universal \
  --python-version 3.11 --index-strategy unsafe-best-match --no-emit-index-url \
  --no-emit-find-links --quiet "${args[@]}" --output-file requirements.lock "$@"
echo "requirements.lock: $(grep -c '^[a-z0-9]' requirements.lock) packages"
