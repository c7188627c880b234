//! Unit tests for the request check: each refusal with its kind, the FedRAMP rule, one lookup,
//! and the second text forms that a replay cache must not be keyed on.

use std::cell::Cell;
use std::time::UNIX_EPOCH;

use agent_identity_jwt::AgentKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;
use crate::assertion::AgentSigner;
use crate::verify::DEFAULT_SKEW;

const NOW: u64 = 1_777_291_200;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn key() -> AgentKey {
    AgentKey::from_seed([5; 32])
}

/// One runtime `rt` of account `acct` with the task `task`, counting its runtime lookups.
struct Directory {
    fedramp: bool,
    lookups: Cell<usize>,
}

impl Directory {
    fn new(fedramp: bool) -> Self {
        Self {
            fedramp,
            lookups: Cell::new(0),
        }
    }
}

impl AgentDirectory for Directory {
    fn runtime(&self, runtime_id: &str) -> Option<KnownRuntime> {
        self.lookups.set(self.lookups.get() + 1);
        let public = key().public_key().unwrap_or_else(|e| panic!("{e}"));
        (runtime_id == "rt").then(|| KnownRuntime::new(public, "acct").fedramp(self.fedramp))
    }

    fn task_valid(&self, runtime_id: &str, task_id: &str) -> bool {
        runtime_id == "rt" && task_id == "task"
    }
}

fn authorization() -> String {
    AgentSigner::new(key(), "rt")
        .authorization_header(&TaskId::new("task"), now())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    pairs
        .iter()
        .map(|(name, value)| {
            (
                http::HeaderName::from_bytes(name.as_bytes()).unwrap_or_else(|e| panic!("{e}")),
                http::HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")),
            )
        })
        .collect()
}

fn check(
    headers: &http::HeaderMap,
    directory: &Directory,
) -> Result<VerifiedRequest, RejectedAssertion> {
    verify_request(headers, directory, now(), DEFAULT_SKEW)
}

#[test]
fn a_signed_request_with_the_runtimes_account_is_verified_with_one_lookup() {
    let directory = Directory::new(false);
    let verified = check(
        &headers(&[
            ("authorization", &authorization()),
            ("ChatGPT-Account-ID", "acct"),
        ]),
        &directory,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verified.runtime_id().as_str(), "rt");
    assert_eq!(verified.task_id().as_str(), "task");
    assert_eq!(verified.account_id().as_str(), "acct");
    assert!(!verified.is_fedramp());
    assert_eq!(directory.lookups.get(), 1);
}

#[test]
fn each_refusal_has_its_kind() {
    let directory = Directory::new(false);
    let signed = authorization();
    let cases: [(http::HeaderMap, &str); 5] = [
        (
            headers(&[("ChatGPT-Account-ID", "acct")]),
            "missing_authorization",
        ),
        (
            headers(&[
                ("authorization", "AgentAssertion !!!"),
                ("ChatGPT-Account-ID", "acct"),
            ]),
            "malformed",
        ),
        (headers(&[("authorization", &signed)]), "account_mismatch"),
        (
            headers(&[("authorization", &signed), ("ChatGPT-Account-ID", "other")]),
            "account_mismatch",
        ),
        (
            headers(&[
                (
                    "authorization",
                    &signed.replace("AgentAssertion ", "AgentAssertion x"),
                ),
                ("ChatGPT-Account-ID", "acct"),
            ]),
            "malformed",
        ),
    ];
    for (headers, kind) in cases {
        let rejected = check(&headers, &directory).expect_err(kind);
        assert_eq!(rejected.kind(), kind, "{rejected}");
    }
}

#[test]
fn an_authorization_value_that_is_not_text_is_malformed() {
    let mut map = headers(&[("ChatGPT-Account-ID", "acct")]);
    map.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_bytes(b"AgentAssertion \xff").unwrap_or_else(|e| panic!("{e}")),
    );
    let rejected = check(&map, &Directory::new(false)).expect_err("not text");
    assert_eq!(rejected.kind(), "malformed");
}

#[test]
fn a_fedramp_runtime_needs_the_fedramp_header() {
    let directory = Directory::new(true);
    let signed = authorization();
    let without = headers(&[("authorization", &signed), ("ChatGPT-Account-ID", "acct")]);
    assert_eq!(
        check(&without, &directory).map_err(|e| e.kind()),
        Err("missing_fedramp_header")
    );
    let wrong = headers(&[
        ("authorization", &signed),
        ("ChatGPT-Account-ID", "acct"),
        ("X-OpenAI-Fedramp", "false"),
    ]);
    assert_eq!(
        check(&wrong, &directory).map_err(|e| e.kind()),
        Err("missing_fedramp_header")
    );
    let with = headers(&[
        ("authorization", &signed),
        ("ChatGPT-Account-ID", "acct"),
        ("X-OpenAI-Fedramp", "true"),
    ]);
    assert!(
        check(&with, &directory)
            .unwrap_or_else(|e| panic!("{e}"))
            .is_fedramp()
    );
}

#[test]
fn the_same_assertion_is_accepted_in_other_text_forms() {
    // Why a replay cache is keyed on what was signed: these header texts all differ, and all
    // verify to the same runtime, task and time.
    let directory = Directory::new(false);
    let signed = authorization();
    let encoded = signed.trim_start_matches("AgentAssertion ");
    let json = URL_SAFE_NO_PAD
        .decode(encoded)
        .unwrap_or_else(|e| panic!("{e}"));
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap_or_else(|e| panic!("{e}"));
    let pretty = serde_json::to_vec_pretty(&value).unwrap_or_else(|e| panic!("{e}"));
    let padding = "=".repeat((4 - encoded.len() % 4) % 4);
    let forms = [
        signed.clone(),
        format!("agentassertion {encoded}"),
        format!("AgentAssertion {}", URL_SAFE_NO_PAD.encode(&pretty)),
        format!("AgentAssertion {encoded}{padding}"),
    ];
    let mut seen = Vec::new();
    for form in &forms {
        let verified = check(
            &headers(&[("authorization", form), ("ChatGPT-Account-ID", "acct")]),
            &directory,
        )
        .unwrap_or_else(|e| panic!("{form}: {e}"));
        seen.push((
            verified.runtime_id().clone(),
            verified.task_id().clone(),
            verified.signed_at(),
        ));
    }
    seen.dedup();
    assert_eq!(seen.len(), 1, "one signed request");
    let mut texts: Vec<&String> = forms.iter().collect();
    texts.dedup();
    assert!(texts.len() >= 3, "in several header texts");
}
