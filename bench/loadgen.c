/*
 * The fast load generator: the same scenario as bench/load.ts, in C, one
 * thread, epoll, non-blocking sockets. bench/run.ts compiles it with the
 * machine's `cc` into a temporary folder and prefers it to load.ts, which
 * (one Deno process on one core) cannot read as fast as a fast server writes:
 * with 1,000 members its reads were the bottleneck, so it throttled the
 * senders to what it could read, and a server that could not keep up was
 * never shown to be one.
 *
 * It counts exactly what load.ts counts, the same way: a delivery is a line
 * whose fixed-size message text ends it; the sender and the send time ride at
 * fixed offsets in that text; lost = expected (messages x members) - delivered
 * within --drain-ms of the end. It prints one JSON line with load.ts's fields.
 *
 * Message text: `#~` + sender (4 digits) + send time (13 digits, us since
 * this process started) + `x` padding up to --size bytes.
 *
 * Flags (all numbers): --port --clients --senders --rate (per sender, 0 = as
 * fast as --inflight allows) --inflight --backlog (0 = no shared bound)
 * --seconds --size --warmup --drain-ms --connect-timeout-ms
 * --connect-concurrency --server-pid --announce-wait-ms --read-bytes
 * --settle-ms (how long the server's RSS may take to settle once everyone
 * is in); --dialect json|irc|text; and --transport tcp|ws.
 *
 * --transport ws (JSON dialect only) speaks it as a browser does: each
 * member opens `GET /ws` with a Sec-WebSocket-Key, checks the server's
 * Sec-WebSocket-Accept, then sends one masked text frame per JSON frame
 * and reads one event per text message (fragments joined, pings answered,
 * a close frame counted as a dropped member). A message's payload is then
 * counted exactly as a line is.
 *
 * Build: cc -O2 -o loadgen bench/loadgen.c (Linux: epoll, /proc).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SENDER_DIGITS 4
#define TIME_DIGITS 13
#define MARK_BYTES (2 + SENDER_DIGITS + TIME_DIGITS)
/* A partial line up to this long is carried to the next read; a longer one
 * (a big room's welcome or name list) is skipped, its start kept. */
#define CARRY_BYTES 1024
#define HEAD_BYTES 100

enum dialect { JSON, IRC, TEXT };

/* The largest control frame payload (RFC 6455 section 5.5). */
#define CONTROL_BYTES 125

/* ---- options ------------------------------------------------------------ */

static struct {
  int port;
  enum dialect dialect;
  bool websocket;
  long clients, senders, rate, inflight, backlog;
  double seconds, warmup;
  long size, drain_ms, connect_timeout_ms, connect_concurrency;
  long server_pid, announce_wait_ms, read_bytes, settle_ms;
} opt = {
    .port = 0,
    .dialect = JSON,
    .clients = 100,
    .senders = 10,
    .rate = 0,
    .inflight = 64,
    .backlog = 0,
    .seconds = 10,
    .warmup = -1,
    .size = 64,
    .drain_ms = 2000,
    .connect_timeout_ms = 30000,
    .connect_concurrency = 200,
    .server_pid = 0,
    .announce_wait_ms = 3000,
    .read_bytes = 64 * 1024,
    .settle_ms = 5000,
};

/* ---- clock -------------------------------------------------------------- */

static struct timespec origin;

static int64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)(t.tv_sec - origin.tv_sec) * 1000000 +
         (t.tv_nsec - origin.tv_nsec) / 1000;
}

static double now_ms(void) { return now_us() / 1000.0; }

/* ---- /proc -------------------------------------------------------------- */

static double cpu_seconds(long pid) {
  char path[64], text[4096];
  if (pid > 0)
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  else
    snprintf(path, sizeof path, "/proc/self/stat");
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  char *p = strrchr(text, ')');
  if (!p) return 0;
  p += 2;
  /* Fields after the command: state is 0; utime 11, stime 12. */
  unsigned long long utime = 0, stime = 0;
  for (int field = 0; field < 13 && *p; field++) {
    if (field == 11) utime = strtoull(p, NULL, 10);
    if (field == 12) stime = strtoull(p, NULL, 10);
    p = strchr(p, ' ');
    if (!p) break;
    p++;
  }
  return (utime + stime) / 100.0;
}

static double machine_busy_seconds(void) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return 0;
  unsigned long long v[8] = {0};
  int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (got < 8) return 0;
  unsigned long long total = 0;
  for (int i = 0; i < 8; i++) total += v[i];
  return (total - v[3] - v[4]) / 100.0;
}

static long resident_bytes(long pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  long kb = 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kb = strtol(line + 6, NULL, 10);
      break;
    }
  }
  fclose(f);
  return kb * 1024;
}

static double mb(long bytes) {
  return (double)((long)(bytes / 1024.0 / 1024.0 * 10 + 0.5)) / 10;
}

/* ---- latency histogram (bench/latency_histogram.ts) --------------------- */

#define FINE_LIMIT_US 100000
#define FINE_BUCKET_US 10
#define COARSE_BUCKET_US 1000
#define COARSE_LIMIT_US 60000000
#define FINE_BUCKETS (FINE_LIMIT_US / FINE_BUCKET_US)
#define BUCKETS \
  (FINE_BUCKETS + (COARSE_LIMIT_US - FINE_LIMIT_US) / COARSE_BUCKET_US)

static uint32_t buckets[BUCKETS];
static uint64_t latency_count;
static int64_t latency_max_us;

static void record_latency(int64_t us) {
  if (us < 0) us = 0;
  long index = us < FINE_LIMIT_US
                   ? us / FINE_BUCKET_US
                   : FINE_BUCKETS + (us - FINE_LIMIT_US) / COARSE_BUCKET_US;
  if (index >= BUCKETS) index = BUCKETS - 1;
  buckets[index]++;
  latency_count++;
  if (us > latency_max_us) latency_max_us = us;
}

static void reset_latency(void) {
  memset(buckets, 0, sizeof buckets);
  latency_count = 0;
  latency_max_us = 0;
}

static double round2(double ms) { return (long)(ms * 100 + 0.5) / 100.0; }

