//! Accepting and serving connections, plain or TLS, with the bounds that keep clients which
//! never finish a request from starving scrapes (issue #15, finding H3).
//!
//! - **Header-read and idle timeout** ([`ConnectionLimits::header_read_timeout`]): a request's
//!   head must arrive completely within this time, counted from the accept (or the end of the
//!   TLS handshake) and, on a keep-alive connection, from the end of the previous response. A
//!   silent, idle or trickling (slowloris) client is dropped when it passes.
//! - **TLS handshake timeout** ([`super::TlsSettings::handshake_timeout`]), inside the
//!   connection's own task.
//! - **Write-stall timeout** ([`ConnectionLimits::write_stall_timeout`]): a client that stops
//!   reading its response is dropped once a write has made no progress for this long.
//! - **Connection cap** ([`ConnectionLimits::max_connections`], by default from the process's
//!   `RLIMIT_NOFILE`): at the cap, a new connection evicts the oldest connection that has no
//!   request in flight (silent, handshaking, trickling or idle keep-alive), so a client that
//!   sends its request right away, as Prometheus does, is served however many sockets others
//!   hold open. Only when every connection is busy with a request does accepting wait for one
//!   to finish.
//!
//! HTTP/1.1 only (hyper's `http1` connection), as before.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio::time::Sleep;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

/// Default [`ConnectionLimits::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`ConnectionLimits::write_stall_timeout`].
pub const DEFAULT_WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound of the default connection cap (far above what Prometheus servers open).
pub const MAX_CONNECTIONS_CEILING: usize = 1024;
/// Lower bound of the default connection cap.
const MAX_CONNECTIONS_FLOOR: usize = 16;

/// Bounds on the server's connections; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time allowed for a complete request head, from the accept, the end of the TLS
    /// handshake or the end of the previous response. Also the keep-alive idle timeout.
    pub header_read_timeout: Duration,
    /// Time a response write may make no progress before the connection is dropped.
    pub write_stall_timeout: Duration,
    /// Open connections at most (TLS handshakes included); at the cap the oldest connection
    /// without a request in flight is closed for a new one.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    /// The default timeouts and [`ConnectionLimits::cap_for_nofile`] of the current
    /// `RLIMIT_NOFILE` soft limit.
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            write_stall_timeout: DEFAULT_WRITE_STALL_TIMEOUT,
            max_connections: Self::cap_for_nofile(super::nofile::soft_limit()),
        }
    }
}

impl ConnectionLimits {
    /// Half the descriptor limit (the other half stays for ODBC connections, log files,
    /// plugins), between 16 and [`MAX_CONNECTIONS_CEILING`]; the ceiling when unknown.
    pub fn cap_for_nofile(nofile: Option<u64>) -> usize {
        match nofile {
            Some(n) => usize::try_from(n / 2)
                .unwrap_or(usize::MAX)
                .clamp(MAX_CONNECTIONS_FLOOR, MAX_CONNECTIONS_CEILING),
            None => MAX_CONNECTIONS_CEILING,
        }
    }
}

