//! Name safety: new expert names and scopes must not pass for existing ones.
//!
//! A new name that equals an existing one after folding case, the separators `-`, `_` and `.`,
//! and common look-alike characters (`0`/`o`, `1`/`l`/`i`, `rn`/`m`, `vv`/`w`) is refused: a
//! user could not tell them apart. A new name within a small edit distance of a popular
//! existing one gets a warning, since that is how typo-squatting works. Names in
//! `[names] allow` of registry.toml are accepted as they are, on purpose.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::diagnostic::Diagnostic;
use crate::common::model::ExpertName;

/// How many existing experts count as popular.
pub const POPULAR_COUNT: usize = 100;
/// New names this close (in edits) to a popular one are warned about.
pub const MAX_NEAR_DISTANCE: usize = 2;
/// Names shorter than this are too short for the edit distance to mean anything.
pub const MIN_NEAR_LENGTH: usize = 5;

/// The form two names share when people would read them as the same.
pub fn fold(text: &str) -> String {
    let plain: String = text
        .chars()
        .flat_map(char::to_lowercase)
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .map(|c| match c {
            '0' => 'o',
            '1' | 'i' => 'l',
            other => other,
        })
        .collect();
    plain.replace("rn", "m").replace("vv", "w")
}

/// An existing expert and how much it is used, to pick the popular ones.
#[derive(Debug, Clone)]
pub struct Existing {
    pub name: ExpertName,
    /// How many other experts delegate to it.
    pub used_by: usize,
    pub versions: usize,
}

/// The most-used existing experts: ranked by how many experts delegate to them, then by how
/// many versions they have, then by name, so the choice is deterministic.
pub fn popular(existing: &[Existing]) -> Vec<&ExpertName> {
    let mut ranked: Vec<&Existing> = existing.iter().collect();
    ranked.sort_by(|a, b| {
        (b.used_by, b.versions)
            .cmp(&(a.used_by, a.versions))
            .then_with(|| a.name.cmp(&b.name))
    });
    ranked
        .into_iter()
        .take(POPULAR_COUNT)
        .map(|e| &e.name)
        .collect()
}

/// Checks the names new in this change against the existing ones. `data_dir` is used to name
/// the directory each problem concerns.
pub fn check(
    new_names: &[ExpertName],
    existing: &[Existing],
    allowed: &BTreeSet<String>,
    data_dir: &Path,
) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let existing_scopes: BTreeSet<&str> = existing.iter().filter_map(|e| e.name.scope()).collect();
    let mut new_scopes: BTreeSet<&str> = BTreeSet::new();
    let allow_hint = "or, if this is deliberate, add it to [names] allow in registry.toml";
    for name in new_names {
        let dir = name.data_dir(data_dir);
        if let Some(scope) = name.scope()
            && !existing_scopes.contains(scope)
            && !allowed.contains(scope)
            && new_scopes.insert(scope)
        {
            let scope_dir = dir.parent().unwrap_or(&dir);
            for old in &existing_scopes {
                if fold(scope) == fold(old) {
                    problems.push(Diagnostic::error(
                        "scope-confusable",
                        scope_dir,
                        format!(
                            "new scope \"{scope}\" looks like the existing scope \"{old}\" (the same after folding case, '-', '_', '.' and look-alike characters); choose another, {allow_hint}"
                        ),
                    ));
                }
            }
        }
        if allowed.contains(name.as_str()) {
            continue;
        }
        let folded = fold(name.as_str());
        let mut collided = false;
        for old in existing {
            if fold(old.name.as_str()) == folded && &old.name != name {
                collided = true;
                problems.push(Diagnostic::error(
                    "name-confusable",
                    &dir,
                    format!(
                        "new expert \"{name}\" looks like the existing \"{}\" (the same after folding case, '-', '_', '.' and look-alike characters); choose another name, {allow_hint}",
                        old.name
                    ),
                ));
            }
        }
        if collided || name.as_str().len() < MIN_NEAR_LENGTH {
            continue;
        }
        for old in popular(existing) {
            let distance = edit_distance(name.as_str(), old.as_str());
            if distance > 0 && distance <= MAX_NEAR_DISTANCE {
                problems.push(Diagnostic::warning(
                    "name-similar",
                    &dir,
                    format!(
                        "new expert \"{name}\" is {distance} edit(s) away from the popular \"{old}\"; make sure users cannot mistake one for the other ({allow_hint})"
                    ),
                ));
            }
        }
    }
    problems
}

/// Levenshtein distance over characters (Unicode scalar values, not bytes).
pub fn edit_distance(a: &str, b: &str) -> usize {
    strsim::levenshtein(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_merges_names_people_would_confuse() {
        assert_eq!(fold("@acme/research-er"), fold("@acme/researcher"));
        assert_eq!(fold("@acrne/x"), fold("@acme/x"));
        assert_eq!(fold("g00gle"), fold("google"));
        assert_eq!(fold("paypa1"), fold("paypal"));
        assert_eq!(fold("vvriter"), fold("writer"));
        assert_ne!(fold("@acme/writer"), fold("@acme/reader"));
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("researcher", "reseacher"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn edit_distance_counts_characters_not_bytes() {
        assert_eq!(edit_distance("café-bot", "cafe-bot"), 1);
        assert_eq!(edit_distance("ü", ""), 1);
    }
}
