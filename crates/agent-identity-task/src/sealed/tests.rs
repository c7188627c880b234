//! Unit tests for sealed task ids and the response forms.

use super::*;

fn key() -> AgentKey {
    AgentKey::from_seed([42; 32])
}

fn kind<T: std::fmt::Debug>(result: Result<T, TaskError>) -> TaskErrorKind {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(error) => error.reason(),
    }
}

#[test]
fn sealing_for_the_key_opens_with_the_key() {
    let sealed = seal_task_id(&key(), "task-abc").unwrap_or_else(|e| panic!("{e}"));
    let opened = open_task_id(&key(), &sealed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(opened, TaskId::new("task-abc"));
    // A fresh ephemeral key every time.
    assert_ne!(sealed, seal_task_id(&key(), "task-abc").unwrap_or_default());
}

#[test]
fn sealing_for_the_public_key_opens_with_the_private_key() {
    let public = key().public_key().unwrap_or_else(|e| panic!("{e}"));
    let sealed = seal_task_id_for_public_key(&public, "task-xyz").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        open_task_id(&key(), &sealed).ok(),
        Some(TaskId::new("task-xyz"))
    );
    assert_eq!(
        kind(open_task_id(&AgentKey::from_seed([1; 32]), &sealed)),
        TaskErrorKind::Undecryptable
    );
}

#[test]
fn a_point_off_the_curve_is_an_invalid_key() {
    // y = 2 is not the y-coordinate of any Ed25519 point.
    let mut bytes = [0u8; 32];
    bytes[0] = 2;
    let error = seal_task_id_for_public_key(&bytes, "t")
        .err()
        .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(error.reason(), TaskErrorKind::InvalidKey);
    assert_eq!(error.operation(), Operation::SealTaskId);
}

#[test]
fn opening_fails_step_by_step() {
    assert_eq!(
        kind(open_task_id(&key(), "not base64!")),
        TaskErrorKind::BadBase64
    );
    assert_eq!(
        kind(open_task_id(&key(), "AAAA")),
        TaskErrorKind::Undecryptable
    );
    let public = SecretKey::from_bytes(*key().x25519_secret()).public_key();
    let not_utf8 = STANDARD.encode(public.seal(&mut OsRng, &[0xff, 0xfe]).unwrap_or_default());
    assert_eq!(
        kind(open_task_id(&key(), &not_utf8)),
        TaskErrorKind::NotUtf8
    );
    let empty = STANDARD.encode(public.seal(&mut OsRng, b"").unwrap_or_default());
    assert_eq!(
        kind(open_task_id(&key(), &empty)),
        TaskErrorKind::MissingTaskId
    );
}

#[test]
fn a_low_order_ephemeral_key_is_undecryptable_even_with_a_valid_box() {
    use crypto_secretbox::{Kdf as _, KeyInit as _, XSalsa20Poly1305};
    // A point of small order as the ephemeral key gives an all-zero shared secret for every
    // recipient, so anyone could seal a box "for" any agent: libsodium refuses it, and so must we.
    let recipient = SecretKey::from_bytes(*key().x25519_secret()).public_key();
    let mut order_four = [0u8; 32];
    order_four[0] = 1;
    for ephemeral in [[0u8; 32], order_four] {
        let zero_key = XSalsa20Poly1305::kdf(&Default::default(), &Default::default());
        let mut nonce = Blake2b::<U24>::new();
        nonce.update(ephemeral);
        nonce.update(recipient.as_bytes());
        let forged = XSalsa20Poly1305::new(&zero_key)
            .encrypt(&nonce.finalize(), b"forged-task".as_slice())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut sealed = ephemeral.to_vec();
        sealed.extend_from_slice(&forged);
        assert_eq!(
            kind(open_task_id(&key(), &STANDARD.encode(&sealed))),
            TaskErrorKind::Undecryptable
        );
    }
}

