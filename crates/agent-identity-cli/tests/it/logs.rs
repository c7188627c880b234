//! With `--json`, the logs on stderr are JSON objects too, one per line, as stdout is.

use serde_json::Value;

use crate::support::{Fixture, assert_no_secrets};

#[tokio::test(flavor = "multi_thread")]
async fn every_log_line_under_json_is_a_json_object() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    for args in [
        ["--json", "-v", "header"],
        ["--json", "-vv", "doctor"],
        ["-vvv", "--json", "header"],
    ] {
        let run = fixture.cli_with_emulator().args(args).run().await;
        run.assert_code(0);
        assert_no_secrets(&run, &minted);
        assert!(run.stderr.lines().count() > 0, "{args:?} logged nothing");
        for line in run.stderr.lines() {
            let event: Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("{args:?}: {line:?} is not JSON: {error}"));
            assert!(event.is_object(), "{line}");
            assert!(event["level"].is_string(), "{line}");
        }
    }
    // Without `--json`, the same logs are text for a person.
    let text = fixture
        .cli_with_emulator()
        .args(["-v", "header"])
        .run()
        .await;
    text.assert_code(0);
    assert!(
        text.stderr
            .lines()
            .any(|line| serde_json::from_str::<Value>(line).is_err()),
        "{text:#?}"
    );
}
