//! The firmware gate (WiNG's `enforce-version adoption`): an AP whose active software version
//! does not match the version the cluster expects for its model is refused.
//!
//! WiNG compares an AP's firmware with the AP image the controller carries for that model.
//! Roost carries no AP images, so the expected version per model is configuration
//! (`ap-firmware <model> <version>`, a Roost extension); a model without one passes, so that
//! WTPs of models no one configured (a foreign WTP) keep adopting. The levels are WiNG's, on its
//! dotted four-part versions such as `5.9.3.0-010D`: `strict` compares the whole string,
//! `full` the four numbers, `minor` the first three, `major` the first two, `none` nothing.

use std::collections::BTreeMap;
use std::fmt;

/// `enforce-version adoption <level>`: how much of the version must match.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EnforceVersion {
    /// The whole string (WiNG's default).
    #[default]
    Strict,
    /// The four dotted parts, ignoring the build suffix after `-`.
    Full,
    /// The first three parts.
    Minor,
    /// The first two parts.
    Major,
    /// Any version.
    None,
}

impl EnforceVersion {
    /// The keyword, as the CLI writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            EnforceVersion::Strict => "strict",
            EnforceVersion::Full => "full",
            EnforceVersion::Minor => "minor",
            EnforceVersion::Major => "major",
            EnforceVersion::None => "none",
        }
    }

    pub fn from_keyword(s: &str) -> Option<EnforceVersion> {
        [
            EnforceVersion::Strict,
            EnforceVersion::Full,
            EnforceVersion::Minor,
            EnforceVersion::Major,
            EnforceVersion::None,
        ]
        .into_iter()
        .find(|l| l.keyword() == s)
    }

    /// Whether `actual` passes against `expected` at this level.
    pub fn matches(self, expected: &str, actual: &str) -> bool {
        let parts = |v: &str, n: usize| -> Vec<String> {
            let numbers = v.split('-').next().unwrap_or("");
            numbers.split('.').take(n).map(str::to_string).collect()
        };
        match self {
            EnforceVersion::Strict => expected == actual,
            EnforceVersion::Full => parts(expected, 4) == parts(actual, 4),
            EnforceVersion::Minor => parts(expected, 3) == parts(actual, 3),
            EnforceVersion::Major => parts(expected, 2) == parts(actual, 2),
            EnforceVersion::None => true,
        }
    }
}

impl fmt::Display for EnforceVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.keyword())
    }
}

/// The gate as the AC applies it at every Join.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FirmwareGate {
    pub level: EnforceVersion,
    /// The expected version per AP model, upper case as the WTP's Board Data names it.
    pub expected: BTreeMap<String, String>,
}

/// Why the gate refused an AP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub expected: String,
    pub level: EnforceVersion,
}

impl FirmwareGate {
    /// Whether an AP of `model` running `version` may adopt.
    pub fn check(&self, model: &str, version: &str) -> Result<(), Mismatch> {
        match self.expected.get(&model.to_ascii_uppercase()) {
            Some(expected) if !self.level.matches(expected, version) => Err(Mismatch {
                expected: expected.clone(),
                level: self.level,
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_level_compares_its_number_of_parts() {
        let e = "5.9.3.0-010D";
        let cases = [
            ("5.9.3.0-010D", [true, true, true, true, true]),
            ("5.9.3.0-011R", [false, true, true, true, true]),
            ("5.9.3.1-010D", [false, false, true, true, true]),
            ("5.9.4.0-010D", [false, false, false, true, true]),
            ("5.8.3.0-010D", [false, false, false, false, true]),
            ("", [false, false, false, false, true]),
        ];
        let levels = [
            EnforceVersion::Strict,
            EnforceVersion::Full,
            EnforceVersion::Minor,
            EnforceVersion::Major,
            EnforceVersion::None,
        ];
        for (actual, want) in cases {
            for (l, w) in levels.iter().zip(want) {
                assert_eq!(l.matches(e, actual), w, "{actual} at {l}");
            }
        }
        // A shorter version does not pass a level that needs more parts than it has.
        assert!(!EnforceVersion::Minor.matches("5.9.3.0", "5.9"));
        assert!(EnforceVersion::Major.matches("5.9.3.0", "5.9"));
    }

    #[test]
    fn a_model_without_an_expected_version_passes() {
        let mut g = FirmwareGate::default();
        g.expected.insert("AP7532".into(), "5.9.3.0-010D".into());
        assert!(g.check("AP8533", "anything").is_ok());
        assert!(g.check("ap7532", "5.9.3.0-010D").is_ok());
        assert_eq!(
            g.check("AP7532", "5.9.2.0-001R"),
            Err(Mismatch {
                expected: "5.9.3.0-010D".into(),
                level: EnforceVersion::Strict
            })
        );
    }
}
