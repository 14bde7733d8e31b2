//! Data for `show cluster …` and their renderers in the seed's layout.

use crate::{ClusterConfig, DeviceSettings, Identity};
use roost_wire::{Mac, MemberId, OperState, Revision, RevisionId, SupersededConfig};
use serde::{Serialize, Serializer};
use std::sync::Arc;

/// The member's state at one moment, as every face renders it: `show cluster …`, the API's
/// JSON, `/metrics` (and, later, the web UI). The daemon's member task publishes a new one
/// after it has handled an input (roost-daemon's `snapshot.rs`), so a status, its member list
/// and the running configuration always belong together. Parts that are large and change
/// rarely (history, revisions, the configuration) sit behind their own `Arc`: a publish
/// shares what did not change.
#[derive(Clone, Debug)]
pub struct MemberSnapshot {
    pub status: ClusterStatus,
    /// `show cluster members`, in its order.
    pub members: Vec<MemberRow>,
    /// `show cluster history`, newest first.
    pub history: Arc<Vec<HistoryRow>>,
    pub revisions: Arc<RevisionsView>,
    /// The running configuration.
    pub running: Arc<ClusterConfig>,
    /// The revision `running` is at. `revisions.head` (what status views report) can be one
    /// behind it for a moment: the revision whose save is being confirmed.
    pub running_head: RevisionId,
    /// Licenses each connected member brings (self first), for `show licenses`.
    pub licenses: Vec<MemberLicenses>,
    /// Member channel counters for `show cluster traffic`: (label, value).
    pub traffic: Vec<(String, u64)>,
    /// The APs this controller holds or refused, for `show wireless ap` (published by the
    /// adoption thread, its own part).
    pub aps: Arc<ApTable>,
    /// Every connected member's operational state, licenses and AP counts (self first): what
    /// the adoption thread decides admission from.
    pub pool: Vec<PoolEntry>,
}

/// One member's share of the license pool, from its hellos (a lost member: its last one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolEntry {
    pub member: MemberId,
    pub hostname: String,
    pub is_self: bool,
    /// Its hellos arrive (false: lost since this member started, within the grace period).
    pub connected: bool,
    pub active: bool,
    /// It is this side's master (connected members only).
    pub is_master: bool,
    /// Its master priority (the election's rank, with the member id).
    pub master_priority: u8,
    pub licenses: roost_wire::LicenseCounts,
    /// Its boot counter: the cluster-wide AP table drops an older boot's rows.
    pub boot: u32,
}

/// `show wireless ap`, `show adoption status`: the APs this controller holds (and those it
/// refused recently), and its adoption counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApTable {
    /// Shared rows: a republished table copies pointers, not 25,600 rows of text.
    pub rows: Vec<std::sync::Arc<ApRow>>,
    /// This controller adopts APs now (active, or standby with no active left).
    pub serving: bool,
    /// APs in Run, and APs past Join not in Run yet.
    pub adopted: u64,
    pub joining: u64,
    /// Rows of other members' APs in this member's copy of the cluster-wide AP table.
    pub on_other_members: u64,
    pub stats: AdoptionStats,
    /// This controller's adoption events, newest first (bounded).
    pub history: std::sync::Arc<Vec<AdoptionHistoryEntry>>,
    /// Active/Active AP load balancing as this member sees it.
    pub balance: BalanceStatus,
}

/// `show adoption status`'s load-balancing lines.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BalanceStatus {
    /// `cluster ap-balance` is on in this member's device section.
    pub enabled: bool,
    pub threshold_pct: u8,
    pub hold_down_secs: u64,
    /// The largest load less the smallest among the active members, basis points.
    pub spread_bp: u64,
    /// Each active member: (hostname, APs it holds, platform capacity).
    pub loads: Vec<(String, u32, u32)>,
    /// The move the plan makes now: (from, to, APs).
    pub planned: Option<(String, String, u32)>,
    /// This member's round in progress: (target, APs selected still here, APs moved).
    pub round: Option<(String, u64, u64)>,
    /// Rounds this member started, and APs that left it in them.
    pub rounds: u64,
    pub moved: u64,
}

/// One row of `show adoption history`: an AP adopted here, or un-adopted and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdoptionHistoryEntry {
    /// `adopted` or `un-adopted`.
    pub event: &'static str,
    #[serde(serialize_with = "as_text")]
    pub mac: Mac,
    pub hostname: String,
    pub model: String,
    /// Why it was un-adopted (empty for an adoption).
    pub reason: String,
    pub at_epoch_ms: u64,
}

