//! The one way every JSON document is rendered: two-space indentation, keys in the order the
//! documented shape gives them, and a trailing newline. Hash-named documents and signed roots
//! depend on these bytes being the same on every machine, so nothing renders JSON another way.

use crate::common::model::Hash;

/// A rendered document and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub bytes: Vec<u8>,
    pub hash: Hash,
}

impl Document {
    /// Renders a JSON document the one documented way: two-space indentation, key order as
    /// inserted, and a trailing newline.
    pub fn render(value: &impl serde::Serialize) -> Document {
        let bytes = render_json(value);
        let hash = Hash::of(&bytes);
        Document { bytes, hash }
    }
}

/// A JSON document's bytes, rendered the way [`Document::render`] documents, for documents
/// that are not named by their hash and so need none. For JSON values and for the typed views
/// the documents are serialized from, whose maps all have string keys, so it cannot fail.
pub fn render_json(value: &impl serde::Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("documents always serialize");
    bytes.push(b'\n');
    bytes
}
