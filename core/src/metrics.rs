//! The Desc factory and the per-scrape family builder.
//!
//! Each datasource has const labels (`datasource` = `name@host:port` or `name`, plus the
//! datasource's `labels`). [`DescFactory`] validates every declared metric once, at startup,
//! with `prometheus::core::Desc` (an invalid name or label is a startup error, never a scrape
//! error) and keeps a ready [`MetricTemplate`]. At scrape time samples are added to a fresh
//! [`FamilySet`], which merges families by name (one HELP/TYPE per name), drops duplicate
//! series with a warning, and encodes the text format.
//!
//! The text is rendered as samples are added (BENCHMARKS.md, "rendering"): a template knows
//! its label names in output order with its const labels already escaped, so `add` writes
//! `name{labels} value` straight into its family's buffer, and duplicate detection hashes
//! and compares the rendered label block in that buffer — no per-sample label vectors, no
//! protobuf structs, no clone at encode time. The output is byte for byte what
//! `prometheus::TextEncoder` writes for the same families (tests below check it).
//! [`FamilySet::encode_openmetrics`] writes the same samples as OpenMetrics 1.0.0
//! (`metrics/openmetrics.rs`).

mod openmetrics;

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use prometheus::proto::{MetricFamily, MetricType};

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
    /// Const labels, minus any that a variable label shadows (rendered into `order`; kept
    /// for the tests' reference encoder).
    #[cfg_attr(not(test), allow(dead_code))]
    const_labels: Vec<(String, String)>,
    /// Every label in output order (sorted by name, as the encoder always wrote them).
    order: Vec<LabelSlot>,
}

/// One label of a template, in output order.
#[derive(Debug, Clone)]
enum LabelSlot {
    /// `name="` of variable label `index` (its value comes with each sample).
    Var { prefix: String, index: usize },
    /// `name="value"` of a const label, value already escaped.
    Const(String),
}

impl MetricTemplate {
    fn new(
        name: String,
        help: String,
        kind: MetricKind,
        var_labels: Vec<String>,
        const_labels: Vec<(String, String)>,
    ) -> Self {
        let mut named: Vec<(&str, LabelSlot)> = var_labels
            .iter()
            .enumerate()
            .map(|(index, l)| (l.as_str(), LabelSlot::Var { prefix: format!("{l}=\""), index }))
            .chain(const_labels.iter().map(|(k, v)| {
                let mut text = format!("{k}=\"");
                escape_into(&mut text, v, true);
                text.push('"');
                (k.as_str(), LabelSlot::Const(text))
            }))
            .collect();
        // Label names are unique (Desc::new refuses duplicates; shadowed const labels are
        // gone), so sorting by name is the (name, value) order the encoder used to get.
        named.sort_by(|a, b| a.0.cmp(b.0));
        let order = named.into_iter().map(|(_, slot)| slot).collect();
        MetricTemplate { name, help, kind, var_labels, const_labels, order }
    }
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

    /// The first variable label of `spec` named like a const label (`datasource` or one of
    /// the datasource's `labels`): declared by SQL or code the operator did not write for
    /// this datasource (custom metrics, plugins), it would overwrite the datasource's identity
    /// and must be refused.
    pub fn identity_clash<'a>(&self, spec: &'a MetricSpec) -> Option<&'a str> {
        spec.labels
            .iter()
            .find(|l| *l == "datasource" || self.const_labels.iter().any(|(k, _)| k == *l))
            .map(String::as_str)
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
        Ok(MetricTemplate::new(
            spec.name.clone(),
            help,
            spec.kind,
            spec.labels.clone(),
            const_labels,
        ))
    }
}

/// Families of one scrape, merged by name.
#[derive(Debug, Default)]
pub struct FamilySet {
    families: BTreeMap<String, FamilyText>,
    duplicates: u64,
    conflicts: u64,
    /// Scratch buffer for one sample's label block.
    scratch: String,
}

