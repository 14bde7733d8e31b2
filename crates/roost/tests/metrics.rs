//! `GET /metrics` of real controllers, read by an independent parser: Python's
//! `prometheus_client` (Debian's `python3-prometheus-client`, which `.ci/run` installs), both
//! its Prometheus text (0.0.4) parser and its strict OpenMetrics parser.

use roost_testkit as harness;

use harness::{http_client, run, status, wait_for, wait_steady, ControllerProcess, Spec};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_roost"))
}

/// The exposition formats a scrape can ask for.
#[derive(Copy, Clone, Debug)]
enum Format {
    Text,
    OpenMetrics,
}

/// One scrape as the Python parser saw it: family → type, and every sample.
#[derive(Debug)]
struct Parsed {
    families: BTreeMap<String, String>,
    samples: BTreeMap<(String, BTreeMap<String, String>), f64>,
}

impl Parsed {
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples.get(&(name.to_string(), labels)).copied()
    }

    /// A sample that must be there.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in {:#?}", self.samples))
    }
}

/// A Python 3 that has `prometheus_client` (pyenv's `python3` may not see Debian's package).
fn python() -> String {
    for p in ["python3", "/usr/bin/python3"] {
        let ok = Command::new(p)
            .args([
                "-c",
                "import prometheus_client.parser, prometheus_client.openmetrics.parser",
            ])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return p.to_string();
        }
    }
    panic!(
        "no python3 with prometheus_client: apt-get install python3-prometheus-client (.ci/run does)"
    );
}

const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families as text
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
parse = openmetrics if sys.argv[1] == "openmetrics" else text
out = {"families": {}, "samples": []}
for f in parse(sys.stdin.read()):
    out["families"][f.name] = f.type
    for s in f.samples:
        out["samples"].append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;

/// Bucket bounds as numbers: the 0.0.4 encoder writes `le="1"`, OpenMetrics `le="1.0"`.
fn canonical(key: &str, value: &str) -> String {
    match value.parse::<f64>() {
        Ok(f) if key == "le" && f.is_infinite() => "+Inf".to_string(),
        Ok(f) if key == "le" => f.to_string(),
        _ => value.to_string(),
    }
}

fn parse(text: &str, format: Format) -> Parsed {
    use std::io::Write;
    let arg = match format {
        Format::Text => "text",
        Format::OpenMetrics => "openmetrics",
    };
    let mut child = Command::new(python())
        .args(["-c", PARSE, arg])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the {arg} parser refused the scrape: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let families = v["families"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, t)| (k.clone(), t.as_str().unwrap().to_string()))
        .collect();
    let samples = v["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let labels = s[1]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), canonical(k, v.as_str().unwrap())))
                .collect();
            (
                (s[0].as_str().unwrap().to_string(), labels),
                s[2].as_f64().unwrap(),
            )
        })
        .collect();
    Parsed { families, samples }
}

fn get_metrics(c: &ControllerProcess, user: &str, password: &str, format: Format) -> (u16, String) {
    let mut req = http_client()
        .unwrap()
        .get(format!("{}/metrics", c.api_url()))
        .basic_auth(user, Some(password));
    if let Format::OpenMetrics = format {
        // What Prometheus sends.
        req = req.header(
            "accept",
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        );
    }
    let r = req.send().unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let body = r.text().unwrap();
    if status == 200 {
        let want = match format {
            Format::Text => "text/plain; version=0.0.4",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0",
        };
        assert!(ct.as_deref().is_some_and(|t| t.starts_with(want)), "{ct:?}");
    }
    (status, body)
}

