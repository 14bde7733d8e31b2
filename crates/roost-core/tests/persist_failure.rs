//! A revision that cannot be saved (a full disk): two `Node`s driven by hand, with a "disk"
//! per member that can be full. The driver reports the failed `Persist` with
//! `Node::handle_persist_failed` and goes on polling; the tests assert the exact commands that
//! follow: the roll-back, the refusal, no acknowledgement, nothing about the unsaved revision.

mod support;

use roost_core::{
    Command, CommitError, ConfigState, Election, ElectionSettings, Node, Notification, Replication,
    ReplicationSettings,
};
use roost_wire::{
    ClusterEvent, ClusterMode, LicenseCounts, Mac, MemberId, MemberMessage, Model,
    ReplicationMessage, RevisionId,
};
use std::time::Duration;
use support::Kv;

const NO_SPACE: &str = "no space left on device";
const REFUSAL: &str = "cannot save revision: no space left on device";

struct Member {
    id: MemberId,
    node: Node<Kv>,
    /// A `Persist` fails while true.
    full: bool,
    /// What is on disk: the head last saved.
    saved: RevisionId,
    /// Deferred confirmations (a store thread): `Persist`s handed out, outcome not reported.
    slow: Vec<RevisionId>,
}

struct Pair {
    m: [Member; 2],
    now: Duration,
    /// In flight: (to index, from id, message).
    net: Vec<(usize, MemberId, MemberMessage)>,
    /// Member stopped (SIGSTOP): it handles nothing; what reaches it waits in `inbox`.
    stalled: Option<usize>,
    inbox: Vec<(MemberId, MemberMessage)>,
}

fn member(last: u8, priority: u8) -> Member {
    let mac = Mac([0x52, 0x54, 0x00, 0xE1, 0xEE, last]);
    let settings = ElectionSettings {
        member: mac.member_id(),
        mac,
        hostname: format!("vx9000-{last}"),
        model: Model::Vx9000,
        software_version: "test".into(),
        boot: 1,
        cluster_name: "T".into(),
        master_priority: priority,
        configured_mode: ClusterMode::Active,
        force_configured_state: false,
        force_configured_state_delay: Duration::from_secs(300),
        hello_interval: Duration::from_millis(100),
        dead_interval: Duration::from_millis(300),
        licenses: LicenseCounts::default(),
        license_grace_period: std::time::Duration::from_secs(100 * 86_400),
    };
    let election = Election::new(settings, Duration::ZERO, 1_700_000_000_000);
    let replication = Replication::new(
        mac.member_id(),
        ReplicationSettings::default(),
        Kv::default(),
        RevisionId::ZERO,
        vec![],
        vec![],
        vec![],
    );
    Member {
        id: mac.member_id(),
        node: Node::new(election, replication, Duration::ZERO),
        full: false,
        saved: RevisionId::ZERO,
        slow: Vec::new(),
    }
}

impl Pair {
    /// A (priority 250) master, B following, both at revision `ZERO`, steady.
    fn new() -> Pair {
        let mut p = Pair {
            m: [member(0x16, 250), member(0x17, 100)],
            now: Duration::ZERO,
            net: Vec::new(),
            stalled: None,
            inbox: Vec::new(),
        };
        p.drain(0);
        p.drain(1);
        p.run(Duration::from_secs(3));
        let a = p.m[0].id;
        assert_eq!(p.m[0].node.master(), Some(a));
        assert_eq!(p.m[1].node.master(), Some(a));
        p
    }

    /// Polls every command of member `i`, carrying them out like the daemon: a `Persist` on a
    /// full disk is reported failed. Returns what was polled (failed `Persist`s included).
    fn drain(&mut self, i: usize) -> Vec<Command> {
        let mut polled = Vec::new();
        while let Some(cmd) = self.m[i].node.poll_command() {
            polled.push(cmd.clone());
            let me = self.m[i].id;
            match cmd {
                Command::Persist { head, .. } if self.m[i].node.persist_pending() => {
                    self.m[i].slow.push(head);
                }
                Command::Persist { head, .. } => {
                    if self.m[i].full {
                        let now = self.now;
                        assert!(self.m[i].node.handle_persist_failed(head, NO_SPACE, now));
                    } else {
                        self.m[i].saved = head;
                    }
                }
                Command::Send { to, msg } => {
                    if let Some(j) = self.m.iter().position(|m| m.id == to) {
                        self.net.push((j, me, msg));
                    }
                }
                Command::Broadcast { msg } => self.net.push((1 - i, me, msg)),
                _ => {}
            }
        }
        polled
    }

