//! Unit tests: renderers (golden, from the seed), config model, change text, command engine.

use crate::*;
use roost_core::ConfigState;
use roost_wire::{MemberId, Revision, SupersededConfig};
use std::cell::RefCell;

/// A real argon2id hash of "secret" (computed once, so the tests hash rarely).
pub(crate) const H: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$tcvz78iK+sbbNhLYjx8WYg$F0Bsn3KvDLW07RiV6GRo6Orpi2Hed6IocBauWz3PrYA";

const MAC1: &str = "52-54-00-E1-EE-16";
const MAC2: &str = "52-54-00-3A-A1-17";

fn mac1() -> Mac {
    MAC1.parse().unwrap()
}

fn base_text() -> String {
    format!(
        "!\n! Configuration of Roost version {v}\n!\nversion 1\n!\nuser-management\n user admin password 1 {H} role superuser\n user noc password 1 {H} role monitor\n!\nvx9000 {MAC1}\n hostname vx9000-1\n interface vlan 1\n  ip address 127.0.0.11/8\n ip default-gateway 127.0.0.1\n!\nend\n",
        v = env!("CARGO_PKG_VERSION")
    )
}

fn seed_members() -> Vec<MemberRow> {
    vec![
        MemberRow {
            hostname: "vx9000-1".into(),
            member_id: "12.E1.EE.16".parse().unwrap(),
            mac: MAC1.parse().unwrap(),
            master: true,
            oper_state: RowState::Active,
            last_seen_secs: None,
        },
        MemberRow {
            hostname: "vx9000-2".into(),
            member_id: "12.3A.A1.17".parse().unwrap(),
            mac: MAC2.parse().unwrap(),
            master: false,
            oper_state: RowState::Standby,
            last_seen_secs: Some(91),
        },
    ]
}

fn seed_history() -> Vec<HistoryRow> {
    let r = |h: &str, m: &str, e: &str, t: &str, reason: &str| HistoryRow {
        hostname: h.into(),
        member_id: m.into(),
        event: e.into(),
        timestamp: format!("2017-08-28 {t}"),
        reason: reason.into(),
    };
    vec![
        r(
            "vx9000-2",
            "12.3A.A1.17",
            "config-update-success",
            "20:40:24",
            "successfully applied config",
        ),
        r(
            "vx9000-3AA117",
            "12.3A.A1.17",
            "is-standby",
            "20:40:24",
            "Configured for standby, become standby",
        ),
        r(
            "vx9000-1",
            "12.E1.EE.16",
            "config-update-success",
            "20:40:21",
            "config sync succeeded",
        ),
        r(
            "vx9000-1",
            "12.E1.EE.16",
            "is-active",
            "20:40:21",
            "Configured for active, stay active",
        ),
        r(
            "vx9000-1",
            "12.E1.EE.16",
            "start-config-sync",
            "20:40:20",
            "12.E1.EE.16 won election and is the cluster master",
        ),
        r(
            "vx9000-1",
            "12.E1.EE.16",
            "is-active",
            "20:40:16",
            "Primary down, Failed over to active",
        ),
        r(
            "vx9000-E1EE16",
            "12.E1.EE.16",
            "start-election",
            "20:39:50",
            "new member 12.3A.A1.17 joined",
        ),
        r(
            "vx9000-3AA117",
            "12.3A.A1.17",
            "start-election",
            "20:39:39",
            "new member 12.3A.A1.17 joined",
        ),
        r(
            "vx9000-E1EE16",
            "12.E1.EE.16",
            "is-active",
            "20:39:31",
            "stay active",
        ),
        r(
            "vx9000-E1EE16",
            "12.E1.EE.16",
            "start-election",
            "20:38:46",
            "new member 12.E1.EE.16 joined",
        ),
    ]
}

fn seed_status(state: &str) -> ClusterStatus {
    ClusterStatus {
        protocol_version: 1,
        oper_state: state.into(),
        ap_license: 0,
        aap_license: 128,
        ap_count: 0,
        aap_count: 0,
        max_ap_adoption_capacity: 25600,
        connected_members: 1,
        master: None,
        config_revision: 25,
    }
}

fn rid(number: u64, first: u8) -> RevisionId {
    let mut hash = [0u8; 32];
    hash[0] = first;
    hash[1] = 0x2b;
    RevisionId { number, hash }
}

fn superseded(number: u64, first: u8, config: &str) -> SupersededConfig {
    SupersededConfig {
        head: rid(number, first),
        holder: MemberId(0x123AA117),
        revisions: vec![],
        config: config.into(),
        superseded_wall_ms: 0,
    }
}

/// A controller for the engine: holds the running config, records calls.
struct Fake {
    id: Identity,
    cfg: RefCell<ClusterConfig>,
    startup: RefCell<Option<String>>,
    calls: RefCell<Vec<String>>,
    commit_error: RefCell<Option<String>>,
    superseded: Vec<SupersededConfig>,
    revision: RefCell<u64>,
    /// The cluster key whose OPAQUE server setup `join_server_keys` gives, if any.
    join_key: Option<roost_wire::ClusterKey>,
}

impl Fake {
    fn new() -> Fake {
        Fake {
            id: Identity {
                mac: mac1(),
                model: Model::Vx9000,
                hostname: "vx9000-1".into(),
                software_version: "0.1.0".into(),
                uptime_secs: 3723,
                ip: Some("127.0.0.11".parse().unwrap()),
            },
            cfg: RefCell::new(ClusterConfig::parse(&base_text()).unwrap()),
            startup: RefCell::new(None),
            calls: RefCell::new(Vec::new()),
            commit_error: RefCell::new(None),
            superseded: Vec::new(),
            revision: RefCell::new(25),
            join_key: None,
        }
    }
    fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
    fn commits(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| c.strip_prefix("commit ").map(String::from))
            .collect()
    }
    fn text(&self) -> String {
        self.cfg.borrow().to_text()
    }
}

impl ControllerOps for Fake {
    fn identity(&self) -> Identity {
        self.id.clone()
    }
    fn commit(&self, user: &str, change: &str) -> Result<RevisionId, String> {
        self.calls
            .borrow_mut()
            .push(format!("commit {user}\n{change}"));
        if let Some(e) = self.commit_error.borrow().clone() {
            return Err(e);
        }
        self.cfg
            .borrow_mut()
            .apply(change)
            .map_err(|e| e.to_string())?;
        *self.revision.borrow_mut() += 1;
        Ok(rid(*self.revision.borrow(), 0xaa))
    }
    fn write_startup_config(&self, text: &str) -> Result<(), String> {
        self.calls.borrow_mut().push("write".into());
        *self.startup.borrow_mut() = Some(text.to_string());
        Ok(())
    }
    fn startup_config(&self) -> Result<String, String> {
        self.startup
            .borrow()
            .clone()
            .ok_or_else(|| "no startup-config".to_string())
    }
    fn snapshot(&self) -> std::sync::Arc<MemberSnapshot> {
        std::sync::Arc::new(MemberSnapshot {
            status: seed_status("active"),
            members: seed_members(),
            history: std::sync::Arc::new(seed_history()),
            revisions: std::sync::Arc::new(RevisionsView {
                head: rid(25, 0x1a),
                revisions: vec![],
                superseded: self.superseded.clone(),
                lineage: vec![rid(25, 0x1a)],
            }),
            running: std::sync::Arc::new(self.cfg.borrow().clone()),
            running_head: roost_wire::RevisionId::ZERO,
            licenses: Vec::new(),
            traffic: Vec::new(),
            aps: std::sync::Arc::new(ApTable {
                rows: seed_aps().into_iter().map(std::sync::Arc::new).collect(),
                serving: true,
                adopted: 1,
                joining: 0,
                on_other_members: 0,
                stats: AdoptionStats {
                    joins_refused: 1,
                    ..Default::default()
                },
                history: std::sync::Arc::new(vec![
                    AdoptionHistoryEntry {
                        event: "un-adopted",
                        mac: roost_wire::Mac([0, 0x23, 0x68, 0, 0, 1]),
                        hostname: "ap7532-1".into(),
                        model: "AP7532".into(),
                        reason: "no echo within the dead interval".into(),
                        at_epoch_ms: 1_000,
                    },
                    AdoptionHistoryEntry {
                        event: "adopted",
                        mac: roost_wire::Mac([0, 0x23, 0x68, 0, 0, 1]),
                        hostname: "ap7532-1".into(),
                        model: "AP7532".into(),
                        reason: String::new(),
                        at_epoch_ms: 500,
                    },
                ]),
                balance: Default::default(),
            }),
            pool: Vec::new(),
        })
    }
    fn join_cluster(
        &self,
        req: JoinClusterRequest,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), String> {
        self.calls.borrow_mut().push(format!(
            "join {} {} level {} mode {}",
            req.primary, req.user, req.level, req.mode
        ));
        progress(&format!("... connecting to {}", req.primary));
        if req.password != "secret" {
            return Err("authentication failed".into());
        }
        progress("... applying cluster configuration");
        progress("... committing the changes");
        progress("... saving the changes");
        progress("[OK]");
        Ok(())
    }
    fn join_server_keys(&self) -> Option<roost_wire::pake::ServerKeys> {
        self.join_key
            .as_ref()
            .map(roost_wire::pake::ServerKeys::derive)
    }
    fn set_debug(&self, cluster_debug: bool, monitor: bool) {
        self.calls
            .borrow_mut()
            .push(format!("debug {cluster_debug} {monitor}"));
    }
}

/// Runs lines in a superuser session (starting at `#`), asserting none fails.
fn run_ok(s: &mut Session, ops: &Fake, lines: &[&str]) -> String {
    let mut all = String::new();
    for l in lines {
        let o = s.execute(l, ops);
        assert!(!o.error, "{l:?} failed:\n{}", o.text);
        all += &o.text;
    }
    all
}

fn admin() -> Session {
    Session::new("admin", Role::Superuser, true)
}

// ---------------------------------------------------------------- renderers (golden)

fn seed_aps() -> Vec<ApRow> {
    let row = |name: &str, mac: &str, state: &str, uptime, reason: Option<&str>| ApRow {
        hostname: name.into(),
        mac: mac.parse().unwrap(),
        model: "AP7532".into(),
        serial: "SIM0001".into(),
        ip: "127.20.0.1".into(),
        adopted_by: if reason.is_some() { "" } else { "vx9000-1" }.into(),
        state: state.into(),
        license: "AAP".into(),
        profile: "default-ap7532".into(),
        uptime_secs: uptime,
        reason: reason.map(str::to_string),
    };
    vec![
        row(
            "ap7532-1",
            "00-23-68-00-00-01",
            "adopted",
            Some(93_784),
            None,
        ),
        row(
            "",
            "00-23-68-00-00-02",
            "refused",
            None,
            Some("no AAP license left"),
        ),
    ]
}

#[test]
fn golden_wireless_ap_and_adoption_status() {
    let expected = "\
+-----+----------+-------------------+--------+------------+------------+---------+-------------+
| IDX | NAME     | MAC               | MODEL  | IP         | ADOPTED-BY | STATE   | UPTIME      |
+-----+----------+-------------------+--------+------------+------------+---------+-------------+
|   1 | ap7532-1 | 00-23-68-00-00-01 | AP7532 | 127.20.0.1 | vx9000-1   | adopted | 1d 02:03:04 |
|   2 |          | 00-23-68-00-00-02 | AP7532 | 127.20.0.1 |            | refused | -           |
+-----+----------+-------------------+--------+------------+------------+---------+-------------+
Number of APs shown: 2
";
    assert_eq!(render_wireless_ap(&seed_aps()), expected);
    assert_eq!(
        render_wireless_ap::<ApRow>(&[]),
        "+-----+------+-----+-------+----+------------+-------+--------+\n| IDX | NAME | MAC | MODEL | IP | ADOPTED-BY | STATE | UPTIME |\n+-----+------+-----+-------+----+------------+-------+--------+\nNumber of APs shown: 0\n"
    );
    let ops = Fake::new();
    let mut s = admin();
    let out = run_ok(&mut s, &ops, &["show wireless ap", "show adoption status"]);
    assert!(out.contains("Number of APs shown: 2"), "{out}");
    assert!(
        out.contains(" Adopting APs                 : yes\n"),
        "{out}"
    );
    assert!(out.contains(" APs adopted                  : 1\n"), "{out}");
    assert!(out.contains(" Joins refused                : 1\n"), "{out}");
    let filtered = run_ok(&mut s, &ops, &["show wireless ap | include refused"]);
    assert_eq!(filtered.lines().count(), 1, "{filtered}");
    // The other adoption views, from the same snapshot.
    let h = run_ok(&mut s, &ops, &["show adoption history"]);
    assert!(h.contains("| EVENT      | NAME     | MAC"), "{h}");
    let events: Vec<&str> = h
        .lines()
        .filter(|l| l.contains("00-23-68-00-00-01"))
        .map(|l| l.split('|').nth(1).unwrap().trim())
        .collect();
    assert_eq!(events, ["un-adopted", "adopted"], "newest first: {h}");
    assert!(h.contains("no echo within the dead interval"), "{h}");
    assert!(h.contains("Number of events shown: 2"), "{h}");
    let off = run_ok(&mut s, &ops, &["show adoption offline"]);
    assert!(
        off.contains("Number of APs shown: 1"),
        "only the refused AP: {off}"
    );
    assert!(off.contains("| refused "), "{off}");
    let conf = run_ok(&mut s, &ops, &["show wireless ap configured"]);
    assert!(conf.contains("| TYPE "), "{conf}");
    assert!(conf.contains("default-ap7532"), "{conf}");
    assert!(conf.contains("Number of APs shown: 2"), "{conf}");
}

