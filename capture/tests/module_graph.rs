//! The engine's top-level modules (`capture/src/X.rs` and `capture/src/X/`)
//! import each other without cycles, and the leaves (`page`, `format`,
//! `dump_level`, `bytes`) import nothing from the crate. A cycle lets any
//! change ripple round it, and hides which module is the lower layer; this
//! test names the cycle and the lines that close it.
//!
//! The graph is read from the source text, not from the compiler: every
//! `crate::X` path outside comments and string literals is an edge from
//! the file's top-level module to `X` (`use crate::{a, b::c}` groups give
//! one edge per branch; `crate::Error` and the other names lib.rs
//! re-exports count as their module). Test modules (`#[cfg(test)]`) count
//! like any other code. `super::` paths are not followed: in this crate
//! they never leave their top-level module (`use super::*` in tests, and
//! siblings in `reader/`, `writer/`, `analysis/`). `src/bin/` is another
//! crate and imports the engine by name, so it is not read.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Modules that must import nothing from the crate, so that everything can
/// import them without joining a cycle.
const LEAVES: [&str; 4] = ["page", "format", "dump_level", "bytes"];

/// Where an edge was seen: the first line that makes it.
#[derive(Clone, Debug)]
struct Site {
    file: String,
    line: usize,
}

/// Top-level module -> modules it imports, each with the first line that does.
type Graph = BTreeMap<String, BTreeMap<String, Site>>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `text` with comments and the contents of string and char literals
/// replaced by spaces (newlines kept, so line numbers still hold).
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, s: &[u8]| {
        out.extend(s.iter().map(|&c| if c == b'\n' { '\n' } else { ' ' }));
    };
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            blank(&mut out, &rest[..end]);
            i += end;
        } else if rest.starts_with(b"/*") {
            // Block comments nest in Rust.
            let (mut depth, mut j) = (0usize, 0usize);
            while j < rest.len() {
                if rest[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if rest[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, &rest[..j]);
            i += j;
        } else if let Some(len) = raw_string_len(rest) {
            blank(&mut out, &rest[..len]);
            i += len;
        } else if rest[0] == b'"' {
            let mut j = 1;
            while j < rest.len() && rest[j] != b'"' {
                j += if rest[j] == b'\\' { 2 } else { 1 };
            }
            let len = (j + 1).min(rest.len());
            blank(&mut out, &rest[..len]);
            i += len;
        } else if rest[0] == b'\'' {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            let len = if rest.get(1) == Some(&b'\\') {
                rest[2..].iter().position(|&c| c == b'\'').map(|p| p + 3)
            } else {
                std::str::from_utf8(&rest[1..])
                    .ok()
                    .and_then(|s| s.chars().next())
                    .map(|c| 1 + c.len_utf8())
                    .filter(|&n| rest.get(n) == Some(&b'\''))
                    .map(|n| n + 1)
            };
            let len = len.unwrap_or(1);
            if len > 1 {
                blank(&mut out, &rest[..len]);
            } else {
                out.push('\'');
            }
            i += len;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The length of the raw string literal (`r"..."`, `r#"..."#`, `br"..."`)
/// that `s` starts with, if it starts with one.
fn raw_string_len(s: &[u8]) -> Option<usize> {
    let start = if s.starts_with(b"br") {
        2
    } else if s.starts_with(b"r") {
        1
    } else {
        return None;
    };
    let hashes = s[start..].iter().take_while(|&&c| c == b'#').count();
    if s.get(start + hashes) != Some(&b'"') {
        return None;
    }
    let mut close = vec![b'"'];
    close.resize(1 + hashes, b'#');
    let body = start + hashes + 1;
    let end = s[body..].windows(close.len()).position(|w| w == close.as_slice())?;
    Some(body + end + close.len())
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The first segment of each path that `crate::` starts in `code` (one per
/// branch of a `crate::{...}` group), with the byte offset of that `crate::`.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = code[from..].find("crate::") {
        let at = from + p;
        from = at + "crate::".len();
        // `$crate::` (macros) and `my_crate::` are other crates' paths.
        if at > 0 && (is_ident_byte(b[at - 1]) || b[at - 1] == b'$') {
            continue;
        }
        let mut j = from;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if b.get(j) == Some(&b'{') {
            for name in group_heads(&code[j..]) {
                out.push((at, name));
            }
        } else {
            let end = (j..b.len()).find(|&k| !is_ident_byte(b[k])).unwrap_or(b.len());
            out.push((at, code[j..end].to_owned()));
        }
    }
    out
}

/// The first identifier of each top-level branch of the use-tree group
/// `group` starts with (`{a, b::c, d::{e, f}}` gives a, b, d).
fn group_heads(group: &str) -> Vec<String> {
    let b = group.as_bytes();
    let (mut heads, mut depth, mut want_head) = (Vec::new(), 0usize, false);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => {
                depth += 1;
                want_head = depth == 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => want_head = true,
            c if want_head && is_ident_byte(c) => {
                let end = (i..b.len()).find(|&k| !is_ident_byte(b[k])).unwrap_or(b.len());
                heads.push(group[i..end].to_owned());
                want_head = false;
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    heads
}

/// The top-level modules lib.rs declares, and the names it re-exports
/// (`pub use error::{Error, Result};`) mapped to their module.
fn crate_root(lib: &str) -> (BTreeSet<String>, BTreeMap<String, String>) {
    let mut modules = BTreeSet::new();
    let mut reexports = BTreeMap::new();
    for line in code_only(lib).lines().map(str::trim) {
        let line = ["pub ", "pub(crate) "].iter().find_map(|p| line.strip_prefix(p)).unwrap_or(line);
        if let Some(name) = line.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')) {
            modules.insert(name.trim().to_owned());
        } else if let Some(path) = line.strip_prefix("use ").and_then(|r| r.strip_suffix(';')) {
            let Some((module, rest)) = path.split_once("::") else { continue };
            let names = rest.trim_start_matches('{').trim_end_matches('}');
            for name in names.split(',').map(|n| n.split(" as ").last().unwrap_or(n).trim()) {
                reexports.insert(name.to_owned(), module.to_owned());
            }
        }
    }
    (modules, reexports)
}

/// The graph of the crate whose sources are under `src`.
fn module_graph(src: &Path) -> Graph {
    let lib = fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let (modules, reexports) = crate_root(&lib);
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: Graph = modules.iter().map(|m| (m.clone(), BTreeMap::new())).collect();
    for path in files {
        let rel = path.strip_prefix(src).unwrap().to_string_lossy().into_owned();
        let top = rel.split('/').next().unwrap().trim_end_matches(".rs").to_owned();
        if !modules.contains(&top) {
            continue; // lib.rs itself, and src/bin/
        }
        let code = code_only(&fs::read_to_string(&path).unwrap());
        for (at, name) in crate_paths(&code) {
            let target = reexports.get(&name).unwrap_or(&name);
            if *target != top && modules.contains(target) {
                let line = code[..at].matches('\n').count() + 1;
                graph.get_mut(&top).unwrap().entry(target.clone()).or_insert(Site { file: rel.clone(), line });
            }
        }
    }
    graph
}

/// One cycle of `graph`, as the modules round it (the first repeated at
/// the end), if there is any.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        OnPath,
        Done,
    }
    fn visit(
        graph: &Graph,
        m: &str,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(m.to_owned(), Mark::OnPath);
        path.push(m.to_owned());
        for next in graph.get(m).into_iter().flat_map(|e| e.keys()) {
            match marks.get(next) {
                Some(Mark::OnPath) => {
                    let from = path.iter().position(|p| p == next).unwrap();
                    let mut cycle = path[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(Mark::Done) => {}
                None => {
                    if let Some(c) = visit(graph, next, marks, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        marks.insert(m.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for m in graph.keys() {
        if !marks.contains_key(m) {
            if let Some(c) = visit(graph, m, &mut marks, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// The cycle as a message: each step with the line that makes it.
fn describe(graph: &Graph, cycle: &[String]) -> String {
    let steps: Vec<String> = cycle
        .windows(2)
        .map(|w| {
            let site = &graph[&w[0]][&w[1]];
            format!("  {} -> {}   (src/{}:{})", w[0], w[1], site.file, site.line)
        })
        .collect();
    format!("import cycle between top-level modules:\n{}", steps.join("\n"))
}

#[test]
fn top_level_modules_import_each_other_without_cycles() {
    let graph = module_graph(&src_dir());
    // The reader is alive: the engine's modules do import each other.
    assert!(graph.values().map(BTreeMap::len).sum::<usize>() > 50, "too few edges found: {graph:#?}");
    assert!(graph["writer"].contains_key("format"), "writer imports format");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("{}", describe(&graph, &cycle));
    }
}

#[test]
fn leaves_import_nothing_from_the_crate() {
    let graph = module_graph(&src_dir());
    for leaf in LEAVES {
        let edges = graph.get(leaf).unwrap_or_else(|| panic!("no top-level module {leaf}"));
        assert!(edges.is_empty(), "{leaf} must import nothing from the crate, but imports {edges:?}");
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle_and_names_its_lines() {
    let site = |line| Site { file: "x.rs".into(), line };
    let mut graph: Graph = BTreeMap::new();
    for (from, to, line) in [("a", "b", 1), ("b", "c", 2), ("c", "a", 3), ("c", "d", 4)] {
        graph.entry(from.into()).or_default().insert(to.into(), site(line));
        graph.entry(to.into()).or_default();
    }
    let cycle = find_cycle(&graph).expect("a -> b -> c -> a");
    assert_eq!(cycle, ["a", "b", "c", "a"]);
    let message = describe(&graph, &cycle);
    assert!(message.contains("c -> a   (src/x.rs:3)"), "{message}");
    graph.get_mut("c").unwrap().remove("a");
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn paths_are_read_from_code_not_from_comments_or_strings() {
    let code = code_only(
        "use crate::{a, b::c, d::{e, f}};\n\
         // crate::commented\n\
         /* crate::blocked /* nested */ crate::still */\n\
         let s = \"crate::quoted\"; let r = r#\"crate::raw\"#; let c = '\"';\n\
         fn f<'a>(x: &'a crate::g::H) { crate::i::j(); $crate::k; my_crate::l; }\n",
    );
    let names: Vec<String> = crate_paths(&code).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["a", "b", "d", "g", "i"]);
    let (modules, reexports) = crate_root("pub mod a;\nmod b;\npub use a::{X, y as Z};\npub use b::W;\n");
    assert_eq!(modules.into_iter().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(reexports["X"], "a");
    assert_eq!(reexports["Z"], "a");
    assert_eq!(reexports["W"], "b");
}
