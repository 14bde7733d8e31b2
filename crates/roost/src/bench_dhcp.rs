//! `roost bench --dhcp-only` (issue 10): the DHCP rate ladder, on the method of
//! `shared/reference/peer-baselines.md`, side by side in one run. The topology is the same for
//! every server: two server namespaces and one client namespace on a switch
//! (`roost_testkit::netns::Switch`, 10.77.0.0/16, a /16 pool so that 10 s at 10,000/s does
//! not run dry). Each step starts fresh servers with an empty lease store on the machine's disk
//! and runs `perfdhcp -4 -l eth0 -r RATE -p 10 -R 50000 -W 500000` from the client namespace;
//! the ladder is 500, 1,000, 2,000, 3,000, 4,000, 6,000, 8,000, 12,000 then two bisection
//! steps after the first failing rung; a step passes when (DISCOVERs sent − ACKs received) /
//! DISCOVERs sent < 2.5 %.
//!
//! Servers: ISC Kea 2.2 from Debian (`kea-dhcp4-server`, `kea-admin` for perfdhcp; memfile,
//! persist on), single-threaded, and a hot-standby HA pair with the HA+MT dedicated listener
//! and `heartbeat-delay` 1000. Roost's own server joins the table when it serves DHCP.
//!
//! Figures, one per line: `dhcp_<server>_max_dora_per_s` (the highest passing rung) and
//! `dhcp_<server>_acks_per_s` (ACKs received per second at that rung).

use anyhow::{bail, Context, Result};
use roost_testkit::netns::Switch;
use roost_testkit::KillOnDrop;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const LADDER: &[u32] = &[500, 1000, 2000, 3000, 4000, 6000, 8000, 12000];
const PASS_LOSS: f64 = 0.025;
const HOOKS: &str = "/usr/lib/x86_64-linux-gnu/kea/hooks";

/// A server under test: started fresh for each step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Server {
    KeaSingle,
    KeaHotStandby,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::KeaSingle => "kea_single",
            Server::KeaHotStandby => "kea_ha_hot_standby",
        }
    }
}

/// What perfdhcp reported for one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Step {
    pub rate: u32,
    pub discovers_sent: u64,
    pub acks_received: u64,
    pub secs: u64,
}

impl Step {
    fn loss(&self) -> f64 {
        if self.discovers_sent == 0 {
            return 1.0;
        }
        self.discovers_sent.saturating_sub(self.acks_received) as f64 / self.discovers_sent as f64
    }

    fn passed(&self) -> bool {
        self.loss() < PASS_LOSS
    }
}

/// Reads perfdhcp's report: "sent packets" of the DISCOVER-OFFER exchange and "received
/// packets" of REQUEST-ACK.
pub(crate) fn parse_perfdhcp(text: &str, rate: u32, secs: u64) -> Result<Step> {
    let mut section = "";
    let (mut sent, mut acked) = (None, None);
    for line in text.lines() {
        let line = line.trim();
        if let Some(s) = line.strip_prefix("***Statistics for: ") {
            section = s.trim_end_matches('*');
            continue;
        }
        let number =
            |prefix: &str| -> Option<u64> { line.strip_prefix(prefix)?.trim().parse().ok() };
        match section {
            "DISCOVER-OFFER" => sent = sent.or(number("sent packets:")),
            "REQUEST-ACK" => acked = acked.or(number("received packets:")),
            _ => {}
        }
    }
    match (sent, acked) {
        (Some(discovers_sent), Some(acks_received)) => Ok(Step {
            rate,
            discovers_sent,
            acks_received,
            secs,
        }),
        _ => bail!("perfdhcp's report has no DISCOVER-OFFER/REQUEST-ACK counts:\n{text}"),
    }
}

/// The rungs to run after `results` (rate → passed): the ladder until the first failure, then
/// two bisection steps between the last pass and the first failure.
pub(crate) fn next_rung(results: &[(u32, bool)]) -> Option<u32> {
    let Some(first_fail) = results.iter().find(|(_, p)| !p).map(|(r, _)| *r) else {
        let done = results.len();
        return LADDER.get(done).copied();
    };
    let after_fail = results.iter().skip_while(|(r, _)| *r != first_fail).count() - 1;
    if after_fail >= 2 {
        return None;
    }
    let best_pass = results
        .iter()
        .filter(|(_, p)| *p)
        .map(|(r, _)| *r)
        .max()
        .unwrap_or(0);
    let lowest_fail = results
        .iter()
        .filter(|(_, p)| !p)
        .map(|(r, _)| *r)
        .min()
        .unwrap_or(first_fail);
    let mid = (best_pass + lowest_fail) / 2;
    (mid > best_pass && mid < lowest_fail).then_some(mid)
}

