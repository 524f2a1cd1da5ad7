/* SMS_KIND_LOOP: the one loop over a Python str's code points, shared by the default alphabet
 * (gsm0338.c) and the national language tables (gsm0338_national.c). Plain C, no Python API.
 * The enclosing function returns ptrdiff_t: an unknown storage width returns SMS_E_ARG. */
#ifndef SMPPFAST_SMS_KIND_LOOP_H
#define SMPPFAST_SMS_KIND_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "gsm0338.h"

/* Run the statements in __VA_ARGS__ once per code point, with `i` the index
 * and `cp` the code point, specialised per storage width so that the inner
 * loop carries no width test. */
#define SMS_KIND_LOOP(kind, text, len, ...)                                         \
    switch (kind) {                                                                 \
    case 1: {                                                                       \
        const uint8_t *p_ = (const uint8_t *)(text);                                \
        for (size_t i = 0; i < (len); i++) {                                        \
            const uint32_t cp = p_[i];                                              \
            __VA_ARGS__                                                             \
        }                                                                           \
        break;                                                                      \
    }                                                                               \
    case 2: {                                                                       \
        const uint16_t *p_ = (const uint16_t *)(text);                              \
        for (size_t i = 0; i < (len); i++) {                                        \
            const uint32_t cp = p_[i];                                              \
            __VA_ARGS__                                                             \
        }                                                                           \
        break;                                                                      \
    }                                                                               \
    case 4: {                                                                       \
        const uint32_t *p_ = (const uint32_t *)(text);                              \
        for (size_t i = 0; i < (len); i++) {                                        \
            const uint32_t cp = p_[i];                                              \
            __VA_ARGS__                                                             \
        }                                                                           \
        break;                                                                      \
    }                                                                               \
    default:                                                                        \
        return SMS_E_ARG;                                                           \
    }

#endif
