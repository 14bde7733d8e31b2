//! Leases and the changes members replicate. The table has one row per address that was ever
//! leased; a row changes only through a [`LeaseChange`], and two changes to one address are
//! ordered by their [`Stamp`] alone (last writer wins), so that every member that has seen
//! the same changes holds the same row whatever order they came in. Released and expired
//! addresses keep their row (`Free`) so that an older change arriving late cannot bring a
//! lease back.
//!
//! Times are wall-clock milliseconds since the Unix epoch, on the caller's clock, so that a
//! lease means the same on every member (skew between members shifts it by the skew, no more).

use roost_wire::{Mac, MemberId};
use std::net::Ipv4Addr;

/// How a client is known (RFC 2131 4.2): its client identifier (option 61) when it sends one,
/// else its hardware type and address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub Vec<u8>);

/// Orders the changes to one address: the change's time, then the changing member's own
/// counter (two changes in one millisecond), then the member id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    pub ms: u64,
    pub seq: u64,
    pub member: MemberId,
}

/// What an address is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseState {
    /// Leased to `client` until `expires_ms`.
    Leased {
        client: ClientId,
        mac: Mac,
        expires_ms: u64,
    },
    /// A client said the address is in use by someone else (DHCPDECLINE): out of the pool
    /// until `until_ms`.
    Declined { until_ms: u64 },
    /// Free again since `since_ms` (released, expired or cleared).
    Free { since_ms: u64, reason: FreeReason },
}

/// Why an address became free: a release is the client's own word, an expiry is not (a
/// member cut off from this one may have renewed the lease meanwhile).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeReason {
    Released,
    Expired,
    /// `clear ip dhcp binding`, or a declined address whose hold ended.
    Cleared,
}

/// One change to one address, as persisted and replicated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseChange {
    pub ip: Ipv4Addr,
    pub stamp: Stamp,
    pub state: LeaseState,
}

impl LeaseChange {
    /// The client holding the address after this change, if it is leased and not expired.
    pub fn active_client(&self, now_ms: u64) -> Option<&ClientId> {
        match &self.state {
            LeaseState::Leased {
                client, expires_ms, ..
            } if *expires_ms > now_ms => Some(client),
            _ => None,
        }
    }
}

/// A lease as the faces show it (`show ip dhcp binding`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub ip: Ipv4Addr,
    pub client: ClientId,
    pub mac: Mac,
    pub expires_ms: u64,
    /// The member that granted or last renewed it.
    pub granted_by: MemberId,
}
