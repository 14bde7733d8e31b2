//! join-cluster (WiNG's "CS server (cluster join)"), over TLS on TCP 5349.
//!
//! The password is checked with OPAQUE ([`roost_wire::pake`], messages in
//! [`roost_wire::join`]): the joiner sends KE1, the primary answers KE2 from the user's
//! registration record, and only if KE2 proves the primary holds that record does the joiner
//! send KE3 and its [`JoinRequest`], sealed under the session key. The primary then checks the
//! request against the seed's troubleshooting list (version, model, MiNT level, cluster VLAN
//! links) and refuses with one clear line and no change, or commits the joiner's device section
//! and the `cluster member ip` links through the master and answers, sealed, with the cluster
//! key and the full configuration. After that the joiner talks to the cluster on UDP 24576 only.
//!
//! The primary's side is bounded: at most [`MAX_HANDSHAKES`] connections at once (others are
//! closed at once), small reads before authentication, no KSF (argon2 runs on the joiner), and
//! a per-source backoff after repeated failures ([`Backoff`]).

use crate::ops::Controller;
use crate::runtime::{software_version, MemberRuntime};
use crate::startup::ControllerOptions;
use roost_config::{ClusterConfig, JoinClusterRequest, Role};
use roost_wire::join::{
    decode_json, encode_json, JoinAccepted, JoinChallenge, JoinHello, JoinOutcome, JoinProof,
    JoinRequest, JoinResponse, MAX_JOIN_MESSAGE, MAX_PRE_AUTH_MESSAGE,
};
use roost_wire::pake::{self, PakeError, ServerKeys};
use roost_wire::{MintLevel, PROTOCOL_VERSION};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

const IO_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Join connections the primary serves at once; more are closed as soon as they are accepted.
pub const MAX_HANDSHAKES: usize = 4;

/// Per-source backoff after failed join authentications: from the [`FREE_FAILURES`]th
/// consecutive failure on, a source is refused for 0.5 s, doubling per failure up to 30 s; a
/// success clears it. At most [`BACKOFF_SOURCES`] sources are remembered (the stalest is
/// forgotten first), so memory stays bounded whatever the number of attackers.
pub struct Backoff {
    sources: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

const FREE_FAILURES: u32 = 3;
const BACKOFF_SOURCES: usize = 4096;
const BACKOFF_MAX: Duration = Duration::from_secs(30);

impl Backoff {
    pub fn new() -> Backoff {
        Backoff {
            sources: Mutex::new(HashMap::new()),
        }
    }
    fn delay(failures: u32) -> Duration {
        if failures < FREE_FAILURES {
            return Duration::ZERO;
        }
        let shift = (failures - FREE_FAILURES).min(10);
        (Duration::from_millis(500) * (1u32 << shift)).min(BACKOFF_MAX)
    }
    /// How long `ip` must still wait, if at all.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let m = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        let (n, last) = m.get(&ip)?;
        let until = *last + Self::delay(*n);
        (until > now).then(|| until - now)
    }
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut m = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        if !m.contains_key(&ip) && m.len() >= BACKOFF_SOURCES {
            if let Some(stalest) = m.iter().min_by_key(|(_, (_, t))| *t).map(|(k, _)| *k) {
                m.remove(&stalest);
            }
        }
        let e = m.entry(ip).or_insert((0, now));
        e.0 = e.0.saturating_add(1);
        e.1 = now;
    }
    pub fn succeeded(&self, ip: IpAddr) {
        self.sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ip);
    }
    #[cfg(test)]
    fn len(&self) -> usize {
        self.sources.lock().unwrap().len()
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    controller: Arc<Controller>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    let backoff = Arc::new(Backoff::new());
    let sd = crate::startup::wait_shutdown(shutdown);
    tokio::pin!(sd);
    loop {
        tokio::select! {
            _ = &mut sd => return,
            r = listener.accept() => {
                let (stream, peer) = match r { Ok(x) => x, Err(e) => { tracing::warn!("join accept: {e}"); continue; } };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    tracing::info!(%peer, "join-cluster connection refused: {MAX_HANDSHAKES} join handshakes already in progress");
                    controller.rt.counters.join(crate::counters::JoinResult::Refused);
                    drop(stream);
                    continue;
                };
                let acceptor = acceptor.clone();
                let controller = controller.clone();
                let backoff = backoff.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    controller.rt.debug(&format!("CS server (cluster join) connection from {}", peer.ip()));
                    let r = tokio::time::timeout(IO_TIMEOUT, async {
                        let mut tls = acceptor.accept(stream).await.map_err(|e| format!("TLS: {e}"))?;
                        serve_one(&controller, &backoff, &mut tls, peer).await?;
                        let _ = tls.shutdown().await;
                        Ok::<_, String>(())
                    }).await;
                    if !matches!(r, Ok(Ok(()))) {
                        controller.rt.counters.join(crate::counters::JoinResult::Error);
                    }
                    match r {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::info!(%peer, "join-cluster connection failed: {e}"),
                        Err(_) => {
                            backoff.failed(peer.ip(), Instant::now());
                            tracing::info!(%peer, "join-cluster connection timed out")
                        }
                    }
                });
            }
        }
    }
}

