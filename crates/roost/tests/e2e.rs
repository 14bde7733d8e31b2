//! Layer 3: real `roost controller` processes on loopback addresses, following the seed's
//! how-to step by step. Each test uses its own 127.0.0.x addresses so tests run in parallel.

use roost_testkit as harness;

use harness::{run, status, wait_for, wait_steady, ControllerProcess, Spec};
use std::path::PathBuf;
use std::time::Duration;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_roost"))
}

struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        Lab {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn spec(&self, name: &str, ip: &str, mac: &str) -> Spec {
        Spec::new(name, ip, &self.dir.path().join(name))
            .arg(&format!("--mac {mac} --hostname {name}"))
    }
    fn start(&self, name: &str, ip: &str, mac: &str, extra: &str) -> ControllerProcess {
        ControllerProcess::spawn(&bin(), self.spec(name, ip, mac).arg(extra)).unwrap()
    }
}

fn configure_primary(c: &ControllerProcess, extra: &[&str]) {
    let mut cmds = roost_config::howto::SEED_PRIMARY_STEPS.to_vec();
    cmds.push("cluster force-configured-state-delay 2 seconds");
    cmds.extend_from_slice(extra);
    cmds.push("commit write");
    run(c, &cmds);
}

fn join(c: &ControllerProcess, primary: &ControllerProcess, mode: &str) -> harness::ExecResponse {
    let cmd = format!(
        "join-cluster {} user admin password admin123 level 1 mode {mode}",
        primary.spec.ip
    );
    c.exec(&[&cmd]).unwrap()
}

#[test]
fn seed_howto_join_show_and_sync() {
    let lab = Lab::new();
    let c1 = lab.start(
        "vx9000-1",
        "127.0.0.21",
        "52-54-00-E1-EE-16",
        "--aap-licenses 128 --adsec",
    );
    let c2 = lab.start("vx9000-2", "127.0.0.22", "52-54-00-3A-A1-17", "");
    configure_primary(&c1, &[]);
    let r = join(&c2, &c1, "standby");
    assert!(!r.error, "{:#?}\n{}", r.outputs, c1.log_tail(30));
    assert_eq!(
        r.text(),
        "... connecting to 127.0.0.21\n... applying cluster configuration\n... committing the changes\n... saving the changes\n[OK]\n"
    );
    wait_steady(&[&c1, &c2]);
    wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        (status(&c2)["oper_state"] == "standby" && status(&c1)["oper_state"] == "active")
            .then_some(())
    })
    .expect("primary active, secondary standby");

    // show cluster members: both rows, master on vx9000-1, self on the own row.
    let m1 = run(&c1, &["show cluster members"]);
    let row1 = m1
        .lines()
        .find(|l| l.contains("vx9000-1"))
        .unwrap()
        .to_string();
    let row2 = m1
        .lines()
        .find(|l| l.contains("vx9000-2"))
        .unwrap()
        .to_string();
    assert!(
        row1.contains("12.E1.EE.16")
            && row1.contains("52-54-00-E1-EE-16")
            && row1.contains("True")
            && row1.contains("active")
            && row1.trim_end().ends_with("self"),
        "{m1}"
    );
    assert!(
        row2.contains("12.3A.A1.17")
            && row2.contains("False")
            && row2.contains("standby")
            && row2.trim_end().ends_with("ago"),
        "{m1}"
    );
    assert!(
        m1.contains("HOSTNAME")
            && m1.contains("MEMBER-ID")
            && m1.contains("OPERATIONAL-STATE")
            && m1.contains("LAST-SEEN")
    );

    // show cluster status on the standby: the seed's labels, pooled AAP licenses.
    let s2 = run(&c2, &["show cluster status"]);
    let protocol = format!(
        "Protocol version             : {}",
        roost_wire::PROTOCOL_VERSION
    );
    for want in [
        "Cluster Runtime Information",
        protocol.as_str(),
        "Cluster operational state    : standby",
        "AP license                   : 0",
        "AAP license                  : 128",
        "Max AP adoption capacity     : 25600",
        "Number of connected member(s): 1",
    ] {
        assert!(s2.contains(want), "missing {want:?} in\n{s2}");
    }
    // show licenses: AP/AAP pooled, ADSEC per member (vx9000-1 has it, vx9000-2 does not).
    let l2 = run(&c2, &["show licenses"]);
    assert!(l2.contains("AAP license (pooled)         : 128"), "{l2}");
    assert!(
        l2.contains("ADSEC license                : not installed"),
        "{l2}"
    );
    let row = l2
        .lines()
        .find(|l| l.contains("vx9000-1") && l.contains("12.E1.EE.16"))
        .expect("member row");
    assert!(row.contains("128") && row.contains("installed"), "{l2}");
    // show cluster configuration on both.
    let k1 = run(&c1, &["show cluster configuration"]);
    assert!(
        k1.contains("Name                         : WING-CLUSTER"),
        "{k1}"
    );
    assert!(k1.contains("Configured Mode              : Active"), "{k1}");
    assert!(k1.contains("Master Priority              : 250"), "{k1}");
    assert!(
        k1.contains("Force configured state       : Enabled"),
        "{k1}"
    );
    let k2 = run(&c2, &["show cluster configuration"]);
    assert!(
        k2.contains("Configured Mode              : Standby"),
        "{k2}"
    );
    assert!(k2.contains("Master Priority              : 128"), "{k2}");
    assert!(
        k2.contains("Name                         : WING-CLUSTER"),
        "{k2}"
    );

    // history: the seed's events.
    let h = run(&c2, &["show cluster history"]);
    for ev in [
        "start-election",
        "is-active",
        "is-standby",
        "start-config-sync",
        "config-update-success",
    ] {
        assert!(h.contains(ev), "history lacks {ev}:\n{h}");
    }
    assert!(
        h.contains("12.E1.EE.16 won election and is the cluster master"),
        "{h}"
    );
    assert!(h.contains("Configured for standby, become standby"), "{h}");
    assert!(
        h.contains("config sync succeeded") && h.contains("successfully applied config"),
        "{h}"
    );

    // Config sync: a WLAN committed on the standby appears on the primary, and vice versa.
    run(
        &c2,
        &[
            "configure terminal",
            "wlan corp",
            "ssid Corp",
            "vlan 10",
            "commit",
        ],
    );
    let rc1 = run(&c1, &["show running-config"]);
    assert!(
        rc1.contains("wlan corp") && rc1.contains(" ssid Corp") && rc1.contains(" vlan 10"),
        "{rc1}"
    );
    run(
        &c1,
        &["configure terminal", "wlan guest", "ssid Guest", "commit"],
    );
    let ok = wait_for(Duration::from_secs(3), Duration::from_millis(10), || {
        run(&c2, &["show running-config"])
            .contains("wlan guest")
            .then_some(())
    });
    assert!(ok.is_some(), "wlan guest did not reach vx9000-2");
    // The joiner saved the cluster configuration as its startup-config.
    assert!(run(&c2, &["show startup-config"]).contains("WING-CLUSTER"));
}