static double percentile(double fraction) {
  if (latency_count == 0) return 0;
  uint64_t rank = (uint64_t)(latency_count * fraction);
  if ((double)rank < latency_count * fraction) rank++;
  uint64_t seen = 0;
  for (long i = 0; i < BUCKETS; i++) {
    seen += buckets[i];
    if (seen >= rank) {
      int64_t upper = i < FINE_BUCKETS
                          ? (i + 1) * FINE_BUCKET_US
                          : FINE_LIMIT_US +
                                (i - FINE_BUCKETS + 1) * COARSE_BUCKET_US;
      if (upper > latency_max_us) upper = latency_max_us;
      return round2(upper / 1000.0);
    }
  }
  return round2(latency_max_us / 1000.0);
}

/* ---- clients ------------------------------------------------------------ */

typedef struct {
  int fd;
  int index;
  bool sender;
  bool started;   /* connect() called */
  bool connected; /* TCP connected, hello sent */
  bool ready;     /* admitted to the room */
  bool closed;
  bool skipping; /* inside a line longer than CARRY_BYTES */
  bool want_out; /* EPOLLOUT armed */
  int64_t sent, acked, delivered;
  uint16_t held;
  uint8_t head_len;
  uint8_t carry[CARRY_BYTES];
  uint8_t head[HEAD_BYTES];
  char *out;
  size_t out_len, out_off, out_cap;
  char last_control[HEAD_BYTES + 1];
  /* --transport ws: the handshake, and the frame being read. */
  bool upgraded;           /* 101 read and its accept checked */
  char accept[29];         /* the Sec-WebSocket-Accept expected */
  uint8_t frame_head[14];  /* a frame header split across reads */
  uint8_t frame_head_len;
  uint8_t frame_opcode;
  bool frame_fin;
  uint64_t frame_left;     /* payload bytes of this frame still to come */
  bool in_frame;           /* header read, payload pending */
  bool in_message;         /* a fragmented message is being joined */
  uint32_t message_len;    /* its bytes so far (only CARRY_BYTES kept) */
  uint8_t control_payload[CONTROL_BYTES];
  uint8_t control_len;
} client;

static client *clients;
static int epoll_fd;
static uint8_t *read_buffer;

static struct {
  int64_t delivered, sent, announced_joins, errors, disconnects;
  char first_error[400];
} tally;

static bool sending;

static void note_error(const char *fmt, ...) {
  if (tally.first_error[0]) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tally.first_error, sizeof tally.first_error, fmt, ap);
  va_end(ap);
}

static long connecting; /* started, neither ready nor closed yet */
static long ready_clients;

static void close_client(client *c) {
  if (c->closed) return;
  if (c->started && !c->ready) connecting--;
  c->closed = true;
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
}

/* The server closed it, or a socket call failed: a dropped member. */
static void lost(client *c, const char *why) {
  if (c->closed) return;
  tally.disconnects++;
  note_error("c%d: %s", c->index, why);
  close_client(c);
}

static void arm(client *c, bool want_out) {
  if (c->want_out == want_out || c->closed) return;
  c->want_out = want_out;
  struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0),
                           .data.u32 = (uint32_t)c->index};
  epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void flush_out(client *c) {
  while (!c->closed && c->out_off < c->out_len) {
    ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        arm(c, true);
        return;
      }
      if (errno == EINTR) continue;
      lost(c, "write failed");
      return;
    }
    c->out_off += (size_t)n;
  }
  c->out_len = c->out_off = 0;
  arm(c, false);
}

static void append_out(client *c, const char *data, size_t length) {
  if (c->closed) return;
  if (c->out_off > 0 && c->out_off == c->out_len) c->out_len = c->out_off = 0;
  if (c->out_len + length > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 1024;
    while (cap < c->out_len + length) cap *= 2;
    c->out = realloc(c->out, cap);
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, data, length);
  c->out_len += length;
}

static void send_text(client *c, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  append_out(c, line, (size_t)n);
  flush_out(c);
}

/* ---- WebSocket: handshake and client frames (--transport ws) ------------ */

static uint64_t mask_state = 0x9e3779b97f4a7c15ull;

/* A fresh masking key per frame, as RFC 6455 asks of a client (xorshift:
 * unpredictable enough for a benchmark; the server only has to unmask). */
static uint32_t next_mask(void) {
  mask_state ^= mask_state << 13;
  mask_state ^= mask_state >> 7;
  mask_state ^= mask_state << 17;
  return (uint32_t)(mask_state >> 32);
}

#define MAX_CLIENT_PAYLOAD 8192

/* Queues one masked, final client frame carrying `payload`. */
static void append_frame(client *c, uint8_t opcode, const uint8_t *payload,
                         size_t length) {
  uint8_t frame[MAX_CLIENT_PAYLOAD + 8];
  if (length > MAX_CLIENT_PAYLOAD) length = MAX_CLIENT_PAYLOAD;
  size_t at = 0;
  frame[at++] = (uint8_t)(0x80 | opcode);
  if (length < 126) {
    frame[at++] = (uint8_t)(0x80 | length);
  } else {
    frame[at++] = 0x80 | 126;
    frame[at++] = (uint8_t)(length >> 8);
    frame[at++] = (uint8_t)(length & 0xff);
  }
  uint32_t key = next_mask();
  uint8_t mask[4] = {(uint8_t)(key >> 24), (uint8_t)(key >> 16),
                     (uint8_t)(key >> 8), (uint8_t)key};
  memcpy(frame + at, mask, 4);
  at += 4;
  for (size_t i = 0; i < length; i++) frame[at + i] = payload[i] ^ mask[i & 3];
  append_out(c, (const char *)frame, at + length);
}

/* SHA-1 (FIPS 180-4), for the handshake's Sec-WebSocket-Accept only. */
static uint32_t rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1(const uint8_t *data, size_t length, uint8_t digest[20]) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476,
                   0xC3D2E1F0};
  size_t padded = (length + 9 + 63) / 64 * 64;
  uint8_t message[256];
  if (padded > sizeof message) return;
  memset(message, 0, padded);
  memcpy(message, data, length);
  message[length] = 0x80;
  uint64_t bits = (uint64_t)length * 8;
  for (int i = 0; i < 8; i++) message[padded - 1 - i] = (uint8_t)(bits >> (8 * i));
  for (size_t block = 0; block < padded; block += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++) {
      const uint8_t *b = message + block + 4 * i;
      w[i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
             b[3];
    }
    for (int i = 16; i < 80; i++)
      w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
      uint32_t f, k;
      if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
      else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
      else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
      else f = b ^ c ^ d, k = 0xCA62C1D6;
      uint32_t t = rotl(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rotl(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  for (int i = 0; i < 20; i++) digest[i] = (uint8_t)(h[i / 4] >> (24 - 8 * (i % 4)));
}

/* Base64 of `length` bytes into `out` (4 * ceil(length / 3) + 1 bytes). */
static void base64(const uint8_t *in, size_t length, char *out) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < length; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < length ? in[i + 1] << 8 : 0) |
                 (i + 2 < length ? in[i + 2] : 0);
    out[o++] = alphabet[v >> 18 & 63];
    out[o++] = alphabet[v >> 12 & 63];
    out[o++] = i + 1 < length ? alphabet[v >> 6 & 63] : '=';
    out[o++] = i + 2 < length ? alphabet[v & 63] : '=';
  }
  out[o] = 0;
}

