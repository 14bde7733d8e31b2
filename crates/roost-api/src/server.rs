//! The HTTPS server.
//!
//! Routes (all JSON but `/metrics`, HTTP Basic auth on everything but the OpenAPI document):
//!
//! | method | path | body → response |
//! |---|---|---|
//! | GET | `/api/v1/openapi.json` | OpenAPI 3 document (no auth) |
//! | GET | `/api/v1/cluster/status` | `ClusterStatus` |
//! | GET | `/api/v1/cluster/members` | `[MemberRow]` |
//! | GET | `/api/v1/cluster/history` | `[HistoryRow]` |
//! | GET | `/api/v1/cluster/revisions` | `RevisionsView` |
//! | GET | `/api/v1/aps` | `[ApRow]` (`show wireless ap`) |
//! | GET | `/api/v1/licenses` | `LicensesView` (`show licenses`) |
//! | GET | `/api/v1/config/running` | `{"text"}` (or `text/plain` with `Accept: text/plain`) |
//! | POST | `/api/v1/exec` | [`ExecRequest`] → [`ExecResponse`] |
//! | POST | `/api/v1/sessions` | [`OpenSessionRequest`] → [`OpenSessionResponse`] |
//! | POST | `/api/v1/sessions/{id}/exec` | [`SessionExecRequest`] → [`SessionExecResponse`] |
//! | POST | `/api/v1/sessions/{id}/help` | [`PartialRequest`] → [`HelpResponse`] |
//! | POST | `/api/v1/sessions/{id}/complete` | [`PartialRequest`] → [`CompleteResponse`] |
//! | DELETE | `/api/v1/sessions/{id}` | 204 |
//! | GET | `/metrics` | Prometheus text (see [`crate::metrics`]) |
//!
//! Errors are `{"error": "..."}` with 400 (bad body), 401 (credentials), 404 (unknown resource
//! or session, including another user's session), 405, 413 (body over 1 MiB), 415 (a POST
//! whose `Content-Type` is not `application/json`), 429 (too many sessions in total, for the
//! user or from the source address; or failed logins from this address back off, with
//! `Retry-After`), 503 (every password-check slot is busy, with `Retry-After`), 500 (engine
//! failure).
//!
//! Browsers: a 401 carries `WWW-Authenticate: Roost-Basic realm="roost"`, a scheme no browser
//! acts on, so a browser never prompts for or caches credentials for the API; clients send
//! `Authorization: Basic …` preemptively (curl `-u`, reqwest `basic_auth`). Together with the
//! `application/json` requirement (a cross-site HTML form can send only form or `text/plain`
//! bodies; JSON needs a CORS preflight, which this API never grants) a cross-site page cannot
//! run commands.

use crate::sessions::{async_sink, ApiSession, AsyncBuf, Sessions, TooMany};
use crate::tls::TlsIdentity;
use crate::types::*;
use crate::{ApiBackend, ApiError};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine;
use roost_config::{Face, LoginError, LoginSource, Role};
use serde::de::DeserializeOwned;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use utoipa::OpenApi;

/// Every route, as `(method, path)` in OpenAPI spelling. The OpenAPI document lists exactly
/// these (checked by a test).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/cluster/status"),
    ("get", "/api/v1/cluster/members"),
    ("get", "/api/v1/cluster/history"),
    ("get", "/api/v1/cluster/revisions"),
    ("get", "/api/v1/aps"),
    ("get", "/api/v1/licenses"),
    ("get", "/api/v1/config/running"),
    ("post", "/api/v1/exec"),
    ("post", "/api/v1/sessions"),
    ("post", "/api/v1/sessions/{id}/exec"),
    ("post", "/api/v1/sessions/{id}/help"),
    ("post", "/api/v1/sessions/{id}/complete"),
    ("delete", "/api/v1/sessions/{id}"),
    ("get", "/metrics"),
];

/// Largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;