#[test]
fn golden_cluster_status() {
    let expected = "\nCluster Runtime Information\n Protocol version             : 1\n Cluster operational state    : standby\n AP license                   : 0\n AAP license                  : 128\n AP count                     : 0\n AAP count                    : 0\n Max AP adoption capacity     : 25600\n Number of connected member(s): 1\n\n";
    assert_eq!(render_cluster_status(&seed_status("standby")), expected);
}

#[test]
fn golden_cluster_configuration() {
    let mut d = DeviceSettings::default_for(mac1(), Model::Vx9000);
    d.cluster_name = "WING-CLUSTER".into();
    d.master_priority = 250;
    d.force_configured_state = true;
    let expected = "\nCluster Configuration Information\n Name                         : WING-CLUSTER\n Configured Mode              : Active\n Master Priority              : 250\n Force configured state       : Enabled\n Force configured state delay : 5 minutes\n Handle STP                   : Disabled\n Radius Counter DB Sync Time  : 5 minutes\n\n";
    assert_eq!(render_cluster_configuration(&d), expected);
    d.cluster_mode = ClusterMode::Standby;
    d.force_configured_state_delay = std::time::Duration::from_secs(30);
    let out = render_cluster_configuration(&d);
    assert!(out.contains(" Configured Mode              : Standby\n"));
    assert!(out.contains(" Force configured state delay : 30 seconds\n"));
}

#[test]
fn golden_cluster_members() {
    let expected = "\
-----------------------------------------------------------------------------------------
  HOSTNAME    MEMBER-ID           MAC          MASTER OPERATIONAL-STATE     LAST-SEEN
-----------------------------------------------------------------------------------------
  vx9000-1   12.E1.EE.16   52-54-00-E1-EE-16   True    active            self
  vx9000-2   12.3A.A1.17   52-54-00-3A-A1-17   False   standby           00:01:31 ago
-----------------------------------------------------------------------------------------

";
    assert_eq!(render_cluster_members(&seed_members()), expected);
    assert_eq!(MEMBERS_RULE.len(), 89);
}

#[test]
fn golden_cluster_history() {
    let expected = "\
-----------------------------------------------------------------------------------------------------------------------------
           HOSTNAME           MEMBER-ID                    EVENT            TIME-STAMP                             REASON
-----------------------------------------------------------------------------------------------------------------------------
           vx9000-2         12.3A.A1.17    config-update-success   2017-08-28 20:40:24      successfully applied config
      vx9000-3AA117         12.3A.A1.17               is-standby   2017-08-28 20:40:24   Configured for standby, become standby
           vx9000-1         12.E1.EE.16    config-update-success   2017-08-28 20:40:21            config sync succeeded
           vx9000-1         12.E1.EE.16                is-active   2017-08-28 20:40:21   Configured for active, stay active
           vx9000-1         12.E1.EE.16        start-config-sync   2017-08-28 20:40:20   12.E1.EE.16 won election and is the cluster master
           vx9000-1         12.E1.EE.16                is-active   2017-08-28 20:40:16   Primary down, Failed over to active
      vx9000-E1EE16         12.E1.EE.16           start-election   2017-08-28 20:39:50    new member 12.3A.A1.17 joined
      vx9000-3AA117         12.3A.A1.17           start-election   2017-08-28 20:39:39    new member 12.3A.A1.17 joined
      vx9000-E1EE16         12.E1.EE.16                is-active   2017-08-28 20:39:31                      stay active
      vx9000-E1EE16         12.E1.EE.16           start-election   2017-08-28 20:38:46    new member 12.E1.EE.16 joined
-----------------------------------------------------------------------------------------------------------------------------

";
    assert_eq!(render_cluster_history(&seed_history()), expected);
    assert_eq!(HISTORY_RULE.len(), 125);
}

#[test]
fn revisions_view_lists_lineage_and_superseded() {
    let rev = Revision {
        id: rid(24, 0x1a),
        parent: rid(23, 0x19),
        origin: MemberId(0x12E1EE16),
        request: 1,
        user: "admin".into(),
        wall_ms: 0,
        change: format!("user-management\n user bob password 1 {H} role monitor\n"),
    };
    let v = RevisionsView {
        head: rid(24, 0x1a),
        revisions: vec![rev],
        superseded: vec![superseded(7, 0x9f, "")],
        lineage: vec![rid(23, 0x19), rid(24, 0x1a)],
    };
    let out = render_revisions(&v);
    let ts = format_wall_ms(0);
    assert!(out.starts_with(
        "\nConfiguration Revision Information\n Running revision             : 24/1a2b0000\n"
    ));
    assert!(out.contains(&format!(
        "        24   1a2b0000   {ts}          admin   12.E1.EE.16   user-management; user bob password 1 <hash> rol...\n"
    )));
    assert!(out.contains(&format!(
        "         7   9f2b0000   12.3A.A1.17   {ts}              0\n"
    )));
    assert!(out.contains("cluster restore-revision <REVISION> [<HASH>]"));
    assert!(!out.contains("argon2"));
}

// ---------------------------------------------------------------- config model

