//! A full disk, for real: the data dir on a 16 MiB tmpfs mounted by the test (root; CI runs it,
//! elsewhere it is skipped with a message) and filled by a file. Every write is then
//! `StoreError::NoSpace` and changes nothing; once the file is deleted the same store saves
//! again, without being reopened by its owner.

use roost_store::{Store, StoreError};
use roost_wire::{ClusterEvent, HistoryEvent, MemberId};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

mod support;

use support::{rev, rid};

fn text(n: u64) -> String {
    format!("! revision {n}\n{}", "wlan w\n ssid s\n".repeat(20_000))
}

/// A tmpfs mounted for one test, unmounted (lazily, so it always goes) when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Option<(tempfile::TempDir, Tmpfs)> {
        if !nix_is_root() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI runs as root: the full-disk test must run"
            );
            eprintln!("skipping: mounting a tmpfs needs root");
            return None;
        }
        let base = tempfile::tempdir().unwrap();
        let point = base.path().join("fs");
        std::fs::create_dir(&point).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "roost-test"])
            .arg(&point)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount tmpfs on {}", point.display());
        Some((base, Tmpfs(point)))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn nix_is_root() -> bool {
    // /proc/self/status "Uid:" real effective ...; no libc binding needed.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Fills the filesystem holding `path` (a new file there) until a write fails.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0x5Au8; 64 * 1024];
    for _ in 0..(1 << 16) {
        if f.write_all(&chunk).is_err() {
            break;
        }
    }
    // Small pieces into the last partial pages.
    for _ in 0..4096 {
        if f.write_all(&chunk[..512]).is_err() {
            break;
        }
    }
    let _ = f.sync_all();
}

fn expect_no_space<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    match r {
        Err(e @ StoreError::NoSpace { .. }) => {
            assert_eq!(e.no_space(), Some("no space left on device"), "{what}");
            assert!(
                e.to_string().ends_with(": no space left on device"),
                "{what}: {e}"
            );
        }
        other => panic!("{what}: expected NoSpace, got {other:?}"),
    }
}

#[test]
fn full_disk_is_no_space_changes_nothing_and_recovers() {
    let Some((_base, fs)) = Tmpfs::mount("16m") else {
        return;
    };
    let dir = fs.0.join("data");
    let s = Store::open(&dir).unwrap();
    for n in 1..=3 {
        s.save_config(rid(n), &text(n), Some(&rev(n)), &[rid(n)])
            .unwrap();
    }
    s.write_startup_config("hostname a\n").unwrap();
    let filler = fs.0.join("filler");
    fill(&filler);

    // The database file has free pages of its own: revisions still fit until they are used up
    // (bounded), then the first refusal.
    let mut head = 3;
    let first = loop {
        assert!(head < 60, "the full disk never refused a revision");
        let n = head + 1;
        match s.save_config(rid(n), &text(n), Some(&rev(n)), &[rid(n)]) {
            Ok(()) => head = n,
            Err(e) => break e,
        }
    };
    expect_no_space(Err::<(), _>(first), "first refusal");
    // More attempts: every one refused, also after redb's "previous I/O error" state.
    let next = head + 1;
    for attempt in 0..3 {
        expect_no_space(
            s.save_config(rid(next), &text(next), Some(&rev(next)), &[rid(next)]),
            &format!("save_config attempt {attempt}"),
        );
        let c = s.load_config().unwrap().unwrap();
        assert_eq!(c.head, rid(head), "nothing changed");
        assert_eq!(c.config, text(head));
        assert_eq!(c.log.last().map(|r| r.id), Some(rid(head)));
    }
    expect_no_space(
        s.write_startup_config(&text(next)),
        "startup-config on a full disk",
    );
    assert_eq!(s.startup_config().unwrap().as_deref(), Some("hostname a\n"));

    // Space returns: the same store saves again.
    std::fs::remove_file(&filler).unwrap();
    s.save_config(rid(next), &text(next), Some(&rev(next)), &[rid(next)])
        .unwrap();
    let ev = HistoryEvent {
        member: MemberId(1),
        hostname: "h".into(),
        seq: 1,
        event: ClusterEvent::ConfigUpdateSuccess,
        wall_ms: 1,
        reason: String::new(),
    };
    s.save_history(&[ev]).unwrap();
    drop(s);
    let s = Store::open(&dir).unwrap();
    let c = s.load_config().unwrap().unwrap();
    assert_eq!(c.head, rid(next));
    assert_eq!(c.config, text(next));
    let numbers: Vec<u64> = c.log.iter().map(|r| r.id.number).collect();
    assert_eq!(
        numbers,
        (1..=next).collect::<Vec<_>>(),
        "the log stays one chain"
    );
    assert_eq!(s.history().unwrap().len(), 1);
}
