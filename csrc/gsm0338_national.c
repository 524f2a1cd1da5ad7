/*
 * gsm0338_national.c - see gsm0338_national.h. The tables themselves are data generated from
 * the transcription of 23.038 in tools/ts23038_tables.txt (gsm0338_national_tables.h); this
 * file builds the reverse lookups from them once and runs the per-character loops.
 */
#include "gsm0338_national.h"
#include "sms_kind_loop.h"

#include "gsm0338_national_tables.h"

/* Every character of every table is below U+0E00 except the euro sign and the infinity sign:
 * a direct lookup below that, and a short list above it. */
#define NAT_DIRECT 0x0E00u
#define NAT_HIGH_MAX 8
#define NAT_NONE 0xFFu

/* Per code point: bit L of the low half set when locking table L has it, bit S of the high
 * half when single shift table S has it. */
static uint32_t MASKS[NAT_DIRECT];
static uint8_t REV_LOCK[NAT_LANGUAGES][NAT_DIRECT];
static uint8_t REV_SINGLE[NAT_LANGUAGES][NAT_DIRECT];
static uint32_t HIGH_CP[NAT_HIGH_MAX];
static uint32_t HIGH_MASK[NAT_HIGH_MAX];
static uint8_t HIGH_LOCK[NAT_HIGH_MAX][NAT_LANGUAGES];
static uint8_t HIGH_SINGLE[NAT_HIGH_MAX][NAT_LANGUAGES];
static size_t n_high;

static size_t high_slot(uint32_t cp) {
    for (size_t i = 0; i < n_high; i++)
        if (HIGH_CP[i] == cp) return i;
    if (n_high == NAT_HIGH_MAX) return NAT_HIGH_MAX; /* cannot happen with 23.038's tables */
    HIGH_CP[n_high] = cp;
    HIGH_MASK[n_high] = 0;
    for (int l = 0; l < NAT_LANGUAGES; l++) HIGH_LOCK[n_high][l] = HIGH_SINGLE[n_high][l] = NAT_NONE;
    return n_high++;
}

/* A character listed twice in one table is encoded at its later position, as Android does: this
 * keeps U+0CAA (Kannada) at 0x3D, since 23.038 prints U+0CAA at 0x24 too, where Android, reading
 * that cell as a misprint, shows U+0CA1. */
static void add(uint8_t rev[NAT_DIRECT], uint8_t high[][NAT_LANGUAGES], int lang, uint32_t bit, uint32_t cp,
                unsigned code) {
    if (cp < NAT_DIRECT) {
        rev[cp] = (uint8_t)code;
        MASKS[cp] |= bit;
    } else {
        const size_t s = high_slot(cp);
        if (s == NAT_HIGH_MAX) return;
        high[s][lang] = (uint8_t)code;
        HIGH_MASK[s] |= bit;
    }
}

void nat_init(void) {
    static int done;
    if (done) return;
    for (size_t cp = 0; cp < NAT_DIRECT; cp++) MASKS[cp] = 0;
    for (int l = 0; l < NAT_LANGUAGES; l++)
        for (size_t cp = 0; cp < NAT_DIRECT; cp++) REV_LOCK[l][cp] = REV_SINGLE[l][cp] = NAT_NONE;
    n_high = 0;
    for (int l = 0; l < NAT_LANGUAGES; l++) {
        for (unsigned code = 0; code < 128; code++) {
            /* 0 marks an empty cell and the escape; U+001B itself is never encodable (a raw ESC
             * in the text would change the meaning of the next septet). */
            const uint32_t lc = NAT_LOCKING[l][code], sc = NAT_SINGLE[l][code];
            if (lc) add(REV_LOCK[l], HIGH_LOCK, l, 1u << l, lc, code);
            if (sc) add(REV_SINGLE[l], HIGH_SINGLE, l, 1u << (16 + l), sc, code);
        }
    }
    done = 1;
}

int nat_has_locking(int lang) { return lang >= 0 && lang < NAT_LANGUAGES && NAT_HAS_LOCKING[lang]; }

static inline uint32_t mask_of(uint32_t cp) {
    if (cp < NAT_DIRECT) return MASKS[cp];
    for (size_t i = 0; i < n_high; i++)
        if (HIGH_CP[i] == cp) return HIGH_MASK[i];
    return 0;
}

int nat_in_any(uint32_t cp, unsigned locks, unsigned shifts) {
    const uint32_t m = mask_of(cp);
    return (m & locks) || ((m >> 16) & shifts);
}

/* Septets one code point costs under (lock, shift): 1, 2 (ESC + code) or 0 (not encodable). */
static inline unsigned nat_cost(uint32_t cp, unsigned lock, unsigned shift) {
    const uint32_t m = mask_of(cp);
    return (m >> lock) & 1u ? 1u : (m >> (16 + shift)) & 1u ? 2u : 0u;
}

