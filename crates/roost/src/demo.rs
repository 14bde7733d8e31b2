//! `roost demo`: the seed's how-to, live, on two loopback addresses.

use anyhow::{bail, Result};
use roost_testkit::{is_steady, roost_bin, wait_for, ControllerProcess, Spec};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Kill -9 the active member after this many seconds to show the failover live.
    #[arg(long)]
    kill_active_after: Option<u64>,
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
    // Ctrl-C: stop every process we started (by PID), remove the temp dir, exit.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    {
        let started = started.clone();
        let dir = dir.clone();
        std::thread::spawn(move || {
            rt.block_on(async {
                let _ = tokio::signal::ctrl_c().await;
            });
            eprintln!("\nstopping the demo cluster…");
            // Even if the main thread panicked while holding the list.
            let mut started = started.lock().unwrap_or_else(|e| e.into_inner());
            for mut c in started.drain(..) {
                c.terminate();
            }
            let _ = std::fs::remove_dir_all(&dir);
            std::process::exit(130);
        });
    }
    let result = demo(&a, &dir, &started);
    for mut c in started.lock().unwrap().drain(..) {
        c.terminate();
    }
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn show(c: &ControllerProcess, host: &str, cmd: &str) -> Result<String> {
    let r = c.exec(&[cmd])?;
    Ok(format!("{host}#{cmd}\n{}", r.text()))
}

fn demo(
    a: &DemoArgs,
    dir: &std::path::Path,
    started: &Arc<Mutex<Vec<ControllerProcess>>>,
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
            "--aap-licenses 128",
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
    cfg.extend([
        "cluster force-configured-state-delay 30 seconds",
        "commit write",
        "end",
    ]);
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

    if let Some(secs) = a.kill_active_after {
        println!("\nKilling the active controller vx9000-1 (kill -9) in {secs} s…");
        std::thread::sleep(Duration::from_secs(secs));
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
                "vx9000-2 is active {} ms after the kill\n",
                t_kill.elapsed().as_millis()
            ),
            None => println!("vx9000-2 did not become active within 10 s\n"),
        }
        println!("{}", show(c2, "vx9000-2", "show cluster members")?);
        println!("{}", show(c2, "vx9000-2", "show cluster history")?);
    }
    if !a.no_wait {
        println!("\nThe cluster keeps running. Press Ctrl-C to stop it.");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    Ok(0)
}
