//! Regex rewrites of the `replace-header`, `replace-value`, `replace-path`
//! and `replace-uri` actions, with HAProxy's semantics: when the regex
//! matches (anywhere in the input), the whole input is replaced by the
//! replacement text in which `\0`…`\9` stand for the groups of the match
//! (a group that did not take part is empty) and `\\` for one backslash.
//! Without a match the input stays as it is.

use regex::bytes::Regex;

/// A compiled rewrite regex (the `regex` crate's syntax, as the ACL `-m reg`
/// patterns).
#[derive(Debug, Clone)]
pub struct Rewrite {
    re: Regex,
}

impl Rewrite {
    /// Compiles `pattern`.
    ///
    /// # Errors
    /// The regex compiler's message.
    pub fn new(pattern: &str) -> Result<Rewrite, String> {
        Regex::new(pattern)
            .map(|re| Rewrite { re })
            .map_err(|e| format!("invalid regex '{pattern}': {e}"))
    }

    /// Whether the regex matches anywhere in `input` (`http-check expect
    /// rstatus|rstring`).
    #[must_use]
    pub fn is_match(&self, input: &[u8]) -> bool {
        self.re.is_match(input)
    }

    /// If the regex matches `input`, appends `template` with its group
    /// references filled to `out` and returns true; otherwise leaves `out`
    /// alone and returns false.
    pub fn apply(&self, input: &[u8], template: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(caps) = self.re.captures(input) else {
            return false;
        };
        let mut i = 0;
        while i < template.len() {
            let c = template[i];
            if c == b'\\' {
                match template.get(i + 1) {
                    Some(d) if d.is_ascii_digit() => {
                        if let Some(m) = caps.get(usize::from(d - b'0')) {
                            out.extend_from_slice(m.as_bytes());
                        }
                        i += 2;
                        continue;
                    }
                    Some(b'\\') => {
                        out.push(b'\\');
                        i += 2;
                        continue;
                    }
                    _ => {}
                }
            }
            out.push(c);
            i += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(re: &str, input: &str, tpl: &str) -> Option<String> {
        let mut out = Vec::new();
        Rewrite::new(re)
            .unwrap()
            .apply(input.as_bytes(), tpl.as_bytes(), &mut out)
            .then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn haproxy_examples() {
        // configuration.txt, http-request replace-header.
        assert_eq!(
            run(
                r"foo=([^;]*);(.*)",
                "foo=foobar; expires=Tue, 14-Jun-2016 01:40:45 GMT;",
                r"foo=\1;ip=192.168.1.20;\2"
            )
            .as_deref(),
            Some("foo=foobar;ip=192.168.1.20; expires=Tue, 14-Jun-2016 01:40:45 GMT;")
        );
        // replace-value on one value of X-Forwarded-For.
        assert_eq!(
            run(r"^192\.168\.(.*)$", "192.168.10.1", r"172.16.\1").as_deref(),
            Some("172.16.10.1")
        );
        assert_eq!(run(r"^192\.168\.(.*)$", "10.0.0.37", r"172.16.\1"), None);
        // replace-uri: keep the path of an absolute URI.
        assert_eq!(
            run(r"^https?://[^/]*(/.*)?$", "http://h.example/a?b", r"\1").as_deref(),
            Some("/a?b")
        );
        // The whole input is replaced, not only the matched part.
        assert_eq!(run("b", "abc", "X").as_deref(), Some("X"));
        assert_eq!(run("(a)|(z)", "a", r"[\2]\\\0").as_deref(), Some("[]\\a"));
        assert!(Rewrite::new("(").is_err());
    }
}
