#!/usr/bin/env bash
# Checks what scripts/package.sh put into target/dist/ (CI runs it after package.sh):
#   - both binaries: ELF for the right machine, stripped, glibc symbol versions <= 2.17
#     (objdump -T), NEEDED libodbc.so.2 and nothing outside glibc and unixODBC;
#   - the x86_64 binary runs --version and --check-config on the packaged configuration; the
#     aarch64 one runs --version under qemu-aarch64 (with the arm64 libraries from Debian
#     multiarch), skipped with a notice when qemu-user cannot be installed;
#   - tarball, .deb (dpkg-deb -c/-I) and .rpm (rpm -qp) contents, conffiles, dependencies and
#     maintainer scripts;
#   - the systemd unit with systemd-analyze verify, when systemd-analyze exists.
# Usage: scripts/check-packages.sh [--arch x86_64|aarch64]...   (default: both)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
dist=$ROOT/target/dist

arches=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --arch) arches+=("${2:?--arch needs x86_64 or aarch64}"); shift 2 ;;
        *) echo "check-packages.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[[ ${#arches[@]} -gt 0 ]] || arches=(x86_64 aarch64)

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
failures=0
ok() { echo "  ok   $*"; }
bad() { echo "  FAIL $*" >&2; failures=$((failures + 1)); }
skip() { echo "  skip $*"; }
step() { echo "==> $*"; }

apt_have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
apt_try() { # installs quietly, returns non-zero when apt cannot
    local missing=()
    for p in "$@"; do apt_have "$p" || missing+=("$p"); done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    command -v apt-get >/dev/null || return 1
    { apt-get update -qq -o DPkg::Lock::Timeout=300 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}"; } >/dev/null 2>&1
}

# the list every tarball, .deb and .rpm must carry (paths relative to each one's root)
expected_examples=(
    examples/config/multi_datasource.toml
    examples/config/single_datasource.toml
    examples/config/dameng_exporter.config
    examples/config/custom_queries.metrics
    examples/grafana/dameng_overview.json
    examples/prometheus/prometheus.yml
    examples/prometheus/rules/dameng_alerts.yml
)

apt_try binutils rpm || true
command -v objdump >/dev/null || { echo "objdump (binutils) is required" >&2; exit 1; }

