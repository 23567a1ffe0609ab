//! `tessera serve`: the demo site on 127.0.0.1 (a secure context, so WebGPU is allowed).

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use tiny_http::{Header, Response, Server};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Folder to serve.
    #[arg(long, default_value = "www")]
    pub dir: PathBuf,
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
    let server = Server::http(("127.0.0.1", args.port))
        .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    println!(
        "serving {} at http://127.0.0.1:{}/ (Ctrl-C stops)",
        args.dir.display(),
        args.port
    );
    for request in server.incoming_requests() {
        let response = respond(&args.dir, request.url());
        if let Err(e) = request.respond(response) {
            eprintln!("warning: {e}");
        }
    }
    Ok(())
}

/// The file, streamed from disk with its `Content-Length` (never chunked, so a page can show
/// download progress of a 2 GB bundle), or 404.
fn respond(root: &Path, url: &str) -> tiny_http::ResponseBox {
    let not_found = || {
        Response::from_string("not found")
            .with_status_code(404)
            .boxed()
    };
    let Some(path) = resolve(root, url) else {
        return not_found();
    };
    let opened = std::fs::File::open(&path)
        .and_then(|file| Ok((file.metadata()?.len(), file)))
        .context("open");
    match opened {
        Ok((len, file)) => {
            let content_type =
                Header::from_bytes("Content-Type", mime(&path)).expect("valid header");
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

/// The file a URL names under `root`, never outside it; folders serve their index.html.
fn resolve(root: &Path, url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let relative = Path::new(path.trim_start_matches('/'));
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let full = root.join(relative);
    if full.is_dir() {
        Some(full.join("index.html"))
    } else {
        Some(full)
    }
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
        let root = Path::new("www");
        assert_eq!(resolve(root, "/../Cargo.toml"), None);
        assert_eq!(
            resolve(root, "/pkg/%2e%2e/x"),
            Some(root.join("pkg/%2e%2e/x"))
        );
        assert_eq!(resolve(root, "/a/b.js?v=1"), Some(root.join("a/b.js")));
    }
}
