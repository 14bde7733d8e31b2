//! roost-api: the HTTPS + JSON management API, its TLS identity, and the `roost cli` client.
//!
//! The API is one of three faces of the single command/config engine (with the SSH CLI and
//! `roost cli`): it implements no command itself. `POST /api/v1/exec` and the interactive
//! `/api/v1/sessions` resources feed lines to a [`roost_config::CliSession`] opened through the
//! backend's [`roost_config::CliService`]; the read-only resources return the same view structs
//! the `show` commands render.
//!
//! * [`tls`]: the self-signed identity shared with the join-cluster TLS server, and the
//!   trust-on-first-use client verifier.
//! * [`serve`] / [`bind`]: the server (axum over rustls). See [`server`] for the routes.
//! * [`client`]: [`client::ApiClient`] and [`client::run_cli`] (`roost cli`).
//! * [`metrics`]: `GET /metrics`, Prometheus text rendered from a plain [`metrics::MetricsInput`].
//! * [`types`]: request/response bodies; [`ApiDoc`]: the OpenAPI document.

pub mod client;
pub mod known;
pub mod metrics;
pub mod server;
mod sessions;
pub mod tls;
pub mod types;

pub use server::{bind, router, serve, serve_with_options, ApiDoc, ServeOptions, ROUTES};
pub use tls::{load_or_create_identity, TlsIdentity};

use roost_config::MemberSnapshot;
use std::sync::Arc;

/// What the API needs from the controller beyond the CLI service: the member's published
/// state, which every JSON resource renders (cheap: a shared pointer, never waits on the
/// member task), and the numbers `GET /metrics` shows (rendered from the same snapshot plus
/// the controller's counters).
pub trait ApiBackend: roost_config::CliService {
    fn snapshot(&self) -> Arc<MemberSnapshot>;
    fn metrics(&self) -> metrics::MetricsInput;
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("HTTP: {0}")]
    Http(String),
    /// The server answered with an error status and body `{"error": ...}`.
    #[error("{status}: {message}")]
    Status { status: u16, message: String },
}
