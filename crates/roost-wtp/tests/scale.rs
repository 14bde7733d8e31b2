//! The fleet at full size against a fake AC in the same process (ignored by default; run it
//! alone and in release, on a quiet machine):
//!
//! `CARGO_TARGET_DIR=/work/target-wtp cargo test --release -p roost-wtp --test scale -- --ignored --nocapture`
//!
//! `ROOST_WTP_SCALE=N` sets the number of APs (default 25,600). It prints the time from
//! cold to every AP in Run and the process's CPU time in a steady state at Roost's fast
//! timers (echo 1 s), and fails if any AP loses its AC meanwhile.

mod support;

use roost_capwap::vendor::FastTimers;
use roost_wtp::fleet::{Fleet, FleetConfig};
use roost_wtp::ControllerList;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use support::fake_ac::{FakeAc, FakeAcConfig};

/// User + system CPU time of this process so far, from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "25,600 APs: run alone, in release"]
async fn a_full_vx9000_of_aps_adopts_and_stays_in_run() {
    let count: usize = std::env::var("ROOST_WTP_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25_600);
    let ip = Ipv4Addr::new(127, 77, 9, 1);
    let ac = FakeAc::start(FakeAcConfig {
        name: "ac-scale".into(),
        ip,
        ac_list: vec![ip],
        fast: Some(FastTimers {
            echo_interval: Duration::from_secs(1),
            retransmit_interval: Duration::from_millis(300),
            max_retransmit: 1,
        }),
        refuse_even: false,
        wlan: None,
        priorities: vec![],
        port: 0,
    })
    .await;
    let mut config = FleetConfig::new(count, ControllerList::pool1([ac.control]));
    config.base_ip = Ipv4Addr::new(127, 90, 0, 1);
    let start = Instant::now();
    let fleet = Fleet::start(config).unwrap();
    let limit = start + Duration::from_secs(60);
    while fleet.progress().run < count {
        assert!(
            Instant::now() < limit,
            "not all in Run: {}",
            fleet.progress()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cold = start.elapsed();
    let (cpu0, t0) = (cpu_time(), Instant::now());
    tokio::time::sleep(Duration::from_secs(10)).await;
    let cpu = cpu_time() - cpu0;
    let wall = t0.elapsed();
    let p = fleet.progress();
    let s = fleet.stop().await.unwrap();
    ac.kill().await;
    println!("aps {count}");
    println!("cold_to_all_run_ms {}", cold.as_millis());
    println!(
        "adopt_p50_ms {:?} adopt_max_ms {:?}",
        s.time_to_adopt.p50_ms, s.time_to_adopt.max_ms
    );
    println!(
        "steady_cpu_percent_of_one_core {:.1} (fleet and fake AC together, echo 1 s)",
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
    );
    println!(
        "retransmits {} kernel_drops {}",
        s.traffic.retransmits, s.traffic.kernel_drops
    );
    assert_eq!(p.losses, 0, "{p}");
    assert_eq!(s.in_run, count);
}
