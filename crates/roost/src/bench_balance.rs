//! `roost bench`'s issue-9 figures, on real processes on loopback:
//!
//! * `ap_balance_*`: two active VX9000 members, a `roost ap` fleet of `--balance-ap-count`
//!   APs (default 20,000) all on the first, then the second joins (`mode active`): from the
//!   `join-cluster` to the loads within the threshold (`ap_balance_join_to_balanced_ms`), the
//!   APs moved, the longest an AP was out of Run for its move (`ap_balance_max_gap_ms`, the
//!   fleet's own clock), the most moves one AP made (`ap_balance_moves_max_per_ap`, must be 1)
//!   and the second member's balancing rounds (must be 0: it never moves one back).
//! * `ap_policy_*`: 25,600 cold adoptions (the fleet's time from its start to its last AP in
//!   Run) on a controller alone, without a policy and with a `--policy-rules`-rule
//!   auto-provisioning policy whose every rule is tried for every AP (the last one adopts),
//!   alternately, `--policy-runs` times each; the ratio of the medians (target ≤ 1.2).

use anyhow::{bail, Context, Result};
use roost_testkit::{is_steady, roost_bin, wait_for, ControllerProcess, KillOnDrop, Spec};
use std::time::{Duration, Instant};

use crate::bench::{adopted, adoption_stat};

fn dir_for(tag: &str) -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("roost-bench-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn controller(
    dir: &std::path::Path,
    name: &str,
    ip: &str,
    flags: &str,
) -> Result<ControllerProcess> {
    let filter = std::env::var("ROOST_BENCH_LOG").unwrap_or_else(|_| "warn".into());
    let mut spec = Spec::new(name, ip, &dir.join(name)).arg(flags);
    spec.env.push(("RUST_LOG".into(), filter));
    ControllerProcess::spawn(&roost_bin(), spec)
}

