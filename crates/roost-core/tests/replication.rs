//! Replication core, scenario by scenario (simulated time, hand-delivered messages).

mod support;

/// Wrapped so that `cargo test -p roost-core replication` selects these tests.
mod replication {

    use super::support::*;
    use roost_core::replication::{
        revision_id, superseded_chunks, MAX_SNAPSHOT_LEN, MAX_SUPERSEDED_LEN, SNAPSHOT_CHUNK,
        SNAPSHOT_LINEAGE_MAX, SNAPSHOT_REQUESTS_MAX, SUPERSEDED_CHUNK,
    };
    use roost_core::{
        CommitError, ConfigState, Replication, ReplicationOutput, ReplicationSettings,
        RequestRecord,
    };
    use roost_wire::{
        ClusterEvent, MemberMessage, ReplicationMessage, Revision, RevisionId, SupersededConfig,
        MAX_MESSAGE,
    };

    /// A master `A` with alive peers (heads ZERO).
    fn master_with_peers(peers: &[roost_wire::MemberId]) -> Replication<Kv> {
        let mut a = fresh(A, settings());
        a.handle_master(Some(A), ms(0));
        for p in peers {
            a.handle_peer_head(*p, RevisionId::ZERO, ms(0));
        }
        drain(&mut a);
        a
    }

    fn follower(me: roost_wire::MemberId, master: roost_wire::MemberId) -> Replication<Kv> {
        let mut r = fresh(me, settings());
        r.handle_master(Some(master), ms(0));
        drain(&mut r);
        r
    }

    fn commit(
        r: &mut Replication<Kv>,
        request: u64,
        change: &str,
        now: std::time::Duration,
    ) -> Drained {
        r.handle_local_commit(request, "admin".into(), change.into(), now);
        drain(r)
    }

    fn assert_encodable(outs: &[ReplicationOutput]) {
        for c in outs {
            if let ReplicationOutput::Send { msg, .. } = c {
                let msg = MemberMessage::Replication(msg.clone());
                let len = msg.encode().len();
                assert!(len < MAX_MESSAGE, "message of {len} bytes");
                assert_eq!(MemberMessage::decode(&msg.encode()).unwrap(), msg);
            }
        }
    }

    #[test]
    fn revision_ids_form_a_hash_chain() {
        use sha2::{Digest, Sha256};
        let id = revision_id(&RevisionId::ZERO, A, 7, "set a 1");
        let mut h = Sha256::new();
        h.update([0u8; 32]);
        h.update(1u64.to_be_bytes());
        h.update(A.0.to_be_bytes());
        h.update(7u64.to_be_bytes());
        h.update(b"set a 1");
        assert_eq!(
            id,
            RevisionId {
                number: 1,
                hash: h.finalize().into()
            }
        );
        let id2 = revision_id(&id, B, 1, "set a 1");
        assert_eq!(id2.number, 2);
        assert_ne!(id2.hash, id.hash);
    }

    #[test]
    fn master_local_commit_persists_then_notifies_then_pushes_to_alive_peers() {
        let mut a = master_with_peers(&[B, C]);
        let cmds = commit(&mut a, 1, "set ssid corp", ms(10));
        let id = revision_id(&RevisionId::ZERO, A, 1, "set ssid corp");
        let rev = Revision {
            id,
            parent: RevisionId::ZERO,
            origin: A,
            request: 1,
            user: "admin".into(),
            wall_ms: 10,
            change: "set ssid corp".into(),
        };
        let push = |to| ReplicationOutput::Send {
            to,
            msg: ReplicationMessage::Revisions {
                after: RevisionId::ZERO,
                revisions: vec![rev.clone()],
            },
        };
        assert_eq!(
            cmds.clone(),
            vec![
                ReplicationOutput::Persist {
                    head: id,
                    config: "ssid corp\n".into(),
                    revision: Some(rev.clone()),
                    lineage: vec![id]
                },
                ReplicationOutput::CommitDone {
                    request: 1,
                    result: Ok(id)
                },
                ReplicationOutput::ConfigApplied { head: id },
                push(B),
                push(C),
            ]
        );
        assert!(debugs(&cmds).contains(&"sending UPDATE revision 1 to 12.3A.A1.17".to_string()));
        assert_eq!(a.head(), id);
        assert_eq!(a.log(), &[rev]);
        assert_eq!(a.lineage(), &[id]);

        // A peer reported down is no longer pushed to.
        a.handle_peer_down(C, ms(20));
        let cmds = commit(&mut a, 2, "set vlan 10", ms(20));
        let targets: Vec<_> = sends(&cmds).into_iter().map(|(t, _)| t).collect();
        assert_eq!(targets, vec![B]);
    }

    #[test]
    fn master_commit_apply_error_changes_nothing() {
        let mut a = master_with_peers(&[B]);
        commit(&mut a, 1, "set a 1", ms(0));
        let (head, text) = (a.head(), a.config().text());
        let cmds = commit(&mut a, 2, "fail", ms(5));
        assert_eq!(
            cmds,
            vec![ReplicationOutput::CommitDone {
                request: 2,
                result: Err(CommitError::Rejected("invalid change \"fail\"".into()))
            }]
        );
        assert_eq!(
            (a.head(), a.config().text(), a.log().len()),
            (head, text, 1)
        );
    }

    #[test]
    fn commit_without_master_waits_for_one_then_times_out() {
        let mut b = fresh(B, settings());
        assert!(commit(&mut b, 9, "set a 1", ms(0)).is_empty());
        let timeout = settings().commit_timeout;
        assert_eq!(b.poll_timeout(), Some(timeout));
        b.handle_timeout(timeout);
        let cmds = drain(&mut b);
        assert_eq!(
            cmds,
            vec![ReplicationOutput::CommitDone {
                request: 9,
                result: Err(CommitError::NoMaster)
            }]
        );
        assert_eq!(b.poll_timeout(), None);
    }

    #[test]
    fn commit_without_master_goes_to_the_master_once_elected() {
        let mut b = fresh(B, settings());
        assert!(commit(&mut b, 9, "set a 1", ms(0)).is_empty());
        b.handle_master(Some(B), ms(300));
        let cmds = drain(&mut b);
        assert!(
            cmds.iter().any(|c| matches!(
                c,
                ReplicationOutput::CommitDone {
                    request: 9,
                    result: Ok(_)
                }
            )),
            "{cmds:?}"
        );
    }

    #[test]
    fn commit_via_member_request_revision_result() {
        let mut a = master_with_peers(&[B]);
        let mut b = follower(B, A);
        let cmds = commit(&mut b, 5, "set ssid guest", ms(0));
        assert_eq!(
            cmds,
            vec![ReplicationOutput::Send {
                to: A,
                msg: ReplicationMessage::CommitRequest {
                    request: 5,
                    user: "admin".into(),
                    change: "set ssid guest".into()
                }
            }]
        );
        assert_eq!(b.pending_commits(), vec![5]);
        let id = revision_id(&RevisionId::ZERO, B, 5, "set ssid guest");

        let out = feed(&mut a, B, to(A, &cmds), ms(1));
        let to_b = to(B, &out);
        assert_eq!(
            to_b[0],
            ReplicationMessage::CommitResult {
                request: 5,
                result: Ok(id)
            }
        );
        assert!(
            matches!(&to_b[1], ReplicationMessage::Revisions { after, revisions } if *after == RevisionId::ZERO && revisions[0].id == id)
        );
        assert!(matches!(&out.clone()[0], ReplicationOutput::Persist { head, .. } if *head == id));

        // Result first, then the revision: one CommitDone, config replicated, acked.
        let got = feed(&mut b, A, vec![to_b[0].clone()], ms(2));
        assert_eq!(commit_done(&got), vec![(5, Ok(id))]);
        let got = feed(&mut b, A, vec![to_b[1].clone()], ms(2));
        assert!(commit_done(&got).is_empty());
        assert_eq!(b.head(), id);
        assert_eq!(b.config().text(), "ssid guest\n");
        assert_eq!(to(A, &got), vec![ReplicationMessage::Ack { head: id }]);
        assert!(b.pending_commits().is_empty());
        assert_eq!(b.poll_timeout(), None);
    }

