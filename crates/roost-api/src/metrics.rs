//! `GET /metrics`: the controller's Prometheus metrics.
//!
//! [`MetricsInput`] is plain data (numbers, ids, histogram buckets; no Prometheus types), so it
//! does not care where its numbers come from: today the daemon fills it from its counters and
//! one query of the member task, later from the published member snapshot. [`render`] turns
//! it into a fresh `prometheus_client` [`Registry`] per scrape (no global registry, so several
//! controllers can run in one test process) and encodes that.
//!
//! Two encodings, both `prometheus-client`'s: OpenMetrics 1.0 text when the scraper asks for
//! it (`Accept: application/openmetrics-text`, which Prometheus sends first), else the
//! Prometheus text format 0.0.4 (`text/plain; version=0.0.4`), which every older tool and a
//! plain `curl` read. The series are the same; only the framing differs (`# EOF`, `# UNIT`,
//! the `info` type).
//!
//! Series (names after Prometheus's conventions: one `roost_` prefix, base units, `_total`
//! only on counters, member ids and reasons as labels):
//!
//! | series | type | labels |
//! |---|---|---|
//! | `roost_build_info` | info (gauge of 1 in 0.0.4) | `version`, `protocol_version` |
//! | `roost_cluster_member_up` | gauge 0/1 | `member` |
//! | `roost_cluster_member_master` | gauge 0/1 | `member` |
//! | `roost_cluster_member_oper_state` | gauge 0/1 per state | `member`, `state` (`active`, `standby`) |
//! | `roost_cluster_master_changes_total` | counter | |
//! | `roost_cluster_hello_misses_total` | counter | `peer` |
//! | `roost_config_revision` | gauge | |
//! | `roost_config_commits_total` | counter | `result` (`ok`, `error`) |
//! | `roost_config_commit_duration_seconds` | histogram | |
//! | `roost_member_channel_received_datagrams_total` | counter | `outcome` (`accepted`, `authentication`, `replay`, `malformed`, `protocol_version`) |
//! | `roost_member_channel_sent_datagrams_total` | counter | |
//! | `roost_member_channel_send_errors_total` | counter | |
//! | `roost_join_attempts_total` | counter | `result` (`accepted`, `refused`, `error`) |
//! | `roost_login_failures_total` | counter | `face` (`ssh`, `api`, `join`) |
//! | `roost_aps` | gauge | `state` (`adopted`, `joining`): APs this controller holds |
//! | `roost_cluster_licenses` | gauge | `kind` (`ap`, `aap`): the pool over connected members |
//! | `roost_cluster_licenses_used` | gauge | `kind`: APs the connected members hold |
//! | `roost_adoption_joins_total` | counter | `result` (`accepted`, `refused`) |
//! | `roost_adoption_dropped_packets_total` | counter | `reason` (`malformed`, `unknown_session`, `stale`, `rate_limited`) |
//! | `roost_adoption_fallbacks_total` | counter | `outcome` (`confirmed`, `reset`): APs handed back to their configured controller |
//! | `roost_adoption_lost_notices_total` | counter | Roost Controller Lost Requests sent to the APs of members that died |
//! | `roost_adoption_timer_updates_total` | counter | Configuration Update Requests bringing APs in Run their profile's new timers |
//! | `roost_adoption_wlan_changes_total` | counter | `result` (`confirmed`, `refused`) |
//! | `roost_adoption_backlog` | gauge | `queue` (`wlan`, `fallback`): APs waiting for a request or with one outstanding |

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Registry, Unit};
use roost_wire::{MemberId, OperState};

