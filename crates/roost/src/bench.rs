//! `roost bench`: the issue's targets, measured on real processes on loopback. Prints one
//! figure per line (`name value`), medians unless the name says otherwise. Not a test: these
//! machines are shared and noisy; run it on a quiet machine and quote medians.
//!
//! * `join_to_steady_ms`: `join-cluster` issued → both members agree on one master and one
//!   config revision.
//! * `failover_default_ms` / `failover_fastest_ms`: kill -9 of the active → the standby's
//!   `is-active "Primary down, Failed over to active"` history timestamp (the member's own
//!   clock; no polling error), at default timers (hello 100 ms, dead 300 ms) and the fastest
//!   supported (hello 10 ms, dead 30 ms).
//! * `spurious_failovers_saturated`: failovers while both cores are saturated by busy loops in
//!   other processes for `--load-secs` (default 60), with nothing killed. Must be 0.
//! * `commit_to_all_p99_ms` / `commit_to_all_median_ms`: a commit on the standby (non-master)
//!   member with a ~100 KB configuration → applied on every member.
//! * `controller_rss_kib_max`: resident memory of the larger of the two controllers holding
//!   that configuration, after the commits.
//! * `flood_*`: a login flood from 127.0.0.200-249 against the master while the operator logs
//!   in from 127.0.0.1 (see `bench_flood.rs`; `--flood-secs`, default 30).
//! * `ap_*`: a `roost ap` fleet of `--ap-count` APs (default 25,600, a full VX9000) with
//!   Roost's fast timers against the pair: cold start to every AP in Run (the fleet's own
//!   time to adopt, from its start, pacing included), the active's resident memory and CPU in
//!   steady state (echo every 5 s), then the active killed and the slowest AP's time from
//!   noticing the loss to Run on the standby (`ap_failover_readopt_max_ms`) and from the kill
//!   (`ap_failover_from_kill_ms`), of which the controller's share, its first accepted Join to
//!   its last AP in Run (`ap_failover_first_join_to_last_run_ms`), exactly from the fleet's
//!   clock (`ap_failover_kill_to_first_loss_ms`, `…_kill_to_first_join_ms`,
//!   `…_kill_to_last_run_ms`), who was busy (`ap_failover_standby_cpu_pct`,
//!   `ap_failover_fleet_cpu_pct`), and the fallback when the active returns
//!   (`ap_fallback_max_gap_ms`: the longest an AP was without a controller); then the same
//!   fleet as foreign WTPs (the RFC's timers, no Roost extension) against a fresh pair: the
//!   active's CPU in steady state (`ap_controller_cpu_pct_per_10k_aps_rfc_echo`) and the
//!   failover when it is killed (`ap_failover_rfc_timers_kill_to_last_run_ms`).
//! * `ap_balance_*`, `ap_policy_*` (`--balance-only`): see `bench_balance.rs`.
//! * `dhcp_*` (`--dhcp-only`, not in the full run yet): see `bench_dhcp.rs`.

use anyhow::{bail, Context, Result};
use roost_testkit::{is_steady, roost_bin, wait_for, ControllerProcess, Spec};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Repetitions of the join and failover measurements.
    #[arg(long, default_value_t = 7)]
    iterations: usize,
    /// Commits for the commit-latency percentile.
    #[arg(long, default_value_t = 200)]
    commits: usize,
    /// Seconds of CPU saturation for the spurious-failover check.
    #[arg(long, default_value_t = 60)]
    load_secs: u64,
    /// First of the loopback addresses used (x.y.z.N and x.y.z.N+1).
    #[arg(long, default_value = "127.0.0.201")]
    base_ip: String,
    /// Seconds of the login flood (200 wrong-password clients from 127.0.0.200-249).
    #[arg(long, default_value_t = 30)]
    flood_secs: u64,
    /// Run only the login flood.
    #[arg(long)]
    flood_only: bool,
    /// APs in the adoption benchmark.
    #[arg(long, default_value_t = 25_600)]
    ap_count: usize,
    /// Run only the adoption benchmark.
    #[arg(long)]
    ap_only: bool,
    /// Seconds of the Discovery/Join flood against the active with every AP adopted (0: none).
    #[arg(long, default_value_t = 30)]
    capwap_flood_secs: u64,
    /// Spoofed source addresses of the flood (from 127.64.0.1).
    #[arg(long, default_value_t = 200_000)]
    capwap_flood_sources: u32,
    /// Run only the DHCP rate ladder (issue 10: Kea single and hot-standby side by side; needs
    /// root and Debian's kea-dhcp4-server and kea-admin).
    #[arg(long)]
    dhcp_only: bool,
    /// Seconds of perfdhcp per rung of the DHCP ladder.
    #[arg(long, default_value_t = 10)]
    dhcp_secs: u64,
    /// Run only the load-balancing and policy-cost benchmarks (issue 9).
    #[arg(long)]
    balance_only: bool,
    /// APs in the load-balancing benchmark.
    #[arg(long, default_value_t = 20_000)]
    balance_ap_count: usize,
    /// Rules of the policy in the policy-cost benchmark (0: skip it).
    #[arg(long, default_value_t = 1_000)]
    policy_rules: usize,
    /// Cold starts with and without the policy (alternately) in the policy-cost benchmark.
    #[arg(long, default_value_t = 3)]
    policy_runs: usize,
}

