//! Reads the server's Prometheus text endpoint for the outbox relay lag. Optional and
//! tolerant: the endpoint may not exist yet, or name its series differently; then the run
//! reports no lag and says why.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The metric family the relay exposes: `paht_outbox_lag_seconds{quantile="0.99"} 0.042`.
pub const OUTBOX_LAG: &str = "paht_outbox_lag_seconds";

/// The largest body read; a metrics page is a few kilobytes.
const MAX_BODY: u64 = 4 << 20;

/// Splits `http://host:port/path` into the address to connect to, the Host header and the path.
fn split_url(url: &str) -> anyhow::Result<(String, String, String)> {
    let rest = url.strip_prefix("http://").context("only http:// metrics URLs are supported")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/metrics"),
    };
    if authority.is_empty() {
        bail!("no host in {url}");
    }
    let address = if authority.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()) {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok((address, authority.to_owned(), path.to_owned()))
}

/// GETs the page with HTTP/1.1 and `Connection: close`, and returns the body.
pub async fn fetch(url: &str, timeout: Duration) -> anyhow::Result<String> {
    let (address, host, path) = split_url(url)?;
    let exchange = async {
        let mut stream = TcpStream::connect(&address).await.with_context(|| format!("connecting to {address}"))?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.take(MAX_BODY).read_to_end(&mut raw).await?;
        anyhow::Ok(raw)
    };
    let raw =
        tokio::time::timeout(timeout, exchange).await.context("the metrics endpoint did not answer in time")??;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").context("not an HTTP response")?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        bail!("{url} answered `{status}`");
    }
    if head.lines().any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked")) {
        return Ok(dechunk(body));
    }
    Ok(body.to_owned())
}

/// Decodes a chunked body (the server may stream the page).
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// The samples of `family` in a Prometheus text page, by quantile label (`0.99`), or by
/// series name for the family's other series (`_sum`, `_count`, `_max`, or a gauge with no
/// quantile label, keyed `value`).
pub fn samples(page: &str, family: &str) -> BTreeMap<String, f64> {
    let mut found = BTreeMap::new();
    for line in page.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix(family) else { continue };
        // `family` must end at a label set, a suffix or the value, not inside a longer name.
        let (suffix, rest) = match rest.find(['{', ' ']) {
            Some(i) => rest.split_at(i),
            None => continue,
        };
        if !(suffix.is_empty() || suffix.starts_with('_')) {
            continue;
        }
        let (labels, value) = match rest.strip_prefix('{') {
            Some(inner) => match inner.split_once('}') {
                Some((labels, value)) => (labels, value),
                None => continue,
            },
            None => ("", rest),
        };
        // A sample may carry a timestamp after the value.
        let Some(Ok(value)) = value.split_whitespace().next().map(str::parse::<f64>) else { continue };
        let quantile = labels.split(',').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == "quantile").then(|| v.trim().trim_matches('"').to_owned())
        });
        let key = match (quantile, suffix) {
            (Some(q), "") => q,
            (_, "") => "value".to_owned(),
            (_, suffix) => suffix.trim_start_matches('_').to_owned(),
        };
        found.insert(key, value);
    }
    found
}