/// One join connection on the primary: OPAQUE, then the checks and the commit.
async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(
    c: &Controller,
    backoff: &Backoff,
    tls: &mut S,
    peer: SocketAddr,
) -> Result<(), String> {
    let refuse = |reason: String| {
        c.rt.counters.join(crate::counters::JoinResult::Refused);
        tracing::info!(%peer, "join-cluster refused: {reason}");
        c.rt.debug(&format!(
            "cluster join from host {} refused: {reason}",
            peer.ip()
        ));
        reason
    };
    let hello: JoinHello = read_msg(tls, MAX_PRE_AUTH_MESSAGE).await?;
    c.rt.debug(&format!("CS_Server - cluster join from host {}", peer.ip()));
    if let Some(wait) = backoff.blocked(peer.ip(), Instant::now()) {
        let reason = refuse(format!(
            "too many failed join attempts from {}: try again in {} s",
            peer.ip(),
            wait.as_secs() + 1
        ));
        return write_msg(tls, &JoinChallenge::Refused { reason }).await;
    }
    // 1. Version: a cluster only forms between identical releases.
    let ours = software_version();
    if hello.protocol_version != PROTOCOL_VERSION || hello.software_version != ours {
        let reason = refuse(format!(
            "software version mismatch: this controller runs Roost {ours} (protocol {PROTOCOL_VERSION}), the joining controller runs Roost {} (protocol {})",
            hello.software_version, hello.protocol_version
        ));
        return write_msg(tls, &JoinChallenge::Refused { reason }).await;
    }
    // 2. Credentials, by OPAQUE: the record of a superuser of this cluster. An unknown user
    //    gets a fake challenge, so it looks like a wrong password.
    let key = match c.rt.store.cluster_key() {
        Ok(Some(k)) => k,
        _ => {
            let reason = refuse("this controller has no cluster key".to_string());
            return write_msg(tls, &JoinChallenge::Refused { reason }).await;
        }
    };
    let keys = ServerKeys::derive(&key);
    let config = c.rt.running();
    let (role, record) = match config.join_record(&hello.user) {
        Some((_, None)) => {
            let reason = refuse(format!(
                "user '{}' has no join-cluster credential (its password was given as a hash): set its password again on the cluster ('user {} password <password> role ...') and retry",
                hello.user, hello.user
            ));
            return write_msg(tls, &JoinChallenge::Refused { reason }).await;
        }
        Some((role, Some(rec))) => (Some(role), Some(rec.to_string())),
        None => (None, None),
    };
    let ke1 = hex::decode(&hello.ke1).map_err(|_| "malformed KE1".to_string())?;
    let (server, ke2) = match pake::server_start(&keys, &hello.user, record.as_deref(), &ke1) {
        Ok(x) => x,
        Err(e) => {
            let reason = refuse(format!("malformed join request: {e}"));
            return write_msg(tls, &JoinChallenge::Refused { reason }).await;
        }
    };
    write_msg(
        tls,
        &JoinChallenge::Challenge {
            ke2: hex::encode(ke2),
        },
    )
    .await?;
    // The joiner closes here if KE2 did not convince it (wrong password, or not this cluster).
    let proof: JoinProof = match read_msg(tls, MAX_PRE_AUTH_MESSAGE).await {
        Ok(p) => p,
        Err(e) => {
            backoff.failed(peer.ip(), Instant::now());
            c.rt.counters.login_failed(roost_config::Face::Join);
            refuse(format!(
                "authentication failed for user '{}' (the joiner gave up: {e})",
                hello.user
            ));
            return Ok(());
        }
    };
    let session = hex::decode(&proof.ke3)
        .map_err(|_| PakeError::Malformed("KE3"))
        .and_then(|ke3| server.finish(&ke3));
    let session = match (session, role) {
        (Ok(s), Some(role)) => {
            backoff.succeeded(peer.ip());
            (s, role)
        }
        _ => {
            backoff.failed(peer.ip(), Instant::now());
            c.rt.counters.login_failed(roost_config::Face::Join);
            let reason = refuse(format!("authentication failed for user '{}'", hello.user));
            return write_msg(tls, &JoinOutcome::Refused { reason }).await;
        }
    };
    let (keys, role) = session;
    let req: Result<JoinRequest, String> = hex::decode(&proof.sealed_request)
        .map_err(|_| PakeError::Sealed)
        .and_then(|b| keys.open_from_joiner(&b))
        .map_err(|e| e.to_string())
        .and_then(|b| decode_json(&b).map_err(|e| e.to_string()));
    let resp = match req {
        Err(e) => {
            let reason = refuse(format!("malformed join request: {e}"));
            return write_msg(tls, &JoinOutcome::Refused { reason }).await;
        }
        Ok(req) if req.user != hello.user => JoinResponse::Refused {
            reason: refuse("malformed join request: user names differ".to_string()),
        },
        Ok(_) if role == Role::Monitor => JoinResponse::Refused {
            reason: refuse(format!(
                "user '{}' is not allowed to join controllers (role monitor)",
                hello.user
            )),
        },
        Ok(req) => handle_join(c, req, peer, &refuse).await,
    };
    let sealed = keys.seal_to_joiner(&serde_json::to_vec(&resp).map_err(|e| e.to_string())?);
    write_msg(
        tls,
        &JoinOutcome::Sealed {
            sealed_response: hex::encode(sealed),
        },
    )
    .await
}

