//! Unit tests of the static key source's file reading: the size cap and non-regular files.

use super::{MAX_KEY_SET_BYTES, StaticJwksSource};
use crate::error::JwtError;

/// An empty but valid key set, padded with whitespace to `len` bytes.
fn padded_key_set(len: usize) -> Vec<u8> {
    let mut json = br#"{"keys":[]}"#.to_vec();
    json.resize(len, b' ');
    json
}

#[track_caller]
fn refusal(result: Result<StaticJwksSource, JwtError>) -> String {
    match result {
        Err(JwtError::InvalidKeySet(message)) => message,
        other => panic!("expected InvalidKeySet, got {other:?}"),
    }
}

#[test]
fn a_key_set_file_of_exactly_one_mebibyte_is_read() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("keys.json");
    std::fs::write(&path, padded_key_set(MAX_KEY_SET_BYTES)).expect("write");
    StaticJwksSource::from_file(&path).expect("a key set at the cap is read");
}

#[test]
fn a_key_set_file_over_one_mebibyte_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("keys.json");
    std::fs::write(&path, padded_key_set(MAX_KEY_SET_BYTES + 1)).expect("write");
    let message = refusal(StaticJwksSource::from_file(&path));
    assert!(message.contains("over the 1048576-byte limit"), "{message}");
}

#[test]
fn a_directory_is_refused_as_a_key_set_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let message = refusal(StaticJwksSource::from_file(dir.path()));
    assert!(message.contains("not a regular file"), "{message}");
}

/// Runs `from_file` on its own thread and waits for it for at most 30 s, so a regression (an
/// `open` blocked on a FIFO, a read of an endless device) fails the test instead of hanging it.
#[cfg(unix)]
fn from_file_in_time(path: std::path::PathBuf) -> Result<StaticJwksSource, JwtError> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(StaticJwksSource::from_file(&path));
    });
    receiver
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("from_file returned instead of blocking")
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("keys.fifo");
    // `mkfifo(1)` rather than libc's: the workspace forbids unsafe code.
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo failed");
    let message = refusal(from_file_in_time(path));
    assert!(message.contains("not a regular file"), "{message}");
}

#[cfg(unix)]
#[test]
fn dev_zero_is_refused_before_it_is_read() {
    let message = refusal(from_file_in_time("/dev/zero".into()));
    assert!(message.contains("not a regular file"), "{message}");
}
