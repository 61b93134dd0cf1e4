//! Pure rules on single fields and on the request target: Content-Length,
//! Transfer-Encoding, Connection options, Expect, target forms. Each returns
//! the error kind and the index of the offending byte within its input, so
//! the parser can report an absolute offset.

use crate::classify::{is_lower, list_members, trim, TOKEN};
use crate::error::ErrorKind;
use crate::types::Method;

/// Parses a Content-Length value: a non-empty comma-separated list of
/// identical decimal numbers (RFC 9110 §8.6 allows a list when every member is
/// the same). Signs, empty members, non-digits, overflow and differing members
/// are errors; leading zeros are digits like any other.
pub fn content_length(v: &[u8]) -> Result<u64, (ErrorKind, usize)> {
    // The usual value: one plain number short enough that it cannot
    // overflow (18 digits < 2^64), checked and summed in one pass.
    if !v.is_empty() && v.len() <= 18 {
        let mut n = 0u64;
        for &b in v {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                return content_length_list(v);
            }
            n = n * 10 + u64::from(d);
        }
        return Ok(n);
    }
    content_length_list(v)
}

/// [`content_length`] for anything but a short plain number: a list, a
/// long number, or an invalid value.
#[cold]
#[inline(never)]
fn content_length_list(v: &[u8]) -> Result<u64, (ErrorKind, usize)> {
    let mut out: Option<u64> = None;
    let mut at = 0usize;
    for m in v.split(|&b| b == b',') {
        let member_at = at;
        at += m.len() + 1;
        let t = trim(m);
        if t.is_empty() {
            return Err((ErrorKind::InvalidContentLength, member_at));
        }
        let mut n: u64 = 0;
        for (i, &b) in t.iter().enumerate() {
            if !b.is_ascii_digit() {
                return Err((ErrorKind::InvalidContentLength, member_at + i));
            }
            n = match n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(b - b'0')))
            {
                Some(n) => n,
                None => return Err((ErrorKind::ContentLengthOverflow, member_at + i)),
            };
        }
        match out {
            Some(prev) if prev != n => {
                return Err((ErrorKind::ConflictingContentLength, member_at))
            }
            _ => out = Some(n),
        }
    }
    // `split` yields at least one member, so `out` is set or we returned.
    out.ok_or((ErrorKind::InvalidContentLength, 0))
}

/// Transfer-Encoding state accumulated over every TE field of a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransferCodings {
    /// At least one Transfer-Encoding field was seen.
    pub present: bool,
    /// `chunked` was seen; it is the last coding so far (anything after it is
    /// an error).
    pub chunked: bool,
}

impl TransferCodings {
    /// Adds the codings of one Transfer-Encoding field value.
    ///
    /// Empty list members are ignored (RFC 9110 §5.6.1), but a field with no
    /// coding at all is invalid. `chunked` must be the final coding and
    /// appear once (RFC 9112 §6.1); it takes no parameters.
    pub fn add(&mut self, v: &[u8]) -> Result<(), (ErrorKind, usize)> {
        let mut any = false;
        let mut at = 0usize;
        for m in v.split(|&b| b == b',') {
            let member_at = at;
            at += m.len() + 1;
            let lead = m.len() - m.trim_ascii_start().len();
            let t = trim(m);
            if t.is_empty() {
                continue;
            }
            let tok = t
                .iter()
                .position(|&b| !TOKEN[b as usize])
                .unwrap_or(t.len());
            if tok == 0 {
                return Err((ErrorKind::InvalidTransferEncoding, member_at + lead));
            }
            let params = trim(&t[tok..]);
            if !params.is_empty() && params[0] != b';' {
                return Err((ErrorKind::InvalidTransferEncoding, member_at + lead + tok));
            }
            let is_chunked = t[..tok].eq_ignore_ascii_case(b"chunked");
            if is_chunked && !params.is_empty() {
                return Err((ErrorKind::InvalidTransferEncoding, member_at + lead + tok));
            }
            if self.chunked {
                let kind = if is_chunked {
                    ErrorKind::ChunkedTwice
                } else {
                    ErrorKind::ChunkedNotLast
                };
                return Err((kind, member_at + lead));
            }
            self.chunked = is_chunked;
            any = true;
        }
        if !any {
            return Err((ErrorKind::InvalidTransferEncoding, 0));
        }
        self.present = true;
        Ok(())
    }
}