/// Scrapes `c` as the monitor user in both formats; both parsers must see the same samples.
fn scrape(c: &ControllerProcess) -> Parsed {
    let (s, text) = get_metrics(c, "noc", "noc-pw", Format::Text);
    assert_eq!(s, 200, "{text}");
    let (s, om) = get_metrics(c, "noc", "noc-pw", Format::OpenMetrics);
    assert_eq!(s, 200, "{om}");
    let (a, b) = (parse(&text, Format::Text), parse(&om, Format::OpenMetrics));
    // The classic parser names counter families without `_total`, info families as gauges;
    // the samples must agree except for moments between the two scrapes (datagram counts).
    for ((name, labels), v) in &a.samples {
        if name.starts_with("roost_member_channel") {
            continue;
        }
        assert_eq!(
            b.samples.get(&(name.clone(), labels.clone())),
            Some(v),
            "{name}{labels:?}\n--- text\n{text}\n--- openmetrics\n{om}"
        );
    }
    assert_eq!(
        b.families.get("roost_build").map(String::as_str),
        Some("info")
    );
    assert_eq!(
        b.families
            .get("roost_config_commit_duration_seconds")
            .map(String::as_str),
        Some("histogram")
    );
    assert_eq!(
        b.families.get("roost_config_commits").map(String::as_str),
        Some("counter")
    );
    a
}