/// Tunables of [`serve_with_options`].
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Interactive sessions idle this long are closed (default 15 min).
    pub session_idle_timeout: Duration,
    /// Most interactive sessions open at once (default 64; more → 429).
    pub max_sessions: usize,
    /// Most interactive sessions one user may have open (default 16; more → 429).
    pub max_sessions_per_user: usize,
    /// Most interactive sessions opened from one source address (default 16; more → 429).
    pub max_sessions_per_source: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            session_idle_timeout: Duration::from_secs(15 * 60),
            max_sessions: 64,
            max_sessions_per_user: 16,
            max_sessions_per_source: 16,
        }
    }
}

/// Binds the API's TCP listener (port 0 picks a free port; see `local_addr`).
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ApiError> {
    Ok(tokio::net::TcpListener::bind(addr).await?)
}

/// Serves the API over HTTPS on `listener` until `shutdown` resolves (then finishes in-flight
/// requests for up to 5 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    identity: &TlsIdentity,
    backend: Arc<dyn ApiBackend>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ApiError> {
    serve_with_options(
        listener,
        identity,
        backend,
        ServeOptions::default(),
        shutdown,
    )
    .await
}

/// [`serve`] with explicit [`ServeOptions`].
pub async fn serve_with_options(
    listener: tokio::net::TcpListener,
    identity: &TlsIdentity,
    backend: Arc<dyn ApiBackend>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ApiError> {
    let mut tls = (*identity.server_config()).clone();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(
        axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls)),
    );
    let (app, sessions) = router_with_sessions(backend, &options);
    let sweeper = tokio::spawn({
        let sessions = sessions.clone();
        let period = (options.session_idle_timeout / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(30));
        async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                drop_off_runtime(sessions.sweep());
            }
        }
    });
    let handle = axum_server::Handle::new();
    let server = axum_server::Server::<SocketAddr>::from_listener(listener)
        .acceptor(acceptor)
        .handle(handle.clone())
        .serve(app.into_make_service_with_connect_info::<SocketAddr>());
    tokio::pin!(server);
    let result = tokio::select! {
        r = &mut server => r,
        _ = shutdown => {
            handle.graceful_shutdown(Some(Duration::from_secs(5)));
            server.await
        }
    };
    sweeper.abort();
    drop_off_runtime(sessions.remove_all());
    result.map_err(ApiError::Io)
}

/// Dropping an engine session may block (it may switch debug output off): do it on a blocking
/// thread.
fn drop_off_runtime(sessions: Vec<Arc<ApiSession>>) {
    if !sessions.is_empty() {
        tokio::task::spawn_blocking(move || drop(sessions));
    }
}

#[derive(Clone)]
struct AppState {
    backend: Arc<dyn ApiBackend>,
    sessions: Arc<Sessions>,
}

/// The authenticated caller.
#[derive(Clone, Debug)]
struct Caller {
    user: String,
    role: Role,
    source: std::net::IpAddr,
}

/// The axum router (without TLS), e.g. to mount elsewhere or test in-process.
pub fn router(backend: Arc<dyn ApiBackend>, options: &ServeOptions) -> Router {
    router_with_sessions(backend, options).0
}

fn router_with_sessions(
    backend: Arc<dyn ApiBackend>,
    options: &ServeOptions,
) -> (Router, Arc<Sessions>) {
    let sessions = Arc::new(Sessions::new(
        options.session_idle_timeout,
        options.max_sessions,
        options.max_sessions_per_user,
        options.max_sessions_per_source,
    ));
    let state = AppState {
        backend,
        sessions: sessions.clone(),
    };
    let protected = Router::new()
        .route("/api/v1/cluster/status", get(cluster_status))
        .route("/api/v1/cluster/members", get(cluster_members))
        .route("/api/v1/cluster/history", get(cluster_history))
        .route("/api/v1/cluster/revisions", get(cluster_revisions))
        .route("/api/v1/aps", get(aps))
        .route("/api/v1/licenses", get(licenses))
        .route("/api/v1/config/running", get(running_config))
        .route("/api/v1/exec", post(exec))
        .route("/api/v1/sessions", post(open_session))
        .route(
            "/api/v1/sessions/{id}",
            axum::routing::delete(close_session),
        )
        .route("/api/v1/sessions/{id}/exec", post(session_exec))
        .route("/api/v1/sessions/{id}/help", post(session_help))
        .route("/api/v1/sessions/{id}/complete", post(session_complete))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    let app = Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .merge(protected)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::map_response(no_store))
        .with_state(state);
    (app, sessions)
}

