/* Big-endian integers and bounded C-Octet string scans over raw PDU buffers.
 * Plain C, no Python API: the Cython codec and any C tool can share it. */
#ifndef SMPPFAST_WIRE_H
#define SMPPFAST_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t sf_get_u32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint16_t sf_get_u16(const unsigned char *p)
{
    return (uint16_t)(((unsigned)p[0] << 8) | (unsigned)p[1]);
}

static inline void sf_put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static inline void sf_put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

/* Length (terminator excluded) of the C-Octet string at p, looking at no more
 * than `limit` octets, terminator included. -1 when no NUL lies within them. */
static inline ptrdiff_t sf_cstr_len(const unsigned char *p, size_t limit)
{
    const unsigned char *z = (const unsigned char *)memchr(p, 0, limit);
    return z ? (ptrdiff_t)(z - p) : -1;
}

#endif /* SMPPFAST_WIRE_H */
