//! Property tests: every message survives encode/decode and seal/open, and no byte string
//! makes a decoder panic.

use crate::arbitrary::*;
use crate::frame::{open, seal, ClusterKey, ReplayWindow};
use crate::join::{decode_json, encode_json, JoinRequest, JoinResponse};
use crate::MemberMessage;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::default() /* 256 cases; PROPTEST_CASES overrides */)]

    #[test]
    fn member_message_round_trip(msg in member_message()) {
        let bytes = msg.encode();
        prop_assert_eq!(MemberMessage::decode(&bytes), Ok(msg));
    }

    #[test]
    fn superseded_config_round_trip(sc in superseded_config(), extra in any::<u8>()) {
        let mut bytes = sc.encode();
        prop_assert_eq!(crate::SupersededConfig::decode(&bytes), Ok(sc));
        bytes.push(extra);
        prop_assert!(crate::SupersededConfig::decode(&bytes).is_err());
    }

    #[test]
    fn member_message_trailing_bytes_rejected(msg in member_message(), extra in proptest::collection::vec(any::<u8>(), 1..8)) {
        let mut bytes = msg.encode();
        bytes.extend_from_slice(&extra);
        prop_assert!(MemberMessage::decode(&bytes).is_err());
    }

    #[test]
    fn seal_open_round_trip(key in cluster_key(), header in frame_header(), msg in member_message()) {
        let d = seal(&key, header, &msg).unwrap();
        prop_assert_eq!(open(&key, &d), Ok((header, msg)));
    }

    #[test]
    fn open_with_other_key_fails(key in cluster_key(), other in cluster_key(), header in frame_header(), msg in member_message()) {
        prop_assume!(key != other);
        let d = seal(&key, header, &msg).unwrap();
        prop_assert_eq!(open(&other, &d), Err(crate::WireError::AuthenticationFailed));
    }

    #[test]
    fn replay_window_accepts_each_header_once(header in frame_header()) {
        let mut w = ReplayWindow::new();
        prop_assert!(w.check_and_record(&header).is_ok());
        prop_assert!(w.check_and_record(&header).is_err());
    }

    #[test]
    fn join_round_trip(req in join_request(), resp in join_response()) {
        let f = encode_json(&req);
        prop_assert_eq!(decode_json::<JoinRequest>(&f[4..]), Ok(req));
        let f = encode_json(&resp);
        prop_assert_eq!(decode_json::<JoinResponse>(&f[4..]), Ok(resp.clone()));
        if let JoinResponse::Accepted(a) = resp {
            prop_assert!(a.cluster_key().is_ok());
        }
    }

    #[test]
    fn decode_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = MemberMessage::decode(&bytes);
        crate::fuzz_bodies::member_decode(&bytes);
    }

    #[test]
    fn decode_mutated_message_never_panics(msg in member_message(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = msg.encode();
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        crate::fuzz_bodies::member_decode(&bytes);
        bytes.truncate(i);
        crate::fuzz_bodies::member_decode(&bytes);
    }

    #[test]
    fn open_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = open(&ClusterKey([1; 32]), &bytes);
        crate::fuzz_bodies::frame_open(&bytes);
    }

    #[test]
    fn open_with_valid_header_never_panics(header in frame_header(), tail in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut bytes = header.to_bytes().to_vec();
        bytes.extend_from_slice(&tail);
        prop_assert!(open(&ClusterKey([1; 32]), &bytes).is_err());
    }

    #[test]
    fn join_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        crate::fuzz_bodies::join_decode(&bytes);
    }
}