#[test]
fn failover_and_force_configured_state_failback() {
    let lab = Lab::new();
    let mut c1 = lab.start("vx9000-1", "127.0.0.31", "52-54-00-E1-EE-31", "");
    let c2 = lab.start("vx9000-2", "127.0.0.32", "52-54-00-3A-A1-32", "");
    configure_primary(&c1, &[]);
    assert!(!join(&c2, &c1, "standby").error);
    wait_steady(&[&c1, &c2]);
    wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        (status(&c2)["oper_state"] == "standby").then_some(())
    })
    .expect("standby");
    let t = std::time::Instant::now();
    c1.kill9();
    wait_for(Duration::from_secs(5), Duration::from_millis(5), || {
        (status(&c2)["oper_state"] == "active").then_some(())
    })
    .expect("standby took over");
    let took = t.elapsed();
    assert!(took < Duration::from_secs(3), "failover took {took:?}");
    let h = run(&c2, &["show cluster history"]);
    assert!(h.contains("Primary down, Failed over to active"), "{h}");
    // The primary comes back: after the force-configured-state delay (2 s) vx9000-2 goes back
    // to standby.
    let spec = c1.spec.clone();
    let c1 = ControllerProcess::spawn(&bin(), spec).unwrap();
    wait_steady(&[&c1, &c2]);
    let back = wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
        (status(&c2)["oper_state"] == "standby").then_some(())
    });
    assert!(
        back.is_some(),
        "no failback:\n{}",
        run(&c2, &["show cluster history"])
    );
    assert_eq!(status(&c1)["oper_state"], "active");
}

#[test]
fn without_force_configured_state_the_failed_over_member_stays_active() {
    let lab = Lab::new();
    let mut c1 = lab.start("vx9000-1", "127.0.0.41", "52-54-00-E1-EE-41", "");
    let c2 = lab.start("vx9000-2", "127.0.0.42", "52-54-00-3A-A1-42", "");
    run(
        &c1,
        &[
            "configure terminal",
            "self",
            "cluster name LAB",
            "cluster master-priority 200",
            "commit write",
        ],
    );
    assert!(!join(&c2, &c1, "standby").error);
    wait_steady(&[&c1, &c2]);
    wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        (status(&c2)["oper_state"] == "standby").then_some(())
    })
    .expect("standby");
    c1.kill9();
    wait_for(Duration::from_secs(5), Duration::from_millis(10), || {
        (status(&c2)["oper_state"] == "active").then_some(())
    })
    .expect("failover");
    let c1 = ControllerProcess::spawn(&bin(), c1.spec.clone()).unwrap();
    wait_steady(&[&c1, &c2]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(status(&c2)["oper_state"], "active");
}

