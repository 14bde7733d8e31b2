//! Controller options, data-dir seeding and start-up.

use crate::ops::Controller;
use crate::runtime::{self, Licences, MemberRuntime};
use anyhow::{anyhow, bail, Context, Result};
use roost_config::ClusterConfig;
use roost_store::{Identity, Store};
use roost_wire::{ClusterKey, Mac, Model};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// Opens (or seeds) the data dir and refuses flags that contradict what it holds.
pub fn prepare_data_dir(
    opts: &ControllerOptions,
) -> Result<(Store, Identity, ClusterConfig, Licences, ClusterKey)> {
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("cannot create data dir {}", opts.data_dir.display()))?;
    let store = Store::open(&opts.data_dir)
        .with_context(|| format!("cannot open data dir {}", opts.data_dir.display()))?;
    let licences_path = opts.data_dir.join("licences.json");
    let (identity, licences) = match store.identity()? {
        None => {
            let password = opts.admin_password.clone().ok_or_else(|| {
                anyhow!(
                    "a new data dir needs --admin-password (the initial password of user admin)"
                )
            })?;
            if password.len() < 4 {
                bail!("--admin-password must be at least 4 characters");
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
            let config = ClusterConfig::initial(id.mac, id.model, &hostname, &password);
            let licences = Licences {
                ap: opts.ap_licenses.unwrap_or(0),
                aap: opts.aap_licenses.unwrap_or(0),
                adsec: opts.adsec,
            };
            write_atomic(&licences_path, &serde_json::to_vec_pretty(&licences)?)?;
            store.write_startup_config(&config.to_text())?;
            store.set_identity(&id)?;
            (id, licences)
        }
        Some(id) => {
            if let Some(mac) = opts.mac {
                if mac != id.mac {
                    bail!("--mac {mac} contradicts the data dir, which belongs to {} (start without --mac, or use a new --data-dir)", id.mac);
                }
            }
            if let Some(model) = opts.model {
                if model != id.model {
                    bail!("--model {model} contradicts the data dir, which belongs to a {} (start without --model)", id.model);
                }
            }
            let licences: Licences = match std::fs::read(&licences_path) {
                Ok(b) => serde_json::from_slice(&b).context("licences.json is damaged")?,
                Err(_) => Licences::default(),
            };
            for (flag, given, saved) in [
                ("--ap-licenses", opts.ap_licenses, licences.ap),
                ("--aap-licenses", opts.aap_licenses, licences.aap),
            ] {
                if let Some(g) = given {
                    if g != saved {
                        bail!("{flag} {g} contradicts the data dir, which has {saved} (licences are fixed when a data dir is created)");
                    }
                }
            }
            if opts.adsec && !licences.adsec {
                bail!("--adsec contradicts the data dir, which has no ADSEC licence");
            }
            (id, licences)
        }
    };
    // The running configuration: the last committed revision if any, else the startup-config.
    let config = match store.load_config()? {
        Some(p) => ClusterConfig::parse(&p.config)
            .map_err(|e| anyhow!("stored configuration is damaged: {e}"))?,
        None => {
            let text = store
                .startup_config()?
                .ok_or_else(|| anyhow!("data dir has no startup-config"))?;
            ClusterConfig::parse(&text).map_err(|e| anyhow!("startup-config: {e}"))?
        }
    };
    if let Some(h) = &opts.hostname {
        let saved = config.device(identity.mac).map(|d| d.hostname);
        if saved.as_deref() != Some(h.as_str()) {
            bail!(
                "--hostname {h} contradicts the saved configuration (hostname {}); change it with `hostname` in the CLI",
                saved.unwrap_or_default()
            );
        }
    }
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
    Ok((store, identity, config, licences, key))
}

/// Writes a small file atomically (tmp, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
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
    let (store, identity, config, licences, key) = prepare_data_dir(&opts)?;
    let member_addr = SocketAddr::new(opts.ip, opts.member_port);
    let socket = tokio::net::UdpSocket::bind(member_addr)
        .await
        .with_context(|| format!("cannot bind member channel UDP {member_addr}"))?;
    let member_addr = socket.local_addr()?;
    let tls = roost_api::tls::load_or_create_identity(&opts.data_dir, &[opts.ip.to_string()])
        .map_err(|e| anyhow!("TLS identity: {e}"))?;
    let rt = MemberRuntime::start(
        store,
        identity,
        config,
        licences,
        key,
        socket,
        opts.clone(),
        shutdown.clone(),
    )?;
    let controller = Arc::new(Controller::new(rt, opts.clone()));

    let join_listener = tokio::net::TcpListener::bind(SocketAddr::new(opts.ip, opts.join_port))
        .await
        .with_context(|| {
            format!(
                "cannot bind join-cluster TCP {}:{}",
                opts.ip, opts.join_port
            )
        })?;
    let join_addr = join_listener.local_addr()?;
    tokio::spawn(crate::join::serve(
        join_listener,
        tls.server_config(),
        controller.clone(),
        shutdown.clone(),
    ));

    let host_key = roost_ssh::load_or_create_host_key(&opts.data_dir.join("ssh_host_ed25519_key"))
        .map_err(|e| anyhow!("SSH host key: {e}"))?;
    let ssh_listener = roost_ssh::bind(SocketAddr::new(opts.ip, opts.ssh_port))
        .await
        .map_err(|e| anyhow!("cannot bind SSH {}:{}: {e}", opts.ip, opts.ssh_port))?;
    let ssh_addr = ssh_listener.local_addr()?;
    let ssh_cfg = roost_ssh::SshServerConfig {
        host_key,
        banner: None,
        idle_timeout: Some(std::time::Duration::from_secs(3600)),
        max_auth_attempts: 3,
    };
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

    let api_listener = roost_api::bind(SocketAddr::new(opts.ip, opts.api_port))
        .await
        .map_err(|e| anyhow!("cannot bind HTTPS API {}:{}: {e}", opts.ip, opts.api_port))?;
    let api_addr = api_listener.local_addr()?;
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
