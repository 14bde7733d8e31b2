//! The fleet on real loopback sockets against fake ACs (`support/fake_ac.rs`, built from the
//! codec alone): adoption to Run, WLANs pushed and reported, an AC killed and its APs in Run
//! on the next AC of the AC IPv4 List without a discovery round, refusals by reason. Every
//! wait is bounded; every socket is closed at the end (fleet stopped, ACs killed).

mod support;

use roost_capwap::elements::AcNameWithPriority;
use roost_capwap::vendor::FastTimers;
use roost_wtp::fleet::{Fleet, FleetConfig, Refused};
use roost_wtp::ControllerList;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use support::fake_ac::{FakeAc, FakeAcConfig};

/// Polls `ok` every 10 ms for at most `limit`.
async fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn fast() -> FastTimers {
    FastTimers {
        echo_interval: Duration::from_millis(200),
        retransmit_interval: Duration::from_millis(100),
        max_retransmit: 1,
    }
}

fn ac(name: &str, ip: Ipv4Addr, ac_list: &[Ipv4Addr], wlan: Option<&str>) -> FakeAcConfig {
    FakeAcConfig {
        name: name.into(),
        ip,
        ac_list: ac_list.to_vec(),
        fast: Some(fast()),
        refuse_even: false,
        wlan: wlan.map(str::to_owned),
        priorities: vec![],
        port: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_aps_adopt_then_fail_over_to_the_next_ac_of_the_ac_list() {
    let (ip1, ip2) = (Ipv4Addr::new(127, 77, 0, 1), Ipv4Addr::new(127, 77, 0, 2));
    let list = [ip1, ip2];
    let ac1 = FakeAc::start(ac("ac-1", ip1, &list, Some("corp"))).await;
    let ac2 = FakeAc::start(ac("ac-2", ip2, &list, None)).await;
    // ac-2 is in pool 2: never asked while ac-1 answers.
    let controllers: ControllerList =
        format!("pool1={};pool2={};level=1", ac1.control, ac2.control)
            .parse()
            .unwrap();
    let mut config = FleetConfig::new(50, controllers);
    config.base_ip = Ipv4Addr::new(127, 78, 0, 1);
    config.seed = 7;
    config.start_rate = 1000;
    let fleet = Fleet::start(config).unwrap();
    let (k1, k2) = (ac1.control.to_string(), ac2.control.to_string());

    wait_until("50 APs in Run on ac-1", Duration::from_secs(10), || {
        let p = fleet.progress();
        p.run == 50 && p.run_per_controller.get(&k1) == Some(&50)
    })
    .await;
    assert_eq!(ac1.stats().run.len(), 50);
    wait_until("the WLAN on every AP", Duration::from_secs(5), || {
        ac1.stats().wlan_responses == 50
    })
    .await;
    assert_eq!(ac2.stats().discovery_requests, 0);

    let killed = Instant::now();
    ac1.kill().await;
    wait_until("50 APs in Run on ac-2", Duration::from_secs(10), || {
        fleet.progress().run_per_controller.get(&k2) == Some(&50)
    })
    .await;
    let failover = killed.elapsed();
    let st2 = ac2.stats();
    assert_eq!(st2.run.len(), 50);
    assert_eq!(st2.join_requests, 50);
    // Straight to Join: the AC list said where to go.
    assert_eq!(st2.discovery_requests, 0);
    assert_eq!(st2.bad, 0);

    let s = fleet.stop().await.unwrap();
    ac2.kill().await;
    assert_eq!((s.aps, s.started, s.adopted, s.in_run), (50, 50, 50, 50));
    assert_eq!(s.run_per_controller.get(&k2), Some(&50));
    assert_eq!(s.losses, 50);
    assert_eq!(s.time_to_adopt.count, 50);
    assert_eq!(s.time_to_readopt.count, 50);
    // Echo 200 ms + one retransmission after 100 ms + 100 ms: every loss is noticed within
    // 0.4 s of the kill, then a Join to the next AC.
    assert!(failover < Duration::from_secs(3), "{failover:?}");
    assert!(
        s.time_to_readopt.max_ms.unwrap() < 1000.0,
        "{:?}",
        s.time_to_readopt
    );
    // The WLAN ac-1 pushed stays through the failover.
    assert_eq!(s.wlans.get("corp"), Some(&50));
    assert_eq!(s.wlan_changes.added, 50);
    assert_eq!(s.refused, []);
    assert_eq!(
        s.traffic.malformed + s.traffic.unroutable + s.traffic.send_errors,
        0
    );
    assert_eq!(s.models.get("AP7532"), Some(&50));
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["time_to_readopt"]["count"], 50);
    assert_eq!(json["run_per_controller"][&k2], 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_aps_are_reported_by_reason() {
    let ip = Ipv4Addr::new(127, 77, 1, 1);
    let mut cfg = ac("ac-full", ip, &[ip], None);
    cfg.refuse_even = true;
    let ac = FakeAc::start(cfg).await;
    let mut config = FleetConfig::new(10, ControllerList::pool1([ac.control]));
    config.base_ip = Ipv4Addr::new(127, 78, 1, 1);
    config.start_rate = 1000;
    let fleet = Fleet::start(config).unwrap();
    wait_until("5 in Run, 5 refused", Duration::from_secs(10), || {
        let p = fleet.progress();
        p.run == 5 && p.refusals == 5
    })
    .await;
    let s = fleet.stop().await.unwrap();
    ac.kill().await;
    assert_eq!((s.adopted, s.in_run), (5, 5));
    assert_eq!(
        s.refused,
        [Refused {
            code: 4,
            reason: "Join Failure (Resource Depletion)".into(),
            aps: 5
        }]
    );
    let text = s.to_string();
    assert!(text.contains("refused            5 (5 refusals)"), "{text}");
    assert!(
        text.contains("5 APs: 4 Join Failure (Resource Depletion)"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aps_fall_back_to_the_primary_when_it_returns_without_a_reset() {
    let (ip1, ip2) = (Ipv4Addr::new(127, 77, 2, 1), Ipv4Addr::new(127, 77, 2, 2));
    let list = [ip1, ip2];
    let ac1 = FakeAc::start(ac("ac-1", ip1, &list, None)).await;
    let mut standby = ac("ac-2", ip2, &list, None);
    // The standby says the primary is ac-1: WTP Fallback takes the APs home when it is back.
    standby.priorities = vec![
        AcNameWithPriority {
            priority: 1,
            name: "ac-1".into(),
        },
        AcNameWithPriority {
            priority: 2,
            name: "ac-2".into(),
        },
    ];
    let ac2 = FakeAc::start(standby).await;
    let controllers: ControllerList = format!("pool1={};pool2={}", ac1.control, ac2.control)
        .parse()
        .unwrap();
    let mut config = FleetConfig::new(20, controllers);
    config.base_ip = Ipv4Addr::new(127, 78, 2, 1);
    config.start_rate = 1000;
    let fleet = Fleet::start(config).unwrap();
    let (k1, k2) = (ac1.control.to_string(), ac2.control.to_string());
    let on = |k: &str| {
        fleet
            .progress()
            .run_per_controller
            .get(k)
            .copied()
            .unwrap_or(0)
    };
    wait_until("20 APs on ac-1", Duration::from_secs(10), || on(&k1) == 20).await;
    let port = ac1.control.port();
    ac1.kill().await;
    wait_until("20 APs on ac-2", Duration::from_secs(10), || on(&k2) == 20).await;
    wait_until("the priorities on every AP", Duration::from_secs(5), || {
        ac2.stats().update_responses == 20
    })
    .await;
    // ac-1 comes back at the same address.
    let mut back = ac("ac-1", ip1, &list, None);
    back.port = port;
    let ac1 = FakeAc::start(back).await;
    wait_until("20 APs back on ac-1", Duration::from_secs(10), || {
        on(&k1) == 20
    })
    .await;
    let st = ac1.stats();
    assert!(st.primary_discovery_requests >= 20, "{st:?}");
    assert_eq!(st.discovery_requests, 0);
    let s = fleet.stop().await.unwrap();
    ac1.kill().await;
    ac2.kill().await;
    assert_eq!((s.in_run, s.losses, s.fallbacks, s.resets), (20, 20, 20, 0));
    assert_eq!(s.time_to_fall_back.count, 20);
    // A move home is a Join and three more exchanges on loopback, with no AC to wait for.
    assert!(
        s.time_to_fall_back.max_ms.unwrap() < 500.0,
        "{:?}",
        s.time_to_fall_back
    );
}
