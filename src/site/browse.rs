//! Listings that need no JavaScript: every expert by the first character of its name, and
//! every scope by the first character of its name, in pages of bounded size with stable URLs.
//!
//! Search runs in the browser; these pages are what a static site can honestly offer without
//! it, and what the search page's `<noscript>` and "Browse" links lead to. Experts are grouped
//! by their name without the scope (`@acme/researcher` under R), so a person who knows a name
//! finds it whatever its scope. Everything is in natural order (`expert-2` before
//! `expert-10`).
//!
//! Pages begin where [`Paging`] says, by name, and a group's later pages are named after the
//! name they begin with (`experts-e-from-expert-1042.html`); no page shows a count that every
//! publish would change (the index page does). Publishing an expert therefore rewrites the
//! page it lands on, the index, and only when its name begins a page, that page's
//! neighbours.

use std::collections::BTreeMap;
use std::ops::Range;

use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Serialize;

use crate::data::validate::Expert;
use crate::site::paging::{self, Paging};
use crate::site::view::{self, Summary, UNSCOPED};
use crate::site::{Site, SiteError};

pub const INDEX_PATH: &str = "browse/index.html";

/// The group a name is listed under: its first letter, or `0-9` for a digit.
fn group_of(name: &str) -> String {
    match name.chars().next() {
        Some(c) if c.is_ascii_digit() => "0-9".to_owned(),
        Some(c) if c.is_ascii_alphabetic() => c.to_ascii_lowercase().to_string(),
        // Checked names start with a letter or digit; anything else is listed together.
        _ => "other".to_owned(),
    }
}

/// Every group a checked name can fall in, `0-9` and `a` to `z`: each has its pages even when
/// empty, so the list of groups every listing page links to never changes, and a first expert
/// starting with Q rewrites the Q pages, not every page that links to them.
fn fixed_groups() -> impl Iterator<Item = String> {
    std::iter::once("0-9".to_owned()).chain(('a'..='z').map(String::from))
}

fn label_of(group: &str) -> String {
    if group.len() == 1 {
        group.to_ascii_uppercase()
    } else {
        group.to_owned()
    }
}

/// A group's first page, or the page beginning with `first` (a name, or a scope with its `@`).
fn page_path(kind: &str, group: &str, first: Option<&str>) -> String {
    match first {
        None => format!("browse/{kind}-{group}.html"),
        Some(name) => format!(
            "browse/{kind}-{group}-from-{}.html",
            paging::file_stem(name)
        ),
    }
}

/// A link to a group's first page, with how many it lists (left out on the listing pages).
#[derive(Debug, Clone, Serialize)]
pub struct GroupLink {
    pub label: String,
    pub href: String,
    pub count: Option<usize>,
}

/// Group links without their counts, for the listing pages: a count there would change every
/// page of every group with each publish.
fn without_counts(groups: Vec<GroupLink>) -> Vec<GroupLink> {
    groups
        .into_iter()
        .map(|group| GroupLink {
            count: None,
            ..group
        })
        .collect()
}

#[derive(Serialize)]
struct ScopeRow<'a> {
    name: &'a str,
    href: String,
    count: usize,
}

/// One file of the listings: a page is its group's and its index among the group's pages.
#[derive(Debug, Clone, Copy)]
enum Listing {
    Index,
    Experts { group: usize, page: usize },
    Scopes { group: usize, page: usize },
}

/// The items of one group and where its pages begin.
struct Group<T> {
    key: String,
    items: Vec<T>,
    pages: Vec<Range<usize>>,
}

pub struct Browse<'a> {
    /// Experts in each group, in natural order of their names without scope.
    experts: Vec<Group<&'a Expert>>,
    /// Scopes in each group, with how many experts each has.
    scopes: Vec<Group<(&'a str, usize)>>,
    unscoped: usize,
    listings: Vec<Listing>,
}

impl<'a> Browse<'a> {
    pub fn new(
        experts: impl Iterator<Item = &'a Expert>,
        scopes: &BTreeMap<&'a str, Vec<&'a Expert>>,
    ) -> Browse<'a> {
        let mut by_group: BTreeMap<String, Vec<&Expert>> =
            fixed_groups().map(|group| (group, Vec::new())).collect();
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
        let mut scope_groups: BTreeMap<String, Vec<(&str, usize)>> =
            fixed_groups().map(|group| (group, Vec::new())).collect();
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
        let experts: Vec<Group<&Expert>> = by_group
            .into_iter()
            .map(|(key, items)| {
                let names: Vec<&str> = items.iter().map(|e| e.name.as_str()).collect();
                let pages = Paging::EXPERTS.pages(&names);
                Group { key, items, pages }
            })
            .collect();
        let scopes: Vec<Group<(&str, usize)>> = scope_groups
            .into_iter()
            .map(|(key, items)| {
                let names: Vec<&str> = items.iter().map(|(scope, _)| *scope).collect();
                let pages = Paging::SCOPES.pages(&names);
                Group { key, items, pages }
            })
            .collect();
        let mut listings = vec![Listing::Index];
        for (group, list) in experts.iter().enumerate() {
            listings.extend((0..list.pages.len()).map(|page| Listing::Experts { group, page }));
        }
        for (group, list) in scopes.iter().enumerate() {
            listings.extend((0..list.pages.len()).map(|page| Listing::Scopes { group, page }));
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
            .map(|group| GroupLink {
                label: label_of(&group.key),
                href: page_path("experts", &group.key, None),
                count: Some(group.items.len()),
            })
            .collect()
    }

