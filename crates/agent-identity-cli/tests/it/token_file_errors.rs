//! A token file's failures name what must act: one that does not exist is a configuration error
//! (exit 1), not an outage to retry (exit 75); an expired one is for its writer to replace.

use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, SystemTime};

use crate::support::{Fixture, assert_no_secrets};

#[tokio::test(flavor = "multi_thread")]
async fn a_token_file_that_does_not_exist_exits_1_and_is_named() {
    let fixture = Fixture::new().await;
    let missing = fixture.scratch.path().join("never-written.jwt");
    let shown = missing.display().to_string();
    for (args, by_flag) in [
        (vec!["status"], false),
        (vec!["header"], false),
        (vec!["doctor"], false),
        (vec!["header", "--jwt-file", shown.as_str()], true),
    ] {
        let mut cli = fixture.cli_with_emulator().args(args.iter().copied());
        if !by_flag {
            cli = cli.env("AGENT_IDENTITY_JWT_FILE", &missing);
        }
        let run = cli.run().await;
        run.assert_code(1);
        let printed = format!("{}{}", run.stdout, run.stderr);
        assert!(printed.contains(&shown), "{args:?}: {run:#?}");
        if args[0] == "header" {
            let from = if by_flag {
                "--jwt-file"
            } else {
                "AGENT_IDENTITY_JWT_FILE"
            };
            let line = run.assert_failure(1);
            assert!(line.is_empty());
            assert!(
                run.stderr
                    .contains(&format!("(from {from}) does not exist")),
                "{run:#?}"
            );
            assert!(run.stderr.contains("check the path"), "{run:#?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_file_is_for_its_writer_to_replace() {
    let fixture = Fixture::new().await;
    let expired = fixture
        .emulator
        .mint()
        .expires_at(SystemTime::now() - Duration::from_secs(3600))
        .issue()
        .expect("mint");
    let file = fixture.token_file(&expired);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let run = fixture
        .cli_with_emulator()
        .args(["header"])
        .env("AGENT_IDENTITY_JWT_FILE", &file)
        .run()
        .await;
    run.assert_failure(1);
    assert_no_secrets(&run, &expired);
    assert!(
        run.stderr.contains(&format!(
            "whatever writes {} must write a new token",
            file.display()
        )),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("agent-identity login"), "{run:#?}");
}
