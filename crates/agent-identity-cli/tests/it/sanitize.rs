//! Nothing printed can drive the terminal: escape sequences and control characters in a task id
//! from the AuthAPI, in claims, or in an error's text are stripped from human output and escaped
//! in JSON.

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use crate::support::{Fixture, Run};

/// A hostile value: colour, a window title (OSC), a C1 CSI, DEL, a bidi override, and a line
/// break that would forge a line of output.
const HOSTILE: &str = "\u{1b}[31mred\u{1b}]0;pwned\u{7}\u{9b}2J\u{7f}\u{202e}x\nstate: ready";
/// What human output shows of it.
const SHOWN: &str = "redxstate: ready";

/// Asserts that neither stream holds a control character (other than line breaks between lines)
/// or a bidirectional control.
#[track_caller]
fn assert_no_controls(run: &Run) {
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        let bad: Vec<char> = text
            .chars()
            .filter(|&c| {
                (c.is_control() && c != '\n')
                    || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            })
            .collect();
        assert!(bad.is_empty(), "{name} holds {bad:?}: {run:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn claims_with_escape_sequences_are_stripped_for_people_and_escaped_in_json() {
    let fixture = Fixture::new().await;
    let minted = fixture
        .emulator
        .mint()
        .account_id(HOSTILE)
        .email(Some(HOSTILE.to_owned()))
        .issue()
        .expect("mint");
    let token = minted.token.expose_secret();

    // `status` shows the unverified claims of a token in the environment.
    let status = fixture
        .cli()
        .arg("status")
        .env("AGENT_IDENTITY_JWT", token)
        .run()
        .await;
    assert_no_controls(&status);
    assert!(
        status.stdout.contains(&format!("account:    {SHOWN}\n")),
        "{status:#?}"
    );
    // The forged line stays inside its row: no line starts with it.
    assert!(
        !status
            .stdout
            .lines()
            .any(|line| line.starts_with("state: ready")),
        "{status:#?}"
    );
    let status_json = fixture
        .cli()
        .args(["status", "--json"])
        .env("AGENT_IDENTITY_JWT", token)
        .run()
        .await;
    assert_no_controls(&status_json);
    assert_eq!(status_json.json()["account_id"], HOSTILE);
    assert_eq!(status_json.json()["email"], HOSTILE);

    // `verify` shows the verified claims, which are no more trustworthy as text.
    let verify = fixture
        .cli_with_emulator()
        .args(["verify", "--jwt-file", "-"])
        .stdin(token)
        .run()
        .await;
    verify.assert_code(0);
    assert_no_controls(&verify);
    assert!(
        verify.stdout.contains(&format!("in account {SHOWN}\n")),
        "{verify:#?}"
    );
    let verify_json = fixture
        .cli_with_emulator()
        .args(["verify", "--json", "--jwt-file", "-"])
        .stdin(token)
        .run()
        .await;
    verify_json.assert_code(0);
    assert_no_controls(&verify_json);
    let claims = &verify_json.json()["claims"];
    assert_eq!(claims["account_id"], HOSTILE);
    assert_eq!(claims["email"], HOSTILE);
}

/// An AuthAPI that answers every registration with `task_id` and closes the connection.
async fn hostile_authapi(task_id: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!(
        "http://{}/api/accounts",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0; 4096];
                // Reads the head and as much of the body as Content-Length announces.
                loop {
                    let Ok(read) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..read]);
                    let text = String::from_utf8_lossy(&request);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|line| {
                                let (name, value) = line.split_once(':')?;
                                name.eq_ignore_ascii_case("content-length")
                                    .then(|| value.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let body = serde_json::json!({ "task_id": task_id }).to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    base
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_id_with_escape_sequences_never_reaches_the_terminal_raw() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let authapi = hostile_authapi("task-\u{1b}[31mred\u{1b}]0;pwned\u{7}\u{9b}1m").await;
    for json in [false, true] {
        let mut cli = fixture
            .cli()
            .args(["login", "--max-attempts", "1", "--jwt-file"])
            .arg(fixture.token_file(&minted))
            .arg("--jwks-url")
            .arg(fixture.emulator.jwks_url().to_string())
            .arg("--authapi-base-url")
            .arg(&authapi);
        if json {
            cli = cli.arg("--json");
        }
        let run = cli.run().await;
        // Whether such a task id is accepted or refused, nothing raw is printed.
        assert_no_controls(&run);
        if run.code == Some(0) && !json {
            assert!(run.stdout.contains("task id:    task-red\n"), "{run:#?}");
        }
        if run.code == Some(0) && json {
            assert_eq!(
                run.json()["task_id"],
                "task-\u{1b}[31mred\u{1b}]0;pwned\u{7}\u{9b}1m"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_quoting_a_hostile_path_is_stripped() {
    let fixture = Fixture::new().await;
    let path = fixture
        .scratch
        .path()
        .join("\u{1b}[31mmissing\u{1b}]0;pwned\u{7}");
    for json in [false, true] {
        let mut cli = fixture
            .cli_with_emulator()
            .args(["verify", "--jwt-file"])
            .arg(&path);
        if json {
            cli = cli.arg("--json");
        }
        let run = cli.run().await;
        run.assert_failure(1);
        assert_no_controls(&run);
        assert!(run.stderr.contains("missing"), "{run:#?}");
        if json {
            let message: Value = run.json()["message"].clone();
            assert!(
                message.as_str().is_some_and(|m| !m.contains('\u{1b}')),
                "{message}"
            );
        }
    }
}