/// TLS for [`serve_connections`]: the (replaceable) rustls configuration and the handshake
/// bound.
pub(crate) struct TlsAccept {
    pub(crate) config: Arc<ArcSwap<ServerConfig>>,
    pub(crate) handshake_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` resolves: stops accepting, closes idle
/// connections, lets requests in flight finish and returns.
pub(crate) async fn serve_connections(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAccept>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let registry = Arc::new(Registry::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let tls = tls.map(Arc::new);
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    tracing::debug!(
        max_connections = limits.max_connections,
        header_read_timeout = ?limits.header_read_timeout,
        "Serving HTTP connections."
    );
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::error!(error = %error, "Cannot accept a connection.");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            },
        };
        while tasks.try_join_next().is_some() {}
        // At the cap: make room (evict an idle connection, or wait for a busy one to end).
        tokio::select! {
            () = &mut shutdown => break,
            () = registry.make_room() => {}
        }
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::trace!(error = %error, "Cannot set TCP_NODELAY.");
        }
        let slot = registry.register();
        let router = router.clone();
        let tls = tls.clone();
        let stop = stop_rx.clone();
        tasks.spawn(async move {
            connection(tcp, peer, router, tls, limits, &slot, stop).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// One connection: TLS handshake (if any), then HTTP/1.1 until the client closes, a timeout,
/// eviction or shutdown.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    tls: Option<Arc<TlsAccept>>,
    limits: ConnectionLimits,
    slot: &Slot,
    mut stop: watch::Receiver<bool>,
) {
    let state = Arc::clone(&slot.state);
    match tls {
        None => serve_http(tcp, peer, router, limits, &state, stop).await,
        Some(tls) => {
            let acceptor = TlsAcceptor::from(tls.config.load_full());
            let handshake = tokio::time::timeout(tls.handshake_timeout, acceptor.accept(tcp));
            let stream = tokio::select! {
                result = handshake => match result {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        tracing::debug!(remote_addr = %peer, error = %error, "TLS handshake failed.");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(remote_addr = %peer, "TLS handshake timed out.");
                        return;
                    }
                },
                () = state.evict.notified() => return,
                () = stopped(&mut stop) => return,
            };
            serve_http(stream, peer, router, limits, &state, stop).await;
        }
    }
}

async fn serve_http<IO>(
    io: IO,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    state: &Arc<ConnState>,
    mut stop: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let busy_state = Arc::clone(state);
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let guard = Busy::new(Arc::clone(&busy_state));
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await;
            response.map(|response| {
                response
                    .map(|body| axum::body::Body::new(GuardedBody { inner: body, _guard: guard }))
            })
        }
    });
    let io = TokioIo::new(StallGuard::new(io, limits.write_stall_timeout));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let conn = builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = state.evict.notified() => {
            if state.busy.load(Ordering::Acquire) == 0 {
                tracing::debug!(remote_addr = %peer, "Idle connection closed for a new one (connection cap).");
                return;
            }
            // A request arrived since the eviction was decided: it finishes, then the
            // connection closes.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(remote_addr = %peer, error = %error, "Connection ended with an error.");
    }
}

/// Resolves once the server is shutting down.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: shutting down too.
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Errors of one connection, not of the listening socket (the same list as hyper's).
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Per-connection state the accept loop sees.
struct ConnState {
    /// Requests in flight (from the parsed head to the end of the response body).
    busy: AtomicUsize,
    /// Set once the connection was chosen for eviction.
    evicted: AtomicBool,
    evict: Notify,
}

/// The open connections, oldest first.
struct Registry {
    cap: usize,
    inner: Mutex<RegistryInner>,
    /// A connection ended.
    freed: Notify,
}

struct RegistryInner {
    next_id: u64,
    open: BTreeMap<u64, Arc<ConnState>>,
}

/// A connection's place in the [`Registry`]; dropping it frees the place.
struct Slot {
    id: u64,
    state: Arc<ConnState>,
    registry: Arc<Registry>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry.lock().open.remove(&self.id);
        self.registry.freed.notify_waiters();
    }
}

impl Registry {
    fn new(cap: usize) -> Self {
        Registry {
            cap,
            inner: Mutex::new(RegistryInner { next_id: 0, open: BTreeMap::new() }),
            freed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RegistryInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(self: &Arc<Self>) -> Slot {
        let state = Arc::new(ConnState {
            busy: AtomicUsize::new(0),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
        });
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.open.insert(id, Arc::clone(&state));
        Slot { id, state, registry: Arc::clone(self) }
    }

    /// Returns once fewer than `cap` connections are open, evicting the oldest idle
    /// connections first.
    async fn make_room(&self) {
        loop {
            let freed = self.freed.notified();
            let mut freed = std::pin::pin!(freed);
            freed.as_mut().enable();
            {
                let inner = self.lock();
                let open = inner.open.len();
                if open < self.cap {
                    return;
                }
                // Connections already told to go count as leaving; evict enough others.
                let leaving =
                    inner.open.values().filter(|c| c.evicted.load(Ordering::Acquire)).count();
                if open - leaving >= self.cap {
                    let victim = inner.open.values().find(|c| {
                        !c.evicted.load(Ordering::Acquire) && c.busy.load(Ordering::Acquire) == 0
                    });
                    if let Some(victim) = victim {
                        victim.evicted.store(true, Ordering::Release);
                        victim.evict.notify_one();
                    }
                }
            }
            // Re-check now and then too: a busy connection turning idle frees nothing.
            tokio::select! {
                () = freed => {}
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }
}

/// Marks a connection busy while a request is in flight.
struct Busy(Arc<ConnState>);

impl Busy {
    fn new(state: Arc<ConnState>) -> Self {
        state.busy.fetch_add(1, Ordering::AcqRel);
        Busy(state)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its connection marked busy until it is written (or dropped).
struct GuardedBody {
    inner: axum::body::Body,
    _guard: Busy,
}

impl http_body::Body for GuardedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// An IO whose writes fail with `TimedOut` after making no progress for a while (a client
/// that stopped reading).
struct StallGuard<IO> {
    io: IO,
    timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<IO> StallGuard<IO> {
    fn new(io: IO, timeout: Duration) -> Self {
        StallGuard { io, timeout, stalled: None }
    }

    /// Called when a write is pending: arms the timer, or reports that it ran out.
    fn check_stall(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let timeout = self.timeout;
        let sleep = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading the response",
            )),
            Poll::Pending => Ok(()),
        }
    }

    /// The answer to a write that the inner stream answered with `polled`: pending arms or
    /// checks the stall timer, anything else disarms it.
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match polled {
            Poll::Pending => match self.check_stall(cx) {
                Ok(()) => Poll::Pending,
                Err(error) => Poll::Ready(Err(error)),
            },
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for StallGuard<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for StallGuard<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.io).poll_write(cx, buf);
        this.after_write(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.after_write(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Pending => match this.check_stall(cx) {
                Ok(()) => Poll::Pending,
                Err(error) => Poll::Ready(Err(error)),
            },
            ready => {
                this.stalled = None;
                ready
            }
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_follows_the_descriptor_limit() {
        assert_eq!(ConnectionLimits::cap_for_nofile(Some(256)), 128);
        assert_eq!(ConnectionLimits::cap_for_nofile(Some(1024)), 512);
        assert_eq!(ConnectionLimits::cap_for_nofile(Some(20)), 16);
        assert_eq!(ConnectionLimits::cap_for_nofile(Some(1 << 20)), MAX_CONNECTIONS_CEILING);
        assert_eq!(ConnectionLimits::cap_for_nofile(None), MAX_CONNECTIONS_CEILING);
    }

    #[tokio::test]
    async fn make_room_evicts_the_oldest_idle_connection_only() {
        let registry = Arc::new(Registry::new(2));
        let busy = registry.register();
        let _busy_guard = Busy::new(Arc::clone(&busy.state));
        let idle = registry.register();
        let idle_state = Arc::clone(&idle.state);
        let waiter = {
            let registry = Arc::clone(&registry);
            tokio::spawn(async move { registry.make_room().await })
        };
        // The idle one (not the older busy one) is told to go ...
        tokio::time::timeout(Duration::from_secs(5), idle_state.evict.notified())
            .await
            .expect("the idle connection was not evicted");
        assert!(idle_state.evicted.load(Ordering::Acquire));
        assert!(!busy.state.evicted.load(Ordering::Acquire));
        // ... and room is made once it is gone.
        drop(idle);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("make_room did not return")
            .expect("task");
    }
}
