#!/usr/bin/env bash
# Builds the DM8 ODBC driver double (tests/dm_double/dmdouble.c) and registers it in
# odbcinst.ini as `DMDouble`. Not Dameng's driver: see tests/dm_double/README.md.
#
#   tests/dm_double/build.sh [OUTDIR]     build OUTDIR/libdmdouble.so (default target/dm_double)
#                                         when the source is newer, then register it (idempotent)
#
# Needs gcc, unixodbc-dev (sql.h) and the SQLite ODBC driver (libsqliteodbc, registered as
# `SQLite3`; its library path is compiled in). Registering writes the system odbcinst.ini,
# so it runs as root or through sudo, like scripts/install-deps.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/target/dm_double}
mkdir -p "$out"
out=$(cd "$out" && pwd)
lib=$out/libdmdouble.so

die() { echo "dm_double/build.sh: $*" >&2; exit 1; }
command -v gcc >/dev/null || die "gcc not found: apt-get install gcc (scripts/install-deps.sh)"
[[ -f /usr/include/sql.h ]] || die "/usr/include/sql.h missing: apt-get install unixodbc-dev"
command -v odbcinst >/dev/null || die "odbcinst not found: apt-get install unixodbc"

# The SQLite3 driver's library, as odbcinst.ini names it (relative names live in the
# unixODBC driver directory).
real=$(odbcinst -q -d -n SQLite3 2>/dev/null | sed -n 's/^Driver=//p' | head -n1)
[[ -n $real ]] || die "ODBC driver SQLite3 is not registered: apt-get install libsqliteodbc"
if [[ $real != /* ]]; then
    for d in /usr/lib/x86_64-linux-gnu/odbc /usr/lib/aarch64-linux-gnu/odbc /usr/lib/odbc /usr/lib64; do
        [[ -e $d/$real ]] && { real=$d/$real; break; }
    done
fi
[[ -e $real ]] || die "SQLite ODBC driver library $real not found"

if [[ ! -f $lib || $here/dmdouble.c -nt $lib || $0 -nt $lib ]]; then
    tmp=$lib.tmp.$$
    gcc -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -fPIC -shared \
        -fvisibility=hidden -DDMDOUBLE_REAL_DRIVER="\"$real\"" \
        -o "$tmp" "$here/dmdouble.c" -ldl -lpthread
    mv -f "$tmp" "$lib"
fi

# Register (or re-point) [DMDouble]; skip when odbcinst.ini already says exactly this.
current=$(odbcinst -q -d -n DMDouble 2>/dev/null | sed -n 's/^Driver=//p' | head -n1 || true)
if [[ $current != "$lib" ]]; then
    ini=$(mktemp)
    printf '[DMDouble]\nDescription=DM8 ODBC driver double for tests (forwards to SQLite3; not Dameng'"'"'s driver)\nDriver=%s\nThreading=0\n' "$lib" >"$ini"
    sudo=""
    [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null && sudo=sudo
    $sudo odbcinst -i -d -f "$ini" >/dev/null </dev/null
    rm -f "$ini"
    odbcinst -q -d -n DMDouble >/dev/null || die "registering DMDouble in odbcinst.ini failed"
fi
echo "$lib"
