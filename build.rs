//! Build facts for `--version` and `dameng_exporter_build_info`: git revision and branch,
//! build date and rustc version, passed to the crate as `DMEXP_*` environment variables.
//!
//! Builds from a tarball without `.git` (or without git installed) set them explicitly:
//! `DMEXP_GIT_REVISION`, `DMEXP_GIT_BRANCH` and `DMEXP_BUILD_DATE` win over what git says;
//! `SOURCE_DATE_EPOCH` (reproducible builds) gives the date when `DMEXP_BUILD_DATE` is not
//! set. What cannot be found is `unknown`. The script re-runs when HEAD or the branch it
//! points to moves, and when one of those variables changes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    for var in ["DMEXP_GIT_REVISION", "DMEXP_GIT_BRANCH", "DMEXP_BUILD_DATE", "SOURCE_DATE_EPOCH"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    watch_git_head();

    let revision = explicit("DMEXP_GIT_REVISION")
        .or_else(|| git(&["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    let branch = explicit("DMEXP_GIT_BRANCH")
        .or_else(|| git(&["rev-parse", "--abbrev-ref", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    let date = explicit("DMEXP_BUILD_DATE").unwrap_or_else(build_date);
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let rustc_long = Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    // `rustc 1.88.0 (6b00bc388 2025-06-23)` -> `1.88.0`
    let rustc_short = rustc_long
        .as_deref()
        .and_then(|s| s.split_whitespace().nth(1))
        .map_or_else(|| "unknown".to_owned(), str::to_owned);

    println!("cargo:rustc-env=DMEXP_GIT_REVISION={revision}");
    println!("cargo:rustc-env=DMEXP_GIT_BRANCH={branch}");
    println!("cargo:rustc-env=DMEXP_BUILD_DATE={date}");
    println!("cargo:rustc-env=DMEXP_RUSTC_VERSION={rustc_short}");
    println!(
        "cargo:rustc-env=DMEXP_RUSTC_VERSION_LONG={}",
        rustc_long.as_deref().unwrap_or("unknown")
    );
}

/// A non-empty environment variable.
fn explicit(var: &str) -> Option<String> {
    std::env::var(var).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `git <args>` in the package directory, its trimmed output when it succeeds.
fn git(args: &[&str]) -> Option<String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let out = Command::new("git").args(args).current_dir(dir).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!s.is_empty()).then_some(s)
}

/// Re-run triggers: HEAD (a checkout or a commit on a detached HEAD), the ref HEAD points to
/// (a commit on the branch) and packed-refs. Works in worktrees, where `.git` is a file.
fn watch_git_head() {
    let Some(git_dir) = git(&["rev-parse", "--git-dir"]) else { return };
    let base = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let abs = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            base.join(p)
        }
    };
    let git_dir = abs(git_dir);
    let common = git(&["rev-parse", "--git-common-dir"]).map_or_else(|| git_dir.clone(), abs);
    watch(&git_dir.join("HEAD"));
    watch(&common.join("packed-refs"));
    if let Some(head_ref) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch(&common.join(head_ref));
    }
}

fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// The build date as Prometheus prints it (`20260101-12:00:00`, UTC), from
/// `SOURCE_DATE_EPOCH` or the clock.
fn build_date() -> String {
    let secs = explicit("SOURCE_DATE_EPOCH")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}-{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
