//! `roost controller`'s options and the cluster's well-known ports: plain data, read by every
//! other module and importing none of them.

use roost_wire::{Mac, Model};
use std::net::IpAddr;
use std::path::PathBuf;

/// WiNG's MiNT port: the only port members use after the join.
pub const MEMBER_PORT: u16 = 24576;
/// join-cluster's TCP port (only needed while joining).
pub const JOIN_PORT: u16 = 5349;
/// The SSH CLI's default port.
pub const SSH_PORT: u16 = 22;
/// The HTTPS API's default port.
pub const API_PORT: u16 = 443;
/// CAPWAP control (the data channel is the next port, 5247).
pub const CAPWAP_PORT: u16 = roost_capwap::CONTROL_PORT;

/// `roost controller` flags. Identity flags (`mac`, `model`, `hostname`, licenses) seed a new
/// data dir; afterwards the saved state rules and a contradicting flag is refused.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    pub data_dir: PathBuf,
    pub ip: IpAddr,
    pub hostname: Option<String>,
    pub model: Option<Model>,
    pub mac: Option<Mac>,
    pub admin_password: Option<String>,
    pub ap_licenses: Option<u32>,
    pub aap_licenses: Option<u32>,
    pub adsec: bool,
    pub ssh_port: u16,
    pub api_port: u16,
    pub member_port: u16,
    pub join_port: u16,
    /// CAPWAP control port; the data channel listens on the next one.
    pub capwap_port: u16,
    /// Static clustering without join-cluster: members started with the same secret share a
    /// cluster key (sha256 of a domain tag and the secret).
    pub cluster_secret: Option<String>,
}

impl ControllerOptions {
    pub fn new(data_dir: PathBuf, ip: IpAddr) -> ControllerOptions {
        ControllerOptions {
            data_dir,
            ip,
            hostname: None,
            model: None,
            mac: None,
            admin_password: None,
            ap_licenses: None,
            aap_licenses: None,
            adsec: false,
            ssh_port: SSH_PORT,
            api_port: API_PORT,
            member_port: MEMBER_PORT,
            join_port: JOIN_PORT,
            capwap_port: CAPWAP_PORT,
            cluster_secret: None,
        }
    }
}