    /// Delivers what is in flight and fires timers, in 5 ms steps, for `d`; returns what each
    /// member polled meanwhile.
    fn run(&mut self, d: Duration) -> [Vec<Command>; 2] {
        let mut out = [Vec::new(), Vec::new()];
        let end = self.now + d;
        while self.now < end {
            self.now += Duration::from_millis(5);
            let now = self.now;
            for (to, from, msg) in std::mem::take(&mut self.net) {
                if self.stalled == Some(to) {
                    self.inbox.push((from, msg));
                    continue;
                }
                self.m[to].node.handle_message(from, msg, now);
                out[to].extend(self.drain(to));
            }
            for (i, polled) in out.iter_mut().enumerate() {
                if self.stalled == Some(i) {
                    continue;
                }
                if self.m[i].node.poll_timeout().is_some_and(|t| t <= now) {
                    self.m[i].node.handle_timeout(now);
                }
                polled.extend(self.drain(i));
            }
        }
        out
    }

    /// Member `i` resumes as a paused process does: overdue timers first, then its inbox.
    /// Returns what it polled.
    fn resume(&mut self, i: usize) -> Vec<Command> {
        assert_eq!(self.stalled.take(), Some(i));
        let now = self.now;
        self.m[i].node.handle_timeout(now);
        let mut polled = self.drain(i);
        for (from, msg) in std::mem::take(&mut self.inbox) {
            self.m[i].node.handle_message(from, msg, now);
            polled.extend(self.drain(i));
        }
        polled
    }

    /// The store thread of member `i` reports its oldest outstanding save: done, or failed
    /// for lack of space if the disk is full. Returns what was polled after it.
    fn finish_save(&mut self, i: usize) -> Vec<Command> {
        let head = self.m[i].slow.remove(0);
        let now = self.now;
        if self.m[i].full {
            assert!(self.m[i].node.handle_persist_failed(head, NO_SPACE, now));
        } else {
            self.m[i].saved = head;
            self.m[i].node.handle_persisted(head, now);
        }
        self.drain(i)
    }

    fn commit(&mut self, i: usize, request: u64, change: &str) -> Vec<Command> {
        let now = self.now;
        self.m[i]
            .node
            .handle_local_commit(request, "admin".into(), change.into(), now);
        self.drain(i)
    }

    fn head(&self, i: usize) -> RevisionId {
        self.m[i].node.replication.head()
    }

    fn history(&self, i: usize) -> Vec<(ClusterEvent, String)> {
        self.m[i]
            .node
            .election
            .view(self.now)
            .history
            .into_iter()
            .filter(|e| e.member == self.m[i].id)
            .map(|e| (e.event, e.reason))
            .collect()
    }
}

fn commit_done(cmds: &[Command]) -> Vec<(u64, Result<RevisionId, String>)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Notify(Notification::CommitDone { request, result }) => {
                Some((*request, result.clone().map_err(|e| e.to_string())))
            }
            _ => None,
        })
        .collect()
}

/// What in `cmds`, after the first `Persist` of `head`, depends on `head` (a `Persist` again is
/// a retry, not a dependant).
fn mentions_after_persist(cmds: &[Command], head: RevisionId) -> Vec<Command> {
    let Some(at) = cmds
        .iter()
        .position(|c| matches!(c, Command::Persist { head: h, .. } if *h == head))
    else {
        return Vec::new();
    };
    cmds[at + 1..]
        .iter()
        .filter(|c| match c {
            Command::Notify(Notification::ConfigApplied { head: h }) => *h == head,
            Command::Notify(Notification::CommitDone { result: Ok(h), .. }) => *h == head,
            Command::Send { msg, .. } | Command::Broadcast { msg } => match msg {
                MemberMessage::Hello(h) => h.config_head == head,
                MemberMessage::Replication(r) => match r {
                    ReplicationMessage::Revisions { revisions, .. } => {
                        revisions.iter().any(|r| r.id == head)
                    }
                    ReplicationMessage::Snapshot { head: h, .. }
                    | ReplicationMessage::Ack { head: h } => *h == head,
                    ReplicationMessage::CommitResult { result: Ok(h), .. } => *h == head,
                    _ => false,
                },
                MemberMessage::Aps(_) => false,
            },
            _ => false,
        })
        .cloned()
        .collect()
}

