//! The API client and `roost cli`.
//!
//! [`ApiClient`] is blocking (reqwest's blocking client): call it from a plain thread, not from
//! inside an async task. The controller's certificate is self-signed, so [`ApiClient::new`]
//! accepts any certificate ([`crate::tls::TofuVerifier`]) and [`ApiClient::pin_fingerprint`]
//! only one; the fingerprint seen is available from [`ApiClient::server_fingerprint`].
//! `roost cli` trusts on first use like OpenSSH: it pins what its known-controllers file
//! ([`crate::known`]) holds for the controller, adds the certificate seen on a first contact
//! (with a notice), and refuses a changed one naming the line to remove; `--fingerprint` pins
//! explicitly.

use crate::known::{KnownControllers, KnownEntry};
use crate::tls::{client_config_with, TofuVerifier};
use crate::types::*;
use crate::ApiError;
use anyhow::{anyhow, Context};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Default API port.
pub const DEFAULT_PORT: u16 = 443;

/// A client of one controller's API, authenticated as one user.
pub struct ApiClient {
    http: reqwest::blocking::Client,
    base: String,
    user: String,
    password: String,
    verifier: Arc<TofuVerifier>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .field("user", &self.user)
            .finish()
    }
}

impl ApiClient {
    /// A client of `https://host:port`, trusting any server certificate (TOFU).
    pub fn new(host: &str, port: u16, user: &str, password: &str) -> Result<ApiClient, ApiError> {
        Self::build(host, port, user, password, Arc::new(TofuVerifier::new()))
    }

    /// Like [`ApiClient::new`] but only accepts the certificate with this SHA-256 fingerprint.
    pub fn pin_fingerprint(
        host: &str,
        port: u16,
        user: &str,
        password: &str,
        fingerprint: &str,
    ) -> Result<ApiClient, ApiError> {
        Self::build(
            host,
            port,
            user,
            password,
            Arc::new(TofuVerifier::pinned(fingerprint)),
        )
    }

