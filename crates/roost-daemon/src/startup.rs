//! Composition: prepare the data dir, start the member task, the join server, SSH and HTTPS,
//! and hand back what a caller needs to drive and stop the controller. No rule lives here.

use crate::data_dir::prepare_data_dir;
pub use crate::data_dir::StartupError;
use crate::faces::Controller;
use crate::member::MemberHandle;
use crate::options::ControllerOptions;
use crate::shutdown::{wait_shutdown, Fatal};
use std::net::SocketAddr;
use std::sync::Arc;

type Result<T> = std::result::Result<T, StartupError>;

/// Handles of a running controller (used by `roost controller`, the demo and tests).
pub struct StartedController {
    pub controller: Arc<Controller>,
    pub ssh_addr: SocketAddr,
    pub api_addr: SocketAddr,
    pub join_addr: SocketAddr,
    pub member_addr: SocketAddr,
    pub api_fingerprint: String,
}

impl StartedController {
    /// Resolves when the controller stopped itself (fail-stop); `roost` main prints the error
    /// and exits with [`crate::shutdown::FATAL_EXIT_CODE`]. Pending while it runs.
    pub async fn fatal(&self) -> Arc<Fatal> {
        self.controller.member.fail_stop.wait().await
    }
}

/// The member channel's receive buffer (see [`run_controller`]).
const MEMBER_RECEIVE_BUFFER: usize = 16 << 20;

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
    // A full copy of a 25,600-AP table arrives as ~2 MB of datagrams in one burst: a default
    // receive buffer (208 KiB) would drop most of it, and the hellos behind it.
    crate::wireless::large_buffers(&socket, MEMBER_RECEIVE_BUFFER);
    let tls = roost_api::tls::load_or_create_identity(&opts.data_dir, &[opts.ip.to_string()])
        .map_err(|e| StartupError::Component {
            what: "TLS identity",
            message: e.to_string(),
        })?;
    let member = MemberHandle::start(data, socket, opts.clone(), shutdown.clone())?;
    let capwap_addr = SocketAddr::new(opts.ip, opts.capwap_port);
    let wireless = crate::wireless::start(member.clone(), &opts, shutdown.clone())
        .map_err(bind_err("CAPWAP UDP", capwap_addr))?;
    let controller = Arc::new(Controller::new(member, opts.clone(), wireless));

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
        controller.member.clone(),
        opts.clone(),
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
    format!("{} {}", c.member.id, c.member.mac)
}
