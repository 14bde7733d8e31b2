//! A fleet of simulated APs in one process: what `roost ap` runs.
//!
//! One tokio task owns every [`Wtp`] and two UDP sockets bound to `0.0.0.0` (control, with
//! DSCP CS6; data), whatever the fleet's size. Each AP has its own loopback address
//! (`base_ip + i`); a datagram goes out from it (IP_PKTINFO) and comes back to it, and the
//! destination address of what arrives says which AP it is for (`address − base_ip`), so
//! routing costs a subtraction. The sockets get large buffers (SO_RCVBUFFORCE when
//! privileged, else up to `net.core.rmem_max`).
//!
//! Time: a binary heap of the APs' next deadlines (each AP's `poll_timeout`, pushed when it
//! moves earlier, stale entries skipped when popped) drives `handle_timeout`, at millisecond
//! resolution. What arrived is read before the timers due now fire (up to
//! [`RECEIVED_FIRST`] datagrams per socket): a real AP has a CPU of its own, so a reply that
//! sits in this process's socket buffer while the fleet is busy arrived in time, and must not
//! count as a lost controller. Starts are paced ([`FleetConfig::start_rate`] APs a second, evenly spread):
//! a synchronized start of 25,600 APs would be 25,600 Discovery Requests in one burst, more
//! than a default UDP buffer holds, and every lost datagram costs a retransmission. The loop
//! takes at most [`BATCH`] datagrams or timers in a row before looking at the rest, so that
//! neither starves the other.

mod mix;
mod net;
mod stats;

pub use mix::{ModelError, ModelMix, ModelShare};
pub use stats::{Percentiles, Progress, ReadoptSpan, Refused, Summary, Traffic, WlanChanges};

use crate::controllers::{display_ac, ControllerList};
use crate::identity::DEFAULT_SOFTWARE_VERSION;
use crate::settings::WtpSettings;
use crate::wtp::{Event, Output, State, Wtp};
use crate::WtpError;
use mix::Identities;
use net::Channel;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Most datagrams (or timers, or starts) handled in a row before the loop looks elsewhere.
pub const BATCH: usize = 512;
/// Datagrams read from each socket before the due timers fire, at most (then the timers run
/// anyway, so that a receive storm cannot stop them).
pub const RECEIVED_FIRST: usize = 8 * BATCH;

/// How often [`Progress`] is published.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// What a fleet is.
#[derive(Clone, Debug)]
pub struct FleetConfig {
    pub count: usize,
    pub controllers: ControllerList,
    pub models: ModelMix,
    /// The first AP's address; AP `i` is `base_ip + i`, all inside 127.0.0.0/8.
    pub base_ip: Ipv4Addr,
    /// Makes MACs, serials and session ids reproducible.
    pub seed: u64,
    /// APs started per second (evenly spread).
    pub start_rate: u32,
    /// Every AP's CAPWAP settings.
    pub settings: WtpSettings,
    pub software_version: String,
    /// Receive and send buffer asked for each socket, bytes.
    pub socket_buffer: usize,
}

impl FleetConfig {
    /// `count` AP7532s from 127.20.0.1 with the RFC's timers, started 10,000 a second.
    pub fn new(count: usize, controllers: ControllerList) -> FleetConfig {
        FleetConfig {
            count,
            controllers,
            models: ModelMix::new(Vec::new()).unwrap_or_else(|_| unreachable!()),
            base_ip: Ipv4Addr::new(127, 20, 0, 1),
            seed: 0,
            start_rate: 10_000,
            settings: WtpSettings::default(),
            software_version: DEFAULT_SOFTWARE_VERSION.to_owned(),
            socket_buffer: 64 << 20,
        }
    }
}

/// Why a fleet did not start; the Display text is the user's line.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("--count must be at least 1")]
    NoAps,
    #[error("--count {count} from --base-ip {base}: the APs' addresses must stay inside the loopback range 127.0.0.0/8")]
    OutsideLoopback { base: Ipv4Addr, count: usize },
    #[error("--start-rate must be at least 1 AP a second")]
    NoStartRate,
    #[error("cannot open the fleet's {what} socket: {source}")]
    Socket {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("AP {index}: {source}")]
    Identity { index: usize, source: WtpError },
    #[error("the fleet's task failed: {0}")]
    Task(String),
}

/// A running fleet. Dropping it stops the fleet too, without a summary.
pub struct Fleet {
    stop: watch::Sender<bool>,
    progress: watch::Receiver<Progress>,
    task: tokio::task::JoinHandle<Result<Summary, FleetError>>,
    control_port: u16,
    data_port: u16,
}

