//! The registry's website, rendered into the same tree as the static API.
//!
//! Pages are rendered with minijinja from the templates in `site/templates/`, and assets come
//! from `site/static/`; both are compiled into the binary, so a build needs nothing but its
//! data. Assets are served under names that carry their content hash, so hosts can cache them
//! forever. Every link is relative, so the site works from a sub-path and from an offline copy;
//! the one exception is `404.html`, which a host serves at whatever address was missing, so its
//! links start from the site's path (`[site] url` in `registry.toml`, `/` when unset).
//!
//! [`Site::prepare`] computes what the pages share (listings, "used by", the search index, the
//! recent list); [`Site::waves`] lists the files to write in an order where nothing links to a
//! file written later; [`Site::render`] renders one of them. Rendering one file at a time keeps
//! memory flat however many experts there are, and lets the build render and write in
//! parallel.
//!
//! Definitions are untrusted: templates auto-escape every value (the environment escapes all
//! `.html` templates), the highlighter escapes every token it wraps in markup, the search
//! script builds results with `textContent`, and the Content-Security-Policy forbids inline
//! scripts and styles.

pub mod browse;
pub mod highlight;
pub mod markdown;
pub mod page_cache;
pub mod paging;
pub mod recent;
pub mod search;
pub mod view;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::PathBuf;

use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, Value, context};
use serde::Serialize;

use crate::common::fsutil::{self, IoError};
use crate::common::model::{ExpertName, Hash};
use crate::data::validate::{Expert, Published, Registry};
use crate::format::index::IndexRef;
use crate::format::reader::PublishedRegistry;

use recent::Recent;
use view::{Summary, UNSCOPED};

/// How many scopes the home page lists.
const HOME_SCOPES: usize = 24;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../site/templates/base.html")),
    (
        "macros.html",
        include_str!("../../site/templates/macros.html"),
    ),
    ("home.html", include_str!("../../site/templates/home.html")),
    (
        "search.html",
        include_str!("../../site/templates/search.html"),
    ),
    (
        "scope.html",
        include_str!("../../site/templates/scope.html"),
    ),
    (
        "definition.html",
        include_str!("../../site/templates/definition.html"),
    ),
    (
        "expert.html",
        include_str!("../../site/templates/expert.html"),
    ),
    (
        "version.html",
        include_str!("../../site/templates/version.html"),
    ),
    ("api.html", include_str!("../../site/templates/api.html")),
    (
        "browse.html",
        include_str!("../../site/templates/browse.html"),
    ),
    ("404.html", include_str!("../../site/templates/404.html")),
];

/// Static assets: (stem, extension, bytes). They are served as `assets/<stem>.<hash>.<ext>`.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("site", "css", include_bytes!("../../site/static/site.css")),
    (
        "search",
        "js",
        include_bytes!("../../site/static/search.js"),
    ),
    ("icon", "svg", include_bytes!("../../site/static/icon.svg")),
    ("run", "js", include_bytes!("../../site/static/run.js")),
    (
        "search-page",
        "css",
        include_bytes!("../../site/static/search-page.css"),
    ),
];

/// Why the site could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("previous registry: {0}")]
    Previous(#[from] crate::common::transport::FetchError),
    #[error("{path}: the file changed while the build was running; run the build again")]
    ChangedDuringBuild { path: PathBuf },
    #[error("{path}: cannot show the definition: {source}")]
    Definition {
        path: PathBuf,
        source: view::DefinitionError,
    },
    #[error("rendering {page}: {source:#}")]
    Template {
        page: String,
        source: minijinja::Error,
    },
}

