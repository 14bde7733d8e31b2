use super::*;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn key(face: Face, last: u8) -> SourceKey {
    SourceKey::new(face, ip(last))
}

fn cfg() -> GateConfig {
    GateConfig::default()
}

/// Fails `key` once at `now` (admit + finish).
fn fail(b: &mut Backoff, key: SourceKey, now: Instant) {
    b.admit(key, now).expect("admitted");
    b.finish(key, Outcome::Failure, now);
}

#[test]
fn backoff_starts_after_the_free_failures_doubles_and_is_capped() {
    let b = Backoff::new(cfg());
    assert_eq!(b.delay(1), Duration::ZERO);
    assert_eq!(b.delay(3), Duration::ZERO);
    assert_eq!(b.delay(4), Duration::from_secs(1));
    assert_eq!(b.delay(5), Duration::from_secs(2));
    assert_eq!(b.delay(6), Duration::from_secs(4));
    assert_eq!(b.delay(10), Duration::from_secs(30));
    assert_eq!(b.delay(u32::MAX), Duration::from_secs(30));
}

#[test]
fn a_failing_source_is_refused_until_its_delay_passes_and_a_success_clears_it() {
    let mut b = Backoff::new(cfg());
    let k = key(Face::Api, 200);
    let t0 = Instant::now();
    for _ in 0..4 {
        fail(&mut b, k, t0);
    }
    // 4 failures: 1 s delay. Refused without work, with the time to wait.
    match b.admit(k, t0 + Duration::from_millis(500)) {
        Err(LoginError::Backoff {
            addr,
            retry_after_secs,
        }) => {
            assert_eq!(addr, ip(200));
            assert_eq!(retry_after_secs, 1);
        }
        other => panic!("expected backoff, got {other:?}"),
    }
    // After the delay it may try again, in the suspect queue.
    let t1 = t0 + Duration::from_secs(1);
    assert_eq!(b.admit(k, t1), Ok(Class::Suspect));
    b.finish(k, Outcome::Failure, t1);
    // 5 failures: 2 s.
    assert!(b.admit(k, t1 + Duration::from_millis(1999)).is_err());
    let t2 = t1 + Duration::from_secs(2);
    assert_eq!(b.admit(k, t2), Ok(Class::Suspect));
    b.finish(k, Outcome::Success, t2);
    assert_eq!(b.failures(k), 0);
    assert!(b.is_empty(), "a clean source is not tracked");
    assert_eq!(b.admit(k, t2), Ok(Class::Clean));
}

#[test]
fn sources_are_independent_per_address_and_per_face() {
    let mut b = Backoff::new(cfg());
    let t0 = Instant::now();
    // 127.0.0.200-249 flood the API and SSH with failures.
    for i in 0..20 {
        for last in 200..250 {
            for face in [Face::Api, Face::Ssh] {
                let k = key(face, last);
                if b.admit(k, t0 + Duration::from_millis(i)).is_ok() {
                    b.finish(k, Outcome::Failure, t0 + Duration::from_millis(i));
                }
            }
        }
    }
    assert!(matches!(
        b.admit(key(Face::Api, 200), t0 + Duration::from_millis(30)),
        Err(LoginError::Backoff { .. })
    ));
    // The legitimate user on 127.0.0.1 is not delayed on any face, and goes first.
    for face in [Face::Api, Face::Ssh, Face::Join] {
        assert_eq!(
            b.admit(key(face, 1), t0 + Duration::from_millis(30)),
            Ok(Class::Clean)
        );
    }
    // An attacker on the SSH face does not delay the same address on another face.
    assert_eq!(
        b.admit(key(Face::Join, 200), t0 + Duration::from_millis(30)),
        Ok(Class::Clean)
    );
}

#[test]
fn ipv6_sources_are_grouped_by_64_and_mapped_v4_is_v4() {
    let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
    let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(SourceKey::new(Face::Ssh, a), SourceKey::new(Face::Ssh, b));
    assert_ne!(SourceKey::new(Face::Ssh, a), SourceKey::new(Face::Ssh, c));
    let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
    assert_eq!(SourceKey::new(Face::Api, mapped).addr, ip(1));
}

#[test]
fn in_flight_checks_per_source_are_bounded() {
    let mut b = Backoff::new(cfg());
    let t0 = Instant::now();
    let k = key(Face::Ssh, 7);
    assert!(b.admit(k, t0).is_ok());
    assert!(b.admit(k, t0).is_ok());
    assert_eq!(b.admit(k, t0), Err(LoginError::Busy));
    // Another source is not affected.
    assert!(b.admit(key(Face::Ssh, 8), t0).is_ok());
    b.finish(k, Outcome::NotChecked, t0);
    assert!(b.admit(k, t0).is_ok());
}

#[test]
fn the_table_stays_bounded_whatever_the_number_of_sources() {
    let mut b = Backoff::new(GateConfig {
        max_sources: 100,
        ..cfg()
    });
    let t0 = Instant::now();
    for n in 0..10_000u32 {
        let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n));
        let k = SourceKey::new(Face::Api, addr);
        let now = t0 + Duration::from_millis(n as u64);
        fail(&mut b, k, now);
        assert!(b.len() <= 100, "{} sources tracked", b.len());
    }
    // The newest failures are the ones kept.
    let newest = SourceKey::new(Face::Api, IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + 9_999)));
    assert_eq!(b.failures(newest), 1);
    let oldest = SourceKey::new(Face::Api, IpAddr::V4(Ipv4Addr::from(0x0a00_0000)));
    assert_eq!(b.failures(oldest), 0);
}

