//! The Roost configuration model and the WiNG-style command engine.
//!
//! One engine serves every face: the SSH CLI, `roost cli`, and the HTTPS API's command
//! resource all create a [`Session`] and feed it lines. The engine never does I/O itself: it
//! reads and changes the controller through the [`ControllerOps`] trait the daemon implements.
//!
//! * [`ClusterConfig`]: the cluster-wide configuration (global objects such as `wlan` and
//!   `user-management`, plus one device section per member). Its text form is both
//!   `show running-config` and the startup-config file. Implements `roost_core::ConfigState`.
//! * [`Session`]: modes, prompts, abbreviations, `?` help, completion, `commit`/`write`,
//!   `show` commands, join-cluster.
//! * [`views`]: the data the daemon hands to `show` commands, and their WiNG-layout renderers.

// No unsafe code here: what needs a libc call lives in the daemon and the binaries.
#![forbid(unsafe_code)]

mod change;
pub mod dhcp;
mod grammar;
pub mod howto;
mod mask;
mod model;
pub mod provisioning;
mod session;
pub mod settings;
pub mod views;

pub use change::{Change, Section};
pub use dhcp::{
    ActivationCriteria, DhcpNetwork, DhcpOptionDef, DhcpOptionType, DhcpOptionValue, DhcpPolicy,
    DhcpPool,
};
pub use mask::{
    hide_credentials, mask_config_secrets, mask_passwords, mask_passwords_in_place, MASK,
};
pub use model::{
    hash_password, ApTimerSettings, ApWlan, FastTimerSettings, WlanAuthentication, WlanEncryption,
    AP_MODELS, CONFIG_VERSION, REPLACE_CONFIG,
};
pub use session::exec_output;
pub use views::*;

use roost_wire::{ClusterMode, Mac, MintLevel, Model, RevisionId};

/// A management user's role.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Role {
    /// May configure.
    Superuser,
    /// Read-only: `show` commands only.
    Monitor,
}

/// Errors of the config model, with the line at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("line {line}: {message}")]
    Parse { line: usize, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// The cluster-wide configuration: `user-management`, `wlan` sections and one device section
/// per member. Its text form (see [`ClusterConfig::to_text`]) is canonical: defaults are
/// omitted and objects are ordered (users and WLANs by name, devices by MAC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    users: std::collections::BTreeMap<String, model::User>,
    wlans: std::collections::BTreeMap<String, model::Wlan>,
    profiles: std::collections::BTreeMap<String, model::Profile>,
    devices: std::collections::BTreeMap<Mac, model::Device>,
    /// Per-AP device sections (`ap7532 <MAC>`): only the APs an operator edited; the others'
    /// device views are derived from the cluster-wide AP table.
    ap_devices: std::collections::BTreeMap<Mac, model::ApDevice>,
    /// `auto-provisioning-policy <NAME>` sections, by name.
    policies: std::collections::BTreeMap<String, roost_adoption::policy::Policy>,
    /// `dhcp-server-policy <NAME>` sections, by name.
    dhcp_policies: std::collections::BTreeMap<String, dhcp::DhcpPolicy>,
    /// `license grace-period` (None: the default, 100 days).
    license_grace: Option<model::GracePeriod>,
    /// `ap-firmware <model> <version>` (Roost): the version the firmware gate expects, by
    /// AP model keyword (`ap7532`).
    ap_firmware: std::collections::BTreeMap<String, String>,
    /// `enforce-version adoption <level>` (WiNG's default: strict).
    enforce_version: roost_adoption::firmware::EnforceVersion,
}

