//! Running the binary: a builder for one invocation, its captured result, and the fixtures.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use agent_identity_emulator::{Emulator, MintedIdentity};
pub(crate) use agent_identity_test_support::refusing_port;
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

/// 60 s: far longer than any command takes; a hang fails the test instead of the suite.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// An emulator, a temporary home, and a scratch directory for token and JWKS files.
pub(crate) struct Fixture {
    pub(crate) emulator: Emulator,
    pub(crate) home: TempDir,
    pub(crate) scratch: TempDir,
}

impl Fixture {
    pub(crate) async fn new() -> Self {
        Self {
            emulator: Emulator::start().await.expect("the emulator starts"),
            home: tempfile::tempdir().expect("temporary home"),
            scratch: tempfile::tempdir().expect("scratch directory"),
        }
    }

    /// A fresh identity from the emulator, valid for an hour.
    pub(crate) fn mint(&self) -> MintedIdentity {
        self.emulator.mint().issue().expect("mint")
    }

    /// Writes `text` to a file in the scratch directory and returns its path.
    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.scratch.path().join(name);
        std::fs::write(&path, text).expect("write scratch file");
        path
    }

    /// Writes the identity's token to a file and returns its path.
    pub(crate) fn token_file(&self, minted: &MintedIdentity) -> PathBuf {
        self.write("token.jwt", &format!("{}\n", minted.token.expose_secret()))
    }

    /// `auth.json` in the home.
    pub(crate) fn auth_file(&self) -> PathBuf {
        self.home.path().join("auth.json")
    }

    /// An invocation with the home set and nothing else configured.
    pub(crate) fn cli(&self) -> Cli {
        Cli::new(self.home.path())
    }

    /// An invocation pointed at this emulator's JWKS and AuthAPI: `--jwks-url` and
    /// `--authapi-base-url` are written after the command name, for a command that takes them.
    pub(crate) fn cli_with_emulator(&self) -> Cli {
        let mut cli = self.cli();
        cli.emulator = Some((
            self.emulator.jwks_url().to_string(),
            self.emulator.authapi_base_url().to_string(),
        ));
        cli
    }

    /// Logs the identity in through the CLI, asserting success.
    pub(crate) async fn login(&self, minted: &MintedIdentity) {
        let run = self
            .cli_with_emulator()
            .args(["login", "--jwt-file"])
            .arg(self.token_file(minted))
            .run()
            .await;
        run.assert_code(0);
        assert_no_secrets(&run, minted);
    }
}

/// One invocation of the binary.
#[must_use]
pub(crate) struct Cli {
    args: Vec<OsString>,
    /// The emulator's key set and AuthAPI URLs, passed to a command that takes them.
    emulator: Option<(String, String)>,
    env: Vec<(String, OsString)>,
    stdin: Option<String>,
    cwd: Option<PathBuf>,
}

impl Cli {
    pub(crate) fn new(home: &Path) -> Self {
        Self {
            args: Vec::new(),
            emulator: None,
            env: vec![(
                "AGENT_IDENTITY_HOME".to_owned(),
                home.as_os_str().to_owned(),
            )],
            stdin: None,
            cwd: None,
        }
    }

    /// Without the home variable (for what a bare command line does).
    pub(crate) fn without_home(mut self) -> Self {
        self.env.retain(|(name, _)| name != "AGENT_IDENTITY_HOME");
        self
    }

    pub(crate) fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub(crate) fn args<I: Into<OsString>>(mut self, args: impl IntoIterator<Item = I>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub(crate) fn env(mut self, name: &str, value: impl Into<OsString>) -> Self {
        self.env.push((name.to_owned(), value.into()));
        self
    }

    pub(crate) fn stdin(mut self, text: impl Into<String>) -> Self {
        self.stdin = Some(text.into());
        self
    }

    /// The child's working directory, where relative paths (a `--home` that is not a path at
    /// all, say) land. Defaults to the test's.
    pub(crate) fn current_dir(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_owned());
        self
    }

