//! Round trips and persistence of every kind of state in the data dir.

use roost_store::{Identity, Store, StoreError, MAX_HISTORY, MAX_LOG};
use roost_wire::{
    ClusterEvent, ClusterKey, HistoryEvent, Mac, MemberId, Model, Revision, RevisionId,
    SupersededConfig,
};

fn rid(n: u64) -> RevisionId {
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(&n.to_be_bytes());
    hash[31] = 0xA5;
    RevisionId { number: n, hash }
}

fn rev(n: u64) -> Revision {
    Revision {
        id: rid(n),
        parent: rid(n - 1),
        origin: MemberId(0x12E1EE16),
        request: n,
        user: "admin".into(),
        wall_ms: 1_000 + n,
        change: format!("change {n}\n"),
    }
}

fn event(member: u32, seq: u64, wall_ms: u64) -> HistoryEvent {
    HistoryEvent {
        member: MemberId(member),
        hostname: format!("vx9000-{member}"),
        seq,
        event: ClusterEvent::IsActive,
        wall_ms,
        reason: "stay active".into(),
    }
}

fn identity() -> Identity {
    Identity {
        mac: "52-54-00-3A-A1-17".parse::<Mac>().unwrap(),
        model: Model::Vx9000,
        created_wall_ms: 42,
    }
}

#[test]
fn fresh_store_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("data")).unwrap();
    assert_eq!(s.path(), dir.path().join("data"));
    assert_eq!(s.identity().unwrap(), None);
    assert_eq!(s.cluster_key().unwrap(), None);
    assert_eq!(s.load_config().unwrap(), None);
    assert!(s.superseded().unwrap().is_empty());
    assert!(s.history().unwrap().is_empty());
    assert_eq!(s.startup_config().unwrap(), None);
}

#[test]
fn everything_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let key = ClusterKey([0x5A; 32]);
    let sc = SupersededConfig {
        head: rid(7),
        holder: MemberId(3),
        revisions: vec![rev(7)],
        config: "old\n".into(),
        superseded_wall_ms: 99,
    };
    {
        let s = Store::open(dir.path()).unwrap();
        s.set_identity(&identity()).unwrap();
        s.set_cluster_key(&key).unwrap();
        s.save_config(rid(1), "one\n", Some(&rev(1)), &[rid(1)])
            .unwrap();
        s.save_config(rid(2), "two\n", Some(&rev(2)), &[rid(1), rid(2)])
            .unwrap();
        s.save_superseded(&sc).unwrap();
        s.save_history(&[event(1, 1, 10), event(2, 1, 5)]).unwrap();
        s.write_startup_config("hostname vx9000-1\n").unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.identity().unwrap(), Some(identity()));
    assert_eq!(s.cluster_key().unwrap(), Some(key));
    let c = s.load_config().unwrap().unwrap();
    assert_eq!(c.head, rid(2));
    assert_eq!(c.config, "two\n");
    assert_eq!(c.log, vec![rev(1), rev(2)]);
    assert_eq!(c.lineage, vec![rid(1), rid(2)]);
    assert_eq!(s.superseded().unwrap(), vec![sc]);
    assert_eq!(s.history().unwrap(), vec![event(2, 1, 5), event(1, 1, 10)]);
    assert_eq!(
        s.startup_config().unwrap().as_deref(),
        Some("hostname vx9000-1\n")
    );
}

#[test]
fn boot_counter_increments_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.next_boot().unwrap(), 1);
        assert_eq!(s.next_boot().unwrap(), 2);
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.next_boot().unwrap(), 3);
}

#[test]
fn second_open_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let first = Store::open(dir.path()).unwrap();
    match Store::open(dir.path()) {
        Err(StoreError::Locked { path }) => assert_eq!(path, dir.path()),
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(first);
    Store::open(dir.path()).unwrap();
}

#[test]
fn startup_config_write_is_atomic_and_clean() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    s.write_startup_config("a\n").unwrap();
    s.write_startup_config("b\n").unwrap();
    assert_eq!(s.startup_config().unwrap().as_deref(), Some("b\n"));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("tmp")), "{names:?}");
    assert!(names.contains(&"startup-config".to_string()));
}

#[test]
fn stale_startup_tmp_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = roost_store::fs::tmp_path(&dir.path().join("startup-config"));
    std::fs::write(&tmp, "half").unwrap();
    let s = Store::open(dir.path()).unwrap();
    assert!(!tmp.exists());
    assert_eq!(s.startup_config().unwrap(), None);
}

