#!/usr/bin/env bash
# Builds the release packages into target/dist/ (README "Installing from packages"):
#
#   dameng_exporter-<version>-linux-x86_64.tar.gz   dameng_exporter-<version>-linux-aarch64.tar.gz
#   dameng-exporter_<version>-1_amd64.deb           dameng-exporter_<version>-1_arm64.deb
#   dameng-exporter-<version>-1.x86_64.rpm          dameng-exporter-<version>-1.aarch64.rpm
#   SHA256SUMS
#
# Both binaries are cross-built with cargo-zigbuild against glibc 2.17 (CentOS 7, the oldest
# DM platform) and link libodbc.so.2 dynamically, so they run on every distribution that has
# unixODBC. Linking needs each architecture's libodbc.so.2: the aarch64 one comes from Debian
# multiarch (libodbc2:arm64). Tools are installed only when missing (apt, PyPI ziglang, crates.io
# cargo-zigbuild/cargo-deb/cargo-generate-rpm, rustup target), and the target/<triple>/ build
# directories are reused, so a second run only repackages.
#
# Usage: scripts/package.sh [--arch x86_64|aarch64]... [--no-install]
#   --arch        build only this architecture (repeatable; default both)
#   --no-install  fail instead of installing a missing tool
# Checks of the result: scripts/check-packages.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

if [[ -d $HOME/.cargo/bin ]]; then
    PATH=$HOME/.cargo/bin:$PATH
fi

# Tool versions this script was tested with (pinned so a clean clone builds the same way).
ZIGLANG_VERSION=0.17.1
CARGO_ZIGBUILD_VERSION=0.24.1
CARGO_DEB_VERSION=3.8.0
CARGO_GENERATE_RPM_VERSION=0.21.1
GLIBC_VERSION=2.17

arches=()
install=1
while [[ $# -gt 0 ]]; do
    case $1 in
        --arch)
            [[ $# -ge 2 ]] || { echo "package.sh: --arch needs x86_64 or aarch64" >&2; exit 2; }
            case $2 in
                x86_64 | aarch64) arches+=("$2") ;;
                *) echo "package.sh: unknown architecture '$2' (x86_64 or aarch64)" >&2; exit 2 ;;
            esac
            shift 2
            ;;
        --no-install) install=0; shift ;;
        -h | --help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "package.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
if [[ ${#arches[@]} -eq 0 ]]; then
    arches=(x86_64 aarch64)
fi

step() { echo "==> $*"; }
die() { echo "package.sh: $*" >&2; exit 1; }

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
[[ -n $version ]] || die "cannot read [workspace.package] version from Cargo.toml"

deb_arch() { case $1 in x86_64) echo amd64 ;; aarch64) echo arm64 ;; esac; }

need_install() {
    [[ $install -eq 1 ]] || die "$1 is missing (run without --no-install, or install it: $2)"
}

# --- tools ------------------------------------------------------------------------------
apt_updated=0
apt_install() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    need_install "${missing[*]}" "apt-get install ${missing[*]}"
    command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get"
    if [[ $apt_updated -eq 0 ]]; then
        apt-get update -qq -o DPkg::Lock::Timeout=300
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
}

cargo_tool() { # cargo_tool <crate> <version> <binary>
    if ! command -v "$3" >/dev/null; then
        need_install "$1" "cargo install --locked $1@$2"
        step "cargo install $1 $2"
        cargo install --locked --quiet "$1@$2"
    fi
}

step "tools"
if [[ " ${arches[*]} " == *" aarch64 "* ]]; then
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        need_install "Debian multiarch arm64" "dpkg --add-architecture arm64"
        dpkg --add-architecture arm64
        apt_updated=0
    fi
    # libodbc.so.2 to link against (the binary only records its soname)
    apt_install libodbc2:arm64
    rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
        || { need_install "rust target aarch64" "rustup target add aarch64-unknown-linux-gnu"; \
             rustup target add aarch64-unknown-linux-gnu; }
fi
apt_install libodbc2
if ! command -v zig >/dev/null && ! python3 -m ziglang version >/dev/null 2>&1; then
    need_install "zig" "pip install ziglang==$ZIGLANG_VERSION"
    step "pip install ziglang $ZIGLANG_VERSION"
    python3 -m pip install --quiet "ziglang==$ZIGLANG_VERSION"
