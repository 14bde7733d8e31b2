//! End-to-end tests with the real OpenSSH client (`/usr/bin/ssh`) against `roost_ssh::serve`
//! and a fake `CliService`.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use roost_config::{
    CliService, CliSession, Completion, LoginError, LoginFuture, LoginSource, Output, Role,
};
use roost_ssh::{load_or_create_host_key, SshServerConfig};

const PASSWORD: &str = "s3cret-pw";
const HOST: &str = "rfs4000-1";
const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Fake CLI service

#[derive(Default)]
struct Fake {
    /// Public key accepted for "admin" (`ssh-ed25519 AAAA…`).
    pubkey: Mutex<Option<String>>,
    /// Every key string the server asked about.
    keys_seen: Mutex<Vec<String>>,
    password_checks: AtomicUsize,
    /// The source of every password check.
    sources: Mutex<Vec<LoginSource>>,
    opened: AtomicUsize,
    live: Arc<AtomicUsize>,
    /// (privileged at open, line) for every executed line.
    lines: Arc<Mutex<Vec<(bool, String)>>>,
}

impl CliService for Fake {
    fn check_password(&self, user: &str, password: &str, source: LoginSource) -> LoginFuture {
        self.password_checks.fetch_add(1, Ordering::SeqCst);
        self.sources.lock().unwrap().push(source);
        let r = match (user, password) {
            ("admin", PASSWORD) => Ok(Role::Superuser),
            ("monitor", PASSWORD) => Ok(Role::Monitor),
            _ => Err(LoginError::Rejected),
        };
        Box::pin(std::future::ready(r))
    }

    fn check_public_key(&self, user: &str, key_openssh: &str) -> Option<Role> {
        self.keys_seen.lock().unwrap().push(key_openssh.to_string());
        let accepted = self.pubkey.lock().unwrap();
        (user == "admin" && accepted.as_deref() == Some(key_openssh)).then_some(Role::Superuser)
    }

    fn open_session(
        &self,
        _user: &str,
        _role: Role,
        privileged: bool,
        async_output: Box<dyn Fn(String) + Send + Sync>,
    ) -> Box<dyn CliSession> {
        self.opened.fetch_add(1, Ordering::SeqCst);
        self.live.fetch_add(1, Ordering::SeqCst);
        Box::new(FakeSession {
            opened_privileged: privileged,
            privileged,
            config: false,
            async_output: Arc::from(async_output),
            live: self.live.clone(),
            lines: self.lines.clone(),
        })
    }
}

struct FakeSession {
    opened_privileged: bool,
    privileged: bool,
    config: bool,
    async_output: Arc<dyn Fn(String) + Send + Sync>,
    live: Arc<AtomicUsize>,
    lines: Arc<Mutex<Vec<(bool, String)>>>,
}

impl Drop for FakeSession {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

const WORDS: &[(&str, &str)] = &[
    ("configure", "Enter configuration mode"),
    ("enable", "Turn on privileged mode command"),
    ("exit", "End current mode and down to previous mode"),
    ("show", "Show running system information"),
    ("shutdown", "Shutdown the device"),
];

fn text(t: impl Into<String>) -> Output {
    Output {
        text: t.into(),
        ..Default::default()
    }
}

impl CliSession for FakeSession {
    fn prompt(&mut self) -> String {
        match (self.config, self.privileged) {
            (true, _) => format!("{HOST}(config)#"),
            (false, true) => format!("{HOST}#"),
            (false, false) => format!("{HOST}>"),
        }
    }

