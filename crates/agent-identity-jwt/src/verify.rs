//! The verifier: configuration, the verification pipeline, and the loudly named unverified decode.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwks_client_rs::source::JwksSource;
use serde::Deserialize;
use url::Url;
use zeroize::Zeroizing;

use crate::algorithm::SigningAlgorithm;
use crate::cache::{CachePolicy, KeyCache, KeySetSnapshot};
use crate::error::JwtError;
use crate::record::AgentIdentityRecord;
use crate::types::{Audience, Clock, IdentityJwt, Issuer, SystemClock};

mod insecure;

pub use insecure::{UnverifiedHeader, insecure_decode_header, insecure_decode_unverified};

/// The ChatGPT issuer of agent identity tokens (wire-format §1).
pub const DEFAULT_ISSUER: &str = "https://chatgpt.com/codex-backend/agent-identity";
/// The ChatGPT audience of agent identity tokens (wire-format §1).
pub const DEFAULT_AUDIENCE: &str = "codex-app-server";
/// 60 s: wire-format §1's default clock leeway.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// 16 KiB: a real identity token is about 1.5 KiB; anything past this is refused unparsed.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// 1 h: how long a fetched key set is fresh.
pub const DEFAULT_KEYS_TTL: Duration = Duration::from_secs(60 * 60);
/// 24 h: how long a key set may keep serving while its endpoint is unreachable.
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(24 * 60 * 60);
/// 30 s: the shortest interval between refetches caused by unknown kids or background refreshes.
pub const DEFAULT_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// 30 s: the longest one key set fetch may take, whatever the source; the HTTP source's own
/// timeout (10 s) is shorter.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// 1 s: after a failed key set fetch, verifications that need a fetch get that failure at once for
/// this long instead of fetching again; the cooldown doubles with each failure in a row, up to the
/// refetch interval, and ends with the next good fetch.
pub const FETCH_FAILURE_COOLDOWN: Duration = Duration::from_secs(1);

/// Verifies agent identity tokens against a key set.
///
/// Cheap to clone: clones share the configuration and the key cache.
///
/// # Examples
/// ```
/// # async fn run(jwks_json: &str, token: &str) -> Result<(), agent_identity_jwt::JwtError> {
/// use agent_identity_jwt::{IdentityJwt, StaticJwksSource, Verifier};
///
/// let verifier = Verifier::builder(StaticJwksSource::from_json(jwks_json)?).build();
/// let record = verifier.verify(&IdentityJwt::new(token)).await?;
/// println!("runtime {} in account {}", record.runtime_id(), record.account_id());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: Issuer,
    audience: Audience,
    leeway: Duration,
    algorithms: Vec<SigningAlgorithm>,
    max_token_bytes: usize,
    clock: Arc<dyn Clock>,
    cache: KeyCache,
    key_set_url: Option<Url>,
}

/// Configures a [`Verifier`]. Every setting has a documented default.
pub struct VerifierBuilder {
    source: Arc<dyn JwksSource + Send + Sync>,
    issuer: Issuer,
    audience: Audience,
    leeway: Duration,
    algorithms: Vec<SigningAlgorithm>,
    max_token_bytes: usize,
    policy: CachePolicy,
    clock: Arc<dyn Clock>,
    key_set_url: Option<Url>,
}

impl Verifier {
    /// Starts configuring a verifier whose keys come from `source`. For an
    /// [`HttpJwksSource`](crate::HttpJwksSource), its URL becomes the verifier's
    /// [`key_set_url`](Verifier::key_set_url).
    pub fn builder(source: impl JwksSource + Send + Sync + 'static) -> VerifierBuilder {
        let url = http_source_url(&source);
        let mut builder = Self::builder_from_arc(Arc::new(source));
        builder.key_set_url = url;
        builder
    }

    /// Like [`Verifier::builder`], for a source already behind an `Arc`.
    pub fn builder_from_arc(source: Arc<dyn JwksSource + Send + Sync>) -> VerifierBuilder {
        VerifierBuilder {
            source,
            issuer: Issuer::new(DEFAULT_ISSUER),
            audience: Audience::new(DEFAULT_AUDIENCE),
            leeway: DEFAULT_LEEWAY,
            algorithms: vec![SigningAlgorithm::Rs256],
            max_token_bytes: MAX_TOKEN_BYTES,
            policy: CachePolicy {
                ttl: DEFAULT_KEYS_TTL,
                max_staleness: DEFAULT_MAX_STALENESS,
                refetch_interval: DEFAULT_REFETCH_INTERVAL,
                fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            },
            clock: Arc::new(SystemClock),
            key_set_url: None,
        }
    }

