//! [`Wtp`]: one AP's CAPWAP state machine (RFC 5415 2.3, the WTP's half), sans-IO.
//!
//! Fed `handle_control` / `handle_data` (datagrams with their source) and `handle_timeout`,
//! all with the current time; it queues [`Output`]s (datagrams to send, [`Event`]s) for
//! `poll_output` and names its next deadline in `poll_timeout`. It owns no socket, clock or
//! random generator: the caller passes 16 random bytes at construction, from which every
//! session's Session ID is derived (see [`Wtp::new`]).
//!
//! The states, as the AP runs them:
//!
//! * **Discovery**: a Discovery Request to every pool-1 controller, again every
//!   DiscoveryInterval to those that did not answer; pool 2 joins the round once pool 1 has
//!   been silent for a whole interval. After the first response the AP waits DiscoveryInterval
//!   for more (at once if everyone asked has answered), then picks the least loaded AC (pool
//!   first, then AC Descriptor Active/Max WTPs, then the lowest CAPWAP Control IPv4 Address
//!   WTP Count, then list order). MaxDiscoveries silent rounds: **Sulking** for
//!   SilentInterval, everything received ignored.
//!   In a cold start (not in Run since it booted or was reset), a Roost Start Delay in a
//!   Discovery Response (WiNG's `adoption start-delay`) makes the AP wait a time drawn from
//!   its seed in [min, max] before it decides, once per boot; a re-adoption never waits.
//! * **Join**: Join Request with a new Session ID. A refusal (non-success Result Code) is an
//!   [`Event::Refused`] and the AP tries the ACs the refusal's AC IPv4 List names that it has
//!   not tried since its last discovery (a WiNG redirect; at most two such hops in a row),
//!   then the next AC it knows; when none is left it waits
//!   [`WtpSettings::refused_retry`] (**Idle**) and discovers again.
//! * **Configure**: Configuration Status Request; the response's CAPWAP Timers, WTP Fallback,
//!   AC IPv4 List and any AC Name with Priority are kept.
//! * **Data Check**: Change State Event Request, then data keep-alives (retransmitted like a
//!   request) until the AC echoes one carrying the Session ID.
//! * **Run**: an Echo Request every echo interval, a keep-alive every DataChannelKeepAlive;
//!   Configuration Update, IEEE 802.11 WLAN Configuration and Reset Requests answered.
//!
//! Reliability (RFC 5415 4.5.3): one request outstanding; retransmitted unchanged after
//! RetransmitInterval, the wait doubling up to half the echo interval, MaxRetransmit times.
//! The AC's requests are answered once per sequence number: a repeat gets the cached response
//! again, an older one is ignored; a response for no outstanding request is discarded.
//! Roost's [`FastTimers`] element, announced in the Join Request and honoured from the Join
//! and Configuration Status Responses, replaces echo interval, retransmit interval and count;
//! its one retransmission applies in Run only. Before Run the count is at least the RFC's
//! MaxRetransmit (5; the waits still start at the fast interval): a controller slow to answer
//! because thousands of APs join it at once is alive, and giving up on it costs the AP a
//! refusal elsewhere and seconds before it comes back ([`retransmit_budget`]).
//!
//! **Failover**: an AC that stops answering in Configure, Data Check or Run (MaxRetransmit
//! exhausted, or no keep-alive echoed for DataChannelDeadInterval) is lost
//! ([`Event::AcLost`], stamped with the time it was noticed), and the AP goes straight to
//! Join on the next AC it knows, without a discovery round: the AC IPv4 List first, then
//! the controller list. **Fallback** (WTP Fallback enabled and the AC gave an AC Name with
//! Priority list): while in Run on an AC that is not the best-priority one, every Echo
//! Request goes with a Primary Discovery Request to the better ACs; when one answers the AP
//! joins it ([`Event::FallingBack`]), no reboot. A failed move holds that AC off for
//! [`WtpSettings::fallback_holddown`].
//!
//! Not simulated: DTLS (control is plaintext, as the codec), Image Data (an AC that asks for
//! another image is a failed Join), WTP Event statistics, stations and data frames.

use crate::controllers::{data_address, ControllerList};

/// At most this many refusals in a row send the AP to ACs their AC IPv4 List named (a
/// WiNG redirect), before it falls back to its own list and discovery.
const MAX_REDIRECTS: u8 = 2;
use crate::error::WtpError;
use crate::identity::WtpIdentity;
use crate::settings::{Timers, WtpSettings};
use roost_capwap::elements::*;
use roost_capwap::messages::*;
use roost_capwap::types::*;
use roost_capwap::vendor::{FastTimers, LostSession, StartDelay};
use roost_capwap::{
    ControlMessage, ControlPacket, DataBody, DataPacket, KeepAlive, MacAddress, MessageBody,
    MessageType, RequestOrder, Sequence,
};
use std::collections::VecDeque;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

#[cfg(test)]
mod tests;
mod wlan;

pub use wlan::Wlan;

/// The AP's state (RFC 5415 2.3, less the DTLS states, which plaintext lab mode skips).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Waiting before a new discovery (after every AC refused the Join).
    Idle,
    Discovery,
    Sulking,
    Join,
    Configure,
    DataCheck,
    Run,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Idle,
        State::Discovery,
        State::Sulking,
        State::Join,
        State::Configure,
        State::DataCheck,
        State::Run,
    ];
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Idle => "Idle",
            State::Discovery => "Discovery",
            State::Sulking => "Sulking",
            State::Join => "Join",
            State::Configure => "Configure",
            State::DataCheck => "Data Check",
            State::Run => "Run",
        })
    }
}

/// Why an AC was given up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossCause {
    /// A request (Echo, Configuration Status, Change State Event) went unanswered through
    /// every retransmission.
    NoResponse(MessageType),
    /// Data Check: no keep-alive echoed through every retransmission.
    KeepAliveUnanswered,
    /// Run: no keep-alive echoed for DataChannelDeadInterval.
    DataChannelDead,
}

impl fmt::Display for LossCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LossCause::NoResponse(t) => write!(f, "no answer to its {}", t.name()),
            LossCause::KeepAliveUnanswered => {
                f.write_str("no data keep-alive echoed in Data Check")
            }
            LossCause::DataChannelDead => {
                f.write_str("no data keep-alive echoed for DataChannelDeadInterval")
            }
        }
    }
}

