/*
 * tensor_io.c: reading and writing .pb (ONNX TensorProto) and .npy tensor files, and the
 * whole-file read and temporary-then-rename write every dpcc output goes through.
 */
#include "tensor_io.h"

#include "onnx.pb-c.h"
#include "onnx_tensor.h"
#include "outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* No valid tensor file is larger than the largest tensor plus room for its header. */
#define TENSOR_FILE_MAX ((uint64_t)DP_MAX_ELEMENTS * 8 + ((uint64_t)1 << 20))
/* numpy writes headers of a few hundred bytes; a long one is malformed, not big. */
#define NPY_MAX_HEADER 16384
#define NPY_MAGIC "\x93NUMPY"

dp_status dp_file_read(const char *path, dp_arena *a, uint64_t max_bytes, unsigned char **buf,
                       size_t *len, dp_error *err)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dp_fail(err, DP_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return dp_fail(err, DP_EIO, "%s: not a regular file", path);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size > max_bytes || size > SIZE_MAX - 128) {
        close(fd);
        return dp_fail(err, DP_EINPUT, "%s: file of %llu bytes is above the limit of %llu", path,
                       (unsigned long long)size, (unsigned long long)max_bytes);
    }
    size_t cap = ((size_t)size + 64) & ~(size_t)63;
    unsigned char *p = a ? dp_arena_alloc(a, cap) : aligned_alloc(64, cap);
    if (!p) {
        close(fd);
        return dp_fail(err, DP_ENOMEM, "%s: out of memory for a file of %llu bytes", path,
                       (unsigned long long)size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, p + got, (size_t)size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            close(fd);
            if (!a)
                free(p);
            return e ? dp_fail(err, DP_EIO, "%s: cannot read: %s", path, strerror(e))
                     : dp_fail(err, DP_EIO, "%s: the file shrank while being read", path);
        }
        got += (size_t)r;
    }
    close(fd);
    memset(p + size, 0, cap - (size_t)size);
    *buf = p;
    *len = (size_t)size;
    return DP_OK;
}

dp_status dp_file_read_dist(dp_dist *d, const char *path, dp_arena *a, uint64_t max_bytes,
                            unsigned char **buf, size_t *len, dp_error *err)
{
    *buf = NULL;
    *len = 0;
    dp_status st = dp_dist_leads(d) ? dp_file_read(path, a, max_bytes, buf, len, err) : DP_OK;
    st = dp_dist_bcast(d, st, a, buf, len, err);
    if (st != DP_OK && dp_dist_leads(d) && !a) {
        free(*buf); /* read, but another rank had no room for it */
        *buf = NULL;
    }
    return st;
}

/*
 * Creates a uniquely named file beside path. Not mkstemp: that creates the file with mode
 * 0600, and the output should get the permissions the user's umask gives any new file,
 * which open() applies and which cannot be read without a thread-unsafe umask() call.
 */
