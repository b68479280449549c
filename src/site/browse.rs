//! Listings that need no JavaScript: every expert by the first character of its name, and
//! every scope by the first character of its name, in pages of bounded size with stable URLs.
//!
//! Search runs in the browser; these pages are what a static site can honestly offer without
//! it, and what the search page's `<noscript>` and "Browse" links lead to. Experts are grouped
//! by their name without the scope (`@acme/researcher` under R), so a person who knows a name
//! finds it whatever its scope. Everything is in natural order (`expert-2` before
//! `expert-10`).

use std::collections::BTreeMap;

use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Serialize;

use crate::data::validate::Expert;
use crate::site::view::{self, Summary, UNSCOPED};
use crate::site::{Site, SiteError, page_links};

pub const INDEX_PATH: &str = "browse/index.html";
/// Experts on one page: about 30 KB of HTML.
const EXPERTS_PER_PAGE: usize = 100;
/// Scopes on one page: each is one short line.
const SCOPES_PER_PAGE: usize = 200;

/// The group a name is listed under: its first letter, or `0-9` for a digit.
fn group_of(name: &str) -> String {
    match name.chars().next() {
        Some(c) if c.is_ascii_digit() => "0-9".to_owned(),
        Some(c) if c.is_ascii_alphabetic() => c.to_ascii_lowercase().to_string(),
        // Checked names start with a letter or digit; anything else is listed together.
        _ => "other".to_owned(),
    }
}

fn label_of(group: &str) -> String {
    if group.len() == 1 {
        group.to_ascii_uppercase()
    } else {
        group.to_owned()
    }
}

fn page_path(kind: &str, group: &str, number: usize) -> String {
    if number == 1 {
        format!("browse/{kind}-{group}.html")
    } else {
        format!("browse/{kind}-{group}-{number}.html")
    }
}

/// A link to a group's first page, with how many it lists.
#[derive(Debug, Clone, Serialize)]
pub struct GroupLink {
    pub label: String,
    pub href: String,
    pub count: usize,
}

#[derive(Serialize)]
struct ScopeRow<'a> {
    name: &'a str,
    href: String,
    count: usize,
}

/// One file of the listings.
#[derive(Debug, Clone, Copy)]
enum Listing {
    Index,
    Experts { group: usize, number: usize },
    Scopes { group: usize, number: usize },
}

