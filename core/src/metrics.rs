//! The Desc factory and the per-scrape family builder.
//!
//! Each datasource has const labels (`datasource` = `name@host:port` or `name`, plus the
//! datasource's `labels`). [`DescFactory`] validates every declared metric once, at startup,
//! with `prometheus::core::Desc` (an invalid name or label is a startup error, never a scrape
//! error) and keeps a ready [`MetricTemplate`]. At scrape time samples are added to a fresh
//! [`FamilySet`], which merges families by name (one HELP/TYPE per name), drops duplicate
//! series with a warning, and encodes the text format.

use std::collections::{BTreeMap, HashSet};

use prometheus::proto::{self, LabelPair, MetricFamily, MetricType};
use prometheus::Encoder;

use crate::collector::{MetricKind, MetricSpec};

/// Invalid metric declaration (name, label or help).
#[derive(Debug, thiserror::Error)]
#[error("invalid metric `{metric}`: {reason}")]
pub struct DescError {
    /// Metric name.
    pub metric: String,
    /// Why prometheus refused it.
    pub reason: String,
}

/// A validated metric with its const labels, ready to receive samples.
#[derive(Debug, Clone)]
pub struct MetricTemplate {
    name: String,
    help: String,
    kind: MetricKind,
    var_labels: Vec<String>,
    /// Const labels, minus any that a variable label shadows.
    const_labels: Vec<(String, String)>,
}

impl MetricTemplate {
    /// Metric name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Variable label names.
    pub fn var_labels(&self) -> &[String] {
        &self.var_labels
    }
}

/// Builds templates with one datasource's const labels.
#[derive(Debug, Clone)]
pub struct DescFactory {
    const_labels: Vec<(String, String)>,
}

impl DescFactory {
    /// `const_labels`: `datasource` first, then user labels (a user label named `datasource`
    /// is ignored: the computed value wins, as upstream).
    pub fn new(datasource: Option<&str>, user_labels: &[(String, String)]) -> Self {
        let mut const_labels: Vec<(String, String)> = Vec::new();
        if let Some(ds) = datasource {
            const_labels.push(("datasource".to_owned(), ds.to_owned()));
        }
        for (k, v) in user_labels {
            if k == "datasource" {
                continue;
            }
            if let Some(existing) = const_labels.iter_mut().find(|(ek, _)| ek == k) {
                existing.1.clone_from(v);
            } else {
                const_labels.push((k.clone(), v.clone()));
            }
        }
        DescFactory { const_labels }
    }

    /// The const labels.
    pub fn const_labels(&self) -> &[(String, String)] {
        &self.const_labels
    }

    /// Validates a declaration and returns its template. A variable label with the same name
    /// as a const label keeps the variable one (upstream behaviour for custom labels).
    pub fn template(&self, spec: &MetricSpec) -> Result<MetricTemplate, DescError> {
        let const_labels: Vec<(String, String)> = self
            .const_labels
            .iter()
            .filter(|(k, _)| !spec.labels.iter().any(|l| l == k))
            .cloned()
            .collect();
        let help = if spec.help.trim().is_empty() { spec.name.clone() } else { spec.help.clone() };
        prometheus::core::Desc::new(
            spec.name.clone(),
            help.clone(),
            spec.labels.clone(),
            const_labels.iter().cloned().collect(),
        )
        .map_err(|e| DescError { metric: spec.name.clone(), reason: e.to_string() })?;
        Ok(MetricTemplate {
            name: spec.name.clone(),
            help,
            kind: spec.kind,
            var_labels: spec.labels.clone(),
            const_labels,
        })
    }
}

/// Families of one scrape, merged by name.
#[derive(Debug, Default)]
pub struct FamilySet {
    families: BTreeMap<String, MetricFamily>,
    seen: HashSet<(String, Vec<(String, String)>)>,
    duplicates: u64,
    conflicts: u64,
}

