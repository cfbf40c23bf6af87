// bare-open-loop: the least an open-loop HTTP generator can do per request, as a yardstick for
// spindle-load's ceiling. One thread, no runtime, no goroutines, no timers: request i is due at
// start + i/rate; the loop wakes at most every 200 µs (as spindle-load's pacer does), sends
// every due request on a free keep-alive connection, and reads the answers. A due request with
// no free connection waits for one (its send is late, as in spindle-load). Only GET, only
// answers with Content-Length, no TLS: just enough for a trivial server.
//
//   -io uring  (default) sends and receives through io_uring: one system call per wake-up
//              submits every send and its linked receive and reaps what finished.
//   -io epoll  send(2) per request, one edge-triggered registration per connection,
//              read(2) per readiness.
//
// Prints "RESULT <name> <value> <unit>" lines: offered_rate, sent, achieved_rate (sends over
// the attack: first due time to last send), ok (status 200), errors, unfinished,
// late_sends_p50_us / late_sends_p99_ms / late_sends_max_ms (send time minus due time),
// cpu_us_per_request and cores (its own getrusage over the run). Waits at most 5 s for the
// last answers.
//
// Usage: bare-open-loop -addr 127.0.0.1:PORT -rate R [-duration-s 3] [-conns 1000] [-path /]
//        [-io uring|epoll]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { kBuf = 4096, kCoalesceNs = 200000 };
static const long long kDrainNs = 5000000000LL;

typedef struct {
  int fd;
  int used;  // bytes of the answer so far
  char buf[kBuf];
} Conn;

static Conn* conns;
static int* free_list;
static int nfree;
static long long ok, errors, done;
static int live;  // connections not failed

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void die(const char* what) {
  perror(what);
  exit(1);
}

// 1: the answer in c->buf is complete (counted and the connection freed); 0: more to read;
// -1: malformed or too large (counted as an error; the caller drops the connection).
static int answer_complete(int id) {
  Conn* c = &conns[id];
  char* end = memmem(c->buf, c->used, "\r\n\r\n", 4);
  if (end == NULL) return c->used == kBuf ? -1 : 0;
  char* cl = memmem(c->buf, end - c->buf, "Content-Length:", 15);
  long body = cl ? strtol(cl + 15, NULL, 10) : 0;
  long need = (end + 4 - c->buf) + body;
  if (need > kBuf) return -1;
  if (c->used < need) return 0;
  if (c->used > need) return -1;  // nothing else was asked for
  if (strncmp(c->buf, "HTTP/1.1 200 ", 13) == 0) ++ok; else ++errors;
  ++done;
  c->used = 0;
  free_list[nfree++] = id;
  return 1;
}

static void fail_conn(int id) {
  ++errors;
  ++done;
  --live;
  close(conns[id].fd);  // never reused: a failed connection leaves the pool
}

