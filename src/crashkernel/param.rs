//! The `crashkernel=` kernel option: a parser for every form the kernel
//! documents (Documentation/admin-guide/kernel-parameters.txt and
//! Documentation/admin-guide/kdump/kdump.rst), and a model of what the
//! kernel reserves for a given amount of RAM. Pure functions, no I/O.
//!
//! The forms:
//! - `SIZE` and `SIZE@OFFSET`: a fixed reservation, where the kernel likes
//!   or at OFFSET;
//! - `START-[END]:SIZE[,START-[END]:SIZE...][@OFFSET]`: SIZE of the first
//!   range holding the machine's RAM (END excluded, no END: no limit);
//! - `SIZE,high`: anywhere in memory, plus a second, small reservation
//!   below 4 GiB for devices that can only reach low memory, sized by
//!   `SIZE,low` or by the kernel's default;
//! - `SIZE,cma` (Linux 6.17+): more room for the capture kernel, taken from
//!   memory the running system keeps using for movable pages.
//!
//! Sizes are the kernel's `memparse()` numbers: decimal, `0x` hexadecimal
//! or (leading `0`) octal digits, then an optional K, M, G, T, P or E
//! suffix (powers of 1024, either case); no suffix means bytes.

use std::fmt;

#[cfg(test)]
pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
#[cfg(test)]
pub const GIB: u64 = 1 << 30;

/// The kernel rounds the RAM size up to a multiple of this before it
/// matches ranges: firmware keeps some memory for itself, and a "4 GiB"
/// machine would otherwise miss its `4G-` range.
pub const RAM_ROUNDING: u64 = 128 * MIB;

/// One parsed `crashkernel=` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrashKernel {
    /// `SIZE` or `SIZE@OFFSET`.
    Fixed { size: u64, offset: Option<u64> },
    /// `RANGE:SIZE[,RANGE:SIZE...][@OFFSET]`.
    Ranges { ranges: Vec<Range>, offset: Option<u64> },
    /// `SIZE,high`.
    High(u64),
    /// `SIZE,low`.
    Low(u64),
    /// `SIZE,cma`.
    Cma(u64),
}

/// `START-[END]:SIZE`: reserve SIZE when START <= RAM < END.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    /// Excluded; `None` is an open end.
    pub end: Option<u64>,
    pub size: u64,
}

impl Range {
    pub fn contains(&self, ram: u64) -> bool {
        ram >= self.start
            && match self.end {
                Some(e) => ram < e,
                None => true,
            }
    }
}

/// What is wrong with a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// `crashkernel=` with nothing after it.
    Empty,
    /// `crashkernel=auto`, which only RHEL 8's kernels knew.
    Auto,
    /// The token is not a memory size.
    NotASize,
    /// The number does not fit in 64 bits.
    TooLarge,
    /// Something else was expected here; the text says what.
    Unexpected(&'static str),
    /// A range whose END is not above its START.
    EndNotAboveStart,
    /// (`set` only) a number with a leading 0, which the kernel reads as octal.
    Octal,
    /// (`set` only) a size below 1 MiB: almost surely a missing suffix.
    Tiny,
    /// (`set` only) a reservation of nothing.
    Zero,
    /// (`set` only) a `,low` or `,cma` value alone.
    AddOnAlone,
}