    /// The command, with the test process's `AGENT_IDENTITY_*` and `CODEX_*` variables removed.
    pub(crate) fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_agent-identity"));
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("AGENT_IDENTITY_") || name.starts_with("CODEX_") {
                command.env_remove(name.as_ref());
            }
        }
        command.args(self.full_args());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        command.kill_on_drop(true);
        command
    }

    /// The arguments, with the emulator's flags after the command name when the command takes
    /// them.
    fn full_args(&self) -> Vec<OsString> {
        let mut args = self.args.clone();
        let Some((jwks, authapi)) = &self.emulator else {
            return args;
        };
        let Some(at) = args.iter().position(|arg| {
            matches!(
                arg.to_str(),
                Some(
                    "verify"
                        | "login"
                        | "header"
                        | "doctor"
                        | "proxy"
                        | "exec"
                        | "status"
                        | "logout"
                )
            )
        }) else {
            return args;
        };
        let flags: Vec<OsString> = match args[at].to_str() {
            Some("verify") => vec!["--jwks-url".into(), jwks.into()],
            Some("status" | "logout") => Vec::new(),
            _ => vec![
                "--jwks-url".into(),
                jwks.into(),
                "--authapi-base-url".into(),
                authapi.into(),
            ],
        };
        args.splice(at + 1..at + 1, flags);
        args
    }

    pub(crate) async fn run(self) -> Run {
        let mut command = self.command();
        command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the binary starts");
        if let Some(text) = &self.stdin {
            let mut stdin = child.stdin.take().expect("piped stdin");
            // A child that exits without reading (a usage error) closes the pipe first.
            match stdin.write_all(text.as_bytes()).await {
                Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
                    panic!("write stdin: {error}")
                }
                _ => {}
            }
            drop(stdin);
        }
        let output = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
            .await
            .expect("the command finishes in time")
            .expect("the command's output");
        Run {
            args: self.full_args(),
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).expect("stdout is utf-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is utf-8"),
        }
    }
}

impl Cli {
    /// Runs a command that may serve until stopped (`emulator`): waits for its first stdout line
    /// or its exit, then kills it and returns everything it printed. `code` is the exit code if it
    /// exited by itself, `None` if it was killed.
    pub(crate) async fn run_until_first_line(self) -> Run {
        use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
        let mut child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let stderr = tokio::spawn(async move {
            let mut text = Vec::new();
            let _ = stderr.read_to_end(&mut text).await;
            text
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut first = String::new();
        tokio::time::timeout(RUN_TIMEOUT, stdout.read_line(&mut first))
            .await
            .expect("a first line or an exit in time")
            .expect("read stdout");
        let code = match child.try_wait().expect("poll the child") {
            Some(status) => status.code(),
            None => {
                child.kill().await.expect("kill the child");
                None
            }
        };
        let mut rest = String::new();
        let _ = tokio::time::timeout(RUN_TIMEOUT, stdout.read_to_string(&mut rest)).await;
        let stderr = tokio::time::timeout(RUN_TIMEOUT, stderr)
            .await
            .expect("stderr closes in time")
            .expect("the stderr reader");
        Run {
            args: self.full_args(),
            code,
            stdout: first + &rest,
            stderr: String::from_utf8(stderr).expect("stderr is utf-8"),
        }
    }
}

/// What one invocation did.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) args: Vec<OsString>,
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    #[track_caller]
    pub(crate) fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit code: {self:#?}");
        self
    }

    /// stdout as exactly one JSON object.
    #[track_caller]
    pub(crate) fn json(&self) -> Value {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "expected one line of JSON: {self:#?}");
        let value: Value = serde_json::from_str(lines[0]).expect("stdout is JSON");
        assert!(value.is_object(), "not a JSON object: {self:#?}");
        value
    }

    /// Every stdout line as a JSON object.
    #[track_caller]
    pub(crate) fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).expect("each stdout line is JSON"))
            .collect()
    }

    /// A failure as the CLI reports it: exit `code`, one `error: ` line on stderr, and with
    /// `--json` the error object on stdout. Returns the `error` kind (or "" without `--json`).
    #[track_caller]
    pub(crate) fn assert_failure(&self, code: i32) -> String {
        self.assert_code(code);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one error line on stderr: {self:#?}"
        );
        assert!(lines[0].starts_with("error: "), "{self:#?}");
        if self.args.iter().any(|arg| arg == "--json") {
            let json = self.json();
            assert_eq!(json["ok"], false, "{self:#?}");
            assert_eq!(
                json["message"].as_str(),
                lines[0].strip_prefix("error: "),
                "{self:#?}"
            );
            return json["error"].as_str().expect("error kind").to_owned();
        }
        assert!(self.stdout.is_empty(), "{self:#?}");
        String::new()
    }
}

/// Asserts that neither stream contains the identity's token or its private key, in any of the
/// encodings a careless log line might use.
#[track_caller]
pub(crate) fn assert_no_secrets(run: &Run, minted: &MintedIdentity) {
    let token = minted.token.expose_secret();
    let key = minted.key.to_pkcs8_base64();
    let payload = token.split('.').nth(1).expect("a compact JWS");
    for (name, secret) in [
        ("the token", token),
        ("the token's payload", payload),
        ("the private key", key.as_str()),
    ] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{name} was printed by {:?}",
            run.args
        );
    }
}

/// Sends `GET /echo` with the headers `header --json` printed; returns the status and body.
pub(crate) async fn echo(fixture: &Fixture, header: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(
            fixture
                .emulator
                .base_url()
                .join("echo")
                .expect("url")
                .to_string(),
        )
        .header(
            "Authorization",
            header["authorization"].as_str().expect("authorization"),
        )
        .header(
            "ChatGPT-Account-ID",
            header["chatgpt_account_id"].as_str().expect("account id"),
        )
        .send()
        .await
        .expect("GET /echo");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
