//! Where verification keys come from: implementations of `jwks_client_rs`'s `JwksSource` seam.

use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use jwks_client_rs::source::JwksSource;
use jwks_client_rs::{JsonWebKeySet, JwksClientError};

use crate::error::JwtError;
use crate::jwks::parse_key_set;

/// 1 MiB: the most of a key set read, from a file or over HTTP. A real key set is a few KiB;
/// anything near this is not one.
const MAX_KEY_SET_BYTES: usize = 1 << 20;

/// A fixed key set, from a JWKS file or JSON text, for machines that cannot reach the endpoint.
///
/// Unusable keys are skipped with a warning, exactly as the HTTP source does.
#[derive(Debug, Clone)]
pub struct StaticJwksSource {
    set: Arc<JsonWebKeySet>,
}

impl StaticJwksSource {
    /// Parses JWK Set JSON.
    ///
    /// # Errors
    /// [`JwtError::InvalidKeySet`] when the text is not a JWK Set.
    pub fn from_json(json: impl AsRef<[u8]>) -> Result<Self, JwtError> {
        let set = parse_key_set(json.as_ref()).map_err(JwtError::InvalidKeySet)?;
        Ok(Self { set: Arc::new(set) })
    }

    /// Reads and parses a JWKS file of at most 1 MiB, the cap of the HTTP source.
    ///
    /// Only a regular file is read (a symbolic link to one is followed). The file is opened
    /// without blocking, so a FIFO is refused rather than waited on, and a device such as
    /// `/dev/zero` is refused before a byte is read.
    ///
    /// # Errors
    /// [`JwtError::InvalidKeySet`] when the file cannot be opened or read, is not a regular file,
    /// is over 1 MiB, or is not a JWK Set.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, JwtError> {
        let path = path.as_ref();
        let unreadable = |error: std::io::Error| {
            JwtError::InvalidKeySet(format!("cannot read {}: {error}", path.display()))
        };
        let file = open_without_blocking(path).map_err(unreadable)?;
        // fstat on the opened file, so what is checked is what is read.
        if !file.metadata().map_err(unreadable)?.is_file() {
            return Err(JwtError::InvalidKeySet(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        let mut json = Vec::new();
        // One byte over the cap tells a file at the cap from a larger one without reading it all.
        file.take(MAX_KEY_SET_BYTES as u64 + 1)
            .read_to_end(&mut json)
            .map_err(unreadable)?;
        if json.len() > MAX_KEY_SET_BYTES {
            return Err(JwtError::InvalidKeySet(format!(
                "{} is over the {MAX_KEY_SET_BYTES}-byte limit of a key set",
                path.display()
            )));
        }
        Self::from_json(json)
    }
}

/// Opens `path` for reading with `O_NONBLOCK` where there is such a thing: opening a FIFO then
/// returns at once instead of waiting for a writer. (It changes nothing for a regular file.)
fn open_without_blocking(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

#[async_trait]
impl JwksSource for StaticJwksSource {
    async fn fetch_keys(&self) -> Result<JsonWebKeySet, JwksClientError> {
        Ok(JsonWebKeySet::clone(&self.set))
    }
}

#[cfg(feature = "http")]
pub use http::{HttpJwksSource, HttpJwksSourceBuilder};

#[cfg(feature = "http")]
mod http {
    use std::sync::Arc;
    use std::time::Duration;

    use async_trait::async_trait;
    use jsonwebtoken::errors::{ErrorKind, new_error};
    use jwks_client_rs::source::JwksSource;
    use jwks_client_rs::{JsonWebKeySet, JwksClientError};
    use url::Url;

    use super::{MAX_KEY_SET_BYTES, parse_key_set};
    use crate::url::{UrlRefusal, UrlRule};

    /// A key set URL may carry a query (some endpoints version their key sets that way).
    const KEY_SET_URL: UrlRule = UrlRule::new().allow_query();

    /// 10 s: the reference client's JWKS timeout.
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    /// 1 MiB, as for a key set file.
    const DEFAULT_MAX_BODY: usize = MAX_KEY_SET_BYTES;

    /// Fetches the key set with `GET` on a shared `reqwest::Client`.
    ///
    /// Each fetch has a timeout (10 s by default) and reads at most a bounded body (1 MiB by
    /// default). Unusable keys are skipped with a `tracing` warning. Cheap to clone.
    #[derive(Debug, Clone)]
    pub struct HttpJwksSource {
        inner: Arc<Inner>,
    }

    #[derive(Debug)]
    struct Inner {
        client: reqwest::Client,
        url: Url,
        timeout: Duration,
        max_body: usize,
    }

    /// Configures an [`HttpJwksSource`].
    #[derive(Debug)]
    pub struct HttpJwksSourceBuilder {
        client: Option<reqwest::Client>,
        url: Url,
        timeout: Duration,
        max_body: usize,
    }

    impl HttpJwksSource {
        /// A source for `url` with the defaults.
        ///
        /// The key set decides which tokens are trusted, so `url` must pass the workspace's
        /// [`UrlRule`] (a query allowed): `https`, or `http` to a loopback host only.
        ///
        /// # Errors
        /// The [`UrlRefusal`] when `url` is not acceptable.
        pub fn new(url: Url) -> Result<Self, UrlRefusal> {
            Ok(Self::builder(url)?.build())
        }

        /// Starts configuring a source for `url`, checked as for [`new`](Self::new).
        ///
        /// # Errors
        /// The [`UrlRefusal`] when `url` is not acceptable.
        pub fn builder(url: Url) -> Result<HttpJwksSourceBuilder, UrlRefusal> {
            KEY_SET_URL.check(&url)?;
            Ok(Self::unchecked_builder(url))
        }

        /// [`new`](Self::new), also accepting plain `http` to any host. Anyone on the path can
        /// then substitute the key set, and with it which tokens are trusted.
        ///
        /// # Errors
        /// The [`UrlRefusal`] for anything else the rule refuses (credentials, a fragment, a
        /// scheme other than `http` or `https`).
        pub fn insecure_new(url: Url) -> Result<Self, UrlRefusal> {
            Ok(Self::insecure_builder(url)?.build())
        }

        /// [`builder`](Self::builder), also accepting plain `http` to any host, as for
        /// [`insecure_new`](Self::insecure_new).
        ///
        /// # Errors
        /// As for [`insecure_new`](Self::insecure_new).
        pub fn insecure_builder(url: Url) -> Result<HttpJwksSourceBuilder, UrlRefusal> {
            KEY_SET_URL.insecure_plain_http().check(&url)?;
            Ok(Self::unchecked_builder(url))
        }

        fn unchecked_builder(url: Url) -> HttpJwksSourceBuilder {
            HttpJwksSourceBuilder {
                client: None,
                url,
                timeout: DEFAULT_TIMEOUT,
                max_body: DEFAULT_MAX_BODY,
            }
        }

        /// The URL fetched.
        pub fn url(&self) -> &Url {
            &self.inner.url
        }

        async fn fetch(&self) -> Result<JsonWebKeySet, JwksClientError> {
            let inner = &*self.inner;
            let mut response = inner
                .client
                .get(inner.url.clone())
                .timeout(inner.timeout)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(from_reqwest)?;
            // Our own client follows no redirects; a caller's client might. Keys are trusted
            // for where they come from, so an answer from anywhere else is refused.
            if response.status().is_redirection() || *response.url() != inner.url {
                return Err(provider_error(
                    "the key set endpoint answered with a redirect, and redirects are not followed",
                ));
            }
            if response
                .content_length()
                .is_some_and(|len| len > inner.max_body as u64)
            {
                return Err(provider_error(
                    "the key set response is over the size limit",
                ));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(from_reqwest)? {
                if body.len() + chunk.len() > inner.max_body {
                    return Err(provider_error(
                        "the key set response is over the size limit",
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            parse_key_set(&body).map_err(provider_error)
        }
    }

    impl HttpJwksSourceBuilder {
        /// Uses this client, sharing its connection pool. Defaults to a new client that follows
        /// no redirects. A client given here should follow none either
        /// (`reqwest::redirect::Policy::none()`); if it does, the redirected answer is refused.
        pub fn client(mut self, client: reqwest::Client) -> Self {
            self.client = Some(client);
            self
        }

        /// The time limit of one fetch. Defaults to 10 s.
        pub fn timeout(mut self, timeout: Duration) -> Self {
            self.timeout = timeout;
            self
        }

        /// The largest response body read. Defaults to 1 MiB.
        pub fn max_body_bytes(mut self, max: usize) -> Self {
            self.max_body = max;
            self
        }

        /// Builds the source.
        pub fn build(self) -> HttpJwksSource {
            HttpJwksSource {
                inner: Arc::new(Inner {
                    client: self.client.unwrap_or_else(no_redirect_client),
                    url: self.url,
                    timeout: self.timeout,
                    max_body: self.max_body,
                }),
            }
        }
    }

    #[async_trait]
    impl JwksSource for HttpJwksSource {
        async fn fetch_keys(&self) -> Result<JsonWebKeySet, JwksClientError> {
            self.fetch().await
        }
    }

    /// reqwest's default client, following no redirects.
    fn no_redirect_client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            // Only a TLS backend that cannot start fails here, and then `Client::new` panics,
            // as it would have without this policy.
            .unwrap_or_else(|_| reqwest::Client::new())
    }

    fn from_reqwest(error: reqwest::Error) -> JwksClientError {
        // `jwks_client_rs` keeps its inner error type private but converts from `reqwest::Error`.
        JwksClientError::Error(Arc::new(error.into()))
    }

    fn provider_error(message: impl Into<String>) -> JwksClientError {
        new_error(ErrorKind::Provider(message.into())).into()
    }
}

#[cfg(test)]
mod tests;