#[test]
fn old_failures_are_forgotten() {
    let mut b = Backoff::new(cfg());
    let t0 = Instant::now();
    let k = key(Face::Api, 9);
    for _ in 0..10 {
        b.admit(k, t0).ok();
        b.finish(k, Outcome::Failure, t0);
    }
    assert!(b.admit(k, t0 + Duration::from_secs(5)).is_err());
    let later = t0 + cfg().forget_after;
    assert_eq!(b.admit(k, later), Ok(Class::Clean));
}

/// A gate whose checks block until released: shows how many run at once and what is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_workers_checks_run_at_once_and_the_rest_queue_or_are_refused() {
    let gate = AuthGate::new(GateConfig {
        workers: 2,
        queue: 3,
        queue_wait: Duration::from_secs(30),
        ..cfg()
    });
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let mut tasks = Vec::new();
    // 2 running + 3 queued (clean class) from distinct sources. The queue only holds 3, so
    // the first two must have started before the others are queued.
    for last in 10..15u8 {
        if last == 12 {
            let t = Instant::now();
            while running.load(Ordering::SeqCst) < 2 {
                assert!(
                    t.elapsed() < Duration::from_secs(10),
                    "checks did not start"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let attempt = gate.admit(Face::Api, ip(last)).expect("admitted");
        let (running, peak, release_rx) = (running.clone(), peak.clone(), release_rx.clone());
        tasks.push(tokio::spawn(async move {
            let r = attempt
                .run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    let _ = lock(&release_rx).recv_timeout(Duration::from_secs(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                    true
                })
                .await;
            attempt.succeeded();
            r
        }));
    }
    // Bounded poll until two run and three wait.
    let t = Instant::now();
    while !(running.load(Ordering::SeqCst) == 2 && gate.queued() == 3) {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "checks did not start: {} running, {} queued",
            running.load(Ordering::SeqCst),
            gate.queued()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The queue is full: the next one is refused at once, without running.
    let extra = gate.admit(Face::Api, ip(99)).unwrap();
    assert_eq!(extra.run(|| true).await, Err(LoginError::Busy));
    drop(extra);
    for _ in 0..5 {
        release_tx.send(()).unwrap();
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Ok(true));
    }
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    assert_eq!(gate.tracked_sources(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_waited_too_long_is_refused_unrun() {
    let gate = AuthGate::new(GateConfig {
        workers: 1,
        queue_wait: Duration::from_millis(50),
        ..cfg()
    });
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let blocker = gate.admit(Face::Ssh, ip(1)).unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let first = tokio::spawn(async move {
        blocker
            .run(move || {
                s.fetch_add(1, Ordering::SeqCst);
                let _ = release_rx.recv_timeout(Duration::from_secs(20));
            })
            .await
    });
    let t = Instant::now();
    while started.load(Ordering::SeqCst) == 0 {
        assert!(t.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let waiting = gate.admit(Face::Ssh, ip(2)).unwrap();
    let second =
        tokio::spawn(async move { waiting.run(move || r.fetch_add(1, Ordering::SeqCst)).await });
    // Bounded poll: the second check is queued; release the worker only after its deadline.
    let t = Instant::now();
    while gate.queued() == 0 {
        assert!(t.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let queued_at = Instant::now();
    while queued_at.elapsed() < Duration::from_millis(60) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    release_tx.send(()).unwrap();
    assert_eq!(first.await.unwrap(), Ok(()));
    assert_eq!(second.await.unwrap(), Err(LoginError::Busy));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_run_on_threads_of_lowered_priority() {
    let gate = AuthGate::new(GateConfig { nice: 10, ..cfg() });
    let here = current_nice();
    let a = gate.admit(Face::Api, ip(1)).unwrap();
    let (nice, name) = a
        .run(|| {
            (
                current_nice(),
                std::thread::current().name().map(String::from),
            )
        })
        .await
        .unwrap();
    assert_eq!(nice, (here + 10).min(19));
    assert!(name.unwrap().starts_with("roost-auth-"));
    assert_eq!(current_nice(), here, "the caller's thread is not changed");
}

#[test]
fn failed_checks_are_counted_per_face_and_nothing_else_is() {
    let counters = Arc::new(crate::counters::Counters::default());
    let gate = AuthGate::with_counters(cfg(), counters.clone());
    gate.admit(Face::Ssh, ip(1)).unwrap().failed();
    gate.admit(Face::Ssh, ip(1)).unwrap().failed();
    gate.admit(Face::Api, ip(2)).unwrap().failed();
    gate.admit(Face::Api, ip(3)).unwrap().succeeded();
    drop(gate.admit(Face::Api, ip(4)).unwrap()); // not checked
    let m = crate::counters::metrics_input(
        &counters,
        &crate::member::TrafficCounters::default(),
        &roost_config::MemberSnapshot::empty(1024),
        String::new(),
    );
    assert_eq!(
        m.login_failures,
        roost_api::metrics::LoginFailures {
            ssh: 2,
            api: 1,
            join: 0
        }
    );
}
