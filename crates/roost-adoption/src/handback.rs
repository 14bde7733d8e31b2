//! Handing APs back to their configured controller (the fallback after
//! force-configured-state): a member that no longer serves (it returned to standby) but still
//! holds APs moves them, without a reboot, to the members that serve.
//!
//! The driver names the targets ([`Adoption::handle_fallback`], from
//! [`placement::fallback_targets`](crate::placement::fallback_targets)). Each AP in Run then
//! gets, at most [`AcSettings::handback_window`](crate::AcSettings::handback_window) APs at a
//! time, a Configuration Update Request with the AC Name with Priority list (targets 1, this
//! member 2) and WTP Fallback enabled (RFC 5415 4.6.1, 4.6.47). A WTP that honours them sends
//! a Primary Discovery Request to the better AC at its next echo and joins it; the target's
//! later claim wins the AP table's duplicate rule and this session is released. Until then
//! this member keeps serving the AP: a Join the target refuses brings it back here, and this
//! member takes it back even though it no longer serves (and never resets it: it honours
//! fallback, and tries again after its own hold-down). An AP that confirms and stays two
//! echo intervals (a WTP that ignores fallback), or that refuses the update, gets a Reset
//! Request.
//!
//! Fallback is off otherwise (Configuration Status Response: WTP Fallback disabled), and an
//! AP told to fall back is told to stop when the handback ends (this member serves again),
//! so that with no force-configured-state an AP stays where it is.

use crate::{Adoption, ApState, ApView, Instant, Request};
use roost_capwap::elements::{AcNameWithPriority, ImageIdentifier};
use roost_capwap::messages::ConfigurationUpdateRequest;
use roost_capwap::types::{ResultCode, WtpFallback};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;

/// The controller-wide handback.
#[derive(Default)]
pub(crate) struct Handback {
    /// The AC names APs here fall back to (priority 1; this member is 2). Empty: none.
    targets: Vec<String>,
    /// Bumped whenever `targets` changes.
    generation: u64,
    /// APs in Run waiting for a place in the window.
    queue: VecDeque<SocketAddr>,
    /// APs in the window (told, or about to be told, to fall back, and still here).
    pub(crate) moving: usize,
    /// When an AP that confirmed is reset if it is still here: (due, AP, generation).
    timers: BinaryHeap<Reverse<(Instant, SocketAddr, u64)>>,
    /// The load-balancing round in progress, if any ([`Adoption::handle_balance`]).
    pub(crate) balance: Option<BalanceRound>,
    /// When the last round ended: the next starts no earlier than
    /// [`BALANCE_SETTLE`] after it, once the members' hellos show where its APs went.
    balance_ended: Option<Instant>,
    /// The last selected AP left; `balance_ended` is stamped at the next order.
    balance_finished: bool,
    /// Another member balances to this one ([`Adoption::handle_intake`]).
    pub(crate) intake: bool,
}

/// After a balancing round, this long passes before the next (hellos catch up).
pub const BALANCE_SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

/// One load-balancing round: selected APs of this member move to `target`.
#[derive(Clone, Debug)]
pub(crate) struct BalanceRound {
    pub(crate) target: String,
    pub(crate) generation: u64,
    /// Selected APs still here.
    pub(crate) selected: usize,
    /// APs that left in this round.
    pub(crate) moved: u64,
}

/// What the composition asks of this member's balancing: move `count` APs to the member
/// named `target` (the AC Name its APs are told), with `hold_down` between two moves of one AP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceOrder {
    pub target: String,
    pub count: usize,
    pub hold_down: std::time::Duration,
}

/// Where one AP stands in the handback.
#[derive(Clone, Debug, Default)]
pub(crate) struct SessionFallback {
    /// It is in the window.
    pub(crate) moving: bool,
    /// The generation of the list it confirmed (0: none).
    confirmed: u64,
    /// It confirmed WTP Fallback enabled: it is told to stop when the handback ends.
    enabled: bool,
    /// Its Reset Request is due.
    reset: bool,
    /// It came back after it was told to fall back (the target refused it): it honours
    /// fallback and tries again after its own hold-down, so it is never reset.
    pub(crate) returned: bool,
    /// It is selected in the balancing round.
    pub(crate) balancing: bool,
    /// When it arrived here from a connected member (a move), for the balancing hold-down.
    pub(crate) moved_at: Option<Instant>,
}

