//! Page compression on worker threads, handed back in submission order.
//!
//! The writer submits the pages of a dump one by one, in the order their
//! data goes to disk; each comes back, through the writer's `retire`
//! callback, as zero, raw or compressed bytes, in that same order. Every
//! page is compressed on its own with the same settings, so the bytes
//! that reach the sink do not depend on how many threads compressed them,
//! nor on which one finished first: the dump is the same file for any
//! thread count. Only the writer's thread touches the sink, so the order
//! of writes and barriers that makes a cut dump readable is unchanged.
//!
//! With one thread nothing is spawned: each page is compressed straight
//! from the input's mapping, as before threads existed. With more, the
//! writer's thread reads each page (the input is not shared between
//! threads), tests it for zeros and copies it into a batch; workers
//! compress whole batches. At most [`BATCHES_PER_THREAD`] batches per
//! thread are in flight, so memory is bounded whatever the dump's size:
//! about `2 × BATCH_PAGES × 2 × 4 KiB` = 1 MiB per thread.

use crate::compress::{Compression, PageCompressor};
use crate::error::{Error, Result};
use crate::memory::PhysMem;
use crate::page::PAGE_SIZE;
use crate::select::is_zero_page;
use std::collections::VecDeque;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::Scope;

/// Pages per batch: large enough that handing a batch over costs little
/// next to compressing it, small enough to keep the queue's memory low.
pub const BATCH_PAGES: usize = 64;

/// Batches in flight per worker: one being compressed, one waiting.
pub const BATCHES_PER_THREAD: usize = 2;

/// Most compression threads: beyond this the writer's own thread (reads,
/// zero tests, writes) is the bottleneck, and the queue's memory grows.
pub const MAX_THREADS: usize = 64;

/// What one submitted item became.
pub enum Outcome<'a> {
    /// The page is all zeros and zero pages are left out (dump level bit 1).
    Zero,
    /// Compression did not make the page smaller (or none is configured):
    /// store these bytes as they are.
    Raw(&'a [u8]),
    /// The page compressed to these bytes.
    Compressed(&'a [u8]),
    /// An item submitted with [`Pipeline::marker`]: no page, only its
    /// place in the order.
    Marker,
}

/// Receives each item's outcome, in submission order, with the tag it was
/// submitted with.
pub type Retire<'r, T> = dyn FnMut(T, Outcome<'_>) -> Result<()> + 'r;

pub struct Pipeline<'scope, T> {
    zero_test: bool,
    mode: Mode<'scope, T>,
}

enum Mode<'scope, T> {
    Inline { comp: Box<PageCompressor>, scratch: Vec<u8> },
    Pool(Pool<'scope, T>),
}

/// What a batch says of one item.
#[derive(Clone, Copy)]
enum Kind {
    Zero,
    Marker,
    /// Page number `i` of the batch's `pages`.
    Page(usize),
}

struct Batch<T> {
    items: Vec<(T, Kind)>,
    /// The batch's pages, `PAGE_SIZE` bytes each, as `Kind::Page` numbers them.
    pages: Vec<u8>,
    /// Filled by the worker: each page's compressed bytes, back to back.
    out: Vec<u8>,
    /// Filled by the worker, one per page: its length in `out`, or `None`
    /// to store it raw.
    sizes: Vec<Option<usize>>,
}

impl<T> Batch<T> {
    fn new() -> Batch<T> {
        Batch {
            items: Vec::with_capacity(BATCH_PAGES),
            pages: Vec::with_capacity(BATCH_PAGES * PAGE_SIZE as usize),
            out: Vec::with_capacity(BATCH_PAGES * PAGE_SIZE as usize),
            sizes: Vec::with_capacity(BATCH_PAGES),
        }
    }

    fn clear(&mut self) {
        self.items.clear();
        self.pages.clear();
        self.out.clear();
        self.sizes.clear();
    }

    fn page_count(&self) -> usize {
        self.pages.len() / PAGE_SIZE as usize
    }
}

