//! Where a listing's pages begin, chosen by the names listed rather than by their positions, so
//! that publishing one expert rewrites the page it lands on and not every page after it.
//!
//! Cutting a list every `n` items moves every later boundary when one item is inserted, and
//! with it every later page. Here a page begins at an item whose name's BLAKE3 hash falls under
//! a threshold (one name in [`Paging::one_in`]): whether a name begins a page depends on that
//! name alone, so an insertion changes the page it lands in, and only when the new name itself
//! begins a page, the page before it too. Two rules keep pages bounded:
//!
//! - A candidate name begins a page only if the candidate before it lies at least
//!   [`Paging::min`] items earlier: a page then holds at least `min` items (but a listing's
//!   last page, and the rest of a run split by the next rule), and the rule still looks at two
//!   neighbouring candidates only.
//! - A run longer than [`Paging::max`] is split, from its start, before the last rarer name
//!   (one in `SPLIT_ONE_IN`) that leaves a page of `min` to `max` items, so no page is heavier
//!   than `max` items. A run that grows past `max` becomes two pages, and an insertion moves a
//!   split only when the name at the edge of its window is such a name.
//!
//! So an insertion rewrites one page nineteen times in twenty, and at most a few (measured in
//! the tests below).
//!
//! Pages are named after the item they begin with (see [`crate::site::browse`]), not numbered:
//! a number would change for every page after a new one.

use std::ops::Range;

/// How a listing is cut into pages.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// On average one name in this many is a candidate to begin a page.
    pub one_in: u32,
    /// The fewest items on a page, except a listing's last page and the rest of a split run.
    pub min: usize,
    /// The most items on a page.
    pub max: usize,
}

impl Paging {
    /// Experts in a listing (`browse/`, a scope's pages): about 45 on a page on average, never
    /// more than the 100 (about 35 KB of HTML) every page held when pages were cut by position.
    pub const EXPERTS: Paging = Paging {
        one_in: 40,
        min: 8,
        max: 100,
    };

    /// Scopes by name: each is one short line.
    pub const SCOPES: Paging = Paging {
        one_in: 80,
        min: 16,
        max: 200,
    };

    /// The pages of a list of `keys` (unique names, in listing order), as ranges of indexes:
    /// consecutive, covering every key, one empty page for an empty list.
    pub fn pages(&self, keys: &[&str]) -> Vec<Range<usize>> {
        let hashes: Vec<u32> = keys.iter().map(|key| hash(key)).collect();
        let mut starts = vec![0];
        let mut previous_candidate = 0;
        for (i, &hash) in hashes.iter().enumerate().skip(1) {
            if !is_candidate(hash, self.one_in) {
                continue;
            }
            if i - previous_candidate >= self.min {
                starts.push(i);
            }
            previous_candidate = i;
        }
        let mut pages = Vec::with_capacity(starts.len());
        for (n, &start) in starts.iter().enumerate() {
            let end = starts.get(n + 1).copied().unwrap_or(keys.len());
            self.split(&hashes, start..end, &mut pages);
        }
        pages
    }

    /// Splits a run longer than `max`, from its start: each page ends before the last name
    /// within `min..=max` items of its start that is a candidate with one name in
    /// [`SPLIT_ONE_IN`], or after `max` items when there is none (for the listings' bounds,
    /// about one window in 200,000). A run that grows past `max` thus becomes two pages, not a
    /// new set of pages; an insertion moves a split only when the name at the edge of its
    /// window is such a candidate, and then the next one with the same chance.
    fn split(&self, hashes: &[u32], piece: Range<usize>, pages: &mut Vec<Range<usize>>) {
        let mut first = piece.start;
        while piece.end - first > self.max {
            let cut = (first + self.min.max(1)..=first + self.max)
                .rev()
                .find(|&i| is_candidate(hashes[i], SPLIT_ONE_IN))
                .unwrap_or(first + self.max);
            pages.push(first..cut);
            first = cut;
        }
        pages.push(first..piece.end);
    }
}

/// How rare a name must be to split a piece longer than `max`: rare, so that an insertion
/// seldom moves a split; common enough that a window of `max - min` names almost always holds
/// one.
const SPLIT_ONE_IN: u32 = 8;

/// Whether a name with this hash is one of about one in `one_in`.
fn is_candidate(hash: u32, one_in: u32) -> bool {
    u64::from(hash) * u64::from(one_in.max(1)) < 1 << 32
}

