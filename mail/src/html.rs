//! The HTML twin of a plain-text email: the same words, escaped, in paragraphs, with links
//! clickable. Rendering it from the text keeps the two parts saying the same thing.

/// Renders `text` (paragraphs separated by blank lines) as a small HTML document.
pub fn html_from_text(title: &str, text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2 + 200);
    out.push_str("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>");
    out.push_str(&escape(title));
    out.push_str(
        "</title></head>\n<body style=\"font-family: sans-serif; line-height: 1.5; max-width: 40em\">\n",
    );
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        out.push_str("<p>");
        let lines: Vec<String> = para.lines().map(linkify).collect();
        out.push_str(&lines.join("<br>\n"));
        out.push_str("</p>\n");
    }
    out.push_str("</body></html>\n");
    out
}

fn escape(s: &str) -> String {
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

/// One line, escaped, with each `http://` or `https://` word made a link.
fn linkify(line: &str) -> String {
    let mut out = String::new();
    for (i, word) in line.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if word.starts_with("https://") || word.starts_with("http://") {
            let w = escape(word);
            out.push_str(&format!("<a href=\"{w}\">{w}</a>"));
        } else {
            out.push_str(&escape(word));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::html_from_text;

    #[test]
    fn paragraphs_are_escaped_and_links_clickable() {
        let html = html_from_text(
            "A <b> & c",
            "Hi <script>\nsecond line\n\nOpen https://x.test/a?b=1&c=2 now\n\n\n",
        );
        assert!(
            html.contains("<title>A &lt;b&gt; &amp; c</title>"),
            "{html}"
        );
        assert!(
            html.contains("<p>Hi &lt;script&gt;<br>\nsecond line</p>"),
            "{html}"
        );
        assert!(
            html.contains(
                "<p>Open <a href=\"https://x.test/a?b=1&amp;c=2\">https://x.test/a?b=1&amp;c=2</a> now</p>"
            ),
            "{html}"
        );
        assert_eq!(html.matches("<p>").count(), 2, "{html}");
        assert!(!html.contains("<script>"));
    }
}
