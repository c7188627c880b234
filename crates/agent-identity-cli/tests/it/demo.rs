//! `demo`: every step printed, exit 0.

use crate::support::Fixture;

/// The steps the demo reports, in order.
const STEPS: [&str; 9] = [
    "emulator",
    "mint",
    "home",
    "login",
    "status",
    "signed request",
    "authapi down",
    "recovery",
    "logout",
];

#[tokio::test(flavor = "multi_thread")]
async fn demo_exits_0_and_prints_every_step() {
    let fixture = Fixture::new().await;
    let run = fixture.cli().arg("demo").run().await;
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), STEPS.len() + 1, "{run:#?}");
    for (line, step) in lines.iter().zip(STEPS) {
        assert!(line.starts_with(&format!("[ok] {step}: ")), "{line}");
        assert!(line.ends_with(" ms)"), "{line}");
    }
    assert!(lines[STEPS.len()].starts_with("demo passed"), "{run:#?}");
    assert!(run.stderr.is_empty(), "{run:#?}");
    // The demo's home is temporary: nothing is left in the real one.
    assert!(!fixture.auth_file().exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_json_prints_one_object_per_step() {
    let fixture = Fixture::new().await;
    let run = fixture.cli().args(["demo", "--json"]).run().await;
    run.assert_code(0);
    let steps = run.json_lines();
    assert_eq!(steps.len(), STEPS.len(), "{run:#?}");
    for (json, step) in steps.iter().zip(STEPS) {
        assert_eq!(json["step"], step);
        assert_eq!(json["ok"], true, "{json}");
        assert!(json["ms"].is_number(), "{json}");
        assert!(json["detail"].is_string(), "{json}");
    }
}