    #[test]
    fn member_commit_completes_from_replicated_revision_when_result_is_lost() {
        let mut a = master_with_peers(&[B]);
        let mut b = follower(B, A);
        let cmds = commit(&mut b, 5, "set x 1", ms(0));
        let out = feed(&mut a, B, to(A, &cmds), ms(1));
        let revs: Vec<_> = to(B, &out)
            .into_iter()
            .filter(|m| matches!(m, ReplicationMessage::Revisions { .. }))
            .collect();
        let got = feed(&mut b, A, revs, ms(2));
        assert_eq!(commit_done(&got), vec![(5, Ok(a.head()))]);
        // Persist comes before the CommitDone.
        let nd = got;
        assert!(matches!(nd[0], ReplicationOutput::Persist { .. }));
        assert!(matches!(nd[1], ReplicationOutput::CommitDone { .. }));
    }

    #[test]
    fn commit_exactly_once_under_retransmits_and_duplicates() {
        let mut a = master_with_peers(&[B]);
        let mut b = follower(B, A);
        let first = commit(&mut b, 5, "set k v", ms(0));
        assert_eq!(b.poll_timeout(), Some(ms(200)));
        // Nothing arrives; retransmit after the interval, not before.
        b.handle_timeout(ms(199));
        assert!(sends(&drain(&mut b)).is_empty());
        b.handle_timeout(ms(200));
        let second = drain(&mut b);
        assert_eq!(to(A, &second), to(A, &first));
        // The master receives the original, the retransmit and a duplicate datagram.
        let mut results = vec![];
        for m in [to(A, &first), to(A, &second), to(A, &second)].concat() {
            let out = feed(&mut a, B, vec![m], ms(210));
            results.extend(
                to(B, &out)
                    .into_iter()
                    .filter(|m| matches!(m, ReplicationMessage::CommitResult { .. })),
            );
        }
        let id = revision_id(&RevisionId::ZERO, B, 5, "set k v");
        assert_eq!(
            results,
            vec![
                ReplicationMessage::CommitResult {
                    request: 5,
                    result: Ok(id)
                };
                3
            ]
        );
        assert_eq!(a.log().len(), 1);
        assert_eq!(a.head(), id);
        let got = feed(&mut b, A, results, ms(220));
        assert_eq!(commit_done(&got), vec![(5, Ok(id))]);
    }

    #[test]
    fn failed_member_commit_gets_identical_answer_on_retransmit() {
        let mut a = master_with_peers(&[B]);
        let mut b = follower(B, A);
        let cmds = commit(&mut b, 1, "del nothing", ms(0));
        let r1 = to(B, &feed(&mut a, B, to(A, &cmds), ms(1)));
        let r2 = to(B, &feed(&mut a, B, to(A, &cmds), ms(300)));
        assert_eq!(
            r1,
            vec![ReplicationMessage::CommitResult {
                request: 1,
                result: Err(CommitError::Rejected("no such key nothing".into()))
            }]
        );
        assert_eq!(r1, r2);
        assert_eq!(a.head(), RevisionId::ZERO);
        let got = feed(&mut b, A, r1, ms(2));
        assert_eq!(
            commit_done(&got),
            vec![(1, Err("no such key nothing".into()))]
        );
    }

    #[test]
    fn commit_timeout_reports_master_did_not_answer() {
        let mut b = follower(B, A);
        commit(&mut b, 3, "set a b", ms(0));
        let mut now = ms(0);
        let mut retransmits = 0;
        while let Some(t) = b.poll_timeout() {
            now = t;
            b.handle_timeout(now);
            let cmds = drain(&mut b);
            retransmits += to(A, &cmds).len();
            if let Some(done) = commit_done(&cmds).pop() {
                assert_eq!(
                    done,
                    (3, Err("cluster master 12.E1.EE.16 did not answer".into()))
                );
                break;
            }
        }
        assert_eq!(now, ms(3000));
        assert_eq!(retransmits, 14);
        assert!(b.pending_commits().is_empty());
        assert_eq!(b.poll_timeout(), None);
    }

    #[test]
    fn commit_request_to_non_master_is_refused_and_requester_retries() {
        let mut c = follower(C, A);
        let mut b = follower(B, C); // B wrongly believes C is master
        let cmds = commit(&mut b, 1, "set a 1", ms(0));
        let reply = to(B, &feed(&mut c, B, to(C, &cmds), ms(1)));
        assert_eq!(
            reply,
            vec![ReplicationMessage::CommitResult {
                request: 1,
                result: Err(CommitError::NotMaster { master: Some(A) })
            }]
        );
        let got = feed(&mut b, C, reply, ms(2));
        assert!(commit_done(&got).is_empty(), "retryable");
        assert_eq!(b.pending_commits(), vec![1]);
        b.handle_timeout(ms(3000));
        let got = drain(&mut b);
        assert_eq!(
            commit_done(&got),
            vec![(
                1,
                Err("not the cluster master; master is 12.E1.EE.16".into())
            )]
        );
    }

    #[test]
    fn pending_commit_follows_master_change() {
        let mut b = follower(B, A);
        let mut c = fresh(C, settings());
        commit(&mut b, 4, "set a 1", ms(0)); // lost: A is gone
        c.handle_master(Some(C), ms(50));
        b.handle_master(Some(C), ms(50));
        let cmds = drain(&mut b);
        let req = to(C, &cmds);
        assert_eq!(req.len(), 1);
        let out = feed(&mut c, B, req, ms(51));
        let id = revision_id(&RevisionId::ZERO, B, 4, "set a 1");
        assert_eq!(
            to(B, &out),
            vec![ReplicationMessage::CommitResult {
                request: 4,
                result: Ok(id)
            }]
        );
        let got = feed(&mut b, C, to(B, &out), ms(52));
        assert_eq!(commit_done(&got), vec![(4, Ok(id))]);
    }

    #[test]
    fn retry_after_master_change_is_not_applied_twice() {
        // A commits B's request and replicates it to C, but the result to B is lost and A dies.
        let mut a = master_with_peers(&[B, C]);
        let mut b = follower(B, A);
        let mut c = follower(C, A);
        let req = to(A, &commit(&mut b, 8, "set ssid x", ms(0)));
        let out = feed(&mut a, B, req, ms(1));
        feed(&mut c, A, to(C, &out), ms(2));
        let id = a.head();
        assert_eq!(c.head(), id);
        // C becomes master; B retries there and gets the same revision, not a second one.
        c.handle_master(Some(C), ms(100));
        b.handle_master(Some(C), ms(100));
        let out = feed(&mut c, B, to(C, &drain(&mut b)), ms(101));
        assert_eq!(
            to(B, &out),
            vec![ReplicationMessage::CommitResult {
                request: 8,
                result: Ok(id)
            }]
        );
        assert_eq!(c.head(), id);
        assert_eq!(c.log().len(), 1);
    }