for arch in "${arches[@]}"; do
    triple=$arch-unknown-linux-gnu
    case $arch in x86_64) darch=amd64 machine="X86-64" ;; aarch64) darch=arm64 machine="AArch64" ;; esac
    name=dameng_exporter-$version-linux-$arch
    tarball=$dist/$name.tar.gz
    deb=$dist/dameng-exporter_${version}-1_$darch.deb
    rpmf=$dist/dameng-exporter-$version-1.$arch.rpm
    work=$ROOT/target/pkg-check/$arch
    rm -rf "$work"
    mkdir -p "$work"

    step "$arch: tarball $tarball"
    if [[ ! -f $tarball ]]; then
        bad "missing $tarball (run scripts/package.sh)"
        continue
    fi
    tar -xzf "$tarball" -C "$work"
    top=$work/$name
    for f in dameng_exporter README.md README.zh-CN.md LICENSE dameng_exporter.toml \
        systemd/dameng_exporter.service "${expected_examples[@]}"; do
        [[ -f $top/$f ]] && ok "tarball has $f" || bad "tarball lacks $f"
    done
    bin=$top/dameng_exporter

    step "$arch: binary"
    header=$(readelf -h "$bin" 2>/dev/null || objdump -f "$bin")
    if grep -q "Machine:.*$machine\|architecture: ${arch/_/-}" <<<"$header"; then ok "ELF for $arch"; else bad "not an $arch ELF: $(grep -m1 Machine <<<"$header")"; fi
    if readelf -S "$bin" | grep -q '\.symtab'; then bad "not stripped (.symtab present)"; else ok "stripped"; fi
    # highest GLIBC_x.y any imported symbol needs
    max=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n -k3,3n -u | tail -1)
    if [[ -z $max ]]; then
        bad "no GLIBC symbol versions found (is it dynamically linked?)"
    elif [[ $(printf '%s\n' "$max" 2.17 | sort -t. -k1,1n -k2,2n | tail -1) == 2.17 ]]; then
        ok "glibc symbols <= 2.17 (highest GLIBC_$max)"
    else
        bad "needs GLIBC_$max > 2.17: $(objdump -T "$bin" | grep -o 'GLIBC_2\.\(1[89]\|[2-9][0-9]\)[0-9.]* *[^ ]*' | sort -u | head -5 | tr '\n' ' ')"
    fi
    needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
    if grep -qw 'libodbc.so.2' <<<"$needed"; then ok "links libodbc.so.2"; else bad "does not link libodbc.so.2 (NEEDED: $needed)"; fi
    extra=$(tr ' ' '\n' <<<"$needed" | grep -v -E '^(libodbc\.so\.2|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libgcc_s\.so\.1|ld-linux.*)$' | tr '\n' ' ' || true)
    if [[ -z ${extra// /} ]]; then ok "NEEDED only glibc + unixODBC: $needed"; else bad "unexpected NEEDED libraries: $extra"; fi

    step "$arch: runs"
    if [[ $arch == "$(uname -m)" ]]; then
        if out=$("$bin" --version 2>&1) && grep -q "$version" <<<"$out"; then
            ok "--version: $(head -1 <<<"$out")"
        else
            bad "--version failed or lacks $version: $out"
        fi
        # the packaged configuration is valid apart from the datasource it cannot know
        set +e
        out=$("$bin" --check-config --config "$top/dameng_exporter.toml" 2>&1)
        rc=$?
        set -e
        if [[ $rc -eq 0 ]] || grep -q 'local.pwd' <<<"$out"; then
            ok "--check-config on the packaged configuration (exit $rc)"
        else
            bad "--check-config on the packaged configuration, exit $rc: $out"
        fi
    else
        qemu=qemu-$arch
        if ! command -v "$qemu" >/dev/null; then
            apt_try qemu-user || true
        fi
        # the arm64 dynamic loader, glibc and unixODBC, from Debian multiarch
        sysroot_ok=1
        apt_try "libodbc2:$darch" || sysroot_ok=0
        if ! command -v "$qemu" >/dev/null; then
            skip "--version under $qemu: qemu-user cannot be installed here"
        elif [[ $sysroot_ok -eq 0 ]]; then
            skip "--version under $qemu: libodbc2:$darch (multiarch) cannot be installed here"
        else
            if out=$("$qemu" -L / "$bin" --version 2>&1) && grep -q "$version" <<<"$out"; then
                ok "--version under $qemu: $(head -1 <<<"$out")"
            else
                bad "--version under $qemu: $out"
            fi
        fi
    fi

    step "$arch: .deb $deb"
    if [[ ! -f $deb ]]; then
        bad "missing $deb"
    else
        info=$(dpkg-deb -I "$deb")
        contents=$(dpkg-deb -c "$deb" | awk '{print $1, $2, $NF}')
        grep -q "^ *Architecture: $darch$" <<<"$info" && ok "Architecture: $darch" || bad "Architecture is not $darch"
        grep -q "^ *Depends:.*unixodbc" <<<"$info" && ok "Depends on unixodbc" || bad "no Depends on unixodbc: $(grep Depends <<<"$info")"
        for f in ./usr/bin/dameng_exporter ./etc/dameng_exporter/dameng_exporter.toml \
            ./etc/default/dameng_exporter ./lib/systemd/system/dameng_exporter.service \
            ./usr/share/doc/dameng-exporter/copyright \
            ./usr/share/doc/dameng-exporter/README.zh-CN.md; do
            # cargo-deb puts units in /lib or /usr/lib depending on its version
            alt=${f/#.\/lib\//.\/usr\/lib\/}
            if grep -q -E " ($f|$alt)$" <<<"$contents"; then ok "deb has ${f#.}"; else bad "deb lacks ${f#.}"; fi
        done
        for f in "${expected_examples[@]}"; do
            grep -q " ./usr/share/dameng_exporter/$f$" <<<"$contents" && ok "deb has /usr/share/dameng_exporter/$f" || bad "deb lacks /usr/share/dameng_exporter/$f"
        done
        grep -q -E -- '^-rwxr-xr-x (root/root|0/0) ./usr/bin/dameng_exporter$' <<<"$contents" && ok "binary mode 0755 root" || bad "binary mode/owner: $(grep usr/bin <<<"$contents")"
        dpkg-deb -e "$deb" "$work/DEBIAN"
        if grep -qx /etc/dameng_exporter/dameng_exporter.toml "$work/DEBIAN/conffiles" &&
            grep -qx /etc/default/dameng_exporter "$work/DEBIAN/conffiles"; then
            ok "conffiles: $(tr '\n' ' ' <"$work/DEBIAN/conffiles")"
        else
            bad "conffiles lack the configuration: $(cat "$work/DEBIAN/conffiles" 2>/dev/null)"
        fi
        grep -q 'useradd --system' "$work/DEBIAN/postinst" && ok "postinst creates the service user" || bad "postinst does not create the user"
        grep -q 'daemon-reload' "$work/DEBIAN/postinst" && ok "postinst has the systemd snippet" || bad "postinst lacks the systemd snippet (#DEBHELPER#)"
        if grep -q 'systemctl.*start' "$work/DEBIAN/postinst" && ! grep -q 'try-restart\|_dh_action=' "$work/DEBIAN/postinst"; then
            bad "postinst starts the service on install"
        else
            ok "postinst does not start the service on a fresh install"
        fi
    fi

    step "$arch: .rpm $rpmf"
    if [[ ! -f $rpmf ]]; then
        bad "missing $rpmf"
    elif ! command -v rpm >/dev/null; then
        skip "rpm is not installed; only the file's presence was checked"
    else
        list=$(rpm -qpl "$rpmf" 2>/dev/null)
        for f in /usr/bin/dameng_exporter /etc/dameng_exporter/dameng_exporter.toml \
            /etc/sysconfig/dameng_exporter /usr/lib/systemd/system/dameng_exporter.service \
            /usr/lib/sysusers.d/dameng_exporter.conf /usr/share/licenses/dameng-exporter/LICENSE; do
            grep -qx "$f" <<<"$list" && ok "rpm has $f" || bad "rpm lacks $f"
        done
        for f in "${expected_examples[@]}"; do
            grep -qx "/usr/share/dameng_exporter/$f" <<<"$list" && ok "rpm has /usr/share/dameng_exporter/$f" || bad "rpm lacks /usr/share/dameng_exporter/$f"
        done
        rarch=$(rpm -qp --qf '%{ARCH}' "$rpmf" 2>/dev/null)
        [[ $rarch == "$arch" ]] && ok "rpm arch $rarch" || bad "rpm arch is '$rarch', not $arch"
        cfg=$(rpm -qpc "$rpmf" 2>/dev/null)
        grep -qx /etc/dameng_exporter/dameng_exporter.toml <<<"$cfg" && ok "rpm %config: $(tr '\n' ' ' <<<"$cfg")" || bad "rpm %config lacks the configuration: $cfg"
        # %config(noreplace): file flags bit 4 (RPMFILE_NOREPLACE = 16)
        flags=$(rpm -qp --qf '[%{FILEFLAGS} %{FILENAMES}\n]' "$rpmf" 2>/dev/null | awk '$2 == "/etc/dameng_exporter/dameng_exporter.toml" {print $1}')
        [[ -n $flags && $((flags & 16)) -ne 0 ]] && ok "configuration is %config(noreplace)" || bad "configuration is not noreplace (flags '$flags')"
        owner=$(rpm -qp --qf '[%{FILEGROUPNAME} %{FILEMODES:perms} %{FILENAMES}\n]' "$rpmf" 2>/dev/null | awk '$3 == "/etc/dameng_exporter/dameng_exporter.toml" {print $1, $2}')
        [[ $owner == "dameng_exporter -rw-r-----" ]] && ok "configuration group/mode: $owner" || bad "configuration group/mode: '$owner'"
        reqs=$(rpm -qpR "$rpmf" 2>/dev/null)
        grep -q '^unixODBC' <<<"$reqs" && ok "Requires unixODBC" || bad "no Requires unixODBC: $reqs"
        # CentOS/RHEL 7 (rpm 4.11) installs only gzip/xz payloads
        grep -q 'PayloadIsZstd' <<<"$reqs" && bad "zstd payload: rpm 4.11 (CentOS 7) cannot install it" || ok "payload $(rpm -qp --qf '%{PAYLOADCOMPRESSOR}' "$rpmf" 2>/dev/null) (readable by rpm 4.11)"
        scripts=$(rpm -qp --scripts "$rpmf" 2>/dev/null)
        grep -q 'useradd -r' <<<"$scripts" && ok "%pre creates the service user" || bad "%pre does not create the user"
    fi
done

step "systemd unit"
if command -v systemd-analyze >/dev/null; then
    # verify needs the ExecStart binary to exist: point it at the built one
    unit_dir=$ROOT/target/pkg-check/unit
    mkdir -p "$unit_dir"
    bin=$ROOT/target/$(uname -m)-unknown-linux-gnu/release/dameng_exporter
    [[ -x $bin ]] || bin=/bin/true
    sed "s#^ExecStart=/usr/bin/dameng_exporter#ExecStart=$bin#" packaging/systemd/dameng_exporter.service \
        >"$unit_dir/dameng_exporter.service"
    if out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$unit_dir/dameng_exporter.service" 2>&1) && [[ -z $out ]]; then
        ok "systemd-analyze verify"
    else
        bad "systemd-analyze verify: $out"
    fi
    if command -v systemd-analyze >/dev/null && systemd-analyze security --help >/dev/null 2>&1; then
        # exposure score of the unit file (offline; informational)
        score=$(systemd-analyze security --offline=yes "$unit_dir/dameng_exporter.service" 2>/dev/null | tail -1 || true)
        [[ -n $score ]] && echo "  info $score"
    fi
else
    skip "systemd-analyze is not installed"
fi

if [[ $failures -gt 0 ]]; then
    echo "check-packages: $failures check(s) failed" >&2
    exit 1
fi
echo "check-packages: all checks passed"