/// What the site is built from, besides the registry itself.
pub struct SiteInput<'a> {
    pub registry: &'a Registry,
    /// The hash of what the root publishes (its top bin): the identity of the published state.
    pub published: Hash,
    pub serial: u64,
    /// Index document hashes of the registry being built.
    pub index_hashes: &'a BTreeMap<ExpertName, Hash>,
    /// Experts whose index document differs from the registry published before (every expert
    /// when there is none), by name.
    pub changed: &'a BTreeMap<String, (Option<IndexRef>, Option<IndexRef>)>,
    /// The registry published before, which the recent list continues.
    pub previous: Option<&'a PublishedRegistry>,
}

/// One file of the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page<'a> {
    /// A file rendered in [`Site::prepare`]: an asset, the search index or the recent list.
    Prepared(usize),
    Expert(&'a ExpertName),
    /// One version's page.
    Version(&'a ExpertName, &'a semver::Version),
    /// A page of a scope's listing: the scope and the page's index among its pages, from 0.
    Scope(&'a str, usize),
    Home,
    Search,
    /// A listing of experts or scopes by name ([`browse`]), by its number there.
    Browse(usize),
    Api,
    NotFound,
}

#[derive(Serialize)]
struct ScopeLink<'a> {
    name: &'a str,
    href: String,
    count: usize,
}

#[derive(Serialize)]
struct Assets {
    css: String,
    js: String,
    icon: String,
    /// The script of expert and version pages: the registry's address and copy buttons.
    run: String,
    /// The search page's and the browse pages' own styles.
    search_css: String,
}

pub struct Site<'a> {
    registry: &'a Registry,
    env: Environment<'static>,
    assets: Assets,
    /// Files rendered up front: (wave, path, bytes); see [`Site::waves`].
    prepared: Vec<(usize, String, Vec<u8>)>,
    used_by: BTreeMap<&'a ExpertName, BTreeSet<&'a ExpertName>>,
    index_hashes: &'a BTreeMap<ExpertName, Hash>,
    /// The hash of everything besides its expert that an expert page depends on: the templates,
    /// the assets, the generator and the registry's name.
    fingerprint: Hash,
    version_count: usize,
    /// Each scope's experts, in natural order of their names.
    scopes: BTreeMap<&'a str, Vec<&'a Expert>>,
    /// Where each scope's pages begin ([`paging`]): by name, so a publish moves no boundary
    /// but the ones around the expert it adds.
    scope_pages: BTreeMap<&'a str, Vec<Range<usize>>>,
    recent: Vec<Summary>,
    browse: browse::Browse<'a>,
    /// `perstackApiBaseUrl` for this registry, when `[site] url` gives it; otherwise the pages
    /// work it out in the browser.
    api_base_url: Option<String>,
    /// Where `404.html` finds the site: the path of `[site] url`, or `/`.
    not_found_root: String,
}

impl<'a> Site<'a> {
    pub fn prepare(input: SiteInput<'a>) -> Result<Site<'a>, SiteError> {
        let registry = input.registry;
        let mut env = Environment::new();
        env.set_formatter(escape_text);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|source| SiteError::Template {
                    page: (*name).to_owned(),
                    source,
                })?;
        }

        let mut prepared = Vec::new();
        let mut asset_paths = Vec::new();
        for (stem, ext, bytes) in ASSETS {
            let short = &Hash::of(bytes).to_hex()[..16];
            let path = format!("assets/{stem}.{short}.{ext}");
            asset_paths.push(path.clone());
            prepared.push((0, path, bytes.to_vec()));
        }
        let asset = |stem: &str| {
            ASSETS
                .iter()
                .zip(&asset_paths)
                .find(|((s, _, _), _)| *s == stem)
                .map(|(_, path)| path.clone())
                .unwrap_or_default()
        };
        let assets = Assets {
            css: asset("site"),
            js: asset("search"),
            icon: asset("icon"),
            run: asset("run"),
            search_css: asset("search-page"),
        };

        let mut entries = search::entries(registry);
        search::publish_order(registry, &mut entries);
        for (path, bytes) in search::render(&entries) {
            // The manifest names the shards, so it follows them.
            let wave = usize::from(path == search::MANIFEST_PATH);
            prepared.push((wave, path, bytes));
        }

