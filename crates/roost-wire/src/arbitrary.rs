//! proptest strategies for every wire type, so property tests here and in other crates
//! (enable the `arbitrary` feature as a dev-dependency) draw from one definition.
//!
//! Sizes are kept small (short strings, a few list entries) so that generated messages always
//! fit in one datagram and tests stay fast.

use crate::frame::{ClusterKey, FrameHeader};
use crate::join::{JoinAccepted, JoinRequest, JoinResponse};
use crate::{
    ClusterEvent, ClusterMode, CommitError, Hello, HistoryEvent, LicenseCounts, Mac, MemberId,
    MemberMessage, MintLevel, Model, OperState, ReplicationMessage, RequestRecord, Revision,
    RevisionId, SupersededConfig,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// Short text of any Unicode, including control characters and quotes.
pub fn text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("(?s).{0,24}").expect("valid regex")
}

pub fn member_id() -> impl Strategy<Value = MemberId> {
    any::<u32>().prop_map(MemberId)
}

pub fn mac() -> impl Strategy<Value = Mac> {
    any::<[u8; 6]>().prop_map(Mac)
}

pub fn model() -> impl Strategy<Value = Model> {
    proptest::sample::select(Model::ALL.to_vec())
}

pub fn cluster_mode() -> impl Strategy<Value = ClusterMode> {
    prop_oneof![Just(ClusterMode::Active), Just(ClusterMode::Standby)]
}

pub fn oper_state() -> impl Strategy<Value = OperState> {
    prop_oneof![Just(OperState::Active), Just(OperState::Standby)]
}

pub fn mint_level() -> impl Strategy<Value = MintLevel> {
    prop_oneof![Just(MintLevel::L1), Just(MintLevel::L2)]
}

pub fn revision_id() -> impl Strategy<Value = RevisionId> {
    (any::<u64>(), any::<[u8; 32]>()).prop_map(|(number, hash)| RevisionId { number, hash })
}

pub fn revision() -> impl Strategy<Value = Revision> {
    (
        revision_id(),
        revision_id(),
        member_id(),
        any::<u64>(),
        text(),
        any::<u64>(),
        text(),
    )
        .prop_map(
            |(id, parent, origin, request, user, wall_ms, change)| Revision {
                id,
                parent,
                origin,
                request,
                user,
                wall_ms,
                change,
            },
        )
}

pub fn cluster_event() -> impl Strategy<Value = ClusterEvent> {
    proptest::sample::select(vec![
        ClusterEvent::StartElection,
        ClusterEvent::IsActive,
        ClusterEvent::IsStandby,
        ClusterEvent::StartConfigSync,
        ClusterEvent::ConfigUpdateSuccess,
        ClusterEvent::ConfigUpdateFailed,
        ClusterEvent::MemberDown,
        ClusterEvent::ConfigSuperseded,
    ])
}

pub fn history_event() -> impl Strategy<Value = HistoryEvent> {
    (
        member_id(),
        text(),
        any::<u64>(),
        cluster_event(),
        any::<u64>(),
        text(),
    )
        .prop_map(
            |(member, hostname, seq, event, wall_ms, reason)| HistoryEvent {
                member,
                hostname,
                seq,
                event,
                wall_ms,
                reason,
            },
        )
}

pub fn license_counts() -> impl Strategy<Value = LicenseCounts> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(
            |(ap_licenses, aap_licenses, ap_count, aap_count, adsec)| LicenseCounts {
                ap_licenses,
                aap_licenses,
                ap_count,
                aap_count,
                adsec,
            },
        )
}

pub fn hello() -> impl Strategy<Value = Hello> {
    let who = (
        member_id(),
        mac(),
        text(),
        model(),
        text(),
        any::<u32>(),
        text(),
        any::<u8>(),
    );
    let state = (
        cluster_mode(),
        oper_state(),
        any::<bool>(),
        proptest::option::of(member_id()),
        any::<bool>(),
        revision_id(),
        license_counts(),
        vec(history_event(), 0..4),
    );
    (who, state).prop_map(
        |(
            (member, mac, hostname, model, software_version, boot, cluster_name, master_priority),
            (
                configured_mode,
                oper_state,
                is_master,
                master,
                force_configured_state,
                config_head,
                licenses,
                history,
            ),
        )| Hello {
            member,
            mac,
            hostname,
            model,
            software_version,
            boot,
            cluster_name,
            master_priority,
            configured_mode,
            oper_state,
            is_master,
            master,
            force_configured_state,
            config_head,
            licenses,
            history,
        },
    )
}

pub fn superseded_config() -> impl Strategy<Value = SupersededConfig> {
    (
        revision_id(),
        member_id(),
        vec(revision(), 0..4),
        text(),
        any::<u64>(),
    )
        .prop_map(
            |(head, holder, revisions, config, superseded_wall_ms)| SupersededConfig {
                head,
                holder,
                revisions,
                config,
                superseded_wall_ms,
            },
        )
}

pub fn commit_error() -> impl Strategy<Value = CommitError> {
    prop_oneof![
        text().prop_map(CommitError::Rejected),
        prop::option::of(member_id()).prop_map(|master| CommitError::NotMaster { master }),
        text().prop_map(|reason| CommitError::CannotSave { reason }),
        member_id().prop_map(|master| CommitError::MasterSilent { master }),
        Just(CommitError::NoMaster),
        Just(CommitError::Resynchronising),
        prop::option::of(member_id()).prop_map(|master| CommitError::Unconfirmed { master }),
    ]
}

