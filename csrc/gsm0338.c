/*
 * gsm0338.c - see gsm0338.h for the contract of each function.
 *
 * Tables follow 3GPP TS 23.038 6.2.1 (default alphabet) and 6.2.1.1
 * (default alphabet extension table). The encoder is a direct lookup for code
 * points below U+0100, a 32-entry table for the Greek capitals, and a single
 * comparison for the euro sign: those are the only code points GSM 03.38 has.
 */
#include "gsm0338.h"
#include "sms_kind_loop.h"

#include <string.h>

/* Septet -> code point, default alphabet. 0x1B (ESC) holds the space a lone
 * ESC is shown as (23.038 6.2.1, note on ESC). */
static const uint16_t GSM_BASIC[128] = {
    0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC,
    0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5,
    0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8,
    0x03A3, 0x0398, 0x039E, 0x0020, 0x00C6, 0x00E6, 0x00DF, 0x00C9,
    0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027,
    0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037,
    0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F,
    0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F,
    0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057,
    0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,
    0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,
    0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F,
    0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
    0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
};

/* Septet following ESC -> code point; 0 where the extension table has none. */
static const uint16_t GSM_EXT[128] = {
    [0x0A] = 0x000C, /* form feed (page break) */
    [0x14] = 0x005E, /* ^ */
    [0x28] = 0x007B, /* { */
    [0x29] = 0x007D, /* } */
    [0x2F] = 0x005C, /* \ */
    [0x3C] = 0x005B, /* [ */
    [0x3D] = 0x007E, /* ~ */
    [0x3E] = 0x005D, /* ] */
    [0x40] = 0x007C, /* | */
    [0x65] = 0x20AC, /* euro sign */
};

/* Encoder lookups. Value < 0x80: a default-alphabet septet; 0x80 | code: the
 * extension character ESC code; 0xFF: not in GSM 03.38. U+001B is 0xFF on
 * purpose: a raw ESC in the text would corrupt the next character. */
#define GSM_NONE 0xFF
#define GSM_EXTBIT 0x80

static const uint8_t GSM_FROM_LATIN1[256] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0A, 0xFF, 0x8A, 0x0D, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x20, 0x21, 0x22, 0x23, 0x02, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F,
    0x00, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F,
    0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0xBC, 0xAF, 0xBE, 0x94, 0x11,
    0xFF, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F,
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0xA8, 0xC0, 0xA9, 0xBD, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0x40, 0xFF, 0x01, 0x24, 0x03, 0xFF, 0x5F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x60,
    0xFF, 0xFF, 0xFF, 0xFF, 0x5B, 0x0E, 0x1C, 0x09, 0xFF, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0x5D, 0xFF, 0xFF, 0xFF, 0xFF, 0x5C, 0xFF, 0x0B, 0xFF, 0xFF, 0xFF, 0x5E, 0xFF, 0xFF, 0x1E,
    0x7F, 0xFF, 0xFF, 0xFF, 0x7B, 0x0F, 0x1D, 0xFF, 0x04, 0x05, 0xFF, 0xFF, 0x07, 0xFF, 0xFF, 0xFF,
    0xFF, 0x7D, 0x08, 0xFF, 0xFF, 0xFF, 0x7C, 0xFF, 0x0C, 0x06, 0xFF, 0xFF, 0x7E, 0xFF, 0xFF, 0xFF,
};

#define GSM_GREEK_FIRST 0x0390u
static const uint8_t GSM_FROM_GREEK[32] = {
    0xFF, 0xFF, 0xFF, 0x13, 0x10, 0xFF, 0xFF, 0xFF, 0x19, 0xFF, 0xFF, 0x14, 0xFF, 0xFF, 0x1A, 0xFF,
    0x16, 0xFF, 0xFF, 0x18, 0xFF, 0xFF, 0x12, 0xFF, 0x17, 0x15, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
};

#define GSM_EURO_CP 0x20ACu
#define GSM_EURO_CODE 0x65u

static inline uint8_t gsm_lookup(uint32_t cp) {
    if (cp < 0x100u) return GSM_FROM_LATIN1[cp];
    if (cp - GSM_GREEK_FIRST < 32u) return GSM_FROM_GREEK[cp - GSM_GREEK_FIRST];
    if (cp == GSM_EURO_CP) return GSM_EXTBIT | GSM_EURO_CODE;
    return GSM_NONE;
}


/* Units one code point costs in each charset; 0 when it cannot be encoded.
 * Lone surrogates (U+D800..U+DFFF) have no UTF-16 form of their own, and
 * code points above U+10FFFF none at all. */
