//! Splits one configuration line into words, following HAProxy's
//! configuration manual, section 2.2 "Quoting and escaping" and section 2.3
//! "Environment variables":
//!
//! - words are separated by spaces and tabs; `#` outside quotes starts a comment;
//! - a backslash escapes the next character: `\ `, `\#`, `\\`, `\'`, `\"`,
//!   `\$` give that character; `\r`, `\n`, `\t` give CR, LF, TAB; `\xHH` a
//!   byte; any other backslash is kept as is (so that regexes like `\d`
//!   survive);
//! - `'…'` (strong quotes): nothing is interpreted inside, not even backslashes;
//! - `"…"` (weak quotes): spaces, `#` and `'` lose their meaning, while
//!   backslash escapes and `$` variables are still interpreted;
//! - environment variables are expanded only within double quotes:
//!   `"$NAME"` and `"${NAME}"` give the value (empty when unset),
//!   `"${NAME-default}"` gives `default` when NAME is unset (not when it is
//!   empty), `"${NAME[*]}"` splits the value at spaces into several words.
//!   Outside quotes the text stays literal (a [`Word`] records it, for a
//!   hint in error messages) — except that addresses (`bind`, `server`,
//!   `log`, `stats socket`) expand `$NAME` and `${NAME}` themselves when they
//!   are parsed, as HAProxy's address parser does: see [`expand_address`].
//!   All of this was checked against `haproxy -c` 2.6.12;
//! - quoted pieces glue to their neighbours: `"a b"'c'd` is one word `a bcd`.
//!
//! HAProxy has no line continuation: a backslash at the end of a line is a
//! literal backslash and the next line is a new statement. We do the same.

/// A word of a line, after unquoting and expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The text.
    pub text: String,
    /// True when any part of the word was quoted or escaped (so that `"if"` is
    /// not taken as the `if` keyword by callers that care).
    pub quoted: bool,
    /// True when the word contains unquoted variable syntax (`$NAME`,
    /// `${NAME}`…), which the lexer leaves literal.
    pub unexpanded_var: bool,
}

/// Why a line could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexError {
    /// A quote was opened and never closed.
    UnmatchedQuote(char),
    /// `${NAME` without its closing `}` (or with garbage before it).
    UnterminatedVariable,
    /// `$` inside double quotes not followed by a variable name.
    BadVariableName,
    /// `\x` not followed by two hex digits.
    BadHexEscape,
    /// A NUL byte in the line.
    NulByte,
    /// The bytes given by `\xHH` escapes are not valid UTF-8.
    InvalidUtf8,
}

impl std::fmt::Display for LexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LexError::UnmatchedQuote(q) => write!(f, "unmatched quote ({q}) on this line"),
            LexError::UnterminatedVariable => {
                write!(f, "unmatched brace in environment variable name (missing '}}')")
            }
            LexError::BadVariableName => write!(
                f,
                "forbidden first char in environment variable name ('$' inside double quotes must start a variable; write '\\$' for a literal dollar)"
            ),
            LexError::BadHexEscape => write!(f, "'\\x' must be followed by two hexadecimal digits"),
            LexError::NulByte => write!(f, "NUL character in line"),
            LexError::InvalidUtf8 => write!(f, "escaped bytes do not form valid UTF-8"),
        }
    }
}