/* Sends the opening handshake (RFC 6455 section 4.1) and notes the accept
 * value the server must answer with. */
static void send_upgrade(client *c) {
  uint8_t nonce[16];
  for (int i = 0; i < 16; i += 4) {
    uint32_t r = next_mask();
    memcpy(nonce + i, &r, 4);
  }
  char key[25];
  base64(nonce, 16, key);
  char joined[64];
  int n = snprintf(joined, sizeof joined, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
                   key);
  uint8_t digest[20];
  sha1((const uint8_t *)joined, (size_t)n, digest);
  base64(digest, 20, c->accept);
  send_text(c,
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n",
            opt.port, key);
}

/* ---- dialects ----------------------------------------------------------- */

static const char *ROOM = "bench";

static size_t suffix_bytes(void) {
  return opt.dialect == JSON ? 2 /* "} */ : opt.dialect == IRC ? 1 /* \r */ : 0;
}

static bool echoes_sender(void) { return opt.dialect != IRC; }

static void say_hello(client *c) {
  switch (opt.dialect) {
    case JSON:
      if (opt.websocket) {
        char hello[128];
        int n = snprintf(hello, sizeof hello,
                         "{\"type\":\"hello\",\"nick\":\"c%d\",\"room\":\"%s\"}",
                         c->index, ROOM);
        append_frame(c, 0x1, (const uint8_t *)hello, (size_t)n);
        flush_out(c);
        break;
      }
      send_text(c, "{\"type\":\"hello\",\"nick\":\"c%d\",\"room\":\"%s\"}\n",
                c->index, ROOM);
      break;
    case IRC:
      /* JOIN waits for RPL_WELCOME: sent at once it can be refused (451). */
      send_text(c, "NICK c%d\r\nUSER c%d 0 * :c%d\r\n", c->index, c->index,
                c->index);
      break;
    case TEXT:
      send_text(c, "c%d\n", c->index);
      break;
  }
}

static bool starts(const uint8_t *p, size_t n, const char *prefix) {
  size_t k = strlen(prefix);
  return n >= k && memcmp(p, prefix, k) == 0;
}

/* Finds `needle` in the line; returns a pointer past it or NULL. */
static const uint8_t *after(const uint8_t *p, size_t n, const char *needle) {
  const uint8_t *at = memmem(p, n, needle, strlen(needle));
  return at ? at + strlen(needle) : NULL;
}

static long number_at(const uint8_t *p, const uint8_t *end) {
  long v = 0;
  while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
  return v;
}

static void ready(client *c) {
  if (c->ready) return;
  c->ready = true;
  connecting--;
  ready_clients++;
}

static void error_line(client *c, const uint8_t *p, size_t n) {
  tally.errors++;
  note_error("c%d: %.*s", c->index, (int)(n < 300 ? n : 300), (const char *)p);
}

/* How many joins a join notice announces (0 if it is none). */
static long text_join_count(const uint8_t *p, size_t n) {
  /* `HH:MM * c5 joined lobby (6 here)`,
   * `HH:MM * c101 and 41 others joined lobby (142 here)` */
  if (n < 8 || p[2] != ':' || p[5] != ' ' || p[6] != '*') return 0;
  const uint8_t *joined = memmem(p, n, " joined ", 8);
  if (!joined) return 0;
  const uint8_t *and = memmem(p, (size_t)(joined - p), " and ", 5);
  if (!and) return 1;
  return 1 + number_at(and + 5, joined);
}

/* How many joins an IRC join summary announces, from its parameters on
 * (`#bench :c101 and 41 others joined`); 0 if it is another notice. */
static long irc_join_summary(const uint8_t *p, const uint8_t *end) {
  const uint8_t *text = memchr(p, ':', (size_t)(end - p));
  if (!text) return 0;
  text++;
  size_t n = (size_t)(end - text);
  while (n > 0 && (text[n - 1] == '\r' || text[n - 1] == ' ')) n--;
  static const char tail[] = " others joined";
  size_t k = sizeof tail - 1;
  if (n < k || memcmp(text + n - k, tail, k) != 0) return 0;
  const uint8_t *and = memmem(text, n, " and ", 5);
  if (!and) return 0;
  return 1 + number_at(and + 5, text + n - k);
}

/*
 * A line that is not a benchmark message: handshake, notice, error. `full`
 * is false when only its start (`p`, `n`) was kept.
 */