#[test]
fn refused_joins_change_nothing() {
    let lab = Lab::new();
    let c1 = lab.start("vx9000-1", "127.0.0.51", "52-54-00-E1-EE-51", "");
    configure_primary(&c1, &[]);
    let before1 = run(&c1, &["show running-config"]);

    let check = |joiner: &ControllerProcess, cmd: &str, want: &str| {
        let before2 = run(joiner, &["show running-config"]);
        let r = joiner.exec(&[cmd]).unwrap();
        assert!(r.error, "join should fail: {cmd}: {}", r.text());
        let text = r.text();
        assert!(text.contains(want), "{cmd}: expected {want:?} in\n{text}");
        let errors: Vec<&str> = text.lines().filter(|l| l.starts_with('%')).collect();
        assert_eq!(errors.len(), 1, "one clear line: {text}");
        assert!(!text.contains("[OK]"));
        assert!(
            !text.contains("secret-pw") && !format!("{:?}", r.outputs).contains("secret-pw"),
            "password echoed: {text}"
        );
        assert_eq!(
            run(joiner, &["show running-config"]),
            before2,
            "joiner changed"
        );
        assert_eq!(
            run(&c1, &["show running-config"]),
            before1,
            "primary changed"
        );
    };
    let c2 = lab.start("vx9000-2", "127.0.0.52", "52-54-00-3A-A1-52", "");
    check(
        &c2,
        "join-cluster 127.0.0.51 user admin password secret-pw level 1 mode standby",
        "authentication failed",
    );
    check(
        &c2,
        "join-cluster 127.0.0.59 user admin password admin123 level 1 mode standby",
        "cannot reach",
    );
    for c in [&c1, &c2] {
        let log = std::fs::read_to_string(&c.log).unwrap_or_default();
        assert!(
            !log.contains("secret-pw"),
            "password logged by {}",
            c.spec.name
        );
    }
    let mut odd = lab.spec("vx9000-3", "127.0.0.53", "52-54-00-3A-A1-53");
    odd.env
        .push(("ROOST_SOFTWARE_VERSION".into(), "9.9.9".into()));
    let c3 = ControllerProcess::spawn(&bin(), odd).unwrap();
    check(
        &c3,
        "join-cluster 127.0.0.51 user admin password admin123 level 1 mode standby",
        "version mismatch",
    );
    let c4 = lab.start(
        "nx7500-4",
        "127.0.0.54",
        "52-54-00-3A-A1-54",
        "--model NX7500",
    );
    check(
        &c4,
        "join-cluster 127.0.0.51 user admin password admin123 level 1 mode standby",
        "model mismatch",
    );
    // Level mismatch: the primary's links are level 2.
    run(
        &c1,
        &[
            "configure terminal",
            "self",
            "cluster member ip 127.0.0.58 level 2",
            "commit",
        ],
    );
    let before1 = run(&c1, &["show running-config"]);
    let check2 = |joiner: &ControllerProcess, cmd: &str, want: &str, before1: &str| {
        let r = joiner.exec(&[cmd]).unwrap();
        assert!(r.error && r.text().contains(want), "{cmd}: {}", r.text());
        assert_eq!(run(&c1, &["show running-config"]), before1);
    };
    check2(
        &c2,
        "join-cluster 127.0.0.51 user admin password admin123 level 1 mode standby",
        "level mismatch",
        &before1,
    );
    // Cluster VLAN links are not allowed.
    run(
        &c1,
        &[
            "configure terminal",
            "self",
            "no cluster member ip 127.0.0.58",
            "cluster member vlan 10",
            "commit",
        ],
    );
    let before1 = run(&c1, &["show running-config"]);
    check2(
        &c2,
        "join-cluster 127.0.0.51 user admin password admin123 level 1 mode standby",
        "vlan",
        &before1,
    );
    // After fixing the primary, the same joiner is accepted.
    run(
        &c1,
        &[
            "configure terminal",
            "self",
            "no cluster member vlan 10",
            "commit",
        ],
    );
    let r = join(&c2, &c1, "standby");
    assert!(!r.error, "{}", r.text());
    wait_steady(&[&c1, &c2]);
}

#[test]
fn static_configuration_forms_the_same_cluster() {
    let lab = Lab::new();
    let c1 = lab.start(
        "vx9000-1",
        "127.0.0.61",
        "52-54-00-E1-EE-61",
        "--cluster-secret lab-secret",
    );
    let c2 = lab.start(
        "vx9000-2",
        "127.0.0.62",
        "52-54-00-3A-A1-62",
        "--cluster-secret lab-secret",
    );
    // vx9000-2 starts alone, so it fails over to active; force-configured-state (as the seed
    // recommends) sends it back to standby once the cluster forms.
    run(
        &c1,
        &[
            "configure terminal",
            "self",
            "cluster name STATIC",
            "cluster master-priority 250",
            "cluster force-configured-state",
            "cluster force-configured-state-delay 1 seconds",
            "cluster member ip 127.0.0.62 level 1",
            "commit write",
        ],
    );
    run(
        &c2,
        &[
            "configure terminal",
            "self",
            "cluster name STATIC",
            "cluster mode standby",
            "cluster member ip 127.0.0.61 level 1",
            "commit write",
        ],
    );
    wait_steady(&[&c1, &c2]);
    let ok = wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
        let m = run(&c2, &["show cluster members"]);
        let s = status(&c2);
        (m.contains("vx9000-1") && m.contains("vx9000-2") && s["oper_state"] == "standby")
            .then_some(())
    });
    assert!(
        ok.is_some(),
        "{}\n{}",
        run(&c2, &["show cluster members"]),
        run(&c2, &["show running-config"])
    );
    // Both device sections survived: the loser re-registers its own once it has the master's
    // configuration (a commit of its own, a moment after it turned standby).
    let _ = wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
        let rc = run(&c1, &["show running-config"]);
        (rc.contains("52-54-00-E1-EE-61") && rc.contains("52-54-00-3A-A1-62")).then_some(())
    });
    let rc = run(&c1, &["show running-config"]);
    assert!(
        rc.contains("52-54-00-E1-EE-61") && rc.contains("52-54-00-3A-A1-62"),
        "{rc}"
    );
}