fn kea_config(dir: &Path, me: &str, server: Server) -> String {
    let leases = dir.join(format!("leases-{me}.csv"));
    let log = dir.join(format!("kea-{me}.log"));
    let common = format!(
        r#""interfaces-config": {{ "interfaces": ["eth0"] }},
    "lease-database": {{ "type": "memfile", "persist": true, "name": "{leases}", "lfc-interval": 0 }},
    "valid-lifetime": 86400,
    "subnet4": [{{ "id": 1, "subnet": "10.77.0.0/16", "pools": [{{ "pool": "10.77.1.0 - 10.77.254.254" }}] }}]"#,
        leases = leases.display()
    );
    match server {
        Server::KeaSingle => format!(
            r#"{{ "Dhcp4": {{ {common},
    "multi-threading": {{ "enable-multi-threading": false }},
    "loggers": [{{ "name": "kea-dhcp4", "output_options": [{{ "output": "{log}" }}], "severity": "WARN" }}] }} }}"#,
            log = log.display()
        ),
        Server::KeaHotStandby => format!(
            r#"{{ "Dhcp4": {{ {common},
    "multi-threading": {{ "enable-multi-threading": true }},
    "hooks-libraries": [
      {{ "library": "{HOOKS}/libdhcp_lease_cmds.so" }},
      {{ "library": "{HOOKS}/libdhcp_ha.so", "parameters": {{ "high-availability": [{{
        "this-server-name": "{me}", "mode": "hot-standby", "heartbeat-delay": 1000,
        "max-response-delay": 3000, "max-ack-delay": 10000, "max-unacked-clients": 0,
        "multi-threading": {{ "enable-multi-threading": true, "http-dedicated-listener": true,
                             "http-listener-threads": 0, "http-client-threads": 0 }},
        "peers": [
          {{ "name": "srv1", "url": "http://10.77.0.1:8001/", "role": "primary", "auto-failover": true }},
          {{ "name": "srv2", "url": "http://10.77.0.2:8001/", "role": "standby", "auto-failover": true }}
        ] }}] }} }}
    ],
    "loggers": [
      {{ "name": "kea-dhcp4", "output_options": [{{ "output": "{log}" }}], "severity": "WARN" }},
      {{ "name": "kea-dhcp4.ha-hooks", "output_options": [{{ "output": "{log}" }}], "severity": "INFO" }}
    ] }} }}"#,
            log = log.display()
        ),
    }
}

fn start_kea(sw: &Switch, dir: &Path, me: &str, server: Server) -> Result<KillOnDrop> {
    let conf = dir.join(format!("kea-{me}.json"));
    std::fs::write(&conf, kea_config(dir, me, server))?;
    let child = sw
        .command(me, "env")
        .arg(format!("KEA_PIDFILE_DIR={}", dir.display()))
        .arg(format!("KEA_LOCKFILE_DIR={}", dir.display()))
        .arg("kea-dhcp4")
        .arg("-c")
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("kea-dhcp4")?;
    Ok(KillOnDrop::new(child))
}

/// Until UDP 67 is bound in `me`'s namespace.
fn wait_bound(sw: &Switch, me: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let out = sw
            .command(me, "ss")
            .args(["-Hlun", "sport = :67"])
            .output()?;
        if !out.stdout.is_empty() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("no DHCP server bound UDP 67 in {me} within 15 s")
}

/// Until the primary's log says it is in hot-standby.
fn wait_hot_standby(dir: &Path) -> Result<()> {
    let log = dir.join("kea-srv1.log");
    let deadline = Instant::now() + Duration::from_secs(40);
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("to HOT-STANDBY state") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "the Kea HA pair did not reach hot-standby within 40 s; see {}",
        log.display()
    )
}