static void control(client *c, const uint8_t *p, size_t n, bool full) {
  size_t shown = n < HEAD_BYTES ? n : HEAD_BYTES;
  memcpy(c->last_control, p, shown);
  c->last_control[shown] = 0;
  switch (opt.dialect) {
    case JSON:
      if (starts(p, n, "{\"type\":\"welcome\"")) return ready(c);
      if (starts(p, n, "{\"type\":\"join\"")) {
        if (c->index == 0 && c->ready && full) {
          /* A big room's coalesced notice names one and counts the others. */
          const uint8_t *others = after(p, n, "\"others\":");
          tally.announced_joins += 1 + (others ? number_at(others, p + n) : 0);
        }
        return;
      }
      if (starts(p, n, "{\"type\":\"error\"") ||
          starts(p, n, "{\"type\":\"bye\""))
        return error_line(c, p, n);
      return;
    case TEXT:
      if (starts(p, n, "* Welcome,")) return ready(c);
      if (starts(p, n, "! ") || starts(p, n, "* Bye:"))
        return error_line(c, p, n);
      if (c->index == 0 && c->ready)
        tally.announced_joins += text_join_count(p, n);
      return;
    case IRC: {
      if (starts(p, n, "PING ")) {
        const uint8_t *token = p + 5;
        if (token < p + n && *token == ':') token++;
        size_t length = (size_t)(p + n - token);
        while (length > 0 && (token[length - 1] == '\r' ||
                              token[length - 1] == ' '))
          length--;
        send_text(c, "PONG :%.*s\r\n", (int)length, (const char *)token);
        return;
      }
      if (starts(p, n, "ERROR")) return error_line(c, p, n);
      const uint8_t *space = memchr(p, ' ', n);
      if (!space) return;
      const uint8_t *command = space + 1;
      const uint8_t *end = memchr(command, ' ', (size_t)(p + n - command));
      if (!end) end = p + n;
      size_t length = (size_t)(end - command);
      if (length == 3 && memcmp(command, "001", 3) == 0) {
        send_text(c, "JOIN #%s\r\n", ROOM);
        return;
      }
      if (length == 3 && memcmp(command, "366", 3) == 0) return ready(c);
      if (length == 4 && memcmp(command, "JOIN", 4) == 0) {
        if (c->index == 0 && c->ready) tally.announced_joins++;
        return;
      }
      /* chat summarises a big room's joins, at most once a second, in one
       * notice to the channel: `NOTICE #bench :c101 and 41 others joined`. */
      if (length == 6 && memcmp(command, "NOTICE", 6) == 0) {
        if (c->index == 0 && c->ready && full)
          tally.announced_joins += irc_join_summary(end, p + n);
        return;
      }
      if (length == 4 && memcmp(command, "PONG", 4) == 0) {
        const uint8_t *colon = p + n;
        while (colon > command && *(colon - 1) != ':') colon--;
        long count = number_at(colon, p + n);
        if (count > c->acked) c->acked = count;
        return;
      }
      if (length == 3 && (command[0] == '4' || command[0] == '5'))
        return error_line(c, p, n);
      return;
    }
  }
}

/* One complete line, newline excluded, received at `at`. */
static void line(client *c, const uint8_t *p, size_t n, int64_t at) {
  if (c->skipping) {
    c->skipping = false;
    control(c, c->head, c->head_len, false);
    return;
  }
  size_t tail = suffix_bytes() + (size_t)opt.size;
  if (n > tail) {
    const uint8_t *mark = p + n - tail;
    if (mark[0] == '#' && mark[1] == '~') {
      tally.delivered++;
      c->delivered++;
      int64_t sent_at = 0;
      for (int i = 2 + SENDER_DIGITS; i < MARK_BYTES; i++)
        sent_at = sent_at * 10 + (mark[i] - '0');
      record_latency(at - sent_at);
      if (c->sender && echoes_sender()) {
        int sender = 0;
        for (int i = 2; i < 2 + SENDER_DIGITS; i++)
          sender = sender * 10 + (mark[i] - '0');
        if (sender == c->index) c->acked++;
      }
      return;
    }
  }
  control(c, p, n, true);
}

/* One read: the carried partial line, then as much as the socket holds. */
static void read_client(client *c) {
  uint8_t *buffer = read_buffer;
  size_t held = c->held;
  memcpy(buffer, c->carry, held);
  ssize_t n = read(c->fd, buffer + held, (size_t)opt.read_bytes);
  if (n == 0) return lost(c, "closed by server");
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    return lost(c, "read failed");
  }
  int64_t at = now_us();
  size_t end = held + (size_t)n;
  size_t start = 0;
  uint8_t *newline = memchr(buffer + held, '\n', (size_t)n);
  while (newline) {
    size_t stop = (size_t)(newline - buffer);
    line(c, buffer + start, stop - start, at);
    if (c->closed) return;
    start = stop + 1;
    newline = memchr(buffer + start, '\n', end - start);
  }
  size_t rest = end - start;
  if (rest <= CARRY_BYTES) {
    memcpy(c->carry, buffer + start, rest);
    c->held = (uint16_t)rest;
  } else {
    /* A line longer than the carry: keep its start, which says what it is,
     * and skip the rest up to its newline. */
    if (!c->skipping) {
      c->skipping = true;
      c->head_len = HEAD_BYTES;
      memcpy(c->head, buffer + start, HEAD_BYTES);
    }
    c->held = 0;
  }
}

/* ---- WebSocket: server frames (--transport ws) -------------------------- */

/* Bytes of a frame header whose second byte is `second` (server frames
 * carry no mask, but a masked one must be told apart to be refused). */
static size_t frame_header_bytes(uint8_t second) {
  uint8_t length = second & 0x7f;
  return 2 + (length == 126 ? 2 : length == 127 ? 8 : 0) +
         (second & 0x80 ? 4 : 0);
}

/* A whole message's payload: counted exactly as a line is. */
static void ws_message(client *c, const uint8_t *p, size_t n, int64_t at) {
  line(c, p, n, at);
}

/* Starts the frame whose complete header is `h`; false if it broke the
 * protocol (the member is then dropped). */
static bool start_frame(client *c, const uint8_t *h) {
  uint8_t opcode = h[0] & 0x0f;
  if (h[0] & 0x70) return lost(c, "reserved bits in a server frame"), false;
  if (h[1] & 0x80) return lost(c, "a masked server frame"), false;
  uint64_t length = h[1] & 0x7f;
  if (length == 126) {
    length = (uint64_t)h[2] << 8 | h[3];
  } else if (length == 127) {
    length = 0;
    for (int i = 2; i < 10; i++) length = length << 8 | h[i];
  }
  c->frame_fin = (h[0] & 0x80) != 0;
  c->frame_opcode = opcode;
  c->frame_left = length;
  c->in_frame = true;
  if (opcode >= 0x8) {
    if (!c->frame_fin || length > CONTROL_BYTES || opcode > 0xa)
      return lost(c, "a bad control frame"), false;
    c->control_len = 0;
  } else if (opcode == 0x0) {
    if (!c->in_message) return lost(c, "a continuation without a message"), false;
  } else if (opcode == 0x1) {
    if (c->in_message) return lost(c, "a new message inside a fragmented one"), false;
    c->in_message = true;
    c->message_len = 0;
  } else {
    return lost(c, "a binary or unknown frame"), false;
  }
  return true;
}

