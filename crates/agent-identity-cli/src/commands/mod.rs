//! One module per command; [`run`] dispatches to them.

mod demo;
mod doctor;
mod emulator;
mod exec;
mod header;
mod login;
mod logout;
mod proxy;
mod register;
mod status;
mod verify;

use serde_json::{Map, Value};

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::error::{Exit, Failure};
use crate::output::Output;

/// Runs the parsed command line. `Ok` carries the exit code of a command that reported its result
/// itself (a `status` that is logged out exits 1 without an error line).
///
/// # Errors
/// The command's [`Failure`], for the caller to print.
pub(crate) async fn run(cli: &Cli, out: Output) -> Result<Exit, Failure> {
    let config = Config::new(&cli.settings);
    let result = dispatch(cli, &config, out).await;
    result.map_err(|failure| crate::explain::explain(failure, &cli.settings))
}

async fn dispatch(cli: &Cli, config: &Config<'_>, out: Output) -> Result<Exit, Failure> {
    match &cli.command {
        Command::Verify(args) => verify::run(config, &args.token, out).await,
        Command::Login(args) => login::run(config, &args.token, out).await,
        Command::Status(_) => status::run(config, out),
        Command::Header(args) => header::run(config, args, out).await,
        Command::Logout(_) => logout::run(config, out),
        Command::Register(args) => register::run(config, args, out).await,
        Command::Doctor(_) => doctor::run(config, out).await,
        Command::Demo => demo::run(out).await,
        Command::Emulator(args) => emulator::run(args, out).await,
        Command::Proxy(args) => proxy::run(config, args, out).await,
        Command::Exec(args) => exec::run(config, args).await,
    }
}

/// A JSON object from `(key, value)` pairs, in order.
pub(crate) fn object(fields: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect::<Map<String, Value>>(),
    )
}
