//! `tessera serve` as a browser meets it: normal files are served, symbolic links out of the
//! folder and dotfiles are not found, and a client that stops reading a large file does not
//! hold up anyone else.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

/// A running `tessera serve --port 0`, stopped when dropped.
struct Serve {
    child: Child,
    port: u16,
}

impl Serve {
    fn start(dir: &Path) -> Self {
        let mut child = Command::new(BIN)
            .args(["serve", "--dir", p(dir), "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run tessera serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "serving DIR at http://127.0.0.1:PORT/ (Ctrl-C stops)"
        let port = line
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Self { child, port }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream
    }

    /// Status line and headers of `GET path`, the body read to the end.
    fn get(&self, path: &str) -> (u16, String, Vec<u8>) {
        let mut stream = self.connect();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("GET {path}: no header end"));
        let head = String::from_utf8_lossy(&response[..split]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("GET {path}: {head}"));
        (status, head, response[split + 4..].to_vec())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A site with an index, a script, a dotfile, a large file and links in and out of it.
fn site(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    let www = dir.join("www");
    std::fs::create_dir_all(www.join("pkg")).unwrap();
    std::fs::write(www.join("index.html"), "<!doctype html><p>index").unwrap();
    std::fs::write(www.join("pkg/app.js"), "export const x = 1;").unwrap();
    std::fs::write(www.join(".secret"), "secret").unwrap();
    std::fs::create_dir_all(www.join(".git")).unwrap();
    std::fs::write(www.join(".git/config"), "secret").unwrap();
    std::fs::write(dir.join("outside.txt"), "outside").unwrap();
    std::fs::write(www.join("big.bin"), vec![7u8; 48 << 20]).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink("/etc/passwd", www.join("passwd")).unwrap();
        symlink(dir.join("outside.txt"), www.join("outside.txt")).unwrap();
        symlink("../outside.txt", www.join("pkg/up.txt")).unwrap();
        symlink(".secret", www.join("secret.txt")).unwrap();
        symlink("pkg/app.js", www.join("app.js")).unwrap();
    }
    www
}

#[test]
fn serve_keeps_to_its_folder_and_hides_dotfiles() {
    let www = site("serve-paths");
    let serve = Serve::start(&www);
    let (status, head, body) = serve.get("/");
    assert_eq!(status, 200, "{head}");
    assert!(body.ends_with(b"index"));
    assert!(head.contains("text/html"), "{head}");
    let (status, head, body) = serve.get("/pkg/app.js?v=2");
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"export const x = 1;"[..]),
        "{head}"
    );
    assert!(
        head.contains("text/javascript") && head.contains("no-cache"),
        "{head}"
    );
    let mut refused = vec![
        "/.secret",
        "/.git/config",
        "/pkg/../.secret",
        "/../outside.txt",
        "/missing.js",
    ];
    if cfg!(unix) {
        refused.extend(["/passwd", "/outside.txt", "/pkg/up.txt", "/secret.txt"]);
        // A link that stays inside the folder is followed.
        let (status, head, body) = serve.get("/app.js");
        assert_eq!(
            (status, body.as_slice()),
            (200, &b"export const x = 1;"[..]),
            "{head}"
        );
    }
    for path in refused {
        let (status, _, body) = serve.get(path);
        assert_eq!(status, 404, "{path}: {}", String::from_utf8_lossy(&body));
        assert!(
            !body.contains(&b':') && !body.starts_with(b"secret"),
            "{path}"
        );
    }
}

#[test]
fn a_client_that_stops_reading_does_not_block_others() {
    let www = site("serve-stall");
    let serve = Serve::start(&www);
    // Two clients ask for 48 MiB and read nothing: the sockets' buffers fill and their
    // responses block.
    let stalled: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = serve.connect();
            write!(stream, "GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    for i in 0..20 {
        let (status, head, _) = serve.get(if i % 2 == 0 { "/" } else { "/pkg/app.js" });
        assert_eq!(status, 200, "{head}");
    }
    // The big file is still served in full to a client that reads.
    let (status, head, body) = serve.get("/big.bin");
    assert_eq!((status, body.len()), (200, 48 << 20), "{head}");
    assert!(head.contains("Content-Length: 50331648"), "{head}");
    drop(stalled);
}
