//! The adoption thread: CAPWAP on UDP 5246 (control, DSCP CS6) and 5247 (data) around the
//! sans-IO AC core (`roost_adoption::Adoption`). It has a thread and a runtime of its own, so
//! that thousands of AP sessions never queue in front of the member thread's hellos; it meets
//! the member task only through the published snapshot (the cluster's view: who is active, the
//! license pool) and one request (how many APs it holds, which the member's hellos carry).
//! Like the member task it decides nothing: admission is `roost_adoption::placement`.

use crate::member::MemberHandle;
use crate::options::ControllerOptions;
use roost_adoption::directory::{Directory, DirectoryOutput};
use roost_adoption::placement::{admission, fallback_targets, handing_back, PoolMember};
use roost_adoption::wlan::{Cipher, KeyManagement, WlanPlan, WlanService};
use roost_adoption::{
    AcSettings, Adoption, AdoptionEvent, AdoptionOutput, ApState, ApView, ReleaseReason,
};
use roost_capwap::vendor::FastTimers;
use roost_config::{AdoptionHistoryEntry, AdoptionStats, ApRow, ApTable, MemberSnapshot};
use roost_wire::Mac;
use roost_wire::MemberId;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::watch;

use crate::udp_batch::{self, Receiver, Sender};

/// How often the AP table is republished at most when it changed (25,600 rows are not rebuilt
/// per datagram).
const PUBLISH_INTERVAL: Duration = Duration::from_millis(200);
/// The APs this member holds are saved at most this often (a crash loses at most this much:
/// an AP adopted since is not held back for at the next boot).
const OWN_APS_INTERVAL: Duration = Duration::from_secs(1);
/// How often it is republished when nothing but the uptimes moved: publishing costs what
/// changed, and a steady table of 25,600 APs is not rebuilt five times a second.
const UPTIME_REFRESH: Duration = Duration::from_secs(5);
/// The AP counts go to the member task (for its hellos) at most this often: an adoption storm
/// must not become a storm of settings changes on the member thread.
const COUNTS_INTERVAL: Duration = Duration::from_millis(100);
/// Datagrams read from a socket per wake-up (then the outputs go out and timers run).
const BATCH: usize = 256;
/// Refused APs kept for `show wireless ap` (the most recent, one row per MAC).
const REFUSED_KEPT: usize = 1024;
/// AP table messages from other members queued for this thread at most (beyond: dropped,
/// and the table's digests repair the gap).
const TABLE_QUEUE: usize = 16_384;

/// The CAPWAP sockets' receive buffers (see [`large_buffers`]).
const CAPWAP_RECEIVE_BUFFER: usize = 64 << 20;

/// Roost's failure-detection timers for Roost WTPs (the RFC's apply to any other). A member
/// that dies is noticed by the cluster in a fraction of a second, and its APs are told so
/// (`Adoption::handle_member_lost`): they probe at once, so the echo interval only bounds
/// what the cluster cannot see (a path from one AP to its controller that breaks). At 5 s
/// an echo costs the controller a fifth of what it did at 1 s, and three retransmissions
/// (0.3, 0.6, 1.2, 2.4 s) keep an AP on a controller that is slow for a few seconds (a
/// burst of thousands of Joins, a flood), which one retransmission did not.
pub const FAST_TIMERS: FastTimers = fast_timers(
    roost_config::ApTimerSettings::DEFAULT
        .fast
        .expect("Roost's default profile timers include fast timers"),
);

const fn fast_timers(f: roost_config::FastTimerSettings) -> FastTimers {
    FastTimers {
        echo_interval: Duration::from_millis(f.echo_ms as u64),
        retransmit_interval: Duration::from_millis(f.retransmit_ms as u64),
        max_retransmit: f.count,
    }
}

/// A profile's `capwap` timers, as the adoption core sends them.
fn ap_timers(t: &roost_config::ApTimerSettings) -> roost_adoption::ApTimers {
    roost_adoption::ApTimers {
        echo_interval: Duration::from_secs(t.echo_secs.into()),
        discovery_interval: Duration::from_secs(t.discovery_secs.into()),
        fast_timers: t.fast.map(fast_timers),
    }
}

/// What a configuration says each AP model carries (`ClusterConfig::ap_wlans`).
type WlansByModel = BTreeMap<String, Vec<roost_config::ApWlan>>;

/// The faces' handle: the latest AP table.
#[derive(Clone)]
pub struct WirelessHandle {
    table: watch::Receiver<Arc<ApTable>>,
    pub control_addr: SocketAddr,
    pub data_addr: SocketAddr,
}

impl WirelessHandle {
    pub fn table(&self) -> Arc<ApTable> {
        self.table.borrow().clone()
    }
}