        let recent = recent_list(&input)?;
        let recent_summaries = recent
            .experts
            .iter()
            .filter_map(|e| {
                let name = ExpertName::parse(&e.name).ok()?;
                registry.experts.get(&name).map(Summary::of)
            })
            .collect();
        prepared.push((2, recent::PATH.to_owned(), recent.to_bytes()));

        let mut scopes: BTreeMap<&str, Vec<&Expert>> = BTreeMap::new();
        for expert in registry.experts.values() {
            scopes
                .entry(view::scope_of(&expert.name))
                .or_default()
                .push(expert);
        }
        for experts in scopes.values_mut() {
            experts.sort_by(|a, b| view::natural_cmp(a.name.as_str(), b.name.as_str()));
        }
        let site_url = registry.settings.site_url.as_ref();
        let repository = registry.settings.site_repository.as_ref();
        // Expert and version pages name their scope's owners.
        let owners: Vec<String> = registry
            .settings
            .scope_owners
            .iter()
            .map(|(scope, owners)| format!("{scope} {}", owners.join(" ")))
            .collect();
        let mut fingerprint = blake3::Hasher::new();
        for part in [
            crate::common::generator().as_bytes(),
            registry.settings.name.as_bytes(),
            site_url.map_or("", |url| url.as_str()).as_bytes(),
            repository.map_or("", |url| url.as_str()).as_bytes(),
        ]
        .into_iter()
        .chain(owners.iter().map(|line| line.as_bytes()))
        .chain(TEMPLATES.iter().map(|(_, source)| source.as_bytes()))
        .chain(ASSETS.iter().map(|(_, _, bytes)| *bytes))
        {
            fingerprint.update(&(part.len() as u64).to_le_bytes());
            fingerprint.update(part);
        }
        Ok(Site {
            registry,
            api_base_url: site_url.map(|url| url.as_str().trim_end_matches('/').to_owned()),
            not_found_root: site_url.map_or_else(|| "/".to_owned(), |url| url.path().to_owned()),
            index_hashes: input.index_hashes,
            fingerprint: Hash::of(fingerprint.finalize().as_bytes()),
            version_count: registry.version_count(),
            env,
            assets,
            prepared,
            used_by: view::used_by(&registry.experts),
            browse: browse::Browse::new(registry.experts.values(), &scopes),
            scope_pages: scopes
                .iter()
                .map(|(scope, experts)| {
                    let names: Vec<&str> = experts.iter().map(|e| e.name.as_str()).collect();
                    (*scope, paging::Paging::EXPERTS.pages(&names))
                })
                .collect(),
            scopes,
            recent: recent_summaries,
        })
    }

    /// Every file of the site, in waves to be written one after the other: assets and search
    /// shards; then expert and version pages and the search manifest; then the pages that list
    /// experts.
    pub fn waves(&self) -> Vec<Vec<Page<'_>>> {
        let mut waves = vec![Vec::new(), Vec::new(), Vec::new()];
        for (i, (wave, _, _)) in self.prepared.iter().enumerate() {
            waves[*wave].push(Page::Prepared(i));
        }
        for (name, expert) in &self.registry.experts {
            waves[1].push(Page::Expert(name));
            waves[1].extend(expert.versions.keys().map(|v| Page::Version(name, v)));
        }
        for (scope, pages) in &self.scope_pages {
            waves[2].extend((0..pages.len()).map(|n| Page::Scope(scope, n)));
        }
        waves[2].extend([Page::Home, Page::Search, Page::Api, Page::NotFound]);
        waves[2].extend((0..self.browse.len()).map(Page::Browse));
        waves
    }

    /// For an expert or version page, its path and the hash of everything it shows, so a build
    /// can skip rendering it when that did not change (see [`page_cache`]). Both show only what
    /// the expert's index document holds (versions, statuses, reasons, tags, dates, hashes) and,
    /// for the expert page, the experts using it. Other files are cheap to render, or share what
    /// they show with many experts, and have no key.
    pub fn page_key(&self, page: Page<'_>) -> Option<(String, Hash)> {
        let (name, path, version) = match page {
            Page::Expert(name) => (name, view::expert_page_path(name), String::new()),
            Page::Version(name, version) => {
                let version = &self.registry.experts[name].versions[version].record.version;
                (
                    name,
                    view::version_page_path(name, version),
                    version.clone(),
                )
            }
            _ => return None,
        };
        let mut text = format!(
            "{}\n{}\n{version}\n",
            self.fingerprint, self.index_hashes[name]
        );
        if version.is_empty() {
            for user in self.used_by.get(name).into_iter().flatten() {
                text.push_str(user.as_str());
                text.push('\n');
            }
        }
        Some((path, Hash::of(text.as_bytes())))
    }

    /// Renders one file: (path relative to the registry root, bytes).
    pub fn render(&self, page: Page<'_>) -> Result<(String, Vec<u8>), SiteError> {
        match page {
            Page::Prepared(i) => {
                let (_, path, bytes) = &self.prepared[i];
                Ok((path.clone(), bytes.clone()))
            }
            Page::Expert(name) => self.expert(&self.registry.experts[name]),
            Page::Version(name, version) => {
                let expert = &self.registry.experts[name];
                self.version(expert, &expert.versions[version])
            }
            Page::Scope(scope, page) => self.scope(scope, page),
            Page::Home => self.page(
                "home.html",
                "index.html".to_owned(),
                "home",
                context! {
                    recent => Serde(&self.recent),
                    scopes => Serde(self.largest_scopes()),
                    all_scopes => self.scopes.len(),
                },
            ),
            Page::Search => self.page(
                "search.html",
                "search.html".to_owned(),
                "search",
                context! {
                    expert_groups => Serde(self.browse.expert_groups()),
                    scope_count => self.scopes.keys().filter(|s| **s != UNSCOPED).count(),
                    // In the page, the manifest saves the search a round trip.
                    search_manifest => self
                        .prepared
                        .iter()
                        .find(|(_, path, _)| path == search::MANIFEST_PATH)
                        .and_then(|(_, _, bytes)| std::str::from_utf8(bytes).ok())
                        .map(str::trim_end),
                },
            ),
            Page::Browse(i) => self.browse.render(self, i),
            Page::Api => self.page("api.html", "api.html".to_owned(), "api", context! {}),
            // A host serves this page for a missing address at any depth, where relative links
            // would resolve below the missing path.
            Page::NotFound => self.page_at(
                "404.html",
                "404.html".to_owned(),
                self.not_found_root.clone(),
                "",
                context! {},
            ),
        }
    }

    fn expert(&self, expert: &Expert) -> Result<(String, Vec<u8>), SiteError> {
        let shown = view::shown_version(expert);
        let text = read_version(shown)?;
        let no_users = BTreeSet::new();
        let used_by = self.used_by.get(&expert.name).unwrap_or(&no_users);
        let expert_view =
            view::expert_view(expert, &text, used_by).map_err(|source| SiteError::Definition {
                path: shown.path.clone(),
                source,
            })?;
        self.page(
            "expert.html",
            view::expert_page_path(&expert.name),
            "",
            context! { expert => Serde(expert_view), owners => self.owners(&expert.name) },
        )
    }

    fn version(
        &self,
        expert: &Expert,
        published: &Published,
    ) -> Result<(String, Vec<u8>), SiteError> {
        let text = read_version(published)?;
        let version_view = view::version_view(expert, published, &text).map_err(|source| {
            SiteError::Definition {
                path: published.path.clone(),
                source,
            }
        })?;
        self.page(
            "version.html",
            view::version_page_path(&expert.name, &published.record.version),
            "",
            context! { page => Serde(version_view), owners => self.owners(&expert.name) },
        )
    }

    /// Page `page` (from 0) of a scope's listing, with links to the pages before and after.
    fn scope(&self, scope: &str, page: usize) -> Result<(String, Vec<u8>), SiteError> {
        let all = &self.scopes[scope];
        let pages = &self.scope_pages[scope];
        let path = |page: usize| {
            let first = (page > 0).then(|| view::local_name(&all[pages[page].start].name));
            view::scope_page_path(scope, first)
        };
        let shown = &all[pages[page].clone()];
        let experts: Vec<Summary> = shown.iter().map(|e| Summary::of(e)).collect();
        let title = if scope == UNSCOPED {
            "Experts without a scope".to_owned()
        } else {
            format!("Experts in {scope}")
        };
        self.page(
            "scope.html",
            path(page),
            "",
            context! {
                scope => context! {
                    name => scope,
                    title => title,
                    // Only the first page says how many: a count on every page would change
                    // them all with each publish.
                    count => (page == 0).then_some(all.len()),
                    href => path(0),
                },
                experts => Serde(&experts),
                page => context! {
                    first => shown.first().map(|e| e.name.as_str()),
                    last => shown.last().map(|e| e.name.as_str()),
                },
                pagination => browse::pagination(page, pages.len(), path),
                owners => self.registry.settings.scope_owners.get(scope).cloned(),
            },
        )
    }

    /// Who must review changes to an expert's scope (`[scopes."@acme"] owners`), if anyone.
    fn owners(&self, name: &ExpertName) -> Option<Vec<String>> {
        let scope = name.scope()?;
        self.registry.settings.scope_owners.get(scope).cloned()
    }

    /// The scopes the home page shows: the largest, then in name order; the browse pages
    /// list them all.
    fn largest_scopes(&self) -> Vec<ScopeLink<'_>> {
        let mut scopes = self.scope_links();
        scopes.sort_by_key(|scope| std::cmp::Reverse(scope.count));
        scopes.truncate(HOME_SCOPES);
        scopes
    }

    fn scope_links(&self) -> Vec<ScopeLink<'_>> {
        self.scopes
            .iter()
            .map(|(scope, experts)| ScopeLink {
                name: if *scope == UNSCOPED {
                    "without a scope"
                } else {
                    scope
                },
                href: view::scope_page_path(scope, None),
                count: experts.len(),
            })
            .collect()
    }

    /// Renders a template with what every page shares. `root` leads from the page back to the
    /// registry root, which keeps every link relative.
    fn page(
        &self,
        template: &str,
        path: String,
        nav: &str,
        page_context: Value,
    ) -> Result<(String, Vec<u8>), SiteError> {
        let root = "../".repeat(path.matches('/').count());
        self.page_at(template, path, root, nav, page_context)
    }

    /// Renders a template with `root` as the way back to the registry root.
    fn page_at(
        &self,
        template: &str,
        path: String,
        root: String,
        nav: &str,
        page_context: Value,
    ) -> Result<(String, Vec<u8>), SiteError> {
        let shared = context! {
            root => root,
            nav => nav,
            csp => Value::from_safe_string(crate::format::headers::PAGE_POLICY.to_owned()),
            assets => Serde(&self.assets),
            generator => crate::common::generator(),
            registry => context! {
                name => self.registry.settings.name.as_str(),
                url => self.api_base_url.as_deref(),
                // Version files' source pages are this followed by `<name>/<version>.toml`:
                // names and versions hold only characters a URL path keeps as they are.
                repository => self.registry.settings.site_repository.as_ref().map(|url| url.as_str()),
                experts => self.registry.experts.len(),
                versions => self.version_count,
            },
        };
        let template_error = |source| SiteError::Template {
            page: path.clone(),
            source,
        };
        let html = self
            .env
            .get_template(template)
            .and_then(|t| t.render(context! { ..page_context, ..shared }))
            .map_err(template_error)?;
        Ok((path, html.into_bytes()))
    }
}

