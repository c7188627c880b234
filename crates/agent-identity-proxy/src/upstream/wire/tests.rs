//! The wire's pure parts: the request head it writes, and what it makes of response heads.

use bytes::BytesMut;
use hyper::http::{Method, Request, StatusCode, Version};

use super::{Chunk, Framing, MAX_HEAD_BYTES, Parsed, WireError, encode_head, parse_head};

fn head_text(request: &Request<()>, body_len: usize) -> String {
    String::from_utf8(encode_head(request, body_len, std::iter::empty())).expect("ascii")
}

#[test]
fn the_request_head_carries_the_target_and_fields_with_the_proxys_own_framing() {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/items?x=1")
        .header("host", "upstream.example")
        .header("content-length", "999")
        .header("transfer-encoding", "chunked")
        .header("x-two", "a")
        .header("x-two", "b")
        .body(())
        .expect("request");
    let head = head_text(&request, 5);
    assert!(
        head.starts_with("POST /v1/items?x=1 HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("host: upstream.example\r\n"), "{head}");
    assert!(head.contains("x-two: a\r\nx-two: b\r\n"), "{head}");
    assert!(head.contains("content-length: 5\r\n"), "{head}");
    assert!(!head.contains("999"), "{head}");
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "{head}");
}

#[test]
fn the_identity_fields_follow_the_requests_own() {
    let request = Request::get("/")
        .header("accept", "*/*")
        .body(())
        .expect("request");
    let assertion = hyper::http::HeaderValue::from_static("AgentAssertion e30");
    let account = hyper::http::HeaderValue::from_static("acct");
    let identity = [
        (hyper::http::header::AUTHORIZATION, &assertion),
        (
            hyper::http::HeaderName::from_static("chatgpt-account-id"),
            &account,
        ),
    ];
    let head = String::from_utf8(encode_head(&request, 0, identity)).expect("ascii");
    assert_eq!(
        head,
        "GET / HTTP/1.1\r\naccept: */*\r\nauthorization: AgentAssertion e30\r\nchatgpt-account-id: acct\r\n\r\n"
    );
}

#[test]
fn an_empty_body_has_a_length_only_when_the_client_gave_one() {
    let get = Request::get("/").body(()).expect("request");
    assert!(!head_text(&get, 0).contains("content-length"));
    let post = Request::post("/")
        .header("content-length", "0")
        .body(())
        .expect("request");
    assert!(head_text(&post, 0).contains("content-length: 0\r\n"));
}

fn parse(text: &str, method: &Method) -> (Result<Parsed, WireError>, BytesMut) {
    let mut buf = BytesMut::from(text.as_bytes());
    let parsed = parse_head(&mut buf, method, &mut Vec::new());
    (parsed, buf)
}

fn final_head(text: &str, method: &Method) -> super::Head {
    match parse(text, method).0 {
        Ok(Parsed::Final(head)) => head,
        Ok(Parsed::Partial) => panic!("partial: {text:?}"),
        Ok(Parsed::Informational) => panic!("informational: {text:?}"),
        Err(error) => panic!("{error}: {text:?}"),
    }
}

#[test]
fn the_framing_follows_rfc_9112_section_6_3() {
    let get = Method::GET;
    let cases: [(&str, &Method, &str, bool); 9] = [
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n",
            &get,
            "Length(7)",
            true,
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 7, 7\r\n\r\n",
            &get,
            "Length(7)",
            true,
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            &get,
            "Done",
            true,
        ),
        (
            "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
            &get,
            "Chunked(Size)",
            true,
        ),
        // Chunked beside a length: chunked decides, and the connection is not kept after it.
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n",
            &get,
            "Chunked(Size)",
            false,
        ),
        // A coding other than chunked last: the body runs to the connection's end.
        (
            "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
            &get,
            "UntilClose",
            false,
        ),
        ("HTTP/1.1 200 OK\r\n\r\n", &get, "UntilClose", false),
        (
            "HTTP/1.1 204 No Content\r\ncontent-length: 9\r\n\r\n",
            &get,
            "Done",
            true,
        ),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n",
            &Method::HEAD,
            "Done",
            true,
        ),
    ];
    for (text, method, framing, keep_alive) in cases {
        let head = final_head(text, method);
        assert_eq!(format!("{:?}", head.framing), framing, "{text:?}");
        assert_eq!(head.keep_alive, keep_alive, "{text:?}");
    }
}

