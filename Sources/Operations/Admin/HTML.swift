import Foundation

/// Text for HTML: every value that reaches a page goes through ``escape(_:)`` (job payloads and errors come from
/// outside, so they must never become markup).
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// A query-string value.
    static func query(_ text: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// UTC time of a ms timestamp, to the second.
    static func time(_ millis: Int64?) -> String {
        guard let millis else { return "–" }
        let text = Date(timeIntervalSince1970: Double(millis) / 1000).ISO8601Format()
        return text.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: "")
    }

    /// A table: header cells, then rows of already-escaped cells.
    static func table(_ headers: [String], _ rows: [[String]], empty: String) -> String {
        if rows.isEmpty { return "<p class=\"muted\">\(escape(empty))</p>" }
        var html = "<div class=\"scroll\"><table><thead><tr>"
        for header in headers { html += "<th>\(escape(header))</th>" }
        html += "</tr></thead><tbody>"
        for row in rows { html += "<tr>" + row.map { "<td>\($0)</td>" }.joined() + "</tr>" }
        return html + "</tbody></table></div>"
    }

    /// The whole page: no resource of another origin, no inline script or style (the Content-Security-Policy
    /// forbids them), readable on a phone. With `refreshes`, the element `#live` reloads every 3 s from the path in
    /// its `data-refresh` attribute (``refreshScript``).
    static func page(title: String, body: String, refreshes: Bool = false) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <link rel="stylesheet" href="/admin/assets/admin.css">\(refreshes ? "\n<script src=\"/admin/assets/admin.js\" defer></script>" : "")
        </head>
        <body><header><h1>wooqueue</h1><a href="/admin">Overview</a><a href="/admin/dlq">Dead letters</a></header>
        <main>\(body)</main></body></html>
        """
    }

    /// `/admin/assets/admin.css`.
    static let stylesheet = """
        body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2327;background:#f6f7f7}
        header{background:#1d2327;color:#fff;padding:.7rem 1rem;display:flex;gap:1rem;align-items:baseline;flex-wrap:wrap}
        header a{color:#9ec2e6}
        main{padding:1rem;max-width:1200px;margin:auto}
        section{background:#fff;border:1px solid #dcdcde;border-radius:6px;padding:.8rem 1rem;margin-bottom:1rem}
        h1{font-size:1.2rem;margin:0} h2{font-size:1.05rem;margin:.2rem 0 .6rem}
        .scroll{overflow-x:auto} table{border-collapse:collapse;width:100%;font-size:.9rem}
        th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
        td.num,th.num{text-align:right} .late{background:#fcf0f1;color:#8a2424;font-weight:600}
        .muted{color:#646970} .alert{background:#fcf0f1;border-color:#d63638} .notice{background:#fcf9e8;border-color:#dba617}
        .ok{background:#edfaef;border-color:#00a32a}
        .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.6rem}
        .card{border:1px solid #dcdcde;border-radius:6px;padding:.5rem .7rem} .card b{font-size:1.3rem;display:block}
        button{background:#2271b1;color:#fff;border:0;border-radius:4px;padding:.45rem .8rem;cursor:pointer;font-size:.9rem}
        button.danger{background:#b32d2e} form.inline{display:inline}
        input,select{padding:.35rem;border:1px solid #8c8f94;border-radius:4px;max-width:100%}
        pre{background:#f6f7f7;padding:.6rem;overflow:auto;max-height:30rem;white-space:pre-wrap;word-break:break-all}
        """

    /// `/admin/assets/admin.js`: refreshes `#live` from its `data-refresh` path every 3 s, without reloading the
    /// page (a failed fetch keeps what is shown).
    static let refreshScript = """
        "use strict";
        const live = document.getElementById("live");
        if (live && live.dataset.refresh) {
          setInterval(async () => {
            try {
              const response = await fetch(live.dataset.refresh, {credentials: "same-origin", cache: "no-store"});
              if (response.ok) live.innerHTML = await response.text();
            } catch (e) {}
          }, 3000);
        }
        """
}