    fn scope_groups(&self) -> Vec<GroupLink> {
        self.scopes
            .iter()
            .map(|group| GroupLink {
                label: label_of(&group.key),
                href: page_path("scopes", &group.key, None),
                count: Some(group.items.len()),
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
                    scope_count => self.scopes.iter().map(|group| group.items.len()).sum::<usize>(),
                    unscoped => context! {
                        count => self.unscoped,
                        href => view::scope_page_path(UNSCOPED, None),
                    },
                },
            ),
            Listing::Experts { group, page } => {
                let group = &self.experts[group];
                let path = |page: usize| {
                    let first =
                        (page > 0).then(|| group.items[group.pages[page].start].name.as_str());
                    page_path("experts", &group.key, first)
                };
                let shown = &group.items[group.pages[page].clone()];
                let experts: Vec<Summary> = shown.iter().map(|e| Summary::of(e)).collect();
                site.page(
                    "browse.html",
                    path(page),
                    "",
                    context! {
                        listing => "experts",
                        title => format!("Experts starting with {}", label_of(&group.key)),
                        range => range_of(shown.iter().map(|e| e.name.as_str())),
                        experts => Serde(&experts),
                        pagination => pagination(page, group.pages.len(), path),
                        groups => Serde(without_counts(self.expert_groups())),
                    },
                )
            }
            Listing::Scopes { group, page } => {
                let group = &self.scopes[group];
                let path = |page: usize| {
                    let first = (page > 0).then(|| group.items[group.pages[page].start].0);
                    page_path("scopes", &group.key, first)
                };
                let shown = &group.items[group.pages[page].clone()];
                let scopes: Vec<ScopeRow<'_>> = shown
                    .iter()
                    .map(|(name, count)| ScopeRow {
                        name,
                        href: view::scope_page_path(name, None),
                        count: *count,
                    })
                    .collect();
                site.page(
                    "browse.html",
                    path(page),
                    "",
                    context! {
                        listing => "scopes",
                        title => format!("Scopes starting with {}", label_of(&group.key)),
                        range => range_of(shown.iter().map(|(scope, _)| *scope)),
                        scopes => Serde(&scopes),
                        pagination => pagination(page, group.pages.len(), path),
                        groups => Serde(without_counts(self.scope_groups())),
                    },
                )
            }
        }
    }
}

fn local_name(expert: &Expert) -> &str {
    view::local_name(&expert.name)
}

/// The first and last name a page lists, which is what says where in the group it is.
fn range_of<'n>(mut names: impl Iterator<Item = &'n str>) -> Value {
    let first = names.next();
    let last = names.last().or(first);
    context! { first => first, last => last }
}

/// The navigation of a listing with more than one page: the previous and the next page. No
/// page numbers: a page's number would change with every page added before it.
pub fn pagination(current: usize, pages: usize, path: impl Fn(usize) -> String) -> Value {
    if pages <= 1 {
        return Value::from(());
    }
    context! {
        previous => (current > 0).then(|| path(current - 1)),
        next => (current + 1 < pages).then(|| path(current + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_a_name_can_fall_in_is_listed() {
        let groups: Vec<String> = fixed_groups().collect();
        assert_eq!(groups.len(), 27);
        for name in ["9lives", "researcher", "zeta"] {
            assert!(groups.contains(&group_of(name)), "{name}");
        }
    }

    #[test]
    fn names_group_by_their_first_letter_or_digit() {
        assert_eq!(group_of("researcher"), "r");
        assert_eq!(group_of("9lives"), "0-9");
        assert_eq!(label_of("r"), "R");
        assert_eq!(label_of("0-9"), "0-9");
    }

    #[test]
    fn pages_have_stable_paths_named_after_their_first_name() {
        assert_eq!(page_path("experts", "r", None), "browse/experts-r.html");
        assert_eq!(
            page_path("experts", "r", Some("@acme/researcher")),
            "browse/experts-r-from-@acme.researcher.html"
        );
        assert_eq!(
            page_path("scopes", "0-9", Some("@9lives")),
            "browse/scopes-0-9-from-@9lives.html"
        );
    }

    #[test]
    fn one_page_has_no_navigation_and_the_ends_link_one_way() {
        let path = |n: usize| format!("{n}.html");
        assert!(pagination(0, 1, path).is_none());
        let first = pagination(0, 3, path);
        assert!(first.get_attr("previous").unwrap().is_none());
        assert_eq!(first.get_attr("next").unwrap().as_str(), Some("1.html"));
        let last = pagination(2, 3, path);
        assert_eq!(last.get_attr("previous").unwrap().as_str(), Some("1.html"));
        assert!(last.get_attr("next").unwrap().is_none());
    }
}
