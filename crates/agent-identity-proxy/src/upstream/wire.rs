//! HTTP/1.1 on a kept upstream connection, for a request whose body the proxy holds: the head
//! and the body written in one vectored write, the response head parsed in the buffer it was
//! read into, and the response body decoded as the client reads it (RFC 9112 §6 and §7).
//!
//! Nearly every request takes this path (a body up to the replay limit is held), so it runs in
//! the request's own task: there is no connection task, no channel to one and no wake-up of
//! one, which is most of what a general-purpose client adds to a request. A streamed request
//! body and an upgrade keep hyper's client connection, which reads while it writes.

use std::future::Future as _;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use hyper::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::{Method, Request, StatusCode, Version};
use hyper_rustls::MaybeHttpsStream;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;

use crate::headers::lists_token;

mod decode;

use decode::Chunk;
pub(crate) use decode::{Framing, Step, UpstreamBody};

/// A dialled upstream connection, as tokio reads and writes it.
pub(crate) type Io = TokioIo<MaybeHttpsStream<TokioIo<TcpStream>>>;

/// The most fields an upstream response head, or its trailer section, may have (hyper's
/// default too).
const MAX_HEADERS: usize = 100;
/// The largest upstream response head, and the largest trailer section: hyper's client's
/// default read-buffer limit, which a streamed request's response still meets.
pub(crate) const MAX_HEAD_BYTES: usize = 8192 + 4096 * 100;
/// The longest chunk-size line, extensions included.
const MAX_CHUNK_LINE: usize = 4096;
/// How much room a read from the upstream gets at least.
const READ_SIZE: usize = 8 * 1024;

/// Why an upstream connection could not carry a request or its response.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    #[error("upstream connection")]
    Io(#[from] std::io::Error),
    #[error("the upstream closed the connection before a complete response head")]
    ClosedBeforeHead,
    #[error("the upstream closed the connection in the middle of a response body")]
    ClosedInBody,
    #[error("the upstream's response is malformed: {0}")]
    Malformed(&'static str),
    #[error("the upstream's response head or trailers exceed {MAX_HEAD_BYTES} bytes")]
    TooLarge,
}

/// A failed exchange, and whether the request may go again on a new connection.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) error: WireError,
    /// The connection had carried a request before, and the upstream shows no sign of having
    /// seen this one: the write failed (it had closed the connection), or an idempotent request
    /// met the connection's end before any byte of a response.
    pub(crate) retry: bool,
}

/// A kept connection, and what was read on it that has not been handed on. Always boxed: a TLS
/// stream holds its session inline, and the connection moves with every request and response.
pub(crate) struct Conn {
    io: Io,
    buf: BytesMut,
    /// Room for a response head's fields while it is parsed, kept between responses.
    fields: Fields,
    /// Whether it carried a request before the one on it now.
    reused: bool,
}

impl Conn {
    pub(crate) fn new(io: Io) -> Box<Self> {
        Box::new(Self {
            io,
            buf: BytesMut::new(),
            fields: Vec::new(),
            reused: false,
        })
    }

    /// Whether an idle connection can take a request: the upstream has not closed it and sent
    /// nothing unasked-for. Never waits (nothing to read is the good answer), and usually makes
    /// no system call: the runtime knows the socket has had nothing to read since the last read.
    ///
    /// It runs outside the task's cooperative budget: a spent budget makes every read look
    /// pending, which would pass a closed connection as quiet.
    pub(crate) async fn is_open_and_quiet(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        tokio::task::unconstrained(std::future::poll_fn(|_| {
            let mut byte = [0_u8; 1];
            let mut probe = ReadBuf::new(&mut byte);
            let mut cx = Context::from_waker(std::task::Waker::noop());
            Poll::Ready(
                Pin::new(&mut self.io)
                    .poll_read(&mut cx, &mut probe)
                    .is_pending(),
            )
        }))
        .await
    }

    /// Reads more onto the buffer; `Ok(0)` at the end of the stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < READ_SIZE / 2 {
            self.buf.reserve(READ_SIZE);
        }
        // `read_buf`'s future holds only the two borrows, so one made for each poll is the same
        // future (and it writes into the spare capacity without unsafe code here).
        let read = std::pin::pin!(self.io.read_buf(&mut self.buf));
        read.poll(cx)
    }

    async fn fill(&mut self) -> std::io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_fill(cx)).await
    }
}

