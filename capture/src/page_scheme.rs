//! How the dumped kernel marks the kinds of page the dump levels care about,
//! decided from VMCOREINFO alone. Kernels changed the encoding several times
//! (release numbers from makedumpfile's history, which follows them):
//!
//! | kernels   | compound order / hugetlb                          | slab, buddy, offline, unaccepted          |
//! |-----------|---------------------------------------------------|-------------------------------------------|
//! | 4.16–6.2  | `page.compound_order` / `compound_dtor` bytes in the first tail, `HUGETLB_PAGE_DTOR` | `PG_slab`; `_mapcount` = `~PG_buddy` (-129), `~PG_offline` (-257) |
//! | 6.3–6.5   | `folio._folio_order` / `_folio_dtor` (folio offsets) | as above                              |
//! | 6.6–6.8   | low byte of the first tail's flags / `PG_hugetlb` there | as above                            |
//! | 6.9       | low byte of the first tail's flags / head's `_mapcount` = `PAGE_HUGETLB_MAPCOUNT_VALUE` | as above |
//! | 6.10–6.11 | as 6.9                                            | `PAGE_SLAB_MAPCOUNT_VALUE` replaces `PG_slab` |
//! | 6.12–     | as 6.9; the types are `PGTY_* << 24` in `page_type` | same keys, new values                   |
//! | 6.16–     |                                                   | `PAGE_UNACCEPTED_MAPCOUNT_VALUE`          |
//! | 7.1–      | `page.compound_head` renamed `page.compound_info` (a tail still has bit 0 set) |              |
//!
//! Nothing here assumes a kernel version: each rule takes the keys it needs,
//! and a rule whose keys are missing is switched off — its pages are kept —
//! with a warning that says what is kept and why ([`PageScheme::limits`]).
//! When the engine cannot decide, it keeps the page.

use crate::dump_level;
use crate::error::{Error, Result};
use crate::vmcoreinfo::VmcoreInfo;

/// The kernels the page rules were checked on against makedumpfile, crash
/// and drgn (docs/kernels.md). A dump of a kernel outside gets a warning.
pub const TESTED_KERNELS: ((u32, u32), (u32, u32)) = ((5, 10), (7, 3));

/// Page-type values VMCOREINFO may export that the rules know. Any other
/// `NUMBER(PAGE_*_MAPCOUNT_VALUE)` is a kind of page kexdump does not know:
/// such pages are kept, and the operator is told.
const KNOWN_PAGE_TYPES: [&str; 5] = [
    "PAGE_BUDDY_MAPCOUNT_VALUE",
    "PAGE_OFFLINE_MAPCOUNT_VALUE",
    "PAGE_SLAB_MAPCOUNT_VALUE",
    "PAGE_HUGETLB_MAPCOUNT_VALUE",
    "PAGE_UNACCEPTED_MAPCOUNT_VALUE",
];

/// Where a compound page's order is (read when the page has `PG_head`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderSource {
    /// The low byte of the first tail page's `flags` (folio `_flags_1`, 6.6+).
    TailFlagsLowByte,
    /// A byte at this offset in the first tail's struct page
    /// (`page.compound_order`, or `folio._folio_order - SIZE(page)`).
    TailByte(u64),
    /// Not exported: compound heads count as single pages and their tails
    /// are kept (a tail is never judged on its own).
    Unknown,
}

/// How a hugetlbfs page is recognised (on its head page).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HugetlbMark {
    /// The head's `_mapcount`/`page_type` equals this value (6.9+).
    HeadPageType(i32),
    /// This flag bit in the first tail page's flags (6.6–6.8).
    TailFlag(u32),
    /// The destructor byte at `offset` in the first tail equals `value`.
    Dtor { offset: u64, value: u8 },
    /// Not exported: hugetlb pages are kept.
    Unknown,
}

