//! `roost cli`'s known-controllers file: trust on first use, like OpenSSH's `known_hosts`.
//!
//! One line per controller, `<host>:<port> sha256:<64 hex>`; blank lines and `#` comments are
//! ignored. The first connection to a controller that has no line adds one (and says so); later
//! connections accept only that certificate, and a changed one is refused with the file and line
//! to remove. The file is `--known-controllers`, else `$ROOST_KNOWN_CONTROLLERS`, else
//! `~/.config/roost/known_controllers`.

use std::path::{Path, PathBuf};

/// The environment variable naming the known-controllers file.
pub const ENV: &str = "ROOST_KNOWN_CONTROLLERS";

/// Errors reading or writing the known-controllers file; Display is the line the user sees.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KnownError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} line {line}: expected '<host>:<port> sha256:<64 hex digits>'")]
    BadLine { path: String, line: usize },
    #[error(
        "no known-controllers file: $HOME is not set; use --known-controllers <file> or ${ENV}"
    )]
    NoHome,
}

/// A controller's line in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownEntry {
    /// Lowercase hex SHA-256 of the certificate.
    pub fingerprint: String,
    /// 1-based line number.
    pub line: usize,
}

/// The known-controllers file (it need not exist yet).
#[derive(Clone, Debug)]
pub struct KnownControllers {
    path: PathBuf,
}

impl KnownControllers {
    pub fn new(path: impl Into<PathBuf>) -> KnownControllers {
        KnownControllers { path: path.into() }
    }

    /// `flag`, else `$ROOST_KNOWN_CONTROLLERS`, else `~/.config/roost/known_controllers`.
    pub fn locate(flag: Option<&Path>) -> Result<KnownControllers, KnownError> {
        if let Some(p) = flag {
            return Ok(KnownControllers::new(p));
        }
        if let Some(p) = std::env::var_os(ENV).filter(|p| !p.is_empty()) {
            return Ok(KnownControllers::new(p));
        }
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .ok_or(KnownError::NoHome)?;
        Ok(KnownControllers::new(
            Path::new(&home).join(".config/roost/known_controllers"),
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn display(&self) -> String {
        self.path.display().to_string()
    }

    /// The entry for `host_port` (`host:port`, IPv6 in brackets), if any. A missing file holds
    /// nothing; a malformed line is an error (it is never silently skipped or rewritten).
    pub fn lookup(&self, host_port: &str) -> Result<Option<KnownEntry>, KnownError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(KnownError::Io {
                    path: self.display(),
                    source,
                })
            }
        };
        for (i, raw) in text.lines().enumerate() {
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let bad = || KnownError::BadLine {
                path: self.display(),
                line: i + 1,
            };
            let mut it = l.split_whitespace();
            let (Some(host), Some(fp), None) = (it.next(), it.next(), it.next()) else {
                return Err(bad());
            };
            let fp = fp.strip_prefix("sha256:").ok_or_else(bad)?;
            if fp.len() != 64 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            if host == host_port {
                return Ok(Some(KnownEntry {
                    fingerprint: fp.to_ascii_lowercase(),
                    line: i + 1,
                }));
            }
        }
        Ok(None)
    }

    /// Appends `host_port sha256:<fingerprint>` (creating the file and its directory).
    pub fn add(&self, host_port: &str, fingerprint: &str) -> Result<(), KnownError> {
        let io = |source| KnownError::Io {
            path: self.display(),
            source,
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // The whole file is rewritten through the one crash-safe writer, so a crash leaves
        // the old list or the new one, never a torn line. A file that does not end in a
        // newline gets one first, so lines never merge.
        let mut text = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(e)),
        };
        if !text.is_empty() && !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        text.extend_from_slice(format!("{host_port} sha256:{fingerprint}\n").as_bytes());
        roost_store::fs::write_atomic(&self.path, &text).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_then_lookup_and_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let k = KnownControllers::new(dir.path().join("sub/known"));
        assert_eq!(k.lookup("127.0.0.1:443").unwrap(), None);
        k.add("127.0.0.1:443", &"ab".repeat(32)).unwrap();
        k.add("[::1]:8443", &"cd".repeat(32)).unwrap();
        assert_eq!(
            k.lookup("127.0.0.1:443").unwrap(),
            Some(KnownEntry {
                fingerprint: "ab".repeat(32),
                line: 1
            })
        );
        assert_eq!(k.lookup("[::1]:8443").unwrap().unwrap().line, 2);
        assert_eq!(k.lookup("127.0.0.1:444").unwrap(), None);

        std::fs::write(
            k.path(),
            format!("# comment\n\n127.0.0.2:443 sha256:{}", "EF".repeat(32)),
        )
        .unwrap();
        let e = k.lookup("127.0.0.2:443").unwrap().unwrap();
        assert_eq!((e.fingerprint, e.line), ("ef".repeat(32), 3));
        // Appending to a file without a final newline starts a new line.
        k.add("127.0.0.3:443", &"01".repeat(32)).unwrap();
        assert_eq!(k.lookup("127.0.0.3:443").unwrap().unwrap().line, 4);

        std::fs::write(k.path(), "127.0.0.1:443 md5:abc\n").unwrap();
        let e = k.lookup("127.0.0.1:443").unwrap_err().to_string();
        assert!(
            e.ends_with("known line 1: expected '<host>:<port> sha256:<64 hex digits>'"),
            "{e}"
        );
    }
}
