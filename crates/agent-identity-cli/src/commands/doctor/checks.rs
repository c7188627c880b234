//! `doctor`'s checks, in order: the store (where the token is read from), the token (every check
//! that needs no key), the key set (and the token's signature), the AuthAPI, the clock. Each
//! goes through the library that owns it: the store's own load, the verifier's local checks and
//! key set, the task client's probe. A check that cannot run because an earlier one failed says
//! so instead of failing again.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use agent_identity_jwt::{
    IdentityJwt, JwtError, Verifier, insecure_decode_header, insecure_decode_unverified,
};
use agent_identity_manager::{
    AUDIENCE_ENV_VAR, Credential, CredentialStore, HOME_ENV_VAR, ISSUER_ENV_VAR, SettingSource,
};
use agent_identity_task::AuthApiProbe;

use super::{Check, Verdict};
use crate::cli::StoreKind;
use crate::config::Config;
use crate::error::chain;
use crate::output::redact;

/// Where the token was read from, for the next step when it is no good.
enum Origin {
    /// `--jwt` or a token variable: replaced by whoever sets it.
    Override(String),
    /// A token file another program writes.
    File(PathBuf),
    /// The durable store, written by `agent-identity login`.
    Store,
}

/// Runs every check, in order.
pub(super) async fn run(config: &Config<'_>) -> Vec<Check> {
    let mut checks = Vec::new();
    let loaded = store_check(config, &mut checks);
    let verifier = config.verifier();
    let token = match loaded {
        Some((token, origin)) => {
            token_check(config, verifier.as_ref().ok(), &token, &origin, &mut checks)
                .then_some(token)
        }
        None => None,
    };
    match verifier {
        Ok(verifier) => key_set_check(config, &verifier, token.as_ref(), &mut checks).await,
        Err(failure) => checks.push(Check::not_ok(
            "key set",
            Verdict::Fail,
            failure.message().to_owned(),
            "point --jwks-file at a JWK Set file, or --jwks-url at the key set endpoint",
        )),
    }
    let date = authapi_check(config, &mut checks).await;
    clock_check(config, date, &mut checks);
    checks
}

/// The token file's path and how it was named, when the token is read from one.
fn token_file(config: &Config<'_>) -> Option<(PathBuf, String)> {
    let provenance = config.provenance();
    let overridden = provenance
        .iter()
        .any(|setting| setting.name() == "token" && setting.source() != SettingSource::Default);
    if overridden {
        return None;
    }
    let path = config.global().token_file.clone()?;
    let named = if config.global().token_file_from_command_line {
        "--jwt-file".to_owned()
    } else {
        agent_identity_manager::TOKEN_FILE_ENV_VAR.to_owned()
    };
    Some((path, named))
}

/// The token override's source, when one is set: the flag or the variable's name.
fn override_source(config: &Config<'_>) -> Option<String> {
    config
        .provenance()
        .into_iter()
        .find(|setting| setting.name() == "token")
        .and_then(|setting| match setting.source() {
            SettingSource::Variable(name) => Some(name.to_owned()),
            SettingSource::Builder if config.global().jwt_from_command_line => {
                Some("--jwt".to_owned())
            }
            SettingSource::Builder => Some(agent_identity_manager::JWT_ENV_VAR.to_owned()),
            _ => None,
        })
}

