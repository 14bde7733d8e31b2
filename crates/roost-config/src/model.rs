//! The configuration model: data, text printer, and the line applier shared by
//! `ClusterConfig::parse`, change replay (`ConfigState::apply`) and the session's config modes.
//!
//! Config text and change text have one syntax: section header lines at column 0, the section's
//! commands indented by one space per level (`interface vlan N` opens a level inside a device
//! section). A header line is itself a command: it creates the object if needed, then enters it.

use crate::{ClusterConfig, ConfigError, DeviceSettings, Role};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use roost_wire::{ClusterMode, Mac, MintLevel, Model};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// Config text format version (`version 1`).
pub const CONFIG_VERSION: u32 = 1;
/// First line of a whole-config replacement change.
pub const REPLACE_CONFIG: &str = "replace-config";

pub(crate) const DEFAULT_PRIORITY: u8 = 128;
pub(crate) const DEFAULT_DELAY_MINUTES: u32 = 5;
pub(crate) const DEFAULT_RADIUS_MINUTES: u32 = 5;
pub(crate) const DEFAULT_HELLO_MS: u32 = 100;
pub(crate) const DEFAULT_DEAD_MS: u32 = 300;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct User {
    /// argon2 PHC string.
    pub hash: String,
    /// OPAQUE registration record (hex, [`roost_wire::pake::register`]) for join-cluster: made
    /// with the hash whenever a clear-text password is set on a member holding the cluster
    /// key; `None` for users set from a hash alone (`password 1 <hash>`), which cannot join.
    pub opaque: Option<String>,
    pub role: Role,
    pub ssh_keys: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Wlan {
    pub ssid: Option<String>,
    pub vlan: Option<u16>,
    pub shutdown: bool,
    pub encryption: WlanEncryption,
    pub authentication: WlanAuthentication,
    /// The WPA2 passphrase (8-63 characters) or 64 hex digits. It stays on the controllers
    /// (replicated sealed, in the startup-config file); every face shows [`crate::MASK`].
    pub psk: Option<String>,
}

/// A WLAN's `encryption-type`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WlanEncryption {
    #[default]
    None,
    Ccmp,
    TkipCcmp,
}

impl std::fmt::Display for WlanEncryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WlanEncryption::None => "none",
            WlanEncryption::Ccmp => "ccmp",
            WlanEncryption::TkipCcmp => "tkip-ccmp",
        })
    }
}

/// A WLAN's `authentication-type`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WlanAuthentication {
    #[default]
    None,
    Eap,
}

impl std::fmt::Display for WlanAuthentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WlanAuthentication::None => "none",
            WlanAuthentication::Eap => "eap",
        })
    }
}

/// The AP model keywords of WiNG 5.9 a profile may be for (`profile <model> <name>`).
pub const AP_MODELS: &[&str] = &[
    "ap6521", "ap6522", "ap6532", "ap6562", "ap7161", "ap7502", "ap7522", "ap7532", "ap7562",
    "ap7602", "ap7612", "ap7622", "ap7632", "ap7662", "ap8163", "ap8432", "ap8533",
];

/// The radios a profile may configure (`interface radio1` … `radio3`).
pub const RADIOS: u8 = 3;

/// An AP profile (`profile ap7532 default-ap7532`): the controllers its APs are told and the
/// WLANs on each radio.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Profile {
    pub model: String,
    /// `controller host <IP> pool <1|2> level <1|2>`.
    pub controllers: BTreeMap<Ipv4Addr, (u8, u8)>,
    /// Radio → BSS → (WLAN name, primary).
    pub radios: BTreeMap<u8, BTreeMap<u8, (String, bool)>>,
    /// `capwap …` (Roost extensions): the adoption timers its APs are told.
    pub timers: ApTimerSettings,
    /// `adoption start-delay min <0-30> max <0-30>` (seconds). None, Roost's default: no
    /// delay (WiNG's default is 5 to 20 s; see `default_start_delay`).
    pub start_delay: Option<(u8, u8)>,
}

/// WiNG's `adoption start-delay` defaults (min 5, max 20 s): what `adoption start-delay`
/// alone sets. Roost does not apply them unasked: its AC admits a cold start of a full
/// platform in seconds (the bench), so the delay would only lengthen a site's recovery.
pub(crate) const WING_START_DELAY: (u8, u8) = (5, 20);

/// Roost's sub-second failure-detection timers, sent to Roost WTPs in a Vendor Specific
/// element (`capwap fast-timers echo <ms> retransmit <ms> count <n>`): the retransmit
/// interval and count are WTP-local in CAPWAP, so only a WTP that honours the element runs
/// them; a foreign WTP ignores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastTimerSettings {
    pub echo_ms: u32,
    pub retransmit_ms: u32,
    pub count: u8,
}

/// An AP's device section, written only when an operator edits it (`ap7532 <MAC>`,
/// `hostname …`): adoption itself never writes a configuration revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApDevice {
    /// The AP model keyword (`ap7532`).
    pub model: String,
    /// `hostname <NAME>`: the AP is told it (CAPWAP WTP Name) and shown under it.
    pub hostname: Option<String>,
}

/// The adoption timers a profile's APs are told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApTimerSettings {
    /// `capwap echo-interval <1-255>` (s): CAPWAP Timers' EchoInterval (RFC 5415: 30).
    pub echo_secs: u8,
    /// `capwap discovery-interval <2-180>` (s): CAPWAP Timers' MaxDiscoveryInterval (5).
    pub discovery_secs: u8,
    /// Roost's fast timers (None: `no capwap fast-timers`, the RFC's rules for every WTP).
    pub fast: Option<FastTimerSettings>,
}

impl ApTimerSettings {
    /// What a profile without `capwap` commands tells its APs: the RFC's CAPWAP Timers, and
    /// Roost's fast timers (echo 5 s, retransmit 300 ms, 3 retransmissions) to Roost WTPs.
    pub const DEFAULT: ApTimerSettings = ApTimerSettings {
        echo_secs: 30,
        discovery_secs: 5,
        fast: Some(FastTimerSettings {
            echo_ms: 5000,
            retransmit_ms: 300,
            count: 3,
        }),
    };
}

impl Default for ApTimerSettings {
    fn default() -> Self {
        ApTimerSettings::DEFAULT
    }
}

/// One WLAN as an AP must carry it, resolved through its model's default profile
/// ([`ClusterConfig::ap_wlans`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApWlan {
    pub radio: u8,
    pub bss: u8,
    pub wlan: String,
    pub ssid: String,
    pub vlan: Option<u16>,
    pub encryption: WlanEncryption,
    pub authentication: WlanAuthentication,
    pub psk: Option<String>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Delay {
    Minutes(u32),
    Seconds(u32),
}

/// `license grace-period <0-100>` (days, WiNG's unit) or the Roost extension
/// `license grace-period <0-8640000> seconds`: how long a lost member's licenses stay in the
/// cluster's pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GracePeriod {
    Days(u32),
    Seconds(u32),
}

/// WiNG's longest grace period, and Roost's default.
pub const DEFAULT_LICENSE_GRACE_DAYS: u32 = 100;

impl GracePeriod {
    pub(crate) fn duration(self) -> Duration {
        match self {
            GracePeriod::Days(d) => Duration::from_secs(u64::from(d) * 86_400),
            GracePeriod::Seconds(s) => Duration::from_secs(u64::from(s)),
        }
    }
}