    fn execute(&mut self, line: &str) -> Output {
        self.lines
            .lock()
            .unwrap()
            .push((self.opened_privileged, line.to_string()));
        let line = line.trim();
        match line {
            "enable" => {
                self.privileged = true;
                text("")
            }
            "configure terminal" if self.privileged => {
                self.config = true;
                text("Enter configuration commands, one per line.  End with CNTL/Z.")
            }
            "exit" if self.config => {
                self.config = false;
                text("")
            }
            "exit" | "logout" => Output {
                close: true,
                ..Default::default()
            },
            "show privilege" => text(format!(
                "Current privilege level is {}",
                if self.privileged { 15 } else { 1 }
            )),
            "multi" => text("line1\nline2\r\nline3\n"),
            "emit" => {
                let out = self.async_output.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(100));
                    out("%DEBUG: cluster hello from async".to_string());
                });
                text("debugging on")
            }
            l if l.starts_with("sleep ") => {
                let ms: u64 = l[6..].trim().parse().unwrap_or(100);
                std::thread::sleep(Duration::from_millis(ms));
                text("slept")
            }
            l if l.starts_with("bad") => Output {
                text: "% Invalid input detected at '^' marker.".into(),
                error: true,
                close: false,
            },
            l => text(format!("echo: {l}")),
        }
    }

    fn help(&mut self, partial: &str) -> String {
        let prefix = partial.rsplit(' ').next().unwrap_or("");
        WORDS
            .iter()
            .filter(|(w, _)| w.starts_with(prefix))
            .map(|(w, h)| format!("  {w:<12}{h}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn complete(&mut self, partial: &str) -> Completion {
        let matches: Vec<String> = WORDS
            .iter()
            .filter(|(w, _)| w.starts_with(partial))
            .map(|(w, _)| w.to_string())
            .collect();
        match matches.as_slice() {
            [one] => Completion::Line(format!("{one} ")),
            _ => Completion::Candidates(matches),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Server harness

struct TestServer {
    addr: SocketAddr,
    fake: Arc<Fake>,
    dir: tempfile::TempDir,
    key_path: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    serve: Option<tokio::task::JoinHandle<Result<(), roost_ssh::SshError>>>,
    rt: Option<tokio::runtime::Runtime>,
}

impl TestServer {
    fn start() -> TestServer {
        Self::start_with(|_| {})
    }

    fn start_with(configure: impl FnOnce(&mut SshServerConfig)) -> TestServer {
        ensure_openssh();
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("ssh_host_ed25519_key");
        let host_key = load_or_create_host_key(&key_path).unwrap();
        let fake = Arc::new(Fake::default());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(roost_ssh::bind("127.0.0.1:0".parse().unwrap()))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut cfg = SshServerConfig::new(host_key);
        cfg.banner = Some("Roost test controller\n".into());
        configure(&mut cfg);
        let service: Arc<dyn CliService> = fake.clone();
        let serve = rt.spawn(roost_ssh::serve(listener, cfg, service, async {
            let _ = rx.await;
        }));
        std::fs::write(
            dir.path().join("askpass-ok"),
            askpass_script(PASSWORD, None),
        )
        .unwrap();
        make_executable(&dir.path().join("askpass-ok"));
        TestServer {
            addr,
            fake,
            key_path,
            dir,
            shutdown: Some(tx),
            serve: Some(serve),
            rt: Some(rt),
        }
    }

    /// An `ssh` command (under `setsid`, so no controlling terminal) for this server.
    fn ssh(&self, user: &str, askpass: &Path, extra: &[&str]) -> Command {
        let mut cmd = if Path::new("/usr/bin/setsid").exists() {
            let mut c = Command::new("/usr/bin/setsid");
            c.arg("ssh");
            c
        } else {
            Command::new("ssh")
        };
        // OpenSSH keeps the first value given for an option: `extra` goes first.
        cmd.args(extra)
            .args(["-F", "/dev/null", "-p", &self.addr.port().to_string()])
            .args(["-o", "StrictHostKeyChecking=no"])
            .args(["-o", "UserKnownHostsFile=/dev/null"])
            .args(["-o", "GlobalKnownHostsFile=/dev/null"])
            .args(["-o", "LogLevel=ERROR"])
            .args(["-o", "ConnectTimeout=10"])
            .arg(format!("{user}@127.0.0.1"))
            .env("SSH_ASKPASS", askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn ssh_password(&self, extra: &[&str]) -> Command {
        let mut args = vec![
            "-o",
            "BatchMode=no",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password",
        ];
        args.extend_from_slice(extra);
        self.ssh("admin", &self.dir.path().join("askpass-ok"), &args)
    }

    /// Stops the server; returns how long `serve` took to return.
    fn stop(&mut self) -> Duration {
        let started = Instant::now();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let (Some(rt), Some(serve)) = (self.rt.as_ref(), self.serve.take()) {
            rt.block_on(async {
                tokio::time::timeout(WAIT, serve)
                    .await
                    .expect("serve did not return after shutdown")
                    .unwrap()
                    .unwrap();
            });
        }
        started.elapsed()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

fn askpass_script(password: &str, counter: Option<&Path>) -> String {
    let count = counter
        .map(|p| format!("echo x >> '{}'\n", p.display()))
        .unwrap_or_default();
    format!("#!/bin/sh\n{count}printf '%s\\n' '{password}'\n")
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
}

fn ensure_openssh() {
    static CHECK: OnceLock<()> = OnceLock::new();
    CHECK.get_or_init(|| {
        let have = |b: &str| {
            Command::new(b)
                .arg("-V")
                .stderr(Stdio::null())
                .status()
                .is_ok()
        };
        if !have("ssh") || !Path::new("/usr/bin/ssh-keygen").exists() {
            let _ = Command::new("apt-get").args(["update", "-q"]).status();
            let _ = Command::new("apt-get")
                .args(["install", "-y", "-q", "openssh-client"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status();
        }
        assert!(have("ssh"), "the OpenSSH client is required");
    });
}

/// A child whose stdout/stderr are collected by threads; killed by PID if dropped running.
struct Running {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd.spawn().expect("spawn ssh");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(pipe) = child.stdout.take() {
            readers.push(collect(pipe, stdout.clone()));
        }
        if let Some(pipe) = child.stderr.take() {
            readers.push(collect(pipe, stderr.clone()));
        }
        Running {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    fn send(&mut self, bytes: &[u8]) {
        let stdin = self.child.stdin.as_mut().expect("stdin piped");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits until stdout contains `needle` after byte `from`; returns the end of the match.
    fn expect(&self, needle: &str, from: usize) -> usize {
        let deadline = Instant::now() + WAIT;
        loop {
            {
                let out = self.stdout.lock().unwrap();
                let hay = String::from_utf8_lossy(&out[from.min(out.len())..]).into_owned();
                if let Some(i) = hay.find(needle) {
                    return from + i + needle.len();
                }
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?}; stdout so far: {:?}; stderr: {:?}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits (bounded) for the exit; panics (after killing) on timeout.
    fn wait(mut self) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "ssh did not exit; stdout {:?} stderr {:?}",
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        for r in std::mem::take(&mut self.readers) {
            let _ = r.join();
        }
        (status, self.stdout(), self.stderr())
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

fn collect(
    mut pipe: impl Read + Send + 'static,
    into: Arc<Mutex<Vec<u8>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    })
}

fn run(cmd: Command) -> (i32, String, String) {
    let (status, out, err) = Running::spawn(cmd).wait();
    (status.code().unwrap_or(-1), out, err)
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn exec_with_password_runs_each_line_in_a_privileged_session() {
    let srv = TestServer::start();

    // (OpenSSH only prints the banner at LogLevel INFO or above.)
    let mut cmd = srv.ssh_password(&["-o", "LogLevel=INFO"]);
    cmd.arg("show privilege");
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out, "Current privilege level is 15\n");
    assert!(err.contains("Roost test controller"), "banner: {err:?}");

    // Default client preferences (publickey, keyboard-interactive, password) fall back to
    // password without trouble.
    let mut cmd = srv.ssh(
        "admin",
        &srv.dir.path().join("askpass-ok"),
        &["-o", "BatchMode=no", "-o", "PubkeyAuthentication=no"],
    );
    cmd.arg("show privilege");
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out, "Current privilege level is 15\n");

    // Several lines, blank lines skipped, no ';' splitting, output with \n only.
    let mut cmd = srv.ssh_password(&[]);
    cmd.arg("multi\n\n  \nsay a; b\r\n");
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out, "line1\nline2\nline3\necho: say a; b\n");

    let lines = srv.fake.lines.lock().unwrap().clone();
    assert!(lines.iter().all(|(privileged, _)| *privileged));
    assert_eq!(
        lines.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(),
        ["show privilege", "show privilege", "multi", "say a; b"]
    );
    wait_until("sessions are dropped", || {
        srv.fake.live.load(Ordering::SeqCst) == 0
    });
}

#[test]
fn exec_with_an_error_exits_1_and_still_runs_later_lines() {
    let srv = TestServer::start();
    let mut cmd = srv.ssh_password(&[]);
    cmd.arg("bad command\nshow privilege");
    let (code, out, err) = run(cmd);
    assert_eq!(code, 1, "stdout {out:?} stderr {err:?}");
    assert_eq!(
        out,
        format!("{HOST}#bad command\n% Invalid input detected at '^' marker.\nCurrent privilege level is 15\n")
    );

    // A line asking to close ends the run.
    let mut cmd = srv.ssh_password(&[]);
    cmd.arg("show privilege\nexit\nshow privilege");
    let (code, out, _) = run(cmd);
    assert_eq!(code, 0);
    assert_eq!(out, "Current privilege level is 15\n");

    // Over-long lines are refused, not truncated.
    let mut cmd = srv.ssh_password(&[]);
    cmd.arg(format!("{}\nshow privilege", "x".repeat(5000)));
    let (code, out, _) = run(cmd);
    assert_eq!(code, 1);
    assert!(out.starts_with("% Command line too long"), "{out:?}");
    assert!(out.ends_with("Current privilege level is 15\n"), "{out:?}");
}

#[test]
fn wrong_password_is_denied_limited_and_opens_no_session() {
    let srv = TestServer::start();
    let askpass = srv.dir.path().join("askpass-wrong");
    let counter = srv.dir.path().join("askpass-count");
    std::fs::write(&askpass, askpass_script("not-the-password", Some(&counter))).unwrap();
    make_executable(&askpass);
    let cmd = {
        let mut c = srv.ssh(
            "admin",
            &askpass,
            &[
                "-o",
                "BatchMode=no",
                "-o",
                "PubkeyAuthentication=no",
                "-o",
                "PreferredAuthentications=password",
                "-o",
                "NumberOfPasswordPrompts=6",
            ],
        );
        c.arg("show privilege");
        c
    };
    let (code, out, err) = run(cmd);
    assert_eq!(code, 255, "stdout {out:?} stderr {err:?}");
    assert!(err.contains("Permission denied"), "stderr: {err:?}");
    assert_eq!(out, "");
    assert_eq!(srv.fake.opened.load(Ordering::SeqCst), 0);
    // max_auth_attempts = 3: the client was not asked for a fourth password.
    let prompts = std::fs::read_to_string(&counter).unwrap().lines().count();
    assert_eq!(prompts, 3, "password prompts");
    assert_eq!(srv.fake.password_checks.load(Ordering::SeqCst), 3);
}

#[test]
fn exec_with_public_key_and_the_persisted_host_key() {
    let srv = TestServer::start();
    let key = srv.dir.path().join("id_ed25519");
    let status = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "tester@example",
            "-f",
        ])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let accepted: Vec<&str> = public.split_whitespace().take(2).collect();
    let accepted = accepted.join(" ");
    *srv.fake.pubkey.lock().unwrap() = Some(accepted.clone());

    // Strict host key checking against the key file the server persisted.
    let host_pub = load_or_create_host_key(&srv.key_path)
        .unwrap()
        .public_key()
        .to_openssh()
        .unwrap();
    let known_hosts = srv.dir.path().join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!("[127.0.0.1]:{} {host_pub}\n", srv.addr.port()),
    )
    .unwrap();
    let key_args: Vec<String> = [
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "PreferredAuthentications=publickey",
        "-o",
        "PasswordAuthentication=no",
        "-o",
        "StrictHostKeyChecking=yes",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        "-i".to_string(),
        key.display().to_string(),
        "-o".to_string(),
        format!("UserKnownHostsFile={}", known_hosts.display()),
    ])
    .collect();
    let key_args: Vec<&str> = key_args.iter().map(String::as_str).collect();
    let mut cmd = srv.ssh("admin", Path::new("/bin/false"), &key_args);
    cmd.arg("show privilege");
    let (code, out, err) = run(cmd);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out, "Current privilege level is 15\n");
    let seen = srv.fake.keys_seen.lock().unwrap().clone();
    assert!(seen.iter().all(|k| *k == accepted), "{seen:?}");
    assert!(accepted.starts_with("ssh-ed25519 AAAA"));

    // The same key for another user: refused, no session.
    let opened = srv.fake.opened.load(Ordering::SeqCst);
    let mut cmd = srv.ssh("operator", Path::new("/bin/false"), &key_args);
    cmd.arg("show privilege");
    let (code, _, err) = run(cmd);
    assert_eq!(code, 255);
    assert!(err.contains("Permission denied"), "{err}");
    assert_eq!(srv.fake.opened.load(Ordering::SeqCst), opened);
}

#[test]
fn interactive_shell_with_pty_edits_helps_completes_and_streams() {
    let srv = TestServer::start();
    let mut cmd = srv.ssh_password(&["-tt"]);
    cmd.stdin(Stdio::piped());
    let mut ssh = Running::spawn(cmd);

    // User exec mode first.
    let mut at = ssh.expect(&format!("{HOST}>"), 0);
    ssh.send(b"enable\r");
    at = ssh.expect(&format!("enable\r\n{HOST}#"), at);

    // `?`: the question mark is echoed, help printed, prompt + partial redrawn.
    ssh.send(b"sh?");
    at = ssh.expect("sh?\r\n", at);
    at = ssh.expect("  show        Show running system information\r\n", at);
    at = ssh.expect("  shutdown    Shutdown the device\r\n", at);
    at = ssh.expect(&format!("{HOST}#sh"), at);

    // Tab with several candidates: listed, then prompt + line again.
    ssh.send(b"\t");
    at = ssh.expect("\r\nshow", at);
    at = ssh.expect("shutdown\r\n", at);
    at = ssh.expect(&format!("{HOST}#sh"), at);

    // Ctrl-U, then a unique completion replaces the line.
    ssh.send(b"\x15conf\t");
    at = ssh.expect("conf", at);
    at = ssh.expect("\x08 \x08\x08 \x08\x08 \x08\x08 \x08configure ", at);
    ssh.send(b"terminal\r");
    at = ssh.expect("terminal\r\nEnter configuration commands", at);
    at = ssh.expect(&format!("\r\n{HOST}(config)#"), at);

    // Errors are shown; the session goes on.
    ssh.send(b"bad thing\r");
    at = ssh.expect("% Invalid input detected at '^' marker.\r\n", at);
    at = ssh.expect(&format!("{HOST}(config)#"), at);

    // Arrow-up recalls the last line; Ctrl-C abandons it.
    ssh.send(b"\x1b[A");
    at = ssh.expect("bad thing", at);
    ssh.send(b"\x03");
    at = ssh.expect(&format!("^C\r\n{HOST}(config)#"), at);

    // An async line arrives while the user is typing: own line, then prompt + partial again.
    ssh.send(b"emit\r");
    at = ssh.expect("debugging on\r\n", at);
    at = ssh.expect(&format!("{HOST}(config)#"), at);
    ssh.send(b"ex");
    at = ssh.expect("%DEBUG: cluster hello from async\r\n", at);
    at = ssh.expect(&format!("{HOST}(config)#ex"), at);

    // Backspace, then `exit` twice ends the session cleanly.
    ssh.send(b"x\x7fit\r");
    at = ssh.expect(&format!("\r\n{HOST}#"), at);
    ssh.send(b"exit\r");
    let _ = at;
    let (status, out, err) = ssh.wait();
    assert_eq!(status.code(), Some(0), "stdout {out:?} stderr {err:?}");

    let lines = srv.fake.lines.lock().unwrap().clone();
    assert!(lines.iter().all(|(privileged, _)| !*privileged));
    assert_eq!(
        lines.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(),
        [
            "enable",
            "configure terminal",
            "bad thing",
            "emit",
            "exit",
            "exit"
        ]
    );
    wait_until("the session is dropped", || {
        srv.fake.live.load(Ordering::SeqCst) == 0
    });
}

#[test]
fn shell_without_pty_reads_plain_lines() {
    let srv = TestServer::start();
    let mut cmd = srv.ssh_password(&["-T"]);
    cmd.stdin(Stdio::piped());
    let mut ssh = Running::spawn(cmd);
    ssh.send(b"show privilege\r\nenable\nshow privilege\n");
    ssh.expect("Current privilege level is 15\n", 0);
    // EOF on stdin ends the session.
    drop(ssh.child.stdin.take());
    let (status, out, _) = ssh.wait();
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        out,
        format!(
            "{HOST}>Current privilege level is 1\n{HOST}>{HOST}#Current privilege level is 15\n{HOST}#"
        )
    );
}

#[test]
fn ctrl_d_on_an_empty_line_logs_out() {
    let srv = TestServer::start();
    let mut cmd = srv.ssh_password(&["-tt"]);
    cmd.stdin(Stdio::piped());
    let mut ssh = Running::spawn(cmd);
    let at = ssh.expect(&format!("{HOST}>"), 0);
    ssh.send(b"abc\x04\x15\x04");
    let _ = at;
    let (status, _, _) = ssh.wait();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn client_disconnecting_mid_command_releases_the_session() {
    let srv = TestServer::start();
    let mut cmd = srv.ssh_password(&[]);
    cmd.arg("sleep 1500\nshow privilege");
    let mut ssh = Running::spawn(cmd);
    wait_until("the command runs", || {
        srv.fake.lines.lock().unwrap().len() == 1
    });
    ssh.kill();
    wait_until("the session is dropped", || {
        srv.fake.live.load(Ordering::SeqCst) == 0
    });
    // The rest of the command was not run.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(srv.fake.lines.lock().unwrap().len(), 1);

    // Same for an interactive session.
    let mut cmd = srv.ssh_password(&["-tt"]);
    cmd.stdin(Stdio::piped());
    let mut ssh = Running::spawn(cmd);
    ssh.expect(&format!("{HOST}>"), 0);
    ssh.send(b"sleep 1000\r");
    wait_until("the command runs", || {
        srv.fake.lines.lock().unwrap().len() == 2
    });
    ssh.kill();
    wait_until("the session is dropped", || {
        srv.fake.live.load(Ordering::SeqCst) == 0
    });

    // The server is fine.
    let mut cmd = srv.ssh_password(&[]);
    cmd.arg("show privilege");
    assert_eq!(run(cmd).0, 0);
}

#[test]
fn garbage_clients_subsystems_and_forwarding_are_refused() {
    let srv = TestServer::start();
    // Not SSH at all, then a valid banner followed by junk, then a silent half-open client.
    for junk in [
        b"GET / HTTP/1.0\r\n\r\n".to_vec(),
        [b"SSH-2.0-junk\r\n".to_vec(), vec![0xff; 70_000]].concat(),
    ] {
        let mut s = std::net::TcpStream::connect(srv.addr).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let _ = s.write_all(&junk);
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf); // the server hangs up
    }
    let _idle = std::net::TcpStream::connect(srv.addr).unwrap();

    // sftp subsystem: refused.
    let mut cmd = srv.ssh_password(&["-s"]);
    cmd.arg("sftp");
    let (code, _, err) = run(cmd);
    assert_ne!(code, 0, "{err}");

    // Port forwarding (a direct-tcpip channel via -W): refused.
    let mut cmd = srv.ssh_password(&["-W", "127.0.0.1:9"]);
    cmd.stdin(Stdio::piped());
    let (code, _, err) = run(cmd);
    assert_eq!(code, 255);
    assert!(err.contains("forwarding failed"), "{err}");

    // Still serving.
    let mut cmd = srv.ssh_password(&[]);
    cmd.arg("show privilege");
    assert_eq!(run(cmd).0, 0);
}

#[test]
fn shutdown_disconnects_clients_and_serve_returns() {
    let mut srv = TestServer::start();
    let mut cmd = srv.ssh_password(&["-tt"]);
    cmd.stdin(Stdio::piped());
    let ssh = Running::spawn(cmd);
    ssh.expect(&format!("{HOST}>"), 0);
    let took = srv.stop();
    assert!(took < Duration::from_secs(5), "{took:?}");
    let (status, _, _) = ssh.wait();
    assert_eq!(status.code(), Some(255));
    wait_until("the session is dropped", || {
        srv.fake.live.load(Ordering::SeqCst) == 0
    });
    assert!(std::net::TcpStream::connect(srv.addr).is_err());
}

#[test]
fn idle_sessions_are_disconnected() {
    let srv = TestServer::start_with(|cfg| cfg.idle_timeout = Some(Duration::from_millis(700)));
    let mut cmd = srv.ssh_password(&["-tt"]);
    cmd.stdin(Stdio::piped());
    let mut ssh = Running::spawn(cmd);
    let at = ssh.expect(&format!("{HOST}>"), 0);
    ssh.send(b"enable\r");
    ssh.expect(&format!("{HOST}#"), at);
    let idle_since = Instant::now();
    let (status, _, _) = ssh.wait();
    assert_eq!(status.code(), Some(255));
    assert!(idle_since.elapsed() >= Duration::from_millis(500));
    wait_until("the session is dropped", || {
        srv.fake.live.load(Ordering::SeqCst) == 0
    });
}

#[test]
fn host_key_is_created_once_persisted_0600_and_readable_by_openssh() {
    use std::os::unix::fs::PermissionsExt;
    ensure_openssh();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys/ssh_host_ed25519_key");
    let first = load_or_create_host_key(&path).unwrap();
    let second = load_or_create_host_key(&path).unwrap();
    assert_eq!(first.public_key(), second.public_key());
    assert_eq!(first.algorithm(), russh::keys::Algorithm::Ed25519);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));

    // ssh-keygen derives the same public key from the file.
    let out = Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let derived = String::from_utf8(out.stdout).unwrap();
    let ours = first.public_key().to_openssh().unwrap();
    assert_eq!(
        derived.split_whitespace().take(2).collect::<Vec<_>>(),
        ours.split_whitespace().take(2).collect::<Vec<_>>()
    );

    // Loose permissions are tightened; garbage is an error, not a silent new key.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    load_or_create_host_key(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let bad = dir.path().join("bad_key");
    std::fs::write(&bad, "not a key").unwrap();
    assert!(load_or_create_host_key(&bad).is_err());
}

/// A raw TCP connection to `addr` from `source`: the server's first line (its SSH
/// identification), or `None` if the server closed the connection without one.
fn raw_connect_from(source: &str, addr: SocketAddr) -> (std::net::TcpStream, Option<String>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(SocketAddr::new(source.parse().unwrap(), 0))
            .unwrap();
        socket.connect(addr).await.unwrap().into_std().unwrap()
    });
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    let mut s = &stream;
    loop {
        match s.read(&mut byte) {
            Ok(1) if byte[0] == b'\n' => break,
            Ok(1) => line.push(byte[0]),
            _ => return (stream, None),
        }
    }
    (stream, Some(String::from_utf8_lossy(&line).into_owned()))
}

#[test]
fn a_session_that_logged_in_outlives_the_login_grace_time_and_one_that_did_not_is_cut() {
    let grace = Duration::from_millis(800);
    let srv = TestServer::start_with(|cfg| cfg.login_grace_time = grace);
    let connected = Instant::now();
    let mut cmd = srv.ssh_password(&["-tt"]);
    cmd.stdin(Stdio::piped());
    let mut ssh = Running::spawn(cmd);
    let at = ssh.expect(&format!("{HOST}>"), 0);
    // The password check was told where the client is.
    let sources = srv.fake.sources.lock().unwrap().clone();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].face, roost_config::Face::Ssh);
    assert_eq!(sources[0].addr.to_string(), "127.0.0.1");
    // Outlive the grace time by a margin (the point of the test is the passing of time).
    while connected.elapsed() < grace * 2 {
        std::thread::sleep(Duration::from_millis(50));
    }
    ssh.send(b"show privilege\r");
    ssh.expect("Current privilege level is 1", at);
    ssh.send(b"exit\r");
    let (status, _, err) = ssh.wait();
    assert_eq!(status.code(), Some(0), "{err}");

    // A client that never logs in is cut once the grace time is over.
    let started = Instant::now();
    let (stream, banner) = raw_connect_from("127.0.0.1", srv.addr);
    assert!(banner.unwrap().starts_with("SSH-2.0-Roost"));
    let mut rest = Vec::new();
    let _ = (&stream).read_to_end(&mut rest);
    let took = started.elapsed();
    assert!(took >= grace, "cut after {took:?}");
    assert!(took < WAIT, "not cut: {took:?}");
}

