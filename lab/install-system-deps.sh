#!/usr/bin/env bash
# Installs the Debian packages the lab needs, only those missing: PostgreSQL 15 server binaries and
# redis-server. Idempotent; runs apt-get as root, or through sudo otherwise.
# Installing starts no service here (policy-rc.d): the lab starts its own, on its own ports.
set -euo pipefail

PACKAGES=(postgresql redis-server)

# A package counts as present when dpkg says "install ok installed" (a removed one leaves "deinstall").
is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for package in "${PACKAGES[@]}"; do
    is_installed "$package" || missing+=("$package")
done
# The lab needs the version-15 binaries precisely, whatever the metapackage resolved to.
[[ -x /usr/lib/postgresql/15/bin/initdb ]] || missing+=(postgresql-15)

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-system-deps: all present (${PACKAGES[*]})"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null; then
    as_root=(sudo)
else
    echo "install-system-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
fi

echo "install-system-deps: installing ${missing[*]}"
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
