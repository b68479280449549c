//! "Recently added or updated": the list on the home page, carried from build to build.
//!
//! Nothing in `registry-data/` says when an expert changed, and the build reads no clock, so
//! recency is counted in publishes: an expert enters the list at the serial of the build that
//! changed its index document (a new version, a status change, a moved tag). The list lives in
//! `recent.json` beside the pages and is read back from the registry published before, exactly
//! as the serial is. Like the serial, it therefore depends on the history of builds: a clean
//! build of the same data lists every expert at serial 1, in name order.

use serde::{Deserialize, Serialize};

use crate::common::model::Hash;

pub const PATH: &str = "recent.json";

/// How many experts the home page lists.
pub const LIMIT: usize = 12;

/// `recent.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recent {
    pub format: u64,
    /// What the root this list describes publishes (its top bin; the snapshot, for lists
    /// written beside format-1 registries), so a list left behind by a killed build, or by a
    /// build that wrote no site, is recognised as not belonging to the registry it sits beside.
    pub snapshot: Hash,
    /// Most recent first; ties in name order.
    pub experts: Vec<RecentExpert>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentExpert {
    pub name: String,
    pub serial: u64,
}

/// What the build knows when it computes the new list.
pub struct Update<'a> {
    /// The list found beside the registry published before, if any.
    pub previous: Option<Recent>,
    /// What that registry's root publishes (`RootDoc::published`), if there is one.
    pub previous_snapshot: Option<Hash>,
    /// What the new root publishes: its top bin.
    pub snapshot: Hash,
    pub serial: u64,
    /// Experts whose index document differs from the registry published before, in name order.
    pub changed: Vec<&'a str>,
}

impl Recent {
    pub fn parse(bytes: &[u8]) -> Option<Recent> {
        serde_json::from_slice(bytes)
            .ok()
            .filter(|r: &Recent| r.format == 1)
    }

    pub fn update(update: Update<'_>) -> Recent {
        let carried = match update.previous {
            // Built before for this very state (a resumed build): already the answer.
            Some(previous) if previous.snapshot == update.snapshot => return previous,
            Some(previous) if Some(previous.snapshot) == update.previous_snapshot => {
                previous.experts
            }
            _ => Vec::new(),
        };
        let mut experts: Vec<RecentExpert> = update
            .changed
            .iter()
            .map(|name| RecentExpert {
                name: (*name).to_owned(),
                serial: update.serial,
            })
            .collect();
        experts.extend(
            carried
                .into_iter()
                .filter(|e| update.changed.binary_search(&e.name.as_str()).is_err()),
        );
        experts.truncate(LIMIT);
        Recent {
            format: 1,
            snapshot: update.snapshot,
            experts,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("JSON values always serialize");
        bytes.push(b'\n');
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> Hash {
        Hash::of(&[n])
    }

    fn names(recent: &Recent) -> Vec<(&str, u64)> {
        recent
            .experts
            .iter()
            .map(|e| (e.name.as_str(), e.serial))
            .collect()
    }

    #[test]
    fn changed_experts_go_first_and_the_rest_keep_their_order() {
        let first = Recent::update(Update {
            previous: None,
            previous_snapshot: None,
            snapshot: hash(1),
            serial: 1,
            changed: vec!["a", "b", "c"],
        });
        assert_eq!(names(&first), [("a", 1), ("b", 1), ("c", 1)]);
        let second = Recent::update(Update {
            previous: Some(first.clone()),
            previous_snapshot: Some(hash(1)),
            snapshot: hash(2),
            serial: 2,
            changed: vec!["b", "d"],
        });
        assert_eq!(names(&second), [("b", 2), ("d", 2), ("a", 1), ("c", 1)]);
    }

    #[test]
    fn a_list_for_another_snapshot_is_not_carried_but_one_for_this_snapshot_is_kept() {
        let stale = Recent {
            format: 1,
            snapshot: hash(9),
            experts: vec![RecentExpert {
                name: "old".into(),
                serial: 4,
            }],
        };
        let update = |previous: Recent, snapshot| {
            Recent::update(Update {
                previous: Some(previous),
                previous_snapshot: Some(hash(1)),
                snapshot,
                serial: 5,
                changed: vec!["new"],
            })
        };
        assert_eq!(names(&update(stale.clone(), hash(2))), [("new", 5)]);
        assert_eq!(update(stale.clone(), hash(9)), stale);
    }

    #[test]
    fn the_list_is_capped() {
        let many: Vec<String> = (0..LIMIT + 5).map(|n| format!("e{n:02}")).collect();
        let recent = Recent::update(Update {
            previous: None,
            previous_snapshot: None,
            snapshot: hash(1),
            serial: 1,
            changed: many.iter().map(String::as_str).collect(),
        });
        assert_eq!(recent.experts.len(), LIMIT);
        assert_eq!(Recent::parse(&recent.to_bytes()), Some(recent));
    }
}
