#!/usr/bin/env bash
# README command 2: the whole test suite. Extra arguments go to `cargo test`, e.g.
# `scripts/test.sh fixture` (a test-name filter) or `scripts/test.sh -- --nocapture`.
#
#   1. install the system packages (scripts/install-deps.sh; sudo when not root)
#   2. PostgreSQL running with role dmexp/dmexp (scripts/pg-setup.sh)
#   3. fixtures: ODBC drivers registered (and the DM driver double built and registered), SQLite files in target/fixtures, PG databases
#      dmexp_{primary,standby,odd}; tests/fixture_check.sh verifies them through isql
#   4. cargo test --workspace --all-targets
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
scripts/pg-setup.sh

if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
    PATH=$HOME/.cargo/bin:$PATH
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "test: cargo not found. Install the Rust toolchain with rustup:" >&2
    echo "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y" >&2
    echo "then open a new shell (or run: . \"\$HOME/.cargo/env\") and re-run $0" >&2
    exit 1
fi

tests/fixtures/build.sh check
tests/dm_double/build.sh >/dev/null   # the DM8 ODBC driver double `DMDouble` (gcc; registers it)
tests/fixtures/build.sh sqlite target/fixtures
tests/fixtures/build.sh pg
tests/fixture_check.sh --no-build target/fixtures
export DMEXP_FIXTURE_DIR=$PWD/target/fixtures

exec cargo test --workspace --all-targets "$@"
