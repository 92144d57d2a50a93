//! Per-page compression for kdump-compressed dumps. Each page is compressed
//! on its own (one zstd frame, one zlib stream, one raw snappy block), as
//! crash and makedumpfile decompress them, and stored raw when that is not
//! smaller.

use crate::error::{Error, Result};
use crate::format::kdump::flag;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Zstd {
        level: i32,
    },
    Zlib {
        level: u32,
    },
    Snappy,
    /// LZO1X-1, as makedumpfile -l (pure Rust `lzo1x` crate).
    Lzo,
}

impl Compression {
    pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

    /// The flag stored in the header and in each compressed page descriptor.
    pub fn flag(self) -> u32 {
        match self {
            Compression::None => 0,
            Compression::Zstd { .. } => flag::ZSTD,
            Compression::Zlib { .. } => flag::ZLIB,
            Compression::Snappy => flag::SNAPPY,
            Compression::Lzo => flag::LZO,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zstd { .. } => "zstd",
            Compression::Zlib { .. } => "zlib",
            Compression::Snappy => "snappy",
            Compression::Lzo => "lzo",
        }
    }

    pub fn with_level(self, level: Option<i32>) -> Result<Compression> {
        Ok(match (self, level) {
            (c, None) => c,
            (Compression::Zstd { .. }, Some(l)) if (-7..=22).contains(&l) && l != 0 => Compression::Zstd { level: l },
            (Compression::Zlib { .. }, Some(l)) if (1..=9).contains(&l) => Compression::Zlib { level: l as u32 },
            (c, Some(l)) => return Err(Error::Unsupported(format!("compression level {l} for {}", c.name()))),
        })
    }
}

impl FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "none" => Ok(Compression::None),
            "zstd" => Ok(Compression::Zstd { level: Self::DEFAULT_ZSTD_LEVEL }),
            "zlib" => Ok(Compression::Zlib { level: 1 }),
            "snappy" => Ok(Compression::Snappy),
            "lzo" => Ok(Compression::Lzo),
            _ => Err(format!("unknown compression {s:?} (expected zstd, zlib, snappy, lzo or none)")),
        }
    }
}

/// A reusable per-page compressor.
pub struct PageCompressor {
    kind: Compression,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    /// Reused across pages: a fresh deflate state per page costs more than
    /// compressing the page.
    zlib: Option<flate2::Compress>,
    snappy: snap::raw::Encoder,
    out: Vec<u8>,
}

impl PageCompressor {
    pub fn new(kind: Compression) -> Result<PageCompressor> {
        let zstd = match kind {
            Compression::Zstd { level } => {
                let mut c =
                    zstd::bulk::Compressor::new(level).map_err(|e| Error::Compress(format!("zstd init: {e}")))?;
                // A page is one frame: a 4 KiB window and matching tables
                // are all it can use, and smaller tables are cheaper to
                // reset per frame (measured ~20% faster, same size).
                c.set_parameter(zstd::zstd_safe::CParameter::WindowLog(12))
                    .map_err(|e| Error::Compress(format!("zstd window: {e}")))?;
                Some(c)
            }
            _ => None,
        };
        let zlib = match kind {
            Compression::Zlib { level } => Some(flate2::Compress::new(flate2::Compression::new(level), true)),
            _ => None,
        };
        Ok(PageCompressor { kind, zstd, zlib, snappy: snap::raw::Encoder::new(), out: Vec::with_capacity(8192) })
    }

    /// Compress one page. `None` means "store it raw" (no compression
    /// configured, or the result is not smaller).
    pub fn compress(&mut self, page: &[u8]) -> Result<Option<&[u8]>> {
        self.out.clear();
        match self.kind {
            Compression::None => return Ok(None),
            Compression::Zstd { .. } => {
                let c = self.zstd.as_mut().expect("zstd compressor");
                self.out.reserve(zstd::zstd_safe::compress_bound(page.len()));
                c.compress_to_buffer(page, &mut self.out).map_err(|e| Error::Compress(format!("zstd: {e}")))?;
            }
            Compression::Zlib { .. } => {
                let z = self.zlib.as_mut().expect("zlib compressor");
                z.reset();
                // Room for a page that does not shrink; if it does not fit,
                // the page is stored raw anyway.
                self.out.reserve(page.len() + 64);
                let status = z
                    .compress_vec(page, &mut self.out, flate2::FlushCompress::Finish)
                    .map_err(|e| Error::Compress(format!("zlib: {e}")))?;
                if status != flate2::Status::StreamEnd {
                    return Ok(None);
                }
            }
            Compression::Snappy => {
                self.out.resize(snap::raw::max_compress_len(page.len()), 0);
                let n =
                    self.snappy.compress(page, &mut self.out).map_err(|e| Error::Compress(format!("snappy: {e}")))?;
                self.out.truncate(n);
            }
            Compression::Lzo => {
                self.out = lzo1x::compress(page, lzo1x::CompressLevel::default());
            }
        }
        Ok((self.out.len() < page.len()).then_some(&self.out[..]))
    }
}

