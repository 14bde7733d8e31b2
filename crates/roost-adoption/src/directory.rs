//! The cluster-wide AP table as a sans-IO core: which member adopts which AP, replicated on
//! the member channel (`roost_wire::aps`). Each member owns the rows of the APs it adopts;
//! the others keep a copy per owner, versioned within the owner's boot (its epoch).
//!
//! Rules:
//! * **Own rows** change when this member adopts or releases an AP ([`Directory::handle_adopted`],
//!   [`Directory::handle_released`]). Changes are batched ([`FLUSH_INTERVAL`]) into one
//!   `Delta` per batch (one version each), sent to every connected peer.
//! * **A digest** every [`DIGEST_INTERVAL`] to each connected peer, and at once to a peer that
//!   (re)connects. A receiver whose copy is not at the digest's version asks for the whole
//!   table (`Pull`, at most once per [`PULL_RETRY`] per owner); the owner sends it in chunks
//!   below the member channel's message limit. Deltas that arrive while a copy is assembled
//!   are kept (bounded) and applied after it, so that a table that changes all the time (an
//!   adoption storm) still converges.
//! * **A release frees its license only when every member has seen it.** Each receiver
//!   acknowledges the version its copy is at (`Ack`, after each delta or copy and at each
//!   digest); until every known member (connected or lost) has acknowledged the delta that
//!   removed a row, the owner keeps the license ([`Directory::reserved`]) and counts it in
//!   its hellos. Otherwise a member cut off with a stale copy could license the AP from the
//!   owner's grace share while the owner gave the same license to another AP. A *lost*
//!   member need not acknowledge a release whose AP another member holds on a license that
//!   this side counts ([`Directory::settle_tombstones`] has the rule and why it is sound):
//!   otherwise an AP that moved to another member before a third one died would be counted
//!   twice for the whole grace period, and the licenses of every AP balanced away meanwhile
//!   would stay out of the pool.
//! * **Lost members keep their rows**: they are what the survivors may license from the lost
//!   member's grace share ([`Directory::grace`]): exactly those APs, no others.
//! * **Duplicates** (two connected members claim one AP, e.g. after a partition healed): the
//!   later claim (`since_ms`) wins, on a tie the lower member id; the loser drops its row and
//!   releases the AP ([`DirectoryOutput::Release`]). The later claim is where the AP last
//!   joined, so it is the session the AP is in; the other one is stale. Members' clocks are
//!   compared here: a skew larger than the gap between two claims can pick the stale one, and
//!   then the AP notices its dead controller and joins again (it is never held twice).

use crate::placement::{Held, LicenseKind};
use crate::Instant;
use roost_wire::{ApRecord, ApTableMessage, Mac, MemberId};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// Own changes are sent at most this long after they happened.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// Every connected peer hears this member's table version this often.
pub const DIGEST_INTERVAL: Duration = Duration::from_secs(1);
/// A full copy not complete after this long is asked for again.
pub const PULL_RETRY: Duration = Duration::from_secs(1);
/// Encoded rows per message, bounded well below `roost_wire::member::MAX_MESSAGE`.
const MESSAGE_BYTES: usize = 48 * 1024;
/// Deltas kept while a full copy is assembled.
const BUFFERED_DELTAS: usize = 1024;
/// A full copy in more chunks than this is refused (a bound on what a peer makes us keep).
const MAX_CHUNKS: u32 = 4096;

/// What the directory asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirectoryOutput {
    /// Send to one member.
    Send { to: MemberId, msg: ApTableMessage },
    /// This member lost a duplicate claim: release its session for `mac`.
    Release { mac: Mac, winner: MemberId },
    /// `member` died and this member is the one to tell its APs (the connected member with
    /// the lowest id, so that each AP hears it once): hand `aps` to
    /// [`crate::Adoption::handle_member_lost`].
    MemberLost {
        member: MemberId,
        aps: Vec<crate::LostAp>,
    },
}

/// One row as every face shows it: the AP and who adopts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryRow<'a> {
    pub owner: MemberId,
    pub record: &'a ApRecord,
}

struct Assembly {
    epoch: u32,
    version: u64,
    chunks: Vec<Option<Vec<ApRecord>>>,
    missing: u32,
}

/// A delta kept while a full copy is assembled: (epoch, from, to, upserts, removed).
type BufferedDelta = (u32, u64, u64, Vec<ApRecord>, Vec<Mac>);

#[derive(Default)]
struct Peer {
    connected: bool,
    /// The owner's boot and the version our copy is at (None: no copy yet).
    at: Option<(u32, u64)>,
    rows: HashMap<Mac, ApRecord>,
    assembly: Option<Assembly>,
    buffered: VecDeque<BufferedDelta>,
    pulled_at: Option<Instant>,
    /// The version of our table its copy acknowledged (this boot's).
    acked: Option<u64>,
}

/// The lost members' APs that this member may license from their grace shares, and, per
/// connected member, how many of the APs it holds are such APs (licensed from a grace share,
/// not from the free pool).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grace {
    /// Lost members' APs no connected peer holds: each may join here on its grace license.
    pub macs: Arc<HashMap<Mac, LicenseKind>>,
    /// Of those, the ones whose adoption mapped them to a profile other than their model's
    /// default: the profile (they keep their first mapping here).
    pub profiles: Arc<HashMap<Mac, String>>,
    /// Per lost member: how many of its licenses its APs take (capped at what it has).
    pub lost_rows: HashMap<MemberId, Held>,
    /// Per connected peer: how many of the APs it holds are a lost member's.
    pub covered: HashMap<MemberId, Held>,
    /// This member's released APs whose licenses it still holds ([`Directory::reserved`]):
    /// such an AP may come back on its own license.
    pub reserved: Held,
    pub reserved_macs: Arc<std::collections::HashSet<Mac>>,
}

/// The replicated AP table. See the module docs.
pub struct Directory {
    me: MemberId,
    epoch: u32,
    version: u64,
    own: BTreeMap<Mac, ApRecord>,
    pending: BTreeMap<Mac, Option<ApRecord>>,
    /// Released APs whose removal not every member has acknowledged: the license, and the
    /// version that carries the removal (`u64::MAX` until it is sent).
    tombstones: BTreeMap<Mac, (LicenseKind, u64)>,
    flush_at: Option<Instant>,
    digest_at: Option<Instant>,
    peers: BTreeMap<MemberId, Peer>,
    out: VecDeque<DirectoryOutput>,
    changes: u64,
    /// Bumped when what [`Directory::grace`] derives from changed (peers' rows, who is
    /// connected, the tombstones); this member's own adoptions leave it alone, so that an
    /// adoption storm does not recompute the grace shares per datagram.
    grace_changes: u64,
    /// The licenses the tombstones and the previous boot's APs hold ([`Directory::reserved`]),
    /// kept as they change.
    reserved: Held,
    /// APs this member's previous boot held, not yet accounted for in this boot
    /// ([`Directory::handle_previous_boot`]).
    previous: BTreeMap<Mac, LicenseKind>,
    /// When the previous boot's hold ends (the licensing grace period after this boot began).
    previous_until: Option<Instant>,
    /// Bumped when the own rows or `previous` change: what the composition persists.
    own_changes: u64,
}

fn kind(r: &ApRecord) -> LicenseKind {
    LicenseKind::of_thin(r.thin)
}