#[test]
fn response_fields_are_tried_in_order() {
    let sealed = seal_task_id(&key(), "sealed").unwrap_or_else(|e| panic!("{e}"));
    let parse = |json: String| task_id_from_response(json.as_bytes(), &key(), None);
    let cases = [
        (r#"{"task_id":"a","taskId":"b"}"#.to_owned(), "a"),
        (r#"{"taskId":"b","task_id":null}"#.to_owned(), "b"),
        (
            format!(r#"{{"taskId":"b","encrypted_task_id":"{sealed}"}}"#),
            "b",
        ),
        (
            format!(r#"{{"encrypted_task_id":"{sealed}","encryptedTaskId":"x"}}"#),
            "sealed",
        ),
        (
            format!(r#"{{"encryptedTaskId":"{sealed}","other":1}}"#),
            "sealed",
        ),
        (
            format!(r#"{{"task_id":"","encryptedTaskId":"{sealed}"}}"#),
            "sealed",
        ),
    ];
    for (json, expected) in cases {
        assert_eq!(
            parse(json.clone()).ok(),
            Some(TaskId::new(expected)),
            "{json}"
        );
    }
}

#[test]
fn malformed_and_empty_responses_are_distinct_errors() {
    let parse = |json: &str| task_id_from_response(json.as_bytes(), &key(), None);
    assert_eq!(kind(parse("not json")), TaskErrorKind::MalformedResponse);
    assert_eq!(
        kind(parse("[\"task_id\"]")),
        TaskErrorKind::MalformedResponse
    );
    assert_eq!(
        kind(parse(r#"{"task_id":7}"#)),
        TaskErrorKind::MalformedResponse
    );
    assert_eq!(kind(parse("{}")), TaskErrorKind::MissingTaskId);
    assert_eq!(kind(parse(r#"{"id":"x"}"#)), TaskErrorKind::MissingTaskId);
    assert_eq!(
        kind(parse(r#"{"encrypted_task_id":"%%%"}"#)),
        TaskErrorKind::BadBase64
    );
    let error = parse(r#"{"encrypted_task_id":"%%%"}"#)
        .err()
        .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(error.operation(), Operation::Register);
}

#[test]
fn the_mapped_public_key_is_the_one_the_seed_derives() {
    for seed in [[0u8; 32], [42; 32], [255; 32]] {
        let key = AgentKey::from_seed(seed);
        let derived = SecretKey::from_bytes(*key.x25519_secret()).public_key();
        let public = key.public_key().unwrap_or_else(|e| panic!("{e}"));
        let mapped = x25519_public_key(&public).unwrap_or_else(|| panic!("on the curve"));
        assert_eq!(mapped.as_bytes(), derived.as_bytes());
    }
}

#[test]
fn a_box_sealed_for_someone_else_or_cut_short_does_not_open() {
    let other = AgentKey::from_seed([7; 32]);
    let sealed = seal_task_id(&other, "task-abc").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        kind(open_task_id(&key(), &sealed)),
        TaskErrorKind::Undecryptable
    );
    let bytes = STANDARD.decode(&sealed).unwrap_or_else(|e| panic!("{e}"));
    for cut in [0, 16, 31, 32, 47, bytes.len() - 1] {
        let short = STANDARD.encode(&bytes[..cut]);
        assert_eq!(
            kind(open_task_id(&other, &short)),
            TaskErrorKind::Undecryptable,
            "cut at {cut}"
        );
    }
}

#[test]
fn a_prepared_opener_opens_what_the_key_opens_and_refuses_the_rest() {
    let opener = Opener::new(&key()).unwrap_or_else(|| panic!("a 32-byte secret loads"));
    let sealed = seal_task_id(&key(), "task-prepared").unwrap_or_else(|e| panic!("{e}"));
    let body = format!(r#"{{"encrypted_task_id":"{sealed}"}}"#);
    assert_eq!(
        task_id_from_response(body.as_bytes(), &key(), Some(&opener)).ok(),
        Some(TaskId::new("task-prepared"))
    );
    let other = Opener::new(&AgentKey::from_seed([1; 32])).unwrap_or_else(|| panic!("loads"));
    assert_eq!(
        kind(task_id_from_response(body.as_bytes(), &key(), Some(&other))),
        TaskErrorKind::Undecryptable
    );
}
