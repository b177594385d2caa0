/*
 * libmodbus-server: an independent Modbus TCP peer for otlink's interop
 * test (internal/driver/modbus/libmodbus_test.go). Debian ships no libmodbus
 * server binary, so the test builds this one:
 *
 *   gcc -O2 -o libmodbus-server scripts/libmodbus-server.c $(pkg-config --cflags --libs libmodbus)
 *   ./libmodbus-server 0        # 0 = any free port
 *
 * It listens on 127.0.0.1:<argv[1]>, prints "ready <port>" once listening,
 * serves any number of connections with select(), and exits when stdin
 * closes or after 120 seconds, whichever comes first.
 *
 * Mapping (0-based addresses). "big" = high word first (ABCD), "little" =
 * low word first (CDAB); bytes within a register are always big-endian
 * except where noted.
 *
 *   hr 0        int16   -12345
 *   hr 1        uint16  54321
 *   hr 2..3     int32   -123456789            big
 *   hr 4..5     int32   -123456789            little
 *   hr 6..7     uint32  3000000000            big
 *   hr 8..9     uint32  3000000000            little
 *   hr 10..11   float32 3.14159274 (3.14159f) big
 *   hr 12..13   float32 3.14159274            little
 *   hr 14..17   int64   -1234567890123456789  big
 *   hr 18..21   int64   -1234567890123456789  little
 *   hr 22..25   uint64  12345678901234567890  big
 *   hr 26..29   uint64  12345678901234567890  little
 *   hr 30..33   float64 -2.718281828459045    big
 *   hr 34..37   float64 -2.718281828459045    little
 *   hr 38       0xA5C3  bits 0,1,6,7,8,10,13,15 set
 *   hr 39       0x12F6  low byte: uint8 246, int8 -10
 *   hr 40..44   string  "libmodbus" NUL-padded to 10 bytes, 2 per register
 *   hr 45..46   float32 -0.5 with bytes swapped in each register (BADC)
 *   hr 100..199 zero, for writes
 *   ir i        1000 + i            for i in 0..99
 *   coil i      1 when i % 3 == 0   for i in 0..99; coils 100..199 zero, for writes
 *   di i        1 when i % 5 == 0   for i in 0..99
 *
 * FC 43/14 (device identification) is not implemented by libmodbus 3.1:
 * it answers exception 01 (illegal function).
 */
#include <errno.h>
#include <modbus.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

static void put_words(uint16_t *r, uint64_t v, int nwords, int little)
{
    for (int i = 0; i < nwords; i++) {
        /* word i of the value, counted from the most significant */
        uint16_t w = (uint16_t)(v >> (16 * (nwords - 1 - i)));
        r[little ? nwords - 1 - i : i] = w;
    }
}

static void fill(modbus_mapping_t *m)
{
    uint16_t *hr = m->tab_registers;
    int32_t i32 = -123456789;
    uint32_t u32 = 3000000000u;
    float f32 = 3.14159f;
    int64_t i64 = -1234567890123456789LL;
    uint64_t u64 = 12345678901234567890ULL;
    double f64 = -2.718281828459045;
    uint32_t f32bits;
    uint64_t f64bits;

    memcpy(&f32bits, &f32, 4);
    memcpy(&f64bits, &f64, 8);
    hr[0] = (uint16_t)(int16_t)-12345;
    hr[1] = 54321;
    for (int little = 0; little < 2; little++) {
        put_words(hr + 2 + 2 * little, (uint32_t)i32, 2, little);
        put_words(hr + 6 + 2 * little, u32, 2, little);
        put_words(hr + 10 + 2 * little, f32bits, 2, little);
        put_words(hr + 14 + 4 * little, (uint64_t)i64, 4, little);
        put_words(hr + 22 + 4 * little, u64, 4, little);
        put_words(hr + 30 + 4 * little, f64bits, 4, little);
    }
    hr[38] = 0xA5C3;
    hr[39] = 0x12F6;
    const char *s = "libmodbus";
    char padded[10] = {0};
    memcpy(padded, s, strlen(s));
    for (int i = 0; i < 5; i++)
        hr[40 + i] = (uint16_t)((uint8_t)padded[2 * i] << 8 | (uint8_t)padded[2 * i + 1]);
    float half = -0.5f; /* 0xBF000000: ABCD = BF 00 00 00, BADC = 00 BF 00 00 */
    uint32_t hb;
    memcpy(&hb, &half, 4);
    hr[45] = (uint16_t)(((hb >> 16) & 0xFF) << 8 | (hb >> 24));
    hr[46] = (uint16_t)((hb & 0xFF) << 8 | ((hb >> 8) & 0xFF));
    for (int i = 0; i < 100; i++) {
        m->tab_input_registers[i] = (uint16_t)(1000 + i);
        m->tab_bits[i] = i % 3 == 0;
        m->tab_input_bits[i] = i % 5 == 0;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    alarm(120); /* bounded lifetime even if the parent forgets us */
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", atoi(argv[1]));
    modbus_mapping_t *m = modbus_mapping_new(200, 100, 200, 100);
    if (ctx == NULL || m == NULL) {
        fprintf(stderr, "libmodbus: %s\n", modbus_strerror(errno));
        return 1;
    }
    fill(m);
    int ls = modbus_tcp_listen(ctx, 8);
    if (ls < 0) {
        fprintf(stderr, "listen: %s\n", modbus_strerror(errno));
        return 1;
    }
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &salen);
    printf("ready %d\n", ntohs(sa.sin_port));
    fflush(stdout);

    fd_set all;
    FD_ZERO(&all);
    FD_SET(ls, &all);
    FD_SET(0, &all);
    int maxfd = ls;
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    for (;;) {
        fd_set rd = all;
        if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        for (int fd = 0; fd <= maxfd; fd++) {
            if (!FD_ISSET(fd, &rd))
                continue;
            if (fd == 0) {
                char b[64];
                if (read(0, b, sizeof b) <= 0)
                    return 0; /* stdin closed: the test is over */
            } else if (fd == ls) {
                int c = accept(ls, NULL, NULL);
                if (c >= 0 && c < FD_SETSIZE) {
                    FD_SET(c, &all);
                    if (c > maxfd)
                        maxfd = c;
                } else if (c >= 0) {
                    close(c);
                }
            } else {
                modbus_set_socket(ctx, fd);
                int rc = modbus_receive(ctx, query);
                if (rc > 0) {
                    modbus_reply(ctx, query, rc, m);
                } else if (rc == -1) {
                    close(fd);
                    FD_CLR(fd, &all);
                }
            }
        }
    }
}
