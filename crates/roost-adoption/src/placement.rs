//! Who may adopt an AP, as pure functions of plain values: the composition feeds the cluster's
//! view ([`Admission`]), the session core asks [`admit`] at every Join. The next issue's
//! auto-provisioning policy and firmware gate slot in here.

use std::fmt;

/// The license an AP consumes: WiNG keeps two pooled counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LicenseKind {
    /// A thin (dependent) AP license.
    Ap,
    /// An adaptive AP license.
    Aap,
}

impl LicenseKind {
    /// The kind a stored or replicated row names (`thin`: a thin-AP license).
    pub fn of_thin(thin: bool) -> LicenseKind {
        if thin {
            LicenseKind::Ap
        } else {
            LicenseKind::Aap
        }
    }

    pub fn is_thin(self) -> bool {
        self == LicenseKind::Ap
    }
}

impl fmt::Display for LicenseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            LicenseKind::Ap => "AP",
            LicenseKind::Aap => "AAP",
        })
    }
}

/// WiNG 5 models that take a thin-AP license. WiNG does not publish the mapping; Roost's rule
/// (documented in the README): the older dependent models below take an AP license, every
/// other model (the current AP7xxx/AP8xxx families, and any model not listed) an AAP license,
/// so that the seed's VX9000, which carries only AAP licenses, adopts them.
pub const THIN_AP_MODELS: &[&str] = &[
    "AP6511", "AP6521", "AP6522", "AP6532", "AP6562", "AP621", "AP622", "AP650",
];

/// The license `model` (as the WTP reports it in its Board Data) consumes.
pub fn license_kind(model: &str) -> LicenseKind {
    if THIN_AP_MODELS.iter().any(|m| m.eq_ignore_ascii_case(model)) {
        LicenseKind::Ap
    } else {
        LicenseKind::Aap
    }
}

/// What the cluster lets this member adopt right now, computed by the composition from the
/// election's view (operational state, the pool, what the others hold) and the cluster-wide
/// AP table (which lost member's APs may be licensed from its grace share).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Admission {
    /// This member adopts APs: it is active, or standby with no active member left.
    pub serving: bool,
    /// How many APs of each kind this member may hold in all (its share of the pool: the
    /// pool less what the other members hold).
    pub ap_licenses: u32,
    pub aap_licenses: u32,
    /// The platform's maximum number of adopted APs.
    pub capacity: u32,
    /// The APs the cluster-wide table shows on lost members (and on no connected one): each
    /// may join here on its lost member's license, outside the free pool above.
    pub grace: std::sync::Arc<std::collections::HashMap<roost_wire::Mac, LicenseKind>>,
    /// Of those, the ones mapped to a profile other than their model's default: the profile
    /// ([`crate::directory::Grace::profiles`]).
    pub grace_profiles: std::sync::Arc<std::collections::HashMap<roost_wire::Mac, String>>,
    /// Licenses of APs this member released that it still holds until every member has seen
    /// the release (the cluster-wide table's rule); such an AP may come back on it.
    pub reserved: Held,
    pub reserved_macs: std::sync::Arc<std::collections::HashSet<roost_wire::Mac>>,
}

impl Admission {
    pub fn licenses(&self, kind: LicenseKind) -> u32 {
        match kind {
            LicenseKind::Ap => self.ap_licenses,
            LicenseKind::Aap => self.aap_licenses,
        }
    }
}

/// One member as the election sees it (from its hellos; this member included; a lost member
/// as its last hello described it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolMember {
    pub member: roost_wire::MemberId,
    pub is_self: bool,
    /// Its hellos arrive. A lost member's licenses stay in the pool (WiNG's grace period): see
    /// [`admission`].
    pub connected: bool,
    /// The connected master of this side.
    pub is_master: bool,
    /// Its configured master-priority (the election's order, for [`outranks`]).
    pub master_priority: u8,
    /// Operationally active.
    pub active: bool,
    /// Installed licenses and the APs it holds (`ap_count`, `aap_count`).
    pub licenses: roost_wire::LicenseCounts,
}

/// Whether `a` comes before `b` in the election's order for master (higher master-priority,
/// then the lower member id).
pub fn outranks(a: &PoolMember, b: &PoolMember) -> bool {
    (std::cmp::Reverse(a.master_priority), a.member)
        < (std::cmp::Reverse(b.master_priority), b.member)
}

