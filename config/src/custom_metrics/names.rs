//! Label and metric-name rules, with the alias to suggest.

/// Why `name` cannot be a label name, if it cannot.
pub(super) fn label_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".to_owned());
    }
    if name.starts_with("__") {
        return Some("starts with \"__\", which Prometheus reserves; use another alias".to_owned());
    }
    let valid = name
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit()));
    (!valid).then(|| {
        format!(
            "cannot be a Prometheus label name (letters, digits and _, not starting with a digit); \
             alias the column in the request, e.g. {} AS {}, and list that alias",
            name.to_uppercase(),
            sanitize_label(name)
        )
    })
}

/// Why `column` cannot be the last part of a metric name, if it cannot.
pub(super) fn column_name_problem(column: &str) -> Option<String> {
    if column.is_empty() {
        return Some("is empty".to_owned());
    }
    let valid = column.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (!valid).then(|| {
        format!(
            "cannot be part of a metric name (letters, digits and _ only); alias the column in \
             the request, e.g. {} AS {}, and use that alias here",
            column.to_uppercase(),
            sanitize(column)
        )
    })
}

/// Replaces every character that cannot be in a metric name with `_`.
pub(super) fn sanitize(s: &str) -> String {
    let out: String = s
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c.to_ascii_lowercase() } else { '_' })
        .collect();
    let out = out.trim_matches('_').to_owned();
    if out.is_empty() {
        "value".to_owned()
    } else {
        out
    }
}

pub(super) fn sanitize_label(s: &str) -> String {
    let out = sanitize(s);
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("c_{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(label_name_problem("state").is_none());
        assert!(label_name_problem("status$").unwrap().contains("STATUS$ AS status"));
        assert!(label_name_problem("__x").is_some());
        assert!(label_name_problem("1x").is_some());
        assert!(column_name_problem("1x").is_none());
        assert!(column_name_problem("event#").unwrap().contains("EVENT# AS event"));
    }
}
