//! What a DHCP server policy says (WiNG's `dhcp-server-policy` and its `dhcp-pool`s), as the
//! core takes it, and the checks that make it servable. The configuration grammar lives in
//! `roost-config`; this is the shape it hands over, validated here once more so that the core
//! never serves an address outside its network or one that a static binding also names.

use roost_wire::Mac;
use std::net::Ipv4Addr;
use std::time::Duration;

/// WiNG's lease range: 1 s to 31,622,399 s (366 days less one second).
pub const MIN_LEASE_SECS: u32 = 1;
pub const MAX_LEASE_SECS: u32 = 31_622_399;
/// WiNG's default lease: one day.
pub const DEFAULT_LEASE_SECS: u32 = 86_400;

/// Option codes the server sets itself from first-class fields or the protocol (pad, mask,
/// router, DNS, domain name, the lease and message options, client id, relay info, end): an
/// extra option with one of these codes would contradict them.
pub const RESERVED_OPTION_CODES: &[u8] =
    &[0, 1, 3, 6, 15, 50, 51, 52, 53, 54, 55, 58, 59, 61, 82, 255];

/// Inclusive address range inside a pool's network (`address range <start> <end>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressRange {
    pub start: Ipv4Addr,
    pub end: Ipv4Addr,
}

impl AddressRange {
    pub fn new(start: Ipv4Addr, end: Ipv4Addr) -> AddressRange {
        AddressRange { start, end }
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (u32::from(self.start)..=u32::from(self.end)).contains(&u32::from(ip))
    }

    /// How many addresses the range holds (0 if reversed).
    pub fn len(&self) -> u64 {
        (u32::from(self.end) as u64 + 1).saturating_sub(u32::from(self.start) as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One `dhcp-pool`: a subnet, the ranges leased from it and what its clients are told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolSpec {
    /// At most 32 characters (WiNG).
    pub name: String,
    pub network: Ipv4Addr,
    pub prefix_len: u8,
    pub ranges: Vec<AddressRange>,
    pub lease_secs: u32,
    pub routers: Vec<Ipv4Addr>,
    pub dns_servers: Vec<Ipv4Addr>,
    pub domain_name: Option<String>,
    /// Extra options (code, value as sent), e.g. 191 with the controller list.
    pub options: Vec<(u8, Vec<u8>)>,
    /// Static bindings: this MAC always gets this address (outside every range).
    pub static_bindings: Vec<(Mac, Ipv4Addr)>,
}

impl PoolSpec {
    /// A pool with no ranges, the default lease and no options.
    pub fn new(name: &str, network: Ipv4Addr, prefix_len: u8) -> PoolSpec {
        PoolSpec {
            name: name.to_string(),
            network,
            prefix_len,
            ranges: Vec::new(),
            lease_secs: DEFAULT_LEASE_SECS,
            routers: Vec::new(),
            dns_servers: Vec::new(),
            domain_name: None,
            options: Vec::new(),
            static_bindings: Vec::new(),
        }
    }

    pub fn mask(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask_bits(self.prefix_len))
    }

    /// Whether `ip` is in this pool's network (its host part may be anything).
    pub fn in_network(&self, ip: Ipv4Addr) -> bool {
        let m = mask_bits(self.prefix_len);
        u32::from(ip) & m == u32::from(self.network) & m
    }

    /// Whether `ip` is one of the dynamically leased addresses.
    pub fn in_ranges(&self, ip: Ipv4Addr) -> bool {
        self.ranges.iter().any(|r| r.contains(ip))
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs as u64)
    }

    pub fn lease_ms(&self) -> u64 {
        self.lease_secs as u64 * 1000
    }

    /// How many addresses the ranges hold.
    pub fn size(&self) -> u64 {
        self.ranges.iter().map(|r| r.len()).sum()
    }

    pub fn static_for(&self, mac: Mac) -> Option<Ipv4Addr> {
        self.static_bindings
            .iter()
            .find(|(m, _)| *m == mac)
            .map(|(_, ip)| *ip)
    }

    fn broadcast(&self) -> u32 {
        u32::from(self.network) | !mask_bits(self.prefix_len)
    }
}

fn mask_bits(prefix_len: u8) -> u32 {
    match prefix_len {
        0 => 0,
        p if p >= 32 => u32::MAX,
        p => u32::MAX << (32 - p),
    }
}

/// WiNG's activation criteria for a DHCP server policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// Only the cluster's master answers; it holds most of each pool, the others a reserve.
    ClusterMaster,
    /// Every member using the policy answers (Active/Active); each pool is split evenly.
    None,
}