/// The request's head as the upstream reads it: the request's fields, then `identity`'s (the
/// signed headers, written straight from their shared values). The framing is the proxy's own:
/// any `Content-Length` or `Transfer-Encoding` among the request's fields is left out, and the
/// body's length is sent when the body is not empty, or when the client sent a length (a `POST`
/// of nothing).
pub(crate) fn encode_head<'a, B>(
    request: &Request<B>,
    body_len: usize,
    identity: impl IntoIterator<Item = (HeaderName, &'a HeaderValue)>,
) -> Vec<u8> {
    let mut head = Vec::with_capacity(512 + 64 * request.headers().len());
    head.extend_from_slice(request.method().as_str().as_bytes());
    head.push(b' ');
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |path| path.as_str());
    head.extend_from_slice(target.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    let mut length_sent = false;
    let mut field = |name: &HeaderName, value: &HeaderValue| {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    };
    for (name, value) in request.headers() {
        if name == header::CONTENT_LENGTH {
            length_sent = true;
        } else if name != header::TRANSFER_ENCODING {
            field(name, value);
        }
    }
    for (name, value) in identity {
        field(&name, value);
    }
    if body_len > 0 || length_sent {
        head.extend_from_slice(b"content-length: ");
        head.extend_from_slice(body_len.to_string().as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// A final response head: its parts, how its body is framed, and whether the connection may
/// carry another request after it.
pub(crate) struct Head {
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) framing: Framing,
    keep_alive: bool,
}

/// Writes the request and reads the final response head (1xx heads are passed over).
///
/// # Errors
/// [`Failed`], saying whether the request may go again on a new connection.
pub(crate) async fn exchange(
    conn: &mut Conn,
    head: &[u8],
    body: &[u8],
    method: &Method,
) -> Result<Head, Failed> {
    let reused = std::mem::replace(&mut conn.reused, true);
    let mut request = bytes::Buf::chain(head, body);
    let whole = head.len() + body.len();
    // A write the upstream cut short may have an early answer behind it (a 413 or a 401 sent
    // before the body was read): it is read as any answer would be, and the connection is not
    // kept after it. Without one, the write's error is the failure.
    let mut write_failed = match write(conn, &mut request).await {
        Ok(()) => None,
        Err(error) if reused && bytes::Buf::remaining(&request) == whole => {
            // Nothing of it went: the upstream had closed the kept connection.
            return Err(Failed {
                error: error.into(),
                retry: true,
            });
        }
        Err(error) => Some(error),
    };
    let mut received = false;
    loop {
        match parse_head(&mut conn.buf, method, &mut conn.fields) {
            Ok(Parsed::Final(mut head)) => {
                head.keep_alive &= write_failed.is_none();
                return Ok(head);
            }
            // A 1xx head was taken off the buffer: the final one may be there already.
            Ok(Parsed::Informational) => continue,
            Ok(Parsed::Partial) => {}
            Err(error) => {
                return Err(Failed {
                    error,
                    retry: false,
                });
            }
        }
        let retry = reused && !received && write_failed.is_none() && method.is_idempotent();
        match conn.fill().await {
            Ok(0) => {
                return Err(Failed {
                    error: write_failed
                        .take()
                        .map_or(WireError::ClosedBeforeHead, WireError::Io),
                    retry,
                });
            }
            Ok(_) => received = true,
            Err(error) => {
                return Err(Failed {
                    error: write_failed.take().unwrap_or(error).into(),
                    retry,
                });
            }
        }
    }
}

async fn write(conn: &mut Conn, request: &mut impl bytes::Buf) -> std::io::Result<()> {
    conn.io.write_all_buf(request).await?;
    // A plain connection has nothing to flush; a TLS one has its last record.
    conn.io.flush().await
}

/// What the front of the read buffer holds.
pub(crate) enum Parsed {
    /// Part of a head: more must be read.
    Partial,
    /// A 1xx head, now taken off the buffer: the final head follows it.
    Informational,
    Final(Head),
}

/// A head's field names, and where their values lie in the head.
pub(crate) type Fields = Vec<(HeaderName, std::ops::Range<usize>)>;

/// Parses a head off the front of `buf`; `fields` is room to work in, cleared first.
pub(crate) fn parse_head(
    buf: &mut BytesMut,
    method: &Method,
    fields: &mut Fields,
) -> Result<Parsed, WireError> {
    fields.clear();
    if buf.is_empty() {
        return Ok(Parsed::Partial);
    }
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut slots,
    );
    let length = match parsed {
        Ok(httparse::Status::Complete(length)) if length <= MAX_HEAD_BYTES => length,
        Ok(httparse::Status::Complete(_)) => return Err(WireError::TooLarge),
        Ok(httparse::Status::Partial) => {
            return if buf.len() > MAX_HEAD_BYTES {
                Err(WireError::TooLarge)
            } else {
                Ok(Parsed::Partial)
            };
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(WireError::Malformed("more than 100 header fields"));
        }
        Err(_) => return Err(WireError::Malformed("not an HTTP/1 response head")),
    };
    let code = response.code.unwrap_or_default();
    let status =
        StatusCode::from_u16(code).map_err(|_| WireError::Malformed("not a status code"))?;
    let version = if response.version == Some(1) {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    let base = buf.as_ptr() as usize;
    for field in response.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| WireError::Malformed("a header name"))?;
        let start = field.value.as_ptr() as usize - base;
        fields.push((name, start..start + field.value.len()));
    }
    let head = buf.split_to(length).freeze();
    if status.is_informational() {
        return if status == StatusCode::SWITCHING_PROTOCOLS {
            Err(WireError::Malformed(
                "a switch of protocols no one asked for",
            ))
        } else {
            Ok(Parsed::Informational)
        };
    }
    let mut headers = HeaderMap::with_capacity(fields.len());
    for (name, range) in fields.drain(..) {
        let value = HeaderValue::from_maybe_shared(head.slice(range))
            .map_err(|_| WireError::Malformed("a header value"))?;
        headers.append(name, value);
    }
    let (framing, framing_is_clear) = framing_of(method, status, &headers)?;
    let keep_alive = version == Version::HTTP_11
        && framing_is_clear
        && !matches!(framing, Framing::UntilClose)
        && !lists_token(&headers, &header::CONNECTION, "close");
    Ok(Parsed::Final(Head {
        status,
        version,
        headers,
        framing,
        keep_alive,
    }))
}