/// Splits `line` (without its end-of-line) into words. `env` looks up an
/// environment variable. Returns no words for blank and comment-only lines.
pub fn split_line(line: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Word>, LexError> {
    if line.contains('\0') {
        return Err(LexError::NulByte);
    }
    let b = line.as_bytes();
    let mut words: Vec<Word> = Vec::new();
    // The word being built, as bytes (\xHH may build multi-byte characters).
    let mut cur: Vec<u8> = Vec::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut unexpanded = false;
    let mut i = 0;
    #[derive(PartialEq, Clone, Copy)]
    enum Q {
        None,
        Single,
        Double,
    }
    let mut q = Q::None;

    fn flush(
        words: &mut Vec<Word>,
        cur: &mut Vec<u8>,
        in_word: &mut bool,
        quoted: &mut bool,
        unexpanded: &mut bool,
    ) -> Result<(), LexError> {
        if *in_word {
            let text = String::from_utf8(std::mem::take(cur)).map_err(|_| LexError::InvalidUtf8)?;
            words.push(Word {
                text,
                quoted: *quoted,
                unexpanded_var: *unexpanded,
            });
        }
        *in_word = false;
        *quoted = false;
        *unexpanded = false;
        Ok(())
    }

    while i < b.len() {
        let c = b[i];
        match q {
            Q::Single => {
                if c == b'\'' {
                    q = Q::None;
                } else {
                    cur.push(c);
                }
                i += 1;
                continue;
            }
            Q::None if c == b' ' || c == b'\t' || c == b'\r' => {
                flush(
                    &mut words,
                    &mut cur,
                    &mut in_word,
                    &mut quoted,
                    &mut unexpanded,
                )?;
                i += 1;
                continue;
            }
            Q::None if c == b'#' => break,
            Q::None if c == b'\'' => {
                q = Q::Single;
                in_word = true;
                quoted = true;
                i += 1;
                continue;
            }
            Q::None | Q::Double if c == b'"' => {
                q = if q == Q::Double { Q::None } else { Q::Double };
                in_word = true;
                quoted = true;
                i += 1;
                continue;
            }
            _ => {}
        }
        // Unquoted or double-quoted: escapes and variables.
        if c == b'\\' {
            in_word = true;
            let Some(&n) = b.get(i + 1) else {
                // Trailing backslash: literal (no line continuation in HAProxy).
                cur.push(b'\\');
                i += 1;
                continue;
            };
            match n {
                // `\$` is an escape only where `$` means something: inside
                // double quotes (HAProxy keeps the backslash outside).
                b' ' | b'\\' | b'#' | b'\'' | b'"' => {
                    cur.push(n);
                    quoted = true;
                    i += 2;
                }
                b'$' if q == Q::Double => {
                    cur.push(n);
                    quoted = true;
                    i += 2;
                }
                b'r' => {
                    cur.push(b'\r');
                    i += 2;
                }
                b'n' => {
                    cur.push(b'\n');
                    i += 2;
                }
                b't' => {
                    cur.push(b'\t');
                    i += 2;
                }
                b'x' => {
                    let hex = b.get(i + 2..i + 4).ok_or(LexError::BadHexEscape)?;
                    let s = std::str::from_utf8(hex).map_err(|_| LexError::BadHexEscape)?;
                    let v = u8::from_str_radix(s, 16).map_err(|_| LexError::BadHexEscape)?;
                    cur.push(v);
                    i += 4;
                }
                _ => {
                    cur.push(b'\\');
                    i += 1;
                }
            }
            continue;
        }
        if c == b'$' && q == Q::None {
            // Not expanded outside double quotes (HAProxy 2.6); noted for a
            // hint. Addresses expand it later, see [`expand_address`].
            if matches!(parse_var(&b[i + 1..]), Ok(Some(_))) {
                unexpanded = true;
            }
        }
        if c == b'$' && q == Q::Double {
            // Inside double quotes `$` must start a variable (HAProxy: "forbidden
            // first char in environment variable name").
            let (name, default, star, used) =
                parse_var(&b[i + 1..])?.ok_or(LexError::BadVariableName)?;
            let value = env(name)
                .or_else(|| default.map(str::to_owned))
                .unwrap_or_default();
            if star {
                // `"${NAME[*]}"`: each space-separated part is a word of
                // its own; the first glues to what precedes, the last to
                // what follows.
                let mut parts = value
                    .split([' ', '\t'])
                    .filter(|p| !p.is_empty())
                    .peekable();
                let mut first = true;
                while let Some(p) = parts.next() {
                    if !first {
                        flush(
                            &mut words,
                            &mut cur,
                            &mut in_word,
                            &mut quoted,
                            &mut unexpanded,
                        )?;
                        in_word = true;
                        quoted = true;
                    }
                    first = false;
                    cur.extend_from_slice(p.as_bytes());
                    if parts.peek().is_none() {
                        break;
                    }
                }
            } else {
                cur.extend_from_slice(value.as_bytes());
            }
            i += 1 + used;
            continue;
        }
        cur.push(c);
        in_word = true;
        i += 1;
    }
    match q {
        Q::None => {}
        Q::Single => return Err(LexError::UnmatchedQuote('\'')),
        Q::Double => return Err(LexError::UnmatchedQuote('"')),
    }
    flush(
        &mut words,
        &mut cur,
        &mut in_word,
        &mut quoted,
        &mut unexpanded,
    )?;
    Ok(words)
}

/// Parses a variable reference after `$`: `NAME` or `{NAME[-default][[*]]}`.
/// Returns (name, default, star, bytes used), or `None` when `$` is not
/// followed by a variable name (then `$` is literal, as in `$1`… regex refs).
type VarRef<'a> = Option<(&'a str, Option<&'a str>, bool, usize)>;

fn parse_var(rest: &[u8]) -> Result<VarRef<'_>, LexError> {
    let is_start = |c: u8| c.is_ascii_alphabetic() || c == b'_';
    let is_cont = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    // The input is a &str, and every index below is at an ASCII boundary.
    let s = std::str::from_utf8(rest).map_err(|_| LexError::InvalidUtf8)?;
    if rest.first() == Some(&b'{') {
        if !rest.get(1).is_some_and(|&c| is_start(c)) {
            return Err(LexError::BadVariableName);
        }
        let close = rest
            .iter()
            .position(|&c| c == b'}')
            .ok_or(LexError::UnterminatedVariable)?;
        let inner = &s[1..close];
        if !inner.bytes().next().is_some_and(is_start) {
            return Err(LexError::BadVariableName);
        }
        let name_len = inner.bytes().take_while(|&c| is_cont(c)).count();
        let name = &inner[..name_len];
        let mut tail = &inner[name_len..];
        let mut star = false;
        if let Some(t) = tail.strip_suffix("[*]") {
            star = true;
            tail = t;
        }
        let default = if tail.is_empty() {
            None
        } else if let Some(d) = tail.strip_prefix('-') {
            Some(d)
        } else {
            return Err(LexError::UnterminatedVariable);
        };
        return Ok(Some((name, default, star, close + 1)));
    }
    if rest.first().is_some_and(|&c| is_start(c)) {
        let n = rest.iter().take_while(|&&c| is_cont(c)).count();
        return Ok(Some((&s[..n], None, false, n)));
    }
    Ok(None)
}