/* The frame just read to its end. */
static void end_frame(client *c, int64_t at) {
  c->in_frame = false;
  switch (c->frame_opcode) {
    case 0x9: /* ping: answered with the same payload */
      append_frame(c, 0xa, c->control_payload, c->control_len);
      flush_out(c);
      return;
    case 0xa:
      return;
    case 0x8: {
      int code = c->control_len >= 2
                     ? c->control_payload[0] << 8 | c->control_payload[1]
                     : 0;
      char why[160];
      snprintf(why, sizeof why, "close frame from the server (%d %.*s)", code,
               c->control_len > 2 ? c->control_len - 2 : 0,
               (const char *)c->control_payload + 2);
      return lost(c, why);
    }
    default:
      if (!c->frame_fin) return;
      c->in_message = false;
      uint32_t length = c->message_len;
      c->message_len = 0;
      if (length <= CARRY_BYTES)
        ws_message(c, c->carry, length, at);
      else /* a big welcome or list: its start says what it is */
        control(c, c->carry, HEAD_BYTES, false);
  }
}

/* Frames in `n` bytes read at `at`, carried across reads as they split. */
static void ws_feed(client *c, const uint8_t *p, size_t n, int64_t at) {
  while (n > 0 && !c->closed) {
    if (!c->in_frame) {
      if (c->frame_head_len == 0 && n >= 2 && n >= frame_header_bytes(p[1])) {
        size_t header = frame_header_bytes(p[1]);
        if (!start_frame(c, p)) return;
        p += header;
        n -= header;
      } else {
        c->frame_head[c->frame_head_len++] = *p++;
        n--;
        if (c->frame_head_len < 2 ||
            c->frame_head_len < frame_header_bytes(c->frame_head[1]))
          continue;
        c->frame_head_len = 0;
        if (!start_frame(c, c->frame_head)) return;
      }
      if (c->frame_left == 0) end_frame(c, at);
      continue;
    }
    size_t take = c->frame_left < n ? (size_t)c->frame_left : n;
    if (c->frame_opcode >= 0x8) {
      memcpy(c->control_payload + c->control_len, p, take);
      c->control_len += (uint8_t)take;
    } else if (c->frame_fin && c->message_len == 0 && take == c->frame_left) {
      /* A whole unfragmented message in this read: counted in place. */
      c->frame_left = 0;
      c->in_frame = false;
      c->in_message = false;
      ws_message(c, p, take, at);
      p += take;
      n -= take;
      continue;
    } else {
      if (c->message_len < CARRY_BYTES) {
        size_t room = CARRY_BYTES - c->message_len;
        memcpy(c->carry + c->message_len, p, take < room ? take : room);
      }
      c->message_len += (uint32_t)take;
    }
    c->frame_left -= take;
    p += take;
    n -= take;
    if (c->frame_left == 0) end_frame(c, at);
  }
}

/* Lower-case copy of `name` found at a line start in the head, or NULL. */
static const char *header_value(const char *head, const char *name) {
  size_t k = strlen(name);
  for (const char *at = strstr(head, "\r\n"); at; at = strstr(at + 2, "\r\n")) {
    if (strncasecmp(at + 2, name, k) == 0 && at[2 + k] == ':') {
      const char *value = at + 3 + k;
      while (*value == ' ' || *value == '\t') value++;
      return value;
    }
  }
  return NULL;
}

/* Checks the server's handshake response (`head`, `n` bytes, ending in a
 * blank line); drops the member, saying why, when it is no upgrade. */
static bool check_upgrade(client *c, const uint8_t *head, size_t n) {
  char text[CARRY_BYTES + 1];
  memcpy(text, head, n);
  text[n] = 0;
  size_t status = strcspn(text, "\r\n");
  size_t shown = status < HEAD_BYTES ? status : HEAD_BYTES;
  memcpy(c->last_control, text, shown);
  c->last_control[shown] = 0;
  if (strncmp(text, "HTTP/1.1 101", 12) != 0) {
    char why[160];
    snprintf(why, sizeof why, "no upgrade: %.*s", (int)shown, text);
    return lost(c, why), false;
  }
  const char *accept = header_value(text, "Sec-WebSocket-Accept");
  if (!accept || strncmp(accept, c->accept, 28) != 0 ||
      (accept[28] != '\r' && accept[28] != ' '))
    return lost(c, "a wrong Sec-WebSocket-Accept"), false;
  return true;
}

/* One read on a WebSocket member: the handshake response, then frames. */
static void read_ws(client *c) {
  ssize_t n = read(c->fd, read_buffer, (size_t)opt.read_bytes);
  if (n == 0) return lost(c, "closed by server");
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    return lost(c, "read failed");
  }
  int64_t at = now_us();
  const uint8_t *p = read_buffer;
  size_t left = (size_t)n;
  if (!c->upgraded) {
    /* The response head, gathered in the carry until its blank line. */
    size_t held = c->held;
    size_t take = left < CARRY_BYTES - held ? left : CARRY_BYTES - held;
    memcpy(c->carry + held, p, take);
    /* Not HTTP at all (a chat door's banner, say): fail now, saying what. */
    size_t prefix = held + take < 5 ? held + take : 5;
    if (memcmp(c->carry, "HTTP/", prefix) != 0) {
      size_t shown = 0;
      while (shown < held + take && shown < HEAD_BYTES &&
             c->carry[shown] != '\r' && c->carry[shown] != '\n')
        shown++;
      memcpy(c->last_control, c->carry, shown);
      c->last_control[shown] = 0;
      char why[160];
      snprintf(why, sizeof why, "no upgrade, read: %s", c->last_control);
      return lost(c, why);
    }
    const uint8_t *end = memmem(c->carry, held + take, "\r\n\r\n", 4);
    if (!end) {
      if (held + take == CARRY_BYTES)
        return lost(c, "a handshake response over 1 KiB");
      c->held = (uint16_t)(held + take);
      return;
    }
    size_t head = (size_t)(end + 4 - c->carry);
    c->held = 0;
    if (!check_upgrade(c, c->carry, head)) return;
    c->upgraded = true;
    say_hello(c);
    p += head - held;
    left -= head - held;
  }
  ws_feed(c, p, left, at);
}

