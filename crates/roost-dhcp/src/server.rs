//! The lease core of one member: fed DHCPv4 packets, peers' lease changes, membership events
//! and time; emits replies and lease changes to persist. See the crate docs for the rules.

use crate::lease::{ClientId, FreeReason, Lease, LeaseChange, LeaseState, Stamp};
use crate::shares::{self, Layout};
use crate::spec::{Activation, PolicySpec, PoolSpec, SpecError};
use dhcproto::v4::relay::RelayAgentInformation;
use dhcproto::v4::{
    DhcpOption, DhcpOptions, Message, MessageType, Opcode, OptionCode, UnknownOption,
};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use roost_wire::{Mac, MemberId};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

/// An offered address stays reserved for its client this long (local, not replicated).
pub const OFFER_HOLD_MS: u64 = 30_000;
/// A declined address stays out of the pool this long.
pub const DECLINE_HOLD_MS: u64 = 3_600_000;
/// An expired address is not offered again before this long after its expiry: a renewal
/// another member granted just before may still be on its way here.
pub const REUSE_GRACE_MS: u64 = 10_000;
/// Added to every wait that compares this member's clock and contact times with another's:
/// covers the failure detector's dead interval and clock skew (Kea warns at 30 s).
pub const TAKEOVER_MARGIN_MS: u64 = 60_000;

/// Where a packet came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketContext {
    /// The address of the interface it arrived on (IP_PKTINFO): selects the pool of a
    /// directly attached client (a relayed packet's giaddr selects it instead).
    pub interface: Ipv4Addr,
    pub source: SocketAddrV4,
}

/// Where a reply goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    Unicast(SocketAddrV4),
    /// To 255.255.255.255 on this port, out of the interface the request came in on.
    Broadcast {
        port: u16,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub to: Destination,
    pub bytes: Vec<u8>,
}

/// A group of lease changes persisted (locally and on a peer) together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchId(pub u64);

/// What the core asks its driver to do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Reply(Reply),
    /// Write `changes` to this member's lease store and send them to the connected peers;
    /// call [`Server::handle_durable`] once the local write and at least one peer's write
    /// are done (or with `degraded` when no peer is reachable). The ACKs this batch holds go
    /// out then. One batch is in flight at a time; changes made meanwhile form the next.
    Persist {
        batch: BatchId,
        changes: Vec<LeaseChange>,
    },
    /// With `ping-timeout`: probe `ip` (ICMP echo) before it is offered, and call
    /// [`Server::handle_probe_result`] with the answer, or with `in_use = false` once
    /// `timeout` passed without one.
    Probe {
        ip: Ipv4Addr,
        timeout: std::time::Duration,
    },
}

/// Received packets by DHCP message type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageCounts {
    pub discover: u64,
    pub request: u64,
    pub decline: u64,
    pub release: u64,
    pub inform: u64,
    pub other: u64,
}

/// Packets dropped without a reply, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drops {
    /// Did not decode, not a BOOTREQUEST, or a DHCP message missing a required field.
    pub malformed: u64,
    /// BOOTP (no DHCP message type): not served.
    pub bootp: u64,
    /// No pool for the giaddr or interface.
    pub no_pool: u64,
    /// This member does not serve (`cluster-master` and not the master).
    pub not_serving: u64,
    /// No free address in this member's share.
    pub exhausted: u64,
    /// A REQUEST or DECLINE/RELEASE for another server.
    pub other_server: u64,
    /// RFC 2131: no record of the client, stay silent.
    pub unknown_client: u64,
    /// The takeover rule leaves no time to lease (cut off from a majority for a lease time).
    pub fenced: u64,
    /// A returning member's lease table is still being applied: no new address.
    pub syncing: u64,
    /// A lease on an address another reachable member allocates: that member answers.
    pub other_allocator: u64,
    /// The lease ran out while its ACK waited for durability.
    pub expired_before_durable: u64,
    /// The lease changed (released, declined, taken by a later change) while its ACK waited:
    /// the ACK would promise what the table no longer says.
    pub superseded: u64,
}

/// Plain counters; the faces render them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub received: MessageCounts,
    pub drops: Drops,
    pub offers: u64,
    pub acks: u64,
    pub naks: u64,
    /// ACKs sent after a batch made durable with no peer (`handle_durable(_, true)`).
    pub degraded_acks: u64,
    pub batches: u64,
    pub changes: u64,
    /// Replicated changes naming an address this member holds active for another client
    /// (resolved by the later stamp). Zero while shares are respected and no release or
    /// expiry was lost with a link (then the newer change wins, harmlessly).
    pub conflicts: u64,
    /// Lost members' free shares taken over.
    pub takeovers: u64,
    pub probes: u64,
    /// Probed addresses that answered: held out of the pool like a declined one.
    pub probes_in_use: u64,
}

#[derive(Clone, Debug)]
struct Row {
    stamp: Stamp,
    state: LeaseState,
}

#[derive(Clone, Debug)]
struct Offer {
    client: ClientId,
    until_ms: u64,
}

/// A member this one cannot reach.
#[derive(Clone, Debug)]
struct Lost {
    last_contact_ms: u64,
    /// Its free share is taken over: each of its addresses goes to the next member in that
    /// address's rendezvous order (the same order on every member, whoever can reach whom).
    taken: bool,
    /// The operator declared it down (`handle_partner_down`): it reuses nothing, and its
    /// share is taken over at `down_since + longest lease + margin`, majority or not.
    declared_down: bool,
    down_since_ms: u64,
    /// This member was cut off from a majority at some time while this one was lost: the
    /// lost member's side may have been a majority and taken this member's share over.
    minority_seen: bool,
}

/// A DISCOVER waiting for the probe of the address it is to be offered.
struct Probing {
    msg: Message,
    ctx: PacketContext,
}

struct Held {
    msg: Message,
    to: Destination,
    /// For an ACK that carries a lease: the client and the lease's expiry, so that the
    /// lease time sent is what remains when it goes out, and an ACK whose lease changed
    /// meanwhile is not sent.
    lease: Option<(ClientId, u64)>,
}