// ---------------------------------------------------------------------------------------------
// Errors, body extraction, auth

/// An error response: status + `{"error": message}`.
#[derive(Debug)]
struct Failure(StatusCode, String);

/// The 401 challenge: not `Basic`, so a browser neither prompts nor replays cached
/// credentials (see the module doc).
pub const WWW_AUTHENTICATE: &str = "Roost-Basic realm=\"roost\", charset=\"UTF-8\"";

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut resp = (self.0, Json(ErrorBody { error: self.1 })).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(WWW_AUTHENTICATE),
            );
        }
        resp
    }
}

/// A refused login: 401, or 429/503 with `Retry-After` when nothing was checked.
fn login_failure(e: LoginError) -> Response {
    let (status, retry) = match &e {
        LoginError::Rejected => (StatusCode::UNAUTHORIZED, None),
        LoginError::Backoff {
            retry_after_secs, ..
        } => (StatusCode::TOO_MANY_REQUESTS, Some(*retry_after_secs)),
        LoginError::Busy => (StatusCode::SERVICE_UNAVAILABLE, Some(1)),
        // A refusal added later: refused, nothing to retry after.
        _ => (StatusCode::UNAUTHORIZED, None),
    };
    let mut resp = Failure(status, e.to_string()).into_response();
    if let Some(secs) = retry {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
    resp
}

type HResult<T> = std::result::Result<T, Failure>;

/// Runs a (possibly blocking) backend call on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> HResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!("API backend call failed: {e}");
        Failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error in the command engine".into(),
        )
    })
}

/// A JSON body. `Content-Type` must be `application/json` (415 otherwise, even for an empty
/// body: a cross-site form cannot send that type), an empty body counts as `{}`, and errors are
/// `400 {"error": "invalid JSON body: …"}`.
struct Body<T>(T);

/// Whether a `Content-Type` value is `application/json` (parameters such as `charset` allowed).
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Failure;
    async fn from_request(req: Request, state: &S) -> HResult<Self> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(Failure(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let status = e.status();
            let msg = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!("request body larger than {MAX_BODY} bytes")
            } else {
                format!("cannot read request body: {e}")
            };
            Failure(status, msg)
        })?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(text)
            .map(Body)
            .map_err(|e| Failure(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The client's address (the router served without connect info, e.g. in-process: unspecified).
fn client_addr(req: &Request) -> std::net::IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

async fn authenticate(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let source = client_addr(&req);
    let Some((user, password)) = basic_credentials(req.headers()) else {
        return Failure(
            StatusCode::UNAUTHORIZED,
            "authentication required (HTTP Basic)".into(),
        )
        .into_response();
    };
    let login = LoginSource {
        face: Face::Api,
        addr: source,
    };
    match st.backend.check_password(&user, &password, login).await {
        Ok(role) => {
            req.extensions_mut().insert(Caller { user, role, source });
            next.run(req).await
        }
        Err(e) => {
            tracing::warn!(user = %user, %source, face = "API", reason = %e, "API login failed");
            login_failure(e)
        }
    }
}

async fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn not_found() -> Failure {
    Failure(
        StatusCode::NOT_FOUND,
        "no such resource (see /api/v1/openapi.json)".into(),
    )
}

async fn method_not_allowed() -> Failure {
    Failure(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this resource".into(),
    )
}

fn no_session() -> Failure {
    Failure(
        StatusCode::NOT_FOUND,
        "no such session (closed, expired, or not yours)".into(),
    )
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// The OpenAPI 3 document of this API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roost management API",
        description = "HTTPS + JSON face of the Roost controller's command engine. HTTP Basic \
                       authentication with the cluster's management users, sent preemptively \
                       (a 401 challenges with `WWW-Authenticate: Roost-Basic`, which browsers \
                       do not act on); `monitor` users may read everything and run read-only \
                       commands. Request bodies must be `Content-Type: application/json` (415 \
                       otherwise). Failed logins back off per source address (429 with \
                       `Retry-After`); 503 when every password-check slot is busy."
    ),
    paths(
        openapi,
        cluster_status,
        cluster_members,
        cluster_history,
        cluster_revisions,
        aps,
        licenses,
        running_config,
        exec,
        open_session,
        session_exec,
        session_help,
        session_complete,
        close_session,
        metrics
    ),
    components(schemas(
        ErrorBody,
        ExecRequest,
        ExecResponse,
        CommandOutput,
        OpenSessionRequest,
        OpenSessionResponse,
        SessionExecRequest,
        SessionExecResponse,
        PartialRequest,
        HelpResponse,
        CompleteResponse,
        RunningConfig,
        views::ClusterStatus,
        views::MemberRow,
        views::ApRow,
        views::MemberLicenses,
        views::LicensesView,
        views::HistoryRow,
        views::RevisionsView,
        views::Revision,
        views::RevisionId,
        views::SupersededConfig
    )),
    modifiers(&BasicAuth),
    security(("basic" = [])),
    tags((name = "cluster", description = "Cluster state"),
         (name = "wireless", description = "Access points"),
         (name = "config", description = "Configuration"),
         (name = "cli", description = "Command execution through the CLI engine"),
         (name = "metrics", description = "Prometheus metrics"))
)]
pub struct ApiDoc;

