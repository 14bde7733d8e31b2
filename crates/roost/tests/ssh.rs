//! Layer 4: OpenSSH (a client no one here wrote) against a real controller's CLI.

use roost_testkit as harness;

use harness::{ControllerProcess, Spec};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_roost"))
}

/// Port 22 as on a real controller when we may bind it, else 2222.
fn ssh_port() -> u16 {
    if nix::unistd::Uid::effective().is_root() {
        22
    } else {
        2222
    }
}

fn askpass(dir: &Path, password: &str) -> PathBuf {
    roost_testkit::askpass_script(dir, "askpass.sh", password).unwrap()
}

/// OpenSSH as `admin` with `password` (see [`roost_testkit::openssh`]), then `remote`.
fn ssh(
    dir: &Path,
    c: &ControllerProcess,
    password: &str,
    extra: &[&str],
    remote: Option<&str>,
) -> Command {
    let mut cmd = roost_testkit::openssh(c, &askpass(dir, password), extra);
    if let Some(r) = remote {
        cmd.arg(r);
    }
    cmd
}

fn start(dir: &Path, ip: &str) -> ControllerProcess {
    let mut s = Spec::new("vx9000-1", ip, &dir.join("c1"))
        .arg("--mac 52-54-00-E1-EE-16 --hostname vx9000-1");
    s.ssh_port = ssh_port();
    ControllerProcess::spawn(&bin(), s).unwrap()
}

#[test]
fn openssh_exec_with_password_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path(), "127.0.0.91");
    let out = ssh(
        dir.path(),
        &c,
        "admin123",
        &[
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
            "-o",
            "PubkeyAuthentication=no",
        ],
        Some("show cluster status"),
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Cluster Runtime Information"), "{stdout}");
    // A bad command makes the exec fail.
    let out = ssh(
        dir.path(),
        &c,
        "admin123",
        &["-o", "PubkeyAuthentication=no"],
        Some("show clusterz status"),
    )
    .output()
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // No terminal echoed the exec line: it is printed above the caret, which points at the
    // bad word.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "{text}");
    assert!(lines[0].ends_with("#show clusterz status"), "{text}");
    assert_eq!(lines[1].find('^'), lines[0].find("clusterz"), "{text}");
    assert_eq!(lines[2], "% Invalid input detected at '^' marker.");
    // Several lines, config modes included.
    let script = "configure terminal\nwlan viassh\nssid ViaSSH\ncommit\nend\nshow running-config";
    let out = ssh(
        dir.path(),
        &c,
        "admin123",
        &["-o", "PubkeyAuthentication=no"],
        Some(script),
    )
    .output()
    .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("wlan viassh"));
    // Wrong password: refused, nothing runs.
    let out = ssh(
        dir.path(),
        &c,
        "not-it",
        &["-o", "PubkeyAuthentication=no"],
        Some("show version"),
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(255));
}