/// One member's DHCP server for one policy.
pub struct Server {
    me: MemberId,
    server_ip: Ipv4Addr,
    policy: PolicySpec,
    layout: Layout,
    serving: bool,
    rows: HashMap<Ipv4Addr, Row>,
    by_client: HashMap<(usize, ClientId), Ipv4Addr>,
    /// (time, address) of every leased row's expiry and declined row's hold end.
    expiry: BTreeSet<(u64, Ipv4Addr)>,
    offers: HashMap<Ipv4Addr, Offer>,
    offers_by_client: HashMap<(usize, ClientId), Ipv4Addr>,
    offer_expiry: BTreeSet<(u64, Ipv4Addr)>,
    probing: HashMap<Ipv4Addr, Probing>,
    cursors: Vec<u64>,
    lost: BTreeMap<MemberId, Lost>,
    syncing: BTreeSet<MemberId>,
    /// A lost member may hold a takeover of this member's share ([`Server::allocator`]).
    suspended: bool,
    clock_ms: u64,
    seq: u64,
    open: Vec<LeaseChange>,
    open_held: Vec<Held>,
    in_flight: Option<(BatchId, Vec<Held>)>,
    next_batch: u64,
    out: VecDeque<Output>,
    stats: Stats,
}

impl Server {
    /// `server_ip` is the member's address: the server identifier its replies carry.
    /// `layout` is who the shares are split among (this member included). A `cluster-master`
    /// policy starts not serving until [`Server::handle_master`] says this member is master.
    pub fn new(
        me: MemberId,
        server_ip: Ipv4Addr,
        policy: PolicySpec,
        layout: Layout,
    ) -> Result<Server, SpecError> {
        policy.validate()?;
        let layout = Layout::new(
            layout.members().iter().copied().chain([me]),
            layout.primary(),
        );
        let serving = policy.activation == Activation::None;
        let pools = policy.pools.len();
        Ok(Server {
            me,
            server_ip,
            policy,
            layout,
            serving,
            rows: HashMap::new(),
            by_client: HashMap::new(),
            expiry: BTreeSet::new(),
            offers: HashMap::new(),
            offers_by_client: HashMap::new(),
            offer_expiry: BTreeSet::new(),
            probing: HashMap::new(),
            cursors: vec![0; pools],
            lost: BTreeMap::new(),
            syncing: BTreeSet::new(),
            suspended: false,
            clock_ms: 0,
            seq: 0,
            open: Vec::new(),
            open_held: Vec::new(),
            in_flight: None,
            next_batch: 1,
            out: VecDeque::new(),
            stats: Stats::default(),
        })
    }

    // ----- inputs -------------------------------------------------------------------------

    /// A datagram to port 67. Anything that does not decode is counted and dropped.
    pub fn handle_packet(&mut self, bytes: &[u8], ctx: PacketContext, now_ms: u64) {
        match Message::decode(&mut Decoder::new(bytes)) {
            Ok(msg) => self.handle_message(msg, ctx, now_ms),
            Err(_) => self.stats.drops.malformed += 1,
        }
    }

    /// A decoded DHCP message.
    pub fn handle_message(&mut self, msg: Message, ctx: PacketContext, now_ms: u64) {
        self.tick(now_ms);
        if msg.opcode() != Opcode::BootRequest || msg.hlen() > 16 {
            self.stats.drops.malformed += 1;
            return;
        }
        let Some(kind) = msg.opts().msg_type() else {
            self.stats.drops.bootp += 1;
            return;
        };
        let c = &mut self.stats.received;
        match kind {
            MessageType::Discover => c.discover += 1,
            MessageType::Request => c.request += 1,
            MessageType::Decline => c.decline += 1,
            MessageType::Release => c.release += 1,
            MessageType::Inform => c.inform += 1,
            _ => {
                c.other += 1;
                return;
            }
        }
        if !self.serving {
            self.stats.drops.not_serving += 1;
            return;
        }
        let req = Request::new(&msg);
        match kind {
            MessageType::Discover => self.discover(&msg, &req, ctx, now_ms),
            MessageType::Request => self.request(&msg, &req, ctx, now_ms),
            MessageType::Decline => self.decline(&req, now_ms),
            MessageType::Release => self.release(&msg, &req, now_ms),
            _ => self.inform(&msg, ctx),
        }
    }

    /// A peer's lease changes (a batch it persisted, or its table when it returns). The
    /// lease table is the cluster's: these leases are renewed here like this member's own.
    pub fn handle_replicated(
        &mut self,
        changes: impl IntoIterator<Item = LeaseChange>,
        now_ms: u64,
    ) {
        self.tick(now_ms);
        for c in changes {
            self.clock_ms = self.clock_ms.max(c.stamp.ms);
            self.merge(c, now_ms);
        }
    }

    /// The batch is in this member's store and in at least one peer's (or, `degraded`, in
    /// this member's alone because no peer is reachable): its ACKs go out.
    pub fn handle_durable(&mut self, batch: BatchId, degraded: bool, now_ms: u64) {
        self.tick(now_ms);
        let Some((id, _)) = &self.in_flight else {
            return;
        };
        if *id != batch {
            return;
        }
        let (_, held) = self.in_flight.take().expect("checked above");
        for h in held {
            let Some(bytes) = self.finish(h, now_ms) else {
                continue;
            };
            self.stats.acks += 1;
            if degraded {
                self.stats.degraded_acks += 1;
            }
            self.out.push_back(Output::Reply(bytes));
        }
    }

    /// The probe of `ip` ([`Output::Probe`]) ended: `in_use` if something answered. A free
    /// address is offered now; one in use is held out of the pool (a replicated change, as
    /// for a DECLINE) and the client is offered another, probed in turn.
    pub fn handle_probe_result(&mut self, ip: Ipv4Addr, in_use: bool, now_ms: u64) {
        self.tick(now_ms);
        let Some(p) = self.probing.remove(&ip) else {
            return;
        };
        if in_use {
            self.stats.probes_in_use += 1;
            self.drop_offer(ip);
            self.record(
                ip,
                LeaseState::Declined {
                    until_ms: now_ms + DECLINE_HOLD_MS,
                },
            );
        }
        // Offered now unless it changed meanwhile; else (or if in use) a new allocation.
        let req = Request::new(&p.msg);
        self.discover(&p.msg, &req, p.ctx, now_ms);
    }

    /// With `cluster-master`: the member the cluster recognises as master (only it serves).
    pub fn handle_master(&mut self, master: Option<MemberId>) {
        if self.policy.activation == Activation::ClusterMaster {
            self.serving = master == Some(self.me);
        }
    }

