//! The `agent-identity` binary: parses the command line, sets up logging, runs one command on a
//! tokio runtime, and turns its outcome into one of the documented exit codes.

mod cli;
mod commands;
mod config;
mod error;
mod explain;
mod output;

use std::process::ExitCode;

use clap::error::ErrorKind;

use crate::cli::Cli;
use crate::error::{Exit, Failure};
use crate::output::{LogWriter, Output, redact};

fn main() -> ExitCode {
    let cli = match Cli::parse_args() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    let out = Output::new(cli.json);
    init_logging(cli.verbose, cli.json);
    let runtime = match runtime_for(cli.command.workers()) {
        Ok(runtime) => runtime,
        Err(error) => {
            let failure = Failure::new(
                "internal",
                format!("cannot start the async runtime: {error}"),
                Exit::Rejected,
            );
            out.failure(&failure);
            return failure.exit().into();
        }
    };
    let result = runtime.block_on(commands::run(&cli, out));
    // Background tasks (key refreshes, expiry timers) must not hold the process open.
    runtime.shutdown_background();
    match result {
        Ok(exit) => exit.into(),
        Err(failure) => {
            out.failure(&failure);
            failure.exit().into()
        }
    }
}

/// The runtime a command runs on. One worker is a current-thread runtime: the proxy's every
/// task on one thread, with no cross-thread wake-ups (the cheapest per request, as one nginx
/// worker is); more are a multi-threaded runtime of that many; `None` is one thread per core.
fn runtime_for(workers: Option<u16>) -> std::io::Result<tokio::runtime::Runtime> {
    match workers {
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(workers) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(workers))
            .enable_all()
            .build(),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    }
}

/// Prints clap's help and version as clap does; turns a usage error into one line (and a JSON
/// object with `--json`) with exit code 2. Anything shaped like a token or a key is redacted, in
/// case one was pasted where an argument was expected (or sits in a variable help shows).
fn usage_error(error: &clap::Error) -> ExitCode {
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        // Help shows the values of the configuration variables; print it as clap would unless
        // one of them needs redacting, and then as plain redacted text.
        let rendered = error.render().to_string();
        let redacted = redact(&rendered);
        if redacted == rendered {
            let _ = error.print();
        } else {
            Output::new(false).line(redacted.trim_end());
        }
        return ExitCode::SUCCESS;
    }
    if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        && cli::command_named(std::env::args_os()).is_none()
    {
        // No command given: one line naming the commands, as for any usage error.
        let commands = cli::definition()
            .get_subcommands()
            .map(|command| command.get_name().to_owned())
            .filter(|name| name != "help")
            .collect::<Vec<_>>()
            .join(", ");
        let failure = Failure::usage(format!(
            "no command given: expected one of {commands} (see agent-identity --help)"
        ));
        let json = std::env::args_os().any(|arg| arg == "--json");
        Output::new(json).failure(&failure);
        return failure.exit().into();
    }
    if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // A command without what it needs: its help, on stderr, as the usage error it is.
        let rendered = redact(&error.render().to_string());
        let mut stderr = std::io::stderr().lock();
        let _ = std::io::Write::write_all(&mut stderr, rendered.as_bytes());
        return Exit::Usage.into();
    }
    let rendered = error.render().to_string();
    // clap's message runs until the first blank line; usage and tips follow it. The tips
    // (a similar command or flag that exists) are kept: they are what to do next.
    let mut paragraphs = rendered.split("\n\n");
    let message = paragraphs.next().unwrap_or_default();
    let message = message.strip_prefix("error: ").unwrap_or(message);
    let mut message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    for tip in paragraphs
        .flat_map(str::lines)
        .filter_map(|line| line.trim().strip_prefix("tip: "))
    {
        message.push_str("; ");
        message.push_str(tip);
    }
    // `help statsu`: clap suggests nothing for the help command's argument; do as it does for a
    // misspelt command.
    if error.kind() == ErrorKind::InvalidSubcommand
        && !message.contains("similar")
        && let Some(similar) = error
            .get(clap::error::ContextKind::InvalidSubcommand)
            .and_then(|given| similar_command(&given.to_string()))
    {
        message.push_str(&format!("; a similar subcommand exists: '{similar}'"));
    }
    // Where to look next: the help of the command named, when there is one.
    let help = match cli::command_named(std::env::args_os()) {
        Some(command) if command != "help" => format!("agent-identity {command} --help"),
        _ => "agent-identity --help".to_owned(),
    };
    // `Output::failure` sanitizes and redacts the message.
    let failure = Failure::usage(format!("{message} (see {help})"));
    let json = std::env::args_os().any(|arg| arg == "--json");
    Output::new(json).failure(&failure);
    failure.exit().into()
}

/// The command whose name is closest to `given`, if one is close enough (clap's own measure for
/// its suggestions: Jaro similarity above 0.7).
fn similar_command(given: &str) -> Option<String> {
    cli::definition()
        .get_subcommands()
        .map(|command| command.get_name().to_owned())
        .filter(|name| name != "help")
        .map(|name| (strsim::jaro(given, &name), name))
        .filter(|(similarity, _)| *similarity > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

/// Logs go to stderr: none by default, then info, debug and trace for -v, -vv and -vvv; with
/// `--json`, one JSON object per event, so a log pipeline parses them as it parses stdout. Every
/// event passes through [`LogWriter`], which sanitizes and redacts it (inside a JSON string, a
/// redacted run stays a string, so the line still parses).
fn init_logging(verbose: u8, json: bool) {
    let level = match verbose {
        0 => return,
        1 => tracing::Level::INFO,
        2 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    let logs = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(LogWriter);
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
}
