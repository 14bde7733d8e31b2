//! The command engine: modes, prompts, dispatch, `?` help and completion.

use crate::grammar::{
    self, candidates, filterable, grammar, resolve, tokenize, walk, Act, Kind, MatchErr, Tok,
};
use crate::model::{device_header, model_of, num, redact, Ctx};
use crate::views::{
    render_cluster_configuration, render_cluster_history, render_cluster_members,
    render_cluster_status, render_licenses, render_revisions, render_version,
};
use crate::{
    hash_password, Change, ClusterConfig, Completion, ControllerOps, DeviceSettings,
    JoinClusterRequest, Output, Role, Session,
};
use roost_wire::{ClusterMode, Mac, MintLevel};

/// Default `terminal length` of interactive sessions.
const DEFAULT_LENGTH: u32 = 24;
const DEFAULT_WIDTH: u32 = 80;
/// Commands `show history` keeps per session.
const HISTORY_MAX: usize = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `hostname>`
    Exec,
    /// `hostname#`
    Priv,
    /// `hostname(config…)#`
    Cfg(Ctx),
}

impl Mode {
    fn kind(&self) -> Kind {
        match self {
            Mode::Exec => Kind::Exec,
            Mode::Priv => Kind::Priv,
            Mode::Cfg(Ctx::Global) => Kind::Global,
            Mode::Cfg(Ctx::Device(_)) => Kind::Device,
            Mode::Cfg(Ctx::ApDevice(_)) => Kind::ApDevice,
            Mode::Cfg(Ctx::Policy(_)) => Kind::Policy,
            Mode::Cfg(Ctx::DhcpPolicy(_)) => Kind::DhcpPolicy,
            Mode::Cfg(Ctx::DhcpPool(..)) => Kind::DhcpPool,
            Mode::Cfg(Ctx::Interface(..)) => Kind::Interface,
            Mode::Cfg(Ctx::UserMgmt) => Kind::UserMgmt,
            Mode::Cfg(Ctx::Wlan(_)) => Kind::Wlan,
            Mode::Cfg(Ctx::Profile(_)) => Kind::Profile,
            Mode::Cfg(Ctx::Radio(..)) => Kind::Radio,
        }
    }
    fn suffix(&self) -> String {
        match self {
            Mode::Exec => ">".into(),
            Mode::Priv => "#".into(),
            Mode::Cfg(Ctx::Global) => "(config)#".into(),
            Mode::Cfg(Ctx::Device(m)) | Mode::Cfg(Ctx::ApDevice(m)) => {
                format!("(config-device-{m})#")
            }
            Mode::Cfg(Ctx::Interface(m, v)) => format!("(config-device-{m}-if-vlan{v})#"),
            Mode::Cfg(Ctx::UserMgmt) => "(config-user-management)#".into(),
            Mode::Cfg(Ctx::Policy(n)) => format!("(config-auto-provisioning-policy-{n})#"),
            Mode::Cfg(Ctx::DhcpPolicy(n)) => format!("(config-dhcp-policy-{n})#"),
            Mode::Cfg(Ctx::DhcpPool(n, p)) => format!("(config-dhcp-policy-{n}-pool-{p})#"),
            Mode::Cfg(Ctx::Wlan(n)) => format!("(config-wlan-{n})#"),
            Mode::Cfg(Ctx::Profile(n)) => format!("(config-profile-{n})#"),
            Mode::Cfg(Ctx::Radio(n, r)) => format!("(config-profile-{n}-if-radio{r})#"),
        }
    }
}

/// The message under an invalid-input caret.
const CARET_MESSAGE: &str = "% Invalid input detected at '^' marker.";

/// Output of `line` for a non-interactive client (SSH exec, `roost cli -c`, the API's exec):
/// there no terminal shows the typed line above a `^` marker, so an invalid-input error gets
/// `prompt` and the line echoed first, with password values masked character for character so
/// that the caret still points at the right column. Other output is unchanged.
pub fn exec_output(prompt: &str, line: &str, text: &str) -> String {
    if !text.contains(CARET_MESSAGE) {
        return text.to_string();
    }
    format!("{prompt}{}\n{text}", crate::mask_passwords_in_place(line))
}