    /// `member` is unreachable; `last_contact_ms` is the last time this member heard from it
    /// (never later). Its leases are renewed here at once; its free share is taken over when
    /// the takeover rule allows (see the crate docs).
    pub fn handle_member_lost(&mut self, member: MemberId, last_contact_ms: u64, now_ms: u64) {
        self.tick(now_ms);
        if member == self.me || !self.layout.members().contains(&member) {
            return;
        }
        self.syncing.remove(&member);
        self.lost.entry(member).or_insert(Lost {
            last_contact_ms,
            taken: false,
            declared_down: false,
            down_since_ms: 0,
            minority_seen: false,
        });
        self.take_over_due(now_ms);
    }

    /// `member` is reachable again. Takeovers of its share end at once; this member then
    /// allocates no new address until [`Server::handle_member_synced`] (call it once the
    /// member's lease table is applied here), so that it never allocates an address the
    /// returning member leased meanwhile. Send this member's table to it after this call.
    pub fn handle_member_up(&mut self, member: MemberId, now_ms: u64) {
        self.tick(now_ms);
        if self.lost.remove(&member).is_some() {
            self.syncing.insert(member);
        }
        self.take_over_due(now_ms);
    }

    /// The returning `member`'s lease table is applied here.
    pub fn handle_member_synced(&mut self, member: MemberId) {
        self.syncing.remove(&member);
    }

    /// The operator says `member` is down (partner down) and has served nothing since
    /// `down_since_ms` (at the latest: now). Its free share is taken over once every lease
    /// it can have granted by then has run out, `down_since + longest lease + margin`, even
    /// without a majority (the only way a two-member cluster's survivor gets its peer's
    /// share). Until then the survivors renew its leases without its cap (it reuses
    /// nothing). The risk is the operator's: if the member is in fact alive and serving, or
    /// served later than `down_since_ms`, both may lease one address (ISC's PARTNER-DOWN
    /// has the same risk, and waits its MCLT the same way).
    pub fn handle_partner_down(&mut self, member: MemberId, down_since_ms: u64, now_ms: u64) {
        self.tick(now_ms);
        if member == self.me || !self.layout.members().contains(&member) {
            return;
        }
        self.syncing.remove(&member);
        let down_since_ms = down_since_ms.min(now_ms);
        let lost = self.lost.entry(member).or_insert(Lost {
            last_contact_ms: down_since_ms,
            taken: false,
            declared_down: false,
            down_since_ms,
            minority_seen: false,
        });
        lost.declared_down = true;
        lost.last_contact_ms = lost.last_contact_ms.min(down_since_ms);
        lost.down_since_ms = down_since_ms;
        self.take_over_due(now_ms);
    }

