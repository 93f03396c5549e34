//! The `labels = "k1=v1,k2=v2"` string (docs/UPSTREAM.md §1.6), validated.

/// True for a valid Prometheus label name that users may set.
pub(crate) fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses `labels`. Items are split on `,`, then on the first `=`; names and values are
/// trimmed; an empty item (e.g. a trailing comma) or an empty value is skipped, as upstream;
/// a duplicate name keeps its first position and the last value. Every problem is returned
/// as a lowercase message naming the item and the fix.
pub(crate) fn parse_labels(s: &str) -> Result<Vec<(String, String)>, Vec<String>> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut errors = Vec::new();
    for item in s.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((name, value)) = item.split_once('=') else {
            errors
                .push(format!("labels item \"{item}\" has no '='; write labels = \"k1=v1,k2=v2\""));
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            errors.push(format!(
                "labels item \"{item}\" has an empty label name; write labels = \"k1=v1,k2=v2\""
            ));
            continue;
        }
        if !valid_label_name(name) {
            errors.push(format!(
                "label name \"{name}\" in labels is invalid; label names must match \
                 [a-zA-Z_][a-zA-Z0-9_]* (e.g. use _ instead of -)"
            ));
            continue;
        }
        if name.starts_with("__") {
            errors.push(format!(
                "label name \"{name}\" in labels starts with __, which Prometheus reserves; rename it"
            ));
            continue;
        }
        if name == "datasource" {
            errors.push(
                "label name \"datasource\" in labels is set by the exporter (name@host:port); \
                 use another name"
                    .to_string(),
            );
            continue;
        }
        if value.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.to_string(),
            None => out.push((name.to_string(), value.to_string())),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn good_labels() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("", &[]),
            ("env=prod", &[("env", "prod")]),
            (" env = prod , region=bj ,", &[("env", "prod"), ("region", "bj")]),
            ("a=1,b=2,a=3", &[("a", "3"), ("b", "2")]),
            ("url=a=b", &[("url", "a=b")]),
            ("empty=,x=1", &[("x", "1")]),
            ("_x=1", &[("_x", "1")]),
        ];
        for (input, want) in cases {
            assert_eq!(parse_labels(input).unwrap(), pairs(want), "{input}");
        }
    }

    #[test]
    fn bad_labels() {
        let cases: &[(&str, &str)] = &[
            ("my-env=x", "\"my-env\""),
            ("1abc=x", "\"1abc\""),
            ("__name=x", "starts with __"),
            ("datasource=x", "set by the exporter"),
            ("novalue", "has no '='"),
            ("=x", "empty label name"),
        ];
        for (input, frag) in cases {
            let errs = parse_labels(input).unwrap_err();
            assert!(errs.iter().any(|e| e.contains(frag)), "{input}: {errs:?}");
        }
        // All errors are reported, not only the first.
        assert_eq!(parse_labels("a-b=1,c d=2").unwrap_err().len(), 2);
    }
}
