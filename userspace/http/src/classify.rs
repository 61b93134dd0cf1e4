//! Byte classes as static 256-entry tables, word-at-a-time scanners, and the
//! one-time recognition of methods and header names.
//!
//! The tables are built at compile time so a class test is one load; the word
//! scanners test eight bytes per step with the classic "has byte less than"
//! bit trick (no `unsafe`, no SIMD intrinsics: the crate forbids `unsafe`).

use crate::types::{HeaderId, Method};

/// `tchar` of RFC 9110 §5.6.2.
const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' |
        b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Builds a 256-entry class table at compile time from a byte predicate.
macro_rules! table {
    (|$b:ident| $pred:expr) => {{
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            let $b = i as u8;
            t[i] = $pred;
            i += 1;
        }
        t
    }};
}

/// Token bytes (methods, header names, transfer codings, connection options).
/// A `const` so every use is a crate-local constant addressed directly: a
/// `static` was reached through the GOT, reloaded on every byte of a loop.
pub const TOKEN: [bool; 256] = table!(|b| is_tchar(b));

/// Header-name bytes accepted with `accept_invalid`: any visible byte except
/// the colon, plus obs-text.
pub static LOOSE_NAME: [bool; 256] = table!(|b| (b > 0x20 && b != 0x7f && b != b':') || b >= 0x80);

/// Request-target bytes in strict mode: visible ASCII except `#`.
pub static TARGET: [bool; 256] = table!(|b| b > 0x20 && b < 0x7f && b != b'#');

/// Request-target bytes with `accept_invalid`: adds `#` and obs-text.
pub static LOOSE_TARGET: [bool; 256] = table!(|b| (b > 0x20 && b < 0x7f) || b >= 0x80);

/// Field-value bytes (RFC 9110 §5.5): HTAB, SP, VCHAR, obs-text. The scanner
/// uses word tricks instead; the table is the reference the tests check them against.
#[cfg(test)]
pub static VALUE: [bool; 256] = table!(|b| b == b'\t' || (b >= 0x20 && b != 0x7f));

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Marks (high bit of the byte) the bytes of `x` that are below `n` (n <= 128).
/// Bytes above the lowest marked one may be marked falsely (borrow), but the
/// lowest mark is always exact, which is all the scanners use.
#[inline(always)]
const fn below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(LO * n as u64) & !x & HI
}

/// Marks the bytes of `x` equal to `b` (lowest mark exact, as for `below`).
#[inline(always)]
const fn equal(x: u64, b: u8) -> u64 {
    below(x ^ (LO * b as u64), 1)
}

/// The 8 bytes at `at` as a little-endian word, if there are 8.
#[inline(always)]
fn word(buf: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(w)
}

/// True when a 16-byte block holds a control byte (< 0x20) or DEL. Written as
/// an OR-reduction of byte compares, which LLVM vectorises (SSE2 compares and
/// one movemask on x86-64) without any `unsafe` here.
#[inline(always)]
fn value_block_stops(b: &[u8; 16]) -> bool {
    let mut acc = 0u8;
    for &x in b {
        acc |= u8::from(x < 0x20) | u8::from(x == 0x7f);
    }
    acc != 0
}

/// True when a 16-byte block holds a byte that is not a strict target byte.
#[inline(always)]
fn target_block_stops(b: &[u8; 16]) -> bool {
    let mut acc = 0u8;
    for &x in b {
        acc |= u8::from(x <= 0x20) | u8::from(x >= 0x7f) | u8::from(x == b'#');
    }
    acc != 0
}

