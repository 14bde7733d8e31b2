//! Runs the fuzz target bodies (`roost_wire::fuzz_bodies`) on stable, over deterministic
//! pseudo-random inputs and mutations of valid encodings, so CI exercises the decoders even
//! where libFuzzer (nightly) is unavailable. Everything is seeded: a failure reproduces.

use roost_wire::frame::{seal, FrameHeader};
use roost_wire::fuzz_bodies::{self, FUZZ_KEY};
use roost_wire::join::{encode_json, JoinAccepted, JoinRequest, JoinResponse};
use roost_wire::*;

/// xorshift64*: tiny, deterministic, good enough to spread inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        let len = self.below(max_len + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// One random mutation: flip a bit, overwrite a byte with an edge value, insert, delete,
/// truncate or duplicate a span.
fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(3) {
        let i = rng.below(v.len());
        match rng.below(6) {
            0 if !v.is_empty() => v[i] ^= 1 << rng.below(8),
            1 if !v.is_empty() => v[i] = [0, 1, 0x7F, 0x80, 0xFF, b'"', b'{'][rng.below(7)],
            2 => v.insert(i.min(v.len()), rng.next() as u8),
            3 if !v.is_empty() => {
                v.remove(i);
            }
            4 => v.truncate(i),
            _ if !v.is_empty() => {
                let end = (i + 1 + rng.below(8)).min(v.len());
                let span = v[i..end].to_vec();
                v.splice(i..i, span);
            }
            _ => v.push(rng.next() as u8),
        }
    }
    v
}

fn rev(n: u64) -> RevisionId {
    RevisionId {
        number: n,
        hash: [n as u8; 32],
    }
}

fn valid_messages() -> Vec<MemberMessage> {
    let revision = Revision {
        id: rev(2),
        parent: rev(1),
        origin: MemberId(0x12E1EE16),
        request: 5,
        user: "admin".into(),
        wall_ms: 1_503_952_821_000,
        change: "wlan corp\n ssid corp\n".into(),
    };
    let event = HistoryEvent {
        member: MemberId(0x123AA117),
        hostname: "vx9000-3AA117".into(),
        seq: 4,
        event: ClusterEvent::StartElection,
        wall_ms: 1_503_952_790_000,
        reason: "new member 12.3A.A1.17 joined".into(),
    };
    let hello = Hello {
        member: MemberId(0x123AA117),
        mac: Mac([0x52, 0x54, 0, 0x3A, 0xA1, 0x17]),
        hostname: "vx9000-3AA117".into(),
        model: Model::Vx9000,
        software_version: SOFTWARE_VERSION.into(),
        boot: 3,
        cluster_name: "wing5".into(),
        master_priority: 128,
        configured_mode: ClusterMode::Active,
        oper_state: OperState::Active,
        is_master: true,
        master: Some(MemberId(0x123AA117)),
        force_configured_state: false,
        config_head: rev(2),
        licenses: LicenseCounts {
            ap_licenses: 64,
            aap_licenses: 0,
            ap_count: 3,
            aap_count: 0,
            adsec: true,
        },
        history: vec![event],
    };
    let superseded = SupersededConfig {
        head: rev(2),
        holder: MemberId(1),
        revisions: vec![revision.clone()],
        config: "!\n".into(),
        superseded_wall_ms: 9,
    }
    .encode();
    vec![
        MemberMessage::Hello(hello),
        MemberMessage::Replication(ReplicationMessage::CommitRequest {
            request: 1,
            user: "admin".into(),
            change: "x".into(),
        }),
        MemberMessage::Replication(ReplicationMessage::CommitResult {
            request: 1,
            result: Ok(rev(2)),
        }),
        MemberMessage::Replication(ReplicationMessage::CommitResult {
            request: 2,
            result: Err(CommitError::NoMaster),
        }),
        MemberMessage::Replication(ReplicationMessage::Revisions {
            after: rev(1),
            revisions: vec![revision.clone()],
        }),
        MemberMessage::Replication(ReplicationMessage::Snapshot {
            head: rev(2),
            lineage: vec![rev(1), rev(2)],
            requests: vec![(rev(2), MemberId(0x12E1EE16), 5).into()],
            total_len: 10,
            offset: 0,
            data: b"!\nend\n".to_vec(),
        }),
        MemberMessage::Replication(ReplicationMessage::Ack { head: rev(2) }),
        MemberMessage::Replication(ReplicationMessage::SupersededChunk {
            head: rev(2),
            total_len: superseded.len() as u32,
            offset: 0,
            data: superseded,
        }),
        MemberMessage::Replication(ReplicationMessage::SupersededAck { head: rev(2) }),
        MemberMessage::Replication(ReplicationMessage::Pull { after: rev(1) }),
        MemberMessage::Replication(ReplicationMessage::PullRefused { after: rev(1) }),
    ]
}

