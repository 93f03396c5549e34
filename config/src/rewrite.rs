//! `encodeConfigPwd = true`: replace plaintext `dbPwd` values by `ENC(...)` in place, keeping
//! everything else byte-for-byte, and write the file atomically.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use toml_edit::{Item, TableLike};

use crate::crypto::encrypt_password;
use crate::env::has_reference;
use crate::error::ConfigError;
use crate::legacy::looks_legacy;
use crate::raw::LineIndex;

/// What [`encrypt_passwords_in_file`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RewriteOutcome {
    /// The file was rewritten; the datasources whose `dbPwd` was encrypted, by name
    /// (`#N` when a datasource has no name, `default` for the single-source/legacy forms).
    Rewritten {
        /// Datasources whose password was encrypted.
        datasources: Vec<String>,
    },
    /// Every `dbPwd` is already `ENC(...)`, empty, or taken from `${ENV}`/`dbPwdFile`.
    Unchanged,
    /// There were plaintext passwords but the file or its directory is read-only (e.g. a
    /// Kubernetes ConfigMap). A warning for the caller, not an error.
    ReadOnly {
        /// Why it could not be written.
        reason: String,
    },
}

/// A replacement: byte range in the text, new text, datasource name.
type Edit = (std::ops::Range<usize>, String, String);

fn wants_encryption(v: &str) -> bool {
    !v.is_empty() && !v.starts_with("ENC(") && !has_reference(v)
}

/// Replaces `$${` by `${` (what the loader's expansion yields for a value without references).
fn unescape(v: &str) -> String {
    v.replace("$${", "${")
}

fn toml_edits(text: &str, root: &dyn TableLike) -> Vec<Edit> {
    let mut edits = Vec::new();
    let mut visit = |t: &dyn TableLike, name: String| {
        for (k, item) in t.iter() {
            if !k.eq_ignore_ascii_case("dbPwd") {
                continue;
            }
            let (Some(v), Some(span)) = (item.as_str(), item.span()) else {
                continue;
            };
            if wants_encryption(v) && text.get(span.clone()).is_some() {
                let enc = encrypt_password(&unescape(v));
                edits.push((span, format!("\"{enc}\""), name.clone()));
            }
        }
    };
    visit(root, "default".to_string());
    for (k, item) in root.iter() {
        if !k.eq_ignore_ascii_case("datasource") {
            continue;
        }
        let tables: Vec<&dyn TableLike> = match item {
            Item::ArrayOfTables(a) => a.iter().map(|t| t as &dyn TableLike).collect(),
            Item::Value(toml_edit::Value::Array(a)) => {
                a.iter().filter_map(|v| v.as_inline_table().map(|t| t as &dyn TableLike)).collect()
            }
            _ => Vec::new(),
        };
        for (i, t) in tables.into_iter().enumerate() {
            let name = t
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("name"))
                .and_then(|(_, v)| v.as_str())
                .filter(|n| !n.is_empty())
                .map_or_else(|| format!("#{}", i + 1), str::to_string);
            visit(t, name);
        }
    }
    edits
}

fn legacy_edits(text: &str) -> Vec<Edit> {
    let mut edits = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        if line.trim_start().starts_with('#') {
            continue;
        }
        let Some(eq) = line.find('=') else { continue };
        if !line[..eq].trim().eq_ignore_ascii_case("dbPwd") {
            continue;
        }
        let rest = &line[eq + 1..];
        let body = rest.trim_end_matches(['\n', '\r']);
        let lead = body.len() - body.trim_start().len();
        let value = body.trim();
        if !wants_encryption(value) {
            continue;
        }
        let vstart = start + eq + 1 + lead;
        edits.push((
            vstart..vstart + value.len(),
            encrypt_password(&unescape(value)),
            "default".to_string(),
        ));
    }
    edits
}

fn is_read_only_error(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem)
        || e.raw_os_error() == Some(30) // EROFS on Linux
}