/// One device's settings as the daemon needs them (from its device section).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceSettings {
    pub mac: Mac,
    pub model: Model,
    pub hostname: String,
    pub cluster_name: String,
    pub cluster_mode: ClusterMode,
    pub master_priority: u8,
    pub force_configured_state: bool,
    /// `cluster force-configured-state-delay` (minutes, 3-1800) or the Roost extension in
    /// seconds; the effective duration.
    pub force_configured_state_delay: std::time::Duration,
    pub handle_stp: bool,
    pub radius_counter_db_sync_time_minutes: u32,
    /// Roost extensions `cluster hello-interval <ms>` / `cluster dead-interval <ms>`.
    pub hello_interval: std::time::Duration,
    pub dead_interval: std::time::Duration,
    /// `cluster member ip <IP> level <1|2>` entries.
    pub member_ips: Vec<(std::net::IpAddr, MintLevel)>,
    /// `cluster member vlan <N>` entries (refused by join-cluster: only IP links are allowed).
    pub member_vlans: Vec<u16>,
    /// `cluster ap-balance threshold|hold-down` (Roost; None: `no cluster ap-balance`).
    pub ap_balance: Option<roost_adoption::balance::BalanceSettings>,
    /// `interface vlan <X>` / `ip address A/M`.
    pub interfaces: Vec<(u16, Option<String>)>,
    pub default_gateway: Option<std::net::IpAddr>,
}

impl ClusterConfig {
    /// The configuration of a brand-new controller: its device section with defaults and the
    /// initial `admin` superuser.
    pub fn initial(mac: Mac, model: Model, hostname: &str, admin_password: &str) -> ClusterConfig {
        ClusterConfig::new_initial(mac, model, hostname, admin_password, None)
    }
    /// Like [`ClusterConfig::initial`], with the `admin` user's OPAQUE registration record for
    /// join-cluster made under the cluster's server setup.
    pub fn initial_with_join_keys(
        mac: Mac,
        model: Model,
        hostname: &str,
        admin_password: &str,
        join_keys: &roost_wire::pake::ServerKeys,
    ) -> ClusterConfig {
        ClusterConfig::new_initial(mac, model, hostname, admin_password, Some(join_keys))
    }
    pub fn parse(text: &str) -> Result<ClusterConfig, ConfigError> {
        ClusterConfig::parse_text(text)
    }
    pub fn to_text(&self) -> String {
        self.print()
    }
    /// Settings of the device with this MAC, if it has a section.
    pub fn device(&self, mac: Mac) -> Option<DeviceSettings> {
        self.settings(mac)
    }
    /// Settings of every device section, ordered by MAC.
    pub fn devices(&self) -> Vec<DeviceSettings> {
        self.devices
            .keys()
            .filter_map(|m| self.settings(*m))
            .collect()
    }
    /// The cluster name: that of the first device section (by MAC) which sets one.
    pub fn cluster_name(&self) -> Option<String> {
        self.devices.values().find_map(|d| d.cluster.name.clone())
    }
    /// Management users and their roles, by name.
    pub fn users(&self) -> Vec<(String, Role)> {
        self.users
            .iter()
            .map(|(n, u)| (n.clone(), u.role))
            .collect()
    }
    /// The stored (argon2) password hash of a user: lets a caller cache a successful check and
    /// notice when the password changes.
    pub fn password_hash(&self, user: &str) -> Option<&str> {
        self.users.get(user).map(|u| u.hash.as_str())
    }
    /// Checks a user's password (hashes in the config are argon2). An unknown user costs the
    /// same as a known one: the password is checked against a dummy hash with the same
    /// parameters, so the answer's timing does not tell which user names exist.
    pub fn authenticate(&self, user: &str, password: &str) -> Option<Role> {
        match self.users.get(user) {
            Some(u) => model::verify_password(&u.hash, password).then_some(u.role),
            None => {
                let _ = model::verify_password(dummy_hash(), password);
                None
            }
        }
    }
    /// A user's role and OPAQUE registration record for join-cluster: `None` if there is no such
    /// user, `Some((role, None))` if the user was set from a hash alone and must have the
    /// password set again before it can join controllers.
    pub fn join_record(&self, user: &str) -> Option<(Role, Option<&str>)> {
        self.users.get(user).map(|u| (u.role, u.opaque.as_deref()))
    }
    /// Authorised SSH public keys of a user (`user NAME ssh-key "ssh-ed25519 AAAA…"`).
    pub fn ssh_keys(&self, user: &str) -> Vec<String> {
        self.users
            .get(user)
            .map(|u| u.ssh_keys.clone())
            .unwrap_or_default()
    }
    /// A change that recreates the device section of `mac` as it is here (header and every
    /// non-default line), e.g. to carry a joiner's own section into the cluster configuration.
    pub fn device_change(&self, mac: Mac) -> Option<Change> {
        let d = self.devices.get(&mac)?;
        let header = model::device_header(d.model, mac);
        let mut change = Change::new().line(header.clone());
        let mut last_top = String::new();
        for l in ClusterConfig::device_lines(d) {
            if let Some(inner) = l.strip_prefix("  ") {
                change.push(vec![header.clone(), last_top.clone()], inner.to_string());
            } else {
                last_top = l.trim().to_string();
                change.push(vec![header.clone()], last_top.clone());
            }
        }
        Some(change)
    }
    /// Role of a user (for public-key logins).
    pub fn role(&self, user: &str) -> Option<Role> {
        self.users.get(user).map(|u| u.role)
    }
}

