//! `dhcp-server-policy <NAME>` (WiNG's DHCP server policy, issue 10): the configuration side.
//! Plain data types of their own (the daemon converts them for the lease core), parsed from and
//! written back to the policy's text:
//!
//! ```text
//! dhcp-server-policy campus
//!  activation-criteria cluster-master
//!  ping-timeout 2
//!  bootp ignore
//!  option controller 191 ascii
//!  dhcp-pool lab
//!   network 10.1.0.0/24
//!   address range 10.1.0.100 10.1.0.199
//!   default-router 10.1.0.1
//!   dns-server 10.1.0.2 10.1.0.3
//!   domain-name lab.example.com
//!   lease 0 12
//!   option controller pool1=10.0.0.1;level=1
//!   static-binding 00-11-22-33-44-55 ip 10.1.0.50
//! ```
//!
//! A member serves the policy its device section names (`use dhcp-server-policy <NAME>`).
//! Checks that need the whole pool (a network, ranges inside it, pools that do not overlap) are
//! made at commit ([`validate_policy`] with `complete`), so that a pool can be typed in any
//! order; everything a line can check alone is refused at once.

use crate::model::{check_word, num};
use crate::ClusterConfig;
use roost_wire::Mac;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// At most this many characters in a policy's or a pool's name (WiNG's limit).
pub const DHCP_NAME_MAX: usize = 32;
/// At most this many characters in an option's name.
pub const OPTION_NAME_MAX: usize = 32;
/// A pool's lease when it sets none: one day (WiNG's default).
pub const DEFAULT_LEASE_SECS: u32 = 86_400;
/// The longest lease (WiNG's): 365 days 23:59:59.
pub const MAX_LEASE_SECS: u32 = 31_622_399;
/// At most this many addresses on a `default-router`, `dns-server` or ip option line.
pub const MAX_ADDRESSES: usize = 8;
/// At most this many bytes in one option's value (one DHCP option, without RFC 3396's
/// concatenation).
pub const MAX_OPTION_BYTES: usize = 255;

/// Codes a policy's own option may not use (WiNG 4's reserved list): the pool sets them in
/// fields of its own.
pub const RESERVED_OPTION_CODES: &[(u8, &str)] = &[
    (1, "subnet mask, from the pool's network"),
    (3, "router, the pool's default-router"),
    (5, "name server"),
    (6, "domain name server, the pool's dns-server"),
    (15, "domain name, the pool's domain-name"),
    (28, "broadcast address, from the pool's network"),
    (44, "NetBIOS name server"),
    (46, "NetBIOS node type"),
    (67, "boot file name"),
    (77, "user class"),
    (119, "domain search"),
];

/// Names a policy's own option may not take (WiNG 4's reserved list).
pub const RESERVED_OPTION_NAMES: &[&str] = &["user-class", "next-server", "dynamic-bootp"];

/// Codes the server itself puts in every exchange (Roost's addition to WiNG's list): a second
/// copy from the configuration would make the exchange ambiguous or break it.
pub const SERVER_OPTION_CODES: &[(u8, &str)] = &[
    (0, "Pad"),
    (50, "Requested IP Address"),
    (51, "IP Address Lease Time, the pool's lease"),
    (52, "Option Overload"),
    (53, "DHCP Message Type"),
    (54, "Server Identifier"),
    (55, "Parameter Request List"),
    (56, "Message"),
    (57, "Maximum DHCP Message Size"),
    (58, "Renewal (T1) Time Value"),
    (59, "Rebinding (T2) Time Value"),
    (61, "Client-identifier"),
    (82, "Relay Agent Information"),
];

/// `activation-criteria`: which members serve a policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ActivationCriteria {
    /// Every member whose device section uses the policy serves (Active/Active).
    #[default]
    None,
    /// Only the elected cluster master serves.
    ClusterMaster,
}

