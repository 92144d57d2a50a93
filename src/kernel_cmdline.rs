//! The syntax of a kernel command line, as the kernel reads it
//! (`next_arg()`, `parameq()` in kernel/params.c): pure functions, no I/O.

fn is_space(b: u8) -> bool {
    // The kernel's isspace() on the ASCII range: space, \t \n \v \f \r.
    b == b' ' || (b'\t'..=b'\r').contains(&b)
}

/// Splits a kernel command line into options as the kernel's `next_arg()`
/// does: whitespace separates options except inside double quotes, and a
/// quote may open anywhere (`foo="a b"` and `"foo=a b"` are one option each;
/// an unterminated quote runs to the end). Options are returned verbatim,
/// quotes included.
pub fn tokenize(line: &str) -> Vec<&str> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut start = None;
    let mut in_quote = false;
    for (i, &b) in bytes.iter().enumerate() {
        if is_space(b) && !in_quote {
            if let Some(s) = start.take() {
                out.push(&line[s..i]);
            }
            continue;
        }
        if start.is_none() {
            start = Some(i);
        }
        if b == b'"' {
            in_quote = !in_quote;
        }
    }
    if let Some(s) = start {
        out.push(&line[s..]);
    }
    out
}

/// The name of an option: the part before the first `=`, without the
/// quote that may open the option (`"foo=a b"` is named `foo`).
pub fn option_name(option: &str) -> &str {
    let o = option.strip_prefix('"').unwrap_or(option);
    match o.find('=') {
        Some(i) => &o[..i],
        None => o.strip_suffix('"').unwrap_or(o),
    }
}

/// The value of an option after `=`, without surrounding quotes.
pub fn option_value(option: &str) -> Option<&str> {
    let o = option.strip_prefix('"').unwrap_or(option);
    let v = &o[o.find('=')? + 1..];
    let v = v.strip_prefix('"').unwrap_or(v);
    Some(v.strip_suffix('"').unwrap_or(v))
}

/// Compares option names as the kernel does: `-` equals `_`.
pub fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y || matches!((x, y), (b'-', b'_') | (b'_', b'-')))
}

/// Whether `name` begins with the option name `prefix`, compared as
/// [`same_name`] does.
pub fn starts_with_name(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len() && name.is_char_boundary(prefix.len()) && same_name(&name[..prefix.len()], prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenize_respects_quotes() {
        assert_eq!(tokenize(""), Vec::<&str>::new());
        assert_eq!(tokenize("  \t\n"), Vec::<&str>::new());
        assert_eq!(tokenize("a b\tc\n"), ["a", "b", "c"]);
        assert_eq!(tokenize(r#"foo="a b" bar"#), [r#"foo="a b""#, "bar"]);
        assert_eq!(tokenize(r#""foo=a b" bar"#), [r#""foo=a b""#, "bar"]);
        assert_eq!(tokenize(r#"x="a  b"c d"#), [r#"x="a  b"c"#, "d"]);
        // An unterminated quote runs to the end of the line.
        assert_eq!(tokenize(r#"a "b c d"#), ["a", r#""b c d"#]);
        assert_eq!(tokenize(r#"""#), [r#"""#]);
        assert_eq!(tokenize("é=ü  ß"), ["é=ü", "ß"]);
    }

    #[test]
    fn option_names() {
        assert_eq!(option_name("root=/dev/sda1"), "root");
        assert_eq!(option_name("quiet"), "quiet");
        assert_eq!(option_name(r#""foo=a b""#), "foo");
        assert_eq!(option_name(r#""quiet""#), "quiet");
        assert_eq!(option_name("a=b=c"), "a");
        assert_eq!(option_name("=x"), "");
        assert_eq!(option_name(r#"""#), "");
        assert_eq!(option_value(r#"module_blacklist="a,b""#), Some("a,b"));
        assert_eq!(option_value("quiet"), None);
    }
}