struct Pool<'scope, T> {
    /// `None` once closed (the workers then stop after their batch).
    jobs: Option<SyncSender<(u64, Batch<T>)>>,
    done: Receiver<(u64, Result<Batch<T>>)>,
    /// The batch being filled.
    filling: Batch<T>,
    /// Sequence number of the next batch sent.
    next_seq: u64,
    /// Finished batches not yet retired, from the next to retire on
    /// (`None`: still being compressed). A failed batch waits its turn
    /// too, so the pages before it are retired first, as with one thread.
    waiting: VecDeque<Option<Result<Batch<T>>>>,
    /// Batches to reuse.
    spare: Vec<Batch<T>>,
    max_in_flight: usize,
    /// Backs pages the input cannot lend whole (`PhysMem::with_page`).
    scratch: Vec<u8>,
    _workers: std::marker::PhantomData<&'scope ()>,
}

impl<'scope, T: Send + Copy + 'scope> Pipeline<'scope, T> {
    /// A pipeline compressing with `compression` on `threads` threads
    /// (1: on the caller's, no thread spawned). `zero_test`: report
    /// all-zero pages as [`Outcome::Zero`] instead of compressing them.
    pub fn new<'env>(
        scope: &'scope Scope<'scope, 'env>,
        threads: usize,
        compression: Compression,
        zero_test: bool,
    ) -> Result<Pipeline<'scope, T>> {
        let threads = threads.clamp(1, MAX_THREADS);
        if threads == 1 {
            let mode = Mode::Inline { comp: Box::new(PageCompressor::new(compression)?), scratch: Vec::new() };
            return Ok(Pipeline { zero_test, mode });
        }
        let max_in_flight = threads * BATCHES_PER_THREAD;
        let (jobs, job_rx) = sync_channel::<(u64, Batch<T>)>(max_in_flight);
        let (done_tx, done) = channel();
        let job_rx = Arc::new(Mutex::new(job_rx));
        for _ in 0..threads {
            // Made here so that a compressor that cannot start fails the
            // save, not a worker.
            let comp = PageCompressor::new(compression)?;
            let (job_rx, done_tx) = (Arc::clone(&job_rx), done_tx.clone());
            scope.spawn(move || worker(comp, job_rx, done_tx));
        }
        let pool = Pool {
            jobs: Some(jobs),
            done,
            filling: Batch::new(),
            next_seq: 0,
            waiting: VecDeque::new(),
            spare: Vec::new(),
            max_in_flight,
            scratch: Vec::new(),
            _workers: std::marker::PhantomData,
        };
        Ok(Pipeline { zero_test, mode: Mode::Pool(pool) })
    }

    /// Submit page `pfn` of `mem`. Its outcome reaches `retire` after
    /// those of every item submitted before it (with one thread, at once).
    pub fn page(&mut self, mem: &PhysMem, pfn: u64, tag: T, retire: &mut Retire<'_, T>) -> Result<()> {
        let zero_test = self.zero_test;
        match &mut self.mode {
            Mode::Inline { comp, scratch } => mem.with_page(pfn, scratch, |page| {
                if zero_test && is_zero_page(page) {
                    return retire(tag, Outcome::Zero);
                }
                match comp.compress(page)? {
                    Some(c) => retire(tag, Outcome::Compressed(c)),
                    None => retire(tag, Outcome::Raw(page)),
                }
            })?,
            Mode::Pool(pool) => {
                let filling = &mut pool.filling;
                let kind = mem.with_page(pfn, &mut pool.scratch, |page| {
                    if zero_test && is_zero_page(page) {
                        Kind::Zero
                    } else {
                        let i = filling.page_count();
                        filling.pages.extend_from_slice(page);
                        Kind::Page(i)
                    }
                })?;
                filling.items.push((tag, kind));
                pool.after_push(retire)
            }
        }
    }

    /// Submit an item with no page: `retire` gets [`Outcome::Marker`] for
    /// it in its place in the order.
    pub fn marker(&mut self, tag: T, retire: &mut Retire<'_, T>) -> Result<()> {
        match &mut self.mode {
            Mode::Inline { .. } => retire(tag, Outcome::Marker),
            Mode::Pool(pool) => {
                pool.filling.items.push((tag, Kind::Marker));
                pool.after_push(retire)
            }
        }
    }

    /// Retire everything submitted so far. The pipeline can take more
    /// items afterwards.
    pub fn flush(&mut self, retire: &mut Retire<'_, T>) -> Result<()> {
        if let Mode::Pool(pool) = &mut self.mode {
            pool.send_filling()?;
            while !pool.waiting.is_empty() {
                pool.receive_one()?;
                pool.retire_ready(retire)?;
            }
        }
        Ok(())
    }
}

