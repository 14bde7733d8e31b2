//! Bodies of the fuzz targets (`fuzz/fuzz_targets/*.rs`), kept in the library so the
//! libFuzzer targets and the stable `tests/fuzz_corpus.rs` exercise exactly the same code.
//!
//! Each body feeds arbitrary bytes to a decoder, which must return rather than panic, and
//! checks that whatever was accepted survives a re-encode/decode round trip. A panic here
//! (from a decoder or a failed `assert`) is a finding.

use crate::frame::{self, ClusterKey};
use crate::join::{self, JoinRequest, JoinResponse};
use crate::{MemberMessage, ReplicationMessage, SupersededConfig};

/// The fixed key `frame_open` uses; fuzz inputs sealed with it reach the decoder.
pub const FUZZ_KEY: ClusterKey = ClusterKey([0x42; 32]);

/// `MemberMessage::decode` on arbitrary bytes.
pub fn member_decode(data: &[u8]) {
    if let Ok(msg) = MemberMessage::decode(data) {
        let again = MemberMessage::decode(&msg.encode()).expect("re-encoded message decodes");
        assert_eq!(again, msg, "member message round trip");
        // A complete superseded report in one chunk: its payload decodes or is refused.
        if let MemberMessage::Replication(ReplicationMessage::SupersededChunk {
            total_len,
            offset: 0,
            data,
            ..
        }) = &msg
        {
            if data.len() == *total_len as usize {
                if let Ok(sc) = SupersededConfig::decode(data) {
                    assert_eq!(SupersededConfig::decode(&sc.encode()), Ok(sc));
                }
            }
        }
    }
}

/// `frame::open` with [`FUZZ_KEY`] on arbitrary bytes. As a random input almost never
/// authenticates, the input is also treated as a message: if it decodes, it is sealed and
/// opened again, so the fuzzer can explore the sealed path too.
pub fn frame_open(data: &[u8]) {
    if let Ok((header, msg)) = frame::open(&FUZZ_KEY, data) {
        let sealed = frame::seal(&FUZZ_KEY, header, &msg).expect("an opened message re-seals");
        assert_eq!(
            frame::open(&FUZZ_KEY, &sealed),
            Ok((header, msg)),
            "frame round trip"
        );
    }
    if let Ok(msg) = MemberMessage::decode(data) {
        let header = frame::FrameHeader {
            sender: crate::MemberId(7),
            boot: 1,
            seq: data.len() as u32,
        };
        if let Ok(sealed) = frame::seal(&FUZZ_KEY, header, &msg) {
            assert_eq!(
                frame::open(&FUZZ_KEY, &sealed),
                Ok((header, msg)),
                "seal/open round trip"
            );
        }
    }
}

/// `join::decode_len` on the first four bytes, then the rest as a `JoinRequest` and as a
/// `JoinResponse` body.
pub fn join_decode(data: &[u8]) {
    let Some((prefix, body)) = data.split_first_chunk::<4>() else {
        return;
    };
    if let Ok(len) = join::decode_len(*prefix) {
        assert!(len <= join::MAX_JOIN_MESSAGE);
    }
    if let Ok(req) = join::decode_json::<JoinRequest>(body) {
        let framed = join::encode_json(&req);
        assert_eq!(
            join::decode_json::<JoinRequest>(&framed[4..]),
            Ok(req),
            "join request round trip"
        );
    }
    if let Ok(resp) = join::decode_json::<JoinResponse>(body) {
        if let JoinResponse::Accepted(acc) = &resp {
            let _ = acc.cluster_key();
        }
        let framed = join::encode_json(&resp);
        assert_eq!(
            join::decode_json::<JoinResponse>(&framed[4..]),
            Ok(resp),
            "join response round trip"
        );
    }
}