struct BasicAuth;

impl utoipa::Modify for BasicAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "config", security(()),
    responses((status = 200, description = "This document", content_type = "application/json")))]
async fn openapi() -> Response {
    static DOC: OnceLock<String> = OnceLock::new();
    let doc = DOC.get_or_init(|| ApiDoc::openapi().to_pretty_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], doc.clone()).into_response()
}

#[utoipa::path(get, path = "/api/v1/cluster/status", tag = "cluster",
    responses((status = 200, body = views::ClusterStatus, description = "`show cluster status`"),
              (status = 401, body = ErrorBody, description = "Bad credentials (challenge `Roost-Basic`, which browsers ignore)"),
              (status = 429, body = ErrorBody, description = "Failed logins from this address back off (`Retry-After`)"),
              (status = 503, body = ErrorBody, description = "Every password-check slot is busy (`Retry-After`)")))]
async fn cluster_status(State(st): State<AppState>) -> HResult<Response> {
    Ok(Json(&st.backend.snapshot().status).into_response())
}

#[utoipa::path(get, path = "/api/v1/cluster/members", tag = "cluster",
    responses((status = 200, body = Vec<views::MemberRow>, description = "`show cluster members`"),
              (status = 401, body = ErrorBody, description = "Bad credentials (challenge `Roost-Basic`, which browsers ignore)"),
              (status = 429, body = ErrorBody, description = "Failed logins from this address back off (`Retry-After`)"),
              (status = 503, body = ErrorBody, description = "Every password-check slot is busy (`Retry-After`)")))]
async fn cluster_members(State(st): State<AppState>) -> HResult<Response> {
    Ok(Json(&st.backend.snapshot().members).into_response())
}

#[utoipa::path(get, path = "/api/v1/aps", tag = "wireless",
    responses((status = 200, body = Vec<views::ApRow>, description = "`show wireless ap`: the APs this controller adopted (and those it refused recently)"),
              (status = 401, body = ErrorBody, description = "Bad credentials (challenge `Roost-Basic`, which browsers ignore)"),
              (status = 429, body = ErrorBody, description = "Failed logins from this address back off (`Retry-After`)"),
              (status = 503, body = ErrorBody, description = "Every password-check slot is busy (`Retry-After`)")))]
async fn aps(State(st): State<AppState>) -> HResult<Response> {
    Ok(Json(&st.backend.snapshot().aps.rows).into_response())
}

#[utoipa::path(get, path = "/api/v1/licenses", tag = "wireless",
    responses((status = 200, body = views::LicensesView, description = "`show licenses`: the pooled AP and AAP licenses, per member (lost members while their grace period runs)"),
              (status = 401, body = ErrorBody, description = "Bad credentials (challenge `Roost-Basic`, which browsers ignore)"),
              (status = 429, body = ErrorBody, description = "Failed logins from this address back off (`Retry-After`)"),
              (status = 503, body = ErrorBody, description = "Every password-check slot is busy (`Retry-After`)")))]
async fn licenses(State(st): State<AppState>) -> HResult<Response> {
    let view = roost_config::LicensesView::of(&st.backend.snapshot().licenses);
    Ok(Json(&view).into_response())
}