/// `Content-Type` of the OpenMetrics text encoding.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// `Content-Type` of the Prometheus text format 0.0.4.
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str =
    prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Everything `/metrics` shows, as this controller sees it at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsInput {
    /// The software version this controller runs.
    pub version: String,
    /// The member-channel protocol version.
    pub protocol_version: u8,
    /// This member and its peers: the connected ones, then those lost since it started
    /// (`up: false`).
    pub members: Vec<MemberMetrics>,
    /// How often the master this member recognises changed (to another member or to none).
    pub master_changes: u64,
    /// Revision number of this member's running configuration.
    pub config_revision: u64,
    /// Commits requested at this controller.
    pub commits: CommitMetrics,
    /// The member channel (UDP 24576): what came in and what went out.
    pub channel: ChannelMetrics,
    /// Per peer: how often its dead interval expired without a hello (it was declared lost).
    pub hello_misses: Vec<(MemberId, u64)>,
    /// join-cluster attempts served by this controller.
    pub joins: JoinMetrics,
    /// Passwords (or join-cluster proofs) checked and found wrong, per face.
    pub login_failures: LoginFailures,
    pub aps: ApMetrics,
}

/// Access points: what this controller holds, the cluster's license pool, adoption counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApMetrics {
    pub adopted: u64,
    pub joining: u64,
    pub ap_licenses: u64,
    pub aap_licenses: u64,
    pub ap_used: u64,
    pub aap_used: u64,
    pub joins_accepted: u64,
    pub joins_refused: u64,
    pub dropped_malformed: u64,
    pub dropped_unknown_session: u64,
    pub dropped_stale: u64,
    pub dropped_rate_limited: u64,
    pub fallbacks_confirmed: u64,
    pub fallback_resets: u64,
    pub lost_notices: u64,
    pub timer_updates: u64,
    pub wlan_confirmed: u64,
    pub wlan_refused: u64,
    pub wlan_pending: u64,
    pub fallback_pending: u64,
}

/// One member as this controller sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberMetrics {
    pub member: MemberId,
    /// Connected (this member itself, or a peer whose hellos arrive).
    pub up: bool,
    pub master: bool,
    /// None when down.
    pub oper_state: Option<OperState>,
}

/// Commits requested at this controller, by outcome, and their latency (from the request at
/// this controller to its outcome, wherever the master is).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommitMetrics {
    pub ok: u64,
    pub error: u64,
    pub duration: HistogramData,
}

/// A histogram as plain numbers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramData {
    /// Upper bounds of the finite buckets, ascending.
    pub bounds: Vec<f64>,
    /// Observations per bucket (not cumulative): one per bound, then one more for those above
    /// the last bound. Missing entries count as 0.
    pub counts: Vec<u64>,
    /// Sum of the observed values.
    pub sum: f64,
}

impl HistogramData {
    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().take(self.bounds.len() + 1).sum()
    }
}

/// Member-channel datagrams. Every received datagram is accepted or dropped for one reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelMetrics {
    pub accepted: u64,
    /// Failed authentication (not sealed with the cluster key: a non-member, corruption).
    pub dropped_authentication: u64,
    pub dropped_replay: u64,
    pub dropped_malformed: u64,
    pub dropped_protocol_version: u64,
    pub sent: u64,
    pub send_errors: u64,
}

/// join-cluster attempts on this controller's join port, by result.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JoinMetrics {
    /// The joiner was committed in and got the key and configuration.
    pub accepted: u64,
    /// Refused with a reason (authentication, version, model, busy, …).
    pub refused: u64,
    /// The connection failed or timed out (TLS, I/O).
    pub error: u64,
}

/// Failed logins per face.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoginFailures {
    pub ssh: u64,
    pub api: u64,
    pub join: u64,
}

/// The exposition formats [`render`] writes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text ([`OPENMETRICS_CONTENT_TYPE`]).
    OpenMetrics,
    /// Prometheus text format 0.0.4 ([`PROMETHEUS_TEXT_CONTENT_TYPE`]).
    PrometheusText,
}

impl Format {
    /// The format a scraper's `Accept` header asks for: OpenMetrics if it names it, else the
    /// 0.0.4 text format (what Prometheus falls back to and `curl` gets).
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::PrometheusText,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Format::PrometheusText => PROMETHEUS_TEXT_CONTENT_TYPE,
        }
    }
}