impl Delay {
    fn duration(self) -> Duration {
        match self {
            Delay::Minutes(m) => Duration::from_secs(u64::from(m) * 60),
            Delay::Seconds(s) => Duration::from_secs(u64::from(s)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClusterCfg {
    pub name: Option<String>,
    pub mode: ClusterMode,
    pub priority: u8,
    pub force_configured_state: bool,
    pub delay: Delay,
    pub handle_stp: bool,
    pub radius_minutes: u32,
    pub hello_ms: u32,
    pub dead_ms: u32,
    pub member_ips: BTreeMap<Ipv4Addr, MintLevel>,
    pub member_vlans: BTreeSet<u16>,
    /// `cluster ap-balance …` (Roost): None after `no cluster ap-balance`.
    pub ap_balance: Option<roost_adoption::balance::BalanceSettings>,
}

impl Default for ClusterCfg {
    fn default() -> Self {
        ClusterCfg {
            name: None,
            mode: ClusterMode::Active,
            priority: DEFAULT_PRIORITY,
            force_configured_state: false,
            delay: Delay::Minutes(DEFAULT_DELAY_MINUTES),
            handle_stp: false,
            radius_minutes: DEFAULT_RADIUS_MINUTES,
            hello_ms: DEFAULT_HELLO_MS,
            dead_ms: DEFAULT_DEAD_MS,
            member_ips: BTreeMap::new(),
            member_vlans: BTreeSet::new(),
            ap_balance: Some(roost_adoption::balance::BalanceSettings::default()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Device {
    pub model: Model,
    pub hostname: Option<String>,
    /// `use auto-provisioning-policy <NAME>`.
    pub policy: Option<String>,
    /// `use dhcp-server-policy <NAME>`.
    pub dhcp_policy: Option<String>,
    pub interfaces: BTreeMap<u16, Option<(Ipv4Addr, u8)>>,
    pub gateway: Option<Ipv4Addr>,
    pub cluster: ClusterCfg,
}

impl Device {
    fn new(model: Model) -> Device {
        Device {
            model,
            hostname: None,
            policy: None,
            dhcp_policy: None,
            interfaces: BTreeMap::new(),
            gateway: None,
            cluster: ClusterCfg::default(),
        }
    }
}

/// The settings of a device without a section of its own: every default of the model.
pub(crate) fn default_device_settings(mac: Mac, model: Model) -> DeviceSettings {
    device_settings(mac, &Device::new(model))
}

fn device_settings(mac: Mac, d: &Device) -> DeviceSettings {
    let c = &d.cluster;
    DeviceSettings {
        mac,
        model: d.model,
        hostname: d
            .hostname
            .clone()
            .unwrap_or_else(|| mac.default_hostname(d.model)),
        cluster_name: c.name.clone().unwrap_or_default(),
        cluster_mode: c.mode,
        master_priority: c.priority,
        force_configured_state: c.force_configured_state,
        force_configured_state_delay: c.delay.duration(),
        handle_stp: c.handle_stp,
        radius_counter_db_sync_time_minutes: c.radius_minutes,
        hello_interval: Duration::from_millis(u64::from(c.hello_ms)),
        dead_interval: Duration::from_millis(u64::from(c.dead_ms)),
        member_ips: c
            .member_ips
            .iter()
            .map(|(ip, l)| (IpAddr::V4(*ip), *l))
            .collect(),
        member_vlans: c.member_vlans.iter().copied().collect(),
        ap_balance: c.ap_balance,
        interfaces: d
            .interfaces
            .iter()
            .map(|(v, ip)| (*v, ip.map(|(a, m)| format!("{a}/{m}"))))
            .collect(),
        default_gateway: d.gateway.map(IpAddr::V4),
    }
}

/// The configuration context a command runs in (the session's config mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ctx {
    Global,
    /// `auto-provisioning-policy <NAME>`.
    Policy(String),
    /// An AP's device section (`ap7532 <MAC>`).
    ApDevice(Mac),
    UserMgmt,
    Wlan(String),
    Profile(String),
    /// A profile's `interface radio<N>`.
    Radio(String, u8),
    Device(Mac),
    Interface(Mac, u16),
    /// `dhcp-server-policy <NAME>`.
    DhcpPolicy(String),
    /// A DHCP server policy's `dhcp-pool <NAME>`: (policy, pool).
    DhcpPool(String, String),
}

pub(crate) use crate::mask::mask_passwords as redact;

/// Hashes a clear-text password with argon2id (OWASP parameters: m=19456 KiB, t=2, p=1).
pub fn hash_password(password: &str) -> Result<String, ConfigError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ConfigError::Invalid(format!("cannot hash password: {e}")))
}

/// Checks that `hash` is an argon2 PHC string with sane costs (so that verifying it cannot be
/// used to exhaust the controller).
pub(crate) fn check_hash(hash: &str) -> Result<(), String> {
    let bad = || {
        "password hash must be an argon2 PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash)"
            .to_string()
    };
    let parsed = PasswordHash::new(hash).map_err(|_| bad())?;
    if !matches!(
        parsed.algorithm.as_str(),
        "argon2id" | "argon2i" | "argon2d"
    ) || parsed.hash.is_none()
    {
        return Err(bad());
    }
    let params = argon2::Params::try_from(&parsed).map_err(|_| bad())?;
    if params.m_cost() > 262_144 || params.t_cost() > 16 || params.p_cost() > 16 {
        return Err("password hash cost too high (limits: m=262144, t=16, p=16)".into());
    }
    Ok(())
}

pub(crate) fn verify_password(hash: &str, password: &str) -> bool {
    if check_hash(hash).is_err() {
        return false;
    }
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

fn is_word(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_graphic())
}

pub(crate) fn check_word(what: &str, s: &str, max: usize) -> Result<String, String> {
    if is_word(s, max) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "invalid {what} '{s}': 1-{max} printable characters without spaces"
        ))
    }
}

fn check_hostname(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && s.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "invalid hostname '{s}': 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
        ))
    }
}

/// Parses a decimal number in `lo..=hi`; `what` names the setting in the error.
pub(crate) fn num(what: &str, s: &str, lo: u64, hi: u64) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what}: '{s}' is not a number <{lo}-{hi}>"));
    }
    match s.parse::<u64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(format!("{what} {s} is out of range <{lo}-{hi}>")),
    }
}

fn ipv4(what: &str, s: &str) -> Result<Ipv4Addr, String> {
    s.parse::<Ipv4Addr>()
        .map_err(|_| format!("{what}: '{s}' is not an IPv4 address A.B.C.D"))
}

fn prefix(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let bad = || format!("ip address: '{s}' is not of the form A.B.C.D/M");
    let (a, m) = s.split_once('/').ok_or_else(bad)?;
    let a = a.parse::<Ipv4Addr>().map_err(|_| bad())?;
    let m = num("ip address mask length", m, 0, 32).map_err(|_| bad())? as u8;
    Ok((a, m))
}

fn level(s: &str) -> Result<MintLevel, String> {
    let n = num("level", s, 1, 2)?;
    MintLevel::from_number(n as u8).ok_or_else(|| format!("level {s} is out of range <1-2>"))
}

fn role_of(s: &str) -> Result<Role, String> {
    match s {
        "superuser" => Ok(Role::Superuser),
        "monitor" => Ok(Role::Monitor),
        _ => Err(format!("unknown role '{s}': superuser or monitor")),
    }
}

pub(crate) fn role_name(r: Role) -> &'static str {
    match r {
        Role::Superuser => "superuser",
        Role::Monitor => "monitor",
    }
}

fn mac_of(s: &str) -> Result<Mac, String> {
    s.parse::<Mac>()
        .map_err(|_| format!("'{s}' is not a MAC address AA-BB-CC-DD-EE-FF"))
}

pub(crate) fn model_of(s: &str) -> Option<Model> {
    Model::ALL.into_iter().find(|m| m.prefix() == s)
}

pub(crate) fn device_header(model: Model, mac: Mac) -> String {
    format!("{} {}", model.prefix(), mac)
}

fn unknown(ctx: &Ctx, toks: &[&str]) -> String {
    let what = match ctx {
        Ctx::Global => "at top level".to_string(),
        Ctx::UserMgmt => "in user-management".to_string(),
        Ctx::Wlan(n) => format!("in wlan {n}"),
        Ctx::Profile(n) => format!("in profile {n}"),
        Ctx::Radio(n, r) => format!("in profile {n} interface radio{r}"),
        Ctx::Device(m) => format!("in device {m}"),
        Ctx::Interface(m, v) => format!("in device {m} interface vlan {v}"),
        Ctx::ApDevice(m) => format!("in device {m}"),
        Ctx::Policy(n) => format!("in auto-provisioning-policy {n}"),
        Ctx::DhcpPolicy(n) => format!("in dhcp-server-policy {n}"),
        Ctx::DhcpPool(n, p) => format!("in dhcp-server-policy {n} dhcp-pool {p}"),
    };
    format!("unknown command '{}' {what}", redact(&toks.join(" ")))
}

impl ClusterConfig {
    pub(crate) fn empty() -> ClusterConfig {
        ClusterConfig {
            users: BTreeMap::new(),
            wlans: BTreeMap::new(),
            profiles: BTreeMap::new(),
            devices: BTreeMap::new(),
            ap_devices: BTreeMap::new(),
            policies: BTreeMap::new(),
            dhcp_policies: BTreeMap::new(),
            license_grace: None,
            ap_firmware: BTreeMap::new(),
            enforce_version: roost_adoption::firmware::EnforceVersion::Strict,
        }
    }

    /// The firmware gate the AC applies (`ap-firmware`, `enforce-version adoption`).
    pub fn firmware_gate(&self) -> roost_adoption::firmware::FirmwareGate {
        roost_adoption::firmware::FirmwareGate {
            level: self.enforce_version,
            expected: self
                .ap_firmware
                .iter()
                .map(|(m, v)| (m.to_ascii_uppercase(), v.clone()))
                .collect(),
        }
    }

    /// How long a lost member's licenses stay in the pool (`license grace-period`).
    pub fn license_grace_period(&self) -> Duration {
        self.license_grace
            .unwrap_or(GracePeriod::Days(DEFAULT_LICENSE_GRACE_DAYS))
            .duration()
    }

    /// `profile <model> <name>`, the header line of a profile's section.
    pub(crate) fn profile_header(&self, name: &str) -> String {
        match self.profiles.get(name) {
            Some(p) => format!("profile {} {name}", p.model),
            None => format!("profile {name}"),
        }
    }