/// A value the parser refused: the whole value, the token at fault, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub value: String,
    pub token: String,
    pub problem: Problem,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.token;
        write!(f, "crashkernel={}: ", self.value)?;
        match self.problem {
            Problem::Empty => write!(f, "the value is empty"),
            Problem::Auto => write!(
                f,
                "`auto` was a RHEL 8 kernel extension; other kernels ignore it and reserve nothing: \
                 give a size or a range table (`kexdump crashkernel set auto` writes one)"
            ),
            Problem::NotASize => write!(
                f,
                "`{t}` is not a memory size: digits (or 0x and hexadecimal digits) with an optional \
                 K, M, G, T, P or E suffix, e.g. 256M"
            ),
            Problem::TooLarge => write!(f, "`{t}` is too large: sizes stop at 16 EiB"),
            Problem::Unexpected(wanted) if t.is_empty() => write!(f, "the value ends where {wanted} is expected"),
            Problem::Unexpected(wanted) => write!(f, "`{t}` is unexpected: {wanted} is expected there"),
            Problem::EndNotAboveStart => {
                write!(f, "range `{t}` is empty: its END (excluded) must be above its START")
            }
            Problem::Octal => write!(
                f,
                "`{t}` starts with 0, so the kernel reads it as an octal number (010M is 8M): \
                 write it without the leading 0"
            ),
            Problem::Tiny => {
                write!(f, "`{t}` is less than 1 MiB: a size without a suffix counts bytes; add M or G (e.g. {t}M)")
            }
            Problem::Zero => write!(f, "`{t}` reserves nothing"),
            Problem::AddOnAlone => write!(
                f,
                "`{t}` only adds to a main reservation (SIZE, SIZE,high or a range table) and cannot be set alone"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// The number suffixes `memparse()` knows, as shifts.
fn suffix_shift(b: u8) -> Option<u32> {
    match b.to_ascii_lowercase() {
        b'k' => Some(10),
        b'm' => Some(20),
        b'g' => Some(30),
        b't' => Some(40),
        b'p' => Some(50),
        b'e' => Some(60),
        _ => None,
    }
}

/// A cursor over the value.
struct Parser<'a> {
    value: &'a str,
    pos: usize,
    strict: bool,
}

impl<'a> Parser<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.value.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.value.len()
    }

    fn slice(&self, from: usize, to: usize) -> String {
        self.value.get(from..to).unwrap_or(self.value).to_string()
    }

    /// The text from `from` up to the next separator (or the end).
    fn token_from(&self, from: usize) -> String {
        let rest = self.bytes().get(from..).unwrap_or_default();
        let len = rest.iter().position(|b| b",:@- \t".contains(b)).unwrap_or(rest.len());
        // A separator cannot be the first byte of the token we blame.
        let len = if len == 0 { rest.len().min(1) } else { len };
        self.slice(from, from + len)
    }

    fn err(&self, token: String, problem: Problem) -> ParseError {
        ParseError { value: self.value.to_string(), token, problem }
    }

    /// One `memparse()` number at the cursor.
    fn number(&mut self) -> Result<u64, ParseError> {
        let start = self.pos;
        let b = self.bytes();
        let at = |i: usize| b.get(i).copied().unwrap_or(0);
        // The radix rule of the kernel's simple_strtoull(s, &end, 0).
        let (radix, mut i) =
            if at(start) == b'0' && at(start + 1).eq_ignore_ascii_case(&b'x') && at(start + 2).is_ascii_hexdigit() {
                (16u64, start + 2)
            } else if at(start) == b'0' {
                (8, start)
            } else {
                (10, start)
            };
        let digits_start = i;
        let mut n: u64 = 0;
        let mut overflow = false;
        while let Some(d) = (at(i) as char).to_digit(radix as u32) {
            match n.checked_mul(radix).and_then(|n| n.checked_add(u64::from(d))) {
                Some(v) => n = v,
                None => overflow = true,
            }
            i += 1;
        }
        if i == digits_start {
            return Err(self.err(self.token_from(start), Problem::NotASize));
        }
        if let Some(shift) = suffix_shift(at(i)) {
            if n > u64::MAX >> shift {
                overflow = true;
            } else {
                n <<= shift;
            }
            i += 1;
        }
        self.pos = i;
        if overflow {
            return Err(self.err(self.slice(start, i), Problem::TooLarge));
        }
        if self.strict && radix == 8 && i - digits_start > 1 {
            return Err(self.err(self.slice(start, i), Problem::Octal));
        }
        Ok(n)
    }

    /// A number that must start right here (an empty token is reported as
    /// what was expected instead).
    fn number_expected(&mut self, what: &'static str) -> Result<u64, ParseError> {
        if self.at_end() {
            return Err(self.err(String::new(), Problem::Unexpected(what)));
        }
        self.number()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_end(&self, wanted: &'static str) -> Result<(), ParseError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.err(self.slice(self.pos, self.value.len()), Problem::Unexpected(wanted)))
        }
    }

    fn offset(&mut self) -> Result<Option<u64>, ParseError> {
        if self.eat(b'@') {
            Ok(Some(self.number_expected("an OFFSET after `@`")?))
        } else {
            Ok(None)
        }
    }

    fn ranges(&mut self) -> Result<CrashKernel, ParseError> {
        let mut ranges = Vec::new();
        loop {
            let range_start = self.pos;
            let start = self.number_expected("a range START-[END]:SIZE")?;
            if !self.eat(b'-') {
                return Err(self.err(self.token_after(range_start), Problem::Unexpected("`-` after a range's START")));
            }
            let end =
                if self.peek() == Some(b':') { None } else { Some(self.number_expected("a range's END or `:`")?) };
            if end.is_some_and(|e| e <= start) {
                return Err(self.err(self.slice(range_start, self.pos), Problem::EndNotAboveStart));
            }
            if !self.eat(b':') {
                return Err(self.err(self.token_after(range_start), Problem::Unexpected("`:SIZE` after a range")));
            }
            let size = self.number_expected("the SIZE after `START-[END]:`")?;
            ranges.push(Range { start, end, size });
            if !self.eat(b',') {
                break;
            }
        }
        let offset = self.offset()?;
        self.expect_end("`,` and another range, `@OFFSET`, or the end of the value")?;
        Ok(CrashKernel::Ranges { ranges, offset })
    }

    /// The text of one range entry from `from`: up to the next `,` or `@`.
    fn token_after(&self, from: usize) -> String {
        let rest = self.bytes().get(from..).unwrap_or_default();
        let len = rest.iter().position(|b| b",@ \t".contains(b)).unwrap_or(rest.len());
        self.slice(from, from + len)
    }
}