/// The adoption thread's counters since start: what `show adoption status` and `/metrics`
/// show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AdoptionStats {
    pub discovery_answered: u64,
    /// Not answered: this controller is standby, or the per-source hold-down.
    pub discovery_suppressed: u64,
    pub joins_accepted: u64,
    pub joins_refused: u64,
    /// Packets that did not decode (or were DTLS).
    pub malformed: u64,
    /// Messages for no session.
    pub unknown_session: u64,
    /// Datagrams from addresses with no session over the new-source rate (a flood), dropped
    /// undecoded.
    pub rate_limited: u64,
    /// Retransmitted requests answered from the cache.
    pub retransmissions: u64,
    /// Requests older than the last one.
    pub stale: u64,
    pub unexpected: u64,
    pub released: u64,
    /// WLAN Configuration Requests: sent (first transmissions), retransmitted, confirmed
    /// (Success), refused by the AP.
    pub wlan_requests: u64,
    pub wlan_retransmissions: u64,
    pub wlan_confirmed: u64,
    pub wlan_refused: u64,
    /// APs waiting for a WLAN request or with one outstanding.
    pub wlan_pending: u64,
    /// Handing APs back to their configured controller: Configuration Update Requests sent,
    /// fallbacks the APs confirmed, APs moving or waiting to, and APs reset because they
    /// ignored the fallback.
    pub fallback_requests: u64,
    pub fallback_confirmed: u64,
    pub fallback_pending: u64,
    pub fallback_resets: u64,
    /// Roost Controller Lost Requests sent to the APs of members that died.
    pub lost_notices: u64,
    /// Configuration Update Requests bringing APs in Run their profile's new timers.
    pub timer_updates: u64,
    /// Configuration Update Requests telling APs in Run their configured hostname.
    pub name_updates: u64,
    /// When the last WLAN Configuration Response arrived (ms since the epoch): how long a
    /// commit took to reach the last AP.
    pub wlan_last_response_epoch_ms: Option<u64>,
}

impl AdoptionStats {
    /// (label, value) in `show adoption status` order.
    pub fn rows(&self) -> [(&'static str, u64); 24] {
        [
            ("Discovery answered", self.discovery_answered),
            ("Discovery not answered", self.discovery_suppressed),
            ("Joins accepted", self.joins_accepted),
            ("Joins refused", self.joins_refused),
            ("Malformed packets", self.malformed),
            ("Unknown session", self.unknown_session),
            ("New sources rate-limited", self.rate_limited),
            ("Retransmissions answered", self.retransmissions),
            ("Stale requests", self.stale),
            ("Unexpected messages", self.unexpected),
            ("APs released", self.released),
            ("WLAN requests sent", self.wlan_requests),
            ("WLAN requests retransmitted", self.wlan_retransmissions),
            ("WLAN changes confirmed", self.wlan_confirmed),
            ("WLAN changes refused", self.wlan_refused),
            ("APs waiting for WLANs", self.wlan_pending),
            ("Fallback requests sent", self.fallback_requests),
            ("Fallbacks confirmed", self.fallback_confirmed),
            ("APs falling back", self.fallback_pending),
            ("APs reset for fallback", self.fallback_resets),
            ("Controller-lost notices sent", self.lost_notices),
            ("Timer updates sent", self.timer_updates),
            ("Hostname updates sent", self.name_updates),
            (
                "Last WLAN response (epoch ms)",
                self.wlan_last_response_epoch_ms.unwrap_or(0),
            ),
        ]
    }
}

/// One AP, as `show wireless ap` and `GET /api/v1/aps` show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApRow {
    pub hostname: String,
    /// `00-23-68-00-00-01`.
    #[serde(serialize_with = "as_text")]
    pub mac: Mac,
    pub model: String,
    pub serial: String,
    pub ip: String,
    /// The controller's hostname (WiNG's ADOPTED-BY); empty when refused.
    pub adopted_by: String,
    /// `adopted`, `configuring`, `data-check`, or `refused`.
    pub state: String,
    /// `AP` or `AAP`; empty when refused.
    pub license: String,
    /// The AP profile it runs (its adopt rule's, else `default-<model>`); empty when refused.
    pub profile: String,
    /// Seconds in Run (None until it gets there).
    pub uptime_secs: Option<u64>,
    /// Why it was refused.
    pub reason: Option<String>,
}

