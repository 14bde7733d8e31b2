//! The controller as its faces see it: [`Controller`] implements `CliService` (SSH, and the
//! API's command resources) and `ApiBackend` (the API's JSON resources); each CLI session gets a
//! [`SessionOps`] implementing the engine's `ControllerOps`. All three read the same member
//! runtime, so the CLI and the API cannot disagree.

use crate::gate::{AuthGate, GateConfig};
use crate::options::ControllerOptions;
use crate::runtime::{software_version, MemberRuntime};
use roost_config::{
    CliService, CliSession, ClusterConfig, ClusterStatus, Completion, ControllerOps, HistoryRow,
    Identity, JoinClusterRequest, LoginError, LoginFuture, LoginSource, MemberRow, Output,
    RevisionsView, Role, Session,
};
use roost_core::ClusterView;
use roost_wire::RevisionId;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone)]
pub struct Controller {
    pub rt: Arc<MemberRuntime>,
    pub opts: ControllerOptions,
    handle: tokio::runtime::Handle,
    auth_cache: Arc<AuthCache>,
    /// Where every password check runs (bounded, low priority, per-source backoff).
    pub gate: Arc<AuthGate>,
}

/// Successful password checks, remembered for a short while. argon2 is slow on purpose
/// (~20 ms); API clients send Basic credentials with every request, so without this every
/// `GET /cluster/status` would pay it. Entries are keyed by a keyed hash (a per-process random
/// key) of user, password and the stored hash, so a password change invalidates them and the
/// cache never holds a password or anything that can be checked offline. Failures are never
/// cached.
struct AuthCache {
    key: [u8; 32],
    entries: Mutex<std::collections::HashMap<[u8; 32], (Role, std::time::Instant)>>,
}

const AUTH_CACHE_TTL: Duration = Duration::from_secs(120);
const AUTH_CACHE_MAX: usize = 256;

impl AuthCache {
    fn new() -> AuthCache {
        AuthCache {
            key: rand::random(),
            entries: Mutex::new(Default::default()),
        }
    }

