//! roost-ssh: the SSH server in front of the WiNG-style CLI.
//!
//! This crate is a transport only. It authenticates users through
//! [`CliService::check_password`] (with the client's address, so the service can back off per
//! source) / [`CliService::check_public_key`] and moves lines between an SSH channel and a
//! [`CliSession`](roost_config::CliSession):
//!
//! * **exec** (`ssh admin@ctrl 'show cluster status'`): a privileged session runs each
//!   non-empty line of the command; the exit status is 1 if any line failed.
//! * **shell** with a pty (`ssh admin@ctrl`): a user-exec (`hostname>`) session behind a small
//!   line editor ([`editor::LineEditor`]) with `?` help, Tab completion and history.
//! * **shell** without a pty (`ssh -T`): lines are read from stdin without echo or editing.
//!
//! Subsystems (sftp), X11, agent and port forwarding are refused. Connections that have not
//! logged in are capped in total and per source address (excess ones are closed at once) and
//! cut after the login grace time; a session that logged in is not.
//!
//! ```no_run
//! # async fn f(service: std::sync::Arc<dyn roost_config::CliService>) -> Result<(), roost_ssh::SshError> {
//! let key = roost_ssh::load_or_create_host_key(std::path::Path::new("/var/lib/roost/ssh_host_ed25519_key"))?;
//! let listener = roost_ssh::bind("0.0.0.0:22".parse().unwrap()).await?;
//! roost_ssh::serve(listener, roost_ssh::SshServerConfig::new(key), service, std::future::pending()).await
//! # }
//! ```

pub mod editor;
mod handler;
mod session;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use roost_config::CliService;
use russh::keys::PrivateKey;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long an unauthenticated connection may take to log in (like sshd's `LoginGraceTime`).
pub const LOGIN_GRACE_TIME: Duration = Duration::from_secs(120);
/// Default cap on connections that have not logged in yet, in total.
pub const MAX_UNAUTHENTICATED: usize = 128;
/// Default cap on connections that have not logged in yet, per source address.
pub const MAX_UNAUTHENTICATED_PER_SOURCE: usize = 8;
/// Constant delay before a rejected authentication attempt is answered.
pub const AUTH_REJECTION_DELAY: Duration = Duration::from_millis(500);
/// How long [`serve`] waits for open connections to say goodbye after shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Errors of the SSH server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SshError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("host key {path}: {message}")]
    HostKey { path: String, message: String },
    #[error("SSH error: {0}")]
    Ssh(#[from] russh::Error),
}

/// Server settings.
#[derive(Clone, Debug)]
pub struct SshServerConfig {
    /// The host key (see [`load_or_create_host_key`]).
    pub host_key: PrivateKey,
    /// Pre-login banner shown by the client (OpenSSH prints it on stderr).
    pub banner: Option<String>,
    /// Disconnect a client after this long without any input from it. `None`: never (dead
    /// peers are still detected by keepalives).
    pub idle_timeout: Option<Duration>,
    /// Failed password (or public-key) logins allowed per connection; the client is told no
    /// further methods remain after the last one. 0 is treated as 1.
    pub max_auth_attempts: usize,
    /// How long a connection may take to log in (like sshd's `LoginGraceTime`); a session
    /// that logged in is never cut by it.
    pub login_grace_time: Duration,
    /// Connections that have not logged in yet, at most, in total and per source address
    /// (like sshd's `MaxStartups`). A connection over either cap is closed at once.
    pub max_unauthenticated: usize,
    pub max_unauthenticated_per_source: usize,
}

impl SshServerConfig {
    /// Defaults: no banner, no idle timeout, 3 authentication attempts, 120 s to log in, at most
    /// 128 connections not logged in (8 per source address).
    pub fn new(host_key: PrivateKey) -> SshServerConfig {
        SshServerConfig {
            host_key,
            banner: None,
            idle_timeout: None,
            max_auth_attempts: 3,
            login_grace_time: LOGIN_GRACE_TIME,
            max_unauthenticated: MAX_UNAUTHENTICATED,
            max_unauthenticated_per_source: MAX_UNAUTHENTICATED_PER_SOURCE,
        }
    }

    fn russh_config(&self) -> russh::server::Config {
        use russh::MethodKind;
        let max = self.max_auth_attempts.max(1);
        russh::server::Config {
            server_id: russh::SshId::Standard(
                concat!("SSH-2.0-Roost_", env!("CARGO_PKG_VERSION")).into(),
            ),
            methods: russh::MethodSet::from(&[MethodKind::Password, MethodKind::PublicKey][..]),
            auth_rejection_time: AUTH_REJECTION_DELAY,
            // OpenSSH's first "none" probe needs no penalty.
            auth_rejection_time_initial: Some(Duration::ZERO),
            keys: vec![self.host_key.clone()],
            // russh counts every rejected request (the "none" probe and unknown offered keys
            // too); our own counter enforces `max_auth_attempts` on real attempts, this is a
            // hard cap on top of it.
            max_auth_attempts: max + 6,
            inactivity_timeout: self.idle_timeout,
            keepalive_interval: Some(Duration::from_secs(30)),
            keepalive_max: 3,
            nodelay: true,
            ..Default::default()
        }
    }
}

/// Loads the ed25519 host key from `path` (OpenSSH private key format), creating it (mode
/// 0600, parent directories as needed) if the file does not exist. The same key is returned on
/// every start, so clients' `known_hosts` entries stay valid.
pub fn load_or_create_host_key(path: &Path) -> Result<PrivateKey, SshError> {
    let err = |message: String| SshError::HostKey {
        path: path.display().to_string(),
        message,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = PrivateKey::from_openssh(text.as_bytes()).map_err(|e| err(e.to_string()))?;
            if key.is_encrypted() {
                return Err(err("the key is passphrase-protected".into()));
            }
            tighten_permissions(path);
            tracing::debug!(path = %path.display(), fingerprint = %key.public_key().fingerprint(Default::default()), "loaded SSH host key");
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = generate_ed25519();
            let text = key
                .to_openssh(russh::keys::ssh_key::LineEnding::LF)
                .map_err(|e| err(e.to_string()))?;
            write_private_file(path, text.as_bytes()).map_err(|e| err(e.to_string()))?;
            tracing::info!(path = %path.display(), fingerprint = %key.public_key().fingerprint(Default::default()), "created SSH host key");
            Ok(key)
        }
        Err(e) => Err(err(e.to_string())),
    }
}

