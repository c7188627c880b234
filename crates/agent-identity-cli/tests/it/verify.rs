//! `verify`: claims printed with the key redacted, and every way a token is refused.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::support::{Fixture, assert_no_secrets, refusing_port};

#[tokio::test(flavor = "multi_thread")]
async fn verify_prints_the_claims_with_the_private_key_redacted() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let run = fixture
        .cli_with_emulator()
        .args(["verify", "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    run.assert_code(0);
    assert!(run.stdout.starts_with("ok: the token verifies"), "{run:#?}");
    assert!(run.stdout.contains(minted.runtime_id.as_str()), "{run:#?}");
    assert!(run.stdout.contains("<redacted>"), "{run:#?}");
    assert!(run.stderr.is_empty(), "{run:#?}");
    assert_no_secrets(&run, &minted);
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_json_reports_ok_and_the_claims() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let run = fixture
        .cli_with_emulator()
        .args(["verify", "--json", "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    run.assert_code(0);
    let json = run.json();
    assert_eq!(json["ok"], true);
    let claims = &json["claims"];
    assert_eq!(claims["agent_runtime_id"], minted.runtime_id.as_str());
    assert_eq!(claims["agent_private_key"], "<redacted>");
    assert_eq!(claims["iss"], fixture.emulator.issuer());
    assert_eq!(claims["aud"], fixture.emulator.audience());
    assert!(claims["exp"].is_u64(), "{json}");
    assert_no_secrets(&run, &minted);
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_reads_the_token_from_stdin() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let run = fixture
        .cli_with_emulator()
        .args(["verify", "--json", "--jwt-file", "-"])
        .stdin(format!("{}\n", minted.token.expose_secret()))
        .run()
        .await;
    run.assert_code(0);
    assert_eq!(
        run.json()["claims"]["agent_runtime_id"],
        minted.runtime_id.as_str()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_takes_the_token_from_the_environment_without_a_file() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let run = fixture
        .cli_with_emulator()
        .args(["verify", "--json"])
        .env("AGENT_IDENTITY_JWT", minted.token.expose_secret())
        .run()
        .await;
    run.assert_code(0);
    assert_eq!(run.json()["ok"], true);
    assert_no_secrets(&run, &minted);
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_with_a_missing_file_exits_1() {
    let fixture = Fixture::new().await;
    let missing = fixture.scratch.path().join("missing.jwt");
    let run = fixture
        .cli_with_emulator()
        .args(["verify", "--json", "--jwt-file"])
        .arg(&missing)
        .run()
        .await;
    assert_eq!(run.assert_failure(1), "unreadable_file");
    assert!(run.stderr.contains("missing.jwt"), "{run:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_rejects_a_garbage_token() {
    let fixture = Fixture::new().await;
    for garbage in ["not a token", "a.b.c", "", "eyJhbGciOiJFZERTQSJ9.e30.AAAA"] {
        let run = fixture
            .cli_with_emulator()
            .args(["verify", "--json", "--jwt-file", "-"])
            .stdin(garbage)
            .run()
            .await;
        let kind = run.assert_failure(1);
        assert!(
            [
                "malformed",
                "missing_kid",
                "untrusted_kid",
                "algorithm_not_allowed"
            ]
            .contains(&kind.as_str()),
            "{garbage:?} gave {kind}: {run:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_rejects_an_expired_token() {
    let fixture = Fixture::new().await;
    let minted = fixture
        .emulator
        .mint()
        .expires_at(SystemTime::now() - Duration::from_secs(3600))
        .issue()
        .expect("mint");
    let run = fixture
        .cli_with_emulator()
        .args(["verify", "--json", "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    assert_eq!(run.assert_failure(1), "expired");
    assert_no_secrets(&run, &minted);
}

#[tokio::test(flavor = "multi_thread")]
async fn leeway_accepts_a_token_that_just_expired() {
    let fixture = Fixture::new().await;
    let minted = fixture
        .emulator
        .mint()
        .expires_at(SystemTime::now() - Duration::from_secs(30))
        .issue()
        .expect("mint");
    let token_file = fixture.token_file(&minted);
    let run = fixture
        .cli_with_emulator()
        .args(["verify", "--json", "--jwt-file"])
        .arg(&token_file)
        .run()
        .await;
    run.assert_code(0);
    let run = fixture
        .cli_with_emulator()
        .args(["verify", "--json", "--leeway", "0", "--jwt-file"])
        .arg(&token_file)
        .run()
        .await;
    assert_eq!(run.assert_failure(1), "expired");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_rejects_a_kid_missing_from_the_jwks_file() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let mut jwks: Value = reqwest::get(fixture.emulator.jwks_url())
        .await
        .expect("fetch the jwks")
        .json()
        .await
        .expect("jwks json");
    let keys = jwks["keys"].as_array_mut().expect("keys");
    assert!(!keys.is_empty());
    let good = fixture.write(
        "good.jwks.json",
        &serde_json::json!({ "keys": keys.clone() }).to_string(),
    );
    for key in keys.iter_mut() {
        key["kid"] = Value::from("some-other-key");
    }
    let without_kid = fixture.write("other.jwks.json", &jwks.to_string());
    let token_file = fixture.token_file(&minted);

    let run = fixture
        .cli()
        .args(["verify", "--json", "--jwks-file"])
        .arg(&good)
        .arg("--jwt-file")
        .arg(&token_file)
        .run()
        .await;
    run.assert_code(0);

    let run = fixture
        .cli()
        .args(["verify", "--json", "--jwks-file"])
        .arg(&without_kid)
        .arg("--jwt-file")
        .arg(&token_file)
        .run()
        .await;
    assert_eq!(run.assert_failure(1), "untrusted_kid");
    assert_no_secrets(&run, &minted);
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_rejects_the_wrong_audience_and_issuer() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let token_file = fixture.token_file(&minted);
    for (flag, kind) in [
        ("--audience", "wrong_audience"),
        ("--issuer", "wrong_issuer"),
    ] {
        let run = fixture
            .cli_with_emulator()
            .args(["verify", "--json", flag, "someone-else", "--jwt-file"])
            .arg(&token_file)
            .run()
            .await;
        assert_eq!(run.assert_failure(1), kind);
    }
    let run = fixture
        .cli_with_emulator()
        .args(["verify", "--json", "--jwt-file"])
        .arg(&token_file)
        .env("AGENT_IDENTITY_AUDIENCE", "someone-else")
        .run()
        .await;
    assert_eq!(run.assert_failure(1), "wrong_audience");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_with_an_unreachable_jwks_exits_75() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let run = fixture
        .cli()
        .args(["verify", "--json", "--jwks-url"])
        .arg(format!("http://127.0.0.1:{}/jwks", refusing_port().port()))
        .arg("--jwt-file")
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    assert_eq!(run.assert_failure(75), "key_source_unavailable");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jwks_endpoint_answering_503_exits_75() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.emulator.fail_next_jwks(10, 503);
    let run = fixture
        .cli_with_emulator()
        .args(["verify", "--json", "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    assert_eq!(run.assert_failure(75), "key_source_unavailable");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jwks_file_that_is_a_fifo_a_device_or_too_large_is_refused_at_once() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let fifo = fixture.scratch.path().join("keys.fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo failed");
    let large = fixture.write("large.json", &" ".repeat((1 << 20) + 1));
    for (file, why) in [
        (fifo.as_path(), "not a regular file"),
        (std::path::Path::new("/dev/zero"), "not a regular file"),
        (large.as_path(), "over the 1048576-byte limit"),
    ] {
        // A FIFO without a writer would block the open, and /dev/zero never ends: the run's
        // timeout turns either regression into a failure.
        let run = fixture
            .cli()
            .args(["verify", "--json", "--jwt-file", "-", "--jwks-file"])
            .arg(file)
            .stdin(minted.token.expose_secret())
            .run()
            .await;
        assert_eq!(run.assert_failure(1), "invalid_key_set", "{file:?}");
        assert!(run.stderr.contains(why), "{run:#?}");
    }
}
