//! Operational state: active or standby, failover, and the force-configured-state fallback
//! (see "Operational state" in the docs of [`Election`]).

use super::{Election, ElectionOutput};
use crate::Instant;
use roost_wire::{ClusterEvent, ClusterMode, OperState};

impl Election {
    pub(super) fn active_peer_alive(&self) -> bool {
        self.peers
            .values()
            .any(|p| p.hello.configured_mode == ClusterMode::Active)
    }

    pub(super) fn set_oper_state(&mut self, state: OperState) {
        if self.oper_state != state {
            self.oper_state = state;
            self.changes += 1;
            self.hello_due = true;
            self.notify(ElectionOutput::OperStateChanged { state });
        }
    }

    pub(super) fn update_oper_state(&mut self, now: Instant) {
        if self.settings.configured_mode == ClusterMode::Active {
            self.fallback_at = None;
            self.stay_active_logged = false;
            self.standby_when_active_appears = false;
            if self.oper_state != OperState::Active {
                self.set_oper_state(OperState::Active);
                self.record(
                    ClusterEvent::IsActive,
                    "Configured for active, become active".into(),
                    now,
                );
            }
            return;
        }
        let active_peer = self.active_peer_alive();
        match self.oper_state {
            OperState::Standby => {
                self.fallback_at = None;
                if !active_peer && !self.in_startup_hold && !self.resuming() {
                    self.debug("no active member connected; failing over to active".into());
                    self.set_oper_state(OperState::Active);
                    self.record(
                        ClusterEvent::IsActive,
                        "Primary down, Failed over to active".into(),
                        now,
                    );
                }
            }
            OperState::Active if !active_peer => {
                self.stay_active_logged = false;
                if self.fallback_at.take().is_some() {
                    self.debug("active member lost; canceling force_conf_state_timer".into());
                }
            }
            OperState::Active if self.standby_when_active_appears => {
                self.standby_when_active_appears = false;
                self.fallback_at = None;
                self.set_oper_state(OperState::Standby);
                self.record(
                    ClusterEvent::IsStandby,
                    "Configured for standby, become standby".into(),
                    now,
                );
            }
            OperState::Active => {
                let force = self.settings.force_configured_state
                    || self.peers.values().any(|p| {
                        p.hello.configured_mode == ClusterMode::Active
                            && p.hello.force_configured_state
                    });
                if !force {
                    if self.fallback_at.take().is_some() {
                        self.debug(
                            "force-configured-state disabled; canceling force_conf_state_timer"
                                .into(),
                        );
                    }
                    if !self.stay_active_logged {
                        self.stay_active_logged = true;
                        self.debug(
                            "active member connected; force-configured-state is disabled, stay active"
                                .into(),
                        );
                    }
                    return;
                }
                self.stay_active_logged = false;
                let at = match self.fallback_at {
                    Some(at) => at,
                    None => {
                        let at = now + self.settings.force_configured_state_delay;
                        self.fallback_at = Some(at);
                        self.debug(
                            "all cluster members are connected; force-configured-state is enabled, start timer"
                                .into(),
                        );
                        at
                    }
                };
                if now >= at {
                    self.fallback_at = None;
                    self.set_oper_state(OperState::Standby);
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
