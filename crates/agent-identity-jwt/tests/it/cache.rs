//! Key cache behaviour: single flight, bounded refetching, stale-on-error, and never blocking reads.
//!
//! HTTP behaviour is tested against mockito on 127.0.0.1 in real time. Tests that travel in time
//! use a scripted in-process source under Tokio's paused clock instead: a paused clock advances
//! itself to the next timer whenever the runtime waits on I/O, so a reply from mockito's own thread
//! could lose a race against a request timeout and make such a test flaky.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_identity_jwt::{
    FETCH_FAILURE_COOLDOWN, HttpJwksSource, IdentityJwt, JwksSource, JwtError, StaticJwksSource,
    Verifier,
};
use async_trait::async_trait;
use jwks_client_rs::{JsonWebKeySet, JwksClientError};
use serde_json::json;

use agent_identity_test_support::mint::{claims, mint, mint_with_kid};
use agent_identity_test_support::refusing_port;
use agent_identity_test_support::vectors::{jwks_json, vectors};

const TTL: Duration = Duration::from_secs(3600);
const MAX_STALE: Duration = Duration::from_secs(24 * 3600);
const INTERVAL: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Serve,
    Fail,
    Hang,
    TimeOutAfter(Duration),
    /// Serves the keys, but only after this long.
    ServeAfter(Duration),
    /// A well-formed answer with no keys.
    Empty,
}

/// A key source whose behaviour the test sets, counting every fetch.
struct ScriptedSource {
    keys: JsonWebKeySet,
    mode: Mutex<Mode>,
    fetches: AtomicUsize,
}

