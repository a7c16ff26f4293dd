//! The site in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) driven over WebDriver, against the runner and against
//! `wasmtime serve`. On failure the screenshot and page source are saved
//! under `target/tmp/browser-failures/`. The login prompt the board's Clear
//! button brings up is answered over WebDriver BiDi (`bidi`).

#[path = "browser/bidi.rs"]
mod bidi;
#[path = "browser/session.rs"]
mod session;

use sitebox_tests as support;

use bidi::{Answer, LoginPrompts};
use fantoccini::{Client, Locator};
use serde_json::Value;
use session::{Browser, browser_installed};
use support::Backend;

async fn script(client: &Client, source: &str) -> Value {
    client.execute(source, vec![]).await.unwrap()
}

/// The HTTP status of the page's own load and of every resource it loaded.
async fn statuses(client: &Client) -> (u64, Vec<(String, u64)>) {
    let navigation = script(
        client,
        "return performance.getEntriesByType('navigation')[0].responseStatus",
    )
    .await;
    let resources = script(
        client,
        "return performance.getEntriesByType('resource').map(e => [e.name, e.responseStatus])",
    )
    .await;
    let resources = resources
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_owned(),
                pair[1].as_u64().unwrap(),
            )
        })
        .collect();
    (navigation.as_u64().unwrap(), resources)
}

/// 1. The home page: title, red `h1` (the CSS arrived as CSS), the logo
///    decoded, and no request failed.
async fn home_page(client: &Client, base: &str) {
    client.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(client.title().await.unwrap(), "sitebox");
    let color = script(
        client,
        "return getComputedStyle(document.querySelector('h1')).color",
    )
    .await;
    assert_eq!(color, "rgb(255, 0, 0)");
    let logo = script(
        client,
        "const img = document.querySelector('img[src=\"logo.png\"]'); return [img.complete, img.naturalWidth]",
    )
    .await;
    assert_eq!(logo[0], true);
    assert!(logo[1].as_u64().unwrap() > 0, "the logo decoded: {logo}");
    let (page, resources) = statuses(client).await;
    assert_eq!(page, 200);
    let names: Vec<&str> = resources.iter().map(|(name, _)| name.as_str()).collect();
    assert!(
        names.iter().any(|n| n.ends_with("/index.css"))
            && names.iter().any(|n| n.ends_with("/logo.png")),
        "{names:?}"
    );
    for (name, status) in &resources {
        assert_eq!(*status, 200, "{name} failed");
    }
}

/// 2. Follow the link to `page.html` and come back.
async fn link_and_back(client: &Client, base: &str) {
    client.goto(&format!("{base}/")).await.unwrap();
    click(client, Locator::Css("a[href=\"page.html\"]")).await;
    wait_for_path(client, base, "/page.html").await;
    assert_eq!(client.title().await.unwrap(), "Another page · sitebox");
    assert_eq!(text_of(client, "h1").await, "Another page");
    client.back().await.unwrap();
    wait_for_path(client, base, "/").await;
    assert_eq!(client.title().await.unwrap(), "sitebox");
}

/// 3. A missing page shows `NotFound.html`, and the status was 404.
async fn missing_page(client: &Client, base: &str) {
    client
        .goto(&format!("{base}/no/such/page.html"))
        .await
        .unwrap();
    assert_eq!(client.title().await.unwrap(), "Page not found · sitebox");
    assert_eq!(text_of(client, "h1").await, "Page not found");
    assert_eq!(statuses(client).await.0, 404);
}

async fn board_texts(client: &Client) -> Vec<String> {
    let mut texts = Vec::new();
    for element in client
        .find_all(Locator::Css(".messages .text"))
        .await
        .unwrap()
    {
        texts.push(element.text().await.unwrap());
    }
    texts
}

async fn save_message(client: &Client, base: &str, text: &str) {
    let textarea = client
        .find(Locator::Css("textarea[name=\"message\"]"))
        .await
        .unwrap();
    textarea.send_keys(text).await.unwrap();
    // The post leaves /board for /board: wait for the page it leads to, not
    // the one it leaves (still there while a slow server answers).
    let leaving = client.find(Locator::Css("html")).await.unwrap();
    click(
        client,
        Locator::XPath("//button[normalize-space()='Save Message']"),
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while leaving.tag_name().await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "the post led nowhere");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    wait_for_path(client, base, "/board").await;
    client
        .wait()
        .for_element(Locator::Css(".messages"))
        .await
        .unwrap();
}

