//! Domain identifiers and their WiNG text forms.

use crate::WireError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A controller's MAC address, shown WiNG-style as `52-54-00-E1-EE-16`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// The member id WiNG derives from a controller MAC: the MiNT id `12.E1.EE.16` for MAC
    /// `52-54-00-E1-EE-16` (the seed's debug log prints it as the integer 0x123AA117 for
    /// `52-54-00-3A-A1-17`): a fixed `0x12` prefix followed by the three low MAC bytes.
    pub fn member_id(&self) -> MemberId {
        let m = self.0;
        MemberId(0x12 << 24 | (m[3] as u32) << 16 | (m[4] as u32) << 8 | m[5] as u32)
    }

    /// The hostname WiNG gives an unconfigured controller: `vx9000-3AA117`.
    pub fn default_hostname(&self, model: Model) -> String {
        format!(
            "{}-{:02X}{:02X}{:02X}",
            model.prefix(),
            self.0[3],
            self.0[4],
            self.0[5]
        )
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02X}-{:02X}-{:02X}-{:02X}-{:02X}-{:02X}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl FromStr for Mac {
    type Err = WireError;
    /// Accepts `52-54-00-E1-EE-16`, `52:54:00:e1:ee:16` and `5254.00E1.EE16`.
    fn from_str(s: &str) -> Result<Self, WireError> {
        let bad = || WireError::InvalidText {
            what: "MAC address",
            value: s.to_string(),
        };
        let hex: String = s
            .chars()
            .filter(|c| !matches!(c, '-' | ':' | '.'))
            .collect();
        let sep_ok = s.split(['-', ':']).count() == 6
            || s.split('.').count() == 3
            || !s.contains(['-', ':', '.']);
        if hex.len() != 12 || !sep_ok || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut out = [0u8; 6];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Mac(out))
    }
}

/// A cluster member's identity (WiNG's MiNT id), derived from its MAC; shown as `12.E1.EE.16`
/// (its `Debug` form too, so logs and debug output never show the raw number).
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MemberId(pub u32);

impl fmt::Debug for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0.to_be_bytes();
        write!(f, "{:02X}.{:02X}.{:02X}.{:02X}", b[0], b[1], b[2], b[3])
    }
}

impl FromStr for MemberId {
    type Err = WireError;
    fn from_str(s: &str) -> Result<Self, WireError> {
        let bad = || WireError::InvalidText {
            what: "member id",
            value: s.to_string(),
        };
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() != 4 {
            return Err(bad());
        }
        let mut b = [0u8; 4];
        for (i, p) in parts.iter().enumerate() {
            // from_str_radix alone would accept a sign ("+1").
            if p.len() != 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            b[i] = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        Ok(MemberId(u32::from_be_bytes(b)))
    }
}

/// Controller models and their hardware AP adoption maximum (the seed's table).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Model {
    Vx9000,
    Nx95x0,
    Nx96x0,
    Nx7500,
    Nx5500,
    Rfs7000,
    Rfs6000,
    Rfs4000,
}

impl Model {
    pub const ALL: [Model; 8] = [
        Model::Vx9000,
        Model::Nx95x0,
        Model::Nx96x0,
        Model::Nx7500,
        Model::Nx5500,
        Model::Rfs7000,
        Model::Rfs6000,
        Model::Rfs4000,
    ];

    /// Maximum number of access points this platform can adopt, whatever its licenses.
    pub fn max_aps(self) -> u32 {
        match self {
            Model::Vx9000 => 25_600,
            Model::Nx95x0 | Model::Nx96x0 => 10_240,
            Model::Nx7500 => 2_048,
            Model::Nx5500 => 512,
            Model::Rfs7000 => 1_024,
            Model::Rfs6000 => 256,
            Model::Rfs4000 => 144,
        }
    }

    /// Upper-case model name as in `show version` (`VX9000`).
    pub fn name(self) -> &'static str {
        match self {
            Model::Vx9000 => "VX9000",
            Model::Nx95x0 => "NX95X0",
            Model::Nx96x0 => "NX96X0",
            Model::Nx7500 => "NX7500",
            Model::Nx5500 => "NX5500",
            Model::Rfs7000 => "RFS7000",
            Model::Rfs6000 => "RFS6000",
            Model::Rfs4000 => "RFS4000",
        }
    }

    /// Lower-case form used for default hostnames and the device section keyword (`vx9000`).
    pub fn prefix(self) -> &'static str {
        match self {
            Model::Vx9000 => "vx9000",
            Model::Nx95x0 => "nx95x0",
            Model::Nx96x0 => "nx96x0",
            Model::Nx7500 => "nx7500",
            Model::Nx5500 => "nx5500",
            Model::Rfs7000 => "rfs7000",
            Model::Rfs6000 => "rfs6000",
            Model::Rfs4000 => "rfs4000",
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Model {
    type Err = WireError;
    fn from_str(s: &str) -> Result<Self, WireError> {
        let l = s.to_ascii_lowercase();
        Model::ALL
            .into_iter()
            .find(|m| m.prefix() == l)
            .ok_or(WireError::InvalidText {
                what: "model",
                value: s.to_string(),
            })
    }
}

/// `cluster mode active|standby`: the operational state a member is configured for.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClusterMode {
    Active,
    Standby,
}

/// Operational state: only active members adopt APs.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OperState {
    Active,
    Standby,
}