    /// Time passed: offers and leases expire, declined addresses return, takeovers fall due.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.tick(now_ms);
        while let Some(&(t, ip)) = self.offer_expiry.first() {
            if t > now_ms {
                break;
            }
            self.offer_expiry.pop_first();
            self.drop_offer(ip);
        }
        while let Some(&(t, ip)) = self.expiry.first() {
            if t > now_ms {
                break;
            }
            self.expiry.pop_first();
            let state = match self.rows.get(&ip).map(|r| &r.state) {
                Some(LeaseState::Leased { expires_ms, .. }) if *expires_ms == t => {
                    LeaseState::Free {
                        since_ms: t,
                        reason: FreeReason::Expired,
                    }
                }
                Some(LeaseState::Declined { until_ms }) if *until_ms == t => LeaseState::Free {
                    since_ms: t,
                    reason: FreeReason::Cleared,
                },
                _ => continue,
            };
            self.record(ip, state);
        }
        self.take_over_due(now_ms);
    }

    /// The next time [`Server::handle_timeout`] has work (ms since the epoch).
    pub fn poll_timeout(&self) -> Option<u64> {
        let mut t = [
            self.offer_expiry.first().map(|e| e.0),
            self.expiry.first().map(|e| e.0),
        ]
        .into_iter()
        .flatten()
        .min();
        let majority = self.majority();
        let wait = self.policy.max_lease_ms() + TAKEOVER_MARGIN_MS;
        for l in self.lost.values() {
            if !l.taken && (majority || l.declared_down) {
                let due = self.takeover_at(l);
                t = Some(t.map_or(due, |t| t.min(due)));
            }
            // When this member's share is suspended, and when a declared-down member's
            // leases on it have run out.
            if l.minority_seen && self.threat(l) {
                let due = if self.suspended {
                    l.down_since_ms + wait
                } else {
                    l.last_contact_ms + wait
                };
                if !self.suspended || l.declared_down {
                    t = Some(t.map_or(due, |t| t.min(due)));
                }
            }
        }
        t
    }

    /// The next command. A batch of the changes made so far is started here when none is in
    /// flight, so that everything one drain of packets changed is persisted together.
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(o) = self.out.pop_front() {
            return Some(o);
        }
        if self.in_flight.is_none() && !self.open.is_empty() {
            let batch = BatchId(self.next_batch);
            self.next_batch += 1;
            let changes = std::mem::take(&mut self.open);
            let held = std::mem::take(&mut self.open_held);
            self.stats.batches += 1;
            self.stats.changes += changes.len() as u64;
            self.in_flight = Some((batch, held));
            return Some(Output::Persist { batch, changes });
        }
        None
    }

    // ----- views ------------------------------------------------------------------------

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn policy(&self) -> &PolicySpec {
        &self.policy
    }

    pub fn me(&self) -> MemberId {
        self.me
    }

    /// ACKs waiting for their batch to be durable.
    pub fn acks_held(&self) -> usize {
        self.open_held.len() + self.in_flight.as_ref().map_or(0, |(_, h)| h.len())
    }

    /// Addresses offered and still reserved.
    pub fn offers(&self) -> usize {
        self.offers.len()
    }

    /// Leases not expired at `now_ms`, by address.
    pub fn leases(&self, now_ms: u64) -> Vec<Lease> {
        let mut v: Vec<Lease> = self
            .rows
            .iter()
            .filter_map(|(ip, r)| match &r.state {
                LeaseState::Leased {
                    client,
                    mac,
                    expires_ms,
                } if *expires_ms > now_ms => Some(Lease {
                    ip: *ip,
                    client: client.clone(),
                    mac: *mac,
                    expires_ms: *expires_ms,
                    granted_by: r.stamp.member,
                }),
                _ => None,
            })
            .collect();
        v.sort_by_key(|l| l.ip);
        v
    }

    /// The lease on `ip` (active or not), if the table has one.
    pub fn lease(&self, ip: Ipv4Addr) -> Option<Lease> {
        let r = self.rows.get(&ip)?;
        match &r.state {
            LeaseState::Leased {
                client,
                mac,
                expires_ms,
            } => Some(Lease {
                ip,
                client: client.clone(),
                mac: *mac,
                expires_ms: *expires_ms,
                granted_by: r.stamp.member,
            }),
            _ => None,
        }
    }

    /// The whole table as changes: what a returning member is sent (in chunks, by the
    /// driver) before it calls [`Server::handle_member_synced`].
    pub fn table(&self) -> Vec<LeaseChange> {
        let mut v: Vec<LeaseChange> = self
            .rows
            .iter()
            .map(|(ip, r)| LeaseChange {
                ip: *ip,
                stamp: r.stamp,
                state: r.state.clone(),
            })
            .collect();
        v.sort_by_key(|c| c.ip);
        v
    }

    /// Declined addresses still held out of the pool.
    pub fn declined(&self, now_ms: u64) -> usize {
        self.rows
            .values()
            .filter(|r| matches!(r.state, LeaseState::Declined { until_ms } if until_ms > now_ms))
            .count()
    }

    /// The member that may allocate `ip` now, as this member sees it: the share's owner, or
    /// if it is taken over, the next member in the address's rendezvous order, and so on.
    /// Two members allocate one address only if one has taken the other over: by the
    /// takeover rule the other has stopped by then.
    pub fn allocator(&self, ip: Ipv4Addr) -> Option<MemberId> {
        let mut m = shares::owner(ip, &self.layout, self.policy.activation)?;
        let mut passed: Vec<MemberId> = Vec::new();
        while self.lost.get(&m).is_some_and(|l| l.taken) {
            passed.push(m);
            m = shares::rendezvous(
                ip,
                self.layout
                    .members()
                    .iter()
                    .copied()
                    .filter(|x| !passed.contains(x)),
            )?;
        }
        if m == self.me && self.suspended {
            return None;
        }
        Some(m)
    }

    // ----- the takeover rule ------------------------------------------------------------

    /// Members that count for majorities: the layout less those declared down.
    fn voters(&self) -> usize {
        self.layout.members().len() - self.lost.values().filter(|l| l.declared_down).count()
    }

    fn unreachable_voters(&self) -> usize {
        self.lost.values().filter(|l| !l.declared_down).count()
    }

    /// This member reaches a strict majority: only then may it take a share over.
    fn majority(&self) -> bool {
        (self.voters() - self.unreachable_voters()) * 2 > self.voters()
    }

    /// The members this one cannot reach are a strict majority, or were one while a member
    /// still lost was lost: that member's side may take this member's share over, so every
    /// lease it grants ends within a lease time of the last contact with it. (Reaching a
    /// majority again, through a member that also reaches that side, does not end this: the
    /// two majorities share a member and are no partition's sides.)
    fn minority_since(&self) -> Option<u64> {
        let now_minority = self.unreachable_voters() * 2 > self.voters();
        self.lost
            .values()
            .filter(|l| self.threat(l) && (now_minority || l.minority_seen))
            .map(|l| l.last_contact_ms)
            .min()
    }

    /// Whether a lost member may still hold leases on this member's share: always, unless
    /// the operator declared it down, and then until the leases it can have granted before
    /// it went down have run out.
    fn threat(&self, l: &Lost) -> bool {
        !l.declared_down
            || self.clock_ms < l.down_since_ms + self.policy.max_lease_ms() + TAKEOVER_MARGIN_MS
    }

    fn takeover_at(&self, l: &Lost) -> u64 {
        let from = if l.declared_down {
            l.down_since_ms
        } else {
            l.last_contact_ms
        };
        from + self.policy.max_lease_ms() + TAKEOVER_MARGIN_MS
    }

    /// Applies what the membership and the time now allow: takeovers that fell due, and
    /// whether a lost member may hold a takeover of this member's share (it was lost while
    /// this member was cut off from a majority, for longer than the takeover wait): then
    /// this member grants and extends nothing of its own until that member is back, even
    /// if it reaches a majority again meanwhile (a partition that heals in part).
    fn take_over_due(&mut self, now_ms: u64) {
        if self.unreachable_voters() * 2 > self.voters() {
            for l in self.lost.values_mut() {
                l.minority_seen = true;
            }
        }
        let wait = self.policy.max_lease_ms() + TAKEOVER_MARGIN_MS;
        self.suspended = self
            .lost
            .values()
            .any(|l| l.minority_seen && self.threat(l) && l.last_contact_ms + wait <= now_ms);
        let majority = self.majority();
        let due: Vec<MemberId> = self
            .lost
            .iter()
            .filter(|(_, l)| {
                !l.taken && (majority || l.declared_down) && self.takeover_at(l) <= now_ms
            })
            .map(|(m, _)| *m)
            .collect();
        for m in due {
            if let Some(l) = self.lost.get_mut(&m) {
                l.taken = true;
                self.stats.takeovers += 1;
            }
        }
    }

    /// The latest a lease on `ip` granted or renewed here may end, beyond `now + lease`.
    fn cap_ms(&self, ip: Ipv4Addr, lease_ms: u64) -> Option<u64> {
        let mut cap = None::<u64>;
        let mut limit = |t: u64| cap = Some(cap.map_or(t, |c| c.min(t)));
        // A lost member that may allocate this address reuses it once the lease runs out
        // in its view (after its quarantine): a renewal here must end by then.
        if let Some(a) = self.allocator(ip) {
            if let Some(l) = self.lost.get(&a).filter(|l| !l.declared_down) {
                limit(l.last_contact_ms + lease_ms);
            }
        }
        if let Some(since) = self.minority_since() {
            limit(since + lease_ms);
        }
        cap
    }

    /// Whether a free address (free since `since_ms` for `reason`) may be leased again.
    fn reusable(&self, since_ms: u64, reason: FreeReason, now_ms: u64) -> bool {
        if reason == FreeReason::Expired && now_ms < since_ms + REUSE_GRACE_MS {
            return false;
        }
        // A lost member may have renewed the lease (capped at its last contact with us plus
        // a lease time) without our hearing of it: after an expiry, and after a release or
        // a decline too (the client may have asked the other side for its old address, which
        // that side still sees leased to it).
        let lease = self.policy.max_lease_ms();
        self.lost.values().all(|l| {
            since_ms + REUSE_GRACE_MS <= l.last_contact_ms
                || now_ms >= l.last_contact_ms + lease + TAKEOVER_MARGIN_MS
        })
    }

    /// Whether this member may offer `ip` to `client` as a new address now.
    fn allocatable(&self, ip: Ipv4Addr, client: &ClientId, now_ms: u64) -> bool {
        if self.allocator(ip) != Some(self.me) {
            return false;
        }
        if let Some(o) = self.offers.get(&ip) {
            if o.client != *client && o.until_ms > now_ms {
                return false;
            }
        }
        match self.rows.get(&ip).map(|r| &r.state) {
            None => true,
            Some(LeaseState::Leased {
                client: c,
                expires_ms,
                ..
            }) => {
                if *expires_ms > now_ms {
                    c == client
                } else {
                    self.reusable(*expires_ms, FreeReason::Expired, now_ms)
                }
            }
            Some(LeaseState::Declined { until_ms }) => *until_ms <= now_ms,
            Some(LeaseState::Free { since_ms, reason }) => {
                self.reusable(*since_ms, *reason, now_ms)
            }
        }
    }

    // ----- the table ----------------------------------------------------------------------

    fn tick(&mut self, now_ms: u64) {
        self.clock_ms = self.clock_ms.max(now_ms);
    }

    fn pool_of(&self, ip: Ipv4Addr) -> Option<usize> {
        self.policy.pools.iter().position(|p| p.in_network(ip))
    }

    fn active_client(&self, ip: Ipv4Addr, now_ms: u64) -> Option<&ClientId> {
        match self.rows.get(&ip).map(|r| &r.state) {
            Some(LeaseState::Leased {
                client, expires_ms, ..
            }) if *expires_ms > now_ms => Some(client),
            _ => None,
        }
    }

    /// The client's active lease in `pool`.
    fn lease_of(&self, pool: usize, client: &ClientId, now_ms: u64) -> Option<Ipv4Addr> {
        let ip = *self.by_client.get(&(pool, client.clone()))?;
        (self.active_client(ip, now_ms) == Some(client)).then_some(ip)
    }

    /// A change made here: applied, and queued for the next batch. Its stamp is above the
    /// row's, so that a change made after seeing another (a renewal of a peer's grant in the
    /// same millisecond, or from a peer whose clock is ahead) is ordered after it everywhere.
    fn record(&mut self, ip: Ipv4Addr, state: LeaseState) {
        let mut ms = self.clock_ms;
        let mut seq = self.seq + 1;
        if let Some(row) = self.rows.get(&ip) {
            ms = ms.max(row.stamp.ms);
            if ms == row.stamp.ms {
                seq = seq.max(row.stamp.seq + 1);
            }
        }
        self.seq = seq;
        let change = LeaseChange {
            ip,
            stamp: Stamp {
                ms,
                seq,
                member: self.me,
            },
            state,
        };
        self.set_row(ip, change.stamp, change.state.clone());
        self.open.push(change);
    }

    fn merge(&mut self, c: LeaseChange, now_ms: u64) {
        if let Some(row) = self.rows.get(&c.ip) {
            if !supersedes(&c, row) {
                return;
            }
            if let (Some(held), Some(new)) =
                (self.active_client(c.ip, now_ms), c.active_client(now_ms))
            {
                if held != new {
                    self.stats.conflicts += 1;
                }
            }
        }
        if let Some(new) = c.active_client(now_ms) {
            if self.offers.get(&c.ip).is_some_and(|o| o.client != *new) {
                self.drop_offer(c.ip);
            }
        }
        self.set_row(c.ip, c.stamp, c.state);
    }

    fn set_row(&mut self, ip: Ipv4Addr, stamp: Stamp, state: LeaseState) {
        let pool = self.pool_of(ip);
        if let Some(old) = self.rows.remove(&ip) {
            match old.state {
                LeaseState::Leased {
                    client, expires_ms, ..
                } => {
                    self.expiry.remove(&(expires_ms, ip));
                    if let Some(p) = pool {
                        let key = (p, client);
                        if self.by_client.get(&key) == Some(&ip) {
                            self.by_client.remove(&key);
                        }
                    }
                }
                LeaseState::Declined { until_ms } => {
                    self.expiry.remove(&(until_ms, ip));
                }
                LeaseState::Free { .. } => {}
            }
        }
        match &state {
            LeaseState::Leased {
                client, expires_ms, ..
            } => {
                self.expiry.insert((*expires_ms, ip));
                if let Some(p) = pool {
                    self.by_client.insert((p, client.clone()), ip);
                }
            }
            LeaseState::Declined { until_ms } => {
                self.expiry.insert((*until_ms, ip));
            }
            LeaseState::Free { .. } => {}
        }
        self.rows.insert(ip, Row { stamp, state });
    }

    fn offer(&mut self, pool: usize, ip: Ipv4Addr, client: &ClientId, now_ms: u64) {
        if let Some(old) = self.offers_by_client.get(&(pool, client.clone())).copied() {
            if old != ip {
                self.drop_offer(old);
            }
        }
        if let Some(o) = self.offers.remove(&ip) {
            self.offer_expiry.remove(&(o.until_ms, ip));
        }
        let until_ms = now_ms + OFFER_HOLD_MS;
        self.offers.insert(
            ip,
            Offer {
                client: client.clone(),
                until_ms,
            },
        );
        self.offer_expiry.insert((until_ms, ip));
        self.offers_by_client.insert((pool, client.clone()), ip);
    }

    fn drop_offer(&mut self, ip: Ipv4Addr) {
        if let Some(o) = self.offers.remove(&ip) {
            self.offer_expiry.remove(&(o.until_ms, ip));
            if let Some(p) = self.pool_of(ip) {
                let key = (p, o.client);
                if self.offers_by_client.get(&key) == Some(&ip) {
                    self.offers_by_client.remove(&key);
                }
            }
        }
    }

    /// A free address of this member's share in `pool`, the client's requested one if it
    /// may have it. Scans from where the last allocation stopped.
    fn allocate(
        &mut self,
        pool: usize,
        client: &ClientId,
        requested: Option<Ipv4Addr>,
        now_ms: u64,
    ) -> Option<Ipv4Addr> {
        let p = &self.policy.pools[pool];
        if let Some(ip) = requested {
            if p.in_ranges(ip) && self.allocatable(ip, client, now_ms) {
                return Some(ip);
            }
        }
        let size = p.size();
        let start = self.cursors[pool];
        for i in 0..size {
            let idx = (start + i) % size;
            let ip = nth_address(p, idx);
            if self.allocatable(ip, client, now_ms) {
                self.cursors[pool] = (idx + 1) % size;
                return Some(ip);
            }
        }
        None
    }

    /// Leases (or renews) `ip` to the client for the pool's lease time, within the takeover
    /// rule's cap. None: the cap leaves less than a second.
    fn grant(&mut self, pool: usize, ip: Ipv4Addr, req: &Request, now_ms: u64) -> Option<u64> {
        let lease_ms = self.policy.pools[pool].lease_ms();
        let mut end = now_ms + lease_ms;
        if let Some(cap) = self.cap_ms(ip, lease_ms) {
            end = end.min(cap);
        }
        let secs = end.saturating_sub(now_ms) / 1000;
        if secs == 0 {
            self.stats.drops.fenced += 1;
            return None;
        }
        let expires_ms = now_ms + secs * 1000;
        self.drop_offer(ip);
        self.record(
            ip,
            LeaseState::Leased {
                client: req.client.clone(),
                mac: req.mac,
                expires_ms,
            },
        );
        Some(expires_ms)
    }

    // ----- messages ---------------------------------------------------------------------

    fn select_pool(&self, msg: &Message, ctx: PacketContext) -> Option<usize> {
        let at = if msg.giaddr().is_unspecified() {
            ctx.interface
        } else {
            msg.giaddr()
        };
        self.pool_of(at)
    }

    fn discover(&mut self, msg: &Message, req: &Request, ctx: PacketContext, now_ms: u64) {
        let Some(pool) = self.select_pool(msg, ctx) else {
            self.stats.drops.no_pool += 1;
            return;
        };
        let p = &self.policy.pools[pool];
        if let Some(ip) = p.static_for(req.mac) {
            let lease = p.lease_secs;
            self.send(msg, MessageType::Offer, ip, Some(pool), Some(lease));
            self.stats.offers += 1;
            return;
        }
        // The client's lease is offered again only by the address's allocator: the client
        // claims nothing in a DISCOVER, and another member's view of the lease may be stale
        // (a release it has not heard of, the address already leased anew). A lost
        // allocator's client gets a fresh address here.
        let existing = self.lease_of(pool, &req.client, now_ms);
        if let Some(ip) = existing {
            if self.allocator(ip) != Some(self.me) && !self.may_extend(ip) {
                self.stats.drops.other_allocator += 1;
                return;
            }
        }
        let ip = if let Some(ip) = existing.filter(|ip| self.allocator(*ip) == Some(self.me)) {
            ip
        } else if let Some(ip) = self
            .offers_by_client
            .get(&(pool, req.client.clone()))
            .copied()
            .filter(|ip| self.allocatable(*ip, &req.client, now_ms))
        {
            if self.probing.contains_key(&ip) {
                // A retransmitted DISCOVER: the probe's answer will offer it.
                return;
            }
            ip
        } else {
            if !self.syncing.is_empty() {
                self.stats.drops.syncing += 1;
                return;
            }
            let Some(ip) = self.allocate(pool, &req.client, req.requested, now_ms) else {
                self.stats.drops.exhausted += 1;
                return;
            };
            if self.offer_secs(pool, ip, now_ms).is_none() {
                self.stats.drops.fenced += 1;
                return;
            }
            // The client's own address (a lease of its that the index did not point to) is
            // not probed: the client itself would answer.
            let own = self.active_client(ip, now_ms) == Some(&req.client);
            if let Some(timeout) = self.policy.ping_timeout.filter(|_| !own) {
                self.offer(pool, ip, &req.client, now_ms);
                self.probing.insert(
                    ip,
                    Probing {
                        msg: msg.clone(),
                        ctx,
                    },
                );
                self.stats.probes += 1;
                self.out.push_back(Output::Probe { ip, timeout });
                return;
            }
            ip
        };
        let Some(secs) = self.offer_secs(pool, ip, now_ms) else {
            self.stats.drops.fenced += 1;
            return;
        };
        self.offer(pool, ip, &req.client, now_ms);
        self.send(msg, MessageType::Offer, ip, Some(pool), Some(secs));
        self.stats.offers += 1;
    }

    fn request(&mut self, msg: &Message, req: &Request, ctx: PacketContext, now_ms: u64) {
        if let Some(server) = req.server_id {
            // SELECTING: the client chose an offer.
            if server != self.server_ip {
                if let Some(pool) = self.select_pool(msg, ctx) {
                    if let Some(ip) = self.offers_by_client.get(&(pool, req.client.clone())) {
                        let ip = *ip;
                        self.drop_offer(ip);
                    }
                }
                self.stats.drops.other_server += 1;
                return;
            }
            let (Some(pool), Some(ip)) = (self.select_pool(msg, ctx), req.requested) else {
                self.stats.drops.malformed += 1;
                return;
            };
            let p = &self.policy.pools[pool];
            if let Some(s) = p.static_for(req.mac) {
                if s == ip {
                    let lease = p.lease_secs;
                    self.ack_now(msg, ip, pool, lease);
                } else {
                    self.nak(msg);
                }
                return;
            }
            let offered = self.offers.get(&ip).is_some_and(|o| o.client == req.client);
            let leased = self.lease_of(pool, &req.client, now_ms) == Some(ip);
            let taken = self
                .active_client(ip, now_ms)
                .is_some_and(|c| *c != req.client);
            if (offered || leased) && !taken && p.in_ranges(ip) {
                self.ack_lease(msg, pool, ip, req, now_ms);
            } else {
                self.nak(msg);
            }
            return;
        }
        if msg.ciaddr().is_unspecified() {
            // INIT-REBOOT: the client asks for the address it had.
            let Some(ip) = req.requested else {
                self.stats.drops.malformed += 1;
                return;
            };
            let Some(pool) = self.select_pool(msg, ctx) else {
                self.stats.drops.no_pool += 1;
                return;
            };
            let p = &self.policy.pools[pool];
            if !p.in_network(ip) {
                self.nak(msg);
                return;
            }
            if let Some(s) = p.static_for(req.mac) {
                if s == ip {
                    let lease = p.lease_secs;
                    self.ack_now(msg, ip, pool, lease);
                } else {
                    self.nak(msg);
                }
                return;
            }
            match self.active_client(ip, now_ms) {
                Some(c) if *c == req.client => self.ack_lease(msg, pool, ip, req, now_ms),
                Some(_) => self.nak(msg),
                None if self.lease_of(pool, &req.client, now_ms).is_some() => self.nak(msg),
                None => self.stats.drops.unknown_client += 1,
            }
            return;
        }
        // RENEWING (unicast to us) or REBINDING (broadcast): extend the lease on ciaddr,
        // whoever granted it.
        let ip = msg.ciaddr();
        let Some(pool) = self.pool_of(ip) else {
            self.stats.drops.no_pool += 1;
            return;
        };
        let p = &self.policy.pools[pool];
        if p.static_for(req.mac) == Some(ip) {
            let lease = p.lease_secs;
            self.ack_now(msg, ip, pool, lease);
            return;
        }
        match self.active_client(ip, now_ms) {
            Some(c) if *c == req.client => self.ack_lease(msg, pool, ip, req, now_ms),
            Some(_) => self.nak(msg),
            None => self.stats.drops.unknown_client += 1,
        }
    }

    fn decline(&mut self, req: &Request, now_ms: u64) {
        if req.server_id.is_some_and(|s| s != self.server_ip) {
            self.stats.drops.other_server += 1;
            return;
        }
        let Some(ip) = req.requested else {
            self.stats.drops.malformed += 1;
            return;
        };
        if self.active_client(ip, now_ms) != Some(&req.client) {
            self.stats.drops.unknown_client += 1;
            return;
        }
        self.record(
            ip,
            LeaseState::Declined {
                until_ms: now_ms + DECLINE_HOLD_MS,
            },
        );
    }

    fn release(&mut self, msg: &Message, req: &Request, now_ms: u64) {
        if req.server_id.is_some_and(|s| s != self.server_ip) {
            self.stats.drops.other_server += 1;
            return;
        }
        let ip = msg.ciaddr();
        if self.active_client(ip, now_ms) != Some(&req.client) {
            self.stats.drops.unknown_client += 1;
            return;
        }
        self.record(
            ip,
            LeaseState::Free {
                since_ms: now_ms,
                reason: FreeReason::Released,
            },
        );
    }

    fn inform(&mut self, msg: &Message, ctx: PacketContext) {
        let pool = self
            .pool_of(msg.ciaddr())
            .or_else(|| self.select_pool(msg, ctx));
        let Some(pool) = pool else {
            self.stats.drops.no_pool += 1;
            return;
        };
        self.send(
            msg,
            MessageType::Ack,
            Ipv4Addr::UNSPECIFIED,
            Some(pool),
            None,
        );
        self.stats.acks += 1;
    }

    // ----- replies ----------------------------------------------------------------------

    /// The lease time an offer of `ip` can carry now: None if the cap leaves under a second.
    fn offer_secs(&self, pool: usize, ip: Ipv4Addr, now_ms: u64) -> Option<u32> {
        let lease_ms = self.policy.pools[pool].lease_ms();
        let end = self
            .cap_ms(ip, lease_ms)
            .map_or(now_ms + lease_ms, |c| c.min(now_ms + lease_ms));
        let secs = end.saturating_sub(now_ms) / 1000;
        (secs > 0).then_some(secs as u32)
    }

    /// Whether this member may grant or extend a lease on `ip`: it is the address's
    /// allocator, or the allocator is lost. While the allocator can be reached, it alone
    /// extends its addresses' leases, so that its own table always knows how long each one
    /// runs and it never reuses an address whose renewal is still on its way to it (any
    /// delay, not just a grace time). A client whose server stays silent rebinds (broadcast)
    /// and the allocator answers.
    fn may_extend(&self, ip: Ipv4Addr) -> bool {
        match self.allocator(ip) {
            Some(a) => a == self.me || self.lost.contains_key(&a),
            None => false,
        }
    }

    fn ack_lease(&mut self, msg: &Message, pool: usize, ip: Ipv4Addr, req: &Request, now_ms: u64) {
        if !self.may_extend(ip) {
            self.stats.drops.other_allocator += 1;
            return;
        }
        let Some(expires_ms) = self.grant(pool, ip, req, now_ms) else {
            return;
        };
        let lease = self.policy.pools[pool].lease_secs;
        let reply = self.build(msg, MessageType::Ack, ip, Some(pool), Some(lease));
        let to = destination(msg, MessageType::Ack);
        self.open_held.push(Held {
            msg: reply,
            to,
            lease: Some((req.client.clone(), expires_ms)),
        });
    }

    /// A static binding's ACK: the configuration is durable already.
    fn ack_now(&mut self, msg: &Message, ip: Ipv4Addr, pool: usize, lease: u32) {
        self.send(msg, MessageType::Ack, ip, Some(pool), Some(lease));
        self.stats.acks += 1;
    }

    fn nak(&mut self, msg: &Message) {
        self.send(msg, MessageType::Nak, Ipv4Addr::UNSPECIFIED, None, None);
        self.stats.naks += 1;
    }

    fn send(
        &mut self,
        msg: &Message,
        kind: MessageType,
        yiaddr: Ipv4Addr,
        pool: Option<usize>,
        lease_secs: Option<u32>,
    ) {
        let reply = self.build(msg, kind, yiaddr, pool, lease_secs);
        let to = destination(msg, kind);
        if let Some(r) = encode(&reply, to) {
            self.out.push_back(Output::Reply(r));
        }
    }

    /// Encodes a held ACK with the lease time that remains now.
    fn finish(&mut self, h: Held, now_ms: u64) -> Option<Reply> {
        let mut msg = h.msg;
        if let Some((client, expires_ms)) = h.lease {
            let holds = match self.rows.get(&msg.yiaddr()).map(|r| &r.state) {
                Some(LeaseState::Leased {
                    client: c,
                    expires_ms: e,
                    ..
                }) => *c == client && *e >= expires_ms,
                _ => false,
            };
            if !holds {
                self.stats.drops.superseded += 1;
                return None;
            }
            let secs = expires_ms.saturating_sub(now_ms) / 1000;
            if secs == 0 {
                self.stats.drops.expired_before_durable += 1;
                return None;
            }
            set_lease_times(msg.opts_mut(), secs as u32);
        }
        encode(&msg, h.to)
    }

    /// The reply to `req` (RFC 2131 table 3): the request's xid, flags, giaddr and chaddr,
    /// our server identifier, the pool's options and the relay agent's option 82 echoed.
    fn build(
        &self,
        req: &Message,
        kind: MessageType,
        yiaddr: Ipv4Addr,
        pool: Option<usize>,
        lease_secs: Option<u32>,
    ) -> Message {
        let mut r = req.clone();
        r.set_opcode(Opcode::BootReply)
            .set_hops(0)
            .set_secs(0)
            .set_yiaddr(yiaddr)
            .set_siaddr(Ipv4Addr::UNSPECIFIED);
        r.clear_sname();
        r.clear_fname();
        let keep_ciaddr = kind == MessageType::Ack;
        if !keep_ciaddr {
            r.set_ciaddr(Ipv4Addr::UNSPECIFIED);
        }
        if kind == MessageType::Nak && !req.giaddr().is_unspecified() {
            r.set_flags(req.flags().set_broadcast());
        }
        let mut opts = DhcpOptions::new();
        opts.insert(DhcpOption::MessageType(kind));
        opts.insert(DhcpOption::ServerIdentifier(self.server_ip));
        if let Some(p) = pool.map(|p| &self.policy.pools[p]) {
            if let Some(secs) = lease_secs {
                set_lease_times(&mut opts, secs);
            }
            pool_options(&mut opts, p);
        }
        if let Some(DhcpOption::RelayAgentInformation(info)) =
            req.opts().get(OptionCode::RelayAgentInformation)
        {
            opts.insert(DhcpOption::RelayAgentInformation(
                RelayAgentInformation::clone(info),
            ));
        }
        r.set_opts(opts);
        r
    }
}