/// Replaces every plaintext `dbPwd` (multi-source, single-source or legacy form) by its
/// `ENC(...)` form. Comments, layout, key order and unknown keys are kept byte-for-byte;
/// values built from `${ENV}`, `dbPwdFile` passwords, `ENC(...)` values and
/// `basicAuthPassword` are left alone. The new file is written to a temporary file in the
/// same directory, given the old owner (uid and gid) and permissions, synced and renamed over
/// the old one; a symlinked config rewrites the link's target and keeps the link. When the
/// owner cannot be kept (the exporter is neither root nor the owner), the file is left
/// unchanged ([`RewriteOutcome::ReadOnly`] with the reason).
pub fn encrypt_passwords_in_file(path: &Path) -> Result<RewriteOutcome, ConfigError> {
    let read_err = |source| ConfigError::Read { path: path.to_path_buf(), source };
    // Follow a symlink so the link itself stays a link.
    let real: PathBuf = fs::canonicalize(path).map_err(read_err)?;
    let text = crate::fsread::read_text_file(&real).map_err(read_err)?;
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let body = &text[bom..];

    let mut edits = match toml_edit::Document::parse(body) {
        Ok(doc) => toml_edits(body, doc.as_table()),
        Err(_) if looks_legacy(body) => legacy_edits(body),
        Err(e) => {
            let lines = LineIndex::new(body);
            let (line, column) = e.span().map_or((1, 1), |s| lines.line_col(body, s.start));
            return Err(ConfigError::Syntax {
                file: path.display().to_string(),
                line,
                column,
                message: e.message().to_string(),
            });
        }
    };
    if edits.is_empty() {
        return Ok(RewriteOutcome::Unchanged);
    }
    edits.sort_by_key(|(r, _, _)| r.start);
    let mut out = String::with_capacity(text.len() + 64 * edits.len());
    out.push_str(&text[..bom]);
    let mut pos = 0;
    let mut names = Vec::new();
    for (range, new, name) in &edits {
        out.push_str(&body[pos..range.start]);
        out.push_str(new);
        pos = range.end;
        names.push(name.clone());
    }
    out.push_str(&body[pos..]);

    let meta = fs::metadata(&real).map_err(read_err)?;
    if meta.permissions().readonly() {
        return Ok(RewriteOutcome::ReadOnly {
            reason: format!("`{}` is read-only", real.display()),
        });
    }
    let dir = real.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    if let Ok(dm) = fs::metadata(&dir) {
        if dm.permissions().readonly() {
            return Ok(RewriteOutcome::ReadOnly {
                reason: format!("directory `{}` is read-only", dir.display()),
            });
        }
    }
    match write_atomically(&real, &dir, out.as_bytes(), &meta) {
        Ok(()) => Ok(RewriteOutcome::Rewritten { datasources: names }),
        Err(e) if is_read_only_error(&e) => Ok(RewriteOutcome::ReadOnly {
            reason: format!("cannot write `{}`: {e}", real.display()),
        }),
        Err(source) => Err(ConfigError::Write { path: path.to_path_buf(), source }),
    }
}

#[cfg(unix)]
fn keep_owner(file: &fs::File, original: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let now = file.metadata()?;
    if now.uid() == original.uid() && now.gid() == original.gid() {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, Some(original.uid()), Some(original.gid())).map_err(|e| {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "cannot keep the file's owner (uid {} gid {}): {e}; the file is left unchanged; run \
                 dameng_exporter as that user, or encrypt the password with --encryptPwd and \
                 edit the file",
                original.uid(),
                original.gid()
            ),
        )
    })
}

#[cfg(not(unix))]
fn keep_owner(_file: &fs::File, _original: &fs::Metadata) -> io::Result<()> {
    Ok(())
}

fn write_atomically(
    target: &Path,
    dir: &Path,
    bytes: &[u8],
    original: &fs::Metadata,
) -> io::Result<()> {
    let perms = original.permissions();
    let file_name =
        target.file_name().map_or_else(|| "config".into(), |n| n.to_string_lossy().into_owned());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".{file_name}.tmp-{}-{nanos}", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        // The old owner first (L15: a root-run exporter must not hand the file to root), then
        // the old mode (chown may clear set-id bits), both before any content is written.
        keep_owner(&f, original)?;
        f.set_permissions(perms)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, target)?;
        // Persist the rename; not every platform can open a directory, so best effort.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
