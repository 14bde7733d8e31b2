//! Damaged data-dir files are a clear `StoreError::Corrupt` naming the file and what to do,
//! never a panic: truncated databases (at several lengths), garbage, a scrambled body, an
//! empty database next to a startup-config, and a startup-config that is not text.

use roost_store::{Store, StoreError};

use std::path::Path;

mod support;

use support::{rev, rid};

/// A data dir with some revisions, a startup-config and history; returns its database bytes.
fn healthy(dir: &Path) -> Vec<u8> {
    let s = Store::open(dir).unwrap();
    for n in 1..=40 {
        let text = format!("! {n}\n{}", "wlan x\n ssid y\n".repeat(500));
        s.save_config(rid(n), &text, Some(&rev(n)), &[rid(n)])
            .unwrap();
    }
    s.write_startup_config("hostname a\n").unwrap();
    drop(s);
    std::fs::read(dir.join("roost.redb")).unwrap()
}

/// Opens `dir` (and reads everything) and expects a Corrupt error naming `file`.
fn expect_corrupt(dir: &Path, file: &str, case: &str) {
    let opened = std::panic::catch_unwind(|| {
        Store::open(dir).and_then(|s| {
            s.load_config()?;
            s.history()?;
            s.superseded()?;
            s.startup_config()?;
            Ok(())
        })
    });
    let result = opened.unwrap_or_else(|_| panic!("{case}: the store panicked"));
    match result {
        Err(e @ StoreError::Corrupt { .. }) => {
            let StoreError::Corrupt { path, .. } = &e else {
                unreachable!()
            };
            assert_eq!(path, &dir.join(file), "{case}: {e}");
            let line = e.to_string();
            assert!(
                line.contains(&dir.join(file).display().to_string()),
                "{case}: {line}"
            );
            assert!(line.contains("is damaged"), "{case}: {line}");
            assert!(line.contains("move the data dir aside"), "{case}: {line}");
            assert!(line.contains("join-cluster"), "{case}: {line}");
        }
        Err(e) => panic!("{case}: expected Corrupt, got {e:?}"),
        Ok(()) => panic!("{case}: a damaged {file} opened"),
    }
}

#[test]
fn truncated_database_is_corrupt_not_a_panic() {
    let src = tempfile::tempdir().unwrap();
    let bytes = healthy(src.path());
    let len = bytes.len();
    assert!(len > 64 * 1024, "{len}");
    for cut in [len - 1, len / 2, 4096, 600, 100, 9, 1] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("roost.redb"), &bytes[..cut]).unwrap();
        std::fs::write(dir.path().join("startup-config"), "hostname a\n").unwrap();
        expect_corrupt(
            dir.path(),
            "roost.redb",
            &format!("truncated to {cut} of {len}"),
        );
    }
}

#[test]
fn empty_database_next_to_a_startup_config_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("roost.redb"), b"").unwrap();
    std::fs::write(dir.path().join("startup-config"), "hostname a\n").unwrap();
    expect_corrupt(dir.path(), "roost.redb", "empty");
    // Without a startup-config an empty file is a data dir that never finished its first
    // start: it is initialised as new.
    let fresh = tempfile::tempdir().unwrap();
    std::fs::write(fresh.path().join("roost.redb"), b"").unwrap();
    let s = Store::open(fresh.path()).unwrap();
    assert_eq!(s.load_config().unwrap(), None);
}

#[test]
fn garbage_database_is_corrupt() {
    let src = tempfile::tempdir().unwrap();
    let bytes = healthy(src.path());
    // Pure garbage of the same size.
    let dir = tempfile::tempdir().unwrap();
    let garbage: Vec<u8> = (0..bytes.len())
        .map(|i| (i as u32).wrapping_mul(2654435761).to_be_bytes()[0])
        .collect();
    std::fs::write(dir.path().join("roost.redb"), garbage).unwrap();
    expect_corrupt(dir.path(), "roost.redb", "garbage");
    // A valid header over a scrambled body.
    let dir = tempfile::tempdir().unwrap();
    let mut scrambled = bytes.clone();
    for b in scrambled[4096..].iter_mut() {
        *b ^= 0xA5;
    }
    std::fs::write(dir.path().join("roost.redb"), scrambled).unwrap();
    expect_corrupt(dir.path(), "roost.redb", "scrambled body");
}

#[test]
fn startup_config_that_is_not_text_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    std::fs::write(dir.path().join("startup-config"), [0xff, 0xfe, 0x00, 0x80]).unwrap();
    expect_corrupt(dir.path(), "startup-config", "binary startup-config");
}

#[test]
fn a_healthy_store_still_opens_after_the_checks() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path());
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.load_config().unwrap().unwrap().head, rid(40));
}
