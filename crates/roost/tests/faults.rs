//! Layer 3, faults the hostile test found: real `roost controller` processes on loopback
//! (127.0.0.151-159), paused with SIGSTOP and resumed with SIGCONT.

use roost_testkit as harness;

use harness::{run, status, wait_for, wait_steady, ControllerProcess, Spec};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The binary under test (`ROOST_BIN` overrides, e.g. to show an older build fails).
fn bin() -> PathBuf {
    std::env::var_os("ROOST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_roost")))
}

fn start(dir: &std::path::Path, name: &str, ip: &str, mac: &str) -> ControllerProcess {
    let spec = Spec::new(name, ip, &dir.join(name)).arg(&format!("--mac {mac} --hostname {name}"));
    ControllerProcess::spawn(&bin(), spec).unwrap()
}

/// These tests load the machine on purpose (a stopped process, a login flood): one at a time,
/// so that one's load is not another's fault.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn signal(c: &ControllerProcess, s: Signal) {
    kill(Pid::from_raw(c.pid().expect("running") as i32), s).unwrap();
}

fn join(c: &ControllerProcess, primary: &ControllerProcess) {
    let cmd = format!(
        "join-cluster {} user admin password admin123 level 1 mode standby",
        primary.spec.ip
    );
    let r = c.exec(&[&cmd]).unwrap();
    assert!(!r.error, "{:#?}", r.outputs);
}

/// A dead interval of one second on every member: these tests load a 2-core machine on
/// purpose (debug builds, the rest of the suite, a flood), where a synchronous fsync on the
/// member thread can delay a hello by a few hundred ms; the stall itself (2 s) is far longer.
fn slow_dead_interval(cs: &[&ControllerProcess]) {
    for c in cs {
        let out = run(
            c,
            &[
                "configure terminal",
                "self",
                "cluster dead-interval 1000",
                "commit",
            ],
        );
        assert!(!out.contains("% "), "{out}");
    }
}

fn commit_wlan(c: &ControllerProcess, name: &str) -> String {
    run(
        c,
        &[
            "configure terminal",
            &format!("wlan {name}"),
            &format!("ssid {name}"),
            "commit",
        ],
    )
}

/// Item 1 of the hostile test, as it was reproduced: three members, the master (priority 250)
/// is stopped; 0.6 s later a standby commits (a new master is elected and acknowledges it);
/// 1.4 s later the old master resumes with overdue timers and a full socket, and a session on
/// it commits at once. Both wlans must end up in every member's running configuration, and
/// nothing may be superseded: the resumed master hears its peers before judging them, and
/// fast-forwards to the lineage that extends its own.
#[test]
fn acknowledged_commit_survives_a_master_stall() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let c1 = start(dir.path(), "vx9000-1", "127.0.0.151", "52-54-00-E1-EE-51");
    let c2 = start(dir.path(), "vx9000-2", "127.0.0.152", "52-54-00-3A-A1-52");
    let c3 = start(dir.path(), "vx9000-3", "127.0.0.153", "52-54-00-3A-A1-53");
    run(
        &c1,
        &[
            "configure terminal",
            "self",
            "cluster name STALL",
            "cluster mode active",
            "cluster master-priority 250",
            "commit write",
        ],
    );
    join(&c2, &c1);
    join(&c3, &c1);
    wait_steady(&[&c1, &c2, &c3]);
    slow_dead_interval(&[&c1, &c2, &c3]);
    wait_steady(&[&c1, &c2, &c3]);
    assert_eq!(status(&c1)["master"], "12.E1.EE.51");

    let stopped = Instant::now();
    signal(&c1, Signal::SIGSTOP);
    std::thread::sleep(Duration::from_millis(600));
    let out = commit_wlan(&c2, "x");
    assert!(!out.contains("% "), "commit during the stall: {out}");
    let until = stopped + Duration::from_millis(2000);
    std::thread::sleep(until.saturating_duration_since(Instant::now()));
    signal(&c1, Signal::SIGCONT);
    std::thread::sleep(Duration::from_millis(27));
    let out = commit_wlan(&c1, "y");
    assert!(!out.contains("% "), "commit right after the resume: {out}");

    let members = [&c1, &c2, &c3];
    let ok = wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
        members
            .iter()
            .all(|c| {
                let rc = run(c, &["show running-config"]);
                rc.contains("wlan x") && rc.contains("wlan y")
            })
            .then_some(())
    });
    assert!(
        ok.is_some(),
        "{}\n{}\n{}",
        run(&c1, &["show running-config"]),
        run(&c2, &["show cluster history"]),
        c1.log_tail(40)
    );
    wait_steady(&members);
    for c in members {
        let h = run(c, &["show cluster history"]);
        assert!(!h.contains("superseded"), "{}: {h}", c.spec.name);
        let rv = run(c, &["show cluster revisions"]);
        assert!(!rv.contains("superseded"), "{}: {rv}", c.spec.name);
    }
    // The resumed master did not declare its peers lost from its own stall.
    let h1 = run(&c1, &["show cluster history"]);
    assert!(
        !h1.lines()
            .any(|l| l.contains("vx9000-1") && l.contains("member-down")),
        "{h1}"
    );
}