impl std::fmt::Display for ActivationCriteria {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ActivationCriteria::None => "none",
            ActivationCriteria::ClusterMaster => "cluster-master",
        })
    }
}

/// The type of a policy's option (`option <name> <code> ip|ascii|hex`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DhcpOptionType {
    /// One or more IPv4 addresses, 4 bytes each.
    Ip,
    /// Text (printable ASCII; `\\` stands for one backslash).
    Ascii,
    /// Bytes, written as an even number of hex digits.
    Hex,
}

impl std::fmt::Display for DhcpOptionType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DhcpOptionType::Ip => "ip",
            DhcpOptionType::Ascii => "ascii",
            DhcpOptionType::Hex => "hex",
        })
    }
}

/// An option a policy defines (`option controller 191 ascii`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DhcpOptionDef {
    pub code: u8,
    pub kind: DhcpOptionType,
}

/// An option's value in a pool (`option controller pool1=10.0.0.1;level=1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhcpOptionValue {
    /// The code of the policy's definition.
    pub code: u8,
    /// The value as the configuration writes it.
    pub value: String,
    /// The value as it goes on the wire (at most [`MAX_OPTION_BYTES`]).
    pub bytes: Vec<u8>,
}

/// A pool's subnet (`network A.B.C.D/M`), its host bits zero, mask length 1-30.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DhcpNetwork {
    pub address: Ipv4Addr,
    pub prefix_len: u8,
}

impl DhcpNetwork {
    fn mask_bits(self) -> u32 {
        u32::MAX
            .checked_shl(32u32.saturating_sub(u32::from(self.prefix_len)))
            .unwrap_or(0)
    }
    /// The subnet mask (option 1).
    pub fn netmask(self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask_bits())
    }
    /// The subnet's broadcast address.
    pub fn broadcast(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) | !self.mask_bits())
    }
    /// The first address a client may hold (after the network address).
    pub fn first_host(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address).saturating_add(1))
    }
    /// The last address a client may hold (before the broadcast address).
    pub fn last_host(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.broadcast()).saturating_sub(1))
    }
    /// Is `ip` in the subnet (network and broadcast addresses included)?
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask_bits() == u32::from(self.address)
    }
    /// Is `ip` an address a client of the subnet may hold?
    pub fn contains_host(self, ip: Ipv4Addr) -> bool {
        (self.first_host()..=self.last_host()).contains(&ip)
    }
    /// Do the two subnets share an address?
    pub fn overlaps(self, other: DhcpNetwork) -> bool {
        self.contains(other.address) || other.contains(self.address)
    }
}

impl std::fmt::Display for DhcpNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// A `dhcp-pool <NAME>`: one subnet, the addresses it hands out and what its clients are told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhcpPool {
    /// `network A.B.C.D/M` (None only while it is being typed: a commit needs it).
    pub network: Option<DhcpNetwork>,
    /// `address range <start> <end>`: the dynamic addresses, inclusive, sorted, disjoint.
    pub ranges: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// `default-router <IP>…` (option 3), in order of preference.
    pub default_routers: Vec<Ipv4Addr>,
    /// `dns-server <IP>…` (option 6), in order of preference.
    pub dns_servers: Vec<Ipv4Addr>,
    /// `domain-name <NAME>` (option 15).
    pub domain_name: Option<String>,
    /// `lease <days> [<hours> [<minutes> [<seconds>]]]`, in seconds (1 to [`MAX_LEASE_SECS`]).
    pub lease_secs: u32,
    /// `option <name> <value>`, by the option's name.
    pub options: BTreeMap<String, DhcpOptionValue>,
    /// `static-binding <MAC> ip <IP>`: inside the network, outside the dynamic ranges.
    pub static_bindings: BTreeMap<Mac, Ipv4Addr>,
}

impl Default for DhcpPool {
    fn default() -> Self {
        DhcpPool {
            network: None,
            ranges: Vec::new(),
            default_routers: Vec::new(),
            dns_servers: Vec::new(),
            domain_name: None,
            lease_secs: DEFAULT_LEASE_SECS,
            options: BTreeMap::new(),
            static_bindings: BTreeMap::new(),
        }
    }
}

