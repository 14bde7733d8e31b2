//! End-to-end tests: real HTTPS on 127.0.0.1, self-signed certificate, reqwest clients.

mod common;

use common::{http, http_from, TestServer};
use roost_api::client::{run_cli_io, ApiClient, CliOptions};
use roost_api::types::*;
use roost_api::{ApiError, ServeOptions};
use roost_config::Role;
use serde_json::{json, Value};
use std::time::Duration;

fn get_json(srv: &TestServer, path: &str, user: &str, pw: &str) -> (u16, Value) {
    let r = http()
        .get(srv.url(path))
        .basic_auth(user, Some(pw))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap())
}

fn post_raw(srv: &TestServer, path: &str, body: &str) -> (u16, Value) {
    let r = http()
        .post(srv.url(path))
        .basic_auth("admin", Some("secret"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap())
}

#[test]
fn views_have_the_json_shape_of_the_view_structs() {
    let srv = TestServer::start();
    let (s, status) = get_json(&srv, "/api/v1/cluster/status", "admin", "secret");
    assert_eq!(s, 200);
    assert_eq!(
        status,
        serde_json::to_value(srv.fake.cluster_status()).unwrap()
    );
    assert_eq!(status["connected_members"], 2);
    assert_eq!(status["master"], "vx9000-E1EE16");

    let (s, members) = get_json(&srv, "/api/v1/cluster/members", "admin", "secret");
    assert_eq!(s, 200);
    assert_eq!(members.as_array().unwrap().len(), 2);
    assert_eq!(members[0]["last_seen_secs"], Value::Null);
    assert_eq!(members[1]["oper_state"], "standby");

    let (s, history) = get_json(&srv, "/api/v1/cluster/history", "admin", "secret");
    assert_eq!(s, 200);
    assert_eq!(history[0]["event"], "Member-Connected");

    let (s, aps) = get_json(&srv, "/api/v1/aps", "admin", "secret");
    assert_eq!(s, 200);
    assert_eq!(aps[0]["mac"], "00-23-68-00-00-01");
    assert_eq!(aps[0]["adopted_by"], "vx9000-E1EE16");

    // The lost member's licenses are still in the pool (grace period); its APs are not
    // counted as used (they moved to the survivors).
    let (s, lic) = get_json(&srv, "/api/v1/licenses", "admin", "secret");
    assert_eq!(s, 200);
    assert_eq!(lic["aap_licenses"], 256);
    assert_eq!(lic["aap_used"], 4);
    assert_eq!(lic["aap_remaining"], 252);
    assert_eq!(lic["members"][1]["connected"], false);
    assert_eq!(lic["members"][1]["grace_until"], "2027-03-11 10:00:00");
    assert_eq!(aps[0]["state"], "adopted");
    assert_eq!(aps[0]["license"], "AAP");
    assert_eq!(aps[0]["reason"], Value::Null);

    let (s, revs) = get_json(&srv, "/api/v1/cluster/revisions", "admin", "secret");
    assert_eq!(s, 200);
    assert_eq!(revs["head"]["number"], 2);
    assert_eq!(revs["revisions"].as_array().unwrap().len(), 2);
    assert_eq!(revs["superseded"][0]["holder"], 0x123AA117);

    let (s, running) = get_json(&srv, "/api/v1/config/running", "admin", "secret");
    assert_eq!(s, 200);
    // The default priority (128) is not printed, as in `show running-config`.
    let text = running["text"].as_str().unwrap();
    assert!(text.contains("\n hostname roost\n"), "{text}");
    assert!(!text.contains("cluster master-priority"), "{text}");

    let r = http()
        .get(srv.url("/api/v1/config/running"))
        .basic_auth("admin", Some("secret"))
        .header("accept", "text/plain")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(r.text().unwrap().contains("\n hostname roost\n"));

    // The typed client deserialises the same documents.
    let c = srv.client("admin", "secret");
    assert_eq!(c.status().unwrap().config_revision, 7);
    assert_eq!(c.members().unwrap()[1].hostname, "vx9000-3AA117");
    assert_eq!(c.history().unwrap().len(), 1);
    assert_eq!(
        c.revisions().unwrap().superseded[0].revisions[0].id.number,
        9
    );
    assert!(c.running_config().unwrap().contains("hostname roost"));
}

#[test]
fn wrong_or_missing_credentials_get_401_and_change_nothing() {
    let srv = TestServer::start();
    let body = json!({"commands": ["configure terminal", "self", "cluster master-priority 200", "commit"]});
    for auth in [Some(("admin", "wrong")), Some(("nobody", "secret")), None] {
        let mut req = http().post(srv.url("/api/v1/exec")).json(&body);
        if let Some((u, p)) = auth {
            req = req.basic_auth(u, Some(p));
        }
        let r = req.send().unwrap();
        assert_eq!(r.status(), 401);
        let www = r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        // Not `Basic`: a browser must neither prompt nor replay cached credentials.
        assert!(www.starts_with("Roost-Basic realm="), "{www}");
        let e: ErrorBody = r.json().unwrap();
        assert!(!e.error.is_empty());
    }
    // Garbage Authorization headers too.
    for h in ["Basic !!!", "Bearer abc", "Basic YWRtaW4="] {
        let r = http()
            .get(srv.url("/api/v1/cluster/status"))
            .header("authorization", h)
            .send()
            .unwrap();
        assert_eq!(r.status(), 401, "{h}");
    }
    assert_eq!(srv.fake.priority(), 128);
    assert!(srv.fake.lines().is_empty());
    assert!(srv.fake.state.lock().unwrap().opened.is_empty());

    let c = srv.client("admin", "nope");
    match c.status() {
        Err(ApiError::Status {
            status: 401,
            message,
        }) => assert!(message.contains("invalid")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn monitor_may_read_everything_and_gets_a_monitor_session() {
    let srv = TestServer::start();
    for path in [
        "/api/v1/cluster/status",
        "/api/v1/cluster/members",
        "/api/v1/cluster/history",
        "/api/v1/cluster/revisions",
        "/api/v1/aps",
        "/api/v1/config/running",
    ] {
        let (s, v) = get_json(&srv, path, "mon", "watch");
        assert_eq!(s, 200, "{path}");
        // Monitors read everything but the password hashes.
        assert!(!v.to_string().contains("argon2"), "{path}: {v}");
        let (_, v) = get_json(&srv, path, "admin", "secret");
        if path.contains("running") || path.contains("revisions") {
            assert!(v.to_string().contains(common::HASH), "{path}: {v}");
        }
    }
    let (_, v) = get_json(&srv, "/api/v1/config/running", "mon", "watch");
    assert!(
        v["text"]
            .as_str()
            .unwrap()
            .contains(" user admin password 1 ******** role superuser\n"),
        "{v}"
    );
    let text = http()
        .get(srv.url("/api/v1/config/running"))
        .basic_auth("mon", Some("watch"))
        .header("Accept", "text/plain")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        text.contains("password 1 ********") && !text.contains("argon2"),
        "{text}"
    );
    let c = srv.client("mon", "watch");
    let r = c.exec(&["show version", "configure terminal"]).unwrap();
    assert!(!r.outputs[0].error);
    assert_eq!(r.outputs[0].output, "version output");
    assert!(
        r.outputs[1].error,
        "the engine refuses configuration to monitor"
    );
    assert!(r.error);
    let opened = srv.fake.state.lock().unwrap().opened.clone();
    assert_eq!(opened, vec![("mon".to_string(), Role::Monitor, true)]);
}

#[test]
fn exec_runs_lines_in_order_and_reports_errors_per_line() {
    let srv = TestServer::start();
    let c = srv.client("admin", "secret");
    let cmds = [
        "configure terminal",
        "self",
        "bogus command",
        "cluster master-priority 200",
        "commit",
    ];
    let r = c.exec(&cmds).unwrap();
    let got: Vec<_> = r
        .outputs
        .iter()
        .map(|o| (o.command.as_str(), o.error))
        .collect();
    assert_eq!(
        got,
        vec![
            ("configure terminal", false),
            ("self", false),
            ("bogus command", true),
            ("cluster master-priority 200", false),
            ("commit", false)
        ]
    );
    assert!(r.error);
    // No terminal echoed the line: the output puts it above the caret.
    assert!(
        r.outputs[2]
            .output
            .starts_with("roost(config-device)#bogus command\n% Invalid input"),
        "{:?}",
        r.outputs[2].output
    );
    assert_eq!(srv.fake.priority(), 200);
    let lines: Vec<String> = cmds.iter().map(|c| format!("admin: {c}")).collect();
    assert_eq!(srv.fake.lines(), lines);
    assert_eq!(
        srv.fake.state.lock().unwrap().opened,
        vec![("admin".into(), Role::Superuser, true)]
    );

    // All good → error false; async debug lines come back.
    let r = c.exec(&["show clock", "debug on"]).unwrap();
    assert!(!r.error);
    assert_eq!(r.async_lines, vec!["debug line 1", "debug line 2"]);

    // stop_on_error stops at the first failure.
    let (s, v) = post_raw(
        &srv,
        "/api/v1/exec",
        r#"{"commands": ["show a", "nonsense", "show b"], "stop_on_error": true}"#,
    );
    assert_eq!(s, 200);
    assert_eq!(v["outputs"].as_array().unwrap().len(), 2);
    assert_eq!(v["error"], true);
    assert_eq!(v["outputs"][1]["error"], true);

    // A session-closing line ends the run.
    let r = c.exec(&["exit", "show never"]).unwrap();
    assert_eq!(r.outputs.len(), 1);
}

#[test]
fn exec_never_echoes_a_password_in_any_form() {
    let srv = TestServer::start();
    let forms = [
        "user bob password hunter2 role superuser",
        "user bob password 0 hunter2 role superuser",
        "user bob pass 0 hunter2 role superuser",
        "user bob password 1 $argon2id$hunter2 role superuser",
        "join-cluster 127.0.0.9 user admin password hunter2 level 1 mode standby",
        "join-cl 127.0.0.9 u admin pa hunter2 l 1 m s",
        "do join-cluster 127.0.0.9 user admin password hunter2 level 1 mode active",
    ];
    // The fake session answers each of them with an invalid-input caret, so the output
    // echoes the line too.
    let (s, v) = post_raw(
        &srv,
        "/api/v1/exec",
        &serde_json::json!({ "commands": forms }).to_string(),
    );
    assert_eq!(s, 200);
    let body = v.to_string();
    assert!(!body.contains("hunter2"), "{body}");
    let outputs = v["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), forms.len());
    assert_eq!(
        outputs[1]["command"],
        "user bob password 0 ******** role superuser"
    );
    assert_eq!(
        outputs[3]["command"],
        "user bob password 1 ******** role superuser"
    );
    assert_eq!(
        outputs[4]["command"],
        "join-cluster 127.0.0.9 user admin password ******** level 1 mode standby"
    );
    assert!(
        outputs[1]["output"]
            .as_str()
            .unwrap()
            .starts_with("roost#user bob password 0 ******* role superuser\n"),
        "{}",
        outputs[1]["output"]
    );
    // `roost cli -c` prints the same masked echo.
    let mut out = Vec::new();
    let code = run_cli_io(
        &cli_opts(&srv, &forms),
        "secret",
        false,
        &mut std::io::empty(),
        &mut out,
    )
    .unwrap();
    assert_eq!(code, 1);
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("password 0 *******"), "{out}");
    assert!(!out.contains("hunter2"), "{out}");
}

#[test]
fn sessions_keep_mode_state_across_requests() {
    let srv = TestServer::start();
    let c = srv.client("admin", "secret");
    let s = c.open_session(false).unwrap();
    assert_eq!(s.id.len(), 32);
    assert!(s.id.chars().all(|ch| ch.is_ascii_hexdigit()));
    assert_eq!(s.prompt, "roost>");
    let step = |line: &str| c.session_exec(&s.id, line).unwrap();
    assert_eq!(step("enable").prompt, "roost#");
    let r = step("configure terminal");
    assert_eq!(r.prompt, "roost(config)#");
    assert!(!r.error);
    assert_eq!(step("self").prompt, "roost(config-device)#");
    assert_eq!(
        c.help(&s.id, "cluster ").unwrap(),
        "help for 'cluster ' in config-device"
    );
    assert_eq!(
        c.complete(&s.id, "sh").unwrap(),
        CompleteResponse::Line {
            line: "show ".into()
        }
    );
    assert_eq!(
        c.complete(&s.id, "c").unwrap(),
        CompleteResponse::Candidates {
            candidates: vec!["clear".into(), "commit".into(), "configure".into()]
        }
    );
    assert!(!step("cluster master-priority 250").error);
    let r = step("nonsense");
    assert!(r.error && !r.close);
    assert_eq!(r.prompt, "roost(config-device)#");
    step("commit");
    assert_eq!(srv.fake.priority(), 250);
    let r = step("debug on");
    assert_eq!(r.async_lines, vec!["debug line 1", "debug line 2"]);
    assert!(step("show x").async_lines.is_empty());
    assert_eq!(step("exit").prompt, "roost(config)#");
    assert_eq!(step("exit").prompt, "roost#");
    let r = step("exit");
    assert!(r.close);
    assert_eq!(r.prompt, "");
    // Closed by the engine → gone.
    assert!(matches!(
        c.session_exec(&s.id, "show x"),
        Err(ApiError::Status { status: 404, .. })
    ));

    // Explicit close.
    let s2 = c.open_session(true).unwrap();
    assert_eq!(s2.prompt, "roost#");
    assert_ne!(s2.id, s.id);
    c.close(&s2.id).unwrap();
    assert!(matches!(
        c.session_exec(&s2.id, "show x"),
        Err(ApiError::Status { status: 404, .. })
    ));
    assert!(matches!(
        c.close(&s2.id),
        Err(ApiError::Status { status: 404, .. })
    ));
}

#[test]
fn a_session_of_another_user_is_404() {
    let srv = TestServer::start();
    let admin = srv.client("admin", "secret");
    let s = admin.open_session(true).unwrap();
    admin.session_exec(&s.id, "configure terminal").unwrap();
    for (u, p) in [("ops", "ops-pw"), ("mon", "watch")] {
        let other = srv.client(u, p);
        for r in [
            other.session_exec(&s.id, "show x").map(|_| ()),
            other.help(&s.id, "").map(|_| ()),
            other.complete(&s.id, "").map(|_| ()),
            other.close(&s.id),
        ] {
            match r {
                Err(ApiError::Status {
                    status: 404,
                    message,
                }) => assert!(message.contains("session")),
                other => panic!("{u}: {other:?}"),
            }
        }
    }
    // Still alive and in config mode for its owner; the others' lines never reached it.
    assert_eq!(
        admin.session_exec(&s.id, "self").unwrap().prompt,
        "roost(config-device)#"
    );
    assert!(srv.fake.lines().iter().all(|l| l.starts_with("admin: ")));
    // Unknown ids too.
    assert!(matches!(
        admin.session_exec("00000000000000000000000000000000", "x"),
        Err(ApiError::Status { status: 404, .. })
    ));
}

#[test]
fn sessions_are_limited_and_expire_when_idle() {
    let srv = TestServer::start_with(ServeOptions {
        session_idle_timeout: Duration::from_millis(400),
        max_sessions: 2,
        ..Default::default()
    });
    let c = srv.client("admin", "secret");
    let a = c.open_session(true).unwrap();
    let _b = c.open_session(true).unwrap();
    match c.open_session(true) {
        Err(ApiError::Status {
            status: 429,
            message,
        }) => assert!(message.contains("too many"), "{message}"),
        other => panic!("{other:?}"),
    }
    // Keep `a` busy-ish: used within the timeout it stays.
    std::thread::sleep(Duration::from_millis(250));
    c.session_exec(&a.id, "show x").unwrap();
    std::thread::sleep(Duration::from_millis(250));
    c.session_exec(&a.id, "show x").unwrap();
    // `_b` has now been idle ≥ 400 ms → swept, so there is room again.
    let _c2 = c.open_session(true).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(matches!(
        c.session_exec(&a.id, "show x"),
        Err(ApiError::Status { status: 404, .. })
    ));
    c.open_session(true).unwrap();
    c.open_session(true).unwrap();
}

#[test]
fn bad_input_gets_a_clear_400_and_the_server_keeps_running() {
    let srv = TestServer::start();
    let cases = [
        ("/api/v1/exec", "{", "invalid JSON body"),
        ("/api/v1/exec", "{}", "missing field `commands`"),
        ("/api/v1/exec", "", "missing field `commands`"),
        ("/api/v1/exec", r#"{"commands": "show x"}"#, "invalid type"),
        ("/api/v1/exec", r#"{"commands": [1]}"#, "invalid type"),
        (
            "/api/v1/exec",
            r#"{"commands": [], "extra": 1}"#,
            "unknown field `extra`",
        ),
        (
            "/api/v1/exec",
            r#"{"commands": ["show a\nshow b"]}"#,
            "line break",
        ),
        (
            "/api/v1/sessions",
            r#"{"privileged": "yes"}"#,
            "invalid type",
        ),
    ];
    for (path, body, want) in cases {
        let (s, v) = post_raw(&srv, path, body);
        assert_eq!(s, 400, "{body}");
        let msg = v["error"].as_str().unwrap();
        assert!(msg.contains(want), "{body}: {msg}");
    }
    let c = srv.client("admin", "secret");
    let s = c.open_session(true).unwrap();
    for (body, want) in [
        ("{\"line\": 3}", "invalid type"),
        ("[]", "invalid"),
        (r#"{"line": "a\nb"}"#, "line break"),
    ] {
        let (st, v) = post_raw(&srv, &format!("/api/v1/sessions/{}/exec", s.id), body);
        assert_eq!(st, 400, "{body}");
        assert!(v["error"].as_str().unwrap().contains(want), "{body}: {v}");
    }
    let (st, v) = post_raw(&srv, &format!("/api/v1/sessions/{}/help", s.id), "{}");
    assert_eq!(st, 400);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("missing field `partial`"));

    // Too large. The server answers 413 from the Content-Length and stops reading, so a
    // client still writing the body may see the connection close before it reads the
    // answer (broken pipe, seen once under load): a bounded number of tries, one must read it.
    let big = format!("{{\"commands\": [\"{}\"]}}", "x".repeat(2 * 1024 * 1024));
    let (st, v) = (0..10)
        .find_map(|_| {
            let r = http()
                .post(srv.url("/api/v1/exec"))
                .basic_auth("admin", Some("secret"))
                .header("content-type", "application/json")
                .body(big.clone())
                .send()
                .ok()?;
            Some((r.status().as_u16(), r.json::<Value>().ok()?))
        })
        .expect("a 413 read in ten tries");
    assert_eq!(st, 413);
    assert!(v["error"].as_str().unwrap().contains("larger than"));

    // Unknown resource and wrong method: JSON errors too.
    let (st, v) = get_json(&srv, "/api/v1/nope", "admin", "secret");
    assert_eq!(st, 404);
    assert!(v["error"].is_string());
    let r = http()
        .delete(srv.url("/api/v1/cluster/status"))
        .basic_auth("admin", Some("secret"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(r.json::<ErrorBody>().is_ok());

    // Nothing ran, nothing changed, still serving.
    assert!(srv.fake.lines().is_empty());
    assert_eq!(srv.fake.priority(), 128);
    assert_eq!(c.status().unwrap().ap_count, 3);
    assert_eq!(c.session_exec(&s.id, "show x").unwrap().output, "x output");
}

#[test]
fn openapi_document_lists_every_route_and_matches_the_views() {
    let srv = TestServer::start();
    // No credentials needed for the document.
    let r = http().get(srv.url("/api/v1/openapi.json")).send().unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        doc["components"]["securitySchemes"]["basic"]["scheme"],
        "basic"
    );
    let paths = doc["paths"].as_object().unwrap();
    let mut listed = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                listed.push((method.clone(), path.clone()));
            }
        }
    }
    listed.sort();
    let mut expected: Vec<_> = roost_api::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);
    for want in [
        "/api/v1/cluster/status",
        "/api/v1/cluster/members",
        "/api/v1/cluster/history",
        "/api/v1/cluster/revisions",
        "/api/v1/config/running",
        "/api/v1/exec",
        "/api/v1/sessions",
        "/api/v1/sessions/{id}/exec",
        "/api/v1/sessions/{id}/help",
        "/api/v1/sessions/{id}/complete",
        "/api/v1/sessions/{id}",
        "/api/v1/openapi.json",
    ] {
        assert!(paths.contains_key(want), "{want} missing");
    }

    // Every documented route is served (not the 404/405 fallback).
    let c = srv.client("admin", "secret");
    let sid = c.open_session(true).unwrap().id;
    for (method, path) in &expected {
        let url = srv.url(&path.replace("{id}", &sid));
        let req = match method.as_str() {
            "get" => http().get(url),
            "post" => http()
                .post(url)
                .body(r#"{"commands": [], "line": "", "partial": ""}"#),
            "delete" => http().delete(url),
            m => panic!("{m}"),
        };
        let r = req.basic_auth("admin", Some("secret")).send().unwrap();
        // POST bodies above have fields some endpoints deny → 400 is fine; 404/405 are not.
        assert!(
            ![404, 405].contains(&r.status().as_u16()),
            "{method} {path}: {}",
            r.status()
        );
    }

    // Schema properties of the view mirrors = the keys the real structs serialise.
    let schemas = &doc["components"]["schemas"];
    let fake = &*srv.fake;
    let samples = [
        (
            "ClusterStatus",
            serde_json::to_value(fake.cluster_status()).unwrap(),
        ),
        (
            "MemberRow",
            serde_json::to_value(&fake.cluster_members()[0]).unwrap(),
        ),
        (
            "HistoryRow",
            serde_json::to_value(&fake.cluster_history()[0]).unwrap(),
        ),
        ("ApRow", serde_json::to_value(&fake.aps()[0]).unwrap()),
        (
            "LicensesView",
            serde_json::to_value(roost_config::LicensesView::of(&fake.licenses())).unwrap(),
        ),
        (
            "MemberLicenses",
            serde_json::to_value(&fake.licenses()[1]).unwrap(),
        ),
        (
            "RevisionsView",
            serde_json::to_value(fake.revisions()).unwrap(),
        ),
    ];
    let revs = serde_json::to_value(fake.revisions()).unwrap();
    let more = [
        ("Revision", revs["revisions"][0].clone()),
        ("RevisionId", revs["head"].clone()),
        ("SupersededConfig", revs["superseded"][0].clone()),
    ];
    for (name, sample) in samples.iter().chain(more.iter()) {
        let mut props: Vec<_> = schemas[name]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let mut keys: Vec<_> = sample.as_object().unwrap().keys().cloned().collect();
        props.sort();
        keys.sort();
        assert_eq!(props, keys, "schema {name}");
    }
}

#[test]
fn tls_identity_is_persisted_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let names = vec!["127.0.0.1".to_string(), "ctrl.example".to_string()];
    let a = roost_api::load_or_create_identity(dir.path(), &names).unwrap();
    let key = dir.path().join("api-key.pem");
    let cert = dir.path().join("api-cert.pem");
    assert!(cert.exists());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(a.fingerprint_sha256.len(), 64);
    assert_eq!(
        a.fingerprint_sha256,
        roost_api::tls::fingerprint_sha256(&a.cert_der)
    );
    assert!(std::fs::read_to_string(&cert).unwrap() == a.cert_pem());

    let b = roost_api::load_or_create_identity(dir.path(), &names).unwrap();
    assert_eq!(a.fingerprint_sha256, b.fingerprint_sha256);
    assert_eq!(a.key_der, b.key_der);
    // Names are not re-checked: the same identity is reused.
    let c = roost_api::load_or_create_identity(dir.path(), &["10.0.0.1".to_string()]).unwrap();
    assert_eq!(a.fingerprint_sha256, c.fingerprint_sha256);
    let _ = b.server_config();

    // A different directory gets a different identity.
    let dir2 = tempfile::tempdir().unwrap();
    let d = roost_api::load_or_create_identity(dir2.path(), &names).unwrap();
    assert_ne!(a.fingerprint_sha256, d.fingerprint_sha256);

    // Half an identity is refused, and nothing is overwritten.
    std::fs::remove_file(&key).unwrap();
    let e = roost_api::load_or_create_identity(dir.path(), &names).unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
    assert!(!key.exists());
    // Garbage is refused.
    std::fs::write(&key, "not a key").unwrap();
    assert!(roost_api::load_or_create_identity(dir.path(), &names).is_err());
}

#[test]
fn the_client_sees_the_server_fingerprint_and_pinning_works() {
    let srv = TestServer::start();
    let c = srv.client("admin", "secret");
    assert_eq!(c.server_fingerprint(), None);
    c.status().unwrap();
    assert_eq!(
        c.server_fingerprint().as_deref(),
        Some(srv.identity.fingerprint_sha256.as_str())
    );

    let upper_colons: String = srv
        .identity
        .fingerprint_sha256
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|p| std::str::from_utf8(p).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    let pinned = ApiClient::pin_fingerprint(
        "127.0.0.1",
        srv.addr.port(),
        "admin",
        "secret",
        &upper_colons,
    )
    .unwrap();
    pinned.status().unwrap();
    let wrong = ApiClient::pin_fingerprint(
        "127.0.0.1",
        srv.addr.port(),
        "admin",
        "secret",
        &"0".repeat(64),
    )
    .unwrap();
    match wrong.status() {
        Err(ApiError::Http(msg)) => assert!(msg.contains("fingerprint"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

/// `roost cli` options for `srv`, with a known-controllers file private to `srv` (inside
/// `srv._dir`), never the user's own.
fn cli_opts(srv: &TestServer, commands: &[&str]) -> CliOptions {
    CliOptions {
        controller: "127.0.0.1".into(),
        port: srv.addr.port(),
        user: "admin".into(),
        password: None,
        fingerprint: None,
        known_controllers: Some(srv._dir.path().join("known_controllers")),
        commands: commands.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn run_cli_remembers_the_certificate_and_refuses_a_changed_one() {
    let srv = TestServer::start();
    let known = srv._dir.path().join("known_controllers");
    let run = |opts: &CliOptions| {
        let mut out = Vec::new();
        run_cli_io(opts, "secret", false, &mut std::io::empty(), &mut out)
            .map(|code| (code, String::from_utf8(out).unwrap()))
    };
    // First contact: the certificate is added to the file, once.
    let opts = cli_opts(&srv, &["show x"]);
    assert_eq!(run(&opts).unwrap().0, 0);
    let line = format!(
        "127.0.0.1:{} sha256:{}\n",
        srv.addr.port(),
        srv.identity.fingerprint_sha256
    );
    assert_eq!(std::fs::read_to_string(&known).unwrap(), line);
    // Later contacts are pinned to it and add nothing.
    assert_eq!(run(&opts).unwrap().0, 0);
    assert_eq!(std::fs::read_to_string(&known).unwrap(), line);

    // Another certificate for the same controller (as a man-in-the-middle would present):
    // refused before any command runs, naming the file and the line to remove.
    let other = "ab".repeat(32);
    std::fs::write(
        &known,
        format!("# mine\n127.0.0.1:{} sha256:{other}\n", srv.addr.port()),
    )
    .unwrap();
    let before = srv.fake.lines().len();
    let e = run(&cli_opts(&srv, &["show never"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("has CHANGED"), "{e}");
    assert!(e.contains(&srv.identity.fingerprint_sha256), "{e}");
    assert!(
        e.contains(&format!("remove line 2 of {}", known.display())),
        "{e}"
    );
    assert_eq!(srv.fake.lines().len(), before, "nothing ran");
    assert!(!srv.fake.lines().iter().any(|l| l.contains("never")));
    // The file is left as it was.
    assert!(std::fs::read_to_string(&known).unwrap().contains(&other));

    // --fingerprint pins explicitly and ignores the file.
    let mut pinned = cli_opts(&srv, &["show y"]);
    pinned.fingerprint = Some(srv.identity.fingerprint_sha256.clone());
    assert_eq!(run(&pinned).unwrap().0, 0);
    pinned.fingerprint = Some("00".repeat(32));
    assert!(run(&pinned)
        .unwrap_err()
        .to_string()
        .contains("fingerprint"));

    // A malformed file is an error, not silently trusted or rewritten.
    std::fs::write(&known, "garbage\n").unwrap();
    let e = run(&cli_opts(&srv, &["show z"])).unwrap_err().to_string();
    assert!(e.contains("line 1"), "{e}");
    assert_eq!(std::fs::read_to_string(&known).unwrap(), "garbage\n");
}

#[test]
fn run_cli_with_commands_returns_the_right_exit_code() {
    let srv = TestServer::start();
    let mut out = Vec::new();
    let code = run_cli_io(
        &cli_opts(
            &srv,
            &[
                "configure terminal",
                "self",
                "cluster master-priority 190",
                "commit",
                "show x",
            ],
        ),
        "secret",
        false,
        &mut std::io::empty(),
        &mut out,
    )
    .unwrap();
    assert_eq!(code, 0);
    assert_eq!(srv.fake.priority(), 190);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("Enter configuration commands") && text.ends_with("x output\n"),
        "{text}"
    );

    let mut out = Vec::new();
    let code = run_cli_io(
        &cli_opts(&srv, &["show x", "oops"]),
        "secret",
        false,
        &mut std::io::empty(),
        &mut out,
    )
    .unwrap();
    assert_eq!(code, 1);
    assert!(String::from_utf8(out).unwrap().contains("% Invalid input"));

    // Bad password: an error, not an exit status.
    let e = run_cli_io(
        &cli_opts(&srv, &["show x"]),
        "bad",
        false,
        &mut std::io::empty(),
        &mut Vec::new(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("invalid user name or password"),
        "{e}"
    );

    // The public entry point, password from --password, called from inside a runtime thread.
    let mut opts = cli_opts(&srv, &["show y"]);
    opts.password = Some("secret".into());
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(
        rt.block_on(async { roost_api::client::run_cli(opts) })
            .unwrap(),
        0
    );
}

#[test]
fn run_cli_interactive_keeps_modes_and_asks_for_help() {
    let srv = TestServer::start();
    let input = "enable\nconfigure terminal\nself\ncluster ?\ncluster master-priority 33\ncommit\nexit\nexit\nexit\nshow never\n";
    let mut out = Vec::new();
    let code = run_cli_io(
        &cli_opts(&srv, &[]),
        "secret",
        false,
        &mut std::io::Cursor::new(input),
        &mut out,
    )
    .unwrap();
    assert_eq!(code, 0);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("roost(config-device)#help for 'cluster ' in config-device\n"),
        "{text}"
    );
    assert!(
        text.starts_with("roost>roost#Enter configuration commands, one per line.\nroost(config)#"),
        "{text}"
    );
    assert_eq!(srv.fake.priority(), 33);
    assert!(!srv.fake.lines().iter().any(|l| l.contains("never")));
    assert_eq!(
        srv.fake.state.lock().unwrap().opened[0],
        ("admin".into(), Role::Superuser, false)
    );

    // EOF ends the loop and closes the session.
    let mut out = Vec::new();
    let code = run_cli_io(
        &cli_opts(&srv, &[]),
        "secret",
        false,
        &mut std::io::Cursor::new("show z\n"),
        &mut out,
    )
    .unwrap();
    assert_eq!(code, 0);
    assert!(String::from_utf8(out).unwrap().contains("z output"));
}

#[test]
fn curl_talks_to_the_api_if_installed() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("curl not installed; skipping");
        return;
    }
    let srv = TestServer::start();
    let out = std::process::Command::new("curl")
        .args(["-sS", "-k", "--fail-with-body", "-u", "admin:secret"])
        .arg(srv.url("/api/v1/cluster/status"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["oper_state"], "active");

    let out = std::process::Command::new("curl")
        .args(["-sS", "-k", "-u", "admin:secret", "-H", "content-type: application/json", "-d"])
        .arg(r#"{"commands": ["configure terminal", "self", "cluster master-priority 77", "commit"]}"#)
        .arg(srv.url("/api/v1/exec"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"], false, "{v}");
    assert_eq!(srv.fake.priority(), 77);

    // HTTP/2 works too (ALPN h2).
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-k",
            "--http2",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{http_code}",
            "-u",
            "mon:watch",
        ])
        .arg(srv.url("/api/v1/cluster/members"))
        .output()
        .unwrap();
    let w = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(w.ends_with(" 200"), "{w}");
}

#[test]
fn terminal_editor_loop_completes_helps_and_runs_lines() {
    let srv = TestServer::start();
    let c = srv.client("admin", "secret");
    let session = c.open_session(false).unwrap();
    let keys: &[u8] = b"enable\rconfigure terminal\rsh\tx\rcluster ?\x03c\t\x04\x15\x04";
    let mut out = Vec::new();
    let code =
        roost_api::client::editor_loop(&c, session, &mut std::io::Cursor::new(keys), &mut out)
            .unwrap();
    assert_eq!(code, 0);
    let text = String::from_utf8_lossy(&out).to_string();
    assert!(text.contains("x output\n"), "{text}");
    assert!(
        text.contains("?\nhelp for 'cluster ' in config\nroost(config)#cluster "),
        "{text}"
    );
    assert!(text.contains("^C\nroost(config)#"), "{text}");
    assert!(
        text.contains("\nclear  commit  configure\nroost(config)#c"),
        "{text}"
    );
    let lines = srv.fake.lines();
    assert_eq!(
        lines,
        vec![
            "admin: enable",
            "admin: configure terminal",
            "admin: show x"
        ]
    );
}

#[test]
fn bodies_must_be_json_so_a_cross_site_form_cannot_run_commands() {
    let srv = TestServer::start();
    let body =
        r#"{"commands": ["configure terminal", "self", "cluster master-priority 200", "commit"]}"#;
    // What an HTML form can send (text/plain, urlencoded, multipart), and no type at all.
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        for path in ["/api/v1/exec", "/api/v1/sessions"] {
            let mut req = http()
                .post(srv.url(path))
                .basic_auth("admin", Some("secret"))
                .body(body);
            if let Some(ct) = ct {
                req = req.header("content-type", ct);
            }
            let r = req.send().unwrap();
            assert_eq!(r.status(), 415, "{ct:?} {path}");
            let e: ErrorBody = r.json().unwrap();
            assert_eq!(e.error, "Content-Type must be application/json");
        }
    }
    assert_eq!(srv.fake.priority(), 128);
    assert!(srv.fake.lines().is_empty());
    assert!(srv.fake.state.lock().unwrap().opened.is_empty());
    // application/json, with a charset parameter too, works.
    let r = http()
        .post(srv.url("/api/v1/exec"))
        .basic_auth("admin", Some("secret"))
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(srv.fake.priority(), 200);
}

#[test]
fn refused_logins_are_429_or_503_with_retry_after_and_the_source_is_passed_on() {
    let srv = TestServer::start();
    let r = http()
        .get(srv.url("/api/v1/cluster/status"))
        .basic_auth("backoff", Some("x"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let e: ErrorBody = r.json().unwrap();
    assert_eq!(
        e.error,
        "too many failed logins from 127.0.0.1; try again in 7 s"
    );
    let r = http_from("127.0.0.2")
        .get(srv.url("/api/v1/cluster/status"))
        .basic_auth("busy", Some("x"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let e: ErrorBody = r.json().unwrap();
    assert_eq!(
        e.error,
        "too many logins in progress; try again in a moment"
    );
    let sources = srv.fake.state.lock().unwrap().sources.clone();
    assert_eq!(sources.len(), 2);
    assert!(sources.iter().all(|s| s.face == roost_config::Face::Api));
    assert_eq!(sources[0].addr.to_string(), "127.0.0.1");
    assert_eq!(sources[1].addr.to_string(), "127.0.0.2");
}

#[test]
fn sessions_are_capped_per_user_and_per_source_address() {
    let srv = TestServer::start_with(ServeOptions {
        max_sessions_per_user: 2,
        max_sessions_per_source: 3,
        ..Default::default()
    });
    let open = |client: &reqwest::blocking::Client, user: &str, pw: &str| {
        let r = client
            .post(srv.url("/api/v1/sessions"))
            .basic_auth(user, Some(pw))
            .json(&json!({}))
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap())
    };
    let local = http();
    // A monitor user takes two sessions, not all of them.
    assert_eq!(open(&local, "mon", "watch").0, 200);
    assert_eq!(open(&local, "mon", "watch").0, 200);
    let (s, e) = open(&local, "mon", "watch");
    assert_eq!(s, 429);
    assert_eq!(
        e["error"],
        "too many open sessions for user mon (at most 2); close one or wait"
    );
    // Another user from the same address: up to the per-source cap.
    assert_eq!(open(&local, "admin", "secret").0, 200);
    let (s, e) = open(&local, "ops", "ops-pw");
    assert_eq!(s, 429);
    assert_eq!(
        e["error"],
        "too many open sessions from 127.0.0.1 (at most 3); close one or wait"
    );
    // From another address the same user still gets one.
    assert_eq!(open(&http_from("127.0.0.2"), "ops", "ops-pw").0, 200);
    assert_eq!(srv.fake.state.lock().unwrap().opened.len(), 4);
}

#[test]
fn metrics_are_prometheus_text_for_any_role_and_401_without_credentials() {
    let srv = TestServer::start();
    let r = http().get(srv.url("/metrics")).send().unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Roost-Basic"));
    let r = http()
        .get(srv.url("/metrics"))
        .basic_auth("mon", Some("wrong"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);

    // A monitor reads them; curl-like clients get the 0.0.4 text format.
    let r = http()
        .get(srv.url("/metrics"))
        .basic_auth("mon", Some("watch"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = r.text().unwrap();
    assert!(
        text.contains("roost_build_info{version=\"9.9.9\",protocol_version=\"1\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("\nroost_config_revision 7\n"), "{text}");
    assert!(
        text.contains("\nroost_login_failures_total{face=\"api\"} 3\n"),
        "{text}"
    );
    assert!(!text.contains("# EOF"), "{text}");

    // Prometheus asks for OpenMetrics first, and gets it.
    let r = http()
        .get(srv.url("/metrics"))
        .basic_auth("admin", Some("secret"))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = r.text().unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE roost_build info\n"), "{text}");
}
