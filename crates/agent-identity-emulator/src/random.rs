//! Random ids from the system random source (aws-lc-rs), as lowercase hex.

use std::fmt::Write as _;

use crate::error::EmulatorError;

/// `prefix` followed by `bytes` random bytes in lowercase hex.
pub(crate) fn hex_id(prefix: &str, bytes: usize) -> Result<String, EmulatorError> {
    let mut raw = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut raw).map_err(|_| EmulatorError::Random)?;
    let mut out = String::with_capacity(prefix.len() + 2 * bytes);
    out.push_str(prefix);
    for byte in raw {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    Ok(out)
}