    #[test]
    fn member_becoming_master_applies_its_pending_commit() {
        let mut b = follower(B, A);
        commit(&mut b, 2, "set a 1", ms(0));
        b.handle_master(Some(B), ms(10));
        let cmds = drain(&mut b);
        let id = revision_id(&RevisionId::ZERO, B, 2, "set a 1");
        assert_eq!(commit_done(&cmds), vec![(2, Ok(id))]);
        assert_eq!(b.head(), id);
        assert!(b.pending_commits().is_empty());
    }

    #[test]
    fn incremental_catch_up_from_ancestor_head() {
        let mut a = master_with_peers(&[]);
        for i in 1..=5 {
            commit(&mut a, i, &format!("set k{i} v{i}"), ms(i));
        }
        // B is at revision 2 (an ancestor): it gets 3..=5 in one message.
        let mut b = follower(B, A);
        let revs2 = a.log()[..2].to_vec();
        feed(
            &mut b,
            A,
            vec![ReplicationMessage::Revisions {
                after: RevisionId::ZERO,
                revisions: revs2,
            }],
            ms(10),
        );
        assert_eq!(b.head().number, 2);
        a.handle_peer_head(B, b.head(), ms(100));
        let out = drain(&mut a);
        let msgs = to(B, &out);
        assert_eq!(
            msgs,
            vec![ReplicationMessage::Revisions {
                after: a.log()[1].id,
                revisions: a.log()[2..].to_vec()
            }]
        );
        assert!(debugs(&out)
            .iter()
            .any(|l| l.starts_with("tx_update CS_ACT_CFG_UPDATE")));
        let got = feed(&mut b, A, msgs, ms(101));
        let persisted: Vec<_> = got
            .iter()
            .filter_map(|c| match c {
                ReplicationOutput::Persist {
                    head,
                    revision: Some(r),
                    ..
                } => Some((*head, r.id)),
                _ => None,
            })
            .collect();
        let expect: Vec<_> = a.log()[2..].iter().map(|r| (r.id, r.id)).collect();
        assert_eq!(persisted, expect, "one Persist per revision, in order");
        assert_eq!(
            to(A, &got),
            vec![ReplicationMessage::Ack { head: a.head() }]
        );
        assert_eq!(
            (b.head(), b.config(), b.lineage()),
            (a.head(), a.config(), a.lineage())
        );
        let acked = feed(&mut a, B, to(A, &got), ms(102));
        assert!(
            records(&acked).is_empty(),
            "incremental acks record nothing"
        );
        assert!(debugs(&acked).contains(
            &"cluster config update OK, current revision: 5, expected revision: 5".into()
        ));
        // Hellos with the same head push nothing.
        a.handle_peer_head(B, b.head(), ms(500));
        assert!(sends(&drain(&mut a)).is_empty());
    }

    #[test]
    fn catch_up_pushes_are_rate_limited_per_peer() {
        let mut a = master_with_peers(&[]);
        commit(&mut a, 1, "set a 1", ms(0));
        a.handle_peer_head(B, RevisionId::ZERO, ms(1000));
        assert_eq!(to(B, &drain(&mut a)).len(), 1);
        a.handle_peer_head(B, RevisionId::ZERO, ms(1100));
        assert!(
            to(B, &drain(&mut a)).is_empty(),
            "within the retransmit interval"
        );
        a.handle_peer_head(C, RevisionId::ZERO, ms(1100));
        assert_eq!(to(C, &drain(&mut a)).len(), 1, "per peer");
        a.handle_peer_head(B, RevisionId::ZERO, ms(1200));
        assert_eq!(to(B, &drain(&mut a)).len(), 1, "again after the interval");
    }

    #[test]
    fn duplicate_and_reordered_updates_are_acked_not_reapplied() {
        let mut a = master_with_peers(&[B]);
        let mut b = follower(B, A);
        let m1 = to(B, &commit(&mut a, 1, "set a 1", ms(0)));
        let m2 = to(B, &commit(&mut a, 2, "set b 2", ms(1)));
        // m2 first: does not follow B's head: ignored, no ack.
        let got = feed(&mut b, A, m2.clone(), ms(2));
        assert!(to(A, &got).is_empty());
        assert_eq!(b.head(), RevisionId::ZERO);
        feed(&mut b, A, m1.clone(), ms(3));
        feed(&mut b, A, m2.clone(), ms(4));
        assert_eq!(b.head(), a.head());
        // Late duplicates: ack the current head, nothing applied.
        let got = feed(&mut b, A, [m1, m2].concat(), ms(5));
        assert_eq!(
            to(A, &got),
            vec![ReplicationMessage::Ack { head: a.head() }; 2]
        );
        assert!(!got
            .iter()
            .any(|c| matches!(c, ReplicationOutput::Persist { .. })));
    }

    #[test]
    fn large_revisions_are_chunked_and_oversized_ones_go_by_snapshot() {
        let mut a = master_with_peers(&[]);
        let big = "x".repeat(20_000);
        for i in 0..6 {
            commit(&mut a, i, &format!("set k{i} {big}"), ms(i));
        }
        a.handle_peer_head(B, RevisionId::ZERO, ms(1000));
        let out = drain(&mut a);
        assert_encodable(&out);
        let msgs = to(B, &out);
        assert!(msgs.len() >= 3, "chunked into {} messages", msgs.len());
        assert!(msgs
            .iter()
            .all(|m| matches!(m, ReplicationMessage::Revisions { .. })));
        let mut b = follower(B, A);
        feed(&mut b, A, msgs, ms(1001));
        assert_eq!(b.head(), a.head());

        // One revision larger than a message: a snapshot.
        let huge = "y".repeat(70_000);
        let cmds = commit(&mut a, 99, &format!("set huge {huge}"), ms(2000));
        assert!(to(B, &cmds).is_empty(), "too large to push incrementally");
        a.handle_peer_head(B, b.head(), ms(2000));
        let out = drain(&mut a);
        assert_encodable(&out);
        let msgs = to(B, &out);
        assert!(msgs
            .iter()
            .all(|m| matches!(m, ReplicationMessage::Snapshot { .. })));
        let got = feed(&mut b, A, msgs, ms(2001));
        assert_eq!((b.head(), b.config()), (a.head(), a.config()));
        assert!(
            records(&got).is_empty() || records(&got)[0].0 == ClusterEvent::ConfigUpdateSuccess
        );
    }

    /// A master whose config is `keys` × ~1 KiB (so > 32 KiB) and whose log no longer reaches ZERO.
    fn big_master(keys: usize) -> Replication<Kv> {
        let s = ReplicationSettings {
            log_capacity: 4,
            ..settings()
        };
        let mut a = fresh(A, s);
        a.handle_master(Some(A), ms(0));
        for i in 0..keys {
            a.handle_local_commit(
                i as u64,
                "admin".into(),
                format!("set key{i:04} {}", "v".repeat(1000)),
                ms(0),
            );
        }
        drain(&mut a);
        a
    }