#[utoipa::path(get, path = "/api/v1/cluster/history", tag = "cluster",
    responses((status = 200, body = Vec<views::HistoryRow>, description = "`show cluster history`"),
              (status = 401, body = ErrorBody, description = "Bad credentials (challenge `Roost-Basic`, which browsers ignore)"),
              (status = 429, body = ErrorBody, description = "Failed logins from this address back off (`Retry-After`)"),
              (status = 503, body = ErrorBody, description = "Every password-check slot is busy (`Retry-After`)")))]
async fn cluster_history(State(st): State<AppState>) -> HResult<Response> {
    Ok(Json(&*st.backend.snapshot().history).into_response())
}

#[utoipa::path(get, path = "/api/v1/cluster/revisions", tag = "config",
    responses((status = 200, body = views::RevisionsView, description = "Configuration revisions"),
              (status = 401, body = ErrorBody, description = "Bad credentials (challenge `Roost-Basic`, which browsers ignore)"),
              (status = 429, body = ErrorBody, description = "Failed logins from this address back off (`Retry-After`)"),
              (status = 503, body = ErrorBody, description = "Every password-check slot is busy (`Retry-After`)")))]
async fn cluster_revisions(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> HResult<Response> {
    let revisions = st.backend.snapshot().revisions.clone();
    let monitor = caller.role == Role::Monitor;
    let view = blocking(move || {
        let view = (*revisions).clone().without_secrets();
        if monitor {
            view.without_credentials()
        } else {
            view
        }
    })
    .await?;
    Ok(Json(view).into_response())
}

fn wants_text(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("text/plain") && !accept.contains("application/json")
}

#[utoipa::path(get, path = "/api/v1/config/running", tag = "config",
    responses((status = 200, description = "`show running-config`; plain text with `Accept: text/plain`",
                content((RunningConfig = "application/json"), (String = "text/plain"))),
              (status = 401, body = ErrorBody, description = "Bad credentials (challenge `Roost-Basic`, which browsers ignore)"),
              (status = 429, body = ErrorBody, description = "Failed logins from this address back off (`Retry-After`)"),
              (status = 503, body = ErrorBody, description = "Every password-check slot is busy (`Retry-After`)")))]
async fn running_config(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> HResult<Response> {
    let running = st.backend.snapshot().running.clone();
    let monitor = caller.role == Role::Monitor;
    let text = blocking(move || {
        let text = roost_config::mask_config_secrets(&running.to_text());
        if monitor {
            // Monitors read the configuration, not its password hashes.
            roost_config::hide_credentials(&text)
        } else {
            text
        }
    })
    .await?;
    Ok(if wants_text(&headers) {
        ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
    } else {
        Json(RunningConfig { text }).into_response()
    })
}

#[utoipa::path(post, path = "/api/v1/exec", tag = "cli", request_body = ExecRequest,
    responses((status = 200, body = ExecResponse,
               description = "Lines ran in order in a fresh privileged session; per-line errors are in the body"),
              (status = 400, body = ErrorBody, description = "Malformed body"),
              (status = 415, body = ErrorBody, description = "Content-Type is not application/json"),
              (status = 401, body = ErrorBody, description = "Bad credentials (challenge `Roost-Basic`, which browsers ignore)"),
              (status = 429, body = ErrorBody, description = "Failed logins from this address back off (`Retry-After`)"),
              (status = 503, body = ErrorBody, description = "Every password-check slot is busy (`Retry-After`)")))]
async fn exec(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Body(req): Body<ExecRequest>,
) -> HResult<Json<ExecResponse>> {
    if let Some(i) = req.commands.iter().position(|c| c.contains(['\n', '\r'])) {
        return Err(Failure(
            StatusCode::BAD_REQUEST,
            format!("commands[{i}] contains a line break; send one line per entry"),
        ));
    }
    let b = st.backend.clone();
    let resp = blocking(move || {
        let buf = Arc::new(Mutex::new(AsyncBuf::default()));
        let mut session = b.open_session(&caller.user, caller.role, true, async_sink(&buf));
        let mut outputs = Vec::with_capacity(req.commands.len());
        let mut error = false;
        for command in req.commands {
            let prompt = session.prompt();
            let out = session.execute(&command);
            error |= out.error;
            outputs.push(CommandOutput {
                output: roost_config::exec_output(&prompt, &command, &out.text),
                command: roost_config::mask_passwords(&command),
                error: out.error,
            });
            if out.close || (out.error && req.stop_on_error) {
                break;
            }
        }
        drop(session);
        let async_lines = buf.lock().unwrap_or_else(|e| e.into_inner()).drain();
        ExecResponse {
            outputs,
            error,
            async_lines,
        }
    })
    .await?;
    Ok(Json(resp))
}