fn step(sw: &Switch, base: &Path, server: Server, rate: u32, secs: u64) -> Result<Step> {
    let dir = base.join(format!("{}-{rate}", server.name()));
    std::fs::create_dir_all(&dir)?;
    let mut servers = vec![start_kea(sw, &dir, "srv1", server)?];
    if server == Server::KeaHotStandby {
        servers.push(start_kea(sw, &dir, "srv2", server)?);
    }
    wait_bound(sw, "srv1")?;
    if server == Server::KeaHotStandby {
        wait_bound(sw, "srv2")?;
        wait_hot_standby(&dir)?;
    }
    let out = sw
        .command("cli", "perfdhcp")
        .args([
            "-4",
            "-l",
            "eth0",
            "-r",
            &rate.to_string(),
            "-p",
            &secs.to_string(),
        ])
        .args(["-R", "50000", "-W", "500000"])
        .output()
        .context("perfdhcp")?;
    drop(servers);
    let _ = std::fs::remove_dir_all(&dir);
    parse_perfdhcp(&String::from_utf8_lossy(&out.stdout), rate, secs)
}

/// The ladder for one server: its highest passing step.
fn ladder(sw: &Switch, base: &Path, server: Server, secs: u64) -> Result<Option<Step>> {
    let mut results: Vec<(u32, bool)> = Vec::new();
    let mut best: Option<Step> = None;
    while let Some(rate) = next_rung(&results) {
        let s = step(sw, base, server, rate, secs)?;
        eprintln!(
            "# {} -r {rate}: {} DISCOVERs, {} ACKs, loss {:.2} %",
            server.name(),
            s.discovers_sent,
            s.acks_received,
            s.loss() * 100.0
        );
        results.push((rate, s.passed()));
        if s.passed() && best.is_none_or(|b| b.rate < rate) {
            best = Some(s);
        }
    }
    Ok(best)
}

pub(crate) fn run_dhcp(secs: u64) -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        bail!("the DHCP benchmark needs root (network namespaces)");
    }
    for tool in ["kea-dhcp4", "perfdhcp", "ss"] {
        if which(tool).is_none() {
            bail!(
                "{tool} not found: install Debian's kea-dhcp4-server and kea-admin (with a \
                 policy-rc.d that exits 101, so that Kea does not start in this namespace)"
            );
        }
    }
    let base: PathBuf =
        std::env::temp_dir().join(format!("roost-bench-dhcp-{}", std::process::id()));
    std::fs::create_dir_all(&base)?;
    let sw = Switch::new(&[
        ("srv1", Some("10.77.0.1/16")),
        ("srv2", Some("10.77.0.2/16")),
        ("cli", Some("10.77.0.10/16")),
    ])?;
    for server in [Server::KeaSingle, Server::KeaHotStandby] {
        let best = ladder(&sw, &base, server, secs)?;
        let (rate, acks) = best.map_or((0, 0.0), |b| {
            (b.rate, b.acks_received as f64 / b.secs as f64)
        });
        println!("dhcp_{}_max_dora_per_s {rate}", server.name());
        println!("dhcp_{}_acks_per_s {acks:.0}", server.name());
    }
    let _ = std::fs::remove_dir_all(&base);
    Ok(())
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfdhcps_report_gives_the_discovers_sent_and_the_acks_received() {
        let text = "Running: perfdhcp -4 -l eth0 -r 1000\n***Rate statistics***\nRate: 999.8 4-way exchanges/second, expected rate: 1000\n\n***Statistics for: DISCOVER-OFFER***\nsent packets: 10000\nreceived packets: 9990\ndrops: 10\n\n***Statistics for: REQUEST-ACK***\nsent packets: 9990\nreceived packets: 9800\ndrops: 190\n";
        let s = parse_perfdhcp(text, 1000, 10).unwrap();
        assert_eq!((s.discovers_sent, s.acks_received), (10_000, 9_800));
        assert!((s.loss() - 0.02).abs() < 1e-9 && s.passed());
        assert!(parse_perfdhcp("no report", 1000, 10).is_err());
    }

    #[test]
    fn the_ladder_climbs_until_a_failure_then_bisects_twice() {
        assert_eq!(next_rung(&[]), Some(500));
        let passes: Vec<(u32, bool)> = LADDER[..3].iter().map(|r| (*r, true)).collect();
        assert_eq!(next_rung(&passes), Some(3000));
        let mut r = passes.clone();
        r.push((3000, false));
        assert_eq!(next_rung(&r), Some(2500));
        r.push((2500, true));
        assert_eq!(next_rung(&r), Some(2750));
        r.push((2750, false));
        assert_eq!(
            next_rung(&r),
            None,
            "two bisection steps after the first failure"
        );
        let all: Vec<(u32, bool)> = LADDER.iter().map(|r| (*r, true)).collect();
        assert_eq!(next_rung(&all), None, "the whole ladder passed");
    }
}
