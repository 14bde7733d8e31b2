//! The access controller (AC) side of CAPWAP as a sans-IO core: one session per AP, from its
//! Join to Run and until it is lost, with the placement rule ([`placement`]) asked at every
//! Join. It is fed datagrams and time and emits datagrams and events; sockets, the clock and
//! the cluster view belong to its driver (the daemon's adoption thread, or a simulation).
//!
//! Per AP (RFC 5415 2.3, without DTLS: control is plaintext, lab mode, until a later issue):
//!
//! 1. **Discovery** is stateless: a Discovery (or Primary Discovery) Request gets a Response
//!    only while this member serves APs, at most one per source address per
//!    [`AcSettings::discovery_holddown`] (no reflection amplifier). The response advertises
//!    load (AC Descriptor Active/Max WTPs, WTP Count) so that a standard WTP can choose the
//!    least loaded member.
//! 2. **Join**: the placement rule decides ([`placement::admit`]); a refusal is a Join Response
//!    with its Result Code, and an event. An accepted AP has a session (Configure) and holds
//!    its license from now on. A Join for a MAC that has a session takes it over only from
//!    the same address (the AP rebooted) or once the old session has been silent for the dead
//!    interval; otherwise it is refused (Result Code 7), so that a spoofed Join cannot steal a
//!    live AP. Half-open sessions (not in Run) are bounded ([`AcSettings::max_pending`]).
//! 3. **Configure**: Configuration Status Response with the CAPWAP Timers, WTP Fallback and
//!    the AC IPv4 List (every member: where the AP goes when this one dies, without a new
//!    discovery), plus Roost's fast timers as a Vendor Specific element a foreign WTP ignores.
//! 4. **Data Check**: Change State Event Response, then the AP's data keep-alive with its
//!    Session ID (echoed back) puts it in **Run**.
//! 5. **Run**: Echo Requests are answered; an AP silent for [`AcSettings::dead_interval`] is
//!    released (a Roost WTP tells the AC it runs the fast timers by sending the same
//!    [`FastTimers`] element in its Join Request; the AC sends its own values back). Each state before Run has its RFC timer (WaitJoin, ChangeStatePending,
//!    DataCheck); expiry releases the AP.
//!
//! 6. **WLANs**: in Run, the AC brings the AP to the WLANs its model carries ([`wlan`]: the
//!    plan the driver hands in with [`Adoption::handle_wlans`]), one WLAN Configuration
//!    Request at a time per AP, retransmitted on the AP's timers (fast or RFC), and at most
//!    [`AcSettings::max_wlan_in_flight`] APs at a time across the controller, so a commit that
//!    reaches 25,600 APs never floods a socket. An AP that answers none of MaxRetransmit
//!    retransmissions is released (RFC 5415 4.5.1: the peer is considered dead); one that
//!    refuses a WLAN keeps running without it, counted and shown.
//!
//! Requests are answered once per sequence number: a retransmission gets the cached response
//! again, an older one is ignored (RFC 5415 4.5.1). Malformed input, and messages for no
//! session, are counted and dropped: never a panic, never a change.

#![forbid(unsafe_code)]

pub mod balance;
pub mod directory;
pub mod firmware;
mod handback;
pub use handback::BalanceOrder;
pub mod placement;
pub mod policy;
pub mod wlan;

use placement::{Admission, Held, LicenseKind, Licensed, Refusal};
use roost_capwap::elements::*;
use roost_capwap::messages::*;
use roost_capwap::types::*;
use roost_capwap::vendor::{FastTimers, LostSession, StartDelay};
use roost_capwap::{ControlMessage, ControlPacket, KeepAlive, MessageBody, RequestOrder, Sequence};
use roost_wire::Mac;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use wlan::{WlanPlan, WlanService, WlanStep};

/// Monotonic time since an origin the driver chooses.
pub type Instant = Duration;

/// The timers one AP model's APs are told (its default profile's `capwap` commands, else
/// the controller's defaults): the echo and discovery intervals in CAPWAP Timers (whole
/// seconds, every WTP), and Roost's sub-second timers in a Vendor Specific element that a
/// foreign WTP ignores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApTimers {
    pub echo_interval: Duration,
    pub discovery_interval: Duration,
    /// Only for a WTP that announced Roost's fast timers in its Join.
    pub fast_timers: Option<FastTimers>,
}

impl ApTimers {
    /// How long an AP in Run may be silent before it is released: three echo intervals, or,
    /// with Roost's fast timers, the WTP's own give-up time (echo plus every retransmission)
    /// and one retransmit interval to spare.
    pub fn dead_interval(&self) -> Duration {
        match self.fast_timers {
            Some(t) => {
                // The WTP's waits: the retransmit interval doubling up to half the echo
                // interval, once more than it retransmits (roost_wtp's rule), and one
                // retransmit interval of slack.
                let mut wait = t.retransmit_interval;
                let mut total = t.echo_interval + t.retransmit_interval;
                for _ in 0..=t.max_retransmit {
                    total += wait;
                    wait = wait.max((wait * 2).min(t.echo_interval / 2));
                }
                total
            }
            None => self.echo_interval * 3,
        }
    }

    /// The echo interval the AP runs.
    pub fn echo(&self) -> Duration {
        self.fast_timers
            .map_or(self.echo_interval, |t| t.echo_interval)
    }

    fn capwap(&self) -> CapwapTimers {
        CapwapTimers {
            discovery: whole_seconds(self.discovery_interval),
            echo_request: whole_seconds(self.echo_interval),
        }
    }

    fn vendor_elements(&self) -> Vec<VendorSpecificPayload> {
        self.fast_timers.iter().map(|t| t.to_vendor()).collect()
    }
}

/// How this AC runs. Timers the AP runs are sent to it (CAPWAP Timers, whole seconds, and
/// [`FastTimers`] when set).
#[derive(Clone, Debug, PartialEq)]
pub struct AcSettings {
    /// The AC Name (the member's hostname).
    pub ac_name: String,
    /// This member's address: CAPWAP Control and Local IPv4 Address.
    pub control_ip: Ipv4Addr,
    /// Every member's address, this one first: the AC IPv4 List an AP fails over along.
    pub ac_list: Vec<Ipv4Addr>,
    /// Per AP profile (its name, e.g. `default-ap7532`), the list its `controller host`
    /// entries make (pool 1, then pool 2), with the members it does not name after them: the
    /// AC IPv4 List its APs are told instead of `ac_list`.
    pub ac_lists_by_profile: BTreeMap<String, Vec<Ipv4Addr>>,
    /// The echo interval an AP is told (CAPWAP Timers, rounded up to whole seconds).
    pub echo_interval: Duration,
    /// The discovery interval an AP is told.
    pub discovery_interval: Duration,
    /// Roost's sub-second timers for Roost WTPs (a foreign WTP ignores them).
    pub fast_timers: Option<FastTimers>,
    /// Per AP profile, the timers it sets instead of the three above
    /// ([`AcSettings::timers_for`]).
    pub timers_by_profile: BTreeMap<String, ApTimers>,
    /// Per AP profile, WiNG's `adoption start-delay` (only profiles that set one): told in
    /// the Discovery Response to an AP that would run that profile, which waits a time drawn
    /// from it before its first Join after a boot.
    pub start_delays_by_profile: BTreeMap<String, StartDelay>,
    /// The auto-provisioning policy this controller applies at every new Join (None: every
    /// AP the licenses and capacity allow is adopted).
    pub policy: Option<Arc<policy::Policy>>,
    /// The firmware gate, applied at every Join (a rejoin too: an AP may return with new
    /// firmware).
    pub firmware: Arc<firmware::FirmwareGate>,
    /// The hostnames operators gave APs (`ap7532 <MAC>` / `hostname …`): an AP in Run whose
    /// WTP Name differs is told it in a Configuration Update Request.
    pub ap_names: BTreeMap<Mac, String>,
    /// RFC 5415 4.7: WaitJoin (Join to Configuration Status), ChangeStatePendingTimer
    /// (Configuration Status to Change State Event), DataCheckTimer (to the first keep-alive).
    pub wait_join: Duration,
    pub change_state_pending: Duration,
    pub data_check: Duration,
    /// At most this many sessions not in Run; further Joins are refused (Busy).
    pub max_pending: usize,
    /// At most one Discovery Response per source address per this interval.
    pub discovery_holddown: Duration,
    /// The software version advertised in the AC Descriptor.
    pub software_version: String,
    /// RFC 5415 4.7: RetransmitInterval and MaxRetransmit for the AC's own requests to a WTP
    /// without Roost's fast timers (to one with them, the fast values apply).
    pub retransmit_interval: Duration,
    pub max_retransmit: u8,
    /// At most this many APs with a WLAN Configuration Request outstanding.
    pub max_wlan_in_flight: usize,
    /// At most this many APs moving to their configured controller at a time (told to fall
    /// back and still here): the handback's batch ([`Adoption::handle_fallback`]).
    pub handback_window: usize,
    /// At most this many datagrams per second (and as a burst) from addresses with no session
    /// (Discovery and Join: a cold start, a failover) are looked at; the rest are dropped
    /// undecoded and counted, so that a flood from spoofed sources costs little and the APs in
    /// Run keep their controller.
    pub new_source_rate: u32,
}

