//! No output, at the most verbose logging, ever contains the token or the private key.

use std::time::{Duration, SystemTime};

use crate::support::{Fixture, assert_no_secrets, closed_port};

#[tokio::test(flavor = "multi_thread")]
async fn no_command_prints_the_token_or_the_private_key_even_at_trace_level() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let token_file = fixture.token_file(&minted);
    let expired = fixture
        .emulator
        .mint()
        .runtime_id(minted.runtime_id.as_str())
        .expires_at(SystemTime::now() - Duration::from_secs(3600))
        .issue()
        .expect("mint");
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let token = minted.token.expose_secret();

    let runs = vec![
        fixture
            .cli_with_emulator()
            .args(["-vvv", "verify", "--jwt-file"])
            .arg(&token_file)
            .run()
            .await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "--json", "verify", "--jwt-file", "-"])
            .stdin(token)
            .run()
            .await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "login", "--jwt-file"])
            .arg(&token_file)
            .run()
            .await,
        fixture.cli().args(["-vvv", "status"]).run().await,
        fixture.cli().args(["-vvv", "--json", "status"]).run().await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "header"])
            .run()
            .await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "--json", "header"])
            .run()
            .await,
        fixture
            .cli()
            .args([
                "-vvv",
                "--json",
                "--max-attempts",
                "2",
                "header",
                "--jwks-url",
            ])
            .arg(fixture.emulator.jwks_url())
            .arg("--authapi-base-url")
            .arg(&dead)
            .run()
            .await,
        fixture
            .cli()
            .args(["-vvv", "verify", "--jwt-file", "-", "--jwks-url"])
            .arg(format!("{dead}/jwks"))
            .stdin(token)
            .run()
            .await,
        // The token in the environment, with a key set that does not know it.
        fixture
            .cli()
            .args(["-vvv", "--json", "header", "--jwks-url"])
            .arg(format!("{dead}/jwks"))
            .env("AGENT_IDENTITY_JWT", token)
            .run()
            .await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "--json", "status"])
            .env("AGENT_IDENTITY_JWT", token)
            .run()
            .await,
        // The token given as a flag's value, and pasted where no argument belongs.
        fixture
            .cli_with_emulator()
            .args(["-vvv", "--json", "header", "--jwt", token])
            .run()
            .await,
        fixture.cli().args(["-vvv", "status", token]).run().await,
        fixture.cli().args(["--json", "verify", token]).run().await,
        fixture
            .cli()
            .args(["verify", "--jwt", token, "--leeway", "soon"])
            .run()
            .await,
        fixture
            .cli()
            .arg("--help")
            .env("AGENT_IDENTITY_JWT", token)
            .run()
            .await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "--json", "verify", "--jwt-file", "-"])
            .stdin(expired.token.expose_secret())
            .run()
            .await,
        fixture.cli().args(["-vvv", "logout"]).run().await,
    ];
    for run in &runs {
        assert_no_secrets(run, &minted);
        assert_no_secrets(run, &expired);
    }
    // The trace-level runs did log: the check above looked at real output.
    assert!(
        runs.iter().any(|run| run.stderr.lines().count() > 5),
        "expected verbose logs on stderr"
    );
    // A token pasted as an argument is reported, redacted.
    let pasted = &runs[12];
    pasted.assert_failure(2);
    assert!(pasted.stderr.contains("<redacted token>"), "{pasted:#?}");
}
