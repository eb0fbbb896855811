//! The few pieces of HTML every page shares: escaping and the layout. Pages are plain
//! server-rendered HTML with forms; the only script refreshes the status section and fills
//! the sign-in form from the link's fragment.

use axum::response::Html;

/// Escapes text for an element's content or a quoted attribute.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

/// A whole page around `body`.
pub fn layout(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · sfsync</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>",
        title = esc(title),
    ))
}

/// A hidden CSRF field for a form.
pub fn csrf_field(proof: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(proof)
    )
}

const STYLE: &str = "\
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}\
main{max-width:980px;margin:0 auto;padding:24px}\
header{display:flex;justify-content:space-between;align-items:center;margin-bottom:8px}\
nav.crumbs{color:#5b6475;font-size:13px;margin-bottom:16px}\
.card{background:#fff;border:1px solid #dde1e8;border-radius:10px;padding:20px 24px;margin-bottom:16px}\
.card h2{margin:0 0 4px;font-size:20px}.muted{color:#5b6475}\
.badge{display:inline-block;padding:2px 10px;border-radius:12px;font-size:13px;font-weight:600}\
.ok{background:#e3f6ea;color:#16623a}.warn{background:#fff3d6;color:#7a5200}\
.off{background:#eceef2;color:#4b5262}.bad{background:#fde8e8;color:#8f1d1d}\
table{border-collapse:collapse;width:100%;font-size:14px}td.when{white-space:nowrap}\
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eceef2;vertical-align:top}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:12px 0}\
dt{color:#5b6475}dd{margin:0}\
.notice{padding:10px 14px;border-radius:8px;margin-bottom:16px;background:#e3f6ea}\
.problem{padding:14px 18px;border-radius:8px;margin-bottom:16px;background:#fde8e8;border:1px solid #f3c2c2}\
.problem h3{margin:0 0 6px}\
button{font:inherit;padding:6px 14px;border-radius:6px;border:1px solid #2d5bd7;background:#2d5bd7;color:#fff;cursor:pointer}\
button.secondary{background:#fff;color:#2d5bd7}\
button.danger{background:#b42323;border-color:#b42323}\
input[type=text],input[type=number],input[type=url]{font:inherit;padding:5px 8px;border:1px solid #c4cad6;border-radius:6px}\
fieldset{border:1px solid #eceef2;border-radius:8px;margin:12px 0}\
code,pre{font-family:ui-monospace,monospace;font-size:13px}.diff-old{color:#8f1d1d}\
.diff-new{color:#16623a}.chart{margin:0 0 8px}.chart rect{fill:#2d5bd7}\
.chart line{stroke:#c4cad6}.chart figcaption{font-size:12px}form{margin:12px 0}\
";
