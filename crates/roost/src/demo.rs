//! `roost demo`: the seed's how-to, live, on two loopback addresses, then what the cluster is
//! for: a `roost ap` fleet adopted by the active controller, the active killed, every AP
//! adopted by the survivor, and, when the killed controller returns, every AP going home
//! (force-configured-state, then the handback).

use crate::bench::adopted;
use anyhow::{bail, Result};
use roost_testkit::{is_steady, roost_bin, wait_for, ControllerProcess, Spec};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Kill -9 the active member this many seconds after the APs are adopted.
    #[arg(long, default_value_t = 3)]
    kill_active_after: u64,
    /// Only form the cluster and show it: no kill, no return.
    #[arg(long)]
    no_failover: bool,
    /// Simulated APs (`roost ap`, on 127.25.0.1 and up); 0 for none.
    #[arg(long, default_value_t = 300)]
    aps: usize,
    /// The first simulated AP's address.
    #[arg(long, default_value = "127.25.0.1")]
    ap_base_ip: String,
    /// The force-configured-state delay: how long after the killed controller returns the
    /// survivor goes back to standby and hands the APs back.
    #[arg(long, default_value_t = 5)]
    fallback_delay: u64,
    /// Addresses of the two controllers.
    #[arg(long, default_value = "127.0.0.11")]
    primary_ip: String,
    #[arg(long, default_value = "127.0.0.12")]
    secondary_ip: String,
    /// SSH port of both controllers (22 needs root).
    #[arg(long, default_value_t = 2222)]
    ssh_port: u16,
    /// HTTPS API port of both controllers.
    #[arg(long, default_value_t = 8443)]
    api_port: u16,
    /// Exit after the demo instead of waiting for Ctrl-C.
    #[arg(long)]
    no_wait: bool,
}

const PASSWORD: &str = "admin123";

// `print!`/`println!`/`eprintln!` that never panic. With `roost demo 2>&1 | tee log`, Ctrl-C
// reaches the whole process group: `tee` exits at once, the next write gets EPIPE, and std's
// macros panic on it. The panic killed the Ctrl-C thread before it stopped the controllers and
// exited, and the main thread slept on forever. Output to a closed pipe is simply dropped.
macro_rules! print {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}
macro_rules! println {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}
macro_rules! eprintln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