    #[test]
    fn snapshot_in_chunks_with_loss_and_retransmit() {
        let mut a = big_master(100);
        assert!(a.config().text().len() > 3 * SNAPSHOT_CHUNK);
        assert_eq!(a.log().len(), 4);
        assert_eq!(a.lineage().len(), 4);
        let mut b = follower(B, A);

        a.handle_peer_head(B, RevisionId::ZERO, ms(1000));
        let out = drain(&mut a);
        assert_encodable(&out);
        assert!(debugs(&out)
            .contains(&"tx_update CS_ACT_CFG_FULL - revision 100 to 12.3A.A1.17".into()));
        let chunks = to(B, &out);
        assert_eq!(chunks.len(), 4);
        for (k, m) in chunks.iter().enumerate() {
            let ReplicationMessage::Snapshot {
                head,
                lineage,
                requests,
                total_len,
                offset,
                data,
            } = m
            else {
                panic!()
            };
            assert_eq!((*head, lineage.as_slice()), (a.head(), a.lineage()));
            let known: Vec<_> = a
                .log()
                .iter()
                .map(|r| RequestRecord::from((r.id, r.origin, r.request)))
                .collect();
            assert_eq!(requests, &known, "the request ids of the lineage revisions");
            assert_eq!(*total_len as usize, a.config().text().len());
            assert_eq!(*offset as usize, k * SNAPSHOT_CHUNK);
            assert!(data.len() <= SNAPSHOT_CHUNK);
        }
        // The third chunk is lost; the rest arrive out of order.
        let got = feed(
            &mut b,
            A,
            vec![chunks[3].clone(), chunks[0].clone(), chunks[1].clone()],
            ms(1001),
        );
        assert!(sends(&got).is_empty());
        assert_eq!(b.head(), RevisionId::ZERO);
        // Hellos within the interval do not resend; the next one after it does.
        a.handle_peer_head(B, RevisionId::ZERO, ms(1100));
        assert!(sends(&drain(&mut a)).is_empty());
        a.handle_peer_head(B, RevisionId::ZERO, ms(1200));
        let again = to(B, &drain(&mut a));
        assert_eq!(again, chunks);
        let got = feed(&mut b, A, vec![again[2].clone()], ms(1201));
        assert_eq!(
            (b.head(), b.config(), b.lineage()),
            (a.head(), a.config(), a.lineage())
        );
        assert!(b.log().is_empty());
        let nd = got.clone();
        assert_eq!(
            nd,
            vec![
                ReplicationOutput::PersistRequests(
                    a.log()
                        .iter()
                        .map(|r| RequestRecord::from((r.id, r.origin, r.request)))
                        .collect()
                ),
                ReplicationOutput::Persist {
                    head: a.head(),
                    config: a.config().text(),
                    revision: None,
                    lineage: a.lineage().to_vec()
                },
                ReplicationOutput::Record {
                    event: ClusterEvent::ConfigUpdateSuccess,
                    reason: "successfully applied config".into()
                },
                ReplicationOutput::ConfigApplied { head: a.head() },
                ReplicationOutput::Send {
                    to: A,
                    msg: ReplicationMessage::Ack { head: a.head() }
                },
            ]
        );
        // Remaining duplicate chunks are answered with acks; the master records success once.
        let dup = feed(&mut b, A, vec![again[0].clone()], ms(1202));
        let acks = [to(A, &got), to(A, &dup)].concat();
        let out = feed(&mut a, B, acks, ms(1203));
        assert_eq!(
            records(&out),
            vec![(
                ClusterEvent::ConfigUpdateSuccess,
                "config sync succeeded".to_string()
            )]
        );
        assert!(debugs(&out).contains(
            &"cluster config update OK, current revision: 100, expected revision: 100".into()
        ));
        assert!(debugs(&out)
            .contains(&"tx_update CS_ACT_CFG_FULL - revision 100 host 12.3A.A1.17 is OK".into()));
        // Later commits go incrementally.
        let out = commit(&mut a, 500, "set late 1", ms(2000));
        feed(&mut b, A, to(B, &out), ms(2001));
        assert_eq!(b.head(), a.head());
    }

    #[test]
    fn partial_assembly_of_another_head_is_dropped() {
        let mut a = big_master(70);
        let mut b = follower(B, A);
        a.handle_peer_head(B, RevisionId::ZERO, ms(1000));
        let old = to(B, &drain(&mut a));
        feed(&mut b, A, vec![old[0].clone()], ms(1000));
        commit(&mut a, 1000, "set new 1", ms(1100));
        a.handle_peer_head(B, RevisionId::ZERO, ms(1300));
        let new = to(B, &drain(&mut a));
        // Chunks of the new head, then a late one of the old head, then the rest of the new one.
        feed(&mut b, A, vec![new[0].clone(), old[1].clone()], ms(1301));
        feed(&mut b, A, new[1..].to_vec(), ms(1302));
        assert_eq!(
            b.head(),
            RevisionId::ZERO,
            "the new assembly was replaced by the late old chunk"
        );
        feed(&mut b, A, new.clone(), ms(1303));
        assert_eq!((b.head(), b.config()), (a.head(), a.config()));
    }

    #[test]
    fn snapshot_limits_and_load_errors() {
        let mut b = follower(B, A);
        let head = RevisionId {
            number: 3,
            hash: [3; 32],
        };
        let snap = |total_len: u32, offset: u32, data: &[u8]| ReplicationMessage::Snapshot {
            head,
            lineage: vec![head],
            requests: vec![],
            total_len,
            offset,
            data: data.to_vec(),
        };
        let got = feed(
            &mut b,
            A,
            vec![snap(MAX_SNAPSHOT_LEN + 1, 0, b"a b\n")],
            ms(0),
        );
        assert!(debugs(&got)[0].starts_with("refusing CS_ACT_CFG_FULL"));
        let got = feed(&mut b, A, vec![snap(4, 2, b"a b\n")], ms(0));
        assert!(debugs(&got)[0].starts_with("bad CS_ACT_CFG_FULL chunk"));
        // Does not load: ignored, state unchanged, no ack.
        let got = feed(&mut b, A, vec![snap(8, 0, b"corrupt\n")], ms(0));
        assert!(sends(&got).is_empty());
        assert!(debugs(&got)
            .iter()
            .any(|l| l.starts_with("cluster config update failed")));
        assert_eq!(b.head(), RevisionId::ZERO);
        // An empty configuration is one empty chunk.
        let got = feed(&mut b, A, vec![snap(0, 0, b"")], ms(0));
        assert_eq!(b.head(), head);
        assert_eq!(to(A, &got), vec![ReplicationMessage::Ack { head }]);
    }

    #[test]
    fn updates_from_non_master_are_ignored() {
        let mut a = master_with_peers(&[B]);
        let mut b = follower(B, C);
        let msgs = to(B, &commit(&mut a, 1, "set a 1", ms(0)));
        let got = feed(&mut b, A, msgs, ms(1));
        assert!(sends(&got).is_empty());
        assert_eq!(b.head(), RevisionId::ZERO);
        assert_eq!(
            debugs(&got),
            vec![
                "ignoring UPDATE from 12.E1.EE.16: not the cluster master (master is 12.55.00.03)"
                    .to_string()
            ]
        );
        // A master ignores updates, whoever sends them.
        let head = a.head();
        let other = ReplicationMessage::Snapshot {
            head: RevisionId::ZERO,
            lineage: vec![],
            requests: vec![],
            total_len: 0,
            offset: 0,
            data: vec![],
        };
        let got = feed(&mut a, C, vec![other], ms(0));
        assert!(sends(&got).is_empty());
        assert_eq!(a.head(), head);
    }

