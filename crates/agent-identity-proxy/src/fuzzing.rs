//! Entry points for the fuzz targets into steps that are otherwise private. Not part of the
//! public API; for fuzzing.

use bytes::BytesMut;
use hyper::http::Method;

use crate::upstream::wire::{Parsed, Step, parse_head};

/// Reads `data` as an upstream's answer, the way a request with a held body reads it: heads
/// until a final one, then the body by its framing, through the end of the connection. The
/// first byte picks the request's method (odd: `HEAD`) and how many bytes each read brings
/// (1 to 64), so that every split of a head, a chunk size or a trailer is met.
///
/// Panics if a step breaks an invariant: an empty data step, or more body than a
/// `Content-Length` said. A step that loops without end is the fuzzer's timeout.
///
/// Not part of the public API; for fuzzing. It may change or go away in any release.
#[doc(hidden)]
pub fn upstream_response(data: &[u8]) {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let method = if first & 1 == 1 {
        Method::HEAD
    } else {
        Method::GET
    };
    let piece = usize::from(first >> 1) % 64 + 1;
    let mut buf = BytesMut::new();
    let mut fields = Vec::new();
    let mut read = |buf: &mut BytesMut| -> bool {
        if rest.is_empty() {
            return false;
        }
        let (now, later) = rest.split_at(piece.min(rest.len()));
        buf.extend_from_slice(now);
        rest = later;
        true
    };
    let mut head = loop {
        match parse_head(&mut buf, &method, &mut fields) {
            Ok(Parsed::Final(head)) => break head,
            Ok(Parsed::Informational) => {}
            Ok(Parsed::Partial) => {
                if !read(&mut buf) {
                    return;
                }
            }
            Err(_) => return,
        }
    };
    let declared = head
        .headers
        .get(hyper::http::header::CONTENT_LENGTH)
        .and_then(|value| {
            value
                .to_str()
                .ok()?
                .split(',')
                .next()?
                .trim()
                .parse::<u64>()
                .ok()
        });
    let chunked = head
        .headers
        .contains_key(hyper::http::header::TRANSFER_ENCODING);
    let mut body = 0_u64;
    loop {
        match head.framing.step(&mut buf) {
            Ok(Step::Data(data)) => {
                assert!(!data.is_empty(), "an empty data step");
                body += data.len() as u64;
                if let Some(declared) = declared.filter(|_| !chunked && method != Method::HEAD) {
                    assert!(body <= declared, "{body} bytes of a body of {declared}");
                }
            }
            Ok(Step::Trailers(_) | Step::End) => return,
            Ok(Step::More) => {
                if !read(&mut buf) {
                    let _ = head.framing.at_close();
                    return;
                }
            }
            Err(_) => return,
        }
    }
}
