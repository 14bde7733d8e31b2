//! `auto-provisioning-policy <NAME>` (WiNG's rule syntax, issue 9): a policy's text, parsed
//! into and written back from the AC's own form (`roost_adoption::policy::Policy`), so that
//! the configuration holds exactly what the AC evaluates.
//!
//! ```text
//! auto-provisioning-policy campus
//!  adopt ap7532 precedence 10 profile lab ip 10.1.0.0/16
//!  deny anyap precedence 20 mac 00-23-68-00-00-10 00-23-68-00-00-19
//!  redirect ap8533 precedence 30 controller 10.9.9.9 level 2 pool 1 any
//!  default-adoption
//!  evaluate-always
//! ```

use crate::model::{check_word, num, AP_MODELS};
use roost_adoption::policy::{Action, DeviceType, Match, Policy, Rule};
use roost_wire::Mac;
use std::net::Ipv4Addr;

/// At most this many characters in a policy's name (WiNG's limit).
pub const POLICY_NAME_MAX: usize = 32;

/// Runs one command in a policy's context. `Err("")` is an unknown command.
pub(crate) fn exec_policy(p: &mut Policy, toks: &[&str]) -> Result<(), String> {
    match toks {
        ["default-adoption"] => p.default_adoption = true,
        ["no", "default-adoption"] => p.default_adoption = false,
        ["evaluate-always"] => p.evaluate_always = true,
        ["no", "evaluate-always"] => p.evaluate_always = false,
        ["no", "adopt" | "deny" | "redirect", _, "precedence", n, ..] => {
            let n = num("precedence", n, 1, 10_000)? as u16;
            if !p.remove_rule(n) {
                return Err(format!("no rule at precedence {n}"));
            }
        }
        ["adopt" | "deny" | "redirect", ..] => {
            p.set_rule(parse_rule(toks)?);
        }
        _ => return Err(String::new()),
    }
    Ok(())
}

fn ip(what: &str, s: &str) -> Result<Ipv4Addr, String> {
    s.parse()
        .map_err(|_| format!("{what}: '{s}' is not an IPv4 address A.B.C.D"))
}

fn mac(s: &str) -> Result<Mac, String> {
    s.parse()
        .map_err(|_| format!("mac: '{s}' is not a MAC address AA-BB-CC-DD-EE-FF"))
}

/// Parses `<adopt|deny|redirect> <type> precedence <N> [target] <match>`.
pub(crate) fn parse_rule(toks: &[&str]) -> Result<Rule, String> {
    let [verb, device, "precedence", n, rest @ ..] = toks else {
        return Err(format!(
            "'{}': expected <adopt|deny|redirect> <anyap|model> precedence <1-10000> … <match>",
            toks.join(" ")
        ));
    };
    if *device != "anyap" && !AP_MODELS.contains(device) {
        return Err(format!(
            "{verb}: '{device}' is not an AP type (anyap, {})",
            AP_MODELS.join(", ")
        ));
    }
    let precedence = num("precedence", n, 1, 10_000)? as u16;
    let (action, rest) = match (*verb, rest) {
        ("adopt", ["profile", ..]) if *device == "anyap" => {
            return Err(format!(
                "adopt anyap: a profile is for one AP model; name the model (e.g. adopt {} precedence {n} profile …)",
                AP_MODELS[0]
            ))
        }
        ("adopt", ["profile", p, rest @ ..]) => (
            Action::Adopt {
                profile: Some(check_word("profile name", p, 32)?),
            },
            rest,
        ),
        ("adopt", rest) => (Action::Adopt { profile: None }, rest),
        ("deny", rest) => (Action::Deny, rest),
        ("redirect", ["controller", c, rest @ ..]) => {
            let controller = ip("redirect controller", c)?;
            let (level, rest) = match rest {
                ["level", l, rest @ ..] => (Some(num("level", l, 1, 2)? as u8), rest),
                rest => (None, rest),
            };
            let (pool, rest) = match rest {
                ["pool", l, rest @ ..] => (Some(num("pool", l, 1, 2)? as u8), rest),
                rest => (None, rest),
            };
            (
                Action::Redirect {
                    controller,
                    level,
                    pool,
                },
                rest,
            )
        }
        ("redirect", _) => return Err("redirect: 'controller <IP>' expected".into()),
        _ => return Err(String::new()),
    };
    let matcher = match rest {
        ["any"] => Match::Any,
        ["mac", a] => {
            let a = mac(a)?;
            Match::Mac { start: a, end: a }
        }
        ["mac", a, b] => {
            let (a, b) = (mac(a)?, mac(b)?);
            if a.0 > b.0 {
                return Err(format!("mac: the range {a} {b} ends before it starts"));
            }
            Match::Mac { start: a, end: b }
        }
        ["model-number", m] => Match::ModelNumber(check_word("model-number", m, 64)?),
        ["serial-number", s] => Match::SerialNumber(check_word("serial-number", s, 64)?),
        ["ip", a, b] => {
            let (a, b) = (ip("ip", a)?, ip("ip", b)?);
            if a > b {
                return Err(format!("ip: the range {a} {b} ends before it starts"));
            }
            Match::IpRange { start: a, end: b }
        }
        ["ip", p] => {
            let bad = || format!("ip: '{p}' is not a range <start> <end> or a prefix A.B.C.D/M");
            let (a, m) = p.split_once('/').ok_or_else(bad)?;
            let a = a.parse::<Ipv4Addr>().map_err(|_| bad())?;
            let m = num("ip prefix length", m, 0, 32)? as u8;
            Match::IpPrefix { network: a, len: m }
        }
        [] => {
            return Err(format!(
                "{verb}: a match is missing (any, mac, model-number, serial-number, ip)"
            ))
        }
        other => {
            return Err(format!(
                "{verb}: '{}' is not a match (any, mac, model-number, serial-number, ip)",
                other.join(" ")
            ))
        }
    };
    Ok(Rule {
        action,
        device: if *device == "anyap" {
            DeviceType::AnyAp
        } else {
            DeviceType::Model(device.to_string())
        },
        precedence,
        matcher,
    })
}

