/*
 * gsm0338.h - SMS text primitives in plain C (no Python API).
 *
 * GSM 03.38 default alphabet and its extension table (3GPP TS 23.038 6.2.1
 * and 6.2.1.1), UTF-16BE ("UCS-2" as SMPP calls it), Latin-1 and ASCII, over
 * buffers of code points stored 1, 2 or 4 bytes wide (the three storage
 * "kinds" CPython uses for str, so a Python caller passes its buffer as is).
 *
 * Conventions:
 *   - Every function returns a count (>= 0) or a negative SMS_E_* code.
 *   - Every loop is bounded by a length argument; output buffers come with a
 *     capacity and are never written past it (SMS_E_NOSPACE instead).
 *   - `bad`, when not NULL, receives the index of the offending input element
 *     on SMS_E_UNENCODABLE / SMS_E_BADSEPTET.
 *   - "Septets" are unpacked: one septet per octet, values 0x00..0x7F, an
 *     extension character being the pair 0x1B, code.
 */
#ifndef SMPPFAST_GSM0338_H
#define SMPPFAST_GSM0338_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes (always negative). */
#define SMS_E_UNENCODABLE (-1) /* a character has no encoding in the chosen charset */
#define SMS_E_NOSPACE (-2)     /* output buffer too small */
#define SMS_E_BADSEPTET (-3)   /* an input octet is not a septet (>= 0x80) */
#define SMS_E_TOOMANY (-4)     /* more parts than max_parts */
#define SMS_E_ARG (-5)         /* invalid argument (kind, encoding, limit) */
#define SMS_E_SHORT (-6)       /* packed data too short for the septet count */

#define GSM_ESC 0x1B
#define GSM_CR 0x0D
/* '?' is 0x3F in GSM 03.38, ASCII, Latin-1 and UTF-16: one replacement for all. */
#define SMS_REPLACEMENT 0x3F

/* Target charsets of the encoder. */
typedef enum {
    SMS_ENC_GSM = 0,    /* GSM 03.38 unpacked septets, extension chars cost 2 */
    SMS_ENC_UCS2 = 1,   /* UTF-16BE, astral chars as a surrogate pair (2 units) */
    SMS_ENC_LATIN1 = 2, /* ISO-8859-1, one octet per char */
    SMS_ENC_ASCII = 3   /* IA5 / US-ASCII, one octet per char */
} sms_enc;

/* Septets needed for one code point: 1, 2 (extension table) or 0 (not in GSM 03.38). */
int gsm_char_septets(uint32_t cp);

/*
 * Size of `text` (len code points of width `kind`) once encoded, in units of
 * the charset: septets (GSM), 16-bit units (UCS2) or octets. With `replace`
 * non-zero an unencodable character counts as one '?'; otherwise the result
 * is SMS_E_UNENCODABLE and *bad is its index (the first one).
 */
ptrdiff_t sms_measure(const void *text, int kind, size_t len, sms_enc enc, int replace, size_t *bad);

/*
 * Encode `text` into `out` (capacity `cap` octets). Returns the number of
 * octets written. GSM writes unpacked septets (one per octet).
 */
ptrdiff_t sms_encode(const void *text, int kind, size_t len, sms_enc enc, int replace,
                     uint8_t *out, size_t cap, size_t *bad);

/*
 * Greedy split of `text` into parts of the charset's units. If the whole text
 * needs at most `single_limit` units it is one part; otherwise parts hold at
 * most `part_limit` units each and a character is never cut, so a GSM escape
 * pair or a UTF-16 surrogate pair never straddles two parts. If `ends` is not
 * NULL, ends[i] receives the unit offset (in the whole encoded text) where part
 * i ends. Returns the number of parts (1 for empty text), or SMS_E_TOOMANY once
 * it would exceed `max_parts`.
 */
ptrdiff_t sms_split(const void *text, int kind, size_t len, sms_enc enc, int replace,
                    size_t single_limit, size_t part_limit, size_t *ends, size_t max_parts, size_t *bad);

/*
 * Decoding unpacked GSM 03.38 septets. Per 3GPP TS 23.038 6.2.1.1:
 *   ESC + code in the extension table -> that character;
 *   ESC + code not in it              -> the default-alphabet character for code;
 *   ESC + ESC (reserved for a further extension table) -> a space, both consumed;
 *   a lone ESC at the end             -> a space.
 * An octet >= 0x80 is SMS_E_BADSEPTET unless `replace`, then U+FFFD.
 *
 * gsm_decoded_length returns the number of code points and sets *maxchar
 * (so the caller can size a string); gsm_decode writes them with width
 * `kind` (1, 2 or 4) into `out` (capacity `cap` code points) and also sets
 * *maxchar when not NULL. Every decoded character is in the BMP, so width 2
 * always suffices; width 1 gives SMS_E_ARG on a character above U+00FF.
 */
ptrdiff_t gsm_decoded_length(const uint8_t *septets, size_t n, int replace, uint32_t *maxchar, size_t *bad);
ptrdiff_t gsm_decode(const uint8_t *septets, size_t n, int replace, void *out, int kind, size_t cap,
                     uint32_t *maxchar, size_t *bad);

/*
 * Packing 7-bit (3GPP TS 23.038 6.1.2.1.1): septet i occupies bits 7*i ..
 * 7*i+6 of the octet string, least significant bit first; unused high bits of
 * the last octet are zero.
 *
 * With `cr_pad` non-zero, the rule of 23.038 6.1.2.3.1 is applied for
 * receivers that do not know the septet count:
 *   - n % 8 == 7: the 7 spare bits of the last octet hold CR instead of zeros;
 *   - n % 8 == 0 and the last septet is CR: one more CR is appended (plus one
 *     zero pad bit), so that CR is not taken for padding.
 * gsm_packed_length gives the output size for the same arguments.
 */
size_t gsm_packed_length(const uint8_t *septets, size_t n, int cr_pad);
ptrdiff_t gsm_pack(const uint8_t *septets, size_t n, int cr_pad, uint8_t *out, size_t cap, size_t *bad);

/*
 * Unpack exactly `count` septets from `len` packed octets into `out`. Bits
 * beyond the count (zero or CR padding) are ignored, so a round trip with the
 * original count never grows a trailing '@' or CR.
 */
ptrdiff_t gsm_unpack(const uint8_t *packed, size_t len, size_t count, uint8_t *out, size_t cap);

/*
 * Septet count for packed data whose count is not known: floor(8*len/7),
 * minus one when that count is a multiple of 8 and the last septet is CR
 * (the CR pad of 23.038 6.1.2.3.1). Zero padding of a count of 8k-1 septets
 * cannot be told apart from a real '@': pass the count when you have it.
 */
size_t gsm_unpacked_count(const uint8_t *packed, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* SMPPFAST_GSM0338_H */
