//! Task ids in the registration response (wire-format §3): the four response forms, and the
//! libsodium sealed box that carries an encrypted task id — opened by clients, sealed by servers.

use agent_identity_jwt::AgentKey;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use blake2::Blake2b;
use blake2::digest::Digest as _;
use blake2::digest::consts::U24;
use crypto_box::aead::{Aead as _, OsRng};
use crypto_box::{PublicKey, SecretKey};
use curve25519_dalek::edwards::CompressedEdwardsY;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::error::{Operation, TaskError, TaskErrorKind};
use crate::response::RegistrationForm;
use crate::task_id::{MAX_TASK_ID_BYTES, TaskId};

/// Opens a sealed, standard-base64 task id addressed to `key`'s agent.
///
/// # Errors
/// [`TaskErrorKind::BadBase64`], [`TaskErrorKind::Undecryptable`] or [`TaskErrorKind::NotUtf8`]
/// as the text fails each step, and [`TaskErrorKind::MissingTaskId`] for an empty plaintext.
pub fn open_task_id(key: &AgentKey, encrypted_base64: &str) -> Result<TaskId, TaskError> {
    open(key, encrypted_base64, Operation::OpenTaskId)
}

/// Seals `task_id` for `key`'s agent and returns the standard base64 of the sealed box: what a
/// server puts in `encrypted_task_id`. For emulators and tests that hold the agent's key.
///
/// # Errors
/// [`TaskErrorKind::InvalidKey`] if the sealed box cannot be made (the system random source failed).
pub fn seal_task_id(key: &AgentKey, task_id: &str) -> Result<String, TaskError> {
    let public = SecretKey::from_bytes(*key.x25519_secret()).public_key();
    seal(&public, task_id)
}

/// Seals `task_id` for the agent whose raw 32-byte Ed25519 public key is `ed25519_public_key`,
/// converted to its X25519 form as libsodium's `crypto_sign_ed25519_pk_to_curve25519` does. This
/// is what a real server does: it knows the agent's public key only.
///
/// # Errors
/// [`TaskErrorKind::InvalidKey`] when the bytes are not a valid Ed25519 point, or the sealed box
/// cannot be made.
pub fn seal_task_id_for_public_key(
    ed25519_public_key: &[u8; 32],
    task_id: &str,
) -> Result<String, TaskError> {
    let recipient = x25519_public_key(ed25519_public_key).ok_or_else(|| {
        TaskError::new(Operation::SealTaskId, TaskErrorKind::InvalidKey)
            .with_detail("not an ed25519 public key")
    })?;
    seal(&recipient, task_id)
}

/// The X25519 form of an Ed25519 public key (the birational map of RFC 7748 §4.1, libsodium's
/// `crypto_sign_ed25519_pk_to_curve25519`), or `None` when the bytes are not a curve point.
fn x25519_public_key(ed25519_public_key: &[u8; 32]) -> Option<PublicKey> {
    let point = CompressedEdwardsY(*ed25519_public_key).decompress()?;
    Some(PublicKey::from(point.to_montgomery()))
}

fn seal(recipient: &PublicKey, task_id: &str) -> Result<String, TaskError> {
    let sealed = recipient
        .seal(&mut OsRng, task_id.as_bytes())
        .map_err(|_| TaskError::new(Operation::SealTaskId, TaskErrorKind::InvalidKey))?;
    Ok(STANDARD.encode(sealed))
}

fn open(key: &AgentKey, encrypted_base64: &str, operation: Operation) -> Result<TaskId, TaskError> {
    open_with(|sealed| unseal(key, sealed), encrypted_base64, operation)
}

fn open_with(
    unseal: impl FnOnce(&[u8]) -> Option<Vec<u8>>,
    encrypted_base64: &str,
    operation: Operation,
) -> Result<TaskId, TaskError> {
    let sealed = STANDARD
        .decode(encrypted_base64.trim())
        .map_err(|_| TaskError::new(operation, TaskErrorKind::BadBase64))?;
    let plaintext =
        unseal(&sealed).ok_or_else(|| TaskError::new(operation, TaskErrorKind::Undecryptable))?;
    let task_id = String::from_utf8(plaintext)
        .map_err(|_| TaskError::new(operation, TaskErrorKind::NotUtf8))?;
    if task_id.is_empty() {
        return Err(TaskError::new(operation, TaskErrorKind::MissingTaskId)
            .with_detail("the decrypted task id is empty"));
    }
    checked_task_id(task_id, operation)
}

