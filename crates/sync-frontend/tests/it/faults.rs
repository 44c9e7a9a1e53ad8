//! A TCP proxy in front of moto that answers its first `faults` connections with S3's throttling
//! reply (503 SlowDown) and passes every later connection through untouched.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const SLOW_DOWN_BODY: &str =
    "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";

pub struct FaultyProxy {
    pub url: String,
    connections: Arc<AtomicUsize>,
}

impl FaultyProxy {
    /// `upstream` is moto's `http://127.0.0.1:PORT`.
    pub fn start(upstream: &str, faults: usize) -> FaultyProxy {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy port");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(client) = stream else { continue };
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let upstream = upstream.clone();
                std::thread::spawn(move || {
                    if n < faults {
                        refuse(client);
                    } else {
                        pass_through(client, &upstream);
                    }
                });
            }
        });
        FaultyProxy { url, connections }
    }

    /// Connections accepted so far (each one is one attempt: a refused one is closed).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn refuse(mut client: TcpStream) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(10)));
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 65536 {
        match client.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let reply = format!(
        "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{SLOW_DOWN_BODY}",
        SLOW_DOWN_BODY.len()
    );
    let _ = client.write_all(reply.as_bytes());
    let _ = client.flush();
    let _ = client.shutdown(std::net::Shutdown::Both);
}

fn pass_through(client: TcpStream, upstream: &str) {
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let (Ok(mut client_read), Ok(mut server_write)) = (client.try_clone(), server.try_clone())
    else {
        return;
    };
    let upload = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_read, &mut server_write);
        let _ = server_write.shutdown(std::net::Shutdown::Write);
    });
    let (mut server_read, mut client_write) = (server, client);
    let _ = std::io::copy(&mut server_read, &mut client_write);
    let _ = client_write.shutdown(std::net::Shutdown::Write);
    let _ = upload.join();
}