fn member_ids(c: &ControllerProcess) -> BTreeMap<String, String> {
    let rows = c.get_json("/api/v1/cluster/members").unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["hostname"].as_str().unwrap().to_string(),
                r["member_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn metrics_of_a_running_cluster_parse_and_count_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let spec = |name: &str, ip: &str, mac: &str| {
        Spec::new(name, ip, &dir.path().join(name)).arg(&format!("--mac {mac} --hostname {name}"))
    };
    let c1 =
        ControllerProcess::spawn(&bin(), spec("mx-1", "127.0.0.171", "52-54-00-71-00-01")).unwrap();
    let mut c2 =
        ControllerProcess::spawn(&bin(), spec("mx-2", "127.0.0.172", "52-54-00-71-00-02")).unwrap();
    run(
        &c1,
        &[
            "configure terminal",
            "self",
            "cluster name METRICS",
            "cluster mode active",
            "cluster master-priority 250",
            "exit",
            "user-management",
            "user noc password noc-pw role monitor",
            "commit write",
        ],
    );

    // Without credentials, or with wrong ones: 401, like every other resource.
    let (s, _) = get_metrics(&c1, "", "", Format::Text);
    assert_eq!(s, 401);
    let r = http_client()
        .unwrap()
        .get(format!("{}/metrics", c1.api_url()))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);

    // A join with a wrong password, then the right one.
    let join = |pw: &str| {
        c2.exec(&[&format!(
            "join-cluster 127.0.0.171 user admin password {pw} level 1 mode standby"
        )])
        .unwrap()
    };
    assert!(join("not-the-password").error);
    let r = join("admin123");
    assert!(!r.error, "{:#?}\n{}", r.outputs, c1.log_tail(30));
    wait_steady(&[&c1, &c2]);
    let ids = member_ids(&c1);
    let (id1, id2) = (ids["mx-1"].clone(), ids["mx-2"].clone());

    let before1 = scrape(&c1);
    let before2 = scrape(&c2);
    // A commit at each controller (c2's goes through the master, c1), and a failed API login.
    run(
        &c1,
        &[
            "configure terminal",
            "self",
            "cluster master-priority 240",
            "commit",
        ],
    );
    run(
        &c2,
        &[
            "configure terminal",
            "self",
            "cluster master-priority 100",
            "commit",
        ],
    );
    assert!(c1
        .exec_as("admin", "wrong-password", &["show clock"])
        .is_err());
    wait_steady(&[&c1, &c2]);

    let m1 = scrape(&c1);
    let m2 = scrape(&c2);
    let delta = |after: &Parsed, before: &Parsed, name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    for (after, before) in [(&m1, &before1), (&m2, &before2)] {
        // One commit requested at each; the latency histogram saw it.
        let ok = [("result", "ok")];
        assert_eq!(delta(after, before, "roost_config_commits_total", &ok), 1.0);
        assert_eq!(
            delta(
                after,
                before,
                "roost_config_commit_duration_seconds_count",
                &[]
            ),
            1.0
        );
        assert_eq!(
            after.value("roost_config_commit_duration_seconds_count", &[]),
            after.value("roost_config_commits_total", &ok)
                + after.value("roost_config_commits_total", &[("result", "error")])
        );
        assert_eq!(
            after.value(
                "roost_config_commit_duration_seconds_bucket",
                &[("le", "+Inf")]
            ),
            after.value("roost_config_commit_duration_seconds_count", &[])
        );
        assert!(after.value("roost_config_commit_duration_seconds_sum", &[]) > 0.0);
        let protocol = roost_wire::PROTOCOL_VERSION.to_string();
        assert_eq!(
            after.value(
                "roost_build_info",
                &[
                    ("version", env!("CARGO_PKG_VERSION")),
                    ("protocol_version", protocol.as_str())
                ]
            ),
            1.0
        );
        assert!(after.value("roost_cluster_master_changes_total", &[]) >= 1.0);
        assert!(
            after.value(
                "roost_member_channel_received_datagrams_total",
                &[("outcome", "accepted")]
            ) > 0.0
        );
        for outcome in ["authentication", "replay", "malformed", "protocol_version"] {
            after.value(
                "roost_member_channel_received_datagrams_total",
                &[("outcome", outcome)],
            );
        }
        assert!(after.value("roost_member_channel_sent_datagrams_total", &[]) > 0.0);
        // Both members up, c1 the active master, c2 a standby.
        for (id, master, active) in [(&id1, 1.0, 1.0), (&id2, 0.0, 0.0)] {
            let m = [("member", id.as_str())];
            assert_eq!(after.value("roost_cluster_member_up", &m), 1.0);
            assert_eq!(after.value("roost_cluster_member_master", &m), master);
            let state = |s| after.value("roost_cluster_member_oper_state", &[m[0], ("state", s)]);
            assert_eq!((state("active"), state("standby")), (active, 1.0 - active));
        }
    }
    // The revision is the one the API reports.
    for (m, c) in [(&m1, &c1), (&m2, &c2)] {
        assert_eq!(
            m.value("roost_config_revision", &[]),
            status(c)["config_revision"].as_u64().unwrap() as f64
        );
    }
    // The failed API login, and the join attempts, on c1 (the primary).
    assert_eq!(
        delta(
            &m1,
            &before1,
            "roost_login_failures_total",
            &[("face", "api")]
        ),
        1.0
    );
    assert_eq!(
        m1.value("roost_login_failures_total", &[("face", "join")]),
        1.0
    );
    assert_eq!(
        m1.value("roost_login_failures_total", &[("face", "ssh")]),
        0.0
    );
    assert_eq!(
        m1.value("roost_join_attempts_total", &[("result", "accepted")]),
        1.0
    );
    assert_eq!(
        m1.value("roost_join_attempts_total", &[("result", "refused")]),
        1.0
    );
    assert_eq!(
        m2.value("roost_join_attempts_total", &[("result", "accepted")]),
        0.0
    );

    // c2 dies: c1 misses its hellos once and shows it down.
    c2.kill9();
    let m = wait_for(Duration::from_secs(10), Duration::from_millis(200), || {
        let m = scrape(&c1);
        (m.get("roost_cluster_member_up", &[("member", id2.as_str())]) == Some(0.0)).then_some(m)
    })
    .unwrap_or_else(|| panic!("c1 never showed c2 down\n{}", c1.log_tail(30)));
    assert_eq!(
        m.value(
            "roost_cluster_hello_misses_total",
            &[("peer", id2.as_str())]
        ),
        1.0
    );
    assert_eq!(
        m.value("roost_cluster_member_master", &[("member", id2.as_str())]),
        0.0
    );
    assert_eq!(
        m.value("roost_cluster_member_up", &[("member", id1.as_str())]),
        1.0
    );
    assert_eq!(
        m.get(
            "roost_cluster_hello_misses_total",
            &[("peer", id1.as_str())]
        ),
        None
    );
}