    #[test]
    fn broken_hash_chain_is_rejected() {
        let mut a = master_with_peers(&[B]);
        let mut b = follower(B, A);
        let msgs = to(B, &commit(&mut a, 1, "set a 1", ms(0)));
        let ReplicationMessage::Revisions {
            after,
            mut revisions,
        } = msgs[0].clone()
        else {
            panic!()
        };
        revisions[0].change = "set a 2".into(); // tampered: hash no longer matches
        let got = feed(
            &mut b,
            A,
            vec![ReplicationMessage::Revisions {
                after,
                revisions: revisions.clone(),
            }],
            ms(1),
        );
        assert!(sends(&got).is_empty());
        assert!(debugs(&got)[0].contains("fails the hash chain"));
        assert_eq!(
            (b.head(), b.config().text()),
            (RevisionId::ZERO, String::new())
        );
        // A wrong parent link is rejected too.
        let mut r = a.log()[0].clone();
        r.parent = RevisionId {
            number: 0,
            hash: [9; 32],
        };
        let got = feed(
            &mut b,
            A,
            vec![ReplicationMessage::Revisions {
                after: RevisionId::ZERO,
                revisions: vec![r],
            }],
            ms(1),
        );
        assert!(debugs(&got)[0].contains("has parent"));
        assert_eq!(b.head(), RevisionId::ZERO);
        // The genuine one applies.
        feed(&mut b, A, msgs, ms(2));
        assert_eq!(b.head(), a.head());
    }

    #[test]
    fn member_apply_error_leaves_state_unchanged() {
        let mut b = follower(B, A);
        let good = Revision {
            id: revision_id(&RevisionId::ZERO, A, 1, "set a 1"),
            parent: RevisionId::ZERO,
            origin: A,
            request: 1,
            user: "admin".into(),
            wall_ms: 0,
            change: "set a 1".into(),
        };
        let bad = Revision {
            id: revision_id(&good.id, A, 2, "del zzz"),
            parent: good.id,
            request: 2,
            change: "del zzz".into(),
            ..good.clone()
        };
        let got = feed(
            &mut b,
            A,
            vec![ReplicationMessage::Revisions {
                after: RevisionId::ZERO,
                revisions: vec![good.clone(), bad],
            }],
            ms(0),
        );
        assert!(sends(&got).is_empty());
        assert!(
            !got.iter()
                .any(|c| matches!(c, ReplicationOutput::Persist { .. })),
            "all or nothing"
        );
        assert!(debugs(&got)[0].contains("does not apply"));
        assert_eq!(
            (b.head(), b.config().text(), b.log().len()),
            (RevisionId::ZERO, String::new(), 0)
        );
    }

    #[test]
    fn divergence_keeps_superseded_config_reports_it_and_converges() {
        // Partition: A and B are both masters and both commit.
        let mut a = master_with_peers(&[]);
        let mut b = follower(B, A);
        commit(&mut a, 1, "set shared 1", ms(0));
        // B had revision 1 before the partition.
        feed(
            &mut b,
            A,
            vec![ReplicationMessage::Revisions {
                after: RevisionId::ZERO,
                revisions: a.log().to_vec(),
            }],
            ms(1),
        );
        b.handle_master(Some(B), ms(10));
        drain(&mut b);
        commit(&mut b, 7, "set side b", ms(20));
        commit(&mut b, 8, "set more b", ms(21));
        commit(&mut a, 2, "set side a", ms(22));
        let b_head = b.head();
        let b_text = b.config().text();
        let b_revs = b.log()[1..].to_vec();
        assert_eq!(b_head.number, 3);

        // Heal: the election makes A master.
        b.handle_master(Some(A), ms(1000));
        drain(&mut b);
        let snap = pull_refused_then_snapshot(&mut a, A, &mut b, B, ms(1000));
        let got = feed(&mut b, A, snap, ms(1001));
        let expected = SupersededConfig {
            head: b_head,
            holder: B,
            revisions: b_revs,
            config: b_text.clone(),
            superseded_wall_ms: 1001,
        };
        let nd = got.clone();
        assert_eq!(
            nd[0],
            ReplicationOutput::PersistSuperseded(expected.clone())
        );
        assert_eq!(
            nd[1],
            ReplicationOutput::Record {
                event: ClusterEvent::ConfigSuperseded,
                reason: format!(
                    "revision {} superseded by master 12.E1.EE.16 revision {}",
                    b_head.short(),
                    a.head().short()
                )
            }
        );
        assert!(nd[1..].iter().any(|c| matches!(
            c,
            ReplicationOutput::Record {
                event: ClusterEvent::ConfigUpdateSuccess,
                ..
            }
        )));
        assert_eq!(b.superseded(), std::slice::from_ref(&expected));
        assert_eq!((b.head(), b.config()), (a.head(), a.config()));
        let to_a = to(A, &got);
        assert_eq!(to_a[0], superseded_chunks(&expected)[0]);
        assert_eq!(superseded_chunks(&expected).len(), 1);
        assert_eq!(b.unacked_superseded(), vec![b_head]);

        // The report is lost: retransmitted after the interval, to the current master.
        assert_eq!(b.poll_timeout(), Some(ms(1201)));
        b.handle_timeout(ms(1201));
        let resent = to(A, &drain(&mut b));
        assert_eq!(resent, superseded_chunks(&expected));
        let out = feed(&mut a, B, [resent.clone(), resent].concat(), ms(1202));
        assert_eq!(
            out.clone()[0],
            ReplicationOutput::PersistSuperseded(expected.clone()),
            "persisted once on the master"
        );
        assert_eq!(
            out.iter()
                .filter(|c| matches!(c, ReplicationOutput::PersistSuperseded(_)))
                .count(),
            1
        );
        assert_eq!(a.superseded(), &[expected]);
        feed(&mut b, A, to(B, &out), ms(1203));
        assert!(b.unacked_superseded().is_empty());
        assert_eq!(b.poll_timeout(), None);
        // The ack of the snapshot makes the master record the sync.
        let out = feed(&mut a, B, vec![to_a[1].clone()], ms(1204));
        assert_eq!(
            records(&out),
            vec![(
                ClusterEvent::ConfigUpdateSuccess,
                "config sync succeeded".into()
            )]
        );
    }

    #[test]
    fn ancestor_snapshot_is_not_a_divergence() {
        let mut a = big_master(10);
        let mut b = follower(B, A);
        // B has the first revisions of the current lineage but A's log no longer reaches them.
        let ancestor = a.lineage()[0];
        let mut b2 = Replication::new(
            B,
            settings(),
            Kv::default(),
            ancestor,
            vec![],
            vec![ancestor],
            vec![],
        );
        b2.handle_master(Some(A), ms(0));
        drain(&mut b2);
        a.handle_peer_head(B, ancestor, ms(1000));
        let snap = to(B, &drain(&mut a));
        let got = feed(&mut b2, A, snap.clone(), ms(1001));
        assert!(!got
            .iter()
            .any(|c| matches!(c, ReplicationOutput::PersistSuperseded(_))));
        assert!(b2.superseded().is_empty());
        assert_eq!(b2.head(), a.head());
        feed(&mut b, A, snap, ms(1001));
        assert!(b.superseded().is_empty(), "ZERO never diverges");
    }