/// Binds the CAPWAP sockets on `opts.ip` and starts the adoption thread.
pub fn start(
    member: Arc<MemberHandle>,
    opts: &ControllerOptions,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<WirelessHandle> {
    let IpAddr::V4(ip) = opts.ip else {
        return Err(std::io::Error::other("CAPWAP needs an IPv4 --ip"));
    };
    let control = std::net::UdpSocket::bind(SocketAddr::new(opts.ip, opts.capwap_port))?;
    let data_port = if opts.capwap_port == 0 {
        0
    } else {
        opts.capwap_port + 1
    };
    let data = std::net::UdpSocket::bind(SocketAddr::new(opts.ip, data_port))?;
    control.set_nonblocking(true)?;
    data.set_nonblocking(true)?;
    large_buffers(&control, CAPWAP_RECEIVE_BUFFER);
    large_buffers(&data, CAPWAP_RECEIVE_BUFFER);
    let control_addr = control.local_addr()?;
    let data_addr = data.local_addr()?;
    let (tx, rx) = watch::channel(Arc::new(ApTable::default()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (control, data) = {
        let _on = runtime.enter();
        let control = UdpSocket::from_std(control)?;
        // DSCP CS6 on control packets (RFC 5415 4.5.2.1).
        let _ = control.set_tos_v4(u32::from(roost_capwap::TOS_CS6));
        (control, UdpSocket::from_std(data)?)
    };
    let member_port = opts.member_port;
    std::thread::Builder::new()
        .name("roost-capwap".into())
        .spawn(move || {
            runtime.block_on(run(member, ip, member_port, control, data, tx, shutdown));
        })?;
    Ok(WirelessHandle {
        table: rx,
        control_addr,
        data_addr,
    })
}

/// Receive buffers for an adoption storm (25,600 APs joining at once): SO_RCVBUFFORCE where
/// allowed (root, CAP_NET_ADMIN), else as much as `net.core.rmem_max` allows.
pub(crate) fn large_buffers(s: &impl std::os::fd::AsFd, receive: usize) {
    use nix::sys::socket::{setsockopt, sockopt};
    const SEND: usize = 8 << 20;
    if setsockopt(s, sockopt::RcvBufForce, &receive).is_err() {
        let _ = setsockopt(s, sockopt::RcvBuf, &receive);
    }
    let _ = setsockopt(s, sockopt::SndBuf, &SEND);
}

struct Task {
    member: Arc<MemberHandle>,
    core: Adoption,
    started: std::time::Instant,
    control: UdpSocket,
    data: UdpSocket,
    /// Datagrams read and queued to send, a system call per batch.
    rx: Receiver,
    control_out: Sender,
    data_out: Sender,
    tx: watch::Sender<Arc<ApTable>>,
    /// Refused APs, most recent last.
    refused: Vec<Arc<ApRow>>,
    /// This member's APs as the faces show them, sorted (hostname, MAC), each row rebuilt
    /// only when its AP joined, reached Run or left (and all of them every
    /// [`UPTIME_REFRESH`], for the uptimes): a republished table shares the rows.
    own_rows: BTreeMap<(String, Mac), Arc<ApRow>>,
    /// Each own row's key in `own_rows`.
    own_keys: HashMap<Mac, String>,
    /// APs whose rows are due for a rebuild.
    dirty: HashSet<Mac>,
    /// When `own_rows` was last rebuilt whole (None: due now).
    own_full_at: Option<std::time::Instant>,
    published: Option<(u64, std::time::Instant)>,
    hostname: String,
    counts: (u32, u32),
    counts_sent: std::time::Instant,
    /// The cluster-wide AP table (this member's rows and its copies of the others').
    directory: Directory,
    /// The members' view from the last snapshot, for admission when the table moves.
    members: Vec<PoolMember>,
    me_active: bool,
    capacity: u32,
    hostnames: HashMap<MemberId, String>,
    /// Every member's platform capacity (its device section's model), for load balancing.
    capacities: HashMap<MemberId, u32>,
    /// `cluster ap-balance` in this member's device section (None: off).
    balance: Option<roost_adoption::balance::BalanceSettings>,
    /// The cluster's balancing move as this member's view computes it now.
    balance_plan: Option<roost_adoption::balance::Move>,
    /// This member's part of it: move (to, count).
    balance_order: Option<(MemberId, u32)>,
    /// The member whose APs join here on its licenses because it balances to this one, when
    /// admission was last computed.
    admitted_balance_from: Option<MemberId>,
    /// The other members' rows for the faces: (`directory.grace_changes()`, built at, rows).
    others: Option<(u64, std::time::Instant, Vec<Arc<ApRow>>)>,
    /// The members' view (self's own AP counts left out) when admission was last computed.
    admitted_view: Option<(bool, u32, Vec<PoolMember>)>,
    /// `directory.grace_changes()` when admission was last computed.
    admitted_at: Option<u64>,
    /// The configuration the WLAN plan was made from, and what it said per model.
    wlan_source: Option<(Arc<roost_config::ClusterConfig>, WlansByModel)>,
    /// Each WLAN's group key, chosen once per (WLAN, cipher) so that a commit that does not
    /// touch a WLAN does not re-key it.
    group_keys: HashMap<(String, Cipher), Vec<u8>>,
    /// `show adoption history`, newest first, and its published copy (None: stale).
    history: VecDeque<AdoptionHistoryEntry>,
    history_shown: Option<Arc<Vec<AdoptionHistoryEntry>>>,
    /// `directory.own_changes()` last saved, and when.
    own_saved: Option<(u64, std::time::Instant)>,
    own_saving: Option<tokio::task::JoinHandle<()>>,
}

async fn run(
    member: Arc<MemberHandle>,
    ip: Ipv4Addr,
    _member_port: u16,
    control: UdpSocket,
    data: UdpSocket,
    tx: watch::Sender<Arc<ApTable>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut snapshots = member.subscribe();
    let mut settings = AcSettings::new("", ip);
    settings.fast_timers = Some(FAST_TIMERS);
    settings.software_version = crate::member::software_version();
    let (table_tx, mut table_rx) = tokio::sync::mpsc::channel(TABLE_QUEUE);
    member.set_aps_sink(table_tx);
    let mut directory = Directory::new(member.id, member.boot);
    // What the previous boot held: those licenses stay reserved for those APs until each is
    // accounted for (the survivors licensed them from this member's grace share).
    // The hold lasts the licensing grace period in force at this boot (from now: the task's
    // clock starts below).
    let grace = member
        .running
        .read()
        .map_or(Duration::ZERO, |c| c.license_grace_period());
    match member.store.own_aps() {
        Ok(aps) => directory.handle_previous_boot(
            aps.into_iter()
                .map(|(mac, thin)| (mac, roost_adoption::placement::LicenseKind::of_thin(thin))),
            grace,
        ),
        Err(e) => tracing::error!("cannot read the APs the previous boot held: {e}"),
    }
    let mut t = Task {
        member,
        core: Adoption::new(settings),
        started: std::time::Instant::now(),
        control,
        data,
        rx: Receiver::default(),
        control_out: Sender::default(),
        data_out: Sender::default(),
        tx,
        refused: Vec::new(),
        published: None,
        hostname: String::new(),
        counts: (0, 0),
        counts_sent: std::time::Instant::now(),
        directory,
        members: Vec::new(),
        me_active: false,
        capacity: 0,
        hostnames: HashMap::new(),
        capacities: HashMap::new(),
        balance: None,
        balance_plan: None,
        balance_order: None,
        admitted_balance_from: None,
        admitted_at: None,
        admitted_view: None,
        others: None,
        own_rows: BTreeMap::new(),
        own_keys: HashMap::new(),
        dirty: HashSet::new(),
        own_full_at: None,
        wlan_source: None,
        group_keys: HashMap::new(),
        history: VecDeque::new(),
        history_shown: None,
        own_saved: None,
        own_saving: None,
    };
    let snap = t.member.snapshot();
    t.on_snapshot(&snap);
    let mut tick = tokio::time::interval(PUBLISH_INTERVAL);
    loop {
        let wake = [t.core.poll_timeout(), t.directory.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .map(|at| t.started + at)
            .unwrap_or_else(|| std::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            r = t.control.readable() => {
                if r.is_ok() {
                    let now = t.now();
                    // What is queued, without a wake-up each (an adoption storm).
                    let core = &mut t.core;
                    t.rx.drain(&t.control, BATCH, |from, d| core.handle_control(from, d, now));
                }
            }
            r = t.data.readable() => {
                if r.is_ok() {
                    let now = t.now();
                    let core = &mut t.core;
                    t.rx.drain(&t.data, BATCH, |from, d| core.handle_data(from, d, now));
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                let now = t.now();
                t.core.handle_timeout(now);
                t.directory.handle_timeout(now);
            }
            m = table_rx.recv() => {
                let Some(m) = m else { return };
                let now = t.now();
                t.directory.handle_message(m.from, m.msg, now);
                while let Ok(m) = table_rx.try_recv() {
                    t.directory.handle_message(m.from, m.msg, now);
                }
            }
            r = snapshots.changed() => {
                if r.is_err() {
                    return;
                }
                let snap = snapshots.borrow_and_update().clone();
                t.on_snapshot(&snap);
            }
            _ = tick.tick() => {}
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    return;
                }
            }
        }
        t.drain().await;
        t.publish();
        t.persist_own_aps();
    }
}

impl Task {
    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// Saves the APs this member holds, at most once per [`OWN_APS_INTERVAL`] and one save at
    /// a time (on a blocking thread: an fsync never stalls CAPWAP), so that the next boot
    /// knows them.
    fn persist_own_aps(&mut self) {
        let changes = self.directory.own_changes();
        match self.own_saved {
            Some((c, _)) if c == changes => return,
            Some((_, at)) if at.elapsed() < OWN_APS_INTERVAL => return,
            _ => {}
        }
        if self.own_saving.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        self.own_saved = Some((changes, std::time::Instant::now()));
        let aps: Vec<(roost_wire::Mac, bool)> = self
            .directory
            .persisted_aps()
            .into_iter()
            .map(|(mac, k)| (mac, k.is_thin()))
            .collect();
        let store = self.member.store.clone();
        self.own_saving = Some(tokio::task::spawn_blocking(move || {
            if let Err(e) = store.save_own_aps(&aps) {
                tracing::warn!("cannot persist the APs this member holds: {e}");
            }
        }));
    }

    /// The cluster's view changed: admission, the AC list and the AC name follow it.
    fn on_snapshot(&mut self, snap: &MemberSnapshot) {
        let now = self.now();
        let me = snap.pool.iter().find(|m| m.is_self);
        self.members = snap
            .pool
            .iter()
            .map(|m| PoolMember {
                member: m.member,
                is_self: m.is_self,
                connected: m.connected,
                is_master: m.is_master,
                master_priority: m.master_priority,
                active: m.active,
                licenses: m.licenses,
            })
            .collect();
        self.me_active = me.is_some_and(|m| m.active);
        self.capacity = snap.status.max_ap_adoption_capacity;
        self.hostnames = snap
            .pool
            .iter()
            .map(|m| (m.member, m.hostname.clone()))
            .collect();
        let connected: Vec<(MemberId, u32)> = snap
            .pool
            .iter()
            .filter(|m| m.connected)
            .map(|m| (m.member, m.boot))
            .collect();
        let lost: Vec<MemberId> = snap
            .pool
            .iter()
            .filter(|m| !m.connected)
            .map(|m| m.member)
            .collect();
        self.directory.handle_members(&connected, &lost, now);
        self.capacities = snap
            .running
            .devices()
            .iter()
            .map(|d| (d.mac.member_id(), d.model.max_aps()))
            .collect();
        self.balance = snap
            .running
            .device(self.member.mac)
            .and_then(|d| d.ap_balance);
        let capacities = &self.capacities;
        let part = roost_adoption::balance::for_member(
            &self.members,
            |id| capacities.get(&id).copied().unwrap_or(0),
            self.balance,
            self.core.held().total(),
        );
        self.balance_plan = part.plan;
        self.balance_order = part.order;
        let balance_from = part.receiving_from;
        // This member's own counts in its hellos follow its adoptions (the core knows them
        // first hand); anything else that moved may change the admission.
        let view = (
            self.me_active,
            self.capacity,
            self.members
                .iter()
                .map(|m| {
                    let mut m = *m;
                    if m.is_self {
                        m.licenses.ap_count = 0;
                        m.licenses.aap_count = 0;
                    }
                    m
                })
                .collect::<Vec<_>>(),
        );
        if self.admitted_view.as_ref() != Some(&view)
            || self.admitted_at != Some(self.directory.grace_changes())
            || self.admitted_balance_from != balance_from
        {
            self.admitted_view = Some(view);
            self.admitted_balance_from = balance_from;
            self.readmit(now);
        }
        self.core.handle_intake(balance_from.is_some());
        self.rebalance(now);
        let capacity = self.capacity;
        if let Some(me) = me {
            if self.hostname != me.hostname {
                self.hostname = me.hostname.clone();
                // Every own row names this controller (ADOPTED-BY).
                self.own_full_at = None;
            }
        }
        let mut settings = self.core.settings().clone();
        settings.ac_name = if self.hostname.is_empty() {
            "roost".into()
        } else {
            self.hostname.clone()
        };
        let own = settings.control_ip;
        let mut list = vec![own];
        for d in snap.running.devices() {
            for (ip, _) in &d.member_ips {
                if let IpAddr::V4(v4) = ip {
                    if !list.contains(v4) {
                        list.push(*v4);
                    }
                }
            }
        }
        // An AP whose profile names controllers is told those first (pool 1, then pool 2),
        // then the members it does not name, so that it can always fail over.
        settings.ac_lists_by_profile = snap
            .running
            .ap_controller_lists()
            .into_iter()
            .map(|(profile, mut hosts)| {
                for ip in &list {
                    if !hosts.contains(ip) {
                        hosts.push(*ip);
                    }
                }
                (profile, hosts)
            })
            .collect();
        settings.ac_list = list;
        settings.ap_names = snap.running.ap_hostnames();
        // Copied only when it changed (a large policy is compared, not rebuilt).
        let configured = snap
            .running
            .auto_provisioning_policy_of(self.member.mac)
            .map(|(_, p)| p);
        if settings.policy.as_deref() != configured {
            settings.policy = configured.cloned().map(Arc::new);
        }
        let gate = snap.running.firmware_gate();
        if *settings.firmware != gate {
            settings.firmware = Arc::new(gate);
        }
        settings.start_delays_by_profile = snap
            .running
            .ap_start_delays()
            .into_iter()
            .map(|(profile, (min, max))| {
                let d = roost_capwap::vendor::StartDelay {
                    min: Duration::from_secs(min.into()),
                    max: Duration::from_secs(max.into()),
                };
                (profile, d)
            })
            .collect();
        settings.timers_by_profile = snap
            .running
            .ap_timers()
            .into_iter()
            .map(|(profile, t)| (profile, ap_timers(&t)))
            .collect();
        // A cold start of a full platform is that many Joins at once: half-open sessions are
        // bounded by the platform's capacity, not below it.
        settings.max_pending = (capacity as usize).max(4096);
        if &settings != self.core.settings() {
            self.core.handle_settings(settings, now);
        }
        self.on_config(&snap.running, now);
    }

    /// A new running configuration: the WLANs each AP model carries (the profiles decide,
    /// `ClusterConfig::ap_wlans`), as the core's plan. Only the group keys are chosen here
    /// (the core has no RNG).
    fn on_config(&mut self, running: &Arc<roost_config::ClusterConfig>, now: Duration) {
        if self
            .wlan_source
            .as_ref()
            .is_some_and(|(c, _)| Arc::ptr_eq(c, running))
        {
            return;
        }
        let wanted = running.ap_wlans();
        let same = self.wlan_source.as_ref().is_some_and(|(_, w)| *w == wanted);
        self.wlan_source = Some((running.clone(), wanted.clone()));
        if same {
            return;
        }
        let mut plan = WlanPlan::default();
        for (profile, wlans) in wanted {
            let services = wlans
                .into_iter()
                .map(|w| {
                    let cipher = match w.encryption {
                        roost_config::WlanEncryption::None => Cipher::None,
                        roost_config::WlanEncryption::Ccmp => Cipher::Ccmp,
                        roost_config::WlanEncryption::TkipCcmp => Cipher::TkipCcmp,
                    };
                    let key_management = KeyManagement::of(
                        cipher,
                        w.psk.is_some(),
                        w.authentication == roost_config::WlanAuthentication::Eap,
                    );
                    let group_key = match cipher {
                        Cipher::None => Vec::new(),
                        _ => self
                            .group_keys
                            .entry((w.wlan.clone(), cipher))
                            .or_insert_with(|| {
                                use rand::RngCore;
                                let len = if cipher == Cipher::TkipCcmp { 32 } else { 16 };
                                let mut k = vec![0u8; len];
                                rand::rngs::OsRng.fill_bytes(&mut k);
                                k
                            })
                            .clone(),
                    };
                    WlanService {
                        radio_id: w.radio,
                        wlan_id: w.bss,
                        ssid: w.ssid.into_bytes(),
                        cipher,
                        key_management,
                        group_key,
                    }
                })
                .collect();
            plan.by_profile.insert(profile, Arc::new(services));
        }
        tracing::info!(profiles = plan.by_profile.len(), "WLAN plan changed");
        self.core.handle_wlans(plan, now);
    }

    /// This member's part in the balancing plan: the mover is ordered to move (the core picks
    /// the APs and keeps the hold-down); every other member's order is none.
    fn rebalance(&mut self, now: Duration) {
        let order = match (self.balance, self.balance_order) {
            (Some(b), Some((to, count))) => {
                self.hostnames
                    .get(&to)
                    .filter(|h| !h.is_empty())
                    .map(|target| roost_adoption::BalanceOrder {
                        target: target.clone(),
                        count: count as usize,
                        hold_down: b.hold_down,
                    })
            }
            _ => None,
        };
        let before = self
            .core
            .balance_progress()
            .map(|(t, n, _)| (t.to_string(), n));
        self.core.handle_balance(order, now);
        let after = self
            .core
            .balance_progress()
            .map(|(t, n, _)| (t.to_string(), n));
        if before.as_ref().map(|(t, _)| t) != after.as_ref().map(|(t, _)| t) {
            let c = self.core.counters();
            let line = match (&before, &after) {
                (_, Some((to, n))) => {
                    format!("%ADOPTION-6-BALANCE: moving {n} APs to {to} (AP load balancing)")
                }
                (Some((to, _)), None) => format!(
                    "%ADOPTION-6-BALANCE: balancing to {to} ended ({} APs moved in all)",
                    c.balance_moved
                ),
                (None, None) => String::new(),
            };
            if !line.is_empty() {
                tracing::info!("{line}");
                self.member.debug(&line);
            }
        }
    }

    /// Admission from the members' view and this member's copy of the AP table.
    fn readmit(&mut self, now: Duration) {
        let members = &self.members;
        // A member balancing to this one: its APs join here on the licenses they hold there.
        let back = handing_back(self.me_active, members, self.admitted_balance_from);
        let grace = self.directory.grace(
            |id| {
                members.iter().find(|m| m.member == id).map_or((0, 0), |m| {
                    (m.licenses.ap_licenses, m.licenses.aap_licenses)
                })
            },
            &back,
        );
        self.core.handle_admission(
            admission(self.me_active, &self.members, &grace, self.capacity),
            now,
        );
        // A member that no longer serves hands the APs it holds to those that do, by name
        // (the AC Name with Priority list).
        let directory = &self.directory;
        let targets = fallback_targets(self.me_active, &self.members, |id| directory.has_copy(id))
            .into_iter()
            .filter_map(|id| self.hostnames.get(&id).filter(|h| !h.is_empty()).cloned())
            .collect();
        self.core.handle_fallback(targets, now);
        self.admitted_at = Some(self.directory.grace_changes());
    }

    async fn drain(&mut self) {
        loop {
            let mut any = false;
            while let Some(out) = self.core.poll_output() {
                any = true;
                self.on_output(out).await;
            }
            while let Some(out) = self.directory.poll_output() {
                any = true;
                match out {
                    DirectoryOutput::Send { to, msg } => self.member.send_aps(to, msg),
                    DirectoryOutput::MemberLost { member, aps } => {
                        tracing::info!(%member, aps = aps.len(), "telling a lost member's APs");
                        let now = self.now();
                        self.core.handle_member_lost(aps, now);
                    }
                    DirectoryOutput::Release { mac, winner } => {
                        tracing::info!(%mac, %winner, "AP claimed by another member later");
                        let now = self.now();
                        self.core
                            .handle_release(mac, ReleaseReason::ClaimedElsewhere, now);
                    }
                }
            }
            if !any {
                break;
            }
        }
        self.control_out.flush(&self.control).await;
        self.data_out.flush(&self.data).await;
        if self.admitted_at != Some(self.directory.grace_changes()) {
            let now = self.now();
            self.readmit(now);
        }
        let reserved = self.directory.reserved();
        let held = self.core.held();
        let counts = (held.ap + reserved.ap, held.aap + reserved.aap);
        if counts != self.counts && self.counts_sent.elapsed() >= COUNTS_INTERVAL {
            self.counts = counts;
            self.counts_sent = std::time::Instant::now();
            self.member.set_ap_counts(counts.0, counts.1);
        }
    }

    async fn on_output(&mut self, out: AdoptionOutput) {
        {
            match out {
                AdoptionOutput::Control { to, datagram } => {
                    self.control_out.push(to, datagram);
                    if self.control_out.len() >= udp_batch::BATCH {
                        self.control_out.flush(&self.control).await;
                    }
                }
                AdoptionOutput::Data { to, datagram } => {
                    self.data_out.push(to, datagram);
                    if self.data_out.len() >= udp_batch::BATCH {
                        self.data_out.flush(&self.data).await;
                    }
                }
                AdoptionOutput::Event(e) => self.on_event(e),
            }
        }
    }

    fn on_event(&mut self, e: AdoptionEvent) {
        let now = self.now();
        match e {
            AdoptionEvent::Joined { ap, session_id }
            | AdoptionEvent::Renamed { ap, session_id } => {
                // From a connected member (a balancing move or a handback): held down here.
                if self.directory.held_by_connected_peer(&ap.mac) {
                    self.core.handle_moved(ap.mac, now);
                }
                let record = ap.record(session_id, crate::member::wall_ms());
                self.directory.handle_adopted(record, now);
                self.dirty.insert(ap.mac);
            }
            AdoptionEvent::Adopted { ap } => {
                tracing::info!(mac = %ap.mac, model = %ap.model, addr = %ap.addr, "AP adopted");
                self.member.debug(&format!(
                    "%ADOPTION-6-ADOPTED: AP {} ({}) adopted from {}",
                    ap.mac, ap.model, ap.addr
                ));
                self.refused.retain(|r| r.mac != ap.mac);
                self.dirty.insert(ap.mac);
                self.remember("adopted", ap.mac, &ap.name, &ap.model, String::new());
            }
            AdoptionEvent::WlansApplied { ap } => {
                tracing::debug!(mac = %ap.mac, wlans = ap.wlans, refused = ap.wlans_refused, "AP WLANs applied");
                if ap.wlans_refused > 0 {
                    self.member.debug(&format!(
                        "%ADOPTION-4-WLAN: AP {} refused {} WLAN(s)",
                        ap.mac, ap.wlans_refused
                    ));
                }
                self.dirty.insert(ap.mac);
            }
            AdoptionEvent::Released { mac, reason, grace } => {
                // The AP table's row is gone when another member's claim won (a move): the
                // row the faces showed still names it.
                let (name, model) = self
                    .directory
                    .own(&mac)
                    .map(|r| (r.hostname.clone(), r.model.clone()))
                    .or_else(|| {
                        let key = self.own_keys.get(&mac)?;
                        let row = self.own_rows.get(&(key.clone(), mac))?;
                        Some((row.hostname.clone(), row.model.clone()))
                    })
                    .unwrap_or_default();
                self.remember("un-adopted", mac, &name, &model, reason.to_string());
                self.directory.handle_released(mac, !grace, now);
                self.dirty.insert(mac);
                tracing::info!(%mac, %reason, "AP un-adopted");
                self.member.debug(&format!(
                    "%ADOPTION-6-UNADOPTED: AP {mac} un-adopted: {reason}"
                ));
            }
            AdoptionEvent::Refused {
                mac,
                name,
                model,
                serial,
                addr,
                reason,
            } => {
                tracing::warn!(%mac, %model, %addr, %reason, "AP refused");
                self.refused.retain(|r| r.mac != mac);
                if self.refused.len() >= REFUSED_KEPT {
                    self.refused.remove(0);
                }
                self.refused.push(Arc::new(ApRow {
                    hostname: name,
                    mac,
                    model,
                    serial,
                    ip: addr.ip().to_string(),
                    adopted_by: String::new(),
                    state: "refused".into(),
                    license: String::new(),
                    profile: String::new(),
                    uptime_secs: None,
                    reason: Some(reason.to_string()),
                }));
            }
        }
    }

    fn remember(&mut self, event: &'static str, mac: Mac, name: &str, model: &str, reason: String) {
        if self.history.len() >= HISTORY_KEPT {
            self.history.pop_back();
        }
        self.history.push_front(AdoptionHistoryEntry {
            event,
            mac,
            hostname: name.to_string(),
            model: model.to_string(),
            reason,
            at_epoch_ms: crate::member::wall_ms(),
        });
        self.history_shown = None;
    }

    /// Rebuilds the rows of the APs that changed, or all of them when the uptimes are due.
    fn refresh_own_rows(&mut self, now: std::time::Instant) {
        let t = self.now();
        if self.own_full_at.is_none_or(|at| now >= at + UPTIME_REFRESH) {
            self.own_rows.clear();
            self.own_keys.clear();
            self.dirty.clear();
            for ap in self.core.aps() {
                self.own_keys.insert(ap.mac, ap.name.clone());
                self.own_rows.insert(
                    (ap.name.clone(), ap.mac),
                    Arc::new(row(ap, &self.hostname, t)),
                );
            }
            self.own_full_at = Some(now);
            return;
        }
        for mac in std::mem::take(&mut self.dirty) {
            if let Some(name) = self.own_keys.remove(&mac) {
                self.own_rows.remove(&(name, mac));
            }
            if let Some(ap) = self.core.ap(mac) {
                self.own_keys.insert(mac, ap.name.clone());
                self.own_rows
                    .insert((ap.name.clone(), mac), Arc::new(row(ap, &self.hostname, t)));
            }
        }
    }

    /// The other members' APs from this member's copy of the cluster-wide table, sorted as
    /// `show wireless ap` lists them (rebuilt only when a peer's rows moved, or for the
    /// uptimes).
    fn other_rows(&self) -> Vec<Arc<ApRow>> {
        let me = self.member.id;
        let wall = crate::member::wall_ms();
        let mut rows = Vec::with_capacity(self.directory.others());
        for r in self.directory.rows().filter(|r| r.owner != me) {
            let connected = self.directory.peer(r.owner).is_some_and(|(c, _)| c);
            let rec = r.record;
            // A lost member's AP that a connected peer holds now is shown once, where it is.
            if !connected && self.directory.held_by_connected_peer(&rec.mac) {
                continue;
            }
            rows.push(Arc::new(ApRow {
                hostname: rec.hostname.clone(),
                mac: rec.mac,
                model: rec.model.clone(),
                serial: rec.serial.clone(),
                ip: rec.ip.to_string(),
                adopted_by: self
                    .hostnames
                    .get(&r.owner)
                    .cloned()
                    .unwrap_or_else(|| r.owner.to_string()),
                state: if connected {
                    "adopted"
                } else {
                    CONTROLLER_LOST
                }
                .into(),
                license: if rec.thin { "AP" } else { "AAP" }.into(),
                profile: if rec.profile.is_empty() {
                    roost_adoption::default_profile(&rec.model)
                } else {
                    rec.profile.clone()
                },
                uptime_secs: connected.then(|| wall.saturating_sub(rec.since_ms) / 1000),
                reason: None,
            }));
        }
        rows.sort_by(|a, b| (&a.hostname, a.mac).cmp(&(&b.hostname, b.mac)));
        rows
    }

    /// Republishes the AP table when it changed, at most every [`PUBLISH_INTERVAL`], and
    /// otherwise every [`UPTIME_REFRESH`] (uptimes move on).
    fn publish(&mut self) {
        let now = std::time::Instant::now();
        let changes = self
            .core
            .changes()
            .wrapping_add(self.directory.changes() << 32);
        if let Some((c, at)) = self.published {
            let gap = if c == changes {
                UPTIME_REFRESH
            } else {
                PUBLISH_INTERVAL
            };
            if now < at + gap {
                return;
            }
        }
        self.refresh_own_rows(now);
        let key = self.directory.grace_changes();
        if self
            .others
            .as_ref()
            .is_none_or(|(k, at, _)| *k != key || now >= *at + UPTIME_REFRESH)
        {
            self.others = Some((key, now, self.other_rows()));
        }
        let others = self.others.as_ref().map_or(&[][..], |(_, _, r)| &r[..]);
        // A lost member's AP that this member holds now is shown once, where it is.
        let own_keys = &self.own_keys;
        let others = others
            .iter()
            .filter(|r| !(r.state == CONTROLLER_LOST && own_keys.contains_key(&r.mac)));
        // Both sides are sorted: a merge, not a sort of every row.
        let mut rows = Vec::with_capacity(self.own_rows.len() + self.directory.others());
        let mut own = self.own_rows.iter().peekable();
        for o in others {
            while let Some((_, r)) = own.next_if(|((h, m), _)| (h, *m) <= (&o.hostname, o.mac)) {
                rows.push(r.clone());
            }
            rows.push(o.clone());
        }
        rows.extend(own.map(|(_, r)| r.clone()));
        rows.extend(self.refused.iter().cloned());
        let c = self.core.counters();
        let stats = AdoptionStats {
            discovery_answered: c.discovery_answered,
            discovery_suppressed: c.discovery_suppressed,
            joins_accepted: c.joins_accepted,
            joins_refused: c.joins_refused,
            malformed: c.malformed,
            unknown_session: c.unknown_session,
            rate_limited: c.rate_limited,
            retransmissions: c.retransmissions,
            stale: c.stale,
            unexpected: c.unexpected,
            released: c.released,
            wlan_requests: c.wlan_requests,
            wlan_retransmissions: c.wlan_retransmissions,
            wlan_confirmed: c.wlan_confirmed,
            wlan_refused: c.wlan_refused,
            wlan_pending: {
                let (queued, in_flight) = self.core.wlan_backlog();
                (queued + in_flight) as u64
            },
            lost_notices: c.lost_notices,
            timer_updates: c.timer_updates,
            name_updates: c.name_updates,
            fallback_requests: c.handback_requests,
            fallback_confirmed: c.handback_confirmed,
            fallback_pending: {
                let (moving, waiting) = self.core.handback_backlog();
                (moving + waiting) as u64
            },
            fallback_resets: c.resets,
            wlan_last_response_epoch_ms: self.core.last_wlan_response().map(|at| {
                let ago = self.now().saturating_sub(at).as_millis() as u64;
                crate::member::wall_ms().saturating_sub(ago)
            }),
        };
        let adopted = self.core.adopted() as u64;
        self.tx.send_replace(Arc::new(ApTable {
            rows,
            serving: self.core.admission().serving,
            adopted,
            joining: self.core.held().total() as u64 - adopted,
            on_other_members: self.directory.others() as u64,
            stats,
            history: self
                .history_shown
                .get_or_insert_with(|| Arc::new(self.history.iter().cloned().collect()))
                .clone(),
            balance: self.balance_status(),
        }));
        self.published = Some((changes, now));
    }
}

impl Task {
    fn balance_status(&self) -> roost_config::BalanceStatus {
        let capacities = &self.capacities;
        let loads = roost_adoption::balance::loads(&self.members, |id| {
            capacities.get(&id).copied().unwrap_or(0)
        });
        let name = |id: MemberId| {
            self.hostnames
                .get(&id)
                .cloned()
                .unwrap_or_else(|| id.to_string())
        };
        let c = self.core.counters();
        roost_config::BalanceStatus {
            enabled: self.balance.is_some(),
            threshold_pct: self.balance.map_or(0, |b| b.threshold_pct),
            hold_down_secs: self.balance.map_or(0, |b| b.hold_down.as_secs()),
            spread_bp: roost_adoption::balance::spread(&loads),
            loads: loads
                .iter()
                .map(|l| (name(l.member), l.adopted, l.capacity))
                .collect(),
            planned: self
                .balance_plan
                .map(|m| (name(m.from), name(m.to), m.count)),
            round: self
                .core
                .balance_progress()
                .map(|(t, n, moved)| (t.to_string(), n as u64, moved)),
            rounds: c.balance_rounds,
            moved: c.balance_moved,
        }
    }
}

/// The state shown for a lost member's AP that no one holds yet.
const CONTROLLER_LOST: &str = "controller-lost";
/// Adoption events `show adoption history` keeps.
const HISTORY_KEPT: usize = 1024;

fn row(ap: &ApView, adopted_by: &str, now: Duration) -> ApRow {
    ApRow {
        hostname: ap.name.clone(),
        mac: ap.mac,
        model: ap.model.clone(),
        serial: ap.serial.clone(),
        ip: ap.addr.ip().to_string(),
        adopted_by: adopted_by.to_string(),
        state: ap.state.to_string(),
        license: ap.license.to_string(),
        profile: ap.profile.clone(),
        uptime_secs: match ap.state {
            ApState::Run => ap.run_since.map(|s| now.saturating_sub(s).as_secs()),
            _ => None,
        },
        reason: None,
    }
}
