//! HAProxy's HTTP sample semantics as pure functions over byte slices, for
//! the proxy's [`SampleSource`](super::SampleSource): where `path` starts
//! and ends in a request target, what `query`, `url_param`, `base` and
//! `req.cook` extract, and how `req.hdr` splits a header value into values.
//! Each returns sub-slices of its input or a borrowing iterator: nothing is
//! copied or allocated.

/// The path of a request target (`path` fetch): from the first `/` of the
/// path to before `?`. Absolute-form targets (`http://host/p`) skip the
/// scheme and authority; `*` and authority-form targets have no path.
pub fn path(url: &[u8]) -> Option<&[u8]> {
    let rest = if url.first() == Some(&b'/') {
        url
    } else {
        let scheme_end = find(url, b"://")?;
        let after = &url[scheme_end + 3..];
        match after.iter().position(|&b| b == b'/' || b == b'?') {
            Some(i) if after[i] == b'/' => &after[i..],
            // `http://host?x` or `http://host`: the path is empty.
            _ => return Some(&[]),
        }
    };
    let end = rest.iter().position(|&b| b == b'?').unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The query string (`query` fetch): after the first `?`, without it; None
/// when the target has no `?` (an empty query after `?` is found but empty).
pub fn query(url: &[u8]) -> Option<&[u8]> {
    let i = url.iter().position(|&b| b == b'?')?;
    Some(&url[i + 1..])
}

/// The first value of parameter `name` in the query string (`url_param`):
/// parameters are separated by `&` (or `delim`), names compared exactly.
/// A parameter without `=` has an empty value.
pub fn url_param<'a>(url: &'a [u8], name: &[u8], delim: Option<u8>) -> Option<&'a [u8]> {
    let q = query(url)?;
    let sep = delim.unwrap_or(b'&');
    q.split(|&b| b == sep).find_map(|kv| {
        let (k, v) = match kv.iter().position(|&b| b == b'=') {
            Some(i) => (&kv[..i], &kv[i + 1..]),
            None => (kv, &kv[kv.len()..]),
        };
        (k == name).then_some(v)
    })
}

/// The values of one header line as `req.hdr` sees them: split at commas
/// outside double quotes, optional whitespace trimmed, empty values kept
/// out. (`req.fhdr` takes the whole line instead.)
pub fn header_values(value: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    let mut rest = Some(value);
    std::iter::from_fn(move || loop {
        let s = rest?;
        let mut quoted = false;
        let mut escaped = false;
        let mut cut = None;
        for (i, &b) in s.iter().enumerate() {
            if escaped {
                escaped = false;
            } else if quoted && b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                quoted = !quoted;
            } else if b == b',' && !quoted {
                cut = Some(i);
                break;
            }
        }
        let (item, next) = match cut {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        rest = next;
        let item = trim_ows(item);
        if !item.is_empty() {
            return Some(item);
        }
    })
}

/// The cookies of one `Cookie` header value as (name, value) pairs, in
/// order: `;`-separated, whitespace around names and values trimmed.
pub fn cookies(value: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
    value.split(|&b| b == b';').filter_map(|c| {
        let c = trim_ows(c);
        let i = c.iter().position(|&b| b == b'=')?;
        Some((trim_ows(&c[..i]), trim_ows(&c[i + 1..])))
    })
}

/// Whether `base` (`Host` value followed by the path) can be built, and its
/// two parts: the caller presents them as one sample by copying into its
/// scratch buffer, or compares them piecewise.
pub fn base_parts<'a>(host: &'a [u8], url: &'a [u8]) -> Option<(&'a [u8], &'a [u8])> {
    Some((host, path(url)?))
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &s[start..end]
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: Option<&[u8]>) -> Option<&str> {
        b.map(|b| std::str::from_utf8(b).unwrap())
    }

    #[test]
    fn paths_and_queries() {
        let cases: &[(&str, Option<&str>, Option<&str>)] = &[
            ("/", Some("/"), None),
            ("/a/b?x=1&y", Some("/a/b"), Some("x=1&y")),
            ("/a?", Some("/a"), Some("")),
            ("http://h.example/p/q?z", Some("/p/q"), Some("z")),
            ("https://h.example", Some(""), None),
            ("http://h.example?q", Some(""), Some("q")),
            ("*", None, None),
            ("h.example:443", None, None),
        ];
        for (url, p, q) in cases {
            assert_eq!(s(path(url.as_bytes())), *p, "path of {url}");
            assert_eq!(s(query(url.as_bytes())), *q, "query of {url}");
        }
    }

    #[test]
    fn url_params() {
        let u = b"/p?a=1&id=42&flag&id=7&e=";
        assert_eq!(s(url_param(u, b"id", None)), Some("42"));
        assert_eq!(s(url_param(u, b"flag", None)), Some(""));
        assert_eq!(s(url_param(u, b"e", None)), Some(""));
        assert_eq!(s(url_param(u, b"ID", None)), None);
        assert_eq!(s(url_param(b"/p", b"a", None)), None);
        assert_eq!(s(url_param(b"/p?a=1;b=2", b"b", Some(b';'))), Some("2"));
    }

    #[test]
    fn header_value_splitting() {
        let v: Vec<&[u8]> = header_values(b" a, b ,,\"c,d\" , e\\,f ,").collect();
        assert_eq!(v, [&b"a"[..], b"b", b"\"c,d\"", b"e\\", b"f"]);
        assert_eq!(header_values(b"").count(), 0);
        let v: Vec<&[u8]> = header_values(b"\"x\\\",y\", z").collect();
        assert_eq!(v, [&b"\"x\\\",y\""[..], b"z"]);
    }

    #[test]
    fn cookie_pairs() {
        let v: Vec<(&[u8], &[u8])> = cookies(b"a=1; sid = xyz ;bad; e=").collect();
        assert_eq!(v, [(&b"a"[..], &b"1"[..]), (b"sid", b"xyz"), (b"e", b"")]);
    }

    #[test]
    fn base() {
        assert_eq!(
            base_parts(b"h.example", b"/x?y"),
            Some((&b"h.example"[..], &b"/x"[..]))
        );
        assert_eq!(base_parts(b"h", b"*"), None);
    }
}
