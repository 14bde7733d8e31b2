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
/// election's view (operational state, the pool, what the others hold).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Admission {
    /// This member adopts APs: it is active, or standby with no active member left.
    pub serving: bool,
    /// How many APs of each kind this member may hold in all (its share of the pool: the
    /// pool less what the other members hold).
    pub ap_licenses: u32,
    pub aap_licenses: u32,
    /// The platform's maximum number of adopted APs.
    pub capacity: u32,
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
/// then the lower member id). Of two sides of a partition exactly one has the master that
/// outranks the other's members: that side takes a lost member's unused licenses.
pub fn outranks(a: &PoolMember, b: &PoolMember) -> bool {
    (std::cmp::Reverse(a.master_priority), a.member)
        < (std::cmp::Reverse(b.master_priority), b.member)
}

/// What this member may adopt, from the members' view: it serves while it is active, or
/// standby with no active member connected (WiNG's rule: only active members adopt; a standby
/// takes over when no active is left). Its licenses are the cluster's pool less what the other
/// connected members hold. The pool is every connected member's installed licenses, plus, for
/// each lost member, as many of its licenses as it held APs (so that its APs can fail over
/// here, licensed from its grace share), and its unused licenses too if this side's master
/// outranks it ([`outranks`]): of two sides of a partition exactly one is the side the
/// election would keep, so a lost member's unused licenses go to one side only, and a member
/// that dies does not take from the survivors the licenses it lent them.
///
/// Known gaps, closed by the AP table replicated between members (a later step): two members
/// that both serve (Active/Active) can each take the last free license before their next
/// hellos cross; and in a partition the other side's APs stay there while this side may spend
/// the lost member's grace share on other APs.
pub fn admission(me_active: bool, members: &[PoolMember], capacity: u32) -> Admission {
    let other_active = members
        .iter()
        .any(|m| !m.is_self && m.connected && m.active);
    let master = members.iter().find(|m| m.connected && m.is_master);
    let pool = |installed: fn(&roost_wire::LicenseCounts) -> u32,
                held: fn(&roost_wire::LicenseCounts) -> u32|
     -> u32 {
        let mut total = 0u32;
        let mut others = 0u32;
        for m in members {
            let l = &m.licenses;
            if m.connected {
                total = total.saturating_add(installed(l));
                if !m.is_self {
                    others = others.saturating_add(held(l));
                }
            } else if master.is_some_and(|master| outranks(master, m)) {
                total = total.saturating_add(installed(l));
            } else {
                total = total.saturating_add(installed(l).min(held(l)));
            }
        }
        total.saturating_sub(others)
    };
    Admission {
        serving: me_active || !other_active,
        ap_licenses: pool(|l| l.ap_licenses, |l| l.ap_count),
        aap_licenses: pool(|l| l.aap_licenses, |l| l.aap_count),
        capacity,
    }
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
        }
    }
}

/// Whether this member adopts an AP of `model` now, and the license it takes.
pub fn admit(model: &str, admission: &Admission, held: &Held) -> Result<LicenseKind, Refusal> {
    if !admission.serving {
        return Err(Refusal::NotServing);
    }
    if held.total() >= admission.capacity {
        return Err(Refusal::Capacity {
            max: admission.capacity,
        });
    }
    let kind = license_kind(model);
    let allowed = admission.licenses(kind);
    if held.of(kind) >= allowed {
        return Err(Refusal::NoLicense {
            kind,
            held: held.of(kind),
            allowed,
        });
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serving(aap: u32, capacity: u32) -> Admission {
        Admission {
            serving: true,
            ap_licenses: 0,
            aap_licenses: aap,
            capacity,
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
        // The seed: an active and a standby VX9000, 64 AAP licenses each.
        let active = [member(true, true, 64, 10), member(false, false, 64, 0)];
        let a = admission(true, &active, 10_240);
        assert_eq!((a.serving, a.aap_licenses, a.capacity), (true, 128, 10_240));
        // The standby does not serve while the active is there.
        let standby = [member(true, false, 64, 0), member(false, true, 64, 10)];
        let s = admission(false, &standby, 10_240);
        assert_eq!((s.serving, s.aap_licenses), (false, 118));
        // Alone (the active died): it serves, with its own licenses.
        let alone = [member(true, false, 64, 0)];
        assert!(admission(false, &alone, 10_240).serving);
        assert_eq!(admission(false, &alone, 10_240).aap_licenses, 64);
        // The active died holding 10 APs: its grace share covers those 10, not its 54 unused.
        let lost = PoolMember {
            connected: false,
            active: false,
            is_master: false,
            member: roost_wire::MemberId(0),
            ..member(false, true, 64, 10)
        };
        let after = [member(true, true, 0, 0), lost];
        let a = admission(true, &after, 10_240);
        assert_eq!((a.serving, a.aap_licenses), (true, 10));
        // A lower-ranked member died: this side keeps all of its licenses.
        let lender = PoolMember {
            member: roost_wire::MemberId(9),
            ..lost
        };
        let a = admission(true, &[member(true, true, 0, 0), lender], 10_240);
        assert_eq!(a.aap_licenses, 64);
        // Others holding more than the pool leaves nothing (never below zero).
        let over = [member(true, true, 0, 0), member(false, true, 1, 5)];
        assert_eq!(admission(true, &over, 10).aap_licenses, 0);
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
            admit("AP7532", &serving(3, 10), &held),
            Ok(LicenseKind::Aap)
        );
        let standby = Admission {
            serving: false,
            ..serving(3, 10)
        };
        assert_eq!(admit("AP7532", &standby, &held), Err(Refusal::NotServing));
        let full = admit("AP7532", &serving(2, 10), &held).unwrap_err();
        assert_eq!(
            full.to_string(),
            "no AAP license left (this controller holds 2 of the 2 the cluster pool allows it)"
        );
        assert_eq!(full.result_code().to_raw(), 4);
        let cap = admit("AP7532", &serving(100, 2), &held).unwrap_err();
        assert_eq!(cap, Refusal::Capacity { max: 2 });
        assert_eq!(cap.result_code().to_raw(), 4);
        // A thin AP needs an AP license, of which there are none.
        assert!(matches!(
            admit("AP6521", &serving(100, 10), &held),
            Err(Refusal::NoLicense {
                kind: LicenseKind::Ap,
                ..
            })
        ));
        assert_eq!(Refusal::NotServing.result_code().to_raw(), 3);
    }
}
