//! DHCP leases as the cluster keeps them (issue 10): the record a member's lease store holds
//! and the member channel will carry. Times are wall-clock milliseconds since the Unix epoch of
//! the member that granted the lease, so that a lease means the same on every member (the
//! composition measures the members' clock skew from their hellos).

use crate::{Mac, MemberId};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// Where a lease stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LeaseState {
    /// Granted (ACKed) to `mac` until `expires_ms`.
    Bound,
    /// Given back by its client (RELEASE) or by an operator (`clear ip dhcp binding`): free.
    Released,
    /// Declined by a client (the address is in use by someone else): out of the pool until
    /// `expires_ms`.
    Declined,
    /// Ran out: free again.
    Expired,
}

impl LeaseState {
    /// Whether the address is taken (by a client, or quarantined after a decline).
    pub fn holds_address(self) -> bool {
        matches!(self, LeaseState::Bound | LeaseState::Declined)
    }
}

/// One lease change: the address's state from now on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub ip: Ipv4Addr,
    pub mac: Mac,
    /// DHCP option 61, if the client sent one (else the lease is the MAC's).
    pub client_id: Vec<u8>,
    pub state: LeaseState,
    /// The member that granted (or last renewed) it.
    pub granted_by: MemberId,
    /// When it was granted or last renewed (ms since the Unix epoch, `granted_by`'s clock).
    pub start_ms: u64,
    /// When it ends (same clock).
    pub expires_ms: u64,
    /// The pool it is from (`dhcp-pool <NAME>`).
    pub pool: String,
}
