//! OpenMetrics 1.0.0 text encoding of a [`FamilySet`] (the answer to clients that prefer
//! `application/openmetrics-text`, as Prometheus, Alloy and OTel collectors do).
//!
//! The samples are the lines [`FamilySet::add`] already rendered for the text format 0.0.4;
//! OpenMetrics differs from it only in the family headers, a few values and the end:
//! - a counter family is named without its `_total` suffix in `# TYPE` and `# HELP`, its
//!   samples keep it (`# TYPE dmdbms_ckpttime counter`, `dmdbms_ckpttime_total 3`);
//! - a counter whose name does not end in `_total` (custom metrics and plugins may declare
//!   one), or whose name without `_total` is another family's, is typed `unknown` under its
//!   own name: OpenMetrics would otherwise require the sample to be renamed `<name>_total`,
//!   and the series would not be the same in the two formats (dashboards and alerts written
//!   against one would miss the other);
//! - `untyped` is `unknown`;
//! - `# HELP` text escapes the double quote too (backslash and newline as in 0.0.4);
//! - infinities are written `+Inf` and `-Inf` (`NaN` is the same in both);
//! - the exposition ends with `# EOF`.
//!
//! Label values are escaped alike in both formats (backslash, double quote, newline).

use super::{escape_into, FamilySet, FamilyText};

/// The family name and type an OpenMetrics exposition gives `name` (see the module docs).
fn family_header<'a>(
    name: &'a str,
    kind: &'static str,
    families: &std::collections::BTreeMap<String, FamilyText>,
) -> (&'a str, &'static str) {
    match kind {
        "counter" => match name.strip_suffix("_total") {
            Some(base) if !base.is_empty() && !families.contains_key(base) => (base, "counter"),
            _ => (name, "unknown"),
        },
        "untyped" => (name, "unknown"),
        other => (name, other),
    }
}

/// Appends one sample line, its value in OpenMetrics spelling.
fn push_sample(out: &mut String, line: &str) {
    // The value is the last field; only the infinities are spelt differently (`f64`'s
    // Display writes `inf` and `-inf`, which the text format accepts).
    if let Some(head) = line.strip_suffix(" inf") {
        out.push_str(head);
        out.push_str(" +Inf");
    } else if let Some(head) = line.strip_suffix(" -inf") {
        out.push_str(head);
        out.push_str(" -Inf");
    } else {
        out.push_str(line);
    }
    out.push('\n');
}

