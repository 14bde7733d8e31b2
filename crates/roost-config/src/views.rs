//! Data for `show cluster …` and their renderers in the seed's layout.

use roost_wire::{MemberId, Mac, RevisionId, SupersededConfig, Revision};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterStatus {
    pub protocol_version: u8,
    /// "active" / "standby".
    pub oper_state: String,
    pub ap_license: u32,
    pub aap_license: u32,
    pub ap_count: u32,
    pub aap_count: u32,
    pub max_ap_adoption_capacity: u32,
    /// Members connected, self included (the seed prints 1 for a member alone).
    pub connected_members: u32,
    pub master: Option<String>,
    pub config_revision: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberRow {
    pub hostname: String,
    pub member_id: String,
    pub mac: String,
    pub master: bool,
    pub oper_state: String,
    /// None for self; else seconds since the last hello.
    pub last_seen_secs: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    pub hostname: String,
    pub member_id: String,
    pub event: String,
    /// `2017-08-28 20:40:24` (local controller time).
    pub timestamp: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RevisionsView {
    pub head: RevisionId,
    /// Recent revisions of the running lineage, oldest first.
    pub revisions: Vec<Revision>,
    pub superseded: Vec<SupersededConfig>,
}

pub fn _types(_: MemberId, _: Mac) {}
