//! Active/Active AP load balancing as pure functions: [`plan`] decides whether one member
//! moves APs to another and how many, [`select`] which of its APs go.
//!
//! A member's load is its adopted APs over its platform capacity. When the largest load less
//! the smallest passes the threshold (`cluster ap-balance threshold`, percent), the most loaded
//! member moves to the least loaded one as many APs as brings one of them to the cluster's mean
//! load (rounded down; never past the pair's equal share, so the mover never ends below the
//! receiver: the same pair never swaps roles), capped by the receiver's free capacity. Every member computes the same plan from the same view (its
//! hellos): the mover selects APs, the receiver licenses them on the mover's licenses (they
//! are counted once, where they are, so the pool never grows). Repeating the plan converges:
//! each move strictly lowers the sum over members of adopted² / capacity, and a plan of zero APs is none.
//!
//! An AP that moved (by a balancing move or a handback) is not moved again within the
//! hold-down (`cluster ap-balance hold-down`), so that a load oscillating around the threshold
//! moves other APs, never the same ones back and forth.

use roost_wire::MemberId;
use std::time::Duration;

/// `cluster ap-balance …` (a Roost extension).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BalanceSettings {
    /// Percent of capacity: the largest load less the smallest that starts a move.
    pub threshold_pct: u8,
    /// No AP moves twice within this.
    pub hold_down: Duration,
}

impl BalanceSettings {
    pub const DEFAULT_THRESHOLD_PCT: u8 = 10;
    pub const DEFAULT_HOLD_DOWN: Duration = Duration::from_secs(600);
}

impl Default for BalanceSettings {
    fn default() -> Self {
        BalanceSettings {
            threshold_pct: Self::DEFAULT_THRESHOLD_PCT,
            hold_down: Self::DEFAULT_HOLD_DOWN,
        }
    }
}

/// One member that serves APs, as the cluster's view shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    pub member: MemberId,
    /// The APs it holds.
    pub adopted: u32,
    /// Its platform's maximum.
    pub capacity: u32,
}

impl Load {
    /// The load in basis points (1/100 of a percent).
    pub fn basis_points(&self) -> u64 {
        if self.capacity == 0 {
            return 10_000;
        }
        u64::from(self.adopted) * 10_000 / u64::from(self.capacity)
    }
}

/// The largest load less the smallest, in basis points (0 with fewer than two members).
pub fn spread(loads: &[Load]) -> u64 {
    let bp = loads
        .iter()
        .filter(|l| l.capacity > 0)
        .map(Load::basis_points);
    match (bp.clone().max(), bp.min()) {
        (Some(max), Some(min)) => max - min,
        _ => 0,
    }
}

/// One move: `count` APs from `from` to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    pub from: MemberId,
    pub to: MemberId,
    pub count: u32,
}

/// The move the cluster makes now, if any (see the module docs). `loads` are the members that
/// serve APs (connected and active); members without capacity are ignored.
pub fn plan(loads: &[Load], threshold_pct: u8) -> Option<Move> {
    let members: Vec<&Load> = loads.iter().filter(|l| l.capacity > 0).collect();
    // Most loaded first (then the lower member id), least loaded last (then the lower id).
    let from = members
        .iter()
        .max_by_key(|l| (l.basis_points(), std::cmp::Reverse(l.member)))?;
    let to = members
        .iter()
        .min_by_key(|l| (l.basis_points(), l.member))?;
    if from.member == to.member
        || from.basis_points() - to.basis_points() <= u64::from(threshold_pct) * 100
    {
        return None;
    }
    let (af, cf) = (u64::from(from.adopted), u64::from(from.capacity));
    let (at, ct) = (u64::from(to.adopted), u64::from(to.capacity));
    // The pair's equal share: x with (af − x)/cf = (at + x)/ct, rounded down.
    let pair = (af * ct).saturating_sub(at * cf) / (cf + ct);
    // No further than the cluster's mean load on either side (so that with three members the
    // first receiver does not take what the second should, and then hold it down), unless
    // that is less than one AP: then the pair's share.
    let (total, room): (u64, u64) = members.iter().fold((0, 0), |(a, c), l| {
        (a + u64::from(l.adopted), c + u64::from(l.capacity))
    });
    let above = af.saturating_sub((total * cf).div_ceil(room));
    let below = (total * ct / room).saturating_sub(at);
    let mean = above.min(below);
    let x = if mean > 0 { mean.min(pair) } else { pair };
    let x = x.min(ct.saturating_sub(at)).min(af);
    (x > 0).then_some(Move {
        from: from.member,
        to: to.member,
        count: x as u32,
    })
}

