//! The controller as its faces see it: [`Controller`] implements `CliService` (SSH, and the
//! API's command resources) and `ApiBackend` (the API's JSON resources); each CLI session gets a
//! [`SessionOps`] implementing the engine's `ControllerOps`. All three render the same
//! published snapshot of the member, so the CLI and the API cannot disagree.

use crate::gate::{AuthGate, GateConfig};
use crate::member::{software_version, MemberHandle};
use crate::options::ControllerOptions;
use roost_config::{
    CliService, CliSession, ClusterConfig, Completion, ControllerOps, Identity, JoinClusterRequest,
    LoginError, LoginFuture, LoginSource, MemberSnapshot, Output, Role, Session,
};
use roost_wire::RevisionId;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone)]
pub struct Controller {
    pub member: Arc<MemberHandle>,
    pub opts: ControllerOptions,
    handle: tokio::runtime::Handle,
    auth_cache: Arc<AuthCache>,
    /// Where every password check runs (bounded, low priority, per-source backoff).
    pub gate: Arc<AuthGate>,
    /// The adoption thread's AP table.
    pub wireless: crate::wireless::WirelessHandle,
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
    pub fn new(
        member: Arc<MemberHandle>,
        opts: ControllerOptions,
        wireless: crate::wireless::WirelessHandle,
    ) -> Controller {
        let gate = AuthGate::with_counters(GateConfig::default(), member.counters.clone());
        Controller {
            member,
            opts,
            handle: tokio::runtime::Handle::current(),
            auth_cache: Arc::new(AuthCache::new()),
            gate,
            wireless,
        }
    }

    /// Runs a future from a blocking (session) thread.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.handle.block_on(f)
    }

    /// The member's state as last published (see [`crate::snapshot`]), with the adoption
    /// thread's AP table as its `aps` part.
    pub fn snapshot(&self) -> Arc<MemberSnapshot> {
        let mut s = (*self.member.snapshot()).clone();
        s.aps = self.wireless.table();
        Arc::new(s)
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
        let config = self.member.running();
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

impl CliService for Controller {
    fn check_password(&self, user: &str, password: &str, source: LoginSource) -> LoginFuture {
        let (c, user, password) = (self.clone(), user.to_string(), password.to_string());
        Box::pin(async move { c.authenticate(&user, &password, source).await })
    }

    fn check_public_key(&self, user: &str, key_openssh: &str) -> Option<Role> {
        let config = self.member.running();
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
    fn snapshot(&self) -> Arc<MemberSnapshot> {
        Controller::snapshot(self)
    }
    fn metrics(&self) -> roost_api::metrics::MetricsInput {
        let member = &self.member;
        let snapshot = Controller::snapshot(self);
        crate::counters::metrics_input(
            &member.counters,
            &member.traffic,
            &snapshot,
            software_version(),
        )
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
            self.c.member.remove_debug_sink(id);
        }
    }
}

impl ControllerOps for SessionOps {
    fn identity(&self) -> Identity {
        let config = self.c.member.running();
        Identity {
            mac: self.c.member.mac,
            model: self.c.member.model,
            hostname: config
                .device(self.c.member.mac)
                .map(|d| d.hostname)
                .unwrap_or_else(|| self.c.member.mac.default_hostname(self.c.member.model)),
            software_version: software_version(),
            uptime_secs: self.c.member.started.elapsed().as_secs(),
            ip: Some(self.c.opts.ip),
        }
    }

    fn snapshot(&self) -> Arc<MemberSnapshot> {
        self.c.snapshot()
    }

    fn commit(&self, user: &str, change: &str) -> Result<RevisionId, String> {
        let member = &self.c.member;
        let rev = self.c.block_on(member.commit(user, change))?;
        // Return once the change is in this member's running config, so the next `show` in
        // this session sees it even when the master is another member.
        self.c.block_on(member.wait_applied(rev));
        Ok(rev)
    }

    fn write_startup_config(&self, text: &str) -> Result<(), String> {
        self.c
            .member
            .store
            .write_startup_config(text)
            .map_err(|e| e.to_string())
    }

    fn startup_config(&self) -> Result<String, String> {
        self.c
            .member
            .store
            .startup_config()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "no startup-config saved".to_string())
    }

    fn join_cluster(
        &self,
        req: JoinClusterRequest,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), String> {
        crate::join::join_cluster(&self.c.member, &self.c.opts, &self.c.handle, req, progress)
    }

    fn join_server_keys(&self) -> Option<roost_wire::pake::ServerKeys> {
        let key = self.c.member.store.cluster_key().ok()??;
        Some(roost_wire::pake::ServerKeys::derive(&key))
    }

    fn set_debug(&self, cluster_debug: bool, monitor: bool) {
        let mut id = self.sink_id.lock().unwrap();
        match (cluster_debug && monitor, *id) {
            (true, None) => {
                let sink = self.sink.clone();
                *id = Some(
                    self.c
                        .member
                        .add_debug_sink(Box::new(move |line| sink(line))),
                );
            }
            (false, Some(i)) => {
                self.c.member.remove_debug_sink(i);
                *id = None;
            }
            _ => {}
        }
    }
}