/// Item 11 of the hostile test: a joiner that ranks higher (same priority, lower member id)
/// used to take mastership from the live master as a "competing master". Mastership is
/// sticky: the joiner follows the live master, and no master steps down.
#[test]
fn a_higher_ranked_joiner_does_not_take_mastership() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let c1 = start(dir.path(), "vx9000-1", "127.0.0.155", "52-54-00-FF-FF-55");
    let c2 = start(dir.path(), "vx9000-2", "127.0.0.156", "52-54-00-00-00-56");
    run(
        &c1,
        &[
            "configure terminal",
            "self",
            "cluster name STICKY",
            "cluster mode active",
            "commit write",
        ],
    );
    wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        (status(&c1)["master"] == "12.FF.FF.55").then_some(())
    })
    .expect("c1 is master alone");
    join(&c2, &c1);
    wait_steady(&[&c1, &c2]);
    for c in [&c1, &c2] {
        assert_eq!(status(c)["master"], "12.FF.FF.55", "{}", c.spec.name);
    }
    std::thread::sleep(Duration::from_millis(500));
    for c in [&c1, &c2] {
        assert_eq!(status(c)["master"], "12.FF.FF.55", "{}", c.spec.name);
        let h = run(c, &["show cluster history"]);
        assert!(!h.contains("stepping down"), "{}: {h}", c.spec.name);
    }
    // `show cluster members` lists the master first (as in the seed), on every member, and a
    // lost member stays listed, as down.
    let rows = |c: &ControllerProcess| -> Vec<String> {
        run(c, &["show cluster members"])
            .lines()
            .filter(|l| l.contains("vx9000-"))
            .map(str::to_string)
            .collect()
    };
    let m2 = rows(&c2);
    assert!(
        m2[0].contains("vx9000-1") && m2[0].contains("True"),
        "{m2:?}"
    );
    let mut c2 = c2;
    c2.kill9();
    let down = wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        let m = rows(&c1);
        (m.len() == 2 && m[1].contains("vx9000-2") && m[1].contains("down")).then_some(m)
    });
    assert!(down.is_some(), "{:?}", rows(&c1));
}

/// Items 2 and 3 of the hostile test: wrong-password floods (API Basic credentials, and junk
/// on the join port) from other loopback addresses while another member commits through the
/// master. Every acknowledged commit must be on both members afterwards, the standby must not
/// fail over, and the right user still gets in during the flood.
#[test]
fn login_flood_loses_no_commit_and_forces_no_failover() {
    let _serial = one_at_a_time();
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let c1 = start(dir.path(), "vx9000-1", "127.0.0.157", "52-54-00-E1-EE-57");
    let c2 = start(dir.path(), "vx9000-2", "127.0.0.158", "52-54-00-3A-A1-58");
    run(
        &c1,
        &[
            "configure terminal",
            "self",
            "cluster name FLOOD",
            "cluster mode active",
            "cluster master-priority 250",
            "commit write",
        ],
    );
    join(&c2, &c1);
    wait_steady(&[&c1, &c2]);
    slow_dead_interval(&[&c1, &c2]);
    wait_steady(&[&c1, &c2]);

    let stop = Arc::new(AtomicBool::new(false));
    let mut flooders = Vec::new();
    for k in 0..40u8 {
        let stop = stop.clone();
        let url = format!("{}/api/v1/cluster/status", c1.api_url());
        let join_addr = format!("{}:5349", c1.spec.ip);
        flooders.push(std::thread::spawn(move || {
            let src: std::net::IpAddr = format!("127.0.0.{}", 210 + k).parse().unwrap();
            let client = reqwest::blocking::Client::builder()
                .danger_accept_invalid_certs(true)
                .local_address(src)
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                n += 1;
                if k % 4 == 0 {
                    // Junk on the join port.
                    if let Ok(mut s) = std::net::TcpStream::connect(&join_addr) {
                        let _ = s.write_all(&[0x16, 3, 1, 0, 200, 1, 0, 0]);
                    }
                } else {
                    let _ = client
                        .get(&url)
                        .basic_auth("admin", Some(format!("wrong{n}")))
                        .send();
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut wlans = Vec::new();
    for i in 0..40 {
        let name = format!("f{i}");
        let out = commit_wlan(&c2, &name);
        assert!(!out.contains("% "), "commit {name} during the flood: {out}");
        wlans.push(name);
    }
    let t = Instant::now();
    let s = c1
        .status()
        .expect("the right user gets in during the flood");
    let login = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    for f in flooders {
        f.join().unwrap();
    }
    assert!(s["master"].is_string());
    assert!(
        login < Duration::from_secs(5),
        "legitimate login took {login:?}"
    );
    wait_steady(&[&c1, &c2]);
    for c in [&c1, &c2] {
        let rc = run(c, &["show running-config"]);
        for w in &wlans {
            assert!(
                rc.contains(&format!("wlan {w}\n")),
                "{}: wlan {w} missing",
                c.spec.name
            );
        }
        let h = run(c, &["show cluster history"]);
        let late = |c: &ControllerProcess| -> String {
            c.log_tail(5000)
                .lines()
                .filter(|l| l.contains("late") || l.contains(" lost"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(
            !h.contains("Failed over") && !h.contains("member-down"),
            "{}: {h}\nc1: {}\nc2: {}",
            c.spec.name,
            late(&c1),
            late(&c2)
        );
    }
}