#[test]
fn three_members_elect_one_master_and_survive_its_death() {
    let lab = Lab::new();
    let mut c1 = lab.start("vx9000-1", "127.0.0.71", "52-54-00-E1-EE-71", "");
    let c2 = lab.start("vx9000-2", "127.0.0.72", "52-54-00-3A-A1-72", "");
    let c3 = lab.start("vx9000-3", "127.0.0.73", "52-54-00-3A-A1-73", "");
    configure_primary(&c1, &[]);
    assert!(!join(&c2, &c1, "active").error);
    assert!(!join(&c3, &c1, "standby").error);
    wait_steady(&[&c1, &c2, &c3]);
    let m = run(&c3, &["show cluster members"]);
    assert_eq!(m.lines().filter(|l| l.contains("True")).count(), 1, "{m}");
    assert_eq!(status(&c3)["master"], "12.E1.EE.71");
    c1.kill9();
    wait_steady(&[&c2, &c3]);
    let s2 = status(&c2);
    assert!(
        s2["master"] == "12.3A.A1.72" || s2["master"] == "12.3A.A1.73",
        "{s2}"
    );
    run(
        &c3,
        &["configure terminal", "wlan three", "ssid Three", "commit"],
    );
    assert!(run(&c2, &["show running-config"]).contains("wlan three"));
}

#[test]
fn monitor_user_can_read_not_configure_and_bad_input_changes_nothing() {
    let lab = Lab::new();
    let c1 = lab.start("vx9000-1", "127.0.0.81", "52-54-00-E1-EE-81", "");
    run(
        &c1,
        &[
            "configure terminal",
            "user-management",
            "user noc password noc-pass role monitor",
            "commit",
        ],
    );
    let before = run(&c1, &["show running-config"]);
    assert!(!before.contains("noc-pass"), "plain password in config");
    let r = c1
        .exec_as("noc", "noc-pass", &["show cluster status"])
        .unwrap();
    assert!(!r.error);
    let r = c1
        .exec_as(
            "noc",
            "noc-pass",
            &[
                "configure terminal",
                "self",
                "cluster master-priority 9",
                "commit",
            ],
        )
        .unwrap();
    assert!(r.error);
    assert!(c1
        .exec_as("noc", "wrong", &["show cluster status"])
        .is_err());
    for bad in [
        "cluster master-priority 0",
        "cluster master-priority 256",
        "cluster force-configured-state-delay 2",
        "cluster force-configured-state-delay 1801",
        "cluster radius-counter-db-sync-time 0",
        "cluster mode sideways",
    ] {
        let r = c1
            .exec(&["configure terminal", "self", bad, "commit"])
            .unwrap();
        assert!(r.error, "{bad} accepted");
    }
    assert_eq!(run(&c1, &["show running-config"]), before);
    // Garbage on the member channel is dropped; the controller keeps answering.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..200u32 {
        let junk: Vec<u8> = (0..(i % 90 + 1)).map(|j| (j * 31 + i) as u8).collect();
        sock.send_to(&junk, "127.0.0.81:24576").unwrap();
    }
    let mut hdr = b"RST1".to_vec();
    hdr.push(roost_wire::PROTOCOL_VERSION);
    hdr.extend_from_slice(&[0x12, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
    hdr.extend_from_slice(&[0u8; 40]);
    sock.send_to(&hdr, "127.0.0.81:24576").unwrap();
    assert_eq!(status(&c1)["oper_state"], "active");
    assert_eq!(run(&c1, &["show running-config"]), before);
    // Counters reach the published snapshot within its refresh interval (200 ms).
    let count_in = |stats: &str, label: &str| -> u64 {
        stats
            .lines()
            .find(|l| l.contains(label))
            .and_then(|l| l.rsplit(':').next()?.trim().parse().ok())
            .unwrap_or(0)
    };
    let mut stats = run(&c1, &["show cluster traffic"]);
    for _ in 0..30 {
        if count_in(&stats, "Datagrams received") >= 201 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        stats = run(&c1, &["show cluster traffic"]);
    }
    let count = |label: &str| count_in(&stats, label);
    assert_eq!(count("Datagrams received"), 201, "{stats}");
    assert_eq!(count("Datagrams accepted"), 0, "{stats}");
    assert_eq!(
        count("Dropped, authentication") + count("Dropped, malformed"),
        201,
        "{stats}"
    );
}

#[test]
fn debug_cfgd_cluster_streams_into_the_session() {
    let lab = Lab::new();
    let c1 = lab.start("vx9000-1", "127.0.0.85", "52-54-00-E1-EE-85", "");
    let client = harness::http_client().unwrap();
    let url = c1.api_url();
    let post = |path: &str, body: serde_json::Value| -> serde_json::Value {
        client
            .post(format!("{url}{path}"))
            .basic_auth("admin", Some("admin123"))
            .json(&body)
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let s = post("/api/v1/sessions", serde_json::json!({"privileged": true}));
    let id = s["id"].as_str().unwrap().to_string();
    for line in ["debug cfgd cluster", "logging monitor debugging"] {
        let r = post(
            &format!("/api/v1/sessions/{id}/exec"),
            serde_json::json!({ "line": line }),
        );
        assert_eq!(r["error"], false, "{r}");
    }
    // A commit in another session produces cluster debug lines in this one.
    run(
        &c1,
        &["configure terminal", "wlan dbg", "ssid Dbg", "commit"],
    );
    let lines = wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let r = post(
            &format!("/api/v1/sessions/{id}/exec"),
            serde_json::json!({ "line": "show clock" }),
        );
        let a: Vec<String> = r["async"]
            .as_array()?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        a.iter().any(|l| l.contains("CONFIG_REVISION")).then_some(a)
    })
    .expect("debug lines streamed");
    assert!(
        lines.iter().all(|l| l.contains("cfgd.cluster")),
        "{lines:?}"
    );
}

