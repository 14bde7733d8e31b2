//! Which model each AP of a fleet is, and the seeded MACs, serials and session seeds.

use crate::identity::{known_model, WtpIdentity, AP_MODELS};
use rand::{Rng, SeedableRng};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// Why a `--model` was refused; the Display text is the user's line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("--model {given}: unknown AP model (known: {known})")]
    Unknown { given: String, known: String },
    #[error("--model {0}: the share after `:` must be a whole number from 1 to 1000000")]
    BadShare(String),
    #[error("--model {0} is given twice")]
    Repeated(&'static str),
}

/// One `--model MODEL[:SHARE]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelShare {
    pub model: &'static str,
    pub share: u32,
}

impl FromStr for ModelShare {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<ModelShare, ModelError> {
        let (name, share) = match s.split_once(':') {
            Some((n, w)) => {
                let share = w
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|w| (1..=1_000_000).contains(w))
                    .ok_or_else(|| ModelError::BadShare(s.to_owned()))?;
                (n.trim(), share)
            }
            None => (s.trim(), 1),
        };
        let model = known_model(name).ok_or_else(|| ModelError::Unknown {
            given: s.to_owned(),
            known: AP_MODELS
                .iter()
                .map(|(m, _)| *m)
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        Ok(ModelShare { model, share })
    }
}

impl fmt::Display for ModelShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.model, self.share)
    }
}

/// The models of a fleet in proportion to their shares, interleaved (smooth weighted
/// round-robin), so that any prefix of the fleet, such as the APs started so far, has the
/// mix too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelMix {
    shares: Vec<ModelShare>,
}

impl ModelMix {
    /// The given shares; none is all AP7532.
    pub fn new(shares: Vec<ModelShare>) -> Result<ModelMix, ModelError> {
        for (i, s) in shares.iter().enumerate() {
            if shares[..i].iter().any(|o| o.model == s.model) {
                return Err(ModelError::Repeated(s.model));
            }
        }
        if shares.is_empty() {
            return Ok(ModelMix {
                shares: vec![ModelShare {
                    model: "AP7532",
                    share: 1,
                }],
            });
        }
        Ok(ModelMix { shares })
    }

    pub fn shares(&self) -> &[ModelShare] {
        &self.shares
    }

    /// The model of each of `count` APs.
    pub fn assign(&self, count: usize) -> Vec<&'static str> {
        let total: i64 = self.shares.iter().map(|s| i64::from(s.share)).sum();
        let mut current = vec![0i64; self.shares.len()];
        (0..count)
            .map(|_| {
                for (c, s) in current.iter_mut().zip(&self.shares) {
                    *c += i64::from(s.share);
                }
                let best = (0..current.len())
                    .max_by_key(|&i| (current[i], -(i as i64)))
                    .unwrap_or(0);
                current[best] -= total;
                self.shares[best].model
            })
            .collect()
    }
}

/// The APs of a fleet, reproducible from the seed: for AP `i` (from 0) its MAC is
/// `02-SS-SS-ii-ii-ii` (locally administered, two seed bytes, the index), its serial 14
/// digits (six from the seed, then the index from 1), its address `base_ip + i`, its name
/// WiNG's default, and its 16 session-seed bytes drawn from a generator seeded with `seed`.
pub(crate) struct Identities {
    rng: rand::rngs::StdRng,
    tag: [u8; 2],
    serial_prefix: u32,
    models: Vec<&'static str>,
    base: u32,
    software: String,
}

impl Identities {
    pub(crate) fn new(
        seed: u64,
        mix: &ModelMix,
        count: usize,
        base: Ipv4Addr,
        software: &str,
    ) -> Identities {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let tag: [u8; 2] = rng.gen();
        let serial_prefix = rng.gen_range(100_000..1_000_000);
        Identities {
            rng,
            tag,
            serial_prefix,
            models: mix.assign(count),
            base: u32::from(base),
            software: software.to_owned(),
        }
    }

    /// AP `i`'s identity and session seed; called for 0, 1, 2, ... in order.
    pub(crate) fn next(&mut self, i: usize) -> (WtpIdentity, [u8; 16]) {
        let n = i as u32;
        let mac = [
            0x02,
            self.tag[0],
            self.tag[1],
            (n >> 16) as u8,
            (n >> 8) as u8,
            n as u8,
        ];
        let model = self.models.get(i).copied().unwrap_or("AP7532");
        let serial = format!("{:06}{:08}", self.serial_prefix, i + 1);
        let name = WtpIdentity::default_name(model, mac);
        let ip = Ipv4Addr::from(self.base.wrapping_add(n));
        let id = WtpIdentity::new(mac, model, &serial, &name, &self.software, ip);
        (id, self.rng.gen())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_exact_and_interleaved() {
        let mix = ModelMix::new(vec![
            "AP7532:70".parse().unwrap(),
            "ap8533:30".parse().unwrap(),
        ])
        .unwrap();
        let a = mix.assign(100);
        assert_eq!(a.iter().filter(|m| **m == "AP7532").count(), 70);
        assert_eq!(a.iter().filter(|m| **m == "AP8533").count(), 30);
        assert_eq!(&a[..4], ["AP7532", "AP8533", "AP7532", "AP7532"]);
        let first10 = mix.assign(10);
        assert_eq!(first10.iter().filter(|m| **m == "AP8533").count(), 3);
        assert_eq!(
            ModelMix::new(vec![]).unwrap().assign(2),
            ["AP7532", "AP7532"]
        );
    }

    #[test]
    fn bad_models_are_clear_errors() {
        let e = "AP9999:5".parse::<ModelShare>().unwrap_err().to_string();
        assert!(
            e.starts_with("--model AP9999:5: unknown AP model (known: AP6521, "),
            "{e}"
        );
        assert_eq!(
            "AP7532:0".parse::<ModelShare>().unwrap_err().to_string(),
            "--model AP7532:0: the share after `:` must be a whole number from 1 to 1000000"
        );
        let s: ModelShare = "AP7532".parse().unwrap();
        assert_eq!(
            ModelMix::new(vec![s, s]).unwrap_err().to_string(),
            "--model AP7532 is given twice"
        );
    }

    #[test]
    fn the_seed_makes_the_fleet_reproducible() {
        let mix = ModelMix::new(vec![]).unwrap();
        let base = Ipv4Addr::new(127, 20, 0, 1);
        let mut a = Identities::new(42, &mix, 3, base, "x");
        let mut b = Identities::new(42, &mix, 3, base, "x");
        let mut c = Identities::new(43, &mix, 3, base, "x");
        for i in 0..3 {
            let (ia, sa) = a.next(i);
            assert_eq!((ia.clone(), sa), b.next(i));
            let (ic, sc) = c.next(i);
            assert_ne!(sa, sc);
            assert_ne!(ia.serial, ic.serial);
            assert_eq!(ia.ip, Ipv4Addr::new(127, 20, 0, 1 + i as u8));
            assert_eq!(ia.mac[5], i as u8);
            assert_eq!(ia.serial.len(), 14);
        }
    }
}