impl DhcpPool {
    /// The options a client of this pool is sent, as (code, value bytes), by code: the subnet
    /// mask (1), routers (3), DNS servers (6), the domain name (15), then the policy's own
    /// options. The lease time and the protocol's options are the server's business.
    pub fn wire_options(&self) -> Vec<(u8, Vec<u8>)> {
        let addrs = |l: &[Ipv4Addr]| l.iter().flat_map(|a| a.octets()).collect::<Vec<u8>>();
        let mut out = Vec::new();
        if let Some(n) = self.network {
            out.push((1, n.netmask().octets().to_vec()));
        }
        if !self.default_routers.is_empty() {
            out.push((3, addrs(&self.default_routers)));
        }
        if !self.dns_servers.is_empty() {
            out.push((6, addrs(&self.dns_servers)));
        }
        if let Some(d) = &self.domain_name {
            out.push((15, d.as_bytes().to_vec()));
        }
        out.extend(self.options.values().map(|o| (o.code, o.bytes.clone())));
        out.sort_by_key(|(code, _)| *code);
        out
    }
    /// How many dynamic addresses the ranges hold.
    pub fn dynamic_addresses(&self) -> u64 {
        self.ranges
            .iter()
            .map(|(a, b)| u64::from(u32::from(*b).saturating_sub(u32::from(*a))) + 1)
            .sum()
    }
    fn in_ranges(&self, ip: Ipv4Addr) -> Option<(Ipv4Addr, Ipv4Addr)> {
        self.ranges
            .iter()
            .copied()
            .find(|(a, b)| (*a..=*b).contains(&ip))
    }
}

/// A `dhcp-server-policy <NAME>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DhcpPolicy {
    /// `activation-criteria none|cluster-master` (default none).
    pub activation: ActivationCriteria,
    /// `ping-timeout <1-10>` (seconds): probe an address before offering it. None: no probe.
    pub ping_timeout_secs: Option<u8>,
    /// `bootp ignore`: BOOTP requests get no answer.
    pub bootp_ignore: bool,
    /// `option <name> <code> ip|ascii|hex`: the options the pools may set, by name.
    pub options: BTreeMap<String, DhcpOptionDef>,
    /// `dhcp-pool <NAME>`, by name.
    pub pools: BTreeMap<String, DhcpPool>,
}

impl DhcpPolicy {
    /// The pool whose network contains `ip` (a relay's giaddr, an interface's address).
    pub fn pool_for(&self, ip: Ipv4Addr) -> Option<(&str, &DhcpPool)> {
        self.pools
            .iter()
            .find(|(_, p)| p.network.is_some_and(|n| n.contains(ip)))
            .map(|(k, p)| (k.as_str(), p))
    }
}

impl ClusterConfig {
    /// The DHCP server policy device `mac`'s section uses (`use dhcp-server-policy`), with its
    /// name.
    pub fn dhcp_policy_of(&self, mac: Mac) -> Option<(&str, &DhcpPolicy)> {
        let name = self.devices.get(&mac)?.dhcp_policy.as_deref()?;
        self.dhcp_policies
            .get_key_value(name)
            .map(|(k, p)| (k.as_str(), p))
    }
    /// Every DHCP server policy, by name.
    pub fn dhcp_policies(&self) -> impl Iterator<Item = (&str, &DhcpPolicy)> {
        self.dhcp_policies.iter().map(|(k, p)| (k.as_str(), p))
    }
    /// The devices (by MAC) whose sections use the DHCP server policy `name`.
    pub fn dhcp_policy_users(&self, name: &str) -> Vec<Mac> {
        self.devices
            .iter()
            .filter(|(_, d)| d.dhcp_policy.as_deref() == Some(name))
            .map(|(m, _)| *m)
            .collect()
    }
}