/// Advances from `pos` over field-value bytes that need no attention (SP,
/// VCHAR, obs-text) and returns the offset of the first byte that does (a
/// control byte, including HTAB, CR and LF, or DEL), or `end`.
#[inline(always)]
pub fn skip_value(buf: &[u8], mut pos: usize, end: usize) -> usize {
    // Most values are short: two words first, then 16-byte blocks.
    for _ in 0..2 {
        if pos + 8 > end {
            break;
        }
        let x = word(buf, pos);
        let m = below(x, 0x20) | equal(x, 0x7f);
        if m != 0 {
            return pos + (m.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    // Iterating over whole blocks (rather than slicing `pos..pos + 16` each
    // step) leaves a pointer increment and one compare as the loop control.
    // Iterating over whole blocks (rather than slicing `pos..pos + 16` on
    // each step) leaves a pointer increment and one compare as loop control.
    if let Some(rest) = buf.get(pos..end) {
        for b in rest.as_chunks::<16>().0 {
            if value_block_stops(b) {
                break;
            }
            pos += 16;
        }
    }
    while pos + 8 <= end {
        let x = word(buf, pos);
        let m = below(x, 0x20) | equal(x, 0x7f);
        if m != 0 {
            return pos + (m.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while pos < end {
        let b = buf[pos];
        if b < 0x20 || b == 0x7f {
            return pos;
        }
        pos += 1;
    }
    end
}

/// Advances from `pos` over strict request-target bytes and returns the
/// offset of the first byte that is not one (SP ends the target; anything
/// else is looked at by the caller), or `end`.
#[inline(always)]
pub fn skip_target(buf: &[u8], mut pos: usize, end: usize) -> usize {
    // A short target (`/`, `/index.html`) ends within the first word.
    if pos + 8 <= end {
        let x = word(buf, pos);
        let m = below(x, 0x21) | equal(x, 0x7f) | equal(x, b'#') | (x & HI);
        if m != 0 {
            return pos + (m.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    if let Some(rest) = buf.get(pos..end) {
        for b in rest.as_chunks::<16>().0 {
            if target_block_stops(b) {
                break;
            }
            pos += 16;
        }
    }
    while pos + 8 <= end {
        let x = word(buf, pos);
        // Stop on <= 0x20 (controls and SP), DEL, '#' and any byte >= 0x80.
        let m = below(x, 0x21) | equal(x, 0x7f) | equal(x, b'#') | (x & HI);
        if m != 0 {
            return pos + (m.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while pos < end && TARGET[buf[pos] as usize] {
        pos += 1;
    }
    pos
}

/// Marks (high bit of the byte) the bytes of `x` that are `>= n` (1 <= n <=
/// 0x80). Exact for every byte below 0x80; a byte of 0x80 or more may carry
/// into the byte above it, so callers mark such bytes themselves and use only
/// the lowest mark (every byte below it is < 0x80 and carries nothing).
#[inline(always)]
const fn at_least(x: u64, n: u8) -> u64 {
    x.wrapping_add(LO * (0x80 - n) as u64) & HI
}

/// Marks the bytes of `x` that are not ASCII letters, digits or `-`: the
/// bytes of nearly every header name. The lowest mark is exact (see
/// [`at_least`]); a byte >= 0x80 is always marked.
#[inline(always)]
const fn not_name_byte(x: u64) -> u64 {
    // OR 0x20 folds `A`-`Z` onto `a`-`z` and maps no other byte below 0x80
    // into that range.
    let y = x | (LO * 0x20);
    let letter = at_least(y, b'a') & !at_least(y, b'z' + 1);
    let digit = at_least(x, b'0') & !at_least(x, b'9' + 1);
    // `x ^ '-'` is zero exactly for a dash; "not >= 1" marks it.
    let not_dash = at_least(x ^ (LO * b'-' as u64), 1);
    (not_dash & !(letter | digit)) | (x & HI)
}

/// Advances over ASCII letters, digits and `-` eight bytes at a time, then
/// over token bytes one at a time near the end of the buffer. Returns the
/// offset of the first byte that is neither (usually the colon after a header
/// name; it may still be a token byte such as `_` when the word scan stopped
/// at it), or `end`. About 3.5 instructions per byte where the table loop of
/// [`skip_token`] takes 6 to 7 (callgrind: ~27 instructions per 8-byte word here).
#[inline(always)]
pub fn skip_name(buf: &[u8], mut pos: usize, end: usize) -> usize {
    while pos + 8 <= end {
        let m = not_name_byte(word(buf, pos));
        if m != 0 {
            return pos + (m.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    skip_token(buf, pos, end)
}

/// Advances over token bytes, one table load per byte (for short tokens and
/// the tail of a name).
#[inline(always)]
pub fn skip_token(buf: &[u8], mut pos: usize, end: usize) -> usize {
    const T: &[bool; 256] = &TOKEN;
    while pos < end && T[buf[pos] as usize] {
        pos += 1;
    }
    pos
}

/// Recognises a well-known method (case-sensitive, RFC 9110 §9.1).
#[inline(always)]
pub fn method(m: &[u8]) -> Method {
    match m {
        b"GET" => Method::Get,
        b"POST" => Method::Post,
        b"HEAD" => Method::Head,
        b"PUT" => Method::Put,
        b"DELETE" => Method::Delete,
        b"OPTIONS" => Method::Options,
        b"CONNECT" => Method::Connect,
        b"PATCH" => Method::Patch,
        b"TRACE" => Method::Trace,
        _ => Method::Other,
    }
}

/// Up to 8 bytes of `lit` from `at`, zero-padded, each byte OR 0x20.
const fn lit_word(lit: &[u8], at: usize) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < 8 && at + i < lit.len() {
        w |= ((lit[at + i] | 0x20) as u64) << (8 * i);
        i += 1;
    }
    w
}

/// Up to 8 bytes of `n` from `at` (zero-padded), each byte OR 0x20. For
/// token bytes and lower-case literals made of letters and `-`, equal folded
/// words mean names equal ignoring ASCII case: OR 0x20 maps only `A`–`Z`
/// onto `a`–`z`, and no other token byte onto a letter or `-`.
#[inline(always)]
fn folded(n: &[u8], at: usize) -> u64 {
    let rest = n.get(at..).unwrap_or(&[]);
    let w = match rest.first_chunk::<8>() {
        Some(w) => u64::from_le_bytes(*w),
        None => {
            let mut w = [0u8; 8];
            for (d, s) in w.iter_mut().zip(rest) {
                *d = *s;
            }
            u64::from_le_bytes(w)
        }
    };
    let keep = rest.len().min(8);
    let mask = if keep == 8 {
        u64::MAX
    } else {
        (1u64 << (8 * keep)) - 1
    };
    (w | 0x2020_2020_2020_2020) & mask
}

/// Case-insensitive comparison of a token with a lower-case literal of
/// letters and `-`, eight bytes at a time. `n.len() == lit.len()` is the
/// caller's check.
#[inline(always)]
pub fn is_lower(n: &[u8], lit: &[u8]) -> bool {
    let mut at = 0;
    while at < lit.len() {
        if folded(n, at) != lit_word(lit, at) {
            return false;
        }
        at += 8;
    }
    true
}

/// The names [`header_id`] recognises, lower-case.
const KNOWN_NAMES: [&[u8]; 10] = [
    b"te",
    b"host",
    b"expect",
    b"upgrade",
    b"trailer",
    b"connection",
    b"keep-alive",
    b"content-length",
    b"proxy-connection",
    b"transfer-encoding",
];

/// For each first byte of a name, one bit per length (< 32) that a known
/// name starting with that byte (either case) has: one load and one shift
/// turn away nearly every name that is not one of them.
const KNOWN_FIRST_LEN: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < KNOWN_NAMES.len() {
        let n = KNOWN_NAMES[i];
        t[n[0] as usize] |= 1 << n.len();
        t[n[0].to_ascii_uppercase() as usize] |= 1 << n.len();
        i += 1;
    }
    t
};

/// Recognises a well-known header name (case-insensitive). Most names are
/// none of them, and are told so by their first byte and length alone; the
/// rest are compared word by word in [`known_header_id`]. The name must be a
/// token (the parser checked it).
#[inline(always)]
pub fn header_id(n: &[u8]) -> HeaderId {
    match n.first() {
        Some(&b) if n.len() < 32 && (KNOWN_FIRST_LEN[b as usize] >> n.len()) & 1 != 0 => {
            known_header_id(n)
        }
        _ => HeaderId::Other,
    }
}

/// Compares a name that passed [`header_id`]'s filter. Dispatching on the
/// length first leaves at most two word comparisons per name.
#[inline(never)]
fn known_header_id(n: &[u8]) -> HeaderId {
    let is = |lit: &[u8]| is_lower(n, lit);
    match n.len() {
        2 if is(b"te") => HeaderId::Te,
        4 if is(b"host") => HeaderId::Host,
        6 if is(b"expect") => HeaderId::Expect,
        7 if is(b"upgrade") => HeaderId::Upgrade,
        7 if is(b"trailer") => HeaderId::Trailer,
        10 if is(b"connection") => HeaderId::Connection,
        10 if is(b"keep-alive") => HeaderId::KeepAlive,
        14 if is(b"content-length") => HeaderId::ContentLength,
        16 if is(b"proxy-connection") => HeaderId::ProxyConnection,
        17 if is(b"transfer-encoding") => HeaderId::TransferEncoding,
        _ => HeaderId::Other,
    }
}

/// Whitespace inside list values: SP and HTAB, plus CR/LF which can only be
/// there as unfolded obs-fold (with `accept_invalid`).
#[inline]
pub const fn is_list_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Iterates over the members of a comma-separated list value (RFC 9110
/// §5.6.1), each trimmed of whitespace. Empty members are yielded as empty
/// slices: callers decide whether they are allowed.
pub fn list_members(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',').map(trim)
}

/// Trims list whitespace from both ends.
pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_list_ws(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_list_ws(*last) {
            break;
        }
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_match_rfc() {
        for b in 0..=255u8 {
            assert_eq!(TOKEN[b as usize], is_tchar(b));
            assert_eq!(
                VALUE[b as usize],
                b == 9 || (32..127).contains(&b) || b >= 128
            );
        }
        assert!(!TOKEN[b':' as usize] && !TOKEN[b' ' as usize] && !TOKEN[b'"' as usize]);
        assert!(!TARGET[b'#' as usize] && LOOSE_TARGET[b'#' as usize]);
    }

    #[test]
    fn word_scanners_agree_with_byte_loops() {
        let mut buf = [b'a'; 40];
        for i in 0..40 {
            for stop in [0u8, 9, 13, 10, 0x1f, 0x7f] {
                buf.fill(b'a');
                buf[i] = stop;
                assert_eq!(skip_value(&buf, 0, 40), i, "value stop {stop} at {i}");
            }
            for stop in [b' ', b'#', 0x80, 0xff, 0x7f, 0] {
                buf.fill(b'/');
                buf[i] = stop;
                assert_eq!(skip_target(&buf, 0, 40), i, "target stop {stop} at {i}");
            }
        }
        // 43 bytes: five words, then a 3-byte tail walked with the table.
        for i in 0..43 {
            for stop in 0..=255u8 {
                if stop.is_ascii_alphanumeric() || stop == b'-' {
                    continue;
                }
                let mut buf = [b'a'; 43];
                for (j, b) in buf.iter_mut().enumerate() {
                    *b = b"aZ09-zA9"[j % 8];
                }
                buf[i] = stop;
                let at = skip_name(&buf, 0, 43);
                if TOKEN[stop as usize] && i >= 40 {
                    // The table tail steps over other token bytes.
                    assert_eq!(at, 43, "name stop {stop} at {i}");
                } else {
                    assert_eq!(at, i, "name stop {stop} at {i}");
                }
                // A byte >= 0x80 below the stop never hides it.
                if i > 0 {
                    buf[i - 1] = 0xff;
                    assert_eq!(skip_name(&buf, 0, 43), i - 1);
                }
            }
        }
        // High bytes are plain value bytes (obs-text) and must not stop the scan.
        let v = [0xffu8; 20];
        assert_eq!(skip_value(&v, 0, 20), 20);
    }

    #[test]
    fn header_ids_ignore_case_exactly() {
        let names: &[(&[u8], HeaderId)] = &[
            (b"te", HeaderId::Te),
            (b"tE", HeaderId::Te),
            (b"HOST", HeaderId::Host),
            (b"hosu", HeaderId::Other),
            (b"Keep-Alive", HeaderId::KeepAlive),
            (b"keep_alive", HeaderId::Other),
            (b"Content-Lengtj", HeaderId::Other),
            (b"PROXY-CONNECTION", HeaderId::ProxyConnection),
            (b"transfer-encodinG", HeaderId::TransferEncoding),
            (b"transfer-encodinh", HeaderId::Other),
            (b"cookie", HeaderId::Other),
        ];
        for (n, id) in names {
            assert_eq!(header_id(n), *id, "{n:?}");
        }
    }

    #[test]
    fn header_id_filter_keeps_every_known_name() {
        for name in KNOWN_NAMES {
            let upper = name.to_ascii_uppercase();
            assert_ne!(header_id(name), HeaderId::Other, "{name:?}");
            assert_eq!(header_id(name), header_id(&upper));
            assert_eq!(header_id(name), known_header_id(name));
        }
        assert_eq!(header_id(b""), HeaderId::Other);
        assert_eq!(header_id(&[b't'; 40]), HeaderId::Other);
    }

    #[test]
    fn recognisers() {
        assert_eq!(header_id(b"CONTENT-length"), HeaderId::ContentLength);
        assert_eq!(header_id(b"Transfer-Encoding"), HeaderId::TransferEncoding);
        assert_eq!(header_id(b"Content-Lengtx"), HeaderId::Other);
        assert_eq!(method(b"GET"), Method::Get);
        assert_eq!(method(b"get"), Method::Other);
        let m: Vec<&[u8]> = list_members(b" a ,, b\t").collect();
        assert_eq!(m, vec![&b"a"[..], b"", b"b"]);
    }
}