/// Reads one length-prefixed message of at most `max` bytes (refused before allocating).
async fn read_msg<T: for<'de> serde::Deserialize<'de>, S: AsyncRead + Unpin>(
    s: &mut S,
    max: usize,
) -> Result<T, String> {
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix)
        .await
        .map_err(|e| format!("read: {e}"))?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > max {
        return Err(format!("message of {len} bytes (at most {max} allowed)"));
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)
        .await
        .map_err(|e| format!("read: {e}"))?;
    decode_json(&body).map_err(|e| e.to_string())
}

async fn write_msg<T: serde::Serialize, S: AsyncWrite + Unpin>(
    s: &mut S,
    msg: &T,
) -> Result<(), String> {
    s.write_all(&encode_json(msg))
        .await
        .map_err(|e| format!("write: {e}"))?;
    s.flush().await.map_err(|e| format!("write: {e}"))
}

/// The primary's side once the joiner is authenticated: refuse, or commit the joiner in and
/// hand out key + config.
async fn handle_join(
    c: &Controller,
    req: JoinRequest,
    peer: SocketAddr,
    refuse: &(dyn Fn(String) -> String + Sync),
) -> JoinResponse {
    let refuse = |reason: String| JoinResponse::Refused {
        reason: refuse(reason),
    };
    let config = c.rt.running();
    // 3. Same model.
    if req.model != c.rt.model {
        return refuse(format!(
            "model mismatch: this controller is a {}, the joining controller is a {} (cluster members must be the same model)",
            c.rt.model, req.model
        ));
    }
    let ip: std::net::IpAddr = match req.ip.parse() {
        Ok(ip) => ip,
        Err(_) => return refuse(format!("invalid member address {:?}", req.ip)),
    };
    if ip == c.opts.ip {
        return refuse(format!(
            "the joining controller uses this controller's own address {ip}"
        ));
    }
    let me = config.device(c.rt.mac);
    // 4. Only cluster IP links (no `cluster member vlan`).
    if let Some(vlan) = config
        .devices()
        .iter()
        .flat_map(|d| d.member_vlans.clone())
        .next()
    {
        return refuse(format!(
            "cluster member vlan {vlan} is configured: cluster VLAN links are not supported, only cluster member ip links are allowed"
        ));
    }
    // 5. MiNT link level must match the level the cluster's links use.
    let levels: Vec<MintLevel> = config
        .devices()
        .iter()
        .flat_map(|d| d.member_ips.iter().map(|(_, l)| *l))
        .collect();
    if let Some(l) = levels.iter().find(|l| **l != req.level) {
        return refuse(format!(
            "MiNT link level mismatch: the cluster's member links use level {l}, join-cluster asked for level {}",
            req.level
        ));
    }
    // 6. Member ids must be unique.
    let joiner_id = req.mac.member_id();
    if let Some(d) = config
        .devices()
        .iter()
        .find(|d| d.mac != req.mac && d.mac.member_id() == joiner_id)
    {
        return refuse(format!(
            "member id {joiner_id} of {} is already used by {} ({})",
            req.mac, d.hostname, d.mac
        ));
    }
    if req.mac == c.rt.mac {
        return refuse("the joining controller has this controller's own MAC address".to_string());
    }
    let level = req.level.number();
    let my_section = format!(
        "{} {}\n cluster member ip {ip} level {level}\n",
        c.rt.model.prefix(),
        c.rt.mac
    );
    let cluster_name = me
        .as_ref()
        .map(|d| d.cluster_name.clone())
        .unwrap_or_default();
    // The joiner's own device section (interfaces, routes, other settings) comes along; the
    // cluster settings that join-cluster decides are set after it.
    let header = format!("{} {}", req.model.prefix(), req.mac);
    let own = match joiner_section(&req.device, &header) {
        Ok(t) => t,
        Err(e) => return refuse(e),
    };
    let mut joiner = format!("{own}{header}\n hostname {}\n", req.hostname);
    if !cluster_name.is_empty() {
        joiner.push_str(&format!(" cluster name {cluster_name}\n"));
    }
    joiner.push_str(&format!(
        " cluster mode {}\n cluster member ip {} level {level}\n",
        req.mode.to_string().to_lowercase(),
        c.opts.ip
    ));
    let change = format!("{my_section}{joiner}");
    c.rt.debug(&format!(
        "cluster join, cluster member ip of [{}] is NOT configured, create override",
        req.mac
    ));
    let rev = match c.rt.commit("join-cluster", &change).await {
        Ok(rev) => rev,
        Err(e) => return refuse(format!("the cluster could not commit the new member: {e}")),
    };
    // Wait until this member's running config holds the revision (the master may be another).
    c.rt.wait_applied(rev).await;
    let (config, head) =
        c.rt.query(|n, _| (n.replication.config().to_text(), n.replication.head()))
            .await
            .unwrap_or_default();
    let key = match c.rt.store.cluster_key() {
        Ok(Some(k)) => k,
        _ => return refuse("this controller has no cluster key".to_string()),
    };
    let _ = &peer;
    c.rt.debug("sending OK with config");
    c.rt.record(
        roost_wire::ClusterEvent::ConfigUpdateSuccess,
        "config sync succeeded",
    );
    c.rt.counters.join(crate::counters::JoinResult::Accepted);
    JoinResponse::Accepted(JoinAccepted {
        cluster_key_hex: key.to_hex(),
        primary: c.rt.member,
        cluster_name,
        config,
        head,
    })
}

