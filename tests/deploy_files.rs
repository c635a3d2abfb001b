//! The deploy files describe a layout that works: `fly.toml`'s settings, run by the real binary
//! (`hearth serve`, production mode), serve both services on the one port Fly forwards to, each
//! hostname's did:web document naming the https URL on 443 the proxy serves it at; the health
//! check and metrics point at the port that answers them; shutdown has time to finish.

mod binary;

use binary::*;
use hearth_testkit::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};

fn fly() -> toml::Table {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fly.toml"))
        .expect("fly.toml");
    text.parse().expect("fly.toml parses")
}

fn env_of(fly: &toml::Table) -> BTreeMap<String, String> {
    fly["env"]
        .as_table()
        .expect("[env]")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_owned()))
        .collect()
}

#[test]
fn fly_ports_checks_and_timeouts_agree() {
    let fly = fly();
    let env = env_of(&fly);
    let services = fly["services"].as_array().expect("[[services]]");
    assert_eq!(services.len(), 1, "one service: both hostnames on one port");
    let service = &services[0];
    assert_eq!(
        service["internal_port"].as_integer().map(|p| p.to_string()),
        Some(env["HEARTH_PORT"].clone())
    );
    assert_eq!(env["HEARTH_SINGLE_PORT"], "true");
    let public: Vec<i64> = service["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .filter_map(|p| p["port"].as_integer())
        .collect();
    assert!(public.contains(&443), "{public:?}");
    assert!(
        public.iter().all(|p| [80, 443].contains(p)),
        "did:web and https URLs name 443 only: {public:?}"
    );
    let check = &fly["checks"]["health"];
    assert_eq!(
        check["port"].as_integer().map(|p| p.to_string()),
        Some(env["HEARTH_METRICS_PORT"].clone())
    );
    assert_eq!(check["path"].as_str(), Some("/xrpc/_health"));
    assert_eq!(
        fly["metrics"]["port"].as_integer().map(|p| p.to_string()),
        Some(env["HEARTH_METRICS_PORT"].clone())
    );
    assert_eq!(fly["kill_signal"].as_str(), Some("SIGTERM"));
    let kill_timeout: u64 = fly["kill_timeout"]
        .as_str()
        .and_then(|t| t.strip_suffix('s'))
        .and_then(|t| t.parse().ok())
        .expect("kill_timeout in seconds");
    assert!(kill_timeout > 10, "shutdown takes up to 10 s");
    assert_eq!(fly["mounts"]["destination"].as_str(), Some("/data"));
    assert_eq!(env["HEARTH_DATA_DIR"], "/data");

    // Every setting is one the binary knows.
    let help = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["serve", "--help"])
        .output()
        .expect("hearth serve --help");
    let help = String::from_utf8_lossy(&help.stdout);
    for name in env.keys().filter(|k| k.starts_with("HEARTH_")) {
        assert!(
            help.contains(name.as_str()),
            "{name} unknown to hearth serve"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fly_settings_serve_each_hostname_its_document_on_443() {
    let cases = Cases::new("deploy_files");
    let fly = fly();
    serve_each_hostname_on_443(&cases, env_of(&fly)).await;
}

/// `hearth serve` takes one port by itself when the two hostnames differ: a deploy that leaves
/// HEARTH_SINGLE_PORT out gets the same layout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_one_port_by_default_when_the_hostnames_differ() {
    let cases = Cases::new("deploy_files");
    let mut env = env_of(&fly());
    assert!(env.remove("HEARTH_SINGLE_PORT").is_some());
    serve_each_hostname_on_443(&cases, env).await;
}

async fn serve_each_hostname_on_443(cases: &Cases, mut env: BTreeMap<String, String>) {
    let plc = TestPlc::spawn().expect("PLC directory");
    let root = tempfile::tempdir().expect("tempdir");
    let (port, metrics_port) = (free_port(), free_port());
    // What the test machine needs instead: its own ports and directory, a PLC directory here,
    // and no relay to notify.
    env.remove("HEARTH_CRAWLERS");
    env.insert("HEARTH_PORT".into(), port.to_string());
    env.insert("HEARTH_METRICS_PORT".into(), metrics_port.to_string());
    env.insert("HEARTH_BIND".into(), "127.0.0.1".into());
    env.insert("HEARTH_METRICS_BIND".into(), "127.0.0.1".into());
    env.insert(
        "HEARTH_DATA_DIR".into(),
        root.path().join("data").display().to_string(),
    );
    env.insert("HEARTH_PLC_URL".into(), plc.url().to_owned());
    env.insert("RUST_LOG".into(), "warn".into());
    let log = std::fs::File::create(root.path().join("fly.log")).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("serve")
        .env_clear()
        .envs(&env)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn");
    let _hearth = Hearth(child);
    let http = client();
    wait_healthy(&http, &format!("http://localhost:{metrics_port}")).await;

    let doc = |host: String| {
        let http = http.clone();
        async move {
            let r = http
                .get(format!("http://127.0.0.1:{port}/.well-known/did.json"))
                .header(reqwest::header::HOST, host)
                .send()
                .await
                .expect("request");
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.expect("json")
        }
    };
    for (var, fragment) in [
        ("HEARTH_HOSTNAME", "#atproto_pds"),
        ("HEARTH_APPVIEW_HOSTNAME", "#bsky_appview"),
    ] {
        let host = env[var].clone();
        cases.case(&format!(
            "{host} (behind the TLS front on 443) serves its own did:web"
        ));
        let d = doc(host.clone()).await;
        assert_eq!(d["id"], format!("did:web:{host}"));
        let endpoint = d["service"]
            .as_array()
            .expect("services")
            .iter()
            .find(|s| s["id"] == fragment)
            .and_then(|s| s["serviceEndpoint"].as_str())
            .unwrap_or_else(|| panic!("{fragment} in {d}"))
            .to_owned();
        assert_eq!(endpoint, format!("https://{host}"), "no port but 443");
    }
    cases.case("a hostname outside the deploy's is refused");
    let r = http
        .get(format!("http://127.0.0.1:{port}/.well-known/did.json"))
        .header(reqwest::header::HOST, "fly-app.fly.dev")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 421);
}
