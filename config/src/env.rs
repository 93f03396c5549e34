//! `${NAME}` expansion in string values; `$${` is a literal `${`.

/// Why an expansion failed. Never carries the value being expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EnvError {
    Unset(String),
    NotUnicode(String),
    BadName(String),
    Unterminated,
}

impl EnvError {
    /// Lowercase description naming the variable and the fix.
    pub(crate) fn describe(&self, key: &str) -> String {
        match self {
            EnvError::Unset(v) => format!(
                "{key} refers to environment variable {v} (written ${{{v}}}), which is not set; \
                 export it before starting the exporter, or write $${{ for a literal ${{"
            ),
            EnvError::NotUnicode(v) => {
                format!("{key} refers to environment variable {v}, whose value is not valid UTF-8")
            }
            EnvError::BadName(v) => format!(
                "{key} has ${{{v}}}, which is not a valid environment variable name \
                 (letters, digits and _); write $${{ for a literal ${{"
            ),
            EnvError::Unterminated => format!(
                "{key} has a ${{ without a closing }}; write ${{NAME}}, or $${{ for a literal ${{"
            ),
        }
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// True when `s` contains a `${` that is not escaped as `$${`.
pub(crate) fn has_reference(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"$${") {
            i += 3;
        } else if b[i..].starts_with(b"${") {
            return true;
        } else {
            i += 1;
        }
    }
    false
}

/// Expands `${NAME}` with `lookup`; `$${` yields a literal `${`.
pub(crate) fn expand_with(
    s: &str,
    lookup: impl Fn(&str) -> Result<String, std::env::VarError>,
) -> Result<String, EnvError> {
    if !s.contains("${") {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after.find('}').ok_or(EnvError::Unterminated)?;
            let name = &after[..end];
            if !valid_name(name) {
                return Err(EnvError::BadName(name.to_string()));
            }
            match lookup(name) {
                Ok(v) => out.push_str(&v),
                Err(std::env::VarError::NotPresent) => {
                    return Err(EnvError::Unset(name.to_string()))
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(EnvError::NotUnicode(name.to_string()))
                }
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Expands from the process environment.
pub(crate) fn expand(s: &str) -> Result<String, EnvError> {
    expand_with(s, |n| std::env::var(n))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn look(n: &str) -> Result<String, std::env::VarError> {
        match n {
            "A" => Ok("alpha".into()),
            "EMPTY" => Ok(String::new()),
            _ => Err(std::env::VarError::NotPresent),
        }
    }

    #[test]
    fn expansion_cases() {
        let cases: &[(&str, Result<&str, EnvError>)] = &[
            ("plain", Ok("plain")),
            ("${A}", Ok("alpha")),
            ("x${A}y${A}", Ok("xalphayalpha")),
            ("${EMPTY}", Ok("")),
            ("$${A}", Ok("${A}")),
            ("a$b$", Ok("a$b$")),
            ("$$", Ok("$$")),
            ("$$${A}", Ok("$${A}")),
            ("${NOPE}", Err(EnvError::Unset("NOPE".into()))),
            ("${A", Err(EnvError::Unterminated)),
            ("${1A}", Err(EnvError::BadName("1A".into()))),
            ("${}", Err(EnvError::BadName(String::new()))),
        ];
        for (input, want) in cases {
            let got = expand_with(input, look);
            assert_eq!(got.as_deref().map_err(Clone::clone), want.clone(), "{input}");
        }
    }

    #[test]
    fn reference_detection() {
        assert!(has_reference("${A}"));
        assert!(has_reference("x$${y}${A}"));
        assert!(!has_reference("$${A}"));
        assert!(!has_reference("plain$"));
    }
}
