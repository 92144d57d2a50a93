//! VMCOREINFO: the `KEY=VALUE` text the kernel leaves in a note so that
//! tools can read its memory without debug info. Values are parsed on demand
//! by typed getters; a missing or malformed key is an error naming the key.
//!
//! Formats (kernel/crash_core.c): SYMBOL and KERNELOFFSET are hex without
//! `0x`; SIZE, OFFSET, LENGTH, PAGESIZE and CRASHTIME are decimal; NUMBER is
//! signed decimal.

use crate::error::{Error, Result};
use crate::page::PAGE_SIZE;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
pub struct VmcoreInfo {
    entries: BTreeMap<String, String>,
}

impl VmcoreInfo {
    /// Lenient line parser: lines without `=` are ignored, the first
    /// occurrence of a key wins, trailing NULs and spaces are trimmed.
    pub fn parse(bytes: &[u8]) -> VmcoreInfo {
        let text = String::from_utf8_lossy(bytes);
        let mut entries = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim_end_matches(['\0', ' ', '\r']);
            if let Some((k, v)) = line.split_once('=') {
                entries.entry(k.to_owned()).or_insert_with(|| v.to_owned());
            }
        }
        VmcoreInfo { entries }
    }

    /// Add `key=value` unless the note has the key (facts a dump format
    /// carries outside VMCOREINFO, such as the kdump sub-header's phys_base).
    pub fn set_if_absent(&mut self, key: &str, value: String) {
        self.entries.entry(key.to_owned()).or_insert(value);
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every key, sorted (for rules that look for key families).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    fn parsed<T>(&self, key: String, parse: impl Fn(&str) -> Option<T>, kind: &str) -> Result<Option<T>> {
        match self.entries.get(&key) {
            None => Ok(None),
            Some(v) => match parse(v.trim()) {
                Some(x) => Ok(Some(x)),
                None => Err(Error::BadValue { key, value: v.clone(), why: format!("not a {kind}") }),
            },
        }
    }

    fn required<T>(opt: Result<Option<T>>, key: impl FnOnce() -> String) -> Result<T> {
        opt?.ok_or_else(|| Error::MissingKey(key()))
    }

    pub fn opt_symbol(&self, name: &str) -> Result<Option<u64>> {
        self.parsed(format!("SYMBOL({name})"), parse_hex, "hex address")
    }
    pub fn symbol(&self, name: &str) -> Result<u64> {
        Self::required(self.opt_symbol(name), || format!("SYMBOL({name})"))
    }
    pub fn opt_number(&self, name: &str) -> Result<Option<i64>> {
        self.parsed(format!("NUMBER({name})"), |s| s.parse().ok(), "signed decimal number")
    }
    pub fn number(&self, name: &str) -> Result<i64> {
        Self::required(self.opt_number(name), || format!("NUMBER({name})"))
    }
    pub fn opt_size(&self, name: &str) -> Result<Option<u64>> {
        self.parsed(format!("SIZE({name})"), |s| s.parse().ok(), "decimal size")
    }
    pub fn size(&self, name: &str) -> Result<u64> {
        Self::required(self.opt_size(name), || format!("SIZE({name})"))
    }
    pub fn opt_offset(&self, field: &str) -> Result<Option<u64>> {
        self.parsed(format!("OFFSET({field})"), |s| s.parse().ok(), "decimal offset")
    }
    pub fn offset(&self, field: &str) -> Result<u64> {
        Self::required(self.opt_offset(field), || format!("OFFSET({field})"))
    }
    pub fn opt_length(&self, name: &str) -> Result<Option<u64>> {
        self.parsed(format!("LENGTH({name})"), |s| s.parse().ok(), "decimal length")
    }
    pub fn length(&self, name: &str) -> Result<u64> {
        Self::required(self.opt_length(name), || format!("LENGTH({name})"))
    }

    pub fn osrelease(&self) -> Option<&str> {
        self.get("OSRELEASE")
    }

    pub fn page_size(&self) -> Result<u64> {
        let v: u64 =
            Self::required(self.parsed("PAGESIZE".into(), |s| s.parse().ok(), "decimal size"), || "PAGESIZE".into())?;
        if v != PAGE_SIZE {
            return Err(Error::BadValue {
                key: "PAGESIZE".into(),
                value: v.to_string(),
                why: "only 4096-byte pages are supported on x86_64".into(),
            });
        }
        Ok(v)
    }

    pub fn kernel_offset(&self) -> Result<Option<u64>> {
        self.parsed("KERNELOFFSET".into(), parse_hex, "hex offset")
    }

    pub fn crash_time(&self) -> Result<Option<i64>> {
        self.parsed("CRASHTIME".into(), |s| s.parse().ok(), "decimal time")
    }
}

fn parse_hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x").unwrap_or(s), 16).ok()
}

/// `KEY=VALUE` lines, sorted by key: parsing the text gives the same map.
impl std::fmt::Display for VmcoreInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.entries.iter().try_for_each(|(k, v)| writeln!(f, "{k}={v}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_getters_and_named_errors() {
        let vi = VmcoreInfo::parse(
            b"OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(mem_section)=ffff888003c3e000\n\
              NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\nSIZE(page)=64\nOFFSET(page.flags)=0\n\
              LENGTH(mem_section)=2048\nKERNELOFFSET=1a000000\nSIZE(bad)=x1\n\0\0",
        );
        assert_eq!(vi.osrelease(), Some("6.1.0"));
        assert_eq!(vi.symbol("mem_section").unwrap(), 0xffff888003c3e000);
        assert_eq!(vi.number("PAGE_BUDDY_MAPCOUNT_VALUE").unwrap(), -129);
        assert_eq!(vi.size("page").unwrap(), 64);
        assert_eq!(vi.offset("page.flags").unwrap(), 0);
        assert_eq!(vi.length("mem_section").unwrap(), 2048);
        assert_eq!(vi.kernel_offset().unwrap(), Some(0x1a000000));
        assert_eq!(vi.page_size().unwrap(), 4096);
        match vi.symbol("init_top_pgt") {
            Err(Error::MissingKey(k)) => assert_eq!(k, "SYMBOL(init_top_pgt)"),
            other => panic!("{other:?}"),
        }
        match vi.size("bad") {
            Err(Error::BadValue { key, value, .. }) => assert_eq!((key.as_str(), value.as_str()), ("SIZE(bad)", "x1")),
            other => panic!("{other:?}"),
        }
    }
}