impl SessionFallback {
    /// The state of a session that takes over `old` (a rejoin).
    pub(crate) fn after(old: &SessionFallback) -> SessionFallback {
        SessionFallback {
            returned: old.returned || old.moving || old.enabled,
            moved_at: old.moved_at,
            ..SessionFallback::default()
        }
    }
}

impl Handback {
    pub(crate) fn active(&self) -> bool {
        !self.targets.is_empty()
    }

    /// APs are moving: a handback, or a balancing round.
    fn moving_any(&self) -> bool {
        self.active() || self.balance.is_some()
    }

    /// What the AC owes an AP in the handback, if anything.
    pub(crate) fn next_request(&self, f: &SessionFallback) -> Option<Request> {
        if let Some(round) = self.balance.as_ref().filter(|_| f.balancing) {
            if f.reset {
                return Some(Request::Reset);
            }
            if f.moving && f.confirmed != round.generation {
                return Some(Request::Fallback {
                    enabled: true,
                    generation: round.generation,
                });
            }
            return None;
        }
        if self.active() {
            if f.reset {
                return Some(Request::Reset);
            }
            if f.moving && f.confirmed != self.generation {
                return Some(Request::Fallback {
                    enabled: true,
                    generation: self.generation,
                });
            }
            None
        } else if f.enabled {
            Some(Request::Fallback {
                enabled: false,
                generation: self.generation,
            })
        } else {
            None
        }
    }

    /// The Configuration Update Request: fall back to the targets, or (disabled) stay here.
    pub(crate) fn update_request(
        &self,
        enabled: bool,
        own: &str,
        f: &SessionFallback,
    ) -> ConfigurationUpdateRequest {
        let name = |priority: u8, name: &str| AcNameWithPriority {
            priority,
            name: name.to_string(),
        };
        let (list, fallback) = if enabled {
            let targets = match self.balance.as_ref().filter(|_| f.balancing) {
                Some(round) => std::slice::from_ref(&round.target),
                None => &self.targets[..],
            };
            let mut list: Vec<AcNameWithPriority> = targets.iter().map(|t| name(1, t)).collect();
            list.push(name(2, own));
            (list, WtpFallback::Enabled)
        } else {
            (vec![name(1, own)], WtpFallback::Disabled)
        };
        ConfigurationUpdateRequest {
            ac_names_with_priority: list,
            wtp_fallback: Some(fallback),
            ..ConfigurationUpdateRequest::default()
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _, _))| *at)
    }
}

/// The image a Reset Request names: the one the AP runs (no image download here).
pub(crate) fn current_image(ap: &ApView) -> ImageIdentifier {
    let data = if ap.software_version.is_empty() {
        "current".to_string()
    } else {
        ap.software_version.clone()
    };
    ImageIdentifier {
        vendor_id: roost_capwap::vendor::ROOST_VENDOR_ID,
        data,
    }
}

impl Adoption {
    /// Where the APs this member holds go: `targets` (AC names) when this member no longer
    /// serves and others do, empty when it serves (or no one else does). See [`handback`](self).
    pub fn handle_fallback(&mut self, targets: Vec<String>, now: Instant) {
        if targets == self.handback.targets {
            return;
        }
        let was_active = self.handback.active();
        if !targets.is_empty() {
            // Handing every AP back outranks balancing some of them.
            self.end_balance(now);
        }
        self.handback.targets = targets;
        self.handback.generation += 1;
        self.handback.queue.clear();
        let mut addrs: Vec<SocketAddr> = self.sessions.keys().copied().collect();
        // In a fixed order (the queue's order is what the APs see), not the hash map's.
        addrs.sort_unstable();
        for addr in addrs {
            let Some(s) = self.sessions.get_mut(&addr) else {
                continue;
            };
            if self.handback.active() {
                if s.fallback.moving {
                    // A new list for an AP already told.
                    self.enqueue_push(addr);
                } else {
                    self.enqueue_handback(addr);
                }
            } else if was_active {
                if s.fallback.moving {
                    s.fallback.moving = false;
                    self.handback.moving -= 1;
                }
                s.fallback.reset = false;
                if s.fallback.enabled {
                    self.enqueue_push(addr);
                }
            }
        }
        self.pump_wlans(now);
    }