    fn fingerprint(&self, user: &str, password: &str, stored: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [
            &self.key[..],
            user.as_bytes(),
            password.as_bytes(),
            stored.as_bytes(),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }

    /// A cached successful login of `user` with `password` (and the stored hash it matched).
    fn lookup(&self, config: &ClusterConfig, user: &str, password: &str) -> Option<Role> {
        let stored = config.password_hash(user)?;
        let fp = self.fingerprint(user, password, stored);
        let now = std::time::Instant::now();
        match self.entries.lock().unwrap().get(&fp) {
            Some((role, at)) if now.duration_since(*at) < AUTH_CACHE_TTL => Some(*role),
            _ => None,
        }
    }

    fn insert(&self, config: &ClusterConfig, user: &str, password: &str, role: Role) {
        let Some(stored) = config.password_hash(user) else {
            return;
        };
        let fp = self.fingerprint(user, password, stored);
        let now = std::time::Instant::now();
        let mut entries = self.entries.lock().unwrap();
        if entries.len() >= AUTH_CACHE_MAX {
            entries.retain(|_, (_, at)| now.duration_since(*at) < AUTH_CACHE_TTL);
            if entries.len() >= AUTH_CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(fp, (role, now));
    }
}

impl Controller {
    pub fn new(rt: Arc<MemberRuntime>, opts: ControllerOptions) -> Controller {
        let gate = AuthGate::with_counters(GateConfig::default(), rt.counters.clone());
        Controller {
            rt,
            opts,
            handle: tokio::runtime::Handle::current(),
            auth_cache: Arc::new(AuthCache::new()),
            gate,
        }
    }

    /// Runs a future from a blocking (session) thread.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.handle.block_on(f)
    }

    pub async fn view(&self) -> Option<ClusterView> {
        self.rt.query(|node, now| node.election.view(now)).await
    }

    pub async fn revisions_async(&self) -> RevisionsView {
        self.rt
            .query(|node, _| RevisionsView {
                head: node.applied_head(),
                revisions: node.replication.log().to_vec(),
                superseded: node.replication.superseded().to_vec(),
                lineage: node.replication.lineage().to_vec(),
            })
            .await
            .unwrap_or(RevisionsView {
                head: RevisionId::ZERO,
                revisions: vec![],
                superseded: vec![],
                lineage: vec![],
            })
    }

    pub async fn status_async(&self) -> ClusterStatus {
        let view = self.view().await;
        let head = self
            .rt
            .query(|node, _| node.applied_head())
            .await
            .unwrap_or(RevisionId::ZERO);
        match view {
            Some(v) => status_from_view(&v, self.rt.model.max_aps(), head),
            None => ClusterStatus {
                protocol_version: roost_wire::PROTOCOL_VERSION,
                oper_state: "unknown".into(),
                ap_license: 0,
                aap_license: 0,
                ap_count: 0,
                aap_count: 0,
                max_ap_adoption_capacity: self.rt.model.max_aps(),
                connected_members: 0,
                master: None,
                config_revision: head.number,
            },
        }
    }

    pub async fn members_async(&self) -> Vec<MemberRow> {
        let now = self.rt.now();
        self.view()
            .await
            .map(|v| member_rows(&v, now))
            .unwrap_or_default()
    }

    pub async fn history_async(&self) -> Vec<HistoryRow> {
        self.view()
            .await
            .map(|v| history_rows(&v))
            .unwrap_or_default()
    }

    /// A password login through the gate: refused at once while `source` backs off, answered
    /// from the cache of recent successes, else checked (argon2; a dummy hash for unknown
    /// users) on a gate thread. Failures are logged with the face and source, never the
    /// password.
    pub async fn authenticate(
        &self,
        user: &str,
        password: &str,
        source: LoginSource,
    ) -> Result<Role, LoginError> {
        let attempt = match self.gate.admit(source.face, source.addr) {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(face = %source.face, source = %source.addr, user, reason = %e, "login refused without a check");
                return Err(e);
            }
        };
        let config = self.rt.running();
        if let Some(role) = self.auth_cache.lookup(&config, user, password) {
            attempt.succeeded();
            return Ok(role);
        }
        let (c, u, p) = (config.clone(), user.to_string(), password.to_string());
        let checked = attempt.run(move || c.authenticate(&u, &p)).await;
        match checked {
            Ok(Some(role)) => {
                self.auth_cache.insert(&config, user, password, role);
                attempt.succeeded();
                Ok(role)
            }
            Ok(None) => {
                attempt.failed();
                tracing::warn!(face = %source.face, source = %source.addr, user, "login failed: invalid user name or password");
                Err(LoginError::Rejected)
            }
            Err(e) => {
                tracing::info!(face = %source.face, source = %source.addr, user, reason = %e, "login not checked");
                Err(e)
            }
        }
    }
}

/// Pooled licences and counts over the connected members (ADSEC is per member, not pooled).
pub fn status_from_view(v: &ClusterView, max_aps: u32, head: RevisionId) -> ClusterStatus {
    let sum = |f: fn(&roost_wire::LicenceCounts) -> u32| {
        v.members.iter().map(|m| f(&m.licences)).sum::<u32>()
    };
    ClusterStatus {
        protocol_version: roost_wire::PROTOCOL_VERSION,
        oper_state: v.oper_state.to_string(),
        ap_license: sum(|l| l.ap_licenses),
        aap_license: sum(|l| l.aap_licenses),
        ap_count: sum(|l| l.ap_count),
        aap_count: sum(|l| l.aap_count),
        max_ap_adoption_capacity: max_aps,
        // As in the seed: the number of *other* members this one is connected to.
        connected_members: v.members.len().saturating_sub(1) as u32,
        master: v.master.map(|m| m.to_string()),
        config_revision: head.number,
    }
}