fn ok(text: impl Into<String>) -> Output {
    Output {
        text: text.into(),
        error: false,
        close: false,
    }
}

fn fail(text: impl Into<String>) -> Output {
    let mut text = text.into();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Output {
        text,
        error: true,
        close: false,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The header lines of a context, as in config text.
fn ctx_path(cfg: &ClusterConfig, ctx: &Ctx) -> Vec<String> {
    let dev = |m: &Mac| {
        cfg.device_model(*m)
            .map(|model| device_header(model, *m))
            .unwrap_or_default()
    };
    match ctx {
        Ctx::Global => Vec::new(),
        Ctx::UserMgmt => vec!["user-management".into()],
        Ctx::Wlan(n) => vec![format!("wlan {n}")],
        Ctx::Profile(n) => vec![cfg.profile_header(n)],
        Ctx::Radio(n, r) => vec![cfg.profile_header(n), format!("interface radio{r}")],
        Ctx::Device(m) => vec![dev(m)],
        Ctx::ApDevice(m) => vec![cfg.ap_device_header(*m)],
        Ctx::Policy(n) => vec![format!("auto-provisioning-policy {n}")],
        Ctx::DhcpPolicy(n) => vec![format!("dhcp-server-policy {n}")],
        Ctx::DhcpPool(n, p) => vec![format!("dhcp-server-policy {n}"), format!("dhcp-pool {p}")],
        Ctx::Interface(m, v) => vec![dev(m), format!("interface vlan {v}")],
    }
}

fn join_toks(toks: &[Tok<'_>]) -> String {
    toks.iter().map(|t| t.text).collect::<Vec<_>>().join(" ")
}

impl Session {
    /// A session for `user` with `role`. `privileged`: start in `#` mode (exec requests, API).
    /// Non-privileged (interactive) sessions start with `terminal length 24`, privileged ones
    /// with 0 (no paging).
    pub fn new(user: &str, role: Role, privileged: bool) -> Session {
        Session {
            user: user.to_string(),
            role,
            mode: if privileged { Mode::Priv } else { Mode::Exec },
            term_length: if privileged { 0 } else { DEFAULT_LENGTH },
            term_width: DEFAULT_WIDTH,
            pending: Change::new(),
            cluster_debug: false,
            log_monitor: false,
            history: std::collections::VecDeque::new(),
        }
    }

    /// The prompt for the current mode, e.g. `vx9000-1(config-device-52-54-00-E1-EE-16)#`.
    pub fn prompt(&self, ops: &dyn ControllerOps) -> String {
        format!("{}{}", ops.identity().hostname, self.mode.suffix())
    }

    /// `terminal length` setting (0 = no paging).
    pub fn terminal_length(&self) -> u32 {
        self.term_length
    }

    /// `terminal width` setting.
    pub fn terminal_width(&self) -> u32 {
        self.term_width
    }

    /// The change text of the uncommitted changes (empty when there are none).
    pub fn pending_change(&self) -> String {
        self.pending.to_text()
    }

    /// The user this session runs as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Runs one line.
    ///
    /// A line ending in `?` (as the API or a script may send it) prints the help for the text
    /// before the `?`.
    pub fn execute(&mut self, line: &str, ops: &dyn ControllerOps) -> Output {
        if let Some(partial) = line.trim_end().strip_suffix('?') {
            let text = self.help(partial, ops);
            let error = text.starts_with('%');
            return Output {
                text,
                error,
                close: false,
            };
        }
        let toks = tokenize(line);
        if toks.is_empty() || toks[0].text.starts_with('!') {
            return Output::default();
        }
        self.history
            .push_back(crate::mask_passwords(line.trim()).to_string());
        if self.history.len() > HISTORY_MAX {
            self.history.pop_front();
        }
        // `do <exec command>` in configuration modes runs it with the privileged grammar.
        let do_exec = matches!(self.mode, Mode::Cfg(_)) && toks[0].text.eq_ignore_ascii_case("do");
        let (kind, skip) = if do_exec {
            (Kind::Priv, 1)
        } else {
            (self.mode.kind(), 0)
        };
        let body = &toks[skip..];
        let pipe = body.iter().position(|t| t.text == "|");
        let cmd = &body[..pipe.unwrap_or(body.len())];
        if cmd.is_empty() {
            return match pipe {
                Some(p) => self.caret(ops, &body[p]),
                None => fail("% Incomplete command.\n"),
            };
        }
        let (act, args) = match resolve(grammar(kind), cmd) {
            Err(MatchErr::Invalid(i)) => return self.caret(ops, &cmd[i]),
            Err(MatchErr::Ambiguous(i)) => {
                return fail(format!(
                    "% Ambiguous command: \"{}\"\n",
                    redact(&join_toks(&toks[..=skip + i]))
                ))
            }
            Err(MatchErr::Incomplete) => return fail("% Incomplete command.\n"),
            Ok(x) => x,
        };
        if do_exec
            && matches!(
                act,
                Act::Enable
                    | Act::Disable
                    | Act::ConfigureTerminal
                    | Act::Exit
                    | Act::End
                    | Act::Logout
            )
        {
            return fail(
                "% Error: 'do' runs exec commands; use 'exit' or 'end' to leave configuration mode\n",
            );
        }
        let filter = match pipe {
            None => None,
            Some(p) if !filterable(act) => return self.caret(ops, &body[p]),
            Some(p) => match self.modifier(line, &body[p + 1..], ops) {
                Ok(f) => Some(f),
                Err(o) => return o,
            },
        };
        let mut out = self.run(act, &args, ops);
        if let Some(f) = filter {
            if !out.error {
                out.text = f.apply(&out.text);
            }
        }
        out
    }

    /// An invalid-input caret under `tok`.
    fn caret(&self, ops: &dyn ControllerOps, tok: &Tok<'_>) -> Output {
        let indent = self.prompt(ops).chars().count() + tok.col;
        fail(format!("{}^\n{CARET_MESSAGE}\n", " ".repeat(indent)))
    }

    /// Parses `begin|exclude|include <regex>` (the tokens after `|`); the regular expression is
    /// the rest of `line`, as typed.
    fn modifier(
        &self,
        line: &str,
        toks: &[Tok<'_>],
        ops: &dyn ControllerOps,
    ) -> Result<Filter, Output> {
        let Some(m) = toks.first() else {
            return Err(fail("% Incomplete command.\n"));
        };
        let lower = m.text.to_ascii_lowercase();
        let kind = match ["begin", "exclude", "include"]
            .into_iter()
            .find(|k| k.starts_with(lower.as_str()))
        {
            Some("begin") => FilterKind::Begin,
            Some("exclude") => FilterKind::Exclude,
            Some(_) => FilterKind::Include,
            None => return Err(self.caret(ops, m)),
        };
        let Some(first) = toks.get(1) else {
            return Err(fail("% Incomplete command.\n"));
        };
        let text = line[first.byte..].trim_end();
        let re = regex::RegexBuilder::new(text)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| {
                let why = e.to_string();
                let why = why.lines().last().unwrap_or("").trim();
                let why = why.strip_prefix("error: ").unwrap_or(why);
                fail(format!(
                    "% Error: invalid regular expression '{text}': {why}\n"
                ))
            })?;
        Ok(Filter { kind, re })
    }

    /// Configuration text as this session's user may see it: `monitor` users see no password
    /// hash or other credential (`password 1 ********`).
    fn shown(&self, text: String) -> String {
        let text = crate::mask_config_secrets(&text);
        match self.role {
            Role::Monitor => crate::hide_credentials(&text),
            Role::Superuser => text,
        }
    }

    /// `cluster member ip <IP>`: refuses addresses that can never be a peer.
    fn check_member_ip(&self, ip: &str, ops: &dyn ControllerOps) -> Result<(), Output> {
        let Ok(addr) = ip.parse::<std::net::Ipv4Addr>() else {
            return Ok(()); // the model explains what is wrong with it
        };
        let Mode::Cfg(Ctx::Device(mac)) = &self.mode else {
            return Ok(());
        };
        let id = ops.identity();
        let mut why = if addr.is_unspecified() {
            Some("the unspecified address".to_string())
        } else if addr.is_broadcast() {
            Some("the broadcast address".to_string())
        } else if addr.is_multicast() {
            Some("a multicast address".to_string())
        } else if *mac == id.mac && id.ip == Some(std::net::IpAddr::V4(addr)) {
            Some("this controller's own address".to_string())
        } else {
            None
        };
        if why.is_none() {
            let cand = self.candidate(ops)?;
            let interfaces = cand.device(*mac).map(|d| d.interfaces).unwrap_or_default();
            for (vlan, prefix) in interfaces {
                let Some((a, m)) = prefix.as_deref().and_then(|p| p.split_once('/')) else {
                    continue;
                };
                let (Ok(a), Ok(m)) = (a.parse::<std::net::Ipv4Addr>(), m.parse::<u32>()) else {
                    continue;
                };
                if m >= 31 {
                    continue;
                }
                let bcast = u32::from(a) | (u32::MAX >> m);
                if u32::from(addr) == bcast {
                    why = Some(format!("the broadcast address of interface vlan {vlan}"));
                }
            }
        }
        match why {
            Some(why) => Err(fail(format!(
                "% Error: cluster member ip {addr} is {why}: give the address of another cluster member\n"
            ))),
            None => Ok(()),
        }
    }

    fn deny(&self) -> Option<Output> {
        (self.role == Role::Monitor).then(|| {
            fail(format!(
                "% Error: user '{}' (role monitor) is not allowed to configure\n",
                self.user
            ))
        })
    }

    fn set_debug(
        &mut self,
        cluster_debug: Option<bool>,
        monitor: Option<bool>,
        ops: &dyn ControllerOps,
    ) -> Output {
        if let Some(d) = cluster_debug {
            self.cluster_debug = d;
        }
        if let Some(m) = monitor {
            self.log_monitor = m;
        }
        ops.set_debug(self.cluster_debug, self.log_monitor);
        ok("")
    }

    fn run(&mut self, act: Act, args: &[String], ops: &dyn ControllerOps) -> Output {
        let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
        let needs_config = matches!(
            act,
            Act::ConfigureTerminal
                | Act::Commit
                | Act::CommitWrite
                | Act::Write
                | Act::CopyRunStart
                | Act::SshKey
                | Act::JoinCluster
                | Act::RestoreRevision
                | Act::Cfg
                | Act::User
                | Act::SelfDevice
                | Act::Device
                | Act::NoDevice
        );
        if needs_config {
            if let Some(o) = self.deny() {
                return o;
            }
        }
        match act {
            Act::ShowClusterStatus => ok(render_cluster_status(&ops.snapshot().status)),
            Act::ShowClusterConfiguration => {
                let id = ops.identity();
                let s = ops
                    .running_config()
                    .device(id.mac)
                    .unwrap_or_else(|| DeviceSettings::default_for(id.mac, id.model));
                ok(render_cluster_configuration(&s))
            }
            Act::ShowClusterMembers => ok(render_cluster_members(&ops.snapshot().members)),
            Act::ShowClusterHistory => ok(render_cluster_history(&ops.snapshot().history)),
            Act::ShowClusterRevisions => ok(render_revisions(
                &(*ops.snapshot().revisions).clone().without_secrets(),
            )),
            Act::ShowClusterTraffic => ok(crate::views::render_traffic(&ops.snapshot().traffic)),
            Act::ShowWirelessAp => ok(crate::views::render_wireless_ap(&ops.snapshot().aps.rows)),
            Act::ShowWirelessApConfigured => ok(crate::views::render_wireless_ap_configured(
                &ops.snapshot().aps.rows,
            )),
            Act::ShowAdoptionHistory => ok(crate::views::render_adoption_history(
                &ops.snapshot().aps.history,
            )),
            Act::ShowAdoptionOffline => ok(crate::views::render_adoption_offline(
                &ops.snapshot().aps.rows,
            )),
            Act::ShowAdoptionStatus => {
                let mut text = crate::views::render_adoption_status(&ops.snapshot().aps);
                // The policy lines before the closing blank line.
                text.pop();
                text += &ops.running_config().policy_status(ops.identity().mac);
                text.push('\n');
                ok(text)
            }
            Act::ShowRunning | Act::WriteTerminal => ok(self.shown(ops.running_config().to_text())),
            Act::ShowHistory => ok(self
                .history
                .iter()
                .map(|l| format!("  {l}\n"))
                .collect::<String>()),
            Act::ShowStartup => match ops.startup_config() {
                Ok(mut t) => {
                    if !t.is_empty() && !t.ends_with('\n') {
                        t.push('\n');
                    }
                    ok(self.shown(t))
                }
                Err(e) => fail(format!("% Error: {e}")),
            },
            Act::ShowVersion => ok(render_version(&ops.identity())),
            Act::ShowLicenses => {
                let snap = ops.snapshot();
                ok(render_licenses(
                    &snap.status,
                    &ops.identity(),
                    &snap.licenses,
                ))
            }
            Act::ShowClock => ok(format!(
                "{}\n",
                chrono::Local::now().format("%Y-%m-%d %H:%M:%S %:z")
            )),
            Act::ShowContext => match &self.mode {
                Mode::Cfg(ctx) => {
                    let ctx = ctx.clone();
                    match self.candidate(ops) {
                        Ok(c) => ok(c.context_text(&ctx)),
                        Err(o) => o,
                    }
                }
                _ => ok(self.shown(ops.running_config().to_text())),
            },
            Act::TermLength | Act::TermWidth => {
                match num(&format!("terminal {}", arg(1)), arg(2), 0, 512) {
                    Ok(n) => {
                        if act == Act::TermLength {
                            self.term_length = n as u32;
                        } else {
                            self.term_width = n as u32;
                        }
                        ok("")
                    }
                    Err(e) => fail(format!("% Error: {e}")),
                }
            }
            Act::Page => {
                if self.term_length == 0 {
                    self.term_length = DEFAULT_LENGTH;
                }
                ok("")
            }
            Act::NoPage => {
                self.term_length = 0;
                ok("")
            }
            Act::Enable => {
                if self.mode == Mode::Exec {
                    self.mode = Mode::Priv;
                }
                ok("")
            }
            Act::Disable => {
                self.mode = Mode::Exec;
                ok("")
            }
            Act::ConfigureTerminal => {
                self.mode = Mode::Cfg(Ctx::Global);
                ok("")
            }
            Act::Exit => {
                self.mode = match &self.mode {
                    Mode::Exec | Mode::Priv => {
                        return Output {
                            close: true,
                            ..Output::default()
                        }
                    }
                    Mode::Cfg(Ctx::Global) => Mode::Priv,
                    Mode::Cfg(Ctx::Interface(m, _)) => Mode::Cfg(Ctx::Device(*m)),
                    Mode::Cfg(Ctx::Radio(n, _)) => Mode::Cfg(Ctx::Profile(n.clone())),
                    Mode::Cfg(Ctx::DhcpPool(n, _)) => Mode::Cfg(Ctx::DhcpPolicy(n.clone())),
                    Mode::Cfg(_) => Mode::Cfg(Ctx::Global),
                };
                ok("")
            }
            Act::End => {
                self.mode = Mode::Priv;
                ok("")
            }
            Act::Logout => Output {
                close: true,
                ..Output::default()
            },
            Act::Commit => match self.commit(ops) {
                Ok(()) => ok(""),
                Err(o) => o,
            },
            Act::CommitWrite => match self.commit(ops) {
                Ok(()) => self.write(ops),
                Err(o) => o,
            },
            Act::Write | Act::CopyRunStart => self.write(ops),
            Act::Revert => {
                self.pending.clear();
                ok("")
            }
            Act::JoinCluster => self.join(args, ops),
            Act::RestoreRevision => self.restore(args, ops),
            Act::DebugOn => self.set_debug(Some(true), None, ops),
            Act::DebugOff | Act::UndebugAll => self.set_debug(Some(false), None, ops),
            Act::LogMonOn => self.set_debug(None, Some(true), ops),
            Act::LogMonOff => self.set_debug(None, Some(false), ops),
            Act::Cfg => {
                if let ["cluster", "member", "ip", ip, ..] = args
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .as_slice()
                {
                    if let Err(o) = self.check_member_ip(ip, ops) {
                        return o;
                    }
                }
                self.config(args.join(" "), ops)
            }
            Act::User => self.user_cmd(args, ops),
            // `user NAME ssh-key TYPE BASE64 [comment]`: the comment of a `.pub` line is
            // accepted and dropped, as OpenSSH's authorized_keys does not need it.
            Act::SshKey => self.config(
                format!("user {} ssh-key {} {}", arg(1), arg(3), arg(4)),
                ops,
            ),
            Act::SelfDevice => {
                let id = ops.identity();
                let model = match self.candidate(ops) {
                    Ok(c) => c.device_model(id.mac).unwrap_or(id.model),
                    Err(o) => return o,
                };
                self.config(device_header(model, id.mac), ops)
            }
            Act::Device => {
                let Ok(mac) = arg(1).parse::<Mac>() else {
                    return fail(format!("% Error: '{}' is not a MAC address", arg(1)));
                };
                match self.candidate(ops) {
                    Ok(c) => match c.device_model(mac) {
                        Some(model) => self.config(device_header(model, mac), ops),
                        None => fail(format!(
                            "% Error: device {mac} does not exist (create it with '<model> {mac}', e.g. 'vx9000 {mac}')"
                        )),
                    },
                    Err(o) => o,
                }
            }
            Act::NoDevice => {
                let Ok(mac) = arg(2).parse::<Mac>() else {
                    return fail(format!("% Error: '{}' is not a MAC address", arg(2)));
                };
                if mac == ops.identity().mac {
                    return fail(format!(
                        "% Error: cannot remove the device section of this member ({mac})"
                    ));
                }
                let model = match model_of(arg(1)) {
                    Some(m) => Some(m),
                    None => match self.candidate(ops) {
                        Ok(c) => c.device_model(mac),
                        Err(o) => return o,
                    },
                };
                match model {
                    Some(model) => self.config(format!("no {}", device_header(model, mac)), ops),
                    None => fail(format!("% Error: device {mac} does not exist")),
                }
            }
        }
    }

    /// The session's candidate: the running config with the uncommitted changes replayed.
    fn candidate(&self, ops: &dyn ControllerOps) -> Result<ClusterConfig, Output> {
        let mut c = ops.running_config();
        if !self.pending.is_empty() {
            c.apply_draft(&self.pending.to_text()).map_err(|e| {
                fail(format!(
                    "% Error: uncommitted changes no longer apply to the running configuration ({e}); use 'revert' to discard them"
                ))
            })?;
        }
        Ok(c)
    }

    /// Runs a canonical config command in the current context against the candidate; on
    /// success records it (if it changed anything) and enters the section it opens.
    fn config(&mut self, line: String, ops: &dyn ControllerOps) -> Output {
        let Mode::Cfg(ctx) = self.mode.clone() else {
            return fail("% Error: not in configuration mode");
        };
        let mut cand = match self.candidate(ops) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let before = cand.clone();
        let toks: Vec<&str> = line.split_whitespace().collect();
        let entered = match cand.exec(&ctx, &toks) {
            Ok(e) => e,
            Err(m) => return fail(format!("% Error: {m}")),
        };
        if let Err((_, m)) = cand.validate_draft() {
            return fail(format!("% Error: {m}"));
        }
        if cand != before {
            self.pending.push(ctx_path(&before, &ctx), line);
        }
        if let Some(e) = entered {
            self.mode = Mode::Cfg(e);
        }
        ok("")
    }

    /// `user NAME password [0|1] PW role ROLE`: clear-text passwords are hashed here, so only
    /// the hash reaches the candidate, the change text and the config text.
    fn user_cmd(&mut self, args: &[String], ops: &dyn ControllerOps) -> Output {
        if let Some(name) = args.get(1).filter(|n| n.contains(':')) {
            return fail(format!(
                "% Error: invalid user name '{name}': ':' is not allowed (API logins send 'user:password')"
            ));
        }
        let (name, kind, pw, role) = match args {
            [_, name, _, pw, _, role] => (name, "0", pw, role),
            [_, name, _, kind, pw, _, role] => (name, kind.as_str(), pw, role),
            [_, name, _, _, hash, _, role, _, record] => {
                return self.config(
                    format!("user {name} password 1 {hash} role {role} opaque {record}"),
                    ops,
                )
            }
            _ => return fail("% Incomplete command."),
        };
        if kind == "1" {
            // A hash alone: the user can log in but not join controllers (no OPAQUE record).
            return self.config(format!("user {name} password 1 {pw} role {role}"), ops);
        }
        let hash = match hash_password(pw) {
            Ok(h) => h,
            Err(e) => return fail(format!("% Error: {e}")),
        };
        let record = match ops.join_server_keys() {
            Some(keys) => match roost_wire::pake::register(&keys, name, pw) {
                Ok(r) => format!(" opaque {r}"),
                Err(e) => return fail(format!("% Error: {e}")),
            },
            None => String::new(),
        };
        self.config(
            format!("user {name} password 1 {hash} role {role}{record}"),
            ops,
        )
    }

    fn commit(&mut self, ops: &dyn ControllerOps) -> Result<(), Output> {
        if self.pending.is_empty() {
            return Ok(());
        }
        // What a draft may leave unfinished (a DHCP pool's network, …) must be there now.
        if let Err((_, m)) = self.candidate(ops)?.validate() {
            return Err(fail(format!("% Error: {m}")));
        }
        match ops.commit(&self.user, &self.pending.to_text()) {
            Ok(_) => {
                self.pending.clear();
                Ok(())
            }
            Err(e) => Err(fail(format!("% Error: {e}"))),
        }
    }

    fn write(&mut self, ops: &dyn ControllerOps) -> Output {
        match ops.write_startup_config(&ops.running_config().to_text()) {
            Ok(()) => ok("[OK]\n"),
            Err(e) => fail(format!("% Error: {e}")),
        }
    }

    fn join(&mut self, args: &[String], ops: &dyn ControllerOps) -> Output {
        // join-cluster IP user U password P level L mode M
        let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
        let Ok(primary) = arg(1).parse::<std::net::IpAddr>() else {
            return fail(format!("% Error: '{}' is not an IP address", arg(1)));
        };
        let level = match num("level", arg(7), 1, 2).map(|n| MintLevel::from_number(n as u8)) {
            Ok(Some(l)) => l,
            Ok(None) => return fail("% Error: level must be 1 or 2"),
            Err(e) => return fail(format!("% Error: {e}")),
        };
        let mode = if arg(9) == "standby" {
            ClusterMode::Standby
        } else {
            ClusterMode::Active
        };
        let fingerprint = match args.get(10).map(String::as_str) {
            None => None,
            Some(_) => {
                let fp: String = arg(11)
                    .chars()
                    .filter(|c| *c != ':')
                    .collect::<String>()
                    .to_ascii_lowercase();
                if fp.len() != 64 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return fail("% Error: fingerprint must be the SHA-256 of the primary's certificate: 64 hex digits (':' allowed)");
                }
                Some(fp)
            }
        };
        let req = JoinClusterRequest {
            primary,
            user: arg(3).to_string(),
            password: arg(5).to_string(),
            level,
            mode,
            fingerprint,
        };
        let mut text = String::new();
        let res = ops.join_cluster(req, &mut |l: &str| {
            text.push_str(l.trim_end_matches('\n'));
            text.push('\n');
        });
        match res {
            Ok(()) => ok(text),
            Err(e) => {
                text.push_str(&format!("% Error: {e}\n"));
                fail(text)
            }
        }
    }

    fn restore(&mut self, args: &[String], ops: &dyn ControllerOps) -> Output {
        let number = match num(
            "revision",
            args.get(2).map(String::as_str).unwrap_or(""),
            0,
            u64::MAX,
        ) {
            Ok(n) => n,
            Err(e) => return fail(format!("% Error: {e}")),
        };
        let prefix = args.get(3).map(|p| p.to_ascii_lowercase());
        let view = ops.snapshot().revisions.clone();
        let found: Vec<_> = view
            .superseded
            .iter()
            .filter(|s| {
                s.head.number == number
                    && prefix
                        .as_ref()
                        .is_none_or(|p| hex(&s.head.hash).starts_with(p))
            })
            .collect();
        let sc = match found.as_slice() {
            [] => {
                return fail(format!(
                    "% Error: no superseded configuration with revision {number}{} (see 'show cluster revisions')",
                    prefix.map(|p| format!(" and hash {p}")).unwrap_or_default()
                ))
            }
            [one] => *one,
            many => {
                let heads: Vec<String> = many.iter().map(|s| s.head.short()).collect();
                return fail(format!(
                    "% Error: revision {number} is ambiguous ({}): give a hash prefix",
                    heads.join(", ")
                ));
            }
        };
        let config = match ClusterConfig::parse(&sc.config) {
            Ok(c) => c,
            Err(e) => {
                return fail(format!(
                    "% Error: superseded configuration {} is invalid: {e}",
                    sc.head.short()
                ))
            }
        };
        match ops.commit(&self.user, &Change::replace_config(&config)) {
            Ok(rev) => ok(format!(
                "Restored superseded configuration {} as revision {}\n",
                sc.head.short(),
                rev.short()
            )),
            Err(e) => fail(format!("% Error: {e}")),
        }
    }

    /// The grammar the complete tokens `done` of a partial line are walked in: the mode's, or
    /// after `do` in a configuration mode the privileged one (and the tokens after `do`).
    fn grammar_for<'t, 'a>(&self, done: &'t [Tok<'a>]) -> (&'static grammar::Node, &'t [Tok<'a>]) {
        match done.first() {
            Some(t) if matches!(self.mode, Mode::Cfg(_)) && t.text.eq_ignore_ascii_case("do") => {
                (grammar(Kind::Priv), &done[1..])
            }
            _ => (grammar(self.mode.kind()), done),
        }
    }

    /// Splits a partial line into the complete tokens and the word being typed.
    fn split_partial(partial: &str) -> (Vec<Tok<'_>>, Option<Tok<'_>>) {
        let mut toks = tokenize(partial);
        if partial.is_empty() || partial.ends_with(char::is_whitespace) {
            (toks, None)
        } else {
            let last = toks.pop();
            (toks, last)
        }
    }

    /// `?` help for a partial line (the text before the `?`).
    pub fn help(&self, partial: &str, ops: &dyn ControllerOps) -> String {
        let _ = ops;
        let (done, last) = Self::split_partial(partial);
        let (root, done) = self.grammar_for(&done);
        let node = match walk(root, done) {
            Ok((n, _)) => n,
            Err(MatchErr::Ambiguous(i)) => {
                return format!(
                    "% Ambiguous command: \"{}\"\n",
                    redact(&join_toks(&done[..=i]))
                )
            }
            Err(_) => return "% Unrecognized command\n".into(),
        };
        let word = last.as_ref().map(|t| t.text).unwrap_or("");
        let mut rows: Vec<(&str, &str)> = candidates(node, word)
            .iter()
            .map(|c| (c.name(), c.help))
            .collect();
        let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        if last.is_none() && node.act.is_some() && !std::ptr::eq(node, root) {
            rows.push(("<cr>", ""));
        }
        if rows.is_empty() {
            return "% Unrecognized command\n".into();
        }
        rows.iter()
            .map(|(n, h)| {
                if h.is_empty() {
                    format!("  {n}\n")
                } else {
                    format!("  {n:<width$}  {h}\n")
                }
            })
            .collect()
    }

    /// Tab completion: the completed line if unique, else the candidates.
    pub fn complete(&self, partial: &str, ops: &dyn ControllerOps) -> Completion {
        let _ = ops;
        let (done, last) = Self::split_partial(partial);
        let (root, done) = self.grammar_for(&done);
        let Ok((node, _)) = walk(root, done) else {
            return Completion::Candidates(Vec::new());
        };
        let word = last.as_ref().map(|t| t.text).unwrap_or("");
        let cands = candidates(node, word);
        if let Some(t) = &last {
            let kws: Vec<&grammar::Node> =
                cands.iter().copied().filter(|c| c.kw.is_some()).collect();
            if let [k] = kws.as_slice() {
                return Completion::Line(format!("{}{} ", &partial[..t.byte], k.name()));
            }
        }
        Completion::Candidates(cands.iter().map(|c| c.name().to_string()).collect())
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum FilterKind {
    Include,
    Exclude,
    Begin,
}

/// An output modifier: `| include <re>`, `| exclude <re>`, `| begin <re>`.
struct Filter {
    kind: FilterKind,
    re: regex::Regex,
}

impl Filter {
    fn apply(&self, text: &str) -> String {
        let mut out = String::new();
        let mut begun = false;
        for l in text.lines() {
            let hit = self.re.is_match(l);
            let keep = match self.kind {
                FilterKind::Include => hit,
                FilterKind::Exclude => !hit,
                FilterKind::Begin => {
                    begun |= hit;
                    begun
                }
            };
            if keep {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}
