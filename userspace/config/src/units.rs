//! Numbers with units, per HAProxy's configuration manual sections "Time
//! format" (`us`, `ms`, `s`, `m`, `h`, `d`; milliseconds when no unit is
//! given) and "Size format" (`k`, `m`, `g`, powers of 1024; bytes by default).

use std::time::Duration;

/// HAProxy stores timers as signed 32-bit milliseconds: larger values are
/// rejected ("timer overflow"), as HAProxy does.
pub const MAX_TIMER_MS: u64 = i32::MAX as u64;

/// Parses a time such as `5s`, `100ms`, `1m`, `30` (a bare number is in
/// milliseconds, the default unit of every time keyword weir supports).
pub fn parse_time(s: &str) -> Result<Duration, String> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("invalid time value '{s}': expected a number with an optional unit (us, ms, s, m, h, d)"));
    }
    let n: u64 = s[..digits]
        .parse()
        .map_err(|_| format!("time value '{s}' is too large"))?;
    let us_per_unit: u64 = match &s[digits..] {
        "" | "ms" => 1_000,
        "us" => 1,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        other => {
            // Point at the first character that cannot be part of a unit.
            let skip = ["ms", "us", "s", "m", "h", "d"]
                .iter()
                .find(|u| other.starts_with(*u))
                .map_or(0, |u| u.len());
            return Err(format!(
                "unexpected character '{}' in time value '{s}' (units are us, ms, s, m, h, d)",
                other[skip..].chars().next().unwrap_or(' ')
            ));
        }
    };
    let us = n
        .checked_mul(us_per_unit)
        .ok_or_else(|| format!("time value '{s}' is too large"))?;
    if us / 1000 > MAX_TIMER_MS {
        return Err(format!(
            "timer overflow in '{s}': the maximum is 2147483647 ms (about 24.8 days)"
        ));
    }
    Ok(Duration::from_micros(us))
}

/// Parses a size such as `16384`, `16k`, `1m`, `2g` (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!(
            "invalid size '{s}': expected a number with an optional unit (k, m, g)"
        ));
    }
    let n: u64 = s[..digits]
        .parse()
        .map_err(|_| format!("size '{s}' is too large"))?;
    let mult: u64 = match &s[digits..] {
        "" => 1,
        "k" | "K" => 1 << 10,
        "m" | "M" => 1 << 20,
        "g" | "G" => 1 << 30,
        other => {
            return Err(format!(
                "unexpected character '{}' in size '{s}' (units are k, m, g)",
                other.chars().next().unwrap_or(' ')
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size '{s}' is too large"))
}

/// Parses a plain unsigned integer of type `T` (no sign, no unit).
pub fn parse_uint<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("'{what}' expects an unsigned integer, got '{s}'"));
    }
    s.parse::<T>()
        .map_err(|_| format!("'{what}' value '{s}' is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_time("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_time("100"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_time("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_time("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_time("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_time("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_time("0"), Ok(Duration::ZERO));
        assert!(parse_time("").is_err());
        assert!(parse_time("s").is_err());
        assert!(parse_time("5 s").is_err());
        assert!(parse_time("5x")
            .unwrap_err()
            .contains("unexpected character 'x'"));
        assert!(parse_time("-5s").is_err());
        assert!(parse_time("25d").unwrap_err().contains("overflow"));
        assert!(parse_time("24d").is_ok());
        assert!(parse_time("99999999999999999999999").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16384"), Ok(16384));
        assert_eq!(parse_size("10k"), Ok(10240));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("1t").is_err());
        assert!(parse_size("k").is_err());
    }

    #[test]
    fn uints() {
        assert_eq!(parse_uint::<u32>("42", "x"), Ok(42));
        assert!(parse_uint::<u32>("-1", "x").is_err());
        assert!(parse_uint::<u32>("+1", "x").is_err());
        assert!(parse_uint::<u8>("256", "x")
            .unwrap_err()
            .contains("out of range"));
    }
}