/// The hash unknown users are checked against: a random password hashed once per process with
/// the parameters of every stored hash ([`hash_password`]).
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let pw = hex_random();
        hash_password(&pw).unwrap_or_default()
    })
}

fn hex_random() -> String {
    rand::random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The empty configuration (`ConfigState::load("")`).
impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig::empty()
    }
}

impl DeviceSettings {
    /// The settings of a device without a section (all defaults).
    pub fn default_for(mac: Mac, model: Model) -> DeviceSettings {
        model::default_device_settings(mac, model)
    }
}

impl roost_core::ConfigState for ClusterConfig {
    type Error = ConfigError;
    fn apply(&mut self, change: &str) -> Result<(), ConfigError> {
        self.apply_change(change)
    }
    fn text(&self) -> String {
        self.to_text()
    }
    fn load(text: &str) -> Result<Self, ConfigError> {
        ClusterConfig::parse(text)
    }
}

/// A member's section is its device section (`<model> <MAC>`).
impl roost_core::MemberConfig for ClusterConfig {
    fn election_settings(
        &self,
        me: &roost_core::ElectionSettings,
    ) -> Option<roost_core::ElectionSettings> {
        let device = self.device(me.mac)?;
        Some(settings::election_settings(
            &settings::MemberFacts::of(me),
            Some(&device),
            self,
        ))
    }
    fn own_section(&self, me: &roost_core::ElectionSettings) -> Option<String> {
        self.device_change(me.mac).map(|c| c.to_text())
    }
}

/// What a session asks of the controller it runs on. Implemented by the daemon; blocking calls
/// (commit, join) are made from a blocking thread.
pub trait ControllerOps {
    /// Identity of the member the session runs on.
    fn identity(&self) -> Identity;
    /// The member's state at the latest moment published: every `show` renders from it.
    fn snapshot(&self) -> std::sync::Arc<MemberSnapshot>;
    /// The current running (committed, replicated) configuration, to edit.
    fn running_config(&self) -> ClusterConfig {
        (*self.snapshot().running).clone()
    }
    /// Commits `change` (the engine's change text) cluster-wide through the master.
    fn commit(&self, user: &str, change: &str) -> Result<RevisionId, String>;
    /// Saves `text` as this member's startup-config.
    fn write_startup_config(&self, text: &str) -> Result<(), String>;
    fn startup_config(&self) -> Result<String, String>;
    /// Runs join-cluster; `progress` receives the `... connecting to <ip>` lines as they happen.
    fn join_cluster(
        &self,
        req: JoinClusterRequest,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), String>;
    /// The cluster's OPAQUE server setup (derived from the cluster key), so that setting a
    /// clear-text password also makes the user's join-cluster registration record. `None`
    /// (the default) makes users without a record.
    fn join_server_keys(&self) -> Option<roost_wire::pake::ServerKeys> {
        None
    }
    /// `debug cfgd cluster` / `logging monitor debugging` for this session on or off.
    fn set_debug(&self, cluster_debug: bool, monitor: bool);
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub mac: Mac,
    pub model: Model,
    pub hostname: String,
    pub software_version: String,
    pub uptime_secs: u64,
    /// The controller's own address (`--ip`), if known: `cluster member ip` refuses it in the
    /// controller's own device section.
    pub ip: Option<std::net::IpAddr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinClusterRequest {
    pub primary: std::net::IpAddr,
    pub user: String,
    pub password: String,
    pub level: MintLevel,
    pub mode: ClusterMode,
    /// `fingerprint <sha256>`: accept only the primary whose TLS certificate has this SHA-256
    /// (64 hex digits, lowercase).
    pub fingerprint: Option<String>,
}

/// What one line produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub text: String,
    /// The line failed (`% …` error): an SSH exec exits non-zero, the API says so.
    pub error: bool,
    /// The session asked to end (`exit` at the top, `logout`, `quit`).
    pub close: bool,
}