/// Whether change `c` replaces `row`. Last writer wins by stamp, except that an expiry
/// reclaim never removes a lease or a decline hold that outlives it (a renewal, or a
/// decline, the reclaiming member had not seen), and such a change replaces the reclaim
/// whatever the stamps. The two rules are each other's negation, so for any two changes the
/// result is the same in whichever order a member hears them.
fn supersedes(c: &LeaseChange, row: &Row) -> bool {
    /// When a lease or a decline hold ends.
    fn end(state: &LeaseState) -> Option<u64> {
        match state {
            LeaseState::Leased { expires_ms, .. } => Some(*expires_ms),
            LeaseState::Declined { until_ms } => Some(*until_ms),
            LeaseState::Free { .. } => None,
        }
    }
    fn reclaim(state: &LeaseState) -> Option<u64> {
        match state {
            LeaseState::Free {
                since_ms,
                reason: FreeReason::Expired,
            } => Some(*since_ms),
            _ => None,
        }
    }
    match (
        reclaim(&c.state),
        end(&row.state),
        end(&c.state),
        reclaim(&row.state),
    ) {
        (Some(since), Some(end), _, _) => end <= since && c.stamp > row.stamp,
        (_, _, Some(end), Some(since)) => end > since || c.stamp > row.stamp,
        _ => c.stamp > row.stamp,
    }
}

