//! The benchmark floor (bench/README.md): the same queries the exporter runs, executed
//! directly over ODBC by a minimal client — one connection and one thread per datasource,
//! all datasources in parallel, every cell fetched as text with a bound block cursor.
//!
//! ```text
//! bench_floor --conns FILE --queries FILE [--warmup W] [--min-rounds K] [--max-rounds M]
//!             [--budget-ms B]
//! ```
//!
//! After `W` warm-up rounds it measures rounds until both `K` rounds and `B` ms have passed,
//! or `M` rounds.
//!
//! `--conns`: one ODBC connection string per line. `--queries`: one SQL statement per line.
//! Every round releases all threads at once and waits for all of them; the round's wall time
//! is one "scrape". Prints one JSON object: the per-round latencies (ms), CPU time per round
//! (utime+stime from /proc/self/stat over the measured rounds), VmHWM/VmRSS (KiB), rows and
//! cells fetched per round.
//!
//! Not a test and not part of the exporter: built as an example of dmexp-core
//! (`cargo build --release -p dmexp-core --example bench_floor`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use odbc_api::buffers::TextRowSet;
use odbc_api::{ConnectionOptions, Cursor, Environment};

const BATCH: usize = 256;
const MAX_STR: usize = 4096;

struct Args {
    conns: String,
    queries: String,
    min_rounds: usize,
    max_rounds: usize,
    warmup: usize,
    budget: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        conns: String::new(),
        queries: String::new(),
        min_rounds: 20,
        max_rounds: 20,
        warmup: 2,
        budget: Duration::ZERO,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or_else(|| format!("{k} needs a value"));
        match k.as_str() {
            "--conns" => a.conns = v()?,
            "--queries" => a.queries = v()?,
            "--min-rounds" => a.min_rounds = v()?.parse().map_err(|e| format!("{k}: {e}"))?,
            "--max-rounds" => a.max_rounds = v()?.parse().map_err(|e| format!("{k}: {e}"))?,
            "--warmup" => a.warmup = v()?.parse().map_err(|e| format!("{k}: {e}"))?,
            "--budget-ms" => {
                a.budget = Duration::from_millis(v()?.parse().map_err(|e| format!("{k}: {e}"))?)
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.conns.is_empty() || a.queries.is_empty() {
        return Err(
            "usage: bench_floor --conns FILE --queries FILE [--warmup W] [--min-rounds K] \
             [--max-rounds M] [--budget-ms B]"
                .into(),
        );
    }
    Ok(a)
}

fn lines(path: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
}

/// utime + stime of this process, in clock ticks (USER_HZ, 100 on Linux).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name in parentheses; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

fn status_kib(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Runs every query once on `conn`, fetching every cell as text; returns (rows, cells).
fn run_all(conn: &odbc_api::Connection<'_>, queries: &[String]) -> Result<(u64, u64), String> {
    let (mut rows, mut cells) = (0u64, 0u64);
    for q in queries {
        let Some(mut cursor) = conn.execute(q, (), None).map_err(|e| format!("{q}: {e}"))? else {
            continue;
        };
        let buffer = TextRowSet::for_cursor(BATCH, &mut cursor, Some(MAX_STR))
            .map_err(|e| format!("{q}: {e}"))?;
        let mut block = cursor.bind_buffer(buffer).map_err(|e| format!("{q}: {e}"))?;
        while let Some(batch) = block.fetch().map_err(|e| format!("{q}: {e}"))? {
            for row in 0..batch.num_rows() {
                for col in 0..batch.num_cols() {
                    // Touch the value the way an exporter would: a numeric cell is parsed.
                    if let Some(v) = batch.at(col, row) {
                        std::hint::black_box(std::str::from_utf8(v).ok().map(str::parse::<f64>));
                    }
                    cells += 1;
                }
                rows += 1;
            }
        }
    }
    Ok((rows, cells))
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_floor: {e}");
            std::process::exit(2);
        }
    };
    let (conns, queries) = match (lines(&args.conns), lines(&args.queries)) {
        (Ok(c), Ok(q)) => (c, Arc::new(q)),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("bench_floor: {e}");
            std::process::exit(2);
        }
    };
    // The process-wide environment (the exporter uses the same one, see core::pool).
    let env: &'static Environment =
        odbc_api::environment().unwrap_or_else(|e| panic!("ODBC environment: {e}"));
    let n = conns.len();
    let start = Arc::new(Barrier::new(n + 1));
    let done = Arc::new(Barrier::new(n + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel::<Result<(u64, u64), String>>();
    let mut handles = Vec::new();
    for cs in conns {
        let (start, done, stop, queries, tx) = (
            Arc::clone(&start),
            Arc::clone(&done),
            Arc::clone(&stop),
            Arc::clone(&queries),
            tx.clone(),
        );
        handles.push(std::thread::spawn(move || {
            let conn = env.connect_with_connection_string(&cs, ConnectionOptions::default());
            let conn = match conn {
                Ok(c) => Some(c),
                Err(e) => {
                    let _ = tx.send(Err(format!("connect: {e}")));
                    None
                }
            };
            start.wait();
            done.wait();
            loop {
                start.wait();
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Some(c) = &conn {
                    let _ = tx.send(run_all(c, &queries));
                }
                done.wait();
            }
        }));
    }
    drop(tx);
    // Every thread has connected once the first barrier opens: say so, and hold still for a
    // moment so that the harness can count the connections outside the measured rounds.
    start.wait();
    done.wait();
    println!("{{\"ready\":true}}");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    std::thread::sleep(Duration::from_millis(800));
    let mut lat_ms = Vec::new();
    let (mut rows, mut cells, mut errors) = (0u64, 0u64, 0u64);
    let mut first_error = None;
    let mut cpu0 = 0;
    let mut measuring_since = Instant::now();
    for round in 0.. {
        if round == args.warmup {
            cpu0 = cpu_ticks();
            measuring_since = Instant::now();
        }
        if round >= args.warmup {
            let k = lat_ms.len();
            if k >= args.max_rounds
                || (k >= args.min_rounds && measuring_since.elapsed() >= args.budget)
            {
                break;
            }
        }
        let t0 = Instant::now();
        start.wait();
        done.wait();
        let elapsed = t0.elapsed();
        let (mut r, mut c) = (0, 0);
        for res in rx.try_iter() {
            match res {
                Ok((rr, cc)) => {
                    r += rr;
                    c += cc;
                }
                Err(e) => {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
        if round >= args.warmup {
            lat_ms.push(elapsed.as_secs_f64() * 1000.0);
            rows = r;
            cells = c;
        }
    }
    let rounds = lat_ms.len();
    let cpu = cpu_ticks().saturating_sub(cpu0);
    let ticks_per_s = 100.0; // USER_HZ on Linux
    let cpu_ms_per_round = cpu as f64 * 1000.0 / ticks_per_s / rounds.max(1) as f64;
    let (hwm, rss) = (status_kib("VmHWM:"), status_kib("VmRSS:"));
    stop.store(true, Ordering::SeqCst);
    start.wait();
    for h in handles {
        let _ = h.join();
    }
    let lat: Vec<String> = lat_ms.iter().map(|v| format!("{v:.3}")).collect();
    let err = first_error.unwrap_or_default().replace('\\', "\\\\").replace('"', "'");
    println!(
        "{{\"n\":{n},\"queries\":{},\"rounds\":{},\"lat_ms\":[{}],\"cpu_ms_per_round\":{cpu_ms_per_round:.3},\"cpu_ticks\":{cpu},\"vmhwm_kib\":{hwm},\"vmrss_kib\":{rss},\"rows\":{rows},\"cells\":{cells},\"errors\":{errors},\"first_error\":\"{err}\"}}",
        queries.len(),
        rounds,
        lat.join(",")
    );
}
