//! QR codes of invite links, as inline SVG: scanned from a phone held up to another screen or
//! a printed sheet, with no image request and nothing for the CSP to allow.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Longest text a code is made for (an invite link is well under it).
pub const MAX_LEN: usize = 512;

/// Why no code could be made.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the text is too long for a QR code")]
    TooLong,
}

/// The SVG element (no XML prolog, ready to inline) of a QR code of `text`, with a quiet zone,
/// scaled by the page's CSS; `label` is its accessible name.
pub fn svg(text: &str, label: &str) -> Result<String, QrError> {
    if text.len() > MAX_LEN {
        return Err(QrError::TooLong);
    }
    // Medium correction: survives a smudged print or a screen's glare, and stays small.
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|_| QrError::TooLong)?;
    let doc = code
        .render::<svg::Color>()
        .quiet_zone(true)
        .module_dimensions(1, 1)
        .build();
    // The renderer writes a standalone document; inline SVG takes the element alone.
    let start = doc.find("<svg").ok_or(QrError::TooLong)?;
    let element = &doc[start..];
    let label = askama::filters::escape(label, askama::filters::Html)
        .map(|l| l.to_string())
        .unwrap_or_default();
    Ok(element.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{label}\" class=\"qr\" "),
        1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    // That the SVG decodes to the link is checked on the invite page itself
    // (web/tests/organize.rs, with a QR decoder).

    #[test]
    fn labels_are_escaped_and_long_text_refused() {
        let svg = svg("x", "a \"quoted\" <label>").expect("svg");
        assert!(
            svg.contains("aria-label=\"a &#34;quoted&#34; &#60;label&#62;\""),
            "{svg}"
        );
        assert!(!svg[..200].contains("<label>"));
        assert!(matches!(
            super::svg(&"x".repeat(MAX_LEN + 1), "l"),
            Err(QrError::TooLong)
        ));
    }
}
