//! One SSH connection: authentication and channel requests (russh `Handler`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use roost_config::{CliService, Face, LoginError, LoginSource, Role};
use russh::server::{Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, ChannelOpenFailure, Disconnect, MethodKind, MethodSet};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use crate::session::{run_exec, run_shell, Io};

/// Session channels one connection may have open at once (OpenSSH multiplexing).
const MAX_CHANNELS: usize = 8;
/// Input chunks (one per SSH data packet) queued for a busy shell; more are dropped.
const INPUT_QUEUE: usize = 256;
/// Terminal width assumed until the client tells us.
const DEFAULT_WIDTH: u32 = 80;

/// What every connection of one server shares.
pub(crate) struct Shared {
    pub service: Arc<dyn CliService>,
    pub banner: Option<String>,
    pub max_auth_attempts: usize,
    pub login_grace_time: Duration,
    pub unauthenticated: Arc<PreAuthTable>,
}

/// Connections that have not logged in yet, in total and per source address.
pub(crate) struct PreAuthTable {
    max_total: usize,
    max_per_source: usize,
    counts: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One connection's place in the [`PreAuthTable`], given back when it logs in or ends.
pub(crate) struct PreAuthSlot {
    table: Arc<PreAuthTable>,
    source: IpAddr,
}

impl PreAuthTable {
    pub(crate) fn new(max_total: usize, max_per_source: usize) -> Arc<PreAuthTable> {
        Arc::new(PreAuthTable {
            max_total: max_total.max(1),
            max_per_source: max_per_source.max(1),
            counts: Mutex::new((0, HashMap::new())),
        })
    }

    /// A slot for a new connection from `source`, or `None` if a cap is reached.
    pub(crate) fn try_acquire(self: &Arc<Self>, source: IpAddr) -> Option<PreAuthSlot> {
        let mut guard = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per) = &mut *guard;
        let n = per.get(&source).copied().unwrap_or(0);
        if *total >= self.max_total || n >= self.max_per_source {
            return None;
        }
        *total += 1;
        per.insert(source, n + 1);
        Some(PreAuthSlot {
            table: self.clone(),
            source,
        })
    }
}

impl Drop for PreAuthSlot {
    fn drop(&mut self) {
        let mut guard = self.table.counts.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per) = &mut *guard;
        *total = total.saturating_sub(1);
        if let Some(n) = per.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                per.remove(&self.source);
            }
        }
    }
}

/// Drives one TCP connection until it ends, the login grace time runs out before a login, or
/// the server stops.
pub(crate) async fn run_connection(
    config: Arc<russh::server::Config>,
    socket: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    slot: PreAuthSlot,
    mut stop: watch::Receiver<bool>,
) {
    let authenticated = Arc::new(AtomicBool::new(false));
    let grace_time = shared.login_grace_time;
    let handler = Connection {
        shared,
        peer,
        authenticated: authenticated.clone(),
        pre_auth: Some(slot),
        user: None,
        failures: 0,
        channels: HashMap::new(),
    };
    tracing::debug!(%peer, "SSH connection");
    let grace = tokio::time::sleep(grace_time);
    tokio::pin!(grace);
    let setup = tokio::select! {
        setup = russh::server::run_stream(config, socket, handler) => setup,
        _ = &mut grace => {
            tracing::debug!(%peer, "SSH client sent no identification in time");
            return;
        }
        _ = stop.wait_for(|stop| *stop) => return,
    };
    let running = match setup {
        Ok(running) => running,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "SSH handshake failed");
            return;
        }
    };
    let handle = running.handle();
    tokio::pin!(running);
    // The grace timer is looked at when it fires, not when the select starts: a connection
    // that logged in meanwhile is left alone from then on.
    let mut grace_over = false;
    let reason = loop {
        tokio::select! {
            result = &mut running => {
                match result {
                    Ok(()) => tracing::debug!(%peer, "SSH connection closed"),
                    Err(e) => tracing::debug!(%peer, error = %e, "SSH connection ended"),
                }
                return;
            }
            _ = &mut grace, if !grace_over => {
                if !authenticated.load(Ordering::SeqCst) {
                    break "login grace time exceeded";
                }
                grace_over = true;
            }
            _ = stop.wait_for(|stop| *stop) => break "server shutting down",
        }
    };
    tracing::debug!(%peer, reason, "disconnecting SSH client");
    let _ = handle
        .disconnect(Disconnect::ByApplication, reason.into(), "en".into())
        .await;
    let _ = tokio::time::timeout(Duration::from_secs(2), running).await;
}