#[test]
fn example_config_round_trips() {
    let text = format!(
        "!\n! Configuration of Roost version {v}\n!\nversion 1\n!\nuser-management\n user admin password 1 {H} role superuser\n user admin ssh-key ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ0\n user noc password 1 {H} role monitor\n!\nwlan corp\n ssid Corp\n vlan 10\n!\nvx9000 {MAC1}\n hostname vx9000-1\n interface vlan 1\n  ip address 127.0.0.11/8\n ip default-gateway 127.0.0.1\n cluster name WING-CLUSTER\n cluster mode standby\n cluster master-priority 250\n cluster force-configured-state\n cluster force-configured-state-delay 30 seconds\n cluster member ip 127.0.0.12 level 1\n!\nend\n",
        v = env!("CARGO_PKG_VERSION")
    );
    let c = ClusterConfig::parse(&text).unwrap();
    assert_eq!(c.to_text(), text);
    let d = c.device(mac1()).unwrap();
    assert_eq!(d.hostname, "vx9000-1");
    assert_eq!(d.cluster_name, "WING-CLUSTER");
    assert_eq!(d.cluster_mode, ClusterMode::Standby);
    assert_eq!(d.master_priority, 250);
    assert!(d.force_configured_state);
    assert_eq!(
        d.force_configured_state_delay,
        std::time::Duration::from_secs(30)
    );
    assert_eq!(
        d.member_ips,
        vec![("127.0.0.12".parse().unwrap(), MintLevel::L1)]
    );
    assert_eq!(d.interfaces, vec![(1, Some("127.0.0.11/8".to_string()))]);
    assert_eq!(d.default_gateway, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(d.hello_interval, std::time::Duration::from_millis(100));
    assert_eq!(d.dead_interval, std::time::Duration::from_millis(300));
    assert_eq!(
        c.ssh_keys("admin"),
        vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ0".to_string()]
    );
    assert!(c.ssh_keys("nobody").is_empty());
    assert_eq!(c.cluster_name().as_deref(), Some("WING-CLUSTER"));
    assert_eq!(c.devices().len(), 1);
    assert_eq!(
        c.users(),
        vec![
            ("admin".into(), Role::Superuser),
            ("noc".into(), Role::Monitor)
        ]
    );
    // The example's "cluster force-configured-state-delay 5" is the default: omitted.
    let with_default = text.replace("30 seconds", "5");
    let c2 = ClusterConfig::parse(&with_default).unwrap();
    assert!(!c2.to_text().contains("force-configured-state-delay"));
}

#[test]
fn defaults_and_unknown_device() {
    let c = ClusterConfig::parse(&base_text()).unwrap();
    let d = c.device(mac1()).unwrap();
    assert_eq!(d.cluster_mode, ClusterMode::Active);
    assert_eq!(d.master_priority, 128);
    assert_eq!(
        d.force_configured_state_delay,
        std::time::Duration::from_secs(300)
    );
    assert_eq!(d.radius_counter_db_sync_time_minutes, 5);
    assert_eq!(d.cluster_name, "");
    assert!(c.device(MAC2.parse().unwrap()).is_none());
    assert_eq!(c.cluster_name(), None);
    let dflt = DeviceSettings::default_for(MAC2.parse().unwrap(), Model::Rfs4000);
    assert_eq!(dflt.hostname, "rfs4000-3AA117");
}

#[test]
fn initial_config_and_authentication() {
    // The only tests that hash/verify: initial (1 hash) + 3 verifications.
    let c = ClusterConfig::initial(mac1(), Model::Vx9000, "vx9000-1", "admin123");
    let text = c.to_text();
    assert!(text.contains(&format!("vx9000 {MAC1}\n hostname vx9000-1\n")));
    assert!(text.contains(" user admin password 1 $argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(!text.contains("admin123"));
    assert_eq!(c.authenticate("admin", "admin123"), Some(Role::Superuser));
    assert_eq!(c.authenticate("admin", "wrong"), None);
    assert_eq!(c.authenticate("nobody", "admin123"), None);
    let base = ClusterConfig::parse(&base_text()).unwrap();
    assert_eq!(base.authenticate("noc", "secret"), Some(Role::Monitor));
    assert_eq!(ClusterConfig::parse(&text).unwrap(), c);
}

#[test]
fn setting_a_password_makes_the_opaque_record_and_a_hash_alone_drops_it() {
    use roost_wire::pake;
    let key = roost_wire::ClusterKey([3; 32]);
    let keys = pake::ServerKeys::derive(&key);
    let mut ops = Fake::new();
    ops.join_key = Some(key);
    let mut s = admin();
    run_ok(
        &mut s,
        &ops,
        &[
            "configure terminal",
            "user-management",
            "user bob password pw-of-bob role superuser",
            "commit",
        ],
    );
    let text = ops.text();
    let line = text
        .lines()
        .find(|l| l.contains("user bob password 1 $argon2id$"))
        .unwrap();
    let rec = line.split_whitespace().last().unwrap();
    assert!(line.contains(" role superuser opaque "), "{line}");
    assert!(!text.contains("pw-of-bob"));
    let cfg = ClusterConfig::parse(&text).unwrap();
    assert_eq!(cfg.join_record("bob"), Some((Role::Superuser, Some(rec))));
    assert_eq!(ClusterConfig::parse(&cfg.to_text()).unwrap(), cfg);
    // The record is the real thing: OPAQUE with the right password completes.
    let (c, ke1) = pake::client_start("pw-of-bob").unwrap();
    let (srv, ke2) = pake::server_start(&keys, "bob", Some(rec), &ke1).unwrap();
    let (ke3, _) = c.finish("pw-of-bob", &ke2).unwrap();
    srv.finish(&ke3).unwrap();

    // A hash alone (no record): the user stays, without a record.
    let hash = line.split_whitespace().nth(4).unwrap().to_string();
    run_ok(
        &mut s,
        &ops,
        &[
            &format!("user bob password 1 {hash} role superuser"),
            "commit",
        ],
    );
    assert_eq!(
        ops.running_config().join_record("bob"),
        Some((Role::Superuser, None))
    );
    assert_eq!(ops.running_config().join_record("nobody"), None);
    // A malformed record is refused and changes nothing.
    let before = ops.text();
    let o = s.execute(
        &format!("user bob password 1 {hash} role superuser opaque 00ff"),
        &ops,
    );
    assert!(o.error && o.text.contains("OPAQUE record"), "{}", o.text);
    run_ok(&mut s, &ops, &["commit"]);
    assert_eq!(ops.text(), before);
    // Without the cluster's keys (the Fake default) no record is made.
    let ops = Fake::new();
    let mut s = admin();
    run_ok(
        &mut s,
        &ops,
        &[
            "configure terminal",
            "user-management",
            "user eve password pw role monitor",
            "commit",
        ],
    );
    assert_eq!(
        ops.running_config().join_record("eve"),
        Some((Role::Monitor, None))
    );
}

#[test]
fn parse_errors_name_the_line() {
    let bad = base_text().replace(
        " ip default-gateway 127.0.0.1",
        " cluster master-priority 300",
    );
    let e = ClusterConfig::parse(&bad).unwrap_err();
    assert_eq!(
        e,
        ConfigError::Parse {
            line: 14,
            message:
                "'cluster master-priority 300': cluster master-priority 300 is out of range <1-255>"
                    .into()
        }
    );
    assert_eq!(
        e.to_string(),
        "line 14: 'cluster master-priority 300': cluster master-priority 300 is out of range <1-255>"
    );
    for (text, needle) in [
        ("version 2\n", "unsupported configuration version"),
        ("  hostname x\n", "unexpected indentation"),
        ("wlan a\n\tssid x\n", "indentation"),
        ("bogus\n", "unknown command 'bogus'"),
        ("end\nwlan a\n", "after 'end'"),
        ("rfs4000 zz\n", "not a MAC address"),
        (
            "user-management\n user a password 1 notahash role monitor\n",
            "argon2",
        ),
        (
            "user-management\n user a password clear role monitor\n",
            "clear-text password",
        ),
        (
            "user-management\n user a ssh-key ssh-ed25519 AAAA\n",
            "does not exist",
        ),
        ("wlan a\n vlan 4095\n", "out of range <1-4094>"),
    ] {
        let e = ClusterConfig::parse(text).unwrap_err().to_string();
        assert!(e.contains(needle), "{text:?}: {e}");
        assert!(e.starts_with("line "), "{e}");
    }
    // A clear-text password is never echoed in an error.
    let e = ClusterConfig::parse("user-management\n user a password hunter2 role monitor\n")
        .unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn dead_interval_must_cover_three_hellos() {
    let ok = format!("vx9000 {MAC1}\n cluster hello-interval 200\n cluster dead-interval 600\n");
    let c = ClusterConfig::parse(&ok).unwrap();
    assert_eq!(
        c.device(mac1()).unwrap().hello_interval,
        std::time::Duration::from_millis(200)
    );
    let bad = format!("vx9000 {MAC1}\n cluster hello-interval 200\n");
    let e = ClusterConfig::parse(&bad).unwrap_err().to_string();
    assert!(
        e.contains("dead-interval (300 ms) must be at least 3 x cluster hello-interval"),
        "{e}"
    );
    assert!(e.starts_with("line 2:"), "{e}");
}

#[test]
fn change_builder_and_apply() {
    let mac2: Mac = MAC2.parse().unwrap();
    let change = Change::new()
        .device(Model::Vx9000, mac2, |d| {
            d.line("hostname vx9000-2")
                .line("cluster member ip 127.0.0.11 level 1")
                .section("interface vlan 1", |i| i.line("ip address 127.0.0.12/8"))
                .line("ip default-gateway 127.0.0.1")
        })
        .device(Model::Vx9000, mac1(), |d| {
            d.line("cluster member ip 127.0.0.12 level 1")
        })
        .wlan("guest", |w| w.line("ssid Guest"))
        .line("no wlan guest")
        .to_text();
    assert_eq!(
        change,
        format!(
            "vx9000 {MAC2}\n hostname vx9000-2\n cluster member ip 127.0.0.11 level 1\n interface vlan 1\n  ip address 127.0.0.12/8\n ip default-gateway 127.0.0.1\nvx9000 {MAC1}\n cluster member ip 127.0.0.12 level 1\nwlan guest\n ssid Guest\nno wlan guest\n"
        )
    );
    let mut c = ClusterConfig::parse(&base_text()).unwrap();
    c.apply(&change).unwrap();
    let d2 = c.device(mac2).unwrap();
    assert_eq!(d2.hostname, "vx9000-2");
    assert_eq!(d2.interfaces, vec![(1, Some("127.0.0.12/8".into()))]);
    assert_eq!(c.device(mac1()).unwrap().member_ips.len(), 1);
    assert_eq!(c.devices().len(), 2);
    assert!(!c.text().contains("wlan guest"));
    assert!(Change::new().is_empty());
}

#[test]
fn apply_is_atomic_and_names_the_line() {
    let mut c = ClusterConfig::parse(&base_text()).unwrap();
    let before = c.clone();
    let change = format!("vx9000 {MAC1}\n hostname changed\n cluster master-priority 0\n");
    let e = c.apply(&change).unwrap_err().to_string();
    assert!(e.starts_with("line 3: 'cluster master-priority 0'"), "{e}");
    assert_eq!(c, before);
    // Cross-setting validation happens after the whole change: order within it is free.
    let change =
        format!("vx9000 {MAC1}\n cluster hello-interval 1000\n cluster dead-interval 3000\n");
    c.apply(&change).unwrap();
    // Plain passwords are refused in change text (replay must be deterministic).
    let e = c
        .apply("user-management\n user x password 0 hunter2 role monitor\n")
        .unwrap_err()
        .to_string();
    assert!(!e.contains("hunter2") && e.contains("clear-text"), "{e}");
}

#[test]
fn replace_config_change() {
    let mut c = ClusterConfig::parse(&base_text()).unwrap();
    let mut other = c.clone();
    other.apply("wlan corp\n ssid Corp\n").unwrap();
    let change = Change::replace_config(&other);
    assert!(change.starts_with("replace-config\n!\n"));
    c.apply(&change).unwrap();
    assert_eq!(c, other);
    let before = c.clone();
    let e = c
        .apply("replace-config\nversion 1\nbogus\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("line 3:"), "{e}");
    assert_eq!(c, before);
    assert_eq!(ClusterConfig::load(&c.text()).unwrap(), c);
}

#[test]
fn last_superuser_cannot_be_removed() {
    let mut c = ClusterConfig::parse(&base_text()).unwrap();
    let e = c
        .apply("user-management\n no user admin\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("last superuser"), "{e}");
    c.apply("user-management\n no user noc\n").unwrap();
    assert_eq!(c.users().len(), 1);
}

// ---------------------------------------------------------------- the command engine

#[test]
fn prompts_for_every_mode() {
    let ops = Fake::new();
    let mut s = Session::new("admin", Role::Superuser, false);
    assert_eq!(s.prompt(&ops), "vx9000-1>");
    assert_eq!(s.terminal_length(), 24);
    run_ok(&mut s, &ops, &["enable"]);
    assert_eq!(s.prompt(&ops), "vx9000-1#");
    run_ok(&mut s, &ops, &["disable"]);
    assert_eq!(s.prompt(&ops), "vx9000-1>");
    run_ok(&mut s, &ops, &["en", "conf t"]);
    assert_eq!(s.prompt(&ops), "vx9000-1(config)#");
    run_ok(&mut s, &ops, &["self"]);
    assert_eq!(s.prompt(&ops), format!("vx9000-1(config-device-{MAC1})#"));
    run_ok(&mut s, &ops, &["interface vlan 1"]);
    assert_eq!(
        s.prompt(&ops),
        format!("vx9000-1(config-device-{MAC1}-if-vlan1)#")
    );
    run_ok(&mut s, &ops, &["exit"]);
    assert_eq!(s.prompt(&ops), format!("vx9000-1(config-device-{MAC1})#"));
    run_ok(&mut s, &ops, &["exit", "user-management"]);
    assert_eq!(s.prompt(&ops), "vx9000-1(config-user-management)#");
    run_ok(&mut s, &ops, &["exit", "wlan corp"]);
    assert_eq!(s.prompt(&ops), "vx9000-1(config-wlan-corp)#");
    run_ok(&mut s, &ops, &["end"]);
    assert_eq!(s.prompt(&ops), "vx9000-1#");
    run_ok(
        &mut s,
        &ops,
        &[
            "configure terminal",
            &format!("device {}", MAC1.to_lowercase()),
        ],
    );
    assert_eq!(s.prompt(&ops), format!("vx9000-1(config-device-{MAC1})#"));
    run_ok(&mut s, &ops, &["exit", &format!("vx9000 {MAC2}")]);
    assert_eq!(s.prompt(&ops), format!("vx9000-1(config-device-{MAC2})#"));
    run_ok(&mut s, &ops, &["exit", "exit"]);
    assert_eq!(s.prompt(&ops), "vx9000-1#");
    let o = s.execute("exit", &ops);
    assert!(o.close && !o.error);
    assert_eq!(
        Session::new("admin", Role::Superuser, true).terminal_length(),
        0
    );
}

#[test]
fn seed_primary_configuration_session() {
    let ops = Fake::new();
    let mut s = admin();
    let out = run_ok(&mut s, &ops, crate::howto::SEED_PRIMARY_STEPS);
    assert_eq!(out, "");
    assert_eq!(
        s.pending_change(),
        format!(
            "vx9000 {MAC1}\n cluster name WING-CLUSTER\n cluster master-priority 250\n cluster force-configured-state\n"
        )
    );
    // Uncommitted: running config unchanged.
    assert!(!ops.text().contains("WING-CLUSTER"));
    let o = s.execute("commit write", &ops);
    assert_eq!(
        o,
        Output {
            text: "[OK]\n".into(),
            error: false,
            close: false
        }
    );
    assert_eq!(ops.commits(), vec![format!("admin\n{}", format_args!("vx9000 {MAC1}\n cluster name WING-CLUSTER\n cluster master-priority 250\n cluster force-configured-state\n"))]);
    assert_eq!(ops.startup.borrow().clone().unwrap(), ops.text());
    assert_eq!(s.pending_change(), "");
    let out = s.execute("show cluster configuration", &ops).text;
    assert!(out.contains(" Name                         : WING-CLUSTER\n"));
    assert!(out.contains(" Master Priority              : 250\n"));
    assert!(out.contains(" Force configured state       : Enabled\n"));
    // Nothing pending: commit does not call the controller.
    run_ok(&mut s, &ops, &["commit"]);
    assert_eq!(ops.commits().len(), 1);
}

#[test]
fn seed_secondary_interface_session() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(
        &mut s,
        &ops,
        &[
            "conf t",
            "self",
            "interface vlan 2",
            "ip address 10.1.2.3/24",
            "exit",
        ],
    );
    run_ok(
        &mut s,
        &ops,
        &["ip default-gateway 10.1.2.1", "commit write", "end"],
    );
    let d = ops.cfg.borrow().device(mac1()).unwrap();
    assert_eq!(
        d.interfaces,
        vec![
            (1, Some("127.0.0.11/8".into())),
            (2, Some("10.1.2.3/24".into()))
        ]
    );
    assert_eq!(d.default_gateway, Some("10.1.2.1".parse().unwrap()));
    assert_eq!(
        ops.commits()[0],
        format!("admin\nvx9000 {MAC1}\n interface vlan 2\n  ip address 10.1.2.3/24\n ip default-gateway 10.1.2.1\n")
    );
}

#[test]
fn exec_output_echoes_the_line_above_a_caret_with_passwords_masked_in_place() {
    let ops = Fake::new();
    let mut s = admin();
    let prompt = s.prompt(&ops);
    let o = s.execute("show foo", &ops);
    // The caret lines up under "foo" in the echoed line.
    let shown = crate::exec_output(&prompt, "show foo", &o.text);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines[0], "vx9000-1#show foo");
    assert_eq!(lines[1].find('^'), lines[0].find("foo"));
    assert_eq!(lines[2], "% Invalid input detected at '^' marker.");
    // Other output is as it was.
    let o = s.execute("show cluster", &ops);
    assert_eq!(crate::exec_output(&prompt, "show cluster", &o.text), o.text);
    // A password is never echoed, and masking keeps the columns.
    run_ok(&mut s, &ops, &["conf t", "user-management"]);
    let prompt = s.prompt(&ops);
    let line = "user bob password S3cr\u{e9}t! rolex superuser";
    let o = s.execute(line, &ops);
    assert!(o.error, "{}", o.text);
    let shown = crate::exec_output(&prompt, line, &o.text);
    assert!(!shown.contains("S3cr"), "{shown}");
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(
        lines[0],
        format!("{prompt}user bob password ******* rolex superuser")
    );
    assert_eq!(
        lines[1].chars().position(|c| c == '^'),
        lines[0]
            .find(" rolex ")
            .map(|i| lines[0][..i + 1].chars().count())
    );
    let line = "user bob  password 0 hunter2 role superuser bogus";
    let o = s.execute(line, &ops);
    let shown = crate::exec_output(&prompt, line, &o.text);
    assert!(shown.starts_with(&format!(
        "{prompt}user bob  password 0 ******* role superuser bogus\n"
    )));
}

#[test]
fn abbreviations_ambiguity_caret_incomplete() {
    let ops = Fake::new();
    let mut s = admin();
    let o = s.execute("sh clu st", &ops);
    assert_eq!(o.text, render_cluster_status(&seed_status("active")));
    assert!(!o.error);
    let o = s.execute("SH CLU MEM", &ops);
    assert_eq!(o.text, render_cluster_members(&seed_members()));
    let o = s.execute("sh c", &ops);
    assert_eq!(o.text, "% Ambiguous command: \"sh c\"\n");
    assert!(o.error);
    // "vx9000-1#" is 9 characters; "foo" starts at column 5.
    let o = s.execute("show foo", &ops);
    assert_eq!(
        o.text,
        format!(
            "{}^\n% Invalid input detected at '^' marker.\n",
            " ".repeat(14)
        )
    );
    assert!(o.error);
    let o = s.execute("  show   cluster bogus", &ops);
    assert_eq!(
        o.text,
        format!(
            "{}^\n% Invalid input detected at '^' marker.\n",
            " ".repeat(9 + 17)
        )
    );
    let o = s.execute("show cluster status extra", &ops);
    assert!(o.text.starts_with(&format!("{}^\n", " ".repeat(9 + 20))));
    let o = s.execute("show cluster", &ops);
    assert_eq!(o.text, "% Incomplete command.\n");
    assert!(o.error);
    // The caret is offset by the prompt of the mode.
    run_ok(&mut s, &ops, &["conf t", "self"]);
    let o = s.execute("clus bogus", &ops);
    let prompt = format!("vx9000-1(config-device-{MAC1})#");
    assert_eq!(
        o.text,
        format!(
            "{}^\n% Invalid input detected at '^' marker.\n",
            " ".repeat(prompt.len() + 5)
        )
    );
    let o = s.execute("cluster force 3", &ops);
    assert_eq!(o.text, "% Ambiguous command: \"cluster force\"\n");
    run_ok(
        &mut s,
        &ops,
        &["cl force-configured-state-d 10 sec", "cl mas 200"],
    );
    assert!(s
        .pending_change()
        .contains(" cluster force-configured-state-delay 10 seconds\n"));
    assert!(s
        .pending_change()
        .contains(" cluster master-priority 200\n"));
    // Empty lines and comments do nothing.
    assert_eq!(s.execute("   ", &ops), Output::default());
    assert_eq!(s.execute("! a comment", &ops), Output::default());
}

#[test]
fn help_lists_next_tokens() {
    let ops = Fake::new();
    let s = admin();
    assert_eq!(
        s.help("show cluster ", &ops),
        "  configuration  Cluster configuration\n  history        Cluster state change history\n  members        Cluster members\n  revisions      Configuration revisions and superseded configurations\n  status         Cluster status\n  traffic        Member channel counters (accepted and dropped datagrams)\n"
    );
    assert_eq!(
        s.help("sh cl", &ops),
        "  clock    Display system clock\n  cluster  Cluster Protocol\n"
    );
    assert_eq!(
        s.help("commit ", &ops),
        "  write  Commit and write the configuration to memory\n  <cr>\n"
    );
    assert_eq!(
        s.help("show cluster status ", &ops),
        "  |  Output modifiers\n  <cr>\n"
    );
    assert_eq!(
        s.help("terminal length ", &ops),
        "  <0-512>  Number of lines on screen (0 for no pausing)\n"
    );
    assert_eq!(s.help("show bogus ", &ops), "% Unrecognized command\n");
    assert_eq!(s.help("sh c ", &ops), "% Ambiguous command: \"sh c\"\n");
    let mut e = admin();
    assert_eq!(
        e.execute("show cluster ?", &ops).text,
        s.help("show cluster ", &ops)
    );
    assert_eq!(e.execute("sh cl?", &ops).text, s.help("sh cl", &ops));
    assert!(e.execute("show bogus ?", &ops).error);
    let top = s.help("", &ops);
    for kw in [
        "show",
        "configure",
        "join-cluster",
        "commit",
        "write",
        "debug",
        "exit",
    ] {
        assert!(
            top.contains(&format!("  {kw} ")),
            "{kw} missing from\n{top}"
        );
    }
    let mut s = admin();
    run_ok(&mut s, &ops, &["conf t", "self"]);
    let h = s.help("cluster master-priority ", &ops);
    assert_eq!(h, "  <1-255>  Master priority (higher wins, default 128)\n");
    let h = s.help("cluster ", &ops);
    assert!(
        h.contains("  force-configured-state-delay  Delay before forcing the configured mode\n"),
        "{h}"
    );
    let h = s.help("cluster mode ", &ops);
    assert!(
        h.contains("  active   Configure cluster mode as active\n"),
        "{h}"
    );
}

#[test]
fn completion() {
    let ops = Fake::new();
    let s = admin();
    assert_eq!(
        s.complete("sh clu", &ops),
        Completion::Line("sh cluster ".into())
    );
    assert_eq!(
        s.complete("sh cluster st", &ops),
        Completion::Line("sh cluster status ".into())
    );
    assert_eq!(
        s.complete("conf", &ops),
        Completion::Line("configure ".into())
    );
    assert_eq!(
        s.complete("sh c", &ops),
        Completion::Candidates(vec!["clock".into(), "cluster".into(), "context".into()])
    );
    assert_eq!(
        s.complete("show bogus x", &ops),
        Completion::Candidates(vec![])
    );
    assert_eq!(
        s.complete("terminal length ", &ops),
        Completion::Candidates(vec!["<0-512>".into()])
    );
}

#[test]
fn out_of_range_values_leave_config_unchanged() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(&mut s, &ops, &["conf t", "self"]);
    for (line, needle) in [
        ("cluster master-priority 0", "out of range <1-255>"),
        ("cluster master-priority 256", "out of range <1-255>"),
        (
            "cluster force-configured-state-delay 2",
            "out of range <3-1800>",
        ),
        (
            "cluster force-configured-state-delay 1801",
            "out of range <3-1800>",
        ),
        (
            "cluster force-configured-state-delay 1801 minutes",
            "out of range <3-1800>",
        ),
        (
            "cluster force-configured-state-delay 0 seconds",
            "out of range <1-108000>",
        ),
        (
            "cluster force-configured-state-delay 108001 seconds",
            "out of range <1-108000>",
        ),
        (
            "cluster radius-counter-db-sync-time 0",
            "out of range <1-1440>",
        ),
        (
            "cluster radius-counter-db-sync-time 1441",
            "out of range <1-1440>",
        ),
        ("cluster member vlan 0", "out of range <1-4094>"),
        ("cluster member vlan 4095", "out of range <1-4094>"),
        ("cluster member ip 10.0.0.1 level 3", "out of range <1-2>"),
        ("cluster hello-interval 9", "out of range <10-10000>"),
        ("cluster hello-interval 10001", "out of range <10-10000>"),
        ("cluster dead-interval 29", "out of range <30-60000>"),
        ("cluster dead-interval 60001", "out of range <30-60000>"),
        (
            "cluster dead-interval 99999999999999999999",
            "out of range <30-60000>",
        ),
        (
            "cluster hello-interval 200",
            "must be at least 3 x cluster hello-interval",
        ),
        ("interface vlan 0", "out of range <1-4094>"),
        ("interface vlan 4095", "out of range <1-4094>"),
        ("hostname -bad", "invalid hostname"),
        (
            "cluster name 12345678901234567890123456789012345678901234567890123456789012345",
            "invalid cluster name",
        ),
        ("no cluster member ip 10.9.9.9", "not configured"),
    ] {
        let o = s.execute(line, &ops);
        assert!(o.error, "{line}");
        assert!(
            o.text.starts_with("% Error: ") && o.text.contains(needle),
            "{line}: {}",
            o.text
        );
        assert_eq!(s.pending_change(), "", "{line}");
        assert_eq!(s.prompt(&ops), format!("vx9000-1(config-device-{MAC1})#"));
    }
    // Malformed values are caret errors.
    for line in [
        "cluster master-priority high",
        "cluster member ip 10.0.0 level 1",
        "ip default-gateway x",
    ] {
        let o = s.execute(line, &ops);
        assert!(
            o.error && o.text.contains("% Invalid input detected at '^' marker."),
            "{line}: {}",
            o.text
        );
    }
    run_ok(&mut s, &ops, &["interface vlan 1"]);
    for line in ["ip address 10.0.0.1/33", "ip address 10.0.0.1"] {
        assert!(s.execute(line, &ops).error, "{line}");
    }
    run_ok(&mut s, &ops, &["exit", "exit", "wlan corp"]);
    assert!(s
        .execute("vlan 4095", &ops)
        .text
        .contains("out of range <1-4094>"));
    assert!(
        s.execute("ssid 123456789012345678901234567890123", &ops)
            .error
    );
    run_ok(
        &mut s,
        &ops,
        &["end", "terminal length 100", "terminal width 132"],
    );
    assert_eq!(s.terminal_length(), 100);
    assert_eq!(s.terminal_width(), 132);
    let o = s.execute("terminal length 513", &ops);
    assert!(o.error && o.text.contains("out of range <0-512>"));
    assert_eq!(s.terminal_length(), 100);
    run_ok(&mut s, &ops, &["no page"]);
    assert_eq!(s.terminal_length(), 0);
    run_ok(&mut s, &ops, &["page"]);
    assert_eq!(s.terminal_length(), 24);
    assert_eq!(ops.commits().len(), 0);
}

#[test]
fn every_setting_and_its_no_form() {
    let ops = Fake::new();
    let mut s = admin();
    let before = ops.text();
    run_ok(
        &mut s,
        &ops,
        &[
            "conf t",
            "self",
            "hostname core-1",
            "cluster name C1",
            "cluster mode standby",
            "cluster master-priority 1",
            "cluster force-configured-state",
            "cluster force-configured-state-delay 1800",
            "cluster handle-stp",
            "cluster radius-counter-db-sync-time 1440",
            "cluster dead-interval 60000",
            "cluster hello-interval 10000",
            "cluster member ip 10.0.0.2 level 2",
            "cluster member vlan 4094",
            "interface vlan 4094",
            "ip address 10.0.0.1/24",
            "exit",
            "ip default-gateway 10.0.0.254",
            "commit",
        ],
    );
    let d = ops.cfg.borrow().device(mac1()).unwrap();
    assert_eq!(d.hostname, "core-1");
    assert_eq!(d.cluster_name, "C1");
    assert_eq!(d.cluster_mode, ClusterMode::Standby);
    assert_eq!(d.master_priority, 1);
    assert!(d.force_configured_state && d.handle_stp);
    assert_eq!(
        d.force_configured_state_delay,
        std::time::Duration::from_secs(1800 * 60)
    );
    assert_eq!(d.radius_counter_db_sync_time_minutes, 1440);
    assert_eq!(d.hello_interval, std::time::Duration::from_secs(10));
    assert_eq!(d.dead_interval, std::time::Duration::from_secs(60));
    assert_eq!(
        d.member_ips,
        vec![("10.0.0.2".parse().unwrap(), MintLevel::L2)]
    );
    assert_eq!(d.member_vlans, vec![4094]);
    run_ok(
        &mut s,
        &ops,
        &[
            "no hostname",
            "no cluster name",
            "no cluster mode",
            "no cluster master-priority",
            "no cluster force-configured-state",
            "no cluster force-configured-state-delay",
            "no cluster handle-stp",
            "no cluster radius-counter-db-sync-time",
            "no cluster hello-interval",
            "no cluster dead-interval",
            "no cluster member ip 10.0.0.2",
            "no cluster member vlan 4094",
            "no interface vlan 4094",
            "no ip default-gateway",
            "hostname vx9000-1",
            "interface vlan 1",
            "no ip address",
            "ip address 127.0.0.11/8",
            "commit",
        ],
    );
    assert_eq!(
        ops.text(),
        before.replace(" ip default-gateway 127.0.0.1\n", "")
    );
    // wlan and user-management sub-modes.
    run_ok(
        &mut s,
        &ops,
        &[
            "end",
            "conf t",
            "wlan corp",
            "ssid Corp",
            "vlan 10",
            "shutdown",
            "commit",
        ],
    );
    assert!(ops
        .text()
        .contains("wlan corp\n ssid Corp\n vlan 10\n shutdown\n!\n"));
    run_ok(
        &mut s,
        &ops,
        &["no shutdown", "no vlan", "no ssid", "exit", "commit"],
    );
    assert!(ops.text().contains("wlan corp\n!\n"));
    run_ok(&mut s, &ops, &["no wlan corp", "commit"]);
    assert!(!ops.text().contains("wlan"));
    // Device sections of other members.
    run_ok(
        &mut s,
        &ops,
        &[&format!("rfs4000 {MAC2}"), "exit", "commit"],
    );
    assert!(ops.text().contains(&format!("rfs4000 {MAC2}\n!\n")));
    assert!(s
        .execute(&format!("vx9000 {MAC2}"), &ops)
        .text
        .contains("is a rfs4000, not a vx9000"));
    run_ok(&mut s, &ops, &[&format!("no device {MAC2}"), "commit"]);
    assert!(!ops.text().contains("rfs4000"));
    assert!(s
        .execute(&format!("device {MAC2}"), &ops)
        .text
        .contains("does not exist"));
    let o = s.execute(&format!("no vx9000 {MAC1}"), &ops);
    assert!(
        o.error
            && o.text
                .contains("cannot remove the device section of this member")
    );
}

#[test]
fn clear_password_is_hashed_at_entry() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(
        &mut s,
        &ops,
        &[
            "conf t",
            "user-management",
            "user bob password hunter2 role monitor",
        ],
    );
    let pending = s.pending_change();
    assert!(pending
        .starts_with("user-management\n user bob password 1 $argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(pending.ends_with(" role monitor\n"));
    assert!(!pending.contains("hunter2"));
    run_ok(&mut s, &ops, &["commit"]);
    assert!(!ops.calls().iter().any(|c| c.contains("hunter2")));
    assert!(!ops.text().contains("hunter2"));
    assert!(ops.text().contains(" user bob password 1 $argon2id$"));
    // Pre-hashed form, ssh keys and removal.
    run_ok(
        &mut s,
        &ops,
        &[
            &format!("user carol password 1 {H} role superuser"),
            "user carol ssh-key ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ0",
            "commit",
        ],
    );
    let c = ops.running_config();
    assert_eq!(
        c.ssh_keys("carol"),
        vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ0".to_string()]
    );
    run_ok(
        &mut s,
        &ops,
        &["no user carol ssh-key", "no user bob", "commit"],
    );
    assert!(ops.running_config().ssh_keys("carol").is_empty());
    assert!(!ops.text().contains("user bob"));
    let o = s.execute("user x password 1 nothash role monitor", &ops);
    assert!(o.error && o.text.contains("argon2"), "{}", o.text);
    // An ambiguous line never echoes the password.
    let o = s.execute("user x password hunter3 r", &ops);
    assert!(!o.text.contains("hunter3"));
}

#[test]
fn monitor_role_is_read_only() {
    let ops = Fake::new();
    let mut s = Session::new("noc", Role::Monitor, false);
    assert!(!s.execute("show cluster members", &ops).error);
    run_ok(
        &mut s,
        &ops,
        &[
            "terminal length 0",
            "enable",
            "show running-config",
            "show cluster status",
        ],
    );
    let refusal = "% Error: user 'noc' (role monitor) is not allowed to configure\n";
    for line in [
        "configure terminal",
        "commit",
        "commit write",
        "write memory",
        "write",
        "join-cluster 192.168.7.73 user admin password secret level 1 mode standby",
        "cluster restore-revision 7",
    ] {
        let o = s.execute(line, &ops);
        assert_eq!(o.text, refusal, "{line}");
        assert!(o.error);
    }
    assert_eq!(s.prompt(&ops), "vx9000-1#");
    assert!(ops.calls().is_empty());
    run_ok(&mut s, &ops, &["debug cfgd cluster", "disable"]);
    let o = s.execute("configure terminal", &ops);
    assert!(
        o.text.contains("% Invalid input detected"),
        "user exec has no configure: {}",
        o.text
    );
}

#[test]
fn show_commands() {
    let ops = Fake::new();
    let mut s = admin();
    assert_eq!(s.execute("show running-config", &ops).text, ops.text());
    let o = s.execute("show startup-config", &ops);
    assert_eq!(
        (o.text.as_str(), o.error),
        ("% Error: no startup-config\n", true)
    );
    assert_eq!(s.execute("write memory", &ops).text, "[OK]\n");
    assert_eq!(s.execute("show startup-config", &ops).text, ops.text());
    assert_eq!(
        s.execute("show cluster history", &ops).text,
        render_cluster_history(&seed_history())
    );
    assert_eq!(
        s.execute("show cluster revisions", &ops).text,
        render_revisions(&ops.snapshot().revisions)
    );
    let v = s.execute("show version", &ops).text;
    assert_eq!(
        v,
        format!(
            "VX9000 version 0.1.0\nRoost WLAN controller cluster\n\nvx9000-1 uptime is 0 days, 1 hours 2 minutes 3 seconds\nBase ethernet MAC address is {MAC1}\nModel number is VX9000\n"
        )
    );
    let l = s.execute("show licenses", &ops).text;
    assert!(
        l.contains(" AAP license (pooled)         : 128\n") && l.contains("ADSEC"),
        "{l}"
    );
    assert!(!s.execute("show clock", &ops).error);
    // show works from config modes and `show context` shows the candidate's section.
    run_ok(&mut s, &ops, &["conf t", "self", "cluster name X"]);
    assert!(!s.execute("show cluster members", &ops).error);
    assert_eq!(
        s.execute("show context", &ops).text,
        format!("vx9000 {MAC1}\n hostname vx9000-1\n interface vlan 1\n  ip address 127.0.0.11/8\n ip default-gateway 127.0.0.1\n cluster name X\n")
    );
    // Non-privileged exec has no running-config.
    let mut u = Session::new("admin", Role::Superuser, false);
    assert!(u.execute("show running-config", &ops).error);
    assert!(!u.execute("show version", &ops).error);
}

#[test]
fn uncommitted_changes_survive_leaving_config_mode() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(
        &mut s,
        &ops,
        &[
            "conf t",
            "self",
            "cluster name KEEP",
            "end",
            "conf t",
            "wlan corp",
            "end",
        ],
    );
    assert_eq!(
        s.pending_change(),
        format!("vx9000 {MAC1}\n cluster name KEEP\nwlan corp\n")
    );
    // Committing fails at the master: the changes are kept.
    *ops.commit_error.borrow_mut() = Some("no master".into());
    let o = s.execute("commit", &ops);
    assert_eq!((o.text.as_str(), o.error), ("% Error: no master\n", true));
    assert!(!s.pending_change().is_empty());
    *ops.commit_error.borrow_mut() = None;
    run_ok(&mut s, &ops, &["commit"]);
    assert!(ops.text().contains("cluster name KEEP") && ops.text().contains("wlan corp"));
    // revert drops them.
    run_ok(&mut s, &ops, &["conf t", "wlan guest", "revert"]);
    assert_eq!(s.pending_change(), "");
}

#[test]
fn change_text_resolves_self_and_reenters_contexts() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(
        &mut s,
        &ops,
        &[
            "conf t",
            "self",
            "cluster name A",
            "exit",
            "wlan w",
            "ssid S",
            "exit",
            "self",
            "interface vlan 3",
            "exit",
            "cluster handle-stp",
        ],
    );
    let t = s.pending_change();
    assert!(!t.contains("self"));
    assert_eq!(
        t,
        format!("vx9000 {MAC1}\n cluster name A\nwlan w\n ssid S\nvx9000 {MAC1}\n interface vlan 3\n cluster handle-stp\n")
    );
    let mut c = ops.running_config();
    c.apply(&t).unwrap();
    assert!(c.device(mac1()).unwrap().handle_stp);
}

#[test]
fn join_cluster_prints_progress_and_never_the_password() {
    let ops = Fake::new();
    let mut s = admin();
    let o = s.execute(
        "join-cluster 192.168.7.73 user admin password secret level 1 mode standby",
        &ops,
    );
    assert_eq!(
        o.text,
        "... connecting to 192.168.7.73\n... applying cluster configuration\n... committing the changes\n... saving the changes\n[OK]\n"
    );
    assert!(!o.error);
    assert_eq!(
        ops.calls(),
        vec!["join 192.168.7.73 admin level 1 mode Standby".to_string()]
    );
    let o = s.execute("join 192.168.7.73 u admin pass wrongpw lev 2 m act", &ops);
    assert_eq!(
        o.text,
        "... connecting to 192.168.7.73\n% Error: authentication failed\n"
    );
    assert!(o.error && !o.text.contains("wrongpw"));
    assert_eq!(
        ops.calls()[1],
        "join 192.168.7.73 admin level 2 mode Active"
    );
    assert!(
        s.execute(
            "join-cluster 192.168.7.73 user admin password x level 3 mode active",
            &ops
        )
        .error
    );
    let o = s.execute("join-cluster 192.168.7.73 user admin password x", &ops);
    assert_eq!(o.text, "% Incomplete command.\n");
}

#[test]
fn debug_commands() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(
        &mut s,
        &ops,
        &[
            "debug cfgd cluster",
            "logging monitor debugging",
            "no debug cfgd cluster",
            "undebug all",
            "no logging monitor",
        ],
    );
    assert_eq!(
        ops.calls(),
        vec![
            "debug true false",
            "debug true true",
            "debug false true",
            "debug false true",
            "debug false false"
        ]
    );
}

#[test]
fn restore_revision() {
    let mut ops = Fake::new();
    let old = base_text().replace(" ip default-gateway 127.0.0.1\n", " hostname old-name\n");
    ops.superseded = vec![
        superseded(7, 0x9f, &old),
        superseded(7, 0x11, &old),
        superseded(8, 0x22, &old),
    ];
    let mut s = admin();
    let o = s.execute("cluster restore-revision 5", &ops);
    assert!(
        o.error
            && o.text
                .starts_with("% Error: no superseded configuration with revision 5"),
        "{}",
        o.text
    );
    let o = s.execute("cluster restore-revision 7", &ops);
    assert!(
        o.error && o.text.contains("ambiguous (7/9f2b0000, 7/112b0000)"),
        "{}",
        o.text
    );
    let o = s.execute("cluster restore-revision 7 9F", &ops);
    assert_eq!(
        o.text,
        "Restored superseded configuration 7/9f2b0000 as revision 26/aa2b0000\n"
    );
    assert!(ops.commits()[0].starts_with("admin\nreplace-config\n"));
    assert_eq!(
        ops.cfg.borrow().device(mac1()).unwrap().hostname,
        "old-name"
    );
    assert!(s.execute("cluster restore-revision 8 33", &ops).error);
}

#[test]
fn logout_and_quit_close() {
    let ops = Fake::new();
    for l in ["logout", "quit", "exit"] {
        let mut s = Session::new("admin", Role::Superuser, false);
        assert!(s.execute(l, &ops).close);
    }
    let mut s = admin();
    run_ok(&mut s, &ops, &["conf t"]);
    assert!(s.execute("logout", &ops).error, "logout is an exec command");
}

mod dhcp;

// ---------------------------------------------------------------- properties

mod props {
    use super::*;
    use proptest::prelude::*;

    fn word() -> impl Strategy<Value = String> {
        "[A-Za-z0-9][A-Za-z0-9_.-]{0,11}"
    }

    fn device_lines() -> impl Strategy<Value = Vec<String>> {
        let hello = 10u32..=10_000;
        (
            (
                proptest::option::of(word()),
                proptest::collection::vec(
                    (
                        1u16..=4094,
                        proptest::option::of((any::<[u8; 4]>(), 0u8..=32)),
                    ),
                    0..3,
                ),
                proptest::option::of(any::<[u8; 4]>()),
                proptest::option::of(word()),
                any::<bool>(),
                1u8..=255,
            ),
            (
                any::<bool>(),
                prop_oneof![
                    (3u32..=1800).prop_map(|m| format!("{m}")),
                    (1u32..=108_000).prop_map(|s| format!("{s} seconds"))
                ],
                any::<bool>(),
                1u32..=1440,
                hello.prop_flat_map(|h| (Just(h), (3 * h).max(30)..=60_000)),
                proptest::collection::vec((any::<[u8; 4]>(), 1u8..=2), 0..3),
                proptest::collection::vec(1u16..=4094, 0..3),
            ),
        )
            .prop_map(
                |(
                    (host, ifs, gw, name, standby, prio),
                    (fcs, delay, stp, radius, (h, dead), ips, vlans),
                )| {
                    let mut l = Vec::new();
                    if let Some(h) = host {
                        l.push(format!(" hostname {h}"));
                    }
                    for (v, ip) in ifs {
                        l.push(format!(" interface vlan {v}"));
                        if let Some((a, m)) = ip {
                            l.push(format!("  ip address {}/{m}", std::net::Ipv4Addr::from(a)));
                        }
                    }
                    if let Some(g) = gw {
                        l.push(format!(
                            " ip default-gateway {}",
                            std::net::Ipv4Addr::from(g)
                        ));
                    }
                    for (a, lv) in ips {
                        l.push(format!(
                            " cluster member ip {} level {lv}",
                            std::net::Ipv4Addr::from(a)
                        ));
                    }
                    l.push(format!(" cluster dead-interval {dead}"));
                    l.push(format!(" cluster hello-interval {h}"));
                    if let Some(n) = name {
                        l.push(format!(" cluster name {n}"));
                    }
                    l.push(format!(
                        " cluster mode {}",
                        if standby { "standby" } else { "active" }
                    ));
                    l.push(format!(" cluster master-priority {prio}"));
                    if fcs {
                        l.push(" cluster force-configured-state".into());
                    }
                    l.push(format!(" cluster force-configured-state-delay {delay}"));
                    if stp {
                        l.push(" cluster handle-stp".into());
                    }
                    l.push(format!(" cluster radius-counter-db-sync-time {radius}"));
                    for v in vlans {
                        l.push(format!(" cluster member vlan {v}"));
                    }
                    l
                },
            )
    }

    fn config_text() -> impl Strategy<Value = String> {
        (
            proptest::collection::vec(
                (
                    word(),
                    any::<bool>(),
                    proptest::option::of("[A-Za-z0-9+/]{4,40}"),
                ),
                0..4,
            ),
            proptest::collection::vec(
                (
                    word(),
                    proptest::option::of(word()),
                    proptest::option::of(1u16..=4094),
                    any::<bool>(),
                ),
                0..3,
            ),
            proptest::collection::vec((0usize..8, any::<[u8; 6]>(), device_lines()), 0..4),
        )
            .prop_map(|(users, wlans, devices)| {
                let mut t = String::new();
                // One line per user: a later `role monitor` for the only superuser is refused
                // by the parser ("cannot remove the last superuser"), rightly.
                let mut names = std::collections::HashSet::new();
                for (name, monitor, key) in users {
                    if !names.insert(name.clone()) {
                        continue;
                    }
                    t += "user-management\n";
                    t += &format!(
                        " user {name} password 1 {H} role {}\n",
                        if monitor { "monitor" } else { "superuser" }
                    );
                    if let Some(k) = key {
                        t += &format!(" user {name} ssh-key ssh-ed25519 {k}\n");
                    }
                }
                for (name, ssid, vlan, shut) in wlans {
                    t += &format!("wlan {name}\n");
                    if let Some(s) = ssid {
                        t += &format!(" ssid {s}\n");
                    }
                    if let Some(v) = vlan {
                        t += &format!(" vlan {v}\n");
                    }
                    if shut {
                        t += " shutdown\n";
                    }
                }
                let mut seen = std::collections::HashSet::new();
                for (m, mac, lines) in devices {
                    if !seen.insert(mac) {
                        continue;
                    }
                    t += &format!("{} {}\n", Model::ALL[m].prefix(), Mac(mac));
                    for l in lines {
                        t += &l;
                        t.push('\n');
                    }
                }
                t
            })
    }

    fn line_strategy() -> impl Strategy<Value = String> {
        let vocab = prop_oneof![
            Just("show".to_string()),
            Just("cluster".to_string()),
            Just("no".to_string()),
            Just("conf".to_string()),
            Just("t".to_string()),
            Just("self".to_string()),
            Just("interface".to_string()),
            Just("vlan".to_string()),
            Just("wlan".to_string()),
            Just("user-management".to_string()),
            Just("exit".to_string()),
            Just("end".to_string()),
            Just("commit".to_string()),
            Just("write".to_string()),
            Just("master-priority".to_string()),
            Just("member".to_string()),
            Just("ip".to_string()),
            Just("level".to_string()),
            Just("device".to_string()),
            Just(MAC2.to_string()),
            Just("vx9000".to_string()),
            Just("hello-interval".to_string()),
            Just("dead-interval".to_string()),
            Just("force-configured-state-delay".to_string()),
            Just("seconds".to_string()),
            Just("restore-revision".to_string()),
            Just("terminal".to_string()),
            "[0-9]{1,22}",
            "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(/[0-9]{1,2})?",
            "\\PC{0,8}",
            "[a-z-]{1,6}",
        ];
        proptest::collection::vec(vocab, 0..8).prop_map(|v| v.join(" "))
    }

    proptest! {
        #![proptest_config(ProptestConfig::default() /* 256 cases; PROPTEST_CASES overrides */)]

        #[test]
        fn print_parse_round_trip(text in config_text()) {
            let c = ClusterConfig::parse(&text).unwrap();
            let canonical = c.to_text();
            let c2 = ClusterConfig::parse(&canonical).unwrap();
            prop_assert_eq!(&c2, &c);
            prop_assert_eq!(c2.to_text(), canonical);
        }

        #[test]
        fn parse_never_panics(text in "(\\PC{0,30}\n){0,10}") {
            let _ = ClusterConfig::parse(&text);
            let mut c = ClusterConfig::parse(&base_text()).unwrap();
            let before = c.clone();
            if c.apply(&text).is_err() {
                prop_assert_eq!(c, before);
            }
        }

        #[test]
        fn parse_never_panics_on_mangled_config(text in config_text(), cut in 0usize..2000, junk in "\\PC{0,12}") {
            let mut t = text;
            let at = t.char_indices().map(|(i, _)| i).nth(cut % (t.chars().count().max(1))).unwrap_or(0);
            t.insert_str(at, &junk);
            let _ = ClusterConfig::parse(&t);
        }

        #[test]
        fn execute_never_panics(lines in proptest::collection::vec(line_strategy(), 1..12), privileged in any::<bool>()) {
            let ops = Fake::new();
            let mut s = Session::new("admin", Role::Superuser, privileged);
            for l in &lines {
                let o = s.execute(l, &ops);
                prop_assert_eq!(o.error, o.text.lines().any(|x| x.starts_with('%')));
                let _ = s.help(l, &ops);
                let _ = s.complete(l, &ops);
                let _ = s.prompt(&ops);
                // Whatever was committed is valid config text.
                prop_assert!(ClusterConfig::parse(&ops.text()).is_ok());
            }
        }
    }
}

#[test]
fn device_change_recreates_a_section() {
    let mut c = ClusterConfig::parse(&base_text()).unwrap();
    c.apply(&format!(
        "vx9000 {MAC1}\n cluster name X\n interface vlan 2\n"
    ))
    .unwrap();
    let change = c.device_change(mac1()).unwrap();
    assert_eq!(
        change.to_text(),
        format!("vx9000 {MAC1}\n hostname vx9000-1\n interface vlan 1\n  ip address 127.0.0.11/8\n interface vlan 2\n ip default-gateway 127.0.0.1\n cluster name X\n")
    );
    let mut other = ClusterConfig::default();
    other.apply(&change.to_text()).unwrap();
    assert_eq!(other.device(mac1()), c.device(mac1()));
    assert!(c.device_change(MAC2.parse().unwrap()).is_none());
    assert_eq!(ClusterConfig::load("").unwrap(), ClusterConfig::default());
}

// ---------------------------------------------------------------- everyday IOS/WiNG habits

#[test]
fn output_modifiers_filter_show_output() {
    let ops = Fake::new();
    let mut s = admin();
    let full = s.execute("show running-config", &ops).text;
    let o = s.execute("show running-config | include ^ (user|hostname) ", &ops);
    assert!(!o.error, "{}", o.text);
    let want: String = full
        .lines()
        .filter(|l| l.starts_with(" user ") || l.starts_with(" hostname "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(o.text, want);
    assert_eq!(o.text.lines().count(), 3, "{}", o.text);
    // Abbreviated modifier; exclude; begin (from the first match on).
    let o = s.execute("sh run | e user", &ops);
    assert!(!o.text.contains("user") && o.text.contains("hostname vx9000-1"));
    let o = s.execute("show running-config | begin ^vx9000", &ops);
    assert!(
        o.text.starts_with(&format!("vx9000 {MAC1}\n")),
        "{}",
        o.text
    );
    assert!(o.text.ends_with("end\n"));
    let o = s.execute("show cluster status | in Protocol", &ops);
    assert_eq!(o.text, " Protocol version             : 1\n");
    // Bad input: a clear error, no output, nothing changed.
    let o = s.execute("show running-config | include (", &ops);
    assert!(
        o.error
            && o.text
                .starts_with("% Error: invalid regular expression '('"),
        "{}",
        o.text
    );
    let o = s.execute("show running-config | include", &ops);
    assert_eq!(
        (o.error, o.text.as_str()),
        (true, "% Incomplete command.\n")
    );
    let o = s.execute("show running-config | grep x", &ops);
    assert!(o.error && o.text.contains('^'), "{}", o.text);
    assert_eq!(
        o.text.find('^'),
        Some("vx9000-1#show running-config | ".len())
    );
    let o = s.execute("terminal length 0 | include x", &ops);
    assert!(o.error && o.text.contains(CARET), "{}", o.text);
    // `?` help and completion know them.
    assert_eq!(
        s.help("show clock | ", &ops),
        "  begin    Begin with the line that matches\n  exclude  Exclude lines that match\n  include  Include lines that match\n"
    );
    assert_eq!(
        s.help("show clock | include ", &ops),
        "  LINE  Regular expression\n"
    );
    assert_eq!(s.help("show clock | include a b ", &ops), "  <cr>\n");
    assert_eq!(
        s.complete("show clock | inc", &ops),
        Completion::Line("show clock | include ".into())
    );
    assert_eq!(
        ops.text(),
        ClusterConfig::parse(&base_text()).unwrap().to_text()
    );
}

const CARET: &str = "% Invalid input detected at '^' marker.";

#[test]
fn do_runs_exec_commands_in_config_modes() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(&mut s, &ops, &["configure terminal", "self"]);
    let prompt = s.prompt(&ops);
    let o = s.execute("do show cluster status", &ops);
    assert_eq!(o.text, render_cluster_status(&seed_status("active")));
    let o = s.execute("do sh run | include hostname", &ops);
    assert_eq!(o.text, " hostname vx9000-1\n");
    // The mode is unchanged, pending changes are kept and `do commit`/`do write` work.
    run_ok(&mut s, &ops, &["cluster master-priority 201"]);
    assert_eq!(s.prompt(&ops), prompt);
    let o = s.execute("do write terminal", &ops);
    assert!(o.text.contains("hostname vx9000-1"), "{}", o.text);
    run_ok(&mut s, &ops, &["do commit"]);
    assert!(ops.text().contains("cluster master-priority 201"));
    // Caret under the bad token, mode-changing commands refused, `do` alone incomplete.
    let o = s.execute("do show bogus", &ops);
    assert!(o.error);
    assert_eq!(o.text.find('^'), Some(prompt.len() + "do show ".len()));
    let o = s.execute("do configure terminal", &ops);
    assert!(
        o.error && o.text.contains("'do' runs exec commands"),
        "{}",
        o.text
    );
    assert_eq!(s.prompt(&ops), prompt);
    assert_eq!(s.execute("do", &ops).text, "% Incomplete command.\n");
    // In privileged mode `do` is not a command.
    let mut p = admin();
    assert!(p.execute("do show clock", &ops).error);
    // Help and completion after `do` use the exec commands.
    assert!(s.help("", &ops).contains("  do "), "{}", s.help("", &ops));
    assert!(s.help("do sh", &ops).contains("show"));
    assert!(s.help("do join-cluster ", &ops).contains("A.B.C.D"));
    assert_eq!(
        s.complete("do sho", &ops),
        Completion::Line("do show ".into())
    );
}

#[test]
fn write_terminal_copy_running_startup_and_show_history() {
    let ops = Fake::new();
    let mut s = admin();
    let run = s.execute("show running-config", &ops).text;
    assert_eq!(s.execute("write terminal", &ops).text, run);
    assert_eq!(
        s.execute("copy running-config startup-config", &ops).text,
        "[OK]\n"
    );
    assert_eq!(ops.startup.borrow().as_deref(), Some(run.as_str()));
    assert_eq!(
        s.help("copy running-config ", &ops),
        "  startup-config  Copy to startup configuration\n"
    );
    // A monitor may not copy.
    let mut m = Session::new("noc", Role::Monitor, true);
    assert!(m.execute("copy running-config startup-config", &ops).error);
    // History: this session's lines, in order, passwords masked in every form.
    run_ok(
        &mut s,
        &ops,
        &[
            "configure terminal",
            "user-management",
            "user bob password hunter2 role monitor",
            "user bob pass 0 hunter2 role monitor",
            &format!("user bob password 1 {H} role monitor"),
            "end",
        ],
    );
    let _ = s.execute(
        "join-cluster 127.0.0.99 user admin password hunter2 level 1 mode standby",
        &ops,
    );
    let _ = s.execute("user carl password hunter2 role bogus", &ops);
    let h = s.execute("show history", &ops).text;
    assert_eq!(
        h,
        "  show running-config\n  write terminal\n  copy running-config startup-config\n  configure terminal\n  user-management\n  user bob password ******** role monitor\n  user bob pass 0 ******** role monitor\n  user bob password 1 ******** role monitor\n  end\n  join-cluster 127.0.0.99 user admin password ******** level 1 mode standby\n  user carl password ******** role bogus\n  show history\n"
    );
    assert!(!h.contains("hunter2") && !h.contains("argon2"));
    // Bounded.
    for _ in 0..150 {
        let _ = s.execute("show clock", &ops);
    }
    assert_eq!(s.execute("show history", &ops).text.lines().count(), 100);
}

#[test]
fn monitor_users_see_no_password_hash() {
    let ops = Fake::new();
    *ops.startup.borrow_mut() = Some(base_text());
    let mut m = Session::new("noc", Role::Monitor, true);
    for cmd in [
        "show running-config",
        "write terminal",
        "show startup-config",
        "show context",
    ] {
        let o = m.execute(cmd, &ops);
        assert!(!o.error, "{cmd}: {}", o.text);
        assert!(
            !o.text.contains("argon2") && !o.text.contains(&H[40..]),
            "{cmd}: {}",
            o.text
        );
        assert!(
            o.text
                .contains(" user admin password 1 ******** role superuser\n"),
            "{cmd}: {}",
            o.text
        );
        assert!(o.text.contains(" hostname vx9000-1\n"));
    }
    // Superusers still see the hashes (they need them to copy a configuration).
    let mut a = admin();
    assert!(a.execute("show running-config", &ops).text.contains(H));
}

#[test]
fn user_names_that_cannot_log_in_are_refused() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(&mut s, &ops, &["configure terminal", "user-management"]);
    let before = ops.text();
    for line in [
        "user a:b password hunter2 role monitor",
        "user a:b password 0 hunter2 role monitor",
        &format!("user :x password 1 {H} role superuser"),
    ] {
        let o = s.execute(line, &ops);
        assert!(o.error, "{line}");
        assert!(o.text.contains("':' is not allowed"), "{}", o.text);
        assert!(!o.text.contains("hunter2"));
    }
    run_ok(&mut s, &ops, &["commit"]);
    assert_eq!(ops.text(), before);
}

#[test]
fn ssh_key_accepts_a_pub_line_with_its_comment() {
    let ops = Fake::new();
    let mut s = admin();
    let key = "AAAAC3NzaC1lZDI1NTE5AAAAIMtest";
    run_ok(
        &mut s,
        &ops,
        &[
            "configure terminal",
            "user-management",
            &format!("user admin ssh-key ssh-ed25519 {key} alice@laptop"),
            &format!("user noc ssh-key ssh-ed25519 {key} a comment with spaces"),
            &format!("user noc ssh-key ssh-rsa {key}"),
            "commit",
        ],
    );
    let cfg = ClusterConfig::parse(&ops.text()).unwrap();
    assert_eq!(cfg.ssh_keys("admin"), vec![format!("ssh-ed25519 {key}")]);
    assert_eq!(
        cfg.ssh_keys("noc"),
        vec![format!("ssh-ed25519 {key}"), format!("ssh-rsa {key}")]
    );
    assert!(s
        .help(&format!("user admin ssh-key ssh-ed25519 {key} "), &ops)
        .contains("LINE"));
    // Still refused: a bad key, with the comment or without.
    let before = ops.text();
    assert!(
        s.execute("user admin ssh-key ssh-ed25519 not*base64 me@host", &ops)
            .error
    );
    assert!(
        s.execute("user nobody ssh-key ssh-ed25519 AAAA me@host", &ops)
            .error
    );
    run_ok(&mut s, &ops, &["commit"]);
    assert_eq!(ops.text(), before);
}

#[test]
fn cluster_member_ip_refuses_addresses_that_are_never_a_peer() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(&mut s, &ops, &["configure terminal", "self"]);
    let before = ops.text();
    for (ip, why) in [
        ("0.0.0.0", "the unspecified address"),
        ("255.255.255.255", "the broadcast address"),
        ("224.0.0.5", "a multicast address"),
        ("239.1.2.3", "a multicast address"),
        ("127.0.0.11", "this controller's own address"),
        // interface vlan 1 is 127.0.0.11/8.
        (
            "127.255.255.255",
            "the broadcast address of interface vlan 1",
        ),
    ] {
        let o = s.execute(&format!("cluster member ip {ip} level 1"), &ops);
        assert!(o.error, "{ip} accepted");
        assert_eq!(
            o.text,
            format!("% Error: cluster member ip {ip} is {why}: give the address of another cluster member\n")
        );
    }
    assert!(s.pending_change().is_empty());
    // A real peer is fine; so is this controller's address in the peer's own section.
    run_ok(
        &mut s,
        &ops,
        &["cluster member ip 127.0.0.12 level 1", "exit"],
    );
    run_ok(
        &mut s,
        &ops,
        &[
            &format!("vx9000 {MAC2}"),
            "cluster member ip 127.0.0.11 level 1",
            "commit",
        ],
    );
    assert_ne!(ops.text(), before);
    assert!(ops
        .text()
        .contains(" cluster member ip 127.0.0.12 level 1\n"));
}