/// The members that serve (connected and active), with the APs their hellos say they hold
/// and their capacity (`capacity_of`; 0 leaves a member out), for [`plan`].
pub fn loads(
    members: &[crate::placement::PoolMember],
    capacity_of: impl Fn(MemberId) -> u32,
) -> Vec<Load> {
    members
        .iter()
        .filter(|m| m.connected && m.active)
        .map(|m| Load {
            member: m.member,
            adopted: m.licenses.ap_count + m.licenses.aap_count,
            capacity: capacity_of(m.member),
        })
        .filter(|l| l.capacity > 0)
        .collect()
}

/// One member's part in the cluster's plan, as its composition needs it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemberBalance {
    /// The cluster's move as this member's view computes it (None: balanced, or off).
    pub plan: Option<Move>,
    /// This member moves: (to, count) for [`Adoption::handle_balance`](crate::Adoption::handle_balance).
    pub order: Option<(MemberId, u32)>,
    /// This member receives from this one: its APs join here on their licenses
    /// ([`Directory::grace`](crate::directory::Directory::grace)'s `handing_back`), and every
    /// arrival is held down ([`Adoption::handle_intake`](crate::Adoption::handle_intake)).
    pub receiving_from: Option<MemberId>,
}

/// [`plan`] for the member `me` (the one with `is_self` in `members`), if it serves and
/// balancing is on (`settings`). `own` is the APs it holds now: its hellos count the licenses
/// it still reserves for APs it released (until every member saw the release), which would
/// make a mover move again what already left.
pub fn for_member(
    members: &[crate::placement::PoolMember],
    capacity_of: impl Fn(MemberId) -> u32,
    settings: Option<BalanceSettings>,
    own: u32,
) -> MemberBalance {
    let Some(me) = members
        .iter()
        .find(|m| m.is_self && m.active && m.connected)
    else {
        return MemberBalance::default();
    };
    let Some(b) = settings else {
        return MemberBalance::default();
    };
    let mut loads = loads(members, capacity_of);
    for l in loads.iter_mut().filter(|l| l.member == me.member) {
        l.adopted = own;
    }
    let plan = plan(&loads, b.threshold_pct);
    MemberBalance {
        plan,
        order: plan
            .filter(|m| m.from == me.member)
            .map(|m| (m.to, m.count)),
        receiving_from: plan.filter(|m| m.to == me.member).map(|m| m.from),
    }
}