static inline unsigned cost_gsm(uint32_t cp) {
    const uint8_t v = gsm_lookup(cp);
    return v == GSM_NONE ? 0u : (v & GSM_EXTBIT) ? 2u : 1u;
}

int gsm_char_septets(uint32_t cp) { return (int)cost_gsm(cp); }

static inline unsigned cost_ucs2(uint32_t cp) {
    if (cp < 0xD800u || (cp > 0xDFFFu && cp < 0x10000u)) return 1;
    return (cp >= 0x10000u && cp <= 0x10FFFFu) ? 2u : 0u;
}

/* Like SMS_KIND_LOOP, with `c` the units the code point costs in `enc`,
 * specialised per charset as well (12 small loops, none with a test that
 * does not depend on the character). */
#define SMS_COST_LOOP(enc, kind, text, len, ...)                                      \
    switch (enc) {                                                                    \
    case SMS_ENC_GSM:                                                                 \
        SMS_KIND_LOOP(kind, text, len, unsigned c = cost_gsm(cp); __VA_ARGS__)        \
        break;                                                                        \
    case SMS_ENC_UCS2:                                                                \
        SMS_KIND_LOOP(kind, text, len, unsigned c = cost_ucs2(cp); __VA_ARGS__)       \
        break;                                                                        \
    case SMS_ENC_LATIN1:                                                              \
        SMS_KIND_LOOP(kind, text, len, unsigned c = cp < 0x100u; __VA_ARGS__)         \
        break;                                                                        \
    case SMS_ENC_ASCII:                                                               \
        SMS_KIND_LOOP(kind, text, len, unsigned c = cp < 0x80u; __VA_ARGS__)          \
        break;                                                                        \
    default:                                                                          \
        return SMS_E_ARG;                                                             \
    }

ptrdiff_t sms_measure(const void *text, int kind, size_t len, sms_enc enc, int replace, size_t *bad) {
    size_t total = 0;
    SMS_COST_LOOP(enc, kind, text, len, {
        if (c == 0) {
            if (!replace) {
                if (bad) *bad = i;
                return SMS_E_UNENCODABLE;
            }
            c = 1;
        }
        total += c;
    })
    return (ptrdiff_t)total;
}

/* The encoders check capacity once per character: the branch is always
 * predicted, and it keeps them safe for any caller-supplied buffer. */
static ptrdiff_t encode_gsm(const void *text, int kind, size_t len, int replace, uint8_t *out, size_t cap,
                            size_t *bad) {
    size_t j = 0;
    SMS_KIND_LOOP(kind, text, len, {
        const uint8_t v = gsm_lookup(cp);
        if (v < GSM_EXTBIT) {
            if (j >= cap) return SMS_E_NOSPACE;
            out[j++] = v;
        } else if (v != GSM_NONE) {
            if (cap - j < 2) return SMS_E_NOSPACE;
            out[j++] = GSM_ESC;
            out[j++] = (uint8_t)(v & 0x7F);
        } else if (replace) {
            if (j >= cap) return SMS_E_NOSPACE;
            out[j++] = SMS_REPLACEMENT;
        } else {
            if (bad) *bad = i;
            return SMS_E_UNENCODABLE;
        }
    })
    return (ptrdiff_t)j;
}

static ptrdiff_t encode_ucs2(const void *text, int kind, size_t len, int replace, uint8_t *out, size_t cap,
                             size_t *bad) {
    size_t j = 0;
    SMS_KIND_LOOP(kind, text, len, {
        uint32_t u = cp;
        if (u >= 0xD800u && u <= 0xDFFFu) {
            if (!replace) {
                if (bad) *bad = i;
                return SMS_E_UNENCODABLE;
            }
            u = SMS_REPLACEMENT;
        }
        if (u < 0x10000u) {
            if (cap - j < 2) return SMS_E_NOSPACE;
            out[j] = (uint8_t)(u >> 8);
            out[j + 1] = (uint8_t)u;
            j += 2;
        } else if (u <= 0x10FFFFu) {
            const uint32_t v = u - 0x10000u;
            const uint32_t hi = 0xD800u | (v >> 10), lo = 0xDC00u | (v & 0x3FFu);
            if (cap - j < 4) return SMS_E_NOSPACE;
            out[j] = (uint8_t)(hi >> 8);
            out[j + 1] = (uint8_t)hi;
            out[j + 2] = (uint8_t)(lo >> 8);
            out[j + 3] = (uint8_t)lo;
            j += 4;
        } else if (replace) {
            if (cap - j < 2) return SMS_E_NOSPACE;
            out[j] = 0;
            out[j + 1] = SMS_REPLACEMENT;
            j += 2;
        } else {
            if (bad) *bad = i;
            return SMS_E_UNENCODABLE;
        }
    })
    return (ptrdiff_t)j;
}