#[test]
fn golden_revisions_list_only_commits_missing_from_the_running_lineage() {
    let r = |number: u64, first: u8, change: &str| Revision {
        id: rid(number, first),
        parent: rid(number - 1, first),
        origin: MemberId(0x123AA117),
        request: number,
        user: "admin".into(),
        wall_ms: 0,
        change: change.into(),
    };
    // The running lineage this member knows: revisions 3..=218 (ids ending in 0x11).
    let lineage: Vec<RevisionId> = (3..=218).map(|n| rid(n, 0x11)).collect();
    let mut sc = superseded(219, 0x9f, "");
    sc.revisions = vec![
        // Older than the lineage known here: cannot tell.
        r(2, 0x22, "wlan old\n"),
        // In the running lineage: not lost, not listed.
        r(3, 0x11, "wlan a\n"),
        r(217, 0x11, "wlan b\n"),
        // A different revision 218, and one beyond the running head: lost.
        r(218, 0x9e, "wlan x\n ssid X\n"),
        r(219, 0x9f, "wlan y\n"),
    ];
    let v = RevisionsView {
        head: rid(218, 0x11),
        revisions: vec![],
        superseded: vec![sc],
        lineage,
    };
    assert_eq!(v.lost(&rid(3, 0x11)), Lost::No);
    assert_eq!(v.lost(&rid(218, 0x9e)), Lost::Yes);
    assert_eq!(v.lost(&rid(2, 0x22)), Lost::Unknown);
    let ts = format_wall_ms(0);
    let rule = HISTORY_RULE;
    let expected = format!(
        "\nConfiguration Revision Information\n Running revision             : 218/112b0000\n Superseded configurations    : 1\n{rule}\n  REVISION       HASH            TIME-STAMP           USER        ORIGIN   CHANGE\n{rule}\n{rule}\n\nSuperseded Configurations\n{rule}\n  REVISION       HASH        HOLDER         SUPERSEDED-AT   LOST-COMMITS\n{rule}\n       219   9f2b0000   12.3A.A1.17   {ts}           2+1?\n         unproven      2 by admin on 12.3A.A1.17: wlan old\n             lost    218 by admin on 12.3A.A1.17: wlan x; ssid X\n             lost    219 by admin on 12.3A.A1.17: wlan y\n{rule}\n ? unproven: older than the running lineage this member knows; it may or may not be in the running configuration\n Restore with: cluster restore-revision <REVISION> [<HASH>]\n\n"
    );
    assert_eq!(render_revisions(&v), expected);
    // Nothing unproven: a plain count and no footnote.
    let mut v2 = v.clone();
    v2.superseded[0].revisions.remove(0);
    let out = render_revisions(&v2);
    assert!(out.contains(&format!("{ts}              2\n")), "{out}");
    assert!(!out.contains("unproven"));
}

