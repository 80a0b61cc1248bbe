//! The real `tearsheet` binary as a child process on a loopback port, for
//! the tests that run it (operations, privacy) and for `benches/http.rs`,
//! which includes this file with `#[path]`: so it uses the standard library
//! alone, and every item here is used by both.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A loopback port that is free now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running `tearsheet`, killed (SIGKILL) when dropped if it still runs.
pub struct Server {
    pub child: Child,
    pub port: u16,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Server {
    /// Start `tearsheet --database-url URL --bind 127.0.0.1:PORT` with
    /// `RUST_LOG=warn` and its output discarded; `adjust` may add arguments,
    /// set the environment or send the output to log files. Does not wait.
    pub fn spawn(database_url: &str, port: u16, adjust: impl FnOnce(&mut Command)) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tearsheet"));
        command
            .args([
                "--database-url",
                database_url,
                "--bind",
                &format!("127.0.0.1:{port}"),
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        adjust(&mut command);
        Self {
            child: command.spawn().expect("start the tearsheet binary"),
            port,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// `spawn`, then wait (up to 30 seconds) until `/healthz` answers.
    pub fn start(database_url: &str, port: u16, adjust: impl FnOnce(&mut Command)) -> Self {
        let server = Self::spawn(database_url, port, adjust);
        let started = Instant::now();
        // Poll with bare HTTP/1.1, so that a benchmark timing the start
        // times nothing but the server's own work.
        while !server.answers_healthz() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the server did not start"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        server
    }

    fn answers_healthz(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ =
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.starts_with("HTTP/1.1 200")
    }

    /// Send `signal` (`TERM`, `KILL`) unless the server has exited already,
    /// and wait up to ten seconds for its exit status. A server still running
    /// then is killed, and there is no status.
    pub fn stop(&mut self, signal: &str) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }

    /// End the server at once with SIGKILL, as a crash or power cut would.
    pub fn kill_hard(&mut self) {
        self.stop("KILL");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill_hard();
    }
}
