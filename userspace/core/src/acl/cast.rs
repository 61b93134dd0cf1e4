//! Conversions between sample types, as HAProxy applies them implicitly
//! when a fetch feeds a converter or a match method of another type.
//! Text forms of integers and addresses are written to a small stack buffer
//! supplied by the caller: a cast never allocates.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use super::types::{Sample, SampleType};

/// Room for the text form of any i64 or IPv6 address.
pub(crate) type CastBuf = [u8; 48];

/// Whether a sample of type `from` can be presented as `to`. Checked at
/// compile time so an impossible chain is a configuration error.
pub(crate) fn can_cast(from: SampleType, to: SampleType) -> bool {
    use SampleType::*;
    match (from, to) {
        (a, b) if a == b => true,
        (Bool, Int | Str) | (Int, Bool | Str | Ip) => true,
        (Str, Int | Bool | Ip | Bin) | (Bin, Str) => true,
        (Int, Bin) | (Ip, Str | Int | Bin) => true,
        _ => false,
    }
}

/// Parses HAProxy-style leading integers: optional sign then digits; bytes
/// after the digits are ignored ("12abc" is 12). None without digits or on
/// overflow.
pub(crate) fn parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in &digits[..n] {
        let d = i64::from(d - b'0');
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub(d)?
        } else {
            v.checked_add(d)?
        };
    }
    Some(v)
}

fn write_text<'a>(buf: &'a mut CastBuf, args: std::fmt::Arguments<'_>) -> Option<&'a [u8]> {
    let mut cur: &mut [u8] = &mut buf[..];
    cur.write_fmt(args).ok()?;
    let left = cur.len();
    let used = buf.len() - left;
    Some(&buf[..used])
}

/// Presents `s` as type `to`, or None when the value does not convert
/// (a string that is not a number or an address). `buf` holds text forms.
pub(crate) fn cast<'a>(s: Sample<'a>, to: SampleType, buf: &'a mut CastBuf) -> Option<Sample<'a>> {
    if s.kind() == to {
        return Some(s);
    }
    Some(match (s, to) {
        (Sample::Bool(b), SampleType::Int) => Sample::Int(i64::from(b)),
        (Sample::Bool(b), SampleType::Str) => Sample::Str(if b { b"1" } else { b"0" }),
        (Sample::Int(n), SampleType::Bool) => Sample::Bool(n != 0),
        (Sample::Int(n), SampleType::Str) => Sample::Str(write_text(buf, format_args!("{n}"))?),
        (Sample::Int(n), SampleType::Ip) => {
            Sample::Ip(IpAddr::V4(Ipv4Addr::from(u32::try_from(n).ok()?)))
        }
        (Sample::Str(t) | Sample::Bin(t), SampleType::Int) => Sample::Int(parse_int(t)?),
        (Sample::Str(t), SampleType::Bool) => Sample::Bool(parse_int(t)? != 0),
        (Sample::Str(t), SampleType::Ip) => {
            Sample::Ip(std::str::from_utf8(t).ok()?.trim().parse().ok()?)
        }
        (Sample::Str(t), SampleType::Bin) => Sample::Bin(t),
        (Sample::Bin(t), SampleType::Str) => Sample::Str(t),
        (Sample::Ip(ip), SampleType::Str) => Sample::Str(write_text(buf, format_args!("{ip}"))?),
        (Sample::Int(n), SampleType::Bin) => Sample::Bin(write_text(buf, format_args!("{n}"))?),
        // Addresses as binary are their network-order octets (`src,hex`).
        (Sample::Ip(IpAddr::V4(a)), SampleType::Bin) => {
            buf[..4].copy_from_slice(&a.octets());
            Sample::Bin(&buf[..4])
        }
        (Sample::Ip(IpAddr::V6(a)), SampleType::Bin) => {
            buf[..16].copy_from_slice(&a.octets());
            Sample::Bin(&buf[..16])
        }
        (Sample::Ip(IpAddr::V4(a)), SampleType::Int) => Sample::Int(i64::from(u32::from(a))),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(parse_int(b"123"), Some(123));
        assert_eq!(parse_int(b"-5x"), Some(-5));
        assert_eq!(parse_int(b"+7"), Some(7));
        assert_eq!(parse_int(b""), None);
        assert_eq!(parse_int(b"x1"), None);
        assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int(b"9223372036854775808"), None);
    }

    #[test]
    fn casts() {
        let mut b = [0u8; 48];
        assert_eq!(
            cast(Sample::Int(-42), SampleType::Str, &mut b),
            Some(Sample::Str(b"-42"))
        );
        let mut b = [0u8; 48];
        let v6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap();
        assert_eq!(
            cast(Sample::Ip(v6), SampleType::Str, &mut b),
            Some(Sample::Str(b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
        );
        let mut b = [0u8; 48];
        assert_eq!(
            cast(Sample::Str(b"10.0.0.1"), SampleType::Ip, &mut b),
            Some(Sample::Ip("10.0.0.1".parse().unwrap()))
        );
        let mut b = [0u8; 48];
        assert_eq!(cast(Sample::Str(b"nope"), SampleType::Ip, &mut b), None);
        let mut b = [0u8; 48];
        assert_eq!(
            cast(Sample::Bool(true), SampleType::Int, &mut b),
            Some(Sample::Int(1))
        );
        let mut b = [0u8; 48];
        assert_eq!(
            cast(
                Sample::Ip("192.0.2.1".parse().unwrap()),
                SampleType::Bin,
                &mut b
            ),
            Some(Sample::Bin(&[192, 0, 2, 1]))
        );
        assert!(!can_cast(SampleType::Ip, SampleType::Bool));
        assert!(!can_cast(SampleType::Bin, SampleType::Ip));
    }
}