fn valid_join_messages() -> Vec<Vec<u8>> {
    let req = JoinRequest {
        protocol_version: PROTOCOL_VERSION,
        software_version: SOFTWARE_VERSION.into(),
        user: "admin".into(),
        model: Model::Nx7500,
        mac: Mac([0x52, 0x54, 0, 0xE1, 0xEE, 0x16]),
        hostname: "nx7500-E1EE16".into(),
        ip: "10.0.0.2".into(),
        level: MintLevel::L1,
        mode: ClusterMode::Standby,
        device: "nx7500 52-54-00-E1-EE-16\n interface vlan 10\n  ip address 10.0.0.2/24\n".into(),
    };
    let accepted = JoinResponse::Accepted(JoinAccepted {
        cluster_key_hex: FUZZ_KEY.to_hex(),
        primary: MemberId(0x12E1EE16),
        cluster_name: "wing5".into(),
        config: "!\nend\n".into(),
        head: rev(7),
    });
    let refused = JoinResponse::Refused {
        reason: "wrong password".into(),
    };
    vec![
        encode_json(&req),
        encode_json(&accepted),
        encode_json(&refused),
    ]
}

const RANDOM_CASES: usize = 3_000;
const MUTATED_CASES: usize = 3_000;

#[test]
fn member_decode_corpus() {
    let mut rng = Rng(0x0DDB_1A5E_5BAD_5EED);
    for _ in 0..RANDOM_CASES {
        fuzz_bodies::member_decode(&rng.bytes(300));
    }
    let seeds: Vec<Vec<u8>> = valid_messages().iter().map(MemberMessage::encode).collect();
    for seed in &seeds {
        fuzz_bodies::member_decode(seed);
        assert!(MemberMessage::decode(seed).is_ok());
    }
    for _ in 0..MUTATED_CASES {
        let seed = &seeds[rng.below(seeds.len())];
        fuzz_bodies::member_decode(&mutate(&mut rng, seed));
    }
}

#[test]
fn frame_open_corpus() {
    let mut rng = Rng(0xFEED_FACE_CAFE_BEEF);
    for _ in 0..RANDOM_CASES {
        fuzz_bodies::frame_open(&rng.bytes(300));
    }
    let seeds: Vec<Vec<u8>> = valid_messages()
        .iter()
        .enumerate()
        .map(|(i, m)| {
            seal(
                &FUZZ_KEY,
                FrameHeader {
                    sender: MemberId(9),
                    boot: 1,
                    seq: i as u32,
                },
                m,
            )
            .unwrap()
        })
        .collect();
    for seed in &seeds {
        assert!(roost_wire::open(&FUZZ_KEY, seed).is_ok());
        fuzz_bodies::frame_open(seed);
    }
    let mut accepted = 0;
    for _ in 0..MUTATED_CASES {
        let seed = &seeds[rng.below(seeds.len())];
        let m = mutate(&mut rng, seed);
        // A mutation of a sealed datagram never authenticates (unless it is the identity).
        if roost_wire::open(&FUZZ_KEY, &m).is_ok() {
            assert!(seeds.contains(&m));
            accepted += 1;
        }
        fuzz_bodies::frame_open(&m);
    }
    assert!(accepted < MUTATED_CASES / 10);
}

#[test]
fn join_decode_corpus() {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    for _ in 0..RANDOM_CASES {
        fuzz_bodies::join_decode(&rng.bytes(200));
    }
    let seeds = valid_join_messages();
    for seed in &seeds {
        fuzz_bodies::join_decode(seed);
    }
    for _ in 0..MUTATED_CASES {
        let seed = &seeds[rng.below(seeds.len())];
        fuzz_bodies::join_decode(&mutate(&mut rng, seed));
    }
}
