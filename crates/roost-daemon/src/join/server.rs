//! The primary's side of join-cluster: TLS, OPAQUE, a per-source backoff, then
//! [`admit`] decides and the joiner's change is committed through the master.
//!
//! The primary's side is bounded: at most [`MAX_HANDSHAKES`] connections at once (others are
//! closed at once), small reads before authentication, no KSF (argon2 runs on the joiner), and
//! a per-source backoff after repeated failures ([`Backoff`]). Every refusal goes through
//! [`Refuser::refuse`] and every admission through [`JoinServer::accepted`]: the one place each
//! to count join attempts by result.

use super::admission::{admit, check_user, check_version, JoinRefusal, Primary};
use super::{read_msg, write_msg, IO_TIMEOUT};
use crate::member::{software_version, MemberHandle};
use crate::options::ControllerOptions;
use crate::shutdown::wait_shutdown;
use roost_wire::join::{
    decode_json, JoinAccepted, JoinChallenge, JoinHello, JoinOutcome, JoinProof, JoinRequest,
    JoinResponse, MAX_PRE_AUTH_MESSAGE,
};
use roost_wire::pake::{self, PakeError, ServerKeys};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

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

/// What one join connection on the primary works with: the member it adds the joiner to, and
/// this controller's address (the joiner's member link points at it).
struct JoinServer {
    member: Arc<MemberHandle>,
    primary: Primary,
}

/// Logs a refusal where the operator looks (the log, `debug cfgd cluster`) and gives the line
/// the joiner is sent.
struct Refuser<'a> {
    member: &'a MemberHandle,
    peer: SocketAddr,
}

impl Refuser<'_> {
    fn refuse(&self, refusal: JoinRefusal) -> String {
        let reason = refusal.to_string();
        self.member
            .counters
            .join(crate::counters::JoinResult::Refused);
        tracing::info!(peer = %self.peer, kind = refusal.kind(), "join-cluster refused: {reason}");
        self.member.debug(&format!(
            "cluster join from host {} refused: {reason}",
            self.peer.ip()
        ));
        reason
    }
}

pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    member: Arc<MemberHandle>,
    opts: ControllerOptions,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    let backoff = Arc::new(Backoff::new());
    let server = Arc::new(JoinServer {
        primary: Primary {
            mac: member.mac,
            model: member.model,
            ip: opts.ip,
        },
        member,
    });
    let sd = wait_shutdown(shutdown);
    tokio::pin!(sd);
    loop {
        tokio::select! {
            _ = &mut sd => return,
            r = listener.accept() => {
                let (stream, peer) = match r { Ok(x) => x, Err(e) => { tracing::warn!("join accept: {e}"); continue; } };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    tracing::info!(%peer, "join-cluster connection refused: {MAX_HANDSHAKES} join handshakes already in progress");
                    server.member.counters.join(crate::counters::JoinResult::Refused);
                    drop(stream);
                    continue;
                };
                let acceptor = acceptor.clone();
                let server = server.clone();
                let backoff = backoff.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    server.member.debug(&format!("CS server (cluster join) connection from {}", peer.ip()));
                    let r = tokio::time::timeout(IO_TIMEOUT, async {
                        let mut tls = acceptor.accept(stream).await.map_err(|e| format!("TLS: {e}"))?;
                        server.serve_one(&backoff, &mut tls, peer).await?;
                        let _ = tls.shutdown().await;
                        Ok::<_, String>(())
                    }).await;
                    if !matches!(r, Ok(Ok(()))) {
                        server.member.counters.join(crate::counters::JoinResult::Error);
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

impl JoinServer {
    /// One join connection on the primary: OPAQUE, then admission and the commit.
    async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        backoff: &Backoff,
        tls: &mut S,
        peer: SocketAddr,
    ) -> Result<(), String> {
        let member = &self.member;
        let refuser = Refuser { member, peer };
        let refuse = |r: JoinRefusal| refuser.refuse(r);
        let hello: JoinHello = read_msg(tls, MAX_PRE_AUTH_MESSAGE).await?;
        member.debug(&format!("CS_Server - cluster join from host {}", peer.ip()));
        if let Some(wait) = backoff.blocked(peer.ip(), Instant::now()) {
            let reason = refuse(JoinRefusal::Backoff {
                source_ip: peer.ip(),
                wait,
            });
            return write_msg(tls, &JoinChallenge::Refused { reason }).await;
        }
        // A cluster only forms between identical releases.
        if let Err(r) = check_version(&hello, &software_version()) {
            let reason = refuse(r);
            return write_msg(tls, &JoinChallenge::Refused { reason }).await;
        }
        // Credentials, by OPAQUE: the record of a user of this cluster. An unknown user gets a
        // fake challenge, so it looks like a wrong password.
        let key = match member.store.cluster_key() {
            Ok(Some(k)) => k,
            _ => {
                let reason = refuse(JoinRefusal::NoClusterKey);
                return write_msg(tls, &JoinChallenge::Refused { reason }).await;
            }
        };
        let keys = ServerKeys::derive(&key);
        let config = member.running();
        let (role, record) = match config.join_record(&hello.user) {
            Some((_, None)) => {
                let reason = refuse(JoinRefusal::NoJoinCredential(hello.user.clone()));
                return write_msg(tls, &JoinChallenge::Refused { reason }).await;
            }
            Some((role, Some(rec))) => (Some(role), Some(rec.to_string())),
            None => (None, None),
        };
        let ke1 = hex::decode(&hello.ke1).map_err(|_| "malformed KE1".to_string())?;
        let (server, ke2) = match pake::server_start(&keys, &hello.user, record.as_deref(), &ke1) {
            Ok(x) => x,
            Err(e) => {
                let reason = refuse(JoinRefusal::Malformed(e.to_string()));
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
        // The joiner closes here if KE2 did not convince it (wrong password, or not this
        // cluster).
        let proof: JoinProof = match read_msg(tls, MAX_PRE_AUTH_MESSAGE).await {
            Ok(p) => p,
            Err(e) => {
                backoff.failed(peer.ip(), Instant::now());
                self.member.counters.login_failed(roost_config::Face::Join);
                refuse(JoinRefusal::JoinerGaveUp {
                    user: hello.user.clone(),
                    error: e,
                });
                return Ok(());
            }
        };
        let session = hex::decode(&proof.ke3)
            .map_err(|_| PakeError::Malformed("KE3"))
            .and_then(|ke3| server.finish(&ke3));
        let (keys, role) = match (session, role) {
            (Ok(s), Some(role)) => {
                backoff.succeeded(peer.ip());
                (s, role)
            }
            _ => {
                backoff.failed(peer.ip(), Instant::now());
                self.member.counters.login_failed(roost_config::Face::Join);
                let reason = refuse(JoinRefusal::AuthenticationFailed(hello.user.clone()));
                return write_msg(tls, &JoinOutcome::Refused { reason }).await;
            }
        };
        let req: Result<JoinRequest, String> = hex::decode(&proof.sealed_request)
            .map_err(|_| PakeError::Sealed)
            .and_then(|b| keys.open_from_joiner(&b))
            .map_err(|e| e.to_string())
            .and_then(|b| decode_json(&b).map_err(|e| e.to_string()));
        let resp = match req {
            Err(e) => {
                let reason = refuse(JoinRefusal::Malformed(e));
                return write_msg(tls, &JoinOutcome::Refused { reason }).await;
            }
            Ok(req) => match check_user(&hello.user, role, &req) {
                Err(r) => JoinResponse::Refused { reason: refuse(r) },
                Ok(()) => match self.join(req).await {
                    Ok(accepted) => JoinResponse::Accepted(accepted),
                    Err(r) => JoinResponse::Refused { reason: refuse(r) },
                },
            },
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

    /// Once the joiner is authenticated: admit it, commit it in, hand out key + config.
    async fn join(&self, req: JoinRequest) -> Result<JoinAccepted, JoinRefusal> {
        let member = &self.member;
        let config = member.running();
        let change = admit(&req, &self.primary, &config)?;
        let cluster_name = config
            .device(member.mac)
            .map(|d| d.cluster_name)
            .unwrap_or_default();
        member.debug(&format!(
            "cluster join, cluster member ip of [{}] is NOT configured, create override",
            req.mac
        ));
        let rev = member
            .commit("join-cluster", &change.to_text())
            .await
            .map_err(JoinRefusal::Commit)?;
        // Wait until this member's running config holds the revision (the master may be
        // another).
        member.wait_applied(rev).await;
        let snapshot = member.snapshot();
        let (config, head) = (snapshot.running.to_text(), snapshot.running_head);
        let key = match member.store.cluster_key() {
            Ok(Some(k)) => k,
            _ => return Err(JoinRefusal::NoClusterKey),
        };
        self.accepted(&req);
        Ok(JoinAccepted {
            cluster_key_hex: key.to_hex(),
            primary: member.id,
            cluster_name,
            config,
            head,
        })
    }

    /// A joiner is in.
    fn accepted(&self, req: &JoinRequest) {
        tracing::info!(joiner = %req.mac, "join-cluster accepted");
        self.member
            .counters
            .join(crate::counters::JoinResult::Accepted);
        self.member.debug("sending OK with config");
        self.member.record(
            roost_wire::ClusterEvent::ConfigUpdateSuccess,
            "config sync succeeded",
        );
    }
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
}