    /// The clock leeway applied to `exp` and `nbf`.
    pub fn leeway(&self) -> Duration {
        self.inner.leeway
    }

    /// Where the keys come from, when that is a URL: the name a persisted key set snapshot is
    /// kept under. Set by [`Verifier::builder`] for an `HttpJwksSource`, or by
    /// [`VerifierBuilder::key_set_url`].
    pub fn key_set_url(&self) -> Option<&Url> {
        self.inner.key_set_url.as_ref()
    }

    /// The key set last fetched (or seeded), to persist for the next process.
    pub fn key_set_snapshot(&self) -> Option<KeySetSnapshot> {
        self.inner.cache.snapshot()
    }

    /// Fills the still empty key cache with a snapshot persisted earlier, aged by the time since
    /// it was fetched: within the TTL, verification then makes no fetch; past it, the usual
    /// stale-while-revalidate rules apply. Returns whether it was used: not when the cache holds
    /// keys already, or the snapshot is past the maximum staleness or holds no usable key.
    pub fn seed_key_set(&self, snapshot: &KeySetSnapshot) -> bool {
        self.inner.cache.seed(snapshot)
    }

    /// The `kid`s of the usable keys in the key set, sorted: the cached key set, or one
    /// fetched now when none is cached. For a diagnosis of which keys are trusted.
    ///
    /// # Errors
    /// [`JwtError::KeySourceUnavailable`] when no usable key set can be had (the source failed,
    /// its answer was over the size cap, or it holds no usable key).
    pub async fn key_ids(&self) -> Result<Vec<String>, JwtError> {
        self.inner.cache.key_ids().await
    }

    /// The clock this verifier reads "now" from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Verifies a token and decodes its record.
    ///
    /// In order: the size bound; the compact shape; the header's `alg` against the allowed
    /// algorithms and its `kid`; the key (from the cache, fetching at most as the cache policy
    /// allows); the signature; then every claim rule, the issuer, the audience, `exp` and `nbf`
    /// with the leeway, and the embedded private key.
    ///
    /// # Errors
    /// A [`JwtError`] naming the first rule that failed. Only
    /// [`JwtError::KeySourceUnavailable`] is transient.
    pub async fn verify(&self, token: &IdentityJwt) -> Result<AgentIdentityRecord, JwtError> {
        let parts = split(token.expose_secret(), self.inner.max_token_bytes)?;
        let (alg, kid) = self.check_header(&parts)?;
        self.check_signature_of(&parts, alg, &kid).await?;
        let record = AgentIdentityRecord::from_payload(token.clone(), &parts.payload()?)?;
        self.check_claims(&record)?;
        Ok(record)
    }

    /// Runs every check of [`Verifier::verify`] that needs no key — the size bound, the shape,
    /// the header's `alg` and `kid`, every claim rule with the clock, and the embedded private
    /// key (parsed, and able to sign) — and returns the token with its signature still to check.
    ///
    /// This lets a caller overlap the key set fetch and signature check with work it would do
    /// next, such as registering a task; nothing learnt from the token may be trusted, stored or
    /// published until [`Verifier::check_signature`] accepts it. The error for a token that is
    /// wrong in several ways may differ from `verify`'s, which checks the signature first.
    ///
    /// # Errors
    /// A [`JwtError`] naming the first local rule that failed, never a transient one.
    pub fn check_locally(&self, token: &IdentityJwt) -> Result<SignaturePending, JwtError> {
        let parts = split(token.expose_secret(), self.inner.max_token_bytes)?;
        let (alg, kid) = self.check_header(&parts)?;
        let record = AgentIdentityRecord::from_payload(token.clone(), &parts.payload()?)?;
        self.check_claims(&record)?;
        record.key().check().map_err(JwtError::InvalidPrivateKey)?;
        Ok(SignaturePending { record, alg, kid })
    }