impl FamilySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sample. Returns false (and counts it) when the series already exists in this
    /// scrape or when the name was declared with another type.
    pub fn add(&mut self, t: &MetricTemplate, label_values: &[String], value: f64) -> bool {
        let mut pairs: Vec<(String, String)> =
            Vec::with_capacity(t.var_labels.len() + t.const_labels.len());
        for (i, name) in t.var_labels.iter().enumerate() {
            let v = label_values.get(i).cloned().unwrap_or_default();
            pairs.push((name.clone(), v));
        }
        pairs.extend(t.const_labels.iter().cloned());
        pairs.sort();
        let key = (t.name.clone(), pairs);
        if self.seen.contains(&key) {
            self.duplicates += 1;
            return false;
        }
        let mtype = match t.kind {
            MetricKind::Counter => MetricType::COUNTER,
            MetricKind::Gauge => MetricType::GAUGE,
        };
        let family = self.families.entry(t.name.clone()).or_insert_with(|| {
            let mut f = MetricFamily::default();
            f.set_name(t.name.clone());
            f.set_help(t.help.clone());
            f.set_field_type(mtype);
            f
        });
        if family.get_field_type() != mtype {
            self.conflicts += 1;
            return false;
        }
        let labels: Vec<LabelPair> = key
            .1
            .iter()
            .map(|(k, v)| {
                let mut lp = LabelPair::default();
                lp.set_name(k.clone());
                lp.set_value(v.clone());
                lp
            })
            .collect();
        let mut m = proto::Metric::from_label(labels);
        match t.kind {
            MetricKind::Counter => {
                let mut c = proto::Counter::default();
                c.set_value(value);
                m.set_counter(c);
            }
            MetricKind::Gauge => {
                let mut g = proto::Gauge::default();
                g.set_value(value);
                m.set_gauge(g);
            }
        }
        family.mut_metric().push(m);
        self.seen.insert(key);
        true
    }

    /// Series dropped as duplicates so far.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Samples dropped because their name was already declared with another type.
    pub fn conflicts(&self) -> u64 {
        self.conflicts
    }

    /// Appends already-built families (e.g. from the self-metrics registry).
    pub fn extend(&mut self, families: Vec<MetricFamily>) {
        for f in families {
            let name = f.name().to_owned();
            match self.families.get_mut(&name) {
                Some(existing) => {
                    let mut f = f;
                    existing.mut_metric().extend(f.take_metric());
                }
                None => {
                    self.families.insert(name, f);
                }
            }
        }
    }

    /// Encodes every family, sorted by name, in the text exposition format 0.0.4.
    pub fn encode(&self) -> String {
        let fams: Vec<MetricFamily> = self.families.values().cloned().collect();
        let mut buf = Vec::new();
        let encoder = prometheus::TextEncoder::new();
        if let Err(error) = encoder.encode(&fams, &mut buf) {
            tracing::error!(error = %error, "Encoding metrics failed.");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, labels: &[&str]) -> MetricSpec {
        MetricSpec {
            name: name.into(),
            help: "h".into(),
            kind: MetricKind::Gauge,
            labels: labels.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn const_labels_and_merge() {
        let f1 = DescFactory::new(Some("a@h:1"), &[("env".into(), "prod".into())]);
        let f2 = DescFactory::new(Some("b"), &[]);
        let mut set = FamilySet::new();
        let t1 = f1.template(&spec("dmdbms_x", &["k"])).unwrap();
        let t2 = f2.template(&spec("dmdbms_x", &["k"])).unwrap();
        assert!(set.add(&t1, &["v".into()], 1.0));
        assert!(set.add(&t2, &["v".into()], 2.0));
        assert!(!set.add(&t2, &["v".into()], 3.0));
        assert_eq!(set.duplicates(), 1);
        let text = set.encode();
        assert_eq!(
            text,
            "# HELP dmdbms_x h\n# TYPE dmdbms_x gauge\n\
             dmdbms_x{datasource=\"a@h:1\",env=\"prod\",k=\"v\"} 1\n\
             dmdbms_x{datasource=\"b\",k=\"v\"} 2\n"
        );
    }

    #[test]
    fn invalid_names_are_refused() {
        let f = DescFactory::new(Some("a"), &[]);
        assert!(f.template(&spec("bad-name", &[])).is_err());
        assert!(f.template(&spec("ok", &["bad-label"])).is_err());
    }

    #[test]
    fn variable_label_shadows_const() {
        let f = DescFactory::new(Some("a"), &[("env".into(), "x".into())]);
        let t = f.template(&spec("m", &["env"])).unwrap();
        let mut set = FamilySet::new();
        set.add(&t, &["y".into()], 1.0);
        assert!(set.encode().contains("m{datasource=\"a\",env=\"y\"} 1"));
    }
}