// ---------------------------------------------------------------- WLAN security, AP profiles

const PSK: &str = "Corp-Passphrase-7f3e";

fn wlan_and_profile_lines() -> Vec<&'static str> {
    vec![
        "configure terminal",
        "wlan corp",
        "ssid Corp-SSID",
        "encryption-type ccmp",
        "wpa-wpa2 psk 0 Corp-Passphrase-7f3e",
        "exit",
        "wlan guest",
        "ssid Guest",
        "exit",
        "profile ap7532 default-ap7532",
        "controller host 127.0.0.71 pool 1 level 1",
        "interface radio1",
        "wlan corp bss 1 primary",
        "wlan guest bss 2",
        "exit",
        "interface radio2",
        "wlan corp bss 1 primary",
        "end",
        "commit",
    ]
}

#[test]
fn wlan_security_and_profiles_print_in_wings_shape_and_round_trip() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(&mut s, &ops, &wlan_and_profile_lines());
    let text = ops.text();
    assert!(
        text.contains(&format!(
            "wlan corp\n ssid Corp-SSID\n encryption-type ccmp\n wpa-wpa2 psk 0 {PSK}\n!\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "profile ap7532 default-ap7532\n controller host 127.0.0.71 pool 1 level 1\n interface radio1\n  wlan corp bss 1 primary\n  wlan guest bss 2\n interface radio2\n  wlan corp bss 1 primary\n!\n"
        ),
        "{text}"
    );
    let back = ClusterConfig::parse(&text).unwrap();
    assert_eq!(back.to_text(), text);
    // What an AP7532 carries, resolved through its default profile.
    let wlans = back.ap_wlans();
    let ap7532 = &wlans["default-ap7532"];
    assert_eq!(
        ap7532
            .iter()
            .map(|w| (w.radio, w.bss, w.ssid.as_str(), w.psk.is_some()))
            .collect::<Vec<_>>(),
        vec![
            (1, 1, "Corp-SSID", true),
            (1, 2, "Guest", false),
            (2, 1, "Corp-SSID", true)
        ]
    );
    assert_eq!(ap7532[0].encryption, WlanEncryption::Ccmp);
    assert_eq!(
        back.ap_controllers("AP7532"),
        vec![("127.0.0.71".parse().unwrap(), 1, 1)]
    );
    assert!(back.ap_controllers("AP8533").is_empty());
    assert_eq!(
        back.ap_controller_lists(),
        [(
            "default-ap7532".to_string(),
            vec!["127.0.0.71".parse().unwrap()]
        )]
        .into_iter()
        .collect()
    );
}

