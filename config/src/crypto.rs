//! Upstream-compatible `ENC()` passwords (docs/UPSTREAM.md §1.8).
//!
//! This is **obfuscation, not encryption**: the salt and the XOR key are public constants,
//! so anyone holding the config file can recover the password. It exists so that files
//! written for the Go exporter keep working. For real secrecy use `dbPwdFile` (a file
//! readable only by the exporter's user) or `${ENV}` expansion.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Fixed salt prepended to the plaintext before the XOR (15 ASCII bytes).
const SALT: &[u8] = b"dameng_exporter";
/// Single-byte XOR key.
const XOR_KEY: u8 = 0xAA;
const PREFIX: &str = "ENC(";
const SUFFIX: &str = ")";

/// Why an `ENC(...)` value could not be decoded. The messages never contain the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncError {
    /// The text between `ENC(` and `)` is not standard base64 with padding.
    #[error("the ENC() payload is not valid base64")]
    BadBase64,
    /// Decoded payload shorter than the 15-byte salt.
    #[error("the ENC() payload is too short (shorter than the 15-byte salt)")]
    TooShort,
    /// The decoded payload does not start with the expected salt.
    #[error("the ENC() payload was not produced by `--encryptPwd` (salt mismatch)")]
    SaltMismatch,
    /// The decoded password is not UTF-8.
    #[error("the ENC() payload does not decode to UTF-8 text")]
    NotUtf8,
}

/// True when `s` has the `ENC(...)` form that [`decrypt_password`] decodes.
pub fn is_encrypted(s: &str) -> bool {
    s.starts_with(PREFIX) && s.ends_with(SUFFIX) && s.len() >= PREFIX.len() + SUFFIX.len()
}

/// Obfuscates `plain` as upstream's `--encryptPwd` does: `ENC(base64(xor(salt ‖ plain)))`.
/// A value that already starts with `ENC(` is returned unchanged.
///
/// ```
/// assert_eq!(dmexp_config::encrypt_password("SYSDBA"), "ENC(zsvHz8TN9c/S2sXY3s/Y+fP57ujr)");
/// ```
pub fn encrypt_password(plain: &str) -> String {
    if plain.starts_with(PREFIX) {
        return plain.to_string();
    }
    let bytes: Vec<u8> = SALT.iter().chain(plain.as_bytes()).map(|b| b ^ XOR_KEY).collect();
    format!("{PREFIX}{}{SUFFIX}", STANDARD.encode(bytes))
}

/// Decodes an `ENC(...)` value. A value without the `ENC(` … `)` wrapper is plaintext and is
/// returned unchanged (as upstream). Unlike upstream, a short payload or a wrong salt is an
/// error, never a panic.
///
/// ```
/// let p = dmexp_config::decrypt_password("ENC(zsvHz8TN9c/S2sXY3s/Y7svHz8TNm5iZhA==)").unwrap();
/// assert_eq!(p, "Dameng123.");
/// ```
pub fn decrypt_password(value: &str) -> Result<String, EncError> {
    if !is_encrypted(value) {
        return Ok(value.to_string());
    }
    let payload = &value[PREFIX.len()..value.len() - SUFFIX.len()];
    let bytes = STANDARD.decode(payload.trim()).map_err(|_| EncError::BadBase64)?;
    if bytes.len() < SALT.len() {
        return Err(EncError::TooShort);
    }
    let plain: Vec<u8> = bytes.iter().map(|b| b ^ XOR_KEY).collect();
    let (salt, rest) = plain.split_at(SALT.len());
    if salt != SALT {
        return Err(EncError::SaltMismatch);
    }
    String::from_utf8(rest.to_vec()).map_err(|_| EncError::NotUtf8)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const VECTORS: &[(&str, &str)] = &[
        ("Dameng123.", "ENC(zsvHz8TN9c/S2sXY3s/Y7svHz8TNm5iZhA==)"),
        ("SYSDBA", "ENC(zsvHz8TN9c/S2sXY3s/Y+fP57ujr)"),
    ];

    #[test]
    fn upstream_vectors_both_directions() {
        for (plain, enc) in VECTORS {
            assert_eq!(encrypt_password(plain), *enc);
            assert_eq!(decrypt_password(enc).unwrap(), *plain);
        }
    }

    #[test]
    fn fixed_salt_prefix() {
        for p in ["", "a", "密码123", "p@ss w0rd${x}"] {
            let e = encrypt_password(p);
            assert!(e.starts_with("ENC(zsvHz8TN9c/S2sXY3s/Y"), "{e}");
            assert_eq!(decrypt_password(&e).unwrap(), p);
        }
    }

    #[test]
    fn already_encrypted_is_unchanged_and_plain_passes_through() {
        assert_eq!(encrypt_password("ENC(abc)"), "ENC(abc)");
        assert_eq!(decrypt_password("plain").unwrap(), "plain");
        // Not wrapped on both sides: plaintext, as upstream.
        assert_eq!(decrypt_password("ENC(abc").unwrap(), "ENC(abc");
    }

    #[test]
    fn bad_payloads_are_errors_not_panics() {
        assert_eq!(decrypt_password("ENC(!!!)"), Err(EncError::BadBase64));
        assert_eq!(decrypt_password("ENC()"), Err(EncError::TooShort));
        assert_eq!(decrypt_password("ENC(zsvHz8TN)"), Err(EncError::TooShort));
        // 15+ bytes that are not the salt.
        let other = STANDARD.encode([0u8; 20]);
        assert_eq!(decrypt_password(&format!("ENC({other})")), Err(EncError::SaltMismatch));
        // Salt followed by invalid UTF-8.
        let mut raw: Vec<u8> = SALT.to_vec();
        raw.extend_from_slice(&[0xff, 0xfe]);
        let bad: Vec<u8> = raw.iter().map(|b| b ^ XOR_KEY).collect();
        assert_eq!(
            decrypt_password(&format!("ENC({})", STANDARD.encode(bad))),
            Err(EncError::NotUtf8)
        );
        // Messages never echo the payload.
        let msg = EncError::BadBase64.to_string();
        assert!(!msg.contains("!!!"));
    }
}
