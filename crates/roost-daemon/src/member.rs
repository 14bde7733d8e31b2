//! The member task, the tokio shell around `roost_core::Node`, and [`MemberHandle`], what the
//! rest of the daemon holds of it (identity, the published snapshot, the request channel).
//!
//! It only moves bytes and time: datagrams on the member channel are opened (authenticated,
//! replay-checked) and handed to the node; the node's commands are carried out in order. Writes
//! go to the store thread ([`crate::persist`]); the node holds whatever depends on a `Persist`
//! (the `CommitDone` after it, acknowledgements, pushes) until the store reports it saved, and
//! meanwhile the election's hellos keep going out. Everything else in
//! the daemon reaches the node through [`NodeRequest`]s on one channel, so the node has a
//! single owner and no locks.
//!
//! The member task runs on a thread of its own (`roost-member`, a current-thread tokio
//! runtime, raised OS priority where allowed), so that hellos and failure detection never
//! queue behind the faces: a flood of logins, API calls or join attempts on the main runtime
//! cannot starve it. Before it handles an overdue timer it reads every datagram already
//! queued on its socket, so a member that was paused hears its peers before it judges them.

use crate::data_dir::{PreparedDataDir, StartupError};
use crate::options::ControllerOptions;
use crate::persist::{Persister, StoreJob};
use crate::shutdown::{wait_shutdown, FailStop, Fatal};
use crate::snapshot::Publisher;
use roost_config::{ClusterConfig, DeviceSettings, MemberSnapshot};
use roost_core::{
    Command, Election, ElectionSettings, Instant, Node, Notification, Replication,
    ReplicationSettings,
};
use roost_store::Store;
use roost_wire::{
    ClusterKey, FrameHeader, HistoryEvent, LicenseCounts, Mac, MemberId, MemberMessage, Model,
    ReplayWindow, RevisionId, WireError, MAX_DATAGRAM,
};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};

pub use crate::data_dir::{wall_ms, Licenses};
pub use crate::options::{JOIN_PORT, MEMBER_PORT};

pub use crate::counters::TrafficCounters;

/// What the rest of the daemon asks of the member task.
pub enum NodeRequest {
    Commit {
        user: String,
        change: String,
        reply: oneshot::Sender<Result<RevisionId, String>>,
    },
    /// Record a `show cluster history` event of this member (join-cluster's sync events).
    Record {
        event: roost_wire::ClusterEvent,
        reason: String,
    },
    /// The adoption thread holds this many APs (advertised in hellos: the pool's books).
    SetApCounts { ap: u32, aap: u32 },
    /// The adoption thread's cluster-wide AP table message for one member.
    SendAps {
        to: MemberId,
        msg: roost_wire::ApTableMessage,
    },
    /// join-cluster succeeded: adopt the cluster's key and configuration.
    Rejoin {
        key: ClusterKey,
        /// Boxed: a configuration is far larger than any other request.
        config: Box<ClusterConfig>,
        head: RevisionId,
        reply: oneshot::Sender<()>,
    },
}

type DebugSink = Box<dyn Fn(String) + Send + Sync>;

/// Shared, read-mostly state and the request channel: what sessions hold.
pub struct MemberHandle {
    pub id: MemberId,
    pub mac: Mac,
    pub model: Model,
    pub boot: u32,
    pub licenses: Licenses,
    pub started: std::time::Instant,
    pub store: Arc<Store>,
    pub running: RwLock<Arc<ClusterConfig>>,
    pub traffic: TrafficCounters,
    /// Where a fatal error goes (fail-stop): `roost` main exits 70 on it.
    pub fail_stop: FailStop,
    /// What `/metrics` counts beyond `stats` (shared with the gate, join-cluster, the faces).
    pub counters: Arc<crate::counters::Counters>,
    requests: mpsc::UnboundedSender<NodeRequest>,
    /// The member's state as the member task last published it (see [`crate::snapshot`]).
    snapshot: watch::Receiver<Arc<MemberSnapshot>>,
    debug_sinks: Mutex<Vec<(u64, DebugSink)>>,
    next_sink: AtomicU64,
    /// Where AP table messages from other members go (the adoption thread), if it runs.
    aps_sink: Mutex<Option<mpsc::Sender<roost_wire::aps::ApTableFrom>>>,
}

