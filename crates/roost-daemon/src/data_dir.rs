//! The data dir at start-up: open it, seed a new one (identity, cluster key, the initial
//! configuration with user `admin`, licenses), and refuse flags that contradict what an
//! existing one holds.

use crate::options::ControllerOptions;
use roost_config::ClusterConfig;
use roost_store::{Identity, Store};
use roost_wire::{ClusterKey, Mac, Model};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Licenses installed on this member (seeded by flags at data-dir creation, `licenses.json`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Licenses {
    pub ap: u32,
    pub aap: u32,
    pub adsec: bool,
}

/// The wall clock in ms since the epoch (0 before it): identity creation and history stamps.
pub fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Why a controller did not start. Each variant says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    #[error("a new data dir needs --admin-password (the initial password of user admin)")]
    AdminPasswordRequired,
    #[error("--admin-password must be at least 4 characters")]
    AdminPasswordTooShort,
    #[error("{flag} {given} contradicts the data dir, which has {saved} ({hint})")]
    Contradicts {
        flag: &'static str,
        given: String,
        saved: String,
        hint: &'static str,
    },
    #[error("data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not a `#[source]`: the line already says it all (`{:#}` would repeat it).
    #[error("data dir: {0}")]
    Store(roost_store::StoreError),
    #[error("{what} is damaged: {message}; {}", roost_store::DAMAGED_ADVICE)]
    Damaged { what: &'static str, message: String },
    #[error("cannot bind {what} {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{what}: {message}")]
    Component { what: &'static str, message: String },
}

impl From<roost_store::StoreError> for StartupError {
    fn from(e: roost_store::StoreError) -> Self {
        StartupError::Store(e)
    }
}

type Result<T> = std::result::Result<T, StartupError>;

/// What a data dir holds, ready to run.
pub struct PreparedDataDir {
    pub store: Store,
    pub identity: Identity,
    pub config: ClusterConfig,
    pub licenses: Licenses,
    pub key: ClusterKey,
}

/// The warning when `--admin-password` is given for a data dir that already exists.
pub const ADMIN_PASSWORD_IGNORED: &str = "--admin-password (or ROOST_ADMIN_PASSWORD, \
--admin-password-file) is ignored: the data dir already exists and its configuration holds \
the users; change a password in the CLI with `user admin password <new>` and `commit`";

/// Derives a cluster key from a static-clustering secret.
pub fn key_from_secret(secret: &str) -> ClusterKey {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"roost cluster key v1\0");
    h.update(secret.as_bytes());
    ClusterKey(h.finalize().into())
}

fn random_mac() -> Mac {
    // 52-54-00 like the seed's virtual controllers; the rest random.
    let r: [u8; 3] = rand::random();
    Mac([0x52, 0x54, 0x00, r[0], r[1], r[2]])
}

/// Opens (or seeds) the data dir and refuses flags that contradict what it holds; flags that
/// have no effect on it are logged as warnings.
pub fn prepare_data_dir(opts: &ControllerOptions) -> Result<PreparedDataDir> {
    let (data, warnings) = prepare_data_dir_with_warnings(opts)?;
    for w in &warnings {
        tracing::warn!("{w}");
    }
    Ok(data)
}

/// [`prepare_data_dir`], returning the warnings (flags that had no effect on this data dir, one
/// line each) instead of logging them.
pub fn prepare_data_dir_with_warnings(
    opts: &ControllerOptions,
) -> Result<(PreparedDataDir, Vec<String>)> {
    let dir_err = |source| StartupError::DataDir {
        path: opts.data_dir.clone(),
        source,
    };
    std::fs::create_dir_all(&opts.data_dir).map_err(dir_err)?;
    let store = Store::open(&opts.data_dir)?;
    let licenses_path = opts.data_dir.join("licenses.json");
    // Data dirs made before the file took WiNG's spelling ("licences.json"): renamed once.
    let legacy = opts.data_dir.join("licences.json");
    if !licenses_path.exists() && legacy.exists() {
        std::fs::rename(&legacy, &licenses_path).map_err(dir_err)?;
    }
    let contradicts = |flag, given: String, saved: String, hint| StartupError::Contradicts {
        flag,
        given,
        saved,
        hint,
    };
    let mut warnings = Vec::new();
    // The cluster key first: a new data dir's admin user gets its join-cluster (OPAQUE)
    // record under the server setup derived from it.
    let key = match (&opts.cluster_secret, store.cluster_key()?) {
        (Some(secret), _) => {
            let k = key_from_secret(secret);
            store.set_cluster_key(&k)?;
            k
        }
        (None, Some(k)) => k,
        (None, None) => {
            let k = ClusterKey(rand::random());
            store.set_cluster_key(&k)?;
            k
        }
    };
    let (identity, licenses) = match store.identity()? {
        None => {
            let password = opts
                .admin_password
                .clone()
                .ok_or(StartupError::AdminPasswordRequired)?;
            if password.len() < 4 {
                return Err(StartupError::AdminPasswordTooShort);
            }
            let id = Identity {
                mac: opts.mac.unwrap_or_else(random_mac),
                model: opts.model.unwrap_or(Model::Vx9000),
                created_wall_ms: wall_ms(),
            };
            let hostname = opts
                .hostname
                .clone()
                .unwrap_or_else(|| id.mac.default_hostname(id.model));
            let config = ClusterConfig::initial_with_join_keys(
                id.mac,
                id.model,
                &hostname,
                &password,
                &roost_wire::pake::ServerKeys::derive(&key),
            );
            let licenses = Licenses {
                ap: opts.ap_licenses.unwrap_or(0),
                aap: opts.aap_licenses.unwrap_or(0),
                adsec: opts.adsec,
            };
            let json = serde_json::to_vec_pretty(&licenses).expect("licenses serialize");
            roost_store::fs::write_atomic(&licenses_path, &json).map_err(dir_err)?;
            store.write_startup_config(&config.to_text())?;
            store.set_identity(&id)?;
            (id, licenses)
        }
        Some(id) => {
            if opts.admin_password.is_some() {
                warnings.push(ADMIN_PASSWORD_IGNORED.to_string());
            }
            if let Some(mac) = opts.mac.filter(|m| *m != id.mac) {
                return Err(contradicts(
                    "--mac",
                    mac.to_string(),
                    id.mac.to_string(),
                    "start without --mac, or use a new --data-dir",
                ));
            }
            if let Some(model) = opts.model.filter(|m| *m != id.model) {
                return Err(contradicts(
                    "--model",
                    model.to_string(),
                    id.model.to_string(),
                    "start without --model, or use a new --data-dir",
                ));
            }
            let licenses: Licenses = match std::fs::read(&licenses_path) {
                Ok(b) => serde_json::from_slice(&b).map_err(|e| StartupError::Damaged {
                    what: "licenses.json",
                    message: e.to_string(),
                })?,
                Err(_) => Licenses::default(),
            };
            let fixed = "licenses are fixed when a data dir is created";
            for (flag, given, saved) in [
                ("--ap-licenses", opts.ap_licenses, licenses.ap),
                ("--aap-licenses", opts.aap_licenses, licenses.aap),
            ] {
                if let Some(g) = given.filter(|g| *g != saved) {
                    return Err(contradicts(flag, g.to_string(), saved.to_string(), fixed));
                }
            }
            if opts.adsec && !licenses.adsec {
                return Err(contradicts(
                    "--adsec",
                    "".into(),
                    "no ADSEC license".into(),
                    fixed,
                ));
            }
            (id, licenses)
        }
    };
    // The running configuration: the last committed revision if any, else the startup-config.
    let damaged = |what| {
        move |e: roost_config::ConfigError| StartupError::Damaged {
            what,
            message: e.to_string(),
        }
    };
    let config = match store.load_config()? {
        Some(p) => ClusterConfig::parse(&p.config).map_err(damaged("the stored configuration"))?,
        None => {
            let text = store.startup_config()?.ok_or(StartupError::Damaged {
                what: "the data dir",
                message: "it has no startup-config".into(),
            })?;
            ClusterConfig::parse(&text).map_err(damaged("the startup-config"))?
        }
    };
    if let Some(h) = &opts.hostname {
        let saved = config
            .device(identity.mac)
            .map(|d| d.hostname)
            .unwrap_or_default();
        if saved != *h {
            return Err(contradicts(
                "--hostname",
                h.clone(),
                saved,
                "change it with `hostname` in the CLI",
            ));
        }
    }
    Ok((
        PreparedDataDir {
            store,
            identity,
            config,
            licenses,
            key,
        },
        warnings,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_password_on_an_existing_data_dir_is_reported_not_silently_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = ControllerOptions::new(dir.path().join("d"), "127.0.0.1".parse().unwrap());
        opts.admin_password = Some("first-pw".into());
        let (first, warnings) = prepare_data_dir_with_warnings(&opts).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        drop(first);
        opts.admin_password = Some("second-pw".into());
        let (again, warnings) = prepare_data_dir_with_warnings(&opts).unwrap();
        assert_eq!(warnings, vec![ADMIN_PASSWORD_IGNORED.to_string()]);
        // The saved password still rules.
        assert!(again.config.authenticate("admin", "first-pw").is_some());
        assert!(again.config.authenticate("admin", "second-pw").is_none());
        drop(again);
        opts.admin_password = None;
        assert!(prepare_data_dir_with_warnings(&opts).unwrap().1.is_empty());
    }

    /// A data dir made before the file took WiNG's spelling keeps its licenses: the old
    /// `licences.json` is renamed, and its counts rule.
    #[test]
    fn a_data_dir_with_the_old_licences_file_keeps_its_licenses() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = ControllerOptions::new(dir.path().join("d"), "127.0.0.1".parse().unwrap());
        opts.admin_password = Some("first-pw".into());
        opts.ap_licenses = Some(64);
        drop(prepare_data_dir_with_warnings(&opts).unwrap());
        let (new, old) = (
            opts.data_dir.join("licenses.json"),
            opts.data_dir.join("licences.json"),
        );
        std::fs::rename(&new, &old).unwrap();
        opts.ap_licenses = None;
        let (again, _) = prepare_data_dir_with_warnings(&opts).unwrap();
        assert_eq!(again.licenses.ap, 64);
        assert!(new.exists() && !old.exists());
    }
}