    fn build(
        host: &str,
        port: u16,
        user: &str,
        password: &str,
        verifier: Arc<TofuVerifier>,
    ) -> Result<ApiClient, ApiError> {
        let tls = client_config_with(verifier.clone());
        let http = reqwest::blocking::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .connect_timeout(Duration::from_secs(10))
            // Commits wait for the master and join-cluster can take a while.
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| ApiError::Http(e.to_string()))?;
        let host = match host.parse::<std::net::Ipv6Addr>() {
            Ok(v6) => format!("[{v6}]"),
            Err(_) => host.to_string(),
        };
        Ok(ApiClient {
            http,
            base: format!("https://{host}:{port}"),
            user: user.to_string(),
            password: password.to_string(),
            verifier,
        })
    }

    /// SHA-256 fingerprint of the server certificate seen on the last connection.
    pub fn server_fingerprint(&self) -> Option<String> {
        self.verifier.fingerprint()
    }

    /// `https://host:port`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn send(
        &self,
        req: reqwest::blocking::RequestBuilder,
    ) -> Result<reqwest::blocking::Response, ApiError> {
        let resp = req
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .map_err(|e| ApiError::Http(error_chain(&e)))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().unwrap_or_default();
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|b| b.error)
            .unwrap_or_else(|_| {
                if text.is_empty() {
                    status.to_string()
                } else {
                    text
                }
            });
        Err(ApiError::Status {
            status: status.as_u16(),
            message,
        })
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let resp = self.send(self.http.get(format!("{}{path}", self.base)))?;
        resp.json()
            .map_err(|e| ApiError::Http(format!("bad response from {path}: {e}")))
    }

    fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ApiError> {
        let resp = self.send(self.http.post(format!("{}{path}", self.base)).json(body))?;
        resp.json()
            .map_err(|e| ApiError::Http(format!("bad response from {path}: {e}")))
    }

    /// Runs `commands` in order in one fresh privileged session.
    pub fn exec<S: AsRef<str>>(&self, commands: &[S]) -> Result<ExecResponse, ApiError> {
        let commands = commands.iter().map(|c| c.as_ref().to_string()).collect();
        self.post(
            "/api/v1/exec",
            &ExecRequest {
                commands,
                stop_on_error: false,
            },
        )
    }

    pub fn open_session(&self, privileged: bool) -> Result<OpenSessionResponse, ApiError> {
        self.post("/api/v1/sessions", &OpenSessionRequest { privileged })
    }

    pub fn session_exec(&self, id: &str, line: &str) -> Result<SessionExecResponse, ApiError> {
        self.post(
            &format!("/api/v1/sessions/{id}/exec"),
            &SessionExecRequest { line: line.into() },
        )
    }

    /// `?` help for `partial` (the text before the `?`).
    pub fn help(&self, id: &str, partial: &str) -> Result<String, ApiError> {
        let r: HelpResponse = self.post(
            &format!("/api/v1/sessions/{id}/help"),
            &PartialRequest {
                partial: partial.into(),
            },
        )?;
        Ok(r.text)
    }

    pub fn complete(&self, id: &str, partial: &str) -> Result<CompleteResponse, ApiError> {
        self.post(
            &format!("/api/v1/sessions/{id}/complete"),
            &PartialRequest {
                partial: partial.into(),
            },
        )
    }

    pub fn close(&self, id: &str) -> Result<(), ApiError> {
        self.send(
            self.http
                .delete(format!("{}/api/v1/sessions/{id}", self.base)),
        )?;
        Ok(())
    }

    pub fn status(&self) -> Result<views::ClusterStatus, ApiError> {
        self.get("/api/v1/cluster/status")
    }

    pub fn members(&self) -> Result<Vec<views::MemberRow>, ApiError> {
        self.get("/api/v1/cluster/members")
    }

    pub fn history(&self) -> Result<Vec<views::HistoryRow>, ApiError> {
        self.get("/api/v1/cluster/history")
    }

    pub fn revisions(&self) -> Result<views::RevisionsView, ApiError> {
        self.get("/api/v1/cluster/revisions")
    }

    pub fn running_config(&self) -> Result<String, ApiError> {
        let r: RunningConfig = self.get("/api/v1/config/running")?;
        Ok(r.text)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s
}

/// `roost cli` options.
#[derive(Clone, Default, clap::Args)]
pub struct CliOptions {
    /// Controller address (IP or host name).
    #[arg(long)]
    pub controller: String,
    /// HTTPS API port.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Management user.
    #[arg(long, default_value = "admin")]
    pub user: String,
    /// Password (else `$ROOST_PASSWORD`, else asked on the terminal). Visible in `ps`: prefer
    /// the environment variable.
    #[arg(long)]
    pub password: Option<String>,
    /// Only accept the controller certificate with this SHA-256 fingerprint (hex); the
    /// known-controllers file is then neither read nor written.
    #[arg(long)]
    pub fingerprint: Option<String>,
    /// The known-controllers file (trust on first use; else `$ROOST_KNOWN_CONTROLLERS`, else
    /// `~/.config/roost/known_controllers`).
    #[arg(long = "known-controllers", value_name = "FILE")]
    pub known_controllers: Option<PathBuf>,
    /// Run this command (repeatable; run in order in one privileged session) instead of the
    /// interactive CLI. Exit status 1 if any failed.
    #[arg(short = 'c', long = "command")]
    pub commands: Vec<String>,
}

impl std::fmt::Debug for CliOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CliOptions")
            .field("controller", &self.controller)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("fingerprint", &self.fingerprint)
            .field("known_controllers", &self.known_controllers)
            .field("commands", &self.commands)
            .finish()
    }
}