    /// APs told to fall back, and APs waiting for their turn.
    pub fn handback_backlog(&self) -> (usize, usize) {
        (self.handback.moving, self.handback.queue.len())
    }

    /// An AP reached Run (or the handback began): it waits for its turn.
    pub(crate) fn enqueue_handback(&mut self, addr: SocketAddr) {
        if !self.handback.active() {
            return;
        }
        if let Some(s) = self.sessions.get(&addr) {
            if s.view.state == ApState::Run && !s.fallback.moving {
                self.handback.queue.push_back(addr);
            }
        }
    }

    /// Moves waiting APs into the window while it has room.
    pub(crate) fn admit_handbacks(&mut self) {
        while self.handback.moving_any() && self.handback.moving < self.settings.handback_window {
            let Some(addr) = self.handback.queue.pop_front() else {
                return;
            };
            let Some(s) = self.sessions.get_mut(&addr) else {
                continue;
            };
            if s.view.state != ApState::Run
                || s.fallback.moving
                || (!self.handback.active() && !s.fallback.balancing)
            {
                continue;
            }
            s.fallback.moving = true;
            self.handback.moving += 1;
            self.enqueue_push(addr);
        }
    }

    pub(crate) fn on_fallback_response(
        &mut self,
        from: SocketAddr,
        enabled: bool,
        generation: u64,
        code: ResultCode,
        now: Instant,
    ) {
        let echo = self
            .sessions
            .get(&from)
            .map_or(self.settings.echo_interval, |s| s.timers.echo());
        let Some(s) = self.sessions.get_mut(&from) else {
            return;
        };
        if enabled {
            if code.is_success() {
                self.counters.handback_confirmed += 1;
                s.fallback.confirmed = generation;
                s.fallback.enabled = true;
                // It moves at its next echo; one still here after two has ignored it.
                if !s.fallback.returned {
                    self.handback
                        .timers
                        .push(Reverse((now + echo * 2, from, generation)));
                }
            } else {
                // It cannot fall back: only a reset moves it.
                s.fallback.reset = true;
            }
        } else {
            s.fallback.enabled = false;
            s.fallback.confirmed = generation;
        }
        self.requeue(from);
    }

    /// Resets the APs that confirmed a fallback and stayed.
    pub(crate) fn handback_timeouts(&mut self, now: Instant) {
        while let Some(&Reverse((at, addr, generation))) = self.handback.timers.peek() {
            if at > now {
                break;
            }
            self.handback.timers.pop();
            if !self.handback.moving_any() || generation != self.handback.generation {
                continue;
            }
            let Some(s) = self.sessions.get_mut(&addr) else {
                continue;
            };
            if s.fallback.moving && s.fallback.confirmed == generation {
                s.fallback.reset = true;
                self.requeue(addr);
            }
        }
    }
}

impl Adoption {
    /// The composition's balancing order for this member ([`balance::plan`](crate::balance)
    /// named it the mover): `None` ends the round in progress (the loads are within the
    /// threshold, or the plan changed). A new round selects up to `count` APs in Run, none that
    /// moved within the hold-down ([`balance::select`](crate::balance::select)), and moves
    /// them as the handback does (the same window, AC Name with Priority naming the target,
    /// WTP Fallback, a Reset for one that ignores it). A round in progress is never widened
    /// (the view lags the moves); a smaller count drops selected APs not told yet. Ignored
    /// while this member hands its APs back.
    pub fn handle_balance(&mut self, order: Option<BalanceOrder>, now: Instant) {
        if std::mem::take(&mut self.handback.balance_finished) {
            self.handback.balance_ended = Some(now);
        }
        if self.handback.active() {
            return;
        }
        let Some(order) = order.filter(|o| o.count > 0) else {
            if self.handback.balance.is_some() {
                self.end_balance(now);
                self.pump_wlans(now);
            }
            return;
        };
        if let Some(round) = &self.handback.balance {
            if round.target == order.target {
                if order.count < round.selected {
                    self.shrink_balance(order.count);
                }
                return;
            }
            self.end_balance(now);
        }
        if self
            .handback
            .balance_ended
            .is_some_and(|t| now < t + BALANCE_SETTLE)
        {
            return;
        }
        let mut candidates: Vec<(roost_wire::Mac, SocketAddr, Option<Instant>)> = self
            .sessions
            .iter()
            .filter(|(_, s)| {
                s.view.state == ApState::Run && !s.fallback.moving && !s.fallback.returned
            })
            .map(|(a, s)| (s.view.mac, *a, s.fallback.moved_at))
            .collect();
        candidates.sort_unstable_by_key(|(mac, _, _)| *mac);
        let chosen = crate::balance::select(
            candidates.iter().map(|(_, a, m)| (*a, *m)),
            order.count,
            now,
            order.hold_down,
        );
        if chosen.is_empty() {
            // Everything is held down: look again after the settle time, not at every order
            // (a selection walks and sorts every session).
            self.handback.balance_ended = Some(now);
            return;
        }
        self.handback.generation += 1;
        self.handback.balance = Some(BalanceRound {
            target: order.target,
            generation: self.handback.generation,
            selected: chosen.len(),
            moved: 0,
        });
        self.counters.balance_rounds += 1;
        for addr in chosen {
            if let Some(s) = self.sessions.get_mut(&addr) {
                s.fallback.balancing = true;
                self.handback.queue.push_back(addr);
            }
        }
        self.pump_wlans(now);
    }