    /// `ap7532 <MAC>`, the header line of an AP's device section.
    pub(crate) fn ap_device_header(&self, mac: Mac) -> String {
        match self.ap_devices.get(&mac) {
            Some(d) => format!("{} {mac}", d.model),
            None => format!("device {mac}"),
        }
    }

    pub(crate) fn device_model(&self, mac: Mac) -> Option<Model> {
        self.devices.get(&mac).map(|d| d.model)
    }

    fn superusers(&self) -> usize {
        self.users
            .values()
            .filter(|u| u.role == Role::Superuser)
            .count()
    }

    /// Runs one command (tokens of a line, full keywords) in `ctx`. Returns the context the
    /// command enters, if it is a section header.
    pub(crate) fn exec(&mut self, ctx: &Ctx, toks: &[&str]) -> Result<Option<Ctx>, String> {
        match ctx {
            Ctx::Global => self.exec_global(toks),
            Ctx::Policy(name) => {
                let p = self
                    .policies
                    .get_mut(name)
                    .ok_or_else(|| format!("auto-provisioning-policy {name} does not exist"))?;
                crate::provisioning::exec_policy(p, toks).map_err(|e| {
                    if e.is_empty() {
                        unknown(ctx, toks)
                    } else {
                        e
                    }
                })?;
                Ok(None)
            }
            Ctx::DhcpPolicy(name) => {
                let p = self
                    .dhcp_policies
                    .get_mut(name)
                    .ok_or_else(|| format!("dhcp-server-policy {name} does not exist"))?;
                match crate::dhcp::exec_policy(p, toks) {
                    Ok(Some(pool)) => Ok(Some(Ctx::DhcpPool(name.clone(), pool))),
                    Ok(None) => Ok(None),
                    Err(e) if e.is_empty() => Err(unknown(ctx, toks)),
                    Err(e) => Err(e),
                }
            }
            Ctx::DhcpPool(name, pool) => {
                let p = self
                    .dhcp_policies
                    .get_mut(name)
                    .ok_or_else(|| format!("dhcp-server-policy {name} does not exist"))?;
                crate::dhcp::exec_pool(p, pool, toks).map_err(|e| {
                    if e.is_empty() {
                        unknown(ctx, toks)
                    } else {
                        e
                    }
                })?;
                Ok(None)
            }
            Ctx::ApDevice(mac) => {
                let d = self
                    .ap_devices
                    .get_mut(mac)
                    .ok_or_else(|| format!("device {mac} does not exist"))?;
                match toks {
                    ["hostname", h] => d.hostname = Some(check_hostname(h)?),
                    ["no", "hostname"] | ["no", "hostname", _] => d.hostname = None,
                    _ => return Err(unknown(ctx, toks)),
                }
                Ok(None)
            }
            Ctx::UserMgmt => self.exec_users(toks).map(|_| None),
            Ctx::Wlan(name) => {
                let w = self
                    .wlans
                    .get_mut(name)
                    .ok_or_else(|| format!("wlan {name} does not exist"))?;
                exec_wlan(w, toks)
                    .map_err(|e| if e.is_empty() { unknown(ctx, toks) } else { e })?;
                Ok(None)
            }
            Ctx::Profile(name) => {
                let p = self
                    .profiles
                    .get_mut(name)
                    .ok_or_else(|| format!("profile {name} does not exist"))?;
                match exec_profile(p, toks) {
                    Ok(Some(radio)) => Ok(Some(Ctx::Radio(name.clone(), radio))),
                    Ok(None) => Ok(None),
                    Err(e) if e.is_empty() => Err(unknown(ctx, toks)),
                    Err(e) => Err(e),
                }
            }
            Ctx::Radio(name, radio) => {
                let r = self
                    .profiles
                    .get_mut(name)
                    .and_then(|p| p.radios.get_mut(radio))
                    .ok_or_else(|| {
                        format!("interface radio{radio} does not exist in profile {name}")
                    })?;
                exec_radio(r, toks)
                    .map_err(|e| if e.is_empty() { unknown(ctx, toks) } else { e })?;
                Ok(None)
            }
            Ctx::Device(mac) => {
                let d = self
                    .devices
                    .get_mut(mac)
                    .ok_or_else(|| format!("device {mac} does not exist"))?;
                match exec_device(d, toks) {
                    Ok(Some(vlan)) => Ok(Some(Ctx::Interface(*mac, vlan))),
                    Ok(None) => Ok(None),
                    Err(e) if e.is_empty() => Err(unknown(ctx, toks)),
                    Err(e) => Err(e),
                }
            }
            Ctx::Interface(mac, vlan) => {
                let d = self
                    .devices
                    .get_mut(mac)
                    .ok_or_else(|| format!("device {mac} does not exist"))?;
                let i = d.interfaces.get_mut(vlan).ok_or_else(|| {
                    format!("interface vlan {vlan} does not exist on device {mac}")
                })?;
                match toks {
                    ["ip", "address", p] => *i = Some(prefix(p)?),
                    ["no", "ip", "address"] | ["no", "ip", "address", _] => *i = None,
                    _ => return Err(unknown(ctx, toks)),
                }
                Ok(None)
            }
        }
    }

    fn exec_global(&mut self, toks: &[&str]) -> Result<Option<Ctx>, String> {
        match toks {
            ["version", v] => {
                if *v == CONFIG_VERSION.to_string() {
                    Ok(None)
                } else {
                    Err(format!(
                        "unsupported configuration version {v} (this is version {CONFIG_VERSION})"
                    ))
                }
            }
            ["user-management"] => Ok(Some(Ctx::UserMgmt)),
            ["auto-provisioning-policy", name] => {
                let name = check_word(
                    "auto-provisioning-policy name",
                    name,
                    crate::provisioning::POLICY_NAME_MAX,
                )?;
                self.policies.entry(name.clone()).or_insert_with(|| {
                    roost_adoption::policy::Policy::new(&name, vec![], false, false)
                });
                Ok(Some(Ctx::Policy(name)))
            }
            ["no", "auto-provisioning-policy", name] => {
                if let Some((mac, _)) = self
                    .devices
                    .iter()
                    .find(|(_, d)| d.policy.as_deref() == Some(*name))
                {
                    return Err(format!(
                        "auto-provisioning-policy {name} is in use by device {mac}"
                    ));
                }
                match self.policies.remove(*name) {
                    Some(_) => Ok(None),
                    None => Err(format!("auto-provisioning-policy {name} does not exist")),
                }
            }
            ["dhcp-server-policy", name] => {
                let name = check_word("dhcp-server-policy name", name, crate::dhcp::DHCP_NAME_MAX)?;
                self.dhcp_policies.entry(name.clone()).or_default();
                Ok(Some(Ctx::DhcpPolicy(name)))
            }
            ["no", "dhcp-server-policy", name] => {
                if let Some((mac, _)) = self
                    .devices
                    .iter()
                    .find(|(_, d)| d.dhcp_policy.as_deref() == Some(*name))
                {
                    return Err(format!(
                        "dhcp-server-policy {name} is in use by device {mac}"
                    ));
                }
                match self.dhcp_policies.remove(*name) {
                    Some(_) => Ok(None),
                    None => Err(format!("dhcp-server-policy {name} does not exist")),
                }
            }
            ["license", "grace-period", d] => {
                let d = num("license grace-period (days)", d, 0, 100)? as u32;
                self.license_grace =
                    (d != DEFAULT_LICENSE_GRACE_DAYS).then_some(GracePeriod::Days(d));
                Ok(None)
            }
            ["license", "grace-period", s, "seconds"] => {
                let s = num("license grace-period (seconds)", s, 0, 8_640_000)? as u32;
                self.license_grace = Some(GracePeriod::Seconds(s));
                Ok(None)
            }
            ["ap-firmware", m, v] => {
                let m = ap_model(m)?;
                let v = check_word("ap-firmware version", v, 64)?;
                self.ap_firmware.insert(m, v);
                Ok(None)
            }
            ["no", "ap-firmware", m] => match self.ap_firmware.remove(&m.to_ascii_lowercase()) {
                Some(_) => Ok(None),
                None => Err(format!("no ap-firmware is configured for {m}")),
            },
            ["enforce-version", "adoption", l] => {
                self.enforce_version = roost_adoption::firmware::EnforceVersion::from_keyword(l)
                    .ok_or_else(|| {
                        format!(
                            "enforce-version adoption: '{l}' is not one of strict, full, minor, major, none"
                        )
                    })?;
                Ok(None)
            }
            ["no", "enforce-version", "adoption"] => {
                self.enforce_version = roost_adoption::firmware::EnforceVersion::Strict;
                Ok(None)
            }
            ["no", "license", "grace-period", ..] => {
                self.license_grace = None;
                Ok(None)
            }
            ["wlan", name] => {
                let name = check_word("wlan name", name, 32)?;
                self.wlans.entry(name.clone()).or_default();
                Ok(Some(Ctx::Wlan(name)))
            }
            ["no", "wlan", name] => match self.wlans.remove(*name) {
                Some(_) => Ok(None),
                None => Err(format!("wlan {name} does not exist")),
            },
            ["profile", model, name] => {
                let model = ap_model(model)?;
                let name = check_word("profile name", name, 32)?;
                match self.profiles.get(&name) {
                    Some(p) if p.model != model => Err(format!(
                        "profile {name} is a {} profile, not {model}",
                        p.model
                    )),
                    Some(_) => Ok(Some(Ctx::Profile(name))),
                    None => {
                        self.profiles.insert(
                            name.clone(),
                            Profile {
                                model,
                                controllers: BTreeMap::new(),
                                radios: BTreeMap::new(),
                                timers: ApTimerSettings::DEFAULT,
                                start_delay: None,
                            },
                        );
                        Ok(Some(Ctx::Profile(name)))
                    }
                }
            }
            ["no", "profile", model, name] => {
                let model = ap_model(model)?;
                match self.profiles.get(*name) {
                    Some(p) if p.model == model => {
                        self.profiles.remove(*name);
                        Ok(None)
                    }
                    _ => Err(format!("profile {model} {name} does not exist")),
                }
            }
            [m, mac] if AP_MODELS.contains(m) => {
                let mac = mac_of(mac)?;
                match self.ap_devices.get(&mac) {
                    Some(d) if d.model != *m => {
                        Err(format!("device {mac} is an {}, not an {m}", d.model))
                    }
                    Some(_) => Ok(Some(Ctx::ApDevice(mac))),
                    None if self.devices.contains_key(&mac) => {
                        Err(format!("device {mac} is a controller's section"))
                    }
                    None => {
                        self.ap_devices.insert(
                            mac,
                            ApDevice {
                                model: m.to_string(),
                                hostname: None,
                            },
                        );
                        Ok(Some(Ctx::ApDevice(mac)))
                    }
                }
            }
            ["no", m, mac] if AP_MODELS.contains(m) => {
                let mac = mac_of(mac)?;
                match self.ap_devices.get(&mac) {
                    Some(d) if d.model == *m => {
                        self.ap_devices.remove(&mac);
                        Ok(None)
                    }
                    _ => Err(format!("device {m} {mac} does not exist")),
                }
            }
            [m, mac] if model_of(m).is_some() => {
                let model = model_of(m).unwrap_or(Model::Vx9000);
                let mac = mac_of(mac)?;
                match self.devices.get(&mac) {
                    Some(d) if d.model != model => Err(format!(
                        "device {mac} is a {}, not a {}",
                        d.model.prefix(),
                        model.prefix()
                    )),
                    Some(_) => Ok(Some(Ctx::Device(mac))),
                    None => {
                        self.devices.insert(mac, Device::new(model));
                        Ok(Some(Ctx::Device(mac)))
                    }
                }
            }
            ["no", m, mac] if model_of(m).is_some() => {
                let model = model_of(m).unwrap_or(Model::Vx9000);
                let mac = mac_of(mac)?;
                match self.devices.get(&mac) {
                    Some(d) if d.model != model => Err(format!(
                        "device {mac} is a {}, not a {}",
                        d.model.prefix(),
                        model.prefix()
                    )),
                    Some(_) => {
                        self.devices.remove(&mac);
                        Ok(None)
                    }
                    None => Err(format!("device {mac} does not exist")),
                }
            }
            _ => Err(unknown(&Ctx::Global, toks)),
        }
    }