/// `roost cli`: with `-c` commands, one exec call (exit status 1 if any line failed);
/// otherwise an interactive session: on a terminal with the SSH shell's line editor (`?` help,
/// Tab completion, history), else a plain line loop on stdin (`?` at the end of a line asks
/// for help). Returns the
/// process exit status. Connection and authentication failures are errors.
pub fn run_cli(opts: CliOptions) -> anyhow::Result<i32> {
    let password = resolve_password(&opts)?;
    let interactive_tty = std::io::stdin().is_terminal();
    #[cfg(unix)]
    let raw_tty = opts.commands.is_empty() && interactive_tty && std::io::stdout().is_terminal();
    let go = move || {
        #[cfg(unix)]
        if raw_tty {
            return run_tty(&opts, &password);
        }
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut out = std::io::stdout();
        run_cli_io(&opts, &password, interactive_tty, &mut input, &mut out)
    };
    // reqwest's blocking client must not run on an async runtime thread.
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(go)
                .join()
                .map_err(|_| anyhow!("cli thread panicked"))?
        })
    } else {
        go()
    }
}

fn resolve_password(opts: &CliOptions) -> anyhow::Result<String> {
    if let Some(p) = &opts.password {
        return Ok(p.clone());
    }
    if let Ok(p) = std::env::var("ROOST_PASSWORD") {
        return Ok(p);
    }
    prompt_password(&format!("{}@{}'s password: ", opts.user, opts.controller))
        .context("no password: use --password, $ROOST_PASSWORD, or run on a terminal")
}

/// [`run_cli`] with the password resolved and explicit input/output (for tests and embedding).
/// `tty` only changes cosmetics (the fingerprint notice).
pub fn run_cli_io(
    opts: &CliOptions,
    password: &str,
    tty: bool,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    if opts.controller.is_empty() {
        return Err(anyhow!("--controller is required"));
    }
    let (client, trust) = connect(opts, password)?;
    if !opts.commands.is_empty() {
        let resp = trust.first_contact(&client, client.exec(&opts.commands))?;
        for o in &resp.outputs {
            write_text(out, &o.output)?;
        }
        for line in &resp.async_lines {
            write_text(out, line)?;
        }
        out.flush()?;
        return Ok(if resp.error { 1 } else { 0 });
    }
    let session = trust.first_contact(&client, client.open_session(false))?;
    interactive(&client, session, tty, input, out)
}

/// How `roost cli` trusts the controller's certificate for this run.
enum Trust {
    /// `--fingerprint`: the file is not involved.
    Explicit,
    /// The file's line for this controller, pinned.
    Known {
        file: KnownControllers,
        host_port: String,
        entry: KnownEntry,
    },
    /// First contact: remember what the controller presents.
    New {
        file: KnownControllers,
        host_port: String,
    },
}

/// The client for `opts`, pinned to `--fingerprint` or to the known-controllers file's line.
fn connect(opts: &CliOptions, password: &str) -> anyhow::Result<(ApiClient, Trust)> {
    if let Some(fp) = &opts.fingerprint {
        let c = ApiClient::pin_fingerprint(&opts.controller, opts.port, &opts.user, password, fp)?;
        return Ok((c, Trust::Explicit));
    }
    let file = KnownControllers::locate(opts.known_controllers.as_deref())?;
    let host_port = match opts.controller.parse::<std::net::Ipv6Addr>() {
        Ok(v6) => format!("[{v6}]:{}", opts.port),
        Err(_) => format!("{}:{}", opts.controller, opts.port),
    };
    Ok(match file.lookup(&host_port)? {
        Some(entry) => (
            ApiClient::pin_fingerprint(
                &opts.controller,
                opts.port,
                &opts.user,
                password,
                &entry.fingerprint,
            )?,
            Trust::Known {
                file,
                host_port,
                entry,
            },
        ),
        None => (
            ApiClient::new(&opts.controller, opts.port, &opts.user, password)?,
            Trust::New { file, host_port },
        ),
    })
}