#[test]
fn contradicting_flags_are_refused_and_change_nothing() {
    let lab = Lab::new();
    let dir = lab.dir.path().join("c");
    let mut c = ControllerProcess::spawn(
        &bin(),
        Spec::new("c", "127.0.0.95", &dir).arg("--mac 52-54-00-E1-EE-95 --model RFS4000"),
    )
    .unwrap();
    c.terminate();
    let startup = std::fs::read_to_string(dir.join("startup-config")).unwrap();
    let try_start = |extra: &[&str], password: Option<&str>| {
        let mut cmd = std::process::Command::new(bin());
        cmd.args(["controller", "--data-dir"])
            .arg(&dir)
            .args([
                "--ip",
                "127.0.0.95",
                "--ssh-port",
                "2222",
                "--api-port",
                "8443",
            ])
            .args(extra);
        cmd.env_remove("ROOST_ADMIN_PASSWORD");
        if let Some(p) = password {
            cmd.env("ROOST_ADMIN_PASSWORD", p);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = try_start(&["--mac", "52-54-00-00-00-01"], None);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("--mac 52-54-00-00-00-01 contradicts the data dir"),
        "{err}"
    );
    let (code, err) = try_start(&["--model", "NX7500"], None);
    assert_eq!(code, Some(1));
    assert!(err.contains("--model NX7500 contradicts"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("startup-config")).unwrap(),
        startup
    );
    // A new data dir needs the admin password.
    let (code, err) = {
        let out = std::process::Command::new(bin())
            .args(["controller", "--data-dir"])
            .arg(lab.dir.path().join("fresh"))
            .args([
                "--ip",
                "127.0.0.96",
                "--ssh-port",
                "2222",
                "--api-port",
                "8443",
            ])
            .env_remove("ROOST_ADMIN_PASSWORD")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    assert_eq!(code, Some(1));
    assert!(err.contains("needs --admin-password"), "{err}");
    // The saved identity still rules: it starts as before without the flags.
    let c = ControllerProcess::spawn(&bin(), Spec::new("c", "127.0.0.95", &dir)).unwrap();
    assert!(run(&c, &["show version"]).contains("RFS4000"));
}

#[test]
fn a_peer_on_another_version_never_becomes_a_member() {
    let lab = Lab::new();
    let c1 = lab.start(
        "vx9000-1",
        "127.0.0.97",
        "52-54-00-E1-EE-97",
        "--cluster-secret same",
    );
    let mut odd = lab
        .spec("vx9000-2", "127.0.0.98", "52-54-00-3A-A1-98")
        .arg("--cluster-secret same");
    odd.env
        .push(("ROOST_SOFTWARE_VERSION".into(), "9.9.9".into()));
    let c2 = ControllerProcess::spawn(&bin(), odd).unwrap();
    run(
        &c1,
        &[
            "configure terminal",
            "self",
            "cluster member ip 127.0.0.98 level 1",
            "commit",
        ],
    );
    run(
        &c2,
        &[
            "configure terminal",
            "self",
            "cluster member ip 127.0.0.97 level 1",
            "commit",
        ],
    );
    // Their datagrams authenticate (same key) and arrive, but hellos of another release are
    // ignored: no member, no master change, no config sync, for as long as we watch.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < deadline {
        for c in [&c1, &c2] {
            let s = status(c);
            assert_eq!(s["connected_members"], 0, "{}: {s}", c.spec.name);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let stats = run(&c1, &["show cluster traffic"]);
    assert!(
        stats
            .lines()
            .any(|l| l.contains("Datagrams accepted") && !l.trim_end().ends_with(": 0")),
        "{stats}"
    );
    assert!(!run(&c1, &["show running-config"]).contains("52-54-00-3A-A1-98"));
}

/// A tmpfs of `size` mounted on `point` for one test (root), unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// None (skip) when not root; CI runs as root and must not skip.
    fn mount(point: &std::path::Path, size: &str) -> Option<Tmpfs> {
        if !nix::unistd::Uid::effective().is_root() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI runs as root: the full-disk test must run"
            );
            eprintln!("skipping: mounting a tmpfs needs root");
            return None;
        }
        std::fs::create_dir_all(point).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "roost-e2e"])
            .arg(point)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount a tmpfs on {}", point.display());
        Some(Tmpfs(point.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: goes even if a process still has a file open there.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Writes `path` until the filesystem is full (bounded by the tmpfs size).
fn fill_disk(path: &std::path::Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0x5Au8; 64 * 1024];
    for _ in 0..4096 {
        if f.write_all(&chunk).is_err() {
            break;
        }
    }
    for _ in 0..4096 {
        if f.write_all(&chunk[..512]).is_err() {
            break;
        }
    }
    let _ = f.sync_all();
}

/// Commands that add wlans `fill-<round>-0..n` (about 60 bytes of configuration each).
fn wlan_batch(round: usize, n: usize) -> Vec<String> {
    let mut cmds = vec!["configure terminal".to_string()];
    for i in 0..n {
        cmds.push(format!("wlan fill-{round}-{i}"));
        cmds.push(format!("ssid Full-Disk-Test-{round}-{i}"));
        cmds.push("exit".into());
    }
    cmds.push("commit".into());
    cmds
}

fn exec_strings(c: &ControllerProcess, cmds: &[String]) -> harness::ExecResponse {
    let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
    c.exec(&refs)
        .unwrap_or_else(|e| panic!("{}: {e:#}\n{}", c.spec.name, c.log_tail(30)))
}

#[test]
fn full_disk_refuses_the_commit_keeps_running_and_recovers() {
    let lab = Lab::new();
    let point = lab.dir.path().join("vx9000-1");
    let Some(_fs) = Tmpfs::mount(&point, "16m") else {
        return;
    };
    let mut c1 = lab.start("vx9000-1", "127.0.0.141", "52-54-00-E1-EE-16", "");
    wait_for(Duration::from_secs(10), Duration::from_millis(20), || {
        status(&c1)["master"].is_string().then_some(())
    })
    .expect("a lone member becomes master");
    // A configuration of ~100 KB, so that every revision needs pages of its own.
    let r = exec_strings(&c1, &wlan_batch(0, 400));
    assert!(!r.error, "{}", c1.log_tail(30));
    let mut acknowledged = vec![0usize];

    fill_disk(&point.join("filler"));
    let mut revision = status(&c1)["config_revision"].as_u64().unwrap();
    // redb's free pages still take a few revisions; bounded, the first refusal.
    let mut refused = None;
    for round in 1..=60 {
        let r = exec_strings(&c1, &wlan_batch(round, 100));
        if r.error {
            refused = Some((round, r));
            break;
        }
        acknowledged.push(round);
        revision = status(&c1)["config_revision"].as_u64().unwrap();
    }
    let (round, r) = refused.expect("a commit refused on the full disk");
    let commit = r.outputs.last().unwrap();
    assert_eq!(commit.command, "commit");
    assert!(commit.error);
    assert_eq!(
        commit.output,
        "% Error: cannot save revision: no space left on device\n"
    );

    // Still running, and nothing of the refused commit anywhere.
    let st = status(&c1);
    assert!(st["master"].is_string(), "{st}");
    assert_eq!(st["config_revision"].as_u64(), Some(revision), "{st}");
    let running = run(&c1, &["show running-config"]);
    assert!(
        !running.contains(&format!("wlan fill-{round}-")),
        "refused wlans applied"
    );
    assert!(running.contains(&format!("wlan fill-{}-99", acknowledged.last().unwrap())));
    // The refusal reaches the commit's session as the member task handles the store's
    // answer; the history row is in the snapshot it publishes after that input (on a loaded
    // machine, a moment later).
    wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        run(&c1, &["show cluster history"])
            .contains("config-update-failed")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("{}", run(&c1, &["show cluster history"])));
    // A second try on the still-full disk: refused again, the controller still up.
    let again = exec_strings(&c1, &wlan_batch(round, 100));
    assert!(again.error);
    assert_eq!(
        again.outputs.last().unwrap().output,
        "% Error: cannot save revision: no space left on device\n"
    );
    assert!(c1.log_tail(200).contains("cannot save revision"));

    // Space returns: the next commit succeeds without a restart.
    std::fs::remove_file(point.join("filler")).unwrap();
    let r = exec_strings(&c1, &wlan_batch(round, 100));
    assert!(!r.error, "{:#?}\n{}", r.outputs.last(), c1.log_tail(30));
    acknowledged.push(round);

    // A restart keeps every acknowledged commit.
    c1.terminate();
    let c1 = ControllerProcess::spawn(&bin(), c1.spec.clone()).unwrap();
    let running = run(&c1, &["show running-config"]);
    for n in &acknowledged {
        assert!(
            running.contains(&format!("wlan fill-{n}-0\n"))
                && running.contains(&format!("wlan fill-{n}-99\n")),
            "acknowledged commit {n} lost after the restart"
        );
    }
    drop(c1);
}