fn revisions_sent(cmds: &[Command]) -> Vec<RevisionId> {
    cmds.iter()
        .flat_map(|c| match c {
            Command::Send {
                msg: MemberMessage::Replication(ReplicationMessage::Revisions { revisions, .. }),
                ..
            } => revisions.iter().map(|r| r.id).collect(),
            _ => Vec::new(),
        })
        .collect()
}

fn acks_sent(cmds: &[Command]) -> Vec<RevisionId> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Send {
                msg: MemberMessage::Replication(ReplicationMessage::Ack { head }),
                ..
            } => Some(*head),
            _ => None,
        })
        .collect()
}

#[test]
fn master_on_a_full_disk_refuses_the_commit_and_rolls_back() {
    let mut p = Pair::new();
    let got = p.commit(0, 1, "set a 1");
    assert_eq!(commit_done(&got), vec![(1, Ok(p.head(0)))]);
    let first = p.head(0);
    assert_eq!(p.m[0].saved, first);
    p.run(Duration::from_millis(500));
    assert_eq!(p.head(1), first);
    let config_before = p.m[0].node.replication.config().clone();
    let log_before = p.m[0].node.replication.log().to_vec();
    let lineage_before = p.m[0].node.replication.lineage().to_vec();

    p.m[0].full = true;
    let got = p.commit(0, 2, "set b 2");
    let Some(Command::Persist { head: unsaved, .. }) = got
        .iter()
        .find(|c| matches!(c, Command::Persist { .. }))
        .cloned()
    else {
        panic!("no Persist: {got:?}")
    };
    assert_eq!(unsaved.number, first.number + 1);
    // The refusal, and nothing about the unsaved revision.
    assert_eq!(commit_done(&got), vec![(2, Err(REFUSAL.to_string()))]);
    assert_eq!(mentions_after_persist(&got, unsaved), Vec::<Command>::new());
    assert!(revisions_sent(&got).is_empty(), "{got:?}");
    assert!(!got
        .iter()
        .any(|c| matches!(c, Command::Notify(Notification::ConfigApplied { .. }))));
    // Rolled back: head, configuration, log and lineage as before.
    assert_eq!(p.head(0), first);
    assert_eq!(p.m[0].saved, first);
    assert_eq!(p.m[0].node.replication.config(), &config_before);
    assert_eq!(p.m[0].node.replication.log(), &log_before[..]);
    assert_eq!(p.m[0].node.replication.lineage(), &lineage_before[..]);
    assert!(p.m[0].node.replication.pending_commits().is_empty());
    let failed = (
        ClusterEvent::ConfigUpdateFailed,
        format!("cannot save revision {}: {NO_SPACE}", unsaved.number),
    );
    assert!(p.history(0).contains(&failed), "{:?}", p.history(0));

    // A second refusal on the still-full disk is recorded once only.
    let got = p.commit(0, 3, "set c 3");
    assert_eq!(commit_done(&got), vec![(3, Err(REFUSAL.to_string()))]);
    let failures = p
        .history(0)
        .iter()
        .filter(|(e, _)| *e == ClusterEvent::ConfigUpdateFailed)
        .count();
    assert_eq!(failures, 1);

    // The follower never hears of them; hellos advertise the saved head.
    let [to_a, to_b] = p.run(Duration::from_millis(500));
    assert!(revisions_sent(&to_a).is_empty());
    assert_eq!(p.head(1), first);
    assert!(to_b.iter().all(|c| !matches!(c, Command::Persist { .. })));

    // Space returns: the next commit is the next revision, replicated as usual.
    p.m[0].full = false;
    let got = p.commit(0, 4, "set d 4");
    let next = p.head(0);
    assert_eq!(next.number, first.number + 1);
    assert_ne!(next, unsaved);
    assert_eq!(commit_done(&got), vec![(4, Ok(next))]);
    assert_eq!(revisions_sent(&got), vec![next]);
    p.run(Duration::from_millis(500));
    assert_eq!(p.head(1), next);
    assert_eq!(p.m[1].saved, next);
    assert_eq!(
        p.m[1].node.replication.config().text(),
        "a 1\nd 4\n",
        "neither refused change is anywhere"
    );
}

