//! Address shares: which member may allocate each free address of a pool. Pure functions of
//! the address and the sorted member ids, so that every member computes the same split
//! without talking, and a member allocates a new address only from its own share (leases
//! themselves are the cluster's: any member renews any lease it knows).
//!
//! * `none` (Active/Active): an even split by rendezvous hashing (highest score of
//!   hash(address, member) wins). Adding or removing one member moves only the addresses that
//!   member gains or held; the others keep theirs.
//! * `cluster-master`: the primary (the master when the layout was made) holds every address
//!   whose hash bucket is at or above [`RESERVE_PERMILLE`]; the others split the reserve (about
//!   10 %) by rendezvous hashing among themselves, so that a new master serves new clients at
//!   once from its reserve while the old one's share waits for the takeover rule
//!   ([`crate::server`]). A pool of fewer than about ten addresses per member may leave a
//!   member with no reserve address: the split is by hash, not by count.
//!
//! The hash is SplitMix64's finalizer, fixed here (never `std`'s randomly keyed hasher), so
//! that members built by different compilers agree.

use crate::spec::{Activation, PoolSpec};
use roost_wire::MemberId;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The part of each pool (per mille of its addresses, by hash) the non-primary members share
/// with `cluster-master`.
pub const RESERVE_PERMILLE: u64 = 100;

/// Who the shares are split among.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    members: Vec<MemberId>,
    primary: Option<MemberId>,
}

impl Layout {
    /// `members` in any order (sorted and deduplicated here); `primary` (the master, for
    /// `cluster-master`) is added to them if missing.
    pub fn new(members: impl IntoIterator<Item = MemberId>, primary: Option<MemberId>) -> Layout {
        let mut members: Vec<MemberId> = members.into_iter().chain(primary).collect();
        members.sort();
        members.dedup();
        Layout { members, primary }
    }

    pub fn members(&self) -> &[MemberId] {
        &self.members
    }

    pub fn primary(&self) -> Option<MemberId> {
        self.primary
    }
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn score(ip: Ipv4Addr, m: MemberId) -> u64 {
    mix(u32::from(ip) as u64 ^ mix(m.0 as u64 | 1 << 40))
}

/// The member with the highest score for `ip` among `members` (ties: the lower id).
pub fn rendezvous(ip: Ipv4Addr, members: impl IntoIterator<Item = MemberId>) -> Option<MemberId> {
    members
        .into_iter()
        .max_by_key(|m| (score(ip, *m), std::cmp::Reverse(*m)))
}

/// The member whose share holds `ip`.
pub fn owner(ip: Ipv4Addr, layout: &Layout, activation: Activation) -> Option<MemberId> {
    match (activation, layout.primary) {
        (Activation::ClusterMaster, Some(primary)) => {
            let bucket = mix(u32::from(ip) as u64) % 1000;
            let others = layout.members.iter().copied().filter(|m| *m != primary);
            if bucket < RESERVE_PERMILLE {
                rendezvous(ip, others).or(Some(primary))
            } else {
                Some(primary)
            }
        }
        _ => rendezvous(ip, layout.members.iter().copied()),
    }
}

/// Every address of a pool's ranges, in order.
pub fn addresses(pool: &PoolSpec) -> impl Iterator<Item = Ipv4Addr> + '_ {
    pool.ranges
        .iter()
        .flat_map(|r| (u32::from(r.start)..=u32::from(r.end)).map(Ipv4Addr::from))
}

/// How many of a pool's addresses each member's share holds (for `show` and tests).
pub fn share_sizes(
    pool: &PoolSpec,
    layout: &Layout,
    activation: Activation,
) -> BTreeMap<MemberId, u64> {
    let mut sizes: BTreeMap<MemberId, u64> = layout.members.iter().map(|m| (*m, 0)).collect();
    for ip in addresses(pool) {
        if let Some(o) = owner(ip, layout, activation) {
            *sizes.entry(o).or_default() += 1;
        }
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::AddressRange;

    fn pool(n: u32) -> PoolSpec {
        let mut p = PoolSpec::new("p", Ipv4Addr::new(10, 0, 0, 0), 8);
        let start = u32::from(Ipv4Addr::new(10, 0, 0, 1));
        p.ranges
            .push(AddressRange::new(start.into(), (start + n - 1).into()));
        p
    }

    fn ids(n: u32) -> Vec<MemberId> {
        (1..=n).map(|i| MemberId(0x1200_0000 + i)).collect()
    }

    #[test]
    fn none_splits_evenly() {
        let layout = Layout::new(ids(3), None);
        let sizes = share_sizes(&pool(30_000), &layout, Activation::None);
        for (_, n) in sizes {
            assert!((9_000..=11_000).contains(&n), "{n}");
        }
    }

    #[test]
    fn cluster_master_keeps_most_on_the_primary() {
        let m = ids(3);
        let layout = Layout::new(m.clone(), Some(m[1]));
        let sizes = share_sizes(&pool(20_000), &layout, Activation::ClusterMaster);
        assert!((17_600..=18_400).contains(&sizes[&m[1]]), "{sizes:?}");
        assert!(sizes[&m[0]] > 800 && sizes[&m[2]] > 800, "{sizes:?}");
    }

    #[test]
    fn the_split_does_not_depend_on_the_order_members_are_given() {
        let m = ids(4);
        let mut r = m.clone();
        r.reverse();
        let (a, b) = (Layout::new(m, None), Layout::new(r, None));
        for ip in addresses(&pool(500)) {
            assert_eq!(
                owner(ip, &a, Activation::None),
                owner(ip, &b, Activation::None)
            );
        }
    }

    #[test]
    fn removing_a_member_moves_only_its_addresses() {
        let m = ids(4);
        let all = Layout::new(m.clone(), None);
        let fewer = Layout::new(m[..3].to_vec(), None);
        for ip in addresses(&pool(2_000)) {
            let before = owner(ip, &all, Activation::None).unwrap();
            if before != m[3] {
                assert_eq!(owner(ip, &fewer, Activation::None), Some(before));
            }
        }
    }

    #[test]
    fn a_lone_member_holds_everything() {
        let m = ids(1);
        let layout = Layout::new(m.clone(), Some(m[0]));
        for ip in addresses(&pool(300)) {
            assert_eq!(owner(ip, &layout, Activation::ClusterMaster), Some(m[0]));
        }
    }
}