impl FamilySet {
    /// Encodes every family in the OpenMetrics 1.0.0 text format, ending with `# EOF`. The
    /// samples and their order are those of [`FamilySet::encode`].
    pub fn encode_openmetrics(&self) -> String {
        let size: usize =
            self.families.iter().map(|(n, f)| 2 * n.len() + f.help.len() + f.text.len() + 40).sum();
        let mut out = String::with_capacity(size + 6);
        for (name, f) in &self.families {
            if f.samples == 0 {
                continue;
            }
            let (family, kind) = family_header(name, f.kind, &self.families);
            out.push_str("# TYPE ");
            out.push_str(family);
            out.push(' ');
            out.push_str(kind);
            out.push('\n');
            if !f.help.is_empty() {
                out.push_str("# HELP ");
                out.push_str(family);
                out.push(' ');
                escape_into(&mut out, &f.help, true);
                out.push('\n');
            }
            for line in f.text.lines() {
                push_sample(&mut out, line);
            }
        }
        out.push_str("# EOF\n");
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::collector::{MetricKind, MetricSpec};
    use crate::metrics::{DescFactory, FamilySet};

    fn spec(name: &str, kind: MetricKind, help: &str, labels: &[&str]) -> MetricSpec {
        MetricSpec {
            name: name.into(),
            help: help.into(),
            kind,
            labels: labels.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Every OpenMetrics rule the encoder applies, with the exact expected text.
    #[test]
    fn openmetrics_exact_text() {
        let f = DescFactory::new(Some("ds@h:5236"), &[("env".into(), "a\"b\\c\nd".into())]);
        let counter = f
            .template(&spec("dmdbms_ckpttime_total", MetricKind::Counter, "Checkpoints.", &["k"]))
            .unwrap();
        let bare = f
            .template(&spec("dmdbms_custom_hits", MetricKind::Counter, "No suffix.", &[]))
            .unwrap();
        // `dmdbms_x_total` (counter) would clash with the gauge family `dmdbms_x`.
        let clash_gauge = f.template(&spec("dmdbms_x", MetricKind::Gauge, "G.", &[])).unwrap();
        let clash_counter =
            f.template(&spec("dmdbms_x_total", MetricKind::Counter, "C.", &[])).unwrap();
        let gauge = f
            .template(&spec(
                "dmdbms_g",
                MetricKind::Gauge,
                "Help with \\ backslash,\nnewline and \"quotes\".",
                &["v"],
            ))
            .unwrap();
        let mut set = FamilySet::new();
        assert!(set.add(&counter, &["中文 \"q\"".into()], 3.0));
        assert!(set.add(&bare, &[], 7.0));
        assert!(set.add(&clash_gauge, &[], 1.0));
        assert!(set.add(&clash_counter, &[], 2.0));
        for (i, v) in
            [f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -0.0, 0.25, 1e16].into_iter().enumerate()
        {
            assert!(set.add(&gauge, &[i.to_string()], v));
        }
        let env = "env=\"a\\\"b\\\\c\\nd\"";
        let expected = format!(
            "# TYPE dmdbms_ckpttime counter\n\
             # HELP dmdbms_ckpttime Checkpoints.\n\
             dmdbms_ckpttime_total{{datasource=\"ds@h:5236\",{env},k=\"中文 \\\"q\\\"\"}} 3\n\
             # TYPE dmdbms_custom_hits unknown\n\
             # HELP dmdbms_custom_hits No suffix.\n\
             dmdbms_custom_hits{{datasource=\"ds@h:5236\",{env}}} 7\n\
             # TYPE dmdbms_g gauge\n\
             # HELP dmdbms_g Help with \\\\ backslash,\\nnewline and \\\"quotes\\\".\n\
             dmdbms_g{{datasource=\"ds@h:5236\",{env},v=\"0\"}} +Inf\n\
             dmdbms_g{{datasource=\"ds@h:5236\",{env},v=\"1\"}} -Inf\n\
             dmdbms_g{{datasource=\"ds@h:5236\",{env},v=\"2\"}} NaN\n\
             dmdbms_g{{datasource=\"ds@h:5236\",{env},v=\"3\"}} -0\n\
             dmdbms_g{{datasource=\"ds@h:5236\",{env},v=\"4\"}} 0.25\n\
             dmdbms_g{{datasource=\"ds@h:5236\",{env},v=\"5\"}} 10000000000000000\n\
             # TYPE dmdbms_x gauge\n\
             # HELP dmdbms_x G.\n\
             dmdbms_x{{datasource=\"ds@h:5236\",{env}}} 1\n\
             # TYPE dmdbms_x_total unknown\n\
             # HELP dmdbms_x_total C.\n\
             dmdbms_x_total{{datasource=\"ds@h:5236\",{env}}} 2\n\
             # EOF\n"
        );
        assert_eq!(set.encode_openmetrics(), expected);
        // The text format of the same set is untouched: `inf`, unescaped quotes.
        let text = set.encode();
        assert!(text.contains("# TYPE dmdbms_ckpttime_total counter\n"));
        assert!(text.contains("v=\"0\"} inf\n"));
        assert!(
            text.contains("# HELP dmdbms_g Help with \\\\ backslash,\\nnewline and \"quotes\".\n")
        );
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn untyped_is_unknown() {
        let families = std::collections::BTreeMap::new();
        assert_eq!(super::family_header("zz", "untyped", &families), ("zz", "unknown"));
        assert_eq!(super::family_header("h", "histogram", &families), ("h", "histogram"));
        assert_eq!(super::family_header("_total", "counter", &families), ("_total", "unknown"));
    }

    #[test]
    fn empty_set_is_just_eof() {
        assert_eq!(FamilySet::new().encode_openmetrics(), "# EOF\n");
    }
}
