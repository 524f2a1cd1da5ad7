/*
 * gsm0338_national.h - the national language tables of 3GPP TS 23.038 (section 6.2.1.2.4,
 * annex A) in plain C: costs, splitting, encoding and decoding of unpacked septets under one
 * locking shift table and one single shift table, each named by its language id (0: the
 * default alphabet / its extension table; 1-13 as in 23.038).
 *
 * Same conventions as gsm0338.h: counts or negative SMS_E_* codes, every loop bounded by a
 * length, output buffers with a capacity. nat_init() must have run once (the Python module
 * calls it at import) before any other function; it only fills lookup tables, so calling it
 * again is harmless.
 */
#ifndef SMPPFAST_GSM0338_NATIONAL_H
#define SMPPFAST_GSM0338_NATIONAL_H

#include <stddef.h>
#include <stdint.h>

#include "gsm0338.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NAT_MAX_ID 13

void nat_init(void);

/* 1 when 23.038 defines a locking shift table for `lang` (0-13), else 0. */
int nat_has_locking(int lang);

/* 1 when one of the locking tables in the bit mask `locks` or single shift tables in `shifts`
 * holds code point `cp`, else 0. */
int nat_in_any(uint32_t cp, unsigned locks, unsigned shifts);

/*
 * One pass over `text` for every pair of enabled tables at once. `locks` and `shifts` are bit
 * masks of language ids (bit 0, the default tables, must be set in both). On return:
 *   miss[L]  = characters not in locking table L (each costs 2 septets: ESC + code);
 *   alive[L] = the enabled single shift tables that hold every one of those characters, so
 *              the pair (L, S) encodes the text in len + miss[L] septets iff bit S is set.
 * A locking table is dropped (its miss[] no longer counted) once no single shift table is left
 * for it, alive[L] being 0 then. Returns len; stops early once every one is dropped.
 */
ptrdiff_t nat_survey(const void *text, int kind, size_t len, unsigned locks, unsigned shifts,
                     size_t miss[NAT_MAX_ID + 1], unsigned alive[NAT_MAX_ID + 1]);

/* As sms_split, sms_encode for SMS_ENC_GSM, with locking table `lock` and single shift `shift`. */
ptrdiff_t nat_split(const void *text, int kind, size_t len, int lock, int shift, int replace,
                    size_t single_limit, size_t part_limit, size_t *ends, size_t max_parts, size_t *bad);
ptrdiff_t nat_encode(const void *text, int kind, size_t len, int lock, int shift, int replace,
                     uint8_t *out, size_t cap, size_t *bad);

/*
 * Decode unpacked septets under (lock, shift) into UTF-16 code units (every character of
 * every table is in the BMP), `cap` of them at most (n always suffices). Escapes follow
 * 23.038 6.2.1.1 as gsm_decode does, an undefined single shift code giving the locking table's
 * character. A septet with no character in the locking table (or >= 0x80) is SMS_E_BADSEPTET
 * with *bad its offset, or U+FFFD with `replace`.
 */
ptrdiff_t nat_decode(const uint8_t *septets, size_t n, int lock, int shift, int replace, uint16_t *out,
                     size_t cap, size_t *bad);

#ifdef __cplusplus
}
#endif

#endif /* SMPPFAST_GSM0338_NATIONAL_H */