#[test]
fn full_disk_on_a_standby_does_not_acknowledge_and_catches_up_when_space_returns() {
    let lab = Lab::new();
    let point = lab.dir.path().join("vx9000-2");
    let Some(_fs) = Tmpfs::mount(&point, "16m") else {
        return;
    };
    let c1 = lab.start("vx9000-1", "127.0.0.143", "52-54-00-E1-EE-16", "");
    let c2 = lab.start("vx9000-2", "127.0.0.144", "52-54-00-3A-A1-17", "");
    configure_primary(&c1, &[]);
    let r = join(&c2, &c1, "standby");
    assert!(!r.error, "{:#?}\n{}", r.outputs, c2.log_tail(30));
    wait_steady(&[&c1, &c2]);
    let r = exec_strings(&c1, &wlan_batch(0, 400));
    assert!(!r.error, "{}", c1.log_tail(30));
    wait_steady(&[&c1, &c2]);

    fill_disk(&point.join("filler"));
    let revision = |c: &ControllerProcess| status(c)["config_revision"].as_u64().unwrap();
    // Commits on the primary (whose disk is fine) until the standby cannot keep up (bounded).
    let mut last = 0;
    let mut behind = false;
    for round in 1..=60 {
        let r = exec_strings(&c1, &wlan_batch(round, 100));
        assert!(!r.error, "the primary commits: {:#?}", r.outputs.last());
        last = round;
        let want = revision(&c1);
        let caught_up = wait_for(Duration::from_secs(2), Duration::from_millis(20), || {
            (revision(&c2) == want).then_some(())
        });
        if caught_up.is_none() {
            behind = true;
            break;
        }
    }
    assert!(behind, "the standby kept saving on a full disk");
    // The standby is up, has not applied what it could not save, and says why.
    assert!(revision(&c2) < revision(&c1));
    let running = run(&c2, &["show running-config"]);
    assert!(!running.contains(&format!("wlan fill-{last}-99\n")));
    let history = run(&c2, &["show cluster history"]);
    assert!(history.contains("config-update-failed"), "{history}");
    assert!(c2.log_tail(400).contains("cannot save revision"));

    // Space returns: the master's next pushes are saved and acknowledged.
    std::fs::remove_file(point.join("filler")).unwrap();
    wait_steady(&[&c1, &c2]);
    let running = run(&c2, &["show running-config"]);
    assert!(
        running.contains(&format!("wlan fill-{last}-99\n")),
        "standby at revision {} of {}:\n{}",
        revision(&c2),
        revision(&c1),
        c2.log_tail(40)
    );
}

