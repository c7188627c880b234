//! The MSRV check reads its version from the manifest and finds the toolchain rustup lists.

use super::*;

#[test]
fn the_rust_version_is_read_from_the_workspace_package_table() {
    let manifest = "[workspace]\nmembers = []\n\n[workspace.package]\nedition = \"2024\"\n\
                    rust-version = \"1.89\" # the promise\n\n[workspace.dependencies]\n";
    assert_eq!(rust_version(manifest), Some("1.89"));
    assert_eq!(
        rust_version("[workspace.dependencies]\nrust-version = \"1\"\n"),
        None
    );
}

#[test]
fn a_listed_toolchain_matches_its_version_and_no_longer_one() {
    let listed = "stable-x86_64-unknown-linux-gnu (default)\n\
                  1.89-x86_64-unknown-linux-gnu\n1.95.0-x86_64-unknown-linux-gnu (active)\n";
    assert!(has_toolchain(listed, "1.89"));
    assert!(has_toolchain(listed, "1.95"));
    assert!(!has_toolchain(listed, "1.9"));
    assert!(!has_toolchain("1.890-x86_64-unknown-linux-gnu\n", "1.89"));
    assert!(!has_toolchain("", "1.89"));
}