#[test]
fn commit_from_a_member_through_a_full_master_is_refused() {
    let mut p = Pair::new();
    p.m[0].full = true;
    let sent = p.commit(1, 7, "set x 1");
    assert!(sent.iter().any(|c| matches!(
        c,
        Command::Send {
            msg: MemberMessage::Replication(ReplicationMessage::CommitRequest { .. }),
            ..
        }
    )));
    let [to_a, to_b] = p.run(Duration::from_millis(50));
    // The master answers the refusal, never Ok, and pushes nothing.
    let results: Vec<&ReplicationMessage> = to_a
        .iter()
        .filter_map(|c| match c {
            Command::Send {
                msg: MemberMessage::Replication(r @ ReplicationMessage::CommitResult { .. }),
                ..
            } => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(
        results,
        vec![&ReplicationMessage::CommitResult {
            request: 7,
            result: Err(CommitError::CannotSave {
                reason: NO_SPACE.into()
            })
        }]
    );
    assert!(revisions_sent(&to_a).is_empty());
    assert_eq!(commit_done(&to_b), vec![(7, Err(REFUSAL.to_string()))]);
    assert_eq!(p.head(0), RevisionId::ZERO);
    assert_eq!(p.head(1), RevisionId::ZERO);
}

#[test]
fn follower_on_a_full_disk_does_not_acknowledge_and_retries_on_the_masters_pushes() {
    let mut p = Pair::new();
    p.m[1].full = true;
    let got = p.commit(0, 1, "set a 1");
    let rev = p.head(0);
    assert_eq!(commit_done(&got), vec![(1, Ok(rev))], "the master saved it");
    // Long enough for several hello-driven re-sends (retransmit interval 200 ms).
    let [to_a, to_b] = p.run(Duration::from_millis(1000));
    let tries = to_b
        .iter()
        .filter(|c| matches!(c, Command::Persist { head, .. } if *head == rev))
        .count();
    assert!(tries >= 3, "the master re-sends: {tries} tries");
    assert!(acks_sent(&to_b).is_empty(), "no Ack from B: {to_b:?}");
    assert_eq!(mentions_after_persist(&to_b, rev), Vec::<Command>::new());
    assert!(!to_b
        .iter()
        .any(|c| matches!(c, Command::Notify(Notification::ConfigApplied { .. }))));
    assert_eq!(p.head(1), RevisionId::ZERO);
    assert_eq!(p.m[1].saved, RevisionId::ZERO);
    assert_eq!(p.m[1].node.replication.config(), &Kv::default());
    // The master still sees B at the old head (hellos carry what B saved).
    let b = p.m[1].id;
    assert!(p.m[0]
        .node
        .replication
        .peer_heads()
        .contains(&(b, RevisionId::ZERO)));
    assert!(!to_a.is_empty());
    // Why, once, in B's history.
    let failed: Vec<_> = p
        .history(1)
        .into_iter()
        .filter(|(e, _)| *e == ClusterEvent::ConfigUpdateFailed)
        .collect();
    assert_eq!(
        failed,
        vec![(
            ClusterEvent::ConfigUpdateFailed,
            format!("cannot save revision {}: {NO_SPACE}", rev.number)
        )]
    );

    // Space returns: the next push is saved and acknowledged.
    p.m[1].full = false;
    let [_, to_b] = p.run(Duration::from_millis(600));
    assert_eq!(p.head(1), rev);
    assert_eq!(p.m[1].saved, rev);
    assert!(acks_sent(&to_b).contains(&rev));
    assert_eq!(p.m[1].node.replication.config().text(), "a 1\n");
}

#[test]
fn failure_of_a_persist_not_just_polled_is_not_undone() {
    let mut p = Pair::new();
    p.commit(0, 1, "set a 1");
    let head = p.head(0);
    // Already carried out (the driver polled past it): cannot be undone.
    let now = p.now;
    assert!(!p.m[0].node.handle_persist_failed(head, NO_SPACE, now));
    assert!(!p.m[0]
        .node
        .handle_persist_failed(RevisionId::ZERO, NO_SPACE, now));
    assert_eq!(p.head(0), head);
}

/// The hellos among `cmds`, in order.
fn hellos(cmds: &[Command]) -> impl Iterator<Item = &roost_wire::Hello> {
    cmds.iter().filter_map(|c| match c {
        Command::Send {
            msg: MemberMessage::Hello(h),
            ..
        }
        | Command::Broadcast {
            msg: MemberMessage::Hello(h),
        } => Some(h),
        _ => None,
    })
}

fn hello_heads(cmds: &[Command]) -> Vec<RevisionId> {
    hellos(cmds).map(|h| h.config_head).collect()
}

fn persisted(cmds: &[Command]) -> Vec<RevisionId> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Persist { head, .. } => Some(*head),
            _ => None,
        })
        .collect()
}