/// One family: its header facts and its samples, already rendered.
#[derive(Debug)]
struct FamilyText {
    help: String,
    /// `counter`, `gauge`, … as the TYPE line spells it.
    kind: &'static str,
    /// Sample lines, in insertion order.
    text: String,
    /// Number of sample lines in `text`.
    samples: usize,
    /// Label blocks of the samples added with [`FamilySet::add`]: byte ranges in `text`.
    blocks: Vec<(u32, u32)>,
    /// Hash of a label block → the last block with that hash; `chain[i]` is the block
    /// before block `i` with the same hash (`u32::MAX`: none). Exact: equal hashes are
    /// confirmed by comparing the bytes.
    index: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    chain: Vec<u32>,
}

impl FamilyText {
    fn new(help: String, kind: &'static str) -> Self {
        FamilyText {
            help,
            kind,
            text: String::new(),
            samples: 0,
            blocks: Vec::new(),
            index: HashMap::default(),
            chain: Vec::new(),
        }
    }

    fn contains(&self, hash: u64, block: &str) -> bool {
        let mut at = self.index.get(&hash).copied();
        while let Some(i) = at.filter(|i| *i != u32::MAX) {
            let (s, e) = self.blocks[i as usize];
            if &self.text[s as usize..e as usize] == block {
                return true;
            }
            at = Some(self.chain[i as usize]);
        }
        false
    }
}

/// The hash map's hasher for keys that already are hashes.
#[derive(Debug, Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed with it.
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// A fast, non-cryptographic hash of a label block (the block is compared byte for byte on
/// a hash match, so collisions cost a comparison, never a wrong answer).
fn hash_block(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let mut w = [0u8; 8];
    let rest = chunks.remainder();
    w[..rest.len()].copy_from_slice(rest);
    h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    // Final avalanche (splitmix64).
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Appends `v` escaped as the text format escapes label values (`include_quote`) or HELP
/// text: backslash and newline always, the double quote in label values.
fn escape_into(out: &mut String, v: &str, include_quote: bool) {
    let special = |b: u8| b == b'\\' || b == b'\n' || (include_quote && b == b'"');
    if !v.bytes().any(special) {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if include_quote => out.push_str("\\\""),
            _ => out.push(c),
        }
    }
}