impl AcSettings {
    /// The RFC's timers (echo 30 s, discovery 5 s, WaitJoin 60 s, ChangeStatePending 25 s,
    /// DataCheck 30 s), no fast timers.
    pub fn new(ac_name: &str, control_ip: Ipv4Addr) -> AcSettings {
        AcSettings {
            ac_name: ac_name.to_string(),
            control_ip,
            ac_list: vec![control_ip],
            ac_lists_by_profile: BTreeMap::new(),
            echo_interval: Duration::from_secs(30),
            discovery_interval: Duration::from_secs(5),
            fast_timers: None,
            timers_by_profile: BTreeMap::new(),
            start_delays_by_profile: BTreeMap::new(),
            ap_names: BTreeMap::new(),
            policy: None,
            firmware: Arc::default(),
            wait_join: Duration::from_secs(60),
            change_state_pending: Duration::from_secs(25),
            data_check: Duration::from_secs(30),
            max_pending: 4096,
            discovery_holddown: Duration::from_secs(1),
            software_version: String::new(),
            retransmit_interval: Duration::from_secs(3),
            max_retransmit: 5,
            max_wlan_in_flight: 1024,
            handback_window: 2048,
            new_source_rate: 32_768,
        }
    }

    /// The AC IPv4 List an AP of `profile` is told.
    pub fn ac_list_for(&self, profile: &str) -> &[Ipv4Addr] {
        self.ac_lists_by_profile
            .get(profile)
            .unwrap_or(&self.ac_list)
    }

    /// The timers an AP of `profile` is told; `wtp_fast`: its Join announced Roost's fast
    /// timers (without that, none are sent and the RFC's rules apply).
    pub fn timers_for(&self, profile: &str, wtp_fast: bool) -> ApTimers {
        let mut t = self
            .timers_by_profile
            .get(profile)
            .copied()
            .unwrap_or(ApTimers {
                echo_interval: self.echo_interval,
                discovery_interval: self.discovery_interval,
                fast_timers: self.fast_timers,
            });
        if !wtp_fast {
            t.fast_timers = None;
        }
        t
    }

    /// The retransmit interval and count for the AC's requests to a WTP that runs `timers`.
    fn retransmission(&self, timers: &ApTimers) -> (Duration, u8) {
        match timers.fast_timers {
            Some(t) => (t.retransmit_interval, t.max_retransmit.max(1)),
            None => (self.retransmit_interval, self.max_retransmit),
        }
    }

    /// [`ApTimers::dead_interval`] of an AP of a profile without timers of its own.
    pub fn dead_interval(&self, fast: bool) -> Duration {
        self.timers_for("", fast).dead_interval()
    }
}

/// What the policy matches a WTP on: its Board Data and its address.
fn wtp_facts(mac: Mac, board: &WtpBoardData, from: SocketAddr) -> policy::WtpFacts<'_> {
    policy::WtpFacts {
        mac,
        model: board.model_str().unwrap_or(""),
        serial: board.serial_str().unwrap_or(""),
        ip: ipv4_of(from),
    }
}

/// A WTP's IPv4 address (unspecified for IPv6, which Roost's CAPWAP does not serve).
fn ipv4_of(addr: SocketAddr) -> Ipv4Addr {
    match addr.ip() {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    }
}

/// The profile an adopt decision names (None: the model's default).
fn mapped_profile<'a>(d: &policy::Decision<'a>) -> Option<&'a str> {
    match d {
        policy::Decision::Adopt {
            rule:
                Some(policy::Rule {
                    action: policy::Action::Adopt { profile: Some(p) },
                    ..
                }),
        } => Some(p),
        _ => None,
    }
}

/// The profile an AP of `model` runs when no rule names one: WiNG's default profile for the
/// model, `default-<model>` in lower case (`default-ap7532`).
pub fn default_profile(model: &str) -> String {
    format!("default-{}", model.to_ascii_lowercase())
}

/// A session's state, as `show wireless ap` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApState {
    /// Joined; waiting for its Configuration Status Request.
    Configuring,
    /// Configured; waiting for its Change State Event Request.
    DataCheck,
    /// Waiting for its first data keep-alive.
    WaitKeepAlive,
    Run,
}

impl std::fmt::Display for ApState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            ApState::Configuring => "configuring",
            ApState::DataCheck => "data-check",
            ApState::WaitKeepAlive => "data-check",
            ApState::Run => "adopted",
        })
    }
}

/// One AP this member holds, as every face shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApView {
    pub mac: Mac,
    pub name: String,
    pub model: String,
    pub serial: String,
    pub software_version: String,
    /// The AP profile it runs (its WLANs, timers and controller list): the one the
    /// auto-provisioning rule that adopted it names, else its model's default
    /// ([`default_profile`]).
    pub profile: String,
    /// Its control address.
    pub addr: SocketAddr,
    pub license: LicenseKind,
    pub state: ApState,
    /// When it joined.
    pub joined: Instant,
    /// When it reached Run.
    pub run_since: Option<Instant>,
    /// WLANs it confirmed (WLAN Configuration Response, Success).
    pub wlans: usize,
    /// WLANs it refused (a failure Result Code): not retried until they change.
    pub wlans_refused: usize,
}

impl ApView {
    /// Its row in the cluster-wide AP table: `session_id` of its Join, adopted at `since_ms`
    /// (this member's wall clock). Only a profile other than its model's default travels.
    pub fn record(&self, session_id: [u8; 16], since_ms: u64) -> roost_wire::ApRecord {
        roost_wire::ApRecord {
            mac: self.mac,
            hostname: self.name.clone(),
            model: self.model.clone(),
            serial: self.serial.clone(),
            ip: ipv4_of(self.addr),
            port: self.addr.port(),
            session_id,
            thin: self.license.is_thin(),
            since_ms,
            profile: if self.profile == default_profile(&self.model) {
                String::new()
            } else {
                self.profile.clone()
            },
        }
    }
}

/// Why a session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReleaseReason {
    /// Silent in Run for the dead interval.
    Lost,
    /// A state timer before Run expired (which one).
    Timeout(&'static str),
    /// The AP joined again (rebooted, or moved address after silence).
    Rejoined,
    /// Another member's later claim on it won (the cluster-wide AP table's duplicate rule).
    ClaimedElsewhere,
    /// Told to fall back to its configured controller, it stayed: it was reset (a WTP that
    /// ignores WTP Fallback and AC Name with Priority).
    Reset,
    /// It moved to the named member in a load-balancing round (that member's claim won).
    Balanced(String),
}