static int create_temp(const char *path, char *tmp, size_t n)
{
    static atomic_uint counter;
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path + 1) : 0;
    const char *base = path + dir_len;
    for (int attempt = 0; attempt < 100; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15u ^ (uint64_t)getpid() << 32
                   ^ atomic_fetch_add(&counter, 1) * 0xBF58476D1CE4E5B9u;
        char suffix[9];
        for (int i = 0; i < 8; i++, x /= 36)
            suffix[i] = alphabet[x % 36];
        suffix[8] = '\0';
        if (snprintf(tmp, n, "%.*s.%s.%s.tmp", dir_len, path, base, suffix) >= (int)n) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

static int write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The parts into an open descriptor, in order; 0, or -1 with errno set. */
static int write_parts(int fd, const dp_chunk *parts, int n)
{
    for (int i = 0; i < n; i++)
        if (write_all(fd, parts[i].data, parts[i].len) != 0)
            return -1;
    return 0;
}

/*
 * The path a chain of symbolic links ends at, followed even where its last link dangles (the
 * file it names is then to be created); path itself where it is no link. malloc'd; NULL with
 * errno set (ELOOP past 40 links).
 */
static char *link_target(const char *path)
{
    char *cur = strdup(path);
    for (int hops = 0; cur && hops < 40; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
            return cur;
        char to[PATH_MAX];
        ssize_t len = readlink(cur, to, sizeof to - 1);
        if (len < 0) {
            free(cur);
            return NULL;
        }
        to[len] = '\0';
        /* a relative link is relative to the folder that holds it */
        const char *slash = strrchr(cur, '/');
        size_t dir = to[0] == '/' || !slash ? 0 : (size_t)(slash - cur + 1);
        char *next = malloc(dir + (size_t)len + 1);
        if (next) {
            memcpy(next, cur, dir);
            memcpy(next + dir, to, (size_t)len + 1);
        }
        free(cur);
        cur = next;
    }
    if (cur) {
        free(cur);
        errno = ELOOP;
    }
    return NULL;
}

/* A character device or FIFO (a terminal, /dev/null, a pipe) takes the bytes as they come:
 * there is nothing to rename over it, and replacing it with a file would break it. */
static dp_status write_in_place(const char *path, bool to_stdout, const dp_chunk *parts, int n,
                                dp_error *err)
{
    int fd = to_stdout ? STDOUT_FILENO : open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return dp_fail(err, DP_EIO, "%s: cannot open for writing: %s", path, strerror(errno));
    int ok = write_parts(fd, parts, n) == 0;
    int e = errno;
    if (!to_stdout && close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    return ok ? DP_OK : dp_fail(err, DP_EIO, "%s: cannot write: %s", path, strerror(e));
}

dp_status dp_file_write_atomic(const char *path, const dp_chunk *parts, int n, dp_error *err)
{
    struct stat st;
    if (strcmp(path, "-") == 0)
        return write_in_place("standard output", true, parts, n, err);
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))
            return write_in_place(path, false, parts, n, err);
        return dp_fail(err, DP_EIO, "%s: %s, not a file to write", path,
                       S_ISDIR(st.st_mode) ? "a folder" : "a block device or socket");
    }
    /* a regular file, or none yet: through a symbolic link, the file it names is replaced */
    char *target = link_target(path);
    if (!target)
        return dp_fail(err, DP_EIO, "%s: cannot follow the link: %s", path, strerror(errno));
    size_t cap = strlen(target) + 32;
    char *tmp = malloc(cap);
    sigset_t mask;
    dp_outputs_hold_signals(&mask);
    int fd = tmp ? create_temp(target, tmp, cap) : -1;
    if (fd < 0) {
        int e = tmp ? errno : ENOMEM;
        dp_outputs_release_signals(&mask);
        free(tmp);
        free(target);
        return dp_fail(err, DP_EIO, "%s: cannot create a file in its folder: %s", path,
                       strerror(e));
    }
    /* registered before the first byte, so that a signal mid-write removes it too */
    int slot = dp_outputs_track(tmp, target);
    dp_outputs_release_signals(&mask);
    if (slot < 0) {
        int e = errno;
        close(fd);
        free(target);
        return dp_fail(err, DP_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    int ok = write_parts(fd, parts, n) == 0;
    /* The data must be on disk before the rename makes it visible under the final name, or
     * a crash could leave an empty file where the old one was. */
    ok = ok && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!dp_outputs_done(slot, ok) && ok) {
        ok = 0;
        e = errno;
    }
    free(target);
    return ok ? DP_OK : dp_fail(err, DP_EIO, "%s: cannot write: %s", path, strerror(e));
}

static int has_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path), m = strlen(suffix);
    return n > m && strcasecmp(path + n - m, suffix) == 0;
}

/* ---- ONNX TensorProto ------------------------------------------------------------------ */

static dp_status read_pb(const char *path, dp_arena *a, dp_tensor *out, char **name_out,
                         dp_error *err)
{
    unsigned char *buf;
    size_t len;
    dp_status st = dp_file_read(path, NULL, TENSOR_FILE_MAX, &buf, &len, err);
    if (st != DP_OK)
        return st;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf); /* before converting: the unpacked message holds its own copy of the data */
    if (!tp)
        return dp_fail(err, DP_EINPUT, "%s: not a valid ONNX TensorProto (truncated or "
                       "malformed protobuf)", path);
    st = dp_tensor_from_onnx(tp, a, out, false, path, err);
    /* raw_data may be referenced in place; the message is freed below, so keep a copy. */
    if (st == DP_OK && tp->has_raw_data && out->data == tp->raw_data.data) {
        out->data = dp_arena_memdup(a, tp->raw_data.data, tp->raw_data.len);
        if (!out->data)
            st = dp_fail(err, DP_ENOMEM, "%s: out of memory for %zu bytes", path,
                         tp->raw_data.len);
    }
    if (st == DP_OK && name_out) {
        *name_out = dp_arena_strdup(a, tp->name ? tp->name : "");
        if (!*name_out)
            st = dp_fail(err, DP_ENOMEM, "%s: out of memory", path);
    }
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return st;
}