#[test]
fn log_is_trimmed_to_max() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let total = MAX_LOG as u64 + 10;
    for n in 1..=total {
        s.save_config(rid(n), &format!("c{n}"), Some(&rev(n)), &[rid(n)])
            .unwrap();
    }
    let c = s.load_config().unwrap().unwrap();
    assert_eq!(c.log.len(), MAX_LOG);
    assert_eq!(c.log.first().unwrap().id.number, total - MAX_LOG as u64 + 1);
    assert_eq!(c.log.last().unwrap().id, c.head);
    assert_eq!(c.config, format!("c{total}"));
}

#[test]
fn snapshot_clears_log() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    for n in 1..=3 {
        s.save_config(rid(n), "x", Some(&rev(n)), &[]).unwrap();
    }
    s.save_config(rid(10), "snap", None, &[rid(9), rid(10)])
        .unwrap();
    let c = s.load_config().unwrap().unwrap();
    assert_eq!(
        (c.head, c.config.as_str(), c.log.len()),
        (rid(10), "snap", 0)
    );
    assert_eq!(c.lineage, vec![rid(9), rid(10)]);
    // Incremental steps continue the log after the snapshot.
    s.save_config(rid(11), "eleven", Some(&rev(11)), &[rid(11)])
        .unwrap();
    assert_eq!(s.load_config().unwrap().unwrap().log, vec![rev(11)]);
}

#[test]
fn log_stays_a_chain() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    for n in 1..=5 {
        s.save_config(rid(n), "x", Some(&rev(n)), &[]).unwrap();
    }
    // A different revision 4 (another branch) replaces 4 and 5 but keeps 1..3.
    let mut four = rev(4);
    four.id.hash = [9; 32];
    s.save_config(four.id, "x", Some(&four), &[]).unwrap();
    let log = s.load_config().unwrap().unwrap().log;
    assert_eq!(
        log.iter().map(|r| r.id.number).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(log[3], four);
    // A revision that does not follow the last entry restarts the log.
    let mut eight = rev(8);
    eight.parent = rid(7);
    s.save_config(eight.id, "x", Some(&eight), &[]).unwrap();
    assert_eq!(s.load_config().unwrap().unwrap().log, vec![eight]);
}

#[test]
fn revision_must_match_head() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let err = s.save_config(rid(2), "x", Some(&rev(3)), &[]).unwrap_err();
    assert!(matches!(err, StoreError::RevisionMismatch { .. }), "{err}");
    assert_eq!(s.load_config().unwrap(), None);
}

#[test]
fn superseded_is_idempotent_and_ordered() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let mk = |n: u64, h: u8| SupersededConfig {
        head: RevisionId {
            number: n,
            hash: [h; 32],
        },
        holder: MemberId(1),
        revisions: vec![],
        config: format!("{n}/{h}"),
        superseded_wall_ms: 0,
    };
    s.save_superseded(&mk(9, 1)).unwrap();
    s.save_superseded(&mk(3, 2)).unwrap();
    s.save_superseded(&mk(9, 0)).unwrap();
    s.save_superseded(&mk(3, 2)).unwrap();
    let heads: Vec<String> = s
        .superseded()
        .unwrap()
        .into_iter()
        .map(|c| c.config)
        .collect();
    assert_eq!(heads, vec!["3/2", "9/0", "9/1"]);
}

#[test]
fn history_dedups_and_keeps_newest() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    s.save_history(&[event(1, 1, 100), event(1, 1, 100)])
        .unwrap();
    s.save_history(&[event(1, 1, 100)]).unwrap();
    assert_eq!(s.history().unwrap().len(), 1);
    // Oldest wall clock first in the batch: they are the ones dropped.
    let batch: Vec<HistoryEvent> = (0..MAX_HISTORY as u64 + 50)
        .map(|i| event(2, i, 1_000 + i))
        .collect();
    s.save_history(&batch).unwrap();
    let h = s.history().unwrap();
    assert_eq!(h.len(), MAX_HISTORY);
    assert_eq!(
        h.first().unwrap().wall_ms,
        1_000 + 50,
        "event(1, 1, 100) and the 50 oldest dropped"
    );
    assert_eq!(h.last().unwrap().wall_ms, 1_000 + MAX_HISTORY as u64 + 49);
    assert!(h.windows(2).all(|w| w[0].wall_ms <= w[1].wall_ms));
    s.save_history(&[]).unwrap();
}