impl Fleet {
    /// Opens the sockets and starts the fleet's task on the current tokio runtime.
    pub fn start(config: FleetConfig) -> Result<Fleet, FleetError> {
        if config.count == 0 {
            return Err(FleetError::NoAps);
        }
        if config.start_rate == 0 {
            return Err(FleetError::NoStartRate);
        }
        let first = u32::from(config.base_ip);
        let last = first.checked_add(config.count as u32 - 1);
        let in_loopback = |a: u32| Ipv4Addr::from(a).octets()[0] == 127;
        if config.count > 1 << 24 || !in_loopback(first) || !last.is_some_and(in_loopback) {
            return Err(FleetError::OutsideLoopback {
                base: config.base_ip,
                count: config.count,
            });
        }
        let socket = |what, tos| {
            Channel::bind(0, config.socket_buffer, tos)
                .map_err(|source| FleetError::Socket { what, source })
        };
        let control = socket("control", Some(roost_capwap::TOS_CS6))?;
        let data = socket("data", None)?;
        let port = |c: &Channel, what| {
            c.local_port()
                .map_err(|source| FleetError::Socket { what, source })
        };
        let (control_port, data_port) = (port(&control, "control")?, port(&data, "data")?);
        let (stop, stop_rx) = watch::channel(false);
        let (progress_tx, progress) = watch::channel(Progress::default());
        let driver = Driver::new(config, control.recv_buffer.min(data.recv_buffer));
        let task = tokio::spawn(driver.run(control, data, stop_rx, progress_tx));
        Ok(Fleet {
            stop,
            progress,
            task,
            control_port,
            data_port,
        })
    }

    /// The latest progress.
    pub fn progress(&self) -> Progress {
        self.progress.borrow().clone()
    }

    /// A receiver of every progress update.
    pub fn subscribe(&self) -> watch::Receiver<Progress> {
        self.progress.clone()
    }

    /// The local UDP ports of the control and data sockets.
    pub fn ports(&self) -> (u16, u16) {
        (self.control_port, self.data_port)
    }

    /// Stops every AP (they send nothing more; no goodbye exists in CAPWAP) and returns the
    /// summary. The sockets are closed.
    pub async fn stop(self) -> Result<Summary, FleetError> {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(FleetError::Task(e.to_string())),
        }
    }
}

/// One AP and what the fleet tracks about it.
struct Ap {
    wtp: Wtp,
    ip: Ipv4Addr,
    /// The earliest heap entry for it still in the heap.
    scheduled: Option<Instant>,
    adopted: bool,
    run_on: Option<SocketAddr>,
    lost_at: Option<Instant>,
    fallback_at: Option<Instant>,
    /// Fallbacks it made (a balancing move, a handback).
    fallbacks: u32,
    refusal: Option<(u32, String)>,
}

