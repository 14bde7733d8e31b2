//! Shared by the core's test binaries (`mod support;`; a directory, so Cargo builds no test
//! binary of its own): the one test `ConfigState` (`Kv`), member ids, and helpers that drive
//! bare `Replication` cores by hand. Each binary uses a part of it.
#![allow(dead_code)]

use roost_core::{Command, ConfigState, Notification, Replication, ReplicationSettings};
use roost_wire::{MemberId, MemberMessage, ReplicationMessage, RevisionId};
use std::collections::BTreeMap;
use std::time::Duration;

/// Key/value config. Changes: `set k v`, `del k` (error if absent), `fail` (always an error).
/// Text: sorted `k v` lines. A line `corrupt` does not load.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kv(pub BTreeMap<String, String>);

impl ConfigState for Kv {
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

/// All commands queued by `r`.
pub fn drain(r: &mut Replication<Kv>) -> Vec<Command> {
    std::iter::from_fn(|| r.poll_command()).collect()
}

/// Without `Debug` notifications.
pub fn no_debug(cmds: Vec<Command>) -> Vec<Command> {
    cmds.into_iter()
        .filter(|c| !matches!(c, Command::Notify(Notification::Debug(_))))
        .collect()
}

pub fn debugs(cmds: &[Command]) -> Vec<String> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Notify(Notification::Debug(s)) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// The replication messages in `cmds`, as (to, msg).
pub fn sends(cmds: &[Command]) -> Vec<(MemberId, ReplicationMessage)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Send {
                to,
                msg: MemberMessage::Replication(m),
            } => Some((*to, m.clone())),
            _ => None,
        })
        .collect()
}

/// The replication messages in `cmds` addressed to `to`.
pub fn to(member: MemberId, cmds: &[Command]) -> Vec<ReplicationMessage> {
    sends(cmds)
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
) -> Vec<Command> {
    for m in msgs {
        r.handle_message(from, m, now);
    }
    drain(r)
}

/// The commit outcomes in `cmds`, errors as the line the session shows.
pub fn commit_done(cmds: &[Command]) -> Vec<(u64, Result<RevisionId, String>)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Notify(Notification::CommitDone { request, result }) => {
                Some((*request, result.clone().map_err(|e| e.to_string())))
            }
            _ => None,
        })
        .collect()
}

pub fn records(cmds: &[Command]) -> Vec<(roost_wire::ClusterEvent, String)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Notify(Notification::Record { event, reason }) => {
                Some((*event, reason.clone()))
            }
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
