//! "Did you mean" hints: the closest known keyword by edit distance.

use super::error::Hint;

/// Levenshtein distance over bytes; keywords are short, so the O(n·m) table
/// row is cheap and only computed on the error path.
fn distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a typo
/// (at most a third of the word's length, and at least 1 edit allowed).
pub(crate) fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Hint {
    let limit = (word.len() / 3).max(1);
    Hint(
        candidates
            .map(|c| (distance(word, c), c))
            .filter(|(d, _)| *d <= limit)
            .min_by_key(|(d, _)| *d)
            .map(|(_, c)| c.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints() {
        assert_eq!(
            closest("pathh", ["path", "url", "src"].into_iter())
                .0
                .as_deref(),
            Some("path")
        );
        assert_eq!(closest("zzzzzz", ["path", "url"].into_iter()).0, None);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
