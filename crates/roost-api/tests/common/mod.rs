//! A fake controller (ApiBackend + CliService) and a real HTTPS server on 127.0.0.1:0.
#![allow(dead_code)]

use roost_api::{ApiBackend, ServeOptions, TlsIdentity};
use roost_config::{
    CliService, CliSession, ClusterStatus, Completion, HistoryRow, LoginError, LoginFuture,
    LoginSource, MemberRow, Output, RevisionsView, Role,
};
use roost_wire::{MemberId, Revision, RevisionId, SupersededConfig};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Shared state of the fake controller.
#[derive(Default, Debug)]
pub struct State {
    /// Committed `cluster master-priority`.
    pub master_priority: u8,
    /// Every line executed: "user: line".
    pub lines: Vec<String>,
    /// Every open_session call: (user, role, privileged).
    pub opened: Vec<(String, Role, bool)>,
    /// The source of every password check.
    pub sources: Vec<LoginSource>,
}

pub struct Fake {
    pub state: Arc<Mutex<State>>,
}

impl Fake {
    pub fn new() -> Arc<Fake> {
        Arc::new(Fake {
            state: Arc::new(Mutex::new(State {
                master_priority: 128,
                ..Default::default()
            })),
        })
    }
    pub fn priority(&self) -> u8 {
        self.state.lock().unwrap().master_priority
    }
    pub fn lines(&self) -> Vec<String> {
        self.state.lock().unwrap().lines.clone()
    }
}

/// A password hash as it appears in configuration text (what monitors must not see).
pub const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$tcvz78iK+sbbNhLYjx8WYg$F0Bsn3KvDLW07RiV6GRo6Orpi2Hed6IocBauWz3PrYA";

pub const USERS: &[(&str, &str, Role)] = &[
    ("admin", "secret", Role::Superuser),
    ("ops", "ops-pw", Role::Superuser),
    ("mon", "watch", Role::Monitor),
];

impl CliService for Fake {
    fn check_password(&self, user: &str, password: &str, source: LoginSource) -> LoginFuture {
        self.state.lock().unwrap().sources.push(source);
        // Users whose login the gate would refuse without a check.
        match user {
            "backoff" => {
                return Box::pin(std::future::ready(Err(LoginError::Backoff {
                    addr: source.addr,
                    retry_after_secs: 7,
                })))
            }
            "busy" => return Box::pin(std::future::ready(Err(LoginError::Busy))),
            _ => {}
        }
        let r = USERS
            .iter()
            .find(|(u, p, _)| *u == user && *p == password)
            .map(|(_, _, r)| *r)
            .ok_or(LoginError::Rejected);
        Box::pin(std::future::ready(r))
    }
    fn check_public_key(&self, _user: &str, _key: &str) -> Option<Role> {
        None
    }
    fn open_session(
        &self,
        user: &str,
        role: Role,
        privileged: bool,
        async_output: Box<dyn Fn(String) + Send + Sync>,
    ) -> Box<dyn CliSession> {
        self.state
            .lock()
            .unwrap()
            .opened
            .push((user.into(), role, privileged));
        Box::new(FakeSession {
            user: user.into(),
            role,
            privileged,
            modes: Vec::new(),
            pending: None,
            state: self.state.clone(),
            async_output,
        })
    }
}

/// A tiny WiNG-like engine: `>`/`#`, `configure terminal` → `(config)`, `self` →
/// `(config-device)`, `cluster master-priority N`, `commit`, `exit`, `show X`, `debug on`.
pub struct FakeSession {
    user: String,
    role: Role,
    privileged: bool,
    modes: Vec<&'static str>,
    pending: Option<u8>,
    state: Arc<Mutex<State>>,
    async_output: Box<dyn Fn(String) + Send + Sync>,
}

fn ok(text: &str) -> Output {
    Output {
        text: text.into(),
        error: false,
        close: false,
    }
}
fn err(text: &str) -> Output {
    Output {
        text: text.into(),
        error: true,
        close: false,
    }
}

