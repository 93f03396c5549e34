//! Errors of the HTTP layer.
//!
//! [`ServerError`] is a startup error (the server options could not be built). [`AppError`] is
//! a request-time error: it turns into a terse response that never carries internals (no DSN,
//! no SQL, nothing the client sent), and attaches itself to the response so that one
//! middleware, [`log_app_errors`], logs it inside the request span (docs/HOUSE_STYLE.md B11).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The `WWW-Authenticate` challenge sent with every 401.
pub(crate) const AUTH_CHALLENGE: &str = r#"Basic realm="dameng_exporter""#;

/// A configuration problem found while building the server options.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// `enableBasicAuth = true` without a username.
    #[error("basic authentication is enabled but `basicAuthUsername` is empty")]
    EmptyUsername,
    /// `enableBasicAuth = true` without a password.
    #[error("basic authentication is enabled but `basicAuthPassword` is empty")]
    EmptyPassword,
    /// `basicAuthPassword` starts like a bcrypt hash but cannot be one. The hash itself is
    /// deliberately not part of the message.
    #[error("`basicAuthPassword` starts with `{prefix}` but is not a valid bcrypt hash: {reason}")]
    InvalidBcryptHash {
        /// The bcrypt prefix found (`$2a$`, `$2b$` or `$2y$`).
        prefix: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The `--web.config.file` is unreadable or invalid (the error names file and key).
    #[error(transparent)]
    WebConfig(#[from] super::web_config::WebConfigError),
}

/// A request that could not be answered normally.
///
/// The response body is a fixed short text per variant. Server-side variants
/// ([`AppError::Timeout`], [`AppError::Internal`]) are logged by a middleware inside the request span; client-side
/// ones are not (authentication failures are logged where the details are known).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// Missing, malformed or wrong credentials: 401 with a `WWW-Authenticate` challenge.
    #[error("unauthorized")]
    Unauthorized,
    /// Refused on purpose (a cross-site `POST /-/reload`): 403.
    #[error("forbidden")]
    Forbidden,
    /// No such route: 404.
    #[error("not found")]
    NotFound,
    /// The route exists but not for this method: 405.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The runtime is not built yet (`/-/ready`): 503.
    #[error("not ready")]
    NotReady,
    /// The request took longer than the configured request timeout: 503.
    #[error("request timed out")]
    Timeout,
    /// Anything else: 500. The source is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::NotReady | AppError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(&self) -> &'static str {
        match self {
            AppError::Unauthorized => "Unauthorized\n",
            AppError::Forbidden => "Forbidden\n",
            AppError::NotFound => "Not Found\n",
            AppError::MethodNotAllowed => "Method Not Allowed\n",
            AppError::NotReady => "Not Ready\n",
            AppError::Timeout => "Request Timeout\n",
            AppError::Internal(_) => "Internal Server Error\n",
        }
    }

    /// Whether [`log_app_errors`] should log this error.
    fn is_logged(&self) -> bool {
        matches!(self, AppError::Timeout | AppError::Internal(_))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), self.body()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        match self {
            AppError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(AUTH_CHALLENGE));
            }
            AppError::MethodNotAllowed => {
                headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            }
            _ => {}
        }
        if self.is_logged() {
            response.extensions_mut().insert(Arc::new(self));
        }
        response
    }
}

/// Middleware: logs the [`AppError`] attached to a response, inside the request span.
pub(crate) async fn log_app_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(error) = response.extensions().get::<Arc<AppError>>() {
        match error.as_ref() {
            AppError::Timeout => {
                tracing::warn!("Request exceeded the request timeout.");
            }
            AppError::Internal(source) => {
                tracing::error!(error = %source, "Request failed.");
            }
            _ => {}
        }
    }
    response
}

/// Answer to a handler that panicked: the panic message is logged (ERROR, inside the request
/// span, so in the log file), the client gets a fixed 500.
pub(crate) fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = %message, "Request handler panicked; answered 500.");
    let mut response = AppError::Internal("handler panicked".into()).into_response();
    // Already logged above, with the message.
    response.extensions_mut().remove::<Arc<AppError>>();
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_error_body_does_not_leak_the_source() {
        let error = AppError::Internal("DSN=secret;PWD=hunter2".into());
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.extensions().get::<Arc<AppError>>().is_some());
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"Internal Server Error\n");
    }

    #[test]
    fn unauthorized_carries_the_challenge() {
        let response = AppError::Unauthorized.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE),
            Some(&HeaderValue::from_static(AUTH_CHALLENGE))
        );
        assert!(response.extensions().get::<Arc<AppError>>().is_none());
    }

    #[test]
    fn invalid_hash_message_names_the_key_not_the_hash() {
        let error = ServerError::InvalidBcryptHash { prefix: "$2a$", reason: "wrong length" };
        assert_eq!(
            error.to_string(),
            "`basicAuthPassword` starts with `$2a$` but is not a valid bcrypt hash: wrong length"
        );
    }
}
