/*
 * New TCP connections per second, for the benchmark's connection scenario.
 *
 *   connrate serve PORT
 *   connrate connect ADDRESS PORT SECONDS CONCURRENCY
 *
 * The client keeps CONCURRENCY non-blocking connects in flight and counts completed handshakes.
 * Both sides close with an RST (SO_LINGER 0): a normal close leaves the client's port in
 * TIME_WAIT for 60 s, and a few rounds against one address then exhaust the ephemeral ports,
 * which measured the port search instead of the firewall. Written in C because a Node client
 * on the same two cores was the bottleneck (about 1,000 connections/s, very noisy).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void rst_close(int fd) {
  struct linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

static int serve(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(fd, 4096) < 0) die("listen");
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    int c = accept4(fd, NULL, NULL, 0);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      die("accept");
    }
    rst_close(c);
  }
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static int start(int ep, const struct sockaddr_in *to) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int r = connect(fd, (const struct sockaddr *)to, sizeof *to);
  if (r < 0 && errno != EINPROGRESS) {
    fprintf(stderr, "connect: %s\n", strerror(errno));
    rst_close(fd);
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
  return 0;
}

static int client(const char *addr, int port, double seconds, int concurrency) {
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, addr, &to.sin_addr) != 1) {
    fprintf(stderr, "bad address %s\n", addr);
    return 2;
  }
  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  long done = 0, failed = 0;
  for (int i = 0; i < concurrency; i++)
    if (start(ep, &to) < 0) failed++;
  struct epoll_event evs[256];
  double end = now() + seconds;
  while (now() < end) {
    int n = epoll_wait(ep, evs, 256, 100);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd, err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      // A reset can only follow a completed handshake (a refused SYN is ECONNREFUSED): the
      // server's RST overtook this loop.
      if (err == 0 || err == ECONNRESET) done++;
      else if (failed++ < 3) fprintf(stderr, "connect: %s\n", strerror(err));
      epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
      rst_close(fd);
      if (start(ep, &to) < 0) failed++;
    }
  }
  printf("{\"rate\":%.1f,\"connections\":%ld,\"failed\":%ld}\n", done / seconds, done, failed);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "serve") == 0) return serve(atoi(argv[2]));
  if (argc == 6 && strcmp(argv[1], "connect") == 0) return client(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]));
  fprintf(stderr, "usage: connrate serve PORT | connrate connect ADDRESS PORT SECONDS CONCURRENCY\n");
  return 2;
}