/// The registry of one scrape: every series of `m`.
pub fn registry(m: &MetricsInput) -> Registry {
    let mut r = Registry::with_prefix("roost");
    r.register(
        "build",
        "The software and member-protocol version of this controller",
        Info::new(vec![
            ("version", m.version.clone()),
            ("protocol_version", m.protocol_version.to_string()),
        ]),
    );

    let member = |id: MemberId| vec![("member", id.to_string())];
    let bit = |b: bool| ConstGauge::new(i64::from(b));
    r.register(
        "cluster_member_up",
        "Whether the member is connected (1), or was lost since this controller started (0)",
        Series::new(m.members.iter().map(|x| (member(x.member), bit(x.up)))),
    );
    r.register(
        "cluster_member_master",
        "Whether the member is the cluster master",
        Series::new(m.members.iter().map(|x| (member(x.member), bit(x.master)))),
    );
    r.register(
        "cluster_member_oper_state",
        "The member's operational state (1 for the state it is in; all 0 while down)",
        Series::new(m.members.iter().flat_map(|x| {
            [OperState::Active, OperState::Standby].map(|s| {
                let mut labels = member(x.member);
                labels.push(("state", s.to_string()));
                (labels, bit(x.oper_state == Some(s)))
            })
        })),
    );
    r.register(
        "cluster_master_changes",
        "Times the master this controller recognises changed (to another member or to none)",
        ConstCounter::new(m.master_changes),
    );
    r.register(
        "cluster_hello_misses",
        "Times a peer's dead interval expired without a hello from it (it was declared lost)",
        Series::new(
            m.hello_misses
                .iter()
                .map(|(peer, n)| (vec![("peer", peer.to_string())], ConstCounter::new(*n))),
        ),
    );

    r.register(
        "config_revision",
        "Revision number of this controller's running configuration",
        ConstGauge::new(i64::try_from(m.config_revision).unwrap_or(i64::MAX)),
    );
    let result = |v: &str| vec![("result", v.to_string())];
    r.register(
        "config_commits",
        "Commits requested at this controller, by outcome",
        Series::new([
            (result("ok"), ConstCounter::new(m.commits.ok)),
            (result("error"), ConstCounter::new(m.commits.error)),
        ]),
    );
    r.register_with_unit(
        "config_commit_duration",
        "Time from a commit request at this controller to its outcome",
        Unit::Seconds,
        ConstHistogram(m.commits.duration.clone()),
    );

    let c = &m.channel;
    let outcome = |v: &str| vec![("outcome", v.to_string())];
    r.register(
        "member_channel_received_datagrams",
        "Datagrams received on the member channel, by outcome: accepted, or the reason they \
         were dropped",
        Series::new([
            (outcome("accepted"), ConstCounter::new(c.accepted)),
            (
                outcome("authentication"),
                ConstCounter::new(c.dropped_authentication),
            ),
            (outcome("replay"), ConstCounter::new(c.dropped_replay)),
            (outcome("malformed"), ConstCounter::new(c.dropped_malformed)),
            (
                outcome("protocol_version"),
                ConstCounter::new(c.dropped_protocol_version),
            ),
        ]),
    );
    r.register(
        "member_channel_sent_datagrams",
        "Datagrams sent on the member channel",
        ConstCounter::new(c.sent),
    );
    r.register(
        "member_channel_send_errors",
        "Datagrams the member channel could not send",
        ConstCounter::new(c.send_errors),
    );

    let j = &m.joins;
    r.register(
        "join_attempts",
        "join-cluster attempts served by this controller, by result",
        Series::new([
            (result("accepted"), ConstCounter::new(j.accepted)),
            (result("refused"), ConstCounter::new(j.refused)),
            (result("error"), ConstCounter::new(j.error)),
        ]),
    );
    let face = |v: &str| vec![("face", v.to_string())];
    let l = &m.login_failures;
    r.register(
        "login_failures",
        "Logins refused for a wrong user name, password or join-cluster proof, by face",
        Series::new([
            (face("ssh"), ConstCounter::new(l.ssh)),
            (face("api"), ConstCounter::new(l.api)),
            (face("join"), ConstCounter::new(l.join)),
        ]),
    );

    let a = &m.aps;
    let gauge = |v: u64| ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
    let label = |k: &'static str, v: &str| vec![(k, v.to_string())];
    r.register(
        "aps",
        "Access points this controller holds, by state",
        Series::new([
            (label("state", "adopted"), gauge(a.adopted)),
            (label("state", "joining"), gauge(a.joining)),
        ]),
    );
    r.register(
        "cluster_licenses",
        "AP licenses pooled over the connected members, by kind",
        Series::new([
            (label("kind", "ap"), gauge(a.ap_licenses)),
            (label("kind", "aap"), gauge(a.aap_licenses)),
        ]),
    );
    r.register(
        "cluster_licenses_used",
        "AP licenses the connected members use (APs they hold), by kind",
        Series::new([
            (label("kind", "ap"), gauge(a.ap_used)),
            (label("kind", "aap"), gauge(a.aap_used)),
        ]),
    );
    r.register(
        "adoption_joins",
        "CAPWAP Join Requests this controller answered, by result",
        Series::new([
            (result("accepted"), ConstCounter::new(a.joins_accepted)),
            (result("refused"), ConstCounter::new(a.joins_refused)),
        ]),
    );
    r.register(
        "adoption_dropped_packets",
        "CAPWAP packets this controller dropped, by reason",
        Series::new([
            (
                label("reason", "malformed"),
                ConstCounter::new(a.dropped_malformed),
            ),
            (
                label("reason", "unknown_session"),
                ConstCounter::new(a.dropped_unknown_session),
            ),
            (label("reason", "stale"), ConstCounter::new(a.dropped_stale)),
            (
                label("reason", "rate_limited"),
                ConstCounter::new(a.dropped_rate_limited),
            ),
        ]),
    );
    r.register(
        "adoption_fallbacks",
        "APs this controller handed back to their configured controller, by outcome",
        Series::new([
            (
                label("outcome", "confirmed"),
                ConstCounter::new(a.fallbacks_confirmed),
            ),
            (
                label("outcome", "reset"),
                ConstCounter::new(a.fallback_resets),
            ),
        ]),
    );
    r.register(
        "adoption_lost_notices",
        "Roost Controller Lost Requests sent to the APs of members that died",
        ConstCounter::new(a.lost_notices),
    );
    r.register(
        "adoption_timer_updates",
        "Configuration Update Requests bringing APs in Run their profile's new timers",
        ConstCounter::new(a.timer_updates),
    );
    r.register(
        "adoption_wlan_changes",
        "WLAN changes the APs answered, by result",
        Series::new([
            (result("confirmed"), ConstCounter::new(a.wlan_confirmed)),
            (result("refused"), ConstCounter::new(a.wlan_refused)),
        ]),
    );
    r.register(
        "adoption_backlog",
        "APs waiting for a request of this controller or with one outstanding, by queue",
        Series::new([
            (label("queue", "wlan"), gauge(a.wlan_pending)),
            (label("queue", "fallback"), gauge(a.fallback_pending)),
        ]),
    );
    r
}

