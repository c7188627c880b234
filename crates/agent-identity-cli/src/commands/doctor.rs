//! `doctor`: every setting with where it came from, then each part of the setup checked in
//! order — the stored token, the key set, the clock, the AuthAPI, the store — each with a
//! verdict, and one line that says what to do next. It registers no task and prints no secret.

use std::time::{Duration, SystemTime};

use agent_identity_jwt::{
    DEFAULT_AUDIENCE, DEFAULT_ISSUER, IdentityJwt, insecure_decode_unverified,
};
use agent_identity_manager::{JWT_ENV_VAR, JWT_ENV_VAR_COMPAT, TOKEN_FILE_ENV_VAR};
use agent_identity_task::AUTHAPI_BASE_URL_ENV_VARS;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::config::Config;
use crate::error::{Exit, Failure, chain};
use crate::output::{Output, aligned, redact};

/// 10 s: how long one probe (the key set, the AuthAPI) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// A check's verdict. Only `Fail` blocks; `Transient` may pass on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    Warn,
    Transient,
    Fail,
}

impl Verdict {
    /// What a failure blocks: only for now when it is transient, else for good.
    fn of_failure(transient: bool) -> Self {
        if transient {
            Self::Transient
        } else {
            Self::Fail
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Transient => "transient",
            Self::Fail => "fail",
        }
    }
}

struct Check {
    name: &'static str,
    verdict: Verdict,
    detail: String,
    /// What to do about it, for a check that is not `Ok`.
    next: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            verdict: Verdict::Ok,
            detail: detail.into(),
            next: None,
        }
    }

    fn not_ok(
        name: &'static str,
        verdict: Verdict,
        detail: impl Into<String>,
        next: impl Into<String>,
    ) -> Self {
        Self {
            name,
            verdict,
            detail: detail.into(),
            next: Some(next.into()),
        }
    }
}

pub(crate) async fn run(config: &Config<'_>, out: Output) -> Result<Exit, Failure> {
    let settings = settings(config);
    let mut checks = Vec::new();
    let token = token_check(config, &mut checks);
    let key_set = key_set_check(config, token.as_ref(), &mut checks).await;
    authapi_check(config, &mut checks).await;
    clock_check(config, key_set.and_then(|probe| probe.date), &mut checks);
    store_check(config, &mut checks);

    let worst = checks
        .iter()
        .map(|check| check.verdict)
        .max_by_key(|verdict| match verdict {
            Verdict::Ok => 0,
            Verdict::Warn => 1,
            Verdict::Transient => 2,
            Verdict::Fail => 3,
        })
        .unwrap_or(Verdict::Ok);
    let next = checks
        .iter()
        .filter(|check| matches!(check.verdict, Verdict::Fail))
        .chain(
            checks
                .iter()
                .filter(|check| check.verdict == Verdict::Transient),
        )
        .chain(checks.iter().filter(|check| check.verdict == Verdict::Warn))
        .find_map(|check| check.next.clone())
        .unwrap_or_else(|| "all good: nothing to do".to_owned());
    let exit = match worst {
        Verdict::Fail => Exit::Rejected,
        Verdict::Transient => Exit::TempFail,
        Verdict::Ok | Verdict::Warn => Exit::Success,
    };
    if out.is_json() {
        out.json_line(&json!({
            "ok": exit == Exit::Success,
            "settings": settings
                .iter()
                .map(|(name, value, source)| json!({"setting": name, "value": value, "source": source}))
                .collect::<Vec<_>>(),
            "checks": checks
                .iter()
                .map(|check| json!({"check": check.name, "status": check.verdict.as_str(), "detail": check.detail}))
                .collect::<Vec<_>>(),
            "next": next,
        }));
    } else {
        out.line("settings:");
        out.line(aligned(
            &settings
                .iter()
                .map(|(name, value, source)| (*name, format!("{value} ({source})")))
                .collect::<Vec<_>>(),
        ));
        out.line("checks:");
        out.line(aligned(
            &checks
                .iter()
                .map(|check| {
                    (
                        check.name,
                        format!("{}: {}", check.verdict.as_str(), check.detail),
                    )
                })
                .collect::<Vec<_>>(),
        ));
        out.line(format!("next: {next}"));
    }
    Ok(exit)
}

