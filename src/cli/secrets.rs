//! Secrets off the command line (finding L12): `--dbPwd` also comes from `DMEXP_DB_PASSWORD`
//! or `--dbPwdFile FILE`, `--basicAuthPassword` from `DMEXP_BASIC_AUTH_PASSWORD` or
//! `--basicAuthPasswordFile FILE`, and `--encryptPwd -` / `--encryptBasicAuthPwd -` read the
//! password from stdin. Files are re-read on every (re)load, so a rotated password file is
//! picked up by a reload.

use std::io::Read as _;
use std::path::Path;

use anyhow::bail;

/// Largest secret file or stdin input accepted.
pub(super) const SECRET_MAX_BYTES: u64 = 64 * 1024;

/// Environment variable for `--dbPwd`.
pub(super) const DB_PASSWORD_ENV: &str = "DMEXP_DB_PASSWORD";
/// Environment variable for `--basicAuthPassword`.
pub(super) const BASIC_AUTH_PASSWORD_ENV: &str = "DMEXP_BASIC_AUTH_PASSWORD";

/// Trailing newlines (`\n`, `\r\n`) removed: `echo pw > file` gives `pw`.
fn trim_newlines(s: &str) -> &str {
    s.trim_end_matches(['\n', '\r'])
}

/// Reads a password file given with `flag`: a regular file (symlinks followed) of at most
/// [`SECRET_MAX_BYTES`], UTF-8, not empty once trailing newlines are removed.
pub(super) fn read_secret_file(flag: &str, path: &Path) -> anyhow::Result<String> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| anyhow::anyhow!("{flag} {shown}: cannot read the file: {e}"))?;
    if !meta.is_file() {
        bail!("{flag} {shown}: not a regular file (give a file holding the password)");
    }
    if meta.len() > SECRET_MAX_BYTES {
        bail!(
            "{flag} {shown}: {} bytes, more than the {SECRET_MAX_BYTES} bytes a password file \
             may have",
            meta.len()
        );
    }
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("{flag} {shown}: cannot read the file: {e}"))?;
    let mut bytes = Vec::new();
    file.take(SECRET_MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow::anyhow!("{flag} {shown}: cannot read the file: {e}"))?;
    if bytes.len() as u64 > SECRET_MAX_BYTES {
        bail!("{flag} {shown}: more than the {SECRET_MAX_BYTES} bytes a password file may have");
    }
    let Ok(text) = String::from_utf8(bytes) else {
        bail!("{flag} {shown}: not UTF-8 text");
    };
    let secret = trim_newlines(&text);
    if secret.is_empty() {
        bail!("{flag} {shown}: the file is empty (write the password into it)");
    }
    Ok(secret.to_owned())
}

/// Reads a password from stdin (`--encryptPwd -`): at most [`SECRET_MAX_BYTES`], trailing
/// newlines removed, not empty.
pub(super) fn read_stdin_secret(flag: &str) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(SECRET_MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow::anyhow!("{flag} -: cannot read stdin: {e}"))?;
    if bytes.len() as u64 > SECRET_MAX_BYTES {
        bail!("{flag} -: more than {SECRET_MAX_BYTES} bytes on stdin");
    }
    let Ok(text) = String::from_utf8(bytes) else { bail!("{flag} -: stdin is not UTF-8 text") };
    let secret = trim_newlines(&text);
    if secret.is_empty() {
        bail!("{flag} -: nothing on stdin (e.g. `printf '%s' \"$PW\" | dameng_exporter {flag} -`)");
    }
    Ok(secret.to_owned())
}

/// `value` of a secret-bearing flag if given, else the file, else the environment variable
/// (non-empty). clap refuses the flag and its file form together.
pub(super) fn resolve(
    value: Option<&str>,
    file_flag: &str,
    file: Option<&Path>,
    env: &str,
) -> anyhow::Result<Option<String>> {
    if let Some(v) = value {
        return Ok(Some(v.to_owned()));
    }
    if let Some(path) = file {
        return read_secret_file(file_flag, path).map(Some);
    }
    Ok(std::env::var(env).ok().filter(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("dmexp-secrets-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        dir
    }

    #[test]
    fn files_are_regular_bounded_and_trimmed() {
        let dir = scratch("files");
        let ok = dir.join("pw");
        std::fs::write(&ok, "S3cret pw \r\n\n").expect("write");
        assert_eq!(read_secret_file("--dbPwdFile", &ok).expect("read"), "S3cret pw ");
        let msg = |p: &Path| read_secret_file("--dbPwdFile", p).expect_err("refused").to_string();
        let empty = dir.join("empty");
        std::fs::write(&empty, "\n").expect("write");
        assert_eq!(
            msg(&empty),
            format!(
                "--dbPwdFile {}: the file is empty (write the password into it)",
                empty.display()
            )
        );
        let big = dir.join("big");
        std::fs::write(&big, vec![b'x'; 70_000]).expect("write");
        assert_eq!(
            msg(&big),
            format!(
                "--dbPwdFile {}: 70000 bytes, more than the 65536 bytes a password file may have",
                big.display()
            )
        );
        assert_eq!(
            msg(&dir),
            format!(
                "--dbPwdFile {}: not a regular file (give a file holding the password)",
                dir.display()
            )
        );
        assert_eq!(
            read_secret_file("--basicAuthPasswordFile", Path::new("/dev/zero"))
                .expect_err("device")
                .to_string(),
            "--basicAuthPasswordFile /dev/zero: not a regular file (give a file holding the password)"
        );
        let missing = dir.join("missing");
        assert!(msg(&missing).starts_with(&format!(
            "--dbPwdFile {}: cannot read the file: No such file or directory",
            missing.display()
        )));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_flag_wins_over_the_file_and_the_file_over_the_environment() {
        let dir = scratch("order");
        let f = dir.join("pw");
        std::fs::write(&f, "from-file\n").expect("write");
        // An environment variable no other test sets.
        let var = "DMEXP_TEST_SECRET_ORDER";
        assert_eq!(
            resolve(Some("flag"), "--xFile", Some(&f), var).expect("ok"),
            Some("flag".into())
        );
        assert_eq!(resolve(None, "--xFile", Some(&f), var).expect("ok"), Some("from-file".into()));
        assert_eq!(resolve(None, "--xFile", None, var).expect("ok"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