fn ip(what: &str, s: &str) -> Result<Ipv4Addr, String> {
    s.parse()
        .map_err(|_| format!("{what}: '{s}' is not an IPv4 address A.B.C.D"))
}

/// An address a client may be told or given: not 0.0.0.0, broadcast or multicast.
fn unicast(what: &str, s: &str) -> Result<Ipv4Addr, String> {
    let a = ip(what, s)?;
    if a.is_unspecified() || a.is_broadcast() || a.is_multicast() {
        return Err(format!("{what}: {a} is not a unicast address"));
    }
    Ok(a)
}

/// `default-router` / `dns-server` lists: 1 to [`MAX_ADDRESSES`] distinct unicast addresses.
fn address_list(what: &str, toks: &[&str]) -> Result<Vec<Ipv4Addr>, String> {
    if toks.is_empty() {
        return Err(format!("{what}: an IP address is missing"));
    }
    if toks.len() > MAX_ADDRESSES {
        return Err(format!(
            "{what}: {} addresses; at most {MAX_ADDRESSES}",
            toks.len()
        ));
    }
    let mut out: Vec<Ipv4Addr> = Vec::with_capacity(toks.len());
    for t in toks {
        let a = unicast(what, t)?;
        if out.contains(&a) {
            return Err(format!("{what}: {a} is listed twice"));
        }
        out.push(a);
    }
    Ok(out)
}

fn network(s: &str) -> Result<DhcpNetwork, String> {
    let bad = || format!("network: '{s}' is not of the form A.B.C.D/M");
    let (a, m) = s.split_once('/').ok_or_else(bad)?;
    let address = a.parse::<Ipv4Addr>().map_err(|_| bad())?;
    let prefix_len = num("network mask length", m, 0, 32).map_err(|_| bad())? as u8;
    if !(1..=30).contains(&prefix_len) {
        return Err(format!(
            "network {s}: the mask length must be 1-30 (a pool needs host addresses)"
        ));
    }
    let n = DhcpNetwork {
        address,
        prefix_len,
    };
    let base = DhcpNetwork {
        address: Ipv4Addr::from(u32::from(address) & n.mask_bits()),
        prefix_len,
    };
    if base != n {
        return Err(format!(
            "network {s}: host bits are set (the network is {base})"
        ));
    }
    Ok(n)
}

fn check_domain(s: &str) -> Result<String, String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if s.len() <= 253 && s.split('.').all(label_ok) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "domain-name '{s}': labels of 1-63 letters, digits, '-' or '_' separated by '.', at most 253 characters"
        ))
    }
}

/// `lease <days> [<hours> [<minutes> [<seconds>]]]` in seconds.
fn lease(toks: &[&str]) -> Result<u32, String> {
    if toks.is_empty() || toks.len() > 4 {
        return Err("lease: <days> [<hours> [<minutes> [<seconds>]]] expected".into());
    }
    let parts = [
        ("lease days", 365, 86_400),
        ("lease hours", 23, 3_600),
        ("lease minutes", 59, 60),
        ("lease seconds", 59, 1),
    ];
    let mut total = 0u64;
    for (t, (what, hi, unit)) in toks.iter().zip(parts) {
        total += num(what, t, 0, hi)? * unit;
    }
    if total == 0 || total > u64::from(MAX_LEASE_SECS) {
        return Err(format!(
            "lease {}: {total} s; a lease is 1 s to 365 days 23:59:59 ({MAX_LEASE_SECS} s)",
            toks.join(" ")
        ));
    }
    Ok(total as u32)
}

