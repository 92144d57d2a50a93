/* tests/vm/guest/kxmem.c — the matrix workload of kexdump's VM harness.
 *
 * A static program (gcc -static -O2; built by lib.sh's kx_build_kxmem into
 * the cache, keyed by this file's hash) that the primary guest's /init runs
 * before it panics. It makes every kind of page the dump levels and the
 * kernels' page-type rules tell apart, then keeps all of it mapped and
 * sleeps while the guest crashes:
 *
 *   thp=MIB              anonymous memory, madvise(MADV_HUGEPAGE), written
 *                        (the last quarter written with zeros: zero THP
 *                        subpages)
 *   hugetlb_anon=N       N MAP_HUGETLB pages, written (half with zeros)
 *   hugetlb_file=PATH    a file on a hugetlbfs mount, mapped shared,
 *   hugetlb_file_pages=N N huge pages of it written
 *   tmpfs=DIR            files on a tmpfs mounted huge=always (large
 *   tmpfs_mib=MIB        page-cache folios), written with write(2)
 *   shmem_mib=MIB        a memfd and a MAP_SHARED|MAP_ANONYMOUS mapping,
 *                        written (shmem, swap-backed)
 *   slab_dir=DIR         FILES empty files in DIRS directories under DIR
 *   files=N dirs=N       (inodes, dentries), SOCKETS unix socket pairs and
 *   sockets=N            as many UDP sockets, pipes (all kept open): slab
 *   free_mib=MIB         written, then unmapped: free pages with data
 *   ready=PATH           written ("ready") when all of it is in place
 *
 * It prints "KXMEM: ..." lines (one per step, with what it got) to stdout.
 * Every failure is fatal (exit 1, "KXMEM: FAIL ..."): the host must not
 * take a vmcore of a workload that did not happen.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <unistd.h>

#ifndef MAP_HUGETLB
#define MAP_HUGETLB 0x40000
#endif
#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif

#define MIB (1UL << 20)
#define HPAGE (2UL << 20)
#define PAGE 4096UL

static void die(const char *fmt, ...)
{
    va_list ap;
    int e = errno;
    printf("KXMEM: FAIL ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(": %s\n", strerror(e));
    fflush(stdout);
    exit(1);
}

static void say(const char *fmt, ...)
{
    va_list ap;
    printf("KXMEM: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

/* fill: every 4 KiB page gets a distinct non-zero pattern (tag, index). */
static void fill(unsigned char *p, size_t len, uint64_t tag)
{
    for (size_t off = 0; off < len; off += PAGE) {
        uint64_t *w = (uint64_t *)(p + off);
        uint64_t v = (tag << 40) ^ (off / PAGE) ^ 0x6b657864756d70ULL;
        for (size_t i = 0; i < PAGE / 8; i++)
            w[i] = v + i;
    }
}

/* zero_touch: write a zero into every page (allocates it, keeps it zero). */
static void zero_touch(unsigned char *p, size_t len)
{
    for (size_t off = 0; off < len; off += PAGE)
        ((volatile unsigned char *)p)[off] = 0;
}

static const char *arg(int argc, char **argv, const char *key, const char *dflt)
{
    size_t k = strlen(key);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], key, k) && argv[i][k] == '=')
            return argv[i] + k + 1;
    return dflt;
}

static long num(int argc, char **argv, const char *key)
{
    const char *v = arg(argc, argv, key, "0");
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 0) {
        printf("KXMEM: FAIL bad %s=%s\n", key, v);
        exit(2);
    }
    return n;
}

/* A region of LEN bytes aligned to 2 MiB (THP needs PMD alignment). */
static unsigned char *map_aligned(size_t len)
{
    unsigned char *raw = mmap(NULL, len + HPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        die("mmap %zu bytes", len + HPAGE);
    uintptr_t a = ((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1);
    return (unsigned char *)a;
}

static void write_all(int fd, const unsigned char *buf, size_t len, const char *what)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("write %s", what);
        }
        buf += n;
        len -= (size_t)n;
    }
}

