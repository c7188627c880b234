//! `exec` as users meet it: what the command it runs inherits, which signals reach it, the exit
//! codes when the command or the identity is not there, and waiting for credentials.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{ChildStderr, ChildStdout, Command};

use crate::support::{Fixture, assert_no_secrets, refusing_port};

/// 60 s: far more than any step takes; a hang fails the test instead of the suite.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

async fn logged_in() -> (Fixture, agent_identity_emulator::MintedIdentity) {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    (fixture, minted)
}

#[track_caller]
fn tool(name: &str) -> &str {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()));
    assert!(
        found,
        "{name} is needed by the exec tests: install it (apt-get install {name})"
    );
    name
}

async fn next_line<R: tokio::io::AsyncRead + Unpin>(lines: &mut Lines<BufReader<R>>) -> String {
    tokio::time::timeout(STEP_TIMEOUT, lines.next_line())
        .await
        .expect("a line in time")
        .expect("read a line")
        .unwrap_or_default()
}

fn piped(
    mut command: Command,
) -> (
    tokio::process::Child,
    Lines<BufReader<ChildStdout>>,
    Lines<BufReader<ChildStderr>>,
) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("exec starts");
    let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    (child, stdout, stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_gets_the_proxy_and_none_of_the_identity_variables() {
    let (fixture, minted) = logged_in().await;
    let token = minted.token.expose_secret();
    let token_file = fixture.token_file(&minted);
    let run = fixture
        .cli_with_emulator()
        .env("AGENT_IDENTITY_JWT", token)
        .env("CODEX_ACCESS_TOKEN", token)
        .env("AGENT_IDENTITY_JWT_FILE", &token_file)
        .args(["exec", "--", "env"])
        .run()
        .await;
    run.assert_code(0);
    assert_no_secrets(&run, &minted);
    let mut ours: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .filter(|name| name.starts_with("AGENT_IDENTITY_") || name.starts_with("CODEX_"))
        .collect();
    ours.sort_unstable();
    assert_eq!(
        ours,
        ["AGENT_IDENTITY_PROXY_TOKEN", "AGENT_IDENTITY_PROXY_URL"],
        "{run:#?}"
    );
    let file = token_file.to_string_lossy();
    assert!(!run.stdout.contains(file.as_ref()), "{run:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_process_of_the_user_cannot_read_the_exec_process_environment() {
    let (fixture, minted) = logged_in().await;
    let command = fixture
        .cli_with_emulator()
        .env("AGENT_IDENTITY_JWT", minted.token.expose_secret())
        .args([
            "exec",
            "--",
            "sh",
            "-c",
            "cat /proc/self/environ > /dev/null && echo own-readable; \
             if cat /proc/$PPID/environ > /dev/null 2>&1; then echo parent-readable; else echo parent-refused; fi",
        ])
        .command();
    let mut command = without_capabilities(&command);
    let output = tokio::time::timeout(STEP_TIMEOUT, command.output())
        .await
        .expect("exec finishes in time")
        .expect("exec runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stdout, "own-readable\nparent-refused\n", "{output:?}");
}

/// `command` as a process of the same user without any capability: as root, through `setpriv`,
/// since `CAP_SYS_PTRACE` would read any process's memory whatever it asked for.
fn without_capabilities(command: &Command) -> Command {
    let command = command.as_std();
    let mut wrapped = if running_as_root() {
        let mut wrapped = Command::new(tool("setpriv"));
        wrapped
            .args(["--bounding-set=-all", "--inh-caps=-all", "--"])
            .arg(command.get_program());
        wrapped
    } else {
        Command::new(command.get_program())
    };
    wrapped.args(command.get_args());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(name, value),
            None => wrapped.env_remove(name),
        };
    }
    wrapped.stdin(Stdio::null()).kill_on_drop(true);
    wrapped
}

fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

#[tokio::test(flavor = "multi_thread")]
async fn one_sigint_to_the_group_reaches_the_command_once() {
    let (fixture, _) = logged_in().await;
    // Counts SIGINTs; prints the count and exits on SIGTERM.
    let script = "import signal, sys\n\
        count = 0\n\
        def on_int(number, frame):\n    global count\n    count += 1\n    print(f'int {count}', flush=True)\n\
        def on_term(number, frame):\n    print(f'count {count}', flush=True)\n    sys.exit(0)\n\
        signal.signal(signal.SIGINT, on_int)\n\
        signal.signal(signal.SIGTERM, on_term)\n\
        print('ready', flush=True)\n\
        while True:\n    signal.pause()\n";
    let mut command = fixture
        .cli_with_emulator()
        .args(["exec", "--", tool("python3"), "-c", script])
        .command();
    // As a shell's job: a process group of its own, which the terminal signals as a whole.
    command.process_group(0);
    let (mut child, mut stdout, _stderr) = piped(command);
    assert_eq!(next_line(&mut stdout).await, "ready");
    let group = child.id().expect("pid").to_string();
    kill(&["-INT", "--", &format!("-{group}")]);
    assert_eq!(next_line(&mut stdout).await, "int 1");
    // The command sees SIGTERM after every SIGINT sent before it.
    kill(&["-TERM", &group]);
    assert_eq!(next_line(&mut stdout).await, "count 1");
    let status = tokio::time::timeout(STEP_TIMEOUT, child.wait())
        .await
        .expect("exec exits in time")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
}

fn kill(args: &[&str]) {
    let status = std::process::Command::new("kill")
        .args(args)
        .status()
        .expect("kill");
    assert!(status.success(), "kill {args:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_that_does_not_exist_exits_127() {
    let (fixture, _) = logged_in().await;
    let run = fixture
        .cli_with_emulator()
        .args(["exec", "--", "/nonexistent/command"])
        .run()
        .await;
    run.assert_failure(127);
    assert!(run.stderr.contains("/nonexistent/command"), "{run:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_that_cannot_be_run_exits_126() {
    let (fixture, _) = logged_in().await;
    // A file without the execute bit.
    let script = fixture.write("not-executable.sh", "#!/bin/sh\nexit 0\n");
    let run = fixture
        .cli_with_emulator()
        .args(["exec", "--"])
        .arg(&script)
        .run()
        .await;
    run.assert_failure(126);
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_with_the_key_set_unreachable_exits_75_without_starting_the_command() {
    let (fixture, _) = logged_in().await;
    let marker = fixture.scratch.path().join("started");
    let run = fixture
        .cli()
        .args(["--json", "exec", "--jwks-url"])
        .arg(format!("http://127.0.0.1:{}/jwks", refusing_port().port()))
        .arg("--authapi-base-url")
        .arg(fixture.emulator.authapi_base_url().as_str())
        .args(["--", "touch"])
        .arg(&marker)
        .run()
        .await;
    let kind = run.assert_failure(75);
    assert!(!kind.is_empty(), "{run:#?}");
    assert!(
        run.stderr.contains("127.0.0.1"),
        "names the server: {run:#?}"
    );
    assert!(!marker.exists(), "the command was started");
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_when_logged_out_exits_1_and_says_how_to_log_in() {
    let fixture = Fixture::new().await;
    let marker = fixture.scratch.path().join("started");
    let run = fixture
        .cli_with_emulator()
        .args(["exec", "--", "touch"])
        .arg(&marker)
        .run()
        .await;
    run.assert_failure(1);
    assert!(run.stderr.contains("agent-identity login"), "{run:#?}");
    assert!(!marker.exists(), "the command was started");
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_not_ready_starts_the_command_when_logged_out() {
    let fixture = Fixture::new().await;
    let run = fixture
        .cli_with_emulator()
        .args([
            "exec",
            "--allow-not-ready",
            "--",
            "sh",
            "-c",
            r#"[ -n "$AGENT_IDENTITY_PROXY_URL" ] && exit 3"#,
        ])
        .run()
        .await;
    run.assert_code(3);
    assert!(run.stderr.is_empty(), "{run:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_waits_for_a_token_file_to_appear() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let token_file = fixture.scratch.path().join("mounted.jwt");
    let command = fixture
        .cli_with_emulator()
        .args(["-v", "exec", "--wait-for-credentials", "1m", "--jwt-file"])
        .arg(&token_file)
        .args(["--", "echo", "started"])
        .command();
    let (mut child, mut stdout, mut stderr) = piped(command);
    loop {
        let line = next_line(&mut stderr).await;
        assert!(!line.is_empty(), "exec ended before it waited");
        if line.contains("waiting for credentials") {
            break;
        }
    }
    // Mounted whole, as a secret volume is: written beside, then renamed into place.
    let partial = fixture.write("mounted.jwt.tmp", minted.token.expose_secret());
    std::fs::rename(partial, &token_file).expect("rename the token file into place");
    assert_eq!(next_line(&mut stdout).await, "started");
    let status = tokio::time::timeout(STEP_TIMEOUT, child.wait())
        .await
        .expect("exec exits in time")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn waiting_for_credentials_gives_up_after_its_duration() {
    let fixture = Fixture::new().await;
    let run = fixture
        .cli_with_emulator()
        .args(["exec", "--wait-for-credentials", "1s", "--", "true"])
        .run()
        .await;
    run.assert_failure(1);
    assert!(run.stderr.contains("after waiting 1s"), "{run:#?}");
    assert!(run.stderr.contains("agent-identity login"), "{run:#?}");
}