/// What this member may adopt, from the members' view and the cluster-wide AP table: it
/// serves while it is active, or standby with no active member connected (WiNG's rule: only
/// active members adopt; a standby takes over when no active is left).
///
/// The licenses, per kind, are two parts:
/// * **the free pool**: every connected member's installed licenses, less what the other
///   connected members hold from the free pool (what their hellos say they hold, less the
///   lost members' APs the table shows on them), and less what lost members held beyond
///   their own licenses (borrowed from the pool, and maybe still held on the other side of a
///   partition), so that a member that dies does not take from the survivors the licenses it
///   lent them;
/// * **the grace share** ([`Grace`](crate::directory::Grace)): exactly the APs the table
///   shows on lost members, each licensed from its member's share when it joins here, so
///   that a dead member's APs fail over at once and a partition's other side cannot spend
///   those licenses on other APs.
///
/// A lost member's *unused* licenses (installed less what it holds) count on no side. A lost
/// member is dead or on the other side of a partition, and no member can tell which: if it is
/// alive, it is connected on its own side, where its installed licenses count in that side's
/// free pool. Giving them to this side as well (the rule was: to the side whose master
/// outranks it) spent them twice in a partition: a side of the election's master took a lost
/// member's unused licenses while that member adopted on them itself (the simulation's
/// partition seed 84 over-committed the pool by one AP). The cost: while a member is lost, its
/// unused licenses are out of the pool (its APs still fail over on its grace share).
///
/// An AP adopted in the last moments before its member died (its row not yet replicated) is
/// not in the grace share: it is refused unless the free pool has room.
///
/// Known gap: two members that both serve (Active/Active) can each take the last free
/// license before their next hellos cross.
pub fn admission(
    me_active: bool,
    members: &[PoolMember],
    grace: &crate::directory::Grace,
    capacity: u32,
) -> Admission {
    let other_active = members
        .iter()
        .any(|m| !m.is_self && m.connected && m.active);
    let pool = |kind: LicenseKind| -> u32 {
        let mut total = 0u32;
        let mut others = 0u32;
        for m in members {
            let l = &m.licenses;
            let (installed, held) = match kind {
                LicenseKind::Ap => (l.ap_licenses, l.ap_count),
                LicenseKind::Aap => (l.aap_licenses, l.aap_count),
            };
            if m.connected {
                total = total.saturating_add(installed);
                if !m.is_self {
                    let covered = grace.covered.get(&m.member).map_or(0, |h| h.of(kind));
                    others = others.saturating_add(held.saturating_sub(covered));
                }
            } else {
                // Its APs beyond its own licenses were licensed from the pool: they stay
                // held (it may still hold them, on the other side of a partition).
                // Its unused licenses are not this side's (see above).
                let borrowed = held.saturating_sub(installed);
                others = others.saturating_add(borrowed);
            }
        }
        total.saturating_sub(others)
    };
    Admission {
        serving: me_active || !other_active,
        ap_licenses: pool(LicenseKind::Ap),
        aap_licenses: pool(LicenseKind::Aap),
        capacity,
        grace: grace.macs.clone(),
        grace_profiles: grace.profiles.clone(),
        reserved: grace.reserved,
        reserved_macs: grace.reserved_macs.clone(),
    }
}

/// The members a member that does not serve hands its APs back to: the connected active
/// members that have a copy of its AP table (`has_copy`,
/// [`Directory::has_copy`](crate::directory::Directory::has_copy)), when this one is not
/// active (force-configured-state returned it to standby while it held APs, or an active
/// member appeared). Without the copy the target would have no license for them: a member
/// that just restarted gets them once it has caught up. Empty while this member is active:
/// then its APs stay.
pub fn fallback_targets(
    me_active: bool,
    members: &[PoolMember],
    has_copy: impl Fn(roost_wire::MemberId) -> bool,
) -> Vec<roost_wire::MemberId> {
    if me_active {
        return Vec::new();
    }
    members
        .iter()
        .filter(|m| !m.is_self && m.connected && m.active && has_copy(m.member))
        .map(|m| m.member)
        .collect()
}

/// The connected members whose APs may join this one on their own licenses: while this member
/// is active, the connected members that are not (they hand their APs back, see
/// [`fallback_targets`]), and `balancing_from`, the member balancing APs to this one
/// ([`crate::balance::MemberBalance::receiving_from`]).
pub fn handing_back(
    me_active: bool,
    members: &[PoolMember],
    balancing_from: Option<roost_wire::MemberId>,
) -> Vec<roost_wire::MemberId> {
    let mut out: Vec<roost_wire::MemberId> = if me_active {
        members
            .iter()
            .filter(|m| !m.is_self && m.connected && !m.active)
            .map(|m| m.member)
            .collect()
    } else {
        Vec::new()
    };
    out.extend(balancing_from.filter(|f| !out.contains(f)));
    out
}