    fn exec_users(&mut self, toks: &[&str]) -> Result<(), String> {
        let before = self.superusers();
        match toks {
            ["user", name, "password", "1", hash, "role", role, rest @ ..] => {
                let name = check_word("user name", name, 32)?;
                check_hash(hash)?;
                let role = role_of(role)?;
                // The record belongs to the password: a hash given without one drops it.
                let opaque = match rest {
                    [] => None,
                    ["opaque", rec] => {
                        roost_wire::pake::check_record(rec)?;
                        Some(rec.to_ascii_lowercase())
                    }
                    _ => return Err(unknown(&Ctx::UserMgmt, toks)),
                };
                let u = self.users.entry(name).or_insert(User {
                    hash: String::new(),
                    opaque: None,
                    role,
                    ssh_keys: Vec::new(),
                });
                u.hash = hash.to_string();
                u.opaque = opaque;
                u.role = role;
            }
            ["user", _, "password", ..] => {
                return Err(
                    "clear-text password not allowed in configuration text: use 'password 1 <argon2 hash>'".into(),
                )
            }
            ["user", name, "ssh-key", ty, key] => {
                let u = self.users.get_mut(*name).ok_or_else(|| {
                    format!("user {name} does not exist (create it with a password first)")
                })?;
                let ok_ty = !ty.is_empty()
                    && ty.len() <= 64
                    && ty.bytes().all(|b| b.is_ascii_alphanumeric() || b"-@.".contains(&b));
                let ok_key = !key.is_empty()
                    && key.len() <= 16_384
                    && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
                if !ok_ty || !ok_key {
                    return Err("ssh-key must be '<type> <base64>', e.g. 'ssh-ed25519 AAAAC3Nz...'".into());
                }
                let k = format!("{ty} {key}");
                if !u.ssh_keys.contains(&k) {
                    u.ssh_keys.push(k);
                }
            }
            ["no", "user", name] => {
                if self.users.remove(*name).is_none() {
                    return Err(format!("user {name} does not exist"));
                }
            }
            ["no", "user", name, "ssh-key"] => {
                let u = self.users.get_mut(*name).ok_or_else(|| format!("user {name} does not exist"))?;
                u.ssh_keys.clear();
            }
            _ => return Err(unknown(&Ctx::UserMgmt, toks)),
        }
        if before > 0 && self.superusers() == 0 {
            return Err("cannot remove the last superuser".into());
        }
        Ok(())
    }

    /// Cross-setting checks, as at commit; the offending device, if any.
    pub(crate) fn validate(&self) -> Result<(), (Option<Mac>, String)> {
        self.check(true)
    }

    /// The checks a session makes after each line of a change it has not committed yet: all
    /// but those of what an operator completes before the commit (a DHCP pool's network, and
    /// what must lie inside it), so that a pool may be typed in any order.
    pub(crate) fn validate_draft(&self) -> Result<(), (Option<Mac>, String)> {
        self.check(false)
    }

    fn check(&self, complete: bool) -> Result<(), (Option<Mac>, String)> {
        // An adopt rule's profile exists and is for the rule's model.
        for (name, policy) in &self.policies {
            for r in policy.rules() {
                let (
                    roost_adoption::policy::Action::Adopt { profile: Some(p) },
                    roost_adoption::policy::DeviceType::Model(m),
                ) = (&r.action, &r.device)
                else {
                    continue;
                };
                let bad = match self.profiles.get(p) {
                    None => Some(format!("profile {p} does not exist")),
                    Some(pr) if pr.model != *m => {
                        Some(format!("profile {p} is a {} profile, not {m}", pr.model))
                    }
                    Some(_) if misnamed_default(p, m) => {
                        Some(format!("profile {p} is named as another model's default"))
                    }
                    Some(_) => None,
                };
                if let Some(why) = bad {
                    return Err((
                        None,
                        format!(
                            "auto-provisioning-policy {name}: adopt {m} precedence {}: {why}",
                            r.precedence
                        ),
                    ));
                }
            }
        }
        for (mac, d) in &self.devices {
            if let Some(p) = d
                .policy
                .as_ref()
                .filter(|p| !self.policies.contains_key(*p))
            {
                return Err((
                    Some(*mac),
                    format!("device {mac}: auto-provisioning-policy {p} does not exist"),
                ));
            }
            if let Some(p) = d
                .dhcp_policy
                .as_ref()
                .filter(|p| !self.dhcp_policies.contains_key(*p))
            {
                return Err((
                    Some(*mac),
                    format!("device {mac}: dhcp-server-policy {p} does not exist"),
                ));
            }
            let c = &d.cluster;
            if u64::from(c.dead_ms) < 3 * u64::from(c.hello_ms) {
                return Err((
                    Some(*mac),
                    format!(
                        "device {mac}: cluster dead-interval ({} ms) must be at least 3 x cluster hello-interval ({} ms = {} ms)",
                        c.dead_ms,
                        c.hello_ms,
                        3 * u64::from(c.hello_ms)
                    ),
                ));
            }
        }
        for (name, p) in &self.dhcp_policies {
            crate::dhcp::validate_policy(name, p, complete).map_err(|e| (None, e))?;
        }
        Ok(())
    }

    /// Runs config/change text lines on `self` (not atomic: callers work on a copy).
    pub(crate) fn run_text(&mut self, text: &str, line_offset: usize) -> Result<(), ConfigError> {
        self.run_text_checked(text, line_offset, true)
    }

