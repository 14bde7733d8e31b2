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

pub mod views;

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
pub enum ConfigError {
    #[error("line {line}: {message}")]
    Parse { line: usize, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// The cluster-wide configuration. TODO(helper): model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    _todo: (),
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
    /// `interface vlan <X>` / `ip address A/M`.
    pub interfaces: Vec<(u16, Option<String>)>,
    pub default_gateway: Option<std::net::IpAddr>,
}

impl ClusterConfig {
    /// The configuration of a brand-new controller: its device section with defaults and the
    /// initial `admin` superuser.
    pub fn initial(mac: Mac, model: Model, hostname: &str, admin_password: &str) -> ClusterConfig {
        let _ = (mac, model, hostname, admin_password);
        todo!()
    }
    pub fn parse(text: &str) -> Result<ClusterConfig, ConfigError> {
        let _ = text;
        todo!()
    }
    pub fn to_text(&self) -> String {
        todo!()
    }
    /// Settings of the device with this MAC, if it has a section.
    pub fn device(&self, mac: Mac) -> Option<DeviceSettings> {
        let _ = mac;
        todo!()
    }
    /// Checks a user's password (hashes in the config are argon2).
    pub fn authenticate(&self, user: &str, password: &str) -> Option<Role> {
        let _ = (user, password);
        todo!()
    }
    /// Authorised SSH public keys of a user (`user NAME ssh-key "ssh-ed25519 AAAA…"`).
    pub fn ssh_keys(&self, user: &str) -> Vec<String> {
        let _ = user;
        todo!()
    }
}

/// What a session asks of the controller it runs on. Implemented by the daemon; blocking calls
/// (commit, join) are made from a blocking thread.
pub trait ControllerOps {
    /// Identity of the member the session runs on.
    fn identity(&self) -> Identity;
    /// The current running (committed, replicated) configuration.
    fn running_config(&self) -> ClusterConfig;
    /// Commits `change` (the engine's change text) cluster-wide through the master.
    fn commit(&self, user: &str, change: &str) -> Result<RevisionId, String>;
    /// Saves `text` as this member's startup-config.
    fn write_startup_config(&self, text: &str) -> Result<(), String>;
    fn startup_config(&self) -> Result<String, String>;
    fn cluster_status(&self) -> ClusterStatus;
    fn cluster_members(&self) -> Vec<MemberRow>;
    fn cluster_history(&self) -> Vec<HistoryRow>;
    fn revisions(&self) -> RevisionsView;
    /// Runs join-cluster; `progress` receives the `... connecting to <ip>` lines as they happen.
    fn join_cluster(&self, req: JoinClusterRequest, progress: &mut dyn FnMut(&str)) -> Result<(), String>;
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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinClusterRequest {
    pub primary: std::net::IpAddr,
    pub user: String,
    pub password: String,
    pub level: MintLevel,
    pub mode: ClusterMode,
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

/// One CLI session (SSH, `roost cli`, API). TODO(helper).
pub struct Session {
    _todo: (),
}

impl Session {
    /// A session for `user` with `role`. `privileged`: start in `#` mode (exec requests, API).
    pub fn new(user: &str, role: Role, privileged: bool) -> Session {
        let _ = (user, role, privileged);
        todo!()
    }
    /// The prompt for the current mode, e.g. `vx9000-1(config-device-52-54-00-E1-EE-16)#`.
    pub fn prompt(&self, ops: &dyn ControllerOps) -> String {
        let _ = ops;
        todo!()
    }
    /// Runs one line.
    pub fn execute(&mut self, line: &str, ops: &dyn ControllerOps) -> Output {
        let _ = (line, ops);
        todo!()
    }
    /// `?` help for a partial line (the text before the `?`).
    pub fn help(&self, partial: &str, ops: &dyn ControllerOps) -> String {
        let _ = (partial, ops);
        todo!()
    }
    /// Tab completion: the completed line if unique, else the candidates.
    pub fn complete(&self, partial: &str, ops: &dyn ControllerOps) -> Completion {
        let _ = (partial, ops);
        todo!()
    }
    /// `terminal length` setting (0 = no paging).
    pub fn terminal_length(&self) -> u32 {
        todo!()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    Line(String),
    Candidates(Vec<String>),
}

/// The CLI as a service, for the transports (SSH server, HTTPS API, `roost cli`). Implemented
/// by the daemon on top of [`Session`] and its [`ControllerOps`]; the transports only move
/// lines and bytes. Methods may block (commit waits for the master): call them from a blocking
/// thread.
pub trait CliService: Send + Sync + 'static {
    /// Password login against the cluster's management users.
    fn check_password(&self, user: &str, password: &str) -> Option<Role>;
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
