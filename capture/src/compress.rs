//! Per-page compression for kdump-compressed dumps. Each page is compressed
//! on its own (one zstd frame, one zlib stream, one raw snappy block), as
//! crash and makedumpfile decompress them, and stored raw when that is not
//! smaller.

use crate::error::{Error, Result};
use std::io::Write;
use std::str::FromStr;

/// kdump header `status` bits for the page compression in use.
pub mod flag {
    pub const ZLIB: u32 = 0x1;
    pub const LZO: u32 = 0x2;
    pub const SNAPPY: u32 = 0x4;
    pub const INCOMPLETE: u32 = 0x8;
    pub const ZSTD: u32 = 0x20;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Zstd { level: i32 },
    Zlib { level: u32 },
    Snappy,
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
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zstd { .. } => "zstd",
            Compression::Zlib { .. } => "zlib",
            Compression::Snappy => "snappy",
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
            _ => Err(format!("unknown compression {s:?} (expected zstd, zlib, snappy or none)")),
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
        }
        Ok((self.out.len() < page.len()).then_some(&self.out[..]))
    }
}

/// Decompress one page stored with `flags`; used by verification and tests.
pub fn decompress(flags: u32, data: &[u8], page_size: usize) -> Result<Vec<u8>> {
    let out = if flags & flag::ZSTD != 0 {
        zstd::bulk::decompress(data, page_size).map_err(|e| Error::Compress(format!("zstd: {e}")))?
    } else if flags & flag::ZLIB != 0 {
        let mut d = flate2::write::ZlibDecoder::new(Vec::with_capacity(page_size));
        d.write_all(data).map_err(|e| Error::Compress(format!("zlib: {e}")))?;
        d.finish().map_err(|e| Error::Compress(format!("zlib: {e}")))?
    } else if flags & flag::SNAPPY != 0 {
        snap::raw::Decoder::new().decompress_vec(data).map_err(|e| Error::Compress(format!("snappy: {e}")))?
    } else if flags & flag::LZO != 0 {
        return Err(Error::Unsupported("LZO-compressed pages".into()));
    } else {
        data.to_vec()
    };
    if out.len() != page_size {
        return Err(Error::Compress(format!("page decompressed to {} bytes, not {page_size}", out.len())));
    }
    Ok(out)
}