impl CliSession for FakeSession {
    fn prompt(&mut self) -> String {
        match (self.modes.last(), self.privileged) {
            (Some(m), _) => format!("roost({m})#"),
            (None, true) => "roost#".into(),
            (None, false) => "roost>".into(),
        }
    }
    fn execute(&mut self, line: &str) -> Output {
        self.state
            .lock()
            .unwrap()
            .lines
            .push(format!("{}: {line}", self.user));
        let words: Vec<&str> = line.split_whitespace().collect();
        match (self.modes.last().copied(), words.as_slice()) {
            (_, []) => ok(""),
            (_, ["show", what]) => ok(&format!("{what} output")),
            (_, ["debug", "on"]) => {
                (self.async_output)("debug line 1".into());
                (self.async_output)("debug line 2".into());
                ok("")
            }
            (None, ["enable"]) => {
                self.privileged = true;
                ok("")
            }
            (None, ["configure", "terminal"]) => {
                if !self.privileged || self.role != Role::Superuser {
                    return err("% Permission denied");
                }
                self.modes.push("config");
                ok("Enter configuration commands, one per line.")
            }
            (Some("config"), ["self"]) => {
                self.modes.push("config-device");
                ok("")
            }
            (Some("config-device"), ["cluster", "master-priority", n]) => match n.parse() {
                Ok(n) => {
                    self.pending = Some(n);
                    ok("")
                }
                Err(_) => err("% Invalid input detected at '^' marker."),
            },
            (Some(_), ["commit"]) => {
                if let Some(p) = self.pending.take() {
                    self.state.lock().unwrap().master_priority = p;
                }
                ok("")
            }
            (Some(_), ["exit"]) => {
                self.modes.pop();
                ok("")
            }
            (None, ["exit"] | ["logout"]) => Output {
                text: String::new(),
                error: false,
                close: true,
            },
            _ => err("% Invalid input detected at '^' marker."),
        }
    }
    fn help(&mut self, partial: &str) -> String {
        format!(
            "help for '{partial}' in {}",
            self.modes.last().unwrap_or(&"exec")
        )
    }
    fn complete(&mut self, partial: &str) -> Completion {
        match partial {
            "sh" => Completion::Line("show ".into()),
            _ => Completion::Candidates(vec!["clear".into(), "commit".into(), "configure".into()]),
        }
    }
}

pub fn rev(n: u64) -> RevisionId {
    RevisionId {
        number: n,
        hash: [n as u8; 32],
    }
}

pub fn revision(n: u64) -> Revision {
    Revision {
        id: rev(n),
        parent: rev(n - 1),
        origin: MemberId(0x12E1EE16),
        request: n,
        user: "admin".into(),
        wall_ms: 1_500_000_000_000 + n,
        change: format!("change {n}\nuser-management\n user u{n} password 1 {HASH} role monitor\n"),
    }
}

impl Fake {
    pub fn cluster_status(&self) -> ClusterStatus {
        ClusterStatus {
            protocol_version: 1,
            oper_state: "active".into(),
            ap_license: 64,
            aap_license: 0,
            ap_count: 3,
            aap_count: 0,
            max_ap_adoption_capacity: 10240,
            connected_members: 2,
            master: Some("vx9000-E1EE16".into()),
            config_revision: 7,
        }
    }
    /// One connected member and one lost in its grace period.
    pub fn licenses(&self) -> Vec<roost_config::MemberLicenses> {
        let member = |connected: bool, hostname: &str, id: &str| roost_config::MemberLicenses {
            connected,
            lost_since: (!connected).then(|| "2026-12-01 10:00:00".into()),
            grace_until: (!connected).then(|| "2027-03-11 10:00:00".into()),
            hostname: hostname.into(),
            member_id: id.into(),
            ap: 0,
            aap: 128,
            ap_used: 0,
            aap_used: if connected { 4 } else { 12 },
            adsec: false,
        };
        vec![
            member(true, "vx9000-1", "0x12E1EE16"),
            member(false, "vx9000-2", "0x1A3AA117"),
        ]
    }

