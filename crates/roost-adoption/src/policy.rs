//! WiNG's auto-provisioning policy as a pure function: which rule an AP's Join meets, and
//! what it decides (adopt, with a profile or the model's default; deny; redirect to another
//! controller). Rules are taken in ascending precedence and the first match wins (WiNG: "a
//! rule with a lower value has a higher precedence"); with no match, `default-adoption`
//! decides (off by default: not adopted). Only fields a WTP reports are matched: its MAC
//! (Board Data base MAC), model and serial (Board Data), and its address.
//!
//! A policy is data: the configuration model parses it, the AC evaluates it at a Join. Nothing
//! here allocates per evaluation, so that 25,600 Joins against 1,000 rules cost little.

use roost_wire::Mac;
use std::net::Ipv4Addr;

/// The device type a rule applies to: any AP, or one model keyword (`ap7532`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceType {
    AnyAp,
    /// Lower case, as WiNG's keywords (`ap7532`); compared with the WTP's model ignoring case.
    Model(String),
}

/// What a rule matches, besides the device type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    Any,
    /// `mac <start> [<end>]`: inclusive; a single MAC is a range of one.
    Mac {
        start: Mac,
        end: Mac,
    },
    /// `model-number <M>`: the WTP's Board Data model, ignoring case.
    ModelNumber(String),
    /// `serial-number <S>`: exactly.
    SerialNumber(String),
    /// `ip <start> <end>`: inclusive.
    IpRange {
        start: Ipv4Addr,
        end: Ipv4Addr,
    },
    /// `ip <prefix>/<len>`.
    IpPrefix {
        network: Ipv4Addr,
        len: u8,
    },
}

/// What a matching rule does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `adopt … [profile <P>]`: None is the model's default profile.
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

/// One rule of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    pub device: DeviceType,
    /// 1..=10000; lower first. A policy has at most one rule per precedence.
    pub precedence: u16,
    pub matcher: Match,
}

/// `auto-provisioning-policy <NAME>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    /// Kept sorted by precedence ([`Policy::new`]).
    rules: Vec<Rule>,
    /// `default-adoption`: adopt (with the model's default profile) when no rule matches.
    pub default_adoption: bool,
    /// `evaluate-always`: run the rules at every adoption; off: an AP keeps its first mapping.
    pub evaluate_always: bool,
}

/// What a WTP says about itself in its Join Request.
#[derive(Clone, Copy, Debug)]
pub struct WtpFacts<'a> {
    pub mac: Mac,
    pub model: &'a str,
    pub serial: &'a str,
    pub ip: Ipv4Addr,
}