#[test]
fn openssh_public_key_and_interactive_shell() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path(), "127.0.0.92");
    let key = dir.path().join("id_ed25519");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let mut parts = pubkey.split_whitespace();
    let line = format!(
        "user admin ssh-key {} {}",
        parts.next().unwrap(),
        parts.next().unwrap()
    );
    let r = c
        .exec(&["configure terminal", "user-management", &line, "commit"])
        .unwrap();
    assert!(!r.error, "{:?}", r.outputs);
    let keyarg = key.to_string_lossy().to_string();
    let out = ssh(
        dir.path(),
        &c,
        "wrong-password",
        &[
            "-i",
            &keyarg,
            "-o",
            "PasswordAuthentication=no",
            "-o",
            "IdentitiesOnly=yes",
        ],
        Some("show version"),
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Interactive: prompts, enable, ? help, exit.
    let mut child = ssh(
        dir.path(),
        &c,
        "admin123",
        &["-tt", "-o", "PubkeyAuthentication=no"],
        None,
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let pid = child.id();
    std::thread::spawn(move || {
        for l in [
            "enable\r",
            "show cluster ?",
            "\x15",
            "configure terminal\r",
            "self\r",
            "end\r",
            "exit\r",
        ] {
            std::thread::sleep(Duration::from_millis(400));
            let _ = stdin.write_all(l.as_bytes());
            let _ = stdin.flush();
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if child.try_wait().ok().flatten().is_none() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("vx9000-1>"), "{text}");
    assert!(text.contains("vx9000-1#"), "{text}");
    assert!(
        text.contains("members") && text.contains("history"),
        "help missing: {text}"
    );
    assert!(
        text.contains("vx9000-1(config-device-52-54-00-E1-EE-16)#"),
        "{text}"
    );
}

/// Every password form, through every face (OpenSSH exec, the API's exec and sessions,
/// `roost cli -c`), in errors, `show history` and the debug stream: no face and no log line
/// ever shows a password, and monitors see no password hash.
#[test]
fn no_face_shows_a_password_and_monitors_see_no_hash() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path(), "127.0.0.163");
    // Watch the debug stream while everything below runs.
    let client = harness::http_client().unwrap();
    let url = c.api_url();
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
    let watcher = post("/api/v1/sessions", serde_json::json!({"privileged": true}));
    let watcher = watcher["id"].as_str().unwrap().to_string();
    for line in ["debug cfgd cluster", "logging monitor debugging"] {
        post(
            &format!("/api/v1/sessions/{watcher}/exec"),
            serde_json::json!({ "line": line }),
        );
    }
    // A valid hash to type as `password 1 <hash>` (it must never be echoed either).
    let hash = harness::run(&c, &["show running-config"])
        .split_whitespace()
        .find(|w| w.starts_with("$argon2"))
        .unwrap()
        .to_string();
    let lines = |tag: &str| -> Vec<String> {
        vec![
            "configure terminal".into(),
            "user-management".into(),
            format!("user bob password Hunter2{tag}a role monitor"),
            format!("user bob pass 0 Hunter2{tag}b role monitor"),
            format!("user bob p 0 Hunter2{tag}c rolex monitor"),
            format!("user carl password 1 {hash} rolex monitor"),
            format!(
                "do join-cluster 127.0.0.99 user admin password Hunter2{tag}d level 1 mode standby"
            ),
            "commit".into(),
            "end".into(),
            format!("join-cluster 127.0.0.99 u admin pa Hunter2{tag}e l 1 m s"),
            format!("join-cl 127.0.0.99 user admin password Hunter2{tag}f level 9 mode standby"),
            "show history".into(),
        ]
    };
    let check = |face: &str, text: &str| {
        assert!(
            !text.contains("Hunter2"),
            "{face} shows a password:\n{text}"
        );
        assert!(!text.contains(&hash), "{face} shows a hash:\n{text}");
        assert!(
            text.contains("password ********"),
            "{face}: no masked echo:\n{text}"
        );
    };
    // OpenSSH exec.
    let out = ssh(
        dir.path(),
        &c,
        "admin123",
        &["-o", "PubkeyAuthentication=no"],
        Some(&lines("s").join("\n")),
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    check("ssh exec", &text);
    assert!(
        text.contains("  user bob password ******** role monitor\n"),
        "{text}"
    );
    // The API's exec.
    let l = lines("x");
    let cmds: Vec<&str> = l.iter().map(String::as_str).collect();
    let r = c.exec(&cmds).unwrap();
    check(
        "api exec",
        &serde_json::to_string(&serde_json::json!(r
            .outputs
            .iter()
            .map(|o| format!("{}\n{}", o.command, o.output))
            .collect::<Vec<_>>()))
        .unwrap()
        .replace("\\n", "\n"),
    );
    // An API session, line by line.
    let s = post("/api/v1/sessions", serde_json::json!({"privileged": true}));
    let id = s["id"].as_str().unwrap().to_string();
    let mut all = String::new();
    for line in lines("y") {
        let r = post(
            &format!("/api/v1/sessions/{id}/exec"),
            serde_json::json!({ "line": line }),
        );
        all += r["output"].as_str().unwrap();
    }
    check("api session", &all);
    // `roost cli -c`.
    let mut cmd = Command::new(bin());
    cmd.args([
        "cli",
        "--controller",
        "127.0.0.163",
        "--port",
        &c.spec.api_port.to_string(),
    ]);
    for l in lines("c") {
        cmd.arg("-c").arg(l);
    }
    let out = cmd
        .env("ROOST_PASSWORD", "admin123")
        .env("HOME", dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    check("roost cli -c", &text);
    // The debug stream saw the commits, never a password.
    let r = post(
        &format!("/api/v1/sessions/{watcher}/exec"),
        serde_json::json!({ "line": "show clock" }),
    );
    let stream = r["async"].to_string();
    assert!(stream.contains("cfgd.cluster"), "{stream}");
    assert!(
        !stream.contains("Hunter2") && !stream.contains(&hash),
        "{stream}"
    );
    // Monitors: the configuration without hashes, over the API and the CLI.
    let r = c
        .exec_as(
            "bob",
            "Hunter2cb",
            &["show running-config", "write terminal"],
        )
        .unwrap();
    for o in &r.outputs {
        assert!(!o.error, "{}", o.output);
        assert!(!o.output.contains("$argon2"), "{}", o.output);
        assert!(o
            .output
            .contains(" user admin password 1 ******** role superuser\n"));
    }
    let v: serde_json::Value = client
        .get(format!("{url}/api/v1/config/running"))
        .basic_auth("bob", Some("Hunter2cb"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(!v.to_string().contains("$argon2"), "{v}");
    // And the controller's log.
    let log = std::fs::read_to_string(&c.log).unwrap();
    assert!(!log.contains("Hunter2"), "{log}");
    assert!(!log.contains(&hash), "{log}");
}

/// A login flood from 127.0.0.230-242 (wrong passwords over the API and SSH) makes the flooding
/// addresses back off (429) and does not lock out the operator on 127.0.0.1.
#[test]
fn a_password_flood_from_other_addresses_does_not_lock_out_the_operator() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path(), "127.0.0.93");
    let api_url = format!("{}/api/v1/cluster/status", c.api_url());
    let client_from = |src: &str| {
        reqwest::blocking::Client::builder()
            .danger_accept_invalid_certs(true)
            .local_address(src.parse::<std::net::IpAddr>().unwrap())
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let backoffs = Arc::new(AtomicUsize::new(0));
    let mut flooders = Vec::new();
    for i in 0..8 {
        let (stop, backoffs, url) = (stop.clone(), backoffs.clone(), api_url.clone());
        let client = client_from(&format!("127.0.0.{}", 230 + i));
        flooders.push(std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                if let Ok(r) = client
                    .get(&url)
                    .basic_auth("admin", Some("Fl00d-pw-x"))
                    .send()
                {
                    if r.status() == 429 {
                        backoffs.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }));
    }
    let wrong_dir = dir.path().join("wrong");
    std::fs::create_dir_all(&wrong_dir).unwrap();
    let wrong = askpass(&wrong_dir, "Fl00d-pw-x");
    let mut ssh_flooders = Vec::new();
    for i in 0..3 {
        let stop = stop.clone();
        let (wrong, port, ip) = (wrong.clone(), c.spec.ssh_port, c.spec.ip.to_string());
        ssh_flooders.push(std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                let _ = Command::new("ssh")
                    .args([
                        "-b",
                        &format!("127.0.0.{}", 240 + i),
                        "-p",
                        &port.to_string(),
                    ])
                    .args([
                        "-o",
                        "StrictHostKeyChecking=no",
                        "-o",
                        "UserKnownHostsFile=/dev/null",
                    ])
                    .args(["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"])
                    .args([
                        "-o",
                        "PubkeyAuthentication=no",
                        "-o",
                        "NumberOfPasswordPrompts=3",
                    ])
                    .arg(format!("admin@{ip}"))
                    .arg("show version")
                    .env("SSH_ASKPASS", &wrong)
                    .env("SSH_ASKPASS_REQUIRE", "force")
                    .env("DISPLAY", ":0")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }));
    }
    // Bounded poll: the flooding addresses are backing off.
    let t = Instant::now();
    while backoffs.load(Ordering::SeqCst) < 20 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no backoff seen\n{}",
            c.log_tail(20)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The operator on 127.0.0.1 gets in over the API and SSH during the flood.
    let r = client_from("127.0.0.1")
        .get(&api_url)
        .basic_auth("admin", Some("admin123"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", c.log_tail(20));
    let ok_dir = dir.path().join("ok");
    std::fs::create_dir_all(&ok_dir).unwrap();
    let mut cmd = ssh(
        &ok_dir,
        &c,
        "admin123",
        &["-b", "127.0.0.1", "-o", "PubkeyAuthentication=no"],
        Some("show cluster status"),
    );
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        c.log_tail(20)
    );
    stop.store(true, Ordering::SeqCst);
    for f in flooders.into_iter().chain(ssh_flooders) {
        f.join().unwrap();
    }
    // Failed logins were logged with face and source, never the password.
    let log = std::fs::read_to_string(&c.log).unwrap();
    assert!(log.contains("127.0.0.230"), "{}", c.log_tail(20));
    assert!(!log.contains("Fl00d-pw-x"), "a password reached the log");
}
