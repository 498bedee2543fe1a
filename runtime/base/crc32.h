/*
 * crc32.h: CRC-32 (IEEE 802.3, the zlib/PNG polynomial) for the .dp checksum.
 *
 * Chains like zlib's crc32(): start with 0 and pass the previous result to continue, so
 * dp_crc32(dp_crc32(0, a, n), b, m) is the CRC of a followed by b.
 */
#ifndef DP_CRC32_H
#define DP_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t dp_crc32(uint32_t crc, const void *buf, size_t len);

#endif
