//! The web dashboard: static files under `dashboard/` at the repository root, embedded in the
//! binary at compile time so that `sharedmetrics serve` serves them with no extra step and no
//! file system access. The page calls the REST/JSON API on the same origin; nothing is fetched
//! from anywhere else, which the Content-Security-Policy below enforces in the browser.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// What the browser may load: everything from this origin only. No inline scripts or styles (the
/// charts use SVG presentation attributes), no frames, no plug-ins, no form posts elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// One embedded file: its path under `/dashboard/`, content type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// Embeds `dashboard/<name>` with its content type.
macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset { path: $name, content_type: $content_type, body: include_bytes!(concat!("../../dashboard/", $name)) }
    };
}

/// Every file of the dashboard; a file not listed here is not served.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("format.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("charts.js", "text/javascript; charset=utf-8"),
    asset!("views/indicators.js", "text/javascript; charset=utf-8"),
    asset!("views/profile.js", "text/javascript; charset=utf-8"),
    asset!("views/compare.js", "text/javascript; charset=utf-8"),
    asset!("views/trend.js", "text/javascript; charset=utf-8"),
    asset!("views/inequality.js", "text/javascript; charset=utf-8"),
    asset!("views/charter.js", "text/javascript; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// Returns the dashboard's routes: `/` redirects to `/dashboard/`, which serves the page, and
/// `/dashboard/<file>` serves each embedded asset with its content type and the security headers.
pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/dashboard/") }))
        .route("/dashboard", get(|| async { Redirect::permanent("/dashboard/") }))
        .route("/dashboard/", get(|| async { serve("index.html") }))
        .route(
            "/dashboard/{*path}",
            get(|axum::extract::Path(path): axum::extract::Path<String>| async move { serve(&path) }),
        )
}

/// Answers one asset, or 404 for a path that is not embedded.
fn serve(path: &str) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return (StatusCode::NOT_FOUND, security_headers(), "not found").into_response();
    };
    let mut response = (security_headers(), asset.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    // The assets change only with the binary; revalidating keeps an upgraded gateway from serving
    // a stale page against a newer API.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The headers every dashboard response carries.
fn security_headers() -> [(HeaderName, HeaderValue); 4] {
    [
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        // API keys travel in headers, never in URLs, but the routes name areas and metrics.
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str) -> Response {
        router().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn the_root_redirects_to_the_dashboard() {
        let response = get("/").await;
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(response.headers()[header::LOCATION], "/dashboard/");
    }

    #[tokio::test]
    async fn the_page_is_html_with_a_strict_content_security_policy() {
        let response = get("/dashboard/").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.starts_with("default-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("http"), "{csp}");
    }

    #[tokio::test]
    async fn each_asset_is_served_with_its_content_type() {
        for (path, content_type) in [
            ("/dashboard/app.js", "text/javascript; charset=utf-8"),
            ("/dashboard/views/profile.js", "text/javascript; charset=utf-8"),
            ("/dashboard/style.css", "text/css; charset=utf-8"),
            ("/dashboard/favicon.svg", "image/svg+xml"),
        ] {
            let response = get(path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(response.headers()[header::CONTENT_TYPE], content_type, "{path}");
            assert_eq!(response.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        }
    }

    #[tokio::test]
    async fn a_path_that_is_not_embedded_is_not_found() {
        assert_eq!(get("/dashboard/../Cargo.toml").await.status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/dashboard/secret.txt").await.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn every_page_script_is_embedded() {
        // index.html and the modules import one another by path; each must be in ASSETS.
        for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js") || a.path.ends_with(".html")) {
            let text = std::str::from_utf8(asset.body).unwrap();
            for import in
                text.split(['"', '\'']).filter(|s| (s.starts_with("./") || s.starts_with("../")) && s.ends_with(".js"))
            {
                let base = asset.path.rsplit_once('/').map(|(dir, _)| format!("{dir}/")).unwrap_or_default();
                let target = match import.strip_prefix("../") {
                    Some(rest) => rest.to_owned(),
                    None => format!("{base}{}", &import[2..]),
                };
                assert!(
                    ASSETS.iter().any(|a| a.path == target),
                    "{} imports {import} ({target}), not embedded",
                    asset.path
                );
            }
        }
    }
}
