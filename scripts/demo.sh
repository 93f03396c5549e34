#!/usr/bin/env bash
# README command 1: run the exporter on three embedded demo "DM8 instances" (SQLite files
# emulating DM8's catalog; no DM server needed). Extra arguments go to the exporter,
# e.g. `scripts/demo.sh --listenAddress :9300`.
#
#   1. install the system packages (scripts/install-deps.sh; sudo when not root)
#   2. cargo build --release
#   3. build ./demo-data/{primary,standby,odd}.db (tests/fixtures/build.sh sqlite)
#   4. exec target/release/dameng_exporter --config config/examples/demo.toml
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh

if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
    PATH=$HOME/.cargo/bin:$PATH
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "demo: cargo not found. Install the Rust toolchain with rustup:" >&2
    echo "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y" >&2
    echo "then open a new shell (or run: . \"\$HOME/.cargo/env\") and re-run $0" >&2
    exit 1
fi

echo "demo: building the exporter (cargo build --release; the first build takes a few minutes)"
cargo build --release --quiet

tests/fixtures/build.sh sqlite demo-data

# Where will it listen? config/examples/demo.toml says :9200 unless overridden here.
listen=:9200
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
        --listenAddress=*) listen=${args[i]#*=} ;;
        --listenAddress) listen=${args[i + 1]:-$listen} ;;
    esac
done
host=${listen%:*}
port=${listen##*:}
[[ -z $host || $host == 0.0.0.0 || $host == '[::]' ]] && host=localhost

echo "demo: open http://$host:$port/ (status page) or http://$host:$port/metrics; Ctrl-C stops"
exec target/release/dameng_exporter --config config/examples/demo.toml "$@"
