//! The runner's Prometheus page (`--metrics-addr`), scraped over HTTP.

use super::client;
use http::StatusCode;
use std::net::SocketAddr;

/// The whole page, checked to be OpenMetrics text.
pub async fn scrape(metrics: SocketAddr) -> String {
    let reply = client::get(metrics, "/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply
            .header("content-type")
            .starts_with("application/openmetrics-text")
    );
    reply.text()
}

/// The value of the sample named `series` (name and labels, as printed).
pub async fn sample(metrics: SocketAddr, series: &str) -> f64 {
    let page = scrape(metrics).await;
    let line = page.lines().find(|line| {
        line.strip_prefix(series)
            .is_some_and(|rest| rest.starts_with(' '))
    });
    let line = line.unwrap_or_else(|| panic!("no {series} in\n{page}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}