/// What this member holds now (sessions past Join, whatever their state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Held {
    pub ap: u32,
    pub aap: u32,
}

impl Held {
    pub fn total(&self) -> u32 {
        self.ap + self.aap
    }

    pub fn of(&self, kind: LicenseKind) -> u32 {
        match kind {
            LicenseKind::Ap => self.ap,
            LicenseKind::Aap => self.aap,
        }
    }

    pub fn add(&mut self, kind: LicenseKind) {
        match kind {
            LicenseKind::Ap => self.ap += 1,
            LicenseKind::Aap => self.aap += 1,
        }
    }

    pub fn remove(&mut self, kind: LicenseKind) {
        match kind {
            LicenseKind::Ap => self.ap = self.ap.saturating_sub(1),
            LicenseKind::Aap => self.aap = self.aap.saturating_sub(1),
        }
    }
}

/// Why an AP was not adopted. `Display` is the reason `show wireless ap` and the API show.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error("this controller is standby and an active controller serves APs")]
    NotServing,
    #[error("no {kind} license left (this controller holds {held} of the {allowed} the cluster pool allows it)")]
    NoLicense {
        kind: LicenseKind,
        held: u32,
        allowed: u32,
    },
    #[error("platform capacity reached ({max} APs)")]
    Capacity { max: u32 },
    #[error("too many APs joining at once ({max} half-open sessions)")]
    Busy { max: usize },
    #[error("already adopted from {other} and that session is alive")]
    SessionInUse { other: std::net::SocketAddr },
    #[error("denied by auto-provisioning-policy {policy} rule {precedence}")]
    Denied { policy: String, precedence: u16 },
    #[error("no rule of auto-provisioning-policy {policy} matched (default-adoption is off)")]
    NoRuleMatched { policy: String },
    #[error("firmware {actual:?} does not match {expected} (enforce-version adoption {level})")]
    Firmware {
        actual: String,
        expected: String,
        level: crate::firmware::EnforceVersion,
    },
    #[error("redirected to {controller} by auto-provisioning-policy {policy} rule {precedence}")]
    Redirected {
        policy: String,
        precedence: u16,
        controller: std::net::Ipv4Addr,
    },
}

impl Refusal {
    /// The Join Response Result Code (RFC 5415 4.6.35).
    pub fn result_code(&self) -> roost_capwap::types::ResultCode {
        use roost_capwap::types::ResultCode;
        match self {
            Refusal::NotServing => ResultCode::JoinFailureUnspecified,
            Refusal::NoLicense { .. } | Refusal::Capacity { .. } | Refusal::Busy { .. } => {
                ResultCode::JoinFailureResourceDepletion
            }
            Refusal::SessionInUse { .. } => ResultCode::JoinFailureSessionIdInUse,
            // With the Image Identifier of the version it should run.
            Refusal::Firmware { .. } => ResultCode::JoinFailureUnspecified,
            Refusal::Denied { .. } | Refusal::NoRuleMatched { .. } => {
                ResultCode::JoinFailureUnknownSource
            }
            // Refused here, with the AC IPv4 List naming the controller it should join.
            Refusal::Redirected { .. } => ResultCode::JoinFailureUnspecified,
        }
    }
}

/// The license an admitted AP takes, and from which part of the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Licensed {
    pub kind: LicenseKind,
    /// From a lost member's grace share (the AP was on it), not from the free pool.
    pub grace: bool,
}

