//! Unit tests of the configuration checks.

use super::jwks_url;
use crate::error::Exit;

#[test]
fn jwks_url_requires_https_off_loopback() {
    assert!(jwks_url("https://chatgpt.com/backend-api/wham/agent-identities/jwks").is_ok());
    assert!(jwks_url("http://127.0.0.1:8080/jwks").is_ok());
    assert!(jwks_url("http://localhost/jwks").is_ok());
    assert!(jwks_url("http://[::1]:1/jwks").is_ok());
    let failure = jwks_url("http://example.com/jwks").expect_err("http off loopback");
    assert_eq!(failure.exit(), Exit::Usage);
    assert!(jwks_url("ftp://127.0.0.1/jwks").is_err());
    assert!(jwks_url("not a url").is_err());
}