impl std::fmt::Display for ReleaseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReleaseReason::Lost => f.write_str("no echo within the dead interval"),
            ReleaseReason::Timeout(t) => write!(f, "{t} expired"),
            ReleaseReason::Rejoined => f.write_str("the AP joined again"),
            ReleaseReason::ClaimedElsewhere => {
                f.write_str("another member adopted it later (duplicate resolved)")
            }
            ReleaseReason::Reset => {
                f.write_str("reset: it ignored the fallback to its configured controller")
            }
            ReleaseReason::Balanced(to) => write!(f, "moved to {to} by AP load balancing"),
        }
    }
}

/// What happened to an AP, for the history, the log and the AP table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdoptionEvent {
    /// Its Join was accepted: it holds a license here from now on (the cluster-wide AP
    /// table's row starts here).
    Joined { ap: ApView, session_id: [u8; 16] },
    /// It reached Run.
    Adopted { ap: ApView },
    /// Its session ended; its license is free. `grace`: it was held on a lost member's
    /// grace share, so the license goes back to that share, not to this member's pool (the
    /// AP table reserves only a license of this member's own until every member saw the
    /// release).
    Released {
        mac: Mac,
        reason: ReleaseReason,
        grace: bool,
    },
    /// It carries the WLANs its model should (`view.wlans`, `view.wlans_refused`).
    WlansApplied { ap: ApView },
    /// It took the hostname its device section gives it (CAPWAP WTP Name): its row in the
    /// cluster-wide AP table changes.
    Renamed { ap: ApView, session_id: [u8; 16] },
    /// Its Join was refused: what it said about itself (for `show wireless ap`), and why.
    Refused {
        mac: Mac,
        name: String,
        model: String,
        serial: String,
        addr: SocketAddr,
        reason: Refusal,
    },
}

/// What the core asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdoptionOutput {
    /// A datagram on the control socket (UDP 5246), DSCP CS6.
    Control {
        to: SocketAddr,
        datagram: Vec<u8>,
    },
    /// A datagram on the data socket (UDP 5247).
    Data {
        to: SocketAddr,
        datagram: Vec<u8>,
    },
    Event(AdoptionEvent),
}

/// Datagrams dropped, by cause (`show adoption status`, `/metrics`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdoptionCounters {
    pub discovery_answered: u64,
    /// Not answered: not serving, or the per-source hold-down.
    pub discovery_suppressed: u64,
    pub joins_accepted: u64,
    pub joins_refused: u64,
    /// Could not be decoded (or a DTLS packet).
    pub malformed: u64,
    /// A control message (not Discovery or Join) from an address with no session, or a
    /// keep-alive with an unknown Session ID.
    pub unknown_session: u64,
    /// A retransmitted request answered from the cache.
    pub retransmissions: u64,
    /// A request older than the last one seen.
    pub stale: u64,
    /// A message that makes no sense in the session's state (answered or ignored per RFC).
    pub unexpected: u64,
    pub released: u64,
    /// WLAN Configuration Requests sent (first transmissions), retransmitted, and answered
    /// with a failure.
    pub wlan_requests: u64,
    pub wlan_retransmissions: u64,
    pub wlan_refused: u64,
    /// WLAN Configuration Responses with Success.
    pub wlan_confirmed: u64,
    /// Configuration Update Requests telling an AP where to fall back (or to stay), and the
    /// APs that confirmed one.
    pub handback_requests: u64,
    pub handback_confirmed: u64,
    /// Load-balancing rounds this member started, and APs that left it in them.
    pub balance_rounds: u64,
    pub balance_moved: u64,
    /// Reset Requests to APs that ignored a fallback.
    pub resets: u64,
    /// Configuration Update Requests bringing an AP in Run its model's new timers.
    pub timer_updates: u64,
    /// Configuration Update Requests telling an AP in Run its configured hostname.
    pub name_updates: u64,
    /// Datagrams from addresses with no session dropped undecoded over
    /// [`AcSettings::new_source_rate`].
    pub rate_limited: u64,
    /// Roost Controller Lost Requests sent to the APs of members that died.
    pub lost_notices: u64,
}

/// An AP of a member that died, as the cluster-wide AP table shows it
/// ([`directory::DirectoryOutput::MemberLost`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostAp {
    pub mac: Mac,
    /// Its control address.
    pub addr: SocketAddr,
    /// The Session ID of its Join to the member that died.
    pub session_id: [u8; 16],
}

/// A request of the AC's own: one at a time per AP (RFC 5415 4.5.1).
#[derive(Clone, Debug, PartialEq)]
enum Request {
    /// A WLAN Configuration Request.
    Wlan(WlanStep),
    /// A Configuration Update Request with WTP Fallback and, when enabled, the AC Name with
    /// Priority list of handback `generation` ([`handback`]).
    Fallback { enabled: bool, generation: u64 },
    /// A Reset Request (an AP that ignored its fallback).
    Reset,
    /// A Configuration Update Request with new timers (its model's changed).
    Timers(ApTimers),
    /// A Configuration Update Request with the WTP Name its device section gives it.
    Name(String),
}

/// A request to an AP waiting for its response.
struct InFlight {
    seq: u8,
    step: Request,
    datagram: Vec<u8>,
    /// Retransmissions sent so far.
    retries: u8,
    due: Instant,
}

/// Where an AP's WLANs stand.
#[derive(Default)]
struct Push {
    applied: BTreeMap<(u8, u8), WlanService>,
    refused: BTreeMap<(u8, u8), WlanService>,
    in_flight: Option<InFlight>,
    /// In the controller's push queue.
    queued: bool,
    /// The AC's own request sequence number (RFC 5415 4.5.1: one per direction).
    seq: u8,
}

struct Session {
    view: ApView,
    session_id: [u8; 16],
    /// The last request's sequence number and the response it got.
    last: Option<(Sequence, Vec<u8>)>,
    /// The last time anything came from it.
    heard: Instant,
    /// Its Join carried Roost's fast-timer element (see [`FastTimers`]).
    fast: bool,
    /// The timers it was told and runs (its dead interval and the AC's retransmissions
    /// follow them); a Configuration Update brings it the new ones when its model's change.
    timers: ApTimers,
    /// Timers it refused (not offered again until its model's change once more).
    timers_refused: Option<ApTimers>,
    /// A configured hostname it refused (not offered again until it changes).
    name_refused: Option<String>,
    /// When its current state's timer expires.
    deadline: Instant,
    /// When its live timer-heap entry fires (None: it has none). A deadline that moves later
    /// keeps the entry, which re-queues itself when it fires early: an echo, once a second
    /// per AP, costs no heap operation.
    queued: Option<Instant>,
    /// Bumped when a new heap entry replaces the live one, so stale entries are recognised.
    generation: u64,
    radios: Vec<WtpRadioInformation>,
    push: Push,
    fallback: handback::SessionFallback,
}

/// The AC core. See the crate docs.
pub struct Adoption {
    settings: AcSettings,
    admission: Admission,
    sessions: HashMap<SocketAddr, Session>,
    by_mac: HashMap<Mac, SocketAddr>,
    by_session_id: HashMap<[u8; 16], SocketAddr>,
    held: Held,
    /// Of `held`, the APs licensed from a lost member's grace share.
    on_grace: Held,
    pending: usize,
    timers: BinaryHeap<Reverse<(Instant, SocketAddr, u64)>>,
    discovery_answered_at: HashMap<IpAddr, Instant>,
    out: VecDeque<AdoptionOutput>,
    counters: AdoptionCounters,
    /// Bumped whenever the AP table changes (for the publisher).
    changes: u64,
    wlans: WlanPlan,
    /// APs in Run whose WLANs may differ from the plan, in arrival order.
    push_queue: VecDeque<SocketAddr>,
    /// APs with a WLAN request outstanding.
    push_in_flight: usize,
    /// WLAN request retransmissions: (due, AP, its request's seq).
    push_timers: BinaryHeap<Reverse<(Instant, SocketAddr, u8)>>,
    last_wlan_response: Option<Instant>,
    handback: handback::Handback,
    /// The new-source token bucket: tokens left, and when it was last filled.
    new_source_tokens: f64,
    new_source_filled: Option<Instant>,
}

