//! Layer 3, multi-host: controllers in their own network namespaces on a bridge, partitions
//! and random loss made with nftables inside the namespaces. Needs root: runs in CI (root,
//! CI=true) and is skipped with a message elsewhere.

use roost_testkit as harness;

use harness::{run, status, wait_for, wait_steady, ControllerProcess, Spec};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_roost"))
}

fn can_run() -> bool {
    let root = nix::unistd::Uid::effective().is_root();
    if !root {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root: namespace tests must run"
        );
        eprintln!("skipping: network namespace tests need root");
    }
    root
}

fn sh(args: &[&str]) {
    if let Err(e) = harness::netns::sh(args) {
        panic!("{e}");
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// N namespaces on one bridge: host i is 10.250.<subnet>.<i+1>, the bridge (root namespace,
/// so the test reaches the APIs) is .254. Removed on drop.
struct Net {
    ns: Vec<String>,
    bridge: String,
    subnet: u32,
    join_closed: std::cell::Cell<bool>,
}

impl Net {
    fn new(n: usize) -> Net {
        let k = NEXT.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}{}", std::process::id() % 100_000, k);
        let subnet = 100 + (std::process::id() % 100) + k;
        let bridge = format!("rbr{tag}");
        let net = Net {
            ns: (0..n).map(|i| format!("roost-{tag}-{i}")).collect(),
            bridge: bridge.clone(),
            subnet,
            join_closed: std::cell::Cell::new(false),
        };
        sh(&["ip", "link", "add", &bridge, "type", "bridge"]);
        sh(&[
            "ip",
            "addr",
            "add",
            &format!("10.250.{subnet}.254/24"),
            "dev",
            &bridge,
        ]);
        sh(&["ip", "link", "set", &bridge, "up"]);
        for (i, ns) in net.ns.iter().enumerate() {
            let (v, p) = (format!("rv{tag}{i}"), format!("rp{tag}{i}"));
            sh(&["ip", "netns", "add", ns]);
            sh(&["ip", "link", "add", &v, "type", "veth", "peer", "name", &p]);
            sh(&["ip", "link", "set", &p, "netns", ns]);
            sh(&["ip", "link", "set", &v, "master", &bridge]);
            sh(&["ip", "link", "set", &v, "up"]);
            sh(&[
                "ip",
                "netns",
                "exec",
                ns,
                "ip",
                "addr",
                "add",
                &format!("{}/24", net.ip(i)),
                "dev",
                &p,
            ]);
            sh(&["ip", "netns", "exec", ns, "ip", "link", "set", &p, "up"]);
            sh(&["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
            sh(&[
                "ip", "netns", "exec", ns, "nft", "add", "table", "inet", "roost",
            ]);
            for hook in ["input", "output"] {
                let chain = format!("{{ type filter hook {hook} priority 0; }}");
                sh(&[
                    "ip", "netns", "exec", ns, "nft", "add", "chain", "inet", "roost", hook, &chain,
                ]);
            }
        }
        net
    }
    fn ip(&self, i: usize) -> String {
        format!("10.250.{}.{}", self.subnet, i + 1)
    }
    /// Cuts the member channel (UDP 24576) between host i and every host in `others`.
    fn partition(&self, i: usize, others: &[usize]) {
        for &j in others {
            let peer = self.ip(j);
            sh(&[
                "ip",
                "netns",
                "exec",
                &self.ns[i],
                "nft",
                "add",
                "rule",
                "inet",
                "roost",
                "input",
                "ip",
                "saddr",
                &peer,
                "udp",
                "dport",
                "24576",
                "drop",
            ]);
            sh(&[
                "ip",
                "netns",
                "exec",
                &self.ns[i],
                "nft",
                "add",
                "rule",
                "inet",
                "roost",
                "output",
                "ip",
                "daddr",
                &peer,
                "udp",
                "dport",
                "24576",
                "drop",
            ]);
        }
    }
    /// Random loss of `pct` % of member-channel datagrams arriving at host i.
    fn loss(&self, i: usize, pct: u32) {
        let p = pct.to_string();
        sh(&[
            "ip",
            "netns",
            "exec",
            &self.ns[i],
            "nft",
            "add",
            "rule",
            "inet",
            "roost",
            "input",
            "udp",
            "dport",
            "24576",
            "numgen",
            "random",
            "mod",
            "100",
            "<",
            &p,
            "drop",
        ]);
    }
    /// The seed's firewall rule: TCP 5349 is only needed while joining; after that the member
    /// channel (UDP 24576) must be all the members need.
    fn close_join_port(&self) {
        self.join_closed.set(true);
        for ns in &self.ns {
            for (chain, dir) in [("input", "dport"), ("output", "dport")] {
                sh(&[
                    "ip", "netns", "exec", ns, "nft", "add", "rule", "inet", "roost", chain, "tcp",
                    dir, "5349", "drop",
                ]);
            }
        }
    }
    /// Removes the member-channel cuts and loss (the join port stays closed if it was).
    fn heal(&self) {
        for ns in &self.ns {
            for chain in ["input", "output"] {
                sh(&[
                    "ip", "netns", "exec", ns, "nft", "flush", "chain", "inet", "roost", chain,
                ]);
            }
        }
        if self.join_closed.get() {
            self.close_join_port();
        }
    }
    fn spec(&self, dir: &std::path::Path, i: usize, name: &str, mac: &str) -> Spec {
        let mut s = Spec::new(name, &self.ip(i), &dir.join(name))
            .arg(&format!("--mac {mac} --hostname {name}"));
        s.netns = Some(self.ns[i].clone());
        s
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in &self.ns {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
    }
}

fn pair(net: &Net, dir: &std::path::Path) -> (ControllerProcess, ControllerProcess) {
    let a = ControllerProcess::spawn(&bin(), net.spec(dir, 0, "vx9000-1", "52-54-00-E1-EE-01"))
        .unwrap();
    let b = ControllerProcess::spawn(&bin(), net.spec(dir, 1, "vx9000-2", "52-54-00-3A-A1-02"))
        .unwrap();
    run(
        &a,
        &[
            "configure terminal",
            "self",
            "cluster name NETNS",
            "cluster master-priority 250",
            "commit write",
        ],
    );
    let join = format!(
        "join-cluster {} user admin password admin123 level 1 mode standby",
        net.ip(0)
    );
    run(&b, &[&join]);
    wait_steady(&[&a, &b]);
    (a, b)
}

#[test]
fn partition_both_sides_commit_heal_keeps_every_commit() {
    if !can_run() {
        return;
    }
    let net = Net::new(2);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = pair(&net, dir.path());
    net.close_join_port();
    wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        (status(&b)["oper_state"] == "standby").then_some(())
    })
    .expect("b standby");

    net.partition(0, &[1]);
    // Each side now has its own master; the standby side fails over to active.
    let split = wait_for(Duration::from_secs(5), Duration::from_millis(10), || {
        let sb = status(&b);
        (sb["oper_state"] == "active"
            && sb["master"] == "12.3A.A1.02"
            && status(&a)["master"] == "12.E1.EE.01")
            .then_some(())
    });
    assert!(split.is_some(), "a={} b={}", status(&a), status(&b));
    run(
        &a,
        &["configure terminal", "wlan side-a", "ssid SideA", "commit"],
    );
    run(
        &b,
        &["configure terminal", "wlan side-b", "ssid SideB", "commit"],
    );

    net.heal();
    wait_steady(&[&a, &b]);
    assert_eq!(
        status(&a)["master"],
        "12.E1.EE.01",
        "the better-ranked master wins after the heal"
    );
    let ra = run(&a, &["show running-config"]);
    let rb = run(&b, &["show running-config"]);
    assert_eq!(ra, rb);
    assert!(ra.contains("wlan side-a") && !ra.contains("wlan side-b"));
    // side-b's commit is kept as a superseded configuration, visible on both members.
    let ok = wait_for(Duration::from_secs(5), Duration::from_millis(50), || {
        run(&a, &["show cluster revisions"])
            .contains("side-b")
            .then_some(())
    });
    assert!(ok.is_some(), "{}", run(&a, &["show cluster revisions"]));
    let revs = a.get_json("/api/v1/cluster/revisions").unwrap();
    let sup = revs["superseded"].as_array().unwrap();
    assert_eq!(sup.len(), 1, "{revs}");
    let n = sup[0]["head"]["number"].as_u64().unwrap();
    // An operator restores it: the cluster now runs side-b's configuration.
    run(&a, &[&format!("cluster restore-revision {n}")]);
    let ok = wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        run(&b, &["show running-config"])
            .contains("wlan side-b")
            .then_some(())
    });
    assert!(ok.is_some());
}