    /// [`Self::run_text`], then the checks at commit (`complete`) or a draft's.
    fn run_text_checked(
        &mut self,
        text: &str,
        line_offset: usize,
        complete: bool,
    ) -> Result<(), ConfigError> {
        let mut stack: Vec<Ctx> = Vec::new();
        let mut ended = false;
        let mut last_line_of: HashMap<Mac, usize> = HashMap::new();
        let mut last = 0;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1 + line_offset;
            let err = |message: String| ConfigError::Parse { line, message };
            let trimmed = raw.trim_end();
            let body = trimmed.trim_start_matches(' ');
            if body.is_empty() || body.starts_with('!') {
                continue;
            }
            if body.starts_with(|c: char| c.is_whitespace()) {
                return Err(err("indentation must use spaces".into()));
            }
            if ended {
                return Err(err(format!("'{}' after 'end'", redact(body))));
            }
            let depth = trimmed.len() - body.len();
            if depth == 0 && body == "end" {
                ended = true;
                continue;
            }
            if depth > stack.len() {
                return Err(err(format!("'{}': unexpected indentation", redact(body))));
            }
            stack.truncate(depth);
            let ctx = stack.last().cloned().unwrap_or(Ctx::Global);
            let toks: Vec<&str> = body.split_whitespace().collect();
            let entered = self
                .exec(&ctx, &toks)
                .map_err(|m| err(format!("'{}': {m}", redact(body))))?;
            for c in [Some(&ctx), entered.as_ref()].into_iter().flatten() {
                if let Ctx::Device(m) | Ctx::Interface(m, _) = c {
                    last_line_of.insert(*m, line);
                }
            }
            last = line;
            if let Some(c) = entered {
                stack.push(c);
            }
        }
        self.check(complete)
            .map_err(|(mac, message)| ConfigError::Parse {
                line: mac
                    .and_then(|m| last_line_of.get(&m).copied())
                    .unwrap_or(last),
                message,
            })
    }

    /// Applies a change text (or a `replace-config` text) atomically.
    pub fn apply_change(&mut self, change: &str) -> Result<(), ConfigError> {
        self.apply_change_checked(change, true)
    }

    /// [`Self::apply_change`] with a draft's checks ([`Self::validate_draft`]): a session's
    /// uncommitted changes, replayed on the running configuration.
    pub(crate) fn apply_draft(&mut self, change: &str) -> Result<(), ConfigError> {
        self.apply_change_checked(change, false)
    }

    fn apply_change_checked(&mut self, change: &str, complete: bool) -> Result<(), ConfigError> {
        let first = change.lines().position(|l| !l.trim().is_empty());
        if let Some(first) = first {
            if change.lines().nth(first).map(str::trim) == Some(REPLACE_CONFIG) {
                let rest: String = change
                    .lines()
                    .skip(first + 1)
                    .map(|l| format!("{l}\n"))
                    .collect();
                let mut c = ClusterConfig::empty();
                c.run_text_checked(&rest, first + 1, complete)?;
                *self = c;
                return Ok(());
            }
        }
        let mut c = self.clone();
        c.run_text_checked(change, 0, complete)?;
        *self = c;
        Ok(())
    }

    pub(crate) fn parse_text(text: &str) -> Result<ClusterConfig, ConfigError> {
        let mut c = ClusterConfig::empty();
        c.run_text(text, 0)?;
        Ok(c)
    }

    pub(crate) fn user_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, u) in &self.users {
            let mut line = format!(
                "user {name} password 1 {} role {}",
                u.hash,
                role_name(u.role)
            );
            if let Some(rec) = &u.opaque {
                line.push_str(&format!(" opaque {rec}"));
            }
            out.push(line);
            for k in &u.ssh_keys {
                out.push(format!("user {name} ssh-key {k}"));
            }
        }
        out
    }

    pub(crate) fn wlan_lines(w: &Wlan) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(s) = &w.ssid {
            out.push(format!("ssid {s}"));
        }
        if let Some(v) = w.vlan {
            out.push(format!("vlan {v}"));
        }
        if w.encryption != WlanEncryption::None {
            out.push(format!("encryption-type {}", w.encryption));
        }
        if w.authentication != WlanAuthentication::None {
            out.push(format!("authentication-type {}", w.authentication));
        }
        if let Some(k) = &w.psk {
            out.push(format!("wpa-wpa2 psk 0 {k}"));
        }
        if w.shutdown {
            out.push("shutdown".into());
        }
        out
    }

    /// A profile's body, indented by one space per level below its header.
    pub(crate) fn profile_lines(p: &Profile) -> Vec<String> {
        let mut out = Vec::new();
        let (t, d) = (&p.timers, &ApTimerSettings::DEFAULT);
        if t.echo_secs != d.echo_secs {
            out.push(format!(" capwap echo-interval {}", t.echo_secs));
        }
        if t.discovery_secs != d.discovery_secs {
            out.push(format!(" capwap discovery-interval {}", t.discovery_secs));
        }
        match t.fast {
            f if f == d.fast => {}
            None => out.push(" no capwap fast-timers".into()),
            Some(f) => out.push(format!(
                " capwap fast-timers echo {} retransmit {} count {}",
                f.echo_ms, f.retransmit_ms, f.count
            )),
        }
        if let Some((min, max)) = p.start_delay {
            out.push(format!(" adoption start-delay min {min} max {max}"));
        }
        for (ip, (pool, level)) in &p.controllers {
            out.push(format!(" controller host {ip} pool {pool} level {level}"));
        }
        for (radio, bss) in &p.radios {
            out.push(format!(" interface radio{radio}"));
            for (n, (wlan, primary)) in bss {
                let primary = if *primary { " primary" } else { "" };
                out.push(format!("  wlan {wlan} bss {n}{primary}"));
            }
        }
        out
    }

    /// Every AP profile by name, with the WLANs an AP of it carries, sorted by (radio, BSS).
    /// An AP of model M runs the profile its auto-provisioning rule names, else the one
    /// named `default-<m>` ([`roost_adoption::default_profile`]), as WiNG names its default
    /// profiles. A mapped WLAN that does not exist, is shut down or has no SSID is left out.
    pub fn ap_wlans(&self) -> BTreeMap<String, Vec<ApWlan>> {
        let mut out = BTreeMap::new();
        for (name, p) in self.ap_profiles() {
            let mut wlans = Vec::new();
            for (radio, bss) in &p.radios {
                for (n, (wlan, _)) in bss {
                    let Some(w) = self.wlans.get(wlan) else {
                        continue;
                    };
                    let Some(ssid) = w.ssid.clone().filter(|_| !w.shutdown) else {
                        continue;
                    };
                    wlans.push(ApWlan {
                        radio: *radio,
                        bss: *n,
                        wlan: wlan.clone(),
                        ssid,
                        vlan: w.vlan,
                        encryption: w.encryption,
                        authentication: w.authentication,
                        psk: w.psk.clone(),
                    });
                }
            }
            out.insert(name.clone(), wlans);
        }
        out
    }

    /// The profiles an AP may run: all but one that bears another model's default name
    /// (`profile ap8533 default-ap7532` is no AP7532's default and no rule may name it).
    fn ap_profiles(&self) -> impl Iterator<Item = (&String, &Profile)> {
        self.profiles
            .iter()
            .filter(|(name, p)| !misnamed_default(name, &p.model))
    }

    /// `show adoption status`'s policy lines: the policy this member uses, and a warning when
    /// the members' device sections name different ones (issue 9: each member applies its
    /// own, so an AP's fate would depend on which member it reaches).
    pub fn policy_status(&self, me: Mac) -> String {
        let name = |d: &Device| d.policy.clone().unwrap_or_else(|| "none".into());
        let own = self.devices.get(&me).map_or_else(|| "none".into(), name);
        let mut o = format!(" {:<29}: {own}\n", "Auto-provisioning policy");
        let all: Vec<(String, String)> = self
            .devices
            .iter()
            .map(|(mac, d)| {
                (
                    d.hostname.clone().unwrap_or_else(|| mac.to_string()),
                    name(d),
                )
            })
            .collect();
        if all.iter().any(|(_, p)| *p != all[0].1) {
            let list: Vec<String> = all.iter().map(|(h, p)| format!("{h}: {p}")).collect();
            o += &format!(
                " {:<29}: members use different auto-provisioning policies ({})\n",
                "Warning",
                list.join(", ")
            );
        }
        o
    }

    /// The auto-provisioning policy device `mac`'s section uses, with its name.
    pub fn auto_provisioning_policy_of(
        &self,
        mac: Mac,
    ) -> Option<(&str, &roost_adoption::policy::Policy)> {
        let name = self.devices.get(&mac)?.policy.as_deref()?;
        self.policies
            .get_key_value(name)
            .map(|(k, p)| (k.as_str(), p))
    }

    /// The hostnames operators gave APs in their device sections (`ap7532 <MAC>` /
    /// `hostname …`).
    pub fn ap_hostnames(&self) -> BTreeMap<Mac, String> {
        self.ap_devices
            .iter()
            .filter_map(|(mac, d)| d.hostname.clone().map(|h| (*mac, h)))
            .collect()
    }

    /// Per AP profile, the adoption timers it sets (an AP whose profile does not exist runs
    /// the controller's defaults, [`ApTimerSettings::DEFAULT`]).
    pub fn ap_timers(&self) -> BTreeMap<String, ApTimerSettings> {
        self.ap_profiles()
            .map(|(name, p)| (name.clone(), p.timers))
            .collect()
    }

    /// Per AP profile that sets one, its `adoption start-delay` (min, max) in seconds.
    pub fn ap_start_delays(&self) -> BTreeMap<String, (u8, u8)> {
        self.ap_profiles()
            .filter_map(|(name, p)| p.start_delay.map(|d| (name.clone(), d)))
            .collect()
    }

    /// Per AP profile, the controllers it names, pool 1 first: the AC IPv4 List its APs are
    /// told (profiles that name none are left out).
    pub fn ap_controller_lists(&self) -> BTreeMap<String, Vec<Ipv4Addr>> {
        let mut out = BTreeMap::new();
        for (name, p) in self.ap_profiles() {
            if p.controllers.is_empty() {
                continue;
            }
            let mut hosts: Vec<(u8, Ipv4Addr)> = p
                .controllers
                .iter()
                .map(|(ip, (pool, _))| (*pool, *ip))
                .collect();
            hosts.sort();
            out.insert(name.clone(), hosts.into_iter().map(|(_, ip)| ip).collect());
        }
        out
    }

    /// The controllers the default profile of `model` (any case) names: (address, pool,
    /// level).
    pub fn ap_controllers(&self, model: &str) -> Vec<(Ipv4Addr, u8, u8)> {
        let model = model.to_ascii_lowercase();
        self.profiles
            .get(&format!("default-{model}"))
            .filter(|p| p.model == model)
            .map(|p| {
                p.controllers
                    .iter()
                    .map(|(ip, (pool, level))| (*ip, *pool, *level))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The device section body, indented by one space per level below the header.
    pub(crate) fn device_lines(d: &Device) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(h) = &d.hostname {
            out.push(format!(" hostname {h}"));
        }
        if let Some(p) = &d.policy {
            out.push(format!(" use auto-provisioning-policy {p}"));
        }
        if let Some(p) = &d.dhcp_policy {
            out.push(format!(" use dhcp-server-policy {p}"));
        }
        for (v, ip) in &d.interfaces {
            out.push(format!(" interface vlan {v}"));
            if let Some((a, m)) = ip {
                out.push(format!("  ip address {a}/{m}"));
            }
        }
        if let Some(g) = d.gateway {
            out.push(format!(" ip default-gateway {g}"));
        }
        let c = &d.cluster;
        if let Some(n) = &c.name {
            out.push(format!(" cluster name {n}"));
        }
        if c.mode == ClusterMode::Standby {
            out.push(" cluster mode standby".into());
        }
        if c.priority != DEFAULT_PRIORITY {
            out.push(format!(" cluster master-priority {}", c.priority));
        }
        if c.force_configured_state {
            out.push(" cluster force-configured-state".into());
        }
        match c.delay {
            Delay::Minutes(DEFAULT_DELAY_MINUTES) => {}
            Delay::Minutes(m) => out.push(format!(" cluster force-configured-state-delay {m}")),
            Delay::Seconds(s) => {
                out.push(format!(" cluster force-configured-state-delay {s} seconds"))
            }
        }
        match c.ap_balance {
            None => out.push(" no cluster ap-balance".into()),
            Some(b) => {
                let d = roost_adoption::balance::BalanceSettings::default();
                if b.threshold_pct != d.threshold_pct {
                    out.push(format!(" cluster ap-balance threshold {}", b.threshold_pct));
                }
                if b.hold_down != d.hold_down {
                    out.push(format!(
                        " cluster ap-balance hold-down {}",
                        b.hold_down.as_secs()
                    ));
                }
            }
        }
        if c.handle_stp {
            out.push(" cluster handle-stp".into());
        }
        if c.radius_minutes != DEFAULT_RADIUS_MINUTES {
            out.push(format!(
                " cluster radius-counter-db-sync-time {}",
                c.radius_minutes
            ));
        }
        if c.hello_ms != DEFAULT_HELLO_MS {
            out.push(format!(" cluster hello-interval {}", c.hello_ms));
        }
        if c.dead_ms != DEFAULT_DEAD_MS {
            out.push(format!(" cluster dead-interval {}", c.dead_ms));
        }
        for (ip, l) in &c.member_ips {
            out.push(format!(" cluster member ip {ip} level {}", l.number()));
        }
        for v in &c.member_vlans {
            out.push(format!(" cluster member vlan {v}"));
        }
        out
    }

    pub(crate) fn print(&self) -> String {
        let mut s = String::new();
        s.push_str("!\n");
        s.push_str(&format!(
            "! Configuration of Roost version {}\n",
            env!("CARGO_PKG_VERSION")
        ));
        s.push_str("!\n");
        s.push_str(&format!("version {CONFIG_VERSION}\n"));
        s.push_str("!\n");
        match self.license_grace {
            None => {}
            Some(GracePeriod::Days(d)) => s.push_str(&format!("license grace-period {d}\n!\n")),
            Some(GracePeriod::Seconds(x)) => {
                s.push_str(&format!("license grace-period {x} seconds\n!\n"))
            }
        }
        if self.enforce_version != roost_adoption::firmware::EnforceVersion::Strict {
            s.push_str(&format!(
                "enforce-version adoption {}\n!\n",
                self.enforce_version
            ));
        }
        for (m, v) in &self.ap_firmware {
            s.push_str(&format!("ap-firmware {m} {v}\n"));
        }
        if !self.ap_firmware.is_empty() {
            s.push_str("!\n");
        }
        if !self.users.is_empty() {
            s.push_str("user-management\n");
            for l in self.user_lines() {
                s.push_str(&format!(" {l}\n"));
            }
            s.push_str("!\n");
        }
        for (name, p) in &self.policies {
            s.push_str(&format!("auto-provisioning-policy {name}\n"));
            for l in crate::provisioning::policy_lines(p) {
                s.push_str(&l);
                s.push('\n');
            }
            s.push_str("!\n");
        }
        for (name, p) in &self.dhcp_policies {
            s.push_str(&format!("dhcp-server-policy {name}\n"));
            for l in crate::dhcp::policy_lines(p) {
                s.push_str(&l);
                s.push('\n');
            }
            s.push_str("!\n");
        }
        for (name, w) in &self.wlans {
            s.push_str(&format!("wlan {name}\n"));
            for l in Self::wlan_lines(w) {
                s.push_str(&format!(" {l}\n"));
            }
            s.push_str("!\n");
        }
        for (name, p) in &self.profiles {
            s.push_str(&format!("profile {} {name}\n", p.model));
            for l in Self::profile_lines(p) {
                s.push_str(&l);
                s.push('\n');
            }
            s.push_str("!\n");
        }
        for (mac, d) in &self.devices {
            s.push_str(&device_header(d.model, *mac));
            s.push('\n');
            for l in Self::device_lines(d) {
                s.push_str(&l);
                s.push('\n');
            }
            s.push_str("!\n");
        }
        for (mac, d) in &self.ap_devices {
            s.push_str(&format!("{} {mac}\n", d.model));
            if let Some(h) = &d.hostname {
                s.push_str(&format!(" hostname {h}\n"));
            }
            s.push_str("!\n");
        }
        s.push_str("end\n");
        s
    }

    /// The text of one context's section (`show context`).
    pub(crate) fn context_text(&self, ctx: &Ctx) -> String {
        let mut s = String::new();
        match ctx {
            Ctx::Global => return self.print(),
            Ctx::Policy(n) => {
                if let Some(p) = self.policies.get(n) {
                    s.push_str(&format!("auto-provisioning-policy {n}\n"));
                    for l in crate::provisioning::policy_lines(p) {
                        s.push_str(&l);
                        s.push('\n');
                    }
                }
            }
            Ctx::DhcpPolicy(n) => {
                if let Some(p) = self.dhcp_policies.get(n) {
                    s.push_str(&format!("dhcp-server-policy {n}\n"));
                    for l in crate::dhcp::policy_lines(p) {
                        s.push_str(&l);
                        s.push('\n');
                    }
                }
            }
            Ctx::DhcpPool(n, pool) => {
                if let Some(p) = self.dhcp_policies.get(n).and_then(|p| p.pools.get(pool)) {
                    s.push_str(&format!("dhcp-pool {pool}\n"));
                    for l in crate::dhcp::pool_lines(p) {
                        s.push_str(&format!(" {l}\n"));
                    }
                }
            }
            Ctx::ApDevice(mac) => {
                if let Some(d) = self.ap_devices.get(mac) {
                    s.push_str(&format!("{} {mac}\n", d.model));
                    if let Some(h) = &d.hostname {
                        s.push_str(&format!(" hostname {h}\n"));
                    }
                }
            }
            Ctx::UserMgmt => {
                s.push_str("user-management\n");
                for l in self.user_lines() {
                    s.push_str(&format!(" {l}\n"));
                }
            }
            Ctx::Wlan(n) => {
                if let Some(w) = self.wlans.get(n) {
                    s.push_str(&format!("wlan {n}\n"));
                    for l in Self::wlan_lines(w) {
                        s.push_str(&format!(" {l}\n"));
                    }
                }
            }
            Ctx::Profile(n) => {
                if let Some(p) = self.profiles.get(n) {
                    s.push_str(&format!("profile {} {n}\n", p.model));
                    for l in Self::profile_lines(p) {
                        s.push_str(&l);
                        s.push('\n');
                    }
                }
            }
            Ctx::Radio(n, r) => {
                if let Some(bss) = self.profiles.get(n).and_then(|p| p.radios.get(r)) {
                    s.push_str(&format!("interface radio{r}\n"));
                    for (b, (wlan, primary)) in bss {
                        let primary = if *primary { " primary" } else { "" };
                        s.push_str(&format!(" wlan {wlan} bss {b}{primary}\n"));
                    }
                }
            }
            Ctx::Device(mac) => {
                if let Some(d) = self.devices.get(mac) {
                    s.push_str(&device_header(d.model, *mac));
                    s.push('\n');
                    for l in Self::device_lines(d) {
                        s.push_str(&l);
                        s.push('\n');
                    }
                }
            }
            Ctx::Interface(mac, v) => {
                if let Some(Some(ip)) = self.devices.get(mac).map(|d| d.interfaces.get(v)) {
                    s.push_str(&format!("interface vlan {v}\n"));
                    if let Some((a, m)) = ip {
                        s.push_str(&format!(" ip address {a}/{m}\n"));
                    }
                }
            }
        }
        s
    }

    pub(crate) fn settings(&self, mac: Mac) -> Option<DeviceSettings> {
        Some(device_settings(mac, self.devices.get(&mac)?))
    }

    pub(crate) fn new_initial(
        mac: Mac,
        model: Model,
        hostname: &str,
        admin_password: &str,
        join_keys: Option<&roost_wire::pake::ServerKeys>,
    ) -> ClusterConfig {
        let mut c = ClusterConfig::empty();
        let mut d = Device::new(model);
        // An invalid hostname would make the text unparsable: fall back to the default one.
        d.hostname = check_hostname(hostname).ok();
        c.devices.insert(mac, d);
        if let Ok(hash) = hash_password(admin_password) {
            c.users.insert(
                "admin".into(),
                User {
                    hash,
                    opaque: join_keys
                        .and_then(|k| roost_wire::pake::register(k, "admin", admin_password).ok()),
                    role: Role::Superuser,
                    ssh_keys: Vec::new(),
                },
            );
        }
        c
    }
}

fn exec_wlan(w: &mut Wlan, toks: &[&str]) -> Result<(), String> {
    match toks {
        ["ssid", s] => w.ssid = Some(check_word("ssid", s, 32)?),
        ["no", "ssid"] | ["no", "ssid", _] => w.ssid = None,
        ["vlan", v] => w.vlan = Some(num("vlan", v, 1, 4094)? as u16),
        ["no", "vlan"] | ["no", "vlan", _] => w.vlan = None,
        ["shutdown"] => w.shutdown = true,
        ["no", "shutdown"] => w.shutdown = false,
        ["encryption-type", "none"] => w.encryption = WlanEncryption::None,
        ["encryption-type", "ccmp"] => w.encryption = WlanEncryption::Ccmp,
        ["encryption-type", "tkip-ccmp"] => w.encryption = WlanEncryption::TkipCcmp,
        ["encryption-type", e] => {
            return Err(format!("encryption-type '{e}': ccmp, tkip-ccmp or none"))
        }
        ["no", "encryption-type"] | ["no", "encryption-type", _] => {
            w.encryption = WlanEncryption::None
        }
        ["authentication-type", "none"] => w.authentication = WlanAuthentication::None,
        ["authentication-type", "eap"] => w.authentication = WlanAuthentication::Eap,
        ["authentication-type", a] => {
            return Err(format!("authentication-type '{a}': eap or none"))
        }
        ["no", "authentication-type"] | ["no", "authentication-type", _] => {
            w.authentication = WlanAuthentication::None
        }
        ["wpa-wpa2", "psk", "0", key] => {
            if *key == crate::MASK {
                // Pasted back from a face that masked it: keeps the key there is.
                if w.psk.is_none() {
                    return Err(format!("the PSK is masked ({}): type the key", crate::MASK));
                }
            } else {
                w.psk = Some(check_psk(key)?);
            }
        }
        ["wpa-wpa2", "psk", t, _] => {
            return Err(format!(
                "wpa-wpa2 psk {t}: only type 0 (clear text, masked when shown) is supported"
            ))
        }
        ["no", "wpa-wpa2", "psk"] | ["no", "wpa-wpa2", "psk", ..] => w.psk = None,
        _ => return Err(String::new()),
    }
    Ok(())
}

/// A WPA2 pre-shared key: a passphrase of 8-63 printable ASCII characters, or 64 hex digits.
fn check_psk(k: &str) -> Result<String, String> {
    let printable = k.bytes().all(|b| (0x20..0x7F).contains(&b));
    let hex = k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit());
    if hex || (printable && (8..=63).contains(&k.len())) {
        Ok(k.to_string())
    } else {
        Err(format!(
            "wpa-wpa2 psk: {} characters; a passphrase has 8-63 printable characters, a key 64 hex digits",
            k.chars().count()
        ))
    }
}