fn fleet(n: usize, list: &str, seed: &str, secs: u64) -> Result<KillOnDrop> {
    let child = std::process::Command::new(roost_bin())
        .args(["ap", "--count", &n.to_string(), "--controller-list", list])
        .args(["--base-ip", "127.24.0.1", "--seed", seed, "--json"])
        .args(["--start-rate", "20000", "--discovery-interval", "1"])
        .args(["--duration", &secs.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    Ok(KillOnDrop::new(child))
}

fn summary(f: &mut KillOnDrop) -> Result<serde_json::Value> {
    let out = f.take().wait_with_output()?;
    serde_json::from_slice(&out.stdout).context("the fleet's summary")
}

fn exec(c: &ControllerProcess, cmds: &[&str]) -> Result<String> {
    let r = c.exec(cmds)?;
    if r.error {
        bail!("{}: {}", c.spec.name, r.text());
    }
    Ok(r.text())
}

fn wait_active(c: &ControllerProcess) -> Result<()> {
    wait_for(Duration::from_secs(10), Duration::from_millis(20), || {
        (c.status().ok()?["oper_state"] == "active").then_some(())
    })
    .with_context(|| format!("{} not active", c.spec.name))
}

/// `Moving from this member` and `Balancing move` both none: no round, no plan.
fn at_rest(c: &ControllerProcess) -> bool {
    c.exec(&["show adoption status"]).is_ok_and(|r| {
        let t = r.text();
        t.contains("Moving from this member      : none")
            && t.contains("Balancing move               : none")
    })
}

pub(crate) fn run_balance(base_ip: &str, n: usize) -> Result<()> {
    let (ip1, ip2) = crate::bench::ips(base_ip)?;
    let dir = dir_for("balance")?;
    let mut a = controller(
        &dir,
        "a",
        &ip1,
        &format!("--mac 52-54-00-00-00-a1 --hostname bench-a --aap-licenses {n}"),
    )?;
    let mut b = controller(
        &dir,
        "b",
        &ip2,
        "--mac 52-54-00-00-00-b2 --hostname bench-b",
    )?;
    wait_active(&a)?;
    exec(
        &a,
        &[
            "configure terminal",
            "self",
            "cluster name BENCH-BALANCE",
            "cluster mode active",
            "cluster master-priority 250",
            "commit write",
        ],
    )?;
    let mut f = fleet(n, &format!("pool1={ip1},{ip2}"), "3", 90)?;
    wait_for(Duration::from_secs(30), Duration::from_millis(100), || {
        (adopted(&a)? == n).then_some(())
    })
    .with_context(|| format!("not every AP on a: {:?}", adopted(&a)))?;
    let join = format!(
        "join-cluster {ip1} user admin password {} level 1 mode active",
        a.spec.admin_password
    );
    let joined = Instant::now();
    exec(&b, &[&join])?;
    wait_for(Duration::from_secs(15), Duration::from_millis(5), || {
        is_steady(&[&a, &b]).then_some(())
    })
    .context("the pair did not settle")?;
    println!(
        "ap_balance_join_to_steady_ms {:.1}",
        joined.elapsed().as_secs_f64() * 1000.0
    );
    // Balanced: both hold all the APs between them within 10 % of a VX9000's 25,600, and
    // neither moves any more.
    let limit = 2_560;
    let balanced_at = wait_for(Duration::from_secs(60), Duration::from_millis(100), || {
        let (na, nb) = (adopted(&a)?, adopted(&b)?);
        (na + nb == n && na.abs_diff(nb) <= limit && at_rest(&a)).then(Instant::now)
    })
    .with_context(|| {
        format!(
            "not balanced: a {:?}, b {:?}\n{}",
            adopted(&a),
            adopted(&b),
            a.exec(&["show adoption status"])
                .map(|r| r.text())
                .unwrap_or_default()
        )
    })?;
    println!(
        "ap_balance_join_to_balanced_ms {:.1}",
        (balanced_at - joined).as_secs_f64() * 1000.0
    );
    // And it stays so: no further move for 5 s.
    let moved_then = adoption_stat(&a, "APs moved by balancing").unwrap_or(0);
    std::thread::sleep(Duration::from_secs(5));
    let moved = adoption_stat(&a, "APs moved by balancing").unwrap_or(0);
    println!("ap_balance_aps_moved {moved}");
    println!("ap_balance_moved_after_balanced {}", moved - moved_then);
    println!(
        "ap_balance_final_spread_aps {}",
        adopted(&a).unwrap_or(0).abs_diff(adopted(&b).unwrap_or(0))
    );
    println!(
        "ap_balance_rounds_on_joiner {}",
        adoption_stat(&b, "Balancing rounds").unwrap_or(u64::MAX)
    );
    println!(
        "ap_balance_resets {}",
        adoption_stat(&a, "APs reset for fallback").unwrap_or(u64::MAX)
    );
    let s = summary(&mut f)?;
    println!("ap_balance_in_run_at_end {}", s["in_run"]);
    println!(
        "ap_balance_max_gap_ms {:.1}",
        s["time_to_fall_back"]["max_ms"].as_f64().unwrap_or(-1.0)
    );
    println!(
        "ap_balance_p50_gap_ms {:.1}",
        s["time_to_fall_back"]["p50_ms"].as_f64().unwrap_or(-1.0)
    );
    println!("ap_balance_moves_max_per_ap {}", s["fallbacks_max_per_ap"]);
    a.kill9();
    b.kill9();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// One cold start of `n` APs on a controller alone, with `rules` policy rules (0: no policy):
/// the fleet's time from its start to its last AP in Run.
fn cold_start(base_ip: &str, n: usize, rules: usize, tag: &str) -> Result<f64> {
    let (ip1, _) = crate::bench::ips(base_ip)?;
    let dir = dir_for(tag)?;
    let mut a = controller(
        &dir,
        "a",
        &ip1,
        &format!("--mac 52-54-00-00-00-a1 --hostname bench-a --aap-licenses {n}"),
    )?;
    wait_active(&a)?;
    if rules > 0 {
        // Rules that match none of the fleet (other OUIs), the last one adopts any AP:
        // every AP is tried against all of them.
        let mut cmds: Vec<String> = vec![
            "configure terminal".into(),
            "auto-provisioning-policy bench".into(),
        ];
        for i in 1..rules {
            cmds.push(format!(
                "deny anyap precedence {i} mac 00-11-{:02X}-{:02X}-00-00 00-11-{:02X}-{:02X}-FF-FF",
                i / 256,
                i % 256,
                i / 256,
                i % 256
            ));
        }
        cmds.push("adopt anyap precedence 10000 any".into());
        cmds.extend(["exit".into(), "self".into()]);
        cmds.push("use auto-provisioning-policy bench".into());
        cmds.push("commit write".into());
        let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
        exec(&a, &refs)?;
    }
    let mut f = fleet(n, &format!("pool1={ip1}"), "5", 25)?;
    wait_for(Duration::from_secs(25), Duration::from_millis(100), || {
        (adopted(&a)? == n).then_some(())
    })
    .with_context(|| format!("not every AP adopted ({tag}): {:?}", adopted(&a)))?;
    let s = summary(&mut f)?;
    a.kill9();
    let _ = std::fs::remove_dir_all(&dir);
    s["time_to_adopt"]["max_ms"]
        .as_f64()
        .context("the fleet's time to adopt")
}

pub(crate) fn run_policy_cost(base_ip: &str, rules: usize, runs: usize) -> Result<()> {
    let n = 25_600;
    let (mut plain, mut with) = (Vec::new(), Vec::new());
    for i in 0..runs {
        plain.push(cold_start(base_ip, n, 0, &format!("cold-{i}"))?);
        with.push(cold_start(base_ip, n, rules, &format!("policy-{i}"))?);
    }
    let (p, w) = (
        crate::bench::median(plain.clone()),
        crate::bench::median(with.clone()),
    );
    println!("ap_policy_cold_to_run_max_ms_without {p:.1}");
    println!("ap_policy_cold_to_run_max_ms_with_{rules}_rules {w:.1}");
    println!("ap_policy_cost_ratio {:.3}", w / p);
    Ok(())
}
