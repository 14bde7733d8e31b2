//! The join-cluster exchange on TCP 5349 (inside TLS), each message a length-prefixed (u32
//! big-endian) JSON document of at most [`MAX_JOIN_MESSAGE`] bytes:
//!
//! 1. joiner → primary: [`JoinHello`] (versions, user, OPAQUE KE1; see [`crate::pake`]);
//! 2. primary → joiner: [`JoinChallenge`] (KE2, or a refusal before authentication);
//! 3. joiner → primary, only once KE2 proved the primary holds the user's record:
//!    [`JoinProof`] (KE3 and the [`JoinRequest`] sealed under the session key);
//! 4. primary → joiner: [`JoinOutcome`] (the [`JoinResponse`] sealed, or a plain refusal when
//!    KE3 does not authenticate).
//!
//! No password, cluster key or configuration ever travels in the clear of the OPAQUE layer.

use crate::{ClusterKey, ClusterMode, Mac, MemberId, MintLevel, Model, WireError};
use serde::{Deserialize, Serialize};

pub const MAX_JOIN_MESSAGE: usize = 16 * 1024 * 1024;
/// Limit for the messages a primary reads before authentication (hello, proof): small, so an
/// unauthenticated peer cannot make it hold much memory.
pub const MAX_PRE_AUTH_MESSAGE: usize = 64 * 1024;

/// Step 1, in the clear of TLS: who joins, and OPAQUE's KE1 (hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinHello {
    pub protocol_version: u8,
    pub software_version: String,
    pub user: String,
    pub ke1: String,
}

/// Step 2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinChallenge {
    /// OPAQUE's KE2 (hex).
    Challenge { ke2: String },
    /// One clear line; nothing was changed.
    Refused { reason: String },
}

/// Step 3: OPAQUE's KE3 (hex) and the [`JoinRequest`] JSON sealed under the session key (hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinProof {
    pub ke3: String,
    pub sealed_request: String,
}

/// Step 4.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinOutcome {
    /// The [`JoinResponse`] JSON sealed under the session key (hex).
    Sealed { sealed_response: String },
    /// KE3 did not authenticate (or the sealed request did not open): nothing was changed.
    Refused { reason: String },
}