int main(int argc, char **argv)
{
    long thp = num(argc, argv, "thp");
    long hl_anon = num(argc, argv, "hugetlb_anon");
    const char *hl_file = arg(argc, argv, "hugetlb_file", NULL);
    long hl_file_pages = num(argc, argv, "hugetlb_file_pages");
    const char *tmpfs = arg(argc, argv, "tmpfs", NULL);
    long tmpfs_mib = num(argc, argv, "tmpfs_mib");
    long shmem_mib = num(argc, argv, "shmem_mib");
    const char *slab_dir = arg(argc, argv, "slab_dir", NULL);
    long files = num(argc, argv, "files");
    long dirs = num(argc, argv, "dirs");
    long sockets = num(argc, argv, "sockets");
    long free_mib = num(argc, argv, "free_mib");
    const char *ready = arg(argc, argv, "ready", NULL);

    if (argc < 2 || !ready) {
        fprintf(stderr, "usage: kxmem ready=PATH [thp=MIB] [hugetlb_anon=N] [hugetlb_file=PATH hugetlb_file_pages=N]\n"
                        "       [tmpfs=DIR tmpfs_mib=MIB] [shmem_mib=MIB] [slab_dir=DIR files=N dirs=N sockets=N]\n"
                        "       [free_mib=MIB]\n");
        return 2;
    }
    /* The init is killed by the panic, never by a stray signal to us. */
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);

    /* 1. free pages holding data: written, then given back to the buddy
     *    allocator (first, so later steps do not reuse all of them). */
    if (free_mib) {
        size_t len = (size_t)free_mib * MIB;
        unsigned char *p = map_aligned(len);
        fill(p, len, 1);
        if (munmap(p, len))
            die("munmap the freed region");
        say("freed %ld MiB of written anonymous memory", free_mib);
    }

    /* 2. anonymous THP. */
    if (thp) {
        size_t len = (size_t)thp * MIB;
        len = (len + HPAGE - 1) & ~(HPAGE - 1);
        unsigned char *p = map_aligned(len);
        if (madvise(p, len, MADV_HUGEPAGE))
            die("madvise MADV_HUGEPAGE");
        size_t zero = (len / 4) & ~(HPAGE - 1);
        fill(p, len - zero, 2);
        zero_touch(p + len - zero, zero);
        say("anonymous THP: %zu MiB madvised and written (%zu MiB of it zeros)", len / MIB, zero / MIB);
    }

    /* 3. hugetlb: anonymous MAP_HUGETLB and a hugetlbfs file. */
    if (hl_anon) {
        size_t len = (size_t)hl_anon * HPAGE;
        unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
        if (p == MAP_FAILED)
            die("mmap MAP_HUGETLB %ld pages", hl_anon);
        size_t half = (size_t)(hl_anon / 2) * HPAGE;
        fill(p, len - half, 3);
        zero_touch(p + len - half, half);
        say("hugetlb anonymous: %ld huge pages written (%zu of them zeros)", hl_anon, half / HPAGE);
    }
    if (hl_file && hl_file_pages) {
        size_t len = (size_t)hl_file_pages * HPAGE;
        int fd = open(hl_file, O_RDWR | O_CREAT, 0600);
        if (fd < 0)
            die("open %s", hl_file);
        if (ftruncate(fd, (off_t)len))
            die("ftruncate %s", hl_file);
        unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            die("mmap %s", hl_file);
        fill(p, len, 4);
        say("hugetlbfs file %s: %ld huge pages written", hl_file, hl_file_pages);
    }

    /* 4. page cache in large folios: tmpfs mounted huge=always. */
    if (tmpfs && tmpfs_mib) {
        static unsigned char buf[HPAGE];
        char path[4096];
        long nfiles = 4, written = 0;
        for (long f = 0; f < nfiles; f++) {
            snprintf(path, sizeof path, "%s/large-%ld.bin", tmpfs, f);
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0)
                die("open %s", path);
            long mib = tmpfs_mib / nfiles;
            for (long m = 0; m < mib; m += 2) {
                if (f == nfiles - 1)
                    memset(buf, 0, sizeof buf); /* one file of zeros */
                else
                    fill(buf, sizeof buf, 0x100 + (uint64_t)(f << 16) + (uint64_t)m);
                write_all(fd, buf, sizeof buf, path);
                written += 2;
            }
            if (close(fd))
                die("close %s", path);
        }
        say("tmpfs huge=always: %ld MiB in %ld files under %s", written, nfiles, tmpfs);
    }

    /* 5. shmem: a memfd and a shared anonymous mapping. */
    if (shmem_mib) {
        size_t len = (size_t)shmem_mib * MIB / 2;
        int fd = memfd_create("kxmem-shm", 0);
        if (fd < 0)
            die("memfd_create");
        if (ftruncate(fd, (off_t)len))
            die("ftruncate memfd");
        unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            die("mmap memfd");
        fill(p, len, 5);
        unsigned char *q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (q == MAP_FAILED)
            die("mmap MAP_SHARED|MAP_ANONYMOUS");
        fill(q, len / 2, 6);
        zero_touch(q + len / 2, len - len / 2);
        say("shmem: %zu MiB memfd, %zu MiB shared anonymous (half zeros)", len / MIB, len / MIB);
    }

    /* 6. slab: inodes and dentries, sockets, pipes. */
    if (slab_dir && (files || sockets)) {
        char path[4096];
        long made = 0, socks = 0, pipes = 0;
        if (dirs < 1)
            dirs = 1;
        struct rlimit rl = {.rlim_cur = 16384, .rlim_max = 16384};
        if (setrlimit(RLIMIT_NOFILE, &rl))
            die("setrlimit RLIMIT_NOFILE 16384");
        if (mkdir(slab_dir, 0755) && errno != EEXIST)
            die("mkdir %s", slab_dir);
        for (long d = 0; d < dirs; d++) {
            snprintf(path, sizeof path, "%s/d%04ld", slab_dir, d);
            if (mkdir(path, 0755) && errno != EEXIST)
                die("mkdir %s", path);
        }
        for (long i = 0; i < files; i++) {
            snprintf(path, sizeof path, "%s/d%04ld/f%06ld", slab_dir, i % dirs, i);
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0)
                die("create %s", path);
            close(fd);
            made++;
        }
        for (long i = 0; i < sockets; i++) {
            int sv[2], pv[2];
            if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
                die("socketpair #%ld", i);
            if (socket(AF_INET, SOCK_DGRAM, 0) < 0)
                die("socket AF_INET #%ld", i);
            socks += 3;
            if (i % 4 == 0) {
                if (pipe(pv))
                    die("pipe #%ld", i);
                pipes++;
            }
        }
        say("slab: %ld files in %ld directories, %ld sockets, %ld pipes", made, dirs, socks, pipes);
    }

    int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die("open %s", ready);
    write_all(fd, (const unsigned char *)"ready\n", 6, ready);
    close(fd);
    say("ready; sleeping with everything mapped (pid %d)", (int)getpid());
    for (;;)
        pause();
}