/// What happened to the AP, for the driver to count and show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    StateChanged {
        from: State,
        to: State,
    },
    /// In Run on this AC.
    Adopted {
        ac: SocketAddr,
        ac_name: String,
    },
    /// The AC stopped answering; `detected_at` is when the AP noticed (the start of its
    /// time to re-adopt).
    AcLost {
        ac: SocketAddr,
        detected_at: Instant,
        cause: LossCause,
    },
    /// A Join Response with a failure Result Code.
    Refused {
        ac: SocketAddr,
        code: ResultCode,
        reason: String,
    },
    /// A Join that got no usable answer (no response, or a request for an image download).
    JoinFailed {
        ac: SocketAddr,
        reason: String,
    },
    /// Leaving `from` for the higher-priority `to` (WTP Fallback).
    FallingBack {
        from: SocketAddr,
        to: SocketAddr,
        ac_name: String,
    },
    /// The AC sent a Reset Request: the AP "reboots" (back to Discovery, WLANs gone).
    Reset {
        ac: SocketAddr,
    },
    /// A cold start's Join waits `delay`, drawn from the Roost Start Delay the AC told in its
    /// Discovery Response (WiNG's `adoption start-delay`).
    StartDelayed {
        delay: Duration,
    },
    WlanAdded {
        radio_id: u8,
        wlan_id: u8,
        ssid: Vec<u8>,
        bssid: [u8; 6],
    },
    WlanUpdated {
        radio_id: u8,
        wlan_id: u8,
    },
    WlanDeleted {
        radio_id: u8,
        wlan_id: u8,
    },
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send on the control channel (UDP 5246 at the AC; DSCP CS6).
    Control {
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    /// Send on the data channel (UDP 5247 at the AC): keep-alives.
    Data {
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    Event(Event),
}

/// Counts of what the AP sent, received and dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WtpCounters {
    pub control_received: u64,
    pub data_received: u64,
    pub control_sent: u64,
    pub data_sent: u64,
    pub retransmits: u64,
    /// Undecodable datagrams ([`WtpError::Malformed`]).
    pub malformed: u64,
    /// Well-formed but from the wrong peer, or wrong for the state.
    pub unexpected: u64,
    /// Duplicate responses discarded and repeated AC requests answered from the cache.
    pub duplicates: u64,
    /// AC requests older than the last one.
    pub stale: u64,
    /// Datagrams ignored while sulking.
    pub sulking: u64,
    /// Own messages that failed to encode (an AC-supplied value out of range); not sent.
    pub encode_errors: u64,
    /// Roost Controller Lost Requests that named this AP's session (it probed its AC).
    pub lost_notices: u64,
}

impl WtpCounters {
    /// Everything dropped.
    pub fn dropped(&self) -> u64 {
        self.malformed + self.unexpected + self.stale + self.sulking
    }

    pub fn add(&mut self, o: &WtpCounters) {
        self.control_received += o.control_received;
        self.data_received += o.data_received;
        self.control_sent += o.control_sent;
        self.data_sent += o.data_sent;
        self.retransmits += o.retransmits;
        self.malformed += o.malformed;
        self.unexpected += o.unexpected;
        self.duplicates += o.duplicates;
        self.stale += o.stale;
        self.sulking += o.sulking;
        self.encode_errors += o.encode_errors;
        self.lost_notices += o.lost_notices;
    }
}

/// The one outstanding request of the session.
#[derive(Debug)]
struct Pending {
    expect: MessageType,
    seq: u8,
    to: SocketAddr,
    bytes: Vec<u8>,
    retransmits: u8,
    interval: Duration,
    deadline: Instant,
    /// A probe after a Roost Controller Lost Request: retransmitted once at half the
    /// retransmit interval, so a dead AC is given up in two of those.
    probe: bool,
}

/// The shortest wait of a probe after a Roost Controller Lost Request.
const PROBE_MIN_INTERVAL: Duration = Duration::from_millis(50);
/// A probe's retransmissions at most: the cluster already said the AC is dead.
const PROBE_RETRANSMITS: u8 = 1;

/// Retransmission state of the Data Check keep-alive.
#[derive(Debug)]
struct Retry {
    retransmits: u8,
    interval: Duration,
    deadline: Instant,
}

/// One Discovery Response.
#[derive(Debug, Clone)]
struct Offer {
    from: SocketAddr,
    join: SocketAddr,
    pool: u8,
    load: f64,
    wtp_count: u16,
    order: usize,
}

#[derive(Debug)]
struct Discovery {
    /// Rounds sent.
    round: u32,
    asked: Vec<SocketAddr>,
    offers: Vec<Offer>,
    pool2: bool,
    next_round: Instant,
    decide_at: Option<Instant>,
}

#[derive(Debug)]
struct Session {
    ac: SocketAddr,
    data: SocketAddr,
    id: SessionId,
    ac_name: Option<String>,
    /// The AC's last request and our response to it, resent for a repeat.
    last_request: Option<(u8, Vec<u8>)>,
    keepalive: Option<Retry>,
    next_echo: Option<Instant>,
    next_keepalive: Option<Instant>,
    data_deadline: Option<Instant>,
}

#[derive(Debug)]
enum Phase {
    Idle { until: Instant },
    Discovery(Discovery),
    Sulking { until: Instant },
    Session(Session),
}

#[derive(Debug, Default, Clone, Copy)]
struct Reboots {
    ac_initiated: u16,
    link_failures: u16,
    last: Option<RebootFailureType>,
}

/// One access point. See the module docs for the protocol it runs.
#[derive(Debug)]
pub struct Wtp {
    identity: WtpIdentity,
    controllers: ControllerList,
    settings: WtpSettings,
    timers: Timers,
    session_seed: [u8; 16],
    sessions: u64,
    next_seq: u8,
    state: State,
    phase: Phase,
    pending: Option<Pending>,
    outputs: VecDeque<Output>,
    /// Next ACs to try a Join with, best first.
    candidates: VecDeque<SocketAddr>,
    /// Refusals whose AC IPv4 List added ACs to try, since the last discovery or Run.
    redirects: u8,
    /// ACs a Join went to since the last discovery or Run: a refusal's AC IPv4 List does not
    /// send the AP back to one (a dead AC it just timed out on, listed by a live member).
    tried: Vec<SocketAddr>,
    /// Whether the last Join failure was a refusal (then wait before discovering again).
    last_refused: bool,
    /// AC IPv4 List from the current (or last) AC.
    ac_list: Vec<Ipv4Addr>,
    /// AC Name per address, learnt from Discovery and Join Responses.
    ac_names: Vec<(SocketAddr, String)>,
    priorities: Vec<AcNameWithPriority>,
    fallback: bool,
    /// Where Primary Discovery Requests went this Run.
    probed: Vec<SocketAddr>,
    /// The AC being joined for a fallback, so that a failure holds it off.
    fallback_target: Option<SocketAddr>,
    holddown: Vec<(SocketAddr, Instant)>,
    /// The member whose Roost Controller Lost Request this Run's AC got (tried first if the
    /// AC is lost).
    notified_by: Option<SocketAddr>,
    wlans: Vec<Wlan>,
    reboots: Reboots,
    counters: WtpCounters,
    /// Since it booted (or was reset) it has not been in Run: a Start Delay applies.
    cold: bool,
    /// This boot's start delay, drawn from the first Discovery Response that told one; taken
    /// (once per boot) when the AP decides where to join.
    start_delay: Option<Duration>,
    start_delay_done: bool,
    /// The start delay's end, while the AP waits it.
    delay_until: Option<Instant>,
}

/// SplitMix64's finaliser: a bijection on u64, so distinct session numbers give distinct
/// Session IDs.
/// How many times a request (or keep-alive) is retransmitted before the AC counts as lost:
/// the timers' count in Run (where the fast timers notice a dead controller), and before Run
/// at least the RFC's MaxRetransmit (see the module docs).
pub fn retransmit_budget(timers: &Timers, state: State) -> u8 {
    match state {
        State::Run => timers.max_retransmit,
        _ => timers
            .max_retransmit
            .max(roost_capwap::defaults::MAX_RETRANSMIT as u8),
    }
}

fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Wtp {
    /// An AP that starts Discovery at `now` (its first Discovery Requests are in
    /// `poll_output` at once). `session_seed` is the caller's 16 random bytes: the first
    /// session's Session ID is derived from them and the session count (a bijection of the
    /// count XORed in), so IDs never repeat and the core draws no randomness.
    ///
    /// Fails only if the identity cannot go on the wire (a name longer than 512 bytes, a
    /// version longer than 1024, no radio).
    pub fn new(
        identity: WtpIdentity,
        controllers: ControllerList,
        settings: WtpSettings,
        session_seed: [u8; 16],
        now: Instant,
    ) -> Result<Wtp, WtpError> {
        if identity.radios.is_empty() {
            return Err(WtpError::BadIdentity(
                roost_capwap::CapwapError::MissingElement {
                    message: "Join Request",
                    element: WtpRadioInformation::NAME,
                },
            ));
        }
        let settings = settings.floored();
        let timers = Timers::from_settings(&settings);
        let fallback = settings.fallback;
        let mut wtp = Wtp {
            identity,
            controllers,
            settings,
            timers,
            session_seed,
            sessions: 0,
            next_seq: 0,
            state: State::Idle,
            phase: Phase::Idle { until: now },
            pending: None,
            outputs: VecDeque::new(),
            candidates: VecDeque::new(),
            redirects: 0,
            tried: Vec::new(),
            last_refused: false,
            ac_list: Vec::new(),
            ac_names: Vec::new(),
            priorities: Vec::new(),
            fallback,
            probed: Vec::new(),
            fallback_target: None,
            holddown: Vec::new(),
            notified_by: None,
            wlans: Vec::new(),
            reboots: Reboots::default(),
            counters: WtpCounters::default(),
            cold: true,
            start_delay: None,
            start_delay_done: false,
            delay_until: None,
        };
        // Everything the AP sends is built from the identity; check once that it encodes.
        let check = |body: MessageBody| {
            ControlPacket::new(ControlMessage::new(0, body))
                .encode()
                .map_err(WtpError::BadIdentity)
        };
        check(MessageBody::DiscoveryRequest(wtp.discovery_request()))?;
        check(MessageBody::JoinRequest(
            wtp.join_request(SessionId([0; 16])),
        ))?;
        check(MessageBody::ConfigurationStatusRequest(
            wtp.configuration_status_request("x"),
        ))?;
        wtp.start_discovery(now);
        Ok(wtp)
    }

    // ---------------------------------------------------------------------------------
    // Accessors.

    pub fn state(&self) -> State {
        self.state
    }

    pub fn identity(&self) -> &WtpIdentity {
        &self.identity
    }

    pub fn controllers(&self) -> &ControllerList {
        &self.controllers
    }

    /// The AC of the current session (Join onwards).
    pub fn ac(&self) -> Option<SocketAddr> {
        match &self.phase {
            Phase::Session(s) => Some(s.ac),
            _ => None,
        }
    }

    /// The current AC's name, once its Join Response named it.
    pub fn ac_name(&self) -> Option<&str> {
        match &self.phase {
            Phase::Session(s) => s.ac_name.as_deref(),
            _ => None,
        }
    }

    pub fn session_id(&self) -> Option<SessionId> {
        match &self.phase {
            Phase::Session(s) => Some(s.id),
            _ => None,
        }
    }

    /// The timers in force.
    pub fn timers(&self) -> &Timers {
        &self.timers
    }

    pub fn wlans(&self) -> &[Wlan] {
        &self.wlans
    }

    pub fn counters(&self) -> &WtpCounters {
        &self.counters
    }

    /// The AC IPv4 List last received.
    pub fn ac_list(&self) -> &[Ipv4Addr] {
        &self.ac_list
    }

    /// The AC Name with Priority list last received.
    pub fn priorities(&self) -> &[AcNameWithPriority] {
        &self.priorities
    }

    pub fn fallback_enabled(&self) -> bool {
        self.fallback
    }

    // ---------------------------------------------------------------------------------
    // Outputs and time.

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The next instant `handle_timeout` has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.pending.as_ref().map(|p| p.deadline);
        let mut min = |d: Option<Instant>| {
            if let Some(d) = d {
                t = Some(t.map_or(d, |t| t.min(d)));
            }
        };
        match &self.phase {
            Phase::Idle { until } | Phase::Sulking { until } => min(Some(*until)),
            Phase::Discovery(d) => min(Some(d.decide_at.unwrap_or(d.next_round))),
            Phase::Session(s) => {
                min(s.keepalive.as_ref().map(|k| k.deadline));
                min(s.next_keepalive);
                min(s.data_deadline);
                if self.pending.is_none() {
                    min(s.next_echo);
                }
            }
        }
        t
    }

    /// Does whatever is due at `now` (retransmissions, echoes, keep-alives, discovery rounds,
    /// giving up an AC).
    pub fn handle_timeout(&mut self, now: Instant) {
        // Each step moves a deadline past `now` or changes the phase; the bound only guards
        // against a bug turning this into a busy loop.
        for _ in 0..64 {
            match self.poll_timeout() {
                Some(t) if t <= now => self.fire(now),
                _ => return,
            }
        }
    }

    fn fire(&mut self, now: Instant) {
        if self.pending.as_ref().is_some_and(|p| p.deadline <= now) {
            return self.pending_timeout(now);
        }
        match &mut self.phase {
            Phase::Idle { until } | Phase::Sulking { until } => {
                if *until <= now {
                    self.start_discovery(now);
                }
            }
            Phase::Discovery(d) => {
                if d.decide_at.is_some_and(|t| t <= now) {
                    self.decide(now);
                } else if d.next_round <= now {
                    self.discovery_round(now);
                }
            }
            Phase::Session(s) => {
                let max = retransmit_budget(&self.timers, self.state);
                if let Some(k) = s.keepalive.as_mut().filter(|k| k.deadline <= now) {
                    if k.retransmits < max {
                        k.retransmits += 1;
                        k.interval = self.timers.next_retransmit(k.interval);
                        k.deadline = now + k.interval;
                        self.counters.retransmits += 1;
                        self.send_keepalive();
                    } else {
                        self.lose_ac(now, LossCause::KeepAliveUnanswered);
                    }
                } else if s.data_deadline.is_some_and(|t| t <= now) {
                    self.lose_ac(now, LossCause::DataChannelDead);
                } else if s.next_keepalive.is_some_and(|t| t <= now) {
                    s.next_keepalive = Some(now + self.settings.keep_alive_interval);
                    self.send_keepalive();
                } else if self.pending.is_none() && s.next_echo.is_some_and(|t| t <= now) {
                    s.next_echo = None;
                    let ac = s.ac;
                    self.send_request(ac, MessageBody::EchoRequest(EchoRequest::default()), now);
                    self.probe_for_fallback(now);
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Inputs.

    /// A datagram that arrived on the control channel from `from`.
    pub fn handle_control(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) -> Result<(), WtpError> {
        self.counters.control_received += 1;
        let r = self.on_control(from, bytes, now);
        if let Err(e) = &r {
            self.count(e);
        }
        r
    }

    /// A datagram that arrived on the data channel from `from`.
    pub fn handle_data(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) -> Result<(), WtpError> {
        self.counters.data_received += 1;
        let r = self.on_data(from, bytes, now);
        if let Err(e) = &r {
            self.count(e);
        }
        r
    }

    fn count(&mut self, e: &WtpError) {
        let c = &mut self.counters;
        match e {
            WtpError::Malformed { .. } => c.malformed += 1,
            WtpError::DuplicateResponse { .. } => c.duplicates += 1,
            WtpError::StaleRequest { .. } => c.stale += 1,
            WtpError::Sulking { .. } => c.sulking += 1,
            _ => c.unexpected += 1,
        }
    }

    fn on_control(&mut self, from: SocketAddr, bytes: &[u8], now: Instant) -> Result<(), WtpError> {
        let packet = ControlPacket::decode(bytes).map_err(|error| WtpError::Malformed {
            channel: "control",
            from,
            error,
        })?;
        let msg = packet.message;
        let kind = msg.message_type();
        if self.state == State::Sulking {
            return Err(WtpError::Sulking {
                from,
                message: kind.name(),
            });
        }
        match msg.body {
            MessageBody::DiscoveryResponse(r) => self.on_discovery_response(from, r, now),
            MessageBody::PrimaryDiscoveryResponse(r) => {
                self.on_primary_discovery_response(from, r, now)
            }
            MessageBody::ControllerLostRequest(r) => self.on_controller_lost(from, r, now),
            body if kind.is_request() => self.on_ac_request(from, msg.seq, kind, body, now),
            body => self.on_response(from, msg.seq, kind, body, now),
        }
    }

    /// Another member says this AP's controller died: an Echo Request goes now, retried at
    /// half the retransmit interval, and if the AC stays silent the AP joins the next AC, the one
    /// that said so first. Only a request that names this AP's current session in Run
    /// counts (a stale or forged one moves nothing); an AC that answers keeps the AP.
    fn on_controller_lost(
        &mut self,
        from: SocketAddr,
        r: ControllerLostRequest,
        now: Instant,
    ) -> Result<(), WtpError> {
        const WHAT: &str = "Roost Controller Lost Request";
        if !self.settings.fast_timers {
            // A foreign WTP knows no Roost message: it waits for its own timers.
            return Err(self.unexpected(from, MessageType::ControllerLostRequest));
        }
        let state = self.state;
        let Phase::Session(s) = &mut self.phase else {
            return Err(self.unexpected(from, MessageType::ControllerLostRequest));
        };
        if state != State::Run {
            return Err(self.unexpected(from, MessageType::ControllerLostRequest));
        }
        let named = LostSession::find(&r.vendor_specific).map(|l| l.session_id);
        if named != Some(s.id.0) || from == s.ac {
            return Err(WtpError::WrongSession {
                from,
                got: named.map_or_else(|| "none".into(), |id| SessionId(id).to_string()),
                message: WHAT,
            });
        }
        self.counters.lost_notices += 1;
        self.notified_by = Some(from);
        let probe_interval = (self.timers.retransmit_interval / 2).max(PROBE_MIN_INTERVAL);
        if let Some(p) = self.pending.as_mut() {
            // A request is outstanding already (an echo sent just before the AC died, say): it
            // becomes the probe, retransmitted once soon, so that the AP does not wait out its
            // full retransmissions (seconds) for an AC its cluster says is dead.
            if !p.probe {
                p.probe = true;
                p.retransmits = 0;
                p.interval = probe_interval;
                p.deadline = p.deadline.min(now + probe_interval);
            }
            return Ok(());
        }
        let ac = s.ac;
        s.next_echo = None;
        self.send_request(ac, MessageBody::EchoRequest(EchoRequest::default()), now);
        if let Some(p) = self.pending.as_mut() {
            // Half the retransmit interval: the AC is most likely dead (its cluster says so),
            // and one that is alive answers an echo in a round trip.
            p.probe = true;
            p.interval = probe_interval;
            p.deadline = now + p.interval;
        }
        Ok(())
    }

    fn unexpected(&self, from: SocketAddr, kind: MessageType) -> WtpError {
        WtpError::Unexpected {
            from,
            message: kind.name(),
            state: self.state,
        }
    }

    fn on_data(&mut self, from: SocketAddr, bytes: &[u8], now: Instant) -> Result<(), WtpError> {
        let packet = DataPacket::decode(bytes).map_err(|error| WtpError::Malformed {
            channel: "data",
            from,
            error,
        })?;
        let keepalive = match packet.body {
            DataBody::KeepAlive(k) => k,
            DataBody::Frame(_) => return Err(WtpError::DataFrame { from }),
        };
        const KA: &str = "data keep-alive";
        let state = self.state;
        let dead = self.settings.data_channel_dead_interval;
        let Phase::Session(s) = &mut self.phase else {
            return Err(WtpError::Unexpected {
                from,
                message: KA,
                state,
            });
        };
        if from != s.data {
            return Err(WtpError::UnexpectedSource {
                from,
                message: KA,
                state,
            });
        }
        if keepalive.session_id != s.id {
            return Err(WtpError::WrongSession {
                from,
                got: keepalive.session_id.to_string(),
                message: KA,
            });
        }
        match state {
            State::DataCheck if s.keepalive.is_some() => {
                self.enter_run(now);
                Ok(())
            }
            State::Run => {
                s.data_deadline = Some(now + dead);
                Ok(())
            }
            _ => Err(WtpError::Unexpected {
                from,
                message: KA,
                state,
            }),
        }
    }

    // ---------------------------------------------------------------------------------
    // Sending.

    fn take_seq(&mut self) -> u8 {
        let s = self.next_seq;
        self.next_seq = s.wrapping_add(1);
        s
    }

    fn encode(&mut self, seq: u8, body: MessageBody) -> Option<Vec<u8>> {
        match ControlPacket::new(ControlMessage::new(seq, body)).encode() {
            Ok(b) => Some(b),
            Err(_) => {
                self.counters.encode_errors += 1;
                None
            }
        }
    }

    fn push_control(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        self.counters.control_sent += 1;
        self.outputs.push_back(Output::Control { to, bytes });
    }

    fn event(&mut self, e: Event) {
        self.outputs.push_back(Output::Event(e));
    }

    fn set_state(&mut self, to: State) {
        if self.state != to {
            let from = std::mem::replace(&mut self.state, to);
            self.event(Event::StateChanged { from, to });
        }
    }

    /// Sends a request of the session and makes it the outstanding one.
    fn send_request(&mut self, to: SocketAddr, body: MessageBody, now: Instant) {
        let Some(expect) = body.message_type().response() else {
            return;
        };
        let seq = self.take_seq();
        let interval = self.timers.retransmit_interval;
        // A request that cannot be encoded is one that goes unanswered: it fails at its
        // first deadline, so the AP never waits for nothing.
        let (bytes, retransmits) = match self.encode(seq, body) {
            Some(bytes) => {
                self.push_control(to, bytes.clone());
                (bytes, 0)
            }
            None => (Vec::new(), u8::MAX),
        };
        self.pending = Some(Pending {
            expect,
            seq,
            to,
            bytes,
            retransmits,
            interval,
            deadline: now + interval,
            probe: false,
        });
    }

    fn send_keepalive(&mut self) {
        let Phase::Session(s) = &self.phase else {
            return;
        };
        let to = s.data;
        match KeepAlive::new(s.id).encode() {
            Ok(bytes) => {
                self.counters.data_sent += 1;
                self.outputs.push_back(Output::Data { to, bytes });
            }
            Err(_) => self.counters.encode_errors += 1,
        }
    }

    fn pending_timeout(&mut self, now: Instant) {
        let mut max = retransmit_budget(&self.timers, self.state);
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        if p.probe {
            max = max.min(PROBE_RETRANSMITS);
        }
        if p.retransmits < max && !p.bytes.is_empty() {
            p.retransmits += 1;
            if !p.probe {
                p.interval = self.timers.next_retransmit(p.interval);
            }
            p.deadline = now + p.interval;
            let (to, bytes) = (p.to, p.bytes.clone());
            self.counters.retransmits += 1;
            self.push_control(to, bytes);
            return;
        }
        let expect = p.expect;
        self.pending = None;
        match self.state {
            State::Join => {
                let ac = self.ac().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
                self.join_failed(
                    ac,
                    format!("no Join Response after {max} retransmissions"),
                    now,
                );
            }
            _ => {
                let request = expect.request().unwrap_or(expect);
                self.lose_ac(now, LossCause::NoResponse(request));
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // The messages the AP sends.

    fn board_data(&self) -> WtpBoardData {
        WtpBoardData {
            vendor_id: self.identity.vendor_id,
            model_number: self.identity.model.as_bytes().to_vec(),
            serial_number: self.identity.serial.as_bytes().to_vec(),
            board_id: None,
            board_revision: None,
            base_mac: Some(MacAddress::Eui48(self.identity.mac)),
            other: Vec::new(),
        }
    }

    fn descriptor(&self) -> WtpDescriptor {
        let radios = self.identity.radios.len().min(255) as u8;
        WtpDescriptor {
            max_radios: radios,
            radios_in_use: radios,
            encryption: vec![EncryptionCapability {
                wbid: roost_capwap::WBID_IEEE80211,
                capabilities: EncryptionCapabilities::AES_CCMP | EncryptionCapabilities::TKIP,
            }],
            // Standard sub-elements: the codec writes them with Vendor ID 0, as the RFC says.
            hardware_version: self.identity.hardware_version.as_bytes().to_vec(),
            active_software_version: self.identity.software_version.as_bytes().to_vec(),
            boot_version: self.identity.boot_version.as_bytes().to_vec(),
            other_software_version: None,
            vendor_descriptors: Vec::new(),
        }
    }

    fn discovery_request(&self) -> DiscoveryRequest {
        DiscoveryRequest {
            discovery_type: DiscoveryType::Static,
            board_data: self.board_data(),
            descriptor: self.descriptor(),
            frame_tunnel_mode: WtpFrameTunnelMode::LOCAL_BRIDGING,
            mac_type: WtpMacType::Local,
            radios: self.identity.radios.clone(),
            mtu_discovery_padding: None,
            vendor_specific: Vec::new(),
            other_elements: Vec::new(),
        }
    }

    fn reboot_statistics(&self) -> WtpRebootStatistics {
        WtpRebootStatistics {
            reboot_count: 0,
            ac_initiated_count: self.reboots.ac_initiated,
            link_failure_count: self.reboots.link_failures,
            sw_failure_count: 0,
            hw_failure_count: 0,
            other_failure_count: 0,
            unknown_failure_count: 0,
            last_failure_type: self.reboots.last.unwrap_or(RebootFailureType::NotSupported),
        }
    }

    fn join_request(&self, session_id: SessionId) -> JoinRequest {
        JoinRequest {
            location: LocationData(self.identity.location.clone()),
            board_data: self.board_data(),
            descriptor: self.descriptor(),
            wtp_name: WtpName(self.identity.name.clone()),
            session_id,
            frame_tunnel_mode: WtpFrameTunnelMode::LOCAL_BRIDGING,
            mac_type: WtpMacType::Local,
            radios: self.identity.radios.clone(),
            ecn_support: EcnSupport::Limited,
            local_ipv4: Some(CapwapLocalIpv4Address(self.identity.ip)),
            local_ipv6: None,
            transport_protocol: None,
            maximum_message_length: None,
            reboot_statistics: Some(self.reboot_statistics()),
            // A Roost WTP announces that it runs Roost's fast timers; an AC that knows them
            // answers with its own.
            vendor_specific: if self.settings.fast_timers {
                vec![self.timers.as_fast().to_vendor()]
            } else {
                Vec::new()
            },
            other_elements: Vec::new(),
        }
    }

    fn configuration_status_request(&self, ac_name: &str) -> ConfigurationStatusRequest {
        let mut admin = vec![RadioAdministrativeState {
            radio_id: RADIO_ID_WTP,
            admin_state: AdminState::Enabled,
        }];
        admin.extend(
            self.identity
                .radios
                .iter()
                .map(|r| RadioAdministrativeState {
                    radio_id: r.radio_id,
                    admin_state: AdminState::Enabled,
                }),
        );
        ConfigurationStatusRequest {
            ac_name: AcName(ac_name.to_owned()),
            radio_admin_states: admin,
            statistics_timer: StatisticsTimer(roost_capwap::defaults::STATISTICS_TIMER as u16),
            reboot_statistics: self.reboot_statistics(),
            ac_names_with_priority: self.priorities.clone(),
            transport_protocol: None,
            static_ip: None,
            radios: self.identity.radios.clone(),
            radio_configurations: Vec::new(),
            tx_powers: Vec::new(),
            dsss_controls: Vec::new(),
            ofdm_controls: Vec::new(),
            vendor_specific: Vec::new(),
            other_elements: Vec::new(),
        }
    }

    fn change_state_request(&self) -> ChangeStateEventRequest {
        ChangeStateEventRequest {
            radio_operational_states: self
                .identity
                .radios
                .iter()
                .map(|r| RadioOperationalState {
                    radio_id: r.radio_id,
                    state: OperationalState::Enabled,
                    cause: OperationalCause::Normal,
                })
                .collect(),
            result_code: ResultCode::Success,
            returned_elements: Vec::new(),
            radio_fail_alarms: Vec::new(),
            vendor_specific: Vec::new(),
            other_elements: Vec::new(),
        }
    }

    // ---------------------------------------------------------------------------------
    // Discovery.

    fn start_discovery(&mut self, now: Instant) {
        self.pending = None;
        self.candidates.clear();
        self.redirects = 0;
        self.tried.clear();
        self.phase = Phase::Discovery(Discovery {
            round: 0,
            asked: Vec::new(),
            offers: Vec::new(),
            pool2: false,
            next_round: now,
            decide_at: None,
        });
        self.set_state(State::Discovery);
        self.discovery_round(now);
    }

    fn discovery_round(&mut self, now: Instant) {
        let period = self
            .settings
            .discovery_interval
            .min(self.timers.max_discovery_interval);
        let max = self.settings.max_discoveries;
        let Phase::Discovery(d) = &mut self.phase else {
            return;
        };
        if d.round >= max {
            self.phase = Phase::Sulking {
                until: now + self.settings.silent_interval,
            };
            return self.set_state(State::Sulking);
        }
        // Pool 2 only once pool 1 has been silent for a whole round.
        if d.round >= 1 && d.offers.is_empty() {
            d.pool2 = true;
        }
        let targets: Vec<SocketAddr> = self
            .controllers
            .all()
            .filter(|(pool, _)| *pool == 1 || d.pool2)
            .map(|(_, a)| a)
            .filter(|a| !d.offers.iter().any(|o| o.from == *a))
            .collect();
        d.round += 1;
        d.next_round = now + period;
        for a in &targets {
            if !d.asked.contains(a) {
                d.asked.push(*a);
            }
        }
        let seq = self.take_seq();
        let Some(bytes) = self.encode(seq, MessageBody::DiscoveryRequest(self.discovery_request()))
        else {
            return;
        };
        for to in targets {
            self.push_control(to, bytes.clone());
        }
    }

    /// The Join address a Discovery Response offers: its least loaded control interface, at
    /// the port the response came from.
    fn join_address(from: SocketAddr, r: &DiscoveryResponse) -> (SocketAddr, u16) {
        match r.control_ipv4.iter().min_by_key(|c| c.wtp_count) {
            Some(c) => (SocketAddr::new(c.address.into(), from.port()), c.wtp_count),
            None => (from, 0),
        }
    }

    fn learn_name(&mut self, addr: SocketAddr, name: &str) {
        match self.ac_names.iter_mut().find(|(a, _)| *a == addr) {
            Some((_, n)) => {
                if n != name {
                    *n = name.to_owned();
                }
            }
            None => self.ac_names.push((addr, name.to_owned())),
        }
    }

    fn name_of(&self, addr: SocketAddr) -> Option<&str> {
        self.ac_names
            .iter()
            .find(|(a, _)| *a == addr)
            .map(|(_, n)| n.as_str())
    }

    fn on_discovery_response(
        &mut self,
        from: SocketAddr,
        r: DiscoveryResponse,
        now: Instant,
    ) -> Result<(), WtpError> {
        let kind = MessageType::DiscoveryResponse;
        let state = self.state;
        let Phase::Discovery(d) = &mut self.phase else {
            return Err(self.unexpected(from, kind));
        };
        if !d.asked.contains(&from) {
            return Err(WtpError::UnexpectedSource {
                from,
                message: kind.name(),
                state,
            });
        }
        let (join, wtp_count) = Self::join_address(from, &r);
        let a = &r.ac_descriptor;
        let load = if a.max_wtps == 0 {
            f64::INFINITY
        } else {
            f64::from(a.active_wtps) / f64::from(a.max_wtps)
        };
        let order = self
            .controllers
            .all()
            .position(|(_, c)| c == from)
            .unwrap_or(usize::MAX);
        let offer = Offer {
            from,
            join,
            pool: self.controllers.pool_of(from).unwrap_or(3),
            load,
            wtp_count,
            order,
        };
        d.offers.retain(|o| o.from != from);
        d.offers.push(offer);
        if d.decide_at.is_none() {
            d.decide_at = Some(now + self.settings.discovery_interval);
        }
        // Everyone asked has answered: no further response can come, so decide now.
        if d.asked
            .iter()
            .all(|a| d.offers.iter().any(|o| o.from == *a))
        {
            d.decide_at = Some(now);
        }
        if self.cold && !self.start_delay_done && self.start_delay.is_none() {
            if let Some(sd) = StartDelay::find(&r.vendor_specific) {
                self.start_delay = Some(self.draw_start_delay(sd));
            }
        }
        self.learn_name(from, &r.ac_name.0);
        if join != from {
            self.learn_name(join, &r.ac_name.0);
        }
        self.handle_timeout(now);
        Ok(())
    }

    /// A time in [min, max] (ms resolution) from this AP's seed: spread across a fleet, the
    /// same for one AP, no randomness drawn here.
    fn draw_start_delay(&self, sd: StartDelay) -> Duration {
        let span = sd.max.saturating_sub(sd.min).as_millis() as u64;
        let seed = u64::from_be_bytes(self.session_seed[8..].try_into().unwrap_or([0; 8]));
        sd.min + Duration::from_millis(mix64(seed ^ 0x5354_4152_5444_4C59) % (span + 1))
    }

    fn decide(&mut self, now: Instant) {
        let Phase::Discovery(d) = &mut self.phase else {
            return;
        };
        // A cold start waits its start delay once, then decides among every offer it has
        // (a response during the wait does not cut it short).
        if let Some(delay) = self.start_delay.take() {
            self.start_delay_done = true;
            if !delay.is_zero() {
                self.delay_until = Some(now + delay);
                self.outputs
                    .push_back(Output::Event(Event::StartDelayed { delay }));
            }
        }
        if let Some(t) = self.delay_until {
            if now < t {
                d.decide_at = Some(t);
                return;
            }
            self.delay_until = None;
        }
        let mut offers = std::mem::take(&mut d.offers);
        offers.sort_by(|a, b| {
            (a.pool, a.load, a.wtp_count, a.order)
                .partial_cmp(&(b.pool, b.load, b.wtp_count, b.order))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        self.candidates.clear();
        for o in offers {
            if !self.candidates.contains(&o.join) {
                self.candidates.push_back(o.join);
            }
        }
        self.last_refused = false;
        self.join_next(now);
    }

    // ---------------------------------------------------------------------------------
    // Join and the session.

    fn new_session_id(&mut self) -> SessionId {
        let mut id = self.session_seed;
        let mask = mix64(self.sessions).to_be_bytes();
        for (b, m) in id[..8].iter_mut().zip(mask) {
            *b ^= m;
        }
        self.sessions += 1;
        SessionId(id)
    }

    fn start_join(&mut self, ac: SocketAddr, now: Instant) {
        if !self.tried.contains(&ac) {
            self.tried.push(ac);
        }
        let id = self.new_session_id();
        self.pending = None;
        self.probed.clear();
        self.phase = Phase::Session(Session {
            ac,
            data: data_address(ac),
            id,
            ac_name: None,
            last_request: None,
            keepalive: None,
            next_echo: None,
            next_keepalive: None,
            data_deadline: None,
        });
        self.set_state(State::Join);
        let body = MessageBody::JoinRequest(self.join_request(id));
        self.send_request(ac, body, now);
    }

    /// The next AC to try, or a new discovery (after a wait if the last one refused).
    fn join_next(&mut self, now: Instant) {
        self.holddown.retain(|(_, until)| *until > now);
        if let Some(ac) = self.candidates.pop_front() {
            return self.start_join(ac, now);
        }
        if self.last_refused {
            self.pending = None;
            self.phase = Phase::Idle {
                until: now + self.settings.refused_retry,
            };
            self.set_state(State::Idle);
        } else {
            self.start_discovery(now);
        }
    }

    fn join_failed(&mut self, ac: SocketAddr, reason: String, now: Instant) {
        self.event(Event::JoinFailed { ac, reason });
        self.last_refused = false;
        self.hold_off_fallback(ac, now);
        self.join_next(now);
    }

    fn hold_off_fallback(&mut self, ac: SocketAddr, now: Instant) {
        if self.fallback_target.take() == Some(ac) {
            self.holddown
                .push((ac, now + self.settings.fallback_holddown));
        }
    }

    /// An AC IPv4 List address as a control address: the listed controller with that IP,
    /// else UDP [`WtpSettings::control_port`].
    fn resolve(&self, ip: Ipv4Addr) -> SocketAddr {
        if let Some(a) = self.controllers.by_ip(ip) {
            return a;
        }
        if let Some(ac) = self.ac().filter(|a| a.ip() == std::net::IpAddr::V4(ip)) {
            return ac;
        }
        SocketAddr::new(ip.into(), self.settings.control_port)
    }

    /// Every AC the AP knows, in the order it would fail over along them: the AC IPv4 List,
    /// then the controller list.
    fn known_acs(&self) -> Vec<SocketAddr> {
        let mut out: Vec<SocketAddr> = Vec::new();
        let listed = self.ac_list.iter().map(|ip| self.resolve(*ip));
        for a in listed.chain(self.controllers.all().map(|(_, a)| a)) {
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }

    fn lose_ac(&mut self, now: Instant, cause: LossCause) {
        let Some(ac) = self.ac() else {
            return;
        };
        self.event(Event::AcLost {
            ac,
            detected_at: now,
            cause,
        });
        self.reboots.link_failures = self.reboots.link_failures.saturating_add(1);
        self.reboots.last = Some(RebootFailureType::LinkFailure);
        self.pending = None;
        self.fallback_target = None;
        self.candidates = self.known_acs().into_iter().filter(|a| *a != ac).collect();
        // The member that said the AC died is alive and knows this AP: it goes first.
        if let Some(by) = self.notified_by.take() {
            if let Some(i) = self.candidates.iter().position(|a| a.ip() == by.ip()) {
                if let Some(first) = self.candidates.remove(i) {
                    self.candidates.push_front(first);
                }
            }
        }
        self.last_refused = false;
        self.join_next(now);
    }

    fn on_response(
        &mut self,
        from: SocketAddr,
        seq: u8,
        kind: MessageType,
        body: MessageBody,
        now: Instant,
    ) -> Result<(), WtpError> {
        let state = self.state;
        let Phase::Session(s) = &self.phase else {
            return Err(self.unexpected(from, kind));
        };
        if from != s.ac {
            return Err(WtpError::UnexpectedSource {
                from,
                message: kind.name(),
                state,
            });
        }
        match &self.pending {
            Some(p) if p.seq == seq && p.expect == kind => {}
            Some(p) if p.seq == seq => return Err(self.unexpected(from, kind)),
            _ => {
                return Err(WtpError::DuplicateResponse {
                    from,
                    message: kind.name(),
                    seq,
                })
            }
        }
        self.pending = None;
        match body {
            MessageBody::JoinResponse(r) => self.on_join_response(r, now),
            MessageBody::ConfigurationStatusResponse(r) => self.on_configuration_status(r, now),
            MessageBody::ChangeStateEventResponse(_) => {
                let ri = self.timers.retransmit_interval;
                if let Phase::Session(s) = &mut self.phase {
                    s.keepalive = Some(Retry {
                        retransmits: 0,
                        interval: ri,
                        deadline: now + ri,
                    });
                }
                self.send_keepalive();
            }
            MessageBody::EchoResponse(_) => {
                // The AC answers: whatever another member said, it is alive.
                self.notified_by = None;
                let ei = self.timers.echo_interval;
                if let Phase::Session(s) = &mut self.phase {
                    s.next_echo = Some(now + ei);
                }
            }
            // Any other response type matched no request this AP sends.
            _ => {}
        }
        Ok(())
    }

    fn apply_fast_timers(&mut self, vendor: &[VendorSpecificPayload]) {
        if !self.settings.fast_timers {
            return;
        }
        if let Some(f) = FastTimers::find(vendor) {
            self.timers.apply_fast(f);
        }
    }

    fn on_join_response(&mut self, r: JoinResponse, now: Instant) {
        let Some(ac) = self.ac() else {
            return;
        };
        if !r.result_code.is_success() {
            self.event(Event::Refused {
                ac,
                code: r.result_code,
                reason: r.result_code.description().to_owned(),
            });
            self.last_refused = true;
            self.hold_off_fallback(ac, now);
            // A refusal's AC IPv4 List says where else to try (a WiNG redirect names one
            // controller): those not tried yet go first, a bounded number of hops.
            if let Some(list) = r
                .ac_ipv4_list
                .as_ref()
                .filter(|_| self.redirects < MAX_REDIRECTS)
            {
                let next: Vec<SocketAddr> = list
                    .0
                    .iter()
                    .map(|ip| self.resolve(*ip))
                    .filter(|a| *a != ac && !self.candidates.contains(a) && !self.tried.contains(a))
                    .collect();
                if !next.is_empty() {
                    self.redirects += 1;
                    for a in next.into_iter().rev() {
                        self.candidates.push_front(a);
                    }
                }
            }
            return self.join_next(now);
        }
        self.redirects = 0;
        if let Some(img) = r
            .image_identifier
            .as_ref()
            .filter(|i| i.data != self.identity.software_version)
        {
            let reason = format!(
                "the AC wants image {:?}; image download is not implemented",
                img.data
            );
            return self.join_failed(ac, reason, now);
        }
        let name = r.ac_name.0.clone();
        self.learn_name(ac, &name);
        if let Some(list) = &r.ac_ipv4_list {
            self.ac_list = list.0.clone();
        }
        // A new AC: the settings' timers, unless it sends fast ones.
        self.timers = Timers::from_settings(&self.settings);
        self.apply_fast_timers(&r.vendor_specific);
        if let Phase::Session(s) = &mut self.phase {
            s.ac_name = Some(name.clone());
        }
        self.set_state(State::Configure);
        let body =
            MessageBody::ConfigurationStatusRequest(self.configuration_status_request(&name));
        self.send_request(ac, body, now);
    }

    /// CAPWAP Timers in a Configuration Update (the AC's profile for this model changed).
    /// Sent without Roost's fast timers, they end the fast timers in force: the WTP's own retransmission
    /// rules apply again, as the AC now expects.
    fn apply_capwap_timers_from(&mut self, t: CapwapTimers, vendor: &[VendorSpecificPayload]) {
        if self.timers.fast && FastTimers::find(vendor).is_none() {
            let own = Timers::from_settings(&self.settings);
            self.timers.retransmit_interval = own.retransmit_interval;
            self.timers.max_retransmit = own.max_retransmit;
            self.timers.fast = false;
        }
        self.apply_capwap_timers(t);
    }

    fn apply_capwap_timers(&mut self, t: CapwapTimers) {
        if t.echo_request > 0 && !self.timers.fast {
            self.timers.echo_interval = Duration::from_secs(t.echo_request.into());
        }
        if t.discovery > 0 {
            self.timers.max_discovery_interval = Duration::from_secs(t.discovery.into());
        }
    }

    fn apply_fallback(&mut self, f: WtpFallback) {
        match f {
            WtpFallback::Enabled => self.fallback = true,
            WtpFallback::Disabled => self.fallback = false,
            WtpFallback::Unknown(_) => {}
        }
    }

    fn on_configuration_status(&mut self, r: ConfigurationStatusResponse, now: Instant) {
        let Some(ac) = self.ac() else {
            return;
        };
        self.apply_fast_timers(&r.vendor_specific);
        self.apply_capwap_timers(r.timers);
        self.apply_fallback(r.wtp_fallback);
        if let Some(list) = &r.ac_ipv4_list {
            self.ac_list = list.0.clone();
        }
        // AC Name with Priority is not listed for this response; an AC that sends it anyway
        // is heard.
        let priorities: Vec<AcNameWithPriority> = r
            .other_elements
            .iter()
            .filter_map(|e| match e {
                Element::AcNameWithPriority(p) => Some(p.clone()),
                _ => None,
            })
            .collect();
        if !priorities.is_empty() {
            self.priorities = priorities;
        }
        self.set_state(State::DataCheck);
        let body = MessageBody::ChangeStateEventRequest(self.change_state_request());
        self.send_request(ac, body, now);
    }

    fn enter_run(&mut self, now: Instant) {
        let (ei, ka, dead) = (
            self.timers.echo_interval,
            self.settings.keep_alive_interval,
            self.settings.data_channel_dead_interval,
        );
        self.notified_by = None;
        self.cold = false;
        // Tried: this AC (lost later, a refusal elsewhere does not send the AP back to it).
        self.tried.clear();
        self.tried.extend(self.ac());
        let Phase::Session(s) = &mut self.phase else {
            return;
        };
        s.keepalive = None;
        s.next_echo = Some(now + ei);
        s.next_keepalive = Some(now + ka);
        s.data_deadline = Some(now + dead);
        let (ac, ac_name) = (s.ac, s.ac_name.clone().unwrap_or_default());
        self.fallback_target = None;
        self.set_state(State::Run);
        self.event(Event::Adopted { ac, ac_name });
    }

    // ---------------------------------------------------------------------------------
    // Requests from the AC.

    fn on_ac_request(
        &mut self,
        from: SocketAddr,
        seq: u8,
        kind: MessageType,
        body: MessageBody,
        now: Instant,
    ) -> Result<(), WtpError> {
        let state = self.state;
        let Phase::Session(s) = &mut self.phase else {
            return Err(self.unexpected(from, kind));
        };
        if from != s.ac {
            return Err(WtpError::UnexpectedSource {
                from,
                message: kind.name(),
                state,
            });
        }
        if !matches!(state, State::Configure | State::DataCheck | State::Run) {
            return Err(self.unexpected(from, kind));
        }
        let last = s.last_request.as_ref().map(|(q, _)| Sequence(*q));
        match Sequence(seq).classify(last) {
            RequestOrder::Retransmission => {
                let cached = s.last_request.as_ref().map(|(_, b)| b.clone());
                if let Some(bytes) = cached {
                    self.counters.duplicates += 1;
                    self.push_control(from, bytes);
                }
                return Ok(());
            }
            RequestOrder::Stale => {
                return Err(WtpError::StaleRequest {
                    from,
                    message: kind.name(),
                    seq,
                    last: last.map_or(0, |l| l.0),
                })
            }
            RequestOrder::New => {}
        }
        let mut reset = false;
        // A new priority list or WTP Fallback enabled: look for the better AC now, not at the
        // next echo (the AC that sent it bounds how many APs it tells at once).
        let mut look_now = false;
        let response = match body {
            MessageBody::ConfigurationUpdateRequest(r) => {
                look_now = !r.ac_names_with_priority.is_empty()
                    || r.wtp_fallback == Some(WtpFallback::Enabled);
                MessageBody::ConfigurationUpdateResponse(self.apply_configuration_update(r, now))
            }
            MessageBody::WlanConfigurationRequest(r) => {
                MessageBody::WlanConfigurationResponse(self.apply_wlan(r))
            }
            MessageBody::ResetRequest(_) => {
                reset = true;
                MessageBody::ResetResponse(ResetResponse {
                    result_code: Some(ResultCode::Success),
                    ..ResetResponse::default()
                })
            }
            // A request type this AP has no body for: "Unrecognized Request" (RFC 5415 4.5.1).
            MessageBody::Other { message_type, .. } => MessageBody::Other {
                message_type: message_type.wrapping_add(1),
                elements: vec![RawElement {
                    element_type: ResultCode::TYPE,
                    value: ResultCode::UnrecognizedRequest
                        .to_raw()
                        .to_be_bytes()
                        .to_vec(),
                }],
            },
            // Requests only an AC answers (Discovery, Join, Echo, ...).
            _ => return Err(self.unexpected(from, kind)),
        };
        let Some(bytes) = self.encode(seq, response) else {
            return Ok(());
        };
        if let Phase::Session(s) = &mut self.phase {
            s.last_request = Some((seq, bytes.clone()));
        }
        self.push_control(from, bytes);
        if reset {
            self.reset(from, now);
        } else if look_now && state == State::Run {
            self.probe_for_fallback(now);
        }
        Ok(())
    }

    fn apply_configuration_update(
        &mut self,
        r: ConfigurationUpdateRequest,
        now: Instant,
    ) -> ConfigurationUpdateResponse {
        let echo_before = self.timers.echo_interval;
        self.apply_fast_timers(&r.vendor_specific);
        if let Some(t) = r.timers {
            self.apply_capwap_timers_from(t, &r.vendor_specific);
        }
        if !r.ac_names_with_priority.is_empty() {
            self.priorities = r.ac_names_with_priority;
        }
        if let Some(f) = r.wtp_fallback {
            self.apply_fallback(f);
        }
        if let Some(n) = r.wtp_name {
            self.identity.name = n.0;
        }
        if let Some(l) = r.location {
            self.identity.location = l.0;
        }
        // A new echo interval applies from now on.
        if self.timers.echo_interval != echo_before {
            let ei = self.timers.echo_interval;
            if let Phase::Session(s) = &mut self.phase {
                if s.next_echo.is_some() {
                    s.next_echo = Some(now + ei);
                }
            }
        }
        let result_code = match r.image_identifier {
            // Image download is not simulated: the rest applied, the image not.
            Some(i) if i.data != self.identity.software_version => {
                ResultCode::ConfigurationFailureServiceProvided
            }
            _ => ResultCode::Success,
        };
        ConfigurationUpdateResponse {
            result_code,
            radio_operational_states: Vec::new(),
            vendor_specific: Vec::new(),
            other_elements: Vec::new(),
        }
    }

    /// Reset Request: a reboot, without the wait. Learnt state (timers, AC list, priorities,
    /// WLANs) goes; the controller list stays.
    fn reset(&mut self, ac: SocketAddr, now: Instant) {
        self.event(Event::Reset { ac });
        self.reboots.ac_initiated = self.reboots.ac_initiated.saturating_add(1);
        self.reboots.last = Some(RebootFailureType::AcInitiated);
        self.wlans.clear();
        self.ac_list.clear();
        self.priorities.clear();
        self.fallback = self.settings.fallback;
        self.timers = Timers::from_settings(&self.settings);
        self.fallback_target = None;
        // A reboot: the next Join is a cold start's.
        self.cold = true;
        self.start_delay = None;
        self.start_delay_done = false;
        self.delay_until = None;
        self.start_discovery(now);
    }

    // ---------------------------------------------------------------------------------
    // Fallback.

    /// The priority of an AC name in the AC Name with Priority list (lower is preferred);
    /// 256 for a name not listed.
    fn priority_of(&self, name: Option<&str>) -> u16 {
        name.and_then(|n| self.priorities.iter().find(|p| p.name == n))
            .map_or(256, |p| u16::from(p.priority))
    }

    fn probe_for_fallback(&mut self, now: Instant) {
        if !self.fallback || self.priorities.is_empty() {
            return;
        }
        let Some(current) = self.ac() else {
            return;
        };
        let mine = self.priority_of(self.ac_name());
        let best = self
            .priorities
            .iter()
            .map(|p| u16::from(p.priority))
            .min()
            .unwrap_or(256);
        if mine <= best {
            return;
        }
        self.holddown.retain(|(_, until)| *until > now);
        let targets: Vec<SocketAddr> = self
            .known_acs()
            .into_iter()
            .filter(|a| *a != current)
            .filter(|a| !self.holddown.iter().any(|(h, _)| h == a))
            .filter(|a| match self.name_of(*a) {
                Some(n) => self.priority_of(Some(n)) < mine,
                None => true,
            })
            .collect();
        if targets.is_empty() {
            return;
        }
        let seq = self.take_seq();
        let body = MessageBody::PrimaryDiscoveryRequest(self.discovery_request());
        let Some(bytes) = self.encode(seq, body) else {
            return;
        };
        for t in targets {
            if !self.probed.contains(&t) {
                self.probed.push(t);
            }
            self.push_control(t, bytes.clone());
        }
    }

    fn on_primary_discovery_response(
        &mut self,
        from: SocketAddr,
        r: DiscoveryResponse,
        now: Instant,
    ) -> Result<(), WtpError> {
        let kind = MessageType::PrimaryDiscoveryResponse;
        if self.state != State::Run {
            return Err(self.unexpected(from, kind));
        }
        if !self.probed.contains(&from) {
            return Err(WtpError::UnexpectedSource {
                from,
                message: kind.name(),
                state: self.state,
            });
        }
        let name = r.ac_name.0.clone();
        self.learn_name(from, &name);
        let (join, _) = Self::join_address(from, &r);
        let Some(current) = self.ac() else {
            return Ok(());
        };
        if !self.fallback
            || self.priority_of(Some(&name)) >= self.priority_of(self.ac_name())
            || self.holddown.iter().any(|(h, _)| *h == join)
        {
            return Ok(());
        }
        self.event(Event::FallingBack {
            from: current,
            to: join,
            ac_name: name,
        });
        let mut candidates = vec![join, current];
        for a in self.known_acs() {
            if !candidates.contains(&a) {
                candidates.push(a);
            }
        }
        self.candidates = candidates.into();
        self.fallback_target = Some(join);
        self.last_refused = false;
        self.join_next(now);
        Ok(())
    }
}
