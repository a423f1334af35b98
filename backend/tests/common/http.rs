//! A minimal HTTP/1.1 client over a raw `TcpStream`, enough for the
//! real-socket tests and the benchmark: keep-alive, `Content-Length`
//! bodies, and the ability to send bytes no real client would.

#![allow(dead_code)]

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every read gives up after this long, so no test can hang on a socket.
pub const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// A parsed response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header with this name.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// The bytes of a request with `Content-Length` (always, even 0, for POST).
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// What came back on a connection.
#[derive(Debug)]
pub enum Received {
    /// A whole response.
    Response(HttpResponse),
    /// The connection closed before a single byte.
    ClosedEmpty,
    /// The head arrived, then the connection closed before the body was
    /// complete: what was received.
    Truncated(HttpResponse),
}

/// Reads one response from `stream`; `buffer` carries bytes read past it
/// between calls on a keep-alive connection.
pub async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> io::Result<Received> {
    let head_end = loop {
        if let Some(pos) = find(buffer, b"\r\n\r\n") {
            break pos;
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(READ_TIMEOUT, stream.read(&mut chunk))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no response head"))??;
        if n == 0 {
            if buffer.is_empty() {
                return Ok(Received::ClosedEmpty);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed in the head",
            ));
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {status_line:?}"),
            )
        })?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    buffer.drain(..head_end + 4);
    while buffer.len() < length {
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(READ_TIMEOUT, stream.read(&mut chunk))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no response body"))??;
        if n == 0 {
            let body = std::mem::take(buffer);
            return Ok(Received::Truncated(HttpResponse {
                status,
                headers,
                body,
            }));
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body: Vec<u8> = buffer.drain(..length).collect();
    Ok(Received::Response(HttpResponse {
        status,
        headers,
        body,
    }))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A keep-alive connection.
pub struct Connection {
    pub stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    pub async fn open(addr: std::net::SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buffer: Vec::new(),
        })
    }

    /// Sends raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Reads the next response, whatever happened to it.
    pub async fn receive(&mut self) -> io::Result<Received> {
        read_response(&mut self.stream, &mut self.buffer).await
    }

    /// Sends a request and reads a complete response.
    pub async fn exchange(&mut self, bytes: &[u8]) -> io::Result<HttpResponse> {
        self.send(bytes).await?;
        match self.receive().await? {
            Received::Response(r) => Ok(r),
            other => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{other:?}"),
            )),
        }
    }
}

/// The value of cookie `name` in a `Set-Cookie` line, if it is that cookie.
pub fn cookie_value<'a>(set_cookie: &'a str, name: &str) -> Option<&'a str> {
    let first = set_cookie.split(';').next()?;
    let (n, v) = first.split_once('=')?;
    (n.trim() == name).then_some(v.trim())
}

/// A refresh request whose head says `Content-Length: 100` and whose body
/// stops after 4 bytes: the stall issue 12's audit found.
pub const SHORT_BODY: &[u8] = b"POST /api/token/refresh/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"re";

/// `GET /metrics` on a new connection.
pub async fn scrape_metrics(addr: std::net::SocketAddr) -> io::Result<HttpResponse> {
    Connection::open(addr)
        .await?
        .exchange(&request("GET", "/metrics", &[], b""))
        .await
}