/// Where the fields and marks of `struct page` are, from VMCOREINFO.
#[derive(Clone, Debug)]
pub struct PageScheme {
    pub size: u64,
    pub flags: u64,
    pub mapping: u64,
    /// `page._mapcount`, which shares its storage with `page_type`.
    pub mapcount: Option<u64>,
    pub private: Option<u64>,
    /// `page.compound_head` (7.1+: `page.compound_info`): bit 0 marks a tail.
    pub compound_head: u64,
    pub order: OrderSource,
    pub hugetlb: HugetlbMark,
    pub head_mask: u64,
    pub pg_lru: u32,
    pub pg_private: u32,
    pub pg_swapcache: u32,
    pub pg_swapbacked: Option<u32>,
    pub pg_hwpoison: Option<u32>,
    /// `PG_slab` (up to 6.9).
    pub slab_flag: Option<u32>,
    /// `PAGE_SLAB_MAPCOUNT_VALUE` (6.10+).
    pub slab_type: Option<i32>,
    pub buddy_type: Option<i32>,
    pub offline_type: Option<i32>,
    pub unaccepted_type: Option<i32>,
    /// `LENGTH(zone.free_area)` = MAX_ORDER + 1 (older: MAX_ORDER): buddy
    /// orders at or above are invalid; unaccepted blocks have the largest.
    pub free_area_len: Option<u64>,
    /// `NUMBER(PAGE_*_MAPCOUNT_VALUE)` keys no rule knows.
    pub unknown_types: Vec<String>,
}

fn bit(vi: &VmcoreInfo, name: &str) -> Result<Option<u32>> {
    match vi.opt_number(name)? {
        None => Ok(None),
        Some(v) if (0..64).contains(&v) => Ok(Some(v as u32)),
        Some(v) => Err(Error::BadValue {
            key: format!("NUMBER({name})"),
            value: v.to_string(),
            why: "not a bit number".into(),
        }),
    }
}

fn required_bit(vi: &VmcoreInfo, name: &str) -> Result<u32> {
    bit(vi, name)?.ok_or_else(|| Error::MissingKey(format!("NUMBER({name})")))
}

/// A 32-bit `_mapcount`/`page_type` value. Kernels print it signed
/// (`~PG_buddy` = -129, `PGTY_slab << 24` = -184549376), but a value
/// written unsigned (4110417920) means the same 32 bits.
fn page_type(vi: &VmcoreInfo, name: &str) -> Result<Option<i32>> {
    match vi.opt_number(name)? {
        None => Ok(None),
        Some(v) if (i64::from(i32::MIN)..=i64::from(u32::MAX)).contains(&v) => Ok(Some(v as u32 as i32)),
        Some(v) => Err(Error::BadValue {
            key: format!("NUMBER({name})"),
            value: v.to_string(),
            why: "not a 32-bit page type".into(),
        }),
    }
}

/// The warning for a kernel outside [`TESTED_KERNELS`], if it is.
pub fn release_warning(release: &str) -> Option<String> {
    let ((lo_maj, lo_min), (hi_maj, hi_min)) = TESTED_KERNELS;
    let v = release_version(release)?;
    (v > (hi_maj, hi_min) || v < (lo_maj, lo_min)).then(|| {
        format!(
            "kernel {release} is outside the range kexdump's page rules were tested on \
             ({lo_maj}.{lo_min} to {hi_maj}.{hi_min}); they follow its VMCOREINFO, but check the dump \
             with a crash release that supports this kernel"
        )
    })
}

/// `major.minor` of a release string such as `6.12.57+deb13-amd64`.
pub fn release_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