/// `show cluster members`: the master first (as in the seed), then the other connected
/// members by member id, then the members lost since this one started, shown as down.
pub fn member_rows(v: &ClusterView, now: roost_core::Instant) -> Vec<MemberRow> {
    let row = |m: &roost_core::MemberView, down: bool| MemberRow {
        hostname: m.hostname.clone(),
        member_id: m.member.to_string(),
        mac: m.mac.to_string(),
        master: m.is_master && !down,
        oper_state: if down {
            "down".to_string()
        } else {
            m.oper_state.to_string()
        },
        last_seen_secs: m.last_seen.map(|t| now.saturating_sub(t).as_secs()),
    };
    let mut connected: Vec<&roost_core::MemberView> = v.members.iter().collect();
    connected.sort_by_key(|m| (Some(m.member) != v.master, m.member));
    let mut lost: Vec<&roost_core::LostMember> = v.lost.iter().collect();
    lost.sort_by_key(|l| l.last.member);
    connected
        .into_iter()
        .map(|m| row(m, false))
        .chain(lost.into_iter().map(|l| row(&l.last, true)))
        .collect()
}

pub fn history_rows(v: &ClusterView) -> Vec<HistoryRow> {
    v.history
        .iter()
        .map(|e| HistoryRow {
            hostname: e.hostname.clone(),
            member_id: e.member.to_string(),
            event: e.event.to_string(),
            timestamp: chrono::DateTime::from_timestamp_millis(e.wall_ms as i64)
                .map(|t| {
                    t.with_timezone(&chrono::Local)
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default(),
            reason: e.reason.clone(),
        })
        .collect()
}

impl CliService for Controller {
    fn check_password(&self, user: &str, password: &str, source: LoginSource) -> LoginFuture {
        let (c, user, password) = (self.clone(), user.to_string(), password.to_string());
        Box::pin(async move { c.authenticate(&user, &password, source).await })
    }

    fn check_public_key(&self, user: &str, key_openssh: &str) -> Option<Role> {
        let config = self.rt.running();
        let wanted = normalise_key(key_openssh);
        let authorised = config
            .ssh_keys(user)
            .iter()
            .any(|k| normalise_key(k) == wanted);
        if authorised {
            config.role(user)
        } else {
            None
        }
    }

    fn open_session(
        &self,
        user: &str,
        role: Role,
        privileged: bool,
        async_output: Box<dyn Fn(String) + Send + Sync>,
    ) -> Box<dyn CliSession> {
        let ops = SessionOps {
            c: self.clone(),
            sink: Arc::new(async_output),
            sink_id: Mutex::new(None),
        };
        Box::new(EngineSession {
            session: Session::new(user, role, privileged),
            ops,
        })
    }
}

/// `ssh-ed25519 AAAA… comment` → `ssh-ed25519 AAAA…`.
fn normalise_key(k: &str) -> String {
    k.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

impl roost_api::ApiBackend for Controller {
    fn cluster_status(&self) -> ClusterStatus {
        self.block_on(self.status_async())
    }
    fn cluster_members(&self) -> Vec<MemberRow> {
        self.block_on(self.members_async())
    }
    fn cluster_history(&self) -> Vec<HistoryRow> {
        self.block_on(self.history_async())
    }
    fn running_config(&self) -> String {
        self.rt.running().to_text()
    }
    fn revisions(&self) -> RevisionsView {
        self.block_on(self.revisions_async())
    }
    fn metrics(&self) -> roost_api::metrics::MetricsInput {
        let rt = &self.rt;
        let at_once = rt.query(|n, now| (n.election.view(now), n.applied_head()));
        let (view, head) = match self.block_on(at_once) {
            Some((v, head)) => (Some(v), head),
            None => (None, RevisionId::ZERO),
        };
        let version = software_version();
        crate::counters::metrics_input(&rt.counters, &rt.stats, view.as_ref(), head, version)
    }
}

/// A CLI session: the engine's `Session` plus this controller's ops.
struct EngineSession {
    session: Session,
    ops: SessionOps,
}

impl CliSession for EngineSession {
    fn prompt(&mut self) -> String {
        self.session.prompt(&self.ops)
    }
    fn execute(&mut self, line: &str) -> Output {
        self.session.execute(line, &self.ops)
    }
    fn help(&mut self, partial: &str) -> String {
        self.session.help(partial, &self.ops)
    }
    fn complete(&mut self, partial: &str) -> Completion {
        self.session.complete(partial, &self.ops)
    }
}

/// What one session's commands can do to the controller.
pub struct SessionOps {
    c: Controller,
    sink: Arc<Box<dyn Fn(String) + Send + Sync>>,
    sink_id: Mutex<Option<u64>>,
}

impl Drop for SessionOps {
    fn drop(&mut self) {
        if let Some(id) = self.sink_id.lock().unwrap().take() {
            self.c.rt.remove_debug_sink(id);
        }
    }
}

impl ControllerOps for SessionOps {
    fn identity(&self) -> Identity {
        let config = self.c.rt.running();
        Identity {
            mac: self.c.rt.mac,
            model: self.c.rt.model,
            hostname: config
                .device(self.c.rt.mac)
                .map(|d| d.hostname)
                .unwrap_or_else(|| self.c.rt.mac.default_hostname(self.c.rt.model)),
            software_version: software_version(),
            uptime_secs: self.c.rt.started.elapsed().as_secs(),
            ip: Some(self.c.opts.ip),
        }
    }

    fn running_config(&self) -> ClusterConfig {
        (*self.c.rt.running()).clone()
    }

    fn commit(&self, user: &str, change: &str) -> Result<RevisionId, String> {
        let rt = &self.c.rt;
        let rev = self.c.block_on(rt.commit(user, change))?;
        // Return once the change is in this member's running config, so the next `show` in
        // this session sees it even when the master is another member.
        self.c.block_on(rt.wait_applied(rev));
        Ok(rev)
    }

    fn write_startup_config(&self, text: &str) -> Result<(), String> {
        self.c
            .rt
            .store
            .write_startup_config(text)
            .map_err(|e| e.to_string())
    }

    fn startup_config(&self) -> Result<String, String> {
        self.c
            .rt
            .store
            .startup_config()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "no startup-config saved".to_string())
    }

    fn cluster_status(&self) -> ClusterStatus {
        self.c.block_on(self.c.status_async())
    }

    fn cluster_members(&self) -> Vec<MemberRow> {
        self.c.block_on(self.c.members_async())
    }

    fn cluster_history(&self) -> Vec<HistoryRow> {
        self.c.block_on(self.c.history_async())
    }

    fn revisions(&self) -> RevisionsView {
        self.c.block_on(self.c.revisions_async())
    }

    fn join_cluster(
        &self,
        req: JoinClusterRequest,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), String> {
        crate::join::join_cluster(&self.c.rt, &self.c.opts, &self.c.handle, req, progress)
    }

    fn join_server_keys(&self) -> Option<roost_wire::pake::ServerKeys> {
        let key = self.c.rt.store.cluster_key().ok()??;
        Some(roost_wire::pake::ServerKeys::derive(&key))
    }

    fn member_licences(&self) -> Vec<roost_config::MemberLicences> {
        let view = self.c.block_on(self.c.view());
        view.map(|v| {
            v.members
                .iter()
                .map(|m| roost_config::MemberLicences {
                    hostname: m.hostname.clone(),
                    member_id: m.member.to_string(),
                    ap: m.licences.ap_licenses,
                    aap: m.licences.aap_licenses,
                    adsec: m.licences.adsec,
                })
                .collect()
        })
        .unwrap_or_default()
    }

    fn channel_statistics(&self) -> Vec<(String, u64)> {
        self.c
            .rt
            .stats
            .snapshot()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    fn set_debug(&self, cluster_debug: bool, monitor: bool) {
        let mut id = self.sink_id.lock().unwrap();
        match (cluster_debug && monitor, *id) {
            (true, None) => {
                let sink = self.sink.clone();
                *id = Some(self.c.rt.add_debug_sink(Box::new(move |line| sink(line))));
            }
            (false, Some(i)) => {
                self.c.rt.remove_debug_sink(i);
                *id = None;
            }
            _ => {}
        }
    }
}
