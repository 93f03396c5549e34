//! FamilySet add + encode micro-benchmark (BENCHMARKS.md, "rendering").
//!
//! `cargo bench -p dmexp-core --bench encode` renders 100,000 series (200 datasources × 10
//! families × 50 series, two variable labels plus the `datasource` const label) several
//! times and prints the median and best time for `add` (building the set) and `encode` (the
//! text format), and the output size; then the median time of `encode_openmetrics` and of
//! gzip-compressing the text at the default level (what the HTTP layer does when the client
//! accepts gzip) with the compressed size. Without `--bench` (i.e. under `cargo test
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

fn run(inp: &Input) -> (Duration, Duration, String, FamilySet) {
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
    (t1 - t0, t2 - t1, text, set)
}

/// gzip at `level`.
fn gzip(text: &str, level: u32) -> Vec<u8> {
    use std::io::Write as _;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    z.write_all(text.as_bytes()).expect("gzip");
    z.finish().expect("gzip")
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
    let mut oms = Vec::new();
    let mut zips = Vec::new();
    let mut fasts = Vec::new();
    let (mut size, mut om_size, mut zip_size, mut fast_size) = (0, 0, 0, 0);
    for _ in 0..reps {
        let (a, e, text, set) = run(&inp);
        adds.push(a);
        encs.push(e);
        size = text.len();
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), series);
        let t = Instant::now();
        let om = set.encode_openmetrics();
        oms.push(t.elapsed());
        om_size = om.len();
        assert!(om.ends_with("# EOF\n"));
        assert_eq!(om.lines().filter(|l| !l.starts_with('#')).count(), series);
        let t = Instant::now();
        zip_size = gzip(&text, 6).len();
        zips.push(t.elapsed());
        let t = Instant::now();
        fast_size = gzip(&text, 1).len();
        fasts.push(t.elapsed());
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
    println!(
        "encode_openmetrics: {om_size} bytes, median {:.2} ms; gzip of the text: level 1 \
         {fast_size} bytes, median {:.2} ms; level 6 {zip_size} bytes, median {:.2} ms",
        median(&mut oms).as_secs_f64() * 1e3,
        median(&mut fasts).as_secs_f64() * 1e3,
        median(&mut zips).as_secs_f64() * 1e3,
    );
}