impl MemberHandle {
    pub fn start(
        data: PreparedDataDir,
        socket: UdpSocket,
        opts: ControllerOptions,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<MemberHandle>, StartupError> {
        let PreparedDataDir {
            store,
            identity,
            config,
            licenses,
            key,
        } = data;
        let boot = store.next_boot()?;
        let persisted = store.load_config()?;
        let superseded = store.superseded()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (publisher, snapshot) = Publisher::new(identity.model.max_aps());
        let member = Arc::new(MemberHandle {
            id: identity.mac.member_id(),
            mac: identity.mac,
            model: identity.model,
            boot,
            licenses,
            started: std::time::Instant::now(),
            store: Arc::new(store),
            running: RwLock::new(Arc::new(config.clone())),
            traffic: TrafficCounters::default(),
            fail_stop: FailStop::new(),
            counters: Arc::default(),
            requests: tx,
            snapshot,
            debug_sinks: Mutex::new(Vec::new()),
            next_sink: AtomicU64::new(1),
            aps_sink: Mutex::new(None),
        });
        let (head, log, lineage, requests) = match persisted {
            Some(p) => (p.head, p.log, p.lineage, p.requests),
            None => (RevisionId::ZERO, Vec::new(), Vec::new(), Vec::new()),
        };
        let history = member.store.history().unwrap_or_default();
        let lost = member.store.lost_members().unwrap_or_else(|e| {
            tracing::warn!("cannot read the lost members' license grace periods: {e}");
            Vec::new()
        });
        let thread_err = |e: std::io::Error| StartupError::Component {
            what: "member task",
            message: e.to_string(),
        };
        let persister = Persister::start(member.store.clone()).map_err(thread_err)?;
        let mut task = MemberTask::new(
            member.clone(),
            config,
            head,
            log,
            lineage,
            superseded,
            history,
            key,
            opts,
            persister,
            publisher,
        );
        task.node.replication.restore_requests(requests);
        let now = task.member.now();
        task.node.election.restore_lost(lost, now);
        // The member task's own runtime, and the socket moved onto its reactor.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(thread_err)?;
        let socket = {
            let _on_member_runtime = runtime.enter();
            UdpSocket::from_std(socket.into_std().map_err(thread_err)?).map_err(thread_err)?
        };
        std::thread::Builder::new()
            .name("roost-member".into())
            .spawn(move || {
                // Raised, so that a busy machine cannot delay hellos and dead timers.
                crate::priority::raise("member");
                runtime.block_on(task.run(socket, rx, shutdown));
            })
            .map_err(thread_err)?;
        Ok(member)
    }

    pub fn now(&self) -> Instant {
        self.started.elapsed()
    }

    pub fn running(&self) -> Arc<ClusterConfig> {
        self.running.read().unwrap().clone()
    }

    /// Commits a change through the master; waits for the outcome.
    pub async fn commit(&self, user: &str, change: &str) -> Result<RevisionId, String> {
        let started = std::time::Instant::now();
        let result = self.commit_uncounted(user, change).await;
        self.counters.commit_done(result.is_ok(), started.elapsed());
        result
    }

    async fn commit_uncounted(&self, user: &str, change: &str) -> Result<RevisionId, String> {
        let (reply, rx) = oneshot::channel();
        self.requests
            .send(NodeRequest::Commit {
                user: user.to_string(),
                change: change.to_string(),
                reply,
            })
            .map_err(|_| "controller is shutting down".to_string())?;
        rx.await
            .map_err(|_| "controller is shutting down".to_string())?
    }

    /// The member's state as last published: what every face renders.
    pub fn snapshot(&self) -> Arc<MemberSnapshot> {
        self.snapshot.borrow().clone()
    }

    /// Follows the published snapshots (the adoption thread's view of the cluster).
    pub fn subscribe(&self) -> watch::Receiver<Arc<MemberSnapshot>> {
        self.snapshot.clone()
    }

    /// AP table messages from other members go to `sink` from now on (bounded: when the
    /// adoption thread lags, they are dropped and counted, and its digests repair the gap).
    pub fn set_aps_sink(&self, sink: mpsc::Sender<roost_wire::aps::ApTableFrom>) {
        *self.aps_sink.lock().unwrap() = Some(sink);
    }

    /// Sends an AP table message to one member (sealed, on the member channel).
    pub fn send_aps(&self, to: MemberId, msg: roost_wire::ApTableMessage) {
        let _ = self.requests.send(NodeRequest::SendAps { to, msg });
    }

    /// Tells the member task how many APs this controller holds, so its hellos carry them.
    pub fn set_ap_counts(&self, ap: u32, aap: u32) {
        let _ = self.requests.send(NodeRequest::SetApCounts { ap, aap });
    }

    /// Waits (at most 3 s) until this member's running configuration holds revision `rev`,
    /// which a commit through a master on another member reaches a moment later.
    pub async fn wait_applied(&self, rev: RevisionId) {
        let mut rx = self.snapshot.clone();
        let reached = rx.wait_for(|s| s.revisions.head.number >= rev.number);
        let _ = tokio::time::timeout(Duration::from_secs(3), reached).await;
    }

    pub async fn rejoin(
        &self,
        key: ClusterKey,
        config: ClusterConfig,
        head: RevisionId,
    ) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.requests
            .send(NodeRequest::Rejoin {
                key,
                config: Box::new(config),
                head,
                reply,
            })
            .map_err(|_| "controller is shutting down".to_string())?;
        rx.await
            .map_err(|_| "controller is shutting down".to_string())
    }