impl PageScheme {
    pub fn from_vmcoreinfo(vi: &VmcoreInfo) -> Result<PageScheme> {
        let size = vi.size("page")?;
        if !(16..=1024).contains(&size) {
            return Err(Error::BadValue {
                key: "SIZE(page)".into(),
                value: size.to_string(),
                why: "implausible".into(),
            });
        }
        // A field read as 8 bytes must lie inside the struct page.
        let field = |name: &str| -> Result<Option<u64>> {
            match vi.opt_offset(name)? {
                Some(o) if o.checked_add(8).is_none_or(|end| end > size) => Err(Error::BadValue {
                    key: format!("OFFSET({name})"),
                    value: o.to_string(),
                    why: format!("outside SIZE(page)={size}"),
                }),
                o => Ok(o),
            }
        };
        let req = |name: &str| field(name)?.ok_or_else(|| Error::MissingKey(format!("OFFSET({name})")));
        // Without a way to tell tails, a tail's words would be judged as a
        // page of their own (a tail's fields are the head's metadata): no
        // rule is safe then, so this is an error and the caller falls back.
        let compound_head = match (field("page.compound_head")?, field("page.compound_info")?) {
            (Some(o), _) | (None, Some(o)) => o,
            (None, None) => {
                return Err(Error::MissingKey("OFFSET(page.compound_head) (7.1+: OFFSET(page.compound_info))".into()))
            }
        };
        let hugetlb_type = page_type(vi, "PAGE_HUGETLB_MAPCOUNT_VALUE")?;
        let pg_hugetlb = bit(vi, "PG_hugetlb")?;
        // A tail byte offset: inside the first tail's struct page. An offset
        // of 0 means "not exported" (makedumpfile reads it so too).
        let tail_byte = |name: &str, folio: bool| -> Result<Option<u64>> {
            let Some(o) = vi.opt_offset(name)? else { return Ok(None) };
            let o = if folio { o.checked_sub(size) } else { Some(o) };
            match o {
                Some(0) => Ok(None),
                Some(o) if o < size => Ok(Some(o)),
                _ => Err(Error::BadValue {
                    key: format!("OFFSET({name})"),
                    value: vi.opt_offset(name)?.unwrap_or(0).to_string(),
                    why: format!("not in the first tail page (SIZE(page)={size})"),
                }),
            }
        };
        let order_byte = match tail_byte("folio._folio_order", true)? {
            Some(o) => Some(o),
            None => tail_byte("page.compound_order", false)?,
        };
        let dtor_byte = match tail_byte("folio._folio_dtor", true)? {
            Some(o) => Some(o),
            None => tail_byte("page.compound_dtor", false)?,
        };
        let (order, hugetlb) = if let Some(v) = hugetlb_type {
            (OrderSource::TailFlagsLowByte, HugetlbMark::HeadPageType(v))
        } else if let Some(b) = pg_hugetlb {
            (OrderSource::TailFlagsLowByte, HugetlbMark::TailFlag(b))
        } else {
            let order = order_byte.map_or(OrderSource::Unknown, OrderSource::TailByte);
            let dtor_value = vi.opt_number("HUGETLB_PAGE_DTOR")?;
            let hugetlb = match (dtor_byte, dtor_value) {
                (Some(offset), Some(v)) if (0..=255).contains(&v) => HugetlbMark::Dtor { offset, value: v as u8 },
                (Some(_), Some(v)) => {
                    return Err(Error::BadValue {
                        key: "NUMBER(HUGETLB_PAGE_DTOR)".into(),
                        value: v.to_string(),
                        why: "not a destructor id (0-255)".into(),
                    })
                }
                _ => HugetlbMark::Unknown,
            };
            (order, hugetlb)
        };
        let unknown_types = vi
            .keys()
            .filter_map(|k| k.strip_prefix("NUMBER(")?.strip_suffix(')'))
            .filter(|n| n.starts_with("PAGE_") && n.ends_with("_MAPCOUNT_VALUE") && !KNOWN_PAGE_TYPES.contains(n))
            .map(str::to_owned)
            .collect();
        Ok(PageScheme {
            size,
            flags: req("page.flags")?,
            mapping: req("page.mapping")?,
            mapcount: field("page._mapcount")?,
            private: field("page.private")?,
            compound_head,
            order,
            hugetlb,
            head_mask: vi.opt_number("PG_head_mask")?.unwrap_or(0) as u64,
            pg_lru: required_bit(vi, "PG_lru")?,
            pg_private: required_bit(vi, "PG_private")?,
            pg_swapcache: required_bit(vi, "PG_swapcache")?,
            pg_swapbacked: bit(vi, "PG_swapbacked")?,
            pg_hwpoison: bit(vi, "PG_hwpoison")?,
            slab_flag: bit(vi, "PG_slab")?,
            slab_type: page_type(vi, "PAGE_SLAB_MAPCOUNT_VALUE")?,
            buddy_type: page_type(vi, "PAGE_BUDDY_MAPCOUNT_VALUE")?,
            offline_type: page_type(vi, "PAGE_OFFLINE_MAPCOUNT_VALUE")?,
            unaccepted_type: page_type(vi, "PAGE_UNACCEPTED_MAPCOUNT_VALUE")?,
            free_area_len: vi.opt_length("zone.free_area")?,
            unknown_types,
        })
    }

