//! Request and response bodies of the API (shared by the server and [`crate::client`]), and
//! OpenAPI mirrors of the `roost-config` view structs (which do not derive `ToSchema`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every error body: `{"error": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
}

/// `POST /api/v1/exec`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecRequest {
    /// Lines run in order in one fresh privileged (`#`) session, as if typed.
    pub commands: Vec<String>,
    /// Stop at the first line that fails (default: run every line, like a pasted script).
    #[serde(default)]
    pub stop_on_error: bool,
}

/// One line's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CommandOutput {
    pub command: String,
    pub output: String,
    pub error: bool,
}

/// `POST /api/v1/exec` response (HTTP 200 even when a line failed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExecResponse {
    /// One entry per line that ran (fewer than requested if the session closed, or with
    /// `stop_on_error`).
    pub outputs: Vec<CommandOutput>,
    /// Any line failed.
    pub error: bool,
    /// Lines the session produced outside commands (debug stream), if any.
    #[serde(default, rename = "async", skip_serializing_if = "Vec::is_empty")]
    pub async_lines: Vec<String>,
}

/// `POST /api/v1/sessions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenSessionRequest {
    /// Start in privileged (`#`) mode rather than `>`.
    #[serde(default)]
    pub privileged: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OpenSessionResponse {
    /// Random 128-bit id, hex.
    pub id: String,
    pub prompt: String,
}

/// `POST /api/v1/sessions/{id}/exec`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionExecRequest {
    pub line: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionExecResponse {
    pub output: String,
    pub error: bool,
    /// The session ended (`exit` at the top, `logout`); the id is no longer valid.
    pub close: bool,
    /// Prompt for the next line (empty once closed).
    pub prompt: String,
    /// Debug-stream lines buffered since the previous exec (bounded; the oldest are dropped).
    #[serde(default, rename = "async", skip_serializing_if = "Vec::is_empty")]
    pub async_lines: Vec<String>,
}

/// `POST /api/v1/sessions/{id}/help` and `/complete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartialRequest {
    /// The line typed so far (for help: the text before the `?`).
    pub partial: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HelpResponse {
    pub text: String,
}

/// Either the completed line (unique match) or the candidates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CompleteResponse {
    Line { line: String },
    Candidates { candidates: Vec<String> },
}

impl From<roost_config::Completion> for CompleteResponse {
    fn from(c: roost_config::Completion) -> Self {
        match c {
            roost_config::Completion::Line(line) => CompleteResponse::Line { line },
            roost_config::Completion::Candidates(candidates) => {
                CompleteResponse::Candidates { candidates }
            }
        }
    }
}

/// `GET /api/v1/config/running` (JSON form).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunningConfig {
    pub text: String,
}

/// OpenAPI mirrors of the `roost-config` views, with the same names and JSON shape. Schema
/// only: the server serialises the real structs; a test checks the field names agree.
pub mod views {
    use super::*;

    /// `show cluster status`.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
    pub struct ClusterStatus {
        pub protocol_version: u8,
        /// "active" / "standby".
        pub oper_state: String,
        pub ap_license: u32,
        pub aap_license: u32,
        pub ap_count: u32,
        pub aap_count: u32,
        pub max_ap_adoption_capacity: u32,
        /// Members connected, self included.
        pub connected_members: u32,
        pub master: Option<String>,
        pub config_revision: u64,
    }

    /// One row of `show cluster members`.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
    pub struct MemberRow {
        pub hostname: String,
        pub member_id: String,
        pub mac: String,
        pub master: bool,
        pub oper_state: String,
        /// null for self; else seconds since the last hello.
        pub last_seen_secs: Option<u64>,
    }

    /// One AP of `show wireless ap`.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
    pub struct ApRow {
        pub hostname: String,
        /// `00-23-68-00-00-01`.
        pub mac: String,
        pub model: String,
        pub serial: String,
        pub ip: String,
        /// The controller's hostname (WiNG's ADOPTED-BY); empty when refused.
        pub adopted_by: String,
        /// `adopted`, `configuring`, `data-check` or `refused`.
        pub state: String,
        /// `AP` or `AAP`; empty when refused.
        pub license: String,
        /// The AP profile it runs: its adopt rule's, else `default-<model>`; empty when
        /// refused.
        pub profile: String,
        /// Seconds in Run (null until then).
        pub uptime_secs: Option<u64>,
        /// Why it was refused (null otherwise).
        pub reason: Option<String>,
    }

    /// One member's licenses (`show licenses`).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
    pub struct MemberLicenses {
        /// Its hellos arrive; false: lost, its licenses in the pool for the grace period.
        pub connected: bool,
        /// A lost member: when it was lost (local time; null when connected).
        pub lost_since: Option<String>,
        /// A lost member: when its licenses leave the pool (`license grace-period`).
        pub grace_until: Option<String>,
        pub hostname: String,
        pub member_id: String,
        /// Installed AP licenses.
        pub ap: u32,
        /// Installed AAP licenses.
        pub aap: u32,
        /// APs it holds on AP licenses (from its hellos).
        pub ap_used: u32,
        /// APs it holds on AAP licenses.
        pub aap_used: u32,
        /// Advanced-security license (per member, never pooled).
        pub adsec: bool,
    }

    /// The license pool (`show licenses`).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
    pub struct LicensesView {
        /// Installed licenses of the connected members and of the lost ones in their grace
        /// period.
        pub ap_licenses: u32,
        pub aap_licenses: u32,
        /// APs the connected members hold, per kind of license.
        pub ap_used: u32,
        pub aap_used: u32,
        pub ap_remaining: u32,
        pub aap_remaining: u32,
        /// The connected members (self first), then the lost ones in their grace period.
        pub members: Vec<MemberLicenses>,
    }

    /// One row of `show cluster history`.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
    pub struct HistoryRow {
        pub hostname: String,
        pub member_id: String,
        pub event: String,
        /// `2017-08-28 20:40:24` (controller local time).
        pub timestamp: String,
        pub reason: String,
    }

    /// A configuration revision id: number and the 32-byte chain hash (as an array of bytes).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
    pub struct RevisionId {
        pub number: u64,
        #[schema(min_items = 32, max_items = 32)]
        pub hash: Vec<u8>,
    }

    /// One committed change.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
    pub struct Revision {
        pub id: RevisionId,
        pub parent: RevisionId,
        /// Member id as an integer (e.g. 0x12E1EE16).
        pub origin: u32,
        pub request: u64,
        pub user: String,
        /// Milliseconds since the Unix epoch.
        pub wall_ms: u64,
        pub change: String,
    }

    /// A configuration lineage that lost a partition merge, kept so it can be restored.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
    pub struct SupersededConfig {
        pub head: RevisionId,
        pub holder: u32,
        pub revisions: Vec<Revision>,
        pub config: String,
        pub superseded_wall_ms: u64,
    }

    /// Revision history of the running configuration.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
    pub struct RevisionsView {
        pub head: RevisionId,
        /// Recent revisions of the running lineage, oldest first.
        pub revisions: Vec<Revision>,
        pub superseded: Vec<SupersededConfig>,
        /// Ids of the running lineage this member knows, newest last.
        pub lineage: Vec<RevisionId>,
    }
}