    /// Records a history event of this member.
    pub fn record(&self, event: roost_wire::ClusterEvent, reason: &str) {
        let _ = self.requests.send(NodeRequest::Record {
            event,
            reason: reason.to_string(),
        });
    }

    /// Registers a `debug cfgd cluster` sink; returns its id for removal.
    pub fn add_debug_sink(&self, sink: DebugSink) -> u64 {
        let id = self.next_sink.fetch_add(1, Ordering::Relaxed);
        self.debug_sinks.lock().unwrap().push((id, sink));
        id
    }

    pub fn remove_debug_sink(&self, id: u64) {
        self.debug_sinks.lock().unwrap().retain(|(i, _)| *i != id);
    }

    /// A `debug cfgd cluster` line: to the tracing log and every registered sink.
    pub fn debug(&self, line: &str) {
        tracing::debug!(target: "roost::cluster", "{line}");
        let sinks = self.debug_sinks.lock().unwrap();
        if sinks.is_empty() {
            return;
        }
        let stamp = chrono::Local::now().format("%b %d %H:%M:%S %Y");
        let text = format!("{stamp}: USER: cfgd.cluster: {line}");
        for (_, s) in sinks.iter() {
            s(text.clone());
        }
    }
}

/// Election settings of this member from its device section (defaults if it has none):
/// [`roost_config::settings::election_settings`].
pub fn election_settings(
    member: &MemberHandle,
    device: Option<&DeviceSettings>,
    cluster: &ClusterConfig,
) -> ElectionSettings {
    let me = roost_config::settings::MemberFacts {
        member: member.id,
        mac: member.mac,
        model: member.model,
        software_version: software_version(),
        boot: member.boot,
        licenses: LicenseCounts {
            ap_licenses: member.licenses.ap,
            aap_licenses: member.licenses.aap,
            ap_count: 0,
            aap_count: 0,
            adsec: member.licenses.adsec,
        },
    };
    roost_config::settings::election_settings(&me, device, cluster)
}