/* Sends `count` messages now, stamped with the time of sending. */
static void send_messages(client *c, long count) {
  if (count <= 0 || c->closed) return;
  char text[4096];
  int length = snprintf(text, sizeof text, "#~%0*d%0*lld", SENDER_DIGITS,
                        c->index, TIME_DIGITS, (long long)now_us());
  memset(text + length, 'x', (size_t)(opt.size - length));
  length = (int)opt.size;
  char frame[4200];
  int frame_length = 0;
  switch (opt.dialect) {
    case JSON:
      frame_length = snprintf(frame, sizeof frame,
                              "{\"type\":\"say\",\"text\":\"%.*s\"}\n", length,
                              text);
      if (opt.websocket) {
        /* One masked text frame per message, newline dropped. */
        for (long i = 0; i < count; i++)
          append_frame(c, 0x1, (const uint8_t *)frame, (size_t)frame_length - 1);
        c->sent += count;
        tally.sent += count;
        flush_out(c);
        return;
      }
      break;
    case IRC:
      frame_length = snprintf(frame, sizeof frame, "PRIVMSG #%s :%.*s\r\n",
                              ROOM, length, text);
      break;
    case TEXT:
      frame_length = snprintf(frame, sizeof frame, "%.*s\n", length, text);
      break;
  }
  for (long i = 0; i < count; i++) append_out(c, frame, (size_t)frame_length);
  c->sent += count;
  tally.sent += count;
  if (opt.dialect == IRC) {
    char ping[64];
    int n = snprintf(ping, sizeof ping, "PING :%lld\r\n", (long long)c->sent);
    append_out(c, ping, (size_t)n);
  }
  flush_out(c);
}

/* ---- event loop --------------------------------------------------------- */

static long next_client;

static void start_connect(client *c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    note_error("socket: %s", strerror(errno));
    c->closed = true;
    tally.errors++;
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)opt.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  c->fd = fd;
  c->started = true;
  connecting++;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 &&
      errno != EINPROGRESS) {
    note_error("connect: %s", strerror(errno));
    tally.errors++;
    close_client(c);
    return;
  }
  c->want_out = true;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
                           .data.u32 = (uint32_t)c->index};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

static void on_event(client *c, uint32_t events) {
  if (c->closed) return;
  if (!c->connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error) {
      note_error("connect: %s", strerror(error));
      tally.errors++;
      close_client(c);
      return;
    }
    c->connected = true;
    arm(c, false);
    if (opt.websocket)
      send_upgrade(c);
    else
      say_hello(c);
    return;
  }
  if (events & EPOLLOUT) flush_out(c);
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    if (opt.websocket)
      read_ws(c);
    else
      read_client(c);
  }
}

static struct epoll_event events[4096];

/* Runs the loop once, waiting at most `timeout_ms` for something to do. */
static void poll_once(int timeout_ms) {
  int n = epoll_wait(epoll_fd, events, 4096, timeout_ms);
  for (int i = 0; i < n; i++)
    on_event(&clients[events[i].data.u32], events[i].events);
}

/* Runs the loop for `ms`, calling `tick` after every round (may be NULL). */
static void run_for(double ms, void (*tick)(void)) {
  double until = now_ms() + ms;
  while (now_ms() < until) {
    poll_once(1);
    if (tick) tick();
  }
}

/* ---- flow control ------------------------------------------------------- */

static long min_burst;
static int64_t worst_lag, sent_at_look;
static double looked_at;

/*
 * Rate 0: every sender keeps --inflight messages unacknowledged (closed by
 * its own echo, or PING/PONG for IRC). With --backlog N > 0 the senders also
 * share a bound on copies the member read last has not read (load.ts's bound
 * for a reader slower than the server); 0 leaves the server to cope.
 */
static void top_up(void) {
  if (!sending) return;
  int64_t allowed = INT64_MAX;
  if (opt.backlog > 0) {
    if (worst_lag + (tally.sent - sent_at_look) + min_burst > opt.backlog) {
      double now = now_ms();
      if (now - looked_at < 1) return;
      looked_at = now;
      sent_at_look = tally.sent;
      worst_lag = 0;
      for (long i = 0; i < opt.clients; i++) {
        client *c = &clients[i];
        if (!c->ready || c->closed) continue;
        int64_t owed = tally.sent - (echoes_sender() ? 0 : c->sent);
        int64_t lag = owed - c->delivered;
        if (lag > worst_lag) worst_lag = lag;
      }
      if (worst_lag + min_burst > opt.backlog) return;
    }
    allowed = opt.backlog - worst_lag - (tally.sent - sent_at_look);
  }
  for (long i = 0; i < opt.senders && i < opt.clients; i++) {
    client *c = &clients[i];
    int64_t room = opt.inflight - (c->sent - c->acked);
    if (room > allowed) room = allowed;
    if (room < min_burst) continue;
    send_messages(c, (long)room);
    allowed -= room;
  }
}

static double pace_started, pace_last;

/* Rate > 0: each sender sends what is due, senders spread over the gap. */
static void pace(void) {
  if (!sending) return;
  double now = now_ms();
  if (now - pace_last < 2) return;
  pace_last = now;
  double elapsed = now - pace_started;
  double gap = 1000.0 / opt.rate / opt.senders;
  for (long i = 0; i < opt.senders && i < opt.clients; i++) {
    client *c = &clients[i];
    long due = (long)((elapsed - i * gap) * opt.rate / 1000) + 1;
    long room = opt.inflight - (long)(c->sent - c->acked);
    long count = due - (long)c->sent;
    send_messages(c, count < room ? count : room);
  }
}

static double rss_series[4096];
static int rss_points;
static double next_rss_at;

static void tick_sending(void) {
  if (opt.rate == 0)
    top_up();
  else
    pace();
  double now = now_ms();
  if (now >= next_rss_at && rss_points < 4096) {
    rss_series[rss_points++] = mb(resident_bytes(opt.server_pid));
    next_rss_at += 1000;
  }
}

/* ---- output ------------------------------------------------------------- */

static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      printf("\\%c", ch);
    else if (ch < 0x20)
      printf("\\u%04x", ch);
    else
      putchar(ch);
  }
  putchar('"');
}

static long parse_number(const char *flag, const char *value) {
  char *end;
  double v = strtod(value, &end);
  if (*end || v < 0) {
    fprintf(stderr, "bad number for %s: \"%s\"\n", flag, value);
    exit(2);
  }
  return (long)v;
}

