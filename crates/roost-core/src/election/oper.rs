//! Operational state: active or standby, failover, and the force-configured-state fallback
//! (see "Operational state" in the docs of [`Election`]).

use super::{Election, ElectionOutput};
use crate::Instant;
use roost_wire::{ClusterEvent, ClusterMode, OperState};

/// The operational state and what it is waiting for: one value, so that no combination of
/// flags can say two things at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OperPhase {
    Standby,
    /// Configured active; or configured standby and failed over, with no active member
    /// connected.
    Active,
    /// Configured standby, failed over, an active member is connected again and
    /// force-configured-state is off: it stays active (said once, on entry).
    StayingActive,
    /// As `StayingActive` with force-configured-state on: back to standby at `at`.
    FallingBack {
        at: Instant,
    },
    /// Configured for standby while active with no active member to hand over to (a
    /// join-cluster or a `cluster mode standby` on a lone member): it never failed over, so
    /// it becomes standby as soon as an active member appears, without a delay.
    StandbyWhenActiveAppears,
}

impl OperPhase {
    pub(super) fn state(self) -> OperState {
        match self {
            OperPhase::Standby => OperState::Standby,
            _ => OperState::Active,
        }
    }

    /// When the force-configured-state fallback fires, if it is armed.
    pub(super) fn fallback_at(self) -> Option<Instant> {
        match self {
            OperPhase::FallingBack { at } => Some(at),
            _ => None,
        }
    }
}

impl Election {
    pub(super) fn active_peer_alive(&self) -> bool {
        self.peers
            .values()
            .any(|p| p.hello.configured_mode == ClusterMode::Active)
    }

    /// Moves to `phase`; a change of the operational state goes out at once (hello, output).
    pub(super) fn set_phase(&mut self, phase: OperPhase) {
        if self.phase == phase {
            return;
        }
        let state = phase.state();
        let changed = self.phase.state() != state;
        self.phase = phase;
        self.changes += 1;
        if changed {
            self.hello_due = true;
            self.notify(ElectionOutput::OperStateChanged { state });
        }
    }

    pub(super) fn update_oper_state(&mut self, now: Instant) {
        if self.settings.configured_mode == ClusterMode::Active {
            let was = self.phase.state();
            self.set_phase(OperPhase::Active);
            if was != OperState::Active {
                self.record(
                    ClusterEvent::IsActive,
                    "Configured for active, become active".into(),
                    now,
                );
            }
            return;
        }
        let active_peer = self.active_peer_alive();
        match self.phase {
            OperPhase::Standby => {
                if !active_peer && !self.in_startup_hold && !self.resuming() {
                    self.debug("no active member connected; failing over to active".into());
                    self.set_phase(OperPhase::Active);
                    self.record(
                        ClusterEvent::IsActive,
                        "Primary down, Failed over to active".into(),
                        now,
                    );
                }
            }
            OperPhase::FallingBack { .. } if !active_peer => {
                self.debug("active member lost; canceling force_conf_state_timer".into());
                self.set_phase(OperPhase::Active);
            }
            OperPhase::StayingActive if !active_peer => self.set_phase(OperPhase::Active),
            OperPhase::Active | OperPhase::StandbyWhenActiveAppears if !active_peer => {}
            OperPhase::StandbyWhenActiveAppears => {
                self.set_phase(OperPhase::Standby);
                self.record(
                    ClusterEvent::IsStandby,
                    "Configured for standby, become standby".into(),
                    now,
                );
            }
            OperPhase::Active | OperPhase::StayingActive | OperPhase::FallingBack { .. } => {
                let force = self.settings.force_configured_state
                    || self.peers.values().any(|p| {
                        p.hello.configured_mode == ClusterMode::Active
                            && p.hello.force_configured_state
                    });
                if !force {
                    if self.phase.fallback_at().is_some() {
                        self.debug(
                            "force-configured-state disabled; canceling force_conf_state_timer"
                                .into(),
                        );
                    }
                    if self.phase != OperPhase::StayingActive {
                        self.set_phase(OperPhase::StayingActive);
                        self.debug(
                            "active member connected; force-configured-state is disabled, stay active"
                                .into(),
                        );
                    }
                    return;
                }
                let at = match self.phase.fallback_at() {
                    Some(at) => at,
                    None => {
                        let at = now + self.settings.force_configured_state_delay;
                        self.set_phase(OperPhase::FallingBack { at });
                        self.debug(
                            "all cluster members are connected; force-configured-state is enabled, start timer"
                                .into(),
                        );
                        at
                    }
                };
                if now >= at {
                    self.set_phase(OperPhase::Standby);
                    self.record(
                        ClusterEvent::IsStandby,
                        "force-configured-state delay expired, back to configured standby".into(),
                        now,
                    );
                }
            }
        }
    }
}
