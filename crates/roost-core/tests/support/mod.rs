//! Shared by the core's test binaries (`mod support;`; a directory, so Cargo builds no test
//! binary of its own): the one test `ConfigState` (`Kv`), member ids, and helpers that drive
//! bare `Replication` cores by hand. Each binary uses a part of it.
#![allow(dead_code)]

use roost_core::{
    ConfigState, ElectionSettings, MemberConfig, Replication, ReplicationOutput,
    ReplicationSettings,
};
use roost_wire::{MemberId, ReplicationMessage, RevisionId};
use std::collections::BTreeMap;
use std::time::Duration;

/// Key/value config. Changes: `set k v`, `del k` (error if absent), `fail` (always an error).
/// Text: sorted `k v` lines. A line `corrupt` does not load. A member's section is the key
/// `member-<id>` (e.g. `member-12.E1.EE.16`), whose value is its master priority.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kv(pub BTreeMap<String, String>);

impl ConfigState for Kv {
    type Error = String;
    fn apply(&mut self, change: &str) -> Result<(), String> {
        let mut words = change.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("set"), Some(k), Some(v)) => {
                self.0.insert(k.to_string(), v.to_string());
                Ok(())
            }
            (Some("del"), Some(k), None) => self
                .0
                .remove(k)
                .map(|_| ())
                .ok_or_else(|| format!("no such key {k}")),
            _ => Err(format!("invalid change {change:?}")),
        }
    }
    fn text(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k} {v}\n")).collect()
    }
    fn load(text: &str) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        for line in text.lines() {
            let (k, v) = line
                .split_once(' ')
                .ok_or_else(|| format!("bad line {line:?}"))?;
            map.insert(k.to_string(), v.to_string());
        }
        Ok(Kv(map))
    }
}

impl MemberConfig for Kv {
    fn election_settings(&self, me: &ElectionSettings) -> Option<ElectionSettings> {
        let priority = self.0.get(&section_key(me.member))?;
        Some(ElectionSettings {
            master_priority: priority.parse().ok()?,
            ..me.clone()
        })
    }
    fn own_section(&self, me: &ElectionSettings) -> Option<String> {
        let key = section_key(me.member);
        let value = self.0.get(&key)?;
        Some(format!("set {key} {value}"))
    }
}

/// The key of member `m`'s section in [`Kv`].
pub fn section_key(m: MemberId) -> String {
    format!("member-{m}")
}

pub const A: MemberId = MemberId(0x12E1_EE16);
pub const B: MemberId = MemberId(0x123A_A117);
pub const C: MemberId = MemberId(0x1255_0003);
pub const D: MemberId = MemberId(0x1255_0004);

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn settings() -> ReplicationSettings {
    ReplicationSettings::default()
}

pub fn fresh(me: MemberId, settings: ReplicationSettings) -> Replication<Kv> {
    Replication::new(
        me,
        settings,
        Kv::default(),
        RevisionId::ZERO,
        vec![],
        vec![],
        vec![],
    )
}

/// What one step of a core emitted: its outputs, and apart from them its debug lines.
#[derive(Clone, Debug, Default)]
pub struct Drained {
    pub outputs: Vec<ReplicationOutput>,
    pub debug: Vec<String>,
}

impl std::ops::Deref for Drained {
    type Target = [ReplicationOutput];
    fn deref(&self) -> &[ReplicationOutput] {
        &self.outputs
    }
}

impl PartialEq<Vec<ReplicationOutput>> for Drained {
    fn eq(&self, other: &Vec<ReplicationOutput>) -> bool {
        &self.outputs == other
    }
}

impl IntoIterator for Drained {
    type Item = ReplicationOutput;
    type IntoIter = std::vec::IntoIter<ReplicationOutput>;
    fn into_iter(self) -> Self::IntoIter {
        self.outputs.into_iter()
    }
}

/// Everything `r` has queued: outputs and debug lines.
pub fn drain(r: &mut Replication<Kv>) -> Drained {
    Drained {
        outputs: std::iter::from_fn(|| r.poll_output()).collect(),
        debug: std::iter::from_fn(|| r.poll_debug()).collect(),
    }
}

pub fn debugs(d: &Drained) -> Vec<String> {
    d.debug.clone()
}

/// The replication messages in `outs`, as (to, msg).
pub fn sends(outs: &[ReplicationOutput]) -> Vec<(MemberId, ReplicationMessage)> {
    outs.iter()
        .filter_map(|o| match o {
            ReplicationOutput::Send { to, msg } => Some((*to, msg.clone())),
            _ => None,
        })
        .collect()
}

/// The replication messages in `outs` addressed to `to`.
pub fn to(member: MemberId, outs: &[ReplicationOutput]) -> Vec<ReplicationMessage> {
    sends(outs)
        .into_iter()
        .filter(|(t, _)| *t == member)
        .map(|(_, m)| m)
        .collect()
}

/// Hands `msgs` from `from` to `r`, returning what `r` emitted.
pub fn feed(
    r: &mut Replication<Kv>,
    from: MemberId,
    msgs: Vec<ReplicationMessage>,
    now: Duration,
) -> Drained {
    for m in msgs {
        r.handle_message(from, m, now);
    }
    drain(r)
}

/// The commit outcomes in `outs`, errors as the line the session shows.
pub fn commit_done(outs: &[ReplicationOutput]) -> Vec<(u64, Result<RevisionId, String>)> {
    outs.iter()
        .filter_map(|o| match o {
            ReplicationOutput::CommitDone { request, result } => {
                Some((*request, result.clone().map_err(|e| e.to_string())))
            }
            _ => None,
        })
        .collect()
}

pub fn records(outs: &[ReplicationOutput]) -> Vec<(roost_wire::ClusterEvent, String)> {
    outs.iter()
        .filter_map(|o| match o {
            ReplicationOutput::Record { event, reason } => Some((*event, reason.clone())),
            _ => None,
        })
        .collect()
}

/// Master `a` learns from `b`'s hello that `b` is at `head`, newer than its own and unknown to
/// it: `a` pulls, `b` (whose configuration does not descend from `a`'s head) refuses, and `a`
/// answers with a snapshot. Returns the snapshot messages for `b`.
#[allow(dead_code)]
pub fn pull_refused_then_snapshot(
    a: &mut Replication<Kv>,
    a_id: MemberId,
    b: &mut Replication<Kv>,
    b_id: MemberId,
    now: Duration,
) -> Vec<ReplicationMessage> {
    a.handle_peer_head(b_id, b.head(), now);
    let pull = to(b_id, &drain(a));
    assert_eq!(
        pull,
        vec![ReplicationMessage::Pull { after: a.head() }],
        "a newer, unknown head is pulled first"
    );
    let refused = to(a_id, &feed(b, a_id, pull, now));
    assert_eq!(
        refused,
        vec![ReplicationMessage::PullRefused { after: a.head() }]
    );
    let snap = to(b_id, &feed(a, b_id, refused, now));
    assert!(
        matches!(snap.first(), Some(ReplicationMessage::Snapshot { .. })),
        "{snap:?}"
    );
    snap
}