fn ap_model(m: &str) -> Result<String, String> {
    let m = m.to_ascii_lowercase();
    if AP_MODELS.contains(&m.as_str()) {
        Ok(m)
    } else {
        Err(format!(
            "unknown AP model '{m}' (one of: {})",
            AP_MODELS.join(", ")
        ))
    }
}

/// A profile of `model` named as another model's default (`profile ap8533 default-ap7532`):
/// no AP runs it and no rule may name it.
fn misnamed_default(name: &str, model: &str) -> bool {
    name.starts_with("default-") && name != format!("default-{model}")
}

/// Profile commands; `Ok(Some(radio))` when entering `interface radio<N>`.
fn exec_profile(p: &mut Profile, toks: &[&str]) -> Result<Option<u8>, String> {
    let radio = |r: &str| -> Result<u8, String> {
        r.strip_prefix("radio")
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|n| (1..=RADIOS).contains(n))
            .ok_or_else(|| format!("interface '{r}': radio1, radio2 or radio3"))
    };
    match toks {
        ["interface", r] => {
            let r = radio(r)?;
            p.radios.entry(r).or_default();
            return Ok(Some(r));
        }
        ["no", "interface", r] => {
            let r = radio(r)?;
            if p.radios.remove(&r).is_none() {
                return Err(format!("interface radio{r} does not exist"));
            }
        }
        ["controller", "host", ip, "pool", pool, rest @ ..] => {
            let ip = ipv4("controller host", ip)?;
            let pool = num("controller host pool", pool, 1, 2)? as u8;
            let level = match rest {
                [] => 1,
                ["level", l] => num("controller host level", l, 1, 2)? as u8,
                _ => return Err(String::new()),
            };
            p.controllers.insert(ip, (pool, level));
        }
        ["adoption", "start-delay"] => p.start_delay = Some(WING_START_DELAY),
        ["adoption", "start-delay", "min", a, "max", b] => {
            let min = num("adoption start-delay min (seconds)", a, 0, 30)? as u8;
            let max = num("adoption start-delay max (seconds)", b, 0, 30)? as u8;
            if min > max {
                return Err(format!(
                    "adoption start-delay: min {min} is above max {max}"
                ));
            }
            p.start_delay = Some((min, max));
        }
        ["no", "adoption", "start-delay", ..] => p.start_delay = None,
        ["capwap", "echo-interval", n] => {
            p.timers.echo_secs = num("capwap echo-interval (seconds)", n, 1, 255)? as u8;
        }
        ["no", "capwap", "echo-interval", ..] => {
            p.timers.echo_secs = ApTimerSettings::DEFAULT.echo_secs;
        }
        ["capwap", "discovery-interval", n] => {
            p.timers.discovery_secs = num("capwap discovery-interval (seconds)", n, 2, 180)? as u8;
        }
        ["no", "capwap", "discovery-interval", ..] => {
            p.timers.discovery_secs = ApTimerSettings::DEFAULT.discovery_secs;
        }
        ["capwap", "fast-timers"] => p.timers.fast = ApTimerSettings::DEFAULT.fast,
        ["capwap", "fast-timers", "echo", e, "retransmit", r, "count", c] => {
            let echo_ms = num("capwap fast-timers echo (ms)", e, 500, 60_000)? as u32;
            let retransmit_ms = num("capwap fast-timers retransmit (ms)", r, 50, 3000)? as u32;
            let count = num("capwap fast-timers count", c, 1, 10)? as u8;
            if retransmit_ms * 2 > echo_ms {
                return Err(format!(
                    "capwap fast-timers: retransmit {retransmit_ms} ms must be at most half \
                     the echo interval ({echo_ms} ms)"
                ));
            }
            p.timers.fast = Some(FastTimerSettings {
                echo_ms,
                retransmit_ms,
                count,
            });
        }
        ["no", "capwap", "fast-timers", ..] => p.timers.fast = None,
        ["no", "controller", "host", ip, ..] => {
            let ip = ipv4("controller host", ip)?;
            if p.controllers.remove(&ip).is_none() {
                return Err(format!("controller host {ip} is not in this profile"));
            }
        }
        _ => return Err(String::new()),
    }
    Ok(None)
}