/// What the core reads from a request.
struct Request {
    client: ClientId,
    mac: Mac,
    requested: Option<Ipv4Addr>,
    server_id: Option<Ipv4Addr>,
}

impl Request {
    fn new(msg: &Message) -> Request {
        let chaddr = msg.chaddr();
        let hw = &chaddr[..(msg.hlen() as usize).min(chaddr.len())];
        let client = match msg.opts().get(OptionCode::ClientIdentifier) {
            Some(DhcpOption::ClientIdentifier(id)) if !id.is_empty() => ClientId(id.clone()),
            _ => ClientId(
                std::iter::once(u8::from(msg.htype()))
                    .chain(hw.iter().copied())
                    .collect(),
            ),
        };
        let mut mac = [0u8; 6];
        for (m, b) in mac.iter_mut().zip(chaddr) {
            *m = *b;
        }
        let requested = match msg.opts().get(OptionCode::RequestedIpAddress) {
            Some(DhcpOption::RequestedIpAddress(ip)) => Some(*ip),
            _ => None,
        };
        let server_id = match msg.opts().get(OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(ip)) => Some(*ip),
            _ => None,
        };
        Request {
            client,
            mac: Mac(mac),
            requested,
            server_id,
        }
    }
}

fn set_lease_times(opts: &mut DhcpOptions, secs: u32) {
    opts.insert(DhcpOption::AddressLeaseTime(secs));
    opts.insert(DhcpOption::Renewal(secs / 2));
    opts.insert(DhcpOption::Rebinding((secs as u64 * 7 / 8) as u32));
}