struct ChannelEntry {
    pty: bool,
    started: bool,
    /// Shell input; dropped on the client's EOF.
    input: Option<mpsc::Sender<Vec<u8>>>,
    width: watch::Sender<u32>,
    /// Dropped (with the entry) when the channel closes or the connection ends.
    _alive: watch::Sender<()>,
    closed: watch::Receiver<()>,
}

pub(crate) struct Connection {
    shared: Arc<Shared>,
    peer: SocketAddr,
    authenticated: Arc<AtomicBool>,
    /// Held until the login: counts this connection against the caps on connections that have
    /// not logged in.
    pre_auth: Option<PreAuthSlot>,
    user: Option<(String, Role)>,
    failures: usize,
    channels: HashMap<ChannelId, ChannelEntry>,
}

/// `ssh-ed25519 AAAA…`: algorithm and base64 blob, without the comment.
pub(crate) fn openssh_key_string(key: &russh::keys::PublicKey) -> Option<String> {
    let text = key.to_openssh().ok()?;
    let mut fields = text.split_whitespace();
    Some(format!("{} {}", fields.next()?, fields.next()?))
}

impl Connection {
    fn out_of_attempts(&self) -> bool {
        self.failures >= self.shared.max_auth_attempts
    }

    /// A failed attempt: after the last allowed one, tell the client nothing else will work.
    fn failed(&mut self, user: &str, method: &str) -> Auth {
        self.failures += 1;
        tracing::warn!(user, peer = %self.peer, method, attempt = self.failures, "SSH login failed");
        if self.out_of_attempts() {
            no_more_methods()
        } else {
            // Explicit methods: with `None` russh would drop "password" after one failure.
            Auth::Reject {
                proceed_with_methods: Some(MethodSet::from(
                    &[MethodKind::Password, MethodKind::PublicKey][..],
                )),
                partial_success: false,
            }
        }
    }

    fn succeeded(&mut self, user: &str, role: Role, method: &str) -> Auth {
        tracing::info!(user, peer = %self.peer, method, ?role, "SSH login");
        self.user = Some((user.to_string(), role));
        self.authenticated.store(true, Ordering::SeqCst);
        self.pre_auth = None;
        Auth::Accept
    }

    async fn check_key(&self, user: &str, key: &russh::keys::PublicKey) -> Option<Role> {
        let key = openssh_key_string(key)?;
        let service = self.shared.service.clone();
        let user = user.to_string();
        tokio::task::spawn_blocking(move || service.check_public_key(&user, &key))
            .await
            .ok()
            .flatten()
    }

    /// The channel's entry if it exists and has not started a shell/exec yet.
    fn startable(&mut self, channel: ChannelId) -> Option<&mut ChannelEntry> {
        self.channels.get_mut(&channel).filter(|e| !e.started)
    }

    fn io(&self, channel: ChannelId, entry: &ChannelEntry, session: &Session) -> Io {
        Io {
            handle: session.handle(),
            id: channel,
            pty: entry.pty,
            closed: entry.closed.clone(),
        }
    }
}