/// Connection options seen over every Connection field of a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// `close`
    pub close: bool,
    /// `keep-alive`
    pub keep_alive: bool,
    /// `upgrade`
    pub upgrade: bool,
    /// Any other option: it names a hop-by-hop field to remove.
    pub other: bool,
}

impl ConnectionOptions {
    /// Adds the options of one Connection field value. Members that are not
    /// tokens are ignored rather than rejected: they name nothing.
    pub fn add(&mut self, v: &[u8]) {
        // The common single-option values, without splitting. Values hold no
        // CR/LF in a one-word match (see `is_lower`), so this is exact.
        match v.len() {
            5 if is_lower(v, b"close") => return self.close = true,
            10 if is_lower(v, b"keep-alive") => return self.keep_alive = true,
            7 if is_lower(v, b"upgrade") => return self.upgrade = true,
            _ => {}
        }
        for m in list_members(v) {
            if m.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if m.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            } else if m.eq_ignore_ascii_case(b"upgrade") {
                self.upgrade = true;
            } else if !m.is_empty() {
                self.other = true;
            }
        }
    }
}

/// True when the Expect value is exactly `100-continue` (case-insensitive).
pub fn is_100_continue(v: &[u8]) -> bool {
    trim(v).eq_ignore_ascii_case(b"100-continue")
}

/// Validates the request-target form against the method (RFC 9112 §3.2):
/// origin-form starts with `/`; `*` only with OPTIONS; authority-form
/// (`host:port`) only with CONNECT, and CONNECT only with it; anything else
/// must be absolute-form `scheme://…`. Returns how many bytes were looked at.
pub fn target(method: Method, t: &[u8]) -> Result<usize, (ErrorKind, usize)> {
    match t.first() {
        Some(b'/') if method != Method::Connect => return Ok(1),
        Some(b'*') if t.len() == 1 => {
            return if method == Method::Options {
                Ok(1)
            } else {
                Err((ErrorKind::AsteriskNotOptions, 0))
            };
        }
        None => return Err((ErrorKind::InvalidRequestLine, 0)),
        _ => {}
    }
    if method == Method::Connect {
        return authority(t).map(|()| t.len());
    }
    // absolute-form: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) "://"
    let colon = match t.iter().position(|&b| b == b':') {
        Some(c) => c,
        None => return Err((ErrorKind::InvalidTarget, 0)),
    };
    let scheme = &t[..colon];
    let rest = &t[colon + 1..];
    if !rest.is_empty() && rest.iter().all(u8::is_ascii_digit) {
        // `host:port` with a method other than CONNECT.
        return Err((ErrorKind::AuthorityNotConnect, 0));
    }
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok || !rest.starts_with(b"//") {
        return Err((ErrorKind::InvalidScheme, 0));
    }
    Ok(colon + 3)
}