/// Whether this member adopts the AP `mac` of `model` now, and the license it takes. `held`
/// is every AP this member holds, `on_grace` those of them licensed from a grace share.
pub fn admit(
    mac: roost_wire::Mac,
    model: &str,
    admission: &Admission,
    held: &Held,
    on_grace: &Held,
) -> Result<Licensed, Refusal> {
    if !admission.serving {
        return Err(Refusal::NotServing);
    }
    if held.total() >= admission.capacity {
        return Err(Refusal::Capacity {
            max: admission.capacity,
        });
    }
    if let Some(&kind) = admission.grace.get(&mac) {
        return Ok(Licensed { kind, grace: true });
    }
    let kind = license_kind(model);
    if admission.reserved_macs.contains(&mac) {
        // Released, and its license still reserved for it: it comes back on that license.
        return Ok(Licensed { kind, grace: false });
    }
    let allowed = admission.licenses(kind);
    let free = (held.of(kind) + admission.reserved.of(kind)).saturating_sub(on_grace.of(kind));
    if free >= allowed {
        return Err(Refusal::NoLicense {
            kind,
            held: free,
            allowed,
        });
    }
    Ok(Licensed { kind, grace: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: roost_wire::Mac = roost_wire::Mac([2, 0, 0, 0, 0, 1]);

    fn serving(aap: u32, capacity: u32) -> Admission {
        Admission {
            serving: true,
            ap_licenses: 0,
            aap_licenses: aap,
            capacity,
            grace: Default::default(),
            grace_profiles: Default::default(),
            reserved: Held::default(),
            reserved_macs: Default::default(),
        }
    }

    fn member(is_self: bool, active: bool, aap: u32, aap_count: u32) -> PoolMember {
        PoolMember {
            member: roost_wire::MemberId(if is_self { 1 } else { 2 }),
            is_self,
            connected: true,
            is_master: active,
            master_priority: 128,
            active,
            licenses: roost_wire::LicenseCounts {
                aap_licenses: aap,
                aap_count,
                ..Default::default()
            },
        }
    }

    #[test]
    fn the_pool_is_every_members_licenses_less_what_the_others_hold() {
        use crate::directory::Grace;
        let none = Grace::default();
        // The seed: an active and a standby VX9000, 64 AAP licenses each.
        let active = [member(true, true, 64, 10), member(false, false, 64, 0)];
        let a = admission(true, &active, &none, 10_240);
        assert_eq!((a.serving, a.aap_licenses, a.capacity), (true, 128, 10_240));
        // The standby does not serve while the active is there.
        let standby = [member(true, false, 64, 0), member(false, true, 64, 10)];
        let s = admission(false, &standby, &none, 10_240);
        assert_eq!((s.serving, s.aap_licenses), (false, 118));
        // Alone (the active died): it serves, with its own licenses.
        let alone = [member(true, false, 64, 0)];
        assert!(admission(false, &alone, &none, 10_240).serving);
        assert_eq!(admission(false, &alone, &none, 10_240).aap_licenses, 64);
        // The active (the higher rank) died holding 10 APs the table shows: those 10 MACs are
        // its grace share, its 54 unused licenses are not this side's.
        let lost = PoolMember {
            connected: false,
            active: false,
            is_master: false,
            member: roost_wire::MemberId(0),
            ..member(false, true, 64, 10)
        };
        let macs: std::collections::HashMap<_, _> = (0..10u8)
            .map(|i| (roost_wire::Mac([2, 0, 0, 0, 0, i]), LicenseKind::Aap))
            .collect();
        let grace = Grace {
            macs: std::sync::Arc::new(macs),
            profiles: Default::default(),
            lost_rows: [(lost.member, Held { ap: 0, aap: 10 })].into(),
            covered: Default::default(),
            reserved: Held::default(),
            reserved_macs: Default::default(),
        };
        let after = [member(true, true, 0, 0), lost];
        let a = admission(true, &after, &grace, 10_240);
        assert_eq!((a.serving, a.aap_licenses, a.grace.len()), (true, 0, 10));
        // Those APs join on the grace share; any other AP finds no license.
        let held = Held::default();
        let on_grace = Held::default();
        let one = roost_wire::Mac([2, 0, 0, 0, 0, 3]);
        assert_eq!(
            admit(one, "AP7532", &a, &held, &on_grace),
            Ok(Licensed {
                kind: LicenseKind::Aap,
                grace: true
            })
        );
        let stranger = roost_wire::Mac([2, 0, 0, 0, 1, 0]);
        assert!(matches!(
            admit(stranger, "AP7532", &a, &held, &on_grace),
            Err(Refusal::NoLicense { .. })
        ));
        // A lower-ranked member is lost: its unused licenses are not this side's either (it
        // may be alive across a partition, adopting on them).
        let lender = PoolMember {
            member: roost_wire::MemberId(9),
            ..lost
        };
        let grace9 = Grace {
            lost_rows: [(lender.member, Held { ap: 0, aap: 10 })].into(),
            ..grace.clone()
        };
        let a = admission(true, &[member(true, true, 0, 0), lender], &grace9, 10_240);
        assert_eq!((a.aap_licenses, a.grace.len()), (0, 10));
        // A connected member holding a lost member's APs holds them on its grace share, not
        // on the free pool.
        let mut covered = grace.clone();
        covered
            .covered
            .insert(roost_wire::MemberId(2), Held { ap: 0, aap: 4 });
        let three = [member(true, true, 64, 0), member(false, false, 64, 6), lost];
        let a = admission(true, &three, &covered, 10_240);
        assert_eq!(a.aap_licenses, 128 - 2);
        // Others holding more than the pool leaves nothing (never below zero).
        let over = [member(true, true, 0, 0), member(false, true, 1, 5)];
        assert_eq!(admission(true, &over, &none, 10).aap_licenses, 0);
    }

    #[test]
    fn current_models_take_an_aap_license_and_old_thin_ones_an_ap_license() {
        assert_eq!(license_kind("AP7532"), LicenseKind::Aap);
        assert_eq!(license_kind("AP8533"), LicenseKind::Aap);
        assert_eq!(license_kind("XYZ-unknown"), LicenseKind::Aap);
        assert_eq!(license_kind("ap6521"), LicenseKind::Ap);
    }

    #[test]
    fn each_refusal_has_its_reason_and_result_code() {
        let held = Held { ap: 0, aap: 2 };
        assert_eq!(
            admit(MAC, "AP7532", &serving(3, 10), &held, &Held::default()),
            Ok(Licensed {
                kind: LicenseKind::Aap,
                grace: false
            })
        );
        let standby = Admission {
            serving: false,
            ..serving(3, 10)
        };
        assert_eq!(
            admit(MAC, "AP7532", &standby, &held, &Held::default()),
            Err(Refusal::NotServing)
        );
        let full = admit(MAC, "AP7532", &serving(2, 10), &held, &Held::default()).unwrap_err();
        assert_eq!(
            full.to_string(),
            "no AAP license left (this controller holds 2 of the 2 the cluster pool allows it)"
        );
        assert_eq!(full.result_code().to_raw(), 4);
        let cap = admit(MAC, "AP7532", &serving(100, 2), &held, &Held::default()).unwrap_err();
        assert_eq!(cap, Refusal::Capacity { max: 2 });
        assert_eq!(cap.result_code().to_raw(), 4);
        // A thin AP needs an AP license, of which there are none.
        assert!(matches!(
            admit(MAC, "AP6521", &serving(100, 10), &held, &Held::default()),
            Err(Refusal::NoLicense {
                kind: LicenseKind::Ap,
                ..
            })
        ));
        assert_eq!(Refusal::NotServing.result_code().to_raw(), 3);
    }

    /// A lost member's unused licenses count on neither side of a partition, whatever its
    /// rows or its last hello show: on its own side it is connected and spends them there.
    /// (The rule gave them to the side whose master outranks it; with the lost member alive
    /// and adopting across a partition, both sides spent them: partition seed 84 in the
    /// simulation.) What it held beyond its own licenses stays held.
    #[test]
    fn a_lost_members_unused_licenses_are_spent_by_neither_side() {
        use crate::directory::Grace;
        let lost = |aap_count| PoolMember {
            member: roost_wire::MemberId(9),
            connected: false,
            active: false,
            is_master: false,
            ..member(false, false, 14, aap_count)
        };
        let me = member(true, true, 14, 0);
        for used in [0, 7, 14] {
            assert_eq!(
                admission(true, &[me, lost(used)], &Grace::default(), 1024).aap_licenses,
                14,
                "{used} of its 14 used: only this side's own"
            );
        }
        // It held 26: 12 borrowed from this side's licenses, still held (across a partition).
        assert_eq!(
            admission(true, &[me, lost(26)], &Grace::default(), 1024).aap_licenses,
            2
        );
        // The two sides of that partition, each as it sees the other: 28 licenses in all.
        let other = |aap_count| PoolMember {
            member: roost_wire::MemberId(1),
            is_self: false,
            connected: false,
            active: false,
            is_master: false,
            ..member(false, false, 14, aap_count)
        };
        let top = PoolMember {
            member: roost_wire::MemberId(1),
            ..member(true, true, 14, 26)
        };
        let below = PoolMember {
            member: roost_wire::MemberId(9),
            ..member(true, true, 14, 0)
        };
        let a = admission(true, &[top, lost(0)], &Grace::default(), 1024).aap_licenses;
        let b = admission(true, &[below, other(26)], &Grace::default(), 1024).aap_licenses;
        assert!(a.max(26) + b <= 28, "top side {a}, other side {b}");
    }
}