/// Reads a version file for its pages, checking it still holds what was published.
fn read_version(published: &Published) -> Result<String, SiteError> {
    let bytes = fsutil::read(&published.path)?;
    let changed = || SiteError::ChangedDuringBuild {
        path: published.path.clone(),
    };
    if Hash::of(&bytes) != published.record.blake3 {
        return Err(changed());
    }
    String::from_utf8(bytes).map_err(|_| changed())
}

/// Escapes text for HTML, in element content and in quoted attributes, which are the only
/// places templates put values. Unlike minijinja's default it leaves `/` alone, so the many
/// relative links stay readable and pages stay small.
fn escape_text(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    match value.as_str() {
        Some(text) if *state.auto_escape() == AutoEscape::Html && !value.is_safe() => {
            let mut escaped = String::with_capacity(text.len());
            highlight::escape_html(text, &mut escaped);
            out.write_str(&escaped).map_err(minijinja::Error::from)
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// Continues the recent list of the registry published before (see [`recent`]).
fn recent_list(input: &SiteInput<'_>) -> Result<Recent, SiteError> {
    let previous_list = match input.previous {
        Some(previous) => previous
            .reader
            .read(recent::PATH)?
            .as_deref()
            .and_then(Recent::parse),
        None => None,
    };
    let changed = input
        .changed
        .iter()
        .filter(|(_, (_, new))| new.is_some())
        .map(|(name, _)| name.as_str())
        .collect();
    Ok(Recent::update(recent::Update {
        previous: previous_list,
        previous_snapshot: input.previous.map(|p| p.root.published()),
        snapshot: input.published,
        serial: input.serial,
        changed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_written_in_waves_so_nothing_links_ahead() {
        let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("registry-data");
        let (registry, _) = crate::data::check(&sample).unwrap();
        let registry = registry.expect("the sample registry is valid");
        let index_hashes = BTreeMap::new();
        let changed = BTreeMap::new();
        let site = Site::prepare(SiteInput {
            registry: &registry,
            published: Hash::of(b"top bin"),
            serial: 1,
            index_hashes: &index_hashes,
            changed: &changed,
            previous: None,
        })
        .unwrap();
        let paths: Vec<Vec<String>> = site
            .waves()
            .into_iter()
            .map(|wave| {
                wave.into_iter()
                    .map(|page| site.render(page).unwrap().0)
                    .collect()
            })
            .collect();
        let [first, second, third] = &paths[..] else {
            panic!("three waves");
        };
        assert!(
            first
                .iter()
                .all(|p| p.starts_with("assets/") || p.starts_with("search/"))
        );
        assert!(!first.contains(&search::MANIFEST_PATH.to_owned()));
        for stem in ["site", "search", "icon", "run"] {
            assert!(
                first
                    .iter()
                    .any(|p| p.starts_with(&format!("assets/{stem}.")))
            );
        }
        assert_eq!(second[0], search::MANIFEST_PATH);
        // Each expert's page, then a page for each of its versions.
        assert_eq!(
            second.len(),
            1 + registry.experts.len() + registry.version_count()
        );
        assert_eq!(second[1], "experts/@acme/data-analyst/index.html");
        assert_eq!(second[2], "experts/@acme/data-analyst/0.1.0-alpha.1.html");
        assert!(second[1..].iter().all(|p| p.starts_with("experts/")));
        assert_eq!(
            third[..9],
            [
                "recent.json",
                "scopes/@acme/index.html",
                "scopes/@mailcraft/index.html",
                "scopes/@perstack/index.html",
                "scopes/unscoped/index.html",
                "index.html",
                "search.html",
                "api.html",
                "404.html",
            ]
        );
        assert_eq!(third[9], browse::INDEX_PATH);
        assert!(third[10..].iter().all(|p| p.starts_with("browse/")));
    }
}