impl Adoption {
    pub fn new(settings: AcSettings) -> Adoption {
        Adoption {
            settings,
            admission: Admission::default(),
            sessions: HashMap::new(),
            by_mac: HashMap::new(),
            by_session_id: HashMap::new(),
            held: Held::default(),
            on_grace: Held::default(),
            pending: 0,
            timers: BinaryHeap::new(),
            discovery_answered_at: HashMap::new(),
            out: VecDeque::new(),
            counters: AdoptionCounters::default(),
            changes: 0,
            wlans: WlanPlan::default(),
            push_queue: VecDeque::new(),
            push_in_flight: 0,
            push_timers: BinaryHeap::new(),
            last_wlan_response: None,
            handback: handback::Handback::default(),
            new_source_tokens: 0.0,
            new_source_filled: None,
        }
    }

    /// The WLANs every AP model must carry (after a commit): every AP in Run is brought to it.
    pub fn handle_wlans(&mut self, plan: WlanPlan, now: Instant) {
        if plan == self.wlans {
            return;
        }
        self.wlans = plan;
        self.requeue_run(now);
    }

    /// Every AP in Run with a request due (its WLANs, timers or name changed) is queued.
    fn requeue_run(&mut self, now: Instant) {
        let mut run: Vec<SocketAddr> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.view.state == ApState::Run)
            .map(|(a, _)| *a)
            .collect();
        // In a fixed order, not the hash map's (the requests go out in this order).
        run.sort_unstable();
        for addr in run {
            self.requeue(addr);
        }
        self.pump_wlans(now);
    }

    /// The plan in force.
    pub fn wlans(&self) -> &WlanPlan {
        &self.wlans
    }

    /// APs waiting for a WLAN request, and APs with one outstanding.
    pub fn wlan_backlog(&self) -> (usize, usize) {
        (self.push_queue.len(), self.push_in_flight)
    }

    /// When the last WLAN Configuration Response arrived (how long a commit took to reach
    /// the last AP).
    pub fn last_wlan_response(&self) -> Option<Instant> {
        self.last_wlan_response
    }

    /// The cluster's view changed (operational state, licenses, what others hold).
    pub fn handle_admission(&mut self, admission: Admission, _now: Instant) {
        // Which sessions a grace share licenses follows the table, not the moment of Join:
        // a lost member that restarted or came back takes its share back.
        if !Arc::ptr_eq(&admission.grace, &self.admission.grace) {
            let mut on_grace = Held::default();
            let (small, large) = (admission.grace.len(), self.by_mac.len());
            if small <= large {
                for (mac, kind) in admission.grace.iter() {
                    if self.by_mac.contains_key(mac) {
                        on_grace.add(*kind);
                    }
                }
            } else {
                for (mac, addr) in &self.by_mac {
                    if admission.grace.contains_key(mac) {
                        if let Some(s) = self.sessions.get(addr) {
                            on_grace.add(s.view.license);
                        }
                    }
                }
            }
            self.on_grace = on_grace;
        }
        self.admission = admission;
    }

    /// Drops this member's session for `mac`, without a word to the AP: another member's
    /// later claim won (`directory::DirectoryOutput::Release`), so the AP is there.
    pub fn handle_release(&mut self, mac: Mac, reason: ReleaseReason, now: Instant) {
        if let Some(&addr) = self.by_mac.get(&mac) {
            self.release(addr, reason);
            // Its place in the handback's window is free.
            self.pump_wlans(now);
        }
    }

    /// New settings (member list, timers); sessions keep running.
    /// New settings. An AP in Run whose model's timers changed is told them (a
    /// Configuration Update Request, through the same queue as its WLANs).
    pub fn handle_settings(&mut self, settings: AcSettings, now: Instant) {
        let timers_changed = settings.timers_by_profile != self.settings.timers_by_profile
            || settings.ap_names != self.settings.ap_names
            || settings.echo_interval != self.settings.echo_interval
            || settings.discovery_interval != self.settings.discovery_interval
            || settings.fast_timers != self.settings.fast_timers;
        self.settings = settings;
        if timers_changed {
            self.requeue_run(now);
        }
    }

    pub fn settings(&self) -> &AcSettings {
        &self.settings
    }

    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// A datagram on the control port.
    pub fn handle_control(&mut self, from: SocketAddr, datagram: &[u8], now: Instant) {
        if !self.sessions.contains_key(&from) && !self.new_source_token(now) {
            self.counters.rate_limited += 1;
            return;
        }
        let packet = match ControlPacket::decode(datagram) {
            Ok(p) => p,
            Err(_) => {
                self.counters.malformed += 1;
                return;
            }
        };
        let ControlMessage { seq, body } = packet.message;
        match body {
            MessageBody::DiscoveryRequest(req) => self.on_discovery(from, seq, req, false, now),
            MessageBody::PrimaryDiscoveryRequest(req) => {
                self.on_discovery(from, seq, req, true, now)
            }
            MessageBody::JoinRequest(req) => self.on_join(from, seq, req, now),
            body => self.on_session_message(from, seq, body, now),
        }
        self.pump_wlans(now);
    }

    /// Takes a token of the new-source bucket (full at start, refilled at the rate).
    fn new_source_token(&mut self, now: Instant) -> bool {
        let rate = f64::from(self.settings.new_source_rate);
        let elapsed = match self.new_source_filled {
            Some(t) => now.saturating_sub(t).as_secs_f64(),
            None => f64::INFINITY,
        };
        self.new_source_filled = Some(now);
        self.new_source_tokens = (self.new_source_tokens + elapsed * rate).min(rate);
        if self.new_source_tokens >= 1.0 {
            self.new_source_tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// A datagram on the data port: a keep-alive puts its session in Run and is echoed.
    pub fn handle_data(&mut self, from: SocketAddr, datagram: &[u8], now: Instant) {
        let keep_alive = match KeepAlive::decode(datagram) {
            Ok(k) => k,
            Err(_) => {
                self.counters.malformed += 1;
                return;
            }
        };
        let Some(addr) = self.by_session_id.get(&keep_alive.session_id.0).copied() else {
            self.counters.unknown_session += 1;
            return;
        };
        if addr.ip() != from.ip() {
            // A Session ID from another host: not this AP's keep-alive.
            self.counters.unknown_session += 1;
            return;
        }
        let Some(s) = self.sessions.get_mut(&addr) else {
            return;
        };
        let dead = s.timers.dead_interval();
        s.heard = now;
        let adopted = match s.view.state {
            ApState::Run => None,
            ApState::WaitKeepAlive | ApState::DataCheck => {
                if s.view.state == ApState::DataCheck {
                    // The keep-alive overtook the Change State Event: accepted all the same.
                    self.counters.unexpected += 1;
                }
                s.view.state = ApState::Run;
                s.view.run_since = Some(now);
                self.pending = self.pending.saturating_sub(1);
                self.changes += 1;
                Some(s.view.clone())
            }
            ApState::Configuring => {
                self.counters.unexpected += 1;
                return;
            }
        };
        self.arm(addr, now + dead);
        // The echo first: the AP is waiting for it.
        self.out.push_back(AdoptionOutput::Data {
            to: from,
            datagram: datagram.to_vec(),
        });
        if let Some(ap) = adopted {
            self.out
                .push_back(AdoptionOutput::Event(AdoptionEvent::Adopted { ap }));
            self.enqueue_push(addr);
            self.enqueue_handback(addr);
            self.pump_wlans(now);
        }
    }

    /// A member died: each of its APs that has no session here gets a Roost Controller Lost
    /// Request, so that a Roost WTP probes its controller now rather than at its next echo and,
    /// finding it dead, joins the next controller it knows at once. Failover then takes the
    /// cluster's failure detection (a fraction of a second), not the AP's echo interval. A
    /// WTP that does not know the message ignores it and finds out on its own timers; a WTP
    /// whose controller is alive (a member-channel partition) gets its echo answered and
    /// stays.
    pub fn handle_member_lost(&mut self, aps: Vec<LostAp>, _now: Instant) {
        for ap in aps {
            if self.by_mac.contains_key(&ap.mac) {
                continue;
            }
            let body = MessageBody::ControllerLostRequest(ControllerLostRequest {
                vendor_specific: vec![LostSession {
                    session_id: ap.session_id,
                }
                .to_vendor()],
                ..Default::default()
            });
            let Some(datagram) = encode(0, body) else {
                continue;
            };
            self.counters.lost_notices += 1;
            self.out.push_back(AdoptionOutput::Control {
                to: ap.addr,
                datagram,
            });
        }
    }

    /// Expires sessions whose state timer is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, addr, generation))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(s) = self.sessions.get_mut(&addr) else {
                continue;
            };
            if s.generation != generation {
                continue;
            }
            if s.deadline > now {
                // The deadline moved later since this entry was queued.
                s.queued = Some(s.deadline);
                self.timers.push(Reverse((s.deadline, addr, generation)));
                continue;
            }
            s.queued = None;
            let reason = match s.view.state {
                ApState::Configuring => ReleaseReason::Timeout("WaitJoin"),
                ApState::DataCheck => ReleaseReason::Timeout("ChangeStatePendingTimer"),
                ApState::WaitKeepAlive => ReleaseReason::Timeout("DataCheckTimer"),
                ApState::Run => ReleaseReason::Lost,
            };
            self.release(addr, reason);
        }
        while let Some(&Reverse((at, addr, seq))) = self.push_timers.peek() {
            if at > now {
                break;
            }
            self.push_timers.pop();
            self.on_push_timer(addr, seq, now);
        }
        self.handback_timeouts(now);
        self.pump_wlans(now);
        // Forget discovery hold-downs that are over (bounded memory under a flood).
        if self.discovery_answered_at.len() > 65_536 {
            let hold = self.settings.discovery_holddown;
            self.discovery_answered_at.retain(|_, t| now < *t + hold);
        }
    }

    /// When `handle_timeout` is next due (may be early: a timer that moved since).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let state = self.timers.peek().map(|Reverse((at, _, _))| *at);
        let push = self.push_timers.peek().map(|Reverse((at, _, _))| *at);
        [state, push, self.handback.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn poll_output(&mut self) -> Option<AdoptionOutput> {
        self.out.pop_front()
    }

    /// The APs this member holds, in no particular order.
    pub fn aps(&self) -> impl Iterator<Item = &ApView> {
        self.sessions.values().map(|s| &s.view)
    }

    /// This member's session for `mac`, if any.
    pub fn ap(&self, mac: Mac) -> Option<&ApView> {
        self.sessions.get(self.by_mac.get(&mac)?).map(|s| &s.view)
    }

    /// Whether this member has a session for `mac`.
    pub fn holds(&self, mac: Mac) -> bool {
        self.by_mac.contains_key(&mac)
    }

    /// Licenses held, by kind (every session past Join).
    pub fn held(&self) -> Held {
        self.held
    }

    /// APs in Run.
    pub fn adopted(&self) -> usize {
        self.sessions.len() - self.pending
    }

    pub fn counters(&self) -> AdoptionCounters {
        self.counters
    }

    /// Bumped whenever an AP joins, reaches Run or leaves.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    fn on_discovery(
        &mut self,
        from: SocketAddr,
        seq: u8,
        req: DiscoveryRequest,
        primary: bool,
        now: Instant,
    ) {
        let hold = self.settings.discovery_holddown;
        let recent = self
            .discovery_answered_at
            .get(&from.ip())
            .is_some_and(|t| now < *t + hold);
        if !self.admission.serving || recent {
            self.counters.discovery_suppressed += 1;
            return;
        }
        self.discovery_answered_at.insert(from.ip(), now);
        self.counters.discovery_answered += 1;
        let resp = DiscoveryResponse {
            ac_descriptor: self.ac_descriptor(),
            ac_name: AcName(self.settings.ac_name.clone()),
            radios: req.radios,
            control_ipv4: vec![self.control_address()],
            control_ipv6: vec![],
            vendor_specific: self
                .start_delay_for(from, &req.board_data)
                .map(|d| d.to_vendor())
                .into_iter()
                .collect(),
            other_elements: vec![],
        };
        let body = if primary {
            MessageBody::PrimaryDiscoveryResponse(resp)
        } else {
            MessageBody::DiscoveryResponse(resp)
        };
        if let Some(d) = encode(seq, body) {
            self.out.push_back(AdoptionOutput::Control {
                to: from,
                datagram: d,
            });
        }
    }

    /// The start delay the AP of a Discovery is told: that of the profile its Join would map
    /// it to (the policy is evaluated only when some profile sets a delay).
    fn start_delay_for(&self, from: SocketAddr, board: &WtpBoardData) -> Option<StartDelay> {
        let delays = &self.settings.start_delays_by_profile;
        if delays.is_empty() {
            return None;
        }
        let model = board.model_str().unwrap_or("");
        let mapped = match (&self.settings.policy, board.base_mac) {
            (Some(p), Some(roost_capwap::MacAddress::Eui48(b))) => {
                mapped_profile(&p.evaluate(&wtp_facts(Mac(b), board, from)))
            }
            _ => None,
        };
        match mapped {
            Some(p) => delays.get(p),
            None => delays.get(&default_profile(model)),
        }
        .copied()
    }

    fn on_join(&mut self, from: SocketAddr, seq: u8, req: JoinRequest, now: Instant) {
        let Some(mac) = wtp_mac(&req) else {
            // No base MAC: the RFC drops a malformed Join silently.
            self.counters.malformed += 1;
            return;
        };
        // A retransmitted Join of the session from this address: the cached response again.
        if let Some(s) = self.sessions.get(&from) {
            if s.view.mac == mac && s.session_id == req.session_id.0 {
                if let Some((last, resp)) = &s.last {
                    if last.0 == seq {
                        let resp = resp.clone();
                        self.counters.retransmissions += 1;
                        self.out.push_back(AdoptionOutput::Control {
                            to: from,
                            datagram: resp,
                        });
                        return;
                    }
                }
            }
        }
        let model = req.board_data.model_str().unwrap_or("").to_string();
        // The license of a session this Join takes over: a member that no longer serves
        // keeps serving the APs it holds (one whose move to the target failed comes back).
        let mut rejoin = None;
        let mut first_mapping = None;
        let mut fallback = handback::SessionFallback::default();
        if let Some(&old) = self.by_mac.get(&mac) {
            let silent = self
                .sessions
                .get(&old)
                .is_some_and(|s| now >= s.heard + s.timers.dead_interval());
            if old == from || silent {
                if let Some(s) = self.sessions.get(&old) {
                    first_mapping = Some(s.view.profile.clone());
                    rejoin = Some(Licensed {
                        kind: s.view.license,
                        grace: self.admission.grace.contains_key(&mac),
                    });
                    fallback = handback::SessionFallback::after(&s.fallback);
                }
                self.release(old, ReleaseReason::Rejoined);
            } else {
                self.refuse(
                    from,
                    seq,
                    mac,
                    model,
                    Refusal::SessionInUse { other: old },
                    &req,
                );
                return;
            }
        }
        if self.sessions.contains_key(&from) {
            // Another AP's session on this address (that AP moved away): it is gone.
            self.release(from, ReleaseReason::Rejoined);
        }
        if self.pending >= self.settings.max_pending {
            let max = self.settings.max_pending;
            self.refuse(from, seq, mac, model, Refusal::Busy { max }, &req);
            return;
        }
        // An AP the cluster already adopts (a rejoin here; a lost member's AP, or one a member
        // hands to this one, as the AP table shows it) keeps its first mapping: the policy
        // runs for it again only with `evaluate-always`.
        if first_mapping.is_none() && self.admission.grace.contains_key(&mac) {
            first_mapping = Some(
                self.admission
                    .grace_profiles
                    .get(&mac)
                    .cloned()
                    .unwrap_or_else(|| default_profile(&model)),
            );
        }
        let mut profile = first_mapping
            .clone()
            .unwrap_or_else(|| default_profile(&model));
        if let Some(p) = self
            .settings
            .policy
            .as_ref()
            .filter(|p| first_mapping.is_none() || p.evaluate_always)
        {
            let refusal = match p.evaluate(&wtp_facts(mac, &req.board_data, from)) {
                d @ policy::Decision::Adopt { .. } => {
                    profile =
                        mapped_profile(&d).map_or_else(|| default_profile(&model), str::to_string);
                    None
                }
                policy::Decision::Deny { rule: Some(r) } => Some(Refusal::Denied {
                    policy: p.name.clone(),
                    precedence: r.precedence,
                }),
                policy::Decision::Deny { rule: None } => Some(Refusal::NoRuleMatched {
                    policy: p.name.clone(),
                }),
                policy::Decision::Redirect { rule } => match rule.action {
                    policy::Action::Redirect { controller, .. } => Some(Refusal::Redirected {
                        policy: p.name.clone(),
                        precedence: rule.precedence,
                        controller,
                    }),
                    _ => None,
                },
            };
            if let Some(refusal) = refusal {
                self.refuse(from, seq, mac, model, refusal, &req);
                return;
            }
        }
        let version = req.descriptor.active_software_version_str().unwrap_or("");
        if let Err(m) = self.settings.firmware.check(&model, version) {
            let refusal = Refusal::Firmware {
                actual: version.to_string(),
                expected: m.expected,
                level: m.level,
            };
            self.refuse(from, seq, mac, model, refusal, &req);
            return;
        }
        let Licensed {
            kind: license,
            grace,
        } = match rejoin.filter(|_| !self.admission.serving).map_or_else(
            || placement::admit(mac, &model, &self.admission, &self.held, &self.on_grace),
            Ok,
        ) {
            Ok(l) => l,
            Err(refusal) => {
                self.refuse(from, seq, mac, model, refusal, &req);
                return;
            }
        };
        self.counters.joins_accepted += 1;
        self.held.add(license);
        if grace {
            self.on_grace.add(license);
        }
        self.pending += 1;
        self.changes += 1;
        let view = ApView {
            mac,
            name: req.wtp_name.0.clone(),
            model,
            serial: req.board_data.serial_str().unwrap_or("").to_string(),
            software_version: req
                .descriptor
                .active_software_version_str()
                .unwrap_or("")
                .to_string(),
            profile,
            addr: from,
            license,
            state: ApState::Configuring,
            joined: now,
            run_since: None,
            wlans: 0,
            wlans_refused: 0,
        };
        // Arriving while another member balances to this one: held down here.
        if rejoin.is_none() && self.handback.intake {
            fallback.moved_at = Some(now);
        }
        let fast = FastTimers::find(&req.vendor_specific).is_some();
        let timers = self.settings.timers_for(&view.profile, fast);
        let resp = MessageBody::JoinResponse(JoinResponse {
            result_code: ResultCode::Success,
            ac_descriptor: self.ac_descriptor(),
            ac_name: AcName(self.settings.ac_name.clone()),
            radios: req.radios.clone(),
            ecn_support: EcnSupport::Limited,
            control_ipv4: Some(self.control_address()),
            control_ipv6: None,
            local_ipv4: Some(CapwapLocalIpv4Address(self.settings.control_ip)),
            local_ipv6: None,
            ac_ipv4_list: Some(AcIpv4List(
                self.settings.ac_list_for(&view.profile).to_vec(),
            )),
            ac_ipv6_list: None,
            transport_protocol: None,
            image_identifier: None,
            maximum_message_length: None,
            vendor_specific: timers.vendor_elements(),
            other_elements: vec![],
        });
        let Some(datagram) = encode(seq, resp) else {
            return;
        };
        self.by_mac.insert(mac, from);
        self.by_session_id.insert(req.session_id.0, from);
        self.out
            .push_back(AdoptionOutput::Event(AdoptionEvent::Joined {
                ap: view.clone(),
                session_id: req.session_id.0,
            }));
        self.sessions.insert(
            from,
            Session {
                view,
                session_id: req.session_id.0,
                last: Some((Sequence(seq), datagram.clone())),
                heard: now,
                fast,
                timers,
                timers_refused: None,
                name_refused: None,
                deadline: now,
                queued: None,
                generation: 0,
                radios: req.radios,
                push: Push::default(),
                fallback,
            },
        );
        self.arm(from, now + self.settings.wait_join);
        self.out
            .push_back(AdoptionOutput::Control { to: from, datagram });
    }

    fn refuse(
        &mut self,
        from: SocketAddr,
        seq: u8,
        mac: Mac,
        model: String,
        reason: Refusal,
        req: &JoinRequest,
    ) {
        self.counters.joins_refused += 1;
        let resp = MessageBody::JoinResponse(JoinResponse {
            result_code: reason.result_code(),
            ac_descriptor: self.ac_descriptor(),
            ac_name: AcName(self.settings.ac_name.clone()),
            radios: req.radios.clone(),
            ecn_support: EcnSupport::Limited,
            control_ipv4: Some(self.control_address()),
            control_ipv6: None,
            local_ipv4: Some(CapwapLocalIpv4Address(self.settings.control_ip)),
            local_ipv6: None,
            // Where else it may try: the one controller a redirect names, else the members.
            ac_ipv4_list: Some(AcIpv4List(match &reason {
                Refusal::Redirected { controller, .. } => vec![*controller],
                _ => self.settings.ac_list_for(&default_profile(&model)).to_vec(),
            })),
            ac_ipv6_list: None,
            transport_protocol: None,
            // RFC 5415 9.1.1: the version it should run.
            image_identifier: match &reason {
                Refusal::Firmware { expected, .. } => Some(ImageIdentifier {
                    vendor_id: roost_capwap::vendor::ROOST_VENDOR_ID,
                    data: expected.clone(),
                }),
                _ => None,
            },
            maximum_message_length: None,
            vendor_specific: vec![],
            other_elements: vec![],
        });
        if let Some(datagram) = encode(seq, resp) {
            self.out
                .push_back(AdoptionOutput::Control { to: from, datagram });
        }
        self.out
            .push_back(AdoptionOutput::Event(AdoptionEvent::Refused {
                mac,
                name: req.wtp_name.0.clone(),
                model,
                serial: req.board_data.serial_str().unwrap_or("").to_string(),
                addr: from,
                reason,
            }));
    }

    fn on_session_message(&mut self, from: SocketAddr, seq: u8, body: MessageBody, now: Instant) {
        let is_request = body.message_type().is_request();
        let Some(s) = self.sessions.get_mut(&from) else {
            self.counters.unknown_session += 1;
            return;
        };
        s.heard = now;
        if !is_request {
            match body {
                MessageBody::WlanConfigurationResponse(r) => {
                    self.on_response(from, seq, r.result_code, now)
                }
                MessageBody::ConfigurationUpdateResponse(r) => {
                    self.on_response(from, seq, r.result_code, now)
                }
                MessageBody::ResetResponse(r) => {
                    self.on_response(from, seq, r.result_code.unwrap_or(ResultCode::Success), now)
                }
                _ => {}
            }
            return;
        }
        if let Some((last, resp)) = &s.last {
            match Sequence(seq).classify(Some(*last)) {
                RequestOrder::Retransmission => {
                    let resp = resp.clone();
                    self.counters.retransmissions += 1;
                    self.out.push_back(AdoptionOutput::Control {
                        to: from,
                        datagram: resp,
                    });
                    return;
                }
                RequestOrder::Stale => {
                    self.counters.stale += 1;
                    return;
                }
                RequestOrder::New => {}
            }
        }
        let state = s.view.state;
        let dead = s.timers.dead_interval();
        let (reply, next) = match (state, body) {
            (ApState::Configuring, MessageBody::ConfigurationStatusRequest(req)) => (
                Some(MessageBody::ConfigurationStatusResponse(
                    self.configuration_status_response(&req, from),
                )),
                Some((ApState::DataCheck, self.settings.change_state_pending)),
            ),
            (ApState::DataCheck, MessageBody::ChangeStateEventRequest(_)) => (
                Some(MessageBody::ChangeStateEventResponse(
                    ChangeStateEventResponse::default(),
                )),
                Some((ApState::WaitKeepAlive, self.settings.data_check)),
            ),
            (_, MessageBody::EchoRequest(_)) => (
                Some(MessageBody::EchoResponse(EchoResponse::default())),
                (state == ApState::Run).then_some((ApState::Run, dead)),
            ),
            (_, MessageBody::WtpEventRequest(_)) => (
                Some(MessageBody::WtpEventResponse(WtpEventResponse::default())),
                None,
            ),
            (_, MessageBody::Other { message_type, .. }) => {
                // An unknown request: answered with its response type and Result Code 19,
                // Unrecognized Request (RFC 5415 4.5.3).
                self.counters.unexpected += 1;
                let code = ResultCode::UnrecognizedRequest
                    .to_raw()
                    .to_be_bytes()
                    .to_vec();
                let reply = MessageBody::Other {
                    message_type: message_type.wrapping_add(1),
                    elements: vec![RawElement {
                        element_type: ResultCode::TYPE,
                        value: code,
                    }],
                };
                (Some(reply), None)
            }
            _ => {
                self.counters.unexpected += 1;
                (None, None)
            }
        };
        let Some(reply) = reply else {
            return;
        };
        let Some(datagram) = encode(seq, reply) else {
            return;
        };
        if let Some(s) = self.sessions.get_mut(&from) {
            s.last = Some((Sequence(seq), datagram.clone()));
            if let Some((state, timer)) = next {
                s.view.state = state;
                self.arm(from, now + timer);
            }
        }
        self.out
            .push_back(AdoptionOutput::Control { to: from, datagram });
    }

    fn configuration_status_response(
        &self,
        req: &ConfigurationStatusRequest,
        from: SocketAddr,
    ) -> ConfigurationStatusResponse {
        let mut radios: Vec<u8> = req
            .radio_admin_states
            .iter()
            .map(|r| r.radio_id)
            .filter(|id| *id != 0xFF)
            .collect();
        if radios.is_empty() {
            radios = self.sessions[&from]
                .radios
                .iter()
                .map(|r| r.radio_id)
                .collect();
        }
        if radios.is_empty() {
            radios.push(1);
        }
        let timers = self.sessions[&from].timers;
        ConfigurationStatusResponse {
            timers: timers.capwap(),
            decryption_error_report_periods: radios
                .into_iter()
                .map(|radio_id| DecryptionErrorReportPeriod {
                    radio_id,
                    report_interval: 120,
                })
                .collect(),
            idle_timeout: IdleTimeout(300),
            // Fallback is the cluster's decision, not the AP's: off until this member hands
            // its APs back ([`handback`]), so that with no force-configured-state an AP stays
            // where it is.
            wtp_fallback: WtpFallback::Disabled,
            ac_ipv4_list: Some(AcIpv4List(
                self.settings
                    .ac_list_for(&self.sessions[&from].view.profile)
                    .to_vec(),
            )),
            ac_ipv6_list: None,
            static_ip: None,
            radio_configurations: vec![],
            tx_powers: vec![],
            dsss_controls: vec![],
            ofdm_controls: vec![],
            vendor_specific: timers.vendor_elements(),
            other_elements: vec![],
        }
    }

    fn ac_descriptor(&self) -> AcDescriptor {
        AcDescriptor {
            stations: 0,
            limit: 0,
            active_wtps: self.held.total().min(u16::MAX as u32) as u16,
            max_wtps: self.admission.capacity.min(u16::MAX as u32) as u16,
            // No DTLS yet (lab mode): no credential type is claimed.
            security: AcSecurity::default(),
            r_mac: RMacField::NotSupported,
            dtls_policy: DtlsPolicy::CLEAR_DATA,
            hardware_version: b"roost".to_vec(),
            software_version: self.settings.software_version.as_bytes().to_vec(),
            other_information: vec![],
        }
    }

    fn control_address(&self) -> CapwapControlIpv4Address {
        CapwapControlIpv4Address {
            address: self.settings.control_ip,
            wtp_count: self.held.total().min(u16::MAX as u32) as u16,
        }
    }

    fn arm(&mut self, addr: SocketAddr, at: Instant) {
        if let Some(s) = self.sessions.get_mut(&addr) {
            s.deadline = at;
            if s.queued.is_some_and(|q| q <= at) {
                // The live entry fires first and re-queues itself for `at`.
                return;
            }
            s.generation += 1;
            s.queued = Some(at);
            self.timers.push(Reverse((at, addr, s.generation)));
        }
    }

    fn release(&mut self, addr: SocketAddr, reason: ReleaseReason) {
        let Some(s) = self.sessions.remove(&addr) else {
            return;
        };
        if self.by_mac.get(&s.view.mac) == Some(&addr) {
            self.by_mac.remove(&s.view.mac);
        }
        if self.by_session_id.get(&s.session_id) == Some(&addr) {
            self.by_session_id.remove(&s.session_id);
        }
        self.held.remove(s.view.license);
        let grace = self.admission.grace.contains_key(&s.view.mac);
        if grace {
            self.on_grace.remove(s.view.license);
        }
        if s.view.state != ApState::Run {
            self.pending = self.pending.saturating_sub(1);
        }
        if s.push.in_flight.is_some() {
            self.push_in_flight -= 1;
        }
        if s.fallback.moving {
            self.handback.moving -= 1;
        }
        let reason = match (&reason, self.balance_progress()) {
            (ReleaseReason::ClaimedElsewhere, Some((target, _, _))) if s.fallback.balancing => {
                ReleaseReason::Balanced(target.to_string())
            }
            _ => reason,
        };
        if s.fallback.balancing {
            self.balance_left(matches!(reason, ReleaseReason::Balanced(_)));
        }
        self.counters.released += 1;
        self.changes += 1;
        self.out
            .push_back(AdoptionOutput::Event(AdoptionEvent::Released {
                mac: s.view.mac,
                reason,
                grace,
            }));
    }
}