    /// Checks the signature of a token that passed [`Verifier::check_locally`], fetching the key
    /// as [`Verifier::verify`] would, and returns its record, now verified.
    ///
    /// # Errors
    /// As [`Verifier::verify`] for the key and the signature: [`JwtError::KeySourceUnavailable`]
    /// (transient), an untrusted or not yet known `kid`, an algorithm the key does not fit, or a
    /// bad signature.
    pub async fn check_signature(
        &self,
        pending: SignaturePending,
    ) -> Result<AgentIdentityRecord, JwtError> {
        let SignaturePending { record, alg, kid } = pending;
        let parts = split(record.token().expose_secret(), self.inner.max_token_bytes)?;
        self.check_signature_of(&parts, alg, &kid).await?;
        Ok(record)
    }

    fn check_header(&self, parts: &Parts<'_>) -> Result<(SigningAlgorithm, String), JwtError> {
        let header = parts.header()?;
        let alg = header
            .alg
            .as_deref()
            .and_then(SigningAlgorithm::parse)
            .filter(|alg| self.inner.algorithms.contains(alg))
            .ok_or_else(|| {
                JwtError::algorithm_not_allowed(
                    header.alg.as_deref().unwrap_or(""),
                    self.inner.algorithms.clone(),
                )
            })?;
        let kid = header.kid.ok_or(JwtError::MissingKid)?;
        Ok((alg, kid))
    }

    async fn check_signature_of(
        &self,
        parts: &Parts<'_>,
        alg: SigningAlgorithm,
        kid: &str,
    ) -> Result<(), JwtError> {
        let key = self.inner.cache.key(kid).await?;
        let jwt_alg = key.accepts(alg).ok_or_else(|| {
            let fitting = self
                .inner
                .algorithms
                .iter()
                .copied()
                .filter(|configured| key.accepts(*configured).is_some())
                .collect();
            JwtError::algorithm_not_allowed(alg.as_str(), fitting)
        })?;
        let verified = jsonwebtoken::crypto::verify(
            parts.signature,
            parts.signed.as_bytes(),
            &key.decoding,
            jwt_alg,
        )
        .map_err(|_| JwtError::BadSignature)?;
        if verified {
            Ok(())
        } else {
            Err(JwtError::BadSignature)
        }
    }

    fn check_claims(&self, record: &AgentIdentityRecord) -> Result<(), JwtError> {
        let inner = &*self.inner;
        record.check(
            &inner.issuer,
            &inner.audience,
            inner.clock.now(),
            inner.leeway,
        )
    }

    /// Verifies a token given as text. See [`Verifier::verify`].
    ///
    /// # Errors
    /// As [`Verifier::verify`].
    pub async fn verify_str(&self, token: &str) -> Result<AgentIdentityRecord, JwtError> {
        self.verify(&IdentityJwt::new(token)).await
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .field("leeway", &self.inner.leeway)
            .field("algorithms", &self.inner.algorithms)
            .finish_non_exhaustive()
    }
}

impl VerifierBuilder {
    /// The required `iss`. Defaults to [`DEFAULT_ISSUER`].
    pub fn issuer(mut self, issuer: impl Into<Issuer>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// The audience `aud` must contain. Defaults to [`DEFAULT_AUDIENCE`].
    pub fn audience(mut self, audience: impl Into<Audience>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Clock leeway for `exp` and `nbf`. Defaults to 60 s.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The accepted signature algorithms. Defaults to RS256 alone. An empty list accepts nothing.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = SigningAlgorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Tokens longer than this are refused before any parsing. Defaults to 16 KiB.
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }

    /// How long a fetched key set is fresh. Defaults to 1 h.
    pub fn keys_ttl(mut self, ttl: Duration) -> Self {
        self.policy.ttl = ttl;
        self
    }

    /// How long past its TTL a key set keeps serving while refreshes fail; after that,
    /// verification fails closed with [`JwtError::KeySourceUnavailable`]. Defaults to 24 h.
    pub fn max_staleness(mut self, max: Duration) -> Self {
        self.policy.max_staleness = max;
        self
    }

    /// The shortest interval between refetches triggered by unknown kids or by background
    /// refreshes of a stale key set. Defaults to 30 s.
    pub fn refetch_interval(mut self, interval: Duration) -> Self {
        self.policy.refetch_interval = interval;
        self
    }

    /// The longest a key set fetch may take before it counts as failed, whatever the source.
    /// Defaults to 30 s.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.policy.fetch_timeout = timeout;
        self
    }