/// The software version this build reports. `ROOST_SOFTWARE_VERSION` overrides it so tests can
/// start a controller that looks like another release (the version-mismatch refusal).
pub fn software_version() -> String {
    std::env::var("ROOST_SOFTWARE_VERSION")
        .unwrap_or_else(|_| roost_wire::SOFTWARE_VERSION.to_string())
}

/// How many queued datagrams the member task reads before it handles an overdue timer.
const DRAIN_BEFORE_TIMEOUT: usize = 4096;

struct MemberTask {
    member: Arc<MemberHandle>,
    node: Node<ClusterConfig>,
    key: ClusterKey,
    socket: Option<Arc<UdpSocket>>,
    opts: ControllerOptions,
    seq: u32,
    windows: HashMap<MemberId, ReplayWindow>,
    learned: HashMap<MemberId, SocketAddr>,
    peers: BTreeSet<SocketAddr>,
    pending: HashMap<u64, oneshot::Sender<Result<RevisionId, String>>>,
    next_request: u64,
    /// The last save of a revision failed for lack of space (logged once until one succeeds).
    save_failing: bool,
    /// The store thread: every write, in order, off this thread.
    persister: Persister,
    /// Publishes the member's state for the faces after every input handled.
    publisher: Publisher,
    /// The revision `member.running` is at.
    running_head: RevisionId,
    /// AP table messages to send (to members heard from; the table's digests repair loss).
    outbox: Vec<(MemberId, MemberMessage)>,
}

impl MemberTask {
    #[allow(clippy::too_many_arguments)]
    fn new(
        member: Arc<MemberHandle>,
        config: ClusterConfig,
        head: RevisionId,
        log: Vec<roost_wire::Revision>,
        lineage: Vec<RevisionId>,
        superseded: Vec<roost_wire::SupersededConfig>,
        history: Vec<HistoryEvent>,
        key: ClusterKey,
        opts: ControllerOptions,
        persister: Persister,
        publisher: Publisher,
    ) -> MemberTask {
        let node = build_node(&member, &config, head, log, lineage, superseded, history);
        let mut t = MemberTask {
            member,
            node,
            key,
            socket: None,
            opts,
            seq: 0,
            windows: HashMap::new(),
            learned: HashMap::new(),
            peers: BTreeSet::new(),
            pending: HashMap::new(),
            next_request: 0,
            save_failing: false,
            persister,
            publisher,
            running_head: head,
            outbox: Vec::new(),
        };
        t.node.defer_persist_confirmations();
        t.refresh_peers(&config);
        t
    }