impl Adoption {
    fn enqueue_push(&mut self, addr: SocketAddr) {
        if let Some(s) = self.sessions.get_mut(&addr) {
            if !s.push.queued && s.push.in_flight.is_none() {
                s.push.queued = true;
                self.push_queue.push_back(addr);
            }
        }
    }

    /// Starts requests (fallback, reset, WLANs) for queued APs while fewer than the limit
    /// are outstanding.
    fn pump_wlans(&mut self, now: Instant) {
        self.admit_handbacks();
        while self.push_in_flight < self.settings.max_wlan_in_flight {
            let Some(addr) = self.push_queue.pop_front() else {
                return;
            };
            let Some(s) = self.sessions.get_mut(&addr) else {
                continue;
            };
            s.push.queued = false;
            if s.view.state != ApState::Run || s.push.in_flight.is_some() {
                continue;
            }
            let Some(step) = next_request(s, &self.settings, &self.handback, &self.wlans) else {
                continue;
            };
            s.push.seq = s.push.seq.wrapping_add(1);
            let seq = s.push.seq;
            let body = match &step {
                Request::Wlan(w) => MessageBody::WlanConfigurationRequest(w.request()),
                Request::Fallback { enabled, .. } => MessageBody::ConfigurationUpdateRequest(
                    self.handback
                        .update_request(*enabled, &self.settings.ac_name, &s.fallback),
                ),
                Request::Reset => MessageBody::ResetRequest(ResetRequest {
                    image_identifier: handback::current_image(&s.view),
                    vendor_specific: vec![],
                    other_elements: vec![],
                }),
                Request::Timers(t) => {
                    MessageBody::ConfigurationUpdateRequest(ConfigurationUpdateRequest {
                        timers: Some(t.capwap()),
                        vendor_specific: t.vendor_elements(),
                        ..ConfigurationUpdateRequest::default()
                    })
                }
                Request::Name(n) => {
                    MessageBody::ConfigurationUpdateRequest(ConfigurationUpdateRequest {
                        wtp_name: Some(WtpName(n.clone())),
                        ..ConfigurationUpdateRequest::default()
                    })
                }
            };
            let Some(datagram) = encode(seq, body) else {
                // A service the codec refuses (e.g. an SSID too long): never sendable.
                if let Request::Wlan(WlanStep::Add(w)) = &step {
                    s.push.refused.insert((w.radio_id, w.wlan_id), w.clone());
                    s.view.wlans_refused = s.push.refused.len();
                    self.counters.wlan_refused += 1;
                    s.push.queued = true;
                    self.push_queue.push_back(addr);
                }
                continue;
            };
            let (interval, _) = self.settings.retransmission(&s.timers);
            let due = now + interval;
            match &step {
                Request::Wlan(_) => self.counters.wlan_requests += 1,
                Request::Fallback { .. } => self.counters.handback_requests += 1,
                Request::Reset => self.counters.resets += 1,
                Request::Timers(_) => self.counters.timer_updates += 1,
                Request::Name(_) => self.counters.name_updates += 1,
            }
            s.push.in_flight = Some(InFlight {
                seq,
                step,
                datagram: datagram.clone(),
                retries: 0,
                due,
            });
            self.push_in_flight += 1;
            self.push_timers.push(Reverse((due, addr, seq)));
            self.out
                .push_back(AdoptionOutput::Control { to: addr, datagram });
        }
    }

