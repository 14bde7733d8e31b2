//! `auto-provisioning-policy <NAME>` (WiNG's rule syntax, issue 9): the configuration form of
//! a policy, parsed and written back. The AC's evaluator is `roost_adoption::policy`; the
//! daemon converts this form into it.
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
use roost_wire::Mac;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// What a rule does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleAction {
    /// `adopt … [profile <P>]`.
    Adopt {
        profile: Option<String>,
    },
    Deny,
    /// `redirect … controller <IP> [level 1|2] [pool 1|2]`.
    Redirect {
        controller: Ipv4Addr,
        level: Option<u8>,
        pool: Option<u8>,
    },
}

/// What a rule matches (only fields a WTP reports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleMatch {
    Any,
    /// `mac <start> [<end>]`, inclusive.
    Mac(Mac, Mac),
    ModelNumber(String),
    SerialNumber(String),
    /// `ip <start> <end>`, inclusive.
    IpRange(Ipv4Addr, Ipv4Addr),
    /// `ip <A.B.C.D/M>`.
    IpPrefix(Ipv4Addr, u8),
}

/// One rule: `<adopt|deny|redirect> <type> precedence <1-10000> … <match>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvisioningRule {
    pub action: RuleAction,
    /// `anyap` or an AP model keyword (`ap7532`).
    pub device: String,
    pub precedence: u16,
    pub matcher: RuleMatch,
}

/// `auto-provisioning-policy <NAME>`: its rules by precedence (one per precedence: a rule
/// entered again at a precedence replaces it), and its two flags (both off by default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProvisioningPolicy {
    pub rules: BTreeMap<u16, ProvisioningRule>,
    /// `default-adoption`: adopt an AP no rule matches.
    pub default_adoption: bool,
    /// `evaluate-always`: run the rules at every adoption.
    pub evaluate_always: bool,
}

/// At most this many characters in a policy's name (WiNG's limit).
pub const POLICY_NAME_MAX: usize = 32;

/// Runs one command in a policy's context. `Err("")` is an unknown command.
pub(crate) fn exec_policy(p: &mut ProvisioningPolicy, toks: &[&str]) -> Result<(), String> {
    match toks {
        ["default-adoption"] => p.default_adoption = true,
        ["no", "default-adoption"] => p.default_adoption = false,
        ["evaluate-always"] => p.evaluate_always = true,
        ["no", "evaluate-always"] => p.evaluate_always = false,
        ["no", "adopt" | "deny" | "redirect", _, "precedence", n, ..] => {
            let n = num("precedence", n, 1, 10_000)? as u16;
            if p.rules.remove(&n).is_none() {
                return Err(format!("no rule at precedence {n}"));
            }
        }
        ["adopt" | "deny" | "redirect", ..] => {
            let r = parse_rule(toks)?;
            p.rules.insert(r.precedence, r);
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
pub(crate) fn parse_rule(toks: &[&str]) -> Result<ProvisioningRule, String> {
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
        ("adopt", ["profile", p, rest @ ..]) => (
            RuleAction::Adopt {
                profile: Some(check_word("profile name", p, 32)?),
            },
            rest,
        ),
        ("adopt", rest) => (RuleAction::Adopt { profile: None }, rest),
        ("deny", rest) => (RuleAction::Deny, rest),
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
                RuleAction::Redirect {
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
        ["any"] => RuleMatch::Any,
        ["mac", a] => {
            let a = mac(a)?;
            RuleMatch::Mac(a, a)
        }
        ["mac", a, b] => {
            let (a, b) = (mac(a)?, mac(b)?);
            if a.0 > b.0 {
                return Err(format!("mac: the range {a} {b} ends before it starts"));
            }
            RuleMatch::Mac(a, b)
        }
        ["model-number", m] => RuleMatch::ModelNumber(check_word("model-number", m, 64)?),
        ["serial-number", s] => RuleMatch::SerialNumber(check_word("serial-number", s, 64)?),
        ["ip", a, b] => {
            let (a, b) = (ip("ip", a)?, ip("ip", b)?);
            if a > b {
                return Err(format!("ip: the range {a} {b} ends before it starts"));
            }
            RuleMatch::IpRange(a, b)
        }
        ["ip", p] => {
            let bad = || format!("ip: '{p}' is not a range <start> <end> or a prefix A.B.C.D/M");
            let (a, m) = p.split_once('/').ok_or_else(bad)?;
            let a = a.parse::<Ipv4Addr>().map_err(|_| bad())?;
            let m = num("ip prefix length", m, 0, 32)? as u8;
            RuleMatch::IpPrefix(a, m)
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
    Ok(ProvisioningRule {
        action,
        device: device.to_string(),
        precedence,
        matcher,
    })
}

/// The rule's line, as `parse_rule` reads it.
pub fn rule_line(r: &ProvisioningRule) -> String {
    let head = |verb: &str| format!("{verb} {} precedence {}", r.device, r.precedence);
    let mut s = match &r.action {
        RuleAction::Adopt { profile: None } => head("adopt"),
        RuleAction::Adopt { profile: Some(p) } => format!("{} profile {p}", head("adopt")),
        RuleAction::Deny => head("deny"),
        RuleAction::Redirect {
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
        RuleMatch::Any => " any".to_string(),
        RuleMatch::Mac(a, b) if a == b => format!(" mac {a}"),
        RuleMatch::Mac(a, b) => format!(" mac {a} {b}"),
        RuleMatch::ModelNumber(m) => format!(" model-number {m}"),
        RuleMatch::SerialNumber(n) => format!(" serial-number {n}"),
        RuleMatch::IpRange(a, b) => format!(" ip {a} {b}"),
        RuleMatch::IpPrefix(a, m) => format!(" ip {a}/{m}"),
    };
    s
}

/// The policy's body lines (one space of indent).
pub(crate) fn policy_lines(p: &ProvisioningPolicy) -> Vec<String> {
    let mut out: Vec<String> = p
        .rules
        .values()
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