ptrdiff_t nat_survey(const void *text, int kind, size_t len, unsigned locks, unsigned shifts,
                     size_t miss[NAT_MAX_ID + 1], unsigned alive[NAT_MAX_ID + 1]) {
    unsigned live = locks; /* locking tables with at least one single shift table left */
    for (int l = 0; l < NAT_LANGUAGES; l++) {
        miss[l] = 0;
        alive[l] = shifts;
    }
    SMS_KIND_LOOP(kind, text, len, {
        const uint32_t m = mask_of(cp);
        /* Only the locking tables still in the running: a dead one needs no more counting. */
        unsigned missing = live & ~m;
        if (missing) {
            const unsigned in_shift = (m >> 16) & shifts;
            for (unsigned l = 0; missing; l++, missing >>= 1) {
                if (!(missing & 1u)) continue;
                miss[l]++;
                alive[l] &= in_shift;
                if (!alive[l]) live &= ~(1u << l);
            }
            if (!live) return (ptrdiff_t)len;
        }
    })
    return (ptrdiff_t)len;
}

ptrdiff_t nat_split(const void *text, int kind, size_t len, int lock, int shift, int replace, size_t single_limit,
                    size_t part_limit, size_t *ends, size_t max_parts, size_t *bad) {
    size_t offset = 0, in_part = 0, parts = 0;
    if (part_limit < 2 || max_parts == 0 || lock < 0 || lock > NAT_MAX_ID || shift < 0 || shift > NAT_MAX_ID)
        return SMS_E_ARG;
    SMS_KIND_LOOP(kind, text, len, {
        unsigned c = nat_cost(cp, (unsigned)lock, (unsigned)shift);
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

static inline uint8_t rev_lookup(uint8_t rev[][NAT_DIRECT], uint8_t high[][NAT_LANGUAGES], int lang, uint32_t cp) {
    if (cp < NAT_DIRECT) return rev[lang][cp];
    for (size_t i = 0; i < n_high; i++)
        if (HIGH_CP[i] == cp) return high[i][lang];
    return NAT_NONE;
}

ptrdiff_t nat_encode(const void *text, int kind, size_t len, int lock, int shift, int replace, uint8_t *out,
                     size_t cap, size_t *bad) {
    size_t j = 0;
    if (lock < 0 || lock > NAT_MAX_ID || shift < 0 || shift > NAT_MAX_ID) return SMS_E_ARG;
    SMS_KIND_LOOP(kind, text, len, {
        uint8_t v = rev_lookup(REV_LOCK, HIGH_LOCK, lock, cp);
        if (v != NAT_NONE) {
            if (j >= cap) return SMS_E_NOSPACE;
            out[j++] = v;
        } else if ((v = rev_lookup(REV_SINGLE, HIGH_SINGLE, shift, cp)) != NAT_NONE) {
            if (cap - j < 2) return SMS_E_NOSPACE;
            out[j++] = GSM_ESC;
            out[j++] = v;
        } else if (replace) {
            /* '?' is at 0x3F in every locking table. */
            if (j >= cap) return SMS_E_NOSPACE;
            out[j++] = SMS_REPLACEMENT;
        } else {
            if (bad) *bad = i;
            return SMS_E_UNENCODABLE;
        }
    })
    return (ptrdiff_t)j;
}

ptrdiff_t nat_decode(const uint8_t *septets, size_t n, int lock, int shift, int replace, uint16_t *out,
                     size_t cap, size_t *bad) {
    size_t i = 0, j = 0;
    if (lock < 0 || lock > NAT_MAX_ID || shift < 0 || shift > NAT_MAX_ID) return SMS_E_ARG;
    const uint16_t *base = NAT_LOCKING[lock], *ext = NAT_SINGLE[shift];
    while (i < n) { /* every step advances i by 1 or 2 */
        const size_t at = i;
        const uint8_t s = septets[i];
        uint32_t cp;
        if (s == GSM_ESC && i + 1 < n && septets[i + 1] < 0x80) {
            const uint8_t c = septets[i + 1];
            i += 2;
            /* ESC ESC is reserved for a further extension table: a space (23.038 6.2.1.1); a
             * code the single shift table lacks shows the locking table's character (ibid.). */
            if (c == GSM_ESC) {
                cp = 0x20;
            } else {
                cp = ext[c] ? ext[c] : base[c];
            }
        } else {
            i += 1;
            /* A lone ESC (at the end, or before a non-septet reported on its own): a space. */
            cp = s == GSM_ESC ? 0x20u : s < 0x80 ? base[s] : 0;
        }
        if (cp == 0) {
            if (!replace) {
                if (bad) *bad = at;
                return SMS_E_BADSEPTET;
            }
            cp = 0xFFFDu;
        }
        if (j >= cap) return SMS_E_NOSPACE;
        out[j++] = (uint16_t)cp;
    }
    return (ptrdiff_t)j;
}
