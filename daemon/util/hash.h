/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * hash: FNV-1a, 64 bits: a checksum against accidents (a damaged state
 * file, a file that no longer starts as it did), not against an adversary.
 * Hash tables keyed by what a client chooses use a keyed SipHash instead
 * (addr_hash() in util/addr.h).
 */

#include <stddef.h>
#include <stdint.h>

uint64_t fnv1a(const void *data, size_t len);