/// `interface radio<N>` commands in a profile.
fn exec_radio(r: &mut BTreeMap<u8, (String, bool)>, toks: &[&str]) -> Result<(), String> {
    match toks {
        ["wlan", name, "bss", n, rest @ ..] => {
            let name = check_word("wlan name", name, 32)?;
            let n = num("wlan bss", n, 1, 16)? as u8;
            let primary = match rest {
                [] => false,
                ["primary"] => true,
                _ => return Err(String::new()),
            };
            if let Some(b) = r.iter().find(|(_, (w, _))| *w == name).map(|(b, _)| *b) {
                if b != n {
                    return Err(format!("wlan {name} is already on bss {b} of this radio"));
                }
            }
            match r.get(&n) {
                Some((other, _)) if *other != name => {
                    return Err(format!("bss {n} already carries wlan {other}"))
                }
                _ => {
                    r.insert(n, (name, primary));
                }
            }
        }
        ["no", "wlan", name, ..] => {
            let before = r.len();
            r.retain(|_, (w, _)| w != name);
            if r.len() == before {
                return Err(format!("wlan {name} is not on this radio"));
            }
        }
        _ => return Err(String::new()),
    }
    Ok(())
}

/// Device-section commands; `Ok(Some(vlan))` when entering `interface vlan N`; `Err("")` for
/// an unknown command.
fn exec_device(d: &mut Device, toks: &[&str]) -> Result<Option<u16>, String> {
    match toks {
        ["hostname", h] => d.hostname = Some(check_hostname(h)?),
        ["no", "hostname"] | ["no", "hostname", _] => d.hostname = None,
        ["use", "auto-provisioning-policy", p] => {
            d.policy = Some(check_word("auto-provisioning-policy name", p, 32)?)
        }
        ["no", "use", "auto-provisioning-policy", ..] => d.policy = None,
        ["use", "dhcp-server-policy", p] => {
            d.dhcp_policy = Some(check_word(
                "dhcp-server-policy name",
                p,
                crate::dhcp::DHCP_NAME_MAX,
            )?)
        }
        ["no", "use", "dhcp-server-policy", ..] => d.dhcp_policy = None,
        ["interface", "vlan", v] => {
            let v = num("interface vlan", v, 1, 4094)? as u16;
            d.interfaces.entry(v).or_insert(None);
            return Ok(Some(v));
        }
        ["no", "interface", "vlan", v] => {
            let v = num("interface vlan", v, 1, 4094)? as u16;
            if d.interfaces.remove(&v).is_none() {
                return Err(format!("interface vlan {v} does not exist"));
            }
        }
        ["ip", "default-gateway", g] => d.gateway = Some(ipv4("ip default-gateway", g)?),
        ["no", "ip", "default-gateway"] | ["no", "ip", "default-gateway", _] => d.gateway = None,
        ["cluster", rest @ ..] => exec_cluster(&mut d.cluster, rest, false)?,
        ["no", "cluster", rest @ ..] => exec_cluster(&mut d.cluster, rest, true)?,
        _ => return Err(String::new()),
    }
    Ok(None)
}