/// The suffixed forms and how they are built.
/// Builds a suffixed form from its size.
type Make = fn(u64) -> CrashKernel;

const SUFFIXES: [(&str, Make); 3] =
    [(",high", CrashKernel::High), (",low", CrashKernel::Low), (",cma", CrashKernel::Cma)];

fn parse_inner(value: &str, strict: bool) -> Result<CrashKernel, ParseError> {
    let mut p = Parser { value, pos: 0, strict };
    if value.is_empty() {
        return Err(p.err(String::new(), Problem::Empty));
    }
    if value == "auto" {
        return Err(p.err(value.to_string(), Problem::Auto));
    }
    // As the kernel does: the suffix at the very end decides the form.
    for (suffix, make) in SUFFIXES {
        if let Some(body) = value.strip_suffix(suffix) {
            let mut p = Parser { value, pos: 0, strict };
            let size = p.number_expected("a SIZE")?;
            if p.pos != body.len() {
                return Err(p.err(p.slice(p.pos, body.len()), Problem::Unexpected("the suffix right after the SIZE")));
            }
            return Ok(make(size));
        }
    }
    if value.contains(':') {
        return p.ranges();
    }
    let size = p.number()?;
    let offset = p.offset()?;
    p.expect_end("`@OFFSET`, `,high`, `,low`, `,cma`, or the end of the value")?;
    Ok(CrashKernel::Fixed { size, offset })
}

/// Parses the value of one `crashkernel=` option (without the
/// `crashkernel=`) as the kernel reads it. Never panics.
pub fn parse(value: &str) -> Result<CrashKernel, ParseError> {
    parse_inner(value, false)
}

/// The value that `kexdump crashkernel set auto` writes (the help of
/// `set` explains it too; a test keeps them the same).
///
/// Why these sizes: the capture kernel needs room for its own image as
/// loaded (Debian 6.1's bzImage asks for 63.6 MiB: `init_size` in its boot
/// header), the capture initramfs, and memory to unpack that initramfs and
/// run. The smallest reservation that captured a 2 GiB guest with kexdump's
/// 1.29 MB initramfs was 88M (84M ran out of memory before /init;
/// docs/demo.md). kexdump-capture itself stays under 9 MB whatever the RAM
/// (a 4 MiB read window and 32 KiB bitmaps), so what grows with the machine
/// is the rest: larger machines carry more and bigger devices (HBA, NIC and
/// NVMe drivers allocate queues and firmware per device) and a longer list
/// of memory ranges in the ELF headers of /proc/vmcore. Hence:
/// - under 1 GiB: nothing (a 128M reservation would take over an eighth of
///   the RAM; give an explicit size there);
/// - 1-4 GiB: 128M, 40M (45%) above the measured floor, for a larger
///   initramfs (more drivers, xfs, multipath) or a somewhat larger kernel;
/// - 4-64 GiB: 192M, as Debian's kdump-tools reserves on amd64;
/// - 64 GiB and more: 256M, what Fedora reserves from 2 GiB up.
///
/// The distributions need more (Debian's stack failed below 116M on the
/// same guest) because their capture initramfs runs systemd and udev.
pub const AUTO: &str = "1G-4G:128M,4G-64G:192M,64G-:256M";

/// The smallest reservation measured to capture (docs/demo.md): `set` warns
/// below it.
pub const MEASURED_FLOOR: u64 = 88 * MIB;

/// A value for `kexdump crashkernel set`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetValue {
    /// The text after `crashkernel=`.
    pub text: String,
    pub parsed: CrashKernel,
    /// Whether it came from `auto`.
    pub auto: bool,
}

