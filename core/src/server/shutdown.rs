//! The process shutdown signal.

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM. Pass it to [`super::serve`].
///
/// If a signal handler cannot be installed, that signal is logged and ignored; the other one
/// still works.
pub async fn shutdown_signal() {
    let interrupt = async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "SIGINT",
            Err(error) => {
                tracing::warn!(error = %error, "Cannot listen for Ctrl-C.");
                std::future::pending().await
            }
        }
    };

    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
                "SIGTERM"
            }
            Err(error) => {
                tracing::warn!(error = %error, "Cannot listen for SIGTERM.");
                std::future::pending().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<&'static str>();

    let signal = tokio::select! {
        name = interrupt => name,
        name = terminate => name,
    };
    tracing::info!(signal, "Shutting down.");
}