static int cmp_ll(const void* a, const void* b) {
  long long x = *(const long long*)a, y = *(const long long*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  const char* addr = NULL;
  const char* path = "/";
  const char* io = "uring";
  double rate = 0, seconds = 3;
  int nconns = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "-addr")) addr = argv[i + 1];
    else if (!strcmp(argv[i], "-rate")) rate = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "-duration-s")) seconds = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "-conns")) nconns = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "-path")) path = argv[i + 1];
    else if (!strcmp(argv[i], "-io")) io = argv[i + 1];
    else { fprintf(stderr, "unknown flag %s\n", argv[i]); return 2; }
  }
  const char* colon = addr ? strrchr(addr, ':') : NULL;
  const int uring = !strcmp(io, "uring");
  if (!colon || rate <= 0 || seconds <= 0 || nconns <= 0 || (!uring && strcmp(io, "epoll"))) {
    fprintf(stderr, "usage: bare-open-loop -addr HOST:PORT -rate R [-duration-s S] [-conns N]"
                    " [-path P] [-io uring|epoll]\n");
    return 2;
  }
  char host[256];
  snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(colon + 1))};
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) { fprintf(stderr, "bad -addr\n"); return 2; }
  char req[512];
  const int req_len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, addr);

  const long long total = (long long)(rate * seconds);
  long long* late = malloc(sizeof(long long) * (total + 1));
  conns = calloc(nconns, sizeof(Conn));
  free_list = malloc(sizeof(int) * nconns);
  int ep = epoll_create1(0);
  for (int i = 0; i < nconns; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0) die("socket");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr*)&sa, sizeof sa) != 0) die("connect");
    conns[i].fd = fd;
    free_list[nfree++] = i;
    if (!uring) {
      struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.u32 = (unsigned)i};
      if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0) die("epoll_ctl");
    }
  }
  struct io_uring ring;
  if (uring) {
    // Completions are posted when this thread asks for them (no task-work interrupts).
    struct io_uring_params p = {.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
                                         IORING_SETUP_DEFER_TASKRUN,
                                .cq_entries = 4 * nconns};
    int r = io_uring_queue_init_params(2 * nconns, &ring, &p);
    if (r != 0) { fprintf(stderr, "io_uring: %s\n", strerror(-r)); return 1; }
  }

  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  const double period = 1e9 / rate;
  const long long start = now_ns() + 1000000;
  long long sent = 0, woke = 0, last_send = start;
  live = nconns;
  for (;;) {
    long long t = now_ns();
    if (sent == total && (done == total || t > last_send + kDrainNs)) break;
    for (; sent < total && nfree > 0; ++sent) {
      const long long due = start + (long long)(sent * period);
      if (due > t) break;
      const int id = free_list[--nfree];
      late[sent] = t - due;
      last_send = t;
      if (uring) {
        struct io_uring_sqe* s = io_uring_get_sqe(&ring);
        io_uring_prep_send(s, conns[id].fd, req, req_len, 0);
        s->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
        s->user_data = (1ULL << 32) | (unsigned)id;
        s = io_uring_get_sqe(&ring);
        io_uring_prep_recv(s, conns[id].fd, conns[id].buf, kBuf, 0);
        s->user_data = (unsigned)id;
      } else if (send(conns[id].fd, req, req_len, MSG_NOSIGNAL) != req_len) {
        fail_conn(id);
      }
    }
    if (live == 0) break;
    long long next = sent < total ? start + (long long)(sent * period) : t + kCoalesceNs;
    if (next < woke + kCoalesceNs) next = woke + kCoalesceNs;
    long long wait = next - now_ns();
    if (sent < total && nfree == 0) wait = kCoalesceNs;  // until an answer frees a connection
    if (wait < 0) wait = 0;
    struct __kernel_timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
    if (uring) {
      struct io_uring_cqe* cqe;
      int r = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
      if (r < 0 && r != -ETIME && r != -EINTR) { fprintf(stderr, "io_uring: %s\n", strerror(-r)); return 1; }
      unsigned head, n = 0;
      io_uring_for_each_cqe(&ring, head, cqe) {
        ++n;
        const int id = (int)(cqe->user_data & 0xffffffffu);
        if (cqe->user_data >> 32) continue;  // a failed send: its linked receive fails too
        if (cqe->res <= 0) { fail_conn(id); continue; }
        conns[id].used += cqe->res;
        int a = answer_complete(id);
        if (a < 0) { fail_conn(id); continue; }
        if (a == 0) {
          struct io_uring_sqe* s = io_uring_get_sqe(&ring);
          io_uring_prep_recv(s, conns[id].fd, conns[id].buf + conns[id].used,
                             kBuf - conns[id].used, 0);
          s->user_data = (unsigned)id;
        }
      }
      io_uring_cq_advance(&ring, n);
    } else {
      struct epoll_event ev[256];
      struct timespec wt = {.tv_sec = ts.tv_sec, .tv_nsec = ts.tv_nsec};
      int n = epoll_pwait2(ep, ev, 256, &wt, NULL);
      for (int k = 0; k < n; ++k) {
        const int id = (int)ev[k].data.u32;
        Conn* c = &conns[id];
        // A short read proves the socket drained (edge-triggered: nothing is left behind).
        ssize_t m = read(c->fd, c->buf + c->used, kBuf - c->used);
        if (m <= 0) {
          if (m < 0 && errno == EAGAIN) continue;
          fail_conn(id);
          continue;
        }
        c->used += m;
        if (answer_complete(id) < 0) fail_conn(id);
      }
    }
    woke = now_ns();
  }
  getrusage(RUSAGE_SELF, &r1);
  const double cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) + (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
                     ((r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) + (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec)) / 1e6;
  const double elapsed = (now_ns() - start) / 1e9;
  const double attack = (last_send - start) / 1e9;
  qsort(late, sent, sizeof late[0], cmp_ll);
  printf("RESULT offered_rate %.0f req/s\n", rate);
  printf("RESULT sent %lld requests\n", sent);
  printf("RESULT achieved_rate %.1f req/s\n", sent > 1 && attack > 0 ? (sent - 1) / attack : 0);
  printf("RESULT ok %lld requests\n", ok);
  printf("RESULT errors %lld requests\n", errors);
  printf("RESULT unfinished %lld requests\n", sent - done);
  if (sent > 0) {
    printf("RESULT late_sends_p50_us %.1f us\n", late[sent / 2] / 1e3);
    printf("RESULT late_sends_p99_ms %.3f ms\n", late[sent * 99 / 100] / 1e6);
    printf("RESULT late_sends_max_ms %.3f ms\n", late[sent - 1] / 1e6);
  }
  printf("RESULT cpu_us_per_request %.2f us\n", sent ? 1e6 * cpu / sent : 0);
  printf("RESULT cores %.2f cores\n", cpu / elapsed);
  return done == 0;
}