#[utoipa::path(post, path = "/api/v1/sessions", tag = "cli", request_body = OpenSessionRequest,
    responses((status = 200, body = OpenSessionResponse, description = "Session opened"),
              (status = 400, body = ErrorBody, description = "Malformed body"),
              (status = 415, body = ErrorBody, description = "Content-Type is not application/json"),
              (status = 401, body = ErrorBody, description = "Bad credentials (challenge `Roost-Basic`, which browsers ignore)"),
              (status = 429, body = ErrorBody, description = "Failed logins from this address back off (`Retry-After`)"),
              (status = 503, body = ErrorBody, description = "Every password-check slot is busy (`Retry-After`)"),
              (status = 429, body = ErrorBody, description = "Too many open sessions (in total, for the user, or from the address)")))]
async fn open_session(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Body(req): Body<OpenSessionRequest>,
) -> HResult<Json<OpenSessionResponse>> {
    drop_off_runtime(st.sessions.sweep());
    let too_many = |why: TooMany| Failure(StatusCode::TOO_MANY_REQUESTS, why.to_string());
    st.sessions
        .has_room(&caller.user, caller.source)
        .map_err(too_many)?;
    let b = st.backend.clone();
    let sessions = st.sessions.clone();
    let result = blocking(move || {
        let buf = Arc::new(Mutex::new(AsyncBuf::default()));
        let mut cli = b.open_session(&caller.user, caller.role, req.privileged, async_sink(&buf));
        let prompt = cli.prompt();
        let session = ApiSession::new(&caller.user, caller.role, caller.source, cli, buf);
        match sessions.insert(session) {
            Ok(id) => Ok(OpenSessionResponse { id, prompt }),
            Err((why, session)) => {
                drop(session);
                Err(why)
            }
        }
    })
    .await?;
    result.map(Json).map_err(too_many)
}

#[utoipa::path(post, path = "/api/v1/sessions/{id}/exec", tag = "cli", request_body = SessionExecRequest,
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = SessionExecResponse, description = "The line ran (its error, if any, is in the body)"),
              (status = 400, body = ErrorBody, description = "Malformed body"),
              (status = 415, body = ErrorBody, description = "Content-Type is not application/json"),
              (status = 401, body = ErrorBody, description = "Bad credentials (challenge `Roost-Basic`, which browsers ignore)"),
              (status = 429, body = ErrorBody, description = "Failed logins from this address back off (`Retry-After`)"),
              (status = 503, body = ErrorBody, description = "Every password-check slot is busy (`Retry-After`)"),
              (status = 404, body = ErrorBody, description = "No such session")))]
async fn session_exec(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Body(req): Body<SessionExecRequest>,
) -> HResult<Json<SessionExecResponse>> {
    if req.line.contains(['\n', '\r']) {
        return Err(Failure(
            StatusCode::BAD_REQUEST,
            "line contains a line break; send one line per request".into(),
        ));
    }
    let session = st
        .sessions
        .get(&id, &caller.user, caller.role)
        .ok_or_else(no_session)?;
    let s = session.clone();
    let resp = blocking(move || {
        let mut cli = s.lock_cli();
        let out = cli.execute(&req.line);
        let prompt = if out.close {
            String::new()
        } else {
            cli.prompt()
        };
        drop(cli);
        SessionExecResponse {
            output: out.text,
            error: out.error,
            close: out.close,
            prompt,
            async_lines: s.take_async(),
        }
    })
    .await?;
    session.touch();
    if resp.close {
        drop_off_runtime(
            st.sessions
                .remove(&id, &caller.user, caller.role)
                .into_iter()
                .collect(),
        );
    }
    Ok(Json(resp))
}