/// Parses `SIZE|auto` for `kexdump crashkernel set`: any form the kernel
/// takes except the add-on ones (`,low`, `,cma`) alone, and stricter than
/// the kernel where its reading is a trap: no octal, no size under 1 MiB
/// (a forgotten suffix), no reservation of 0.
pub fn parse_set_value(value: &str) -> Result<SetValue, ParseError> {
    let value = value.strip_prefix("crashkernel=").unwrap_or(value);
    if value == "auto" {
        let parsed = parse(AUTO)?;
        return Ok(SetValue { text: AUTO.to_string(), parsed, auto: true });
    }
    let parsed = parse_inner(value, true)?;
    let err = |problem| Err(ParseError { value: value.to_string(), token: value.to_string(), problem });
    let sizes: Vec<u64> = match &parsed {
        CrashKernel::Low(_) | CrashKernel::Cma(_) => return err(Problem::AddOnAlone),
        CrashKernel::Fixed { size: 0, .. } | CrashKernel::High(0) => return err(Problem::Zero),
        CrashKernel::Fixed { size, .. } | CrashKernel::High(size) => vec![*size],
        CrashKernel::Ranges { ranges, .. } if ranges.iter().all(|r| r.size == 0) => return err(Problem::Zero),
        // A 0 in a table is meaningful: nothing for that much RAM.
        CrashKernel::Ranges { ranges, .. } => ranges.iter().map(|r| r.size).filter(|&s| s != 0).collect(),
    };
    if sizes.iter().any(|&s| s < MIB) {
        // Blame the first small number as written.
        let token = small_token(value).unwrap_or_else(|| value.to_string());
        return Err(ParseError { value: value.to_string(), token, problem: Problem::Tiny });
    }
    Ok(SetValue { text: value.to_string(), parsed, auto: false })
}

/// The first SIZE token of `value` (not a START, END or OFFSET) under 1 MiB.
fn small_token(value: &str) -> Option<String> {
    let main = value.split('@').next().unwrap_or(value);
    let sizes: Vec<&str> = if main.contains(':') {
        main.split(',').filter_map(|entry| entry.split_once(':').map(|(_, size)| size)).collect()
    } else {
        main.split(',').take(1).collect()
    };
    sizes
        .into_iter()
        .find(|t| parse(t).is_ok_and(|v| matches!(v, CrashKernel::Fixed { size, .. } if size > 0 && size < MIB)))
        .map(str::to_string)
}

/// One `crashkernel=` option of a command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    /// The option as written, `crashkernel=...`.
    pub option: String,
    /// What follows `crashkernel=`.
    pub value: String,
    pub parsed: Result<CrashKernel, ParseError>,
}

/// Every `crashkernel=` option of a kernel command line, in order.
pub fn options(cmdline: &str) -> Vec<Opt> {
    crate::kernel_cmdline::tokenize(cmdline)
        .into_iter()
        .filter_map(|o| {
            let value = o.strip_prefix("crashkernel=")?;
            Some(Opt { option: o.to_string(), value: value.to_string(), parsed: parse(value) })
        })
        .collect()
}

/// The low reservation that comes with `,high`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Low {
    /// `SIZE,low`.
    Given(u64),
    /// None given: the architecture's default.
    Default,
}

/// What the kernel would reserve at boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No `crashkernel=` option at all.
    Unset,
    /// A reservation of `size` bytes.
    Reserve {
        size: u64,
        offset: Option<u64>,
        /// `,high`: anywhere in memory, plus a low part.
        low: Option<Low>,
        /// `,cma` (Linux 6.17+): more, shared with movable pages.
        cma: Option<u64>,
        /// The option that decided it (index into the options).
        from: usize,
        /// For a range table: the range that matched.
        range: Option<Range>,
    },
    /// Nothing, and why.
    Nothing { reason: String, from: Option<usize> },
}

/// Rounds the RAM up as the kernel does before matching ranges.
pub fn rounded_ram(ram: u64) -> u64 {
    ram.div_ceil(RAM_ROUNDING).saturating_mul(RAM_ROUNDING)
}

/// How one option counts, for [`outcome`].
enum Slot<'a> {
    /// SIZE, SIZE@OFFSET or a range table, evaluated for the RAM.
    Main(Result<(u64, Option<u64>, Option<Range>), String>),
    High(Result<u64, &'a ParseError>),
    Low(Result<u64, &'a ParseError>),
    Cma(Result<u64, &'a ParseError>),
}

fn slot<'a>(o: &'a Opt, ram: u64) -> Slot<'a> {
    match &o.parsed {
        Ok(CrashKernel::Fixed { size, offset }) => Slot::Main(Ok((*size, *offset, None))),
        Ok(CrashKernel::Ranges { ranges, offset }) => Slot::Main(match ranges.iter().find(|r| r.contains(ram)) {
            Some(r) => Ok((r.size, *offset, Some(*r))),
            None => Err(format!("no range of {} holds this RAM ({})", o.option, human(ram))),
        }),
        Ok(CrashKernel::High(n)) => Slot::High(Ok(*n)),
        Ok(CrashKernel::Low(n)) => Slot::Low(Ok(*n)),
        Ok(CrashKernel::Cma(n)) => Slot::Cma(Ok(*n)),
        // As the kernel does, the suffix at the end says which lookup a
        // value it cannot parse belongs to.
        Err(e) if o.value.ends_with(",high") => Slot::High(Err(e)),
        Err(e) if o.value.ends_with(",low") => Slot::Low(Err(e)),
        Err(e) if o.value.ends_with(",cma") => Slot::Cma(Err(e)),
        Err(e) => Slot::Main(Err(refused(e))),
    }
}

