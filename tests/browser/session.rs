//! The browser: a chromedriver process and a headless Chromium session on
//! it (with the BiDi socket for login prompts), and whether they are
//! installed at all.

use super::bidi::LoginPrompts;
use super::support;
use fantoccini::{Client, ClientBuilder};
use futures::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";

/// Chromium and chromedriver, when installed. Missing outside CI: a notice
/// and a skip; missing under `CI=true`: a failure.
pub fn browser_installed() -> bool {
    let chromium = Path::new(CHROMIUM).exists();
    let driver = Command::new(CHROMEDRIVER)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if chromium && driver {
        return true;
    }
    support::skipped(
        &format!("the browser tests (Chromium {CHROMIUM} or chromedriver is missing)"),
        "sudo apt-get install chromium chromium-driver",
    );
    false
}

/// A chromedriver process and a headless Chromium session on it.
pub struct Browser {
    pub client: Client,
    pub prompts: tokio::sync::Mutex<LoginPrompts>,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Its own process group, so that Chromium (its child) goes with it
        // even when a failed test never closes the session.
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let driver_url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "browserName": "chrome",
            // A BiDi socket beside the classic session, for login prompts.
            "webSocketUrl": true,
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                    "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver_url)
            .await
            .expect("a Chromium session starts");
        let web_socket_url = client
            .capabilities()
            .and_then(|c| c.get("webSocketUrl"))
            .and_then(Value::as_str)
            .expect("chromedriver gives the BiDi socket's URL")
            .to_owned();
        let prompts = LoginPrompts::intercept(&web_socket_url).await;
        Browser {
            client,
            prompts: tokio::sync::Mutex::new(prompts),
            driver,
            _profile: profile,
        }
    }

    /// Runs `scenario`; if it panics, saves a screenshot and the page source
    /// first, then fails with the scenario's message.
    pub async fn run<F: Future<Output = ()>>(&self, name: &str, scenario: F) {
        if let Err(panic) = AssertUnwindSafe(scenario).catch_unwind().await {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-failures");
            std::fs::create_dir_all(&dir).unwrap();
            if let Ok(png) = self.client.screenshot().await {
                std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
            }
            if let Ok(source) = self.client.source().await {
                std::fs::write(dir.join(format!("{name}.html")), source).unwrap();
            }
            eprintln!(
                "browser scenario {name} failed; screenshot and source in {}",
                dir.display()
            );
            std::panic::resume_unwind(panic);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // SAFETY: signals the process group we created; no memory involved.
        unsafe { libc::kill(-(self.driver.id() as i32), libc::SIGKILL) };
        let _ = self.driver.wait();
    }
}