impl Directory {
    /// `epoch` is this member's boot counter: versions are numbered within it.
    pub fn new(me: MemberId, epoch: u32) -> Directory {
        Directory {
            me,
            epoch,
            version: 0,
            own: BTreeMap::new(),
            pending: BTreeMap::new(),
            tombstones: BTreeMap::new(),
            flush_at: None,
            digest_at: None,
            peers: BTreeMap::new(),
            out: VecDeque::new(),
            changes: 0,
            grace_changes: 0,
            reserved: Held::default(),
            previous: BTreeMap::new(),
            previous_until: None,
            own_changes: 0,
        }
    }

    /// The APs this member's previous boot held (what the composition persisted, at most a
    /// moment stale). Their licenses stay reserved here, each AP may come back on its own,
    /// until it is accounted for in this boot: it joins here again, or a connected member's
    /// rows show it. Why: while this member was down the survivors licensed those APs from
    /// its grace share, its own licenses; restarted where they cannot hear it (a partition),
    /// it would otherwise spend those licenses again (balancing seed 1923). A connected
    /// member that holds one counts it in its hellos (its copy of the previous boot's table
    /// is dropped when it hears this boot), so the reservation is no longer needed. At
    /// `until` (the licensing grace period after this boot began: the survivors' grace shares
    /// for that boot have ended too) the rest is no longer held.
    pub fn handle_previous_boot(
        &mut self,
        aps: impl IntoIterator<Item = (Mac, LicenseKind)>,
        until: Instant,
    ) {
        self.previous_until = Some(until);
        for (mac, kind) in aps {
            if self.own.contains_key(&mac) || self.tombstones.contains_key(&mac) {
                continue;
            }
            if self.previous.insert(mac, kind).is_none() {
                self.reserved.add(kind);
            }
        }
        self.own_changes += 1;
        self.grace_changes += 1;
        self.settle_previous();
    }

    /// The previous boot's hold has ended: an AP still unaccounted for is no longer held.
    fn expire_previous_boot(&mut self) {
        self.previous_until = None;
        if self.previous.is_empty() {
            return;
        }
        for k in std::mem::take(&mut self.previous).into_values() {
            self.reserved.remove(k);
        }
        self.own_changes += 1;
        self.grace_changes += 1;
    }

    /// Drops the previous boot's APs that a connected member's rows show.
    fn settle_previous(&mut self) {
        if self.previous.is_empty() {
            return;
        }
        let before = self.previous.len();
        let peers = &self.peers;
        let reserved = &mut self.reserved;
        self.previous.retain(|mac, k| {
            let held = peers
                .values()
                .any(|p| p.connected && p.rows.contains_key(mac));
            if held {
                reserved.remove(*k);
            }
            !held
        });
        if self.previous.len() != before {
            self.own_changes += 1;
            self.grace_changes += 1;
        }
    }

    /// What the composition persists so that its next boot knows what this one held
    /// ([`Directory::handle_previous_boot`]): the own rows, the released APs whose licenses
    /// are still reserved (a member with a stale copy may license one from this member's grace
    /// share: balancing seed 4154), and the previous boot's APs still reserved. Changes are
    /// counted by [`Directory::own_changes`].
    pub fn persisted_aps(&self) -> Vec<(Mac, LicenseKind)> {
        self.own
            .values()
            .map(|r| (r.mac, kind(r)))
            .chain(self.tombstones.iter().map(|(m, (k, _))| (*m, *k)))
            .chain(self.previous.iter().map(|(m, k)| (*m, *k)))
            .collect()
    }

    pub fn own_changes(&self) -> u64 {
        self.own_changes
    }

    /// This member adopted an AP (or its row changed).
    pub fn handle_adopted(&mut self, record: ApRecord, now: Instant) {
        let mac = record.mac;
        // A connected peer's later claim on it wins at once (it is where the AP went).
        if let Some(winner) = self.winner_over_own(&record) {
            self.out.push_back(DirectoryOutput::Release { mac, winner });
            return;
        }
        // Held again: its session holds the license now.
        if let Some((k, _)) = self.tombstones.remove(&mac) {
            self.reserved.remove(k);
            self.grace_changes += 1;
        }
        if let Some(k) = self.previous.remove(&mac) {
            self.reserved.remove(k);
            self.grace_changes += 1;
        }
        self.own_changes += 1;
        self.own.insert(mac, record.clone());
        self.pending.insert(mac, Some(record));
        self.changed(now);
    }

    /// This member released an AP. `own_license`: it held it on a license of its own pool
    /// (not on a lost member's grace share, to which the license simply returns).
    pub fn handle_released(&mut self, mac: Mac, own_license: bool, now: Instant) {
        if let Some(r) = self.own.remove(&mac) {
            self.own_changes += 1;
            self.remove_own(mac, kind(&r), own_license);
            self.changed(now);
        }
    }

    fn remove_own(&mut self, mac: Mac, kind: LicenseKind, reserve: bool) {
        self.pending.insert(mac, None);
        if self.peers.is_empty() || !reserve {
            return;
        }
        if let Some((k, _)) = self.tombstones.insert(mac, (kind, u64::MAX)) {
            self.reserved.remove(k);
        }
        self.reserved.add(kind);
        self.grace_changes += 1;
        self.own_changes += 1;
    }

    /// Licenses of released APs that not every member has seen go (see the module docs):
    /// this member still counts them as held.
    pub fn reserved(&self) -> Held {
        self.reserved
    }