    /// Where "now" comes from for `exp` and `nbf`. Defaults to the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Names the key set's URL (see [`Verifier::key_set_url`]), for a source that
    /// [`Verifier::builder`] cannot see the URL of (one given to `builder_from_arc`, or a
    /// custom source).
    pub fn key_set_url(mut self, url: Url) -> Self {
        self.key_set_url = Some(url);
        self
    }

    /// Builds the verifier. No key is fetched until the first verification.
    ///
    /// Also installs aws-lc-rs as jsonwebtoken's process-wide crypto provider, unless one is
    /// installed already: jsonwebtoken picks its provider from its crate features, and when
    /// another dependency enables its `rust_crypto` feature too (Cargo unifies features) it can
    /// pick none and panic on the first signature check.
    pub fn build(self) -> Verifier {
        install_crypto_provider();
        Verifier {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                audience: self.audience,
                leeway: self.leeway,
                algorithms: self.algorithms,
                max_token_bytes: self.max_token_bytes,
                cache: KeyCache::new(self.source, self.policy, Arc::clone(&self.clock)),
                clock: self.clock,
                key_set_url: self.key_set_url,
            }),
        }
    }
}

/// A token that passed every local check of [`Verifier::check_locally`], its signature not yet
/// checked. Its record is for work that may be thrown away (a registration sent ahead), never
/// to be trusted: pass it to [`Verifier::check_signature`].
pub struct SignaturePending {
    record: AgentIdentityRecord,
    alg: SigningAlgorithm,
    kid: String,
}

impl SignaturePending {
    /// The record decoded from the token, NOT verified: its signature is still unchecked.
    pub fn insecure_unverified_record(&self) -> &AgentIdentityRecord {
        &self.record
    }
}

impl fmt::Debug for SignaturePending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignaturePending")
            .field("runtime_id", self.record.runtime_id())
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

struct Parts<'a> {
    /// `header.payload`, the bytes the signature covers.
    signed: &'a str,
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
}

fn split(text: &str, max: usize) -> Result<Parts<'_>, JwtError> {
    if text.len() > max {
        return Err(JwtError::TooLarge {
            len: text.len(),
            max,
        });
    }
    if text.is_empty() {
        return Err(JwtError::Malformed("empty token"));
    }
    let (signed, signature) = text
        .rsplit_once('.')
        .ok_or(JwtError::Malformed("expected three dot-separated segments"))?;
    let (header, payload) = signed
        .split_once('.')
        .ok_or(JwtError::Malformed("expected three dot-separated segments"))?;
    if payload.contains('.') {
        return Err(JwtError::Malformed("expected three dot-separated segments"));
    }
    Ok(Parts {
        signed,
        header,
        payload,
        signature,
    })
}

impl Parts<'_> {
    fn header(&self) -> Result<RawHeader, JwtError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(self.header)
            .map_err(|_| JwtError::Malformed("header is not base64url"))?;
        serde_json::from_slice(&bytes)
            .map_err(|_| JwtError::Malformed("header is not a JSON object"))
    }

    /// The decoded payload. It holds the private key, so it is zeroized on drop.
    fn payload(&self) -> Result<Zeroizing<Vec<u8>>, JwtError> {
        URL_SAFE_NO_PAD
            .decode(self.payload)
            .map(Zeroizing::new)
            .map_err(|_| JwtError::Malformed("payload is not base64url"))
    }
}

/// The URL of an [`HttpJwksSource`](crate::HttpJwksSource), the one source whose URL we know.
fn http_source_url(source: &dyn std::any::Any) -> Option<Url> {
    #[cfg(feature = "http")]
    if let Some(http) = source.downcast_ref::<crate::HttpJwksSource>() {
        return Some(http.url().clone());
    }
    let _ = source;
    None
}

/// Makes aws-lc-rs jsonwebtoken's provider for this process. A provider installed earlier (by the
/// application, or by an earlier call) stays: either is a working backend.
fn install_crypto_provider() {
    let _already_installed = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}
