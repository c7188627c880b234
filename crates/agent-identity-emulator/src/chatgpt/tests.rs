//! Unit tests for the OpenSSH key parser and the ChatGPT tokens' claims.

use super::{parse_ssh_ed25519, ssh_ed25519};

#[test]
fn an_openssh_ed25519_key_round_trips_with_or_without_a_comment() {
    let key = [7u8; 32];
    let text = ssh_ed25519(&key);
    assert!(
        text.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA"),
        "{text}"
    );
    assert_eq!(parse_ssh_ed25519(&text), Some(key));
    assert_eq!(parse_ssh_ed25519(&format!("{text} agent@host")), Some(key));
}

#[test]
fn keys_of_another_type_or_length_are_refused() {
    let good = ssh_ed25519(&[1u8; 32]);
    let blob = good
        .split_once(' ')
        .map(|(_, blob)| blob)
        .unwrap_or_default();
    for bad in [
        String::new(),
        "ssh-ed25519".to_owned(),
        format!("ssh-rsa {blob}"),
        "ssh-ed25519 not-base64!".to_owned(),
        // The blob without its last byte: a 31-byte key.
        {
            use base64::Engine as _;
            let engine = base64::engine::general_purpose::STANDARD;
            let mut bytes = engine.decode(blob).unwrap_or_default();
            bytes.pop();
            format!("ssh-ed25519 {}", engine.encode(bytes))
        },
        // A trailing byte after the key.
        {
            use base64::Engine as _;
            let engine = base64::engine::general_purpose::STANDARD;
            let mut bytes = engine.decode(blob).unwrap_or_default();
            bytes.push(0);
            format!("ssh-ed25519 {}", engine.encode(bytes))
        },
    ] {
        assert_eq!(parse_ssh_ed25519(&bad), None, "{bad:?}");
    }
}
