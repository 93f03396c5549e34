#!/usr/bin/env bash
# Line coverage of the workspace (cargo-llvm-cov), the figure README "Testing" states.
#
#   scripts/coverage.sh            # summary table, TOTAL line last
#   scripts/coverage.sh --html     # also target/llvm-cov/html/index.html
#
# The whole suite runs instrumented, the exporter binary that the integration tests start
# included (its profiles are merged too). rustup's llvm-tools component is not reachable from
# every machine, so the LLVM tools come from Debian's llvm-19 (it reads the profiles of the
# current rustc); cargo-llvm-cov comes from crates.io. Needs what scripts/test.sh sets up
# (packages, PostgreSQL, fixtures): run that once first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
    PATH=$HOME/.cargo/bin:$PATH
fi
sudo_if_needed() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

if ! command -v llvm-profdata-19 >/dev/null 2>&1; then
    echo "coverage: installing llvm-19 (Debian) for llvm-profdata and llvm-cov"
    sudo_if_needed apt-get install -y -qq -o DPkg::Lock::Timeout=300 llvm-19 >/dev/null
fi
if ! command -v cargo-llvm-cov >/dev/null 2>&1; then
    echo "coverage: installing cargo-llvm-cov (crates.io)"
    cargo install --locked --quiet cargo-llvm-cov
fi
export LLVM_COV=${LLVM_COV:-$(command -v llvm-cov-19)}
export LLVM_PROFDATA=${LLVM_PROFDATA:-$(command -v llvm-profdata-19)}
export DMEXP_FIXTURE_DIR=${DMEXP_FIXTURE_DIR:-$PWD/target/fixtures}
if [[ ! -d $DMEXP_FIXTURE_DIR ]]; then
    echo "coverage: no fixtures in $DMEXP_FIXTURE_DIR; run scripts/test.sh once first" >&2
    exit 1
fi

# Test code, examples and benches are not what the figure is about.
ignore='(^|/)(tests|benches|examples|bench)/|/tests\.rs$|dm_double'
cargo llvm-cov clean --workspace >/dev/null 2>&1 || true
cargo llvm-cov --workspace --all-targets --no-report
if [[ ${1:-} == --html ]]; then
    cargo llvm-cov report --workspace --ignore-filename-regex "$ignore" --html
    echo "coverage: target/llvm-cov/html/index.html"
fi
cargo llvm-cov report --workspace --ignore-filename-regex "$ignore" --summary-only
