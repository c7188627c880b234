//! A response body, decoded out of its connection's read buffer as the client reads it:
//! by its length, chunk by chunk (extensions passed over, trailers kept), or until the close.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf as _, BytesMut};
use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::http::header::{HeaderMap, HeaderName, HeaderValue};

use super::{Conn, Head, MAX_CHUNK_LINE, MAX_HEAD_BYTES, MAX_HEADERS, WireError};
use crate::body::BoxError;
use crate::upstream::UpstreamClient;

/// Where the response body's decoding stands.
#[derive(Debug)]
pub(crate) enum Framing {
    /// This many bytes are still to come.
    Length(u64),
    Chunked(Chunk),
    /// Everything until the upstream closes the connection.
    UntilClose,
    /// Read through.
    Done,
}

#[derive(Debug)]
pub(crate) enum Chunk {
    /// A chunk-size line is next.
    Size,
    /// This many bytes of the current chunk are still to come.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// The trailer section, after the last chunk.
    Trailers,
}

/// The upstream's response body, read from its connection as the client reads it. The
/// connection goes back to the pool the moment the body's last byte is read (not when the
/// client has it), and is closed if the body is dropped before its end or fails.
pub(crate) struct UpstreamBody {
    conn: Option<Box<Conn>>,
    framing: Framing,
    keep_alive: bool,
    pool: Arc<UpstreamClient>,
}

impl UpstreamBody {
    /// The body that follows `head` on `conn`.
    pub(crate) fn new(conn: Box<Conn>, head: &mut Head, pool: Arc<UpstreamClient>) -> Self {
        let mut body = Self {
            conn: Some(conn),
            framing: std::mem::replace(&mut head.framing, Framing::Done),
            keep_alive: head.keep_alive,
            pool,
        };
        if matches!(body.framing, Framing::Done) {
            body.finish();
        }
        body
    }

    /// The body was read through: the connection goes back to the pool if it can carry
    /// another request and nothing else came on it.
    fn finish(&mut self) {
        self.framing = Framing::Done;
        if let Some(conn) = self.conn.take()
            && self.keep_alive
            && conn.buf.is_empty()
        {
            self.pool.check_in(conn);
        }
    }

    fn fail(&mut self, error: WireError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.conn = None;
        self.framing = Framing::Done;
        Poll::Ready(Some(Err(error.into())))
    }
}

impl std::fmt::Debug for UpstreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamBody")
            .field("framing", &self.framing)
            .finish_non_exhaustive()
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match this.framing.step(&mut conn.buf) {
                Ok(Step::Data(data)) => {
                    if matches!(this.framing, Framing::Done) {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Step::Trailers(trailers)) => {
                    this.finish();
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                }
                Ok(Step::End) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(Step::More) => match ready!(conn.poll_fill(cx)) {
                    Ok(0) => match this.framing.at_close() {
                        Ok(()) => {
                            this.finish();
                            return Poll::Ready(None);
                        }
                        Err(error) => return this.fail(error),
                    },
                    Ok(_) => {}
                    Err(error) => return this.fail(error.into()),
                },
                Err(error) => return this.fail(error),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.framing, Framing::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Length(remaining) => SizeHint::with_exact(remaining),
            Framing::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

/// One step of a response body's decoding.
#[derive(Debug)]
pub(crate) enum Step {
    /// Body bytes, never empty.
    Data(Bytes),
    /// The trailer section, which ends the body.
    Trailers(HeaderMap),
    /// The body has ended.
    End,
    /// The buffer holds too little for the next step: read more.
    More,
}

impl Framing {
    /// Takes the next step off the front of `buf`: a read is needed only for [`Step::More`].
    pub(crate) fn step(&mut self, buf: &mut BytesMut) -> Result<Step, WireError> {
        loop {
            match self {
                Self::Done => return Ok(Step::End),
                Self::Length(remaining) | Self::Chunked(Chunk::Data(remaining)) => {
                    if buf.is_empty() {
                        return Ok(Step::More);
                    }
                    let take = buf
                        .len()
                        .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                    let data = buf.split_to(take).freeze();
                    *remaining -= take as u64;
                    if *remaining == 0 {
                        *self = match self {
                            Self::Length(_) => Self::Done,
                            _ => Self::Chunked(Chunk::DataEnd),
                        };
                    }
                    return Ok(Step::Data(data));
                }
                Self::UntilClose => {
                    if buf.is_empty() {
                        return Ok(Step::More);
                    }
                    return Ok(Step::Data(buf.split().freeze()));
                }
                // RFC 9112 §7.1: a chunk size is one or more hex digits, and its line ends at
                // the one CRLF (the parser alone would take an empty size as 0, the last chunk).
                Self::Chunked(Chunk::Size)
                    if buf.first().is_some_and(|b| !b.is_ascii_hexdigit()) =>
                {
                    return Err(WireError::Malformed("a chunk size"));
                }
                Self::Chunked(Chunk::Size) => match httparse::parse_chunk_size(buf) {
                    Ok(httparse::Status::Complete((line, _)))
                        if buf[..line - 1].contains(&b'\n') =>
                    {
                        return Err(WireError::Malformed("a chunk size"));
                    }
                    Ok(httparse::Status::Complete((line, size))) => {
                        buf.advance(line);
                        *self = Self::Chunked(if size == 0 {
                            Chunk::Trailers
                        } else {
                            Chunk::Data(size)
                        });
                    }
                    Ok(httparse::Status::Partial) if buf.len() <= MAX_CHUNK_LINE => {
                        return Ok(Step::More);
                    }
                    _ => return Err(WireError::Malformed("a chunk size")),
                },
                Self::Chunked(Chunk::DataEnd) => {
                    if buf.len() < 2 {
                        return Ok(Step::More);
                    }
                    if !buf.starts_with(b"\r\n") {
                        return Err(WireError::Malformed("a chunk's end"));
                    }
                    buf.advance(2);
                    *self = Self::Chunked(Chunk::Size);
                }
                Self::Chunked(Chunk::Trailers) => {
                    let Some(trailers) = take_trailers(buf)? else {
                        return Ok(Step::More);
                    };
                    *self = Self::Done;
                    return Ok(if trailers.is_empty() {
                        Step::End
                    } else {
                        Step::Trailers(trailers)
                    });
                }
            }
        }
    }

    /// The upstream closed the connection when [`Step::More`] was needed: the end of a body that
    /// runs until the close, an error for any other.
    pub(crate) fn at_close(&mut self) -> Result<(), WireError> {
        if matches!(self, Self::UntilClose) {
            *self = Self::Done;
            Ok(())
        } else {
            Err(WireError::ClosedInBody)
        }
    }
}

/// The trailer section off the front of `buf`, once it has all come (`Ok(None)` until then).
fn take_trailers(buf: &mut BytesMut) -> Result<Option<HeaderMap>, WireError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let (length, parsed) = match httparse::parse_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete(done)) => done,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD_BYTES => return Ok(None),
        Ok(httparse::Status::Partial) => return Err(WireError::TooLarge),
        Err(_) => return Err(WireError::Malformed("the trailer section")),
    };
    let mut trailers = HeaderMap::new();
    for field in parsed {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| WireError::Malformed("a trailer name"))?;
        let value = HeaderValue::from_bytes(field.value)
            .map_err(|_| WireError::Malformed("a trailer value"))?;
        trailers.append(name, value);
    }
    buf.advance(length);
    Ok(Some(trailers))
}
