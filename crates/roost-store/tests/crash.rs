//! Crash safety: a child process (this test binary re-executed with `CHILD_ENV` set) saves
//! configurations, history and startup-configs in a loop and is killed with SIGKILL at an
//! arbitrary point; the store must then open and be consistent. Repeated for several rounds,
//! each continuing from what the previous one left.

use roost_store::Store;
use roost_wire::{ClusterEvent, HistoryEvent, MemberId, Revision, RevisionId};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "ROOST_STORE_CRASH_CHILD_DIR";
/// Upper bound on the child's work, in case it is never killed.
const CHILD_MAX_STEPS: u64 = 20_000;
const CHILD_MAX_TIME: Duration = Duration::from_secs(20);

fn rid(n: u64) -> RevisionId {
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(&n.to_be_bytes());
    hash[8..16].copy_from_slice(&n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    RevisionId { number: n, hash }
}

fn config_text(n: u64) -> String {
    // Large enough that a write spans several pages.
    format!(
        "! revision {n}\n{}",
        format!("wlan w{n}\n ssid s{n}\n").repeat(200)
    )
}

fn startup_text(n: u64) -> String {
    format!("! startup {n}\n{}end\n", "interface ge1\n".repeat(500))
}

/// The child's body: runs only when re-executed by `crash_rounds_leave_store_consistent`.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Store::open(Path::new(&dir)).expect("child opens store");
    let mut n = store
        .load_config()
        .expect("load")
        .map_or(0, |c| c.head.number);
    let started = Instant::now();
    for step in 0..CHILD_MAX_STEPS {
        if started.elapsed() > CHILD_MAX_TIME {
            break;
        }
        n += 1;
        let lineage: Vec<RevisionId> = (n.saturating_sub(20).max(1)..=n).map(rid).collect();
        if step % 17 == 16 {
            store
                .save_config(rid(n), &config_text(n), None, &lineage)
                .expect("snapshot");
        } else {
            let rev = Revision {
                id: rid(n),
                parent: rid(n - 1),
                origin: MemberId(1),
                request: n,
                user: "admin".into(),
                wall_ms: n,
                change: format!("wlan w{n}\n"),
            };
            store
                .save_config(rid(n), &config_text(n), Some(&rev), &lineage)
                .expect("save");
        }
        if step % 5 == 0 {
            let e = HistoryEvent {
                member: MemberId(1),
                hostname: "h".into(),
                seq: n,
                event: ClusterEvent::ConfigUpdateSuccess,
                wall_ms: n,
                reason: String::new(),
            };
            store.save_history(&[e]).expect("history");
            store
                .write_startup_config(&startup_text(n))
                .expect("startup");
        }
        if step == 3 {
            // Tell the parent real work is under way, so the kill lands mid-loop.
            println!("CHILD-RUNNING");
        }
    }
}

fn check_consistent(dir: &Path) -> u64 {
    let store = Store::open(dir).expect("store opens after crash");
    let c = store.load_config().unwrap().expect("child saved a config");
    assert_eq!(c.head, rid(c.head.number), "head is one the child wrote");
    assert_eq!(
        c.config,
        config_text(c.head.number),
        "config text matches head"
    );
    assert_eq!(c.lineage.last(), Some(&c.head), "lineage ends at head");
    if let Some(last) = c.log.last() {
        assert_eq!(last.id, c.head, "log ends at head");
    }
    for w in c.log.windows(2) {
        assert_eq!(w[0].id.number + 1, w[1].id.number, "log contiguous");
        assert_eq!(w[1].parent, w[0].id, "log chained");
    }
    if let Some(text) = store.startup_config().unwrap() {
        let n: u64 = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("! startup "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(text, startup_text(n), "startup-config is complete");
    }
    for e in store.history().unwrap() {
        assert!(e.seq <= c.head.number);
    }
    let names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        names.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")),
        "{names:?}"
    );
    c.head.number
}

#[test]
fn crash_rounds_leave_store_consistent() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut last_head = 0;
    for round in 0..4u64 {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while out.read_line(&mut line).unwrap() > 0 && !line.contains("CHILD-RUNNING") {
            line.clear();
        }
        assert!(
            line.contains("CHILD-RUNNING"),
            "child exited before running: {line:?}"
        );
        // Vary where in the loop the kill lands.
        std::thread::sleep(Duration::from_millis(40 + 70 * round));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let head = check_consistent(dir.path());
        assert!(
            head > last_head,
            "round {round}: progress ({head} after {last_head})"
        );
        eprintln!("round {round}: killed at head {head}");
        last_head = head;
    }
}
