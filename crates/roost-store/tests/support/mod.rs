//! Fixtures shared by the store's test files: a revision chain with predictable ids.

use roost_wire::{MemberId, Revision, RevisionId};

/// Revision `n`'s id: the number, and a hash that tells it apart.
pub fn rid(n: u64) -> RevisionId {
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(&n.to_be_bytes());
    RevisionId { number: n, hash }
}

/// Revision `n`, a child of revision `n - 1`, adding `wlan w<n>`.
pub fn rev(n: u64) -> Revision {
    Revision {
        id: rid(n),
        parent: rid(n - 1),
        origin: MemberId(1),
        request: n,
        user: "admin".into(),
        wall_ms: n,
        change: format!("wlan w{n}\n"),
    }
}