/* A protobuf varint, for the hand-written raw_data field header below. */
static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    do {
        p[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

static dp_status write_pb(const char *path, const dp_tensor *t, const char *name, dp_error *err)
{
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    int64_t dims[DP_MAX_RANK];
    memcpy(dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    tp.n_dims = (size_t)t->rank;
    tp.dims = dims;
    tp.has_data_type = 1;
    tp.data_type = (int32_t)t->dtype;
    tp.name = (char *)(name ? name : "");
    /* raw_data (field 9, length-delimited) is appended by hand after the packed message, so
     * the tensor's bytes are written from where they are instead of being copied into the
     * message; protobuf accepts fields in any order. */
    size_t meta = onnx__tensor_proto__get_packed_size(&tp);
    unsigned char *buf = malloc(meta + 16);
    if (!buf)
        return dp_fail(err, DP_ENOMEM, "%s: out of memory", path);
    onnx__tensor_proto__pack(&tp, buf);
    size_t bytes = dp_nbytes(t);
    size_t head = meta;
    buf[head++] = (9 << 3) | 2;
    head += put_varint(buf + head, bytes);
    dp_chunk parts[] = {{buf, head}, {t->data, bytes}};
    dp_status st = dp_file_write_atomic(path, parts, 2, err);
    free(buf);
    return st;
}

/* ---- NumPy .npy ------------------------------------------------------------------------ */

/* The descr strings accepted: little-endian (or byte-order free) numeric types only. */
static const struct {
    const char *descr;
    dp_dtype dtype;
} npy_types[] = {
    {"<f4", DP_FLOAT}, {"<f8", DP_DOUBLE}, {"<f2", DP_FLOAT16}, {"<i8", DP_INT64},
    {"<i4", DP_INT32}, {"<i2", DP_INT16}, {"|i1", DP_INT8}, {"<i1", DP_INT8},
    {"|u1", DP_UINT8}, {"<u1", DP_UINT8}, {"<u2", DP_UINT16}, {"<u4", DP_UINT32},
    {"<u8", DP_UINT64}, {"|b1", DP_BOOL},
};

typedef struct npy_cursor {
    const char *begin, *p, *end;
    const char *path;
    dp_error *err;
} npy_cursor;

static dp_status npy_bad(npy_cursor *c, const char *expected)
{
    return dp_fail(c->err, DP_EINPUT, "%s: malformed .npy header: expected %s at header byte %td",
                   c->path, expected, c->p - c->begin);
}

static void npy_ws(npy_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int npy_take(npy_cursor *c, char ch)
{
    npy_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes, copied into out (of n bytes, NUL-terminated). */
static int npy_string(npy_cursor *c, char *out, size_t n)
{
    npy_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return 0;
    char q = *c->p++;
    size_t k = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || k + 1 >= n)
            return 0;
        out[k++] = *c->p++;
    }
    if (c->p >= c->end)
        return 0;
    c->p++;
    out[k] = '\0';
    return 1;
}

static int npy_word(npy_cursor *c, const char *w)
{
    npy_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

static int npy_int(npy_cursor *c, int64_t *v)
{
    npy_ws(c);
    int64_t x = 0;
    const char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (x > (INT64_MAX - 9) / 10)
            return 0;
        x = x * 10 + (*c->p++ - '0');
    }
    *v = x;
    return c->p > start;
}

static dp_status npy_shape(npy_cursor *c, dp_tensor *out)
{
    if (!npy_take(c, '('))
        return npy_bad(c, "'(' opening the shape");
    out->rank = 0;
    if (npy_take(c, ')'))
        return DP_OK;
    for (;;) {
        int64_t d;
        if (!npy_int(c, &d))
            return npy_bad(c, "a non-negative dimension");
        if (out->rank == DP_MAX_RANK)
            return dp_fail(c->err, DP_EUNSUPPORTED, "%s: rank above the limit of %d", c->path,
                           DP_MAX_RANK);
        out->dims[out->rank++] = d;
        if (npy_take(c, ')'))
            return DP_OK;
        if (!npy_take(c, ','))
            return npy_bad(c, "',' or ')' in the shape");
        if (npy_take(c, ')'))
            return DP_OK;
    }
}

/* The header dict: exactly the keys descr, fortran_order and shape, each once. */
static dp_status npy_header(npy_cursor *c, dp_tensor *out)
{
    bool seen_descr = false, seen_order = false, seen_shape = false;
    if (!npy_take(c, '{'))
        return npy_bad(c, "'{'");
    while (!npy_take(c, '}')) {
        char key[32], descr[32];
        if (!npy_string(c, key, sizeof key))
            return npy_bad(c, "a quoted key");
        if (!npy_take(c, ':'))
            return npy_bad(c, "':'");
        dp_status st = DP_OK;
        if (strcmp(key, "descr") == 0 && !seen_descr) {
            seen_descr = true;
            npy_ws(c);
            if (c->p < c->end && *c->p == '[')
                return dp_fail(c->err, DP_EUNSUPPORTED, "%s: structured arrays are not "
                               "supported", c->path);
            if (!npy_string(c, descr, sizeof descr))
                return npy_bad(c, "a quoted descr");
            out->dtype = DP_UNDEFINED;
            for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
                if (strcmp(descr, npy_types[i].descr) == 0)
                    out->dtype = npy_types[i].dtype;
            if (out->dtype == DP_UNDEFINED)
                return dp_fail(c->err, DP_EUNSUPPORTED, "%s: dtype '%s' is not supported "
                               "(little-endian numeric types and bool only)", c->path, descr);
        } else if (strcmp(key, "fortran_order") == 0 && !seen_order) {
            seen_order = true;
            if (npy_word(c, "True"))
                return dp_fail(c->err, DP_EUNSUPPORTED, "%s: Fortran-ordered arrays are not "
                               "supported (save a C-contiguous array)", c->path);
            if (!npy_word(c, "False"))
                return npy_bad(c, "True or False for fortran_order");
        } else if (strcmp(key, "shape") == 0 && !seen_shape) {
            seen_shape = true;
            st = npy_shape(c, out);
        } else {
            return dp_fail(c->err, DP_EINPUT, "%s: malformed .npy header: unexpected or repeated "
                           "key '%s'", c->path, key);
        }
        if (st != DP_OK)
            return st;
        if (!npy_take(c, ',')) {
            if (!npy_take(c, '}'))
                return npy_bad(c, "',' or '}'");
            break;
        }
    }
    npy_ws(c);
    if (c->p != c->end)
        return npy_bad(c, "only padding after the dict");
    if (!seen_descr || !seen_order || !seen_shape)
        return dp_fail(c->err, DP_EINPUT, "%s: malformed .npy header: missing '%s'", c->path,
                       !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape");
    return DP_OK;
}

static dp_status read_npy(const char *path, dp_arena *a, dp_tensor *out, char **name_out,
                          dp_error *err)
{
    unsigned char *buf;
    size_t len;
    /* Read into the arena: the data is then used where it lies, without a second copy. */
    dp_status st = dp_file_read(path, a, TENSOR_FILE_MAX, &buf, &len, err);
    if (st != DP_OK)
        return st;
    if (len < 10 || memcmp(buf, NPY_MAGIC, 6) != 0)
        return dp_fail(err, DP_EINPUT, "%s: not a .npy file (%s)", path,
                       len < 10 ? "shorter than the preamble" : "no \\x93NUMPY magic");
    int major = buf[6], minor = buf[7];
    if (major < 1 || major > 3 || minor != 0)
        return dp_fail(err, DP_EUNSUPPORTED, "%s: .npy format version %d.%d is not supported "
                       "(1.0, 2.0 and 3.0 are)", path, major, minor);
    size_t start = major == 1 ? 10 : 12;
    if (len < start)
        return dp_fail(err, DP_EINPUT, "%s: truncated .npy preamble", path);
    size_t hlen = major == 1 ? (size_t)buf[8] | (size_t)buf[9] << 8
                             : (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16
                                   | (size_t)buf[11] << 24;
    if (hlen > NPY_MAX_HEADER)
        return dp_fail(err, DP_EINPUT, "%s: .npy header of %zu bytes is above the limit of %d",
                       path, hlen, NPY_MAX_HEADER);
    if (len - start < hlen)
        return dp_fail(err, DP_EINPUT, "%s: truncated: the .npy header needs %zu bytes, the file "
                       "has %zu", path, start + hlen, len);
    const char *h = (const char *)buf + start;
    npy_cursor c = {h, h, h + hlen, path, err};
    memset(out, 0, sizeof *out);
    st = npy_header(&c, out);
    if (st == DP_OK)
        st = dp_shape_check(out, err, path);
    if (st != DP_OK)
        return st;
    size_t want = dp_nbytes(out), have = len - start - hlen;
    if (have != want)
        return dp_fail(err, DP_EINPUT, "%s: has %zu bytes of data, shape %lld x %s needs %zu",
                       path, have, (long long)dp_numel(out), dp_dtype_name(out->dtype), want);
    unsigned char *data = buf + start + hlen;
    /* numpy pads the header so data starts 64-byte aligned; other writers may not. */
    if ((uintptr_t)data % dp_dtype_size(out->dtype) != 0)
        data = memmove(buf, data, want);
    out->data = data;
    if (name_out && !(*name_out = dp_arena_strdup(a, "")))
        return dp_fail(err, DP_ENOMEM, "%s: out of memory", path);
    return DP_OK;
}

static dp_status write_npy(const char *path, const dp_tensor *t, dp_error *err)
{
    const char *descr = NULL;
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0] && !descr; i++)
        if (npy_types[i].dtype == t->dtype)
            descr = npy_types[i].descr;
    if (!descr)
        return dp_fail(err, DP_EUNSUPPORTED, "%s: %s tensors cannot be stored in .npy", path,
                       dp_dtype_name(t->dtype));
    /* Version 1.0: a 10-byte preamble and a header padded with spaces and ended by '\n' so
     * that the data starts on a 64-byte boundary, as numpy itself writes it. */
    char head[512];
    int n = snprintf(head + 10, sizeof head - 10, "{'descr': '%s', 'fortran_order': False, "
                     "'shape': (", descr);
    for (int i = 0; i < t->rank; i++)
        n += snprintf(head + 10 + n, sizeof head - 10 - (size_t)n, "%s%lld", i ? ", " : "",
                      (long long)t->dims[i]);
    n += snprintf(head + 10 + n, sizeof head - 10 - (size_t)n, "%s), }", t->rank == 1 ? "," : "");
    int total = (10 + n + 1 + 63) / 64 * 64;
    memset(head + 10 + n, ' ', (size_t)(total - 10 - n - 1));
    head[total - 1] = '\n';
    memcpy(head, NPY_MAGIC "\x01\x00", 8);
    head[8] = (char)((total - 10) & 0xff);
    head[9] = (char)((total - 10) >> 8);
    dp_chunk parts[] = {{head, (size_t)total}, {t->data, dp_nbytes(t)}};
    return dp_file_write_atomic(path, parts, 2, err);
}

/* ---- by suffix ------------------------------------------------------------------------- */

dp_status dp_tensor_read(const char *path, dp_arena *a, dp_tensor *out, char **name_out,
                         dp_error *err)
{
    memset(out, 0, sizeof *out);
    if (name_out)
        *name_out = NULL;
    if (has_suffix(path, ".pb"))
        return read_pb(path, a, out, name_out, err);
    if (has_suffix(path, ".npy"))
        return read_npy(path, a, out, name_out, err);
    /* a path that is not there is that, whatever its name */
    struct stat st;
    if (stat(path, &st) != 0)
        return dp_fail(err, DP_EIO, "%s: cannot open: %s", path, strerror(errno));
    return dp_fail(err, DP_EUSAGE, "%s: unknown tensor file type (expected .pb or .npy)", path);
}

dp_status dp_tensor_write(const char *path, const dp_tensor *t, const char *name, dp_error *err)
{
    dp_error bad = {0};
    if (dp_shape_check(t, &bad, "the tensor to write") != DP_OK || dp_dtype_size(t->dtype) == 0
        || (!t->data && dp_nbytes(t) > 0))
        return dp_fail(err, DP_EINTERNAL, "%s: %s", path,
                       bad.code ? bad.msg : "the tensor to write has no storable type or no data");
    if (has_suffix(path, ".pb"))
        return write_pb(path, t, name, err);
    if (has_suffix(path, ".npy"))
        return write_npy(path, t, err);
    return dp_fail(err, DP_EUSAGE, "%s: unknown tensor file type (expected .pb or .npy)", path);
}