static ptrdiff_t encode_8bit(const void *text, int kind, size_t len, uint32_t limit, int replace, uint8_t *out,
                             size_t cap, size_t *bad) {
    if (cap < len) return SMS_E_NOSPACE; /* one octet per character, known up front */
    SMS_KIND_LOOP(kind, text, len, {
        if (cp < limit) {
            out[i] = (uint8_t)cp;
        } else if (replace) {
            out[i] = SMS_REPLACEMENT;
        } else {
            if (bad) *bad = i;
            return SMS_E_UNENCODABLE;
        }
    })
    return (ptrdiff_t)len;
}

ptrdiff_t sms_encode(const void *text, int kind, size_t len, sms_enc enc, int replace, uint8_t *out, size_t cap,
                     size_t *bad) {
    switch (enc) {
    case SMS_ENC_GSM:
        return encode_gsm(text, kind, len, replace, out, cap, bad);
    case SMS_ENC_UCS2:
        return encode_ucs2(text, kind, len, replace, out, cap, bad);
    case SMS_ENC_LATIN1:
        return encode_8bit(text, kind, len, 0x100u, replace, out, cap, bad);
    case SMS_ENC_ASCII:
        return encode_8bit(text, kind, len, 0x80u, replace, out, cap, bad);
    }
    return SMS_E_ARG;
}

ptrdiff_t sms_split(const void *text, int kind, size_t len, sms_enc enc, int replace, size_t single_limit,
                    size_t part_limit, size_t *ends, size_t max_parts, size_t *bad) {
    /* One pass: split greedily while measuring, and only decide at the end
     * whether the text fitted a single part after all. Parts past max_parts
     * are counted but not stored. */
    size_t offset = 0, in_part = 0, parts = 0;
    if (part_limit < 2 || max_parts == 0) return SMS_E_ARG;
    SMS_COST_LOOP(enc, kind, text, len, {
        if (c == 0) {
            if (!replace) {
                if (bad) *bad = i;
                return SMS_E_UNENCODABLE;
            }
            c = 1;
        }
        if (in_part + c > part_limit) {
            if (ends && parts < max_parts) ends[parts] = offset;
            parts++;
            in_part = 0;
        }
        in_part += c;
        offset += c;
    })
    if (offset <= single_limit) {
        if (ends) ends[0] = offset;
        return 1;
    }
    if (parts >= max_parts) return SMS_E_TOOMANY;
    if (ends) ends[parts] = offset;
    return (ptrdiff_t)(parts + 1);
}

/* Decode the character starting at septets[*i]; advances *i. */
static inline int gsm_next(const uint8_t *septets, size_t n, size_t *i, int replace, uint32_t *cp) {
    const uint8_t s = septets[*i];
    if (s >= 0x80) {
        if (!replace) return SMS_E_BADSEPTET;
        *cp = 0xFFFDu;
        *i += 1;
    } else if (s != GSM_ESC) {
        *cp = GSM_BASIC[s];
        *i += 1;
    } else if (*i + 1 >= n || septets[*i + 1] >= 0x80) {
        /* Lone ESC: a space (23.038 6.2.1); a following non-septet is
         * reported on its own. */
        *cp = 0x20;
        *i += 1;
    } else {
        const uint8_t c = septets[*i + 1];
        /* ESC ESC is reserved for a further extension table: a space for now
         * (23.038 6.2.1.1). An undefined extension code shows the default
         * alphabet character (ibid.). */
        *cp = c == GSM_ESC ? 0x20u : GSM_EXT[c] ? GSM_EXT[c] : GSM_BASIC[c];
        *i += 2;
    }
    return 0;
}

ptrdiff_t gsm_decoded_length(const uint8_t *septets, size_t n, int replace, uint32_t *maxchar, size_t *bad) {
    size_t i = 0, count = 0;
    uint32_t maxc = 0, cp = 0;
    while (i < n) { /* every step advances i by 1 or 2 */
        const size_t at = i;
        if (gsm_next(septets, n, &i, replace, &cp) < 0) {
            if (bad) *bad = at;
            return SMS_E_BADSEPTET;
        }
        if (cp > maxc) maxc = cp;
        count++;
    }
    if (maxchar) *maxchar = maxc;
    return (ptrdiff_t)count;
}

