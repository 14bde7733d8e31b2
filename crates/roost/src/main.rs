//! `roost`: the controller daemon, the CLI client, the demo and the benchmark in one binary.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use roost_wire::{Mac, Model};
use std::net::IpAddr;
use std::path::PathBuf;

mod ap;
mod bench;
mod bench_balance;
mod bench_dhcp;
mod bench_flood;
mod capwap_flood;
mod demo;

#[derive(Parser)]
#[command(
    name = "roost",
    version,
    about = "Roost: a WiNG-style WLAN controller cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a controller.
    Controller(ControllerArgs),
    /// The WiNG-style CLI of a running controller (over its HTTPS API).
    Cli(roost_api::client::CliOptions),
    /// Start a two-member cluster on loopback with simulated APs: join it, show it, kill the
    /// active, watch the APs fail over, restart it and watch them go home.
    Demo(demo::DemoArgs),
    /// Measure join, failover and commit latency on loopback; prints one figure per line.
    Bench(bench::BenchArgs),
    /// Run a fleet of simulated access points (CAPWAP WTPs) against controllers.
    Ap(ap::ApArgs),
}

#[derive(clap::Args, Clone)]
pub struct ControllerArgs {
    /// Data directory (identity, configuration, revisions, keys).
    #[arg(long)]
    data_dir: PathBuf,
    /// This controller's address (member channel, join, SSH, API listen here).
    #[arg(long)]
    ip: IpAddr,
    /// Hostname (seeds a new data dir; default: <model>-<last 3 MAC bytes>).
    #[arg(long)]
    hostname: Option<String>,
    /// Model (VX9000, NX95X0, NX96X0, NX7500, NX5500, RFS7000, RFS6000, RFS4000; default VX9000).
    #[arg(long)]
    model: Option<Model>,
    /// MAC address, e.g. 52-54-00-E1-EE-16 (default: random 52-54-00-xx-xx-xx).
    #[arg(long)]
    mac: Option<Mac>,
    /// Initial password of user admin (needed for a new data dir; or ROOST_ADMIN_PASSWORD, or
    /// --admin-password-file). Ignored, with a warning, for an existing data dir.
    #[arg(long, env = "ROOST_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Read the initial password of user admin from this file (its first line), so it
    /// appears neither on the command line nor in the environment.
    #[arg(long, value_name = "PATH", conflicts_with = "admin_password")]
    admin_password_file: Option<PathBuf>,
    /// AP (thin AP) licenses installed on this controller.
    #[arg(long)]
    ap_licenses: Option<u32>,
    /// AAP (adaptive AP) licenses installed on this controller.
    #[arg(long)]
    aap_licenses: Option<u32>,
    /// Advanced-security license (per member, never pooled).
    #[arg(long)]
    adsec: bool,
    #[arg(long, default_value_t = 22)]
    ssh_port: u16,
    #[arg(long, default_value_t = 443)]
    api_port: u16,
    /// Member channel UDP port (WiNG's MiNT port); every member must use the same.
    #[arg(long, default_value_t = 24576)]
    member_port: u16,
    /// join-cluster TCP port.
    #[arg(long, default_value_t = 5349)]
    join_port: u16,
    /// CAPWAP control UDP port for APs; the data channel is the next port.
    #[arg(long, default_value_t = 5246)]
    capwap_port: u16,
    /// Static clustering without join-cluster: members started with the same secret share a
    /// cluster key (or ROOST_CLUSTER_SECRET).
    #[arg(long, env = "ROOST_CLUSTER_SECRET", hide_env_values = true)]
    cluster_secret: Option<String>,
}

fn main() {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("roost: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

fn run(cli: Cli) -> Result<i32> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    match cli.command {
        Cmd::Controller(a) => run_controller(a),
        Cmd::Cli(a) => roost_api::client::run_cli(a),
        Cmd::Demo(a) => demo::run(a),
        Cmd::Bench(a) => bench::run(a),
        Cmd::Ap(a) => ap::run(a),
    }
}

/// The first line of `path`, without its line ending; refused if empty.
fn read_password_file(path: &std::path::Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --admin-password-file {}", path.display()))?;
    let line = text.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        anyhow::bail!(
            "--admin-password-file {}: the first line (the password) is empty",
            path.display()
        );
    }
    Ok(line)
}

fn run_controller(a: ControllerArgs) -> Result<i32> {
    tune_allocator();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: log files and pipes get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let mut opts = roost_daemon::ControllerOptions::new(a.data_dir, a.ip);
    opts.hostname = a.hostname;
    opts.model = a.model;
    opts.mac = a.mac;
    opts.admin_password = match &a.admin_password_file {
        Some(path) => Some(read_password_file(path)?),
        None => a.admin_password,
    };
    opts.ap_licenses = a.ap_licenses;
    opts.aap_licenses = a.aap_licenses;
    opts.adsec = a.adsec;
    opts.ssh_port = a.ssh_port;
    opts.api_port = a.api_port;
    opts.member_port = a.member_port;
    opts.join_port = a.join_port;
    opts.capwap_port = a.capwap_port;
    opts.cluster_secret = a.cluster_secret;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let started = roost_daemon::run_controller(opts, rx).await?;
        // One machine-readable line for scripts, tests and the demo.
        println!(
            "roost controller ready member={} mac={} member-channel={} join={} ssh={} api={} api-fingerprint={}",
            started.controller.member.id,
            started.controller.member.mac,
            started.member_addr,
            started.join_addr,
            started.ssh_addr,
            started.api_addr,
            started.api_fingerprint
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot install SIGTERM handler")?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
            // Fail-stop: the controller stopped itself (it cannot vouch for its data dir).
            e = started.fatal() => {
                eprintln!("roost: {e}");
                return Ok(roost_daemon::FATAL_EXIT_CODE);
            }
        }
        tracing::info!("shutting down");
        let _ = tx.send(true);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        Ok::<_, anyhow::Error>(0)
    })
}

/// glibc's allocator, set for a controller that must give memory back after a burst. A fixed
/// mmap threshold (1 MiB) keeps every large buffer (a 19 MiB argon2 block, a snapshot) in its
/// own mapping, returned to the system when freed; glibc's default raises the threshold after
/// the first such free and then keeps the next ones in per-thread heaps, which never shrink.
/// At most 4 arenas: on a 2-core controller, more only spread the same allocations thinner.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}