/// Where the token is read from, and whether it can be read: the token given directly, the
/// token file (present, ours, not readable by others), or the home's store. Returns the token
/// when there is one to check.
fn store_check(config: &Config<'_>, checks: &mut Vec<Check>) -> Option<(IdentityJwt, Origin)> {
    let store = match config.store() {
        Ok(store) => store,
        Err(failure) => {
            checks.push(Check::not_ok(
                "store",
                Verdict::Fail,
                failure.message().to_owned(),
                format!("set {HOME_ENV_VAR} or --home"),
            ));
            checks.push(Check::skipped("token", "there is no store to read it from"));
            return None;
        }
    };
    let (origin, warning) = if let Some(source) = override_source(config) {
        (Origin::Override(source), None)
    } else if let Some((path, named)) = token_file(config) {
        let shown = redact(&path.display().to_string());
        if std::fs::metadata(&path).is_err_and(|error| error.kind() == std::io::ErrorKind::NotFound)
        {
            checks.push(Check::not_ok(
                "store",
                Verdict::Fail,
                format!("the token file {shown} (from {named}) does not exist"),
                format!("check the path in {named}, or whatever is meant to write {shown}"),
            ));
            checks.push(Check::skipped("token", "there is no token file to read"));
            return None;
        }
        let warning = readable_by_others(&path).map(|mode| {
            Check::not_ok(
                "store",
                Verdict::Warn,
                format!("the token file {shown} is readable by others (mode {mode:o})"),
                format!(
                    "make {shown} readable by its owner alone (mode 0600 or 0400, for a \
                     Kubernetes secret: defaultMode 0400)"
                ),
            )
        });
        (Origin::File(path), warning)
    } else {
        (Origin::Store, None)
    };
    let shown = redact(&store.describe());
    let token = match store.load_credential() {
        Ok(Some(Credential::Jwt(token))) => token,
        // A record is trusted local state: there is no token to verify and no key set to fetch.
        Ok(Some(Credential::Record(record))) => {
            let task = record
                .task_id()
                .map_or_else(|| "no task yet".to_owned(), |task| format!("task {task}"));
            checks.push(Check::ok(
                "store",
                format!(
                    "{shown}: holds a Codex {} record (runtime {}, {task})",
                    record.kind().name(),
                    record.identity().runtime_id()
                ),
            ));
            checks.push(Check::skipped(
                "token",
                "a record has no token to verify: it is trusted as stored",
            ));
            return None;
        }
        Ok(Some(_)) => {
            checks.push(Check::ok("store", format!("{shown}: holds an identity")));
            checks.push(Check::skipped(
                "token",
                "doctor does not know this identity's form",
            ));
            return None;
        }
        Ok(None) => {
            checks.push(Check::ok("store", format!("{shown}: no identity stored")));
            checks.push(Check::not_ok(
                "token",
                Verdict::Fail,
                format!("nothing stored in {shown}"),
                "run `agent-identity login --jwt-file FILE`",
            ));
            return None;
        }
        Err(error) => {
            let next = match (&origin, config.global().store) {
                (_, StoreKind::Keyring) => {
                    "unlock the OS keyring (or start its Secret Service), or use --store file"
                }
                (Origin::File(_), _) => "fix the token file as the message says",
                _ => "fix the credentials store as the message says",
            };
            checks.push(Check::not_ok(
                "store",
                Verdict::of_failure(error.is_transient()),
                chain(&error),
                next,
            ));
            checks.push(Check::skipped("token", "the store cannot be read"));
            return None;
        }
    };
    match warning {
        Some(warning) => checks.push(warning),
        None => checks.push(Check::ok("store", store_detail(config, &origin, &shown))),
    }
    Some((token, origin))
}

/// What the store line says when all is well: where, whose, what mode, the runtime cache.
fn store_detail(config: &Config<'_>, origin: &Origin, shown: &str) -> String {
    match origin {
        Origin::Override(source) => format!("the token comes from {source}, read-only"),
        Origin::File(path) => format!("{shown}: {}", owner_and_mode(path)),
        Origin::Store if config.global().store == StoreKind::Keyring => {
            format!("{shown}: holds a token")
        }
        Origin::Store => {
            let Ok(store) = config.file_store() else {
                return shown.to_owned();
            };
            let cache = match CredentialStore::runtime_cache(&store) {
                Some(cache) if cache.path().exists() => "runtime cache present",
                Some(_) => "no runtime cache yet",
                None => "no runtime cache",
            };
            format!("{shown}: {}; {cache}", owner_and_mode(store.path()))
        }
    }
}