fn pool_options(opts: &mut DhcpOptions, p: &PoolSpec) {
    opts.insert(DhcpOption::SubnetMask(p.mask()));
    if !p.routers.is_empty() {
        opts.insert(DhcpOption::Router(p.routers.clone()));
    }
    if !p.dns_servers.is_empty() {
        opts.insert(DhcpOption::DomainNameServer(p.dns_servers.clone()));
    }
    if let Some(d) = &p.domain_name {
        opts.insert(DhcpOption::DomainName(d.clone()));
    }
    for (code, value) in &p.options {
        opts.insert(DhcpOption::Unknown(UnknownOption::new(
            OptionCode::from(*code),
            value.clone(),
        )));
    }
}

/// RFC 2131 4.1: to the relay when relayed; broadcast when the client has no address yet or
/// asked for it (and every NAK); else to the client's address.
fn destination(req: &Message, kind: MessageType) -> Destination {
    if !req.giaddr().is_unspecified() {
        return Destination::Unicast(SocketAddrV4::new(req.giaddr(), dhcproto::v4::SERVER_PORT));
    }
    if kind == MessageType::Nak || req.ciaddr().is_unspecified() || req.flags().broadcast() {
        return Destination::Broadcast {
            port: dhcproto::v4::CLIENT_PORT,
        };
    }
    Destination::Unicast(SocketAddrV4::new(req.ciaddr(), dhcproto::v4::CLIENT_PORT))
}

fn encode(msg: &Message, to: Destination) -> Option<Reply> {
    let mut bytes = Vec::with_capacity(512);
    msg.encode(&mut Encoder::new(&mut bytes)).ok()?;
    Some(Reply { to, bytes })
}

/// The `idx`-th address of the pool's ranges.
fn nth_address(p: &PoolSpec, mut idx: u64) -> Ipv4Addr {
    for r in &p.ranges {
        if idx < r.len() {
            return Ipv4Addr::from(u32::from(r.start) + idx as u32);
        }
        idx -= r.len();
    }
    p.ranges[0].start
}