    /// Whether another member is moving APs to this one now (the plan names this member the
    /// receiver): every new session until then is held down (its Join may come before this
    /// member's copy of the AP table shows it on the mover).
    pub fn handle_intake(&mut self, on: bool) {
        self.handback.intake = on;
    }

    /// The AP at `mac` came here from a connected member (a balancing move or a handback):
    /// it is not moved again within the hold-down.
    pub fn handle_moved(&mut self, mac: roost_wire::Mac, now: Instant) {
        if let Some(s) = self.by_mac.get(&mac).and_then(|a| self.sessions.get_mut(a)) {
            s.fallback.moved_at = Some(now);
        }
    }

    /// The round in progress: its target, APs selected and still here, APs gone.
    pub fn balance_progress(&self) -> Option<(&str, usize, u64)> {
        self.handback
            .balance
            .as_ref()
            .map(|r| (r.target.as_str(), r.selected, r.moved))
    }

    /// Drops selected APs not told yet until `count` remain.
    fn shrink_balance(&mut self, count: usize) {
        let Some(round) = self.handback.balance.as_mut() else {
            return;
        };
        let excess = round.selected.saturating_sub(count);
        // The last ones in MAC order (the order they were selected in), not the hash map's.
        let mut untold: Vec<(roost_wire::Mac, SocketAddr)> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.fallback.balancing && !s.fallback.moving)
            .map(|(a, s)| (s.view.mac, *a))
            .collect();
        untold.sort_unstable();
        for (_, addr) in untold.into_iter().rev().take(excess) {
            if let Some(s) = self.sessions.get_mut(&addr) {
                s.fallback.balancing = false;
                round.selected -= 1;
            }
        }
    }

    /// Ends the round: APs told to move are told to stay (WTP Fallback disabled).
    pub(crate) fn end_balance(&mut self, now: Instant) {
        if self.handback.balance.take().is_none() {
            return;
        }
        self.handback.balance_ended = Some(now);
        self.handback.generation += 1;
        let mut addrs: Vec<SocketAddr> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.fallback.balancing)
            .map(|(a, _)| *a)
            .collect();
        addrs.sort_unstable();
        for addr in addrs {
            let Some(s) = self.sessions.get_mut(&addr) else {
                continue;
            };
            s.fallback.balancing = false;
            s.fallback.reset = false;
            if s.fallback.moving {
                s.fallback.moving = false;
                self.handback.moving -= 1;
            }
            if s.fallback.enabled {
                self.enqueue_push(addr);
            }
        }
    }

    /// A selected AP left (it joined the target, or it was lost): the round ends with the
    /// last one.
    pub(crate) fn balance_left(&mut self, moved: bool) {
        let Some(round) = self.handback.balance.as_mut() else {
            return;
        };
        round.selected = round.selected.saturating_sub(1);
        if moved {
            round.moved += 1;
            self.counters.balance_moved += 1;
        }
        if round.selected == 0 {
            self.handback.balance = None;
            self.handback.balance_finished = true;
        }
    }
}