/// How the body is framed (RFC 9112 §6.3), and whether the head was unambiguous about it (a
/// `Content-Length` beside a `Transfer-Encoding` is not: the connection is not kept after it).
fn framing_of(
    method: &Method,
    status: StatusCode,
    headers: &HeaderMap,
) -> Result<(Framing, bool), WireError> {
    if method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok((Framing::Done, true));
    }
    let has_length = headers.contains_key(header::CONTENT_LENGTH);
    if let Some(codings) = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .next_back()
    {
        let last = codings
            .to_str()
            .ok()
            .and_then(|codings| codings.rsplit(',').next())
            .map(str::trim);
        let chunked = last.is_some_and(|coding| coding.eq_ignore_ascii_case("chunked"));
        let framing = if chunked {
            Framing::Chunked(Chunk::Size)
        } else {
            Framing::UntilClose
        };
        return Ok((framing, !has_length));
    }
    let mut length = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        let text = value
            .to_str()
            .map_err(|_| WireError::Malformed("content-length"))?;
        for part in text.split(',') {
            let part = part.trim();
            let parsed = (!part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit()))
                .then(|| part.parse::<u64>().ok())
                .flatten()
                .ok_or(WireError::Malformed("content-length"))?;
            if length.is_some_and(|length| length != parsed) {
                return Err(WireError::Malformed("conflicting content-length values"));
            }
            length = Some(parsed);
        }
    }
    Ok(match length {
        Some(0) => (Framing::Done, true),
        Some(length) => (Framing::Length(length), true),
        None => (Framing::UntilClose, true),
    })
}

#[cfg(test)]
mod tests;