/// The rule's line, as `parse_rule` reads it.
pub fn rule_line(r: &Rule) -> String {
    let device = match &r.device {
        DeviceType::AnyAp => "anyap",
        DeviceType::Model(m) => m,
    };
    let head = |verb: &str| format!("{verb} {device} precedence {}", r.precedence);
    let mut s = match &r.action {
        Action::Adopt { profile: None } => head("adopt"),
        Action::Adopt { profile: Some(p) } => format!("{} profile {p}", head("adopt")),
        Action::Deny => head("deny"),
        Action::Redirect {
            controller,
            level,
            pool,
        } => {
            let mut s = format!("{} controller {controller}", head("redirect"));
            if let Some(l) = level {
                s += &format!(" level {l}");
            }
            if let Some(p) = pool {
                s += &format!(" pool {p}");
            }
            s
        }
    };
    s += &match &r.matcher {
        Match::Any => " any".to_string(),
        Match::Mac { start: a, end: b } if a == b => format!(" mac {a}"),
        Match::Mac { start: a, end: b } => format!(" mac {a} {b}"),
        Match::ModelNumber(m) => format!(" model-number {m}"),
        Match::SerialNumber(n) => format!(" serial-number {n}"),
        Match::IpRange { start: a, end: b } => format!(" ip {a} {b}"),
        Match::IpPrefix { network: a, len: m } => format!(" ip {a}/{m}"),
    };
    s
}

/// The policy's body lines (one space of indent).
pub(crate) fn policy_lines(p: &Policy) -> Vec<String> {
    let mut out: Vec<String> = p
        .rules()
        .iter()
        .map(|r| format!(" {}", rule_line(r)))
        .collect();
    if p.default_adoption {
        out.push(" default-adoption".into());
    }
    if p.evaluate_always {
        out.push(" evaluate-always".into());
    }
    out
}

/// The grammar's specs for a policy's context: every rule form, with `WORD` for the AP type
/// (checked by [`parse_rule`], which names the types).
pub(crate) fn grammar_specs() -> Vec<String> {
    let matches = [
        "any",
        "mac AA-BB-CC-DD-EE-FF",
        "mac AA-BB-CC-DD-EE-FF AA-BB-CC-DD-EE-FF",
        "model-number WORD",
        "serial-number WORD",
        "ip A.B.C.D A.B.C.D",
        "ip A.B.C.D/M",
    ];
    let heads = [
        "adopt WORD precedence <1-10000>",
        "adopt WORD precedence <1-10000> profile WORD",
        "deny WORD precedence <1-10000>",
        "redirect WORD precedence <1-10000> controller A.B.C.D",
        "redirect WORD precedence <1-10000> controller A.B.C.D level <1-2>",
        "redirect WORD precedence <1-10000> controller A.B.C.D pool <1-2>",
        "redirect WORD precedence <1-10000> controller A.B.C.D level <1-2> pool <1-2>",
    ];
    let mut out: Vec<String> = heads
        .iter()
        .flat_map(|h| matches.iter().map(move |m| format!("{h} {m}")))
        .collect();
    for v in ["adopt", "deny", "redirect"] {
        out.push(format!("no {v} WORD precedence <1-10000>"));
    }
    for f in ["default-adoption", "evaluate-always"] {
        out.push(f.to_string());
        out.push(format!("no {f}"));
    }
    out
}