/// Each setting, its value (never a token), and where it came from.
fn settings(config: &Config<'_>) -> Vec<(&'static str, String, String)> {
    let global = config.global();
    let source = |id: &str| {
        global
            .sources
            .iter()
            .find(|(name, _)| *name == id)
            .map(|(_, source)| *source)
    };
    let variable = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    };
    let mut rows = Vec::new();
    let home = config
        .file_store()
        .ok()
        .and_then(|store| store.path().parent().map(|dir| dir.display().to_string()))
        .unwrap_or_else(|| "(none)".to_owned());
    rows.push((
        "home",
        redact(&home),
        source("home")
            .unwrap_or("default (~/.agent-identity)")
            .to_owned(),
    ));
    let (key_set, key_source) = match (&global.jwks_file, &global.jwks_url) {
        (Some(file), _) => (
            format!("file {}", file.display()),
            source("jwks_file").unwrap_or("flag"),
        ),
        (None, Some(url)) => (url.clone(), source("jwks_url").unwrap_or("flag")),
        (None, None) => (
            agent_identity_jwt::PRODUCTION_JWKS_URL.to_owned(),
            "default",
        ),
    };
    rows.push(("key set", redact(&key_set), key_source.to_owned()));
    let authapi = match (&global.authapi_base_url, source("authapi_base_url")) {
        (Some(url), Some(source)) => (url.clone(), source.to_owned()),
        _ => AUTHAPI_BASE_URL_ENV_VARS[1..]
            .iter()
            .find_map(|name| variable(name).map(|value| (value, format!("alias {name}"))))
            .unwrap_or_else(|| {
                (
                    agent_identity_task::PRODUCTION_AUTHAPI_BASE_URL.to_owned(),
                    "default".to_owned(),
                )
            }),
    };
    rows.push(("authapi base url", redact(&authapi.0), authapi.1));
    rows.push((
        "issuer",
        global
            .issuer
            .clone()
            .unwrap_or_else(|| DEFAULT_ISSUER.to_owned()),
        source("issuer").unwrap_or("default").to_owned(),
    ));
    rows.push((
        "audience",
        global
            .audience
            .clone()
            .unwrap_or_else(|| DEFAULT_AUDIENCE.to_owned()),
        source("audience").unwrap_or("default").to_owned(),
    ));
    rows.push((
        "algorithms",
        global.algorithms.as_ref().map_or_else(
            || "RS256".to_owned(),
            |list| {
                let names: Vec<&str> = list.0.iter().map(|a| a.as_str()).collect();
                names.join(",")
            },
        ),
        source("algorithms").unwrap_or("default").to_owned(),
    ));
    let token_source = if global.jwt.is_some() {
        source("jwt").map_or_else(
            || "flag".to_owned(),
            |source| format!("{source} {JWT_ENV_VAR}"),
        )
    } else if let (Some(file), true) = (&global.token_file, global.token_file_from_command_line) {
        // The flag wins over the token variables.
        format!("flag --jwt-file ({})", redact(&file.display().to_string()))
    } else if variable(JWT_ENV_VAR_COMPAT).is_some() {
        format!("alias {JWT_ENV_VAR_COMPAT}")
    } else if let Some(file) = &global.token_file {
        format!(
            "variable {TOKEN_FILE_ENV_VAR} ({})",
            redact(&file.display().to_string())
        )
    } else {
        "the store".to_owned()
    };
    rows.push(("token", "(never shown)".to_owned(), token_source));
    rows.push((
        "leeway",
        format!("{} s", global.leeway),
        source("leeway").unwrap_or("default").to_owned(),
    ));
    rows
}