/// Which APs a mover sends: up to `count` of `candidates` (each with when it last moved, if
/// it did), none that moved within `hold_down` of `now`, in the order given.
pub fn select<K: Copy, T: Copy + Ord + std::ops::Sub<Output = Duration>>(
    candidates: impl IntoIterator<Item = (K, Option<T>)>,
    count: usize,
    now: T,
    hold_down: Duration,
) -> Vec<K> {
    candidates
        .into_iter()
        .filter(|(_, moved)| moved.is_none_or(|t| t > now || now - t >= hold_down))
        .filter(|(_, moved)| moved.is_none_or(|t| t <= now))
        .map(|(k, _)| k)
        .take(count)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn load(id: u32, adopted: u32, capacity: u32) -> Load {
        Load {
            member: MemberId(id),
            adopted,
            capacity,
        }
    }

    #[test]
    fn half_of_a_full_member_moves_to_an_empty_one_of_the_same_platform() {
        let loads = [load(1, 20_000, 25_600), load(2, 0, 25_600)];
        assert_eq!(
            plan(&loads, 10),
            Some(Move {
                from: MemberId(1),
                to: MemberId(2),
                count: 10_000
            })
        );
        // Within the threshold: nothing.
        let loads = [load(1, 11_000, 25_600), load(2, 9_000, 25_600)];
        assert_eq!(plan(&loads, 10), None);
        // Platforms differ: loads equal as a share of capacity, capped by the free room.
        let loads = [load(1, 1_000, 1_024), load(2, 0, 256)];
        let m = plan(&loads, 10).unwrap();
        assert_eq!(m.count, 200);
        assert_eq!(plan(&[load(1, 10, 10)], 10), None);
    }

    #[test]
    fn select_skips_aps_within_the_hold_down() {
        let hold = Duration::from_secs(600);
        let now = Duration::from_secs(1_000);
        let c = [
            (1, None),
            (2, Some(Duration::from_secs(500))),
            (3, Some(Duration::from_secs(300))),
            (4, None),
        ];
        assert_eq!(select(c, 10, now, hold), vec![1, 3, 4]);
        assert_eq!(select(c, 2, now, hold), vec![1, 3]);
    }

    fn loads_strategy() -> impl Strategy<Value = Vec<Load>> {
        proptest::collection::vec((0u32..3_000, 1u32..3_000), 1..6).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (a, c))| load(i as u32 + 1, a.min(c), c))
                .collect()
        })
    }

    proptest! {
        /// Applying the plan until it says none: never over capacity, no AP created or lost,
        /// stops within a bounded number of moves, and stops only within the threshold (or
        /// less than one AP's worth apart); a sender never ends below its receiver.
        #[test]
        fn balancing_reaches_the_threshold_and_stops(mut loads in loads_strategy(), threshold in 1u8..=50) {
            let total: u32 = loads.iter().map(|l| l.adopted).sum();
            let mut steps = 0;
            let energy = |ls: &[Load]| -> u128 {
                ls.iter().map(|l| u128::from(l.adopted) * u128::from(l.adopted) * 1_000_000_000 / u128::from(l.capacity)).sum()
            };
            while let Some(m) = plan(&loads, threshold) {
                steps += 1;
                prop_assert!(steps < 10_000, "does not stop: {loads:?}");
                let before = energy(&loads);
                let bp_from = loads.iter().find(|l| l.member == m.from).unwrap().basis_points();
                let bp_to = loads.iter().find(|l| l.member == m.to).unwrap().basis_points();
                prop_assert!(bp_from > bp_to);
                for l in loads.iter_mut() {
                    if l.member == m.from { l.adopted -= m.count; }
                    if l.member == m.to { l.adopted += m.count; }
                }
                for l in &loads {
                    prop_assert!(l.adopted <= l.capacity, "over capacity: {l:?}");
                }
                // The sender never ends less loaded than the receiver (the pair does not swap).
                let f = loads.iter().find(|l| l.member == m.from).unwrap();
                let t = loads.iter().find(|l| l.member == m.to).unwrap();
                prop_assert!(u64::from(f.adopted) * u64::from(t.capacity) >= u64::from(t.adopted) * u64::from(f.capacity));
                prop_assert!(energy(&loads) < before, "no progress: {m:?} {loads:?}");
            }
            prop_assert_eq!(loads.iter().map(|l| l.adopted).sum::<u32>(), total);
            // Stopped: within the threshold, or the two ends less than one AP apart.
            let s = spread(&loads);
            if s > u64::from(threshold) * 100 {
                let from = loads.iter().max_by_key(|l| (l.basis_points(), std::cmp::Reverse(l.member))).unwrap();
                let to = loads.iter().min_by_key(|l| (l.basis_points(), l.member)).unwrap();
                let (af, cf, at, ct) = (u64::from(from.adopted), u64::from(from.capacity), u64::from(to.adopted), u64::from(to.capacity));
                prop_assert!((af * ct).saturating_sub(at * cf) < cf + ct || at == ct, "stopped early: {loads:?}");
            }
        }

        /// A selection never includes an AP that moved within the hold-down, nor more than asked.
        #[test]
        fn a_move_plan_never_moves_an_ap_twice_within_the_hold_down(
            moved in proptest::collection::vec(proptest::option::of(0u64..2_000), 0..50),
            count in 0usize..60,
            now in 0u64..2_000,
            hold in 0u64..1_000,
        ) {
            let c: Vec<(usize, Option<Duration>)> = moved.iter().enumerate().map(|(i, m)| (i, m.map(Duration::from_secs))).collect();
            let now_d = Duration::from_secs(now);
            let hold_d = Duration::from_secs(hold);
            let s = select(c.clone(), count, now_d, hold_d);
            prop_assert!(s.len() <= count);
            for k in &s {
                if let Some(t) = c[*k].1 {
                    prop_assert!(t <= now_d && now_d - t >= hold_d);
                }
            }
            let eligible = c.iter().filter(|(_, m)| m.is_none_or(|t| t <= now_d && now_d - t >= hold_d)).count();
            prop_assert_eq!(s.len(), eligible.min(count));
        }
    }
}