/// `uri-host ":" port` for CONNECT: a non-empty host without path, query,
/// fragment or userinfo characters, and a 1–5 digit port.
fn authority(t: &[u8]) -> Result<(), (ErrorKind, usize)> {
    let colon = match t.iter().rposition(|&b| b == b':') {
        Some(c) => c,
        None => return Err((ErrorKind::InvalidAuthority, t.len())),
    };
    let (host, port) = (&t[..colon], &t[colon + 1..]);
    if host.is_empty() {
        return Err((ErrorKind::InvalidAuthority, 0));
    }
    if let Some(i) = host
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#' | b'@'))
    {
        return Err((ErrorKind::InvalidAuthority, i));
    }
    if port.is_empty() || port.len() > 5 || !port.iter().all(u8::is_ascii_digit) {
        return Err((ErrorKind::InvalidAuthority, colon + 1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_fast_path_edges() {
        // 18 digits: the one-pass path; 19 and more: the checked path.
        assert_eq!(
            content_length(b"999999999999999999"),
            Ok(999_999_999_999_999_999)
        );
        assert_eq!(content_length(b"000000000000000042"), Ok(42));
        assert_eq!(
            content_length(b"1000000000000000000"),
            Ok(1_000_000_000_000_000_000)
        );
        assert_eq!(content_length(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            content_length(b"18446744073709551616"),
            Err((ErrorKind::ContentLengthOverflow, 19))
        );
        assert_eq!(
            content_length(b""),
            Err((ErrorKind::InvalidContentLength, 0))
        );
    }

    #[test]
    fn content_length_rules() {
        assert_eq!(content_length(b"0"), Ok(0));
        assert_eq!(content_length(b"007"), Ok(7));
        assert_eq!(content_length(b"42, 42,42"), Ok(42));
        assert_eq!(content_length(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            content_length(b"18446744073709551616").unwrap_err().0,
            ErrorKind::ContentLengthOverflow
        );
        assert_eq!(
            content_length(b"42, 43").unwrap_err().0,
            ErrorKind::ConflictingContentLength
        );
        for bad in [
            &b""[..],
            b"+1",
            b"-1",
            b"1 2",
            b"0x10",
            b"1,",
            b",1",
            b"1.0",
            b" ",
        ] {
            assert_eq!(
                content_length(bad).unwrap_err().0,
                ErrorKind::InvalidContentLength,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn transfer_coding_rules() {
        let mut t = TransferCodings::default();
        t.add(b"gzip, chunked").unwrap();
        assert!(t.present && t.chunked);
        assert_eq!(t.add(b"chunked").unwrap_err().0, ErrorKind::ChunkedTwice);
        let mut t = TransferCodings::default();
        assert_eq!(
            t.add(b"chunked, gzip").unwrap_err().0,
            ErrorKind::ChunkedNotLast
        );
        let mut t = TransferCodings::default();
        t.add(b"gzip").unwrap();
        assert!(t.present && !t.chunked);
        t.add(b"CHUNKED").unwrap();
        assert!(t.chunked);
        for bad in [
            &b""[..],
            b" , ",
            b"\"chunked\"",
            b"chunked;x=1",
            b"chu nked",
        ] {
            let mut t = TransferCodings::default();
            assert_eq!(
                t.add(bad).unwrap_err().0,
                ErrorKind::InvalidTransferEncoding,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn target_forms() {
        use Method::*;
        assert!(target(Get, b"/a?b").is_ok());
        assert!(target(Get, b"http://h/x").is_ok());
        assert!(target(Options, b"*").is_ok());
        assert_eq!(
            target(Get, b"*").unwrap_err().0,
            ErrorKind::AsteriskNotOptions
        );
        assert!(target(Connect, b"h:443").is_ok());
        assert!(target(Connect, b"[::1]:443").is_ok());
        assert_eq!(
            target(Connect, b"/x").unwrap_err().0,
            ErrorKind::InvalidAuthority
        );
        assert_eq!(
            target(Connect, b"h").unwrap_err().0,
            ErrorKind::InvalidAuthority
        );
        assert_eq!(
            target(Connect, b"u@h:1").unwrap_err().0,
            ErrorKind::InvalidAuthority
        );
        assert_eq!(
            target(Get, b"h:443").unwrap_err().0,
            ErrorKind::AuthorityNotConnect
        );
        assert_eq!(
            target(Get, b"1http://x").unwrap_err().0,
            ErrorKind::InvalidScheme
        );
        assert_eq!(
            target(Get, b"http:x").unwrap_err().0,
            ErrorKind::InvalidScheme
        );
        assert_eq!(target(Get, b"foo").unwrap_err().0, ErrorKind::InvalidTarget);
    }
}