    /// Slab pages can be told apart (their `mapping` word is the slab's, and
    /// its low bit must not be read as "anonymous").
    pub fn knows_slab(&self) -> bool {
        self.slab_flag.is_some() || (self.slab_type.is_some() && self.mapcount.is_some())
    }

    /// Free pages can be recognised: buddy heads by their page type and
    /// order, and slab pages (whose overlaid fields may look alike) ruled out.
    pub fn knows_buddy(&self) -> bool {
        self.knows_slab() && self.mapcount.is_some() && self.private.is_some() && self.buddy_type.is_some()
    }

    /// Unaccepted blocks: the type and the block size (the largest order).
    pub fn knows_unaccepted(&self) -> bool {
        self.knows_slab()
            && self.mapcount.is_some()
            && self.unaccepted_type.is_some()
            && self.free_area_len.is_some_and(|n| (1..=64).contains(&n))
    }

    /// The dump-level bits whose rules cannot run at all on this kernel:
    /// saving at `level` actually applies `level & !lost_bits(level)`.
    pub fn lost_bits(&self, level: u8) -> u8 {
        let mut lost = 0;
        if level & dump_level::USER != 0 && !self.knows_slab() && self.hugetlb == HugetlbMark::Unknown {
            lost |= dump_level::USER;
        }
        if level & dump_level::FREE != 0 && !self.knows_buddy() {
            lost |= dump_level::FREE;
        }
        lost
    }

