//! The AP's list of controllers in the syntax of WiNG's DHCP option 191 (reference notes §1.2):
//! `pool1=IP[,IP...];pool2=IP[,IP...];level=1`, fields separated by `;`, the controllers of
//! a pool by `,`.
//!
//! Pool 1 is where the AP looks first; pool 2 only when no controller of pool 1 answers.
//! `level` (the MiNT routing level), `hello-interval` and `adjacency-hold-time` are accepted
//! and shown, and mean nothing to CAPWAP. A controller may carry a port (`IP:port`), a Roost
//! extension for tests that run controllers on ports other than 5246; its data channel is
//! then the next port up, as 5247 is to 5246.

use roost_capwap::CONTROL_PORT;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::str::FromStr;

/// Why a controller list was refused; the Display text is the line shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControllerListError {
    #[error("controller list: unknown field `{0}` (expected pool1, pool2, level, hello-interval or adjacency-hold-time)")]
    UnknownField(String),
    #[error("controller list: field `{0}` has no `=`")]
    NoValue(String),
    #[error("controller list: field `{0}` is given twice")]
    Repeated(&'static str),
    #[error("controller list: `{value}` in {pool} is not an IPv4 address (IP or IP:port; host names are not resolved)")]
    BadAddress { pool: &'static str, value: String },
    #[error("controller list: {0} lists no controller")]
    EmptyPool(&'static str),
    #[error(
        "controller list: pool1 is required (pool 2 is only tried when pool 1 is unreachable)"
    )]
    NoPool1,
    #[error("controller list: {field} must be a number from {min} to {max}, not `{value}`")]
    OutOfRange {
        field: &'static str,
        value: String,
        min: u32,
        max: u32,
    },
    #[error("controller list: {0} appears in both pools")]
    InBothPools(SocketAddr),
}

/// The controllers an AP knows before any discovery, by pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerList {
    /// Control addresses (UDP 5246 unless given), in the order written.
    pub pool1: Vec<SocketAddr>,
    pub pool2: Vec<SocketAddr>,
    /// Shown only.
    pub level: Option<u8>,
    /// Shown only (seconds, 1–120).
    pub hello_interval: Option<u16>,
    /// Shown only (seconds, 2–600).
    pub adjacency_hold_time: Option<u16>,
}

impl ControllerList {
    /// A list of pool-1 controllers only.
    pub fn pool1(addrs: impl IntoIterator<Item = SocketAddr>) -> ControllerList {
        ControllerList {
            pool1: addrs.into_iter().collect(),
            pool2: Vec::new(),
            level: None,
            hello_interval: None,
            adjacency_hold_time: None,
        }
    }

    /// Every controller, pool 1 first, with its pool number.
    pub fn all(&self) -> impl Iterator<Item = (u8, SocketAddr)> + '_ {
        self.pool1
            .iter()
            .map(|a| (1, *a))
            .chain(self.pool2.iter().map(|a| (2, *a)))
    }

    /// The pool `addr` is in, if any.
    pub fn pool_of(&self, addr: SocketAddr) -> Option<u8> {
        self.all().find(|(_, a)| *a == addr).map(|(p, _)| p)
    }

    /// The listed controller with this IP (the first, if several ports share it).
    pub fn by_ip(&self, ip: Ipv4Addr) -> Option<SocketAddr> {
        self.all()
            .map(|(_, a)| a)
            .find(|a| a.ip() == std::net::IpAddr::V4(ip))
    }
}

fn parse_pool(pool: &'static str, value: &str) -> Result<Vec<SocketAddr>, ControllerListError> {
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = || ControllerListError::BadAddress {
            pool,
            value: item.to_owned(),
        };
        let addr = if let Ok(ip) = item.parse::<Ipv4Addr>() {
            SocketAddr::V4(SocketAddrV4::new(ip, CONTROL_PORT))
        } else {
            let a = item.parse::<SocketAddrV4>().map_err(|_| bad())?;
            if a.port() == 0 || a.port() == u16::MAX {
                return Err(bad());
            }
            SocketAddr::V4(a)
        };
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    if out.is_empty() {
        return Err(ControllerListError::EmptyPool(pool));
    }
    Ok(out)
}

fn parse_number(
    field: &'static str,
    value: &str,
    min: u32,
    max: u32,
) -> Result<u32, ControllerListError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| ControllerListError::OutOfRange {
            field,
            value: value.to_owned(),
            min,
            max,
        })
}

impl FromStr for ControllerList {
    type Err = ControllerListError;

