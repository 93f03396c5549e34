//! `--version` and `dameng_exporter_build_info`: the facts build.rs recorded (git revision
//! and branch, build date, rustc version; `unknown` when they could not be found).

use dmexp_core::runtime::BuildInfo;

/// Git revision (`git rev-parse HEAD`, or `DMEXP_GIT_REVISION` at build time).
pub(super) const REVISION: &str = env!("DMEXP_GIT_REVISION");
/// Git branch (`git rev-parse --abbrev-ref HEAD`, or `DMEXP_GIT_BRANCH`).
pub(super) const BRANCH: &str = env!("DMEXP_GIT_BRANCH");
/// Build date, `YYYYMMDD-HH:MM:SS` UTC (or `DMEXP_BUILD_DATE`, `SOURCE_DATE_EPOCH`).
pub(super) const BUILD_DATE: &str = env!("DMEXP_BUILD_DATE");
/// rustc version number, e.g. `1.88.0`.
pub(super) const RUSTC: &str = env!("DMEXP_RUSTC_VERSION");
/// `rustc -V` output.
pub(super) const RUSTC_LONG: &str = env!("DMEXP_RUSTC_VERSION_LONG");

/// The labels of `dameng_exporter_build_info`.
pub(super) fn build_info() -> BuildInfo {
    BuildInfo {
        version: format!("v{}", env!("CARGO_PKG_VERSION")),
        revision: REVISION.to_owned(),
        branch: BRANCH.to_owned(),
        rustversion: RUSTC.to_owned(),
    }
}

/// What `--version` prints (the layout of Prometheus' `--version`).
pub(super) fn version_text() -> String {
    format!(
        "dameng_exporter, version {} (branch: {BRANCH}, revision: {REVISION})\n  \
         build date:       {BUILD_DATE}\n  \
         rustc version:    {RUSTC_LONG}\n  \
         platform:         {}/{}\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}