#[test]
fn a_damaged_database_is_one_clear_line_at_start_not_a_panic() {
    let lab = Lab::new();
    let mut c = lab.start("vx9000-1", "127.0.0.145", "52-54-00-E1-EE-16", "");
    run(&c, &["configure terminal", "wlan kept", "commit"]);
    c.terminate();
    let db = c.spec.data_dir.join("roost.redb");
    let bytes = std::fs::read(&db).unwrap();
    for (case, damaged) in [
        ("truncated", bytes[..bytes.len() / 2].to_vec()),
        ("garbage", vec![0xA5u8; bytes.len()]),
    ] {
        std::fs::write(&db, &damaged).unwrap();
        let out = std::process::Command::new(bin())
            .arg("controller")
            .arg("--data-dir")
            .arg(&c.spec.data_dir)
            .args([
                "--ip",
                "127.0.0.145",
                "--ssh-port",
                "2222",
                "--api-port",
                "8443",
            ])
            .env("ROOST_ADMIN_PASSWORD", "admin123")
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{case}: started on a damaged database"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{case}: {stderr}");
        assert!(
            stderr.contains(&format!("{} is damaged", db.display())),
            "{case}: {stderr}"
        );
        assert!(stderr.contains("join-cluster"), "{case}: {stderr}");
    }
}

/// `roost demo` does what the README says: APs adopted by the active, the active killed, every
/// AP on the survivor, the killed controller back and every AP home. Then, as with
/// `roost demo 2>&1 | tee log` and Ctrl-C: the terminal's SIGINT ends `tee` too, so the demo's
/// output pipe is gone when it stops. It must still stop its controllers and its fleet, and
/// exit.
#[test]
fn demo_shows_failover_and_fallback_and_stops_on_ctrl_c_after_its_output_pipe_is_gone() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin())
        .args([
            "demo",
            "--primary-ip",
            "127.0.0.165",
            "--secondary-ip",
            "127.0.0.166",
        ])
        .args(["--ssh-port", "2265", "--api-port", "8465"])
        .args(["--aps", "100", "--ap-base-ip", "127.27.0.1"])
        .args(["--kill-active-after", "1", "--fallback-delay", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    // Bounded: the demo gives up by itself (start and settle timeouts) and closes its output.
    for _ in 0..1000 {
        let mut l = String::new();
        if out.read_line(&mut l).unwrap_or(0) == 0 {
            break;
        }
        seen += &l;
        if l.contains("Press Ctrl-C") {
            break;
        }
    }
    assert!(seen.contains("Press Ctrl-C"), "{seen}");
    assert!(seen.contains("all 100 APs in Run on vx9000-1"), "{seen}");
    assert!(seen.contains("every AP (100) in Run on vx9000-2"), "{seen}");
    assert!(seen.contains("every AP back on vx9000-1"), "{seen}");
    assert!(seen.contains("APs reset for fallback       : 0"), "{seen}");
    let fleet: i32 = seen
        .split("--base-ip 127.27.0.1  (pid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no fleet pid: {seen}"));
    // As if `tee` had died: nobody reads the demo's stdout or stderr any more.
    drop(out);
    drop(child.stderr.take());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = wait_for(Duration::from_secs(30), Duration::from_millis(50), || {
        child.try_wait().ok().flatten()
    });
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("roost demo hung after Ctrl-C with its output pipe closed");
    };
    assert_eq!(status.code(), Some(130));
    // Its fleet and its controllers are stopped.
    assert!(
        !std::path::Path::new(&format!("/proc/{fleet}")).exists(),
        "the fleet (pid {fleet}) still runs"
    );
    for addr in ["127.0.0.165:8465", "127.0.0.166:8465"] {
        assert!(
            std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(1))
                .is_err(),
            "{addr} still answers"
        );
    }
}

