//! `listenAddress` to a listening socket. The Go exporter's `:9200` means every interface,
//! IPv4 and IPv6: one IPv6 socket with `IPV6_V6ONLY` off accepts both (IPv4 peers appear as
//! `::ffff:a.b.c.d`); where IPv6 is unavailable (disabled in the kernel, no `::`), it falls
//! back to `0.0.0.0`. Any other form (`127.0.0.1:9200`, `[::1]:9200`, `host:9200`) is bound
//! as written.

use std::io;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::TcpListener;

/// Pending connections the kernel queues (tokio's default).
const BACKLOG: i32 = 1024;

/// The listen address cannot be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {address} (listenAddress)")]
pub struct ListenError {
    /// The address as configured.
    pub address: String,
    /// The cause.
    #[source]
    pub source: io::Error,
}

/// Binds `listen_address` (see the module docs).
pub async fn bind(listen_address: &str) -> Result<TcpListener, ListenError> {
    let error = |source| ListenError { address: listen_address.to_owned(), source };
    let Some(port) = listen_address.strip_prefix(':') else {
        return TcpListener::bind(listen_address).await.map_err(error);
    };
    let port: u16 = port.parse().map_err(|_| {
        error(io::Error::new(io::ErrorKind::InvalidInput, "the port must be a number 0-65535"))
    })?;
    match dual_stack(port) {
        Ok(listener) => Ok(listener),
        // Someone else has the port, or we may not use it: IPv4 alone would fail the same way.
        Err(e)
            if matches!(e.kind(), io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied) =>
        {
            Err(error(e))
        }
        Err(e) => {
            tracing::info!(error = %e, "IPv6 is unavailable; listening on IPv4 only (0.0.0.0).");
            TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))).await.map_err(error)
        }
    }
}

/// `[::]:port` with `IPV6_V6ONLY` off: IPv4 and IPv6 on one socket.
fn dual_stack(port: u16) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_only_v6(false)?;
    // As std and tokio do on Unix: a restart may rebind while old connections are in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&SockAddr::from(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)))?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bad_port_is_a_clear_error() {
        let e = bind(":http").await.unwrap_err();
        assert_eq!(e.to_string(), "cannot listen on :http (listenAddress)");
        assert_eq!(e.source.to_string(), "the port must be a number 0-65535");
    }

    #[tokio::test]
    async fn go_style_port_accepts_ipv4_and_ipv6() {
        let listener = bind(":0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let v4 = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
        assert!(v4.is_ok(), "IPv4: {v4:?}");
        // Where the machine has IPv6, the same socket answers on ::1.
        if std::net::TcpListener::bind("[::1]:0").is_ok() {
            assert!(listener.local_addr().unwrap().is_ipv6());
            let v6 = tokio::net::TcpStream::connect(("::1", port)).await;
            assert!(v6.is_ok(), "IPv6: {v6:?}");
        }
    }
}
