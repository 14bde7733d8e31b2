//! `roost ap`: a fleet of simulated access points (CAPWAP WTPs, `roost-wtp`) in this process,
//! against the controllers of a WiNG DHCP option 191 list. It runs until Ctrl-C or
//! `--duration`, prints a progress line to stderr about once a second, and a summary at the
//! end (`--json`: the summary as JSON on stdout, for scripts).

use anyhow::{Context, Result};
use roost_wtp::fleet::{Fleet, FleetConfig, ModelMix, ModelShare};
use roost_wtp::ControllerList;
use std::io::{IsTerminal, Write};
use std::net::Ipv4Addr;
use std::time::Duration;

#[derive(clap::Args)]
pub struct ApArgs {
    /// How many APs to simulate (25,600 is a full VX9000).
    #[arg(long)]
    count: usize,
    /// Controllers in WiNG's DHCP option 191 syntax: 'pool1=IP[,IP];pool2=IP;level=1'
    /// (pool 2 only when pool 1 is unreachable; `level` is shown, and means nothing to
    /// CAPWAP; IP:port for a controller not on UDP 5246).
    #[arg(long, value_name = "LIST")]
    controller_list: ControllerList,
    /// An AP model and its share of the fleet, e.g. AP7532:70 (repeatable; default AP7532).
    #[arg(long = "model", value_name = "MODEL[:SHARE]")]
    models: Vec<ModelShare>,
    /// The first AP's address; the others count up from it, inside 127.0.0.0/8.
    #[arg(long, default_value = "127.20.0.1")]
    base_ip: Ipv4Addr,
    /// Makes MACs, serials and session ids reproducible (default: random, shown in the
    /// summary).
    #[arg(long)]
    seed: Option<u64>,
    /// Stop after this many seconds (default: at Ctrl-C).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// APs started per second, evenly spread (a synchronized start of thousands of APs
    /// overflows UDP buffers, and every lost datagram costs a CAPWAP retransmission).
    #[arg(long, default_value_t = 10_000)]
    start_rate: u32,
    /// DiscoveryInterval in seconds (RFC 5415: 5): how long an AP waits for more Discovery
    /// Responses once one has come, unless every controller asked has answered.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    discovery_interval: f64,
    /// Behave as a foreign WTP: neither announce nor honour Roost's extensions (its fast
    /// timers, its Controller Lost notice): the RFC's 30 s echo, 3 s retransmit, 5
    /// retransmissions unless the controller's CAPWAP Timers say otherwise.
    #[arg(long)]
    no_fast_timers: bool,
}

fn seconds(what: &str, s: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("{what} must be a positive number of seconds, not {s}"))
}

pub fn run(a: ApArgs) -> Result<i32> {
    let seed = a.seed.unwrap_or_else(rand_seed);
    let duration = a.duration.map(|d| seconds("--duration", d)).transpose()?;
    let mut config = FleetConfig::new(a.count, a.controller_list);
    config.models = ModelMix::new(a.models)?;
    config.base_ip = a.base_ip;
    config.seed = seed;
    config.start_rate = a.start_rate;
    config.settings.discovery_interval = seconds("--discovery-interval", a.discovery_interval)?;
    config.settings.fast_timers = !a.no_fast_timers;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_fleet(config, duration, a.json))
}

/// A seed from the clock and the process id: only to differ between runs.
fn rand_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32)
}

async fn run_fleet(config: FleetConfig, duration: Option<Duration>, json: bool) -> Result<i32> {
    let count = config.count;
    let (base, seed, list) = (config.base_ip, config.seed, config.controllers.to_string());
    let fleet = Fleet::start(config)?;
    let (cport, dport) = fleet.ports();
    eprintln!(
        "roost ap: {count} APs from {base} (seed {seed}) to {list}; local UDP ports control {cport}, data {dport}; Ctrl-C stops"
    );
    let tty = std::io::stderr().is_terminal();
    let ctrl_c = tokio::signal::ctrl_c();
    let end = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(ctrl_c, end);
    let second = Duration::from_secs(1);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + second, second);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = &mut end => break,
            _ = tick.tick() => {
                let line = fleet.progress().to_string();
                let mut err = std::io::stderr().lock();
                // On a terminal one line rewritten in place; in a log, one line a second.
                let _ = if tty { write!(err, "\r\x1b[K{line}") } else { writeln!(err, "{line}") };
                let _ = err.flush();
            }
        }
    }
    if tty {
        eprintln!();
    }
    let summary = fleet.stop().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!("{summary}");
    }
    Ok(0)
}