fn generate_ed25519() -> PrivateKey {
    use rand::RngCore;
    use russh::keys::ssh_key::private::Ed25519Keypair;
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    seed.fill(0);
    key
}

/// Writes the key through the data dir's one crash-safe writer (mode 0600), creating the
/// parent directories first.
fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    roost_store::fs::write_private(path, bytes)
}

fn tighten_permissions(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "SSH host key was readable by others; setting mode 0600");
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Binds the listening socket (use port 0 for an ephemeral port; `local_addr()` tells which).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, SshError> {
    Ok(TcpListener::bind(addr).await?)
}

/// Serves SSH on `listener` until `shutdown` completes, then disconnects every client (giving
/// them a few seconds) and returns.
pub async fn serve(
    listener: TcpListener,
    cfg: SshServerConfig,
    service: Arc<dyn CliService>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SshError> {
    let russh_config = Arc::new(cfg.russh_config());
    let shared = Arc::new(handler::Shared {
        service,
        banner: cfg.banner.clone(),
        max_auth_attempts: cfg.max_auth_attempts.max(1),
        login_grace_time: cfg.login_grace_time,
        unauthenticated: handler::PreAuthTable::new(
            cfg.max_unauthenticated,
            cfg.max_unauthenticated_per_source,
        ),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    tracing::info!(addr = ?listener.local_addr().ok(), "SSH server listening");

    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    // Over the cap of connections not logged in: closed at once, before any
                    // SSH work (the socket is dropped here).
                    let Some(slot) = shared.unauthenticated.try_acquire(peer.ip()) else {
                        tracing::debug!(%peer, "too many SSH connections not logged in; closed");
                        continue;
                    };
                    let _ = socket.set_nodelay(true);
                    connections.spawn(handler::run_connection(
                        russh_config.clone(),
                        socket,
                        peer,
                        shared.clone(),
                        slot,
                        stop_rx.clone(),
                    ));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning or giving up.
                    tracing::warn!(error = %e, "SSH accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = done {
                    if e.is_panic() {
                        tracing::error!(error = %e, "SSH connection task panicked");
                    }
                }
            }
        }
    }

    drop(listener);
    tracing::info!(connections = connections.len(), "SSH server shutting down");
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.shutdown().await;
    }
    Ok(())
}