/// One `dhcp-server-policy`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySpec {
    pub name: String,
    pub activation: Activation,
    /// Probe an address before offering it (1 to 10 s); None: no probe (the default).
    pub ping_timeout: Option<Duration>,
    /// Ignore BOOTP requests (messages without a DHCP message type).
    pub bootp_ignore: bool,
    pub pools: Vec<PoolSpec>,
}

impl PolicySpec {
    pub fn new(name: &str, activation: Activation) -> PolicySpec {
        PolicySpec {
            name: name.to_string(),
            activation,
            ping_timeout: None,
            bootp_ignore: false,
            pools: Vec::new(),
        }
    }

    /// The longest lease any pool grants: how long a lost member's leases may outlive the
    /// last contact with it.
    pub fn max_lease_ms(&self) -> u64 {
        self.pools.iter().map(|p| p.lease_ms()).max().unwrap_or(0)
    }

    /// Checks everything the core relies on. The first problem found is returned.
    pub fn validate(&self) -> Result<(), SpecError> {
        if let Some(t) = self.ping_timeout {
            if !(Duration::from_secs(1)..=Duration::from_secs(10)).contains(&t) {
                return Err(SpecError::PingTimeout(t));
            }
        }
        for (i, p) in self.pools.iter().enumerate() {
            validate_pool(p)?;
            for q in &self.pools[..i] {
                if q.name == p.name {
                    return Err(SpecError::DuplicatePool(p.name.clone()));
                }
                // Two pools on one subnet (or nested subnets) would make the pool a packet
                // selects ambiguous.
                if q.in_network(p.network) || p.in_network(q.network) {
                    return Err(SpecError::OverlappingPools {
                        pool: p.name.clone(),
                        other: q.name.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

fn validate_pool(p: &PoolSpec) -> Result<(), SpecError> {
    let pool = || p.name.clone();
    if p.name.is_empty() || p.name.len() > 32 {
        return Err(SpecError::PoolName(pool()));
    }
    if p.prefix_len > 30 {
        return Err(SpecError::Prefix {
            pool: pool(),
            prefix_len: p.prefix_len,
        });
    }
    if u32::from(p.network) & !mask_bits(p.prefix_len) != 0 {
        return Err(SpecError::HostBits {
            pool: pool(),
            network: p.network,
            prefix_len: p.prefix_len,
        });
    }
    if !(MIN_LEASE_SECS..=MAX_LEASE_SECS).contains(&p.lease_secs) {
        return Err(SpecError::Lease {
            pool: pool(),
            secs: p.lease_secs,
        });
    }
    let net = u32::from(p.network);
    let bcast = p.broadcast();
    for (i, r) in p.ranges.iter().enumerate() {
        if u32::from(r.start) > u32::from(r.end) {
            return Err(SpecError::RangeReversed {
                pool: pool(),
                start: r.start,
                end: r.end,
            });
        }
        // The network and broadcast addresses are not hosts.
        if !p.in_network(r.start)
            || !p.in_network(r.end)
            || u32::from(r.start) == net
            || u32::from(r.end) == bcast
        {
            return Err(SpecError::RangeOutsideNetwork {
                pool: pool(),
                start: r.start,
                end: r.end,
            });
        }
        for o in &p.ranges[..i] {
            if o.contains(r.start) || o.contains(r.end) || r.contains(o.start) {
                return Err(SpecError::OverlappingRanges {
                    pool: pool(),
                    start: r.start,
                    end: r.end,
                });
            }
        }
    }
    for (i, (mac, ip)) in p.static_bindings.iter().enumerate() {
        if !p.in_network(*ip) || u32::from(*ip) == net || u32::from(*ip) == bcast {
            return Err(SpecError::StaticOutsideNetwork {
                pool: pool(),
                ip: *ip,
            });
        }
        // A static address inside a range could be leased to someone else meanwhile.
        if p.in_ranges(*ip) {
            return Err(SpecError::StaticInRange {
                pool: pool(),
                ip: *ip,
            });
        }
        if p.static_bindings[..i]
            .iter()
            .any(|(m, a)| m == mac || a == ip)
        {
            return Err(SpecError::DuplicateStatic {
                pool: pool(),
                mac: *mac,
                ip: *ip,
            });
        }
    }
    for (code, value) in &p.options {
        if RESERVED_OPTION_CODES.contains(code) {
            return Err(SpecError::ReservedOption {
                pool: pool(),
                code: *code,
            });
        }
        if value.len() > 255 {
            return Err(SpecError::OptionTooLong {
                pool: pool(),
                code: *code,
            });
        }
    }
    Ok(())
}

/// Why a policy cannot be served. `Display` is the one line an operator sees.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// Empty, or longer than WiNG's 32 characters.
    #[error("pool name {0:?} must be 1 to 32 characters")]
    PoolName(String),
    #[error("pool {0}: defined twice")]
    DuplicatePool(String),
    /// /31 and /32 leave no host to lease.
    #[error("pool {pool}: prefix /{prefix_len} leaves no addresses to lease (at most /30)")]
    Prefix { pool: String, prefix_len: u8 },
    #[error("pool {pool}: {network}/{prefix_len} has host bits set")]
    HostBits {
        pool: String,
        network: Ipv4Addr,
        prefix_len: u8,
    },
    #[error("pool {pool}: lease {secs} s is outside 1 to 31622399 s")]
    Lease { pool: String, secs: u32 },
    #[error("pool {pool}: address range {start} {end} ends before it starts")]
    RangeReversed {
        pool: String,
        start: Ipv4Addr,
        end: Ipv4Addr,
    },
    /// Includes ranges holding the network or broadcast address.
    #[error("pool {pool}: address range {start} {end} is not inside the pool's network hosts")]
    RangeOutsideNetwork {
        pool: String,
        start: Ipv4Addr,
        end: Ipv4Addr,
    },
    #[error("pool {pool}: address range {start} {end} overlaps another range")]
    OverlappingRanges {
        pool: String,
        start: Ipv4Addr,
        end: Ipv4Addr,
    },
    #[error("pools {pool} and {other} overlap")]
    OverlappingPools { pool: String, other: String },
    #[error("pool {pool}: static binding {ip} is not a host of the pool's network")]
    StaticOutsideNetwork { pool: String, ip: Ipv4Addr },
    #[error("pool {pool}: static binding {ip} is inside an address range")]
    StaticInRange { pool: String, ip: Ipv4Addr },
    #[error("pool {pool}: static binding {mac} {ip} repeats a MAC or an address")]
    DuplicateStatic {
        pool: String,
        mac: Mac,
        ip: Ipv4Addr,
    },
    #[error("pool {pool}: option {code} is set by the server itself")]
    ReservedOption { pool: String, code: u8 },
    #[error("pool {pool}: option {code} is longer than 255 bytes")]
    OptionTooLong { pool: String, code: u8 },
    #[error("ping timeout {0:?} is outside 1 to 10 s")]
    PingTimeout(Duration),
}