/// The answer once the attempts are used up. Every further request is rejected without
/// asking the service, and russh's own cap ends the connection. "password" is no longer
/// offered, so clients stop prompting (OpenSSH retries a password even when offered an empty
/// list); "publickey" stays listed only because an empty list confuses clients.
fn no_more_methods() -> Auth {
    Auth::Reject {
        proceed_with_methods: Some(MethodSet::from(&[MethodKind::PublicKey][..])),
        partial_success: false,
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn authentication_banner(&mut self) -> Result<Option<String>, Self::Error> {
        Ok(self.shared.banner.clone())
    }

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        if self.out_of_attempts() {
            return Ok(no_more_methods());
        }
        let source = LoginSource {
            face: Face::Ssh,
            addr: self.peer.ip(),
        };
        let checked = self
            .shared
            .service
            .check_password(user, password, source)
            .await;
        Ok(match checked {
            Ok(role) => self.succeeded(user, role, "password"),
            Err(e) => {
                if e != LoginError::Rejected {
                    tracing::info!(user, peer = %self.peer, reason = %e, "SSH password not checked");
                }
                self.failed(user, "password")
            }
        })
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        // A probe: an unknown key is not a failed attempt (clients try every key they have).
        if self.out_of_attempts() {
            return Ok(no_more_methods());
        }
        Ok(match self.check_key(user, offer.public_key).await {
            Some(_) => Auth::Accept,
            None => {
                tracing::debug!(user, peer = %self.peer, "SSH public key not accepted");
                Auth::reject()
            }
        })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        if self.out_of_attempts() {
            return Ok(no_more_methods());
        }
        Ok(match self.check_key(user, key.public_key).await {
            Some(role) => self.succeeded(user, role, "publickey"),
            None => self.failed(user, "publickey"),
        })
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.user.is_none() || self.channels.len() >= MAX_CHANNELS {
            reply.reject(ChannelOpenFailure::ResourceShortage).await;
            return Ok(());
        }
        let (alive, closed) = watch::channel(());
        let (width, _) = watch::channel(DEFAULT_WIDTH);
        self.channels.insert(
            channel.id(),
            ChannelEntry {
                pty: false,
                started: false,
                input: None,
                width,
                _alive: alive,
                closed,
            },
        );
        // We work with the handler callbacks and the session handle; the channel object's
        // own message queue is not used (russh ignores it once dropped).
        drop(channel);
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        match self.startable(channel) {
            Some(entry) => {
                tracing::debug!(term, col_width, "SSH pty request");
                entry.pty = true;
                if col_width > 0 {
                    entry.width.send_replace(col_width);
                }
                session.channel_success(channel)
            }
            None => session.channel_failure(channel),
        }
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(entry) = self.channels.get(&channel) {
            if col_width > 0 {
                entry.width.send_replace(col_width);
            }
        }
        session.channel_success(channel)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        _value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some((user, role)) = self.user.clone() else {
            return session.channel_failure(channel);
        };
        let Some(entry) = self.startable(channel) else {
            return session.channel_failure(channel);
        };
        entry.started = true;
        let (tx, rx) = mpsc::channel(INPUT_QUEUE);
        entry.input = Some(tx);
        let width = entry.width.subscribe();
        let entry = &self.channels[&channel];
        let io = self.io(channel, entry, session);
        tracing::debug!(user, peer = %self.peer, pty = io.pty, "SSH shell");
        session.channel_success(channel)?;
        tokio::spawn(run_shell(
            io,
            self.shared.service.clone(),
            user,
            role,
            rx,
            width,
        ));
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some((user, role)) = self.user.clone() else {
            return session.channel_failure(channel);
        };
        let Some(entry) = self.startable(channel) else {
            return session.channel_failure(channel);
        };
        entry.started = true;
        let entry = &self.channels[&channel];
        let io = self.io(channel, entry, session);
        let command = String::from_utf8_lossy(data).into_owned();
        // The command itself is not logged: it may carry a password.
        tracing::info!(
            user,
            peer = %self.peer,
            lines = command.lines().filter(|l| !l.trim().is_empty()).count(),
            "SSH exec"
        );
        session.channel_success(channel)?;
        tokio::spawn(run_exec(
            io,
            self.shared.service.clone(),
            user,
            role,
            command,
        ));
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        tracing::debug!(peer = %self.peer, name, "SSH subsystem refused");
        session.channel_failure(channel)
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _x11_auth_protocol: &str,
        _x11_auth_cookie: &str,
        _x11_screen_number: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn signal(
        &mut self,
        _channel: ChannelId,
        _signal: russh::Sig,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Exec channels ignore stdin; a shell gets it through a bounded queue so a flood
        // while a command runs cannot grow memory or stall the connection.
        if let Some(tx) = self.channels.get(&channel).and_then(|e| e.input.as_ref()) {
            if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(data.to_vec()) {
                tracing::debug!(peer = %self.peer, "SSH shell input queue full; input dropped");
            }
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(entry) = self.channels.get_mut(&channel) {
            entry.input = None;
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&channel);
        Ok(())
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        _channel: Channel<Msg>,
        host_to_connect: &str,
        port_to_connect: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        tracing::debug!(peer = %self.peer, host_to_connect, port_to_connect, "SSH port forwarding refused");
        reply
            .reject(ChannelOpenFailure::AdministrativelyProhibited)
            .await;
        Ok(())
    }
}