/// The name of the compression a page descriptor's (or header's) flags
/// name, `None` for a page stored raw. More than one compression bit is an
/// error: nothing writes that, and readers would disagree on it.
pub fn flag_name(flags: u32) -> Result<Option<&'static str>, String> {
    let bits = flags & (flag::ZLIB | flag::LZO | flag::SNAPPY | flag::ZSTD);
    Ok(match bits {
        0 => None,
        flag::ZLIB => Some("zlib"),
        flag::LZO => Some("lzo"),
        flag::SNAPPY => Some("snappy"),
        flag::ZSTD => Some("zstd"),
        _ => return Err(format!("flags {flags:#x} name more than one compression")),
    })
}

/// Decompresses pages of a kdump-compressed dump, reusing its state
/// (a zstd context, an inflate state) from page to page.
pub struct PageDecoder {
    zstd: Option<zstd::bulk::Decompressor<'static>>,
    zlib: flate2::Decompress,
    snappy: snap::raw::Decoder,
}

impl Default for PageDecoder {
    fn default() -> Self {
        PageDecoder { zstd: None, zlib: flate2::Decompress::new(true), snappy: snap::raw::Decoder::new() }
    }
}

impl PageDecoder {
    /// Decompress `src`, stored with descriptor `flags`, into `dst`, which it
    /// must fill exactly. The error says what went wrong, without location
    /// (the caller knows the pfn and offset).
    pub fn decode(&mut self, flags: u32, src: &[u8], dst: &mut [u8]) -> Result<(), String> {
        let Some(kind) = flag_name(flags)? else {
            if src.len() != dst.len() {
                return Err(format!("stored uncompressed but {} bytes long, not {}", src.len(), dst.len()));
            }
            dst.copy_from_slice(src);
            return Ok(());
        };
        let n = match kind {
            "zstd" => {
                if self.zstd.is_none() {
                    self.zstd = Some(zstd::bulk::Decompressor::new().map_err(|e| format!("zstd init: {e}"))?);
                }
                let d = self.zstd.as_mut().ok_or("zstd")?;
                d.decompress_to_buffer(src, dst).map_err(|e| format!("zstd: {e}"))?
            }
            "zlib" => {
                self.zlib.reset(true);
                let status = self
                    .zlib
                    .decompress(src, dst, flate2::FlushDecompress::Finish)
                    .map_err(|e| format!("zlib: {e}"))?;
                if status != flate2::Status::StreamEnd {
                    return Err(format!(
                        "zlib: the stream does not end within one page ({} of {} input bytes used)",
                        self.zlib.total_in(),
                        src.len()
                    ));
                }
                self.zlib.total_out() as usize
            }
            "snappy" => {
                let len = snap::raw::decompress_len(src).map_err(|e| format!("snappy: {e}"))?;
                if len != dst.len() {
                    return Err(format!("snappy: decompresses to {len} bytes, not {}", dst.len()));
                }
                self.snappy.decompress(src, dst).map_err(|e| format!("snappy: {e}"))?
            }
            _ => {
                lzo1x::decompress(src, dst).map_err(|e| format!("lzo: {e}"))?;
                dst.len()
            }
        };
        if n != dst.len() {
            return Err(format!("{kind}: decompresses to {n} bytes, not {}", dst.len()));
        }
        Ok(())
    }
}

/// Decompress one page stored with `flags`; used by tests.
pub fn decompress(flags: u32, data: &[u8], page_size: usize) -> Result<Vec<u8>> {
    let mut out = vec![0u8; page_size];
    PageDecoder::default().decode(flags, data, &mut out).map_err(Error::Compress)?;
    Ok(out)
}
