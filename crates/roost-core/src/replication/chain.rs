//! The revision hash chain and encoded-size estimates.

use roost_wire::{MemberId, Revision, RevisionId};
use sha2::{Digest, Sha256};

/// The id of the revision that follows `parent` when `origin`'s request `request` commits
/// `change`: number `parent.number + 1`, hash
/// `sha256(parent.hash ‖ number BE ‖ origin BE ‖ request BE ‖ change bytes)`.
pub fn revision_id(
    parent: &RevisionId,
    origin: MemberId,
    request: u64,
    change: &str,
) -> RevisionId {
    let number = parent.number + 1;
    let mut h = Sha256::new();
    h.update(parent.hash);
    h.update(number.to_be_bytes());
    h.update(origin.0.to_be_bytes());
    h.update(request.to_be_bytes());
    h.update(change.as_bytes());
    RevisionId {
        number,
        hash: h.finalize().into(),
    }
}

/// Checks that `rev` directly follows `prev` and that its id is the hash it claims.
pub(super) fn check_link(prev: &RevisionId, rev: &Revision) -> Result<(), String> {
    if rev.parent != *prev {
        return Err(format!(
            "revision {} has parent {}, expected {}",
            rev.id, rev.parent, prev
        ));
    }
    let expected = revision_id(prev, rev.origin, rev.request, &rev.change);
    if rev.id != expected {
        return Err(format!(
            "revision {} fails the hash chain (expected {})",
            rev.id, expected
        ));
    }
    Ok(())
}

/// Upper bound of a revision's postcard encoding (two ids of ≤ 10 + 32 bytes, varints, two
/// length-prefixed strings).
pub(super) fn encoded_len_bound(rev: &Revision) -> usize {
    128 + rev.user.len() + rev.change.len()
}
