//! FamilySet add + encode micro-benchmark (BENCHMARKS.md, "rendering").
//!
//! `cargo bench -p dmexp-core --bench encode` renders 100,000 series (200 datasources × 10
//! families × 50 series, two variable labels plus the `datasource` const label) several
//! times and prints the median and best time for `add` (building the set) and `encode` (the
//! text format), and the output size. Without `--bench` (i.e. under `cargo test
//! --all-targets`) it runs once on 1,000 series and checks the output, as a smoke test: no
//! timing is asserted anywhere.

use std::time::{Duration, Instant};

use dmexp_core::collector::{MetricKind, MetricSpec};
use dmexp_core::metrics::{DescFactory, FamilySet, MetricTemplate};

struct Input {
    /// Per datasource, per family: a template.
    templates: Vec<Vec<MetricTemplate>>,
    /// Label values per series index within a family.
    labels: Vec<Vec<String>>,
}

fn input(datasources: usize, families: usize, series: usize) -> Input {
    let templates = (0..datasources)
        .map(|d| {
            let f = DescFactory::new(
                Some(&format!("ds{d}@127.0.0.1:5236")),
                &[("env".to_owned(), "bench".to_owned())],
            );
            (0..families)
                .map(|i| {
                    let spec = MetricSpec {
                        name: format!("dmdbms_bench_family_{i}"),
                        help: format!("Benchmark family {i}."),
                        kind: if i % 3 == 0 { MetricKind::Counter } else { MetricKind::Gauge },
                        labels: vec!["object".to_owned(), "state".to_owned()],
                    };
                    f.template(&spec).expect("valid template")
                })
                .collect()
        })
        .collect();
    let labels = (0..series)
        .map(|s| vec![format!("OBJECT_{s}"), if s % 2 == 0 { "ACTIVE" } else { "IDLE" }.to_owned()])
        .collect();
    Input { templates, labels }
}

fn run(inp: &Input) -> (Duration, Duration, String) {
    let t0 = Instant::now();
    let mut set = FamilySet::new();
    for (d, fams) in inp.templates.iter().enumerate() {
        for (f, t) in fams.iter().enumerate() {
            for (s, lv) in inp.labels.iter().enumerate() {
                let v = (d * 1_000_003 + f * 1009 + s) as f64 * 0.25;
                set.add(t, lv, v);
            }
        }
    }
    let t1 = Instant::now();
    let text = set.encode();
    let t2 = Instant::now();
    (t1 - t0, t2 - t1, text)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (d, f, s, reps) = if full { (200, 10, 50, 15) } else { (2, 10, 50, 1) };
    let inp = input(d, f, s);
    let series = d * f * s;
    let mut adds = Vec::new();
    let mut encs = Vec::new();
    let mut size = 0;
    for _ in 0..reps {
        let (a, e, text) = run(&inp);
        adds.push(a);
        encs.push(e);
        size = text.len();
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), series);
    }
    let best_add = *adds.iter().min().expect("one run");
    let best_enc = *encs.iter().min().expect("one run");
    let (ma, me) = (median(&mut adds), median(&mut encs));
    println!(
        "encode: {series} series, {size} bytes, {reps} runs: add median {:.2} ms (best {:.2}), \
         encode median {:.2} ms (best {:.2}), total median {:.2} ms",
        ma.as_secs_f64() * 1e3,
        best_add.as_secs_f64() * 1e3,
        me.as_secs_f64() * 1e3,
        best_enc.as_secs_f64() * 1e3,
        (ma + me).as_secs_f64() * 1e3
    );
}