#define GSM_DECODE_INTO(T)                                           \
    do {                                                             \
        T *o_ = (T *)out;                                            \
        while (i < n) {                                              \
            const size_t at = i;                                     \
            if (gsm_next(septets, n, &i, replace, &cp) < 0) {        \
                if (bad) *bad = at;                                  \
                return SMS_E_BADSEPTET;                              \
            }                                                        \
            if (j >= cap) return SMS_E_NOSPACE;                      \
            if (sizeof(T) == 1 && cp > 0xFFu) return SMS_E_ARG;      \
            if (cp > maxc) maxc = cp;                                \
            o_[j++] = (T)cp;                                         \
        }                                                            \
    } while (0)

ptrdiff_t gsm_decode(const uint8_t *septets, size_t n, int replace, void *out, int kind, size_t cap,
                     uint32_t *maxchar, size_t *bad) {
    size_t i = 0, j = 0;
    uint32_t cp = 0, maxc = 0;
    switch (kind) {
    case 1:
        GSM_DECODE_INTO(uint8_t);
        break;
    case 2:
        GSM_DECODE_INTO(uint16_t);
        break;
    case 4:
        GSM_DECODE_INTO(uint32_t);
        break;
    default:
        return SMS_E_ARG;
    }
    if (maxchar) *maxchar = maxc;
    return (ptrdiff_t)j;
}

/* Septets actually packed: the input plus the extra CR of 23.038 6.1.2.3.1. */
static size_t packed_septets(const uint8_t *septets, size_t n, int cr_pad) {
    if (cr_pad && n > 0 && n % 8 == 0 && septets[n - 1] == GSM_CR) return n + 1;
    return n;
}

size_t gsm_packed_length(const uint8_t *septets, size_t n, int cr_pad) {
    const size_t total = packed_septets(septets, n, cr_pad);
    return total / 8 * 7 + (total % 8 * 7 + 7) / 8;
}

ptrdiff_t gsm_pack(const uint8_t *septets, size_t n, int cr_pad, uint8_t *out, size_t cap, size_t *bad) {
    if (n > (size_t)PTRDIFF_MAX / 8) return SMS_E_ARG; /* keeps 7*i below overflow */
    const size_t total = packed_septets(septets, n, cr_pad);
    const size_t olen = gsm_packed_length(septets, n, cr_pad);
    if (cap < olen) return SMS_E_NOSPACE;
    memset(out, 0, olen);
    for (size_t i = 0; i < total; i++) {
        const uint8_t s = i < n ? septets[i] : GSM_CR;
        if (s >= 0x80) {
            if (bad) *bad = i;
            return SMS_E_BADSEPTET;
        }
        const size_t bit = 7 * i, b = bit >> 3;
        const unsigned sh = (unsigned)(bit & 7);
        out[b] |= (uint8_t)(s << sh);
        if (sh > 1) out[b + 1] |= (uint8_t)(s >> (8 - sh));
    }
    /* 7 spare bits: a CR rather than zeros, which read as '@'. */
    if (cr_pad && total % 8 == 7) out[olen - 1] |= (uint8_t)(GSM_CR << 1);
    return (ptrdiff_t)olen;
}

static inline uint8_t septet_at(const uint8_t *packed, size_t i, size_t len) {
    const size_t bit = 7 * i, b = bit >> 3;
    const unsigned sh = (unsigned)(bit & 7);
    unsigned v = (unsigned)packed[b] >> sh;
    if (sh > 1 && b + 1 < len) v |= (unsigned)packed[b + 1] << (8 - sh);
    return (uint8_t)(v & 0x7F);
}

ptrdiff_t gsm_unpack(const uint8_t *packed, size_t len, size_t count, uint8_t *out, size_t cap) {
    if (count > (size_t)PTRDIFF_MAX / 8) return SMS_E_ARG;
    if (len < count / 8 * 7 + (count % 8 * 7 + 7) / 8) return SMS_E_SHORT;
    if (cap < count) return SMS_E_NOSPACE;
    for (size_t i = 0; i < count; i++) out[i] = septet_at(packed, i, len);
    return (ptrdiff_t)count;
}

size_t gsm_unpacked_count(const uint8_t *packed, size_t len) {
    size_t count = len / 7 * 8 + len % 7 * 8 / 7;
    if (count > 0 && count % 8 == 0 && septet_at(packed, count - 1, len) == GSM_CR) count--;
    return count;
}