pub fn replication_message() -> impl Strategy<Value = ReplicationMessage> {
    prop_oneof![
        (any::<u64>(), text(), text()).prop_map(|(request, user, change)| {
            ReplicationMessage::CommitRequest {
                request,
                user,
                change,
            }
        }),
        (
            any::<u64>(),
            prop_oneof![revision_id().prop_map(Ok), commit_error().prop_map(Err)]
        )
            .prop_map(|(request, result)| ReplicationMessage::CommitResult { request, result }),
        (revision_id(), vec(revision(), 0..4))
            .prop_map(|(after, revisions)| ReplicationMessage::Revisions { after, revisions }),
        (
            revision_id(),
            vec(revision_id(), 0..6),
            vec(
                (revision_id(), member_id(), any::<u64>()).prop_map(RequestRecord::from),
                0..4
            ),
            any::<u32>(),
            any::<u32>(),
            vec(any::<u8>(), 0..64)
        )
            .prop_map(|(head, lineage, requests, total_len, offset, data)| {
                ReplicationMessage::Snapshot {
                    head,
                    lineage,
                    requests,
                    total_len,
                    offset,
                    data,
                }
            }),
        revision_id().prop_map(|head| ReplicationMessage::Ack { head }),
        (
            revision_id(),
            any::<u32>(),
            any::<u32>(),
            vec(any::<u8>(), 0..64)
        )
            .prop_map(|(head, total_len, offset, data)| {
                ReplicationMessage::SupersededChunk {
                    head,
                    total_len,
                    offset,
                    data,
                }
            }),
        // A real chunk: (part of) an encoded superseded config.
        (superseded_config(), any::<prop::sample::Index>()).prop_map(|(config, cut)| {
            let bytes = config.encode();
            let offset = cut.index(bytes.len());
            ReplicationMessage::SupersededChunk {
                head: config.head,
                total_len: bytes.len() as u32,
                offset: offset as u32,
                data: bytes[offset..].to_vec(),
            }
        }),
        revision_id().prop_map(|head| ReplicationMessage::SupersededAck { head }),
        revision_id().prop_map(|after| ReplicationMessage::Pull { after }),
        revision_id().prop_map(|after| ReplicationMessage::PullRefused { after }),
    ]
}

pub fn member_message() -> impl Strategy<Value = MemberMessage> {
    prop_oneof![
        hello().prop_map(MemberMessage::Hello),
        replication_message().prop_map(MemberMessage::Replication),
        ap_table_message().prop_map(MemberMessage::Aps)
    ]
}

pub fn ap_record() -> impl Strategy<Value = crate::ApRecord> {
    (
        any::<[u8; 6]>(),
        "[a-z0-9-]{0,12}",
        "AP[0-9]{4}",
        "[A-Z0-9]{0,14}",
        (any::<[u8; 4]>(), any::<u16>(), any::<[u8; 16]>()),
        (
            any::<bool>(),
            any::<u64>(),
            "(default-ap[0-9]{4}|[a-z0-9-]{0,12})",
        ),
    )
        .prop_map(
            |(mac, hostname, model, serial, (ip, port, session_id), (thin, since_ms, profile))| {
                crate::ApRecord {
                    mac: crate::Mac(mac),
                    hostname,
                    model,
                    serial,
                    ip: ip.into(),
                    port,
                    session_id,
                    thin,
                    since_ms,
                    profile,
                }
            },
        )
}

pub fn ap_table_message() -> impl Strategy<Value = crate::ApTableMessage> {
    use crate::ApTableMessage as M;
    prop_oneof![
        (
            any::<u32>(),
            any::<u64>(),
            vec(ap_record(), 0..4),
            vec(any::<[u8; 6]>(), 0..4)
        )
            .prop_map(|(epoch, from, upserts, removed)| M::Delta {
                epoch,
                from,
                to: from.wrapping_add(1),
                upserts,
                removed: removed.into_iter().map(crate::Mac).collect(),
            }),
        (any::<u32>(), any::<u64>(), any::<u32>()).prop_map(|(epoch, version, rows)| M::Digest {
            epoch,
            version,
            rows
        }),
        Just(M::Pull),
        (any::<u32>(), any::<u64>()).prop_map(|(epoch, version)| M::Ack { epoch, version }),
        (
            any::<u32>(),
            any::<u64>(),
            any::<u32>(),
            any::<u32>(),
            vec(ap_record(), 0..4)
        )
            .prop_map(|(epoch, version, index, count, rows)| M::Chunk {
                epoch,
                version,
                index,
                count,
                rows
            }),
    ]
}

pub fn frame_header() -> impl Strategy<Value = FrameHeader> {
    (member_id(), any::<u32>(), any::<u32>()).prop_map(|(sender, boot, seq)| FrameHeader {
        sender,
        boot,
        seq,
    })
}

pub fn cluster_key() -> impl Strategy<Value = ClusterKey> {
    any::<[u8; 32]>().prop_map(ClusterKey)
}

pub fn join_request() -> impl Strategy<Value = JoinRequest> {
    let a = (any::<u8>(), text(), text(), text(), model());
    let b = (mac(), text(), text(), mint_level(), cluster_mode());
    (a, b).prop_map(
        |(
            (protocol_version, software_version, user, device, model),
            (mac, hostname, ip, level, mode),
        )| {
            JoinRequest {
                protocol_version,
                software_version,
                user,
                device,
                model,
                mac,
                hostname,
                ip,
                level,
                mode,
            }
        },
    )
}

pub fn join_response() -> impl Strategy<Value = JoinResponse> {
    prop_oneof![
        (cluster_key(), member_id(), text(), text(), revision_id()).prop_map(
            |(key, primary, cluster_name, config, head)| JoinResponse::Accepted(JoinAccepted {
                cluster_key_hex: key.to_hex(),
                primary,
                cluster_name,
                config,
                head,
            })
        ),
        text().prop_map(|reason| JoinResponse::Refused { reason }),
    ]
}
