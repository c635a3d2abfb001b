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

    /// Paints the SVG's modules (`M{x} {y}h1v1…` squares in a `viewBox="0 0 w h"`) onto a
    /// grey image, `scale` pixels a module.
    fn rasterize(svg: &str, scale: usize) -> (usize, Vec<u8>) {
        let vb = svg.split("viewBox=\"0 0 ").nth(1).expect("viewBox");
        let w: usize = vb
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("width");
        let side = w * scale;
        let mut px = vec![255u8; side * side];
        let d = svg
            .split(" d=\"")
            .nth(1)
            .and_then(|d| d.split('"').next())
            .expect("path");
        for square in d.split('M').filter(|s| !s.is_empty()) {
            let (x, rest) = square.split_once(' ').expect("x");
            let y = rest.split('h').next().expect("y");
            let (x, y): (usize, usize) = (x.parse().expect("x"), y.parse().expect("y"));
            for dy in 0..scale {
                for dx in 0..scale {
                    px[(y * scale + dy) * side + x * scale + dx] = 0;
                }
            }
        }
        (side, px)
    }

    #[test]
    fn the_svg_decodes_to_the_link() {
        let link = "http://127.0.0.1:2584/join/Zm9vYmFyYmF6cXV4cXV1eA";
        let svg = svg(link, "QR code of the invite link").expect("svg");
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"QR code of the invite link\""));
        assert!(!svg.contains("<?xml"), "inline, no prolog");
        let (side, px) = rasterize(&svg, 4);
        let mut img =
            rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| px[y * side + x]);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one code found");
        let (_, content) = grids[0].decode().expect("decodes");
        assert_eq!(content, link);
    }

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