    /// What this kernel's VMCOREINFO does not let the rules decide at
    /// `level`, as messages for the operator: each names what is kept.
    /// Empty when every rule the level needs can run.
    pub fn limits(&self, level: u8) -> Vec<String> {
        let mut out = Vec::new();
        let walk = level & dump_level::NEEDS_PAGE_WALK != 0;
        if walk && !self.knows_slab() && level & (dump_level::USER | dump_level::FREE) != 0 {
            out.push(
                "VMCOREINFO has neither NUMBER(PG_slab) nor NUMBER(PAGE_SLAB_MAPCOUNT_VALUE) with \
                 OFFSET(page._mapcount): slab pages cannot be told apart, so anonymous, free and \
                 offline pages are kept"
                    .into(),
            );
        }
        if level & dump_level::FREE != 0 && self.knows_slab() && !self.knows_buddy() {
            out.push(
                "VMCOREINFO lacks what marks a free page (NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE), \
                 OFFSET(page._mapcount), OFFSET(page.private)): free pages are kept"
                    .into(),
            );
        }
        if level & dump_level::FREE != 0
            && self.unaccepted_type.is_some()
            && !self.knows_unaccepted()
            && self.knows_slab()
        {
            out.push(
                "VMCOREINFO marks unaccepted pages but lacks LENGTH(zone.free_area) (their block size): \
                 unaccepted pages are kept"
                    .into(),
            );
        }
        if level & dump_level::USER != 0 && self.hugetlb == HugetlbMark::Unknown {
            out.push(
                "VMCOREINFO has no way to recognise hugetlbfs pages (NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE), \
                 NUMBER(PG_hugetlb), or the compound destructor with NUMBER(HUGETLB_PAGE_DTOR)): they are kept"
                    .into(),
            );
        }
        if level & (dump_level::CACHE | dump_level::CACHE_PRIVATE | dump_level::USER) != 0
            && self.order == OrderSource::Unknown
        {
            out.push(
                "VMCOREINFO does not say where a compound page's order is (OFFSET(page.compound_order), \
                 OFFSET(folio._folio_order), or a page-type scheme that keeps it in the first tail's flags): \
                 the tail pages of large folios are kept"
                    .into(),
            );
        }
        if walk && !self.unknown_types.is_empty() {
            out.push(format!(
                "VMCOREINFO names page types kexdump does not know ({}): such pages are kept",
                self.unknown_types.join(", ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vi(extra: &str) -> VmcoreInfo {
        let base = "OSRELEASE=6.12.57+deb13-amd64\nPAGESIZE=4096\nSIZE(page)=64\nOFFSET(page.flags)=0\n\
                    OFFSET(page.mapping)=24\nOFFSET(page._mapcount)=48\nOFFSET(page.private)=40\n\
                    OFFSET(page.compound_head)=8\nNUMBER(PG_lru)=5\nNUMBER(PG_private)=14\n\
                    NUMBER(PG_swapcache)=10\nNUMBER(PG_swapbacked)=17\nNUMBER(PG_head_mask)=64\n\
                    NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-268435456\nNUMBER(PAGE_SLAB_MAPCOUNT_VALUE)=-184549376\n\
                    NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)=-201326592\nLENGTH(zone.free_area)=11\n";
        VmcoreInfo::parse(format!("{base}{extra}").as_bytes())
    }

    #[test]
    fn a_6_12_vmcoreinfo_needs_no_warning() {
        let s = PageScheme::from_vmcoreinfo(&vi("")).unwrap();
        assert_eq!(s.order, OrderSource::TailFlagsLowByte);
        assert_eq!(s.hugetlb, HugetlbMark::HeadPageType(0xf400_0000u32 as i32));
        assert_eq!(s.slab_type, Some(0xf500_0000u32 as i32));
        assert!(s.limits(31).is_empty(), "{:?}", s.limits(31));
        assert_eq!(s.lost_bits(31), 0);
    }

    #[test]
    fn a_page_type_written_unsigned_means_the_same_bits() {
        let text = "OSRELEASE=6.12.1\nPAGESIZE=4096\nSIZE(page)=64\nOFFSET(page.flags)=0\nOFFSET(page.mapping)=24\n\
                    OFFSET(page.compound_head)=8\nNUMBER(PG_lru)=5\nNUMBER(PG_private)=14\nNUMBER(PG_swapcache)=10\n\
                    NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)=4110417920\n";
        let s = PageScheme::from_vmcoreinfo(&VmcoreInfo::parse(text.as_bytes())).unwrap();
        assert_eq!(s.slab_type, Some(-184549376));
    }

    #[test]
    fn a_vmcoreinfo_missing_the_slab_marker_keeps_slab_pages_and_warns() {
        let text = "OSRELEASE=6.12.57\nPAGESIZE=4096\nSIZE(page)=64\nOFFSET(page.flags)=0\nOFFSET(page.mapping)=24\n\
                    OFFSET(page._mapcount)=48\nOFFSET(page.private)=40\nOFFSET(page.compound_head)=8\n\
                    NUMBER(PG_lru)=5\nNUMBER(PG_private)=14\nNUMBER(PG_swapcache)=10\nNUMBER(PG_head_mask)=64\n\
                    NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-268435456\nNUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)=-201326592\n\
                    LENGTH(zone.free_area)=11\n";
        let s = PageScheme::from_vmcoreinfo(&VmcoreInfo::parse(text.as_bytes())).unwrap();
        assert!(!s.knows_slab() && !s.knows_buddy());
        let w = s.limits(31);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("slab pages cannot be told apart"), "{w:?}");
        // Hugetlb is still known, so level 8 partly runs; free pages are lost.
        assert_eq!(s.lost_bits(31), dump_level::FREE);
        assert!(s.limits(1).is_empty());
    }

    #[test]
    fn no_tail_marker_is_an_error_naming_both_keys() {
        let text = "PAGESIZE=4096\nSIZE(page)=64\nOFFSET(page.flags)=0\nOFFSET(page.mapping)=24\n\
                    NUMBER(PG_lru)=5\nNUMBER(PG_private)=14\nNUMBER(PG_swapcache)=10\n";
        let e = PageScheme::from_vmcoreinfo(&VmcoreInfo::parse(text.as_bytes())).unwrap_err();
        assert!(e.to_string().contains("page.compound_info"), "{e}");
    }

    #[test]
    fn compound_info_of_7_1_marks_tails() {
        let text = vi("").to_string().replace("OFFSET(page.compound_head)", "OFFSET(page.compound_info)");
        let s = PageScheme::from_vmcoreinfo(&VmcoreInfo::parse(text.as_bytes())).unwrap();
        assert_eq!(s.compound_head, 8);
    }

    #[test]
    fn folio_offsets_of_6_3_point_into_the_first_tail() {
        let text = "OSRELEASE=6.5.0\nPAGESIZE=4096\nSIZE(page)=64\nOFFSET(page.flags)=0\nOFFSET(page.mapping)=24\n\
                    OFFSET(page.compound_head)=8\nNUMBER(PG_lru)=4\nNUMBER(PG_private)=13\nNUMBER(PG_swapcache)=10\n\
                    NUMBER(PG_slab)=9\nOFFSET(folio._folio_dtor)=80\nOFFSET(folio._folio_order)=81\n\
                    NUMBER(HUGETLB_PAGE_DTOR)=2\n";
        let s = PageScheme::from_vmcoreinfo(&VmcoreInfo::parse(text.as_bytes())).unwrap();
        assert_eq!(s.order, OrderSource::TailByte(17));
        assert_eq!(s.hugetlb, HugetlbMark::Dtor { offset: 16, value: 2 });
    }

    #[test]
    fn pg_hugetlb_of_6_6_reads_the_order_from_the_tail_flags() {
        let s =
            PageScheme::from_vmcoreinfo(&vi("NUMBER(PG_hugetlb)=7\n").without("PAGE_HUGETLB_MAPCOUNT_VALUE")).unwrap();
        assert_eq!(s.order, OrderSource::TailFlagsLowByte);
        assert_eq!(s.hugetlb, HugetlbMark::TailFlag(7));
    }

    #[test]
    fn a_kernel_newer_than_the_tested_range_is_named() {
        let w = release_warning("7.9.1-amd64").unwrap();
        assert!(w.contains("7.9.1-amd64") && w.contains("5.10 to 7.3"), "{w}");
        assert!(release_warning("4.19.0-27-amd64").is_some());
        assert_eq!(release_warning("5.10.0-32-amd64"), None);
        assert_eq!(release_warning("7.3.4+bpo-amd64"), None);
    }

    #[test]
    fn an_unknown_page_type_is_named() {
        let s = PageScheme::from_vmcoreinfo(&vi("NUMBER(PAGE_FROZEN_MAPCOUNT_VALUE)=-150994944\n")).unwrap();
        let w = s.limits(31);
        assert!(w.iter().any(|m| m.contains("PAGE_FROZEN_MAPCOUNT_VALUE")), "{w:?}");
    }

    #[test]
    fn release_versions() {
        assert_eq!(release_version("5.10.0-32-amd64"), Some((5, 10)));
        assert_eq!(release_version("7.3.4+bpo-amd64"), Some((7, 3)));
        assert_eq!(release_version("6.12"), Some((6, 12)));
        assert_eq!(release_version("junk"), None);
    }

    trait Without {
        fn without(&self, key: &str) -> VmcoreInfo;
    }
    impl Without for VmcoreInfo {
        fn without(&self, key: &str) -> VmcoreInfo {
            let text: String =
                self.to_string().lines().filter(|l| !l.contains(key)).map(|l| format!("{l}\n")).collect();
            VmcoreInfo::parse(text.as_bytes())
        }
    }
}
