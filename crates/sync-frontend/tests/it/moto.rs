//! A moto S3 server on a free port for one test, stopped when dropped. Its request log (one line
//! per request, from the server's own access log) tells the test which calls reached S3.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use swa_aws::s3;

pub const REGION: &str = "us-east-1";
pub const ACCESS_KEY: &str = "AKIASWASYNCFRONTEND1";
pub const SECRET_KEY: &str = "sync-frontend-test-secret-d0n0tpr1nt";

pub struct Moto {
    child: Child,
    pub url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Moto {
    pub fn start() -> Moto {
        let server = workspace_root().join(".venv/bin/moto_server");
        assert!(
            server.exists(),
            "{} is missing: run scripts/venv.sh to install the test tools",
            server.display()
        );
        let mut last = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let dir = tempfile::tempdir().expect("tempdir");
            let log = dir.path().join("moto.log");
            let child = Command::new(&server)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log file"))
                .spawn()
                .expect("moto_server starts");
            let mut moto = Moto {
                child,
                url: format!("http://127.0.0.1:{port}"),
                log,
                _dir: dir,
            };
            if moto.wait_ready(port) {
                return moto;
            }
            last = std::fs::read_to_string(&moto.log).unwrap_or_default();
        }
        panic!("moto_server did not start: {last}");
    }

    /// Waits for the port to accept connections; false if the server died (port taken).
    fn wait_ready(&mut self, port: u16) -> bool {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Every request the server has answered so far, as `METHOD /path?query`.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let start = line.find("] \"")? + 3;
                let rest = &line[start..];
                let end = rest.find(" HTTP/")?;
                Some(rest[..end].to_string())
            })
            .collect()
    }

    /// The requests that could change something (anything but GET and HEAD).
    pub fn writes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| !r.starts_with("GET ") && !r.starts_with("HEAD "))
            .collect()
    }

    /// The server's process id (the benchmark reads its CPU time).
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An S3 client for the test's own setup and checks.
    pub fn client(&self) -> s3::Client {
        let config = s3::Config::builder()
            .behavior_version(s3::config::BehaviorVersion::latest())
            .region(s3::config::Region::new(REGION))
            .endpoint_url(&self.url)
            .force_path_style(true)
            .credentials_provider(s3::config::Credentials::new(
                ACCESS_KEY, SECRET_KEY, None, None, "test",
            ))
            .build();
        s3::Client::from_conf(config)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
