//! The join-cluster exchange on TCP 5349 (inside TLS): one request, one response, each a
//! length-prefixed (u32 big-endian) JSON document of at most [`MAX_JOIN_MESSAGE`] bytes.

use crate::{ClusterKey, ClusterMode, Mac, MemberId, MintLevel, Model, WireError};
use serde::{Deserialize, Serialize};

pub const MAX_JOIN_MESSAGE: usize = 16 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    pub protocol_version: u8,
    pub software_version: String,
    pub user: String,
    pub password: String,
    pub model: Model,
    pub mac: Mac,
    pub hostname: String,
    /// The joiner's member-channel IP address.
    pub ip: String,
    pub level: MintLevel,
    pub mode: ClusterMode,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinResponse {
    Accepted(JoinAccepted),
    /// One clear line for the operator; nothing was changed on the primary.
    Refused { reason: String },
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
    pub fn cluster_key(&self) -> Result<ClusterKey, WireError> {
        let _ = &self.cluster_key_hex;
        todo!("JoinAccepted::cluster_key")
    }
}

/// Length-prefixes a JSON encoding of `msg`.
pub fn encode_json<T: Serialize>(msg: &T) -> Vec<u8> {
    let _ = msg;
    todo!("join::encode_json")
}

/// Decodes the body (without the length prefix) of a join message.
pub fn decode_json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, WireError> {
    let _ = body;
    todo!("join::decode_json")
}

/// Reads the 4-byte length prefix; refuses lengths over [`MAX_JOIN_MESSAGE`].
pub fn decode_len(prefix: [u8; 4]) -> Result<usize, WireError> {
    let _ = prefix;
    todo!("join::decode_len")
}
