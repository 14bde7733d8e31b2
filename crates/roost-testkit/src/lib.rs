//! Real `roost controller` processes for the demo, the benchmark and end-to-end tests:
//! spawned with their own data dirs on loopback addresses, driven through the HTTPS API,
//! stopped by PID (also on drop, so a failing test leaks nothing).
//!
//! A crate of its own (not a module of the binary pulled into tests by `#[path]`), so the
//! tests, `roost demo` and `roost bench` share one copy, compiled once.

// No unsafe code here: what needs a libc call lives in the daemon and the binaries.
#![forbid(unsafe_code)]

pub mod netns;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How to start one controller.
#[derive(Clone, Debug)]
pub struct Spec {
    pub name: String,
    pub ip: IpAddr,
    pub data_dir: PathBuf,
    pub ssh_port: u16,
    pub api_port: u16,
    pub admin_password: String,
    /// Extra flags (`--mac`, `--model`, `--hostname`, licenses…).
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Run inside this network namespace (`ip netns exec NS …`).
    pub netns: Option<String>,
}

impl Spec {
    pub fn new(name: &str, ip: &str, data_dir: &Path) -> Spec {
        Spec {
            name: name.to_string(),
            ip: ip.parse().expect("ip"),
            data_dir: data_dir.to_path_buf(),
            ssh_port: 2222,
            api_port: 8443,
            admin_password: "admin123".to_string(),
            args: Vec::new(),
            env: Vec::new(),
            netns: None,
        }
    }
    pub fn arg(mut self, a: &str) -> Spec {
        self.args.extend(a.split_whitespace().map(str::to_string));
        self
    }
}

/// One running controller process.
pub struct ControllerProcess {
    pub spec: Spec,
    pub child: Option<Child>,
    /// The `roost controller ready …` line's fields.
    pub ready: Vec<(String, String)>,
    pub log: PathBuf,
}

#[derive(Debug, Deserialize)]
pub struct ExecOutput {
    pub command: String,
    pub output: String,
    pub error: bool,
}

#[derive(Debug, Deserialize)]
pub struct ExecResponse {
    pub outputs: Vec<ExecOutput>,
    pub error: bool,
}

impl ExecResponse {
    pub fn text(&self) -> String {
        self.outputs
            .iter()
            .map(|o| o.output.as_str())
            .collect::<Vec<_>>()
            .join("")
    }
}

pub fn roost_bin() -> PathBuf {
    if let Ok(p) = std::env::var("ROOST_BIN") {
        return PathBuf::from(p);
    }
    std::env::current_exe().expect("current exe")
}

impl ControllerProcess {
    /// Starts the process and waits (bounded) for its ready line.
    pub fn spawn(bin: &Path, spec: Spec) -> Result<ControllerProcess> {
        std::fs::create_dir_all(spec.data_dir.parent().unwrap_or(Path::new("/tmp")))?;
        let log = spec.data_dir.with_extension("log");
        let logf = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let mut cmd = match &spec.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.arg("controller")
            .arg("--data-dir")
            .arg(&spec.data_dir)
            .arg("--ip")
            .arg(spec.ip.to_string())
            .arg("--ssh-port")
            .arg(spec.ssh_port.to_string())
            .arg("--api-port")
            .arg(spec.api_port.to_string())
            .args(&spec.args)
            .env("ROOST_ADMIN_PASSWORD", &spec.admin_password)
            .env(
                "RUST_LOG",
                std::env::var("ROOST_TEST_LOG")
                    .unwrap_or_else(|_| "info,roost::cluster=debug".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(logf));
        for (k, v) in &spec.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the child never blocks on a full pipe.
            let mut sink = String::new();
            while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        let mut c = ControllerProcess {
            spec,
            child: Some(child),
            ready: Vec::new(),
            log,
        };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.starts_with("roost controller ready") => {
                c.ready = line
                    .split_whitespace()
                    .filter_map(|kv| {
                        kv.split_once('=')
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                    })
                    .collect();
                Ok(c)
            }
            Ok(_) | Err(_) => {
                c.kill9();
                let log = std::fs::read_to_string(&c.log).unwrap_or_default();
                bail!("{} did not become ready:\n{}", c.spec.name, tail(&log, 30))
            }
        }
    }