#[test]
fn a_shut_down_or_missing_wlan_carries_nothing_and_a_profile_misnamed_as_a_default_is_no_ones() {
    let text = "version 1\n!\nwlan corp\n ssid C\n shutdown\n!\nwlan open\n ssid Open\n!\nprofile ap7532 default-ap7532\n interface radio1\n  wlan corp bss 1\n  wlan ghost bss 2\n!\nprofile ap8533 branch\n interface radio1\n  wlan open bss 1\n!\nprofile ap8533 default-ap6521\n!\nend\n";
    let c = ClusterConfig::parse(text).unwrap();
    let w = c.ap_wlans();
    // Every profile an AP may run, by name (a rule names `branch`); not one named as another
    // model's default.
    assert_eq!(
        w.keys().collect::<Vec<_>>(),
        vec!["branch", "default-ap7532"]
    );
    assert!(w["default-ap7532"].is_empty());
    assert_eq!(w["branch"][0].ssid, "Open");
}

#[test]
fn the_psk_is_masked_in_every_face_and_a_pasted_mask_keeps_the_key() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(&mut s, &ops, &wlan_and_profile_lines());
    for cmd in ["show running-config", "write terminal"] {
        let out = run_ok(&mut s, &ops, &[cmd]);
        assert!(!out.contains(PSK), "{cmd}: {out}");
        assert!(out.contains("wpa-wpa2 psk 0 ********"), "{cmd}: {out}");
    }
    assert_eq!(
        mask_passwords(&format!("wpa-wpa2 psk 0 {PSK}")),
        "wpa-wpa2 psk 0 ********"
    );
    assert_eq!(
        mask_passwords(&format!("wpa psk 0 {PSK}")),
        "wpa psk 0 ********"
    );
    // The mask pasted back keeps the key; on a WLAN without one it is refused.
    run_ok(
        &mut s,
        &ops,
        &[
            "configure terminal",
            "wlan corp",
            "wpa-wpa2 psk 0 ********",
            "end",
            "commit",
        ],
    );
    assert!(ops.text().contains(PSK));
    run_ok(&mut s, &ops, &["configure terminal", "wlan guest"]);
    let o = s.execute("wpa-wpa2 psk 0 ********", &ops);
    assert!(
        o.error && o.text.contains("the PSK is masked"),
        "{}",
        o.text
    );
    // The history masks the key too.
    let h = run_ok(&mut s, &ops, &["end", "show history"]);
    assert!(!h.contains(PSK), "{h}");
}