/// Cluster settings of a device section that join-cluster itself decides: dropped from the
/// joiner's own section (the rest is kept).
const JOIN_DECIDES: &[&str] = &[" cluster name ", " cluster mode ", " cluster member "];

/// The joiner's device section change text, checked to hold only its own section (`header`),
/// without the cluster settings join-cluster decides.
fn joiner_section(text: &str, header: &str) -> Result<String, String> {
    let mut out = String::new();
    for l in text.lines() {
        if l.trim().is_empty() {
            continue;
        }
        if !l.starts_with(' ') && l != header {
            return Err(format!(
                "the joining controller's configuration has a section '{l}' that is not its own device section '{header}'"
            ));
        }
        if JOIN_DECIDES.iter().any(|p| format!("{l} ").starts_with(p)) {
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    Ok(out)
}

/// The joiner's side, run from a CLI session thread. Prints the seed's progress lines.
pub fn join_cluster(
    rt: &Arc<MemberRuntime>,
    opts: &ControllerOptions,
    handle: &tokio::runtime::Handle,
    req: JoinClusterRequest,
    progress: &mut dyn FnMut(&str),
) -> Result<(), String> {
    progress(&format!("... connecting to {}", req.primary));
    let running = rt.running();
    let me = running.device(rt.mac);
    let device = running
        .device_change(rt.mac)
        .map(|c| joiner_section(&c.to_text(), &format!("{} {}", rt.model.prefix(), rt.mac)))
        .transpose()?
        .unwrap_or_default();
    let request = JoinRequest {
        protocol_version: PROTOCOL_VERSION,
        software_version: software_version(),
        user: req.user.clone(),
        model: rt.model,
        mac: rt.mac,
        hostname: me
            .map(|d| d.hostname)
            .unwrap_or_else(|| rt.mac.default_hostname(rt.model)),
        ip: opts.ip.to_string(),
        level: req.level,
        mode: req.mode,
        device,
    };
    let addr = SocketAddr::new(req.primary, opts.join_port);
    if req.primary == opts.ip {
        return Err("cannot join this controller to itself".to_string());
    }
    let refused = |reason: String| format!("join-cluster refused by {}: {reason}", req.primary);
    let auth_failed = || refused(format!("authentication failed for user '{}'", req.user));
    let response: JoinResponse = handle.block_on(async {
        // From this controller's own address, as every other controller traffic: firewall
        // rules between controllers name their addresses, not whatever the kernel would pick.
        let socket = match addr {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
        }
        .map_err(|e| format!("cannot reach {addr}: {e}"))?;
        socket
            .bind(SocketAddr::new(opts.ip, 0))
            .map_err(|e| format!("cannot reach {addr} from {}: {e}", opts.ip))?;
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(addr))
            .await
            .map_err(|_| format!("cannot reach {addr}: connection timed out"))?
            .map_err(|e| format!("cannot reach {addr}: {e}"))?;
        // `fingerprint <sha256>` pins the primary's certificate: a wrong one fails the TLS
        // handshake, before anything of ours is sent.
        let tls_config = match &req.fingerprint {
            Some(fp) => roost_api::tls::pinned_client_config(fp).0,
            None => roost_api::tls::insecure_client_config(),
        };
        let connector = tokio_rustls::TlsConnector::from(tls_config);
        let name = rustls::pki_types::ServerName::IpAddress(req.primary.into());
        tokio::time::timeout(IO_TIMEOUT, async {
            let mut tls = connector
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS with {addr}: {e}"))?;
            let (client, ke1) = pake::client_start(&req.password).map_err(|e| e.to_string())?;
            let hello = JoinHello {
                protocol_version: PROTOCOL_VERSION,
                software_version: software_version(),
                user: req.user.clone(),
                ke1: hex::encode(ke1),
            };
            write_msg(&mut tls, &hello).await?;
            let ke2 = match read_msg::<JoinChallenge, _>(&mut tls, MAX_PRE_AUTH_MESSAGE).await? {
                JoinChallenge::Refused { reason } => return Err(refused(reason)),
                JoinChallenge::Challenge { ke2 } => {
                    hex::decode(ke2).map_err(|_| refused("malformed KE2".to_string()))?
                }
            };
            // The KSF (argon2) runs here, off the async threads.
            let password = req.password.clone();
            let finished = tokio::task::spawn_blocking(move || client.finish(&password, &ke2))
                .await
                .map_err(|e| format!("join-cluster: {e}"))?;
            let (ke3, keys) = match finished {
                Ok(x) => x,
                // Wrong password, or a peer that does not hold this cluster's record for the
                // user: nothing about this controller is sent; we just close.
                Err(PakeError::AuthenticationFailed) => return Err(auth_failed()),
                Err(e) => return Err(refused(e.to_string())),
            };
            let body = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
            let proof = JoinProof {
                ke3: hex::encode(ke3),
                sealed_request: hex::encode(keys.seal_to_primary(&body)),
            };
            write_msg(&mut tls, &proof).await?;
            let sealed =
                match read_msg::<JoinOutcome, _>(&mut tls, 2 * MAX_JOIN_MESSAGE + 64).await? {
                    JoinOutcome::Refused { reason } => return Err(refused(reason)),
                    JoinOutcome::Sealed { sealed_response } => sealed_response,
                };
            let plain = hex::decode(sealed)
                .map_err(|_| PakeError::Sealed)
                .and_then(|b| keys.open_from_primary(&b))
                .map_err(|e| refused(e.to_string()))?;
            decode_json::<JoinResponse>(&plain).map_err(|e| refused(e.to_string()))
        })
        .await
        .map_err(|_| format!("{addr} did not answer in time"))?
    })?;
    let accepted = match response {
        JoinResponse::Refused { reason } => return Err(refused(reason)),
        JoinResponse::Accepted(a) => a,
    };
    progress("... applying cluster configuration");
    let key = accepted
        .cluster_key()
        .map_err(|e| format!("bad cluster key from primary: {e}"))?;
    let config = ClusterConfig::parse(&accepted.config)
        .map_err(|e| format!("bad configuration from primary: {e}"))?;
    if config.device(rt.mac).is_none() {
        return Err("the primary's configuration does not contain this controller".to_string());
    }
    progress("... committing the changes");
    rt.store.set_cluster_key(&key).map_err(|e| e.to_string())?;
    rt.store
        .save_config(accepted.head, &accepted.config, None, &[accepted.head])
        .map_err(|e| e.to_string())?;
    handle.block_on(rt.rejoin(key, config, accepted.head))?;
    progress("... saving the changes");
    rt.store
        .write_startup_config(&accepted.config)
        .map_err(|e| e.to_string())?;
    progress("[OK]");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_after_free_failures_and_stays_bounded() {
        let b = Backoff::new();
        let ip: IpAddr = "127.0.0.200".parse().unwrap();
        let other: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES - 1 {
            b.failed(ip, t0);
            assert_eq!(b.blocked(ip, t0), None);
        }
        b.failed(ip, t0);
        assert_eq!(b.blocked(ip, t0), Some(Duration::from_millis(500)));
        // Another source is not affected.
        assert_eq!(b.blocked(other, t0), None);
        assert_eq!(b.blocked(ip, t0 + Duration::from_millis(500)), None);
        for _ in 0..40 {
            b.failed(ip, t0);
        }
        assert_eq!(b.blocked(ip, t0), Some(BACKOFF_MAX));
        b.succeeded(ip);
        assert_eq!(b.blocked(ip, t0), None);
        // Many sources: bounded memory.
        for i in 0..(BACKOFF_SOURCES as u32 + 100) {
            b.failed(
                IpAddr::from(i.to_be_bytes()),
                t0 + Duration::from_nanos(i.into()),
            );
        }
        assert_eq!(b.len(), BACKOFF_SOURCES);
    }

    #[test]
    fn joiner_section_keeps_its_own_settings_and_drops_what_join_decides() {
        let h = "vx9000 52-54-00-3A-A1-52";
        let text = format!(
            "{h}\n hostname vx9000-2\n cluster name OLD\n cluster mode active\n cluster member ip 10.0.0.1 level 1\n cluster master-priority 100\n interface vlan 10\n  ip address 192.0.2.2/24\n ip default-gateway 192.0.2.1\n"
        );
        assert_eq!(
            joiner_section(&text, h).unwrap(),
            format!("{h}\n hostname vx9000-2\n cluster master-priority 100\n interface vlan 10\n  ip address 192.0.2.2/24\n ip default-gateway 192.0.2.1\n")
        );
        let e = joiner_section(&format!("{h}\nwlan x\n ssid y\n"), h).unwrap_err();
        assert!(e.contains("'wlan x'"), "{e}");
        assert_eq!(joiner_section("", h).unwrap(), "");
    }
}
