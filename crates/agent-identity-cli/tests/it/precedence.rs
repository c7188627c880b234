//! Where configuration comes from: a flag wins over any variable (the key set's table), and
//! `login` stores only a token it was given explicitly, never `AGENT_IDENTITY_JWT`.

use crate::support::{Fixture, assert_no_secrets, refusing_port};

/// Where the key set came from, as `verify --json` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// The token verified: the working source (emulator URL or a copy of its key set) was used.
    Good,
    /// The missing file was used: a bad setting, `config`, exit 2.
    MissingFile,
    /// The dead URL was used: `key_source_unavailable`, exit 75.
    DeadUrl,
    /// Refused before anything was read: exit 2.
    Usage,
}

/// One row of the table: flags, variables, and the source that must be used.
type Row<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, Keys);

#[tokio::test(flavor = "multi_thread")]
async fn a_jwks_flag_wins_over_either_variable_and_the_file_variable_over_the_url_variable() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let key_set = reqwest::get(fixture.emulator.jwks_url())
        .await
        .expect("the emulator serves its key set")
        .text()
        .await
        .expect("a body");
    let good_file = fixture.write("keys.json", &key_set);
    let good_file = good_file.to_str().expect("utf-8 path");
    let missing_file = fixture.scratch.path().join("missing.json");
    let missing_file = missing_file.to_str().expect("utf-8 path");
    let good_url = fixture.emulator.jwks_url().to_string();
    let dead_url = format!("http://127.0.0.1:{}/jwks", refusing_port().port());

    let table: Vec<Row<'_>> = vec![
        // A flag beats the variable of the other kind (this was the bug: the file variable won).
        (
            vec!["--jwks-url", &good_url],
            vec![("AGENT_IDENTITY_JWKS_FILE", missing_file)],
            Keys::Good,
        ),
        (
            vec!["--jwks-file", good_file],
            vec![("AGENT_IDENTITY_JWKS_URL", &dead_url)],
            Keys::Good,
        ),
        // ...and of its own kind.
        (
            vec!["--jwks-url", &good_url],
            vec![("AGENT_IDENTITY_JWKS_URL", &dead_url)],
            Keys::Good,
        ),
        (
            vec!["--jwks-file", good_file],
            vec![("AGENT_IDENTITY_JWKS_FILE", missing_file)],
            Keys::Good,
        ),
        // With both variables set and no flag, the file is the deliberate choice.
        (
            vec![],
            vec![
                ("AGENT_IDENTITY_JWKS_URL", &good_url),
                ("AGENT_IDENTITY_JWKS_FILE", missing_file),
            ],
            Keys::MissingFile,
        ),
        (
            vec![],
            vec![
                ("AGENT_IDENTITY_JWKS_URL", &dead_url),
                ("AGENT_IDENTITY_JWKS_FILE", good_file),
            ],
            Keys::Good,
        ),
        // One variable alone is used.
        (
            vec![],
            vec![("AGENT_IDENTITY_JWKS_URL", &dead_url)],
            Keys::DeadUrl,
        ),
        (
            vec![],
            vec![("AGENT_IDENTITY_JWKS_FILE", missing_file)],
            Keys::MissingFile,
        ),
        // Both flags are a usage error, whatever the variables say.
        (
            vec!["--jwks-url", &good_url, "--jwks-file", good_file],
            vec![],
            Keys::Usage,
        ),
    ];
    for (flags, variables, expected) in table {
        let mut cli = fixture
            .cli()
            .args(["verify", "--json", "--jwt-file", "-"])
            .args(flags.iter().copied())
            .stdin(minted.token.expose_secret());
        for (name, value) in &variables {
            cli = cli.env(name, value);
        }
        let run = cli.run().await;
        let got = match run.code {
            Some(0) => Keys::Good,
            Some(2) if run.json()["error"] == "config" => Keys::MissingFile,
            Some(2) => Keys::Usage,
            Some(75) => Keys::DeadUrl,
            _ => panic!("unexpected outcome for {flags:?} {variables:?}: {run:#?}"),
        };
        assert_eq!(got, expected, "{flags:?} {variables:?}: {run:#?}");
        assert_no_secrets(&run, &minted);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn login_refuses_to_store_the_token_of_agent_identity_jwt() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let before = fixture.emulator.registrations();
    for json in [false, true] {
        let mut cli = fixture
            .cli_with_emulator()
            .arg("login")
            .env("AGENT_IDENTITY_JWT", minted.token.expose_secret());
        if json {
            cli = cli.arg("--json");
        }
        let run = cli.run().await;
        run.assert_failure(2);
        assert!(
            run.stderr
                .contains("AGENT_IDENTITY_JWT is never written to disk"),
            "{run:#?}"
        );
        assert_no_secrets(&run, &minted);
    }
    assert!(!fixture.auth_file().exists(), "auth.json was written");
    assert_eq!(
        fixture.emulator.registrations(),
        before,
        "a task was registered"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn login_stores_an_explicit_token_and_warns_that_a_variable_still_overrides_it() {
    let fixture = Fixture::new().await;
    let stored = fixture.mint();
    let in_variable = fixture.mint();
    let stored_token = || -> String {
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fixture.auth_file()).expect("auth.json"))
                .expect("auth.json is JSON");
        json["agent_identity"].as_str().expect("a token").to_owned()
    };

    // --jwt-file, with the variable set to another token.
    let run = fixture
        .cli_with_emulator()
        .args(["login", "--json", "--jwt-file"])
        .arg(fixture.token_file(&stored))
        .env("AGENT_IDENTITY_JWT", in_variable.token.expose_secret())
        .run()
        .await;
    run.assert_code(0);
    assert_eq!(run.json()["runtime_id"], stored.runtime_id.as_str());
    assert_eq!(stored_token(), stored.token.expose_secret());
    assert_eq!(
        run.stderr.trim_end(),
        "warning: AGENT_IDENTITY_JWT is set and overrides the stored credentials until it is unset"
    );
    assert_no_secrets(&run, &stored);
    assert_no_secrets(&run, &in_variable);

    // --jwt is explicit too; Codex's variable overrides the file as well.
    std::fs::remove_file(fixture.auth_file()).expect("remove auth.json");
    let run = fixture
        .cli_with_emulator()
        .args(["login", "--jwt", stored.token.expose_secret()])
        .env("CODEX_ACCESS_TOKEN", in_variable.token.expose_secret())
        .run()
        .await;
    run.assert_code(0);
    assert_eq!(stored_token(), stored.token.expose_secret());
    assert!(
        run.stderr.contains("warning: CODEX_ACCESS_TOKEN is set"),
        "{run:#?}"
    );
    assert_no_secrets(&run, &stored);
    assert_no_secrets(&run, &in_variable);

    // Without a variable, no warning.
    let run = fixture
        .cli_with_emulator()
        .args(["login", "--jwt-file"])
        .arg(fixture.token_file(&stored))
        .run()
        .await;
    run.assert_code(0);
    assert!(run.stderr.is_empty(), "{run:#?}");
}