impl fmt::Display for ClusterMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClusterMode::Active => "Active",
            ClusterMode::Standby => "Standby",
        })
    }
}

impl fmt::Display for OperState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OperState::Active => "active",
            OperState::Standby => "standby",
        })
    }
}

impl FromStr for ClusterMode {
    type Err = WireError;
    fn from_str(s: &str) -> Result<Self, WireError> {
        match s.to_ascii_lowercase().as_str() {
            "active" => Ok(ClusterMode::Active),
            "standby" => Ok(ClusterMode::Standby),
            _ => Err(WireError::InvalidText {
                what: "cluster mode",
                value: s.to_string(),
            }),
        }
    }
}

/// MiNT link level: 1 for campus, 2 for NOC deployments. Members must agree.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MintLevel {
    L1,
    L2,
}

impl MintLevel {
    pub fn number(self) -> u8 {
        match self {
            MintLevel::L1 => 1,
            MintLevel::L2 => 2,
        }
    }
    pub fn from_number(n: u8) -> Option<MintLevel> {
        match n {
            1 => Some(MintLevel::L1),
            2 => Some(MintLevel::L2),
            _ => None,
        }
    }
}

impl fmt::Display for MintLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_text_forms() {
        let mac: Mac = "52-54-00-E1-EE-16".parse().unwrap();
        assert_eq!(mac, Mac([0x52, 0x54, 0x00, 0xE1, 0xEE, 0x16]));
        assert_eq!(mac.to_string(), "52-54-00-E1-EE-16");
        assert_eq!("52:54:00:e1:ee:16".parse::<Mac>().unwrap(), mac);
        assert_eq!("5254.00E1.EE16".parse::<Mac>().unwrap(), mac);
        assert_eq!("525400E1EE16".parse::<Mac>().unwrap(), mac);
        for bad in [
            "",
            "52-54-00-E1-EE",
            "52-54-00-E1-EE-1G",
            "52-54-00-E1-EE-16-00",
            "5254-00E1-EE16",
            "é2-54-00-E1-EE-1",
        ] {
            assert!(
                matches!(
                    bad.parse::<Mac>(),
                    Err(WireError::InvalidText {
                        what: "MAC address",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn member_id_from_seed_macs() {
        let a: Mac = "52-54-00-E1-EE-16".parse().unwrap();
        assert_eq!(a.member_id().to_string(), "12.E1.EE.16");
        let b: Mac = "52-54-00-3A-A1-17".parse().unwrap();
        assert_eq!(b.member_id(), MemberId(0x123AA117));
        assert_eq!(b.member_id().0, 305_832_215);
        assert_eq!(b.member_id().to_string(), "12.3A.A1.17");
        assert_eq!(b.default_hostname(Model::Vx9000), "vx9000-3AA117");
        assert_eq!(a.default_hostname(Model::Vx9000), "vx9000-E1EE16");
    }

    #[test]
    fn member_id_text_round_trip() {
        let id: MemberId = "12.3A.A1.17".parse().unwrap();
        assert_eq!(id, MemberId(0x123AA117));
        assert_eq!(
            format!("{id:?} {:?}", Some(id)),
            "12.3A.A1.17 Some(12.3A.A1.17)"
        );
        assert_eq!("12.3a.a1.17".parse::<MemberId>().unwrap(), id);
        for bad in [
            "",
            "12.3A.A1",
            "12.3A.A1.17.00",
            "12.3A.A1.1",
            "12.3A.A1.1G",
            "123.A.A1.17",
            "+1.3A.A1.17",
        ] {
            assert!(bad.parse::<MemberId>().is_err(), "{bad}");
        }
        for n in [0u32, 1, 0x123AA117, u32::MAX] {
            assert_eq!(
                MemberId(n).to_string().parse::<MemberId>().unwrap(),
                MemberId(n)
            );
        }
    }

    #[test]
    fn model_table() {
        let expected = [
            (Model::Vx9000, "VX9000", 25_600),
            (Model::Nx95x0, "NX95X0", 10_240),
            (Model::Nx96x0, "NX96X0", 10_240),
            (Model::Nx7500, "NX7500", 2_048),
            (Model::Nx5500, "NX5500", 512),
            (Model::Rfs7000, "RFS7000", 1_024),
            (Model::Rfs6000, "RFS6000", 256),
            (Model::Rfs4000, "RFS4000", 144),
        ];
        assert_eq!(Model::ALL.len(), expected.len());
        for (model, name, max) in expected {
            assert_eq!(model.max_aps(), max, "{name}");
            assert_eq!(model.to_string(), name);
            assert_eq!(name.parse::<Model>().unwrap(), model);
            assert_eq!(model.prefix().parse::<Model>().unwrap(), model);
        }
        assert!("vx9001".parse::<Model>().is_err());
    }

    #[test]
    fn mode_and_level_text() {
        assert_eq!(
            "Active".parse::<ClusterMode>().unwrap(),
            ClusterMode::Active
        );
        assert_eq!(
            "standby".parse::<ClusterMode>().unwrap(),
            ClusterMode::Standby
        );
        assert!("primary".parse::<ClusterMode>().is_err());
        assert_eq!(ClusterMode::Active.to_string(), "Active");
        assert_eq!(OperState::Standby.to_string(), "standby");
        assert_eq!(MintLevel::from_number(2), Some(MintLevel::L2));
        assert_eq!(MintLevel::from_number(3), None);
        assert_eq!(MintLevel::L1.to_string(), "1");
    }
}