impl MemberSnapshot {
    /// What a member shows before its member task has published (and a test's starting point).
    pub fn empty(max_aps: u32) -> MemberSnapshot {
        MemberSnapshot {
            status: ClusterStatus {
                protocol_version: roost_wire::PROTOCOL_VERSION,
                oper_state: "unknown".into(),
                ap_license: 0,
                aap_license: 0,
                ap_count: 0,
                aap_count: 0,
                max_ap_adoption_capacity: max_aps,
                connected_members: 0,
                master: None,
                config_revision: 0,
            },
            members: Vec::new(),
            history: Arc::default(),
            revisions: Arc::new(RevisionsView {
                head: RevisionId::ZERO,
                revisions: Vec::new(),
                superseded: Vec::new(),
                lineage: Vec::new(),
            }),
            running: Arc::default(),
            running_head: RevisionId::ZERO,
            licenses: Vec::new(),
            traffic: Vec::new(),
            aps: Arc::default(),
            pool: Vec::new(),
        }
    }
}

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
    /// In JSON as shown: `12.E1.EE.16`.
    #[serde(serialize_with = "as_text")]
    pub member_id: MemberId,
    /// In JSON as shown: `52-54-00-E1-EE-16`.
    #[serde(serialize_with = "as_text")]
    pub mac: Mac,
    pub master: bool,
    /// `active` / `standby`, or `down` for a member lost since this one started.
    pub oper_state: RowState,
    /// None for self; else seconds since the last hello.
    pub last_seen_secs: Option<u64>,
}

/// A member row's state: what the member last said it is, or down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowState {
    Active,
    Standby,
    Down,
}

impl RowState {
    /// The operational state of a connected member (None when down).
    pub fn oper_state(self) -> Option<OperState> {
        match self {
            RowState::Active => Some(OperState::Active),
            RowState::Standby => Some(OperState::Standby),
            RowState::Down => None,
        }
    }
}

impl From<OperState> for RowState {
    fn from(s: OperState) -> RowState {
        match s {
            OperState::Active => RowState::Active,
            OperState::Standby => RowState::Standby,
        }
    }
}

impl std::fmt::Display for RowState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that the table's width specifiers apply.
        f.pad(match self {
            RowState::Active => "active",
            RowState::Standby => "standby",
            RowState::Down => "down",
        })
    }
}

/// Serializes an id as the text `show` prints (the API's JSON keeps the operator's form).
fn as_text<T: std::fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
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
    /// Ids of the running lineage this member knows (newest last, ends with `head`): a
    /// superseded configuration's commit found here was not lost.
    pub lineage: Vec<RevisionId>,
}

/// Whether a commit of a superseded configuration is missing from the running configuration.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Lost {
    /// Not in the running lineage: lost (restore the superseded configuration to get it back).
    Yes,
    /// In the running lineage: it was not lost.
    No,
    /// Older than the running lineage this member knows: cannot tell.
    Unknown,
}

impl RevisionsView {
    /// The view as every face shows it: no WLAN pre-shared key in a change or a superseded
    /// configuration ([`crate::mask_config_secrets`]). The snapshot keeps them, for
    /// `cluster restore-revision`.
    pub fn without_secrets(mut self) -> RevisionsView {
        for r in &mut self.revisions {
            r.change = crate::mask_config_secrets(&r.change);
        }
        for s in &mut self.superseded {
            s.config = crate::mask_config_secrets(&s.config);
            for r in &mut s.revisions {
                r.change = crate::mask_config_secrets(&r.change);
            }
        }
        self
    }

    /// Was `id` (a commit of a superseded configuration) lost?
    pub fn lost(&self, id: &RevisionId) -> Lost {
        if self.lineage.contains(id) {
            return Lost::No;
        }
        match self.lineage.iter().map(|l| l.number).min() {
            Some(oldest) if id.number >= oldest => Lost::Yes,
            // The lineage does not reach back that far (or is unknown).
            _ if *id == RevisionId::ZERO => Lost::No,
            _ => Lost::Unknown,
        }
    }
}

impl RevisionsView {
    /// The view as a `monitor` user may see it: no password hash in the changes
    /// ([`crate::mask_passwords`]) nor in the superseded configurations
    /// ([`crate::hide_credentials`]).
    pub fn without_credentials(mut self) -> RevisionsView {
        let mask_change = |c: &str| {
            c.split_inclusive('\n')
                .map(|l| {
                    let body = l.trim_end_matches('\n');
                    format!("{}{}", crate::mask_passwords(body), &l[body.len()..])
                })
                .collect::<String>()
        };
        for r in &mut self.revisions {
            r.change = mask_change(&r.change);
        }
        for s in &mut self.superseded {
            s.config = crate::hide_credentials(&s.config);
            for r in &mut s.revisions {
                r.change = mask_change(&r.change);
            }
        }
        self
    }
}