impl ScriptedSource {
    fn new() -> Arc<Self> {
        let keys = StaticJwksSource::from_json(jwks_json()).expect("JWKS");
        let keys = futures_util::FutureExt::now_or_never(keys.fetch_keys())
            .expect("ready")
            .expect("keys");
        Arc::new(Self {
            keys,
            mode: Mutex::new(Mode::Serve),
            fetches: AtomicUsize::new(0),
        })
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().expect("mode") = mode;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl JwksSource for ScriptedSource {
    async fn fetch_keys(&self) -> Result<JsonWebKeySet, JwksClientError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let mode = *self.mode.lock().expect("mode");
        let down = || {
            jsonwebtoken::errors::new_error(jsonwebtoken::errors::ErrorKind::Provider(
                "down".into(),
            ))
            .into()
        };
        match mode {
            Mode::Serve => Ok(self.keys.clone()),
            Mode::Fail => Err(down()),
            Mode::Hang => std::future::pending().await,
            Mode::Empty => Ok(JsonWebKeySet::from(Vec::new())),
            Mode::TimeOutAfter(after) => {
                tokio::time::sleep(after).await;
                Err(down())
            }
            Mode::ServeAfter(after) => {
                tokio::time::sleep(after).await;
                Ok(self.keys.clone())
            }
        }
    }
}

fn verifier_over(source: Arc<ScriptedSource>) -> Verifier {
    Verifier::builder_from_arc(source)
        .keys_ttl(TTL)
        .max_staleness(MAX_STALE)
        .refetch_interval(INTERVAL)
        .build()
}

async fn mock_jwks(server: &mut mockito::ServerGuard, body: String, hits: usize) -> mockito::Mock {
    server
        .mock("GET", "/jwks")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(body)
        .expect(hits)
        .create_async()
        .await
}

fn http_verifier(server: &mockito::ServerGuard) -> Verifier {
    let url = format!("{}/jwks", server.url()).parse().expect("url");
    Verifier::builder(HttpJwksSource::new(url).expect("loopback url")).build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_cache_makes_one_request_for_a_thousand_concurrent_verifications() {
    let mut server = mockito::Server::new_async().await;
    let jwks = mock_jwks(&mut server, jwks_json(), 1).await;
    let verifier = http_verifier(&server);
    let token = IdentityJwt::new(mint(&claims()));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let verifier = verifier.clone();
            let token = token.clone();
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("verifies");
    }
    jwks.assert_async().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_waiter_shares_a_failed_fetch() {
    let mut server = mockito::Server::new_async().await;
    let jwks = server
        .mock("GET", "/jwks")
        .with_status(500)
        .expect(1)
        .create_async()
        .await;
    let verifier = http_verifier(&server);
    let token = IdentityJwt::new(mint(&claims()));
    let outcomes = futures_util::future::join_all((0..100).map(|_| verifier.verify(&token))).await;
    for outcome in outcomes {
        let error = outcome.expect_err("no keys");
        assert!(error.is_transient(), "{error}");
        assert_eq!(error.kind(), "key_source_unavailable");
    }
    jwks.assert_async().await;
}

#[tokio::test]
async fn unknown_kid_storm_makes_at_most_one_refetch() {
    let mut server = mockito::Server::new_async().await;
    // The fetch that warmed the cache counts as this interval's fetch: no unknown kid refetches.
    let jwks = mock_jwks(&mut server, jwks_json(), 1).await;
    let verifier = http_verifier(&server);
    verifier
        .verify(&IdentityJwt::new(mint(&claims())))
        .await
        .expect("warm");
    for index in 0..200 {
        let token = IdentityJwt::new(mint_with_kid(&claims(), Some(&format!("bogus-{index}"))));
        let error = verifier.verify(&token).await.expect_err("unknown kid");
        assert_eq!(error.kind(), "kid_not_yet_known");
        assert!(error.is_transient());
    }
    jwks.assert_async().await;
}

#[tokio::test(start_paused = true)]
async fn unknown_kid_refetches_again_only_after_the_interval() {
    let source = ScriptedSource::new();
    let verifier = verifier_over(Arc::clone(&source));
    verifier
        .verify(&IdentityJwt::new(mint(&claims())))
        .await
        .expect("warm");
    assert_eq!(source.fetches(), 1);
    let bogus = IdentityJwt::new(mint_with_kid(&claims(), Some("rotated-later")));
    tokio::time::advance(INTERVAL).await;
    // The first unknown kid of the interval refetches, and is judged against the fresh set.
    assert_eq!(
        verifier.verify(&bogus).await.expect_err("unknown").kind(),
        "untrusted_kid"
    );
    for _ in 0..49 {
        let error = verifier.verify(&bogus).await.expect_err("unknown");
        assert!(
            matches!(error, JwtError::KidNotYetKnown { retry_after, .. } if retry_after == INTERVAL),
            "{error:?}"
        );
        assert!(error.is_transient(), "a deferred refetch is not a verdict");
    }
    assert_eq!(source.fetches(), 2, "one refetch in this interval");
    tokio::time::advance(INTERVAL - Duration::from_secs(1)).await;
    let error = verifier
        .verify(&bogus)
        .await
        .expect_err("still inside the interval");
    assert!(
        matches!(error, JwtError::KidNotYetKnown { retry_after, .. } if retry_after == Duration::from_secs(1)),
        "{error:?}"
    );
    assert_eq!(source.fetches(), 2);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(
        verifier.verify(&bogus).await.expect_err("unknown").kind(),
        "untrusted_kid"
    );
    assert_eq!(source.fetches(), 3, "the next interval allows one more");
}

#[tokio::test(start_paused = true)]
async fn known_keys_are_not_refetched_within_the_ttl() {
    let source = ScriptedSource::new();
    let verifier = verifier_over(Arc::clone(&source));
    let token = IdentityJwt::new(mint(&claims()));
    verifier.verify(&token).await.expect("warm");
    tokio::time::advance(TTL - Duration::from_secs(1)).await;
    for _ in 0..10 {
        verifier.verify(&token).await.expect("cached");
    }
    assert_eq!(source.fetches(), 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    verifier.verify(&token).await.expect("stale but served");
    tokio::task::yield_now().await;
    assert_eq!(
        source.fetches(),
        2,
        "past the TTL a background refresh starts"
    );
}

async fn stale_keys_serve_until_max_staleness_then_fail_closed(outage: Mode) {
    let source = ScriptedSource::new();
    let verifier = verifier_over(Arc::clone(&source));
    let token = IdentityJwt::new(mint(&claims()));
    verifier.verify(&token).await.expect("warm");
    source.set(outage);
    // Walk through the outage an hour at a time: every verification is served from the stale set.
    let mut elapsed = Duration::ZERO;
    while elapsed + Duration::from_secs(3600) < MAX_STALE {
        tokio::time::advance(Duration::from_secs(3600)).await;
        elapsed += Duration::from_secs(3600);
        verifier
            .verify(&token)
            .await
            .expect("stale keys still verify");
        // Let the background refresh run (and fail, or time out) on the paused clock.
        tokio::time::sleep(Duration::from_secs(11)).await;
        elapsed += Duration::from_secs(11);
    }
    assert!(
        source.fetches() > 1,
        "refreshes were attempted during the outage"
    );
    tokio::time::advance(MAX_STALE - elapsed).await;
    let error = verifier
        .verify(&token)
        .await
        .expect_err("past the maximum staleness");
    assert_eq!(error.kind(), "key_source_unavailable");
    assert!(error.is_transient());
    // Once the source is back and the failures' cooldown is over, verification recovers.
    source.set(Mode::Serve);
    tokio::time::advance(INTERVAL).await;
    verifier.verify(&token).await.expect("recovered");
}

#[tokio::test(start_paused = true)]
async fn failing_endpoint_keeps_cached_keys_until_max_staleness() {
    stale_keys_serve_until_max_staleness_then_fail_closed(Mode::Fail).await;
}

#[tokio::test(start_paused = true)]
async fn timing_out_endpoint_keeps_cached_keys_until_max_staleness() {
    stale_keys_serve_until_max_staleness_then_fail_closed(Mode::TimeOutAfter(Duration::from_secs(
        10,
    )))
    .await;
}

#[tokio::test(start_paused = true)]
async fn hanging_fetch_does_not_delay_a_known_kid() {
    let source = ScriptedSource::new();
    let verifier = verifier_over(Arc::clone(&source));
    let token = IdentityJwt::new(mint(&claims()));
    verifier.verify(&token).await.expect("warm");
    source.set(Mode::Hang);
    tokio::time::advance(TTL).await;
    // This starts a background refresh that never finishes.
    verifier
        .verify(&token)
        .await
        .expect("stale key served at once");
    tokio::task::yield_now().await;
    assert_eq!(source.fetches(), 2, "the refresh is in flight");
    let started = tokio::time::Instant::now();
    for _ in 0..100 {
        let verified =
            tokio::time::timeout(Duration::from_millis(1), verifier.verify(&token)).await;
        verified
            .expect("not blocked by the hanging fetch")
            .expect("verifies");
    }
    assert_eq!(
        tokio::time::Instant::now(),
        started,
        "no verification waited"
    );
    // An unknown kid, by contrast, joins the hanging flight instead of starting another.
    let bogus = IdentityJwt::new(mint_with_kid(&claims(), Some("new-kid")));
    assert!(
        tokio::time::timeout(Duration::from_secs(1), verifier.verify(&bogus))
            .await
            .is_err()
    );
    assert_eq!(source.fetches(), 2);
}

#[tokio::test]
async fn key_set_with_unsupported_keys_still_serves_the_others() {
    let mut server = mockito::Server::new_async().await;
    let good = vectors().jwt.jwks["keys"][0].clone();
    let body = json!({"keys": [
        {"kty": "oct", "kid": "symmetric", "k": "c2VjcmV0"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {"kty": "RSA", "kid": "enc-key", "use": "enc", "n": good["n"], "e": good["e"]},
        {"kty": "OKP", "crv": "Ed25519", "kid": "short-ed", "x": "AAAA"},
        {"kty": "RSA", "kid": "hmac-alg", "alg": "HS256", "n": good["n"], "e": good["e"]},
        "not even an object",
        good,
    ]});
    let jwks = mock_jwks(&mut server, body.to_string(), 1).await;
    let verifier = http_verifier(&server);
    // The first lookup fetches: the skipped key is judged absent from the fetched set.
    let hmac = IdentityJwt::new(mint_with_kid(&claims(), Some("hmac-alg")));
    assert_eq!(
        verifier
            .verify(&hmac)
            .await
            .expect_err("skipped key")
            .kind(),
        "untrusted_kid"
    );
    verifier
        .verify(&IdentityJwt::new(mint(&claims())))
        .await
        .expect("the good key still verifies");
    jwks.assert_async().await;
}

#[tokio::test]
async fn oversized_key_set_response_is_refused() {
    let mut server = mockito::Server::new_async().await;
    let _jwks = server
        .mock("GET", "/jwks")
        .with_status(200)
        .with_body(vec![b' '; 2 << 20])
        .create_async()
        .await;
    let error = http_verifier(&server)
        .verify(&IdentityJwt::new(mint(&claims())))
        .await
        .expect_err("body over 1 MiB");
    assert_eq!(error.kind(), "key_source_unavailable");
}

#[tokio::test]
async fn invalid_static_key_set_is_a_typed_error() {
    for bad in ["", "[]", "{\"keys\": 3}", "not json"] {
        let error = StaticJwksSource::from_json(bad).expect_err("not a key set");
        assert!(
            matches!(error, JwtError::InvalidKeySet(_)),
            "{bad}: {error}"
        );
    }
}

#[tokio::test]
async fn unreachable_endpoint_is_transient() {
    let port = refusing_port().port();
    let url = format!("http://127.0.0.1:{port}/jwks")
        .parse()
        .expect("url");
    let verifier = Verifier::builder(HttpJwksSource::new(url).expect("loopback url")).build();
    let error = verifier
        .verify(&IdentityJwt::new(mint(&claims())))
        .await
        .expect_err("refused");
    assert!(error.is_transient());
}

#[tokio::test(start_paused = true)]
async fn empty_key_set_does_not_replace_the_cached_keys() {
    let source = ScriptedSource::new();
    let verifier = verifier_over(Arc::clone(&source));
    let token = IdentityJwt::new(mint(&claims()));
    verifier.verify(&token).await.expect("warm");
    source.set(Mode::Empty);
    tokio::time::advance(TTL).await;
    verifier
        .verify(&token)
        .await
        .expect("stale keys serve while the refresh runs");
    tokio::task::yield_now().await;
    assert_eq!(
        source.fetches(),
        2,
        "the refresh ran and got nothing usable"
    );
    verifier
        .verify(&token)
        .await
        .expect("the empty answer did not replace the keys");
    tokio::time::advance(MAX_STALE).await;
    let error = verifier
        .verify(&token)
        .await
        .expect_err("past the maximum staleness");
    assert_eq!(
        error.kind(),
        "key_source_unavailable",
        "an empty set fails closed, as an outage"
    );
}

#[tokio::test(start_paused = true)]
async fn a_source_that_never_answers_is_cut_off_by_the_fetch_timeout() {
    let source = ScriptedSource::new();
    source.set(Mode::Hang);
    let verifier = verifier_over(Arc::clone(&source));
    let token = IdentityJwt::new(mint(&claims()));
    let started = tokio::time::Instant::now();
    let error = verifier.verify(&token).await.expect_err("no key set");
    assert_eq!(error.kind(), "key_source_unavailable");
    assert_eq!(started.elapsed(), agent_identity_jwt::DEFAULT_FETCH_TIMEOUT);
    // The timed-out flight left its slot: once its cooldown is over, the next verification
    // fetches afresh.
    source.set(Mode::Serve);
    tokio::time::advance(FETCH_FAILURE_COOLDOWN).await;
    verifier.verify(&token).await.expect("a new fetch");
    assert_eq!(source.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_unknown_kid_fetch_still_finishes_and_frees_its_slot() {
    let source = ScriptedSource::new();
    let verifier = verifier_over(Arc::clone(&source));
    let token = IdentityJwt::new(mint(&claims()));
    verifier.verify(&token).await.expect("warm");
    tokio::time::advance(INTERVAL).await;
    source.set(Mode::ServeAfter(Duration::from_secs(5)));
    // An unknown kid starts a refetch; its caller gives up long before the answer.
    let bogus = IdentityJwt::new(mint_with_kid(&claims(), Some("rotated-in")));
    let gave_up = tokio::time::timeout(Duration::from_millis(1), verifier.verify(&bogus)).await;
    assert!(gave_up.is_err(), "the caller gave up");
    assert_eq!(source.fetches(), 2);
    // Nobody polls the abandoned fetch; it finishes on its own.
    tokio::time::sleep(Duration::from_secs(6)).await;
    // Past the TTL, the known kid starts a background refresh: the slot is free for it.
    source.set(Mode::Serve);
    tokio::time::advance(TTL).await;
    verifier.verify(&token).await.expect("known kid");
    tokio::task::yield_now().await;
    assert_eq!(
        source.fetches(),
        3,
        "a refresh ran about an hour later, not a day later"
    );
}

#[tokio::test(start_paused = true)]
async fn a_cold_cache_with_its_source_down_fetches_once_per_cooldown() {
    let source = ScriptedSource::new();
    source.set(Mode::Fail);
    let verifier = verifier_over(Arc::clone(&source));
    let token = IdentityJwt::new(mint(&claims()));
    for _ in 0..1000 {
        let error = verifier.verify(&token).await.expect_err("source down");
        assert_eq!(error.kind(), "key_source_unavailable");
    }
    assert_eq!(
        source.fetches(),
        1,
        "one fetch for a thousand verifications"
    );
    tokio::time::advance(FETCH_FAILURE_COOLDOWN).await;
    verifier.verify(&token).await.expect_err("still down");
    assert_eq!(source.fetches(), 2, "the cooldown ended");
    // The second failure in a row doubles the cooldown.
    tokio::time::advance(FETCH_FAILURE_COOLDOWN).await;
    source.set(Mode::Serve);
    verifier
        .verify(&token)
        .await
        .expect_err("still cooling down");
    assert_eq!(source.fetches(), 2);
    tokio::time::advance(FETCH_FAILURE_COOLDOWN).await;
    verifier.verify(&token).await.expect("the source is back");
    assert_eq!(source.fetches(), 3);
}

#[tokio::test]
async fn a_key_set_redirect_is_refused_and_not_followed() {
    let mut elsewhere = mockito::Server::new_async().await;
    let planted = mock_jwks(&mut elsewhere, jwks_json(), 0).await;
    let token = IdentityJwt::new(mint(&claims()));
    for status in [301, 302, 307, 308] {
        let mut server = mockito::Server::new_async().await;
        server
            .mock("GET", "/jwks")
            .with_status(status)
            .with_header("location", &format!("{}/jwks", elsewhere.url()))
            .create_async()
            .await;
        let error = http_verifier(&server)
            .verify(&token)
            .await
            .expect_err("keys from a redirect are not trusted");
        assert_eq!(error.kind(), "key_source_unavailable", "status {status}");
    }
    planted.assert_async().await;
    // A caller's client that follows redirects still gets no keys from elsewhere.
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/jwks")
        .with_status(302)
        .with_header("location", &format!("{}/jwks", elsewhere.url()))
        .create_async()
        .await;
    let following = HttpJwksSource::builder(format!("{}/jwks", server.url()).parse().expect("url"))
        .expect("loopback url")
        .client(reqwest::Client::new())
        .build();
    let error = following.fetch_keys().await.expect_err("refused");
    assert!(error.to_string().contains("redirect"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_seeded_key_set_verifies_without_a_fetch_until_its_ttl() {
    let source = ScriptedSource::new();
    let first = verifier_over(Arc::clone(&source));
    let token = IdentityJwt::new(mint(&claims()));
    first.verify(&token).await.expect("fetched");
    let snapshot = first.key_set_snapshot().expect("a snapshot of the fetch");
    assert_eq!(source.fetches(), 1);
    // A new process: an empty cache, seeded with what the first one fetched.
    let second = verifier_over(Arc::clone(&source));
    assert!(second.seed_key_set(&snapshot));
    assert!(
        !second.seed_key_set(&snapshot),
        "only an empty cache is seeded"
    );
    second.verify(&token).await.expect("seeded keys verify");
    assert_eq!(source.fetches(), 1, "no fetch within the TTL");
    assert_eq!(second.key_set_snapshot(), Some(snapshot));
    // Past the TTL (counted from the original fetch) the refresh rules apply as usual.
    tokio::time::advance(TTL).await;
    second.verify(&token).await.expect("stale keys still serve");
    tokio::task::yield_now().await;
    assert_eq!(source.fetches(), 2, "a background refresh ran");
}

#[test]
fn a_snapshot_too_old_or_holding_no_usable_key_is_not_seeded() {
    let fetched = std::time::SystemTime::now() - MAX_STALE;
    let verifier = verifier_over(ScriptedSource::new());
    let stale = agent_identity_jwt::KeySetSnapshot::new(jwks_json(), fetched);
    assert!(!verifier.seed_key_set(&stale));
    let now = std::time::SystemTime::now();
    for json in [
        "{}",
        "not json",
        r#"{"keys":[{"kty":"oct","kid":"x","k":"c2VjcmV0"}]}"#,
    ] {
        let snapshot = agent_identity_jwt::KeySetSnapshot::new(json, now);
        assert!(!verifier.seed_key_set(&snapshot), "{json}");
    }
    assert!(verifier.key_set_snapshot().is_none());
}

#[test]
fn an_http_source_names_the_key_set_url() {
    let url: url::Url = "https://example.test/jwks".parse().expect("url");
    let verifier = Verifier::builder(HttpJwksSource::new(url.clone()).expect("https url")).build();
    assert_eq!(verifier.key_set_url(), Some(&url));
    assert_eq!(verifier_over(ScriptedSource::new()).key_set_url(), None);
}