fi
cargo_tool cargo-zigbuild "$CARGO_ZIGBUILD_VERSION" cargo-zigbuild
cargo_tool cargo-deb "$CARGO_DEB_VERSION" cargo-deb
cargo_tool cargo-generate-rpm "$CARGO_GENERATE_RPM_VERSION" cargo-generate-rpm

dist=$ROOT/target/dist
mkdir -p "$dist"

# DMEXP_PKG_CACHE=DIR keeps the release build directories outside this checkout (CI sets it),
# so a fresh clone rebuilds only the workspace crates: target/<triple> and target/release (host
# build scripts and proc macros of a cross build) become links into DIR.
if [[ -n ${DMEXP_PKG_CACHE:-} ]]; then
    for sub in release x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu; do
        if [[ ! -e $ROOT/target/$sub || -L $ROOT/target/$sub ]]; then
            mkdir -p "$DMEXP_PKG_CACHE/$sub"
            ln -sfn "$DMEXP_PKG_CACHE/$sub" "$ROOT/target/$sub"
        fi
    done
    echo "    release builds cached in $DMEXP_PKG_CACHE"
fi

# --- per architecture -------------------------------------------------------------------
for arch in "${arches[@]}"; do
    triple=$arch-unknown-linux-gnu
    multiarch=$arch-linux-gnu
    bin=$ROOT/target/$triple/release/dameng_exporter

    # A directory holding only libodbc.so (-> the architecture's libodbc.so.2): adding the
    # whole /usr/lib/<multiarch> to the search path would let the linker pick the build host's
    # glibc instead of zig's 2.17 stubs.
    linkdir=$ROOT/target/pkg-link/$arch
    mkdir -p "$linkdir"
    [[ -e /usr/lib/$multiarch/libodbc.so.2 ]] || die "/usr/lib/$multiarch/libodbc.so.2 is missing (libodbc2:$(deb_arch "$arch"))"
    ln -sfn "/usr/lib/$multiarch/libodbc.so.2" "$linkdir/libodbc.so"

    step "$arch: cargo zigbuild --release --target $triple.$GLIBC_VERSION"
    started=$SECONDS
    var=CARGO_TARGET_$(echo "$triple" | tr 'a-z-' 'A-Z_')_RUSTFLAGS
    env "$var=-L native=$linkdir" \
        cargo zigbuild --release --locked --quiet -p dameng_exporter --bin dameng_exporter \
        --target "$triple.$GLIBC_VERSION"
    echo "    built in $((SECONDS - started)) s: $bin"

    step "$arch: tarball"
    name=dameng_exporter-$version-linux-$arch
    stage=$ROOT/target/pkg-stage/$name
    rm -rf "$stage"
    mkdir -p "$stage"/examples/{config,grafana,prometheus/rules} "$stage/systemd"
    install -m 0755 "$bin" "$stage/dameng_exporter"
    install -m 0644 README.md README.zh-CN.md LICENSE CHANGELOG.md "$stage/"
    install -m 0644 config/examples/* "$stage/examples/config/"
    install -m 0644 packaging/config/dameng_exporter.toml "$stage/dameng_exporter.toml"
    install -m 0644 examples/grafana/*.json "$stage/examples/grafana/"
    install -m 0644 examples/prometheus/*.yml "$stage/examples/prometheus/"
    install -m 0644 examples/prometheus/rules/*.yml "$stage/examples/prometheus/rules/"
    install -m 0644 packaging/systemd/dameng_exporter.service packaging/systemd/dameng_exporter.sysusers \
        packaging/config/default.env "$stage/systemd/"
    # reproducible: fixed owner, order and time (the commit's, else the version file's)
    mtime=$(git log -1 --format=%ct 2>/dev/null || stat -c %Y Cargo.toml)
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime" \
        -C "$ROOT/target/pkg-stage" -czf "$dist/$name.tar.gz" "$name"
    echo "    $dist/$name.tar.gz"

    step "$arch: .deb"
    cargo deb --no-build --no-strip --quiet --target "$triple" --output "$dist/" >/dev/null
    echo "    $dist/dameng-exporter_$version-1_$(deb_arch "$arch").deb"

    step "$arch: .rpm"
    # gzip payload: CentOS/RHEL 7's rpm 4.11 cannot read zstd (the default)
    cargo generate-rpm --target "$triple" --payload-compress gzip --output "$dist/"
    echo "    $dist/dameng-exporter-$version-1.$arch.rpm"
done

(cd "$dist" && sha256sum -- *.tar.gz *.deb *.rpm >SHA256SUMS)
step "done: $dist"
ls -l "$dist"