/// Appends a sample value exactly as `f64::to_string` writes it (what the encoder used).
fn write_value(out: &mut String, v: f64) {
    use std::fmt::Write as _;
    // Integral values print without a fractional part either way; i64 formatting is faster.
    // -0.0 prints as "-0", so it takes the general path.
    if v.fract() == 0.0 && v.abs() < 1e15 && !(v == 0.0 && v.is_sign_negative()) {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

fn type_name(t: MetricType) -> &'static str {
    match t {
        MetricType::COUNTER => "counter",
        MetricType::GAUGE => "gauge",
        MetricType::SUMMARY => "summary",
        MetricType::UNTYPED => "untyped",
        MetricType::HISTOGRAM => "histogram",
    }
}

impl FamilySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sample. Returns false (and counts it) when the series already exists in this
    /// scrape or when the name was declared with another type.
    pub fn add(&mut self, t: &MetricTemplate, label_values: &[String], value: f64) -> bool {
        let kind = match t.kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        };
        // Render the label block: `{a="x",b="y"}`, or nothing without labels.
        let block = &mut self.scratch;
        block.clear();
        for (i, slot) in t.order.iter().enumerate() {
            block.push(if i == 0 { '{' } else { ',' });
            match slot {
                LabelSlot::Var { prefix, index } => {
                    block.push_str(prefix);
                    escape_into(block, label_values.get(*index).map_or("", String::as_str), true);
                    block.push('"');
                }
                LabelSlot::Const(text) => block.push_str(text),
            }
        }
        if !t.order.is_empty() {
            block.push('}');
        }
        let family = match self.families.get_mut(t.name.as_str()) {
            Some(f) => f,
            None => self
                .families
                .entry(t.name.clone())
                .or_insert_with(|| FamilyText::new(t.help.clone(), kind)),
        };
        if family.kind != kind {
            self.conflicts += 1;
            return false;
        }
        let hash = hash_block(block.as_bytes());
        if family.contains(hash, block) {
            self.duplicates += 1;
            return false;
        }
        let text = &mut family.text;
        text.push_str(&t.name);
        let start = u32::try_from(text.len()).unwrap_or(u32::MAX);
        text.push_str(block);
        let end = u32::try_from(text.len()).unwrap_or(u32::MAX);
        text.push(' ');
        write_value(text, value);
        text.push('\n');
        let id = u32::try_from(family.blocks.len()).unwrap_or(u32::MAX);
        family.blocks.push((start, end));
        family.chain.push(family.index.insert(hash, id).unwrap_or(u32::MAX));
        family.samples += 1;
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

    /// Appends already-built families (e.g. from the self-metrics registry). Their samples
    /// are rendered by `prometheus::TextEncoder` and not checked for duplicates; a family
    /// whose name exists with another type is dropped and counted as a conflict; an untyped
    /// family, which that encoder cannot write, is dropped with an error log.
    pub fn extend(&mut self, families: Vec<MetricFamily>) {
        let encoder = prometheus::TextEncoder::new();
        for f in families {
            if f.get_metric().is_empty() || f.name().is_empty() {
                continue;
            }
            if f.get_field_type() == MetricType::UNTYPED {
                // prometheus::TextEncoder cannot encode untyped families (it panics).
                tracing::error!(family = f.name(), "Untyped metric family dropped.");
                continue;
            }
            let kind = type_name(f.get_field_type());
            let mut rendered = String::new();
            if let Err(error) = encoder.encode_utf8(std::slice::from_ref(&f), &mut rendered) {
                tracing::error!(error = %error, family = f.name(), "Encoding a metric family failed.");
                continue;
            }
            let family = self
                .families
                .entry(f.name().to_owned())
                .or_insert_with(|| FamilyText::new(f.help().to_owned(), kind));
            if family.kind != kind {
                self.conflicts += 1;
                continue;
            }
            for line in rendered.lines().filter(|l| !l.starts_with('#')) {
                family.text.push_str(line);
                family.text.push('\n');
                family.samples += 1;
            }
        }
    }

    /// Encodes every family, sorted by name, in the text exposition format 0.0.4.
    pub fn encode(&self) -> String {
        let size: usize =
            self.families.iter().map(|(n, f)| 2 * n.len() + f.help.len() + f.text.len() + 32).sum();
        let mut out = String::with_capacity(size);
        for (name, f) in &self.families {
            if f.samples == 0 {
                continue;
            }
            if !f.help.is_empty() {
                out.push_str("# HELP ");
                out.push_str(name);
                out.push(' ');
                escape_into(&mut out, &f.help, false);
                out.push('\n');
            }
            out.push_str("# TYPE ");
            out.push_str(name);
            out.push(' ');
            out.push_str(f.kind);
            out.push('\n');
            out.push_str(&f.text);
        }
        out
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

    /// The text the prometheus crate's encoder writes for the same samples (what this module
    /// wrote before it rendered the text itself).
    fn reference(samples: &[(&MetricTemplate, Vec<String>, f64)]) -> String {
        use prometheus::proto::{self, LabelPair};
        use prometheus::Encoder;
        let mut fams: BTreeMap<String, MetricFamily> = BTreeMap::new();
        let mut seen = std::collections::HashSet::new();
        for (t, values, v) in samples {
            let mut pairs: Vec<(String, String)> = t
                .var_labels
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), values.get(i).cloned().unwrap_or_default()))
                .chain(t.const_labels.iter().cloned())
                .collect();
            pairs.sort();
            if !seen.insert((t.name.clone(), pairs.clone())) {
                continue;
            }
            let f = fams.entry(t.name.clone()).or_insert_with(|| {
                let mut f = MetricFamily::default();
                f.set_name(t.name.clone());
                f.set_help(t.help.clone());
                f.set_field_type(match t.kind {
                    MetricKind::Counter => MetricType::COUNTER,
                    MetricKind::Gauge => MetricType::GAUGE,
                });
                f
            });
            let labels = pairs
                .into_iter()
                .map(|(k, v)| {
                    let mut lp = LabelPair::default();
                    lp.set_name(k);
                    lp.set_value(v);
                    lp
                })
                .collect();
            let mut m = proto::Metric::from_label(labels);
            match t.kind {
                MetricKind::Counter => {
                    let mut c = proto::Counter::default();
                    c.set_value(*v);
                    m.set_counter(c);
                }
                MetricKind::Gauge => {
                    let mut g = proto::Gauge::default();
                    g.set_value(*v);
                    m.set_gauge(g);
                }
            }
            f.mut_metric().push(m);
        }
        let fams: Vec<MetricFamily> = fams.into_values().collect();
        let mut buf = Vec::new();
        prometheus::TextEncoder::new().encode(&fams, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn same_bytes_as_the_prometheus_encoder() {
        let f1 = DescFactory::new(
            Some("ds\\1@h:1"),
            &[("zone".into(), "a\"b\nc".into()), ("aa".into(), "first".into())],
        );
        let f2 = DescFactory::new(Some("b"), &[]);
        let mut gauge = spec("dmdbms_g", &["k", "b_label"]);
        gauge.help = "Help with \\ backslash,\nnewline and \"quotes\".".into();
        let mut counter = spec("dmdbms_c_total", &[]);
        counter.kind = MetricKind::Counter;
        let t1 = f1.template(&gauge).unwrap();
        let t2 = f2.template(&gauge).unwrap();
        let t3 = f1.template(&counter).unwrap();
        let t4 = f2.template(&spec("aaa_plain", &[])).unwrap();
        let values = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            1.5e-7,
            123456789.0,
            1e15,
            1e16,
            1e21,
            -2.5e300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN_POSITIVE,
            4096.0,
        ];
        let mut samples: Vec<(&MetricTemplate, Vec<String>, f64)> = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let labels = vec![format!("v{i} \\ \"q\"\n中文"), "x".to_owned()];
            samples.push((&t1, labels.clone(), *v));
            samples.push((&t2, labels, *v));
            samples.push((&t3, vec![], *v));
        }
        // A missing label value renders empty; duplicates are dropped.
        samples.push((&t1, vec!["only-one".into()], 7.0));
        samples.push((&t1, vec!["only-one".into(), String::new()], 8.0));
        samples.push((&t4, vec![], 3.0));
        let mut set = FamilySet::new();
        for (t, l, v) in &samples {
            set.add(t, l, *v);
        }
        assert_eq!(set.encode(), reference(&samples));
        // 16 counter samples after the first are duplicates of it, and the 2nd "only-one".
        assert_eq!(set.duplicates(), (values.len() - 1) as u64 + 1);
    }

    #[test]
    fn extend_merges_by_name_and_refuses_another_type() {
        let f = DescFactory::new(Some("a"), &[]);
        let t = f.template(&spec("fam", &["k"])).unwrap();
        let mut set = FamilySet::new();
        set.add(&t, &["1".into()], 1.0);
        let reg = prometheus::Registry::new();
        let g =
            prometheus::GaugeVec::new(prometheus::Opts::new("fam", "other help"), &["k"]).unwrap();
        g.with_label_values(&["2"]).set(2.0);
        reg.register(Box::new(g)).unwrap();
        let c = prometheus::IntCounter::new("zz_total", "z").unwrap();
        c.inc();
        reg.register(Box::new(c)).unwrap();
        set.extend(reg.gather());
        assert_eq!(
            set.encode(),
            "# HELP fam h\n# TYPE fam gauge\nfam{datasource=\"a\",k=\"1\"} 1\nfam{k=\"2\"} 2\n\
             # HELP zz_total z\n# TYPE zz_total counter\nzz_total 1\n"
        );
        let mut counter = spec("fam", &["k"]);
        counter.kind = MetricKind::Counter;
        assert!(!set.add(&f.template(&counter).unwrap(), &["3".into()], 3.0));
        assert_eq!(set.conflicts(), 1);
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