impl Trust {
    /// Runs after the first request: a changed certificate becomes the OpenSSH-like refusal,
    /// and a first contact is remembered (whatever the request's outcome, as OpenSSH adds a
    /// host key before authenticating) with a one-line notice on stderr.
    fn first_contact<T>(&self, client: &ApiClient, r: Result<T, ApiError>) -> anyhow::Result<T> {
        match self {
            Trust::Explicit => {}
            Trust::Known {
                file,
                host_port,
                entry,
            } => {
                if let (Err(_), Some(seen)) = (&r, client.server_fingerprint()) {
                    if seen != entry.fingerprint {
                        return Err(anyhow!(
                            "the certificate of controller {host_port} has CHANGED (now sha256:{seen}, {} line {} holds sha256:{}): someone may be intercepting this connection, or the controller got a new certificate; if you expected that, remove line {} of {} and connect again",
                            file.path().display(),
                            entry.line,
                            entry.fingerprint,
                            entry.line,
                            file.path().display()
                        ));
                    }
                }
            }
            Trust::New { file, host_port } => {
                if let Some(seen) = client.server_fingerprint() {
                    file.add(host_port, &seen)?;
                    eprintln!(
                        "Added controller {host_port} (certificate sha256:{seen}) to the known controllers in {}.",
                        file.path().display()
                    );
                }
            }
        }
        r.map_err(|e| describe(client, e))
    }
}

/// The interactive CLI on a terminal: raw mode, the SSH shell's line editor (`?` help, Tab
/// completion, arrow-up history, Ctrl-C, Ctrl-D), restored on exit.
#[cfg(unix)]
fn run_tty(opts: &CliOptions, password: &str) -> anyhow::Result<i32> {
    let (client, trust) = connect(opts, password)?;
    let session = trust.first_contact(&client, client.open_session(false))?;
    if let Some(fp) = client.server_fingerprint() {
        eprintln!(
            "Connected to {} (certificate sha256 {fp})",
            client.base_url()
        );
    }
    let _raw = RawMode::enter(0)?;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout();
    editor_loop(&client, session, &mut input, &mut out)
}

/// Terminal raw mode (no echo, no line buffering, Ctrl-C as a byte; output post-processing
/// kept so `\n` still ends a line), restored on drop.
#[cfg(unix)]
struct RawMode {
    fd: i32,
    saved: libc::termios,
}

#[cfg(unix)]
impl RawMode {
    fn enter(fd: i32) -> std::io::Result<RawMode> {
        // SAFETY: termios is plain data; `fd` is the process's stdin, open for our lifetime.
        let mut term: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(fd, &mut term) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let saved = term;
        term.c_lflag &= !(libc::ICANON | libc::ECHO | libc::ISIG | libc::IEXTEN);
        term.c_iflag &= !(libc::IXON | libc::ICRNL);
        term.c_cc[libc::VMIN] = 1;
        term.c_cc[libc::VTIME] = 0;
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &term) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(RawMode { fd, saved })
    }
}

#[cfg(unix)]
impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `enter` on the same fd.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) };
    }
}