/// The text of one scrape in `format`.
pub fn render(m: &MetricsInput, format: Format) -> String {
    let r = registry(m);
    let mut out = String::new();
    // Writing into a String cannot fail; an encoder error would be a bug in a metric above.
    let encoded = match format {
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &r),
        Format::PrometheusText => {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &r)
        }
    };
    debug_assert!(encoded.is_ok(), "metrics encoding failed");
    out
}

type Labels = Vec<(&'static str, String)>;

/// One family's labelled series, encoded in the order given (prometheus-client's `Family`
/// keeps a hash map, whose order changes between scrapes).
#[derive(Debug)]
struct Series<M> {
    series: Vec<(Labels, M)>,
}

impl<M> Series<M> {
    fn new(series: impl IntoIterator<Item = (Labels, M)>) -> Series<M> {
        Series {
            series: series.into_iter().collect(),
        }
    }
}

impl<M: EncodeMetric + TypedMetric> EncodeMetric for Series<M> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, metric) in &self.series {
            metric.encode(encoder.encode_family(labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        M::TYPE
    }
}

/// A histogram from counts kept elsewhere (prometheus-client's `Histogram` only observes).
#[derive(Debug)]
struct ConstHistogram(HistogramData);

impl EncodeMetric for ConstHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let h = &self.0;
        let count = |i: usize| h.counts.get(i).copied().unwrap_or(0);
        let mut buckets: Vec<(f64, u64)> = h
            .bounds
            .iter()
            .enumerate()
            .map(|(i, b)| (*b, count(i)))
            .collect();
        buckets.push((f64::INFINITY, count(h.bounds.len())));
        encoder.encode_histogram::<NoLabelSet>(h.sum, h.count(), &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> MetricsInput {
        let me = MemberId(0x12E1_EE16);
        let peer = MemberId(0x123A_A117);
        MetricsInput {
            version: "1.2.3".into(),
            protocol_version: 1,
            members: vec![
                MemberMetrics {
                    member: me,
                    up: true,
                    master: true,
                    oper_state: Some(OperState::Active),
                },
                MemberMetrics {
                    member: peer,
                    up: false,
                    master: false,
                    oper_state: None,
                },
            ],
            master_changes: 2,
            config_revision: 7,
            commits: CommitMetrics {
                ok: 3,
                error: 1,
                duration: HistogramData {
                    bounds: vec![0.01, 0.1],
                    counts: vec![2, 1, 1],
                    sum: 1.5,
                },
            },
            channel: ChannelMetrics {
                accepted: 100,
                dropped_authentication: 4,
                dropped_replay: 3,
                dropped_malformed: 2,
                dropped_protocol_version: 1,
                sent: 120,
                send_errors: 5,
            },
            hello_misses: vec![(peer, 1)],
            joins: JoinMetrics {
                accepted: 1,
                refused: 2,
                error: 0,
            },
            login_failures: LoginFailures {
                ssh: 0,
                api: 1,
                join: 2,
            },
            aps: ApMetrics {
                adopted: 3,
                joining: 1,
                ap_licenses: 0,
                aap_licenses: 128,
                ap_used: 0,
                aap_used: 4,
                joins_accepted: 5,
                joins_refused: 1,
                dropped_malformed: 2,
                dropped_unknown_session: 1,
                dropped_stale: 0,
                dropped_rate_limited: 9,
                fallbacks_confirmed: 200,
                fallback_resets: 1,
                lost_notices: 25,
                timer_updates: 3,
                wlan_confirmed: 300,
                wlan_refused: 2,
                wlan_pending: 4,
                fallback_pending: 6,
            },
        }
    }

    #[test]
    fn prometheus_text_of_a_small_input() {
        let text = render(&small(), Format::PrometheusText);
        assert_eq!(text, PROMETHEUS_TEXT, "got:\n{text}");
    }

    #[test]
    fn openmetrics_text_of_a_small_input() {
        let text = render(&small(), Format::OpenMetrics);
        assert_eq!(text, OPENMETRICS_TEXT, "got:\n{text}");
    }

    #[test]
    fn the_scraper_chooses_the_format() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::from_accept(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::from_accept(Some("*/*")), Format::PrometheusText);
        assert_eq!(Format::from_accept(None), Format::PrometheusText);
    }