/// 4. The board: post, see it with its time; a hostile message is text and
///    opens no dialog; a reload posts nothing; "Clear Messages" asks for the
///    admin's login: cancelled, the 401 page and the board kept; a wrong
///    password, asked again; the right one, the board empty.
async fn board(client: &Client, base: &str, prompts: &tokio::sync::Mutex<LoginPrompts>) {
    client.goto(&format!("{base}/")).await.unwrap();
    click(client, Locator::Css("a[href=\"/board\"]")).await;
    wait_for_path(client, base, "/board").await;
    assert_eq!(client.title().await.unwrap(), "Message Board");
    assert!(board_texts(client).await.is_empty());

    save_message(client, base, "Hello from Chromium").await;
    assert_eq!(board_texts(client).await, ["Hello from Chromium"]);
    let time = text_of(client, ".messages time").await;
    let bytes = time.as_bytes();
    let readable =
        time.len() == 23 && time.ends_with(" UTC") && bytes[4] == b'-' && bytes[13] == b':';
    assert!(readable, "a readable UTC time: {time:?}");

    let hostile = "<img src=x onerror=alert(1)>";
    save_message(client, base, hostile).await;
    assert_eq!(board_texts(client).await, ["Hello from Chromium", hostile]);
    assert!(client.get_alert_text().await.is_err(), "no dialog opened");
    let injected = script(
        client,
        "return document.querySelectorAll('.messages img').length",
    )
    .await;
    assert_eq!(injected, 0);

    client.refresh().await.unwrap();
    client
        .wait()
        .for_element(Locator::Css(".messages"))
        .await
        .unwrap();
    assert_eq!(board_texts(client).await.len(), 2, "a reload posts nothing");
    assert!(
        client.get_alert_text().await.is_err(),
        "no dialog after the reload either"
    );

    let mut prompts = prompts.lock().await;
    let window = client.window().await.unwrap();
    let context: String = window.into();
    let clear_button = "form[action=\"/board/clear\"] button";
    assert_eq!(text_of(client, clear_button).await, "Clear Messages");
    prompts.plan([Answer::Cancel]);
    let loaded = prompts.click_and_wait(&context, clear_button).await;
    assert_eq!(loaded, format!("{base}/board/clear"));
    assert_eq!(client.title().await.unwrap(), "401 Unauthorized");
    assert!(text_of(client, "p").await.contains("admin"));
    let shown = prompts.shown();
    assert_eq!(shown.len(), 1, "one prompt: {shown:?}");
    assert_eq!(shown[0].url, format!("{base}/board/clear"));
    client.goto(&format!("{base}/board")).await.unwrap();
    assert_eq!(
        board_texts(client).await.len(),
        2,
        "cancelled: nothing cleared"
    );

    let log_in = |password: &str| Answer::LogIn {
        user: sitebox_runner::ADMIN_USER.to_owned(),
        password: password.to_owned(),
    };
    prompts.plan([log_in("a guess"), log_in(support::ADMIN_PASSWORD)]);
    let loaded = prompts.click_and_wait(&context, clear_button).await;
    assert_eq!(loaded, format!("{base}/board"));
    client
        .wait()
        .for_element(Locator::Id("empty"))
        .await
        .unwrap();
    assert!(board_texts(client).await.is_empty());
    assert_eq!(
        prompts.shown().len(),
        2,
        "asked again after the wrong password"
    );
    assert_eq!(
        client.current_url().await.unwrap().as_str(),
        format!("{base}/board")
    );
}

async fn click(client: &Client, locator: Locator<'_>) {
    client.find(locator).await.unwrap().click().await.unwrap();
}

async fn text_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits until the browser is at `path` on `base`.
async fn wait_for_path(client: &Client, base: &str, path: &str) {
    let url: url::Url = format!("{base}{path}").parse().unwrap();
    client.wait().for_url(&url).await.unwrap();
}

/// 5. A single-page app on one `_redirects` line: a deep link gets the
///    app's index (200), which loads its script, which renders the route.
async fn single_page_app(client: &Client, base: &str, site: &support::TestSite) {
    site.write("_redirects", "/app/* /app/index.html 200\n");
    site.write(
        "app/index.html",
        "<!doctype html><html><head><meta charset=utf-8><title>spa</title>\
         <script src=\"/app/app.js\" defer></script></head>\
         <body><main id=view>loading</main></body></html>",
    );
    site.write(
        "app/app.js",
        "document.getElementById('view').textContent = 'route ' + location.pathname;",
    );
    client
        .goto(&format!("{base}/app/users/42?tab=posts"))
        .await
        .unwrap();
    assert_eq!(client.title().await.unwrap(), "spa");
    let view = client
        .wait()
        .for_element(Locator::Css("#view"))
        .await
        .unwrap();
    let mut text = view.text().await.unwrap();
    for _ in 0..50 {
        if text != "loading" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        text = view.text().await.unwrap();
    }
    assert_eq!(text, "route /app/users/42");
    let (page, resources) = statuses(client).await;
    assert_eq!(page, 200);
    let script = resources
        .iter()
        .find(|(name, _)| name.ends_with("/app/app.js"));
    assert_eq!(
        script.map(|(_, status)| *status),
        Some(200),
        "{resources:?}"
    );
}

async fn all_scenarios(backend: Backend) {
    if !browser_installed() {
        return;
    }
    let Some(server) = support::fresh_server(backend) else {
        return;
    };
    let base = format!("http://{}", server.addr);
    let browser = Browser::start().await;
    let tag = match backend {
        Backend::Runner => "runner",
        Backend::RunnerP3 => "runner-p3",
        Backend::WasmtimeServe => "wasmtime-serve",
        Backend::WasmtimeServeP3 => "wasmtime-serve-p3",
        Backend::RunnerRedis => "runner-redis",
        Backend::SpinRedis => "spin-redis",
    };
    let client = &browser.client;
    browser
        .run(&format!("{tag}-home-page"), home_page(client, &base))
        .await;
    browser
        .run(
            &format!("{tag}-link-and-back"),
            link_and_back(client, &base),
        )
        .await;
    browser
        .run(&format!("{tag}-missing-page"), missing_page(client, &base))
        .await;
    browser
        .run(
            &format!("{tag}-board"),
            board(client, &base, &browser.prompts),
        )
        .await;
    browser
        .run(
            &format!("{tag}-single-page-app"),
            single_page_app(client, &base, server.site),
        )
        .await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_in_chromium() {
    all_scenarios(Backend::Runner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasmtime_serve_in_chromium() {
    all_scenarios(Backend::WasmtimeServe).await;
}
