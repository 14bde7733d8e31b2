//! Controller options, data-dir seeding and start-up.

use crate::ops::Controller;
use crate::runtime::{self, Licences, MemberRuntime};
use roost_config::ClusterConfig;
use roost_store::{Identity, Store};
use roost_wire::{ClusterKey, Mac, Model};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a controller did not start. Each variant says what to do about it.
#[derive(Debug, thiserror::Error)]
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
    pub licences: Licences,
    pub key: ClusterKey,
}

/// The warning when `--admin-password` is given for a data dir that already exists.
pub const ADMIN_PASSWORD_IGNORED: &str = "--admin-password (or ROOST_ADMIN_PASSWORD, \
--admin-password-file) is ignored: the data dir already exists and its configuration holds \
the users; change a password in the CLI with `user admin password <new>` and `commit`";

/// `roost controller` flags. Identity flags (`mac`, `model`, `hostname`, licences) seed a new
/// data dir; afterwards the saved state rules and a contradicting flag is refused.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    pub data_dir: PathBuf,
    pub ip: IpAddr,
    pub hostname: Option<String>,
    pub model: Option<Model>,
    pub mac: Option<Mac>,
    pub admin_password: Option<String>,
    pub ap_licenses: Option<u32>,
    pub aap_licenses: Option<u32>,
    pub adsec: bool,
    pub ssh_port: u16,
    pub api_port: u16,
    pub member_port: u16,
    pub join_port: u16,
    /// Static clustering without join-cluster: members started with the same secret share a
    /// cluster key (sha256 of a domain tag and the secret).
    pub cluster_secret: Option<String>,
}

impl ControllerOptions {
    pub fn new(data_dir: PathBuf, ip: IpAddr) -> ControllerOptions {
        ControllerOptions {
            data_dir,
            ip,
            hostname: None,
            model: None,
            mac: None,
            admin_password: None,
            ap_licenses: None,
            aap_licenses: None,
            adsec: false,
            ssh_port: 22,
            api_port: 443,
            member_port: runtime::MEMBER_PORT,
            join_port: runtime::JOIN_PORT,
            cluster_secret: None,
        }
    }
}

/// Handles of a running controller (used by `roost controller`, the demo and tests).
pub struct StartedController {
    pub controller: Arc<Controller>,
    pub ssh_addr: SocketAddr,
    pub api_addr: SocketAddr,
    pub join_addr: SocketAddr,
    pub member_addr: SocketAddr,
    pub api_fingerprint: String,
}

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
    let licences_path = opts.data_dir.join("licences.json");
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
    let (identity, licences) = match store.identity()? {
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
                created_wall_ms: runtime::wall_ms(),
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
            let licences = Licences {
                ap: opts.ap_licenses.unwrap_or(0),
                aap: opts.aap_licenses.unwrap_or(0),
                adsec: opts.adsec,
            };
            let json = serde_json::to_vec_pretty(&licences).expect("licences serialize");
            write_atomic(&licences_path, &json).map_err(dir_err)?;
            store.write_startup_config(&config.to_text())?;
            store.set_identity(&id)?;
            (id, licences)
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
            let licences: Licences = match std::fs::read(&licences_path) {
                Ok(b) => serde_json::from_slice(&b).map_err(|e| StartupError::Damaged {
                    what: "licences.json",
                    message: e.to_string(),
                })?,
                Err(_) => Licences::default(),
            };
            let fixed = "licences are fixed when a data dir is created";
            for (flag, given, saved) in [
                ("--ap-licenses", opts.ap_licenses, licences.ap),
                ("--aap-licenses", opts.aap_licenses, licences.aap),
            ] {
                if let Some(g) = given.filter(|g| *g != saved) {
                    return Err(contradicts(flag, g.to_string(), saved.to_string(), fixed));
                }
            }
            if opts.adsec && !licences.adsec {
                return Err(contradicts(
                    "--adsec",
                    "".into(),
                    "no ADSEC licence".into(),
                    fixed,
                ));
            }
            (id, licences)
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
            licences,
            key,
        },
        warnings,
    ))
}