#[test]
fn a_slow_save_holds_the_reply_and_the_push_but_not_the_hellos() {
    let mut p = Pair::new();
    p.m[0].node.defer_persist_confirmations();
    let before = p.head(0);
    let got = p.commit(0, 1, "set a 1");
    let new = p.head(0);
    assert_eq!(persisted(&got), vec![new]);
    assert!(p.m[0].node.persist_pending());
    assert!(commit_done(&got).is_empty(), "{got:?}");
    assert!(revisions_sent(&got).is_empty(), "{got:?}");
    // A second of disk latency: the master keeps saying hello (with the head on disk), the
    // follower keeps it, and nothing that depends on the unsaved revision leaves.
    let [a, b] = p.run(Duration::from_secs(1));
    let heads = hello_heads(&a);
    assert!(heads.len() >= 8, "hellos kept going out: {a:?}");
    assert!(heads.iter().all(|h| *h == before), "{heads:?}");
    assert!(
        commit_done(&a).is_empty() && revisions_sent(&a).is_empty(),
        "{a:?}"
    );
    assert!(
        !b.iter()
            .any(|c| matches!(c, Command::Notify(Notification::MasterChanged { .. }))),
        "{b:?}"
    );
    assert_eq!(p.m[1].node.master(), Some(p.m[0].id));
    // Saved: the reply, the push, and hellos with the new head.
    let got = p.finish_save(0);
    assert_eq!(commit_done(&got), vec![(1, Ok(new))]);
    // The push (and the retransmits that queued up behind the save: idempotent).
    let pushed = revisions_sent(&got);
    assert!(
        !pushed.is_empty() && pushed.iter().all(|r| *r == new),
        "{got:?}"
    );
    let [a, _] = p.run(Duration::from_secs(1));
    assert!(hello_heads(&a).iter().all(|h| *h == new), "{a:?}");
    assert_eq!(p.head(1), new);
    assert_eq!(p.m[1].saved, new);
}

#[test]
fn a_slow_save_that_fails_refuses_the_commit_after_the_hellos_went_on() {
    let mut p = Pair::new();
    p.m[0].node.defer_persist_confirmations();
    p.m[0].full = true;
    let before = p.head(0);
    let got = p.commit(0, 1, "set a 1");
    assert_eq!(persisted(&got).len(), 1);
    let [a, _] = p.run(Duration::from_millis(500));
    assert!(hello_heads(&a).iter().all(|h| *h == before), "{a:?}");
    let got = p.finish_save(0);
    assert_eq!(commit_done(&got), vec![(1, Err(REFUSAL.to_string()))]);
    assert!(revisions_sent(&got).is_empty(), "{got:?}");
    assert_eq!(p.head(0), before);
    assert!(!p.m[0].node.persist_pending());
    // Space returns: the next commit is saved and replicated.
    p.m[0].full = false;
    let got = p.commit(0, 2, "set a 2");
    let new = p.head(0);
    assert_eq!(persisted(&got), vec![new]);
    let got = p.finish_save(0);
    assert_eq!(commit_done(&got), vec![(2, Ok(new))]);
    p.run(Duration::from_millis(500));
    assert_eq!(p.head(1), new);
}

fn claims_master(cmds: &[Command]) -> Vec<bool> {
    hellos(cmds).map(|h| h.is_master).collect()
}