    async fn run(
        mut self,
        socket: UdpSocket,
        mut rx: mpsc::UnboundedReceiver<NodeRequest>,
        shutdown: watch::Receiver<bool>,
    ) {
        let socket = Arc::new(socket);
        self.socket = Some(socket.clone());
        let mut buf = vec![0u8; MAX_DATAGRAM + 64];
        let sd = wait_shutdown(shutdown);
        tokio::pin!(sd);
        self.drain().await;
        self.publish();
        loop {
            let deadline = self
                .node
                .poll_timeout()
                .map(|t| tokio::time::Instant::from_std(self.member.started + t));
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = &mut sd => break,
                saved = self.persister.saved.recv() => match saved {
                    Some((head, r)) => self.on_persist_result(head, r),
                    None => break,
                },
                r = socket.recv_from(&mut buf) => match r {
                    Ok((n, from)) => self.on_datagram(&buf[..n], from),
                    Err(e) => tracing::warn!("member channel receive error: {e}"),
                },
                req = rx.recv() => match req {
                    Some(req) => self.on_request(req),
                    None => break,
                },
                _ = sleep => {
                    // What arrived while we were not running comes first: a timer that fired
                    // late must not be judged on an unread inbox.
                    for _ in 0..DRAIN_BEFORE_TIMEOUT {
                        match socket.try_recv_from(&mut buf) {
                            Ok((n, from)) => self.on_datagram(&buf[..n], from),
                            Err(_) => break,
                        }
                    }
                    let now = self.member.now();
                    self.node.handle_timeout(now);
                }
            }
            self.drain().await;
            self.publish();
        }
        for (_, reply) in self.pending.drain() {
            let _ = reply.send(Err("controller is shutting down".into()));
        }
    }

    fn on_datagram(&mut self, bytes: &[u8], from: SocketAddr) {
        let stats = &self.member.traffic;
        stats.received.fetch_add(1, Ordering::Relaxed);
        let (header, msg) = match roost_wire::open(&self.key, bytes) {
            Ok(x) => x,
            Err(e) => {
                match e {
                    WireError::AuthenticationFailed => {
                        stats.dropped_auth.fetch_add(1, Ordering::Relaxed)
                    }
                    WireError::UnsupportedVersion { .. } => {
                        stats.dropped_version.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => stats.dropped_malformed.fetch_add(1, Ordering::Relaxed),
                };
                tracing::debug!(%from, "dropped datagram: {e}");
                return;
            }
        };
        if header.sender == self.member.id {
            stats.dropped_malformed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if let Err(e) = self
            .windows
            .entry(header.sender)
            .or_default()
            .check_and_record(&header)
        {
            stats.dropped_replay.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%from, "dropped datagram: {e}");
            return;
        }
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        self.learned.insert(header.sender, from);
        if let MemberMessage::Aps(msg) = msg {
            // Not the cluster core's: the adoption thread's table.
            let sink = self.member.aps_sink.lock().unwrap();
            let delivered = sink.as_ref().is_some_and(|s| {
                s.try_send(roost_wire::aps::ApTableFrom {
                    from: header.sender,
                    msg,
                })
                .is_ok()
            });
            if !delivered {
                // The adoption thread is behind (or not running): its digests repair this.
                tracing::debug!(sender = %header.sender, "AP table message dropped: queue full");
            }
            return;
        }
        let now = self.member.now();
        self.node.handle_message(header.sender, msg, now);
    }

    fn on_request(&mut self, req: NodeRequest) {
        let now = self.member.now();
        match req {
            NodeRequest::Commit {
                user,
                change,
                reply,
            } => {
                let id = self.request_id();
                self.pending.insert(id, reply);
                self.node.handle_local_commit(id, user, change, now);
            }
            NodeRequest::Record { event, reason } => self.node.election.record(event, reason, now),
            NodeRequest::SendAps { to, msg } => self.outbox.push((to, MemberMessage::Aps(msg))),
            NodeRequest::SetApCounts { ap, aap } => {
                let mut s = self.node.election.settings().clone();
                s.licenses.ap_count = ap;
                s.licenses.aap_count = aap;
                self.node.election.handle_settings(s, now);
            }
            NodeRequest::Rejoin {
                key,
                config,
                head,
                reply,
            } => {
                self.key = key;
                self.windows.clear();
                let superseded = self.node.replication.superseded().to_vec();
                let replication = build_replication(
                    &self.member,
                    &config,
                    head,
                    Vec::new(),
                    vec![head],
                    superseded,
                );
                // The node re-reads our election settings from the cluster's configuration.
                self.node.replace_replication(replication, now);
                self.refresh_peers(&config);
                *self.member.running.write().unwrap() = Arc::new(*config);
                self.running_head = head;
                self.node.election.record(
                    roost_wire::ClusterEvent::ConfigUpdateSuccess,
                    "successfully applied config".into(),
                    now,
                );
                for (_, r) in self.pending.drain() {
                    let _ = r.send(Err("cluster membership changed (join-cluster)".into()));
                }
                let _ = reply.send(());
            }
        }
    }

    /// Unique across restarts: boot in the high half.
    fn request_id(&mut self) -> u64 {
        self.next_request += 1;
        (self.member.boot as u64) << 32 | self.next_request
    }

    async fn drain(&mut self) {
        for (to, msg) in std::mem::take(&mut self.outbox) {
            if let Some(addr) = self.learned.get(&to).copied() {
                self.send(&msg, addr).await;
            }
        }
        while let Some(cmd) = self.node.poll_command() {
            match cmd {
                Command::Send { to, msg } => match self.learned.get(&to).copied() {
                    Some(addr) => self.send(&msg, addr).await,
                    None => {
                        // Not heard from yet: try every configured peer address.
                        for addr in self.peers.clone() {
                            self.send(&msg, addr).await;
                        }
                    }
                },
                Command::Broadcast { msg } => {
                    let mut targets = self.peers.clone();
                    targets.extend(self.learned.values().copied());
                    for addr in targets {
                        self.send(&msg, addr).await;
                    }
                }
                Command::Persist {
                    head,
                    config,
                    revision,
                    lineage,
                } => self.persister.submit(StoreJob::Config {
                    head,
                    config,
                    revision,
                    lineage,
                }),
                Command::PersistRequests(requests) => {
                    self.persister.submit(StoreJob::Requests(requests))
                }
                Command::PersistSuperseded(s) => self.persister.submit(StoreJob::Superseded(s)),
                Command::PersistLost(lost) => self.persister.submit(StoreJob::Lost(lost)),
                Command::Notify(n) => self.on_notification(n),
            }
        }
    }

    /// Publishes the member's state for the faces, if it changed (see [`crate::snapshot`]).
    fn publish(&mut self) {
        let now = self.member.now();
        let running = (self.running_head, self.member.running());
        self.publisher
            .publish(&self.node, &running, &self.member.traffic, now);
    }

    /// The outcome of saving revision `head`. A full disk (ENOSPC, EDQUOT) changed nothing on
    /// disk: the node undoes the revision and refuses or does not acknowledge it, and the next
    /// save after space returns succeeds. Any other failure leaves the data dir in a state this
    /// member cannot vouch for: it must not acknowledge anything, nor keep serving a state it
    /// cannot keep, so it stops (exit 70). The cluster carries on without it; restarted, it
    /// resumes from what is on disk.
    fn on_persist_result(&mut self, head: RevisionId, saved: Result<(), roost_store::StoreError>) {
        let e = match saved {
            Ok(()) => {
                if std::mem::take(&mut self.save_failing) {
                    tracing::info!("revisions are saved again (revision {head})");
                }
                let now = self.member.now();
                self.node.handle_persisted(head, now);
                return;
            }
            Err(e) => e,
        };
        if let Some(reason) = e.no_space() {
            let now = self.member.now();
            if self.node.handle_persist_failed(head, reason, now) {
                if !std::mem::replace(&mut self.save_failing, true) {
                    tracing::error!("cannot save revision {head}: {e}; refused, not acknowledged");
                } else {
                    tracing::debug!("cannot save revision {head}: {e}");
                }
                return;
            }
        }
        self.member.fail_stop.stop_thread(Fatal::Persist {
            head,
            reason: e.to_string(),
        });
    }

    fn on_notification(&mut self, n: Notification) {
        match n {
            Notification::History(ev) => {
                self.member.debug(&format!(
                    "history: {} {} {} {}",
                    ev.hostname, ev.member, ev.event, ev.reason
                ));
                tracing::info!(member = %ev.member, event = %ev.event, "{}", ev.reason);
                self.persister.submit(StoreJob::History(ev));
            }
            Notification::MasterChanged { master } => {
                self.member.counters.master_changed();
                // The election emits "completed election master is X" itself.
                if master.is_none() {
                    self.member.debug("no cluster master");
                }
                tracing::info!(master = %master.map_or("none".into(), |m| m.to_string()), "cluster master changed");
            }
            Notification::OperStateChanged { state } => {
                self.member
                    .debug(&format!("publish own cluster status=[{state}] internally"));
                tracing::info!(%state, "operational state changed");
            }
            Notification::ConfigApplied { head } => {
                let config = self.node.replication.config().clone();
                self.member.debug(&format!(
                    "%SYSTEM-6-CONFIG_REVISION: Configuration revision updated to {}",
                    head.number
                ));
                self.on_config(config);
            }
            Notification::CommitDone { request, result } => {
                if let Some(reply) = self.pending.remove(&request) {
                    let _ = reply.send(result.map_err(|e| e.to_string()));
                }
            }
            Notification::Debug(line) => self.member.debug(&line),
            Notification::PeerLost { peer, cause } => self.member.counters.peer_lost(peer, cause),
            Notification::Stalled { late } => {
                tracing::warn!(
                    "member task ran {} ms late (process paused or starved); peers are given \
                     a fresh dead interval and commits wait until they are heard",
                    late.as_millis()
                );
            }
        }
    }

    /// A new running configuration (the node has re-read our settings from it, or registers
    /// our device section): publish it and re-read our peers.
    fn on_config(&mut self, config: ClusterConfig) {
        self.refresh_peers(&config);
        *self.member.running.write().unwrap() = Arc::new(config);
        self.running_head = self.node.replication.head();
    }

    /// Peers = every `cluster member ip` of every device in the cluster config, but us.
    fn refresh_peers(&mut self, config: &ClusterConfig) {
        let me = self.opts.ip;
        self.peers = config
            .devices()
            .iter()
            .flat_map(|d| d.member_ips.iter().map(|(ip, _)| *ip))
            .filter(|ip| *ip != me)
            .map(|ip| SocketAddr::new(ip, self.opts.member_port))
            .collect();
    }

    async fn send(&mut self, msg: &MemberMessage, to: SocketAddr) {
        self.seq = self.seq.wrapping_add(1);
        let header = FrameHeader {
            sender: self.member.id,
            boot: self.member.boot,
            seq: self.seq,
        };
        match roost_wire::seal(&self.key, header, msg) {
            Ok(bytes) => match self
                .socket
                .as_ref()
                .expect("running")
                .send_to(&bytes, to)
                .await
            {
                Ok(_) => {
                    self.member.traffic.sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    self.member
                        .traffic
                        .send_errors
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::trace!(%to, "send failed: {e}");
                }
            },
            Err(e) => tracing::error!("cannot seal message: {e}"),
        }
    }
}

fn build_node(
    member: &MemberHandle,
    config: &ClusterConfig,
    head: RevisionId,
    log: Vec<roost_wire::Revision>,
    lineage: Vec<RevisionId>,
    superseded: Vec<roost_wire::SupersededConfig>,
    history: Vec<HistoryEvent>,
) -> Node<ClusterConfig> {
    let now = member.now();
    let device = config.device(member.mac);
    let settings = election_settings(member, device.as_ref(), config);
    let mut election = Election::new(settings, now, wall_ms());
    election.restore_history(history);
    let replication = build_replication(member, config, head, log, lineage, superseded);
    Node::new(election, replication, now)
}

fn build_replication(
    member: &MemberHandle,
    config: &ClusterConfig,
    head: RevisionId,
    log: Vec<roost_wire::Revision>,
    lineage: Vec<RevisionId>,
    superseded: Vec<roost_wire::SupersededConfig>,
) -> Replication<ClusterConfig> {
    let mut replication = Replication::new(
        member.id,
        ReplicationSettings::default(),
        config.clone(),
        head,
        log,
        lineage,
        superseded,
    );
    replication.set_wall_clock(wall_ms(), member.now());
    replication
}