    fn on_push_timer(&mut self, addr: SocketAddr, seq: u8, now: Instant) {
        let Some(s) = self.sessions.get_mut(&addr) else {
            return;
        };
        let (interval, max) = self.settings.retransmission(&s.timers);
        let Some(f) = s.push.in_flight.as_mut() else {
            return;
        };
        if f.seq != seq || f.due > now {
            return;
        }
        if f.retries >= max {
            let what = match f.step {
                Request::Wlan(_) => "WLAN Configuration Request retransmissions",
                Request::Fallback { .. } => "Configuration Update Request retransmissions",
                Request::Reset => "Reset Request retransmissions",
                Request::Timers(_) | Request::Name(_) => {
                    "Configuration Update Request retransmissions"
                }
            };
            self.release(addr, ReleaseReason::Timeout(what));
            return;
        }
        f.retries += 1;
        f.due = now + interval;
        if matches!(f.step, Request::Wlan(_)) {
            self.counters.wlan_retransmissions += 1;
        }
        self.push_timers.push(Reverse((f.due, addr, seq)));
        self.out.push_back(AdoptionOutput::Control {
            to: addr,
            datagram: f.datagram.clone(),
        });
    }

    /// The response to the AC's outstanding request.
    fn on_response(&mut self, from: SocketAddr, seq: u8, code: ResultCode, now: Instant) {
        let Some(s) = self.sessions.get_mut(&from) else {
            return;
        };
        if s.push.in_flight.as_ref().map(|f| f.seq) != Some(seq) {
            // A late duplicate, or a response to nothing: ignored (RFC 5415 4.5.1).
            self.counters.stale += 1;
            return;
        }
        let Some(f) = s.push.in_flight.take() else {
            return;
        };
        self.push_in_flight -= 1;
        match f.step {
            Request::Wlan(step) => self.on_wlan_response(from, step, code, now),
            Request::Fallback {
                enabled,
                generation,
            } => self.on_fallback_response(from, enabled, generation, code, now),
            Request::Reset => self.release(from, ReleaseReason::Reset),
            Request::Timers(t) => {
                // Told and taken: its dead interval follows the new timers from now on. A
                // refusal keeps the old ones (and is not offered again).
                if code.is_success() {
                    s.timers = t;
                    if s.view.state == ApState::Run {
                        let at = s.heard + t.dead_interval();
                        self.arm(from, at);
                    }
                } else {
                    s.timers_refused = Some(t);
                }
                self.requeue(from);
            }
            Request::Name(n) => {
                if code.is_success() {
                    s.view.name = n;
                    self.changes += 1;
                    let (ap, session_id) = (s.view.clone(), s.session_id);
                    self.out
                        .push_back(AdoptionOutput::Event(AdoptionEvent::Renamed {
                            ap,
                            session_id,
                        }));
                } else {
                    s.name_refused = Some(n);
                }
                self.requeue(from);
            }
        }
    }

