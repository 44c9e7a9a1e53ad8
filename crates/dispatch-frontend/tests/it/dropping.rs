//! A proxy in front of the fake GitHub that passes each request on (one request per connection)
//! but, for the first `drops` dispatches, closes the connection once GitHub has answered without
//! passing the answer back: the dispatch happened, and the caller cannot know it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub struct DroppingProxy {
    pub url: String,
    dropped: Arc<AtomicUsize>,
}

impl DroppingProxy {
    /// `upstream` is the fake's `http://127.0.0.1:PORT`.
    pub fn start(upstream: &str, drops: usize) -> DroppingProxy {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy port");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let dropped = Arc::new(AtomicUsize::new(0));
        let count = dropped.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(client) = stream else { continue };
                let (upstream, count) = (upstream.clone(), count.clone());
                std::thread::spawn(move || relay(client, &upstream, &count, drops));
            }
        });
        DroppingProxy { url, dropped }
    }

    /// Dispatches whose answer was dropped so far.
    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }
}

fn relay(mut client: TcpStream, upstream: &str, dropped: &AtomicUsize, drops: usize) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(request) = read_request(&mut client) else {
        return;
    };
    let head_end = request.iter().position(|b| *b == b'\n').unwrap_or(0) + 1;
    let is_dispatch = String::from_utf8_lossy(&request[..head_end]).contains("/dispatches ");
    // One request per connection, so the answer ends where the connection does.
    let mut forwarded = request[..head_end].to_vec();
    forwarded.extend_from_slice(b"connection: close\r\n");
    forwarded.extend_from_slice(&request[head_end..]);
    let Ok(mut server) = TcpStream::connect(upstream) else {
        return;
    };
    let _ = server.set_read_timeout(Some(Duration::from_secs(10)));
    if server.write_all(&forwarded).is_err() {
        return;
    }
    let mut answer = Vec::new();
    let _ = server.read_to_end(&mut answer);
    let drop_it = is_dispatch
        && dropped
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < drops).then_some(n + 1)
            })
            .is_ok();
    if !drop_it {
        let _ = client.write_all(&answer);
        let _ = client.flush();
    }
    let _ = client.shutdown(Shutdown::Both);
}

/// One HTTP/1.1 request: the head, then as many body bytes as `content-length` says.
fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_len = loop {
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return None,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    };
    let head = String::from_utf8_lossy(&request[..head_len]).to_ascii_lowercase();
    let body_len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < head_len + body_len {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return None,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    Some(request)
}