/// Expands `$NAME` and `${NAME}` in an address, as HAProxy's address parser
/// does for `bind`, `server`, `log` and `stats socket` addresses even outside
/// quotes: a name is made of letters, digits and `_`; an unset variable
/// expands to nothing; a `}` right after a braced name is consumed.
pub fn expand_address(s: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (braced, body) = match after.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, after),
        };
        let n = body
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
            .count();
        if n == 0 {
            // Not a variable: keep the `$` (and the brace) as written.
            out.push('$');
            rest = after;
            continue;
        }
        out.push_str(&env(&body[..n]).unwrap_or_default());
        rest = &body[n..];
        if braced {
            rest = rest.strip_prefix('}').unwrap_or(rest);
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PORT" => Some("8080".into()),
            "LIST" => Some("a b  c".into()),
            "EMPTY" => Some(String::new()),
            "SP" => Some("x y".into()),
            _ => None,
        }
    }

    fn words(line: &str) -> Vec<String> {
        split_line(line, &env)
            .unwrap()
            .into_iter()
            .map(|w| w.text)
            .collect()
    }

    #[test]
    fn plain_words_and_comments() {
        assert_eq!(
            words("  bind  :80\tname x # comment"),
            ["bind", ":80", "name", "x"]
        );
        assert!(words("# only a comment").is_empty());
        assert!(words("   ").is_empty());
        assert_eq!(words("a#b"), ["a"]);
    }

    #[test]
    fn escapes() {
        assert_eq!(words(r"a\ b c"), ["a b", "c"]);
        assert_eq!(words(r"a\#b"), ["a#b"]);
        assert_eq!(words(r"a\\b"), [r"a\b"]);
        assert_eq!(words(r#"\'\""#), [r#"'""#]);
        assert_eq!(words(r"x\ty\r\n"), ["x\ty\r\n"]);
        assert_eq!(words(r"\x41\x42"), ["AB"]);
        assert_eq!(words(r"\xc3\xa9"), ["é"]);
        // Unknown escapes keep the backslash (regexes).
        assert_eq!(words(r"^\d+\.x"), [r"^\d+\.x"]);
        // No line continuation: trailing backslash is literal.
        assert_eq!(words(r"a \"), ["a", "\\"]);
        assert_eq!(split_line(r"\x4", &env), Err(LexError::BadHexEscape));
        assert_eq!(split_line(r"\xZZ", &env), Err(LexError::BadHexEscape));
    }

    #[test]
    fn quotes() {
        assert_eq!(words(r#""a b" c"#), ["a b", "c"]);
        assert_eq!(words(r#"'a "b" $PORT \x41'"#), [r#"a "b" $PORT \x41"#]);
        assert_eq!(words(r#""a # b""#), ["a # b"]);
        assert_eq!(words(r#""it's""#), ["it's"]);
        assert_eq!(words(r#""a\"b""#), [r#"a"b"#]);
        assert_eq!(words(r#""%{+Q}o %t"' %s'\ %r"#), ["%{+Q}o %t %s %r"]);
        assert_eq!(words(r#""" x"#), ["", "x"]);
        assert!(split_line(r#"a "b"#, &env).unwrap_err() == LexError::UnmatchedQuote('"'));
        assert!(split_line("a 'b", &env).unwrap_err() == LexError::UnmatchedQuote('\''));
        let w = split_line(r#""if" if"#, &env).unwrap();
        assert!(w[0].quoted && !w[1].quoted);
    }

    #[test]
    fn address_expansion() {
        assert_eq!(expand_address(":${PORT}", &env), ":8080");
        assert_eq!(expand_address(":$PORT", &env), ":8080");
        assert_eq!(expand_address(":${PORT}x", &env), ":8080x");
        // `$PORTx` names the variable PORTx.
        assert_eq!(expand_address(":$PORTx", &env), ":");
        assert_eq!(expand_address("${NOPE}:80", &env), ":80");
        assert_eq!(expand_address(":${PORT", &env), ":8080");
        assert_eq!(expand_address("a$", &env), "a$");
        assert_eq!(expand_address("${}x", &env), "${}x");
        assert_eq!(expand_address("é$PORT", &env), "é8080");
    }

    #[test]
    fn env_expansion() {
        assert_eq!(words(r#"bind ":$PORT""#), ["bind", ":8080"]);
        assert_eq!(words(r#"bind ":${PORT}""#), ["bind", ":8080"]);
        assert_eq!(words(r#"x"${PORT}"y"#), ["x8080y"]);
        assert_eq!(words(r#"'${PORT}'"#), ["${PORT}"]);
        assert_eq!(words(r#""\$PORT""#), ["$PORT"]);
        // Unquoted: literal, flagged; `\$` keeps its backslash there.
        let w = split_line("k ${PORT} x$PORT ${LIST[*]} $1 \\$PORT", &env).unwrap();
        let t: Vec<&str> = w.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(t, ["k", "${PORT}", "x$PORT", "${LIST[*]}", "$1", "\\$PORT"]);
        assert!(w[1].unexpanded_var && w[2].unexpanded_var && w[3].unexpanded_var);
        assert!(!w[0].unexpanded_var && !w[4].unexpanded_var);
        // Unset or empty: an empty word inside quotes.
        assert_eq!(words(r#"a "$NOPE" b"#), ["a", "", "b"]);
        assert_eq!(words(r#"a "$EMPTY""#), ["a", ""]);
        // Defaults apply to unset variables only.
        assert_eq!(words(r#""${NOPE-127.0.0.1}:514""#), ["127.0.0.1:514"]);
        assert_eq!(words(r#""x${EMPTY-dflt}x""#), ["xx"]);
        // A value with spaces stays one word unless [*] is used.
        assert_eq!(words(r#""$SP""#), ["x y"]);
        assert_eq!(words(r#"k "${LIST[*]}" z"#), ["k", "a", "b", "c", "z"]);
        assert_eq!(words(r#"k "<${LIST[*]}>""#), ["k", "<a", "b", "c>"]);
        let w = split_line(r#""${LIST[*]}""#, &env).unwrap();
        assert!(w.iter().all(|w| w.quoted));
        // `$` not followed by a name is literal.
        // Inside double quotes `$` must start a variable, as in HAProxy.
        for bad in [r#""\1$1""#, r#""a$""#, r#""${%x}""#, r#""${}""#] {
            assert_eq!(
                split_line(bad, &env),
                Err(LexError::BadVariableName),
                "{bad}"
            );
        }
        for bad in [r#""${NOPE""#, r#""${A[*]x}""#] {
            assert_eq!(
                split_line(bad, &env),
                Err(LexError::UnterminatedVariable),
                "{bad}"
            );
        }
        // Outside quotes it is plain text.
        assert_eq!(words(r"\1$1 $"), [r"\1$1", "$"]);
        assert_eq!(
            split_line(r#""${PORT""#, &env),
            Err(LexError::UnterminatedVariable)
        );
    }
}
