//! Unit tests of the agent registration's wire pieces.

use super::*;

#[test]
fn the_public_key_is_an_openssh_ed25519_line() {
    let line = openssh_ed25519(&[7u8; 32]);
    let encoded = line.strip_prefix("ssh-ed25519 ").expect("prefix");
    let wire = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    assert_eq!(&wire[..4], &11u32.to_be_bytes());
    assert_eq!(&wire[4..15], b"ssh-ed25519");
    assert_eq!(&wire[15..19], &32u32.to_be_bytes());
    assert_eq!(&wire[19..], &[7u8; 32]);
    // The form every OpenSSH Ed25519 key starts with.
    assert!(encoded.starts_with("AAAAC3NzaC1lZDI1NTE5AAAAI"), "{line}");
}

#[test]
fn an_answer_without_a_runtime_id_is_malformed() {
    for body in [
        &b"{}"[..],
        b"not json",
        br#"{"agent_runtime_id":""}"#,
        br#"{"agent_runtime_id":7}"#,
        br#"{"agent_runtime_id":"a\nb"}"#,
    ] {
        let error = runtime_id_from(body).expect_err("malformed");
        assert_eq!(error.reason(), TaskErrorKind::MalformedResponse);
        assert!(!error.is_transient());
    }
    assert_eq!(
        runtime_id_from(br#"{"agent_runtime_id":"agent-1"}"#)
            .expect("ok")
            .as_str(),
        "agent-1"
    );
}
