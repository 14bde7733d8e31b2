//! join-cluster admission, as a pure function: an authenticated [`JoinRequest`] and the
//! cluster's configuration either give the [`Change`] that adds the joiner, or a
//! [`JoinRefusal`], the one line both sides show. No I/O: the network part (TLS, OPAQUE,
//! framing) is in `server.rs` and `client.rs`; the checks follow the seed's troubleshooting
//! list (version, model, MiNT level, cluster VLAN links) plus the address and id clashes that
//! would break the member channel.

use roost_config::{Change, ClusterConfig, Role, Section};
use roost_wire::join::{JoinHello, JoinRequest};
use roost_wire::{Mac, MemberId, MintLevel, Model, PROTOCOL_VERSION};
use std::net::IpAddr;
use std::time::Duration;

/// Why a join was refused. `Display` is the exact line the joiner shows after
/// "join-cluster refused by <primary>: " and the primary logs; nothing changed on either side.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoinRefusal {
    #[error("too many failed join attempts from {source_ip}: try again in {} s", wait.as_secs() + 1)]
    Backoff { source_ip: IpAddr, wait: Duration },
    #[error("software version mismatch: this controller runs Roost {ours} (protocol {PROTOCOL_VERSION}), the joining controller runs Roost {theirs} (protocol {protocol})")]
    Version {
        ours: String,
        theirs: String,
        protocol: u8,
    },
    #[error("this controller has no cluster key")]
    NoClusterKey,
    #[error("user '{0}' has no join-cluster credential (its password was given as a hash): set its password again on the cluster ('user {0} password <password> role ...') and retry")]
    NoJoinCredential(String),
    #[error("authentication failed for user '{0}'")]
    AuthenticationFailed(String),
    /// Logged only: the joiner closed after KE2 (it was not convinced), so it hears nothing.
    #[error("authentication failed for user '{user}' (the joiner gave up: {error})")]
    JoinerGaveUp { user: String, error: String },
    #[error("malformed join request: {0}")]
    Malformed(String),
    #[error("user '{0}' is not allowed to join controllers (role monitor)")]
    MonitorRole(String),
    #[error("model mismatch: this controller is a {ours}, the joining controller is a {theirs} (cluster members must be the same model)")]
    Model { ours: Model, theirs: Model },
    #[error("invalid member address {0:?}")]
    InvalidAddress(String),
    #[error("the joining controller uses this controller's own address {0}")]
    OwnAddress(IpAddr),
    #[error("cluster member vlan {0} is configured: cluster VLAN links are not supported, only cluster member ip links are allowed")]
    VlanLinks(u16),
    #[error("MiNT link level mismatch: the cluster's member links use level {cluster}, join-cluster asked for level {asked}")]
    MintLevel {
        cluster: MintLevel,
        asked: MintLevel,
    },
    #[error("member id {id} of {mac} is already used by {hostname} ({other})")]
    MemberIdTaken {
        id: MemberId,
        mac: Mac,
        hostname: String,
        other: Mac,
    },
    #[error("the joining controller has this controller's own MAC address")]
    OwnMac,
    #[error("the joining controller's configuration has a section '{line}' that is not its own device section '{header}'")]
    ForeignSection { line: String, header: String },
    #[error("the cluster could not commit the new member: {0}")]
    Commit(String),
}

impl JoinRefusal {
    /// A short, stable name for the refusal (a metrics label, a log field).
    pub fn kind(&self) -> &'static str {
        match self {
            JoinRefusal::Backoff { .. } => "backoff",
            JoinRefusal::Version { .. } => "version",
            JoinRefusal::NoClusterKey => "no_cluster_key",
            JoinRefusal::NoJoinCredential(_) => "no_credential",
            JoinRefusal::AuthenticationFailed(_) | JoinRefusal::JoinerGaveUp { .. } => {
                "authentication"
            }
            JoinRefusal::Malformed(_) => "malformed",
            JoinRefusal::MonitorRole(_) => "role",
            JoinRefusal::Model { .. } => "model",
            JoinRefusal::InvalidAddress(_) => "address",
            JoinRefusal::OwnAddress(_) => "address",
            JoinRefusal::VlanLinks(_) => "vlan_links",
            JoinRefusal::MintLevel { .. } => "mint_level",
            JoinRefusal::MemberIdTaken { .. } => "member_id",
            JoinRefusal::OwnMac => "member_id",
            JoinRefusal::ForeignSection { .. } => "malformed",
            JoinRefusal::Commit(_) => "commit",
        }
    }
}

/// The primary as admission sees it: who it is, and the address its member links use.
#[derive(Clone, Copy, Debug)]
pub struct Primary {
    pub mac: Mac,
    pub model: Model,
    pub ip: IpAddr,
}

/// Before authentication: a cluster only forms between identical releases.
pub fn check_version(hello: &JoinHello, ours: &str) -> Result<(), JoinRefusal> {
    if hello.protocol_version != PROTOCOL_VERSION || hello.software_version != ours {
        return Err(JoinRefusal::Version {
            ours: ours.to_string(),
            theirs: hello.software_version.clone(),
            protocol: hello.protocol_version,
        });
    }
    Ok(())
}