    #[test]
    fn an_empty_input_renders_every_family() {
        let text = render(&MetricsInput::default(), Format::PrometheusText);
        assert!(
            text.contains("roost_config_commit_duration_seconds_count 0\n"),
            "{text}"
        );
        assert!(
            text.contains("roost_login_failures_total{face=\"ssh\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("roost_config_revision 0\n"), "{text}");
    }

    /// [`small`] in the 0.0.4 text format (counter families named with `_total`, the info
    /// as a gauge).
    const PROMETHEUS_TEXT: &str = r#"# HELP roost_build_info The software and member-protocol version of this controller.
# TYPE roost_build_info gauge
roost_build_info{version="1.2.3",protocol_version="1"} 1
# HELP roost_cluster_member_up Whether the member is connected (1), or was lost since this controller started (0).
# TYPE roost_cluster_member_up gauge
roost_cluster_member_up{member="12.E1.EE.16"} 1
roost_cluster_member_up{member="12.3A.A1.17"} 0
# HELP roost_cluster_member_master Whether the member is the cluster master.
# TYPE roost_cluster_member_master gauge
roost_cluster_member_master{member="12.E1.EE.16"} 1
roost_cluster_member_master{member="12.3A.A1.17"} 0
# HELP roost_cluster_member_oper_state The member's operational state (1 for the state it is in; all 0 while down).
# TYPE roost_cluster_member_oper_state gauge
roost_cluster_member_oper_state{member="12.E1.EE.16",state="active"} 1
roost_cluster_member_oper_state{member="12.E1.EE.16",state="standby"} 0
roost_cluster_member_oper_state{member="12.3A.A1.17",state="active"} 0
roost_cluster_member_oper_state{member="12.3A.A1.17",state="standby"} 0
# HELP roost_cluster_master_changes_total Times the master this controller recognises changed (to another member or to none).
# TYPE roost_cluster_master_changes_total counter
roost_cluster_master_changes_total 2
# HELP roost_cluster_hello_misses_total Times a peer's dead interval expired without a hello from it (it was declared lost).
# TYPE roost_cluster_hello_misses_total counter
roost_cluster_hello_misses_total{peer="12.3A.A1.17"} 1
# HELP roost_config_revision Revision number of this controller's running configuration.
# TYPE roost_config_revision gauge
roost_config_revision 7
# HELP roost_config_commits_total Commits requested at this controller, by outcome.
# TYPE roost_config_commits_total counter
roost_config_commits_total{result="ok"} 3
roost_config_commits_total{result="error"} 1
# HELP roost_config_commit_duration_seconds Time from a commit request at this controller to its outcome.
# TYPE roost_config_commit_duration_seconds histogram
roost_config_commit_duration_seconds_bucket{le="0.01"} 2
roost_config_commit_duration_seconds_bucket{le="0.1"} 3
roost_config_commit_duration_seconds_bucket{le="+Inf"} 4
roost_config_commit_duration_seconds_sum 1.5
roost_config_commit_duration_seconds_count 4
# HELP roost_member_channel_received_datagrams_total Datagrams received on the member channel, by outcome: accepted, or the reason they were dropped.
# TYPE roost_member_channel_received_datagrams_total counter
roost_member_channel_received_datagrams_total{outcome="accepted"} 100
roost_member_channel_received_datagrams_total{outcome="authentication"} 4
roost_member_channel_received_datagrams_total{outcome="replay"} 3
roost_member_channel_received_datagrams_total{outcome="malformed"} 2
roost_member_channel_received_datagrams_total{outcome="protocol_version"} 1
# HELP roost_member_channel_sent_datagrams_total Datagrams sent on the member channel.
# TYPE roost_member_channel_sent_datagrams_total counter
roost_member_channel_sent_datagrams_total 120
# HELP roost_member_channel_send_errors_total Datagrams the member channel could not send.
# TYPE roost_member_channel_send_errors_total counter
roost_member_channel_send_errors_total 5
# HELP roost_join_attempts_total join-cluster attempts served by this controller, by result.
# TYPE roost_join_attempts_total counter
roost_join_attempts_total{result="accepted"} 1
roost_join_attempts_total{result="refused"} 2
roost_join_attempts_total{result="error"} 0
# HELP roost_login_failures_total Logins refused for a wrong user name, password or join-cluster proof, by face.
# TYPE roost_login_failures_total counter
roost_login_failures_total{face="ssh"} 0
roost_login_failures_total{face="api"} 1
roost_login_failures_total{face="join"} 2
# HELP roost_aps Access points this controller holds, by state.
# TYPE roost_aps gauge
roost_aps{state="adopted"} 3
roost_aps{state="joining"} 1
# HELP roost_cluster_licenses AP licenses pooled over the connected members, by kind.
# TYPE roost_cluster_licenses gauge
roost_cluster_licenses{kind="ap"} 0
roost_cluster_licenses{kind="aap"} 128
# HELP roost_cluster_licenses_used AP licenses the connected members use (APs they hold), by kind.
# TYPE roost_cluster_licenses_used gauge
roost_cluster_licenses_used{kind="ap"} 0
roost_cluster_licenses_used{kind="aap"} 4
# HELP roost_adoption_joins_total CAPWAP Join Requests this controller answered, by result.
# TYPE roost_adoption_joins_total counter
roost_adoption_joins_total{result="accepted"} 5
roost_adoption_joins_total{result="refused"} 1
# HELP roost_adoption_dropped_packets_total CAPWAP packets this controller dropped, by reason.
# TYPE roost_adoption_dropped_packets_total counter
roost_adoption_dropped_packets_total{reason="malformed"} 2
roost_adoption_dropped_packets_total{reason="unknown_session"} 1
roost_adoption_dropped_packets_total{reason="stale"} 0
roost_adoption_dropped_packets_total{reason="rate_limited"} 9
# HELP roost_adoption_fallbacks_total APs this controller handed back to their configured controller, by outcome.
# TYPE roost_adoption_fallbacks_total counter
roost_adoption_fallbacks_total{outcome="confirmed"} 200
roost_adoption_fallbacks_total{outcome="reset"} 1
# HELP roost_adoption_lost_notices_total Roost Controller Lost Requests sent to the APs of members that died.
# TYPE roost_adoption_lost_notices_total counter
roost_adoption_lost_notices_total 25
# HELP roost_adoption_timer_updates_total Configuration Update Requests bringing APs in Run their profile's new timers.
# TYPE roost_adoption_timer_updates_total counter
roost_adoption_timer_updates_total 3
# HELP roost_adoption_wlan_changes_total WLAN changes the APs answered, by result.
# TYPE roost_adoption_wlan_changes_total counter
roost_adoption_wlan_changes_total{result="confirmed"} 300
roost_adoption_wlan_changes_total{result="refused"} 2
# HELP roost_adoption_backlog APs waiting for a request of this controller or with one outstanding, by queue.
# TYPE roost_adoption_backlog gauge
roost_adoption_backlog{queue="wlan"} 4
roost_adoption_backlog{queue="fallback"} 6
"#;

    /// [`small`] in OpenMetrics (`# UNIT`, the `info` type, `# EOF`).
    const OPENMETRICS_TEXT: &str = r#"# HELP roost_build The software and member-protocol version of this controller.
# TYPE roost_build info
roost_build_info{version="1.2.3",protocol_version="1"} 1
# HELP roost_cluster_member_up Whether the member is connected (1), or was lost since this controller started (0).
# TYPE roost_cluster_member_up gauge
roost_cluster_member_up{member="12.E1.EE.16"} 1
roost_cluster_member_up{member="12.3A.A1.17"} 0
# HELP roost_cluster_member_master Whether the member is the cluster master.
# TYPE roost_cluster_member_master gauge
roost_cluster_member_master{member="12.E1.EE.16"} 1
roost_cluster_member_master{member="12.3A.A1.17"} 0
# HELP roost_cluster_member_oper_state The member's operational state (1 for the state it is in; all 0 while down).
# TYPE roost_cluster_member_oper_state gauge
roost_cluster_member_oper_state{member="12.E1.EE.16",state="active"} 1
roost_cluster_member_oper_state{member="12.E1.EE.16",state="standby"} 0
roost_cluster_member_oper_state{member="12.3A.A1.17",state="active"} 0
roost_cluster_member_oper_state{member="12.3A.A1.17",state="standby"} 0
# HELP roost_cluster_master_changes Times the master this controller recognises changed (to another member or to none).
# TYPE roost_cluster_master_changes counter
roost_cluster_master_changes_total 2
# HELP roost_cluster_hello_misses Times a peer's dead interval expired without a hello from it (it was declared lost).
# TYPE roost_cluster_hello_misses counter
roost_cluster_hello_misses_total{peer="12.3A.A1.17"} 1
# HELP roost_config_revision Revision number of this controller's running configuration.
# TYPE roost_config_revision gauge
roost_config_revision 7
# HELP roost_config_commits Commits requested at this controller, by outcome.
# TYPE roost_config_commits counter
roost_config_commits_total{result="ok"} 3
roost_config_commits_total{result="error"} 1
# HELP roost_config_commit_duration_seconds Time from a commit request at this controller to its outcome.
# TYPE roost_config_commit_duration_seconds histogram
# UNIT roost_config_commit_duration_seconds seconds
roost_config_commit_duration_seconds_sum 1.5
roost_config_commit_duration_seconds_count 4
roost_config_commit_duration_seconds_bucket{le="0.01"} 2
roost_config_commit_duration_seconds_bucket{le="0.1"} 3
roost_config_commit_duration_seconds_bucket{le="+Inf"} 4
# HELP roost_member_channel_received_datagrams Datagrams received on the member channel, by outcome: accepted, or the reason they were dropped.
# TYPE roost_member_channel_received_datagrams counter
roost_member_channel_received_datagrams_total{outcome="accepted"} 100
roost_member_channel_received_datagrams_total{outcome="authentication"} 4
roost_member_channel_received_datagrams_total{outcome="replay"} 3
roost_member_channel_received_datagrams_total{outcome="malformed"} 2
roost_member_channel_received_datagrams_total{outcome="protocol_version"} 1
# HELP roost_member_channel_sent_datagrams Datagrams sent on the member channel.
# TYPE roost_member_channel_sent_datagrams counter
roost_member_channel_sent_datagrams_total 120
# HELP roost_member_channel_send_errors Datagrams the member channel could not send.
# TYPE roost_member_channel_send_errors counter
roost_member_channel_send_errors_total 5
# HELP roost_join_attempts join-cluster attempts served by this controller, by result.
# TYPE roost_join_attempts counter
roost_join_attempts_total{result="accepted"} 1
roost_join_attempts_total{result="refused"} 2
roost_join_attempts_total{result="error"} 0
# HELP roost_login_failures Logins refused for a wrong user name, password or join-cluster proof, by face.
# TYPE roost_login_failures counter
roost_login_failures_total{face="ssh"} 0
roost_login_failures_total{face="api"} 1
roost_login_failures_total{face="join"} 2
# HELP roost_aps Access points this controller holds, by state.
# TYPE roost_aps gauge
roost_aps{state="adopted"} 3
roost_aps{state="joining"} 1
# HELP roost_cluster_licenses AP licenses pooled over the connected members, by kind.
# TYPE roost_cluster_licenses gauge
roost_cluster_licenses{kind="ap"} 0
roost_cluster_licenses{kind="aap"} 128
# HELP roost_cluster_licenses_used AP licenses the connected members use (APs they hold), by kind.
# TYPE roost_cluster_licenses_used gauge
roost_cluster_licenses_used{kind="ap"} 0
roost_cluster_licenses_used{kind="aap"} 4
# HELP roost_adoption_joins CAPWAP Join Requests this controller answered, by result.
# TYPE roost_adoption_joins counter
roost_adoption_joins_total{result="accepted"} 5
roost_adoption_joins_total{result="refused"} 1
# HELP roost_adoption_dropped_packets CAPWAP packets this controller dropped, by reason.
# TYPE roost_adoption_dropped_packets counter
roost_adoption_dropped_packets_total{reason="malformed"} 2
roost_adoption_dropped_packets_total{reason="unknown_session"} 1
roost_adoption_dropped_packets_total{reason="stale"} 0
roost_adoption_dropped_packets_total{reason="rate_limited"} 9
# HELP roost_adoption_fallbacks APs this controller handed back to their configured controller, by outcome.
# TYPE roost_adoption_fallbacks counter
roost_adoption_fallbacks_total{outcome="confirmed"} 200
roost_adoption_fallbacks_total{outcome="reset"} 1
# HELP roost_adoption_lost_notices Roost Controller Lost Requests sent to the APs of members that died.
# TYPE roost_adoption_lost_notices counter
roost_adoption_lost_notices_total 25
# HELP roost_adoption_timer_updates Configuration Update Requests bringing APs in Run their profile's new timers.
# TYPE roost_adoption_timer_updates counter
roost_adoption_timer_updates_total 3
# HELP roost_adoption_wlan_changes WLAN changes the APs answered, by result.
# TYPE roost_adoption_wlan_changes counter
roost_adoption_wlan_changes_total{result="confirmed"} 300
roost_adoption_wlan_changes_total{result="refused"} 2
# HELP roost_adoption_backlog APs waiting for a request of this controller or with one outstanding, by queue.
# TYPE roost_adoption_backlog gauge
roost_adoption_backlog{queue="wlan"} 4
roost_adoption_backlog{queue="fallback"} 6
# EOF
"#;
}