fn refused(e: &ParseError) -> String {
    format!("{e}; the kernel refuses the option and reserves nothing")
}

/// Like the kernel at boot: the last option of each kind counts; the main
/// form (SIZE, SIZE@OFFSET, ranges) wins over `,high`; `,low` only counts
/// beside `,high`; `,cma` is added to either. `ram` is the machine's RAM
/// (rounded up to 128 MiB here, as the kernel does).
pub fn outcome(opts: &[Opt], ram: u64) -> Outcome {
    if opts.is_empty() {
        return Outcome::Unset;
    }
    let ram = rounded_ram(ram);
    let (mut main, mut high, mut low, mut cma) = (None, None, None, None);
    for (i, o) in opts.iter().enumerate() {
        match slot(o, ram) {
            Slot::Main(r) => main = Some((i, r)),
            Slot::High(r) => high = Some((i, r)),
            Slot::Low(r) => low = Some((i, r)),
            Slot::Cma(r) => cma = Some((i, r)),
        }
    }
    // The kernel ignores a bad or empty ,cma without failing the rest.
    let cma = match cma {
        Some((_, Ok(n))) if n > 0 => Some(n),
        _ => None,
    };
    let checked = |i: usize, size: u64| -> Result<u64, Outcome> {
        if size == 0 {
            Err(Outcome::Nothing { reason: format!("{} asks for 0 bytes", opts[i].option), from: Some(i) })
        } else if size >= ram {
            Err(Outcome::Nothing {
                reason: format!(
                    "{} asks for {}, which is not below the RAM ({}): the kernel refuses it",
                    opts[i].option,
                    human(size),
                    human(ram)
                ),
                from: Some(i),
            })
        } else {
            Ok(size)
        }
    };
    if let Some((i, r)) = main {
        return match r {
            Err(reason) => Outcome::Nothing { reason, from: Some(i) },
            Ok((size, offset, range)) => match checked(i, size) {
                Ok(size) => Outcome::Reserve { size, offset, low: None, cma, from: i, range },
                Err(o) => o,
            },
        };
    }
    if let Some((i, r)) = high {
        let size = match r {
            Err(e) => return Outcome::Nothing { reason: refused(e), from: Some(i) },
            Ok(n) => match checked(i, n) {
                Ok(n) => n,
                Err(o) => return o,
            },
        };
        let low = match low {
            None => Low::Default,
            Some((j, Err(e))) => return Outcome::Nothing { reason: refused(e), from: Some(j) },
            Some((_, Ok(n))) => Low::Given(n),
        };
        return Outcome::Reserve { size, offset: None, low: Some(low), cma, from: i, range: None };
    }
    // Only ,low or ,cma options: the index of the last of them.
    let last = opts.len() - 1;
    Outcome::Nothing {
        reason: format!(
            "{} only adds to a main crashkernel= (SIZE, SIZE,high or a range table), and there is none",
            opts[last].option
        ),
        from: Some(last),
    }
}