    pub fn aps(&self) -> Vec<roost_config::ApRow> {
        vec![roost_config::ApRow {
            hostname: "ap7532-1".into(),
            mac: "00-23-68-00-00-01".parse().unwrap(),
            model: "AP7532".into(),
            serial: "SIM0001".into(),
            ip: "127.20.0.1".into(),
            adopted_by: "vx9000-E1EE16".into(),
            state: "adopted".into(),
            license: "AAP".into(),
            profile: "default-ap7532".into(),
            uptime_secs: Some(12),
            reason: None,
        }]
    }
    pub fn cluster_members(&self) -> Vec<MemberRow> {
        vec![
            MemberRow {
                hostname: "vx9000-E1EE16".into(),
                member_id: "12.E1.EE.16".parse().unwrap(),
                mac: "52-54-00-E1-EE-16".parse().unwrap(),
                master: true,
                oper_state: roost_config::RowState::Active,
                last_seen_secs: None,
            },
            MemberRow {
                hostname: "vx9000-3AA117".into(),
                member_id: "12.3A.A1.17".parse().unwrap(),
                mac: "52-54-00-3A-A1-17".parse().unwrap(),
                master: false,
                oper_state: roost_config::RowState::Standby,
                last_seen_secs: Some(1),
            },
        ]
    }
    pub fn cluster_history(&self) -> Vec<HistoryRow> {
        vec![HistoryRow {
            hostname: "vx9000-E1EE16".into(),
            member_id: "12.E1.EE.16".parse().unwrap(),
            event: "Member-Connected".into(),
            timestamp: "2017-08-28 20:40:24".into(),
            reason: "-".into(),
        }]
    }
    pub fn running_config(&self) -> String {
        format!(
            "!\nuser-management\n user admin password 1 {HASH} role superuser\n!\nvx9000 52-54-00-E1-EE-16\n hostname roost\n cluster master-priority {}\n!\nend\n",
            self.priority()
        )
    }
    pub fn revisions(&self) -> RevisionsView {
        RevisionsView {
            head: rev(2),
            revisions: vec![revision(1), revision(2)],
            superseded: vec![SupersededConfig {
                head: rev(9),
                holder: MemberId(0x123AA117),
                revisions: vec![revision(9)],
                config: format!(
                    "!\nuser-management\n user old password 1 {HASH} role superuser\n!\n"
                ),
                superseded_wall_ms: 1_600_000_000_000,
            }],
            lineage: vec![rev(1), rev(2)],
        }
    }
}

impl ApiBackend for Fake {
    fn snapshot(&self) -> std::sync::Arc<roost_config::MemberSnapshot> {
        let running = roost_config::ClusterConfig::parse(&self.running_config())
            .expect("the fake's running configuration parses");
        std::sync::Arc::new(roost_config::MemberSnapshot {
            status: self.cluster_status(),
            members: self.cluster_members(),
            history: std::sync::Arc::new(self.cluster_history()),
            revisions: std::sync::Arc::new(self.revisions()),
            running: std::sync::Arc::new(running),
            running_head: roost_wire::RevisionId::ZERO,
            licenses: self.licenses(),
            traffic: Vec::new(),
            aps: std::sync::Arc::new(roost_config::ApTable {
                rows: self.aps().into_iter().map(std::sync::Arc::new).collect(),
                serving: true,
                adopted: 1,
                joining: 0,
                on_other_members: 0,
                stats: Default::default(),
                history: Default::default(),
                balance: Default::default(),
            }),
            pool: Vec::new(),
        })
    }
    fn metrics(&self) -> roost_api::metrics::MetricsInput {
        roost_api::metrics::MetricsInput {
            version: "9.9.9".into(),
            protocol_version: 1,
            config_revision: 7,
            login_failures: roost_api::metrics::LoginFailures {
                api: 3,
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

/// A server on 127.0.0.1:0 with a fresh identity, on its own runtime; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub fake: Arc<Fake>,
    pub identity: TlsIdentity,
    pub _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    rt: Option<tokio::runtime::Runtime>,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(ServeOptions::default())
    }
    pub fn start_with(options: ServeOptions) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let identity = roost_api::load_or_create_identity(
            dir.path(),
            &["127.0.0.1".into(), "localhost".into()],
        )
        .unwrap();
        let fake = Fake::new();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(roost_api::bind("127.0.0.1:0".parse().unwrap()))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let id = identity.clone();
        let backend: Arc<dyn ApiBackend> = fake.clone();
        rt.spawn(async move {
            roost_api::serve_with_options(listener, &id, backend, options, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            addr,
            fake,
            identity,
            _dir: dir,
            stop: Some(tx),
            rt: Some(rt),
        }
    }
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }
    pub fn client(&self, user: &str, password: &str) -> roost_api::client::ApiClient {
        roost_api::client::ApiClient::new("127.0.0.1", self.addr.port(), user, password).unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
        }
    }
}

/// A raw reqwest client trusting the self-signed certificate through the TOFU config.
pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .use_preconfigured_tls((*roost_api::tls::insecure_client_config()).clone())
        .build()
        .unwrap()
}

/// [`http`] connecting from `source` (a loopback address other than 127.0.0.1).
pub fn http_from(source: &str) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .use_preconfigured_tls((*roost_api::tls::insecure_client_config()).clone())
        .local_address(source.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}