fn exec_cluster(c: &mut ClusterCfg, toks: &[&str], no: bool) -> Result<(), String> {
    let d = ClusterCfg::default();
    match (no, toks) {
        (false, ["name", n]) => c.name = Some(check_word("cluster name", n, 64)?),
        (true, ["name"] | ["name", _]) => c.name = None,
        (false, ["mode", "active"]) => c.mode = ClusterMode::Active,
        (false, ["mode", "standby"]) => c.mode = ClusterMode::Standby,
        (false, ["mode", m]) => return Err(format!("cluster mode '{m}': active or standby")),
        (true, ["mode"] | ["mode", _]) => c.mode = d.mode,
        (false, ["master-priority", p]) => {
            c.priority = num("cluster master-priority", p, 1, 255)? as u8
        }
        (true, ["master-priority"] | ["master-priority", _]) => c.priority = d.priority,
        (false, ["force-configured-state"]) => c.force_configured_state = true,
        (true, ["force-configured-state"]) => c.force_configured_state = false,
        (
            false,
            ["force-configured-state-delay", m] | ["force-configured-state-delay", m, "minutes"],
        ) => {
            c.delay =
                Delay::Minutes(
                    num("cluster force-configured-state-delay (minutes)", m, 3, 1800)? as u32,
                )
        }
        (false, ["force-configured-state-delay", s, "seconds"]) => {
            c.delay = Delay::Seconds(num(
                "cluster force-configured-state-delay (seconds)",
                s,
                1,
                108_000,
            )? as u32)
        }
        (true, ["force-configured-state-delay", ..]) => c.delay = d.delay,
        (false, ["ap-balance"]) => {
            c.ap_balance.get_or_insert_with(Default::default);
        }
        (true, ["ap-balance"]) => c.ap_balance = None,
        (false, ["ap-balance", "threshold", t]) => {
            let t = num("cluster ap-balance threshold", t, 1, 50)? as u8;
            c.ap_balance
                .get_or_insert_with(Default::default)
                .threshold_pct = t;
        }
        (true, ["ap-balance", "threshold"] | ["ap-balance", "threshold", _]) => {
            if let Some(b) = c.ap_balance.as_mut() {
                b.threshold_pct = roost_adoption::balance::BalanceSettings::DEFAULT_THRESHOLD_PCT;
            }
        }
        (false, ["ap-balance", "hold-down", h]) => {
            let h = num("cluster ap-balance hold-down", h, 1, 86_400)?;
            c.ap_balance.get_or_insert_with(Default::default).hold_down = Duration::from_secs(h);
        }
        (true, ["ap-balance", "hold-down"] | ["ap-balance", "hold-down", _]) => {
            if let Some(b) = c.ap_balance.as_mut() {
                b.hold_down = roost_adoption::balance::BalanceSettings::DEFAULT_HOLD_DOWN;
            }
        }
        (false, ["handle-stp"]) => c.handle_stp = true,
        (true, ["handle-stp"]) => c.handle_stp = false,
        (false, ["radius-counter-db-sync-time", m]) => {
            c.radius_minutes = num("cluster radius-counter-db-sync-time", m, 1, 1440)? as u32
        }
        (true, ["radius-counter-db-sync-time"] | ["radius-counter-db-sync-time", _]) => {
            c.radius_minutes = d.radius_minutes
        }
        (false, ["hello-interval", ms]) => {
            c.hello_ms = num("cluster hello-interval", ms, 10, 10_000)? as u32
        }
        (true, ["hello-interval"] | ["hello-interval", _]) => c.hello_ms = d.hello_ms,
        (false, ["dead-interval", ms]) => {
            c.dead_ms = num("cluster dead-interval", ms, 30, 60_000)? as u32
        }
        (true, ["dead-interval"] | ["dead-interval", _]) => c.dead_ms = d.dead_ms,
        (false, ["member", "ip", ip, "level", l]) => {
            let ip = ipv4("cluster member ip", ip)?;
            let l = level(l)?;
            c.member_ips.insert(ip, l);
        }
        (true, ["member", "ip", ip] | ["member", "ip", ip, "level", _]) => {
            let ip = ipv4("cluster member ip", ip)?;
            if c.member_ips.remove(&ip).is_none() {
                return Err(format!("cluster member ip {ip} is not configured"));
            }
        }
        (false, ["member", "vlan", v]) => {
            c.member_vlans
                .insert(num("cluster member vlan", v, 1, 4094)? as u16);
        }
        (true, ["member", "vlan", v]) => {
            let v = num("cluster member vlan", v, 1, 4094)? as u16;
            if !c.member_vlans.remove(&v) {
                return Err(format!("cluster member vlan {v} is not configured"));
            }
        }
        (true, ["member", "vlan"]) => c.member_vlans.clear(),
        _ => return Err(String::new()),
    }
    Ok(())
}