/// The rule above and below the `show cluster members` table (89 dashes).
pub const MEMBERS_RULE: &str =
    "-----------------------------------------------------------------------------------------";
/// The `show cluster members` header, as WiNG prints it.
pub const MEMBERS_HEADER: &str =
    "  HOSTNAME    MEMBER-ID           MAC          MASTER OPERATIONAL-STATE     LAST-SEEN";
/// The rule of the `show cluster history` and `show cluster revisions` tables (125 dashes).
pub const HISTORY_RULE: &str = "-----------------------------------------------------------------------------------------------------------------------------";
/// The `show cluster history` header, as WiNG prints it.
pub const HISTORY_HEADER: &str = "           HOSTNAME           MEMBER-ID                    EVENT            TIME-STAMP                             REASON";

/// ` Label<padded>: value`: labels padded so that the colon is in column 30, as in the seed.
fn field(label: &str, value: impl std::fmt::Display) -> String {
    format!(" {label:<29}: {value}\n")
}

fn enabled(b: bool) -> &'static str {
    if b {
        "Enabled"
    } else {
        "Disabled"
    }
}

/// `show cluster status`.
pub fn render_cluster_status(s: &ClusterStatus) -> String {
    let mut o = String::from("\nCluster Runtime Information\n");
    o += &field("Protocol version", s.protocol_version);
    o += &field("Cluster operational state", &s.oper_state);
    o += &field("AP license", s.ap_license);
    o += &field("AAP license", s.aap_license);
    o += &field("AP count", s.ap_count);
    o += &field("AAP count", s.aap_count);
    o += &field("Max AP adoption capacity", s.max_ap_adoption_capacity);
    o += &field("Number of connected member(s)", s.connected_members);
    o.push('\n');
    o
}

/// `5 minutes`, or `30 seconds` for delays set in seconds that are not whole minutes of the
/// WiNG range.
pub fn format_delay(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if (secs / 60) * 60 == secs && secs / 60 >= 3 {
        format!("{} minutes", secs / 60)
    } else {
        format!("{secs} seconds")
    }
}

/// `show cluster configuration`.
pub fn render_cluster_configuration(d: &DeviceSettings) -> String {
    let mut o = String::from("\nCluster Configuration Information\n");
    o += &field("Name", &d.cluster_name);
    o += &field("Configured Mode", d.cluster_mode);
    o += &field("Master Priority", d.master_priority);
    o += &field("Force configured state", enabled(d.force_configured_state));
    o += &field(
        "Force configured state delay",
        format_delay(d.force_configured_state_delay),
    );
    o += &field("Handle STP", enabled(d.handle_stp));
    o += &field(
        "Radius Counter DB Sync Time",
        format!("{} minutes", d.radius_counter_db_sync_time_minutes),
    );
    o.push('\n');
    o
}

/// `00:01:31 ago`.
pub fn format_last_seen(secs: Option<u64>) -> String {
    match secs {
        None => "self".into(),
        Some(s) => format!("{:02}:{:02}:{:02} ago", s / 3600, s % 3600 / 60, s % 60),
    }
}

/// `show cluster members`: fixed header, rows `  {hostname:>8}   {member-id:>11}   {mac:>17}   {master:<8}{state:<18}{last-seen}`.
pub fn render_cluster_members(rows: &[MemberRow]) -> String {
    let mut o = format!("{MEMBERS_RULE}\n{MEMBERS_HEADER}\n{MEMBERS_RULE}\n");
    for r in rows {
        let line = format!(
            "  {:>8}   {:>11}   {:>17}   {:<8}{:<18}{}",
            r.hostname,
            r.member_id.to_string(),
            r.mac.to_string(),
            if r.master { "True" } else { "False" },
            r.oper_state,
            format_last_seen(r.last_seen_secs)
        );
        o += line.trim_end();
        o.push('\n');
    }
    o += MEMBERS_RULE;
    o += "\n\n";
    o
}