pub struct Browse<'a> {
    /// Experts in each group, in natural order of their names without scope.
    experts: Vec<(String, Vec<&'a Expert>)>,
    /// Scopes in each group, with how many experts each has.
    scopes: Vec<(String, Vec<(&'a str, usize)>)>,
    unscoped: usize,
    listings: Vec<Listing>,
}

impl<'a> Browse<'a> {
    pub fn new(
        experts: impl Iterator<Item = &'a Expert>,
        scopes: &BTreeMap<&'a str, Vec<&'a Expert>>,
    ) -> Browse<'a> {
        let mut by_group: BTreeMap<String, Vec<&Expert>> = BTreeMap::new();
        for expert in experts {
            let local = local_name(expert);
            by_group.entry(group_of(local)).or_default().push(expert);
        }
        for list in by_group.values_mut() {
            list.sort_by(|a, b| {
                view::natural_cmp(local_name(a), local_name(b))
                    .then_with(|| view::natural_cmp(a.name.as_str(), b.name.as_str()))
            });
        }
        let mut unscoped = 0;
        let mut scope_groups: BTreeMap<String, Vec<(&str, usize)>> = BTreeMap::new();
        for (&scope, members) in scopes {
            if scope == UNSCOPED {
                unscoped = members.len();
                continue;
            }
            scope_groups
                .entry(group_of(scope.trim_start_matches('@')))
                .or_default()
                .push((scope, members.len()));
        }
        for list in scope_groups.values_mut() {
            list.sort_by(|a, b| view::natural_cmp(a.0, b.0));
        }
        let experts: Vec<(String, Vec<&Expert>)> = by_group.into_iter().collect();
        let scopes: Vec<(String, Vec<(&str, usize)>)> = scope_groups.into_iter().collect();
        let mut listings = vec![Listing::Index];
        for (group, (_, list)) in experts.iter().enumerate() {
            listings.extend(
                (1..=page_count(list.len(), EXPERTS_PER_PAGE))
                    .map(|number| Listing::Experts { group, number }),
            );
        }
        for (group, (_, list)) in scopes.iter().enumerate() {
            listings.extend(
                (1..=page_count(list.len(), SCOPES_PER_PAGE))
                    .map(|number| Listing::Scopes { group, number }),
            );
        }
        Browse {
            experts,
            scopes,
            unscoped,
            listings,
        }
    }

    /// How many files the listings have; [`Browse::render`] takes their numbers.
    pub fn len(&self) -> usize {
        self.listings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.listings.is_empty()
    }

    /// The expert groups, for the search page's links.
    pub fn expert_groups(&self) -> Vec<GroupLink> {
        self.experts
            .iter()
            .map(|(group, list)| GroupLink {
                label: label_of(group),
                href: page_path("experts", group, 1),
                count: list.len(),
            })
            .collect()
    }

    fn scope_groups(&self) -> Vec<GroupLink> {
        self.scopes
            .iter()
            .map(|(group, list)| GroupLink {
                label: label_of(group),
                href: page_path("scopes", group, 1),
                count: list.len(),
            })
            .collect()
    }

    pub fn render(&self, site: &Site<'_>, i: usize) -> Result<(String, Vec<u8>), SiteError> {
        match self.listings[i] {
            Listing::Index => site.page(
                "browse.html",
                INDEX_PATH.to_owned(),
                "",
                context! {
                    listing => "index",
                    expert_groups => Serde(self.expert_groups()),
                    scope_groups => Serde(self.scope_groups()),
                    scope_count => self.scopes.iter().map(|(_, list)| list.len()).sum::<usize>(),
                    unscoped => context! {
                        count => self.unscoped,
                        href => view::scope_page_path(UNSCOPED, 1),
                    },
                },
            ),
            Listing::Experts { group, number } => {
                let (key, list) = &self.experts[group];
                let (first, shown) = page_of(list, number, EXPERTS_PER_PAGE);
                let experts: Vec<Summary> = shown.iter().map(|e| Summary::of(e)).collect();
                site.page(
                    "browse.html",
                    page_path("experts", key, number),
                    "",
                    context! {
                        listing => "experts",
                        title => format!("Experts starting with {}", label_of(key)),
                        total => list.len(),
                        first => first + 1,
                        last => first + experts.len(),
                        experts => Serde(&experts),
                        pagination => pagination("experts", key, number, list.len(), EXPERTS_PER_PAGE),
                        groups => Serde(self.expert_groups()),
                    },
                )
            }
            Listing::Scopes { group, number } => {
                let (key, list) = &self.scopes[group];
                let (first, shown) = page_of(list, number, SCOPES_PER_PAGE);
                let scopes: Vec<ScopeRow<'_>> = shown
                    .iter()
                    .map(|(name, count)| ScopeRow {
                        name,
                        href: view::scope_page_path(name, 1),
                        count: *count,
                    })
                    .collect();
                site.page(
                    "browse.html",
                    page_path("scopes", key, number),
                    "",
                    context! {
                        listing => "scopes",
                        title => format!("Scopes starting with {}", label_of(key)),
                        total => list.len(),
                        first => first + 1,
                        last => first + scopes.len(),
                        scopes => Serde(&scopes),
                        pagination => pagination("scopes", key, number, list.len(), SCOPES_PER_PAGE),
                        groups => Serde(self.scope_groups()),
                    },
                )
            }
        }
    }
}

fn local_name(expert: &Expert) -> &str {
    let name = expert.name.as_str();
    name.split_once('/').map_or(name, |(_, local)| local)
}

fn page_count(items: usize, per_page: usize) -> usize {
    items.div_ceil(per_page).max(1)
}

/// The items of page `number` (from 1), with the index of the first.
fn page_of<T>(items: &[T], number: usize, per_page: usize) -> (usize, &[T]) {
    let first = ((number - 1) * per_page).min(items.len());
    let last = (first + per_page).min(items.len());
    (first, &items[first..last])
}

/// The navigation of a listing with more than one page: previous, next and page numbers.
fn pagination(kind: &str, group: &str, current: usize, items: usize, per_page: usize) -> Value {
    let pages = page_count(items, per_page);
    if pages == 1 {
        return Value::from(());
    }
    let href = |n: usize| page_path(kind, group, n);
    context! {
        previous => (current > 1).then(|| href(current - 1)),
        next => (current < pages).then(|| href(current + 1)),
        links => Serde(page_links(current, pages, href)),
        number => current,
        pages => pages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_group_by_their_first_letter_or_digit() {
        assert_eq!(group_of("researcher"), "r");
        assert_eq!(group_of("9lives"), "0-9");
        assert_eq!(label_of("r"), "R");
        assert_eq!(label_of("0-9"), "0-9");
    }

    #[test]
    fn first_pages_have_short_stable_paths() {
        assert_eq!(page_path("experts", "r", 1), "browse/experts-r.html");
        assert_eq!(page_path("scopes", "0-9", 3), "browse/scopes-0-9-3.html");
    }

    #[test]
    fn a_page_past_the_end_is_empty_not_a_panic() {
        let items = [1, 2, 3];
        assert_eq!(page_of(&items, 2, 2), (2, &items[2..]));
        assert_eq!(page_of(&items, 5, 2), (3, &items[3..]));
    }
}