/// A task id from the AuthAPI, refused when it could not be used: longer than
/// [`MAX_TASK_ID_BYTES`] (an assertion carrying it would pass the verifiers' header limit) or
/// holding control characters (which no id needs, and which would reach terminals and logs).
fn checked_task_id(task_id: String, operation: Operation) -> Result<TaskId, TaskError> {
    if task_id.len() > MAX_TASK_ID_BYTES || task_id.chars().any(char::is_control) {
        return Err(TaskError::new(operation, TaskErrorKind::InvalidTaskId));
    }
    Ok(TaskId::new(task_id))
}

/// libsodium's `crypto_box_seal_open`, with a key prepared for it.
fn unseal(key: &AgentKey, sealed: &[u8]) -> Option<Vec<u8>> {
    Opener::new(key)?.open(sealed)
}

/// The agent's X25519 key, loaded to open sealed boxes: what a registration prepares while its
/// request is in flight, so that only the agreement itself is left once the answer arrives.
///
/// The agreement runs on aws-lc-rs (the tree's crypto backend, and faster than
/// curve25519-dalek's ladder); the box is then opened as `crypto_box` would, with the key HSalsa20
/// derives from the shared secret. The recipient's X25519 public key, which the nonce binds, is the
/// one aws-lc derives when it loads the secret.
pub(crate) struct Opener {
    secret: aws_lc_rs::agreement::PrivateKey,
    recipient: [u8; EPHEMERAL_KEY_LEN],
}

impl Opener {
    /// Loads `key`'s X25519 secret (one fixed-base scalar multiplication); `None` if aws-lc
    /// refuses it, which a 32-byte secret never is.
    pub(crate) fn new(key: &AgentKey) -> Option<Self> {
        use aws_lc_rs::agreement::{PrivateKey, X25519};
        let secret = PrivateKey::from_private_key(&X25519, key.x25519_secret().as_slice()).ok()?;
        let recipient = secret.compute_public_key().ok()?.as_ref().try_into().ok()?;
        Some(Self { secret, recipient })
    }

    /// Opens a sealed box addressed to this key; `None` when it does not open.
    fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        use aws_lc_rs::agreement::{self, UnparsedPublicKey, X25519};
        use crypto_secretbox::{Kdf as _, KeyInit as _, XSalsa20Poly1305};

        if sealed.len() < EPHEMERAL_KEY_LEN {
            return None;
        }
        let (ephemeral, ciphertext) = sealed.split_at(EPHEMERAL_KEY_LEN);
        // An all-zero shared secret (a low-order ephemeral key) is refused, as libsodium
        // refuses it.
        let box_key = agreement::agree(
            &self.secret,
            UnparsedPublicKey::new(&X25519, ephemeral),
            (),
            |shared| {
                let shared = crypto_secretbox::Key::from_slice(shared);
                Ok(Zeroizing::new(XSalsa20Poly1305::kdf(
                    shared,
                    &Default::default(),
                )))
            },
        )
        .ok()?;
        let mut nonce = Blake2b::<U24>::new();
        nonce.update(ephemeral);
        nonce.update(self.recipient);
        XSalsa20Poly1305::new(&box_key)
            .decrypt(&nonce.finalize(), ciphertext)
            .ok()
    }
}

/// The ephemeral X25519 public key that starts every sealed box.
const EPHEMERAL_KEY_LEN: usize = 32;

/// Reads the task id out of a 2xx registration response body, trying the fields of
/// [`RegistrationForm::ALL`] in order.
/// A field that is absent, `null` or empty is skipped; one of another type is an error.
/// `opener` is `key`'s, prepared ahead; without one, it is made when a sealed id is found.
pub(crate) fn task_id_from_response(
    body: &[u8],
    key: &AgentKey,
    opener: Option<&Opener>,
) -> Result<TaskId, TaskError> {
    let malformed = |detail: &'static str| {
        TaskError::new(Operation::Register, TaskErrorKind::MalformedResponse).with_detail(detail)
    };
    // serde_json's messages can quote the input, so they are not passed on.
    let object: Map<String, Value> =
        serde_json::from_slice(body).map_err(|_| malformed("the body is not a json object"))?;
    for form in RegistrationForm::ALL {
        let encrypted = form.is_encrypted();
        match object.get(form.field()) {
            None | Some(Value::Null) => {}
            Some(Value::String(value)) if value.is_empty() => {}
            Some(Value::String(value)) if encrypted => {
                return match opener {
                    Some(opener) => {
                        open_with(|sealed| opener.open(sealed), value, Operation::Register)
                    }
                    None => open(key, value, Operation::Register),
                };
            }
            Some(Value::String(value)) => {
                return checked_task_id(value.clone(), Operation::Register);
            }
            Some(_) => return Err(malformed("a task id field is not a string")),
        }
    }
    Err(TaskError::new(
        Operation::Register,
        TaskErrorKind::MissingTaskId,
    ))
}

#[cfg(test)]
mod tests;