#[test]
fn bad_wlan_security_and_profile_input_is_refused_and_changes_nothing() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(&mut s, &ops, &wlan_and_profile_lines());
    let before = ops.text();
    run_ok(&mut s, &ops, &["configure terminal"]);
    for (mode, line, want) in [
        ("wlan corp", "wpa-wpa2 psk 0 short", "8-63"),
        ("wlan corp", "wpa-wpa2 psk 2 abcdefgh", "Invalid input"),
        ("wlan corp", "encryption-type wep", ""),
        ("profile ap7532 default-ap7532", "interface radio4", ""),
        (
            "profile ap7532 default-ap7532",
            "controller host 127.0.0.9 pool 3",
            "out of range",
        ),
        ("profile ap8533 default-ap7532", "", "not ap8533"),
        ("profile ap9999 x", "", ""),
    ] {
        let o = s.execute(mode, &ops);
        if line.is_empty() {
            assert!(o.error, "{mode}: {}", o.text);
            assert!(o.text.contains(want), "{mode}: {}", o.text);
        } else {
            assert!(!o.error, "{mode}: {}", o.text);
            let o = s.execute(line, &ops);
            assert!(o.error, "{line}: {}", o.text);
            assert!(o.text.contains(want), "{line}: {}", o.text);
            assert!(!o.text.contains("abcdefgh"), "{line}: {}", o.text);
            run_ok(&mut s, &ops, &["end", "configure terminal"]);
        }
    }
    // A second WLAN on a taken BSS.
    run_ok(
        &mut s,
        &ops,
        &["profile ap7532 default-ap7532", "interface radio1"],
    );
    let o = s.execute("wlan other bss 1", &ops);
    assert!(
        o.error && o.text.contains("already carries wlan corp"),
        "{}",
        o.text
    );
    run_ok(&mut s, &ops, &["end"]);
    assert_eq!(ops.text(), before);
}

#[test]
fn license_grace_period_in_days_or_seconds_with_errors_that_change_nothing() {
    use std::time::Duration;
    let mut c = ClusterConfig::default();
    assert_eq!(c.license_grace_period(), Duration::from_secs(100 * 86_400));
    c.apply_change("license grace-period 30\n").unwrap();
    assert_eq!(c.license_grace_period(), Duration::from_secs(30 * 86_400));
    assert!(c.to_text().contains("\nlicense grace-period 30\n!\n"));
    c.apply_change("license grace-period 90 seconds\n").unwrap();
    assert_eq!(c.license_grace_period(), Duration::from_secs(90));
    let text = c.to_text();
    assert!(text.contains("\nlicense grace-period 90 seconds\n"));
    // The text form is the configuration: it reads back the same.
    let mut again = ClusterConfig::default();
    again.apply_change(&text).unwrap();
    assert_eq!(again, c);
    for bad in [
        "license grace-period 101\n",
        "license grace-period 8640001 seconds\n",
        "license grace-period x\n",
    ] {
        let e = c.apply_change(bad).unwrap_err().to_string();
        assert!(
            e.contains("out of range") || e.contains("not a number"),
            "{bad}: {e}"
        );
        assert_eq!(c.to_text(), text, "{bad} changed the configuration");
    }
    // The default is not written; `no` returns to it.
    c.apply_change("license grace-period 100\n").unwrap();
    assert!(!c.to_text().contains("grace-period"));
    c.apply_change("license grace-period 0\nno license grace-period\n")
        .unwrap();
    assert!(!c.to_text().contains("grace-period"));
    assert_eq!(c.license_grace_period(), Duration::from_secs(100 * 86_400));
}