/// The policy's answer for one AP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Adopt it: with `rule`'s profile, or (no rule: `default-adoption`) the model's default.
    Adopt { rule: Option<&'a Rule> },
    /// Refuse it: `rule` denied it, or (None) no rule matched and `default-adoption` is off.
    Deny { rule: Option<&'a Rule> },
    /// Send it to another controller.
    Redirect { rule: &'a Rule },
}

impl Policy {
    /// A policy with `rules` in any order; at most one per precedence (a later one with the
    /// same precedence replaces the earlier, as re-entering a rule does in the CLI).
    pub fn new(
        name: &str,
        rules: Vec<Rule>,
        default_adoption: bool,
        evaluate_always: bool,
    ) -> Self {
        let mut p = Policy {
            name: name.to_string(),
            rules: Vec::with_capacity(rules.len()),
            default_adoption,
            evaluate_always,
        };
        for r in rules {
            p.set_rule(r);
        }
        p
    }

    /// Adds `rule`, replacing the one with its precedence.
    pub fn set_rule(&mut self, rule: Rule) {
        match self
            .rules
            .binary_search_by_key(&rule.precedence, |r| r.precedence)
        {
            Ok(i) => self.rules[i] = rule,
            Err(i) => self.rules.insert(i, rule),
        }
    }

    /// Removes the rule with `precedence`; whether there was one.
    pub fn remove_rule(&mut self, precedence: u16) -> bool {
        match self
            .rules
            .binary_search_by_key(&precedence, |r| r.precedence)
        {
            Ok(i) => {
                self.rules.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// The rule at `precedence`, if any.
    pub fn rule(&self, precedence: u16) -> Option<&Rule> {
        self.rules
            .binary_search_by_key(&precedence, |r| r.precedence)
            .ok()
            .map(|i| &self.rules[i])
    }

    /// The rules, lowest precedence first.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The first rule (lowest precedence) that `ap` meets decides.
    pub fn evaluate<'a>(&'a self, ap: &WtpFacts<'_>) -> Decision<'a> {
        match self.rules.iter().find(|r| r.matches(ap)) {
            Some(rule) => match rule.action {
                Action::Adopt { .. } => Decision::Adopt { rule: Some(rule) },
                Action::Deny => Decision::Deny { rule: Some(rule) },
                Action::Redirect { .. } => Decision::Redirect { rule },
            },
            None if self.default_adoption => Decision::Adopt { rule: None },
            None => Decision::Deny { rule: None },
        }
    }
}

impl Rule {
    pub fn matches(&self, ap: &WtpFacts<'_>) -> bool {
        let device = match &self.device {
            DeviceType::AnyAp => true,
            DeviceType::Model(m) => m.eq_ignore_ascii_case(ap.model),
        };
        device
            && match &self.matcher {
                Match::Any => true,
                Match::Mac { start, end } => (start.0..=end.0).contains(&ap.mac.0),
                Match::ModelNumber(m) => m.eq_ignore_ascii_case(ap.model),
                Match::SerialNumber(s) => s == ap.serial,
                Match::IpRange { start, end } => (*start..=*end).contains(&ap.ip),
                Match::IpPrefix { network, len } => {
                    let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
                    u32::from(ap.ip) & mask == u32::from(*network) & mask
                }
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn facts<'a>(mac: u8, model: &'a str, serial: &'a str, ip: [u8; 4]) -> WtpFacts<'a> {
        WtpFacts {
            mac: Mac([0x00, 0x23, 0x68, 0, 0, mac]),
            model,
            serial,
            ip: Ipv4Addr::from(ip),
        }
    }

    fn rule(action: Action, device: DeviceType, precedence: u16, matcher: Match) -> Rule {
        Rule {
            action,
            device,
            precedence,
            matcher,
        }
    }

    #[test]
    fn the_lowest_precedence_that_matches_decides_and_default_adoption_covers_the_rest() {
        let deny_range = rule(
            Action::Deny,
            DeviceType::AnyAp,
            20,
            Match::Mac {
                start: Mac([0x00, 0x23, 0x68, 0, 0, 10]),
                end: Mac([0x00, 0x23, 0x68, 0, 0, 19]),
            },
        );
        let lab = rule(
            Action::Adopt {
                profile: Some("lab".into()),
            },
            DeviceType::Model("ap7532".into()),
            10,
            Match::IpPrefix {
                network: Ipv4Addr::new(10, 1, 0, 0),
                len: 16,
            },
        );
        let away = rule(
            Action::Redirect {
                controller: Ipv4Addr::new(10, 9, 9, 9),
                level: Some(2),
                pool: Some(1),
            },
            DeviceType::Model("ap8533".into()),
            30,
            Match::Any,
        );
        // Given out of order: kept by precedence.
        let mut p = Policy::new(
            "p",
            vec![deny_range.clone(), away.clone(), lab.clone()],
            false,
            false,
        );
        assert_eq!(
            p.rules().iter().map(|r| r.precedence).collect::<Vec<_>>(),
            [10, 20, 30]
        );
        // In the lab's subnet, an AP7532 in the denied MAC range is adopted: 10 comes first.
        let ap = facts(12, "AP7532", "S1", [10, 1, 2, 3]);
        assert_eq!(p.evaluate(&ap), Decision::Adopt { rule: Some(&lab) });
        let ap = facts(12, "AP7532", "S1", [10, 2, 2, 3]);
        assert_eq!(
            p.evaluate(&ap),
            Decision::Deny {
                rule: Some(&deny_range)
            }
        );
        let ap = facts(30, "AP8533", "S2", [10, 2, 2, 3]);
        assert_eq!(p.evaluate(&ap), Decision::Redirect { rule: &away });
        // No rule: refused unless default-adoption.
        let ap = facts(30, "AP6521", "S3", [10, 2, 2, 3]);
        assert_eq!(p.evaluate(&ap), Decision::Deny { rule: None });
        p.default_adoption = true;
        assert_eq!(p.evaluate(&ap), Decision::Adopt { rule: None });
        // A rule at an existing precedence replaces it; removing it twice says so.
        p.set_rule(rule(
            Action::Deny,
            DeviceType::AnyAp,
            10,
            Match::SerialNumber("S1".into()),
        ));
        let ap = facts(12, "AP7532", "S1", [10, 1, 2, 3]);
        assert!(matches!(p.evaluate(&ap), Decision::Deny { rule: Some(r) } if r.precedence == 10));
        assert!(p.remove_rule(10));
        assert!(!p.remove_rule(10));
    }

    #[test]
    fn matchers_take_their_bounds_inclusively_and_models_ignoring_case() {
        let ap = facts(5, "AP7532", "X9", [192, 168, 1, 200]);
        let m = |matcher| rule(Action::Deny, DeviceType::AnyAp, 1, matcher).matches(&ap);
        assert!(m(Match::Any));
        assert!(m(Match::Mac {
            start: ap.mac,
            end: ap.mac
        }));
        assert!(!m(Match::Mac {
            start: Mac([0x00, 0x23, 0x68, 0, 0, 6]),
            end: Mac([0x00, 0x23, 0x68, 0, 0, 9])
        }));
        assert!(m(Match::ModelNumber("ap7532".into())));
        assert!(m(Match::SerialNumber("X9".into())));
        assert!(!m(Match::SerialNumber("x9".into())));
        assert!(m(Match::IpRange {
            start: Ipv4Addr::new(192, 168, 1, 200),
            end: Ipv4Addr::new(192, 168, 1, 200)
        }));
        assert!(m(Match::IpPrefix {
            network: Ipv4Addr::new(192, 168, 0, 0),
            len: 23
        }));
        assert!(!m(Match::IpPrefix {
            network: Ipv4Addr::new(192, 168, 2, 0),
            len: 24
        }));
        assert!(m(Match::IpPrefix {
            network: Ipv4Addr::new(1, 2, 3, 4),
            len: 0
        }));
        let typed = rule(
            Action::Deny,
            DeviceType::Model("ap8533".into()),
            1,
            Match::Any,
        );
        assert!(!typed.matches(&ap));
    }

    fn arb_rule() -> impl Strategy<Value = Rule> {
        let action = prop_oneof![
            Just(Action::Deny),
            Just(Action::Adopt { profile: None }),
            Just(Action::Redirect {
                controller: Ipv4Addr::new(10, 0, 0, 9),
                level: None,
                pool: None
            }),
        ];
        let device = prop_oneof![
            Just(DeviceType::AnyAp),
            Just(DeviceType::Model("ap7532".into())),
            Just(DeviceType::Model("ap8533".into())),
        ];
        let matcher = prop_oneof![
            Just(Match::Any),
            (0u8..40, 0u8..40).prop_map(|(a, b)| Match::Mac {
                start: Mac([0x00, 0x23, 0x68, 0, 0, a.min(b)]),
                end: Mac([0x00, 0x23, 0x68, 0, 0, a.max(b)]),
            }),
            (0u8..4).prop_map(|s| Match::SerialNumber(format!("S{s}"))),
            (0u8..8, 0u8..8).prop_map(|(a, b)| Match::IpRange {
                start: Ipv4Addr::new(10, 0, 0, a.min(b)),
                end: Ipv4Addr::new(10, 0, 0, a.max(b)),
            }),
            (0u8..=32).prop_map(|len| Match::IpPrefix {
                network: Ipv4Addr::new(10, 0, 0, 0),
                len
            }),
        ];
        (action, device, 1u16..=50, matcher).prop_map(|(action, device, precedence, matcher)| {
            Rule {
                action,
                device,
                precedence,
                matcher,
            }
        })
    }

    proptest! {
        /// First match wins: the decision is the action of the lowest-precedence rule that
        /// matches (the last written of that precedence), found by brute force; with none,
        /// `default-adoption` decides.
        #[test]
        fn the_decision_is_the_first_matching_rule_by_precedence(
            rules in proptest::collection::vec(arb_rule(), 0..30),
            default_adoption: bool,
            mac in 0u8..40,
            model in prop_oneof![Just("AP7532"), Just("ap8533"), Just("AP6521")],
            serial in 0u8..4,
            host in 0u8..10,
        ) {
            let p = Policy::new("p", rules.clone(), default_adoption, false);
            let serial = format!("S{serial}");
            let ap = facts(mac, model, &serial, [10, 0, 0, host]);
            // The rule in force at each precedence is the last one given.
            let mut by_precedence = std::collections::BTreeMap::new();
            for r in &rules {
                by_precedence.insert(r.precedence, r.clone());
            }
            let first = by_precedence.values().find(|r| r.matches(&ap));
            let got = p.evaluate(&ap);
            match (first, got) {
                (Some(r), Decision::Adopt { rule: Some(g) })
                | (Some(r), Decision::Deny { rule: Some(g) })
                | (Some(r), Decision::Redirect { rule: g }) => prop_assert_eq!(r, g),
                (None, Decision::Adopt { rule: None }) => prop_assert!(default_adoption),
                (None, Decision::Deny { rule: None }) => prop_assert!(!default_adoption),
                (f, g) => prop_assert!(false, "expected {:?}, got {:?}", f, g),
            }
            if let Decision::Adopt { rule: Some(r) } = got {
                let adopts = matches!(r.action, Action::Adopt { .. });
                prop_assert!(adopts, "an adopt decision from a rule that does not adopt");
            }
        }
    }
}