/// The samples of `family` grouped by the value of `label` (e.g. `service`), each group as
/// [`samples`] gives it; series without the label are grouped under `""`.
pub fn samples_by(page: &str, family: &str, label: &str) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut groups: BTreeMap<String, String> = BTreeMap::new();
    for line in page.lines().map(str::trim) {
        if !line.starts_with(family) {
            continue;
        }
        let value = line
            .split_once('{')
            .and_then(|(_, rest)| rest.split_once('}'))
            .and_then(|(labels, _)| {
                labels.split(',').find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    (k.trim() == label).then(|| v.trim().trim_matches('"').to_owned())
                })
            })
            .unwrap_or_default();
        let group = groups.entry(value).or_default();
        group.push_str(line);
        group.push('\n');
    }
    groups
        .into_iter()
        .map(|(value, lines)| (value, samples(&lines, family)))
        .filter(|(_, found)| !found.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "\
# HELP paht_outbox_lag_seconds Time from commit to broker confirm.
# TYPE paht_outbox_lag_seconds summary
paht_outbox_lag_seconds{quantile=\"0.5\"} 0.012
paht_outbox_lag_seconds{quantile=\"0.99\"} 0.081 1712345678000
paht_outbox_lag_seconds{service=\"intake\",quantile=\"0.999\"} 0.2
paht_outbox_lag_seconds_sum 12.5
paht_outbox_lag_seconds_count 1000
paht_outbox_lag_seconds_total_bogus{x=\"1\"} not-a-number
paht_outbox_lagging 7
paht_outbox_pending 3
";

    #[test]
    fn reads_quantiles_sum_and_count() {
        let lag = samples(PAGE, OUTBOX_LAG);
        assert_eq!(lag.get("0.5"), Some(&0.012));
        assert_eq!(lag.get("0.99"), Some(&0.081));
        assert_eq!(lag.get("0.999"), Some(&0.2));
        assert_eq!(lag.get("sum"), Some(&12.5));
        assert_eq!(lag.get("count"), Some(&1000.0));
        assert_eq!(lag.len(), 5, "{lag:?}");
    }

    #[test]
    fn a_gauge_without_labels_is_its_value_and_other_families_are_ignored() {
        let page = "paht_outbox_lag_seconds 0.3\npaht_outbox_lag_seconds_other{quantile=\"0.5\"} 9\n";
        let lag = samples(page, OUTBOX_LAG);
        assert_eq!(lag.get("value"), Some(&0.3));
        assert_eq!(lag.get("other"), Some(&9.0));
        assert!(samples("", OUTBOX_LAG).is_empty());
        assert!(samples("garbage {{{ \n\u{0}", OUTBOX_LAG).is_empty());
    }

    #[test]
    fn urls_split_into_address_host_and_path() {
        let (addr, host, path) = split_url("http://127.0.0.1:8080/metrics").unwrap();
        assert_eq!((addr.as_str(), host.as_str(), path.as_str()), ("127.0.0.1:8080", "127.0.0.1:8080", "/metrics"));
        let (addr, _, path) = split_url("http://localhost").unwrap();
        assert_eq!((addr.as_str(), path.as_str()), ("localhost:80", "/metrics"));
        assert!(split_url("https://x/metrics").is_err());
        assert!(split_url("http:///metrics").is_err());
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        assert_eq!(dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), "hello world");
    }

    #[tokio::test]
    async fn fetches_from_a_live_socket_and_tolerates_a_missing_one() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            // Closed before answering, so the second fetch below surely finds no one.
            drop(listener);
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await.unwrap();
            let body = "paht_outbox_lag_seconds{quantile=\"0.99\"} 0.05\n";
            let response =
                format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len());
            socket.write_all(response.as_bytes()).await.unwrap();
        });
        let page = fetch(&format!("http://{addr}/metrics"), Duration::from_secs(5)).await.unwrap();
        assert_eq!(samples(&page, OUTBOX_LAG).get("0.99"), Some(&0.05));

        // Nothing listens on the port any more.
        assert!(fetch(&format!("http://{addr}/metrics"), Duration::from_secs(5)).await.is_err());
    }

    #[test]
    fn series_group_by_a_label() {
        let page = "\
# TYPE paht_outbox_lag_seconds summary
paht_outbox_lag_seconds{service=\"intake\",quantile=\"0.5\"} 0.002
paht_outbox_lag_seconds{service=\"intake\",quantile=\"0.99\"} 0.012
paht_outbox_lag_seconds{service=\"routing\",quantile=\"0.99\"} 0.03
paht_outbox_lag_seconds{quantile=\"0.99\"} 0.5
paht_outbox_pending{service=\"routing\"} 4
";
        let by = samples_by(page, OUTBOX_LAG, "service");
        assert_eq!(by.keys().collect::<Vec<_>>(), ["", "intake", "routing"]);
        assert_eq!(by["intake"].get("0.5"), Some(&0.002));
        assert_eq!(by["intake"].get("0.99"), Some(&0.012));
        assert_eq!(by["routing"].len(), 1);
        assert_eq!(by[""].get("0.99"), Some(&0.5));
        assert!(samples_by("", OUTBOX_LAG, "service").is_empty());
    }
}