    pub fn field(&self, k: &str) -> Option<&str> {
        self.ready
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn api_url(&self) -> String {
        format!("https://{}:{}", self.spec.ip, self.spec.api_port)
    }

    /// Runs CLI commands through the API (`POST /api/v1/exec`) as admin.
    pub fn exec(&self, commands: &[&str]) -> Result<ExecResponse> {
        self.exec_as("admin", &self.spec.admin_password.clone(), commands)
    }

    pub fn exec_as(&self, user: &str, password: &str, commands: &[&str]) -> Result<ExecResponse> {
        let client = http_client()?;
        let resp = client
            .post(format!("{}/api/v1/exec", self.api_url()))
            .basic_auth(user, Some(password))
            .json(&serde_json::json!({ "commands": commands }))
            .send()
            .with_context(|| format!("API of {}", self.spec.name))?;
        let status = resp.status();
        let body = resp.text()?;
        if !status.is_success() {
            bail!("API of {} answered {status}: {body}", self.spec.name);
        }
        serde_json::from_str(&body).with_context(|| format!("API answer {body}"))
    }

    pub fn get_json(&self, path: &str) -> Result<serde_json::Value> {
        let client = http_client()?;
        let resp = client
            .get(format!("{}{path}", self.api_url()))
            .basic_auth("admin", Some(&self.spec.admin_password))
            .send()?;
        if !resp.status().is_success() {
            bail!("GET {path}: {}", resp.status());
        }
        Ok(resp.json()?)
    }

    /// Operational state and master flag of this member, from the API.
    pub fn status(&self) -> Result<serde_json::Value> {
        self.get_json("/api/v1/cluster/status")
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then SIGKILL after a bounded wait.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log_tail(&self, n: usize) -> String {
        tail(&std::fs::read_to_string(&self.log).unwrap_or_default(), n)
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One HTTPS client per process: building one (TLS roots, connection pool) costs far more than
/// a request, and reusing it keeps connections alive, so measurements time Roost, not setup.
pub fn http_client() -> Result<reqwest::blocking::Client> {
    static CLIENT: std::sync::OnceLock<reqwest::blocking::Client> = std::sync::OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c.clone());
    }
    let c = reqwest::blocking::Client::builder()
        // The controllers' certificates are self-signed (made at first start).
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| anyhow!("HTTP client: {e}"))?;
    Ok(CLIENT.get_or_init(|| c).clone())
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Polls `f` until it returns Some, at most `timeout` (bounded loop).
pub fn wait_for<T>(
    timeout: Duration,
    every: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// For tests: runs commands through the API and panics (with the controller's log tail) if
/// any failed.
pub fn run(c: &ControllerProcess, cmds: &[&str]) -> String {
    let r = c
        .exec(cmds)
        .unwrap_or_else(|e| panic!("{}: {e:#}\n{}", c.spec.name, c.log_tail(30)));
    assert!(
        !r.error,
        "{} failed: {:#?}\n{}",
        c.spec.name,
        r.outputs,
        c.log_tail(40)
    );
    r.text()
}

/// For tests: `GET /api/v1/cluster/status`.
pub fn status(c: &ControllerProcess) -> serde_json::Value {
    c.status()
        .unwrap_or_else(|e| panic!("{}: {e:#}\n{}", c.spec.name, c.log_tail(30)))
}

/// Is the cluster steady: every member connected to all the others, one agreed master, the
/// same configuration revision everywhere?
pub fn is_steady(cs: &[&ControllerProcess]) -> bool {
    let Some(st) = cs
        .iter()
        .map(|c| c.status().ok())
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    let n = cs.len() as u64 - 1;
    st.iter().all(|s| {
        s["master"].is_string()
            && s["master"] == st[0]["master"]
            && s["config_revision"] == st[0]["config_revision"]
            && s["connected_members"].as_u64() == Some(n)
    })
}

/// For tests: waits (at most 15 s) until the cluster is steady ([`is_steady`]); panics with
/// the members' states and logs otherwise.
pub fn wait_steady(cs: &[&ControllerProcess]) {
    let ok = wait_for(Duration::from_secs(15), Duration::from_millis(20), || {
        is_steady(cs).then_some(())
    });
    if ok.is_none() {
        for c in cs {
            eprintln!(
                "--- {} status {:?}\n{}",
                c.spec.name,
                c.status().ok(),
                c.log_tail(30)
            );
        }
        panic!("cluster did not settle");
    }
}

/// An `SSH_ASKPASS` script in `dir` that answers `password` (OpenSSH reads passwords only from
/// a terminal or such a program). `name` tells scripts of several passwords apart.
pub fn askpass_script(dir: &Path, name: &str, password: &str) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\nprintf '%s\\n' '{password}'\n"))
        .with_context(|| format!("writing {}", p.display()))?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700))?;
    Ok(p)
}

/// OpenSSH (`ssh`, a client nobody here wrote) to `c` as `admin`, answering the password with
/// `askpass` ([`askpass_script`]): no host-key checks or known-hosts file (each test's
/// controller has a fresh key), one password prompt, a 10 s connect timeout. `options` go
/// before the destination; add the remote command, if any, with `.arg`.
pub fn openssh(c: &ControllerProcess, askpass: &Path, options: &[&str]) -> Command {
    let mut cmd = Command::new("ssh");
    cmd.args(options)
        .args(["-p", &c.spec.ssh_port.to_string()])
        .args(["-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null"])
        .args(["-o", "LogLevel=ERROR"])
        .args(["-o", "ConnectTimeout=10", "-o", "NumberOfPasswordPrompts=1"])
        .arg(format!("admin@{}", c.spec.ip))
        .env("SSH_ASKPASS", askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .stdin(Stdio::null());
    cmd
}

/// A child process (a `roost ap` fleet, a DHCP client) killed and reaped when the test lets
/// go of it, also when it panics half way.
pub struct KillOnDrop(Option<std::process::Child>);

impl KillOnDrop {
    pub fn new(child: std::process::Child) -> KillOnDrop {
        KillOnDrop(Some(child))
    }

    pub fn id(&self) -> Option<u32> {
        self.0.as_ref().map(|c| c.id())
    }

    /// The child itself, to wait for its output; the guard lets go of it.
    pub fn take(&mut self) -> std::process::Child {
        self.0.take().expect("the child is still guarded")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