impl<T: Send + Copy> Pool<'_, T> {
    fn after_push(&mut self, retire: &mut Retire<'_, T>) -> Result<()> {
        if self.filling.items.len() < BATCH_PAGES {
            return Ok(());
        }
        // Wait for room: the oldest batch is the one the order needs next.
        while self.waiting.len() >= self.max_in_flight {
            self.receive_one()?;
            self.retire_ready(retire)?;
        }
        self.send_filling()?;
        // Take what is done already without waiting.
        while let Ok(msg) = self.done.try_recv() {
            self.file(msg)?;
        }
        self.retire_ready(retire)
    }

    fn send_filling(&mut self) -> Result<()> {
        if self.filling.items.is_empty() {
            return Ok(());
        }
        let next = self.spare.pop().unwrap_or_else(Batch::new);
        let batch = std::mem::replace(&mut self.filling, next);
        let jobs = self.jobs.as_ref().ok_or_else(|| lost("the job queue is closed"))?;
        jobs.send((self.next_seq, batch)).map_err(|_| lost("every compression thread has stopped"))?;
        self.next_seq += 1;
        self.waiting.push_back(None);
        Ok(())
    }

    /// Wait for one batch to come back.
    fn receive_one(&mut self) -> Result<()> {
        let msg = self.done.recv().map_err(|_| lost("every compression thread has stopped"))?;
        self.file(msg)
    }

    /// Put a finished batch in its place among those waiting.
    fn file(&mut self, (seq, result): (u64, Result<Batch<T>>)) -> Result<()> {
        let first = self.next_seq - self.waiting.len() as u64;
        let slot = seq.checked_sub(first).and_then(|i| self.waiting.get_mut(i as usize));
        *slot.ok_or_else(|| lost("a batch came back out of range"))? = Some(result);
        Ok(())
    }

    /// Retire the finished batches at the front of the order.
    fn retire_ready(&mut self, retire: &mut Retire<'_, T>) -> Result<()> {
        while let Some(Some(_)) = self.waiting.front() {
            let Some(Some(result)) = self.waiting.pop_front() else { break };
            let mut batch = result?;
            let mut out_at = 0;
            for &(tag, kind) in &batch.items {
                let outcome = match kind {
                    Kind::Zero => Outcome::Zero,
                    Kind::Marker => Outcome::Marker,
                    Kind::Page(i) => match batch.sizes.get(i).copied().flatten() {
                        Some(n) => {
                            let c = &batch.out[out_at..out_at + n];
                            out_at += n;
                            Outcome::Compressed(c)
                        }
                        None => Outcome::Raw(&batch.pages[i * PAGE_SIZE as usize..(i + 1) * PAGE_SIZE as usize]),
                    },
                };
                retire(tag, outcome)?;
            }
            batch.clear();
            self.spare.push(batch);
        }
        Ok(())
    }
}

impl<T> Drop for Pool<'_, T> {
    fn drop(&mut self) {
        // Closing the queue ends the workers once their batch is done (a
        // result nobody reads is dropped), so the scope's join returns.
        self.jobs = None;
    }
}

fn lost(why: &str) -> Error {
    Error::Compress(format!("parallel compression: {why}"))
}

type Jobs<T> = Arc<Mutex<Receiver<(u64, Batch<T>)>>>;

fn worker<T>(mut comp: PageCompressor, jobs: Jobs<T>, done: Sender<(u64, Result<Batch<T>>)>) {
    loop {
        // The lock is held only to take one batch.
        let job = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok((seq, mut batch)) = job else { return };
        let result = compress_batch(&mut comp, &mut batch).map(|()| batch);
        if done.send((seq, result)).is_err() {
            return;
        }
    }
}

fn compress_batch<T>(comp: &mut PageCompressor, batch: &mut Batch<T>) -> Result<()> {
    let Batch { pages, out, sizes, .. } = batch;
    for page in pages.chunks_exact(PAGE_SIZE as usize) {
        match comp.compress(page)? {
            Some(c) => {
                out.extend_from_slice(c);
                sizes.push(Some(c.len()));
            }
            None => sizes.push(None),
        }
    }
    Ok(())
}
