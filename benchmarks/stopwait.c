/* A minimal SMPP 3.4 ESME in C: the round-trip yardstick for the client benchmarks.
 *
 * Connects to 127.0.0.1:PORT, binds as a transmitter, then sends COUNT submit_sm with at most
 * WINDOW unanswered at any time (WINDOW 1 = stop-and-wait: send one, read its response, repeat),
 * reading responses with blocking recv and counting them; each turn sends as many as the window
 * admits in one send, then takes every whole response received. Prints one line:
 *     submits=COUNT seconds=S rate=R
 * Build/run:  gcc -O2 -o stopwait stopwait.c && ./stopwait PORT [COUNT] [WINDOW] [WARMUP]
 * The submit_sm is the benchmarks' canonical one: source "Sender" (5/0), destination
 * "447700900123" (1/1), registered_delivery 0, a 60-byte ASCII text.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fd;
static uint8_t rbuf[1 << 20];
static size_t rlen = 0, roff = 0;

static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static void send_all(const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) { perror("send"); exit(2); }
        p += w; n -= (size_t)w;
    }
}

/* Take one whole PDU from the buffer if there is one (return 1), else 0; command_id and status out. */
static int take_pdu(uint32_t *cmd, uint32_t *status) {
    if (rlen - roff < 16) return 0;
    uint32_t len = be32(rbuf + roff);
    if (len < 16 || len > 65536) { fprintf(stderr, "bad length %u\n", len); exit(2); }
    if (rlen - roff < len) return 0;
    *cmd = be32(rbuf + roff + 4);
    *status = be32(rbuf + roff + 8);
    roff += len;
    return 1;
}

/* One blocking recv, appended to the buffer. */
static void fill(void) {
    if (roff) { memmove(rbuf, rbuf + roff, rlen - roff); rlen -= roff; roff = 0; }
    ssize_t r = recv(fd, rbuf + rlen, sizeof rbuf - rlen, 0);
    if (r <= 0) { fprintf(stderr, "connection closed\n"); exit(2); }
    rlen += (size_t)r;
}

/* Read one whole PDU; return its command_id and status. */
static uint32_t read_pdu(uint32_t *status) {
    uint32_t cmd;
    while (!take_pdu(&cmd, status)) fill();
    return cmd;
}

static size_t cstr(uint8_t *p, const char *s) { size_t n = strlen(s) + 1; memcpy(p, s, n); return n; }

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 2775;
    long count = argc > 2 ? atol(argv[2]) : 20000;
    long window = argc > 3 ? atol(argv[3]) : 1;
    long warmup = argc > 4 ? atol(argv[4]) : 1000;
    if (window < 1) window = 1;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 2; }

    uint8_t pdu[512];
    size_t n = 16;
    n += cstr(pdu + n, "bench");      /* system_id */
    n += cstr(pdu + n, "secret");     /* password */
    n += cstr(pdu + n, "");           /* system_type */
    pdu[n++] = 0x34; pdu[n++] = 0; pdu[n++] = 0;
    n += cstr(pdu + n, "");           /* address_range */
    put32(pdu, (uint32_t)n); put32(pdu + 4, 0x00000002); put32(pdu + 8, 0); put32(pdu + 12, 1);
    send_all(pdu, n);
    uint32_t status, cmd = read_pdu(&status);
    if (cmd != 0x80000002 || status) { fprintf(stderr, "bind failed: %08x %u\n", cmd, status); return 2; }

    static const char text[] = "Your code is 482913. It expires in 10 minutes. Do not share!";
    n = 16;
    n += cstr(pdu + n, "");                                  /* service_type */
    pdu[n++] = 5; pdu[n++] = 0; n += cstr(pdu + n, "Sender");
    pdu[n++] = 1; pdu[n++] = 1; n += cstr(pdu + n, "447700900123");
    pdu[n++] = 0; pdu[n++] = 0; pdu[n++] = 0;                /* esm_class, protocol_id, priority */
    n += cstr(pdu + n, ""); n += cstr(pdu + n, "");          /* schedule, validity */
    pdu[n++] = 0; pdu[n++] = 0; pdu[n++] = 0; pdu[n++] = 0;  /* registered_delivery .. sm_default_msg_id */
    pdu[n++] = (uint8_t)(sizeof text - 1);
    memcpy(pdu + n, text, sizeof text - 1); n += sizeof text - 1;
    put32(pdu, (uint32_t)n); put32(pdu + 4, 0x00000004); put32(pdu + 8, 0);
    size_t plen = n;

    uint32_t seq = 2;
    double t0 = 0;
    long total = warmup + count, sent = 0, got = 0;
    uint8_t *batch = malloc(plen * (size_t)window);
    while (got < total) {
        if (got == warmup && sent == got) t0 = now();
        size_t k = 0;
        long limit = got < warmup ? warmup : total;   /* the warm-up drains before timing starts */
        while (sent < limit && sent - got < window) {
            memcpy(batch + k, pdu, plen);
            put32(batch + k + 12, seq++);
            k += plen; sent++;
        }
        if (k) send_all(batch, k);
        /* wait for at least one response, then take every whole response already received */
        cmd = read_pdu(&status);
        do {
            if (cmd != 0x80000004 || status) { fprintf(stderr, "unexpected %08x %u\n", cmd, status); return 2; }
            got++;
        } while (got < sent && take_pdu(&cmd, &status));
    }
    double dt = now() - t0;
    printf("submits=%ld seconds=%.6f rate=%.1f\n", count, dt, count / dt);
    close(fd);
    return 0;
}