static void parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *flag = argv[i];
    if (i + 1 >= argc) {
      fprintf(stderr, "%s needs a value\n", flag);
      exit(2);
    }
    const char *value = argv[++i];
    if (strcmp(flag, "--dialect") == 0) {
      if (strcmp(value, "json") == 0)
        opt.dialect = JSON;
      else if (strcmp(value, "irc") == 0)
        opt.dialect = IRC;
      else if (strcmp(value, "text") == 0)
        opt.dialect = TEXT;
      else {
        fprintf(stderr, "unknown dialect \"%s\" (json, irc or text)\n", value);
        exit(2);
      }
      continue;
    }
    if (strcmp(flag, "--transport") == 0) {
      if (strcmp(value, "ws") == 0)
        opt.websocket = true;
      else if (strcmp(value, "tcp") != 0) {
        fprintf(stderr, "unknown transport \"%s\" (tcp or ws)\n", value);
        exit(2);
      }
      continue;
    }
    long v = parse_number(flag, value);
    if (strcmp(flag, "--port") == 0) opt.port = (int)v;
    else if (strcmp(flag, "--clients") == 0) opt.clients = v;
    else if (strcmp(flag, "--senders") == 0) opt.senders = v;
    else if (strcmp(flag, "--rate") == 0) opt.rate = v;
    else if (strcmp(flag, "--inflight") == 0) opt.inflight = v;
    else if (strcmp(flag, "--backlog") == 0) opt.backlog = v;
    else if (strcmp(flag, "--seconds") == 0) opt.seconds = strtod(value, NULL);
    else if (strcmp(flag, "--warmup") == 0) opt.warmup = strtod(value, NULL);
    else if (strcmp(flag, "--size") == 0) opt.size = v;
    else if (strcmp(flag, "--drain-ms") == 0) opt.drain_ms = v;
    else if (strcmp(flag, "--connect-timeout-ms") == 0) opt.connect_timeout_ms = v;
    else if (strcmp(flag, "--connect-concurrency") == 0) opt.connect_concurrency = v;
    else if (strcmp(flag, "--server-pid") == 0) opt.server_pid = v;
    else if (strcmp(flag, "--announce-wait-ms") == 0) opt.announce_wait_ms = v;
    else if (strcmp(flag, "--read-bytes") == 0) opt.read_bytes = v;
    else if (strcmp(flag, "--settle-ms") == 0) opt.settle_ms = v;
    else {
      fprintf(stderr, "unknown flag %s\n", flag);
      exit(2);
    }
  }
  if (opt.size < MARK_BYTES || opt.size > 4000) {
    fprintf(stderr, "--size must be %d to 4000\n", MARK_BYTES);
    exit(2);
  }
  if (opt.websocket && opt.dialect != JSON) {
    fprintf(stderr, "--transport ws carries the JSON dialect only\n");
    exit(2);
  }
  if (opt.warmup < 0) opt.warmup = opt.seconds / 5 < 1 ? opt.seconds / 5 : 1;
  if (opt.read_bytes < 1024) opt.read_bytes = 1024;
}

/* The highest RSS seen while settling. */
static long peak_rss;

/*
 * The server's RSS once it has settled: sampled every 250 ms until it moved
 * by under 1 % in 3 s (at most --settle-ms), so the figure is what idle
 * connections hold, not the join storm's passing garbage (a server may give
 * back heap a couple of seconds after it goes idle).
 */
static long settled_rss(void) {
  enum { WINDOW = 12 };
  double deadline = now_ms() + opt.settle_ms;
  long samples[WINDOW + 1];
  int count = 0;
  long rss = resident_bytes(opt.server_pid);
  peak_rss = rss;
  while (now_ms() < deadline) {
    run_for(250, NULL);
    rss = resident_bytes(opt.server_pid);
    if (rss > peak_rss) peak_rss = rss;
    samples[count++ % (WINDOW + 1)] = rss;
    if (count > WINDOW) {
      long low = rss, high = rss;
      for (int i = 0; i <= WINDOW; i++) {
        if (samples[i] < low) low = samples[i];
        if (samples[i] > high) high = samples[i];
      }
      if ((high - low) * 100 < low) break;
    }
  }
  return rss;
}