/// What the joiner tells the primary about itself (sealed, step 3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    pub protocol_version: u8,
    pub software_version: String,
    pub user: String,
    pub model: Model,
    pub mac: Mac,
    pub hostname: String,
    /// The joiner's member-channel IP address.
    pub ip: String,
    pub level: MintLevel,
    pub mode: ClusterMode,
    /// The joiner's own device section as change text (interfaces, routes, other device
    /// settings), carried into the cluster configuration.
    #[serde(default)]
    pub device: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinResponse {
    Accepted(JoinAccepted),
    /// One clear line for the operator; nothing was changed on the primary.
    Refused {
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinAccepted {
    /// The cluster key (hex) that seals member datagrams.
    pub cluster_key_hex: String,
    pub primary: MemberId,
    pub cluster_name: String,
    /// Full configuration text after the primary added the joiner.
    pub config: String,
    pub head: crate::RevisionId,
}

impl JoinAccepted {
    /// The cluster key from its hex form (exactly 64 hex characters).
    pub fn cluster_key(&self) -> Result<ClusterKey, WireError> {
        ClusterKey::from_hex(&self.cluster_key_hex)
    }
}

/// Length-prefixes a JSON encoding of `msg`.
///
/// # Panics
///
/// Only if `msg`'s `Serialize` impl fails (never for this module's types, which have no
/// non-string map keys) or the JSON exceeds 4 GiB; the receiver refuses anything over
/// [`MAX_JOIN_MESSAGE`] anyway.
pub fn encode_json<T: Serialize>(msg: &T) -> Vec<u8> {
    let body = serde_json::to_vec(msg).expect("join messages always serialize to JSON");
    let len = u32::try_from(body.len()).expect("join message under 4 GiB");
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Decodes the body (without the length prefix) of a join message.
pub fn decode_json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, WireError> {
    if body.len() > MAX_JOIN_MESSAGE {
        return Err(WireError::TooLong {
            len: body.len(),
            max: MAX_JOIN_MESSAGE,
        });
    }
    serde_json::from_slice(body).map_err(|e| WireError::Malformed(e.to_string()))
}

/// Reads the 4-byte length prefix; refuses lengths over [`MAX_JOIN_MESSAGE`] before the
/// caller allocates a buffer for the body.
pub fn decode_len(prefix: [u8; 4]) -> Result<usize, WireError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_JOIN_MESSAGE {
        return Err(WireError::TooLong {
            len,
            max: MAX_JOIN_MESSAGE,
        });
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RevisionId;

    fn request() -> JoinRequest {
        JoinRequest {
            protocol_version: crate::PROTOCOL_VERSION,
            software_version: crate::SOFTWARE_VERSION.into(),
            user: "admin\"\n".into(),
            model: Model::Vx9000,
            mac: Mac([0x52, 0x54, 0, 0x3A, 0xA1, 0x17]),
            hostname: "vx9000-3AA117".into(),
            ip: "192.168.13.12".into(),
            level: MintLevel::L1,
            mode: ClusterMode::Active,
            device: "vx9000 52-54-00-3A-A1-17\n interface vlan 10\n".into(),
        }
    }

    #[test]
    fn framing_round_trip() {
        let framed = encode_json(&request());
        let len = decode_len(framed[..4].try_into().unwrap()).unwrap();
        assert_eq!(len, framed.len() - 4);
        assert_eq!(decode_json::<JoinRequest>(&framed[4..]).unwrap(), request());

        let resp = JoinResponse::Accepted(JoinAccepted {
            cluster_key_hex: ClusterKey([0xAB; 32]).to_hex(),
            primary: MemberId(0x12E1EE16),
            cluster_name: "wing5".into(),
            config: "!\nend\n".into(),
            head: RevisionId {
                number: 3,
                hash: [1; 32],
            },
        });
        let framed = encode_json(&resp);
        let back: JoinResponse = decode_json(&framed[4..]).unwrap();
        assert_eq!(back, resp);
        match back {
            JoinResponse::Accepted(a) => {
                assert_eq!(a.cluster_key().unwrap(), ClusterKey([0xAB; 32]))
            }
            JoinResponse::Refused { .. } => unreachable!(),
        }
    }

    #[test]
    fn length_limit() {
        assert_eq!(decode_len([0, 0, 0, 0]), Ok(0));
        assert_eq!(
            decode_len((MAX_JOIN_MESSAGE as u32).to_be_bytes()),
            Ok(MAX_JOIN_MESSAGE)
        );
        assert_eq!(
            decode_len((MAX_JOIN_MESSAGE as u32 + 1).to_be_bytes()),
            Err(WireError::TooLong {
                len: MAX_JOIN_MESSAGE + 1,
                max: MAX_JOIN_MESSAGE
            })
        );
        assert!(decode_len([0xFF; 4]).is_err());
    }

    #[test]
    fn malformed_bodies() {
        for body in [
            &b""[..],
            b"{",
            b"null",
            b"{\"Refused\":{}}",
            b"\xff\xfe",
            b"{\"Accepted\":1}",
        ] {
            assert!(
                matches!(
                    decode_json::<JoinResponse>(body),
                    Err(WireError::Malformed(_))
                ),
                "{body:?}"
            );
        }
        let framed = encode_json(&request());
        assert!(decode_json::<JoinRequest>(&framed[4..framed.len() - 1]).is_err());
        assert!(decode_json::<JoinResponse>(&framed[4..]).is_err());
    }

    #[test]
    fn bad_cluster_key_text() {
        let mut a = JoinAccepted {
            cluster_key_hex: "00".repeat(31),
            primary: MemberId(1),
            cluster_name: String::new(),
            config: String::new(),
            head: RevisionId::ZERO,
        };
        assert!(matches!(
            a.cluster_key(),
            Err(WireError::InvalidText {
                what: "cluster key",
                ..
            })
        ));
        a.cluster_key_hex = "0g".repeat(32);
        assert!(a.cluster_key().is_err());
        a.cluster_key_hex = "0F".repeat(32);
        assert_eq!(a.cluster_key().unwrap(), ClusterKey([0x0F; 32]));
    }
}
