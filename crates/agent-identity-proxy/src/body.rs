//! The one body type the proxy sends either way: bytes it holds, or a stream it passes on.
//!
//! An enum rather than a boxed trait object: every request and every response carries one, and
//! a box is an allocation and an indirect call on each.

use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};

use crate::upstream::UpstreamBody;

/// Errors of a streamed body, boxed.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A body the proxy holds whole ([`ProxyBody::full`]) or one it streams from the other side.
///
/// `Debug` shows the form and the length, never the bytes: a held body may be the headers
/// endpoint's answer (a live assertion) or a client's request kept for a replay.
pub(crate) enum ProxyBody {
    /// Held bytes, sent as one frame (taken when sent).
    Full(Option<Bytes>),
    /// The client's request body or the upstream's response body, frame by frame.
    Stream(Incoming),
    /// An upstream response body read from a connection the request drove itself.
    Upstream(UpstreamBody),
}

impl std::fmt::Debug for ProxyBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full(bytes) => f
                .debug_struct("ProxyBody::Full")
                .field("len", &bytes.as_ref().map_or(0, Bytes::len))
                .finish(),
            Self::Stream(_) => f.write_str("ProxyBody::Stream"),
            Self::Upstream(body) => body.fmt(f),
        }
    }
}

impl ProxyBody {
    /// A body of `bytes`; empty bytes make an empty body.
    pub(crate) fn full(bytes: Bytes) -> Self {
        Self::Full((!bytes.is_empty()).then_some(bytes))
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Self::Full(bytes) => Poll::Ready(bytes.take().map(|bytes| Ok(Frame::data(bytes)))),
            Self::Stream(body) => Pin::new(body).poll_frame(cx).map_err(BoxError::from),
            Self::Upstream(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Full(bytes) => bytes.is_none(),
            Self::Stream(body) => body.is_end_stream(),
            Self::Upstream(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |bytes| bytes.len() as u64))
            }
            Self::Stream(body) => body.size_hint(),
            Self::Upstream(body) => body.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;

    #[tokio::test]
    async fn a_full_body_is_its_bytes_once_with_an_exact_length() {
        let body = ProxyBody::full(Bytes::from_static(b"abc"));
        assert_eq!(body.size_hint().exact(), Some(3));
        assert!(!body.is_end_stream());
        let collected = body.collect().await.expect("infallible").to_bytes();
        assert_eq!(collected, Bytes::from_static(b"abc"));
    }

    #[test]
    fn debug_shows_the_length_and_never_the_bytes() {
        let body = ProxyBody::full(Bytes::from_static(b"AgentAssertion sentinel-secret"));
        let shown = format!("{body:?}");
        assert!(!shown.contains("sentinel-secret"), "{shown}");
        assert!(shown.contains("30"), "{shown}");
    }

    #[tokio::test]
    async fn an_empty_full_body_ends_at_once() {
        let body = ProxyBody::full(Bytes::new());
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
        assert!(
            body.collect()
                .await
                .expect("infallible")
                .to_bytes()
                .is_empty()
        );
    }
}
