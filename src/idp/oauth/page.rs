//! The hosted pages' HTML, server-rendered and without any JavaScript: the layout (`lang`, one stylesheet from
//! `/oauth2/hosted.css`), every value HTML-escaped, a `<label for>` on every input, errors in `role="alert"`,
//! and the headers every page carries — a strict CSP (`default-src 'none'`, `style-src 'self'`, `form-action`,
//! `frame-ancestors 'none'`), `X-Frame-Options: DENY`, `Cache-Control: no-store`, `Referrer-Policy:
//! no-referrer`. Pure rendering; must never put an unescaped value, a password or a script in a page.
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The stylesheet every page links (`style-src 'self'`).
pub const STYLESHEET: &str = "\
body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}\
h1{font-size:1.4rem}label{display:block;margin-top:1rem;font-weight:600}\
input[type=text],input[type=password],input[type=email]{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}\
button{margin-top:1.2rem;padding:.6rem 1.2rem;font-size:1rem}\
[role=alert]{color:#8a1c1c;border:1px solid #8a1c1c;padding:.6rem;margin:1rem 0}\
nav a{display:block;margin-top:.8rem}ul{padding-left:1.2rem}";

/// HTML-escapes text for an element's content or a quoted attribute.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title` (escaped) and `body` (already HTML).
pub fn html(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<link rel=\"stylesheet\" href=\"/oauth2/hosted.css\">\n</head>\n\
         <body>\n<main>\n<h1>{t}</h1>\n{body}\n</main>\n</body>\n</html>\n",
        t = esc(title)
    )
}

/// An error or notice in an alert region.
pub fn alert(message: &str) -> String {
    format!("<p role=\"alert\">{}</p>", esc(message))
}

/// A labelled input.
pub fn input(id: &str, label: &str, kind: &str, value: &str, autocomplete: &str) -> String {
    format!(
        "<label for=\"{id}\">{label}</label>\n<input id=\"{id}\" name=\"{id}\" type=\"{kind}\" \
         value=\"{v}\" autocomplete=\"{autocomplete}\" required>",
        v = esc(value),
        label = esc(label)
    )
}

/// A hidden input.
pub fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
        esc(value)
    )
}

/// The headers of every hosted page; `form_action` names where its forms (and the redirects after them) may go.
pub fn secure_headers(resp: &mut Response, form_action: &str) {
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// A page as a response.
pub fn respond(status: StatusCode, page: String, form_action: &str) -> Response {
    let mut resp = (status, page).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(&mut resp, form_action);
    resp
}

/// An error page (never a redirect).
pub fn error(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "{}\n<p>Go back to the application and start the sign-in again.</p>",
        alert(message)
    );
    respond(status, html("Sign-in error", &body), "'none'")
}

/// `GET /oauth2/hosted.css`.
pub async fn stylesheet() -> Response {
    let mut resp = STYLESHEET.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_everywhere() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let i = input("username", "Username", "text", "\"><script>", "username");
        assert!(!i.contains("<script>"), "{i}");
        assert!(i.contains("<label for=\"username\">Username</label>"));
        assert!(alert("<b>").contains("role=\"alert\">&lt;b&gt;"));
        assert!(html("T", "").contains("<html lang=\"en\">"));
    }
}