/// The `lease` line's arguments: the shortest form that gives `secs`.
fn lease_text(secs: u32) -> String {
    let parts = [
        secs / 86_400,
        secs % 86_400 / 3_600,
        secs % 3_600 / 60,
        secs % 60,
    ];
    let keep = parts.iter().rposition(|p| *p != 0).unwrap_or(0) + 1;
    parts[..keep]
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A value of an option of type `kind`: its text as written back, and its wire bytes.
pub(crate) fn option_value(
    name: &str,
    kind: DhcpOptionType,
    toks: &[&str],
) -> Result<(String, Vec<u8>), String> {
    let what = format!("option {name} ({kind})");
    let one = || match toks {
        [t] => Ok(*t),
        [] => Err(format!("{what}: the value is missing")),
        _ => Err(format!("{what}: the value is one word, without spaces")),
    };
    let (text, bytes) = match kind {
        DhcpOptionType::Ip => {
            let list = address_list(&what, toks).map_err(|e| {
                if toks.iter().any(|t| t.parse::<Ipv4Addr>().is_err()) {
                    format!("{e} (an ip option's value is a list of addresses)")
                } else {
                    e
                }
            })?;
            let text = list
                .iter()
                .map(Ipv4Addr::to_string)
                .collect::<Vec<_>>()
                .join(" ");
            (text, list.iter().flat_map(|a| a.octets()).collect())
        }
        DhcpOptionType::Ascii => {
            // A pair of double quotes around the text (as pasted from elsewhere) is not part
            // of the value; the text is written back as typed.
            let t = one()?;
            let inner = t
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(t);
            if inner.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "{what}: '{t}' is not text of printable ASCII characters"
                ));
            }
            (t.to_string(), inner.replace("\\\\", "\\").into_bytes())
        }
        DhcpOptionType::Hex => {
            let t = one()?;
            if t.is_empty() || t.len() % 2 != 0 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("{what}: '{t}' is not an even number of hex digits"));
            }
            let t = t.to_ascii_lowercase();
            let bytes = (0..t.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&t[i..i + 2], 16).unwrap_or(0))
                .collect();
            (t, bytes)
        }
    };
    if bytes.len() > MAX_OPTION_BYTES {
        return Err(format!(
            "{what}: {} bytes; an option holds at most {MAX_OPTION_BYTES}",
            bytes.len()
        ));
    }
    Ok((text, bytes))
}

fn option_type(s: &str) -> Result<DhcpOptionType, String> {
    match s {
        "ip" => Ok(DhcpOptionType::Ip),
        "ascii" => Ok(DhcpOptionType::Ascii),
        "hex" => Ok(DhcpOptionType::Hex),
        _ => Err(format!("option type '{s}': ip, ascii or hex")),
    }
}

/// The pool (by name) of `p` that sets option `name`, if any.
fn pool_using<'p>(p: &'p DhcpPolicy, name: &str) -> Option<&'p str> {
    p.pools
        .iter()
        .find(|(_, pool)| pool.options.contains_key(name))
        .map(|(k, _)| k.as_str())
}