/// Writes a small file atomically (tmp, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Starts a controller: member task, join server, SSH and HTTPS. Returns once everything
/// listens; runs until `shutdown` resolves.
pub async fn run_controller(
    opts: ControllerOptions,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<StartedController> {
    let data = prepare_data_dir(&opts)?;
    let bind_err = |what, addr| move |source| StartupError::Bind { what, addr, source };
    let member_addr = SocketAddr::new(opts.ip, opts.member_port);
    let socket = tokio::net::UdpSocket::bind(member_addr)
        .await
        .map_err(bind_err("member channel UDP", member_addr))?;
    let member_addr = socket
        .local_addr()
        .map_err(bind_err("member channel UDP", member_addr))?;
    let tls = roost_api::tls::load_or_create_identity(&opts.data_dir, &[opts.ip.to_string()])
        .map_err(|e| StartupError::Component {
            what: "TLS identity",
            message: e.to_string(),
        })?;
    let rt = MemberRuntime::start(data, socket, opts.clone(), shutdown.clone())?;
    let controller = Arc::new(Controller::new(rt, opts.clone()));

    let join_addr = SocketAddr::new(opts.ip, opts.join_port);
    let join_listener = tokio::net::TcpListener::bind(join_addr)
        .await
        .map_err(bind_err("join-cluster TCP", join_addr))?;
    let join_addr = join_listener
        .local_addr()
        .map_err(bind_err("join-cluster TCP", join_addr))?;
    tokio::spawn(crate::join::serve(
        join_listener,
        tls.server_config(),
        controller.clone(),
        shutdown.clone(),
    ));

    let host_key = roost_ssh::load_or_create_host_key(&opts.data_dir.join("ssh_host_ed25519_key"))
        .map_err(|e| StartupError::Component {
            what: "SSH host key",
            message: e.to_string(),
        })?;
    let ssh_addr = SocketAddr::new(opts.ip, opts.ssh_port);
    let ssh_listener = roost_ssh::bind(ssh_addr)
        .await
        .map_err(|e| StartupError::Component {
            what: "SSH",
            message: format!("cannot bind {ssh_addr}: {e}"),
        })?;
    let ssh_addr = ssh_listener
        .local_addr()
        .map_err(bind_err("SSH", ssh_addr))?;
    let mut ssh_cfg = roost_ssh::SshServerConfig::new(host_key);
    ssh_cfg.idle_timeout = Some(std::time::Duration::from_secs(3600));
    let service: Arc<dyn roost_config::CliService> = controller.clone();
    tokio::spawn({
        let sd = shutdown.clone();
        async move {
            if let Err(e) =
                roost_ssh::serve(ssh_listener, ssh_cfg, service, wait_shutdown(sd)).await
            {
                tracing::error!("SSH server stopped: {e}");
            }
        }
    });

    let api_addr = SocketAddr::new(opts.ip, opts.api_port);
    let api_listener = roost_api::bind(api_addr)
        .await
        .map_err(|e| StartupError::Component {
            what: "HTTPS API",
            message: format!("cannot bind {api_addr}: {e}"),
        })?;
    let api_addr = api_listener
        .local_addr()
        .map_err(bind_err("HTTPS API", api_addr))?;
    let backend: Arc<dyn roost_api::ApiBackend> = controller.clone();
    let fingerprint = tls.fingerprint_sha256.clone();
    tokio::spawn({
        let sd = shutdown.clone();
        async move {
            if let Err(e) = roost_api::serve(api_listener, &tls, backend, wait_shutdown(sd)).await {
                tracing::error!("HTTPS API stopped: {e}");
            }
        }
    });
    tracing::info!(%member_addr, %join_addr, %ssh_addr, %api_addr, member = %identity_line(&controller), "controller started");
    Ok(StartedController {
        controller,
        ssh_addr,
        api_addr,
        join_addr,
        member_addr,
        api_fingerprint: fingerprint,
    })
}

fn identity_line(c: &Controller) -> String {
    format!("{} {}", c.rt.member, c.rt.mac)
}

/// Resolves when the watch flips to true (or its sender is gone).
pub async fn wait_shutdown(mut rx: tokio::sync::watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
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
}