/// After authentication as `user` with `role`: the sealed request must be that user's, and a
/// monitor may not join controllers.
pub fn check_user(user: &str, role: Role, req: &JoinRequest) -> Result<(), JoinRefusal> {
    if req.user != user {
        return Err(JoinRefusal::Malformed("user names differ".into()));
    }
    if role == Role::Monitor {
        return Err(JoinRefusal::MonitorRole(user.to_string()));
    }
    Ok(())
}

/// Admits `req` into the cluster whose configuration is `config`, as seen by `primary`: the
/// change that adds the joiner (its own device section, then the cluster settings the join
/// decides, and the primary's member link to it), or why not.
pub fn admit(
    req: &JoinRequest,
    primary: &Primary,
    config: &ClusterConfig,
) -> Result<Change, JoinRefusal> {
    if req.model != primary.model {
        return Err(JoinRefusal::Model {
            ours: primary.model,
            theirs: req.model,
        });
    }
    let ip: IpAddr = req
        .ip
        .parse()
        .map_err(|_| JoinRefusal::InvalidAddress(req.ip.clone()))?;
    if ip == primary.ip {
        return Err(JoinRefusal::OwnAddress(ip));
    }
    // Only cluster IP links (no `cluster member vlan`).
    if let Some(vlan) = config
        .devices()
        .iter()
        .flat_map(|d| d.member_vlans.clone())
        .next()
    {
        return Err(JoinRefusal::VlanLinks(vlan));
    }
    // The MiNT link level must match the level the cluster's links use.
    if let Some(l) = config
        .devices()
        .iter()
        .flat_map(|d| d.member_ips.iter().map(|(_, l)| *l))
        .find(|l| *l != req.level)
    {
        return Err(JoinRefusal::MintLevel {
            cluster: l,
            asked: req.level,
        });
    }
    // Member ids must be unique.
    let joiner_id = req.mac.member_id();
    if let Some(d) = config
        .devices()
        .iter()
        .find(|d| d.mac != req.mac && d.mac.member_id() == joiner_id)
    {
        return Err(JoinRefusal::MemberIdTaken {
            id: joiner_id,
            mac: req.mac,
            hostname: d.hostname.clone(),
            other: d.mac,
        });
    }
    if req.mac == primary.mac {
        return Err(JoinRefusal::OwnMac);
    }
    // The joiner's own device section (interfaces, routes, other settings) comes along; the
    // cluster settings that join-cluster decides are set after it.
    let own = joiner_section(&req.device, &device_header(req.model, req.mac))?;
    let cluster_name = config
        .device(primary.mac)
        .map(|d| d.cluster_name)
        .unwrap_or_default();
    let level = req.level.number();
    let mode = req.mode.to_string().to_lowercase();
    Ok(Change::new()
        .device(primary.model, primary.mac, |d| {
            d.line(format!("cluster member ip {ip} level {level}"))
        })
        .device(req.model, req.mac, |d| {
            let header = device_header(req.model, req.mac);
            let lines: Vec<(usize, &str)> =
                own.lines().filter(|l| *l != header).map(indented).collect();
            let mut d = nested(d, &lines, 1).line(format!("hostname {}", req.hostname));
            if !cluster_name.is_empty() {
                d = d.line(format!("cluster name {cluster_name}"));
            }
            d.line(format!("cluster mode {mode}"))
                .line(format!("cluster member ip {} level {level}", primary.ip))
        }))
}

fn device_header(model: Model, mac: Mac) -> String {
    format!("{} {}", model.prefix(), mac)
}

/// (depth, text) of a change-text line: depth is its indentation.
fn indented(l: &str) -> (usize, &str) {
    let t = l.trim_start_matches(' ');
    (l.len() - t.len(), t)
}

/// Adds `lines` (all at `depth` or deeper) to `s`: a line followed by deeper ones opens a
/// section holding them.
fn nested(mut s: Section, lines: &[(usize, &str)], depth: usize) -> Section {
    let mut i = 0;
    while i < lines.len() {
        let (_, text) = lines[i];
        let end = lines[i + 1..]
            .iter()
            .position(|(d, _)| *d <= depth)
            .map_or(lines.len(), |p| i + 1 + p);
        let inner = &lines[i + 1..end];
        s = if inner.is_empty() {
            s.line(text)
        } else {
            s.section(text, |sub| nested(sub, inner, depth + 1))
        };
        i = end;
    }
    s
}

/// Cluster settings of a device section that join-cluster itself decides: dropped from the
/// joiner's own section (the rest is kept).
const JOIN_DECIDES: &[&str] = &[" cluster name ", " cluster mode ", " cluster member "];

/// The joiner's device section change text, checked to hold only its own section (`header`),
/// without the cluster settings join-cluster decides.
pub fn joiner_section(text: &str, header: &str) -> Result<String, JoinRefusal> {
    let mut out = String::new();
    for l in text.lines() {
        if l.trim().is_empty() {
            continue;
        }
        if !l.starts_with(' ') && l != header {
            return Err(JoinRefusal::ForeignSection {
                line: l.to_string(),
                header: header.to_string(),
            });
        }
        if JOIN_DECIDES.iter().any(|p| format!("{l} ").starts_with(p)) {
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