#[test]
fn connections_not_logged_in_are_capped_in_total_and_per_source() {
    let srv = TestServer::start_with(|cfg| {
        cfg.max_unauthenticated = 5;
        cfg.max_unauthenticated_per_source = 3;
    });
    let mut held = Vec::new();
    for _ in 0..3 {
        let (s, banner) = raw_connect_from("127.0.0.1", srv.addr);
        assert!(banner.is_some(), "accepted under the cap");
        held.push(s);
    }
    // A fourth from the same address is closed at once, without an SSH banner.
    let (_s, banner) = raw_connect_from("127.0.0.1", srv.addr);
    assert_eq!(banner, None);
    // Another address still gets in, up to the total.
    for _ in 0..2 {
        let (s, banner) = raw_connect_from("127.0.0.2", srv.addr);
        assert!(banner.is_some());
        held.push(s);
    }
    let (_s, banner) = raw_connect_from("127.0.0.3", srv.addr);
    assert_eq!(banner, None, "over the total cap");
    // Closing one frees its place (bounded poll: the server notices the close).
    drop(held.pop());
    let deadline = Instant::now() + WAIT;
    let s = loop {
        let (s, banner) = raw_connect_from("127.0.0.3", srv.addr);
        if banner.is_some() {
            break s;
        }
        assert!(Instant::now() < deadline, "the slot was not freed");
        std::thread::sleep(Duration::from_millis(20));
    };
    held.push(s);
    // A connection that logged in no longer counts: free one place of 127.0.0.1, log in
    // from there; afterwards another unauthenticated connection fits again.
    drop(held.remove(0));
    let mut cmd = srv.ssh_password(&["-tt"]);
    cmd.stdin(Stdio::piped());
    let mut ssh = Running::spawn(cmd);
    ssh.expect(&format!("{HOST}>"), 0);
    let deadline = Instant::now() + WAIT;
    let s = loop {
        let (s, banner) = raw_connect_from("127.0.0.4", srv.addr);
        if banner.is_some() {
            break s;
        }
        assert!(Instant::now() < deadline, "the slot was not freed");
        std::thread::sleep(Duration::from_millis(20));
    };
    held.push(s);
    // Now 5 unauthenticated are held again; the logged-in session is still there.
    let (_s, banner) = raw_connect_from("127.0.0.5", srv.addr);
    assert_eq!(banner, None);
    ssh.send(b"show privilege\r");
    ssh.expect("Current privilege level is 1", 0);
    ssh.kill();
}