#[test]
fn connection_close_and_http_1_0_end_the_connection_after_the_response() {
    let close = final_head(
        "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\ncontent-length: 1\r\n\r\n",
        &Method::GET,
    );
    assert!(!close.keep_alive);
    let old = final_head("HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n", &Method::GET);
    assert_eq!(old.version, Version::HTTP_10);
    assert!(!old.keep_alive);
}

#[test]
fn the_head_is_taken_off_the_buffer_and_the_body_bytes_stay() {
    let (parsed, buf) = parse(
        "HTTP/1.1 404 Not Found\r\nx-a: 1\r\nX-B: two words\r\ncontent-length: 2\r\n\r\nok",
        &Method::GET,
    );
    let Ok(Parsed::Final(head)) = parsed else {
        panic!("not a final head");
    };
    assert_eq!(head.status, StatusCode::NOT_FOUND);
    assert_eq!(head.headers["x-a"], "1");
    assert_eq!(head.headers["x-b"], "two words");
    assert_eq!(&buf[..], b"ok");
}

#[test]
fn a_1xx_head_is_passed_over_and_a_partial_one_waits() {
    let (parsed, buf) = parse(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n",
        &Method::POST,
    );
    assert!(matches!(parsed, Ok(Parsed::Informational)));
    assert_eq!(&buf[..], b"HTTP/1.1 200 OK\r\n");
    let (parsed, _) = parse("HTTP/1.1 200 OK\r\n", &Method::POST);
    assert!(matches!(parsed, Ok(Parsed::Partial)));
}

#[test]
fn bad_heads_are_typed_errors() {
    let malformed = [
        "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncontent-length: +3\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999999\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
        "SMTP ready\r\n\r\n",
    ];
    for text in malformed {
        let (parsed, _) = parse(text, &Method::GET);
        assert!(
            matches!(parsed, Err(WireError::Malformed(_))),
            "{text:?}: {:?}",
            parsed.err()
        );
    }
    let many: String = (0..101).map(|i| format!("x-{i}: v\r\n")).collect();
    let (parsed, _) = parse(&format!("HTTP/1.1 200 OK\r\n{many}\r\n"), &Method::GET);
    assert!(matches!(parsed, Err(WireError::Malformed(_))));
    let huge = format!("HTTP/1.1 200 OK\r\nx-big: {}", "a".repeat(MAX_HEAD_BYTES));
    let (parsed, _) = parse(&huge, &Method::GET);
    assert!(matches!(parsed, Err(WireError::TooLarge)));
}

#[test]
fn a_chunked_head_starts_at_a_chunk_size() {
    let head = final_head(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
        &Method::GET,
    );
    assert!(matches!(head.framing, Framing::Chunked(Chunk::Size)));
}

fn chunked_steps(text: &str) -> Vec<Result<String, String>> {
    let mut framing = Framing::Chunked(Chunk::Size);
    let mut buf = BytesMut::from(text.as_bytes());
    let mut steps = Vec::new();
    loop {
        match framing.step(&mut buf) {
            Ok(super::Step::Data(data)) => {
                steps.push(Ok(String::from_utf8_lossy(&data).into_owned()));
            }
            Ok(super::Step::Trailers(trailers)) => steps.push(Ok(format!("{trailers:?}"))),
            Ok(super::Step::End) => return steps,
            Ok(super::Step::More) => {
                steps.push(Err("more".to_owned()));
                return steps;
            }
            Err(error) => {
                steps.push(Err(error.to_string()));
                return steps;
            }
        }
    }
}

#[test]
fn chunks_are_decoded_and_a_size_without_digits_is_refused_not_taken_as_the_end() {
    assert_eq!(
        chunked_steps("5;name=value\r\nhello\r\n1\r\n!\r\n0\r\n\r\n"),
        [Ok("hello".to_owned()), Ok("!".to_owned())]
    );
    assert_eq!(
        chunked_steps("5\r\nhel"),
        [Ok("hel".to_owned()), Err("more".to_owned())]
    );
    for bad in [
        "\r\n\r\n",
        ";x\r\nhello",
        " 5\r\nhello",
        "5;a\nb\r\nhello",
        "5\r\nhelloXY",
    ] {
        let steps = chunked_steps(bad);
        let last = steps.last().cloned().expect("a step");
        assert!(
            last.as_ref()
                .is_err_and(|error| error.contains("malformed")),
            "{bad:?}: {steps:?}"
        );
    }
}