    /// The released APs (and the previous boot's) whose licenses [`Directory::reserved`]
    /// counts.
    pub fn reserved_macs(&self) -> impl Iterator<Item = Mac> + '_ {
        self.tombstones.keys().chain(self.previous.keys()).copied()
    }

    /// Drops the tombstones every known member has acknowledged, or need not.
    ///
    /// A connected member acknowledges every release: its copy is what it would license
    /// from if it were cut off later. A lost member (its hellos no longer arrive: dead, or
    /// across a partition with whatever copy it had) may hold a stale copy that still shows
    /// the AP here; the tombstone keeps the license counted here so that, if that member
    /// licenses the AP from this member's grace share, the same license is not also given to
    /// another AP on this side. That is only needed while nothing else on this side counts
    /// the AP. A lost member need not acknowledge when the AP is *accounted elsewhere*
    /// ([`Directory::accounted_elsewhere`]): exactly one connected member holds a row for it
    /// in this copy, and that member has acknowledged the release itself (lost members may
    /// hold rows for it too, below). Then:
    /// * its copy no longer shows the AP here, so its session is not licensed on this
    ///   member's handback share (and no other member's row, lost or handing back, makes it
    ///   a grace AP there): it is counted in that member's hellos against this side's free
    ///   pool, as held, for as long as it holds the AP, and as its own reserved license (a
    ///   tombstone of its own, under this same rule) after it releases it;
    /// * if it is lost in turn, the AP is in its rows, its grace share, backed by its own
    ///   licenses (a lost member's unused licenses count on no side, so those are not spent
    ///   otherwise; see [`placement::admission`](crate::placement::admission)).
    ///
    /// So the AP stays counted once on this side whatever the lost member does with its
    /// stale copy: if it licenses the AP from this member's share, that is the same AP, one
    /// license (it cannot be in two sessions at once; after the heal the duplicate rule
    /// keeps one). The license this member frees was counted twice until now, here and
    /// there. A member that is merely slow (connected) still acknowledges.
    ///
    /// A lost member that holds a row for the AP itself (it had the AP when it was lost:
    /// here the AP is in its grace share, counted on its licenses) counts the AP on its own
    /// side as well: in its session, or, once it released it, in a tombstone of its own that
    /// this side cannot acknowledge while it is lost. So if it licenses the AP from a stale
    /// copy of this member's table, that AP is counted there already, and the license this
    /// member frees is still not spent twice (balancing seed 1560: three licenses held back
    /// for a dead member's acknowledgement left an AP out for the grace period).
    fn settle_tombstones(&mut self) {
        self.settle_previous();
        if self.tombstones.is_empty() {
            return;
        }
        let before = self.tombstones.len();
        let peers = &self.peers;
        let reserved = &mut self.reserved;
        self.tombstones.retain(|mac, (k, v)| {
            let seen = |p: &Peer| p.acked.is_some_and(|a| a >= *v);
            let settled = peers
                .values()
                .all(|p| seen(p) || (!p.connected && Self::accounted_elsewhere(peers, mac, *v)));
            if settled {
                reserved.remove(*k);
            }
            !settled
        });
        if self.tombstones.len() != before {
            self.changes += 1;
            self.grace_changes += 1;
            self.own_changes += 1;
        }
    }

    /// Whether the AP at `mac`, whose removal from this table is version `version`, is held
    /// by exactly one connected member in this copy, one that has acknowledged the removal
    /// (see [`Directory::settle_tombstones`]).
    fn accounted_elsewhere(peers: &BTreeMap<MemberId, Peer>, mac: &Mac, version: u64) -> bool {
        let mut holders = peers
            .values()
            .filter(|p| p.connected && p.rows.contains_key(mac));
        match (holders.next(), holders.next()) {
            (Some(p), None) => p.connected && p.acked.is_some_and(|a| a >= version),
            _ => false,
        }
    }

    /// A peer's rows or connection moved: the faces and the grace shares follow.
    fn peers_changed(&mut self) {
        self.changes += 1;
        self.grace_changes += 1;
    }

    fn changed(&mut self, now: Instant) {
        self.changes += 1;
        if self.flush_at.is_none() {
            self.flush_at = Some(now + FLUSH_INTERVAL);
        }
    }

    /// The members the cluster knows (`connected`: their hellos arrive; `lost`: no longer,
    /// but their licenses and rows stay for the grace period). Rows of a member in neither
    /// list are dropped.
    ///
    /// Each connected member comes with its boot (from its hellos): a copy of an older boot's
    /// table is dropped at once, since a restarted member holds none of those APs any more.
    pub fn handle_members(
        &mut self,
        connected: &[(MemberId, u32)],
        lost: &[MemberId],
        now: Instant,
    ) {
        let known = self.peers.len();
        self.peers
            .retain(|id, _| connected.iter().any(|(c, _)| c == id) || lost.contains(id));
        if self.peers.len() != known {
            self.peers_changed();
        }
        self.settle_tombstones();
        let me = self.me;
        for &(id, boot) in connected.iter().filter(|(id, _)| *id != me) {
            let p = self.peers.entry(id).or_default();
            if p.at.is_some_and(|(epoch, _)| epoch < boot) {
                p.at = None;
                p.rows.clear();
                p.assembly = None;
                p.buffered.clear();
                self.changes += 1;
                self.grace_changes += 1;
            }
            if !p.connected {
                p.connected = true;
                p.pulled_at = None;
                // What it acknowledged before is not what its copy holds now (it may have
                // restarted): it acknowledges again after the digest below.
                if p.acked.take().is_some() {
                    self.grace_changes += 1;
                }
                self.peers_changed();
                // It (re)connected: tell it where this table is, and check its rows against
                // ours (a partition healed).
                self.flush(now);
                self.send_digest(id);
                self.resolve_duplicates(id);
            }
        }
        let mut died = Vec::new();
        for &id in lost.iter().filter(|id| **id != me) {
            let new = !self.peers.contains_key(&id);
            let p = self.peers.entry(id).or_default();
            if p.connected || new {
                self.changes += 1;
                self.grace_changes += 1;
            }
            if p.connected {
                died.push(id);
            }
            p.connected = false;
            p.assembly = None;
            p.buffered.clear();
        }
        let teller = connected
            .iter()
            .map(|(id, _)| *id)
            .chain([me])
            .min()
            .unwrap_or(me);
        if teller == me {
            for id in died {
                let mut aps: Vec<crate::LostAp> = self.peers[&id]
                    .rows
                    .values()
                    .filter(|r| r.port != 0)
                    .map(|r| crate::LostAp {
                        mac: r.mac,
                        addr: std::net::SocketAddr::from((r.ip, r.port)),
                        session_id: r.session_id,
                    })
                    .collect();
                // In MAC order, not the hash map's: the notices go out in this order.
                aps.sort_unstable_by_key(|a| a.mac);
                if !aps.is_empty() {
                    self.out
                        .push_back(DirectoryOutput::MemberLost { member: id, aps });
                }
            }
        }
        if self.digest_at.is_none() {
            self.digest_at = Some(now + DIGEST_INTERVAL);
        }
        // Who is lost changed: a lost member may need no acknowledgement now.
        self.settle_tombstones();
    }

    /// A message about `from`'s table.
    pub fn handle_message(&mut self, from: MemberId, msg: ApTableMessage, now: Instant) {
        if from == self.me {
            return;
        }
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        if !peer.connected {
            return;
        }
        match msg {
            ApTableMessage::Ack { epoch, version } => {
                if epoch == self.epoch && version <= self.version {
                    let p = self.peers.get_mut(&from).unwrap();
                    if p.acked.is_none() {
                        // It has a copy of this table now: it may take this member's APs
                        // ([`Directory::has_copy`]).
                        self.grace_changes += 1;
                    }
                    p.acked = Some(p.acked.map_or(version, |a| a.max(version)));
                    self.settle_tombstones();
                }
            }
            ApTableMessage::Pull => {
                self.flush(now);
                self.send_full_copy(from);
            }
            ApTableMessage::Digest {
                epoch,
                version,
                rows,
            } => {
                let current = peer.at == Some((epoch, version)) && peer.rows.len() == rows as usize;
                if current {
                    self.ack(from);
                    return;
                }
                if peer.assembly.is_some() && !self.pull_due(from, now) {
                    return;
                }
                if version == 0 && rows == 0 {
                    // A fresh boot with nothing adopted: nothing to copy.
                    let p = self.peers.get_mut(&from).unwrap();
                    p.at = Some((epoch, 0));
                    p.rows.clear();
                    p.assembly = None;
                    self.peers_changed();
                    self.ack(from);
                    return;
                }
                if self.pull_due(from, now) {
                    self.pull(from, now);
                }
            }
            ApTableMessage::Delta {
                epoch,
                from: base,
                to,
                upserts,
                removed,
            } => {
                if to <= base {
                    return;
                }
                match peer.at {
                    Some((e, v)) if e == epoch && v == base && peer.assembly.is_none() => {
                        self.apply(from, epoch, to, upserts, removed);
                        self.ack(from);
                    }
                    Some((e, v)) if e == epoch && to <= v => {}
                    _ => {
                        if peer.assembly.as_ref().is_some_and(|a| a.epoch == epoch) {
                            if peer.buffered.len() < BUFFERED_DELTAS {
                                peer.buffered.push_back((epoch, base, to, upserts, removed));
                            }
                        } else if self.pull_due(from, now) {
                            self.pull(from, now);
                        }
                    }
                }
            }
            ApTableMessage::Chunk {
                epoch,
                version,
                index,
                count,
                rows,
            } => {
                if count == 0 || count > MAX_CHUNKS || index >= count {
                    return;
                }
                let same = peer
                    .assembly
                    .as_ref()
                    .is_some_and(|a| a.epoch == epoch && a.version == version);
                if !same {
                    if peer.at.is_some_and(|(e, v)| e == epoch && v >= version) {
                        return;
                    }
                    peer.assembly = Some(Assembly {
                        epoch,
                        version,
                        chunks: vec![None; count as usize],
                        missing: count,
                    });
                    peer.buffered.retain(|d| d.0 == epoch && d.2 > version);
                }
                let a = peer.assembly.as_mut().unwrap();
                if a.chunks.len() != count as usize {
                    return;
                }
                if a.chunks[index as usize].is_none() {
                    a.chunks[index as usize] = Some(rows);
                    a.missing -= 1;
                }
                if a.missing == 0 {
                    self.install(from);
                }
            }
        }
    }

    fn pull_due(&self, from: MemberId, now: Instant) -> bool {
        self.peers
            .get(&from)
            .is_some_and(|p| p.pulled_at.is_none_or(|t| now >= t + PULL_RETRY))
    }

    fn pull(&mut self, from: MemberId, now: Instant) {
        if let Some(p) = self.peers.get_mut(&from) {
            p.pulled_at = Some(now);
            self.out.push_back(DirectoryOutput::Send {
                to: from,
                msg: ApTableMessage::Pull,
            });
        }
    }

    fn install(&mut self, from: MemberId) {
        let Some(p) = self.peers.get_mut(&from) else {
            return;
        };
        let Some(a) = p.assembly.take() else { return };
        p.rows = a
            .chunks
            .into_iter()
            .flatten()
            .flatten()
            .map(|r| (r.mac, r))
            .collect();
        p.at = Some((a.epoch, a.version));
        p.pulled_at = None;
        let buffered: Vec<_> = p.buffered.drain(..).collect();
        self.peers_changed();
        for (epoch, base, to, upserts, removed) in buffered {
            let at = self.peers.get(&from).and_then(|p| p.at);
            if at == Some((epoch, base)) {
                self.apply(from, epoch, to, upserts, removed);
            }
        }
        self.resolve_duplicates(from);
        self.settle_tombstones();
        self.ack(from);
    }

    /// Tells `owner` which version of its table our copy is at.
    fn ack(&mut self, owner: MemberId) {
        if let Some((epoch, version)) = self.peers.get(&owner).and_then(|p| p.at) {
            self.out.push_back(DirectoryOutput::Send {
                to: owner,
                msg: ApTableMessage::Ack { epoch, version },
            });
        }
    }

    fn apply(
        &mut self,
        from: MemberId,
        epoch: u32,
        to: u64,
        upserts: Vec<ApRecord>,
        removed: Vec<Mac>,
    ) {
        let Some(p) = self.peers.get_mut(&from) else {
            return;
        };
        for mac in removed {
            p.rows.remove(&mac);
        }
        let macs: Vec<Mac> = upserts.iter().map(|r| r.mac).collect();
        for r in upserts {
            p.rows.insert(r.mac, r);
        }
        p.at = Some((epoch, to));
        self.peers_changed();
        for mac in macs {
            self.resolve_one(from, mac);
        }
        // A released AP may be accounted elsewhere now.
        self.settle_tombstones();
    }

    /// Of a connected peer's claim and ours on `mac`, the later (then the lower member id)
    /// wins; if it is the peer's, ours goes.
    fn resolve_one(&mut self, peer: MemberId, mac: Mac) {
        let (Some(theirs), Some(ours)) = (
            self.peers.get(&peer).and_then(|p| p.rows.get(&mac)),
            self.own.get(&mac),
        ) else {
            return;
        };
        if claim_wins((theirs.since_ms, peer), (ours.since_ms, self.me)) {
            let k = kind(ours);
            self.own.remove(&mac);
            self.remove_own(mac, k, true);
            self.changes += 1;
            if self.flush_at.is_none() {
                // Flushed with the next batch (the driver's next timeout).
                self.flush_at = Some(Duration::ZERO);
            }
            self.out
                .push_back(DirectoryOutput::Release { mac, winner: peer });
        }
    }

    fn resolve_duplicates(&mut self, peer: MemberId) {
        let mut macs: Vec<Mac> = match self.peers.get(&peer) {
            Some(p) if p.connected => p
                .rows
                .keys()
                .filter(|m| self.own.contains_key(m))
                .copied()
                .collect(),
            _ => return,
        };
        // In MAC order, not the hash map's: the releases go out in this order.
        macs.sort_unstable();
        for mac in macs {
            self.resolve_one(peer, mac);
        }
    }

    fn winner_over_own(&self, record: &ApRecord) -> Option<MemberId> {
        self.peers
            .iter()
            .filter(|(_, p)| p.connected)
            .filter_map(|(id, p)| Some((*id, p.rows.get(&record.mac)?)))
            .find(|(id, theirs)| claim_wins((theirs.since_ms, *id), (record.since_ms, self.me)))
            .map(|(id, _)| id)
    }

    fn send_digest(&mut self, to: MemberId) {
        self.out.push_back(DirectoryOutput::Send {
            to,
            msg: ApTableMessage::Digest {
                epoch: self.epoch,
                version: self.version,
                rows: self.own.len() as u32,
            },
        });
    }

    fn connected(&self) -> Vec<MemberId> {
        self.peers
            .iter()
            .filter(|(_, p)| p.connected)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Sends what changed since the last batch, one version per message.
    fn flush(&mut self, _now: Instant) {
        self.flush_at = None;
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let peers = self.connected();
        let mut upserts = Vec::new();
        let mut removed = Vec::new();
        let mut bytes = 0;
        let mut batches = Vec::new();
        for (mac, change) in pending {
            bytes += match &change {
                Some(r) => r.encoded_bound(),
                None => 8,
            };
            match change {
                Some(r) => upserts.push(r),
                None => removed.push(mac),
            }
            if bytes >= MESSAGE_BYTES {
                batches.push((std::mem::take(&mut upserts), std::mem::take(&mut removed)));
                bytes = 0;
            }
        }
        if !upserts.is_empty() || !removed.is_empty() {
            batches.push((upserts, removed));
        }
        for (upserts, removed) in batches {
            let from = self.version;
            self.version += 1;
            for mac in &removed {
                if let Some(t) = self.tombstones.get_mut(mac) {
                    t.1 = self.version;
                }
            }
            let msg = ApTableMessage::Delta {
                epoch: self.epoch,
                from,
                to: self.version,
                upserts,
                removed,
            };
            for &to in &peers {
                self.out.push_back(DirectoryOutput::Send {
                    to,
                    msg: msg.clone(),
                });
            }
        }
    }

    fn send_full_copy(&mut self, to: MemberId) {
        let mut chunks: Vec<Vec<ApRecord>> = vec![Vec::new()];
        let mut bytes = 0;
        for r in self.own.values() {
            bytes += r.encoded_bound();
            if bytes >= MESSAGE_BYTES {
                chunks.push(Vec::new());
                bytes = r.encoded_bound();
            }
            chunks.last_mut().unwrap().push(r.clone());
        }
        let count = chunks.len() as u32;
        for (index, rows) in chunks.into_iter().enumerate() {
            self.out.push_back(DirectoryOutput::Send {
                to,
                msg: ApTableMessage::Chunk {
                    epoch: self.epoch,
                    version: self.version,
                    index: index as u32,
                    count,
                    rows,
                },
            });
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.previous_until.is_some_and(|t| now >= t) {
            self.expire_previous_boot();
        }
        if self.flush_at.is_some_and(|t| now >= t) {
            self.flush(now);
        }
        if self.digest_at.is_some_and(|t| now >= t) {
            self.digest_at = Some(now + DIGEST_INTERVAL);
            for id in self.connected() {
                self.send_digest(id);
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let previous = self.previous_until.filter(|_| !self.previous.is_empty());
        [self.flush_at, self.digest_at, previous]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn poll_output(&mut self) -> Option<DirectoryOutput> {
        self.out.pop_front()
    }

    /// Bumped whenever a row changed anywhere (for the publisher).
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Bumped whenever [`Directory::grace`] may have changed (for the admission).
    pub fn grace_changes(&self) -> u64 {
        self.grace_changes
    }

    /// Every row: this member's, then each peer's (connected or lost).
    pub fn rows(&self) -> impl Iterator<Item = DirectoryRow<'_>> {
        let me = self.me;
        self.own
            .values()
            .map(move |record| DirectoryRow { owner: me, record })
            .chain(self.peers.iter().flat_map(|(id, p)| {
                p.rows
                    .values()
                    .map(move |record| DirectoryRow { owner: *id, record })
            }))
    }

    /// This member's own row for `mac`.
    pub fn own(&self, mac: &Mac) -> Option<&ApRecord> {
        self.own.get(mac)
    }

    /// Rows of other members' APs in this copy (connected and lost members').
    pub fn others(&self) -> usize {
        self.peers.values().map(|p| p.rows.len()).sum()
    }

    /// Whether connected peer `id` has acknowledged a copy of this member's table since it
    /// (re)connected: it knows the APs this member holds, so it can license them when they
    /// are handed back to it.
    pub fn has_copy(&self, id: MemberId) -> bool {
        self.peers
            .get(&id)
            .is_some_and(|p| p.connected && p.acked.is_some())
    }

    /// Whether a connected peer holds `mac` (a lost member's row for it is stale then).
    pub fn held_by_connected_peer(&self, mac: &Mac) -> bool {
        self.peers
            .values()
            .any(|p| p.connected && p.rows.contains_key(mac))
    }

    /// The rows a peer's copy holds, and whether its hellos arrive.
    pub fn peer(&self, id: MemberId) -> Option<(bool, usize)> {
        self.peers.get(&id).map(|p| (p.connected, p.rows.len()))
    }

    /// What this member may license from lost members' grace shares. `installed` gives each
    /// lost member's installed licenses (AP, AAP): a lost member's rows beyond them (which
    /// the pool rule never lets happen) are not licensed.
    ///
    /// `handing_back` are connected members handing their APs back to this one
    /// ([`placement::handing_back`](crate::placement::handing_back)): each of their APs may
    /// join here on the license it holds there (still counted on them until they release it),
    /// outside this member's free pool.
    pub fn grace(
        &self,
        installed: impl Fn(MemberId) -> (u32, u32),
        handing_back: &[MemberId],
    ) -> Grace {
        let mut lost_macs: HashMap<Mac, LicenseKind> = HashMap::new();
        let mut lost_rows = HashMap::new();
        for (id, p) in self.peers.iter().filter(|(_, p)| !p.connected) {
            let (ap, aap) = installed(*id);
            let mut held = Held::default();
            let mut rows: Vec<&ApRecord> = p.rows.values().collect();
            rows.sort_by_key(|r| r.mac);
            for r in rows {
                let k = kind(r);
                let cap = match k {
                    LicenseKind::Ap => ap,
                    LicenseKind::Aap => aap,
                };
                if held.of(k) < cap {
                    held.add(k);
                    lost_macs.insert(r.mac, k);
                }
            }
            lost_rows.insert(*id, held);
        }
        let mut covered = HashMap::new();
        let mut macs = lost_macs.clone();
        for (id, p) in self
            .peers
            .iter()
            .filter(|(_, p)| p.connected && !lost_macs.is_empty())
        {
            let mut held = Held::default();
            for mac in p.rows.keys() {
                if let Some(k) = lost_macs.get(mac) {
                    held.add(*k);
                    macs.remove(mac);
                }
            }
            covered.insert(*id, held);
        }
        for id in handing_back {
            if let Some(p) = self.peers.get(id).filter(|p| p.connected) {
                for r in p.rows.values() {
                    macs.entry(r.mac).or_insert_with(|| kind(r));
                }
            }
        }
        let profiles = self
            .peers
            .values()
            .flat_map(|p| p.rows.values())
            .filter(|r| !r.profile.is_empty() && macs.contains_key(&r.mac))
            .map(|r| (r.mac, r.profile.clone()))
            .collect();
        Grace {
            macs: Arc::new(macs),
            profiles: Arc::new(profiles),
            lost_rows,
            covered,
            reserved: self.reserved(),
            reserved_macs: Arc::new(self.reserved_macs().collect()),
        }
    }
}

/// Whether claim `a` (adopted at, by) beats claim `b`: the later adoption, then the lower
/// member id.
pub fn claim_wins(a: (u64, MemberId), b: (u64, MemberId)) -> bool {
    a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    const A: MemberId = MemberId(1);
    const B: MemberId = MemberId(2);
    const C: MemberId = MemberId(3);

    fn ms(n: u64) -> Instant {
        Duration::from_millis(n)
    }

    fn mac(n: u32) -> Mac {
        let b = n.to_be_bytes();
        Mac([2, 0, b[0], b[1], b[2], b[3]])
    }

    fn record(n: u32, since_ms: u64) -> ApRecord {
        ApRecord {
            mac: mac(n),
            hostname: format!("ap-{n}"),
            model: "AP7532".into(),
            serial: format!("SIM{n:08}"),
            ip: Ipv4Addr::new(127, 20, 0, 1),
            port: 5246,
            session_id: [n as u8; 16],
            thin: false,
            since_ms,
            profile: String::new(),
        }
    }

    fn drain(d: &mut Directory) -> Vec<DirectoryOutput> {
        std::iter::from_fn(|| d.poll_output()).collect()
    }

    /// Delivers what the directories send each other (`keep` decides per message), until
    /// nothing is left; returns the releases.
    fn pump(
        dirs: &mut [(MemberId, Directory)],
        now: Instant,
        mut keep: impl FnMut() -> bool,
    ) -> Vec<(MemberId, Mac)> {
        let mut releases = vec![];
        for _ in 0..10_000 {
            let mut sent = vec![];
            for (id, d) in dirs.iter_mut() {
                d.handle_timeout(now);
                for o in drain(d) {
                    match o {
                        DirectoryOutput::Send { to, msg } => sent.push((*id, to, msg)),
                        DirectoryOutput::Release { mac, .. } => releases.push((*id, mac)),
                        DirectoryOutput::MemberLost { .. } => {}
                    }
                }
            }
            if sent.is_empty() {
                return releases;
            }
            for (from, to, msg) in sent {
                if keep() {
                    if let Some((_, d)) = dirs.iter_mut().find(|(id, _)| *id == to) {
                        d.handle_message(from, msg, now);
                    }
                }
            }
        }
        panic!("the directories never went quiet");
    }

    fn pair() -> Vec<(MemberId, Directory)> {
        let mut dirs = vec![(A, Directory::new(A, 1)), (B, Directory::new(B, 1))];
        for (_, d) in &mut dirs {
            d.handle_members(&[(A, 1), (B, 1)], &[], ms(0));
        }
        pump(&mut dirs, ms(0), || true);
        dirs
    }

    fn rows_of(d: &Directory, owner: MemberId) -> Vec<ApRecord> {
        let mut v: Vec<ApRecord> = d
            .rows()
            .filter(|r| r.owner == owner)
            .map(|r| r.record.clone())
            .collect();
        v.sort_by_key(|r| r.mac);
        v
    }

    #[test]
    fn own_adoptions_leave_the_grace_shares_alone_and_peers_rows_and_releases_do_not() {
        let mut dirs = pair();
        let g = |d: &Directory| d.grace_changes();
        let (a0, b0) = (g(&dirs[0].1), g(&dirs[1].1));
        // A adopts 100 APs: A's admission has nothing to recompute; B's copy moved.
        for n in 0..100 {
            dirs[0].1.handle_adopted(record(n, 100), ms(10));
        }
        assert_eq!(g(&dirs[0].1), a0);
        pump(&mut dirs, ms(100), || true);
        assert_eq!(g(&dirs[0].1), a0, "B's acks settle no tombstone of A's");
        assert!(g(&dirs[1].1) > b0);
        // A release on A's own license reserves it (a tombstone) until B acknowledged it.
        dirs[0].1.handle_released(mac(1), true, ms(200));
        assert!(g(&dirs[0].1) > a0);
        assert_eq!(dirs[0].1.reserved().of(LicenseKind::Aap), 1);
        let before = g(&dirs[0].1);
        pump(&mut dirs, ms(300), || true);
        assert_eq!(dirs[0].1.reserved(), Held::default());
        assert!(
            g(&dirs[0].1) > before,
            "the settled tombstone frees the license"
        );
    }

    #[test]
    fn own_changes_go_out_as_one_delta_per_batch_after_the_flush_interval() {
        let mut d = Directory::new(A, 7);
        d.handle_members(&[(A, 1), (B, 1)], &[], ms(0));
        assert_eq!(
            drain(&mut d),
            vec![DirectoryOutput::Send {
                to: B,
                msg: ApTableMessage::Digest {
                    epoch: 7,
                    version: 0,
                    rows: 0
                }
            }]
        );
        d.handle_adopted(record(1, 100), ms(10));
        d.handle_adopted(record(2, 100), ms(20));
        d.handle_released(mac(1), true, ms(30));
        assert_eq!(d.poll_timeout(), Some(ms(60)));
        d.handle_timeout(ms(59));
        assert!(drain(&mut d).is_empty());
        d.handle_timeout(ms(60));
        assert_eq!(
            drain(&mut d),
            vec![DirectoryOutput::Send {
                to: B,
                msg: ApTableMessage::Delta {
                    epoch: 7,
                    from: 0,
                    to: 1,
                    upserts: vec![record(2, 100)],
                    removed: vec![mac(1)],
                }
            }]
        );
        // Releasing an AP it does not hold changes nothing.
        d.handle_released(mac(9), true, ms(70));
        assert_eq!(d.poll_timeout(), Some(ms(1000)));
    }

    #[test]
    fn a_lost_delta_is_noticed_at_the_digest_and_repaired_by_a_chunked_copy() {
        let mut dirs = pair();
        // 3,000 rows: several deltas and several chunks.
        for n in 0..3000 {
            dirs[0].1.handle_adopted(record(n, 5), ms(1));
        }
        // Every delta is lost.
        pump(&mut dirs, ms(60), || false);
        assert!(rows_of(&dirs[1].1, A).is_empty());
        // More changes arrive while B is behind: it pulls on the first delta it cannot apply.
        dirs[0].1.handle_released(mac(7), true, ms(100));
        pump(&mut dirs, ms(150), || true);
        let want = rows_of(&dirs[0].1, A);
        assert_eq!(want.len(), 2999);
        assert_eq!(rows_of(&dirs[1].1, A), want);
        // A digest says the copy is current: nothing more is sent.
        let mut quiet = 0;
        dirs[0].1.handle_timeout(ms(1000));
        for o in drain(&mut dirs[0].1) {
            if let DirectoryOutput::Send { to, msg } = o {
                dirs[1].1.handle_message(A, msg, ms(1000));
                assert_eq!(to, B);
            }
        }
        for o in drain(&mut dirs[1].1) {
            if matches!(
                o,
                DirectoryOutput::Send {
                    msg: ApTableMessage::Pull,
                    ..
                }
            ) {
                quiet += 1;
            }
        }
        assert_eq!(quiet, 0);
    }

    #[test]
    fn a_peer_has_a_copy_once_it_acknowledged_one_since_it_connected() {
        let mut dirs = vec![(A, Directory::new(A, 1)), (B, Directory::new(B, 1))];
        for (_, d) in &mut dirs {
            d.handle_members(&[(A, 1), (B, 1)], &[], ms(0));
        }
        assert!(!dirs[0].1.has_copy(B), "nothing acknowledged yet");
        for n in 0..3 {
            dirs[0].1.handle_adopted(record(n, 5), ms(1));
        }
        pump(&mut dirs, ms(60), || true);
        assert!(dirs[0].1.has_copy(B));
        // B restarts: lost, then back with a new boot and an empty copy.
        dirs[0].1.handle_members(&[(A, 1)], &[B], ms(100));
        assert!(!dirs[0].1.has_copy(B));
        dirs[1] = (B, Directory::new(B, 2));
        dirs[1].1.handle_members(&[(A, 1), (B, 2)], &[], ms(200));
        let before = dirs[0].1.grace_changes();
        dirs[0].1.handle_members(&[(A, 1), (B, 2)], &[], ms(200));
        assert!(
            !dirs[0].1.has_copy(B),
            "its old acknowledgement does not count"
        );
        pump(&mut dirs, ms(300), || true);
        assert!(dirs[0].1.has_copy(B));
        assert_eq!(rows_of(&dirs[1].1, A).len(), 3);
        assert!(
            dirs[0].1.grace_changes() > before,
            "admission is computed again"
        );
    }

    /// A, B and C connected; A holds five APs and the others have its rows.
    fn three_with_five_aps_on_a() -> Vec<(MemberId, Directory)> {
        let mut dirs = vec![
            (A, Directory::new(A, 1)),
            (B, Directory::new(B, 1)),
            (C, Directory::new(C, 1)),
        ];
        for (_, d) in &mut dirs {
            d.handle_members(&[(A, 1), (B, 1), (C, 1)], &[], ms(0));
        }
        for n in 0..5 {
            let mut r = record(n, 5);
            if n == 1 {
                r.profile = "lab".into();
            }
            dirs[0].1.handle_adopted(r, ms(1));
        }
        pump(&mut dirs, ms(60), || true);
        dirs
    }

    /// Seed 1027 of the balancing simulation: APs balanced from B to C after A died stayed
    /// reserved on B for good (A, lost, never acknowledged their removal), counted twice, on
    /// B and on C, so the last AP found no license. A lost member need not acknowledge a
    /// release whose AP a connected member holds and has seen go; a connected one (slow, not
    /// lost) still must, and so must a lost one when no one else holds the AP.
    #[test]
    fn a_lost_member_need_not_acknowledge_a_release_whose_ap_a_connected_member_holds() {
        let mut dirs = three_with_five_aps_on_a();
        // C's messages no longer arrive, but it is still connected (slow).
        let c = dirs.remove(2);
        // AP 1 moves to B: B's later claim wins, A releases it on its own license.
        dirs[1].1.handle_adopted(record(1, 200), ms(200));
        let releases = pump(&mut dirs, ms(300), || true);
        assert_eq!(releases, vec![(A, mac(1))]);
        pump(&mut dirs, ms(400), || true);
        assert_eq!(rows_of(&dirs[1].1, A).len(), 4, "B saw the release");
        assert_eq!(
            dirs[0].1.reserved().of(LicenseKind::Aap),
            1,
            "C is connected: it acknowledges"
        );
        // C is lost now: AP 1 is accounted on B, which saw it go from A.
        for (_, d) in &mut dirs {
            d.handle_members(&[(A, 1), (B, 1)], &[C], ms(500));
        }
        assert_eq!(dirs[0].1.reserved(), Held::default());
        // AP 2 released with no one holding it, the removal lost on the way to B: reserved.
        dirs[0].1.handle_released(mac(2), true, ms(600));
        pump(&mut dirs, ms(700), || false);
        assert_eq!(dirs[0].1.reserved_macs().collect::<Vec<_>>(), vec![mac(2)]);
        // B adopts it, its copy still showing it on A: still reserved (B's session may be on
        // A's handback share); once B's copy has caught up, free.
        dirs[1].1.handle_adopted(record(2, 800), ms(800));
        pump(&mut dirs, ms(900), || true);
        assert!(rows_of(&dirs[0].1, B).iter().any(|r| r.mac == mac(2)));
        assert_eq!(
            dirs[0].1.reserved().of(LicenseKind::Aap),
            1,
            "B's copy is behind"
        );
        pump(&mut dirs, ms(2000), || true);
        assert_eq!(dirs[0].1.reserved(), Held::default());
        // A release no one else holds waits for the lost member.
        dirs[0].1.handle_released(mac(3), true, ms(2100));
        pump(&mut dirs, ms(2200), || true);
        assert_eq!(dirs[0].1.reserved_macs().collect::<Vec<_>>(), vec![mac(3)]);
        // C comes back (its copy restarts from a digest): nothing is reserved any more.
        dirs.push(c);
        for (_, d) in &mut dirs {
            d.handle_members(&[(A, 1), (B, 1), (C, 1)], &[], ms(3000));
        }
        pump(&mut dirs, ms(3000), || true);
        assert_eq!(rows_of(&dirs[2].1, A).len(), 2);
        assert_eq!(dirs[0].1.reserved(), Held::default());
    }

    #[test]
    fn a_dead_members_aps_are_told_once_by_the_lowest_connected_member() {
        let mut dirs = three_with_five_aps_on_a();
        dirs.remove(0);
        let lost = |d: &mut Directory| -> Vec<(MemberId, Vec<crate::LostAp>)> {
            drain(d)
                .into_iter()
                .filter_map(|o| match o {
                    DirectoryOutput::MemberLost { member, aps } => Some((member, aps)),
                    _ => None,
                })
                .collect()
        };
        for (_, d) in &mut dirs {
            d.handle_members(&[(B, 1), (C, 1)], &[A], ms(100));
        }
        let (b, c) = (lost(&mut dirs[0].1), lost(&mut dirs[1].1));
        assert!(c.is_empty(), "C is not the lowest: {c:?}");
        let [(member, aps)] = &b[..] else {
            panic!("{b:?}")
        };
        assert_eq!(*member, A);
        let mut aps = aps.clone();
        aps.sort_by_key(|a| a.mac);
        let want: Vec<crate::LostAp> = (0..5)
            .map(|n| crate::LostAp {
                mac: mac(n),
                addr: "127.20.0.1:5246".parse().unwrap(),
                session_id: [n as u8; 16],
            })
            .collect();
        assert_eq!(aps, want);
        // Still lost at the next view: told once.
        for (_, d) in &mut dirs {
            d.handle_members(&[(B, 1), (C, 1)], &[A], ms(200));
        }
        assert!(lost(&mut dirs[0].1).is_empty());
    }

    /// A restarted member holds its previous boot's licenses for those APs (reserved, each
    /// may come back on its own) until each is accounted for: it joins here again, or a
    /// connected member's rows show it; the grace period ends the rest. What it persists is
    /// its rows and what it still holds back.
    #[test]
    fn a_restarted_member_holds_its_previous_boots_licenses_until_each_ap_is_accounted_for() {
        let mut dirs = vec![(A, Directory::new(A, 2)), (B, Directory::new(B, 1))];
        let prev: Vec<(Mac, LicenseKind)> = (0..4).map(|n| (mac(n), LicenseKind::Aap)).collect();
        dirs[0].1.handle_previous_boot(prev.clone(), ms(1000));
        assert_eq!(dirs[0].1.reserved(), Held { ap: 0, aap: 4 });
        let mut reserved: Vec<Mac> = dirs[0].1.reserved_macs().collect();
        reserved.sort();
        assert_eq!(reserved, prev.iter().map(|p| p.0).collect::<Vec<_>>());
        // Alone (B lost, maybe alive across a partition holding them): all four held back.
        dirs[0].1.handle_members(&[(A, 2)], &[B], ms(0));
        assert_eq!(dirs[0].1.reserved().aap, 4);
        // AP 0 comes back here: its session holds the license now.
        dirs[0].1.handle_adopted(record(0, 10), ms(10));
        assert_eq!(dirs[0].1.reserved().aap, 3);
        // B holds APs 1 and 2 and is connected: they are counted in its hellos.
        for n in [1, 2] {
            dirs[1].1.handle_adopted(record(n, 5), ms(10));
        }
        for (_, d) in &mut dirs {
            d.handle_members(&[(A, 2), (B, 1)], &[], ms(20));
        }
        pump(&mut dirs, ms(100), || true);
        assert_eq!(dirs[0].1.reserved().aap, 1, "only AP 3 unaccounted for");
        let mut persisted: Vec<Mac> = dirs[0].1.persisted_aps().into_iter().map(|p| p.0).collect();
        persisted.sort();
        assert_eq!(
            persisted,
            vec![mac(0), mac(3)],
            "its row and what it holds back"
        );
        let g = dirs[0].1.grace(|_| (0, 4), &[]);
        assert!(g.reserved_macs.contains(&mac(3)) && g.reserved.aap == 1);
        assert_eq!(dirs[0].1.poll_timeout().map(|t| t <= ms(1000)), Some(true));
        dirs[0].1.handle_timeout(ms(1000));
        assert_eq!(
            dirs[0].1.reserved().aap,
            0,
            "the hold ends with the grace period"
        );
        assert_eq!(dirs[0].1.persisted_aps().len(), 1);
    }

    #[test]
    fn a_lost_members_rows_are_the_grace_share_and_only_those() {
        let mut dirs = three_with_five_aps_on_a();
        // A dies. B and C keep its rows.
        dirs.remove(0);
        for (_, d) in &mut dirs {
            d.handle_members(&[(B, 1), (C, 1)], &[A], ms(100));
        }
        pump(&mut dirs, ms(100), || true);
        let g = dirs[0].1.grace(|_| (0, 3), &[]);
        // Capped at the 3 licenses A has.
        assert_eq!(g.lost_rows[&A], Held { ap: 0, aap: 3 });
        assert_eq!(g.macs.len(), 3);
        // With the one mapping other than a default, which the AP keeps where it goes.
        assert_eq!(
            *g.profiles,
            [(mac(1), "lab".to_string())].into_iter().collect()
        );
        // C takes two of them over; B sees them as C's, licensed from A's share.
        let taken: Vec<Mac> = g.macs.keys().copied().take(2).collect();
        for (i, m) in taken.iter().enumerate() {
            let mut r = record(0, 50 + i as u64);
            r.mac = *m;
            dirs[1].1.handle_adopted(r, ms(110));
        }
        pump(&mut dirs, ms(200), || true);
        let g = dirs[0].1.grace(|_| (0, 3), &[]);
        assert_eq!(g.covered[&C], Held { ap: 0, aap: 2 });
        assert_eq!(g.macs.len(), 1, "what C holds is not B's to take");
        assert!(!taken.iter().any(|m| g.macs.contains_key(m)));
        // A leaves the cluster for good: its rows go.
        dirs[0].1.handle_members(&[(B, 1), (C, 1)], &[], ms(300));
        assert!(dirs[0].1.grace(|_| (0, 3), &[]).macs.is_empty());
    }

    #[test]
    fn of_two_claims_on_one_ap_the_later_wins_and_the_loser_releases() {
        let mut dirs = pair();
        // A partition: both adopt AP 1 (A first), and A adopts AP 2, B later too at the same
        // instant (the lower member id wins a tie).
        for (_, d) in &mut dirs {
            d.handle_members(&[(d_me(d), 1)], &[if d_me(d) == A { B } else { A }], ms(10));
        }
        dirs[0].1.handle_adopted(record(1, 100), ms(20));
        dirs[1].1.handle_adopted(record(1, 200), ms(20));
        dirs[0].1.handle_adopted(record(2, 300), ms(20));
        dirs[1].1.handle_adopted(record(2, 300), ms(20));
        pump(&mut dirs, ms(100), || true);
        // Heal.
        for (_, d) in &mut dirs {
            d.handle_members(&[(A, 1), (B, 1)], &[], ms(200));
        }
        let mut releases = pump(&mut dirs, ms(200), || true);
        releases.sort();
        assert_eq!(releases, vec![(A, mac(1)), (B, mac(2))]);
        assert_eq!(rows_of(&dirs[0].1, A), vec![record(2, 300)]);
        assert_eq!(rows_of(&dirs[1].1, B), vec![record(1, 200)]);
        // Both copies agree once the losers' removals went out.
        pump(&mut dirs, ms(300), || true);
        assert_eq!(rows_of(&dirs[1].1, A), vec![record(2, 300)]);
        assert_eq!(rows_of(&dirs[0].1, B), vec![record(1, 200)]);
        // An adoption older than a connected peer's claim is dropped at once.
        dirs[0].1.handle_adopted(record(1, 150), ms(400));
        assert_eq!(
            drain(&mut dirs[0].1),
            vec![DirectoryOutput::Release {
                mac: mac(1),
                winner: B
            }]
        );
    }

    fn d_me(d: &Directory) -> MemberId {
        d.me
    }

    #[test]
    fn a_restarted_peer_with_an_empty_table_replaces_its_old_rows() {
        let mut dirs = pair();
        dirs[0].1.handle_adopted(record(1, 1), ms(1));
        pump(&mut dirs, ms(60), || true);
        assert_eq!(rows_of(&dirs[1].1, A).len(), 1);
        dirs[0].1 = Directory::new(A, 2);
        dirs[0].1.handle_members(&[(A, 2), (B, 1)], &[], ms(100));
        // Its hellos say it restarted: the old boot's rows go before any table message.
        dirs[1].1.handle_members(&[(A, 2), (B, 1)], &[], ms(100));
        assert!(rows_of(&dirs[1].1, A).is_empty());
        pump(&mut dirs, ms(100), || true);
        assert!(rows_of(&dirs[1].1, A).is_empty());
    }

    #[test]
    fn messages_from_strangers_and_absurd_chunks_change_nothing() {
        let mut dirs = pair();
        let b = &mut dirs[1].1;
        let before = b.changes();
        b.handle_message(
            C,
            ApTableMessage::Chunk {
                epoch: 1,
                version: 1,
                index: 0,
                count: 1,
                rows: vec![record(1, 1)],
            },
            ms(5),
        );
        for (index, count) in [(0, 0), (5, 5), (0, MAX_CHUNKS + 1)] {
            b.handle_message(
                A,
                ApTableMessage::Chunk {
                    epoch: 1,
                    version: 1,
                    index,
                    count,
                    rows: vec![record(1, 1)],
                },
                ms(5),
            );
        }
        b.handle_message(
            A,
            ApTableMessage::Delta {
                epoch: 1,
                from: 3,
                to: 3,
                upserts: vec![record(1, 1)],
                removed: vec![],
            },
            ms(5),
        );
        assert_eq!(b.changes(), before);
        assert_eq!(b.rows().count(), 0);
        assert!(drain(b).is_empty());
    }

    proptest! {
        /// Whatever is lost in between, once the channel is quiet and loss-free for two digest
        /// intervals every copy equals its owner's table.
        #[test]
        fn copies_converge_after_loss(
            ops in proptest::collection::vec((0usize..3, 0u32..40, any::<bool>()), 1..200),
            loss in 0u32..60,
            seed in any::<u64>(),
        ) {
            let ids = [A, B, C];
            let mut dirs: Vec<(MemberId, Directory)> =
                ids.iter().map(|id| (*id, Directory::new(*id, 1))).collect();
            for (_, d) in &mut dirs {
                d.handle_members(&[(A, 1), (B, 1), (C, 1)], &[], ms(0));
            }
            let mut x = seed | 1;
            let mut lossy = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 100) as u32 >= loss
            };
            let mut t = 0;
            for (who, ap, adopt) in ops {
                t += 7;
                // Each member claims its own range of APs, so no duplicates here.
                let n = who as u32 * 1000 + ap;
                if adopt {
                    dirs[who].1.handle_adopted(record(n, t), ms(t));
                } else {
                    dirs[who].1.handle_released(mac(n), true, ms(t));
                }
                pump(&mut dirs, ms(t), &mut lossy);
            }
            for step in 0..4 {
                let now = ms(t + 1000 * (step + 1));
                pump(&mut dirs, now, || true);
            }
            for (owner, d) in &dirs {
                let want = rows_of(d, *owner);
                for (id, other) in &dirs {
                    if id != owner {
                        prop_assert_eq!(&rows_of(other, *owner), &want);
                    }
                }
            }
        }
    }
}
