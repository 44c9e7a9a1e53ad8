//! The sync index: one small JSON object under the prefix that remembers, for every object the
//! action wrote or verified, its content hash and headers together with the ETag and
//! LastModified the bucket listing showed for it. On the next run an object whose listing still
//! shows that ETag and LastModified has not been touched since (any PutObject or CopyObject
//! changes LastModified), so its hash and headers are known without a HeadObject per object.
//! An object that was changed by anything else, or that the index does not know, is read with
//! HeadObject as before: the index saves requests, it never decides alone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The index's name under the prefix. It is never uploaded from the source, compared or
/// deleted.
pub const INDEX_NAME: &str = ".sync-frontend-index.json";
const VERSION: u32 = 1;

/// What one object is known to hold, and how the listing showed it then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub sha256: String,
    pub cache_control: String,
    pub content_type: String,
    pub etag: String,
    pub last_modified: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub version: u32,
    /// By full key.
    pub objects: BTreeMap<String, Entry>,
}

impl Index {
    /// Reads a stored index; anything unreadable (another version, damage) counts as empty,
    /// which only costs HeadObject calls.
    pub fn parse(bytes: &[u8]) -> Index {
        match serde_json::from_slice::<Index>(bytes) {
            Ok(index) if index.version == VERSION => index,
            _ => Index::default(),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        let index = Index {
            version: VERSION,
            objects: self.objects.clone(),
        };
        serde_json::to_vec(&index).unwrap_or_default()
    }

    /// The entry for `key` if the listing still shows the object exactly as it was recorded.
    pub fn current(
        &self,
        key: &str,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Option<&Entry> {
        let entry = self.objects.get(key)?;
        (Some(entry.etag.as_str()) == etag && Some(entry.last_modified.as_str()) == last_modified)
            .then_some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            sha256: "ab".repeat(32),
            cache_control: "public, max-age=31536000".into(),
            content_type: "text/css; charset=utf-8".into(),
            etag: "\"0cc175b9c0f1b6a831c399e269772661\"".into(),
            last_modified: "1764160000.000".into(),
        }
    }

    #[test]
    fn an_entry_counts_only_while_the_listing_shows_the_same_etag_and_time() {
        let mut index = Index::default();
        index.objects.insert("site/a.css".into(), entry());
        let index = Index::parse(&index.to_json());
        let e = entry();
        assert_eq!(
            index.current("site/a.css", Some(&e.etag), Some(&e.last_modified)),
            Some(&e)
        );
        assert_eq!(
            index.current("site/a.css", Some("\"other\""), Some(&e.last_modified)),
            None
        );
        assert_eq!(
            index.current("site/a.css", Some(&e.etag), Some("1764160001.000")),
            None
        );
        assert_eq!(index.current("site/a.css", None, None), None);
        assert_eq!(
            index.current("site/b.css", Some(&e.etag), Some(&e.last_modified)),
            None
        );
    }

    #[test]
    fn an_unreadable_index_is_empty() {
        assert_eq!(Index::parse(b"not json"), Index::default());
        assert_eq!(
            Index::parse(b"{\"version\": 99, \"objects\": {}}"),
            Index::default()
        );
    }
}
