//! Socket.IO requests with their own copies of the URI and headers.
//!
//! engineioxide keeps a clone of the handshake request's `http::request::Parts`
//! for the whole life of the session (`engineioxide/src/transport/ws.rs`,
//! `new_req`: `req_data: Parts`, exposed as socketioxide's `req_parts()`). hyper
//! parses the URI and header values without copying them: they are slices of its
//! HTTP/1 read buffer (`hyper/src/proto/h1/io.rs`, a `BytesMut` of 8 KiB that grows
//! to 16 KiB while the request is read). Each slice holds the whole allocation, so
//! every connected socket kept a 16 KiB buffer for a request of a few hundred bytes
//! (`heaptrack` with 10,000 idle sockets: 164 MB of 410 MB; docs/benchmarks.md).
//!
//! This layer, in front of socketioxide, rebuilds the URI and the header values of
//! requests to the Socket.IO path from copies of their bytes, so hyper's buffer is
//! freed as soon as the upgrade is done. Only the headers the transport reads are
//! kept ([`KEPT`]): a browser's user agent, languages and cookies would otherwise
//! stay with every socket for nothing (no handler here reads `req_parts()`).
//! Other routes are left alone.

use axum::http::header::{HeaderMap, HeaderName, HeaderValue};
use axum::http::{Request, Uri};

/// The path prefix socketioxide serves.
const SOCKET_IO_PATH: &str = "/socket.io/";

/// The headers engineioxide reads (the websocket handshake's, the polling
/// transport's `content-type`) and the HTTP framing ones.
pub const KEPT: [&str; 11] = [
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-protocol",
    "content-type",
    "content-length",
    "transfer-encoding",
    "origin",
];

/// `req` with owned copies of its URI and headers when it is a Socket.IO request.
pub fn compact<B>(mut req: Request<B>) -> Request<B> {
    if !req.uri().path().starts_with(SOCKET_IO_PATH) {
        return req;
    }
    if let Ok(uri) = req.uri().to_string().parse::<Uri>() {
        *req.uri_mut() = uri;
    }
    let headers = std::mem::take(req.headers_mut());
    *req.headers_mut() = owned(headers);
    req
}

fn owned(headers: HeaderMap) -> HeaderMap {
    let mut copy = HeaderMap::with_capacity(headers.len());
    let mut last: Option<HeaderName> = None;
    for (name, value) in headers {
        // `into_iter` names only the first value of a repeated header.
        let name = match name {
            Some(name) if !KEPT.contains(&name.as_str()) => {
                last = None;
                continue;
            }
            Some(name) => HeaderName::from_bytes(name.as_str().as_bytes()).unwrap_or(name),
            None => match &last {
                Some(name) => name.clone(),
                None => continue,
            },
        };
        let value = HeaderValue::from_bytes(value.as_bytes()).unwrap_or(value);
        copy.append(name.clone(), value);
        last = Some(name);
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_io_requests_keep_the_transports_headers_only() {
        let req = Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("user-agent", "Mozilla/5.0")
            .header("connection", "keep-alive")
            .header("connection", "Upgrade")
            .header("cookie", "a=b")
            .body(())
            .expect("request");
        let out = compact(req);
        assert_eq!(out.uri(), "/socket.io/?EIO=4&transport=websocket");
        assert_eq!(
            out.headers()["sec-websocket-key"],
            "dGhlIHNhbXBsZSBub25jZQ=="
        );
        let connection: Vec<_> = out.headers().get_all("connection").iter().collect();
        assert_eq!(connection, ["keep-alive", "Upgrade"]);
        assert_eq!(out.headers().len(), 3, "{:?}", out.headers());
    }

    #[test]
    fn other_routes_are_left_alone() {
        let req = Request::builder()
            .uri("/demo/me")
            .header("authorization", "Bearer x")
            .body(())
            .expect("request");
        assert_eq!(compact(req).headers()["authorization"], "Bearer x");
    }
}
