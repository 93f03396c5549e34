//! Connection bounds of `server::serve` over real sockets (issue #15, finding H3): a silent,
//! trickling (slowloris) or idle keep-alive client is dropped after the header-read timeout, a
//! client that stops reading its response after the write-stall timeout, and at the
//! connection cap idle sockets make room so that a client sending its request right away is
//! still served.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use dmexp_core::server::{
    self, ConnectionLimits, DatasourceStatus, MetricsSource, ScrapeError, ScrapeRequest,
    ServerOptions,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

const METRICS_TEXT: &str = "dmdb_up{datasource=\"a\"} 1\n";

struct FakeSource;

impl MetricsSource for FakeSource {
    fn scrape(
        &self,
        _request: ScrapeRequest,
    ) -> Pin<Box<dyn Future<Output = Result<String, ScrapeError>> + Send + '_>> {
        Box::pin(async { Ok(METRICS_TEXT.to_owned()) })
    }
    fn statuses(&self) -> Vec<DatasourceStatus> {
        Vec::new()
    }
    fn ready(&self) -> bool {
        true
    }
}

fn app() -> Router {
    let opts = ServerOptions {
        metric_path: "/metrics".into(),
        basic_auth: None,
        basic_auth_users: Vec::new(),
        request_timeout: Duration::from_secs(30),
    };
    server::app(Arc::new(FakeSource), opts)
}

const HEADER_TIMEOUT: Duration = Duration::from_millis(600);

fn limits(max_connections: usize) -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: HEADER_TIMEOUT,
        write_stall_timeout: Duration::from_millis(800),
        max_connections,
    }
}

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(router: Router, limits: ConnectionLimits) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server::serve_with_limits(listener, router, limits, async move {
        let _ = stopped.await;
    }));
    Running { addr, stop, task }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("serve did not return after shutdown")
            .unwrap()
            .unwrap();
    }
}

/// Waits until the server closes `stream` (EOF or reset); `Err` with the bytes read when it
/// is still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    loop {
        let left = within.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => {
                return Err(format!(
                    "still open after {within:?} (read {:?})",
                    String::from_utf8_lossy(&got)
                ))
            }
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(started.elapsed()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// One GET with `Connection: close`; the status code.
async fn get_status(addr: SocketAddr, path: &str) -> Result<u16, String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.map_err(|e| format!("write: {e}"))?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.map_err(|e| format!("read: {e}"))?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        text.get(9..12).and_then(|c| c.parse().ok()).ok_or(format!("no status in {text:?}"))
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| "timed out".to_owned())?
}

#[tokio::test]
async fn a_silent_client_is_dropped_after_the_header_read_timeout() {
    let running = start(app(), limits(64)).await;
    let mut silent = TcpStream::connect(running.addr).await.unwrap();
    let after = closed_within(&mut silent, Duration::from_secs(5)).await.unwrap();
    assert!(after >= HEADER_TIMEOUT - Duration::from_millis(100), "closed too early: {after:?}");
    running.stop().await;
}

#[tokio::test]
async fn a_trickling_client_is_dropped_although_it_keeps_sending() {
    let running = start(app(), limits(64)).await;
    let mut slow = TcpStream::connect(running.addr).await.unwrap();
    let started = Instant::now();
    let head = b"GET /metrics HTTP/1.1\r\nHost: t\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed = false;
    for byte in head {
        // One byte every 100 ms: the head would take 7 s, far beyond the 0.6 s allowed.
        if slow.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    if !closed {
        closed_within(&mut slow, Duration::from_secs(1)).await.unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    running.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_dropped() {
    let running = start(app(), limits(64)).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&buf[..n]));
    // Kept alive, then idle: closed after the timeout, not held forever.
    closed_within(&mut stream, Duration::from_secs(5)).await.unwrap();
    running.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_after_the_write_stall_timeout() {
    // 64 MiB: far more than the socket buffers hold, so the server's writes stall.
    let big = Router::new().route("/big", get(|| async { vec![b'x'; 64 << 20] }));
    let running = start(big, limits(64)).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream.write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    // Never read; the server gives up after 0.8 s without progress. Reading afterwards sees
    // what was buffered, then the end.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    })
    .await;
    assert!(drained.is_ok(), "the connection was still open");
    assert!(total < 64 << 20, "the whole body arrived: {total}");
    running.stop().await;
}

#[tokio::test]
async fn at_the_cap_idle_sockets_make_room_for_a_real_request() {
    let running = start(
        app(),
        ConnectionLimits { header_read_timeout: Duration::from_secs(60), ..limits(8) },
    )
    .await;
    // 40 sockets that never send a byte, five times the cap; with a 60 s header timeout
    // only the eviction can let a request through.
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(TcpStream::connect(running.addr).await.unwrap());
    }
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(get_status(running.addr, "/metrics").await, Ok(200));
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
    // The evicted ones were closed by the server.
    let mut closed = 0;
    for stream in &mut idle {
        if closed_within(stream, Duration::from_millis(50)).await.is_ok() {
            closed += 1;
        }
    }
    assert!(closed >= 40 - 8, "only {closed} of 40 idle sockets were closed at a cap of 8");
    running.stop().await;
}

#[tokio::test]
async fn at_the_cap_requests_in_flight_are_not_evicted() {
    let slow = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            "done"
        }),
    );
    let running =
        start(slow, ConnectionLimits { header_read_timeout: Duration::from_secs(60), ..limits(2) })
            .await;
    let addr = running.addr;
    let first = tokio::spawn(get_status(addr, "/slow"));
    let second = tokio::spawn(get_status(addr, "/slow"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Both slots are busy: a third request waits for one of them instead of evicting it.
    let third = tokio::spawn(get_status(addr, "/slow"));
    assert_eq!(first.await.unwrap(), Ok(200));
    assert_eq!(second.await.unwrap(), Ok(200));
    assert_eq!(third.await.unwrap(), Ok(200));
    running.stop().await;
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_returns() {
    let running = start(
        app(),
        ConnectionLimits { header_read_timeout: Duration::from_secs(60), ..limits(64) },
    )
    .await;
    let mut idle = TcpStream::connect(running.addr).await.unwrap();
    let mut kept = TcpStream::connect(running.addr).await.unwrap();
    kept.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 256];
    let _ = kept.read(&mut buf).await.unwrap();
    let started = Instant::now();
    running.stop().await;
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    closed_within(&mut idle, Duration::from_secs(1)).await.unwrap();
    closed_within(&mut kept, Duration::from_secs(1)).await.unwrap();
}