fn owner_and_mode(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt as _;
    match std::fs::metadata(path) {
        Ok(metadata) => format!(
            "owner uid {}, mode {:o}",
            metadata.uid(),
            metadata.mode() & 0o7777
        ),
        Err(_) => "absent".to_owned(),
    }
}

/// The file's mode when group or others may read it.
fn readable_by_others(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    let mode = std::fs::metadata(path).ok()?.mode() & 0o7777;
    (mode & 0o044 != 0).then_some(mode)
}

/// The token's own checks, none of which needs a key: its shape, the algorithm, the issuer and
/// audience expected, the times. Returns whether it passed.
fn token_check(
    config: &Config<'_>,
    verifier: Option<&Verifier>,
    token: &IdentityJwt,
    origin: &Origin,
    checks: &mut Vec<Check>,
) -> bool {
    let header = insecure_decode_header(token).ok();
    let alg = header.as_ref().and_then(|h| h.alg()).unwrap_or("none");
    let kid = header.as_ref().and_then(|h| h.kid()).unwrap_or_default();
    let named = format!("alg {alg}, kid {kid:?}");
    // With a verifier, every local rule with the expected issuer and audience; without one (its
    // key set cannot be read, which the key set line reports), the shape and the times.
    let checked = match verifier {
        Some(verifier) => verifier
            .check_locally(token)
            .map(|pending| pending.insecure_unverified_record().clone()),
        None => insecure_decode_unverified(token).and_then(|record| {
            if record.is_expired_at(SystemTime::now(), config.leeway()) {
                Err(JwtError::Expired {
                    expired_at: record.expires_at_unix(),
                    checked_at: unix_now(),
                })
            } else {
                Ok(record)
            }
        }),
    };
    match checked {
        Ok(record) => {
            let expires = i64::try_from(record.expires_at_unix()).unwrap_or(i64::MAX);
            checks.push(Check::ok(
                "token",
                format!(
                    "{named}, runtime {}, expires {}",
                    record.runtime_id(),
                    crate::output::rfc3339(expires)
                        .unwrap_or_else(|| record.expires_at_unix().to_string())
                ),
            ));
            true
        }
        Err(error) => {
            let next = match (&error, origin) {
                (JwtError::Expired { .. }, Origin::File(path)) => format!(
                    "whatever writes {} must write a new token",
                    redact(&path.display().to_string())
                ),
                (JwtError::Expired { .. }, Origin::Override(source)) => {
                    format!("put a new identity token in {source}")
                }
                (JwtError::Expired { .. }, Origin::Store) => {
                    "get a new identity token, then `agent-identity login`".to_owned()
                }
                (JwtError::WrongAudience { .. }, _) => {
                    format!("check --audience ({AUDIENCE_ENV_VAR}) against the token's audience")
                }
                (JwtError::WrongIssuer { .. }, _) => {
                    format!("check --issuer ({ISSUER_ENV_VAR}) against the token's issuer")
                }
                _ => "the token is not usable: get a new one".to_owned(),
            };
            checks.push(Check::not_ok(
                "token",
                Verdict::Fail,
                format!("{named}: {}", chain(&error)),
                next,
            ));
            false
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The key set: where it comes from, whether it can be had (through the verifier's own source,
/// with its size cap and file checks), the kids it holds, and whether the token verifies.
async fn key_set_check(
    config: &Config<'_>,
    verifier: &Verifier,
    token: Option<&IdentityJwt>,
    checks: &mut Vec<Check>,
) {
    let place = config
        .provenance()
        .into_iter()
        .find(|setting| setting.name() == "key set")
        .and_then(|setting| setting.value().map(redact))
        .unwrap_or_default();
    let kids = match verifier.key_ids().await {
        Ok(kids) => kids,
        Err(error) => {
            checks.push(Check::not_ok(
                "key set",
                Verdict::of_failure(error.is_transient()),
                format!("{place} cannot be used: {}", chain(&error)),
                "check the network and the key set URL (--jwks-url), or use --jwks-file offline",
            ));
            return;
        }
    };
    let Some(token) = token else {
        checks.push(Check::ok("key set", format!("{place}: kids {kids:?}")));
        return;
    };
    match verifier.verify(token).await {
        Ok(_) => checks.push(Check::ok(
            "key set",
            format!("{place}: kids {kids:?}; the token's key is there and the token verifies"),
        )),
        Err(JwtError::UntrustedKid { kid } | JwtError::KidNotYetKnown { kid, .. }) => {
            checks.push(Check::not_ok(
                "key set",
                Verdict::Fail,
                format!("the token's kid {kid:?} is not in {place}, which holds {kids:?}"),
                "the token was signed by a key this key set does not trust: check --jwks-url, \
                 or get a token from this issuer",
            ));
        }
        Err(error) => checks.push(Check::not_ok(
            "key set",
            Verdict::of_failure(error.is_transient()),
            format!(
                "the token does not verify against {place}: {}",
                chain(&error)
            ),
            "check --jwks-url against the token's issuer",
        )),
    }
}

/// The AuthAPI answers at all (the task client's probe: nothing is registered). Returns the
/// server's `Date`, for the clock check.
async fn authapi_check(config: &Config<'_>, checks: &mut Vec<Check>) -> Option<SystemTime> {
    let client = match config.task_client() {
        Ok(client) => client,
        Err(failure) => {
            checks.push(Check::not_ok(
                "authapi",
                Verdict::Fail,
                failure.message().to_owned(),
                "fix --authapi-base-url",
            ));
            return None;
        }
    };
    let base = redact(client.base_url().as_str());
    match client.probe().await {
        AuthApiProbe::Answered { status, date } if status < 500 => {
            checks.push(Check::ok(
                "authapi",
                format!("{base} is reachable (doctor registers no task)"),
            ));
            date
        }
        AuthApiProbe::Answered { status, date } => {
            checks.push(Check::not_ok(
                "authapi",
                Verdict::Transient,
                format!("{base} answered {status}: the AuthAPI is having trouble"),
                "try again later",
            ));
            date
        }
        AuthApiProbe::Unresolved { host } => {
            checks.push(Check::not_ok(
                "authapi",
                Verdict::Transient,
                format!("cannot resolve {}", redact(&host)),
                "check the host name in --authapi-base-url, and this machine's DNS",
            ));
            None
        }
        AuthApiProbe::Unreachable { timed_out } => {
            let why = if timed_out {
                "did not answer in time"
            } else {
                "refused the connection, or could not be reached"
            };
            checks.push(Check::not_ok(
                "authapi",
                Verdict::Transient,
                format!("{base} {why}"),
                "check the network and --authapi-base-url, then try again",
            ));
            None
        }
        _ => None,
    }
}

/// Our clock against the AuthAPI's `Date` header.
fn clock_check(config: &Config<'_>, server: Option<SystemTime>, checks: &mut Vec<Check>) {
    let Some(server) = server else {
        checks.push(Check::ok("clock", "no server time to compare with"));
        return;
    };
    let (offset, ahead) = match SystemTime::now().duration_since(server) {
        Ok(ahead) => (ahead, true),
        Err(behind) => (behind.duration(), false),
    };
    let detail = format!(
        "{} s {} the AuthAPI",
        offset.as_secs(),
        if ahead { "ahead of" } else { "behind" }
    );
    if offset > config.leeway() {
        checks.push(Check::not_ok(
            "clock",
            Verdict::Warn,
            format!(
                "{detail}, more than the {} s leeway",
                config.leeway().as_secs()
            ),
            "synchronise the clock (NTP): token times are checked against it",
        ));
    } else {
        checks.push(Check::ok("clock", detail));
    }
}