fn state_index(s: State) -> usize {
    State::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

struct Driver {
    config: FleetConfig,
    start: Instant,
    ids: Identities,
    aps: Vec<Ap>,
    heap: BinaryHeap<Reverse<(Instant, u32)>>,
    states: [usize; State::ALL.len()],
    run_per: HashMap<SocketAddr, usize>,
    adopt: Vec<Duration>,
    readopt: Vec<Duration>,
    start_delays: Vec<Duration>,
    /// Over every re-adoption: the first loss noticed, the first Join after a loss, the last
    /// Run after one.
    readopt_span: [Option<Instant>; 3],
    fallback: Vec<Duration>,
    refusals: u64,
    losses: u64,
    join_failures: u64,
    fallbacks: u64,
    resets: u64,
    wlan: WlanChanges,
    send_errors: u64,
    unroutable: u64,
    base: u32,
    recv_buffer: usize,
    identity_error: Option<FleetError>,
}

impl Driver {
    fn new(config: FleetConfig, recv_buffer: usize) -> Driver {
        let ids = Identities::new(
            config.seed,
            &config.models,
            config.count,
            config.base_ip,
            &config.software_version,
        );
        Driver {
            start: Instant::now(),
            ids,
            aps: Vec::with_capacity(config.count),
            heap: BinaryHeap::new(),
            states: [0; State::ALL.len()],
            run_per: HashMap::new(),
            adopt: Vec::new(),
            readopt: Vec::new(),
            start_delays: Vec::new(),
            readopt_span: [None; 3],
            fallback: Vec::new(),
            refusals: 0,
            losses: 0,
            join_failures: 0,
            fallbacks: 0,
            resets: 0,
            wlan: WlanChanges::default(),
            send_errors: 0,
            unroutable: 0,
            base: u32::from(config.base_ip),
            recv_buffer,
            identity_error: None,
            config,
        }
    }

    async fn run(
        mut self,
        control: Channel,
        data: Channel,
        mut stop: watch::Receiver<bool>,
        progress: watch::Sender<Progress>,
    ) -> Result<Summary, FleetError> {
        self.start = Instant::now();
        let mut buf = vec![0u8; 65_536];
        let mut cmsg = nix::cmsg_space!(libc::in_pktinfo, u32);
        let mut next_progress = self.start;
        loop {
            for _ in 0..RECEIVED_FIRST / BATCH {
                let c = self.drain(true, &control, &data, &mut buf, &mut cmsg);
                let d = self.drain(false, &control, &data, &mut buf, &mut cmsg);
                if c < BATCH && d < BATCH {
                    break;
                }
            }
            let now = Instant::now();
            self.start_due(now, &control, &data);
            self.fire_due(now, &control, &data);
            if let Some(e) = self.identity_error.take() {
                return Err(e);
            }
            if now >= next_progress {
                let _ = progress.send(self.progress(now));
                next_progress = now + PROGRESS_INTERVAL;
            }
            let mut wake = next_progress;
            if let Some(Reverse((t, _))) = self.heap.peek() {
                wake = wake.min(*t);
            }
            if let Some(t) = self.next_start() {
                wake = wake.min(t);
            }
            tokio::select! {
                biased;
                _ = stop.changed() => break,
                // Read at the top of the loop, before the timers.
                _ = control.readable() => {}
                _ = data.readable() => {}
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
        }
        let now = Instant::now();
        let _ = progress.send(self.progress(now));
        let mut summary = self.summary(now);
        summary.traffic.kernel_drops = [&control, &data]
            .map(|c| u64::from(c.kernel_drops.load(Ordering::Relaxed)))
            .iter()
            .sum();
        Ok(summary)
    }

    /// Reads up to [`BATCH`] datagrams and says how many it read. (Readiness is cleared only
    /// by a receive that would block, so a socket left with datagrams is readable again on
    /// the next turn.)
    fn drain(
        &mut self,
        is_control: bool,
        control: &Channel,
        data: &Channel,
        buf: &mut [u8],
        cmsg: &mut Vec<u8>,
    ) -> usize {
        let chan = if is_control { control } else { data };
        for n in 0..BATCH {
            let r = match chan.try_recv(buf, cmsg) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return n,
                Err(_) => continue,
            };
            let index = u32::from(r.to).wrapping_sub(self.base) as usize;
            if index >= self.aps.len() {
                self.unroutable += 1;
                continue;
            }
            let now = Instant::now();
            let bytes = &buf[..r.len];
            let ap = &mut self.aps[index];
            let _ = if is_control {
                ap.wtp.handle_control(r.from, bytes, now)
            } else {
                ap.wtp.handle_data(r.from, bytes, now)
            };
            self.flush(index, now, control, data);
        }
        BATCH
    }

    fn start_at(&self, i: usize) -> Instant {
        self.start + Duration::from_secs_f64(i as f64 / f64::from(self.config.start_rate))
    }

    fn next_start(&self) -> Option<Instant> {
        (self.aps.len() < self.config.count).then(|| self.start_at(self.aps.len()))
    }

    fn start_due(&mut self, now: Instant, control: &Channel, data: &Channel) {
        for _ in 0..BATCH {
            let i = self.aps.len();
            if i >= self.config.count || self.start_at(i) > now {
                return;
            }
            let (identity, seed) = self.ids.next(i);
            let ip = identity.ip;
            let wtp = match Wtp::new(
                identity,
                self.config.controllers.clone(),
                self.config.settings.clone(),
                seed,
                now,
            ) {
                Ok(w) => w,
                Err(source) => {
                    self.identity_error = Some(FleetError::Identity { index: i, source });
                    return;
                }
            };
            self.states[state_index(State::Idle)] += 1;
            self.aps.push(Ap {
                wtp,
                ip,
                scheduled: None,
                adopted: false,
                run_on: None,
                lost_at: None,
                fallback_at: None,
                fallbacks: 0,
                refusal: None,
            });
            self.flush(i, now, control, data);
        }
    }

    fn fire_due(&mut self, now: Instant, control: &Channel, data: &Channel) {
        for _ in 0..BATCH {
            let Some(Reverse((t, i))) = self.heap.peek().copied() else {
                return;
            };
            if t > now {
                return;
            }
            self.heap.pop();
            let i = i as usize;
            if self.aps[i].scheduled != Some(t) {
                continue;
            }
            self.aps[i].scheduled = None;
            self.aps[i].wtp.handle_timeout(now);
            self.flush(i, now, control, data);
        }
    }

    /// Sends what AP `i` queued, counts its events, and schedules its next deadline.
    fn flush(&mut self, i: usize, now: Instant, control: &Channel, data: &Channel) {
        while let Some(o) = self.aps[i].wtp.poll_output() {
            let ip = self.aps[i].ip;
            match o {
                Output::Control { to, bytes } => {
                    if control.send_from(ip, to, &bytes).is_err() {
                        self.send_errors += 1;
                    }
                }
                Output::Data { to, bytes } => {
                    if data.send_from(ip, to, &bytes).is_err() {
                        self.send_errors += 1;
                    }
                }
                Output::Event(e) => self.on_event(i, e, now),
            }
        }
        let ap = &mut self.aps[i];
        if let Some(d) = ap.wtp.poll_timeout() {
            if ap.scheduled.is_none_or(|s| d < s) {
                ap.scheduled = Some(d);
                self.heap.push(Reverse((d, i as u32)));
            }
        }
    }

    fn on_event(&mut self, i: usize, e: Event, now: Instant) {
        let ap = &mut self.aps[i];
        match e {
            Event::StateChanged { from, to } => {
                self.states[state_index(from)] -= 1;
                self.states[state_index(to)] += 1;
                if to == State::Join && ap.lost_at.is_some() {
                    self.readopt_span[1].get_or_insert(now);
                }
                if from == State::Run {
                    if let Some(ac) = ap.run_on.take() {
                        if let Some(n) = self.run_per.get_mut(&ac) {
                            *n -= 1;
                        }
                    }
                }
            }
            Event::Adopted { ac, .. } => {
                *self.run_per.entry(ac).or_default() += 1;
                ap.run_on = Some(ac);
                ap.refusal = None;
                if !std::mem::replace(&mut ap.adopted, true) {
                    self.adopt.push(now - self.start);
                }
                if let Some(t) = ap.lost_at.take() {
                    self.readopt.push(now.saturating_duration_since(t));
                    self.readopt_span[2] = Some(now);
                }
                if let Some(t) = ap.fallback_at.take() {
                    self.fallback.push(now.saturating_duration_since(t));
                }
            }
            Event::AcLost { detected_at, .. } => {
                self.losses += 1;
                ap.fallback_at = None;
                ap.lost_at.get_or_insert(detected_at);
                let first = &mut self.readopt_span[0];
                *first = Some(first.map_or(detected_at, |t| t.min(detected_at)));
            }
            Event::Refused { code, reason, .. } => {
                self.refusals += 1;
                ap.refusal = Some((code.to_raw(), reason));
            }
            Event::JoinFailed { .. } => self.join_failures += 1,
            Event::FallingBack { .. } => {
                self.fallbacks += 1;
                ap.fallbacks += 1;
                ap.fallback_at = Some(now);
            }
            Event::StartDelayed { delay } => self.start_delays.push(delay),
            Event::Reset { .. } => {
                self.resets += 1;
                ap.lost_at = None;
                ap.fallback_at = None;
            }
            Event::WlanAdded { .. } => self.wlan.added += 1,
            Event::WlanUpdated { .. } => self.wlan.updated += 1,
            Event::WlanDeleted { .. } => self.wlan.deleted += 1,
        }
    }

    fn run_per_controller(&self) -> BTreeMap<String, usize> {
        self.run_per
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(ac, n)| (display_ac(*ac), *n))
            .collect()
    }

    fn progress(&self, now: Instant) -> Progress {
        let n = |s| self.states[state_index(s)];
        Progress {
            elapsed_s: (now - self.start).as_secs_f64(),
            aps: self.config.count,
            started: self.aps.len(),
            idle: n(State::Idle),
            discovering: n(State::Discovery),
            sulking: n(State::Sulking),
            joining: n(State::Join),
            configuring: n(State::Configure) + n(State::DataCheck),
            run: n(State::Run),
            run_per_controller: self.run_per_controller(),
            adopted: self.adopt.len(),
            refusals: self.refusals,
            losses: self.losses,
            dropped: self.aps.iter().map(|a| a.wtp.counters().dropped()).sum(),
        }
    }

    fn summary(&self, now: Instant) -> Summary {
        let mut models = BTreeMap::new();
        let mut wlans: BTreeMap<String, usize> = BTreeMap::new();
        let mut refused: BTreeMap<(u32, String), usize> = BTreeMap::new();
        let mut c = crate::WtpCounters::default();
        for ap in &self.aps {
            *models.entry(ap.wtp.identity().model.clone()).or_insert(0) += 1;
            let mut ssids: Vec<String> = ap
                .wtp
                .wlans()
                .iter()
                .map(|w| String::from_utf8_lossy(&w.ssid).into_owned())
                .collect();
            ssids.sort();
            ssids.dedup();
            for s in ssids {
                *wlans.entry(s).or_insert(0) += 1;
            }
            if ap.wtp.state() != State::Run {
                if let Some(r) = &ap.refusal {
                    *refused.entry(r.clone()).or_insert(0) += 1;
                }
            }
            c.add(ap.wtp.counters());
        }
        Summary {
            aps: self.config.count,
            started: self.aps.len(),
            seed: self.config.seed,
            duration_s: (now - self.start).as_secs_f64(),
            controller_list: self.config.controllers.to_string(),
            models,
            adopted: self.adopt.len(),
            in_run: self.states[state_index(State::Run)],
            run_per_controller: self.run_per_controller(),
            refused: refused
                .into_iter()
                .map(|((code, reason), aps)| Refused { code, reason, aps })
                .collect(),
            refusals: self.refusals,
            join_failures: self.join_failures,
            losses: self.losses,
            fallbacks: self.fallbacks,
            fallbacks_max_per_ap: self.aps.iter().map(|a| a.fallbacks).max().unwrap_or(0),
            resets: self.resets,
            time_to_adopt: Percentiles::of(&self.adopt),
            time_to_readopt: Percentiles::of(&self.readopt),
            start_delays: Percentiles::of(&self.start_delays),
            readopt_span_ms: {
                // Instants as Unix-epoch milliseconds, so that a script can set them against
                // its own clock (a kill's time).
                let wall = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64()
                    * 1000.0;
                let epoch = |t: Option<Instant>| {
                    t.map(|t| wall - now.saturating_duration_since(t).as_secs_f64() * 1000.0)
                };
                ReadoptSpan {
                    first_loss_epoch_ms: epoch(self.readopt_span[0]),
                    first_join_epoch_ms: epoch(self.readopt_span[1]),
                    last_run_epoch_ms: epoch(self.readopt_span[2]),
                }
            },
            time_to_fall_back: Percentiles::of(&self.fallback),
            wlans,
            wlan_changes: self.wlan.clone(),
            traffic: Traffic {
                control_sent: c.control_sent,
                control_received: c.control_received,
                data_sent: c.data_sent,
                data_received: c.data_received,
                retransmits: c.retransmits,
                malformed: c.malformed,
                unexpected: c.unexpected,
                duplicates: c.duplicates,
                stale: c.stale,
                send_errors: self.send_errors,
                unroutable: self.unroutable,
                kernel_drops: 0,
            },
            receive_buffer: self.recv_buffer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_addresses_outside_loopback_and_empty_fleets() {
        let list = ControllerList::pool1(["127.0.0.1:5246".parse().unwrap()]);
        let mut c = FleetConfig::new(10, list);
        c.base_ip = Ipv4Addr::new(127, 255, 255, 250);
        assert_eq!(
            Fleet::start(c.clone()).err().unwrap().to_string(),
            "--count 10 from --base-ip 127.255.255.250: the APs' addresses must stay inside the loopback range 127.0.0.0/8"
        );
        c.base_ip = Ipv4Addr::new(10, 0, 0, 1);
        assert!(matches!(
            Fleet::start(c.clone()),
            Err(FleetError::OutsideLoopback { .. })
        ));
        c.count = 0;
        assert_eq!(
            Fleet::start(c).err().unwrap().to_string(),
            "--count must be at least 1"
        );
    }

    #[tokio::test]
    async fn the_control_socket_marks_cs6() {
        let c = Channel::bind(0, 1 << 20, Some(roost_capwap::TOS_CS6)).unwrap();
        assert_eq!(c.tos().unwrap(), 0xC0);
        assert!(c.recv_buffer > 0);
    }
}