/// Bytes as the largest unit that divides them (`128M`), else MiB with a
/// decimal.
pub fn human(bytes: u64) -> String {
    for (unit, shift) in [("E", 60), ("P", 50), ("T", 40), ("G", 30), ("M", 20), ("K", 10)] {
        if bytes >= 1 << shift && bytes & ((1 << shift) - 1) == 0 {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else {
        format!("{bytes} bytes")
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.end {
            Some(e) => write!(f, "{}-{}:{}", human(self.start), human(e), human(self.size)),
            None => write!(f, "{}-:{}", human(self.start), human(self.size)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(v: &str) -> CrashKernel {
        parse(v).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    fn bad(v: &str) -> ParseError {
        match parse(v) {
            Ok(p) => panic!("{v} parsed as {p:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn plain_sizes_and_suffixes() {
        assert_eq!(ok("256M"), CrashKernel::Fixed { size: 256 * MIB, offset: None });
        assert_eq!(ok("512k"), CrashKernel::Fixed { size: 512 * KIB, offset: None });
        assert_eq!(ok("1G"), CrashKernel::Fixed { size: GIB, offset: None });
        assert_eq!(ok("2g"), CrashKernel::Fixed { size: 2 * GIB, offset: None });
        assert_eq!(ok("1T"), CrashKernel::Fixed { size: 1 << 40, offset: None });
        assert_eq!(ok("134217728"), CrashKernel::Fixed { size: 128 * MIB, offset: None });
        assert_eq!(ok("0x8000000"), CrashKernel::Fixed { size: 128 * MIB, offset: None });
        assert_eq!(ok("0x10M"), CrashKernel::Fixed { size: 16 * MIB, offset: None });
        // memparse's base 0: a leading 0 is octal.
        assert_eq!(ok("010M"), CrashKernel::Fixed { size: 8 * MIB, offset: None });
        assert_eq!(ok("0"), CrashKernel::Fixed { size: 0, offset: None });
    }

    #[test]
    fn size_at_offset() {
        assert_eq!(ok("64M@16M"), CrashKernel::Fixed { size: 64 * MIB, offset: Some(16 * MIB) });
        assert_eq!(ok("128M@0x1000000"), CrashKernel::Fixed { size: 128 * MIB, offset: Some(16 * MIB) });
        let e = bad("64M@");
        assert_eq!(e.problem, Problem::Unexpected("an OFFSET after `@`"));
        assert!(e.to_string().contains("OFFSET"), "{e}");
        let e = bad("64M@16Q");
        assert_eq!(
            (e.token.as_str(), e.problem),
            ("Q", Problem::Unexpected("`@OFFSET`, `,high`, `,low`, `,cma`, or the end of the value"))
        );
    }

    #[test]
    fn range_tables() {
        assert_eq!(
            ok("512M-2G:64M,2G-:128M"),
            CrashKernel::Ranges {
                ranges: vec![
                    Range { start: 512 * MIB, end: Some(2 * GIB), size: 64 * MIB },
                    Range { start: 2 * GIB, end: None, size: 128 * MIB },
                ],
                offset: None
            }
        );
        assert_eq!(
            ok("1G-:256M@16M"),
            CrashKernel::Ranges {
                ranges: vec![Range { start: GIB, end: None, size: 256 * MIB }],
                offset: Some(16 * MIB)
            }
        );
        assert!(matches!(ok(AUTO), CrashKernel::Ranges { ranges, offset: None } if ranges.len() == 3));
    }

    #[test]
    fn high_low_cma() {
        assert_eq!(ok("1G,high"), CrashKernel::High(GIB));
        assert_eq!(ok("256M,low"), CrashKernel::Low(256 * MIB));
        assert_eq!(ok("0,low"), CrashKernel::Low(0));
        assert_eq!(ok("512M,cma"), CrashKernel::Cma(512 * MIB));
        let e = bad("1G-2G:128M,high");
        assert_eq!((e.token.as_str(), e.problem), ("-2G:128M", Problem::Unexpected("the suffix right after the SIZE")));
        let e = bad("256M,HIGH");
        assert_eq!(e.token, ",HIGH");
        let e = bad(",high");
        assert_eq!(e.problem, Problem::NotASize);
    }

    #[test]
    fn malformed_values_name_the_token() {
        let cases: &[(&str, &str, Problem)] = &[
            ("", "", Problem::Empty),
            ("auto", "auto", Problem::Auto),
            ("abc", "abc", Problem::NotASize),
            ("M", "M", Problem::NotASize),
            ("-256M", "-", Problem::NotASize),
            ("256MB", "B", Problem::Unexpected("`@OFFSET`, `,high`, `,low`, `,cma`, or the end of the value")),
            ("256M 128M", " 128M", Problem::Unexpected("`@OFFSET`, `,high`, `,low`, `,cma`, or the end of the value")),
            ("99999999999999999999", "99999999999999999999", Problem::TooLarge),
            ("16777216T", "16777216T", Problem::TooLarge),
            ("2G-1G:128M", "2G-1G", Problem::EndNotAboveStart),
            ("1G-1G:128M", "1G-1G", Problem::EndNotAboveStart),
            ("1G:128M", "1G:128M", Problem::Unexpected("`-` after a range's START")),
            ("1G-2G128M:1", "1G-2G128M:1", Problem::Unexpected("`:SIZE` after a range")),
            ("1G-2G:", "", Problem::Unexpected("the SIZE after `START-[END]:`")),
            ("1G-2G:x", "x", Problem::NotASize),
            ("1G-2G:128M,", "", Problem::Unexpected("a range START-[END]:SIZE")),
            (
                "1G-2G:128M;2G-:256M",
                ";2G-:256M",
                Problem::Unexpected("`,` and another range, `@OFFSET`, or the end of the value"),
            ),
            ("1G-2G:128M@", "", Problem::Unexpected("an OFFSET after `@`")),
            ("1G-:128M,x-:1M", "x", Problem::NotASize),
            ("\"256M\"", "\"256M\"", Problem::NotASize),
        ];
        for (v, token, problem) in cases {
            let e = bad(v);
            assert_eq!((e.token.as_str(), e.problem), (*token, *problem), "{v}: {e}");
            let msg = e.to_string();
            assert!(msg.starts_with(&format!("crashkernel={v}: ")), "{msg}");
            if !token.is_empty() {
                assert!(msg.contains(&format!("`{token}`")), "{msg}");
            }
        }
    }

    #[test]
    fn mutated_values_never_panic() {
        // Every single-byte deletion, duplication and replacement (by a
        // byte from a set that reaches every branch) of some valid values.
        let seeds = ["1G-4G:128M,4G-64G:192M,64G-:256M@16M", "256M@0x1000000", "1G,high", "256M,low", "64M,cma"];
        let alphabet = b"0123456789xXkKmMgGtTpPeE-:,@ \"\x7f\xc3hilowcma";
        let mut n = 0;
        for seed in seeds {
            let b = seed.as_bytes();
            for i in 0..=b.len() {
                let mut variants: Vec<Vec<u8>> = Vec::new();
                if i < b.len() {
                    variants.push([&b[..i], &b[i + 1..]].concat());
                    variants.push([&b[..=i], &b[i..]].concat());
                    variants.push(b[..i].to_vec());
                }
                for &c in alphabet {
                    variants.push([&b[..i], &[c], b.get(i + 1..).unwrap_or_default()].concat());
                    variants.push([&b[..i], &[c], &b[i..]].concat());
                }
                for v in variants {
                    let s = String::from_utf8_lossy(&v);
                    let _ = parse(&s).map_err(|e| e.to_string());
                    let _ = parse_set_value(&s).map_err(|e| e.to_string());
                    let opts = options(&format!("crashkernel={s} crashkernel=1G,high"));
                    for ram in [0, 1, 512 * MIB, 3 * GIB, 100 * GIB, u64::MAX] {
                        let _ = outcome(&opts, ram);
                    }
                    n += 1;
                }
            }
        }
        assert!(n > 5000, "{n}");
    }

    #[test]
    fn set_values_are_stricter() {
        let v = parse_set_value("auto").expect("auto");
        assert!(v.auto && v.text == AUTO);
        assert_eq!(parse_set_value("crashkernel=192M").expect("prefix").text, "192M");
        assert_eq!(parse_set_value("2G-:256M").expect("range").text, "2G-:256M");
        assert_eq!(
            parse_set_value("0x8000000").expect("hex").parsed,
            CrashKernel::Fixed { size: 128 * MIB, offset: None }
        );
        let cases: &[(&str, &str, Problem)] = &[
            ("010M", "010M", Problem::Octal),
            ("128", "128", Problem::Tiny),
            ("1G-:128", "128", Problem::Tiny),
            ("0", "0", Problem::Zero),
            ("0,high", "0,high", Problem::Zero),
            ("1G-:0", "1G-:0", Problem::Zero),
            ("256M,low", "256M,low", Problem::AddOnAlone),
            ("1G,cma", "1G,cma", Problem::AddOnAlone),
            ("128MB", "B", Problem::Unexpected("`@OFFSET`, `,high`, `,low`, `,cma`, or the end of the value")),
            ("lots", "lots", Problem::NotASize),
        ];
        for (v, token, problem) in cases {
            let e = parse_set_value(v).expect_err(v);
            assert_eq!((e.token.as_str(), e.problem), (*token, *problem), "{v}: {e}");
        }
        // A 0 inside a table is fine: nothing below 1G.
        parse_set_value("0-1G:0,1G-:128M").expect("table with a 0");
    }

    fn opts(line: &str) -> Vec<Opt> {
        options(line)
    }

    #[test]
    fn finds_options_on_a_command_line() {
        let o = opts("BOOT_IMAGE=/vmlinuz ro crashkernel=1G,high quiet crashkernel=256M,low x=\"crashkernel=5M\"");
        assert_eq!(o.len(), 2);
        assert_eq!(o[0].option, "crashkernel=1G,high");
        assert_eq!(o[1].value, "256M,low");
        assert!(opts("ro quiet").is_empty());
    }

    #[test]
    fn outcome_of_each_form() {
        assert_eq!(outcome(&[], 4 * GIB), Outcome::Unset);
        let r = outcome(&opts("crashkernel=256M"), 4 * GIB);
        assert_eq!(r, Outcome::Reserve { size: 256 * MIB, offset: None, low: None, cma: None, from: 0, range: None });
        let r = outcome(&opts("crashkernel=64M@16M"), 4 * GIB);
        assert!(matches!(r, Outcome::Reserve { size, offset: Some(o), .. } if size == 64 * MIB && o == 16 * MIB));
        // The last plain option wins.
        let r = outcome(&opts("crashkernel=128M crashkernel=192M"), 4 * GIB);
        assert!(matches!(r, Outcome::Reserve { size, from: 1, .. } if size == 192 * MIB));
    }

    #[test]
    fn outcome_of_range_tables() {
        let o = opts(&format!("crashkernel={AUTO}"));
        let size = |ram| match outcome(&o, ram) {
            Outcome::Reserve { size, .. } => size,
            r => panic!("{ram}: {r:?}"),
        };
        assert_eq!(size(GIB), 128 * MIB);
        // 1.94 GiB of MemTotal rounds up to 2 GiB.
        assert_eq!(size(2 * GIB - 60 * MIB), 128 * MIB);
        // A 4 GiB machine seen as 3.9 GiB still gets the 4G- line.
        assert_eq!(size(4 * GIB - 100 * MIB), 192 * MIB);
        assert_eq!(size(4 * GIB), 192 * MIB);
        assert_eq!(size(64 * GIB - 1), 256 * MIB);
        assert_eq!(size(64 * GIB), 256 * MIB);
        assert_eq!(size(4 << 40), 256 * MIB);
        let r = outcome(&o, 768 * MIB);
        assert!(matches!(&r, Outcome::Nothing { reason, from: Some(0) } if reason.contains("no range")), "{r:?}");
        // END is excluded: 2G belongs to the second range.
        let o = opts("crashkernel=512M-2G:64M,2G-:128M");
        assert!(matches!(outcome(&o, 2 * GIB), Outcome::Reserve { size, range: Some(Range { start, .. }), .. }
            if size == 128 * MIB && start == 2 * GIB));
        // (2G less a byte rounds up to 2G.)
        assert!(matches!(outcome(&o, 2 * GIB - 128 * MIB), Outcome::Reserve { size, .. } if size == 64 * MIB));
        // A size that is not below the RAM is refused.
        let o = opts("crashkernel=256M-:512M");
        assert!(
            matches!(outcome(&o, 384 * MIB), Outcome::Nothing { reason, .. } if reason.contains("not below the RAM"))
        );
    }

    #[test]
    fn outcome_of_high_and_low() {
        let r = outcome(&opts("crashkernel=1G,high crashkernel=128M,low"), 16 * GIB);
        assert!(matches!(r, Outcome::Reserve { size, low: Some(Low::Given(l)), .. } if size == GIB && l == 128 * MIB));
        let r = outcome(&opts("crashkernel=1G,high"), 16 * GIB);
        assert!(matches!(r, Outcome::Reserve { low: Some(Low::Default), from: 0, .. }));
        // The main form wins over ,high.
        let r = outcome(&opts("crashkernel=1G,high crashkernel=256M"), 16 * GIB);
        assert!(matches!(r, Outcome::Reserve { size, low: None, from: 1, .. } if size == 256 * MIB));
        // ,low alone reserves nothing.
        let r = outcome(&opts("crashkernel=256M,low"), 16 * GIB);
        assert!(matches!(&r, Outcome::Nothing { reason, from: Some(0) } if reason.contains("only adds")), "{r:?}");
        // A bad ,low fails the ,high too.
        let r = outcome(&opts("crashkernel=1G,high crashkernel=x,low"), 16 * GIB);
        assert!(matches!(&r, Outcome::Nothing { from: Some(1), .. }), "{r:?}");
        let r = outcome(&opts("crashkernel=256M crashkernel=1G,cma"), 16 * GIB);
        assert!(matches!(r, Outcome::Reserve { cma: Some(c), .. } if c == GIB));
    }

    #[test]
    fn outcome_of_invalid_main_option() {
        let r = outcome(&opts("crashkernel=auto"), 16 * GIB);
        assert!(matches!(&r, Outcome::Nothing { reason, .. } if reason.contains("RHEL 8")), "{r:?}");
        let r = outcome(&opts("crashkernel=0"), 16 * GIB);
        assert!(matches!(&r, Outcome::Nothing { reason, .. } if reason.contains("0 bytes")), "{r:?}");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(128 * MIB), "128M");
        assert_eq!(human(2 * GIB), "2G");
        assert_eq!(human(1536 * MIB), "1536M");
        assert_eq!(human(GIB + 1), "1024.0 MiB");
        assert_eq!(human(100), "100 bytes");
        assert_eq!(Range { start: GIB, end: None, size: 128 * MIB }.to_string(), "1G-:128M");
    }
}
