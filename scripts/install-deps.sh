#!/usr/bin/env bash
# Install the Debian packages the demo and the test suite need (idempotent).
#
# Skips apt entirely when `dpkg-query` reports every package installed, so a second run
# costs a few milliseconds and needs no network. Runs apt through sudo when not root.
#   unixodbc, unixodbc-dev   ODBC driver manager and headers (odbc-api links libodbc)
#   libsqliteodbc            the `SQLite3` ODBC driver (embedded demo / most tests)
#   odbc-postgresql          the `PostgreSQL Unicode` ODBC driver (fault tests)
#   postgresql               the PostgreSQL fixture server
#   sqlite3                  CLI used by tests/fixtures/build.sh
#   prometheus               for promtool (`promtool check metrics` in the tests)
#   gcc, pkg-config          native bits of the Rust build
set -euo pipefail

PACKAGES=(unixodbc unixodbc-dev libsqliteodbc odbc-postgresql postgresql sqlite3
          prometheus gcc pkg-config)

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: apt-get not found; install these packages by hand: ${missing[*]}" >&2
    exit 1
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "install-deps: not root and sudo is missing; as root run:" >&2
        echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    SUDO=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1 ||
   ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
    cat "$log" >&2
    echo "install-deps: apt-get failed (output above)" >&2
    exit 1
fi