/// join-cluster's `fingerprint <sha256>` pins the primary's certificate: a wrong pin is refused
/// in the TLS handshake, before the joiner sends anything (the primary never sees a join
/// request); the right one joins. The joiner's own device section (the seed's Step 2:
/// `interface vlan` + `ip address`, `ip default-gateway`, committed and written) is carried into
/// the cluster, in the running and the startup configuration of both members.
#[test]
fn join_pins_the_fingerprint_and_keeps_the_joiners_device_section() {
    let lab = Lab::new();
    let c1 = lab.start("vx9000-1", "127.0.0.131", "52-54-00-E1-EE-31", "");
    let c2 = lab.start("vx9000-2", "127.0.0.132", "52-54-00-3A-A1-32", "");
    configure_primary(&c1, &[]);
    run(
        &c2,
        &[
            "configure terminal",
            "self",
            "interface vlan 13",
            "ip address 127.0.0.132/24",
            "exit",
            "ip default-gateway 127.0.0.254",
            "commit write",
        ],
    );
    let before1 = run(&c1, &["show running-config"]);
    let before2 = run(&c2, &["show running-config"]);
    let fp = c1.field("api-fingerprint").unwrap().to_string();
    assert_eq!(fp.len(), 64);

    let wrong = "ab".repeat(32);
    let r = c2
        .exec(&[&format!(
            "join-cluster 127.0.0.131 user admin password admin123 level 1 mode standby fingerprint {wrong}"
        )])
        .unwrap();
    let text = r.text();
    assert!(r.error && text.contains("fingerprint"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with('%')).count(),
        1,
        "{text}"
    );
    assert_eq!(
        run(&c1, &["show running-config"]),
        before1,
        "primary changed"
    );
    assert_eq!(
        run(&c2, &["show running-config"]),
        before2,
        "joiner changed"
    );
    // Nothing reached the join protocol on the primary: only the failed TLS handshake.
    let log1 = std::fs::read_to_string(&c1.log).unwrap_or_default();
    assert!(
        !log1.contains("join-cluster refused") && !log1.contains("authentication failed"),
        "{log1}"
    );

    // A malformed pin is refused by the CLI itself.
    let r = c2
        .exec(&["join-cluster 127.0.0.131 user admin password admin123 level 1 mode standby fingerprint xyz"])
        .unwrap();
    assert!(
        r.error && r.text().contains("64 hex digits"),
        "{}",
        r.text()
    );

    // The right pin (upper case with colons, as a person may copy it) joins.
    let colons = fp
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|p| std::str::from_utf8(p).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    let r = c2
        .exec(&[&format!(
            "join-cluster 127.0.0.131 user admin password admin123 level 1 mode standby fingerprint {colons}"
        )])
        .unwrap();
    assert!(!r.error, "{}\n{}", r.text(), c1.log_tail(30));
    assert!(r.text().ends_with("[OK]\n"), "{}", r.text());
    wait_steady(&[&c1, &c2]);

    let section = "vx9000 52-54-00-3A-A1-32\n";
    for c in [&c1, &c2] {
        wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
            let rc = run(c, &["show running-config"]);
            (rc.contains(" interface vlan 13\n  ip address 127.0.0.132/24\n")
                && rc.contains(" ip default-gateway 127.0.0.254\n"))
            .then_some(())
        })
        .unwrap_or_else(|| {
            panic!(
                "{}: joiner's device section lost:\n{}",
                c.spec.name,
                run(c, &["show running-config"])
            )
        });
    }
    let rc2 = run(&c2, &["show running-config"]);
    let own = &rc2[rc2.find(section).expect("joiner's section")..];
    assert!(own.contains(" cluster mode standby\n"), "{rc2}");
    assert!(own.contains(" cluster name WING-CLUSTER\n"), "{rc2}");
    let startup2 = run(&c2, &["show startup-config"]);
    assert!(
        startup2.contains(" interface vlan 13\n  ip address 127.0.0.132/24\n")
            && startup2.contains(" ip default-gateway 127.0.0.254\n"),
        "{startup2}"
    );
}