#[test]
fn snapshot_request_ids_survive_reopen_and_are_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let c = MemberId(0x12550003);
    {
        let s = Store::open(&path).unwrap();
        s.save_config(rid(7), "text 7\n", None, &[rid(6), rid(7)])
            .unwrap();
        assert!(s.load_config().unwrap().unwrap().requests.is_empty());
        s.save_snapshot_requests(&[(rid(6), c, 3).into()]).unwrap();
        s.save_snapshot_requests(&[(rid(6), c, 3).into(), (rid(7), c, 4).into()])
            .unwrap();
    }
    let s = Store::open(&path).unwrap();
    let loaded = s.load_config().unwrap().unwrap();
    assert_eq!(
        loaded.requests,
        vec![(rid(6), c, 3).into(), (rid(7), c, 4).into()]
    );
    assert_eq!(loaded.head, rid(7), "the configuration is untouched");
}

#[test]
fn lost_members_survive_reopen_and_are_replaced_as_a_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let lost = |member: u32, in_grace: bool| roost_wire::LostMemberRecord {
        member: MemberId(member),
        mac: "52-54-00-E1-EE-16".parse().unwrap(),
        hostname: "vx9000-1".into(),
        model: Model::Vx9000,
        configured_mode: roost_wire::ClusterMode::Active,
        master_priority: 250,
        config_head: rid(3),
        licenses: roost_wire::LicenseCounts {
            aap_licenses: 128,
            aap_count: 12,
            ..Default::default()
        },
        boot: 4,
        lost_wall_ms: 1_764_000_000_000,
        in_grace,
    };
    {
        let s = Store::open(&path).unwrap();
        assert!(s.lost_members().unwrap().is_empty(), "none saved yet");
        s.save_lost_members(&[lost(1, true), lost(2, true)])
            .unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(
        s.lost_members().unwrap(),
        vec![lost(1, true), lost(2, true)]
    );
    s.save_lost_members(&[lost(2, false)]).unwrap();
    assert_eq!(s.lost_members().unwrap(), vec![lost(2, false)]);
}

/// The APs a member holds survive a restart (its next boot holds their licenses for them),
/// and a new list replaces the old.
#[test]
fn the_aps_a_member_holds_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let aps = vec![
        (roost_wire::Mac([0, 0x23, 0x68, 0, 0, 1]), true),
        (roost_wire::Mac([0, 0x23, 0x68, 0, 0, 2]), false),
    ];
    {
        let s = Store::open(&path).unwrap();
        assert!(s.own_aps().unwrap().is_empty(), "none saved yet");
        s.save_own_aps(&aps).unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.own_aps().unwrap(), aps);
    s.save_own_aps(&aps[1..]).unwrap();
    assert_eq!(s.own_aps().unwrap(), aps[1..].to_vec());
}

/// DHCP leases survive a restart; a batch is applied as a whole, later records winning; a
/// lease that frees its address (released, expired) leaves the store.
#[test]
fn leases_survive_a_restart_and_a_freed_address_leaves_the_store() {
    use roost_wire::{LeaseRecord, LeaseState};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let lease = |n: u8, state: LeaseState| LeaseRecord {
        ip: std::net::Ipv4Addr::new(10, 20, 1, n),
        mac: roost_wire::Mac([0, 0x23, 0x68, 0, 0, n]),
        client_id: vec![1, 0, 0x23, 0x68, 0, 0, n],
        state,
        granted_by: MemberId(1),
        start_ms: 1_764_000_000_000,
        expires_ms: 1_764_000_086_400,
        pool: "lobby".into(),
    };
    {
        let s = Store::open(&path).unwrap();
        assert!(s.leases().unwrap().is_empty(), "none saved yet");
        s.save_leases(&[
            lease(1, LeaseState::Bound),
            lease(2, LeaseState::Bound),
            lease(3, LeaseState::Declined),
            lease(2, LeaseState::Released),
        ])
        .unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(
        s.leases().unwrap(),
        vec![lease(1, LeaseState::Bound), lease(3, LeaseState::Declined)]
    );
    s.save_leases(&[lease(1, LeaseState::Expired)]).unwrap();
    assert_eq!(s.leases().unwrap(), vec![lease(3, LeaseState::Declined)]);
}
