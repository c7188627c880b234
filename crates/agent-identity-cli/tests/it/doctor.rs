//! `doctor` against the emulator: every setting with its source, a verdict per check, one line
//! of what to do next, and the exit code of the worst verdict.

use serde_json::Value;

use crate::support::{Fixture, assert_no_secrets, refusing_port};

pub(crate) fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|check| check["check"] == name))
        .unwrap_or_else(|| panic!("no {name} check in {report}"))
}

pub(crate) fn setting<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["settings"]
        .as_array()
        .and_then(|settings| settings.iter().find(|setting| setting["setting"] == name))
        .unwrap_or_else(|| panic!("no {name} setting in {report}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_setup_passes_and_names_where_each_setting_came_from() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let run = fixture
        .cli_with_emulator()
        .args(["doctor", "--json"])
        .run()
        .await;
    run.assert_code(0);
    assert_no_secrets(&run, &minted);
    let report = run.json();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(setting(&report, "key set")["source"], "flag");
    assert_eq!(setting(&report, "authapi base url")["source"], "flag");
    assert_eq!(
        setting(&report, "home")["source"],
        "variable AGENT_IDENTITY_HOME"
    );
    assert_eq!(setting(&report, "issuer")["source"], "default");
    assert_eq!(setting(&report, "leeway")["source"], "default");
    for name in ["token", "key set", "authapi", "clock", "store"] {
        assert_eq!(check(&report, name)["status"], "ok", "{report}");
    }
    assert!(
        check(&report, "key set")["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("the token verifies")),
        "{report}"
    );
    assert_eq!(report["next"], "all good: nothing to do");
    assert_eq!(
        fixture.emulator.registrations(),
        1,
        "doctor registers nothing"
    );
    // The human form ends with what to do next.
    let human = fixture.cli_with_emulator().arg("doctor").run().await;
    human.assert_code(0);
    assert!(
        human
            .stdout
            .trim_end()
            .ends_with("next: all good: nothing to do"),
        "{}",
        human.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_whose_kid_the_key_set_lacks_blocks_and_is_named() {
    let fixture = Fixture::new().await;
    // A token from another issuer's key: its kid is not in this emulator's key set.
    let other = agent_identity_emulator::Emulator::start()
        .await
        .expect("another emulator");
    let foreign = other.mint().issue().expect("mint");
    let token_file = fixture.token_file(&foreign);
    let run = fixture
        .cli_with_emulator()
        .env("AGENT_IDENTITY_JWT_FILE", &token_file)
        .args(["doctor", "--json"])
        .run()
        .await;
    run.assert_code(1);
    assert_no_secrets(&run, &foreign);
    let report = run.json();
    let key_set = check(&report, "key set");
    assert_eq!(key_set["status"], "fail", "{report}");
    let detail = key_set["detail"].as_str().expect("detail");
    assert!(detail.contains(&other.current_kid()), "{detail}");
    assert!(detail.contains(&fixture.emulator.current_kid()), "{detail}");
    assert!(
        detail.contains(fixture.emulator.jwks_url().as_str()),
        "{detail}"
    );
    assert!(
        report["next"]
            .as_str()
            .is_some_and(|next| next.contains("key")),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_authapi_is_transient() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let run = fixture
        .cli()
        .args(["doctor", "--json", "--jwks-url"])
        .arg(fixture.emulator.jwks_url().as_str())
        .arg("--authapi-base-url")
        .arg(format!("http://{}", refusing_port()))
        .run()
        .await;
    run.assert_code(75);
    let report = run.json();
    assert_eq!(check(&report, "authapi")["status"], "transient", "{report}");
    assert_eq!(check(&report, "key set")["status"], "ok", "{report}");
}
