//! One small HTTP/1.1 codec for loopback: the client the tests call (`request`, `get_json`) and
//! the message reader that both it and the loopback server ([`super::server`]) use.
//!
//! std only, blocking and one connection per request (`Connection: close`), so it serves
//! synchronous tests and `#[tokio::test]`s alike (a blocking client such as reqwest's refuses to
//! run inside a runtime).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One HTTP/1.1 message as read from a stream.
#[derive(Clone, Debug)]
pub struct Message {
    /// The start line and the header lines as received, each ending in `\r\n`.
    pub head: String,
    pub headers: Vec<(String, String)>,
    /// De-chunked when the sender chunked it.
    pub body: Vec<u8>,
}

impl Message {
    /// The request or status line.
    pub fn start_line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Whose message to read: a request without a length has no body; a response without one runs
/// to the end of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
}

/// Reads one message: the head, then a `Content-Length` or chunked body (or, for a response
/// with neither, everything until the peer closes).
pub fn read_message(r: &mut impl BufRead, side: Side) -> std::io::Result<Message> {
    let mut head = String::new();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line.trim_end().is_empty() {
            if head.is_empty() {
                continue; // tolerate a stray CRLF before the start line
            }
            break;
        }
        if !head.is_empty() {
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        head.push_str(&line);
    }
    let mut msg = Message {
        head,
        headers,
        body: Vec::new(),
    };
    let chunked = msg
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        msg.body = read_chunks(r)?;
    } else if let Some(len) = msg.header("content-length") {
        let len: usize = len.parse().map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "bad Content-Length")
        })?;
        msg.body = vec![0; len];
        r.read_exact(&mut msg.body)?;
    } else if side == Side::Response {
        r.read_to_end(&mut msg.body)?;
    }
    Ok(msg)
}

fn read_chunks(r: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        r.read_line(&mut size)?;
        let size = size.split(';').next().unwrap_or("").trim();
        let n = usize::from_str_radix(size, 16)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad chunk size"))?;
        if n == 0 {
            return Ok(body); // trailers, if any, are left unread: the connection closes
        }
        let start = body.len();
        body.resize(start + n, 0);
        r.read_exact(&mut body[start..])?;
        let mut crlf = String::new();
        r.read_line(&mut crlf)?;
    }
}

/// A response from [`request`].
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// `HTTP/1.1 200 OK`.
    pub status_line: String,
    pub body: String,
}

/// One request to a plain `http://` loopback URL with `headers` (besides Host, Content-Length
/// and `Connection: close`) and `body`; `Err` says what failed (connect, send, read).
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Response, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs: {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream =
        TcpStream::connect(authority).map_err(|e| format!("connect {authority}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| format!("timeout: {e}"))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    stream
        .write_all(req.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let msg = read_message(&mut BufReader::new(stream), Side::Response)
        .map_err(|e| format!("read: {e}"))?;
    let status_line = msg.start_line().to_owned();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line: {status_line}"))?;
    Ok(Response {
        status,
        status_line,
        body: String::from_utf8_lossy(&msg.body).into_owned(),
    })
}

/// GETs JSON, asserting a 2xx answer.
#[track_caller]
pub fn get_json(url: &str) -> serde_json::Value {
    let r = request("GET", url, &[], "").unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert!(
        (200..300).contains(&r.status),
        "GET {url}: {} {}",
        r.status,
        r.body
    );
    serde_json::from_str(&r.body)
        .unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {}", r.body))
}