    #[test]
    fn superseded_config_holds_ancestors_known_only_by_lineage() {
        // B reached revision 2 by a snapshot (the store then clears the log) and restarted:
        // it knows revision 1 only as a lineage id, not as a revision.
        let mut cfg = Kv::default();
        cfg.apply("set kept 1").unwrap();
        let r1 = revision_id(&RevisionId::ZERO, B, 1, "set kept 1");
        cfg.apply("set also 2").unwrap();
        let r2 = revision_id(&r1, A, 1, "set also 2");
        let mut b = Replication::new(B, settings(), cfg.clone(), r2, vec![], vec![r1, r2], vec![]);
        b.handle_master(Some(C), ms(0));
        drain(&mut b);
        // C comes back with an older, unrelated configuration and wins.
        let c1 = revision_id(&RevisionId::ZERO, C, 1, "set other 1");
        let got = feed(
            &mut b,
            C,
            vec![ReplicationMessage::Snapshot {
                head: c1,
                lineage: vec![c1],
                requests: vec![],
                total_len: 8,
                offset: 0,
                data: b"other 1\n".to_vec(),
            }],
            ms(5),
        );
        // Revision 1 survives as an ancestor of the kept head: its change is in the kept text,
        // though only the revisions B still has in full could be listed (none).
        let expected = SupersededConfig {
            head: r2,
            holder: B,
            revisions: vec![],
            config: cfg.text(),
            superseded_wall_ms: 5,
        };
        assert!(expected.config.contains("kept 1"));
        assert_eq!(b.superseded(), std::slice::from_ref(&expected));
        assert!(got.contains(&ReplicationOutput::PersistSuperseded(expected.clone())));
        assert_eq!(to(C, &got)[0], superseded_chunks(&expected)[0]);
        assert_eq!(b.head(), c1);
    }

    #[test]
    fn superseded_report_follows_master_change() {
        let mut own = Kv::default();
        own.apply("set lonely 1").unwrap();
        let own_head = revision_id(&RevisionId::ZERO, B, 1, "set lonely 1");
        let mut b = Replication::new(B, settings(), own, own_head, vec![], vec![own_head], vec![]);
        b.handle_master(Some(A), ms(0));
        drain(&mut b);
        let head = RevisionId {
            number: 1,
            hash: [1; 32],
        };
        feed(
            &mut b,
            A,
            vec![ReplicationMessage::Snapshot {
                head,
                lineage: vec![head],
                requests: vec![],
                total_len: 4,
                offset: 0,
                data: b"x y\n".to_vec(),
            }],
            ms(0),
        );
        assert_eq!(b.superseded().len(), 1);
        b.handle_master(Some(C), ms(50));
        let cmds = drain(&mut b);
        assert!(
            matches!(&to(C, &cmds)[..], [ReplicationMessage::SupersededChunk { head, .. }] if *head == own_head)
        );
        // Becoming master itself: the config is archived here, nothing left to report.
        b.handle_master(Some(B), ms(60));
        assert!(b.unacked_superseded().is_empty());
    }

    #[test]
    fn restart_from_persisted_state_keeps_deduplication() {
        let mut a = master_with_peers(&[B]);
        commit(&mut a, 1, "set k1 1", ms(1));
        let req = ReplicationMessage::CommitRequest {
            request: 2,
            user: "u".into(),
            change: "set k2 2".into(),
        };
        let first = to(B, &feed(&mut a, B, vec![req.clone()], ms(2)));
        commit(&mut a, 3, "set k3 3", ms(3));
        let mut r = Replication::new(
            A,
            settings(),
            a.config().clone(),
            a.head(),
            a.log().to_vec(),
            a.lineage().to_vec(),
            vec![],
        );
        assert_eq!(
            (r.head(), r.log(), r.lineage()),
            (a.head(), a.log(), a.lineage())
        );
        r.handle_master(Some(A), ms(0));
        drain(&mut r);
        let again = to(B, &feed(&mut r, B, vec![req], ms(0)));
        assert_eq!(again, first[..1].to_vec());
        assert_eq!(r.log().len(), 3);
    }

    #[test]
    fn hello_showing_the_snapshot_head_counts_as_its_ack() {
        let mut a = big_master(40);
        a.handle_peer_head(B, RevisionId::ZERO, ms(1000));
        drain(&mut a);
        // Every ack is lost; the next hello carries the snapshot's head.
        a.handle_peer_head(B, a.head(), ms(1300));
        let out = drain(&mut a);
        assert_eq!(
            records(&out),
            vec![(
                ClusterEvent::ConfigUpdateSuccess,
                "config sync succeeded".to_string()
            )]
        );
        assert!(sends(&out).is_empty());
        a.handle_peer_head(B, a.head(), ms(1600));
        assert!(records(&drain(&mut a)).is_empty(), "recorded once");
    }

    #[test]
    fn superseded_report_to_a_non_master_is_not_acknowledged() {
        let mut c = follower(C, A);
        let sc = SupersededConfig {
            head: RevisionId {
                number: 2,
                hash: [2; 32],
            },
            holder: B,
            revisions: vec![],
            config: "a b\n".into(),
            superseded_wall_ms: 0,
        };
        let got = feed(&mut c, B, superseded_chunks(&sc), ms(0));
        assert!(sends(&got).is_empty());
        assert!(c.superseded().is_empty());
        c.handle_master(Some(C), ms(1));
        drain(&mut c);
        let got = feed(&mut c, B, superseded_chunks(&sc), ms(2));
        assert_eq!(
            got,
            vec![
                ReplicationOutput::PersistSuperseded(sc.clone()),
                ReplicationOutput::Send {
                    to: B,
                    msg: ReplicationMessage::SupersededAck { head: sc.head }
                },
            ]
        );
        assert_eq!(c.superseded(), &[sc]);
    }

    /// B, master of its own partition, commits `keys` × ~1 KiB; the heal makes A (one small
    /// commit of its own) master. Returns (a, b) with B's config just superseded, and what B
    /// emitted.
    fn big_divergence(keys: usize) -> (Replication<Kv>, Replication<Kv>, Drained) {
        let mut a = master_with_peers(&[]);
        commit(&mut a, 1, "set side a", ms(0));
        let mut b = fresh(B, settings());
        b.handle_master(Some(B), ms(0));
        for i in 0..keys {
            commit(
                &mut b,
                i as u64,
                &format!("set key{i:04} {}", "b".repeat(1000)),
                ms(1),
            );
        }
        b.handle_master(Some(A), ms(1000));
        drain(&mut b);
        let snap = pull_refused_then_snapshot(&mut a, A, &mut b, B, ms(1000));
        let got = feed(&mut b, A, snap, ms(1001));
        (a, b, got)
    }

