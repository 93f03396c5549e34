//! Attacks of RELIABILITY_FINDINGS.md, one test per class, against the real binary. Every
//! test is bounded in time (seconds, no sleeps beyond the timeouts under test). The index of
//! every H/M/L item and the test covering it is in README.md, "Security".

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{fixture_ds, http_get, value, Engine, Exporter};

/// H3: 300 idle sockets and 40 slowloris sockets against an exporter limited to 128 file
/// descriptors (connection cap 64). Every scrape is still answered, quickly, and every
/// hostile socket is closed by the server within the header-read timeout (5 s) plus margin.
#[test]
fn h3_idle_and_slowloris_sockets_under_a_low_nofile_limit_do_not_starve_scrapes() {
    let body = fixture_ds(Engine::Sqlite, "p", "primary", "");
    let exp = Exporter::start_with_nofile("attack-h3", &body, &[], 128, 128);
    let addr = format!("127.0.0.1:{}", exp.port);

    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(&addr).expect("connect idle"));
    }
    let mut slow = Vec::new();
    for _ in 0..40 {
        let mut s = TcpStream::connect(&addr).expect("connect slowloris");
        s.write_all(b"GET /metrics HTTP/1.1\r\n").expect("first line");
        slow.push(s);
    }
    let started = Instant::now();
    let mut scrapes = 0;
    // Scrapes while the slowloris sockets trickle one header byte per 250 ms each.
    while started.elapsed() < Duration::from_secs(4) {
        for s in &mut slow {
            let _ = s.write_all(b"X");
        }
        let t = Instant::now();
        let (status, text) = http_get(exp.port, "/metrics", None).expect("scrape");
        assert_eq!(status, 200, "{text}");
        assert_eq!(value(&text, "dmdb_up{datasource=\"p\"}"), Some(1.0), "{text}");
        assert!(t.elapsed() < Duration::from_secs(3), "scrape took {:?}", t.elapsed());
        scrapes += 1;
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(scrapes >= 5, "only {scrapes} scrapes in 4 s");

    // 5 s header-read timeout: by 8 s after the start every hostile socket is closed.
    let deadline = started + Duration::from_secs(8);
    let mut open = 0;
    for s in idle.iter_mut().chain(slow.iter_mut()) {
        let left =
            deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(50));
        s.set_read_timeout(Some(left)).expect("timeout");
        let mut buf = [0u8; 512];
        let closed = loop {
            match s.read(&mut buf) {
                Ok(0) => break true,
                Ok(_) => continue, // a 408 or 400 before the close
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    break false
                }
                Err(_) => break true, // reset
            }
        };
        if !closed {
            open += 1;
        }
    }
    assert_eq!(open, 0, "{open} of 340 hostile sockets still open after 8 s");
    let logs = exp.all_logs();
    assert!(logs.contains("max_connections=64"), "{logs}");
    assert!(!logs.contains("Too many open files"), "{logs}");
}

/// H3: the soft open-files limit is raised to the hard limit at startup, and logged.
#[test]
fn h3_the_soft_nofile_limit_is_raised_to_the_hard_limit() {
    let body = fixture_ds(Engine::Sqlite, "p", "primary", "");
    let exp = Exporter::start_with_nofile("attack-nofile", &body, &[], 200, 400);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", exp.pid())).expect("limits");
    let line = limits.lines().find(|l| l.starts_with("Max open files")).expect("nofile line");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&fields[3..5], &["400", "400"], "{line}");
    let logs = exp.all_logs();
    assert!(logs.contains("Raised the open-files limit"), "{logs}");
    assert!(logs.contains("old=200") && logs.contains("new=400"), "{logs}");
    assert!(logs.contains("max_connections=200"), "{logs}");
}