/// One CLI session (SSH, `roost cli`, API): its mode, terminal settings and the uncommitted
/// changes entered in config modes (kept across `exit`/`end` until `commit` or `revert`).
pub struct Session {
    user: String,
    role: Role,
    mode: session::Mode,
    term_length: u32,
    term_width: u32,
    pending: Change,
    cluster_debug: bool,
    log_monitor: bool,
    /// This session's commands, passwords masked, for `show history` (oldest first).
    history: std::collections::VecDeque<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    Line(String),
    Candidates(Vec<String>),
}

/// The face a login came through. Failed logins back off per face and source address.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Face {
    Ssh,
    Api,
    Join,
}

impl std::fmt::Display for Face {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Face::Ssh => "SSH",
            Face::Api => "API",
            Face::Join => "join-cluster",
        })
    }
}

/// Where a login attempt comes from: the face and the client's address.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct LoginSource {
    pub face: Face,
    pub addr: std::net::IpAddr,
}

/// Why a password login did not succeed. The Display is the line the client sees.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// Wrong user name or password (which of the two is never said).
    #[error("invalid user name or password")]
    Rejected,
    /// This source failed too often recently; nothing was checked.
    #[error("too many failed logins from {addr}; try again in {retry_after_secs} s")]
    Backoff {
        addr: std::net::IpAddr,
        retry_after_secs: u64,
    },
    /// Every password-check slot is taken (or this source already has checks in progress);
    /// nothing was checked.
    #[error("too many logins in progress; try again in a moment")]
    Busy,
}

/// What [`CliService::check_password`] returns: it resolves once the (slow, argon2) check is
/// done, refused, or found to be over a limit.
pub type LoginFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Role, LoginError>> + Send>>;

/// The CLI as a service, for the transports (SSH server, HTTPS API, `roost cli`). Implemented
/// by the daemon on top of [`Session`] and its [`ControllerOps`]; the transports only move
/// lines and bytes. Methods may block (commit waits for the master): call them from a blocking
/// thread.
pub trait CliService: Send + Sync + 'static {
    /// Password login against the cluster's management users, from `source`. Await it on the
    /// async runtime: the check itself runs wherever the implementation bounds it (the daemon's
    /// `AuthGate`: a few low-priority threads, per-source backoff).
    fn check_password(&self, user: &str, password: &str, source: LoginSource) -> LoginFuture;
    /// Public-key login: `key_openssh` is `ssh-ed25519 AAAA…` (type and base64, no comment).
    fn check_public_key(&self, user: &str, key_openssh: &str) -> Option<Role>;
    /// Opens a session. `async_output` receives lines produced outside any command (the
    /// `debug cfgd cluster` stream once `logging monitor debugging` is on); it may be called
    /// from any thread until the session is dropped.
    fn open_session(
        &self,
        user: &str,
        role: Role,
        privileged: bool,
        async_output: Box<dyn Fn(String) + Send + Sync>,
    ) -> Box<dyn CliSession>;
}

/// One open CLI session behind a transport.
pub trait CliSession: Send {
    fn prompt(&mut self) -> String;
    fn execute(&mut self, line: &str) -> Output;
    fn help(&mut self, partial: &str) -> String;
    fn complete(&mut self, partial: &str) -> Completion;
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod auth_tests {
    use super::*;

    /// Unknown users are checked against a hash of the same cost as real ones, so the answer
    /// takes as long (the cost is in the parameters; timing itself is measured by the bench).
    #[test]
    fn the_dummy_hash_of_unknown_users_has_the_parameters_of_real_hashes() {
        let real = hash_password("x").unwrap();
        let params = |h: &str| h.split('$').take(4).collect::<Vec<_>>().join("$");
        assert!(params(&real).starts_with("$argon2"), "{real}");
        assert_eq!(params(dummy_hash()), params(&real));
        assert!(model::check_hash(dummy_hash()).is_ok());
        assert!(ClusterConfig::default()
            .authenticate("nobody", "x")
            .is_none());
    }
}