/// `show cluster history`: fixed header, rows right-aligned
/// `{hostname:>19}   {member-id:>17}   {event:>22}   {time-stamp:>19}   {reason:>30}`.
pub fn render_cluster_history(rows: &[HistoryRow]) -> String {
    let mut o = format!("{HISTORY_RULE}\n{HISTORY_HEADER}\n{HISTORY_RULE}\n");
    for r in rows {
        o += &format!(
            "{:>19}   {:>17}   {:>22}   {:>19}   {:>30}\n",
            r.hostname, r.member_id, r.event, r.timestamp, r.reason
        );
    }
    o += HISTORY_RULE;
    o += "\n\n";
    o
}

/// Local controller time `2017-08-28 20:40:24` of a wall-clock time in ms since the epoch.
pub fn format_wall_ms(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|| "-".into())
}

/// One-line summary of a change text: its commands joined by `; `, password hashes elided,
/// at most 50 characters.
pub fn summarize_change(change: &str) -> String {
    let mut parts = Vec::new();
    for l in change.lines() {
        let t = l.trim();
        if t.is_empty() || t.starts_with('!') {
            continue;
        }
        if t == crate::REPLACE_CONFIG {
            return "replace-config (restore)".into();
        }
        let toks: Vec<&str> = t.split_whitespace().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            if toks[i] == "password" && i + 2 < toks.len() {
                out.push("password 1 <hash>".to_string());
                i += 3;
                continue;
            }
            out.push(toks[i].to_string());
            i += 1;
        }
        parts.push(out.join(" "));
    }
    let s = parts.join("; ");
    if s.chars().count() > 50 {
        format!("{}...", s.chars().take(47).collect::<String>())
    } else {
        s
    }
}

fn short_hash(id: &RevisionId) -> String {
    id.hash[..4].iter().map(|b| format!("{b:02x}")).collect()
}

fn revision_row(r: &Revision) -> String {
    format!(
        "{:>10}   {:>8}   {:>19}   {:>12}   {:>11}   {}",
        r.id.number,
        short_hash(&r.id),
        format_wall_ms(r.wall_ms),
        r.user,
        r.origin,
        summarize_change(&r.change)
    )
}

fn superseded_row(s: &SupersededConfig, lost: usize, unknown: usize) -> String {
    let count = if unknown > 0 {
        format!("{lost}+{unknown}?")
    } else {
        lost.to_string()
    };
    format!(
        "{:>10}   {:>8}   {:>11}   {:>19}   {:>12}",
        s.head.number,
        short_hash(&s.head),
        s.holder,
        format_wall_ms(s.superseded_wall_ms),
        count
    )
}

/// `show cluster revisions` (Roost): the running lineage (newest first) and the superseded
/// configurations that `cluster restore-revision` can bring back.
pub fn render_revisions(v: &RevisionsView) -> String {
    let mut o = String::from("\nConfiguration Revision Information\n");
    o += &field("Running revision", v.head.short());
    o += &field("Superseded configurations", v.superseded.len());
    o += &format!("{HISTORY_RULE}\n");
    o += &format!(
        "{:>10}   {:>8}   {:>19}   {:>12}   {:>11}   {}\n",
        "REVISION", "HASH", "TIME-STAMP", "USER", "ORIGIN", "CHANGE"
    );
    o += &format!("{HISTORY_RULE}\n");
    for r in v.revisions.iter().rev() {
        o += revision_row(r).trim_end();
        o.push('\n');
    }
    o += &format!("{HISTORY_RULE}\n");
    if !v.superseded.is_empty() {
        o += "\nSuperseded Configurations\n";
        o += &format!("{HISTORY_RULE}\n");
        o += &format!(
            "{:>10}   {:>8}   {:>11}   {:>19}   {:>12}\n",
            "REVISION", "HASH", "HOLDER", "SUPERSEDED-AT", "LOST-COMMITS"
        );
        o += &format!("{HISTORY_RULE}\n");
        let mut any_unknown = false;
        for s in &v.superseded {
            // What was lost, so an operator can judge before restoring; commits the running
            // lineage also has are not listed.
            let rows: Vec<(&Revision, Lost)> = s
                .revisions
                .iter()
                .map(|r| (r, v.lost(&r.id)))
                .filter(|(_, l)| *l != Lost::No)
                .collect();
            let unknown = rows.iter().filter(|(_, l)| *l == Lost::Unknown).count();
            any_unknown |= unknown > 0;
            o += &superseded_row(s, rows.len() - unknown, unknown);
            o.push('\n');
            for (r, l) in rows {
                o += &format!(
                    "{:>17} {:>6} by {} on {}: {}\n",
                    if l == Lost::Yes { "lost" } else { "unproven" },
                    r.id.number,
                    r.user,
                    r.origin,
                    summarize_change(&r.change)
                );
            }
        }
        o += &format!("{HISTORY_RULE}\n");
        if any_unknown {
            o += " ? unproven: older than the running lineage this member knows; it may or may not be in the running configuration\n";
        }
        o += " Restore with: cluster restore-revision <REVISION> [<HASH>]\n";
    }
    o.push('\n');
    o
}