/// The first four bytes of a name's BLAKE3 hash: which names may begin a page.
fn hash(key: &str) -> u32 {
    let hash = blake3::hash(key.as_bytes());
    let bytes = hash.as_bytes();
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// The part of a page's file name that says which name it begins with: the name itself, with
/// the `/` of a scoped name as `.`, which no name holds (names are `[a-z0-9_-]` and a scope).
pub fn file_stem(name: &str) -> String {
    name.replace('/', ".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(count: usize) -> Vec<String> {
        (0..count).map(|n| format!("expert-{n:06}")).collect()
    }

    fn cut(paging: &Paging, names: &[String]) -> Vec<Range<usize>> {
        let keys: Vec<&str> = names.iter().map(String::as_str).collect();
        paging.pages(&keys)
    }

    /// The name each page begins with.
    fn firsts(names: &[String], pages: &[Range<usize>]) -> Vec<String> {
        pages.iter().map(|page| names[page.start].clone()).collect()
    }

    #[test]
    fn pages_cover_the_list_in_order_within_their_bounds() {
        let paging = Paging::EXPERTS;
        let names = names(20_000);
        let pages = cut(&paging, &names);
        assert_eq!(pages[0].start, 0);
        assert_eq!(pages.last().unwrap().end, names.len());
        assert!(pages.windows(2).all(|pair| pair[0].end == pair[1].start));
        let (last, rest) = pages.split_last().unwrap();
        assert!(pages.iter().all(|page| page.len() <= paging.max));
        assert!(!last.is_empty());
        // Only the piece a long run leaves after its splits, and the last page, may be short.
        let short = rest.iter().filter(|page| page.len() < paging.min).count();
        assert!(
            short * 20 < pages.len(),
            "{short} short pages of {}",
            pages.len()
        );
        let average = names.len() / pages.len();
        assert!(
            (30..=70).contains(&average),
            "{average} on a page on average"
        );
    }

    #[test]
    fn an_empty_or_tiny_list_is_one_page() {
        assert_eq!(Paging::EXPERTS.pages(&[]), vec![Range { start: 0, end: 0 }]);
        assert_eq!(
            Paging::EXPERTS.pages(&["a", "b"]),
            vec![Range { start: 0, end: 2 }]
        );
    }

    #[test]
    fn a_page_begins_at_a_candidate_by_name_whatever_came_before() {
        let paging = Paging {
            one_in: 1,
            min: 3,
            max: 100,
        };
        // Every name is a candidate, but each lies one item after the candidate before it,
        // closer than `min`: none begins a page.
        let names = names(10);
        assert_eq!(cut(&paging, &names), vec![Range { start: 0, end: 10 }]);
        let every = Paging {
            one_in: 1,
            min: 1,
            max: 100,
        };
        assert_eq!(cut(&every, &names).len(), 10);
        // No name is a candidate: a run longer than `max` still becomes pages of at most `max`.
        let capped = Paging {
            one_in: u32::MAX,
            min: 1,
            max: 4,
        };
        let pages = cut(&capped, &names);
        assert!(
            pages.iter().all(|page| !page.is_empty() && page.len() <= 4),
            "{pages:?}"
        );
        assert_eq!(pages.last().unwrap().end, 10);
    }

    #[test]
    fn an_insertion_changes_one_page_and_seldom_more() {
        let paging = Paging::EXPERTS;
        let before = names(20_000);
        let old_pages = cut(&paging, &before);
        let old: Vec<Vec<String>> = old_pages
            .iter()
            .map(|page| before[page.clone()].to_vec())
            .collect();
        let mut worst = 0;
        let mut total = 0;
        for n in 0..200 {
            let mut after = before.clone();
            let name = format!("expert-{:06}-new{n}", n * 97);
            let at = after.binary_search(&name).unwrap_err();
            after.insert(at, name);
            let new_pages = cut(&paging, &after);
            // A page is unchanged when a page with the same first name holds the same names.
            let changed = new_pages
                .iter()
                .filter(|page| {
                    let names = &after[(*page).clone()];
                    !old.iter().any(|o| o[..] == names[..])
                })
                .count();
            worst = worst.max(changed);
            total += changed;
            let kept: Vec<String> = firsts(&after, &new_pages);
            let was = firsts(&before, &old_pages);
            let lost = was.iter().filter(|f| !kept.contains(f)).count();
            assert!(lost <= 2, "an insertion removed {lost} page starts");
        }
        // Measured: 186 of the 200 change one page, 13 two and one three.
        assert!(
            total <= 200 * 12 / 10,
            "{total} pages changed by 200 insertions"
        );
        assert!(worst <= 3, "an insertion changed {worst} pages");
    }
}