    fn on_wlan_response(
        &mut self,
        from: SocketAddr,
        step: WlanStep,
        code: ResultCode,
        now: Instant,
    ) {
        let Some(s) = self.sessions.get_mut(&from) else {
            return;
        };
        let key = step.key();
        self.last_wlan_response = Some(now);
        if code.is_success() {
            self.counters.wlan_confirmed += 1;
        }
        match (step, code.is_success()) {
            (WlanStep::Add(w), true) => {
                s.push.refused.remove(&key);
                s.push.applied.insert(key, w);
            }
            (WlanStep::Delete { .. }, true) => {
                s.push.applied.remove(&key);
            }
            (WlanStep::Add(w), false) => {
                self.counters.wlan_refused += 1;
                s.push.refused.insert(key, w);
            }
            (WlanStep::Delete { .. }, false) => {
                // The AP would not delete it: count it as gone (an AP that keeps a WLAN it
                // was told to drop is the AP's fault, and retrying would loop).
                self.counters.wlan_refused += 1;
                s.push.applied.remove(&key);
            }
        }
        let desired = self.wlans.for_profile(&s.view.profile);
        if wlan::next_step(&s.push.applied, &s.push.refused, desired).is_none() {
            s.view.wlans = s.push.applied.len();
            s.view.wlans_refused = s
                .push
                .refused
                .keys()
                .filter(|k| desired.iter().any(|w| (w.radio_id, w.wlan_id) == **k))
                .count();
            self.changes += 1;
            self.out
                .push_back(AdoptionOutput::Event(AdoptionEvent::WlansApplied {
                    ap: s.view.clone(),
                }));
        }
        self.requeue(from);
    }

