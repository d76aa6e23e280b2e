/*
 * dockernb-monitor: the per-container supervisor ("shim") of dockernb.
 *
 * The Python launcher (dockernb/monitor/launcher.py) forks, calls setsid() and
 * prctl(PR_SET_CHILD_SUBREAPER), has the runtime create and start the container's init as
 * its child, then execs this program, which inherits:
 *
 *   - the container's stdout/stderr pipes (or its pty master), and the write end of its
 *     stdin pipe when the container was started with -i;
 *   - a listening unix socket (attach.sock in the container directory);
 *   - a "ready" pipe on which it writes one line once it serves;
 *
 * and its configuration in the DOCKERNB_MONITOR environment variable (key=value lines), so
 * that its command line, and so `ps`, reads `dockernb-monitor <short_id>`.
 *
 * It then
 *   - waits for the init (signalfd for SIGCHLD) and, being a subreaper (the flag survives
 *     execve), reaps every orphan of the container;
 *   - writes docker's json-file log (the escaping of moby's jsonlog, Go's RFC3339Nano times,
 *     docker's 16 KiB partial-line rule, rotation with max-size/max-file);
 *   - serves attach: output fanned out to every attached client as docker's multiplexed
 *     frames (8-byte header: stream 1 stdout / 2 stderr, 3 bytes zero, 4-byte big-endian
 *     length), stdin from the first client that asks for it, resize frames -> TIOCSWINSZ;
 *   - when the init has exited and its output is drained (at most drain_ms more), sends
 *     each client an exit frame (type 3, 4-byte big-endian exit code), writes exit.json
 *     atomically, and either exits or execs the post-exit handler (exit_exec lines).
 *
 * Client -> monitor frames use the same header: type 0x10 hello (1 byte of flags: 1 stdin,
 * 2 stdout, 4 stderr), 0 stdin data (length 0: end of input), 4 resize (rows, cols: two
 * big-endian 16-bit numbers). Detach keys are the client's business.
 *
 * Built by dockernb/monitor/build.py with the system C compiler; plain C99 + Linux APIs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (16 * 1024)      /* docker's copier buffer: longer lines are logged in parts */
#define READ_SIZE (32 * 1024)
#define CLIENT_HIGH (256 * 1024)  /* stop reading the container while a client lags this much */
#define STDIN_HIGH (256 * 1024)
#define MAX_FRAME (1024 * 1024)
#define MAX_CLIENTS 64
#define MAX_EXEC_ARGS 64

#define F_STDOUT 1
#define F_STDERR 2
#define F_EXIT 3
#define F_RESIZE 4
#define F_STDIN 0
#define F_HELLO 0x10

struct buf {
    char *data;
    size_t len, cap;
};

struct stream {
    int fd;              /* -1 when closed */
    int id;              /* F_STDOUT or F_STDERR */
    const char *name;    /* "stdout" / "stderr" */
    char line[BUF_SIZE]; /* the unterminated line so far */
    size_t len;
    long long partial_ns; /* time of the first chunk of a line logged in parts */
};

struct client {
    int fd;
    int flags;     /* hello flags; 0 until the hello arrived */
    int hello;
    struct buf out; /* frames waiting to be written */
    struct buf in;  /* bytes of a frame being read */
};

static struct {
    const char *id, *dir, *log_path, *log_attrs, *oom_file, *driver;
    pid_t pid;
    long long generation, max_size, drain_ms;
    int max_file, stdin_once, tty;
    int out_fd, err_fd, pty_fd, stdin_fd, attach_fd, ready_fd;
    char *exec_argv[MAX_EXEC_ARGS + 1];
    int exec_argc;
} cfg;

static struct stream streams[2];
static int nstreams;
static struct client clients[MAX_CLIENTS];
static int nclients;
static int stdin_owner = -1; /* client index owning the container's stdin */
static struct buf stdin_buf;
static int stdin_closing;    /* close the container's stdin once stdin_buf is flushed */
static int log_fd = -1;
static long long log_size;
static long long oom_before = -1;

static int exited;
static int exit_status;
static long long exit_ns;