/// `show version`.
pub fn render_version(id: &Identity) -> String {
    let u = id.uptime_secs;
    format!(
        "{} version {}\nRoost WLAN controller cluster\n\n{} uptime is {} days, {} hours {} minutes {} seconds\nBase ethernet MAC address is {}\nModel number is {}\n",
        id.model.name(),
        id.software_version,
        id.hostname,
        u / 86_400,
        u % 86_400 / 3600,
        u % 3600 / 60,
        u % 60,
        id.mac,
        id.model.name()
    )
}

/// `show licenses`: AP/AAP licenses are pooled across the cluster; ADSEC is per member.
/// One member's installed licenses (`show licenses`, `GET /api/v1/licenses`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberLicenses {
    /// Its hellos arrive. A lost member is listed while its license grace period runs.
    pub connected: bool,
    /// A lost member: when it was lost and when its licenses leave the pool (local time;
    /// null for a connected member).
    pub lost_since: Option<String>,
    pub grace_until: Option<String>,
    pub hostname: String,
    pub member_id: String,
    /// Installed.
    pub ap: u32,
    pub aap: u32,
    /// APs it holds on each kind of license (from its hellos).
    pub ap_used: u32,
    pub aap_used: u32,
    pub adsec: bool,
}

/// `GET /api/v1/licenses`: the pool and each member's part (the connected members, then the
/// lost ones whose license grace period runs: their installed licenses stay in the pool).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LicensesView {
    /// Installed licenses of the connected members and of the lost ones in their grace period.
    pub ap_licenses: u32,
    pub aap_licenses: u32,
    /// APs the connected members hold, per kind of license.
    pub ap_used: u32,
    pub aap_used: u32,
    pub ap_remaining: u32,
    pub aap_remaining: u32,
    pub members: Vec<MemberLicenses>,
}

impl LicensesView {
    pub fn of(members: &[MemberLicenses]) -> LicensesView {
        let sum = |f: fn(&MemberLicenses) -> u32| members.iter().map(f).sum::<u32>();
        let used = |f: fn(&MemberLicenses) -> u32| {
            members.iter().filter(|m| m.connected).map(f).sum::<u32>()
        };
        let (ap, aap) = (sum(|m| m.ap), sum(|m| m.aap));
        let (ap_used, aap_used) = (used(|m| m.ap_used), used(|m| m.aap_used));
        LicensesView {
            ap_licenses: ap,
            aap_licenses: aap,
            ap_used,
            aap_used,
            ap_remaining: ap.saturating_sub(ap_used),
            aap_remaining: aap.saturating_sub(aap_used),
            members: members.to_vec(),
        }
    }
}