pub fn run(a: DemoArgs) -> Result<i32> {
    let dir = std::env::temp_dir().join(format!("roost-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let started: Arc<Mutex<Vec<ControllerProcess>>> = Arc::new(Mutex::new(Vec::new()));
    let fleet: Arc<Mutex<Option<std::process::Child>>> = Arc::new(Mutex::new(None));
    // Ctrl-C: stop every process we started (by PID), remove the temp dir, exit.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    {
        let started = started.clone();
        let fleet = fleet.clone();
        let dir = dir.clone();
        std::thread::spawn(move || {
            rt.block_on(async {
                let _ = tokio::signal::ctrl_c().await;
            });
            eprintln!("\nstopping the demo cluster…");
            stop_fleet(&fleet);
            // Even if the main thread panicked while holding the list.
            let mut started = started.lock().unwrap_or_else(|e| e.into_inner());
            for mut c in started.drain(..) {
                c.terminate();
            }
            let _ = std::fs::remove_dir_all(&dir);
            std::process::exit(130);
        });
    }
    let result = demo(&a, &dir, &started, &fleet);
    stop_fleet(&fleet);
    for mut c in started.lock().unwrap().drain(..) {
        c.terminate();
    }
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn stop_fleet(fleet: &Mutex<Option<std::process::Child>>) {
    let mut f = fleet.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(mut c) = f.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// The first `rows` APs of `show wireless ap` and its last line.
fn ap_table(c: &ControllerProcess, host: &str, rows: usize) -> Result<String> {
    let t = show(c, host, "show wireless ap")?;
    let lines: Vec<&str> = t.lines().collect();
    // Prompt, top border, header, border, then one line per AP.
    let keep = (4 + rows).min(lines.len());
    let mut out: Vec<String> = lines[..keep].iter().map(|l| l.to_string()).collect();
    if lines.len() > keep + 2 {
        out.push("  …".into());
    }
    out.extend(lines.iter().rev().take(2).rev().map(|l| l.to_string()));
    Ok(out.join("\n"))
}

/// Lines of `show adoption status` that tell the story.
fn adoption_lines(c: &ControllerProcess, host: &str, labels: &[&str]) -> Result<String> {
    let t = show(c, host, "show adoption status")?;
    let mut out = vec![t.lines().next().unwrap_or_default().to_string()];
    out.extend(
        t.lines()
            .filter(|l| labels.iter().any(|k| l.trim_start().starts_with(k)))
            .map(|l| l.to_string()),
    );
    Ok(out.join("\n"))
}

fn show(c: &ControllerProcess, host: &str, cmd: &str) -> Result<String> {
    let r = c.exec(&[cmd])?;
    Ok(format!("{host}#{cmd}\n{}", r.text()))
}

fn demo(
    a: &DemoArgs,
    dir: &std::path::Path,
    started: &Arc<Mutex<Vec<ControllerProcess>>>,
    fleet: &Arc<Mutex<Option<std::process::Child>>>,
) -> Result<i32> {
    let bin = roost_bin();
    let mk = |name: &str, ip: &str, mac: &str, extra: &str| {
        let mut s = Spec::new(name, ip, &dir.join(name))
            .arg(&format!("--mac {mac} --hostname {name} {extra}"));
        s.ssh_port = a.ssh_port;
        s.api_port = a.api_port;
        s.admin_password = PASSWORD.into();
        s
    };
    println!("Starting two Roost controllers in {}", dir.display());
    let t0 = Instant::now();
    let c1 = ControllerProcess::spawn(
        &bin,
        mk(
            "vx9000-1",
            &a.primary_ip,
            "52-54-00-E1-EE-16",
            &format!("--aap-licenses {}", a.aps.max(128)),
        ),
    )?;
    started.lock().unwrap().push(c1);
    let c2 = ControllerProcess::spawn(
        &bin,
        mk("vx9000-2", &a.secondary_ip, "52-54-00-3A-A1-17", ""),
    )?;
    started.lock().unwrap().push(c2);
    println!(
        "  vx9000-1 on {}  and  vx9000-2 on {}  ({} ms)\n",
        a.primary_ip,
        a.secondary_ip,
        t0.elapsed().as_millis()
    );

    let guard = started.lock().unwrap();
    let (c1, c2) = (&guard[0], &guard[1]);
    println!("Step 1 - primary controller configuration");
    let mut cfg = roost_config::howto::SEED_PRIMARY_STEPS.to_vec();
    let delay = format!(
        "cluster force-configured-state-delay {} seconds",
        a.fallback_delay
    );
    cfg.extend([delay.as_str(), "commit write", "end"]);
    let r = c1.exec(&cfg)?;
    let mut prompt = "vx9000-1(config-device-52-54-00-E1-EE-16)#".to_string();
    for o in &r.outputs {
        if o.command == "configure terminal" || o.command == "self" {
            continue;
        }
        println!("{prompt}{}", o.command);
        print!("{}", o.output);
        if o.command == "commit write" {
            prompt = "vx9000-1#".into();
        }
    }
    if r.error {
        bail!("configuring the primary failed:\n{}", r.text());
    }
    println!("\nStep 2 - join the second controller");
    let join = format!(
        "join-cluster {} user admin password {PASSWORD} level 1 mode standby",
        a.primary_ip
    );
    let t_join = Instant::now();
    let r = c2.exec(&[&join])?;
    println!(
        "vx9000-2#join-cluster {} user admin password ******** level 1 mode standby",
        a.primary_ip
    );
    print!("{}", r.text());
    if r.error {
        bail!("join-cluster failed");
    }
    let steady = wait_for(Duration::from_secs(10), Duration::from_millis(20), || {
        is_steady(&[c1, c2]).then_some(())
    });
    if steady.is_none() {
        bail!("the cluster did not settle within 10 s");
    }
    println!(
        "(join-cluster to a steady cluster: {} ms)\n",
        t_join.elapsed().as_millis()
    );
    println!("{}", show(c1, "vx9000-1", "show cluster members")?);
    println!("{}", show(c2, "vx9000-2", "show cluster status")?);
    println!("Reach the CLIs (user admin, password {PASSWORD}):");
    for (h, ip) in [("vx9000-1", &a.primary_ip), ("vx9000-2", &a.secondary_ip)] {
        println!(
            "  {h}:  ssh -p {} admin@{ip}      or   roost cli --controller {ip} --port {}",
            a.ssh_port, a.api_port
        );
    }
    println!(
        "  HTTPS API:   https://{}:{}/api/v1/openapi.json",
        a.primary_ip, a.api_port
    );
    drop(guard);

    if a.aps > 0 {
        println!(
            "\nStep 3 - {} access points (roost ap) adopt to the active controller",
            a.aps
        );
        let list = format!("pool1={},{};level=1", a.primary_ip, a.secondary_ip);
        let child = std::process::Command::new(&bin)
            .args([
                "ap",
                "--count",
                &a.aps.to_string(),
                "--controller-list",
                &list,
            ])
            .args(["--base-ip", &a.ap_base_ip, "--seed", "1"])
            .args(["--discovery-interval", "1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        println!(
            "roost ap --count {} --controller-list {list} --base-ip {}  (pid {})",
            a.aps,
            a.ap_base_ip,
            child.id()
        );
        *fleet.lock().unwrap() = Some(child);
        let t_aps = Instant::now();
        let guard = started.lock().unwrap();
        let all = wait_for(Duration::from_secs(20), Duration::from_millis(20), || {
            (adopted(&guard[0])? == a.aps).then_some(())
        });
        if all.is_none() {
            bail!(
                "only {:?} of {} APs adopted within 20 s",
                adopted(&guard[0]),
                a.aps
            );
        }
        println!(
            "all {} APs in Run on vx9000-1 {} ms after the fleet started\n",
            a.aps,
            t_aps.elapsed().as_millis()
        );
        println!("{}\n", ap_table(&guard[0], "vx9000-1", 5)?);
        println!("{}", show(&guard[0], "vx9000-1", "show licenses")?);
        drop(guard);
    }

    if !a.no_failover {
        println!(
            "\nStep 4 - kill -9 the active controller vx9000-1 in {} s…",
            a.kill_active_after
        );
        std::thread::sleep(Duration::from_secs(a.kill_active_after));
        let mut guard = started.lock().unwrap();
        let pid = guard[0].pid().unwrap_or(0);
        let t_kill = Instant::now();
        guard[0].kill9();
        println!("killed vx9000-1 (pid {pid})");
        let c2 = &guard[1];
        let active = wait_for(Duration::from_secs(10), Duration::from_millis(5), || {
            let s = c2.status().ok()?;
            (s["oper_state"] == "active").then_some(())
        });
        match active {
            Some(()) => println!(
                "vx9000-2 is active {} ms after the kill",
                t_kill.elapsed().as_millis()
            ),
            None => println!("vx9000-2 did not become active within 10 s"),
        }
        if a.aps > 0 {
            let all = wait_for(Duration::from_secs(20), Duration::from_millis(20), || {
                (adopted(c2)? == a.aps).then_some(())
            });
            match all {
                Some(()) => println!(
                    "every AP ({}) in Run on vx9000-2 {} ms after the kill (no new discovery: \
                     they knew the controller list)",
                    a.aps,
                    t_kill.elapsed().as_millis()
                ),
                None => println!(
                    "only {:?} of {} APs on vx9000-2 20 s after the kill",
                    adopted(c2),
                    a.aps
                ),
            }
            println!("\n{}", ap_table(c2, "vx9000-2", 5)?);
        }
        println!("\n{}", show(c2, "vx9000-2", "show cluster members")?);

        println!("\nStep 5 - vx9000-1 returns; after force-configured-state-delay ({} s) the APs go home", a.fallback_delay);
        let spec = guard[0].spec.clone();
        let t_back = Instant::now();
        guard[0] = ControllerProcess::spawn(&bin, spec)?;
        println!("restarted vx9000-1 (pid {})", guard[0].pid().unwrap_or(0));
        let (c1, c2) = (&guard[0], &guard[1]);
        let standby = wait_for(
            Duration::from_secs(a.fallback_delay + 20),
            Duration::from_millis(20),
            || (c2.status().ok()?["oper_state"] == "standby").then_some(()),
        );
        match standby {
            Some(()) => println!(
                "vx9000-2 is standby again {} ms after vx9000-1 returned",
                t_back.elapsed().as_millis()
            ),
            None => println!("vx9000-2 did not return to standby"),
        }
        if a.aps > 0 {
            let home = wait_for(Duration::from_secs(30), Duration::from_millis(20), || {
                (adopted(c1)? == a.aps && adopted(c2)? == 0).then_some(())
            });
            match home {
                Some(()) => println!(
                    "every AP back on vx9000-1 {} ms after it returned (no AP rebooted: AC Name \
                     with Priority + WTP Fallback, then Primary Discovery)",
                    t_back.elapsed().as_millis()
                ),
                None => println!(
                    "APs on vx9000-1: {:?}, on vx9000-2: {:?} 30 s after the return",
                    adopted(c1),
                    adopted(c2)
                ),
            }
            println!(
                "\n{}",
                adoption_lines(
                    c2,
                    "vx9000-2",
                    &[
                        "Adopting APs",
                        "APs adopted",
                        "Fallbacks confirmed",
                        "APs reset for fallback"
                    ]
                )?
            );
        }
        println!("\n{}", show(c2, "vx9000-2", "show cluster history")?);
    }
    if !a.no_wait {
        println!("\nThe cluster keeps running. Press Ctrl-C to stop it.");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    Ok(0)
}
