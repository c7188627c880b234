//! A token file that does not exist is a configuration error (exit 1), not an outage to retry
//! (exit 75): `status`, `header` and `doctor` say so and name the file.

use crate::support::Fixture;

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
