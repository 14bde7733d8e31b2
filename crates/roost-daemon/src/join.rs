//! join-cluster (WiNG's "CS server (cluster join)"), over TLS on TCP 5349.
//!
//! The joiner sends one [`JoinRequest`]; the primary checks it against the seed's
//! troubleshooting list (version, credentials, model, MiNT level, cluster VLAN links) and
//! refuses with one clear line and no change, or commits the joiner's device section and the
//! `cluster member ip` links through the master and answers with the cluster key and the full
//! configuration. After that the joiner talks to the cluster on UDP 24576 only.

use crate::ops::Controller;
use crate::runtime::{software_version, MemberRuntime};
use crate::startup::ControllerOptions;
use roost_config::{ClusterConfig, JoinClusterRequest, Role};
use roost_wire::join::{
    decode_json, decode_len, encode_json, JoinAccepted, JoinRequest, JoinResponse,
};
use roost_wire::{MintLevel, PROTOCOL_VERSION};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

const IO_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    controller: Arc<Controller>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let sd = crate::startup::wait_shutdown(shutdown);
    tokio::pin!(sd);
    loop {
        tokio::select! {
            _ = &mut sd => return,
            r = listener.accept() => {
                let (stream, peer) = match r { Ok(x) => x, Err(e) => { tracing::warn!("join accept: {e}"); continue; } };
                let acceptor = acceptor.clone();
                let controller = controller.clone();
                tokio::spawn(async move {
                    controller.rt.debug(&format!("CS server (cluster join) connection from {}", peer.ip()));
                    let r = tokio::time::timeout(IO_TIMEOUT, async {
                        let mut tls = acceptor.accept(stream).await.map_err(|e| format!("TLS: {e}"))?;
                        let req: JoinRequest = read_msg(&mut tls).await?;
                        let resp = handle_join(&controller, req, peer).await;
                        write_msg(&mut tls, &resp).await?;
                        let _ = tls.shutdown().await;
                        Ok::<_, String>(())
                    }).await;
                    match r {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::info!(%peer, "join-cluster connection failed: {e}"),
                        Err(_) => tracing::info!(%peer, "join-cluster connection timed out"),
                    }
                });
            }
        }
    }
}

async fn read_msg<T: for<'de> serde::Deserialize<'de>, S: AsyncRead + Unpin>(
    s: &mut S,
) -> Result<T, String> {
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix)
        .await
        .map_err(|e| format!("read: {e}"))?;
    let len = decode_len(prefix).map_err(|e| e.to_string())?;
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

/// The primary's side: refuse, or commit the joiner in and hand out key + config.
async fn handle_join(c: &Controller, req: JoinRequest, peer: SocketAddr) -> JoinResponse {
    let refuse = |reason: String| {
        tracing::info!(%peer, "join-cluster refused: {reason}");
        c.rt.debug(&format!(
            "cluster join from host {} refused: {reason}",
            peer.ip()
        ));
        JoinResponse::Refused { reason }
    };
    c.rt.debug(&format!("CS_Server - cluster join from host {}", peer.ip()));
    // 1. Version: a cluster only forms between identical releases.
    let ours = software_version();
    if req.protocol_version != PROTOCOL_VERSION || req.software_version != ours {
        return refuse(format!(
            "software version mismatch: this controller runs Roost {ours} (protocol {PROTOCOL_VERSION}), the joining controller runs Roost {} (protocol {})",
            req.software_version, req.protocol_version
        ));
    }
    let config = c.rt.running();
    // 2. Credentials: a superuser of this cluster. (The password is never logged.)
    match config.authenticate(&req.user, &req.password) {
        Some(Role::Superuser) => {}
        Some(Role::Monitor) => {
            return refuse(format!(
                "user '{}' is not allowed to join controllers (role monitor)",
                req.user
            ))
        }
        None => return refuse(format!("authentication failed for user '{}'", req.user)),
    }
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
    let mut joiner = format!(
        "{} {}\n hostname {}\n",
        req.model.prefix(),
        req.mac,
        req.hostname
    );
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
    c.rt.debug("sending OK with config");
    c.rt.record(
        roost_wire::ClusterEvent::ConfigUpdateSuccess,
        "config sync succeeded",
    );
    JoinResponse::Accepted(JoinAccepted {
        cluster_key_hex: key.to_hex(),
        primary: c.rt.member,
        cluster_name,
        config,
        head,
    })
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
    let request = JoinRequest {
        protocol_version: PROTOCOL_VERSION,
        software_version: software_version(),
        user: req.user.clone(),
        password: req.password.clone(),
        model: rt.model,
        mac: rt.mac,
        hostname: me
            .map(|d| d.hostname)
            .unwrap_or_else(|| rt.mac.default_hostname(rt.model)),
        ip: opts.ip.to_string(),
        level: req.level,
        mode: req.mode,
    };
    let addr = SocketAddr::new(req.primary, opts.join_port);
    if req.primary == opts.ip {
        return Err("cannot join this controller to itself".to_string());
    }
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
        let connector = tokio_rustls::TlsConnector::from(roost_api::tls::insecure_client_config());
        let name = rustls::pki_types::ServerName::IpAddress(req.primary.into());
        tokio::time::timeout(IO_TIMEOUT, async {
            let mut tls = connector
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS with {addr}: {e}"))?;
            write_msg(&mut tls, &request).await?;
            read_msg::<JoinResponse, _>(&mut tls).await
        })
        .await
        .map_err(|_| format!("{addr} did not answer in time"))?
    })?;
    let accepted = match response {
        JoinResponse::Refused { reason } => {
            return Err(format!("join-cluster refused by {}: {reason}", req.primary))
        }
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
