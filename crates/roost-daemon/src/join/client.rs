//! The joiner's side of join-cluster, run from a CLI session thread: connect from our own
//! address, OPAQUE, send the sealed request, and adopt the cluster's key and configuration.

use super::admission::joiner_section;
use super::{read_msg, write_msg, IO_TIMEOUT};
use crate::member::{software_version, MemberHandle};
use crate::options::ControllerOptions;
use roost_config::{ClusterConfig, JoinClusterRequest};
use roost_wire::join::{
    decode_json, JoinChallenge, JoinHello, JoinOutcome, JoinProof, JoinRequest, JoinResponse,
    MAX_JOIN_MESSAGE, MAX_PRE_AUTH_MESSAGE,
};
use roost_wire::pake::{self, PakeError};
use roost_wire::PROTOCOL_VERSION;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The joiner's side, run from a CLI session thread. Prints the seed's progress lines.
pub fn join_cluster(
    member: &Arc<MemberHandle>,
    opts: &ControllerOptions,
    handle: &tokio::runtime::Handle,
    req: JoinClusterRequest,
    progress: &mut dyn FnMut(&str),
) -> Result<(), String> {
    progress(&format!("... connecting to {}", req.primary));
    let running = member.running();
    let me = running.device(member.mac);
    let device = running
        .device_change(member.mac)
        .map(|c| {
            joiner_section(
                &c.to_text(),
                &format!("{} {}", member.model.prefix(), member.mac),
            )
        })
        .transpose()
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let request = JoinRequest {
        protocol_version: PROTOCOL_VERSION,
        software_version: software_version(),
        user: req.user.clone(),
        model: member.model,
        mac: member.mac,
        hostname: me
            .map(|d| d.hostname)
            .unwrap_or_else(|| member.mac.default_hostname(member.model)),
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
    if config.device(member.mac).is_none() {
        return Err("the primary's configuration does not contain this controller".to_string());
    }
    progress("... committing the changes");
    member
        .store
        .set_cluster_key(&key)
        .map_err(|e| e.to_string())?;
    member
        .store
        .save_config(accepted.head, &accepted.config, None, &[accepted.head])
        .map_err(|e| e.to_string())?;
    handle.block_on(member.rejoin(key, config, accepted.head))?;
    progress("... saving the changes");
    member
        .store
        .write_startup_config(&accepted.config)
        .map_err(|e| e.to_string())?;
    progress("[OK]");
    Ok(())
}
