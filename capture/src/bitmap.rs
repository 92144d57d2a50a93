//! A bitmap over a window of pfns, stored in the kdump on-disk bit order
//! (bit `pfn & 7` of byte `pfn >> 3`, i.e. little-endian words).

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitmap {
    start_pfn: u64,
    len: u64,
    words: Vec<u64>,
}

impl Bitmap {
    /// An all-clear bitmap for `[start_pfn, start_pfn + len)`; `start_pfn`
    /// must be a multiple of 64 so words map to whole on-disk bytes.
    pub fn new(start_pfn: u64, len: u64) -> Bitmap {
        debug_assert_eq!(start_pfn % 64, 0);
        Bitmap { start_pfn, len, words: vec![0; len.div_ceil(64) as usize] }
    }

    pub fn start(&self) -> u64 {
        self.start_pfn
    }
    pub fn end(&self) -> u64 {
        self.start_pfn + self.len
    }

    fn index(&self, pfn: u64) -> Option<(usize, u64)> {
        let rel = pfn.checked_sub(self.start_pfn)?;
        (rel < self.len).then(|| ((rel / 64) as usize, 1u64 << (rel % 64)))
    }

    pub fn get(&self, pfn: u64) -> bool {
        self.index(pfn).is_some_and(|(w, b)| self.words[w] & b != 0)
    }

    pub fn set(&mut self, pfn: u64) {
        if let Some((w, b)) = self.index(pfn) {
            self.words[w] |= b;
        }
    }

    /// Clear `pfn`; returns whether it was set.
    pub fn clear(&mut self, pfn: u64) -> bool {
        match self.index(pfn) {
            Some((w, b)) => {
                let was = self.words[w] & b != 0;
                self.words[w] &= !b;
                was
            }
            None => false,
        }
    }

    /// Set every pfn in `[from, to)` that lies in the window.
    pub fn set_range(&mut self, from: u64, to: u64) {
        let (from, to) = (from.max(self.start()), to.min(self.end()));
        let mut pfn = from;
        while pfn < to {
            let (w, _) = self.index(pfn).expect("in window");
            let bit = (pfn - self.start_pfn) % 64;
            let n = (64 - bit).min(to - pfn);
            let mask = if n == 64 { u64::MAX } else { ((1u64 << n) - 1) << bit };
            self.words[w] |= mask;
            pfn += n;
        }
    }

    /// Clear every pfn in `[from, to)` that lies in the window.
    pub fn clear_range(&mut self, from: u64, to: u64) {
        let (from, to) = (from.max(self.start()), to.min(self.end()));
        let mut pfn = from;
        while pfn < to {
            let rel = pfn - self.start_pfn;
            let bit = rel % 64;
            let n = (64 - bit).min(to - pfn);
            let mask = if n == 64 { u64::MAX } else { ((1u64 << n) - 1) << bit };
            self.words[(rel / 64) as usize] &= !mask;
            pfn += n;
        }
    }

    pub fn count(&self) -> u64 {
        self.words.iter().map(|w| w.count_ones() as u64).sum()
    }

    /// Set pfns below `pfn` (a pfn of this window, or its end): the
    /// one-pfn-at-a-time oracle [`Self::ranks_of_set`] is tested against.
    #[cfg(test)]
    fn count_below(&self, pfn: u64) -> u64 {
        let rel = pfn.saturating_sub(self.start_pfn).min(self.len);
        let (whole, bits) = ((rel / 64) as usize, rel % 64);
        let mut n: u64 = self.words[..whole].iter().map(|w| w.count_ones() as u64).sum();
        if bits > 0 {
            n += (self.words[whole] & ((1u64 << bits) - 1)).count_ones() as u64;
        }
        n
    }

    /// For each of `pfns` (ascending) that is set, the pfn and how many set
    /// pfns lie below it, in one pass over the words instead of a count
    /// from the window's start per pfn (a save asks this of ~15k pfns).
    pub fn ranks_of_set(&self, pfns: &[u64]) -> Vec<(u64, u64)> {
        debug_assert!(pfns.is_sorted());
        let mut out = Vec::new();
        let (mut word, mut below) = (0usize, 0u64);
        for &pfn in pfns {
            if !self.get(pfn) {
                continue;
            }
            let rel = pfn - self.start_pfn;
            let w = (rel / 64) as usize;
            below += self.words[word..w].iter().map(|x| x.count_ones() as u64).sum::<u64>();
            word = w;
            let in_word = (self.words[w] & ((1u64 << (rel % 64)) - 1)).count_ones() as u64;
            out.push((pfn, below + in_word));
        }
        out
    }

    /// Set pfns in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.words.iter().enumerate().flat_map(move |(i, &w)| {
            let base = self.start_pfn + i as u64 * 64;
            BitIter(w).map(move |b| base + b as u64)
        })
    }

    /// The window's bytes as stored in a kdump bitmap.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self.words.iter().flat_map(|w| w.to_le_bytes()).collect();
        out.truncate(self.len.div_ceil(8) as usize);
        out
    }

    pub fn from_bytes(start_pfn: u64, len: u64, bytes: &[u8]) -> Bitmap {
        let mut b = Bitmap::new(start_pfn, len);
        for (i, w) in b.words.iter_mut().enumerate() {
            let mut le = [0u8; 8];
            for (j, byte) in le.iter_mut().enumerate() {
                *byte = bytes.get(i * 8 + j).copied().unwrap_or(0);
            }
            *w = u64::from_le_bytes(le);
        }
        // Bits past `len` are not part of the window.
        if !len.is_multiple_of(64) {
            if let Some(last) = b.words.last_mut() {
                *last &= (1u64 << (len % 64)) - 1;
            }
        }
        b
    }
}

struct BitIter(u64);

impl Iterator for BitIter {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.0 == 0 {
            return None;
        }
        let b = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_order_and_ranges() {
        let mut b = Bitmap::new(64, 200);
        b.set_range(66, 200);
        assert!(!b.get(65) && b.get(66) && b.get(199) && !b.get(200));
        assert_eq!(b.count(), 134);
        let mut c = b.clone();
        c.clear_range(0, 130);
        assert!(!c.get(129) && c.get(130) && c.count() == 70);
        assert!(b.clear(66));
        assert!(!b.clear(66));
        let bytes = b.to_bytes();
        assert_eq!(bytes.len(), 25);
        assert_eq!(bytes[0], 0b1111_1000); // pfns 64..72: 67..71 set
        assert_eq!(Bitmap::from_bytes(64, 200, &bytes), b);
        assert_eq!(b.iter().next(), Some(67));
        assert_eq!(b.iter().count() as u64, b.count());
    }

    #[test]
    fn ranks_of_set_pfns_equal_count_below_each() {
        let mut b = Bitmap::new(128, 1000);
        for p in [128, 129, 191, 192, 300, 301, 640, 1000, 1127] {
            b.set(p);
        }
        b.set_range(700, 900);
        let asked: Vec<u64> =
            vec![0, 128, 129, 130, 191, 192, 250, 300, 301, 640, 700, 750, 899, 900, 1000, 1127, 1128, 5000];
        let want: Vec<(u64, u64)> = asked.iter().filter(|&&p| b.get(p)).map(|&p| (p, b.count_below(p))).collect();
        assert_eq!(b.ranks_of_set(&asked), want);
        assert!(want.len() > 10);
    }
}