#[utoipa::path(post, path = "/api/v1/sessions/{id}/help", tag = "cli", request_body = PartialRequest,
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = HelpResponse, description = "`?` help for the partial line"),
              (status = 400, body = ErrorBody, description = "Malformed body"),
              (status = 415, body = ErrorBody, description = "Content-Type is not application/json"),
              (status = 401, body = ErrorBody, description = "Bad credentials (challenge `Roost-Basic`, which browsers ignore)"),
              (status = 429, body = ErrorBody, description = "Failed logins from this address back off (`Retry-After`)"),
              (status = 503, body = ErrorBody, description = "Every password-check slot is busy (`Retry-After`)"),
              (status = 404, body = ErrorBody, description = "No such session")))]
async fn session_help(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Body(req): Body<PartialRequest>,
) -> HResult<Json<HelpResponse>> {
    let session = st
        .sessions
        .get(&id, &caller.user, caller.role)
        .ok_or_else(no_session)?;
    let text = blocking(move || session.lock_cli().help(&req.partial)).await?;
    Ok(Json(HelpResponse { text }))
}

#[utoipa::path(post, path = "/api/v1/sessions/{id}/complete", tag = "cli", request_body = PartialRequest,
    params(("id" = String, Path, description = "Session id")),
    responses((status = 200, body = CompleteResponse, description = "Completed line, or the candidates"),
              (status = 400, body = ErrorBody, description = "Malformed body"),
              (status = 415, body = ErrorBody, description = "Content-Type is not application/json"),
              (status = 401, body = ErrorBody, description = "Bad credentials (challenge `Roost-Basic`, which browsers ignore)"),
              (status = 429, body = ErrorBody, description = "Failed logins from this address back off (`Retry-After`)"),
              (status = 503, body = ErrorBody, description = "Every password-check slot is busy (`Retry-After`)"),
              (status = 404, body = ErrorBody, description = "No such session")))]
async fn session_complete(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Body(req): Body<PartialRequest>,
) -> HResult<Json<CompleteResponse>> {
    let session = st
        .sessions
        .get(&id, &caller.user, caller.role)
        .ok_or_else(no_session)?;
    let c = blocking(move || session.lock_cli().complete(&req.partial)).await?;
    Ok(Json(c.into()))
}

#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "cli",
    params(("id" = String, Path, description = "Session id")),
    responses((status = 204, description = "Closed"),
              (status = 401, body = ErrorBody, description = "Bad credentials (challenge `Roost-Basic`, which browsers ignore)"),
              (status = 429, body = ErrorBody, description = "Failed logins from this address back off (`Retry-After`)"),
              (status = 503, body = ErrorBody, description = "Every password-check slot is busy (`Retry-After`)"),
              (status = 404, body = ErrorBody, description = "No such session")))]
async fn close_session(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> HResult<StatusCode> {
    let session = st
        .sessions
        .remove(&id, &caller.user, caller.role)
        .ok_or_else(no_session)?;
    drop_off_runtime(vec![session]);
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/metrics", tag = "metrics",
    responses((status = 200, description = "Prometheus metrics of this controller: OpenMetrics 1.0 text when `Accept` names `application/openmetrics-text` (as Prometheus does), else the text format 0.0.4. Any role may read them, `monitor` included",
                content((String = "text/plain; version=0.0.4; charset=utf-8"),
                        (String = "application/openmetrics-text; version=1.0.0; charset=utf-8"))),
              (status = 401, body = ErrorBody, description = "Bad credentials (challenge `Roost-Basic`, which browsers ignore)"),
              (status = 429, body = ErrorBody, description = "Failed logins from this address back off (`Retry-After`)"),
              (status = 503, body = ErrorBody, description = "Every password-check slot is busy (`Retry-After`)")))]
async fn metrics(State(st): State<AppState>, headers: HeaderMap) -> HResult<Response> {
    let format = crate::metrics::Format::from_accept(
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()),
    );
    let text = crate::metrics::render(&st.backend.metrics(), format);
    Ok(([(header::CONTENT_TYPE, format.content_type())], text).into_response())
}