#[test]
fn profile_capwap_timers_render_parse_and_refuse_bad_values() {
    use crate::{ApTimerSettings, FastTimerSettings};
    let mut c = ClusterConfig::default();
    c.apply_change("profile ap7532 default-ap7532\n capwap echo-interval 10\n capwap discovery-interval 3\n capwap fast-timers echo 2000 retransmit 200 count 2\nprofile ap8533 default-ap8533\n no capwap fast-timers\nprofile ap7532 lab\n capwap echo-interval 60\n")
        .unwrap();
    let timers = c.ap_timers();
    assert_eq!(
        timers["default-ap7532"],
        ApTimerSettings {
            echo_secs: 10,
            discovery_secs: 3,
            fast: Some(FastTimerSettings {
                echo_ms: 2000,
                retransmit_ms: 200,
                count: 2
            }),
        }
    );
    assert_eq!(timers["default-ap8533"].fast, None);
    assert_eq!(timers["default-ap8533"].echo_secs, 30);
    assert_eq!(timers["lab"].echo_secs, 60, "a rule's profile has its own");
    assert_eq!(timers.len(), 3, "{timers:?}");
    let text = c.to_text();
    assert!(text.contains("profile ap7532 default-ap7532\n capwap echo-interval 10\n capwap discovery-interval 3\n capwap fast-timers echo 2000 retransmit 200 count 2\n"), "{text}");
    assert!(
        text.contains("profile ap8533 default-ap8533\n no capwap fast-timers\n"),
        "{text}"
    );
    let mut again = ClusterConfig::default();
    again.apply_change(&text).unwrap();
    assert_eq!(again, c);
    for (bad, why) in [
        ("capwap echo-interval 0", "out of range <1-255>"),
        ("capwap discovery-interval 181", "out of range <2-180>"),
        (
            "capwap fast-timers echo 1000 retransmit 600 count 3",
            "at most half the echo interval",
        ),
        (
            "capwap fast-timers echo 1000 retransmit 100 count 11",
            "out of range <1-10>",
        ),
    ] {
        let e = c
            .apply_change(&format!("profile ap7532 default-ap7532\n {bad}\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{bad}: {e}");
        assert_eq!(c.to_text(), text, "{bad} changed the configuration");
    }
    // Back to the defaults: nothing written.
    c.apply_change("profile ap7532 default-ap7532\n no capwap echo-interval\n no capwap discovery-interval\n capwap fast-timers\nprofile ap8533 default-ap8533\n capwap fast-timers\n")
        .unwrap();
    let text = c.to_text();
    assert!(
        !text.contains("echo-interval 10") && !text.contains("fast-timers"),
        "{text}"
    );
    assert!(
        text.contains("profile ap7532 lab\n capwap echo-interval 60\n"),
        "{text}"
    );
    assert_eq!(c.ap_timers()["default-ap7532"], ApTimerSettings::DEFAULT);
}

#[test]
fn an_ap_device_section_holds_its_hostname_and_only_what_an_operator_wrote() {
    let mut c = ClusterConfig::default();
    c.apply_change("ap7532 00-23-68-00-00-01\n hostname lobby-1\nap8533 00-23-68-00-00-02\n")
        .unwrap();
    let text = c.to_text();
    assert!(
        text.contains(
            "ap7532 00-23-68-00-00-01\n hostname lobby-1\n!\nap8533 00-23-68-00-00-02\n!\n"
        ),
        "{text}"
    );
    assert_eq!(
        c.ap_hostnames(),
        [("00-23-68-00-00-01".parse().unwrap(), "lobby-1".to_string())]
            .into_iter()
            .collect()
    );
    let mut again = ClusterConfig::default();
    again.apply_change(&text).unwrap();
    assert_eq!(again, c);
    for (bad, why) in [
        ("ap8533 00-23-68-00-00-01\n", "is an ap7532, not an ap8533"),
        ("ap7532 00-23-68-00-00\n", "MAC"),
        ("no ap7532 00-23-68-00-00-09\n", "does not exist"),
        ("ap7532 00-23-68-00-00-01\n hostname -bad-\n", "hostname"),
    ] {
        let e = c.apply_change(bad).unwrap_err().to_string();
        assert!(e.contains(why), "{bad}: {e}");
        assert_eq!(c.to_text(), text, "{bad} changed the configuration");
    }
    c.apply_change("no ap8533 00-23-68-00-00-02\nap7532 00-23-68-00-00-01\n no hostname\n")
        .unwrap();
    assert!(c.ap_hostnames().is_empty());
    assert!(!c.to_text().contains("ap8533"));
}

#[test]
fn the_cli_enters_an_ap_device_section() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(
        &mut s,
        &ops,
        &["conf t", "ap7532 00-23-68-00-00-01", "hostname lobby-1"],
    );
    let o = s.execute("show context", &ops);
    assert!(
        o.text
            .contains("ap7532 00-23-68-00-00-01\n hostname lobby-1\n"),
        "{}",
        o.text
    );
    assert!(s
        .pending_change()
        .contains("ap7532 00-23-68-00-00-01\n hostname lobby-1\n"));
}

#[test]
fn an_auto_provisioning_policy_parses_renders_and_refuses_bad_rules() {
    use roost_adoption::policy::{Action, Match};
    let mut c = ClusterConfig::default();
    c.apply_change("profile ap7532 lab\nprofile ap8533 branch\n")
        .unwrap();
    let text_in = "auto-provisioning-policy campus\n adopt ap7532 precedence 10 profile lab ip 10.1.0.0/16\n deny anyap precedence 20 mac 00-23-68-00-00-10 00-23-68-00-00-19\n redirect ap8533 precedence 30 controller 10.9.9.9 level 2 pool 1 any\n adopt anyap precedence 40 serial-number SIM00042\n default-adoption\n evaluate-always\n";
    c.apply_change(text_in).unwrap();
    let text = c.to_text();
    assert!(text.contains(text_in), "{text}");
    let mut again = ClusterConfig::default();
    again.apply_change(&text).unwrap();
    assert_eq!(again, c);
    // A device uses it; it cannot be removed while used, nor a missing one be used.
    c.apply_change(&format!(
        "vx9000 {MAC1}\n use auto-provisioning-policy campus\n"
    ))
    .unwrap();
    let (name, p) = c.auto_provisioning_policy_of(mac1()).unwrap();
    assert_eq!(name, "campus");
    assert_eq!(p.rules().len(), 4);
    assert_eq!(
        p.rule(30).unwrap().action,
        Action::Redirect {
            controller: "10.9.9.9".parse().unwrap(),
            level: Some(2),
            pool: Some(1)
        }
    );
    assert_eq!(
        p.rule(40).unwrap().matcher,
        Match::SerialNumber("SIM00042".into())
    );
    let text = c.to_text();
    for (bad, why) in [
        ("no auto-provisioning-policy campus\n", "in use by device"),
        (&format!("vx9000 {MAC1}\n use auto-provisioning-policy nope\n") as &str, "does not exist"),
        ("auto-provisioning-policy campus\n adopt ap9999 precedence 1 any\n", "is not an AP type"),
        ("auto-provisioning-policy campus\n adopt anyap precedence 0 any\n", "out of range <1-10000>"),
        ("auto-provisioning-policy campus\n deny anyap precedence 5 mac 00-23-68-00-00-19 00-23-68-00-00-10\n", "ends before it starts"),
        ("auto-provisioning-policy campus\n deny anyap precedence 5 ip 10.0.0.9 10.0.0.1\n", "ends before it starts"),
        ("auto-provisioning-policy campus\n deny anyap precedence 5\n", "a match is missing"),
        ("auto-provisioning-policy campus\n redirect anyap precedence 5 any\n", "'controller <IP>' expected"),
        ("auto-provisioning-policy campus\n no deny anyap precedence 99\n", "no rule at precedence 99"),
        ("auto-provisioning-policy a-name-that-is-longer-than-32-chars\n", "32"),
        // A rule's profile exists, is for the rule's model, and a rule for any AP names none.
        ("auto-provisioning-policy campus\n adopt ap7532 precedence 5 profile nope any\n", "profile nope does not exist"),
        ("auto-provisioning-policy campus\n adopt ap7532 precedence 5 profile branch any\n", "profile branch is a ap8533 profile, not ap7532"),
        ("auto-provisioning-policy campus\n adopt anyap precedence 5 profile lab any\n", "a profile is for one AP model"),
        ("no profile ap7532 lab\n", "adopt ap7532 precedence 10: profile lab does not exist"),
    ] {
        let e = c.apply_change(bad).unwrap_err().to_string();
        assert!(e.contains(why), "{bad}: {e}");
        assert_eq!(c.to_text(), text, "{bad} changed the configuration");
    }
    // A rule entered again at a precedence replaces it; `no` removes one.
    c.apply_change("auto-provisioning-policy campus\n deny anyap precedence 40 any\n no adopt ap7532 precedence 10\n no default-adoption\n")
        .unwrap();
    let (_, p) = c.auto_provisioning_policy_of(mac1()).unwrap();
    assert_eq!(
        p.rules().iter().map(|r| r.precedence).collect::<Vec<_>>(),
        [20, 30, 40]
    );
    assert_eq!(p.rule(40).unwrap().action, Action::Deny);
    assert!(!p.default_adoption && p.evaluate_always);
}

#[test]
fn the_cli_enters_a_policy_and_takes_a_rule() {
    let ops = Fake::new();
    let mut s = admin();
    run_ok(
        &mut s,
        &ops,
        &[
            "conf t",
            "auto-provisioning-policy campus",
            "deny anyap precedence 20 mac 00-23-68-00-00-10 00-23-68-00-00-19",
        ],
    );
    assert!(s.pending_change().contains(
        "auto-provisioning-policy campus\n deny anyap precedence 20 mac 00-23-68-00-00-10 00-23-68-00-00-19\n"
    ));
}

#[test]
fn adoption_status_names_the_policy_and_warns_when_members_differ() {
    let mut c = ClusterConfig::default();
    c.apply_change(&format!(
        "auto-provisioning-policy campus\n default-adoption\nvx9000 {MAC1}\n hostname vx9000-1\n use auto-provisioning-policy campus\nvx9000 52-54-00-3A-A1-17\n hostname vx9000-2\n"
    ))
    .unwrap();
    let s = c.policy_status(mac1());
    assert!(
        s.contains(" Auto-provisioning policy     : campus\n"),
        "{s}"
    );
    assert!(
        s.contains(" Warning                      : members use different auto-provisioning policies (vx9000-2: none, vx9000-1: campus)\n"),
        "{s}"
    );
    c.apply_change("vx9000 52-54-00-3A-A1-17\n use auto-provisioning-policy campus\n")
        .unwrap();
    assert!(!c.policy_status(mac1()).contains("Warning"));
}

#[test]
fn ap_firmware_and_enforce_version_parse_render_and_refuse_bad_values() {
    use roost_adoption::firmware::EnforceVersion;
    let mut c = ClusterConfig::initial(mac1(), Model::Vx9000, "vx9000-1", "admin123");
    assert_eq!(c.firmware_gate().level, EnforceVersion::Strict);
    assert!(c.firmware_gate().expected.is_empty());
    c.apply_change("ap-firmware AP7532 5.9.3.0-010D\nenforce-version adoption minor\n")
        .unwrap();
    let g = c.firmware_gate();
    assert_eq!(g.level, EnforceVersion::Minor);
    assert_eq!(
        g.expected.get("AP7532").map(String::as_str),
        Some("5.9.3.0-010D")
    );
    let text = c.to_text();
    assert!(
        text.contains("\nenforce-version adoption minor\n"),
        "{text}"
    );
    assert!(
        text.contains("\nap-firmware ap7532 5.9.3.0-010D\n"),
        "{text}"
    );
    assert_eq!(ClusterConfig::parse(&text).unwrap(), c);
    let before = c.clone();
    for bad in [
        "ap-firmware ap9999 1.0\n",
        "enforce-version adoption loose\n",
        "no ap-firmware ap8533\n",
    ] {
        assert!(c.apply_change(bad).is_err(), "{bad}");
        assert_eq!(c, before);
    }
    c.apply_change("no ap-firmware ap7532\nno enforce-version adoption\n")
        .unwrap();
    assert!(!c.to_text().contains("ap-firmware"));
    assert!(!c.to_text().contains("enforce-version"));
}

#[test]
fn cluster_ap_balance_defaults_render_and_refuse_bad_values() {
    use roost_adoption::balance::BalanceSettings;
    let mut c = ClusterConfig::initial(mac1(), Model::Vx9000, "vx9000-1", "admin123");
    assert_eq!(
        c.device(mac1()).unwrap().ap_balance,
        Some(BalanceSettings::default())
    );
    c.apply_change(&format!(
        "vx9000 {MAC1}\n cluster ap-balance threshold 20\n cluster ap-balance hold-down 30\n"
    ))
    .unwrap();
    let b = c.device(mac1()).unwrap().ap_balance.unwrap();
    assert_eq!(b.threshold_pct, 20);
    assert_eq!(b.hold_down, std::time::Duration::from_secs(30));
    let text = c.to_text();
    assert!(
        text.contains(" cluster ap-balance threshold 20\n cluster ap-balance hold-down 30\n"),
        "{text}"
    );
    assert_eq!(ClusterConfig::parse(&text).unwrap(), c);
    let before = c.clone();
    for bad in [
        "cluster ap-balance threshold 0",
        "cluster ap-balance threshold 51",
        "cluster ap-balance hold-down 0",
        "cluster ap-balance hold-down x",
    ] {
        assert!(
            c.apply_change(&format!("vx9000 {MAC1}\n {bad}\n")).is_err(),
            "{bad}"
        );
        assert_eq!(c, before);
    }
    c.apply_change(&format!("vx9000 {MAC1}\n no cluster ap-balance\n"))
        .unwrap();
    assert_eq!(c.device(mac1()).unwrap().ap_balance, None);
    assert!(c.to_text().contains(" no cluster ap-balance\n"));
    assert_eq!(ClusterConfig::parse(&c.to_text()).unwrap(), c);
    c.apply_change(&format!("vx9000 {MAC1}\n cluster ap-balance\n"))
        .unwrap();
    assert!(!c.to_text().contains("ap-balance"));
}

/// `adoption start-delay` in a profile: WiNG's range and order checked, written back as
/// entered, WiNG's 5 20 when entered alone, gone with `no`; only profiles that set one are in
/// the AC's map.
#[test]
fn a_profiles_adoption_start_delay_parses_renders_and_refuses_bad_values() {
    let mut c = ClusterConfig::default();
    c.apply_change("profile ap7532 default-ap7532\n adoption start-delay min 2 max 9\nprofile ap8533 default-ap8533\n adoption start-delay\nprofile ap7532 lab\n")
        .unwrap();
    assert_eq!(
        c.ap_start_delays(),
        [
            ("default-ap7532".to_string(), (2, 9)),
            ("default-ap8533".to_string(), (5, 20))
        ]
        .into_iter()
        .collect()
    );
    let text = c.to_text();
    assert!(
        text.contains("profile ap7532 default-ap7532\n adoption start-delay min 2 max 9\n"),
        "{text}"
    );
    let mut again = ClusterConfig::default();
    again.apply_change(&text).unwrap();
    assert_eq!(again, c);
    for (bad, why) in [
        ("adoption start-delay min 0 max 31", "out of range <0-30>"),
        ("adoption start-delay min 9 max 2", "min 9 is above max 2"),
        ("adoption start-delay min x max 2", "min"),
    ] {
        let e = c
            .apply_change(&format!("profile ap7532 default-ap7532\n {bad}\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{bad}: {e}");
        assert_eq!(c.to_text(), text, "{bad} changed the configuration");
    }
    c.apply_change("profile ap7532 default-ap7532\n no adoption start-delay\n")
        .unwrap();
    assert_eq!(c.ap_start_delays().len(), 1);
}
