//! Parts of a PEC handed out as they are (the ZIP export of a message and its receipts).

use mail_parser::MessageParser;

/// The bytes of the top-level `daticert.xml` of a PEC (decoded from its transfer encoding),
/// or `None` when it has none. The same part [`crate::inspect`] reads: never the one of a
/// PEC forwarded inside `postacert.eml`. Never panics.
pub fn daticert_xml(raw: &[u8]) -> Option<Vec<u8>> {
    let message = MessageParser::default().parse(raw)?;
    let layout = super::mime::layout(&message);
    let part = layout.daticert.first().or(layout.unnamed_xml.first())?;
    Some(part.contents().to_vec())
}