/// Runs one command in a policy's context; `Ok(Some(pool))` when entering `dhcp-pool <NAME>`.
/// `Err("")` is an unknown command. Nothing changes on an error.
pub(crate) fn exec_policy(p: &mut DhcpPolicy, toks: &[&str]) -> Result<Option<String>, String> {
    match toks {
        ["activation-criteria", "none"] => p.activation = ActivationCriteria::None,
        ["activation-criteria", "cluster-master"] => {
            p.activation = ActivationCriteria::ClusterMaster
        }
        ["activation-criteria", a] => {
            return Err(format!(
                "activation-criteria '{a}': none or cluster-master (Roost has no vrrp-master or rf-domain-manager)"
            ))
        }
        ["no", "activation-criteria", ..] => p.activation = ActivationCriteria::None,
        ["ping-timeout", n] => p.ping_timeout_secs = Some(num("ping-timeout", n, 1, 10)? as u8),
        ["no", "ping-timeout", ..] => p.ping_timeout_secs = None,
        ["bootp", "ignore"] => p.bootp_ignore = true,
        ["no", "bootp", "ignore"] => p.bootp_ignore = false,
        ["option", name, code, kind] => {
            let name = check_word("option name", name, OPTION_NAME_MAX)?;
            if RESERVED_OPTION_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(format!(
                    "option name '{name}' is reserved ({} are the pool's own settings)",
                    RESERVED_OPTION_NAMES.join(", ")
                ));
            }
            let code = num("option code", code, 0, 254)? as u8;
            if let Some((_, what)) = RESERVED_OPTION_CODES.iter().find(|(c, _)| *c == code) {
                return Err(format!("option code {code} is reserved ({what})"));
            }
            if let Some((_, what)) = SERVER_OPTION_CODES.iter().find(|(c, _)| *c == code) {
                return Err(format!(
                    "option code {code} is set by the DHCP server itself ({what})"
                ));
            }
            let kind = option_type(kind)?;
            let def = DhcpOptionDef { code, kind };
            if let Some((other, _)) = p
                .options
                .iter()
                .find(|(n, d)| d.code == code && **n != name)
            {
                return Err(format!(
                    "option code {code} is already defined as option {other}"
                ));
            }
            match p.options.get(&name) {
                Some(d) if *d == def => {}
                Some(d) => {
                    if let Some(pool) = pool_using(p, &name) {
                        return Err(format!(
                            "option {name} ({} {}) is in use by dhcp-pool {pool}: remove it there before changing its code or type",
                            d.code, d.kind
                        ));
                    }
                    p.options.insert(name, def);
                }
                None => {
                    p.options.insert(name, def);
                }
            }
        }
        ["no", "option", name, ..] => {
            if !p.options.contains_key(*name) {
                return Err(format!("option {name} is not defined in this policy"));
            }
            if let Some(pool) = pool_using(p, name) {
                return Err(format!("option {name} is in use by dhcp-pool {pool}"));
            }
            p.options.remove(*name);
        }
        ["dhcp-pool", name] => {
            let name = check_word("dhcp-pool name", name, DHCP_NAME_MAX)?;
            p.pools.entry(name.clone()).or_default();
            return Ok(Some(name));
        }
        ["no", "dhcp-pool", name] => {
            if p.pools.remove(*name).is_none() {
                return Err(format!("dhcp-pool {name} does not exist"));
            }
        }
        _ => return Err(String::new()),
    }
    Ok(None)
}

