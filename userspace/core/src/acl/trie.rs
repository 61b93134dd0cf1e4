//! A byte trie for prefix (`beg`), suffix (`end`, built reversed) and
//! delimited-word (`dir`, `dom`) patterns, and for the keys of `map_beg`,
//! `map_end`, `map_dir` and `map_dom`.
//!
//! Built once, then frozen into two flat arrays: each node knows the slice of
//! the edge array holding its children, sorted by byte, so a lookup costs one
//! binary search per sample byte (at most 8 probes), whatever the number of
//! patterns. This plays the part of HAProxy's prefix ebtree.

use std::collections::BTreeMap;

/// No value stored at a node.
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Node {
    /// First child edge in [`Trie::edges`].
    edge_start: u32,
    /// Number of child edges (at most 256).
    edge_len: u16,
    /// Index of the pattern ending here (the first inserted wins), or NONE.
    value: u32,
}

/// A frozen byte trie; see the module comment.
#[derive(Debug, Clone)]
pub(crate) struct Trie {
    nodes: Vec<Node>,
    /// (byte, child node) pairs, grouped per node and sorted by byte.
    edges: Vec<(u8, u32)>,
}

/// The mutable form used while patterns are inserted.
#[derive(Debug, Default)]
pub(crate) struct TrieBuilder {
    children: Vec<BTreeMap<u8, u32>>,
    values: Vec<u32>,
}

impl TrieBuilder {
    pub(crate) fn new() -> Self {
        TrieBuilder {
            children: vec![BTreeMap::new()],
            values: vec![NONE],
        }
    }

    /// Inserts a key; a duplicate key keeps the value inserted first (file
    /// order decides, as for HAProxy's maps).
    pub(crate) fn insert(&mut self, key: impl Iterator<Item = u8>, value: u32) {
        let mut node = 0usize;
        for b in key {
            let next = self.children.len() as u32;
            let child = *self.children[node].entry(b).or_insert(next);
            if child == next {
                self.children.push(BTreeMap::new());
                self.values.push(NONE);
            }
            node = child as usize;
        }
        if self.values[node] == NONE {
            self.values[node] = value;
        }
    }

    pub(crate) fn build(self) -> Trie {
        let mut nodes = Vec::with_capacity(self.children.len());
        let mut edges = Vec::with_capacity(self.children.len().saturating_sub(1));
        for (kids, value) in self.children.into_iter().zip(self.values) {
            nodes.push(Node {
                edge_start: edges.len() as u32,
                edge_len: kids.len() as u16,
                value,
            });
            edges.extend(kids);
        }
        Trie { nodes, edges }
    }
}

impl Trie {
    /// Walks `key` from the root, calling `on_value(depth, value)` at every
    /// node that ends a pattern, starting with the root (depth 0, the empty
    /// pattern). Stops when `on_value` returns true (and returns true), or when
    /// the key or the trie runs out (and returns false). With `fold`, key
    /// bytes are lower-cased as they are read (patterns were inserted
    /// lower-cased). `steps` counts the edge probes.
    pub(crate) fn walk(
        &self,
        key: impl Iterator<Item = u8>,
        fold: bool,
        steps: &mut u64,
        mut on_value: impl FnMut(usize, u32) -> bool,
    ) -> bool {
        let mut node = &self.nodes[0];
        if node.value != NONE && on_value(0, node.value) {
            return true;
        }
        for (i, b) in key.enumerate() {
            let b = if fold { b.to_ascii_lowercase() } else { b };
            let start = node.edge_start as usize;
            let kids = &self.edges[start..start + usize::from(node.edge_len)];
            // Binary search by hand so each probe is counted.
            let (mut lo, mut hi) = (0usize, kids.len());
            let mut found = None;
            while lo < hi {
                *steps += 1;
                let mid = (lo + hi) / 2;
                match kids[mid].0.cmp(&b) {
                    std::cmp::Ordering::Less => lo = mid + 1,
                    std::cmp::Ordering::Greater => hi = mid,
                    std::cmp::Ordering::Equal => {
                        found = Some(kids[mid].1);
                        break;
                    }
                }
            }
            let Some(child) = found else { return false };
            node = &self.nodes[child as usize];
            if node.value != NONE && on_value(i + 1, node.value) {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn build(pats: &[&[u8]]) -> Trie {
        let mut b = TrieBuilder::new();
        for (i, p) in pats.iter().enumerate() {
            b.insert(p.iter().copied(), i as u32);
        }
        b.build()
    }

    fn any_prefix(t: &Trie, s: &[u8]) -> bool {
        let mut steps = 0;
        t.walk(s.iter().copied(), false, &mut steps, |_, _| true)
    }

    #[test]
    fn prefixes() {
        let t = build(&[b"/api", b"/static/", b"/a"]);
        assert!(any_prefix(&t, b"/api/v1"));
        assert!(any_prefix(&t, b"/a"));
        assert!(any_prefix(&t, b"/static/x.css"));
        assert!(!any_prefix(&t, b"/static"));
        assert!(!any_prefix(&t, b"/"));
        assert!(!any_prefix(&t, b""));
    }

    #[test]
    fn empty_pattern_matches_everything() {
        let t = build(&[b""]);
        assert!(any_prefix(&t, b""));
        assert!(any_prefix(&t, b"x"));
    }

    #[test]
    fn longest_and_first_value() {
        let t = build(&[b"/a", b"/ab", b"/a"]);
        let mut steps = 0;
        let mut last = None;
        t.walk(b"/abc".iter().copied(), false, &mut steps, |d, v| {
            last = Some((d, v));
            false
        });
        assert_eq!(last, Some((3, 1)));
        let mut first = None;
        t.walk(b"/a".iter().copied(), false, &mut steps, |d, v| {
            first = Some((d, v));
            false
        });
        assert_eq!(first, Some((2, 0)), "duplicate key keeps the first value");
    }

    proptest! {
        #[test]
        fn trie_agrees_with_naive_starts_with(
            pats in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..6), 0..40),
            probes in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..8), 1..40),
        ) {
            let refs: Vec<&[u8]> = pats.iter().map(Vec::as_slice).collect();
            let t = build(&refs);
            for s in &probes {
                let naive = pats.iter().any(|p| s.starts_with(p));
                prop_assert_eq!(any_prefix(&t, s), naive);
            }
        }
    }
}