pub fn render_licenses(s: &ClusterStatus, id: &Identity, members: &[MemberLicenses]) -> String {
    let (connected, lost): (Vec<&MemberLicenses>, Vec<&MemberLicenses>) =
        members.iter().partition(|m| m.connected);
    let mut o = String::from("\nCluster License Information\n");
    o += &field("AP license (pooled)", s.ap_license);
    o += &field("AAP license (pooled)", s.aap_license);
    o += &field("AP count", s.ap_count);
    o += &field("AAP count", s.aap_count);
    o += &field(
        "AP license remaining",
        s.ap_license.saturating_sub(s.ap_count),
    );
    o += &field(
        "AAP license remaining",
        s.aap_license.saturating_sub(s.aap_count),
    );
    o += &field("Max AP adoption capacity", s.max_ap_adoption_capacity);
    o += &format!(
        "\nDevice License Information ({} {})\n",
        id.hostname, id.mac
    );
    o += &field("Model", id.model.name());
    o += &field("Max APs of this platform", id.model.max_aps());
    let own_adsec = connected.first().map(|m| m.adsec);
    o += &field(
        "ADSEC license",
        match own_adsec {
            Some(true) => "installed (per member, not shared in a cluster)",
            Some(false) => "not installed (per member, not shared in a cluster)",
            None => "per member, not shared in a cluster",
        },
    );
    if !connected.is_empty() {
        o += "\nMember License Information\n";
        o += &format!("{MEMBERS_RULE}\n");
        o += &format!(
            "  {:>16}   {:>11}   {:>6}   {:>7}   {:>6}   {:>8}   {:<9}\n",
            "HOSTNAME", "MEMBER-ID", "AP", "AP-USED", "AAP", "AAP-USED", "ADSEC"
        );
        o += &format!("{MEMBERS_RULE}\n");
        for m in &connected {
            let adsec = if m.adsec { "installed" } else { "-" };
            let row = format!(
                "  {:>16}   {:>11}   {:>6}   {:>7}   {:>6}   {:>8}   {:<9}",
                m.hostname, m.member_id, m.ap, m.ap_used, m.aap, m.aap_used, adsec
            );
            o += row.trim_end();
            o.push('\n');
        }
        o += &format!("{MEMBERS_RULE}\n");
    }
    if !lost.is_empty() {
        // WiNG's grace period: a lost member's licenses stay in the pool, for the APs it had
        // and (on one side of a partition) for others.
        o += "\nLost Members (licenses stay in the pool for the grace period)\n";
        o += &format!("{MEMBERS_RULE}\n");
        o += &format!(
            "  {:>16}   {:>11}   {:>6}   {:>6}   {:<19}   {:<19}\n",
            "HOSTNAME", "MEMBER-ID", "AP", "AAP", "LOST-SINCE", "IN-POOL-UNTIL"
        );
        o += &format!("{MEMBERS_RULE}\n");
        for m in &lost {
            let row = format!(
                "  {:>16}   {:>11}   {:>6}   {:>6}   {:<19}   {:<19}",
                m.hostname,
                m.member_id,
                m.ap,
                m.aap,
                m.lost_since.as_deref().unwrap_or("-"),
                m.grace_until.as_deref().unwrap_or("-")
            );
            o += row.trim_end();
            o.push('\n');
        }
        o += &format!("{MEMBERS_RULE}\n");
    }
    o.push('\n');
    o
}

/// `show cluster traffic` (Roost): member channel counters, in the status layout.
pub fn render_traffic(counters: &[(String, u64)]) -> String {
    let mut o = String::from("\nMember Channel Statistics (UDP 24576)\n");
    for (label, value) in counters {
        o += &format!(" {:<29}: {}\n", label, value);
    }
    o.push('\n');
    o
}

/// `show wireless ap`: a boxed table (WiNG-style: upper-case headers, `+---+` rules; the exact
/// layout is Roost's, modelled on WiNG's), then `Number of APs shown: N`.
pub fn render_wireless_ap<R: std::borrow::Borrow<ApRow>>(rows: &[R]) -> String {
    let header = [
        "IDX",
        "NAME",
        "MAC",
        "MODEL",
        "IP",
        "ADOPTED-BY",
        "STATE",
        "UPTIME",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let r: &ApRow = r.borrow();
            vec![
                (i + 1).to_string(),
                r.hostname.clone(),
                r.mac.to_string(),
                r.model.clone(),
                r.ip.clone(),
                r.adopted_by.clone(),
                r.state.clone(),
                r.uptime_secs
                    .map(format_uptime)
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut o = boxed(&header, &cells);
    o += &format!("Number of APs shown: {}\n", rows.len());
    o
}

/// `show wireless ap configured`: every AP the cluster-wide AP table knows (and the refused
/// ones), as its device would be configured: `<type> <MAC>` with its profile and hostname.
/// Derived from the table: adoption never writes a configuration revision.
pub fn render_wireless_ap_configured<R: std::borrow::Borrow<ApRow>>(rows: &[R]) -> String {
    let header = ["IDX", "NAME", "MAC", "TYPE", "PROFILE", "ADOPTED-BY"];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let r: &ApRow = r.borrow();
            let kind = r.model.to_ascii_lowercase();
            vec![
                (i + 1).to_string(),
                r.hostname.clone(),
                r.mac.to_string(),
                kind.clone(),
                format!("default-{kind}"),
                if r.adopted_by.is_empty() {
                    "un-adopted".into()
                } else {
                    r.adopted_by.clone()
                },
            ]
        })
        .collect();
    let mut o = boxed(&header, &cells);
    o += &format!("Number of APs shown: {}\n", rows.len());
    o
}