    #[test]
    fn large_superseded_config_is_reported_in_chunks_despite_loss() {
        let (mut a, mut b, got) = big_divergence(160);
        let sc = b.superseded()[0].clone();
        assert_eq!((sc.holder, sc.revisions.len()), (B, 160));
        assert!(sc.config.len() > 150 * 1024, "{} bytes", sc.config.len());
        assert_encodable(&got);
        let chunks = to(A, &got)
            .into_iter()
            .filter(|m| matches!(m, ReplicationMessage::SupersededChunk { .. }))
            .collect::<Vec<_>>();
        assert_eq!(chunks, superseded_chunks(&sc));
        let encoded = sc.encode();
        assert_eq!(chunks.len(), encoded.len().div_ceil(SUPERSEDED_CHUNK));
        assert!(chunks.len() >= 5, "{} chunks", chunks.len());
        for (k, m) in chunks.iter().enumerate() {
            let ReplicationMessage::SupersededChunk {
                head,
                total_len,
                offset,
                data,
            } = m
            else {
                panic!()
            };
            assert_eq!((*head, *total_len as usize), (sc.head, encoded.len()));
            assert_eq!(*offset as usize, k * SUPERSEDED_CHUNK);
            assert_eq!(data[..], encoded[k * SUPERSEDED_CHUNK..][..data.len()]);
        }

        // Chunks 1 and 3 are lost, the rest arrive out of order: nothing archived yet.
        let first: Vec<_> = chunks
            .iter()
            .enumerate()
            .rev()
            .filter(|(k, _)| *k != 1 && *k != 3)
            .map(|(_, m)| m.clone())
            .collect();
        let out = feed(&mut a, B, first, ms(1002));
        assert!(sends(&out).is_empty());
        assert!(a.superseded().is_empty());
        assert_eq!(a.superseded_in_progress(), vec![(B, sc.head)]);

        // No ack: B sends every chunk again after the interval (not before).
        b.handle_timeout(ms(1100));
        assert!(to(A, &drain(&mut b)).is_empty());
        assert_eq!(b.poll_timeout(), Some(ms(1201)));
        b.handle_timeout(ms(1201));
        let resent = to(A, &drain(&mut b));
        assert_eq!(resent, chunks);
        // Chunk 1 of the retransmission arrives: still incomplete. Then chunk 3: archived,
        // persisted and acknowledged once.
        let out = feed(&mut a, B, vec![resent[1].clone()], ms(1202));
        assert!(sends(&out).is_empty());
        let out = feed(&mut a, B, vec![resent[3].clone()], ms(1203));
        assert_eq!(
            out.clone(),
            vec![
                ReplicationOutput::PersistSuperseded(sc.clone()),
                ReplicationOutput::Send {
                    to: B,
                    msg: ReplicationMessage::SupersededAck { head: sc.head }
                },
            ]
        );
        assert!(debugs(&out)
            .iter()
            .any(|d| d.starts_with("archiving superseded config")));
        assert_eq!(a.superseded(), std::slice::from_ref(&sc));
        assert!(a.superseded_in_progress().is_empty());
        // Late duplicates are acknowledged again, not archived twice.
        let late = feed(&mut a, B, resent.clone(), ms(1204));
        assert!(!late
            .iter()
            .any(|c| matches!(c, ReplicationOutput::PersistSuperseded(_))));
        assert!(to(B, &late)
            .iter()
            .all(|m| *m == ReplicationMessage::SupersededAck { head: sc.head }));
        assert!(a.superseded_in_progress().is_empty());
        assert_eq!(a.superseded().len(), 1);
        feed(&mut b, A, to(B, &out), ms(1205));
        assert!(b.unacked_superseded().is_empty());
        b.handle_timeout(ms(2000));
        assert!(to(A, &drain(&mut b)).is_empty(), "no more reports");
    }

    #[test]
    fn superseded_assembly_limits() {
        let mut a = master_with_peers(&[B, C]);
        let head = RevisionId {
            number: 9,
            hash: [9; 32],
        };
        let chunk =
            |total_len: u32, offset: u32, data: Vec<u8>| ReplicationMessage::SupersededChunk {
                head,
                total_len,
                offset,
                data,
            };
        // Over the limit: refused, nothing kept.
        let got = feed(
            &mut a,
            B,
            vec![chunk(MAX_SUPERSEDED_LEN + 1, 0, vec![1])],
            ms(0),
        );
        assert!(sends(&got).is_empty());
        assert!(a.superseded_in_progress().is_empty());
        assert!(debugs(&got)[0].starts_with("refusing superseded config"));
        // A chunk beyond its total length: dropped.
        feed(&mut a, B, vec![chunk(4, 2, vec![1, 2, 3])], ms(0));
        assert!(a.superseded_in_progress().is_empty());
        // Bytes that do not decode: ignored, not acknowledged.
        let got = feed(&mut a, B, vec![chunk(3, 0, vec![0xff; 3])], ms(0));
        assert!(sends(&got).is_empty());
        assert!(a.superseded().is_empty() && a.superseded_in_progress().is_empty());
        // One assembly per (sender, head); a few heads per sender, the stalest dropped.
        let partial = |n: u64| ReplicationMessage::SupersededChunk {
            head: RevisionId {
                number: n,
                hash: [n as u8; 32],
            },
            total_len: 100,
            offset: 0,
            data: vec![0; 10],
        };
        for n in 0..6 {
            feed(&mut a, B, vec![partial(n), partial(n)], ms(10 + n));
        }
        feed(&mut a, C, vec![partial(0)], ms(20));
        let keys = a.superseded_in_progress();
        assert_eq!(keys.len(), 5);
        assert_eq!(keys.iter().filter(|(m, _)| *m == B).count(), 4);
        assert!(!keys.iter().any(|(m, h)| *m == B && h.number < 2));
        // Stale ones (no chunk for 16 retransmit intervals) are dropped.
        assert_eq!(a.poll_timeout(), Some(ms(12) + ms(200) * 16));
        a.handle_timeout(ms(13) + ms(200) * 16);
        assert_eq!(a.superseded_in_progress().len(), 3);
        a.handle_timeout(ms(20) + ms(200) * 16);
        assert!(a.superseded_in_progress().is_empty());
        assert_eq!(a.poll_timeout(), None);
        // A peer that goes down, or losing mastership, drops its partial reports.
        feed(&mut a, B, vec![partial(1)], ms(5000));
        feed(&mut a, C, vec![partial(1)], ms(5000));
        a.handle_peer_down(B, ms(5001));
        assert_eq!(a.superseded_in_progress().len(), 1);
        a.handle_master(Some(C), ms(5002));
        assert!(a.superseded_in_progress().is_empty());
    }

    #[test]
    fn worst_case_chunk_messages_fit_one_datagram() {
        let id = RevisionId {
            number: u64::MAX,
            hash: [0xff; 32],
        };
        let snap = MemberMessage::Replication(ReplicationMessage::Snapshot {
            head: id,
            lineage: vec![id; SNAPSHOT_LINEAGE_MAX],
            requests: vec![
                RequestRecord::from((id, roost_wire::MemberId(u32::MAX), u64::MAX));
                SNAPSHOT_REQUESTS_MAX
            ],
            total_len: u32::MAX,
            offset: u32::MAX,
            data: vec![0xff; SNAPSHOT_CHUNK],
        });
        assert!(
            snap.encode().len() <= MAX_MESSAGE,
            "{}",
            snap.encode().len()
        );
        let chunk = MemberMessage::Replication(ReplicationMessage::SupersededChunk {
            head: id,
            total_len: u32::MAX,
            offset: u32::MAX,
            data: vec![0xff; SUPERSEDED_CHUNK],
        });
        assert!(chunk.encode().len() <= MAX_MESSAGE);
    }

