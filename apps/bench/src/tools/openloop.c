// An open-loop HTTP/1.1 load generator for the steady-rate latency test: requests are due at a
// fixed rate (one every 1/rate s, whatever the server does), sent on a pool of keep-alive
// connections, and each one's latency runs from the moment it was due, not from when it could be
// written. A server that stalls therefore sees the requests that queued behind the stall counted
// as late, where a closed loop (wrk's delay()) would quietly send fewer requests and leave the
// stall out of its histogram; and nothing lines the connections up into bursts.
//
// usage: openloop <port> <path> <rate> <connections> <seconds> <warm-seconds>  (127.0.0.1 only)
// prints one JSON line, latencies in microseconds.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define BUF 65536

typedef struct {
  int fd;
  int busy;
  uint64_t due;    // when the request on this connection was due (ns)
  size_t have;     // bytes of the response read so far
  char buf[BUF];
} conn_t;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int port;
static char request[1024];
static size_t request_len;
static int epfd;
static long connects, errors, non2xx;

static int open_conn(conn_t *c) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Blocking connect: on loopback it completes at once, and it is counted.
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  c->fd = fd;
  c->busy = 0;
  c->have = 0;
  connects++;
  return 0;
}

static void reopen(conn_t *c) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (open_conn(c) != 0) {
    fprintf(stderr, "openloop: cannot connect to 127.0.0.1:%d\n", port);
    exit(2);
  }
}

static int send_request(conn_t *c, uint64_t due) {
  c->busy = 1;
  c->due = due;
  c->have = 0;
  // A request of a few dozen bytes on an idle keep-alive socket: the send buffer always takes it.
  ssize_t n = write(c->fd, request, request_len);
  return n == (ssize_t)request_len ? 0 : -1;
}

static const char *find_header(const char *head, size_t head_len, const char *name) {
  size_t name_len = strlen(name);
  const char *p = memchr(head, '\n', head_len);
  while (p != NULL && (size_t)(p - head) < head_len) {
    p++;
    if ((size_t)(head + head_len - p) > name_len && strncasecmp(p, name, name_len) == 0 && p[name_len] == ':') return p + name_len + 1;
    p = memchr(p, '\n', head_len - (size_t)(p - head));
  }
  return NULL;
}