static void logmsg(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "dockernb-monitor %s: ", cfg.id ? cfg.id : "?");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void die(const char *what) {
    logmsg("%s: %s", what, strerror(errno));
    exit(125);
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ---- growable buffers --------------------------------------------------------------- */

static void buf_reserve(struct buf *b, size_t extra) {
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        die("realloc");
    b->data = p;
    b->cap = cap;
}

static void buf_add(struct buf *b, const void *p, size_t n) {
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void buf_str(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_drop(struct buf *b, size_t n) {
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

static void buf_free(struct buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- json-file ---------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (Go's utf8.DecodeRune rules), or 0 if invalid. */
static int utf8_len(const unsigned char *p, size_t left) {
    unsigned char b0 = p[0], lo = 0x80, hi = 0xBF;
    int size;
    if (b0 >= 0xC2 && b0 <= 0xDF)
        size = 2;
    else if (b0 >= 0xE0 && b0 <= 0xEF) {
        size = 3;
        if (b0 == 0xE0)
            lo = 0xA0;
        else if (b0 == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        size = 4;
        if (b0 == 0xF0)
            lo = 0x90;
        else if (b0 == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if ((size_t)size > left || p[1] < lo || p[1] > hi)
        return 0;
    for (int k = 2; k < size; k++)
        if (p[k] < 0x80 || p[k] > 0xBF)
            return 0;
    return size;
}

/* moby's ffjsonWriteJSONBytesAsString: Go's escaping with HTML-safe < > &. */
static void json_escape(struct buf *b, const unsigned char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    buf_reserve(b, n + 2);
    b->data[b->len++] = '"';
    size_t start = 0, i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (c >= 0x20 && c != '\\' && c != '"' && c != '<' && c != '>' && c != '&') {
                i++;
                continue;
            }
            buf_add(b, s + start, i - start);
            if (c == '\\' || c == '"') {
                char e[2] = {'\\', (char)c};
                buf_add(b, e, 2);
            } else if (c == '\n')
                buf_str(b, "\\n");
            else if (c == '\r')
                buf_str(b, "\\r");
            else {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                buf_add(b, e, 6);
            }
            start = ++i;
            continue;
        }
        int size = utf8_len(s + i, n - i);
        if (size == 0) {
            buf_add(b, s + start, i - start);
            buf_str(b, "\\ufffd");
            start = ++i;
            continue;
        }
        if (size == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
            buf_add(b, s + start, i - start);
            buf_str(b, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029");
            i += 3;
            start = i;
            continue;
        }
        i += size;
    }
    buf_add(b, s + start, n - start);
    buf_add(b, "\"", 1);
}

/* Go's time.RFC3339Nano in UTC: the fraction's trailing zeros trimmed, none if zero. */
static void rfc3339nano(char *out, size_t cap, long long ns, int fixed) {
    time_t sec = (time_t)(ns / 1000000000LL);
    long frac = (long)(ns % 1000000000LL);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac || fixed) {
        char f[16];
        snprintf(f, sizeof f, ".%09ld", frac);
        size_t fl = strlen(f);
        while (!fixed && fl > 1 && f[fl - 1] == '0')
            f[--fl] = 0;
        snprintf(out + n, cap - n, "%sZ", f);
    } else
        snprintf(out + n, cap - n, "Z");
}

static void log_open(void) {
    if (!cfg.log_path || strcmp(cfg.driver, "json-file") != 0)
        return;
    log_fd = open(cfg.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log_fd < 0) {
        logmsg("open %s: %s (logging disabled)", cfg.log_path, strerror(errno));
        return;
    }
    struct stat st;
    log_size = fstat(log_fd, &st) == 0 ? st.st_size : 0;
}

/* docker's LogFile rotation: .N-1 -> .N ... log -> .1, or truncate when max-file is 1 */
static void log_rotate(void) {
    char from[4096], to[4096];
    close(log_fd);
    if (cfg.max_file > 1) {
        for (int i = cfg.max_file - 1; i > 1; i--) {
            snprintf(from, sizeof from, "%s.%d", cfg.log_path, i - 1);
            snprintf(to, sizeof to, "%s.%d", cfg.log_path, i);
            rename(from, to);
        }
        snprintf(to, sizeof to, "%s.1", cfg.log_path);
        rename(cfg.log_path, to);
    }
    log_fd = open(cfg.log_path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    log_size = 0;
    if (log_fd < 0)
        logmsg("reopen %s: %s (logging stopped)", cfg.log_path, strerror(errno));
}

static struct buf entry;

static void log_write(const struct stream *s, const char *data, size_t n, long long ns) {
    if (log_fd < 0 || n == 0)
        return;
    char stamp[48];
    rfc3339nano(stamp, sizeof stamp, ns, 0);
    entry.len = 0;
    buf_str(&entry, "{\"log\":");
    json_escape(&entry, (const unsigned char *)data, n);
    buf_str(&entry, ",\"stream\":\"");
    buf_str(&entry, s->name);
    buf_str(&entry, "\"");
    if (cfg.log_attrs && *cfg.log_attrs) {
        buf_str(&entry, ",\"attrs\":");
        buf_str(&entry, cfg.log_attrs);
    }
    buf_str(&entry, ",\"time\":\"");
    buf_str(&entry, stamp);
    buf_str(&entry, "\"}\n");
    if (cfg.max_size > 0 && log_size >= cfg.max_size)
        log_rotate();
    if (log_fd < 0)
        return;
    size_t off = 0;
    while (off < entry.len) {
        ssize_t w = write(log_fd, entry.data + off, entry.len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* a full disk loses log lines, never the container */
        }
        off += (size_t)w;
    }
    log_size += (long long)entry.len;
}

/* docker's copier: whole lines as they come; a full buffer without newline is a partial
 * message; every part of one line carries the time of its first part. */
static void log_feed(struct stream *s, const char *data, size_t n) {
    while (n > 0) {
        size_t room = BUF_SIZE - s->len;
        size_t take = n < room ? n : room;
        memcpy(s->line + s->len, data, take);
        s->len += take;
        data += take;
        n -= take;
        size_t p = 0;
        char *nl;
        while ((nl = memchr(s->line + p, '\n', s->len - p)) != NULL) {
            size_t q = (size_t)(nl - (s->line + p)) + 1;
            long long ns = s->partial_ns ? s->partial_ns : now_ns();
            log_write(s, s->line + p, q, ns);
            s->partial_ns = 0;
            p += q;
        }
        if (p == 0 && s->len == BUF_SIZE) {
            if (!s->partial_ns)
                s->partial_ns = now_ns();
            log_write(s, s->line, s->len, s->partial_ns);
            s->len = 0;
        } else if (p > 0) {
            memmove(s->line, s->line + p, s->len - p);
            s->len -= p;
        }
    }
}

static void log_flush(struct stream *s) {
    if (s->len) {
        log_write(s, s->line, s->len, s->partial_ns ? s->partial_ns : now_ns());
        s->len = 0;
        s->partial_ns = 0;
    }
}

/* ---- attach clients ----------------------------------------------------------------- */

static void frame(struct buf *b, int type, const void *p, size_t n) {
    unsigned char h[8] = {(unsigned char)type, 0, 0, 0, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8), (unsigned char)n};
    buf_add(b, h, 8);
    if (n)
        buf_add(b, p, n);
}

static void close_container_stdin(void) {
    if (cfg.stdin_fd >= 0) {
        close(cfg.stdin_fd);
        cfg.stdin_fd = -1;
    }
    buf_free(&stdin_buf);
    stdin_closing = 0;
}

static void stdin_eof(void) {
    /* -i with stdin_once (docker run -i): the attached client's EOF closes the container's stdin */
    if (cfg.stdin_once && !cfg.tty) {
        if (stdin_buf.len)
            stdin_closing = 1;
        else
            close_container_stdin();
    }
}

static void client_drop(int i) {
    close(clients[i].fd);
    buf_free(&clients[i].out);
    buf_free(&clients[i].in);
    if (stdin_owner == i) {
        stdin_owner = -1;
        stdin_eof();
    }
    if (stdin_owner == nclients - 1)
        stdin_owner = i;
    clients[i] = clients[--nclients];
}

static void client_frame(int i, int type, const unsigned char *p, size_t n) {
    struct client *c = &clients[i];
    if (type == F_HELLO && n >= 1) {
        c->flags = p[0] & 7;
        c->hello = 1;
        if ((c->flags & 1) && stdin_owner < 0 && cfg.stdin_fd >= 0)
            stdin_owner = i;
    } else if (type == F_STDIN && stdin_owner == i) {
        if (n == 0)
            stdin_eof();
        else if (cfg.stdin_fd >= 0 && !stdin_closing)
            buf_add(&stdin_buf, p, n);
    } else if (type == F_RESIZE && n >= 4 && cfg.pty_fd >= 0) {
        struct winsize ws = {0};
        ws.ws_row = (unsigned short)((p[0] << 8) | p[1]);
        ws.ws_col = (unsigned short)((p[2] << 8) | p[3]);
        if (ioctl(cfg.pty_fd, TIOCSWINSZ, &ws) < 0)
            logmsg("TIOCSWINSZ: %s", strerror(errno));
    }
}

/* read what a client sent; returns -1 when it went away or misbehaved */
static int client_read(int i) {
    char tmp[8192];
    int gone = 0;
    for (;;) {
        ssize_t n = read(clients[i].fd, tmp, sizeof tmp);
        if (n == 0) {
            gone = 1; /* handle what it sent before it hung up */
            break;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            gone = 1;
            break;
        }
        buf_add(&clients[i].in, tmp, (size_t)n);
        if (stdin_buf.len > STDIN_HIGH)
            break; /* the container is not reading its stdin: let the client wait */
    }
    struct buf *in = &clients[i].in;
    while (in->len >= 8) {
        const unsigned char *h = (const unsigned char *)in->data;
        size_t n = ((size_t)h[4] << 24) | ((size_t)h[5] << 16) | ((size_t)h[6] << 8) | h[7];
        if (n > MAX_FRAME)
            return -1;
        if (in->len < 8 + n)
            break;
        client_frame(i, h[0], h + 8, n);
        buf_drop(in, 8 + n);
    }
    return gone ? -1 : 0;
}

static int client_flush(int i) {
    struct buf *b = &clients[i].out;
    while (b->len) {
        ssize_t n = write(clients[i].fd, b->data, b->len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            return -1;
        }
        buf_drop(b, (size_t)n);
    }
    return 0;
}

static void accept_clients(void) {
    for (;;) {
        int fd = accept4(cfg.attach_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (nclients == MAX_CLIENTS) {
            close(fd);
            continue;
        }
        struct client *c = &clients[nclients++];
        memset(c, 0, sizeof *c);
        c->fd = fd;
        /* a client that connected before the container started has its hello queued: read it
         * now, so that it gets the output from the first byte */
        if (client_read(nclients - 1) < 0)
            client_drop(nclients - 1);
    }
}

static int lagging(void) {
    for (int i = 0; i < nclients; i++)
        if (clients[i].out.len > CLIENT_HIGH)
            return 1;
    return 0;
}

/* ---- container output --------------------------------------------------------------- */

static void stream_read(struct stream *s) {
    static char tmp[READ_SIZE];
    ssize_t n = read(s->fd, tmp, sizeof tmp);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) { /* EOF, or EIO from a pty master whose slave is gone */
        log_flush(s);
        close(s->fd);
        if (s->fd == cfg.pty_fd)
            cfg.pty_fd = -1;
        s->fd = -1;
        return;
    }
    for (int i = 0; i < nclients; i++) {
        int want = s->id == F_STDOUT ? 2 : 4;
        if (clients[i].flags & want)
            frame(&clients[i].out, s->id, tmp, (size_t)n);
    }
    log_feed(s, tmp, (size_t)n);
}

static void stdin_flush(void) {
    while (stdin_buf.len && cfg.stdin_fd >= 0) {
        ssize_t n = write(cfg.stdin_fd, stdin_buf.data, stdin_buf.len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return;
            close_container_stdin(); /* EPIPE: the container closed its stdin */
            return;
        }
        buf_drop(&stdin_buf, (size_t)n);
    }
    if (stdin_closing && !stdin_buf.len)
        close_container_stdin();
}

/* ---- exit ---------------------------------------------------------------------------- */

static void reap(void) {
    for (;;) {
        int status;
        pid_t p = waitpid(-1, &status, WNOHANG);
        if (p <= 0)
            return;
        if (p == cfg.pid && !exited) {
            exited = 1;
            exit_status = status;
            exit_ns = now_ns();
        }
    }
}

static long long read_oom_count(void) {
    if (!cfg.oom_file || !*cfg.oom_file)
        return -1;
    int fd = open(cfg.oom_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char text[4096];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return -1;
    text[n] = 0;
    char *p = strstr(text, "oom_kill ");
    return p ? strtoll(p + 9, NULL, 10) : -1;
}

static void write_exit_record(void) {
    int code, sig = 0;
    if (WIFEXITED(exit_status))
        code = WEXITSTATUS(exit_status);
    else if (WIFSIGNALED(exit_status)) {
        sig = WTERMSIG(exit_status);
        code = 128 + sig;
    } else
        code = 255;
    long long oom_after = read_oom_count();
    int oom = oom_before >= 0 && oom_after > oom_before;
    time_t sec = (time_t)(exit_ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char stamp[64];
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof stamp - n, ".%06lld+00:00", (exit_ns % 1000000000LL) / 1000);
    char text[512];
    int len = snprintf(text, sizeof text,
                       "{\"generation\":%lld,\"exit_code\":%d,\"signal\":%d,\"pid\":%d,"
                       "\"finished_at\":\"%s\",\"finished_at_ns\":%lld,\"oom_killed\":%s}\n",
                       cfg.generation, code, sig, (int)cfg.pid, stamp, exit_ns, oom ? "true" : "false");
    int fd = open(".exit.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, (size_t)len) != len) {
        logmsg("write exit record: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    close(fd);
    if (rename(".exit.json.tmp", "exit.json") < 0)
        logmsg("rename exit record: %s", strerror(errno));
}

static int exit_code_of(int status) {
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 255;
}

/* tell every client how it ended and give them a moment to read the rest */
static void finish_clients(void) {
    unsigned char code[4];
    int c = exit_code_of(exit_status);
    code[0] = (unsigned char)(c >> 24);
    code[1] = (unsigned char)(c >> 16);
    code[2] = (unsigned char)(c >> 8);
    code[3] = (unsigned char)c;
    for (int i = 0; i < nclients; i++)
        frame(&clients[i].out, F_EXIT, code, 4);
    long long deadline = mono_ms() + 2000;
    while (nclients && mono_ms() < deadline) {
        struct pollfd pf[MAX_CLIENTS];
        int n = 0;
        for (int i = nclients - 1; i >= 0; i--) {
            if (client_flush(i) < 0 || clients[i].out.len == 0)
                client_drop(i);
        }
        for (int i = 0; i < nclients; i++)
            pf[n++] = (struct pollfd){.fd = clients[i].fd, .events = POLLOUT};
        if (n)
            poll(pf, (nfds_t)n, 100);
    }
    while (nclients)
        client_drop(nclients - 1);
}

/* ---- configuration ------------------------------------------------------------------- */

static int fd_of(const char *v) { return v ? atoi(v) : -1; }

static void parse_config(void) {
    const char *env = getenv("DOCKERNB_MONITOR");
    if (!env) {
        fprintf(stderr, "dockernb-monitor: started without DOCKERNB_MONITOR (it is started by dockernb)\n");
        exit(125);
    }
    char *text = strdup(env);
    if (!text)
        die("strdup");
    unsetenv("DOCKERNB_MONITOR");
    cfg.out_fd = cfg.err_fd = cfg.pty_fd = cfg.stdin_fd = cfg.attach_fd = cfg.ready_fd = -1;
    cfg.max_size = -1;
    cfg.max_file = 1;
    cfg.drain_ms = 2000;
    cfg.driver = "json-file";
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = 0;
        const char *k = line, *v = eq + 1;
        if (!strcmp(k, "id"))
            cfg.id = v;
        else if (!strcmp(k, "dir"))
            cfg.dir = v;
        else if (!strcmp(k, "pid"))
            cfg.pid = (pid_t)atoi(v);
        else if (!strcmp(k, "generation"))
            cfg.generation = atoll(v);
        else if (!strcmp(k, "stdout"))
            cfg.out_fd = fd_of(v);
        else if (!strcmp(k, "stderr"))
            cfg.err_fd = fd_of(v);
        else if (!strcmp(k, "pty"))
            cfg.pty_fd = fd_of(v);
        else if (!strcmp(k, "stdin"))
            cfg.stdin_fd = fd_of(v);
        else if (!strcmp(k, "stdin_once"))
            cfg.stdin_once = atoi(v);
        else if (!strcmp(k, "attach"))
            cfg.attach_fd = fd_of(v);
        else if (!strcmp(k, "ready"))
            cfg.ready_fd = fd_of(v);
        else if (!strcmp(k, "log_driver"))
            cfg.driver = v;
        else if (!strcmp(k, "log_path"))
            cfg.log_path = v;
        else if (!strcmp(k, "log_max_size"))
            cfg.max_size = atoll(v);
        else if (!strcmp(k, "log_max_file"))
            cfg.max_file = atoi(v);
        else if (!strcmp(k, "log_attrs"))
            cfg.log_attrs = v;
        else if (!strcmp(k, "oom_file"))
            cfg.oom_file = v;
        else if (!strcmp(k, "drain_ms"))
            cfg.drain_ms = atoll(v);
        else if (!strcmp(k, "exit_exec") && cfg.exec_argc < MAX_EXEC_ARGS)
            cfg.exec_argv[cfg.exec_argc++] = (char *)v;
    }
    if (!cfg.dir || cfg.pid <= 0) {
        fprintf(stderr, "dockernb-monitor: incomplete configuration\n");
        exit(125);
    }
    cfg.tty = cfg.pty_fd >= 0;
}

static void nonblock(int fd) {
    if (fd >= 0)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void cloexec(int fd) {
    if (fd >= 0)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int main(void) {
    parse_config();
    if (chdir(cfg.dir) < 0)
        die("chdir");
    prctl(PR_SET_NAME, "dockernb-monitor", 0, 0, 0); /* the kernel keeps 15 characters */
    int reaper = 0;
    if (prctl(PR_GET_CHILD_SUBREAPER, &reaper, 0, 0, 0) == 0 && !reaper)
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGTTIN, SIG_IGN);
    signal(SIGTTOU, SIG_IGN);
    signal(SIGTSTP, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
        die("sigprocmask");
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0)
        die("signalfd");

    if (cfg.tty) {
        streams[nstreams++] = (struct stream){.fd = cfg.pty_fd, .id = F_STDOUT, .name = "stdout"};
        if (cfg.stdin_fd >= 0) /* with a tty, stdin goes to the master too: a dup of it */
            cfg.stdin_fd = fcntl(cfg.pty_fd, F_DUPFD_CLOEXEC, 3);
    } else {
        if (cfg.out_fd >= 0)
            streams[nstreams++] = (struct stream){.fd = cfg.out_fd, .id = F_STDOUT, .name = "stdout"};
        if (cfg.err_fd >= 0)
            streams[nstreams++] = (struct stream){.fd = cfg.err_fd, .id = F_STDERR, .name = "stderr"};
    }
    for (int i = 0; i < nstreams; i++) {
        nonblock(streams[i].fd);
        cloexec(streams[i].fd);
    }
    nonblock(cfg.stdin_fd);
    cloexec(cfg.stdin_fd);
    nonblock(cfg.attach_fd);
    cloexec(cfg.attach_fd);
    log_open();
    oom_before = read_oom_count();
    reap(); /* the init may have exited before we were exec'd: its SIGCHLD went to the launcher */

    if (cfg.ready_fd >= 0) {
        static const char ready[] = "{\"ready\":true}\n";
        if (write(cfg.ready_fd, ready, sizeof ready - 1) < 0)
            logmsg("ready pipe: %s", strerror(errno));
        close(cfg.ready_fd);
        cfg.ready_fd = -1;
    }

    long long drain_deadline = -1;
    for (;;) {
        int open_streams = 0;
        for (int i = 0; i < nstreams; i++)
            open_streams += streams[i].fd >= 0;
        if (exited) {
            if (drain_deadline < 0)
                drain_deadline = mono_ms() + cfg.drain_ms;
            if (!open_streams || mono_ms() >= drain_deadline)
                break;
        }
        struct pollfd pf[3 + 2 + MAX_CLIENTS];
        int n = 0, i_sig, i_attach = -1, i_stream[2] = {-1, -1}, i_stdin = -1, i_client0;
        i_sig = n;
        pf[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        if (cfg.attach_fd >= 0) {
            i_attach = n;
            pf[n++] = (struct pollfd){.fd = cfg.attach_fd, .events = POLLIN};
        }
        int lag = lagging();
        for (int s = 0; s < nstreams; s++)
            if (streams[s].fd >= 0 && !lag) {
                i_stream[s] = n;
                pf[n++] = (struct pollfd){.fd = streams[s].fd, .events = POLLIN};
            }
        if (cfg.stdin_fd >= 0 && stdin_buf.len) {
            i_stdin = n;
            pf[n++] = (struct pollfd){.fd = cfg.stdin_fd, .events = POLLOUT};
        }
        i_client0 = n;
        for (int c = 0; c < nclients; c++) {
            short ev = stdin_buf.len > STDIN_HIGH ? 0 : POLLIN;
            if (clients[c].out.len)
                ev |= POLLOUT;
            pf[n++] = (struct pollfd){.fd = clients[c].fd, .events = ev};
        }
        int timeout = -1;
        if (exited) {
            long long left = drain_deadline - mono_ms();
            timeout = left > 0 ? (int)left : 0;
        }
        int r = poll(pf, (nfds_t)n, timeout);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        if (pf[i_sig].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == sizeof si) {
            }
            reap();
        }
        /* clients first: a hello that came with the connection must precede the output */
        int nc = nclients;
        for (int c = nc - 1; c >= 0; c--) {
            short re = pf[i_client0 + c].revents;
            if ((re & (POLLIN | POLLHUP | POLLERR)) && client_read(c) < 0) {
                client_drop(c);
                continue;
            }
            if ((re & POLLOUT) && client_flush(c) < 0)
                client_drop(c);
        }
        if (i_attach >= 0 && pf[i_attach].revents)
            accept_clients();
        if (i_stdin >= 0 && pf[i_stdin].revents)
            stdin_flush();
        else if (stdin_buf.len)
            stdin_flush();
        for (int s = 0; s < nstreams; s++)
            if (i_stream[s] >= 0 && pf[i_stream[s]].revents)
                stream_read(&streams[s]);
        for (int c = nclients - 1; c >= 0; c--)
            if (clients[c].out.len && client_flush(c) < 0)
                client_drop(c);
    }

    for (int s = 0; s < nstreams; s++) {
        log_flush(&streams[s]);
        if (streams[s].fd >= 0)
            close(streams[s].fd);
    }
    close_container_stdin();
    if (log_fd >= 0)
        close(log_fd);
    if (cfg.attach_fd >= 0) {
        close(cfg.attach_fd);
        unlink("attach.sock");
    }
    /* the record comes after the last log line (logs -f stops on it) and before the clients
     * hear the exit code (so that what they do next sees the container exited) */
    write_exit_record();
    finish_clients();
    close(sfd);

    if (cfg.exec_argc > 0) {
        sigprocmask(SIG_UNBLOCK, &mask, NULL);
        cfg.exec_argv[cfg.exec_argc] = NULL;
        execv(cfg.exec_argv[0], cfg.exec_argv);
        logmsg("exec %s: %s", cfg.exec_argv[0], strerror(errno));
        return 125;
    }
    return 0;
}
