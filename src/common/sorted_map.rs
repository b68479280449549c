//! A map kept as one sorted, exactly sized slice: the versions of an expert.
//!
//! A full build holds every version of the registry at once, a million of them in a large
//! registry. A `BTreeMap` gives each expert at least one node with room for eleven entries,
//! most experts have a handful, and each entry (a version and its record) is a few hundred
//! bytes: more than half of what the versions took was empty room. This map is built once,
//! read many times and rarely changed, so it is a boxed slice sorted by key, with no spare
//! capacity; lookups are binary searches.

use std::borrow::Borrow;
use std::ops::Index;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortedMap<K, V> {
    entries: Box<[(K, V)]>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap {
            entries: Box::new([]),
        }
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    pub fn new() -> Self {
        SortedMap::default()
    }

    /// The map of `entries` in any order; of entries with equal keys the last one is kept, as
    /// inserting them one by one into a map would.
    pub fn from_unsorted(mut entries: Vec<(K, V)>) -> Self {
        // A stable sort keeps equal keys in their given order, so the last of each run is the
        // one inserted last.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut kept: Vec<(K, V)> = Vec::with_capacity(entries.len());
        for entry in entries {
            match kept.last_mut() {
                Some(last) if last.0 == entry.0 => *last = entry,
                _ => kept.push(entry),
            }
        }
        SortedMap {
            entries: kept.into_boxed_slice(),
        }
    }

    fn position<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// Inserts or replaces, returning the value replaced. Linear in the map's size: for the
    /// occasional change to a built map, not for building one (see [`SortedMap::from_unsorted`]).
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.position(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.entries[at].1, value)),
            Err(at) => {
                let mut entries = std::mem::take(&mut self.entries).into_vec();
                entries.insert(at, (key, value));
                self.entries = entries.into_boxed_slice();
                None
            }
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.get_key_value(key).map(|(_, value)| value)
    }

    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let at = self.position(key).ok()?;
        let (key, value) = &self.entries[at];
        Some((key, value))
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let at = self.position(key).ok()?;
        Some(&mut self.entries[at].1)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.position(key).is_ok()
    }
}

impl<K, V> SortedMap<K, V> {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(key, value)| (key, value))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(key, _)| key)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(_, value)| value)
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        SortedMap::from_unsorted(iter.into_iter().collect())
    }
}

impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_vec().into_iter()
    }
}

impl<'a, K, V> IntoIterator for &'a SortedMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(key, value)| (key, value))
    }
}

impl<K, Q, V> Index<&Q> for SortedMap<K, V>
where
    K: Ord + Borrow<Q>,
    Q: Ord + ?Sized,
{
    type Output = V;

    /// Panics when the key is absent, as `BTreeMap`'s index does: for keys the caller knows
    /// are there.
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry for this key in the map")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn behaves_as_a_btree_map_built_from_the_same_entries() {
        let entries = [
            (5, "e"),
            (1, "a"),
            (3, "c"),
            (1, "A"),
            (9, "i"),
            (3, "C"),
            (7, "g"),
        ];
        let map: SortedMap<i32, &str> = entries.iter().copied().collect();
        let reference: BTreeMap<i32, &str> = entries.iter().copied().collect();
        assert_eq!(
            map.iter().collect::<Vec<_>>(),
            reference.iter().collect::<Vec<_>>()
        );
        assert_eq!(
            map.iter().rev().collect::<Vec<_>>(),
            reference.iter().rev().collect::<Vec<_>>()
        );
        assert_eq!(map.len(), reference.len());
        for key in 0..11 {
            assert_eq!(map.get(&key), reference.get(&key), "key {key}");
            assert_eq!(map.contains_key(&key), reference.contains_key(&key));
        }
        assert_eq!(map[&3], "C");
        assert_eq!(map.keys().next_back(), Some(&9));
    }

    #[test]
    fn insert_keeps_the_order_and_replaces_equal_keys() {
        let mut map = SortedMap::new();
        assert!(map.is_empty());
        for (key, value) in [(4, 'd'), (2, 'b'), (6, 'f'), (2, 'B')] {
            map.insert(key, value);
        }
        assert_eq!(map.insert(4, 'D'), Some('d'));
        assert_eq!(map.values().copied().collect::<String>(), "BDf");
        *map.get_mut(&6).unwrap() = 'F';
        assert_eq!(
            map.into_iter().collect::<Vec<_>>(),
            [(2, 'B'), (4, 'D'), (6, 'F')]
        );
    }

    #[test]
    fn looks_up_borrowed_keys() {
        let map: SortedMap<String, u8> = [("b".to_owned(), 2), ("a".to_owned(), 1)]
            .into_iter()
            .collect();
        assert_eq!(map.get("a"), Some(&1));
        assert_eq!(map.get_key_value("b"), Some((&"b".to_owned(), &2)));
        assert!(!map.contains_key("c"));
    }
}