// 1: a whole response is in the buffer (status and whether the server closes), 0: not yet, -1: not HTTP.
static int complete(conn_t *c, int *status, int *closes) {
  c->buf[c->have] = 0;
  char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
  if (end == NULL) return 0;
  size_t head_len = (size_t)(end - c->buf) + 4;
  if (c->have < 12 || strncmp(c->buf, "HTTP/1.", 7) != 0) return -1;
  *status = atoi(c->buf + 9);
  const char *connection = find_header(c->buf, head_len, "connection");
  *closes = connection != NULL && strncasecmp(connection + strspn(connection, " "), "close", 5) == 0;
  const char *length = find_header(c->buf, head_len, "content-length");
  if (length != NULL) return c->have >= head_len + strtoul(length, NULL, 10);
  const char *te = find_header(c->buf, head_len, "transfer-encoding");
  if (te == NULL) return *status == 204 || *status == 304 ? 1 : -1;
  // Chunked: walk the chunks to the last (zero-size) one and the blank line after it.
  size_t at = head_len;
  for (;;) {
    char *line_end = memmem(c->buf + at, c->have - at, "\r\n", 2);
    if (line_end == NULL) return 0;
    unsigned long size = strtoul(c->buf + at, NULL, 16);
    at = (size_t)(line_end - c->buf) + 2;
    if (size == 0) return memmem(c->buf + at, c->have - at, "\r\n", 2) != NULL;
    at += size + 2;
    if (at > c->have) return 0;
  }
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: openloop <port> <path> <rate> <connections> <seconds> <warm-seconds>\n");
    return 2;
  }
  port = atoi(argv[1]);
  const char *path = argv[2];
  double rate = atof(argv[3]);
  int nconns = atoi(argv[4]);
  double seconds = atof(argv[5]), warm = atof(argv[6]);
  if (port <= 0 || rate <= 0 || nconns <= 0 || seconds <= 0 || warm < 0) return 2;
  request_len = (size_t)snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);

  epfd = epoll_create1(0);
  conn_t *conns = calloc((size_t)nconns, sizeof(conn_t));
  // Idle connections in a FIFO ring, so that every connection carries its share of the load.
  int *idle = malloc(sizeof(int) * (size_t)nconns);
  int idle_head = 0, idle_count = 0;
  for (int i = 0; i < nconns; i++) {
    if (open_conn(&conns[i]) != 0) {
      fprintf(stderr, "openloop: cannot connect to 127.0.0.1:%d\n", port);
      return 2;
    }
    idle[(idle_head + idle_count++) % nconns] = i;
  }
  long connects_before = connects;

  uint64_t interval = (uint64_t)(1e9 / rate);
  uint64_t start = now_ns() + 1000000;
  uint64_t measure_from = start + (uint64_t)(warm * 1e9);
  uint64_t stop_at = measure_from + (uint64_t)(seconds * 1e9);
  size_t cap = (size_t)(rate * seconds) + 16;
  uint32_t *lat = malloc(sizeof(uint32_t) * cap);
  size_t nlat = 0;
  long measured_sent = 0;
  // Requests that were due while every connection was busy, oldest first (a ring of due times).
  size_t qcap = (size_t)(rate * (seconds + warm)) + 16;
  uint64_t *queue = malloc(sizeof(uint64_t) * qcap);
  size_t qhead = 0, qlen = 0, qmax = 0;

  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);
  uint64_t next_due = start;
  int in_flight = 0;
  uint64_t deadline = stop_at + 10ull * 1000000000u;

  for (;;) {
    uint64_t now = now_ns();
    while (next_due < stop_at && next_due <= now) {
      if (next_due >= measure_from) measured_sent++;
      if (idle_count > 0) {
        int i = idle[idle_head];
        idle_head = (idle_head + 1) % nconns;
        idle_count--;
        if (send_request(&conns[i], next_due) != 0) {
          if (next_due >= measure_from) errors++;
          reopen(&conns[i]);
          idle[(idle_head + idle_count++) % nconns] = i;
        } else in_flight++;
      } else {
        queue[(qhead + qlen++) % qcap] = next_due;
        if (qlen > qmax) qmax = qlen;
      }
      next_due += interval;
    }
    if (next_due >= stop_at && in_flight == 0 && qlen == 0) break;
    if (now > deadline) break;
    if (next_due < stop_at) {
      struct itimerspec its = {.it_value = {.tv_sec = (time_t)(next_due / 1000000000u), .tv_nsec = (long)(next_due % 1000000000u)}};
      timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
    }
    struct epoll_event events[64];
    int n = epoll_wait(epfd, events, 64, next_due < stop_at ? -1 : 100);
    if (n < 0 && errno != EINTR) return 2;
    for (int e = 0; e < n; e++) {
      conn_t *c = events[e].data.ptr;
      if (c == NULL) {
        uint64_t expirations;
        ssize_t ignored = read(tfd, &expirations, sizeof expirations);
        (void)ignored;
        continue;
      }
      ssize_t got = read(c->fd, c->buf + c->have, BUF - 1 - c->have);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      int status = 0, closes = 0, done = 0;
      if (got > 0) {
        c->have += (size_t)got;
        done = complete(c, &status, &closes);
        if (done == 0 && c->have >= BUF - 1) done = -1;
        if (done == 0) continue;
      } else done = -1;
      uint64_t finished = now_ns();
      int i = (int)(c - conns);
      if (!c->busy) {
        // The server closed an idle connection: open another.
        reopen(c);
        continue;
      }
      in_flight--;
      if (done < 0) {
        if (c->due >= measure_from && c->due < stop_at) errors++;
        reopen(c);
      } else {
        if (c->due >= measure_from && c->due < stop_at) {
          uint64_t us = (finished - c->due) / 1000;
          if (nlat < cap) lat[nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
          if (status < 200 || status > 399) non2xx++;
        }
        c->busy = 0;
        if (closes) reopen(c);
      }
      if (qlen > 0) {
        uint64_t due = queue[qhead];
        qhead = (qhead + 1) % qcap;
        qlen--;
        if (send_request(c, due) != 0) {
          if (due >= measure_from) errors++;
          reopen(c);
          idle[(idle_head + idle_count++) % nconns] = i;
        } else in_flight++;
      } else {
        idle[(idle_head + idle_count++) % nconns] = i;
      }
    }
  }
  // Requests still unanswered at the deadline, or never sent, are errors, not fast answers.
  long unanswered = measured_sent - (long)nlat - errors;
  if (unanswered > 0) errors += unanswered;
  qsort(lat, nlat, sizeof(uint32_t), cmp_u32);
#define PCT(p) (nlat == 0 ? 0 : lat[(size_t)((double)(nlat - 1) * (p) / 100.0 + 0.5)])
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  long long cpu_us = (long long)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000 + usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
  printf("{\"cpuUs\":%lld,\"requests\":%zu,\"us\":%llu,\"p50\":%u,\"p90\":%u,\"p99\":%u,\"p999\":%u,\"max\":%u,\"errors\":%ld,\"non2xx\":%ld,\"queuedMax\":%zu,\"reconnects\":%ld}\n", cpu_us, nlat,
         (unsigned long long)((stop_at - measure_from) / 1000), PCT(50), PCT(90), PCT(99), PCT(99.9), nlat == 0 ? 0 : lat[nlat - 1], errors, non2xx, qmax,
         connects - connects_before);
  return 0;
}
