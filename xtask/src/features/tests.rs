//! The feature matrix reads its combinations from a manifest's `[features]` table.

use super::*;

const MANIFEST: &str = r#"
[package]
name = "demo"

[features]
default = ["http"]
# The HTTP source.
http = ["dep:reqwest"]
keyring = [
    "dep:keyring",
]

[dependencies]
serde = { version = "1", features = ["derive"] }
"#;

#[test]
fn every_feature_but_default_is_a_combination_after_none() {
    assert_eq!(
        combinations(MANIFEST),
        vec![None, Some("http"), Some("keyring")]
    );
}

#[test]
fn a_crate_without_features_is_checked_once_with_none() {
    assert_eq!(combinations("[package]\nname = \"demo\"\n"), vec![None]);
}