    /// Queues the AP again if it has another request due.
    fn requeue(&mut self, addr: SocketAddr) {
        let Some(s) = self.sessions.get_mut(&addr) else {
            return;
        };
        if !s.push.queued
            && s.push.in_flight.is_none()
            && next_request(s, &self.settings, &self.handback, &self.wlans).is_some()
        {
            s.push.queued = true;
            self.push_queue.push_back(addr);
        }
    }
}

/// The next request the AC owes an AP in Run: a reset it is due, then where it falls back to,
/// then its WLANs (an AP about to move gets no WLAN work first).
fn next_request(
    s: &Session,
    settings: &AcSettings,
    handback: &handback::Handback,
    wlans: &WlanPlan,
) -> Option<Request> {
    if let Some(r) = handback.next_request(&s.fallback) {
        return Some(r);
    }
    let timers = settings.timers_for(&s.view.profile, s.fast);
    if timers != s.timers && s.timers_refused != Some(timers) {
        return Some(Request::Timers(timers));
    }
    if let Some(name) = settings.ap_names.get(&s.view.mac) {
        if *name != s.view.name && s.name_refused.as_ref() != Some(name) {
            return Some(Request::Name(name.clone()));
        }
    }
    let desired = wlans.for_profile(&s.view.profile);
    wlan::next_step(&s.push.applied, &s.push.refused, desired).map(Request::Wlan)
}

/// The AP's MAC: the Board Data's base MAC (EUI-48).
fn wtp_mac(req: &JoinRequest) -> Option<Mac> {
    match req.board_data.base_mac? {
        roost_capwap::MacAddress::Eui48(b) => Some(Mac(b)),
        _ => None,
    }
}

fn whole_seconds(d: Duration) -> u8 {
    d.as_secs_f64().ceil().clamp(1.0, 255.0) as u8
}

fn encode(seq: u8, body: MessageBody) -> Option<Vec<u8>> {
    ControlPacket::new(ControlMessage::new(seq, body))
        .encode()
        .ok()
}

#[cfg(test)]
mod tests;
