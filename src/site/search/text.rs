//! How text becomes search keys, shared word for word with `site/static/search.js`: the
//! script splits a query with the same rules, reads the stop words from the manifest, and
//! hashes an exact name with the same function, so a build and a browser always agree on
//! what a word or a name is.

/// Words that say little about what an expert does: the usual English function words, and the
/// words people wrap a request in ("find bugs in my code", "help me write an email"). They are
/// not indexed from descriptions, and a query ignores them unless it holds nothing else, so
/// `for email` finds what `email` finds.
pub const STOP_WORDS: &[&str] = &[
    "about",
    "all",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "by",
    "can",
    "could",
    "do",
    "does",
    "find",
    "for",
    "from",
    "get",
    "help",
    "how",
    "i",
    "in",
    "into",
    "is",
    "it",
    "its",
    "me",
    "my",
    "need",
    "of",
    "on",
    "or",
    "our",
    "please",
    "so",
    "some",
    "something",
    "that",
    "the",
    "their",
    "them",
    "then",
    "this",
    "to",
    "us",
    "want",
    "we",
    "what",
    "which",
    "who",
    "will",
    "with",
    "would",
    "you",
    "your",
];

pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// Splits text into search terms: lowercase runs of letters and digits, at least two long.
pub fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.chars().nth(1).is_some())
        .map(str::to_lowercase)
}

/// The key an exact name is looked up by: lowercase ASCII letters and digits, `@` and `/`, and
/// nothing else, so `tictactoe`, `tic tac toe` and `Tic-Tac-Toe` all find `tic-tac-toe`.
pub fn name_key(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '@' || *c == '/')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// 32-bit FNV-1a of the UTF-8 bytes: a hash the search script computes in a few lines, to find
/// which file holds an exact name.
pub fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// A file name for a shard key: the key itself when it is lowercase ASCII letters and digits,
/// otherwise `u-` and the hex of its UTF-8 bytes, which cannot collide with a plain key because
/// plain keys hold no `-`.
pub fn file_stem(key: &str) -> String {
    if key
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        key.to_owned()
    } else {
        format!("u-{}", data_encoding::HEXLOWER.encode(key.as_bytes()))
    }
}

/// A description cut to `chars` characters, with an ellipsis when it was longer.
pub fn snippet(description: &str, chars: usize) -> String {
    match description.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}…", description[..cut].trim_end()),
        None => description.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(is_stop_word("the") && is_stop_word("find") && !is_stop_word("email"));
    }

    #[test]
    fn terms_are_lowercase_words_of_two_or_more_characters() {
        let found: Vec<String> = terms("@Acme/web-searcher: finds a Café, x2").collect();
        assert_eq!(found, ["acme", "web", "searcher", "finds", "café", "x2"]);
    }

    #[test]
    fn name_keys_ignore_separators_and_case() {
        assert_eq!(name_key("Tic-Tac-Toe"), "tictactoe");
        assert_eq!(name_key(" @Acme/web_searcher "), "@acme/websearcher");
        assert_eq!(name_key("é"), "");
    }

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a(""), 0x811c_9dc5);
        assert_eq!(fnv1a("a"), 0xe40c_292c);
        assert_eq!(fnv1a("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn keys_that_are_not_plain_get_hex_file_names() {
        assert_eq!(file_stem("re"), "re");
        assert_eq!(file_stem("éé"), "u-c3a9c3a9");
        assert_eq!(file_stem("@o"), "u-406f");
    }

    #[test]
    fn snippets_are_cut_on_characters() {
        assert_eq!(snippet("short", 10), "short");
        assert_eq!(snippet(&"é".repeat(12), 10), format!("{}…", "é".repeat(10)));
    }
}