/// `show adoption offline`: the APs not in Run anywhere: refused here (with the reason), or
/// shown on a controller that was lost.
pub fn render_adoption_offline<R: std::borrow::Borrow<ApRow>>(rows: &[R]) -> String {
    let header = ["IDX", "NAME", "MAC", "MODEL", "IP", "STATE", "REASON"];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.borrow())
        .filter(|r: &&ApRow| r.state != "adopted" && r.state != "joining")
        .enumerate()
        .map(|(i, r)| {
            vec![
                (i + 1).to_string(),
                r.hostname.clone(),
                r.mac.to_string(),
                r.model.clone(),
                r.ip.clone(),
                r.state.clone(),
                r.reason.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut o = boxed(&header, &cells);
    o += &format!("Number of APs shown: {}\n", cells.len());
    o
}

/// `show adoption history`: this controller's adoption events, newest first.
pub fn render_adoption_history(h: &[AdoptionHistoryEntry]) -> String {
    let header = ["EVENT", "NAME", "MAC", "MODEL", "REASON", "TIME-STAMP"];
    let cells: Vec<Vec<String>> = h
        .iter()
        .map(|e| {
            vec![
                e.event.to_string(),
                e.hostname.clone(),
                e.mac.to_string(),
                e.model.clone(),
                if e.reason.is_empty() {
                    "-".into()
                } else {
                    e.reason.clone()
                },
                format_wall_ms(e.at_epoch_ms),
            ]
        })
        .collect();
    let mut o = boxed(&header, &cells);
    o += &format!("Number of events shown: {}\n", h.len());
    o
}

/// A boxed table: `+---+` rules, upper-case headers; the first column right-aligned when it
/// is an index (`IDX`).
fn boxed(header: &[&str], cells: &[Vec<String>]) -> String {
    let index = header.first() == Some(&"IDX");
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let rule: String = width.iter().fold(String::from("+"), |mut o, w| {
        o += &"-".repeat(w + 2);
        o.push('+');
        o
    });
    let line = |cols: Vec<&str>| -> String {
        let mut o = String::from("|");
        for (i, (c, w)) in cols.iter().zip(&width).enumerate() {
            if i == 0 && index {
                o += &format!(" {c:>w$} |");
            } else {
                o += &format!(" {c:<w$} |");
            }
        }
        o
    };
    let mut o = format!("{rule}\n{}\n{rule}\n", line(header.to_vec()));
    for row in cells {
        o += &line(row.iter().map(|c| c.as_str()).collect());
        o.push('\n');
    }
    if !cells.is_empty() {
        o += &rule;
        o.push('\n');
    }
    o
}

/// `1d 02:03:04` or `02:03:04`.
fn format_uptime(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// `show adoption status` (Roost's layout): whether this controller adopts now, what it holds,
/// and its adoption counters (drops and refusals by cause).
pub fn render_adoption_status(t: &ApTable) -> String {
    let (adopted, joining) = (t.adopted, t.joining);
    let mut o = String::from("\nAdoption Status\n");
    o += &format!(
        " {:<29}: {}\n",
        "Adopting APs",
        if t.serving { "yes" } else { "no (standby)" }
    );
    o += &format!(" {:<29}: {}\n", "APs adopted", adopted);
    o += &format!(" {:<29}: {}\n", "APs joining", joining);
    o += &format!(" {:<29}: {}\n", "APs on other members", t.on_other_members);
    let b = &t.balance;
    o += &format!(
        " {:<29}: {}\n",
        "AP load balancing",
        if b.enabled {
            format!(
                "on (threshold {}%, hold-down {} s)",
                b.threshold_pct, b.hold_down_secs
            )
        } else {
            "off".into()
        }
    );
    let loads: Vec<String> = b
        .loads
        .iter()
        .map(|(h, a, c)| format!("{h} {a}/{c}"))
        .collect();
    o += &format!(
        " {:<29}: {}.{:02}% ({})\n",
        "Load spread",
        b.spread_bp / 100,
        b.spread_bp % 100,
        loads.join(", ")
    );
    o += &format!(
        " {:<29}: {}\n",
        "Balancing move",
        match &b.planned {
            Some((from, to, n)) => format!("{from} -> {to}, {n} APs"),
            None => "none".into(),
        }
    );
    o += &format!(
        " {:<29}: {}\n",
        "Moving from this member",
        match &b.round {
            Some((to, left, moved)) => format!("{left} APs to {to} ({moved} moved)"),
            None => "none".into(),
        }
    );
    o += &format!(" {:<29}: {}\n", "Balancing rounds", b.rounds);
    o += &format!(" {:<29}: {}\n", "APs moved by balancing", b.moved);
    for (label, value) in t.stats.rows() {
        o += &format!(" {:<29}: {}\n", label, value);
    }
    o.push('\n');
    o
}