/// Runs one command in the context of pool `name` of `p`. `Err("")` is an unknown command.
/// Nothing changes on an error.
pub(crate) fn exec_pool(p: &mut DhcpPolicy, name: &str, toks: &[&str]) -> Result<(), String> {
    let DhcpPolicy { options, pools, .. } = p;
    let pool = pools
        .get_mut(name)
        .ok_or_else(|| format!("dhcp-pool {name} does not exist"))?;
    match toks {
        ["network", n] => pool.network = Some(network(n)?),
        ["no", "network", ..] => pool.network = None,
        ["address", "range", a, b] => {
            let (a, b) = (unicast("address range", a)?, unicast("address range", b)?);
            if a > b {
                return Err(format!("address range {a} {b} ends before it starts"));
            }
            if let Some(n) = pool.network {
                if !n.contains_host(a) || !n.contains_host(b) {
                    return Err(format!(
                        "address range {a} {b} is outside network {n} (hosts {} to {})",
                        n.first_host(),
                        n.last_host()
                    ));
                }
            }
            if pool.ranges.contains(&(a, b)) {
                return Ok(());
            }
            if let Some((c, d)) = pool.ranges.iter().find(|(c, d)| a <= *d && *c <= b) {
                return Err(format!(
                    "address range {a} {b} overlaps address range {c} {d}"
                ));
            }
            if let Some((mac, ip)) = pool
                .static_bindings
                .iter()
                .find(|(_, ip)| (a..=b).contains(*ip))
            {
                return Err(format!(
                    "address range {a} {b} holds static-binding {mac} ip {ip} (a static address is outside the dynamic ranges)"
                ));
            }
            pool.ranges.push((a, b));
            pool.ranges.sort();
        }
        ["no", "address", "range", a, b] => {
            let (a, b) = (ip("address range", a)?, ip("address range", b)?);
            let before = pool.ranges.len();
            pool.ranges.retain(|r| *r != (a, b));
            if pool.ranges.len() == before {
                return Err(format!("address range {a} {b} is not in this pool"));
            }
        }
        ["default-router", list @ ..] => {
            pool.default_routers = address_list("default-router", list)?
        }
        ["no", "default-router", ..] => pool.default_routers.clear(),
        ["dns-server", list @ ..] => pool.dns_servers = address_list("dns-server", list)?,
        ["no", "dns-server", ..] => pool.dns_servers.clear(),
        ["domain-name", d] => pool.domain_name = Some(check_domain(d)?),
        ["no", "domain-name", ..] => pool.domain_name = None,
        ["lease", rest @ ..] => pool.lease_secs = lease(rest)?,
        ["no", "lease", ..] => pool.lease_secs = DEFAULT_LEASE_SECS,
        ["option", o, value @ ..] => {
            let def = options.get(*o).ok_or_else(|| {
                format!(
                    "option {o} is not defined in this dhcp-server-policy (define it there first: option {o} <0-254> ip|ascii|hex)"
                )
            })?;
            let (value, bytes) = option_value(o, def.kind, value)?;
            pool.options.insert(
                o.to_string(),
                DhcpOptionValue {
                    code: def.code,
                    value,
                    bytes,
                },
            );
        }
        ["no", "option", o, ..] => {
            if pool.options.remove(*o).is_none() {
                return Err(format!("option {o} is not set in this pool"));
            }
        }
        ["static-binding", mac, "ip", a] => {
            let mac = mac.parse::<Mac>().map_err(|_| {
                format!("static-binding: '{mac}' is not a MAC address AA-BB-CC-DD-EE-FF")
            })?;
            let a = unicast("static-binding ip", a)?;
            if let Some(n) = pool.network {
                if !n.contains_host(a) {
                    return Err(format!(
                        "static-binding {mac} ip {a} is outside network {n} (hosts {} to {})",
                        n.first_host(),
                        n.last_host()
                    ));
                }
            }
            if let Some((c, d)) = pool.in_ranges(a) {
                return Err(format!(
                    "static-binding {mac} ip {a} is inside address range {c} {d} (a static address is outside the dynamic ranges)"
                ));
            }
            if let Some((other, _)) = pool
                .static_bindings
                .iter()
                .find(|(m, ip)| **ip == a && **m != mac)
            {
                return Err(format!(
                    "static-binding {mac} ip {a}: {a} is already bound to {other}"
                ));
            }
            pool.static_bindings.insert(mac, a);
        }
        ["no", "static-binding", mac, ..] => {
            let m = mac.parse::<Mac>().map_err(|_| {
                format!("static-binding: '{mac}' is not a MAC address AA-BB-CC-DD-EE-FF")
            })?;
            if pool.static_bindings.remove(&m).is_none() {
                return Err(format!("static-binding {m} is not in this pool"));
            }
        }
        _ => return Err(String::new()),
    }
    Ok(())
}