    fn from_str(s: &str) -> Result<ControllerList, ControllerListError> {
        let mut list = ControllerList::pool1([]);
        let (mut seen1, mut seen2) = (false, false);
        for field in s.split(';').map(str::trim).filter(|f| !f.is_empty()) {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| ControllerListError::NoValue(field.to_owned()))?;
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            match key.as_str() {
                "pool1" => {
                    if std::mem::replace(&mut seen1, true) {
                        return Err(ControllerListError::Repeated("pool1"));
                    }
                    list.pool1 = parse_pool("pool1", value)?;
                }
                "pool2" => {
                    if std::mem::replace(&mut seen2, true) {
                        return Err(ControllerListError::Repeated("pool2"));
                    }
                    list.pool2 = parse_pool("pool2", value)?;
                }
                "level" => {
                    if list.level.is_some() {
                        return Err(ControllerListError::Repeated("level"));
                    }
                    list.level = Some(parse_number("level", value, 1, 2)? as u8);
                }
                "hello-interval" => {
                    if list.hello_interval.is_some() {
                        return Err(ControllerListError::Repeated("hello-interval"));
                    }
                    list.hello_interval =
                        Some(parse_number("hello-interval", value, 1, 120)? as u16);
                }
                "adjacency-hold-time" => {
                    if list.adjacency_hold_time.is_some() {
                        return Err(ControllerListError::Repeated("adjacency-hold-time"));
                    }
                    list.adjacency_hold_time =
                        Some(parse_number("adjacency-hold-time", value, 2, 600)? as u16);
                }
                _ => return Err(ControllerListError::UnknownField(key)),
            }
        }
        if list.pool1.is_empty() {
            return Err(ControllerListError::NoPool1);
        }
        if let Some(a) = list.pool2.iter().find(|a| list.pool1.contains(a)) {
            return Err(ControllerListError::InBothPools(*a));
        }
        Ok(list)
    }
}

/// The canonical option 191 text (ports shown only when not 5246).
impl fmt::Display for ControllerList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pool = |addrs: &[SocketAddr]| {
            addrs
                .iter()
                .map(|a| display_ac(*a))
                .collect::<Vec<_>>()
                .join(",")
        };
        write!(f, "pool1={}", pool(&self.pool1))?;
        if !self.pool2.is_empty() {
            write!(f, ";pool2={}", pool(&self.pool2))?;
        }
        if let Some(l) = self.level {
            write!(f, ";level={l}")?;
        }
        if let Some(h) = self.hello_interval {
            write!(f, ";hello-interval={h}")?;
        }
        if let Some(h) = self.adjacency_hold_time {
            write!(f, ";adjacency-hold-time={h}")?;
        }
        Ok(())
    }
}

/// A controller's address as the user wrote it: the IP alone for UDP 5246, else `IP:port`.
pub fn display_ac(addr: SocketAddr) -> String {
    if addr.port() == CONTROL_PORT {
        addr.ip().to_string()
    } else {
        addr.to_string()
    }
}

/// The data channel address of the AC whose control channel is `control` (UDP 5247 for
/// 5246; the next port up in general).
pub fn data_address(control: SocketAddr) -> SocketAddr {
    SocketAddr::new(control.ip(), control.port().wrapping_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_wing_option_191() {
        let l: ControllerList = "pool1=192.168.10.1,192.168.10.2;pool2=10.0.0.1;level=1"
            .parse()
            .unwrap();
        assert_eq!(l.pool1, [a("192.168.10.1:5246"), a("192.168.10.2:5246")]);
        assert_eq!(l.pool2, [a("10.0.0.1:5246")]);
        assert_eq!(l.level, Some(1));
        assert_eq!(
            l.to_string(),
            "pool1=192.168.10.1,192.168.10.2;pool2=10.0.0.1;level=1"
        );
        let l: ControllerList =
            " pool1 = 127.0.0.1:6000 ; hello-interval=10;adjacency-hold-time=30; "
                .parse()
                .unwrap();
        assert_eq!(l.pool1, [a("127.0.0.1:6000")]);
        assert!(l.pool2.is_empty());
        assert_eq!(
            (l.hello_interval, l.adjacency_hold_time),
            (Some(10), Some(30))
        );
        assert_eq!(
            l.to_string(),
            "pool1=127.0.0.1:6000;hello-interval=10;adjacency-hold-time=30"
        );
        assert_eq!(data_address(l.pool1[0]), a("127.0.0.1:6001"));
    }

    #[test]
    fn refuses_bad_lists_with_a_clear_line() {
        let err = |s: &str| s.parse::<ControllerList>().unwrap_err().to_string();
        assert_eq!(
            err("pool1=ctrl.example.com"),
            "controller list: `ctrl.example.com` in pool1 is not an IPv4 address (IP or IP:port; host names are not resolved)"
        );
        assert_eq!(
            err("pool2=10.0.0.1"),
            "controller list: pool1 is required (pool 2 is only tried when pool 1 is unreachable)"
        );
        assert_eq!(err("pool1=;"), "controller list: pool1 lists no controller");
        assert_eq!(
            err("pool1=10.0.0.1;level=3"),
            "controller list: level must be a number from 1 to 2, not `3`"
        );
        assert_eq!(
            err("pool1=10.0.0.1;pool3=10.0.0.2"),
            "controller list: unknown field `pool3` (expected pool1, pool2, level, hello-interval or adjacency-hold-time)"
        );
        assert_eq!(
            err("pool1=10.0.0.1;pool1=10.0.0.2"),
            "controller list: field `pool1` is given twice"
        );
        assert_eq!(
            err("10.0.0.1"),
            "controller list: field `10.0.0.1` has no `=`"
        );
        assert_eq!(
            err("pool1=10.0.0.1;pool2=10.0.0.1"),
            "controller list: 10.0.0.1:5246 appears in both pools"
        );
        assert!(err("pool1=::1").contains("not an IPv4 address"));
        assert!(err("").contains("pool1 is required"));
    }
}