int main(int argc, char **argv) {
  clock_gettime(CLOCK_MONOTONIC, &origin);
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  parse_args(argc, argv);
  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  clients = calloc((size_t)opt.clients, sizeof *clients);
  read_buffer = malloc((size_t)opt.read_bytes + CARRY_BYTES);
  epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (!clients || !read_buffer || epoll_fd < 0) {
    printf("{\"ok\":false,\"error\":\"out of memory or no epoll\"}\n");
    return 0;
  }
  for (long i = 0; i < opt.clients; i++) {
    clients[i].fd = -1;
    clients[i].index = (int)i;
    clients[i].sender = i < opt.senders;
  }

  long rss_before = resident_bytes(opt.server_pid);
  double server_cpu_before = cpu_seconds(opt.server_pid);
  double self_cpu_before = cpu_seconds(0);
  double started = now_ms();
  double deadline = started + opt.connect_timeout_ms;
  /* Connect, at most --connect-concurrency waiting for their welcome. The
   * first client is a member before anyone else starts: it is the one that
   * counts join notices, and every later join must come after its own. */
  while (now_ms() < deadline) {
    while (next_client < opt.clients &&
           connecting < opt.connect_concurrency &&
           (next_client != 1 || clients[0].ready || clients[0].closed))
      start_connect(&clients[next_client++]);
    if (next_client >= opt.clients && connecting == 0) break;
    poll_once(1);
  }
  double connect_ms = now_ms() - started;
  long connected = ready_clients;
  printf("{\"loadgen\":\"c\",\"clients\":%ld,\"connected\":%ld,"
         "\"connect_ms\":%ld,\"connect_server_cpu_pct\":%ld,"
         "\"connect_load_cpu_pct\":%ld",
         opt.clients, connected, (long)(connect_ms + 0.5),
         (long)((cpu_seconds(opt.server_pid) - server_cpu_before) / connect_ms *
                    100000 + 0.5),
         (long)((cpu_seconds(0) - self_cpu_before) / connect_ms * 100000 + 0.5));
  if (connected < opt.clients) {
    const char *waiting = "nothing";
    for (long i = 0; i < opt.clients; i++) {
      if (!clients[i].ready && clients[i].last_control[0]) {
        waiting = clients[i].last_control;
        break;
      }
    }
    /* Where the others stopped: TCP, the WebSocket handshake, the hello. */
    long no_tcp = 0, no_upgrade = 0, no_welcome = 0, gone = 0;
    for (long i = 0; i < opt.clients; i++) {
      const client *c = &clients[i];
      if (c->ready) continue;
      if (c->closed) gone++;
      else if (!c->connected) no_tcp++;
      else if (opt.websocket && !c->upgraded) no_upgrade++;
      else no_welcome++;
    }
    char stages[160] = "";
    if (opt.websocket)
      snprintf(stages, sizeof stages,
               " (%ld not connected, %ld without a 101, %ld without a "
               "welcome, %ld closed)",
               no_tcp, no_upgrade, no_welcome, gone);
    else
      snprintf(stages, sizeof stages,
               " (%ld not connected, %ld without a welcome, %ld closed)",
               no_tcp, no_welcome, gone);
    char why[1024];
    snprintf(why, sizeof why,
             "only %ld of %ld connected in %ld ms%s; one still waiting had "
             "last read \"%s\"%s%s",
             connected, opt.clients, (long)connect_ms, stages, waiting,
             tally.first_error[0] ? "; first error: " : "", tally.first_error);
    /* What those that did get in cost the server, for comparison. */
    long rss = resident_bytes(opt.server_pid);
    printf(",\"rss_before_mb\":%.1f,\"rss_mb\":%.1f", mb(rss_before), mb(rss));
    if (rss_before && rss && connected > 0)
      printf(",\"rss_per_conn_kb\":%.1f",
             (long)((rss - rss_before) / (double)connected / 1024 * 10 + 0.5) /
                 10.0);
    printf(",\"ok\":false,\"error\":");
    json_string(why);
    printf("}\n");
    return 0;
  }

  /* Every join after the first client's own is announced to it. */
  long expected_joins = opt.clients - 1;
  double announce_deadline = now_ms() + opt.announce_wait_ms;
  while (tally.announced_joins < expected_joins &&
         now_ms() < announce_deadline)
    poll_once(1);
  long rss_connected = settled_rss();
  printf(",\"joins_announced\":%lld,\"joins_expected\":%ld,"
         "\"rss_before_mb\":%.1f,\"rss_peak_mb\":%.1f,\"rss_mb\":%.1f,"
         "\"rss_per_conn_kb\":",
         (long long)tally.announced_joins, expected_joins, mb(rss_before),
         mb(peak_rss), mb(rss_connected));
  if (rss_before && rss_connected)
    printf("%.1f", (long)((rss_connected - rss_before) / (double)opt.clients /
                              1024 * 10 + 0.5) / 10.0);
  else
    printf("null");

  long recipients = echoes_sender() ? opt.clients : opt.clients - 1;
  min_burst = opt.inflight / 4 > 1 ? opt.inflight / 4 : 1;
  sending = opt.senders > 0;
  double send_started = now_ms();
  pace_started = send_started;
  next_rss_at = send_started + 1000;
  double warmup_ms = opt.warmup * 1000;
  tick_sending();
  run_for(warmup_ms, tick_sending);
  int64_t delivered_at_warm = tally.delivered;
  int64_t sent_at_warm = tally.sent;
  double server_cpu_at_warm = cpu_seconds(opt.server_pid);
  double self_cpu_at_warm = cpu_seconds(0);
  double machine_at_warm = machine_busy_seconds();
  double window_started = now_ms();
  reset_latency();
  run_for(opt.seconds * 1000 - warmup_ms, tick_sending);
  double window_ms = now_ms() - window_started;
  int64_t delivered_in_window = tally.delivered - delivered_at_warm;
  int64_t sent_in_window = tally.sent - sent_at_warm;
  double server_cpu =
      (cpu_seconds(opt.server_pid) - server_cpu_at_warm) / window_ms * 1000;
  double self_cpu = (cpu_seconds(0) - self_cpu_at_warm) / window_ms * 1000;
  /* CPU neither the server nor this process used: other work on the machine,
   * which makes the figures worse than they would be. */
  double other_cpu = (machine_busy_seconds() - machine_at_warm) / window_ms *
                         1000 - server_cpu - self_cpu;
  sending = false;
  double drain_deadline = now_ms() + opt.drain_ms;
  while (tally.delivered < tally.sent * recipients && now_ms() < drain_deadline)
    poll_once(5);
  int64_t expected = tally.sent * recipients;
  int64_t lost_count = expected - tally.delivered;
  for (long i = 0; i < opt.clients; i++) close_client(&clients[i]);

  bool ok = lost_count == 0 && tally.disconnects == 0 && tally.errors == 0;
  printf(",\"ok\":%s,\"seconds\":%.3f,\"messages\":%lld,\"expected\":%lld,"
         "\"delivered\":%lld,\"lost\":%lld,\"lost_pct\":%.2f,"
         "\"disconnects\":%lld,\"errors\":%lld",
         ok ? "true" : "false", window_ms / 1000, (long long)tally.sent,
         (long long)expected, (long long)tally.delivered, (long long)lost_count,
         expected ? (long)((double)lost_count / expected * 10000 + 0.5) / 100.0
                  : 0.0,
         (long long)tally.disconnects, (long long)tally.errors);
  if (tally.first_error[0]) {
    printf(",\"first_error\":");
    json_string(tally.first_error);
  }
  printf(",\"deliveries_per_s\":%lld,\"messages_per_s\":%lld,"
         "\"latency_ms\":{\"count\":%llu,\"p50\":%.2f,\"p90\":%.2f,"
         "\"p99\":%.2f,\"max\":%.2f},\"server_cpu_pct\":%ld,"
         "\"load_cpu_pct\":%ld,\"other_cpu_pct\":%ld,\"rss_series_mb\":[",
         (long long)(delivered_in_window / window_ms * 1000 + 0.5),
         (long long)(sent_in_window / window_ms * 1000 + 0.5),
         (unsigned long long)latency_count, percentile(0.5), percentile(0.9),
         percentile(0.99), round2(latency_max_us / 1000.0),
         (long)(server_cpu * 100 + 0.5), (long)(self_cpu * 100 + 0.5),
         other_cpu > 0 ? (long)(other_cpu * 100 + 0.5) : 0L);
  for (int i = 0; i < rss_points; i++)
    printf("%s%.1f", i ? "," : "", rss_series[i]);
  printf("]}\n");
  return 0;
}