/// The header's `alg` and `kid`, read from the token's first segment.
fn header_of(token: &IdentityJwt) -> (Option<String>, Option<String>) {
    let header = token
        .expose_secret()
        .split('.')
        .next()
        .and_then(|segment| URL_SAFE_NO_PAD.decode(segment).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .unwrap_or(Value::Null);
    let field = |name: &str| header[name].as_str().map(str::to_owned);
    (field("alg"), field("kid"))
}

/// The stored (or supplied) token's shape: what it claims, never the token or the key.
fn token_check(config: &Config<'_>, checks: &mut Vec<Check>) -> Option<(IdentityJwt, String)> {
    let store = match config.store() {
        Ok(store) => store,
        Err(failure) => {
            checks.push(Check::not_ok(
                "token",
                Verdict::Fail,
                failure.message().to_owned(),
                "set AGENT_IDENTITY_HOME or --home",
            ));
            return None;
        }
    };
    let token = match store.load() {
        Ok(Some(token)) => token,
        Ok(None) => {
            checks.push(Check::not_ok(
                "token",
                Verdict::Fail,
                format!("nothing stored in {}", redact(&store.describe())),
                "run `agent-identity login --jwt-file FILE`",
            ));
            return None;
        }
        Err(error) => {
            let verdict = Verdict::of_failure(error.is_transient());
            checks.push(Check::not_ok(
                "token",
                verdict,
                chain(&error),
                "fix the credentials store as the message says",
            ));
            return None;
        }
    };
    let (alg, kid) = header_of(&token);
    let alg = alg.unwrap_or_else(|| "none".to_owned());
    let kid = kid.unwrap_or_default();
    match insecure_decode_unverified(&token) {
        Ok(record) => {
            let expired = record.is_expired_at(SystemTime::now(), config.leeway());
            let detail = format!(
                "alg {alg}, kid {kid:?}, runtime {}, expires {}",
                record.runtime_id(),
                crate::output::rfc3339(i64::try_from(record.expires_at_unix()).unwrap_or(i64::MAX))
                    .unwrap_or_else(|| record.expires_at_unix().to_string())
            );
            if expired {
                checks.push(Check::not_ok(
                    "token",
                    Verdict::Fail,
                    format!("{detail}: expired"),
                    "get a new identity token, then `agent-identity login`",
                ));
            } else {
                checks.push(Check::ok("token", detail));
            }
            Some((token, kid))
        }
        Err(error) => {
            checks.push(Check::not_ok(
                "token",
                Verdict::Fail,
                format!("alg {alg}, kid {kid:?}: {}", chain(&error)),
                "the stored token is not usable: log in again",
            ));
            None
        }
    }
}

/// What the key set probe saw: its server's `Date`, when fetched over HTTP.
struct KeySetProbe {
    date: Option<SystemTime>,
}

/// The key set: where it comes from, whether it can be had, the kids it holds, and whether the
/// token's kid is among them (then whether the token verifies).
async fn key_set_check(
    config: &Config<'_>,
    token: Option<&(IdentityJwt, String)>,
    checks: &mut Vec<Check>,
) -> Option<KeySetProbe> {
    let global = config.global();
    let (document, place, date) = if let Some(file) = &global.jwks_file {
        match std::fs::read(file) {
            Ok(bytes) => (
                bytes,
                format!("file {}", redact(&file.display().to_string())),
                None,
            ),
            Err(error) => {
                checks.push(Check::not_ok(
                    "key set",
                    Verdict::Fail,
                    format!(
                        "cannot read {}: {error}",
                        redact(&file.display().to_string())
                    ),
                    "fix --jwks-file",
                ));
                return None;
            }
        }
    } else {
        let url = global
            .jwks_url
            .clone()
            .unwrap_or_else(|| agent_identity_jwt::PRODUCTION_JWKS_URL.to_owned());
        let client = reqwest::Client::builder()
            .timeout(PROBE_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .ok()?;
        match client.get(&url).send().await {
            Ok(response) => {
                let date = date_of(&response);
                let status = response.status();
                let bytes = response
                    .bytes()
                    .await
                    .map(|bytes| bytes.to_vec())
                    .unwrap_or_default();
                if !status.is_success() {
                    checks.push(Check::not_ok(
                        "key set",
                        Verdict::of_failure(status.is_server_error()),
                        format!("{} answered {status}", redact(&url)),
                        "check the JWKS URL (--jwks-url), or try again later",
                    ));
                    return Some(KeySetProbe { date });
                }
                (bytes, redact(&url), date)
            }
            Err(error) => {
                checks.push(Check::not_ok(
                    "key set",
                    Verdict::Transient,
                    format!("{} is unreachable: {}", redact(&url), plain(&error)),
                    "check the network and the JWKS URL, or use --jwks-file offline",
                ));
                return None;
            }
        }
    };
    let kids: Vec<String> = serde_json::from_slice::<Value>(&document)
        .ok()
        .and_then(|set| {
            set["keys"].as_array().map(|keys| {
                keys.iter()
                    .filter_map(|key| key["kid"].as_str().map(str::to_owned))
                    .collect()
            })
        })
        .unwrap_or_default();
    if kids.is_empty() {
        checks.push(Check::not_ok(
            "key set",
            Verdict::Fail,
            format!("{place} holds no usable key"),
            "point --jwks-url or --jwks-file at a JWK Set",
        ));
        return Some(KeySetProbe { date });
    }
    let Some((token, kid)) = token else {
        checks.push(Check::ok("key set", format!("{place}: kids {kids:?}")));
        return Some(KeySetProbe { date });
    };
    if !kids.contains(kid) {
        checks.push(Check::not_ok(
            "key set",
            Verdict::Fail,
            format!("the token's kid {kid:?} is not in {place}, which holds {kids:?}"),
            "the token was signed by a key this key set does not trust: check --jwks-url, or get a token from this issuer",
        ));
        return Some(KeySetProbe { date });
    }
    let verdict = match config.verifier() {
        Ok(verifier) => verifier
            .verify(token)
            .await
            .map(|_| ())
            .map_err(|error| chain(&error)),
        Err(failure) => Err(failure.message().to_owned()),
    };
    match verdict {
        Ok(()) => checks.push(Check::ok(
            "key set",
            format!(
                "{place}: kids {kids:?}; the token's kid {kid:?} is there and the token verifies"
            ),
        )),
        Err(why) => checks.push(Check::not_ok(
            "key set",
            Verdict::Fail,
            format!("the token's kid {kid:?} is in {place}, but the token does not verify: {why}"),
            "check --issuer, --audience and --leeway against the token",
        )),
    }
    Some(KeySetProbe { date })
}

/// The AuthAPI answers at all (any HTTP answer will do): nothing is registered.
async fn authapi_check(config: &Config<'_>, checks: &mut Vec<Check>) {
    let base = match config.task_client() {
        Ok(client) => client.base_url().to_string(),
        Err(failure) => {
            checks.push(Check::not_ok(
                "authapi",
                Verdict::Fail,
                failure.message().to_owned(),
                "fix --authapi-base-url",
            ));
            return;
        }
    };
    let Ok(client) = reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    else {
        return;
    };
    match client.get(&base).send().await {
        Ok(response) => checks.push(Check::ok(
            "authapi",
            format!("{} answers ({})", redact(&base), response.status()),
        )),
        Err(error) => checks.push(Check::not_ok(
            "authapi",
            Verdict::Transient,
            format!("{} is unreachable: {}", redact(&base), plain(&error)),
            "check the network and --authapi-base-url, then try again",
        )),
    }
}

/// Our clock against the key set server's `Date` header.
fn clock_check(config: &Config<'_>, server: Option<SystemTime>, checks: &mut Vec<Check>) {
    let Some(server) = server else {
        checks.push(Check::ok("clock", "no server time to compare with"));
        return;
    };
    let now = SystemTime::now();
    let (offset, ahead) = match now.duration_since(server) {
        Ok(ahead) => (ahead, true),
        Err(behind) => (behind.duration(), false),
    };
    let detail = format!(
        "{} s {} the server",
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

/// The store: where, whose, what mode, and what the runtime cache holds.
fn store_check(config: &Config<'_>, checks: &mut Vec<Check>) {
    if config.global().store == crate::cli::StoreKind::Keyring {
        keyring_check(config, checks);
        return;
    }
    let Ok(store) = config.file_store() else {
        return;
    };
    let path = store.path();
    let shown = redact(&path.display().to_string());
    let detail = match std::fs::symlink_metadata(path) {
        Ok(metadata) => {
            use std::os::unix::fs::MetadataExt as _;
            format!(
                "{shown}: owner uid {}, mode {:o}",
                metadata.uid(),
                metadata.mode() & 0o7777
            )
        }
        Err(_) => format!("{shown}: absent"),
    };
    let cache = agent_identity_manager::CredentialStore::runtime_cache(&store);
    let cached = cache
        .as_ref()
        .map(|cache| {
            if cache.path().exists() {
                "runtime cache present"
            } else {
                "no runtime cache yet"
            }
        })
        .unwrap_or("no runtime cache");
    checks.push(Check::ok("store", format!("{detail}; {cached}")));
}

fn date_of(response: &reqwest::Response) -> Option<SystemTime> {
    let text = response
        .headers()
        .get(reqwest::header::DATE)?
        .to_str()
        .ok()?;
    httpdate::parse_http_date(text).ok()
}

/// A network failure in plain words.
fn plain(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "it did not answer in time"
    } else if error.is_connect() {
        "the connection was refused or could not be made"
    } else {
        "the request failed"
    }
}

/// `--store keyring`: whether the entry can be read within the store's time box.
fn keyring_check(config: &Config<'_>, checks: &mut Vec<Check>) {
    let Ok(store) = config.durable_store() else {
        return;
    };
    let shown = redact(&store.describe());
    match store.load() {
        Ok(Some(_)) => checks.push(Check::ok("store", format!("{shown}: holds a token"))),
        Ok(None) => checks.push(Check::ok("store", format!("{shown}: no agent identity"))),
        Err(error) => {
            let verdict = Verdict::of_failure(error.is_transient());
            checks.push(Check::not_ok(
                "store",
                verdict,
                format!("{shown}: {error}"),
                "unlock the OS keyring (or start its Secret Service), or use --store file",
            ));
        }
    }
}