/// The case the stall simulation found (seed 332 with a slow disk), scripted: A (master)
/// is stopped while its save of revision `r` is in flight, long enough for B to lose it, take
/// over and acknowledge a commit of its own on the parent. A resumes still outranking B; it
/// must give up its claim before its first hello (or B would step down and the heal would
/// supersede B's acknowledged commit), and when the save completes and the resume hold ends,
/// its session is told the commit was not confirmed, not `[OK]`. The cluster keeps B's lineage;
/// A's unconfirmed revision is superseded (kept, listed), never acknowledged.
#[test]
fn a_master_stopped_while_saving_gives_up_its_claim_and_does_not_acknowledge() {
    let mut p = Pair::new();
    p.m[0].node.defer_persist_confirmations();
    let parent = p.head(0);
    let got = p.commit(0, 1, "set a 1");
    let r = p.head(0);
    assert_eq!(persisted(&got), vec![r]);
    assert!(commit_done(&got).is_empty());
    p.stalled = Some(0);
    p.run(Duration::from_millis(1000));
    let b = p.m[1].id;
    assert_eq!(p.m[1].node.master(), Some(b), "B took over");
    let got = p.commit(1, 2, "set b 2");
    let r2 = p.head(1);
    assert_eq!(commit_done(&got), vec![(2, Ok(r2))]);
    assert_eq!(r2.number, parent.number + 1);

    let got = p.resume(0);
    assert!(
        claims_master(&got).iter().all(|c| !c),
        "no claim goes out: {got:?}"
    );
    assert!(!p.m[0].node.election.is_master());
    assert_eq!(p.m[0].node.master(), Some(b), "A follows B");
    assert!(p
        .history(0)
        .iter()
        .any(|(e, why)| *e == ClusterEvent::StartElection && why.contains("giving up mastership")));
    // The save completes during the hold: nothing is acknowledged yet.
    let got = p.finish_save(0);
    assert!(commit_done(&got).is_empty(), "{got:?}");
    let mut a = p.run(Duration::from_millis(600))[0].clone();
    a.extend(got);
    let unconfirmed = CommitError::Unconfirmed { master: Some(b) }.to_string();
    assert_eq!(commit_done(&a), vec![(1, Err(unconfirmed))]);
    p.run(Duration::from_secs(2));
    assert_eq!(p.m[0].node.master(), Some(b));
    assert_eq!(p.m[1].node.master(), Some(b));
    assert_eq!(p.head(0), r2);
    assert_eq!(p.head(1), r2);
    for i in 0..2 {
        let heads: Vec<RevisionId> = p.m[i]
            .node
            .replication
            .superseded()
            .iter()
            .map(|s| s.head)
            .collect();
        assert_eq!(
            heads,
            vec![r],
            "m{i} keeps (only) the unconfirmed revision as superseded"
        );
    }
}

/// The same stop, shorter: long enough that B may have lost A (A gives up its claim), but B
/// did not (its dead interval had not run out). Nobody claims during A's resume hold; at its
/// end A is elected again and the commit it saved meanwhile is acknowledged after all.
#[test]
fn a_master_stopped_while_saving_that_was_not_replaced_acknowledges_after_the_hold() {
    let mut p = Pair::new();
    p.m[0].node.defer_persist_confirmations();
    let a_id = p.m[0].id;
    let got = p.commit(0, 1, "set a 1");
    let r = p.head(0);
    assert_eq!(persisted(&got), vec![r]);
    p.stalled = Some(0);
    p.run(Duration::from_millis(230));
    assert_eq!(p.m[1].node.master(), Some(a_id), "B did not lose A");
    let got = p.resume(0);
    assert!(claims_master(&got).iter().all(|c| !c), "{got:?}");
    assert_eq!(p.m[0].node.master(), None);
    let got = p.finish_save(0);
    assert!(commit_done(&got).is_empty(), "{got:?}");
    let [a, _] = p.run(Duration::from_millis(600));
    assert_eq!(commit_done(&a), vec![(1, Ok(r))]);
    assert_eq!(p.m[0].node.master(), Some(a_id));
    p.run(Duration::from_secs(1));
    assert_eq!(p.m[1].node.master(), Some(a_id));
    assert_eq!(p.head(1), r);
    assert!(p.m[0].node.replication.superseded().is_empty());
}
