//! Registry invariants over every built-in collector (docs/HOUSE_STYLE.md B22.2).

use std::collections::HashSet;

use dmexp_core::collector::{registered, MetricKind};

#[test]
fn names_are_unique_and_match_files() {
    dmexp_builtin::link();
    let all = registered();
    assert!(all.len() >= 2, "collectors registered: {}", all.len());
    let mut names = HashSet::new();
    for d in &all {
        assert!(names.insert(d.name), "duplicate collector name {}", d.name);
        assert!(
            d.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "collector name {} must be snake_case like its file",
            d.name
        );
        let file = format!("{}/src/{}.rs", env!("CARGO_MANIFEST_DIR"), d.name);
        assert!(std::path::Path::new(&file).exists(), "collector {} must live in {file}", d.name);
        assert!(!d.views.is_empty());
    }
    let mut sorted: Vec<_> = all.iter().map(|d| d.name).collect();
    sorted.sort_unstable();
    assert_eq!(sorted, all.iter().map(|d| d.name).collect::<Vec<_>>(), "registered() is sorted");
}

#[test]
fn metrics_are_valid_and_unique() {
    let mut seen = HashSet::new();
    for d in registered() {
        assert!(!d.metrics.is_empty(), "{} declares no metric", d.name);
        for m in d.metrics {
            assert!(seen.insert(m.name), "metric {} declared twice", m.name);
            assert!(m.name.starts_with("dmdbms_"), "{} must use the upstream prefix", m.name);
            assert!(!m.help.trim().is_empty(), "{} has no HELP", m.name);
            let desc = prometheus::core::Desc::new(
                m.name.to_owned(),
                m.help.to_owned(),
                m.labels.iter().map(|s| (*s).to_owned()).collect(),
                Default::default(),
            );
            assert!(desc.is_ok(), "{}: {:?}", m.name, desc.err());
            assert_eq!(
                m.kind == MetricKind::Counter,
                m.name.ends_with("_total"),
                "{}: counters end in _total and only counters do",
                m.name
            );
        }
    }
}