/// The runtime id `status --json` reports for `args` and `env`.
async fn status_runtime(
    fixture: &Fixture,
    args: &[&std::ffi::OsStr],
    env: &[(&str, &str)],
) -> serde_json::Value {
    let mut cli = fixture
        .cli()
        .args(["status", "--json"])
        .args(args.iter().copied());
    for (name, value) in env {
        cli = cli.env(name, value);
    }
    let run = cli.run().await;
    run.assert_code(0);
    run.json()["runtime_id"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_comes_from_jwt_then_jwt_file_then_the_variables_then_the_store() {
    let fixture = Fixture::new().await;
    let stored = fixture.mint();
    fixture.login(&stored).await;
    let flag = fixture.mint();
    let file = fixture.mint();
    let variable = fixture.mint();
    let file_variable = fixture.mint();
    let file_path = fixture.write("file.jwt", file.token.expose_secret());
    let file_variable_path = fixture.write("variable.jwt", file_variable.token.expose_secret());
    let jwt_file = std::ffi::OsStr::new("--jwt-file");
    let jwt = std::ffi::OsStr::new("--jwt");
    let file_arg = file_path.as_os_str();
    let flag_token = std::ffi::OsStr::new(flag.token.expose_secret());
    let variable_env = ("AGENT_IDENTITY_JWT", variable.token.expose_secret());
    let file_variable_env = (
        "AGENT_IDENTITY_JWT_FILE",
        file_variable_path.to_str().expect("utf-8 path"),
    );

    // Nothing given: the store.
    assert_eq!(
        status_runtime(&fixture, &[], &[]).await,
        stored.runtime_id.as_str()
    );
    // The token-file variable beats the store; the token variable beats the token-file variable.
    assert_eq!(
        status_runtime(&fixture, &[], &[file_variable_env]).await,
        file_variable.runtime_id.as_str()
    );
    assert_eq!(
        status_runtime(&fixture, &[], &[file_variable_env, variable_env]).await,
        variable.runtime_id.as_str()
    );
    // --jwt-file beats both variables (a flag wins over any variable).
    assert_eq!(
        status_runtime(
            &fixture,
            &[jwt_file, file_arg],
            &[file_variable_env, variable_env]
        )
        .await,
        file.runtime_id.as_str()
    );
    // --jwt beats --jwt-file.
    assert_eq!(
        status_runtime(
            &fixture,
            &[jwt_file, file_arg, jwt, flag_token],
            &[file_variable_env, variable_env]
        )
        .await,
        flag.runtime_id.as_str()
    );

    // `header` loads from --jwt-file too, and `doctor` names it as the token file's source.
    let run = fixture
        .cli_with_emulator()
        .args(["header", "--json", "--jwt-file"])
        .arg(&file_path)
        .env(variable_env.0, variable_env.1)
        .run()
        .await;
    run.assert_code(0);
    assert_no_secrets(&run, &file);
    let run = fixture
        .cli_with_emulator()
        .args(["doctor", "--json", "--jwt-file"])
        .arg(&file_path)
        .run()
        .await;
    let report = run.json();
    let row = |name: &str| {
        report["settings"]
            .as_array()
            .and_then(|rows| rows.iter().find(|row| row["setting"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no {name} row in {report}"))
    };
    assert_eq!(row("token file")["source"], "flag", "{report}");
    assert_eq!(
        row("token file")["value"],
        file_path.display().to_string(),
        "{report}"
    );
    assert_eq!(
        row("token")["value"],
        "(read from the token file)",
        "{report}"
    );
    for minted in [&stored, &flag, &file, &variable, &file_variable] {
        assert_no_secrets(&run, minted);
    }
}