#[test]
fn commits_replicate_through_heavy_loss() {
    if !can_run() {
        return;
    }
    let net = Net::new(2);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = pair(&net, dir.path());
    net.close_join_port();
    // This tests replication through loss, not failure detection: with 30% loss the default
    // dead interval (3 hellos) would declare the master dead every few seconds and split the
    // cluster, as it should. An operator on such a link raises the dead interval; so do we
    // (20 hellos: a false failover then needs 20 losses in a row, p ≈ 3e-11).
    run(
        &a,
        &[
            "configure terminal",
            "self",
            "cluster dead-interval 2000",
            "exit",
            "device 52-54-00-3A-A1-02",
            "cluster dead-interval 2000",
            "commit",
        ],
    );
    wait_steady(&[&a, &b]);
    net.loss(0, 30);
    net.loss(1, 30);
    for i in 0..10 {
        run(
            &b,
            &[
                "configure terminal",
                &format!("wlan lossy-{i}"),
                "ssid Lossy",
                "commit",
            ],
        );
    }
    let ok = wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
        run(&a, &["show running-config"])
            .contains("wlan lossy-9")
            .then_some(())
    });
    assert!(ok.is_some());
    // Every commit made it, through the master that never changed.
    let rc = run(&a, &["show running-config"]);
    assert!(
        (0..10).all(|i| rc.contains(&format!("wlan lossy-{i}\n"))),
        "{rc}"
    );
    assert_eq!(status(&b)["master"], "12.E1.EE.01");
    assert!(!run(&b, &["show cluster history"]).contains("Failed over"));
    net.heal();
    wait_steady(&[&a, &b]);
    assert_eq!(
        run(&a, &["show running-config"]),
        run(&b, &["show running-config"])
    );
}

#[test]
fn link_down_fails_over_and_link_up_heals() {
    if !can_run() {
        return;
    }
    let net = Net::new(3);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = pair(&net, dir.path());
    let c = ControllerProcess::spawn(
        &bin(),
        net.spec(dir.path(), 2, "vx9000-3", "52-54-00-3A-A1-03"),
    )
    .unwrap();
    run(
        &c,
        &[&format!(
            "join-cluster {} user admin password admin123 level 1 mode standby",
            net.ip(0)
        )],
    );
    wait_steady(&[&a, &b, &c]);
    net.close_join_port();
    // Isolate a completely (both directions to both peers).
    net.partition(0, &[1, 2]);
    net.partition(1, &[0]);
    net.partition(2, &[0]);
    wait_steady(&[&b, &c]);
    let s = status(&b);
    assert!(s["master"] == "12.3A.A1.02" || s["master"] == "12.3A.A1.03");
    let actives = [&b, &c]
        .iter()
        .filter(|x| status(x)["oper_state"] == "active")
        .count();
    assert!(actives >= 1, "someone took over adoption");
    net.heal();
    wait_steady(&[&a, &b, &c]);
    assert_eq!(status(&c)["master"], "12.E1.EE.01");
}
