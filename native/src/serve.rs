//! `tessera serve`: the demo site on 127.0.0.1 (a secure context, so WebGPU is allowed).
//!
//! Only regular files under the served folder, reached without a dot-named component, are
//! served: every path is resolved through its symbolic links and must stay inside the folder
//! (404 otherwise). Requests are answered by a pool of [`WORKERS`] threads, so a client that
//! stops reading a large file holds one of them, not the whole server.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use tiny_http::{Header, Response, Server};

/// Threads answering requests at once (each blocks while its client reads a file).
const WORKERS: usize = 16;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Folder to serve.
    #[arg(long, default_value = "www")]
    pub dir: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one (the line printed on start names it).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

pub fn run(args: ServeArgs) -> Result<()> {
    if !args.dir.join("index.html").is_file() {
        bail!(
            "{}: no index.html here; run from the repository root or pass --dir",
            args.dir.display()
        );
    }
    if !args.dir.join("pkg").is_dir() {
        eprintln!(
            "warning: {}/pkg is missing; build the wasm modules first (scripts/build-wasm.sh)",
            args.dir.display()
        );
    }
    let root = args
        .dir
        .canonicalize()
        .with_context(|| format!("{}: cannot resolve", args.dir.display()))?;
    let server = Server::http(("127.0.0.1", args.port))
        .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    let port = server.server_addr().to_ip().map_or(args.port, |a| a.port());
    println!(
        "serving {} at http://127.0.0.1:{port}/ (Ctrl-C stops)",
        args.dir.display()
    );
    std::thread::scope(|scope| {
        let mut started = 0;
        for i in 0..WORKERS {
            let (server, root) = (&server, &root);
            let spawned = std::thread::Builder::new()
                .name(format!("serve-{i}"))
                .spawn_scoped(scope, move || {
                    loop {
                        match server.recv() {
                            Ok(request) => {
                                let response = respond(root, request.url());
                                if let Err(e) = request.respond(response) {
                                    eprintln!("warning: {e}");
                                }
                            }
                            Err(e) => eprintln!("warning: {e}"),
                        }
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(e) if started == 0 => bail!("cannot start a server thread: {e}"),
                Err(e) => eprintln!("warning: {started} server threads only: {e}"),
            }
        }
        Ok(())
    })
}

/// The file, streamed from disk with its `Content-Length` (never chunked, so a page can show
/// download progress of a 2 GB bundle), or 404.
fn respond(root: &Path, url: &str) -> tiny_http::ResponseBox {
    let not_found = || {
        Response::from_string("not found")
            .with_status_code(404)
            .boxed()
    };
    let Some((path, named)) = resolve(root, url) else {
        return not_found();
    };
    let opened = std::fs::File::open(&path)
        .and_then(|file| Ok((file.metadata()?.len(), file)))
        .context("open");
    match opened {
        Ok((len, file)) => {
            let content_type =
                Header::from_bytes("Content-Type", mime(&named)).expect("valid header");
            let no_cache = Header::from_bytes("Cache-Control", "no-cache").expect("valid header");
            Response::new(
                tiny_http::StatusCode(200),
                vec![content_type, no_cache],
                file,
                usize::try_from(len).ok(),
                None,
            )
            .with_chunked_threshold(usize::MAX)
            .boxed()
        }
        Err(_) => not_found(),
    }
}

/// Whether a path component is a plain name that does not start with a dot.
fn visible(component: Component<'_>) -> bool {
    matches!(component, Component::Normal(name) if !name.as_encoded_bytes().starts_with(b"."))
}

/// The regular file a URL names under `root` (canonical), with its symbolic links resolved,
/// and the path as named (its extension gives the MIME type); `None` for anything outside
/// `root`, any dot-named component (`.git`, `.env`, also as a link's target) or a missing
/// file. Folders serve their index.html.
fn resolve(root: &Path, url: &str) -> Option<(PathBuf, PathBuf)> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let relative = Path::new(path.trim_start_matches('/'));
    if !relative.components().all(visible) {
        return None;
    }
    let full = root.join(relative);
    let full = if full.is_dir() {
        full.join("index.html")
    } else {
        full
    };
    let real = full.canonicalize().ok()?;
    let inside = real.strip_prefix(root).ok()?;
    (inside.components().all(visible) && real.is_file()).then_some((real, full))
}

fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "tar" => "application/x-tar",
        "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_cannot_escape_the_served_folder() {
        let base = std::env::temp_dir().join(format!("tessera-serve-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let www = base.join("www");
        std::fs::create_dir_all(www.join("a")).unwrap();
        std::fs::write(www.join("index.html"), "index").unwrap();
        std::fs::write(www.join("a/b.js"), "js").unwrap();
        std::fs::write(www.join(".env"), "secret").unwrap();
        std::fs::write(base.join("outside.txt"), "outside").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(base.join("outside.txt"), www.join("out")).unwrap();
            std::os::unix::fs::symlink(www.join(".env"), www.join("env")).unwrap();
            std::os::unix::fs::symlink(www.join("a/b.js"), www.join("b.js")).unwrap();
        }
        let root = www.canonicalize().unwrap();
        let file = |root: &Path, url: &str| resolve(root, url).map(|(real, _)| real);
        assert_eq!(file(&root, "/../outside.txt"), None);
        assert_eq!(file(&root, "/pkg/%2e%2e/x"), None);
        assert_eq!(file(&root, "/.env"), None);
        assert_eq!(file(&root, "/a/missing.js"), None);
        assert_eq!(file(&root, "/a/b.js?v=1"), Some(root.join("a/b.js")));
        assert_eq!(file(&root, "/"), Some(root.join("index.html")));
        #[cfg(unix)]
        {
            assert_eq!(file(&root, "/out"), None);
            assert_eq!(file(&root, "/env"), None);
            assert_eq!(file(&root, "/b.js"), Some(root.join("a/b.js")));
            // The MIME type follows the name asked for.
            assert_eq!(resolve(&root, "/b.js").unwrap().1, root.join("b.js"));
        }
        let _ = std::fs::remove_dir_all(&base);
    }
}
