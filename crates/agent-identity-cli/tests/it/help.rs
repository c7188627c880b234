//! Each command's `--help`, compared with a committed snapshot in `tests/help/`, and the flags a
//! command does not take absent from it. `UPDATE_SNAPSHOTS=1` rewrites the snapshots.

use std::path::{Path, PathBuf};

use crate::support::{Cli, Run};

/// Every command, and `None` for the tool's own help.
const COMMANDS: [Option<&str>; 12] = [
    None,
    Some("demo"),
    Some("emulator"),
    Some("verify"),
    Some("login"),
    Some("status"),
    Some("header"),
    Some("logout"),
    Some("register"),
    Some("doctor"),
    Some("proxy"),
    Some("exec"),
];

/// Every configuration flag, to check which ones a help lists.
const CONFIGURATION: [&str; 11] = [
    "--home",
    "--store",
    "--jwks-url",
    "--jwks-file",
    "--issuer",
    "--audience",
    "--leeway",
    "--authapi-base-url",
    "--jwt",
    "--jwt-file",
    "--fresh-task",
];

/// The help of `command`, rendered with no configuration variable set and a fixed width.
async fn help(command: Option<&str>) -> Run {
    let run = Cli::new(Path::new("/nonexistent"))
        .without_home()
        .args(command)
        .arg("--help")
        .env("COLUMNS", "100")
        .run()
        .await;
    run.assert_code(0);
    assert!(run.stderr.is_empty(), "{run:#?}");
    run
}

fn snapshot(command: Option<&str>) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/help")
        .join(format!("{}.txt", command.unwrap_or("agent-identity")))
}

#[tokio::test(flavor = "multi_thread")]
async fn each_help_matches_its_snapshot() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|value| value == "1");
    let mut stale = Vec::new();
    for command in COMMANDS {
        let run = help(command).await;
        let path = snapshot(command);
        if update {
            std::fs::write(&path, &run.stdout).expect("write the snapshot");
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if expected != run.stdout {
            stale.push(format!(
                "{}:\n--- expected\n{expected}\n--- found\n{}",
                path.display(),
                run.stdout
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "help changed (rerun with UPDATE_SNAPSHOTS=1 if intended):\n{}",
        stale.join("\n")
    );
}

/// The long flag names a help lists (`--name` at the start of an entry).
fn flags_listed(help: &str) -> Vec<String> {
    help.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("-v, ").or(Some(line))?;
            let line = line.strip_prefix("-h, ").unwrap_or(line);
            let line = line.strip_prefix("-V, ").unwrap_or(line);
            let flag = line.strip_prefix("--")?;
            let end = flag
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .unwrap_or(flag.len());
            Some(format!("--{}", &flag[..end]))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_help_lists_the_configuration_flags_its_command_takes_and_no_other() {
    let takes: [(Option<&str>, &[&str]); 11] = [
        (None, &[]),
        (Some("demo"), &[]),
        (Some("emulator"), &[]),
        (
            Some("verify"),
            &[
                "--jwt-file",
                "--jwt",
                "--jwks-url",
                "--jwks-file",
                "--issuer",
                "--audience",
                "--leeway",
            ],
        ),
        (
            Some("login"),
            &[
                "--jwt-file",
                "--jwt",
                "--home",
                "--store",
                "--jwks-url",
                "--jwks-file",
                "--issuer",
                "--audience",
                "--leeway",
                "--authapi-base-url",
                "--fresh-task",
            ],
        ),
        (
            Some("status"),
            &["--home", "--store", "--jwt", "--jwt-file", "--leeway"],
        ),
        (Some("header"), &CONFIGURATION),
        (Some("logout"), &["--home", "--store"]),
        (
            Some("doctor"),
            &[
                "--home",
                "--store",
                "--jwt",
                "--jwt-file",
                "--jwks-url",
                "--jwks-file",
                "--issuer",
                "--audience",
                "--leeway",
                "--authapi-base-url",
            ],
        ),
        (Some("proxy"), &CONFIGURATION),
        (Some("exec"), &CONFIGURATION),
    ];
    for (command, expected) in takes {
        let run = help(command).await;
        let listed = flags_listed(&run.stdout);
        for flag in CONFIGURATION {
            assert_eq!(
                listed.iter().any(|name| name == flag),
                expected.contains(&flag),
                "{command:?} --help and {flag}: {listed:?}"
            );
        }
        // Every help lists the output flags, and says how each command can end.
        for flag in ["--json", "--verbose", "--help"] {
            assert!(
                listed.iter().any(|name| name == flag),
                "{command:?}: {flag}"
            );
        }
        assert!(run.stdout.contains("Exit codes:"), "{command:?}");
        assert!(run.stdout.contains("Examples:"), "{command:?}");
        if !expected.is_empty() {
            assert!(run.stdout.contains("\nConfiguration:\n"), "{command:?}");
        }
    }
    // The obvious case, spelled out.
    assert!(!help(Some("status")).await.stdout.contains("--jwks-url"));
}