/// A pool's body lines, unindented (the caller indents them below `dhcp-pool <NAME>`).
pub(crate) fn pool_lines(pool: &DhcpPool) -> Vec<String> {
    let list = |l: &[Ipv4Addr]| {
        l.iter()
            .map(Ipv4Addr::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = Vec::new();
    if let Some(n) = pool.network {
        out.push(format!("network {n}"));
    }
    for (a, b) in &pool.ranges {
        out.push(format!("address range {a} {b}"));
    }
    if !pool.default_routers.is_empty() {
        out.push(format!("default-router {}", list(&pool.default_routers)));
    }
    if !pool.dns_servers.is_empty() {
        out.push(format!("dns-server {}", list(&pool.dns_servers)));
    }
    if let Some(d) = &pool.domain_name {
        out.push(format!("domain-name {d}"));
    }
    if pool.lease_secs != DEFAULT_LEASE_SECS {
        out.push(format!("lease {}", lease_text(pool.lease_secs)));
    }
    for (name, o) in &pool.options {
        out.push(format!("option {name} {}", o.value));
    }
    for (mac, ip) in &pool.static_bindings {
        out.push(format!("static-binding {mac} ip {ip}"));
    }
    out
}

/// The policy's body lines, indented one space (its pools' lines two).
pub(crate) fn policy_lines(p: &DhcpPolicy) -> Vec<String> {
    let mut out = Vec::new();
    if p.activation != ActivationCriteria::None {
        out.push(format!(" activation-criteria {}", p.activation));
    }
    if let Some(t) = p.ping_timeout_secs {
        out.push(format!(" ping-timeout {t}"));
    }
    if p.bootp_ignore {
        out.push(" bootp ignore".into());
    }
    for (name, d) in &p.options {
        out.push(format!(" option {name} {} {}", d.code, d.kind));
    }
    for (name, pool) in &p.pools {
        out.push(format!(" dhcp-pool {name}"));
        out.extend(pool_lines(pool).into_iter().map(|l| format!("  {l}")));
    }
    out
}

/// Cross-setting checks of policy `name`. `complete`: also what an operator may leave
/// unfinished while typing a pool (a network, ranges and static addresses inside it, pools that
/// do not overlap), checked at commit and when a text is parsed.
pub(crate) fn validate_policy(name: &str, p: &DhcpPolicy, complete: bool) -> Result<(), String> {
    let at = |pool: &str| format!("dhcp-server-policy {name} dhcp-pool {pool}");
    for (pn, pool) in &p.pools {
        for (o, v) in &pool.options {
            let Some(def) = p.options.get(o) else {
                return Err(format!(
                    "{}: option {o} is not defined in the policy",
                    at(pn)
                ));
            };
            let toks: Vec<&str> = v.value.split(' ').collect();
            let fits = option_value(o, def.kind, &toks)
                .is_ok_and(|(_, bytes)| def.code == v.code && bytes == v.bytes);
            if !fits {
                return Err(format!(
                    "{}: option {o} {} does not fit its definition ({} {})",
                    at(pn),
                    v.value,
                    def.code,
                    def.kind
                ));
            }
        }
        if !complete {
            continue;
        }
        let Some(n) = pool.network else {
            return Err(format!("{}: no network (set 'network A.B.C.D/M')", at(pn)));
        };
        for (a, b) in &pool.ranges {
            if !n.contains_host(*a) || !n.contains_host(*b) {
                return Err(format!(
                    "{}: address range {a} {b} is outside network {n} (hosts {} to {})",
                    at(pn),
                    n.first_host(),
                    n.last_host()
                ));
            }
        }
        for (mac, ip) in &pool.static_bindings {
            if !n.contains_host(*ip) {
                return Err(format!(
                    "{}: static-binding {mac} ip {ip} is outside network {n}",
                    at(pn)
                ));
            }
            if let Some((a, b)) = pool.in_ranges(*ip) {
                return Err(format!(
                    "{}: static-binding {mac} ip {ip} is inside address range {a} {b}",
                    at(pn)
                ));
            }
        }
    }
    if complete {
        let nets: Vec<(&String, DhcpNetwork)> = p
            .pools
            .iter()
            .filter_map(|(k, pool)| pool.network.map(|n| (k, n)))
            .collect();
        for (i, (a, na)) in nets.iter().enumerate() {
            if let Some((b, nb)) = nets[i + 1..].iter().find(|(_, nb)| na.overlaps(*nb)) {
                return Err(format!(
                    "dhcp-server-policy {name}: dhcp-pool {a} ({na}) overlaps dhcp-pool {b} ({nb})"
                ));
            }
        }
    }
    Ok(())
}