/// The line-editor loop over raw terminal bytes (`input` is the keyboard, `out` the screen).
pub fn editor_loop(
    client: &ApiClient,
    mut session: OpenSessionResponse,
    input: &mut dyn std::io::Read,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    use roost_ssh::editor::{Action, LineEditor};
    let mut editor = LineEditor::new();
    let mut buf = [0u8; 256];
    write!(out, "{}", session.prompt)?;
    out.flush()?;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => {
                writeln!(out)?;
                let _ = client.close(&session.id);
                return Ok(0);
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        for &byte in &buf[..n] {
            let Some(action) = editor.feed(byte) else {
                continue;
            };
            let step: Result<bool, ApiError> = match action {
                Action::Echo(text) => {
                    out.write_all(text.as_bytes())?;
                    Ok(false)
                }
                Action::Execute(line) => {
                    writeln!(out)?;
                    client.session_exec(&session.id, &line).map(|r| {
                        let _ = write_text(out, &r.output);
                        for a in &r.async_lines {
                            let _ = write_text(out, a);
                        }
                        if !r.close {
                            session.prompt = r.prompt;
                            let _ = write!(out, "{}", session.prompt);
                        }
                        r.close
                    })
                }
                Action::Help(partial) => client.help(&session.id, &partial).map(|h| {
                    let _ = out.write_all(b"?\n");
                    let _ = write_text(out, &h);
                    let _ = write!(out, "{}{partial}", session.prompt);
                    false
                }),
                Action::Complete(partial) => client.complete(&session.id, &partial).map(|c| {
                    match c {
                        CompleteResponse::Line { line } => {
                            let _ = out.write_all(editor.replace_line(&line).as_bytes());
                        }
                        CompleteResponse::Candidates { candidates } if candidates.is_empty() => {
                            let _ = out.write_all(b"\x07");
                        }
                        CompleteResponse::Candidates { candidates } => {
                            let _ = write!(
                                out,
                                "\n{}\n{}{}",
                                candidates.join("  "),
                                session.prompt,
                                editor.line()
                            );
                        }
                    }
                    false
                }),
                Action::Interrupt => {
                    write!(out, "^C\n{}", session.prompt)?;
                    Ok(false)
                }
                Action::Logout => {
                    writeln!(out)?;
                    let _ = client.close(&session.id);
                    return Ok(0);
                }
            };
            match step {
                Ok(true) => return Ok(0),
                Ok(false) => {}
                Err(ApiError::Status { status: 404, .. }) => {
                    session = client
                        .open_session(false)
                        .map_err(|e| describe(client, e))?;
                    write!(
                        out,
                        "% session expired; started a new one\n{}",
                        session.prompt
                    )?;
                }
                Err(e) => return Err(describe(client, e)),
            }
        }
        out.flush()?;
    }
}

fn describe(client: &ApiClient, e: ApiError) -> anyhow::Error {
    match e {
        ApiError::Status {
            status: 401,
            message,
        } => anyhow!("{}: {message}", client.base_url()),
        e => anyhow!("{}: {e}", client.base_url()),
    }
}

fn write_text(out: &mut dyn Write, text: &str) -> std::io::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn interactive(
    client: &ApiClient,
    mut session: OpenSessionResponse,
    tty: bool,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    if tty {
        if let Some(fp) = client.server_fingerprint() {
            eprintln!(
                "Connected to {} (certificate sha256 {fp})",
                client.base_url()
            );
        }
    }
    let mut line = String::new();
    loop {
        write!(out, "{}", session.prompt)?;
        out.flush()?;
        line.clear();
        if input.read_line(&mut line)? == 0 {
            writeln!(out)?;
            let _ = client.close(&session.id);
            return Ok(0);
        }
        let text = line.trim_end_matches(['\n', '\r']);
        let result = if let Some(partial) = text.strip_suffix('?') {
            client.help(&session.id, partial).map(|h| {
                let _ = write_text(out, &h);
                false
            })
        } else {
            client.session_exec(&session.id, text).map(|r| {
                let _ = write_text(out, &r.output);
                for a in &r.async_lines {
                    let _ = write_text(out, a);
                }
                if !r.close {
                    session.prompt = r.prompt;
                }
                r.close
            })
        };
        match result {
            Ok(true) => return Ok(0),
            Ok(false) => {}
            Err(ApiError::Status { status: 404, .. }) => {
                writeln!(out, "% session expired; starting a new one")?;
                session = client
                    .open_session(false)
                    .map_err(|e| describe(client, e))?;
            }
            Err(e) => return Err(describe(client, e)),
        }
    }
}

/// Reads a password from the controlling terminal with echo off.
#[cfg(unix)]
fn prompt_password(prompt: &str) -> anyhow::Result<String> {
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let fd = tty.as_raw_fd();
    let mut w = &tty;
    w.write_all(prompt.as_bytes())?;
    w.flush()?;
    // SAFETY: termios is plain data; fd is an open terminal for the duration of these calls.
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut term) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    let saved = term;
    term.c_lflag &= !(libc::ECHO | libc::ECHONL);
    term.c_lflag |= libc::ICANON;
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &term) };
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    w.write_all(b"\n")?;
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

#[cfg(not(unix))]
fn prompt_password(_prompt: &str) -> anyhow::Result<String> {
    Err(anyhow!("cannot read a password without a terminal"))
}