    #[test]
    fn retry_is_recognised_by_a_master_that_saw_the_revision_only_in_a_snapshot() {
        // C's commit is too large to push incrementally: B and D get it only in snapshots.
        let mut a = master_with_peers(&[B, C, D]);
        let mut b = follower(B, A);
        let mut c = follower(C, A);
        let mut d = follower(D, A);
        let change = format!("set big {}", "z".repeat(50_000));
        let req = to(A, &commit(&mut c, 9, &change, ms(0)));
        let out = feed(&mut a, C, req, ms(1));
        let id = a.head();
        assert_eq!(id.number, 1);
        assert!(to(B, &out).is_empty(), "too large for an update");
        // The result to C is lost. B catches up by snapshot.
        a.handle_peer_head(B, RevisionId::ZERO, ms(10));
        let snap = to(B, &drain(&mut a));
        assert!(snap.iter().all(|m| matches!(
            m,
            ReplicationMessage::Snapshot { requests, .. } if *requests == vec![RequestRecord::from((id, C, 9))]
        )));
        feed(&mut b, A, snap, ms(11));
        assert_eq!(b.head(), id);
        assert!(b.log().is_empty(), "B holds the revision only by id");

        // A dies; B becomes master; C retries there: answered with the same revision.
        b.handle_master(Some(B), ms(100));
        drain(&mut b);
        c.handle_master(Some(B), ms(100));
        let retry = to(B, &drain(&mut c));
        assert!(matches!(
            retry[..],
            [ReplicationMessage::CommitRequest { request: 9, .. }]
        ));
        let out = feed(&mut b, C, retry.clone(), ms(101));
        assert_eq!(
            to(C, &out),
            vec![ReplicationMessage::CommitResult {
                request: 9,
                result: Ok(id)
            }]
        );
        assert_eq!(b.head(), id, "not applied twice");

        // Passed on: D gets B's snapshot (B has no log), becomes master, still recognises it.
        d.handle_master(Some(B), ms(200));
        drain(&mut d);
        b.handle_peer_head(D, RevisionId::ZERO, ms(200));
        let snap = to(D, &drain(&mut b));
        feed(&mut d, B, snap, ms(201));
        assert_eq!(d.head(), id);
        d.handle_master(Some(D), ms(300));
        drain(&mut d);
        let out = feed(&mut d, C, retry, ms(301));
        assert_eq!(
            to(C, &out),
            vec![ReplicationMessage::CommitResult {
                request: 9,
                result: Ok(id)
            }]
        );
        assert_eq!(d.head(), id);
        let got = feed(&mut c, D, to(C, &out), ms(302));
        assert_eq!(commit_done(&got), vec![(9, Ok(id))]);
    }

    #[test]
    fn retry_is_recognised_after_a_restart_by_a_member_that_saw_the_revision_only_in_a_snapshot() {
        let mut a = master_with_peers(&[B, C]);
        let mut b = follower(B, A);
        let mut c = follower(C, A);
        let change = format!("set big {}", "z".repeat(50_000));
        let req = to(A, &commit(&mut c, 9, &change, ms(0)));
        feed(&mut a, C, req, ms(1));
        let id = a.head();
        a.handle_peer_head(B, RevisionId::ZERO, ms(10));
        let got = feed(&mut b, A, to(B, &drain(&mut a)), ms(11));
        // What B's disk now holds: the snapshot's request ids, then the configuration.
        let persisted: Vec<&ReplicationOutput> = got
            .iter()
            .filter(|c| {
                matches!(
                    c,
                    ReplicationOutput::PersistRequests(_) | ReplicationOutput::Persist { .. }
                )
            })
            .collect();
        let [ReplicationOutput::PersistRequests(requests), ReplicationOutput::Persist {
            head,
            config,
            revision: None,
            lineage,
        }] = persisted[..]
        else {
            panic!("{persisted:?}")
        };
        assert_eq!(requests, &vec![RequestRecord::from((id, C, 9))]);

        // B restarts from its disk (no log: the revision is known only by id) and is master.
        let mut b = Replication::new(
            B,
            settings(),
            Kv::load(config).unwrap(),
            *head,
            vec![],
            lineage.clone(),
            vec![],
        );
        b.restore_requests(requests.clone());
        b.handle_master(Some(B), ms(1000));
        drain(&mut b);
        c.handle_master(Some(B), ms(1000));
        let retry = to(B, &drain(&mut c));
        let out = feed(&mut b, C, retry, ms(1001));
        assert_eq!(
            to(C, &out),
            vec![ReplicationMessage::CommitResult {
                request: 9,
                result: Ok(id)
            }]
        );
        assert_eq!(b.head(), id, "not applied twice");
    }

    #[test]
    fn restored_request_ids_outside_the_lineage_are_ignored() {
        let mut a = master_with_peers(&[]);
        commit(&mut a, 1, "set a 1", ms(0));
        let kept = (a.head(), A, 1);
        let stranger = (
            RevisionId {
                number: 1,
                hash: [7; 32],
            },
            C,
            5,
        );
        let mut b = Replication::new(
            B,
            settings(),
            a.config().clone(),
            a.head(),
            vec![],
            a.lineage().to_vec(),
            vec![],
        );
        b.restore_requests(vec![stranger.into(), kept.into()]);
        b.handle_master(Some(B), ms(10));
        drain(&mut b);
        // C's request 5 is not known: applied as new. A's request 1 is: answered.
        let out = feed(
            &mut b,
            C,
            vec![ReplicationMessage::CommitRequest {
                request: 5,
                user: "admin".into(),
                change: "set c 5".into(),
            }],
            ms(11),
        );
        assert_eq!(b.head().number, 2);
        assert!(matches!(
            &to(C, &out)[..],
            [ReplicationMessage::CommitResult { request: 5, result: Ok(r) }] if r.number == 2
        ));
        let out = feed(
            &mut b,
            A,
            vec![ReplicationMessage::CommitRequest {
                request: 1,
                user: "admin".into(),
                change: "set a 1".into(),
            }],
            ms(12),
        );
        assert_eq!(
            to(A, &out),
            vec![ReplicationMessage::CommitResult {
                request: 1,
                result: Ok(kept.0)
            }]
        );
    }

    #[test]
    fn snapshot_completes_a_pending_commit_whose_result_was_lost() {
        let mut a = master_with_peers(&[C]);
        let mut c = follower(C, A);
        let change = format!("set big {}", "z".repeat(50_000));
        let req = to(A, &commit(&mut c, 4, &change, ms(0)));
        feed(&mut a, C, req, ms(1));
        let id = a.head();
        a.handle_peer_head(C, RevisionId::ZERO, ms(10));
        let got = feed(&mut c, A, to(C, &drain(&mut a)), ms(11));
        assert_eq!(commit_done(&got), vec![(4, Ok(id))]);
        assert!(c.pending_commits().is_empty());
    }

    #[test]
    fn snapshot_requests_are_bounded_to_the_newest_lineage_revisions() {
        let mut a = master_with_peers(&[]);
        for i in 0..(SNAPSHOT_REQUESTS_MAX as u64 + 20) {
            commit(&mut a, i, &format!("set k{i} v"), ms(i));
        }
        // B's head is unknown to A: a snapshot.
        a.handle_peer_head(
            B,
            RevisionId {
                number: 3,
                hash: [3; 32],
            },
            ms(1000),
        );
        let snap = to(B, &drain(&mut a));
        let ReplicationMessage::Snapshot { requests, .. } = &snap[0] else {
            panic!()
        };
        let newest: Vec<_> = a.log()[a.log().len() - SNAPSHOT_REQUESTS_MAX..]
            .iter()
            .map(|r| RequestRecord::from((r.id, r.origin, r.request)))
            .collect();
        assert_eq!(requests, &newest);
    }
}