fn run_issue9(a: &BenchArgs) -> Result<()> {
    crate::bench_balance::run_balance(&a.base_ip, a.balance_ap_count)?;
    if a.policy_rules > 0 {
        crate::bench_balance::run_policy_cost(&a.base_ip, a.policy_rules, a.policy_runs)?;
    }
    Ok(())
}

pub(crate) fn ips(base: &str) -> Result<(String, String)> {
    let ip: std::net::Ipv4Addr = base.parse().context("--base-ip")?;
    let o = ip.octets();
    Ok((
        ip.to_string(),
        std::net::Ipv4Addr::new(o[0], o[1], o[2], o[3] + 1).to_string(),
    ))
}

struct Pair {
    a: ControllerProcess,
    b: ControllerProcess,
    dir: std::path::PathBuf,
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.a.kill9();
        self.b.kill9();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn_pair(base: &str, tag: &str) -> Result<Pair> {
    let (ip1, ip2) = ips(base)?;
    let dir = std::env::temp_dir().join(format!("roost-bench-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let bin = roost_bin();
    let quiet = |mut s: Spec| {
        s.env.push(("RUST_LOG".into(), "warn".into()));
        s
    };
    let a = ControllerProcess::spawn(
        &bin,
        quiet(
            Spec::new("a", &ip1, &dir.join("a"))
                .arg("--mac 52-54-00-00-00-a1 --hostname bench-a --aap-licenses 64"),
        ),
    )?;
    let b = ControllerProcess::spawn(
        &bin,
        quiet(
            Spec::new("b", &ip2, &dir.join("b")).arg("--mac 52-54-00-00-00-b2 --hostname bench-b"),
        ),
    )?;
    Ok(Pair { a, b, dir })
}

fn configure_and_join(p: &Pair, timers: &[&str]) -> Result<Duration> {
    let mut cmds = vec![
        "configure terminal",
        "self",
        "cluster name BENCH",
        "cluster master-priority 250",
        "cluster force-configured-state",
        "cluster force-configured-state-delay 1 seconds",
    ];
    cmds.extend_from_slice(timers);
    cmds.push("commit write");
    let r = p.a.exec(&cmds)?;
    if r.error {
        bail!("configuring a: {}", r.text());
    }
    let join = format!(
        "join-cluster {} user admin password {} level 1 mode standby",
        p.a.spec.ip, p.a.spec.admin_password
    );
    let t = Instant::now();
    let r = p.b.exec(&[&join])?;
    if r.error {
        bail!("join: {}", r.text());
    }
    wait_for(Duration::from_secs(10), Duration::from_millis(2), || {
        is_steady(&[&p.a, &p.b]).then_some(())
    })
    .context("cluster did not settle")?;
    let took = t.elapsed();
    if !timers.is_empty() {
        // The joiner's own device section gets the same timers.
        let mut cmds = vec![
            "configure terminal".to_string(),
            "device 52-54-00-00-00-b2".to_string(),
        ];
        cmds.extend(timers.iter().map(|s| s.to_string()));
        cmds.push("commit write".into());
        let refs: Vec<&str> = cmds.iter().map(|s| s.as_str()).collect();
        let r = p.a.exec(&refs)?;
        if r.error {
            bail!("timers on b: {}", r.text());
        }
    }
    Ok(took)
}

/// A counter of `show adoption status` on `c` (the line whose label starts with `label`).
pub(crate) fn adoption_stat(c: &ControllerProcess, label: &str) -> Option<u64> {
    let t = c.exec(&["show adoption status"]).ok()?.text();
    let line = t.lines().find(|l| l.trim_start().starts_with(label))?;
    line.rsplit(':').next()?.trim().parse().ok()
}

/// APs in Run on `c`.
pub(crate) fn adopted(c: &ControllerProcess) -> Option<usize> {
    adoption_stat(c, "APs adopted").map(|n| n as usize)
}

/// The pair for the AP benchmarks (a with `n` AAP licenses, under `tag` in the temp dir),
/// joined, b standby. `ROOST_BENCH_LOG` overrides the controllers' quiet log filter (e.g. to
/// see why APs left).
fn spawn_ap_pair(base_ip: &str, tag: &str, n: usize) -> Result<Pair> {
    let (ip1, ip2) = ips(base_ip)?;
    let dir = std::env::temp_dir().join(format!("roost-bench-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let filter = std::env::var("ROOST_BENCH_LOG").unwrap_or_else(|_| "warn".into());
    let quiet = |mut s: Spec| {
        s.env.push(("RUST_LOG".into(), filter.clone()));
        s
    };
    let bin = roost_bin();
    let licenses = format!("--mac 52-54-00-00-00-a1 --hostname bench-a --aap-licenses {n}");
    let p = Pair {
        a: ControllerProcess::spawn(
            &bin,
            quiet(Spec::new("a", &ip1, &dir.join("a")).arg(&licenses)),
        )?,
        b: ControllerProcess::spawn(
            &bin,
            quiet(
                Spec::new("b", &ip2, &dir.join("b"))
                    .arg("--mac 52-54-00-00-00-b2 --hostname bench-b"),
            ),
        )?,
        dir,
    };
    configure_and_join(&p, &[])?;
    wait_for(Duration::from_secs(10), Duration::from_millis(20), || {
        (p.b.status().ok()?["oper_state"] == "standby").then_some(())
    })
    .context("b not standby")?;
    Ok(p)
}

fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        * 1000.0
}

/// VmRSS of a process, from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn history(c: &ControllerProcess) -> Result<Vec<serde_json::Value>> {
    Ok(c.get_json("/api/v1/cluster/history")?
        .as_array()
        .cloned()
        .unwrap_or_default())
}

pub(crate) fn failovers(c: &ControllerProcess) -> Result<Vec<String>> {
    Ok(history(c)?
        .into_iter()
        .filter(|e| {
            e["event"] == "is-active"
                && e["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("Failed over"))
        })
        .map(|e| e["timestamp"].as_str().unwrap_or_default().to_string())
        .collect())
}

/// Wall-clock ms of the newest failover event of `c` (from the JSON history's `wall_ms` if the
/// API has it, else by polling).
fn measure_failover(p: &mut Pair) -> Result<f64> {
    // Make sure b is standby and a is active before the kill.
    wait_for(Duration::from_secs(15), Duration::from_millis(10), || {
        let sb = p.b.status().ok()?;
        let sa = p.a.status().ok()?;
        (sb["oper_state"] == "standby"
            && sa["oper_state"] == "active"
            && sb["connected_members"] == 1)
            .then_some(())
    })
    .context("b did not return to standby")?;
    let client = roost_testkit::http_client()?;
    let url = format!("{}/api/v1/cluster/status", p.b.api_url());
    let t = Instant::now();
    p.a.kill9();
    // Poll tightly on a kept-alive connection; the poll interval bounds the error (≈1 ms).
    let took = wait_for(Duration::from_secs(10), Duration::from_micros(500), || {
        let s: serde_json::Value = client
            .get(&url)
            .basic_auth("admin", Some(&p.b.spec.admin_password))
            .send()
            .ok()?
            .json()
            .ok()?;
        (s["oper_state"] == "active").then(|| t.elapsed())
    })
    .context("no failover within 10 s")?;
    // Restart a (same data dir) for the next round.
    let bin = roost_bin();
    let spec = p.a.spec.clone();
    p.a = ControllerProcess::spawn(&bin, spec)?;
    Ok(took.as_secs_f64() * 1000.0)
}

pub fn run(a: BenchArgs) -> Result<i32> {
    if a.dhcp_only {
        crate::bench_dhcp::run_dhcp(a.dhcp_secs)?;
        return Ok(0);
    }
    if a.balance_only {
        run_issue9(&a)?;
        return Ok(0);
    }
    if a.ap_only {
        run_aps(&a)?;
        return Ok(0);
    }
    if !a.flood_only {
        run_main(&a)?;
        run_aps(&a)?;
        run_issue9(&a)?;
    }
    // 5. login flood against the master.
    {
        let p = spawn_pair(&a.base_ip, "flood")?;
        configure_and_join(&p, &[])?;
        wait_for(Duration::from_secs(10), Duration::from_millis(20), || {
            (p.b.status().ok()?["oper_state"] == "standby").then_some(())
        })
        .context("b not standby")?;
        crate::bench_flood::run(&p.a, &p.b, a.flood_secs, &p.dir)?;
    }
    Ok(0)
}

/// CPU seconds (user + system) a process has used.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// `perf record -g` of `pid` for 4 s into the file the environment variable `var` names,
/// if it is set (started, and given 300 ms to attach, before the caller goes on).
fn perf_record(var: &str, pid: u32) -> Option<roost_testkit::KillOnDrop> {
    let out = std::env::var_os(var)?;
    let c = std::process::Command::new("perf")
        .args(["record", "-g", "-p", &pid.to_string(), "-o"])
        .arg(out)
        .args(["--", "sleep", "4"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_millis(300));
    Some(roost_testkit::KillOnDrop::new(c))
}

/// 6. APs: adoption from cold, steady state, failover (see the module docs).
fn run_aps(a: &BenchArgs) -> Result<()> {
    let n = a.ap_count;
    let (ip1, ip2) = ips(&a.base_ip)?;
    let bin = roost_bin();
    let mut p = spawn_ap_pair(&a.base_ip, "aps", n)?;
    let list = format!("pool1={ip1},{ip2}");
    // ROOST_BENCH_TRACE=1: both controllers' adoption counters every 500 ms on stderr.
    let trace = std::env::var_os("ROOST_BENCH_TRACE").map(|_| {
        let (a, b) = (p.a.spec.clone(), p.b.spec.clone());
        std::thread::spawn(move || trace_adoption(&a, &b))
    });
    let _ = trace;
    let fleet = std::process::Command::new(&bin)
        .args(["ap", "--count", &n.to_string(), "--controller-list", &list])
        .args(["--base-ip", "127.24.0.1", "--seed", "1", "--json"])
        .args([
            "--start-rate",
            "20000",
            "--discovery-interval",
            "1",
            "--duration",
            "120",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let mut fleet = roost_testkit::KillOnDrop::new(fleet);
    wait_for(Duration::from_secs(20), Duration::from_millis(100), || {
        (adopted(&p.a)? == n).then_some(())
    })
    .with_context(|| format!("not every AP adopted by a: {:?}", adopted(&p.a)))?;
    // The standby's copy of the AP table is what it licenses a's APs from after the kill.
    let on_others = |c: &ControllerProcess| adoption_stat(c, "APs on other members");
    let all_adopted = Instant::now();
    wait_for(Duration::from_secs(20), Duration::from_millis(50), || {
        (on_others(&p.b)? == n as u64).then_some(())
    })
    .with_context(|| format!("b's copy of the AP table: {:?} rows", on_others(&p.b)))?;
    println!(
        "ap_table_on_standby_after_last_adopted_ms {:.1}",
        all_adopted.elapsed().as_secs_f64() * 1000.0
    );
    let pid = p.a.pid().context("a's pid")?;
    let fleet_pid = fleet.id().context("the fleet's pid")?;
    println!("ap_controller_rss_kib {}", rss_kib(pid).unwrap_or(0));
    // Steady state: every AP echoes every 5 s (Roost's fast timers), measured over two
    // echo intervals.
    std::thread::sleep(Duration::from_secs(2));
    let (c0, t0) = (cpu_secs(pid).unwrap_or(0.0), Instant::now());
    // ROOST_BENCH_PERF=FILE: a perf profile of the active over the same window.
    match std::env::var_os("ROOST_BENCH_PERF") {
        Some(out) => {
            let _ = std::process::Command::new("perf")
                .args(["record", "-g", "-p", &pid.to_string(), "-o"])
                .arg(out)
                .args(["--", "sleep", "10"])
                .stderr(std::process::Stdio::null())
                .status();
        }
        None => std::thread::sleep(Duration::from_secs(10)),
    }
    let busy = (cpu_secs(pid).unwrap_or(0.0) - c0) / t0.elapsed().as_secs_f64() * 100.0;
    println!("ap_controller_cpu_pct {busy:.1}");
    println!(
        "ap_controller_cpu_pct_per_10k_aps {:.2}",
        busy / (n as f64 / 10_000.0)
    );
    wlan_commits(&p, n)?;
    let killed = Instant::now();
    let b_pid = p.b.pid().context("b's pid")?;
    // ROOST_BENCH_PERF_FAILOVER=FILE / ROOST_BENCH_PERF_FLEET=FILE: perf profiles of b and of
    // the fleet over the failover.
    let perf = perf_record("ROOST_BENCH_PERF_FAILOVER", b_pid);
    let perf_fleet = perf_record("ROOST_BENCH_PERF_FLEET", fleet_pid);
    let cpu_before = (cpu_secs(b_pid), cpu_secs(fleet_pid));
    let killed_epoch_ms = epoch_ms();
    p.a.kill9();
    wait_for(Duration::from_secs(15), Duration::from_millis(20), || {
        (adopted(&p.b)? == n).then_some(())
    })
    .with_context(|| {
        let shown = p.b.exec(&[
            "show adoption status",
            "show cluster status",
            "show licenses",
        ]);
        format!(
            "not every AP on b: {:?}\n{}",
            adopted(&p.b),
            shown.map(|r| r.text()).unwrap_or_default()
        )
    })?;
    let all_in_run = Instant::now();
    if std::env::var_os("ROOST_BENCH_TRACE").is_some() {
        eprintln!("killed at {:.0} ms since the epoch", killed_epoch_ms);
        for l in
            p.b.log_tail(400)
                .lines()
                .filter(|l| l.contains("lost member"))
        {
            eprintln!("b: {l}");
        }
    }
    let window = (all_in_run - killed).as_secs_f64();
    if let ((Some(b0), Some(f0)), Some(b1), Some(f1)) =
        (cpu_before, cpu_secs(b_pid), cpu_secs(fleet_pid))
    {
        // Who was busy: above 100 % the process used more than one core.
        println!(
            "ap_failover_standby_cpu_pct {:.0}",
            (b1 - b0) / window * 100.0
        );
        println!(
            "ap_failover_fleet_cpu_pct {:.0}",
            (f1 - f0) / window * 100.0
        );
    }
    for mut perf in [perf, perf_fleet].into_iter().flatten() {
        let _ = perf.take().wait();
    }
    println!(
        "ap_failover_from_kill_ms {:.1}",
        (all_in_run - killed).as_secs_f64() * 1000.0
    );
    // a returns: force-configured-state (delay 1 s) sends b back to standby, and b hands
    // every AP back to a.
    std::thread::sleep(Duration::from_secs(2));
    let returned = Instant::now();
    p.a = ControllerProcess::spawn(&bin, p.a.spec.clone())?;
    wait_for(Duration::from_secs(60), Duration::from_millis(50), || {
        (adopted(&p.a)? == n && adopted(&p.b)? == 0).then_some(())
    })
    .with_context(|| format!("fallback: a {:?}, b {:?}", adopted(&p.a), adopted(&p.b)))?;
    println!(
        "ap_fallback_all_home_from_restart_ms {:.1}",
        returned.elapsed().as_secs_f64() * 1000.0
    );
    let out = fleet.take().wait_with_output()?;
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).context("fleet summary")?;
    if std::env::var_os("ROOST_BENCH_TRACE").is_some() {
        eprintln!("fleet summary: {s}");
    }
    println!(
        "ap_cold_to_run_max_ms {:.1}",
        s["time_to_adopt"]["max_ms"].as_f64().unwrap_or(-1.0)
    );
    println!(
        "ap_cold_to_run_p50_ms {:.1}",
        s["time_to_adopt"]["p50_ms"].as_f64().unwrap_or(-1.0)
    );
    println!(
        "ap_failover_readopt_max_ms {:.1}",
        s["time_to_readopt"]["max_ms"].as_f64().unwrap_or(-1.0)
    );
    println!(
        "ap_failover_readopt_p50_ms {:.1}",
        s["time_to_readopt"]["p50_ms"].as_f64().unwrap_or(-1.0)
    );
    // The fleet's own clock (the same machine's): the kill, the first loss an AP noticed,
    // its first Join after one, the last AP back in Run.
    let span = &s["readopt_span_ms"];
    if let (Some(l), Some(j), Some(r)) = (
        span["first_loss_epoch_ms"].as_f64(),
        span["first_join_epoch_ms"].as_f64(),
        span["last_run_epoch_ms"].as_f64(),
    ) {
        println!(
            "ap_failover_kill_to_first_loss_ms {:.1}",
            l - killed_epoch_ms
        );
        println!(
            "ap_failover_kill_to_first_join_ms {:.1}",
            j - killed_epoch_ms
        );
        println!("ap_failover_first_join_to_last_run_ms {:.1}", r - j);
        println!("ap_failover_kill_to_last_run_ms {:.1}", r - killed_epoch_ms);
    }
    println!(
        "ap_fallback_max_gap_ms {:.1}",
        s["time_to_fall_back"]["max_ms"].as_f64().unwrap_or(-1.0)
    );
    println!(
        "ap_fallback_p50_gap_ms {:.1}",
        s["time_to_fall_back"]["p50_ms"].as_f64().unwrap_or(-1.0)
    );
    println!("ap_fallback_resets {}", s["resets"].as_u64().unwrap_or(0));
    println!("ap_in_run_at_end {}", s["in_run"].as_u64().unwrap_or(0));
    drop(p);
    rfc_timers(a)?;
    if a.capwap_flood_secs > 0 {
        run_capwap_flood(a)?;
    }
    Ok(())
}

/// The flood phase: a fresh pair, `n` APs adopted by a with the RFC's timers (echo 30 s), then
/// [`capwap_flood`]. (With Roost's fast timers, echo 1 s and one retry, the datagrams the
/// kernel drops from a's full socket buffer at this rate cost APs their controller: not met
/// yet, see the README.)
fn run_capwap_flood(a: &BenchArgs) -> Result<()> {
    let n = a.ap_count;
    let (ip1, ip2) = ips(&a.base_ip)?;
    let bin = roost_bin();
    let p = spawn_ap_pair(&a.base_ip, "flood-aps", n)?;
    let list = format!("pool1={ip1},{ip2}");
    let fleet = std::process::Command::new(&bin)
        .args(["ap", "--count", &n.to_string(), "--controller-list", &list])
        .args(["--base-ip", "127.24.0.1", "--seed", "3", "--no-fast-timers"])
        .args(["--start-rate", "20000", "--discovery-interval", "1"])
        .args(["--duration", &(a.capwap_flood_secs + 90).to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let _fleet = roost_testkit::KillOnDrop::new(fleet);
    wait_for(Duration::from_secs(30), Duration::from_millis(200), || {
        (adopted(&p.a)? == n).then_some(())
    })
    .context("not every AP adopted before the flood")?;
    capwap_flood(&p, n, a.capwap_flood_secs, a.capwap_flood_sources)
}

/// A Discovery/Join flood against a (active, `n` APs in Run) from `sources` spoofed addresses
/// for `secs`, at the rate one sender reaches: what a counted, whether any AP left Run (APs
/// released), whether b failed over, and what a's memory did.
fn capwap_flood(p: &Pair, n: usize, secs: u64, sources: u32) -> Result<()> {
    let stat = adoption_stat;
    let labels = [
        "Discovery answered",
        "Discovery not answered",
        "Joins refused",
        "Malformed packets",
        "Unknown session",
        "APs released",
        "Joins accepted",
        "New sources rate-limited",
    ];
    let read = |c: &ControllerProcess| -> Result<Vec<u64>> {
        labels
            .iter()
            .map(|l| stat(c, l).with_context(|| format!("a's {l}")))
            .collect()
    };
    let std::net::IpAddr::V4(target) = p.a.spec.ip else {
        anyhow::bail!("a's address is not IPv4");
    };
    let pid = p.a.pid().context("a's pid")?;
    let rss0 = rss_kib(pid).unwrap_or(0);
    let failovers0 = failovers(&p.b)?.len();
    let before = read(&p.a)?;
    let flood = std::thread::spawn(move || {
        crate::capwap_flood::run(
            target,
            std::net::Ipv4Addr::new(127, 64, 0, 1),
            sources,
            secs as f64,
        )
    });
    let mut min_adopted = n;
    let mut rss_max = rss0;
    while !flood.is_finished() {
        if let Some(m) = stat(&p.a, "APs adopted") {
            min_adopted = min_adopted.min(m as usize);
        }
        rss_max = rss_max.max(rss_kib(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(250));
    }
    let r = flood
        .join()
        .map_err(|_| anyhow::anyhow!("the flood thread panicked"))??;
    // What was queued is counted by now.
    std::thread::sleep(Duration::from_secs(2));
    let after = read(&p.a)?;
    let d: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    // Everything a saw (the rest the kernel dropped, its socket buffer full).
    let counted: u64 = d[..5].iter().sum::<u64>() + d[6] + d[7];
    println!("capwap_flood_sources {sources}");
    println!("capwap_flood_pps {:.0}", r.sent as f64 / r.secs);
    println!("capwap_flood_sent {}", r.sent);
    println!("capwap_flood_send_errors {}", r.send_errors);
    println!(
        "capwap_flood_counted_pct {:.1}",
        counted as f64 * 100.0 / r.sent.max(1) as f64
    );
    println!("capwap_flood_discovery_answered {}", d[0]);
    println!(
        "capwap_flood_discovery_answered_per_source_per_s {:.2}",
        d[0] as f64 / f64::from(sources) / r.secs
    );
    println!("capwap_flood_discovery_not_answered {}", d[1]);
    println!("capwap_flood_joins_refused {}", d[2]);
    println!("capwap_flood_joins_accepted {}", d[6]);
    println!("capwap_flood_rate_limited {}", d[7]);
    println!("capwap_flood_malformed {}", d[3]);
    println!("capwap_flood_unknown_session {}", d[4]);
    println!("capwap_flood_aps_released {}", d[5]);
    println!("capwap_flood_min_aps_adopted {min_adopted}");
    println!(
        "capwap_flood_rss_growth_kib {}",
        rss_max.saturating_sub(rss0)
    );
    println!(
        "capwap_flood_spurious_failovers {}",
        failovers(&p.b)?.len() - failovers0
    );
    Ok(())
}

/// Five WLAN commits on the standby (b), each a new SSID for the AP7532 default profile (the
/// first adds the WLAN; each later one is a Delete and an Add on every AP): the time from the
/// commit to the WLAN Configuration Response of the last of a's `n` APs, as a records it
/// (`Last WLAN response`), median of five.
fn wlan_commits(p: &Pair, n: usize) -> Result<()> {
    let stat = adoption_stat;
    let epoch_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    };
    let mut took = Vec::new();
    for i in 0..5u64 {
        let before = stat(&p.a, "WLAN changes confirmed").context("a's WLAN counters")?;
        let want = before + if i == 0 { n as u64 } else { 2 * n as u64 };
        let mut cmds = vec!["configure terminal".to_string(), "wlan bench".into()];
        cmds.push(format!("ssid Bench-{i}"));
        cmds.push("encryption-type ccmp".into());
        cmds.push("wpa-wpa2 psk 0 bench-passphrase".into());
        if i == 0 {
            cmds.extend(
                [
                    "exit",
                    "profile ap7532 default-ap7532",
                    "interface radio1",
                    "wlan bench bss 1 primary",
                ]
                .map(String::from),
            );
        }
        cmds.extend(["end".to_string(), "commit".into()]);
        let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
        let at = epoch_ms();
        let r = p.b.exec(&refs)?;
        anyhow::ensure!(!r.error, "WLAN commit on b: {}", r.text());
        wait_for(Duration::from_secs(30), Duration::from_millis(50), || {
            (stat(&p.a, "WLAN changes confirmed")? >= want
                && stat(&p.a, "APs waiting for WLANs")? == 0)
                .then_some(())
        })
        .with_context(|| {
            format!(
                "WLAN commit {i} did not reach every AP: {:?}",
                p.a.exec(&["show adoption status"]).map(|r| r.text())
            )
        })?;
        let last = stat(&p.a, "Last WLAN response").context("last WLAN response")?;
        took.push(last.saturating_sub(at) as f64);
    }
    took.sort_by(f64::total_cmp);
    println!("ap_wlan_commit_to_last_ap_ms {:.1}", took[2]);
    println!("ap_wlan_commit_to_last_ap_max_ms {:.1}", took[4]);
    Ok(())
}

/// Prints `t a: adopted/joining/released b: …` twice a second until both controllers are gone.
fn trace_adoption(a: &Spec, b: &Spec) {
    let client = match roost_testkit::http_client() {
        Ok(c) => c,
        Err(_) => return,
    };
    let t0 = Instant::now();
    let fields = |s: &Spec| -> Option<String> {
        let r: roost_testkit::ExecResponse = client
            .post(format!("https://{}:{}/api/v1/exec", s.ip, s.api_port))
            .basic_auth("admin", Some(&s.admin_password))
            .json(
                &serde_json::json!({ "commands": ["show adoption status", "show cluster status"] }),
            )
            .send()
            .ok()?
            .json()
            .ok()?;
        let t = r.text();
        let get = |k: &str| {
            t.lines()
                .find(|l| l.trim_start().starts_with(k))
                .and_then(|l| l.rsplit(':').next())
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        Some(format!(
            "{} adopted {} joining {} released {} refused {} others {}",
            get("Cluster operational state"),
            get("APs adopted"),
            get("APs joining"),
            get("APs released"),
            get("Joins refused"),
            get("APs on other members")
        ))
    };
    for _ in 0..400 {
        let (fa, fb) = (fields(a), fields(b));
        if fa.is_none() && fb.is_none() {
            return;
        }
        eprintln!(
            "{:6.1}s a: {} | b: {}",
            t0.elapsed().as_secs_f64(),
            fa.unwrap_or_else(|| "-".into()),
            fb.unwrap_or_else(|| "-".into())
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The same fleet behaving as foreign WTPs (the RFC's timers: echo 30 s, retransmit 3 s
/// doubling, 5 retransmissions; no Roost extension): the active's CPU in steady state,
/// averaged over 30 s, then the failover when it is killed. With no Controller Lost notice
/// and no fast timers, each AP notices the loss only at its next echo and after its
/// retransmissions give up: tens of seconds, the RFC's design.
fn rfc_timers(a: &BenchArgs) -> Result<()> {
    let n = a.ap_count;
    let (ip1, ip2) = ips(&a.base_ip)?;
    let mut p = spawn_ap_pair(&a.base_ip, "rfc", n)?;
    let list = format!("pool1={ip1},{ip2}");
    let fleet = std::process::Command::new(roost_bin())
        .args(["ap", "--count", &n.to_string(), "--controller-list", &list])
        .args(["--base-ip", "127.25.0.1", "--seed", "2", "--no-fast-timers"])
        .args([
            "--start-rate",
            "20000",
            "--discovery-interval",
            "1",
            "--duration",
            "240",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let mut fleet = roost_testkit::KillOnDrop::new(fleet);
    wait_for(Duration::from_secs(30), Duration::from_millis(200), || {
        (adopted(&p.a)? == n).then_some(())
    })
    .context("not every AP adopted (RFC timers)")?;
    let pid = p.a.pid().context("pid")?;
    std::thread::sleep(Duration::from_secs(5));
    let (c0, t0) = (cpu_secs(pid).unwrap_or(0.0), Instant::now());
    std::thread::sleep(Duration::from_secs(30));
    let busy = (cpu_secs(pid).unwrap_or(0.0) - c0) / t0.elapsed().as_secs_f64() * 100.0;
    println!(
        "ap_controller_cpu_pct_per_10k_aps_rfc_echo {:.2}",
        busy / (n as f64 / 10_000.0)
    );
    // The standby must hold the AP table before the kill (it licenses a's APs from it).
    wait_for(Duration::from_secs(20), Duration::from_millis(50), || {
        (adoption_stat(&p.b, "APs on other members")? == n as u64).then_some(())
    })
    .context("b's copy of the AP table (RFC timers)")?;
    let killed = Instant::now();
    let killed_epoch_ms = epoch_ms();
    p.a.kill9();
    // Echo 30 s, then 3 + 6 + 12 + 15 + 15 + 15 s of retransmissions (capped at half the
    // echo interval): about 96 s in the worst case.
    wait_for(Duration::from_secs(150), Duration::from_millis(100), || {
        (adopted(&p.b)? == n).then_some(())
    })
    .with_context(|| format!("not every AP on b (RFC timers): {:?}", adopted(&p.b)))?;
    println!(
        "ap_failover_rfc_timers_from_kill_ms {:.0}",
        killed.elapsed().as_secs_f64() * 1000.0
    );
    // Ctrl-C: the fleet prints its summary.
    if let Some(fpid) = fleet.id() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(fpid as i32),
            nix::sys::signal::Signal::SIGINT,
        );
    }
    let out = fleet.take().wait_with_output()?;
    let s: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("fleet summary (RFC timers)")?;
    let span = &s["readopt_span_ms"];
    if let (Some(l), Some(r)) = (
        span["first_loss_epoch_ms"].as_f64(),
        span["last_run_epoch_ms"].as_f64(),
    ) {
        println!(
            "ap_failover_rfc_timers_kill_to_first_loss_ms {:.0}",
            l - killed_epoch_ms
        );
        println!(
            "ap_failover_rfc_timers_kill_to_last_run_ms {:.0}",
            r - killed_epoch_ms
        );
    }
    drop(p);
    Ok(())
}

fn run_main(a: &BenchArgs) -> Result<()> {
    // 1. join-cluster to steady.
    let mut joins = Vec::new();
    for i in 0..a.iterations {
        let p = spawn_pair(&a.base_ip, &format!("join{i}"))?;
        joins.push(configure_and_join(&p, &[])?.as_secs_f64() * 1000.0);
    }
    println!("join_to_steady_ms {:.1}", median(joins));

    // 2. failover at default and fastest timers.
    for (name, timers) in [
        ("failover_default_ms", vec![]),
        (
            "failover_fastest_ms",
            vec!["cluster hello-interval 10", "cluster dead-interval 30"],
        ),
    ] {
        let mut p = spawn_pair(&a.base_ip, name)?;
        configure_and_join(&p, &timers)?;
        let mut v = Vec::new();
        for _ in 0..a.iterations {
            v.push(measure_failover(&mut p)?);
        }
        println!("{name} {:.1}", median(v));
    }

    // 3. spurious failovers with both cores saturated by other processes.
    {
        let p = spawn_pair(&a.base_ip, "load")?;
        configure_and_join(&p, &[])?;
        wait_for(Duration::from_secs(10), Duration::from_millis(20), || {
            (p.b.status().ok()?["oper_state"] == "standby").then_some(())
        })
        .context("b not standby")?;
        let before = failovers(&p.b)?.len();
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let mut burners: Vec<std::process::Child> = (0..cpus)
            .map(|_| {
                std::process::Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .spawn()
            })
            .collect::<Result<_, _>>()?;
        std::thread::sleep(Duration::from_secs(a.load_secs));
        for b in burners.iter_mut() {
            let _ = b.kill();
            let _ = b.wait();
        }
        let after = failovers(&p.b)?.len() + failovers(&p.a)?.len();
        println!("spurious_failovers_saturated {}", after - before);
    }

    // 4. commit → applied on every member, ~100 KB configuration.
    {
        let p = spawn_pair(&a.base_ip, "commit")?;
        configure_and_join(&p, &[])?;
        let mut cmds = vec!["configure terminal".to_string()];
        for i in 0..1400 {
            cmds.push(format!("wlan bench-wlan-{i:04}"));
            cmds.push(format!("ssid Benchmark-SSID-number-{i:04}"));
            cmds.push(format!("vlan {}", 1 + i % 4000));
            cmds.push("exit".into());
        }
        cmds.push("commit".into());
        let refs: Vec<&str> = cmds.iter().map(|s| s.as_str()).collect();
        let r = p.a.exec(&refs)?;
        if r.error {
            bail!(
                "building the 100 KB config: {}",
                r.outputs
                    .iter()
                    .filter(|o| o.error)
                    .map(|o| o.output.clone())
                    .collect::<String>()
            );
        }
        let size = p.a.get_json("/api/v1/config/running")?["text"]
            .as_str()
            .map(|s| s.len())
            .unwrap_or(0);
        println!("commit_config_bytes {size}");
        let client = roost_testkit::http_client()?;
        let status_a = format!("{}/api/v1/cluster/status", p.a.api_url());
        let mut v = Vec::new();
        for i in 0..a.commits {
            let t = Instant::now();
            let ssid = format!("ssid changed-{i}");
            let r = p.b.exec(&[
                "configure terminal",
                "wlan bench-wlan-0001",
                &ssid,
                "commit",
            ])?;
            if r.error {
                bail!("commit {i}: {}", r.text());
            }
            let rev_b = p.b.status()?["config_revision"].as_u64().unwrap_or(0);
            wait_for(Duration::from_secs(5), Duration::from_micros(200), || {
                let s: serde_json::Value = client
                    .get(&status_a)
                    .basic_auth("admin", Some(&p.a.spec.admin_password))
                    .send()
                    .ok()?
                    .json()
                    .ok()?;
                (s["config_revision"].as_u64()? >= rev_b).then_some(())
            })
            .context("commit not applied on a")?;
            v.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        println!("commit_to_all_median_ms {:.1}", median(v.clone()));
        println!("commit_to_all_p99_ms {:.1}", percentile(v, 0.99));
        // Memory: resident set of each controller holding the ~100 KB configuration, after the
        // commits (revision log, history, sessions all in use).
        let rss = [&p.a, &p.b]
            .iter()
            .filter_map(|c| rss_kib(c.pid()?))
            .max()
            .unwrap_or(0);
        println!("controller_rss_kib_max {rss}");
    }
    Ok(())
}
